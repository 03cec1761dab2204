/*
 * Tenant endpoints: list (a user token sees its own tenant only), show, and
 * set (admin: create a tenant now, map it to a node user). A tenant's id is
 * what agents add to --task-uid-base to run its tasks; run_as names a node
 * user to run them as instead, never root. Decode, call the controller,
 * encode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/codec.h"
#include "server/http.h"
#include "util/error.h"

void sc_api_tenant_list(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_tenant_get(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_tenant_set(struct sc_http_req *req, struct sc_http_resp *resp);

/* A POSIX portable user name ([a-z_][a-z0-9_-]*, 1..32), not root. */
static const char *run_as_error(const char *u)
{
  size_t n = strlen(u);

  if (n == 0 || n >= SC_STORE_USER_MAX)
    return "'run_as' must be a user name of 1..32 characters";
  for (size_t i = 0; i < n; i++) {
    char ch = u[i];
    bool ok = (ch >= 'a' && ch <= 'z') || ch == '_' ||
              (i > 0 && ((ch >= '0' && ch <= '9') || ch == '-'));
    if (!ok)
      return "'run_as' must be a user name from [a-z_][a-z0-9_-]*";
  }
  if (strcmp(u, "root") == 0)
    return "'run_as' cannot be root: tasks never run as root";
  return NULL;
}

/* The tenant a request may see: a user token only its own. */
static const char *visible(const struct sc_http_req *req)
{
  return req->who.kind == SC_TOKEN_USER ? req->who.tenant : NULL;
}

static void reply_list(struct sc_http_resp *resp, const struct sc_tenant_rec *recs, int n)
{
  json_t *arr = json_array();

  for (int i = 0; i < n && arr; i++)
    if (json_array_append_new(arr, sc_tenant_json(&recs[i])) < 0) {
      json_decref(arr);
      arr = NULL;
    }
  if (!arr)
    sc_http_error(resp, 503, "internal", sc_strerror(SC_ENOMEM), NULL);
  else
    sc_http_reply(resp, 200, json_pack("{s:o}", "tenants", arr));
}

void sc_api_tenant_list(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_tenant_rec *recs;
  int n, rc = sc_ctl_tenant_list(sc_server_ctl(req->srv), visible(req), &recs, &n);

  if (rc < 0)
    sc_http_error(resp, 503, "internal", sc_strerror(rc), NULL);
  else
    reply_list(resp, recs, n);
  sc_store_free_tenants(recs, n);
}

void sc_api_tenant_get(struct sc_http_req *req, struct sc_http_resp *resp)
{
  const char *name = req->params[0], *only = visible(req);
  struct sc_tenant_rec *recs;
  int n, rc;

  if (only && strcmp(only, name) != 0) {
    sc_http_error(resp, 404, "not_found", "no such tenant", NULL);
    return;
  }
  rc = sc_ctl_tenant_list(sc_server_ctl(req->srv), name, &recs, &n);
  if (rc < 0)
    sc_http_error(resp, 503, "internal", sc_strerror(rc), NULL);
  else if (n == 0)
    sc_http_error(resp, 404, "not_found", "no such tenant", NULL);
  else
    sc_http_reply(resp, 200, sc_tenant_json(&recs[0]));
  sc_store_free_tenants(recs, n);
}

void sc_api_tenant_set(struct sc_http_req *req, struct sc_http_resp *resp)
{
  const char *name = req->params[0], *run_as = "", *key, *err;
  json_t *body = sc_http_body(req, resp), *v;
  struct sc_tenant_rec rec;
  char msg[96];
  int rc;

  if (!body)
    return;
  if (!sc_spec_name_ok(name, 64)) {
    sc_http_error(resp, 400, "bad_request",
                  "a tenant name is 1..64 characters from [A-Za-z0-9._-]", "name");
    goto out;
  }
  json_object_foreach(body, key, v) {
    if (strcmp(key, "run_as") != 0) {
      snprintf(msg, sizeof msg, "unknown field '%s'", key);
      sc_http_error(resp, 400, "bad_request", msg, key);
      goto out;
    }
    if (!json_is_null(v) && !json_is_string(v)) {
      sc_http_error(resp, 400, "bad_request", "'run_as' must be a user name or null", key);
      goto out;
    }
    run_as = json_is_string(v) ? json_string_value(v) : "";
  }
  if (*run_as && (err = run_as_error(run_as))) {
    sc_http_error(resp, 400, "bad_request", err, "run_as");
    goto out;
  }
  rc = sc_ctl_tenant_set(sc_server_ctl(req->srv), name, run_as, &rec);
  if (rc < 0)
    sc_http_error(resp, rc == SC_ENOMEM ? 503 : 500, "internal", sc_strerror(rc), NULL);
  else
    sc_http_reply(resp, 200, sc_tenant_json(&rec));
  if (rc == 0)
    free(rec.rules);
out:
  json_decref(body);
}
