/*
 * Tenant endpoints: the tenant tree. List and show (a user token sees its
 * own tenant's subtree only), each with its rules, the allowlist in force
 * and what it and its subtree hold now; create (POST), change (PUT: only
 * the fields given) and delete (admin). A tenant's id is what agents add
 * to --task-uid-base to run its tasks; run_as names a node user to run
 * them as instead, never root. Decode, call the controller, encode.
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
void sc_api_tenant_create(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_tenant_delete(struct sc_http_req *req, struct sc_http_resp *resp);

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

/* The tenant a request may see with its subtree: a user token only its
 * own; NULL for admins. */
static const char *visible(const struct sc_http_req *req)
{
  return req->who.kind == SC_TOKEN_USER ? req->who.tenant : NULL;
}

/* Whether rec is root or below it. */
static bool under(const struct sc_tenant_rec *recs, int n, const struct sc_tenant_rec *rec,
                  const char *root)
{
  for (int hops = 0; rec && hops <= n; hops++) {
    const struct sc_tenant_rec *up = NULL;
    if (strcmp(rec->name, root) == 0)
      return true;
    for (int i = 0; i < n && rec->parent[0]; i++)
      if (strcmp(recs[i].name, rec->parent) == 0)
        up = &recs[i];
    rec = up;
  }
  return false;
}

static json_t *set_units(const struct sc_res_set *s)
{
  json_t *o = json_object();

  for (int i = 0; o && i < s->n; i++)
    json_object_set_new(o, s->name[i],
                        strcmp(s->name[i], "memory") == 0
                          ? json_sprintf("%lldMi", (long long)s->amount[i])
                          : json_real((double)s->amount[i] / 1000.0));
  return o;
}

/* A tenant with its rules, regions in force and usage. */
static json_t *tenant_full(struct sc_http_req *req, const struct sc_tenant_rec *rec,
                           const struct sc_tenant_usage *use, int nuse)
{
  json_t *o = sc_tenant_json(rec);
  struct sc_tenant_rules r;
  char eff[SC_REGIONS_MAX * 64];

  if (!o)
    return NULL;
  sc_rules_parse_text(rec->rules, &r);
  json_object_update_missing_new(o, sc_rules_json(&r));
  json_object_set_new(o, "parent", rec->parent[0] ? json_string(rec->parent) : json_null());
  json_object_set_new(o, "weight", json_real(rec->weight > 0 ? rec->weight : 1.0));
  sc_ctl_tenant_regions(sc_server_ctl(req->srv), rec->name, eff, sizeof eff);
  {
    json_t *arr = json_array();
    char *copy = strdup(eff), *save = NULL;
    for (char *t = copy ? strtok_r(copy, "|", &save) : NULL; t; t = strtok_r(NULL, "|", &save))
      json_array_append_new(arr, json_string(t));
    free(copy);
    json_object_set_new(o, "regions_in_force", arr);
  }
  for (int i = 0; i < nuse; i++)
    if (strcmp(use[i].name, rec->name) == 0) {
      json_object_set_new(o, "usage", json_pack("{s:o, s:o, s:i}", "own", set_units(&use[i].own),
                                                "subtree", set_units(&use[i].subtree),
                                                "jobs_active", use[i].jobs_active));
    }
  return o;
}

/* GET /v1/tenants: every tenant (a user token: its subtree), by id. */
void sc_api_tenant_list(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_tenant_rec *recs = NULL;
  struct sc_tenant_usage *use = NULL;
  const char *only = visible(req);
  int n = 0, nuse = 0, rc = sc_ctl_tenant_list(sc_server_ctl(req->srv), NULL, &recs, &n);
  json_t *arr = json_array();

  if (rc == 0)
    rc = sc_ctl_tenant_usage(sc_server_ctl(req->srv), &use, &nuse);
  for (int i = 0; rc == 0 && arr && i < n; i++)
    if (!only || under(recs, n, &recs[i], only))
      json_array_append_new(arr, tenant_full(req, &recs[i], use, nuse));
  if (rc < 0 || !arr)
    sc_http_error(resp, 503, "internal", sc_strerror(rc < 0 ? rc : SC_ENOMEM), NULL);
  else
    sc_http_reply(resp, 200, json_pack("{s:O}", "tenants", arr));
  json_decref(arr);
  free(use);
  sc_store_free_tenants(recs, n);
}

void sc_api_tenant_get(struct sc_http_req *req, struct sc_http_resp *resp)
{
  const char *name = req->params[0], *only = visible(req);
  struct sc_tenant_rec *recs = NULL;
  struct sc_tenant_usage *use = NULL;
  int n = 0, nuse = 0, rc = sc_ctl_tenant_list(sc_server_ctl(req->srv), NULL, &recs, &n), at = -1;

  for (int i = 0; rc == 0 && i < n; i++)
    if (strcmp(recs[i].name, name) == 0 && (!only || under(recs, n, &recs[i], only)))
      at = i;
  if (rc == 0 && at >= 0)
    rc = sc_ctl_tenant_usage(sc_server_ctl(req->srv), &use, &nuse);
  if (rc < 0)
    sc_http_error(resp, 503, "internal", sc_strerror(rc), NULL);
  else if (at < 0)
    sc_http_error(resp, 404, "not_found", "no such tenant", NULL);
  else
    sc_http_reply(resp, 200, tenant_full(req, &recs[at], use, nuse));
  free(use);
  sc_store_free_tenants(recs, n);
}

