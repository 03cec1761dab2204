/* The placement engine: rank tie-breaks, equivalence classes, gangs all or
 * nothing, undo, memory feasibility and model constraints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"
#include <stdbool.h>
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

/* One agent's devices: 0-3 A100, 4-5 H100, 6-7 MI300X (model ids 0, 1, 2). */
static const char *const hetero_models[] = {"A100", "A100", "A100",  "A100",
                                            "H100", "H100", "MI300X", "MI300X"};

/* Whether every device of p is of model (an id) on node n. */
static bool all_of_model(const struct sc_cluster *c, const struct sc_placement *p, int model)
{
  for (int d = 0; d < p->ndev; d++)
    if (c->nodes[p->node].dev_model[p->dev[d]] != model)
      return false;
  return true;
}

/*
 * The reproduced defects: a node's model came from its first device, so an
 * H100 job pended next to idle H100s and a 4-device job took three A100s
 * and an H100. Now each task gets devices of one model.
 */
static void test_mixed_one_model(void **state)
{
  struct sc_cluster c;
  struct sc_sched *s;
  struct sc_shape h100 = shape(1000, 1024, 1000, 2), four = shape(1000, 1024, 1000, 4);
  struct sc_shape three = shape(1000, 1024, 1000, 3), mi = shape(1000, 1024, 1000, 2);
  struct sc_placement p;

  (void)state;
  sc_cluster_init(&c);
  assert_int_equal(sc_cluster_add_node_models(&c, "hetero", 64000, 65536, 8, hetero_models), 0);
  sc_shape_set_models(&h100, &c, "h100");
  sc_shape_set_models(&mi, &c, "MI300X");
  three.id = 1, four.id = 2, mi.id = 3; /* each its own score cache slot */
  s = make_sched(&c, "bestfit");
  /* 2 x H100: the two H100s, 4 and 5. */
  assert_int_equal(sc_sched_pick(s, &h100, NULL, &p), 0);
  assert_int_equal(p.ndev, 2);
  assert_int_equal(p.dev[0], 4);
  assert_int_equal(p.dev[1], 5);
  assert_int_equal(sc_sched_commit(s, &h100, &p), 0);
  /* 3 devices of any model: only the A100 group has 3 free; the lowest
   * free ones, 0-2 (not 0-1 plus an MI300X). */
  assert_int_equal(sc_sched_pick(s, &three, NULL, &p), 0);
  assert_int_equal(p.ndev, 3);
  assert_true(all_of_model(&c, &p, 0));
  assert_int_equal(p.dev[2], 2);
  /* 4 of any model: the four A100s. */
  assert_int_equal(sc_sched_pick(s, &four, NULL, &p), 0);
  assert_true(all_of_model(&c, &p, 0));
  assert_int_equal(p.dev[0], 0);
  assert_int_equal(p.dev[3], 3);
  assert_int_equal(sc_sched_commit(s, &four, &p), 0);
  /* Two MI300X are free, four devices in all, but no three of one model. */
  assert_int_equal(sc_sched_pick(s, &three, NULL, &p), SC_ENOFIT);
  assert_int_equal(sc_sched_pick(s, &mi, NULL, &p), 0);
  assert_int_equal(p.dev[0], 6);
  assert_int_equal(p.dev[1], 7);
  assert_int_equal(sc_sched_commit(s, &mi, &p), 0);
  assert_int_equal(sc_sched_gpu_used_milli(s), 8000);
  assert_int_equal(sc_sched_check(s), 0);
  sc_sched_free(s);
  sc_cluster_release(&c);
}

/* The second defect's node (one A100, two MI300X): three devices never fit
 * (they were A100 0 and MI300X 0, 1), two go to the MI300X pair. */
static void test_mixed_vendors(void **state)
{
  static const char *const models[] = {"A100", "MI300X", "MI300X"};
  struct sc_cluster c;
  struct sc_sched *s;
  struct sc_shape three = shape(1000, 0, 1000, 3), two = shape(1000, 0, 1000, 2);
  struct sc_placement p;

  (void)state;
  sc_cluster_init(&c);
  assert_int_equal(sc_cluster_add_node_models(&c, "n", 64000, 65536, 3, models), 0);
  two.id = 1;
  s = make_sched(&c, "packing");
  assert_int_equal(sc_sched_pick(s, &three, NULL, &p), SC_ENOFIT);
  assert_int_equal(sc_sched_pick(s, &two, NULL, &p), 0);
  assert_int_equal(p.dev[0], 1);
  assert_int_equal(p.dev[1], 2);
  sc_sched_free(s);
  sc_cluster_release(&c);
}

