/* libevent transport for plain http://: one request at a time on a
 * kept-alive connection, a deadline timer for the whole call. libevent maps
 * in a fraction of a millisecond, which is most of why `supercell submit`
 * is fast (docs/fast-cli.md). */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/http_int.h"

void sc_http_event_release(struct sc_http *h)
{
  if (h->evconn)
    evhttp_connection_free(h->evconn);
  if (h->evbase)
    event_base_free(h->evbase);
  h->evconn = h->evbase = NULL;
}

/* The state of one libevent call, shared with its callbacks. */
struct ev_call {
  struct sc_http *h;
  struct sc_http_buf *buf;
  long status;
  bool done, timed_out;
  enum evhttp_request_error why;  /* libevent's reason, when it said one */
  bool have_why;
};

static void ev_done(struct evhttp_request *req, void *arg)
{
  struct ev_call *c = arg;
  struct evbuffer *in;
  size_t n;

  c->done = true;
  if (req && evhttp_request_get_response_code(req) > 0) {
    c->status = evhttp_request_get_response_code(req);
    in = evhttp_request_get_input_buffer(req);
    n = evbuffer_get_length(in);
    if (n && sc_http_buf_append(c->buf, (const char *)evbuffer_pullup(in, -1), n) != 0)
      c->status = 0;
  }
  event_base_loopbreak(c->h->evbase);
}

static void ev_error(enum evhttp_request_error why, void *arg)
{
  struct ev_call *c = arg;

  c->why = why;
  c->have_why = true;
}

static void ev_deadline(evutil_socket_t fd, short what, void *arg)
{
  struct ev_call *c = arg;

  (void)fd, (void)what;
  c->timed_out = true;
  event_base_loopbreak(c->h->evbase);
}

/* Why host:port cannot be reached, in h->error: a blocking connect made
 * only after libevent's failed, since libevent does not say why. */
static void tcp_diagnose(struct sc_http *h, long timeout_ms)
{
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV}, *ai;
  struct pollfd p = {.events = POLLOUT};
  char service[16];
  socklen_t len = sizeof(int);
  int err = 0, rc;

  snprintf(service, sizeof service, "%d", h->port);
  if (getaddrinfo(h->addr, service, &hints, &ai) != 0)
    return;
  if ((p.fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
    err = errno;
  } else if (connect(p.fd, ai->ai_addr, ai->ai_addrlen) != 0 && (err = errno) == EINPROGRESS) {
    rc = poll(&p, 1, (int)(timeout_ms < 5000 ? timeout_ms : 5000));
    err = rc == 0 ? ETIMEDOUT : rc < 0 ? errno : 0;
    if (!err && getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      err = errno;
  }
  if (p.fd >= 0)
    close(p.fd);
  freeaddrinfo(ai);
  if (err) {
    snprintf(h->error, sizeof h->error, "cannot connect to %s port %d: %s", h->addr, h->port,
             strerror(err));
    h->unsent = true; /* libevent could not connect either: nothing was sent */
  }
}

/* Whether the server closed a kept-alive connection since the last call
 * (or sent something unasked): readable while idle. libevent would only
 * notice once the next request is on the wire, and fail it. */
static bool ev_conn_dead(struct evhttp_connection *conn)
{
  struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
  struct pollfd p = {.fd = bev ? bufferevent_getfd(bev) : -1, .events = POLLIN};

  return p.fd >= 0 && poll(&p, 1, 0) != 0;
}

/* The connection to h->base: kept from the last call while the server
 * keeps it open, or made now. The host is resolved
 * here, so an unknown name is an error that says so. */
static int ev_connect(struct sc_http *h)
{
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
  struct evhttp_uri *uri;
  const char *host;
  char name[256];
  int rc;

  if (h->evconn && !ev_conn_dead(h->evconn))
    return 0;
  if (h->evconn) {
    evhttp_connection_free(h->evconn);
    h->evconn = NULL;
  }
  if (!(uri = evhttp_uri_parse(h->base)) || !(host = evhttp_uri_get_host(uri))) {
    snprintf(h->error, sizeof h->error, "bad server URL '%s'", h->base);
    evhttp_uri_free(uri);
    return SC_EINVAL;
  }
  /* "[::1]" names an IPv6 address; the resolver wants it bare. */
  snprintf(name, sizeof name, "%.*s", (int)strcspn(host + (host[0] == '['), "]"),
           host + (host[0] == '['));
  h->port = evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) : 80;
  evhttp_uri_free(uri);
  if ((rc = getaddrinfo(name, NULL, &hints, &ai)) != 0) {
    snprintf(h->error, sizeof h->error, "cannot resolve %.120s: %s", name, gai_strerror(rc));
    return SC_ENET;
  }
  rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, h->addr, sizeof h->addr, NULL, 0,
                   NI_NUMERICHOST);
  freeaddrinfo(ai);
  if (rc != 0) {
    snprintf(h->error, sizeof h->error, "cannot resolve %.120s: %s", name, gai_strerror(rc));
    return SC_ENET;
  }
  if (!h->evbase && !(h->evbase = event_base_new()))
    return SC_ENOMEM;
  if (!(h->evconn = evhttp_connection_base_new(h->evbase, NULL, h->addr,
                                                (unsigned short)h->port)))
    return SC_ENOMEM;
  return 0;
}

