/*
 * Job spec validation: every bad input names its field with the right
 * message; good specs normalise (units resolved, defaults filled) and the
 * normalised form parses back to the same spec.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"

#include <string.h>

#include <jansson.h>

#include "server/spec.h"
#include "util/error.h"

struct bad_case {
  const char *json;
  const char *field;
  const char *message; /* a substring of the message */
};

static const struct bad_case bad_cases[] = {
  {"[1]", "", "must be a JSON object"},
  {"{\"command\": [\"x\"]}", "name", "missing required field 'name'"},
  {"{\"name\": \"a\"}", "command", "missing required field 'command'"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"bogus\": 1}", "bogus", "unknown field 'bogus'"},
  {"{\"name\": \"\", \"command\": [\"x\"]}", "name", "1..128 characters"},
  {"{\"name\": \"a b\", \"command\": [\"x\"]}", "name", "[A-Za-z0-9._-]"},
  {"{\"name\": 5, \"command\": [\"x\"]}", "name", "must be a string"},
  {"{\"name\": \"a\", \"command\": []}", "command", "must not be empty"},
  {"{\"name\": \"a\", \"command\": \"\"}", "command", "must not be empty"},
  {"{\"name\": \"a\", \"command\": [\"x\", 3]}", "command", "'command[1]' must be a string"},
  {"{\"name\": \"a\", \"command\": 7}", "command", "list of strings or a string"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"tenant\": \"a/b\"}", "tenant", "1..64"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"env\": {\"1X\": \"v\"}}", "env.1X",
   "bad environment variable name"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"env\": {\"X\": 1}}", "env.X", "must be a string"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"env\": []}", "env", "must be an object"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"workdir\": \"tmp\"}", "workdir", "absolute"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"tasks\": 0}", "tasks", "between 1 and 4096"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"tasks\": 4097}", "tasks", "between 1 and 4096"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"tasks\": 1.5}", "tasks", "must be an integer"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"tasks\": \"2\"}", "tasks", "must be an integer"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"tasks\": true}", "tasks", "must be an integer"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"resources\": 1}", "resources", "must be an object"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"resources\": {\"gpus\": -1}}", "resources.gpus",
   "between 0 and 16"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"resources\": {\"gpus\": 17}}", "resources.gpus",
   "between 0 and 16"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"resources\": {\"gpu_milli\": 1000}}",
   "resources.gpu_milli", "between 1 and 999"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"resources\": {\"gpu_milli\": 0}}",
   "resources.gpu_milli", "between 1 and 999"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"resources\": {\"gpu_milli\": 250, \"gpus\": 2}}",
   "resources.gpu_milli", "must be 0 or 1"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"resources\": {\"cpu_milli\": -5}}",
   "resources.cpu_milli", "between 1 and"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"resources\": {\"memory\": \"16Qi\"}}",
   "resources.memory", "bad value for 'resources.memory'"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"resources\": {\"memory\": -1}}", "resources.memory",
   "between 0 and"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"resources\": {\"memory\": [1]}}",
   "resources.memory", "must be a size"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"resources\": {\"disk\": 1}}", "resources.disk",
   "unknown field 'resources.disk'"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"models\": \"A100\"}", "models", "must be a list"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"models\": [\"\"]}", "models", "'models[0]'"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"models\": [\"a|b\"]}", "models", "'models[0]'"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"priority\": 1001}", "priority",
   "between -1000 and 1000"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"max_runtime\": \"soon\"}", "max_runtime",
   "bad value for 'max_runtime'"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"max_runtime\": -3}", "max_runtime", "between 0"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"max_retries\": 101}", "max_retries",
   "between 0 and 100"},
  {"{\"name\": \"a\", \"command\": \" \\t\\n\"}", "command", "must not be empty or blank"},
  {"{\"name\": \"a\", \"command\": [\"  \", \"x\"]}", "command", "'command[0]' must not be"},
  /* 1 << 40 MiB is the cap of both forms: 1048577Ti is one TiB over. */
  {"{\"name\": \"a\", \"command\": [\"x\"], \"resources\": {\"memory\": \"1048577Ti\"}}",
   "resources.memory", "at most 1048576Ti"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"resources\": {\"memory\": 1099511627777}}",
   "resources.memory", "between 0 and 1099511627776"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"user\": \"root\"}", "user", "never run as root"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"user\": 0}", "user", "never run as root"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"user\": \"alice\"}", "user", "tenant's user"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"network\": \"bridge\"}", "network",
   "must be host or none"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"preemptible\": 1}", "preemptible",
   "must be true or false"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"preempt_signal\": \"SIGKILL\"}",
   "preempt_signal", "one of SIGTERM, SIGINT"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"preempt_signal\": 15}", "preempt_signal",
   "one of SIGTERM"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"checkpoint_grace\": \"soon\"}",
   "checkpoint_grace", "a duration such as"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"checkpoint_grace\": -1}", "checkpoint_grace",
   "between 0 and 86400"},
  {"{\"name\": \"a\", \"command\": [\"x\"], \"checkpoint_grace\": \"25h\"}",
   "checkpoint_grace", "at most 24h"},
};

