/* The pure rules of emulated fleets (agent/agent_emu_plan.c): how long a
 * task's `sleep` lasts, how labels spread over the nodes, which tasks fail,
 * and how an OpenB node list becomes nodes. Expected values are worked out
 * by hand in the comments; the failure draws by the formula of
 * sc_emu_fails (FNV-1a, splitmix64's finalizer) evaluated separately. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"
#include <stdio.h>
#include <string.h>

#include "agent/agent_emu.h"
#include "util/error.h"

static int64_t shell_ms(const char *text)
{
  return sc_emu_sleep_ms(NULL, text);
}

static void test_sleep_shell(void **state)
{
  (void)state;
  assert_int_equal(shell_ms("sleep 1"), 1000);
  assert_int_equal(shell_ms("  sleep 0.5; echo hi"), 500);     /* fractions, then more */
  assert_int_equal(shell_ms("sleep 1.5s && true"), 1500);
  assert_int_equal(shell_ms("sleep 2m"), 120000);               /* 2 x 60 s */
  assert_int_equal(shell_ms("sleep 1|cat"), 1000);
  assert_int_equal(shell_ms("/bin/sleep 3"), 3000);              /* a path to sleep */
  assert_true(shell_ms("sleep infinity") == SC_EMU_FOREVER);
  assert_true(shell_ms("sleep inf; echo never") == SC_EMU_FOREVER);
  /* Not a leading `sleep S`: no time at all. */
  assert_int_equal(shell_ms("echo hi; sleep 5"), 0);
  assert_int_equal(shell_ms("sleeper 5"), 0);
  assert_int_equal(shell_ms("sleep"), 0);
  assert_int_equal(shell_ms("sleep x"), 0);
  assert_int_equal(shell_ms("sleep -1"), 0);
  assert_int_equal(shell_ms(""), 0);
}

static void test_sleep_argv(void **state)
{
  char *plain[] = {"sleep", "2", NULL};
  char *path[] = {"/usr/bin/sleep", "0.25", NULL};
  char *sh[] = {"sh", "-c", "sleep 4; exit 3", NULL};
  char *bash[] = {"/bin/bash", "-c", "sleep infinity", NULL};
  char *other[] = {"python", "train.py", NULL};
  char *bare[] = {"sleep", NULL};
  char *not_c[] = {"sh", "script.sh", "sleep 9", NULL};

  (void)state;
  assert_int_equal(sc_emu_sleep_ms(plain, NULL), 2000);
  assert_int_equal(sc_emu_sleep_ms(path, NULL), 250);
  assert_int_equal(sc_emu_sleep_ms(sh, NULL), 4000);
  assert_true(sc_emu_sleep_ms(bash, NULL) == SC_EMU_FOREVER);
  assert_int_equal(sc_emu_sleep_ms(other, NULL), 0);
  assert_int_equal(sc_emu_sleep_ms(bare, NULL), 0);
  assert_int_equal(sc_emu_sleep_ms(not_c, NULL), 0);
  assert_int_equal(sc_emu_sleep_ms(NULL, NULL), 0);
}

/* The values of nodes 0..n-1 joined by spaces into buf. */
static const char *values(const struct sc_emu_label *l, int n, char *buf, size_t size)
{
  size_t len = 0;

  buf[0] = '\0';
  for (int i = 0; i < n; i++)
    len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? " " : "",
                            sc_emu_label_value(l, i, n));
  return buf;
}

static void test_label_round_robin(void **state)
{
  struct sc_emu_label l;
  char err[256], buf[256];

  (void)state;
  assert_int_equal(sc_emu_label_parse(&l, "region=eu,cn", false, err, sizeof err), 0);
  assert_string_equal(l.key, "region");
  assert_int_equal(l.nvalues, 2);
  /* Node i gets value i mod 2. */
  assert_string_equal(values(&l, 5, buf, sizeof buf), "eu cn eu cn eu");
  sc_emu_label_release(&l);
}

static void test_label_blocks(void **state)
{
  struct sc_emu_label l;
  char err[256], buf[256];

  (void)state;
  assert_int_equal(sc_emu_label_parse(&l, "rack=r[1-3]", true, err, sizeof err), 0);
  assert_int_equal(l.nvalues, 3);
  /* Node i of 7 gets value i*3/7: 0,0,0 (0/7, 3/7, 6/7), 1,1 (9/7, 12/7),
   * 2,2 (15/7, 18/7). */
  assert_string_equal(values(&l, 7, buf, sizeof buf), "r1 r1 r1 r2 r2 r3 r3");
  /* 6 nodes: two per rack exactly. */
  assert_string_equal(values(&l, 6, buf, sizeof buf), "r1 r1 r2 r2 r3 r3");
  sc_emu_label_release(&l);
}

