/* `supercell usage` and `supercell price`: usage reports (GPU, CPU and
 * memory hours and their cost, grouped) and the price list, over the REST
 * API (GET /v1/usage, GET and POST /v1/prices). See docs/accounting.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/table.h"

static const char usage_help[] =
  "usage: supercell usage [--tenant T] [--since WHEN] [--until WHEN]\n"
  "                       [--by tenant|model|region|day|job] [-o table|json|csv]\n"
  "\n"
  "Reports what task attempts used over a window: GPU-hours (whole devices\n"
  "and milli-GPU shares), CPU core-hours and memory GiB-hours, and their cost\n"
  "at the prices in force over each stretch of time (spot jobs at spot\n"
  "prices). Running tasks count up to now. A user token sees its own\n"
  "tenant and the tenants below it only.\n"
  "\n"
  "  --tenant T        only tenant T and its descendants\n"
  "  --since WHEN      from WHEN: an age (30d, 12h), a day (2026-01-31), a UTC\n"
  "                    time (2026-01-31T10:00:00Z), now or now-2h; default: all\n"
  "  --until WHEN      up to WHEN (same forms); default: now\n"
  "  --by KEY          one row per tenant, model, region, UTC day or job\n"
  "  -o csv            comma-separated values, one line per row, with a header\n"
  SC_CLI_COMMON_HELP;

static const char price_help[] =
  "usage: supercell price list\n"
  "       supercell price set MODEL --per-gpu-hour P [--spot S] [--from WHEN]\n"
  "       supercell price set cpu --per-core-hour P [--spot S] [--from WHEN]\n"
  "       supercell price set memory --per-gib-hour P [--spot S] [--from WHEN]\n"
  "\n"
  "Prices are versioned by time: a price applies from its effective time\n"
  "until the item's next version, and usage spanning a change is billed\n"
  "piecewise. set is admin only; anyone may list. Model names match in any\n"
  "case; cpu and memory name the CPU and memory prices.\n"
  "\n"
  "  --per-gpu-hour P  on-demand price of one device of MODEL for an hour\n"
  "  --per-core-hour P on-demand price of one CPU core for an hour\n"
  "  --per-gib-hour P  on-demand price of one GiB of memory for an hour\n"
  "  --spot S          the price spot (preemptible) jobs pay instead\n"
  "  --from WHEN       effective from WHEN (a UTC time, a day, now+1h);\n"
  "                    default: now\n"
  SC_CLI_COMMON_HELP;

/* Appends "&name=value" (percent-encoded) to buf. */
static void query_add(char *buf, size_t size, const char *name, const char *value)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t at = strlen(buf);

  if (!value)
    return;
  at += (size_t)snprintf(buf + at, at < size ? size - at : 0, "%s%s=", strchr(buf, '?') ? "&" : "?",
                         name);
  for (const unsigned char *p = (const unsigned char *)value; *p && at + 4 < size; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        strchr("-._~:", *p)) {
      buf[at++] = (char)*p;
    } else {
      buf[at++] = '%';
      buf[at++] = hex[*p >> 4];
      buf[at++] = hex[*p & 15];
    }
  }
  if (at < size)
    buf[at] = '\0';
}

static double num(json_t *o, const char *key)
{
  return json_number_value(json_object_get(o, key));
}

static const char *const figures[] = {"records", "gpu_hours", "spot_gpu_hours",
                                      "cpu_core_hours", "memory_gib_hours", "cost",
                                      "cost_on_demand", "cost_spot", NULL};

static void print_csv(json_t *reply, const char *by)
{
  json_t *g;
  size_t i;

  printf("%s", strcmp(by, "none") == 0 ? "total" : by);
  for (int f = 0; figures[f]; f++)
    printf(",%s", figures[f]);
  printf("\n");
  if (strcmp(by, "none") == 0) {
    printf("all");
    for (int f = 0; figures[f]; f++)
      printf(f == 0 ? ",%.0f" : ",%.6f", num(json_object_get(reply, "total"), figures[f]));
    printf("\n");
    return;
  }
  json_array_foreach(json_object_get(reply, "groups"), i, g) {
    const char *key = sc_cli_str(g, "key", "");
    printf("%s", strpbrk(key, ",\"") ? "\"?\"" : key);
    for (int f = 0; figures[f]; f++)
      printf(f == 0 ? ",%.0f" : ",%.6f", num(g, figures[f]));
    printf("\n");
  }
}

