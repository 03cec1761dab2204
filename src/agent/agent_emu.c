/*
 * The emulated nodes, all in one libevent loop on one thread. Each node
 * registers (a window of registrations at a time, so heartbeats of the
 * registered ones are not queued behind thousands), heartbeats on a timer
 * whose phase is spread over the interval by its index, holds one
 * long-poll on a connection of its own, and sends its log lines and
 * statuses one request at a time. What each outcome means follows the
 * real agent (agent.c): unreachable or unknown, register again; a refused
 * report is dropped. docs/emulation.md.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "agent/agent_emu_int.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define POLL_WAIT_S 25
#define STATUS_BATCH 128
#define BACKOFF_MAX_MS 5000
#define RETRY_MS 1000
#define STOP_REPORT_MS 2000
#define HOUSEKEEPING_MS 100
#define SUMMARY_MS 5000

static const char *node_name(const struct emu_node *node)
{
  return node->emu->cfg->plan->nodes[node->index].name;
}

/* The node's own credential once it has one, else the configured token. */
static const char *node_auth(const struct emu_node *node)
{
  return node->credential ? node->credential : node->emu->cfg->token;
}

static void after_ms(struct event *ev, int64_t ms)
{
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

  evtimer_add(ev, &tv);
}

/* A delay of about ms, spread over [ms/2, ms] so that nodes that failed
 * together do not retry together. */
static int64_t spread(struct emu *e, int64_t ms)
{
  e->jitter ^= e->jitter << 13;
  e->jitter ^= e->jitter >> 7;
  e->jitter ^= e->jitter << 17;
  return ms / 2 + (int64_t)(e->jitter % (uint64_t)(ms / 2 + 1));
}

/* The next backoff of *backoff: 100 ms, doubling up to BACKOFF_MAX_MS. */
static int64_t next_backoff(struct emu *e, int64_t *backoff)
{
  *backoff = *backoff ? (*backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff * 2) : 100;
  return spread(e, *backoff);
}

/* Room for n entries in the running-list scratch array. */
static bool scratch_reserve(struct emu *e, int n)
{
  struct sc_client_task *grown;

  if (n <= e->scratch_cap)
    return true;
  if (!(grown = realloc(e->scratch, (size_t)n * sizeof *grown)))
    return false;
  e->scratch = grown;
  e->scratch_cap = n;
  return true;
}

/* Counts an outcome that is not a success, for the periodic summary. */
static void note_failure(struct emu *e, long status)
{
  if (status <= 0) {
    e->unreachable++;
  } else {
    e->rejected++;
    e->last_error_status = status;
  }
}

static void node_register(struct emu_node *node);
static void node_poll(struct emu_node *node);
static void node_report_soon(struct emu_node *node, int64_t ms);

/* Registers node again after ms: the controller lost it or its contact. */
static void node_reset(struct emu_node *node, int64_t ms)
{
  node->state = EMU_NODE_NEW;
  after_ms(&node->tick, ms);
}

/* Ends the tasks the controller named, with notice where one came. */
static void apply_kills(struct emu_node *node, const struct sc_client_kills *kills)
{
  bool any = false;

  for (int i = 0; i < kills->n; i++) {
    int sig = SIGTERM;
    for (int k = 0; k < kills->nnotices; k++)
      if (strcmp(kills->notices[k].task_id, kills->ids[i]) == 0)
        sig = kills->notices[k].signal; /* a real sleep dies of it at once */
    if (emu_task_kill(node, kills->ids[i], sig)) {
      sc_debug("%s: task %s killed as the controller asks", node_name(node), kills->ids[i]);
      any = true;
    }
  }
  if (any)
    node_report_soon(node, 0);
}

/* The controller answered a request sent at sent_ms. */
static void note_contact(struct emu_node *node, int64_t sent_ms)
{
  node->last_contact_ms = sent_ms;
  node->fenced = false;
}

/* Cut off for the fence timeout: its tasks stop, as the real agent's. */
static void check_fence(struct emu_node *node, int64_t now)
{
  int64_t fence = node->emu->fence_after_ms;
  int n;

  if (fence <= 0 || node->last_contact_ms <= 0 || node->fenced ||
      now - node->last_contact_ms <= fence)
    return;
  node->fenced = true;
  if ((n = emu_task_kill_all(node, true)) > 0) {
    sc_warn("%s: fenced: no answer from the controller for %lld ms: stopped %d task(s)",
            node_name(node), (long long)(now - node->last_contact_ms), n);
    node_report_soon(node, 0);
  }
}

