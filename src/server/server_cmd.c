/*
 * `supercell server` (the controller), and the controller's life that it
 * shares with `supercell up` (server_up.c): flags, the state directory
 * (database, admin.token, agent.token, a lock so two controllers never
 * share one), start and a clean stop on SIGINT/SIGTERM. On a PostgreSQL
 * store a controller takes part in leader election (lease.h): it serves
 * as a standby until it holds the lease, then rebuilds from the store and
 * leads; deposed, it exits with SC_EXIT_DEPOSED.
 */
#include "server/server_cmd.h"
#include "server/server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/auth.h"
#include "server/ctl.h"
#include "server/http.h"
#include "server/lease.h"
#include "server/standby.h"
#include "sim/experiment.h"
#include "sim/trace.h"
#include "util/clock.h"
#include "util/config.h"
#include "server/metrics.h"
#include "util/error.h"
#include "util/log.h"
#include "util/notify.h"
#include "util/token_file.h"
#include "util/units.h"

#define LEASE_DEFAULT_MS 15000

static void usage_server(FILE *out)
{
  fprintf(out,
          "usage: supercell server [--listen ADDR:PORT] [--state-dir DIR] [--store WHERE]\n"
          "                        [--heartbeat-timeout D] [--fence-after D] [--policy NAME]\n"
          "                        [--grace D] [--max-checkpoint-grace D] [--fgd-target FILE]\n"
          "                        [--timeline-interval D] [--metrics-public] [--lease D]\n"
          "                        [--advertise-url URL] [--config FILE] [--check-config]\n\n"
          "Runs the controller: REST API, dashboard (/ui), scheduler and store.\n\n"
          "  --listen ADDR:PORT       address to serve on (default 127.0.0.1:%d; port 0 = any)\n"
          "  --state-dir DIR          database and tokens (default $SUPERCELL_HOME or ~/.supercell)\n"
          "  --store WHERE            the database: a SQLite file (default DIR/supercell.db) or\n"
          "                           PostgreSQL, postgres://USER@HOST/DB or postgresql://...\n"
          "                           (libpq's URI; docs/operations.md)\n"
          "  --heartbeat-timeout D    a node without heartbeats for D is lost (default 30s)\n"
          "  --fence-after D          an agent cut off from the controller for D stops its\n"
          "                           tasks (default twice the heartbeat timeout; 0 = never);\n"
          "                           a lost node's work starts elsewhere only after D + grace\n"
          "  --policy NAME            placement policy (default fgd):",
          UP_PORT);
  for (int i = 0; sc_policies[i]; i++)
    fprintf(out, " %s", sc_policies[i]->name);
  fprintf(out, "\n  --grace D                SIGTERM to SIGKILL on cancel (default 10s)\n"
               "  --max-checkpoint-grace D the longest preemption notice a job may ask for\n"
               "                           (checkpoint_grace; default 10m): a job asking more is\n"
               "                           refused at submit\n"
               "  --fgd-target FILE        fixes FGD's target workload to the task shapes of an\n"
               "                           OpenB pod list (as `supercell sim` computes it), instead\n"
               "                           of the last 1,000 tasks submitted\n"
               "  --config FILE            flags from FILE, one 'name = value' a line (e.g.\n"
               "                           'listen = 0.0.0.0:8420'); the command line wins\n"
               "  --check-config           check the flags and the config file, say what would\n"
               "                           run, and exit: 0 when it can start, 2 when not\n"
               "  --timeline-interval D    the fleet timeline takes a sample every D (default\n"
               "                           5s; the last 720 are kept)\n"
               "  --metrics-public         serve GET /metrics without a token (by default it\n"
               "                           needs an admin or a metrics token: supercell token\n"
               "                           create --kind metrics)\n"
               "  --lease D                PostgreSQL: controllers on one database elect a leader\n"
               "                           with a lease of D (default 15s, renewed every third);\n"
               "                           the others are standbys that send clients to it and\n"
               "                           take over when its lease lapses\n"
               "  --advertise-url URL      PostgreSQL: the URL clients reach this controller at,\n"
               "                           which standbys name when it leads (default\n"
               "                           http://HOST:PORT of --listen; 0.0.0.0: the host name)\n"
               "\nWrites <state-dir>/admin.token, agent.token, task.key (mode 0600) and\n"
               "controller.url. A leader that loses its lease exits with status %d.\n",
          SC_EXIT_DEPOSED);
}

