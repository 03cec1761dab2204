/*
 * Growable arrays: one helper for the realloc-doubling idiom. A vector is
 * a caller-owned (pointer, count, capacity) triple; sc_vec_reserve makes
 * room and leaves the elements and the count alone, so a failed growth
 * changes nothing (callers reserve before they mutate, then cannot fail).
 */
#ifndef SC_UTIL_VEC_H
#define SC_UTIL_VEC_H

#include <stddef.h>

/* Makes *items (elements of elem bytes, *cap of them) hold at least need:
 * doubles from 16. Returns 0, or SC_ENOMEM with *items and *cap unchanged. */
int sc_vec_reserve(void *items, int *cap, int need, size_t elem);

/* Reserves room for one more element past n. */
#define SC_VEC_RESERVE_ONE(items, n, cap) \
  sc_vec_reserve(&(items), &(cap), (n) + 1, sizeof *(items))

#endif
