/*
 * Tokens: SHA-256 hashing, creation and lookup by kind and tenant, token
 * files written 0600 and reused across restarts (and re-registered when
 * the database is new), on a real SQLite store in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/auth.h"
#include "util/error.h"

static char dir[128];

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/sc-test-auth-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
  char cmd[200];

  (void)state;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static struct sc_store *open_store(const char *name)
{
  char path[256];
  struct sc_store *s;

  snprintf(path, sizeof path, "%s/%s", dir, name);
  assert_int_equal(sc_store_open(&sc_store_sqlite, path, &s), 0);
  return s;
}

static void test_hash_vector(void **state)
{
  unsigned char hash[32];
  char hex[65];

  (void)state;
  assert_int_equal(sc_token_hash("abc", 3, hash), 0);
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", hash[i]);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_generate(void **state)
{
  char a[SC_TOKEN_HEX_LEN + 1], b[SC_TOKEN_HEX_LEN + 1];

  (void)state;
  assert_int_equal(sc_token_generate(a), 0);
  assert_int_equal(sc_token_generate(b), 0);
  assert_int_equal(strlen(a), 64);
  assert_int_equal(strspn(a, "0123456789abcdef"), 64);
  assert_string_not_equal(a, b);
}

static void test_create_and_check(void **state)
{
  struct sc_store *s = open_store("db");
  struct sc_auth auth, again;
  struct sc_principal who;
  char user[SC_TOKEN_HEX_LEN + 1], agent[SC_TOKEN_HEX_LEN + 1];

  (void)state;
  assert_int_equal(sc_auth_init(&auth, s), 0);
  assert_int_equal(sc_auth_create(&auth, &(struct sc_token_req){SC_TOKEN_USER, "acme", NULL, 0},
                                  user, NULL), 0);
  assert_int_equal(sc_auth_create(&auth, &(struct sc_token_req){SC_TOKEN_AGENT, NULL, "n1", 0},
                                  agent, NULL), 0);
  assert_int_equal(sc_auth_check(&auth, user, &who), 0);
  assert_int_equal(who.kind, SC_TOKEN_USER);
  assert_string_equal(who.tenant, "acme");
  assert_int_equal(sc_auth_check(&auth, agent, &who), 0);
  assert_int_equal(who.kind, SC_TOKEN_AGENT);
  assert_string_equal(who.node, "n1");
  assert_int_equal(strlen(who.token_id), 15);
  user[0] = user[0] == 'a' ? 'b' : 'a';
  assert_int_equal(sc_auth_check(&auth, user, &who), SC_EAUTH);
  assert_int_equal(who.kind, -1);
  assert_int_equal(sc_auth_check(&auth, "short", &who), SC_EAUTH);
  assert_int_equal(sc_auth_check(&auth, NULL, &who), SC_EAUTH);
  /* Hashes persist: a new auth over the same store knows the agent token. */
  assert_int_equal(sc_auth_init(&again, s), 0);
  assert_int_equal(sc_auth_check(&again, agent, &who), 0);
  assert_int_equal(who.kind, SC_TOKEN_AGENT);
  sc_auth_release(&again);
  sc_auth_release(&auth);
  sc_store_close(s);
}

static void read_file(const char *path, char *buf, size_t size)
{
  FILE *f = fopen(path, "r");
  size_t n;

  assert_non_null(f);
  n = fread(buf, 1, size - 1, f);
  buf[n] = '\0';
  fclose(f);
}

static void test_token_files(void **state)
{
  struct sc_store *s = open_store("db");
  struct sc_auth auth;
  struct sc_principal who;
  char path[256], first[128], second[128];
  struct stat st;

  (void)state;
  snprintf(path, sizeof path, "%s/admin.token", dir);
  assert_int_equal(sc_auth_init(&auth, s), 0);
  assert_int_equal(sc_auth_ensure_file(&auth, path, SC_TOKEN_ADMIN), 0);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  read_file(path, first, sizeof first);
  assert_int_equal(strlen(first), 65); /* 64 hex and a newline */
  first[64] = '\0';
  assert_int_equal(sc_auth_check(&auth, first, &who), 0);
  assert_int_equal(who.kind, SC_TOKEN_ADMIN);
  /* A second start keeps the file. */
  assert_int_equal(sc_auth_ensure_file(&auth, path, SC_TOKEN_ADMIN), 0);
  read_file(path, second, sizeof second);
  second[64] = '\0';
  assert_string_equal(first, second);
  sc_auth_release(&auth);
  sc_store_close(s);
  /* A fresh database registers the existing file's token again. */
  s = open_store("db2");
  assert_int_equal(sc_auth_init(&auth, s), 0);
  assert_int_equal(sc_auth_check(&auth, first, &who), SC_EAUTH);
  assert_int_equal(sc_auth_ensure_file(&auth, path, SC_TOKEN_ADMIN), 0);
  assert_int_equal(sc_auth_check(&auth, first, &who), 0);
  assert_int_equal(who.kind, SC_TOKEN_ADMIN);
  /* A revoked token in the file is replaced by a new one. */
  assert_int_equal(sc_auth_revoke(&auth, who.token_id, NULL), 0);
  assert_int_equal(sc_auth_ensure_file(&auth, path, SC_TOKEN_ADMIN), 0);
  read_file(path, second, sizeof second);
  second[64] = '\0';
  assert_string_not_equal(first, second);
  assert_int_equal(sc_auth_check(&auth, second, &who), 0);
  sc_auth_release(&auth);
  sc_store_close(s);
}

