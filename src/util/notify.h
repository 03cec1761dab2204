/*
 * Readiness for a service manager: sd_notify(3) of libsystemd, opened with
 * dlopen only when $NOTIFY_SOCKET is set (a process systemd did not start
 * maps nothing more; docs/fast-cli.md). `Type=notify` units
 * (deploy/supercell-server.service) wait for READY=1.
 */
#ifndef SC_UTIL_NOTIFY_H
#define SC_UTIL_NOTIFY_H

/* Sends state (e.g. "READY=1\nSTATUS=listening on :8420") when run under
 * a service manager; a no-op otherwise. Returns 1 sent, 0 not asked, or
 * SC_ENOENT when $NOTIFY_SOCKET is set but libsystemd cannot be loaded
 * (logged). */
int sc_notify(const char *state);

#endif
