/*
 * libmicrohttpd glue: accumulates bodies (413 past 1 MiB, without reading
 * the rest), authenticates, matches the route table and sends the handler's
 * reply. Unknown paths are 404, known paths with another method 405.
 *
 * Threads: POOL_THREADS workers, each with its own epoll set, run every
 * connection (MHD's thread pool), and one park thread resumes parked
 * requests (woken, or at their deadline, from a min-heap). A parked
 * request's state (conn_req.park) moves RUNNING -> SUSPENDED (the worker,
 * after MHD_suspend_connection) -> WOKEN (sc_http_wake or the deadline,
 * by atomic exchange): whoever moves it from SUSPENDED resumes it, and a
 * wake that comes while the handler still runs makes the worker resume
 * at once, so none is lost and none resumes twice. Locks: park_mu is
 * never held across a call into libmicrohttpd or the controller;
 * sc_http_wake takes only park_mu (it is called under the controller's
 * lock). Replies are counted by route and status (sc_server_http_counts)
 * with relaxed atomics, once each, when they are sent.
 */
#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "server/codec.h"
#include "util/clock.h"
#include "util/dynlib.h"
#include "util/error.h"
#include "util/units.h"
#include "util/log.h"
#include "util/vec.h"

/* The libmicrohttpd functions this file calls, resolved from SC_SONAME_MHD
 * when the first server starts (util/dynlib.h: CLI processes never map it). */
#define MHD_FUNCS(X)                                                           \
  X(MHD_start_daemon) X(MHD_stop_daemon) X(MHD_get_daemon_info)                \
  X(MHD_lookup_connection_value) X(MHD_get_connection_values)                  \
  X(MHD_get_connection_info) X(MHD_create_response_from_buffer)                \
  X(MHD_add_response_header) X(MHD_queue_response) X(MHD_destroy_response)   \
  X(MHD_suspend_connection) X(MHD_resume_connection)

static struct {
#define MHD_SLOT(f) __typeof__(f) *f;
  MHD_FUNCS(MHD_SLOT)
#undef MHD_SLOT
} mhd_api;

static const struct sc_dynsym mhd_syms[] = {
#define MHD_SYM(f) {#f, (void **)&mhd_api.f},
  MHD_FUNCS(MHD_SYM)
#undef MHD_SYM
};

#define MHD_start_daemon (mhd_api.MHD_start_daemon)
#define MHD_stop_daemon (mhd_api.MHD_stop_daemon)
#define MHD_get_daemon_info (mhd_api.MHD_get_daemon_info)
#define MHD_lookup_connection_value (mhd_api.MHD_lookup_connection_value)
#define MHD_get_connection_values (mhd_api.MHD_get_connection_values)
#define MHD_get_connection_info (mhd_api.MHD_get_connection_info)
#define MHD_create_response_from_buffer (mhd_api.MHD_create_response_from_buffer)
#define MHD_add_response_header (mhd_api.MHD_add_response_header)
#define MHD_queue_response (mhd_api.MHD_queue_response)
#define MHD_destroy_response (mhd_api.MHD_destroy_response)
#define MHD_suspend_connection (mhd_api.MHD_suspend_connection)
#define MHD_resume_connection (mhd_api.MHD_resume_connection)

#define POOL_THREADS 8         /* workers: a handler may wait for a commit. 32
                                  started more at 10,000 nodes (bench/scale.sh)
                                  but grew the ASan build's RSS past
                                  security_bounded's 20 MB: each new worker's
                                  allocator cache; kept at 8 until measured */
#define IDLE_TIMEOUT_S 10      /* a connection silent this long is closed (not
                                  while parked: MHD does not time those out) */
#define MAX_CONNECTIONS 60000  /* parked agents' polls count too */

static pthread_once_t mhd_once = PTHREAD_ONCE_INIT;
static int mhd_rc;

static void mhd_load(void)
{
  char err[300];

  if ((mhd_rc = sc_dynlib_open(SC_SONAME_MHD, mhd_syms, sizeof mhd_syms / sizeof *mhd_syms,
                               err, sizeof err)) != 0)
    sc_error("%s", err);
}

enum { PARK_RUNNING = 0, PARK_SUSPENDED = 1, PARK_WOKEN = 2 };

