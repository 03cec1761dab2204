/* The main thread's reports: new log output of each task, in chunks, and
 * task statuses (running, exited). A report is forgotten only once the
 * controller acknowledged it (or refused it for good); the loop in agent.c
 * decides what a failed request means. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent_int.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define LOG_CHUNK (128 * 1024)
#define STATUS_BATCH 128

/* Length of the UTF-8 sequence starting at p (n bytes left): > 0 when valid,
 * 0 when incomplete at the end, -1 when invalid. */
static int utf8_seq(const unsigned char *p, size_t n)
{
  int len;
  unsigned int cp;

  if (p[0] < 0x80)
    return 1;
  if (p[0] >= 0xC2 && p[0] <= 0xDF)
    len = 2, cp = p[0] & 0x1F;
  else if (p[0] >= 0xE0 && p[0] <= 0xEF)
    len = 3, cp = p[0] & 0x0F;
  else if (p[0] >= 0xF0 && p[0] <= 0xF4)
    len = 4, cp = p[0] & 0x07;
  else
    return -1;
  for (int i = 1; i < len; i++) {
    if ((size_t)i >= n)
      return 0;
    if ((p[i] & 0xC0) != 0x80)
      return -1;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return -1;
  return len;
}

size_t sc_agent_utf8_clean(char *buf, size_t len, bool final)
{
  unsigned char *p = (unsigned char *)buf;
  size_t i = 0;

  while (i < len) {
    int n = utf8_seq(p + i, len - i);
    if (n == 0 && !final)
      return i; /* wait for the rest of the sequence */
    if (n <= 0) {
      p[i++] = '?';
      continue;
    }
    if (n == 1 && p[i] == 0)
      p[i] = '?';
    i += (size_t)n;
  }
  return len;
}

static int64_t file_size(const char *path)
{
  struct stat st;

  return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* What the main thread reads of a task under the table lock. */
struct log_view {
  char task_id[64], path[4200];
  int attempt;
  bool exited;
  int64_t sent;
};

/*
 * Ships one chunk of t's log. Only the chunk that reaches the end of an
 * exited task's output is final: an earlier one may end inside a character
 * the next one completes. Returns the outcome; *more says whether output
 * is left after it.
 */
static enum sc_client_rc ship_chunk(struct sc_agent *a, struct sc_task *t, bool *more,
                                    bool *exited)
{
  struct log_view v;
  enum sc_client_rc rc;
  char *buf;
  int64_t size;
  ssize_t n;
  size_t keep;
  int fd;

  *more = false;
  sc_task_table_lock(&a->tasks);
  snprintf(v.task_id, sizeof v.task_id, "%s", t->spec.task_id);
  sc_task_path(t, "log", v.path, sizeof v.path);
  v.attempt = t->spec.attempt;
  v.exited = t->exited;
  v.sent = t->log_sent;
  sc_task_table_unlock(&a->tasks);
  *exited = v.exited;
  if ((size = file_size(v.path)) <= v.sent)
    return SC_CLIENT_OK;
  if ((fd = open(v.path, O_RDONLY | O_CLOEXEC)) < 0)
    return SC_CLIENT_OK; /* nothing to read (yet) */
  if (!(buf = malloc(LOG_CHUNK))) {
    close(fd);
    return SC_CLIENT_LATER;
  }
  n = pread(fd, buf, LOG_CHUNK, (off_t)v.sent);
  close(fd);
  keep = n > 0 ? sc_agent_utf8_clean(buf, (size_t)n, v.exited && v.sent + n >= size) : 0;
  if (keep == 0) {
    free(buf);
    return SC_CLIENT_OK;
  }
  rc = sc_client_log(&a->client, v.task_id, v.attempt, v.sent, buf, keep);
  free(buf);
  if (rc == SC_CLIENT_REFUSED || rc == SC_CLIENT_UNKNOWN_NODE) {
    sc_warn("task %s: log chunk dropped: %s", v.task_id, a->client.error);
    rc = SC_CLIENT_OK; /* the controller will never take it */
  }
  if (rc != SC_CLIENT_OK)
    return rc;
  sc_task_table_lock(&a->tasks);
  sc_task_mark_shipped(t, v.sent + (int64_t)keep);
  sc_task_table_unlock(&a->tasks);
  *more = v.sent + (int64_t)keep < size;
  return SC_CLIENT_OK;
}

static bool unreported(const struct sc_task *t)
{
  return !t->exit_sent;
}

enum sc_client_rc sc_agent_ship_logs(struct sc_agent *a, int64_t deadline_ms, bool *more)
{
  struct sc_task **list;
  enum sc_client_rc rc = SC_CLIENT_OK;
  int n;

  *more = false;
  sc_task_table_lock(&a->tasks);
  n = sc_task_table_select(&a->tasks, unreported, &list);
  sc_task_table_unlock(&a->tasks);
  if (n < 0)
    return SC_CLIENT_LATER;
  /* A running task ships a chunk per round; an exited one all it has, so
   * its final status can follow. */
  for (int i = 0; i < n && rc == SC_CLIENT_OK; i++) {
    bool left = true, exited = true;
    if (sc_clock_mono_ms() >= deadline_ms) {
      *more = true; /* cut short: the caller heartbeats, then calls again */
      break;
    }
    while (left && exited && rc == SC_CLIENT_OK && sc_clock_mono_ms() < deadline_ms)
      rc = ship_chunk(a, list[i], &left, &exited);
    *more = *more || (left && exited);
  }
  free(list);
  return rc;
}

/* True once an exited task's log has been shipped to its end (lock held). */
static bool fully_shipped(const struct sc_task *t)
{
  char path[4200];

  return t->log_sent >= file_size(sc_task_path(t, "log", path, sizeof path));
}

/* One report the status request carries, and the task it is about. */
struct report {
  struct sc_task *t;
  struct sc_client_update u;
  char task_id[64];
};

/* Collects the pending reports (lock held); returns how many. */
static int collect_reports(struct sc_agent *a, struct report *r, int max)
{
  int n = 0;

  for (struct sc_task *t = a->tasks.head; t && n + 2 <= max; t = t->next) {
    bool final = t->exited && !t->exit_sent && fully_shipped(t);
    for (int k = 0; k < 2; k++) {
      if ((k == 0 && (t->running_sent || t->pid <= 0)) || (k == 1 && !final))
        continue;
      r[n].t = t;
      snprintf(r[n].task_id, sizeof r[n].task_id, "%s", t->spec.task_id);
      r[n].u = (struct sc_client_update){.task_id = r[n].task_id, .attempt = t->spec.attempt,
                                         .exited = k == 1, .pid = t->pid,
                                         .exit_code = t->exit_code, .signal = t->signal,
                                         .started_ms = sc_task_file_ms(t, "pid"),
                                         .ended_ms = k == 1 ? sc_task_file_ms(t, "exit") : 0,
                                         .reason = k == 1 && t->reason[0] ? t->reason : NULL};
      n++;
    }
  }
  return n;
}

enum sc_client_rc sc_agent_send_status(struct sc_agent *a)
{
  struct report r[STATUS_BATCH];
  struct sc_client_update u[STATUS_BATCH];
  enum sc_client_rc rc;
  int n;

  sc_task_table_lock(&a->tasks);
  n = collect_reports(a, r, STATUS_BATCH);
  sc_task_table_unlock(&a->tasks);
  if (n == 0)
    return SC_CLIENT_OK;
  for (int i = 0; i < n; i++)
    u[i] = r[i].u;
  rc = sc_client_status(&a->client, u, n);
  if (rc == SC_CLIENT_REFUSED)
    sc_warn("status dropped: %s", a->client.error);
  else if (rc != SC_CLIENT_OK)
    return rc;
  /* The tasks are still there: only this thread frees them. */
  sc_task_table_lock(&a->tasks);
  for (int i = 0; i < n; i++) {
    if (!r[i].u.exited) {
      r[i].t->running_sent = true;
      continue;
    }
    sc_info("task %s: reported exit (code %d, signal %d)", r[i].task_id, r[i].t->exit_code,
            r[i].t->signal);
    sc_task_mark_reported(r[i].t);
  }
  sc_task_table_unlock(&a->tasks);
  return SC_CLIENT_OK;
}
