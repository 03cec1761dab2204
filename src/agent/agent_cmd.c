/* `supercell agent`: flags, machine defaults (CPUs, memory, NVML devices),
 * signal handling; the work is in agent.c. */
#include "agent/agent_cmd.h"

#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "util/error.h"
#include "util/log.h"
#include "util/token_file.h"
#include "util/units.h"

/* Set by the signal handler: a lock-free atomic store is async-signal-safe
 * and leaves errno alone. */
static atomic_int agent_stop;

static void on_signal(int sig)
{
  (void)sig;
  atomic_store(&agent_stop, 1);
}

static void agent_usage(FILE *out)
{
  fprintf(out,
    "usage: supercell agent --server URL (--token T | --token-file F) [options]\n"
    "\n"
    "Runs a node agent: registers this machine with the controller, runs the\n"
    "tasks assigned to it and reports their state and output.\n"
    "\n"
    "  --server URL           controller URL (or SUPERCELL_SERVER; default\n"
    "                         http://127.0.0.1:8420)\n"
    "  --token T              agent token (or SUPERCELL_AGENT_TOKEN)\n"
    "  --token-file F         read the agent token from file F\n"
    "  --name NODE            node name (default: host name)\n"
    "  --devices V:M:N[:MEM]  declare N devices of vendor V, model M, memory MEM\n"
    "                         (e.g. nvidia:A100-80G:8:80Gi); repeatable. Without\n"
    "                         it NVIDIA GPUs are discovered with NVML\n"
    "  --cpu MILLI            CPU to offer in milli-CPUs (default: all CPUs)\n"
    "  --memory SIZE          memory to offer, e.g. 64Gi (default: MemTotal)\n"
    "  --label K=V            node label such as region=eu-west; repeatable\n"
    "  --state-dir DIR        task state, logs and exit codes (default\n"
    "                         $SUPERCELL_HOME/agents/NODE or ~/.supercell/agents/NODE)\n"
    "  --heartbeat DURATION   heartbeat interval (default: the controller's)\n"
    "  --cgroup-root PATH     the agent's subtree in each cgroup hierarchy\n"
    "                         (default supercell/NODE): cgroup v2 where its mount\n"
    "                         has controllers, else the v1 memory, cpu, pids and\n"
    "                         devices hierarchies; --no-cgroups: tasks run\n"
    "                         without memory, CPU, process and device limits\n"
    "  --dev-dir DIR          where device nodes are (default /dev)\n"
    "  --isolation MODE       namespaces: each task in its own PID, mount, IPC\n"
    "                         and UTS namespaces, with a fresh /proc, private\n"
    "                         /tmp and /dev, only its own devices, and the\n"
    "                         state dir hidden (the default as root); none\n"
    "  --hide DIR             a directory tasks never see; repeatable\n"
    "  --share DIR            a host directory bound into every task's view;\n"
    "                         repeatable\n"
    "  --task-pids-max N      processes per task (default 16384)\n"
    "  --task-uid-base N      as root, tenant id I runs as uid and gid N + I\n"
    "                         (default 200000), or as the tenant's run_as user;\n"
    "                         never as root\n"
    "  --image-dir DIR        named images: a job's image NAME[:TAG] is the OCI\n"
    "                         layout DIR/NAME (default /var/lib/supercell/images)\n"
    "  --single-user          not root: run every tenant's tasks as this user\n"
    "                         (they can then read and signal each other); without\n"
    "                         it a non-root agent serves one tenant only\n"
    "  --log-level L          debug, info, warn or error (default info)\n"
    "  -h, --help             show this help\n"
    "\n"
    "Tasks run in their own session under a small supervisor process that\n"
    "records their exit status, so restarting the agent (even kill -9) keeps\n"
    "them running: the next agent with the same --state-dir adopts them.\n"
    "SIGTERM or SIGINT stops the agent and its tasks (TERM, then KILL after\n"
    "the task's grace period). Fractional GPU shares (SUPERCELL_GPU_MILLI) are\n"
    "advisory: nothing isolates a share of a device.\n");
}

static int64_t machine_memory_mib(void)
{
  FILE *f = fopen("/proc/meminfo", "re");
  char line[256];
  long long kib = 0;

  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "MemTotal: %lld kB", &kib) == 1)
      break;
  if (f)
    fclose(f);
  return kib / 1024;
}

static int64_t machine_cpu_milli(void)
{
  cpu_set_t set;

  if (sched_getaffinity(0, sizeof set, &set) == 0)
    return (int64_t)CPU_COUNT(&set) * 1000;
  return (int64_t)sysconf(_SC_NPROCESSORS_ONLN) * 1000;
}

struct agent_opts {
  struct sc_agent_config cfg;
  const char *token_file, *log_level;
  char *token, *state_dir, name[256];
  bool devices_given;
};

