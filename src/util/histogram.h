/*
 * A histogram of fixed bucket bounds, as Prometheus defines one: counts of
 * observations at or below each upper bound, their sum and count. Any
 * thread may observe at any time (relaxed atomics, no lock); a reader takes
 * a snapshot whose cumulative counts never decrease from bucket to bucket
 * and whose count equals its +Inf bucket. Bounds are the caller's (static
 * arrays, ascending) and outlive the histogram.
 */
#ifndef SC_UTIL_HISTOGRAM_H
#define SC_UTIL_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#define SC_HISTO_MAX_BOUNDS 24

struct sc_histogram {
  const double *bounds;                          /* borrowed, ascending */
  int nbounds;
  _Atomic uint64_t counts[SC_HISTO_MAX_BOUNDS + 1]; /* per bucket; the last: above every bound */
  _Atomic uint64_t sum_bits;                     /* the sum, a double's bits */
};

/* What a reader sees: cumulative[i] observations <= bounds[i], count of
 * them all (the +Inf bucket), sum. */
struct sc_histogram_snap {
  int nbounds;
  double bounds[SC_HISTO_MAX_BOUNDS];
  uint64_t cumulative[SC_HISTO_MAX_BOUNDS];
  uint64_t count;
  double sum;
};

/* Fills caller-owned h: empty, with nbounds (at most SC_HISTO_MAX_BOUNDS)
 * upper bounds, ascending, borrowed. */
void sc_histogram_init(struct sc_histogram *h, const double *bounds, int nbounds);
/* Counts one observation (NaN is ignored). */
void sc_histogram_observe(struct sc_histogram *h, double value);
/* A snapshot of h into out. */
void sc_histogram_read(const struct sc_histogram *h, struct sc_histogram_snap *out);

#endif
