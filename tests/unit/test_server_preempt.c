/*
 * Preemption in the controller (ctl_preempt.c, CTL_EV_PREEMPT): a
 * preempted job is requeued whole whatever its retries, its kill carries a
 * notice for the process that still lives, a later real failure still
 * counts against max_retries, both counters survive a restart; checkpoints
 * and the task credentials that record them; the work a victim would lose;
 * preemptors that share a node take no more victims than they need.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl_helpers.h"
#include "server/ctl_int.h"
#include "server/ids.h"
#include "util/error.h"
#include "util/log.h"

static char dir[128];
static struct sc_store *store;
static struct sc_ctl *ctl;
static int64_t fake_now = 1700000000000;
static const unsigned char *task_key; /* NULL: a random one */

static int64_t wall(void)
{
  return fake_now;
}

static int open_ctl(void)
{
  struct sc_ctl_opts opts = {.heartbeat_timeout_ms = 60000, .grace_ms = 1000,
                             .fence_after_ms = -1, /* a restart holds nothing back */
                             .max_checkpoint_grace_ms = 20000, .wall_ms = wall,
                             .task_key = task_key};

  return sc_ctl_new(&opts, store, &ctl);
}

static int setup(void **state)
{
  (void)state;
  if (th_store_open("preempt", dir, &store) < 0)
    return -1;
  return open_ctl();
}

static int teardown(void **state)
{
  (void)state;
  return th_ctl_teardown(dir, store, ctl);
}

/* Takes node's next starts (polls that bring only kills are passed over)
 * and reports each running; returns the number of starts. */
static int run_pending(const char *node, struct sc_task_start *first)
{
  struct sc_assignments a = {0};
  int n;

  for (int i = 0; i < 5 && a.nstarts == 0; i++) {
    sc_assignments_release(&a);
    assert_int_equal(sc_ctl_assignments(ctl, node, 2000, &a), 0);
  }
  n = a.nstarts;
  for (int i = 0; i < n; i++) {
    struct sc_agent_update u = {.job_id = a.starts[i].task.job_id,
                                .index = a.starts[i].task.index,
                                .attempt = a.starts[i].attempt, .pid = 42 + i,
                                .exit_code = -1, .signal = -1};
    assert_int_equal(sc_ctl_status(ctl, node, &u, 1), 0);
  }
  if (first && n > 0) {
    *first = a.starts[0];
    first->run = NULL;
  }
  sc_assignments_release(&a);
  return n;
}

static void get_job(int64_t id, struct sc_job_rec *j)
{
  assert_int_equal(sc_store_job_get(store, id, j), 0);
}

/* A preempted job is pending again at once, whatever max_retries (0):
 * attempt + 1, preempted + 1, reason naming the preemptor; its kill (sent
 * where its process lives) carries the notice with its signal and grace. */
static void test_preempt_requeues_with_notice(void **state)
{
  struct sc_task_start start;
  struct sc_assignments a;
  struct sc_job_rec j;
  int64_t id;

  (void)state;
  th_add_node(ctl, "a", "nvidia", "A100", 2);
  id = th_try_submit(ctl, "{\"name\": \"s\", \"command\": \"x\", \"preemptible\": true,"
                          " \"preempt_signal\": \"SIGUSR1\", \"checkpoint_grace\": 7,"
                          " \"resources\": {\"gpus\": 1}}");
  assert_true(id > 0);
  assert_int_equal(sc_ctl_preempt(ctl, id, 5, "reclaim"), SC_ESTATE); /* not running yet */
  assert_int_equal(sc_ctl_start(ctl), 0);
  assert_int_equal(run_pending("a", &start), 1);
  assert_int_equal(strncmp(start.task_token, "sct1.", 5), 0);
  assert_int_equal(sc_ctl_preempt(ctl, id, 5, "bogus"), SC_EINVAL);
  assert_int_equal(sc_ctl_preempt(ctl, 999, 5, "reclaim"), SC_ENOENT);
  assert_int_equal(sc_ctl_preempt(ctl, id, 123, "reclaim"), 0);
  get_job(id, &j);
  assert_int_equal(j.state, SC_JOB_PENDING);
  assert_int_equal(j.attempt, 1);
  assert_int_equal(j.preempted, 1);
  assert_int_equal(j.max_retries, 0);
  assert_string_equal(j.reason, "preempted by j-000123 (reclaim)");
  sc_job_rec_release(&j);
  assert_int_equal(sc_ctl_assignments(ctl, "a", 0, &a), 0);
  assert_int_equal(a.nstarts, 0); /* its old process still holds the device */
  assert_int_equal(a.kills.n, 1);
  assert_int_equal(a.kills.nnotices, 1);
  assert_int_equal(a.kills.notices[0].task.job_id, id);
  assert_int_equal(a.kills.notices[0].signal, SIGUSR1);
  assert_int_equal(a.kills.notices[0].grace_ms, 7000);
  assert_int_equal(a.kills.notices[0].by, 123);
  assert_string_equal(a.kills.notices[0].kind, "reclaim");
  sc_assignments_release(&a);
  assert_int_equal(sc_ctl_preempt(ctl, id, 5, "reclaim"), SC_ESTATE); /* pending now */
}

