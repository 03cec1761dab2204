/*
 * The controller over a fault-injecting store (store/faulty.c) and with
 * failing allocations: a failed commit never produces a 201, never loses an
 * acknowledged job, and never leaves memory different from the store once
 * the faults stop; a reply that cannot be built or sent keeps its starts.
 * The HTTP front is the real one (libmicrohttpd on 127.0.0.1, port 0) and
 * the client is util/http; the agent side is driven through the
 * controller's calls by a small agent loop that retries what failed, as the
 * real agent does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_helpers.h"
#include "failalloc.h"
#include "server/auth.h"
#include "server/ctl_int.h"
#include "server/http.h"
#include "server/ids.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/http.h"
#include "util/log.h"

static char dir[128];
static char path[256];
static struct sc_store *store; /* the faulty wrapper over SQLite */
static struct sc_ctl *ctl;
static struct sc_auth auth;
static struct sc_server *server;
static char admin[SC_TOKEN_HEX_LEN + 1], agent[SC_TOKEN_HEX_LEN + 1];
static char url[64];

static struct sc_ctl_opts patient = {.heartbeat_timeout_ms = 60000, .grace_ms = 1000};

static void set_faults(int fail_every, int stall_every, int stall_ms)
{
  struct sc_store_faults f = {.fail_every = fail_every, .stall_every = stall_every,
                              .stall_ms = stall_ms};

  sc_store_faulty_set(store, &f);
}

static void set_random_faults(int percent, uint32_t seed)
{
  struct sc_store_faults f = {.fail_percent = percent, .seed = seed};

  sc_store_faulty_set(store, &f);
}

