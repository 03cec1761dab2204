/*
 * The agents' request bodies decoded into the controller's structs (see
 * agent_codec.c). Each returns true, or false after replying 400 into resp.
 */
#ifndef SC_SERVER_AGENT_CODEC_H
#define SC_SERVER_AGENT_CODEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "server/ctl.h"
#include "server/http.h"

/* "name": a node name of 1..63 characters from [A-Za-z0-9._-], into out. */
bool sc_agent_decode_name(json_t *body, struct sc_http_resp *resp, char *out, size_t size);
/* "running": task ids (or {"task_id", "pid"}); ids not ours are skipped.
 * *out (freed with free()) holds *n entries. */
bool sc_agent_decode_running(json_t *body, struct sc_http_resp *resp,
                             struct sc_agent_running **out, int *n);
/* A register body into reg; *labels (JSON text) and *running are the
 * caller's to free (also on failure). peer: the address when the body
 * names none. */
bool sc_agent_decode_register(json_t *body, const char *peer, struct sc_http_resp *resp,
                              struct sc_agent_reg *reg, char **labels,
                              struct sc_agent_running **running);
/* Entry i of a status body's "updates" into u. */
bool sc_agent_decode_update(json_t *v, size_t i, struct sc_http_resp *resp,
                            struct sc_agent_update *u);

/* A log chunk body (task_id, data, offset, attempt) into chunk; its data
 * is borrowed from body; node is left NULL. */
bool sc_agent_decode_log(json_t *body, struct sc_http_resp *resp, struct sc_log_chunk *chunk);

#endif
