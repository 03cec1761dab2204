/* The agent's controller client: JSON in and out of the agent endpoints
 * (see agent_client.h). */
#include "agent/agent_client.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/log.h"

#define CALL_TIMEOUT_MS 10000

int sc_client_init(struct sc_client *c, const char *server, const char *token,
                   const char *node, atomic_int *abort)
{
  int rc;

  memset(c, 0, sizeof *c);
  snprintf(c->node, sizeof c->node, "%s", node);
  /* libcurl for the agent: it retries a request on a kept-alive connection
   * the controller closed (a restart) instead of failing the round. */
  if ((rc = sc_http_init(&c->http, server, token)) == 0 &&
      (rc = sc_http_use_curl(&c->http, abort)) != 0) {
    snprintf(c->error, sizeof c->error, "%s", c->http.error);
    sc_http_release(&c->http);
  }
  return rc;
}

void sc_client_release(struct sc_client *c)
{
  sc_http_release(&c->http);
}

void sc_client_wakeup(struct sc_client *c)
{
  sc_http_wakeup(&c->http);
}

/* The outcome of a call that got reply r (rc: sc_http_call's result);
 * fills c->error when it is not a success. */
static enum sc_client_rc outcome(struct sc_client *c, int rc, const struct sc_http_reply *r)
{
  const char *field, *msg;
  char buf[200];

  if (rc) {
    snprintf(c->error, sizeof c->error, "%s", c->http.error[0] ? c->http.error : sc_strerror(rc));
    return SC_CLIENT_UNREACHABLE;
  }
  if (r->status == 200)
    return SC_CLIENT_OK;
  msg = sc_http_error_message(r, &field, buf, sizeof buf);
  snprintf(c->error, sizeof c->error, "%s%s%s%s", msg, field ? " (field '" : "",
           field ? field : "", field ? "')" : "");
  return sc_client_outcome(r->status);
}

enum sc_client_rc sc_client_outcome(long status)
{
  if (status == 200)
    return SC_CLIENT_OK;
  if (status <= 0)
    return SC_CLIENT_UNREACHABLE;
  if (status == 404)
    return SC_CLIENT_UNKNOWN_NODE;
  if (status == 401 || status == 403)
    return SC_CLIENT_DENIED;
  if (status >= 400 && status < 500 && status != 408 && status != 429)
    return SC_CLIENT_REFUSED;
  return SC_CLIENT_LATER;
}

/* Sends body (consumed) and returns the outcome; r is filled on OK (the
 * caller releases it) and released otherwise. */
static enum sc_client_rc call(struct sc_client *c, const char *method, const char *path,
                              json_t *body, long timeout_ms, struct sc_http_reply *r)
{
  enum sc_client_rc out;
  int rc;

  if (!body && strcmp(method, "POST") == 0) {
    snprintf(c->error, sizeof c->error, "out of memory");
    memset(r, 0, sizeof *r);
    return SC_CLIENT_LATER;
  }
  rc = sc_http_call(&c->http, method, path, body, timeout_ms, r);
  json_decref(body);
  out = outcome(c, rc, r);
  if (out != SC_CLIENT_OK)
    sc_http_reply_release(r);
  return out;
}

static json_t *running_json(const struct sc_client_task *running, int n)
{
  json_t *arr = json_array();

  for (int i = 0; arr && i < n; i++)
    json_array_append_new(arr, running[i].pid > 0
                                 ? json_pack("{s:s, s:I}", "task_id", running[i].task_id,
                                             "pid", (json_int_t)running[i].pid)
                                 : json_string(running[i].task_id));
  return arr;
}

/* The signals a notice may name (those a task's init forwards). */
static int signal_of(const char *name)
{
  static const struct {
    const char *name;
    int sig;
  } sigs[] = {{"SIGTERM", SIGTERM}, {"SIGINT", SIGINT},   {"SIGHUP", SIGHUP},
              {"SIGQUIT", SIGQUIT}, {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}};

  for (size_t i = 0; name && i < sizeof sigs / sizeof sigs[0]; i++)
    if (strcmp(name, sigs[i].name) == 0)
      return sigs[i].sig;
  return SIGTERM;
}

/* The "preempt" list of a reply (notices of some of its kills) into k. */
static void notices_of(json_t *reply, struct sc_client_kills *k)
{
  json_t *arr = json_object_get(reply, "preempt"), *v;
  size_t i;

  if (json_array_size(arr) == 0 ||
      !(k->notices = calloc(json_array_size(arr), sizeof *k->notices)))
    return;
  json_array_foreach(arr, i, v) {
    struct sc_client_notice *n = &k->notices[k->nnotices];
    const char *id = json_string_value(json_object_get(v, "task_id"));
    json_int_t grace = json_integer_value(json_object_get(v, "grace_ms"));
    if (!id || !(n->task_id = strdup(id)))
      continue;
    n->signal = signal_of(json_string_value(json_object_get(v, "signal")));
    n->grace_ms = grace > 0 ? grace : 0;
    snprintf(n->by, sizeof n->by, "%s",
             json_is_string(json_object_get(v, "by")) ? json_string_value(json_object_get(v, "by"))
                                                      : "");
    snprintf(n->kind, sizeof n->kind, "%s",
             json_is_string(json_object_get(v, "kind"))
               ? json_string_value(json_object_get(v, "kind"))
               : "operator");
    k->nnotices++;
  }
}

