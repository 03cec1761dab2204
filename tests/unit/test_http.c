/*
 * The HTTP client's plain http:// transport (libevent) against small canned
 * servers on 127.0.0.1: what goes out (method, target under the base URL's
 * path, token, body), a chunked reply coming back whole, kept-alive and
 * re-made connections, and transport failures that say why: refused,
 * unknown host, no reply before the deadline, a server that hangs up
 * mid-request. With several controllers: following the leader a standby
 * names (503, 307), past one that refuses connections, never re-sending a
 * write that may have been done, and waiting out a takeover.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/http.h"

/* A listening socket on 127.0.0.1, any port. */
static int listen_any(int *port)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(fd, 8), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  *port = ntohs(a.sin_port);
  return fd;
}

/* A canned server: accepts `conns` connections in turn and answers each of
 * its `per_conn` requests with `reply`; keeps what it read. */
struct canned {
  int fd, conns, per_conn;
  const char *reply;
  char got[4096];
  size_t len;
};

/* Reads one request (headers and a Content-Length body) into c->got. */
static int read_request(struct canned *c, int conn)
{
  size_t start = c->len;

  for (;;) {
    char *end = NULL, *cl;
    ssize_t n;
    c->got[c->len] = '\0';
    if ((end = strstr(c->got + start, "\r\n\r\n"))) {
      size_t body = (cl = strcasestr(c->got + start, "Content-Length:")) ? strtoul(cl + 15, NULL, 10) : 0;
      if (c->len >= (size_t)(end + 4 - c->got) + body)
        return 0;
    }
    if (c->len + 1 >= sizeof c->got || (n = read(conn, c->got + c->len, sizeof c->got - 1 - c->len)) <= 0)
      return -1;
    c->len += (size_t)n;
  }
}

static void *canned_main(void *arg)
{
  struct canned *c = arg;

  for (int i = 0; i < c->conns; i++) {
    int conn = accept(c->fd, NULL, NULL);
    for (int k = 0; conn >= 0 && k < c->per_conn; k++)
      if (read_request(c, conn) != 0 || write(conn, c->reply, strlen(c->reply)) < 0)
        break;
    if (conn >= 0)
      close(conn);
  }
  return NULL;
}

static void test_http_reply_whole(void **state)
{
  struct canned c = {.conns = 1, .per_conn = 2,
                     .reply = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n"
                              "7\r\n{\"id\": \r\n7\r\n\"j-7\"}\n\r\n0\r\n\r\n"};
  struct sc_http h;
  struct sc_http_reply r;
  pthread_t t;
  char base[64];
  int port;
  json_t *body = json_pack("{s:s}", "name", "x");

  (void)state;
  c.fd = listen_any(&port);
  assert_int_equal(pthread_create(&t, NULL, canned_main, &c), 0);
  snprintf(base, sizeof base, "http://127.0.0.1:%d/prefix/", port);
  assert_int_equal(sc_http_init(&h, base, "tok"), 0);
  assert_int_equal(sc_http_call(&h, "POST", "/v1/jobs", body, 5000, &r), 0);
  assert_int_equal(r.status, 201);
  assert_string_equal(json_string_value(json_object_get(r.body, "id")), "j-7");
  assert_string_equal(r.raw, "{\"id\": \"j-7\"}\n");
  sc_http_reply_release(&r);
  /* The second call goes on the same connection (the server accepts once). */
  assert_int_equal(sc_http_call(&h, "DELETE", "/v1/jobs/j-7?x=1", NULL, 5000, &r), 0);
  assert_int_equal(r.status, 201);
  sc_http_reply_release(&r);
  sc_http_release(&h);
  pthread_join(t, NULL);
  close(c.fd);
  json_decref(body);
  assert_non_null(strstr(c.got, "POST /prefix/v1/jobs HTTP/1.1\r\n"));
  assert_non_null(strcasestr(c.got, "\r\nAuthorization: Bearer tok\r\n"));
  assert_non_null(strcasestr(c.got, "\r\nContent-Type: application/json\r\n"));
  assert_non_null(strstr(c.got, "\r\n\r\n{\"name\":\"x\"}"));
  assert_non_null(strstr(c.got, "DELETE /prefix/v1/jobs/j-7?x=1 HTTP/1.1\r\n"));
}

