/* Agent unit tests: device specs, task environment, assignment decoding,
 * log text cleaning, and launch / kill / adoption / signals against real
 * processes (in namespaces too, when run as root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "runner.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent_int.h"
#include "agent/devices.h"
#include "agent/sandbox.h"
#include "agent/task.h"
#include "agent/task_spec.h"
#include "util/clock.h"
#include "util/error.h"

static void test_devices_parse(void **state)
{
  struct sc_devices d = {0};
  char err[256];

  (void)state;
  assert_int_equal(sc_devices_parse(&d, "nvidia:A100-80G:8", err, sizeof err), 0);
  assert_int_equal(sc_devices_parse(&d, "Ascend:910B:2:64Gi", err, sizeof err), 0);
  assert_int_equal(d.count, 10);
  assert_string_equal(d.dev[0].vendor, "nvidia");
  assert_string_equal(d.dev[0].model, "A100-80G");
  assert_int_equal(d.dev[0].memory_mib, 0);
  assert_int_equal(d.dev[9].index, 9);
  assert_string_equal(d.dev[9].vendor, "ascend");
  assert_int_equal(d.dev[9].memory_mib, 65536);
  assert_int_equal(sc_devices_vendor_index(&d, 3), 3);
  assert_int_equal(sc_devices_vendor_index(&d, 9), 1);
  assert_int_equal(sc_devices_vendor_index(&d, 10), -1);
}

static void test_devices_parse_errors(void **state)
{
  static const char *bad[] = {"nvidia", "nvidia:A100", "nvidia:A100:", "nvidia:A100:x",
                              "nvidia:A100:-1", "nvidia:A100:0", ":A100:1", "nvidia::1",
                              "nvidia:A100:1:lots", "nvidia:A 100:1", "nvidia:A100:65"};
  struct sc_devices d = {0};
  char err[256];

  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    assert_true(sc_devices_parse(&d, bad[i], err, sizeof err) < 0);
    assert_non_null(strstr(err, bad[i]));
  }
  assert_int_equal(d.count, 0);
}

static json_t *sample_task(const char *extra)
{
  char text[2048];
  json_t *j;

  snprintf(text, sizeof text,
           "{\"task_id\": \"j-000001.%s\", \"job_id\": \"j-000001\", \"index\": 1,"
           " \"count\": 4, \"argv\": [\"python\", \"train.py\"], \"env\": {\"FOO\": \"bar\","
           " \"PATH\": \"/opt/bin\"}, \"devices\": [2, 3], \"vendor\": \"nvidia\","
           " \"gpu_milli\": 1000, \"cpu_milli\": 2000, \"memory_mib\": 1024,"
           " \"grace_s\": 3, \"master_addr\": \"10.0.0.1\", \"master_port\": 29500%s}",
           "1", extra);
  j = json_loads(text, 0, NULL);
  assert_non_null(j);
  return j;
}

static void test_task_spec(void **state)
{
  struct sc_task_spec s;
  char err[256];
  json_t *j = sample_task("");

  (void)state;
  assert_int_equal(sc_task_spec_from_json(&s, j, err, sizeof err), 0);
  assert_string_equal(s.task_id, "j-000001.1");
  assert_int_equal(s.count, 4);
  assert_string_equal(s.argv[1], "train.py");
  assert_null(s.argv[2]);
  assert_int_equal(s.ndevices, 2);
  assert_int_equal(s.grace_s, 3);
  assert_int_equal(s.local_rank, -1);
  sc_task_spec_release(&s);
  json_decref(j);
  j = json_pack("{s:s, s:s, s:[]}", "task_id", "x", "job_id", "j", "argv");
  assert_int_equal(sc_task_spec_from_json(&s, j, err, sizeof err), SC_EPARSE);
  assert_non_null(strstr(err, "argv"));
  json_decref(j);
  j = json_pack("{s:s, s:s, s:s}", "task_id", "../x", "job_id", "j", "shell", "true");
  assert_int_equal(sc_task_spec_from_json(&s, j, err, sizeof err), SC_EPARSE);
  assert_non_null(strstr(err, "task_id"));
  json_decref(j);
}

static void test_env_gang_nvidia(void **state)
{
  struct sc_devices d = {0};
  struct sc_task_spec s;
  char err[256], **env;
  char *base[] = {"HOME=/root", "PATH=/usr/bin", "CUDA_VISIBLE_DEVICES=0,1,2,3", NULL};
  json_t *j = sample_task(", \"local_rank\": 1");

  (void)state;
  sc_devices_parse(&d, "nvidia:A100:8", err, sizeof err);
  assert_int_equal(sc_task_spec_from_json(&s, j, err, sizeof err), 0);
  assert_int_equal(sc_task_env_build(&s, &d, base, &env), 0);
  assert_string_equal(sc_task_env_get(env, "HOME"), "/root");
  assert_string_equal(sc_task_env_get(env, "PATH"), "/opt/bin");
  assert_string_equal(sc_task_env_get(env, "FOO"), "bar");
  assert_string_equal(sc_task_env_get(env, "CUDA_VISIBLE_DEVICES"), "2,3");
  assert_string_equal(sc_task_env_get(env, "RANK"), "1");
  assert_string_equal(sc_task_env_get(env, "WORLD_SIZE"), "4");
  assert_string_equal(sc_task_env_get(env, "LOCAL_RANK"), "1");
  assert_string_equal(sc_task_env_get(env, "MASTER_ADDR"), "10.0.0.1");
  assert_string_equal(sc_task_env_get(env, "MASTER_PORT"), "29500");
  assert_string_equal(sc_task_env_get(env, "SUPERCELL_JOB_ID"), "j-000001");
  assert_string_equal(sc_task_env_get(env, "SUPERCELL_TASK_INDEX"), "1");
  assert_string_equal(sc_task_env_get(env, "SUPERCELL_TASK_COUNT"), "4");
  assert_null(sc_task_env_get(env, "SUPERCELL_GPU_MILLI"));
  sc_task_env_free(env);
  sc_task_spec_release(&s);
  json_decref(j);
}

/* Builds the env of a one-task job on vendor with devices and gpu_milli. */
static char **env_for(const struct sc_devices *d, const char *vendor, const char *devices,
                      int milli)
{
  char text[512], err[256], **env;
  struct sc_task_spec s;
  json_t *j;

  snprintf(text, sizeof text,
           "{\"task_id\": \"t\", \"job_id\": \"j\", \"shell\": \"true\", \"devices\": %s,"
           " \"vendor\": %s%s%s, \"gpu_milli\": %d}", devices, vendor ? "\"" : "",
           vendor ? vendor : "null", vendor ? "\"" : "", milli);
  j = json_loads(text, 0, NULL);
  assert_non_null(j);
  assert_int_equal(sc_task_spec_from_json(&s, j, err, sizeof err), 0);
  assert_int_equal(sc_task_env_build(&s, d, NULL, &env), 0);
  assert_null(sc_task_env_get(env, "RANK"));
  assert_null(sc_task_env_get(env, "WORLD_SIZE"));
  sc_task_spec_release(&s);
  json_decref(j);
  return env;
}

