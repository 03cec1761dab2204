/*
 * Preemption notices on the node: the file SUPERCELL_PREEMPTED a task
 * finds in its working directory when its job is taken back, before the
 * job's preempt_signal reaches it (docs/control-plane.md, "Preemption and
 * checkpoints"). Written as the task's own user, through the process's
 * /proc cwd link, so it lands where the task runs (its own view when
 * isolated) and never where the task could not write itself.
 */
#ifndef SC_AGENT_NOTICE_H
#define SC_AGENT_NOTICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/task.h"

/* What a notice says. */
struct sc_notice {
  const char *by;          /* the preemptor ("j-000123"), "" an operator */
  const char *kind;        /* reclaim, priority, operator */
  int signal;              /* what the task gets now */
  int64_t grace_ms;        /* SIGKILL this long after */
  int64_t now_wall_ms;     /* the node's clock now (Unix ms) */
};

/* The notice file's text into buf: key=value lines (preempted_by, kind,
 * signal, grace_s, deadline as RFC 3339 UTC, deadline_unix). */
void sc_notice_format(const struct sc_notice *n, char *buf, size_t size);

/* Writes text to SUPERCELL_PREEMPTED in the working directory of t's
 * process (isolated: the task under its namespace's init), as that
 * process's user, never following a link there. 0, or SC_EIO when it
 * could not be written (the signal still goes out). */
int sc_notice_write(const struct sc_task *t, bool isolated, const char *text);

#endif