static void usage_up(FILE *out)
{
  fprintf(out,
          "usage: supercell up [--state-dir DIR] [--port N] [--devices VENDOR:MODEL:COUNT ...]\n"
          "                    [--policy NAME] [--heartbeat-timeout D] [--fence-after D]\n"
          "                    [--grace D] [--max-checkpoint-grace D]\n"
          "                    [--timeline-interval D]\n\n"
          "Runs a controller on 127.0.0.1:%d and a local agent for this machine.\n"
          "State lives in $SUPERCELL_HOME or ~/.supercell; Ctrl-C stops both and keeps it.\n\n"
          "  --state-dir DIR          state directory (the CLI finds this controller through\n"
          "                           DIR/controller.url when SUPERCELL_HOME=DIR)\n"
          "  --port N                 port on 127.0.0.1 (default %d; 0 = any free one)\n"
          "  --devices SPEC           declared accelerators for the local agent, e.g.\n"
          "                           nvidia:A100-80G:8 (repeatable; default: what the agent\n"
          "                           discovers)\n"
          "  --policy NAME            placement policy (default fgd: Fragmentation Gradient\n"
          "                           Descent; also bestfit, packing, clustering, dotprod,\n"
          "                           random)\n"
          "  --heartbeat-timeout D    the agent is lost after D without heartbeats (default 30s)\n"
          "  --fence-after D          an agent cut off from the controller for D stops its\n"
          "                           tasks (default twice the heartbeat timeout; 0 = never)\n"
          "  --grace D                SIGTERM to SIGKILL when a task is stopped (default 10s)\n"
          "  --max-checkpoint-grace D the longest preemption notice a job may ask for\n"
          "                           (checkpoint_grace; default 10m): a job asking more is\n"
          "                           refused at submit\n"
          "  --timeline-interval D    the fleet timeline takes a sample every D (default 5s)\n",
          UP_PORT, UP_PORT);
}

int cmd_default_state_dir(char *buf, size_t size)
{
  const char *home = getenv("SUPERCELL_HOME");

  if (home && *home) {
    snprintf(buf, size, "%s", home);
    return 0;
  }
  home = getenv("HOME");
  if (!home || !*home)
    return SC_EINVAL;
  snprintf(buf, size, "%s/.supercell", home);
  return 0;
}

static int parse_duration_opt(const char *flag, const char *text, int64_t *ms)
{
  if (sc_parse_duration_ms(text, ms) < 0 || *ms <= 0) {
    fprintf(stderr, "supercell: bad duration for '%s': \"%s\"\n", flag, text);
    return SC_EINVAL;
  }
  return 0;
}

/* --fgd-target FILE: the keys of an OpenB pod list, as the simulator
 * counts them (sc_target_keys); they live as long as the process. */
static int load_target(struct cmd_opts *o)
{
  struct sc_trace_pods pods;
  struct sc_typical_key *keys;
  char err[512];
  int n, rc;

  if (o->ctl.policy && strcmp(o->ctl.policy->name, "fgd") != 0) {
    fprintf(stderr, "supercell: --fgd-target needs --policy fgd (not %s)\n", o->ctl.policy->name);
    return SC_EINVAL;
  }
  if ((rc = sc_trace_read_pods(o->fgd_target, &pods, err, sizeof err)) < 0) {
    fprintf(stderr, "supercell: --fgd-target: %s\n", err);
    return SC_EINVAL;
  }
  sc_trace_pods_sort(pods.items, pods.n);
  rc = pods.n > 0 ? sc_target_keys(pods.items, pods.n, &keys, &n, NULL) : SC_EINVAL;
  sc_trace_pods_release(&pods);
  if (rc < 0) {
    fprintf(stderr, "supercell: --fgd-target: %s: %s\n", o->fgd_target,
            rc == SC_EINVAL ? "no task in the list" : sc_strerror(rc));
    return SC_EINVAL;
  }
  o->ctl.target = keys;
  o->ctl.ntarget = n;
  return 0;
}

/* --advertise-url: one http:// or https:// URL, kept without a trailing
 * slash. */
static int parse_advertise(struct cmd_opts *o, const char *arg)
{
  size_t len = strlen(arg);

  while (len > 0 && arg[len - 1] == '/')
    len--;
  if ((strncmp(arg, "http://", 7) != 0 && strncmp(arg, "https://", 8) != 0) ||
      strchr(arg, ',') || len >= sizeof o->advertise || len <= 8) {
    fprintf(stderr, "supercell: bad --advertise-url '%s' (want http://HOST:PORT)\n", arg);
    return SC_EINVAL;
  }
  snprintf(o->advertise, sizeof o->advertise, "%.*s", (int)len, arg);
  return 0;
}