static void test_env_vendors(void **state)
{
  struct sc_devices d = {0};
  char err[256], **env;

  (void)state;
  sc_devices_parse(&d, "ascend:910B:4", err, sizeof err);
  sc_devices_parse(&d, "amd:MI300X:4", err, sizeof err);
  sc_devices_parse(&d, "cambricon:MLU370:2", err, sizeof err);
  sc_devices_parse(&d, "acme-ai:X1:2", err, sizeof err);
  env = env_for(&d, "ascend", "[1, 3]", 1000);
  assert_string_equal(sc_task_env_get(env, "ASCEND_RT_VISIBLE_DEVICES"), "1,3");
  assert_string_equal(sc_task_env_get(env, "HIP_VISIBLE_DEVICES"), "");
  assert_string_equal(sc_task_env_get(env, "CUDA_VISIBLE_DEVICES"), "");
  sc_task_env_free(env);
  env = env_for(&d, "amd", "[5, 6]", 1000); /* node indices 5, 6 = amd 1, 2 */
  assert_string_equal(sc_task_env_get(env, "HIP_VISIBLE_DEVICES"), "1,2");
  assert_string_equal(sc_task_env_get(env, "ROCR_VISIBLE_DEVICES"), "1,2");
  assert_string_equal(sc_task_env_get(env, "ASCEND_RT_VISIBLE_DEVICES"), "");
  sc_task_env_free(env);
  env = env_for(&d, "cambricon", "[9]", 250);
  assert_string_equal(sc_task_env_get(env, "MLU_VISIBLE_DEVICES"), "1");
  assert_string_equal(sc_task_env_get(env, "SUPERCELL_GPU_MILLI"), "250");
  sc_task_env_free(env);
  env = env_for(&d, "acme-ai", "[11]", 1000);
  assert_string_equal(sc_task_env_get(env, "ACME_AI_VISIBLE_DEVICES"), "1");
  sc_task_env_free(env);
  env = env_for(&d, NULL, "[]", 0); /* CPU-only: every variable empty */
  assert_string_equal(sc_task_env_get(env, "CUDA_VISIBLE_DEVICES"), "");
  assert_string_equal(sc_task_env_get(env, "ASCEND_RT_VISIBLE_DEVICES"), "");
  assert_string_equal(sc_task_env_get(env, "MLU_VISIBLE_DEVICES"), "");
  assert_null(sc_task_env_get(env, "SUPERCELL_GPU_MILLI"));
  sc_task_env_free(env);
}

