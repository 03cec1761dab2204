/*
 * The agent's client of the controller (docs/control-plane-contract.md):
 * each call encodes its request, sends it, decodes the reply into plain
 * structs and says how it went. It keeps no loop state: whether to back
 * off, register again or drop a report is the caller's decision, from the
 * outcome. One client per thread (it keeps its connection alive).
 */
#ifndef SC_AGENT_CLIENT_H
#define SC_AGENT_CLIENT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/devices.h"
#include "agent/task_spec.h"
#include "util/http.h"

enum sc_client_rc {
  SC_CLIENT_OK,            /* 200 */
  SC_CLIENT_UNREACHABLE,   /* no reply: transport failure or timeout */
  SC_CLIENT_UNKNOWN_NODE,  /* 404: the controller does not know this node */
  SC_CLIENT_DENIED,        /* 401 or 403: the token is refused */
  SC_CLIENT_REFUSED,       /* another 4xx: this request is unwanted, drop it */
  SC_CLIENT_LATER,         /* 5xx, 408 or 429: try again after a while */
};

struct sc_client {
  struct sc_http http;
  char node[64];
  char error[256];         /* what the last call that failed said */
};

/* A task the agent runs, as register and heartbeat name it. */
struct sc_client_task {
  const char *task_id;
  int64_t pid;             /* 0: not sent */
};

/* A status report. */
struct sc_client_update {
  const char *task_id;
  int attempt;             /* -1: not sent */
  bool exited;
  int64_t pid;
  int exit_code, signal;   /* exited: -1 / 0 when unknown */
  const char *reason;      /* exited: why, when the agent knows better than
                              the signal ("out of memory"), or NULL */
  int64_t started_ms;      /* when the task started (Unix ms, this node's
                              clock), 0 unknown */
  int64_t ended_ms;        /* exited: when it ended, 0 unknown */
};

/* What the node offers, for register. */
struct sc_client_node {
  int64_t cpu_milli, memory_mib;
  json_t *labels;          /* object of strings, borrowed */
  const struct sc_devices *devices;
};

/* A preemption notice that comes with the kill of task_id: signal, then
 * SIGKILL after grace_ms; by and kind say who took it back and why. */
struct sc_client_notice {
  char *task_id;
  int signal;
  int64_t grace_ms;
  char by[32];             /* "j-000123", "" an operator */
  char kind[16];
};

/* Task ids to kill and the notices of those preempted (owned;
 * sc_client_kills_release). */
struct sc_client_kills {
  char **ids;
  int n;
  struct sc_client_notice *notices;
  int nnotices;
};

/* One start: the decoded task and the assignment's JSON text (owned). */
struct sc_client_start {
  struct sc_task_spec spec;
  char *text;
};

struct sc_client_assignments {
  struct sc_client_start *starts;
  int nstarts;
  struct sc_client_kills kills;
};

/* Prepares a client of server for node with token (copied). Returns 0 or
 * an SC_E* code (detail in c->error). abort (may be NULL) cuts calls short
 * when set. */
int sc_client_init(struct sc_client *c, const char *server, const char *token,
                   const char *node, atomic_int *abort);
void sc_client_release(struct sc_client *c);
/* Makes a call in progress in another thread look at abort now. */
void sc_client_wakeup(struct sc_client *c);

/* What a register reply says. */
struct sc_client_registered {
  struct sc_client_kills kills;
  int64_t heartbeat_ms;    /* the interval the controller asks for, 0 */
  int64_t fence_after_ms;  /* cut off this long, stop the tasks; 0 = never */
  int64_t grace_ms;        /* the controller's TERM to KILL, 0 = unknown */
  char *credential;        /* the node's own token (owned), when the request
                              came with a bootstrap token; else NULL */
};

/* Registers the node with the tasks it runs; fills out (zeroed first;
 * release with sc_client_registered_release). */
enum sc_client_rc sc_client_register(struct sc_client *c, const struct sc_client_node *node,
                                     const struct sc_client_task *running, int n,
                                     struct sc_client_registered *out);
void sc_client_registered_release(struct sc_client_registered *r);

/* The token of the next calls (copied): 0 or SC_ENOMEM. Thread-safe. */
int sc_client_set_token(struct sc_client *c, const char *token);
/* A heartbeat; *interval_ms (may be NULL) gets the interval the reply
 * asks for from now on (the controller lengthens it as the fleet grows),
 * 0 when it names none. */
enum sc_client_rc sc_client_heartbeat(struct sc_client *c, const struct sc_client_task *running,
                                      int n, struct sc_client_kills *kills, int64_t *interval_ms);
enum sc_client_rc sc_client_status(struct sc_client *c, const struct sc_client_update *u, int n);
/* Sends len bytes of a task's output at offset of its attempt (-1: none). */
enum sc_client_rc sc_client_log(struct sc_client *c, const char *task_id, int attempt,
                                int64_t offset, const char *data, size_t len);
/* Long-polls the node's assignments for up to wait_s seconds. Starts that
 * do not decode are logged and left out. */
enum sc_client_rc sc_client_assignments(struct sc_client *c, int wait_s,
                                        struct sc_client_assignments *out);

/* Decodes a reply {"start": [...], "kill": [...]} into out (what
 * sc_client_assignments does with the controller's reply). */
void sc_client_assignments_decode(json_t *reply, struct sc_client_assignments *out);

void sc_client_kills_release(struct sc_client_kills *k);
void sc_client_assignments_release(struct sc_client_assignments *a);

/*
 * The wire format on its own, for a caller with its own transport (the
 * emulator, agent_emu.c): the calls above are these encoders and decoders
 * around one blocking request. Bodies are new references (NULL when out of
 * memory); decoders fill their out-parameter, zeroed first.
 */
json_t *sc_client_register_body(const char *name, const struct sc_client_node *node,
                                const struct sc_client_task *running, int n);
/* A register reply into reg (release with sc_client_registered_release);
 * SC_ENOMEM when its credential could not be kept, else 0. */
int sc_client_registered_decode(json_t *reply, struct sc_client_registered *reg);
json_t *sc_client_heartbeat_body(const char *name, const struct sc_client_task *running, int n);
/* The heartbeat interval a register or heartbeat reply asks for, 0 none. */
int64_t sc_client_interval_decode(json_t *reply);
/* The "kill" list of a reply (heartbeat, register, assignments) and its
 * preemption notices into k (release with sc_client_kills_release). */
void sc_client_kills_decode(json_t *reply, struct sc_client_kills *k);
json_t *sc_client_status_body(const char *name, const struct sc_client_update *u, int n);
json_t *sc_client_log_body(const char *task_id, int attempt, int64_t offset, const char *data,
                           size_t len);
/* The long-poll's path and query for node name into buf; returns buf. */
char *sc_client_assignments_path(const char *name, int wait_s, char *buf, size_t size);
/* What an HTTP status means to an agent (0 or less: no reply came). */
enum sc_client_rc sc_client_outcome(long status);

#endif
