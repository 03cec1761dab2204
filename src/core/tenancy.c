/*
 * Tenant tree, quota balances and fair-share keys. The balance of a node is
 * Kueue's T (KEP-79): T(leaf) = g - u, T(x) = pool(x) + sum over children
 * of min(lend_limit, T(child)), kept incrementally along the path of every
 * charge; the cluster node (index n internally) closes the tree with the
 * capacity. Invariant: bal[] and lent[] equal a recomputation from usage.
 */
#include "core/tenancy.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#include "core/banned.h"

__extension__ typedef __int128 i128;

#define PPB 1000000000LL

struct sc_tenancy {
  struct sc_tenant *t;
  int n;                      /* tenants; node n is the cluster */
  struct sc_res capacity;
  bool engine_capacity;       /* opts.engine_capacity */
  char models[SC_RES_MODELS][SC_NAME_MAX];
  int nmodels;
  uint32_t dims;              /* quota dimensions */
  int *parent;                /* [n + 1]: parent node, n for roots, -1 for n */
  int *child_start;           /* [n + 2]: children of x are child_list[start[x]..start[x+1]) */
  int *child_list;            /* [n] */
  struct sc_res *pool;        /* [n + 1] g - sum of children's g */
  struct sc_res *lent;        /* [n + 1] sum over children of min(lend_limit, T) */
  struct sc_res *bal;         /* [n + 1] T */
  struct sc_res *reach;       /* [n + 1] what the subtree could ever reach */
};

void sc_res_zero(struct sc_res *r)
{
  memset(r, 0, sizeof *r);
}

void sc_res_unlimited(struct sc_res *r)
{
  for (int d = 0; d < SC_RES_DIMS; d++)
    r->v[d] = SC_RES_UNLIMITED;
}

void sc_res_add(struct sc_res *a, const struct sc_res *b, int sign)
{
  for (int d = 0; d < SC_RES_DIMS; d++)
    a->v[d] += sign * b->v[d];
}

/* The only model a shape allows, or -1. */
static int single_model(const struct sc_shape *s)
{
  if (s->any_model || s->models == 0 || (s->models & (s->models - 1)) != 0)
    return -1;
  return __builtin_ctzll(s->models);
}

void sc_res_of_shapes(struct sc_res *out, const struct sc_shape *shapes, int n)
{
  sc_res_zero(out);
  for (int i = 0; i < n; i++) {
    int64_t milli = sc_shape_total_milli(&shapes[i]);
    int m = single_model(&shapes[i]);
    out->v[SC_RES_GPU] += milli;
    out->v[SC_RES_CPU] += shapes[i].cpu;
    out->v[SC_RES_MEM] += shapes[i].mem;
    if (m >= 0 && m < SC_RES_MODELS)
      out->v[SC_RES_MODEL0 + m] += milli;
  }
}

void sc_res_of_placement(struct sc_res *out, const struct sc_cluster *c,
                         const struct sc_shape *shapes, const struct sc_placement *p, int n)
{
  sc_res_zero(out);
  for (int i = 0; i < n; i++) {
    const struct sc_node *node = &c->nodes[p[i].node];
    out->v[SC_RES_CPU] += shapes[i].cpu;
    out->v[SC_RES_MEM] += shapes[i].mem;
    for (int k = 0; k < p[i].ndev; k++) {
      int m = node->dev_model[p[i].dev[k]];
      out->v[SC_RES_GPU] += shapes[i].gpu_milli;
      if (m < SC_RES_MODELS)
        out->v[SC_RES_MODEL0 + m] += shapes[i].gpu_milli;
    }
  }
}

void sc_res_of_cluster(struct sc_res *out, const struct sc_cluster *c)
{
  sc_res_zero(out);
  for (size_t i = 0; i < c->nnodes; i++) {
    const struct sc_node *n = &c->nodes[i];
    out->v[SC_RES_CPU] += n->cpu_cap;
    out->v[SC_RES_MEM] += n->mem_cap;
    out->v[SC_RES_GPU] += (int64_t)n->gpu_count * SC_MILLI;
    for (int k = 0; k < n->gpu_count; k++)
      if (n->dev_model[k] < SC_RES_MODELS)
        out->v[SC_RES_MODEL0 + n->dev_model[k]] += SC_MILLI;
  }
}