static int bad_flag(const char *flag, const char *value, const char *what)
{
  fprintf(stderr, "supercell agent: bad value for '%s': \"%s\"%s%s\n", flag, value,
          what ? ": " : "", what ? what : "");
  return 2;
}

static int parse_label(json_t *labels, const char *text)
{
  const char *eq = strchr(text, '=');
  char key[128];

  if (!eq || eq == text || (size_t)(eq - text) >= sizeof key)
    return bad_flag("--label", text, "want key=value");
  snprintf(key, sizeof key, "%.*s", (int)(eq - text), text);
  json_object_set_new(labels, key, json_string(eq + 1));
  return 0;
}

/* Parses one option; returns 0, 2 for a usage error or -1 for --help. */
static int agent_option(struct agent_opts *o, int c, const char *arg)
{
  char err[256];
  int64_t v;

  switch (c) {
  case 's': o->cfg.server = arg; return 0;
  case 't': free(o->token); o->token = strdup(arg); return 0;
  case 'T': o->token_file = arg; return 0;
  case 'n': snprintf(o->name, sizeof o->name, "%s", arg); return 0;
  case 'd':
    o->devices_given = true;
    if (sc_devices_parse(&o->cfg.devices, arg, err, sizeof err) != 0)
      return fprintf(stderr, "supercell agent: %s\n", err), 2;
    return 0;
  case 'c': {
    char *end;
    long long milli = strtoll(arg, &end, 10);
    if (*end || milli <= 0)
      return bad_flag("--cpu", arg, "want milli-CPUs, e.g. 16000");
    o->cfg.cpu_milli = milli;
    return 0;
  }
  case 'm':
    if (sc_parse_memory_mib(arg, &v) || v <= 0)
      return bad_flag("--memory", arg, "want a size such as 64Gi");
    o->cfg.memory_mib = v;
    return 0;
  case 'l': return parse_label(o->cfg.labels, arg);
  case 'S': free(o->state_dir); o->state_dir = strdup(arg); return 0;
  case 'b':
    if (sc_parse_duration_ms(arg, &v) || v <= 0)
      return bad_flag("--heartbeat", arg, "want a duration such as 1s");
    o->cfg.heartbeat_ms = v;
    return 0;
  case 'g': o->cfg.cgroup_root = arg; return 0;
  case 'D': o->cfg.dev_dir = arg; return 0;
  case 'I':
    if (strcmp(arg, "namespaces") == 0)
      o->cfg.isolation = SC_ISOLATION_NAMESPACES;
    else if (strcmp(arg, "none") == 0)
      o->cfg.isolation = SC_ISOLATION_NONE;
    else
      return bad_flag("--isolation", arg, "want namespaces or none");
    return 0;
  case 'H':
    if (arg[0] != '/' || o->cfg.nhide >= 6)
      return bad_flag("--hide", arg, "want an absolute path (at most 6)");
    o->cfg.hide[o->cfg.nhide++] = arg;
    return 0;
  case 'R':
    if (arg[0] != '/' || o->cfg.nshare >= 8)
      return bad_flag("--share", arg, "want an absolute path (at most 8)");
    o->cfg.share[o->cfg.nshare++] = arg;
    return 0;
  case 'P': {
    char *end;
    long long n = strtoll(arg, &end, 10);
    if (*end || n <= 0 || n > 4194304)
      return bad_flag("--task-pids-max", arg, "want a number of processes, 1..4194304");
    o->cfg.task_pids_max = n;
    return 0;
  }
  case 'G': o->cfg.cgroup_root = ""; return 0;
  case 'U': {
    char *end;
    long long n = strtoll(arg, &end, 10);
    if (*end || n < 1000 || n > 2000000000LL)
      return bad_flag("--task-uid-base", arg, "want a uid of 1000..2000000000");
    o->cfg.task_uid_base = n;
    return 0;
  }
  case '1': o->cfg.single_user = true; return 0;
  case 'i':
    if (arg[0] != '/')
      return bad_flag("--image-dir", arg, "want an absolute path");
    o->cfg.image_dir = arg;
    return 0;
  case 'L': o->log_level = arg; return 0;
  case 'h': return -1;
  default: return 2;
  }
}

