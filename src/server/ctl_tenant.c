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

/* A deleted tenant's row keeps its id under a name no tenant can have, so
 * the id is never given again (its files on nodes stay nobody else's). */
#define TOMBSTONE "~deleted."

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

struct ctl_tenant_counts *ctl_tenant_counts(struct sc_ctl *c, const char *name)
{
  int i = tenant_index(c, name);

  return i >= 0 ? &c->tenants[i].counts : NULL;
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
  memset(&c->tenants[i], 0, sizeof c->tenants[i]);
  c->tenants[i].rec = *rec;
  c->tenants[i].durable = durable;
  if (sc_rules_parse_text(rec->rules, &c->tenants[i].rules) < 0) {
    /* Ours, so unreadable means out of memory: never run without rules. */
    memmove(&c->tenants[i], &c->tenants[i + 1], (size_t)(c->ntenants - i) * sizeof *c->tenants);
    return SC_ENOMEM;
  }
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

int ctl_tenant_ancestors(const struct sc_ctl *c, const struct ctl_tenant *t,
                         const struct ctl_tenant **up, int max)
{
  int n = 0;

  while (t && t->rec.parent[0] && n < max && n < c->ntenants) {
    t = ctl_tenant_find(c, t->rec.parent);
    if (t)
      up[n++] = t;
  }
  return n;
}

/* Recomputes every tenant's allowlist in force (tenants are few). */
static void tree_refresh(struct sc_ctl *c)
{
  for (int i = 0; i < c->ntenants; i++) {
    struct ctl_tenant *t = &c->tenants[i];
    const struct ctl_tenant *src = t, *up[64];
    int n = ctl_tenant_ancestors(c, t, up, 64);
    size_t len = 0;
    for (int k = 0; src->rules.nregions == 0 && k < n; k++)
      src = up[k];
    t->eff_regions[0] = '\0';
    for (int r = 0; r < src->rules.nregions; r++)
      len += (size_t)snprintf(t->eff_regions + len, sizeof t->eff_regions - len, "%s%s",
                              r ? "|" : "", src->rules.regions[r]);
  }
}

int ctl_tenants_load(struct sc_ctl *c)
{
  struct sc_tenant_rec *recs;
  int n, rc = sc_store_tenant_list(c->store, &recs, &n);

  c->next_tenant_id = 1;
  for (int i = 0; rc == 0 && i < n; i++) {
    if (strncmp(recs[i].name, TOMBSTONE, strlen(TOMBSTONE)) == 0) {
      if (recs[i].id >= c->next_tenant_id)
        c->next_tenant_id = recs[i].id + 1;
      continue;
    }
    if ((rc = tenant_insert(c, &recs[i], true)) == 0)
      recs[i].rules = NULL; /* moved */
  }
  sc_store_free_tenants(recs, n);
  tree_refresh(c);
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

/* The sum of the guarantees of resource res over parent's children, with
 * child name counted as r (or left out when r is NULL). */
static int64_t children_guarantee(const struct sc_ctl *c, const char *parent, const char *name,
                                  const struct sc_tenant_rules *r, const char *res)
{
  int64_t sum = r && sc_res_get(&r->guarantee, res) > 0 ? sc_res_get(&r->guarantee, res) : 0;

  for (int i = 0; i < c->ntenants; i++) {
    const struct ctl_tenant *t = &c->tenants[i];
    int64_t g;
    if (strcmp(t->rec.parent, parent) != 0 || strcmp(t->rec.name, name) == 0)
      continue;
    if ((g = sc_res_get(&t->rules.guarantee, res)) > 0)
      sum += g;
  }
  return sum;
}

/* Whether region list eff ('|'-separated, "" none) holds region. */
static bool eff_has(const char *eff, const char *region)
{
  size_t len = strlen(region);

  for (const char *p = eff; *p;) {
    const char *end = strchr(p, '|');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == len && strncmp(p, region, len) == 0)
      return true;
    p += n + (end ? 1 : 0);
  }
  return false;
}

/* Checks tenant name with parent and rules r against the tree. */
static int tree_check(struct sc_ctl *c, const char *name, const char *parent,
                      const struct sc_tenant_rules *r, struct sc_rules_error *err)
{
  char a[32], b[32], f[96];

  if (*parent) {
    const struct ctl_tenant *p = ctl_tenant_find(c, parent), *up[64];
    int n;
    if (!p)
      return sc_rules_fail(err, "parent", "no tenant '%s'", parent);
    if (strcmp(parent, name) == 0)
      return sc_rules_fail(err, "parent", "a tenant cannot be its own parent");
    n = ctl_tenant_ancestors(c, p, up, 64);
    for (int k = 0; k < n; k++)
      if (strcmp(up[k]->rec.name, name) == 0)
        return sc_rules_fail(err, "parent", "'%s' is below '%s': the tree would loop", parent, name);
    for (int i = 0; i < r->nregions; i++)
      if (p->eff_regions[0] && !eff_has(p->eff_regions, r->regions[i]))
        return sc_rules_fail(err, "regions", "region '%s' is outside parent %s's allowlist (%s)",
                     r->regions[i], parent, p->eff_regions);
    /* Every resource either guarantees, the parent's and this one's (a
     * child's guarantee of a model its parent does not guarantee is over
     * the parent's 0: the core refuses such a tree). */
    for (int i = 0; i < p->rules.guarantee.n + r->guarantee.n; i++) {
      const char *res = i < p->rules.guarantee.n ? p->rules.guarantee.name[i]
                                                   : r->guarantee.name[i - p->rules.guarantee.n];
      int64_t sum = children_guarantee(c, parent, name, r, res);
      int64_t own = sc_res_get(&p->rules.guarantee, res);
      if (sum > (own > 0 ? own : 0)) {
        snprintf(f, sizeof f, "guarantee.%s", res);
        sc_res_format(res, sum, a, sizeof a);
        sc_res_format(res, own > 0 ? own : 0, b, sizeof b);
        return sc_rules_fail(err, f, "the guarantees of %s's children would be %s %s, over its own %s",
                     parent, a, res, b);
      }
    }
    for (int k = -1; k < n; k++) { /* no limit over an ancestor's */
      const struct ctl_tenant *anc = k < 0 ? p : up[k];
      for (int i = 0; i < r->limit.n; i++) {
        int64_t pl = sc_res_get(&anc->rules.limit, r->limit.name[i]);
        if (pl >= 0 && r->limit.amount[i] > pl) {
          snprintf(f, sizeof f, "limit.%s", r->limit.name[i]);
          sc_res_format(r->limit.name[i], r->limit.amount[i], a, sizeof a);
          sc_res_format(r->limit.name[i], pl, b, sizeof b);
          return sc_rules_fail(err, f, "limit %s %s is over %s's limit %s", r->limit.name[i], a,
                       anc->rec.name, b);
        }
      }
    }
  }
  for (int k = 0; k < c->ntenants; k++) { /* its own children within it */
    const struct ctl_tenant *t = &c->tenants[k];
    if (strcmp(t->rec.parent, name) != 0)
      continue;
    for (int i = 0; i < t->rules.guarantee.n; i++) {
      const char *res = t->rules.guarantee.name[i];
      int64_t sum = children_guarantee(c, name, "", NULL, res);
      int64_t own = sc_res_get(&r->guarantee, res);
      if (sum > (own > 0 ? own : 0)) {
        snprintf(f, sizeof f, "guarantee.%s", res);
        sc_res_format(res, sum, a, sizeof a);
        sc_res_format(res, own > 0 ? own : 0, b, sizeof b);
        return sc_rules_fail(err, f, "its children's guarantees add up to %s %s, over %s", a, res,
                             b);
      }
    }
  }
  for (int i = 0; r->nregions > 0 && i < c->ntenants; i++) { /* children's regions */
    const struct ctl_tenant *t = &c->tenants[i];
    if (strcmp(t->rec.parent, name) != 0)
      continue;
    for (int k = 0; k < t->rules.nregions; k++)
      if (!sc_rules_region_ok(r, t->rules.regions[k]))
        return sc_rules_fail(err, "regions", "child %s allows region '%s', outside this list",
                     t->rec.name, t->rules.regions[k]);
  }
  return 0;
}

/* Commits b (under mu, which it drops meanwhile) and settles it. */
static int commit_tenants(struct sc_ctl *c, struct sc_store_batch *b)
{
  int rc = sc_store_submit(c->store, b); /* under the lock: rows commit in memory's order */

  pthread_mutex_unlock(&c->mu);
  if (rc == 0)
    rc = sc_store_wait(c->store, b);
  pthread_mutex_lock(&c->mu);
  if (rc == 0)
    ctl_tenant_settle(c, b);
  return rc;
}

int sc_ctl_tenant_put(struct sc_ctl *c, const char *name, const struct sc_tenant_update *u,
                      struct sc_tenant_rec *out, struct sc_rules_error *err)
{
  struct sc_store_batch *b = sc_store_batch_new();
  struct sc_tenant_rules r;
  struct ctl_tenant *t;
  char *text = NULL;
  int i, rc = b ? 0 : SC_ENOMEM;