void sc_res_name(int dim, const char (*models)[SC_NAME_MAX], int nmodels, char *buf,
                 size_t size)
{
  int m = dim - SC_RES_MODEL0;

  if (dim == SC_RES_GPU)
    snprintf(buf, size, "gpu");
  else if (dim == SC_RES_CPU)
    snprintf(buf, size, "cpu");
  else if (dim == SC_RES_MEM)
    snprintf(buf, size, "memory");
  else if (models && m < nmodels)
    snprintf(buf, size, "gpu.%s", models[m]);
  else
    snprintf(buf, size, "gpu.#%d", m);
}

/* An amount as a person reads it: GPUs and CPUs in whole units (up to
 * three decimals), memory in MiB. */
static void amount(int dim, int64_t v, char *buf, size_t size)
{
  if (dim == SC_RES_MEM) {
    snprintf(buf, size, "%lld", (long long)v);
  } else if (v % SC_MILLI == 0) {
    snprintf(buf, size, "%lld", (long long)(v / SC_MILLI));
  } else {
    int len = snprintf(buf, size, "%s%lld.%03lld", v < 0 ? "-" : "",
                       (long long)(llabs(v) / SC_MILLI), (long long)(llabs(v) % SC_MILLI));
    while (len > 0 && (size_t)len < size && buf[len - 1] == '0')
      buf[--len] = '\0';
  }
}

static const char *tenant_name(const struct sc_tenancy *tn, int x, char *buf, size_t size)
{
  if (tn->t[x].name)
    return tn->t[x].name;
  snprintf(buf, size, "#%d", x);
  return buf;
}

static int64_t min64(int64_t a, int64_t b)
{
  return a < b ? a : b;
}

/* A child's contribution to its parent's balance. */
static int64_t contrib(const struct sc_tenancy *tn, int c, int d, int64_t bal)
{
  return min64(tn->t[c].lend_limit.v[d], bal);
}

static bool is_leaf(const struct sc_tenancy *tn, int x)
{
  return tn->child_start[x] == tn->child_start[x + 1];
}

/* Parents come before their children; weights are >= 0. */
static int validate_order(const struct sc_tenancy *tn, char *err, size_t errlen)
{
  char name[SC_NAME_MAX + 8];

  for (int x = 0; x < tn->n; x++) {
    const struct sc_tenant *t = &tn->t[x];
    if (t->parent < -1 || t->parent >= x) {
      snprintf(err, errlen, "tenant '%s': parent %d is not an earlier tenant",
               tenant_name(tn, x, name, sizeof name), t->parent);
      return SC_EINVAL;
    }
    if (t->weight < 0) {
      snprintf(err, errlen, "tenant '%s': negative weight", tenant_name(tn, x, name, sizeof name));
      return SC_EINVAL;
    }
  }
  return 0;
}

/* Children's guarantees fit inside each parent's (needs build()). */
static int validate_guarantees(const struct sc_tenancy *tn, char *err, size_t errlen)
{
  char a[32], b[32], name[SC_NAME_MAX + 8], dim[SC_NAME_MAX + 8];

  for (int x = 0; x < tn->n; x++) {
    for (int d = 0; d < SC_RES_DIMS; d++) {
      int64_t sum = 0;
      for (int k = tn->child_start[x]; k < tn->child_start[x + 1]; k++)
        sum += tn->t[tn->child_list[k]].guarantee.v[d];
      if (sum > tn->t[x].guarantee.v[d]) {
        sc_res_name(d, (const char(*)[SC_NAME_MAX])tn->models, tn->nmodels, dim, sizeof dim);
        amount(d, sum, a, sizeof a);
        amount(d, tn->t[x].guarantee.v[d], b, sizeof b);
        snprintf(err, errlen, "tenant '%s': children's guarantees on %s %s > %s",
                 tenant_name(tn, x, name, sizeof name), dim, a, b);
        return SC_EINVAL;
      }
    }
  }
  return 0;
}

