/* CLI unit tests: job spec YAML/JSON -> JSON with file:line:column errors,
 * table alignment and the cell formatters (ages, units, devices). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"
#include "cli/jobspec.h"
#include "cli/table.h"
#include "util/error.h"
#include "util/units.h"

static json_t *parse_ok(const char *text)
{
  char err[512] = "";
  json_t *j = NULL;
  int rc = sc_jobspec_parse(text, strlen(text), "job.yaml", &j, err, sizeof err);

  if (rc != 0)
    fprintf(stderr, "unexpected error: %s\n", err);
  assert_int_equal(rc, 0);
  assert_non_null(j);
  return j;
}

static void parse_fails(const char *text, const char *expect)
{
  char err[512] = "";
  json_t *j = (json_t *)1;

  assert_int_equal(sc_jobspec_parse(text, strlen(text), "job.yaml", &j, err, sizeof err),
                   SC_EPARSE);
  assert_null(j);
  if (!strstr(err, expect))
    fprintf(stderr, "error was: %s\n", err);
  assert_non_null(strstr(err, expect));
}

static void test_yaml_full_spec(void **state)
{
  const char *yaml =
    "# a training job\n"
    "name: train-llama\n"
    "tenant: research\n"
    "command: [python, train.py, --lr, \"3e-4\"]\n"
    "env:\n"
    "  WANDB_MODE: offline\n"
    "  SEED: \"42\"\n"
    "  DEBUG: 1\n"
    "tasks: 8\n"
    "resources:\n"
    "  cpu_milli: 4000\n"
    "  memory: 16Gi\n"
    "  gpus: 2\n"
    "models:\n"
    "  - A100-80G\n"
    "  - H100\n"
    "priority: -5\n"
    "max_runtime: 1h\n"
    "max_retries: 0\n"
    "workdir: ~\n"
    "ratio: 0.5\n"
    "flag: true\n";
  json_t *j = parse_ok(yaml), *expect;
  char *a, *b;

  (void)state;
  expect = json_loads(
    "{\"name\": \"train-llama\", \"tenant\": \"research\","
    " \"command\": [\"python\", \"train.py\", \"--lr\", \"3e-4\"],"
    " \"env\": {\"WANDB_MODE\": \"offline\", \"SEED\": \"42\", \"DEBUG\": \"1\"}, \"tasks\": 8,"
    " \"resources\": {\"cpu_milli\": 4000, \"memory\": \"16Gi\", \"gpus\": 2},"
    " \"models\": [\"A100-80G\", \"H100\"], \"priority\": -5, \"max_runtime\": \"1h\","
    " \"max_retries\": 0, \"workdir\": null, \"ratio\": 0.5, \"flag\": true}", 0, NULL);
  assert_non_null(expect);
  a = json_dumps(j, JSON_SORT_KEYS);
  b = json_dumps(expect, JSON_SORT_KEYS);
  assert_string_equal(a, b);
  free(a);
  free(b);
  json_decref(j);
  json_decref(expect);
}

static void test_yaml_scalars(void **state)
{
  json_t *j = parse_ok("a: 'yes'\nb: yes\nc: 0x10\nd: \"1\"\ne: |\n  echo hi\n  exit 3\n"
                       "f: 1e3\ng: .inf\nh: 99999999999999999999\nk: False\n");

  (void)state;
  assert_string_equal(json_string_value(json_object_get(j, "a")), "yes");
  assert_string_equal(json_string_value(json_object_get(j, "b")), "yes"); /* YAML 1.2 */
  assert_string_equal(json_string_value(json_object_get(j, "c")), "0x10");
  assert_string_equal(json_string_value(json_object_get(j, "d")), "1");
  assert_string_equal(json_string_value(json_object_get(j, "e")), "echo hi\nexit 3\n");
  assert_true(json_is_real(json_object_get(j, "f")));
  assert_string_equal(json_string_value(json_object_get(j, "g")), ".inf");
  assert_true(json_is_string(json_object_get(j, "h"))); /* too big for an integer */
  assert_true(json_is_false(json_object_get(j, "k")));
  json_decref(j);
}

