/*
 * `supercell sbatch`: submits an existing Slurm batch script. Its #SBATCH
 * directives (read as sbatch reads them: from the lines after #! up to the
 * first line that is neither a comment nor blank) and then the command
 * line's flags, which win, fill a job spec; the script itself becomes the
 * command. One table maps each sbatch option to its spec field
 * (docs/coming-from-slurm.md prints it); options Supercell does not take
 * are warnings with their line numbers, never silently dropped.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "cli/jobspec.h"
#include "util/spec_limits.h"
#include "util/units.h"

extern char **environ;

static const char sbatch_help[] =
  "usage: supercell sbatch [sbatch options] SCRIPT [ARGS...]\n"
  "       supercell sbatch [sbatch options] --wrap COMMAND\n"
  "\n"
  "Submits a Slurm batch script: its #SBATCH directives, then these options\n"
  "(which win), make the job spec; the script runs as the job's command\n"
  "with SLURM_JOB_ID, SLURM_ARRAY_TASK_ID, SLURM_PROCID, SLURM_NTASKS,\n"
  "SLURM_LOCALID, ... set alongside SUPERCELL_*. Prints 'Submitted batch job\n"
  "ID'. Directives Supercell does not support are warnings (FILE:LINE).\n"
  "\n"
  "  -J, --job-name N        job name (default: the script's file name)\n"
  "  -n, --ntasks N          tasks, placed all at once (a gang)\n"
  "  -c, --cpus-per-task N   CPUs per task\n"
  "      --mem SIZE          memory per task (Slurm: per node); K/M/G/T, default M\n"
  "      --mem-per-cpu SIZE  memory per CPU, times --cpus-per-task\n"
  "      --gres gpu[:TYPE]:N accelerators per task, of model TYPE\n"
  "      --gpus [TYPE:]N     accelerators for the job, split over its tasks\n"
  "      --gpus-per-task [TYPE:]N  accelerators per task\n"
  "  -t, --time T            time limit: MIN, MIN:SEC, H:MIN:SEC, D-H[:MIN[:SEC]]\n"
  "  -a, --array SPEC        job array: 0-99[:STEP][%MAX], 1,3,5\n"
  "  -d, --dependency D      afterok:ID[:ID],afterany:ID,afternotok:ID\n"
  "  -o, --output PATTERN    stdout to this file on the node (%j job id, %A array\n"
  "                          id, %a index, %x name, %t task rank, %%); default:\n"
  "                          Supercell's logs. The script runs in each of the\n"
  "                          job's tasks (as under srun), which then append\n"
  "  -e, --error PATTERN     stderr to this file (default: with stdout)\n"
  "      --export LIST       NONE (default), ALL (this shell's environment but\n"
  "                          SUPERCELL_*), or VAR[=VALUE],... (ALL,VAR=V too)\n"
  "  -D, --chdir DIR         working directory on the node\n"
  "  -H, --hold              submit held (supercell release ID)\n"
  "  -b, --begin TIME        not before: now+N[seconds|minutes|hours|days],\n"
  "                          HH:MM[:SS], YYYY-MM-DD[THH:MM[:SS]] (local time)\n"
  "      --priority P        -1000..1000 (Supercell's scale)\n"
  "      --wrap COMMAND      the script is '#!/bin/sh' and COMMAND\n"
  "      --test-only         print the job spec; submit nothing\n"
  "      --parsable          print only the job id\n"
  SC_CLI_COMMON_HELP;

struct sbatch {
  json_t *spec, *res, *env;
  const char *where;     /* "script.sh:3" or "command line", for messages */
  int ntasks;            /* as set so far (gpus totals are split over it) */
  long long cpus;        /* --cpus-per-task, 0 unset */
  int64_t mem_per_cpu;   /* MiB, 0 unset */
  int gpus_total;        /* --gpus, 0 unset */
  char gpu_type[64];
  const char *output, *error, *export_list;
  bool test_only, parsable, hold_seen;
  char *wrap;
  int warnings;
};

