/*
 * Job spec validation. Each field has one parser in a table; unknown fields
 * are rejected by name before any value is read, so a typo never silently
 * runs a job with defaults. The normalised JSON keeps integers only (memory
 * in MiB, max_runtime in seconds) so re-parsing it is exact.
 */
#include "server/spec.h"

#include <ctype.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/image_ref.h"
#include "util/units.h"

static int fail(struct sc_spec_error *err, const char *field, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static int fail(struct sc_spec_error *err, const char *field, const char *fmt, ...)
{
  va_list ap;

  snprintf(err->field, sizeof err->field, "%s", field);
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return SC_EINVAL;
}

int sc_spec_name_ok(const char *name, size_t max)
{
  size_t len = strlen(name);

  if (len == 0 || len > max)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
      return 0;
  return 1;
}

/* Reads an integer in [lo, hi] (JSON integers only: no reals, no bools). */
static int get_int(json_t *v, const char *field, int64_t lo, int64_t hi, int64_t *out,
                   struct sc_spec_error *err)
{
  if (!json_is_integer(v))
    return fail(err, field, "'%s' must be an integer", field);
  *out = json_integer_value(v);
  if (*out < lo || *out > hi)
    return fail(err, field, "'%s' must be between %lld and %lld", field, (long long)lo,
                (long long)hi);
  return 0;
}

static int parse_name(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  if (!json_is_string(v))
    return fail(err, "name", "'name' must be a string");
  if (!sc_spec_name_ok(json_string_value(v), 128))
    return fail(err, "name", "'name' must be 1..128 characters from [A-Za-z0-9._-]");
  snprintf(s->name, sizeof s->name, "%s", json_string_value(v));
  return 0;
}

static int parse_tenant(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  if (!json_is_string(v))
    return fail(err, "tenant", "'tenant' must be a string");
  if (!sc_spec_name_ok(json_string_value(v), 64))
    return fail(err, "tenant", "'tenant' must be 1..64 characters from [A-Za-z0-9._-]");
  snprintf(s->tenant, sizeof s->tenant, "%s", json_string_value(v));
  return 0;
}

/* True when text holds only blanks (or nothing). */
static bool blank(const char *text)
{
  for (; *text; text++)
    if (!isspace((unsigned char)*text))
      return false;
  return true;
}

static int parse_command(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  size_t i;
  json_t *arg;

  (void)s;
  if (json_is_string(v)) {
    if (blank(json_string_value(v)))
      return fail(err, "command", "'command' must not be empty or blank");
    return 0;
  }
  if (!json_is_array(v))
    return fail(err, "command", "'command' must be a list of strings or a string");
  if (json_array_size(v) == 0)
    return fail(err, "command", "'command' must not be empty");
  json_array_foreach(v, i, arg) {
    if (!json_is_string(arg))
      return fail(err, "command", "'command[%zu]' must be a string", i);
  }
  if (blank(json_string_value(json_array_get(v, 0))))
    return fail(err, "command", "'command[0]' must not be empty or blank");
  return 0;
}

static int env_key_ok(const char *key)
{
  if (!*key || isdigit((unsigned char)*key))
    return 0;
  for (; *key; key++)
    if (!isalnum((unsigned char)*key) && *key != '_')
      return 0;
  return 1;
}

static int parse_env(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  const char *key;
  json_t *value;
  char field[64];

  (void)s;
  if (!json_is_object(v))
    return fail(err, "env", "'env' must be an object of strings");
  json_object_foreach(v, key, value) {
    snprintf(field, sizeof field, "env.%s", key);
    if (!env_key_ok(key))
      return fail(err, field, "bad environment variable name '%s'", key);
    if (!json_is_string(value))
      return fail(err, field, "'%s' must be a string", field);
  }
  return 0;
}

static int parse_workdir(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  (void)s;
  if (!json_is_string(v))
    return fail(err, "workdir", "'workdir' must be a string");
  if (json_string_value(v)[0] != '/')
    return fail(err, "workdir", "'workdir' must be an absolute path");
  return 0;
}

static int parse_tasks(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  int64_t n = 0;
  int rc = get_int(v, "tasks", 1, SC_SPEC_MAX_TASKS, &n, err);

  s->tasks = (int)n;
  return rc;
}

static int parse_memory(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  const char *field = "resources.memory";

  if (json_is_integer(v))
    return get_int(v, field, 0, SC_SPEC_MAX_MEMORY_MIB, &s->memory_mib, err);
  if (!json_is_string(v))
    return fail(err, field, "'%s' must be a size such as \"16Gi\" or an integer of MiB",
                field);
  if (sc_parse_memory_mib(json_string_value(v), &s->memory_mib) < 0)
    return fail(err, field, "bad value for '%s': \"%s\"", field, json_string_value(v));
  if (s->memory_mib > SC_SPEC_MAX_MEMORY_MIB) /* the integer form's cap */
    return fail(err, field, "'%s' must be at most 1048576Ti", field);
  return 0;
}

/* Parses the resources object; shares are checked once all keys are read. */
static int parse_resources(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  const char *key;
  json_t *value;
  int64_t n = 0, gpus = -1, milli = -1;
  int rc = 0;
  char field[64];

  if (!json_is_object(v))
    return fail(err, "resources", "'resources' must be an object");
  json_object_foreach(v, key, value) {
    snprintf(field, sizeof field, "resources.%s", key);
    if (strcmp(key, "cpu_milli") == 0) {
      rc = get_int(value, field, 1, SC_SPEC_MAX_CPU_MILLI, &n, err);
      s->cpu_milli = n;
    } else if (strcmp(key, "memory") == 0) {
      rc = parse_memory(value, s, err);
    } else if (strcmp(key, "gpus") == 0) {
      rc = get_int(value, field, 0, SC_SPEC_MAX_GPUS, &gpus, err);
    } else if (strcmp(key, "gpu_milli") == 0) {
      rc = get_int(value, field, SC_SPEC_MIN_GPU_MILLI, SC_SPEC_MAX_GPU_MILLI, &milli, err);
    } else {
      rc = fail(err, field, "unknown field '%s'", field);
    }
    if (rc < 0)
      return rc;
  }
  if (milli > 0 && gpus > 1)
    return fail(err, "resources.gpu_milli",
                "'resources.gpu_milli' is a share of one device: 'resources.gpus' must be 0 or 1");
  s->gpus = milli > 0 ? 1 : gpus > 0 ? (int)gpus : 0;
  s->gpu_milli = milli > 0 ? (int)milli : s->gpus > 0 ? 1000 : 0;
  return 0;
}

static int parse_models(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  size_t i, len = 0;
  json_t *m;

  if (!json_is_array(v))
    return fail(err, "models", "'models' must be a list of model names");
  if (json_array_size(v) > SC_SPEC_MAX_MODELS)
    return fail(err, "models", "'models' lists at most %d models", SC_SPEC_MAX_MODELS);
  s->models[0] = '\0';
  json_array_foreach(v, i, m) {
    const char *name = json_is_string(m) ? json_string_value(m) : NULL;
    if (!name || !*name || strlen(name) > 63 || strchr(name, '|'))
      return fail(err, "models", "'models[%zu]' must be a model name of 1..63 characters", i);
    len += (size_t)snprintf(s->models + len, sizeof s->models - len, "%s%s", i ? "|" : "",
                            name);
  }
  return 0;
}

/* regions: the job narrows its tenant's allowlist (checked at submit). */
static int parse_regions(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  size_t i, len = 0;
  json_t *r;

  if (!json_is_array(v) || json_array_size(v) > SC_SPEC_MAX_REGIONS)
    return fail(err, "regions", "'regions' must be a list of at most %d region names",
                SC_SPEC_MAX_REGIONS);
  s->regions[0] = '\0';
  json_array_foreach(v, i, r) {
    const char *name = json_string_value(r);
    if (!name || !sc_spec_name_ok(name, 63))
      return fail(err, "regions", "'regions[%zu]' must be a region name from [A-Za-z0-9._-]", i);
    len += (size_t)snprintf(s->regions + len, sizeof s->regions - len, "%s%s", i ? "|" : "",
                            name);
  }
  return 0;
}

static int parse_priority(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  int64_t n = 0;
  int rc = get_int(v, "priority", SC_SPEC_MIN_PRIORITY, SC_SPEC_MAX_PRIORITY, &n, err);

  s->priority = (int)n;
  return rc;
}

static int parse_max_runtime(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  int64_t ms;

  if (json_is_integer(v))
    return get_int(v, "max_runtime", 0, SC_SPEC_MAX_RUNTIME_S, &s->max_runtime_s, err);
  if (!json_is_string(v))
    return fail(err, "max_runtime", "'max_runtime' must be a duration such as \"1h\" or seconds");
  if (sc_parse_duration_ms(json_string_value(v), &ms) < 0 || ms < 0)
    return fail(err, "max_runtime", "bad value for 'max_runtime': \"%s\"", json_string_value(v));
  s->max_runtime_s = (ms + 999) / 1000;
  if (s->max_runtime_s > SC_SPEC_MAX_RUNTIME_S) /* the integer form's cap */
    return fail(err, "max_runtime", "'max_runtime' must be at most 100 years");
  return 0;
}

static int parse_max_retries(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  int64_t n = 0;
  int rc = get_int(v, "max_retries", 0, SC_SPEC_MAX_RETRIES, &n, err);

  s->max_retries = (int)n;
  return rc;
}

/* network: "host" (the default: a gang's ranks reach MASTER_ADDR) or
 * "none" (an empty network namespace: loopback only). */
static int parse_network(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  const char *n = json_string_value(v);

  if (!n || (strcmp(n, "host") != 0 && strcmp(n, "none") != 0))
    return fail(err, "network", "'network' must be host or none");
  s->no_network = strcmp(n, "none") == 0;
  return 0;
}

/* image: "oci:PATH[:TAG]" (a layout on the node) or "NAME[:TAG]" (one in
 * the agent's image dir); its tasks run in a container of it. */
static int parse_image(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  struct sc_image_ref ref;

  (void)s;
  if (!json_is_string(v) || !sc_image_ref_parse(json_string_value(v), &ref))
    return fail(err, "image",
                "'image' must be oci:/ABSOLUTE/PATH[:TAG] or NAME[:TAG] (NAME of [a-z0-9._/-], "
                "TAG of [A-Za-z0-9._-])");
  return 0;
}

/* on_disconnect: "fence" (the default: a cut-off node stops the job's tasks
 * and it is requeued elsewhere) or "keep" (they run on through an outage;
 * the job is not requeued until its node returns or is drained). */
static int parse_on_disconnect(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  const char *n = json_string_value(v);

  if (!n || (strcmp(n, "fence") != 0 && strcmp(n, "keep") != 0))
    return fail(err, "on_disconnect", "'on_disconnect' must be fence or keep");
  s->keep_on_disconnect = strcmp(n, "keep") == 0;
  return 0;
}

static int parse_hold(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  if (!json_is_boolean(v))
    return fail(err, "hold", "'hold' must be true or false");
  s->hold = json_is_true(v);
  return 0;
}

/* begin: not before a time: "now+DURATION" ("now+10m"), a UTC time
 * ("2026-12-01T08:00:00Z", seconds and Z optional) or Unix ms (the
 * normalised form). */
static int parse_begin(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  const char *t = json_string_value(v);
  int64_t ms = 0;

  if (json_is_integer(v) && json_integer_value(v) >= 0) {
    s->begin_ms = json_integer_value(v);
    return 0;
  }
  if (t && strncmp(t, "now+", 4) == 0 && sc_parse_duration_ms(t + 4, &ms) == 0 && ms >= 0) {
    s->begin_ms = sc_clock_wall_ms() + ms;
    return 0;
  }
  if (t) {
    struct tm tm;
    const char *end;
    memset(&tm, 0, sizeof tm);
    if (((end = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm)) ||
         (end = strptime(t, "%Y-%m-%dT%H:%M", &tm))) &&
        (*end == '\0' || strcmp(end, "Z") == 0)) {
      s->begin_ms = (int64_t)timegm(&tm) * 1000;
      return 0;
    }
  }
  return fail(err, "begin",
              "'begin' must be now+DURATION (now+10m), a UTC time (2026-12-01T08:00:00Z) or Unix ms");
}

