/*
 * Submission-to-start latency on an idle cluster: a real `supercell server`
 * and one `supercell agent` (declared devices, long-polling its
 * assignments) on 127.0.0.1. Jobs are submitted one at a time; each task
 * runs `date +%s%N > DIR/$SUPERCELL_JOB_ID`, so the task itself records
 * when it started (CLOCK_REALTIME, same machine as the client). Reported:
 * 201 -> task start, POST sent -> task start, and the server's own
 * created_at -> started_at (the agent's "running" report, ms precision).
 * The next job is submitted once the previous one has succeeded.
 * Usage: bench_latency [--supercell PATH] [--jobs 200] [--warmup 5]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "harness.h"

struct sample {
  double ack_to_start, send_to_start, server_created_to_started, send_to_ack;
  double send_to_done, end_to_recorded;
};

/* "2026-11-29T10:00:00.123Z" -> Unix ms (0 when absent or null). */
static int64_t iso_ms(const char *json, const char *key)
{
  char text[40], *rest;
  struct tm tm;

  if (!bh_json_str(json, key, text, sizeof text))
    return 0;
  memset(&tm, 0, sizeof tm);
  rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest)
    return 0;
  return (int64_t)timegm(&tm) * 1000 + (*rest == '.' ? atoi(rest + 1) : 0);
}

static bool node_ready(CURL *h, const char *base, struct bh_buf *out)
{
  char url[256];

  snprintf(url, sizeof url, "%s/v1/nodes", base);
  return bh_curl_call(h, url, NULL, out) == 200 && strstr(out->data, "\"state\":\"ready\"");
}

/* Waits for path to hold a timestamp; returns it (ns) or 0 on timeout. */
static int64_t wait_stamp(const char *path, int timeout_ms)
{
  int64_t deadline = bh_mono_ns() + (int64_t)timeout_ms * 1000000;
  struct timespec pause = {0, 200000};

  while (bh_mono_ns() < deadline) {
    char *text = bh_read_file(path);
    int64_t v = text && *text ? strtoll(text, NULL, 10) : 0;
    free(text);
    if (v > 0)
      return v;
    nanosleep(&pause, NULL);
  }
  return 0;
}

/* Polls GET /v1/jobs/{id} until the job ended; the last body stays in out. */
static bool wait_done(CURL *h, const char *base, const char *id, struct bh_buf *out)
{
  int64_t deadline = bh_mono_ns() + 10 * (int64_t)1000000000;
  char url[256];

  snprintf(url, sizeof url, "%s/v1/jobs/%s", base, id);
  while (bh_mono_ns() < deadline) {
    if (bh_curl_call(h, url, NULL, out) == 200 &&
        (strstr(out->data, "\"state\":\"succeeded\"") || strstr(out->data, "\"state\":\"failed\"")))
      return strstr(out->data, "\"state\":\"succeeded\"") != NULL;
    bh_sleep_ms(1);
  }
  return false;
}

static void report(const char *what, double *v, size_t n)
{
  printf("%-34s p50 %7.2f ms   p99 %7.2f ms   max %7.2f ms\n", what, bh_quantile(v, n, 0.5),
         bh_quantile(v, n, 0.99), bh_quantile(v, n, 1.0));
}

