/*
 * A min-heap of (key, id): timers that come due in key order, for loops
 * that must cost O(changes), not a scan of everything per tick. Entries
 * are never updated or removed in place: a changed timer pushes a new
 * entry, and whoever pops one checks that it still holds (lazy deletion),
 * so the heap holds at most the pushes of one timer period.
 */
#ifndef SC_UTIL_TIMEHEAP_H
#define SC_UTIL_TIMEHEAP_H

#include <stdbool.h>
#include <stdint.h>

struct sc_timer {
  int64_t key; /* when it comes due (its clock is the caller's) */
  int64_t id;  /* what it is about (a node index, a job id) */
};

struct sc_timeheap {
  struct sc_timer *v;
  int n, cap;
};

/* Adds (key, id): 0 or SC_ENOMEM (the heap is unchanged). */
int sc_timeheap_push(struct sc_timeheap *h, int64_t key, int64_t id);
/* The earliest entry, when its key is at most now: popped into *out. */
bool sc_timeheap_pop_due(struct sc_timeheap *h, int64_t now, struct sc_timer *out);
/* The earliest key, or 0 when empty. */
int64_t sc_timeheap_next(const struct sc_timeheap *h);
void sc_timeheap_release(struct sc_timeheap *h);

#endif
