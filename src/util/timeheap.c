#include "util/timeheap.h"

#include <stdlib.h>

#include "util/vec.h"

int sc_timeheap_push(struct sc_timeheap *h, int64_t key, int64_t id)
{
  int i, rc = SC_VEC_RESERVE_ONE(h->v, h->n, h->cap);

  if (rc < 0)
    return rc;
  for (i = h->n++; i > 0 && h->v[(i - 1) / 2].key > key; i = (i - 1) / 2)
    h->v[i] = h->v[(i - 1) / 2];
  h->v[i] = (struct sc_timer){key, id};
  return 0;
}

bool sc_timeheap_pop_due(struct sc_timeheap *h, int64_t now, struct sc_timer *out)
{
  struct sc_timer last;
  int i = 0;

  if (h->n == 0 || h->v[0].key > now)
    return false;
  *out = h->v[0];
  last = h->v[--h->n];
  for (;;) {
    int k = 2 * i + 1;
    if (k >= h->n)
      break;
    if (k + 1 < h->n && h->v[k + 1].key < h->v[k].key)
      k++;
    if (h->v[k].key >= last.key)
      break;
    h->v[i] = h->v[k];
    i = k;
  }
  if (h->n > 0)
    h->v[i] = last;
  return true;
}

int64_t sc_timeheap_next(const struct sc_timeheap *h)
{
  return h->n > 0 ? h->v[0].key : 0;
}

void sc_timeheap_release(struct sc_timeheap *h)
{
  free(h->v);
  h->v = NULL;
  h->n = h->cap = 0;
}