static void test_label_ranges(void **state)
{
  struct sc_emu_label l;
  char err[256], buf[256];

  (void)state;
  /* A leading 0 keeps the width; text after the range stays. */
  assert_int_equal(sc_emu_label_parse(&l, "rack=r[08-11]x,spare", false, err, sizeof err), 0);
  assert_int_equal(l.nvalues, 5);
  assert_string_equal(values(&l, 5, buf, sizeof buf), "r08x r09x r10x r11x spare");
  sc_emu_label_release(&l);
  assert_int_equal(sc_emu_label_parse(&l, "zone=[1-2]", false, err, sizeof err), 0);
  assert_string_equal(values(&l, 2, buf, sizeof buf), "1 2");
  sc_emu_label_release(&l);
}

static void test_label_errors(void **state)
{
  static const char *bad[] = {"region", "=eu", "region=", "region=eu,,cn", "rack=r[3-1]",
                              "rack=r[a-b]", "rack=r[1-", "rack=r[1-5000]"};
  struct sc_emu_label l;
  char err[256];

  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    assert_int_not_equal(sc_emu_label_parse(&l, bad[i], false, err, sizeof err), 0);
    assert_int_equal(l.nvalues, 0);
    assert_non_null(strstr(err, "label spread"));
  }
}

static void test_fail_rate_bounds(void **state)
{
  char id[32];

  (void)state;
  for (int i = 0; i < 1000; i++) {
    snprintf(id, sizeof id, "j-%06d.0", i);
    assert_false(sc_emu_fails(1, id, 0, 0.0));
    assert_true(sc_emu_fails(1, id, 0, 1.0));
  }
}

static void test_fail_rate_determinism(void **state)
{
  char id[32];
  int n = 0;

  (void)state;
  /* j-000001.0, attempt 0, seed 1 draws u = 0.13267...: it fails at any
   * rate above that and at none below. Attempt 1 draws 0.33157..., seed 2
   * draws 0.33915...: a retry and another seed are new draws. */
  assert_true(sc_emu_fails(1, "j-000001.0", 0, 0.133));
  assert_false(sc_emu_fails(1, "j-000001.0", 0, 0.132));
  assert_true(sc_emu_fails(1, "j-000001.0", 1, 0.332));
  assert_false(sc_emu_fails(1, "j-000001.0", 1, 0.331));
  assert_true(sc_emu_fails(2, "j-000001.0", 0, 0.34));
  assert_false(sc_emu_fails(2, "j-000001.0", 0, 0.339));
  /* The same question twice, the same answer. */
  assert_true(sc_emu_fails(1, "j-000002.3", 0, 0.5) == sc_emu_fails(1, "j-000002.3", 0, 0.5));
  /* 10,000 ids at rate 0.25: 2,481 fail with seed 1 (binomial mean 2,500,
   * sd 43), the same count in every run and order. */
  for (int i = 0; i < 10000; i++) {
    snprintf(id, sizeof id, "j-%06d.0", i);
    n += sc_emu_fails(1, id, 0, 0.25);
  }
  assert_int_equal(n, 2481);
}

static const char list_csv[] =
  "sn,cpu_milli,memory_mib,gpu,model\n"
  "openb-node-0000,64000,262144,2,P100\n"
  "openb-node-0001,96000,786432,8,V100M32\n"
  "openb-node-0002,64000,262144,2,P100\n"
  "openb-node-0003,32000,131072,0,\n";

static void read_list(struct sc_trace_nodes *list)
{
  FILE *f = fmemopen((void *)list_csv, sizeof list_csv - 1, "r");
  char err[256];

  assert_non_null(f);
  assert_int_equal(sc_trace_read_nodes_file(f, "nodes.csv", list, err, sizeof err), 0);
  fclose(f);
}

