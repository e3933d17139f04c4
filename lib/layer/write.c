/* Layer writer: directory tree → (gzip) tar blob, deterministic. See layer_write.h.
 *
 * libarchive writes the tar (pax restricted: plain ustar headers unless a name, size or xattr
 * needs a pax record) into our callback, which hashes the tar bytes (diff_id), compresses them
 * with zlib at level 6 (the level Go's gzip, and so buildah and docker,
 * use: ISA-L's fast levels cost 10-15% in size, and a small image is the point), and hashes and
 * writes the compressed bytes. The walk is ours: readdir sorted with
 * strcmp (not the locale), lstat only (symlinks are entries, never followed), and a small
 * (dev, inode) table to turn second sightings of a multiply-linked file into hard links.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <zlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "lading/fs.h"
#include "lading/layer_write.h"
#include "lading/util.h"

typedef struct {
  dev_t dev;
  ino_t ino;
  char *path;
} link_seen;

typedef struct {
  int out_fd;
  ld_compression comp;
  ld_hasher *tar_hash, *out_hash;
  uint64_t out_bytes;
  z_stream zs;
  bool zs_open;
  uint8_t obuf[1 << 16];
  int write_errno;
  const ld_layer_write_opts *o;
  link_seen *links;
  size_t n_links;
  ld_error *err;
  uint64_t entries;
  char *root;
} writer;

static int emit(writer *w, const void *buf, size_t len) {
  if (ld_write_all(w->out_fd, buf, len) < 0) {
    w->write_errno = errno;
    return -1;
  }
  ld_hasher_update(w->out_hash, buf, len);
  w->out_bytes += len;
  return 0;
}

static int deflate_some(writer *w, const void *buf, size_t len, bool end) {
  w->zs.next_in = (Bytef *) buf;
  w->zs.avail_in = (uInt) len;
  int zr;
  do {
    w->zs.next_out = w->obuf;
    w->zs.avail_out = sizeof w->obuf;
    zr = deflate(&w->zs, end ? Z_FINISH : Z_NO_FLUSH);
    if (zr == Z_STREAM_ERROR) {
      w->write_errno = EIO;
      return -1;
    }
    size_t n = sizeof w->obuf - w->zs.avail_out;
    if (n && emit(w, w->obuf, n) < 0) return -1;
  } while (w->zs.avail_in > 0 || w->zs.avail_out == 0 || (end && zr != Z_STREAM_END));
  return 0;
}

static la_ssize_t on_write(struct archive *a, void *arg, const void *buf, size_t len) {
  writer *w = arg;
  ld_hasher_update(w->tar_hash, buf, len);
  int r = w->comp == LD_COMP_GZIP ? deflate_some(w, buf, len, false) : emit(w, buf, len);
  if (r < 0) {
    archive_set_error(a, w->write_errno, "writing layer: %s", strerror(w->write_errno));
    return -1;
  }
  return (la_ssize_t) len;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Sorted names of a directory (without . and ..). */
static int list_dir(int dfd, const char *what, char ***names, size_t *n, ld_error **err) {
  int fd = dup(dfd);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    if (fd >= 0) close(fd);
    return ld_err_sys(err, errno, "open directory %s", what);
  }
  *names = NULL;
  *n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    *names = ld_xrealloc(*names, (*n + 1) * sizeof **names);
    (*names)[(*n)++] = ld_xstrdup(de->d_name);
  }
  closedir(d);
  if (*n) qsort(*names, *n, sizeof **names, cmp_names);
  return 0;
}

static void add_xattrs(struct archive_entry *e, int fd, const char *path_for_msgs) {
  char list[4096];
  ssize_t n = flistxattr(fd, list, sizeof list);
  if (n <= 0) return;
  for (char *k = list; k < list + n; k += strlen(k) + 1) {
    if (ld_str_has_prefix(k, "trusted.overlay.")) continue;
    char val[4096];
    ssize_t vn = fgetxattr(fd, k, val, sizeof val);
    if (vn >= 0) archive_entry_xattr_add_entry(e, k, val, (size_t) vn);
  }
}

