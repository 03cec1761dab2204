/*
 * Bearer tokens: random 32-byte values written as hex, stored only as
 * SHA-256 hashes (libcrypto) and compared in constant time. Keeps the known
 * hashes in memory (loaded from the store at start) and creates the admin
 * and agent token files of a state directory.
 */
#ifndef SC_SERVER_AUTH_H
#define SC_SERVER_AUTH_H

#include <pthread.h>
#include <stddef.h>

#include "store/store.h"

#define SC_TOKEN_HEX_LEN 64

struct sc_auth {
  pthread_mutex_t mu;
  struct sc_token_rec *tokens;
  int n, cap;
  struct sc_store *store;   /* borrowed */
};

/* Who a request is: kind (enum sc_token_kind) and tenant for user tokens. */
struct sc_principal {
  int kind;
  char tenant[SC_STORE_TENANT_MAX];
};

/* Loads the token hashes of store into a. Returns 0 or an SC_E* code. */
int sc_auth_init(struct sc_auth *a, struct sc_store *store);
void sc_auth_release(struct sc_auth *a);

/* Writes a fresh random token (64 hex characters and a NUL) into out. */
int sc_token_generate(char out[SC_TOKEN_HEX_LEN + 1]);

/* SHA-256 of text. Returns 0 or SC_ENOMEM. */
int sc_token_hash(const char *text, size_t len, unsigned char hash[32]);

/*
 * Creates a token of kind for tenant, stores its hash durably and writes
 * the text into out. Returns 0 or an SC_E* code.
 */
int sc_auth_create(struct sc_auth *a, int kind, const char *tenant,
                   char out[SC_TOKEN_HEX_LEN + 1]);

/* Looks up a presented token (constant-time comparison). Returns 0 and
 * fills who, or SC_EAUTH. */
int sc_auth_check(struct sc_auth *a, const char *token, struct sc_principal *who);

/*
 * Makes sure file (in a state directory) holds a valid token of kind that
 * the store knows: reuses the file's token (registering its hash again if
 * the database is new) or creates one and writes it with mode 0600.
 */
int sc_auth_ensure_file(struct sc_auth *a, const char *file, int kind);

#endif
