/*
 * Preemption and checkpoints at the controller's edge: the entry point a
 * victim chooser (or an operator) calls to take a running job back, the
 * record of a job's last checkpoint, and the task credentials that let a
 * task's own process report one. The state change itself is
 * ctl_state.c's CTL_EV_PREEMPT; design notes in docs/control-plane.md
 * ("Preemption and checkpoints").
 *
 * A task credential is "sct1.<job id>.<attempt>.<HMAC-SHA256 in hex>" of
 * "<job id>.<attempt>" under the controller's task key: nothing is stored
 * per task, it names one attempt of one job, and it is honoured only while
 * a process of that attempt lives (checked by sc_ctl_checkpoint).
 */
#include "server/ctl_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "util/error.h"
#include "util/log.h"

#define TOKEN_PREFIX "sct1."
#define DEFAULT_MAX_GRACE_MS (10 * 60 * 1000)

/* HMAC-SHA256 (RFC 2104) of msg (at most 64 bytes: no allocation, so a
 * start never goes out without its credential) under the 32-byte key. */
static int hmac_sha256(const unsigned char key[32], const char *msg, size_t len,
                       unsigned char mac[32])
{
  unsigned char buf[64 + 64], inner[32];
  int rc;

  if (len > 64)
    return SC_EINVAL;
  memset(buf, 0, 64);
  memcpy(buf, key, 32);
  for (int i = 0; i < 64; i++)
    buf[i] ^= 0x36;
  memcpy(buf + 64, msg, len);
  if ((rc = sc_token_hash((const char *)buf, 64 + len, inner)) < 0)
    return rc;
  memset(buf, 0, 64);
  memcpy(buf, key, 32);
  for (int i = 0; i < 64; i++)
    buf[i] ^= 0x5c;
  memcpy(buf + 64, inner, 32);
  return sc_token_hash((const char *)buf, 64 + 32, mac);
}

/* The hex HMAC of job and attempt into hex (65 bytes); false on failure. */
static bool token_mac(const struct sc_ctl *c, int64_t job, int attempt, char hex[65])
{
  unsigned char mac[32];
  char msg[48];
  int n = snprintf(msg, sizeof msg, "%lld.%d", (long long)job, attempt);

  if (hmac_sha256(c->task_key, msg, (size_t)n, mac) < 0)
    return false;
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", mac[i]);
  return true;
}

void sc_ctl_task_token(struct sc_ctl *c, int64_t job, int attempt, char out[SC_TASK_TOKEN_MAX])
{
  char hex[65];

  if (!token_mac(c, job, attempt, hex)) {
    out[0] = '\0'; /* no credential: the task cannot checkpoint itself */
    return;
  }
  snprintf(out, SC_TASK_TOKEN_MAX, TOKEN_PREFIX "%lld.%d.%s", (long long)job, attempt, hex);
}

int sc_ctl_task_token_check(struct sc_ctl *c, const char *text, int64_t *job, int *attempt)
{
  char hex[65], *end;
  long long id;
  long att;
  unsigned diff = 0;

  *job = 0;
  *attempt = -1;
  if (strncmp(text, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) != 0)
    return SC_EAUTH;
  text += strlen(TOKEN_PREFIX);
  id = strtoll(text, &end, 10);
  if (end == text || *end != '.' || id <= 0)
    return SC_EAUTH;
  text = end + 1;
  att = strtol(text, &end, 10);
  if (end == text || *end != '.' || att < 0 || att > 1000000)
    return SC_EAUTH;
  text = end + 1;
  if (strlen(text) != 64 || !token_mac(c, id, (int)att, hex))
    return SC_EAUTH;
  for (int i = 0; i < 64; i++) /* constant time */
    diff |= (unsigned)(hex[i] ^ text[i]);
  if (diff)
    return SC_EAUTH;
  *job = id;
  *attempt = (int)att;
  return 0;
}

