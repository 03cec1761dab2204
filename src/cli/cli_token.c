/* `supercell token`: create, list and revoke access tokens (admin only).
 * The text of a token is printed once, when it is created; the list shows
 * ids, kinds, bindings and times, never a secret. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/table.h"
#include "util/clock.h"
#include "util/units.h"

static const char token_help[] =
  "usage: supercell token create [--kind user|agent|metrics] [--tenant NAME] [--node NODE]\n"
  "                              [--ttl D]\n"
  "       supercell token list\n"
  "       supercell token revoke ID\n"
  "\n"
  "Manages access tokens (admin only). create prints the new token once: only\n"
  "its hash is kept. A user token sees and submits only its tenant's jobs. An\n"
  "agent token bound to a node (--node) acts only as that node; one bound to\n"
  "none is a bootstrap token: it may only register a node, which then gets\n"
  "its own credential. A metrics token may only read /metrics (a Prometheus\n"
  "server's bearer token, docs/operations.md). revoke takes effect at once;\n"
  "an expired or revoked token gets 401.\n"
  "\n"
  "  --kind K          user (default), agent or metrics\n"
  "  --tenant NAME     the tenant of a user token (default: default)\n"
  "  --node NODE       the node an agent token is bound to\n"
  "  --ttl D           expire after D (e.g. 30d, 12h, 90m); default: never\n"
  SC_CLI_COMMON_HELP;

struct token_args {
  const char *kind, *tenant, *node, *ttl;
};

/* Checks create's flags the way the server does; returns 0 or an exit code. */
static int check_create(struct sc_cli *c, const struct token_args *a, int64_t *ttl_ms)
{
  *ttl_ms = 0;
  if (strcmp(a->kind, "user") != 0 && strcmp(a->kind, "agent") != 0 &&
      strcmp(a->kind, "metrics") != 0)
    return sc_cli_usage_error(c, "bad value for '--kind': \"%s\" (want user, agent or metrics)",
                              a->kind);
  if (a->node && strcmp(a->kind, "agent") != 0)
    return sc_cli_usage_error(c, "'--node' binds agent tokens only");
  if (a->tenant && strcmp(a->kind, "user") != 0)
    return sc_cli_usage_error(c, "'--tenant' binds user tokens only");
  if (a->ttl && (sc_parse_duration_ms(a->ttl, ttl_ms) < 0 || *ttl_ms < 0))
    return sc_cli_usage_error(c, "bad value for '--ttl': \"%s\" (want e.g. 30d, 12h)", a->ttl);
  return 0;
}

static int token_create(struct sc_cli *c, const struct token_args *a)
{
  json_t *body, *reply = NULL;
  int64_t ttl_ms;
  int rc = check_create(c, a, &ttl_ms);

  if (rc)
    return rc;
  body = json_pack("{s:s}", "kind", a->kind);
  if (a->tenant)
    json_object_set_new(body, "tenant", json_string(a->tenant));
  if (a->node)
    json_object_set_new(body, "node", json_string(a->node));
  if (ttl_ms > 0)
    json_object_set_new(body, "ttl", json_integer((ttl_ms + 999) / 1000));
  if ((rc = sc_cli_connect(c)) == 0 &&
      (rc = sc_cli_call(c, "POST", "/v1/tokens", body, 30000, &reply)) == 0) {
    if (c->json)
      sc_cli_print_json(reply);
    else
      printf("%s\n", sc_cli_str(reply, "token", "?"));
  }
  json_decref(body);
  json_decref(reply);
  return rc;
}

/* The binding of a token for the list: tenant, node, or "bootstrap". */
static const char *binding(json_t *t)
{
  const char *kind = sc_cli_str(t, "kind", "");

  if (strcmp(kind, "user") == 0)
    return sc_cli_str(t, "tenant", "-");
  if (strcmp(kind, "agent") == 0)
    return json_is_string(json_object_get(t, "node")) ? sc_cli_str(t, "node", "-")
                                                      : "(bootstrap)";
  return "-";
}

