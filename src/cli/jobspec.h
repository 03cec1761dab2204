/*
 * Job specs as people write them: YAML or JSON text turned into the JSON
 * object POST /v1/jobs takes (docs/control-plane-contract.md). YAML maps
 * 1:1: plain scalars become numbers, booleans or null where they read as
 * such, quoted ones stay strings. Errors name the file, line and column.
 */
#ifndef SC_CLI_JOBSPEC_H
#define SC_CLI_JOBSPEC_H

#include <jansson.h>
#include <stddef.h>

/* Parses text (len bytes) from the file called name into a new JSON object
 * (*out, caller frees). JSON is detected by a leading '{'. Returns 0, or
 * SC_EPARSE with "name:line:column: message" in err and *out NULL. */
int sc_jobspec_parse(const char *text, size_t len, const char *name, json_t **out,
                     char *err, size_t size);

/* Reads a whole file ("-" = stdin) into a new NUL-terminated buffer.
 * Returns 0 or SC_EIO with the reason in err. */
int sc_jobspec_read(const char *path, char **text, size_t *len, char *err, size_t size);

/* A job name made from a command's first word: basename, characters other
 * than [A-Za-z0-9._-] replaced by '-', at most 63 chars; "job" if empty. */
void sc_jobspec_default_name(const char *argv0, char *buf, size_t size);

#endif
