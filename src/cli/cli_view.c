/* `supercell jobs`, `job`, `cancel` and `nodes`: read the REST API and
 * print aligned tables (or the API's JSON with -o json). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/table.h"
#include "util/clock.h"
#include "util/units.h"

/* Parses the common flags only; the command takes max_args positionals.
 * Returns 0 (positionals from optind), an exit code, or -1 after --help. */
static int simple_parse(struct sc_cli *c, int argc, char **argv, const char *help,
                        int min_args, int max_args)
{
  static const struct option opts[] = {SC_CLI_COMMON_OPTIONS};
  int opt, rc;

  optind = 0;
  while ((opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1)
    if ((rc = sc_cli_common_option(c, opt, optarg)) != 0)
      return rc;
  if (c->help) {
    fputs(help, stdout);
    return -1;
  }
  if (argc - optind < min_args)
    return sc_cli_usage_error(c, "missing argument");
  if (argc - optind > max_args)
    return sc_cli_usage_error(c, "unexpected argument '%s'", argv[optind + max_args]);
  return sc_cli_connect(c);
}

/* Checks that an id is safe to put in a URL path. */
static int check_id(struct sc_cli *c, const char *id)
{
  if (!*id || strlen(id) > 64 || strspn(id, "abcdefghijklmnopqrstuvwxyz"
                                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != strlen(id))
    return sc_cli_usage_error(c, "bad job id '%s'", id);
  return 0;
}

void sc_cli_job_row(json_t *job, int64_t now, struct sc_table *t)
{
  char tasks[32], gpus[32], age[32];
  const char *cells[8];

  sc_cli_job_tasks(job, tasks, sizeof tasks);
  sc_cli_job_gpus(job, gpus, sizeof gpus);
  sc_cli_age(sc_cli_str(job, "created_at", NULL), now, age, sizeof age);
  json_t *array = json_object_get(job, "array");
  char id[96], why[160];

  snprintf(id, sizeof id, "%s", sc_cli_str(job, "id", "?"));
  if (json_is_object(array)) { /* one line for all elements, as squeue: ID_[0-99%10] */
    json_t *counts = json_object_get(array, "counts"), *v;
    const char *state;
    size_t len;
    snprintf(id, sizeof id, "%s_[%s]", sc_cli_str(job, "id", "?"),
             sc_cli_str(array, "indices", "?"));
    len = (size_t)snprintf(why, sizeof why, "%lld elements:",
                           (long long)json_integer_value(json_object_get(array, "size")));
    json_object_foreach(counts, state, v) {
      if (json_integer_value(v) > 0 && len < sizeof why)
        len += (size_t)snprintf(why + len, sizeof why - len, " %lld %s",
                                (long long)json_integer_value(v), state);
    }
  }
  cells[0] = id;
  cells[1] = sc_cli_str(job, "name", sc_cli_str(json_object_get(job, "spec"), "name", NULL));
  cells[2] = sc_cli_str(job, "tenant", NULL);
  cells[3] = sc_cli_str(job, "state", NULL);
  cells[4] = tasks;
  cells[5] = gpus;
  cells[6] = age;
  /* A pending job says why it waits (Slurm's words), an ended one why it ended. */
  cells[7] = json_is_object(array) ? why
             : json_is_string(json_object_get(job, "pending_reason"))
               ? sc_cli_str(job, "pending_reason", NULL)
               : sc_cli_str(job, "reason", NULL);
  sc_table_add(t, cells);
}

void sc_cli_print_jobs(json_t *jobs, int64_t now, FILE *out)
{
  static const char *const headers[] = {"ID", "NAME", "TENANT", "STATE", "TASKS",
                                        "GPUS", "AGE", "REASON", NULL};
  struct sc_table t;
  size_t i;
  json_t *job;

  sc_table_init(&t, headers);
  json_array_foreach(jobs, i, job)
    sc_cli_job_row(job, now, &t);
  sc_table_print(&t, out);
  sc_table_release(&t);
}

static const char jobs_help[] =
  "usage: supercell jobs [--state S] [--tenant T] [--expand | --array ID]\n"
  "                     [--limit N | --all]\n"
  "\n"
  "Lists jobs, oldest first: the last N (default 100), or all with --all.\n"
  "An array is one line (ID_[INDICES]) with its elements counted by state.\n"
  "\n"
  "  --expand          show each array element on its own line (ID_INDEX)\n"
  "  --array ID        only the elements of array ID\n"
  "  --state S         pending, running, succeeded, failed or cancelled\n"
  "  --tenant T        only this tenant's jobs (admin)\n"
  "  --limit N         show the last N jobs (default 100)\n"
  "  --all             show every job\n"
  SC_CLI_COMMON_HELP;

struct jobs_query {
  const char *state, *tenant, *array;
  long long limit;
  bool expand;
};

/* Fetches every page of /v1/jobs into jobs, keeping the last q->limit. */
static int jobs_fetch(struct sc_cli *c, const struct jobs_query *q, json_t *jobs)
{
  char path[768], after[128] = "", esc[4][200];
  json_t *page;
  int rc;

  for (;;) {
    snprintf(path, sizeof path, "/v1/jobs?limit=100%s%s%s%s%s%s%s%s%s",
             q->state ? "&state=" : "", q->state ? sc_http_escape(q->state, esc[0], 200) : "",
             q->tenant ? "&tenant=" : "", q->tenant ? sc_http_escape(q->tenant, esc[1], 200) : "",
             after[0] ? "&after=" : "", after[0] ? sc_http_escape(after, esc[2], 200) : "",
             q->expand ? "&expand=1" : "", q->array ? "&array=" : "",
             q->array ? sc_http_escape(q->array, esc[3], 200) : "");
    if ((rc = sc_cli_call(c, "GET", path, NULL, 30000, &page)) != 0)
      return rc;
    json_array_extend(jobs, json_object_get(page, "jobs"));
    while (q->limit > 0 && json_array_size(jobs) > (size_t)q->limit)
      json_array_remove(jobs, 0);
    snprintf(after, sizeof after, "%s", sc_cli_str(page, "next", ""));
    json_decref(page);
    if (!after[0])
      return 0;
  }
}

int sc_cli_jobs(int argc, char **argv)
{
  static const struct option opts[] = {
    {"state", required_argument, NULL, 's'}, {"tenant", required_argument, NULL, 'T'},
    {"limit", required_argument, NULL, 'l'}, {"all", no_argument, NULL, 'a'},
    {"expand", no_argument, NULL, 'x'}, {"array", required_argument, NULL, 'A'},
    SC_CLI_COMMON_OPTIONS,
  };
  struct sc_cli c = {.cmd = "jobs"};
  struct jobs_query q = {NULL, NULL, NULL, 100, false};
  json_t *jobs = json_array();
  int opt, rc = 0;

  optind = 0;
  while (rc == 0 && (opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    if (opt == 's')
      q.state = optarg;
    else if (opt == 'T')
      q.tenant = optarg;
    else if (opt == 'a')
      q.limit = 0;
    else if (opt == 'x')
      q.expand = true;
    else if (opt == 'A')
      q.array = optarg;
    else if (opt == 'l' && sc_cli_parse_int(optarg, 1, 1000000000, &q.limit) != 0)
      rc = sc_cli_usage_error(&c, "bad value for '--limit': \"%s\"", optarg);
    else if (opt != 'l')
      rc = sc_cli_common_option(&c, opt, optarg);
  }
  if (rc == 0 && c.help)
    fputs(jobs_help, stdout);
  else if (rc == 0 && optind < argc)
    rc = sc_cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
  else if (rc == 0 && (rc = sc_cli_connect(&c)) == 0 && (rc = jobs_fetch(&c, &q, jobs)) == 0) {
    if (c.json) {
      json_t *out = json_pack("{s:O, s:n}", "jobs", jobs, "next");
      sc_cli_print_json(out);
      json_decref(out);
    } else {
      sc_cli_print_jobs(jobs, sc_clock_wall_ms(), stdout);
    }
  }
  json_decref(jobs);
  sc_cli_release(&c);
  return rc;
}

static void command_text(json_t *cmd, char *buf, size_t size)
{
  size_t len = 0, i;
  json_t *arg;

  if (json_is_string(cmd)) {
    snprintf(buf, size, "%s", json_string_value(cmd));
    return;
  }
  buf[0] = '\0';
  json_array_foreach(cmd, i, arg)
    if (len < size)
      len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? " " : "",
                              json_string_value(arg) ? json_string_value(arg) : "?");
}

static void task_row(json_t *task, struct sc_table *t)
{
  char index[16], devices[128] = "", exit_s[32] = "", attempt[16], share[32];
  json_t *d, *code = json_object_get(task, "exit_code"), *sig = json_object_get(task, "signal");
  const char *cells[7];
  size_t i, len = 0;

  snprintf(index, sizeof index, "%lld", (long long)json_integer_value(json_object_get(task, "index")));
  json_array_foreach(json_object_get(task, "devices"), i, d)
    if (len < sizeof devices)
      len += (size_t)snprintf(devices + len, sizeof devices - len, "%s%lld", i ? "," : "",
                              (long long)json_integer_value(d));
  sc_cli_milli(json_integer_value(json_object_get(task, "gpu_milli")), share, sizeof share);
  if (json_is_integer(code))
    snprintf(exit_s, sizeof exit_s, "%lld", (long long)json_integer_value(code));
  else if (json_is_integer(sig))
    snprintf(exit_s, sizeof exit_s, "signal %lld", (long long)json_integer_value(sig));
  snprintf(attempt, sizeof attempt, "%lld",
           (long long)json_integer_value(json_object_get(task, "attempt")));
  cells[0] = index;
  cells[1] = sc_cli_str(task, "state", NULL);
  cells[2] = sc_cli_str(task, "node", NULL);
  cells[3] = devices;
  cells[4] = len ? share : NULL;
  cells[5] = exit_s;
  cells[6] = attempt;
  sc_table_add(t, cells);
}

void sc_cli_print_job(json_t *job, int64_t now, FILE *out)
{
  static const char *const headers[] = {"TASK", "STATE", "NODE", "DEVICES", "SHARE",
                                        "EXIT", "ATTEMPT", NULL};
  json_t *spec = json_object_get(job, "spec"), *task;
  char cmd[1024], age[32], gpus[32];
  struct sc_table t;
  size_t i;

  command_text(json_object_get(spec, "command"), cmd, sizeof cmd);
  sc_cli_age(sc_cli_str(job, "created_at", NULL), now, age, sizeof age);
  sc_cli_job_gpus(job, gpus, sizeof gpus);
  fprintf(out, "ID:        %s\n", sc_cli_str(job, "id", "?"));
  fprintf(out, "NAME:      %s\n", sc_cli_str(job, "name", sc_cli_str(spec, "name", "-")));
  fprintf(out, "TENANT:    %s\n", sc_cli_str(job, "tenant", "-"));
  fprintf(out, "STATE:     %s\n", sc_cli_str(job, "state", "-"));
  fprintf(out, "REASON:    %s\n", json_is_string(json_object_get(job, "pending_reason"))
                                     ? sc_cli_str(job, "pending_reason", "-")
                                     : sc_cli_str(job, "reason", "-"));
  fprintf(out, "CREATED:   %s (%s ago)\n", sc_cli_str(job, "created_at", "-"), age);
  fprintf(out, "STARTED:   %s\n", sc_cli_str(job, "started_at", "-"));
  fprintf(out, "FINISHED:  %s\n", sc_cli_str(job, "finished_at", "-"));
  fprintf(out, "ATTEMPT:   %lld", (long long)json_integer_value(json_object_get(job, "attempt")));
  if (json_integer_value(json_object_get(job, "preemptions")) > 0)
    fprintf(out, " (%lld preempted: no retry used)",
            (long long)json_integer_value(json_object_get(job, "preemptions")));
  fputc('\n', out);
  if (json_is_string(json_object_get(job, "last_checkpoint_at")))
    fprintf(out, "CHECKPOINT: %s\n", sc_cli_str(job, "last_checkpoint_at", "-"));
  fprintf(out, "COMMAND:   %s\n", cmd);
  fprintf(out, "GPUS:      %s\n", gpus);
  if (json_is_object(json_object_get(job, "array"))) { /* elements, not tasks */
    json_t *array = json_object_get(job, "array"), *v;
    const char *state;
    fprintf(out, "ARRAY:     %s, %lld elements:", sc_cli_str(array, "indices", "?"),
            (long long)json_integer_value(json_object_get(array, "size")));
    json_object_foreach(json_object_get(array, "counts"), state, v) {
      if (json_integer_value(v) > 0)
        fprintf(out, " %lld %s", (long long)json_integer_value(v), state);
    }
    fprintf(out, "\n          (supercell jobs --array %s; supercell job %s_INDEX)\n",
            sc_cli_str(job, "id", "?"), sc_cli_str(job, "id", "?"));
    return;
  }
  if (json_is_string(json_object_get(job, "array_job_id")))
    fprintf(out, "ARRAY:     %s, index %lld\n", sc_cli_str(job, "array_job_id", "?"),
            (long long)json_integer_value(json_object_get(job, "array_index")));
  if (json_is_array(spec ? json_object_get(spec, "after") : NULL)) {
    json_t *d;
    fprintf(out, "AFTER:    ");
    json_array_foreach(json_object_get(spec, "after"), i, d)
      fprintf(out, " %s", json_string_value(d));
    fprintf(out, "\n");
  }
  fputc('\n', out);
  sc_table_init(&t, headers);
  json_array_foreach(json_object_get(job, "tasks"), i, task)
    task_row(task, &t);
  sc_table_print(&t, out);
  sc_table_release(&t);
}

/* Appends the job's further pages of tasks to its "tasks" (the controller
 * sends the first page with the job). */
static int all_tasks(struct sc_cli *c, const char *id, json_t *job)
{
  json_t *tasks = json_object_get(job, "tasks"), *next = json_object_get(job, "tasks_next");
  char path[256];
  int rc = 0;

  while (rc == 0 && json_is_integer(next) && json_is_array(tasks)) {
    json_t *page = NULL;
    snprintf(path, sizeof path, "/v1/jobs/%s/tasks?after=%lld&limit=1000", id,
             (long long)json_integer_value(next));
    if ((rc = sc_cli_call(c, "GET", path, NULL, 30000, &page)) == 0) {
      json_array_extend(tasks, json_object_get(page, "tasks"));
      json_object_set(job, "tasks_next", json_object_get(page, "next"));
      next = json_object_get(job, "tasks_next");
    }
    json_decref(page);
  }
  return rc;
}

static const char job_help[] =
  "usage: supercell job ID\n\nShows one job and its tasks.\n\n" SC_CLI_COMMON_HELP;

int sc_cli_job(int argc, char **argv)
{
  struct sc_cli c = {.cmd = "job"};
  char path[256];
  json_t *job = NULL;
  int rc = simple_parse(&c, argc, argv, job_help, 1, 1);

  if (rc == 0 && (rc = check_id(&c, argv[optind])) == 0) {
    snprintf(path, sizeof path, "/v1/jobs/%s", argv[optind]);
    if ((rc = sc_cli_call(&c, "GET", path, NULL, 30000, &job)) == 0 &&
        (rc = all_tasks(&c, argv[optind], job)) == 0) {
      if (c.json)
        sc_cli_print_json(job);
      else
        sc_cli_print_job(job, sc_clock_wall_ms(), stdout);
    }
  }
  json_decref(job);
  sc_cli_release(&c);
  return rc < 0 ? 0 : rc;
}

static const char cancel_help[] =
  "usage: supercell cancel ID\n\n"
  "Cancels a job: its tasks get SIGTERM, then SIGKILL after the grace period.\n\n"
  SC_CLI_COMMON_HELP;

static const char hold_help[] =
  "usage: supercell hold ID\n\nKeeps a pending job from starting until 'supercell release ID'.\n\n"
  SC_CLI_COMMON_HELP;
static const char release_help[] =
  "usage: supercell release ID\n\nLets a held job start (it was submitted with --hold, or held).\n\n"
  SC_CLI_COMMON_HELP;

/* hold / release ID. */
static int hold_cmd(int argc, char **argv, const char *verb, const char *help)
{
  struct sc_cli c = {.cmd = verb};
  char path[256];
  json_t *job = NULL;
  int rc = simple_parse(&c, argc, argv, help, 1, 1);

  if (rc == 0 && (rc = check_id(&c, argv[optind])) == 0) {
    snprintf(path, sizeof path, "/v1/jobs/%s/%s", argv[optind], verb);
    if ((rc = sc_cli_call(&c, "POST", path, NULL, 30000, &job)) == 0) {
      if (c.json)
        sc_cli_print_json(job);
      else
        printf("%s %s\n", sc_cli_str(job, "id", argv[optind]),
               strcmp(verb, "hold") == 0 ? "held" : "released");
    }
  }
  json_decref(job);
  sc_cli_release(&c);
  return rc < 0 ? 0 : rc;
}

int sc_cli_hold(int argc, char **argv)
{
  return hold_cmd(argc, argv, "hold", hold_help);
}

int sc_cli_release_job(int argc, char **argv)
{
  return hold_cmd(argc, argv, "release", release_help);
}

int sc_cli_cancel(int argc, char **argv)
{
  struct sc_cli c = {.cmd = "cancel"};
  char path[256];
  json_t *job = NULL;
  int rc = simple_parse(&c, argc, argv, cancel_help, 1, 1);

  if (rc == 0 && (rc = check_id(&c, argv[optind])) == 0) {
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", argv[optind]);
    if ((rc = sc_cli_call(&c, "POST", path, NULL, 30000, &job)) == 0) {
      if (c.json)
        sc_cli_print_json(job);
      else
        printf("%s %s\n", sc_cli_str(job, "id", argv[optind]), sc_cli_str(job, "state", "cancelled"));
    }
  }
  json_decref(job);
  sc_cli_release(&c);
  return rc < 0 ? 0 : rc;
}

void sc_cli_print_nodes(json_t *nodes, int64_t now, FILE *out)
{
  static const char *const headers[] = {"NODE", "STATE", "CPU", "MEMORY", "DEVICES",
                                        "LABELS", "AGE", NULL};
  char cpu[32], mem[32], devices[512], labels[512], age[32], state[48];
  const char *cells[7];
  struct sc_table t;
  size_t i;
  json_t *n;

  sc_table_init(&t, headers);
  json_array_foreach(nodes, i, n) {
    const char *since = sc_cli_str(n, "created_at", sc_cli_str(n, "registered_at", NULL));
    sc_cli_milli(json_integer_value(json_object_get(n, "cpu_milli")), cpu, sizeof cpu);
    sc_format_memory(json_integer_value(json_object_get(n, "memory_mib")), mem, sizeof mem);
    sc_cli_node_devices(json_object_get(n, "devices"), devices, sizeof devices);
    sc_cli_labels(json_object_get(n, "labels"), labels, sizeof labels);
    sc_cli_age(since, now, age, sizeof age);
    cells[0] = sc_cli_str(n, "name", "?");
    snprintf(state, sizeof state, "%s%s", sc_cli_str(n, "state", "?"),
             json_is_true(json_object_get(n, "drained")) ? ",drained" : "");
    cells[1] = state;
    cells[2] = cpu, cells[3] = mem, cells[4] = devices, cells[5] = labels, cells[6] = age;
    sc_table_add(&t, cells);
  }
  sc_table_print(&t, out);
  sc_table_release(&t);
}

static const char nodes_help[] =
  "usage: supercell nodes\n"
  "       supercell nodes drain NAME | undrain NAME\n\n"
  "Lists nodes: CPU (cores), memory, devices by model with the share in use,\n"
  "labels and age. drain (admin) takes a node out of service: no new work goes\n"
  "there; drained while lost, its jobs kept through the outage (on_disconnect:\n"
  "keep) are requeued. undrain puts it back.\n\n" SC_CLI_COMMON_HELP;

int sc_cli_nodes(int argc, char **argv)
{
  struct sc_cli c = {.cmd = "nodes"};
  json_t *reply = NULL;
  int rc = simple_parse(&c, argc, argv, nodes_help, 0, 2);
  char path[200];

  if (rc == 0 && argc - optind > 0) { /* nodes drain|undrain NAME */
    const char *verb = argv[optind];
    if (argc - optind != 2 || (strcmp(verb, "drain") != 0 && strcmp(verb, "undrain") != 0) ||
        strlen(argv[optind + 1]) > 63 || strchr(argv[optind + 1], '/')) {
      rc = sc_cli_usage_error(&c, "want 'nodes', 'nodes drain NAME' or 'nodes undrain NAME'");
    } else {
      snprintf(path, sizeof path, "/v1/nodes/%s/%s", argv[optind + 1], verb);
      if ((rc = sc_cli_call(&c, "POST", path, NULL, 30000, &reply)) == 0) {
        if (c.json)
          sc_cli_print_json(reply);
        else
          printf("node %s %s\n", argv[optind + 1], strcmp(verb, "drain") == 0 ? "drained" : "undrained");
      }
    }
    json_decref(reply);
    sc_cli_release(&c);
    return rc < 0 ? 0 : rc;
  }
  if (rc == 0 && (rc = sc_cli_call(&c, "GET", "/v1/nodes", NULL, 30000, &reply)) == 0) {
    if (c.json)
      sc_cli_print_json(reply);
    else
      sc_cli_print_nodes(json_object_get(reply, "nodes"), sc_clock_wall_ms(), stdout);
  }
  json_decref(reply);
  sc_cli_release(&c);
  return rc < 0 ? 0 : rc;
}
