/*
 * /metrics: the Prometheus text writer (HELP and TYPE lines, label and
 * help escaping, invalid UTF-8, number spelling, a failed growth kept on
 * the writer), histograms (bucket edges, cumulative counts, concurrent
 * observers), and the controller's snapshot on a real store: nodes by
 * region and state, accelerators and what is held by model and region,
 * jobs by pending-reason class, starts, exits, preemptions, the
 * submit-to-start histogram and the rendered exposition, also when
 * allocations fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"

#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_helpers.h"
#include "failalloc.h"
#include "server/ctl.h"
#include "server/ids.h"
#include "server/metrics.h"
#include "util/error.h"
#include "util/histogram.h"
#include "util/log.h"
#include "util/prom.h"

/* The text written to p so far (p keeps it). */
static const char *text_of(const struct sc_prom *p)
{
  assert_int_equal(p->err, 0);
  return p->buf ? p->buf : "";
}

static void test_prom_samples(void **state)
{
  struct sc_prom p;
  struct sc_prom_label l[] = {{"tenant", "ml"}, {"state", "running"}};
  char *text;
  size_t len;

  (void)state;
  sc_prom_init(&p);
  sc_prom_family(&p, "supercell_jobs", "gauge", "Active jobs.");
  sc_prom_sample(&p, "supercell_jobs", l, 2, 3);
  sc_prom_sample(&p, "supercell_up", NULL, 0, 1);
  sc_prom_sample(&p, "x", NULL, 0, 0.1);
  sc_prom_sample(&p, "x", NULL, 0, -2.5);
  sc_prom_sample(&p, "x", NULL, 0, 1e20);
  sc_prom_sample(&p, "x", NULL, 0, NAN);
  sc_prom_sample(&p, "x", NULL, 0, INFINITY);
  sc_prom_sample(&p, "x", NULL, 0, -INFINITY);
  assert_string_equal(text_of(&p), "# HELP supercell_jobs Active jobs.\n"
                                   "# TYPE supercell_jobs gauge\n"
                                   "supercell_jobs{tenant=\"ml\",state=\"running\"} 3\n"
                                   "supercell_up 1\n"
                                   "x 0.1\n"
                                   "x -2.5\n"
                                   "x 1e+20\n"
                                   "x NaN\n"
                                   "x +Inf\n"
                                   "x -Inf\n");
  text = sc_prom_detach(&p, &len);
  assert_non_null(text);
  assert_int_equal(len, strlen(text));
  assert_null(p.buf);
  free(text);
}

static void test_prom_value_round_trip(void **state)
{
  const double values[] = {1.0 / 3, 0.1 + 0.2, 123456.789, 1e-9, 4.02, 9007199254740993.0};
  char buf[40];

  (void)state;
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    sc_prom_format_value(values[i], buf, sizeof buf);
    assert_true(strtod(buf, NULL) == values[i]);
  }
  sc_prom_format_value(4.02, buf, sizeof buf);
  assert_string_equal(buf, "4.02"); /* not 4.0199999999999996 */
  sc_prom_format_value(-0.0, buf, sizeof buf);
  assert_string_equal(buf, "-0");
}

