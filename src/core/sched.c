/*
 * Placement engine over equivalence classes of node states. Invariants:
 * every node of the cluster is a member of exactly the class whose key is
 * its state (per model, on a node of several); a class is live iff it has
 * members; members are sorted by rank; a cached score is valid for the class
 * key, which never changes while the class lives; gpu_used_milli is the
 * cluster's devices' use.
 */
#include "core/sched.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#include "core/banned.h"

#define SCORE_UNKNOWN (-2)
#define SCORE_NOFIT SC_POLICY_NOFIT

/* Live positions are grouped in blocks. Per shape and block the engine
 * keeps an upper bound of the block's best key (score, then lowest rank,
 * packed by entry_key), so a decision skips blocks that cannot beat the best
 * found so far. Unscored entries count as the largest key. */
#define BLOCK 64
#define KEY_UNKNOWN UINT64_MAX

/* Node state as far as feasibility (but memory order) and scores go. On a
 * node of several models each share carries its device's model id above
 * bit MODEL_SHIFT, so sorting groups them by model: the key is then the
 * multiset of free shares per model. */
#define MODEL_SHIFT 10
_Static_assert(SC_MILLI < (1 << MODEL_SHIFT) && SC_MAX_MODELS <= (1 << (16 - MODEL_SHIFT)),
               "a share and a model id fit 16 bits");

struct class_key {
  int64_t cpu_left;
  int64_t mem_left;
  uint32_t tags;
  int16_t model;
  int16_t gpu_count;
  uint16_t left_desc[SC_MAX_GPUS]; /* free shares, descending, zero padded */
  uint16_t region;                 /* residency: nodes of other regions are
                                      never interchangeable */
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
  /* Live classes by position, scanned by pick: kept as parallel arrays so
   * the scan reads memory sequentially. */
  int *live;           /* class id */
  int64_t *live_mem;   /* its free memory */
  uint32_t *live_rank; /* its best (lowest) member rank */
  int nlive;
  int *slots;          /* open-addressing hash: class id or -1 */
  size_t nslots;
  int16_t *scores;     /* score cache: [shape * cap + live position] */
  uint64_t *bound;     /* per shape and block: >= every entry's key */
  int64_t *block_mem;  /* per block: >= every entry's free memory */
  double frag_total[SC_FRAG_NCLASS];
  int64_t gpu_used_milli;
  bool broken;         /* a gang could not be undone (out of memory) */
};

