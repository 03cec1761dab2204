/* `supercell tenant`: list tenants and their ids, and map a tenant to a
 * node user (admin). Agents running as root run a tenant's tasks as uid
 * and gid --task-uid-base + its id, or as its run_as user. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/table.h"
#include "util/clock.h"

static const char tenant_help[] =
  "usage: supercell tenant list\n"
  "       supercell tenant show NAME\n"
  "       supercell tenant create NAME [--parent P] [--weight W] [--guarantee RES=Q,...]\n"
  "                     [--limit RES=Q,...] [--lend-limit RES=Q,...] [--regions R1,R2]\n"
  "                     [--preempt-within lower-priority|never] [--spot-over-limit]\n"
  "                     [--run-as USER]\n"
  "       supercell tenant set NAME [the same flags] [--no-run-as] [--no-parent]\n"
  "       supercell tenant delete NAME\n"
  "\n"
  "Tenants form a tree. Each may have a guarantee (capacity it can always\n"
  "get, by reclaim if lent out), a limit (the most it may hold, borrowing\n"
  "included) and a lend limit (the most of its unused guarantee others may\n"
  "borrow), per resource: gpu (all accelerators; 0.5 or 500m is half of\n"
  "one), gpu.MODEL (one model, e.g. gpu.A100-80G), cpu (cores, or 500m) and\n"
  "memory (64Gi). A child's guarantees fit inside its parent's and its\n"
  "regions inside its parent's allowlist; without --regions it inherits\n"
  "the parent's. list shows the tree with what each holds against its\n"
  "guarantee and limit (a user token: its own subtree). delete is refused\n"
  "while a tenant has jobs not ended, or children. A tenant gets a stable\n"
  "numeric id when first used; agents running as root run its tasks as uid\n"
  "and gid --task-uid-base (default 200000) + id, or as --run-as USER.\n"
  "\n"
  "  --parent P            place it under tenant P\n"
  "  --no-parent           make it a root\n"
  "  --weight W            fair-share weight (default 1)\n"
  "  --guarantee RES=Q,... capacity it can always get\n"
  "  --limit RES=Q,...     the most it may hold (RES=none: no limit)\n"
  "  --lend-limit RES=Q,...  the most of its idle guarantee others may borrow\n"
  "  --regions R1,R2       its work runs only on nodes labelled region=R1 or R2\n"
  "  --preempt-within P    lower-priority: a job may preempt its own tenant's\n"
  "                        lower-priority jobs; never (default)\n"
  "  --spot-over-limit     its spot jobs may run past its limit\n"
  "  --run-as USER         run the tenant's tasks as USER on every node\n"
  "  --no-run-as           back to uid base + id\n"
  SC_CLI_COMMON_HELP;

/* "8", "0.5", "500m", "64Gi" or "none" for resource res, as the API takes it. */
static json_t *amount_json(const char *res, const char *v)
{
  char *end;
  double d;

  if (strcmp(v, "none") == 0)
    return json_null();
  if (strcmp(res, "memory") == 0 || (*v && v[strlen(v) - 1] == 'm'))
    return json_string(v);
  d = strtod(v, &end);
  return end != v && !*end ? json_real(d) : json_string(v);
}

/* RES=Q,RES=Q into a JSON object; NULL with a message on a bad item. */
static json_t *res_list(struct sc_cli *c, const char *flag, const char *text)
{
  json_t *o = json_object();
  char *copy = strdup(text), *save = NULL;

  for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    if (!eq || eq == item || !eq[1]) {
      sc_cli_usage_error(c, "bad value for '%s': \"%s\" (want RES=Q,... such as gpu=8,"
                         "gpu.A100-80G=4,cpu=64,memory=512Gi)", flag, item);
      json_decref(o);
      o = NULL;
      break;
    }
    *eq = '\0';
    json_object_set_new(o, item, amount_json(item, eq + 1));
  }
  free(copy);
  return o;
}

