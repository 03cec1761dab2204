/*
 * The controller on a real store, driven through its agent-facing calls:
 * gangs start whole on disjoint devices or not at all, model constraints,
 * fractional packing, node loss with a whole-gang requeue and kills for the
 * returning node, cancel, restart from the store, the time of one
 * scheduling pass over 1,000 pending jobs and 100 nodes, and the wake-ups:
 * one poll per node, undelivered replies taken back, kills and log
 * followers woken at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/ctl.h"
#include "util/error.h"
#include "util/log.h"

static char dir[128];
static char path[256];
static struct sc_store *store;
static struct sc_ctl *ctl;

static int setup(void **state)
{
  struct sc_ctl_opts opts = {.heartbeat_timeout_ms = 400, .grace_ms = 1000};

  (void)state;
  sc_log_setup(SC_LOG_WARN, "test");
  snprintf(dir, sizeof dir, "/tmp/sc-test-ctl-XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(path, sizeof path, "%s/supercell.db", dir);
  if (sc_store_open(&sc_store_sqlite, path, &store) < 0)
    return -1;
  return sc_ctl_new(&opts, store, &ctl);
}

static int teardown(void **state)
{
  char cmd[200];

  (void)state;
  sc_ctl_stop(ctl);
  sc_ctl_free(ctl);
  sc_store_close(store);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void add_node(const char *name, const char *vendor, const char *model, int ndev)
{
  struct sc_agent_reg reg;
  json_t *kill = NULL;

  memset(&reg, 0, sizeof reg);
  snprintf(reg.name, sizeof reg.name, "%s", name);
  reg.cpu_milli = 64000;
  reg.memory_mib = 512 * 1024;
  reg.ndev = ndev;
  for (int i = 0; i < ndev; i++) {
    reg.dev[i].index = i;
    snprintf(reg.dev[i].vendor, sizeof reg.dev[i].vendor, "%s", vendor);
    snprintf(reg.dev[i].model, sizeof reg.dev[i].model, "%s", model);
  }
  assert_int_equal(sc_ctl_register(ctl, &reg, &kill), 0);
  json_decref(kill);
}

static int64_t submit(const char *json_text)
{
  json_t *body = json_loads(json_text, 0, NULL);
  struct sc_job_spec spec;
  struct sc_spec_error err;
  struct sc_job_rec rec;
  int64_t id;

  assert_non_null(body);
  assert_int_equal(sc_spec_parse(body, &spec, &err), 0);
  json_decref(body);
  assert_int_equal(sc_ctl_submit(ctl, &spec, &rec), 0);
  sc_spec_release(&spec);
  id = rec.id;
  sc_job_rec_release(&rec);
  return id;
}

/* Collects starts for node over up to wait_ms; returns the start array. */
static json_t *starts(const char *node, int64_t wait_ms, json_t **kill)
{
  json_t *out = NULL, *s;

  assert_int_equal(sc_ctl_assignments(ctl, node, wait_ms, &out), 0);
  s = json_incref(json_object_get(out, "start"));
  if (kill)
    *kill = json_incref(json_object_get(out, "kill"));
  json_decref(out);
  return s;
}

static void report(const char *node, const char *task_id, bool exited, int code)
{
  struct sc_agent_update u = {.exited = exited, .exit_code = code, .signal = -1, .pid = 42};

  assert_int_equal(sc_task_id_parse(task_id, &u.job_id, &u.index), 0);
  assert_int_equal(sc_ctl_status(ctl, node, &u, 1), 0);
}

static int job_state(int64_t id)
{
  struct sc_job_rec j;
  int state;

  assert_int_equal(sc_store_job_get(store, id, &j), 0);
  state = j.state;
  sc_job_rec_release(&j);
  return state;
}

