/*
 * Process-level timing for bench/cli.sh: runs a command line as a fresh
 * process (posix_spawn, like a shell), one at a time or from parallel
 * clients, and prints what it measured as one line of key=value pairs for
 * the script's table. Children's stdout goes to /dev/null, their stderr is
 * appended to --errors FILE (default /dev/null); a run counts as
 * acknowledged when the command exits 0. serial --samples F also appends
 * each run's milliseconds to F, one a line, for quantiles over rounds.
 * Usage: bench_cli serial   [--errors F] [--runs 500] [--samples F] -- CMD ARGS...
 *        bench_cli parallel [--errors F] [--clients 8] [--duration 10] -- CMD ARGS...
 *        bench_cli port     (prints a TCP port free now on 127.0.0.1)
 * Progress lines go to stderr when it is a terminal.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

struct cfg {
  const char *errors, *samples;
  int runs, clients;
  double duration_s;
  char **argv;
};

/* Runs argv once and waits: its exit status (-1 when it could not start,
 * 128+N when killed by signal N). */
static int run_once(const struct cfg *cfg)
{
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int st = 0, rc;

  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, cfg->errors, O_WRONLY | O_APPEND | O_CREAT, 0600);
  rc = posix_spawnp(&pid, cfg->argv[0], &fa, NULL, cfg->argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    return -1;
  while (waitpid(pid, &st, 0) < 0)
    ;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static double mean(const double *v, int n)
{
  double sum = 0;

  for (int i = 0; i < n; i++)
    sum += v[i];
  return n ? sum / n : 0;
}

static int serial(const struct cfg *cfg)
{
  double *ms = calloc((size_t)cfg->runs, sizeof *ms);
  int failed = 0, n = cfg->runs;
  int64_t t0;

  if (!ms)
    return 1;
  for (int i = 0; i < n; i++) {
    t0 = bh_mono_ns();
    if (run_once(cfg) != 0)
      failed++;
    ms[i] = (double)(bh_mono_ns() - t0) / 1e6;
    if (isatty(STDERR_FILENO) && (i + 1) % 50 == 0)
      fprintf(stderr, "\r  %d/%d runs", i + 1, n);
  }
  if (isatty(STDERR_FILENO))
    fprintf(stderr, "\r%*s\r", 30, "");
  if (cfg->samples) {
    FILE *f = fopen(cfg->samples, "a");
    for (int i = 0; f && i < n; i++)
      fprintf(f, "%.4f\n", ms[i]);
    if (f)
      fclose(f);
  }
  /* mean first: bh_quantile sorts */
  printf("runs=%d failed=%d mean=%.3f", n, failed, mean(ms, n));
  printf(" min=%.3f median=%.3f p90=%.3f p99=%.3f max=%.3f\n", bh_quantile(ms, (size_t)n, 0),
         bh_quantile(ms, (size_t)n, 0.5), bh_quantile(ms, (size_t)n, 0.9),
         bh_quantile(ms, (size_t)n, 0.99), bh_quantile(ms, (size_t)n, 1));
  free(ms);
  return 0;
}

struct shared {
  const struct cfg *cfg;
  int64_t end_ns;
  atomic_long acked, failed;
};

static void *client_main(void *arg)
{
  struct shared *sh = arg;

  while (bh_mono_ns() < sh->end_ns) {
    if (run_once(sh->cfg) == 0)
      atomic_fetch_add(&sh->acked, 1);
    else
      atomic_fetch_add(&sh->failed, 1);
  }
  return NULL;
}

static int parallel(const struct cfg *cfg)
{
  struct shared sh = {.cfg = cfg};
  pthread_t *threads = calloc((size_t)cfg->clients, sizeof *threads);
  int64_t start = bh_mono_ns(), stop;
  long last = 0;

  if (!threads)
    return 1;
  sh.end_ns = start + (int64_t)(cfg->duration_s * 1e9);
  for (int i = 0; i < cfg->clients; i++)
    if (pthread_create(&threads[i], NULL, client_main, &sh) != 0) {
      fprintf(stderr, "bench_cli: cannot start client threads\n");
      return 1;
    }
  for (int s = 1; bh_mono_ns() < sh.end_ns; s++) {
    int64_t next = start + (int64_t)s * 1000000000LL;
    while (bh_mono_ns() < next && bh_mono_ns() < sh.end_ns)
      bh_sleep_ms(20);
    if (isatty(STDERR_FILENO)) {
      long now = atomic_load(&sh.acked);
      fprintf(stderr, "\r  %ds: %ld acked/s, %ld in all   ", s, now - last, now);
      last = now;
    }
  }
  for (int i = 0; i < cfg->clients; i++)
    pthread_join(threads[i], NULL);
  stop = bh_mono_ns();
  if (isatty(STDERR_FILENO))
    fprintf(stderr, "\r%*s\r", 50, "");
  printf("clients=%d seconds=%.2f acked=%ld failed=%ld rate=%.1f\n", cfg->clients,
         (double)(stop - start) / 1e9, atomic_load(&sh.acked), atomic_load(&sh.failed),
         (double)atomic_load(&sh.acked) / ((double)(stop - start) / 1e9));
  free(threads);
  return 0;
}

static int free_port(void)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    perror("bench_cli: port");
    return 1;
  }
  printf("%d\n", ntohs(a.sin_port));
  close(fd);
  return 0;
}

static int usage(void)
{
  fprintf(stderr, "usage: bench_cli serial [--errors F] [--runs N] [--samples F] -- CMD ARGS...\n"
                  "       bench_cli parallel [--errors F] [--clients N] [--duration S] -- CMD...\n"
                  "       bench_cli port\n");
  return 2;
}

int main(int argc, char **argv)
{
  struct cfg cfg = {.errors = "/dev/null", .runs = 500, .clients = 8, .duration_s = 10};
  int i;

  if (argc < 2)
    return usage();
  if (strcmp(argv[1], "port") == 0)
    return free_port();
  for (i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
    if (i + 1 >= argc)
      return usage();
    if (strcmp(argv[i], "--errors") == 0)
      cfg.errors = argv[++i];
    else if (strcmp(argv[i], "--samples") == 0)
      cfg.samples = argv[++i];
    else if (strcmp(argv[i], "--runs") == 0)
      cfg.runs = atoi(argv[++i]);
    else if (strcmp(argv[i], "--clients") == 0)
      cfg.clients = atoi(argv[++i]);
    else if (strcmp(argv[i], "--duration") == 0)
      cfg.duration_s = atof(argv[++i]);
    else
      return usage();
  }
  if (i + 1 >= argc || cfg.runs < 1 || cfg.clients < 1 || cfg.duration_s <= 0)
    return usage();
  cfg.argv = argv + i + 1;
  if (strcmp(argv[1], "serial") == 0)
    return serial(&cfg);
  if (strcmp(argv[1], "parallel") == 0)
    return parallel(&cfg);
  return usage();
}
