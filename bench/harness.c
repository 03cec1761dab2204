/*
 * Plumbing of the control-plane benchmarks (see harness.h). Children get
 * PR_SET_PDEATHSIG so they never outlive the benchmark, and Ctrl-C kills
 * them and removes the temporary directories before exiting.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TRACKED 16

static pid_t tracked_pids[MAX_TRACKED];
static char *tracked_dirs[MAX_TRACKED];

static void on_signal(int sig)
{
  for (int i = 0; i < MAX_TRACKED; i++)
    if (tracked_pids[i] > 0)
      kill(tracked_pids[i], SIGKILL);
  for (int i = 0; i < MAX_TRACKED; i++)
    if (tracked_dirs[i])
      bh_rm_rf(tracked_dirs[i]);
  _exit(128 + sig);
}

static void track_init(void)
{
  static bool done;
  struct sigaction sa;

  if (done)
    return;
  done = true;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

static void track_pid(pid_t pid, bool add)
{
  for (int i = 0; i < MAX_TRACKED; i++)
    if (add ? tracked_pids[i] == 0 : tracked_pids[i] == pid) {
      tracked_pids[i] = add ? pid : 0;
      return;
    }
}

int64_t bh_mono_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bh_real_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bh_sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

char *bh_tmpdir(const char *tag)
{
  const char *base = getenv("TMPDIR");
  char path[512];
  char *dir;

  track_init();
  snprintf(path, sizeof path, "%s/sc-bench-%s-XXXXXX", base && *base ? base : "/tmp", tag);
  if (!mkdtemp(path)) {
    fprintf(stderr, "bench: cannot create a temporary directory: %s\n", strerror(errno));
    exit(1);
  }
  dir = strdup(path);
  for (int i = 0; i < MAX_TRACKED; i++)
    if (!tracked_dirs[i]) {
      tracked_dirs[i] = dir;
      break;
    }
  return dir;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)ftw;
  if (flag == FTW_DP || flag == FTW_D)
    rmdir(path);
  else
    unlink(path);
  return 0;
}

void bh_rm_rf(const char *path)
{
  if (!path)
    return;
  nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  for (int i = 0; i < MAX_TRACKED; i++)
    if (tracked_dirs[i] == path)
      tracked_dirs[i] = NULL;
}

char *bh_pg_start(char *uri, size_t size)
{
  char cmd[700], dir[256];
  FILE *out;
  int rc;

  snprintf(cmd, sizeof cmd, "bash '%s/tests/e2e/lib/pg_cluster.sh' start --watch %d",
           SC_SOURCE_DIR, (int)getpid());
  if (!(out = popen(cmd, "r")))
    return NULL;
  if (!fgets(dir, sizeof dir, out))
    dir[0] = '\0';
  rc = pclose(out);
  dir[strcspn(dir, "\n")] = '\0';
  if (rc != 0 || !dir[0]) {
    fprintf(stderr, "bench: cannot start a PostgreSQL cluster (see above)\n");
    return NULL;
  }
  snprintf(uri, size, "postgresql:///postgres?host=%s&port=5432&user=supercell", dir);
  return strdup(dir);
}

void bh_pg_stop(char *dir)
{
  char cmd[700];

  if (!dir)
    return;
  snprintf(cmd, sizeof cmd, "bash '%s/tests/e2e/lib/pg_cluster.sh' stop '%s'", SC_SOURCE_DIR,
           dir);
  if (system(cmd) != 0)
    fprintf(stderr, "bench: could not stop the PostgreSQL cluster in %s\n", dir);
  free(dir);
}

char *bh_read_file(const char *path)
{
  FILE *f = fopen(path, "r");
  char *buf;
  size_t len;

  if (!f)
    return NULL;
  buf = malloc(65536);
  len = buf ? fread(buf, 1, 65535, f) : 0;
  fclose(f);
  if (!buf)
    return NULL;
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\r'))
    len--;
  buf[len] = '\0';
  return buf;
}

const char *bh_supercell_path(const char *flag_value)
{
  const char *env = getenv("SUPERCELL");

  if (flag_value && *flag_value)
    return flag_value;
  return env && *env ? env : "build/supercell";
}

pid_t bh_spawn(const char *supercell, const char *const *argv, const char *log_path)
{
  const char *full[64];
  int n = 0;
  pid_t pid;

  track_init();
  full[n++] = supercell;
  for (int i = 0; argv[i] && n < 63; i++)
    full[n++] = argv[i];
  full[n] = NULL;
  fflush(NULL);
  pid = fork();
  if (pid == 0) {
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    execv(supercell, (char *const *)full);
    fprintf(stderr, "bench: cannot run '%s': %s\n", supercell, strerror(errno));
    _exit(127);
  }
  if (pid > 0)
    track_pid(pid, true);
  return pid;
}

void bh_kill_wait(pid_t pid, int sig, int wait_ms)
{
  int waited = 0;

  if (pid <= 0)
    return;
  kill(pid, sig);
  while (waitpid(pid, NULL, WNOHANG) == 0) {
    if (waited >= wait_ms) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      break;
    }
    bh_sleep_ms(10);
    waited += 10;
  }
  track_pid(pid, false);
}

int bh_server_start(struct bh_server *s, const char *supercell, const char *state_dir,
                    const char *const *extra, int timeout_ms)
{
  const char *argv[32] = {"server", "--listen", "127.0.0.1:0", "--state-dir", state_dir};
  char path[700], *text;
  int n = 5;
  int64_t deadline = bh_mono_ns() + (int64_t)timeout_ms * 1000000;

  snprintf(s->state_dir, sizeof s->state_dir, "%s", state_dir);
  snprintf(s->log_path, sizeof s->log_path, "%s.log", state_dir);
  for (int i = 0; extra && extra[i] && n < 31; i++)
    argv[n++] = extra[i];
  argv[n] = NULL;
  snprintf(path, sizeof path, "%s/controller.url", state_dir);
  unlink(path); /* a restart must not read the previous run's port */
  s->pid = bh_spawn(supercell, argv, s->log_path);
  if (s->pid < 0)
    return -1;
  /* Until it holds a whole address (the server renames it into place). */
  while (!(text = bh_read_file(path)) || !strrchr(text, ':')) {
    free(text);
    if (waitpid(s->pid, NULL, WNOHANG) == s->pid || bh_mono_ns() > deadline) {
      fprintf(stderr, "bench: the server did not start (see %s)\n", s->log_path);
      return -1;
    }
    bh_sleep_ms(5);
  }
  snprintf(s->url, sizeof s->url, "%s", text);
  free(text);
  s->port = atoi(strrchr(s->url, ':') + 1);
  snprintf(path, sizeof path, "%s/admin.token", state_dir);
  /* On PostgreSQL the controller starts as a standby and writes its token
   * files once it leads (a lease taken a moment later). */
  while (!(text = bh_read_file(path))) {
    if (waitpid(s->pid, NULL, WNOHANG) == s->pid || bh_mono_ns() > deadline) {
      fprintf(stderr, "bench: no admin token in %s\n", state_dir);
      return -1;
    }
    bh_sleep_ms(5);
  }
  snprintf(s->token, sizeof s->token, "%s", text);
  free(text);
  /* controller.url is written once the daemon listens; check it answers. */
  {
    struct curl_slist *h = NULL;
    struct bh_buf b = {0};
    CURL *c = bh_curl_new(s->token, &h, &b);
    char url[256], role[32];
    long st = -1;
    snprintf(url, sizeof url, "%s/healthz", s->url);
    /* On PostgreSQL, until it leads (a standby answers /healthz too). */
    while (((st = bh_curl_call(c, url, NULL, &b)) != 200 ||
            (bh_json_str(b.data, "role", role, sizeof role) && strcmp(role, "leader") != 0)) &&
           bh_mono_ns() < deadline)
      bh_sleep_ms(5);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    bh_buf_free(&b);
    if (st != 200) {
      fprintf(stderr, "bench: the server does not answer /healthz (see %s)\n", s->log_path);
      return -1;
    }
  }
  return 0;
}

