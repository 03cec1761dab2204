/*
 * The group commit both backends share (sqlite.c, pg.c). Batches queue in
 * the order they are submitted; one writer thread takes up to max of them
 * at a time and hands them to the backend's commit function, which writes
 * them in one transaction and sets each batch's rc; then every waiter of
 * those batches wakes. So batches commit in submission order, and a
 * sc_store_wait that returns 0 means the batch is durable. The queue also
 * keeps what sc_store_stats reports: commit and submit-to-durable latency,
 * failed batches.
 */
#ifndef SC_STORE_QUEUE_H
#define SC_STORE_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/histogram.h"

/* Commits count batches from first (linked by next) in one transaction,
 * setting each one's rc (0 or an SC_E* code); runs on the writer thread. */
typedef void sc_store_commit_fn(void *arg, struct sc_store_batch *first, int count);

struct sc_store_queue {
  pthread_mutex_t mu;
  pthread_cond_t work, done;
  struct sc_store_batch *head, *tail; /* waiting, oldest first */
  bool stop, started;
  pthread_t writer;
  int max;                            /* batches per transaction */
  sc_store_commit_fn *commit;
  void *arg;
  struct sc_histogram commit_hist, batch_hist; /* seconds */
  _Atomic uint64_t failed_batches;
};

/* Initialises q and starts its writer thread: 0 or SC_ENOMEM (then q is
 * left to sc_store_queue_stop, which is safe). */
int sc_store_queue_start(struct sc_store_queue *q, int max, sc_store_commit_fn *commit,
                         void *arg);
/* Commits what is queued, stops the writer and destroys q. Safe on a
 * queue whose start failed, or that was zeroed and never started. */
void sc_store_queue_stop(struct sc_store_queue *q);

/* Queues b (SC_ESTATE once stopping). */
int sc_store_queue_submit(struct sc_store_queue *q, struct sc_store_batch *b);
/* Waits until b is committed or failed: its rc. */
int sc_store_queue_wait(struct sc_store_queue *q, struct sc_store_batch *b);
void sc_store_queue_stats(struct sc_store_queue *q, struct sc_store_stats *out);

#endif
