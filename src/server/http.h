/*
 * The HTTP front of the controller over libmicrohttpd: a small pool of
 * worker threads on epoll, so idle and half-open connections cost a
 * socket, not a thread; long-polls are parked (the connection suspended),
 * not blocking a worker, and woken one by one. Bodies up to 1 MiB,
 * bearer-token authentication and a route table of {method, pattern, who
 * may call, handler}. Handlers parse, call the controller and fill a
 * reply; they must not block for long (a commit's fsync is the most).
 */
#ifndef SC_SERVER_HTTP_H
#define SC_SERVER_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "server/auth.h"
#include "server/ctl.h"

#define SC_HTTP_BODY_MAX (1024 * 1024)
#define SC_HTTP_MAX_PARAMS 4

struct sc_server;
struct sc_metrics;
struct MHD_Connection;

struct sc_http_req {
  struct sc_server *srv;
  struct MHD_Connection *conn;
  const char *method, *path;
  char params[SC_HTTP_MAX_PARAMS][128]; /* {id} segments of the pattern */
  const char *body;
  size_t len;
  struct sc_principal who;
  char peer[64];                        /* client IP address */
  /* Parking (sc_http_park): the handler's state from its earlier call
   * on this request (NULL on the first), and the argument to give
   * sc_http_wake for this request. */
  void *state;
  void *wake_arg;
  void *priv;                           /* the front's own */
};

struct sc_http_resp {
  int status;
  json_t *json;            /* owned; sent as application/json */
  const char *text;        /* static text, used when json is NULL */
  char *body;              /* owned text of body_len bytes (freed once
                              sent), used when json and text are NULL */
  size_t body_len;
  const char *content_type;
  const char *const *headers; /* static: more headers, name then value,
                                 NULL-terminated; NULL: none */
  char *location;          /* owned: a Location header, NULL none */
  /* When set, called once when the reply's fate is known: delivered is
   * false when the connection ended before it was sent whole (the client
   * died or went away). done_arg is owned by the hook. */
  void (*done)(void *arg, bool delivered);
  void *done_arg;
  int64_t park_until;      /* set by sc_http_park: no reply yet */
};

typedef void (*sc_http_handler)(struct sc_http_req *req, struct sc_http_resp *resp);

/* Who may call a route: a mask of (1 << SC_TOKEN_*), or SC_ROUTE_PUBLIC. */
#define SC_ROUTE_PUBLIC 0u
#define SC_ROUTE_ADMIN (1u << SC_TOKEN_ADMIN)
#define SC_ROUTE_USER ((1u << SC_TOKEN_ADMIN) | (1u << SC_TOKEN_USER))
#define SC_ROUTE_AGENT ((1u << SC_TOKEN_ADMIN) | (1u << SC_TOKEN_AGENT))
#define SC_ROUTE_ANY_TOKEN ((1u << SC_TOKEN_ADMIN) | (1u << SC_TOKEN_USER) | (1u << SC_TOKEN_AGENT))
/* /metrics: an admin or a metrics token, or anyone when the server runs
 * with metrics_public. */
#define SC_ROUTE_METRICS ((1u << SC_TOKEN_ADMIN) | (1u << SC_TOKEN_METRICS))
/* ... also a task credential (SUPERCELL_TASK_TOKEN); the handler checks
 * that it names the job the path does. */
#define SC_ROUTE_TASK (1u << SC_PRINCIPAL_TASK)

struct sc_route {
  const char *method;
  const char *pattern;     /* "/v1/jobs/{id}/cancel" */
  unsigned who;
  sc_http_handler handler;
};

/* A front before the routes: called first for every request; when it
 * answers (fills resp and returns true) the routes are not looked at. A
 * standby controller's front answers everything (server/standby.c). */
typedef bool (*sc_http_front)(void *arg, struct sc_http_req *req, struct sc_http_resp *resp);

struct sc_server_opts {
  const char *listen;      /* "127.0.0.1:8420"; port 0 picks a free one */
  struct sc_ctl *ctl;      /* borrowed; NULL until sc_server_lead */
  struct sc_auth *auth;    /* borrowed; NULL until sc_server_lead */
  const struct sc_route *routes; /* NULL-terminated; NULL: sc_api_routes is
                                    not linked in, nothing is served */
  struct sc_metrics *metrics;    /* borrowed: the /metrics exporter's state
                                    (server/metrics.h); NULL: none */
  bool metrics_public;           /* SC_ROUTE_METRICS routes need no token */
  sc_http_front front;     /* NULL: none */
  void *front_arg;
};