/* Whether the controller's store is PostgreSQL (then it takes part in
 * leader election). */
static bool on_postgres(const struct cmd_opts *o)
{
  return !o->up && o->store[0] && sc_store_backend(o->store) == &sc_store_pg;
}

/* Parses one option; returns 0, 1 (--help printed) or SC_EINVAL. */
static int parse_one(struct cmd_opts *o, int ch, const char *arg)
{
  switch (ch) {
  case 'l':
    snprintf(o->listen, sizeof o->listen, "%s", arg);
    return 0;
  case 's':
    snprintf(o->state_dir, sizeof o->state_dir, "%s", arg);
    return 0;
  case 'S':
    if (strlen(arg) >= sizeof o->store) {
      fprintf(stderr, "supercell: '--store' is too long\n");
      return SC_EINVAL;
    }
    snprintf(o->store, sizeof o->store, "%s", arg);
    return 0;
  case 't':
    return parse_duration_opt("--heartbeat-timeout", arg, &o->ctl.heartbeat_timeout_ms);
  case 'g':
    return parse_duration_opt("--grace", arg, &o->ctl.grace_ms);
  case 'G':
    return parse_duration_opt("--max-checkpoint-grace", arg, &o->ctl.max_checkpoint_grace_ms);
  case 'T':
    return parse_duration_opt("--timeline-interval", arg, &o->ctl.timeline_interval_ms);
  case 'f':
    if (strcmp(arg, "0") == 0) {
      o->ctl.fence_after_ms = -1; /* never */
      return 0;
    }
    return parse_duration_opt("--fence-after", arg, &o->ctl.fence_after_ms);
  case 'F':
    o->fgd_target = arg;
    return 0;
  case 'L':
    return parse_duration_opt("--lease", arg, &o->lease_ms);
  case 'A':
    return parse_advertise(o, arg);
  case 'C': /* --config: its settings are already in argv (sc_config_argv) */
    return 0;
  case 'K':
    o->check_config = true;
    return 0;
  case 'p':
    if (!(o->ctl.policy = sc_policy_find(arg))) {
      fprintf(stderr, "supercell: unknown policy '%s'\n", arg);
      return SC_EINVAL;
    }
    return 0;
  case 'P': {
    char *end;
    long port = strtol(arg, &end, 10);
    if (*end || port < 0 || port > 65535) {
      fprintf(stderr, "supercell: bad port '%s'\n", arg);
      return SC_EINVAL;
    }
    snprintf(o->listen, sizeof o->listen, "127.0.0.1:%ld", port);
    return 0;
  }
  case 'd':
    if (o->ndevices >= MAX_DEVICE_ARGS)
      return SC_EINVAL;
    o->devices[o->ndevices++] = arg;
    return 0;
  case 'M':
    o->metrics_public = true;
    return 0;
  case 'h':
    (o->up ? usage_up : usage_server)(stdout);
    return 1;
  default:
    (o->up ? usage_up : usage_server)(stderr);
    return SC_EINVAL;
  }
}