static int parse_allow_pending(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  if (!json_is_boolean(v))
    return fail(err, "allow_pending", "'allow_pending' must be true or false");
  s->allow_pending = json_is_true(v);
  return 0;
}

static int parse_requeue(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  if (!json_is_boolean(v))
    return fail(err, "requeue", "'requeue' must be true or false");
  s->requeue = json_is_true(v);
  return 0;
}

/* A job cannot choose its user: its tasks run as its tenant's (an agent
 * as root switches to it), never as root. The field exists to say so. */
static int parse_user(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  (void)s;
  if ((json_is_integer(v) && json_integer_value(v) == 0) ||
      (json_is_string(v) && (strcmp(json_string_value(v), "root") == 0 ||
                             strcmp(json_string_value(v), "0") == 0)))
    return fail(err, "user", "tasks never run as root");
  return fail(err, "user",
              "'user' is not chosen by a job: its tasks run as its tenant's user "
              "(an admin maps a tenant with 'supercell tenant set NAME --run-as USER')");
}

/* One "A", "A-B" or "A-B:S" of an array expression into [lo, hi] by step. */
static int array_range(const char *p, const char *end, long *lo, long *hi, long *step)
{
  char *q;

  *step = 1;
  *lo = *hi = strtol(p, &q, 10);
  if (q == p || !isdigit((unsigned char)*p))
    return -1;
  if (q < end && *q == '-') {
    p = q + 1;
    *hi = strtol(p, &q, 10);
    if (q == p || !isdigit((unsigned char)*p))
      return -1;
  }
  if (q < end && *q == ':') {
    p = q + 1;
    *step = strtol(p, &q, 10);
    if (q == p || !isdigit((unsigned char)*p) || *step < 1)
      return -1;
  }
  return q == end && *lo <= *hi && *hi <= SC_SPEC_MAX_ARRAY_INDEX ? 0 : -1;
}