/* "4G", "4096" (MiB, Slurm's default unit), "1T" into MiB. */
static int slurm_mem(const char *v, int64_t *mib)
{
  char *end;
  long long n = strtoll(v, &end, 10);
  int64_t mul = 1;

  if (end == v || n < 0)
    return -1;
  switch (toupper((unsigned char)*end)) {
  case '\0': break;
  case 'K': mul = -1024; break;
  case 'M': break;
  case 'G': mul = 1024; break;
  case 'T': mul = 1024 * 1024; break;
  default: return -1;
  }
  if (*end && end[1] && !(toupper((unsigned char)end[1]) == 'B' && !end[2]))
    return -1;
  *mib = mul < 0 ? (n + 1023) / 1024 : n * mul;
  return *mib > SC_SPEC_MAX_MEMORY_MIB ? -1 : 0;
}

/* Slurm's time formats into seconds: MIN, MIN:SEC, H:MIN:SEC, D-H,
 * D-H:MIN, D-H:MIN:SEC; "UNLIMITED"/"INFINITE" is 0 (none). */
static int slurm_time(const char *v, long long *secs)
{
  long long part[4] = {0}, days = 0;
  int n = 0;
  const char *p = v, *dash = strchr(v, '-');
  char *end;

  if (strcasecmp(v, "UNLIMITED") == 0 || strcasecmp(v, "INFINITE") == 0)
    return *secs = 0, 0;
  if (dash) {
    days = strtoll(v, &end, 10);
    if (end != dash || end == v)
      return -1;
    p = dash + 1;
  }
  for (;;) {
    if (!isdigit((unsigned char)*p) || n == 3)
      return -1;
    part[n++] = strtoll(p, &end, 10);
    if (*end == '\0')
      break;
    if (*end != ':')
      return -1;
    p = end + 1;
  }
  if (dash) /* D-H, D-H:M, D-H:M:S */
    *secs = days * 86400 + part[0] * 3600 + part[1] * 60 + part[2];
  else if (n == 1) /* minutes */
    *secs = part[0] * 60;
  else if (n == 2) /* MIN:SEC */
    *secs = part[0] * 60 + part[1];
  else
    *secs = part[0] * 3600 + part[1] * 60 + part[2];
  return *secs <= SC_SPEC_MAX_RUNTIME_S ? 0 : -1;
}

/* Slurm's --begin into Unix ms: now+N[units], HH:MM[:SS] (today, or
 * tomorrow once past), YYYY-MM-DD[THH:MM[:SS]], all local time. */
static int slurm_begin(const char *v, long long *ms)
{
  time_t now = time(NULL);
  struct tm tm;
  const char *end;

  if (strncmp(v, "now+", 4) == 0) {
    char *u;
    long long n = strtoll(v + 4, &u, 10), mul = 1;
    if (u == v + 4 || n < 0)
      return -1;
    if (*u == '\0' || strcmp(u, "s") == 0 || strncmp(u, "second", 6) == 0)
      mul = 1;
    else if (strncmp(u, "minute", 6) == 0)
      mul = 60;
    else if (strncmp(u, "hour", 4) == 0)
      mul = 3600;
    else if (strncmp(u, "day", 3) == 0)
      mul = 86400;
    else if (strncmp(u, "week", 4) == 0)
      mul = 7 * 86400;
    else
      return -1;
    *ms = ((long long)now + n * mul) * 1000;
    return 0;
  }
  localtime_r(&now, &tm);
  tm.tm_sec = 0;
  if ((end = strptime(v, "%H:%M:%S", &tm)) || (end = strptime(v, "%H:%M", &tm))) {
    if (*end)
      return -1;
    tm.tm_isdst = -1;
    *ms = (long long)mktime(&tm) * 1000;
    if (*ms < (long long)now * 1000)
      *ms += 86400 * 1000LL;
    return 0;
  }
  memset(&tm, 0, sizeof tm);
  if ((end = strptime(v, "%Y-%m-%dT%H:%M:%S", &tm)) || (end = strptime(v, "%Y-%m-%dT%H:%M", &tm)) ||
      (end = strptime(v, "%Y-%m-%d", &tm))) {
    if (*end)
      return -1;
    tm.tm_isdst = -1;
    *ms = (long long)mktime(&tm) * 1000;
    return 0;
  }
  return -1;
}