int cmd_parse_opts(int argc, char **argv, struct cmd_opts *o)
{
  static const struct option server_long[] = {
    {"listen", required_argument, NULL, 'l'},  {"state-dir", required_argument, NULL, 's'},
    {"store", required_argument, NULL, 'S'},
    {"heartbeat-timeout", required_argument, NULL, 't'},
    {"policy", required_argument, NULL, 'p'},  {"grace", required_argument, NULL, 'g'},
    {"fence-after", required_argument, NULL, 'f'},
    {"max-checkpoint-grace", required_argument, NULL, 'G'},
    {"fgd-target", required_argument, NULL, 'F'},
    {"config", required_argument, NULL, 'C'},  {"check-config", no_argument, NULL, 'K'},
    {"timeline-interval", required_argument, NULL, 'T'},
    {"metrics-public", no_argument, NULL, 'M'},
    {"lease", required_argument, NULL, 'L'},
    {"advertise-url", required_argument, NULL, 'A'},
    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
  };
  static const struct option up_long[] = {
    {"port", required_argument, NULL, 'P'},    {"state-dir", required_argument, NULL, 's'},
    {"devices", required_argument, NULL, 'd'}, {"heartbeat-timeout", required_argument, NULL, 't'},
    {"policy", required_argument, NULL, 'p'},  {"grace", required_argument, NULL, 'g'},
    {"fence-after", required_argument, NULL, 'f'},
    {"max-checkpoint-grace", required_argument, NULL, 'G'},
    {"timeline-interval", required_argument, NULL, 'T'},
    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
  };
  const struct option *table = o->up ? up_long : server_long;
  char err[600], **file_argv;
  int ch, rc, file_argc;

  if ((rc = sc_config_argv(argc, argv, table, &file_argc, &file_argv, err, sizeof err)) < 0) {
    fprintf(stderr, "supercell: %s\n", err);
    return SC_EINVAL;
  }
  if (file_argv) { /* kept for the life of the process: options point into it */
    argc = file_argc;
    argv = file_argv;
  }
  snprintf(o->listen, sizeof o->listen, "127.0.0.1:%d", UP_PORT);
  if (cmd_default_state_dir(o->state_dir, sizeof o->state_dir) < 0)
    o->state_dir[0] = '\0';
  optind = 1;
  while ((ch = getopt_long(argc, argv, "h", table, NULL)) != -1)
    if ((rc = parse_one(o, ch, optarg)) != 0) {
      if (rc < 0 && sc_config_origin(optind - 1, err, sizeof err))
        fprintf(stderr, "supercell: (the setting at %s)\n", err);
      return rc;
    }
  if (optind < argc) {
    fprintf(stderr, "supercell: unexpected argument '%s'\n", argv[optind]);
    return SC_EINVAL;
  }
  if (!o->state_dir[0]) {
    fprintf(stderr, "supercell: no state directory: set --state-dir, SUPERCELL_HOME or HOME\n");
    return SC_EINVAL;
  }
  if ((o->lease_ms > 0 || o->advertise[0]) && !on_postgres(o)) {
    fprintf(stderr, "supercell: --%s needs a PostgreSQL store (--store postgres://...):"
                    " on SQLite one controller owns the database\n",
            o->lease_ms > 0 ? "lease" : "advertise-url");
    return SC_EINVAL;
  }
  if (on_postgres(o) && o->lease_ms <= 0)
    o->lease_ms = LEASE_DEFAULT_MS;
  return o->fgd_target ? load_target(o) : 0;
}

static int mkdir_p(const char *path)
{
  char tmp[PATH_MAX];

  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
        return SC_EIO;
      *p = '/';
    }
  return mkdir(tmp, 0700) < 0 && errno != EEXIST ? SC_EIO : 0;
}

/* <dir>/controller.url, written whole or not at all (a temporary file
 * renamed over it): the CLI and scripts read it while it is made, and an
 * empty or half-written file sent them to no address. */
static void write_url_file(const char *dir, int port, const char *host)
{
  char path[PATH_MAX + 32], tmp[PATH_MAX + 48];
  FILE *f;
  int ok;

  snprintf(path, sizeof path, "%s/controller.url", dir);
  snprintf(tmp, sizeof tmp, "%s/.controller.url.%d", dir, (int)getpid());
  if (!(f = fopen(tmp, "w")))
    return;
  ok = fprintf(f, "http://%s:%d\n", strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host, port) > 0;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0)
    unlink(tmp);
}

void cmd_controller_stop(struct controller *c)
{
  if (c->ctl)
    sc_ctl_stop(c->ctl);
  sc_server_stop(c->server);
  sc_metrics_free(c->metrics);
  sc_ctl_free(c->ctl);
  if (c->auth_ready)
    sc_auth_release(&c->auth);
  /* Our commits are over: a leader gives the lease up, so a standby takes
   * over at its next look rather than after the whole lease. */
  sc_lease_stop(c->lease, true);
  sc_store_close(c->store);
  if (c->lock_fd >= 0)
    close(c->lock_fd);
  memset(c, 0, sizeof *c);
  c->lock_fd = -1;
}

/* A secret made at the first start and kept in path (mode 0600) into
 * out (SC_TOKEN_HEX_LEN + 1 bytes). */
static int state_secret(const char *path, char *out)
{
  char *secret = sc_token_file_read(path);
  int rc = 0;

  if (!secret) {
    if ((rc = sc_token_generate(out)) < 0 || (rc = sc_token_file_write(path, out)) < 0) {
      fprintf(stderr, "supercell: cannot write '%s'\n", path);
      return rc;
    }
    return 0;
  }
  snprintf(out, SC_TOKEN_HEX_LEN + 1, "%s", secret);
  free(secret);
  return 0;
}