/* Preemption uses up no retry, a failure does: with max_retries 1, two
 * preemptions and one failure still requeue; the second failure ends it.
 * The counters survive a restart. */
static void test_preemption_spares_retries(void **state)
{
  struct sc_task_start start;
  struct sc_job_rec j;
  int64_t id;

  (void)state;
  th_add_node(ctl, "a", "nvidia", "A100", 1);
  id = th_try_submit(ctl, "{\"name\": \"s\", \"command\": \"x\", \"max_retries\": 1,"
                          " \"resources\": {\"gpus\": 1}}");
  assert_int_equal(sc_ctl_start(ctl), 0);
  for (int round = 0; round < 2; round++) {
    assert_int_equal(run_pending("a", &start), 1);
    assert_int_equal(start.attempt, round);
    assert_int_equal(sc_ctl_preempt(ctl, id, 0, "priority"), 0);
    /* The agent reports the old process gone (killed in its grace). */
    struct sc_agent_update u = {.job_id = id, .attempt = round, .exited = true,
                                .exit_code = -1, .signal = 9};
    assert_int_equal(sc_ctl_status(ctl, "a", &u, 1), 0);
  }
  get_job(id, &j);
  assert_int_equal(j.attempt, 2);
  assert_int_equal(j.preempted, 2);
  assert_string_equal(j.reason, "preempted by operator (priority)");
  sc_job_rec_release(&j);
  sc_ctl_stop(ctl);
  sc_ctl_free(ctl);
  assert_int_equal(open_ctl(), 0); /* the counters come back from the store */
  th_add_node(ctl, "a", "nvidia", "A100", 1);
  assert_int_equal(sc_ctl_start(ctl), 0);
  assert_int_equal(run_pending("a", &start), 1);
  assert_int_equal(start.attempt, 2);
  struct sc_agent_update fail = {.job_id = id, .attempt = 2, .exited = true, .exit_code = 3,
                                 .signal = -1};
  assert_int_equal(sc_ctl_status(ctl, "a", &fail, 1), 0);
  get_job(id, &j);
  /* Requeued for its one retry; the scheduling thread may have placed
   * it again already. */
  assert_true(j.state == SC_JOB_PENDING || j.state == SC_JOB_RUNNING);
  assert_int_equal(j.attempt, 3);
  sc_job_rec_release(&j);
  assert_int_equal(run_pending("a", &start), 1);
  fail.attempt = 3;
  assert_int_equal(sc_ctl_status(ctl, "a", &fail, 1), 0);
  get_job(id, &j);
  assert_int_equal(j.state, SC_JOB_FAILED); /* 4 attempts - 2 preempted = 2 > 1 retry */
  assert_string_equal(j.reason, "exit code 3");
  sc_job_rec_release(&j);
}

/* The credential of a job's attempt checks only for that job and attempt;
 * a checkpoint with it is taken while the attempt runs or its process
 * lives on in its grace, and is stored. */