/* ---- registration ---- */

/* The first heartbeat after registering: on the node's own phase of the
 * interval (index / n of it), at least half an interval from now. */
static void schedule_first_beat(struct emu_node *node, int64_t now)
{
  struct emu *e = node->emu;
  int64_t hb = e->heartbeat_ms;
  int64_t phase = e->start_ms + (int64_t)node->index * hb / e->n, from = now + hb / 2;
  int64_t k = from > phase ? (from - phase + hb - 1) / hb : 0;

  node->next_beat_ms = phase + k * hb;
  after_ms(&node->tick, node->next_beat_ms - now);
}

/* Registered: keeps the credential and the controller's timing, ends the
 * tasks it no longer wants here, starts polling and reporting. */
static void registered(struct emu_node *node, struct sc_client_registered *reg)
{
  struct emu *e = node->emu;
  int64_t now = sc_clock_mono_ms();

  if (reg->credential) {
    free(node->credential);
    node->credential = reg->credential;
    reg->credential = NULL;
  }
  if (e->nready == 0 || e->cfg->heartbeat_ms <= 0) {
    e->heartbeat_ms = e->cfg->heartbeat_ms > 0 ? e->cfg->heartbeat_ms
                      : reg->heartbeat_ms > 0  ? reg->heartbeat_ms : 1000;
    e->fence_after_ms = reg->fence_after_ms;
  }
  note_contact(node, node->sent_ms);
  node->state = EMU_NODE_READY;
  node->backoff_ms = 0;
  if (!node->registered_once) {
    node->registered_once = true;
    if (++e->nready == e->n)
      sc_info("all %d nodes registered in %.1f s (heartbeat %lld ms)", e->n,
              (double)(now - e->start_ms) / 1000, (long long)e->heartbeat_ms);
  }
  apply_kills(node, &reg->kills);
  schedule_first_beat(node, now);
  node_poll(node);
  node_report_soon(node, 0);
}

/* Sends the next registrations waiting, within the window. */
static void send_waiting(struct emu *e);

static void on_registered(void *arg, long status, json_t *body)
{
  struct emu_node *node = arg;
  struct emu *e = node->emu;
  struct sc_client_registered reg;
  enum sc_client_rc rc = sc_client_outcome(status);

  e->registering--;
  send_waiting(e);
  if (e->stopping) {
    node->state = EMU_NODE_NEW;
    return;
  }
  if (rc == SC_CLIENT_OK && sc_client_registered_decode(body, &reg) == 0) {
    registered(node, &reg);
    sc_client_registered_release(&reg);
    return;
  }
  if (rc == SC_CLIENT_OK)
    sc_client_registered_release(&reg);
  note_failure(e, status);
  if (rc == SC_CLIENT_DENIED && node->credential) { /* revoked: the bootstrap token */
    free(node->credential);
    node->credential = NULL;
    node_reset(node, 0);
  } else if (rc == SC_CLIENT_DENIED && e->nready == 0) {
    sc_error("register %s: the controller refuses the token", node_name(node));
    e->exit_rc = SC_EAUTH;
    event_base_loopbreak(e->base);
  } else {
    node_reset(node, rc == SC_CLIENT_UNREACHABLE ? next_backoff(e, &node->backoff_ms)
                                                 : spread(e, RETRY_MS * 2));
  }
}

/* Sends node's register now: its shape, labels and unreported tasks. */
static void send_register(struct emu_node *node)
{
  struct emu *e = node->emu;
  const struct sc_emu_plan *plan = e->cfg->plan;
  const struct sc_emu_shape *shape = &plan->shapes[plan->nodes[node->index].shape];
  json_t *labels = sc_emu_plan_labels(plan, node->index), *body = NULL;
  struct sc_client_node cn = {shape->cpu_milli, shape->memory_mib, labels, &shape->devices};
  int n = scratch_reserve(e, node->ntasks) ? emu_task_running(node, true, e->scratch,
                                                              e->scratch_cap) : -1;

  if (labels && n >= 0)
    body = sc_client_register_body(node_name(node), &cn, e->scratch, n);
  node->state = EMU_NODE_REGISTERING;
  node->sent_ms = sc_clock_mono_ms();
  e->registering++;
  if (!body || emu_http_send(&e->http, NULL, true, "/v1/agent/register", node_auth(node), body,
                             on_registered, node) != 0) {
    sc_error("%s: out of memory: registering later", node_name(node));
    e->registering--;
    node_reset(node, RETRY_MS);
  }
  json_decref(body);
  json_decref(labels);
}