static void test_prom_escaping(void **state)
{
  struct sc_prom p;
  /* A backslash, a quote, a newline, valid UTF-8 (é, €, U+1F600) and
   * bytes that are not UTF-8: a lone continuation byte, a truncated
   * sequence at the end, an overlong '/' and a surrogate. */
  struct sc_prom_label l[] = {
    {"model", "a\\b\"c\nd"},
    {"region", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
    {"bad", "x\x80y\xc0\xafz\xed\xa0\x80w\xe2\x82"},
  };

  (void)state;
  sc_prom_init(&p);
  sc_prom_family(&p, "m", "counter", "Help with \\ and \"quotes\"\nand a second line.");
  sc_prom_sample(&p, "m", l, 3, 7);
  assert_string_equal(text_of(&p),
                      "# HELP m Help with \\\\ and \"quotes\"\\nand a second line.\n"
                      "# TYPE m counter\n"
                      "m{model=\"a\\\\b\\\"c\\nd\","
                      "region=\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
                      "bad=\"x?y??z???w??\"} 7\n");
  sc_prom_release(&p);
}

static void test_prom_out_of_memory(void **state)
{
  struct sc_prom p;
  size_t len = 1;

  (void)state;
  sc_prom_init(&p);
  fa_fail_after(0, 1);
  sc_prom_family(&p, "m", "gauge", "help");
  sc_prom_sample(&p, "m", NULL, 0, 1);
  fa_off();
  assert_int_equal(p.err, SC_ENOMEM);
  sc_prom_sample(&p, "m", NULL, 0, 2); /* sticky: nothing more is written */
  assert_int_equal(p.err, SC_ENOMEM);
  assert_null(sc_prom_detach(&p, &len));
  assert_int_equal(len, 0);
}

static const double bounds[] = {0.1, 1, 10};

static void test_histogram(void **state)
{
  struct sc_histogram h;
  struct sc_histogram_snap s;
  struct sc_prom p;
  struct sc_prom_label l[] = {{"kind", "x"}};

  (void)state;
  sc_histogram_init(&h, bounds, 3);
  sc_histogram_observe(&h, 0.05);
  sc_histogram_observe(&h, 0.1);  /* on a bound: that bucket (le) */
  sc_histogram_observe(&h, 0.5);
  sc_histogram_observe(&h, 10);
  sc_histogram_observe(&h, 11);   /* above every bound: +Inf only */
  sc_histogram_observe(&h, NAN);  /* ignored */
  sc_histogram_read(&h, &s);
  assert_int_equal(s.nbounds, 3);
  assert_int_equal(s.cumulative[0], 2);
  assert_int_equal(s.cumulative[1], 3);
  assert_int_equal(s.cumulative[2], 4);
  assert_int_equal(s.count, 5);
  assert_true(fabs(s.sum - 21.65) < 1e-9);
  sc_prom_init(&p);
  sc_prom_histogram(&p, "lat_seconds", l, 1, &s);
  assert_string_equal(text_of(&p), "lat_seconds_bucket{kind=\"x\",le=\"0.1\"} 2\n"
                                   "lat_seconds_bucket{kind=\"x\",le=\"1\"} 3\n"
                                   "lat_seconds_bucket{kind=\"x\",le=\"10\"} 4\n"
                                   "lat_seconds_bucket{kind=\"x\",le=\"+Inf\"} 5\n"
                                   "lat_seconds_sum{kind=\"x\"} 21.65\n"
                                   "lat_seconds_count{kind=\"x\"} 5\n");
  sc_prom_release(&p);
}

#define OBSERVERS 4
#define OBSERVATIONS 20000

static void *observe_many(void *arg)
{
  struct sc_histogram *h = arg;

  for (int i = 0; i < OBSERVATIONS; i++)
    sc_histogram_observe(h, (double)(i % 4)); /* 0, 1, 2, 3: sums stay exact */
  return NULL;
}

static void test_histogram_threads(void **state)
{
  struct sc_histogram h;
  struct sc_histogram_snap s;
  pthread_t t[OBSERVERS];

  (void)state;
  sc_histogram_init(&h, bounds, 3);
  for (int i = 0; i < OBSERVERS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, observe_many, &h), 0);
  for (int i = 0; i < OBSERVERS; i++)
    pthread_join(t[i], NULL);
  sc_histogram_read(&h, &s);
  assert_int_equal(s.count, OBSERVERS * OBSERVATIONS);
  assert_int_equal(s.cumulative[0], OBSERVERS * OBSERVATIONS / 4);     /* the 0s */
  assert_int_equal(s.cumulative[1], OBSERVERS * OBSERVATIONS / 2);     /* and the 1s */
  assert_int_equal(s.cumulative[2], OBSERVERS * OBSERVATIONS);
  assert_true(s.sum == (double)OBSERVERS * OBSERVATIONS / 4 * 6);
}

/* ---- the controller's snapshot ---- */

static char dir[128];
static struct sc_store *store;
static struct sc_ctl *ctl;

static int setup(void **state)
{
  struct sc_ctl_opts opts = {.heartbeat_timeout_ms = 5000, .grace_ms = 1000};

  (void)state;
  if (th_store_open("metrics", dir, &store) < 0)
    return -1;
  return sc_ctl_new(&opts, store, &ctl);
}

static int teardown(void **state)
{
  (void)state;
  return th_ctl_teardown(dir, store, ctl);
}

static void add_node(const char *name, const char *model, int ndev, const char *labels)
{
  th_add_node_labeled(ctl, name, "nvidia", model, ndev, labels);
}

static int64_t submit(const char *json_text)
{
  int64_t id = th_try_submit(ctl, json_text);

  assert_true(id > 0);
  return id;
}

static void report(const char *node, int64_t job, bool exited, int code)
{
  struct sc_agent_update u = {.job_id = job, .attempt = -1, .exited = exited, .exit_code = code,
                              .signal = -1, .pid = 42};

  assert_int_equal(sc_ctl_status(ctl, node, &u, 1), 0);
}

