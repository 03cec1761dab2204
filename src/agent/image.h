/*
 * OCI image tasks: a job that names `image: oci:PATH[:TAG]` (a local OCI
 * image layout) or `image: NAME[:TAG]` (a layout the operator put in the
 * agent's --image-dir) runs in a container. The agent unpacks the image
 * with umoci once per manifest digest into its cache, writes the task's
 * runtime bundle (config.json over the read-only cached rootfs) and runs
 * it with crun, under the same rules as any task: the tenant's uid, no
 * capabilities, no_new_privs, its own PID, mount, IPC and UTS namespaces
 * (and network with `network: none`), only its own device nodes, its
 * cgroups (joined before crun starts), its env, its log and its signals.
 */
#ifndef SC_AGENT_IMAGE_H
#define SC_AGENT_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Where things are on this node. */
struct sc_image_cfg {
  const char *cache_dir;     /* unpacked images, one dir per digest */
  const char *image_dir;     /* named images: image_dir/NAME is a layout */
  const char *crun, *umoci;  /* absolute paths; NULL: not installed */
};

/* One task to run from an image. */
struct sc_image_task {
  const char *ref;           /* the job's image */
  const char *task_dir;      /* the bundle and the runtime's state go here */
  const char *id;            /* container id: [A-Za-z0-9_.-] */
  char **env;                /* the task's "K=V" (after the image's own) */
  char **argv;               /* the command, or */
  const char *shell;         /* ... run with /bin/sh -c */
  const char *workdir;       /* inside the image; NULL: "/" */
  uid_t uid;
  gid_t gid;
  bool no_network;
  const char *const *share;  /* host dirs bound in at the same path */
  int nshare;
  const char *dev_dir;       /* device nodes (NULL: /dev) */
  const char (*dev_names)[64];
  int ndev;
};

/* Finds (in PATH) crun and umoci into cfg; false when either is missing. */
bool sc_image_find_tools(struct sc_image_cfg *cfg, char *crun, char *umoci, size_t size);

/*
 * Resolves t->ref, unpacks it into the cache unless its digest is there,
 * and writes the bundle. Returns 0 with *argv (free with sc_image_argv_free)
 * the runtime's command line, or an SC_E* code with the reason in err.
 * *digest (size 72) gets "sha256:..." either way it is known.
 */
int sc_image_prepare(const struct sc_image_cfg *cfg, const struct sc_image_task *t,
                     char ***argv, char *digest, char *err, size_t size);
void sc_image_argv_free(char **argv);

#endif
