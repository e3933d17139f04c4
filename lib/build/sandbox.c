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
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
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

static int sandbox_parent_ns(bx_run *r, int out, ld_error **err) {
  int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | (r->network_none ? CLONE_NEWNET : 0);
  if (unshare(flags) < 0) return ld_err_sys(err, errno, "sandbox: unshare namespaces");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return ld_err_sys(err, errno, "sandbox: make / private");
  if (bx_mount_overlay(&r->ov, r->mnt, err) < 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return ld_err_sys(err, errno, "sandbox: fork");
  if (pid == 0) sandbox_child(r, out);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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
    int code = sandbox_parent_ns(r, outp[1], &e);
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
