/*
 * Tenants: a stable numeric id per tenant, given in order of first use (a
 * job submitted for it, or an operator's `tenant set`) and never reused,
 * and the node user it maps to instead of uid base + id (run_as). Agents
 * run a tenant's tasks as that identity, so ids must survive restarts: a
 * tenant's row is written in the same batch as its first job, and a job
 * is acknowledged only after that batch commits; until a batch holding the
 * row commits (durable), every batch for the tenant carries it again.
 * Tenants are few (an organisation's teams): a sorted array.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/ctl_int.h"
#include "util/error.h"
#include "util/log.h"

/* Index of name in c->tenants, or -(insertion point) - 1. */
static int tenant_index(const struct sc_ctl *c, const char *name)
{
  int lo = 0, hi = c->ntenants - 1;

  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2, cmp = strcmp(c->tenants[mid].rec.name, name);
    if (cmp == 0)
      return mid;
    if (cmp < 0)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return -lo - 1;
}

const struct ctl_tenant *ctl_tenant_find(const struct sc_ctl *c, const char *name)
{
  int i = tenant_index(c, name);

  return i >= 0 ? &c->tenants[i] : NULL;
}

/* Inserts rec at its place; 0 or SC_ENOMEM. */
static int tenant_insert(struct sc_ctl *c, const struct sc_tenant_rec *rec, bool durable)
{
  int i = -tenant_index(c, rec->name) - 1;

  if (c->ntenants == c->captenants) {
    int cap = c->captenants ? c->captenants * 2 : 16;
    struct ctl_tenant *grown = realloc(c->tenants, (size_t)cap * sizeof *grown);
    if (!grown)
      return SC_ENOMEM;
    c->tenants = grown;
    c->captenants = cap;
  }
  memmove(&c->tenants[i + 1], &c->tenants[i], (size_t)(c->ntenants - i) * sizeof *c->tenants);
  c->tenants[i] = (struct ctl_tenant){.rec = *rec, .durable = durable};
  c->ntenants++;
  if (rec->id >= c->next_tenant_id)
    c->next_tenant_id = rec->id + 1;
  return 0;
}

static void batch_tenant(struct sc_store_batch *b, const struct sc_tenant_rec *rec)
{
  struct sc_store_op op = {.kind = SC_STORE_TENANT_PUT};

  op.u.tenant = *rec;
  sc_store_batch_add(b, &op);
}

int ctl_tenants_load(struct sc_ctl *c)
{
  struct sc_tenant_rec *recs;
  int n, rc = sc_store_tenant_list(c->store, &recs, &n);

  c->next_tenant_id = 1;
  for (int i = 0; rc == 0 && i < n; i++)
    if ((rc = tenant_insert(c, &recs[i], true)) == 0)
      recs[i].rules = NULL; /* moved */
  sc_store_free_tenants(recs, n);
  return rc;
}

int ctl_tenant_ensure(struct sc_ctl *c, const char *name, struct sc_store_batch *b)
{
  int i = tenant_index(c, name);
  struct sc_tenant_rec rec;
  int rc;

  if (i >= 0) {
    if (!c->tenants[i].durable)
      batch_tenant(b, &c->tenants[i].rec);
    return 0;
  }
  memset(&rec, 0, sizeof rec);
  snprintf(rec.name, sizeof rec.name, "%s", name);
  rec.id = c->next_tenant_id;
  rec.created_ms = ctl_wall_ms(c);
  if ((rc = tenant_insert(c, &rec, false)) < 0)
    return rc;
  sc_info("tenant %s: id %lld", rec.name, (long long)rec.id);
  batch_tenant(b, &rec);
  return 0;
}

void ctl_tenant_settle(struct sc_ctl *c, const struct sc_store_batch *b)
{
  for (int k = 0; k < b->n; k++)
    if (b->ops[k].kind == SC_STORE_TENANT_PUT) {
      int i = tenant_index(c, b->ops[k].u.tenant.name);
      if (i >= 0 && strcmp(c->tenants[i].rec.run_as, b->ops[k].u.tenant.run_as) == 0)
        c->tenants[i].durable = true;
    }
}

void ctl_tenants_free(struct sc_ctl *c)
{
  for (int i = 0; i < c->ntenants; i++)
    free(c->tenants[i].rec.rules);
  free(c->tenants);
  c->tenants = NULL;
  c->ntenants = c->captenants = 0;
}

int sc_ctl_tenant_list(struct sc_ctl *c, const char *only, struct sc_tenant_rec **out, int *n)
{
  int k = 0;

  *out = NULL;
  *n = 0;
  pthread_mutex_lock(&c->mu);
  *out = malloc((size_t)(c->ntenants > 0 ? c->ntenants : 1) * sizeof **out);
  for (int i = 0; *out && i < c->ntenants; i++)
    if (!only || strcmp(c->tenants[i].rec.name, only) == 0) {
      (*out)[k] = c->tenants[i].rec;
      (*out)[k++].rules = c->tenants[i].rec.rules ? strdup(c->tenants[i].rec.rules) : NULL;
    }
  pthread_mutex_unlock(&c->mu);
  if (!*out)
    return SC_ENOMEM;
  *n = k;
  return 0;
}

int sc_ctl_tenant_set(struct sc_ctl *c, const char *name, const char *run_as,
                      struct sc_tenant_rec *out)
{
  struct sc_store_batch *b = sc_store_batch_new();
  int i, rc;

  if (!b)
    return SC_ENOMEM;
  pthread_mutex_lock(&c->mu);
  rc = ctl_tenant_ensure(c, name, b);
  if (rc == 0) {
    i = tenant_index(c, name);
    snprintf(c->tenants[i].rec.run_as, sizeof c->tenants[i].rec.run_as, "%s", run_as);
    c->tenants[i].durable = false;
    if (b->n > 0) { /* the row ensure queued is out of date: queue it anew */
      sc_store_batch_free(b);
      b = sc_store_batch_new();
    }
    batch_tenant(b, &c->tenants[i].rec);
    *out = c->tenants[i].rec;
    out->rules = out->rules ? strdup(out->rules) : NULL;
    rc = sc_store_submit(c->store, b); /* under the lock: rows commit in memory's order */
  }
  pthread_mutex_unlock(&c->mu);
  if (rc == 0)
    rc = sc_store_wait(c->store, b);
  if (rc == 0) {
    pthread_mutex_lock(&c->mu);
    ctl_tenant_settle(c, b);
    pthread_mutex_unlock(&c->mu);
  }
  sc_store_batch_free(b);
  return rc < 0 ? (rc == SC_ENOMEM ? rc : SC_ESTORE) : 0;
}