/* The status codes counted on their own; any other is counted by class
 * (1xx..5xx) in the slots after them. */
static const int counted_status[] = {200, 201, 204, 400, 401, 403, 404, 405, 409,
                                     413, 414, 415, 422, 429, 431, 500, 503};
#define NCOUNTED ((int)(sizeof counted_status / sizeof counted_status[0]))
#define NSTATUS_SLOTS (NCOUNTED + 5)

/* Replies of one route (or of none: the last row), by status slot. */
struct route_counts {
  _Atomic uint64_t n[NSTATUS_SLOTS];
};

/* Per-request state kept by MHD between calls. */
struct conn_req {
  char *body;
  size_t len, cap;
  bool too_big;
  void (*done)(void *arg, bool delivered); /* the reply's hook, see http.h */
  void *done_arg;
  struct sc_server *srv;
  struct MHD_Connection *conn;
  void *state;                  /* the handler's, across its parks */
  void (*free_state)(void *state);
  _Atomic int park;             /* PARK_*, see the top of the file */
  int64_t deadline;             /* monotonic ms, while parked */
  int heap_at;                  /* index in srv->heap, -1: not in it */
  bool resume_queued;           /* on srv->resume */
  bool parked;                  /* it was parked once (its worker's alone) */
  bool counted;                 /* its reply was counted (count_reply) */
  struct conn_req *resume_next;
};

struct sc_server {
  struct MHD_Daemon *daemon;
  struct sc_ctl *ctl;
  struct sc_auth *auth;
  const struct sc_route *routes;
  struct sc_metrics *metrics;
  bool metrics_public;
  int nroutes;
  struct route_counts *counts;  /* nroutes + 1 rows: the last for no route */
  sc_http_front front;
  void *front_arg;
  int port;
  pthread_mutex_t park_mu;      /* the heap and the resume list */
  pthread_cond_t park_cond;     /* monotonic */
  pthread_t park_thread;
  bool park_started, park_stop;
  struct conn_req **heap;       /* parked requests, earliest deadline first */
  int nheap, capheap;
  struct conn_req *resume;      /* woken while suspended: to resume */
};

struct sc_ctl *sc_server_ctl(struct sc_server *s)
{
  return s->ctl;
}

struct sc_auth *sc_server_auth(struct sc_server *s)
{
  return s->auth;
}

struct sc_metrics *sc_server_metrics(struct sc_server *s)
{
  return s->metrics;
}

static int status_slot(int status)
{
  for (int i = 0; i < NCOUNTED; i++)
    if (counted_status[i] == status)
      return i;
  return NCOUNTED + (status >= 100 && status < 600 ? status / 100 - 1 : 4);
}

/* Counts a reply of route (-1: none) with status. */
static void count_reply(struct sc_server *s, int route, int status)
{
  struct route_counts *rc = &s->counts[route >= 0 ? route : s->nroutes];

  atomic_fetch_add_explicit(&rc->n[status_slot(status)], 1, memory_order_relaxed);
}

int sc_server_http_counts(struct sc_server *s, struct sc_http_count **out, int *n)
{
  struct sc_http_count *c = NULL;
  int cap = 0;

  *out = NULL;
  *n = 0;
  for (int r = 0; r <= s->nroutes; r++)
    for (int k = 0; k < NSTATUS_SLOTS; k++) {
      uint64_t v = atomic_load_explicit(&s->counts[r].n[k], memory_order_relaxed);
      if (v == 0)
        continue;
      if (SC_VEC_RESERVE_ONE(c, *n, cap) < 0) {
        free(c);
        *n = 0;
        return SC_ENOMEM;
      }
      c[*n].method = r < s->nroutes ? s->routes[r].method : NULL;
      c[*n].route = r < s->nroutes ? s->routes[r].pattern : NULL;
      if (k < NCOUNTED)
        snprintf(c[*n].status, sizeof c[*n].status, "%d", counted_status[k]);
      else
        snprintf(c[*n].status, sizeof c[*n].status, "%dxx", k - NCOUNTED + 1);
      c[*n].n = v;
      (*n)++;
    }
  *out = c;
  return 0;
}

