/* The placement engine: rank tie-breaks, equivalence classes, gangs all or
 * nothing, undo, memory feasibility and model constraints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"
#include <stdio.h>
#include <string.h>

#include "core/sched.h"
#include "failalloc.h"
#include "util/error.h"

static struct sc_shape shape(int64_t cpu, int64_t mem, int milli, int count)
{
  struct sc_shape s = {.cpu = cpu, .mem = mem, .gpu_milli = milli, .gpu_count = count,
                       .any_model = true, .id = 0};
  return s;
}

/* Eight identical 8-device nodes (A) and two 8-device B nodes. */
static void make_cluster(struct sc_cluster *c)
{
  char name[32];

  sc_cluster_init(c);
  for (int i = 0; i < 10; i++) {
    snprintf(name, sizeof name, "node-%d", i);
    assert_true(sc_cluster_add_node(c, name, 64000, 65536, 8, i < 8 ? "A" : "B") == i);
  }
}

static struct sc_sched *make_sched(struct sc_cluster *c, const char *policy)
{
  struct sc_sched_opts o = {sc_policy_find(policy), {NULL}, 4};
  struct sc_sched *s;

  assert_int_equal(sc_sched_new(c, &o, &s), 0);
  return s;
}

static void test_rank_tie_break(void **state)
{
  struct sc_cluster c;
  struct sc_sched *s;
  struct sc_shape one = shape(1000, 1024, 1000, 1);
  struct sc_placement p;

  (void)state;
  make_cluster(&c);
  /* Packing scores every idle 8-device node alike: the lowest rank wins. */
  c.nodes[5].rank = 0;
  c.nodes[0].rank = 5;
  s = make_sched(&c, "packing");
  /* Identical idle nodes share a state: two classes (A and B). */
  assert_int_equal(sc_sched_nclasses(s), 2);
  assert_int_equal(sc_sched_pick(s, &one, NULL, &p), 0);
  assert_int_equal(p.node, 5);
  assert_int_equal(p.ndev, 1);
  assert_int_equal(p.dev[0], 0);
  assert_int_equal(sc_sched_commit(s, &one, &p), 0);
  assert_int_equal(sc_sched_nclasses(s), 3);
  assert_int_equal(sc_sched_check(s), 0);
  /* Packing now prefers the used node (free devices on a used node). */
  assert_int_equal(sc_sched_pick(s, &one, NULL, &p), 0);
  assert_int_equal(p.node, 5);
  assert_int_equal(p.dev[0], 1);
  assert_int_equal(sc_sched_gpu_used_milli(s), 1000);
  sc_sched_free(s);
  sc_cluster_release(&c);
}

static void test_gang_all_or_nothing(void **state)
{
  struct sc_cluster c;
  struct sc_sched *s;
  struct sc_shape tasks[12];
  struct sc_placement p[12];
  int per_node[10] = {0};

  (void)state;
  make_cluster(&c);
  s = make_sched(&c, "dotprod");
  for (int i = 0; i < 12; i++)
    tasks[i] = shape(1000, 1024, 1000, 8);
  /* 12 tasks of 8 devices need 12 nodes; there are 10: nothing placed. */
  assert_int_equal(sc_sched_place_gang(s, tasks, 12, NULL, p), SC_ENOFIT);
  for (int i = 0; i < 12; i++)
    assert_int_equal(p[i].node, -1);
  assert_int_equal(sc_sched_gpu_used_milli(s), 0);
  assert_int_equal(sc_sched_nclasses(s), 2);
  assert_int_equal(sc_sched_check(s), 0);
  /* 10 fit, one per node. */
  assert_int_equal(sc_sched_place_gang(s, tasks, 10, NULL, p), 0);
  for (int i = 0; i < 10; i++)
    per_node[p[i].node]++;
  for (int i = 0; i < 10; i++)
    assert_int_equal(per_node[i], 1);
  assert_int_equal(sc_sched_gpu_used_milli(s), 80000);
  /* Undo returns every node to idle. */
  for (int i = 0; i < 10; i++)
    assert_int_equal(sc_sched_uncommit(s, &tasks[i], &p[i]), 0);
  assert_int_equal(sc_sched_gpu_used_milli(s), 0);
  assert_int_equal(sc_sched_nclasses(s), 2);
  assert_int_equal(sc_sched_check(s), 0);
  sc_sched_free(s);
  sc_cluster_release(&c);
}

