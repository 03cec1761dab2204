/*
 * Leader election (lease.h): the state machine, then the thread that runs
 * it against the store. Safety does not rest on timing: a takeover bumps
 * the epoch and every commit of the deposed leader is fenced by it (the
 * database refuses it). The timers only make a leader step down soon
 * enough (it stops serving once it cannot be sure it still holds the
 * lease) and a standby take over soon after the lease lapses.
 */
#include "server/lease.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define RETRY_MAX_MS 500      /* a failed look or renewal is tried again within */
#define LAPSE_MARGIN_MS 5     /* a standby looks this long after the expected lapse */

/* ---- the state machine ---- */

static int64_t third(const struct sc_lease_state *st)
{
  return st->lease_ms / 3 > 1 ? st->lease_ms / 3 : 1;
}

static int64_t retry_in(const struct sc_lease_state *st)
{
  return third(st) < RETRY_MAX_MS ? third(st) : RETRY_MAX_MS;
}

static bool leading(const struct sc_lease_state *st)
{
  return st->role == SC_LEASE_TAKING_OVER || st->role == SC_LEASE_LEADER;
}

void sc_lease_state_init(struct sc_lease_state *st, int64_t lease_ms, int64_t now)
{
  memset(st, 0, sizeof *st);
  st->lease_ms = lease_ms > 0 ? lease_ms : 1;
  st->role = SC_LEASE_STANDBY;
  st->next_ms = now;
}

void sc_lease_acquired(struct sc_lease_state *st, int64_t sent, int64_t now, int rc, bool won,
                       const struct sc_store_lease *row)
{
  int64_t lapse;

  if (st->role != SC_LEASE_STANDBY)
    return;
  if (rc < 0) { /* the database did not answer: look again soon */
    st->next_ms = now + retry_in(st);
    return;
  }
  st->seen = *row;
  st->seen_ms = now;
  if (won) {
    st->role = SC_LEASE_TAKING_OVER;
    st->epoch = row->epoch;
    st->confirmed_ms = sent;
    st->next_ms = sent + third(st);
    return;
  }
  /* Held by another: look again every third of our lease, or just after
   * it would lapse if that comes first (a takeover that soon after). */
  lapse = row->lease_ms - row->age_ms + LAPSE_MARGIN_MS;
  st->next_ms = now + (lapse < third(st) ? (lapse > 1 ? lapse : 1) : third(st));
}

void sc_lease_renewed(struct sc_lease_state *st, int64_t sent, int64_t now, int rc)
{
  if (!leading(st))
    return;
  if (rc == 0) {
    if (sent > st->confirmed_ms)
      st->confirmed_ms = sent;
    st->next_ms = sent + third(st);
  } else if (rc == SC_ESTATE) {
    st->role = SC_LEASE_DEPOSED;
    snprintf(st->why, sizeof st->why,
             "another controller took the lease (our epoch %lld is over)", (long long)st->epoch);
  } else {
    st->next_ms = now + retry_in(st);
  }
}

bool sc_lease_expire(struct sc_lease_state *st, int64_t now)
{
  if (!leading(st) || now - st->confirmed_ms < st->lease_ms)
    return false;
  st->role = SC_LEASE_DEPOSED;
  snprintf(st->why, sizeof st->why,
           "no renewal of the lease (epoch %lld) confirmed for %lld ms, its whole duration:"
           " another controller may lead",
           (long long)st->epoch, (long long)(now - st->confirmed_ms));
  return true;
}

void sc_lease_fenced(struct sc_lease_state *st, int64_t epoch)
{
  if (!leading(st) || epoch != st->epoch)
    return;
  st->role = SC_LEASE_DEPOSED;
  snprintf(st->why, sizeof st->why,
           "a commit was fenced: the database's lease epoch is no longer %lld",
           (long long)epoch);
}

int64_t sc_lease_due(const struct sc_lease_state *st)
{
  int64_t end = st->confirmed_ms + st->lease_ms;

  return leading(st) && end < st->next_ms ? end : st->next_ms;
}

