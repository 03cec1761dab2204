/*
 * GET /metrics: the controller in Prometheus' text format. This module
 * owns the list of series (docs/operations.md is its table) and renders
 * them from snapshots the owners of the numbers give: the controller
 * (sc_ctl_metrics: counters, gauges, fragmentation), the HTTP front
 * (sc_server_http_counts), the store (sc_store_stats) and accounting
 * (the store's usage reports, through a cache of totals kept here).
 */
#ifndef SC_SERVER_METRICS_H
#define SC_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "server/http.h"

/* The exporter's state: the per-tenant usage totals of closed time
 * (struct sc_metrics in metrics.c). One per server; scrapes may come from
 * several threads at once. */
struct sc_metrics;

/* Allocates the exporter's state: 0 or SC_ENOMEM. wall_ms: the wall clock
 * (Unix ms) usage is read up to; NULL: the system's. */
int sc_metrics_new(int64_t (*wall_ms)(void), struct sc_metrics **out);
void sc_metrics_free(struct sc_metrics *m);

/* What to render: the controller (its store too), and optionally the
 * HTTP front and the exporter's state (NULL: their series are left out). */
struct sc_metrics_src {
  struct sc_ctl *ctl;
  struct sc_server *server;
  struct sc_metrics *state;
};

/* The text exposition into *text (NUL-terminated, *len bytes; caller
 * frees): 0 or SC_ENOMEM. A store that cannot report usage leaves those
 * series out (logged), not the whole reply. */
int sc_metrics_render(const struct sc_metrics_src *src, char **text, size_t *len);

/* The route handler (api.c's table): the exposition, 200. */
void sc_metrics_handler(struct sc_http_req *req, struct sc_http_resp *resp);

#endif
