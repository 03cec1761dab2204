/*
 * Placement engine over equivalence classes of node states. Invariants:
 * every node of the cluster is a member of exactly the class whose key is
 * its state; a class is live iff it has members; members are sorted by rank;
 * a cached score is valid for the class key, which never changes while the
 * class lives.
 */
#include "core/sched.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#include "core/banned.h"

#define SCORE_UNKNOWN (-2)
#define SCORE_NOFIT (-1)

/* Node state as far as feasibility (but memory order) and scores go. */
struct class_key {
  int64_t cpu_left;
  int64_t mem_left;
  uint32_t tags;
  int16_t model;
  int16_t gpu_count;
  int16_t left_desc[SC_MAX_GPUS]; /* free shares, descending, zero padded */
};

struct sc_class {
  struct class_key key;
  uint64_t hash;
  int *members;        /* node indices sorted by rank */
  int nmembers, cap;
  int live_pos;        /* index in sched->live, -1 when dead */
  double frag[SC_FRAG_NCLASS];
};

struct sc_sched {
  struct sc_cluster *cluster;
  const struct sc_policy *policy;
  struct sc_policy_ctx ctx;
  int nshapes;
  struct sc_class *classes;
  int nclasses, cap;
  int *free_ids;       /* dead class slots for reuse */
  int nfree;
  int *live;           /* live class ids, scanned by pick */
  int nlive;
  int *slots;          /* open-addressing hash: class id or -1 */
  size_t nslots;
  int16_t *scores;     /* cap x nshapes score cache */
  double frag_total[SC_FRAG_NCLASS];
  int64_t gpu_used_milli;
};

static void key_of(const struct sc_sched *s, const struct sc_node *n, struct class_key *k)
{
  memset(k, 0, sizeof *k);
  k->cpu_left = n->cpu_left;
  k->mem_left = n->mem_left;
  k->tags = (s->policy->flags & SC_POLICY_TAGS) ? n->tags : 0;
  k->model = (int16_t)n->model;
  k->gpu_count = (int16_t)n->gpu_count;
  for (int i = 0; i < n->gpu_count; i++) {
    int16_t v = n->gpu_left[i];
    int j = i;
    while (j > 0 && k->left_desc[j - 1] < v) {
      k->left_desc[j] = k->left_desc[j - 1];
      j--;
    }
    k->left_desc[j] = v;
  }
}

static uint64_t key_hash(const struct class_key *k)
{
  const unsigned char *p = (const unsigned char *)k;
  uint64_t h = 1469598103934665603ULL;

  for (size_t i = 0; i < sizeof *k; i++) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h ^ (h >> 29);
}

static int slots_grow(struct sc_sched *s)
{
  size_t nslots = s->nslots ? s->nslots * 2 : 1024;
  int *slots = malloc(nslots * sizeof *slots);

  if (!slots)
    return SC_ENOMEM;
  for (size_t i = 0; i < nslots; i++)
    slots[i] = -1;
  for (int id = 0; id < s->nclasses; id++) {
    struct sc_class *c = &s->classes[id];
    size_t i;
    if (c->live_pos < 0)
      continue;
    for (i = c->hash & (nslots - 1); slots[i] >= 0; i = (i + 1) & (nslots - 1))
      ;
    slots[i] = id;
  }
  free(s->slots);
  s->slots = slots;
  s->nslots = nslots;
  return 0;
}

/* Slot holding the class with key k, or the empty slot where it would go. */
static size_t slot_find(const struct sc_sched *s, const struct class_key *k, uint64_t h)
{
  size_t mask = s->nslots - 1, i = h & mask;

  while (s->slots[i] >= 0) {
    const struct sc_class *c = &s->classes[s->slots[i]];
    if (c->hash == h && memcmp(&c->key, k, sizeof *k) == 0)
      break;
    i = (i + 1) & mask;
  }
  return i;
}

/* Removes the class in slot i, shifting later entries of its run back. */
static void slot_delete(struct sc_sched *s, size_t i)
{
  size_t mask = s->nslots - 1, j = i;

  s->slots[i] = -1;
  for (;;) {
    size_t home;
    j = (j + 1) & mask;
    if (s->slots[j] < 0)
      return;
    home = s->classes[s->slots[j]].hash & mask;
    /* Move j back to i unless its home lies cyclically in (i, j]. */
    if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
      s->slots[i] = s->slots[j];
      s->slots[j] = -1;
      i = j;
    }
  }
}