bool sc_lease_leader(const struct sc_lease_state *st, int64_t now, char *url, size_t size)
{
  const struct sc_store_lease *s = &st->seen;

  if (size)
    url[0] = '\0';
  if (st->seen_ms <= 0 || s->epoch <= 0 || !s->holder[0] ||
      s->age_ms + (now - st->seen_ms) >= s->lease_ms)
    return false;
  snprintf(url, size, "%s", s->holder);
  return true;
}

/* ---- the thread ---- */

struct sc_lease {
  struct sc_store *store;
  char url[SC_STORE_URL_MAX];
  char id[SC_STORE_HOLDER_ID_MAX];
  void (*deposed)(void *arg, const char *why);
  void *arg;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cond;          /* monotonic: the thread's timer, role changes */
  struct sc_lease_state st;     /* guarded by mu */
  bool stop;                    /* guarded by mu */
  bool told;                    /* deposed was called (guarded by mu) */
  bool started;                 /* the thread runs (its owner's) */
};

/* Tells the owner once that it must step down (mu held on entry and on
 * return; the call itself runs unlocked: it may end the process). */
static void tell_deposed(struct sc_lease *l)
{
  char why[sizeof l->st.why];

  if (l->told)
    return;
  l->told = true;
  memcpy(why, l->st.why, sizeof why);
  pthread_cond_broadcast(&l->cond);
  pthread_mutex_unlock(&l->mu);
  sc_error("lease: stepping down: %s", why);
  if (l->deposed)
    l->deposed(l->arg, why);
  pthread_mutex_lock(&l->mu);
}

static void on_fenced(void *arg, int64_t epoch)
{
  struct sc_lease *l = arg;

  pthread_mutex_lock(&l->mu);
  sc_lease_fenced(&l->st, epoch);
  if (l->st.role == SC_LEASE_DEPOSED)
    tell_deposed(l);
  pthread_mutex_unlock(&l->mu);
}

/* One look at the database for role (unlocked): an acquire for a standby,
 * a renewal for a leader; the outcome goes into the state (locked). */
static void look(struct sc_lease *l, int role, int64_t epoch)
{
  struct sc_store_lease_req req = {l->url, l->id, l->st.lease_ms, third(&l->st)};
  struct sc_store_lease row;
  int64_t sent = sc_clock_mono_ms(), wait_ms = req.wait_ms;
  bool won = false;
  int rc;

  pthread_mutex_unlock(&l->mu);
  if (role == SC_LEASE_STANDBY) {
    rc = sc_store_pg_lease_acquire(l->store, &req, &row, &won);
    if (rc == 0 && won) /* every commit from now on checks our epoch */
      rc = sc_store_pg_fence(l->store, row.epoch);
  } else {
    rc = sc_store_pg_lease_renew(l->store, epoch, wait_ms);
  }
  pthread_mutex_lock(&l->mu);
  if (role == SC_LEASE_STANDBY) {
    sc_lease_acquired(&l->st, sent, sc_clock_mono_ms(), rc, won, &row);
    if (l->st.role == SC_LEASE_TAKING_OVER) {
      sc_info("lease: won the lease (epoch %lld, %lld ms): taking over", (long long)row.epoch,
              (long long)l->st.lease_ms);
      pthread_cond_broadcast(&l->cond);
    }
  } else {
    sc_lease_renewed(&l->st, sent, sc_clock_mono_ms(), rc);
  }
}

