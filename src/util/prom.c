/*
 * Prometheus text exposition writer (see prom.h): a growable buffer, the
 * format's escapes and number spelling. It allocates only when the buffer
 * grows (doubling), so a scrape costs a few reallocations, not one per
 * sample.
 */
#include "util/prom.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define MAX_LABELS 8

void sc_prom_init(struct sc_prom *p)
{
  memset(p, 0, sizeof *p);
}

void sc_prom_release(struct sc_prom *p)
{
  free(p->buf);
  memset(p, 0, sizeof *p);
}

char *sc_prom_detach(struct sc_prom *p, size_t *len)
{
  char *text = p->buf;

  *len = 0;
  if (p->err) {
    sc_prom_release(p);
    return NULL;
  }
  if (!text && !(text = calloc(1, 1))) /* nothing written: "" */
    return NULL;
  *len = p->len;
  memset(p, 0, sizeof *p);
  return text;
}

/* Room for n more bytes and a NUL; false (err set) when out of memory. */
static bool reserve(struct sc_prom *p, size_t n)
{
  size_t cap;
  char *grown;

  if (p->err)
    return false;
  if (p->len + n + 1 <= p->cap)
    return true;
  cap = p->cap ? p->cap : 4096;
  while (cap < p->len + n + 1)
    cap *= 2;
  if (!(grown = realloc(p->buf, cap))) {
    p->err = SC_ENOMEM;
    return false;
  }
  p->buf = grown;
  p->cap = cap;
  return true;
}

static void put(struct sc_prom *p, const char *s, size_t n)
{
  if (!reserve(p, n))
    return;
  memcpy(p->buf + p->len, s, n);
  p->len += n;
  p->buf[p->len] = '\0';
}

static void puts_(struct sc_prom *p, const char *s)
{
  put(p, s, strlen(s));
}

/* The length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes
 * there are not one (RFC 3629: no overlongs, surrogates or past U+10FFFF). */
static int utf8_len(const unsigned char *s)
{
  unsigned char c = s[0];
  unsigned char lo = 0x80, hi = 0xbf;
  int n;

  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    n = 2;
  else if (c >= 0xe0 && c <= 0xef)
    n = 3;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 4;
  else
    return 0;
  if (c == 0xe0)
    lo = 0xa0;
  else if (c == 0xed)
    hi = 0x9f;
  else if (c == 0xf0)
    lo = 0x90;
  else if (c == 0xf4)
    hi = 0x8f;
  if (s[1] < lo || s[1] > hi)
    return 0;
  for (int i = 2; i < n; i++)
    if (s[i] < 0x80 || s[i] > 0xbf)
      return 0;
  return n;
}

/* Writes text escaped: backslash and newline always, the double quote in
 * label values (quote true); invalid UTF-8 bytes as '?'. */
static void put_escaped(struct sc_prom *p, const char *text, bool quote)
{
  const unsigned char *s = (const unsigned char *)text;

  while (*s) {
    size_t run = 0;
    int n;
    /* Runs of plain bytes go out in one copy. */
    while (s[run] && s[run] != '\\' && s[run] != '\n' && !(quote && s[run] == '"') &&
           (n = utf8_len(s + run)) > 0)
      run += (size_t)n;
    put(p, (const char *)s, run);
    s += run;
    if (!*s)
      break;
    if (*s == '\\')
      puts_(p, "\\\\");
    else if (*s == '\n')
      puts_(p, "\\n");
    else if (*s == '"')
      puts_(p, "\\\"");
    else
      puts_(p, "?"); /* not UTF-8 */
    s++;
  }
}

void sc_prom_format_value(double value, char *buf, size_t size)
{
  assert(size >= 32);
  if (isnan(value))
    snprintf(buf, size, "NaN");
  else if (isinf(value))
    snprintf(buf, size, value > 0 ? "+Inf" : "-Inf");
  else if (value == floor(value) && fabs(value) < 9007199254740992.0) /* 2^53: exact */
    snprintf(buf, size, "%.0f", value);
  else {
    snprintf(buf, size, "%.15g", value); /* shortest for most values ... */
    if (strtod(buf, NULL) != value)
      snprintf(buf, size, "%.17g", value); /* ... else all the digits */
  }
}

void sc_prom_family(struct sc_prom *p, const char *name, const char *type, const char *help)
{
  puts_(p, "# HELP ");
  puts_(p, name);
  puts_(p, " ");
  put_escaped(p, help, false);
  puts_(p, "\n# TYPE ");
  puts_(p, name);
  puts_(p, " ");
  puts_(p, type);
  puts_(p, "\n");
}

/* name{labels} (no braces without labels), then a space. */
static void put_series(struct sc_prom *p, const char *name, const char *suffix,
                       const struct sc_prom_label *labels, int n)
{
  puts_(p, name);
  puts_(p, suffix);
  if (n > 0) {
    puts_(p, "{");
    for (int i = 0; i < n; i++) {
      if (i > 0)
        puts_(p, ",");
      puts_(p, labels[i].name);
      puts_(p, "=\"");
      put_escaped(p, labels[i].value ? labels[i].value : "", true);
      puts_(p, "\"");
    }
    puts_(p, "}");
  }
  puts_(p, " ");
}

static void put_value(struct sc_prom *p, double value)
{
  char num[40];

  sc_prom_format_value(value, num, sizeof num);
  puts_(p, num);
  puts_(p, "\n");
}

void sc_prom_sample(struct sc_prom *p, const char *name, const struct sc_prom_label *labels,
                    int n, double value)
{
  put_series(p, name, "", labels, n);
  put_value(p, value);
}

void sc_prom_histogram(struct sc_prom *p, const char *name, const struct sc_prom_label *labels,
                       int n, const struct sc_histogram_snap *h)
{
  struct sc_prom_label with_le[MAX_LABELS + 1];
  char le[40];

  assert(n >= 0 && n <= MAX_LABELS);
  if (n > MAX_LABELS)
    n = MAX_LABELS;
  if (n > 0)
    memcpy(with_le, labels, (size_t)n * sizeof *labels);
  with_le[n].name = "le";
  with_le[n].value = le;
  for (int i = 0; i <= h->nbounds; i++) {
    if (i < h->nbounds)
      sc_prom_format_value(h->bounds[i], le, sizeof le);
    else
      snprintf(le, sizeof le, "+Inf");
    put_series(p, name, "_bucket", with_le, n + 1);
    put_value(p, (double)(i < h->nbounds ? h->cumulative[i] : h->count));
  }
  put_series(p, name, "_sum", labels, n);
  put_value(p, h->sum);
  put_series(p, name, "_count", labels, n);
  put_value(p, (double)h->count);
}