/* "[TYPE:]N" of --gpus / --gpus-per-task (also gpu[:TYPE]:N of --gres,
 * after its "gpu:"). */
static int gpu_count(struct sbatch *s, const char *v, int *n)
{
  const char *colon = strrchr(v, ':');
  char *end;
  long k = strtol(colon ? colon + 1 : v, &end, 10);

  if (*end || end == (colon ? colon + 1 : v) || k < 0 || k > SC_SPEC_MAX_GPUS * 4096L)
    return -1;
  if (colon) {
    if ((size_t)(colon - v) >= sizeof s->gpu_type || colon == v)
      return -1;
    snprintf(s->gpu_type, sizeof s->gpu_type, "%.*s", (int)(colon - v), v);
  }
  *n = (int)k;
  return 0;
}

enum opt_id {
  O_NAME, O_NTASKS, O_CPUS, O_MEM, O_MEM_PER_CPU, O_GRES, O_GPUS, O_GPUS_PER_TASK, O_TIME,
  O_ARRAY, O_DEPENDENCY, O_OUTPUT, O_ERROR, O_EXPORT, O_CHDIR, O_HOLD, O_BEGIN, O_PRIORITY,
  O_WRAP, O_TEST_ONLY, O_PARSABLE,
};

/* The sbatch options Supercell takes: long name, short letter, argument. */
static const struct sbatch_opt {
  const char *name;
  char letter;
  bool arg;
  enum opt_id id;
} opts[] = {
  {"job-name", 'J', true, O_NAME}, {"ntasks", 'n', true, O_NTASKS},
  {"cpus-per-task", 'c', true, O_CPUS}, {"mem", 0, true, O_MEM},
  {"mem-per-cpu", 0, true, O_MEM_PER_CPU}, {"gres", 0, true, O_GRES},
  {"gpus", 'G', true, O_GPUS}, {"gpus-per-task", 0, true, O_GPUS_PER_TASK},
  {"time", 't', true, O_TIME}, {"array", 'a', true, O_ARRAY},
  {"dependency", 'd', true, O_DEPENDENCY}, {"output", 'o', true, O_OUTPUT},
  {"error", 'e', true, O_ERROR}, {"export", 0, true, O_EXPORT}, {"chdir", 'D', true, O_CHDIR},
  {"hold", 'H', false, O_HOLD}, {"begin", 'b', true, O_BEGIN}, {"priority", 0, true, O_PRIORITY},
  {"wrap", 0, true, O_WRAP}, {"test-only", 0, false, O_TEST_ONLY},
  {"parsable", 0, false, O_PARSABLE},
};

static int bad(struct sbatch *s, const char *opt, const char *v, const char *want)
{
  fprintf(stderr, "supercell sbatch: %s: bad value for --%s: \"%s\" (%s)\n", s->where, opt, v,
          want);
  return SC_CLI_USAGE;
}