static void fmt_res(json_t *set, const char *res, char *buf, size_t size)
{
  json_t *v = json_object_get(set, res);

  if (json_is_string(v))
    snprintf(buf, size, "%s", json_string_value(v));
  else if (json_is_number(v))
    snprintf(buf, size, "%g", json_number_value(v));
  else
    snprintf(buf, size, "-");
}

/* depth of t in the tree (0 for a root) among tenants. */
static int depth_of(json_t *tenants, json_t *t)
{
  int d = 0;
  size_t i;
  json_t *u;

  for (const char *p = sc_cli_str(t, "parent", NULL); p && d < 32; d++) {
    const char *next = NULL;
    json_array_foreach(tenants, i, u) {
      if (strcmp(sc_cli_str(u, "name", ""), p) == 0)
        next = sc_cli_str(u, "parent", NULL);
    }
    p = next;
  }
  return d;
}

/* Prints tenants under parent (NULL: roots), depth first. */
static void tree_rows(json_t *tenants, const char *parent, struct sc_table *tab)
{
  size_t i;
  json_t *t;

  json_array_foreach(tenants, i, t) {
    const char *p = sc_cli_str(t, "parent", NULL);
    bool root_here = !parent && (!p || !json_object_get(t, "parent") ||
                                 json_is_null(json_object_get(t, "parent")));
    bool orphan = !parent && p; /* its parent is not visible: show it as a root */
    char name[160], gpu[64], cpu[64], mem[64], regions[160] = "", w[16], g[24], l[24];
    json_t *own = json_object_get(json_object_get(t, "usage"), "subtree"), *r;
    size_t k;
    if (orphan) {
      json_t *u;
      size_t j;
      json_array_foreach(tenants, j, u) {
        if (strcmp(sc_cli_str(u, "name", ""), p) == 0)
          orphan = false;
      }
    }
    if (!(root_here || orphan || (parent && p && strcmp(p, parent) == 0)))
      continue;
    snprintf(name, sizeof name, "%*s%s", 2 * depth_of(tenants, t), "", sc_cli_str(t, "name", "?"));
    fmt_res(own, "gpu", gpu, 20);
    fmt_res(json_object_get(t, "guarantee"), "gpu", g, sizeof g);
    fmt_res(json_object_get(t, "limit"), "gpu", l, sizeof l);
    snprintf(gpu + strlen(gpu), sizeof gpu - strlen(gpu), " / %s / %s", g, l);
    fmt_res(own, "cpu", cpu, 20);
    fmt_res(json_object_get(t, "guarantee"), "cpu", g, sizeof g);
    fmt_res(json_object_get(t, "limit"), "cpu", l, sizeof l);
    snprintf(cpu + strlen(cpu), sizeof cpu - strlen(cpu), " / %s / %s", g, l);
    fmt_res(own, "memory", mem, 20);
    fmt_res(json_object_get(t, "guarantee"), "memory", g, sizeof g);
    fmt_res(json_object_get(t, "limit"), "memory", l, sizeof l);
    snprintf(mem + strlen(mem), sizeof mem - strlen(mem), " / %s / %s", g, l);
    json_array_foreach(json_object_get(t, "regions_in_force"), k, r) {
      size_t len = strlen(regions);
      snprintf(regions + len, sizeof regions - len, "%s%s", k ? "," : "", json_string_value(r));
    }
    snprintf(w, sizeof w, "%g", json_number_value(json_object_get(t, "weight")));
    sc_table_add(tab, (const char *const[]){name, w, gpu, cpu, mem, regions[0] ? regions : "any"});
    tree_rows(tenants, sc_cli_str(t, "name", "?"), tab);
  }
}

