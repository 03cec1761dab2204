/*
 * The /metrics exporter (metrics.h). Every series is written here, in
 * the order of docs/operations.md's table, from snapshots: nothing here
 * holds the controller's lock (sc_ctl_metrics takes it briefly). Labels
 * are tenants, models, regions, outcomes, kinds, reason classes and route
 * templates: all bounded; no series is per job, and none per node (at
 * 10,000 nodes that would be tens of thousands of series per scrape).
 *
 * Usage and cost by tenant come from the store's usage reports. Reading
 * all history each scrape would scan every record, so this module keeps
 * the totals of [0, base_until) and each scrape asks only for [base_until,
 * now), which the store's index on records' end answers from recent rows;
 * base_until moves up every BASE_STEP_MS to BASE_LAG_MS ago, so a record
 * written late (its agent's report delayed) still counts whole unless it
 * was delayed past that lag. The totals restart from the store's whole
 * history when the controller starts. The query still prices every record
 * open now (a running task's use grows), so its result is reused for
 * USAGE_FRESH_MS: two Prometheus servers scraping one controller (an HA
 * pair) cost one query.
 */
#include "server/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/prom.h"
#include "util/vec.h"

#define BASE_LAG_MS (10 * 60 * 1000)  /* the closed part ends this long ago */
#define BASE_STEP_MS (10 * 60 * 1000) /* ... and moves up this often */
#define USAGE_FRESH_MS 5000.0         /* a usage read is reused this long */

/* A tenant's use: GPU-seconds (devices x share x seconds) and cost. */
struct usage_total {
  char tenant[SC_STORE_TENANT_MAX];
  double gpu_s, cost;
};

struct sc_metrics {
  int64_t (*wall_ms)(void);
  pthread_mutex_t mu;         /* the fields below; one usage read at a time */
  int64_t base_until;         /* totals of [0, base_until) are in base; 0: none yet */
  struct usage_total *base;
  int nbase, capbase;
  struct usage_total *last;   /* the last read's result (nlast), and when */
  int nlast;
  double last_ms;             /* monotonic; 0: none */
};

int sc_metrics_new(int64_t (*wall_ms)(void), struct sc_metrics **out)
{
  struct sc_metrics *m = calloc(1, sizeof *m);

  *out = NULL;
  if (!m)
    return SC_ENOMEM;
  m->wall_ms = wall_ms;
  pthread_mutex_init(&m->mu, NULL);
  *out = m;
  return 0;
}

void sc_metrics_free(struct sc_metrics *m)
{
  if (!m)
    return;
  pthread_mutex_destroy(&m->mu);
  free(m->base);
  free(m->last);
  free(m);
}

/* ---- usage by tenant ---- */

/* Adds the rows of a report by tenant into *totals (n, cap): 0 or SC_ENOMEM. */
static int usage_add(struct usage_total **totals, int *n, int *cap, const struct sc_usage_row *rows,
                     int nrows)
{
  for (int r = 0; r < nrows; r++) {
    int k = 0;
    while (k < *n && strcmp((*totals)[k].tenant, rows[r].key) != 0)
      k++;
    if (k == *n) {
      if (SC_VEC_RESERVE_ONE(*totals, *n, *cap) < 0)
        return SC_ENOMEM;
      memset(&(*totals)[k], 0, sizeof **totals);
      snprintf((*totals)[k].tenant, sizeof (*totals)[k].tenant, "%.*s",
               (int)sizeof (*totals)[k].tenant - 1, rows[r].key); /* a tenant: it fits */
      (*n)++;
    }
    (*totals)[k].gpu_s += rows[r].gpu_hours * 3600.0;
    (*totals)[k].cost += rows[r].cost;
  }
  return 0;
}

/* The use of [since, until) by tenant (records still open count up to
 * now), added into *totals. */
static int usage_window(struct sc_store *store, int64_t since, int64_t until, int64_t now,
                        struct usage_total **totals, int *n, int *cap)
{
  struct sc_usage_query q = {.since_ms = since, .until_ms = until, .now_ms = now,
                             .by = SC_USAGE_BY_TENANT};
  struct sc_usage_row *rows = NULL;
  int nrows = 0, rc;

  if (since >= until)
    return 0;
  rc = sc_store_usage_report(store, &q, &rows, &nrows);
  if (rc == 0)
    rc = usage_add(totals, n, cap, rows, nrows);
  free(rows);
  return rc;
}

