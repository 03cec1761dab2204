/*
 * Agent endpoints (/v1/agent/...): decode the agent's JSON into the
 * controller's structs, call it, encode the reply. Unknown fields are
 * ignored here (agents may be newer than the controller); wrong types and
 * missing required fields are 400 naming the field. A node's credential
 * acts only as that node (403 otherwise); a bootstrap agent token may only
 * register, and gets the node's credential in the reply; admin tokens may
 * act as any node.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/codec.h"
#include "server/http.h"
#include "server/ids.h"
#include "util/error.h"

#define RUNNING_MAX 4096
#define UPDATES_MAX 4096
#define ASSIGN_WAIT_MAX_S 60

void sc_api_agent_register(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_agent_heartbeat(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_agent_assignments(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_agent_status(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_agent_logs(struct sc_http_req *req, struct sc_http_resp *resp);

static bool bad(struct sc_http_resp *resp, const char *field, const char *message)
{
  sc_http_error(resp, 400, "bad_request", message, field);
  return false;
}

/* True when the caller may act as node name (see the top of the file);
 * replies 403 otherwise. */
static bool acts_as(struct sc_http_req *req, struct sc_http_resp *resp, const char *name,
                    bool registering)
{
  char msg[160];

  if (req->who.kind == SC_TOKEN_ADMIN)
    return true;
  if (!req->who.node[0]) {
    if (registering)
      return true;
    sc_http_error(resp, 403, "forbidden",
                  "a bootstrap agent token may only register a node; use the node's credential",
                  NULL);
    return false;
  }
  if (strcmp(req->who.node, name) == 0)
    return true;
  snprintf(msg, sizeof msg, "this credential belongs to node '%s'", req->who.node);
  sc_http_error(resp, 403, "forbidden", msg, "name");
  return false;
}

