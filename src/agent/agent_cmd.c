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
#include "agent/agent_emu.h"
#include "util/config.h"
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
    "                         http://127.0.0.1:8420); URL1,URL2,...: a leader and its\n"
    "                         standbys, the agent follows whichever leads\n"
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
    "  --config FILE          flags from FILE, one 'name = value' a line (e.g.\n"
    "                         'server = http://ctl:8420'); the command line wins\n"
    "  -h, --help             show this help\n"
    "\n"
    "Tasks run in their own session under a small supervisor process that\n"
    "records their exit status, so restarting the agent (even kill -9) keeps\n"
    "them running: the next agent with the same --state-dir adopts them.\n"
    "SIGTERM or SIGINT stops the agent and its tasks (TERM, then KILL after\n"
    "the task's grace period). Fractional GPU shares (SUPERCELL_GPU_MILLI) are\n"
    "advisory: nothing isolates a share of a device.\n"
    "\n"
    "Emulated fleets (docs/emulation.md): one process registers many nodes that\n"
    "speak the agent protocol but run no process: a task lasts the S of a\n"
    "leading `sleep S` in its command (0 otherwise, `sleep infinity`: until\n"
    "killed), then exits 0. --devices, --cpu, --memory and --label describe\n"
    "every node; --name, --state-dir and the flags about processes do not apply.\n"
    "  --emulate N            emulate N nodes named PREFIX-00001 ... PREFIX-N\n"
    "  --emulate-prefix P     their name prefix (default emu)\n"
    "  --emulate-nodes FILE   one node per row of an OpenB node list (sn,\n"
    "                         cpu_milli,memory_mib,gpu,model: GPUs as nvidia\n"
    "                         devices of the model), named by its sn column or\n"
    "                         by --emulate-prefix; with --emulate N, the first N\n"
    "  --emulate-label K=V1,V2,...\n"
    "                         spread label K over the nodes round robin: node i\n"
    "                         (from 0) gets V[i mod k]; a value may hold a range,\n"
    "                         rack=r[01-40] is r01 ... r40; repeatable\n"
    "  --emulate-label-blocks K=V1,V2,...\n"
    "                         the same in contiguous blocks: the first n/k\n"
    "                         nodes get V1, the next n/k V2 ...\n"
    "  --emulate-fail-rate P  a fraction P (0..1) of tasks exit 1, chosen by a\n"
    "                         hash of the seed, task id and attempt (default 0)\n"
    "  --emulate-seed N       the seed of the failures (default 1)\n"
    "  --emulate-connections K\n"
    "                         keep-alive connections shared by all nodes for\n"
    "                         register, heartbeat, status and logs (default 16);\n"
    "                         each node has its own for its long-poll\n"
    "  --emulate-quiet        no log line per task (one request less per task)\n"
    "SIGTERM or SIGINT ends the emulated tasks (reported killed by SIGTERM) and\n"
    "stops the emulator.\n");
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
  /* --emulate*: */
  int emulate;                  /* nodes, 0: not emulating (unless a file) */
  const char *emu_prefix, *emu_nodes;
  struct sc_emu_label spread[SC_EMU_LABELS_MAX];
  int nspread;
  double fail_rate;
  uint64_t seed;
  int connections;
  bool quiet;
};