static void test_bad_specs(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    const struct bad_case *c = &bad_cases[i];
    json_t *body = json_loads(c->json, 0, NULL);
    struct sc_job_spec spec;
    struct sc_spec_error err;
    assert_non_null(body);
    assert_int_equal(sc_spec_parse(body, &spec, &err), SC_EINVAL);
    assert_null(spec.text);
    assert_null(spec.run);
    if (strcmp(err.field, c->field) != 0 || !strstr(err.message, c->message))
      fail_msg("case %zu %s: got field '%s' message '%s'", i, c->json, err.field, err.message);
    json_decref(body);
  }
}

static void test_good_spec_normalises(void **state)
{
  const char *text =
    "{\"name\": \"train-llama\", \"tenant\": \"acme\", \"command\": [\"python\", \"t.py\"],"
    " \"env\": {\"K\": \"v\"}, \"workdir\": \"/tmp\", \"tasks\": 8,"
    " \"resources\": {\"cpu_milli\": 2000, \"memory\": \"16Gi\", \"gpus\": 2},"
    " \"models\": [\"A100-80G\", \"H100\"], \"priority\": 5, \"max_runtime\": \"1h30m\","
    " \"max_retries\": 2}";
  json_t *body = json_loads(text, 0, NULL), *doc;
  struct sc_job_spec spec, again;
  struct sc_spec_error err;
  struct sc_spec_run *run;

  (void)state;
  assert_int_equal(sc_spec_parse(body, &spec, &err), 0);
  assert_string_equal(spec.name, "train-llama");
  assert_string_equal(spec.tenant, "acme");
  assert_int_equal(spec.tasks, 8);
  assert_int_equal(spec.cpu_milli, 2000);
  assert_int_equal(spec.memory_mib, 16384);
  assert_int_equal(spec.gpus, 2);
  assert_int_equal(spec.gpu_milli, 1000);
  assert_string_equal(spec.models, "A100-80G|H100");
  assert_int_equal(spec.priority, 5);
  assert_int_equal(spec.max_runtime_s, 5400);
  assert_int_equal(spec.max_retries, 2);
  doc = json_loads(spec.text, 0, NULL);
  assert_non_null(doc);
  assert_int_equal(json_integer_value(json_object_get(
                     json_object_get(doc, "resources"), "memory")), 16384);
  assert_int_equal(json_integer_value(json_object_get(doc, "max_runtime")), 5400);
  assert_string_equal(json_string_value(json_object_get(doc, "workdir")), "/tmp");
  json_decref(doc);
  /* What the tasks run, typed. */
  assert_null(spec.run->shell);
  assert_string_equal(spec.run->argv[0], "python");
  assert_string_equal(spec.run->argv[1], "t.py");
  assert_null(spec.run->argv[2]);
  assert_int_equal(spec.run->nenv, 1);
  assert_string_equal(spec.run->env_keys[0], "K");
  assert_string_equal(spec.run->env_values[0], "v");
  assert_string_equal(spec.run->workdir, "/tmp");
  /* The normalised form parses back to the same spec. */
  assert_int_equal(sc_spec_parse_text(spec.text, &again, &err), 0);
  assert_int_equal(again.memory_mib, spec.memory_mib);
  assert_int_equal(again.max_runtime_s, spec.max_runtime_s);
  assert_string_equal(again.models, spec.models);
  assert_string_equal(again.text, spec.text);
  assert_int_equal(sc_spec_set_tenant(&again, "other"), 0);
  assert_string_equal(again.tenant, "other");
  doc = json_loads(again.text, 0, NULL);
  assert_string_equal(json_string_value(json_object_get(doc, "tenant")), "other");
  json_decref(doc);
  /* A run outlives the spec that made it while a reference is held. */
  run = sc_spec_run_ref(spec.run);
  sc_spec_release(&again);
  sc_spec_release(&spec);
  assert_string_equal(run->argv[0], "python");
  sc_spec_run_unref(run);
  json_decref(body);
  assert_int_equal(sc_spec_parse_text("{\"name\": ", &again, &err), SC_EINVAL);
  assert_null(again.text);
}