/* Under command, args and env every scalar is the text it was written as
 * (a process gets strings); elsewhere YAML's types stand. */
static void test_yaml_command_env_strings(void **state)
{
  json_t *j = parse_ok("name: t\ntasks: 2\ncommand: [python, train.py, --lr, 0.001, 3, true, null]\n"
                       "env: {EPOCHS: 3, LR: 1e-3, FLAG: yes, NONE: ~}\nargs: [1]\n");
  json_t *cmd = json_object_get(j, "command"), *env = json_object_get(j, "env");
  static const char *const want[] = {"python", "train.py", "--lr", "0.001", "3", "true", "null"};

  (void)state;
  assert_int_equal(json_integer_value(json_object_get(j, "tasks")), 2);
  assert_int_equal(json_array_size(cmd), 7);
  for (size_t i = 0; i < 7; i++)
    assert_string_equal(json_string_value(json_array_get(cmd, i)), want[i]);
  assert_string_equal(json_string_value(json_object_get(env, "EPOCHS")), "3");
  assert_string_equal(json_string_value(json_object_get(env, "LR")), "1e-3");
  assert_string_equal(json_string_value(json_object_get(env, "FLAG")), "yes");
  assert_string_equal(json_string_value(json_object_get(env, "NONE")), "~");
  assert_string_equal(json_string_value(json_array_get(json_object_get(j, "args"), 0)), "1");
  json_decref(j);
}

static void test_json_spec(void **state)
{
  json_t *j = parse_ok("  {\"name\": \"x\", \"command\": \"echo hi\"}\n");

  (void)state;
  assert_string_equal(json_string_value(json_object_get(j, "command")), "echo hi");
  json_decref(j);
  parse_fails("{\"name\": \"x\",\n \"tasks\": }", "job.yaml:2:");
  parse_fails("{\"a\": 1, \"a\": 2}", "duplicate");
}

static void test_yaml_errors(void **state)
{
  (void)state;
  parse_fails("name: x\ncommand: [a, b\n", "job.yaml:3:1: did not find expected ',' or ']'");
  parse_fails("name: x\n  bad: indent\n", "job.yaml:2:6: mapping values are not allowed");
  parse_fails("name: x\ntasks: 1\nname: y\n", "job.yaml:3:1: duplicate key 'name'");
  parse_fails("- a\n- b\n", "job.yaml:1:1: a job spec must be a mapping");
  parse_fails("", "job.yaml:1:1: empty job spec");
  parse_fails("# only a comment\n", "empty job spec");
  parse_fails("name: x\n---\nname: y\n", "job.yaml:3:1: only one YAML document");
  parse_fails("name: \"unterminated\n", "job.yaml:2:1: found unexpected end of stream");
  parse_fails("[1, 2]", "must be a mapping");
}

static void test_default_name(void **state)
{
  char buf[64];

  (void)state;
  sc_jobspec_default_name("/usr/bin/python3", buf, sizeof buf);
  assert_string_equal(buf, "python3");
  sc_jobspec_default_name("echo hi && sleep 1", buf, sizeof buf);
  assert_string_equal(buf, "echo");
  sc_jobspec_default_name("a+b", buf, sizeof buf);
  assert_string_equal(buf, "a-b");
  sc_jobspec_default_name("", buf, sizeof buf);
  assert_string_equal(buf, "job");
}

static char *capture(void (*fn)(json_t *, int64_t, FILE *), json_t *arg, int64_t now)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);

  fn(arg, now, f);
  fclose(f);
  return buf;
}

static void test_table_alignment(void **state)
{
  static const char *const headers[] = {"ID", "NAME", "STATE", NULL};
  const char *row1[] = {"j-000001", "a-long-name", "running"};
  const char *row2[] = {"j-2", "", NULL};
  const char *row3[] = {"j-3", "caf\xc3\xa9", "ok"};
  struct sc_table t;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);

  (void)state;
  sc_table_init(&t, headers);
  sc_table_add(&t, row1);
  sc_table_add(&t, row2);
  sc_table_add(&t, row3);
  assert_int_equal(sc_table_print(&t, f), 0);
  fclose(f);
  assert_string_equal(buf,
                      "ID         NAME          STATE\n"
                      "j-000001   a-long-name   running\n"
                      "j-2        -             -\n"
                      "j-3        caf\xc3\xa9          ok\n");
  free(buf);
  sc_table_release(&t);
}

