/* Allocation-failure injection (see failalloc.h). */
#include "failalloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);

static atomic_long countdown = -1; /* < 0: off */
static atomic_int sticky_mode;
static atomic_long calls, failed;
static _Thread_local int exempt;

void fa_exempt_this_thread(void)
{
  exempt = 1;
}

void fa_fail_after(long n, int sticky)
{
  atomic_store(&sticky_mode, sticky);
  atomic_store(&countdown, n);
}

void fa_off(void)
{
  atomic_store(&countdown, -1);
}

long fa_calls(void)
{
  return atomic_load(&calls);
}

long fa_failed(void)
{
  return atomic_load(&failed);
}

/* True when this allocation is to fail. */
static int should_fail(void)
{
  long left;

  if (exempt)
    return 0;
  atomic_fetch_add(&calls, 1);
  left = atomic_load(&countdown);
  while (left >= 0) {
    long next = left > 0 ? left - 1 : (atomic_load(&sticky_mode) ? 0 : -1);
    if (atomic_compare_exchange_weak(&countdown, &left, next)) {
      if (left == 0) {
        atomic_fetch_add(&failed, 1);
        return 1;
      }
      return 0;
    }
  }
  return 0;
}

void *__wrap_malloc(size_t size)
{
  return should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
  return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
  return should_fail() ? NULL : __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
  size_t len = strlen(s) + 1;
  char *copy = __wrap_malloc(len);

  if (copy)
    memcpy(copy, s, len);
  return copy;
}

void *fa_malloc(size_t size)
{
  return __wrap_malloc(size);
}

void fa_free(void *p)
{
  free(p);
}
