/*
 * JSON encoders shared by the user and agent handlers. Unknown values are
 * null rather than absent so clients can rely on the keys.
 */
#include "server/codec.h"

#include <stdio.h>

#include "server/ids.h"

json_t *sc_time_json(int64_t ms)
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
                   sc_time_json(t->started_ms), "finished_at", sc_time_json(t->finished_ms));
}

json_t *sc_attempts_json(const struct sc_attempt_rec *a, int n)
{
  json_t *arr = json_array();

  for (int i = 0; arr && i < n; i++)
    if (json_array_append_new(arr, json_pack("{s:i, s:s, s:o, s:o}", "attempt", a[i].attempt,
                                             "reason", a[i].reason, "started_at",
                                             sc_time_json(a[i].started_ms), "finished_at",
                                             sc_time_json(a[i].finished_ms))) < 0) {
      json_decref(arr);
      return NULL;
    }
  return arr;
}

json_t *sc_tasks_json(const struct sc_task_rec *tasks, int n)
{
  json_t *arr = json_array();

  for (int i = 0; arr && i < n; i++)
    if (json_array_append_new(arr, task_json(&tasks[i])) < 0) {
      json_decref(arr);
      return NULL;
    }
  return arr;
}

/* {"pending": n, ...}: every task state. */
static json_t *counts_json(const struct sc_job_rec *j)
{
  json_t *o = json_object();

  for (int s = 0; o && s < SC_TASK_NSTATES; s++)
    json_object_set_new(o, sc_task_state_name(s), json_integer(j->counts[s]));
  return o;
}

/* An array's state from its elements': running while any runs, else
 * pending while any waits, else succeeded when all did, else failed when
 * any did, else cancelled. */
static int array_state(const struct sc_job_rec *j)
{
  const int *n = j->array_counts;

  if (n[SC_JOB_RUNNING] > 0)
    return SC_JOB_RUNNING;
  if (n[SC_JOB_PENDING] > 0)
    return SC_JOB_PENDING;
  if (n[SC_JOB_SUCCEEDED] == j->array_size)
    return SC_JOB_SUCCEEDED;
  return n[SC_JOB_FAILED] > 0 ? SC_JOB_FAILED : SC_JOB_CANCELLED;
}

/* What an element or an array adds to a job's fields. */
static int add_array(json_t *o, const struct sc_job_rec *j)
{
  char id[32];

  if (!o || j->array_id == 0)
    return 0;
  sc_job_id_format(j->array_id, id, sizeof id);
  if (j->array_size > 0) { /* the array, one view of all its elements */
    json_t *counts = json_object(), *spec = json_loads(j->spec ? j->spec : "{}", 0, NULL);
    json_t *expr = spec ? json_object_get(spec, "array") : NULL;
    for (int s = 0; counts && s < SC_JOB_NSTATES; s++)
      json_object_set_new(counts, sc_job_state_name(s), json_integer(j->array_counts[s]));
    json_object_set_new(o, "state", json_string(sc_job_state_name(array_state(j))));
    json_object_del(o, "task_counts");
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "array", json_pack("{s:O?, s:i, s:o}", "indices", expr, "size",
                                              j->array_size, "counts",
                                              counts ? counts : json_object()));
    json_decref(spec);
    return 0;
  }
  return json_object_set_new(o, "array_job_id", json_string(id)) < 0 ||
             json_object_set_new(o, "array_index", json_integer(j->array_index)) < 0
           ? -1
           : 0;
}

