/*
 * Go math/rand replica: seeding through seedrand, Uint64 by tap/feed
 * addition, and the Intn, Shuffle (Lemire) and Perm algorithms of Go 1.19.
 * Invariant: 0 <= tap, feed < SC_RNG_LEN.
 */
#include "core/rng.h"

#include "core/banned.h"

static int32_t seedrand(int32_t x)
{
  const int32_t a = 48271, q = 44488, r = 3399;
  int32_t hi = x / q, lo = x % q;
  x = a * lo - r * hi;
  if (x < 0)
    x += 2147483647;
  return x;
}

void sc_rng_seed(struct sc_rng *rng, int64_t seed)
{
  int32_t x;

  rng->tap = 0;
  rng->feed = SC_RNG_LEN - SC_RNG_TAP;
  seed = seed % 2147483647;
  if (seed < 0)
    seed += 2147483647;
  if (seed == 0)
    seed = 89482311;
  x = (int32_t)seed;
  for (int i = -20; i < SC_RNG_LEN; i++) {
    x = seedrand(x);
    if (i >= 0) {
      uint64_t u = (uint64_t)(int64_t)x << 40;
      x = seedrand(x);
      u ^= (uint64_t)(int64_t)x << 20;
      x = seedrand(x);
      u ^= (uint64_t)(int64_t)x;
      u ^= (uint64_t)sc_rng_cooked[i];
      rng->vec[i] = u;
    }
  }
}

uint64_t sc_rng_uint64(struct sc_rng *rng)
{
  if (--rng->tap < 0)
    rng->tap += SC_RNG_LEN;
  if (--rng->feed < 0)
    rng->feed += SC_RNG_LEN;
  rng->vec[rng->feed] += rng->vec[rng->tap];
  return rng->vec[rng->feed];
}

int64_t sc_rng_int63(struct sc_rng *rng)
{
  return (int64_t)(sc_rng_uint64(rng) & 0x7fffffffffffffffULL);
}

int32_t sc_rng_int31(struct sc_rng *rng)
{
  return (int32_t)(sc_rng_int63(rng) >> 32);
}

double sc_rng_float64(struct sc_rng *rng)
{
  for (;;) {
    double f = (double)sc_rng_int63(rng) / 9223372036854775808.0;
    if (f < 1.0)
      return f;
  }
}

int32_t sc_rng_intn(struct sc_rng *rng, int32_t n)
{
  int32_t max, v;

  if ((n & (n - 1)) == 0)
    return sc_rng_int31(rng) & (n - 1);
  max = (int32_t)((1U << 31) - 1 - (uint32_t)((1ULL << 31) % (uint32_t)n));
  v = sc_rng_int31(rng);
  while (v > max)
    v = sc_rng_int31(rng);
  return v % n;
}

/* Go's int31n: Lemire's multiply-shift, used by Shuffle. */
static int32_t int31n_lemire(struct sc_rng *rng, int32_t n)
{
  uint32_t v = (uint32_t)(sc_rng_int63(rng) >> 31);
  uint64_t prod = (uint64_t)v * (uint64_t)n;
  uint32_t low = (uint32_t)prod;

  if (low < (uint32_t)n) {
    uint32_t thresh = (uint32_t)(-(uint32_t)n) % (uint32_t)n;
    while (low < thresh) {
      v = (uint32_t)(sc_rng_int63(rng) >> 31);
      prod = (uint64_t)v * (uint64_t)n;
      low = (uint32_t)prod;
    }
  }
  return (int32_t)(prod >> 32);
}

void sc_rng_shuffle_int(struct sc_rng *rng, int32_t *items, int32_t n)
{
  for (int32_t i = n - 1; i > 0; i--) {
    int32_t j = int31n_lemire(rng, i + 1);
    int32_t t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
}

void sc_rng_perm(struct sc_rng *rng, int32_t *perm, int32_t n)
{
  for (int32_t i = 0; i < n; i++) {
    int32_t j = sc_rng_intn(rng, i + 1);
    perm[i] = perm[j];
    perm[j] = i;
  }
}
