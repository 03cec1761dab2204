/*
 * Durable submission throughput: a real `supercell server` on 127.0.0.1,
 * N client threads (own keep-alive libcurl handle each) POSTing small job
 * specs to /v1/jobs for a fixed time or count; then kill -9 of the server
 * while clients are still in flight, a restart on the same state directory
 * and a check that every job that got a 201 is there.
 * Usage: bench_submit [--supercell PATH] [--clients 8] [--duration 10]
 *                     [--max-jobs 200000] [--policy NAME] [--full-node]
 *                     [--postgres]
 * --postgres keeps the controller's state in PostgreSQL (a private
 * cluster, fsync on, on a Unix socket) instead of SQLite.
 * --full-node registers (agent API, no agent process) one ready node with
 * 50 milli-CPU, on which no job fits: every pass then also tries every
 * pending job, as a busy cluster does. Without it no node exists.
 */
#include <signal.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

struct cfg {
  const char *supercell;
  int clients;
  double duration_s;
  long max_jobs;
  const char *policy;
  bool full_node;         /* register a READY node nothing fits on */
  bool postgres;          /* --store in a private PostgreSQL cluster */
};

struct shared {
  const struct cfg *cfg;
  const struct bh_server *srv;
  atomic_long issued;     /* requests started */
  atomic_long acked;      /* 201s received */
  atomic_long errors;     /* non-201 replies while the server lived */
  atomic_bool stop, killed;
  double *latency_ms;     /* per request slot, < 0 = no 201 */
  int64_t *ack_id;        /* job id of each 201, 0 = none */
};

struct client {
  struct shared *sh;
  int index;
  long first_status_bad; /* first unexpected status, for the report */
};

static void *client_main(void *arg)
{
  struct client *cl = arg;
  struct shared *sh = cl->sh;
  struct curl_slist *headers = NULL;
  struct bh_buf out = {0};
  CURL *h = bh_curl_new(sh->srv->token, &headers, &out);
  char url[256], body[256], id[32];

  snprintf(url, sizeof url, "%s/v1/jobs", sh->srv->url);
  while (!atomic_load(&sh->stop)) {
    long i = atomic_fetch_add(&sh->issued, 1);
    int64_t t0;
    long status;
    if (i >= sh->cfg->max_jobs)
      break;
    snprintf(body, sizeof body,
             "{\"name\":\"bench-%d-%ld\",\"command\":[\"true\"],"
             "\"resources\":{\"cpu_milli\":100,\"memory\":\"16Mi\"}}",
             cl->index, i);
    t0 = bh_mono_ns();
    status = bh_curl_call(h, url, body, &out);
    if (status == 201 && bh_json_str(out.data, "id", id, sizeof id)) {
      sh->latency_ms[i] = (double)(bh_mono_ns() - t0) / 1e6;
      sh->ack_id[i] = strtoll(id + 2, NULL, 10);
      atomic_fetch_add(&sh->acked, 1);
    } else if (!atomic_load(&sh->killed)) {
      atomic_fetch_add(&sh->errors, 1);
      if (!cl->first_status_bad)
        cl->first_status_bad = status;
    }
  }
  curl_easy_cleanup(h);
  curl_slist_free_all(headers);
  bh_buf_free(&out);
  return NULL;
}

static int parse_args(int argc, char **argv, struct cfg *c)
{
  const char *sc = NULL;

  c->clients = 8;
  c->duration_s = 10;
  c->max_jobs = 200000;
  c->policy = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--supercell") == 0 && v)
      sc = v, i++;
    else if (strcmp(argv[i], "--clients") == 0 && v)
      c->clients = atoi(v), i++;
    else if (strcmp(argv[i], "--duration") == 0 && v)
      c->duration_s = atof(v), i++;
    else if (strcmp(argv[i], "--max-jobs") == 0 && v)
      c->max_jobs = atol(v), i++;
    else if (strcmp(argv[i], "--policy") == 0 && v)
      c->policy = v, i++;
    else if (strcmp(argv[i], "--full-node") == 0)
      c->full_node = true;
    else if (strcmp(argv[i], "--postgres") == 0)
      c->postgres = true;
    else {
      fprintf(stderr, "usage: bench_submit [--supercell PATH] [--clients N] [--duration S]"
                      " [--max-jobs N] [--policy NAME] [--full-node] [--postgres]\n");
      return -1;
    }
  }
  if (c->clients < 1 || c->clients > 256 || c->duration_s <= 0 || c->max_jobs < 1)
    return -1;
  c->supercell = bh_supercell_path(sc);
  return 0;
}