/*
 * Shares pack per device within one model. Bestfit, 500 m of any model, on
 * the idle hetero node: the CPU term (cpu_left - 1000) / 128000 * .5 is the
 * same for every group, .24609375 at first. A100 leaves 3500 milli: 3500 /
 * 8000 * .5 = .21875, score int(100 * (1 - .46484375)) = 53; H100 and
 * MI300X leave 1500: .09375, 66. H100 is the first of the tied groups, and
 * in it the least free device that fits, the first on ties: 4.
 * 2nd (CPU term .2421875): H100 (500, 1000) leaves 1000: .0625 -> 69 over
 *     MI300X's 66; its least free device is 4 (500): two halves on 4.
 * 3rd (.23828125): H100 (0, 1000) leaves 500 -> 73 over 66: device 5.
 * 4th (.234375): H100 (0, 500) leaves 0 -> 76 over 67: device 5.
 * 5th (.23046875): the H100s are full; MI300X (67) beats A100 (55): 6.
 */
static void test_mixed_shares(void **state)
{
  static const int want[5] = {4, 4, 5, 5, 6};
  struct sc_cluster c;
  struct sc_sched *s;
  struct sc_shape half = shape(1000, 1024, 500, 1);
  struct sc_placement p;

  (void)state;
  sc_cluster_init(&c);
  assert_int_equal(sc_cluster_add_node_models(&c, "hetero", 64000, 65536, 8, hetero_models), 0);
  s = make_sched(&c, "bestfit");
  for (int i = 0; i < 5; i++) {
    assert_int_equal(sc_sched_pick(s, &half, NULL, &p), 0);
    assert_int_equal(p.ndev, 1);
    assert_int_equal(p.dev[0], want[i]);
    assert_int_equal(sc_sched_commit(s, &half, &p), 0);
    assert_int_equal(sc_sched_check(s), 0);
  }
  assert_int_equal(c.nodes[0].gpu_left[4], 0);
  assert_int_equal(c.nodes[0].gpu_left[5], 0);
  assert_int_equal(c.nodes[0].gpu_left[6], 500);
  assert_int_equal(sc_sched_gpu_used_milli(s), 2500);
  sc_sched_free(s);
  sc_cluster_release(&c);
}

/*
 * A node's class is its state per model: two nodes holding the same models
 * in another device order are one class, and a task placed on either gets
 * that node's own device indexes; a gang of two 2 x H100 tasks with one
 * H100 pair free is undone whole.
 */
static void test_mixed_classes(void **state)
{
  static const char *const ab[] = {"A100", "H100"}, *const ba[] = {"H100", "A100"};
  struct sc_cluster c;
  struct sc_sched *s;
  struct sc_shape h = shape(1000, 0, 1000, 1), gang[2];
  struct sc_placement p, pg[2];

  (void)state;
  sc_cluster_init(&c);
  assert_int_equal(sc_cluster_add_node_models(&c, "ab", 8000, 1024, 2, ab), 0);
  assert_int_equal(sc_cluster_add_node_models(&c, "ba", 8000, 1024, 2, ba), 1);
  assert_int_equal(sc_cluster_add_node_models(&c, "hh", 8000, 1024, 8, hetero_models), 2);
  c.nodes[0].rank = 1;
  c.nodes[1].rank = 0;
  sc_shape_set_models(&h, &c, "H100");
  s = make_sched(&c, "packing");
  assert_int_equal(sc_sched_nclasses(s), 2);
  /* Packing scores an idle node max(33 - free, free) over the group: one
   * free H100 on ab and ba: 32; two on hh: 31. ba ranks first: device 0. */
  assert_int_equal(sc_sched_pick(s, &h, NULL, &p), 0);
  assert_int_equal(p.node, 1);
  assert_int_equal(p.dev[0], 0);
  assert_int_equal(sc_sched_commit(s, &h, &p), 0);
  /* Now ab alone: its H100 is device 1. */
  assert_int_equal(sc_sched_pick(s, &h, NULL, &p), 0);
  assert_int_equal(p.node, 0);
  assert_int_equal(p.dev[0], 1);
  assert_int_equal(sc_sched_commit(s, &h, &p), 0);
  assert_int_equal(sc_sched_nclasses(s), 2);
  /* Only hh's H100 pair is left: a gang of two 2 x H100 tasks is undone. */
  gang[0] = shape(1000, 0, 1000, 2);
  gang[0].id = 1;
  sc_shape_set_models(&gang[0], &c, "H100");
  gang[1] = gang[0];
  assert_int_equal(sc_sched_place_gang(s, gang, 2, NULL, pg), SC_ENOFIT);
  assert_int_equal(c.nodes[2].gpu_left[4], 1000);
  assert_int_equal(sc_sched_gpu_used_milli(s), 2000);
  assert_int_equal(sc_sched_check(s), 0);
  sc_sched_free(s);
  sc_cluster_release(&c);
}

