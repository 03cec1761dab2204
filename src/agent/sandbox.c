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
#include <unistd.h>

#include "util/error.h"

int sc_sandbox_clone_flags(const struct sc_sandbox *sb)
{
  if (sb->image) /* the runtime makes the container's own namespaces */
    return CLONE_NEWPID | CLONE_NEWNS;
  return CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS |
         (sb->no_network ? CLONE_NEWNET : 0);
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

void sc_sandbox_prepare(struct sc_sandbox *sb, const char *const *hide, int nhide,
                        const char *workdir, const char *const *shared, int nshared,
                        const char *dev_dir, const char (*dev_names)[64], int ndev)
{
  struct stat st;

  memset(sb, 0, sizeof *sb);
  sb->enabled = true;
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

/* "/proc/self/fd/<fd>" into out. */
static void fd_path(char *out, int fd)
{
  char num[16], *p = num + sizeof num;

  *--p = '\0';
  do
    *--p = (char)('0' + fd % 10);
  while ((fd /= 10) > 0);
  join(out, 32, "/proc/self/fd/", p);
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

static int open_path(const char *path)
{
  return open(path, O_PATH | O_CLOEXEC);
}

/* Binds the object of fd at path, making the mount point as its kind says. */
static int bind_fd(int fd, const char *path, bool dir)
{
  char src[32];

  fd_path(src, fd);
  if (dir ? !make_dirs(path) : !make_file(path))
    return -1;
  return mount(src, path, NULL, MS_BIND | MS_REC, NULL);
}

static const char *const basic_nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};

/* The fds the view is built from, opened before anything is covered. */
struct open_fds {
  int dev, bind[SC_SANDBOX_MAX_BIND], node[SC_SANDBOX_MAX_DEV];
};

/* A fresh /dev: the basic nodes (bound from the node's /dev, reached
 * through a bind of it at stage), pseudo-terminals, shm and the task's
 * devices. */
static int build_dev(const struct sc_sandbox *sb, const struct open_fds *fds, const char *stage,
                     const char **step)
{
  char src[SC_SANDBOX_PATH], dst[128];

  *step = "bind the node's /dev";
  if (bind_fd(fds->dev, stage, true) != 0)
    return -1;
  *step = "mount a tmpfs on /dev";
  if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=65536k") != 0)
    return -1;
  *step = "bind the basic device nodes";
  for (size_t i = 0; i < sizeof basic_nodes / sizeof basic_nodes[0]; i++) {
    if (!join(src, sizeof src, stage, "/") || !join(src, sizeof src, src, basic_nodes[i]) ||
        !join(dst, sizeof dst, "/dev/", basic_nodes[i]) || !make_file(dst) ||
        mount(src, dst, NULL, MS_BIND, NULL) != 0)
      return -1;
  }
  *step = "mount /dev/pts";
  if (mkdir("/dev/pts", 0755) != 0 ||
      mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
            "newinstance,ptmxmode=0666,mode=0620") != 0 ||
      symlink("pts/ptmx", "/dev/ptmx") != 0)
    return -1;
  *step = "mount /dev/shm";
  if (mkdir("/dev/shm", 01777) != 0 ||
      mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
    return -1;
  symlink("/proc/self/fd", "/dev/fd");
  symlink("/proc/self/fd/0", "/dev/stdin");
  symlink("/proc/self/fd/1", "/dev/stdout");
  symlink("/proc/self/fd/2", "/dev/stderr");
  *step = "bind the task's device nodes";
  for (int i = 0; i < sb->ndev; i++) {
    if (!join(dst, sizeof dst, "/dev/", sb->dev[i].name))
      return -1;
    if (strchr(sb->dev[i].name, '/')) { /* dri/renderD128 */
      char dir[128];
      memcpy(dir, dst, sizeof dir);
      *strrchr(dir, '/') = '\0';
      if (!make_dirs(dir))
        return -1;
    }
    if (bind_fd(fds->node[i], dst, false) != 0)
      return -1;
  }
  *step = "detach the node's /dev";
  if (umount2(stage, MNT_DETACH) != 0)
    return -1;
  rmdir(stage);
  return 0;
}

int sc_sandbox_enter(const struct sc_sandbox *sb, const char **step)
{
  static const char stage[] = "/tmp/.sc-node-dev";
  struct open_fds fds;
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
  *step = "open what the view binds";
  if ((fds.dev = open_path("/dev")) < 0)
    return -1;
  for (int i = 0; i < sb->nbind; i++)
    if ((fds.bind[i] = open_path(sb->bind[i].path)) < 0)
      return -1;
  for (int i = 0; i < sb->ndev; i++)
    if ((fds.node[i] = open_path(sb->dev[i].src)) < 0)
      return -1;
  *step = "mount /proc";
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
    return -1;
  *step = "mount a private /tmp";
  if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
    return -1;
  if (stat("/var/tmp", &st) == 0 &&
      mount("tmpfs", "/var/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
    *step = "mount a private /var/tmp";
    return -1;
  }
  if (build_dev(sb, &fds, stage, step) != 0)
    return -1;
  /* Binds first (a private /tmp covered those under it), then the hidden
   * dirs over them (a shared path may hold one), then the binds that lie
   * in a hidden dir again (the work dir in the agent's state dir). */
  *step = "bind the work dir or a shared path";
  for (int i = 0; i < sb->nbind; i++)
    if (bind_fd(fds.bind[i], sb->bind[i].path, true) != 0)
      return -1;
  *step = "hide a directory";
  for (int i = 0; i < sb->nhide; i++)
    if (stat(sb->hide[i], &st) == 0 && S_ISDIR(st.st_mode) &&
        mount("tmpfs", sb->hide[i], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") != 0)
      return -1;
  *step = "bind the work dir back";
  for (int i = 0; i < sb->nbind; i++)
    for (int h = 0; h < sb->nhide; h++) {
      size_t n = strlen(sb->hide[h]);
      if (strncmp(sb->bind[i].path, sb->hide[h], n) == 0 &&
          (sb->bind[i].path[n] == '/' || sb->bind[i].path[n] == '\0')) {
        if (bind_fd(fds.bind[i], sb->bind[i].path, true) != 0)
          return -1;
        break;
      }
    }
  return 0;
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