/* Applies one option with value v (NULL for a flag). */
static int apply(struct sbatch *s, const struct sbatch_opt *o, const char *v)
{
  long long n;
  int64_t mib;
  int g;

  switch (o->id) {
  case O_NAME: json_object_set_new(s->spec, "name", json_string(v)); return 0;
  case O_NTASKS:
    if (sc_cli_parse_int(v, 1, SC_SPEC_MAX_TASKS, &n) != 0)
      return bad(s, o->name, v, "want 1..4096");
    s->ntasks = (int)n;
    json_object_set_new(s->spec, "tasks", json_integer(n));
    return 0;
  case O_CPUS:
    if (sc_cli_parse_int(v, 1, SC_SPEC_MAX_CPU_MILLI / 1000, &n) != 0)
      return bad(s, o->name, v, "want a number of CPUs");
    s->cpus = n;
    json_object_set_new(s->res, "cpu_milli", json_integer(n * 1000));
    return 0;
  case O_MEM:
  case O_MEM_PER_CPU:
    if (slurm_mem(v, &mib) != 0)
      return bad(s, o->name, v, "want e.g. 4096, 16G or 1T");
    if (o->id == O_MEM_PER_CPU)
      s->mem_per_cpu = mib;
    else
      json_object_set_new(s->res, "memory", json_sprintf("%lldMi", (long long)mib));
    return 0;
  case O_GRES:
    if (strncmp(v, "gpu:", 4) != 0 || gpu_count(s, v + 4, &g) != 0 || g > SC_SPEC_MAX_GPUS)
      return bad(s, o->name, v, "want gpu[:TYPE]:N; other resources are not supported");
    json_object_set_new(s->res, "gpus", json_integer(g));
    return 0;
  case O_GPUS:
    if (gpu_count(s, v, &g) != 0)
      return bad(s, o->name, v, "want [TYPE:]N");
    s->gpus_total = g;
    return 0;
  case O_GPUS_PER_TASK:
    if (gpu_count(s, v, &g) != 0 || g > SC_SPEC_MAX_GPUS)
      return bad(s, o->name, v, "want [TYPE:]N, N at most 16");
    json_object_set_new(s->res, "gpus", json_integer(g));
    return 0;
  case O_TIME:
    if (slurm_time(v, &n) != 0)
      return bad(s, o->name, v, "want MIN, MIN:SEC, H:MIN:SEC or D-H[:MIN[:SEC]]");
    json_object_set_new(s->spec, "max_runtime", json_integer(n));
    return 0;
  case O_ARRAY: json_object_set_new(s->spec, "array", json_string(v)); return 0;
  case O_DEPENDENCY: json_object_set_new(s->spec, "dependency", json_string(v)); return 0;
  case O_OUTPUT: s->output = v; return 0;
  case O_ERROR: s->error = v; return 0;
  case O_EXPORT: s->export_list = v; return 0;
  case O_CHDIR: {
    char cwd[4096];
    if (v[0] == '/' || !getcwd(cwd, sizeof cwd))
      json_object_set_new(s->spec, "workdir", json_string(v));
    else
      json_object_set_new(s->spec, "workdir", json_sprintf("%s/%s", cwd, v));
    return 0;
  }
  case O_HOLD: json_object_set_new(s->spec, "hold", json_true()); return 0;
  case O_BEGIN:
    if (slurm_begin(v, &n) != 0)
      return bad(s, o->name, v, "want now+N[units], HH:MM[:SS] or YYYY-MM-DD[THH:MM[:SS]]");
    json_object_set_new(s->spec, "begin", json_integer(n));
    return 0;
  case O_PRIORITY:
    if (sc_cli_parse_int(v[0] == '-' ? v + 1 : v, 0, 1000, &n) != 0)
      return bad(s, o->name, v, "want -1000..1000");
    json_object_set_new(s->spec, "priority", json_integer(v[0] == '-' ? -n : n));
    return 0;
  case O_WRAP:
    free(s->wrap);
    s->wrap = strdup(v);
    return 0;
  case O_TEST_ONLY: s->test_only = true; return 0;
  case O_PARSABLE: s->parsable = true; return 0;
  }
  return 0;
}

/* Takes the option at words[*i] ("--mem=4G", "--mem 4G", "-n4", "-n 4").
 * Returns 0, 1 when it is not one of ours (a warning in a script), or an
 * exit code. */
