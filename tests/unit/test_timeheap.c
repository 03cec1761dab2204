/* The timer heap: entries come out in key order, only once due; equal
 * keys all come out; a failed push leaves the heap as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"

#include "failalloc.h"
#include "util/error.h"
#include "util/timeheap.h"

/* Keys pushed 5, 1, 4, 1, 9, 2, 6 (ids 0..6): due at 4 are 1, 1, 2, 4 in
 * that order (ids 1 and 3 for the two 1s, in either order), then nothing
 * until 5; the earliest left is 5. */
static void test_order_and_due(void **state)
{
  const int64_t keys[] = {5, 1, 4, 1, 9, 2, 6};
  struct sc_timeheap h = {0};
  struct sc_timer t;
  int64_t last = 0, ones = 0;

  (void)state;
  for (int i = 0; i < 7; i++)
    assert_int_equal(sc_timeheap_push(&h, keys[i], i), 0);
  assert_int_equal(sc_timeheap_next(&h), 1);
  for (int k = 0; k < 4; k++) {
    assert_true(sc_timeheap_pop_due(&h, 4, &t));
    assert_true(t.key >= last);
    assert_int_equal(keys[t.id], t.key);
    ones += t.key == 1 ? t.id : 0;
    last = t.key;
  }
  assert_int_equal(ones, 1 + 3);
  assert_int_equal(last, 4);
  assert_false(sc_timeheap_pop_due(&h, 4, &t));
  assert_int_equal(sc_timeheap_next(&h), 5);
  assert_true(sc_timeheap_pop_due(&h, 100, &t) && t.key == 5);
  assert_true(sc_timeheap_pop_due(&h, 100, &t) && t.key == 6);
  assert_true(sc_timeheap_pop_due(&h, 100, &t) && t.key == 9);
  assert_false(sc_timeheap_pop_due(&h, 100, &t));
  assert_int_equal(sc_timeheap_next(&h), 0);
  sc_timeheap_release(&h);
}

/* 10,000 pseudo-random keys come out sorted; a push that cannot grow the
 * heap fails and changes nothing. */
static void test_many_and_no_memory(void **state)
{
  struct sc_timeheap h = {0};
  struct sc_timer t;
  uint32_t x = 12345;
  int64_t last = -1;
  int n = 0;

  (void)state;
  for (int i = 0; i < 10000; i++) {
    x = x * 1103515245u + 12345u;
    assert_int_equal(sc_timeheap_push(&h, (x >> 8) % 100000, i), 0);
  }
  while (h.n < h.cap)
    assert_int_equal(sc_timeheap_push(&h, 50000, -1), 0);
  fa_fail_after(0, 0);
  assert_int_equal(sc_timeheap_push(&h, 1, -2), SC_ENOMEM);
  fa_off();
  while (sc_timeheap_pop_due(&h, INT64_MAX, &t)) {
    assert_true(t.key >= last);
    assert_true(t.id != -2);
    last = t.key;
    n++;
  }
  assert_true(n >= 10000);
  sc_timeheap_release(&h);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_order_and_due),
    cmocka_unit_test(test_many_and_no_memory),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
