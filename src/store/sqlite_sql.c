/*
 * Schema and statements of the SQLite store. Jobs and tasks keep their
 * states as the API spells them; labels, devices and specs are JSON texts so
 * regions, zones, racks and new spec fields need no migration.
 */
#include "store/sqlite_sql.h"

const char sc_sql_schema[] =
  "CREATE TABLE IF NOT EXISTS jobs ("
  " id INTEGER PRIMARY KEY, name TEXT NOT NULL, tenant TEXT NOT NULL,"
  " priority INTEGER NOT NULL DEFAULT 0, spec TEXT NOT NULL, state TEXT NOT NULL,"
  " reason TEXT, created_ms INTEGER, started_ms INTEGER, finished_ms INTEGER,"
  " attempt INTEGER NOT NULL DEFAULT 0, max_retries INTEGER NOT NULL DEFAULT 0,"
  " ntasks INTEGER NOT NULL, held INTEGER NOT NULL DEFAULT 0,"
  " array_id INTEGER NOT NULL DEFAULT 0, array_index INTEGER NOT NULL DEFAULT -1);"
  "CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, id);"
  "CREATE INDEX IF NOT EXISTS jobs_by_tenant ON jobs(tenant, id);"
  "CREATE TABLE IF NOT EXISTS tasks ("
  " job_id INTEGER NOT NULL, idx INTEGER NOT NULL, state TEXT NOT NULL, node TEXT,"
  " devices TEXT NOT NULL DEFAULT '[]', vendor TEXT, gpu_milli INTEGER NOT NULL DEFAULT 0,"
  " exit_code INTEGER, signal INTEGER, attempt INTEGER NOT NULL DEFAULT 0,"
  " pid INTEGER NOT NULL DEFAULT 0, started_ms INTEGER, finished_ms INTEGER,"
  " PRIMARY KEY (job_id, idx)) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS nodes ("
  " name TEXT PRIMARY KEY, address TEXT, cpu_milli INTEGER NOT NULL,"
  " memory_mib INTEGER NOT NULL, labels TEXT NOT NULL DEFAULT '{}',"
  " devices TEXT NOT NULL DEFAULT '[]', state TEXT NOT NULL,"
  " last_heartbeat_ms INTEGER, registered_ms INTEGER, drained INTEGER NOT NULL DEFAULT 0);"
  "CREATE TABLE IF NOT EXISTS tokens ("
  " hash BLOB PRIMARY KEY, kind TEXT NOT NULL, tenant TEXT NOT NULL,"
  " created_ms INTEGER, id TEXT, node TEXT NOT NULL DEFAULT '',"
  " expires_ms INTEGER, last_used_ms INTEGER, revoked INTEGER NOT NULL DEFAULT 0);"
  "CREATE TABLE IF NOT EXISTS logs ("
  " job_id INTEGER NOT NULL, task INTEGER NOT NULL, task_offset INTEGER NOT NULL,"
  " job_offset INTEGER NOT NULL, data BLOB NOT NULL,"
  " attempt INTEGER NOT NULL DEFAULT 0, att_offset INTEGER NOT NULL DEFAULT 0,"
  " PRIMARY KEY (job_id, task, task_offset)) WITHOUT ROWID;"
  "CREATE INDEX IF NOT EXISTS logs_by_job ON logs(job_id, job_offset);"
  "CREATE TABLE IF NOT EXISTS tenants ("
  " name TEXT PRIMARY KEY, id INTEGER NOT NULL UNIQUE, run_as TEXT NOT NULL DEFAULT '',"
  " created_ms INTEGER, parent TEXT NOT NULL DEFAULT '', weight REAL NOT NULL DEFAULT 1,"
  " rules TEXT NOT NULL DEFAULT '{}');"
  "CREATE TABLE IF NOT EXISTS attempts ("
  " job_id INTEGER NOT NULL, attempt INTEGER NOT NULL, reason TEXT, started_ms INTEGER,"
  " finished_ms INTEGER, PRIMARY KEY (job_id, attempt)) WITHOUT ROWID;";