static int64_t fake_now_ms = 1000000;

static int64_t fake_wall(void)
{
  return fake_now_ms;
}

/* Revocation takes effect at once and survives a restart; an expired token
 * gets SC_EAUTH; a node has one credential at a time; the list shows ids,
 * never text. */
static void test_lifecycle(void **state)
{
  struct sc_store *s = open_store("db");
  struct sc_auth auth, again;
  struct sc_principal who;
  struct sc_token_rec *list, rec;
  char user[SC_TOKEN_HEX_LEN + 1], shortlived[SC_TOKEN_HEX_LEN + 1];
  char cred1[SC_TOKEN_HEX_LEN + 1], cred2[SC_TOKEN_HEX_LEN + 1];
  int n;

  (void)state;
  assert_int_equal(sc_auth_init(&auth, s), 0);
  auth.wall_ms = fake_wall;
  assert_int_equal(sc_auth_create(&auth, &(struct sc_token_req){SC_TOKEN_USER, "a", NULL, 0},
                                  user, &rec), 0);
  assert_int_equal(rec.expires_ms, 0);
  assert_int_equal(sc_auth_create(&auth, &(struct sc_token_req){SC_TOKEN_USER, "b", NULL, 60000},
                                  shortlived, &rec), 0);
  assert_int_equal(rec.expires_ms, fake_now_ms + 60000);
  assert_int_equal(sc_auth_check(&auth, shortlived, &who), 0);
  fake_now_ms += 60000; /* the ttl has passed */
  assert_int_equal(sc_auth_check(&auth, shortlived, &who), SC_EAUTH);
  /* Revoke the user token: refused at once, and after a restart. */
  assert_int_equal(sc_auth_check(&auth, user, &who), 0);
  assert_int_equal(sc_auth_revoke(&auth, who.token_id, &rec), 0);
  assert_true(rec.revoked);
  assert_int_equal(sc_auth_check(&auth, user, &who), SC_EAUTH);
  assert_int_equal(sc_auth_revoke(&auth, "tk-000000000000", NULL), SC_ENOENT);
  assert_int_equal(sc_auth_init(&again, s), 0);
  assert_int_equal(sc_auth_check(&again, user, &who), SC_EAUTH);
  sc_auth_release(&again);
  /* A node's new credential revokes its old one. */
  assert_int_equal(sc_auth_node_credential(&auth, "gpu-1", cred1), 0);
  assert_int_equal(sc_auth_check(&auth, cred1, &who), 0);
  assert_string_equal(who.node, "gpu-1");
  assert_int_equal(sc_auth_node_credential(&auth, "gpu-1", cred2), 0);
  assert_int_equal(sc_auth_check(&auth, cred1, &who), SC_EAUTH);
  assert_int_equal(sc_auth_check(&auth, cred2, &who), 0);
  /* The list: ids, kinds, bindings, last use; the text nowhere. */
  assert_int_equal(sc_auth_list(&auth, &list, &n), 0);
  assert_int_equal(n, 4);
  for (int i = 0; i < n; i++) {
    assert_int_equal(strncmp(list[i].id, "tk-", 3), 0);
    assert_null(strstr(list[i].id, user));
  }
  assert_int_equal(list[3].kind, SC_TOKEN_AGENT);
  assert_string_equal(list[3].node, "gpu-1");
  assert_int_equal(list[3].last_used_ms, fake_now_ms);
  assert_true(list[2].revoked);
  free(list);
  sc_auth_release(&auth);
  sc_store_close(s);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hash_vector),
    cmocka_unit_test(test_generate),
    cmocka_unit_test_setup_teardown(test_create_and_check, setup, teardown),
    cmocka_unit_test_setup_teardown(test_token_files, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
  };
  return SC_RUN_TESTS(argc, argv, tests, NULL, NULL);
}
