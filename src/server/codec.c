/*
 * JSON encoders shared by the user and agent handlers. Unknown values are
 * null rather than absent so clients can rely on the keys.
 */
#include "server/codec.h"

#include <stdio.h>
#include <time.h>

#include "server/ctl.h"

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

static json_t *time_json(int64_t ms)
{
  char buf[40];

  if (ms <= 0)
    return json_null();
  sc_time_format(ms, buf, sizeof buf);
  return json_string(buf);
}

static json_t *text_or_null(const char *text)
{
  return text && *text ? json_string(text) : json_null();
}

static json_t *code_json(int code)
{
  return code >= 0 ? json_integer(code) : json_null();
}

static json_t *task_json(const struct sc_task_rec *t)
{
  json_t *devices = json_array();
  char id[48];

  for (int i = 0; i < t->ndev; i++)
    json_array_append_new(devices, json_integer(t->devices[i]));
  sc_task_id_format(t->job_id, t->index, id, sizeof id);
  return json_pack("{s:s, s:i, s:s, s:o, s:o, s:o, s:i, s:o, s:o, s:i, s:I, s:o, s:o}",
                   "task_id", id, "index", t->index, "state", sc_task_state_name(t->state),
                   "node", text_or_null(t->node), "devices", devices, "vendor",
                   text_or_null(t->vendor), "gpu_milli", t->gpu_milli, "exit_code",
                   code_json(t->exit_code), "signal", code_json(t->signal), "attempt",
                   t->attempt, "pid", (json_int_t)t->pid, "started_at",
                   time_json(t->started_ms), "finished_at", time_json(t->finished_ms));
}

json_t *sc_job_json(const struct sc_job_rec *j)
{
  json_t *tasks = json_array(), *spec = json_loads(j->spec ? j->spec : "{}", 0, NULL);
  char id[32];

  for (int i = 0; j->tasks && i < j->ntasks; i++)
    json_array_append_new(tasks, task_json(&j->tasks[i]));
  sc_job_id_format(j->id, id, sizeof id);
  return json_pack("{s:s, s:s, s:s, s:i, s:s, s:o, s:o, s:o, s:o, s:i, s:i, s:i, s:o, s:o}",
                   "id", id, "name", j->name, "tenant", j->tenant, "priority", j->priority,
                   "state", sc_job_state_name(j->state), "reason", text_or_null(j->reason),
                   "created_at", time_json(j->created_ms), "started_at",
                   time_json(j->started_ms), "finished_at", time_json(j->finished_ms),
                   "attempt", j->attempt, "max_retries", j->max_retries, "task_count",
                   j->ntasks, "spec", spec ? spec : json_object(), "tasks", tasks);
}

json_t *sc_error_json(const char *code, const char *message, const char *field)
{
  return json_pack("{s:{s:s, s:s, s:o}}", "error", "code", code, "message", message, "field",
                   field && *field ? json_string(field) : json_null());
}