void sc_http_reply(struct sc_http_resp *resp, int status, json_t *json)
{
  json_decref(resp->json);
  resp->status = status;
  resp->json = json;
}

void sc_http_error(struct sc_http_resp *resp, int status, const char *code,
                   const char *message, const char *field)
{
  sc_http_reply(resp, status, sc_error_json(code, message, field));
}

const char *sc_http_query(struct sc_http_req *req, const char *name)
{
  return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool sc_http_query_int(struct sc_http_req *req, struct sc_http_resp *resp, const char *name,
                       long long lo, long long hi, long long *value)
{
  const char *text = sc_http_query(req, name);
  char msg[128];
  long long v;

  if (!text)
    return true;
  if (sc_parse_int_range(text, lo, hi, &v) < 0) {
    snprintf(msg, sizeof msg, "'%s' must be an integer between %lld and %lld", name, lo, hi);
    sc_http_error(resp, 400, "bad_request", msg, name);
    return false;
  }
  *value = v;
  return true;
}

bool sc_http_peer_closed(struct sc_http_req *req)
{
  const union MHD_ConnectionInfo *info =
    MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  char byte;
  ssize_t n;

  if (!info)
    return false;
  /* This thread alone reads the connection while its handler runs. */
  n = recv(info->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

json_t *sc_http_body(struct sc_http_req *req, struct sc_http_resp *resp)
{
  json_error_t err;
  json_t *body;
  char msg[256];

  if (req->len == 0) {
    sc_http_error(resp, 400, "bad_request", "the request needs a JSON body", NULL);
    return NULL;
  }
  body = json_loadb(req->body, req->len, JSON_REJECT_DUPLICATES, &err);
  if (!body) {
    snprintf(msg, sizeof msg, "malformed JSON at line %d, column %d: %s", err.line,
             err.column, err.text);
    sc_http_error(resp, 400, "bad_json", msg, NULL);
    return NULL;
  }
  if (!json_is_object(body)) {
    json_decref(body);
    sc_http_error(resp, 400, "bad_request", "the body must be a JSON object", NULL);
    return NULL;
  }
  return body;
}

struct target_buf {
  char *buf;
  size_t size, len;
  bool full;
};

static void target_put(struct target_buf *t, const char *text, bool escape)
{
  static const char hex[] = "0123456789ABCDEF";

  for (const unsigned char *p = (const unsigned char *)text; *p && !t->full; p++) {
    bool plain = !escape || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                 (*p >= '0' && *p <= '9') || strchr("-._~", *p);
    if (t->len + (plain ? 1 : 3) >= t->size) {
      t->full = true;
      break;
    }
    if (plain) {
      t->buf[t->len++] = (char)*p;
    } else {
      t->buf[t->len++] = '%';
      t->buf[t->len++] = hex[*p >> 4];
      t->buf[t->len++] = hex[*p & 15];
    }
  }
  t->buf[t->len] = '\0';
}

static enum MHD_Result target_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
  struct target_buf *t = cls;

  (void)kind;
  target_put(t, strchr(t->buf, '?') ? "&" : "?", false);
  target_put(t, key, true);
  if (value) {
    target_put(t, "=", false);
    target_put(t, value, true);
  }
  return t->full ? MHD_NO : MHD_YES;
}

bool sc_http_target(struct sc_http_req *req, char *buf, size_t size)
{
  struct target_buf t = {buf, size, 0, size == 0};

  if (size == 0)
    return false;
  buf[0] = '\0';
  target_put(&t, req->path, false);
  MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, target_arg, &t);
  return !t.full;
}

/* Matches path against pattern, filling {params}. */
static bool route_match(const char *pattern, const char *path, struct sc_http_req *req)
{
  int np = 0;

  while (*pattern && *path) {
    if (*pattern == '{') {
      size_t len = strcspn(path, "/");
      pattern = strchr(pattern, '}');
      if (!pattern || len == 0 || len >= sizeof req->params[0] || np >= SC_HTTP_MAX_PARAMS)
        return false;
      memcpy(req->params[np], path, len);
      req->params[np++][len] = '\0';
      pattern++;
      path += len;
    } else if (*pattern++ != *path++) {
      return false;
    }
  }
  return *pattern == '\0' && *path == '\0';
}

/* Checks the bearer token against the route's allowed kinds. */
static bool authorize(struct sc_server *s, const struct sc_route *r, struct sc_http_req *req,
                      struct sc_http_resp *resp)
{
  const char *h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Authorization");

  if (r->who == SC_ROUTE_PUBLIC || (r->who == SC_ROUTE_METRICS && s->metrics_public))
    return true;
  if (h && s->ctl && (r->who & SC_ROUTE_TASK) && strncasecmp(h, "Bearer ", 7) == 0 &&
      sc_ctl_task_token_check(s->ctl, h + 7, &req->who.task_job, &req->who.task_attempt) == 0) {
    req->who.kind = SC_PRINCIPAL_TASK;
    return true;
  }
  if (!h || strncasecmp(h, "Bearer ", 7) != 0 || sc_auth_check(s->auth, h + 7, &req->who) < 0) {
    sc_http_error(resp, 401, "unauthorized",
                  h ? "invalid token" : "missing 'Authorization: Bearer <token>' header", NULL);
    return false;
  }
  if (!(r->who & (1u << req->who.kind))) {
    sc_http_error(resp, 403, "forbidden", "this token may not call this endpoint", NULL);
    return false;
  }
  return true;
}

/* True for "application/json", any case, alone or with parameters
 * ("; charset=utf-8"): not "application/jsonx". */
static bool json_media_type(const char *ctype)
{
  size_t n = strlen("application/json");

  while (*ctype == ' ' || *ctype == '\t')
    ctype++;
  if (strncasecmp(ctype, "application/json", n) != 0)
    return false;
  ctype += n;
  while (*ctype == ' ' || *ctype == '\t')
    ctype++;
  return *ctype == '\0' || *ctype == ';';
}

/* Routes req and calls its handler; returns the route's index, or -1
 * when none matched. */
static int dispatch(struct sc_server *s, struct sc_http_req *req, struct sc_http_resp *resp)
{
  bool path_known = false;
  const char *ctype;

  if (s->front && s->front(s->front_arg, req, resp))
    return -1; /* a standby's answer: counted with the unrouted */
  for (const struct sc_route *r = s->routes; r && r->pattern; r++) {
    if (!route_match(r->pattern, req->path, req))
      continue;
    path_known = true;
    if (strcmp(r->method, req->method) != 0)
      continue;
    if (!authorize(s, r, req, resp))
      return (int)(r - s->routes);
    ctype = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Type");
    if (req->len > 0 && ctype && !json_media_type(ctype)) {
      sc_http_error(resp, 415, "unsupported_media_type",
                    "the body must be sent as 'Content-Type: application/json'", NULL);
      return (int)(r - s->routes);
    }
    r->handler(req, resp);
    return (int)(r - s->routes);
  }
  if (path_known)
    sc_http_error(resp, 405, "method_not_allowed", "method not allowed on this path", NULL);
  else
    sc_http_error(resp, 404, "not_found", "no such endpoint", NULL);
  return -1;
}

static enum MHD_Result queue_reply(struct MHD_Connection *conn, struct sc_http_resp *resp)
{
  struct MHD_Response *r;
  enum MHD_Result ret;
  char *text = NULL;
  size_t len;

  if (resp->json) {
    text = json_dumps(resp->json, JSON_COMPACT);
    json_decref(resp->json);
    resp->json = NULL;
    if (!text)
      return MHD_NO;
    len = strlen(text);
    text[len] = '\0';
    /* A trailing newline keeps curl output readable. */
    char *grown = realloc(text, len + 2);
    if (grown) {
      text = grown;
      text[len++] = '\n';
      text[len] = '\0';
    }
    r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    resp->content_type = "application/json";
  } else if (!resp->text && resp->body) {
    text = resp->body; /* freed by the library once sent, or below */
    resp->body = NULL;
    r = MHD_create_response_from_buffer(resp->body_len, text, MHD_RESPMEM_MUST_FREE);
  } else {
    const char *body = resp->text ? resp->text : "";
    r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
  }
  if (!r) {
    free(text);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type",
                          resp->content_type ? resp->content_type : "application/json");
  for (const char *const *h = resp->headers; h && h[0] && h[1]; h += 2)
    MHD_add_response_header(r, h[0], h[1]);
  if (resp->location)
    MHD_add_response_header(r, "Location", resp->location);
  ret = MHD_queue_response(conn, (unsigned)resp->status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct sc_http_resp *resp)
{
  enum MHD_Result ret = queue_reply(conn, resp);

  free(resp->location);
  resp->location = NULL;
  return ret;
}

static void peer_of(struct MHD_Connection *conn, char *buf, size_t size)
{
  const union MHD_ConnectionInfo *info =
    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

  buf[0] = '\0';
  if (info && info->client_addr && info->client_addr->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)info->client_addr)->sin_addr, buf,
              (socklen_t)size);
}