/* At most this many registrations out at once: two per shared connection. */
static int register_window(const struct emu *e)
{
  return 2 * e->http.nshared;
}

static void send_waiting(struct emu *e)
{
  while (e->wait_head && e->registering < register_window(e)) {
    struct emu_node *node = e->wait_head;
    e->wait_head = node->wait_next;
    if (!e->wait_head)
      e->wait_tail = NULL;
    node->wait_next = NULL;
    node->state = EMU_NODE_NEW;
    send_register(node);
  }
}

/* Registers node now, or when the window has room. */
static void node_register(struct emu_node *node)
{
  struct emu *e = node->emu;

  if (e->registering < register_window(e)) {
    send_register(node);
    return;
  }
  node->state = EMU_NODE_REGISTERING; /* its turn comes in send_waiting */
  if (e->wait_tail)
    e->wait_tail->wait_next = node;
  else
    e->wait_head = node;
  e->wait_tail = node;
}

/* ---- heartbeats ---- */

static void on_beat(void *arg, long status, json_t *body)
{
  struct emu_node *node = arg;
  struct emu *e = node->emu;
  enum sc_client_rc rc = sc_client_outcome(status);
  struct sc_client_kills kills;

  node->beating = false;
  if (e->stopping || node->state != EMU_NODE_READY)
    return;
  if (rc == SC_CLIENT_OK) {
    int64_t interval = sc_client_interval_decode(body);
    note_contact(node, node->sent_ms);
    if (interval > 0 && e->cfg->heartbeat_ms <= 0)
      e->heartbeat_ms = interval; /* the controller's, as the fleet grows */
    sc_client_kills_decode(body, &kills);
    apply_kills(node, &kills);
    sc_client_kills_release(&kills);
    return;
  }
  note_failure(e, status);
  if (rc == SC_CLIENT_UNREACHABLE)
    node_reset(node, next_backoff(e, &node->backoff_ms));
  else if (rc == SC_CLIENT_UNKNOWN_NODE || (rc == SC_CLIENT_DENIED && node->credential))
    node_reset(node, 0);
  /* else: the next heartbeat tries again */
}

/* Sends a heartbeat naming the tasks the controller knows as running. */
static void node_heartbeat(struct emu_node *node)
{
  struct emu *e = node->emu;
  json_t *body = NULL;
  int n;

  if (!scratch_reserve(e, node->ntasks))
    return;
  n = emu_task_running(node, false, e->scratch, e->scratch_cap);
  body = sc_client_heartbeat_body(node_name(node), e->scratch, n);
  node->sent_ms = sc_clock_mono_ms();
  if (body && emu_http_send(&e->http, NULL, true, "/v1/agent/heartbeat", node_auth(node), body,
                            on_beat, node) == 0)
    node->beating = true;
  json_decref(body);
}

/* The node's timer: its registration when new, else its heartbeat. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
  struct emu_node *node = arg;
  struct emu *e = node->emu;
  int64_t now = sc_clock_mono_ms();

  (void)fd, (void)what;
  if (e->stopping)
    return;
  check_fence(node, now); /* also while it cannot register again */
  if (node->state == EMU_NODE_NEW) {
    node_register(node);
    return;
  }
  if (node->state != EMU_NODE_READY)
    return;
  if (!node->beating) /* else the last one is still out: skip a round */
    node_heartbeat(node);
  node->next_beat_ms += e->heartbeat_ms;
  if (node->next_beat_ms <= now) /* late (a stalled loop): skip, keep the phase */
    node->next_beat_ms += ((now - node->next_beat_ms) / e->heartbeat_ms + 1) * e->heartbeat_ms;
  after_ms(&node->tick, node->next_beat_ms - now);
}

