/* Flags from a file (util/config.h): the settings become flags ahead of
 * the command line's, names are checked against the getopt table, errors
 * name FILE:LINE, and an allocation failure leaves nothing behind. */
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "runner.h"

#include "failalloc.h"
#include "util/config.h"
#include "util/error.h"

static const struct option table[] = {
  {"listen", required_argument, NULL, 'l'}, {"label", required_argument, NULL, 'L'},
  {"quiet", no_argument, NULL, 'q'},        {"config", required_argument, NULL, 'C'},
  {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
};

static char path[64];

static void write_file(const char *text)
{
  FILE *f;

  snprintf(path, sizeof path, "/tmp/sc-test-config-%d.conf", (int)getpid());
  f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int parse(int argc, char **argv, int *n, char ***v, char *err, size_t size)
{
  return sc_config_argv(argc, argv, table, n, v, err, size);
}

/* "listen = a:1" / comment / blank / "label = x=1" (the first '=' splits)
 * / "quiet = true" / "label=y" (no spaces) / "quiet = false" (left out),
 * then the command line "--listen b:2": the vector is argv[0], the file's
 * five flags and values in order, then the command line, so getopt sees
 * b:2 last and it wins. */
static void test_settings_then_command_line(void **state)
{
  char *argv[] = {"supercell", "--config", path, "--listen", "b:2", NULL};
  const char *want[] = {"supercell", "--listen", "a:1", "--label", "x=1", "--quiet", "--label",
                        "y", "--config", path, "--listen", "b:2"};
  char err[256], **v, where[300];
  int n;

  (void)state;
  write_file("listen = a:1\n# a comment\n\n  label = x=1  \nquiet = true\nlabel=y\n"
             "quiet = false\n");
  assert_int_equal(parse(5, argv, &n, &v, err, sizeof err), 0);
  assert_int_equal(n, 12);
  for (int i = 0; i < n; i++)
    assert_string_equal(v[i], want[i]);
  assert_null(v[n]);
  /* Where each came from: the values' lines, nothing for the command line. */
  assert_true(sc_config_origin(2, where, sizeof where));
  assert_true(strstr(where, ":1") != NULL);
  assert_true(sc_config_origin(4, where, sizeof where));
  assert_true(strstr(where, ":4") != NULL);
  assert_true(sc_config_origin(7, where, sizeof where));
  assert_true(strstr(where, ":6") != NULL);
  assert_false(sc_config_origin(11, where, sizeof where));
  sc_config_free(n, v);
  unlink(path);
}

static void test_no_config_no_vector(void **state)
{
  char *argv[] = {"supercell", "--listen", "a:1", NULL};
  char err[64], **v;
  int n;

  (void)state;
  assert_int_equal(parse(3, argv, &n, &v, err, sizeof err), 0);
  assert_null(v);
  assert_int_equal(n, 0);
}

/* Each bad file: its error, with the line. */
static void test_errors_name_file_and_line(void **state)
{
  static const struct {
    const char *text, *want;
  } cases[] = {
    {"listen = a:1\nport = 9\n", ":2: unknown setting 'port'"},
    {"listen a:1\n", ":1: want 'name = value', got \"listen a:1\""},
    {"\n\nlisten =\n", ":3: 'listen' needs a value"},
    {"quiet = yes\n", ":1: 'quiet' is true or false, not \"yes\""},
    {"config = other.conf\n", ":1: unknown setting 'config'"},
    {"help = true\n", ":1: unknown setting 'help'"},
  };
  char *argv[] = {"supercell", "--config", path, NULL};
  char err[256], **v;
  int n;

  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    write_file(cases[i].text);
    assert_int_equal(parse(3, argv, &n, &v, err, sizeof err), SC_EINVAL);
    assert_null(v);
    assert_true(strncmp(err, path, strlen(path)) == 0);
    assert_string_equal(err + strlen(path), cases[i].want);
  }
  unlink(path);
  argv[2] = "/nonexistent/sc.conf";
  assert_int_equal(parse(3, argv, &n, &v, err, sizeof err), SC_EIO);
  assert_string_equal(err, "/nonexistent/sc.conf: No such file or directory");
}

/* --config=FILE works as well; every allocation failing in turn gives
 * SC_ENOMEM and no leak (the sanitizer build checks), then it succeeds. */
static void test_out_of_memory(void **state)
{
  char arg[100], *argv[] = {"supercell", arg, "--quiet", NULL};
  char err[256], **v;
  int n, rc = SC_ENOMEM;

  (void)state;
  write_file("listen = a:1\nlabel = b\nlabel = c\n");
  snprintf(arg, sizeof arg, "--config=%s", path);
  for (long k = 0; rc == SC_ENOMEM && k < 100; k++) {
    fa_fail_after(k, 0);
    rc = parse(3, argv, &n, &v, err, sizeof err);
    fa_off();
    if (rc == SC_ENOMEM)
      assert_null(v);
  }
  assert_int_equal(rc, 0);
  assert_int_equal(n, 9);
  assert_string_equal(v[7], arg);
  assert_string_equal(v[8], "--quiet");
  sc_config_free(n, v);
  unlink(path);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_settings_then_command_line),
    cmocka_unit_test(test_no_config_no_vector),
    cmocka_unit_test(test_errors_name_file_and_line),
    cmocka_unit_test(test_out_of_memory),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
