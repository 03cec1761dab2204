/*
 * Decoding of the agents' request bodies into the controller's structs,
 * apart from the HTTP handlers (api_agent.c) so it can be tested and
 * fuzzed alone: every function takes a parsed body and either fills its
 * outputs or replies 400 into resp naming the field, and never trusts a
 * size, an index or a name it did not check. Unknown fields are ignored
 * (agents may be newer than the controller).
 */
#include "server/agent_codec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/ids.h"

#define RUNNING_MAX 4096

static bool bad(struct sc_http_resp *resp, const char *field, const char *message)
{
  sc_http_error(resp, 400, "bad_request", message, field);
  return false;
}

bool sc_agent_decode_log(json_t *body, struct sc_http_resp *resp, struct sc_log_chunk *chunk)
{
  json_t *id = json_object_get(body, "task_id"), *data = json_object_get(body, "data");
  json_t *offset = json_object_get(body, "offset"), *attempt = json_object_get(body, "attempt");

  memset(chunk, 0, sizeof *chunk);
  chunk->attempt = -1;
  if (!json_is_string(id) ||
      sc_task_id_parse(json_string_value(id), &chunk->job_id, &chunk->index) < 0)
    return bad(resp, "task_id", "'task_id' must be a task id such as j-000123.0");
  if (!json_is_string(data))
    return bad(resp, "data", "'data' must be a string");
  if (!json_is_integer(offset) || json_integer_value(offset) < 0)
    return bad(resp, "offset", "'offset' must be a non-negative integer");
  if (attempt && (!json_is_integer(attempt) || json_integer_value(attempt) < 0 ||
                  json_integer_value(attempt) > INT32_MAX))
    return bad(resp, "attempt", "'attempt' must be a non-negative integer");
  chunk->attempt = attempt ? (int)json_integer_value(attempt) : -1;
  chunk->offset = json_integer_value(offset);
  chunk->data = json_string_value(data);
  chunk->len = json_string_length(data);
  return true;
}


/* True when the caller may act as node name (see the top of the file);
 * replies 403 otherwise. */
bool sc_agent_decode_name(json_t *body, struct sc_http_resp *resp, char *out, size_t size)
{
  json_t *v = json_object_get(body, "name");

  if (!json_is_string(v) || !sc_spec_name_ok(json_string_value(v), 63))
    return bad(resp, "name", "'name' must be a node name of 1..63 characters from [A-Za-z0-9._-]");
  snprintf(out, size, "%s", json_string_value(v));
  return true;
}

static bool get_int(json_t *body, const char *key, struct sc_http_resp *resp, int64_t dflt,
                    int64_t *out)
{
  json_t *v = json_object_get(body, key);
  char msg[96];

  *out = dflt;
  if (!v || json_is_null(v))
    return true;
  if (!json_is_integer(v) || json_integer_value(v) < 0) {
    snprintf(msg, sizeof msg, "'%s' must be a non-negative integer", key);
    return bad(resp, key, msg);
  }
  *out = json_integer_value(v);
  return true;
}

/* Parses "running": task id strings or {"task_id", "pid"} objects. */
bool sc_agent_decode_running(json_t *body, struct sc_http_resp *resp,
                             struct sc_agent_running **out, int *n)
{
  json_t *arr = json_object_get(body, "running"), *v;
  size_t i;

  *out = NULL;
  *n = 0;
  if (!arr || json_is_null(arr))
    return true;
  if (!json_is_array(arr) || json_array_size(arr) > RUNNING_MAX)
    return bad(resp, "running", "'running' must be a list of task ids");
  *out = calloc(json_array_size(arr) + 1, sizeof **out);
  if (!*out)
    return bad(resp, "running", "out of memory");
  json_array_foreach(arr, i, v) {
    json_t *id = json_is_object(v) ? json_object_get(v, "task_id") : v;
    struct sc_agent_running *r = &(*out)[*n];
    if (!json_is_string(id) || sc_task_id_parse(json_string_value(id), &r->job_id, &r->index) < 0)
      continue; /* not ours: nothing to reconcile */
    r->pid = json_is_object(v) ? json_integer_value(json_object_get(v, "pid")) : 0;
    (*n)++;
  }
  return true;
}

/* A vendor or model name as agents declare them: 1..max characters from
 * [A-Za-z0-9._+-] (no separators: ':' splits --devices, '|' model lists). */
static bool device_name_ok(json_t *v, size_t max)
{
  const char *s = json_string_value(v);
  size_t n = s ? strlen(s) : 0;

  if (n == 0 || n > max || n != json_string_length(v))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("._+-", s[i]))
      return false;
  return true;
}

/* True unless device i's model is an earlier device's under another vendor
 * (the scheduler groups a node's devices by model, and a task of one model
 * must be a task of one vendor); then answers 400 naming the field. */
static bool model_one_vendor(const struct sc_agent_reg *reg, size_t i, struct sc_http_resp *resp)
{
  const struct sc_device_rec *dev = &reg->dev[i];
  char field[48], msg[256];

  for (size_t k = 0; k < i; k++)
    if (strcmp(reg->dev[k].model, dev->model) == 0 &&
        strcasecmp(reg->dev[k].vendor, dev->vendor) != 0) {
      snprintf(field, sizeof field, "devices[%zu].model", i);
      snprintf(msg, sizeof msg, "model '%s' is declared under vendors '%s' and '%s'; a model "
               "belongs to one vendor on a node", dev->model, reg->dev[k].vendor, dev->vendor);
      return bad(resp, field, msg);
    }
  return true;
}