static int class_alloc(struct sc_sched *s)
{
  int id;

  if (s->nfree > 0)
    return s->free_ids[--s->nfree];
  if (s->nclasses == s->cap) {
    int cap = s->cap ? s->cap * 2 : 256;
    struct sc_class *classes = realloc(s->classes, (size_t)cap * sizeof *classes);
    if (!classes)
      return SC_ENOMEM;
    s->classes = classes;
    if (s->nshapes > 0) {
      int16_t *scores = realloc(s->scores, (size_t)cap * (size_t)s->nshapes * sizeof *scores);
      if (!scores)
        return SC_ENOMEM;
      s->scores = scores;
    }
    int *free_ids = realloc(s->free_ids, (size_t)cap * sizeof *free_ids);
    int *live = realloc(s->live, (size_t)cap * sizeof *live);
    if (free_ids)
      s->free_ids = free_ids;
    if (live)
      s->live = live;
    if (!free_ids || !live)
      return SC_ENOMEM;
    s->cap = cap;
  }
  id = s->nclasses++;
  memset(&s->classes[id], 0, sizeof s->classes[id]);
  s->classes[id].live_pos = -1;
  return id;
}

/* Finds or creates the live class of node n's state. Returns its id. */
static int class_for(struct sc_sched *s, const struct sc_node *n)
{
  struct class_key k;
  uint64_t h;
  size_t slot;
  struct sc_class *c;
  int id;

  key_of(s, n, &k);
  h = key_hash(&k);
  slot = slot_find(s, &k, h);
  if (s->slots[slot] >= 0)
    return s->slots[slot];
  id = class_alloc(s);
  if (id < 0)
    return id;
  if ((size_t)(s->nlive + 1) * 2 > s->nslots) {
    if (slots_grow(s) < 0)
      return SC_ENOMEM;
    slot = slot_find(s, &k, h);
  }
  c = &s->classes[id];
  c->key = k;
  c->hash = h;
  c->nmembers = 0;
  c->live_pos = s->nlive;
  s->live[s->nlive++] = id;
  s->slots[slot] = id;
  for (int i = 0; i < s->nshapes; i++)
    s->scores[(size_t)id * (size_t)s->nshapes + (size_t)i] = SCORE_UNKNOWN;
  if (s->ctx.typical)
    sc_frag_node(n, s->ctx.typical, c->frag);
  return id;
}

static void class_kill(struct sc_sched *s, int id)
{
  struct sc_class *c = &s->classes[id];
  int last = s->live[--s->nlive];

  s->live[c->live_pos] = last;
  s->classes[last].live_pos = c->live_pos;
  c->live_pos = -1;
  slot_delete(s, slot_find(s, &c->key, c->hash));
  s->free_ids[s->nfree++] = id;
}

static int member_add(struct sc_sched *s, int id, int node)
{
  struct sc_class *c = &s->classes[id];
  uint32_t rank = s->cluster->nodes[node].rank;
  int lo = 0, hi;

  if (c->nmembers == c->cap) {
    int cap = c->cap ? c->cap * 2 : 4;
    int *m = realloc(c->members, (size_t)cap * sizeof *m);
    if (!m)
      return SC_ENOMEM;
    c->members = m;
    c->cap = cap;
  }
  hi = c->nmembers;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (s->cluster->nodes[c->members[mid]].rank < rank)
      lo = mid + 1;
    else
      hi = mid;
  }
  memmove(&c->members[lo + 1], &c->members[lo], (size_t)(c->nmembers - lo) * sizeof(int));
  c->members[lo] = node;
  c->nmembers++;
  s->cluster->nodes[node].klass = id;
  return 0;
}

static void member_remove(struct sc_sched *s, int id, int node)
{
  struct sc_class *c = &s->classes[id];
  uint32_t rank = s->cluster->nodes[node].rank;
  int lo = 0, hi = c->nmembers;

  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (s->cluster->nodes[c->members[mid]].rank < rank)
      lo = mid + 1;
    else
      hi = mid;
  }
  assert(lo < c->nmembers && c->members[lo] == node);
  memmove(&c->members[lo], &c->members[lo + 1], (size_t)(c->nmembers - lo - 1) * sizeof(int));
  c->nmembers--;
  s->cluster->nodes[node].klass = -1;
  if (c->nmembers == 0)
    class_kill(s, id);
}

