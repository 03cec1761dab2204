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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/dynlib.h"
#include "util/error.h"
#include "util/log.h"
#include "util/token_file.h"
#include "util/vec.h"

/* The libcrypto functions this file calls, resolved from SC_SONAME_CRYPTO
 * at the first token made or hashed (util/dynlib.h: a CLI process never
 * maps OpenSSL). sc_auth_init loads it, so the lookups may assume it. */
#define CRYPTO_FUNCS(X) X(RAND_bytes) X(EVP_Digest) X(EVP_sha256) X(CRYPTO_memcmp)

static struct {
#define CRYPTO_SLOT(f) __typeof__(f) *f;
  CRYPTO_FUNCS(CRYPTO_SLOT)
#undef CRYPTO_SLOT
} crypto_api;

static const struct sc_dynsym crypto_syms[] = {
#define CRYPTO_SYM(f) {#f, (void **)&crypto_api.f},
  CRYPTO_FUNCS(CRYPTO_SYM)
#undef CRYPTO_SYM
};

#define RAND_bytes (crypto_api.RAND_bytes)
#define EVP_Digest (crypto_api.EVP_Digest)
#define EVP_sha256 (crypto_api.EVP_sha256)
#define CRYPTO_memcmp (crypto_api.CRYPTO_memcmp)

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static int crypto_rc;

static void crypto_load(void)
{
  char err[300];

  if ((crypto_rc = sc_dynlib_open(SC_SONAME_CRYPTO, crypto_syms,
                                  sizeof crypto_syms / sizeof *crypto_syms, err, sizeof err)))
    sc_error("%s", err);
}

static int crypto_ready(void)
{
  pthread_once(&crypto_once, crypto_load);
  return crypto_rc;
}

int sc_token_generate(char out[SC_TOKEN_HEX_LEN + 1])
{
  unsigned char raw[32];

  out[0] = '\0';
  if (crypto_ready() != 0)
    return SC_EIO;
  if (RAND_bytes(raw, sizeof raw) != 1)
    return SC_EIO;
  for (size_t i = 0; i < sizeof raw; i++)
    snprintf(out + 2 * i, 3, "%02x", raw[i]);
  return 0;
}

int sc_token_hash(const char *text, size_t len, unsigned char hash[32])
{
  unsigned int n = 0;

  if (crypto_ready() != 0)
    return SC_EIO;
  if (EVP_Digest(text, len, hash, &n, EVP_sha256(), NULL) != 1 || n != 32)
    return SC_ENOMEM;
  return 0;
}

#define LAST_USED_WRITE_MS 60000 /* a token's last use is stored this often */

/* A known token and when its last use was last written. */
struct auth_token {
  struct sc_token_rec rec;
  int64_t last_written_ms;
};

static int64_t wall_now(const struct sc_auth *a)
{
  return a->wall_ms ? a->wall_ms() : sc_clock_wall_ms();
}

/* The public id of a token: "tk-" and the first 6 bytes of its hash. */
static void token_id(const unsigned char hash[32], char id[SC_STORE_TOKEN_ID_MAX])
{
  snprintf(id, SC_STORE_TOKEN_ID_MAX, "tk-%02x%02x%02x%02x%02x%02x", hash[0], hash[1], hash[2],
           hash[3], hash[4], hash[5]);
}

/* The token with hash or id (mu held), or NULL. */
/* The slot where hash is, or the free one where it would go. The table
 * is keyed by the SHA-256 of the token, never the token itself: how long
 * a probe takes says nothing about a secret (the hash of a random 256-bit
 * token cannot be turned back into it), and the match itself is compared
 * in constant time. O(1) per request, not a scan of every token (10,000
 * nodes each hold a credential). */
static size_t slot_of(const struct sc_auth *a, const unsigned char hash[32])
{
  uint64_t h;
  size_t i;

  memcpy(&h, hash, sizeof h);
  for (i = (size_t)h & (a->nslots - 1);; i = (i + 1) & (a->nslots - 1)) {
    int k = a->slots[i];
    if (k == 0 || CRYPTO_memcmp(a->tokens[k - 1].rec.hash, hash, 32) == 0)
      return i;
  }
}

/* Indexes token k (its hash in tokens[k]); grows the table (rehashing)
 * to stay at most half full: 0 or SC_ENOMEM (unchanged). */
static int index_token(struct sc_auth *a, int k)
{
  if ((size_t)(a->n + 1) * 2 > a->nslots) {
    size_t n = a->nslots ? a->nslots * 2 : 64;
    int *slots = calloc(n, sizeof *slots), *old = a->slots;
    if (!slots)
      return SC_ENOMEM;
    a->slots = slots;
    a->nslots = n;
    for (int i = 0; i < a->n; i++)
      if (i != k)
        a->slots[slot_of(a, a->tokens[i].rec.hash)] = i + 1;
    free(old);
  }
  a->slots[slot_of(a, a->tokens[k].rec.hash)] = k + 1;
  return 0;
}

