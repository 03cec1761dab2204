/* `supercell submit`: a job from a YAML or JSON spec file, from stdin, or
 * from flags and a command. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/jobspec.h"
#include "util/error.h"
#include "util/spec_limits.h"
#include "util/units.h"

static const char submit_help[] =
  "usage: supercell submit [flags] FILE|-\n"
  "       supercell submit [flags] -- COMMAND [ARGS...]\n"
  "\n"
  "Submits a job from a YAML or JSON spec (FILE, or - for stdin) or from a\n"
  "command line. Flags set or override spec fields. Prints the job id.\n"
  "A single COMMAND word with spaces or shell syntax runs with /bin/sh -c.\n"
  "\n"
  "  --name N          job name (default: the command's name)\n"
  "  --tenant T        tenant (default: default, or the token's tenant)\n"
  "  --tasks N         gang size: N tasks placed all at once (default 1)\n"
  "  --gpus N          whole accelerators per task\n"
  "  --gpu-milli M     a share of one accelerator per task, 1..999\n"
  "  --cpu MILLI       CPU per task in milli-CPUs (default 1000)\n"
  "  --memory SIZE     memory per task, e.g. 16Gi\n"
  "  --model M         allowed accelerator model; repeatable (default: any)\n"
  "  --region R        run only on nodes labelled region=R; repeatable (within\n"
  "                    the tenant's allowlist: else refused, 403)\n"
  "  --priority P      -1000..1000, higher first (default 0)\n"
  "  --max-runtime D   e.g. 90m or 2h; killed when exceeded\n"
  "  --max-retries N   requeue up to N times after a failure or a lost node\n"
  "  --env K=V         environment variable; repeatable\n"
  "  --workdir DIR     working directory on the node\n"
  "  --network N       host (default) or none: an empty network namespace\n"
  "  --on-disconnect W fence (default: a node cut off from the controller stops\n"
  "                    it, and it is requeued) or keep (it runs on; requeued\n"
  "                    only when an operator drains the lost node)\n"
  "  --array SPEC      an array of jobs, one per index: 0-999, 0-999:STEP,\n"
  "                    1,3,5-7; %N after it runs at most N at once (0-999%10).\n"
  "                    Elements are ID_INDEX and see SUPERCELL_ARRAY_INDEX and\n"
  "                    SLURM_ARRAY_TASK_ID\n"
  "  --after DEPS      start after other jobs end: ok:J (succeeded), any:J\n"
  "                    (ended), notok:J (failed or cancelled); comma-separated\n"
  "                    or repeated; J a job, an array (all its elements) or\n"
  "                    an element (J_7). A job whose dependency can never be\n"
  "                    met ends cancelled (DependencyNeverSatisfied)\n"
  "  --dependency D    Slurm's spelling: afterok:J[:J...],afterany:J,...\n"
  "  --hold            submit it held: it starts after 'supercell release ID'\n"
  "  --begin TIME      not before TIME: now+DURATION (now+10m) or a UTC time\n"
  "                    (2026-12-01T08:00:00Z)\n"
  "  --allow-pending   accept it even when no registered node could run it (a\n"
  "                    fleet still growing); else such a job is refused\n"
  "  --requeue         when `supercell up` stops while it runs, run it again at\n"
  "                    the next start (else it ends interrupted, unless it has\n"
  "                    retries left)\n"
  "  --image REF       run in a container of an OCI image: oci:/LAYOUT[:TAG] on\n"
  "                    the node, or NAME[:TAG] from the agent's --image-dir\n"
  "  --spot            preemptible: cheaper, and the first taken back when others\n"
  "                    need the capacity (requeued with notice; see below)\n"
  "  --preempt-signal S  what its tasks get when it is preempted: SIGTERM\n"
  "                    (default), SIGINT, SIGHUP, SIGQUIT, SIGUSR1 or SIGUSR2; the\n"
  "                    file SUPERCELL_PREEMPTED appears in the working directory\n"
  "  --checkpoint-grace D  from that signal to SIGKILL, e.g. 60s or 5m (default\n"
  "                    30s; at most the controller's --max-checkpoint-grace).\n"
  "                    A preempted job is requeued and uses up none of its\n"
  "                    retries; 'supercell checkpoint' records its progress\n"
  SC_CLI_COMMON_HELP;

struct submit_flags {
  json_t *top, *res, *env, *models;
};

static int set_int(struct sc_cli *c, json_t *obj, const char *key, const char *flag,
                   const char *arg, long long min, long long max)
{
  long long v;

  if (sc_cli_parse_int(arg, min, max, &v) != 0)
    return sc_cli_usage_error(c, "bad value for '%s': \"%s\" (want an integer %lld..%lld)",
                              flag, arg, min, max);
  json_object_set_new(obj, key, json_integer(v));
  return 0;
}

static int submit_option(struct sc_cli *c, struct submit_flags *f, int opt, const char *arg)
{
  int64_t v;

  switch (opt) {
  case 'n': json_object_set_new(f->top, "name", json_string(arg)); return 0;
  case 'T': json_object_set_new(f->top, "tenant", json_string(arg)); return 0;
  case 't': return set_int(c, f->top, "tasks", "--tasks", arg, 1, SC_SPEC_MAX_TASKS);
  case 'g': return set_int(c, f->res, "gpus", "--gpus", arg, 0, SC_SPEC_MAX_GPUS);
  case 'G':
    return set_int(c, f->res, "gpu_milli", "--gpu-milli", arg, SC_SPEC_MIN_GPU_MILLI,
                   SC_SPEC_MAX_GPU_MILLI);
  case 'c': return set_int(c, f->res, "cpu_milli", "--cpu", arg, 1, SC_SPEC_MAX_CPU_MILLI);
  case 'p':
    return set_int(c, f->top, "priority", "--priority", arg, SC_SPEC_MIN_PRIORITY,
                   SC_SPEC_MAX_PRIORITY);
  case 'r': return set_int(c, f->top, "max_retries", "--max-retries", arg, 0, SC_SPEC_MAX_RETRIES);
  case 'm':
    if (sc_parse_memory_mib(arg, &v) != 0 || v > SC_SPEC_MAX_MEMORY_MIB)
      return sc_cli_usage_error(c, "bad value for '--memory': \"%s\" (want e.g. 16Gi, at most "
                                "1048576Ti)", arg);
    json_object_set_new(f->res, "memory", json_string(arg));
    return 0;
  case 'R':
    if (sc_parse_duration_ms(arg, &v) != 0 || v < 0 || v / 1000 > SC_SPEC_MAX_RUNTIME_S)
      return sc_cli_usage_error(c, "bad value for '--max-runtime': \"%s\" (want e.g. 1h, at "
                                "most 100 years)", arg);
    json_object_set_new(f->top, "max_runtime", json_string(arg));
    return 0;
  case 'M': json_array_append_new(f->models, json_string(arg)); return 0;
  case 'e': {
    const char *eq = strchr(arg, '=');
    char key[256];
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof key)
      return sc_cli_usage_error(c, "bad value for '--env': \"%s\" (want KEY=VALUE)", arg);
    snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
    json_object_set_new(f->env, key, json_string(eq + 1));
    return 0;
  }
  case 'w': json_object_set_new(f->top, "workdir", json_string(arg)); return 0;
  case 'I': json_object_set_new(f->top, "image", json_string(arg)); return 0;
  case 'Q': json_object_set_new(f->top, "requeue", json_true()); return 0;
  case 'S': json_object_set_new(f->top, "preemptible", json_true()); return 0;
  case 'K': json_object_set_new(f->top, "preempt_signal", json_string(arg)); return 0;
  case 'C':
    if (sc_parse_duration_ms(arg, &v) != 0 || v < 0 || v / 1000 > SC_SPEC_MAX_GRACE_S)
      return sc_cli_usage_error(c, "bad value for '--checkpoint-grace': \"%s\" (want e.g. 60s "
                                "or 5m, at most 24h)", arg);
    json_object_set_new(f->top, "checkpoint_grace", json_string(arg));
    return 0;
  case 'A': json_object_set_new(f->top, "allow_pending", json_true()); return 0;
  case 'H': json_object_set_new(f->top, "hold", json_true()); return 0;
  case 'a': json_object_set_new(f->top, "array", json_string(arg)); return 0;
  case 'd': json_object_set_new(f->top, "dependency", json_string(arg)); return 0;
  case 'E': {
    json_t *regions = json_object_get(f->top, "regions");
    if (!regions)
      json_object_set_new(f->top, "regions", regions = json_array());
    json_array_append_new(regions, json_string(arg));
    return 0;
  }
  case 'F': {
    json_t *after = json_object_get(f->top, "after");
    if (!after)
      json_object_set_new(f->top, "after", after = json_array());
    json_array_append_new(after, json_string(arg));
    return 0;
  }
  case 'B': json_object_set_new(f->top, "begin", json_string(arg)); return 0;
  case 'D':
    if (strcmp(arg, "fence") != 0 && strcmp(arg, "keep") != 0)
      return sc_cli_usage_error(c, "bad value for '--on-disconnect': \"%s\" (want fence or keep)",
                                arg);
    json_object_set_new(f->top, "on_disconnect", json_string(arg));
    return 0;
  case 'N':
    if (strcmp(arg, "host") != 0 && strcmp(arg, "none") != 0)
      return sc_cli_usage_error(c, "bad value for '--network': \"%s\" (want host or none)", arg);
    json_object_set_new(f->top, "network", json_string(arg));
    return 0;
  default: return sc_cli_common_option(c, opt, arg);
  }
}

/* The "command" field: a list, or a shell string for one word with spaces. */
static json_t *command_json(int argc, char **argv)
{
  json_t *cmd;

  if (argc == 1 && strpbrk(argv[0], " \t\n;&|<>$`'\"*?()"))
    return json_string(argv[0]);
  cmd = json_array();
  for (int i = 0; i < argc; i++)
    json_array_append_new(cmd, json_string(argv[i]));
  return cmd;
}

