/*
 * Dependencies between jobs (after: ok | any | notok, Slurm's afterok,
 * afterany, afternotok). A dependency names a job, an array (all its
 * elements) or one element; it is resolved once, against the store, into
 * a range of job ids (an array's elements have consecutive ids). A waiting
 * job counts, per range, the jobs not yet ended; each job that ends (an
 * event of ctl_state.c) settles the ranges holding it. A job that ended
 * the wrong way (ok: anything but succeeded; notok: succeeded) can never
 * satisfy it: the waiter is doomed, and ctl_state.c cancels it with reason
 * SC_CTL_DEP_NEVER, which may doom others in turn.
 */
#include "server/ctl_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/vec.h"

/* The ids an array's first element row stands for: its element count. */
static int array_size(const struct sc_job_rec *head)
{
  json_t *spec = json_loads(head->spec ? head->spec : "{}", 0, NULL);
  const char *text = json_string_value(json_object_get(spec, "array"));
  struct sc_spec_error err;
  int max, n = text ? sc_spec_array_indices(text, NULL, 0, &max, &err) : 1;

  json_decref(spec);
  return n > 0 ? n : 1;
}

static int resolve_one(struct sc_store *store, const struct sc_spec_dep *d, const char *tenant,
                       struct ctl_dep *out, char *msg, size_t size)
{
  struct sc_job_rec head, *el = NULL;
  int rc = sc_store_job_head(store, d->job, &head), n = 0;

  if (rc == SC_ENOENT || (rc == 0 && strcmp(head.tenant, tenant) != 0)) {
    snprintf(msg, size, "no job j-%06lld", (long long)d->job);
    rc = SC_EINVAL;
  } else if (rc == 0 && d->index >= 0 && head.array_id != head.id) {
    snprintf(msg, size, "j-%06lld is not an array", (long long)d->job);
    rc = SC_EINVAL;
  } else if (rc == 0 && d->index >= 0) {
    struct sc_job_filter f = {.state = -1, .after = head.id - 1, .limit = 1, .summary = true,
                              .array_id = head.id, .array_index = d->index};
    rc = sc_store_job_list(store, &f, &el, &n);
    if (rc == 0 && n == 0) {
      snprintf(msg, size, "array j-%06lld has no index %d", (long long)d->job, d->index);
      rc = SC_EINVAL;
    }
    if (rc == 0)
      out->lo = out->hi = el[0].id;
    sc_store_free_jobs(el, n);
  } else if (rc == 0) {
    out->lo = head.id;
    out->hi = head.array_id == head.id ? head.id + array_size(&head) - 1 : head.id;
  }
  out->type = d->type;
  out->left = 0;
  sc_job_rec_release(&head);
  return rc;
}

int ctl_deps_resolve(struct sc_ctl *c, const struct sc_job_spec *spec, struct ctl_dep *out,
                     char *msg, size_t size)
{
  int rc = 0;

  for (int i = 0; rc == 0 && i < spec->ndeps; i++) {
    char name[64];
    rc = resolve_one(c->store, &spec->deps[i], spec->tenant, &out[i], msg, size);
    if (rc == SC_EINVAL) { /* name the dependency as the user wrote it */
      char why[160];
      snprintf(why, sizeof why, "%s", msg);
      sc_spec_dep_format(&spec->deps[i], name, sizeof name);
      snprintf(msg, size, "after %s: %s", name, why);
    }
  }
  return rc;
}

int sc_ctl_deps_check(struct sc_ctl *c, const struct sc_job_spec *spec, char *msg, size_t size)
{
  struct ctl_dep deps[SC_SPEC_MAX_DEPS];

  return ctl_deps_resolve(c, spec, deps, msg, size);
}

/* Whether a job that ended in state satisfies a dependency of type. */
static bool outcome_ok(int type, int state)
{
  if (type == SC_DEP_OK)
    return state == SC_JOB_SUCCEEDED;
  if (type == SC_DEP_NOTOK)
    return state == SC_JOB_FAILED || state == SC_JOB_CANCELLED;
  return true;
}