/* ---- assignments ---- */

static void on_assignments(void *arg, long status, json_t *body)
{
  struct emu_node *node = arg;
  struct emu *e = node->emu;
  enum sc_client_rc rc = sc_client_outcome(status);
  struct sc_client_assignments as;

  node->polling = false;
  if (e->stopping)
    return;
  if (rc == SC_CLIENT_OK && json_is_object(body)) {
    node->poll_backoff_ms = 0;
    sc_client_assignments_decode(body, &as);
    apply_kills(node, &as.kills); /* kills first, as the real agent */
    for (int i = 0; i < as.nstarts; i++)
      emu_task_start(node, &as.starts[i]);
    if (as.nstarts > 0)
      node_report_soon(node, 0);
    sc_client_assignments_release(&as);
    node_poll(node);
    return;
  }
  note_failure(e, status);
  if (rc == SC_CLIENT_UNKNOWN_NODE && node->state == EMU_NODE_READY)
    node_reset(node, 0); /* polls again once registered */
  else if (rc == SC_CLIENT_UNREACHABLE)
    after_ms(&node->poll_retry, next_backoff(e, &node->poll_backoff_ms));
  else
    after_ms(&node->poll_retry, spread(e, RETRY_MS * 2));
}

/* Parks the node's long-poll, unless one is out or it is not registered. */
static void node_poll(struct emu_node *node)
{
  struct emu *e = node->emu;
  char path[512];

  if (node->polling || node->state != EMU_NODE_READY || e->stopping)
    return;
  if (!node->poll_conn && !(node->poll_conn = emu_http_connection(&e->http, POLL_WAIT_S + 15))) {
    after_ms(&node->poll_retry, RETRY_MS);
    return;
  }
  sc_client_assignments_path(node_name(node), POLL_WAIT_S, path, sizeof path);
  if (emu_http_send(&e->http, node->poll_conn, false, path, node_auth(node), NULL,
                    on_assignments, node) != 0) {
    after_ms(&node->poll_retry, RETRY_MS);
    return;
  }
  node->polling = true;
}

static void on_poll_retry(evutil_socket_t fd, short what, void *arg)
{
  (void)fd, (void)what;
  node_poll(arg);
}

/* ---- reports: a log line per task, then statuses ---- */

static void node_report(struct emu_node *node);

/* What a report's outcome means; true when it went through. */
static bool report_settled(struct emu_node *node, long status)
{
  enum sc_client_rc rc = sc_client_outcome(status);

  if (rc == SC_CLIENT_OK)
    return true;
  note_failure(node->emu, status);
  if (node->state == EMU_NODE_READY &&
      (rc == SC_CLIENT_UNKNOWN_NODE || (rc == SC_CLIENT_DENIED && node->credential)))
    node_reset(node, 0); /* the registration brings the reports along */
  else
    node_report_soon(node, RETRY_MS);
  return false;
}

static void on_log(void *arg, long status, json_t *body)
{
  struct emu_node *node = arg;
  enum sc_client_rc rc = sc_client_outcome(status);

  (void)body;
  node->reporting = false;
  if (rc == SC_CLIENT_UNREACHABLE || rc == SC_CLIENT_LATER) {
    note_failure(node->emu, status);
    node_report_soon(node, RETRY_MS);
    return;
  }
  /* Any other error reply means the controller will never take this line
   * (no such task, or no process of it runs here any more): it is
   * dropped, as the real agent drops such a chunk. A revoked credential
   * shows in the status request that follows. */
  if (rc != SC_CLIENT_OK)
    note_failure(node->emu, status);
  node->log_task->log_sent = true;
  node_report(node);
}

static void on_status(void *arg, long status, json_t *body)
{
  struct emu_node *node = arg;
  bool ok = sc_client_outcome(status) == SC_CLIENT_REFUSED || report_settled(node, status);

  (void)body;
  node->reporting = false;
  emu_task_updates_done(node, ok); /* a refused status is dropped */
  if (ok)
    node_report(node);
}

