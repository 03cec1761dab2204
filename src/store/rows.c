/* Device lists as JSON texts, shared by the backends (see rows.h). */
#include "store/rows.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

char *sc_rows_task_devices_text(const struct sc_task_rec *t)
{
  json_t *arr = json_array();
  char *text = NULL;
  int ok = arr != NULL;

  for (int i = 0; ok && i < t->ndev && i < SC_STORE_MAX_DEVICES; i++)
    ok = json_array_append_new(arr, json_integer(t->devices[i])) == 0;
  if (ok)
    text = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  return text;
}

int sc_rows_task_devices_parse(const char *text, struct sc_task_rec *t)
{
  json_t *arr = json_loads(text ? text : "[]", 0, NULL), *v;
  size_t i;
  int rc = 0;

  t->ndev = 0;
  if (!json_is_array(arr) || json_array_size(arr) > SC_STORE_MAX_DEVICES)
    rc = SC_EPARSE;
  json_array_foreach(arr, i, v) {
    if (rc < 0)
      break;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1 << 20)
      rc = SC_EPARSE;
    else
      t->devices[t->ndev++] = (int)json_integer_value(v);
  }
  json_decref(arr);
  if (rc < 0)
    t->ndev = 0;
  return rc;
}

char *sc_rows_node_devices_text(const struct sc_node_rec *n)
{
  json_t *arr = json_array();
  char *text = NULL;
  int ok = arr != NULL;

  for (int i = 0; ok && i < n->ndev && i < SC_STORE_MAX_DEVICES; i++)
    ok = json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:I}", "index", n->dev[i].index,
                                              "vendor", n->dev[i].vendor, "model",
                                              n->dev[i].model, "memory_mib",
                                              (json_int_t)n->dev[i].memory_mib)) == 0;
  if (ok)
    text = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  return text;
}

int sc_rows_node_devices_parse(const char *text, struct sc_node_rec *n)
{
  json_t *arr = json_loads(text ? text : "[]", 0, NULL), *d;
  size_t i;
  int rc = json_is_array(arr) ? 0 : SC_EPARSE;

  n->ndev = 0;
  n->dev = NULL;
  if (rc == 0 && json_array_size(arr) > 0 &&
      !(n->dev = calloc(SC_STORE_MAX_DEVICES, sizeof *n->dev)))
    rc = SC_ENOMEM;
  json_array_foreach(arr, i, d) {
    if (rc < 0)
      break;
    struct sc_device_rec *dev;
    const char *vendor = json_string_value(json_object_get(d, "vendor"));
    const char *model = json_string_value(json_object_get(d, "model"));
    if (n->ndev >= SC_STORE_MAX_DEVICES || !vendor || !model ||
        !json_is_integer(json_object_get(d, "index"))) {
      rc = SC_EPARSE;
      continue;
    }
    dev = &n->dev[n->ndev++];
    dev->index = (int)json_integer_value(json_object_get(d, "index"));
    snprintf(dev->vendor, sizeof dev->vendor, "%s", vendor);
    snprintf(dev->model, sizeof dev->model, "%s", model);
    dev->memory_mib = json_integer_value(json_object_get(d, "memory_mib"));
  }
  json_decref(arr);
  return rc;
}

char *sc_rows_usage_sql(const struct sc_usage_sql *d, const struct sc_usage_query *q)
{
  const char *parts[] = {"WITH RECURSIVE",
                         q->tenant ? d->sub : "",
                         q->within ? d->mine : "",
                         q->by == SC_USAGE_BY_DAY ? d->days : d->window,
                         d->prices,
                         d->pieces_head,
                         d->group_keys[q->by],
                         d->pieces_body,
                         q->tenant ? d->in_sub : "",
                         q->within ? d->in_mine : "",
                         d->tail};
  size_t len = 1, at = 0;
  char *sql;

  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
    len += strlen(parts[i]);
  if (!(sql = malloc(len)))
    return NULL;
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    memcpy(sql + at, parts[i], strlen(parts[i]));
    at += strlen(parts[i]);
  }
  sql[at] = '\0';
  return sql;
}

void sc_rows_job_list_sql(const struct sc_job_filter *f, const char *select, char mark,
                          char *sql, size_t size)
{
  char where[512], state_any[256];

  /* "array_id > 0" lets the planners use jobs_by_array, a partial index
   * they do not match to a bound parameter alone. */
  snprintf(state_any, sizeof state_any,
           " AND ((array_id = 0 AND state = %c2) OR (array_id = id AND EXISTS ("
           "SELECT 1 FROM jobs e WHERE e.array_id = jobs.id AND e.array_id > 0"
           " AND e.state = %c2)))",
           mark, mark);
  snprintf(where, sizeof where, "%s%s%s%s%s",
           f->state >= 0 && f->collapse ? state_any : f->state >= 0 ? " AND state = %2" : "",
           f->tenant ? " AND tenant = %3" : "",
           f->array_id > 0 ? " AND array_id = %4 AND array_id > 0" : "",
           f->array_id > 0 && f->array_index >= 0 ? " AND array_index = %5" : "",
           f->collapse ? " AND (array_id = 0 OR array_id = id)" : "");
  for (char *p = where; (p = strchr(p, '%')); p++) /* the backend's mark */
    *p = mark;
  snprintf(sql, size, "%s WHERE id > %c1%s ORDER BY id LIMIT %d", select, mark, where,
           f->limit > 0 ? f->limit : 100);
}