/* A node of two vendors: each vendor's variable lists only its devices,
 * by their index among that vendor's, each once, whatever the controller
 * sends (it used to send one vendor for a task holding both). */
static void test_env_two_vendors(void **state)
{
  struct sc_devices d = {0};
  char err[256], **env;

  (void)state;
  /* Node indexes: 0 A100 (nvidia 0), 1-2 MI300X (amd 0, 1). */
  sc_devices_parse(&d, "nvidia:A100:1", err, sizeof err);
  sc_devices_parse(&d, "amd:MI300X:2", err, sizeof err);
  env = env_for(&d, "amd", "[1, 2]", 1000);
  assert_string_equal(sc_task_env_get(env, "HIP_VISIBLE_DEVICES"), "0,1");
  assert_string_equal(sc_task_env_get(env, "ROCR_VISIBLE_DEVICES"), "0,1");
  assert_string_equal(sc_task_env_get(env, "CUDA_VISIBLE_DEVICES"), "");
  sc_task_env_free(env);
  /* The old defect's assignment: devices 0, 1, 2 said to be nvidia gave
   * CUDA_VISIBLE_DEVICES=0,0,1 and HIP_VISIBLE_DEVICES empty. */
  env = env_for(&d, "nvidia", "[0, 1, 2]", 1000);
  assert_string_equal(sc_task_env_get(env, "CUDA_VISIBLE_DEVICES"), "0");
  assert_string_equal(sc_task_env_get(env, "HIP_VISIBLE_DEVICES"), "0,1");
  sc_task_env_free(env);
  /* Two shares of one device: the index once. */
  env = env_for(&d, "amd", "[2, 2]", 500);
  assert_string_equal(sc_task_env_get(env, "HIP_VISIBLE_DEVICES"), "1");
  assert_string_equal(sc_task_env_get(env, "SUPERCELL_GPU_MILLI"), "500");
  sc_task_env_free(env);
}