const char sc_sql_log_index[] =
  "CREATE INDEX IF NOT EXISTS logs_by_attempt ON logs(job_id, task, attempt, att_offset);"
  "CREATE INDEX IF NOT EXISTS jobs_by_array ON jobs(array_id, array_index)"
  " WHERE array_id > 0;"
  "PRAGMA user_version = 10;";

/* Versions 9 and 10: the lease of a standby controller and its leader
 * election (PostgreSQL only, pg_sql.c): nothing here, one controller owns
 * the file. Versions are numbered once for every backend
 * (docs/operations.md, "PostgreSQL store"). */

/* Version 8: preemption. Attempts that ended preempted (they do not use
 * up retries) and the time of the job's last checkpoint (Unix ms, 0 none). */
const char sc_sql_migrate_8[] =
  "ALTER TABLE jobs ADD COLUMN preempted INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE jobs ADD COLUMN checkpoint_ms INTEGER NOT NULL DEFAULT 0;";

/*
 * Version 7: accounting. One usage record per task attempt (end_ms NULL
 * while it runs) and price versions. Reports select records overlapping
 * a window: end_of(r) > since, start < until, where end_of is the end or
 * "never" for a running one; the expression indexes serve that test (and a
 * tenant's subtree) on a long history.
 */
const char sc_sql_migrate_7[] =
  "CREATE TABLE IF NOT EXISTS usage ("
  " job_id INTEGER NOT NULL, task INTEGER NOT NULL, attempt INTEGER NOT NULL,"
  " tenant TEXT NOT NULL, node TEXT NOT NULL DEFAULT '', region TEXT NOT NULL DEFAULT '',"
  " model TEXT NOT NULL DEFAULT '', vendor TEXT NOT NULL DEFAULT '',"
  " devices INTEGER NOT NULL DEFAULT 0, gpu_milli INTEGER NOT NULL DEFAULT 0,"
  " cpu_milli INTEGER NOT NULL DEFAULT 0, memory_mib INTEGER NOT NULL DEFAULT 0,"
  " spot INTEGER NOT NULL DEFAULT 0, start_ms INTEGER NOT NULL, end_ms INTEGER,"
  " how TEXT NOT NULL, exit_code INTEGER, signal INTEGER,"
  " PRIMARY KEY (job_id, task, attempt)) WITHOUT ROWID;"
  "CREATE INDEX IF NOT EXISTS usage_by_end ON usage(coalesce(end_ms, 9223372036854775807));"
  "CREATE INDEX IF NOT EXISTS usage_by_tenant"
  " ON usage(tenant, coalesce(end_ms, 9223372036854775807));"
  "CREATE TABLE IF NOT EXISTS prices ("
  " item TEXT NOT NULL COLLATE NOCASE, from_ms INTEGER NOT NULL, per_hour REAL NOT NULL,"
  " spot_per_hour REAL, created_ms INTEGER, PRIMARY KEY (item, from_ms)) WITHOUT ROWID;";

/* Version 6: the tenant tree (parent, weight, quota and residency rules). */
const char sc_sql_migrate_6[] =
  "ALTER TABLE tenants ADD COLUMN parent TEXT NOT NULL DEFAULT '';"
  "ALTER TABLE tenants ADD COLUMN weight REAL NOT NULL DEFAULT 1;"
  "ALTER TABLE tenants ADD COLUMN rules TEXT NOT NULL DEFAULT '{}';";

/* Version 5: job arrays (an element's array and index). */
const char sc_sql_migrate_5[] =
  "ALTER TABLE jobs ADD COLUMN array_id INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE jobs ADD COLUMN array_index INTEGER NOT NULL DEFAULT -1;";

/* Version 4: held jobs. */
const char sc_sql_migrate_4[] = "ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;";

/* Version 3: drained nodes. */
const char sc_sql_migrate_3[] = "ALTER TABLE nodes ADD COLUMN drained INTEGER NOT NULL DEFAULT 0;";

/* Version 2: token ids, node binding, expiry, last use and revocation. */
const char sc_sql_migrate_2[] =
  "ALTER TABLE tokens ADD COLUMN id TEXT;"
  "ALTER TABLE tokens ADD COLUMN node TEXT NOT NULL DEFAULT '';"
  "ALTER TABLE tokens ADD COLUMN expires_ms INTEGER;"
  "ALTER TABLE tokens ADD COLUMN last_used_ms INTEGER;"
  "ALTER TABLE tokens ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0;";