/* Limits of a request's head, checked by us so the answer is the JSON
 * error contract; the library's own limit (its per-connection memory,
 * CONN_MEMORY) is above them, so only a head past that gets its HTML. */
#define URI_MAX (8 * 1024)
#define HEADERS_MAX (32 * 1024)
#define CONN_MEMORY (64 * 1024)

static enum MHD_Result add_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
  size_t *total = cls;

  (void)kind;
  *total += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": ", CRLF / "=", "&" */
  return MHD_YES;
}

/* 414 or 431 when the request's URI or headers pass our limits, else 0. */
static int head_too_big(struct MHD_Connection *conn, const char *url, const char **what)
{
  size_t uri = strlen(url), headers = 0;

  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_size, &uri);
  MHD_get_connection_values(conn, MHD_HEADER_KIND, add_size, &headers);
  if (uri > URI_MAX) {
    *what = "the URI is longer than 8 KiB";
    return 414;
  }
  if (headers > HEADERS_MAX) {
    *what = "the request headers exceed 32 KiB";
    return 431;
  }
  return 0;
}

/* Sends cr's reply, counted once by route (-1: none) and status. */
static enum MHD_Result answer(struct sc_server *s, struct conn_req *cr, int route,
                              struct sc_http_resp *resp)
{
  if (!cr->counted) {
    cr->counted = true;
    count_reply(s, route, resp->status);
  }
  return send_reply(cr->conn, resp);
}