/* The key that signs task credentials: the hash of the secret in path,
 * made at the first start (so credentials outlive a restart). */
static int task_key(const char *path, unsigned char key[32])
{
  char secret[SC_TOKEN_HEX_LEN + 1];
  int rc = state_secret(path, secret);

  return rc < 0 ? rc : sc_token_hash(secret, strlen(secret), key);
}

/* Locks the state directory, opens the store and reads the task key. */
static int open_state(const struct cmd_opts *o, struct controller *c)
{
  const struct sc_store_ops *ops;
  char path[PATH_MAX + 32];
  int rc;

  if (mkdir_p(o->state_dir) < 0) {
    fprintf(stderr, "supercell: cannot create '%s': %s\n", o->state_dir, strerror(errno));
    return SC_EIO;
  }
  snprintf(c->state_dir, sizeof c->state_dir, "%s", o->state_dir);
  snprintf(path, sizeof path, "%s/controller.lock", o->state_dir);
  c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (c->lock_fd < 0 || flock(c->lock_fd, LOCK_EX | LOCK_NB) < 0) {
    fprintf(stderr, "supercell: '%s' is in use by another controller\n", o->state_dir);
    return SC_EBUSY;
  }
  snprintf(path, sizeof path, "%s/supercell.db", o->state_dir);
  ops = sc_store_backend(o->store[0] ? o->store : path);
  if ((rc = sc_store_open(ops, o->store[0] ? o->store : path, &c->store)) < 0) {
    /* a URI may hold a password: name the backend, not the URI */
    if (ops == &sc_store_pg)
      fprintf(stderr, "supercell: cannot open the PostgreSQL store (see the log above)\n");
    else
      fprintf(stderr, "supercell: cannot open '%s'\n", o->store[0] ? o->store : path);
    return rc;
  }
  snprintf(path, sizeof path, "%s/task.key", o->state_dir);
  return task_key(path, c->task_key);
}

/* Loads the tokens and makes the token files: writes, so a leader's. */
static int open_auth(struct controller *c)
{
  char path[PATH_MAX + 32];
  int rc;

  if ((rc = sc_auth_init(&c->auth, c->store)) < 0)
    return rc;
  c->auth_ready = true;
  snprintf(path, sizeof path, "%s/admin.token", c->state_dir);
  if ((rc = sc_auth_ensure_file(&c->auth, path, SC_TOKEN_ADMIN)) < 0)
    return rc;
  snprintf(path, sizeof path, "%s/agent.token", c->state_dir);
  return sc_auth_ensure_file(&c->auth, path, SC_TOKEN_AGENT);
}

/* The controller's model, rebuilt from the store, and its scheduler. */
static int open_ctl(const struct cmd_opts *o, struct controller *c)
{
  struct sc_ctl_opts ctl_opts = o->ctl;
  int rc;

  ctl_opts.task_key = c->task_key;
  if ((rc = sc_ctl_new(&ctl_opts, c->store, &c->ctl)) < 0)
    return rc;
  return sc_ctl_start(c->ctl);
}

/* A deposed leader (lease.h) stops at once: whatever thread finds out. */
static void deposed(void *arg, const char *why)
{
  (void)arg;
  sc_error("deposed (%s): exiting with status %d so that this controller comes back as a"
           " standby",
           why, SC_EXIT_DEPOSED);
  _exit(SC_EXIT_DEPOSED);
}

/* The URL this controller advertises: --advertise-url, else --listen's
 * host (the host name for 0.0.0.0) and the port bound. */
static void advertise_url(const struct cmd_opts *o, const char *host, int port, char *buf,
                          size_t size)
{
  char name[128];

  if (o->advertise[0]) {
    snprintf(buf, size, "%s", o->advertise);
    return;
  }
  if (strcmp(host, "0.0.0.0") == 0 && gethostname(name, sizeof name - 1) == 0) {
    name[sizeof name - 1] = '\0';
    host = name;
  }
  snprintf(buf, size, "http://%.*s:%d", (int)(size > 24 ? size - 24 : 0), host, port);
}

/* Leader election on a PostgreSQL store: the election object (a standby
 * that knows no leader) before the server, whose front reads it. */