static void test_utf8_clean(void **state)
{
  char a[] = "ok \xc3\xa9 \xff end";
  char b[] = "tail \xe2\x82";
  char c[] = "nul\0x";

  (void)state;
  assert_int_equal(sc_agent_utf8_clean(a, strlen(a), false), strlen(a));
  assert_string_equal(a, "ok \xc3\xa9 ? end");
  assert_int_equal(sc_agent_utf8_clean(b, strlen(b), false), 5);
  assert_int_equal(sc_agent_utf8_clean(b, strlen(b), true), 7);
  assert_string_equal(b, "tail ??");
  assert_int_equal(sc_agent_utf8_clean(c, 5, true), 5);
  assert_memory_equal(c, "nul?x", 5);
}

/* ---- real processes ---- */

static char tmp_root[256];

static int setup_tmp(void **state)
{
  (void)state;
  snprintf(tmp_root, sizeof tmp_root, "/tmp/sc-test-agent-XXXXXX");
  return mkdtemp(tmp_root) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
  char cmd[300];

  (void)state;
  while (waitpid(-1, NULL, WNOHANG) > 0)
    ;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
  return system(cmd) == 0 ? 0 : -1;
}

/* Creates and starts a shell task; its env gets the node's devices. */
static struct sc_task *start_shell(const char *id, const char *script, int grace)
{
  struct sc_devices d = {0};
  struct sc_task_spec spec;
  struct sc_task_launch how = {0};
  struct sc_task *t;
  char err[256], **env;
  json_t *j = json_pack("{s:s, s:s, s:s, s:[i], s:s, s:i, s:i, s:i}", "task_id", id,
                        "job_id", "j-1", "shell", script, "devices", 1, "vendor", "nvidia",
                        "grace_s", grace, "index", 2, "count", 3);
  char *base[] = {"PATH=/usr/bin:/bin", NULL}, *text;

  sc_devices_parse(&d, "nvidia:T4:2", err, sizeof err);
  assert_int_equal(sc_task_spec_from_json(&spec, j, err, sizeof err), 0);
  assert_int_equal(sc_task_env_build(&spec, &d, base, &env), 0);
  text = json_dumps(j, JSON_COMPACT);
  assert_int_equal(sc_task_new(tmp_root, &spec, text, &t), 0);
  free(text);
  json_decref(j);
  how.envp = env;
  assert_int_equal(sc_task_start(t, &how), 0);
  sc_task_env_free(env);
  assert_true(t->pid > 0);
  return t;
}

/* Polls until the task exits; fails after timeout_ms. */
static void wait_exit(struct sc_task *t, int timeout_ms)
{
  int64_t end = sc_clock_mono_ms() + timeout_ms;

  while (!sc_task_poll(t, sc_clock_mono_ms())) {
    assert_true(sc_clock_mono_ms() < end);
    sc_task_tick_kill(t, sc_clock_mono_ms());
    usleep(10000);
  }
}

static char *read_log(struct sc_task *t)
{
  char path[4300], *buf = calloc(1, 65536);
  FILE *f = fopen(sc_task_path(t, "log", path, sizeof path), "r");

  assert_non_null(f);
  fread(buf, 1, 65535, f);
  fclose(f);
  return buf;
}

static void test_task_exit_code_and_log(void **state)
{
  struct sc_task *t = start_shell("t-exit", "echo out $CUDA_VISIBLE_DEVICES $RANK/$WORLD_SIZE;"
                                            " echo err >&2; exit 3", 10);
  char *log;

  (void)state;
  wait_exit(t, 5000);
  assert_int_equal(t->exit_code, 3);
  assert_int_equal(t->signal, 0);
  log = read_log(t);
  assert_string_equal(log, "out 1 2/3\nerr\n");
  free(log);
  sc_task_free(t);
}