/* The job id of the first start one poll of node returns (0: none). */
static int64_t started_on(const char *node)
{
  struct sc_assignments a;
  int64_t id;

  assert_int_equal(sc_ctl_assignments(ctl, node, 2000, &a), 0);
  id = a.nstarts > 0 ? a.starts[0].task.job_id : 0;
  sc_assignments_release(&a);
  return id;
}

static const struct sc_ctl_pool_metrics *pool(const struct sc_ctl_metrics *m, const char *model)
{
  for (int i = 0; i < m->npools; i++)
    if (strcmp(m->pools[i].model, model) == 0)
      return &m->pools[i];
  fail_msg("no pool of %s", model);
  return NULL;
}

static const struct sc_ctl_region_metrics *region(const struct sc_ctl_metrics *m, const char *r)
{
  for (int i = 0; i < m->nregions; i++)
    if (strcmp(m->regions[i].region, r) == 0)
      return &m->regions[i];
  fail_msg("no region '%s'", r);
  return NULL;
}

/* A fleet of an A100 node in eu and an H100 node without a region
 * running: j1 (2 A100), the first element of a %1 array of H100 jobs,
 * a held job and one that can never fit (allowed to wait). */
static int64_t fleet_and_jobs(int64_t *element)
{
  int64_t j1;

  add_node("a", "A100", 4, "{\"region\": \"eu\"}");
  add_node("b", "H100", 2, NULL);
  j1 = submit("{\"name\": \"j1\", \"command\": [\"x\"], \"models\": [\"A100\"],"
              " \"resources\": {\"gpus\": 2}}");
  submit("{\"name\": \"held\", \"command\": [\"x\"], \"hold\": true}");
  submit("{\"name\": \"arr\", \"command\": [\"x\"], \"array\": \"0-2%1\", \"models\": [\"H100\"],"
         " \"resources\": {\"gpus\": 1}}");
  submit("{\"name\": \"big\", \"command\": [\"x\"], \"allow_pending\": true,"
         " \"resources\": {\"gpus\": 8}}");
  assert_int_equal(sc_ctl_start(ctl), 0);
  assert_int_equal(started_on("a"), j1);
  *element = started_on("b");
  assert_true(*element >= 3 && *element <= 5);
  return j1;
}

static void test_ctl_snapshot(void **state)
{
  struct sc_ctl_metrics m;
  const struct sc_ctl_tenant_metrics *t;
  int64_t j1, element;

  (void)state;
  j1 = fleet_and_jobs(&element);
  report("a", j1, false, 0);
  report("b", element, false, 0);
  assert_int_equal(sc_ctl_metrics(ctl, &m), 0);
  assert_int_equal(m.nregions, 2);
  assert_int_equal(region(&m, "eu")->nodes[SC_NODE_READY][0], 1);
  assert_int_equal(region(&m, "")->nodes[SC_NODE_READY][0], 1);
  assert_int_equal(region(&m, "")->nodes[SC_NODE_LOST][0], 0);
  assert_int_equal(m.npools, 2);
  assert_string_equal(pool(&m, "A100")->region, "eu");
  assert_int_equal(pool(&m, "A100")->devices, 4);
  assert_int_equal(pool(&m, "A100")->allocated_milli, 2000);
  assert_string_equal(pool(&m, "H100")->region, "");
  assert_int_equal(pool(&m, "H100")->allocated_milli, 1000);
  assert_int_equal(m.ntenants, 1);
  t = &m.tenants[0];
  assert_string_equal(t->name, "default");
  assert_int_equal(t->submitted, 6);
  assert_int_equal(t->starts, 2);
  assert_int_equal(t->running, 2);
  assert_int_equal(t->pending[SC_PENDING_HELD], 1);
  assert_int_equal(t->pending[SC_PENDING_ARRAY_LIMIT], 2);
  assert_int_equal(t->pending[SC_PENDING_RESOURCES], 1);
  assert_int_equal(t->pending[SC_PENDING_NONE], 0);
  assert_int_equal(m.start_seconds.count, 2);
  assert_true(m.pass_seconds.count >= 1);
  assert_true(m.frag_known);
  assert_true(m.capacity_milli == 6000);
  assert_true(m.frag_milli >= 0 && m.frag_milli <= m.capacity_milli);
  assert_true(m.lock_held_s >= 0 && m.lock_held_s < 1);
  sc_ctl_metrics_release(&m);

  /* j1 succeeds, the held job is cancelled, the element is preempted. */
  report("a", j1, true, 0);
  assert_int_equal(sc_ctl_cancel(ctl, 2, NULL), 0);
  usleep(20 * 1000); /* the element ran a little: some work is lost */
  assert_int_equal(sc_ctl_preempt(ctl, element, 0, "operator"), 0);
  assert_int_equal(sc_ctl_metrics(ctl, &m), 0);
  t = &m.tenants[0];
  assert_int_equal(t->exits[0], 1); /* succeeded */
  assert_int_equal(t->exits[1], 0); /* failed */
  assert_int_equal(t->exits[2], 1); /* cancelled */
  assert_int_equal(t->preemptions[2], 1); /* operator */
  assert_int_equal(t->preemptions[0] + t->preemptions[1], 0);
  assert_true(t->preempted_gpu_s[2] > 0);
  assert_int_equal(pool(&m, "A100")->allocated_milli, 0);
  sc_ctl_metrics_release(&m);
}