static void table_row(struct sc_table *t, const char *key, json_t *o)
{
  char cells[8][32];

  snprintf(cells[0], sizeof cells[0], "%.0f", num(o, "records"));
  snprintf(cells[1], sizeof cells[1], "%.4f", num(o, "gpu_hours"));
  snprintf(cells[2], sizeof cells[2], "%.4f", num(o, "spot_gpu_hours"));
  snprintf(cells[3], sizeof cells[3], "%.4f", num(o, "cpu_core_hours"));
  snprintf(cells[4], sizeof cells[4], "%.4f", num(o, "memory_gib_hours"));
  snprintf(cells[5], sizeof cells[5], "%.4f", num(o, "cost"));
  snprintf(cells[6], sizeof cells[6], "%.4f", num(o, "cost_on_demand"));
  snprintf(cells[7], sizeof cells[7], "%.4f", num(o, "cost_spot"));
  sc_table_add(t, (const char *const[]){key, cells[0], cells[1], cells[2], cells[3], cells[4],
                                        cells[5], cells[6], cells[7]});
}

static int print_table(json_t *reply, const char *by)
{
  const char *headers[] = {"", "RECORDS", "GPU-H", "SPOT GPU-H", "CORE-H", "GIB-H",
                           "COST", "ON-DEMAND", "SPOT", NULL};
  char key_header[16];
  struct sc_table tab;
  json_t *g;
  size_t i;
  int rc;

  snprintf(key_header, sizeof key_header, "%s", strcmp(by, "none") == 0 ? "" : by);
  for (char *p = key_header; *p; p++)
    *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
  headers[0] = key_header;
  sc_table_init(&tab, headers);
  json_array_foreach(json_object_get(reply, "groups"), i, g) {
    const char *key = sc_cli_str(g, "key", "");
    if (strcmp(by, "none") != 0)
      table_row(&tab, *key ? key : "-", g);
  }
  table_row(&tab, "TOTAL", json_object_get(reply, "total"));
  rc = sc_table_print(&tab, stdout) < 0 ? SC_CLI_API : 0;
  sc_table_release(&tab);
  return rc;
}