static enum MHD_Result too_big(struct sc_server *s, struct conn_req *cr)
{
  struct sc_http_resp resp = {0};

  sc_http_error(&resp, 413, "too_large", "the body exceeds 1 MiB", NULL);
  return answer(s, cr, -1, &resp);
}

/* Appends an upload chunk, or marks the request too big. */
static void body_append(struct conn_req *cr, const char *data, size_t size)
{
  if (cr->too_big || cr->len + size > SC_HTTP_BODY_MAX) {
    cr->too_big = true;
    return;
  }
  if (cr->len + size + 1 > cr->cap) {
    size_t cap = (cr->len + size + 1) * 2;
    char *grown = realloc(cr->body, cap < SC_HTTP_BODY_MAX + 1 ? cap : SC_HTTP_BODY_MAX + 1);
    if (!grown) {
      cr->too_big = true;
      return;
    }
    cr->body = grown;
    cr->cap = cap < SC_HTTP_BODY_MAX + 1 ? cap : SC_HTTP_BODY_MAX + 1;
  }
  memcpy(cr->body + cr->len, data, size);
  cr->len += size;
  cr->body[cr->len] = '\0';
}

/* ---- parked requests ---- */

static bool heap_less(const struct conn_req *a, const struct conn_req *b)
{
  return a->deadline < b->deadline;
}

static void heap_set(struct sc_server *s, int i, struct conn_req *cr)
{
  s->heap[i] = cr;
  cr->heap_at = i;
}

/* Restores the heap order around i (its entry's deadline changed). */
static void heap_fix(struct sc_server *s, int i)
{
  struct conn_req *cr = s->heap[i];

  while (i > 0 && heap_less(cr, s->heap[(i - 1) / 2])) { /* up */
    heap_set(s, i, s->heap[(i - 1) / 2]);
    i = (i - 1) / 2;
  }
  for (;;) { /* down */
    int k = 2 * i + 1;
    if (k >= s->nheap)
      break;
    if (k + 1 < s->nheap && heap_less(s->heap[k + 1], s->heap[k]))
      k++;
    if (!heap_less(s->heap[k], cr))
      break;
    heap_set(s, i, s->heap[k]);
    i = k;
  }
  heap_set(s, i, cr);
}

