/*
 * A writer of Prometheus' text exposition format (version 0.0.4): a
 * family's HELP and TYPE lines, then its samples, each `name{labels}
 * value`. Label values and help text are escaped as the format says
 * (backslash, double quote, newline), and bytes that are not UTF-8 become
 * '?', so any string may be a label value. The caller keeps a family's
 * samples together and names families and labels validly
 * ([a-zA-Z_:][a-zA-Z0-9_:]*). Errors are sticky (the first one is kept in
 * err), as with store batches: write everything, check once.
 */
#ifndef SC_UTIL_PROM_H
#define SC_UTIL_PROM_H

#include <stddef.h>

#include "util/histogram.h"

struct sc_prom {
  char *buf;           /* owned, NUL-terminated */
  size_t len, cap;
  int err;             /* 0, or SC_ENOMEM from the first failed growth */
};

struct sc_prom_label {
  const char *name, *value;
};

/* Fills caller-owned p: empty. */
void sc_prom_init(struct sc_prom *p);
/* Frees p's buffer. */
void sc_prom_release(struct sc_prom *p);
/* Hands p's text (NUL-terminated, *len bytes) to the caller, who frees
 * it; p is left empty. NULL (and p released) when p->err is set. */
char *sc_prom_detach(struct sc_prom *p, size_t *len);

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge,
 * histogram). */
void sc_prom_family(struct sc_prom *p, const char *name, const char *type, const char *help);
/* One sample: name{labels[0..n)} value. Integral values are written
 * without a fraction, others so they read back exactly; NaN and the
 * infinities as Prometheus spells them. */
void sc_prom_sample(struct sc_prom *p, const char *name, const struct sc_prom_label *labels,
                    int n, double value);
/* The samples of a histogram: name_bucket{labels, le="..."} for each
 * bound and +Inf (cumulative), name_sum and name_count. */
void sc_prom_histogram(struct sc_prom *p, const char *name, const struct sc_prom_label *labels,
                       int n, const struct sc_histogram_snap *h);

/* value formatted as the format wants it, into buf (at least 32 bytes). */
void sc_prom_format_value(double value, char *buf, size_t size);

#endif