static void test_gang_disjoint(void **state)
{
  int used[2][8] = {{0}}, ranks[8] = {0};
  const char *nodes[2] = {"a100", "910b"};
  int total = 0;

  (void)state;
  add_node("a100", "nvidia", "A100", 8);
  add_node("910b", "ascend", "910B", 8);
  submit("{\"name\": \"gang\", \"command\": [\"x\"], \"tasks\": 8, \"resources\": {\"gpus\": 2}}");
  assert_int_equal(sc_ctl_start(ctl), 0);
  for (int n = 0; n < 2; n++) {
    json_t *s = starts(nodes[n], 1000, NULL), *t;
    size_t i, d;
    json_t *dev;
    json_array_foreach(s, i, t) {
      int index = (int)json_integer_value(json_object_get(t, "index"));
      assert_int_equal(json_integer_value(json_object_get(t, "count")), 8);
      ranks[index]++;
      total++;
      json_array_foreach(json_object_get(t, "devices"), d, dev) {
        used[n][json_integer_value(dev)]++;
      }
    }
    json_decref(s);
  }
  assert_int_equal(total, 8);
  for (int r = 0; r < 8; r++)
    assert_int_equal(ranks[r], 1);
  for (int n = 0; n < 2; n++)
    for (int d = 0; d < 8; d++)
      assert_int_equal(used[n][d], 1);
}

static void test_gang_waits_whole(void **state)
{
  json_t *s;
  int64_t big, small;

  (void)state;
  add_node("a", "nvidia", "A100", 8);
  add_node("b", "nvidia", "A100", 8);
  small = submit("{\"name\": \"s\", \"command\": [\"x\"], \"resources\": {\"gpus\": 4}}");
  assert_int_equal(sc_ctl_start(ctl), 0);
  s = starts("a", 500, NULL);
  assert_int_equal(json_array_size(s), 1);
  report("a", "j-000001.0", false, 0);
  json_decref(s);
  big = submit("{\"name\": \"big\", \"command\": [\"x\"], \"tasks\": 2,"
               " \"resources\": {\"gpus\": 8}}");
  s = starts("b", 300, NULL);
  assert_int_equal(json_array_size(s), 0); /* one task would fit b: none starts */
  json_decref(s);
  assert_int_equal(job_state(big), SC_JOB_PENDING);
  report("a", "j-000001.0", true, 0);
  assert_int_equal(job_state(small), SC_JOB_SUCCEEDED);
  s = starts("a", 1000, NULL);
  assert_int_equal(json_array_size(s), 1);
  json_decref(s);
  s = starts("b", 1000, NULL);
  assert_int_equal(json_array_size(s), 1);
  json_decref(s);
  assert_int_equal(job_state(big), SC_JOB_RUNNING);
}

static void test_models_and_shares(void **state)
{
  int milli[8] = {0};
  json_t *s, *t;
  size_t i;

  (void)state;
  add_node("a100", "nvidia", "A100", 8);
  add_node("910b", "ascend", "910B", 8);
  submit("{\"name\": \"m\", \"command\": [\"x\"], \"tasks\": 3, \"models\": [\"910B\"],"
         " \"resources\": {\"gpus\": 1}}");
  for (int k = 0; k < 4; k++)
    submit("{\"name\": \"f\", \"command\": [\"x\"], \"models\": [\"A100\"],"
           " \"resources\": {\"gpu_milli\": 250}}");
  assert_int_equal(sc_ctl_start(ctl), 0);
  usleep(200 * 1000);
  s = starts("910b", 500, NULL);
  assert_int_equal(json_array_size(s), 3);
  json_array_foreach(s, i, t) {
    assert_string_equal(json_string_value(json_object_get(t, "vendor")), "ascend");
  }
  json_decref(s);
  s = starts("a100", 500, NULL);
  assert_int_equal(json_array_size(s), 4);
  json_array_foreach(s, i, t) {
    int dev = (int)json_integer_value(json_array_get(json_object_get(t, "devices"), 0));
    assert_int_equal(json_integer_value(json_object_get(t, "gpu_milli")), 250);
    milli[dev] += 250;
  }
  json_decref(s);
  for (int d = 0; d < 8; d++)
    assert_true(milli[d] == 0 || milli[d] == 1000); /* packed onto one device */
}

