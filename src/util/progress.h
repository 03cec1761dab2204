/*
 * A terminal progress bar for long operations: items done out of total, the
 * rate and the ETA, redrawn in place on stderr. Disabled (silent) when the
 * caller says output is not a terminal.
 */
#ifndef SC_UTIL_PROGRESS_H
#define SC_UTIL_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

struct sc_progress {
  const char *what;
  size_t total;
  bool enabled;
  double start;       /* monotonic seconds */
  double last_draw;
};

void sc_progress_start(struct sc_progress *p, const char *what, size_t total, bool enabled);
/* Redraws at most ten times a second. */
void sc_progress_update(struct sc_progress *p, size_t done);
/* Draws the final state and ends the line. */
void sc_progress_finish(struct sc_progress *p, size_t done);

#endif
