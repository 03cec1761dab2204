/*
 * A small JSON-over-HTTP client for the agent and the CLI. One struct
 * sc_http per thread: it keeps its connection alive between calls. A call
 * returns 0 whenever an HTTP reply arrived, whatever its status; only
 * transport failures are errors. Given several controllers (a standby and
 * its leader, "URL1,URL2"), it follows the leader: a standby's 307 or 503
 * naming the leader, or a controller that refuses the connection, sends
 * the call on to the leader or the next URL (docs/operations.md,
 * "Standby controllers (HA)"). Plain http:// calls go through libevent's
 * HTTP client, which a CLI process maps in well under a millisecond;
 * https:// and abortable calls (the agent) through libcurl, loaded when
 * first needed (its ~30 libraries cost ~4 ms per process; docs/fast-cli.md).
 */
#ifndef SC_UTIL_HTTP_H
#define SC_UTIL_HTTP_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct sc_http {
  void *curl;          /* CURL easy handle (https:// or abortable), or NULL */
  void *multi;         /* CURLM used when abort is set, so a wakeup is prompt */
  void *evbase;        /* libevent base and connection for plain http://, */
  void *evconn;        /* made at the first call, */
  char addr[64];       /* to the server's numeric address */
  int port;            /* and port */
  char *base;          /* "http://host:port", no trailing slash: the URL in
                          use, urls[cur] */
  char **urls;         /* every controller given, in order (owned) */
  int nurls, cur;
  long failover_ms;    /* with several URLs: how long a call keeps looking
                          for one that serves (0: one round over them) */
  unsigned moves;      /* times the URL in use changed */
  bool unsent;         /* set by the transports: the last failure came
                          before the request left (connection refused) */
  char *token;         /* bearer token or NULL (owned; guarded by token_mu) */
  pthread_mutex_t token_mu;
  atomic_int *abort;   /* when set and non-zero, transfers stop early; another
                          thread may set it (then sc_http_wakeup); set by
                          sc_http_use_curl */
  char error[256];     /* transport error detail of the last call */
};

struct sc_http_reply {
  long status;   /* HTTP status */
  json_t *body;  /* parsed JSON body or NULL (owned) */
  char *raw;     /* raw body, NUL-terminated (owned) */
  size_t len;    /* bytes in raw */
};

/* Prepares a client for base URL and token (both copied; token may be NULL).
 * base may list several controllers, comma-separated (at most
 * SC_HTTP_MAX_URLS; calls start with the first). An https:// base loads
 * libcurl now. Returns 0, SC_EINVAL (an empty list), SC_ENOMEM or SC_ENET
 * when libcurl cannot start (detail in h->error). */
#define SC_HTTP_MAX_URLS 8
int sc_http_init(struct sc_http *h, const char *base, const char *token);

/* A call that finds no controller serving (with several URLs: all refuse
 * the connection or are standbys; with one: it says no one leads yet or
 * that it is taking over) tries again, with pauses, for up to ms before it
 * gives up (the CLI waits out a takeover; the agent, which has its own
 * backoff, does not). One URL that refuses the connection, or a standby
 * that names a leader not given, fails at once. */
void sc_http_set_failover(struct sc_http *h, long ms);

/* Routes h's calls through libcurl whatever the scheme, for long-lived
 * clients (the agent): libcurl silently retries a request whose kept-alive
 * connection the server had closed. With abort non-NULL a call stops early
 * once *abort is non-zero (another thread sets it, then sc_http_wakeup).
 * Call it after init, before any call. Returns 0 or SC_ENET when libcurl
 * cannot start (detail in h->error). */
int sc_http_use_curl(struct sc_http *h, atomic_int *abort);

/* Frees the handle and strings. Safe on a zeroed struct after init. */
void sc_http_release(struct sc_http *h);

/* Replaces the bearer token (copied) for the next calls; another thread may
 * be calling meanwhile. Returns 0 or SC_ENOMEM (the old token stays). */
int sc_http_set_token(struct sc_http *h, const char *token);

/* Calls method on base+path with body (borrowed, may be NULL) and waits at
 * most timeout_ms. On 0 the reply is filled (caller releases it); on
 * SC_ENET / SC_ETIMEOUT (transport failure, detail in h->error) or SC_ENOMEM
 * the reply is zeroed. With several URLs the call moves on to the leader
 * a standby names (307 or 503 with "leader"), or to the next URL, when it
 * surely was not acted on: the connection was refused, a standby answered,
 * or the method is GET or HEAD. A request that may have reached a leader
 * that died (POST with no reply) is not sent again: the caller cannot
 * know whether it was done. */
int sc_http_call(struct sc_http *h, const char *method, const char *path,
                 json_t *body, long timeout_ms, struct sc_http_reply *reply);

/* Makes a call in progress on h (in another thread) look at h->abort now
 * rather than within a second. Thread-safe. */
void sc_http_wakeup(struct sc_http *h);

/* Frees a reply's contents. Safe on a zeroed reply. */
void sc_http_reply_release(struct sc_http_reply *r);

/* The message and field of an API error reply ({"error": {...}}); falls back
 * to the raw body or "HTTP <status>". Pointers live as long as the reply;
 * *field is NULL when the server named none. buf holds the fallback. */
const char *sc_http_error_message(const struct sc_http_reply *r, const char **field,
                                  char *buf, size_t size);

/* Percent-encodes text for a URL query into buf; returns buf. */
char *sc_http_escape(const char *text, char *buf, size_t size);

#endif
