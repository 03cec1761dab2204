/*
 * PostgreSQL backend, read side: the queries of sqlite_read.c on pooled
 * connections, decoded into the same records. A read of jobs with their
 * tasks or counts takes one query per kind of row for the whole page (an
 * array of ids), not one per job, in one read-only snapshot.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_int.h"
#include "store/rows.h"
#include "util/error.h"
#include "util/log.h"
#include "util/vec.h"

#define SNAPSHOT "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

static void row_task(const PGresult *r, int i, struct sc_task_rec *t)
{
  memset(t, 0, sizeof *t);
  t->job_id = sc_pg_i64(r, i, 0);
  t->index = (int)sc_pg_i64(r, i, 1);
  t->state = sc_task_state_parse(PQgetvalue(r, i, 2));
  sc_pg_copy(r, i, 3, t->node, sizeof t->node);
  if (sc_rows_task_devices_parse(PQgetvalue(r, i, 4), t) < 0)
    sc_warn("store: task j-%06lld.%d: unreadable devices, read as none", (long long)t->job_id,
            t->index);
  sc_pg_copy(r, i, 5, t->vendor, sizeof t->vendor);
  t->gpu_milli = (int)sc_pg_i64(r, i, 6);
  t->exit_code = sc_pg_code(r, i, 7);
  t->signal = sc_pg_code(r, i, 8);
  t->attempt = (int)sc_pg_i64(r, i, 9);
  t->pid = sc_pg_i64(r, i, 10);
  t->started_ms = sc_pg_i64(r, i, 11);
  t->finished_ms = sc_pg_i64(r, i, 12);
}

static int row_job(const PGresult *r, int i, struct sc_job_rec *j)
{
  memset(j, 0, sizeof *j);
  j->id = sc_pg_i64(r, i, 0);
  sc_pg_copy(r, i, 1, j->name, sizeof j->name);
  sc_pg_copy(r, i, 2, j->tenant, sizeof j->tenant);
  j->priority = (int)sc_pg_i64(r, i, 3);
  j->spec = strdup(PQgetisnull(r, i, 4) ? "{}" : PQgetvalue(r, i, 4));
  j->state = sc_job_state_parse(PQgetvalue(r, i, 5));
  sc_pg_copy(r, i, 6, j->reason, sizeof j->reason);
  j->created_ms = sc_pg_i64(r, i, 7);
  j->started_ms = sc_pg_i64(r, i, 8);
  j->finished_ms = sc_pg_i64(r, i, 9);
  j->attempt = (int)sc_pg_i64(r, i, 10);
  j->max_retries = (int)sc_pg_i64(r, i, 11);
  j->ntasks = (int)sc_pg_i64(r, i, 12);
  j->held = sc_pg_i64(r, i, 13) != 0;
  j->array_id = sc_pg_i64(r, i, 14);
  j->array_index = (int)sc_pg_i64(r, i, 15);
  j->preempted = (int)sc_pg_i64(r, i, 16);
  j->checkpoint_ms = sc_pg_i64(r, i, 17);
  return j->spec ? 0 : SC_ENOMEM;
}

/* The ids of jobs[0..n) that pass keep (all when NULL) as a PostgreSQL
 * array literal "{1,2}" (malloc'd; NULL when out of memory). */
static char *id_array(const struct sc_job_rec *jobs, int n, bool arrays_only)
{
  size_t cap = 3 + (size_t)n * 21, at = 0;
  char *text = malloc(cap);

  if (!text)
    return NULL;
  text[at++] = '{';
  for (int i = 0; i < n; i++) {
    if (arrays_only && jobs[i].array_id != jobs[i].id)
      continue;
    at += (size_t)snprintf(text + at, cap - at, "%s%lld", at > 1 ? "," : "",
                           (long long)jobs[i].id);
  }
  text[at++] = '}';
  text[at] = '\0';
  return text;
}

