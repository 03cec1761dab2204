/*
 * Token endpoints (admin only): create (a user token for a tenant, an agent
 * token bound to a node or a bootstrap one, a metrics token that may only
 * scrape /metrics; optionally expiring), list
 * (never the secret) and revoke (at once). Decode, call auth, encode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/codec.h"
#include "server/http.h"
#include "util/error.h"
#include "util/units.h"

#define TTL_MAX_MS (100LL * 365 * 86400 * 1000)

void sc_api_token_create(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_token_list(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_token_revoke(struct sc_http_req *req, struct sc_http_resp *resp);

static bool bad(struct sc_http_resp *resp, const char *field, const char *message)
{
  sc_http_error(resp, 400, "bad_request", message, field);
  return false;
}

/* A string field of body, or dflt when absent; false (400) when not a string. */
static bool get_string(json_t *body, const char *key, const char *dflt, const char **out,
                       struct sc_http_resp *resp)
{
  json_t *v = json_object_get(body, key);
  char msg[96];

  *out = dflt;
  if (!v)
    return true;
  if (!json_is_string(v)) {
    snprintf(msg, sizeof msg, "'%s' must be a string", key);
    return bad(resp, key, msg);
  }
  *out = json_string_value(v);
  return true;
}

/* ttl: a duration ("30d", "12h") or seconds; 0 or absent = never expires. */
static bool get_ttl(json_t *body, int64_t *ttl_ms, struct sc_http_resp *resp)
{
  json_t *v = json_object_get(body, "ttl");
  const char *msg = "'ttl' must be a duration such as \"30d\" or a number of seconds (0 = never)";

  *ttl_ms = 0;
  if (!v || json_is_null(v))
    return true;
  if (json_is_integer(v) && json_integer_value(v) >= 0 &&
      json_integer_value(v) <= TTL_MAX_MS / 1000) {
    *ttl_ms = json_integer_value(v) * 1000;
    return true;
  }
  if (!json_is_string(v) || sc_parse_duration_ms(json_string_value(v), ttl_ms) < 0 ||
      *ttl_ms < 0 || *ttl_ms > TTL_MAX_MS)
    return bad(resp, "ttl", msg);
  return true;
}

/* The creation request in body; false after replying 400. */
static bool parse_create(json_t *body, struct sc_token_req *t, struct sc_http_resp *resp)
{
  static const char *const fields[] = {"kind", "tenant", "node", "ttl"};
  const char *key, *kind;
  json_t *v;

  memset(t, 0, sizeof *t);
  json_object_foreach(body, key, v) {
    bool known = false;
    char msg[96];
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
      known = known || strcmp(key, fields[i]) == 0;
    if (!known) {
      snprintf(msg, sizeof msg, "unknown field '%s'", key);
      return bad(resp, key, msg);
    }
  }
  if (!get_string(body, "kind", "user", &kind, resp) ||
      !get_string(body, "tenant", "", &t->tenant, resp) ||
      !get_string(body, "node", "", &t->node, resp) || !get_ttl(body, &t->ttl_ms, resp))
    return false;
  t->kind = sc_token_kind_parse(kind);
  if (t->kind != SC_TOKEN_USER && t->kind != SC_TOKEN_AGENT && t->kind != SC_TOKEN_METRICS)
    return bad(resp, "kind", "'kind' must be user, agent or metrics");
  if (t->kind == SC_TOKEN_USER) {
    if (!*t->tenant)
      t->tenant = "default";
    if (!sc_spec_name_ok(t->tenant, 64))
      return bad(resp, "tenant", "'tenant' must be 1..64 characters from [A-Za-z0-9._-]");
    if (*t->node)
      return bad(resp, "node", "'node' binds agent tokens only");
  } else if (t->kind == SC_TOKEN_METRICS) {
    if (*t->tenant)
      return bad(resp, "tenant", "'tenant' binds user tokens only");
    if (*t->node)
      return bad(resp, "node", "'node' binds agent tokens only");
  } else {
    if (*t->tenant)
      return bad(resp, "tenant", "'tenant' binds user tokens only");
    if (*t->node && !sc_spec_name_ok(t->node, 63))
      return bad(resp, "node", "'node' must be a node name of 1..63 characters from [A-Za-z0-9._-]");
  }
  return true;
}

void sc_api_token_create(struct sc_http_req *req, struct sc_http_resp *resp)
{
  json_t *body = sc_http_body(req, resp), *reply;
  char text[SC_TOKEN_HEX_LEN + 1];
  struct sc_token_req t;
  struct sc_token_rec rec;
  int rc;

  if (!body)
    return;
  if (parse_create(body, &t, resp)) {
    rc = sc_auth_create(sc_server_auth(req->srv), &t, text, &rec);
    reply = rc == 0 ? sc_token_json(&rec, text) : NULL;
    if (reply)
      sc_http_reply(resp, 201, reply);
    else
      sc_http_error(resp, 503, "internal", sc_strerror(rc < 0 ? rc : SC_ENOMEM), NULL);
  }
  json_decref(body);
}

void sc_api_token_list(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_token_rec *recs;
  json_t *arr = NULL;
  int n = 0, rc = sc_auth_list(sc_server_auth(req->srv), &recs, &n);

  if (rc == 0 && (arr = json_array()))
    for (int i = 0; i < n && arr; i++)
      if (json_array_append_new(arr, sc_token_json(&recs[i], NULL)) < 0) {
        json_decref(arr);
        arr = NULL;
      }
  free(recs);
  if (!arr)
    sc_http_error(resp, 503, "internal", sc_strerror(SC_ENOMEM), NULL);
  else
    sc_http_reply(resp, 200, json_pack("{s:o}", "tokens", arr));
}

void sc_api_token_revoke(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_token_rec rec;
  int rc = sc_auth_revoke(sc_server_auth(req->srv), req->params[0], &rec);

  if (rc == SC_ENOENT)
    sc_http_error(resp, 404, "not_found", "no such token", "id");
  else if (rc < 0)
    sc_http_error(resp, 503, "internal", sc_strerror(rc), NULL);
  else
    sc_http_reply(resp, 200, sc_token_json(&rec, NULL));
}
