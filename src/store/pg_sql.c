/*
 * Schema, migrations and statements of the PostgreSQL store: SQLite's
 * (sqlite_sql.c) in PostgreSQL's dialect, column for column, so both
 * backends read back the same records in the same order. Texts are
 * compared byte for byte as SQLite does: sorts on text say COLLATE "C",
 * and price items (NOCASE in SQLite) match on lower(item COLLATE "C"),
 * which folds ASCII only, as NOCASE does.
 */
#include "store/pg_int.h"

/*
 * Version 8: the schema of SQLite's migrations 1 to 8 in one step (a
 * PostgreSQL database starts at 8: there are no older ones to bring up).
 */
static const char migrate_8[] =
  "CREATE TABLE jobs ("
  " id bigint PRIMARY KEY, name text NOT NULL, tenant text NOT NULL,"
  " priority integer NOT NULL DEFAULT 0, spec text NOT NULL, state text NOT NULL,"
  " reason text, created_ms bigint, started_ms bigint, finished_ms bigint,"
  " attempt integer NOT NULL DEFAULT 0, max_retries integer NOT NULL DEFAULT 0,"
  " ntasks integer NOT NULL, held integer NOT NULL DEFAULT 0,"
  " array_id bigint NOT NULL DEFAULT 0, array_index integer NOT NULL DEFAULT -1,"
  " preempted integer NOT NULL DEFAULT 0, checkpoint_ms bigint NOT NULL DEFAULT 0);"
  "CREATE INDEX jobs_by_state ON jobs(state, id);"
  "CREATE INDEX jobs_by_tenant ON jobs(tenant, id);"
  "CREATE INDEX jobs_by_array ON jobs(array_id, array_index) WHERE array_id > 0;"
  "CREATE TABLE tasks ("
  " job_id bigint NOT NULL, idx integer NOT NULL, state text NOT NULL, node text,"
  " devices text NOT NULL DEFAULT '[]', vendor text, gpu_milli integer NOT NULL DEFAULT 0,"
  " exit_code integer, signal integer, attempt integer NOT NULL DEFAULT 0,"
  " pid bigint NOT NULL DEFAULT 0, started_ms bigint, finished_ms bigint,"
  " PRIMARY KEY (job_id, idx));"
  "CREATE TABLE nodes ("
  " name text PRIMARY KEY, address text, cpu_milli bigint NOT NULL,"
  " memory_mib bigint NOT NULL, labels text NOT NULL DEFAULT '{}',"
  " devices text NOT NULL DEFAULT '[]', state text NOT NULL,"
  " last_heartbeat_ms bigint, registered_ms bigint, drained integer NOT NULL DEFAULT 0);"
  "CREATE TABLE tokens ("
  " hash bytea PRIMARY KEY, kind text NOT NULL, tenant text NOT NULL,"
  " created_ms bigint, id text, node text NOT NULL DEFAULT '',"
  " expires_ms bigint, last_used_ms bigint, revoked integer NOT NULL DEFAULT 0);"
  "CREATE TABLE logs ("
  " job_id bigint NOT NULL, task integer NOT NULL, task_offset bigint NOT NULL,"
  " job_offset bigint NOT NULL, data bytea NOT NULL,"
  " attempt integer NOT NULL DEFAULT 0, att_offset bigint NOT NULL DEFAULT 0,"
  " PRIMARY KEY (job_id, task, task_offset));"
  "CREATE INDEX logs_by_job ON logs(job_id, job_offset);"
  "CREATE INDEX logs_by_attempt ON logs(job_id, task, attempt, att_offset);"
  "CREATE TABLE tenants ("
  " name text PRIMARY KEY, id bigint NOT NULL UNIQUE, run_as text NOT NULL DEFAULT '',"
  " created_ms bigint, parent text NOT NULL DEFAULT '',"
  " weight double precision NOT NULL DEFAULT 1, rules text NOT NULL DEFAULT '{}');"
  "CREATE TABLE attempts ("
  " job_id bigint NOT NULL, attempt integer NOT NULL, reason text, started_ms bigint,"
  " finished_ms bigint, PRIMARY KEY (job_id, attempt));"
  "CREATE TABLE usage ("
  " job_id bigint NOT NULL, task integer NOT NULL, attempt integer NOT NULL,"
  " tenant text NOT NULL, node text NOT NULL DEFAULT '', region text NOT NULL DEFAULT '',"
  " model text NOT NULL DEFAULT '', vendor text NOT NULL DEFAULT '',"
  " devices integer NOT NULL DEFAULT 0, gpu_milli integer NOT NULL DEFAULT 0,"
  " cpu_milli bigint NOT NULL DEFAULT 0, memory_mib bigint NOT NULL DEFAULT 0,"
  " spot integer NOT NULL DEFAULT 0, start_ms bigint NOT NULL, end_ms bigint,"
  " how text NOT NULL, exit_code integer, signal integer,"
  " PRIMARY KEY (job_id, task, attempt));"
  "CREATE INDEX usage_by_end ON usage((coalesce(end_ms, 9223372036854775807)));"
  "CREATE INDEX usage_by_tenant ON usage(tenant, (coalesce(end_ms, 9223372036854775807)));"
  "CREATE TABLE prices ("
  " item text NOT NULL, from_ms bigint NOT NULL, per_hour double precision NOT NULL,"
  " spot_per_hour double precision, created_ms bigint);"
  "CREATE UNIQUE INDEX prices_by_item ON prices((lower(item COLLATE \"C\")), from_ms);";