/* Each line of text is a comment or "name{labels} value". */
static void assert_exposition(const char *text)
{
  regex_t re;
  char line[1024];

  assert_int_equal(regcomp(&re,
                           "^(# (HELP|TYPE) [a-z_]+ .*|[a-zA-Z_:][a-zA-Z0-9_:]*"
                           "(\\{([a-z_]+=\"([^\"\\\\]|\\\\.)*\",?)*\\})? [-+0-9.eInfNa]+)$",
                           REG_EXTENDED | REG_NOSUB),
                   0);
  for (const char *p = text; *p;) {
    size_t n = strcspn(p, "\n");
    assert_true(n < sizeof line);
    memcpy(line, p, n);
    line[n] = '\0';
    if (regexec(&re, line, 0, NULL, 0) != 0)
      fail_msg("not an exposition line: '%s'", line);
    p += n + (p[n] == '\n');
  }
  regfree(&re);
}

static void test_render(void **state)
{
  struct sc_metrics *mstate;
  struct sc_metrics_src src = {.ctl = NULL};
  int64_t j1, element;
  char *text;
  size_t len;

  (void)state;
  j1 = fleet_and_jobs(&element);
  report("a", j1, false, 0);
  usleep(50 * 1000);
  report("a", j1, true, 0);
  assert_int_equal(sc_metrics_new(NULL, &mstate), 0);
  src.ctl = ctl;
  src.state = mstate;
  assert_int_equal(sc_metrics_render(&src, &text, &len), 0);
  assert_int_equal(len, strlen(text));
  assert_exposition(text);
  assert_non_null(strstr(text, "\n# TYPE supercell_job_exits_total counter\n"));
  assert_non_null(
    strstr(text, "\nsupercell_job_exits_total{tenant=\"default\",outcome=\"succeeded\"} 1\n"));
  assert_non_null(
    strstr(text, "\nsupercell_accelerator_capacity_milli{model=\"A100\",region=\"eu\"} 4000\n"));
  assert_non_null(
    strstr(text, "\nsupercell_jobs_pending{tenant=\"default\",reason=\"Held\"} 1\n"));
  assert_non_null(
    strstr(text, "\nsupercell_nodes{region=\"eu\",state=\"ready\",drained=\"false\"} 1\n"));
  assert_non_null(strstr(text, "\nsupercell_job_submit_to_start_seconds_count 1\n"));
  assert_non_null(strstr(text, "\nsupercell_usage_gpu_seconds_total{tenant=\"default\"} "));
  assert_non_null(strstr(text, "\n# TYPE supercell_store_commit_duration_seconds histogram\n"));
  assert_null(strstr(text, "supercell_http_requests_total")); /* no server given */
  free(text);

  /* Out of memory anywhere: an error, nothing leaked, and then it works
   * (the scheduling thread stopped: only the render allocates). */
  sc_ctl_stop(ctl);
  for (long n = 0;; n++) {
    int rc;
    fa_fail_after(n, 0);
    rc = sc_metrics_render(&src, &text, &len);
    fa_off();
    if (rc == 0) {
      assert_exposition(text);
      free(text);
      break;
    }
    assert_int_equal(rc, SC_ENOMEM);
    assert_null(text);
    assert_true(n < 10000);
  }
  sc_metrics_free(mstate);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_prom_samples),
    cmocka_unit_test(test_prom_value_round_trip),
    cmocka_unit_test(test_prom_escaping),
    cmocka_unit_test(test_prom_out_of_memory),
    cmocka_unit_test(test_histogram),
    cmocka_unit_test(test_histogram_threads),
    cmocka_unit_test_setup_teardown(test_ctl_snapshot, setup, teardown),
    cmocka_unit_test_setup_teardown(test_render, setup, teardown),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
