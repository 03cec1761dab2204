/*
 * Cluster model: node table, model names, task shapes, device groups and the
 * feasibility filter (CPU, memory, model, devices) shared by every placement
 * policy. A node of several models is checked group by group, each group as
 * a node of its own (sc_node_view); a node of one model directly, as before.
 */
#include "core/cluster.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"

#include "core/banned.h"

void sc_cluster_init(struct sc_cluster *c)
{
  memset(c, 0, sizeof *c);
}

void sc_cluster_release(struct sc_cluster *c)
{
  free(c->nodes);
  sc_cluster_init(c);
}

int sc_cluster_model_find(const struct sc_cluster *c, const char *name)
{
  for (int i = 0; i < c->nmodels; i++)
    if (strcmp(c->models[i], name) == 0)
      return i;
  return -1;
}

int sc_cluster_model_id(struct sc_cluster *c, const char *name)
{
  int id = sc_cluster_model_find(c, name);

  if (id >= 0)
    return id;
  if (c->nmodels >= SC_MAX_MODELS)
    return SC_ERANGE;
  if (strlen(name) >= SC_NAME_MAX)
    return SC_EINVAL;
  memcpy(c->models[c->nmodels], name, strlen(name) + 1);
  return c->nmodels++;
}

int sc_cluster_region_id(struct sc_cluster *c, const char *name)
{
  for (int i = 0; i < c->nregions; i++)
    if (strcmp(c->regions[i], name) == 0)
      return i;
  if (c->nregions >= SC_MAX_REGIONS)
    return SC_ERANGE;
  if (strlen(name) >= SC_NAME_MAX || !*name)
    return SC_EINVAL;
  memcpy(c->regions[c->nregions], name, strlen(name) + 1);
  return c->nregions++;
}

uint64_t sc_cluster_regions_mask(const struct sc_cluster *c, const char *list)
{
  uint64_t mask = 0;

  while (list && *list) {
    const char *end = strchr(list, '|');
    size_t len = end ? (size_t)(end - list) : strlen(list);
    for (int i = 0; i < c->nregions; i++)
      if (strlen(c->regions[i]) == len && strncmp(c->regions[i], list, len) == 0)
        mask |= 1ULL << i;
    list += len + (end ? 1 : 0);
  }
  return mask;
}

bool sc_node_region_ok(const struct sc_node *n, const struct sc_shape *s)
{
  return s->regions == 0 || (n->region > 0 && ((s->regions >> (n->region - 1)) & 1));
}

int sc_cluster_add_node(struct sc_cluster *c, const char *name, int64_t cpu_milli,
                        int64_t mem_mib, int gpu_count, const char *model)
{
  const char *models[SC_MAX_GPUS];

  if (gpu_count < 0 || gpu_count > SC_MAX_GPUS)
    return SC_EINVAL;
  for (int i = 0; i < gpu_count; i++)
    models[i] = model;
  return sc_cluster_add_node_models(c, name, cpu_milli, mem_mib, gpu_count, models);
}

/* The model ids of names into ids, and into *model the node's model: the
 * one they share, SC_MODEL_MIXED or -1 (no device). Returns 0 or SC_E*. */
static int device_models(struct sc_cluster *c, int gpu_count, const char *const *names,
                         int8_t ids[SC_MAX_GPUS], int *model)
{
  *model = -1;
  for (int i = 0; i < gpu_count; i++) {
    int id;
    if (!names[i] || !*names[i])
      return SC_EINVAL;
    if ((id = sc_cluster_model_id(c, names[i])) < 0)
      return id;
    ids[i] = (int8_t)id;
    *model = i == 0 || id == *model ? id : SC_MODEL_MIXED;
  }
  return 0;
}