/* A copy of totals[0..n) into *out (NULL when n is 0): 0 or SC_ENOMEM. */
static int usage_copy(const struct usage_total *totals, int n, struct usage_total **out)
{
  *out = NULL;
  if (n > 0 && !(*out = malloc((size_t)n * sizeof **out)))
    return SC_ENOMEM;
  if (n > 0)
    memcpy(*out, totals, (size_t)n * sizeof **out);
  return 0;
}

/* Every tenant's use up to now into *out (caller frees): 0 or an SC_E*. */
static int usage_read(struct sc_metrics *m, struct sc_store *store, struct usage_total **out,
                      int *n)
{
  int64_t now = m->wall_ms ? m->wall_ms() : sc_clock_wall_ms();
  double mono = sc_clock_mono_msf();
  int cap = 0, rc = 0;

  *out = NULL;
  *n = 0;
  pthread_mutex_lock(&m->mu);
  if (m->last_ms > 0 && mono - m->last_ms < USAGE_FRESH_MS) {
    rc = usage_copy(m->last, m->nlast, out);
    *n = rc == 0 ? m->nlast : 0;
    pthread_mutex_unlock(&m->mu);
    return rc;
  }
  if (m->base_until == 0 || now - m->base_until > BASE_LAG_MS + BASE_STEP_MS) {
    int64_t until = now - BASE_LAG_MS;
    rc = usage_window(store, m->base_until, until, until, &m->base, &m->nbase, &m->capbase);
    if (rc == 0 && until > m->base_until)
      m->base_until = until;
  }
  if (rc == 0 && (rc = usage_copy(m->base, m->nbase, out)) == 0)
    cap = *n = m->nbase;
  if (rc == 0)
    rc = usage_window(store, m->base_until, now, now, out, n, &cap);
  if (rc == 0) { /* kept for the next USAGE_FRESH_MS */
    struct usage_total *keep;
    if (usage_copy(*out, *n, &keep) == 0) {
      free(m->last);
      m->last = keep;
      m->nlast = *n;
      m->last_ms = mono;
    }
  }
  pthread_mutex_unlock(&m->mu);
  if (rc < 0) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

/* ---- rendering ---- */

#define L(n, v) ((struct sc_prom_label){(n), (v)})

static void render_nodes(struct sc_prom *p, const struct sc_ctl_metrics *m)
{
  sc_prom_family(p, "supercell_nodes", "gauge",
                 "Nodes by region, state (ready, lost) and drained flag.");
  for (int i = 0; i < m->nregions; i++)
    for (int s = 0; s < SC_NODE_NSTATES; s++)
      for (int d = 0; d < 2; d++) {
        struct sc_prom_label l[] = {L("region", m->regions[i].region),
                                    L("state", sc_node_state_name(s)),
                                    L("drained", d ? "true" : "false")};
        sc_prom_sample(p, "supercell_nodes", l, 3, m->regions[i].nodes[s][d]);
      }
  sc_prom_family(p, "supercell_accelerator_capacity_milli", "gauge",
                 "Accelerators of ready nodes, in milli-devices (1000 = one), by model and "
                 "region.");
  for (int i = 0; i < m->npools; i++) {
    struct sc_prom_label l[] = {L("model", m->pools[i].model), L("region", m->pools[i].region)};
    sc_prom_sample(p, "supercell_accelerator_capacity_milli", l, 2,
                   (double)m->pools[i].devices * 1000.0);
  }
  sc_prom_family(p, "supercell_accelerator_allocated_milli", "gauge",
                 "Milli-devices of ready nodes held by tasks, by model and region.");
  for (int i = 0; i < m->npools; i++) {
    struct sc_prom_label l[] = {L("model", m->pools[i].model), L("region", m->pools[i].region)};
    sc_prom_sample(p, "supercell_accelerator_allocated_milli", l, 2,
                   (double)m->pools[i].allocated_milli);
  }
  if (!m->frag_known)
    return;
  sc_prom_family(p, "supercell_gpu_fragmented_milli", "gauge",
                 "Milli-GPU that the recent workload's typical tasks cannot use (FGD's measure, "
                 "core/frag.h), on ready undrained nodes.");
  sc_prom_sample(p, "supercell_gpu_fragmented_milli", NULL, 0, m->frag_milli);
  sc_prom_family(p, "supercell_gpu_fragmentation_ratio", "gauge",
                 "Fragmented milli-GPU as a share of the milli-GPU of ready undrained nodes "
                 "(x100: the simulator's fragmentation %).");
  sc_prom_sample(p, "supercell_gpu_fragmentation_ratio", NULL, 0,
                 m->frag_milli / m->capacity_milli);
}

static const char *const outcomes[SC_CTL_NOUTCOMES] = {"succeeded", "failed", "cancelled"};

static void render_jobs(struct sc_prom *p, const struct sc_ctl_metrics *m)
{
  sc_prom_family(p, "supercell_jobs", "gauge", "Active jobs by tenant and state.");
  for (int t = 0; t < m->ntenants; t++) {
    const struct sc_ctl_tenant_metrics *x = &m->tenants[t];
    int pending = 0;
    for (int r = 0; r < SC_PENDING_NCLASSES; r++)
      pending += x->pending[r];
    sc_prom_sample(p, "supercell_jobs",
                   (struct sc_prom_label[]){L("tenant", x->name), L("state", "pending")}, 2,
                   pending);
    sc_prom_sample(p, "supercell_jobs",
                   (struct sc_prom_label[]){L("tenant", x->name), L("state", "running")}, 2,
                   x->running);
  }
  sc_prom_family(p, "supercell_jobs_pending", "gauge",
                 "Pending jobs by tenant and the class of their pending reason (its first "
                 "word; Priority and Unsatisfiable count as Resources).");
  for (int t = 0; t < m->ntenants; t++)
    for (int r = 0; r < SC_PENDING_NCLASSES; r++)
      sc_prom_sample(p, "supercell_jobs_pending",
                     (struct sc_prom_label[]){L("tenant", m->tenants[t].name),
                                              L("reason", sc_pending_class_name(r))},
                     2, m->tenants[t].pending[r]);
  sc_prom_family(p, "supercell_jobs_submitted_total", "counter",
                 "Jobs submitted (an array counts each element), by tenant.");
  for (int t = 0; t < m->ntenants; t++)
    sc_prom_sample(p, "supercell_jobs_submitted_total",
                   (struct sc_prom_label[]){L("tenant", m->tenants[t].name)}, 1,
                   (double)m->tenants[t].submitted);
  sc_prom_family(p, "supercell_job_starts_total", "counter",
                 "Job attempts started (their first task ran), by tenant.");
  for (int t = 0; t < m->ntenants; t++)
    sc_prom_sample(p, "supercell_job_starts_total",
                   (struct sc_prom_label[]){L("tenant", m->tenants[t].name)}, 1,
                   (double)m->tenants[t].starts);
  sc_prom_family(p, "supercell_job_exits_total", "counter",
                 "Jobs that ended, by tenant and outcome (succeeded, failed, cancelled).");
  for (int t = 0; t < m->ntenants; t++)
    for (int o = 0; o < SC_CTL_NOUTCOMES; o++)
      sc_prom_sample(p, "supercell_job_exits_total",
                     (struct sc_prom_label[]){L("tenant", m->tenants[t].name),
                                              L("outcome", outcomes[o])},
                     2, (double)m->tenants[t].exits[o]);
  sc_prom_family(p, "supercell_job_submit_to_start_seconds", "histogram",
                 "From a job's submission to the start of its first attempt.");
  sc_prom_histogram(p, "supercell_job_submit_to_start_seconds", NULL, 0, &m->start_seconds);
  sc_prom_family(p, "supercell_scheduler_pass_duration_seconds", "histogram",
                 "Scheduling passes' duration (placement, before the commit).");
  sc_prom_histogram(p, "supercell_scheduler_pass_duration_seconds", NULL, 0, &m->pass_seconds);
}

static void render_preempt(struct sc_prom *p, const struct sc_ctl_metrics *m)
{
  sc_prom_family(p, "supercell_preemptions_total", "counter",
                 "Running jobs preempted, by their tenant and the kind of preemption.");
  for (int t = 0; t < m->ntenants; t++)
    for (int k = 0; k < SC_CTL_NPREEMPT_KINDS; k++)
      sc_prom_sample(p, "supercell_preemptions_total",
                     (struct sc_prom_label[]){L("tenant", m->tenants[t].name),
                                              L("kind", sc_preempt_kind_name(k))},
                     2, (double)m->tenants[t].preemptions[k]);
  sc_prom_family(p, "supercell_preempted_gpu_seconds_total", "counter",
                 "GPU-seconds of work preempted jobs lost (run since their last checkpoint or "
                 "attempt start), by their tenant and the kind of preemption.");
  for (int t = 0; t < m->ntenants; t++)
    for (int k = 0; k < SC_CTL_NPREEMPT_KINDS; k++)
      sc_prom_sample(p, "supercell_preempted_gpu_seconds_total",
                     (struct sc_prom_label[]){L("tenant", m->tenants[t].name),
                                              L("kind", sc_preempt_kind_name(k))},
                     2, m->tenants[t].preempted_gpu_s[k]);
}

static void render_usage(struct sc_prom *p, const struct usage_total *u, int n)
{
  sc_prom_family(p, "supercell_usage_gpu_seconds_total", "counter",
                 "GPU-seconds used (devices x share x seconds, running tasks up to now), by "
                 "tenant, from the accounting records (docs/accounting.md).");
  for (int i = 0; i < n; i++)
    sc_prom_sample(p, "supercell_usage_gpu_seconds_total",
                   (struct sc_prom_label[]){L("tenant", u[i].tenant)}, 1, u[i].gpu_s);
  sc_prom_family(p, "supercell_usage_cost_total", "counter",
                 "Cost of that use at the prices in force (supercell price), by tenant.");
  for (int i = 0; i < n; i++)
    sc_prom_sample(p, "supercell_usage_cost_total",
                   (struct sc_prom_label[]){L("tenant", u[i].tenant)}, 1, u[i].cost);
}

static void render_http(struct sc_prom *p, struct sc_server *server)
{
  struct sc_http_count *c;
  int n;

  if (sc_server_http_counts(server, &c, &n) < 0) {
    p->err = SC_ENOMEM;
    return;
  }
  sc_prom_family(p, "supercell_http_requests_total", "counter",
                 "HTTP requests answered, by method, route template and status (route "
                 "\"unmatched\": no route; status \"5xx\": a code not counted alone).");
  for (int i = 0; i < n; i++) {
    struct sc_prom_label l[] = {L("method", c[i].method ? c[i].method : "any"),
                                L("route", c[i].route ? c[i].route : "unmatched"),
                                L("status", c[i].status)};
    sc_prom_sample(p, "supercell_http_requests_total", l, 3, (double)c[i].n);
  }
  free(c);
}

static void render_store(struct sc_prom *p, struct sc_store *store, double lock_held_s)
{
  struct sc_store_stats st;

  sc_store_stats(store, &st);
  sc_prom_family(p, "supercell_store_commit_duration_seconds", "histogram",
                 "Store transactions (a group commit of one or more batches), from BEGIN to a "
                 "durable COMMIT.");
  sc_prom_histogram(p, "supercell_store_commit_duration_seconds", NULL, 0, &st.commit_seconds);
  sc_prom_family(p, "supercell_store_batch_duration_seconds", "histogram",
                 "Store batches from their submission to their durable result (what a request "
                 "waits).");
  sc_prom_histogram(p, "supercell_store_batch_duration_seconds", NULL, 0, &st.batch_seconds);
  sc_prom_family(p, "supercell_store_failed_batches_total", "counter",
                 "Store batches that did not commit.");
  sc_prom_sample(p, "supercell_store_failed_batches_total", NULL, 0, (double)st.failed_batches);
  sc_prom_family(p, "supercell_metrics_lock_held_seconds", "gauge",
                 "How long this scrape held the controller's lock.");
  sc_prom_sample(p, "supercell_metrics_lock_held_seconds", NULL, 0, lock_held_s);
}

int sc_metrics_render(const struct sc_metrics_src *src, char **text, size_t *len)
{
  struct sc_ctl_metrics m;
  struct usage_total *usage = NULL;
  struct sc_prom p;
  int nusage = 0, rc;

  *text = NULL;
  *len = 0;
  if ((rc = sc_ctl_metrics(src->ctl, &m)) < 0)
    return rc;
  if (src->state &&
      (rc = usage_read(src->state, sc_ctl_store(src->ctl), &usage, &nusage)) < 0)
    sc_warn("/metrics: usage by tenant left out: %s", sc_strerror(rc));
  sc_prom_init(&p);
  render_nodes(&p, &m);
  render_jobs(&p, &m);
  render_preempt(&p, &m);
  if (src->state && rc == 0)
    render_usage(&p, usage, nusage);
  if (src->server)
    render_http(&p, src->server);
  render_store(&p, sc_ctl_store(src->ctl), m.lock_held_s);
  free(usage);
  sc_ctl_metrics_release(&m);
  *text = sc_prom_detach(&p, len);
  return *text ? 0 : SC_ENOMEM;
}

void sc_metrics_handler(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_metrics_src src = {.ctl = sc_server_ctl(req->srv), .server = req->srv,
                               .state = sc_server_metrics(req->srv)};
  int rc = sc_metrics_render(&src, &resp->body, &resp->body_len);

  if (rc < 0) {
    sc_http_error(resp, 503, "internal", sc_strerror(rc), NULL);
    return;
  }
  resp->status = 200;
  resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
