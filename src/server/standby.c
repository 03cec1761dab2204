/*
 * A controller's front in leader election (standby.h): what a standby
 * answers in place of the routes, and the role in /healthz. It holds no
 * state: every answer reads the election's view (server/lease.c).
 */
#include "server/standby.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/codec.h"
#include "server/lease.h"

static const char *const retry_headers[] = {"Retry-After", "1", NULL};

static const char *role_name(int role)
{
  switch (role) {
  case SC_LEASE_LEADER:
    return "leader";
  case SC_LEASE_TAKING_OVER:
    return "taking_over";
  case SC_LEASE_DEPOSED:
    return "deposed";
  default:
    return "standby";
  }
}

static json_t *leader_json(const struct sc_lease_view *v)
{
  return v->leader[0] ? json_string(v->leader) : json_null();
}

static void healthz(const struct sc_lease_view *v, struct sc_http_resp *resp)
{
  sc_http_reply(resp, 200,
                json_pack("{s:s, s:s, s:o, s:I}", "status", "ok", "role", role_name(v->role),
                          "leader", leader_json(v), "epoch", (json_int_t)v->epoch));
}

/* The error reply of a controller that does not serve, with "leader". */
static void refuse(struct sc_http_resp *resp, int status, const char *code, const char *message,
                   const struct sc_lease_view *v)
{
  json_t *body = sc_error_json(code, message, NULL);

  if (body)
    json_object_set_new(body, "leader", leader_json(v));
  resp->headers = status == 503 ? retry_headers : NULL;
  sc_http_reply(resp, status, body);
}

/* A redirect to the leader: its URL with req's path and query. False when
 * the whole of it does not fit or memory is short. */
static bool redirect(struct sc_http_req *req, struct sc_http_resp *resp,
                     const struct sc_lease_view *v, const char *message)
{
  char target[8192];
  size_t len;

  if (!sc_http_target(req, target, sizeof target))
    return false;
  len = strlen(v->leader) + strlen(target) + 1;
  if (!(resp->location = malloc(len)))
    return false;
  snprintf(resp->location, len, "%s%s", v->leader, target);
  refuse(resp, 307, "not_leader", message, v);
  return true;
}

bool sc_standby_front(void *arg, struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_lease_view v;
  char msg[SC_STORE_URL_MAX + 128];
  bool safe = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;

  sc_lease_view(arg, &v);
  if (safe && strcmp(req->path, "/healthz") == 0) {
    healthz(&v, resp);
    return true;
  }
  if (v.role == SC_LEASE_LEADER)
    return false;
  if (v.role == SC_LEASE_TAKING_OVER) {
    refuse(resp, 503, "taking_over",
           "this controller is taking over as the leader: retry in a moment", &v);
  } else if (v.role == SC_LEASE_STANDBY && v.leader[0]) {
    snprintf(msg, sizeof msg, "this controller is a standby: the leader is %s", v.leader);
    if (!safe || !redirect(req, resp, &v, msg))
      refuse(resp, 503, "not_leader", msg, &v);
  } else {
    v.leader[0] = '\0';
    refuse(resp, 503, "no_leader",
           "no controller leads at the moment (a takeover is coming): retry in a moment", &v);
  }
  return true;
}
