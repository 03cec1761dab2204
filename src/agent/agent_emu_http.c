/*
 * The emulator's requests, on libevent's HTTP client in the one loop:
 * register, heartbeat, status and logs share a few keep-alive connections
 * (each sends its queued requests one after another), a node's long-poll
 * has a connection of its own. Every call ends in its callback exactly
 * once, with a status of 0 when no reply came, unless the transport is
 * released first.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_emu_int.h"
#include "util/error.h"

#define SHARED_TIMEOUT_S 10

/* One request in flight. */
struct emu_call {
  struct emu_call *prev, *next;
  struct emu_http *h;
  int shared;                  /* its shared connection, or -1 */
  emu_reply_fn fn;
  void *arg;
  bool sending;                /* inside emu_http_send */
  bool failed_early;           /* libevent failed it there: answer later */
};

/* The host part of the URL resolved to a numeric address. */
static int resolve(struct emu_http *h, const char *host, char *err, size_t size)
{
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
  char name[256];
  int rc;

  snprintf(name, sizeof name, "%.*s", (int)strcspn(host + (host[0] == '['), "]"),
           host + (host[0] == '['));
  if ((rc = getaddrinfo(name, NULL, &hints, &ai)) != 0) {
    snprintf(err, size, "cannot resolve %.120s: %s", name, gai_strerror(rc));
    return SC_ENET;
  }
  rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, h->addr, sizeof h->addr, NULL, 0,
                   NI_NUMERICHOST);
  freeaddrinfo(ai);
  if (rc != 0) {
    snprintf(err, size, "cannot resolve %.120s: %s", name, gai_strerror(rc));
    return SC_ENET;
  }
  return 0;
}

int emu_http_init(struct emu_http *h, struct event_base *base, const char *url, int nshared,
                  char *err, size_t size)
{
  struct evhttp_uri *uri = evhttp_uri_parse(url);
  const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
  const char *host = uri ? evhttp_uri_get_host(uri) : NULL, *path;
  int rc = 0;

  memset(h, 0, sizeof *h);
  h->base = base;
  if (!scheme || strcmp(scheme, "http") != 0 || !host) {
    snprintf(err, size, "the emulator needs an http:// controller URL, not '%s'", url);
    evhttp_uri_free(uri);
    return SC_EINVAL;
  }
  h->port = evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) : 80;
  snprintf(h->host, sizeof h->host, "%.200s:%d", host, h->port);
  path = evhttp_uri_get_path(uri);
  snprintf(h->prefix, sizeof h->prefix, "%s", path ? path : "");
  h->prefix[strcspn(h->prefix, "?")] = '\0';
  if (h->prefix[0] && h->prefix[strlen(h->prefix) - 1] == '/')
    h->prefix[strlen(h->prefix) - 1] = '\0';
  rc = resolve(h, host, err, size);
  evhttp_uri_free(uri);
  if (rc != 0)
    return rc;
  if (!(h->shared = calloc((size_t)nshared, sizeof *h->shared)) ||
      !(h->inflight = calloc((size_t)nshared, sizeof *h->inflight))) {
    snprintf(err, size, "out of memory");
    emu_http_release(h);
    return SC_ENOMEM;
  }
  for (h->nshared = 0; h->nshared < nshared; h->nshared++)
    if (!(h->shared[h->nshared] = emu_http_connection(h, SHARED_TIMEOUT_S))) {
      snprintf(err, size, "out of memory");
      emu_http_release(h);
      return SC_ENOMEM;
    }
  return 0;
}

void emu_http_release(struct emu_http *h)
{
  for (int i = 0; i < h->nshared; i++)
    evhttp_connection_free(h->shared[i]);
  while (h->calls) {
    struct emu_call *c = h->calls;
    h->calls = c->next;
    free(c);
  }
  free(h->shared);
  free(h->inflight);
  memset(h, 0, sizeof *h);
}

struct evhttp_connection *emu_http_connection(struct emu_http *h, int timeout_s)
{
  struct evhttp_connection *c =
    evhttp_connection_base_new(h->base, NULL, h->addr, (unsigned short)h->port);

  if (c)
    evhttp_connection_set_timeout(c, timeout_s);
  return c;
}

