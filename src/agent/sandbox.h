/*
 * The view a task gets of its node, built in new PID, mount, IPC and UTS
 * namespaces by the task's init process (the supervisor's child, PID 1 of
 * the task's PID namespace) before it starts the task:
 *   - mounts never propagate back to the node (/ is made a slave);
 *   - a fresh /proc, for the task's own PID namespace: it sees only its
 *     own processes;
 *   - private tmpfs on /tmp and /var/tmp, and a /dev holding only null,
 *     zero, full, random, urandom, tty, its own pseudo-terminals, a
 *     private /dev/shm and the device nodes of its own accelerators;
 *   - a root of its own (a tmpfs it pivot_roots into, then read-only)
 *     holding only the node's system paths, read-only (/usr, /etc, /opt,
 *     /sys, the /bin and /lib links...), and its own dirs: no /home, /root,
 *     /var, /run, /srv, nor the agent's or the controller's state;
 *   - the task's work dir and the operator's shared paths bound in where
 *     they lie, with empty tmpfs over hidden directories inside them.
 * Everything is prepared before fork (paths), so the child only makes
 * system calls: it opens what it binds while its new mount namespace is
 * still a copy of the node's (a bind source must be in its own namespace),
 * then covers. See docs/control-plane.md, Security.
 */
#ifndef SC_AGENT_SANDBOX_H
#define SC_AGENT_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#define SC_SANDBOX_MAX_HIDE 8
#define SC_SANDBOX_MAX_BIND 12
#define SC_SANDBOX_MAX_DEV 16
#define SC_SANDBOX_PATH 4096

/* A host path bound into the view at the same path. */
struct sc_sandbox_bind {
  char path[SC_SANDBOX_PATH];
};

/* A device node (host path src) bound at /dev/<name>. */
struct sc_sandbox_dev {
  char name[64];
  char src[SC_SANDBOX_PATH];
};

struct sc_sandbox {
  bool enabled;
  char root[SC_SANDBOX_PATH];  /* an empty dir: the task's root is built there */
  bool no_network;           /* an empty network namespace, lo up */
  bool userns;               /* an agent that is not root: a user namespace
                                too (its uid mapped to itself), which gives
                                the init the rights to build the view */
  bool image;                /* an OCI image task: the container runtime
                                builds the view; this namespace only holds
                                it (its init reaps and ends everything) */
  int nhide;
  char hide[SC_SANDBOX_MAX_HIDE][SC_SANDBOX_PATH];
  int nbind;
  struct sc_sandbox_bind bind[SC_SANDBOX_MAX_BIND];
  int ndev;
  struct sc_sandbox_dev dev[SC_SANDBOX_MAX_DEV];
};

/* Prepares sb (enabled) for a task: hides the listed directories, binds
 * back its work dir (may be NULL) and the shared paths that exist, gives
 * it the device nodes dev_names (relative to dev_dir) that exist. */
void sc_sandbox_prepare(struct sc_sandbox *sb, const char *root, const char *const *hide, int nhide,
                        const char *workdir, const char *const *shared, int nshared,
                        const char *dev_dir, const char (*dev_names)[64], int ndev);

/* The clone flags of the task's init: new PID, mount, IPC and UTS
 * namespaces, and network when sb->no_network. */
int sc_sandbox_clone_flags(const struct sc_sandbox *sb);

/* In the task's init (PID 1 of its namespaces, still root): builds the
 * view. Returns 0, or -1 with *step naming what failed (errno set).
 * Only system calls: safe between fork and exec. */
int sc_sandbox_enter(const struct sc_sandbox *sb, const char **step);

/* In the task's process, just before exec: limits the capability
 * bounding set (what the exec'd program gets as root) and sets
 * no_new_privs, so no set-user-ID program gives more back. Returns 0, or
 * -1 with *step and errno set. Only system calls. */
int sc_sandbox_drop_privileges(const char **step);

#endif