static bool is_opaque(int fd) {
  char v[4];
  ssize_t n = fgetxattr(fd, "trusted.overlay.opaque", v, sizeof v);
  return n >= 1 && v[0] == 'y';
}

static void set_common(writer *w, struct archive_entry *e, const char *path, const struct stat *st) {
  archive_entry_set_pathname(e, path);
  archive_entry_set_mode(e, st->st_mode);
  archive_entry_set_uid(e, w->o->root_owner ? 0 : st->st_uid);
  archive_entry_set_gid(e, w->o->root_owner ? 0 : st->st_gid);
  archive_entry_set_mtime(e, w->o->mtime >= 0 ? w->o->mtime : st->st_mtim.tv_sec, 0);
}

static int write_header(writer *w, struct archive *a, struct archive_entry *e, const char *path) {
  if (archive_write_header(a, e) != ARCHIVE_OK) {
    return ld_err(&w->err, EIO, "layer entry %s: %s", path, archive_error_string(a));
  }
  w->entries++;
  return 0;
}

static int write_marker(writer *w, struct archive *a, const char *path, const struct stat *st) {
  struct archive_entry *e = archive_entry_new();
  struct stat s = *st;
  s.st_mode = S_IFREG | 0644;
  set_common(w, e, path, &s);
  archive_entry_set_size(e, 0);
  int r = write_header(w, a, e, path);
  archive_entry_free(e);
  return r;
}

static int copy_data(writer *w, struct archive *a, int fd, const char *path) {
  static __thread char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) return ld_err_sys(&w->err, errno, "read %s", path);
    if (n == 0) return 0;
    if (archive_write_data(a, buf, (size_t) n) != n)
      return ld_err(&w->err, EIO, "layer entry %s: %s", path, archive_error_string(a));
  }
}

static int walk(writer *w, struct archive *a, int dfd, const char *prefix);

static int write_one(writer *w, struct archive *a, int dfd, const char *name, const char *path) {
  struct stat st;
  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return ld_err_sys(&w->err, errno, "stat %s", path);
  if (w->o->skip && w->o->skip(w->o->skip_arg, path, &st)) return 0;
  if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) { /* overlay whiteout */
    const char *slash = strrchr(path, '/');
    char *wh = slash ? ld_xasprintf("%.*s/.wh.%s", (int) (slash - path), path, slash + 1)
                     : ld_xasprintf(".wh.%s", path);
    int r = write_marker(w, a, wh, &st);
    free(wh);
    return r;
  }
  struct archive_entry *e = archive_entry_new();
  set_common(w, e, path, &st);
  int r = 0, fd = -1;
  if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
    for (size_t i = 0; i < w->n_links; i++)
      if (w->links[i].dev == st.st_dev && w->links[i].ino == st.st_ino) {
        archive_entry_set_hardlink(e, w->links[i].path);
        archive_entry_set_size(e, 0);
        r = write_header(w, a, e, path);
        archive_entry_free(e);
        return r;
      }
    w->links = ld_xrealloc(w->links, (w->n_links + 1) * sizeof *w->links);
    w->links[w->n_links++] = (link_seen){st.st_dev, st.st_ino, ld_xstrdup(path)};
  }
  if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    ssize_t n = readlinkat(dfd, name, target, sizeof target - 1);
    if (n < 0) r = ld_err_sys(&w->err, errno, "readlink %s", path);
    else {
      target[n] = 0;
      archive_entry_set_symlink(e, target);
      r = write_header(w, a, e, path);
    }
  } else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
    fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
    if (fd < 0) r = ld_err_sys(&w->err, errno, "open %s", path);
    else {
      add_xattrs(e, fd, path);
      if (S_ISREG(st.st_mode)) archive_entry_set_size(e, st.st_size);
      if (S_ISDIR(st.st_mode)) {
        char *dpath = ld_xasprintf("%s/", path);
        archive_entry_set_pathname(e, dpath);
        free(dpath);
      }
      r = write_header(w, a, e, path);
      if (r == 0 && S_ISREG(st.st_mode)) r = copy_data(w, a, fd, path);
      if (r == 0 && S_ISDIR(st.st_mode)) {
        if (is_opaque(fd)) {
          char *opq = ld_xasprintf("%s/.wh..wh..opq", path);
          r = write_marker(w, a, opq, &st);
          free(opq);
        }
        if (r == 0) r = walk(w, a, fd, path);
      }
    }
  } else { /* devices, fifos, sockets */
    if (S_ISSOCK(st.st_mode)) { archive_entry_free(e); return 0; }
    archive_entry_set_rdev(e, st.st_rdev);
    r = write_header(w, a, e, path);
  }
  if (fd >= 0) close(fd);
  archive_entry_free(e);
  return r;
}

