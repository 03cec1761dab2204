/* The group commit both backends share: see queue.h. */
#include "store/queue.h"

#include <string.h>

#include "util/clock.h"
#include "util/error.h"

/* Bucket bounds (seconds) of the commit and batch histograms: from a
 * group commit on a fast disk to a stalled one. */
static const double commit_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                       0.1,    0.25,  0.5,    1,     2.5,  5,     10};

/* Hands count batches from first to the backend, then wakes their waiters. */
static void commit_group(struct sc_store_queue *q, struct sc_store_batch *first, int count)
{
  double t0 = sc_clock_mono_msf(), now;
  struct sc_store_batch *b;

  q->commit(q->arg, first, count);
  now = sc_clock_mono_msf();
  sc_histogram_observe(&q->commit_hist, (now - t0) / 1000.0);
  pthread_mutex_lock(&q->mu);
  b = first;
  for (int i = 0; i < count; i++) {
    struct sc_store_batch *next = b->next;
    sc_histogram_observe(&q->batch_hist, (now - b->submitted_ms) / 1000.0);
    if (b->rc < 0)
      atomic_fetch_add_explicit(&q->failed_batches, 1, memory_order_relaxed);
    b->done = true;
    b->next = NULL;
    b = next;
  }
  pthread_cond_broadcast(&q->done);
  pthread_mutex_unlock(&q->mu);
}

/* Takes up to max waiting batches at a time; at stop, what is queued still
 * commits. */
static void *writer_main(void *arg)
{
  struct sc_store_queue *q = arg;

  pthread_mutex_lock(&q->mu);
  for (;;) {
    struct sc_store_batch *first, *b;
    int count = 0;
    while (!q->head && !q->stop)
      pthread_cond_wait(&q->work, &q->mu);
    if (!q->head)
      break;
    first = q->head;
    for (b = first; b && count < q->max; b = b->next)
      count++;
    q->head = b;
    if (!b)
      q->tail = NULL;
    pthread_mutex_unlock(&q->mu);
    commit_group(q, first, count);
    pthread_mutex_lock(&q->mu);
  }
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

int sc_store_queue_start(struct sc_store_queue *q, int max, sc_store_commit_fn *commit,
                         void *arg)
{
  int n = (int)(sizeof commit_bounds / sizeof commit_bounds[0]);

  memset(q, 0, sizeof *q);
  q->max = max > 0 ? max : 1;
  q->commit = commit;
  q->arg = arg;
  sc_histogram_init(&q->commit_hist, commit_bounds, n);
  sc_histogram_init(&q->batch_hist, commit_bounds, n);
  atomic_init(&q->failed_batches, 0);
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->work, NULL);
  pthread_cond_init(&q->done, NULL);
  if (pthread_create(&q->writer, NULL, writer_main, q) != 0)
    return SC_ENOMEM;
  q->started = true;
  return 0;
}

void sc_store_queue_stop(struct sc_store_queue *q)
{
  if (!q->commit)
    return; /* zeroed, never started */
  if (q->started) {
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->writer, NULL);
  }
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->work);
  pthread_cond_destroy(&q->done);
  q->commit = NULL;
  q->started = false;
}

int sc_store_queue_submit(struct sc_store_queue *q, struct sc_store_batch *b)
{
  b->done = false;
  b->rc = 0;
  b->next = NULL;
  b->submitted_ms = sc_clock_mono_msf();
  pthread_mutex_lock(&q->mu);
  if (q->stop) {
    pthread_mutex_unlock(&q->mu);
    return SC_ESTATE;
  }
  if (q->tail)
    q->tail->next = b;
  else
    q->head = b;
  q->tail = b;
  pthread_cond_signal(&q->work);
  pthread_mutex_unlock(&q->mu);
  return 0;
}

int sc_store_queue_wait(struct sc_store_queue *q, struct sc_store_batch *b)
{
  int rc;

  pthread_mutex_lock(&q->mu);
  while (!b->done)
    pthread_cond_wait(&q->done, &q->mu);
  rc = b->rc;
  pthread_mutex_unlock(&q->mu);
  return rc;
}

void sc_store_queue_stats(struct sc_store_queue *q, struct sc_store_stats *out)
{
  sc_histogram_read(&q->commit_hist, &out->commit_seconds);
  sc_histogram_read(&q->batch_hist, &out->batch_seconds);
  out->failed_batches = atomic_load_explicit(&q->failed_batches, memory_order_relaxed);
}