static void test_task_exec_failure(void **state)
{
  struct sc_task_spec spec;
  struct sc_task_launch how = {0};
  struct sc_task *t;
  char err[256], *log, *env[] = {"PATH=/nonexistent", NULL};
  json_t *j = json_pack("{s:s, s:s, s:[s]}", "task_id", "t-noexec", "job_id", "j",
                        "argv", "no-such-program-xyz");

  (void)state;
  assert_int_equal(sc_task_spec_from_json(&spec, j, err, sizeof err), 0);
  assert_int_equal(sc_task_new(tmp_root, &spec, "{}", &t), 0);
  json_decref(j);
  how.envp = env;
  assert_int_equal(sc_task_start(t, &how), 0);
  wait_exit(t, 5000);
  assert_int_equal(t->exit_code, 127);
  log = read_log(t);
  assert_non_null(strstr(log, "cannot execute 'no-such-program-xyz'"));
  free(log);
  sc_task_free(t);
}

static void test_task_terminate_group(void **state)
{
  struct sc_task *t = start_shell("t-term", "sleep 100 & sleep 100; wait", 10);
  int64_t start;
  pid_t pgid;

  (void)state;
  usleep(100000);
  pgid = t->pid;
  assert_int_equal(getpgid(t->pid), pgid);
  assert_int_not_equal(getsid(t->pid), getsid(0)); /* own session: survives the agent */
  start = sc_clock_mono_ms();
  sc_task_terminate(t, start, -1);
  wait_exit(t, 5000);
  assert_true(sc_clock_mono_ms() - start < 2000);
  assert_int_equal(t->signal, SIGTERM);
  /* Orphaned members are reaped by init: give it a moment. */
  for (int i = 0; i < 200 && kill(-pgid, 0) == 0; i++)
    usleep(10000);
  assert_int_equal(kill(-pgid, 0), -1); /* the whole group is gone */
  assert_int_equal(errno, ESRCH);
  sc_task_free(t);
}

static void test_task_kill_after_grace(void **state)
{
  struct sc_task *t = start_shell("t-stubborn", "trap '' TERM; echo ready; while :; do sleep 0.05; done", 1);
  int64_t start;
  char *log;

  (void)state;
  for (int i = 0; i < 100; i++) { /* wait until the trap is set */
    log = read_log(t);
    int ready = strstr(log, "ready") != NULL;
    free(log);
    if (ready)
      break;
    usleep(20000);
  }
  start = sc_clock_mono_ms();
  sc_task_terminate(t, start, -1);
  wait_exit(t, 5000);
  assert_true(sc_clock_mono_ms() - start >= 900);
  assert_int_equal(t->signal, SIGKILL);
  sc_task_free(t);
}

static void test_task_adoption(void **state)
{
  struct sc_task *t = start_shell("t-adopt", "sleep 0.5; exit 7", 10), *again;
  char dir[4200];
  pid_t pid = t->pid;

  (void)state;
  snprintf(dir, sizeof dir, "%s", t->dir);
  sc_task_free(t); /* the agent "restarts": nothing kept in memory */
  assert_int_equal(sc_task_load(dir, &again), 0);
  assert_string_equal(again->spec.task_id, "t-adopt");
  assert_int_equal(again->pid, pid);
  assert_false(again->child);
  assert_true(sc_task_alive(again));
  assert_false(again->exited);
  wait_exit(again, 5000);
  assert_int_equal(again->exit_code, 7);
  sc_task_mark_shipped(again, 0);
  sc_task_mark_reported(again);
  sc_task_free(again);
  assert_int_equal(sc_task_load(dir, &again), 0); /* a later restart: already reported */
  assert_true(again->exited);
  assert_true(again->exit_sent);
  assert_int_equal(again->exit_code, 7);
  sc_task_free(again);
}