static int take(struct sbatch *s, char **words, int nwords, int *i, bool warn_unknown)
{
  const char *w = words[*i], *eq, *v = NULL;
  const struct sbatch_opt *o = NULL;

  if (w[0] != '-' || w[1] == '\0')
    return 1;
  if (w[1] == '-') {
    size_t len = (eq = strchr(w + 2, '=')) ? (size_t)(eq - w - 2) : strlen(w + 2);
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
      if (strlen(opts[k].name) == len && strncmp(opts[k].name, w + 2, len) == 0)
        o = &opts[k];
    if (o && o->arg)
      v = eq ? eq + 1 : (*i + 1 < nwords ? words[++*i] : NULL);
    else if (o && eq)
      return bad(s, o->name, eq + 1, "takes no value");
  } else {
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
      if (opts[k].letter == w[1])
        o = &opts[k];
    if (o && o->arg)
      v = w[2] ? w + 2 : (*i + 1 < nwords ? words[++*i] : NULL);
    else if (o && w[2])
      o = NULL;
  }
  if (!o) {
    if (warn_unknown) {
      fprintf(stderr, "supercell sbatch: %s: warning: %s is not supported (ignored)\n",
              s->where, w);
      s->warnings++;
      return 0;
    }
    return 1;
  }
  if (o->arg && !v) {
    fprintf(stderr, "supercell sbatch: %s: --%s needs a value\n", s->where, o->name);
    return SC_CLI_USAGE;
  }
  return apply(s, o, v);
}

/* Splits a directive's text into words (quotes group, as the shell). */
static int split(char *line, char **words, int max)
{
  int n = 0;
  char *p = line, *out;

  while (*p) {
    char quote = 0;
    while (isspace((unsigned char)*p))
      p++;
    if (!*p || *p == '#')
      break; /* a comment after the options */
    if (n == max)
      return -1;
    words[n++] = out = p;
    while (*p && (quote || !isspace((unsigned char)*p))) {
      if (!quote && (*p == '"' || *p == '\''))
        quote = *p++;
      else if (quote && *p == quote)
        quote = 0, p++;
      else
        *out++ = *p++;
    }
    if (*p)
      p++;
    *out = '\0';
  }
  return n;
}

/* Reads the #SBATCH directives of script text (path for messages). */
static int directives(struct sbatch *s, char *text, const char *path)
{
  char where[4200], *line = text, *next;
  int lineno = 0, rc;

  for (; line && *line; line = next) {
    char *words[64];
    int n;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    lineno++;
    if (lineno == 1 && strncmp(line, "#!", 2) == 0)
      continue;
    if (strncmp(line, "#SBATCH", 7) != 0) {
      const char *p = line + strspn(line, " \t\r");
      if (*p == '\0' || *p == '#')
        continue;
      break; /* the first command ends the directives, as in sbatch */
    }
    snprintf(where, sizeof where, "%s:%d", path, lineno);
    s->where = where;
    if ((n = split(line + 7, words, 64)) < 0) {
      fprintf(stderr, "supercell sbatch: %s: too many words\n", where);
      return SC_CLI_USAGE;
    }
    for (int i = 0; i < n; i++)
      if ((rc = take(s, words, n, &i, true)) != 0)
        return rc;
  }
  return 0;
}

/* The shell words of an output pattern, its %j, %A, %a, %x, %% expanded
 * by the task's shell from SLURM_* variables; the rest single-quoted. */
static void pattern_shell(const char *pat, char *buf, size_t size)
{
  size_t len = 0;

  for (const char *p = pat; *p && len + 32 < size; p++) {
    const char *var = NULL;
    if (*p == '%' && p[1]) {
      switch (p[1]) {
      case 'j': var = "${SLURM_JOB_ID}"; break;
      case 'A': var = "${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}"; break;
      case 'a': var = "${SLURM_ARRAY_TASK_ID:-4294967294}"; break;
      case 'x': var = "${SLURM_JOB_NAME}"; break;
      case 't': var = "${SLURM_PROCID}"; break;
      case '%': var = "%"; break;
      }
    }
    if (var) {
      len += (size_t)snprintf(buf + len, size - len, "%s", var);
      p++;
    } else if (*p == '\'') {
      len += (size_t)snprintf(buf + len, size - len, "\\'");
    } else {
      len += (size_t)snprintf(buf + len, size - len, "'%c'", *p);
    }
  }
  buf[len < size ? len : size - 1] = '\0';
}