/*
 * Version 9: the lease, the seam for a standby controller (docs/
 * operations.md, "PostgreSQL store"). One row: the epoch of the controller
 * that may write. A store given an epoch (sc_store_pg_fence) calls
 * supercell_fence first in every commit: it holds the row FOR SHARE until
 * the commit ends, so a successor's epoch bump waits for commits in flight,
 * and raises SCFNC once the epoch moved on, so a deposed controller's
 * commit fails whole. SQLite has no use for it (one controller owns the
 * file): version 9 is a no-op there.
 */
static const char migrate_9[] =
  "CREATE TABLE lease ("
  " id integer PRIMARY KEY CHECK (id = 1), epoch bigint NOT NULL DEFAULT 0,"
  " holder text NOT NULL DEFAULT '', renewed_ms bigint NOT NULL DEFAULT 0);"
  "INSERT INTO lease (id) VALUES (1);"
  "CREATE FUNCTION supercell_fence(want bigint) RETURNS void LANGUAGE plpgsql AS $$"
  " BEGIN"
  "  PERFORM 1 FROM lease WHERE id = 1 AND epoch = want FOR SHARE;"
  "  IF NOT FOUND THEN"
  "   RAISE EXCEPTION 'fenced: the lease epoch is no longer %', want USING ERRCODE = 'SCFNC';"
  "  END IF;"
  " END $$;";

/*
 * Version 10: leader election among standby controllers (docs/
 * operations.md, "Standby controllers (HA)"). The lease row says for how
 * long its holder's lease runs (lease_ms: a standby judges a lapse by the
 * holder's duration, not its own) and who holds it: holder is the URL it
 * advertises (what standbys send clients to), holder_id the identity of
 * its state directory (a controller restarted on the same directory takes
 * its own lease back at once). renewed_ms is on the database's clock.
 */
static const char migrate_10[] =
  "ALTER TABLE lease ADD COLUMN lease_ms bigint NOT NULL DEFAULT 0,"
  " ADD COLUMN holder_id text NOT NULL DEFAULT '';";

const struct sc_pg_migration sc_pg_migrations[] = {
  {8, migrate_8},
  {9, migrate_9},
  {10, migrate_10},
};
const int sc_pg_nmigrations = sizeof sc_pg_migrations / sizeof sc_pg_migrations[0];

#define JOB_COLS                                                                  \
  "id, name, tenant, priority, spec, state, reason, created_ms, started_ms,"       \
  " finished_ms, attempt, max_retries, ntasks, held, array_id, array_index,"    \
  " preempted, checkpoint_ms"
#define TASK_COLS                                                                 \
  "job_id, idx, state, node, devices, vendor, gpu_milli, exit_code, signal,"      \
  " attempt, pid, started_ms, finished_ms"
#define TASK_SET                                                                  \
  " state = EXCLUDED.state, node = EXCLUDED.node, devices = EXCLUDED.devices,"    \
  " vendor = EXCLUDED.vendor, gpu_milli = EXCLUDED.gpu_milli,"                    \
  " exit_code = EXCLUDED.exit_code, signal = EXCLUDED.signal,"                    \
  " attempt = EXCLUDED.attempt, pid = EXCLUDED.pid, started_ms = EXCLUDED.started_ms," \
  " finished_ms = EXCLUDED.finished_ms"

