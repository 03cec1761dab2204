/*
 * The HTTP client's plain http:// transport (libevent) against small canned
 * servers on 127.0.0.1: what goes out (method, target under the base URL's
 * path, token, body), a chunked reply coming back whole, kept-alive and
 * re-made connections, and transport failures that say why: refused,
 * unknown host, no reply before the deadline, a server that hangs up
 * mid-request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
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

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_http_reply_whole),
    cmocka_unit_test(test_http_hangup_then_reconnect),
    cmocka_unit_test(test_http_failures_say_why),
    cmocka_unit_test(test_http_hangup_mid_request),
  };

  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
