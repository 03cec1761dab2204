/*
 * Go's math/rand source (additive lagged Fibonacci, length 607, tap 273) and
 * the derived draws the FGD experiment uses. Explicit state, no globals, so
 * a seed replays the paper's experiment exactly. See docs/simulator.md.
 */
#ifndef SC_CORE_RNG_H
#define SC_CORE_RNG_H

#include <stdint.h>

#define SC_RNG_LEN 607
#define SC_RNG_TAP 273

struct sc_rng {
  int tap;
  int feed;
  uint64_t vec[SC_RNG_LEN];
};

/* The 607 constants of Go's rngCooked table (core/rng_cooked.c). */
extern const int64_t sc_rng_cooked[SC_RNG_LEN];

/* Seeds rng exactly as Go's rand.Seed(seed). */
void sc_rng_seed(struct sc_rng *rng, int64_t seed);

uint64_t sc_rng_uint64(struct sc_rng *rng);
/* Non-negative 63-bit value (Go Int63, also Int). */
int64_t sc_rng_int63(struct sc_rng *rng);
/* Go Int31: the top 31 bits of Int63. */
int32_t sc_rng_int31(struct sc_rng *rng);
/* Go Float64 in [0, 1). */
double sc_rng_float64(struct sc_rng *rng);
/* Go Intn(n) for 0 < n < 2^31: uniform in [0, n). */
int32_t sc_rng_intn(struct sc_rng *rng, int32_t n);
/* Go Shuffle(n, swap) on an int array: a Fisher-Yates pass from the end. */
void sc_rng_shuffle_int(struct sc_rng *rng, int32_t *items, int32_t n);
/* Go Perm(n) into perm[0..n). */
void sc_rng_perm(struct sc_rng *rng, int32_t *perm, int32_t n);

#endif
