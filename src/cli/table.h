/*
 * Aligned text tables for the CLI and the small formatters their cells use
 * (ages, CPU, GPU counts, device summaries). Cells are copied; columns are
 * separated by three spaces and the last column is not padded.
 */
#ifndef SC_CLI_TABLE_H
#define SC_CLI_TABLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SC_TABLE_MAX_COLS 16

struct sc_table {
  size_t ncols, nrows, cap;
  char **cells;   /* (nrows + 1) * ncols; row 0 is the header */
  int oom;
};

/* Starts a table with a NULL-terminated list of headers. */
void sc_table_init(struct sc_table *t, const char *const *headers);

/* Appends a row of ncols cells (copied; NULL prints "-"). */
void sc_table_add(struct sc_table *t, const char *const *cells);

/* Prints the table. Returns 0 or SC_ENOMEM when a row could not be kept. */
int sc_table_print(const struct sc_table *t, FILE *out);

void sc_table_release(struct sc_table *t);

/* The age of an RFC 3339 time at now_ms, as "42s", "5m", "3h", "2d"; "-"
 * when text is NULL or unparsable. */
void sc_cli_age(const char *text, int64_t now_ms, char *buf, size_t size);

/* Milli-units as a short decimal: 2000 -> "2", 250 -> "0.25", 1500 -> "1.5". */
void sc_cli_milli(int64_t milli, char *buf, size_t size);

/* GPUs of a job in all (from a job, a job's spec, or a list summary):
 * tasks * gpus, or tasks * gpu_milli / 1000. */
void sc_cli_job_gpus(json_t *job, char *buf, size_t size);

/* Tasks of a job: "N", or "R/N" (running of all) while it runs. */
void sc_cli_job_tasks(json_t *job, char *buf, size_t size);

/* A node's devices grouped by vendor and model: "8x nvidia:A100-80G (2.5
 * used)"; "-" when none. */
void sc_cli_node_devices(json_t *devices, char *buf, size_t size);

/* Labels as "k=v,k2=v2" sorted by key; "-" when none. */
void sc_cli_labels(json_t *labels, char *buf, size_t size);

#endif
