/* Safe layer unpack (see unpack.h).
 *
 * For each entry: the parent directory is opened with ld_open_in_root (creating missing
 * components one by one, each mkdirat relative to an fd that was itself opened inside the root),
 * then the last component is created with *at() calls and O_NOFOLLOW / AT_SYMLINK_NOFOLLOW.
 * An existing non-directory in the way is replaced, as tar does. Ownership and modes are applied
 * after the data (chown clears set-id bits); directories get their mode and times at the very
 * end, deepest first, so writing their children does not disturb them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "lading/fs.h"
#include "lading/unpack.h"
#include "lading/util.h"

typedef struct {
  char *path;
  mode_t mode;
  struct timespec mtime;
} dir_fix;

typedef struct {
  int rootfd;
  ld_unpack_mode mode;
  dir_fix *dirs;
  size_t n_dirs;
  const char *what;
} unpacker;

static int rm_rf_at(int dfd, const char *name);

static int empty_dir_at(int dfd) {
  int fd = dup(dfd);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    if (fd >= 0) close(fd);
    return -1;
  }
  struct dirent *de;
  int r = 0;
  while ((de = readdir(d)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && rm_rf_at(dfd, de->d_name) < 0) r = -1;
  closedir(d);
  return r;
}

static int rm_rf_at(int dfd, const char *name) {
  if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT) return 0;
  if (errno != EISDIR && errno != EPERM) return -1;
  int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (sub < 0) return -1;
  int r = empty_dir_at(sub);
  close(sub);
  if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0) r = -1;
  return r;
}

/* Opens (creating as needed) the directory dir inside the root; each missing component is
 * created from its parent, itself opened from the root, so symlinks resolve inside the root. */
static int open_dir(unpacker *u, const char *dir, ld_error **err) {
  if (!*dir) return fcntl(u->rootfd, F_DUPFD_CLOEXEC, 0);
  int fd = ld_open_in_root(u->rootfd, dir, O_RDONLY | O_DIRECTORY, 0, NULL);
  if (fd >= 0) return fd;
  char *prefix = ld_xstrdup(dir);
  for (char *p = prefix;;) {
    char *next = strchr(p, '/');
    if (next) *next = 0;
    char *last = strrchr(prefix, '/');
    if (last) *last = 0;
    int parent = ld_open_in_root(u->rootfd, last ? prefix : ".", O_RDONLY | O_DIRECTORY, 0, err);
    if (last) *last = '/';
    if (parent < 0) break;
    int r = mkdirat(parent, last ? last + 1 : prefix, 0755);
    close(parent);
    if (r < 0 && errno != EEXIST) {
      ld_err_sys(err, errno, "%s: create directory %s", u->what, dir);
      break;
    }
    if (!next) {
      fd = ld_open_in_root(u->rootfd, prefix, O_RDONLY | O_DIRECTORY, 0, err);
      break;
    }
    *next = '/';
    p = next + 1;
  }
  free(prefix);
  return fd;
}

static void split(const char *path, char **dir, const char **name) {
  const char *slash = strrchr(path, '/');
  *dir = slash ? ld_xstrndup(path, (size_t) (slash - path)) : ld_xstrdup("");
  *name = slash ? slash + 1 : path;
}

static void set_xattrs(int fd, struct archive_entry *ae) {
  const char *k;
  const void *v;
  size_t n;
  archive_entry_xattr_reset(ae);
  while (archive_entry_xattr_next(ae, &k, &v, &n) == ARCHIVE_OK) fsetxattr(fd, k, v, n, 0);
}

static int write_file(unpacker *u, ld_layer_reader *l, int pfd, const char *name, const char *path,
                      struct archive_entry *ae, uint64_t *bytes, ld_error **err) {
  int fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return ld_err_sys(err, errno, "%s: create %s", u->what, path);
  static __thread char buf[1 << 16];
  int r = 0;
  for (;;) {
    ssize_t n = ld_layer_read_data(l, buf, sizeof buf, err);
    if (n < 0) { r = -1; break; }
    if (n == 0) break;
    if (ld_write_all(fd, buf, (size_t) n) < 0) { r = ld_err_sys(err, errno, "%s: write %s", u->what, path); break; }
    *bytes += (uint64_t) n;
  }
  if (r == 0) {
    if (fchown(fd, archive_entry_uid(ae), archive_entry_gid(ae)) < 0 && errno != EPERM)
      r = ld_err_sys(err, errno, "%s: chown %s", u->what, path);
    fchmod(fd, archive_entry_mode(ae) & 07777);
    set_xattrs(fd, ae);
    struct timespec ts[2] = {{archive_entry_mtime(ae), archive_entry_mtime_nsec(ae)},
                             {archive_entry_mtime(ae), archive_entry_mtime_nsec(ae)}};
    futimens(fd, ts);
  }
  close(fd);
  return r;
}

static int make_dir(unpacker *u, int pfd, const char *name, const char *path, struct archive_entry *ae,
                    ld_error **err) {
  struct stat st;
  if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) rm_rf_at(pfd, name);
  if (mkdirat(pfd, name, 0700) < 0 && errno != EEXIST) return ld_err_sys(err, errno, "%s: mkdir %s", u->what, path);
  int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ld_err_sys(err, errno, "%s: open %s", u->what, path);
  if (fchown(fd, archive_entry_uid(ae), archive_entry_gid(ae)) < 0 && errno != EPERM) {
    close(fd);
    return ld_err_sys(err, errno, "%s: chown %s", u->what, path);
  }
  set_xattrs(fd, ae);
  close(fd);
  u->dirs = ld_xrealloc(u->dirs, (u->n_dirs + 1) * sizeof *u->dirs);
  u->dirs[u->n_dirs++] = (dir_fix){ld_xstrdup(path), archive_entry_mode(ae) & 07777,
                                   {archive_entry_mtime(ae), archive_entry_mtime_nsec(ae)}};
  return 0;
}