static void test_task_survives_supervisor_parent(void **state)
{
  /* The exit code is recorded by the supervisor even when nobody polls. */
  struct sc_task *t = start_shell("t-alone", "exit 5", 10), *again;
  char dir[4200];

  (void)state;
  snprintf(dir, sizeof dir, "%s", t->dir);
  sc_task_free(t);
  usleep(300000);
  assert_int_equal(sc_task_load(dir, &again), 0);
  assert_true(again->exited);
  assert_int_equal(again->exit_code, 5);
  sc_task_free(again);
}

/* A thread that waits until its pipe closes: the test process is
 * multi-threaded when it forks, as the agent is. */
static void *idle_thread(void *arg)
{
  char c;

  while (read(*(int *)arg, &c, 1) < 0 && errno == EINTR)
    ;
  return NULL;
}

/* A task in its namespaces traps SIGUSR1: the signal sent to it (to its
 * init, which forwards it) reaches the task, which exits on its own before
 * the SIGKILL. Forked from a multi-threaded process, as by the agent: under
 * ThreadSanitizer a signal handler in init never ran there. */
static void test_task_signal_in_sandbox(void **state)
{
  struct sc_task_spec spec;
  struct sc_task_launch how = {0};
  struct sc_sandbox sb;
  struct sc_task *t;
  char err[256], wd[300], root[4300], path[400], *env[] = {"PATH=/usr/bin:/bin", NULL};
  int fds[2];
  pthread_t thread;
  int64_t start;
  json_t *j;

  (void)state;
  if (geteuid() != 0)
    skip(); /* namespaces need root here (the agent uses a user namespace) */
  snprintf(wd, sizeof wd, "%s/wd", tmp_root);
  assert_int_equal(mkdir(wd, 0755), 0);
  j = json_pack("{s:s, s:s, s:s, s:s, s:i}", "task_id", "t-usr1", "job_id", "j-1", "workdir", wd,
                "shell",
                "trap 'echo caught >caught; exit 0' USR1; echo ready >ready;"
                " while :; do sleep 0.05; done",
                "grace_s", 10);
  assert_int_equal(sc_task_spec_from_json(&spec, j, err, sizeof err), 0);
  json_decref(j);
  assert_int_equal(sc_task_new(tmp_root, &spec, "{}", &t), 0);
  snprintf(root, sizeof root, "%s/root", t->dir);
  assert_int_equal(mkdir(root, 0755), 0);
  sc_sandbox_prepare(&sb, root, NULL, 0, wd, NULL, 0, NULL, NULL, 0);
  assert_int_equal(pipe(fds), 0);
  assert_int_equal(pthread_create(&thread, NULL, idle_thread, &fds[0]), 0);
  how.envp = env;
  how.sandbox = &sb;
  assert_int_equal(sc_task_start(t, &how), 0);
  snprintf(path, sizeof path, "%s/ready", wd);
  for (int i = 0; i < 500 && access(path, F_OK) != 0; i++)
    usleep(10000);
  assert_int_equal(access(path, F_OK), 0);
  start = sc_clock_mono_ms();
  sc_task_signal_kill(t, start, SIGUSR1, 5000);
  wait_exit(t, 8000);
  close(fds[1]);
  pthread_join(thread, NULL);
  close(fds[0]);
  assert_int_equal(t->signal, 0); /* not the SIGKILL after the grace */
  assert_int_equal(t->exit_code, 0);
  assert_true(sc_clock_mono_ms() - start < 4000);
  snprintf(path, sizeof path, "%s/caught", wd);
  assert_int_equal(access(path, F_OK), 0);
  sc_task_free(t);
}

static json_t *gang_start(const char *id, int index, int attempt, const char *script)
{
  return json_pack("{s:s, s:s, s:i, s:i, s:i, s:s, s:[i], s:s, s:i, s:s, s:i}", "task_id", id,
                   "job_id", "j-9", "index", index, "count", 2, "attempt", attempt, "shell",
                   script, "devices", index, "vendor", "nvidia", "grace_s", 5, "tenant", "t",
                   "tenant_id", 1);
}

