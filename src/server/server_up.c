/*
 * `supercell up`: a controller on 127.0.0.1:8420 with its state in SQLite
 * and a local agent child, restarted if it dies; Ctrl-C ends the running
 * jobs as interrupted, stops the agent and keeps the state.
 */
#include "server/server_cmd.h"
#include "server/server_int.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/log.h"
#include "util/token_file.h"

static void node_name(char *buf, size_t size)
{
  char host[256] = "localhost";

  gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = '\0';
  for (char *p = host; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '.' || *p == '_' || *p == '-'))
      *p = '-';
  snprintf(buf, size, "%.63s", host[0] ? host : "localhost");
}

/* The agent's environment: ours plus SUPERCELL_AGENT_TOKEN (no token or
 * token path on a command line, where any process could read it). A new
 * array (free it and its last entry), NULL when out of memory. */
static char **agent_env(const char *token)
{
  size_t n = 0, k = 0;
  char **env;

  while (environ[n])
    n++;
  if (!(env = calloc(n + 2, sizeof *env)))
    return NULL;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "SUPERCELL_AGENT_TOKEN=", 22) != 0)
      env[k++] = environ[i];
  if (asprintf(&env[k], "SUPERCELL_AGENT_TOKEN=%s", token) < 0) {
    free(env);
    return NULL;
  }
  return env;
}

static pid_t spawn_agent(const struct cmd_opts *o, int port, const char *name)
{
  char url[64], path[PATH_MAX + 32], state[PATH_MAX + 32], *token, **envp;
  const char *argv[16 + 2 * MAX_DEVICE_ARGS];
  sigset_t none;
  int n = 0;
  size_t k = 0;
  pid_t pid;

  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  snprintf(path, sizeof path, "%s/agent.token", o->state_dir);
  snprintf(state, sizeof state, "%s/agent", o->state_dir);
  if (!(token = sc_token_file_read(path))) {
    sc_error("cannot read the agent token from %s", path);
    return -1;
  }
  envp = agent_env(token);
  free(token);
  if (!envp)
    return -1;
  argv[n++] = "supercell";
  argv[n++] = "agent";
  argv[n++] = "--server";
  argv[n++] = url;
  argv[n++] = "--name";
  argv[n++] = name;
  argv[n++] = "--state-dir";
  argv[n++] = state;
  argv[n++] = "--hide"; /* the controller's tokens and database */
  argv[n++] = o->state_dir;
  if (geteuid() != 0) /* one user's laptop: its tasks all run as that user */
    argv[n++] = "--single-user";
  for (int i = 0; i < o->ndevices; i++) {
    argv[n++] = "--devices";
    argv[n++] = o->devices[i];
  }
  argv[n] = NULL;
  pid = fork();
  if (pid == 0) {
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* `up` killed: its agent ends too */
    if (getppid() == 1)
      _exit(1);
    signal(SIGPIPE, SIG_DFL);
    execve("/proc/self/exe", (char *const *)argv, envp);
    fprintf(stderr, "supercell: cannot start the agent: %s\n", strerror(errno));
    _exit(127);
  }
  while (envp[k])
    k++;
  free(envp[k - 1]); /* the token entry, last */
  free(envp);
  return pid;
}

/* Stops the agent: SIGTERM (it terminates its tasks), SIGKILL after grace. */
static void stop_agent(pid_t pid, int64_t grace_ms)
{
  int64_t waited = 0;
  struct timespec ts = {0, 50 * 1000000L};

  if (pid <= 0)
    return;
  kill(pid, SIGTERM);
  while (waitpid(pid, NULL, WNOHANG) == 0) {
    if (waited > grace_ms + 5000) {
      fprintf(stderr, "supercell: the agent did not stop; killing it\n");
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      return;
    }
    nanosleep(&ts, NULL);
    waited += 50;
  }
}

/* How to call the CLI so that it works as printed: "supercell" when that
 * is this binary on the PATH, else its full path; with SUPERCELL_HOME=DIR
 * first when the state dir is not where the CLI looks by default (the CLI
 * finds the controller through DIR/controller.url and its admin token). */