static void test_formatters(void **state)
{
  char buf[128];
  int64_t ms;
  json_t *spec;

  (void)state;
  assert_int_equal(sc_parse_rfc3339_ms("2026-11-29T10:00:00.123Z", &ms), 0);
  assert_int_equal(ms, 1795946400123LL);
  assert_int_equal(sc_parse_rfc3339_ms("2026-11-29T10:00:00Z", &ms), 0);
  assert_int_equal(sc_parse_rfc3339_ms("yesterday", &ms), SC_EPARSE);
  sc_cli_age("2026-11-29T10:00:00.000Z", 1795946400000LL + 5 * 60000 + 1000, buf, sizeof buf);
  assert_string_equal(buf, "5m");
  sc_cli_age("2026-11-29T10:00:00.000Z", 1795946400000LL + 42000, buf, sizeof buf);
  assert_string_equal(buf, "42s");
  sc_cli_age(NULL, 0, buf, sizeof buf);
  assert_string_equal(buf, "-");
  sc_cli_milli(16000, buf, sizeof buf);
  assert_string_equal(buf, "16");
  sc_cli_milli(250, buf, sizeof buf);
  assert_string_equal(buf, "0.25");
  sc_cli_milli(1500, buf, sizeof buf);
  assert_string_equal(buf, "1.5");
  spec = json_loads("{\"tasks\": 8, \"resources\": {\"gpus\": 2}}", 0, NULL);
  sc_cli_job_gpus(spec, buf, sizeof buf);
  assert_string_equal(buf, "16");
  json_decref(spec);
  spec = json_loads("{\"tasks\": 3, \"resources\": {\"gpu_milli\": 250}}", 0, NULL);
  sc_cli_job_gpus(spec, buf, sizeof buf);
  assert_string_equal(buf, "0.75");
  json_decref(spec);
  /* A list summary: task_count 4 x 2 GPUs. */
  spec = json_loads("{\"task_count\": 4, \"resources\": {\"gpus\": 2}}", 0, NULL);
  sc_cli_job_gpus(spec, buf, sizeof buf);
  assert_string_equal(buf, "8");
  json_decref(spec);
  spec = json_loads("[{\"vendor\": \"nvidia\", \"model\": \"A100\", \"milli_used\": 1000},"
                    " {\"vendor\": \"nvidia\", \"model\": \"A100\", \"milli_used\": 250},"
                    " {\"vendor\": \"ascend\", \"model\": \"910B\", \"milli_used\": 0}]", 0, NULL);
  sc_cli_node_devices(spec, buf, sizeof buf);
  assert_string_equal(buf, "2x nvidia:A100 (1.25 used), 1x ascend:910B (0 used)");
  json_decref(spec);
  sc_cli_node_devices(NULL, buf, sizeof buf);
  assert_string_equal(buf, "-");
  spec = json_loads("{\"zone\": \"b\", \"region\": \"eu\"}", 0, NULL);
  sc_cli_labels(spec, buf, sizeof buf);
  assert_string_equal(buf, "region=eu,zone=b");
  json_decref(spec);
}

static void test_jobs_table(void **state)
{
  json_t *jobs = json_loads(
    "[{\"id\": \"j-000001\", \"name\": \"train\", \"tenant\": \"default\", \"state\": \"running\","
    "  \"reason\": null, \"created_at\": \"2026-11-29T10:00:00.000Z\","
    "  \"spec\": {\"tasks\": 2, \"resources\": {\"gpus\": 1}},"
    "  \"tasks\": [{\"index\": 0, \"state\": \"running\"}, {\"index\": 1, \"state\": \"assigned\"}]},"
    " {\"id\": \"j-000002\", \"name\": \"eval\", \"tenant\": \"team-b\", \"state\": \"failed\","
    "  \"reason\": \"exit code 3\", \"created_at\": \"2026-11-29T07:00:00.000Z\","
    "  \"spec\": {\"resources\": {\"gpu_milli\": 500}}}]", 0, NULL);
  char *out;

  (void)state;
  assert_non_null(jobs);
  out = capture(sc_cli_print_jobs, jobs, 1795946400000LL + 300000);
  assert_string_equal(out,
    "ID         NAME    TENANT    STATE     TASKS   GPUS   AGE   REASON\n"
    "j-000001   train   default   running   1/2     2      5m    -\n"
    "j-000002   eval    team-b    failed    1       0.5    3h    exit code 3\n");
  free(out);
  json_decref(jobs);
}

