/*
 * OpenB CSV readers. A small CSV splitter (commas, optional double quotes)
 * feeds typed field parsers that report file:line and the column name.
 */
#include "sim/trace.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define MAX_FIELDS 32

struct csv {
  FILE *f;
  const char *path;
  char *line;
  size_t cap;
  long lineno;
  char *fields[MAX_FIELDS];
  int nfields;
  char *err;
  size_t errlen;
};

static int csv_fail(struct csv *c, int code, const char *fmt, const char *a, const char *b)
{
  char msg[256];

  snprintf(msg, sizeof msg, fmt, a, b);
  snprintf(c->err, c->errlen, "%s:%ld: %s", c->path, c->lineno, msg);
  return code;
}

/* Splits the current line in place. Quoted fields may hold commas. */
static int csv_split(struct csv *c)
{
  char *p = c->line, *w;

  c->nfields = 0;
  p[strcspn(p, "\r\n")] = '\0';
  for (;;) {
    if (c->nfields == MAX_FIELDS)
      return csv_fail(c, SC_EPARSE, "more than %s columns%s", "32", "");
    c->fields[c->nfields++] = w = p;
    if (*p == '"') {
      p++;
      for (;;) {
        if (*p == '\0')
          return csv_fail(c, SC_EPARSE, "unterminated quoted field%s%s", "", "");
        if (*p == '"' && p[1] == '"') {
          *w++ = '"';
          p += 2;
        } else if (*p == '"') {
          p++;
          break;
        } else {
          *w++ = *p++;
        }
      }
      if (*p != ',' && *p != '\0')
        return csv_fail(c, SC_EPARSE, "text after a quoted field%s%s", "", "");
    } else {
      while (*p && *p != ',')
        *w++ = *p++;
    }
    if (*p == '\0') {
      *w = '\0';
      return 0;
    }
    *w = '\0';
    p++;
  }
}

/* Reads the next non-empty line. Returns 1, 0 at end of file, or < 0. */
static int csv_next(struct csv *c)
{
  for (;;) {
    ssize_t len = getline(&c->line, &c->cap, c->f);
    if (len < 0)
      return ferror(c->f) ? csv_fail(c, SC_EIO, "read error%s%s", "", "") : 0;
    c->lineno++;
    if (c->line[strspn(c->line, " \t\r\n")] == '\0')
      continue;
    return csv_split(c) < 0 ? SC_EPARSE : 1;
  }
}

/* Reads from f (borrowed), calling it name in messages. */
static void csv_init(struct csv *c, FILE *f, const char *name, char *err, size_t errlen)
{
  memset(c, 0, sizeof *c);
  c->path = name;
  c->err = err;
  c->errlen = errlen;
  c->f = f;
}

static void csv_close(struct csv *c)
{
  free(c->line);
}

/* Maps wanted column names to indices from the header line. Optional
 * columns (name prefixed with '?') get -1 when absent. */
static int csv_header(struct csv *c, const char *const *names, int n, int *idx)
{
  int rc = csv_next(c);

  if (rc <= 0)
    return rc == 0 ? csv_fail(c, SC_EPARSE, "empty file, expected a header%s%s", "", "") : rc;
  for (int i = 0; i < n; i++) {
    const char *want = names[i][0] == '?' ? names[i] + 1 : names[i];
    idx[i] = -1;
    for (int f = 0; f < c->nfields; f++)
      if (strcmp(c->fields[f], want) == 0)
        idx[i] = f;
    if (idx[i] < 0 && names[i][0] != '?')
      return csv_fail(c, SC_EPARSE, "missing column '%s'%s", want, "");
  }
  return 0;
}

static const char *csv_field(struct csv *c, int idx)
{
  return idx >= 0 && idx < c->nfields ? c->fields[idx] : NULL;
}

