/* YAML/JSON job specs to JSON with file:line:column errors (libyaml's
 * document loader, jansson for JSON). */
#include "cli/jobspec.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/error.h"

static int spec_error(char *err, size_t size, const char *name, size_t line, size_t col,
                      const char *msg)
{
  snprintf(err, size, "%s:%zu:%zu: %s", name, line, col, msg);
  return SC_EPARSE;
}

static int parse_json(const char *text, size_t len, const char *name, json_t **out,
                      char *err, size_t size)
{
  json_error_t e;
  json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);

  if (!j)
    return spec_error(err, size, name, (size_t)(e.line > 0 ? e.line : 1),
                      (size_t)(e.column > 0 ? e.column : 1), e.text);
  if (!json_is_object(j)) {
    json_decref(j);
    return spec_error(err, size, name, 1, 1, "a job spec must be an object");
  }
  *out = j;
  return 0;
}

static bool is_int(const char *s)
{
  if (*s == '-' || *s == '+')
    s++;
  if (!*s)
    return false;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s))
      return false;
  return true;
}

static bool is_float(const char *s)
{
  char *end;

  if (!*s || isspace((unsigned char)*s) || !strpbrk(s, "0123456789"))
    return false;
  if (strpbrk(s, "xXnNiI")) /* no hex floats, inf or nan */
    return false;
  errno = 0;
  strtod(s, &end);
  return *end == '\0' && errno == 0;
}

/* A plain scalar as YAML 1.2's core schema reads it. */
static json_t *plain_scalar(const char *s)
{
  static const char *nulls[] = {"", "~", "null", "Null", "NULL"};
  static const char *trues[] = {"true", "True", "TRUE"};
  static const char *falses[] = {"false", "False", "FALSE"};

  for (size_t i = 0; i < 5; i++)
    if (strcmp(s, nulls[i]) == 0)
      return json_null();
  for (size_t i = 0; i < 3; i++) {
    if (strcmp(s, trues[i]) == 0)
      return json_true();
    if (strcmp(s, falses[i]) == 0)
      return json_false();
  }
  if (is_int(s)) {
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    return errno == 0 ? json_integer(v) : json_string(s);
  }
  if (is_float(s))
    return json_real(strtod(s, NULL));
  return json_string(s);
}

/* A spec the controller would take is at most a request body (1 MiB); a
 * YAML alias is expanded each time it is used, so values are counted, not
 * bytes: a "billion laughs" stops at this many. */
#define SPEC_FILE_MAX (1024 * 1024)
#define YAML_VALUES_MAX 100000

struct yconv {
  yaml_document_t *doc;
  const char *name;
  char *err;
  size_t size;
  int depth;
  long values;
  bool strings;  /* under command, args or env: every scalar is a string */
};

/* NULL after an out-of-memory error for node. */
static json_t *oom(struct yconv *c, yaml_node_t *node)
{
  spec_error(c->err, c->size, c->name, node->start_mark.line + 1, node->start_mark.column + 1,
             "out of memory");
  return NULL;
}

static json_t *convert(struct yconv *c, yaml_node_t *node);

static json_t *convert_mapping(struct yconv *c, yaml_node_t *node)
{
  json_t *obj = json_object();

  if (!obj)
    return oom(c, node);
  for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
       obj && p < node->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    json_t *v;
    char msg[256];
    if (!k || k->type != YAML_SCALAR_NODE) {
      spec_error(c->err, c->size, c->name, k ? k->start_mark.line + 1 : 0,
                 k ? k->start_mark.column + 1 : 0, "mapping keys must be strings");
      json_decref(obj);
      return NULL;
    }
    if (json_object_get(obj, (const char *)k->data.scalar.value)) {
      snprintf(msg, sizeof msg, "duplicate key '%s'", (const char *)k->data.scalar.value);
      spec_error(c->err, c->size, c->name, k->start_mark.line + 1, k->start_mark.column + 1,
                 msg);
      json_decref(obj);
      return NULL;
    }
    /* YAML users write `command: [python, train.py, --lr, 0.001]` and
     * `env: {EPOCHS: 3}`: what a process gets is text, so under these keys
     * of the spec a scalar stays the string it was written as. */
    bool was = c->strings;
    const char *key = (const char *)k->data.scalar.value;
    if (c->depth == 1 && (strcmp(key, "command") == 0 || strcmp(key, "args") == 0 ||
                          strcmp(key, "env") == 0))
      c->strings = true;
    v = convert(c, yaml_document_get_node(c->doc, p->value));
    c->strings = was;
    if (!v) {
      json_decref(obj);
      return NULL;
    }
    if (json_object_set_new(obj, (const char *)k->data.scalar.value, v) < 0) {
      json_decref(obj);
      return oom(c, node);
    }
  }
  return obj;
}

