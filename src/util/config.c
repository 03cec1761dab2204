/* Flags from a file: see config.h. */
#include "util/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define MAX_LINE 4096

/* Where the last vector's settings came from: its file and, per element,
 * the line (0: the command line). One command reads one file, once. */
static char origin_path[512];
static int *origin_line;
static int origin_n;
/* The last vector made: the process's flags, kept for its life. */
static char **kept_argv;

/* The --config value in argv, or NULL. */
static const char *config_path(int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      return NULL;
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
      return argv[i + 1];
    if (strncmp(argv[i], "--config=", 9) == 0)
      return argv[i] + 9;
  }
  return NULL;
}

static char *trim(char *s)
{
  char *end;

  while (isspace((unsigned char)*s))
    s++;
  end = s + strlen(s);
  while (end > s && isspace((unsigned char)end[-1]))
    *--end = '\0';
  return s;
}

static const struct option *find(const struct option *known, const char *name)
{
  for (; known->name; known++)
    if (strcmp(known->name, name) == 0)
      return known;
  return NULL;
}

/* Appends s (copied) to the vector; false when out of memory. */
static bool push(char ***v, int *n, int *cap, const char *s)
{
  if (*n + 2 > *cap) {
    int ncap = *cap ? *cap * 2 : 16;
    char **grown = realloc(*v, (size_t)ncap * sizeof **v);
    if (!grown)
      return false;
    *v = grown;
    *cap = ncap;
  }
  if (!((*v)[*n] = strdup(s)))
    return false;
  (*v)[++*n] = NULL;
  return true;
}

/* Reads the file's settings as flags into the vector. */
static int read_settings(FILE *f, const char *path, const struct option *known, char ***v, int *n,
                         int *cap, char *err, size_t errlen)
{
  char line[MAX_LINE], flag[MAX_LINE + 2];
  int lineno = 0;

  while (fgets(line, sizeof line, f)) {
    char *name, *value, *eq;
    const struct option *opt;
    lineno++;
    if (!strchr(line, '\n') && !feof(f)) {
      snprintf(err, errlen, "%s:%d: line longer than %d characters", path, lineno, MAX_LINE - 2);
      return SC_EINVAL;
    }
    name = trim(line);
    if (!*name || *name == '#')
      continue;
    if (!(eq = strchr(name, '='))) {
      snprintf(err, errlen, "%s:%d: want 'name = value', got \"%.80s\"", path, lineno, name);
      return SC_EINVAL;
    }
    *eq = '\0';
    name = trim(name);
    value = trim(eq + 1);
    if (!(opt = find(known, name)) || strcmp(name, "config") == 0 ||
        strcmp(name, "help") == 0) {
      snprintf(err, errlen, "%s:%d: unknown setting '%.80s'", path, lineno, name);
      return SC_EINVAL;
    }
    if (opt->has_arg == no_argument) {
      if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
        snprintf(err, errlen, "%s:%d: '%s' is true or false, not \"%.80s\"", path, lineno, name,
                 value);
        return SC_EINVAL;
      }
      if (strcmp(value, "false") == 0)
        continue;
    } else if (!*value) {
      snprintf(err, errlen, "%s:%d: '%s' needs a value", path, lineno, name);
      return SC_EINVAL;
    }
    snprintf(flag, sizeof flag, "--%s", name);
    if (!push(v, n, cap, flag) || (opt->has_arg != no_argument && !push(v, n, cap, value)))
      return SC_ENOMEM;
    if (*n > origin_n) {
      int *grown = realloc(origin_line, (size_t)(*n + 1) * sizeof *grown);
      if (!grown)
        return SC_ENOMEM;
      for (int i = origin_n; i <= *n; i++)
        grown[i] = 0;
      origin_line = grown;
      origin_n = *n + 1;
    }
    origin_line[*n - 1] = origin_line[*n - (opt->has_arg != no_argument ? 2 : 1)] = lineno;
  }
  if (ferror(f)) {
    snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
    return SC_EIO;
  }
  return 0;
}

int sc_config_argv(int argc, char **argv, const struct option *known, int *out_argc,
                   char ***out_argv, char *err, size_t errlen)
{
  const char *path = config_path(argc, argv);
  char **v = NULL;
  int n = 0, cap = 0, rc;
  FILE *f;

  *out_argv = NULL;
  *out_argc = 0;
  if (!path)
    return 0;
  snprintf(origin_path, sizeof origin_path, "%s", path);
  for (int i = 0; i < origin_n; i++) /* a vector before this one */
    origin_line[i] = 0;
  if (!(f = fopen(path, "r"))) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return SC_EIO;
  }
  rc = push(&v, &n, &cap, argv[0]) ? read_settings(f, path, known, &v, &n, &cap, err, errlen)
                                    : SC_ENOMEM;
  fclose(f);
  for (int i = 1; i < argc && rc == 0; i++)
    if (!push(&v, &n, &cap, argv[i]))
      rc = SC_ENOMEM;
  if (rc == SC_ENOMEM)
    snprintf(err, errlen, "%s: out of memory", path);
  if (rc < 0) {
    sc_config_free(n, v);
    return rc;
  }
  *out_argv = kept_argv = v;
  *out_argc = n;
  return 0;
}

bool sc_config_origin(int index, char *buf, size_t size)
{
  if (index < 0 || index >= origin_n || origin_line[index] == 0)
    return false;
  snprintf(buf, size, "%s:%d", origin_path, origin_line[index]);
  return true;
}

void sc_config_free(int argc, char **argv)
{
  if (argv && argv == kept_argv)
    kept_argv = NULL;
  for (int i = 0; argv && i < argc; i++)
    free(argv[i]);
  free(argv);
}