static int tenant_list(struct sc_cli *c)
{
  static const char *const headers[] = {"TENANT", "WEIGHT", "GPU used/guar/limit",
                                        "CPU used/guar/limit", "MEMORY used/guar/limit",
                                        "REGIONS", NULL};
  json_t *reply = NULL;
  struct sc_table tab;
  int rc;

  if ((rc = sc_cli_get_table(c, "/v1/tenants", &reply)) != 0)
    return rc < 0 ? SC_CLI_OK : rc;
  sc_table_init(&tab, headers);
  tree_rows(json_object_get(reply, "tenants"), NULL, &tab);
  rc = sc_table_print(&tab, stdout) < 0 ? SC_CLI_API : 0;
  sc_table_release(&tab);
  json_decref(reply);
  return rc;
}

static void print_set(const char *label, json_t *set)
{
  const char *res;
  json_t *v;
  char buf[64];

  printf("%-12s", label);
  if (!json_object_size(set))
    printf(" -");
  json_object_foreach(set, res, v) {
    fmt_res(set, res, buf, sizeof buf);
    printf(" %s=%s", res, buf);
  }
  printf("\n");
}

static int tenant_show(struct sc_cli *c, const char *name)
{
  json_t *t = NULL, *r;
  char path[200];
  size_t i;
  int rc;

  snprintf(path, sizeof path, "/v1/tenants/%s", name);
  if ((rc = sc_cli_connect(c)) != 0 || (rc = sc_cli_call(c, "GET", path, NULL, 30000, &t)) != 0)
    return rc;
  if (c->json) {
    sc_cli_print_json(t);
    json_decref(t);
    return 0;
  }
  printf("TENANT:     %s (id %lld)\n", sc_cli_str(t, "name", "?"),
         (long long)json_integer_value(json_object_get(t, "id")));
  printf("PARENT:     %s\n", sc_cli_str(t, "parent", "-"));
  printf("WEIGHT:     %g\n", json_number_value(json_object_get(t, "weight")));
  print_set("GUARANTEE:", json_object_get(t, "guarantee"));
  print_set("LIMIT:", json_object_get(t, "limit"));
  print_set("LEND LIMIT:", json_object_get(t, "lend_limit"));
  printf("REGIONS:   ");
  json_array_foreach(json_object_get(t, "regions_in_force"), i, r)
    printf(" %s", json_string_value(r));
  printf("%s\n", json_array_size(json_object_get(t, "regions_in_force")) ? "" : " any");
  printf("PREEMPT:    within the tenant: %s; spot over limit: %s\n",
         sc_cli_str(t, "preempt_within", "never"),
         json_is_true(json_object_get(t, "spot_over_limit")) ? "yes" : "no");
  print_set("HOLDS:", json_object_get(json_object_get(t, "usage"), "own"));
  print_set("SUBTREE:", json_object_get(json_object_get(t, "usage"), "subtree"));
  printf("RUNS AS:    %s\n", sc_cli_str(t, "run_as", "uid base + id"));
  json_decref(t);
  return 0;
}