static void test_checkpoint_credentials(void **state)
{
  struct sc_task_start start;
  struct sc_checkpoint_req r = {.attempt = -1};
  char token[SC_TASK_TOKEN_MAX];
  struct sc_job_rec j;
  int64_t id, job, at;
  int attempt;

  (void)state;
  th_add_node(ctl, "a", "nvidia", "A100", 1);
  id = th_try_submit(ctl, "{\"name\": \"s\", \"command\": \"x\", \"resources\": {\"gpus\": 1}}");
  r.job = id;
  assert_int_equal(sc_ctl_checkpoint(ctl, &r, &at), SC_ESTATE); /* nothing runs */
  assert_int_equal(sc_ctl_start(ctl), 0);
  assert_int_equal(run_pending("a", &start), 1);
  assert_int_equal(sc_ctl_task_token_check(ctl, start.task_token, &job, &attempt), 0);
  assert_int_equal(job, id);
  assert_int_equal(attempt, 0);
  sc_ctl_task_token(ctl, id, 1, token); /* another attempt: another mac */
  assert_string_not_equal(token, start.task_token);
  token[strlen(token) - 1] = token[strlen(token) - 1] == '0' ? '1' : '0';
  assert_int_equal(sc_ctl_task_token_check(ctl, token, &job, &attempt), SC_EAUTH);
  assert_int_equal(sc_ctl_task_token_check(ctl, "sct1.1.0.00", &job, &attempt), SC_EAUTH);
  assert_int_equal(sc_ctl_task_token_check(ctl, "0123abcd", &job, &attempt), SC_EAUTH);

  fake_now += 5000;
  r.attempt = 0;
  r.tenant = "other";
  assert_int_equal(sc_ctl_checkpoint(ctl, &r, &at), SC_ENOENT);
  r.tenant = NULL;
  assert_int_equal(sc_ctl_checkpoint(ctl, &r, &at), 0);
  assert_int_equal(at, fake_now);
  get_job(id, &j);
  assert_int_equal(j.checkpoint_ms, fake_now);
  sc_job_rec_release(&j);
  r.attempt = 1;
  assert_int_equal(sc_ctl_checkpoint(ctl, &r, &at), SC_EPERM); /* not this attempt */
  assert_int_equal(sc_ctl_preempt(ctl, id, 0, "operator"), 0);
  r.attempt = 0; /* in its grace: still taken */
  assert_int_equal(sc_ctl_checkpoint(ctl, &r, &at), 0);
  struct sc_agent_update gone = {.job_id = id, .attempt = 0, .exited = true, .exit_code = 0,
                                 .signal = -1};
  assert_int_equal(sc_ctl_status(ctl, "a", &gone, 1), 0);
  assert_int_equal(sc_ctl_checkpoint(ctl, &r, &at), SC_EPERM); /* its process is gone */
}

/* Creates tenant name with rules (JSON text). */
static void put_tenant(const char *name, const char *rules)
{
  struct sc_tenant_update u = {.create = true, .rules = json_loads(rules, 0, NULL)};
  struct sc_tenant_rec rec = {0};
  struct sc_rules_error err;

  assert_non_null(u.rules);
  assert_int_equal(sc_ctl_tenant_put(ctl, name, &u, &rec, &err), 0);
  free(rec.rules);
  json_decref(u.rules);
}

/* Polls node's assignments until want kills came (or 5 polls); the jobs
 * killed into jobs (want of them at most); returns how many came. */
static int take_kills(const char *node, int want, int wait_ms, int64_t *jobs)
{
  int n = 0;

  for (int i = 0; i < 5 && n < want; i++) {
    struct sc_assignments a = {0};
    assert_int_equal(sc_ctl_assignments(ctl, node, wait_ms, &a), 0);
    for (int k = 0; k < a.kills.n; k++, n++)
      if (n < want)
        jobs[n] = a.kills.items[k].job_id;
    assert_int_equal(a.nstarts, 0);
    sc_assignments_release(&a);
  }
  return n;
}

/* Preemptors that share a node: one whose victim has stopped while the
 * others' victims still run waits with them (the node is kept for them)
 * instead of searching again, which took another victim each time (and
 * spot jobs, never out of candidates, were preempted over and over).
 * Three spot jobs fill a 3-device node; two 1-GPU jobs of a tenant
 * guaranteed 2 preempt one each; the first victim's end takes nothing
 * more (the third spot job runs on); the second's starts both. */
