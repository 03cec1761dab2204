/*
 * Job specs: validation of a POST /v1/jobs body into a typed spec and a
 * normalised JSON form (defaults filled, units resolved) that the store
 * keeps and that parses back to the same spec. Every rejection names the
 * field, as docs/control-plane-contract.md requires.
 */
#ifndef SC_SERVER_SPEC_H
#define SC_SERVER_SPEC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/spec_limits.h"

struct json_t; /* jansson's value type: only sc_spec_parse reads one */

#define SC_SPEC_MAX_MODELS 16

/*
 * What each task of a job runs. Immutable once built and shared through
 * counted references: the controller hands it to assignment replies that
 * may outlive the job (sc_spec_run_ref / _unref, thread-safe).
 */
struct sc_spec_run {
  char *shell;                /* the command as one shell string, or NULL */
  char **argv;                /* NULL-terminated argument list, or NULL */
  int nenv;
  char **env_keys, **env_values; /* nenv each, in the spec's order */
  char *workdir;              /* absolute path, or NULL */
  bool no_network;            /* network: none, an empty network namespace */
  char *image;                /* an OCI image reference, or NULL */
  bool keep_on_disconnect;    /* on_disconnect: keep: never fenced */
  atomic_int refs;
};

struct sc_job_spec {
  char *text;                 /* normalised spec as JSON text, owned */
  struct sc_spec_run *run;    /* owned reference */
  char name[129];
  char tenant[65];
  int tasks;                  /* gang size */
  int64_t cpu_milli;
  int64_t memory_mib;         /* 0 = no reservation */
  int gpus;                   /* devices per task (1 for a share) */
  int gpu_milli;              /* per device: 1000 whole, 1..999 share, 0 none */
  char models[SC_SPEC_MAX_MODELS * 64]; /* '|'-separated, "" = any */
  int priority;
  int64_t max_runtime_s;      /* 0 = none */
  int max_retries;
  bool no_network;            /* network: none (default host: gangs need it) */
  bool keep_on_disconnect;    /* on_disconnect: keep (default fence) */
  bool hold;                  /* hold: true: submitted held (release starts it) */
  int64_t begin_ms;           /* begin: not before this Unix ms; 0 = now */
  bool allow_pending;         /* allow_pending: true: accepted even when no
                                 registered node could run it */
  bool requeue;               /* requeue: true: an interrupted run (a stopping
                                 `supercell up`) runs again, retries or not */
};

/* Why a spec was rejected: code for the API ("bad_request"), the dotted
 * field ("resources.gpus") and a lowercase message. */
struct sc_spec_error {
  char field[64];
  char message[192];
};

/*
 * Validates body (a JSON value of any type) into out. Returns 0, or
 * SC_EINVAL with err filled and out released; SC_ENOMEM on allocation
 * failure (out released). out owns its text and run.
 */
int sc_spec_parse(struct json_t *body, struct sc_job_spec *out, struct sc_spec_error *err);

/* The same from a normalised text (as the store keeps it). */
int sc_spec_parse_text(const char *text, struct sc_job_spec *out, struct sc_spec_error *err);

/* Replaces the spec's tenant (a user token forces its own): 0 or SC_ENOMEM. */
int sc_spec_set_tenant(struct sc_job_spec *spec, const char *tenant);

/* Frees out's text and drops its run reference; the struct may be reused. */
void sc_spec_release(struct sc_job_spec *spec);

/* Takes one more reference to run (returned) / drops one (frees at zero). */
struct sc_spec_run *sc_spec_run_ref(struct sc_spec_run *run);
void sc_spec_run_unref(struct sc_spec_run *run);

/* True for names of 1..max characters from [A-Za-z0-9._-]. */
int sc_spec_name_ok(const char *name, size_t max);

#endif