static int tenant_write(struct sc_cli *c, const char *verb, const char *name, json_t *body)
{
  json_t *reply = NULL;
  char path[200];
  int rc;

  if (strlen(name) > 64 || strchr(name, '/'))
    return sc_cli_usage_error(c, "bad tenant name \"%s\"", name);
  if (strcmp(verb, "create") == 0) {
    json_object_set_new(body, "name", json_string(name));
    snprintf(path, sizeof path, "/v1/tenants");
  } else {
    snprintf(path, sizeof path, "/v1/tenants/%s", name);
  }
  if ((rc = sc_cli_connect(c)) == 0 &&
      (rc = sc_cli_call(c, strcmp(verb, "create") == 0 ? "POST" : "PUT", path, body, 30000,
                        &reply)) == 0) {
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
  json_decref(reply);
  return rc;
}

static int tenant_delete(struct sc_cli *c, const char *name)
{
  json_t *reply = NULL;
  char path[200];
  int rc;

  snprintf(path, sizeof path, "/v1/tenants/%s", name);
  if ((rc = sc_cli_connect(c)) == 0 &&
      (rc = sc_cli_call(c, "DELETE", path, NULL, 30000, &reply)) == 0)
    printf("tenant %s deleted\n", name);
  json_decref(reply);
  return rc;
}

static int tenant_option(struct sc_cli *c, json_t *body, int opt, const char *arg)
{
  json_t *v;
  char *end;
  double w;

  switch (opt) {
  case 'r':
    if (strcmp(arg, "root") == 0)
      return sc_cli_usage_error(c, "bad value for '--run-as': tasks never run as root");
    json_object_set_new(body, "run_as", json_string(arg));
    return 0;
  case 'R': json_object_set_new(body, "run_as", json_null()); return 0;
  case 'p': json_object_set_new(body, "parent", json_string(arg)); return 0;
  case 'P': json_object_set_new(body, "parent", json_null()); return 0;
  case 'w':
    w = strtod(arg, &end);
    if (end == arg || *end || w <= 0)
      return sc_cli_usage_error(c, "bad value for '--weight': \"%s\" (want a number > 0)", arg);
    json_object_set_new(body, "weight", json_real(w));
    return 0;
  case 'g': case 'l': case 'L': {
    const char *key = opt == 'g' ? "guarantee" : opt == 'l' ? "limit" : "lend_limit";
    if (!(v = res_list(c, opt == 'g' ? "--guarantee" : opt == 'l' ? "--limit" : "--lend-limit",
                       arg)))
      return SC_CLI_USAGE;
    json_object_set_new(body, key, v);
    return 0;
  }
  case 'G': {
    json_t *arr = json_array();
    char *copy = strdup(arg), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
      json_array_append_new(arr, json_string(t));
    free(copy);
    json_object_set_new(body, "regions", arr);
    return 0;
  }
  case 'x': json_object_set_new(body, "preempt_within", json_string(arg)); return 0;
  case 's': json_object_set_new(body, "spot_over_limit", json_true()); return 0;
  default: return sc_cli_common_option(c, opt, arg);
  }
}

int sc_cli_tenant(int argc, char **argv)
{
  static const struct option opts[] = {
    {"run-as", required_argument, NULL, 'r'}, {"no-run-as", no_argument, NULL, 'R'},
    {"parent", required_argument, NULL, 'p'}, {"no-parent", no_argument, NULL, 'P'},
    {"weight", required_argument, NULL, 'w'}, {"guarantee", required_argument, NULL, 'g'},
    {"limit", required_argument, NULL, 'l'}, {"lend-limit", required_argument, NULL, 'L'},
    {"regions", required_argument, NULL, 'G'},
    {"preempt-within", required_argument, NULL, 'x'},
    {"spot-over-limit", no_argument, NULL, 's'},
    SC_CLI_COMMON_OPTIONS,
  };
  struct sc_cli c = {.cmd = "tenant"};
  json_t *body = json_object();
  const char *verb;
  int opt, rc = 0, nargs;

  optind = 0;
  while (rc == 0 && (opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1)
    rc = tenant_option(&c, body, opt, optarg);
  if (rc == 0 && c.help) {
    fputs(tenant_help, stdout);
    json_decref(body);
    sc_cli_release(&c);
    return 0;
  }
  verb = optind < argc ? argv[optind] : "";
  nargs = argc - optind - 1;
  if (rc != 0)
    ;
  else if (strcmp(verb, "list") == 0 && nargs == 0 && json_object_size(body) == 0)
    rc = tenant_list(&c);
  else if (strcmp(verb, "show") == 0 && nargs == 1 && json_object_size(body) == 0)
    rc = tenant_show(&c, argv[optind + 1]);
  else if (strcmp(verb, "delete") == 0 && nargs == 1 && json_object_size(body) == 0)
    rc = tenant_delete(&c, argv[optind + 1]);
  else if ((strcmp(verb, "set") == 0 || strcmp(verb, "create") == 0) && nargs == 1)
    rc = tenant_write(&c, verb, argv[optind + 1], body);
  else
    rc = sc_cli_usage_error(&c, "want 'tenant list|show NAME|create NAME|set NAME|delete NAME' "
                                "(see --help)");
  json_decref(body);
  sc_cli_release(&c);
  return rc;
}