static bool get_name(json_t *body, struct sc_http_resp *resp, char *out, size_t size)
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
static bool get_running(json_t *body, struct sc_http_resp *resp,
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

/* Fills reg from body; *labels and *running are owned by the caller. */
static bool parse_register(struct sc_http_req *req, json_t *body, struct sc_http_resp *resp,
                           struct sc_agent_reg *reg, char **labels,
                           struct sc_agent_running **running)
{
  json_t *addr = json_object_get(body, "address");

  memset(reg, 0, sizeof *reg);
  *labels = NULL;
  *running = NULL;
  if (!get_name(body, resp, reg->name, sizeof reg->name) ||
      !get_int(body, "cpu_milli", resp, 0, &reg->cpu_milli) ||
      !get_int(body, "memory_mib", resp, 0, &reg->memory_mib) || !get_devices(body, resp, reg) ||
      !get_labels(body, resp, labels) || !get_running(body, resp, running, &reg->nrunning))
    return false;
  reg->labels = *labels;
  reg->running = *running;
  snprintf(reg->address, sizeof reg->address, "%s",
           json_is_string(addr) ? json_string_value(addr) : req->peer);
  return true;
}

/* Replies ok (200) or the error of rc; takes ownership of ok. */
static void reply_rc(struct sc_http_resp *resp, int rc, json_t *ok)
{
  if (rc == 0 && !ok)
    rc = SC_ENOMEM;
  if (rc == 0) {
    sc_http_reply(resp, 200, ok);
    return;
  }
  json_decref(ok);
  if (rc == SC_ENOENT)
    sc_http_error(resp, 404, "unknown_node", "unknown node: register first", "name");
  else
    sc_http_error(resp, rc == SC_ENOMEM || rc == SC_ESTORE ? 503 : 500, "internal",
                  sc_strerror(rc), NULL);
}

void sc_api_agent_register(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_ctl *ctl = sc_server_ctl(req->srv);
  json_t *body = sc_http_body(req, resp), *reply = NULL;
  struct sc_kill_list kill = {0};
  struct sc_agent_running *running = NULL;
  struct sc_agent_reg reg;
  char *labels = NULL;
  int rc;

  if (!body)
    return;
  if (parse_register(req, body, resp, &reg, &labels, &running) &&
      acts_as(req, resp, reg.name, true)) {
    rc = sc_ctl_register(ctl, &reg, &kill);
    if (rc == 0)
      reply = json_pack("{s:s, s:I, s:I, s:o}", "node", reg.name, "heartbeat_interval_ms",
                        (json_int_t)sc_ctl_heartbeat_interval_ms(ctl), "fence_after_ms",
                        (json_int_t)sc_ctl_fence_after_ms(ctl), "kill",
                        sc_kill_list_json(&kill));
    if (reply && req->who.kind == SC_TOKEN_AGENT && !req->who.node[0]) {
      /* A bootstrap registration: the node's own credential from now on. */
      char cred[SC_TOKEN_HEX_LEN + 1];
      if ((rc = sc_auth_node_credential(sc_server_auth(req->srv), reg.name, cred)) == 0)
        json_object_set_new(reply, "credential", json_string(cred));
    }
    /* A kill that cannot be sent is sent again: the agent's next heartbeat
     * lists the task and gets it. */
    reply_rc(resp, rc, reply);
  }
  sc_kill_list_release(&kill);
  free(labels);
  free(running);
  json_decref(body);
}

void sc_api_agent_heartbeat(struct sc_http_req *req, struct sc_http_resp *resp)
{
  json_t *body = sc_http_body(req, resp), *reply = NULL;
  struct sc_kill_list kill = {0};
  struct sc_agent_running *running = NULL;
  char name[64];
  int n = 0, rc;

  if (!body)
    return;
  if (get_name(body, resp, name, sizeof name) && acts_as(req, resp, name, false) &&
      get_running(body, resp, &running, &n)) {
    rc = sc_ctl_heartbeat(sc_server_ctl(req->srv), name, running, n, &kill);
    if (rc == 0)
      reply = json_pack("{s:o}", "kill", sc_kill_list_json(&kill));
    reply_rc(resp, rc, reply);
  }
  sc_kill_list_release(&kill);
  free(running);
  json_decref(body);
}

/* A reply of starts and kills on its way to an agent. */
struct delivery {
  struct sc_ctl *ctl;
  char name[64];
  struct sc_assignments a;
};

static void delivery_done(void *arg, bool delivered)
{
  struct delivery *d = arg;

  if (!delivered)
    sc_ctl_assignments_undo(d->ctl, d->name, &d->a);
  sc_assignments_release(&d->a);
  free(d);
}

void sc_api_agent_assignments(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_ctl *ctl = sc_server_ctl(req->srv);
  const char *name = sc_http_query(req, "name");
  struct delivery *d;
  long long wait_s = 0;
  json_t *reply;
  int rc;

  if (!name || !sc_spec_name_ok(name, 63)) {
    bad(resp, "name", "'name' must be a node name");
    return;
  }
  if (!acts_as(req, resp, name, false))
    return;
  if (!sc_http_query_int(req, resp, "wait", 0, ASSIGN_WAIT_MAX_S, &wait_s))
    return;
  if (!(d = calloc(1, sizeof *d))) {
    reply_rc(resp, SC_ENOMEM, NULL);
    return;
  }
  d->ctl = ctl;
  snprintf(d->name, sizeof d->name, "%s", name);
  rc = sc_ctl_assignments(ctl, name, wait_s * 1000, &d->a);
  reply = rc == 0 ? sc_assignments_json(&d->a) : NULL;
  if (rc == 0 && (!reply || sc_http_peer_closed(req))) {
    /* Not encodable (out of memory) or a dead agent's poll: take it back. */
    sc_ctl_assignments_undo(ctl, name, &d->a);
    json_decref(reply);
    reply = NULL;
    rc = SC_ENOMEM;
  }
  reply_rc(resp, rc, reply);
  if (rc == 0 && (d->a.nstarts > 0 || d->a.kills.n > 0)) {
    /* Taken back if the connection fails before the reply is sent. */
    resp->done = delivery_done;
    resp->done_arg = d;
    return;
  }
  sc_assignments_release(&d->a);
  free(d);
}

static bool parse_update(json_t *v, size_t i, struct sc_http_resp *resp,
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
  u->exit_code = json_is_integer(code) ? (int)json_integer_value(code) : -1;
  u->signal = json_is_integer(sig) && json_integer_value(sig) > 0 ? (int)json_integer_value(sig)
                                                                  : -1;
  if (u->exited && u->exit_code < 0 && u->signal < 0)
    u->exit_code = 255; /* an exit without a status: count it as a failure */
  return true;
}

void sc_api_agent_status(struct sc_http_req *req, struct sc_http_resp *resp)
{
  json_t *body = sc_http_body(req, resp), *arr, *v;
  struct sc_agent_update *u = NULL;
  char name[64];
  size_t i;
  int rc;

  if (!body)
    return;
  arr = json_object_get(body, "updates");
  if (!get_name(body, resp, name, sizeof name) || !acts_as(req, resp, name, false))
    goto out;
  if (!json_is_array(arr) || json_array_size(arr) > UPDATES_MAX) {
    bad(resp, "updates", "'updates' must be a list");
    goto out;
  }
  if (!(u = calloc(json_array_size(arr) + 1, sizeof *u)))
    goto out;
  json_array_foreach(arr, i, v) {
    if (!parse_update(v, i, resp, &u[i]))
      goto out;
  }
  rc = sc_ctl_status(sc_server_ctl(req->srv), name, u, (int)json_array_size(arr));
  reply_rc(resp, rc, rc == 0 ? json_object() : NULL);
out:
  free(u);
  json_decref(body);
}

/* The node a log chunk comes from: the caller's node credential, the
 * body's "name" for an admin (NULL when absent: not checked); false after
 * replying 400 or 403. */
static bool log_node(struct sc_http_req *req, struct sc_http_resp *resp, json_t *body,
                     char *name, size_t size, const char **node)
{
  *node = NULL;
  if (json_object_get(body, "name") && !get_name(body, resp, name, size))
    return false;
  if (req->who.kind == SC_TOKEN_ADMIN) {
    *node = json_object_get(body, "name") ? name : NULL;
    return true;
  }
  if (!acts_as(req, resp, json_object_get(body, "name") ? name : req->who.node, false))
    return false;
  *node = req->who.node;
  return true;
}

void sc_api_agent_logs(struct sc_http_req *req, struct sc_http_resp *resp)
{
  json_t *body = sc_http_body(req, resp);
  json_t *id, *data, *offset, *attempt;
  struct sc_log_chunk chunk = {.attempt = -1};
  char name[64];
  int rc;

  if (!body)
    return;
  id = json_object_get(body, "task_id");
  data = json_object_get(body, "data");
  offset = json_object_get(body, "offset");
  attempt = json_object_get(body, "attempt");
  if (!json_is_string(id) ||
      sc_task_id_parse(json_string_value(id), &chunk.job_id, &chunk.index) < 0)
    bad(resp, "task_id", "'task_id' must be a task id such as j-000123.0");
  else if (!json_is_string(data))
    bad(resp, "data", "'data' must be a string");
  else if (!json_is_integer(offset) || json_integer_value(offset) < 0)
    bad(resp, "offset", "'offset' must be a non-negative integer");
  else if (attempt && (!json_is_integer(attempt) || json_integer_value(attempt) < 0))
    bad(resp, "attempt", "'attempt' must be a non-negative integer");
  else if (log_node(req, resp, body, name, sizeof name, &chunk.node)) {
    chunk.attempt = attempt ? (int)json_integer_value(attempt) : -1;
    chunk.offset = json_integer_value(offset);
    chunk.data = json_string_value(data);
    chunk.len = json_string_length(data);
    rc = sc_ctl_log_append(sc_server_ctl(req->srv), &chunk);
    if (rc == SC_ENOENT)
      sc_http_error(resp, 404, "not_found", "no such task", "task_id");
    else if (rc == SC_EPERM)
      sc_http_error(resp, 403, "forbidden",
                    "no process of this task and attempt runs on this node", "task_id");
    else
      reply_rc(resp, rc, rc == 0 ? json_object() : NULL);
  }
  json_decref(body);
}
