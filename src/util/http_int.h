/*
 * Private to the HTTP client (util/http*.c): the reply buffer and the two
 * transports behind sc_http_call, libevent's for plain http:// and libcurl's
 * (opened with dlopen at first use) for https:// and the agent.
 */
#ifndef SC_UTIL_HTTP_INT_H
#define SC_UTIL_HTTP_INT_H

#include <stddef.h>

#include "util/http.h"

/* A reply body as it arrives, NUL-terminated; oom once an append failed. */
struct sc_http_buf {
  char *data;
  size_t len, cap;
  int oom;
};

/* Appends n bytes; 0, or -1 (and oom set) when out of memory. */
int sc_http_buf_append(struct sc_http_buf *b, const char *ptr, size_t n);

/* "Bearer TOKEN" into auth, or "" without a token (reads h->token under
 * its lock). */
void sc_http_auth(struct sc_http *h, char *auth, size_t size);

/* One call on a transport: the body (payload, may be NULL) goes out, the
 * reply's body comes into buf and its status into *status. 0 when a reply
 * arrived; SC_ENET / SC_ETIMEOUT (detail in h->error) or SC_ENOMEM. */
int sc_http_curl_call(struct sc_http *h, const char *method, const char *path,
                      const char *payload, long timeout_ms, struct sc_http_buf *buf,
                      long *status);
int sc_http_event_call(struct sc_http *h, const char *method, const char *path,
                       const char *payload, long timeout_ms, struct sc_http_buf *buf,
                       long *status);

/* Loads libcurl (once per process: dlopen, curl_global_init) and makes h's
 * easy and multi handles. 0, SC_ENET (detail in h->error) or SC_ENOMEM. */
int sc_http_curl_start(struct sc_http *h);

/* Free a transport's handles in h (safe when it has none). */
void sc_http_curl_release(struct sc_http *h);
void sc_http_event_release(struct sc_http *h);

#endif