/* Parents, children (CSR, in index order), quota dimensions, pools, reach. */
static void build(struct sc_tenancy *tn)
{
  int n = tn->n;

  memset(tn->child_start, 0, (size_t)(n + 2) * sizeof *tn->child_start);
  tn->parent[n] = -1;
  for (int x = 0; x < n; x++) {
    tn->parent[x] = tn->t[x].parent < 0 ? n : tn->t[x].parent;
    tn->child_start[tn->parent[x] + 1]++;
  }
  for (int x = 0; x <= n; x++)
    tn->child_start[x + 1] += tn->child_start[x];
  for (int x = 0, *fill = tn->child_list; x <= n; x++)
    for (int c = 0; c < n; c++)
      if (tn->parent[c] == x)
        *fill++ = c;
  tn->dims = 1u << SC_RES_GPU; /* always; the others once some tenant names them */
  for (int x = 0; x < n; x++)
    for (int d = 0; d < SC_RES_DIMS; d++)
      if (tn->t[x].guarantee.v[d] > 0 || tn->t[x].limit.v[d] != SC_RES_UNLIMITED ||
          tn->t[x].lend_limit.v[d] != SC_RES_UNLIMITED)
        tn->dims |= 1u << d;
  for (int x = 0; x <= n; x++) {
    tn->pool[x] = x == n ? tn->capacity : tn->t[x].guarantee;
    for (int k = tn->child_start[x]; k < tn->child_start[x + 1]; k++)
      sc_res_add(&tn->pool[x], &tn->t[tn->child_list[k]].guarantee, -1);
  }
  tn->reach[n] = tn->capacity;
  for (int x = 0; x < n; x++)
    for (int d = 0; d < SC_RES_DIMS; d++)
      tn->reach[x].v[d] = min64(tn->t[x].limit.v[d], tn->reach[tn->parent[x]].v[d]);
}

/* Balance of node x from usage and its children's contributions. */
static void balance_of(const struct sc_tenancy *tn, int x, struct sc_res *bal,
                       struct sc_res *lent)
{
  for (int d = 0; d < SC_RES_DIMS; d++) {
    if (x < tn->n && is_leaf(tn, x))
      bal[x].v[d] = tn->t[x].guarantee.v[d] - tn->t[x].usage.v[d];
    else
      bal[x].v[d] = tn->pool[x].v[d] + lent[x].v[d];
    if (x < tn->n)
      lent[tn->parent[x]].v[d] += contrib(tn, x, d, bal[x].v[d]);
  }
}

/* Balances from usage into bal/lent: children (higher indices) before
 * parents, the cluster node last. */
static void balances(const struct sc_tenancy *tn, struct sc_res *bal, struct sc_res *lent)
{
  for (int x = tn->n; x >= 0; x--)
    sc_res_zero(&lent[x]);
  for (int x = tn->n - 1; x >= 0; x--)
    balance_of(tn, x, bal, lent);
  balance_of(tn, tn->n, bal, lent);
}

int sc_tenancy_new(const struct sc_tenancy_opts *opts, char *err, size_t errlen,
                   struct sc_tenancy **out)
{
  struct sc_tenancy *tn;
  size_t n1;
  int rc;