static int open_lease(const struct cmd_opts *o, struct controller *c)
{
  char path[PATH_MAX + 32], id[SC_TOKEN_HEX_LEN + 1];
  struct sc_lease_opts lo = {.store = c->store, .url = "", .id = id,
                             .lease_ms = o->lease_ms, .deposed = deposed};
  int rc;

  /* Who we are, across restarts: a controller restarted on this state
   * directory takes its own lease back without waiting for it to lapse. */
  snprintf(path, sizeof path, "%s/controller.id", o->state_dir);
  if ((rc = state_secret(path, id)) < 0)
    return rc;
  return sc_lease_new(&lo, &c->lease);
}

int cmd_controller_start(const struct cmd_opts *o, struct controller *c)
{
  struct sc_server_opts so = {.listen = o->listen};
  char host[64], url[SC_STORE_URL_MAX];
  int port, rc;

  memset(c, 0, sizeof *c);
  c->lock_fd = -1;
  if (sc_http_parse_listen(o->listen, host, sizeof host, &port) < 0) {
    fprintf(stderr, "supercell: bad --listen address '%s' (want ADDR:PORT)\n", o->listen);
    return SC_EINVAL;
  }
  if ((rc = open_state(o, c)) < 0)
    goto fail;
  if (on_postgres(o)) { /* a standby first: it writes nothing */
    if ((rc = open_lease(o, c)) < 0)
      goto fail;
    so.front = sc_standby_front;
    so.front_arg = c->lease;
  } else if ((rc = open_auth(c)) < 0 || (rc = open_ctl(o, c)) < 0) {
    goto fail;
  }
  if ((rc = sc_metrics_new(NULL, &c->metrics)) < 0)
    goto fail;
  so.ctl = c->ctl;
  so.auth = c->ctl ? &c->auth : NULL;
  so.routes = sc_api_routes;
  so.metrics = c->metrics;
  so.metrics_public = o->metrics_public;
  if ((rc = sc_server_start(&so, &c->server)) < 0) {
    fprintf(stderr, "supercell: cannot listen on %s (in use?)\n", o->listen);
    goto fail;
  }
  advertise_url(o, host, sc_server_port(c->server), url, sizeof url);
  if (c->lease && (rc = sc_lease_run(c->lease, url)) < 0)
    goto fail;
  write_url_file(o->state_dir, sc_server_port(c->server), host);
  sc_info("controller listening on http://%s:%d (policy %s, state %s, store %s)", host,
          sc_server_port(c->server), o->ctl.policy ? o->ctl.policy->name : "fgd", o->state_dir,
          sc_store_backend(o->store)->name);
  if (c->lease)
    sc_info("leader election: a lease of %lld ms, advertised as %s; a standby until it holds"
            " the lease",
            (long long)o->lease_ms, url);
  return 0;
fail:
  if (rc != SC_EBUSY && rc != SC_EIO)
    fprintf(stderr, "supercell: cannot start the controller: %s\n", sc_strerror(rc));
  cmd_controller_stop(c);
  return rc;
}

/* The standby won the lease: rebuild from the store (as after a crash),
 * start the scheduler, and serve. The commits it makes are fenced with
 * the new epoch, which the election set before saying it won. */
static int take_over(const struct cmd_opts *o, struct controller *c, int64_t epoch)
{
  int64_t t0 = sc_clock_mono_ms();
  char status[160];
  int rc;

  sc_info("taking over as the leader (epoch %lld): rebuilding from the store",
          (long long)epoch);
  if ((rc = open_auth(c)) < 0 || (rc = open_ctl(o, c)) < 0) {
    fprintf(stderr, "supercell: cannot take over: %s\n", sc_strerror(rc));
    return rc;
  }
  sc_server_lead(c->server, c->ctl, &c->auth);
  if (!sc_lease_serving(c->lease))
    return SC_ESTATE; /* deposed meanwhile: deposed() ends the process */
  sc_info("leading (epoch %lld): took over in %lld ms", (long long)epoch,
          (long long)(sc_clock_mono_ms() - t0));
  snprintf(status, sizeof status, "STATUS=leading (epoch %lld)", (long long)epoch);
  sc_notify(status);
  return 0;
}

/* A controller in leader election: a standby until it wins the lease,
 * then the leader. Returns the signal that stopped it, or -1 when a
 * takeover failed. */
