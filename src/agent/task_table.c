/* The agent's task table (see task_table.h). */
#include "agent/task_table.h"

#include <stdlib.h>
#include <string.h>

void sc_task_table_init(struct sc_task_table *tt)
{
  pthread_mutex_init(&tt->lock, NULL);
  tt->head = NULL;
}

void sc_task_table_release(struct sc_task_table *tt)
{
  while (tt->head) {
    struct sc_task *next = tt->head->next;
    sc_task_free(tt->head);
    tt->head = next;
  }
  pthread_mutex_destroy(&tt->lock);
}

void sc_task_table_lock(struct sc_task_table *tt)
{
  pthread_mutex_lock(&tt->lock);
}

void sc_task_table_unlock(struct sc_task_table *tt)
{
  pthread_mutex_unlock(&tt->lock);
}

struct sc_task *sc_task_table_find(struct sc_task_table *tt, const char *task_id)
{
  for (struct sc_task *t = tt->head; t; t = t->next)
    if (strcmp(t->spec.task_id, task_id) == 0)
      return t;
  return NULL;
}

struct sc_task *sc_task_table_find_attempt(struct sc_task_table *tt, const char *task_id,
                                           int attempt)
{
  for (struct sc_task *t = tt->head; t; t = t->next)
    if (strcmp(t->spec.task_id, task_id) == 0 &&
        (attempt < 0 || t->spec.attempt < 0 || t->spec.attempt == attempt))
      return t;
  return NULL;
}

void sc_task_table_insert(struct sc_task_table *tt, struct sc_task *t)
{
  t->next = tt->head;
  tt->head = t;
}

void sc_task_table_forget_reported(struct sc_task_table *tt)
{
  struct sc_task **pp = &tt->head;

  while (*pp) {
    struct sc_task *t = *pp;
    if (t->exit_sent && !t->child) { /* reported and its supervisor reaped */
      *pp = t->next;
      sc_task_free(t);
    } else {
      pp = &t->next;
    }
  }
}

int sc_task_table_select(struct sc_task_table *tt, bool (*want)(const struct sc_task *t),
                         struct sc_task ***out)
{
  int n = 0, k = 0;

  *out = NULL;
  for (struct sc_task *t = tt->head; t; t = t->next)
    n += want(t);
  if (n == 0)
    return 0;
  if (!(*out = malloc((size_t)n * sizeof **out)))
    return -1;
  for (struct sc_task *t = tt->head; t; t = t->next)
    if (want(t))
      (*out)[k++] = t;
  return k;
}

bool sc_task_table_any(struct sc_task_table *tt, bool (*want)(const struct sc_task *t))
{
  for (struct sc_task *t = tt->head; t; t = t->next)
    if (want(t))
      return true;
  return false;
}