static void test_node_lost_requeue(void **state)
{
  json_t *s, *kill = NULL;
  struct sc_agent_running r = {0};
  int64_t id;

  (void)state;
  add_node("a", "nvidia", "A100", 8);
  id = submit("{\"name\": \"r\", \"command\": [\"x\"], \"max_retries\": 1,"
              " \"resources\": {\"gpus\": 1}}");
  assert_int_equal(sc_ctl_start(ctl), 0);
  s = starts("a", 1000, NULL);
  assert_int_equal(json_array_size(s), 1);
  json_decref(s);
  report("a", "j-000001.0", false, 0);
  add_node("b", "nvidia", "A100", 8);
  s = NULL;
  for (int i = 0; i < 30 && (!s || json_array_size(s) == 0); i++) {
    json_decref(s);
    assert_int_equal(sc_ctl_heartbeat(ctl, "b", NULL, 0, &kill), 0);
    json_decref(kill);
    s = starts("b", 100, NULL);
  }
  assert_int_equal(json_array_size(s), 1); /* requeued onto b after a was lost */
  assert_int_equal(json_integer_value(json_object_get(json_array_get(s, 0), "attempt")), 1);
  json_decref(s);
  assert_int_equal(job_state(id), SC_JOB_RUNNING);
  /* a comes back still running the old process: it must kill it. */
  r.job_id = id;
  assert_int_equal(sc_ctl_heartbeat(ctl, "a", &r, 1, &kill), 0);
  assert_int_equal(json_array_size(kill), 1);
  assert_string_equal(json_string_value(json_array_get(kill, 0)), "j-000001.0");
  json_decref(kill);
}

static void test_cancel_and_restart(void **state)
{
  struct sc_ctl_opts opts = {.heartbeat_timeout_ms = 5000};
  json_t *s, *kill = NULL;
  int64_t a, b;

  (void)state;
  add_node("a", "nvidia", "A100", 1);
  a = submit("{\"name\": \"one\", \"command\": [\"x\"], \"resources\": {\"gpus\": 1}}");
  b = submit("{\"name\": \"two\", \"command\": [\"x\"], \"resources\": {\"gpus\": 1}}");
  assert_int_equal(sc_ctl_start(ctl), 0);
  s = starts("a", 1000, NULL);
  assert_int_equal(json_array_size(s), 1);
  json_decref(s);
  report("a", "j-000001.0", false, 0);
  assert_int_equal(sc_ctl_cancel(ctl, a, "other-tenant"), SC_ENOENT);
  assert_int_equal(sc_ctl_cancel(ctl, a, NULL), 0);
  assert_int_equal(sc_ctl_cancel(ctl, a, NULL), SC_ESTATE);
  assert_int_equal(job_state(a), SC_JOB_CANCELLED);
  s = starts("a", 500, &kill);
  assert_int_equal(json_array_size(kill), 1); /* the cancelled task is killed */
  assert_int_equal(json_array_size(s), 0);    /* its device is busy until it exits */
  json_decref(s);
  json_decref(kill);
  /* Restart: the store rebuilds the controller; the agent still runs j-1.0. */
  sc_ctl_stop(ctl);
  sc_ctl_free(ctl);
  assert_int_equal(sc_ctl_new(&opts, store, &ctl), 0);
  assert_int_equal(sc_ctl_start(ctl), 0);
  assert_int_equal(job_state(b), SC_JOB_PENDING);
  report("a", "j-000001.0", true, -1);
  s = starts("a", 1000, NULL);
  assert_int_equal(json_array_size(s), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(s, 0), "task_id")),
                      "j-000002.0");
  json_decref(s);
}