void sc_client_kills_decode(json_t *reply, struct sc_client_kills *k)
{
  json_t *arr = json_object_get(reply, "kill"), *v;
  size_t i;

  memset(k, 0, sizeof *k);
  if (json_array_size(arr) == 0 || !(k->ids = calloc(json_array_size(arr), sizeof *k->ids)))
    return;
  json_array_foreach(arr, i, v) {
    if (json_is_string(v) && (k->ids[k->n] = strdup(json_string_value(v))))
      k->n++;
  }
  notices_of(reply, k);
}

void sc_client_kills_release(struct sc_client_kills *k)
{
  for (int i = 0; i < k->n; i++)
    free(k->ids[i]);
  for (int i = 0; i < k->nnotices; i++)
    free(k->notices[i].task_id);
  free(k->ids);
  free(k->notices);
  memset(k, 0, sizeof *k);
}

json_t *sc_client_register_body(const char *name, const struct sc_client_node *node,
                                const struct sc_client_task *running, int n)
{
  return json_pack("{s:s, s:I, s:I, s:O, s:o, s:o}", "name", name, "cpu_milli",
                   (json_int_t)node->cpu_milli, "memory_mib", (json_int_t)node->memory_mib,
                   "labels", node->labels, "devices", sc_devices_to_json(node->devices),
                   "running", running_json(running, n));
}

int sc_client_registered_decode(json_t *reply, struct sc_client_registered *reg)
{
  json_t *v;

  memset(reg, 0, sizeof *reg);
  reg->heartbeat_ms = sc_client_interval_decode(reply);
  v = json_object_get(reply, "fence_after_ms");
  if (json_is_integer(v) && json_integer_value(v) > 0)
    reg->fence_after_ms = json_integer_value(v);
  v = json_object_get(reply, "grace_ms");
  if (json_is_integer(v) && json_integer_value(v) > 0)
    reg->grace_ms = json_integer_value(v);
  sc_client_kills_decode(reply, &reg->kills);
  v = json_object_get(reply, "credential");
  if (json_is_string(v) && !(reg->credential = strdup(json_string_value(v))))
    return SC_ENOMEM;
  return 0;
}

enum sc_client_rc sc_client_register(struct sc_client *c, const struct sc_client_node *node,
                                     const struct sc_client_task *running, int n,
                                     struct sc_client_registered *reg)
{
  json_t *body = sc_client_register_body(c->node, node, running, n);
  struct sc_http_reply r;
  enum sc_client_rc out;

  out = call(c, "POST", "/v1/agent/register", body, CALL_TIMEOUT_MS, &r);
  memset(reg, 0, sizeof *reg);
  if (out != SC_CLIENT_OK)
    return out;
  if (sc_client_registered_decode(r.body, reg) != 0) {
    snprintf(c->error, sizeof c->error, "out of memory");
    out = SC_CLIENT_LATER;
  }
  sc_http_reply_release(&r);
  return out;
}

void sc_client_registered_release(struct sc_client_registered *r)
{
  sc_client_kills_release(&r->kills);
  free(r->credential);
  memset(r, 0, sizeof *r);
}

int sc_client_set_token(struct sc_client *c, const char *token)
{
  return sc_http_set_token(&c->http, token);
}

json_t *sc_client_heartbeat_body(const char *name, const struct sc_client_task *running, int n)
{
  return json_pack("{s:s, s:o}", "name", name, "running", running_json(running, n));
}

enum sc_client_rc sc_client_heartbeat(struct sc_client *c, const struct sc_client_task *running,
                                      int n, struct sc_client_kills *kills, int64_t *interval_ms)
{
  json_t *body = sc_client_heartbeat_body(c->node, running, n);
  struct sc_http_reply r;
  enum sc_client_rc out = call(c, "POST", "/v1/agent/heartbeat", body, CALL_TIMEOUT_MS, &r);

  memset(kills, 0, sizeof *kills);
  if (interval_ms)
    *interval_ms = 0;
  if (out == SC_CLIENT_OK) {
    sc_client_kills_decode(r.body, kills);
    if (interval_ms)
      *interval_ms = sc_client_interval_decode(r.body);
    sc_http_reply_release(&r);
  }
  return out;
}

int64_t sc_client_interval_decode(json_t *reply)
{
  json_t *v = json_object_get(reply, "heartbeat_interval_ms");

  return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : 0;
}