/* Reads a create or change body into u (rules stay in body, borrowed). */
static bool read_update(struct sc_http_resp *resp, json_t *body, struct sc_tenant_update *u,
                        bool with_name)
{
  static const char *const known[] = {"run_as", "parent", "weight", "guarantee", "limit",
                                      "lend_limit", "regions", "preempt_within",
                                      "spot_over_limit", "name"};
  const char *key, *err;
  json_t *v;
  char msg[96];

  json_object_foreach(body, key, v) {
    size_t k = 0;
    while (k < sizeof known / sizeof known[0] && strcmp(known[k], key) != 0)
      k++;
    if (k == sizeof known / sizeof known[0] || (!with_name && strcmp(key, "name") == 0)) {
      snprintf(msg, sizeof msg, "unknown field '%s'", key);
      sc_http_error(resp, 400, "bad_request", msg, key);
      return false;
    }
  }
  if ((v = json_object_get(body, "run_as"))) {
    if (!json_is_null(v) && !json_is_string(v)) {
      sc_http_error(resp, 400, "bad_request", "'run_as' must be a user name or null", "run_as");
      return false;
    }
    u->has_run_as = true;
    snprintf(u->run_as, sizeof u->run_as, "%s", json_is_string(v) ? json_string_value(v) : "");
    if (*u->run_as && (err = run_as_error(u->run_as))) {
      sc_http_error(resp, 400, "bad_request", err, "run_as");
      return false;
    }
  }
  if ((v = json_object_get(body, "parent"))) {
    if (!json_is_null(v) && !(json_is_string(v) && sc_spec_name_ok(json_string_value(v), 64))) {
      sc_http_error(resp, 400, "bad_request", "'parent' must be a tenant name or null", "parent");
      return false;
    }
    u->has_parent = true;
    snprintf(u->parent, sizeof u->parent, "%s", json_is_string(v) ? json_string_value(v) : "");
  }
  if ((v = json_object_get(body, "weight"))) {
    if (!json_is_number(v)) {
      sc_http_error(resp, 400, "bad_request", "'weight' must be a number", "weight");
      return false;
    }
    u->has_weight = true;
    u->weight = json_number_value(v);
  }
  u->rules = body;
  return true;
}

/* Calls the controller for a create or change and replies. */
static void tenant_write(struct sc_http_req *req, struct sc_http_resp *resp, const char *name,
                         json_t *body, bool create)
{
  struct sc_tenant_update u = {.create = create};
  struct sc_rules_error rerr;
  struct sc_tenant_rec rec;
  int rc;

  if (!sc_spec_name_ok(name, 64)) {
    sc_http_error(resp, 400, "bad_request",
                  "a tenant name is 1..64 characters from [A-Za-z0-9._-]", "name");
    return;
  }
  if (!read_update(resp, body, &u, create))
    return;
  rc = sc_ctl_tenant_put(sc_server_ctl(req->srv), name, &u, &rec, &rerr);
  if (rc == SC_EINVAL) {
    sc_http_error(resp, 400, "bad_request", rerr.message, rerr.field);
    return;
  }
  if (rc == SC_EEXIST) {
    sc_http_error(resp, 409, "conflict", "a tenant of that name exists (PUT changes it)", "name");
    return;
  }
  if (rc < 0) {
    sc_http_error(resp, rc == SC_ENOMEM ? 503 : 500, "internal", sc_strerror(rc), NULL);
    return;
  }
  {
    struct sc_tenant_usage *use = NULL;
    int nuse = 0;
    sc_ctl_tenant_usage(sc_server_ctl(req->srv), &use, &nuse);
    sc_http_reply(resp, create ? 201 : 200, tenant_full(req, &rec, use, nuse));
    free(use);
  }
  free(rec.rules);
}

/* PUT /v1/tenants/{name}: creates it if new, changes the fields given. */
void sc_api_tenant_set(struct sc_http_req *req, struct sc_http_resp *resp)
{
  json_t *body = sc_http_body(req, resp);

  if (body)
    tenant_write(req, resp, req->params[0], body, false);
  json_decref(body);
}

/* POST /v1/tenants {"name": ...}: creates one (409 when it exists). */
void sc_api_tenant_create(struct sc_http_req *req, struct sc_http_resp *resp)
{
  json_t *body = sc_http_body(req, resp);
  const char *name = json_string_value(json_object_get(body, "name"));

  if (body && !name)
    sc_http_error(resp, 400, "bad_request", "missing required field 'name'", "name");
  else if (body)
    tenant_write(req, resp, name, body, true);
  json_decref(body);
}

/* DELETE /v1/tenants/{name}: refused while it has jobs or children. */
void sc_api_tenant_delete(struct sc_http_req *req, struct sc_http_resp *resp)
{
  char msg[200];
  int rc = sc_ctl_tenant_delete(sc_server_ctl(req->srv), req->params[0], msg, sizeof msg);

  if (rc == SC_ENOENT)
    sc_http_error(resp, 404, "not_found", "no such tenant", NULL);
  else if (rc == SC_EBUSY)
    sc_http_error(resp, 409, "conflict", msg, NULL);
  else if (rc < 0)
    sc_http_error(resp, rc == SC_ENOMEM ? 503 : 500, "internal", sc_strerror(rc), NULL);
  else
    sc_http_reply(resp, 200, json_pack("{s:s, s:b}", "name", req->params[0], "deleted", 1));
}