/* Runs sql ($1: the ids of jobs, or of the arrays among them) on c. */
static int by_ids(PGconn *c, const char *sql, const struct sc_job_rec *jobs, int n,
                  bool arrays_only, PGresult **out)
{
  struct sc_pg_args a = {0};
  char *ids = id_array(jobs, n, arrays_only);
  int rc;

  *out = NULL;
  if (!ids)
    return SC_ENOMEM;
  sc_pg_arg_i64_array(&a, ids);
  rc = sc_pg_run(c, "read", sql, &a, out);
  free(ids);
  return rc;
}

/* Fills each job's tasks (rows by job then index, jobs by id), at most
 * its ntasks, as sqlite_read.c's load_tasks does. */
static int load_tasks(PGconn *c, struct sc_job_rec *jobs, int n)
{
  PGresult *r;
  int rc = by_ids(c, sc_pg_sql_tasks_of_jobs, jobs, n, false, &r), row = 0, rows;

  if (rc < 0)
    return rc;
  rows = PQntuples(r);
  for (int i = 0; rc == 0 && i < n; i++) {
    struct sc_job_rec *j = &jobs[i];
    int got = 0;
    while (row < rows && sc_pg_i64(r, row, 0) < j->id)
      row++;
    if (j->ntasks <= 0)
      continue;
    if (!(j->tasks = calloc((size_t)j->ntasks, sizeof *j->tasks))) {
      rc = SC_ENOMEM;
      break;
    }
    for (; row < rows && sc_pg_i64(r, row, 0) == j->id; row++)
      if (got < j->ntasks)
        row_task(r, row, &j->tasks[got++]);
    j->ntasks = got;
  }
  PQclear(r);
  return rc;
}

static struct sc_job_rec *find_job(struct sc_job_rec *jobs, int n, int64_t id)
{
  int lo = 0, hi = n - 1;

