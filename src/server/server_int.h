/*
 * Private to `supercell server` (server_cmd.c) and `supercell up`
 * (server_up.c): their flags, the controller they run and its life.
 */
#ifndef SC_SERVER_INT_H
#define SC_SERVER_INT_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/auth.h"
#include "server/ctl.h"
#include "server/http.h"
#include "server/lease.h"
#include "server/metrics.h"

#define UP_PORT 8420
#define MAX_DEVICE_ARGS 16

struct cmd_opts {
  char listen[128];
  char state_dir[PATH_MAX];
  char store[PATH_MAX];      /* --store: "" = <state-dir>/supercell.db */
  struct sc_ctl_opts ctl;
  const char *devices[MAX_DEVICE_ARGS];
  const char *fgd_target;      /* --fgd-target FILE, or NULL */
  bool check_config;           /* --check-config: check, print, exit */
  int64_t lease_ms;            /* --lease: 0 = not given */
  char advertise[SC_STORE_URL_MAX]; /* --advertise-url: "" = from --listen */
  int ndevices;
  bool up;
  bool metrics_public;         /* --metrics-public */
};

struct controller {
  int lock_fd;
  struct sc_store *store;
  struct sc_lease *lease;      /* leader election (PostgreSQL), or NULL */
  char state_dir[PATH_MAX];
  struct sc_auth auth;
  bool auth_ready;
  struct sc_ctl *ctl;
  struct sc_metrics *metrics;  /* the /metrics exporter */
  struct sc_server *server;
  unsigned char task_key[32];  /* from <state-dir>/task.key */
};

/* $SUPERCELL_HOME, else ~/.supercell, into buf: 0 or SC_EINVAL. */
int cmd_default_state_dir(char *buf, size_t size);
/* Parses argv (and --config's file) into o, whose up says which command:
 * 0, 1 (--help printed) or SC_EINVAL (said why on stderr). */
int cmd_parse_opts(int argc, char **argv, struct cmd_opts *o);
/* Blocks SIGINT/SIGTERM in every thread so the main thread can wait for
 * them; ignores SIGPIPE. */
void cmd_block_signals(sigset_t *set);
/* Opens the state and the store and starts serving: the controller and
 * its scheduler, or on PostgreSQL a standby in leader election. 0 or an
 * SC_E* code (said why on stderr; c is stopped). */
int cmd_controller_start(const struct cmd_opts *o, struct controller *c);
/* Stops everything c runs (a leader gives its lease up) and frees it. */
void cmd_controller_stop(struct controller *c);

#endif
