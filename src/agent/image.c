/* OCI image tasks (see image.h): resolve, unpack once per digest, write
 * the bundle, hand back crun's command line. Runs in the agent's
 * assignments thread, before the task's processes exist. */
#include "agent/image.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/error.h"
#include "util/image_ref.h"
#include "util/log.h"

extern char **environ;

/* The first executable called name in PATH, into buf. */
static bool find_tool(const char *name, char *buf, size_t size)
{
  const char *path = getenv("PATH");

  if (!path || !*path)
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  while (*path) {
    size_t n = strcspn(path, ":");
    snprintf(buf, size, "%.*s/%s", (int)n, path, name);
    if (n > 0 && path[0] == '/' && access(buf, X_OK) == 0)
      return true;
    path += n + (path[n] == ':');
  }
  return false;
}

bool sc_image_find_tools(struct sc_image_cfg *cfg, char *crun, char *umoci, size_t size)
{
  cfg->crun = find_tool("crun", crun, size) ? crun : NULL;
  cfg->umoci = find_tool("umoci", umoci, size) ? umoci : NULL;
  return cfg->crun && cfg->umoci;
}

static int fail(char *err, size_t size, int rc, const char *fmt, const char *a, const char *b)
{
  snprintf(err, size, fmt, a, b);
  return rc;
}

/* The manifest digest tagged tag in the layout at dir ("sha256:<64 hex>"). */
static int find_digest(const char *dir, const char *tag, char *digest, char *err, size_t size)
{
  char path[4200];
  json_t *index, *m;
  size_t i;
  int rc = SC_ENOENT;

  snprintf(path, sizeof path, "%s/index.json", dir);
  if (!(index = json_load_file(path, 0, NULL)))
    return fail(err, size, SC_ENOENT, "no OCI image layout at '%s'%s", dir, "");
  json_array_foreach(json_object_get(index, "manifests"), i, m) {
    const char *name = json_string_value(
      json_object_get(json_object_get(m, "annotations"), "org.opencontainers.image.ref.name"));
    const char *d = json_string_value(json_object_get(m, "digest"));
    if (!name || strcmp(name, tag) != 0 || !d)
      continue;
    if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71 || strspn(d + 7, "0123456789abcdef") != 64)
      break; /* a digest we do not trust as a directory name */
    snprintf(digest, 72, "%s", d);
    rc = 0;
    break;
  }
  json_decref(index);
  if (rc != 0)
    return fail(err, size, rc, "no manifest tagged '%s' in the layout at '%s'", tag, dir);
  return 0;
}

/* Runs argv, its stderr's last line into err; 0 when it exits 0. */
static int run_tool(char *const *argv, char *err, size_t size)
{
  posix_spawn_file_actions_t fa;
  int fds[2], status = 0;
  char buf[1024];
  ssize_t n, len = 0;
  pid_t pid;

  if (pipe2(fds, O_CLOEXEC) != 0)
    return SC_EIO;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    close(fds[1]);
    return fail(err, size, SC_EIO, "cannot run %s%s", argv[0], "");
  }
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  while ((n = read(fds[0], buf + len, sizeof buf - 1 - (size_t)len)) > 0 ||
         (n < 0 && errno == EINTR))
    if (n > 0 && (len += n) >= (ssize_t)sizeof buf - 1)
      len = 0; /* keep the tail */
  close(fds[0]);
  buf[len] = '\0';
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 0;
  buf[strcspn(buf, "\n")] = '\0';
  return fail(err, size, SC_EIO, "%s failed: %s", argv[0], buf[0] ? buf : "no message");
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)ftw;
  return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* cache_dir/<hex> holds the unpacked image (config.json, rootfs); unpacks
 * it under a lock when it is not there yet. */