static int walk(writer *w, struct archive *a, int dfd, const char *prefix) {
  char **names = NULL;
  size_t n = 0;
  if (list_dir(dfd, *prefix ? prefix : w->root, &names, &n, &w->err) < 0) return -1;
  int r = 0;
  for (size_t i = 0; i < n && r == 0; i++) {
    char *path = *prefix ? ld_xasprintf("%s/%s", prefix, names[i]) : ld_xstrdup(names[i]);
    r = write_one(w, a, dfd, names[i], path);
    free(path);
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return r;
}

static int finish_stream(writer *w) {
  if (w->comp == LD_COMP_GZIP) return deflate_some(w, NULL, 0, true);
  return 0;
}

int ld_layer_write_dir(const char *dir, int out_fd, const ld_layer_write_opts *o,
                       ld_layer_written *res, ld_error **err) {
  writer w = {.out_fd = out_fd, .comp = o->compression, .o = o, .root = (char *) dir};
  w.tar_hash = ld_hasher_new(LD_SHA256);
  w.out_hash = ld_hasher_new(LD_SHA256);
  if (w.comp == LD_COMP_GZIP) {
    /* windowBits 15+16: a gzip wrapper with zlib's fixed header (no name, mtime 0) */
    if (deflateInit2(&w.zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    w.zs_open = true;
  }
  int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_per_block(a, 0); /* no padding to 10 KiB blocks beyond the end marker */
  int r = 0;
  if (root < 0) r = ld_err_sys(&w.err, errno, "open %s", dir);
  else if (archive_write_open2(a, &w, NULL, on_write, NULL, NULL) != ARCHIVE_OK)
    r = ld_err(&w.err, EIO, "layer of %s: %s", dir, archive_error_string(a));
  if (r == 0) r = walk(&w, a, root, "");
  if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
    r = ld_err(&w.err, EIO, "layer of %s: %s", dir, archive_error_string(a));
  if (r == 0 && finish_stream(&w) < 0) r = ld_err_sys(&w.err, w.write_errno, "layer of %s", dir);
  archive_write_free(a);
  if (root >= 0) close(root);
  if (r == 0) {
    memset(res, 0, sizeof *res);
    res->uncompressed_size = ld_hasher_bytes(w.tar_hash);
    ld_hasher_final(w.tar_hash, res->diff_id);
    ld_hasher_final(w.out_hash, res->digest);
    res->size = w.out_bytes;
    res->entries = w.entries;
  } else if (err) {
    *err = w.err;
    w.err = NULL;
  }
  ld_error_free(w.err);
  ld_hasher_free(w.tar_hash);
  ld_hasher_free(w.out_hash);
  if (w.zs_open) deflateEnd(&w.zs);
  for (size_t i = 0; i < w.n_links; i++) free(w.links[i].path);
  free(w.links);
  return r;
}