int sc_spec_array_indices(const char *text, int *out, int max, int *max_running,
                          struct sc_spec_error *err)
{
  const char *pct = strchr(text, '%'), *end = pct ? pct : text + strlen(text), *p = text;
  static const char usage[] =
    "'array' must be INDICES[%%MAX]: A-B[:STEP] or A,B,C-D (indices 0..%d, at most %d, "
    "none twice)";
  int n = 0;

  *max_running = 0;
  if (pct) {
    char *q;
    long m = strtol(pct + 1, &q, 10);
    if (!isdigit((unsigned char)pct[1]) || *q || m < 1 || m > SC_SPEC_MAX_ARRAY)
      return fail(err, "array", usage, SC_SPEC_MAX_ARRAY_INDEX, SC_SPEC_MAX_ARRAY);
    *max_running = (int)m;
  }
  while (p < end) {
    const char *comma = memchr(p, ',', (size_t)(end - p)), *stop = comma ? comma : end;
    long lo, hi, step;
    if (array_range(p, stop, &lo, &hi, &step) < 0)
      return fail(err, "array", usage, SC_SPEC_MAX_ARRAY_INDEX, SC_SPEC_MAX_ARRAY);
    for (long i = lo; i <= hi; i += step) {
      if (n >= SC_SPEC_MAX_ARRAY)
        return fail(err, "array", usage, SC_SPEC_MAX_ARRAY_INDEX, SC_SPEC_MAX_ARRAY);
      if (out && n < max)
        out[n] = (int)i;
      n++;
    }
    p = comma ? comma + 1 : end;
  }
  if (n == 0)
    return fail(err, "array", usage, SC_SPEC_MAX_ARRAY_INDEX, SC_SPEC_MAX_ARRAY);
  return n;
}