int sc_cluster_add_node_models(struct sc_cluster *c, const char *name, int64_t cpu_milli,
                               int64_t mem_mib, int gpu_count, const char *const *models)
{
  int8_t ids[SC_MAX_GPUS] = {0};
  struct sc_node *n;
  int model, rc;
  size_t len;

  if (cpu_milli < 0 || mem_mib < 0 || gpu_count < 0 || gpu_count > SC_MAX_GPUS)
    return SC_EINVAL;
  if ((rc = device_models(c, gpu_count, models, ids, &model)) < 0)
    return rc;
  if (c->nnodes == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    struct sc_node *nodes = realloc(c->nodes, cap * sizeof *nodes);
    if (!nodes)
      return SC_ENOMEM;
    c->nodes = nodes;
    c->cap = cap;
  }
  n = &c->nodes[c->nnodes];
  memset(n, 0, sizeof *n);
  len = strlen(name);
  if (len >= SC_NAME_MAX)
    len = SC_NAME_MAX - 1;
  memcpy(n->name, name, len);
  n->name[len] = '\0';
  n->cpu_cap = n->cpu_left = cpu_milli;
  n->mem_cap = n->mem_left = mem_mib;
  n->gpu_count = gpu_count;
  n->model = model;
  for (int i = 0; i < gpu_count; i++) {
    n->gpu_left[i] = SC_MILLI;
    n->dev_model[i] = ids[i];
  }
  n->rank = (uint32_t)c->nnodes;
  n->klass = -1;
  return (int)c->nnodes++;
}

void sc_shape_set_models(struct sc_shape *shape, const struct sc_cluster *c,
                         const char *spec)
{
  const char *p = spec ? spec : "";
  bool any_token = false;

  shape->models = 0;
  while (*p) {
    const char *end = strchr(p, '|');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > 0) {
      any_token = true;
      for (int i = 0; i < c->nmodels; i++)
        if (strlen(c->models[i]) == len && strncasecmp(c->models[i], p, len) == 0)
          shape->models |= 1ULL << i;
    }
    p += len;
    if (*p == '|')
      p++;
  }
  shape->any_model = !any_token;
}

uint32_t sc_shape_tag(const struct sc_shape *s)
{
  if (s->gpu_milli <= 0)
    return 0;
  if (s->gpu_count == 1 && s->gpu_milli < SC_MILLI)
    return SC_TAG_SHARE;
  return 1u << s->gpu_count;
}

int64_t sc_shape_total_milli(const struct sc_shape *s)
{
  return (int64_t)s->gpu_count * s->gpu_milli;
}

bool sc_shape_model_ok(const struct sc_shape *s, int model)
{
  if (s->any_model)
    return true;
  if (model < 0)
    return false;
  return (s->models >> model) & 1;
}

bool sc_node_model_ok(const struct sc_node *n, const struct sc_shape *s)
{
  if (n->model != SC_MODEL_MIXED)
    return sc_shape_model_ok(s, n->model);
  for (int i = 0; i < n->gpu_count; i++)
    if (sc_shape_model_ok(s, n->dev_model[i]))
      return true;
  return false;
}

int sc_node_groups(const struct sc_node *n, struct sc_group groups[SC_MAX_GPUS])
{
  int ngroups = 0;

  for (int i = 0; i < n->gpu_count; i++) {
    int g = 0;
    while (g < ngroups && groups[g].model != n->dev_model[i])
      g++;
    if (g == ngroups)
      groups[ngroups++] = (struct sc_group){.model = n->dev_model[i], .devs = 0};
    groups[g].devs |= 1u << i;
  }
  return ngroups;
}

void sc_node_view(const struct sc_node *n, const struct sc_group *g, struct sc_node *view,
                  int8_t pos[SC_MAX_GPUS])
{
  int k = 0;

  *view = *n;
  view->model = g->model;
  for (int i = 0; i < n->gpu_count; i++) {
    if (!((g->devs >> i) & 1u))
      continue;
    view->gpu_left[k] = n->gpu_left[i];
    view->dev_model[k] = (int8_t)g->model;
    pos[k++] = (int8_t)i;
  }
  for (int i = k; i < SC_MAX_GPUS; i++)
    view->gpu_left[i] = view->dev_model[i] = 0;
  view->gpu_count = k;
}

int64_t sc_node_gpu_left(const struct sc_node *n)
{
  int64_t sum = 0;

  for (int i = 0; i < n->gpu_count; i++)
    sum += n->gpu_left[i];
  return sum;
}

int sc_node_gpus_with(const struct sc_node *n, int milli)
{
  int count = 0;

  for (int i = 0; i < n->gpu_count; i++)
    count += n->gpu_left[i] >= milli;
  return count;
}

/* Multi-device fit: the greedy pass of the reference, which may take several
 * shares from one device (left[dev] >= milli: take it and stay on dev). */
static bool multi_gpu_fits(const struct sc_node *n, const struct sc_shape *s)
{
  int left[SC_MAX_GPUS] = {0}, got = 0, dev = 0;

  for (int i = 0; i < n->gpu_count; i++)
    left[i] = n->gpu_left[i];
  while (dev < n->gpu_count && got < s->gpu_count) {
    if (left[dev] >= s->gpu_milli) {
      left[dev] -= s->gpu_milli;
      got++;
    } else {
      dev++;
    }
  }
  return got >= s->gpu_count;
}