static void heap_remove(struct sc_server *s, struct conn_req *cr)
{
  int i = cr->heap_at;
  struct conn_req *last = s->heap[--s->nheap];

  cr->heap_at = -1;
  if (last != cr) {
    heap_set(s, i, last);
    heap_fix(s, i);
  }
}

/* Puts cr on the resume list (park_mu held). */
static void resume_queue(struct sc_server *s, struct conn_req *cr)
{
  if (cr->resume_queued)
    return;
  cr->resume_queued = true;
  cr->resume_next = s->resume;
  s->resume = cr;
  pthread_cond_signal(&s->park_cond);
}

void sc_http_wake(void *wake_arg)
{
  struct conn_req *cr = wake_arg;

  if (atomic_exchange(&cr->park, PARK_WOKEN) == PARK_SUSPENDED) {
    pthread_mutex_lock(&cr->srv->park_mu);
    resume_queue(cr->srv, cr);
    pthread_mutex_unlock(&cr->srv->park_mu);
  }
}

void sc_http_set_state(struct sc_http_req *req, void *state, void (*free_state)(void *state))
{
  struct conn_req *cr = req->priv;

  cr->state = state;
  cr->free_state = free_state;
  req->state = state;
}

void sc_http_park(struct sc_http_req *req, struct sc_http_resp *resp, int64_t deadline_ms)
{
  (void)req;
  json_decref(resp->json);
  resp->json = NULL;
  free(resp->location);
  resp->location = NULL;
  resp->park_until = deadline_ms > 0 ? deadline_ms : 1;
}

/* Resumes what was woken and what reached its deadline; the rest of the
 * time it sleeps until the earliest deadline. */
static void *park_main(void *arg)
{
  struct sc_server *s = arg;

  pthread_mutex_lock(&s->park_mu);
  while (!s->park_stop) {
    int64_t now = sc_clock_mono_ms();
    struct conn_req *list;
    while (s->nheap > 0 && s->heap[0]->deadline <= now) {
      struct conn_req *cr = s->heap[0];
      heap_remove(s, cr);
      if (atomic_exchange(&cr->park, PARK_WOKEN) == PARK_SUSPENDED)
        resume_queue(s, cr);
    }
    if ((list = s->resume)) {
      s->resume = NULL;
      for (struct conn_req *cr = list; cr; cr = cr->resume_next)
        cr->resume_queued = false;
      pthread_mutex_unlock(&s->park_mu);
      /* Suspended connections are not completed (sc_server_stop stops
       * this thread first): these are all alive. */
      while (list) {
        struct conn_req *next = list->resume_next;
        MHD_resume_connection(list->conn);
        list = next;
      }
      pthread_mutex_lock(&s->park_mu);
      continue;
    }
    if (s->nheap > 0) {
      struct timespec ts = sc_clock_timespec(s->heap[0]->deadline);
      pthread_cond_timedwait(&s->park_cond, &s->park_mu, &ts);
    } else {
      pthread_cond_wait(&s->park_cond, &s->park_mu);
    }
  }
  pthread_mutex_unlock(&s->park_mu);
  return NULL;
}

/* The handler parked cr's request: suspends its connection until it is
 * woken or its deadline comes. False when out of memory. */
static bool park(struct sc_server *s, struct conn_req *cr, int64_t deadline)
{
  int expected = PARK_RUNNING;

  pthread_mutex_lock(&s->park_mu);
  if (cr->heap_at < 0 && SC_VEC_RESERVE_ONE(s->heap, s->nheap, s->capheap) < 0) {
    pthread_mutex_unlock(&s->park_mu);
    return false;
  }
  cr->deadline = deadline;
  cr->parked = true;
  if (cr->heap_at < 0)
    heap_set(s, s->nheap++, cr);
  heap_fix(s, cr->heap_at);
  if (s->heap[0] == cr)
    pthread_cond_signal(&s->park_cond); /* a new earliest deadline */
  pthread_mutex_unlock(&s->park_mu);
  MHD_suspend_connection(cr->conn);
  if (!atomic_compare_exchange_strong(&cr->park, &expected, PARK_SUSPENDED))
    MHD_resume_connection(cr->conn); /* woken while its handler ran */
  return true;
}

