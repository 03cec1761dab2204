/*
 * Parsing and printing of quantities people type: memory ("16Gi", "512Mi",
 * "2G", plain MiB) and durations ("90s", "15m", "1h30m", "2d", plain
 * seconds). Shared by the CLI, the controller and the agent.
 */
#ifndef SC_UTIL_UNITS_H
#define SC_UTIL_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Parses a memory size into MiB (rounded up). A bare number is MiB.
 * Suffixes: Ki Mi Gi Ti (binary), K M G T (decimal), optional trailing B.
 * Returns 0, or SC_EPARSE / SC_ERANGE with *mib = 0. */
int sc_parse_memory_mib(const char *text, int64_t *mib);

/* Parses a duration into milliseconds: a bare number is seconds; units
 * ms, s, m, h, d may be combined ("1h30m"). Returns 0 or SC_EPARSE. */
int sc_parse_duration_ms(const char *text, int64_t *ms);
/* An RFC 3339 UTC time as the API writes it, "2026-11-30T01:02:03.456Z"
 * (fraction optional, "+00:00" for "Z"), into Unix ms: 0 or SC_EPARSE. */
int sc_parse_rfc3339_ms(const char *text, int64_t *ms);

/* Parses a whole decimal integer in [lo, hi] (an optional '-', digits,
 * nothing else: no spaces, no '+', no hex). Returns 0 or SC_EPARSE. */
int sc_parse_int_range(const char *text, long long lo, long long hi, long long *v);

/* Writes a MiB amount as "512Mi", "16Gi", "1.5Ti". */
void sc_format_memory(int64_t mib, char *buf, size_t size);

/* Writes an age or duration compactly: "42s", "5m", "3h", "2d". */
void sc_format_duration(int64_t ms, char *buf, size_t size);

#endif
