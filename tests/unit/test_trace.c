/* OpenB CSV readers: conversion rules and error messages (file:line). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/trace.h"
#include "util/error.h"

static char path[256];

static const char *write_tmp(const char *text)
{
  int fd;
  FILE *f;

  snprintf(path, sizeof path, "/tmp/sc_test_trace_XXXXXX");
  fd = mkstemp(path);
  assert_true(fd >= 0);
  f = fdopen(fd, "w");
  fputs(text, f);
  fclose(f);
  return path;
}

static void expect_pods_error(const char *text, int code, const char *suffix)
{
  struct sc_trace_pods pods;
  char err[512], want[512];
  const char *p = write_tmp(text);

  assert_int_equal(sc_trace_read_pods(p, &pods, err, sizeof err), code);
  assert_int_equal(pods.n, 0);
  snprintf(want, sizeof want, "%s:%s", p, suffix);
  assert_string_equal(err, want);
  unlink(p);
}

static void test_pods_ok(void **state)
{
  struct sc_trace_pods pods;
  char err[256];
  const char *p = write_tmp(
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos\n"
    "a,1000,0,0,500,T4,LS\n"          /* CPU-only: GPU fields dropped */
    "b,2000,100,1,1500,|V100M16||V100M32|,BE\n" /* milli clamped, empties removed */
    "\n"
    "c,3000,200,2,1000,,LS\n");

  (void)state;
  assert_int_equal(sc_trace_read_pods(p, &pods, err, sizeof err), 0);
  assert_int_equal(pods.n, 3);
  assert_int_equal(pods.items[0].gpu_milli, 0);
  assert_string_equal(pods.items[0].spec, "");
  assert_int_equal(pods.items[1].gpu_milli, 1000);
  assert_string_equal(pods.items[1].spec, "V100M16|V100M32");
  assert_int_equal(pods.items[2].num_gpu, 2);
  assert_int_equal(pods.items[2].memory_mib, 200);
  sc_trace_pods_release(&pods);
  unlink(p);
}

static void test_pods_errors(void **state)
{
  (void)state;
  expect_pods_error("name,cpu_milli,memory_mib,num_gpu\nx,1,2,3\n", SC_EPARSE,
                    "1: missing column 'gpu_milli'");
  expect_pods_error("name,cpu_milli,memory_mib,num_gpu,gpu_milli\nx,1,2,1,500\ny,abc,2,1,500\n",
                    SC_EPARSE, "3: bad value for 'cpu_milli': \"abc\"");
  expect_pods_error("name,cpu_milli,memory_mib,num_gpu,gpu_milli\nx,1,2,1\n", SC_EPARSE,
                    "2: missing value for 'gpu_milli'");
  expect_pods_error("name,cpu_milli,memory_mib,num_gpu,gpu_milli\nx,1,-5,1,500\n", SC_ERANGE,
                    "2: value out of range for 'memory_mib': -5");
  expect_pods_error("name,cpu_milli,memory_mib,num_gpu,gpu_milli\nx,1,5,99,500\n", SC_ERANGE,
                    "2: value out of range for 'num_gpu': 99");
  expect_pods_error("", SC_EPARSE, "0: empty file, expected a header");
}

static void test_nodes(void **state)
{
  struct sc_trace_nodes nodes;
  char err[256], want[300];
  const char *p = write_tmp("sn,cpu_milli,memory_mib,gpu,model\nn1,96000,1024,8,G2\nn2,8000,64,0,\n");

  (void)state;
  assert_int_equal(sc_trace_read_nodes(p, &nodes, err, sizeof err), 0);
  assert_int_equal(nodes.n, 2);
  assert_string_equal(nodes.items[0].model, "G2");
  assert_int_equal(nodes.items[1].gpus, 0);
  sc_trace_nodes_release(&nodes);
  unlink(p);
  p = write_tmp("sn,cpu_milli,memory_mib,gpu,model\nn1,96000,1024,8,\n");
  assert_int_equal(sc_trace_read_nodes(p, &nodes, err, sizeof err), SC_EPARSE);
  snprintf(want, sizeof want, "%s:2: node with GPUs needs a 'model'", p);
  assert_string_equal(err, want);
  unlink(p);
  assert_int_equal(sc_trace_read_nodes("/nonexistent/nodes.csv", &nodes, err, sizeof err),
                   SC_EIO);
  assert_string_equal(err, "/nonexistent/nodes.csv: cannot open: No such file or directory");
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_pods_ok),
    cmocka_unit_test(test_pods_errors),
    cmocka_unit_test(test_nodes),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
