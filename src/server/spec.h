/*
 * Job specs: validation of a POST /v1/jobs body into a typed spec and a
 * normalised JSON form (defaults filled, units resolved) that the store
 * keeps and that parses back to the same spec. Every rejection names the
 * field, as docs/control-plane-contract.md requires.
 */
#ifndef SC_SERVER_SPEC_H
#define SC_SERVER_SPEC_H

#include <jansson.h>
#include <stdint.h>

#define SC_SPEC_MAX_TASKS 4096
#define SC_SPEC_MAX_GPUS 16
#define SC_SPEC_MAX_MODELS 16

struct sc_job_spec {
  json_t *json;               /* normalised spec, owned */
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
 * failure. out->json is a new object owned by out.
 */
int sc_spec_parse(json_t *body, struct sc_job_spec *out, struct sc_spec_error *err);

/* Replaces the spec's tenant (a user token forces its own). */
int sc_spec_set_tenant(struct sc_job_spec *spec, const char *tenant);

/* Frees out->json; the struct may be reused. */
void sc_spec_release(struct sc_job_spec *spec);

/* True for names of 1..max characters from [A-Za-z0-9._-]. */
int sc_spec_name_ok(const char *name, size_t max);

#endif
