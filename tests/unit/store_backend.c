/* Store test fixtures for both backends (see store_backend.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_backend.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool use_pg;
static char cluster[256]; /* the PostgreSQL cluster's directory */
static char dir[256];     /* this test's temporary directory */
static char where[600];
static int schemas;

void tb_parse_args(int *argc, char ***argv)
{
  if (*argc > 1 && strcmp((*argv)[1], "--pg") == 0) {
    use_pg = true;
    (*argv)[1] = (*argv)[0];
    (*argc)--;
    (*argv)++;
  }
}

bool tb_pg(void)
{
  return use_pg;
}

const struct sc_store_ops *tb_ops(void)
{
  return use_pg ? &sc_store_pg : &sc_store_sqlite;
}

/* The cluster's URI, with options (a search_path) or none. */
static void cluster_uri(char *buf, size_t size, const char *schema)
{
  snprintf(buf, size, "postgresql:///postgres?host=%s&port=5432&user=supercell%s%s", cluster,
           schema ? "&options=-csearch_path%3D" : "", schema ? schema : "");
}

int tb_group_setup(void **state)
{
  char cmd[512];
  FILE *out;

  (void)state;
  if (!use_pg)
    return 0;
  /* The watcher stops the cluster if this process dies before teardown. */
  snprintf(cmd, sizeof cmd, "bash '%s/e2e/lib/pg_cluster.sh' start --watch %d", SC_TEST_DIR,
           (int)getpid());
  if (!(out = popen(cmd, "r")) || !fgets(cluster, sizeof cluster, out)) {
    fprintf(stderr, "FAIL: cannot start a PostgreSQL cluster (tests/e2e/lib/pg_cluster.sh"
                    " said why above)\n");
    if (out)
      pclose(out);
    cluster[0] = '\0';
    return -1;
  }
  cluster[strcspn(cluster, "\n")] = '\0';
  return pclose(out) == 0 ? 0 : -1;
}

int tb_group_teardown(void **state)
{
  char cmd[512];

  (void)state;
  if (!use_pg || !cluster[0])
    return 0;
  snprintf(cmd, sizeof cmd, "bash '%s/e2e/lib/pg_cluster.sh' stop '%s'", SC_TEST_DIR,
           cluster);
  return system(cmd) == 0 ? 0 : -1;
}

static PGconn *connect_raw(void)
{
  char uri[600];
  PGconn *c;

  cluster_uri(uri, sizeof uri, NULL);
  c = PQconnectdb(uri);
  if (PQstatus(c) != CONNECTION_OK)
    fail_msg("cannot connect to %s: %s", uri, PQerrorMessage(c));
  return c;
}

/* Runs sql on c (in the test's schema when there is one). */
static PGresult *run_raw(PGconn *c, const char *sql)
{
  char set[80];
  PGresult *r;

  snprintf(set, sizeof set, "SET search_path TO t%d", schemas);
  PQclear(PQexec(c, set));
  r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
    fail_msg("%s: %s", sql, PQresultErrorMessage(r));
  return r;
}

int tb_setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/sc-test-store-XXXXXX");
  assert_non_null(mkdtemp(dir));
  if (use_pg) {
    char schema[32], sql[64];
    PGconn *c = connect_raw();
    snprintf(schema, sizeof schema, "t%d", ++schemas);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    PQclear(run_raw(c, sql));
    PQfinish(c);
    cluster_uri(where, sizeof where, schema);
    return 0;
  }
  snprintf(where, sizeof where, "%s/supercell.db", dir);
  return 0;
}

int tb_teardown(void **state)
{
  char cmd[400];

  (void)state; /* a PostgreSQL schema goes with the cluster */
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

const char *tb_dir(void)
{
  return dir;
}

const char *tb_where(void)
{
  return where;
}

struct sc_store *tb_open(void)
{
  struct sc_store *s = NULL;

  assert_int_equal(sc_store_open(tb_ops(), where, &s), 0);
  assert_non_null(s);
  return s;
}

char *tb_query_text(const char *sql)
{
  char *text = NULL;

  if (use_pg) {
    PGconn *c = connect_raw();
    PGresult *r = run_raw(c, sql);
    if (PQntuples(r) > 0)
      text = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
  } else {
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(where, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
      text = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  return text;
}

void tb_exec(const char *sql)
{
  if (use_pg) {
    PGconn *c = connect_raw();
    PQclear(run_raw(c, sql));
    PQfinish(c);
  } else {
    sqlite3 *db;
    assert_int_equal(sqlite3_open(where, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
  }
}
