/* Common CLI plumbing: server and token resolution, API calls with error
 * messages as the server wrote them, and exit codes. */
#include "cli/cli_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/token_file.h"

#define SC_DEFAULT_SERVER "http://127.0.0.1:8420"

int sc_cli_usage_error(const struct sc_cli *c, const char *fmt, ...)
{
  va_list ap;

  fprintf(stderr, "supercell %s: ", c->cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nRun 'supercell %s --help' for usage.\n", c->cmd);
  return SC_CLI_USAGE;
}

int sc_cli_common_option(struct sc_cli *c, int opt, const char *arg)
{
  switch (opt) {
  case 0x1001: c->server = arg; return 0;
  case 0x1002:
    free(c->token);
    c->token = strdup(arg);
    return 0;
  case 'o':
    if (strcmp(arg, "json") == 0)
      c->json = true;
    else if (strcmp(arg, "table") == 0 || strcmp(arg, "text") == 0)
      c->json = false;
    else
      return sc_cli_usage_error(c, "unknown output format '%s' (want json or table)", arg);
    return 0;
  case 'h': c->help = true; return 0;
  default: return SC_CLI_USAGE; /* getopt printed the problem */
  }
}

static char *read_token(const char *dir, const char *sub)
{
  char path[4096];

  if (!dir || !*dir)
    return NULL;
  snprintf(path, sizeof path, "%s%s/admin.token", dir, sub);
  return sc_token_file_read(path);
}

/* The URL a local controller wrote into dir + sub/controller.url (its
 * first line), or NULL. */
static char *read_url(const char *dir, const char *sub)
{
  char path[4096], line[512];
  FILE *f;

  if (!dir || !*dir)
    return NULL;
  snprintf(path, sizeof path, "%s%s/controller.url", dir, sub);
  if (!(f = fopen(path, "re")))
    return NULL;
  if (!fgets(line, sizeof line, f))
    line[0] = '\0';
  fclose(f);
  line[strcspn(line, "\r\n")] = '\0';
  return strncmp(line, "http://", 7) == 0 ? strdup(line) : NULL;
}

int sc_cli_connect(struct sc_cli *c)
{
  const char *env;

  /* --server, SUPERCELL_SERVER, the controller.url a local controller
   * wrote in $SUPERCELL_HOME or ~/.supercell, then the default. */
  if (!c->server && (env = getenv("SUPERCELL_SERVER")) && *env)
    c->server = env;
  if (!c->server && ((c->found_url = read_url(getenv("SUPERCELL_HOME"), "")) ||
                     (!getenv("SUPERCELL_HOME") &&
                      (c->found_url = read_url(getenv("HOME"), "/.supercell")))))
    c->server = c->found_url;
  if (!c->server)
    c->server = SC_DEFAULT_SERVER;
  if (!c->token && (env = getenv("SUPERCELL_TOKEN")) && *env)
    c->token = strdup(env);
  if (!c->token)
    c->token = read_token(getenv("SUPERCELL_HOME"), "");
  if (!c->token)
    c->token = read_token(getenv("HOME"), "/.supercell");
  for (const char *p = c->server; *p; p += strcspn(p, ","), p += *p == ',') {
    p += strspn(p, " \t");
    if (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0)
      return sc_cli_usage_error(c, "bad server URL '%.*s' (want http://host:port)",
                                (int)strcspn(p, ","), p);
  }
  if (sc_http_init(&c->http, c->server, c->token) != 0) {
    fprintf(stderr, "supercell: cannot start the HTTP client%s%s\n",
            c->http.error[0] ? ": " : "", c->http.error);
    return SC_CLI_API;
  }
  /* Wait out a takeover (or a controller's start) rather than fail in it. */
  sc_http_set_failover(&c->http, SC_CLI_FAILOVER_MS);
  return 0;
}

void sc_cli_release(struct sc_cli *c)
{
  sc_http_release(&c->http);
  free(c->token);
  c->token = NULL;
  free(c->found_url);
  c->found_url = NULL;
}

int sc_cli_call(struct sc_cli *c, const char *method, const char *path, json_t *body,
                long timeout_ms, json_t **reply)
{
  struct sc_http_reply r;
  char buf[512];
  const char *field, *msg;
  int rc = sc_http_call(&c->http, method, path, body, timeout_ms, &r);

  *reply = NULL;
  if (rc) {
    fprintf(stderr, "supercell: cannot reach the server at %s: %s\n", c->server,
            c->http.error[0] ? c->http.error : sc_strerror(rc));
    return SC_CLI_NOREACH;
  }
  if (r.status >= 200 && r.status < 300 && (r.body || r.len == 0)) {
    *reply = r.body;
    r.body = NULL;
    sc_http_reply_release(&r);
    return SC_CLI_OK;
  }
  if (r.status >= 200 && r.status < 300)
    msg = "the server's reply is not JSON", field = NULL;
  else
    msg = sc_http_error_message(&r, &field, buf, sizeof buf);
  if (field)
    fprintf(stderr, "supercell: %s (field '%s')\n", msg, field);
  else
    fprintf(stderr, "supercell: %s\n", msg);
  sc_http_reply_release(&r);
  return SC_CLI_API;
}

int sc_cli_print_json(json_t *j)
{
  char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

  if (text) {
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text);
  }
  return SC_CLI_OK;
}

int sc_cli_parse_int(const char *text, long long min, long long max, long long *out)
{
  char *end;
  long long v;

  errno = 0;
  v = strtoll(text, &end, 10);
  if (!*text || *end || errno || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

const char *sc_cli_str(json_t *obj, const char *key, const char *dflt)
{
  const char *s = json_string_value(json_object_get(obj, key));

  return s ? s : dflt;
}

int sc_cli_get_table(struct sc_cli *c, const char *path, json_t **reply)
{
  int rc;

  *reply = NULL;
  if ((rc = sc_cli_connect(c)) != 0 || (rc = sc_cli_call(c, "GET", path, NULL, 30000, reply)) != 0)
    return rc;
  if (!c->json)
    return 0;
  sc_cli_print_json(*reply);
  json_decref(*reply);
  *reply = NULL;
  return -1;
}
