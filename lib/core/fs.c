/* Atomic writes, directory helpers and safe paths (see include/lading/fs.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "lading/fs.h"
#include "lading/util.h"

int ld_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t) n;
  }
  return 0;
}

int ld_fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int r = fsync(fd);
  close(fd);
  return r;
}

static char *dir_of(const char *path) {
  char *copy = ld_xstrdup(path);
  char *d = ld_xstrdup(dirname(copy));
  free(copy);
  return d;
}

int ld_atomic_open(ld_atomic_file *f, const char *path, mode_t mode, ld_error **err) {
  char *copy = ld_xstrdup(path);
  char *dir = ld_xstrdup(dirname(copy));
  free(copy);
  copy = ld_xstrdup(path);
  char *tmp = ld_xasprintf("%s/.%s.tmp-XXXXXX", dir, basename(copy));
  free(copy);
  free(dir);
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    free(tmp);
    return ld_err_sys(err, e, "%s: cannot create temp file", path);
  }
  fchmod(fd, mode);
  f->fd = fd;
  f->tmp_path = tmp;
  f->final_path = ld_xstrdup(path);
  return 0;
}

int ld_atomic_commit(ld_atomic_file *f, ld_error **err) {
  if (fsync(f->fd) < 0) {
    int e = errno;
    ld_atomic_abort(f);
    return ld_err_sys(err, e, "fsync %s", f->final_path);
  }
  close(f->fd);
  f->fd = -1;
  if (rename(f->tmp_path, f->final_path) < 0) {
    int e = errno;
    ld_atomic_abort(f);
    return ld_err_sys(err, e, "rename to %s", f->final_path);
  }
  char *dir = dir_of(f->final_path);
  ld_fsync_dir(dir);
  free(dir);
  free(f->tmp_path);
  free(f->final_path);
  f->tmp_path = f->final_path = NULL;
  return 0;
}

void ld_atomic_abort(ld_atomic_file *f) {
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  if (f->tmp_path) unlink(f->tmp_path);
  free(f->tmp_path);
  free(f->final_path);
  f->tmp_path = f->final_path = NULL;
}

int ld_atomic_write(const char *path, const void *buf, size_t len, mode_t mode, ld_error **err) {
  ld_atomic_file f;
  if (ld_atomic_open(&f, path, mode, err) < 0) return -1;
  if (ld_write_all(f.fd, buf, len) < 0) {
    int e = errno;
    ld_atomic_abort(&f);
    return ld_err_sys(err, e, "write %s", path);
  }
  return ld_atomic_commit(&f, err);
}

int ld_mkdir_p(const char *path, mode_t mode, ld_error **err) {
  char *p = ld_xstrdup(path);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, mode) < 0 && errno != EEXIST) {
      int e = errno;
      ld_err_sys(err, e, "mkdir %s", p);
      free(p);
      return -1;
    }
    *s = '/';
  }
  if (mkdir(p, mode) < 0 && errno != EEXIST) {
    int e = errno;
    ld_err_sys(err, e, "mkdir %s", p);
    free(p);
    return -1;
  }
  free(p);
  return 0;
}

static int rm_rf_at(int parentfd, const char *name) {
  if (unlinkat(parentfd, name, 0) == 0 || errno == ENOENT) return 0;
  if (errno != EISDIR && errno != EPERM) return -1;
  int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -1;
  }
  struct dirent *de;
  int r = 0;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    if (rm_rf_at(dirfd(d), de->d_name) < 0) r = -1;
  }
  closedir(d);
  if (unlinkat(parentfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) r = -1;
  return r;
}

int ld_rm_rf(const char *path, ld_error **err) {
  if (rm_rf_at(AT_FDCWD, path) < 0) return ld_err_sys(err, errno, "remove %s", path);
  return 0;
}

int ld_read_file(const char *path, size_t max, char **out, size_t *len, ld_error **err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ld_err_sys(err, errno, "%s", path);
  ld_buf b = {0};
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      ld_buf_free(&b);
      return ld_err_sys(err, e, "read %s", path);
    }
    if (n == 0) break;
    if (b.len + (size_t) n > max) {
      close(fd);
      ld_buf_free(&b);
      return ld_err(err, EFBIG, "%s: larger than %zu bytes", path, max);
    }
    ld_buf_append(&b, chunk, (size_t) n);
  }
  close(fd);
  if (len) *len = b.len;
  *out = ld_buf_steal(&b);
  return 0;
}

bool ld_path_exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

char *ld_path_join(const char *a, const char *b) {
  size_t la = strlen(a);
  if (la && a[la - 1] == '/') la--;
  while (*b == '/') b++;
  return ld_xasprintf("%.*s/%s", (int) la, a, b);
}

int ld_path_clean(const char *path, bool allow_absolute, char **out, ld_error **err) {
  if (!allow_absolute && path[0] == '/')
    return ld_err(err, EINVAL, "path \"%.200s\" is absolute", path);
  ld_buf b = {0};
  const char *p = path;
  while (*p) {
    while (*p == '/') p++;
    if (!*p) break;
    const char *end = strchr(p, '/');
    size_t n = end ? (size_t) (end - p) : strlen(p);
    if (n == 1 && p[0] == '.') {
      /* skip */
    } else if (n == 2 && p[0] == '.' && p[1] == '.') {
      ld_buf_free(&b);
      return ld_err(err, EINVAL, "path \"%.200s\" escapes the root (\"..\")", path);
    } else {
      if (b.len) ld_buf_append(&b, "/", 1);
      ld_buf_append(&b, p, n);
    }
    p += n;
  }
  *out = ld_buf_steal(&b);
  return 0;
}

int ld_open_in_root(int rootfd, const char *path, int flags, mode_t mode, ld_error **err) {
  struct open_how how = {
      .flags = (uint64_t) flags | O_CLOEXEC,
      .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  int fd = (int) syscall(SYS_openat2, rootfd, path, &how, sizeof how);
  if (fd < 0) return ld_err_sys(err, errno, "open %s inside root", path);
  return fd;
}

int ld_fs_usage(const char *path, uint64_t *total, uint64_t *avail, ld_error **err) {
  struct statvfs sv;
  if (statvfs(path, &sv) < 0) return ld_err_sys(err, errno, "statvfs %s", path);
  if (total) *total = (uint64_t) sv.f_blocks * sv.f_frsize;
  if (avail) *avail = (uint64_t) sv.f_bavail * sv.f_frsize;
  return 0;
}
