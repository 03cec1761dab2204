/* EASY backfill: the reservation's shadow time and nodes, which jobs may
 * start now (hand-derived, after the anchors' scenario 20), and a
 * discrete-time simulation in which a 16-device gang is starved by a
 * stream of 1-device jobs without backfill and starts once the running
 * ones drain with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"
#include <string.h>

#include "core/backfill.h"
#include "core/sched.h"
#include "util/error.h"

#define MAXJ 64

struct world {
  struct sc_cluster c;
  struct sc_sched *s;
  struct sc_run_job jobs[MAXJ];
  struct sc_run_task tasks[MAXJ * 2];
  int njobs;
};

static struct sc_shape gpus(int count)
{
  struct sc_shape s = {.cpu = 1000, .mem = 1024, .gpu_count = count, .gpu_milli = 1000,
                       .any_model = true, .id = -1};
  return s;
}

static void world_init(struct world *w, int nodes)
{
  struct sc_sched_opts o = {sc_policy_find("bestfit"), {NULL}, 0};

  memset(w, 0, sizeof *w);
  sc_cluster_init(&w->c);
  for (int i = 0; i < nodes; i++)
    sc_cluster_add_node(&w->c, "n", 64000, 65536, 8, "A");
  assert_int_equal(sc_sched_new(&w->c, &o, &w->s), 0);
}

static void world_release(struct world *w)
{
  sc_sched_free(w->s);
  sc_cluster_release(&w->c);
}

/* Records a running job of one task placed at p (already committed). The
 * task table is kept compact: task i belongs to job i. */
static void record(struct world *w, const struct sc_shape *sh, const struct sc_placement *p,
                   int64_t end)
{
  int j = w->njobs++;

  assert_true(j < MAXJ);
  w->tasks[j] = (struct sc_run_task){*sh, *p};
  w->jobs[j] = (struct sc_run_job){0, 0, false, 0, end, j, 1, {{0}}};
}

/* Starts a one-task job of count devices on node (first free devices). */
static void start_on(struct world *w, int node, int count, int64_t end)
{
  struct sc_shape sh = gpus(count);
  struct sc_placement p = {node, count, {0}};
  int k = 0;

  for (int d = 0; d < 8 && k < count; d++)
    if (w->c.nodes[node].gpu_left[d] == 1000)
      p.dev[k++] = (int8_t)d;
  assert_int_equal(k, count);
  assert_int_equal(sc_sched_commit(w->s, &sh, &p), 0);
  record(w, &sh, &p, end);
}

static struct sc_backfill_in plan_in(struct world *w, const struct sc_shape *head, int nhead,
                                     int64_t now)
{
  struct sc_backfill_in in = {&w->c, sc_policy_find("bestfit"), NULL, w->jobs, w->njobs,
                              w->tasks, head, nhead, now, NULL};
  return in;
}

/* Two 8-device nodes: n0 runs 6 devices until t+2h, n1 6 until t+3h. An
 * 8-device head fits on n0 once its job ends: shadow t+2h, n0 reserved. */