static json_t *update_json(const struct sc_client_update *u)
{
  json_t *o = json_pack("{s:s, s:s, s:I}", "task_id", u->task_id, "state",
                        u->exited ? "exited" : "running", "pid", (json_int_t)u->pid);

  if (o && u->attempt >= 0)
    json_object_set_new(o, "attempt", json_integer(u->attempt));
  if (o && u->started_ms > 0)
    json_object_set_new(o, "started_ms", json_integer(u->started_ms));
  if (o && u->exited && u->ended_ms > 0)
    json_object_set_new(o, "ended_ms", json_integer(u->ended_ms));
  if (o && u->exited) {
    json_object_set_new(o, "exit_code", u->exit_code >= 0 ? json_integer(u->exit_code)
                                                          : json_null());
    json_object_set_new(o, "signal", u->signal > 0 ? json_integer(u->signal) : json_null());
    if (u->reason)
      json_object_set_new(o, "reason", json_string(u->reason));
  }
  return o;
}

json_t *sc_client_status_body(const char *name, const struct sc_client_update *u, int n)
{
  json_t *updates = json_array();

  for (int i = 0; updates && i < n; i++)
    if (json_array_append_new(updates, update_json(&u[i])) < 0) {
      json_decref(updates);
      updates = NULL;
    }
  return updates ? json_pack("{s:s, s:o}", "name", name, "updates", updates) : NULL;
}

enum sc_client_rc sc_client_status(struct sc_client *c, const struct sc_client_update *u, int n)
{
  json_t *body = sc_client_status_body(c->node, u, n);
  struct sc_http_reply r;
  enum sc_client_rc out;

  out = call(c, "POST", "/v1/agent/status", body, CALL_TIMEOUT_MS, &r);
  if (out == SC_CLIENT_OK)
    sc_http_reply_release(&r);
  return out;
}

json_t *sc_client_log_body(const char *task_id, int attempt, int64_t offset, const char *data,
                           size_t len)
{
  json_t *body = json_pack("{s:s, s:I, s:s%}", "task_id", task_id, "offset",
                           (json_int_t)offset, "data", data, len);

  if (body && attempt >= 0) /* offsets restart at 0 for each attempt */
    json_object_set_new(body, "attempt", json_integer(attempt));
  return body;
}

enum sc_client_rc sc_client_log(struct sc_client *c, const char *task_id, int attempt,
                                int64_t offset, const char *data, size_t len)
{
  json_t *body = sc_client_log_body(task_id, attempt, offset, data, len);
  struct sc_http_reply r;
  enum sc_client_rc out;

  out = call(c, "POST", "/v1/agent/logs", body, CALL_TIMEOUT_MS, &r);
  if (out == SC_CLIENT_OK)
    sc_http_reply_release(&r);
  return out;
}

/* Decodes the starts of a reply; the undecodable ones are logged. */
static void starts_of(json_t *reply, struct sc_client_assignments *a)
{
  json_t *arr = json_object_get(reply, "start"), *v;
  size_t i, n = json_array_size(arr);
  char err[256];

  if (n == 0)
    return;
  if (!(a->starts = calloc(n, sizeof *a->starts))) {
    sc_error("out of memory: %zu starts dropped", n);
    return;
  }
  json_array_foreach(arr, i, v) {
    struct sc_client_start *s = &a->starts[a->nstarts];
    if (sc_task_spec_from_json(&s->spec, v, err, sizeof err) != 0) {
      sc_error("%s", err);
      continue;
    }
    if (!(s->text = json_dumps(v, JSON_COMPACT))) {
      sc_task_spec_release(&s->spec);
      sc_error("out of memory: the start of %s dropped", json_string_value(json_object_get(v, "task_id")));
      continue;
    }
    a->nstarts++;
  }
}

char *sc_client_assignments_path(const char *name, int wait_s, char *buf, size_t size)
{
  char escaped[256];

  snprintf(buf, size, "/v1/agent/assignments?name=%s&wait=%d",
           sc_http_escape(name, escaped, sizeof escaped), wait_s);
  return buf;
}

enum sc_client_rc sc_client_assignments(struct sc_client *c, int wait_s,
                                        struct sc_client_assignments *out)
{
  struct sc_http_reply r;
  enum sc_client_rc rc;
  char path[512];

  memset(out, 0, sizeof *out);
  sc_client_assignments_path(c->node, wait_s, path, sizeof path);
  rc = call(c, "GET", path, NULL, (long)wait_s * 1000 + 15000, &r);
  if (rc != SC_CLIENT_OK)
    return rc;
  if (!json_is_object(r.body)) {
    snprintf(c->error, sizeof c->error, "the reply is not a JSON object");
    sc_http_reply_release(&r);
    return SC_CLIENT_LATER;
  }
  sc_client_assignments_decode(r.body, out);
  sc_http_reply_release(&r);
  return SC_CLIENT_OK;
}

void sc_client_assignments_decode(json_t *reply, struct sc_client_assignments *out)
{
  memset(out, 0, sizeof *out);
  starts_of(reply, out);
  sc_client_kills_decode(reply, &out->kills);
}

void sc_client_assignments_release(struct sc_client_assignments *a)
{
  for (int i = 0; i < a->nstarts; i++) {
    sc_task_spec_release(&a->starts[i].spec);
    free(a->starts[i].text);
  }
  free(a->starts);
  sc_client_kills_release(&a->kills);
  memset(a, 0, sizeof *a);
}
