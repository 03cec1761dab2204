/*
 * The agent's tasks, with their own lock. The main thread (exits, logs,
 * statuses) and the assignments thread (starts, kills) share them: every
 * read or write of the list, and of a listed task's fields, holds the
 * table's lock. Only the main thread removes and frees tasks, so it may
 * keep pointers to tasks across an unlocked request (it re-locks to use
 * them); the assignments thread only adds tasks and marks kills.
 */
#ifndef SC_AGENT_TASK_TABLE_H
#define SC_AGENT_TASK_TABLE_H

#include <pthread.h>
#include <stdbool.h>

#include "agent/task.h"

struct sc_task_table {
  pthread_mutex_t lock;
  struct sc_task *head;     /* newest first */
};

void sc_task_table_init(struct sc_task_table *tt);
/* Frees every task (not their processes or files) and the lock. */
void sc_task_table_release(struct sc_task_table *tt);

void sc_task_table_lock(struct sc_task_table *tt);
void sc_task_table_unlock(struct sc_task_table *tt);

/* The record of task_id (any attempt), or of its attempt (attempt < 0 or a
 * record without attempt match any). Lock held. */
struct sc_task *sc_task_table_find(struct sc_task_table *tt, const char *task_id);
struct sc_task *sc_task_table_find_attempt(struct sc_task_table *tt, const char *task_id,
                                           int attempt);

/* Adds t (ownership moves to the table). Lock held. */
void sc_task_table_insert(struct sc_task_table *tt, struct sc_task *t);

/* Frees the tasks whose final status was acknowledged and whose supervisor
 * was reaped (their files stay for an hour). Lock held; main thread. */
void sc_task_table_forget_reported(struct sc_task_table *tt);

/* Copies pointers to the tasks that want(t) into a new array (*out, caller
 * frees; NULL when none). Returns how many, or -1 when out of memory.
 * Lock held. */
int sc_task_table_select(struct sc_task_table *tt, bool (*want)(const struct sc_task *t),
                         struct sc_task ***out);

/* True when some task wants(t). Lock held. */
bool sc_task_table_any(struct sc_task_table *tt, bool (*want)(const struct sc_task *t));

#endif