/* Merges the flags into spec (a parsed file or an empty object). */
static int submit_merge(struct sc_cli *c, json_t *spec, struct submit_flags *f)
{
  json_t *res = json_object_get(spec, "resources"), *env = json_object_get(spec, "env");

  json_object_update(spec, f->top);
  if (json_object_size(f->res)) {
    if (res && !json_is_object(res))
      return sc_cli_usage_error(c, "the spec's 'resources' is not a mapping");
    if (!res)
      json_object_set_new(spec, "resources", res = json_object());
    json_object_update(res, f->res);
  }
  if (json_object_size(f->env)) {
    if (env && !json_is_object(env))
      return sc_cli_usage_error(c, "the spec's 'env' is not a mapping");
    if (!env)
      json_object_set_new(spec, "env", env = json_object());
    json_object_update(env, f->env);
  }
  if (json_array_size(f->models))
    json_object_set(spec, "models", f->models);
  return 0;
}

static int submit_parse(struct sc_cli *c, struct submit_flags *f, int argc, char **argv)
{
  static const struct option opts[] = {
    {"name", required_argument, NULL, 'n'}, {"tenant", required_argument, NULL, 'T'},
    {"tasks", required_argument, NULL, 't'}, {"gpus", required_argument, NULL, 'g'},
    {"gpu-milli", required_argument, NULL, 'G'}, {"cpu", required_argument, NULL, 'c'},
    {"memory", required_argument, NULL, 'm'}, {"model", required_argument, NULL, 'M'},
    {"priority", required_argument, NULL, 'p'}, {"max-runtime", required_argument, NULL, 'R'},
    {"max-retries", required_argument, NULL, 'r'}, {"env", required_argument, NULL, 'e'},
    {"workdir", required_argument, NULL, 'w'}, {"network", required_argument, NULL, 'N'},
    {"image", required_argument, NULL, 'I'}, {"on-disconnect", required_argument, NULL, 'D'},
    {"requeue", no_argument, NULL, 'Q'}, {"allow-pending", no_argument, NULL, 'A'},
    {"hold", no_argument, NULL, 'H'}, {"begin", required_argument, NULL, 'B'},
    {"array", required_argument, NULL, 'a'}, {"after", required_argument, NULL, 'F'},
    {"dependency", required_argument, NULL, 'd'}, {"region", required_argument, NULL, 'E'},
    {"spot", no_argument, NULL, 'S'}, {"preempt-signal", required_argument, NULL, 'K'},
    {"checkpoint-grace", required_argument, NULL, 'C'},
    SC_CLI_COMMON_OPTIONS,
  };
  int opt, rc;

  optind = 0;
  while ((opt = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1)
    if ((rc = submit_option(c, f, opt, optarg)) != 0)
      return rc;
  return 0;
}

/* Builds the spec from the file or command after the flags. */
static int submit_spec(struct sc_cli *c, struct submit_flags *f, int argc, char **argv,
                       json_t **spec)
{
  bool dashdash = optind > 1 && strcmp(argv[optind - 1], "--") == 0;
  char err[1024], *text, name[64];
  size_t len;

  *spec = NULL;
  if (optind >= argc)
    return sc_cli_usage_error(c, "give a job spec file, - for stdin, or -- and a command");
  if (dashdash) {
    *spec = json_object();
    json_object_set_new(*spec, "command", command_json(argc - optind, argv + optind));
    sc_jobspec_default_name(argv[optind], name, sizeof name);
    json_object_set_new(*spec, "name", json_string(name));
  } else {
    if (optind + 1 < argc)
      return sc_cli_usage_error(c, "unexpected argument '%s' (put -- before a command)",
                                argv[optind + 1]);
    if (sc_jobspec_read(argv[optind], &text, &len, err, sizeof err) != 0)
      return fprintf(stderr, "supercell: %s\n", err), SC_CLI_USAGE;
    if (sc_jobspec_parse(text, len, strcmp(argv[optind], "-") ? argv[optind] : "<stdin>",
                         spec, err, sizeof err) != 0) {
      free(text);
      return fprintf(stderr, "supercell: %s\n", err), SC_CLI_USAGE;
    }
    free(text);
  }
  return submit_merge(c, *spec, f);
}

int sc_cli_submit(int argc, char **argv)
{
  struct sc_cli c = {.cmd = "submit"};
  struct submit_flags f = {json_object(), json_object(), json_object(), json_array()};
  json_t *spec = NULL, *job = NULL;
  int rc = submit_parse(&c, &f, argc, argv);

  if (rc == 0 && c.help)
    fputs(submit_help, stdout);
  else if (rc == 0 && (rc = submit_spec(&c, &f, argc, argv, &spec)) == 0 &&
           (rc = sc_cli_connect(&c)) == 0 &&
           (rc = sc_cli_call(&c, "POST", "/v1/jobs", spec, 30000, &job)) == 0) {
    if (c.json)
      sc_cli_print_json(job);
    else
      printf("%s\n", sc_cli_str(job, "id", "?"));
  }
  json_decref(job);
  json_decref(spec);
  json_decref(f.top);
  json_decref(f.res);
  json_decref(f.env);
  json_decref(f.models);
  sc_cli_release(&c);
  return rc;
}
