/*
 * The pure half of the emulator: the plan of a fleet (names, shapes,
 * labels spread over the nodes) and the fate of an emulated task (how long
 * its `sleep` lasts, whether it fails). No I/O, clocks or randomness: the
 * same flags give the same fleet and the same task outcomes in every run.
 */
#include "agent/agent_emu.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/units.h"

/* ---- labels ---- */

void sc_emu_label_release(struct sc_emu_label *l)
{
  for (int i = 0; i < l->nvalues; i++)
    free(l->values[i]);
  free(l->values);
  memset(l, 0, sizeof *l);
}

static int label_add(struct sc_emu_label *l, const char *value, size_t len)
{
  char **grown;

  if (l->nvalues >= SC_EMU_VALUES_MAX)
    return SC_ERANGE;
  if (!(grown = realloc(l->values, (size_t)(l->nvalues + 1) * sizeof *grown)))
    return SC_ENOMEM;
  l->values = grown;
  if (!(l->values[l->nvalues] = strndup(value, len)))
    return SC_ENOMEM;
  l->nvalues++;
  return 0;
}

/* Adds one comma-separated item: a plain value, or PRE[A-B]POST expanded
 * to A..B (zero-padded to A's width when A starts with 0). */
static int label_item(struct sc_emu_label *l, const char *item, size_t len)
{
  const char *open = memchr(item, '[', len), *close;
  char *end, buf[160];
  long lo, hi;
  int width, rc = 0;

  if (len == 0)
    return SC_EPARSE;
  if (!open)
    return label_add(l, item, len);
  close = memchr(open, ']', len - (size_t)(open - item));
  lo = strtol(open + 1, &end, 10);
  if (!close || end == open + 1 || *end != '-' || !isdigit((unsigned char)open[1]))
    return SC_EPARSE;
  width = open[1] == '0' ? (int)(end - open - 1) : 1;
  hi = strtol(end + 1, &end, 10);
  if (end != close || hi < lo || hi - lo >= SC_EMU_VALUES_MAX)
    return SC_EPARSE;
  for (long v = lo; v <= hi && rc == 0; v++) {
    int n = snprintf(buf, sizeof buf, "%.*s%0*ld%.*s", (int)(open - item), item, width, v,
                     (int)(len - (size_t)(close + 1 - item)), close + 1);
    rc = n < (int)sizeof buf ? label_add(l, buf, (size_t)n) : SC_EPARSE;
  }
  return rc;
}

int sc_emu_label_parse(struct sc_emu_label *l, const char *text, bool blocks, char *err,
                       size_t size)
{
  const char *eq = strchr(text, '='), *p;
  int rc = 0;

  memset(l, 0, sizeof *l);
  l->blocks = blocks;
  if (!eq || eq == text || (size_t)(eq - text) >= sizeof l->key) {
    snprintf(err, size, "bad label spread \"%s\": want KEY=V1,V2,...", text);
    return SC_EPARSE;
  }
  snprintf(l->key, sizeof l->key, "%.*s", (int)(eq - text), text);
  for (p = eq + 1; rc == 0; p++) {
    size_t len = strcspn(p, ",");
    rc = label_item(l, p, len);
    p += len;
    if (!*p)
      break;
  }
  if (rc == SC_ENOMEM)
    snprintf(err, size, "out of memory");
  else if (rc == SC_ERANGE)
    snprintf(err, size, "label spread \"%s\": more than %d values", text, SC_EMU_VALUES_MAX);
  else if (rc != 0)
    snprintf(err, size, "bad label spread \"%s\": an empty value or a bad range (want "
             "e.g. rack=r[1-40])", text);
  if (rc != 0)
    sc_emu_label_release(l);
  return rc;
}

const char *sc_emu_label_value(const struct sc_emu_label *l, int i, int n)
{
  if (l->nvalues == 0 || i < 0 || n <= 0)
    return NULL;
  if (l->blocks)
    return l->values[(int64_t)i * l->nvalues / n];
  return l->values[i % l->nvalues];
}

/* ---- a task's fate ---- */