/* The checker sees a node whose state per model no longer matches its
 * class, even when the node-wide multiset of shares is the same. */
static void test_mixed_check(void **state)
{
  struct sc_cluster c;
  struct sc_sched *s;
  struct sc_shape half = shape(1000, 0, 500, 1);
  struct sc_placement p;
  struct sc_node *n;

  (void)state;
  sc_cluster_init(&c);
  assert_int_equal(sc_cluster_add_node_models(&c, "hetero", 64000, 65536, 8, hetero_models), 0);
  n = &c.nodes[0];
  sc_shape_set_models(&half, &c, "H100");
  s = make_sched(&c, "bestfit");
  assert_int_equal(sc_sched_pick(s, &half, NULL, &p), 0);
  assert_int_equal(p.dev[0], 4);
  assert_int_equal(sc_sched_commit(s, &half, &p), 0);
  assert_int_equal(sc_sched_check(s), 0);
  /* Swap the 500 of H100 device 4 with the 1000 of A100 device 0: the
   * shares are the same multiset, the models' are not. */
  n->gpu_left[4] = 1000;
  n->gpu_left[0] = 500;
  assert_int_equal(sc_sched_check(s), SC_ESTATE);
  n->gpu_left[0] = 1000;
  n->gpu_left[4] = 500;
  assert_int_equal(sc_sched_check(s), 0);
  /* A device moved to another model. */
  n->dev_model[5] = 0;
  assert_int_equal(sc_sched_check(s), SC_ESTATE);
  n->dev_model[5] = 1;
  /* Use the engine did not account. */
  n->gpu_left[7] = 900;
  assert_int_equal(sc_sched_check(s), SC_ESTATE);
  n->gpu_left[7] = 1000;
  assert_int_equal(sc_sched_check(s), 0);
  sc_sched_free(s);
  sc_cluster_release(&c);
}

/* The random policy draws among the groups where a share fits. */
static void test_mixed_random(void **state)
{
  static const char *const models[] = {"A100", "H100"};
  struct sc_cluster c;
  struct sc_sched *s;
  struct sc_shape q = shape(1000, 0, 250, 1);
  struct sc_placement p;
  struct sc_rng rng;
  int hits[2] = {0};

  (void)state;
  sc_cluster_init(&c);
  assert_int_equal(sc_cluster_add_node_models(&c, "n", 8000, 1024, 2, models), 0);
  s = make_sched(&c, "random");
  sc_rng_seed(&rng, 3);
  for (int i = 0; i < 2000; i++) {
    assert_int_equal(sc_sched_pick(s, &q, &rng, &p), 0);
    hits[p.dev[0]]++;
  }
  assert_in_range(hits[0], 900, 1100);
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
    cmocka_unit_test(test_mixed_one_model),
    cmocka_unit_test(test_mixed_vendors),
    cmocka_unit_test(test_mixed_shares),
    cmocka_unit_test(test_mixed_classes),
    cmocka_unit_test(test_mixed_check),
    cmocka_unit_test(test_mixed_random),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