int64_t sc_ctl_max_checkpoint_grace_ms(struct sc_ctl *c)
{
  return c->opts.max_checkpoint_grace_ms;
}

int ctl_preempt_init(struct sc_ctl *c)
{
  char hex[SC_TOKEN_HEX_LEN + 1];
  int rc;

  if (c->opts.max_checkpoint_grace_ms <= 0)
    c->opts.max_checkpoint_grace_ms = DEFAULT_MAX_GRACE_MS;
  if (c->opts.task_key) {
    memcpy(c->task_key, c->opts.task_key, sizeof c->task_key);
    c->opts.task_key = NULL; /* borrowed: not kept */
    return 0;
  }
  /* No key given (tests, embedded use): a random one, so credentials
   * given before a restart are refused after it. */
  rc = sc_token_generate(hex);
  if (rc == 0)
    rc = sc_token_hash(hex, strlen(hex), c->task_key);
  return rc;
}

static bool kind_ok(const char *kind)
{
  return kind && (strcmp(kind, "reclaim") == 0 || strcmp(kind, "priority") == 0 ||
                  strcmp(kind, "operator") == 0);
}

int sc_ctl_preempt(struct sc_ctl *c, int64_t victim, int64_t by, const char *kind)
{
  struct ctl_event_args args = {.attempt = -1, .by = by, .kind = kind ? kind : "operator"};
  struct sc_store_batch *b;
  struct ctl_job *j;
  int rc = 0;

  if (!kind_ok(args.kind) || by < 0)
    return SC_EINVAL;
  if (!(b = sc_store_batch_new()))
    return SC_ENOMEM;
  pthread_mutex_lock(&c->mu);
  j = ctl_job_find(c, victim);
  if (!j)
    rc = SC_ENOENT;
  else if (j->state != SC_JOB_RUNNING)
    rc = SC_ESTATE;
  else
    ctl_job_event(c, j, CTL_EV_PREEMPT, &args, b);
  if (rc == 0)
    c->dirty = c->full = true; /* its devices free up once its processes end */
  return ctl_commit_unlock(c, b, rc);
}

/* Whether a process of j's attempt still lives somewhere (mu held). */
static bool attempt_alive(const struct ctl_job *j, int attempt)
{
  for (int i = 0; i < j->ntasks; i++)
    if (j->tasks[i].alive_node >= 0 && j->tasks[i].alive_attempt == attempt)
      return true;
  return false;
}

/* Whether r may record a checkpoint of j now: 0 or why not (mu held). */
static int checkpoint_allowed(const struct ctl_job *j, const struct sc_checkpoint_req *r)
{
  if (r->tenant && strcmp(j->spec.tenant, r->tenant) != 0)
    return SC_ENOENT;
  if (r->attempt >= 0) /* a task: its own attempt, running or in its grace */
    return (r->attempt == j->attempt && j->state == SC_JOB_RUNNING) ||
               attempt_alive(j, r->attempt)
             ? 0
             : SC_EPERM;
  return j->state == SC_JOB_RUNNING || j->nalive > 0 ? 0 : SC_ESTATE;
}

int sc_ctl_checkpoint(struct sc_ctl *c, const struct sc_checkpoint_req *r, int64_t *at_ms)
{
  struct sc_store_batch *b = sc_store_batch_new();
  struct ctl_job *j;
  int rc;

  *at_ms = 0;
  if (!b)
    return SC_ENOMEM;
  pthread_mutex_lock(&c->mu);
  j = ctl_job_find(c, r->job);
  rc = j ? checkpoint_allowed(j, r) : SC_ENOENT;
  if (rc == 0) {
    j->checkpoint_ms = *at_ms = ctl_wall_ms(c);
    ctl_batch_job_row(c, b, j);
    sc_info("job j-%06lld: checkpoint recorded", (long long)j->id);
  }
  return ctl_commit_unlock(c, b, rc);
}
