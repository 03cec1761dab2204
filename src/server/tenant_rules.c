/* A tenant's rules: parsing, normalised text, display (see tenant_rules.h). */
#include "server/tenant_rules.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/spec.h"
#include "util/error.h"
#include "util/units.h"

#define fail sc_rules_fail

int sc_rules_fail(struct sc_rules_error *err, const char *field, const char *fmt, ...)
{
  va_list ap;

  snprintf(err->field, sizeof err->field, "%s", field);
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return SC_EINVAL;
}

/* gpu, cpu, memory or gpu.MODEL (MODEL as a spec's model names). */
static bool res_name_ok(const char *name)
{
  if (strcmp(name, "gpu") == 0 || strcmp(name, "cpu") == 0 || strcmp(name, "memory") == 0)
    return true;
  return strncmp(name, "gpu.", 4) == 0 && sc_spec_name_ok(name + 4, 63);
}

int64_t sc_res_get(const struct sc_res_set *s, const char *name)
{
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->name[i], name) == 0)
      return s->amount[i];
  return -1;
}

void sc_res_set_add(struct sc_res_set *s, const char *name, int64_t amount)
{
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->name[i], name) == 0) {
      s->amount[i] += amount;
      return;
    }
  if (s->n < SC_RES_MAX) {
    snprintf(s->name[s->n], sizeof s->name[0], "%s", name);
    s->amount[s->n++] = amount;
  }
}

static int res_put(struct sc_res_set *s, const char *name, int64_t amount)
{
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->name[i], name) == 0) {
      if (amount < 0) { /* removed */
        memmove(&s->name[i], &s->name[i + 1], (size_t)(s->n - i - 1) * sizeof s->name[0]);
        memmove(&s->amount[i], &s->amount[i + 1], (size_t)(s->n - i - 1) * sizeof s->amount[0]);
        s->n--;
      } else {
        s->amount[i] = amount;
      }
      return 0;
    }
  if (amount < 0)
    return 0;
  if (s->n == SC_RES_MAX)
    return -1;
  snprintf(s->name[s->n], sizeof s->name[0], "%s", name);
  s->amount[s->n++] = amount;
  return 0;
}

/* An amount of resource name: GPUs or cores as a number or "500m", memory
 * as "64Gi" or MiB. */
static int amount_of(const char *name, json_t *v, int64_t *out)
{
  bool milli = strcmp(name, "memory") != 0;
  const char *t = json_string_value(v);

  if (json_is_number(v)) {
    double d = json_number_value(v);
    if (d < 0 || d > 1e12)
      return -1;
    *out = milli ? (int64_t)llround(d * 1000) : (int64_t)llround(d);
    return 0;
  }
  if (!t)
    return -1;
  if (!milli)
    return sc_parse_memory_mib(t, out) == 0 ? 0 : -1;
  if (*t && t[strlen(t) - 1] == 'm') {
    char *end;
    long long v2 = strtoll(t, &end, 10);
    if (end == t || *end != 'm' || end[1] || v2 < 0)
      return -1;
    *out = v2;
    return 0;
  }
  {
    char *end;
    double d = strtod(t, &end);
    if (end == t || *end || d < 0 || d > 1e12)
      return -1;
    *out = (int64_t)llround(d * 1000);
  }
  return 0;
}

static int res_apply(struct sc_res_set *s, json_t *obj, const char *field,
                     struct sc_rules_error *err)
{
  const char *key;
  json_t *v;
  char f[80];

  if (!json_is_object(obj))
    return fail(err, field, "'%s' must be an object such as {\"gpu\": 8, \"gpu.A100-80G\": 4, "
                            "\"cpu\": 64, \"memory\": \"512Gi\"}", field);
  json_object_foreach(obj, key, v) {
    int64_t amount = -1;
    snprintf(f, sizeof f, "%s.%s", field, key);
    if (!res_name_ok(key))
      return fail(err, f, "unknown resource '%s' (gpu, gpu.MODEL, cpu, memory)", key);
    if (!json_is_null(v) && amount_of(key, v, &amount) < 0)
      return fail(err, f, "'%s' must be %s", f,
                  strcmp(key, "memory") == 0 ? "a size such as 64Gi"
                                             : "a non-negative number (8, 0.5) or \"500m\"");
    if (res_put(s, key, amount) < 0)
      return fail(err, f, "'%s' names more than %d resources", field, SC_RES_MAX);
  }
  return 0;
}

static int regions_apply(struct sc_tenant_rules *r, json_t *v, struct sc_rules_error *err)
{
  json_t *e;
  size_t i;

  if (!json_is_array(v) || json_array_size(v) > SC_REGIONS_MAX)
    return fail(err, "regions", "'regions' must be a list of at most %d region names",
                SC_REGIONS_MAX);
  r->nregions = 0;
  json_array_foreach(v, i, e) {
    const char *name = json_string_value(e);
    if (!name || !sc_spec_name_ok(name, 63))
      return fail(err, "regions", "'regions[%zu]' must be a region name from [A-Za-z0-9._-]", i);
    snprintf(r->regions[r->nregions++], sizeof r->regions[0], "%s", name);
  }
  return 0;
}