/* Lists every job id through GET /v1/jobs pagination into seen[]. */
static long list_all(const struct bh_server *srv, unsigned char *seen, int64_t max_id,
                     long *pages)
{
  struct curl_slist *headers = NULL;
  struct bh_buf out = {0};
  CURL *h = bh_curl_new(srv->token, &headers, &out);
  char url[300], after[32] = "", *p;
  long found = 0;

  *pages = 0;
  for (;;) {
    snprintf(url, sizeof url, "%s/v1/jobs?limit=500%s%s", srv->url, after[0] ? "&after=" : "",
             after);
    if (bh_curl_call(h, url, NULL, &out) != 200) {
      fprintf(stderr, "bench: GET %s failed\n", url);
      found = -1;
      break;
    }
    (*pages)++;
    /* Job objects start with "id" (codec's key order); tasks have no "id". */
    for (p = out.data; (p = strstr(p, "{\"id\":\"j-")); p += 9) {
      int64_t id = strtoll(p + 9, NULL, 10);
      if (id > 0 && id <= max_id && !seen[id]) {
        seen[id] = 1;
        found++;
      }
    }
    if (!bh_json_str(out.data, "next", after, sizeof after))
      break;
  }
  curl_easy_cleanup(h);
  curl_slist_free_all(headers);
  bh_buf_free(&out);
  return found;
}

/* Registers a ready node too small for any job (see --full-node). */
static int register_full_node(const struct bh_server *srv)
{
  struct curl_slist *headers = NULL;
  struct bh_buf out = {0};
  char path[700], url[256], *token;
  CURL *h;
  long st;

  snprintf(path, sizeof path, "%s/agent.token", srv->state_dir);
  if (!(token = bh_read_file(path)))
    return -1;
  h = bh_curl_new(token, &headers, &out);
  snprintf(url, sizeof url, "%s/v1/agent/register", srv->url);
  st = bh_curl_call(h, url,
                    "{\"name\":\"bench-full\",\"cpu_milli\":50,\"memory_mib\":64,"
                    "\"labels\":{},\"devices\":[],\"running\":[]}",
                    &out);
  curl_easy_cleanup(h);
  curl_slist_free_all(headers);
  bh_buf_free(&out);
  free(token);
  return st == 200 ? 0 : -1;
}

static void progress(struct shared *sh, double elapsed, long last)
{
  long acked = atomic_load(&sh->acked);

  if (!bh_tty())
    return;
  printf("\r  %5.1f s  acknowledged %7ld  (%6ld jobs/s this second)", elapsed, acked,
         acked - last);
  fflush(stdout);
}