static void cli_prefix(const struct cmd_opts *o, char *buf, size_t size)
{
  char self[PATH_MAX], dflt[PATH_MAX], cand[PATH_MAX + 16], real[PATH_MAX];
  const char *path = getenv("PATH"), *bin = "supercell";
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  bool on_path = false;

  if (n > 0) {
    self[n] = '\0';
    while (path && *path && !on_path) {
      size_t len = strcspn(path, ":");
      snprintf(cand, sizeof cand, "%.*s/supercell", (int)len, path);
      on_path = realpath(cand, real) && strcmp(real, self) == 0;
      path += len + (path[len] == ':');
    }
    if (!on_path)
      bin = self;
  }
  if (cmd_default_state_dir(dflt, sizeof dflt) == 0 && strcmp(dflt, o->state_dir) == 0)
    snprintf(buf, size, "%s", bin);
  else
    snprintf(buf, size, "SUPERCELL_HOME=%s %s", o->state_dir, bin);
}

static void print_banner(const struct cmd_opts *o, int port, const char *name, pid_t agent,
                         int64_t jobs)
{
  char prefix[2 * PATH_MAX + 32];

  printf("Supercell is up.\n\n"
         "  API:          http://127.0.0.1:%d\n"
         "  Dashboard:    http://127.0.0.1:%d/ui (sign in with the admin token)\n"
         "  Admin token:  %s/admin.token\n"
         "  State:        %s (supercell.db)\n"
         "  Local agent:  node '%s' (pid %d)\n",
         port, port, o->state_dir, o->state_dir, name, (int)agent);
  if (jobs > 0)
    printf("  History:      %lld jobs so far ('supercell jobs' lists them)\n", (long long)jobs);
  cli_prefix(o, prefix, sizeof prefix);
  printf("\nTry:\n"
         "  %s submit -- echo hello\n"
         "  %s jobs\n"
         "  %s nodes\n\n"
         "Press Ctrl-C to stop (running tasks are terminated, state is kept).\n",
         prefix, prefix, prefix);
  fflush(stdout);
}

/* Waits for a signal while keeping the agent alive (restarts it if it dies). */
static void up_loop(const struct cmd_opts *o, const sigset_t *set, int port, const char *name,
                    pid_t *agent)
{
  struct timespec one = {1, 0};
  int restarts = 0, status;

  for (;;) {
    int sig = sigtimedwait(set, NULL, &one);
    if (sig == SIGINT || sig == SIGTERM) {
      sc_info("signal %d: stopping", sig);
      return;
    }
    if (*agent > 0 && waitpid(*agent, &status, WNOHANG) == *agent) {
      sc_warn("the local agent exited (status %d)", status);
      *agent = restarts < 5 ? spawn_agent(o, port, name) : -1;
      restarts++;
    }
  }
}

int sc_cmd_up(int argc, char **argv)
{
  struct cmd_opts o = {.up = true};
  struct controller c;
  char name[64];
  sigset_t set;
  int64_t jobs = 0;
  pid_t agent;
  int rc, port;

  sc_log_setup(SC_LOG_INFO, "up");
  umask(077);
  if ((rc = cmd_parse_opts(argc, argv, &o)) != 0)
    return rc > 0 ? 0 : 2;
  cmd_block_signals(&set);
  if (cmd_controller_start(&o, &c) < 0)
    return 1;
  port = sc_server_port(c.server);
  sc_store_max_job_id(c.store, &jobs);
  node_name(name, sizeof name);
  agent = spawn_agent(&o, port, name);
  print_banner(&o, port, name, agent, jobs);
  up_loop(&o, &set, port, name, &agent);
  /* What runs ends as interrupted (or is requeued for the next start)
   * before the agent stops its tasks, whose exits then change nothing. */
  if (sc_ctl_interrupt(c.ctl) != 0)
    sc_error("could not record the running jobs as interrupted");
  stop_agent(agent, o.ctl.grace_ms > 0 ? o.ctl.grace_ms : 10000);
  cmd_controller_stop(&c);
  printf("Supercell stopped; state kept in %s\n", o.state_dir);
  return 0;
}