static bool get_devices(json_t *body, struct sc_http_resp *resp, struct sc_agent_reg *reg)
{
  json_t *arr = json_object_get(body, "devices"), *d;
  size_t i;

  if (!arr || json_is_null(arr))
    return true;
  if (!json_is_array(arr) || json_array_size(arr) > SC_STORE_MAX_DEVICES)
    return bad(resp, "devices", "'devices' must be a list of at most 16 devices");
  json_array_foreach(arr, i, d) {
    struct sc_device_rec *dev = &reg->dev[reg->ndev++];
    json_t *vendor = json_object_get(d, "vendor"), *model = json_object_get(d, "model");
    json_t *index = json_object_get(d, "index");
    char field[48];
    if (!device_name_ok(vendor, 31)) {
      snprintf(field, sizeof field, "devices[%zu].vendor", i);
      return bad(resp, field, "a device's 'vendor' is 1..31 characters from [A-Za-z0-9._+-]");
    }
    if (!device_name_ok(model, 63)) {
      snprintf(field, sizeof field, "devices[%zu].model", i);
      return bad(resp, field, "a device's 'model' is 1..63 characters from [A-Za-z0-9._+-]");
    }
    if (index && (!json_is_integer(index) || json_integer_value(index) < 0 ||
                  json_integer_value(index) > 4095)) {
      snprintf(field, sizeof field, "devices[%zu].index", i);
      return bad(resp, field, "a device's 'index' is an integer 0..4095");
    }
    dev->index = json_is_integer(index) ? (int)json_integer_value(index) : (int)i;
    for (int k = 0; k < reg->ndev - 1; k++)
      if (reg->dev[k].index == dev->index) {
        snprintf(field, sizeof field, "devices[%zu].index", i);
        return bad(resp, field, "device indexes must be unique on a node");
      }
    snprintf(dev->vendor, sizeof dev->vendor, "%s", json_string_value(vendor));
    snprintf(dev->model, sizeof dev->model, "%s", json_string_value(model));
    dev->memory_mib = json_integer_value(json_object_get(d, "memory_mib"));
    if (!model_one_vendor(reg, i, resp))
      return false;
  }
  return true;
}

static bool get_labels(json_t *body, struct sc_http_resp *resp, char **out)
{
  json_t *labels = json_object_get(body, "labels"), *v;
  const char *key;

  *out = NULL;
  if (!labels || json_is_null(labels))
    return true;
  if (!json_is_object(labels))
    return bad(resp, "labels", "'labels' must be an object of strings");
  json_object_foreach(labels, key, v) {
    if (!json_is_string(v))
      return bad(resp, "labels", "label values must be strings");
  }
  *out = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
  return true;
}

bool sc_agent_decode_register(json_t *body, const char *peer, struct sc_http_resp *resp,
                              struct sc_agent_reg *reg, char **labels,
                              struct sc_agent_running **running)
{
  json_t *addr = json_object_get(body, "address");

  memset(reg, 0, sizeof *reg);
  *labels = NULL;
  *running = NULL;
  if (!sc_agent_decode_name(body, resp, reg->name, sizeof reg->name) ||
      !get_int(body, "cpu_milli", resp, 0, &reg->cpu_milli) ||
      !get_int(body, "memory_mib", resp, 0, &reg->memory_mib) || !get_devices(body, resp, reg) ||
      !get_labels(body, resp, labels) || !sc_agent_decode_running(body, resp, running, &reg->nrunning))
    return false;
  reg->labels = *labels;
  reg->running = *running;
  snprintf(reg->address, sizeof reg->address, "%s",
           json_is_string(addr) ? json_string_value(addr) : peer);
  return true;
}

bool sc_agent_decode_update(json_t *v, size_t i, struct sc_http_resp *resp,
                            struct sc_agent_update *u)
{
  json_t *id = json_object_get(v, "task_id"), *state = json_object_get(v, "state");
  json_t *code = json_object_get(v, "exit_code"), *sig = json_object_get(v, "signal");
  char field[48];

  snprintf(field, sizeof field, "updates[%zu]", i);
  if (!json_is_string(id) || sc_task_id_parse(json_string_value(id), &u->job_id, &u->index) < 0)
    return bad(resp, field, "'task_id' must be a task id such as j-000123.0");
  if (!json_is_string(state) || (strcmp(json_string_value(state), "running") != 0 &&
                                 strcmp(json_string_value(state), "exited") != 0))
    return bad(resp, field, "'state' must be running or exited");
  u->exited = strcmp(json_string_value(state), "exited") == 0;
  if (json_is_string(json_object_get(v, "reason")))
    snprintf(u->reason, sizeof u->reason, "%s", json_string_value(json_object_get(v, "reason")));
  u->attempt = json_is_integer(json_object_get(v, "attempt"))
                 ? (int)json_integer_value(json_object_get(v, "attempt"))
                 : -1;
  u->pid = json_integer_value(json_object_get(v, "pid"));
  u->started_ms = json_integer_value(json_object_get(v, "started_ms")); /* 0 when absent */
  u->ended_ms = json_integer_value(json_object_get(v, "ended_ms"));
  u->exit_code = json_is_integer(code) ? (int)json_integer_value(code) : -1;
  u->signal = json_is_integer(sig) && json_integer_value(sig) > 0 ? (int)json_integer_value(sig)
                                                                  : -1;
  if (u->exited && u->exit_code < 0 && u->signal < 0)
    u->exit_code = 255; /* an exit without a status: count it as a failure */
  return true;
}