static void test_easy_rules(void **state)
{
  struct world w;
  struct sc_backfill *bf;
  struct sc_shape head = gpus(8), one = gpus(1), two = gpus(2);
  struct sc_backfill_in in;
  struct sc_placement p;
  const struct sc_placement *r;
  const int64_t t = 1000;
  int n;

  (void)state;
  world_init(&w, 2);
  start_on(&w, 0, 6, t + 7200);
  start_on(&w, 1, 6, t + 10800);
  assert_int_equal(sc_backfill_new(&bf), 0);
  in = plan_in(&w, &head, 1, t);
  assert_int_equal(sc_backfill_plan(bf, &in), 0);
  assert_int_equal(sc_backfill_shadow(bf), t + 7200);
  r = sc_backfill_reservation(bf, &n);
  assert_int_equal(n, 1);
  assert_int_equal(r[0].node, 0);
  /* No max_runtime: only unreserved nodes, so n1 (2 free -> 1). */
  assert_int_equal(sc_backfill_try(bf, &one, 1, 0, &p), 0);
  assert_int_equal(p.node, 1);
  /* 3 h, 2 devices: runs past the shadow; n1 has 1 left, n0 is held. */
  assert_int_equal(sc_backfill_try(bf, &two, 1, 10800, &p), SC_ENOFIT);
  assert_int_equal(p.node, -1);
  /* Ending exactly at the shadow is not before it: held off n0 too. */
  assert_int_equal(sc_backfill_try(bf, &two, 1, 7200, &p), SC_ENOFIT);
  /* 1 h, 2 devices: ends before the shadow, may use n0's free devices. */
  assert_int_equal(sc_backfill_try(bf, &two, 1, 3600, &p), 0);
  assert_int_equal(p.node, 0);
  /* 2 h, 1 device: n1's last one, off the reservation. */
  assert_int_equal(sc_backfill_try(bf, &one, 1, 7200, &p), 0);
  assert_int_equal(p.node, 1);
  /* Now all 16 devices are taken: nothing more. */
  assert_int_equal(sc_backfill_try(bf, &one, 1, 60, &p), SC_ENOFIT);
  /* A head that never fits (a 9-device task): no reservation, all go. */
  struct sc_shape nine = gpus(9);
  in = plan_in(&w, &nine, 1, t);
  assert_int_equal(sc_backfill_plan(bf, &in), 0);
  assert_int_equal(sc_backfill_shadow(bf), SC_TIME_NEVER);
  assert_int_equal(sc_backfill_try(bf, &two, 1, 0, &p), 0);
  sc_backfill_reservation(bf, &n);
  assert_int_equal(n, 0);
  /* Jobs without a known end leave last, oldest first: the head still
   * holds n0 (job 0, the oldest, runs there), from an unknown time. Each
   * plan starts from the cluster as it is (6 + 6 taken): a job without a
   * max_runtime gets n1's 2 free devices, not n0's; with the shadow
   * unknown no job is known to end before it, so even a short one may
   * not use n0 (a stream of them could hold it forever). */
  w.jobs[0].end = SC_TIME_NEVER;
  w.jobs[1].end = SC_TIME_NEVER;
  in = plan_in(&w, &head, 1, t);
  assert_int_equal(sc_backfill_plan(bf, &in), 0);
  assert_int_equal(sc_backfill_shadow(bf), SC_TIME_NEVER);
  r = sc_backfill_reservation(bf, &n);
  assert_int_equal(n, 1);
  assert_int_equal(r[0].node, 0);
  assert_int_equal(sc_backfill_try(bf, &two, 1, 0, &p), 0);
  assert_int_equal(p.node, 1);
  assert_int_equal(sc_backfill_try(bf, &one, 1, 60, &p), SC_ENOFIT);
  assert_int_equal(sc_backfill_try(bf, &one, 1, 0, &p), SC_ENOFIT);
  sc_backfill_free(bf);
  world_release(&w);
}

#define SIM_TICKS 300
#define GANG_AT 20

/*
 * Two 8-device nodes. Every tick two 1-device jobs of 8 ticks arrive
 * (runtime = max_runtime = 8), which keeps all 16 devices busy; at tick
 * GANG_AT a 2 x 8-device gang of 50 ticks arrives. Each tick, jobs that end
 * leave, then the queue is walked in arrival order: a job starts if it
 * fits; with backfill, the first job that does not fit is the head and
 * every later one must pass sc_backfill_try. Returns the gang's start
 * tick (-1: never) and the latest end among jobs running at its arrival.
 */