static int token_list(struct sc_cli *c)
{
  static const char *const headers[] = {"ID", "KIND", "TENANT/NODE", "CREATED", "LAST USED",
                                        "EXPIRES", "STATE", NULL};
  int64_t now = sc_clock_wall_ms();
  json_t *reply = NULL, *t;
  struct sc_table tab;
  size_t i;
  int rc;

  if ((rc = sc_cli_get_table(c, "/v1/tokens", &reply)) != 0)
    return rc < 0 ? SC_CLI_OK : rc;
  sc_table_init(&tab, headers);
  json_array_foreach(json_object_get(reply, "tokens"), i, t) {
    char created[16], used[16], expires[40];
    const char *exp = sc_cli_str(t, "expires_at", NULL);
    int64_t exp_ms = 0;
    const char *state = json_is_true(json_object_get(t, "revoked")) ? "revoked"
                        : exp && sc_parse_rfc3339_ms(exp, &exp_ms) == 0 && exp_ms <= now
                          ? "expired"
                          : "active";
    sc_cli_age(sc_cli_str(t, "created_at", NULL), now, created, sizeof created);
    sc_cli_age(sc_cli_str(t, "last_used_at", NULL), now, used, sizeof used);
    snprintf(expires, sizeof expires, "%s", exp ? exp : "never");
    sc_table_add(&tab, (const char *const[]){sc_cli_str(t, "id", "?"), sc_cli_str(t, "kind", "?"),
                                             binding(t), created, used, expires, state});
  }
  rc = sc_table_print(&tab, stdout) < 0 ? SC_CLI_API : 0;
  sc_table_release(&tab);
  json_decref(reply);
  return rc;
}

static int token_revoke(struct sc_cli *c, const char *id)
{
  json_t *reply = NULL;
  char path[128];
  int rc;

  if (strncmp(id, "tk-", 3) != 0 || strlen(id) > 32)
    return sc_cli_usage_error(c, "bad token id \"%s\" (want tk-... as 'token list' shows)", id);
  snprintf(path, sizeof path, "/v1/tokens/%s", id);
  if ((rc = sc_cli_connect(c)) == 0 && (rc = sc_cli_call(c, "DELETE", path, NULL, 30000, &reply)) == 0) {
    if (c->json)
      sc_cli_print_json(reply);
    else
      printf("revoked %s\n", sc_cli_str(reply, "id", id));
  }
  json_decref(reply);
  return rc;
}

int sc_cli_token(int argc, char **argv)
{
  static const struct option opts[] = {
    {"tenant", required_argument, NULL, 'T'}, {"kind", required_argument, NULL, 'k'},
    {"node", required_argument, NULL, 'n'},   {"ttl", required_argument, NULL, 't'},
    SC_CLI_COMMON_OPTIONS,
  };
  struct sc_cli c = {.cmd = "token"};
  struct token_args a = {.kind = "user"};
  const char *verb;
  int opt, rc = 0, nargs;

  optind = 0;
  while (rc == 0 && (opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (opt) {
    case 'T': a.tenant = optarg; break;
    case 'k': a.kind = optarg; break;
    case 'n': a.node = optarg; break;
    case 't': a.ttl = optarg; break;
    default: rc = sc_cli_common_option(&c, opt, optarg);
    }
  }
  if (rc == 0 && c.help) {
    fputs(token_help, stdout);
    sc_cli_release(&c);
    return 0;
  }
  verb = optind < argc ? argv[optind] : "";
  nargs = argc - optind - 1;
  if (rc != 0)
    ;
  else if (strcmp(verb, "create") == 0 && nargs == 0)
    rc = token_create(&c, &a);
  else if (strcmp(verb, "list") == 0 && nargs == 0)
    rc = token_list(&c);
  else if (strcmp(verb, "revoke") == 0 && nargs == 1)
    rc = token_revoke(&c, argv[optind + 1]);
  else
    rc = sc_cli_usage_error(&c, "want 'token create [flags]', 'token list' or 'token revoke ID'");
  sc_cli_release(&c);
  return rc;
}
