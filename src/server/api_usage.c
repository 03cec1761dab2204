/*
 * Accounting endpoints: GET /v1/usage (a report aggregated by the store:
 * a user token sees its own tenant's subtree only), GET /v1/prices (anyone)
 * and POST /v1/prices (admin: a price version from a time on). Decode,
 * call the store, encode. See docs/accounting.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/codec.h"
#include "server/http.h"
#include "server/ids.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/units.h"

void sc_api_usage(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_price_list(struct sc_http_req *req, struct sc_http_resp *resp);
void sc_api_price_set(struct sc_http_req *req, struct sc_http_resp *resp);

/*
 * A time as the API takes it, into Unix ms: "now", "now+DURATION",
 * "now-DURATION", a bare DURATION meaning that long ago ("30d", "12h"), a
 * UTC day "2026-01-31" (its midnight) or RFC 3339 UTC
 * "2026-01-31T10:00:00.250Z". Returns 0 or SC_EPARSE.
 */
static int parse_when(const char *text, int64_t now, int64_t *ms)
{
  struct tm tm;
  const char *p;
  int64_t d;

  *ms = 0;
  if (strcmp(text, "now") == 0) {
    *ms = now;
    return 0;
  }
  if (strncmp(text, "now", 3) == 0 && (text[3] == '+' || text[3] == '-') &&
      sc_parse_duration_ms(text + 4, &d) == 0) {
    *ms = text[3] == '+' ? now + d : now - d;
    return 0;
  }
  if (text[0] >= '0' && text[0] <= '9' && !strchr(text, '-') &&
      sc_parse_duration_ms(text, &d) == 0) {
    *ms = now - d;
    return 0;
  }
  memset(&tm, 0, sizeof tm);
  if ((p = strptime(text, "%Y-%m-%d", &tm)) && *p == '\0') {
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
  }
  return sc_parse_rfc3339_ms(text, ms);
}

/* Query argument name as a time into *ms (left alone when absent); replies
 * 400 naming it and returns false when it does not parse. */
static bool query_when(struct sc_http_req *req, struct sc_http_resp *resp, const char *name,
                       int64_t now, int64_t *ms)
{
  const char *text = sc_http_query(req, name);
  char msg[160];

  if (!text)
    return true;
  if (parse_when(text, now, ms) == 0 && *ms >= 0)
    return true;
  snprintf(msg, sizeof msg,
           "'%s' must be a time: 2026-01-31, 2026-01-31T10:00:00Z, now, now-2h or an age "
           "such as 30d",
           name);
  sc_http_error(resp, 400, "bad_request", msg, name);
  return false;
}

/* The figures of a report row (its key too when with_key). */
static json_t *row_json(const struct sc_usage_row *r, bool with_key)
{
  json_t *o = json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "records",
                        (json_int_t)r->records, "gpu_hours", r->gpu_hours, "spot_gpu_hours",
                        r->spot_gpu_hours, "cpu_core_hours", r->cpu_core_hours,
                        "memory_gib_hours", r->memory_gib_hours, "cost", r->cost,
                        "cost_on_demand", r->cost_on_demand, "cost_spot", r->cost_spot);

  if (o && with_key)
    json_object_set_new(o, "key", json_string(r->key));
  return o;
}

static void add_row(struct sc_usage_row *sum, const struct sc_usage_row *r)
{
  sum->records += r->records;
  sum->gpu_hours += r->gpu_hours;
  sum->spot_gpu_hours += r->spot_gpu_hours;
  sum->cpu_core_hours += r->cpu_core_hours;
  sum->memory_gib_hours += r->memory_gib_hours;
  sum->cost += r->cost;
  sum->cost_on_demand += r->cost_on_demand;
  sum->cost_spot += r->cost_spot;
}

static void reply_report(struct sc_http_resp *resp, const struct sc_usage_query *q,
                         const struct sc_usage_row *rows, int n)
{
  struct sc_usage_row total;
  json_t *groups = json_array();

  memset(&total, 0, sizeof total);
  for (int i = 0; i < n; i++) {
    add_row(&total, &rows[i]);
    json_array_append_new(groups, row_json(&rows[i], true));
  }
  sc_http_reply(resp, 200,
                json_pack("{s:o, s:o, s:s, s:o, s:o, s:o}", "tenant",
                          q->tenant ? json_string(q->tenant) : json_null(), "since",
                          sc_time_json(q->since_ms), "by", sc_usage_by_name(q->by), "until",
                          sc_time_json(q->until_ms), "groups", groups, "total",
                          row_json(&total, false)));
}

void sc_api_usage(struct sc_http_req *req, struct sc_http_resp *resp)
{
  int64_t now = sc_clock_wall_ms();
  struct sc_usage_query q = {.until_ms = now, .now_ms = now};
  const char *by = sc_http_query(req, "by");
  struct sc_usage_row *rows;
  int n, rc;

  q.tenant = sc_http_query(req, "tenant");
  if (q.tenant && !sc_spec_name_ok(q.tenant, 64)) {
    sc_http_error(resp, 400, "bad_request",
                  "'tenant' must be a tenant name of 1..64 characters from [A-Za-z0-9._-]",
                  "tenant");
    return;
  }
  if (by && ((q.by = sc_usage_by_parse(by)) < 0)) {
    sc_http_error(resp, 400, "bad_request",
                  "'by' must be one of tenant, model, region, day, job or none", "by");
    return;
  }
  if (!query_when(req, resp, "since", now, &q.since_ms) ||
      !query_when(req, resp, "until", now, &q.until_ms))
    return;
  if (q.since_ms >= q.until_ms) {
    sc_http_error(resp, 400, "bad_request", "'since' must be before 'until'", "since");
    return;
  }
  if (q.by == SC_USAGE_BY_DAY && q.since_ms > 0 && q.until_ms - q.since_ms > 3660LL * 86400000) {
    sc_http_error(resp, 400, "bad_request", "'by' day covers at most 3660 days", "since");
    return;
  }
  if (req->who.kind == SC_TOKEN_USER)
    q.within = req->who.tenant;
  rc = sc_store_usage_report(sc_ctl_store(sc_server_ctl(req->srv)), &q, &rows, &n);
  if (rc < 0)
    sc_http_error(resp, rc == SC_ENOMEM ? 503 : 500, "internal", sc_strerror(rc), NULL);
  else
    reply_report(resp, &q, rows, n);
  free(rows);
}