static void test_http_hangup_then_reconnect(void **state)
{
  /* Each connection answers one request then closes: the client must make a
   * new one for its next call. */
  struct canned c = {.conns = 2, .per_conn = 1,
                     .reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"};
  struct sc_http h;
  struct sc_http_reply r;
  pthread_t t;
  char base[64];
  int port;

  (void)state;
  c.fd = listen_any(&port);
  assert_int_equal(pthread_create(&t, NULL, canned_main, &c), 0);
  snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
  assert_int_equal(sc_http_init(&h, base, NULL), 0);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(sc_http_call(&h, "GET", "/healthz", NULL, 5000, &r), 0);
    assert_int_equal(r.status, 200);
    sc_http_reply_release(&r);
    usleep(20000); /* let the close arrive first */
  }
  sc_http_release(&h);
  pthread_join(t, NULL);
  close(c.fd);
  assert_null(strcasestr(c.got, "Authorization:"));
}

static void test_http_failures_say_why(void **state)
{
  struct sc_http h;
  struct sc_http_reply r;
  struct timespec t0, t1;
  char base[64];
  int port, fd;

  (void)state;
  /* Refused: a port nobody listens on any more. */
  close(listen_any(&port));
  snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
  assert_int_equal(sc_http_init(&h, base, NULL), 0);
  assert_int_equal(sc_http_call(&h, "GET", "/v1/jobs", NULL, 2000, &r), SC_ENET);
  assert_non_null(strstr(h.error, "Connection refused"));
  assert_int_equal(r.status, 0);
  assert_null(r.raw);
  sc_http_release(&h);
  /* No reply before the deadline: the kernel accepts, nobody answers. */
  fd = listen_any(&port);
  snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
  assert_int_equal(sc_http_init(&h, base, NULL), 0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(sc_http_call(&h, "GET", "/v1/jobs", NULL, 200, &r), SC_ETIMEOUT);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2000);
  assert_non_null(strstr(h.error, "no reply within 200 ms"));
  sc_http_release(&h);
  close(fd);
  /* An unknown host, an unknown method. */
  assert_int_equal(sc_http_init(&h, "http://no-such-host.invalid:8420", NULL), 0);
  assert_int_equal(sc_http_call(&h, "GET", "/", NULL, 2000, &r), SC_ENET);
  assert_non_null(strstr(h.error, "cannot resolve no-such-host.invalid"));
  assert_int_equal(sc_http_call(&h, "BREW", "/", NULL, 2000, &r), SC_EINVAL);
  sc_http_release(&h);
}

/* A server that says it is done writing (FIN), reads a little, then hangs
 * up with data unread (a reset) while the client still sends its body. */
static void *rude_main(void *arg)
{
  struct canned *c = arg;
  int conn = accept(c->fd, NULL, NULL);
  char buf[1024];

  if (conn >= 0) {
    shutdown(conn, SHUT_WR);
    if (read(conn, buf, sizeof buf) < 0)
      c->len = 0;
    close(conn);
  }
  return NULL;
}

static void test_http_hangup_mid_request(void **state)
{
  struct canned c = {0};
  struct sc_http h;
  struct sc_http_reply r;
  pthread_t t;
  char base[64];
  int port;
  size_t n = 8 << 20;
  char *big = malloc(n + 1);
  json_t *body;

  (void)state;
  assert_non_null(big);
  memset(big, 'a', n);
  big[n] = '\0';
  body = json_pack("{s:s}", "x", big);
  c.fd = listen_any(&port);
  assert_int_equal(pthread_create(&t, NULL, rude_main, &c), 0);
  snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
  assert_int_equal(sc_http_init(&h, base, NULL), 0);
  /* A transport failure, nothing more (libevent stops at the EOF here; a
   * write after the reset would raise SIGPIPE, blocked during calls). */
  assert_int_equal(sc_http_call(&h, "POST", "/v1/jobs", body, 5000, &r), SC_ENET);
  assert_int_equal(r.status, 0);
  sc_http_release(&h);
  pthread_join(t, NULL);
  close(c.fd);
  json_decref(body);
  free(big);
}

/* A server for the leader tests: serves connection after connection,
 * answering every request with reply, until stop; counts requests. */
struct replier {
  int fd, port;
  const char *reply;
  atomic_int stop, requests;
  pthread_t thread;
  struct canned got;            /* what it read (got.got) */
};

