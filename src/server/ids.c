/* Identifier and timestamp formats of the API (see ids.h). */
#include "server/ids.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/spec.h"
#include "util/error.h"

void sc_job_id_format(int64_t id, char *buf, size_t size)
{
  snprintf(buf, size, "j-%06lld", (long long)id);
}

int sc_job_id_parse(const char *text, int64_t *id)
{
  char *end, canon[32];
  long long v;

  *id = 0;
  if (!text || strncmp(text, "j-", 2) != 0 || text[2] < '0' || text[2] > '9')
    return SC_EINVAL;
  errno = 0;
  v = strtoll(text + 2, &end, 10);
  if (errno || *end || v <= 0)
    return SC_EINVAL;
  /* Only the canonical spelling names a job: j-1 and j-0000001 do not. */
  sc_job_id_format(v, canon, sizeof canon);
  if (strcmp(canon, text) != 0)
    return SC_EINVAL;
  *id = v;
  return 0;
}

void sc_job_element_format(int64_t array_id, int index, char *buf, size_t size)
{
  snprintf(buf, size, "j-%06lld_%d", (long long)array_id, index);
}

int sc_job_ref_parse(const char *text, int64_t *id, int *index)
{
  const char *us = text ? strchr(text, '_') : NULL;
  char head[32], *end;
  long v;

  *index = -1;
  if (!us)
    return sc_job_id_parse(text, id);
  *id = 0;
  if ((size_t)(us - text) >= sizeof head || us[1] < '0' || us[1] > '9' ||
      (us[1] == '0' && us[2] != '\0'))
    return SC_EINVAL;
  errno = 0;
  v = strtol(us + 1, &end, 10);
  if (errno || *end || v < 0 || v > SC_SPEC_MAX_ARRAY_INDEX)
    return SC_EINVAL;
  memcpy(head, text, (size_t)(us - text));
  head[us - text] = '\0';
  *index = (int)v;
  return sc_job_id_parse(head, id);
}

void sc_task_id_format(int64_t job, int index, char *buf, size_t size)
{
  snprintf(buf, size, "j-%06lld.%d", (long long)job, index);
}

int sc_task_id_parse(const char *text, int64_t *job, int *index)
{
  char head[64], *end;
  const char *dot = text ? strrchr(text, '.') : NULL;
  long v;

  *job = 0;
  *index = -1;
  if (!dot || (size_t)(dot - text) >= sizeof head)
    return SC_EINVAL;
  memcpy(head, text, (size_t)(dot - text));
  head[dot - text] = '\0';
  errno = 0;
  v = strtol(dot + 1, &end, 10);
  if (errno || *end || end == dot + 1 || v < 0 || v >= SC_SPEC_MAX_TASKS ||
      dot[1] < '0' || dot[1] > '9' || (dot[1] == '0' && dot[2] != '\0'))
    return SC_EINVAL; /* the index is canonical too: no sign, no leading zero */
  *index = (int)v;
  return sc_job_id_parse(head, job);
}

void sc_time_format(int64_t ms, char *buf, size_t size)
{
  struct tm tm;
  time_t secs = (time_t)(ms / 1000);

  if (ms <= 0 || !gmtime_r(&secs, &tm)) {
    if (size)
      buf[0] = '\0';
    return;
  }
  snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}