/* The variables --export names: NONE, ALL (but SUPERCELL_*), VAR, VAR=V. */
static int export_env(struct sbatch *s)
{
  char *list = strdup(s->export_list), *save = NULL;

  if (!list)
    return SC_CLI_USAGE;
  for (char *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(w, '=');
    if (strcmp(w, "NONE") == 0 || strcmp(w, "NIL") == 0)
      continue;
    if (strcmp(w, "ALL") == 0) {
      for (char **e = environ; *e; e++) {
        const char *q = strchr(*e, '=');
        char key[256];
        if (!q || q == *e || (size_t)(q - *e) >= sizeof key || strncmp(*e, "SUPERCELL_", 10) == 0)
          continue;
        snprintf(key, sizeof key, "%.*s", (int)(q - *e), *e);
        json_object_set_new(s->env, key, json_string(q + 1));
      }
      continue;
    }
    if (eq) {
      *eq = '\0';
      json_object_set_new(s->env, w, json_string(eq + 1));
    } else if (getenv(w)) {
      json_object_set_new(s->env, w, json_string(getenv(w)));
    }
  }
  free(list);
  return 0;
}

/* A heredoc delimiter that is no line of text. */
static void delimiter(const char *text, char *buf, size_t size)
{
  for (unsigned k = 0;; k++) {
    snprintf(buf, size, "SUPERCELL_SBATCH_EOF_%u", k);
    const char *p = text;
    bool found = false;
    size_t len = strlen(buf);
    while ((p = strstr(p, buf))) {
      if ((p == text || p[-1] == '\n') && (p[len] == '\n' || p[len] == '\0'))
        found = true;
      p += len;
    }
    if (!found)
      return;
  }
}

/* The command: a shell that writes the script to a private file and runs
 * it with the script's arguments, its output where -o / -e say. */
static json_t *script_command(struct sbatch *s, const char *script, const char *name, int argc,
                              char **argv)
{
  size_t slen = strlen(script), size = slen + 12000;
  char *w = malloc(size), delim[64], out[4096], err[4096];
  size_t len = 0;
  json_t *cmd;

  if (!w)
    return NULL;
  delimiter(script, delim, sizeof delim);
  len += (size_t)snprintf(w + len, size - len,
                          "f=$(mktemp \"${TMPDIR:-/tmp}/sbatch.XXXXXX\") || exit 1\n"
                          "cat > \"$f\" <<'%s'\n%s%s%s\nchmod 700 \"$f\"\n",
                          delim, script, slen && script[slen - 1] == '\n' ? "" : "\n", delim);
  if (s->output || s->error) {
    /* The script runs in each task of a gang (as under srun): they share
     * a file by appending; a single task truncates it, as sbatch does. */
    const char *mode = s->ntasks > 1 ? ">>" : ">";
    pattern_shell(s->output ? s->output : s->error, out, sizeof out);
    pattern_shell(s->error ? s->error : "", err, sizeof err);
    if (s->output && s->error)
      len += (size_t)snprintf(w + len, size - len, "exec %s%s 2%s%s || exit 1\n", mode, out,
                              mode, err);
    else if (s->output)
      len += (size_t)snprintf(w + len, size - len, "exec %s%s 2>&1 || exit 1\n", mode, out);
    else
      len += (size_t)snprintf(w + len, size - len, "exec 2%s%s || exit 1\n", mode, out);
  }
  snprintf(w + len, size - len, "\"$f\" \"$@\"; rc=$?; rm -f \"$f\"; exit $rc\n");
  cmd = json_pack("[s, s, s]", "/bin/sh", "-c", w);
  free(w);
  json_array_append_new(cmd, json_string(name));
  for (int i = 0; cmd && i < argc; i++)
    json_array_append_new(cmd, json_string(argv[i]));
  return cmd;
}

