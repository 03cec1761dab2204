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