int sc_rules_apply(struct sc_tenant_rules *r, json_t *body, struct sc_rules_error *err)
{
  json_t *v;
  int rc;

  memset(err, 0, sizeof *err);
  if ((v = json_object_get(body, "guarantee")) &&
      (rc = res_apply(&r->guarantee, v, "guarantee", err)) < 0)
    return rc;
  if ((v = json_object_get(body, "limit")) && (rc = res_apply(&r->limit, v, "limit", err)) < 0)
    return rc;
  if ((v = json_object_get(body, "lend_limit")) &&
      (rc = res_apply(&r->lend_limit, v, "lend_limit", err)) < 0)
    return rc;
  if ((v = json_object_get(body, "regions")) && (rc = regions_apply(r, v, err)) < 0)
    return rc;
  if ((v = json_object_get(body, "preempt_within"))) {
    const char *t = json_string_value(v);
    if (!t || (strcmp(t, "never") != 0 && strcmp(t, "lower-priority") != 0))
      return fail(err, "preempt_within", "'preempt_within' must be never or lower-priority");
    r->preempt_lower = strcmp(t, "lower-priority") == 0;
  }
  if ((v = json_object_get(body, "spot_over_limit"))) {
    if (!json_is_boolean(v))
      return fail(err, "spot_over_limit", "'spot_over_limit' must be true or false");
    r->spot_over_limit = json_is_true(v);
  }
  for (int i = 0; i < r->guarantee.n; i++) { /* a guarantee within its own limit */
    int64_t lim = sc_res_get(&r->limit, r->guarantee.name[i]);
    char f[80], a[32], b[32];
    if (lim >= 0 && lim < r->guarantee.amount[i]) {
      snprintf(f, sizeof f, "limit.%s", r->guarantee.name[i]);
      sc_res_format(r->guarantee.name[i], lim, a, sizeof a);
      sc_res_format(r->guarantee.name[i], r->guarantee.amount[i], b, sizeof b);
      return fail(err, f, "limit %s %s is below its guarantee %s", r->guarantee.name[i], a, b);
    }
  }
  return 0;
}

/* A normalised set: integers only (milli, MiB). */
static json_t *set_json(const struct sc_res_set *s, bool units)
{
  json_t *o = json_object();

  for (int i = 0; o && i < s->n; i++) {
    json_t *v;
    if (!units)
      v = json_integer(s->amount[i]);
    else if (strcmp(s->name[i], "memory") == 0)
      v = json_sprintf("%lldMi", (long long)s->amount[i]);
    else
      v = json_real((double)s->amount[i] / 1000.0);
    json_object_set_new(o, s->name[i], v);
  }
  return o;
}

static json_t *rules_doc(const struct sc_tenant_rules *r, bool units)
{
  json_t *regions = json_array();

  for (int i = 0; regions && i < r->nregions; i++)
    json_array_append_new(regions, json_string(r->regions[i]));
  return json_pack("{s:o, s:o, s:o, s:o, s:s, s:b}", "guarantee", set_json(&r->guarantee, units),
                   "limit", set_json(&r->limit, units), "lend_limit",
                   set_json(&r->lend_limit, units), "regions", regions ? regions : json_array(),
                   "preempt_within", r->preempt_lower ? "lower-priority" : "never",
                   "spot_over_limit", r->spot_over_limit);
}

char *sc_rules_text(const struct sc_tenant_rules *r)
{
  json_t *doc = rules_doc(r, false);
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

  json_decref(doc);
  return text;
}

json_t *sc_rules_json(const struct sc_tenant_rules *r)
{
  return rules_doc(r, true);
}

/* Reads a stored (integer) set. */
static void set_read(struct sc_res_set *s, json_t *obj)
{
  const char *key;
  json_t *v;

  json_object_foreach(obj, key, v) {
    if (json_is_integer(v) && res_name_ok(key))
      res_put(s, key, json_integer_value(v));
  }
}

int sc_rules_parse_text(const char *text, struct sc_tenant_rules *r)
{
  json_t *doc = json_loads(text && *text ? text : "{}", 0, NULL), *regions, *e;
  const char *pw;
  size_t i;

  memset(r, 0, sizeof *r);
  if (!json_is_object(doc)) {
    json_decref(doc);
    return SC_EINVAL;
  }
  set_read(&r->guarantee, json_object_get(doc, "guarantee"));
  set_read(&r->limit, json_object_get(doc, "limit"));
  set_read(&r->lend_limit, json_object_get(doc, "lend_limit"));
  regions = json_object_get(doc, "regions");
  json_array_foreach(regions, i, e) {
    if (json_is_string(e) && r->nregions < SC_REGIONS_MAX)
      snprintf(r->regions[r->nregions++], sizeof r->regions[0], "%s", json_string_value(e));
  }
  pw = json_string_value(json_object_get(doc, "preempt_within"));
  r->preempt_lower = pw && strcmp(pw, "lower-priority") == 0;
  r->spot_over_limit = json_is_true(json_object_get(doc, "spot_over_limit"));
  json_decref(doc);
  return 0;
}

void sc_res_format(const char *name, int64_t amount, char *buf, size_t size)
{
  if (strcmp(name, "memory") == 0) {
    if (amount % 1024 == 0)
      snprintf(buf, size, "%lldGi", (long long)(amount / 1024));
    else
      snprintf(buf, size, "%lldMi", (long long)amount);
  } else if (amount % 1000 == 0) {
    snprintf(buf, size, "%lld", (long long)(amount / 1000));
  } else {
    snprintf(buf, size, "%g", (double)amount / 1000.0);
  }
}

bool sc_rules_region_ok(const struct sc_tenant_rules *r, const char *region)
{
  if (r->nregions == 0)
    return true;
  for (int i = 0; i < r->nregions; i++)
    if (strcmp(r->regions[i], region) == 0)
      return true;
  return false;
}