static int whiteout(unpacker *u, int pfd, const char *name, const char *path, ld_error **err) {
  if (u->mode == LD_UNPACK_APPLY) {
    if (rm_rf_at(pfd, name) < 0) return ld_err_sys(err, errno, "%s: remove %s", u->what, path);
    return 0;
  }
  rm_rf_at(pfd, name);
  if (mknodat(pfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
    return ld_err_sys(err, errno, "%s: whiteout %s", u->what, path);
  return 0;
}

static int opaque(unpacker *u, const char *path, ld_error **err) {
  int fd = open_dir(u, path, err);
  if (fd < 0) return -1;
  int r = 0;
  if (u->mode == LD_UNPACK_APPLY) {
    if (empty_dir_at(fd) < 0) r = ld_err_sys(err, errno, "%s: empty opaque directory %s", u->what, path);
  } else if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0) {
    r = ld_err_sys(err, errno, "%s: mark %s opaque", u->what, path);
  }
  close(fd);
  return r;
}

static int hardlink(unpacker *u, int pfd, const char *name, const char *path, const char *target,
                    ld_error **err) {
  char *clean, *tdir;
  const char *tname;
  if (ld_path_clean(target, true, &clean, err) < 0) return ld_error_wrap(err, "%s: hard link %s", u->what, path);
  split(clean, &tdir, &tname);
  int tfd = open_dir(u, tdir, err);
  int r = 0;
  if (tfd < 0) r = -1;
  else if (linkat(tfd, tname, pfd, name, 0) < 0)
    r = ld_err_sys(err, errno, "%s: hard link %s -> %s", u->what, path, clean);
  if (tfd >= 0) close(tfd);
  free(tdir);
  free(clean);
  return r;
}

static int entry(unpacker *u, ld_layer_reader *l, const ld_layer_entry *e, ld_unpack_stats *st,
                 ld_error **err) {
  if (e->opaque) return opaque(u, e->path, err);
  char *dir;
  const char *name;
  split(e->path, &dir, &name);
  int pfd = open_dir(u, dir, err);
  free(dir);
  if (pfd < 0) return -1;
  struct archive_entry *ae = e->ae;
  mode_t type = archive_entry_filetype(ae);
  int r = 0;
  if (e->whiteout) {
    r = whiteout(u, pfd, name, e->path, err);
  } else if (type == AE_IFDIR) {
    r = make_dir(u, pfd, name, e->path, ae, err);
  } else {
    rm_rf_at(pfd, name);
    const char *hl = archive_entry_hardlink(ae);
    if (hl) r = hardlink(u, pfd, name, e->path, hl, err);
    else if (type == AE_IFREG) r = write_file(u, l, pfd, name, e->path, ae, &st->bytes, err);
    else if (type == AE_IFLNK) {
      if (symlinkat(archive_entry_symlink(ae), pfd, name) < 0)
        r = ld_err_sys(err, errno, "%s: symlink %s", u->what, e->path);
      else {
        fchownat(pfd, name, archive_entry_uid(ae), archive_entry_gid(ae), AT_SYMLINK_NOFOLLOW);
        struct timespec ts[2] = {{archive_entry_mtime(ae), 0}, {archive_entry_mtime(ae), 0}};
        utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
      }
    } else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO) {
      if (mknodat(pfd, name, type | (archive_entry_mode(ae) & 07777), archive_entry_rdev(ae)) < 0)
        r = ld_err_sys(err, errno, "%s: mknod %s", u->what, e->path);
      else
        fchownat(pfd, name, archive_entry_uid(ae), archive_entry_gid(ae), AT_SYMLINK_NOFOLLOW);
    }
  }
  close(pfd);
  st->entries++;
  return r;
}

static void fix_dirs(unpacker *u) {
  for (size_t i = u->n_dirs; i-- > 0;) {
    int fd = ld_open_in_root(u->rootfd, u->dirs[i].path, O_RDONLY | O_DIRECTORY, 0, NULL);
    if (fd >= 0) {
      fchmod(fd, u->dirs[i].mode);
      struct timespec ts[2] = {u->dirs[i].mtime, u->dirs[i].mtime};
      futimens(fd, ts);
      close(fd);
    }
    free(u->dirs[i].path);
  }
  free(u->dirs);
  u->dirs = NULL;
  u->n_dirs = 0;
}

int ld_layer_unpack(ld_layer_reader *l, int rootfd, ld_unpack_mode mode, ld_unpack_stats *stats,
                    ld_error **err) {
  unpacker u = {.rootfd = rootfd, .mode = mode, .what = "unpack"};
  ld_unpack_stats local = {0};
  if (!stats) stats = &local;
  int r;
  ld_layer_entry e;
  while ((r = ld_layer_next(l, &e, err)) == 1)
    if (entry(&u, l, &e, stats, err) < 0) { r = -1; break; }
  fix_dirs(&u);
  return r < 0 ? -1 : 0;
}