static json_t *convert(struct yconv *c, yaml_node_t *node)
{
  json_t *arr;

  if (!node || ++c->depth > 64) {
    spec_error(c->err, c->size, c->name, node ? node->start_mark.line + 1 : 1,
               node ? node->start_mark.column + 1 : 1, "nested too deeply");
    return NULL;
  }
  if (++c->values > YAML_VALUES_MAX) {
    spec_error(c->err, c->size, c->name, node->start_mark.line + 1, node->start_mark.column + 1,
               "more than 100000 values (each use of a YAML alias counts again)");
    return NULL;
  }
  switch (node->type) {
  case YAML_SCALAR_NODE:
    c->depth--;
    arr = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !c->strings
            ? plain_scalar((const char *)node->data.scalar.value)
            : json_stringn((const char *)node->data.scalar.value, node->data.scalar.length);
    return arr ? arr : oom(c, node);
  case YAML_SEQUENCE_NODE:
    if (!(arr = json_array()))
      return oom(c, node);
    for (yaml_node_item_t *i = node->data.sequence.items.start;
         arr && i < node->data.sequence.items.top; i++) {
      json_t *v = convert(c, yaml_document_get_node(c->doc, *i));
      if (!v || json_array_append_new(arr, v) < 0) {
        json_decref(arr);
        return v ? oom(c, node) : NULL;
      }
    }
    c->depth--;
    return arr;
  case YAML_MAPPING_NODE:
    arr = convert_mapping(c, node);
    c->depth--;
    return arr;
  default:
    spec_error(c->err, c->size, c->name, node->start_mark.line + 1,
               node->start_mark.column + 1, "unsupported YAML node");
    return NULL;
  }
}

static int yaml_problem(yaml_parser_t *p, const char *name, char *err, size_t size)
{
  char msg[512];

  if (p->error == YAML_MEMORY_ERROR)
    return spec_error(err, size, name, p->problem_mark.line + 1, p->problem_mark.column + 1,
                      "out of memory");
  if (p->context)
    snprintf(msg, sizeof msg, "%s %s", p->problem ? p->problem : "syntax error", p->context);
  else
    snprintf(msg, sizeof msg, "%s", p->problem ? p->problem : "syntax error");
  return spec_error(err, size, name, p->problem_mark.line + 1, p->problem_mark.column + 1, msg);
}

/* Loads the next document; returns 1 with *doc loaded, 0 at the end of the
 * stream, or SC_EPARSE. */
static int load_doc(yaml_parser_t *p, yaml_document_t *doc, const char *name, char *err,
                    size_t size)
{
  if (!yaml_parser_load(p, doc))
    return yaml_problem(p, name, err, size);
  if (!yaml_document_get_root_node(doc)) {
    yaml_document_delete(doc);
    return 0;
  }
  return 1;
}

static int parse_yaml(const char *text, size_t len, const char *name, json_t **out,
                      char *err, size_t size)
{
  yaml_parser_t parser;
  yaml_document_t doc, extra;
  struct yconv c = {&doc, name, err, size, 0, 0, false};
  yaml_node_t *root;
  int rc;

  yaml_parser_initialize(&parser);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if ((rc = load_doc(&parser, &doc, name, err, size)) <= 0) {
    yaml_parser_delete(&parser);
    return rc < 0 ? rc : spec_error(err, size, name, 1, 1, "empty job spec");
  }
  root = yaml_document_get_root_node(&doc);
  if (root->type != YAML_MAPPING_NODE)
    rc = spec_error(err, size, name, root->start_mark.line + 1, root->start_mark.column + 1,
                    "a job spec must be a mapping of fields");
  else
    rc = (*out = convert(&c, root)) ? 0 : SC_EPARSE;
  yaml_document_delete(&doc);
  if (rc == 0 && (rc = load_doc(&parser, &extra, name, err, size)) != 0) {
    if (rc > 0) {
      yaml_node_t *second = yaml_document_get_root_node(&extra);
      rc = spec_error(err, size, name, second->start_mark.line + 1,
                      second->start_mark.column + 1, "only one YAML document is allowed");
      yaml_document_delete(&extra);
    }
    json_decref(*out);
    *out = NULL;
  }
  yaml_parser_delete(&parser);
  return rc;
}

int sc_jobspec_parse(const char *text, size_t len, const char *name, json_t **out,
                     char *err, size_t size)
{
  size_t i = 0;

  *out = NULL;
  while (i < len && isspace((unsigned char)text[i]))
    i++;
  if (i < len && text[i] == '{')
    return parse_json(text, len, name, out, err, size);
  return parse_yaml(text, len, name, out, err, size);
}

int sc_jobspec_read(const char *path, char **text, size_t *len, char *err, size_t size)
{
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  size_t cap = 4096, n = 0;
  char *buf;

  *text = NULL;
  *len = 0;
  if (!f) {
    snprintf(err, size, "cannot open '%s': %s", path, strerror(errno));
    return SC_EIO;
  }
  buf = malloc(cap);
  while (buf) {
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0)
      break;
    if (n > SPEC_FILE_MAX) {
      snprintf(err, size, "'%s' is larger than 1 MiB, the most the controller takes", path);
      free(buf);
      if (f != stdin)
        fclose(f);
      return SC_EIO;
    }
    if (n + 1 == cap) {
      char *p = realloc(buf, cap * 2);
      if (!p) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = p;
      cap *= 2;
    }
  }
  if (!buf || ferror(f)) {
    snprintf(err, size, "cannot read '%s': %s", path, buf ? strerror(errno) : "too large");
    free(buf);
    if (f != stdin)
      fclose(f);
    return SC_EIO;
  }
  if (f != stdin)
    fclose(f);
  buf[n] = '\0';
  *text = buf;
  *len = n;
  return 0;
}

void sc_jobspec_default_name(const char *argv0, char *buf, size_t size)
{
  const char *base = argv0 ? strrchr(argv0, '/') : NULL;
  size_t n = 0;

  base = base ? base + 1 : argv0 ? argv0 : "";
  for (; *base && !isspace((unsigned char)*base) && n + 1 < size && n < 63; base++)
    buf[n++] = isalnum((unsigned char)*base) || strchr("._-", *base) ? *base : '-';
  buf[n] = '\0';
  if (n == 0)
    snprintf(buf, size, "job");
}
