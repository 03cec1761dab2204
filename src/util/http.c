/* JSON over HTTP: the client's state, the choice of transport for each
 * call (util/http_int.h), the reply's parsing with jansson, and following
 * the leader among several controllers. */
#include "util/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/http_int.h"

/* Splits list (comma-separated URLs, blanks around them ignored) into
 * h->urls, each without its trailing slashes. */
static int split_urls(struct sc_http *h, const char *list)
{
  const char *p = list;

  while (*p) {
    size_t len = strcspn(p, ","), start = 0;
    while (start < len && (p[start] == ' ' || p[start] == '\t'))
      start++;
    while (len > start && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '/'))
      len--;
    if (len > start) {
      if (h->nurls == SC_HTTP_MAX_URLS) {
        snprintf(h->error, sizeof h->error, "more than %d controller URLs", SC_HTTP_MAX_URLS);
        return SC_EINVAL;
      }
      if (!(h->urls[h->nurls] = strndup(p + start, len - start)))
        return SC_ENOMEM;
      h->nurls++;
    }
    p += strcspn(p, ",");
    p += *p == ',';
  }
  if (h->nurls == 0) {
    snprintf(h->error, sizeof h->error, "no server URL");
    return SC_EINVAL;
  }
  return 0;
}

int sc_http_init(struct sc_http *h, const char *base, const char *token)
{
  bool curl = false;
  int rc;

  memset(h, 0, sizeof *h);
  pthread_mutex_init(&h->token_mu, NULL);
  h->urls = calloc(SC_HTTP_MAX_URLS, sizeof *h->urls);
  h->token = token ? strdup(token) : NULL;
  rc = !h->urls || (token && !h->token) ? SC_ENOMEM : split_urls(h, base);
  for (int i = 0; rc == 0 && i < h->nurls; i++)
    curl = curl || strncmp(h->urls[i], "http://", 7) != 0;
  if (rc == 0) {
    h->base = h->urls[0];
    if (curl)
      rc = sc_http_curl_start(h);
  }
  if (rc != 0) {
    char error[sizeof h->error];
    memcpy(error, h->error, sizeof error);
    sc_http_release(h);
    memcpy(h->error, error, sizeof error); /* the why, for the caller */
    return rc;
  }
  return 0;
}

void sc_http_set_failover(struct sc_http *h, long ms)
{
  h->failover_ms = ms > 0 ? ms : 0;
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
  for (int i = 0; h->urls && i < h->nurls; i++)
    free(h->urls[i]);
  free(h->urls);
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

/* One exchange with the URL in use. */
static int call_once(struct sc_http *h, const char *method, const char *path,
                     const char *payload, long timeout_ms, struct sc_http_reply *reply)
{
  struct sc_http_buf buf = {0};
  int rc;

  memset(reply, 0, sizeof *reply);
  h->error[0] = '\0';
  h->unsent = false;
  if (h->curl)
    rc = sc_http_curl_call(h, method, path, payload, timeout_ms, &buf, &reply->status);
  else
    rc = sc_http_event_call(h, method, path, payload, timeout_ms, &buf, &reply->status);
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

/* A controller that does not serve (server/standby.h): 307 or 503 whose
 * body says "leader" (its URL, or null when none leads). */
static bool standby_reply(const struct sc_http_reply *r, const char **leader)
{
  json_t *l;

  *leader = NULL;
  if ((r->status != 307 && r->status != 503) || !json_is_object(r->body) ||
      !(l = json_object_get(r->body, "leader")))
    return false;
  *leader = json_string_value(l);
  return true;
}

/* The index of url in h's list (trailing slashes aside), -1 when absent. */
static int find_url(const struct sc_http *h, const char *url)
{
  size_t len = strlen(url);

  while (len > 0 && url[len - 1] == '/')
    len--;
  for (int i = 0; i < h->nurls; i++)
    if (strlen(h->urls[i]) == len && strncmp(h->urls[i], url, len) == 0)
      return i;
  return -1;
}

static void use_url(struct sc_http *h, int i)
{
  if (i == h->cur)
    return;
  sc_http_event_release(h); /* its connection is to the other host */
  h->cur = i;
  h->base = h->urls[i];
  h->moves++;
}

/* Where a call that got rc (and reply) goes next with several URLs: an
 * index, or -1 when its outcome is final. */
static int next_url(struct sc_http *h, const char *method, int rc,
                    const struct sc_http_reply *reply)
{
  const char *leader;
  bool safe = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

  if (rc == 0 && standby_reply(reply, &leader)) {
    int i = leader ? find_url(h, leader) : -1; /* only a URL we were given */
    if (i >= 0 && i != h->cur)
      return i;
    if (h->nurls > 1)
      return (h->cur + 1) % h->nurls;
    /* One URL: it may lead in a moment (it is taking over, or none
     * leads); naming another controller, it will not. */
    return !leader || i == h->cur ? h->cur : -1;
  }
  if (h->nurls < 2)
    return -1;
  if ((rc == SC_ENET || rc == SC_ETIMEOUT) && (h->unsent || safe))
    return (h->cur + 1) % h->nurls;
  return -1;
}

int sc_http_call(struct sc_http *h, const char *method, const char *path,
                 json_t *body, long timeout_ms, struct sc_http_reply *reply)
{
  struct sc_http_reply kept = {0}; /* a standby's last answer */
  char *payload = NULL;
  int64_t deadline = sc_clock_mono_ms() + h->failover_ms;
  long pause_ms = 100;
  int rc, next, hops = 0;

  memset(reply, 0, sizeof *reply);
  h->error[0] = '\0';
  if (body && !(payload = json_dumps(body, JSON_COMPACT)))
    return SC_ENOMEM;
  for (;;) {
    rc = call_once(h, method, path, payload, timeout_ms, reply);
    if ((next = next_url(h, method, rc, reply)) < 0)
      break;
    if (rc == 0) { /* what to say if no controller serves in time */
      sc_http_reply_release(&kept);
      kept = *reply;
      memset(reply, 0, sizeof *reply);
    }
    /* Each URL and the leader each names, once: a round that found no
     * controller serving. Another round after a pause, while time is left. */
    if (++hops >= 2 * h->nurls) {
      int64_t left = deadline - sc_clock_mono_ms();
      struct timespec ts;
      if (left <= 0)
        break;
      if (left < pause_ms)
        pause_ms = (long)left;
      ts.tv_sec = pause_ms / 1000;
      ts.tv_nsec = (pause_ms % 1000) * 1000000L;
      nanosleep(&ts, NULL);
      pause_ms = pause_ms * 2 > 1000 ? 1000 : pause_ms * 2;
      hops = 0;
    }
    sc_http_reply_release(reply);
    use_url(h, next);
  }
  if (next >= 0 && kept.status > 0) { /* gave up: a standby's word over a refusal */
    sc_http_reply_release(reply);
    *reply = kept;
    rc = 0;
  } else {
    sc_http_reply_release(&kept);
  }
  free(payload);
  return rc;
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
