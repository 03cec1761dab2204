/* `supercell logs ID [--task N] [-f]`: prints a job's output; -f long-polls
 * (GET /v1/jobs/ID/logs?wait=25) and follows it until the task ends. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"

static const char logs_help[] =
  "usage: supercell logs ID [--task N] [-f]\n"
  "\n"
  "Prints a job's output (stdout and stderr); all tasks', or task 0's for a\n"
  "one-task job, unless --task is given.\n"
  "\n"
  "  --task N          only task N's output\n"
  "  -f, --follow      keep printing new output until the task ends\n"
  SC_CLI_COMMON_HELP;

struct logs_opts {
  const char *id;
  long long task;   /* -1: all */
  bool follow;
};

static int logs_parse(struct sc_cli *c, struct logs_opts *o, int argc, char **argv)
{
  static const struct option opts[] = {
    {"task", required_argument, NULL, 't'}, {"follow", no_argument, NULL, 'f'},
    SC_CLI_COMMON_OPTIONS,
  };
  int opt, rc;

  optind = 0;
  while ((opt = getopt_long(argc, argv, "fo:h", opts, NULL)) != -1) {
    if (opt == 'f')
      o->follow = true;
    else if (opt == 't' && sc_cli_parse_int(optarg, 0, 1 << 20, &o->task) != 0)
      return sc_cli_usage_error(c, "bad value for '--task': \"%s\"", optarg);
    else if (opt != 't' && (rc = sc_cli_common_option(c, opt, optarg)) != 0)
      return rc;
  }
  if (c->help)
    return 0;
  if (optind >= argc)
    return sc_cli_usage_error(c, "missing job id");
  if (optind + 1 < argc)
    return sc_cli_usage_error(c, "unexpected argument '%s'", argv[optind + 1]);
  o->id = argv[optind];
  if (!*o->id || strspn(o->id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789-_.") != strlen(o->id) || strlen(o->id) > 64)
    return sc_cli_usage_error(c, "bad job id '%s'", o->id);
  return 0;
}

/* Fetches and prints from offset until done (or, without -f, until no new
 * data is there). */
static int logs_run(struct sc_cli *c, const struct logs_opts *o)
{
  long long offset = 0;
  char path[256], task[32] = "";
  json_t *reply;
  int rc;

  if (o->task >= 0)
    snprintf(task, sizeof task, "&task=%lld", o->task);
  for (;;) {
    json_t *data;
    size_t len;
    snprintf(path, sizeof path, "/v1/jobs/%s/logs?offset=%lld&wait=%d%s", o->id, offset,
             o->follow ? 25 : 0, task);
    if ((rc = sc_cli_call(c, "GET", path, NULL, 40000, &reply)) != 0)
      return rc;
    data = json_object_get(reply, "data");
    len = json_string_length(data);
    if (c->json) {
      char *text = json_dumps(reply, JSON_COMPACT);
      if (text)
        printf("%s\n", text);
      free(text);
    } else if (len) {
      fwrite(json_string_value(data), 1, len, stdout);
    }
    fflush(stdout);
    if (json_is_integer(json_object_get(reply, "offset")))
      offset = json_integer_value(json_object_get(reply, "offset"));
    else
      offset += (long long)len;
    if (json_is_true(json_object_get(reply, "done")) || (!o->follow && len == 0)) {
      json_decref(reply);
      return 0;
    }
    json_decref(reply);
  }
}

int sc_cli_logs(int argc, char **argv)
{
  struct sc_cli c = {.cmd = "logs"};
  struct logs_opts o = {NULL, -1, false};
  int rc = logs_parse(&c, &o, argc, argv);

  if (rc == 0 && c.help)
    fputs(logs_help, stdout);
  else if (rc == 0 && (rc = sc_cli_connect(&c)) == 0)
    rc = logs_run(&c, &o);
  sc_cli_release(&c);
  return rc;
}
