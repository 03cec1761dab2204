/* Aligned tables and cell formatters for the CLI's human output. */
#include "cli/table.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/units.h"

void sc_table_init(struct sc_table *t, const char *const *headers)
{
  memset(t, 0, sizeof *t);
  while (headers[t->ncols] && t->ncols < SC_TABLE_MAX_COLS)
    t->ncols++;
  t->nrows = 0;
  sc_table_add(t, headers);
  t->nrows = 0;
}

void sc_table_add(struct sc_table *t, const char *const *cells)
{
  size_t row = t->cells ? t->nrows + 1 : 0;

  if ((row + 1) * t->ncols > t->cap) {
    size_t cap = t->cap ? t->cap * 2 : t->ncols * 16;
    char **p = realloc(t->cells, cap * sizeof *p);
    if (!p) {
      t->oom = 1;
      return;
    }
    t->cells = p;
    t->cap = cap;
  }
  for (size_t i = 0; i < t->ncols; i++)
    if (!(t->cells[row * t->ncols + i] = strdup(cells[i] && *cells[i] ? cells[i] : "-")))
      t->oom = 1;
  if (row > 0)
    t->nrows++;
}

/* Display width of UTF-8 text: code points, not bytes. */
static size_t text_width(const char *s)
{
  size_t w = 0;

  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80)
      w++;
  return w;
}

int sc_table_print(const struct sc_table *t, FILE *out)
{
  size_t width[SC_TABLE_MAX_COLS] = {0};

  for (size_t r = 0; r <= t->nrows; r++)
    for (size_t c = 0; c < t->ncols; c++) {
      size_t w = text_width(t->cells[r * t->ncols + c]);
      if (w > width[c])
        width[c] = w;
    }
  for (size_t r = 0; r <= t->nrows; r++) {
    for (size_t c = 0; c < t->ncols; c++) {
      const char *cell = t->cells[r * t->ncols + c];
      fputs(cell, out);
      if (c + 1 < t->ncols)
        fprintf(out, "%*s", (int)(width[c] - text_width(cell) + 3), "");
    }
    fputc('\n', out);
  }
  return t->oom ? SC_ENOMEM : 0;
}

void sc_table_release(struct sc_table *t)
{
  size_t n = t->cells ? (t->nrows + 1) * t->ncols : 0;

  for (size_t i = 0; i < n; i++)
    free(t->cells[i]);
  free(t->cells);
  memset(t, 0, sizeof *t);
}


void sc_cli_age(const char *text, int64_t now_ms, char *buf, size_t size)
{
  int64_t then;

  if (sc_parse_rfc3339_ms(text, &then) != 0) {
    snprintf(buf, size, "-");
    return;
  }
  sc_format_duration(now_ms > then ? now_ms - then : 0, buf, size);
}

void sc_cli_milli(int64_t milli, char *buf, size_t size)
{
  int64_t whole = milli / 1000, frac = milli % 1000;

  if (frac == 0) {
    snprintf(buf, size, "%lld", (long long)whole);
    return;
  }
  snprintf(buf, size, "%lld.%03lld", (long long)whole, (long long)(frac < 0 ? -frac : frac));
  for (size_t n = strlen(buf); n > 0 && buf[n - 1] == '0'; n--)
    buf[n - 1] = '\0';
}

void sc_cli_job_gpus(json_t *job, char *buf, size_t size)
{
  json_t *spec = json_object_get(job, "spec") ? json_object_get(job, "spec") : job;
  json_t *res = json_object_get(spec, "resources");
  json_int_t tasks = json_is_integer(json_object_get(job, "task_count"))
                       ? json_integer_value(json_object_get(job, "task_count"))
                       : json_integer_value(json_object_get(spec, "tasks"));
  json_int_t gpus = json_integer_value(json_object_get(res, "gpus"));
  json_int_t milli = json_integer_value(json_object_get(res, "gpu_milli"));

  if (tasks <= 0)
    tasks = 1;
  if (milli > 0 && milli < 1000)
    sc_cli_milli((int64_t)(tasks * milli), buf, size);
  else
    snprintf(buf, size, "%lld", (long long)(tasks * gpus));
}

void sc_cli_job_tasks(json_t *job, char *buf, size_t size)
{
  const char *state = json_string_value(json_object_get(job, "state"));
  json_int_t n = json_integer_value(json_object_get(job, "task_count"));
  json_t *counts = json_object_get(job, "task_counts");
  json_int_t running = json_integer_value(json_object_get(counts, "running"));

  if (n <= 0)
    n = 1;
  if (state && strcmp(state, "running") == 0 && json_is_object(counts))
    snprintf(buf, size, "%lld/%lld", (long long)running, (long long)n);
  else
    snprintf(buf, size, "%lld", (long long)n);
}

struct dev_group {
  const char *vendor, *model;
  int count;
  int64_t used;
};

void sc_cli_node_devices(json_t *devices, char *buf, size_t size)
{
  struct dev_group groups[16];
  size_t ngroups = 0, len = 0, i;
  json_t *d;

  json_array_foreach(devices, i, d) {
    const char *vendor = json_string_value(json_object_get(d, "vendor"));
    const char *model = json_string_value(json_object_get(d, "model"));
    size_t g;
    vendor = vendor ? vendor : "?";
    model = model ? model : "?";
    for (g = 0; g < ngroups; g++)
      if (strcmp(groups[g].vendor, vendor) == 0 && strcmp(groups[g].model, model) == 0)
        break;
    if (g == ngroups) {
      if (ngroups == sizeof groups / sizeof groups[0])
        continue;
      groups[ngroups++] = (struct dev_group){vendor, model, 0, 0};
    }
    groups[g].count++;
    groups[g].used += json_integer_value(json_object_get(d, "milli_used"));
  }
  snprintf(buf, size, "-");
  for (size_t g = 0; g < ngroups && len < size; g++) {
    char used[32];
    sc_cli_milli(groups[g].used, used, sizeof used);
    len += (size_t)snprintf(buf + len, size - len, "%s%dx %s:%s (%s used)", g ? ", " : "",
                            groups[g].count, groups[g].vendor, groups[g].model, used);
  }
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void sc_cli_labels(json_t *labels, char *buf, size_t size)
{
  const char *keys[64], *key;
  size_t n = 0, len = 0;
  json_t *v;

  json_object_foreach(labels, key, v)
    if (n < sizeof keys / sizeof keys[0])
      keys[n++] = key;
  qsort(keys, n, sizeof keys[0], cmp_str);
  snprintf(buf, size, "-");
  for (size_t i = 0; i < n && len < size; i++) {
    const char *value = json_string_value(json_object_get(labels, keys[i]));
    len += (size_t)snprintf(buf + len, size - len, "%s%s=%s", i ? "," : "", keys[i],
                            value ? value : "");
  }
}