static void test_preemptors_share_a_node(void **state)
{
  struct sc_agent_update gone = {.attempt = 0, .exited = true, .exit_code = -1, .signal = 9};
  int64_t spot[3], victims[3], extra;
  struct sc_job_rec j;
  int started = 0;

  (void)state;
  th_add_node(ctl, "a", "nvidia", "A100", 3);
  put_tenant("ta", "{\"guarantee\": {\"gpu\": 2}}");
  for (int i = 0; i < 3; i++)
    spot[i] = th_try_submit(ctl, "{\"name\": \"s\", \"command\": \"x\", \"preemptible\": true,"
                                 " \"resources\": {\"gpus\": 1}}");
  assert_int_equal(sc_ctl_start(ctl), 0);
  for (int i = 0; i < 5 && started < 3; i++)
    started += run_pending("a", NULL);
  assert_int_equal(started, 3);
  for (int i = 0; i < 2; i++)
    assert_true(th_try_submit(ctl, "{\"name\": \"c\", \"command\": \"x\", \"tenant\": \"ta\","
                                   " \"resources\": {\"gpus\": 1}}") > 0);
  assert_int_equal(take_kills("a", 2, 2000, victims), 2);
  assert_true(victims[0] != victims[1]);

  gone.job_id = victims[0];
  assert_int_equal(sc_ctl_status(ctl, "a", &gone, 1), 0);
  assert_int_equal(take_kills("a", 1, 100, &extra), 0); /* no third victim */
  for (int i = 0; i < 3; i++) {
    get_job(spot[i], &j);
    assert_int_equal(j.state, spot[i] == victims[0] || spot[i] == victims[1] ? SC_JOB_PENDING
                                                                             : SC_JOB_RUNNING);
    assert_int_equal(j.preempted, spot[i] == victims[0] || spot[i] == victims[1] ? 1 : 0);
    sc_job_rec_release(&j);
  }

  gone.job_id = victims[1];
  assert_int_equal(sc_ctl_status(ctl, "a", &gone, 1), 0);
  started = 0;
  for (int i = 0; i < 3 && started < 2; i++)
    started += run_pending("a", NULL);
  assert_int_equal(started, 2); /* both claims, on the two freed devices */
}

/* Work lost: what the running tasks hold times the time since the later of
 * the attempt's start and the last checkpoint. By hand: 2 tasks x 2 GPUs
 * = 4000 milli-GPU; 10 s after the start, 4000 x 10000 / 1000 = 40000
 * GPU-ms (40 GPU-seconds); a checkpoint 6 s in leaves 4 s: 16000. */
static void test_work_lost(void **state)
{
  struct sc_checkpoint_req r = {.attempt = -1};
  struct ctl_job *j;
  int64_t id, at, start_ms;

  (void)state;
  th_add_node(ctl, "a", "nvidia", "A100", 4);
  id = th_try_submit(ctl, "{\"name\": \"s\", \"command\": \"x\", \"tasks\": 2,"
                          " \"resources\": {\"gpus\": 2}}");
  pthread_mutex_lock(&ctl->mu);
  assert_int_equal(ctl_job_work_lost_gpu_ms(ctl_job_find(ctl, id), fake_now), 0); /* pending */
  pthread_mutex_unlock(&ctl->mu);
  assert_int_equal(sc_ctl_start(ctl), 0);
  assert_int_equal(run_pending("a", NULL), 2);
  pthread_mutex_lock(&ctl->mu);
  j = ctl_job_find(ctl, id);
  start_ms = j->started_ms;
  assert_int_equal(ctl_job_work_lost_gpu_ms(j, start_ms + 10000), 40000);
  pthread_mutex_unlock(&ctl->mu);
  fake_now = start_ms + 6000;
  r.job = id;
  assert_int_equal(sc_ctl_checkpoint(ctl, &r, &at), 0);
  pthread_mutex_lock(&ctl->mu);
  assert_int_equal(ctl_job_work_lost_gpu_ms(ctl_job_find(ctl, id), start_ms + 10000), 16000);
  pthread_mutex_unlock(&ctl->mu);
}

/* The credential is standard HMAC-SHA256 of "<job>.<attempt>" under the
 * task key: the expected value is Python's hmac.new(bytes(range(32)),
 * b"7.2", hashlib.sha256).hexdigest(). */
static void test_token_is_hmac(void **state)
{
  static const unsigned char key[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                        11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                        22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
  char token[SC_TASK_TOKEN_MAX];

  (void)state;
  sc_ctl_stop(ctl);
  sc_ctl_free(ctl);
  task_key = key;
  assert_int_equal(open_ctl(), 0);
  task_key = NULL;
  sc_ctl_task_token(ctl, 7, 2, token);
  assert_string_equal(token,
                      "sct1.7.2.3d77ba84566247d110357914d2e8311563dee4c0b93234c987f5ffc57bda9b25");
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_preempt_requeues_with_notice, setup, teardown),
    cmocka_unit_test_setup_teardown(test_preemption_spares_retries, setup, teardown),
    cmocka_unit_test_setup_teardown(test_checkpoint_credentials, setup, teardown),
    cmocka_unit_test_setup_teardown(test_work_lost, setup, teardown),
    cmocka_unit_test_setup_teardown(test_token_is_hmac, setup, teardown),
    cmocka_unit_test_setup_teardown(test_preemptors_share_a_node, setup, teardown),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