/* Sends t's log line. */
static void send_log(struct emu_node *node, struct emu_task *t)
{
  char line[256];
  json_t *body;
  int n;

  if (t->signal)
    n = snprintf(line, sizeof line, "emulated on %s: killed by signal %d after %.3f s\n",
                 node_name(node), t->signal, (double)(t->ended_ms - t->started_ms) / 1000);
  else
    n = snprintf(line, sizeof line, "emulated on %s: exit %d after %.3f s\n", node_name(node),
                 t->exit_code, (double)(t->ended_ms - t->started_ms) / 1000);
  body = sc_client_log_body(t->id, t->attempt, 0, line, (size_t)n);
  node->log_task = t;
  if (body && emu_http_send(&node->emu->http, NULL, true, "/v1/agent/logs", node_auth(node),
                            body, on_log, node) == 0)
    node->reporting = true;
  else
    node_report_soon(node, RETRY_MS);
  json_decref(body);
}

/* Sends what is owed, one request at a time: log lines, then statuses. */
static void node_report(struct emu_node *node)
{
  struct sc_client_update u[STATUS_BATCH];
  struct emu_task *t;
  json_t *body;
  int n;

  if (node->reporting || node->state != EMU_NODE_READY)
    return;
  if ((t = emu_task_log_due(node))) {
    send_log(node, t);
    return;
  }
  if ((n = emu_task_updates(node, u, STATUS_BATCH)) == 0)
    return;
  body = sc_client_status_body(node_name(node), u, n);
  if (body && emu_http_send(&node->emu->http, NULL, true, "/v1/agent/status", node_auth(node),
                            body, on_status, node) == 0) {
    node->reporting = true;
  } else {
    emu_task_updates_done(node, false);
    node_report_soon(node, RETRY_MS);
  }
  json_decref(body);
}

static void on_report(evutil_socket_t fd, short what, void *arg)
{
  (void)fd, (void)what;
  node_report(arg);
}

/* Reports node's news after ms (0: at the next turn of the loop, so the
 * changes of one turn go out together). */
static void node_report_soon(struct emu_node *node, int64_t ms)
{
  if (!evtimer_pending(&node->report, NULL))
    after_ms(&node->report, ms);
}

static void task_ended(struct emu_node *node)
{
  node_report_soon(node, 0);
}

/* ---- the run ---- */

/* Ends every task; the loop then reports until all is sent or the
 * deadline passes. */
static void begin_stop(struct emu *e)
{
  int n = 0;

  e->stopping = true;
  e->stop_deadline_ms = sc_clock_mono_ms() + STOP_REPORT_MS;
  for (int i = 0; i < e->n; i++) {
    n += emu_task_kill_all(&e->nodes[i], false);
    node_report_soon(&e->nodes[i], 0);
  }
  sc_info("stopping: ending %d task(s)", n);
}

static bool all_reported(const struct emu *e)
{
  for (int i = 0; i < e->n; i++)
    if (e->nodes[i].state == EMU_NODE_READY)
      for (const struct emu_task *t = e->nodes[i].tasks; t; t = t->next)
        if (!t->exit_sent)
          return false;
  return true;
}

/* Every HOUSEKEEPING_MS: the stop flag, the end of a stop, and a summary
 * of failed requests (one line per SUMMARY_MS, not one per node). */
static void on_housekeeping(evutil_socket_t fd, short what, void *arg)
{
  struct emu *e = arg;
  int64_t now = sc_clock_mono_ms();

  (void)fd, (void)what;
  if (!e->stopping && atomic_load(e->stop_flag))
    begin_stop(e);
  if (e->stopping && (now >= e->stop_deadline_ms || all_reported(e)))
    event_base_loopbreak(e->base);
  if (now >= e->next_summary_ms && (e->unreachable || e->rejected)) {
    char last[32] = "";
    if (e->rejected)
      snprintf(last, sizeof last, " (the last HTTP %ld)", e->last_error_status);
    sc_warn("in the last %d s: %d request(s) got no reply, %d an error reply%s; %d of %d nodes "
            "registered", SUMMARY_MS / 1000, e->unreachable, e->rejected, last, e->nready, e->n);
    e->unreachable = e->rejected = 0;
  }
  if (now >= e->next_summary_ms)
    e->next_summary_ms = now + SUMMARY_MS;
}