static void test_trace_mapping(void **state)
{
  struct sc_trace_nodes list;
  struct sc_emu_plan p;
  const struct sc_emu_shape *s;
  char err[256];

  (void)state;
  read_list(&list);
  assert_int_equal(sc_emu_plan_trace(&p, &list, 0, NULL, err, sizeof err), 0);
  assert_int_equal(p.n, 4);
  /* Named by sn; nodes 0 and 2 have the same shape, so 3 shapes. */
  assert_string_equal(p.nodes[1].name, "openb-node-0001");
  assert_int_equal(p.nshapes, 3);
  assert_int_equal(p.nodes[0].shape, p.nodes[2].shape);
  s = &p.shapes[p.nodes[1].shape];
  assert_int_equal(s->cpu_milli, 96000);
  assert_int_equal(s->memory_mib, 786432);
  assert_int_equal(s->devices.count, 8);
  assert_string_equal(s->devices.dev[7].vendor, "nvidia");
  assert_string_equal(s->devices.dev[7].model, "V100M32");
  assert_int_equal(s->devices.dev[7].index, 7);
  assert_int_equal(s->devices.dev[7].memory_mib, 0); /* the list does not say */
  s = &p.shapes[p.nodes[3].shape];
  assert_int_equal(s->devices.count, 0);              /* a CPU-only node */
  assert_int_equal(s->cpu_milli, 32000);
  sc_emu_plan_release(&p);
  /* The first 2, named by a prefix. */
  assert_int_equal(sc_emu_plan_trace(&p, &list, 2, "openb", err, sizeof err), 0);
  assert_int_equal(p.n, 2);
  assert_string_equal(p.nodes[0].name, "openb-00001");
  assert_string_equal(p.nodes[1].name, "openb-00002");
  sc_emu_plan_release(&p);
  /* More than the list holds. */
  assert_int_equal(sc_emu_plan_trace(&p, &list, 5, NULL, err, sizeof err), SC_EINVAL);
  assert_non_null(strstr(err, "the node list has 4"));
  sc_trace_nodes_release(&list);
}

static void test_trace_bad_model(void **state)
{
  struct sc_trace_node t = {.name = "n-7", .cpu_milli = 8000, .memory_mib = 1024, .gpus = 2};
  struct sc_emu_shape s;
  char err[256];

  (void)state;
  assert_int_equal(sc_emu_shape_from_trace(&t, &s, err, sizeof err), SC_EPARSE);
  assert_non_null(strstr(err, "node n-7"));
  snprintf(t.model, sizeof t.model, "bad model");
  assert_int_equal(sc_emu_shape_from_trace(&t, &s, err, sizeof err), SC_EPARSE);
  assert_non_null(strstr(err, "bad model"));
}

/* The shipped OpenB list: 1,213 nodes, 6,212 GPUs (data/openb/README.md). */
static void test_trace_openb(void **state)
{
  struct sc_trace_nodes list;
  struct sc_emu_plan p;
  char err[256];
  int gpus = 0;

  (void)state;
  assert_int_equal(sc_trace_read_nodes(SC_DATA_DIR "/openb/openb_node_list_gpu_node.csv", &list,
                                       err, sizeof err), 0);
  assert_int_equal(sc_emu_plan_trace(&p, &list, 0, NULL, err, sizeof err), 0);
  assert_int_equal(p.n, 1213);
  for (int i = 0; i < p.n; i++)
    gpus += p.shapes[p.nodes[i].shape].devices.count;
  assert_int_equal(gpus, 6212);
  assert_true(p.nshapes < 100); /* shapes are shared, not one per node */
  sc_emu_plan_release(&p);
  sc_trace_nodes_release(&list);
}

static void test_plan_uniform(void **state)
{
  struct sc_emu_shape shape = {.cpu_milli = 64000, .memory_mib = 262144};
  struct sc_emu_plan p;
  char err[256];
  json_t *labels;

  (void)state;
  assert_int_equal(sc_emu_plan_uniform(&p, 3, "emu", &shape, err, sizeof err), 0);
  assert_string_equal(p.nodes[0].name, "emu-00001");
  assert_string_equal(p.nodes[2].name, "emu-00003");
  assert_int_equal(p.nshapes, 1);
  /* Common labels, then the spread ones: node 1 is the second: cn. */
  p.labels = json_pack("{s:s}", "zone", "a");
  assert_int_equal(sc_emu_label_parse(&p.spread[0], "region=eu,cn", false, err, sizeof err), 0);
  p.nspread = 1;
  labels = sc_emu_plan_labels(&p, 1);
  assert_string_equal(json_string_value(json_object_get(labels, "zone")), "a");
  assert_string_equal(json_string_value(json_object_get(labels, "region")), "cn");
  json_decref(labels);
  sc_emu_plan_release(&p);
  /* A prefix that makes bad node names, and a bad count. */
  assert_int_equal(sc_emu_plan_uniform(&p, 3, "bad name", &shape, err, sizeof err), SC_EINVAL);
  assert_non_null(strstr(err, "bad name"));
  assert_int_equal(sc_emu_plan_uniform(&p, 0, "emu", &shape, err, sizeof err), SC_EINVAL);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sleep_shell),
    cmocka_unit_test(test_sleep_argv),
    cmocka_unit_test(test_label_round_robin),
    cmocka_unit_test(test_label_blocks),
    cmocka_unit_test(test_label_ranges),
    cmocka_unit_test(test_label_errors),
    cmocka_unit_test(test_fail_rate_bounds),
    cmocka_unit_test(test_fail_rate_determinism),
    cmocka_unit_test(test_trace_mapping),
    cmocka_unit_test(test_trace_bad_model),
    cmocka_unit_test(test_trace_openb),
    cmocka_unit_test(test_plan_uniform),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