  memset(out, 0, sizeof *out);
  memset(err, 0, sizeof *err);
  pthread_mutex_lock(&c->mu);
  i = tenant_index(c, name);
  if (rc == 0 && u->create && i >= 0)
    rc = SC_EEXIST;
  memset(&r, 0, sizeof r);
  if (rc == 0 && i >= 0)
    r = c->tenants[i].rules;
  if (rc == 0 && u->rules)
    rc = sc_rules_apply(&r, u->rules, err);
  if (rc == 0 && u->has_weight && !(u->weight > 0 && u->weight <= 1e6))
    rc = sc_rules_fail(err, "weight", "'weight' must be a number in (0, 1000000]");
  if (rc == 0)
    rc = tree_check(c, name, u->has_parent ? u->parent : i >= 0 ? c->tenants[i].rec.parent : "",
                    &r, err);
  if (rc == 0 && !(text = sc_rules_text(&r)))
    rc = SC_ENOMEM;
  if (rc == 0 && i < 0) {
    rc = ctl_tenant_ensure(c, name, b); /* gives it its id */
    i = tenant_index(c, name);
  }
  if (rc == 0) {
    t = &c->tenants[i];
    if (u->has_run_as)
      snprintf(t->rec.run_as, sizeof t->rec.run_as, "%s", u->run_as);
    if (u->has_parent)
      snprintf(t->rec.parent, sizeof t->rec.parent, "%s", u->parent);
    if (u->has_weight)
      t->rec.weight = u->weight;
    if (t->rec.weight <= 0)
      t->rec.weight = 1.0;
    free(t->rec.rules);
    t->rec.rules = text;
    text = NULL;
    t->rules = r;
    t->durable = false;
    tree_refresh(c);
    sc_store_batch_free(b); /* ensure's row is out of date: queue it anew */
    b = sc_store_batch_new();
    batch_tenant(b, &t->rec);
    *out = t->rec;
    out->rules = t->rec.rules ? strdup(t->rec.rules) : NULL;
    rc = commit_tenants(c, b);
    if (rc == 0)
      sc_info("tenant %s: set", name);
  }
  pthread_mutex_unlock(&c->mu);
  free(text);
  sc_store_batch_free(b);
  if (rc < 0 && rc != SC_EINVAL && rc != SC_EEXIST && rc != SC_ENOMEM)
    rc = SC_ESTORE;
  if (rc < 0) {
    free(out->rules);
    out->rules = NULL;
  }
  return rc;
}

int sc_ctl_tenant_delete(struct sc_ctl *c, const char *name, char *msg, size_t size)
{
  struct sc_store_batch *b = sc_store_batch_new();
  int i, rc = b ? 0 : SC_ENOMEM, jobs = 0;

  msg[0] = '\0';
  pthread_mutex_lock(&c->mu);
  i = tenant_index(c, name);
  if (rc == 0 && i < 0)
    rc = SC_ENOENT;
  for (int k = 0; rc == 0 && k < c->njobs; k++)
    jobs += !sc_job_state_final(c->jobs[k]->state) && strcmp(c->jobs[k]->spec.tenant, name) == 0;
  if (rc == 0 && jobs > 0) {
    snprintf(msg, size, "tenant %s has %d job%s not ended: cancel or wait for them", name, jobs,
             jobs == 1 ? "" : "s");
    rc = SC_EBUSY;
  }
  for (int k = 0; rc == 0 && k < c->ntenants; k++)
    if (strcmp(c->tenants[k].rec.parent, name) == 0) {
      snprintf(msg, size, "tenant %s has a child, %s: delete or move it first", name,
               c->tenants[k].rec.name);
      rc = SC_EBUSY;
    }
  if (rc == 0) {
    struct sc_tenant_rec tomb = c->tenants[i].rec;
    snprintf(tomb.name, sizeof tomb.name, TOMBSTONE "%lld", (long long)tomb.id);
    tomb.rules = NULL;
    batch_tenant(b, &tomb);
    rc = commit_tenants(c, b);
    i = tenant_index(c, name);
    if (rc == 0 && i >= 0) {
      free(c->tenants[i].rec.rules);
      memmove(&c->tenants[i], &c->tenants[i + 1],
              (size_t)(c->ntenants - i - 1) * sizeof *c->tenants);
      c->ntenants--;
      tree_refresh(c);
      sc_info("tenant %s: deleted", name);
    }
  }
  pthread_mutex_unlock(&c->mu);
  sc_store_batch_free(b);
  return rc < 0 && rc != SC_ENOENT && rc != SC_EBUSY && rc != SC_ENOMEM ? SC_ESTORE : rc;
}

void ctl_job_usage(const struct sc_ctl *c, const struct ctl_job *j, struct sc_res_set *out)
{
  char res[80];

  memset(out, 0, sizeof *out);
  for (int k = 0; k < j->ntasks; k++) {
    const struct ctl_task *t = &j->tasks[k];
    if (t->state != SC_TASK_ASSIGNED && t->state != SC_TASK_RUNNING)
      continue;
    sc_res_set_add(out, "cpu", j->cpu_milli);
    sc_res_set_add(out, "memory", j->memory_mib);
    for (int d = 0; d < t->ndev && t->node >= 0; d++) {
      const struct sc_device_rec *dev = &c->nodes[t->node].rec.dev[t->pos[d]];
      int64_t milli = j->gpu_milli > 0 ? j->gpu_milli : 1000;
      sc_res_set_add(out, "gpu", milli);
      snprintf(res, sizeof res, "gpu.%s", dev->model);
      sc_res_set_add(out, res, milli);
    }
  }
}

int sc_ctl_tenant_usage(struct sc_ctl *c, struct sc_tenant_usage **out, int *n)
{
  pthread_mutex_lock(&c->mu);
  *n = c->ntenants;
  *out = calloc((size_t)(c->ntenants > 0 ? c->ntenants : 1), sizeof **out);
  for (int i = 0; *out && i < c->ntenants; i++)
    snprintf((*out)[i].name, sizeof (*out)[i].name, "%s", c->tenants[i].rec.name);
  for (int k = 0; *out && k < c->njobs; k++) {
    const struct ctl_job *j = c->jobs[k];
    const struct ctl_tenant *t, *up[64];
    struct sc_res_set use;
    int i = tenant_index(c, j->spec.tenant), nup;
    if (i < 0 || sc_job_state_final(j->state))
      continue;
    (*out)[i].jobs_active++;
    ctl_job_usage(c, j, &use);
    t = &c->tenants[i];
    nup = ctl_tenant_ancestors(c, t, up, 64);
    for (int r = 0; r < use.n; r++) {
      sc_res_set_add(&(*out)[i].own, use.name[r], use.amount[r]);
      sc_res_set_add(&(*out)[i].subtree, use.name[r], use.amount[r]);
      for (int a = 0; a < nup; a++)
        sc_res_set_add(&(*out)[tenant_index(c, up[a]->rec.name)].subtree, use.name[r], use.amount[r]);
    }
  }
  pthread_mutex_unlock(&c->mu);
  if (!*out) {
    *n = 0;
    return SC_ENOMEM;
  }
  return 0;
}

bool sc_ctl_tenant_regions(struct sc_ctl *c, const char *name, char *buf, size_t size)
{
  const struct ctl_tenant *t;
  bool found;

  pthread_mutex_lock(&c->mu);
  t = ctl_tenant_find(c, name);
  found = t != NULL;
  snprintf(buf, size, "%s", t ? t->eff_regions : "");
  pthread_mutex_unlock(&c->mu);
  return found;
}

bool ctl_region_allowed(const char *allowed, const char *region)
{
  return !*allowed || (*region && eff_has(allowed, region));
}

bool ctl_allowed_regions(const struct sc_ctl *c, const struct sc_job_spec *s, char *buf,
                         size_t size)
{
  const struct ctl_tenant *t = ctl_tenant_find(c, s->tenant);
  const char *eff = t ? t->eff_regions : "";
  size_t len = 0;

  buf[0] = '\0';
  if (!s->regions[0] || !*eff) {
    snprintf(buf, size, "%s", s->regions[0] ? s->regions : eff);
    return true;
  }
  for (const char *p = s->regions; *p;) { /* both: their meet */
    const char *end = strchr(p, '|');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char one[64];
    snprintf(one, sizeof one, "%.*s", (int)n, p);
    if (eff_has(eff, one))
      len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "|" : "", one);
    p += n + (end ? 1 : 0);
  }
  return buf[0] != '\0';
}

int sc_ctl_tenant_set(struct sc_ctl *c, const char *name, const char *run_as,
                      struct sc_tenant_rec *out)
{
  struct sc_tenant_update u = {.has_run_as = true};
  struct sc_rules_error err;

  snprintf(u.run_as, sizeof u.run_as, "%s", run_as);
  return sc_ctl_tenant_put(c, name, &u, out, &err);
}