static int count_tasks(struct sc_agent *a)
{
  int n = 0;

  for (struct sc_task *t = a->tasks.head; t; t = t->next)
    n++;
  return n;
}

static struct sc_task *agent_task(struct sc_agent *a, const char *id, int attempt)
{
  for (struct sc_task *t = a->tasks.head; t; t = t->next)
    if (strcmp(t->spec.task_id, id) == 0 && t->spec.attempt == attempt)
      return t;
  fail_msg("task %s attempt %d not found", id, attempt);
  return NULL;
}

static void init_agent(struct sc_agent **a, const char *dir, struct sc_agent_config *cfg)
{
  char err[256];

  memset(cfg, 0, sizeof *cfg);
  cfg->server = "http://127.0.0.1:1";
  cfg->token = "t";
  cfg->name = "node-t";
  cfg->state_dir = dir;
  cfg->cgroup_root = "";
  cfg->cpu_milli = 1000;
  cfg->memory_mib = 1024;
  sc_devices_parse(&cfg->devices, "nvidia:T4:2", err, sizeof err);
  assert_int_equal(sc_agent_new(cfg, a, err, sizeof err), 0);
}

/* Applies a reply {"start": start, "kill": kill} (both borrowed, may be NULL). */
static void apply(struct sc_agent *a, json_t *start, json_t *kill)
{
  json_t *reply = json_object();
  struct sc_client_assignments as;

  if (start)
    json_object_set(reply, "start", start);
  if (kill)
    json_object_set(reply, "kill", kill);
  sc_client_assignments_decode(reply, &as);
  sc_agent_apply(a, &as);
  sc_client_assignments_release(&as);
  json_decref(reply);
}

/* Starts, duplicate deliveries, kill-then-start of a new attempt in one
 * reply, and adoption of all of it by a second agent on the same dir. */
static void test_agent_apply_and_adopt(void **state)
{
  struct sc_agent *a, *b;
  struct sc_agent_config cfg, cfg_b;
  char dir[300], err[256], *log;
  const char *script = "echo rank $RANK local $LOCAL_RANK cuda $CUDA_VISIBLE_DEVICES; sleep 0.5";
  json_t *start = json_pack("[o, o]", gang_start("j-9.0", 0, 0, script),
                            gang_start("j-9.1", 1, 0, "sleep 30"));
  json_t *again = json_pack("[o]", gang_start("j-9.1", 1, 1, script));
  json_t *kill = json_pack("[s]", "j-9.1");
  int64_t end;

  (void)state;
  snprintf(dir, sizeof dir, "%s/agent-state", tmp_root);
  init_agent(&a, dir, &cfg);
  assert_int_not_equal(sc_agent_new(&cfg, &b, err, sizeof err), 0); /* locked */
  assert_non_null(strstr(err, "in use"));
  assert_null(b);
  apply(a, start, NULL);
  assert_int_equal(count_tasks(a), 2);
  apply(a, start, NULL); /* delivered twice: started once */
  assert_int_equal(count_tasks(a), 2);
  apply(a, again, kill); /* attempt 0 of j-9.1 killed, attempt 1 started */
  assert_int_equal(count_tasks(a), 3);
  assert_true(agent_task(a, "j-9.1", 0)->kill_at_ms > 0);
  assert_int_equal(agent_task(a, "j-9.1", 1)->kill_at_ms, 0);
  sc_agent_free(a); /* the agent dies; its tasks do not */
  init_agent(&b, dir, &cfg_b);
  assert_int_equal(count_tasks(b), 3);
  end = sc_clock_mono_ms() + 5000;
  for (;;) {
    bool all = true;
    sc_agent_poll_tasks(b);
    for (struct sc_task *t = b->tasks.head; t; t = t->next)
      all = all && t->exited;
    if (all)
      break;
    assert_true(sc_clock_mono_ms() < end);
    usleep(20000);
  }
  assert_int_equal(agent_task(b, "j-9.0", 0)->exit_code, 0);
  assert_int_equal(agent_task(b, "j-9.1", 0)->signal, SIGTERM);
  assert_int_equal(agent_task(b, "j-9.1", 1)->exit_code, 0);
  log = read_log(agent_task(b, "j-9.0", 0));
  assert_string_equal(log, "rank 0 local 0 cuda 0\n");
  free(log);
  log = read_log(agent_task(b, "j-9.1", 1));
  assert_string_equal(log, "rank 1 local 1 cuda 1\n"); /* j-9.0 runs here too */
  free(log);
  sc_agent_free(b);
  json_decref(start);
  json_decref(again);
  json_decref(kill);
}

