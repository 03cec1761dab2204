/*
 * Fragmentation measure of FGD. Floating-point work follows the reference
 * order exactly (per-shape accumulation into a 7-vector, then a sum in class
 * order), so scores truncate identically and per-seed results match. A node
 * of several models is the sum of its groups, each measured as a node.
 */
#include "core/frag.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#include "core/banned.h"

static int key_cmp_desc(const void *pa, const void *pb)
{
  const struct sc_typical_key *a = pa, *b = pb;
  int c;

  if (a->count != b->count)
    return a->count > b->count ? -1 : 1;
  if (a->shape.cpu != b->shape.cpu)
    return a->shape.cpu > b->shape.cpu ? -1 : 1;
  if (a->shape.gpu_milli != b->shape.gpu_milli)
    return a->shape.gpu_milli > b->shape.gpu_milli ? -1 : 1;
  if (a->shape.gpu_count != b->shape.gpu_count)
    return a->shape.gpu_count > b->shape.gpu_count ? -1 : 1;
  c = strcmp(a->spec, b->spec);
  return c > 0 ? -1 : c < 0 ? 1 : 0;
}

int sc_typical_build(struct sc_typical_key *keys, int nkeys, double threshold_pct,
                     struct sc_typical *out)
{
  double total = 0, cum = 0, expected;
  int kept = 0;

  memset(out, 0, sizeof *out);
  if (nkeys <= 0)
    return SC_EINVAL;
  for (int i = 0; i < nkeys; i++)
    total += keys[i].count;
  qsort(keys, (size_t)nkeys, sizeof *keys, key_cmp_desc);
  expected = threshold_pct * total / 100.0;
  while (cum < expected && kept < nkeys)
    cum += keys[kept++].count;
  out->shapes = calloc((size_t)kept, sizeof *out->shapes);
  out->freq = calloc((size_t)kept, sizeof *out->freq);
  if (!out->shapes || !out->freq) {
    sc_typical_release(out);
    return SC_ENOMEM;
  }
  for (int i = 0; i < kept; i++) {
    out->shapes[i] = keys[i].shape;
    out->shapes[i].id = -1;
    out->freq[i] = keys[i].count / total;
    /* The reference renormalises only when it chopped the list. */
    if (kept < nkeys)
      out->freq[i] /= cum / total;
  }
  out->n = kept;
  return 0;
}

void sc_typical_release(struct sc_typical *t)
{
  free(t->shapes);
  free(t->freq);
  memset(t, 0, sizeof *t);
}

enum sc_frag_class sc_frag_classify(const struct sc_node *n, const struct sc_shape *q)
{
  bool cpu_ok = n->cpu_left >= q->cpu;

  assert(n->model != SC_MODEL_MIXED);
  if (q->gpu_milli == 0)
    return cpu_ok ? SC_FRAG_XL : SC_FRAG_XR;
  if (n->gpu_count == 0 || !sc_node_model_ok(n, q))
    return SC_FRAG_NOACCESS;
  if (sc_node_gpus_with(n, q->gpu_milli) >= q->gpu_count)
    return cpu_ok ? SC_FRAG_Q3 : SC_FRAG_Q4;
  return cpu_ok ? SC_FRAG_Q2 : SC_FRAG_Q1;
}

/* The vector of a node of one model. */
static void frag_one(const struct sc_node *n, const struct sc_typical *t,
                     double out[SC_FRAG_NCLASS])
{
  int64_t left = sc_node_gpu_left(n);

  memset(out, 0, SC_FRAG_NCLASS * sizeof *out);
  for (int k = 0; k < t->n; k++) {
    const struct sc_shape *q = &t->shapes[k];
    double f = t->freq[k];
    enum sc_frag_class cls = sc_frag_classify(n, q);

    if (cls == SC_FRAG_Q3) {
      /* Devices too small for q are fragments even where q fits. */
      int64_t small = 0;
      for (int i = 0; i < n->gpu_count; i++)
        if (n->gpu_left[i] < q->gpu_milli)
          small += n->gpu_left[i];
      out[SC_FRAG_Q2] += f * (double)small;
      out[SC_FRAG_Q3] += f * (double)(left - small);
    } else {
      out[cls] += f * (double)left;
    }
  }
}

void sc_frag_node(const struct sc_node *n, const struct sc_typical *t,
                  double out[SC_FRAG_NCLASS])
{
  struct sc_group groups[SC_MAX_GPUS];
  int ngroups;

  if (n->model != SC_MODEL_MIXED) {
    frag_one(n, t, out);
    return;
  }
  /* Several models: the sum of the groups' vectors, each group a node. */
  memset(out, 0, SC_FRAG_NCLASS * sizeof *out);
  ngroups = sc_node_groups(n, groups);
  for (int g = 0; g < ngroups; g++) {
    struct sc_node view;
    int8_t pos[SC_MAX_GPUS];
    double v[SC_FRAG_NCLASS];
    sc_node_view(n, &groups[g], &view, pos);
    frag_one(&view, t, v);
    for (int i = 0; i < SC_FRAG_NCLASS; i++)
      out[i] += v[i];
  }
}

double sc_frag_sum_except_q3(const double v[SC_FRAG_NCLASS])
{
  double sum = 0;

  for (int i = 0; i < SC_FRAG_NCLASS; i++)
    if (i != SC_FRAG_Q3)
      sum += v[i];
  return sum;
}

double sc_frag_node_score(const struct sc_node *n, const struct sc_typical *t)
{
  double v[SC_FRAG_NCLASS];

  sc_frag_node(n, t, v);
  return sc_frag_sum_except_q3(v);
}
