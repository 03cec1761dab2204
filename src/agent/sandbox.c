/* A task's view of its node (see sandbox.h). The child side uses only
 * system calls and the small string helpers below, which neither allocate
 * nor lock. */
#include "agent/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/error.h"

int sc_sandbox_clone_flags(const struct sc_sandbox *sb)
{
  if (sb->image) /* the runtime makes the container's own namespaces */
    return CLONE_NEWPID | CLONE_NEWNS;
  return CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS |
         (sb->no_network ? CLONE_NEWNET : 0) | (sb->userns ? CLONE_NEWUSER : 0);
}

/* The namespace an image task's runtime runs in: mounts stay private, and
 * where cgroup v1 controllers sit beside a v2 mount that holds controllers
 * too (a "hybrid" host, which crun refuses), the v2 mount is left out of
 * this namespace: the task's limits are the v1 cgroups it already joined. */
static int enter_image(const char **step)
{
  *step = "make / a slave mount";
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0)
    return -1;
  umount2("/sys/fs/cgroup/unified", MNT_DETACH); /* absent on most hosts */
  return 0;
}

/* Brings up lo in a new network namespace (it starts down). */
static int loopback_up(void)
{
  struct ifreq ifr;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

  if (fd < 0)
    return -1;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
  }
  close(fd);
  return rc;
}

/* Adds a bind of path (skipped when absent). */
static void add_bind(struct sc_sandbox *sb, const char *path)
{
  struct stat st;

  if (!path || !*path || sb->nbind >= SC_SANDBOX_MAX_BIND || strlen(path) >= SC_SANDBOX_PATH ||
      stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
    return;
  snprintf(sb->bind[sb->nbind++].path, SC_SANDBOX_PATH, "%s", path);
}

void sc_sandbox_prepare(struct sc_sandbox *sb, const char *root, const char *const *hide, int nhide,
                        const char *workdir, const char *const *shared, int nshared,
                        const char *dev_dir, const char (*dev_names)[64], int ndev)
{
  struct stat st;

  memset(sb, 0, sizeof *sb);
  sb->enabled = true;
  snprintf(sb->root, sizeof sb->root, "%s", root);
  for (int i = 0; i < nhide && sb->nhide < SC_SANDBOX_MAX_HIDE; i++)
    if (hide[i] && *hide[i] && strlen(hide[i]) < SC_SANDBOX_PATH)
      snprintf(sb->hide[sb->nhide++], SC_SANDBOX_PATH, "%s", hide[i]);
  add_bind(sb, workdir);
  for (int i = 0; i < nshared; i++)
    add_bind(sb, shared[i]);
  for (int i = 0; i < ndev && sb->ndev < SC_SANDBOX_MAX_DEV; i++) {
    struct sc_sandbox_dev *d = &sb->dev[sb->ndev];
    snprintf(d->src, sizeof d->src, "%s/%s", dev_dir ? dev_dir : "/dev", dev_names[i]);
    snprintf(d->name, sizeof d->name, "%s", dev_names[i]);
    if (stat(d->src, &st) == 0 && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
      sb->ndev++;
  }
}

/* ---- the child side: system calls only ---- */

/* Copies a + b into out (size n); false when it does not fit. */
static bool join(char *out, size_t n, const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);

  if (la + lb + 1 > n)
    return false;
  memcpy(out, a, la);
  memcpy(out + la, b, lb + 1);
  return true;
}


/* mkdir -p path (dirs 0755); true when it exists as a directory after. */
static bool make_dirs(const char *path)
{
  char buf[SC_SANDBOX_PATH];
  size_t len = strlen(path);

  if (len >= sizeof buf)
    return false;
  memcpy(buf, path, len + 1);
  for (size_t i = 1; i <= len; i++)
    if (buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return false;
      buf[i] = c;
    }
  return true;
}

/* An empty file at path (the mount point of a bound node or file). */
static bool make_file(const char *path)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

  if (fd < 0)
    return errno == EEXIST;
  close(fd);
  return true;
}



static const char *const basic_nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};

/* What of the node a task sees, read-only: the system's programs,
 * libraries and configuration (symlinks such as /bin -> usr/bin are made
 * again), /sys, and where the resolver's file may live. Nothing else of the
 * node's file system: not /home, /root, /var, /run or /srv, not the agent's
 * or the controller's state. */