/* Upserts replace the whole row, as SQLite's INSERT OR REPLACE does. */
const char *const sc_pg_stmts[PG_NSTMTS] = {
  [PG_JOB_INSERT] =
    "INSERT INTO jobs (id, name, tenant, priority, spec, state, reason, created_ms,"
    " attempt, max_retries, ntasks, held, array_id, array_index)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
  /* A new job's tasks, all pending: $1 job, $2 attempt, $3 count. */
  [PG_JOB_TASKS] =
    "INSERT INTO tasks (" TASK_COLS ") SELECT $1::bigint, g, 'pending', NULL, '[]', NULL,"
    " 0, NULL, NULL, $2::integer, 0, NULL, NULL FROM generate_series(0, $3::integer - 1) g"
    " ON CONFLICT (job_id, idx) DO UPDATE SET" TASK_SET,
  [PG_JOB_UPDATE] =
    "UPDATE jobs SET state = $2, reason = $3, started_ms = $4, finished_ms = $5,"
    " attempt = $6, held = $7, preempted = $8, checkpoint_ms = $9 WHERE id = $1",
  [PG_TASK_PUT] = "INSERT INTO tasks (" TASK_COLS ")"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                  " ON CONFLICT (job_id, idx) DO UPDATE SET" TASK_SET,
  [PG_NODE_PUT] =
    "INSERT INTO nodes (name, state, last_heartbeat_ms, address, cpu_milli,"
    " memory_mib, labels, devices, registered_ms, drained)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (name) DO UPDATE SET"
    " state = EXCLUDED.state, last_heartbeat_ms = EXCLUDED.last_heartbeat_ms,"
    " address = EXCLUDED.address, cpu_milli = EXCLUDED.cpu_milli,"
    " memory_mib = EXCLUDED.memory_mib, labels = EXCLUDED.labels,"
    " devices = EXCLUDED.devices, registered_ms = EXCLUDED.registered_ms,"
    " drained = EXCLUDED.drained",
  [PG_NODE_STATE] = "UPDATE nodes SET state = $2, last_heartbeat_ms = $3 WHERE name = $1",
  [PG_TOKEN_PUT] =
    "INSERT INTO tokens (hash, kind, tenant, created_ms, id, node, expires_ms,"
    " last_used_ms, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    " ON CONFLICT (hash) DO UPDATE SET kind = EXCLUDED.kind, tenant = EXCLUDED.tenant,"
    " created_ms = EXCLUDED.created_ms, id = EXCLUDED.id, node = EXCLUDED.node,"
    " expires_ms = EXCLUDED.expires_ms, last_used_ms = EXCLUDED.last_used_ms,"
    " revoked = EXCLUDED.revoked",
  /*
   * A log chunk in one statement (so it pipelines): $1 job, $2 task, $3
   * attempt (-1: the task row's), $4 data, $5 offset in the attempt. The
   * bytes the attempt already holds are dropped (skip), the rest appended
   * at the end of the task's and the job's streams; nothing when all of
   * it is a duplicate. The sqlite.c write_log steps, as one query.
   */
  [PG_LOG_APPEND] =
    "WITH a AS (SELECT CASE WHEN $3::integer >= 0 THEN $3::integer ELSE coalesce("
    "  (SELECT attempt FROM tasks WHERE job_id = $1 AND idx = $2), 0) END AS attempt),"
    " k AS (SELECT a.attempt, greatest(coalesce((SELECT att_offset + length(data) FROM logs"
    "  WHERE job_id = $1 AND task = $2 AND attempt = a.attempt ORDER BY att_offset DESC"
    "  LIMIT 1), 0) - $5::bigint, 0) AS skip FROM a)"
    " INSERT INTO logs (job_id, task, task_offset, job_offset, data, attempt, att_offset)"
    " SELECT $1, $2,"
    "  coalesce((SELECT task_offset + length(data) FROM logs WHERE job_id = $1 AND task = $2"
    "   ORDER BY task_offset DESC LIMIT 1), 0),"
    "  coalesce((SELECT job_offset + length(data) FROM logs WHERE job_id = $1"
    "   ORDER BY job_offset DESC LIMIT 1), 0),"
    "  substring($4::bytea FROM (k.skip + 1)::integer), k.attempt, $5::bigint + k.skip"
    " FROM k WHERE k.skip < length($4::bytea) ON CONFLICT DO NOTHING",
  /* SQLite's REPLACE also drops a row that holds the id under another
   * name (tenants.id is unique): done first, as its own statement. */
  [PG_TENANT_FREE_ID] = "DELETE FROM tenants WHERE id = $1 AND name <> $2",
  [PG_TENANT_PUT] =
    "INSERT INTO tenants (name, id, run_as, created_ms, parent, weight, rules)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO UPDATE SET"
    " id = EXCLUDED.id, run_as = EXCLUDED.run_as, created_ms = EXCLUDED.created_ms,"
    " parent = EXCLUDED.parent, weight = EXCLUDED.weight, rules = EXCLUDED.rules",
  [PG_ATTEMPT_PUT] =
    "INSERT INTO attempts (job_id, attempt, reason, started_ms, finished_ms)"
    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_id, attempt) DO UPDATE SET"
    " reason = EXCLUDED.reason, started_ms = EXCLUDED.started_ms,"
    " finished_ms = EXCLUDED.finished_ms",
  [PG_USAGE_PUT] =
    "INSERT INTO usage (job_id, task, attempt, tenant, node, region, model, vendor,"
    " devices, gpu_milli, cpu_milli, memory_mib, spot, start_ms, end_ms, how, exit_code, signal)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    " ON CONFLICT (job_id, task, attempt) DO UPDATE SET tenant = EXCLUDED.tenant,"
    " node = EXCLUDED.node, region = EXCLUDED.region, model = EXCLUDED.model,"
    " vendor = EXCLUDED.vendor, devices = EXCLUDED.devices, gpu_milli = EXCLUDED.gpu_milli,"
    " cpu_milli = EXCLUDED.cpu_milli, memory_mib = EXCLUDED.memory_mib, spot = EXCLUDED.spot,"
    " start_ms = EXCLUDED.start_ms, end_ms = EXCLUDED.end_ms, how = EXCLUDED.how,"
    " exit_code = EXCLUDED.exit_code, signal = EXCLUDED.signal",
  [PG_PRICE_PUT] =
    "INSERT INTO prices (item, from_ms, per_hour, spot_per_hour, created_ms)"
    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT ((lower(item COLLATE \"C\")), from_ms)"
    " DO UPDATE SET item = EXCLUDED.item, per_hour = EXCLUDED.per_hour,"
    " spot_per_hour = EXCLUDED.spot_per_hour, created_ms = EXCLUDED.created_ms",
  [PG_FENCE] = "SELECT supercell_fence($1)",
};

const char sc_pg_sql_job_select[] = "SELECT " JOB_COLS " FROM jobs";
/* The same columns with a bounded spec: only what lists show. */
const char sc_pg_sql_job_summary_select[] =
  "SELECT id, name, tenant, priority, json_build_object('tasks', spec::json -> 'tasks',"
  " 'resources', coalesce(spec::json -> 'resources', '{}'::json),"
  " 'models', coalesce(spec::json -> 'models', '[]'::json),"
  " 'array', spec::json -> 'array')::text, state, reason,"
  " created_ms, started_ms, finished_ms, attempt, max_retries, ntasks, held, array_id,"
  " array_index, preempted, checkpoint_ms FROM jobs";
const char sc_pg_sql_job_get[] = "SELECT " JOB_COLS " FROM jobs WHERE id = $1";
const char sc_pg_sql_jobs_active[] =
  "SELECT " JOB_COLS " FROM jobs WHERE state IN ('pending', 'running') ORDER BY id";
/* Tasks, task counts and array counts of many jobs at once ($1 an array
 * of ids), by job: one round trip for a page of jobs, not one per job. */
const char sc_pg_sql_tasks_of_jobs[] =
  "SELECT " TASK_COLS " FROM tasks WHERE job_id = ANY($1) ORDER BY job_id, idx";
const char sc_pg_sql_task_counts[] =
  "SELECT job_id, state, count(*) FROM tasks WHERE job_id = ANY($1)"
  " GROUP BY job_id, state";
const char sc_pg_sql_array_counts[] =
  "SELECT array_id, state, count(*) FROM jobs WHERE array_id = ANY($1) AND array_id > 0"
  " GROUP BY array_id, state";
const char sc_pg_sql_task_page[] =
  "SELECT " TASK_COLS " FROM tasks WHERE job_id = $1 AND idx > $2 ORDER BY idx LIMIT $3";
const char sc_pg_sql_nodes[] =
  "SELECT name, address, cpu_milli, memory_mib, labels, devices, state,"
  " last_heartbeat_ms, registered_ms, drained FROM nodes"
  " ORDER BY registered_ms NULLS FIRST, name COLLATE \"C\"";
const char sc_pg_sql_tokens[] =
  "SELECT encode(hash, 'hex'), kind, tenant, created_ms, id, node, expires_ms, last_used_ms,"
  " revoked FROM tokens ORDER BY created_ms NULLS FIRST, id COLLATE \"C\" NULLS FIRST";
const char sc_pg_sql_tenants[] =
  "SELECT name, id, run_as, created_ms, parent, weight, rules FROM tenants ORDER BY id";
const char sc_pg_sql_attempts[] =
  "SELECT job_id, attempt, reason, started_ms, finished_ms FROM attempts WHERE job_id = $1"
  " ORDER BY attempt";