static int parse_int(struct csv *c, int idx, const char *column, int64_t min, int64_t max,
                     int64_t *out)
{
  const char *text = csv_field(c, idx);
  char *end;
  long long v;

  if (!text)
    return csv_fail(c, SC_EPARSE, "missing value for '%s'%s", column, "");
  errno = 0;
  v = strtoll(text, &end, 10);
  /* Some traces write integers as floats ("4.0"). */
  if (*end == '.' && strspn(end + 1, "0") == strlen(end + 1) && end != text)
    end += strlen(end);
  if (end == text || *end || errno) {
    char quoted[80];
    snprintf(quoted, sizeof quoted, "\"%.60s\"", text);
    return csv_fail(c, SC_EPARSE, "bad value for '%s': %s", column, quoted);
  }
  if (v < min || v > max) {
    char quoted[80];
    snprintf(quoted, sizeof quoted, "%lld", v);
    return csv_fail(c, SC_ERANGE, "value out of range for '%s': %s", column, quoted);
  }
  *out = v;
  return 0;
}

static int copy_name(struct csv *c, int idx, const char *column, char *dst, size_t size,
                     bool required)
{
  const char *text = csv_field(c, idx);

  if (!text)
    text = "";
  if (required && !*text)
    return csv_fail(c, SC_EPARSE, "empty value for '%s'%s", column, "");
  if (strlen(text) >= size)
    return csv_fail(c, SC_EPARSE, "value for '%s' too long%s", column, "");
  memcpy(dst, text, strlen(text) + 1);
  return 0;
}

static int grow(void **items, size_t *cap, size_t n, size_t size)
{
  void *p;

  if (n < *cap)
    return 0;
  *cap = *cap ? *cap * 2 : 1024;
  p = realloc(*items, *cap * size);
  if (!p)
    return SC_ENOMEM;
  *items = p;
  return 0;
}

int sc_trace_read_nodes_file(FILE *f, const char *name, struct sc_trace_nodes *out, char *err,
                        size_t errlen)
{
  static const char *const cols[] = {"sn", "cpu_milli", "memory_mib", "gpu", "?model"};
  struct csv c;
  int idx[5], rc;
  size_t cap = 0;

  memset(out, 0, sizeof *out);
  csv_init(&c, f, name, err, errlen);
  rc = csv_header(&c, cols, 5, idx);
  while (rc == 0 && (rc = csv_next(&c)) == 1) {
    struct sc_trace_node *n;
    int64_t v;
    if ((rc = grow((void **)&out->items, &cap, out->n, sizeof *n)) < 0)
      break;
    n = &out->items[out->n];
    memset(n, 0, sizeof *n);
    if ((rc = copy_name(&c, idx[0], "sn", n->name, sizeof n->name, true)) < 0 ||
        (rc = parse_int(&c, idx[1], "cpu_milli", 0, INT64_MAX / 4, &n->cpu_milli)) < 0 ||
        (rc = parse_int(&c, idx[2], "memory_mib", 0, INT64_MAX / 4, &n->memory_mib)) < 0 ||
        (rc = parse_int(&c, idx[3], "gpu", 0, 16, &v)) < 0 ||
        (rc = copy_name(&c, idx[4], "model", n->model, sizeof n->model, false)) < 0)
      break;
    n->gpus = (int)v;
    if (n->gpus > 0 && !n->model[0]) {
      rc = csv_fail(&c, SC_EPARSE, "node with GPUs needs a '%s'%s", "model", "");
      break;
    }
    out->n++;
    rc = 0;
  }
  csv_close(&c);
  if (rc < 0)
    sc_trace_nodes_release(out);
  return rc < 0 ? rc : 0;
}

void sc_trace_nodes_release(struct sc_trace_nodes *nodes)
{
  free(nodes->items);
  memset(nodes, 0, sizeof *nodes);
}

/* Copies a '|'-separated model list without empty tokens; "nan" = none. */
static int clean_spec(struct csv *c, int idx, char *dst, size_t size)
{
  const char *p = csv_field(c, idx);
  size_t n = 0;

  dst[0] = '\0';
  if (!p || strcmp(p, "nan") == 0)
    return 0;
  while (*p) {
    size_t len = strcspn(p, "|");
    if (len > 0) {
      if (n + len + 2 > size)
        return csv_fail(c, SC_EPARSE, "value for '%s' too long%s", "gpu_spec", "");
      if (n > 0)
        dst[n++] = '|';
      memcpy(dst + n, p, len);
      n += len;
      dst[n] = '\0';
    }
    p += len;
    if (*p == '|')
      p++;
  }
  return 0;
}