static void frag_add(struct sc_sched *s, int id, double sign)
{
  if (!s->ctx.typical)
    return;
  for (int i = 0; i < SC_FRAG_NCLASS; i++)
    s->frag_total[i] += sign * s->classes[id].frag[i];
}

/* Puts node into the class of its current state. */
static int node_index(struct sc_sched *s, int node)
{
  int id = class_for(s, &s->cluster->nodes[node]);

  if (id < 0)
    return id;
  frag_add(s, id, +1);
  return member_add(s, id, node);
}

void sc_sched_free(struct sc_sched *s)
{
  if (!s)
    return;
  for (int i = 0; i < s->nclasses; i++)
    free(s->classes[i].members);
  free(s->classes);
  free(s->free_ids);
  free(s->live);
  free(s->slots);
  free(s->scores);
  free(s);
}

int sc_sched_new(struct sc_cluster *c, const struct sc_sched_opts *opts,
                 struct sc_sched **out)
{
  struct sc_sched *s;
  int rc = 0;

  *out = NULL;
  if (!opts->policy || opts->nshapes < 0)
    return SC_EINVAL;
  if (!(opts->policy->flags & SC_POLICY_UNIFORM) && !opts->policy->score)
    return SC_EINVAL;
  s = calloc(1, sizeof *s);
  if (!s)
    return SC_ENOMEM;
  s->cluster = c;
  s->policy = opts->policy;
  s->ctx = opts->ctx;
  s->nshapes = opts->nshapes;
  rc = slots_grow(s);
  for (size_t i = 0; rc == 0 && i < c->nnodes; i++) {
    const struct sc_node *n = &c->nodes[i];
    s->gpu_used_milli += (int64_t)n->gpu_count * SC_MILLI - sc_node_gpu_left(n);
    rc = node_index(s, (int)i);
  }
  if (rc < 0) {
    sc_sched_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* Cached score of class id for shape sh, SCORE_NOFIT when sh cannot fit
 * (memory aside). */
static int class_score(struct sc_sched *s, int id, const struct sc_shape *sh)
{
  int16_t *slot = NULL;
  const struct sc_node *rep = &s->cluster->nodes[s->classes[id].members[0]];
  int score;

  if (sh->id >= 0 && sh->id < s->nshapes) {
    slot = &s->scores[(size_t)id * (size_t)s->nshapes + (size_t)sh->id];
    if (*slot != SCORE_UNKNOWN)
      return *slot;
  }
  if (!sc_node_fits_nomem(rep, sh))
    score = SCORE_NOFIT;
  else if (s->policy->score)
    score = s->policy->score(rep, sh, &s->ctx);
  else
    score = 0;
  if (slot)
    *slot = (int16_t)score;
  return score;
}

/* Random policy: a uniformly random feasible node, classes in live order and
 * members in rank order. One feasible node is taken without a draw. */
static int pick_uniform(struct sc_sched *s, const struct sc_shape *sh, struct sc_rng *rng)
{
  int64_t total = 0, target;

  for (int i = 0; i < s->nlive; i++) {
    const struct sc_class *c = &s->classes[s->live[i]];
    if (c->key.mem_left >= sh->mem && class_score(s, s->live[i], sh) >= 0)
      total += c->nmembers;
  }
  if (total == 0)
    return -1;
  target = total == 1 ? 0 : sc_rng_intn(rng, (int32_t)total);
  for (int i = 0; i < s->nlive; i++) {
    const struct sc_class *c = &s->classes[s->live[i]];
    if (c->key.mem_left < sh->mem || class_score(s, s->live[i], sh) < 0)
      continue;
    if (target < c->nmembers)
      return c->members[target];
    target -= c->nmembers;
  }
  return -1;
}

static int pick_best(struct sc_sched *s, const struct sc_shape *sh)
{
  int best_node = -1, best_score = -1;
  uint32_t best_rank = UINT32_MAX;

  for (int i = 0; i < s->nlive; i++) {
    int id = s->live[i], score, node;
    const struct sc_class *c = &s->classes[id];
    if (c->key.mem_left < sh->mem)
      continue;
    score = class_score(s, id, sh);
    if (score < 0 || score < best_score)
      continue;
    node = c->members[0];
    if (score > best_score || s->cluster->nodes[node].rank < best_rank) {
      best_score = score;
      best_node = node;
      best_rank = s->cluster->nodes[node].rank;
    }
  }
  return best_node;
}

int sc_sched_pick(struct sc_sched *s, const struct sc_shape *sh, struct sc_rng *rng,
                  struct sc_placement *p)
{
  int node;

  memset(p, 0, sizeof *p);
  p->node = -1;
  if (sh->gpu_count < 0 || sh->gpu_count > SC_MAX_GPUS || sh->gpu_milli < 0 ||
      sh->gpu_milli > SC_MILLI || (sh->gpu_milli > 0) != (sh->gpu_count > 0))
    return SC_EINVAL;
  node = (s->policy->flags & SC_POLICY_UNIFORM) ? pick_uniform(s, sh, rng)
                                                : pick_best(s, sh);
  if (node < 0)
    return SC_ENOFIT;
  sc_policy_choose_devices(s->policy, &s->cluster->nodes[node], node, sh, &s->ctx, rng, p);
  return 0;
}

/* Moves node out of its class, applies fn to it, and indexes it again. */
static void node_update(struct sc_sched *s, const struct sc_shape *sh,
                        const struct sc_placement *p, bool apply)
{
  struct sc_node *n = &s->cluster->nodes[p->node];
  int old = n->klass, rc;

  assert(old >= 0);
  frag_add(s, old, -1);
  member_remove(s, old, p->node);
  if (apply) {
    sc_node_apply(n, sh, p);
    s->gpu_used_milli += (int64_t)p->ndev * sh->gpu_milli;
  } else {
    sc_node_unapply(n, sh, p);
    s->gpu_used_milli -= (int64_t)p->ndev * sh->gpu_milli;
  }
  rc = node_index(s, p->node);
  /* Out of memory here would leave the node unindexed; the index keeps
   * room for every node (classes <= nodes + 1), so only a failed class
   * member array growth can fail, which we cannot recover from. */
  assert(rc == 0);
  (void)rc;
}

void sc_sched_commit(struct sc_sched *s, const struct sc_shape *sh,
                     const struct sc_placement *p)
{
  node_update(s, sh, p, true);
}

void sc_sched_uncommit(struct sc_sched *s, const struct sc_shape *sh,
                       const struct sc_placement *p)
{
  node_update(s, sh, p, false);
}

int sc_sched_place_gang(struct sc_sched *s, const struct sc_shape *shapes, int n,
                        struct sc_rng *rng, struct sc_placement *p)
{
  for (int i = 0; i < n; i++) {
    int rc = sc_sched_pick(s, &shapes[i], rng, &p[i]);
    if (rc < 0) {
      while (i-- > 0)
        sc_sched_uncommit(s, &shapes[i], &p[i]);
      for (int k = 0; k < n; k++)
        p[k].node = -1;
      return rc;
    }
    sc_sched_commit(s, &shapes[i], &p[i]);
  }
  return 0;
}

void sc_sched_frag(const struct sc_sched *s, double out[SC_FRAG_NCLASS])
{
  memcpy(out, s->frag_total, sizeof s->frag_total);
}

int64_t sc_sched_gpu_used_milli(const struct sc_sched *s)
{
  return s->gpu_used_milli;
}

size_t sc_sched_nclasses(const struct sc_sched *s)
{
  return (size_t)s->nlive;
}

int sc_sched_check(const struct sc_sched *s)
{
  size_t members = 0;

  for (size_t i = 0; i < s->cluster->nnodes; i++) {
    const struct sc_node *n = &s->cluster->nodes[i];
    struct class_key k;
    if (sc_node_check(n) < 0 || n->klass < 0 || n->klass >= s->nclasses)
      return SC_ESTATE;
    key_of(s, n, &k);
    if (memcmp(&k, &s->classes[n->klass].key, sizeof k) != 0)
      return SC_ESTATE;
  }
  for (int i = 0; i < s->nlive; i++) {
    const struct sc_class *c = &s->classes[s->live[i]];
    if (c->live_pos != i || c->nmembers <= 0)
      return SC_ESTATE;
    for (int m = 1; m < c->nmembers; m++)
      if (s->cluster->nodes[c->members[m - 1]].rank >= s->cluster->nodes[c->members[m]].rank)
        return SC_ESTATE;
    members += (size_t)c->nmembers;
  }
  return members == s->cluster->nnodes ? 0 : SC_ESTATE;
}
