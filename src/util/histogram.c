/*
 * Fixed-bucket histograms on atomics (see histogram.h). The sum is a
 * double kept as its bits in a 64-bit atomic and added with a
 * compare-and-swap loop, so no lock is ever taken.
 */
#include "util/histogram.h"

#include <assert.h>
#include <math.h>
#include <string.h>

void sc_histogram_init(struct sc_histogram *h, const double *bounds, int nbounds)
{
  assert(nbounds >= 0 && nbounds <= SC_HISTO_MAX_BOUNDS);
  h->bounds = bounds;
  h->nbounds = nbounds;
  for (int i = 0; i <= SC_HISTO_MAX_BOUNDS; i++)
    atomic_init(&h->counts[i], 0);
  atomic_init(&h->sum_bits, 0); /* the bits of 0.0 */
}

static double from_bits(uint64_t bits)
{
  double d;

  memcpy(&d, &bits, sizeof d);
  return d;
}

static uint64_t to_bits(double d)
{
  uint64_t bits;

  memcpy(&bits, &d, sizeof bits);
  return bits;
}

void sc_histogram_observe(struct sc_histogram *h, double value)
{
  uint64_t old, sum;
  int i = 0;

  if (isnan(value))
    return;
  while (i < h->nbounds && value > h->bounds[i]) /* few bounds: a scan */
    i++;
  atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
  old = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
  do
    sum = to_bits(from_bits(old) + value);
  while (!atomic_compare_exchange_weak_explicit(&h->sum_bits, &old, sum, memory_order_relaxed,
                                                memory_order_relaxed));
}

void sc_histogram_read(const struct sc_histogram *h, struct sc_histogram_snap *out)
{
  uint64_t total = 0;

  memset(out, 0, sizeof *out);
  out->nbounds = h->nbounds;
  for (int i = 0; i < h->nbounds; i++) {
    total += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    out->bounds[i] = h->bounds[i];
    out->cumulative[i] = total;
  }
  out->count =
    total + atomic_load_explicit(&h->counts[h->nbounds], memory_order_relaxed);
  out->sum = from_bits(atomic_load_explicit(&h->sum_bits, memory_order_relaxed));
}
