/*
 * Shared pieces of the user commands: common flags (--server, --token,
 * -o json, --help), the controller client, error printing and exit codes.
 * Each command parses, calls the REST API, formats; nothing else.
 */
#ifndef SC_CLI_INT_H
#define SC_CLI_INT_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/http.h"

/* Exit codes of every CLI command. */
enum {
  SC_CLI_OK = 0,       /* done */
  SC_CLI_API = 1,      /* the server said no (or answered nonsense) */
  SC_CLI_USAGE = 2,    /* bad flags or input file */
  SC_CLI_NOREACH = 3,  /* cannot reach the server */
};

struct sc_cli {
  const char *cmd;     /* "submit", "jobs" ... for messages */
  const char *server;  /* from --server, SUPERCELL_SERVER, a local
                          controller's controller.url, or the default */
  char *found_url;     /* that controller.url's URL (owned), NULL */
  char *token;         /* from --token, SUPERCELL_TOKEN or admin.token (owned) */
  bool json;           /* -o json */
  bool help;           /* --help seen */
  struct sc_http http;
};

/* The long options every command accepts; end a command's table with it. */
#define SC_CLI_COMMON_OPTIONS                                                   \
  {"server", required_argument, NULL, 0x1001},                                  \
  {"token", required_argument, NULL, 0x1002},                                   \
  {"output", required_argument, NULL, 'o'},                                     \
  {"help", no_argument, NULL, 'h'},                                             \
  {NULL, 0, NULL, 0}

/* How long a call looks for the controller that leads (--server
 * URL1,URL2) or waits for one taking over (a takeover runs a lease and a
 * rebuild; util/http.h, sc_http_set_failover). */
#define SC_CLI_FAILOVER_MS 30000

#define SC_CLI_COMMON_HELP                                                      \
  "  --server URL      controller (SUPERCELL_SERVER, default http://127.0.0.1:8420);\n" \
  "                    URL1,URL2,...: a leader and its standbys, the leader found\n" \
  "  --token T         API token (SUPERCELL_TOKEN, else $SUPERCELL_HOME/admin.token\n" \
  "                    or ~/.supercell/admin.token)\n"                          \
  "  -o json           print the API's JSON instead of a table\n"              \
  "  -h, --help        show this help\n"

/* Handles a common option c; returns 0 or SC_CLI_USAGE (message printed). */
int sc_cli_common_option(struct sc_cli *c, int opt, const char *arg);

/* Prints "supercell <cmd>: <message>" and returns SC_CLI_USAGE. */
int sc_cli_usage_error(const struct sc_cli *c, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* Resolves server and token defaults and opens the client. Returns 0 or an
 * exit code. */
int sc_cli_connect(struct sc_cli *c);

/* Frees the client and token. */
void sc_cli_release(struct sc_cli *c);

/* Calls the API. On 2xx returns 0 with *reply the body (caller frees; may be
 * NULL when the body is empty). Otherwise prints `supercell: <message>
 * (field '<field>')` and returns SC_CLI_API, or SC_CLI_NOREACH when the
 * server cannot be reached. */
int sc_cli_call(struct sc_cli *c, const char *method, const char *path, json_t *body,
                long timeout_ms, json_t **reply);

/* Prints j as indented JSON on stdout. Returns SC_CLI_OK. */
int sc_cli_print_json(json_t *j);
/* GET path for a listing: connects, calls, and with -o json prints the
 * reply and returns -1 (done: exit 0); else 0 with *reply (the caller's)
 * for its table, or an exit code (SC_CLI_*). */
int sc_cli_get_table(struct sc_cli *c, const char *path, json_t **reply);

/* Parses a non-negative decimal integer flag value; returns 0 or -1. */
int sc_cli_parse_int(const char *text, long long min, long long max, long long *out);

/* The string obj[key], or dflt when absent or not a string. */
const char *sc_cli_str(json_t *obj, const char *key, const char *dflt);

/* Tables of the API's objects (now_ms: wall clock, for ages). */
struct sc_table;
void sc_cli_job_row(json_t *job, int64_t now_ms, struct sc_table *t);
void sc_cli_print_jobs(json_t *jobs, int64_t now_ms, FILE *out);
void sc_cli_print_nodes(json_t *nodes, int64_t now_ms, FILE *out);
void sc_cli_print_job(json_t *job, int64_t now_ms, FILE *out);

#endif
