/*
 * The fleet timeline (server/ctl_timeline.c): the ring keeps the last N
 * samples in time order, `since` pages, a clock stepped back keeps the
 * order, a sample counts what tasks hold and FGD's fragmentation against
 * the submitted workload, and out of memory a sample is partial or skipped
 * (as a pass leaves out a node it could not add) and the next is whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_helpers.h"
#include "failalloc.h"
#include "server/ctl_int.h"
#include "util/clock.h"
#include "util/log.h"

static char dir[128];
static struct sc_store *store;
static struct sc_ctl *ctl;
static _Atomic int64_t fake_now;

static int64_t fake_wall_ms(void)
{
  return atomic_load(&fake_now);
}

/* A controller keeping 4 samples on a wall clock the test sets, with two
 * nodes of 8 H100s; no scheduling thread unless a test starts it. */
static int setup(void **state)
{
  struct sc_ctl_opts opts = {.heartbeat_timeout_ms = 5000, .timeline_samples = 4,
                             .timeline_interval_ms = 3600 * 1000, .wall_ms = fake_wall_ms};
  (void)state;
  atomic_store(&fake_now, 1000000);
  if (th_store_open("timeline", dir, &store) < 0 || sc_ctl_new(&opts, store, &ctl) < 0)
    return -1;
  th_add_node(ctl, "a", "nvidia", "H100", 8);
  th_add_node(ctl, "b", "nvidia", "H100", 8);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  return th_ctl_teardown(dir, store, ctl);
}

/* A sample at wall time now. */
static void sample_at(int64_t now)
{
  atomic_store(&fake_now, now);
  pthread_mutex_lock(&ctl->mu);
  ctl_sched_sample(ctl);
  pthread_mutex_unlock(&ctl->mu);
}

/* The samples after since into s (caller frees): how many. */
static int samples(int64_t since, struct sc_timeline_sample **s)
{
  int64_t interval;
  int n;

  assert_int_equal(sc_ctl_timeline(ctl, since, s, &n, &interval), 0);
  assert_int_equal(interval, 3600 * 1000);
  return n;
}

static void test_ring_keeps_last(void **state)
{
  struct sc_timeline_sample *s;
  int n;

  (void)state;
  assert_int_equal(sc_ctl_timeline_capacity(ctl), 4);
  assert_int_equal(samples(0, &s), 0);
  assert_null(s);
  for (int i = 1; i <= 6; i++)
    sample_at(i * 1000);
  n = samples(0, &s);
  assert_int_equal(n, 4);
  for (int i = 0; i < n; i++) {
    assert_int_equal(s[i].at_ms, (i + 3) * 1000);
    assert_int_equal(s[i].nodes, 2);
    assert_int_equal(s[i].gpus, 16);
    assert_int_equal(s[i].gpu_milli_used, 0);
    assert_true(s[i].frag_milli < 0); /* no workload yet */
    assert_int_equal(s[i].pending, 0);
  }
  free(s);
  n = samples(4000, &s); /* after 4000: 5000 and 6000 */
  assert_int_equal(n, 2);
  assert_int_equal(s[0].at_ms, 5000);
  assert_int_equal(s[1].at_ms, 6000);
  free(s);
  assert_int_equal(samples(6000, &s), 0);
  assert_null(s);
}

static void test_clock_stepped_back(void **state)
{
  struct sc_timeline_sample *s;
  int n;

  (void)state;
  sample_at(10000);
  sample_at(5000); /* the wall clock went back: still after the last */
  n = samples(0, &s);
  assert_int_equal(n, 2);
  assert_int_equal(s[0].at_ms, 10000);
  assert_int_equal(s[1].at_ms, 10001);
  free(s);
}

/* Whether the newest sample holds milli GPU-milli. */
static bool newest_holds(int64_t milli)
{
  struct sc_timeline_sample *s;
  int n;
  bool yes;

  sample_at(atomic_load(&fake_now) + 1000);
  n = samples(0, &s);
  yes = n > 0 && s[n - 1].gpu_milli_used == milli;
  free(s);
  return yes;
}

static void test_counts_use_and_fragmentation(void **state)
{
  struct sc_timeline_sample *s;
  struct sc_assignments a;
  int n;

  (void)state;
  /* Submitted, not placed: one pending job, and a workload of one shape
   * (700 milli) that fits on every free device: nothing fragmented. */
  assert_true(th_try_submit(ctl, "{\"name\": \"f\", \"command\": \"sleep 9\", "
                                 "\"resources\": {\"gpus\": 1, \"gpu_milli\": 700}}") > 0);
  sample_at(20000);
  n = samples(0, &s);
  assert_int_equal(n, 1);
  assert_int_equal(s[0].pending, 1);
  assert_int_equal(s[0].gpu_milli_used, 0);
  assert_true(s[0].frag_milli == 0);
  free(s);
  /* Placed: 700 held; the device it shares has 300 left, too small for
   * the one typical shape: 300 milli fragmented. */
  assert_int_equal(sc_ctl_start(ctl), 0);
  for (int i = 0; i < 50 && !newest_holds(700); i++)
    usleep(20000);
  n = samples(0, &s);
  assert_int_equal(s[n - 1].gpu_milli_used, 700);
  assert_true(s[n - 1].frag_milli > 299.999 && s[n - 1].frag_milli < 300.001);
  assert_int_equal(s[n - 1].pending, 0);
  free(s);
  for (const char *node = "a"; node; node = node[0] == 'a' ? "b" : NULL) {
    assert_int_equal(sc_ctl_assignments(ctl, node, 0, &a), 0);
    sc_assignments_release(&a);
  }
}

static void test_out_of_memory_skips(void **state)
{
  struct sc_timeline_sample *s;
  int n;

  (void)state;
  sample_at(1000);
  for (long k = 0; k < 8; k++) { /* the k-th allocation of a sample fails */
    fa_fail_after(k, 1);
    sample_at(2000 + k);
    fa_off();
  }
  sample_at(9000);
  n = samples(0, &s);
  assert_true(n >= 2);
  assert_int_equal(s[0].at_ms < s[n - 1].at_ms, 1);
  assert_int_equal(s[n - 1].at_ms, 9000);
  assert_int_equal(s[n - 1].gpus, 16);
  free(s);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_ring_keeps_last, setup, teardown),
    cmocka_unit_test_setup_teardown(test_clock_stepped_back, setup, teardown),
    cmocka_unit_test_setup_teardown(test_counts_use_and_fragmentation, setup, teardown),
    cmocka_unit_test_setup_teardown(test_out_of_memory_skips, setup, teardown),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