  *out = NULL;
  if (errlen > 0)
    err[0] = '\0';
  if (opts->ntenants < 0 || (opts->ntenants > 0 && !opts->tenants))
    return SC_EINVAL;
  if (!(tn = calloc(1, sizeof *tn)))
    return SC_ENOMEM;
  tn->t = opts->tenants;
  tn->n = opts->ntenants;
  tn->capacity = opts->capacity;
  tn->engine_capacity = opts->engine_capacity;
  tn->nmodels = opts->nmodels < SC_RES_MODELS ? opts->nmodels : SC_RES_MODELS;
  for (int m = 0; m < tn->nmodels; m++)
    memcpy(tn->models[m], opts->models[m], SC_NAME_MAX);
  n1 = (size_t)tn->n + 1;
  tn->parent = malloc(n1 * sizeof *tn->parent);
  tn->child_start = malloc((n1 + 1) * sizeof *tn->child_start);
  tn->child_list = malloc(n1 * sizeof *tn->child_list);
  tn->pool = malloc(n1 * sizeof *tn->pool);
  tn->lent = malloc(n1 * sizeof *tn->lent);
  tn->bal = malloc(n1 * sizeof *tn->bal);
  tn->reach = malloc(n1 * sizeof *tn->reach);
  if (!tn->parent || !tn->child_start || !tn->child_list || !tn->pool || !tn->lent ||
      !tn->bal || !tn->reach) {
    sc_tenancy_free(tn);
    return SC_ENOMEM;
  }
  rc = validate_order(tn, err, errlen);
  if (rc == 0) {
    build(tn);
    rc = validate_guarantees(tn, err, errlen);
  }
  if (rc < 0) {
    sc_tenancy_free(tn);
    return rc;
  }
  sc_tenancy_rollup(tn);
  *out = tn;
  return 0;
}

void sc_tenancy_free(struct sc_tenancy *tn)
{
  if (!tn)
    return;
  free(tn->parent);
  free(tn->child_start);
  free(tn->child_list);
  free(tn->pool);
  free(tn->lent);
  free(tn->bal);
  free(tn->reach);
  free(tn);
}

int sc_tenancy_count(const struct sc_tenancy *tn)
{
  return tn->n;
}

const struct sc_tenant *sc_tenancy_tenant(const struct sc_tenancy *tn, int i)
{
  return &tn->t[i];
}

bool sc_tenancy_is_leaf(const struct sc_tenancy *tn, int i)
{
  return is_leaf(tn, i);
}

uint32_t sc_tenancy_dims(const struct sc_tenancy *tn)
{
  return tn->dims;
}

int sc_tenancy_parent(const struct sc_tenancy *tn, int x)
{
  return tn->parent[x] == tn->n ? -1 : tn->parent[x];
}

int sc_tenancy_lca(const struct sc_tenancy *tn, int a, int b)
{
  /* Parents have lower indices: climb the higher one. */
  while (a != b) {
    if (a > b)
      a = tn->parent[a];
    else
      b = tn->parent[b];
  }
  return a == tn->n ? -1 : a;
}

const int *sc_tenancy_children(const struct sc_tenancy *tn, int x, int *n)
{
  int node = x < 0 ? tn->n : x;

  *n = tn->child_start[node + 1] - tn->child_start[node];
  return &tn->child_list[tn->child_start[node]];
}

void sc_tenancy_rollup(struct sc_tenancy *tn)
{
  for (int x = 0; x < tn->n; x++)
    if (!is_leaf(tn, x)) {
      sc_res_zero(&tn->t[x].usage);
      sc_res_zero(&tn->t[x].spot_usage);
    }
  for (int x = tn->n - 1; x >= 0; x--)
    if (tn->t[x].parent >= 0) {
      sc_res_add(&tn->t[tn->t[x].parent].usage, &tn->t[x].usage, 1);
      sc_res_add(&tn->t[tn->t[x].parent].spot_usage, &tn->t[x].spot_usage, 1);
    }
  balances(tn, tn->bal, tn->lent);
}

int sc_tenancy_charge(struct sc_tenancy *tn, int leaf, const struct sc_res *req, bool spot,
                      int sign)
{
  if (leaf < 0 || leaf >= tn->n || !is_leaf(tn, leaf))
    return SC_EINVAL;
  for (int x = leaf; x < tn->n; x = tn->parent[x])
    sc_res_add(spot ? &tn->t[x].spot_usage : &tn->t[x].usage, req, sign);
  if (spot)
    return 0;
  for (int d = 0; d < SC_RES_DIMS; d++) {
    int64_t delta;
    if (req->v[d] == 0)
      continue;
    delta = -sign * req->v[d];
    for (int x = leaf; x < tn->n && delta != 0; x = tn->parent[x]) {
      int64_t before = contrib(tn, x, d, tn->bal[x].v[d]);
      tn->bal[x].v[d] += delta;
      delta = contrib(tn, x, d, tn->bal[x].v[d]) - before;
      tn->lent[tn->parent[x]].v[d] += delta;
    }
    if (delta != 0)
      tn->bal[tn->n].v[d] += delta;
  }
  return 0;
}