static void test_pass_time(void **state)
{
  struct sc_ctl_stats st = {0};
  char name[32];
  const char *shapes[] = {
    "{\"name\": \"p\", \"command\": [\"x\"], \"resources\": {\"gpus\": 1}}",
    "{\"name\": \"p\", \"command\": [\"x\"], \"resources\": {\"gpu_milli\": 500}}",
    "{\"name\": \"p\", \"command\": [\"x\"], \"tasks\": 2, \"resources\": {\"gpus\": 4}}",
    "{\"name\": \"p\", \"command\": [\"x\"], \"resources\": {\"cpu_milli\": 4000}}",
    "{\"name\": \"p\", \"command\": [\"x\"], \"models\": [\"910B\"], \"resources\": {\"gpus\": 2}}",
  };

  struct sc_ctl_opts opts = {.heartbeat_timeout_ms = 60000};

  (void)state;
  sc_ctl_free(ctl); /* a long heartbeat timeout: submitting takes a while */
  assert_int_equal(sc_ctl_new(&opts, store, &ctl), 0);
  for (int i = 0; i < 100; i++) {
    snprintf(name, sizeof name, "n%03d", i);
    add_node(name, i % 2 ? "ascend" : "nvidia", i % 2 ? "910B" : "A100", 8);
  }
  for (int i = 0; i < 1000; i++)
    submit(shapes[i % 5]);
  assert_int_equal(sc_ctl_start(ctl), 0);
  for (int i = 0; i < 200 && st.passes == 0; i++) {
    usleep(10 * 1000);
    sc_ctl_stats(ctl, &st);
  }
  assert_true(st.passes >= 1);
  print_message("scheduling pass: %d pending jobs, 100 nodes: %.2f ms, %llu placed\n",
                st.last_pending, st.max_pass_ms, (unsigned long long)st.placed);
  assert_int_equal(st.last_pending >= 1000 || st.passes > 1, 1);
  assert_true(st.placed > 0);
}

/* A controller whose nodes are not lost while a test waits. */
static void reopen_patient(void)
{
  struct sc_ctl_opts opts = {.heartbeat_timeout_ms = 60000, .grace_ms = 1000};

  sc_ctl_stop(ctl);
  sc_ctl_free(ctl);
  assert_int_equal(sc_ctl_new(&opts, store, &ctl), 0);
}

static int64_t mono_now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One assignments poll on its own thread. */
struct poller {
  pthread_t thread;
  const char *node;
  int64_t wait_ms, took_ms;
  json_t *out;
};

static void *poll_main(void *arg)
{
  struct poller *p = arg;
  int64_t t0 = mono_now_ms();

  if (sc_ctl_assignments(ctl, p->node, p->wait_ms, &p->out) < 0)
    p->out = NULL;
  p->took_ms = mono_now_ms() - t0;
  return NULL;
}

static void poll_begin(struct poller *p, const char *node, int64_t wait_ms)
{
  memset(p, 0, sizeof *p);
  p->node = node;
  p->wait_ms = wait_ms;
  assert_int_equal(pthread_create(&p->thread, NULL, poll_main, p), 0);
  usleep(100 * 1000); /* it waits by now */
}

static size_t poll_end(struct poller *p, const char *key)
{
  size_t n;

  assert_int_equal(pthread_join(p->thread, NULL), 0);
  assert_non_null(p->out);
  n = json_array_size(json_object_get(p->out, key));
  return n;
}

/* A second poll (or a register) of a node answers the first one empty at
 * once; the start goes to the newest poll. */
static void test_one_poll_per_node(void **state)
{
  struct poller old, live;

  (void)state;
  reopen_patient();
  add_node("a", "nvidia", "A100", 1);
  assert_int_equal(sc_ctl_start(ctl), 0);
  poll_begin(&old, "a", 5000);
  poll_begin(&live, "a", 5000);
  assert_int_equal(poll_end(&old, "start"), 0);
  assert_true(old.took_ms < 1000);
  submit("{\"name\": \"one\", \"command\": [\"x\"], \"resources\": {\"gpus\": 1}}");
  assert_int_equal(poll_end(&live, "start"), 1);
  assert_true(live.took_ms < 1000);
  json_decref(old.out);
  json_decref(live.out);
  poll_begin(&old, "a", 5000);
  add_node("a", "nvidia", "A100", 1); /* the agent was restarted */
  assert_int_equal(poll_end(&old, "start"), 0);
  assert_true(old.took_ms < 1000);
  json_decref(old.out);
}