static void *replier_main(void *arg)
{
  struct replier *r = arg;

  while (!atomic_load(&r->stop)) {
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    int conn;
    if (poll(&p, 1, 20) <= 0)
      continue;
    if ((conn = accept(r->fd, NULL, NULL)) < 0)
      continue;
    while (!atomic_load(&r->stop) && read_request(&r->got, conn) == 0) {
      atomic_fetch_add(&r->requests, 1);
      if (write(conn, r->reply, strlen(r->reply)) < 0)
        break;
    }
    close(conn);
  }
  return NULL;
}

static void replier_start(struct replier *r, const char *reply)
{
  memset(r, 0, sizeof *r);
  r->reply = reply;
  r->fd = listen_any(&r->port);
  assert_int_equal(pthread_create(&r->thread, NULL, replier_main, r), 0);
}

static void replier_stop(struct replier *r)
{
  atomic_store(&r->stop, 1);
  pthread_join(r->thread, NULL);
  close(r->fd);
}

/* A port that refuses connections (nobody listens on it any more). */
static int refused_port(void)
{
  int port;

  close(listen_any(&port));
  return port;
}

static char *reply_text(const char *status, const char *body)
{
  char *text;

  assert_true(asprintf(&text, "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                              "Content-Length: %zu\r\n\r\n%s",
                       status, strlen(body), body) > 0);
  return text;
}

/* A write goes past a controller that refuses the connection (nothing was
 * sent) to a standby, which names the leader (503): the write is sent
 * there, and the next call goes straight to it. A GET a standby redirects
 * (307) follows the same way. */
static void test_http_follows_leader(void **state)
{
  struct replier leader, standby, redirector;
  struct sc_http h;
  struct sc_http_reply r;
  char base[256], body[128], *standby_reply, *redirect_reply;
  json_t *job = json_pack("{s:s}", "name", "x");

  (void)state;
  replier_start(&leader, "HTTP/1.1 201 Created\r\nContent-Length: 14\r\n\r\n{\"id\": \"j-1\"}\n");
  snprintf(body, sizeof body,
           "{\"error\": {\"code\": \"not_leader\"}, \"leader\": \"http://127.0.0.1:%d/\"}",
           leader.port);
  standby_reply = reply_text("503 Service Unavailable", body);
  redirect_reply = reply_text("307 Temporary Redirect", body);
  replier_start(&standby, standby_reply);
  replier_start(&redirector, redirect_reply);
  snprintf(base, sizeof base, "http://127.0.0.1:%d, http://127.0.0.1:%d,http://127.0.0.1:%d/",
           refused_port(), standby.port, leader.port);
  assert_int_equal(sc_http_init(&h, base, "tok"), 0);
  assert_int_equal(h.nurls, 3);
  assert_int_equal(sc_http_call(&h, "POST", "/v1/jobs", job, 5000, &r), 0);
  assert_int_equal(r.status, 201);
  assert_string_equal(json_string_value(json_object_get(r.body, "id")), "j-1");
  sc_http_reply_release(&r);
  assert_int_equal(h.cur, 2);
  assert_int_equal(h.moves, 2);
  assert_int_equal(atomic_load(&standby.requests), 1);
  assert_int_equal(sc_http_call(&h, "GET", "/v1/jobs", NULL, 5000, &r), 0);
  sc_http_reply_release(&r);
  assert_int_equal(atomic_load(&standby.requests), 1);
  assert_int_equal(atomic_load(&leader.requests), 2);
  sc_http_release(&h);
  /* A redirect of a GET (the leader, then a standby that is not listed:
   * only listed URLs are followed, so the token goes nowhere else). */
  snprintf(base, sizeof base, "http://127.0.0.1:%d,http://127.0.0.1:%d", redirector.port,
           leader.port);
  assert_int_equal(sc_http_init(&h, base, "tok"), 0);
  assert_int_equal(sc_http_call(&h, "GET", "/v1/jobs?limit=1", NULL, 5000, &r), 0);
  assert_int_equal(r.status, 201);
  sc_http_reply_release(&r);
  assert_int_equal(atomic_load(&leader.requests), 3);
  assert_non_null(strstr(leader.got.got, "GET /v1/jobs?limit=1 HTTP/1.1\r\n"));
  sc_http_release(&h);
  /* One URL: the standby's answer is the caller's to read. */
  snprintf(base, sizeof base, "http://127.0.0.1:%d", standby.port);
  assert_int_equal(sc_http_init(&h, base, "tok"), 0);
  assert_int_equal(sc_http_call(&h, "POST", "/v1/jobs", job, 5000, &r), 0);
  assert_int_equal(r.status, 503);
  sc_http_reply_release(&r);
  sc_http_release(&h);
  replier_stop(&leader);
  replier_stop(&standby);
  replier_stop(&redirector);
  free(standby_reply);
  free(redirect_reply);
  json_decref(job);
}