/* The usage x's limit counts: standard, and spot unless x lets spot run
 * over its limit. */
static int64_t limit_usage(const struct sc_tenancy *tn, int x, int d)
{
  const struct sc_tenant *t = &tn->t[x];
  return t->usage.v[d] + (t->spot_over_limit ? 0 : t->spot_usage.v[d]);
}

/* Formats a refusal: "quota: DIM AFTER/CAP (WHY)". */
static int refuse(const struct sc_tenancy *tn, int d, int64_t after, int64_t cap,
                  const char *why, char *reason, size_t reasonlen)
{
  char dim[SC_NAME_MAX + 8], a[32], b[32];

  if (reasonlen > 0) {
    sc_res_name(d, (const char(*)[SC_NAME_MAX])tn->models, tn->nmodels, dim, sizeof dim);
    amount(d, after, a, sizeof a);
    amount(d, cap, b, sizeof b);
    snprintf(reason, reasonlen, "quota: %s %s/%s (%s)", dim, a, b, why);
  }
  return SC_ENOFIT;
}

/* One dimension of sc_tenancy_fits along the path from leaf to the cluster. */
static int fits_dim(const struct sc_tenancy *tn, int leaf, int d, int64_t req, bool spot,
                    char *reason, size_t reasonlen)
{
  char why[SC_NAME_MAX + 32], name[SC_NAME_MAX + 8];
  int64_t delta = -req; /* change of the current node's balance */

  for (int x = leaf; x < tn->n; x = tn->parent[x]) {
    const struct sc_tenant *t = &tn->t[x];
    int64_t after = limit_usage(tn, x, d) + (spot && t->spot_over_limit ? 0 : req);
    int64_t bal = tn->bal[x].v[d] + delta, L = t->limit.v[d];
    if (after > L) {
      if (x == leaf)
        snprintf(why, sizeof why, "limit");
      else
        snprintf(why, sizeof why, "limit of '%s'", tenant_name(tn, x, name, sizeof name));
      return refuse(tn, d, after, L, why, reason, reasonlen);
    }
    if (!spot && delta != 0 && L != SC_RES_UNLIMITED && bal < t->guarantee.v[d] - L) {
      int64_t used = t->usage.v[d] + req;
      return refuse(tn, d, used, used + bal - t->guarantee.v[d] + L, "lend limit", reason,
                    reasonlen);
    }
    delta = contrib(tn, x, d, bal) - contrib(tn, x, d, tn->bal[x].v[d]);
  }
  /* The cluster's balance: refused only when this job lowers it below 0. */
  if (!spot && delta != 0 && tn->bal[tn->n].v[d] + delta < 0) {
    int64_t total = 0, bal = tn->bal[tn->n].v[d] + delta;
    for (int k = tn->child_start[tn->n]; k < tn->child_start[tn->n + 1]; k++)
      total += tn->t[tn->child_list[k]].usage.v[d];
    total += req;
    if (total > tn->capacity.v[d])
      return tn->engine_capacity
               ? 0
               : refuse(tn, d, total, tn->capacity.v[d], "capacity", reason, reasonlen);
    return refuse(tn, d, total, total + bal, "lend limit", reason, reasonlen);
  }
  return 0;
}

int sc_tenancy_fits(const struct sc_tenancy *tn, int leaf, const struct sc_res *req, bool spot,
                    char *reason, size_t reasonlen)
{
  if (reasonlen > 0)
    reason[0] = '\0';
  if (leaf < 0 || leaf >= tn->n || !is_leaf(tn, leaf)) {
    if (reasonlen > 0)
      snprintf(reason, reasonlen, "quota: jobs belong to leaf tenants");
    return SC_EINVAL;
  }
  for (int d = 0; d < SC_RES_DIMS; d++) {
    int rc;
    if (req->v[d] <= 0 || !(tn->dims & (1u << d)))
      continue;
    if ((rc = fits_dim(tn, leaf, d, req->v[d], spot, reason, reasonlen)) < 0)
      return rc;
  }
  return 0;
}

