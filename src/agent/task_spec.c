/* Task assignment decoding and task environment construction. */
#include "agent/task_spec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"

static char *dup_str(json_t *v)
{
  return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static int64_t get_int(json_t *obj, const char *key, int64_t dflt)
{
  json_t *v = json_object_get(obj, key);
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static int spec_fail(struct sc_task_spec *spec, char *err, size_t size, const char *field)
{
  snprintf(err, size, "bad task assignment: field '%s'", field);
  sc_task_spec_release(spec);
  return SC_EPARSE;
}

static int spec_argv(struct sc_task_spec *spec, json_t *argv)
{
  size_t n = json_array_size(argv);

  if (n == 0)
    return SC_EPARSE;
  spec->argv = calloc(n + 1, sizeof *spec->argv);
  if (!spec->argv)
    return SC_ENOMEM;
  for (size_t i = 0; i < n; i++)
    if (!(spec->argv[i] = dup_str(json_array_get(argv, i))))
      return SC_EPARSE;
  return 0;
}

static int spec_env(struct sc_task_spec *spec, json_t *env)
{
  size_t n = json_object_size(env), i = 0;
  const char *key;
  json_t *value;

  spec->env = calloc(n + 1, sizeof *spec->env);
  if (!spec->env)
    return SC_ENOMEM;
  json_object_foreach(env, key, value) {
    const char *v = json_string_value(value);
    char num[32];
    size_t len;
    if (!v && json_is_integer(value))
      snprintf(num, sizeof num, "%lld", (long long)json_integer_value(value)), v = num;
    if (!v || !*key || strchr(key, '='))
      return SC_EPARSE;
    len = strlen(key) + strlen(v) + 2;
    if (!(spec->env[i] = malloc(len)))
      return SC_ENOMEM;
    snprintf(spec->env[i++], len, "%s=%s", key, v);
  }
  return 0;
}

static int spec_devices(struct sc_task_spec *spec, json_t *devices)
{
  size_t i;
  json_t *v;

  if (devices && !json_is_array(devices))
    return SC_EPARSE;
  json_array_foreach(devices, i, v) {
    if (!json_is_integer(v) || i >= SC_AGENT_MAX_DEVICES)
      return SC_EPARSE;
    spec->devices[spec->ndevices++] = (int)json_integer_value(v);
  }
  return 0;
}

int sc_task_spec_from_json(struct sc_task_spec *spec, json_t *task, char *err, size_t size)
{
  json_t *argv = json_object_get(task, "argv"), *env = json_object_get(task, "env");

  memset(spec, 0, sizeof *spec);
  if (!json_is_object(task))
    return spec_fail(spec, err, size, "task");
  if (!(spec->task_id = dup_str(json_object_get(task, "task_id"))) || !*spec->task_id ||
      strchr(spec->task_id, '/') || spec->task_id[0] == '.')
    return spec_fail(spec, err, size, "task_id");
  spec->job_id = dup_str(json_object_get(task, "job_id"));
  spec->index = (int)get_int(task, "index", 0);
  spec->count = (int)get_int(task, "count", 1);
  spec->local_rank = (int)get_int(task, "local_rank", -1);
  spec->attempt = (int)get_int(task, "attempt", -1);
  if (json_is_array(argv) && json_array_size(argv) > 0) {
    if (spec_argv(spec, argv))
      return spec_fail(spec, err, size, "argv");
  } else if (!(spec->shell = dup_str(json_object_get(task, "shell")))) {
    return spec_fail(spec, err, size, "argv");
  }
  if ((env && !json_is_object(env) && !json_is_null(env)) ||
      spec_env(spec, json_is_object(env) ? env : NULL))
    return spec_fail(spec, err, size, "env");
  spec->workdir = dup_str(json_object_get(task, "workdir"));
  if (spec_devices(spec, json_object_get(task, "devices")))
    return spec_fail(spec, err, size, "devices");
  spec->vendor = dup_str(json_object_get(task, "vendor"));
  spec->gpu_milli = (int)get_int(task, "gpu_milli", spec->ndevices ? 1000 : 0);
  spec->cpu_milli = get_int(task, "cpu_milli", 0);
  spec->memory_mib = get_int(task, "memory_mib", 0);
  spec->max_runtime_s = get_int(task, "max_runtime_s", 0);
  spec->grace_s = (int)get_int(task, "grace_s", 10);
  spec->master_addr = dup_str(json_object_get(task, "master_addr"));
  spec->master_port = (int)get_int(task, "master_port", 0);
  spec->tenant = dup_str(json_object_get(task, "tenant"));
  spec->tenant_id = get_int(task, "tenant_id", 0);
  spec->run_as = dup_str(json_object_get(task, "run_as"));
  spec->image = dup_str(json_object_get(task, "image"));
  spec->task_token = dup_str(json_object_get(task, "task_token"));
  spec->keep_on_disconnect =
    json_is_string(json_object_get(task, "on_disconnect")) &&
    strcmp(json_string_value(json_object_get(task, "on_disconnect")), "keep") == 0;
  spec->no_network = json_is_string(json_object_get(task, "network")) &&
                     strcmp(json_string_value(json_object_get(task, "network")), "none") == 0;
  if (spec->tenant_id < 0 || spec->tenant_id > INT32_MAX)
    return spec_fail(spec, err, size, "tenant_id");
  if (!spec->job_id)
    return spec_fail(spec, err, size, "job_id");
  return 0;
}

static void free_strv(char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

void sc_task_spec_release(struct sc_task_spec *spec)
{
  free(spec->task_id);
  free(spec->job_id);
  free_strv(spec->argv);
  free(spec->shell);
  free_strv(spec->env);
  free(spec->workdir);
  free(spec->vendor);
  free(spec->master_addr);
  free(spec->tenant);
  free(spec->run_as);
  free(spec->image);
  free(spec->task_token);
  memset(spec, 0, sizeof *spec);
}

int sc_task_visible_vars(const char *vendor, const char *names[2], char *buf, size_t size)
{
  static const struct { const char *vendor, *a, *b; } known[] = {
    {"nvidia", "CUDA_VISIBLE_DEVICES", NULL},
    {"ascend", "ASCEND_RT_VISIBLE_DEVICES", NULL},
    {"huawei", "ASCEND_RT_VISIBLE_DEVICES", NULL},
    {"amd", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"},
    {"cambricon", "MLU_VISIBLE_DEVICES", NULL},
  };
  size_t n = 0;

  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcasecmp(vendor, known[i].vendor) == 0) {
      names[0] = known[i].a;
      names[1] = known[i].b;
      return known[i].b ? 2 : 1;
    }
  for (const char *p = vendor; *p && n + 1 < size; p++)
    buf[n++] = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
  snprintf(buf + n, size - n, "_VISIBLE_DEVICES");
  names[0] = buf;
  names[1] = NULL;
  return 1;
}

/* A growable "K=V" array where setting a name replaces its earlier value. */
struct envb {
  char **v;
  size_t n, cap;
  int oom;
};

static void envb_put(struct envb *e, char *kv)
{
  size_t klen;

  if (!kv) {
    e->oom = 1;
    return;
  }
  klen = strcspn(kv, "=");
  for (size_t i = 0; i < e->n; i++)
    if (strncmp(e->v[i], kv, klen) == 0 && e->v[i][klen] == '=') {
      free(e->v[i]);
      e->v[i] = kv;
      return;
    }
  if (e->n + 2 > e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 64;
    char **p = realloc(e->v, cap * sizeof *p);
    if (!p) {
      free(kv);
      e->oom = 1;
      return;
    }
    e->v = p;
    e->cap = cap;
  }
  e->v[e->n++] = kv;
  e->v[e->n] = NULL;
}

static void envb_set(struct envb *e, const char *name, const char *value)
{
  size_t len = strlen(name) + strlen(value) + 2;
  char *kv = malloc(len);

  if (kv)
    snprintf(kv, len, "%s=%s", name, value);
  envb_put(e, kv);
}

static void envb_seti(struct envb *e, const char *name, long long value)
{
  char buf[32];

  snprintf(buf, sizeof buf, "%lld", value);
  envb_set(e, name, buf);
}

/* Blanks the visibility variables of vendor (CPU-only tasks see nothing). */
static void env_hide_vendor(struct envb *e, const char *vendor)
{
  const char *names[2];
  char buf[64];
  int n = sc_task_visible_vars(vendor, names, buf, sizeof buf);

  for (int i = 0; i < n; i++)
    envb_set(e, names[i], "");
}

/* The vendor of node device index, or the task's vendor when the node
 * has no such device (an index it does not know is listed as given). */
static const char *device_vendor(const struct sc_devices *nd, const struct sc_task_spec *spec,
                                 int index)
{
  return index >= 0 && index < nd->count ? nd->dev[index].vendor : spec->vendor;
}

/* The task's devices of vendor as its visibility list ("0,1"): indexes
 * among the node's devices of that vendor, each once, in the task's order;
 * marks them done. */
static void vendor_list(const struct sc_task_spec *spec, const struct sc_devices *nd,
                        const char *vendor, bool *done, char *list, size_t size)
{
  int seen[SC_AGENT_MAX_DEVICES], nseen = 0;
  size_t len = 0;

  list[0] = '\0';
  for (int i = 0; i < spec->ndevices; i++) {
    const char *v = device_vendor(nd, spec, spec->devices[i]);
    int local = sc_devices_vendor_index(nd, spec->devices[i]), k = 0;
    if (done[i] || !v || strcasecmp(v, vendor) != 0)
      continue;
    done[i] = true;
    if (local < 0)
      local = spec->devices[i];
    while (k < nseen && seen[k] != local)
      k++;
    if (k < nseen)
      continue; /* listed already */
    seen[nseen++] = local;
    len += (size_t)snprintf(list + len, size - len, "%s%d", len ? "," : "", local);
    if (len >= size)
      break;
  }
}

/* Each vendor's visibility variables list only the task's devices of that
 * vendor (the controller gives a task devices of one model, so of one
 * vendor; this holds whatever it sends); every other vendor's are blank. */
static void env_visible(struct envb *e, const struct sc_task_spec *spec,
                        const struct sc_devices *nd)
{
  bool done[SC_AGENT_MAX_DEVICES] = {false};
  const char *names[2];
  char buf[64], list[SC_AGENT_MAX_DEVICES * 6 + 1];

  env_hide_vendor(e, "nvidia");
  for (int i = 0; i < nd->count; i++)
    env_hide_vendor(e, nd->dev[i].vendor);
  for (int i = 0; i < spec->ndevices; i++) {
    const char *vendor = device_vendor(nd, spec, spec->devices[i]);
    int n;
    if (done[i] || !vendor || !*vendor)
      continue;
    vendor_list(spec, nd, vendor, done, list, sizeof list);
    n = sc_task_visible_vars(vendor, names, buf, sizeof buf);
    for (int k = 0; k < n; k++)
      envb_set(e, names[k], list);
  }
}

static void env_gang(struct envb *e, const struct sc_task_spec *spec)
{
  if (spec->count <= 1)
    return;
  envb_seti(e, "RANK", spec->index);
  envb_seti(e, "WORLD_SIZE", spec->count);
  envb_seti(e, "LOCAL_RANK", spec->local_rank >= 0 ? spec->local_rank : 0);
  if (spec->master_addr)
    envb_set(e, "MASTER_ADDR", spec->master_addr);
  if (spec->master_port > 0)
    envb_seti(e, "MASTER_PORT", spec->master_port);
}

/* A job submitted by supercell sbatch (its controller-set env holds
 * SLURM_JOB_ID): each task's Slurm rank variables too. */
static void env_slurm(struct envb *e, const struct sc_task_spec *spec)
{
  bool slurm = false;

  for (size_t i = 0; spec->env && spec->env[i]; i++)
    slurm = slurm || strncmp(spec->env[i], "SLURM_JOB_ID=", 13) == 0;
  if (!slurm)
    return;
  envb_seti(e, "SLURM_PROCID", spec->index);
  envb_seti(e, "SLURM_LOCALID", spec->local_rank >= 0 ? spec->local_rank : 0);
  envb_seti(e, "SLURM_NODEID", 0);
}

int sc_task_env_build(const struct sc_task_spec *spec, const struct sc_devices *node_devices,
                      char **base, char ***envp)
{
  struct envb e = {0};

  *envp = NULL;
  for (size_t i = 0; base && base[i]; i++)
    if (strchr(base[i], '='))
      envb_put(&e, strdup(base[i]));
  for (size_t i = 0; spec->env && spec->env[i]; i++)
    envb_put(&e, strdup(spec->env[i]));
  env_visible(&e, spec, node_devices);
  if (spec->ndevices > 0 && spec->gpu_milli > 0 && spec->gpu_milli < 1000)
    envb_seti(&e, "SUPERCELL_GPU_MILLI", spec->gpu_milli);
  envb_set(&e, "SUPERCELL_JOB_ID", spec->job_id ? spec->job_id : "");
  envb_set(&e, "SUPERCELL_TASK_ID", spec->task_id);
  envb_seti(&e, "SUPERCELL_TASK_INDEX", spec->index);
  envb_seti(&e, "SUPERCELL_TASK_COUNT", spec->count);
  if (spec->task_token && *spec->task_token)
    envb_set(&e, "SUPERCELL_TASK_TOKEN", spec->task_token);
  env_gang(&e, spec);
  env_slurm(&e, spec);
  if (!e.v)
    envb_put(&e, strdup("SUPERCELL_EMPTY=1"));
  if (e.oom) {
    sc_task_env_free(e.v);
    return SC_ENOMEM;
  }
  *envp = e.v;
  return 0;
}

void sc_task_env_free(char **envp)
{
  free_strv(envp);
}

const char *sc_task_env_get(char **envp, const char *name)
{
  size_t len = strlen(name);

  for (size_t i = 0; envp && envp[i]; i++)
    if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
      return envp[i] + len + 1;
  return NULL;
}