static void *lease_main(void *arg)
{
  struct sc_lease *l = arg;

  pthread_mutex_lock(&l->mu);
  while (!l->stop) {
    int64_t now = sc_clock_mono_ms();
    if (sc_lease_expire(&l->st, now) || l->st.role == SC_LEASE_DEPOSED) {
      tell_deposed(l);
      /* Nothing more to do but wait for the owner, which ends the
       * process (the thread lives on till then) or stops it. */
      while (!l->stop)
        pthread_cond_wait(&l->cond, &l->mu);
      break;
    }
    if (now < sc_lease_due(&l->st)) {
      struct timespec ts = sc_clock_timespec(sc_lease_due(&l->st));
      pthread_cond_timedwait(&l->cond, &l->mu, &ts);
      continue;
    }
    look(l, l->st.role, l->st.epoch);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

int sc_lease_new(const struct sc_lease_opts *o, struct sc_lease **out)
{
  struct sc_lease *l = calloc(1, sizeof *l);

  *out = NULL;
  if (!l)
    return SC_ENOMEM;
  l->store = o->store;
  snprintf(l->url, sizeof l->url, "%s", o->url ? o->url : "");
  snprintf(l->id, sizeof l->id, "%s", o->id);
  l->deposed = o->deposed;
  l->arg = o->arg;
  sc_lease_state_init(&l->st, o->lease_ms, sc_clock_mono_ms());
  pthread_mutex_init(&l->mu, NULL);
  if (sc_clock_cond_init(&l->cond) != 0) {
    pthread_mutex_destroy(&l->mu);
    free(l);
    return SC_ENOMEM;
  }
  *out = l;
  return 0;
}

int sc_lease_run(struct sc_lease *l, const char *url)
{
  if (url && *url)
    snprintf(l->url, sizeof l->url, "%s", url);
  sc_store_pg_on_fenced(l->store, on_fenced, l);
  if (pthread_create(&l->thread, NULL, lease_main, l) != 0) {
    sc_store_pg_on_fenced(l->store, NULL, NULL);
    return SC_ENOMEM;
  }
  l->started = true;
  return 0;
}

int sc_lease_wait(struct sc_lease *l, int64_t timeout_ms, int64_t *epoch)
{
  struct timespec ts = sc_clock_mono_after(timeout_ms);
  int role;

  pthread_mutex_lock(&l->mu);
  while (l->st.role == SC_LEASE_STANDBY && !l->stop)
    if (pthread_cond_timedwait(&l->cond, &l->mu, &ts) == ETIMEDOUT)
      break;
  role = l->st.role;
  if (epoch)
    *epoch = l->st.epoch;
  pthread_mutex_unlock(&l->mu);
  return role;
}

bool sc_lease_serving(struct sc_lease *l)
{
  bool ok;

  pthread_mutex_lock(&l->mu);
  ok = l->st.role == SC_LEASE_TAKING_OVER;
  if (ok)
    l->st.role = SC_LEASE_LEADER;
  pthread_mutex_unlock(&l->mu);
  return ok;
}

void sc_lease_view(struct sc_lease *l, struct sc_lease_view *out)
{
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&l->mu);
  out->role = l->st.role;
  if (leading(&l->st)) {
    out->epoch = l->st.epoch;
    snprintf(out->leader, sizeof out->leader, "%s", l->url);
  } else {
    out->epoch = l->st.seen.epoch;
    sc_lease_leader(&l->st, sc_clock_mono_ms(), out->leader, sizeof out->leader);
  }
  pthread_mutex_unlock(&l->mu);
}

void sc_lease_check(struct sc_lease *l)
{
  pthread_mutex_lock(&l->mu);
  if (sc_lease_expire(&l->st, sc_clock_mono_ms()))
    tell_deposed(l);
  pthread_mutex_unlock(&l->mu);
}

const char *sc_lease_url(const struct sc_lease *l)
{
  return l->url;
}

void sc_lease_stop(struct sc_lease *l, bool release)
{
  int64_t epoch = 0;

  if (!l)
    return;
  pthread_mutex_lock(&l->mu);
  l->stop = true;
  if (leading(&l->st))
    epoch = l->st.epoch;
  pthread_cond_broadcast(&l->cond);
  pthread_mutex_unlock(&l->mu);
  if (l->started) {
    pthread_join(l->thread, NULL);
    sc_store_pg_on_fenced(l->store, NULL, NULL);
  }
  if (release && epoch > 0 && sc_store_pg_lease_release(l->store, epoch) == 0)
    sc_info("lease: gave the lease (epoch %lld) up", (long long)epoch);
  pthread_cond_destroy(&l->cond);
  pthread_mutex_destroy(&l->mu);
  free(l);
}