/* The long-only flags of emulated fleets. */
enum {
  OPT_EMULATE = 256, OPT_EMU_PREFIX, OPT_EMU_NODES, OPT_EMU_LABEL, OPT_EMU_LABEL_BLOCKS,
  OPT_EMU_FAIL_RATE, OPT_EMU_SEED, OPT_EMU_CONNECTIONS, OPT_EMU_QUIET,
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

/* Parses one --emulate* option; returns 0 or 2 (usage). */
static int emulate_option(struct agent_opts *o, int c, const char *arg)
{
  char err[256], *end;

  switch (c) {
  case OPT_EMULATE: {
    long n = strtol(arg, &end, 10);
    if (*end || n < 1 || n > SC_EMU_NODES_MAX)
      return bad_flag("--emulate", arg, "want a number of nodes, 1..100000");
    o->emulate = (int)n;
    return 0;
  }
  case OPT_EMU_PREFIX: o->emu_prefix = arg; return 0;
  case OPT_EMU_NODES: o->emu_nodes = arg; return 0;
  case OPT_EMU_LABEL:
  case OPT_EMU_LABEL_BLOCKS:
    if (o->nspread >= SC_EMU_LABELS_MAX)
      return bad_flag("--emulate-label", arg, "at most 8 spread labels");
    if (sc_emu_label_parse(&o->spread[o->nspread], arg, c == OPT_EMU_LABEL_BLOCKS, err,
                           sizeof err) != 0)
      return fprintf(stderr, "supercell agent: %s\n", err), 2;
    o->nspread++;
    return 0;
  case OPT_EMU_FAIL_RATE:
    o->fail_rate = strtod(arg, &end);
    if (end == arg || *end || !(o->fail_rate >= 0 && o->fail_rate <= 1))
      return bad_flag("--emulate-fail-rate", arg, "want a fraction of 0..1");
    return 0;
  case OPT_EMU_SEED:
    o->seed = strtoull(arg, &end, 10);
    if (end == arg || *end || arg[0] == '-')
      return bad_flag("--emulate-seed", arg, "want a non-negative integer");
    return 0;
  case OPT_EMU_CONNECTIONS: {
    long n = strtol(arg, &end, 10);
    if (*end || n < 1 || n > 256)
      return bad_flag("--emulate-connections", arg, "want 1..256");
    o->connections = (int)n;
    return 0;
  }
  case OPT_EMU_QUIET: o->quiet = true; return 0;
  default: return 2;
  }
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
  case 'C': return 0; /* --config: its settings are already in argv */
  case 'h': return -1;
  default: return c >= OPT_EMULATE ? emulate_option(o, c, arg) : 2;
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
    {"config", required_argument, NULL, 'C'},
    {"emulate", required_argument, NULL, OPT_EMULATE},
    {"emulate-prefix", required_argument, NULL, OPT_EMU_PREFIX},
    {"emulate-nodes", required_argument, NULL, OPT_EMU_NODES},
    {"emulate-label", required_argument, NULL, OPT_EMU_LABEL},
    {"emulate-label-blocks", required_argument, NULL, OPT_EMU_LABEL_BLOCKS},
    {"emulate-fail-rate", required_argument, NULL, OPT_EMU_FAIL_RATE},
    {"emulate-seed", required_argument, NULL, OPT_EMU_SEED},
    {"emulate-connections", required_argument, NULL, OPT_EMU_CONNECTIONS},
    {"emulate-quiet", no_argument, NULL, OPT_EMU_QUIET},
    {NULL, 0, NULL, 0},
  };
  char err[600], **file_argv;
  int c, rc, file_argc;