/* One descriptor per node's long-poll, the shared ones, and some spare. */
static void raise_nofile(int want)
{
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= (rlim_t)want)
    return;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= (rlim_t)want ? (rlim_t)want
                                                                           : rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < (rlim_t)want)
    sc_warn("only %llu file descriptors (ulimit -n): about %llu nodes can hold a long-poll; "
            "the others retry", (unsigned long long)rl.rlim_cur,
            (unsigned long long)(rl.rlim_cur > 100 ? rl.rlim_cur - 100 : 0));
}

/* libevent's own warnings (one per failed connect) go to the debug log. */
static void libevent_log(int severity, const char *msg)
{
  if (severity >= EVENT_LOG_ERR)
    sc_error("libevent: %s", msg);
  else
    sc_debug("libevent: %s", msg);
}

/* One thread: no locks. Precise timers: the coarse monotonic clock would
 * end a `sleep 1` up to a tick early. */
static struct event_base *new_base(void)
{
  struct event_config *conf = event_config_new();
  struct event_base *base;

  if (!conf)
    return NULL;
  event_config_set_flag(conf, EVENT_BASE_FLAG_NOLOCK | EVENT_BASE_FLAG_PRECISE_TIMER);
  base = event_base_new_with_config(conf);
  event_config_free(conf);
  return base;
}

/* The nodes and their timers; SC_ENOMEM when out of memory. */
static int emu_setup(struct emu *e)
{
  if (!(e->nodes = calloc((size_t)e->n, sizeof *e->nodes)))
    return SC_ENOMEM;
  for (int i = 0; i < e->n; i++) {
    struct emu_node *node = &e->nodes[i];
    node->emu = e;
    node->index = i;
    evtimer_assign(&node->tick, e->base, on_tick, node);
    evtimer_assign(&node->poll_retry, e->base, on_poll_retry, node);
    evtimer_assign(&node->report, e->base, on_report, node);
  }
  return 0;
}

/* Frees the nodes, their tasks and connections (their calls never answer). */
static void emu_teardown(struct emu *e)
{
  for (int i = 0; e->nodes && i < e->n; i++) {
    struct emu_node *node = &e->nodes[i];
    if (node->poll_conn)
      evhttp_connection_free(node->poll_conn);
    evtimer_del(&node->tick);
    evtimer_del(&node->poll_retry);
    evtimer_del(&node->report);
    free(node->credential);
  }
  emu_http_release(&e->http);
  emu_task_release_all(e);
  free(e->nodes);
  free(e->scratch);
}

int sc_emu_run(const struct sc_emu_config *cfg, atomic_int *stop)
{
  struct emu e = {.cfg = cfg, .n = cfg->plan->n, .next_pid = 100000, .stop_flag = stop,
                  .task_ended = task_ended, .jitter = cfg->seed * 2 + 1};
  struct timeval tick = {0, HOUSEKEEPING_MS * 1000};
  struct event *housekeeping = NULL;
  char err[512];
  int rc;

  event_set_log_callback(libevent_log);
  raise_nofile(e.n + (cfg->connections > 0 ? cfg->connections : 16) + 100);
  if (!(e.base = new_base()))
    return SC_ENOMEM;
  if ((rc = emu_http_init(&e.http, e.base, cfg->server,
                          cfg->connections > 0 ? cfg->connections : 16, err, sizeof err)) != 0)
    sc_error("%s", err);
  else if ((rc = emu_setup(&e)) != 0 ||
           !(housekeeping = event_new(e.base, -1, EV_PERSIST, on_housekeeping, &e)))
    rc = SC_ENOMEM;
  if (rc == 0) {
    e.start_ms = sc_clock_mono_ms();
    e.next_summary_ms = e.start_ms + SUMMARY_MS;
    e.heartbeat_ms = cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 1000;
    sc_info("emulating %d node(s) of %d shape(s) against %s over %d shared connection(s)",
            e.n, cfg->plan->nshapes, cfg->server, e.http.nshared);
    evtimer_add(housekeeping, &tick);
    for (int i = 0; i < e.n; i++)
      node_register(&e.nodes[i]);
    event_base_dispatch(e.base);
    rc = e.exit_rc;
  }
  if (housekeeping)
    event_free(housekeeping);
  emu_teardown(&e);
  event_base_free(e.base);
  return rc;
}