static struct auth_token *find_hash(struct sc_auth *a, const unsigned char hash[32])
{
  int k;

  if (a->nslots == 0)
    return NULL;
  k = a->slots[slot_of(a, hash)];
  return k > 0 ? &a->tokens[k - 1] : NULL;
}

static struct auth_token *find_id(struct sc_auth *a, const char *id)
{
  for (int i = 0; i < a->n; i++)
    if (strcmp(a->tokens[i].rec.id, id) == 0)
      return &a->tokens[i];
  return NULL;
}

/* Puts rec in memory (replacing the same hash) after it is durable. */
static int remember(struct sc_auth *a, const struct sc_token_rec *rec)
{
  struct auth_token *t = find_hash(a, rec->hash);
  int rc = 0;

  if (!t && (rc = SC_VEC_RESERVE_ONE(a->tokens, a->n, a->cap)) == 0) {
    a->tokens[a->n].rec = *rec;
    if ((rc = index_token(a, a->n)) < 0)
      return rc;
    t = &a->tokens[a->n++];
  }
  if (t) {
    t->rec = *rec;
    t->last_written_ms = rec->last_used_ms;
  }
  return rc;
}

/* Writes the token rows of recs durably. */
static int store_tokens(struct sc_auth *a, const struct sc_token_rec *recs, int n)
{
  struct sc_store_batch *b = sc_store_batch_new();
  int rc;

  for (int i = 0; i < n; i++) {
    struct sc_store_op op = {.kind = SC_STORE_TOKEN_PUT};
    op.u.token = recs[i];
    sc_store_batch_add(b, &op);
  }
  rc = sc_store_write(a->store, b);
  sc_store_batch_free(b);
  return rc;
}

int sc_auth_init(struct sc_auth *a, struct sc_store *store)
{
  struct sc_token_rec *recs;
  int n, rc;

  memset(a, 0, sizeof *a);
  pthread_mutex_init(&a->mu, NULL);
  a->store = store;
  if (crypto_ready() != 0)
    return SC_EIO;
  if (sc_store_token_list(store, &recs, &n) < 0)
    return SC_ESTORE;
  rc = 0;
  for (int i = 0; rc == 0 && i < n; i++) {
    if (!recs[i].id[0]) /* stored before tokens had ids */
      token_id(recs[i].hash, recs[i].id);
    rc = remember(a, &recs[i]);
  }
  free(recs);
  return rc;
}

void sc_auth_release(struct sc_auth *a)
{
  free(a->tokens);
  free(a->slots);
  pthread_mutex_destroy(&a->mu);
  a->tokens = NULL;
  a->slots = NULL;
  a->nslots = 0;
  a->n = a->cap = 0;
}

/* The record of a new token with text as req describes it. */
static int make_rec(struct sc_auth *a, const char *text, const struct sc_token_req *req,
                    struct sc_token_rec *rec)
{
  int rc;

  memset(rec, 0, sizeof *rec);
  if ((rc = sc_token_hash(text, strlen(text), rec->hash)) < 0)
    return rc;
  token_id(rec->hash, rec->id);
  rec->kind = req->kind;
  snprintf(rec->tenant, sizeof rec->tenant, "%s", req->tenant ? req->tenant : "");
  snprintf(rec->node, sizeof rec->node, "%s", req->node ? req->node : "");
  rec->created_ms = wall_now(a);
  rec->expires_ms = req->ttl_ms > 0 ? rec->created_ms + req->ttl_ms : 0;
  return 0;
}

/* Stores the token text as req describes it, then knows it. */
static int register_token(struct sc_auth *a, const char *text, const struct sc_token_req *req,
                          struct sc_token_rec *out)
{
  struct sc_token_rec rec;
  int rc = make_rec(a, text, req, &rec);

  if (rc == 0)
    rc = store_tokens(a, &rec, 1);
  if (rc == 0) {
    pthread_mutex_lock(&a->mu);
    rc = remember(a, &rec);
    pthread_mutex_unlock(&a->mu);
  }
  if (rc == 0 && out)
    *out = rec;
  return rc;
}

int sc_auth_create(struct sc_auth *a, const struct sc_token_req *req,
                   char out[SC_TOKEN_HEX_LEN + 1], struct sc_token_rec *rec)
{
  int rc = sc_token_generate(out);

  if (rc == 0)
    rc = register_token(a, out, req, rec);
  if (rc < 0)
    out[0] = '\0';
  return rc;
}