  if (sc_config_argv(argc, argv, longopts, &file_argc, &file_argv, err, sizeof err) < 0) {
    fprintf(stderr, "supercell agent: %s\n", err);
    return 2;
  }
  if (file_argv) { /* kept for the life of the process: options point into it */
    argc = file_argc;
    argv = file_argv;
  }
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
    if ((rc = agent_option(o, c, optarg)) != 0) {
      if (rc > 0 && sc_config_origin(optind - 1, err, sizeof err))
        fprintf(stderr, "supercell agent: (the setting at %s)\n", err);
      return rc;
    }
  if (optind < argc) {
    fprintf(stderr, "supercell agent: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  return 0;
}

/* Fills what the flags left out: server, token, name, state dir, machine
 * resources and discovered devices. Returns 0 or 2 (usage). */
static int controller_defaults(struct agent_opts *o)
{
  const char *env;

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
  o->cfg.token = o->token;
  return 0;
}

static int agent_defaults(struct agent_opts *o)
{
  const char *home = getenv("SUPERCELL_HOME");
  size_t len;

  if (controller_defaults(o) != 0)
    return 2;
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

/* SIGTERM and SIGINT stop the agent; SIGPIPE is ignored. */
static void install_signals(void)
{
  struct sigaction sa;

  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
}

/* The fleet of the --emulate* flags into plan (which then owns the spread
 * labels). Returns 0 or 2 after a message. */
static int emulate_plan(struct agent_opts *o, struct sc_emu_plan *plan)
{
  struct sc_emu_shape shape = {.devices = o->cfg.devices, .cpu_milli = o->cfg.cpu_milli,
                               .memory_mib = o->cfg.memory_mib};
  struct sc_trace_nodes list;
  char err[512];
  int rc;

  if (o->emu_nodes && (o->devices_given || o->cfg.cpu_milli || o->cfg.memory_mib)) {
    fprintf(stderr, "supercell agent: --devices, --cpu and --memory come from the node list "
                    "with --emulate-nodes\n");
    return 2;
  }
  if (o->emu_nodes) {
    if ((rc = sc_trace_read_nodes(o->emu_nodes, &list, err, sizeof err)) == 0) {
      rc = sc_emu_plan_trace(plan, &list, o->emulate, o->emu_prefix, err, sizeof err);
      sc_trace_nodes_release(&list);
    }
  } else {
    shape.cpu_milli = shape.cpu_milli ? shape.cpu_milli : machine_cpu_milli();
    shape.memory_mib = shape.memory_mib ? shape.memory_mib : machine_memory_mib();
    rc = sc_emu_plan_uniform(plan, o->emulate, o->emu_prefix ? o->emu_prefix : "emu", &shape,
                             err, sizeof err);
  }
  if (rc != 0) {
    fprintf(stderr, "supercell agent: %s\n", err);
    return 2;
  }
  plan->labels = json_incref(o->cfg.labels);
  memcpy(plan->spread, o->spread, sizeof plan->spread);
  plan->nspread = o->nspread;
  o->nspread = 0;
  return 0;
}

/* `supercell agent --emulate N` or `--emulate-nodes FILE`. */
static int emulate_main(struct agent_opts *o)
{
  struct sc_emu_plan plan;
  struct sc_emu_config cfg;
  int rc;

  sc_log_setup(parse_level(o->log_level), "emulator");
  if (o->name[0] || o->state_dir) {
    fprintf(stderr, "supercell agent: --name and --state-dir do not go with --emulate: nodes "
                    "are named by --emulate-prefix and keep no state on disk\n");
    return 2;
  }
  if ((rc = controller_defaults(o)) != 0)
    return rc;
  if (strchr(o->cfg.server, ',')) {
    fprintf(stderr, "supercell agent: --emulate talks to one controller: give one --server URL,"
                    " not a list\n");
    return 2;
  }
  if ((rc = emulate_plan(o, &plan)) != 0)
    return rc;
  cfg = (struct sc_emu_config){.server = o->cfg.server, .token = o->token, .plan = &plan,
                               .heartbeat_ms = o->cfg.heartbeat_ms, .fail_rate = o->fail_rate,
                               .seed = o->seed, .connections = o->connections,
                               .quiet = o->quiet};
  install_signals();
  rc = sc_emu_run(&cfg, &agent_stop);
  sc_emu_plan_release(&plan);
  if (rc == SC_EAUTH)
    fprintf(stderr, "supercell agent: the controller refused the agent token\n");
  return rc ? 1 : 0;
}

static int agent_main(struct agent_opts *o)
{
  struct sc_agent *agent;
  char err[512];
  int rc;

  sc_log_setup(parse_level(o->log_level), "agent");
  umask(077); /* task specs, logs, the node's credential; tasks get 022 */
  if ((rc = agent_defaults(o)) != 0)
    return rc;
  install_signals();
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
  o.seed = 1;
  rc = agent_parse(&o, argc, argv);
  if (rc == -1) {
    agent_usage(stdout);
    rc = 0;
  } else if (rc == 0 && (o.emulate || o.emu_nodes)) {
    rc = emulate_main(&o);
  } else if (rc == 0 && (o.nspread || o.emu_prefix || o.fail_rate > 0 || o.connections ||
                         o.quiet)) {
    fprintf(stderr, "supercell agent: the --emulate-* flags need --emulate or --emulate-nodes\n");
    rc = 2;
  } else if (rc == 0) {
    rc = agent_main(&o);
  } else {
    fprintf(stderr, "Run 'supercell agent --help' for usage.\n");
  }
  json_decref(o.cfg.labels);
  for (int i = 0; i < o.nspread; i++)
    sc_emu_label_release(&o.spread[i]);
  free(o.token);
  free(o.state_dir);
  return rc;
}
