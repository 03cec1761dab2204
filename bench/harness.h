/*
 * Shared plumbing of the control-plane benchmarks: temporary directories,
 * a real `supercell server` / `supercell agent` child on 127.0.0.1, token
 * files, small libcurl helpers and percentiles. Benchmarks only: it prints
 * and exits on setup failure, which library code never does.
 */
#ifndef SC_BENCH_HARNESS_H
#define SC_BENCH_HARNESS_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Monotonic and wall clocks in nanoseconds. */
int64_t bh_mono_ns(void);
int64_t bh_real_ns(void);
void bh_sleep_ms(int ms);

/* mkdtemp under $TMPDIR (or /tmp); bh_rm_rf removes a tree. */
char *bh_tmpdir(const char *tag);
void bh_rm_rf(const char *path);

/* Reads a whole small file (NUL-terminated, trailing whitespace cut);
 * NULL when missing. */
char *bh_read_file(const char *path);

/* Path of the supercell binary: --supercell PATH, $SUPERCELL, build/supercell. */
const char *bh_supercell_path(const char *flag_value);

/* A controller child: state dir, its log file, port and admin token. */
struct bh_server {
  pid_t pid;
  char state_dir[512];
  char log_path[600];
  char url[128];
  char token[128];
  int port;
};

/* Starts `supercell server --listen 127.0.0.1:0 --state-dir DIR extra...`
 * with its output in DIR/../server.log (appended), waits until it answers
 * /healthz (up to timeout_ms). Returns 0 or -1 (message printed). */
int bh_server_start(struct bh_server *s, const char *supercell, const char *state_dir,
                    const char *const *extra, int timeout_ms);
/* Sends sig and reaps the child (SIGKILL after wait_ms for SIGTERM). */
void bh_server_kill(struct bh_server *s, int sig, int wait_ms);

/* A private PostgreSQL cluster (tests/e2e/lib/pg_cluster.sh: a Unix
 * socket in a temporary directory, stopped when this process exits even
 * by a signal): its directory (malloc'd) and the store URI for it in uri;
 * NULL when it did not start (message printed). bh_pg_stop stops it. */
char *bh_pg_start(char *uri, size_t size);
void bh_pg_stop(char *dir);

/* Starts `supercell agent ...` (argv after "agent"), output to log_path. */
pid_t bh_spawn(const char *supercell, const char *const *argv, const char *log_path);
void bh_kill_wait(pid_t pid, int sig, int wait_ms);

/* A response body collected by libcurl. */
struct bh_buf {
  char *data;
  size_t len, cap;
};
void bh_buf_reset(struct bh_buf *b);
void bh_buf_free(struct bh_buf *b);

/* An easy handle set up for keep-alive JSON calls with the bearer token. */
CURL *bh_curl_new(const char *token, struct curl_slist **headers, struct bh_buf *body);
/* GET or POST (body != NULL) url; returns the HTTP status or -1. */
long bh_curl_call(CURL *h, const char *url, const char *body, struct bh_buf *out);

/* Extracts "key":"value" (compact JSON) into buf; false when absent. */
bool bh_json_str(const char *json, const char *key, char *buf, size_t size);

/* Sorts v (n doubles) and returns the q-quantile (0..1), nearest rank. */
double bh_quantile(double *v, size_t n, double q);

/* True when stdout is a terminal (progress lines are printed then). */
bool bh_tty(void);

#endif
