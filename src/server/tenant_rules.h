/*
 * A tenant's rules: its fair-share weight, its resource guarantee, limit
 * and lend limit, its region allowlist and its preemption options, as the
 * API takes them (PUT/POST /v1/tenants) and as the store keeps them (a
 * normalised JSON text, sc_tenant_rec.rules). Resources are `gpu` (every
 * accelerator, in milli so fractions count exactly), `gpu.MODEL` (one
 * model), `cpu` (milli-CPUs) and `memory` (MiB). A leaf: the controller
 * checks the tree (a child within its parent), this file one tenant.
 */
#ifndef SC_SERVER_TENANT_RULES_H
#define SC_SERVER_TENANT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;

#define SC_RES_MAX 20        /* resources named in one rule set */
#define SC_REGIONS_MAX 16    /* regions in an allowlist */

/* Amounts of named resources; a resource absent from a set is unbounded
 * (a limit) or nothing (a guarantee). */
struct sc_res_set {
  int n;
  char name[SC_RES_MAX][72];   /* "gpu", "gpu.A100-80G", "cpu", "memory" */
  int64_t amount[SC_RES_MAX];  /* milli (gpu, cpu) or MiB (memory) */
};

struct sc_tenant_rules {
  struct sc_res_set guarantee, limit, lend_limit;
  int nregions;                /* 0: no residency rule of its own */
  char regions[SC_REGIONS_MAX][64];
  bool preempt_lower;          /* preempt_within: lower-priority (else never) */
  bool spot_over_limit;        /* spot jobs may run past its limit */
};

/* A rule-set error: the field ("guarantee.gpu") and a message. */
struct sc_rules_error {
  char field[80];
  char message[200];
};

/* Fills err (field, message) and returns SC_EINVAL. */
int sc_rules_fail(struct sc_rules_error *err, const char *field, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/*
 * Applies the fields of body (a JSON object: guarantee, limit, lend_limit,
 * regions, preempt_within, spot_over_limit; others are not its business
 * and ignored) over r. Quantities: gpu as GPUs (8, 0.5) or milli ("500m"),
 * cpu as cores (16, "500m"), memory as "64Gi" or MiB; an amount of null
 * removes the resource. Returns 0 or SC_EINVAL with err.
 */
int sc_rules_apply(struct sc_tenant_rules *r, struct json_t *body, struct sc_rules_error *err);

/* Reads a normalised text (NULL or "" reads as no rules): 0 or SC_EINVAL. */
int sc_rules_parse_text(const char *text, struct sc_tenant_rules *r);
/* The normalised JSON text of r (malloc'd; NULL when out of memory). */
char *sc_rules_text(const struct sc_tenant_rules *r);
/* The rules as the API shows them (gpu and cpu in units, memory in MiB as
 * "NMi"): a new JSON object. */
struct json_t *sc_rules_json(const struct sc_tenant_rules *r);

/* The amount of resource name in s, or -1 when absent. */
int64_t sc_res_get(const struct sc_res_set *s, const char *name);
/* Adds amount of name to s (a new entry when absent; dropped when full). */
void sc_res_set_add(struct sc_res_set *s, const char *name, int64_t amount);
/* Formats an amount of resource name for people: "12" GPUs, "0.5", "64Gi". */
void sc_res_format(const char *name, int64_t amount, char *buf, size_t size);

/* Whether region is in the allowlist r (an empty list allows any). */
bool sc_rules_region_ok(const struct sc_tenant_rules *r, const char *region);

#endif