static bool is_word(const char *s, size_t len, const char *word)
{
  const char *base = s;

  for (size_t i = 0; i < len; i++) /* a path ending in /word counts */
    if (s[i] == '/')
      base = s + i + 1;
  return (size_t)(s + len - base) == strlen(word) && strncmp(base, word, strlen(word)) == 0;
}

/* The duration token S of `sleep S`, len bytes. */
static int64_t sleep_arg_ms(const char *s, size_t len)
{
  char buf[64];
  int64_t ms;

  if (len == 0 || len >= sizeof buf)
    return 0;
  snprintf(buf, sizeof buf, "%.*s", (int)len, s);
  if (strcmp(buf, "infinity") == 0 || strcmp(buf, "inf") == 0)
    return SC_EMU_FOREVER;
  return sc_parse_duration_ms(buf, &ms) == 0 ? ms : 0;
}

/* `sleep S` at the start of a shell command line. */
static int64_t shell_sleep_ms(const char *text)
{
  const char *p = text + strspn(text, " \t\n"), *arg;
  size_t word = strcspn(p, " \t\n;&|()");

  if (!is_word(p, word, "sleep") || !strchr(" \t", p[word]))
    return 0;
  arg = p + word + strspn(p + word, " \t");
  return sleep_arg_ms(arg, strcspn(arg, " \t\n;&|()"));
}

int64_t sc_emu_sleep_ms(char *const *argv, const char *shell)
{
  if (shell)
    return shell_sleep_ms(shell);
  if (!argv || !argv[0])
    return 0;
  if (is_word(argv[0], strlen(argv[0]), "sleep"))
    return argv[1] ? sleep_arg_ms(argv[1], strlen(argv[1])) : 0;
  if ((is_word(argv[0], strlen(argv[0]), "sh") || is_word(argv[0], strlen(argv[0]), "bash")) &&
      argv[1] && strcmp(argv[1], "-c") == 0 && argv[2])
    return shell_sleep_ms(argv[2]);
  return 0;
}

/* splitmix64's finalizer: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

bool sc_emu_fails(uint64_t seed, const char *task_id, int attempt, double rate)
{
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a of the id */

  if (rate <= 0)
    return false;
  if (rate >= 1)
    return true;
  for (const unsigned char *p = (const unsigned char *)task_id; *p; p++)
    h = (h ^ *p) * 0x100000001b3ULL;
  h = mix64(h ^ mix64(seed ^ ((uint64_t)(uint32_t)attempt << 32)));
  return (double)(h >> 11) * 0x1.0p-53 < rate;
}

/* ---- the fleet ---- */

int sc_emu_shape_from_trace(const struct sc_trace_node *t, struct sc_emu_shape *out, char *err,
                            size_t size)
{
  char spec[128], why[256];

  memset(out, 0, sizeof *out);
  out->cpu_milli = t->cpu_milli;
  out->memory_mib = t->memory_mib;
  if (t->gpus <= 0)
    return 0;
  if (!t->model[0]) {
    snprintf(err, size, "node %s: %d GPUs of no model", t->name, t->gpus);
    return SC_EPARSE;
  }
  snprintf(spec, sizeof spec, "nvidia:%s:%d", t->model, t->gpus);
  if (sc_devices_parse(&out->devices, spec, why, sizeof why) != 0) {
    snprintf(err, size, "node %s: %s", t->name, why);
    return SC_EPARSE;
  }
  return 0;
}

void sc_emu_plan_release(struct sc_emu_plan *p)
{
  free(p->shapes);
  free(p->nodes);
  json_decref(p->labels);
  for (int i = 0; i < p->nspread; i++)
    sc_emu_label_release(&p->spread[i]);
  memset(p, 0, sizeof *p);
}

/* A node name is 1..63 of [A-Za-z0-9._-], as the controller wants. */
static bool name_ok(const char *name)
{
  size_t len = strlen(name);

  if (len == 0 || len > 63)
    return false;
  for (const char *c = name; *c; c++)
    if (!isalnum((unsigned char)*c) && !strchr("._-", *c))
      return false;
  return true;
}