static int read_pod(struct csv *c, const int *idx, struct sc_trace_pod *p)
{
  int64_t num_gpu, gpu_milli;
  int rc;

  memset(p, 0, sizeof *p);
  if ((rc = copy_name(c, idx[0], "name", p->name, sizeof p->name, true)) < 0 ||
      (rc = parse_int(c, idx[1], "cpu_milli", 0, INT64_MAX / 4, &p->cpu_milli)) < 0 ||
      (rc = parse_int(c, idx[2], "memory_mib", 0, INT64_MAX / 4, &p->memory_mib)) < 0 ||
      (rc = parse_int(c, idx[3], "num_gpu", 0, 16, &num_gpu)) < 0 ||
      (rc = parse_int(c, idx[4], "gpu_milli", INT32_MIN, INT32_MAX, &gpu_milli)) < 0)
    return rc;
  if (num_gpu == 0)
    return 0; /* CPU-only: no GPU fields at all */
  p->num_gpu = (int)num_gpu;
  p->gpu_milli = gpu_milli > 1000 ? 1000 : gpu_milli < 0 ? 0 : (int)gpu_milli;
  if (p->gpu_milli == 0)
    return csv_fail(c, SC_ERANGE, "'%s' must be positive when 'num_gpu' > 0%s", "gpu_milli", "");
  return clean_spec(c, idx[5], p->spec, sizeof p->spec);
}

int sc_trace_read_pods_file(FILE *f, const char *name, struct sc_trace_pods *out, char *err,
                       size_t errlen)
{
  static const char *const cols[] = {"name", "cpu_milli", "memory_mib", "num_gpu",
                                     "gpu_milli", "?gpu_spec"};
  struct csv c;
  int idx[6], rc;
  size_t cap = 0;

  memset(out, 0, sizeof *out);
  csv_init(&c, f, name, err, errlen);
  rc = csv_header(&c, cols, 6, idx);
  while (rc == 0 && (rc = csv_next(&c)) == 1) {
    if ((rc = grow((void **)&out->items, &cap, out->n, sizeof *out->items)) < 0)
      break;
    if ((rc = read_pod(&c, idx, &out->items[out->n])) < 0)
      break;
    out->n++;
  }
  csv_close(&c);
  if (rc == SC_ENOMEM)
    snprintf(err, errlen, "%s: out of memory", name);
  if (rc < 0)
    sc_trace_pods_release(out);
  return rc < 0 ? rc : 0;
}

void sc_trace_pods_release(struct sc_trace_pods *pods)
{
  free(pods->items);
  memset(pods, 0, sizeof *pods);
}

/* Opens path for reader, which reads it into out. */
static int read_path(const char *path, void *out, char *err, size_t errlen,
                     int (*reader)(FILE *, const char *, void *, char *, size_t))
{
  FILE *f = fopen(path, "r");
  int rc;

  if (!f) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return SC_EIO;
  }
  rc = reader(f, path, out, err, errlen);
  fclose(f);
  return rc;
}

static int nodes_reader(FILE *f, const char *name, void *out, char *err, size_t errlen)
{
  return sc_trace_read_nodes_file(f, name, out, err, errlen);
}

static int pods_reader(FILE *f, const char *name, void *out, char *err, size_t errlen)
{
  return sc_trace_read_pods_file(f, name, out, err, errlen);
}

int sc_trace_read_nodes(const char *path, struct sc_trace_nodes *out, char *err, size_t errlen)
{
  memset(out, 0, sizeof *out);
  return read_path(path, out, err, errlen, nodes_reader);
}

int sc_trace_read_pods(const char *path, struct sc_trace_pods *out, char *err, size_t errlen)
{
  memset(out, 0, sizeof *out);
  return read_path(path, out, err, errlen, pods_reader);
}
