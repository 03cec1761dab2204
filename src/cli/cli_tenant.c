/* `supercell tenant`: list tenants and their ids, and map a tenant to a
 * node user (admin). Agents running as root run a tenant's tasks as uid
 * and gid --task-uid-base + its id, or as its run_as user. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/table.h"
#include "util/clock.h"

static const char tenant_help[] =
  "usage: supercell tenant list\n"
  "       supercell tenant set NAME [--run-as USER | --no-run-as]\n"
  "\n"
  "A tenant gets a stable numeric id when it is first used (its first job,\n"
  "or 'tenant set'). Agents running as root run its tasks as uid and gid\n"
  "--task-uid-base (default 200000) + id, with no supplementary groups and\n"
  "no capabilities, or as the node user USER once mapped with --run-as\n"
  "(never root). list shows every tenant to the admin, its own to a user.\n"
  "\n"
  "  --run-as USER     run the tenant's tasks as USER on every node\n"
  "  --no-run-as       back to uid base + id\n"
  SC_CLI_COMMON_HELP;

static int tenant_list(struct sc_cli *c)
{
  static const char *const headers[] = {"NAME", "ID", "RUNS AS", "CREATED", NULL};
  int64_t now = sc_clock_wall_ms();
  json_t *reply = NULL, *t;
  struct sc_table tab;
  size_t i;
  int rc;

  if ((rc = sc_cli_get_table(c, "/v1/tenants", &reply)) != 0)
    return rc < 0 ? SC_CLI_OK : rc;
  sc_table_init(&tab, headers);
  json_array_foreach(json_object_get(reply, "tenants"), i, t) {
    char id[24], runs[48], created[16];
    snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(t, "id")));
    if (json_is_string(json_object_get(t, "run_as")))
      snprintf(runs, sizeof runs, "%s", sc_cli_str(t, "run_as", "?"));
    else
      snprintf(runs, sizeof runs, "uid base + %s", id);
    sc_cli_age(sc_cli_str(t, "created_at", NULL), now, created, sizeof created);
    sc_table_add(&tab, (const char *const[]){sc_cli_str(t, "name", "?"), id, runs, created});
  }
  rc = sc_table_print(&tab, stdout) < 0 ? SC_CLI_API : 0;
  sc_table_release(&tab);
  json_decref(reply);
  return rc;
}

static int tenant_set(struct sc_cli *c, const char *name, const char *run_as, bool clear)
{
  json_t *body = json_object(), *reply = NULL;
  char path[200];
  int rc;

  if (strlen(name) > 64 || strchr(name, '/'))
    return sc_cli_usage_error(c, "bad tenant name \"%s\"", name);
  if (run_as && clear)
    return sc_cli_usage_error(c, "give '--run-as' or '--no-run-as', not both");
  if (run_as && strcmp(run_as, "root") == 0)
    return sc_cli_usage_error(c, "bad value for '--run-as': tasks never run as root");
  json_object_set_new(body, "run_as", run_as ? json_string(run_as) : json_null());
  snprintf(path, sizeof path, "/v1/tenants/%s", name);
  if ((rc = sc_cli_connect(c)) == 0 && (rc = sc_cli_call(c, "PUT", path, body, 30000, &reply)) == 0) {
    if (c->json)
      sc_cli_print_json(reply);
    else if (json_is_string(json_object_get(reply, "run_as")))
      printf("tenant %s (id %lld) runs as %s\n", sc_cli_str(reply, "name", name),
             (long long)json_integer_value(json_object_get(reply, "id")),
             sc_cli_str(reply, "run_as", "?"));
    else
      printf("tenant %s (id %lld) runs as uid base + %lld\n", sc_cli_str(reply, "name", name),
             (long long)json_integer_value(json_object_get(reply, "id")),
             (long long)json_integer_value(json_object_get(reply, "id")));
  }
  json_decref(body);
  json_decref(reply);
  return rc;
}

int sc_cli_tenant(int argc, char **argv)
{
  static const struct option opts[] = {
    {"run-as", required_argument, NULL, 'r'}, {"no-run-as", no_argument, NULL, 'R'},
    SC_CLI_COMMON_OPTIONS,
  };
  struct sc_cli c = {.cmd = "tenant"};
  const char *verb, *run_as = NULL;
  bool clear = false;
  int opt, rc = 0, nargs;

  optind = 0;
  while (rc == 0 && (opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (opt) {
    case 'r': run_as = optarg; break;
    case 'R': clear = true; break;
    default: rc = sc_cli_common_option(&c, opt, optarg);
    }
  }
  if (rc == 0 && c.help) {
    fputs(tenant_help, stdout);
    sc_cli_release(&c);
    return 0;
  }
  verb = optind < argc ? argv[optind] : "";
  nargs = argc - optind - 1;
  if (rc != 0)
    ;
  else if (strcmp(verb, "list") == 0 && nargs == 0 && !run_as && !clear)
    rc = tenant_list(&c);
  else if (strcmp(verb, "set") == 0 && nargs == 1)
    rc = tenant_set(&c, argv[optind + 1], run_as, clear);
  else
    rc = sc_cli_usage_error(&c, "want 'tenant list' or 'tenant set NAME [--run-as USER]'");
  sc_cli_release(&c);
  return rc;
}