/* Room for n nodes; their names from prefix when set. */
static int plan_nodes(struct sc_emu_plan *p, int n, const char *prefix, char *err, size_t size)
{
  if (n < 1 || n > SC_EMU_NODES_MAX) {
    snprintf(err, size, "the number of nodes must be 1..%d", SC_EMU_NODES_MAX);
    return SC_EINVAL;
  }
  if (!(p->nodes = calloc((size_t)n, sizeof *p->nodes))) {
    snprintf(err, size, "out of memory");
    return SC_ENOMEM;
  }
  p->n = n;
  for (int i = 0; prefix && i < n; i++) {
    snprintf(p->nodes[i].name, sizeof p->nodes[i].name, "%.56s-%05d", prefix, i + 1);
    if (!name_ok(p->nodes[i].name)) {
      snprintf(err, size, "bad node name prefix \"%s\": want up to 50 of [A-Za-z0-9._-]",
               prefix);
      return SC_EINVAL;
    }
  }
  return 0;
}

int sc_emu_plan_uniform(struct sc_emu_plan *p, int n, const char *prefix,
                        const struct sc_emu_shape *shape, char *err, size_t size)
{
  int rc;

  memset(p, 0, sizeof *p);
  if ((rc = plan_nodes(p, n, prefix, err, size)) == 0 && !(p->shapes = malloc(sizeof *shape))) {
    snprintf(err, size, "out of memory");
    rc = SC_ENOMEM;
  }
  if (rc != 0) {
    sc_emu_plan_release(p);
    return rc;
  }
  p->shapes[0] = *shape;
  p->nshapes = 1;
  return 0;
}

/* The index of shape s in p, added if new. */
static int intern_shape(struct sc_emu_plan *p, const struct sc_emu_shape *s)
{
  for (int i = 0; i < p->nshapes; i++)
    if (memcmp(&p->shapes[i], s, sizeof *s) == 0)
      return i;
  memcpy(&p->shapes[p->nshapes], s, sizeof *s); /* padding too: compared with memcmp */
  return p->nshapes++;
}

int sc_emu_plan_trace(struct sc_emu_plan *p, const struct sc_trace_nodes *list, int limit,
                      const char *prefix, char *err, size_t size)
{
  int n = limit > 0 ? limit : (int)list->n, rc;
  struct sc_emu_shape shape;

  memset(p, 0, sizeof *p);
  if ((size_t)n > list->n) {
    snprintf(err, size, "%d nodes wanted, the node list has %zu", n, list->n);
    return SC_EINVAL;
  }
  if ((rc = plan_nodes(p, n, prefix, err, size)) != 0)
    goto fail;
  if (!(p->shapes = malloc((size_t)n * sizeof *p->shapes))) {
    snprintf(err, size, "out of memory");
    rc = SC_ENOMEM;
    goto fail;
  }
  for (int i = 0; i < n; i++) {
    const struct sc_trace_node *t = &list->items[i];
    if ((rc = sc_emu_shape_from_trace(t, &shape, err, size)) != 0)
      goto fail;
    if (!prefix && !name_ok(t->name)) {
      snprintf(err, size, "node \"%s\": not a node name (use --emulate-prefix)", t->name);
      rc = SC_EINVAL;
      goto fail;
    }
    if (!prefix)
      snprintf(p->nodes[i].name, sizeof p->nodes[i].name, "%s", t->name);
    p->nodes[i].shape = intern_shape(p, &shape);
  }
  return 0;
fail:
  sc_emu_plan_release(p);
  return rc;
}

json_t *sc_emu_plan_labels(const struct sc_emu_plan *p, int i)
{
  json_t *o = p->labels ? json_deep_copy(p->labels) : json_object();

  for (int k = 0; o && k < p->nspread; k++)
    if (json_object_set_new(o, p->spread[k].key,
                            json_string(sc_emu_label_value(&p->spread[k], i, p->n))) != 0) {
      json_decref(o);
      return NULL;
    }
  return o;
}