int main(int argc, char **argv)
{
  const char *sc = NULL;
  int njobs = 200, warmup = 5, n = 0, failed = 0;
  bool plain = false;
  const char *image = NULL;
  char image_field[1200] = "";
  char cgroot[64];
  struct bh_server srv = {0};
  struct curl_slist *headers = NULL;
  struct bh_buf out = {0};
  char *tmp, state[600], agent_dir[600], agent_log[600], stamps[600], token_file[700], url[256];
  pid_t agent = 0;
  struct sample *s;
  double *col;
  CURL *h;

  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--supercell") == 0 && v)
      sc = v, i++;
    else if (strcmp(argv[i], "--jobs") == 0 && v)
      njobs = atoi(v), i++;
    else if (strcmp(argv[i], "--warmup") == 0 && v)
      warmup = atoi(v), i++;
    else if (strcmp(argv[i], "--plain") == 0)
      plain = true;
    else if (strcmp(argv[i], "--image") == 0 && v)
      image = v, i++;
    else {
      fprintf(stderr, "usage: bench_latency [--supercell PATH] [--jobs N] [--warmup N] [--plain]\n"
                      "                     [--image REF]\n"
                      "  --plain      tasks without namespaces or cgroups\n"
                      "  --image REF  tasks in containers of an OCI image with `date`\n"
                      "               (unpacked by the warm-up: a warm cache)\n");
      return 2;
    }
  }
  if (njobs < 1 || warmup < 0 || (image && strlen(image) > 1000))
    return 2;
  if (image)
    snprintf(image_field, sizeof image_field, ",\"image\":\"%s\"", image);
  if (image && warmup < 1)
    warmup = 1; /* the warm-up unpacks the image: the figures are a warm cache's */
  sc = bh_supercell_path(sc);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  tmp = bh_tmpdir("latency");
  snprintf(state, sizeof state, "%s/state", tmp);
  snprintf(agent_dir, sizeof agent_dir, "%s/agent", tmp);
  snprintf(agent_log, sizeof agent_log, "%s/agent.log", tmp);
  snprintf(stamps, sizeof stamps, "%s/stamps", tmp);
  snprintf(token_file, sizeof token_file, "%s/agent.token", state);
  if (bh_server_start(&srv, sc, state, NULL, 10000) < 0)
    goto fail;
  {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", stamps);
    if (system(cmd) != 0)
      goto fail;
  }
  {
    /* Full isolation (as root: namespaces, cgroups in a subtree of its own,
     * the tenant's uid) or none. The stamps dir is shared into the tasks
     * and writable by their uid. */
    const char *args[] = {"agent", "--server", srv.url, "--token-file", token_file, "--name",
                          "bench-node", "--devices", "nvidia:A100-80G:8", "--cpu", "16000",
                          "--memory", "16Gi", "--state-dir", agent_dir, "--share", stamps,
                          "--log-level", "warn", "--cgroup-root", cgroot, NULL, NULL, NULL};
    snprintf(cgroot, sizeof cgroot, "supercell-bench-%d", (int)getpid());
    if (plain) { /* in place of --cgroup-root ROOT */
      args[19] = "--no-cgroups";
      args[20] = "--isolation";
      args[21] = "none";
    }
    chmod(stamps, 01777);
    chmod(tmp, 0711);
    agent = bh_spawn(sc, args, agent_log);
  }
  h = bh_curl_new(srv.token, &headers, &out);
  for (int i = 0; i < 1000 && !node_ready(h, srv.url, &out); i++)
    bh_sleep_ms(10);
  if (!node_ready(h, srv.url, &out)) {
    fprintf(stderr, "bench_latency: the agent did not register (see %s)\n", agent_log);
    goto fail;
  }
  printf("== Submission to task start (%s), idle cluster: 1 agent (8 x nvidia:A100-80G, long-poll),"
         " %d jobs one at a time (+%d warm-up) ==\n",
         image ? "image tasks, warm cache: crun, namespaces, cgroups, the tenant's uid"
         : plain ? "plain tasks: no namespaces or cgroups; as root still the uid switch"
               : getuid() == 0 ? "isolated: namespaces, cgroups, the tenant's uid"
                               : "not root: the agent's user, no namespaces",
         njobs, warmup);
  s = calloc((size_t)njobs, sizeof *s);
  col = calloc((size_t)njobs, sizeof *col);
  snprintf(url, sizeof url, "%s/v1/jobs", srv.url);
  for (int i = 0; i < njobs + warmup; i++) {
    char body[2400], id[32], path[700];
    int64_t t_send, t_ack, t_start, t_done, created, started, finished;
    long status;
    snprintf(body, sizeof body,
             "{\"name\":\"lat-%d\",\"command\":\"/usr/bin/date +%%s%%N > %s/$SUPERCELL_JOB_ID\","
             "\"resources\":{\"cpu_milli\":100,\"memory\":\"16Mi\"}%s}",
             i, stamps, image_field);
    t_send = bh_real_ns();
    status = bh_curl_call(h, url, body, &out);
    t_ack = bh_real_ns();
    if (status != 201 || !bh_json_str(out.data, "id", id, sizeof id)) {
      fprintf(stderr, "bench_latency: submit got HTTP %ld: %s\n", status, out.data ? out.data : "");
      goto fail;
    }
    snprintf(path, sizeof path, "%s/%s", stamps, id);
    t_start = wait_stamp(path, 10000);
    if (!t_start || !wait_done(h, srv.url, id, &out)) {
      fprintf(stderr, "bench_latency: job %s did not run (see %s)\n", id, agent_log);
      failed++;
      if (failed > 3)
        goto fail;
      continue;
    }
    t_done = bh_real_ns();
    created = iso_ms(out.data, "created_at");
    started = iso_ms(out.data, "started_at");
    finished = iso_ms(out.data, "finished_at");
    if (i < warmup)
      continue;
    s[n].send_to_ack = (double)(t_ack - t_send) / 1e6;
    s[n].ack_to_start = (double)(t_start - t_ack) / 1e6;
    s[n].send_to_start = (double)(t_start - t_send) / 1e6;
    s[n].server_created_to_started = created && started ? (double)(started - created) : -1;
    s[n].send_to_done = (double)(t_done - t_send) / 1e6;
    /* The task's only command is the stamp: it ends right after it. */
    s[n].end_to_recorded = finished ? (double)finished - (double)t_start / 1e6 : -1;
    n++;
    if (bh_tty() && (n % 10 == 0 || n == njobs)) {
      printf("\r  %d/%d jobs", n, njobs);
      fflush(stdout);
    }
  }
  if (bh_tty())
    printf("\n");
