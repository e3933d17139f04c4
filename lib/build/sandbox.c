/* The RUN sandbox: namespaces, an overlay root, a minimal /dev, pivot_root.
 *
 * Process tree: the builder forks child A, which unshares mount, PID, UTS, IPC (and network with
 * --network none) namespaces, makes every mount private and mounts the overlay (lower layers
 * read-only, upper = the new layer). A forks B, which is PID 1 of the new PID namespace: B mounts
 * proc, a tmpfs /dev with the usual device nodes, devpts (newinstance), /dev/shm, a read-only
 * sysfs, binds /etc/hosts and /etc/resolv.conf, pivots into the overlay, detaches the old root,
 * switches to the stage's USER (resolved from the image's own /etc/passwd and /etc/group) and
 * WORKDIR and execs the command. When A exits, its mount namespace and every mount in it are
 * gone, so nothing can leak onto the host, even if the builder is killed.
 *
 * Output: B's stdout and stderr go to one pipe; the builder streams it and keeps the tail for the
 * error message of a failing RUN. Mount points created only to hold mounts (an empty /proc, an
 * empty /etc/hosts the image did not have) are removed from the upper directory afterwards, so
 * the layer carries only what the command did.
 *
 * RUN --mount: B makes each mount before pivoting, in the order written: binds (from a host
 * directory, or from an overlay of a stage's layers, with a throw-away upper when rw), caches,
 * tmpfs, secrets (copied into a tmpfs of this namespace, never to disk) and ssh agent sockets:
 * each a socket of our own with the mount's owner and mode, relayed to the agent by a proxy
 * process that child A starts before entering the namespaces and kills when the RUN is over.
 * Every target is opened inside the root (openat2 RESOLVE_IN_ROOT) and mounted through its
 * /proc/self/fd path, so an image's symlink cannot send a mount outside the root. Mount points
 * that had to be created are written to the litter fd; the builder removes them from the upper
 * directory afterwards (bx_clean_mount_points), with the parents that were copied up only for them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "internal.h"
#include "lading/fs.h"
#include "lading/util.h"

extern char **environ;

int bx_mount_overlay(const bx_overlay *ov, const char *target, ld_error **err) {
  ld_buf opts = {0};
  ld_buf_puts(&opts, "lowerdir=");
  for (size_t i = 0; i < ov->n_lower; i++) {
    if (i) ld_buf_puts(&opts, ":");
    ld_buf_puts(&opts, ov->lower[i]);
  }
  if (ov->n_lower < 2 && ov->empty) {
    if (ov->n_lower) ld_buf_puts(&opts, ":");
    ld_buf_puts(&opts, ov->empty);
  }
  if (ov->upper) ld_buf_printf(&opts, ",upperdir=%s,workdir=%s", ov->upper, ov->work);
  ld_buf_puts(&opts, ",redirect_dir=off,index=off,metacopy=off");
  int r = 0;
  unsigned long flags = ov->upper ? 0 : MS_RDONLY;
  if (mount("overlay", target, "overlay", flags, opts.data) < 0)
    r = ld_err_sys(err, errno, "mount overlay on %s (%zu layers)", target, ov->n_lower);
  ld_buf_free(&opts);
  return r;
}

/* ---- a child with its own mount namespace ---- */

static void send_error(int fd, ld_error *e) {
  if (e && e->msg) ld_write_all(fd, e->msg, strlen(e->msg));
  ld_error_free(e);
}

static int wait_child(pid_t pid, int errfd, const char *what, ld_error **err) {
  char msg[1024];
  ssize_t n = 0, k;
  while ((k = read(errfd, msg + n, sizeof msg - 1 - (size_t) n)) > 0) n += k;
  msg[n > 0 ? n : 0] = 0;
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  if (n > 0) return ld_err(err, EIO, "%s", msg);
  return ld_err(err, EIO, "%s: child failed (status %d)", what, status);
}