/* The request line's target: the base URL's path (if any) + path. */
static char *ev_target(const struct sc_http *h, const char *path)
{
  const char *p = strchr(h->base + 7, '/');
  size_t n = (p ? strlen(p) : 0) + strlen(path) + 1;
  char *t = malloc(n);

  if (t)
    snprintf(t, n, "%s%s", p ? p : "", path);
  return t;
}

static int ev_method(const char *method, enum evhttp_cmd_type *out)
{
  static const struct {
    const char *name;
    enum evhttp_cmd_type type;
  } methods[] = {{"GET", EVHTTP_REQ_GET},       {"POST", EVHTTP_REQ_POST},
                 {"PUT", EVHTTP_REQ_PUT},       {"DELETE", EVHTTP_REQ_DELETE},
                 {"PATCH", EVHTTP_REQ_PATCH},   {"HEAD", EVHTTP_REQ_HEAD}};

  for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
    if (strcmp(method, methods[i].name) == 0) {
      *out = methods[i].type;
      return 0;
    }
  return SC_EINVAL;
}

/* Fills h->error for a call that got no reply; returns its code. */
static int ev_failure(struct sc_http *h, const struct ev_call *c, long timeout_ms)
{
  const char *why = "the connection closed before a complete reply";

  if (c->timed_out || (c->have_why && c->why == EVREQ_HTTP_TIMEOUT)) {
    snprintf(h->error, sizeof h->error, "no reply within %ld ms", timeout_ms);
    return SC_ETIMEOUT;
  }
  if (!c->have_why) /* libevent says nothing when it cannot connect */
    tcp_diagnose(h, timeout_ms);
  if (h->error[0])
    return SC_ENET;
  if (c->have_why && c->why == EVREQ_HTTP_INVALID_HEADER)
    why = "the reply's header is not HTTP";
  else if (c->have_why && c->why == EVREQ_HTTP_BUFFER_ERROR)
    why = "read or write error on the connection";
  snprintf(h->error, sizeof h->error, "%s", why);
  return SC_ENET;
}

/* One call through libevent: the request, then the loop until the reply,
 * a transport failure or the deadline. */
static int ev_exchange(struct sc_http *h, const char *method, const char *path,
                       const char *payload, long timeout_ms, struct sc_http_buf *buf,
                       long *status)
{
  struct ev_call c = {.h = h, .buf = buf};
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  enum evhttp_cmd_type type;
  struct evhttp_request *req;
  struct evkeyvalq *out;
  struct event *deadline;
  char auth[480], host[300];
  char *target;
  int rc;

  if (ev_method(method, &type) != 0) {
    snprintf(h->error, sizeof h->error, "unsupported method %s", method);
    return SC_EINVAL;
  }
  if ((rc = ev_connect(h)) != 0) {
    h->unsent = true;
    return rc;
  }
  evhttp_connection_set_timeout_tv(h->evconn, &tv);
  if (!(req = evhttp_request_new(ev_done, &c)))
    return SC_ENOMEM;
  evhttp_request_set_error_cb(req, ev_error);
  out = evhttp_request_get_output_headers(req);
  snprintf(host, sizeof host, "%.*s", (int)strcspn(h->base + 7, "/"), h->base + 7);
  sc_http_auth(h, auth, sizeof auth);
  if (evhttp_add_header(out, "Host", host) || evhttp_add_header(out, "Accept", "application/json") ||
      (auth[0] && evhttp_add_header(out, "Authorization", auth)) ||
      (payload && (evhttp_add_header(out, "Content-Type", "application/json") ||
                   evbuffer_add(evhttp_request_get_output_buffer(req), payload,
                                strlen(payload)))) ||
      !(target = ev_target(h, path))) {
    evhttp_request_free(req);
    return SC_ENOMEM;
  }
  if (!(deadline = evtimer_new(h->evbase, ev_deadline, &c))) {
    free(target);
    evhttp_request_free(req);
    return SC_ENOMEM;
  }
  evtimer_add(deadline, &tv);
  /* On failure evhttp_make_request has freed req. */
  if (evhttp_make_request(h->evconn, req, type, target) != 0)
    c.done = true;
  free(target);
  if (!c.done)
    event_base_dispatch(h->evbase);
  event_free(deadline);
  if (!c.done)
    evhttp_cancel_request(req); /* the deadline */
  if (!c.status || buf->oom) {
    /* The next call starts on a fresh connection. */
    evhttp_connection_free(h->evconn);
    h->evconn = NULL;
  }
  if (buf->oom)
    return SC_ENOMEM;
  if (!c.status)
    return ev_failure(h, &c, timeout_ms);
  *status = c.status;
  return 0;
}

/* libevent writes with plain writev: a server that hangs up mid-request
 * would raise SIGPIPE, whose default ends the process. It is blocked in
 * this thread for the call, and one it raised is taken before unblocking. */
int sc_http_event_call(struct sc_http *h, const char *method, const char *path,
                       const char *payload, long timeout_ms, struct sc_http_buf *buf,
                       long *status)
{
  sigset_t pipe_set, old, pending;
  struct timespec zero = {0, 0};
  int rc;

  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  rc = ev_exchange(h, method, path, payload, timeout_ms, buf, status);
  if (!sigismember(&old, SIGPIPE)) {
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
      sigtimedwait(&pipe_set, NULL, &zero);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  return rc;
}
