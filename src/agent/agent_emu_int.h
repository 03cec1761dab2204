/*
 * Internals of the emulator, one thread and one libevent loop:
 *   agent_emu_http.c  requests: a few shared keep-alive connections, and
 *                     one connection per node for its long-poll
 *   agent_emu_task.c  the emulated tasks of a node: timers, kills, the
 *                     reports they owe (no requests)
 *   agent_emu.c       the nodes: register, heartbeat, poll, report; the run
 * Each file calls only those above it; a task's end reaches its node
 * through emu->task_ended. docs/emulation.md has the design.
 */
#ifndef SC_AGENT_EMU_INT_H
#define SC_AGENT_EMU_INT_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/agent_client.h"
#include "agent/agent_emu.h"

/* ---- agent_emu_http.c ---- */

/* What a request got: the HTTP status (0: no reply: refused, reset or
 * timed out) and the JSON body (borrowed for the call, may be NULL). */
typedef void (*emu_reply_fn)(void *arg, long status, json_t *body);

struct emu_call;

struct emu_http {
  struct event_base *base;
  char addr[64];               /* the controller's numeric address */
  int port;
  char host[256];              /* Host header */
  char prefix[256];            /* the URL's path, "" or "/x" */
  struct evhttp_connection **shared;
  int *inflight;               /* requests on each shared connection */
  int nshared;
  struct emu_call *calls;      /* in flight, freed at release */
};

/* Prepares the transport to url (http:// only) with nshared connections
 * on base. Returns 0, or SC_EINVAL / SC_ENET / SC_ENOMEM with a message. */
int emu_http_init(struct emu_http *h, struct event_base *base, const char *url, int nshared,
                  char *err, size_t size);
/* Frees the shared connections and the calls still in flight (their
 * callbacks are not called). Connections of the nodes go first. */
void emu_http_release(struct emu_http *h);
/* A new connection of its own (a node's long-poll) whose requests time
 * out after timeout_s; NULL when out of memory. Free with
 * evhttp_connection_free (its calls then never answer). */
struct evhttp_connection *emu_http_connection(struct emu_http *h, int timeout_s);
/* Sends a request (body borrowed, may be NULL) with "Bearer auth" on conn,
 * or on the least busy shared connection when conn is NULL; fn gets the
 * outcome later, never before this returns. Returns 0 or SC_ENOMEM (fn is
 * then never called). */
int emu_http_send(struct emu_http *h, struct evhttp_connection *conn, bool post,
                  const char *path, const char *auth, json_t *body, emu_reply_fn fn, void *arg);

/* ---- agent_emu_task.c ---- */

struct emu;
struct emu_node;

struct emu_task {
  struct emu_task *next;       /* in its node's list, or the free list */
  struct emu_node *node;
  struct event end;            /* the end of its sleep */
  char id[64];
  int attempt;
  int64_t pid;                 /* made up, unique in the process */
  int64_t started_ms, ended_ms;/* Unix ms */
  int exit_code, signal;       /* once exited: code or -1, signal or 0 */
  bool fails;                  /* exits 1 at its end */
  bool keep;                   /* "on_disconnect": "keep": never fenced */
  bool exited, running_sent, log_sent, exit_sent;
  bool running_inflight, exit_inflight;  /* in the status request out */
};

enum emu_node_state { EMU_NODE_NEW, EMU_NODE_REGISTERING, EMU_NODE_READY };

struct emu_node {
  struct emu *emu;
  int index;                   /* in the plan */
  enum emu_node_state state;
  char *credential;            /* its own token from registration, or NULL */
  struct event tick;           /* the next register try or heartbeat */
  struct event poll_retry;     /* the next long-poll after a failure */
  struct event report;         /* a report to send soon */
  struct evhttp_connection *poll_conn;
  struct emu_node *wait_next;  /* in the queue of registrations to send */
  struct emu_task *log_task;   /* whose log line is being sent */
  int64_t next_beat_ms;        /* monotonic */
  int64_t sent_ms;             /* when the register or heartbeat out went */
  int64_t backoff_ms, poll_backoff_ms;
  int64_t last_contact_ms;     /* monotonic: the controller last answered */
  bool polling, beating, reporting, fenced;
  bool registered_once;        /* counted in emu->nready */
  struct emu_task *tasks;
  int ntasks;
};

struct emu {
  const struct sc_emu_config *cfg;
  struct event_base *base;
  struct emu_http http;
  struct emu_node *nodes;
  int n;
  struct emu_task *free_tasks;
  int64_t next_pid;
  int64_t heartbeat_ms, fence_after_ms;
  int64_t start_ms;            /* monotonic, the heartbeats' phase origin */
  struct emu_node *wait_head, *wait_tail;  /* registrations not yet sent */
  int registering;             /* registrations in flight */
  int nready;                  /* nodes registered at least once */
  bool stopping;
  int exit_rc;                 /* what sc_emu_run returns */
  atomic_int *stop_flag;       /* set by a signal handler: stop */
  void (*task_ended)(struct emu_node *node);  /* a task of node ended */
  int64_t stop_deadline_ms;    /* stopping: reports end by then */
  struct sc_client_task *scratch;          /* running lists */
  int scratch_cap;
  uint64_t jitter;             /* state of the backoff jitter */
  /* Counters for the periodic summary of what went wrong. */
  int unreachable, rejected;
  long last_error_status;
  int64_t next_summary_ms;
};

/* Starts assignment start on node (its spec is read, not kept): now, its
 * end timed by its `sleep`. Ignored when the task is already there. */
void emu_task_start(struct emu_node *node, const struct sc_client_start *start);
/* Ends the running task named id with signal sig (a kill); false when no
 * such task runs. */
bool emu_task_kill(struct emu_node *node, const char *id, int sig);
/* Ends every running task of node with SIGTERM, those marked keep too
 * unless fence; returns how many. */
int emu_task_kill_all(struct emu_node *node, bool fence);
/* The tasks the controller knows as running (with_pid: all not yet
 * reported, for a register) into out (at most max); returns how many. */
int emu_task_running(struct emu_node *node, bool with_pid, struct sc_client_task *out, int max);
/* The first exited task whose log line is not sent, or NULL (none when
 * quiet or stopping). */
struct emu_task *emu_task_log_due(struct emu_node *node);
/* The status updates owed (a task's "running", its exit once its log is
 * sent) into u (at most max, their ids borrowed), marked in flight;
 * returns how many. */
int emu_task_updates(struct emu_node *node, struct sc_client_update *u, int max);
/* The status request is over: what was in flight is sent when
 * acknowledged, owed again otherwise. Tasks whose exit was acknowledged
 * go to the free list. */
void emu_task_updates_done(struct emu_node *node, bool acknowledged);
/* Frees every task of node and the free list's (at the end). */
void emu_task_release_all(struct emu *e);

#endif
