/*
 * JSON encodings of the API: jobs and tasks as docs/control-plane-contract.md
 * shows them, error bodies and timestamps ("2026-11-29T10:00:00.123Z").
 */
#ifndef SC_SERVER_CODEC_H
#define SC_SERVER_CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Writes Unix ms as RFC 3339 UTC with milliseconds ("" for 0). */
void sc_time_format(int64_t ms, char *buf, size_t size);

/* The API object of a job record (with its tasks when it has them). New ref. */
json_t *sc_job_json(const struct sc_job_rec *j);

/* {"error": {"code", "message", "field"}}; field may be NULL. New ref. */
json_t *sc_error_json(const char *code, const char *message, const char *field);

#endif