int sc_cli_usage(int argc, char **argv)
{
  static const struct option opts[] = {
    {"tenant", required_argument, NULL, 't'}, {"since", required_argument, NULL, 's'},
    {"until", required_argument, NULL, 'u'},  {"by", required_argument, NULL, 'b'},
    SC_CLI_COMMON_OPTIONS,
  };
  struct sc_cli c = {.cmd = "usage"};
  const char *tenant = NULL, *since = NULL, *until = NULL, *by = "none";
  char path[1024] = "/v1/usage";
  json_t *reply = NULL;
  bool csv = false;
  int opt, rc = 0;

  optind = 0;
  while (rc == 0 && (opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (opt) {
    case 't': tenant = optarg; break;
    case 's': since = optarg; break;
    case 'u': until = optarg; break;
    case 'b': by = optarg; break;
    case 'o':
      csv = strcmp(optarg, "csv") == 0;
      rc = csv ? 0 : sc_cli_common_option(&c, opt, optarg);
      break;
    default: rc = sc_cli_common_option(&c, opt, optarg);
    }
  }
  if (rc == 0 && c.help) {
    fputs(usage_help, stdout);
    sc_cli_release(&c);
    return 0;
  }
  if (rc == 0 && optind < argc)
    rc = sc_cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
  if (rc == 0 && strcmp(by, "none") && strcmp(by, "tenant") && strcmp(by, "model") &&
      strcmp(by, "region") && strcmp(by, "day") && strcmp(by, "job"))
    rc = sc_cli_usage_error(&c, "bad value for '--by': \"%s\" (want tenant, model, region, day "
                                "or job)", by);
  if (rc == 0) {
    query_add(path, sizeof path, "tenant", tenant);
    query_add(path, sizeof path, "since", since);
    query_add(path, sizeof path, "until", until);
    query_add(path, sizeof path, "by", by);
    rc = sc_cli_get_table(&c, path, &reply);
    if (rc < 0)
      rc = SC_CLI_OK; /* -o json: printed */
    else if (rc == 0 && csv)
      print_csv(reply, by);
    else if (rc == 0)
      rc = print_table(reply, by);
  }
  json_decref(reply);
  sc_cli_release(&c);
  return rc;
}

static int price_list(struct sc_cli *c)
{
  static const char *const headers[] = {"ITEM", "FROM", "PER HOUR", "SPOT", "UNIT", NULL};
  json_t *reply = NULL, *p;
  struct sc_table tab;
  size_t i;
  int rc;

  if ((rc = sc_cli_get_table(c, "/v1/prices", &reply)) != 0)
    return rc < 0 ? SC_CLI_OK : rc;
  sc_table_init(&tab, headers);
  json_array_foreach(json_object_get(reply, "prices"), i, p) {
    char per[32], spot[32] = "-";
    snprintf(per, sizeof per, "%g", num(p, "per_hour"));
    if (json_is_number(json_object_get(p, "spot_per_hour")))
      snprintf(spot, sizeof spot, "%g", num(p, "spot_per_hour"));
    sc_table_add(&tab, (const char *const[]){sc_cli_str(p, "item", "?"),
                                             sc_cli_str(p, "from", "-"), per, spot,
                                             sc_cli_str(p, "unit", "?")});
  }
  rc = sc_table_print(&tab, stdout) < 0 ? SC_CLI_API : 0;
  sc_table_release(&tab);
  json_decref(reply);
  return rc;
}

struct price_args {
  const char *item, *flag, *per_hour, *spot, *from;
};

/* Parses a price flag's value (a number >= 0). */
static int price_value(struct sc_cli *c, const char *flag, const char *text, double *out)
{
  char *end;

  *out = text ? strtod(text, &end) : -1;
  if (!text || end == text || *end || !(*out >= 0 && *out < 1e12))
    return sc_cli_usage_error(c, "bad value for '%s': \"%s\" (want a number of at least 0)",
                              flag, text ? text : "");
  return 0;
}

static int price_set(struct sc_cli *c, const struct price_args *a)
{
  const char *want = strcasecmp(a->item, "cpu") == 0      ? "--per-core-hour"
                     : strcasecmp(a->item, "memory") == 0 ? "--per-gib-hour"
                                                          : "--per-gpu-hour";
  json_t *body, *reply = NULL;
  double per, spot = -1;
  int rc;

  if (!a->flag || strcmp(a->flag, want) != 0)
    return sc_cli_usage_error(c, "'price set %s' wants '%s P'", a->item, want);
  if ((rc = price_value(c, a->flag, a->per_hour, &per)) != 0 ||
      (a->spot && (rc = price_value(c, "--spot", a->spot, &spot)) != 0))
    return rc;
  body = json_pack("{s:s, s:f}", "item", a->item, "per_hour", per);
  if (a->spot)
    json_object_set_new(body, "spot_per_hour", json_real(spot));
  if (a->from)
    json_object_set_new(body, "from", json_string(a->from));
  if ((rc = sc_cli_connect(c)) == 0 &&
      (rc = sc_cli_call(c, "POST", "/v1/prices", body, 30000, &reply)) == 0) {
    if (c->json)
      sc_cli_print_json(reply);
    else
      printf("%s costs %g per %s from %s\n", sc_cli_str(reply, "item", a->item),
             num(reply, "per_hour"), sc_cli_str(reply, "unit", "hour"),
             sc_cli_str(reply, "from", "now"));
  }
  json_decref(body);
  json_decref(reply);
  return rc;
}

int sc_cli_price(int argc, char **argv)
{
  static const struct option opts[] = {
    {"per-gpu-hour", required_argument, NULL, 'g'},
    {"per-core-hour", required_argument, NULL, 'c'},
    {"per-gib-hour", required_argument, NULL, 'm'},
    {"spot", required_argument, NULL, 's'},
    {"from", required_argument, NULL, 'f'},
    SC_CLI_COMMON_OPTIONS,
  };
  struct sc_cli c = {.cmd = "price"};
  struct price_args a = {0};
  const char *verb;
  int opt, rc = 0, nargs, flags = 0;

  optind = 0;
  while (rc == 0 && (opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (opt) {
    case 'g': a.flag = "--per-gpu-hour", a.per_hour = optarg, flags++; break;
    case 'c': a.flag = "--per-core-hour", a.per_hour = optarg, flags++; break;
    case 'm': a.flag = "--per-gib-hour", a.per_hour = optarg, flags++; break;
    case 's': a.spot = optarg; break;
    case 'f': a.from = optarg; break;
    default: rc = sc_cli_common_option(&c, opt, optarg);
    }
  }
  if (rc == 0 && c.help) {
    fputs(price_help, stdout);
    sc_cli_release(&c);
    return 0;
  }
  verb = optind < argc ? argv[optind] : "";
  nargs = argc - optind - 1;
  if (rc != 0)
    ;
  else if (strcmp(verb, "list") == 0 && nargs == 0 && !flags && !a.spot && !a.from)
    rc = price_list(&c);
  else if (strcmp(verb, "set") == 0 && nargs == 1 && flags <= 1)
    a.item = argv[optind + 1], rc = price_set(&c, &a);
  else
    rc = sc_cli_usage_error(&c, "want 'price list' or 'price set ITEM --per-...-hour P'");
  sc_cli_release(&c);
  return rc;
}