/* The fields every view of a job has. */
static json_t *job_base_json(const struct sc_job_rec *j)
{
  char id[32];
  json_t *o;

  if (j->array_id > 0)
    sc_job_element_format(j->array_id, j->array_index, id, sizeof id);
  else
    sc_job_id_format(j->id, id, sizeof id);
  o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:o, s:o, s:o, s:o, s:i, s:i, s:i, s:o, s:b}", "id",
                   id, "name", j->name, "tenant", j->tenant, "priority", j->priority, "state",
                   sc_job_state_name(j->state), "reason", text_or_null(j->reason),
                   "created_at", sc_time_json(j->created_ms), "started_at",
                   sc_time_json(j->started_ms), "finished_at", sc_time_json(j->finished_ms),
                   "attempt", j->attempt, "max_retries", j->max_retries, "task_count",
                   j->ntasks, "task_counts", counts_json(j), "held", j->held);
  if (o && (json_object_set_new(o, "preemptions", json_integer(j->preempted)) < 0 ||
            json_object_set_new(o, "last_checkpoint_at", sc_time_json(j->checkpoint_ms)) < 0)) {
    json_decref(o);
    return NULL;
  }
  if (add_array(o, j) < 0) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *sc_job_json(const struct sc_job_rec *j, int ntasks, int next)
{
  json_t *o = job_base_json(j), *spec = json_loads(j->spec ? j->spec : "{}", 0, NULL);

  if (o && (json_object_set_new(o, "spec", spec ? spec : json_object()) < 0 ||
            json_object_set_new(o, "tasks", sc_tasks_json(j->tasks, ntasks)) < 0 ||
            json_object_set_new(o, "tasks_next", next >= 0 ? json_integer(next) : json_null()) <
              0)) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *sc_job_summary_json(const struct sc_job_rec *j)
{
  json_t *o = job_base_json(j), *spec = json_loads(j->spec ? j->spec : "{}", 0, NULL);
  json_t *res = spec ? json_object_get(spec, "resources") : NULL;
  json_t *models = spec ? json_object_get(spec, "models") : NULL;

  if (o && (json_object_set(o, "resources", json_is_object(res) ? res : json_object()) < 0 ||
            json_object_set(o, "models", json_is_array(models) ? models : json_array()) < 0)) {
    json_decref(o);
    o = NULL;
  }
  json_decref(spec);
  return o;
}

json_t *sc_error_json(const char *code, const char *message, const char *field)
{
  return json_pack("{s:{s:s, s:s, s:o}}", "error", "code", code, "message", message, "field",
                   field && *field ? json_string(field) : json_null());
}

static json_t *device_json(const struct sc_device_rec *d, int milli_used)
{
  return json_pack("{s:i, s:s, s:s, s:I, s:i}", "index", d->index, "vendor", d->vendor, "model",
                   d->model, "memory_mib", (json_int_t)d->memory_mib, "milli_used",
                   milli_used);
}

static json_t *node_json(const struct sc_node_view *v)
{
  const struct sc_node_rec *n = &v->rec;
  json_t *devs = json_array(), *labels = json_loads(n->labels ? n->labels : "{}", 0, NULL);
  char when[40], since[40];

  for (int d = 0; devs && d < n->ndev; d++)
    json_array_append_new(devs, device_json(&n->dev[d], v->milli_used[d]));
  sc_time_format(n->last_heartbeat_ms, when, sizeof when);
  sc_time_format(n->registered_ms, since, sizeof since);
  return json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:s, s:o, s:b}", "name", n->name,
                   "state", sc_node_state_name(n->state), "address", n->address, "cpu_milli",
                   (json_int_t)n->cpu_milli, "memory_mib", (json_int_t)n->memory_mib, "labels",
                   labels ? labels : json_object(), "devices", devs, "last_heartbeat", when,
                   "registered_at", text_or_null(since), "drained", n->drained);
}

json_t *sc_nodes_json(const struct sc_node_view *nodes, int n)
{
  json_t *arr = json_array();

  for (int i = 0; arr && i < n; i++)
    if (json_array_append_new(arr, node_json(&nodes[i])) < 0) {
      json_decref(arr);
      return NULL;
    }
  return arr ? json_pack("{s:o}", "nodes", arr) : NULL;
}

