/*
 * Encodings of record fields that every backend stores the same way, as
 * JSON texts through jansson: a task's device indices ([0, 3]) and a node's
 * devices ([{"index", "vendor", "model", "memory_mib"}]). Private to the
 * backends.
 */
#ifndef SC_STORE_ROWS_H
#define SC_STORE_ROWS_H

#include "store/store.h"

/* The JSON text of a task's devices (malloc'd) or NULL when out of memory. */
char *sc_rows_task_devices_text(const struct sc_task_rec *t);
/* Fills t->devices and t->ndev from text; 0, or SC_EPARSE for a text that
 * is not a list of at most SC_STORE_MAX_DEVICES non-negative integers (t
 * then has none). */
int sc_rows_task_devices_parse(const char *text, struct sc_task_rec *t);

/* The same for a node's devices (n->dev is a new array, NULL when none;
 * SC_ENOMEM possible). */
char *sc_rows_node_devices_text(const struct sc_node_rec *n);
int sc_rows_node_devices_parse(const char *text, struct sc_node_rec *n);

/* The SQL of a job list for filter f, from select (a backend's SELECT of
 * job columns FROM jobs), into sql (size bytes), with parameters numbered
 * after mark ('?' SQLite, '$' PostgreSQL): 1 after, 2 state, 3 tenant,
 * 4 array, 5 index. Collapsed, an array is its first element's row,
 * listed when any element is in state. */
void sc_rows_job_list_sql(const struct sc_job_filter *f, const char *select, char mark,
                          char *sql, size_t size);

/* The pieces of the usage report's SQL in one backend's dialect; the
 * report is assembled from them the same way on every backend. */
struct sc_usage_sql {
  const char *sub, *mine, *days, *window, *prices, *pieces_head;
  const char *const *group_keys; /* SC_USAGE_BY_N entries */
  const char *pieces_body, *in_sub, *in_mine, *tail;
};
/* The report's SQL for q in dialect d (malloc'd), NULL when out of memory. */
char *sc_rows_usage_sql(const struct sc_usage_sql *d, const struct sc_usage_query *q);

#endif