/* Version 1: log offsets per attempt (databases made before it lack them). */
const char sc_sql_migrate_1[] =
  "ALTER TABLE logs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE logs ADD COLUMN att_offset INTEGER NOT NULL DEFAULT 0;"
  "UPDATE logs SET att_offset = task_offset;";

#define JOB_COLS                                                                  \
  "id, name, tenant, priority, spec, state, reason, created_ms, started_ms,"       \
  " finished_ms, attempt, max_retries, ntasks, held, array_id, array_index,"    \
  " preempted, checkpoint_ms"
#define TASK_COLS                                                                 \
  "job_id, idx, state, node, devices, vendor, gpu_milli, exit_code, signal,"      \
  " attempt, pid, started_ms, finished_ms"

const char *const sc_sql_stmts[SQL_NSTMTS] = {
  [SQL_BEGIN] = "BEGIN IMMEDIATE",
  [SQL_COMMIT] = "COMMIT",
  [SQL_ROLLBACK] = "ROLLBACK",
  [SQL_SAVEPOINT] = "SAVEPOINT batch",
  [SQL_RELEASE] = "RELEASE batch",
  [SQL_ROLLBACK_TO] = "ROLLBACK TO batch",
  [SQL_JOB_INSERT] =
    "INSERT INTO jobs (id, name, tenant, priority, spec, state, reason, created_ms,"
    " attempt, max_retries, ntasks, held, array_id, array_index)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
  [SQL_JOB_UPDATE] =
    "UPDATE jobs SET state = ?2, reason = ?3, started_ms = ?4, finished_ms = ?5,"
    " attempt = ?6, held = ?7, preempted = ?8, checkpoint_ms = ?9 WHERE id = ?1",
  [SQL_TASK_PUT] = "INSERT OR REPLACE INTO tasks (" TASK_COLS
                   ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
  [SQL_NODE_PUT] =
    "INSERT OR REPLACE INTO nodes (name, state, last_heartbeat_ms, address, cpu_milli,"
    " memory_mib, labels, devices, registered_ms, drained)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
  [SQL_NODE_STATE] = "UPDATE nodes SET state = ?2, last_heartbeat_ms = ?3 WHERE name = ?1",
  [SQL_TOKEN_PUT] =
    "INSERT OR REPLACE INTO tokens (hash, kind, tenant, created_ms, id, node, expires_ms,"
    " last_used_ms, revoked) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
  [SQL_LOG_TASK_END] =
    "SELECT task_offset + length(data) FROM logs WHERE job_id = ?1 AND task = ?2"
    " ORDER BY task_offset DESC LIMIT 1",
  [SQL_LOG_JOB_END] =
    "SELECT job_offset + length(data) FROM logs WHERE job_id = ?1"
    " ORDER BY job_offset DESC LIMIT 1",
  [SQL_LOG_APPEND] =
    "INSERT OR IGNORE INTO logs (job_id, task, task_offset, job_offset, data, attempt,"
    " att_offset) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
  [SQL_LOG_ATTEMPT_END] =
    "SELECT att_offset + length(data) FROM logs WHERE job_id = ?1 AND task = ?2"
    " AND attempt = ?3 ORDER BY att_offset DESC LIMIT 1",
  [SQL_TASK_ATTEMPT] = "SELECT attempt FROM tasks WHERE job_id = ?1 AND idx = ?2",
  [SQL_ATTEMPT_PUT] = "INSERT OR REPLACE INTO attempts (job_id, attempt, reason, started_ms,"
                      " finished_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
  [SQL_USAGE_PUT] =
    "INSERT OR REPLACE INTO usage (job_id, task, attempt, tenant, node, region, model, vendor,"
    " devices, gpu_milli, cpu_milli, memory_mib, spot, start_ms, end_ms, how, exit_code, signal)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
  [SQL_PRICE_PUT] = "INSERT OR REPLACE INTO prices (item, from_ms, per_hour, spot_per_hour,"
                    " created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
  [SQL_TENANT_PUT] = "INSERT OR REPLACE INTO tenants (name, id, run_as, created_ms, parent,"
                     " weight, rules) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
};