int sc_auth_node_credential(struct sc_auth *a, const char *node, char out[SC_TOKEN_HEX_LEN + 1])
{
  struct sc_token_req req = {.kind = SC_TOKEN_AGENT, .node = node};
  struct sc_token_rec *old = NULL, rec;
  int n = 0, cap = 0, rc = sc_token_generate(out);

  if (rc == 0)
    rc = make_rec(a, out, &req, &rec);
  pthread_mutex_lock(&a->mu);
  for (int i = 0; rc == 0 && i < a->n; i++) /* (a scan: once per registration) */
    if (a->tokens[i].rec.kind == SC_TOKEN_AGENT && !a->tokens[i].rec.revoked &&
        strcmp(a->tokens[i].rec.node, node) == 0) {
      if ((rc = SC_VEC_RESERVE_ONE(old, n, cap)) < 0)
        break;
      old[n] = a->tokens[i].rec;
      old[n++].revoked = true;
    }
  if (rc == 0)
    rc = SC_VEC_RESERVE_ONE(old, n, cap); /* room for the new one */
  pthread_mutex_unlock(&a->mu);
  if (rc == 0) {
    old[n] = rec; /* the new one and the revocations commit together */
    rc = store_tokens(a, old, n + 1);
  }
  pthread_mutex_lock(&a->mu);
  for (int i = 0; rc == 0 && i <= n; i++)
    rc = remember(a, &old[i]);
  pthread_mutex_unlock(&a->mu);
  free(old);
  if (rc < 0)
    out[0] = '\0';
  return rc;
}

int sc_auth_check(struct sc_auth *a, const char *token, struct sc_principal *who)
{
  unsigned char hash[32];
  struct auth_token *t;
  struct sc_token_rec write;
  int64_t now = wall_now(a);
  bool due = false;
  int rc = SC_EAUTH;

  memset(who, 0, sizeof *who);
  who->kind = -1;
  if (!token || strlen(token) != SC_TOKEN_HEX_LEN ||
      sc_token_hash(token, SC_TOKEN_HEX_LEN, hash) < 0)
    return SC_EAUTH;
  pthread_mutex_lock(&a->mu);
  t = find_hash(a, hash);
  if (t && !t->rec.revoked && (t->rec.expires_ms == 0 || now < t->rec.expires_ms)) {
    who->kind = t->rec.kind;
    memcpy(who->tenant, t->rec.tenant, sizeof who->tenant);
    memcpy(who->node, t->rec.node, sizeof who->node);
    memcpy(who->token_id, t->rec.id, sizeof who->token_id);
    t->rec.last_used_ms = now;
    if (now - t->last_written_ms >= LAST_USED_WRITE_MS) {
      t->last_written_ms = now;
      write = t->rec;
      due = true;
    }
    rc = 0;
  }
  pthread_mutex_unlock(&a->mu);
  if (due && store_tokens(a, &write, 1) < 0)
    sc_warn("token %s: its last use could not be stored", write.id);
  return rc;
}

int sc_auth_list(struct sc_auth *a, struct sc_token_rec **out, int *n)
{
  pthread_mutex_lock(&a->mu);
  *n = a->n;
  *out = calloc((size_t)a->n + 1, sizeof **out);
  for (int i = 0; *out && i < a->n; i++)
    (*out)[i] = a->tokens[i].rec;
  pthread_mutex_unlock(&a->mu);
  if (!*out) {
    *n = 0;
    return SC_ENOMEM;
  }
  return 0;
}

int sc_auth_revoke(struct sc_auth *a, const char *id, struct sc_token_rec *out)
{
  struct auth_token *t;
  struct sc_token_rec rec;
  int rc = 0;

  pthread_mutex_lock(&a->mu);
  t = find_id(a, id);
  if (t) {
    rec = t->rec;
    rec.revoked = true;
  }
  pthread_mutex_unlock(&a->mu);
  if (!t)
    return SC_ENOENT;
  if (store_tokens(a, &rec, 1) < 0)
    return SC_ESTORE;
  pthread_mutex_lock(&a->mu);
  rc = remember(a, &rec); /* revoked only once durable, then at once */
  pthread_mutex_unlock(&a->mu);
  if (out)
    *out = rec;
  return rc;
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

int sc_auth_ensure_file(struct sc_auth *a, const char *file, int kind)
{
  struct sc_token_req req = {.kind = kind};
  char text[SC_TOKEN_HEX_LEN + 1];
  unsigned char hash[32];
  struct auth_token *t = NULL;
  int rc;

  if (read_token_file(file, text) == 0 && sc_token_hash(text, SC_TOKEN_HEX_LEN, hash) == 0) {
    pthread_mutex_lock(&a->mu);
    t = find_hash(a, hash);
    rc = !t ? 1 : t->rec.kind == kind && !t->rec.revoked && t->rec.expires_ms == 0 ? 0 : -1;
    pthread_mutex_unlock(&a->mu);
    if (rc == 0)
      return 0;
    if (rc == 1) { /* a new database: the file's token is known again */
      sc_info("registering the token in '%s' again", file);
      return register_token(a, text, &req, NULL);
    }
    sc_info("the token in '%s' was revoked: writing a new one", file);
  }
  if ((rc = sc_auth_create(a, &req, text, NULL)) < 0)
    return rc;
  rc = sc_token_file_write(file, text);
  if (rc < 0)
    sc_error("cannot write '%s': %s", file, strerror(errno));
  return rc;
}
