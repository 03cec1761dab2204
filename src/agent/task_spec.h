/*
 * One task as the controller assigns it (the "task" object of
 * GET /v1/agent/assignments, see docs/control-plane-contract.md) and the
 * environment the agent gives it: the agent's own, the job's, the vendor
 * visibility variable with only its devices, and SUPERCELL_* / RANK ...
 */
#ifndef SC_AGENT_TASK_SPEC_H
#define SC_AGENT_TASK_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/devices.h"

struct sc_task_spec {
  char *task_id;     /* "j-000123.0" */
  char *job_id;
  int index, count;  /* rank in the gang and gang size */
  int local_rank;    /* -1: not given by the controller */
  int attempt;       /* -1: not given */
  char **argv;       /* NULL-terminated, or NULL when shell is set */
  char *shell;       /* run with /bin/sh -c */
  char **env;        /* the job's "K=V" strings, NULL-terminated */
  char *workdir;     /* NULL: the agent's state dir for the task */
  int devices[SC_AGENT_MAX_DEVICES];
  int ndevices;
  char *vendor;      /* NULL for CPU-only tasks */
  int gpu_milli;     /* per device; 1000 = whole */
  int64_t cpu_milli, memory_mib, max_runtime_s;
  int grace_s;       /* default 10 */
  char *master_addr;
  int master_port;
  char *tenant;      /* NULL when the controller names none */
  int64_t tenant_id; /* run as uid --task-uid-base + this ... (0: none given) */
  char *run_as;      /* ... or as this node user (NULL: none) */
  bool no_network;   /* "network": "none": an empty network namespace */
  char *image;       /* an OCI image to run it in, or NULL */
  bool keep_on_disconnect; /* "on_disconnect": "keep": never fenced */
  char *task_token;  /* its credential (SUPERCELL_TASK_TOKEN), or NULL */
};

/* Fills spec from a task object (borrowed). Returns 0, or SC_EPARSE with
 * the bad field in err; spec is released on error. */
int sc_task_spec_from_json(struct sc_task_spec *spec, json_t *task, char *err, size_t size);

/* Frees the contents of a spec. Safe on a zeroed spec. */
void sc_task_spec_release(struct sc_task_spec *spec);

/* The visibility variable(s) of a vendor: up to 2 names in names[], e.g.
 * HIP_VISIBLE_DEVICES and ROCR_VISIBLE_DEVICES for amd; others get
 * <VENDOR>_VISIBLE_DEVICES in buf. Returns the number of names. */
int sc_task_visible_vars(const char *vendor, const char *names[2], char *buf, size_t size);

/* Builds the task environment: base ("K=V", NULL-terminated, borrowed),
 * then the job env, then the variables set by the agent, later ones
 * replacing earlier ones of the same name. node_devices maps node indices
 * to vendors and vendor indices: each vendor's visibility variables list
 * the task's devices of that vendor, each once; the others are blank. *envp is a new NULL-terminated array the caller frees
 * with sc_task_env_free. Returns 0 or SC_ENOMEM. */
int sc_task_env_build(const struct sc_task_spec *spec, const struct sc_devices *node_devices,
                      char **base, char ***envp);

/* Frees an array made by sc_task_env_build. */
void sc_task_env_free(char **envp);

/* The value of name in a NULL-terminated "K=V" array, or NULL. */
const char *sc_task_env_get(char **envp, const char *name);

#endif