/* A reply that did not reach the agent: its start and kill go out again. */
static void test_undelivered_reply(void **state)
{
  json_t *out = NULL, *again = NULL;
  int64_t id;

  (void)state;
  reopen_patient();
  add_node("a", "nvidia", "A100", 1);
  id = submit("{\"name\": \"one\", \"command\": [\"x\"], \"resources\": {\"gpus\": 1}}");
  assert_int_equal(sc_ctl_start(ctl), 0);
  assert_int_equal(sc_ctl_assignments(ctl, "a", 2000, &out), 0);
  assert_int_equal(json_array_size(json_object_get(out, "start")), 1);
  sc_ctl_assignments_undo(ctl, "a", out);
  assert_int_equal(sc_ctl_assignments(ctl, "a", 0, &again), 0);
  assert_int_equal(json_array_size(json_object_get(again, "start")), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(again, "start"), 0), "task_id")),
                      "j-000001.0");
  json_decref(out);
  json_decref(again);
  report("a", "j-000001.0", false, 0);
  assert_int_equal(sc_ctl_cancel(ctl, id, NULL), 0);
  assert_int_equal(sc_ctl_assignments(ctl, "a", 0, &out), 0);
  assert_int_equal(json_array_size(json_object_get(out, "kill")), 1);
  sc_ctl_assignments_undo(ctl, "a", out);
  assert_int_equal(sc_ctl_assignments(ctl, "a", 0, &again), 0);
  assert_int_equal(json_array_size(json_object_get(again, "kill")), 1);
  json_decref(out);
  json_decref(again);
}

/* A cancel and an exceeded max runtime wake the node's poll at once. */
static void test_kills_wake_poll(void **state)
{
  struct poller p;
  int64_t id, t0;

  (void)state;
  reopen_patient();
  add_node("a", "nvidia", "A100", 2);
  id = submit("{\"name\": \"c\", \"command\": [\"x\"], \"resources\": {\"gpus\": 1}}");
  submit("{\"name\": \"m\", \"command\": [\"x\"], \"max_runtime\": 1, \"resources\": {\"gpus\": 1}}");
  assert_int_equal(sc_ctl_start(ctl), 0);
  json_decref(starts("a", 1000, NULL));
  report("a", "j-000001.0", false, 0);
  poll_begin(&p, "a", 5000);
  assert_int_equal(sc_ctl_cancel(ctl, id, NULL), 0);
  assert_int_equal(poll_end(&p, "kill"), 1);
  assert_true(p.took_ms < 300);
  json_decref(p.out);
  t0 = mono_now_ms();
  report("a", "j-000002.0", false, 0); /* its max runtime counts from here */
  memset(&p, 0, sizeof p);
  p.node = "a";
  p.wait_ms = 5000;
  assert_int_equal(pthread_create(&p.thread, NULL, poll_main, &p), 0);
  assert_int_equal(poll_end(&p, "kill"), 1);
  print_message("max runtime 1 s: kill after %lld ms\n", (long long)(mono_now_ms() - t0));
  assert_true(mono_now_ms() - t0 >= 950);
  assert_true(mono_now_ms() - t0 < 1150);
  json_decref(p.out);
}

/* A "running" report after a heartbeat already marked the task running
 * still records the pid. */
