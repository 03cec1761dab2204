/* Memory and duration quantities: parsing with strict errors, compact output. */
#include "util/units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/error.h"

int sc_parse_memory_mib(const char *text, int64_t *mib)
{
  static const struct { const char *suffix; double mib; } units[] = {
    {"Ki", 1.0 / 1024}, {"Mi", 1}, {"Gi", 1024}, {"Ti", 1024.0 * 1024},
    {"K", 1000.0 / 1048576}, {"M", 1000000.0 / 1048576},
    {"G", 1e9 / 1048576}, {"T", 1e12 / 1048576}, {"", 1},
  };
  char *end;
  double value;

  *mib = 0;
  if (!text || !*text || isspace((unsigned char)*text) || *text == '-' || *text == '+')
    return SC_EPARSE;
  errno = 0;
  value = strtod(text, &end);
  if (end == text || errno || !isfinite(value) || value < 0)
    return SC_EPARSE;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    size_t len = strlen(units[i].suffix);
    if (strncmp(end, units[i].suffix, len) != 0)
      continue;
    if (strcmp(end + len, "") != 0 && strcmp(end + len, "B") != 0)
      continue;
    value = ceil(value * units[i].mib);
    if (value > 9.0e15)
      return SC_ERANGE;
    *mib = (int64_t)value;
    return 0;
  }
  return SC_EPARSE;
}

int sc_parse_duration_ms(const char *text, int64_t *ms)
{
  const char *p = text;
  double total = 0;
  char *end;

  *ms = 0;
  if (!text || !*text || *text == '-' || *text == '+' || isspace((unsigned char)*text))
    return SC_EPARSE;
  while (*p) {
    double value, scale;
    errno = 0;
    value = strtod(p, &end);
    if (end == p || errno || !isfinite(value) || value < 0)
      return SC_EPARSE;
    if (*end == '\0' && p == text) {
      scale = 1000; /* bare number: seconds */
    } else if (strncmp(end, "ms", 2) == 0) {
      scale = 1, end += 2;
    } else if (*end == 's') {
      scale = 1000, end++;
    } else if (*end == 'm') {
      scale = 60000, end++;
    } else if (*end == 'h') {
      scale = 3600000, end++;
    } else if (*end == 'd') {
      scale = 86400000, end++;
    } else {
      return SC_EPARSE;
    }
    total += value * scale;
    p = end;
  }
  if (total > 9.0e15)
    return SC_EPARSE;
  *ms = (int64_t)llround(total);
  return 0;
}

void sc_format_memory(int64_t mib, char *buf, size_t size)
{
  if (mib >= 1024LL * 1024 && mib % (1024LL * 1024) == 0)
    snprintf(buf, size, "%lldTi", (long long)(mib / (1024LL * 1024)));
  else if (mib >= 1024LL * 1024)
    snprintf(buf, size, "%.1fTi", (double)mib / (1024.0 * 1024));
  else if (mib >= 1024 && mib % 1024 == 0)
    snprintf(buf, size, "%lldGi", (long long)(mib / 1024));
  else if (mib >= 1024)
    snprintf(buf, size, "%.1fGi", (double)mib / 1024);
  else
    snprintf(buf, size, "%lldMi", (long long)mib);
}

void sc_format_duration(int64_t ms, char *buf, size_t size)
{
  int64_t s = ms / 1000;

  if (ms < 0)
    snprintf(buf, size, "-");
  else if (s < 120)
    snprintf(buf, size, "%llds", (long long)s);
  else if (s < 120 * 60)
    snprintf(buf, size, "%lldm", (long long)(s / 60));
  else if (s < 48 * 3600)
    snprintf(buf, size, "%lldh", (long long)(s / 3600));
  else
    snprintf(buf, size, "%lldd", (long long)(s / 86400));
}

int sc_parse_int_range(const char *text, long long lo, long long hi, long long *v)
{
  const char *p = text;
  char *end;
  long long n;

  if (!text)
    return SC_EPARSE;
  if (*p == '-')
    p++;
  if (!isdigit((unsigned char)*p))
    return SC_EPARSE;
  errno = 0;
  n = strtoll(text, &end, 10);
  if (errno || *end || n < lo || n > hi)
    return SC_EPARSE;
  *v = n;
  return 0;
}

int sc_parse_rfc3339_ms(const char *text, int64_t *ms)
{
  struct tm tm;
  const char *p;
  int frac = 0, digits = 0;

  *ms = 0;
  memset(&tm, 0, sizeof tm);
  if (!text || !(p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm)))
    return SC_EPARSE;
  if (*p == '.')
    for (p++; *p >= '0' && *p <= '9'; p++)
      if (digits < 3)
        frac = frac * 10 + (*p - '0'), digits++;
  while (digits > 0 && digits < 3)
    frac *= 10, digits++;
  if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
    return SC_EPARSE;
  *ms = (int64_t)timegm(&tm) * 1000 + frac;
  return 0;
}
