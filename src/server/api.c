/*
 * User endpoints: health, jobs (submit, list, get, cancel, logs), nodes,
 * tokens and the OpenAPI document, plus the route table (with /metrics,
 * metrics.c; the dashboard's files and timeline: api_ui.c). A user token
 * sees only its tenant: other tenants' jobs answer 404, not 403, so ids
 * leak nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/codec.h"
#include "server/http.h"
#include "server/ids.h"
#include "server/metrics.h"
#include "server/openapi.h"
#include "util/clock.h"
#include "util/error.h"

/* What one request may make the controller hold: a page of job summaries
 * (each bounded: no tasks, a few spec fields) or one job (its spec is at
 * most a request body, 1 MiB) with a page of its tasks. */
#define LIST_MAX 500
#define TASK_PAGE 256
#define TASK_PAGE_MAX 1000
#define LOG_CHUNK_MAX (1024 * 1024)
#define LOG_WAIT_MAX_S 30

void sc_api_agent_register(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_agent_heartbeat(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_agent_assignments(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_agent_status(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_agent_logs(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_token_create(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_token_list(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_token_revoke(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_tenant_list(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_tenant_create(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_tenant_delete(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_usage(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_price_list(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_price_set(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_tenant_get(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_tenant_set(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_ui_index(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_ui_file(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_fleet_timeline(struct sc_http_req *req, struct sc_http_resp *resp);

static const char *tenant_scope(const struct sc_http_req *req)
{
  return req->who.kind == SC_TOKEN_USER ? req->who.tenant : NULL;
}

static void store_failed(struct sc_http_resp *resp, int rc)
{
  sc_http_error(resp, rc == SC_ENOMEM ? 503 : 500, "internal", sc_strerror(rc), NULL);
}

/* The store id of element index of array id: 0 or SC_ENOENT / a store
 * error. */
static int element_id(struct sc_store *store, int64_t *id, int index)
{
  struct sc_job_filter f = {.state = -1, .after = *id - 1, .limit = 1, .summary = true,
                            .array_id = *id, .array_index = index};
  struct sc_job_rec *rows;
  int n, rc = sc_store_job_list(store, &f, &rows, &n);

  if (rc == 0 && n == 0)
    rc = SC_ENOENT;
  if (rc == 0)
    *id = rows[0].id;
  sc_store_free_jobs(rows, n);
  return rc;
}

/* Counts an array's elements by state into j, its first element's row,
 * which then stands for the array (array_size > 0). */
static int array_view(struct sc_store *store, struct sc_job_rec *j)
{
  struct sc_job_filter f = {.state = -1, .after = j->id - 1, .limit = 1, .summary = true,
                            .collapse = true, .array_index = -1};
  struct sc_job_rec *rows;
  int n, rc = sc_store_job_list(store, &f, &rows, &n);

  if (rc == 0 && n == 1 && rows[0].id == j->id) {
    j->array_size = rows[0].array_size;
    memcpy(j->array_counts, rows[0].array_counts, sizeof j->array_counts);
  }
  sc_store_free_jobs(rows, n);
  return rc;
}

/* Loads job {id} (j-000123, or an array's element j-000123_7) visible to
 * the caller; replies 404 otherwise. An array's own id loads the array
 * (j->array_size > 0) when arrays is true, else replies 400: the request
 * is about one element. */
static bool load_job(struct sc_http_req *req, struct sc_http_resp *resp, struct sc_job_rec *j,
                     bool arrays)
{
  struct sc_store *store = sc_ctl_store(sc_server_ctl(req->srv));
  const char *tenant = tenant_scope(req);
  int64_t id;
  int index, rc;

  memset(j, 0, sizeof *j);
  if (sc_job_ref_parse(req->params[0], &id, &index) < 0) {
    sc_http_error(resp, 404, "not_found", "no such job", "id");
    return false;
  }
  rc = index >= 0 ? element_id(store, &id, index) : 0;
  if (rc == 0)
    rc = sc_store_job_head(store, id, j);
  if (rc == 0 && tenant && strcmp(j->tenant, tenant) != 0)
    rc = SC_ENOENT;
  if (rc == 0 && index < 0 && j->array_id == j->id && j->id > 0) {
    if (!arrays) {
      char msg[320];
      snprintf(msg, sizeof msg, "%s is an array: name one element (%s_%d)", req->params[0],
               req->params[0], j->array_index);
      sc_job_rec_release(j);
      sc_http_error(resp, 400, "bad_request", msg, "id");
      return false;
    }
    rc = array_view(store, j);
  }
  if (rc < 0) {
    sc_job_rec_release(j);
    if (rc == SC_ENOENT)
      sc_http_error(resp, 404, "not_found", "no such job", "id");
    else
      store_failed(resp, rc);
    return false;
  }
  return true;
}

static void api_healthz(struct sc_http_req *req, struct sc_http_resp *resp)
{
  (void)req;
  sc_http_reply(resp, 200, json_pack("{s:s}", "status", "ok"));
}

static void api_openapi(struct sc_http_req *req, struct sc_http_resp *resp)
{
  (void)req;
  resp->status = 200;
  resp->text = sc_openapi_yaml;
  resp->content_type = "application/yaml";
}

static void api_submit(struct sc_http_req *req, struct sc_http_resp *resp)
{
  json_t *body = sc_http_body(req, resp);
  struct sc_job_spec spec;
  struct sc_spec_error err;
  struct sc_job_rec rec;
  int rc;

  if (!body)
    return;
  rc = sc_spec_parse(body, &spec, &err);
  json_decref(body);
  if (rc == SC_EINVAL) {
    sc_http_error(resp, 400, "bad_request", err.message, err.field);
    return;
  }
  if (rc == 0 && tenant_scope(req))
    rc = sc_spec_set_tenant(&spec, tenant_scope(req));
  if (rc == 0 &&
      spec.checkpoint_grace_s * 1000 > sc_ctl_max_checkpoint_grace_ms(sc_server_ctl(req->srv))) {
    char msg[128];
    snprintf(msg, sizeof msg, "'checkpoint_grace' must be at most %llds (the controller's "
             "--max-checkpoint-grace)",
             (long long)(sc_ctl_max_checkpoint_grace_ms(sc_server_ctl(req->srv)) / 1000));
    sc_spec_release(&spec);
    sc_http_error(resp, 400, "bad_request", msg, "checkpoint_grace");
    return;
  }
  if (rc == 0 && spec.regions[0]) {
    /* Residency: a job may narrow its tenant's allowlist, never leave it. */
    char allowed[SC_SPEC_MAX_REGIONS * 64], msg[1600];
    sc_ctl_tenant_regions(sc_server_ctl(req->srv), spec.tenant, allowed, sizeof allowed);
    for (const char *p = spec.regions; *allowed && *p;) {
      const char *end = strchr(p, '|');
      size_t n = end ? (size_t)(end - p) : strlen(p);
      bool ok = false;
      for (const char *q = allowed; *q;) {
        const char *qe = strchr(q, '|');
        size_t qn = qe ? (size_t)(qe - q) : strlen(q);
        ok = ok || (qn == n && strncmp(q, p, n) == 0);
        q += qn + (qe ? 1 : 0);
      }
      if (!ok) {
        snprintf(msg, sizeof msg, "region '%.*s' is outside tenant %s's allowlist (%s)", (int)n,
                 p, spec.tenant, allowed);
        sc_spec_release(&spec);
        sc_http_error(resp, 403, "forbidden", msg, "regions");
        return;
      }
      p += n + (end ? 1 : 0);
    }
  }
  if (rc == 0 && !spec.allow_pending) {
    /* As Slurm does: a job no registered node could ever run is refused
     * now, not left pending for ever (allow_pending: for a growing fleet). */
    char why[320];
    if (!sc_ctl_could_run(sc_server_ctl(req->srv), &spec, why, sizeof why)) {
      sc_spec_release(&spec);
      sc_http_error(resp, 422, "unsatisfiable", why, "resources");
      return;
    }
  }
  if (rc == 0 && spec.ndeps > 0) {
    char why[320];
    rc = sc_ctl_deps_check(sc_server_ctl(req->srv), &spec, why, sizeof why);
    if (rc == SC_EINVAL) {
      sc_spec_release(&spec);
      sc_http_error(resp, 422, "unsatisfiable", why, "after");
      return;
    }
  }
  if (rc == 0)
    rc = sc_ctl_submit(sc_server_ctl(req->srv), &spec, &rec);
  sc_spec_release(&spec);
  if (rc < 0) {
    store_failed(resp, rc);
    return;
  }
  if (rec.array_id > 0) { /* the array as GET shows it: all its elements pending */
    json_t *o;
    rec.array_size = rec.array_counts[SC_JOB_PENDING] = spec.array_count;
    o = sc_job_json(&rec, 0, -1);
    json_object_del(o, "tasks");
    json_object_del(o, "tasks_next");
    json_object_del(o, "task_counts");
    sc_http_reply(resp, 201, o);
    sc_job_rec_release(&rec);
    return;
  }
  {
    int n = rec.ntasks < TASK_PAGE ? rec.ntasks : TASK_PAGE;
    sc_http_reply(resp, 201, sc_job_json(&rec, n, n < rec.ntasks ? n - 1 : -1));
  }
  sc_job_rec_release(&rec);
}

static bool list_filter(struct sc_http_req *req, struct sc_http_resp *resp,
                        struct sc_job_filter *f)
{
  const char *state = sc_http_query(req, "state"), *after = sc_http_query(req, "after");
  const char *array = sc_http_query(req, "array");
  long long limit = 100, expand = 0;

  memset(f, 0, sizeof *f);
  f->state = -1;
  f->summary = true;
  f->tenant = tenant_scope(req) ? tenant_scope(req) : sc_http_query(req, "tenant");
  if (state && (f->state = sc_job_state_parse(state)) < 0) {
    sc_http_error(resp, 400, "bad_request",
                  "'state' must be pending, running, succeeded, failed or cancelled", "state");
    return false;
  }
  if (after && *after && sc_job_id_parse(after, &f->after) < 0) {
    sc_http_error(resp, 400, "bad_request", "'after' must be a job id such as j-000123",
                  "after");
    return false;
  }
  if (!sc_http_query_int(req, resp, "limit", 1, LIST_MAX, &limit) ||
      !sc_http_query_int(req, resp, "expand", 0, 1, &expand))
    return false;
  f->limit = (int)limit + 1;
  f->collapse = expand == 0; /* an array is one entry unless expanded */
  f->array_index = -1;
  if (array && *array) {
    int index;
    if (sc_job_ref_parse(array, &f->array_id, &index) < 0 || index >= 0) {
      sc_http_error(resp, 400, "bad_request", "'array' must be an array's id such as j-000123",
                    "array");
      return false;
    }
    f->collapse = false;
  }
  return true;
}

/* Adds "pending_reason" to o, the JSON of pending job j (null otherwise). */
static void add_pending_reason(struct sc_http_req *req, json_t *o, const struct sc_job_rec *j)
{
  char why[400];

  if (!o)
    return;
  if (j->state == SC_JOB_PENDING && j->array_size == 0 &&
      sc_ctl_pending_reason(sc_server_ctl(req->srv), j->id, why, sizeof why))
    json_object_set_new(o, "pending_reason", json_string(why));
  else
    json_object_set_new(o, "pending_reason", json_null());
}

static void api_list(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_job_filter f;
  struct sc_job_rec *jobs;
  json_t *arr, *next = json_null();
  char id[32];
  int n, rc;

  if (!list_filter(req, resp, &f))
    return;
  rc = sc_store_job_list(sc_ctl_store(sc_server_ctl(req->srv)), &f, &jobs, &n);
  if (rc < 0) {
    json_decref(next);
    store_failed(resp, rc);
    return;
  }
  arr = json_array();
  for (int i = 0; i < n && i < f.limit - 1; i++) {
    json_t *o = sc_job_summary_json(&jobs[i]);
    add_pending_reason(req, o, &jobs[i]);
    json_array_append_new(arr, o);
  }
  if (n == f.limit) {
    json_decref(next);
    sc_job_id_format(jobs[n - 2].id, id, sizeof id);
    next = json_string(id);
  }
  sc_store_free_jobs(jobs, n);
  sc_http_reply(resp, 200, json_pack("{s:o, s:o}", "jobs", arr, "next", next));
}

/* Replies with job j (a head: no tasks), its first page of tasks and its
 * past attempts. */
static void reply_job(struct sc_http_req *req, struct sc_http_resp *resp, struct sc_job_rec *j)
{
  struct sc_store *store = sc_ctl_store(sc_server_ctl(req->srv));
  struct sc_attempt_rec *att = NULL;
  int n = 0, na = 0, rc;
  json_t *o;

  if (j->array_size > 0) { /* an array: its elements' counts, no tasks */
    o = sc_job_json(j, 0, -1);
    json_object_del(o, "tasks");
    json_object_del(o, "tasks_next");
    json_object_del(o, "task_counts");
    json_object_set_new(o, "pending_reason", json_null());
    if (!o)
      store_failed(resp, SC_ENOMEM);
    else
      sc_http_reply(resp, 200, o);
    return;
  }
  rc = sc_store_task_page(store, j->id, -1, TASK_PAGE, &j->tasks, &n);
  if (rc == 0 && j->attempt > 0)
    rc = sc_store_attempt_list(store, j->id, &att, &na);
  if (rc < 0) {
    free(att);
    store_failed(resp, rc);
    return;
  }
  o = sc_job_json(j, n, n < j->ntasks && n > 0 ? j->tasks[n - 1].index : -1);
  add_pending_reason(req, o, j);
  if (o && json_object_set_new(o, "attempts", sc_attempts_json(att, na)) < 0) {
    json_decref(o);
    o = NULL;
  }
  free(att);
  if (!o)
    store_failed(resp, SC_ENOMEM);
  else
    sc_http_reply(resp, 200, o);
}

static void api_get(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_job_rec j;

  if (!load_job(req, resp, &j, true))
    return;
  reply_job(req, resp, &j);
  sc_job_rec_release(&j);
}

/* GET /v1/jobs/{id}/tasks?after=I&limit=N: a page of a job's tasks. */
static void api_tasks(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_store *store = sc_ctl_store(sc_server_ctl(req->srv));
  struct sc_task_rec *tasks = NULL;
  struct sc_job_rec j;
  long long after = -1, limit = TASK_PAGE;
  json_t *arr;
  int n, rc;

  if (!load_job(req, resp, &j, false))
    return;
  if (!sc_http_query_int(req, resp, "after", -1, SC_SPEC_MAX_TASKS, &after) ||
      !sc_http_query_int(req, resp, "limit", 1, TASK_PAGE_MAX, &limit)) {
    sc_job_rec_release(&j);
    return;
  }
  rc = sc_store_task_page(store, j.id, (int)after, (int)limit, &tasks, &n);
  if (rc < 0) {
    store_failed(resp, rc);
  } else if (!(arr = sc_tasks_json(tasks, n))) {
    store_failed(resp, SC_ENOMEM);
  } else {
    bool more = n == limit && tasks[n - 1].index < j.ntasks - 1;
    sc_http_reply(resp, 200, json_pack("{s:o, s:o}", "tasks", arr, "next",
                                       more ? json_integer(tasks[n - 1].index) : json_null()));
  }
  free(tasks);
  sc_job_rec_release(&j);
}

/* Replies with job {id} as it is after a change (rc: how the change went). */
static void reply_changed(struct sc_http_req *req, struct sc_http_resp *resp, int rc)
{
  struct sc_job_rec j;

  if (rc < 0) {
    store_failed(resp, rc);
    return;
  }
  if (!load_job(req, resp, &j, true))
    return;
  reply_job(req, resp, &j);
  sc_job_rec_release(&j);
}

/* Cancels (hold NULL), holds or releases each element of array j; -2 when
 * j is not an array. 0 when it changed any, SC_ESTATE when none could
 * be (all ended; or, to hold, none pending), else the first error. */
static int each_element(struct sc_http_req *req, const struct sc_job_rec *j, const bool *hold)
{
  struct sc_ctl *ctl = sc_server_ctl(req->srv);
  int changed = 0, rc = 0;

  if (j->array_size == 0)
    return -2;
  for (int64_t id = j->id; id < j->id + j->array_size && rc >= 0; id++) {
    int r = hold ? sc_ctl_hold(ctl, id, tenant_scope(req), *hold)
                 : sc_ctl_cancel(ctl, id, tenant_scope(req));
    if (r == 0)
      changed++;
    else if (r != SC_ESTATE && r != SC_ENOENT)
      rc = r;
  }
  return rc < 0 ? rc : changed > 0 ? 0 : SC_ESTATE;
}

static void api_cancel(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_job_rec j;
  int64_t id = 0;
  int rc;

  if (!load_job(req, resp, &j, true))
    return;
  id = j.id;
  rc = each_element(req, &j, NULL);
  sc_job_rec_release(&j);
  if (rc == -2) /* not an array */
    rc = sc_ctl_cancel(sc_server_ctl(req->srv), id, tenant_scope(req));
  if (rc == SC_ESTATE) {
    sc_http_error(resp, 409, "conflict", "the job has already finished", NULL);
    return;
  }
  if (rc == SC_ENOENT) {
    sc_http_error(resp, 404, "not_found", "no such job", "id");
    return;
  }
  reply_changed(req, resp, rc);
}

/* POST /v1/jobs/{id}/hold and /release: a pending job is kept from the
 * scheduler, or let go again. */
static void job_hold(struct sc_http_req *req, struct sc_http_resp *resp, bool hold)
{
  struct sc_job_rec j;
  int64_t id;
  int rc;

  if (!load_job(req, resp, &j, true))
    return;
  id = j.id;
  rc = each_element(req, &j, &hold);
  sc_job_rec_release(&j);
  if (rc == -2) /* not an array */
    rc = sc_ctl_hold(sc_server_ctl(req->srv), id, tenant_scope(req), hold);
  if (rc == SC_ESTATE || rc == SC_ENOENT) {
    sc_http_error(resp, 409, "conflict", "only a pending job can be held or released", NULL);
    return;
  }
  reply_changed(req, resp, rc);
}

static void api_hold(struct sc_http_req *req, struct sc_http_resp *resp)
{
  job_hold(req, resp, true);
}

static void api_release(struct sc_http_req *req, struct sc_http_resp *resp)
{
  job_hold(req, resp, false);
}

/* True when the output asked for can grow no more (j is a head: counts);
 * an earlier attempt's has ended. */
static bool log_final(struct sc_store *store, const struct sc_job_rec *j, int task, int attempt)
{
  if (attempt >= 0 && attempt < j->attempt)
    return true;
  if (task >= 0) {
    struct sc_task_rec *t;
    int n;
    bool final = sc_store_task_page(store, j->id, task - 1, 1, &t, &n) == 0 && n == 1 &&
                 t[0].index == task && sc_task_state_final(t[0].state);
    free(t);
    return final;
  }
  return sc_job_state_final(j->state) && j->counts[SC_TASK_ASSIGNED] == 0 &&
         j->counts[SC_TASK_RUNNING] == 0;
}

struct log_args {
  long long task, offset, wait, attempt;
};

static bool log_args(struct sc_http_req *req, struct sc_http_resp *resp,
                     const struct sc_job_rec *j, struct log_args *a)
{
  a->task = j->ntasks == 1 ? 0 : -1;
  a->offset = 0;
  a->wait = 0;
  a->attempt = -1;
  return sc_http_query_int(req, resp, "task", 0, j->ntasks - 1, &a->task) &&
         sc_http_query_int(req, resp, "attempt", 0, j->attempt, &a->attempt) &&
         sc_http_query_int(req, resp, "offset", 0, (long long)1 << 50, &a->offset) &&
         sc_http_query_int(req, resp, "wait", 0, LOG_WAIT_MAX_S, &a->wait);
}

/* A parked log read (?wait=): what the first call parsed. */
struct log_park {
  struct sc_ctl *ctl;
  struct sc_log_query q;
  int64_t deadline;
  uint64_t gen;
  void *wake_arg;
};

static void log_park_free(void *arg)
{
  struct log_park *lp = arg;

  sc_ctl_log_cancel(lp->ctl, lp->wake_arg);
  free(lp);
}

static void api_logs(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_ctl *ctl = sc_server_ctl(req->srv);
  struct log_park *lp = req->state;
  struct sc_ctl_waker w = {sc_http_wake, req->wake_arg};
  struct sc_job_rec j;
  struct log_args a;
  int64_t end = 0;
  char *data = NULL;
  size_t len = 0;
  bool final;
  int rc;

  if (!load_job(req, resp, &j, false))
    return;
  if (!lp) { /* the first call: later ones come when output arrives */
    if (!log_args(req, resp, &j, &a)) {
      sc_job_rec_release(&j);
      return;
    }
    if (!(lp = calloc(1, sizeof *lp))) {
      sc_job_rec_release(&j);
      store_failed(resp, SC_ENOMEM);
      return;
    }
    lp->ctl = ctl;
    lp->q = (struct sc_log_query){.max = LOG_CHUNK_MAX, .attempt = (int)a.attempt};
    lp->q.job_id = j.id;
    lp->q.task = (int)a.task;
    lp->q.offset = a.offset;
    lp->deadline = sc_clock_mono_ms() + a.wait * 1000;
    lp->gen = sc_ctl_log_generation(ctl);
    lp->wake_arg = req->wake_arg;
    sc_http_set_state(req, lp, log_park_free);
  }
  for (;;) {
    final = log_final(sc_ctl_store(ctl), &j, lp->q.task, lp->q.attempt);
    sc_job_rec_release(&j);
    free(data);
    rc = sc_store_log_read(sc_ctl_store(ctl), &lp->q, &data, &len, &end);
    if (rc < 0 || len > 0 || final || sc_clock_mono_ms() >= lp->deadline)
      break;
    if ((rc = sc_ctl_log_park(ctl, &lp->gen, &w)) == SC_EAGAIN) {
      free(data);
      sc_http_park(req, resp, lp->deadline); /* woken by the next output */
      return;
    }
    if (rc < 0 || (rc = sc_store_job_head(sc_ctl_store(ctl), lp->q.job_id, &j)) < 0)
      break;
  }
  if (rc < 0) {
    free(data);
    store_failed(resp, rc);
    return;
  }
  sc_http_reply(resp, 200,
                json_pack("{s:s%, s:I, s:b}", "data", data, len, "offset", (json_int_t)end,
                          "done", final && len < lp->q.max));
  free(data);
}

static void api_nodes(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_node_view *nodes;
  json_t *body = NULL;
  int n, rc = sc_ctl_nodes(sc_server_ctl(req->srv), &nodes, &n);

  if (rc == 0 && !(body = sc_nodes_json(nodes, n)))
    rc = SC_ENOMEM;
  sc_ctl_nodes_free(nodes, n);
  if (rc < 0)
    store_failed(resp, rc);
  else
    sc_http_reply(resp, 200, body);
}

/* POST /v1/nodes/{name}/drain and /undrain (admin). */
static void node_drain(struct sc_http_req *req, struct sc_http_resp *resp, bool drain)
{
  int rc = sc_ctl_node_drain(sc_server_ctl(req->srv), req->params[0], drain);

  if (rc == SC_ENOENT)
    sc_http_error(resp, 404, "not_found", "no such node", "name");
  else if (rc < 0)
    store_failed(resp, rc);
  else
    sc_http_reply(resp, 200, json_pack("{s:s, s:b}", "name", req->params[0], "drained", drain));
}

static void api_drain(struct sc_http_req *req, struct sc_http_resp *resp)
{
  node_drain(req, resp, true);
}

static void api_undrain(struct sc_http_req *req, struct sc_http_resp *resp)
{
  node_drain(req, resp, false);
}

static void api_stats(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_ctl_stats st;

  sc_ctl_stats(sc_server_ctl(req->srv), &st);
  sc_http_reply(resp, 200,
                json_pack("{s:I, s:f, s:f, s:i, s:I, s:I, s:i}", "passes", (json_int_t)st.passes,
                          "last_pass_ms", st.last_pass_ms, "max_pass_ms", st.max_pass_ms,
                          "last_pending", st.last_pending, "placed", (json_int_t)st.placed,
                          "failed_commits", (json_int_t)st.failed_commits, "stale_rows",
                          st.stale));
}

/* The preemptor and kind of a preempt body into by (0: none) and kind;
 * false after replying 400. */
static bool preempt_args(json_t *body, struct sc_http_resp *resp, int64_t *by, const char **kind)
{
  json_t *b = json_object_get(body, "by"), *k = json_object_get(body, "kind");
  int index = -1;

  *by = 0;
  *kind = k ? json_string_value(k) : "operator";
  if (b && !json_is_null(b) &&
      (!json_is_string(b) || sc_job_ref_parse(json_string_value(b), by, &index) < 0 ||
       index >= 0)) {
    sc_http_error(resp, 400, "bad_request", "'by' must be a job id such as j-000123", "by");
    return false;
  }
  if (!*kind || (strcmp(*kind, "reclaim") != 0 && strcmp(*kind, "priority") != 0 &&
                 strcmp(*kind, "operator") != 0)) {
    sc_http_error(resp, 400, "bad_request", "'kind' must be reclaim, priority or operator",
                  "kind");
    return false;
  }
  return true;
}

/* POST /v1/jobs/{id}/preempt {"by": "j-000123", "kind": "reclaim"}
 * (admin): evicts a running job now, requeued, with notice. */
static void api_preempt(struct sc_http_req *req, struct sc_http_resp *resp)
{
  json_t *body = req->len > 0 ? sc_http_body(req, resp) : json_object();
  struct sc_job_rec j;
  const char *kind;
  int64_t by;
  int rc;

  if (!body)
    return;
  if (preempt_args(body, resp, &by, &kind) && load_job(req, resp, &j, false)) {
    rc = sc_ctl_preempt(sc_server_ctl(req->srv), j.id, by, kind);
    sc_job_rec_release(&j);
    if (rc == SC_ESTATE || rc == SC_ENOENT) /* stored, not active: ended */
      sc_http_error(resp, 409, "conflict", "the job is not running", NULL);
    else
      reply_changed(req, resp, rc);
  }
  json_decref(body);
}

/* POST /v1/jobs/{id}/checkpoint: the job saved its progress now. Called
 * by its task with SUPERCELL_TASK_TOKEN (that job only), or by a user. */
static void api_checkpoint(struct sc_http_req *req, struct sc_http_resp *resp)
{
  bool task = req->who.kind == SC_PRINCIPAL_TASK;
  struct sc_checkpoint_req r = {.attempt = task ? req->who.task_attempt : -1,
                                .tenant = tenant_scope(req)};
  struct sc_job_rec j;
  int64_t at = 0;
  char id[32], when[40];
  int rc;

  if (!load_job(req, resp, &j, false))
    return;
  r.job = j.id;
  sc_job_rec_release(&j);
  if (task && r.job != req->who.task_job) {
    sc_http_error(resp, 403, "forbidden", "this task credential is for another job", "id");
    return;
  }
  rc = sc_ctl_checkpoint(sc_server_ctl(req->srv), &r, &at);
  if (rc == SC_ENOENT) /* stored (load_job found it), not active: ended */
    rc = task ? SC_EPERM : SC_ESTATE;
  if (rc == SC_EPERM)
    sc_http_error(resp, 403, "forbidden", "this task credential's attempt has ended", NULL);
  else if (rc == SC_ESTATE)
    sc_http_error(resp, 409, "conflict", "the job is not running", NULL);
  else if (rc < 0)
    store_failed(resp, rc);
  else {
    sc_job_id_format(r.job, id, sizeof id);
    sc_time_format(at, when, sizeof when);
    sc_http_reply(resp, 200, json_pack("{s:s, s:s}", "id", id, "last_checkpoint_at", when));
  }
}

const struct sc_route sc_api_routes[] = {
  {"GET", "/healthz", SC_ROUTE_PUBLIC, api_healthz},
  {"GET", "/metrics", SC_ROUTE_METRICS, sc_metrics_handler},
  {"GET", "/v1/openapi.yaml", SC_ROUTE_ANY_TOKEN, api_openapi},
  {"POST", "/v1/jobs", SC_ROUTE_USER, api_submit},
  {"GET", "/v1/jobs", SC_ROUTE_USER, api_list},
  {"GET", "/v1/jobs/{id}", SC_ROUTE_USER, api_get},
  {"GET", "/v1/jobs/{id}/tasks", SC_ROUTE_USER, api_tasks},
  {"POST", "/v1/jobs/{id}/hold", SC_ROUTE_USER, api_hold},
  {"POST", "/v1/jobs/{id}/release", SC_ROUTE_USER, api_release},
  {"POST", "/v1/jobs/{id}/cancel", SC_ROUTE_USER, api_cancel},
  {"POST", "/v1/jobs/{id}/preempt", SC_ROUTE_ADMIN, api_preempt},
  {"POST", "/v1/jobs/{id}/checkpoint", SC_ROUTE_USER | SC_ROUTE_TASK, api_checkpoint},
  {"GET", "/v1/jobs/{id}/logs", SC_ROUTE_USER, api_logs},
  {"GET", "/v1/nodes", SC_ROUTE_USER, api_nodes},
  {"POST", "/v1/nodes/{name}/drain", SC_ROUTE_ADMIN, api_drain},
  {"POST", "/v1/nodes/{name}/undrain", SC_ROUTE_ADMIN, api_undrain},
  {"POST", "/v1/tokens", SC_ROUTE_ADMIN, sc_api_token_create},
  {"GET", "/v1/tokens", SC_ROUTE_ADMIN, sc_api_token_list},
  {"DELETE", "/v1/tokens/{id}", SC_ROUTE_ADMIN, sc_api_token_revoke},
  {"GET", "/v1/tenants", SC_ROUTE_USER, sc_api_tenant_list},
  {"GET", "/v1/tenants/{name}", SC_ROUTE_USER, sc_api_tenant_get},
  {"PUT", "/v1/tenants/{name}", SC_ROUTE_ADMIN, sc_api_tenant_set},
  {"POST", "/v1/tenants", SC_ROUTE_ADMIN, sc_api_tenant_create},
  {"DELETE", "/v1/tenants/{name}", SC_ROUTE_ADMIN, sc_api_tenant_delete},
  {"GET", "/v1/usage", SC_ROUTE_USER, sc_api_usage},
  {"GET", "/v1/prices", SC_ROUTE_USER, sc_api_price_list},
  {"POST", "/v1/prices", SC_ROUTE_ADMIN, sc_api_price_set},
  {"GET", "/v1/stats", SC_ROUTE_ADMIN, api_stats},
  {"GET", "/v1/fleet/timeline", SC_ROUTE_USER, sc_api_fleet_timeline},
  {"GET", "/ui", SC_ROUTE_PUBLIC, sc_api_ui_index},
  {"GET", "/ui/", SC_ROUTE_PUBLIC, sc_api_ui_index},
  {"GET", "/ui/{file}", SC_ROUTE_PUBLIC, sc_api_ui_file},
  {"POST", "/v1/agent/register", SC_ROUTE_AGENT, sc_api_agent_register},
  {"POST", "/v1/agent/heartbeat", SC_ROUTE_AGENT, sc_api_agent_heartbeat},
  {"GET", "/v1/agent/assignments", SC_ROUTE_AGENT, sc_api_agent_assignments},
  {"POST", "/v1/agent/status", SC_ROUTE_AGENT, sc_api_agent_status},
  {"POST", "/v1/agent/logs", SC_ROUTE_AGENT, sc_api_agent_logs},
  {NULL, NULL, 0, NULL},
};