/* Queues waiter j to be cancelled (once). */
static void doom(struct sc_ctl *c, struct ctl_job *j)
{
  if (j->dep_never)
    return;
  j->dep_never = true;
  if (SC_VEC_RESERVE_ONE(c->doomed, c->ndoomed, c->capdoomed) == 0)
    c->doomed[c->ndoomed++] = j->id;
  /* out of memory: it stays pending, its reason says why */
}

/* The states of jobs lo..hi as stored, by id (one read; *rows freed by
 * the caller with sc_store_free_jobs). */
static int stored_states(struct sc_ctl *c, int64_t lo, int64_t hi, struct sc_job_rec **rows,
                         int *n)
{
  struct sc_job_filter f = {.state = -1, .after = lo - 1, .limit = (int)(hi - lo + 1),
                            .summary = true, .array_index = -1};

  return sc_store_job_list(c->store, &f, rows, n);
}

/* The state of job id: from memory, else (it ended and was dropped once
 * durable) from rows, the stored range; -1 when unknown. */
static int state_of(struct sc_ctl *c, int64_t id, const struct sc_job_rec *rows, int n)
{
  const struct ctl_job *x = ctl_job_find(c, id);
  int lo = 0, hi = n - 1;

  if (x)
    return x->state;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (rows[mid].id == id)
      return rows[mid].state;
    if (rows[mid].id < id)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return -1;
}

int ctl_deps_attach(struct sc_ctl *c, struct ctl_job *j, const struct ctl_dep *deps, int n)
{
  if (n == 0)
    return 0;
  if (!(j->deps = calloc((size_t)n, sizeof *j->deps)))
    return SC_ENOMEM;
  memcpy(j->deps, deps, (size_t)n * sizeof *deps);
  j->ndeps = n;
  c->ndep_jobs++;
  for (int i = 0; i < n; i++) {
    struct ctl_dep *d = &j->deps[i];
    struct sc_job_rec *rows = NULL;
    int nrows = 0;
    bool all_here = true;
    for (int64_t id = d->lo; id <= d->hi && all_here; id++)
      all_here = ctl_job_find(c, id) != NULL;
    if (!all_here && stored_states(c, d->lo, d->hi, &rows, &nrows) < 0) {
      sc_store_free_jobs(rows, 0);
      return SC_ESTORE;
    }
    d->left = 0;
    for (int64_t id = d->lo; id <= d->hi; id++) {
      int state = state_of(c, id, rows, nrows);
      if (state >= 0 && !sc_job_state_final(state))
        d->left++;
      else if (state < 0 || !outcome_ok(d->type, state))
        doom(c, j);
    }
    sc_store_free_jobs(rows, nrows);
    if (d->left > 0)
      j->deps_left++;
  }
  return 0;
}

void ctl_deps_final(struct sc_ctl *c, const struct ctl_job *x)
{
  if (c->ndep_jobs == 0)
    return;
  for (int i = 0; i < c->njobs; i++) {
    struct ctl_job *j = c->jobs[i];
    if (j->deps_left == 0 || j->state != SC_JOB_PENDING)
      continue;
    for (int k = 0; k < j->ndeps; k++) {
      struct ctl_dep *d = &j->deps[k];
      if (d->left == 0 || x->id < d->lo || x->id > d->hi)
        continue;
      if (!outcome_ok(d->type, x->state))
        doom(c, j);
      if (--d->left == 0 && --j->deps_left == 0) {
        c->dirty = c->full = true; /* it may run now */
        pthread_cond_signal(&c->sched_cond);
      }
    }
  }
}

struct ctl_job *ctl_deps_next_doomed(struct sc_ctl *c)
{
  while (c->ndoomed > 0) {
    struct ctl_job *j = ctl_job_find(c, c->doomed[--c->ndoomed]);
    if (j && j->state == SC_JOB_PENDING)
      return j;
  }
  return NULL;
}
