/*
 * The fleet timeline: a ring of the last N samples of the schedulable
 * fleet (its GPUs, what live tasks hold, FGD's fragmentation and the
 * pending queue), one every few seconds, for the dashboard's utilization
 * and fragmentation chart (GET /v1/fleet/timeline). Memory is fixed at
 * start (cap samples); nothing is stored: a restart begins a new timeline.
 */
#include "server/ctl_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define DEFAULT_INTERVAL_MS 5000
#define DEFAULT_SAMPLES 720  /* an hour at 5 s, 40 B each */
#define MAX_SAMPLES 100000

int ctl_timeline_init(struct sc_ctl *c)
{
  struct ctl_timeline *t = &c->timeline;

  if (c->opts.timeline_interval_ms <= 0)
    c->opts.timeline_interval_ms = DEFAULT_INTERVAL_MS;
  if (c->opts.timeline_samples <= 0)
    c->opts.timeline_samples = DEFAULT_SAMPLES;
  if (c->opts.timeline_samples > MAX_SAMPLES)
    c->opts.timeline_samples = MAX_SAMPLES;
  memset(t, 0, sizeof *t);
  t->cap = c->opts.timeline_samples;
  t->ring = calloc((size_t)t->cap, sizeof *t->ring);
  return t->ring ? 0 : SC_ENOMEM;
}

void ctl_timeline_release(struct sc_ctl *c)
{
  free(c->timeline.ring);
  memset(&c->timeline, 0, sizeof c->timeline);
}

void ctl_timeline_record(struct sc_ctl *c, const struct sc_cluster *cl,
                         const struct sc_typical *typ, int64_t now)
{
  struct ctl_timeline *t = &c->timeline;
  struct sc_timeline_sample s = {.at_ms = now, .frag_milli = typ ? 0 : -1,
                                 .pending = c->queue.n};

  if (!t->ring)
    return;
  for (size_t i = 0; i < cl->nnodes; i++) {
    const struct sc_node *n = &cl->nodes[i];
    s.nodes++;
    s.gpus += n->gpu_count;
    s.gpu_milli_used += (int64_t)n->gpu_count * 1000 - sc_node_gpu_left(n);
    if (typ && n->gpu_count > 0)
      s.frag_milli += sc_frag_node_score(n, typ);
  }
  /* A clock stepped back must not break the order the API pages by. */
  if (t->n > 0) {
    const struct sc_timeline_sample *last = &t->ring[(t->next + t->cap - 1) % t->cap];
    if (s.at_ms <= last->at_ms)
      s.at_ms = last->at_ms + 1;
  }
  t->ring[t->next] = s;
  t->next = (t->next + 1) % t->cap;
  if (t->n < t->cap)
    t->n++;
}

int sc_ctl_timeline(struct sc_ctl *c, int64_t since_ms, struct sc_timeline_sample **out,
                    int *n, int64_t *interval_ms)
{
  const struct ctl_timeline *t = &c->timeline;
  int first, k = 0;

  *out = NULL;
  *n = 0;
  pthread_mutex_lock(&c->mu);
  *interval_ms = c->opts.timeline_interval_ms;
  first = (t->next - t->n + t->cap) % (t->cap > 0 ? t->cap : 1);
  /* Samples are in time order: skip those at or before since_ms. */
  while (k < t->n && t->ring[(first + k) % t->cap].at_ms <= since_ms)
    k++;
  if (k < t->n && !(*out = malloc((size_t)(t->n - k) * sizeof **out))) {
    pthread_mutex_unlock(&c->mu);
    return SC_ENOMEM;
  }
  for (; k < t->n; k++)
    (*out)[(*n)++] = t->ring[(first + k) % t->cap];
  pthread_mutex_unlock(&c->mu);
  return 0;
}

int sc_ctl_timeline_capacity(struct sc_ctl *c)
{
  return c->timeline.cap;
}
