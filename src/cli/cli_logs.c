/* `supercell logs ID [--task N] [--attempt N] [-f] [--raw]`: prints a job's
 * output, each attempt of a retried job under a header line; -f long-polls
 * (GET /v1/jobs/ID/logs?wait=25) and follows it until the task ends. On a
 * terminal, control characters other than newline and tab are escaped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_int.h"

static const char logs_help[] =
  "usage: supercell logs ID [--task N] [--attempt N] [-f] [--raw]\n"
  "\n"
  "Prints a job's output (stdout and stderr); all tasks', or task 0's for a\n"
  "one-task job, unless --task is given. A retried job's attempts come one\n"
  "after the other, each under a line '== attempt N (retry after: REASON) =='.\n"
  "\n"
  "  --task N          only task N's output\n"
  "  --attempt N       only attempt N's output (0 is the first run)\n"
  "  -f, --follow      keep printing new output until the task ends\n"
  "  --raw             pass control characters through (on a terminal they are\n"
  "                    escaped, as \\x1b, except newline and tab)\n"
  SC_CLI_COMMON_HELP;

struct logs_opts {
  const char *id;
  long long task;   /* -1: all */
  long long attempt; /* -1: every attempt */
  bool follow;
  bool raw;         /* control characters as they are */
};

static int logs_parse(struct sc_cli *c, struct logs_opts *o, int argc, char **argv)
{
  static const struct option opts[] = {
    {"task", required_argument, NULL, 't'}, {"follow", no_argument, NULL, 'f'},
    {"attempt", required_argument, NULL, 'a'}, {"raw", no_argument, NULL, 'r'},
    SC_CLI_COMMON_OPTIONS,
  };
  int opt, rc;

  optind = 0;
  while ((opt = getopt_long(argc, argv, "fo:h", opts, NULL)) != -1) {
    if (opt == 'f')
      o->follow = true;
    else if (opt == 'r')
      o->raw = true;
    else if (opt == 't' && sc_cli_parse_int(optarg, 0, 1 << 20, &o->task) != 0)
      return sc_cli_usage_error(c, "bad value for '--task': \"%s\"", optarg);
    else if (opt == 'a' && sc_cli_parse_int(optarg, 0, 1 << 20, &o->attempt) != 0)
      return sc_cli_usage_error(c, "bad value for '--attempt': \"%s\"", optarg);
    else if (opt != 't' && opt != 'a' && (rc = sc_cli_common_option(c, opt, optarg)) != 0)
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

/* Writes len bytes of output: as they are, or with control characters
 * other than newline and tab escaped (a terminal must not take a task's
 * output for commands). */
static void put_output(const char *s, size_t len, bool escape)
{
  size_t from = 0;

  if (!escape) {
    fwrite(s, 1, len, stdout);
    return;
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if ((ch >= 0x20 && ch != 0x7f) || ch == '\n' || ch == '\t')
      continue;
    fwrite(s + from, 1, i - from, stdout);
    printf("\\x%02x", ch);
    from = i + 1;
  }
  fwrite(s + from, 1, len - from, stdout);
}

/* Fetches and prints one stream (a task's or the job's; one attempt's or
 * all) from offset 0 until done (or, without follow, until no new data is
 * there). */
static int print_stream(struct sc_cli *c, const struct logs_opts *o, long long attempt,
                        bool follow)
{
  long long offset = 0;
  char path[256], task[32] = "", att[32] = "";
  bool escape = !o->raw && !c->json && isatty(STDOUT_FILENO);
  json_t *reply;
  int rc;

  if (o->task >= 0)
    snprintf(task, sizeof task, "&task=%lld", o->task);
  if (attempt >= 0)
    snprintf(att, sizeof att, "&attempt=%lld", attempt);
  for (;;) {
    json_t *data;
    size_t len;
    snprintf(path, sizeof path, "/v1/jobs/%s/logs?offset=%lld&wait=%d%s%s", o->id, offset,
             follow ? 25 : 0, task, att);
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
      put_output(json_string_value(data), len, escape);
    }
    fflush(stdout);
    if (json_is_integer(json_object_get(reply, "offset")))
      offset = json_integer_value(json_object_get(reply, "offset"));
    else
      offset += (long long)len;
    if (json_is_true(json_object_get(reply, "done")) || (!follow && len == 0)) {
      json_decref(reply);
      return 0;
    }
    json_decref(reply);
  }
}

/* The job's attempts: one stream when it ran once or one was asked for,
 * else each under its header (the last one followed with -f). */
static int logs_run(struct sc_cli *c, const struct logs_opts *o)
{
  json_t *job = NULL;
  char path[160];
  long long cur;
  int rc;

  if (o->attempt >= 0)
    return print_stream(c, o, o->attempt, o->follow);
  snprintf(path, sizeof path, "/v1/jobs/%s", o->id);
  if ((rc = sc_cli_call(c, "GET", path, NULL, 30000, &job)) != 0)
    return rc;
  cur = json_integer_value(json_object_get(job, "attempt"));
  for (long long a = 0; rc == 0 && a <= cur && cur > 0; a++) {
    const char *why = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(job, "attempts"), i, e)
      if (json_integer_value(json_object_get(e, "attempt")) == a - 1)
        why = json_string_value(json_object_get(e, "reason"));
    if (!c->json) {
      if (why)
        printf("== attempt %lld (retry after: %s) ==\n", a, why);
      else
        printf("== attempt %lld ==\n", a);
    }
    rc = print_stream(c, o, a, o->follow && a == cur);
  }
  if (cur <= 0)
    rc = print_stream(c, o, -1, o->follow);
  json_decref(job);
  return rc;
}

int sc_cli_logs(int argc, char **argv)
{
  struct sc_cli c = {.cmd = "logs"};
  struct logs_opts o = {NULL, -1, -1, false, false};
  int rc = logs_parse(&c, &o, argc, argv);

  if (rc == 0 && c.help)
    fputs(logs_help, stdout);
  else if (rc == 0 && (rc = sc_cli_connect(&c)) == 0)
    rc = logs_run(&c, &o);
  sc_cli_release(&c);
  return rc;
}
