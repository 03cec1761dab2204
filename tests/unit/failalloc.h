/*
 * Allocation-failure injection for unit tests, in the spirit of SQLite's
 * malloc fault simulation. Tests that link failalloc.c are built with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup, so every
 * allocation made by the project's code in that executable (its static
 * libraries included; shared libraries such as jansson are not) passes
 * through here and can be made to fail. Thread-safe.
 */
#ifndef SC_TEST_FAILALLOC_H
#define SC_TEST_FAILALLOC_H

#include <stddef.h>

/* Fails the allocation that comes after n more successful ones (n = 0:
 * the next), and every one after it while sticky; fa_off() stops. */
void fa_fail_after(long n, int sticky);
void fa_off(void);
/* The calling thread's allocations never fail (a test's client side, when
 * only a server's threads are meant to see failures). */
void fa_exempt_this_thread(void);

/* Allocations seen since the start, and how many were failed. */
long fa_calls(void);
long fa_failed(void);

/* The same allocator for jansson (json_set_alloc_funcs). */
void *fa_malloc(size_t size);
void fa_free(void *p);

#endif