/* Is argv[i] one of the CLI's own options (--server, --token, --help)? */
static int common(struct sc_cli *c, int argc, char **argv, int *i, bool apply_it)
{
  const char *w = argv[*i];
  const char *v = NULL;
  int opt = 0;

  if (strcmp(w, "-h") == 0 || strcmp(w, "--help") == 0)
    return c->help = true, 0;
  else if (strncmp(w, "--server", 8) == 0 && (w[8] == '\0' || w[8] == '='))
    opt = 0x1001;
  else if (strncmp(w, "--token", 7) == 0 && (w[7] == '\0' || w[7] == '='))
    opt = 0x1002;
  else
    return -1;
  {
    const char *eq = strchr(w, '=');
    v = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
    if (!v)
      return sc_cli_usage_error(c, "%s needs a value", w);
  }
  return apply_it ? sc_cli_common_option(c, opt, v) : 0;
}

/* Walks the options before the script: into s when apply_it (the second
 * walk, after the directives, so they win), else only to find the
 * script. Returns the script's index (argc: none) or -exit code. */
static int cmdline(struct sc_cli *c, struct sbatch *s, int argc, char **argv, bool apply_it)
{
  int i, rc;

  s->where = "command line";
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      return i + 1;
    if (argv[i][0] != '-' || argv[i][1] == '\0')
      return i;
    if ((rc = common(c, argc, argv, &i, apply_it)) >= 0) {
      if (rc > 0)
        return -rc;
      continue;
    }
    rc = take(s, argv, argc, &i, false);
    if (rc == 1)
      return -sc_cli_usage_error(c, "unknown or unsupported option '%s' (see --help)", argv[i]);
    if (rc != 0)
      return -rc;
  }
  return i;
}

static void sbatch_free(struct sbatch *s)
{
  json_decref(s->spec);
  json_decref(s->res);
  json_decref(s->env);
  free(s->wrap);
}

static struct sbatch sbatch_new(void)
{
  struct sbatch s = {.spec = json_object(), .res = json_object(), .env = json_object(),
                     .ntasks = 1, .export_list = "NONE"};
  return s;
}

/* Fills the spec from what the options set. */
static int finish_spec(struct sc_cli *c, struct sbatch *s, const char *script, const char *name,
                       int argc, char **argv)
{
  char cwd[4096];
  json_t *cmd;
  int rc;

  if (!json_object_get(s->spec, "name"))
    json_object_set_new(s->spec, "name", json_string(name));
  if (s->gpus_total > 0) {
    if (s->gpus_total % s->ntasks != 0 || s->gpus_total / s->ntasks > SC_SPEC_MAX_GPUS)
      return sc_cli_usage_error(c, "--gpus %d does not split evenly over %d tasks (at most 16 "
                                "each); use --gpus-per-task", s->gpus_total, s->ntasks);
    json_object_set_new(s->res, "gpus", json_integer(s->gpus_total / s->ntasks));
  }
  if (s->gpu_type[0])
    json_object_set_new(s->spec, "models", json_pack("[s]", s->gpu_type));
  if (s->mem_per_cpu > 0 && !json_object_get(s->res, "memory"))
    json_object_set_new(s->res, "memory",
                        json_sprintf("%lldMi", (long long)s->mem_per_cpu * (s->cpus ? s->cpus : 1)));
  if ((rc = export_env(s)) != 0)
    return rc;
  if (getcwd(cwd, sizeof cwd))
    json_object_set_new(s->env, "SLURM_SUBMIT_DIR", json_string(cwd));
  if (s->cpus > 0)
    json_object_set_new(s->env, "SLURM_CPUS_PER_TASK", json_sprintf("%lld", s->cpus));
  if (json_object_size(s->res))
    json_object_set(s->spec, "resources", s->res);
  json_object_set(s->spec, "env", s->env);
  json_object_set_new(s->spec, "slurm_env", json_true());
  if (!(cmd = script_command(s, script, name, argc, argv)))
    return sc_cli_usage_error(c, "out of memory");
  json_object_set_new(s->spec, "command", cmd);
  return 0;
}

