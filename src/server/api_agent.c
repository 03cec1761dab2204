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

#include "server/agent_codec.h"
#include "server/codec.h"
#include "server/http.h"
#include "server/ids.h"
#include "util/clock.h"
#include "util/error.h"

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
  if (sc_agent_decode_register(body, req->peer, resp, &reg, &labels, &running) &&
      acts_as(req, resp, reg.name, true)) {
    rc = sc_ctl_register(ctl, &reg, &kill);
    if (rc == 0)
      reply = json_pack("{s:s, s:I, s:I, s:I}", "node", reg.name, "heartbeat_interval_ms",
                        (json_int_t)sc_ctl_heartbeat_interval_ms(ctl), "fence_after_ms",
                        (json_int_t)sc_ctl_fence_after_ms(ctl), "grace_ms",
                        (json_int_t)sc_ctl_grace_ms(ctl));
    if (reply && sc_kill_list_put(reply, &kill) < 0) {
      json_decref(reply);
      reply = NULL;
    }
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
  if (sc_agent_decode_name(body, resp, name, sizeof name) && acts_as(req, resp, name, false) &&
      sc_agent_decode_running(body, resp, &running, &n)) {
    rc = sc_ctl_heartbeat(sc_server_ctl(req->srv), name, running, n, &kill);
    if (rc == 0 && (sc_kill_list_put(reply = json_object(), &kill) < 0 ||
                    json_object_set_new(reply, "heartbeat_interval_ms",
                                        json_integer(sc_ctl_heartbeat_interval_ms(
                                          sc_server_ctl(req->srv)))) < 0)) {
      json_decref(reply);
      reply = NULL;
    }
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

/* A parked assignments poll (http.h: sc_http_park). */
struct poll_state {
  struct sc_ctl *ctl;
  char name[64];
  struct sc_ctl_poll p;
  int64_t deadline;
  void *wake_arg;
};

static void poll_free(void *arg)
{
  struct poll_state *st = arg;

  sc_ctl_poll_cancel(st->ctl, st->name, st->wake_arg);
  free(st);
}

void sc_api_agent_assignments(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_ctl *ctl = sc_server_ctl(req->srv);
  struct poll_state *st = req->state;
  struct sc_ctl_waker w = {sc_http_wake, req->wake_arg};
  const char *name;
  struct delivery *d;
  json_t *reply;
  int rc;

  if (!st) { /* the first call: later ones come when the poll is woken */
    long long wait_s = 0;
    name = sc_http_query(req, "name");
    if (!name || !sc_spec_name_ok(name, 63)) {
      bad(resp, "name", "'name' must be a node name");
      return;
    }
    if (!acts_as(req, resp, name, false))
      return;
    if (!sc_http_query_int(req, resp, "wait", 0, ASSIGN_WAIT_MAX_S, &wait_s))
      return;
    if (!(st = calloc(1, sizeof *st))) {
      reply_rc(resp, SC_ENOMEM, NULL);
      return;
    }
    st->ctl = ctl;
    snprintf(st->name, sizeof st->name, "%s", name);
    st->deadline = sc_clock_mono_ms() + wait_s * 1000;
    st->wake_arg = req->wake_arg;
    sc_http_set_state(req, st, poll_free);
  }
  name = st->name;
  if (!(d = calloc(1, sizeof *d))) {
    reply_rc(resp, SC_ENOMEM, NULL);
    return;
  }
  d->ctl = ctl;
  snprintf(d->name, sizeof d->name, "%s", name);
  rc = sc_ctl_assignments_poll(ctl, name, &st->p, st->deadline, &w, &d->a);
  if (rc == SC_EAGAIN) {
    free(d);
    sc_http_park(req, resp, st->deadline); /* woken by the node's changes */
    return;
  }
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
  if (!sc_agent_decode_name(body, resp, name, sizeof name) || !acts_as(req, resp, name, false))
    goto out;
  if (!json_is_array(arr) || json_array_size(arr) > UPDATES_MAX) {
    bad(resp, "updates", "'updates' must be a list");
    goto out;
  }
  if (!(u = calloc(json_array_size(arr) + 1, sizeof *u)))
    goto out;
  json_array_foreach(arr, i, v) {
    if (!sc_agent_decode_update(v, i, resp, &u[i]))
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
  if (json_object_get(body, "name") && !sc_agent_decode_name(body, resp, name, size))
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
  struct sc_log_chunk chunk;
  char name[64];
  int rc;

  if (!body)
    return;
  if (sc_agent_decode_log(body, resp, &chunk) &&
      log_node(req, resp, body, name, sizeof name, &chunk.node)) {
    rc = sc_ctl_log_append(sc_server_ctl(req->srv), &chunk);
    if (rc == SC_ENOENT)
      sc_http_error(resp, 404, "not_found", "no such task", "task_id");
    else if (rc == SC_EPERM) /* 409, not 403: the credential is fine, the chunk is
                                not wanted (an agent takes 403 as "register again") */
      sc_http_error(resp, 409, "conflict",
                    "no process of this task and attempt runs on this node", "task_id");
    else
      reply_rc(resp, rc, rc == 0 ? json_object() : NULL);
  }
  json_decref(body);
}