int main(int argc, char **argv)
{
  struct cfg cfg;
  struct shared sh;
  struct bh_server srv = {0};
  struct client *clients;
  pthread_t *threads;
  char *tmp, state[600], uri[400], *pg = NULL;
  const char *extra[5] = {NULL};
  double *lat, elapsed;
  long acked_at_kill, nlat = 0, last = 0, issued, per_sec[600];
  int nsec = 0;
  int64_t t0, t_kill, max_id = 0;

  if (parse_args(argc, argv, &cfg) < 0)
    return 2;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (cfg.policy)
    extra[0] = "--policy", extra[1] = cfg.policy;
  tmp = bh_tmpdir("submit");
  snprintf(state, sizeof state, "%s/state", tmp);
  printf("== Durable submissions: %d clients, keep-alive POST /v1/jobs, %.0f s (max %ld jobs),"
         " store %s ==\n", cfg.clients, cfg.duration_s, cfg.max_jobs,
         cfg.postgres ? "PostgreSQL" : "SQLite");
  if (cfg.postgres) {
    if (!(pg = bh_pg_start(uri, sizeof uri)))
      goto fail;
    extra[cfg.policy ? 2 : 0] = "--store";
    extra[cfg.policy ? 3 : 1] = uri;
    printf("PostgreSQL cluster in %s\n", pg);
  }
  if (bh_server_start(&srv, cfg.supercell, state, extra, 10000) < 0)
    goto fail;
  printf("server %s (pid %d), state %s\n", srv.url, (int)srv.pid, state);
  if (cfg.full_node) {
    if (register_full_node(&srv) < 0)
      goto fail;
    printf("registered node 'bench-full' (50 milli-CPU: no job fits, every pass tries them all)\n");
  }
  memset(&sh, 0, sizeof sh);
  sh.cfg = &cfg;
  sh.srv = &srv;
  sh.latency_ms = malloc((size_t)cfg.max_jobs * sizeof *sh.latency_ms);
  sh.ack_id = calloc((size_t)cfg.max_jobs, sizeof *sh.ack_id);
  clients = calloc((size_t)cfg.clients, sizeof *clients);
  threads = calloc((size_t)cfg.clients, sizeof *threads);
  if (!sh.latency_ms || !sh.ack_id || !clients || !threads)
    goto fail;
  for (long i = 0; i < cfg.max_jobs; i++)
    sh.latency_ms[i] = -1;
  t0 = bh_mono_ns();
  for (int i = 0; i < cfg.clients; i++) {
    clients[i] = (struct client){.sh = &sh, .index = i};
    pthread_create(&threads[i], NULL, client_main, &clients[i]);
  }
  /* Run until the duration ends or the clients ran out of jobs. */
  for (int tick = 1;; tick++) {
    int64_t until = t0 + (int64_t)(tick * 1e9);
    while (bh_mono_ns() < until && atomic_load(&sh.issued) < cfg.max_jobs + cfg.clients)
      bh_sleep_ms(10);
    elapsed = (double)(bh_mono_ns() - t0) / 1e9;
    progress(&sh, elapsed, last);
    if (nsec < 600)
      per_sec[nsec++] = atomic_load(&sh.acked) - last;
    last = atomic_load(&sh.acked);
    if (elapsed >= cfg.duration_s || atomic_load(&sh.issued) >= cfg.max_jobs + cfg.clients)
      break;
  }
  /* kill -9 while requests are still in flight. */
  atomic_store(&sh.killed, true);
  acked_at_kill = atomic_load(&sh.acked);
  t_kill = bh_mono_ns();
  bh_server_kill(&srv, SIGKILL, 5000);
  atomic_store(&sh.stop, true);
  for (int i = 0; i < cfg.clients; i++)
    pthread_join(threads[i], NULL);
  elapsed = (double)(t_kill - t0) / 1e9;
  if (bh_tty())
    printf("\n");
  printf("per second:");
  for (int i = 0; i < nsec; i++)
    printf(" %ld", per_sec[i]);
  printf("\n");
  issued = atomic_load(&sh.issued);
  if (issued > cfg.max_jobs)
    issued = cfg.max_jobs;
  lat = malloc((size_t)issued * sizeof *lat + 1);
  for (long i = 0; i < issued; i++) {
    if (sh.latency_ms[i] >= 0)
      lat[nlat++] = sh.latency_ms[i];
    if (sh.ack_id[i] > max_id)
      max_id = sh.ack_id[i];
  }
  printf("throughput: %ld acknowledged (201) in %.2f s = %.0f jobs/s  (%d clients, target >= 2000)\n",
         acked_at_kill, elapsed, (double)acked_at_kill / elapsed, cfg.clients);
  printf("ack latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms  (%ld samples)\n",
         bh_quantile(lat, (size_t)nlat, 0.50), bh_quantile(lat, (size_t)nlat, 0.99),
         bh_quantile(lat, (size_t)nlat, 1.0), nlat);
  if (atomic_load(&sh.errors))
    printf("non-201 replies before the kill: %ld\n", atomic_load(&sh.errors));

  /* Restart on the same state and look for every acknowledged id. */
  if (bh_server_start(&srv, cfg.supercell, state, extra, 30000) < 0)
    goto fail;
  {
    unsigned char *seen = calloc((size_t)max_id + 1 + (size_t)issued, 1);
    long pages, found_total, found = 0, missing = 0, acked = 0;
    int64_t r0 = bh_mono_ns();
    found_total = list_all(&srv, seen, max_id + issued, &pages);
    for (long i = 0; i < issued; i++)
      if (sh.ack_id[i] > 0) {
        acked++;
        if (seen[sh.ack_id[i]])
          found++;
        else if (missing++ < 10)
          printf("MISSING after kill -9: j-%06lld\n", (long long)sh.ack_id[i]);
      }
    printf("acknowledged %ld, found %ld after kill -9 (%ld jobs listed in %ld pages, %.1f s;"
           " %ld unacknowledged in-flight jobs also committed)\n",
           acked, found, found_total, pages, (double)(bh_mono_ns() - r0) / 1e9,
           found_total - found);
    free(seen);
    bh_server_kill(&srv, SIGTERM, 10000);
    bh_pg_stop(pg);
    bh_rm_rf(tmp);
    return missing == 0 && found_total >= 0 ? 0 : 1;
  }
fail:
  if (srv.pid > 0)
    bh_server_kill(&srv, SIGKILL, 1000);
  fprintf(stderr, "bench_submit: failed; server log:\n");
  {
    char *log = bh_read_file(srv.log_path);
    fprintf(stderr, "%s\n", log ? log : "(none)");
    free(log);
  }
  bh_pg_stop(pg);
  bh_rm_rf(tmp);
  return 1;
}
