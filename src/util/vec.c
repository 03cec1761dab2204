/* The growable-array helper (see vec.h). */
#include "util/vec.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

int sc_vec_reserve(void *items, int *cap, int need, size_t elem)
{
  void *old, *grown;
  int n = *cap > 0 ? *cap : 16;

  if (need <= *cap)
    return 0;
  if (need < 0 || elem == 0)
    return SC_EINVAL;
  while (n < need) {
    if (n > INT_MAX / 2)
      return SC_ENOMEM;
    n *= 2;
  }
  /* items is the address of a T *: read and write it as bytes, which is
   * defined for any object pointer type. */
  memcpy(&old, items, sizeof old);
  if ((size_t)n > SIZE_MAX / elem || !(grown = realloc(old, (size_t)n * elem)))
    return SC_ENOMEM;
  memcpy(items, &grown, sizeof grown);
  *cap = n;
  return 0;
}