static void test_defaults_and_shares(void **state)
{
  json_t *body = json_loads("{\"name\": \"a\", \"command\": \"echo hi\","
                            " \"resources\": {\"gpu_milli\": 250}}", 0, NULL);
  struct sc_job_spec spec;
  struct sc_spec_error err;

  (void)state;
  assert_int_equal(sc_spec_parse(body, &spec, &err), 0);
  assert_string_equal(spec.tenant, "default");
  assert_int_equal(spec.tasks, 1);
  assert_int_equal(spec.cpu_milli, 1000);
  assert_int_equal(spec.memory_mib, 0);
  assert_int_equal(spec.gpus, 1);
  assert_int_equal(spec.gpu_milli, 250);
  assert_string_equal(spec.models, "");
  assert_int_equal(spec.max_runtime_s, 0);
  assert_string_equal(spec.run->shell, "echo hi");
  assert_null(spec.run->argv);
  assert_int_equal(spec.run->nenv, 0);
  sc_spec_release(&spec);
  json_decref(body);
  body = json_loads("{\"name\": \"a\", \"command\": [\"x\"], \"max_runtime\": 90}", 0, NULL);
  assert_int_equal(sc_spec_parse(body, &spec, &err), 0);
  assert_int_equal(spec.max_runtime_s, 90);
  assert_int_equal(spec.gpus, 0);
  assert_int_equal(spec.gpu_milli, 0);
  sc_spec_release(&spec);
  json_decref(body);
}

static void test_name_rule(void **state)
{
  (void)state;
  assert_true(sc_spec_name_ok("node-a_1.x", 63));
  assert_false(sc_spec_name_ok("", 63));
  assert_false(sc_spec_name_ok("a/b", 63));
  assert_false(sc_spec_name_ok("abc", 2));
}

/* Array expressions expand as Slurm's --array does. */
static void test_array_indices(void **state)
{
  struct sc_spec_error err;
  int idx[16], max;

  (void)state;
  /* 0-6:2 is 0, 2, 4, 6: four elements, no limit. */
  assert_int_equal(sc_spec_array_indices("0-6:2", idx, 16, &max, &err), 4);
  assert_int_equal(idx[3], 6);
  assert_int_equal(max, 0);
  /* 1,3,5-7%2 is 1, 3, 5, 6, 7 with at most 2 at once. */
  assert_int_equal(sc_spec_array_indices("1,3,5-7%2", idx, 16, &max, &err), 5);
  assert_int_equal(idx[0], 1);
  assert_int_equal(idx[2], 5);
  assert_int_equal(idx[4], 7);
  assert_int_equal(max, 2);
  /* 0-999%10 counts 1000 without writing them (out NULL). */
  assert_int_equal(sc_spec_array_indices("0-999%10", NULL, 0, &max, &err), 1000);
  assert_int_equal(max, 10);
  /* Malformed: a reversed range, a zero step, no digits, %0, past 10000 elements. */
  assert_int_equal(sc_spec_array_indices("5-1", idx, 16, &max, &err), SC_EINVAL);
  assert_string_equal(err.field, "array");
  assert_int_equal(sc_spec_array_indices("0-9:0", idx, 16, &max, &err), SC_EINVAL);
  assert_int_equal(sc_spec_array_indices("x", idx, 16, &max, &err), SC_EINVAL);
  assert_int_equal(sc_spec_array_indices("0-9%0", idx, 16, &max, &err), SC_EINVAL);
  assert_int_equal(sc_spec_array_indices("0-10000", NULL, 0, &max, &err), SC_EINVAL);
  assert_int_equal(sc_spec_array_indices("0-9999", NULL, 0, &max, &err), 10000);
}

