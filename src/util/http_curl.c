/* libcurl transport: https:// and the agent's calls (keep-alive easy
 * handle, a multi handle so another thread can cut a wait short). libcurl
 * is opened with dlopen at the first use and initialised once under
 * pthread_once: a CLI process on plain http:// never maps its ~30
 * libraries (docs/fast-cli.md). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/dynlib.h"
#include "util/error.h"
#include "util/http_int.h"

/* The libcurl functions this file calls, resolved from SC_SONAME_CURL. */
#define CURL_FUNCS(X)                                                          \
  X(curl_global_init) X(curl_easy_init) X(curl_easy_cleanup)                   \
  X(curl_easy_reset) X(curl_easy_setopt) X(curl_easy_perform)                  \
  X(curl_easy_getinfo) X(curl_easy_strerror) X(curl_slist_append)              \
  X(curl_slist_free_all) X(curl_multi_init) X(curl_multi_cleanup)              \
  X(curl_multi_add_handle) X(curl_multi_remove_handle) X(curl_multi_perform)   \
  X(curl_multi_poll) X(curl_multi_wakeup) X(curl_multi_info_read)

static struct {
#define CURL_SLOT(f) __typeof__(f) *f;
  CURL_FUNCS(CURL_SLOT)
#undef CURL_SLOT
} curl_api;

static const struct sc_dynsym curl_syms[] = {
#define CURL_SYM(f) {#f, (void **)&curl_api.f},
  CURL_FUNCS(CURL_SYM)
#undef CURL_SYM
};

/* From here on the calls below go through the table (curl.h's argument
 * checking macros for setopt and getinfo give way). */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init (curl_api.curl_global_init)
#define curl_easy_init (curl_api.curl_easy_init)
#define curl_easy_cleanup (curl_api.curl_easy_cleanup)
#define curl_easy_reset (curl_api.curl_easy_reset)
#define curl_easy_setopt (curl_api.curl_easy_setopt)
#define curl_easy_perform (curl_api.curl_easy_perform)
#define curl_easy_getinfo (curl_api.curl_easy_getinfo)
#define curl_easy_strerror (curl_api.curl_easy_strerror)
#define curl_slist_append (curl_api.curl_slist_append)
#define curl_slist_free_all (curl_api.curl_slist_free_all)
#define curl_multi_init (curl_api.curl_multi_init)
#define curl_multi_cleanup (curl_api.curl_multi_cleanup)
#define curl_multi_add_handle (curl_api.curl_multi_add_handle)
#define curl_multi_remove_handle (curl_api.curl_multi_remove_handle)
#define curl_multi_perform (curl_api.curl_multi_perform)
#define curl_multi_poll (curl_api.curl_multi_poll)
#define curl_multi_wakeup (curl_api.curl_multi_wakeup)
#define curl_multi_info_read (curl_api.curl_multi_info_read)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_rc;
static char curl_error[256];

static void curl_load(void)
{
  curl_rc = sc_dynlib_open(SC_SONAME_CURL, curl_syms, sizeof curl_syms / sizeof *curl_syms,
                           curl_error, sizeof curl_error);
  if (curl_rc == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(curl_error, sizeof curl_error, "curl_global_init failed");
    curl_rc = SC_ENET;
  }
  if (curl_rc)
    curl_rc = SC_ENET;
}

int sc_http_curl_start(struct sc_http *h)
{
  pthread_once(&curl_once, curl_load);
  if (curl_rc) {
    snprintf(h->error, sizeof h->error, "%s", curl_error);
    return curl_rc;
  }
  if (!h->curl && !(h->curl = curl_easy_init()))
    return SC_ENOMEM;
  if (!h->multi && !(h->multi = curl_multi_init()))
    return SC_ENOMEM;
  return 0;
}

void sc_http_curl_release(struct sc_http *h)
{
  if (h->curl)
    curl_easy_cleanup(h->curl);
  if (h->multi)
    curl_multi_cleanup(h->multi);
  h->curl = h->multi = NULL;
}

static size_t http_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
  size_t n = size * nmemb;

  return sc_http_buf_append(arg, ptr, n) == 0 ? n : 0;
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
  char bearer[480], auth[512];

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
  sc_http_auth(h, bearer, sizeof bearer);
  if (bearer[0]) {
    snprintf(auth, sizeof auth, "Authorization: %s", bearer);
    headers = curl_slist_append(headers, auth);
  }
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

/* One call through libcurl; the body, if any, is in buf. */
int sc_http_curl_call(struct sc_http *h, const char *method, const char *path,
                     const char *payload, long timeout_ms, struct sc_http_buf *buf,
                     long *status)
{
  struct curl_slist *headers;
  size_t url_len = strlen(h->base) + strlen(path) + 1;
  char *url = malloc(url_len);
  CURLcode rc;

  if (!url)
    return SC_ENOMEM;
  snprintf(url, url_len, "%s%s", h->base, path);
  headers = http_setup(h, method, url, payload, timeout_ms);
  curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, http_write);
  curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, buf);
  rc = h->abort ? http_perform_multi(h) : curl_easy_perform(h->curl);
  curl_slist_free_all(headers);
  free(url);
  if (rc != CURLE_OK || buf->oom) {
    h->unsent = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST;
    if (!h->error[0])
      snprintf(h->error, sizeof h->error, "%s", curl_easy_strerror(rc));
    if (buf->oom)
      return SC_ENOMEM;
    return rc == CURLE_OPERATION_TIMEDOUT ? SC_ETIMEOUT : SC_ENET;
  }
  curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
  return 0;
}