/* Reads the script (path, or "-" for stdin) into *text. */
static int read_script(struct sc_cli *c, const char *path, char **text)
{
  char err[512];
  size_t len;

  if (sc_jobspec_read(path, text, &len, err, sizeof err) != 0)
    return fprintf(stderr, "supercell sbatch: %s\n", err), SC_CLI_USAGE;
  if (strlen(*text) != len) {
    free(*text);
    return sc_cli_usage_error(c, "%s: a NUL byte in a batch script", path);
  }
  if (strncmp(*text, "#!", 2) != 0) {
    free(*text);
    return sc_cli_usage_error(c, "%s: this does not look like a batch script: the first line "
                              "must start with #! followed by the path to an interpreter", path);
  }
  return 0;
}

int sc_cli_sbatch(int argc, char **argv)
{
  struct sc_cli c = {.cmd = "sbatch"};
  struct sbatch probe = sbatch_new(), s = sbatch_new();
  char *text = NULL, *copy = NULL, name[256];
  const char *path;
  json_t *job = NULL;
  int at = cmdline(&c, &probe, argc, argv, false), rc = 0;

  if (at < 0)
    rc = -at;
  else if (c.help || (at < argc && strcmp(argv[at], "--help") == 0))
    fputs(sbatch_help, stdout);
  else if (at >= argc && !probe.wrap)
    rc = sc_cli_usage_error(&c, "give a batch script (or --wrap COMMAND); see --help");
  else if (at < argc && probe.wrap)
    rc = sc_cli_usage_error(&c, "give a script or --wrap, not both");
  if (rc != 0 || c.help || (at < argc && strcmp(argv[at], "--help") == 0))
    goto out;
  if (probe.wrap) {
    size_t n = strlen(probe.wrap) + 32;
    path = "--wrap";
    if ((text = malloc(n)))
      snprintf(text, n, "#!/bin/sh\n%s\n", probe.wrap);
    snprintf(name, sizeof name, "wrap");
  } else {
    path = argv[at];
    rc = read_script(&c, path, &text);
    sc_jobspec_default_name(path, name, sizeof name);
  }
  if (rc == 0 && !(copy = text ? strdup(text) : NULL))
    rc = sc_cli_usage_error(&c, "out of memory");
  if (rc == 0)
    rc = directives(&s, copy, path);
  if (rc == 0 && (at = cmdline(&c, &s, argc, argv, true)) < 0)
    rc = -at;
  if (rc == 0)
    rc = finish_spec(&c, &s, text, name, at < argc ? argc - at - 1 : 0,
                     at < argc ? argv + at + 1 : NULL);
  if (rc != 0)
    goto out;
  if (s.test_only) {
    rc = sc_cli_print_json(s.spec);
    goto out;
  }
  if ((rc = sc_cli_connect(&c)) == 0 &&
      (rc = sc_cli_call(&c, "POST", "/v1/jobs", s.spec, 30000, &job)) == 0) {
    if (s.parsable)
      printf("%s\n", json_string_value(json_object_get(job, "id")));
    else
      printf("Submitted batch job %s\n", json_string_value(json_object_get(job, "id")));
  }
out:
  json_decref(job);
  free(text);
  free(copy);
  sbatch_free(&probe);
  sbatch_free(&s);
  sc_cli_release(&c);
  return rc;
}