/* What a unit of item is: a GPU model's device, a core, a GiB. */
static const char *price_unit(const char *item)
{
  if (strcasecmp(item, "cpu") == 0)
    return "core-hour";
  if (strcasecmp(item, "memory") == 0)
    return "gib-hour";
  return "gpu-hour";
}

static json_t *price_json(const struct sc_price_rec *p)
{
  return json_pack("{s:s, s:s, s:o, s:f, s:o, s:o}", "item", p->item, "unit",
                   price_unit(p->item), "from", sc_time_json(p->from_ms), "per_hour", p->per_hour,
                   "spot_per_hour",
                   p->spot_per_hour >= 0 ? json_real(p->spot_per_hour) : json_null(),
                   "created_at", sc_time_json(p->created_ms));
}

void sc_api_price_list(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_price_rec *recs;
  json_t *arr;
  int n, rc = sc_store_price_list(sc_ctl_store(sc_server_ctl(req->srv)), &recs, &n);

  if (rc < 0) {
    sc_http_error(resp, rc == SC_ENOMEM ? 503 : 500, "internal", sc_strerror(rc), NULL);
    return;
  }
  arr = json_array();
  for (int i = 0; i < n; i++)
    json_array_append_new(arr, price_json(&recs[i]));
  free(recs);
  sc_http_reply(resp, 200, json_pack("{s:o}", "prices", arr));
}

/* A price (a non-negative number) in body[key] into *out; absent or null
 * leaves *out. Replies 400 naming key and returns false otherwise. */
static bool body_price(json_t *body, const char *key, struct sc_http_resp *resp, double *out)
{
  json_t *v = json_object_get(body, key);
  char msg[96];

  if (!v || json_is_null(v))
    return true;
  if (json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) < 1e12) {
    *out = json_number_value(v);
    return true;
  }
  snprintf(msg, sizeof msg, "'%s' must be a number of at least 0", key);
  sc_http_error(resp, 400, "bad_request", msg, key);
  return false;
}

/* The price version body describes into p; false after replying 400. */
static bool decode_price(json_t *body, int64_t now, struct sc_http_resp *resp,
                         struct sc_price_rec *p)
{
  const char *key;
  json_t *v, *item = json_object_get(body, "item"), *from = json_object_get(body, "from");
  char msg[96];

  json_object_foreach(body, key, v) {
    if (strcmp(key, "item") && strcmp(key, "per_hour") && strcmp(key, "spot_per_hour") &&
        strcmp(key, "from")) {
      snprintf(msg, sizeof msg, "unknown field '%.40s'", key);
      sc_http_error(resp, 400, "bad_request", msg, key);
      return false;
    }
  }
  if (!json_is_string(item) || !sc_spec_name_ok(json_string_value(item), SC_STORE_ITEM_MAX - 1)) {
    sc_http_error(resp, 400, "bad_request",
                  "'item' must be a GPU model, cpu or memory (1..63 characters from "
                  "[A-Za-z0-9._-])",
                  "item");
    return false;
  }
  snprintf(p->item, sizeof p->item, "%s", json_string_value(item));
  p->per_hour = -1;
  p->spot_per_hour = -1;
  if (!body_price(body, "per_hour", resp, &p->per_hour) ||
      !body_price(body, "spot_per_hour", resp, &p->spot_per_hour))
    return false;
  if (p->per_hour < 0) {
    sc_http_error(resp, 400, "bad_request", "'per_hour' is required", "per_hour");
    return false;
  }
  p->from_ms = now;
  if (from && !json_is_null(from) &&
      (!json_is_string(from) || parse_when(json_string_value(from), now, &p->from_ms) < 0 ||
       p->from_ms < 0)) {
    sc_http_error(resp, 400, "bad_request",
                  "'from' must be a time: 2026-01-31, 2026-01-31T10:00:00Z, now or now+1h",
                  "from");
    return false;
  }
  p->created_ms = now;
  return true;
}

void sc_api_price_set(struct sc_http_req *req, struct sc_http_resp *resp)
{
  json_t *body = sc_http_body(req, resp);
  struct sc_store_op op = {.kind = SC_STORE_PRICE_PUT};
  struct sc_store_batch *b;
  int rc;

  if (!body)
    return;
  if (!decode_price(body, sc_clock_wall_ms(), resp, &op.u.price)) {
    json_decref(body);
    return;
  }
  json_decref(body);
  b = sc_store_batch_new();
  sc_store_batch_add(b, &op);
  rc = sc_store_write(sc_ctl_store(sc_server_ctl(req->srv)), b);
  sc_store_batch_free(b);
  if (rc < 0)
    sc_http_error(resp, rc == SC_ENOMEM ? 503 : 500, "internal", sc_strerror(rc), NULL);
  else
    sc_http_reply(resp, 201, price_json(&op.u.price));
}
