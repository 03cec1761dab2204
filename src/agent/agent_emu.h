/*
 * Emulated fleets (`supercell agent --emulate N`): one process registers
 * many nodes that speak the real agent protocol, and only pretends to run
 * their tasks: a task lasts the seconds of a leading `sleep S` in its
 * command, then exits 0 (or 1, for a seeded fraction of tasks). The plan
 * of the fleet (names, shapes, labels) and the rules of a task's fate are
 * pure (agent_emu_plan.c); the event loop is agent_emu.c. docs/emulation.md.
 */
#ifndef SC_AGENT_EMU_H
#define SC_AGENT_EMU_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/devices.h"
#include "sim/trace.h"

#define SC_EMU_LABELS_MAX 8
#define SC_EMU_VALUES_MAX 4096
#define SC_EMU_NODES_MAX 100000
/* What sc_emu_sleep_ms returns for `sleep infinity`. */
#define SC_EMU_FOREVER INT64_MAX

/* One label spread over the nodes: KEY=V1,V2,... (a value may hold one
 * numeric range, "r[1-4]" = r1,r2,r3,r4; "r[01-12]" keeps the width). */
struct sc_emu_label {
  char key[64];
  char **values;   /* owned */
  int nvalues;
  bool blocks;     /* contiguous blocks of nodes per value, not round robin */
};

/* Parses text (KEY=V1,V2,...) into l. Returns 0, or SC_EPARSE / SC_ERANGE
 * / SC_ENOMEM with a message in err; l is empty then. */
int sc_emu_label_parse(struct sc_emu_label *l, const char *text, bool blocks, char *err,
                       size_t size);
void sc_emu_label_release(struct sc_emu_label *l);

/* The value node i (0-based) of n gets: values[i % k] round robin, or
 * values[i * k / n] in blocks (k values: the first n/k nodes the first). */
const char *sc_emu_label_value(const struct sc_emu_label *l, int i, int n);

/* How long an emulated task runs, in ms: the S of a leading `sleep S` (a
 * number of seconds or a duration such as 1.5s, 2m; "infinity": forever,
 * SC_EMU_FOREVER) in its shell text, in argv ["sleep", "S", ...] or in
 * argv ["sh" or "bash", "-c", TEXT]; 0 for any other command. */
int64_t sc_emu_sleep_ms(char *const *argv, const char *shell);

/* Whether attempt `attempt` of task task_id fails (exits 1): a hash of
 * seed, id and attempt below rate (0..1). The same inputs give the same
 * answer in every run, whatever order tasks come in; a retry is drawn anew. */
bool sc_emu_fails(uint64_t seed, const char *task_id, int attempt, double rate);

/* What an emulated node offers. */
struct sc_emu_shape {
  struct sc_devices devices;
  int64_t cpu_milli, memory_mib;
};

/* A node of an OpenB node list as an emulated node: its GPUs as NVIDIA
 * devices of its model (memory unknown), its CPU and memory. Returns 0, or
 * SC_EPARSE with a message naming the node in err. */
int sc_emu_shape_from_trace(const struct sc_trace_node *t, struct sc_emu_shape *out, char *err,
                            size_t size);

/* A node of the fleet: its name and the index of its shape. */
struct sc_emu_node_def {
  char name[64];
  int shape;
};

/* The whole fleet (sc_emu_plan_release frees it). */
struct sc_emu_plan {
  struct sc_emu_shape *shapes; /* distinct shapes, shared by their nodes */
  int nshapes;
  struct sc_emu_node_def *nodes;
  int n;
  json_t *labels;              /* every node's (owned; may be NULL) */
  struct sc_emu_label spread[SC_EMU_LABELS_MAX];
  int nspread;
};

/* n nodes PREFIX-00001... of one shape. Returns 0, or SC_EINVAL (a bad
 * prefix or n) / SC_ENOMEM with a message in err. */
int sc_emu_plan_uniform(struct sc_emu_plan *p, int n, const char *prefix,
                        const struct sc_emu_shape *shape, char *err, size_t size);

/* One node per entry of an OpenB node list, the first limit (0: all),
 * named after its "sn" column, or PREFIX-00001... when prefix is set. */
int sc_emu_plan_trace(struct sc_emu_plan *p, const struct sc_trace_nodes *list, int limit,
                      const char *prefix, char *err, size_t size);

/* The labels of node i: the common ones, then its spread values (a new
 * object, NULL when out of memory). */
json_t *sc_emu_plan_labels(const struct sc_emu_plan *p, int i);

void sc_emu_plan_release(struct sc_emu_plan *p);

/* How the emulator runs. */
struct sc_emu_config {
  const char *server;      /* controller URL (http:// only) */
  const char *token;       /* agent (bootstrap) or admin token */
  const struct sc_emu_plan *plan;
  int64_t heartbeat_ms;    /* 0: as the controller says */
  double fail_rate;        /* fraction of tasks that exit 1 */
  uint64_t seed;           /* of the failures */
  int connections;         /* shared keep-alive connections; 0: 16 */
  bool quiet;              /* no log line per task */
};

/* Runs the fleet until *stop becomes non-zero (a signal handler may set
 * it), then ends the tasks as the real agent does on SIGTERM and reports
 * what it can within a few seconds. Returns 0, SC_EAUTH when the controller
 * refuses the token at the first registration, SC_EINVAL for a server URL
 * it cannot use, or SC_ENOMEM. Single-threaded: one libevent loop. */
int sc_emu_run(const struct sc_emu_config *cfg, atomic_int *stop);

#endif
