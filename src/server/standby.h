/*
 * The HTTP front of a controller that takes part in leader election
 * (server/lease.h; docs/operations.md, "Standby controllers (HA)"): a
 * leader serves its routes and a standby sends clients on to the leader.
 */
#ifndef SC_SERVER_STANDBY_H
#define SC_SERVER_STANDBY_H

#include <stdbool.h>

#include "server/http.h"

/*
 * The front (sc_server_opts.front) for lease arg (a struct sc_lease *).
 * GET /healthz answers on every role: {"status": "ok", "role": "leader"
 * or "standby", "leader": URL or null, "epoch": N}. A leader's other
 * requests go to the routes. A standby's do not: GET and HEAD, which any
 * client may send again, are redirected (307, Location: the leader's URL
 * with the same path and query); other methods are refused (503, code
 * "not_leader") naming the leader, so a client re-sends a write on
 * purpose, knowing nothing of it was done here. Both bodies carry
 * "leader". While no controller leads (the lease lapsed) or this one is
 * taking over, everything else is 503 ("no_leader", "taking_over") with
 * Retry-After: 1.
 */
bool sc_standby_front(void *arg, struct sc_http_req *req, struct sc_http_resp *resp);

#endif
