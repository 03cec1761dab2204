/*
 * Test-file entry: runs the whole cmocka group, or only the test named by
 * the first argument. CTest registers one entry per test (tests/CMakeLists
 * reads the names from the source), so a failure names its test.
 */
#ifndef SC_TEST_RUNNER_H
#define SC_TEST_RUNNER_H

#define SC_RUN_TESTS(argc, argv, tests, setup, teardown)                     \
  ((argc) > 1 ? cmocka_set_test_filter((argv)[1]) : (void)0,                \
   cmocka_run_group_tests(tests, setup, teardown))

#endif