/* A write whose controller hung up without a reply may have been done:
 * it is not sent to the next one (the caller hears the failure). A GET
 * is sent again. */
static void test_http_no_resend_of_writes(void **state)
{
  struct canned rude = {0};
  struct replier next;
  struct sc_http h;
  struct sc_http_reply r;
  pthread_t t;
  char base[128];
  int port;
  json_t *job = json_pack("{s:s}", "name", "x");

  (void)state;
  replier_start(&next, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
  for (int get = 0; get < 2; get++) {
    rude.fd = listen_any(&port);
    assert_int_equal(pthread_create(&t, NULL, rude_main, &rude), 0);
    snprintf(base, sizeof base, "http://127.0.0.1:%d,http://127.0.0.1:%d", port, next.port);
    assert_int_equal(sc_http_init(&h, base, NULL), 0);
    if (get) {
      assert_int_equal(sc_http_call(&h, "GET", "/v1/jobs", NULL, 5000, &r), 0);
      assert_int_equal(r.status, 200);
      sc_http_reply_release(&r);
    } else {
      assert_int_equal(sc_http_call(&h, "POST", "/v1/jobs", job, 5000, &r), SC_ENET);
      assert_false(h.unsent);
    }
    sc_http_release(&h);
    pthread_join(t, NULL);
    close(rude.fd);
    assert_int_equal(atomic_load(&next.requests), get);
  }
  replier_stop(&next);
  json_decref(job);
}

/* No controller serves (one refuses, the other says none leads: a
 * takeover under way): with a failover wait the call tries again, with
 * pauses, until the wait is over, then the standby's answer is the
 * caller's. */
static void test_http_failover_wait(void **state)
{
  struct replier standby;
  struct sc_http h;
  struct sc_http_reply r;
  struct timespec t0, t1;
  char base[128], *reply = reply_text("503 Service Unavailable",
                                      "{\"error\": {\"code\": \"no_leader\"}, \"leader\": null}");
  long ms;

  (void)state;
  replier_start(&standby, reply);
  snprintf(base, sizeof base, "http://127.0.0.1:%d,http://127.0.0.1:%d", refused_port(),
           standby.port);
  assert_int_equal(sc_http_init(&h, base, NULL), 0);
  assert_int_equal(sc_http_call(&h, "POST", "/v1/jobs", NULL, 2000, &r), 0);
  assert_int_equal(r.status, 503); /* no wait: one round */
  sc_http_reply_release(&r);
  assert_int_equal(atomic_load(&standby.requests), 2);
  sc_http_set_failover(&h, 400);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(sc_http_call(&h, "POST", "/v1/jobs", NULL, 2000, &r), 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_int_equal(r.status, 503);
  sc_http_reply_release(&r);
  ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  assert_true(ms >= 350 && ms < 3000);
  assert_true(atomic_load(&standby.requests) >= 2 + 3 * 2); /* rounds after 100, 200, 100 ms */
  sc_http_release(&h);
  /* One URL that says no one leads (a controller starting, taking over):
   * waited for the same way. */
  snprintf(base, sizeof base, "http://127.0.0.1:%d", standby.port);
  assert_int_equal(sc_http_init(&h, base, NULL), 0);
  sc_http_set_failover(&h, 250);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(sc_http_call(&h, "POST", "/v1/jobs", NULL, 2000, &r), 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_int_equal(r.status, 503);
  sc_http_reply_release(&r);
  ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  assert_true(ms >= 200 && ms < 3000);
  sc_http_release(&h);
  replier_stop(&standby);
  free(reply);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_http_reply_whole),
    cmocka_unit_test(test_http_hangup_then_reconnect),
    cmocka_unit_test(test_http_failures_say_why),
    cmocka_unit_test(test_http_hangup_mid_request),
    cmocka_unit_test(test_http_follows_leader),
    cmocka_unit_test(test_http_no_resend_of_writes),
    cmocka_unit_test(test_http_failover_wait),
  };

  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
