/* JSON over HTTP with libcurl: keep-alive handle per client, replies parsed
 * with jansson. libcurl's global init runs once, guarded by pthread_once. */
#include "util/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static int http_global_rc;

static void http_global_init(void)
{
  http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : SC_ENET;
}

int sc_http_init(struct sc_http *h, const char *base, const char *token)
{
  size_t len;

  memset(h, 0, sizeof *h);
  pthread_mutex_init(&h->token_mu, NULL);
  pthread_once(&http_once, http_global_init);
  if (http_global_rc)
    return http_global_rc;
  h->base = strdup(base);
  h->token = token ? strdup(token) : NULL;
  h->curl = curl_easy_init();
  h->multi = curl_multi_init();
  if (!h->base || (token && !h->token) || !h->curl || !h->multi) {
    sc_http_release(h);
    return SC_ENOMEM;
  }
  len = strlen(h->base);
  while (len > 0 && h->base[len - 1] == '/')
    h->base[--len] = '\0';
  return 0;
}

void sc_http_release(struct sc_http *h)
{
  if (h->curl)
    curl_easy_cleanup(h->curl);
  if (h->multi)
    curl_multi_cleanup(h->multi);
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

struct http_buf {
  char *data;
  size_t len, cap;
  int oom;
};

static size_t http_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
  struct http_buf *b = arg;
  size_t n = size * nmemb;

  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 4096;
    char *p;
    while (cap < b->len + n + 1)
      cap *= 2;
    p = realloc(b->data, cap);
    if (!p) {
      b->oom = 1;
      return 0;
    }
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

static int http_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
                         curl_off_t ultotal, curl_off_t ulnow)
{
  atomic_int *abort_flag = arg;

  (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  return abort_flag && atomic_load(abort_flag) ? 1 : 0;
}

/* Sets the per-call options; returns the header list the caller frees. */
static struct curl_slist *http_setup(struct sc_http *h, const char *method,
                                     const char *url, const char *payload,
                                     long timeout_ms)
{
  CURL *c = h->curl;
  struct curl_slist *headers = NULL;
  char auth[512];

  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->error);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, http_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)h->abort);
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "Expect:");
  pthread_mutex_lock(&h->token_mu);
  if (h->token)
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", h->token);
  else
    auth[0] = '\0';
  pthread_mutex_unlock(&h->token_mu);
  if (auth[0])
    headers = curl_slist_append(headers, auth);
  if (payload) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
  }
  if (strcmp(method, "GET") == 0 && !payload)
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  else if (strcmp(method, "POST") == 0 && !payload)
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, ""), curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
  if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  return headers;
}

/* curl_easy_perform through the multi interface: the wait can be cut
 * short by sc_http_wakeup when h->abort is set. */
static CURLcode http_perform_multi(struct sc_http *h)
{
  CURLcode rc = CURLE_ABORTED_BY_CALLBACK;
  CURLMsg *msg;
  int running = 1, left;

  if (curl_multi_add_handle(h->multi, h->curl) != CURLM_OK)
    return curl_easy_perform(h->curl);
  while (running && !atomic_load(h->abort)) {
    if (curl_multi_perform(h->multi, &running) != CURLM_OK)
      break;
    if (running)
      curl_multi_poll(h->multi, NULL, 0, 1000, NULL);
  }
  while ((msg = curl_multi_info_read(h->multi, &left)))
    if (msg->msg == CURLMSG_DONE && msg->easy_handle == h->curl)
      rc = msg->data.result;
  curl_multi_remove_handle(h->multi, h->curl);
  return rc;
}

void sc_http_wakeup(struct sc_http *h)
{
  if (h->multi)
    curl_multi_wakeup(h->multi);
}

int sc_http_call(struct sc_http *h, const char *method, const char *path,
                 json_t *body, long timeout_ms, struct sc_http_reply *reply)
{
  struct http_buf buf = {0};
  struct curl_slist *headers;
  char *payload = NULL, *url;
  size_t url_len = strlen(h->base) + strlen(path) + 1;
  CURLcode rc;

  memset(reply, 0, sizeof *reply);
  h->error[0] = '\0';
  url = malloc(url_len);
  if (body)
    payload = json_dumps(body, JSON_COMPACT);
  if (!url || (body && !payload)) {
    free(url);
    free(payload);
    return SC_ENOMEM;
  }
  snprintf(url, url_len, "%s%s", h->base, path);
  headers = http_setup(h, method, url, payload, timeout_ms);
  curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, http_write);
  curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &buf);
  rc = h->abort ? http_perform_multi(h) : curl_easy_perform(h->curl);
  curl_slist_free_all(headers);
  free(payload);
  free(url);
  if (rc != CURLE_OK || buf.oom) {
    if (!h->error[0])
      snprintf(h->error, sizeof h->error, "%s", curl_easy_strerror(rc));
    free(buf.data);
    if (buf.oom)
      return SC_ENOMEM;
    return rc == CURLE_OPERATION_TIMEDOUT ? SC_ETIMEOUT : SC_ENET;
  }
  curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &reply->status);
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