static void test_late_running_pid(void **state)
{
  struct sc_agent_running r = {0};
  struct sc_job_rec j;
  json_t *kill = NULL;
  int64_t id;

  (void)state;
  reopen_patient();
  add_node("a", "nvidia", "A100", 1);
  id = submit("{\"name\": \"p\", \"command\": [\"x\"], \"resources\": {\"gpus\": 1}}");
  assert_int_equal(sc_ctl_start(ctl), 0);
  json_decref(starts("a", 1000, NULL));
  r.job_id = id;
  assert_int_equal(sc_ctl_heartbeat(ctl, "a", &r, 1, &kill), 0);
  assert_int_equal(json_array_size(kill), 0);
  json_decref(kill);
  report("a", "j-000001.0", false, 0); /* pid 42 */
  assert_int_equal(sc_store_job_get(store, id, &j), 0);
  assert_int_equal(j.tasks[0].state, SC_TASK_RUNNING);
  assert_int_equal(j.tasks[0].pid, 42);
  sc_job_rec_release(&j);
}

struct exit_later {
  pthread_t thread;
};

static void *exit_main(void *arg)
{
  (void)arg;
  usleep(200 * 1000);
  report("a", "j-000001.0", true, 0);
  return NULL;
}

/* A log follower (reading the job from the store like GET .../logs?wait)
 * sees a task's end as soon as it is committed, not at its deadline. */
static void test_log_follower_sees_end(void **state)
{
  struct exit_later e;
  uint64_t gen;
  int64_t id, t0;

  (void)state;
  reopen_patient();
  add_node("a", "nvidia", "A100", 1);
  id = submit("{\"name\": \"l\", \"command\": [\"x\"], \"resources\": {\"gpus\": 1}}");
  assert_int_equal(sc_ctl_start(ctl), 0);
  json_decref(starts("a", 1000, NULL));
  report("a", "j-000001.0", false, 0);
  t0 = mono_now_ms();
  gen = sc_ctl_log_generation(ctl);
  assert_int_equal(pthread_create(&e.thread, NULL, exit_main, NULL), 0);
  while (!sc_job_state_final(job_state(id)) && mono_now_ms() - t0 < 5000)
    sc_ctl_log_wait(ctl, &gen, sc_now_ms() + 5000);
  assert_int_equal(pthread_join(e.thread, NULL), 0);
  assert_int_equal(job_state(id), SC_JOB_SUCCEEDED);
  print_message("log follower saw the end after %lld ms\n", (long long)(mono_now_ms() - t0));
  assert_true(mono_now_ms() - t0 < 1000);
}

/* Nodes say when they registered. */
static void test_nodes_registered_at(void **state)
{
  json_t *nodes, *at;

  (void)state;
  add_node("a", "nvidia", "A100", 1);
  nodes = sc_ctl_nodes_json(ctl);
  at = json_object_get(json_array_get(json_object_get(nodes, "nodes"), 0), "registered_at");
  assert_true(json_is_string(at));
  assert_int_equal(strlen(json_string_value(at)), strlen("2026-11-29T10:00:00.123Z"));
  json_decref(nodes);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_gang_disjoint, setup, teardown),
    cmocka_unit_test_setup_teardown(test_gang_waits_whole, setup, teardown),
    cmocka_unit_test_setup_teardown(test_models_and_shares, setup, teardown),
    cmocka_unit_test_setup_teardown(test_node_lost_requeue, setup, teardown),
    cmocka_unit_test_setup_teardown(test_cancel_and_restart, setup, teardown),
    cmocka_unit_test_setup_teardown(test_pass_time, setup, teardown),
    cmocka_unit_test_setup_teardown(test_one_poll_per_node, setup, teardown),
    cmocka_unit_test_setup_teardown(test_undelivered_reply, setup, teardown),
    cmocka_unit_test_setup_teardown(test_kills_wake_poll, setup, teardown),
    cmocka_unit_test_setup_teardown(test_late_running_pid, setup, teardown),
    cmocka_unit_test_setup_teardown(test_log_follower_sees_end, setup, teardown),
    cmocka_unit_test_setup_teardown(test_nodes_registered_at, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