void bh_server_kill(struct bh_server *s, int sig, int wait_ms)
{
  bh_kill_wait(s->pid, sig, wait_ms);
  s->pid = 0;
}

void bh_buf_reset(struct bh_buf *b)
{
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

void bh_buf_free(struct bh_buf *b)
{
  free(b->data);
  memset(b, 0, sizeof *b);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *user)
{
  struct bh_buf *b = user;
  size_t n = size * nmemb;

  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->len + n + 1) * 2;
    char *grown = realloc(b->data, cap);
    if (!grown)
      return 0;
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

CURL *bh_curl_new(const char *token, struct curl_slist **headers, struct bh_buf *body)
{
  CURL *h = curl_easy_init();
  char auth[256];

  if (!h) {
    fprintf(stderr, "bench: curl_easy_init failed\n");
    exit(1);
  }
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
  *headers = curl_slist_append(NULL, auth);
  *headers = curl_slist_append(*headers, "Content-Type: application/json");
  *headers = curl_slist_append(*headers, "Expect:"); /* no 100-continue round trip */
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, *headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  return h;
}

long bh_curl_call(CURL *h, const char *url, const char *body, struct bh_buf *out)
{
  long status = -1;

  bh_buf_reset(out);
  curl_easy_setopt(h, CURLOPT_URL, url);
  if (body) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  }
  if (curl_easy_perform(h) != CURLE_OK)
    return -1;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

bool bh_json_str(const char *json, const char *key, char *buf, size_t size)
{
  char pat[80];
  const char *p, *end;

  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  p = json ? strstr(json, pat) : NULL;
  if (!p)
    return false;
  p += strlen(pat);
  end = strchr(p, '"');
  if (!end || (size_t)(end - p) >= size)
    return false;
  memcpy(buf, p, (size_t)(end - p));
  buf[end - p] = '\0';
  return true;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

double bh_quantile(double *v, size_t n, double q)
{
  size_t k;

  if (n == 0)
    return 0;
  qsort(v, n, sizeof *v, cmp_double);
  k = (size_t)(q * (double)n + 0.999999);
  if (k < 1)
    k = 1;
  if (k > n)
    k = n;
  return v[k - 1];
}

bool bh_tty(void)
{
  return isatty(1);
}