const char sc_sql_job_select[] = "SELECT " JOB_COLS " FROM jobs";
/* The same columns with a bounded spec: only what lists show. */
const char sc_sql_job_summary_select[] =
  "SELECT id, name, tenant, priority, json_object('tasks', json_extract(spec, '$.tasks'),"
  " 'resources', json(coalesce(json_extract(spec, '$.resources'), '{}')),"
  " 'models', json(coalesce(json_extract(spec, '$.models'), '[]')),"
  " 'array', json_extract(spec, '$.array')), state, reason,"
  " created_ms, started_ms, finished_ms, attempt, max_retries, ntasks, held, array_id,"
  " array_index, preempted, checkpoint_ms FROM jobs";
/* "array_id > 0" lets the planner use jobs_by_array, a partial index it
 * cannot match to a bound parameter alone (without it, every array in a
 * list scanned the whole table: 0.6 s for 10 arrays among 166,000 jobs). */
const char sc_sql_array_counts[] =
  "SELECT state, count(*) FROM jobs WHERE array_id = ?1 AND array_id > 0 GROUP BY state";
const char sc_sql_task_counts[] =
  "SELECT state, count(*) FROM tasks WHERE job_id = ?1 GROUP BY state";
const char sc_sql_task_page[] =
  "SELECT " TASK_COLS " FROM tasks WHERE job_id = ?1 AND idx > ?2 ORDER BY idx LIMIT ?3";
const char sc_sql_job_get[] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1";
const char sc_sql_jobs_active[] =
  "SELECT " JOB_COLS " FROM jobs WHERE state IN ('pending', 'running') ORDER BY id";
const char sc_sql_tasks_of_job[] =
  "SELECT " TASK_COLS " FROM tasks WHERE job_id = ?1 ORDER BY idx";
const char sc_sql_nodes[] =
  "SELECT name, address, cpu_milli, memory_mib, labels, devices, state,"
  " last_heartbeat_ms, registered_ms, drained FROM nodes ORDER BY registered_ms, name";
const char sc_sql_tokens[] =
  "SELECT hash, kind, tenant, created_ms, id, node, expires_ms, last_used_ms, revoked"
  " FROM tokens ORDER BY created_ms, id";
const char sc_sql_tenants[] =
  "SELECT name, id, run_as, created_ms, parent, weight, rules FROM tenants ORDER BY id";
const char sc_sql_attempts[] =
  "SELECT job_id, attempt, reason, started_ms, finished_ms FROM attempts WHERE job_id = ?1"
  " ORDER BY attempt";
const char sc_sql_log_task_att_start[] =
  "SELECT coalesce(max(att_offset), 0) FROM logs"
  " WHERE job_id = ?1 AND task = ?2 AND attempt = ?3 AND att_offset <= ?4";
const char sc_sql_log_task_att_read[] =
  "SELECT att_offset, data FROM logs WHERE job_id = ?1 AND task = ?2 AND attempt = ?3"
  " AND att_offset >= ?4 ORDER BY att_offset";
const char sc_sql_log_job_att_start[] =
  "SELECT coalesce(max(job_offset), 0) FROM logs WHERE job_id = ?1 AND attempt = ?2"
  " AND job_offset <= ?3";
const char sc_sql_log_job_att_read[] =
  "SELECT job_offset, data FROM logs WHERE job_id = ?1 AND attempt = ?2 AND job_offset >= ?3"
  " ORDER BY job_offset";
const char sc_sql_log_task_start[] =
  "SELECT coalesce(max(task_offset), 0) FROM logs"
  " WHERE job_id = ?1 AND task = ?2 AND task_offset <= ?3";
const char sc_sql_log_task_read[] =
  "SELECT task_offset, data FROM logs WHERE job_id = ?1 AND task = ?2"
  " AND task_offset >= ?3 ORDER BY task_offset";
const char sc_sql_log_job_start[] =
  "SELECT coalesce(max(job_offset), 0) FROM logs WHERE job_id = ?1 AND job_offset <= ?2";
const char sc_sql_log_job_read[] =
  "SELECT job_offset, data FROM logs WHERE job_id = ?1 AND job_offset >= ?2"
  " ORDER BY job_offset";