static void call_unlink(struct emu_call *c)
{
  if (c->prev)
    c->prev->next = c->next;
  else
    c->h->calls = c->next;
  if (c->next)
    c->next->prev = c->prev;
}

/* Forgets call c: off its connection's count and the list, freed. */
static void call_drop(struct emu_call *c)
{
  if (c->shared >= 0)
    c->h->inflight[c->shared]--;
  call_unlink(c);
  free(c);
}

/* Ends call c: its callback, then it is freed. */
static void finish(struct emu_call *c, long status, json_t *body)
{
  emu_reply_fn fn = c->fn;
  void *arg = c->arg;

  call_drop(c);
  fn(arg, status, body);
}

static void deliver_failure(evutil_socket_t fd, short what, void *arg)
{
  (void)fd, (void)what;
  finish(arg, 0, NULL);
}

/* libevent's answer: a reply, or req NULL / code 0 when none came. A
 * connect that fails at once is answered inside evhttp_make_request: that
 * answer waits for the next turn of the loop. */
static void on_reply(struct evhttp_request *req, void *arg)
{
  struct emu_call *c = arg;
  long status = req ? evhttp_request_get_response_code(req) : 0;
  json_t *body = NULL;

  if (c->sending) {
    c->failed_early = true;
    return;
  }
  if (status > 0) {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (n)
      body = json_loadb((const char *)evbuffer_pullup(in, -1), n, 0, NULL);
  }
  finish(c, status, body);
  json_decref(body);
}

/* The shared connection with the fewest requests queued. */
static int least_busy(const struct emu_http *h)
{
  int best = 0;

  for (int i = 1; i < h->nshared; i++)
    if (h->inflight[i] < h->inflight[best])
      best = i;
  return best;
}

/* The headers and body of req; 0 or SC_ENOMEM. */
static int fill(struct emu_http *h, struct evhttp_request *req, const char *auth, json_t *body)
{
  struct evkeyvalq *out = evhttp_request_get_output_headers(req);
  char bearer[200], *text = NULL;
  int rc = 0;

  snprintf(bearer, sizeof bearer, "Bearer %s", auth);
  if (evhttp_add_header(out, "Host", h->host) ||
      evhttp_add_header(out, "Accept", "application/json") ||
      evhttp_add_header(out, "Authorization", bearer))
    return SC_ENOMEM;
  if (!body)
    return 0;
  if (!(text = json_dumps(body, JSON_COMPACT)) ||
      evhttp_add_header(out, "Content-Type", "application/json") ||
      evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text)))
    rc = SC_ENOMEM;
  free(text);
  return rc;
}

int emu_http_send(struct emu_http *h, struct evhttp_connection *conn, bool post,
                  const char *path, const char *auth, json_t *body, emu_reply_fn fn, void *arg)
{
  struct emu_call *c = calloc(1, sizeof *c);
  struct evhttp_request *req = c ? evhttp_request_new(on_reply, c) : NULL;
  char target[1024];

  if (!req || fill(h, req, auth, body) != 0) {
    if (req)
      evhttp_request_free(req);
    free(c);
    return SC_ENOMEM;
  }
  c->h = h;
  c->fn = fn;
  c->arg = arg;
  c->shared = conn ? -1 : least_busy(h);
  snprintf(target, sizeof target, "%s%s", h->prefix, path);
  if (c->shared >= 0)
    h->inflight[c->shared]++;
  c->next = h->calls;
  if (h->calls)
    h->calls->prev = c;
  h->calls = c;
  c->sending = true;
  /* On failure evhttp_make_request has freed req, without an answer. */
  if (evhttp_make_request(conn ? conn : h->shared[c->shared], req,
                          post ? EVHTTP_REQ_POST : EVHTTP_REQ_GET, target) != 0) {
    call_drop(c);
    return SC_ENOMEM;
  }
  c->sending = false;
  if (c->failed_early &&
      event_base_once(h->base, -1, EV_TIMEOUT, deliver_failure, c, &(struct timeval){0, 0}) != 0) {
    call_drop(c);
    return SC_ENOMEM;
  }
  return 0;
}
