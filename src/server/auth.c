/*
 * Token creation, hashing and lookup. The plain token exists only in the
 * caller's hands and in the 0600 token files; the store and memory hold
 * SHA-256 hashes, compared with CRYPTO_memcmp so timing leaks nothing.
 */
#include "server/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/vec.h"

int sc_token_generate(char out[SC_TOKEN_HEX_LEN + 1])
{
  unsigned char raw[32];

  out[0] = '\0';
  if (RAND_bytes(raw, sizeof raw) != 1)
    return SC_EIO;
  for (size_t i = 0; i < sizeof raw; i++)
    snprintf(out + 2 * i, 3, "%02x", raw[i]);
  return 0;
}

int sc_token_hash(const char *text, size_t len, unsigned char hash[32])
{
  unsigned int n = 0;

  if (EVP_Digest(text, len, hash, &n, EVP_sha256(), NULL) != 1 || n != 32)
    return SC_ENOMEM;
  return 0;
}

static int remember(struct sc_auth *a, const struct sc_token_rec *t)
{
  int rc = SC_VEC_RESERVE_ONE(a->tokens, a->n, a->cap);

  if (rc == 0)
    a->tokens[a->n++] = *t;
  return rc;
}

int sc_auth_init(struct sc_auth *a, struct sc_store *store)
{
  memset(a, 0, sizeof *a);
  pthread_mutex_init(&a->mu, NULL);
  a->store = store;
  return sc_store_token_list(store, &a->tokens, &a->n) < 0 ? SC_ESTORE
                                                          : (a->cap = a->n, 0);
}

void sc_auth_release(struct sc_auth *a)
{
  free(a->tokens);
  pthread_mutex_destroy(&a->mu);
  a->tokens = NULL;
  a->n = a->cap = 0;
}

/* Stores the hash of text as a token of kind for tenant. */
static int register_token(struct sc_auth *a, const char *text, int kind, const char *tenant)
{
  struct sc_store_op op = {.kind = SC_STORE_TOKEN_PUT};
  struct sc_store_batch *b;
  int rc;

  if ((rc = sc_token_hash(text, strlen(text), op.u.token.hash)) < 0)
    return rc;
  op.u.token.kind = kind;
  snprintf(op.u.token.tenant, sizeof op.u.token.tenant, "%s", tenant ? tenant : "");
  op.u.token.created_ms = sc_clock_wall_ms();
  b = sc_store_batch_new();
  sc_store_batch_add(b, &op);
  rc = sc_store_write(a->store, b);
  sc_store_batch_free(b);
  if (rc == 0) {
    pthread_mutex_lock(&a->mu);
    rc = remember(a, &op.u.token);
    pthread_mutex_unlock(&a->mu);
  }
  return rc;
}

int sc_auth_create(struct sc_auth *a, int kind, const char *tenant,
                   char out[SC_TOKEN_HEX_LEN + 1])
{
  int rc = sc_token_generate(out);

  if (rc == 0)
    rc = register_token(a, out, kind, tenant);
  if (rc < 0)
    out[0] = '\0';
  return rc;
}

int sc_auth_check(struct sc_auth *a, const char *token, struct sc_principal *who)
{
  unsigned char hash[32];
  int found = -1;

  memset(who, 0, sizeof *who);
  who->kind = -1;
  if (!token || strlen(token) != SC_TOKEN_HEX_LEN ||
      sc_token_hash(token, SC_TOKEN_HEX_LEN, hash) < 0)
    return SC_EAUTH;
  pthread_mutex_lock(&a->mu);
  for (int i = 0; i < a->n; i++)
    if (CRYPTO_memcmp(a->tokens[i].hash, hash, sizeof hash) == 0)
      found = i;
  if (found >= 0) {
    who->kind = a->tokens[found].kind;
    memcpy(who->tenant, a->tokens[found].tenant, sizeof who->tenant);
  }
  pthread_mutex_unlock(&a->mu);
  return found >= 0 ? 0 : SC_EAUTH;
}

/* Reads a token file; returns 0 with the text in out or SC_ENOENT. */
static int read_token_file(const char *file, char out[SC_TOKEN_HEX_LEN + 1])
{
  FILE *f = fopen(file, "r");
  size_t n;

  out[0] = '\0';
  if (!f)
    return SC_ENOENT;
  n = fread(out, 1, SC_TOKEN_HEX_LEN, f);
  fclose(f);
  out[n] = '\0';
  if (n != SC_TOKEN_HEX_LEN || strspn(out, "0123456789abcdef") != SC_TOKEN_HEX_LEN) {
    out[0] = '\0';
    return SC_ENOENT;
  }
  return 0;
}

/* Writes text to file with mode 0600 via a temporary file and rename. */
static int write_token_file(const char *file, const char *text)
{
  char tmp[4096];
  int fd, ok;

  snprintf(tmp, sizeof tmp, "%s.tmp", file);
  unlink(tmp);
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0)
    return SC_EIO;
  ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text) && write(fd, "\n", 1) == 1 &&
       fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, file) < 0) {
    unlink(tmp);
    return SC_EIO;
  }
  return 0;
}

int sc_auth_ensure_file(struct sc_auth *a, const char *file, int kind)
{
  char text[SC_TOKEN_HEX_LEN + 1];
  struct sc_principal who;
  int rc;

  if (read_token_file(file, text) == 0) {
    if (sc_auth_check(a, text, &who) == 0 && who.kind == kind)
      return 0;
    sc_info("registering the token in '%s' again", file);
    return register_token(a, text, kind, "");
  }
  if ((rc = sc_auth_create(a, kind, "", text)) < 0)
    return rc;
  rc = write_token_file(file, text);
  if (rc < 0)
    sc_error("cannot write '%s': %s", file, strerror(errno));
  return rc;
}
