/*
 * The two clocks. Monotonic time (sc_clock_mono_ms) measures every timeout,
 * deadline and interval: it never jumps when an operator or NTP steps the
 * wall clock. Wall-clock time (sc_clock_wall_ms) is only for what is shown
 * to people and stored (created_at, started_at, log lines).
 */
#ifndef SC_UTIL_CLOCK_H
#define SC_UTIL_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC (arbitrary origin). */
int64_t sc_clock_mono_ms(void);

/* Milliseconds of CLOCK_MONOTONIC as a double (sub-millisecond timings). */
double sc_clock_mono_msf(void);

/* Unix time in milliseconds (CLOCK_REALTIME). */
int64_t sc_clock_wall_ms(void);

/* The timespec of an absolute time in ms, for pthread_cond_timedwait on a
 * condition whose clock counts on the same scale. */
struct timespec sc_clock_timespec(int64_t ms);

/* The timespec ms milliseconds from now on CLOCK_MONOTONIC. */
struct timespec sc_clock_mono_after(int64_t ms);

/* Initialises cond to time its waits on CLOCK_MONOTONIC (pair with
 * sc_clock_mono_after / sc_clock_timespec of monotonic ms). Returns 0 or
 * the pthread error. */
int sc_clock_cond_init(pthread_cond_t *cond);

#endif