static int parse(const char *json, struct sc_job_spec *spec, struct sc_spec_error *err)
{
  json_t *body = json_loads(json, 0, NULL);
  int rc;

  assert_non_null(body);
  rc = sc_spec_parse(body, spec, err);
  json_decref(body);
  return rc;
}

/* An array's spec keeps its expression and counts its elements; a repeat
 * is refused by index. */
static void test_array_field(void **state)
{
  struct sc_job_spec spec;
  struct sc_spec_error err;

  (void)state;
  assert_int_equal(parse("{\"name\": \"a\", \"command\": \"x\", \"array\": \"0-99%5\"}", &spec,
                         &err), 0);
  assert_int_equal(spec.array_count, 100);
  assert_int_equal(spec.array_max_running, 5);
  assert_non_null(strstr(spec.text, "\"array\":\"0-99%5\""));
  sc_spec_release(&spec);
  assert_int_equal(parse("{\"name\": \"a\", \"command\": \"x\", \"array\": \"1,2,1\"}", &spec,
                         &err), SC_EINVAL);
  assert_string_equal(err.field, "array");
  assert_non_null(strstr(err.message, "index 1 twice"));
  assert_int_equal(parse("{\"name\": \"a\", \"command\": \"x\", \"array\": 5}", &spec, &err),
                   SC_EINVAL);
}

/* after and Slurm's dependency normalise to the same list. */
static void test_dependencies(void **state)
{
  struct sc_job_spec spec;
  struct sc_spec_error err;

  (void)state;
  /* Ours: one job an item, a comma list or a JSON list. */
  assert_int_equal(parse("{\"name\": \"a\", \"command\": \"x\", \"after\": "
                         "\"ok:j-000007,any:j-000009_3\"}", &spec, &err), 0);
  assert_int_equal(spec.ndeps, 2);
  assert_int_equal(spec.deps[0].type, SC_DEP_OK);
  assert_int_equal(spec.deps[0].job, 7);
  assert_int_equal(spec.deps[0].index, -1);
  assert_int_equal(spec.deps[1].type, SC_DEP_ANY);
  assert_int_equal(spec.deps[1].job, 9);
  assert_int_equal(spec.deps[1].index, 3);
  assert_non_null(strstr(spec.text, "\"after\":[\"ok:j-000007\",\"any:j-000009_3\"]"));
  sc_spec_release(&spec);
  /* Slurm's: afterok:7:8 is two ok dependencies; ids may lack j-. */
  assert_int_equal(parse("{\"name\": \"a\", \"command\": \"x\", \"dependency\": "
                         "\"afterok:7:8,afternotok:j-000010\"}", &spec, &err), 0);
  assert_int_equal(spec.ndeps, 3);
  assert_int_equal(spec.deps[1].job, 8);
  assert_int_equal(spec.deps[2].type, SC_DEP_NOTOK);
  assert_non_null(strstr(spec.text, "[\"ok:j-000007\",\"ok:j-000008\",\"notok:j-000010\"]"));
  sc_spec_release(&spec);
  /* Unsupported kinds and bad ids name the field. */
  assert_int_equal(parse("{\"name\": \"a\", \"command\": \"x\", \"dependency\": "
                         "\"singleton\"}", &spec, &err), SC_EINVAL);
  assert_string_equal(err.field, "dependency");
  assert_int_equal(parse("{\"name\": \"a\", \"command\": \"x\", \"dependency\": "
                         "\"afterok:1?afterany:2\"}", &spec, &err), SC_EINVAL);
  assert_int_equal(parse("{\"name\": \"a\", \"command\": \"x\", \"after\": \"ok:j-x\"}",
                         &spec, &err), SC_EINVAL);
  assert_string_equal(err.field, "after");
  assert_int_equal(parse("{\"name\": \"a\", \"command\": \"x\", \"after\": \"maybe:j-000001\"}",
                         &spec, &err), SC_EINVAL);
  assert_non_null(strstr(err.message, "ok|any|notok"));
}

