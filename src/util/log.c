/* Leveled logging: one formatted line per call, written with a single write(2). */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum sc_log_level log_min = SC_LOG_INFO;
static char log_component[32] = "supercell";

void sc_log_setup(enum sc_log_level min, const char *component)
{
  log_min = min;
  if (component)
    snprintf(log_component, sizeof log_component, "%s", component);
}

void sc_log(enum sc_log_level level, const char *fmt, ...)
{
  static const char *names[] = {"debug", "info", "warn", "error"};
  char line[2048];
  struct timespec ts;
  struct tm tm;
  size_t n;
  va_list ap;

  if (level < log_min)
    return;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
  n += snprintf(line + n, sizeof line - n, ".%03ldZ %s %s: ", ts.tv_nsec / 1000000,
                log_component, names[level]);
  va_start(ap, fmt);
  if (n < sizeof line)
    n += vsnprintf(line + n, sizeof line - n, fmt, ap);
  va_end(ap);
  if (n > sizeof line - 2)
    n = sizeof line - 2;
  line[n++] = '\n';
  (void)!write(STDERR_FILENO, line, n);
}