static const char *const system_paths[] = {
  "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/sys",
  "/run/systemd/resolve",
};

/* root + path into out (size SC_SANDBOX_PATH * 2). */
static bool under(char *out, const char *root, const char *path)
{
  return join(out, 2 * SC_SANDBOX_PATH, root, path);
}

/* Binds the node's path at root + path, read-only (and nosuid) all the way
 * down; a symlink is made again; absent paths are skipped. */
static int expose(const char *root, const char *path)
{
  char dst[2 * SC_SANDBOX_PATH], target[SC_SANDBOX_PATH];
  struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID};
  struct stat st;
  ssize_t n;

  if (lstat(path, &st) != 0 || !under(dst, root, path))
    return 0;
  if (S_ISLNK(st.st_mode)) {
    if ((n = readlink(path, target, sizeof target - 1)) < 0)
      return -1;
    target[n] = '\0';
    return symlink(target, dst) == 0 || errno == EEXIST ? 0 : -1;
  }
  if (!S_ISDIR(st.st_mode))
    return 0;
  if (!make_dirs(dst) || mount(path, dst, NULL, MS_BIND | MS_REC, NULL) != 0)
    return -1;
  return mount_setattr(AT_FDCWD, dst, AT_RECURSIVE, &ro, sizeof ro);
}

/* A fresh /dev at root/dev: the basic nodes (bound from the node's /dev),
 * pseudo-terminals, shm and the task's own device nodes, nothing else. */
