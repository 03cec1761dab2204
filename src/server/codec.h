/*
 * JSON encodings of the API: jobs and tasks as docs/control-plane-contract.md
 * shows them, nodes, error bodies, and the agent protocol's replies (kill
 * lists and assignments) built from the controller's structs.
 */
#ifndef SC_SERVER_CODEC_H
#define SC_SERVER_CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "server/ctl.h"
#include "store/store.h"

/* The API object of a job record (with its tasks when it has them). New ref. */
/* A time as the API writes it (RFC 3339 UTC, ms), null for ms <= 0. */
json_t *sc_time_json(int64_t ms);
json_t *sc_job_json(const struct sc_job_rec *j, int ntasks, int next);
/* A job in a list: no tasks and no spec (its task counts by state, its
 * resources and models instead), so a page of them stays small. */
json_t *sc_job_summary_json(const struct sc_job_rec *j);
/* A job's past attempts: [{"attempt", "reason", "started_at",
 * "finished_at"}]. New ref or NULL. */
json_t *sc_attempts_json(const struct sc_attempt_rec *a, int n);
/* An array of n tasks. New ref or NULL. */
json_t *sc_tasks_json(const struct sc_task_rec *tasks, int n);

/* {"error": {"code", "message", "field"}}; field may be NULL. New ref. */
json_t *sc_error_json(const char *code, const char *message, const char *field);

/* {"nodes": [...]} as GET /v1/nodes returns them. New ref or NULL. */
json_t *sc_nodes_json(const struct sc_node_view *nodes, int n);

/* A token as the API shows it (never its hash); text, when not NULL, is
 * added as "token" (only the reply that creates it). New ref or NULL. */
json_t *sc_token_json(const struct sc_token_rec *t, const char *text);

/* A tenant as the API shows it. New ref or NULL. */
json_t *sc_tenant_json(const struct sc_tenant_rec *t);

/* The task ids of a kill list as a JSON array. New ref or NULL. */
json_t *sc_kill_list_json(const struct sc_kill_list *k);
/* The preemption notices of k: [{"task_id", "signal", "grace_ms", "by",
 * "kind"}] (new reference, NULL when out of memory). */
json_t *sc_kill_notices_json(const struct sc_kill_list *k);
/* Sets "kill" (and "preempt" when k has notices) on reply: 0 or -1. */
int sc_kill_list_put(json_t *reply, const struct sc_kill_list *k);

/* {"start": [...], "kill": [...]} of an assignments reply. New ref or NULL
 * (out of memory: the caller takes the reply back). */
json_t *sc_assignments_json(const struct sc_assignments *a);

#endif