json_t *sc_kill_list_json(const struct sc_kill_list *k)
{
  json_t *arr = json_array();
  char id[48];

  for (int i = 0; arr && i < k->n; i++) {
    sc_task_id_format(k->items[i].job_id, k->items[i].index, id, sizeof id);
    if (json_array_append_new(arr, json_string(id)) < 0) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

json_t *sc_kill_notices_json(const struct sc_kill_list *k)
{
  json_t *arr = json_array();
  char id[48], by[32];

  for (int i = 0; arr && i < k->nnotices; i++) {
    const struct sc_kill_notice *n = &k->notices[i];
    const char *sig = sc_spec_signal_name(n->signal);
    sc_task_id_format(n->task.job_id, n->task.index, id, sizeof id);
    sc_job_id_format(n->by, by, sizeof by);
    if (json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:o, s:s}", "task_id", id,
                                             "signal", sig ? sig : "SIGTERM", "grace_ms",
                                             (json_int_t)n->grace_ms, "by",
                                             n->by > 0 ? json_string(by) : json_null(),
                                             "kind", n->kind)) < 0) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

int sc_kill_list_put(json_t *reply, const struct sc_kill_list *k)
{
  if (!reply || json_object_set_new(reply, "kill", sc_kill_list_json(k)) < 0)
    return -1;
  return k->nnotices > 0 ? json_object_set_new(reply, "preempt", sc_kill_notices_json(k)) : 0;
}

/* The command, env and workdir of a start. */
static int run_json(const struct sc_spec_run *r, json_t *o)
{
  json_t *env = json_object(), *argv;
  int rc = env ? 0 : -1;

  for (int i = 0; rc == 0 && i < r->nenv; i++)
    rc = json_object_set_new(env, r->env_keys[i], json_string(r->env_values[i]));
  if (rc == 0)
    rc = json_object_set_new(o, "env", env);
  else
    json_decref(env);
  if (rc == 0 && r->shell) {
    rc = json_object_set_new(o, "shell", json_string(r->shell));
  } else if (rc == 0) {
    argv = json_array();
    for (char **a = r->argv; argv && a && *a; a++)
      if (json_array_append_new(argv, json_string(*a)) < 0) {
        json_decref(argv);
        argv = NULL;
      }
    rc = json_object_set_new(o, "argv", argv);
  }
  if (rc == 0 && r->workdir)
    rc = json_object_set_new(o, "workdir", json_string(r->workdir));
  if (rc == 0 && r->keep_on_disconnect)
    rc = json_object_set_new(o, "on_disconnect", json_string("keep"));
  if (rc == 0 && r->image)
    rc = json_object_set_new(o, "image", json_string(r->image));
  if (rc == 0 && r->no_network)
    rc = json_object_set_new(o, "network", json_string("none"));
  return rc;
}

static json_t *start_json(const struct sc_task_start *s)
{
  json_t *devices = json_array(), *o;
  char id[48], jid[32];

  for (int d = 0; devices && d < s->ndev; d++)
    json_array_append_new(devices, json_integer(s->devices[d]));
  sc_task_id_format(s->task.job_id, s->task.index, id, sizeof id);
  sc_job_id_format(s->task.job_id, jid, sizeof jid);
  o = json_pack("{s:s, s:s, s:i, s:i, s:o, s:s, s:i, s:I, s:I, s:I, s:I, s:i, s:s, s:i}",
                "task_id", id, "job_id", jid, "index", s->task.index, "count", s->count,
                "devices", devices, "vendor", s->vendor, "gpu_milli", s->gpu_milli,
                "cpu_milli", (json_int_t)s->cpu_milli, "memory_mib",
                (json_int_t)s->memory_mib, "max_runtime_s", (json_int_t)s->max_runtime_s,
                "grace_s", (json_int_t)s->grace_s, "attempt", s->attempt, "master_addr",
                s->master_addr, "master_port", s->master_port);
  if (o && (json_object_set_new(o, "tenant", json_string(s->tenant)) < 0 ||
            json_object_set_new(o, "tenant_id", json_integer(s->tenant_id)) < 0 ||
            (s->run_as[0] && json_object_set_new(o, "run_as", json_string(s->run_as)) < 0) ||
            (s->task_token[0] &&
             json_object_set_new(o, "task_token", json_string(s->task_token)) < 0))) {
    json_decref(o);
    return NULL;
  }
  if (o && (!s->run || run_json(s->run, o) < 0)) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *sc_assignments_json(const struct sc_assignments *a)
{
  json_t *start = json_array(), *o;

  for (int i = 0; start && i < a->nstarts; i++)
    if (json_array_append_new(start, start_json(&a->starts[i])) < 0) {
      json_decref(start);
      start = NULL;
    }
  o = start ? json_pack("{s:o}", "start", start) : NULL;
  if (sc_kill_list_put(o, &a->kills) < 0) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *sc_tenant_json(const struct sc_tenant_rec *t)
{
  return json_pack("{s:s, s:I, s:o, s:o}", "name", t->name, "id", (json_int_t)t->id, "run_as",
                   text_or_null(t->run_as), "created_at", sc_time_json(t->created_ms));
}

json_t *sc_token_json(const struct sc_token_rec *t, const char *text)
{
  json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:b}", "id", t->id, "kind",
                        sc_token_kind_name(t->kind), "tenant", text_or_null(t->tenant), "node",
                        text_or_null(t->node), "created_at", sc_time_json(t->created_ms),
                        "last_used_at", sc_time_json(t->last_used_ms), "expires_at",
                        sc_time_json(t->expires_ms), "revoked", t->revoked);

  if (o && text && json_object_set_new(o, "token", json_string(text)) < 0) {
    json_decref(o);
    return NULL;
  }
  return o;
}