/* Feasibility of a task on a node of one model, memory aside. */
static bool fits_nomem_one(const struct sc_node *n, const struct sc_shape *s)
{
  if (n->gpu_count == 0 || !sc_shape_model_ok(s, n->model))
    return false;
  if (s->gpu_count == 1)
    return sc_node_gpus_with(n, s->gpu_milli) >= 1;
  if (s->gpu_milli == SC_MILLI)
    return sc_node_gpus_with(n, SC_MILLI) >= s->gpu_count;
  return multi_gpu_fits(n, s);
}

bool sc_node_fits_nomem(const struct sc_node *n, const struct sc_shape *s)
{
  struct sc_group groups[SC_MAX_GPUS];
  int ngroups;

  if (s->cpu > n->cpu_left || !sc_node_region_ok(n, s))
    return false;
  if (s->gpu_milli <= 0)
    return true;
  if (n->model != SC_MODEL_MIXED)
    return fits_nomem_one(n, s);
  ngroups = sc_node_groups(n, groups);
  for (int g = 0; g < ngroups; g++) {
    struct sc_node view;
    int8_t pos[SC_MAX_GPUS];
    if (!sc_shape_model_ok(s, groups[g].model))
      continue;
    sc_node_view(n, &groups[g], &view, pos);
    if (fits_nomem_one(&view, s))
      return true;
  }
  return false;
}

bool sc_node_fits(const struct sc_node *n, const struct sc_shape *s)
{
  return s->mem <= n->mem_left && sc_node_fits_nomem(n, s);
}

static void tag_add(struct sc_node *n, uint32_t tag, int delta)
{
  for (int b = 0; b <= SC_MAX_GPUS; b++) {
    if (tag == 1u << b) {
      n->tag_count[b] = (uint16_t)(n->tag_count[b] + delta);
      if (n->tag_count[b])
        n->tags |= tag;
      else
        n->tags &= ~tag;
    }
  }
}

void sc_node_apply(struct sc_node *n, const struct sc_shape *s,
                   const struct sc_placement *p)
{
  n->cpu_left -= s->cpu;
  n->mem_left -= s->mem;
  for (int i = 0; i < p->ndev; i++) {
    assert(p->dev[i] >= 0 && p->dev[i] < n->gpu_count);
    n->gpu_left[p->dev[i]] = (int16_t)(n->gpu_left[p->dev[i]] - s->gpu_milli);
    assert(n->gpu_left[p->dev[i]] >= 0);
  }
  n->tasks++;
  tag_add(n, sc_shape_tag(s), +1);
}

void sc_node_unapply(struct sc_node *n, const struct sc_shape *s,
                     const struct sc_placement *p)
{
  n->cpu_left += s->cpu;
  n->mem_left += s->mem;
  for (int i = 0; i < p->ndev; i++) {
    n->gpu_left[p->dev[i]] = (int16_t)(n->gpu_left[p->dev[i]] + s->gpu_milli);
    assert(n->gpu_left[p->dev[i]] <= SC_MILLI);
  }
  n->tasks--;
  tag_add(n, sc_shape_tag(s), -1);
}

/* A node's model agrees with its devices' (see struct sc_node). */
static bool models_ok(const struct sc_node *n)
{
  bool mixed = false;

  if (n->gpu_count == 0)
    return n->model == -1;
  for (int i = 0; i < n->gpu_count; i++) {
    if (n->dev_model[i] < 0 || n->dev_model[i] >= SC_MAX_MODELS)
      return false;
    mixed = mixed || n->dev_model[i] != n->dev_model[0];
  }
  return n->model == (mixed ? SC_MODEL_MIXED : n->dev_model[0]);
}

int sc_node_check(const struct sc_node *n)
{
  if (n->cpu_left < 0 || n->cpu_left > n->cpu_cap)
    return SC_ESTATE;
  if (n->mem_left < 0 || n->mem_left > n->mem_cap)
    return SC_ESTATE;
  if (n->gpu_count < 0 || n->gpu_count > SC_MAX_GPUS || n->tasks < 0 || !models_ok(n))
    return SC_ESTATE;
  for (int i = 0; i < n->gpu_count; i++)
    if (n->gpu_left[i] < 0 || n->gpu_left[i] > SC_MILLI)
      return SC_ESTATE;
  return 0;
}