static void key_of(const struct sc_sched *s, const struct sc_node *n, struct class_key *k)
{
  memset(k, 0, sizeof *k);
  k->cpu_left = n->cpu_left;
  k->mem_left = n->mem_left;
  k->tags = (s->policy->flags & SC_POLICY_TAGS) ? n->tags : 0;
  k->model = (int16_t)n->model;
  k->gpu_count = (int16_t)n->gpu_count;
  k->region = n->region;
  for (int i = 0; i < n->gpu_count; i++) {
    uint16_t v = (uint16_t)n->gpu_left[i];
    int j = i;
    if (n->model == SC_MODEL_MIXED)
      v |= (uint16_t)(n->dev_model[i] << MODEL_SHIFT);
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

/* Grows *field to n elements of size bytes; on failure it is unchanged. */
static int grow_array(void *field, size_t n, size_t size)
{
  void *old, *p;

  memcpy(&old, field, sizeof old);
  if (!(p = realloc(old, n * size)))
    return SC_ENOMEM;
  memcpy(field, &p, sizeof p);
  return 0;
}

/*
 * Doubles the class capacity and every array sized by it, all or nothing:
 * arrays indexed by class id or live position only get longer first (their
 * content stays valid at the old capacity), then the score cache and the
 * block bounds, whose rows are laid out by capacity, are built anew and
 * switched in together with the new capacity.
 */
static int grow(struct sc_sched *s)
{
  int cap = s->cap ? s->cap * 2 : 256;
  size_t nb = (size_t)cap / BLOCK, old_nb = (size_t)s->cap / BLOCK, nsh = (size_t)s->nshapes;
  int16_t *scores = NULL;
  uint64_t *bound = NULL;

  if (grow_array(&s->classes, (size_t)cap, sizeof *s->classes) < 0 ||
      grow_array(&s->free_ids, (size_t)cap, sizeof *s->free_ids) < 0 ||
      grow_array(&s->live, (size_t)cap, sizeof *s->live) < 0 ||
      grow_array(&s->live_mem, (size_t)cap, sizeof *s->live_mem) < 0 ||
      grow_array(&s->live_rank, (size_t)cap, sizeof *s->live_rank) < 0)
    return SC_ENOMEM;
  if (nsh > 0) {
    if (grow_array(&s->block_mem, nb, sizeof *s->block_mem) < 0)
      return SC_ENOMEM;
    scores = malloc((size_t)cap * nsh * sizeof *scores);
    bound = malloc(nb * nsh * sizeof *bound);
    if (!scores || !bound) {
      free(scores);
      free(bound);
      return SC_ENOMEM;
    }
    for (size_t sh = 0; sh < nsh; sh++) {
      if (s->scores)
        memcpy(&scores[sh * (size_t)cap], &s->scores[sh * (size_t)s->cap],
               (size_t)s->nlive * sizeof *scores);
      for (size_t b = 0; b < nb; b++)
        bound[sh * nb + b] = b < old_nb ? s->bound[sh * old_nb + b] : KEY_UNKNOWN;
    }
    for (size_t b = old_nb; b < nb; b++)
      s->block_mem[b] = INT64_MAX;
    free(s->scores);
    free(s->bound);
    s->scores = scores;
    s->bound = bound;
  }
  s->cap = cap;
  return 0;
}

static int16_t *score_slot(const struct sc_sched *s, int shape, int pos)
{
  return &s->scores[(size_t)shape * (size_t)s->cap + (size_t)pos];
}

static uint64_t *bound_slot(const struct sc_sched *s, int shape, int pos)
{
  return &s->bound[(size_t)shape * ((size_t)s->cap / BLOCK) + (size_t)pos / BLOCK];
}

/* Orders candidates: higher score first, then lower rank; 0 = no fit. */
static uint64_t entry_key(int score, uint32_t rank)
{
  if (score == SCORE_UNKNOWN)
    return KEY_UNKNOWN;
  if (score < 0)
    return 0;
  return ((uint64_t)(score + 1) << 32) | (UINT32_MAX - rank);
}

/* Raises the bounds of pos's block to cover the entry now at pos. */
static void bound_cover(struct sc_sched *s, int pos)
{
  int64_t *mem = &s->block_mem[pos / BLOCK];

  if (*mem < s->live_mem[pos])
    *mem = s->live_mem[pos];
  for (int sh = 0; sh < s->nshapes; sh++) {
    uint64_t key = entry_key(*score_slot(s, sh, pos), s->live_rank[pos]);
    uint64_t *b = bound_slot(s, sh, pos);
    if (*b < key)
      *b = key;
  }
}

static int class_alloc(struct sc_sched *s)
{
  int id;

  if (s->nfree > 0)
    return s->free_ids[--s->nfree];
  if (s->nclasses == s->cap && grow(s) < 0)
    return SC_ENOMEM;
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
  if ((size_t)(s->nlive + 1) * 2 > s->nslots) {
    if (slots_grow(s) < 0)
      return SC_ENOMEM;
    slot = slot_find(s, &k, h);
  }
  id = class_alloc(s);
  if (id < 0)
    return id;
  c = &s->classes[id];
  c->key = k;
  c->hash = h;
  c->nmembers = 0;
  c->live_pos = s->nlive;
  s->live[c->live_pos] = id;
  s->live_mem[c->live_pos] = n->mem_left;
  s->live_rank[c->live_pos] = UINT32_MAX;
  s->nlive++;
  s->slots[slot] = id;
  for (int i = 0; i < s->nshapes; i++)
    *score_slot(s, i, c->live_pos) = SCORE_UNKNOWN;
  if (s->nshapes > 0)
    bound_cover(s, c->live_pos);
  if (s->ctx.typical)
    sc_frag_node(n, s->ctx.typical, c->frag);
  return id;
}

static void class_kill(struct sc_sched *s, int id)
{
  struct sc_class *c = &s->classes[id];
  int pos = c->live_pos, last_pos = --s->nlive, last = s->live[last_pos];

  /* The last live class takes this position, with its cached scores. */
  s->live[pos] = last;
  s->live_mem[pos] = s->live_mem[last_pos];
  s->live_rank[pos] = s->live_rank[last_pos];
  for (int i = 0; i < s->nshapes; i++)
    *score_slot(s, i, pos) = *score_slot(s, i, last_pos);
  if (s->nshapes > 0 && pos != last_pos)
    bound_cover(s, pos);
  s->classes[last].live_pos = pos;
  c->live_pos = -1;
  slot_delete(s, slot_find(s, &c->key, c->hash));
  s->free_ids[s->nfree++] = id;
}

/* Position of the first member of c whose rank is >= rank. */
static int member_search(const struct sc_sched *s, const struct sc_class *c, uint32_t rank)
{
  int lo = 0, hi = c->nmembers;

  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (s->cluster->nodes[c->members[mid]].rank < rank)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* The best member of a live class changed: refresh its rank and bounds. */
static void best_member_changed(struct sc_sched *s, const struct sc_class *c)
{
  s->live_rank[c->live_pos] = s->cluster->nodes[c->members[0]].rank;
  if (s->nshapes > 0)
    bound_cover(s, c->live_pos);
}

/* Makes sure class id can take one more member without allocating. */
static int member_reserve(struct sc_sched *s, int id)
{
  struct sc_class *c = &s->classes[id];
  int cap = c->cap ? c->cap * 2 : 4;

  if (c->nmembers < c->cap)
    return 0;
  if (grow_array(&c->members, (size_t)cap, sizeof *c->members) < 0)
    return SC_ENOMEM;
  c->cap = cap;
  return 0;
}

static int member_add(struct sc_sched *s, int id, int node)
{
  struct sc_class *c = &s->classes[id];
  int lo;

  if (member_reserve(s, id) < 0)
    return SC_ENOMEM;
  lo = member_search(s, c, s->cluster->nodes[node].rank);
  memmove(&c->members[lo + 1], &c->members[lo], (size_t)(c->nmembers - lo) * sizeof(int));
  c->members[lo] = node;
  c->nmembers++;
  if (lo == 0)
    best_member_changed(s, c);
  s->cluster->nodes[node].klass = id;
  return 0;
}

static void member_remove(struct sc_sched *s, int id, int node)
{
  struct sc_class *c = &s->classes[id];
  int lo = member_search(s, c, s->cluster->nodes[node].rank);

  assert(lo < c->nmembers && c->members[lo] == node);
  memmove(&c->members[lo], &c->members[lo + 1], (size_t)(c->nmembers - lo - 1) * sizeof(int));
  c->nmembers--;
  s->cluster->nodes[node].klass = -1;
  if (c->nmembers == 0) {
    class_kill(s, id);
  } else if (lo == 0) {
    best_member_changed(s, c);
  }
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
  free(s->live_mem);
  free(s->live_rank);
  free(s->slots);
  free(s->scores);
  free(s->bound);
  free(s->block_mem);
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

/* Cached score of the live class at position pos for shape sh, SCORE_NOFIT
 * when sh cannot fit (memory aside); a node of several models scores its
 * best group (sc_policy_node_score). */
static int class_score(struct sc_sched *s, int pos, const struct sc_shape *sh)
{
  int16_t *slot = NULL;
  const struct sc_node *rep;
  int score;

  if (sh->id >= 0 && sh->id < s->nshapes) {
    slot = score_slot(s, sh->id, pos);
    if (*slot != SCORE_UNKNOWN)
      return *slot;
  }
  rep = &s->cluster->nodes[s->classes[s->live[pos]].members[0]];
  score = sc_policy_node_score(s->policy, rep, sh, &s->ctx);
  if (slot)
    *slot = (int16_t)score;
  return score;
}

/* Random policy: a uniformly random feasible node, classes in live order and
 * members in rank order. One feasible node is taken without a draw. */
static int pick_uniform(struct sc_sched *s, const struct sc_shape *sh, struct sc_rng *rng)
{
  int64_t total = 0, target;

  for (int i = 0; i < s->nlive; i++)
    if (s->live_mem[i] >= sh->mem && class_score(s, i, sh) >= 0)
      total += s->classes[s->live[i]].nmembers;
  if (total == 0)
    return -1;
  target = total == 1 ? 0 : sc_rng_intn(rng, (int32_t)total);
  for (int i = 0; i < s->nlive; i++) {
    const struct sc_class *c = &s->classes[s->live[i]];
    if (s->live_mem[i] < sh->mem || class_score(s, i, sh) < 0)
      continue;
    if (target < c->nmembers)
      return c->members[target];
    target -= c->nmembers;
  }
  return -1;
}

/* Highest score, then lowest rank, over every live class (shapes without a
 * cache slot). */
static int pick_best_scan(struct sc_sched *s, const struct sc_shape *sh)
{
  uint64_t best = 0;
  int best_pos = -1;

  for (int i = 0; i < s->nlive; i++) {
    uint64_t key;
    if (s->live_mem[i] < sh->mem)
      continue;
    key = entry_key(class_score(s, i, sh), s->live_rank[i]);
    if (key > best) {
      best = key;
      best_pos = i;
    }
  }
  return best_pos;
}

/* The same answer, skipping blocks whose bound cannot beat the best so far.
 * A scanned block gets its exact bound back. */
static int pick_best(struct sc_sched *s, const struct sc_shape *sh)
{
  uint64_t best = 0;
  int best_pos = -1;
  const int16_t *row;

  if (sh->id < 0 || sh->id >= s->nshapes)
    return pick_best_scan(s, sh);
  row = score_slot(s, sh->id, 0);
  for (int start = 0; start < s->nlive; start += BLOCK) {
    int end = start + BLOCK < s->nlive ? start + BLOCK : s->nlive;
    uint64_t *bound = bound_slot(s, sh->id, start), exact = 0;
    int64_t mem_max = INT64_MIN;
    if (s->block_mem[start / BLOCK] < sh->mem || *bound <= best)
      continue;
    for (int i = start; i < end; i++) {
      int score = row[i] == SCORE_UNKNOWN ? class_score(s, i, sh) : row[i];
      uint64_t key = entry_key(score, s->live_rank[i]);
      if (key > exact)
        exact = key;
      if (s->live_mem[i] > mem_max)
        mem_max = s->live_mem[i];
      if (key > best && s->live_mem[i] >= sh->mem) {
        best = key;
        best_pos = i;
      }
    }
    *bound = exact;
    s->block_mem[start / BLOCK] = mem_max;
  }
  return best_pos;
}

int sc_sched_pick(struct sc_sched *s, const struct sc_shape *sh, struct sc_rng *rng,
                  struct sc_placement *p)
{
  int node;

  memset(p, 0, sizeof *p);
  p->node = -1;
  if (s->broken)
    return SC_ENOMEM;
  if (sh->gpu_count < 0 || sh->gpu_count > SC_MAX_GPUS || sh->gpu_milli < 0 ||
      sh->gpu_milli > SC_MILLI || (sh->gpu_milli > 0) != (sh->gpu_count > 0))
    return SC_EINVAL;
  if (s->policy->flags & SC_POLICY_UNIFORM) {
    node = pick_uniform(s, sh, rng);
  } else {
    int pos = pick_best(s, sh);
    node = pos < 0 ? -1 : s->classes[s->live[pos]].members[0];
  }
  if (node < 0)
    return SC_ENOFIT;
  sc_policy_choose_devices(s->policy, &s->cluster->nodes[node], node, sh, &s->ctx, rng, p);
  return 0;
}

/*
 * Applies (or undoes) placement p on its node, all or nothing: the class of
 * the node's new state is found or made, with room for the node, before
 * anything changes, so running out of memory leaves the engine as it was.
 */
static int node_update(struct sc_sched *s, const struct sc_shape *sh,
                       const struct sc_placement *p, bool apply)
{
  struct sc_node *n = &s->cluster->nodes[p->node], next = *n;
  int old = n->klass, id;

  if (s->broken)
    return SC_ENOMEM;
  assert(old >= 0);
  if (apply)
    sc_node_apply(&next, sh, p);
  else
    sc_node_unapply(&next, sh, p);
  if ((id = class_for(s, &next)) < 0)
    return id;
  if (id != old && member_reserve(s, id) < 0) {
    if (s->classes[id].nmembers == 0)
      class_kill(s, id); /* made for this node alone */
    return SC_ENOMEM;
  }
  s->gpu_used_milli += (apply ? 1 : -1) * (int64_t)p->ndev * sh->gpu_milli;
  if (id == old) { /* the same state: nothing to move */
    *n = next;
    return 0;
  }
  frag_add(s, old, -1);
  member_remove(s, old, p->node);
  *n = next;
  frag_add(s, id, +1);
  return member_add(s, id, p->node); /* room reserved: cannot fail */
}

int sc_sched_commit(struct sc_sched *s, const struct sc_shape *sh,
                    const struct sc_placement *p)
{
  return node_update(s, sh, p, true);
}

int sc_sched_uncommit(struct sc_sched *s, const struct sc_shape *sh,
                      const struct sc_placement *p)
{
  return node_update(s, sh, p, false);
}

int sc_sched_place_gang(struct sc_sched *s, const struct sc_shape *shapes, int n,
                        struct sc_rng *rng, struct sc_placement *p)
{
  for (int i = 0; i < n; i++) {
    int rc = sc_sched_pick(s, &shapes[i], rng, &p[i]);
    if (rc == 0)
      rc = sc_sched_commit(s, &shapes[i], &p[i]);
    if (rc < 0) {
      while (i-- > 0)
        if (sc_sched_uncommit(s, &shapes[i], &p[i]) < 0)
          s->broken = true; /* cannot undo: the engine is unusable */
      for (int k = 0; k < n; k++)
        p[k].node = -1;
      return s->broken ? SC_ENOMEM : rc;
    }
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
  int64_t used = 0;

  if (s->broken)
    return SC_ESTATE;
  for (size_t i = 0; i < s->cluster->nnodes; i++) {
    const struct sc_node *n = &s->cluster->nodes[i];
    struct class_key k;
    used += (int64_t)n->gpu_count * SC_MILLI - sc_node_gpu_left(n);
    if (sc_node_check(n) < 0 || n->klass < 0 || n->klass >= s->nclasses)
      return SC_ESTATE;
    key_of(s, n, &k);
    if (memcmp(&k, &s->classes[n->klass].key, sizeof k) != 0)
      return SC_ESTATE;
  }
  for (int i = 0; i < s->nlive; i++) {
    const struct sc_class *c = &s->classes[s->live[i]];
    if (c->live_pos != i || c->nmembers <= 0 || s->live_mem[i] != c->key.mem_left ||
        s->live_rank[i] != s->cluster->nodes[c->members[0]].rank)
      return SC_ESTATE;
    for (int m = 1; m < c->nmembers; m++)
      if (s->cluster->nodes[c->members[m - 1]].rank >= s->cluster->nodes[c->members[m]].rank)
        return SC_ESTATE;
    members += (size_t)c->nmembers;
  }
  return members == s->cluster->nnodes && used == s->gpu_used_milli ? 0 : SC_ESTATE;
}
