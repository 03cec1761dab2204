/* JSON over HTTP: the client's state, the choice of transport for each
 * call (util/http_int.h) and the reply's parsing with jansson. */
#include "util/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/http_int.h"

int sc_http_init(struct sc_http *h, const char *base, const char *token)
{
  size_t len;
  int rc;

  memset(h, 0, sizeof *h);
  pthread_mutex_init(&h->token_mu, NULL);
  h->base = strdup(base);
  h->token = token ? strdup(token) : NULL;
  if (!h->base || (token && !h->token)) {
    sc_http_release(h);
    return SC_ENOMEM;
  }
  len = strlen(h->base);
  while (len > 0 && h->base[len - 1] == '/')
    h->base[--len] = '\0';
  if (strncmp(h->base, "http://", 7) != 0 && (rc = sc_http_curl_start(h)) != 0) {
    char error[sizeof h->error];
    memcpy(error, h->error, sizeof error);
    sc_http_release(h);
    memcpy(h->error, error, sizeof error); /* the why, for the caller */
    return rc;
  }
  return 0;
}

int sc_http_use_curl(struct sc_http *h, atomic_int *abort)
{
  h->abort = abort;
  return sc_http_curl_start(h);
}

void sc_http_release(struct sc_http *h)
{
  sc_http_curl_release(h);
  sc_http_event_release(h);
  free(h->base);
  free(h->token);
  pthread_mutex_destroy(&h->token_mu);
  memset(h, 0, sizeof *h);
}

int sc_http_set_token(struct sc_http *h, const char *token)
{
  char *copy = token ? strdup(token) : NULL;

  if (token && !copy)
    return SC_ENOMEM;
  pthread_mutex_lock(&h->token_mu);
  free(h->token);
  h->token = copy;
  pthread_mutex_unlock(&h->token_mu);
  return 0;
}

void sc_http_reply_release(struct sc_http_reply *r)
{
  json_decref(r->body);
  free(r->raw);
  memset(r, 0, sizeof *r);
}

int sc_http_buf_append(struct sc_http_buf *b, const char *ptr, size_t n)
{
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 4096;
    char *p;
    while (cap < b->len + n + 1)
      cap *= 2;
    p = realloc(b->data, cap);
    if (!p) {
      b->oom = 1;
      return -1;
    }
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

/* "Authorization: Bearer TOKEN" into auth (empty without a token). */
void sc_http_auth(struct sc_http *h, char *auth, size_t size)
{
  pthread_mutex_lock(&h->token_mu);
  if (h->token)
    snprintf(auth, size, "Bearer %s", h->token);
  else
    auth[0] = '\0';
  pthread_mutex_unlock(&h->token_mu);
}

int sc_http_call(struct sc_http *h, const char *method, const char *path,
                 json_t *body, long timeout_ms, struct sc_http_reply *reply)
{
  struct sc_http_buf buf = {0};
  char *payload = NULL;
  int rc;

  memset(reply, 0, sizeof *reply);
  h->error[0] = '\0';
  if (body && !(payload = json_dumps(body, JSON_COMPACT)))
    return SC_ENOMEM;
  if (h->curl)
    rc = sc_http_curl_call(h, method, path, payload, timeout_ms, &buf, &reply->status);
  else
    rc = sc_http_event_call(h, method, path, payload, timeout_ms, &buf, &reply->status);
  free(payload);
  if (rc) {
    free(buf.data);
    reply->status = 0;
    return rc;
  }
  reply->raw = buf.data ? buf.data : strdup("");
  reply->len = buf.len;
  if (!reply->raw)
    return SC_ENOMEM;
  if (buf.len)
    reply->body = json_loadb(reply->raw, reply->len, 0, NULL);
  return 0;
}

const char *sc_http_error_message(const struct sc_http_reply *r, const char **field,
                                  char *buf, size_t size)
{
  json_t *err = r->body ? json_object_get(r->body, "error") : NULL;
  const char *msg = NULL;

  *field = NULL;
  if (json_is_object(err)) {
    msg = json_string_value(json_object_get(err, "message"));
    *field = json_string_value(json_object_get(err, "field"));
    if (*field && !**field)
      *field = NULL;
  } else if (json_is_string(err)) {
    msg = json_string_value(err);
  }
  if (msg && *msg)
    return msg;
  if (r->raw && r->len > 0 && r->len < 200 && !r->body)
    snprintf(buf, size, "HTTP %ld: %.*s", r->status, (int)strcspn(r->raw, "\r\n"), r->raw);
  else
    snprintf(buf, size, "HTTP %ld", r->status);
  return buf;
}

char *sc_http_escape(const char *text, char *buf, size_t size)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t n = 0;

  for (const unsigned char *p = (const unsigned char *)text; *p && n + 4 < size; p++) {
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
        (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
      buf[n++] = (char)*p;
    } else {
      buf[n++] = '%';
      buf[n++] = hex[*p >> 4];
      buf[n++] = hex[*p & 15];
    }
  }
  if (size)
    buf[n] = '\0';
  return buf;
}
