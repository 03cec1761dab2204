/*
 * The backend a store test runs against, so one suite covers both: SQLite
 * (a database file in a temporary directory per test) or, with --pg,
 * PostgreSQL (a private cluster started once per run by
 * tests/e2e/lib/pg_cluster.sh, a fresh schema per test).
 */
#ifndef SC_TEST_STORE_BACKEND_H
#define SC_TEST_STORE_BACKEND_H

#include <stdbool.h>

#include "store/store.h"

/* Takes a leading --pg off the arguments (then PostgreSQL). */
void tb_parse_args(int *argc, char ***argv);
bool tb_pg(void);
const struct sc_store_ops *tb_ops(void);
/* cmocka group fixtures: start and stop the cluster (PostgreSQL only; a
 * missing server fails the run, saying so). */
int tb_group_setup(void **state);
int tb_group_teardown(void **state);
/* cmocka test fixtures: a fresh, empty place for the test's store. */
int tb_setup(void **state);
int tb_teardown(void **state);
/* The current test's temporary directory (removed by tb_teardown). */
const char *tb_dir(void);
/* Where the current test's store lives: a file path or a libpq URI. */
const char *tb_where(void);
/* Opens the current test's store (asserting success). */
struct sc_store *tb_open(void);
/* Behind the store's back: the first column of the first row of sql in
 * the current test's database (malloc'd; NULL when no row). */
char *tb_query_text(const char *sql);
/* Runs sql there (asserting success). */
void tb_exec(const char *sql);

#endif