static void test_nodes_table(void **state)
{
  json_t *nodes = json_loads(
    "[{\"name\": \"node-a\", \"state\": \"ready\", \"cpu_milli\": 16000, \"memory_mib\": 65536,"
    "  \"labels\": {\"region\": \"eu-west\"}, \"created_at\": \"2026-11-29T09:58:00Z\","
    "  \"devices\": [{\"index\": 0, \"vendor\": \"nvidia\", \"model\": \"A100-80G\", \"milli_used\": 500}]},"
    " {\"name\": \"n-b\", \"state\": \"lost\", \"cpu_milli\": 500, \"memory_mib\": 512,"
    "  \"labels\": {}, \"devices\": []}]", 0, NULL);
  char *out;

  (void)state;
  assert_non_null(nodes);
  out = capture(sc_cli_print_nodes, nodes, 1795946400000LL);
  assert_string_equal(out,
    "NODE     STATE   CPU   MEMORY   DEVICES                         LABELS           AGE\n"
    "node-a   ready   16    64Gi     1x nvidia:A100-80G (0.5 used)   region=eu-west   2m\n"
    "n-b      lost    0.5   512Mi    -                               -                -\n");
  free(out);
  json_decref(nodes);
}

static void test_http_helpers(void **state)
{
  struct sc_http_reply r = {0};
  const char *field, *msg;
  char buf[256];

  (void)state;
  r.status = 400;
  r.body = json_loads("{\"error\": {\"code\": \"bad_request\", \"message\": \"'gpus' must be"
                      " 0..16\", \"field\": \"resources.gpus\"}}", 0, NULL);
  msg = sc_http_error_message(&r, &field, buf, sizeof buf);
  assert_string_equal(msg, "'gpus' must be 0..16");
  assert_string_equal(field, "resources.gpus");
  json_decref(r.body);
  r.body = NULL;
  r.status = 502;
  r.raw = "Bad Gateway\r\n";
  r.len = strlen(r.raw);
  msg = sc_http_error_message(&r, &field, buf, sizeof buf);
  assert_string_equal(msg, "HTTP 502: Bad Gateway");
  assert_null(field);
  assert_string_equal(sc_http_escape("node a/b&c=d", buf, sizeof buf), "node%20a%2Fb%26c%3Dd");
}

static void test_cli_unreachable(void **state)
{
  struct sc_cli c = {.cmd = "jobs", .server = "http://127.0.0.1:1"};
  json_t *reply = (json_t *)1;

  (void)state;
  c.token = strdup("t");
  assert_int_equal(sc_cli_connect(&c), 0);
  assert_int_equal(sc_cli_call(&c, "GET", "/v1/jobs", NULL, 2000, &reply), SC_CLI_NOREACH);
  assert_null(reply);
  sc_cli_release(&c);
  c.server = "ftp://x";
  assert_int_equal(sc_cli_connect(&c), SC_CLI_USAGE);
  sc_cli_release(&c);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_yaml_full_spec),   cmocka_unit_test(test_yaml_scalars),
    cmocka_unit_test(test_json_spec),        cmocka_unit_test(test_yaml_errors),
    cmocka_unit_test(test_yaml_command_env_strings),
    cmocka_unit_test(test_default_name),     cmocka_unit_test(test_table_alignment),
    cmocka_unit_test(test_formatters),       cmocka_unit_test(test_jobs_table),
    cmocka_unit_test(test_nodes_table),      cmocka_unit_test(test_http_helpers),
    cmocka_unit_test(test_cli_unreachable),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