static int build_dev(const struct sc_sandbox *sb, const char *root, const char **step)
{
  char dst[2 * SC_SANDBOX_PATH], dir[2 * SC_SANDBOX_PATH], rel[128];

  *step = "mount a tmpfs on /dev";
  if (!under(dir, root, "/dev") || !make_dirs(dir) ||
      mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=65536k") != 0)
    return -1;
  *step = "bind the basic device nodes";
  for (size_t i = 0; i < sizeof basic_nodes / sizeof basic_nodes[0]; i++) {
    if (!join(rel, sizeof rel, "/dev/", basic_nodes[i]) || !under(dst, root, rel) ||
        !make_file(dst) || mount(rel, dst, NULL, MS_BIND, NULL) != 0)
      return -1;
  }
  *step = "mount /dev/pts";
  if (!under(dst, root, "/dev/pts") || mkdir(dst, 0755) != 0 ||
      mount("devpts", dst, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") !=
        0 ||
      !under(dst, root, "/dev/ptmx") || symlink("pts/ptmx", dst) != 0)
    return -1;
  *step = "mount /dev/shm";
  if (!under(dst, root, "/dev/shm") || mkdir(dst, 01777) != 0 ||
      mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
    return -1;
  if (under(dst, root, "/dev/fd"))
    symlink("/proc/self/fd", dst);
  if (under(dst, root, "/dev/stdin"))
    symlink("/proc/self/fd/0", dst);
  if (under(dst, root, "/dev/stdout"))
    symlink("/proc/self/fd/1", dst);
  if (under(dst, root, "/dev/stderr"))
    symlink("/proc/self/fd/2", dst);
  *step = "bind the task's device nodes";
  for (int i = 0; i < sb->ndev; i++) {
    if (!join(rel, sizeof rel, "/dev/", sb->dev[i].name) || !under(dst, root, rel))
      return -1;
    if (strchr(sb->dev[i].name, '/')) { /* dri/renderD128 */
      memcpy(dir, dst, sizeof dir);
      *strrchr(dir, '/') = '\0';
      if (!make_dirs(dir))
        return -1;
    }
    if (!make_file(dst) || mount(sb->dev[i].src, dst, NULL, MS_BIND, NULL) != 0)
      return -1;
  }
  return 0;
}

/* Binds the node's path (the work dir, a shared one) read-write at
 * root + path. */
static int bind_rw(const char *root, const char *path)
{
  char dst[2 * SC_SANDBOX_PATH];

  if (!under(dst, root, path) || !make_dirs(dst))
    return -1;
  return mount(path, dst, NULL, MS_BIND | MS_REC, NULL);
}

int sc_sandbox_enter(const struct sc_sandbox *sb, const char **step)
{
  char dst[2 * SC_SANDBOX_PATH], old[2 * SC_SANDBOX_PATH];
  const char *root = sb->root;
  struct stat st;

  if (sb->image)
    return enter_image(step);
  umask(022); /* the agent's 077 would make the dirs leading to binds the
               * task's user cannot cross */
  *step = "bring up loopback";
  if (sb->no_network && loopback_up() != 0)
    return -1;
  *step = "make / a slave mount";
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0)
    return -1;
  /* A new root on a tmpfs: the node's system paths read-only, a fresh
   * /proc, private /tmp and /var/tmp, a built /dev, the task's work dir and
   * the shared dirs; then pivot_root into it and let go of the node's. */
  *step = "mount the task's root";
  if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
    return -1;
  *step = "expose the node's system paths";
  for (size_t i = 0; i < sizeof system_paths / sizeof system_paths[0]; i++)
    if (expose(root, system_paths[i]) != 0)
      return -1;
  *step = "mount /proc";
  if (!under(dst, root, "/proc") || !make_dirs(dst) ||
      mount("proc", dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
    return -1;
  *step = "mount a private /tmp";
  if (!under(dst, root, "/tmp") || !make_dirs(dst) ||
      mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
    return -1;
  *step = "mount a private /var/tmp";
  if (!under(dst, root, "/var/tmp") || !make_dirs(dst) ||
      mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
    return -1;
  if (build_dev(sb, root, step) != 0)
    return -1;
  /* Binds, then the hidden dirs over them (a shared path may hold one),
   * then the binds that lie in a hidden dir again (the work dir in the
   * agent's state dir). */
  *step = "bind the work dir or a shared path";
  for (int i = 0; i < sb->nbind; i++)
    if (bind_rw(root, sb->bind[i].path) != 0)
      return -1;
  *step = "hide a directory";
  for (int i = 0; i < sb->nhide; i++)
    if (under(dst, root, sb->hide[i]) && stat(dst, &st) == 0 && S_ISDIR(st.st_mode) &&
        mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") != 0)
      return -1;
  *step = "bind the work dir back";
  for (int i = 0; i < sb->nbind; i++)
    for (int h = 0; h < sb->nhide; h++) {
      size_t n = strlen(sb->hide[h]);
      if (strncmp(sb->bind[i].path, sb->hide[h], n) == 0 &&
          (sb->bind[i].path[n] == '/' || sb->bind[i].path[n] == '\0')) {
        if (bind_rw(root, sb->bind[i].path) != 0)
          return -1;
        break;
      }
    }
  *step = "pivot_root into the task's root";
  if (!under(old, root, "/.node") || mkdir(old, 0700) != 0 ||
      syscall(SYS_pivot_root, root, old) != 0 || chdir("/") != 0)
    return -1;
  *step = "let go of the node's root";
  if (umount2("/.node", MNT_DETACH) != 0 || rmdir("/.node") != 0)
    return -1;
  *step = "make the task's root read-only";
  return mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
}

/* What a task keeps: the set container runtimes grant by default (runc's,
 * Docker's), less CAP_MKNOD and CAP_NET_RAW: without the first a task makes
 * no device node the devices cgroup would have to stop (there is no
 * devices controller on cgroup v2 without BPF), without the second it
 * reads no raw packets off the node's network, the agent's and the
 * controller's bearer tokens included. CAP_SYS_ADMIN is gone, so the
 * task cannot unmount what hides the agent's state or remount /proc;
 * CAP_SYS_PTRACE too, so it cannot read its init's memory. */
static const int kept_caps[] = {
  CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_SETGID, CAP_SETUID, CAP_SETFCAP,
  CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE,
};

int sc_sandbox_drop_privileges(const char **step)
{
  *step = "drop capabilities";
  for (int cap = 0; cap < 64; cap++) {
    bool keep = false;
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
      break; /* past the kernel's last capability */
    for (size_t i = 0; i < sizeof kept_caps / sizeof kept_caps[0]; i++)
      keep = keep || kept_caps[i] == cap;
    if (!keep && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
      return -1;
  }
  *step = "set no_new_privs";
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}