int64_t sc_tenancy_balance(const struct sc_tenancy *tn, int x, int dim)
{
  return tn->bal[x < 0 ? tn->n : x].v[dim];
}

bool sc_tenancy_borrows(const struct sc_tenancy *tn, int x, uint32_t mask)
{
  mask &= tn->dims;
  for (int d = 0; d < SC_RES_DIMS; d++)
    if ((mask & (1u << d)) && tn->bal[x].v[d] < 0)
      return true;
  return false;
}

/* num / den in parts per billion, saturating. */
static int64_t ppb(int64_t num, int64_t den)
{
  i128 q = (i128)num * PPB / den;
  return q > INT64_MAX ? INT64_MAX : (int64_t)q;
}

void sc_tenancy_share(const struct sc_tenancy *tn, int x, struct sc_share *out)
{
  const struct sc_tenant *t = &tn->t[x];
  const struct sc_res *reach = &tn->reach[tn->parent[x]];
  int64_t best = 0;

  out->klass = sc_tenancy_borrows(tn, x, ~0u) ? 1 : 0;
  out->inf = false;
  for (int d = 0; d < SC_RES_DIMS; d++) {
    int64_t v;
    if (!(tn->dims & (1u << d)))
      continue;
    if (out->klass == 0) {
      if (t->guarantee.v[d] <= 0)
        continue;
      v = ppb(t->usage.v[d], t->guarantee.v[d]);
    } else {
      if (tn->bal[x].v[d] >= 0 || reach->v[d] <= 0)
        continue;
      v = ppb(-tn->bal[x].v[d], reach->v[d]);
    }
    if (v > best)
      best = v;
  }
  if (out->klass == 1) {
    if (t->weight == 0) {
      out->inf = true;
    } else {
      i128 w = (i128)best * SC_MILLI / t->weight;
      best = w > INT64_MAX ? INT64_MAX : (int64_t)w;
    }
  }
  out->value = best;
}

int sc_share_cmp(const struct sc_share *a, const struct sc_share *b)
{
  if (a->klass != b->klass)
    return a->klass < b->klass ? -1 : 1;
  if (a->inf != b->inf)
    return a->inf ? 1 : -1;
  if (a->value != b->value)
    return a->value < b->value ? -1 : 1;
  return 0;
}

int sc_tenancy_check(const struct sc_tenancy *tn)
{
  struct sc_res *bal = malloc(((size_t)tn->n + 1) * sizeof *bal);
  struct sc_res *lent = malloc(((size_t)tn->n + 1) * sizeof *lent);
  int rc = 0;

  if (!bal || !lent) {
    free(bal);
    free(lent);
    return SC_ENOMEM;
  }
  for (int x = 0; x < tn->n && rc == 0; x++) {
    struct sc_res sum, spot;
    if (is_leaf(tn, x))
      continue;
    sc_res_zero(&sum);
    sc_res_zero(&spot);
    for (int k = tn->child_start[x]; k < tn->child_start[x + 1]; k++) {
      sc_res_add(&sum, &tn->t[tn->child_list[k]].usage, 1);
      sc_res_add(&spot, &tn->t[tn->child_list[k]].spot_usage, 1);
    }
    if (memcmp(&sum, &tn->t[x].usage, sizeof sum) != 0 ||
        memcmp(&spot, &tn->t[x].spot_usage, sizeof spot) != 0)
      rc = SC_ESTATE;
  }
  for (int x = 0; x < tn->n && rc == 0; x++)
    for (int d = 0; d < SC_RES_DIMS; d++)
      if (tn->t[x].usage.v[d] < 0 || tn->t[x].spot_usage.v[d] < 0)
        rc = SC_ESTATE;
  if (rc == 0) {
    balances(tn, bal, lent);
    if (memcmp(bal, tn->bal, ((size_t)tn->n + 1) * sizeof *bal) != 0 ||
        memcmp(lent, tn->lent, ((size_t)tn->n + 1) * sizeof *lent) != 0)
      rc = SC_ESTATE;
  }
  free(bal);
  free(lent);
  return rc;
}
