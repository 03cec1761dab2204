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

/* A dependency (after): the job waits until job (one element when index
 * >= 0, else the whole job or array) ended as type asks. */
enum sc_dep_type { SC_DEP_OK, SC_DEP_ANY, SC_DEP_NOTOK };

struct sc_spec_dep {
  int type;                   /* enum sc_dep_type */
  int64_t job;                /* job id (an array's: its first element's) */
  int index;                  /* array element index, -1 the whole job */
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
  char array[128];            /* array: "0-999:2%10", "1,3,5-7"; "" none */
  int array_count;            /* its elements */
  int array_max_running;      /* its %N: elements running at once, 0 any */
  int ndeps;                  /* after (or Slurm's dependency) */
  struct sc_spec_dep deps[SC_SPEC_MAX_DEPS];
  char regions[SC_SPEC_MAX_REGIONS * 64]; /* regions: '|'-separated; "" any
                                 its tenant allows */
  bool slurm_env;             /* slurm_env: true: tasks also see SLURM_JOB_ID,
                                 SLURM_PROCID, ... (supercell sbatch) */
  bool preemptible;           /* preemptible: true: a spot job, the first
                                 victim when capacity is taken back */
  int preempt_signal;         /* preempt_signal: what its tasks get at a
                                 preemption notice (default SIGTERM) */
  int64_t checkpoint_grace_s; /* checkpoint_grace: notice to SIGKILL; -1
                                 not given: SC_SPEC_DEFAULT_GRACE_S (the
                                 controller's --max-checkpoint-grace caps
                                 that; a larger request is refused) */
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

/*
 * The indices of an array expression ("0-999:2%10", "1,3,5-7"): writes at
 * most max of them, in the expression's order, to out (may be NULL) and
 * returns how many there are, and the %N into *max_running (0 none).
 * SC_EINVAL with a message in err (field "array") when malformed,
 * repeating an index or over SC_SPEC_MAX_ARRAY elements.
 */
int sc_spec_array_indices(const char *text, int *out, int max, int *max_running,
                          struct sc_spec_error *err);

/* A copy of spec whose env also holds keys[i]=values[i] (nextra pairs;
 * out owns its text and run). Returns 0, SC_ENOMEM or SC_EINVAL. */
int sc_spec_with_env(const struct sc_job_spec *spec, const char *const *keys,
                     const char *const *values, int nextra, struct sc_job_spec *out);

/* "ok:j-000123", "any:j-000123_7": a dependency as the spec keeps it. */
void sc_spec_dep_format(const struct sc_spec_dep *d, char *buf, size_t size);

/* The name of a signal a job may choose as preempt_signal ("SIGTERM"),
 * or NULL when it may not choose sig: only those the task's init
 * forwards (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2). */
const char *sc_spec_signal_name(int sig);

/* True for names of 1..max characters from [A-Za-z0-9._-]. */
int sc_spec_name_ok(const char *name, size_t max);

#endif
