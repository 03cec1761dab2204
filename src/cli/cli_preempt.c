/* `supercell checkpoint` (a task records that its job saved its progress,
 * with the credential the agent gave it) and `supercell preempt` (an
 * operator evicts a running job now, requeued, with notice). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"

static const char checkpoint_help[] =
  "usage: supercell checkpoint [JOB]\n"
  "\n"
  "Records that the job has just saved its progress (its last_checkpoint_at):\n"
  "a job preempted later loses only the work since then, and schedulers\n"
  "prefer to preempt jobs that lose least. Run from inside a task it needs no\n"
  "argument: it reads SUPERCELL_JOB_ID, and SUPERCELL_TASK_TOKEN (a credential\n"
  "good for this job's checkpoints only, while its attempt runs or is in its\n"
  "preemption grace) as its token. Outside a task, name the JOB and use a\n"
  "token of its tenant. Prints the time recorded.\n"
  "\n"
  SC_CLI_COMMON_HELP;

static const char preempt_help[] =
  "usage: supercell preempt JOB [--by JOB] [--kind reclaim|priority|operator]\n"
  "\n"
  "Evicts a running job now (admin): it goes back to pending whole, its\n"
  "tasks get the job's preempt_signal and the notice file\n"
  "SUPERCELL_PREEMPTED, then SIGKILL after its checkpoint_grace. The attempt\n"
  "ends as preempted and uses up none of the job's retries.\n"
  "\n"
  "  --by JOB          the job it makes room for (shown in the reason)\n"
  "  --kind K          reclaim, priority or operator (default operator)\n"
  SC_CLI_COMMON_HELP;

/* Checks that an id is safe to put in a URL path. */
static int check_id(struct sc_cli *c, const char *id)
{
  if (!*id || strlen(id) > 64 || strspn(id, "abcdefghijklmnopqrstuvwxyz"
                                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != strlen(id))
    return sc_cli_usage_error(c, "bad job id '%s'", id);
  return 0;
}

int sc_cli_checkpoint(int argc, char **argv)
{
  static const struct option opts[] = {SC_CLI_COMMON_OPTIONS};
  struct sc_cli c = {.cmd = "checkpoint"};
  const char *own = getenv("SUPERCELL_JOB_ID"), *token = getenv("SUPERCELL_TASK_TOKEN");
  const char *job = own;
  json_t *reply = NULL;
  char path[160];
  int opt, rc = 0;

  optind = 0;
  while (rc == 0 && (opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1)
    rc = sc_cli_common_option(&c, opt, optarg);
  if (rc == 0 && c.help) {
    fputs(checkpoint_help, stdout);
    return 0;
  }
  if (rc == 0 && argc - optind > 1)
    rc = sc_cli_usage_error(&c, "unexpected argument '%s'", argv[optind + 1]);
  if (rc == 0 && argc - optind == 1)
    job = argv[optind];
  if (rc == 0 && job && own && strcmp(job, own) == 0 && token && *token && !c.token)
    c.token = strdup(token); /* inside a task: its own credential */
  if (rc == 0 && (!job || !*job))
    rc = sc_cli_usage_error(&c, "name the job (or run it inside a task)");
  if (rc == 0 && (rc = check_id(&c, job)) == 0 && (rc = sc_cli_connect(&c)) == 0) {
    snprintf(path, sizeof path, "/v1/jobs/%s/checkpoint", job);
    if ((rc = sc_cli_call(&c, "POST", path, NULL, 30000, &reply)) == 0) {
      if (c.json)
        sc_cli_print_json(reply);
      else
        printf("%s checkpoint at %s\n", sc_cli_str(reply, "id", job),
               sc_cli_str(reply, "last_checkpoint_at", "?"));
    }
  }
  json_decref(reply);
  sc_cli_release(&c);
  return rc;
}

int sc_cli_preempt(int argc, char **argv)
{
  static const struct option opts[] = {
    {"by", required_argument, NULL, 'b'}, {"kind", required_argument, NULL, 'k'},
    SC_CLI_COMMON_OPTIONS,
  };
  struct sc_cli c = {.cmd = "preempt"};
  json_t *body = json_object(), *reply = NULL;
  char path[160];
  int opt, rc = 0;

  optind = 0;
  while (rc == 0 && (opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    if (opt == 'b')
      rc = check_id(&c, optarg) == 0 ? json_object_set_new(body, "by", json_string(optarg)), 0
                                     : SC_CLI_USAGE;
    else if (opt == 'k')
      json_object_set_new(body, "kind", json_string(optarg));
    else
      rc = sc_cli_common_option(&c, opt, optarg);
  }
  if (rc == 0 && c.help) {
    fputs(preempt_help, stdout);
  } else if (rc == 0 && argc - optind != 1) {
    rc = sc_cli_usage_error(&c, argc - optind < 1 ? "missing argument" : "unexpected argument");
  } else if (rc == 0 && (rc = check_id(&c, argv[optind])) == 0 &&
             (rc = sc_cli_connect(&c)) == 0) {
    snprintf(path, sizeof path, "/v1/jobs/%s/preempt", argv[optind]);
    if ((rc = sc_cli_call(&c, "POST", path, body, 30000, &reply)) == 0) {
      if (c.json)
        sc_cli_print_json(reply);
      else
        printf("%s %s: %s\n", sc_cli_str(reply, "id", argv[optind]),
               sc_cli_str(reply, "state", "?"), sc_cli_str(reply, "reason", ""));
    }
  }
  json_decref(body);
  json_decref(reply);
  sc_cli_release(&c);
  return rc;
}