  while (lo <= hi) { /* jobs are by id */
    int mid = (lo + hi) / 2;
    if (jobs[mid].id == id)
      return &jobs[mid];
    if (jobs[mid].id < id)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return NULL;
}

/* Fills each job's counts of tasks by state. */
static int load_counts(PGconn *c, struct sc_job_rec *jobs, int n)
{
  PGresult *r;
  int rc = by_ids(c, sc_pg_sql_task_counts, jobs, n, false, &r);

  if (rc < 0)
    return rc;
  for (int i = 0; i < PQntuples(r); i++) {
    struct sc_job_rec *j = find_job(jobs, n, sc_pg_i64(r, i, 0));
    int state = sc_task_state_parse(PQgetvalue(r, i, 1));
    if (j && state >= 0 && state < SC_TASK_NSTATES)
      j->counts[state] = (int)sc_pg_i64(r, i, 2);
  }
  PQclear(r);
  return 0;
}

/* Fills each array's (its first element's) elements by state. */
static int load_array_counts(PGconn *c, struct sc_job_rec *jobs, int n)
{
  PGresult *r;
  int rc = by_ids(c, sc_pg_sql_array_counts, jobs, n, true, &r);

  if (rc < 0)
    return rc;
  for (int i = 0; i < PQntuples(r); i++) {
    struct sc_job_rec *j = find_job(jobs, n, sc_pg_i64(r, i, 0));
    int state = sc_job_state_parse(PQgetvalue(r, i, 1));
    if (!j)
      continue;
    if (state >= 0 && state < SC_JOB_NSTATES)
      j->array_counts[state] = (int)sc_pg_i64(r, i, 2);
    j->array_size += (int)sc_pg_i64(r, i, 2);
  }
  PQclear(r);
  return 0;
}

/* What a job read wants besides the rows. */
struct job_read {
  const char *sql;
  const struct sc_pg_args *args;
  bool tasks, counts, arrays;
};

struct jobs_out {
  const struct job_read *q;
  struct sc_job_rec *jobs;
  int n;
};

/* Runs a job query and what it wants on c, in one snapshot when it needs
 * more than one query. */
static int read_jobs_on(PGconn *c, void *arg)
{
  struct jobs_out *o = arg;
  const struct job_read *q = o->q;
  bool more = q->tasks || q->counts || q->arrays;
  PGresult *r = NULL;
  int rc = 0;

  o->jobs = NULL;
  o->n = 0;
  if (more && (rc = sc_pg_run(c, "read", SNAPSHOT, NULL, &r)) == 0)
    PQclear(r);
  if (rc == 0 && (rc = sc_pg_run(c, "read jobs", q->sql, q->args, &r)) == 0) {
    int rows = PQntuples(r);
    if (rows > 0 && !(o->jobs = calloc((size_t)rows, sizeof *o->jobs)))
      rc = SC_ENOMEM;
    for (int i = 0; rc == 0 && i < rows; i++, o->n++)
      rc = row_job(r, i, &o->jobs[i]);
    PQclear(r);
  }
  if (rc == 0 && o->n > 0 && q->tasks)
    rc = load_tasks(c, o->jobs, o->n);
  if (rc == 0 && o->n > 0 && q->counts)
    rc = load_counts(c, o->jobs, o->n);
  if (rc == 0 && o->n > 0 && q->arrays)
    rc = load_array_counts(c, o->jobs, o->n);
  if (more && rc == 0 && sc_pg_run(c, "read", "COMMIT", NULL, &r) == 0)
    PQclear(r);
  if (rc < 0) { /* a connection left in a transaction is closed, not pooled */
    sc_store_free_jobs(o->jobs, o->n);
    o->jobs = NULL;
    o->n = 0;
  }
  return rc;
}

static int read_jobs(struct sc_store *s, const struct job_read *q, struct sc_job_rec **out,
                     int *n)
{
  struct jobs_out o = {.q = q};
  int rc = sc_pg_with_conn(s, read_jobs_on, &o);

  *out = o.jobs;
  *n = o.n;
  return rc;
}

/* Job id's row, then its tasks (job_get) or its task counts (job_head). */
static int job_one(struct sc_store *s, int64_t id, struct sc_job_rec *out, bool tasks)
{
  struct sc_pg_args a = {0};
  struct job_read q = {.sql = sc_pg_sql_job_get, .args = &a, .tasks = tasks, .counts = !tasks};
  struct sc_job_rec *jobs;
  int n, rc;

  memset(out, 0, sizeof *out);
  sc_pg_arg_i64(&a, id);
  if ((rc = read_jobs(s, &q, &jobs, &n)) < 0)
    return rc;
  if (n == 0) {
    free(jobs);
    return SC_ENOENT;
  }
  *out = jobs[0];
  free(jobs);
  return 0;
}

int sc_pg_job_get(struct sc_store *s, int64_t id, struct sc_job_rec *out)
{
  return job_one(s, id, out, true);
}

int sc_pg_job_head(struct sc_store *s, int64_t id, struct sc_job_rec *out)
{
  return job_one(s, id, out, false);
}

int sc_pg_job_list(struct sc_store *s, const struct sc_job_filter *f, struct sc_job_rec **out,
                   int *n)
{
  struct sc_pg_args a = {0};
  struct job_read q = {.args = &a, .tasks = f->with_tasks && !f->summary,
                       .counts = f->summary, .arrays = f->collapse};
  char sql[1400];

  sc_rows_job_list_sql(f, f->summary ? sc_pg_sql_job_summary_select : sc_pg_sql_job_select,
                       '$', sql, sizeof sql);
  q.sql = sql;
  sc_pg_arg_i64(&a, f->after);
  sc_pg_arg_text(&a, f->state >= 0 ? sc_job_state_name(f->state) : NULL);
  sc_pg_arg_text(&a, f->tenant);
  sc_pg_arg_i64(&a, f->array_id);
  sc_pg_arg_i64(&a, f->array_index);
  return read_jobs(s, &q, out, n);
}

int sc_pg_jobs_active(struct sc_store *s, struct sc_job_rec **out, int *n)
{
  struct job_read q = {.sql = sc_pg_sql_jobs_active, .tasks = true};

  return read_jobs(s, &q, out, n);
}

static int query(struct sc_store *s, const char *sql, const struct sc_pg_args *a,
                 PGresult **r)
{
  return sc_pg_query(s, "read", sql, a, r);
}

int sc_pg_task_page(struct sc_store *s, int64_t job_id, int after, int limit,
                    struct sc_task_rec **out, int *n)
{
  struct sc_pg_args a = {0};
  PGresult *r;
  int rc;