static int unpack(const struct sc_image_cfg *cfg, const char *layout, const char *tag,
                  const char *digest, char *dir, size_t dirsize, char *err, size_t size)
{
  char lock[4200], tmp[4300], image[4400];
  struct stat st;
  int fd, rc = 0;

  snprintf(dir, dirsize, "%s/%s", cfg->cache_dir, digest + 7);
  if (stat(dir, &st) == 0)
    return 0; /* a cache hit */
  if (mkdir(cfg->cache_dir, 0700) != 0 && errno != EEXIST)
    return fail(err, size, SC_EIO, "cannot create %s: %s", cfg->cache_dir, strerror(errno));
  snprintf(lock, sizeof lock, "%s/.lock", cfg->cache_dir);
  if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 || flock(fd, LOCK_EX) != 0) {
    if (fd >= 0)
      close(fd);
    return fail(err, size, SC_EIO, "cannot lock %s: %s", lock, strerror(errno));
  }
  if (stat(dir, &st) != 0) { /* nobody unpacked it while we waited */
    snprintf(tmp, sizeof tmp, "%s.tmp", dir);
    if (access(tmp, F_OK) == 0 && nftw(tmp, remove_one, 64, FTW_DEPTH | FTW_PHYS) != 0)
      sc_warn("cannot clean %s", tmp); /* a crash's leftover: umoci refuses it */
    snprintf(image, sizeof image, "%s:%s", layout, tag);
    {
      char *const argv[] = {(char *)cfg->umoci, "unpack", "--image", image, tmp, NULL};
      rc = run_tool(argv, err, size);
    }
    if (rc == 0 && rename(tmp, dir) != 0)
      rc = fail(err, size, SC_EIO, "cannot rename %s: %s", tmp, strerror(errno));
    if (rc == 0)
      sc_info("image %s: unpacked into %s", image, dir);
  }
  flock(fd, LOCK_UN);
  close(fd);
  return rc;
}

/* Appends "K=V" to env (a JSON array), replacing an entry of the same K. */
static void env_put(json_t *env, const char *kv)
{
  size_t klen = strcspn(kv, "="), i;
  json_t *v;

  json_array_foreach(env, i, v) {
    const char *s = json_string_value(v);
    if (s && strncmp(s, kv, klen) == 0 && s[klen] == '=') {
      json_array_set_new(env, i, json_string(kv));
      return;
    }
  }
  json_array_append_new(env, json_string(kv));
}

static json_t *process_json(json_t *image_process, const struct sc_image_task *t)
{
  json_t *p = json_is_object(image_process) ? json_deep_copy(image_process) : json_object();
  json_t *env = json_array(), *args = json_array(), *caps = json_object(), *v;
  static const char *const sets[] = {"bounding", "effective", "inheritable", "permitted",
                                     "ambient"};
  size_t i;

  json_array_foreach(json_object_get(p, "env"), i, v) /* the image's own first */
    if (json_is_string(v))
      json_array_append(env, v);
  for (char **e = t->env; e && *e; e++)
    env_put(env, *e);
  if (t->argv) {
    for (char **a = t->argv; *a; a++)
      json_array_append_new(args, json_string(*a));
  } else {
    json_array_append_new(args, json_string("/bin/sh"));
    json_array_append_new(args, json_string("-c"));
    json_array_append_new(args, json_string(t->shell ? t->shell : "true"));
  }
  for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++)
    json_object_set_new(caps, sets[k], json_array());
  json_object_set_new(p, "terminal", json_false());
  json_object_set_new(p, "args", args);
  json_object_set_new(p, "env", env);
  json_object_set_new(p, "cwd", json_string(t->workdir ? t->workdir : "/"));
  json_object_set_new(p, "user", json_pack("{s:I, s:I, s:[]}", "uid", (json_int_t)t->uid, "gid",
                                           (json_int_t)t->gid, "additionalGids"));
  json_object_set_new(p, "capabilities", caps);
  json_object_set_new(p, "noNewPrivileges", json_true());
  json_object_del(p, "rlimits"); /* the node's, as for any task */
  return p;
}

/* The image's mounts less the cgroup file system, plus a private /tmp and
 * the shared dirs. */
static json_t *mounts_json(json_t *image_mounts, const struct sc_image_task *t)
{
  json_t *out = json_array(), *m;
  size_t i;

  json_array_foreach(image_mounts, i, m) {
    const char *dest = json_string_value(json_object_get(m, "destination"));
    if (dest && strcmp(dest, "/sys/fs/cgroup") != 0 && strcmp(dest, "/tmp") != 0)
      json_array_append(out, m);
  }
  json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination", "/tmp",
                                       "type", "tmpfs", "source", "tmpfs", "options", "nosuid",
                                       "nodev", "mode=1777"));
  for (int k = 0; k < t->nshare; k++)
    json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:[s, s, s, s]}", "destination",
                                         t->share[k], "type", "bind", "source", t->share[k],
                                         "options", "rbind", "rw", "nosuid", "nodev"));
  return out;
}

/* The task's device nodes, found under dev_dir, for the runtime to make. */
static json_t *devices_json(const struct sc_image_task *t)
{
  json_t *out = json_array();
  char path[4200], dest[128];
  struct stat st;

  for (int i = 0; i < t->ndev; i++) {
    snprintf(path, sizeof path, "%s/%s", t->dev_dir ? t->dev_dir : "/dev", t->dev_names[i]);
    if (stat(path, &st) != 0 || (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)))
      continue;
    snprintf(dest, sizeof dest, "/dev/%s", t->dev_names[i]);
    json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:I, s:i, s:i, s:i}", "path", dest,
                                         "type", S_ISCHR(st.st_mode) ? "c" : "b", "major",
                                         (json_int_t)major(st.st_rdev), "minor",
                                         (json_int_t)minor(st.st_rdev), "fileMode", 0666, "uid",
                                         0, "gid", 0));
  }
  return out;
}