static int simulate(bool backfill, int64_t *drained)
{
  struct world w;
  struct sc_backfill *bf;
  struct sc_shape one = gpus(1), gang[2] = {gpus(8), gpus(8)};
  int queue[2 * SIM_TICKS + 1], qhead = 0, qlen = 0, next_id = 0, started = -1;
  int64_t end_of[MAXJ];

  world_init(&w, 2);
  assert_int_equal(sc_backfill_new(&bf), 0);
  *drained = 0;
  for (int now = 0; now < SIM_TICKS; now++) {
    /* Ends: remove from the cluster and the running table. */
    for (int j = 0; j < w.njobs;) {
      if (end_of[j] == now) {
        for (int k = 0; k < w.jobs[j].ntasks; k++)
          sc_sched_uncommit(w.s, &w.tasks[w.jobs[j].first_task + k].shape,
                            &w.tasks[w.jobs[j].first_task + k].place);
        w.njobs--;
        /* Move the last job (and its tasks) into slot j. */
        if (j != w.njobs) {
          w.jobs[j] = w.jobs[w.njobs];
          end_of[j] = end_of[w.njobs];
          for (int k = 0; k < w.jobs[j].ntasks; k++)
            w.tasks[2 * j + k] = w.tasks[w.jobs[j].first_task + k];
          w.jobs[j].first_task = 2 * j;
        }
      } else {
        j++;
      }
    }
    if (now == GANG_AT) {
      queue[qlen++] = -1; /* the gang */
      for (int j = 0; j < w.njobs; j++)
        if (end_of[j] > *drained)
          *drained = end_of[j];
    }
    queue[qlen++] = next_id++;
    queue[qlen++] = next_id++;
    bool have_head = false;
    for (int q = qhead; q < qlen; q++) {
      bool is_gang = queue[q] == -1;
      const struct sc_shape *sh = is_gang ? gang : &one;
      int n = is_gang ? 2 : 1, runtime = is_gang ? 50 : 8, rc;
      struct sc_placement p[2];
      if (queue[q] == -2)
        continue; /* started earlier */
      if (!have_head) {
        rc = sc_sched_place_gang(w.s, sh, n, NULL, p);
        if (rc < 0 && backfill) {
          struct sc_backfill_in in = {&w.c, sc_policy_find("bestfit"), NULL, w.jobs,
                                      w.njobs, w.tasks, sh, n, now, NULL};
          assert_int_equal(sc_backfill_plan(bf, &in), 0);
          have_head = true;
          continue;
        }
      } else {
        rc = sc_backfill_try(bf, sh, n, runtime, p);
        if (rc == 0)
          for (int i = 0; i < n; i++)
            assert_int_equal(sc_sched_commit(w.s, &sh[i], &p[i]), 0);
      }
      if (rc < 0)
        continue;
      /* Started: record it (tasks at 2 * slot). */
      int j = w.njobs++;
      assert_true(j < MAXJ);
      for (int i = 0; i < n; i++)
        w.tasks[2 * j + i] = (struct sc_run_task){sh[i], p[i]};
      w.jobs[j] = (struct sc_run_job){0, 0, false, 0, now + runtime, 2 * j, n, {{0}}};
      end_of[j] = now + runtime;
      if (is_gang)
        started = now;
      queue[q] = -2;
    }
    while (qhead < qlen && queue[qhead] == -2)
      qhead++;
  }
  sc_backfill_free(bf);
  world_release(&w);
  return started;
}

static void test_gang_not_starved(void **state)
{
  int64_t drained;
  int start;

  (void)state;
  /* Without backfill two devices free up every tick and the next 1-device
   * jobs take them: the gang never sees 16 free. */
  start = simulate(false, &drained);
  assert_int_equal(start, -1);
  /* With it, the gang is the head from its arrival; a new 1-device job
   * ends 8 ticks later, after every job already running (the latest ends
   * at GANG_AT + 7), so none may start and the gang starts once they have
   * all ended. */
  start = simulate(true, &drained);
  print_message("gang arrives at %d, running jobs drain by %lld, gang starts at %d\n", GANG_AT,
                (long long)drained, start);
  assert_true(start >= GANG_AT);
  assert_true(start <= drained);
}

/* The shadow by the plain rule: jobs leave one end time at a time (those
 * without an end one by one, lowest index first) and the head is placed
 * after each, on a copy of w. Returns the shadow; *found says whether. */
