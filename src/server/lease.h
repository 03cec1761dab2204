/*
 * Leader election for controllers that share one PostgreSQL store
 * (docs/operations.md, "Standby controllers (HA)"). A thread per
 * controller takes the lease when it lapses (store/pg_lease.c: an epoch
 * bump in one transaction, timed by the database's clock), renews it every
 * third of its duration while leading, and says when this controller must
 * step down: another took the lease, a commit was fenced, or no renewal
 * was confirmed within the lease. The decisions are a small state machine
 * (struct sc_lease_state) that takes time as an argument, so tests drive
 * it without clocks.
 */
#ifndef SC_SERVER_LEASE_H
#define SC_SERVER_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum sc_lease_role {
  SC_LEASE_STANDBY,     /* another leads, or none: clients are sent on */
  SC_LEASE_TAKING_OVER, /* the lease is ours: rebuilding from the store */
  SC_LEASE_LEADER,      /* serving */
  SC_LEASE_DEPOSED,     /* must stop at once: the lease is another's or lapsed */
};

/* What one controller knows of the lease. Times are monotonic ms. */
struct sc_lease_state {
  int64_t lease_ms;             /* ours */
  int role;                     /* enum sc_lease_role */
  int64_t epoch;                /* ours, once won */
  int64_t confirmed_ms;         /* when the last acquire or renewal that
                                   succeeded was sent: the database's lease
                                   runs at least lease_ms from then */
  int64_t next_ms;              /* the next acquire (standby) or renewal */
  struct sc_store_lease seen;   /* the row as the last acquire saw it */
  int64_t seen_ms;              /* when that reply came; 0: never */
  char why[200];                /* deposed: why */
};

/* A standby of lease lease_ms that looks first at now. */
void sc_lease_state_init(struct sc_lease_state *st, int64_t lease_ms, int64_t now);
/* An acquire sent at sent came back at now with rc (0 or an error), won
 * and row (the lease after it). Won: role TAKING_OVER with row's epoch. */
void sc_lease_acquired(struct sc_lease_state *st, int64_t sent, int64_t now, int rc, bool won,
                       const struct sc_store_lease *row);
/* A renewal sent at sent came back at now with rc: 0 (renewed), SC_ESTATE
 * (the epoch moved on: deposed) or another error (retried soon). */
void sc_lease_renewed(struct sc_lease_state *st, int64_t sent, int64_t now, int rc);
/* Leading (taking over or leader) with no renewal confirmed for lease_ms
 * by now: the database may have given the lease to another. Deposes st
 * and returns true. */
bool sc_lease_expire(struct sc_lease_state *st, int64_t now);
/* A commit of epoch was fenced: deposes st when epoch is its own. */
void sc_lease_fenced(struct sc_lease_state *st, int64_t epoch);
/* When the thread must look again: the next acquire or renewal, or,
 * leading, the end of the confirmed lease if that comes first. */
int64_t sc_lease_due(const struct sc_lease_state *st);
/* The leader a standby names: the holder's URL into url while its lease
 * is live as of the last look (its age then plus the time since), else
 * false (none, or it lapsed: a takeover is coming). */
bool sc_lease_leader(const struct sc_lease_state *st, int64_t now, char *url, size_t size);

/* ---- the election thread ---- */

struct sc_lease_opts {
  struct sc_store *store;       /* borrowed; PostgreSQL */
  const char *url;              /* the URL this controller advertises */
  const char *id;               /* its identity (its state directory's) */
  int64_t lease_ms;
  /* Called once when it must step down (from the election thread or the
   * store's writer thread): log and end the process, or stop serving. */
  void (*deposed)(void *arg, const char *why);
  void *arg;
};

struct sc_lease;

/* What clients are told: the role, the epoch (ours when leading), the
 * leader's URL (ours when leading; "" none known). */
struct sc_lease_view {
  int role;
  int64_t epoch;
  char leader[SC_STORE_URL_MAX];
};

/* Makes an election for o (copies its strings; o->url may be "" until
 * sc_lease_run): a standby that knows no leader yet. 0 or SC_ENOMEM. */
int sc_lease_new(const struct sc_lease_opts *o, struct sc_lease **out);
/* Starts the election thread with this controller's advertised url (""
 * keeps o->url); from then on the store's fenced commits make it step
 * down. 0 or SC_ENOMEM. */
int sc_lease_run(struct sc_lease *l, const char *url);
/* Waits up to timeout_ms for the role to be other than STANDBY; returns
 * the role (the epoch into *epoch when not NULL). */
int sc_lease_wait(struct sc_lease *l, int64_t timeout_ms, int64_t *epoch);
/* The takeover is done: TAKING_OVER becomes LEADER (false when it was
 * deposed meanwhile). */
bool sc_lease_serving(struct sc_lease *l);
void sc_lease_view(struct sc_lease *l, struct sc_lease_view *out);
/* Steps down (calls deposed) when leading with no renewal confirmed for
 * the whole lease: for another thread to call now and then, since the
 * election thread may be stuck in a call to a database that stopped
 * answering. */
void sc_lease_check(struct sc_lease *l);
/* This controller's advertised URL. */
const char *sc_lease_url(const struct sc_lease *l);
/* Stops the thread (if it runs) and frees l; a leader gives the lease up first when
 * release is true (its commits are over: a standby takes over at its next
 * look instead of after the lease). */
void sc_lease_stop(struct sc_lease *l, bool release);

#endif