  *out = NULL;
  *n = 0;
  sc_pg_arg_i64(&a, job_id);
  sc_pg_arg_i64(&a, after);
  sc_pg_arg_i64(&a, limit);
  if ((rc = query(s, sc_pg_sql_task_page, &a, &r)) < 0)
    return rc;
  if (PQntuples(r) > 0 && !(*out = calloc((size_t)PQntuples(r), sizeof **out)))
    rc = SC_ENOMEM;
  for (int i = 0; rc == 0 && i < PQntuples(r); i++)
    row_task(r, i, &(*out)[(*n)++]);
  PQclear(r);
  return rc;
}

int sc_pg_max_job_id(struct sc_store *s, int64_t *id)
{
  PGresult *r;
  int rc = query(s, "SELECT coalesce(max(id), 0) FROM jobs", NULL, &r);

  *id = 0;
  if (rc == 0) {
    *id = sc_pg_i64(r, 0, 0);
    PQclear(r);
  }
  return rc;
}

/*
 * Rows of a query into an array of records of size elem (malloc'd, *n of
 * them), each filled by row (0, or an error that stops the read; that row
 * counts, so release frees what it holds). On failure release gets the
 * array, and *out is NULL.
 */
struct rows_read {
  const char *sql;
  const struct sc_pg_args *args;
  size_t elem;
  int (*row)(const PGresult *r, int i, void *dst);
  void (*release)(void *rows, int n);
};

static int read_rows(struct sc_store *s, const struct rows_read *q, void **out, int *n)
{
  PGresult *r;
  int rc;

  *out = NULL;
  *n = 0;
  if ((rc = query(s, q->sql, q->args, &r)) < 0)
    return rc;
  if (PQntuples(r) > 0 && !(*out = calloc((size_t)PQntuples(r), q->elem)))
    rc = SC_ENOMEM;
  for (int i = 0; rc == 0 && i < PQntuples(r); i++)
    rc = q->row(r, i, (char *)*out + (size_t)(*n)++ * q->elem);
  PQclear(r);
  if (rc < 0) {
    q->release(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

static void release_plain(void *rows, int n)
{
  (void)n;
  free(rows);
}

static void release_nodes(void *rows, int n)
{
  sc_store_free_nodes(rows, n);
}

static void release_tenants(void *rows, int n)
{
  sc_store_free_tenants(rows, n);
}

static int row_node(const PGresult *r, int i, void *dst)
{
  struct sc_node_rec *n = dst;

  memset(n, 0, sizeof *n);
  sc_pg_copy(r, i, 0, n->name, sizeof n->name);
  sc_pg_copy(r, i, 1, n->address, sizeof n->address);
  n->cpu_milli = sc_pg_i64(r, i, 2);
  n->memory_mib = sc_pg_i64(r, i, 3);
  n->labels = strdup(PQgetisnull(r, i, 4) ? "{}" : PQgetvalue(r, i, 4));
  if (sc_rows_node_devices_parse(PQgetvalue(r, i, 5), n) < 0)
    sc_warn("store: node %s: unreadable devices, read as none", n->name);
  n->state = strcmp(PQgetvalue(r, i, 6), "ready") == 0 ? SC_NODE_READY : SC_NODE_LOST;
  n->last_heartbeat_ms = sc_pg_i64(r, i, 7);
  n->registered_ms = sc_pg_i64(r, i, 8);
  n->drained = sc_pg_i64(r, i, 9) != 0;
  return n->labels ? 0 : SC_ENOMEM;
}

static int hex_digit(char c)
{
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int row_token(const PGresult *r, int i, void *dst)
{
  struct sc_token_rec *t = dst;
  const char *hex = PQgetvalue(r, i, 0);

  memset(t, 0, sizeof *t);
  if (strlen(hex) == 2 * sizeof t->hash)
    for (size_t k = 0; k < sizeof t->hash; k++)
      t->hash[k] = (unsigned char)(hex_digit(hex[2 * k]) << 4 | hex_digit(hex[2 * k + 1]));
  t->kind = sc_token_kind_parse(PQgetvalue(r, i, 1));
  sc_pg_copy(r, i, 2, t->tenant, sizeof t->tenant);
  t->created_ms = sc_pg_i64(r, i, 3);
  sc_pg_copy(r, i, 4, t->id, sizeof t->id);
  sc_pg_copy(r, i, 5, t->node, sizeof t->node);
  t->expires_ms = sc_pg_i64(r, i, 6);
  t->last_used_ms = sc_pg_i64(r, i, 7);
  t->revoked = sc_pg_i64(r, i, 8) != 0;
  return 0;
}

static int row_tenant(const PGresult *r, int i, void *dst)
{
  struct sc_tenant_rec *t = dst;

  memset(t, 0, sizeof *t);
  sc_pg_copy(r, i, 0, t->name, sizeof t->name);
  t->id = sc_pg_i64(r, i, 1);
  sc_pg_copy(r, i, 2, t->run_as, sizeof t->run_as);
  t->created_ms = sc_pg_i64(r, i, 3);
  sc_pg_copy(r, i, 4, t->parent, sizeof t->parent);
  t->weight = sc_pg_f64(r, i, 5);
  t->rules = strdup(PQgetisnull(r, i, 6) ? "{}" : PQgetvalue(r, i, 6));
  return t->rules ? 0 : SC_ENOMEM;
}

static int row_attempt(const PGresult *r, int i, void *dst)
{
  struct sc_attempt_rec *a = dst;

  memset(a, 0, sizeof *a);
  a->job_id = sc_pg_i64(r, i, 0);
  a->attempt = (int)sc_pg_i64(r, i, 1);
  sc_pg_copy(r, i, 2, a->reason, sizeof a->reason);
  a->started_ms = sc_pg_i64(r, i, 3);
  a->finished_ms = sc_pg_i64(r, i, 4);
  return 0;
}

int sc_pg_node_list(struct sc_store *s, struct sc_node_rec **out, int *n)
{
  struct rows_read q = {sc_pg_sql_nodes, NULL, sizeof **out, row_node, release_nodes};

  return read_rows(s, &q, (void **)out, n);
}

int sc_pg_token_list(struct sc_store *s, struct sc_token_rec **out, int *n)
{
  struct rows_read q = {sc_pg_sql_tokens, NULL, sizeof **out, row_token, release_plain};

  return read_rows(s, &q, (void **)out, n);
}

int sc_pg_tenant_list(struct sc_store *s, struct sc_tenant_rec **out, int *n)
{
  struct rows_read q = {sc_pg_sql_tenants, NULL, sizeof **out, row_tenant, release_tenants};

  return read_rows(s, &q, (void **)out, n);
}

int sc_pg_attempt_list(struct sc_store *s, int64_t job_id, struct sc_attempt_rec **out,
                       int *n)
{
  struct sc_pg_args a = {0};
  struct rows_read q = {sc_pg_sql_attempts, &a, sizeof **out, row_attempt, release_plain};

  sc_pg_arg_i64(&a, job_id);
  return read_rows(s, &q, (void **)out, n);
}

/* ---- logs ---- */

static const char *const log_start_sql[2][2] = {
  /* [by task][by attempt]: where the chunk holding offset starts */
  {"SELECT coalesce(max(job_offset), 0) FROM logs WHERE job_id = $1 AND job_offset <= $3",
   "SELECT coalesce(max(job_offset), 0) FROM logs WHERE job_id = $1 AND attempt = $4"
   " AND job_offset <= $3"},
  {"SELECT coalesce(max(task_offset), 0) FROM logs WHERE job_id = $1 AND task = $2"
   " AND task_offset <= $3",
   "SELECT coalesce(max(att_offset), 0) FROM logs WHERE job_id = $1 AND task = $2"
   " AND attempt = $4 AND att_offset <= $3"},
};
static const char *const log_read_sql[2][2] = {
  {"SELECT job_offset, data FROM logs WHERE job_id = $1 AND job_offset >= $3"
   " ORDER BY job_offset",
   "SELECT job_offset, data FROM logs WHERE job_id = $1 AND attempt = $4"
   " AND job_offset >= $3 ORDER BY job_offset"},
  {"SELECT task_offset, data FROM logs WHERE job_id = $1 AND task = $2"
   " AND task_offset >= $3 ORDER BY task_offset",
   "SELECT att_offset, data FROM logs WHERE job_id = $1 AND task = $2 AND attempt = $4"
   " AND att_offset >= $3 ORDER BY att_offset"},
};

/* A binary int8 column (network order). */
static int64_t bin_i64(const PGresult *r, int row, int col)
{
  const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
  uint64_t v = 0;

  if (PQgetlength(r, row, col) != 8)
    return 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return (int64_t)v;
}

/* The chunks of r (offset, data) from q->offset on into *data, at most
 * q->max bytes, as sqlite_read.c's log_collect. */
static int log_collect(const PGresult *r, const struct sc_log_query *q, char **data,
                       size_t *len, int64_t *end)
{
  int64_t cur = q->offset;
  size_t total = 0;

  for (int i = 0; i < PQntuples(r) && total < q->max; i++)
    total += (size_t)PQgetlength(r, i, 1);
  if (!(*data = malloc((total < q->max ? total : q->max) + 1)))
    return SC_ENOMEM;
  for (int i = 0; i < PQntuples(r) && *len < q->max; i++) {
    int64_t off = bin_i64(r, i, 0);
    size_t n = (size_t)PQgetlength(r, i, 1), skip, take;
    if (off + (int64_t)n <= cur)
      continue;
    if (off > cur)
      cur = off;
    skip = (size_t)(cur - off);
    take = n - skip < q->max - *len ? n - skip : q->max - *len;
    memcpy(*data + *len, PQgetvalue(r, i, 1) + skip, take);
    *len += take;
    cur += (int64_t)take;
  }
  (*data)[*len] = '\0';
  *end = cur;
  return 0;
}

struct log_read {
  const struct sc_log_query *q;
  PGresult *r;
};

/* The start of the chunk holding the offset, then the chunks from it. */
static int log_read_on(PGconn *c, void *arg)
{
  struct log_read *l = arg;
  const struct sc_log_query *q = l->q;
  int by_task = q->task >= 0, by_attempt = q->attempt >= 0;
  struct sc_pg_args a = {.binary = true};
  int64_t start = 0;
  PGresult *r;
  int rc;

  l->r = NULL;
  sc_pg_arg_i64(&a, q->job_id);
  sc_pg_arg_i64(&a, q->task);
  sc_pg_arg_i64(&a, q->offset);
  sc_pg_arg_i64(&a, q->attempt);
  if ((rc = sc_pg_run(c, "read log", log_start_sql[by_task][by_attempt], &a, &r)) < 0)
    return rc;
  start = PQntuples(r) == 1 ? bin_i64(r, 0, 0) : 0;
  PQclear(r);
  snprintf(a.num[2], sizeof a.num[2], "%lld", (long long)start);
  return sc_pg_run(c, "read log", log_read_sql[by_task][by_attempt], &a, &l->r);
}

int sc_pg_log_read(struct sc_store *s, const struct sc_log_query *q, char **data, size_t *len,
                   int64_t *end)
{
  struct log_read l = {.q = q};
  int rc;

  *data = NULL;
  *len = 0;
  *end = q->offset;
  if ((rc = sc_pg_with_conn(s, log_read_on, &l)) < 0)
    return rc;
  rc = log_collect(l.r, q, data, len, end);
  PQclear(l.r);
  return rc;
}