/* NVML discovery against a stand-in libnvidia-ml built here (skipped when
 * no C compiler is at hand). */
static void test_nvml_discovery(void **state)
{
  static const char src[] =
    "#include <string.h>\n"
    "struct mem { unsigned long long total, free, used; };\n"
    "int nvmlInit_v2(void) { return 0; }\n"
    "int nvmlShutdown(void) { return 0; }\n"
    "int nvmlDeviceGetCount_v2(unsigned int *n) { *n = 2; return 0; }\n"
    "int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **h) { *h = (void *)(long)(i + 1); return 0; }\n"
    "int nvmlDeviceGetName(void *h, char *b, unsigned int n) { (void)h; strncpy(b, \"NVIDIA H200 NVL\", n); return 0; }\n"
    "int nvmlDeviceGetMemoryInfo(void *h, struct mem *m) { m->total = (unsigned long long)(long)h * 1024 * 1048576ULL; return 0; }\n";
  struct sc_devices d = {0};
  char c_path[300], so_path[300], cmd[800];
  FILE *f;

  (void)state;
  snprintf(c_path, sizeof c_path, "%s/fake_nvml.c", tmp_root);
  snprintf(so_path, sizeof so_path, "%s/libnvidia-ml.so.1", tmp_root);
  f = fopen(c_path, "w");
  assert_non_null(f);
  fputs(src, f);
  fclose(f);
  snprintf(cmd, sizeof cmd, "cc -shared -fPIC -o '%s' '%s' 2>/dev/null", so_path, c_path);
  if (system(cmd) != 0)
    skip();
  assert_int_equal(sc_devices_discover_nvml_lib(&d, so_path), 2);
  assert_int_equal(d.count, 2);
  assert_string_equal(d.dev[0].vendor, "nvidia");
  assert_string_equal(d.dev[0].model, "H200-NVL");
  assert_int_equal(d.dev[0].memory_mib, 1024);
  assert_int_equal(d.dev[1].memory_mib, 2048);
  assert_int_equal(d.dev[1].index, 1);
  assert_int_equal(sc_devices_discover_nvml_lib(&d, "/nonexistent/libnvidia-ml.so.1"), 0);
  assert_int_equal(d.count, 2);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_devices_parse),
    cmocka_unit_test(test_devices_parse_errors),
    cmocka_unit_test(test_task_spec),
    cmocka_unit_test(test_env_gang_nvidia),
    cmocka_unit_test(test_env_vendors),
    cmocka_unit_test(test_env_two_vendors),
    cmocka_unit_test(test_utf8_clean),
    cmocka_unit_test(test_task_exit_code_and_log),
    cmocka_unit_test(test_task_exec_failure),
    cmocka_unit_test(test_task_terminate_group),
    cmocka_unit_test(test_task_kill_after_grace),
    cmocka_unit_test(test_task_adoption),
    cmocka_unit_test(test_task_survives_supervisor_parent),
    cmocka_unit_test(test_task_signal_in_sandbox),
    cmocka_unit_test(test_agent_apply_and_adopt),
    cmocka_unit_test(test_nvml_discovery),
  };
  return SC_RUN_TESTS(argc, argv, tests, setup_tmp, teardown_tmp);
}