static int election_loop(const struct cmd_opts *o, struct controller *c, const sigset_t *set)
{
  const struct timespec zero = {0, 0}, tick = {0, 100 * 1000000L};

  for (;;) {
    int64_t epoch = 0;
    int sig, role = SC_LEASE_LEADER;
    if (!c->ctl)
      role = sc_lease_wait(c->lease, 100, &epoch);
    sig = sigtimedwait(set, NULL, c->ctl ? &tick : &zero);
    if (sig == SIGINT || sig == SIGTERM)
      return sig;
    if (c->ctl) /* the election thread may hang on a silent database */
      sc_lease_check(c->lease);
    if (!c->ctl && role == SC_LEASE_TAKING_OVER && take_over(o, c, epoch) < 0)
      return -1;
  }
}

/* Blocks SIGINT/SIGTERM in every thread so the main thread can sigwait. */
void cmd_block_signals(sigset_t *set)
{
  sigemptyset(set);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, set, NULL);
  signal(SIGPIPE, SIG_IGN);
}

/* --check-config: what cmd_parse_opts has not checked yet, without changing
 * anything (no directory made, no database opened for writing). */
static int check_config(const struct cmd_opts *o)
{
  char host[64], path[PATH_MAX + 32];
  int port, bad = 0;
  struct stat st;

  if (sc_http_parse_listen(o->listen, host, sizeof host, &port) < 0) {
    fprintf(stderr, "supercell: listen: bad address '%s' (want ADDR:PORT)\n", o->listen);
    bad = 1;
  }
  if (stat(o->state_dir, &st) == 0) {
    if (!S_ISDIR(st.st_mode) || access(o->state_dir, W_OK | X_OK) != 0) {
      fprintf(stderr, "supercell: state-dir: %s is not a directory this user can write\n",
              o->state_dir);
      bad = 1;
    }
    snprintf(path, sizeof path, "%s/supercell.db", o->state_dir);
    if (stat(path, &st) == 0 && access(path, R_OK | W_OK) != 0) {
      fprintf(stderr, "supercell: state-dir: %s cannot be read and written\n", path);
      bad = 1;
    }
  } else {
    char parent[PATH_MAX];
    char *slash;
    snprintf(parent, sizeof parent, "%s", o->state_dir);
    slash = strrchr(parent, '/');
    if (slash && slash != parent)
      *slash = '\0';
    else
      snprintf(parent, sizeof parent, "%s", slash ? "/" : ".");
    while (stat(parent, &st) != 0 && (slash = strrchr(parent, '/')) && slash != parent)
      *slash = '\0'; /* the nearest existing ancestor is where it would be made */
    if (access(parent, W_OK | X_OK) != 0) {
      fprintf(stderr, "supercell: state-dir: %s does not exist and cannot be made under %s\n",
              o->state_dir, parent);
      bad = 1;
    }
  }
  if (bad)
    return 2;
  printf("configuration OK: listen %s, state-dir %s, policy %s%s%s", o->listen, o->state_dir,
         o->ctl.policy ? o->ctl.policy->name : "fgd", o->fgd_target ? ", fgd-target " : "",
         o->fgd_target ? o->fgd_target : "");
  if (on_postgres(o))
    printf(", leader election: lease %lld ms%s%s", (long long)o->lease_ms,
           o->advertise[0] ? ", advertised as " : "", o->advertise);
  printf("\n");
  return 0;
}

int sc_cmd_server(int argc, char **argv)
{
  struct cmd_opts o = {.up = false};
  struct controller c;
  sigset_t set;
  int rc, sig;

  sc_log_setup(SC_LOG_INFO, "server");
  umask(077); /* the database, its WAL and the token files: the owner's only */
  if ((rc = cmd_parse_opts(argc, argv, &o)) != 0)
    return rc > 0 ? 0 : 2;
  if (o.check_config)
    return check_config(&o);
  cmd_block_signals(&set);
  if (cmd_controller_start(&o, &c) < 0)
    return 1;
  {
    char status[300];
    snprintf(status, sizeof status, "READY=1\nSTATUS=%s on %s", c.lease ? "standby" : "listening",
             o.listen);
    sc_notify(status);
  }
  if (c.lease) {
    sig = election_loop(&o, &c, &set);
  } else {
    sigwait(&set, &sig);
  }
  if (sig < 0) {
    cmd_controller_stop(&c);
    return 1;
  }
  sc_info("signal %d: stopping", sig);
  sc_notify("STOPPING=1");
  cmd_controller_stop(&c);
  return 0;
}