#define COLUMN(field, label)                                                                     \
  do {                                                                                           \
    size_t m = 0;                                                                                \
    for (int i = 0; i < n; i++)                                                                  \
      if (s[i].field >= 0)                                                                       \
        col[m++] = s[i].field;                                                                   \
    report(label, col, m);                                                                       \
  } while (0)
  COLUMN(send_to_ack, "POST sent -> 201 (durable):");
  COLUMN(ack_to_start, "201 -> task started:");
  COLUMN(send_to_start, "POST sent -> task started:");
  COLUMN(server_created_to_started, "server created_at -> started_at:");
  COLUMN(end_to_recorded, "task end -> exit recorded:");
  COLUMN(send_to_done, "POST sent -> succeeded seen:");
  printf("(%d samples; task start = `date +%%s%%N` inside the task, its last command; exit\n"
         " recorded = the controller's finished_at, a ms clock; succeeded seen = a GET every\n"
         " 1 ms; targets: start p99 < 50 ms, exit recorded p99 < 20 ms, succeeded p99 < 50 ms)\n",
         n);
  curl_easy_cleanup(h);
  curl_slist_free_all(headers);
  bh_buf_free(&out);
  bh_kill_wait(agent, SIGTERM, 10000);
  bh_server_kill(&srv, SIGTERM, 10000);
  bh_rm_rf(tmp);
  {
    char cmd[256]; /* the agent's cgroup subtree, empty once its tasks ended */
    snprintf(cmd, sizeof cmd,
             "find /sys/fs/cgroup/*/%s /sys/fs/cgroup/%s -depth -type d -exec rmdir {} + "
             "2>/dev/null",
             cgroot, cgroot);
    if (system(cmd) < 0)
      perror("rmdir");
  }
  return failed ? 1 : 0;
fail:
  if (agent > 0)
    bh_kill_wait(agent, SIGKILL, 1000);
  if (srv.pid > 0)
    bh_server_kill(&srv, SIGKILL, 1000);
  {
    char *log = bh_read_file(agent_log);
    fprintf(stderr, "agent log:\n%s\n", log ? log : "(none)");
    free(log);
    log = bh_read_file(srv.log_path);
    fprintf(stderr, "server log:\n%s\n", log ? log : "(none)");
    free(log);
  }
  bh_rm_rf(tmp);
  return 1;
}