static int cmp_int(const void *a, const void *b)
{
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* array: "0-999:2%10" (Slurm's --array). */
static int parse_array(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  const char *t = json_string_value(v);
  int *idx, n, rc;

  if (json_is_integer(v)) /* "--array 5" read by YAML as a number */
    return fail(err, "array", "'array' must be a string such as \"0-99%%10\"");
  if (!t || strlen(t) >= sizeof s->array)
    return fail(err, "array", "'array' must be a string of at most %zu characters",
                sizeof s->array - 1);
  idx = malloc(SC_SPEC_MAX_ARRAY * sizeof *idx);
  if (!idx)
    return SC_ENOMEM;
  n = sc_spec_array_indices(t, idx, SC_SPEC_MAX_ARRAY, &s->array_max_running, err);
  if (n > 0) { /* elements are named by index: none twice */
    qsort(idx, (size_t)n, sizeof *idx, cmp_int);
    for (int i = 1; i < n; i++)
      if (idx[i] == idx[i - 1]) {
        rc = fail(err, "array", "'array' names index %d twice", idx[i]);
        n = rc;
        break;
      }
  }
  free(idx);
  if (n < 0)
    return n;
  snprintf(s->array, sizeof s->array, "%s", t);
  s->array_count = n;
  return 0;
}

/* A job as a dependency names it: j-000123, j-000123_7, or Slurm's 123,
 * 123_7. */
static int dep_job(const char *p, size_t len, struct sc_spec_dep *d)
{
  char buf[48], *q;
  long long id;
  long idx = -1;

  if (len >= sizeof buf)
    return -1;
  memcpy(buf, p, len);
  buf[len] = '\0';
  p = strncmp(buf, "j-", 2) == 0 ? buf + 2 : buf;
  if (!isdigit((unsigned char)*p))
    return -1;
  id = strtoll(p, &q, 10);
  if (*q == '_') {
    if (!isdigit((unsigned char)q[1]))
      return -1;
    idx = strtol(q + 1, &q, 10);
  }
  if (*q || id <= 0 || idx > SC_SPEC_MAX_ARRAY_INDEX)
    return -1;
  d->job = id;
  d->index = (int)idx;
  return 0;
}

static const char *const dep_types[] = {"ok", "any", "notok"};

void sc_spec_dep_format(const struct sc_spec_dep *d, char *buf, size_t size)
{
  if (d->index >= 0)
    snprintf(buf, size, "%s:j-%06lld_%d", dep_types[d->type], (long long)d->job, d->index);
  else
    snprintf(buf, size, "%s:j-%06lld", dep_types[d->type], (long long)d->job);
}

/* Adds the dependencies of one "TYPE:JOB[:JOB...]" item. slurm: TYPE is
 * afterok / afterany / afternotok. */
static int dep_item(const char *item, size_t len, bool slurm, const char *field,
                    struct sc_job_spec *s, struct sc_spec_error *err)
{
  const char *colon = memchr(item, ':', len), *end = item + len, *p;
  size_t tlen = colon ? (size_t)(colon - item) : len;
  int type = -1;

  for (int t = 0; t < 3; t++) {
    const char *want = dep_types[t];
    if (slurm ? (tlen == strlen(want) + 5 && strncmp(item, "after", 5) == 0 &&
                 strncmp(item + 5, want, tlen - 5) == 0)
              : (tlen == strlen(want) && strncmp(item, want, tlen) == 0))
      type = t;
  }
  if (type < 0 || !colon)
    return fail(err, field,
                slurm ? "'%s' items must be afterok|afterany|afternotok:JOB[:JOB...] (got "
                        "'%.*s'; after, aftercorr, singleton and ? are not supported)"
                      : "'%s' items must be ok|any|notok:JOB (got '%.*s')",
                field, (int)len, item);
  for (p = colon + 1; p <= end;) {
    const char *next = memchr(p, ':', (size_t)(end - p));
    size_t jl = next ? (size_t)(next - p) : (size_t)(end - p);
    if (s->ndeps >= SC_SPEC_MAX_DEPS)
      return fail(err, field, "'%s' names more than %d jobs", field, SC_SPEC_MAX_DEPS);
    if (dep_job(p, jl, &s->deps[s->ndeps]) < 0)
      return fail(err, field, "'%s': '%.*s' is not a job id (j-000123, j-000123_7)", field,
                  (int)jl, p);
    s->deps[s->ndeps++].type = type;
    if (!next || !slurm)
      break; /* ours takes one job an item */
    p = next + 1;
  }
  return 0;
}

/* Comma-separated items of text. */
static int dep_list(const char *text, bool slurm, const char *field, struct sc_job_spec *s,
                    struct sc_spec_error *err)
{
  const char *p = text;
  int rc;

  while (*p) {
    const char *comma = strchr(p, ','), *stop = comma ? comma : p + strlen(p);
    if ((rc = dep_item(p, (size_t)(stop - p), slurm, field, s, err)) < 0)
      return rc;
    p = comma ? comma + 1 : stop;
  }
  return 0;
}

/* after: "ok:j-1,any:j-2" or ["ok:j-1", "notok:j-2_3"]. */
static int parse_after(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  json_t *e;
  size_t i;
  int rc;

  if (json_is_string(v))
    return dep_list(json_string_value(v), false, "after", s, err);
  if (!json_is_array(v))
    return fail(err, "after", "'after' must be a list of ok|any|notok:JOB");
  json_array_foreach(v, i, e) {
    if (!json_is_string(e))
      return fail(err, "after", "'after[%zu]' must be a string such as ok:j-000123", i);
    if ((rc = dep_list(json_string_value(e), false, "after", s, err)) < 0)
      return rc;
  }
  return 0;
}

/* dependency: Slurm's "afterok:123:124,afterany:125". */
static int parse_dependency(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  if (!json_is_string(v))
    return fail(err, "dependency", "'dependency' must be a string such as afterok:123");
  if (strchr(json_string_value(v), '?'))
    return fail(err, "dependency", "'dependency': '?' (any of) is not supported");
  return dep_list(json_string_value(v), true, "dependency", s, err);
}

static int parse_slurm_env(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  if (!json_is_boolean(v))
    return fail(err, "slurm_env", "'slurm_env' must be true or false");
  s->slurm_env = json_is_true(v);
  return 0;
}

/* preemptible: true marks a spot job. */
static int parse_preemptible(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  if (!json_is_boolean(v))
    return fail(err, "preemptible", "'preemptible' must be true or false");
  s->preemptible = json_is_true(v);
  return 0;
}

/* The signals a job may be noticed with: those the sandbox's init
 * forwards to the task (task.c), so a sandboxed task sees it too. */
static const struct {
  int sig;
  const char *name;
} preempt_signals[] = {
  {SIGTERM, "SIGTERM"}, {SIGINT, "SIGINT"},   {SIGHUP, "SIGHUP"},
  {SIGQUIT, "SIGQUIT"}, {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"},
};

const char *sc_spec_signal_name(int sig)
{
  for (size_t i = 0; i < sizeof preempt_signals / sizeof preempt_signals[0]; i++)
    if (preempt_signals[i].sig == sig)
      return preempt_signals[i].name;
  return NULL;
}

/* preempt_signal: "SIGUSR1" or "USR1". */
static int parse_preempt_signal(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  const char *t = json_string_value(v);

  for (size_t i = 0; t && i < sizeof preempt_signals / sizeof preempt_signals[0]; i++)
    if (strcmp(t, preempt_signals[i].name) == 0 || strcmp(t, preempt_signals[i].name + 3) == 0) {
      s->preempt_signal = preempt_signals[i].sig;
      return 0;
    }
  return fail(err, "preempt_signal",
              "'preempt_signal' must be one of SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2");
}

/* checkpoint_grace: a duration ("90s", "5m") or seconds, 0..24h. */
static int parse_checkpoint_grace(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err)
{
  int64_t ms;

  if (json_is_integer(v))
    return get_int(v, "checkpoint_grace", 0, SC_SPEC_MAX_GRACE_S, &s->checkpoint_grace_s, err);
  if (!json_is_string(v) || sc_parse_duration_ms(json_string_value(v), &ms) < 0 || ms < 0)
    return fail(err, "checkpoint_grace",
                "'checkpoint_grace' must be a duration such as \"60s\" or \"5m\", or seconds");
  s->checkpoint_grace_s = (ms + 999) / 1000;
  if (s->checkpoint_grace_s > SC_SPEC_MAX_GRACE_S)
    return fail(err, "checkpoint_grace", "'checkpoint_grace' must be at most 24h");
  return 0;
}

struct field {
  const char *name;
  int (*parse)(json_t *v, struct sc_job_spec *s, struct sc_spec_error *err);
};

static const struct field fields[] = {
  {"name", parse_name},       {"tenant", parse_tenant},
  {"command", parse_command}, {"env", parse_env},
  {"workdir", parse_workdir}, {"tasks", parse_tasks},
  {"resources", parse_resources}, {"models", parse_models},
  {"priority", parse_priority}, {"max_runtime", parse_max_runtime},
  {"max_retries", parse_max_retries}, {"user", parse_user},
  {"network", parse_network}, {"image", parse_image},
  {"on_disconnect", parse_on_disconnect}, {"requeue", parse_requeue},
  {"allow_pending", parse_allow_pending}, {"hold", parse_hold}, {"begin", parse_begin},
  {"array", parse_array}, {"after", parse_after}, {"dependency", parse_dependency},
  {"slurm_env", parse_slurm_env}, {"regions", parse_regions},
  {"preemptible", parse_preemptible}, {"preempt_signal", parse_preempt_signal},
  {"checkpoint_grace", parse_checkpoint_grace},
};

static const struct field *field_find(const char *name)
{
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (strcmp(fields[i].name, name) == 0)
      return &fields[i];
  return NULL;
}

static void set_defaults(struct sc_job_spec *s)
{
  memset(s, 0, sizeof *s);
  snprintf(s->tenant, sizeof s->tenant, "default");
  s->tasks = 1;
  s->cpu_milli = 1000;
  s->preempt_signal = SIGTERM;
  s->checkpoint_grace_s = -1; /* the default: SC_SPEC_DEFAULT_GRACE_S, within the cap */
}

/* Builds the normalised JSON of a validated spec from body and s (new
 * reference, NULL when out of memory). */
static json_t *normalise(json_t *body, const struct sc_job_spec *s)
{
  json_t *res = json_pack("{s:I, s:I, s:i}", "cpu_milli", (json_int_t)s->cpu_milli,
                          "memory", (json_int_t)s->memory_mib, "gpus", s->gpus);
  json_t *models = json_array(), *env = json_object_get(body, "env"), *doc;
  const char *p = s->models;

  if (res && s->gpu_milli > 0 && s->gpu_milli < 1000)
    json_object_set_new(res, "gpu_milli", json_integer(s->gpu_milli));
  while (models && *p) {
    const char *end = strchr(p, '|');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    json_array_append_new(models, json_stringn(p, len));
    p += len + (end ? 1 : 0);
  }
  doc = json_pack("{s:s, s:s, s:o, s:o, s:i, s:o, s:o, s:i, s:I, s:i}", "name", s->name,
                  "tenant", s->tenant, "command",
                  json_deep_copy(json_object_get(body, "command")), "env",
                  env ? json_deep_copy(env) : json_object(), "tasks", s->tasks, "resources",
                  res, "models", models, "priority", s->priority, "max_runtime",
                  (json_int_t)s->max_runtime_s, "max_retries", s->max_retries);
  if (doc && s->hold && json_object_set_new(doc, "hold", json_true()) < 0) {
    json_decref(doc);
    doc = NULL;
  }
  if (doc && s->begin_ms > 0 && json_object_set_new(doc, "begin", json_integer(s->begin_ms)) < 0) {
    json_decref(doc);
    doc = NULL;
  }
  if (doc && s->array[0] && json_object_set_new(doc, "array", json_string(s->array)) < 0) {
    json_decref(doc);
    doc = NULL;
  }
  if (doc && s->ndeps > 0) { /* both spellings become ours */
    json_t *after = json_array();
    char item[64];
    for (int i = 0; after && i < s->ndeps; i++) {
      sc_spec_dep_format(&s->deps[i], item, sizeof item);
      json_array_append_new(after, json_string(item));
    }
    if (!after || json_object_set_new(doc, "after", after) < 0) {
      json_decref(doc);
      doc = NULL;
    }
  }
  if (doc && s->regions[0] &&
      json_object_set(doc, "regions", json_object_get(body, "regions")) < 0) {
    json_decref(doc);
    doc = NULL;
  }
  if (doc && s->slurm_env && json_object_set_new(doc, "slurm_env", json_true()) < 0) {
    json_decref(doc);
    doc = NULL;
  }
  if (doc && s->requeue && json_object_set_new(doc, "requeue", json_true()) < 0) {
    json_decref(doc);
    doc = NULL;
  }
  if (doc && s->keep_on_disconnect &&
      json_object_set_new(doc, "on_disconnect", json_string("keep")) < 0) {
    json_decref(doc);
    doc = NULL;
  }
  if (doc && s->no_network && json_object_set_new(doc, "network", json_string("none")) < 0) {
    json_decref(doc);
    doc = NULL;
  }
  if (doc && s->preemptible && json_object_set_new(doc, "preemptible", json_true()) < 0) {
    json_decref(doc);
    doc = NULL;
  }
  if (doc && s->preempt_signal != SIGTERM &&
      json_object_set_new(doc, "preempt_signal",
                          json_string(sc_spec_signal_name(s->preempt_signal))) < 0) {
    json_decref(doc);
    doc = NULL;
  }
  if (doc && s->checkpoint_grace_s >= 0 &&
      json_object_set_new(doc, "checkpoint_grace", json_integer(s->checkpoint_grace_s)) < 0) {
    json_decref(doc);
    doc = NULL;
  }
  if (doc && json_object_get(body, "image") &&
      json_object_set(doc, "image", json_object_get(body, "image")) < 0) {
    json_decref(doc);
    doc = NULL;
  }
  if (doc && json_object_get(body, "workdir") &&
      json_object_set(doc, "workdir", json_object_get(body, "workdir")) < 0) {
    json_decref(doc);
    doc = NULL;
  }
  return doc;
}

static void run_free(struct sc_spec_run *r)
{
  for (char **a = r->argv; a && *a; a++)
    free(*a);
  for (int i = 0; i < r->nenv; i++) {
    free(r->env_keys[i]);
    free(r->env_values[i]);
  }
  free(r->argv);
  free(r->env_keys);
  free(r->env_values);
  free(r->shell);
  free(r->workdir);
  free(r->image);
  free(r);
}

struct sc_spec_run *sc_spec_run_ref(struct sc_spec_run *run)
{
  if (run)
    atomic_fetch_add_explicit(&run->refs, 1, memory_order_relaxed);
  return run;
}

void sc_spec_run_unref(struct sc_spec_run *run)
{
  if (run && atomic_fetch_sub_explicit(&run->refs, 1, memory_order_acq_rel) == 1)
    run_free(run);
}

/* The run part of a validated, normalised spec (command, env, workdir). */
static struct sc_spec_run *run_new(json_t *doc)
{
  struct sc_spec_run *r = calloc(1, sizeof *r);
  json_t *command = json_object_get(doc, "command"), *env = json_object_get(doc, "env"), *v;
  const char *key;
  bool ok = r != NULL;
  size_t i, n;

  if (!ok)
    return NULL;
  atomic_init(&r->refs, 1);
  if (json_is_string(command)) {
    ok = (r->shell = strdup(json_string_value(command))) != NULL;
  } else {
    n = json_array_size(command);
    ok = (r->argv = calloc(n + 1, sizeof *r->argv)) != NULL;
    json_array_foreach(command, i, v) {
      if (ok)
        ok = (r->argv[i] = strdup(json_string_value(v))) != NULL;
    }
  }
  n = json_object_size(env);
  if (ok && n > 0)
    ok = (r->env_keys = calloc(n, sizeof *r->env_keys)) &&
         (r->env_values = calloc(n, sizeof *r->env_values));
  json_object_foreach(env, key, v) {
    if (!ok)
      break;
    r->env_keys[r->nenv] = strdup(key);
    r->env_values[r->nenv] = strdup(json_string_value(v));
    ok = r->env_keys[r->nenv] && r->env_values[r->nenv];
    r->nenv++;
  }
  if (ok && json_is_string(json_object_get(doc, "image")))
    ok = (r->image = strdup(json_string_value(json_object_get(doc, "image")))) != NULL;
  r->keep_on_disconnect =
    json_is_string(json_object_get(doc, "on_disconnect")) &&
    strcmp(json_string_value(json_object_get(doc, "on_disconnect")), "keep") == 0;
  r->no_network = json_is_string(json_object_get(doc, "network")) &&
                  strcmp(json_string_value(json_object_get(doc, "network")), "none") == 0;
  if (ok && json_is_string(json_object_get(doc, "workdir")))
    ok = (r->workdir = strdup(json_string_value(json_object_get(doc, "workdir")))) != NULL;
  if (!ok) {
    run_free(r);
    return NULL;
  }
  return r;
}

/* Fills out->text and out->run from the normalised document doc. */
static int finish(json_t *doc, struct sc_job_spec *out)
{
  if (!doc)
    return SC_ENOMEM;
  out->text = json_dumps(doc, JSON_COMPACT);
  out->run = out->text ? run_new(doc) : NULL;
  json_decref(doc);
  if (!out->run) {
    sc_spec_release(out);
    return SC_ENOMEM;
  }
  return 0;
}

int sc_spec_parse(json_t *body, struct sc_job_spec *out, struct sc_spec_error *err)
{
  const char *key;
  json_t *value;
  int rc;

  memset(err, 0, sizeof *err);
  set_defaults(out);
  if (!json_is_object(body))
    return fail(err, "", "the job spec must be a JSON object");
  json_object_foreach(body, key, value) {
    if (!field_find(key))
      return fail(err, key, "unknown field '%s'", key);
  }
  json_object_foreach(body, key, value) {
    if ((rc = field_find(key)->parse(value, out, err)) < 0)
      return rc;
  }
  if (!json_object_get(body, "name"))
    return fail(err, "name", "missing required field 'name'");
  if (!json_object_get(body, "command"))
    return fail(err, "command", "missing required field 'command'");
  return finish(normalise(body, out), out);
}

int sc_spec_parse_text(const char *text, struct sc_job_spec *out, struct sc_spec_error *err)
{
  json_error_t jerr;
  json_t *body = json_loads(text ? text : "", 0, &jerr);
  int rc;

  if (!body) {
    memset(err, 0, sizeof *err);
    set_defaults(out);
    return fail(err, "", "malformed JSON: %s", jerr.text);
  }
  rc = sc_spec_parse(body, out, err);
  json_decref(body);
  return rc;
}

int sc_spec_set_tenant(struct sc_job_spec *spec, const char *tenant)
{
  json_t *doc = json_loads(spec->text, 0, NULL);
  char *text = NULL;

  if (doc && json_object_set_new(doc, "tenant", json_string(tenant)) == 0)
    text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  if (!text)
    return SC_ENOMEM;
  free(spec->text);
  spec->text = text;
  snprintf(spec->tenant, sizeof spec->tenant, "%s", tenant);
  return 0;
}

int sc_spec_with_env(const struct sc_job_spec *spec, const char *const *keys,
                     const char *const *values, int nextra, struct sc_job_spec *out)
{
  json_t *doc = json_loads(spec->text, 0, NULL), *env = json_object_get(doc, "env");
  struct sc_spec_error err;
  int rc = doc && json_is_object(env) ? 0 : SC_ENOMEM;

  for (int i = 0; rc == 0 && i < nextra; i++)
    if (json_object_set_new(env, keys[i], json_string(values[i])) < 0)
      rc = SC_ENOMEM;
  rc = rc == 0 ? sc_spec_parse(doc, out, &err) : rc;
  json_decref(doc);
  return rc;
}

void sc_spec_release(struct sc_job_spec *spec)
{
  free(spec->text);
  sc_spec_run_unref(spec->run);
  spec->text = NULL;
  spec->run = NULL;
}