static int agent_parse(struct agent_opts *o, int argc, char **argv)
{
  static const struct option longopts[] = {
    {"server", required_argument, NULL, 's'}, {"token", required_argument, NULL, 't'},
    {"token-file", required_argument, NULL, 'T'}, {"name", required_argument, NULL, 'n'},
    {"devices", required_argument, NULL, 'd'}, {"cpu", required_argument, NULL, 'c'},
    {"memory", required_argument, NULL, 'm'}, {"label", required_argument, NULL, 'l'},
    {"state-dir", required_argument, NULL, 'S'}, {"heartbeat", required_argument, NULL, 'b'},
    {"cgroup-root", required_argument, NULL, 'g'}, {"no-cgroups", no_argument, NULL, 'G'},
    {"dev-dir", required_argument, NULL, 'D'}, {"task-pids-max", required_argument, NULL, 'P'},
    {"isolation", required_argument, NULL, 'I'}, {"hide", required_argument, NULL, 'H'},
    {"share", required_argument, NULL, 'R'}, {"task-uid-base", required_argument, NULL, 'U'},
    {"single-user", no_argument, NULL, '1'}, {"image-dir", required_argument, NULL, 'i'},
    {"log-level", required_argument, NULL, 'L'}, {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  int c, rc;

  optind = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
    if ((rc = agent_option(o, c, optarg)) != 0)
      return rc;
  if (optind < argc) {
    fprintf(stderr, "supercell agent: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  return 0;
}

/* Fills what the flags left out: server, token, name, state dir, machine
 * resources and discovered devices. Returns 0 or 2 (usage). */
static int agent_defaults(struct agent_opts *o)
{
  const char *home = getenv("SUPERCELL_HOME"), *env;
  size_t len;

  if (!o->cfg.server)
    o->cfg.server = (env = getenv("SUPERCELL_SERVER")) ? env : "http://127.0.0.1:8420";
  if (o->token_file && !o->token && !(o->token = sc_token_file_read(o->token_file))) {
    fprintf(stderr, "supercell agent: cannot read a token from '%s'\n", o->token_file);
    return 2;
  }
  if (!o->token && (env = getenv("SUPERCELL_AGENT_TOKEN")) && *env)
    o->token = strdup(env);
  if (!o->token) {
    fprintf(stderr, "supercell agent: an agent token is required (--token or --token-file)\n");
    return 2;
  }
  if (!o->name[0] && gethostname(o->name, sizeof o->name - 1) != 0)
    snprintf(o->name, sizeof o->name, "node");
  if (!o->state_dir) {
    const char *base = home && *home ? home : getenv("HOME");
    len = strlen(base ? base : "/tmp") + strlen(o->name) + 32;
    if (!(o->state_dir = malloc(len)))
      return 2;
    snprintf(o->state_dir, len, "%s%s/agents/%s", base ? base : "/tmp",
             home && *home ? "" : "/.supercell", o->name);
  }
  if (!o->cfg.cpu_milli)
    o->cfg.cpu_milli = machine_cpu_milli();
  if (!o->cfg.memory_mib)
    o->cfg.memory_mib = machine_memory_mib();
  if (!o->devices_given && sc_devices_discover_nvml(&o->cfg.devices) > 0)
    sc_info("NVML: %d NVIDIA device(s), model %s", o->cfg.devices.count,
            o->cfg.devices.dev[0].model);
  o->cfg.token = o->token;
  o->cfg.name = o->name;
  o->cfg.state_dir = o->state_dir;
  return 0;
}

static enum sc_log_level parse_level(const char *text)
{
  if (!text)
    return SC_LOG_INFO;
  if (strcmp(text, "debug") == 0)
    return SC_LOG_DEBUG;
  if (strcmp(text, "warn") == 0)
    return SC_LOG_WARN;
  if (strcmp(text, "error") == 0)
    return SC_LOG_ERROR;
  return SC_LOG_INFO;
}

static int agent_main(struct agent_opts *o)
{
  struct sc_agent *agent;
  struct sigaction sa;
  char err[512];
  int rc;

  sc_log_setup(parse_level(o->log_level), "agent");
  umask(077); /* task specs, logs, the node's credential; tasks get 022 */
  if ((rc = agent_defaults(o)) != 0)
    return rc;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
  if ((rc = sc_agent_new(&o->cfg, &agent, err, sizeof err)) != 0) {
    fprintf(stderr, "supercell agent: %s\n", err);
    return 1;
  }
  sc_info("node %s: %lld milli-CPU, %lld MiB, %d device(s), state in %s", o->name,
          (long long)o->cfg.cpu_milli, (long long)o->cfg.memory_mib, o->cfg.devices.count,
          o->state_dir);
  rc = sc_agent_run(agent, &agent_stop);
  sc_agent_free(agent);
  if (rc == SC_EAUTH) {
    fprintf(stderr, "supercell agent: the controller refused the agent token\n");
    return 1;
  }
  return rc ? 1 : 0;
}

int sc_cmd_agent(int argc, char **argv)
{
  struct agent_opts o;
  int rc;

  memset(&o, 0, sizeof o);
  o.cfg.labels = json_object();
  rc = agent_parse(&o, argc, argv);
  if (rc == -1) {
    agent_usage(stdout);
    rc = 0;
  } else if (rc == 0) {
    rc = agent_main(&o);
  } else {
    fprintf(stderr, "Run 'supercell agent --help' for usage.\n");
  }
  json_decref(o.cfg.labels);
  free(o.token);
  free(o.state_dir);
  return rc;
}