/* cr runs again (or ends): it leaves the heap and the resume list. */
static void unpark(struct sc_server *s, struct conn_req *cr)
{
  pthread_mutex_lock(&s->park_mu);
  if (cr->heap_at >= 0)
    heap_remove(s, cr);
  if (cr->resume_queued) {
    struct conn_req **pp = &s->resume;
    while (*pp != cr)
      pp = &(*pp)->resume_next;
    *pp = cr->resume_next;
    cr->resume_queued = false;
  }
  pthread_mutex_unlock(&s->park_mu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
  struct sc_server *s = cls;
  struct conn_req *cr = *con_cls;
  struct sc_http_req req;
  struct sc_http_resp resp = {.status = 500};
  const char *clen, *what;
  int status, route;

  (void)version;
  if (!cr) {
    if (!(cr = calloc(1, sizeof *cr)))
      return MHD_NO;
    cr->srv = s;
    cr->conn = conn;
    cr->heap_at = -1;
    atomic_init(&cr->park, PARK_RUNNING);
    *con_cls = cr;
    if ((status = head_too_big(conn, url, &what)) != 0) {
      cr->too_big = true;
      sc_http_error(&resp, status, status == 414 ? "uri_too_long" : "headers_too_large", what,
                    NULL);
      return answer(s, cr, -1, &resp);
    }
    clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (clen && strtoll(clen, NULL, 10) > SC_HTTP_BODY_MAX) {
      cr->too_big = true;
      return too_big(s, cr);
    }
    return MHD_YES;
  }
  if (*upload_data_size) {
    body_append(cr, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (cr->too_big)
    return too_big(s, cr);
  if (cr->parked)
    unpark(s, cr); /* it runs again: out of the heap (heap_at is park_mu's) */
  atomic_store(&cr->park, PARK_RUNNING);
  memset(&req, 0, sizeof req);
  req.srv = s;
  req.conn = conn;
  req.state = cr->state;
  req.wake_arg = cr;
  req.priv = cr;
  req.method = method;
  req.path = url;
  req.body = cr->body ? cr->body : "";
  req.len = cr->len;
  peer_of(conn, req.peer, sizeof req.peer);
  route = dispatch(s, &req, &resp);
  if (resp.park_until > 0) {
    if (park(s, cr, resp.park_until))
      return MHD_YES; /* called again when woken */
    sc_http_error(&resp, 503, "internal", "out of memory", NULL);
  }
  cr->done = resp.done;
  cr->done_arg = resp.done_arg;
  return answer(s, cr, route, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  struct conn_req *cr = *con_cls;

  (void)cls;
  (void)conn;
  if (cr) {
    if (cr->done)
      cr->done(cr->done_arg, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    if (cr->free_state)
      cr->free_state(cr->state); /* drops what could still wake cr */
    if (cr->parked)
      unpark(cr->srv, cr);
    free(cr->body);
    free(cr);
    *con_cls = NULL;
  }
}

int sc_http_parse_listen(const char *text, char *host, size_t hostsize, int *port)
{
  const char *colon = text ? strrchr(text, ':') : NULL;
  char *end;
  long p;

  *port = -1;
  if (!colon || (size_t)(colon - text) >= hostsize)
    return SC_EINVAL;
  memcpy(host, text, (size_t)(colon - text));
  host[colon - text] = '\0';
  if (!*host)
    snprintf(host, hostsize, "0.0.0.0");
  p = strtol(colon + 1, &end, 10);
  if (*end || end == colon + 1 || p < 0 || p > 65535)
    return SC_EINVAL;
  *port = (int)p;
  return 0;
}

/* Parked agents' polls hold a socket each: as many as the hard limit. */
static void raise_fd_limit(void)
{
  struct rlimit r;

  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &r) != 0)
      sc_warn("cannot raise the open file limit: %s", strerror(errno));
  }
}

static void server_free(struct sc_server *s)
{
  if (s->park_started) {
    pthread_mutex_lock(&s->park_mu);
    s->park_stop = true;
    pthread_cond_signal(&s->park_cond);
    pthread_mutex_unlock(&s->park_mu);
    pthread_join(s->park_thread, NULL);
  }
  pthread_cond_destroy(&s->park_cond);
  pthread_mutex_destroy(&s->park_mu);
  free(s->heap);
  free(s->counts);
  free(s);
}

int sc_server_start(const struct sc_server_opts *opts, struct sc_server **out)
{
  struct sockaddr_in addr;
  struct sc_server *s;
  const union MHD_DaemonInfo *info;
  char host[64];
  int port;

  *out = NULL;
  if (sc_http_parse_listen(opts->listen, host, sizeof host, &port) < 0)
    return SC_EINVAL;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
    return SC_EINVAL;
  pthread_once(&mhd_once, mhd_load);
  if (mhd_rc)
    return mhd_rc;
  if (!(s = calloc(1, sizeof *s)))
    return SC_ENOMEM;
  s->ctl = opts->ctl;
  s->auth = opts->auth;
  s->routes = opts->routes;
  s->metrics = opts->metrics;
  s->metrics_public = opts->metrics_public;
  for (const struct sc_route *r = s->routes; r && r->pattern; r++)
    s->nroutes++;
  if (!(s->counts = calloc((size_t)s->nroutes + 1, sizeof *s->counts))) {
    free(s);
    return SC_ENOMEM;
  }
  s->front = opts->front;
  s->front_arg = opts->front_arg;
  raise_fd_limit();
  if (pthread_mutex_init(&s->park_mu, NULL) != 0) {
    free(s->counts);
    free(s);
    return SC_ENOMEM;
  }
  if (sc_clock_cond_init(&s->park_cond) != 0 ||
      pthread_create(&s->park_thread, NULL, park_main, s) != 0) {
    server_free(s);
    return SC_ENOMEM;
  }
  s->park_started = true;
  s->daemon = MHD_start_daemon(
    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, on_request, s,
    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
    s, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POOL_THREADS, MHD_OPTION_CONNECTION_TIMEOUT,
    (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY, MHD_OPTION_END);
  if (!s->daemon) {
    server_free(s);
    return SC_ENET;
  }
  info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : port;
  *out = s;
  return 0;
}

void sc_server_lead(struct sc_server *s, struct sc_ctl *ctl, struct sc_auth *auth)
{
  s->ctl = ctl;
  s->auth = auth;
}

int sc_server_port(const struct sc_server *s)
{
  return s->port;
}

void sc_server_stop(struct sc_server *s)
{
  struct conn_req **parked;
  int n = 0;

  if (!s)
    return;
  /* The park thread stops, then every parked request is resumed (MHD
   * must not stop with suspended connections): they answer or close. */
  pthread_mutex_lock(&s->park_mu);
  s->park_stop = true;
  pthread_cond_signal(&s->park_cond);
  pthread_mutex_unlock(&s->park_mu);
  pthread_join(s->park_thread, NULL);
  s->park_started = false;
  pthread_mutex_lock(&s->park_mu);
  for (struct conn_req *cr = s->resume; cr; cr = cr->resume_next)
    n++;
  parked = malloc((size_t)(s->nheap + n + 1) * sizeof *parked);
  n = 0;
  /* Woken, not yet resumed (the thread stopped first)... */
  for (struct conn_req *cr = s->resume; cr; cr = cr->resume_next) {
    cr->resume_queued = false;
    if (parked)
      parked[n++] = cr;
  }
  s->resume = NULL;
  /* ... and still asleep (a worker that has not suspended yet resumes
   * its own: it finds the state moved). */
  while (s->nheap > 0) {
    struct conn_req *cr = s->heap[0];
    heap_remove(s, cr);
    if (atomic_exchange(&cr->park, PARK_WOKEN) == PARK_SUSPENDED && parked)
      parked[n++] = cr;
  }
  pthread_mutex_unlock(&s->park_mu);
  for (int i = 0; i < n; i++)
    MHD_resume_connection(parked[i]->conn);
  free(parked);
  MHD_stop_daemon(s->daemon);
  server_free(s);
}