/* Preemption fields: defaults, spellings, units, and a normalised form
 * that keeps only what differs from the defaults and parses back the same.
 * Expected values worked out by hand: "5m" is 300 s, "90s" 90, "1500ms"
 * rounds up to 2 s; USR1 is SIGUSR1 (10 on Linux). */
static void test_preemption_fields(void **state)
{
  struct sc_job_spec spec, again;
  struct sc_spec_error err;

  (void)state;
  assert_int_equal(parse("{\"name\": \"a\", \"command\": \"x\"}", &spec, &err), 0);
  assert_false(spec.preemptible);
  assert_int_equal(spec.preempt_signal, 15);
  assert_int_equal(spec.checkpoint_grace_s, -1); /* not given: 30 s within the cap */
  assert_null(strstr(spec.text, "preempt"));
  assert_null(strstr(spec.text, "checkpoint_grace"));
  sc_spec_release(&spec);

  assert_int_equal(parse("{\"name\": \"a\", \"command\": \"x\", \"preemptible\": true,"
                         " \"preempt_signal\": \"USR1\", \"checkpoint_grace\": \"5m\"}",
                         &spec, &err), 0);
  assert_true(spec.preemptible);
  assert_int_equal(spec.preempt_signal, 10);
  assert_int_equal(spec.checkpoint_grace_s, 300);
  assert_non_null(strstr(spec.text, "\"preemptible\":true"));
  assert_non_null(strstr(spec.text, "\"preempt_signal\":\"SIGUSR1\""));
  assert_non_null(strstr(spec.text, "\"checkpoint_grace\":300"));
  assert_int_equal(sc_spec_parse_text(spec.text, &again, &err), 0);
  assert_true(again.preemptible);
  assert_int_equal(again.preempt_signal, 10);
  assert_int_equal(again.checkpoint_grace_s, 300);
  assert_string_equal(again.text, spec.text);
  sc_spec_release(&again);
  sc_spec_release(&spec);

  assert_int_equal(parse("{\"name\": \"a\", \"command\": \"x\", \"checkpoint_grace\": 90,"
                         " \"preempt_signal\": \"SIGTERM\", \"preemptible\": false}",
                         &spec, &err), 0);
  assert_int_equal(spec.checkpoint_grace_s, 90);
  assert_null(strstr(spec.text, "preempt")); /* both defaults: not stored */
  assert_non_null(strstr(spec.text, "\"checkpoint_grace\":90"));
  sc_spec_release(&spec);

  assert_int_equal(parse("{\"name\": \"a\", \"command\": \"x\", \"checkpoint_grace\": "
                         "\"1500ms\"}", &spec, &err), 0);
  assert_int_equal(spec.checkpoint_grace_s, 2);
  sc_spec_release(&spec);
  assert_int_equal(parse("{\"name\": \"a\", \"command\": \"x\", \"checkpoint_grace\": 0}",
                         &spec, &err), 0);
  assert_int_equal(spec.checkpoint_grace_s, 0); /* SIGKILL right after the signal */
  sc_spec_release(&spec);
  assert_string_equal(sc_spec_signal_name(12), "SIGUSR2");
  assert_null(sc_spec_signal_name(9));
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_bad_specs),
    cmocka_unit_test(test_good_spec_normalises),
    cmocka_unit_test(test_defaults_and_shares),
    cmocka_unit_test(test_name_rule),
    cmocka_unit_test(test_array_indices),
    cmocka_unit_test(test_array_field),
    cmocka_unit_test(test_dependencies),
    cmocka_unit_test(test_preemption_fields),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