/* Writes task_dir/bundle/config.json from the cached image's. */
static int write_bundle(const char *image_dir, const struct sc_image_task *t, char *bundle,
                        size_t bsize, char *err, size_t size)
{
  char path[4400], rootfs[4300];
  json_t *cfg, *linux_, *ns;
  int rc;

  snprintf(path, sizeof path, "%s/config.json", image_dir);
  if (!(cfg = json_load_file(path, 0, NULL)))
    return fail(err, size, SC_EPARSE, "unreadable %s%s", path, "");
  snprintf(rootfs, sizeof rootfs, "%s/rootfs", image_dir);
  snprintf(bundle, bsize, "%s/bundle", t->task_dir);
  if (mkdir(bundle, 0700) != 0 && errno != EEXIST) {
    json_decref(cfg);
    return fail(err, size, SC_EIO, "cannot create %s: %s", bundle, strerror(errno));
  }
  json_object_set_new(cfg, "process", process_json(json_object_get(cfg, "process"), t));
  json_object_set_new(cfg, "root", json_pack("{s:s, s:b}", "path", rootfs, "readonly", 1));
  json_object_set_new(cfg, "hostname", json_string(t->id));
  json_object_set_new(cfg, "mounts", mounts_json(json_object_get(cfg, "mounts"), t));
  if (!json_is_object(linux_ = json_object_get(cfg, "linux"))) {
    linux_ = json_object();
    json_object_set_new(cfg, "linux", linux_);
  }
  ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type", "ipc", "type", "uts",
                 "type", "mount");
  if (t->no_network)
    json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
  json_object_set_new(linux_, "namespaces", ns);
  json_object_set_new(linux_, "devices", devices_json(t));
  json_object_del(linux_, "resources");   /* the task's cgroups hold it already */
  json_object_del(linux_, "cgroupsPath");
  json_object_del(linux_, "uidMappings");
  json_object_del(linux_, "gidMappings");
  snprintf(path, sizeof path, "%s/config.json", bundle);
  rc = json_dump_file(cfg, path, JSON_INDENT(1)) == 0 ? 0 : SC_EIO;
  json_decref(cfg);
  if (rc != 0)
    return fail(err, size, rc, "cannot write %s%s", path, "");
  return 0;
}

int sc_image_prepare(const struct sc_image_cfg *cfg, const struct sc_image_task *t,
                     char ***argv, char *digest, char *err, size_t size)
{
  struct sc_image_ref ref;
  char layout[SC_IMAGE_REF_MAX + 512], dir[4200], bundle[4300], root[4300];
  int rc;

  *argv = NULL;
  digest[0] = '\0';
  if (!cfg->crun || !cfg->umoci)
    return fail(err, size, SC_ENOENT, "this node has no container runtime (crun and umoci)%s%s",
                "", "");
  if (!sc_image_ref_parse(t->ref, &ref))
    return fail(err, size, SC_EINVAL, "bad image reference '%s'%s", t->ref, "");
  if (ref.local)
    snprintf(layout, sizeof layout, "%s", ref.path);
  else
    snprintf(layout, sizeof layout, "%s/%s", cfg->image_dir, ref.path);
  if ((rc = find_digest(layout, ref.tag, digest, err, size)) != 0 ||
      (rc = unpack(cfg, layout, ref.tag, digest, dir, sizeof dir, err, size)) != 0 ||
      (rc = write_bundle(dir, t, bundle, sizeof bundle, err, size)) != 0)
    return rc;
  snprintf(root, sizeof root, "%s/crun", t->task_dir);
  {
    const char *const words[] = {cfg->crun, "--root", root, "--cgroup-manager=disabled", "run",
                                 "--bundle", bundle, t->id, NULL};
    size_t n = sizeof words / sizeof words[0];
    char **v = calloc(n, sizeof *v);
    for (size_t i = 0; v && words[i]; i++)
      if (!(v[i] = strdup(words[i]))) {
        sc_image_argv_free(v);
        v = NULL;
      }
    if (!v)
      return fail(err, size, SC_ENOMEM, "out of memory%s%s", "", "");
    *argv = v;
  }
  return 0;
}

void sc_image_argv_free(char **argv)
{
  for (char **a = argv; a && *a; a++)
    free(*a);
  free(argv);
}