static void test_models_and_memory(void **state)
{
  struct sc_cluster c;
  struct sc_sched *s;
  struct sc_shape b_only = shape(1000, 1024, 500, 1);
  struct sc_shape huge_mem = shape(1000, 70000, 0, 0);
  struct sc_shape bad = shape(1000, 0, 2000, 1);
  struct sc_placement p;

  (void)state;
  make_cluster(&c);
  sc_shape_set_models(&b_only, &c, "B");
  s = make_sched(&c, "dotprod");
  for (int i = 0; i < 32; i++) {
    assert_int_equal(sc_sched_pick(s, &b_only, NULL, &p), 0);
    assert_true(p.node >= 8);
    assert_int_equal(sc_sched_commit(s, &b_only, &p), 0);
  }
  /* Both B nodes are full now (2 x 8 devices x 2 shares of 500). */
  assert_int_equal(sc_sched_pick(s, &b_only, NULL, &p), SC_ENOFIT);
  assert_int_equal(p.node, -1);
  /* Memory is part of feasibility: 70000 MiB fits nowhere. */
  assert_int_equal(sc_sched_pick(s, &huge_mem, NULL, &p), SC_ENOFIT);
  assert_int_equal(sc_sched_pick(s, &bad, NULL, &p), SC_EINVAL);
  assert_int_equal(sc_sched_check(s), 0);
  sc_sched_free(s);
  sc_cluster_release(&c);
}

static void test_random_uniform(void **state)
{
  struct sc_cluster c;
  struct sc_sched *s;
  struct sc_shape one = shape(1000, 0, 1000, 1);
  struct sc_placement p;
  struct sc_rng rng;
  int hits[10] = {0};

  (void)state;
  make_cluster(&c);
  s = make_sched(&c, "random");
  sc_rng_seed(&rng, 1);
  /* Picks without committing: each of the 10 nodes about 1/10 of 5000. */
  for (int i = 0; i < 5000; i++) {
    assert_int_equal(sc_sched_pick(s, &one, &rng, &p), 0);
    hits[p.node]++;
  }
  for (int i = 0; i < 10; i++)
    assert_in_range(hits[i], 400, 600);
  sc_sched_free(s);
  sc_cluster_release(&c);
}

/* GPU milli in use over the cluster, from the nodes themselves. */
static int64_t cluster_used(const struct sc_cluster *c)
{
  int64_t used = 0;

  for (size_t i = 0; i < c->nnodes; i++)
    used += (int64_t)c->nodes[i].gpu_count * SC_MILLI - sc_node_gpu_left(&c->nodes[i]);
  return used;
}

/* Places 900 gangs of mixed shapes (distinct CPU sizes make many node
 * states: the class table grows past its first 256); returns how many
 * calls ran out of memory, or -1 when the engine broke. */
static int place_many(struct sc_sched *s, struct sc_cluster *c)
{
  struct sc_placement p[2];
  int oom = 0;

  for (int i = 0; i < 900; i++) {
    struct sc_shape sh[2] = {shape(15000 + i % 97, 64, i % 3 ? 250 : 1000, 1),
                             shape(15000 + i % 89, 64, 500, 1)};
    int rc;
    sh[0].id = i % 4;
    sh[1].id = (i + 1) % 4;
    rc = sc_sched_place_gang(s, sh, 1 + i % 2, NULL, p);
    if (rc == SC_ENOMEM) {
      oom++;
      if (sc_sched_check(s) != 0)
        return -1;
    } else {
      assert_true(rc == 0 || rc == SC_ENOFIT);
    }
    assert_int_equal(sc_sched_gpu_used_milli(s), cluster_used(c));
  }
  return oom;
}

/*
 * Out of memory in the engine is an error code, never an abort: for
 * allocation failures at every point of a long placement sequence, a
 * commit that cannot get memory leaves the engine and cluster as they were
 * (their invariants hold and their GPU counts agree after every call), and
 * the next calls go on.
 */
static void test_out_of_memory(void **state)
{
  struct sc_cluster c;
  struct sc_sched *s;
  long before, total;
  int failures = 0, broken = 0;

  (void)state;
  sc_cluster_init(&c);
  for (int i = 0; i < 500; i++)
    assert_true(sc_cluster_add_node(&c, "n", 64000, 65536, 8, "A") == i);
  s = make_sched(&c, "dotprod");
  before = fa_calls();
  assert_int_equal(place_many(s, &c), 0);
  total = fa_calls() - before;
  assert_true(sc_sched_nclasses(s) > 256); /* the class table grew */
  sc_sched_free(s);
  sc_cluster_release(&c);
  assert_true(total > 50);
  for (long k = 0; k < total; k += 1 + total / 60) {
    int oom;
    sc_cluster_init(&c);
    for (int i = 0; i < 500; i++)
      sc_cluster_add_node(&c, "n", 64000, 65536, 8, "A");
    s = make_sched(&c, "dotprod");
    fa_fail_after(k, 0);
    oom = place_many(s, &c);
    fa_off();
    if (oom < 0)
      broken++;
    else
      failures += oom;
    assert_true(oom < 0 || sc_sched_check(s) == 0);
    sc_sched_free(s);
    sc_cluster_release(&c);
  }
  print_message("%ld allocations; %d placements refused for memory, %d engines broke\n",
                total, failures, broken);
  assert_true(failures > 0);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rank_tie_break),
    cmocka_unit_test(test_gang_all_or_nothing),
    cmocka_unit_test(test_models_and_memory),
    cmocka_unit_test(test_random_uniform),
    cmocka_unit_test(test_out_of_memory),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