/* Starts serving. Returns 0 or SC_EINVAL (bad address) / SC_NET. */
int sc_server_start(const struct sc_server_opts *opts, struct sc_server **out);
/* Gives a server started without them its controller and tokens (a
 * standby that took over). Its front must let no request through to the
 * routes before this returns, and must learn that it may after (through
 * a lock or an atomic), which orders these stores before the routes'
 * reads. */
void sc_server_lead(struct sc_server *s, struct sc_ctl *ctl, struct sc_auth *auth);
/* The port actually bound. */
int sc_server_port(const struct sc_server *s);
void sc_server_stop(struct sc_server *s);

struct sc_ctl *sc_server_ctl(struct sc_server *s);
struct sc_auth *sc_server_auth(struct sc_server *s);
struct sc_metrics *sc_server_metrics(struct sc_server *s);

/*
 * Requests answered, by route and status, for /metrics. The front counts
 * each reply once, when it is sent (a parked request when it answers),
 * with relaxed atomics: no lock on the request path. route is the
 * pattern of the route table ("/v1/jobs/{id}"), never a raw path, and
 * NULL for requests that matched no route (404, 405, or refused before
 * routing: 413, 414, 431); status is the code ("404"), or its class
 * ("5xx") for a code the front does not count on its own.
 */
struct sc_http_count {
  const char *method, *route;   /* the route table's, static; NULL: none */
  char status[8];
  uint64_t n;
};
/* The non-zero counts into *out (caller frees): 0 or SC_ENOMEM. */
int sc_server_http_counts(struct sc_server *s, struct sc_http_count **out, int *n);

/* Reply helpers: resp takes ownership of json. */
void sc_http_reply(struct sc_http_resp *resp, int status, json_t *json);
void sc_http_error(struct sc_http_resp *resp, int status, const char *code,
                   const char *message, const char *field);
/* Parses the body as a JSON object; on failure replies 400 and returns NULL. */
json_t *sc_http_body(struct sc_http_req *req, struct sc_http_resp *resp);
/* A query argument or NULL. */
const char *sc_http_query(struct sc_http_req *req, const char *name);
/* Parses integer query argument name into *value when present (left
 * alone when absent); replies 400 naming it and returns false when it is
 * not an integer in [lo, hi]. */
bool sc_http_query_int(struct sc_http_req *req, struct sc_http_resp *resp, const char *name,
                       long long lo, long long hi, long long *value);
/*
 * Long-polls. A handler with nothing to answer yet calls sc_http_park
 * instead of replying: the connection is suspended (no thread waits) and
 * the handler is called again, with req->state as it left it, once
 * sc_http_wake(req->wake_arg) is called (from any thread, any number of
 * times; a wake before the park is not lost) or at deadline_ms
 * (monotonic); it then replies or parks again. state is the handler's,
 * set with sc_http_set_state and freed by free_state when the request
 * ends however it ends (free_state must drop any registration that could
 * still call sc_http_wake with this request's wake_arg).
 */
void sc_http_set_state(struct sc_http_req *req, void *state, void (*free_state)(void *state));
void sc_http_park(struct sc_http_req *req, struct sc_http_resp *resp, int64_t deadline_ms);
void sc_http_wake(void *wake_arg);

/* The request's path with its query (arguments percent-encoded again)
 * into buf: what a redirect to another server sends on. False when it
 * does not fit. */
bool sc_http_target(struct sc_http_req *req, char *buf, size_t size);

/* True when the client has closed its end of the connection (or it broke)
 * while its request was being handled: a reply would reach nobody. */
bool sc_http_peer_closed(struct sc_http_req *req);

/* The API's routes (api.c, api_agent.c), NULL-terminated: what
 * sc_server_opts.routes is set to. */
extern const struct sc_route sc_api_routes[];

/* Splits "host:port" into an IPv4 socket address. */
int sc_http_parse_listen(const char *text, char *host, size_t hostsize, int *port);

#endif