int bx_in_mount_ns(bx_child_fn fn, void *arg, ld_error **err) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return ld_err_sys(err, errno, "pipe");
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return ld_err_sys(err, errno, "fork");
  if (pid == 0) {
    close(p[0]);
    ld_error *e = NULL;
    int r;
    if (unshare(CLONE_NEWNS) < 0) r = ld_err_sys(&e, errno, "unshare mount namespace");
    else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) r = ld_err_sys(&e, errno, "make / private");
    else r = fn(arg, &e);
    if (r < 0) send_error(p[1], e);
    _exit(r < 0 ? 1 : 0);
  }
  close(p[1]);
  int r = wait_child(pid, p[0], "mount namespace", err);
  close(p[0]);
  return r;
}

/* ---- inside the sandbox ---- */

static int must(int r, const char *what, ld_error **err) {
  return r < 0 ? ld_err_sys(err, errno, "sandbox: %s", what) : 0;
}

/* A mount point directly under the root; an image's symlink there is refused, never followed. */
static int mkdir_here(const char *root, const char *rel, mode_t mode) {
  char *p = ld_path_join(root, rel);
  struct stat st;
  int r = mkdir(p, mode);
  if (r < 0 && errno == EEXIST) {
    r = lstat(p, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
    if (r < 0) errno = ENOTDIR;
  }
  free(p);
  return r;
}

static int make_dev(const char *mnt, ld_error **err) {
  static const struct { const char *name; unsigned maj, min; } devs[] = {
      {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  char *dev = ld_path_join(mnt, "dev");
  int r = 0;
  if (mkdir_here(mnt, "dev", 0755) < 0 ||
      mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") < 0)
    r = must(-1, "mount /dev", err);
  for (size_t i = 0; r == 0 && i < LD_ARRAY_SIZE(devs); i++) {
    char *p = ld_path_join(dev, devs[i].name);
    if (mknod(p, S_IFCHR | 0666, makedev(devs[i].maj, devs[i].min)) < 0 || chmod(p, 0666) < 0)
      r = ld_err_sys(err, errno, "sandbox: mknod %s", p);
    free(p);
  }
  if (r == 0) {
    char *pts = ld_path_join(dev, "pts"), *shm = ld_path_join(dev, "shm");
    if (mkdir(pts, 0755) < 0 ||
        mount("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
      r = must(-1, "mount /dev/pts", err);
    else if (mkdir(shm, 01777) < 0 ||
             mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") < 0)
      r = must(-1, "mount /dev/shm", err);
    free(pts);
    free(shm);
  }
  static const char *links[][2] = {{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
                                   {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
  for (size_t i = 0; r == 0 && i < LD_ARRAY_SIZE(links); i++) {
    char *p = ld_path_join(dev, links[i][1]);
    if (symlink(links[i][0], p) < 0) r = must(-1, "symlink in /dev", err);
    free(p);
  }
  free(dev);
  return r;
}

/* Binds src over mnt/rel when the image has /etc (creating the file if needed). */
static int bind_file(const char *mnt, const char *rel, const char *src, ld_error **err) {
  if (!src) return 0;
  char *etc = ld_path_join(mnt, "etc");
  struct stat st;
  bool has_etc = lstat(etc, &st) == 0 && S_ISDIR(st.st_mode); /* not through a symlink */
  free(etc);
  if (!has_etc) return 0;
  char *p = ld_path_join(mnt, rel);
  int r = 0;
  if (lstat(p, &st) < 0) {
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) close(fd);
  } else if (S_ISLNK(st.st_mode)) { /* do not follow the image's symlink out of the root */
    free(p);
    return 0;
  }
  if (mount(src, p, NULL, MS_BIND, NULL) < 0) r = ld_err_sys(err, errno, "sandbox: bind %s", rel);
  else mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
  free(p);
  return r;
}

/* ---- RUN --mount ---- */

/* Records a mount point this run had to create, by its path inside the root (symlinks on the
 * way resolved), so that the builder can take it out of the layer afterwards. */
static void note_created(bx_run *r, const char *root_real, int fd) {
  char link[64], real[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, real, sizeof real - 1);
  if (n <= 0 || r->litter_fd < 0) return;
  real[n] = 0;
  size_t rl = strlen(root_real);
  if (strncmp(real, root_real, rl) || real[rl] != '/') return;
  ld_write_all(r->litter_fd, real + rl + 1, strlen(real + rl + 1));
  ld_write_all(r->litter_fd, "\n", 1);
}

/* Opens target inside the root (O_PATH), creating what is missing: directories, and an empty
 * file as the last component when file is set. */
static int make_mount_point(bx_run *r, int rootfd, const char *root_real, const char *target, bool file,
                            ld_error **err) {
  char *clean;
  if (ld_path_clean(target, true, &clean, err) < 0) return -1;
  int fd = -1;
  for (char *p = clean;;) {
    char *slash = strchr(p, '/');
    if (slash) *slash = 0;
    fd = ld_open_in_root(rootfd, *clean ? clean : ".", O_PATH, 0, NULL);
    if (fd < 0) {
      char *name = strrchr(clean, '/');
      if (name) *name = 0;
      int parent = ld_open_in_root(rootfd, name ? clean : ".", O_RDONLY | O_DIRECTORY, 0, err);
      if (name) *name = '/';
      const char *base = name ? name + 1 : clean;
      int made = -1;
      if (parent >= 0) {
        if (file && !slash) {
          made = openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
          if (made >= 0) close(made);
        } else {
          made = mkdirat(parent, base, 0755);
        }
        if (made < 0) ld_err_sys(err, errno, "sandbox: create mount point %s", target);
        close(parent);
      }
      if (made >= 0) fd = ld_open_in_root(rootfd, clean, O_PATH, 0, err);
      if (fd >= 0) note_created(r, root_real, fd);
    }
    if (fd < 0 || !slash) break;
    close(fd);
    fd = -1;
    *slash = '/';
    p = slash + 1;
  }
  free(clean);
  return fd;
}

static char *fd_path(int fd) { return ld_xasprintf("/proc/self/fd/%d", fd); }

/* Binds src (an O_PATH fd) over the mount point for target; read-only when asked. */
static int bind_fd(bx_run *r, int rootfd, const char *root_real, int src, const char *target, bool ro,
                   ld_error **err) {
  struct stat st;
  if (fstat(src, &st) < 0) return ld_err_sys(err, errno, "sandbox: --mount target %s", target);
  int t = make_mount_point(r, rootfd, root_real, target, !S_ISDIR(st.st_mode), err);
  if (t < 0) return -1;
  char *sp = fd_path(src), *tp = fd_path(t);
  int rc = 0;
  if (mount(sp, tp, NULL, MS_BIND | MS_REC, NULL) < 0) rc = ld_err_sys(err, errno, "sandbox: --mount target %s", target);
  close(t);
  if (rc == 0 && ro) { /* the remount acts on the new mount: reopen the target through it */
    t = ld_open_in_root(rootfd, target, O_PATH, 0, err);
    free(tp);
    tp = t >= 0 ? fd_path(t) : NULL;
    if (t < 0 || mount(NULL, tp, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL) < 0)
      rc = ld_err_sys(err, errno, "sandbox: --mount target %s read-only", target);
    if (t >= 0) close(t);
  }
  free(sp);
  free(tp);
  return rc;
}

static int mount_bind_like(bx_run *r, int rootfd, const char *root_real, bx_mount *m, ld_error **err) {
  const char *src_root = m->root;
  if (m->n_lower) {
    bx_overlay ov = {m->lower, m->n_lower, m->ov_upper, m->ov_work, r->ov.empty};
    if (bx_mount_overlay(&ov, m->ov_mnt, err) < 0) return -1;
    src_root = m->ov_mnt;
  }
  int sroot = open(src_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sroot < 0) return ld_err_sys(err, errno, "sandbox: --mount source %s", src_root);
  const char *sub = m->type == BX_MOUNT_CACHE ? NULL : m->source; /* a cache's source only seeded it */
  int src = ld_open_in_root(sroot, sub && *sub ? sub : ".", O_PATH, 0, NULL);
  close(sroot);
  if (src < 0)
    return ld_err(err, ENOENT, "--mount source %s: not found%s%s", m->source ? m->source : "/",
                  m->from ? " in " : "", m->from ? m->from : "");
  int rc = bind_fd(r, rootfd, root_real, src, m->target, m->readonly, err);
  close(src);
  return rc;
}

/* A secret is copied into a tmpfs of this mount namespace (never on disk) and bound read-only. */
static int mount_secret(bx_run *r, int rootfd, const char *root_real, bx_mount *m, size_t idx, bool *tmpfs_up,
                        ld_error **err) {
  if (!*tmpfs_up) {
    if (mount("tmpfs", r->secrets_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700,size=16m") < 0)
      return ld_err_sys(err, errno, "sandbox: tmpfs for secrets");
    *tmpfs_up = true;
  }
  char *copy = ld_xasprintf("%s/%zu", r->secrets_dir, idx);
  int rc = 0;
  int fd = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
  if ((fd < 0 || ld_write_all(fd, m->data, m->data_len) < 0 ||
                  fchown(fd, m->uid >= 0 ? (uid_t) m->uid : 0, m->gid >= 0 ? (gid_t) m->gid : 0) < 0 ||
                  fchmod(fd, m->mode >= 0 ? (mode_t) m->mode : 0400) < 0))
    rc = ld_err_sys(err, errno, "sandbox: secret %s", m->id);
  if (fd >= 0) close(fd);
  int src = rc == 0 ? open(copy, O_PATH | O_CLOEXEC) : -1;
  if (src >= 0) {
    rc = bind_fd(r, rootfd, root_real, src, m->target, true, err);
    close(src);
  }
  free(copy);
  return rc;
}

static int mount_one(bx_run *r, int rootfd, const char *root_real, size_t i, bool *secrets_up, ld_error **err) {
  bx_mount *m = &r->mounts[i];
  if (m->skip || !m->target) return 0;
  switch (m->type) {
    case BX_MOUNT_BIND:
    case BX_MOUNT_CACHE:
      return mount_bind_like(r, rootfd, root_real, m, err);
    case BX_MOUNT_TMPFS: {
      int t = make_mount_point(r, rootfd, root_real, m->target, false, err);
      if (t < 0) return -1;
      char *tp = fd_path(t), opts[64] = "";
      if (m->size) snprintf(opts, sizeof opts, "size=%llu", (unsigned long long) m->size);
      int rc = 0;
      if (mount("tmpfs", tp, "tmpfs", MS_NOSUID | MS_NODEV, *opts ? opts : NULL) < 0)
        rc = ld_err_sys(err, errno, "sandbox: --mount=type=tmpfs on %s", m->target);
      free(tp);
      close(t);
      return rc;
    }
    case BX_MOUNT_SECRET:
      return mount_secret(r, rootfd, root_real, m, i, secrets_up, err);
    case BX_MOUNT_SSH: { /* the proxy's socket (start_ssh_proxies), not the agent's own */
      char *sock = ld_path_join(m->root, "agent.sock");
      int src = open(sock, O_PATH | O_CLOEXEC);
      free(sock);
      if (src < 0) return ld_err_sys(err, errno, "ssh agent proxy socket in %s", m->root);
      int rc = bind_fd(r, rootfd, root_real, src, m->target, false, err);
      close(src);
      return rc;
    }
  }
  return 0;
}

static int mount_user(bx_run *r, ld_error **err) {
  if (!r->n_mounts) return 0;
  int rootfd = open(r->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return ld_err_sys(err, errno, "open %s", r->mnt);
  char *root_real = realpath(r->mnt, NULL);
  bool secrets_up = false;
  int rc = root_real ? 0 : ld_err_sys(err, errno, "realpath %s", r->mnt);
  for (size_t i = 0; rc == 0 && i < r->n_mounts; i++) rc = mount_one(r, rootfd, root_real, i, &secrets_up, err);
  free(root_real);
  close(rootfd);
  return rc;
}

static int setup_root(bx_run *r, ld_error **err) {
  const char *m = r->mnt;
  char *proc = ld_path_join(m, "proc"), *sys = ld_path_join(m, "sys");
  int rc = 0;
  if (mkdir_here(m, "proc", 0555) < 0 || mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    rc = must(-1, "mount /proc", err);
  else if (mkdir_here(m, "sys", 0555) < 0 ||
           (mount("sysfs", sys, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
            (mount("/sys", sys, NULL, MS_BIND | MS_REC, NULL) < 0 ||
             mount(NULL, sys, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)))
    rc = must(-1, "mount /sys", err);
  free(proc);
  free(sys);
  if (rc == 0) rc = make_dev(m, err);
  if (rc == 0) rc = bind_file(m, "etc/hosts", r->hosts_file, err);
  if (rc == 0) rc = bind_file(m, "etc/resolv.conf", r->resolv_file, err);
  if (rc == 0) rc = mount_user(r, err);
  if (rc == 0 && r->workdir && *r->workdir) {
    int rootfd = open(m, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int fd = rootfd >= 0 ? bx_mkdir_in_root(rootfd, r->workdir, 0755, err) : -1;
    if (fd >= 0) close(fd);
    if (rootfd >= 0) close(rootfd);
    if (fd < 0) rc = -1;
  }
  if (rc == 0 && (chdir(m) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 ||
                  chdir("/") < 0))
    rc = must(-1, "pivot_root", err);
  return rc;
}

static bool all_digits(const char *s) { return *s && strspn(s, "0123456789") == strlen(s); }

/* USER name[:group] → ids, from the image's /etc/passwd and /etc/group (we are inside it). */
static int resolve_user(const char *spec, uid_t *uid, gid_t *gid, char **home, ld_error **err) {
  *uid = 0, *gid = 0, *home = NULL;
  if (!spec || !*spec) return 0;
  char *u = ld_xstrdup(spec), *g = strchr(u, ':');
  if (g) *g++ = 0;
  int rc = 0;
  FILE *f = fopen("/etc/passwd", "re");
  struct passwd *pw = NULL;
  bool found = false;
  while (f && (pw = fgetpwent(f))) {
    if (all_digits(u) ? pw->pw_uid == (uid_t) strtoul(u, NULL, 10) : !strcmp(pw->pw_name, u)) {
      *uid = pw->pw_uid, *gid = pw->pw_gid, *home = ld_xstrdup(pw->pw_dir);
      found = true;
      break;
    }
  }
  if (f) fclose(f);
  if (!found) {
    if (all_digits(u)) *uid = (uid_t) strtoul(u, NULL, 10);
    else rc = ld_err(err, ENOENT, "unable to find user %s: no matching entries in passwd file", u);
  }
  if (rc == 0 && g) {
    if (all_digits(g)) *gid = (gid_t) strtoul(g, NULL, 10);
    else {
      f = fopen("/etc/group", "re");
      struct group *gr;
      found = false;
      while (f && (gr = fgetgrent(f)))
        if (!strcmp(gr->gr_name, g)) { *gid = gr->gr_gid; found = true; break; }
      if (f) fclose(f);
      if (!found) rc = ld_err(err, ENOENT, "unable to find group %s: no matching entries in group file", g);
    }
  }
  free(u);
  return rc;
}

static void sandbox_child(bx_run *r, int out) {
  ld_error *e = NULL;
  dup2(out, 1);
  dup2(out, 2);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, 0);
  sethostname("lading", 6);
  uid_t uid;
  gid_t gid;
  char *home = NULL;
  if (setup_root(r, &e) < 0 || resolve_user(r->user, &uid, &gid, &home, &e) < 0) goto fail;
  if (uid != 0 || gid != 0) {
    if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
      ld_err_sys(&e, errno, "sandbox: switch to user %s", r->user);
      goto fail;
    }
  }
  if (chdir(r->workdir && *r->workdir ? r->workdir : "/") < 0) {
    ld_err_sys(&e, errno, "sandbox: chdir %s", r->workdir);
    goto fail;
  }
  ld_buf hv = {0};
  bool has_home = false;
  for (char **p = r->env; *p; p++) if (ld_str_has_prefix(*p, "HOME=")) has_home = true;
  environ = r->env;
  if (!has_home) {
    ld_buf_printf(&hv, "%s", home ? home : "/root");
    setenv("HOME", hv.data, 1);
  }
  signal(SIGPIPE, SIG_DFL);
  execvp(r->argv[0], r->argv);
  ld_err_sys(&e, errno, "exec %s", r->argv[0]);
fail:
  fprintf(stderr, "lading: %s\n", e ? e->msg : "sandbox failed");
  _exit(125);
}

/* A new network namespace starts with lo down; --network none keeps loopback working, as
 * BuildKit's does (a test server on 127.0.0.1 inside a RUN). */
static int loopback_up(ld_error **err) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr = {0};
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  int rc = fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ? -1 : 0;
  if (rc == 0) {
    ifr.ifr_flags |= IFF_UP;
    rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
  }
  if (rc < 0) ld_err_sys(err, errno, "sandbox: bring up lo");
  if (fd >= 0) close(fd);
  return rc;
}

static int sandbox_parent_ns(bx_run *r, int out, ld_error **err) {
  int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | (r->network_none ? CLONE_NEWNET : 0);
  if (unshare(flags) < 0) return ld_err_sys(err, errno, "sandbox: unshare namespaces");
  if (r->network_none && loopback_up(err) < 0) return -1;
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return ld_err_sys(err, errno, "sandbox: make / private");
  if (bx_mount_overlay(&r->ov, r->mnt, err) < 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return ld_err_sys(err, errno, "sandbox: fork");
  if (pid == 0) sandbox_child(r, out);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- ssh agent forwarding ---- */

/* Copies bytes both ways until either side closes. */
static void relay(int a, int b) {
  struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
  char buf[16384];
  for (;;) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; i++) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(p[i].fd, buf, sizeof buf);
      if (n <= 0 || ld_write_all(p[1 - i].fd, buf, (size_t) n) < 0) return;
    }
  }
}

static int connect_unix(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) return -1;
  memcpy(sa.sun_path, path, strlen(path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

/* The proxy process: one relay process per connection, all killed with it. */
static void ssh_proxy_loop(int lfd, const char *agent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGCHLD, SIG_IGN); /* relays are reaped by the kernel */
  for (;;) {
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR) continue;
      _exit(0);
    }
    if (fork() == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int up = connect_unix(agent);
      if (up >= 0) relay(c, up);
      _exit(0);
    }
    close(c);
  }
}

/* A socket of our own per ssh mount (in its scratch directory, with the mount's owner and mode),
 * relaying to the agent, so that the RUN's USER can use it as BuildKit allows. Started before the
 * namespaces: the proxies are not in the RUN's PID namespace and reach the host's agent. */
static int start_ssh_proxies(bx_run *r, const int *close_fds, size_t n_close, pid_t *pids, size_t *n, ld_error **err) {
  *n = 0;
  for (size_t i = 0; i < r->n_mounts; i++) {
    bx_mount *m = &r->mounts[i];
    if (m->type != BX_MOUNT_SSH || m->skip) continue;
    int here = open(".", O_PATH | O_CLOEXEC);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "agent.sock"};
    /* bound by a relative name: scratch paths can be longer than sun_path */
    int rc = lfd < 0 || here < 0 || chdir(m->root) < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof sa) < 0 ||
                     chown("agent.sock", m->uid >= 0 ? (uid_t) m->uid : 0, m->gid >= 0 ? (gid_t) m->gid : 0) < 0 ||
                     chmod("agent.sock", m->mode >= 0 ? (mode_t) m->mode : 0600) < 0 || listen(lfd, 16) < 0
                 ? ld_err_sys(err, errno, "ssh agent proxy in %s", m->root)
                 : 0;
    if (here >= 0) {
      if (fchdir(here) < 0) {}
      close(here);
    }
    pid_t pid = rc == 0 ? fork() : -1;
    if (rc == 0 && pid < 0) rc = ld_err_sys(err, errno, "fork ssh agent proxy");
    if (pid == 0) {
      for (size_t k = 0; k < n_close; k++) close(close_fds[k]);
      ssh_proxy_loop(lfd, m->file);
    }
    if (lfd >= 0) close(lfd);
    if (rc < 0) return -1;
    pids[(*n)++] = pid;
  }
  return 0;
}

int bx_sandbox_run(bx_run *r, ld_error **err) {
  int outp[2], errp[2];
  if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) return ld_err_sys(err, errno, "pipe");
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return ld_err_sys(err, errno, "fork");
  if (pid == 0) {
    close(outp[0]);
    close(errp[0]);
    ld_error *e = NULL;
    pid_t *proxies = ld_xcalloc(r->n_mounts + 1, sizeof *proxies);
    size_t n_proxies = 0;
    int keep_out[2] = {outp[1], errp[1]};
    int code = start_ssh_proxies(r, keep_out, 2, proxies, &n_proxies, &e) < 0 ? -1 : sandbox_parent_ns(r, outp[1], &e);
    for (size_t i = 0; i < n_proxies; i++) {
      kill(proxies[i], SIGKILL);
      while (waitpid(proxies[i], NULL, 0) < 0 && errno == EINTR) {}
    }
    free(proxies);
    if (code < 0) {
      send_error(errp[1], e);
      _exit(125);
    }
    _exit(code);
  }
  close(outp[1]);
  close(errp[1]);
  char buf[4096];
  size_t tail_len = 0;
  ssize_t n;
  while ((n = read(outp[0], buf, sizeof buf)) > 0) {
    if (!r->quiet) ld_write_all(2, buf, (size_t) n);
    size_t keep = sizeof r->tail - 1;
    if ((size_t) n >= keep) {
      memcpy(r->tail, buf + n - keep, keep);
      tail_len = keep;
    } else {
      if (tail_len + (size_t) n > keep) {
        size_t drop = tail_len + (size_t) n - keep;
        memmove(r->tail, r->tail + drop, tail_len - drop);
        tail_len -= drop;
      }
      memcpy(r->tail + tail_len, buf, (size_t) n);
      tail_len += (size_t) n;
    }
  }
  r->tail[tail_len] = 0;
  close(outp[0]);
  char emsg[1024];
  ssize_t en = 0, k;
  while ((k = read(errp[0], emsg + en, sizeof emsg - 1 - (size_t) en)) > 0) en += k;
  emsg[en > 0 ? en : 0] = 0;
  close(errp[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (en > 0) return ld_err(err, EIO, "%s", emsg);
  r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return 0;
}

static bool empty_dir(const char *p) {
  DIR *d = opendir(p);
  if (!d) return false;
  struct dirent *de;
  bool empty = true;
  while ((de = readdir(d)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) { empty = false; break; }
  closedir(d);
  return empty;
}

void bx_clean_litter(const char *upper) {
  static const char *dirs[] = {"proc", "sys", "dev"};
  for (size_t i = 0; i < LD_ARRAY_SIZE(dirs); i++) {
    char *p = ld_path_join(upper, dirs[i]);
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && empty_dir(p)) rmdir(p);
    free(p);
  }
  bool removed = false;
  static const char *files[] = {"etc/hosts", "etc/resolv.conf"};
  for (size_t i = 0; i < LD_ARRAY_SIZE(files); i++) {
    char *p = ld_path_join(upper, files[i]);
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 && unlink(p) == 0) removed = true;
    free(p);
  }
  if (removed) {
    char *etc = ld_path_join(upper, "etc");
    if (empty_dir(etc)) rmdir(etc);
    free(etc);
  }
}

int bx_mkdir_in_root(int rootfd, const char *path, mode_t mode, ld_error **err) {
  char *prefix;
  if (ld_path_clean(path, true, &prefix, err) < 0) return -1;
  int fd = ld_open_in_root(rootfd, *prefix ? prefix : ".", O_RDONLY | O_DIRECTORY, 0, NULL);
  /* Component by component, each parent opened from the root so symlinks resolve inside it. */
  for (char *p = prefix; fd < 0;) {
    char *next = strchr(p, '/');
    if (next) *next = 0;
    char *last = strrchr(prefix, '/');
    if (last) *last = 0;
    int parent = ld_open_in_root(rootfd, last ? prefix : ".", O_RDONLY | O_DIRECTORY, 0, err);
    if (last) *last = '/';
    if (parent < 0) break;
    int r = mkdirat(parent, last ? last + 1 : prefix, mode);
    close(parent);
    if (r < 0 && errno != EEXIST) {
      ld_err_sys(err, errno, "create directory %s", path);
      break;
    }
    if (!next) {
      fd = ld_open_in_root(rootfd, prefix, O_RDONLY | O_DIRECTORY, 0, err);
      break;
    }
    *next = '/';
    p = next + 1;
  }
  free(prefix);
  return fd;
}

/* An upper directory that only exists because a mount point was made in it: empty, not opaque,
 * and with the mode and owner the lower layers give it (only its mtime moved). */
static bool copied_up_only(const char *upper, const char *rel, const char *const *lower, size_t n_lower) {
  char *p = ld_path_join(upper, rel);
  struct stat st, lst;
  char v[4];
  bool only = lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && empty_dir(p) &&
              !(lgetxattr(p, "trusted.overlay.opaque", v, sizeof v) >= 1 && v[0] == 'y');
  free(p);
  if (!only) return false;
  for (size_t i = 0; i < n_lower; i++) {
    char *lp = ld_path_join(lower[i], rel);
    int found = lstat(lp, &lst);
    free(lp);
    if (found == 0)
      return S_ISDIR(lst.st_mode) && lst.st_mode == st.st_mode && lst.st_uid == st.st_uid && lst.st_gid == st.st_gid;
  }
  return false;
}

void bx_clean_mount_points(const char *upper, const char *const *lower, size_t n_lower, const char *litter) {
  if (!litter || !*litter) return;
  char *list = ld_xstrdup(litter), **paths = NULL;
  size_t n = 0;
  for (char *save = NULL, *l = strtok_r(list, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    paths = ld_xrealloc(paths, (n + 1) * sizeof *paths);
    paths[n++] = l;
  }
  for (size_t i = n; i-- > 0;) { /* deepest first: they were made top-down */
    char *p = ld_path_join(upper, paths[i]);
    struct stat st;
    if (lstat(p, &st) == 0) {
      if (S_ISDIR(st.st_mode) && empty_dir(p)) rmdir(p);
      else if (S_ISREG(st.st_mode) && st.st_size == 0) unlink(p);
    }
    free(p);
    /* then the parents the mkdir copied up, as long as nothing else changed in them */
    char *parent = ld_xstrdup(paths[i]);
    for (char *slash; (slash = strrchr(parent, '/'));) {
      *slash = 0;
      if (!copied_up_only(upper, parent, lower, n_lower)) break;
      char *pp = ld_path_join(upper, parent);
      rmdir(pp);
      free(pp);
    }
    free(parent);
  }
  free(paths);
  free(list);
}
