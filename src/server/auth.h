/*
 * Bearer tokens: random 32-byte values written as hex, stored only as
 * SHA-256 hashes (libcrypto) and compared in constant time. Each token has
 * a public id ("tk-" and 12 hex digits of its hash), a kind, a tenant (user
 * tokens), a node (agent tokens bound to one node; an agent token bound to
 * none is a bootstrap token that may only register, and gets the node's
 * own credential back), an optional expiry and a revoked flag. The known
 * tokens are kept in memory (loaded from the store at start); every change
 * is durable before it takes effect.
 */
#ifndef SC_SERVER_AUTH_H
#define SC_SERVER_AUTH_H

#include <pthread.h>
#include <stddef.h>

#include "store/store.h"

#define SC_TOKEN_HEX_LEN 64

struct auth_token;

struct sc_auth {
  pthread_mutex_t mu;
  struct auth_token *tokens;
  int n, cap;
  int *slots;               /* open addressing by hash: token index + 1, 0 free */
  size_t nslots;            /* a power of two, at least 2 n */
  struct sc_store *store;   /* borrowed */
  int64_t (*wall_ms)(void); /* the wall clock (expiry, last use); NULL: the system's */
};

/* The kind of a principal that presented a task credential (no stored
 * token: see server/ctl_preempt.c); only routes that name it take one. */
#define SC_PRINCIPAL_TASK SC_TOKEN_NKINDS

/* Who a request is: the token's kind (enum sc_token_kind, or
 * SC_PRINCIPAL_TASK), tenant (user tokens), node (node-bound agent
 * tokens, "" otherwise) and id; a task credential's job and attempt. */
struct sc_principal {
  int kind;
  char tenant[SC_STORE_TENANT_MAX];
  char node[SC_STORE_NODE_MAX];
  char token_id[SC_STORE_TOKEN_ID_MAX];
  int64_t task_job;
  int task_attempt;
};

/* What to create. */
struct sc_token_req {
  int kind;
  const char *tenant;       /* user tokens; NULL/"" otherwise */
  const char *node;         /* agent tokens: bind to this node; NULL/"" = bootstrap */
  int64_t ttl_ms;           /* 0 = never expires */
};

/* Loads the tokens of store into a. Returns 0 or an SC_E* code. */
int sc_auth_init(struct sc_auth *a, struct sc_store *store);
void sc_auth_release(struct sc_auth *a);

/* Writes a fresh random token (64 hex characters and a NUL) into out. */
int sc_token_generate(char out[SC_TOKEN_HEX_LEN + 1]);

/* SHA-256 of text. Returns 0 or SC_ENOMEM. */
int sc_token_hash(const char *text, size_t len, unsigned char hash[32]);

/*
 * Creates a token as req says, stores it durably and writes its text into
 * out (and its record into rec when not NULL). Returns 0 or an SC_E* code.
 */
int sc_auth_create(struct sc_auth *a, const struct sc_token_req *req,
                   char out[SC_TOKEN_HEX_LEN + 1], struct sc_token_rec *rec);

/*
 * Creates the credential of node (an agent token bound to it) and revokes
 * the node's earlier credentials: a node has one at a time. Used when a
 * bootstrap token registers a node.
 */
int sc_auth_node_credential(struct sc_auth *a, const char *node, char out[SC_TOKEN_HEX_LEN + 1]);

/* Looks up a presented token (constant-time comparison). Returns 0 and
 * fills who, or SC_EAUTH for an unknown, revoked or expired token. Notes
 * the use (written to the store at most once a minute per token). */
int sc_auth_check(struct sc_auth *a, const char *token, struct sc_principal *who);

/* Copies the tokens (never their text) into *out (caller frees). */
int sc_auth_list(struct sc_auth *a, struct sc_token_rec **out, int *n);

/* Revokes token id at once (durably); out (may be NULL) gets its record.
 * Returns 0, SC_ENOENT or SC_ESTORE. Revoking twice is not an error. */
int sc_auth_revoke(struct sc_auth *a, const char *id, struct sc_token_rec *out);

/*
 * Makes sure file (in a state directory) holds a valid token of kind that
 * the store knows: reuses the file's token (registering its hash again if
 * the database is new) or, when it has none or it was revoked or expired,
 * creates one and writes it with mode 0600.
 */
int sc_auth_ensure_file(struct sc_auth *a, const char *file, int kind);

#endif