static int64_t linear_shadow(struct world *w, const struct sc_shape *head, int nhead, int64_t now,
                             bool *found)
{
  struct sc_sched_opts o = {sc_policy_find("bestfit"), {NULL}, 0};
  struct sc_cluster c;
  struct sc_sched *s;
  struct sc_placement p[2];
  bool gone[MAXJ] = {false};
  int64_t t = now;

  sc_cluster_init(&c);
  for (size_t i = 0; i < w->c.nnodes; i++)
    sc_cluster_add_node(&c, "n", 64000, 65536, 8, "A");
  memcpy(c.nodes, w->c.nodes, w->c.nnodes * sizeof *c.nodes);
  assert_int_equal(sc_sched_new(&c, &o, &s), 0);
  *found = false;
  for (;;) {
    int next = -1;
    if (sc_sched_place_gang(s, head, nhead, NULL, p) == 0) {
      *found = true;
      break;
    }
    for (int j = 0; j < w->njobs; j++) { /* the next job to leave */
      int64_t e = w->jobs[j].end < now ? now : w->jobs[j].end;
      int64_t ne = next < 0 ? 0 : (w->jobs[next].end < now ? now : w->jobs[next].end);
      if (!gone[j] && (next < 0 || e < ne))
        next = j;
    }
    if (next < 0)
      break;
    t = w->jobs[next].end < now ? now : w->jobs[next].end;
    for (int j = 0; j < w->njobs; j++) {
      int64_t e = w->jobs[j].end < now ? now : w->jobs[j].end;
      if (!gone[j] && e == t && (t != SC_TIME_NEVER || j == next)) {
        gone[j] = true;
        sc_sched_uncommit(s, &w->tasks[j].shape, &w->tasks[j].place);
      }
    }
  }
  sc_sched_free(s);
  sc_cluster_release(&c);
  return *found ? t : SC_TIME_NEVER;
}

/* The bisection over end times finds what the plain rule finds: 500
 * random clusters of four 8-device nodes with jobs of 1, 2 and 4 devices,
 * ends shared, distinct or unknown, and heads of 1-2 tasks of 3-9 devices. */
static void test_shadow_bisection(void **state)
{
  struct sc_rng rng;
  struct sc_backfill *bf;
  int reserved = 0, never = 0;

  (void)state;
  sc_rng_seed(&rng, 7);
  assert_int_equal(sc_backfill_new(&bf), 0);
  for (int round = 0; round < 500; round++) {
    struct world w;
    struct sc_shape head[2];
    int nhead = 1 + (int)(sc_rng_uint64(&rng) % 2);
    const int64_t now = 100;
    struct sc_backfill_in in;
    bool found;
    int64_t want;
    int n;

    world_init(&w, 4);
    for (int tries = 0; tries < 40 && w.njobs < MAXJ; tries++) {
      int size = 1 << (sc_rng_uint64(&rng) % 3), node = (int)(sc_rng_uint64(&rng) % 4), k = 0;
      int64_t end = sc_rng_uint64(&rng) % 5 == 0 ? SC_TIME_NEVER
                                                : now - 5 + (int64_t)(sc_rng_uint64(&rng) % 8) * 10;
      for (int d = 0; d < 8; d++)
        k += w.c.nodes[node].gpu_left[d] == 1000;
      if (k >= size)
        start_on(&w, node, size, end);
    }
    for (int i = 0; i < nhead; i++)
      head[i] = gpus(3 + (int)(sc_rng_uint64(&rng) % 7)); /* 9: never fits */
    want = linear_shadow(&w, head, nhead, now, &found);
    in = plan_in(&w, head, nhead, now);
    assert_int_equal(sc_backfill_plan(bf, &in), 0);
    sc_backfill_reservation(bf, &n);
    assert_int_equal(n, found ? nhead : 0);
    assert_true(sc_backfill_shadow(bf) == want);
    reserved += found;
    never += found && want == SC_TIME_NEVER;
    world_release(&w);
  }
  print_message("500 plans: %d with a reservation, %d of them after jobs without an end\n",
                reserved, never);
  assert_true(reserved > 100 && reserved < 480 && never > 10);
  sc_backfill_free(bf);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_easy_rules),
    cmocka_unit_test(test_gang_not_starved),
    cmocka_unit_test(test_shadow_bisection),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