static int setup(void **state)
{
  struct sc_server_opts so = {.listen = "127.0.0.1:0"};
  struct sc_store *inner;

  (void)state;
  sc_log_setup(SC_LOG_ERROR, "test");
  fa_exempt_this_thread(); /* the test's own (client) allocations never fail */
  snprintf(dir, sizeof dir, "/tmp/sc-test-faults-XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(path, sizeof path, "%s/supercell.db", dir);
  if (sc_store_open(&sc_store_sqlite, path, &inner) < 0 ||
      sc_store_faulty_new(inner, &store) < 0 || sc_auth_init(&auth, store) < 0 ||
      sc_auth_create(&auth, &(struct sc_token_req){.kind = SC_TOKEN_ADMIN}, admin, NULL) < 0 ||
      sc_auth_node_credential(&auth, "a", agent) < 0 ||
      sc_ctl_new(&patient, store, &ctl) < 0 || sc_ctl_start(ctl) < 0)
    return -1;
  so.ctl = ctl;
  so.auth = &auth;
  so.routes = sc_api_routes;
  if (sc_server_start(&so, &server) < 0)
    return -1;
  snprintf(url, sizeof url, "http://127.0.0.1:%d", sc_server_port(server));
  return 0;
}

static int teardown(void **state)
{
  char cmd[200];

  (void)state;
  fa_off();
  json_set_alloc_funcs(malloc, free);
  sc_server_stop(server);
  sc_ctl_stop(ctl);
  sc_ctl_free(ctl);
  sc_auth_release(&auth);
  sc_store_close(store);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void add_node(const char *name, int ndev)
{
  th_add_node(ctl, name, "nvidia", "A100", ndev);
}

static int64_t submit(const char *json_text)
{
  int64_t id = th_try_submit(ctl, json_text);

  assert_true(id > 0);
  return id;
}

#define DIFF(what, a, b)                                                          \
  do {                                                                            \
    if ((a) != (b)) {                                                             \
      snprintf(msg, size, "j-%06lld %s: memory %lld, store %lld", (long long)j->id, \
               what, (long long)(b), (long long)(a));                             \
      return false;                                                               \
    }                                                                             \
  } while (0)

/* Compares one job in memory with its rows in the store (mu held). */
static bool job_matches(const struct ctl_job *j, const struct sc_job_rec *r, char *msg,
                        size_t size)
{
  DIFF("state", r->state, j->state);
  DIFF("reason", strcmp(r->reason, j->reason), 0);
  DIFF("attempt", r->attempt, j->attempt);
  DIFF("started", r->started_ms, j->started_ms);
  DIFF("finished", r->finished_ms, j->finished_ms);
  DIFF("tasks", r->ntasks, j->ntasks);
  for (int k = 0; k < j->ntasks; k++) {
    const struct ctl_task *t = &j->tasks[k];
    const char *node = t->node >= 0 ? ctl->nodes[t->node].rec.name : "";
    DIFF("task state", r->tasks[k].state, t->state);
    DIFF("task node", strcmp(r->tasks[k].node, node), 0);
    DIFF("task attempt", r->tasks[k].attempt, t->attempt);
    DIFF("task exit code", r->tasks[k].exit_code, t->exit_code);
    DIFF("task signal", r->tasks[k].signal, t->signal);
    DIFF("task pid", r->tasks[k].pid, t->pid);
    DIFF("task devices", r->tasks[k].ndev, t->ndev);
    for (int d = 0; d < t->ndev; d++)
      DIFF("task device", r->tasks[k].devices[d], t->dev[d]);
  }
  return true;
}

/* Every active job in memory has the rows the store holds: state, reason,
 * times and attempt, and each task's state, node, devices and outcome. */
static void check_memory_matches_store(void)
{
  char msg[256] = "";
  bool ok = true;

  pthread_mutex_lock(&ctl->mu);
  for (int i = 0; ok && i < ctl->njobs; i++) {
    struct sc_job_rec r;
    if (sc_store_job_get(store, ctl->jobs[i]->id, &r) < 0) {
      snprintf(msg, sizeof msg, "j-%06lld: not in the store", (long long)ctl->jobs[i]->id);
      ok = false;
      break;
    }
    ok = job_matches(ctl->jobs[i], &r, msg, sizeof msg);
    sc_job_rec_release(&r);
  }
  if (ok && ctl_check(ctl) < 0) {
    snprintf(msg, sizeof msg, "ctl_check failed");
    ok = false;
  }
  pthread_mutex_unlock(&ctl->mu);
  if (!ok)
    fail_msg("memory differs from the store: %s", msg);
}

/* Waits until no row is stale (the rewrites committed). */
static void wait_converged(void)
{
  struct sc_ctl_stats st;

  for (int i = 0; i < 500; i++) {
    sc_ctl_stats(ctl, &st);
    if (st.stale == 0)
      return;
    usleep(10 * 1000);
  }
  fail_msg("rows still stale after 5 s: %d", st.stale);
}

/*
 * Submissions through the HTTP API while every third commit fails and every
 * fifth stalls: a request whose commit failed answers 5xx and leaves no
 * trace; every 201 is in the store, once, with its name, and comes back
 * after a restart.
 */
static void test_failed_commit_never_201(void **state)
{
  struct sc_http client;
  int64_t acked[60];
  int nacked = 0, nfailed = 0;
  struct sc_job_rec *jobs;
  struct sc_job_filter f = {.state = -1, .limit = 1000};
  int n;

  (void)state;
  assert_int_equal(sc_http_init(&client, url, admin), 0);
  set_faults(3, 5, 20);
  for (int i = 0; i < 60; i++) {
    struct sc_http_reply r;
    char name[32];
    json_t *body;
    snprintf(name, sizeof name, "f%d", i);
    body = json_pack("{s:s, s:s}", "name", name, "command", "true");
    assert_int_equal(sc_http_call(&client, "POST", "/v1/jobs", body, 10000, &r), 0);
    json_decref(body);
    if (r.status == 201) {
      assert_int_equal(sc_job_id_parse(json_string_value(json_object_get(r.body, "id")),
                                       &acked[nacked]), 0);
      assert_string_equal(json_string_value(json_object_get(r.body, "name")), name);
      nacked++;
    } else {
      assert_true(r.status >= 500);
      assert_non_null(json_object_get(r.body, "error"));
      nfailed++;
    }
    sc_http_reply_release(&r);
  }
  set_faults(0, 0, 0);
  print_message("60 submissions: %d acknowledged, %d refused by failed commits\n", nacked,
                nfailed);
  assert_int_equal(nfailed, 20);
  assert_int_equal(nacked, 40);
  assert_int_equal(sc_store_job_list(store, &f, &jobs, &n), 0);
  assert_int_equal(n, nacked);
  for (int i = 0; i < n; i++)
    assert_int_equal(jobs[i].id, acked[i]);
  sc_store_free_jobs(jobs, n);
  pthread_mutex_lock(&ctl->mu);
  assert_int_equal(ctl->njobs, nacked);
  pthread_mutex_unlock(&ctl->mu);
  check_memory_matches_store();
  /* A restart finds exactly the acknowledged jobs. */
  sc_ctl_stop(ctl);
  sc_ctl_free(ctl);
  assert_int_equal(sc_ctl_new(&patient, store, &ctl), 0);
  assert_int_equal(ctl->njobs, nacked);
  for (int i = 0; i < nacked; i++)
    assert_non_null(ctl_job_find(ctl, acked[i]));
  assert_int_equal(sc_ctl_start(ctl), 0);
  sc_http_release(&client);
}

/* A task as the small agent below runs it. */
struct mini_task {
  int64_t job;
  int index, age;
  bool running_acked, exited;
  int signal;
};

struct mini_agent {
  struct mini_task tasks[64];
  int n;
};

static struct mini_task *mini_find(struct mini_agent *m, int64_t job, int index)
{
  for (int i = 0; i < m->n; i++)
    if (m->tasks[i].job == job && m->tasks[i].index == index)
      return &m->tasks[i];
  return NULL;
}

static void mini_forget(struct mini_agent *m, struct mini_task *t)
{
  *t = m->tasks[--m->n];
}

/* One round of an agent on node: poll, report (kept until acknowledged),
 * heartbeat with every task whose end is not acknowledged yet. */
static void mini_round(struct mini_agent *m, const char *node)
{
  struct sc_agent_update u[128];
  struct sc_agent_running run[64];
  struct sc_assignments a;
  struct sc_kill_list kill;
  int nu = 0, nrun = 0;

  if (sc_ctl_assignments(ctl, node, 20, &a) == 0) {
    for (int i = 0; i < a.nstarts; i++)
      if (!mini_find(m, a.starts[i].task.job_id, a.starts[i].task.index) && m->n < 64)
        m->tasks[m->n++] = (struct mini_task){.job = a.starts[i].task.job_id,
                                              .index = a.starts[i].task.index};
    for (int i = 0; i < a.kills.n; i++) {
      struct mini_task *t = mini_find(m, a.kills.items[i].job_id, a.kills.items[i].index);
      if (t && !t->exited)
        t->exited = true, t->signal = 15;
    }
    sc_assignments_release(&a);
  }
  for (int i = 0; i < m->n; i++) {
    struct mini_task *t = &m->tasks[i];
    if (!t->exited && ++t->age >= 3)
      t->exited = true; /* exit 0 */
    u[nu++] = (struct sc_agent_update){.job_id = t->job, .index = t->index, .exited = t->exited,
                                       .pid = 1000 + t->index, .exit_code = t->signal ? -1 : 0,
                                       .signal = t->signal ? t->signal : -1};
  }
  if (nu > 0 && sc_ctl_status(ctl, node, u, nu) == 0)
    for (int i = m->n - 1; i >= 0; i--) {
      if (m->tasks[i].exited)
        mini_forget(m, &m->tasks[i]);
      else
        m->tasks[i].running_acked = true;
    }
  for (int i = 0; i < m->n; i++)
    run[nrun++] = (struct sc_agent_running){.job_id = m->tasks[i].job,
                                            .index = m->tasks[i].index,
                                            .pid = 1000 + m->tasks[i].index};
  if (sc_ctl_heartbeat(ctl, node, run, nrun, &kill) == 0) {
    for (int i = 0; i < kill.n; i++) {
      struct mini_task *t = mini_find(m, kill.items[i].job_id, kill.items[i].index);
      if (t && !t->exited)
        t->exited = true, t->signal = 15;
    }
    sc_kill_list_release(&kill);
  }
}

static int jobs_final(const int64_t *ids, int n)
{
  int done = 0;

  pthread_mutex_lock(&ctl->mu);
  for (int i = 0; i < n; i++) {
    const struct ctl_job *j = ctl_job_find(ctl, ids[i]);
    done += !j || sc_job_state_final(j->state);
  }
  pthread_mutex_unlock(&ctl->mu);
  return done;
}

/*
 * Jobs run to the end while 30 % of commits fail (seeded, so replayable) (placements,
 * running and exit reports, heartbeats, node rows): each failed request is
 * retried by the agent, every job succeeds on its first attempt, and once
 * the faults stop the rows that failed are rewritten until memory equals
 * the store; a restart then rebuilds the same states.
 */
static void test_transitions_converge(void **state)
{
  struct mini_agent m = {0};
  struct sc_store_fault_stats fst;
  struct sc_ctl_stats st;
  int64_t ids[40];
  int rounds = 0;

  (void)state;
  add_node("a", 8);
  for (int i = 0; i < 40; i++)
    ids[i] = submit("{\"name\": \"c\", \"command\": [\"x\"], \"tasks\": 2,"
                    " \"resources\": {\"gpus\": 1}}");
  set_random_faults(30, 42);
  while (jobs_final(ids, 40) < 40 && rounds++ < 4000)
    mini_round(&m, "a");
  set_faults(0, 0, 0);
  sc_store_faulty_stats(store, &fst);
  sc_ctl_stats(ctl, &st);
  print_message("%d agent rounds, %lld of %lld batches failed, %llu failed commits seen\n",
                rounds, (long long)fst.failed_batches, (long long)fst.batches,
                (unsigned long long)st.failed_commits);
  assert_int_equal(jobs_final(ids, 40), 40);
  assert_true(fst.failed_batches >= 5);
  for (int i = 0; m.n > 0 && i < 200; i++) /* the last exit reports */
    mini_round(&m, "a");
  assert_int_equal(m.n, 0);
  wait_converged();
  check_memory_matches_store();
  for (int i = 0; i < 40; i++) {
    struct sc_job_rec r;
    assert_int_equal(sc_store_job_get(store, ids[i], &r), 0);
    assert_int_equal(r.state, SC_JOB_SUCCEEDED);
    assert_int_equal(r.attempt, 0);
    for (int k = 0; k < r.ntasks; k++)
      assert_int_equal(r.tasks[k].exit_code, 0);
    sc_job_rec_release(&r);
  }
  sc_ctl_stop(ctl);
  sc_ctl_free(ctl);
  assert_int_equal(sc_ctl_new(&patient, store, &ctl), 0);
  check_memory_matches_store();
  assert_int_equal(sc_ctl_start(ctl), 0);
}

/* Waits until node 0 has a published start queued. */
static void wait_published(void)
{
  int n = 0;

  for (int i = 0; i < 300 && n == 0; i++) {
    pthread_mutex_lock(&ctl->mu);
    n = ctl->nodes[0].start_q.n;
    pthread_mutex_unlock(&ctl->mu);
    if (!n)
      usleep(10 * 1000);
  }
  assert_int_equal(n, 1);
}

/*
 * An assignments reply that cannot be built or sent (the server's
 * allocations fail at each point in turn, jansson's included) leaves its
 * start deliverable: some later poll returns it, once.
 */
static void test_start_survives_failed_reply(void **state)
{
  struct sc_http client;
  struct sc_http_reply r;
  json_t *body;
  int found = 0, tries = 0, rc;

  (void)state;
  add_node("a", 1);
  submit("{\"name\": \"s\", \"command\": [\"x\"], \"resources\": {\"gpus\": 1}}");
  wait_published();
  /* No background work from here on: every allocation failure below lands
   * in a request (a stopped controller still answers polls at once). */
  sc_ctl_stop(ctl);
  assert_int_equal(sc_http_init(&client, url, agent), 0);
  /* A first request records the token's use (a store write), so the
   * failures below all land in the poll itself. */
  body = json_pack("{s:s, s:[]}", "name", "a", "running");
  assert_int_equal(sc_http_call(&client, "POST", "/v1/agent/heartbeat", body, 5000, &r), 0);
  assert_int_equal(r.status, 200);
  json_decref(body);
  sc_http_reply_release(&r);
  json_set_alloc_funcs(fa_malloc, fa_free);
  /* A new connection per poll: curl silently retries a request whose
   * reused connection was dropped, which would hide the failure. */
  sc_http_release(&client);
  for (long k = 0; k < 400 && !found; k++, tries++) {
    assert_int_equal(sc_http_init(&client, url, agent), 0);
    fa_fail_after(k, 0);
    rc = sc_http_call(&client, "GET", "/v1/agent/assignments?name=a&wait=0", NULL, 5000, &r);
    fa_off();
    sc_http_release(&client);
    if (rc < 0)
      continue; /* the connection was dropped */
    body = r.status == 200 ? json_loadb(r.raw, r.len, 0, NULL) : NULL;
    if (body && json_array_size(json_object_get(body, "start")) == 1) {
      assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(body, "start"), 0), "task_id")),
                          "j-000001.0");
      found = 1;
    }
    json_decref(body);
    sc_http_reply_release(&r);
  }
  fa_off();
  json_set_alloc_funcs(malloc, free);
  print_message("the start arrived on poll %d\n", tries);
  assert_true(found);
  assert_true(tries > 3); /* the early polls did fail */
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_failed_commit_never_201, setup, teardown),
    cmocka_unit_test_setup_teardown(test_transitions_converge, setup, teardown),
    cmocka_unit_test_setup_teardown(test_start_survives_failed_reply, setup, teardown),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
