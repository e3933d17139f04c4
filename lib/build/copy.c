/* COPY and ADD: resolving sources, hashing them for the cache, copying them into the new layer.
 *
 * Sources are paths relative to the context (or to another stage's root for --from). A source
 * with a ".." component is refused ("escapes the build context"); the rest is opened with
 * ld_open_in_root, so a symlink in the context cannot lead outside it either. Wildcards may
 * stand in any component (glob_walk). Files the .dockerignore excludes do not exist for the build:
 * naming one is the same "not found" error as naming a missing file.
 *
 * The digest that keys the cache covers, in sorted order, each file's relative path, type, mode,
 * size and content (link targets for symlinks): everything that can change the layer. Owners and
 * times are not in it: COPY writes 0:0 (or --chown) and the layer writer normalises times when
 * asked.
 *
 * --exclude patterns are matched below each source (excluded()) and drop entries from both the
 * digest and the copy; --parents keeps each match's path (after a "/./" pivot) under the
 * destination. ADD unpacks a source that is a tar archive by content (is_tar_archive).
 *
 * The copy writes into the merged overlay root with *at() calls relative to directory fds that
 * were opened inside the root, keeping modes (or --chmod, octal or symbolic per entry) and mtimes
 * and setting the owner.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"
#include "lading/fs.h"
#include "lading/layer.h"
#include "lading/unpack.h"
#include "lading/util.h"

typedef struct {
  char *rel;       /* path relative to src_root */
  bool wildcard;   /* came from a pattern */
  size_t keep_from; /* --parents: rel + keep_from is the path kept under the destination */
} match;

typedef struct {
  match *m;
  size_t n;
} matches;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *) a, *(char *const *) b); }

static char **sorted_names(int dfd, size_t *n) {
  int fd = dup(dfd);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  char **v = NULL;
  *n = 0;
  if (!d) {
    if (fd >= 0) close(fd);
    return NULL;
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    v = ld_xrealloc(v, (*n + 1) * sizeof *v);
    v[(*n)++] = ld_xstrdup(de->d_name);
  }
  closedir(d);
  if (*n) qsort(v, *n, sizeof *v, cmp_str);
  return v;
}

static bool ignored(const bx_copy *c, const char *rel) { return c->ignore && *rel && ld_ignore_match(c->ignore, rel); }

/* --exclude: the path below the source being copied (a file source: its own name). */
static bool excluded(const bx_copy *c, const char *rel) {
  if (!c->exclude || !c->top) return false;
  size_t n = strlen(c->top);
  const char *below;
  if (!strcmp(rel, c->top)) below = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
  else if (!n) below = rel;
  else if (!strncmp(rel, c->top, n) && rel[n] == '/') below = rel + n + 1;
  else return false;
  return *below && ld_ignore_match(c->exclude, below);
}

/* Walk into an excluded directory when a "!" pattern may re-include something below it. */
static bool walk_anyway(const bx_copy *c, int root, const char *rel) {
  if (!c->ignore || !ld_ignore_may_reinclude(c->ignore, rel)) return false;
  struct stat st;
  int fd = ld_open_in_root(root, rel, O_PATH | O_NOFOLLOW, 0, NULL);
  bool dir = fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
  if (fd >= 0) close(fd);
  return dir;
}

static void add_match(matches *out, char *rel, bool wildcard) {
  out->m = ld_xrealloc(out->m, (out->n + 1) * sizeof *out->m);
  out->m[out->n++] = (match){rel, wildcard, 0};
}

/* --parents keeps the path after a "/./" pivot in the source, else the whole path. */
static size_t pivot_len(const char *src) {
  const char *p = strstr(src, "/./");
  if (!p) return 0;
  char *prefix = ld_xstrndup(src, (size_t) (p - src)), *clean = NULL;
  size_t n = 0;
  if (ld_path_clean(prefix, true, &clean, NULL) == 0) n = *clean ? strlen(clean) + 1 : 0;
  free(prefix);
  free(clean);
  return n;
}

/* Expands the pattern's components [i, n) below the directory rel, in sorted order. Each
 * component is matched on its own, as Go's filepath.Match does for BuildKit: '*' and '?' never
 * cross a '/', '[...]' classes ('^' or '!' negates), '\' escapes, and a leading '.' is not
 * special. A component without metacharacters is looked up, not listed. */
static void glob_walk(const bx_copy *c, int root, const char *rel, char **comps, size_t i, size_t n, matches *out) {
  if (i == n) {
    bx_copy self = *c;
    self.top = rel;
    if (!ignored(c, rel) && !excluded(&self, rel)) add_match(out, ld_xstrdup(rel), true);
    return;
  }
  if (!strpbrk(comps[i], "*?[\\")) {
    char *next = *rel ? ld_xasprintf("%s/%s", rel, comps[i]) : ld_xstrdup(comps[i]);
    int fd = ld_open_in_root(root, next, O_PATH, 0, NULL);
    if (fd >= 0) {
      close(fd);
      glob_walk(c, root, next, comps, i + 1, n, out);
    }
    free(next);
    return;
  }
  int dfd = ld_open_in_root(root, *rel ? rel : ".", O_RDONLY | O_DIRECTORY, 0, NULL);
  if (dfd < 0) return;
  size_t k = 0;
  char **names = sorted_names(dfd, &k);
  close(dfd);
  for (size_t j = 0; j < k; j++) {
    if (fnmatch(comps[i], names[j], 0) != 0) continue;
    char *next = *rel ? ld_xasprintf("%s/%s", rel, names[j]) : ld_xstrdup(names[j]);
    glob_walk(c, root, next, comps, i + 1, n, out);
    free(next);
  }
  ld_strv_free(names, k);
}

static int resolve_one(const bx_copy *c, int root, size_t i, matches *out, ld_error **err);

static int resolve(const bx_copy *c, int root, matches *out, ld_error **err) {
  *out = (matches){0};
  for (size_t i = 0; i < c->n_srcs; i++) {
    size_t first = out->n, keep = c->parents ? pivot_len(c->srcs[i]) : 0;
    int r = resolve_one(c, root, i, out, err);
    for (size_t k = first; k < out->n; k++)
      if (strlen(out->m[k].rel) >= keep) out->m[k].keep_from = keep;
    if (r < 0) return -1;
  }
  return 0;
}

static int resolve_one(const bx_copy *c, int root, size_t i, matches *out, ld_error **err) {
  {
    char *clean;
    ld_error *e2 = NULL;
    if (ld_path_clean(c->srcs[i], true, &clean, &e2) < 0) {
      ld_error_free(e2);
      return ld_err(err, EPERM, "%s: source %s escapes the build context", c->what, c->srcs[i]);
    }
    if (strpbrk(clean, "*?[\\")) {
      size_t before = out->n, n = 0;
      char **comps = NULL;
      for (char *save = NULL, *t = strtok_r(clean, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        comps = ld_xrealloc(comps, (n + 1) * sizeof *comps);
        comps[n++] = t;
      }
      glob_walk(c, root, "", comps, 0, n, out);
      free(comps);
      free(clean);
      if (out->n == before)
        return ld_err(err, ENOENT, "%s: no source files were specified by %s (nothing matches, or all excluded by .dockerignore)", c->what, c->srcs[i]);
      return 0;
    }
    int fd = ld_open_in_root(root, *clean ? clean : ".", O_PATH, 0, NULL);
    if (fd < 0 || ignored(c, clean)) {
      if (fd >= 0) close(fd);
      int r = ld_err(err, ENOENT, "%s: %s: file not found in build context or excluded by .dockerignore",
                     c->what, c->srcs[i]);
      free(clean);
      return r;
    }
    close(fd);
    add_match(out, clean, false);
  }
  return 0;
}

static void matches_free(matches *m) {
  for (size_t i = 0; i < m->n; i++) free(m->m[i].rel);
  free(m->m);
}

/* ---- digest ---- */

static int hash_tree(const bx_copy *c, ld_hasher *h, int root, const char *rel, ld_error **err);

static int hash_entry(const bx_copy *c, ld_hasher *h, int root, const char *rel, bool top, ld_error **err) {
  struct stat st;
  int fd = ld_open_in_root(root, *rel ? rel : ".", top ? O_PATH : O_PATH | O_NOFOLLOW, 0, err);
  if (fd < 0) return -1;
  if (fstat(fd, &st) < 0) { close(fd); return ld_err_sys(err, errno, "stat %s", rel); }
  char hdr[128];
  snprintf(hdr, sizeof hdr, "%o %lld ", st.st_mode, S_ISDIR(st.st_mode) ? 0LL : (long long) st.st_size);
  ld_hasher_update(h, rel, strlen(rel) + 1);
  ld_hasher_update(h, hdr, strlen(hdr));
  int r = 0;
  if (S_ISLNK(st.st_mode)) {
    char t[PATH_MAX];
    ssize_t n = readlinkat(fd, "", t, sizeof t);
    if (n > 0) ld_hasher_update(h, t, (size_t) n);
  } else if (S_ISREG(st.st_mode)) {
    int rfd = ld_open_in_root(root, rel, O_RDONLY, 0, err);
    if (rfd < 0) r = -1;
    static __thread char buf[1 << 16];
    ssize_t n;
    while (rfd >= 0 && (n = read(rfd, buf, sizeof buf)) > 0) ld_hasher_update(h, buf, (size_t) n);
    if (rfd >= 0) close(rfd);
  } else if (S_ISDIR(st.st_mode)) {
    r = hash_tree(c, h, root, rel, err);
  }
  close(fd);
  return r;
}

static int hash_tree(const bx_copy *c, ld_hasher *h, int root, const char *rel, ld_error **err) {
  int dfd = ld_open_in_root(root, *rel ? rel : ".", O_RDONLY | O_DIRECTORY, 0, err);
  if (dfd < 0) return -1;
  size_t n;
  char **names = sorted_names(dfd, &n);
  close(dfd);
  int r = 0;
  for (size_t i = 0; i < n && r == 0; i++) {
    char *child = *rel ? ld_xasprintf("%s/%s", rel, names[i]) : ld_xstrdup(names[i]);
    if (!excluded(c, child) && (!ignored(c, child) || walk_anyway(c, root, child))) r = hash_entry(c, h, root, child, false, err);
    free(child);
  }
  ld_strv_free(names, n);
  return r;
}

int bx_copy_digest(const bx_copy *c, char out[LD_DIGEST_MAX], ld_error **err) {
  ld_hasher *h = ld_hasher_new(LD_SHA256);
  int root = open(c->src_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    ld_hasher_free(h);
    return ld_err_sys(err, errno, "open %s", c->src_root);
  }
  matches m;
  int r = resolve(c, root, &m, err);
  bx_copy each = *c;
  for (size_t i = 0; r == 0 && i < m.n; i++) {
    each.top = m.m[i].rel;
    r = hash_entry(&each, h, root, m.m[i].rel, true, err);
  }
  matches_free(&m);
  close(root);
  ld_hasher_final(h, out);
  ld_hasher_free(h);
  return r;
}

/* ---- copy ---- */

static mode_t who_bits(char w) {
  switch (w) {
    case 'u': return S_IRWXU | S_ISUID;
    case 'g': return S_IRWXG | S_ISGID;
    case 'o': return S_IRWXO;
    default: return 07777;
  }
}

/* The permission letters after an operator, as bits of every class (masked by "who" later). */
static int perm_bits(const char **p, mode_t mode, bool is_dir, mode_t *bits) {
  *bits = 0;
  if (**p == 'u' || **p == 'g' || **p == 'o') { /* copy another class: g=u */
    int shift = **p == 'u' ? 6 : **p == 'g' ? 3 : 0;
    *bits = ((mode >> shift) & 7) * 0111;
    (*p)++;
    return 0;
  }
  for (; **p && strchr("rwxXst", **p); (*p)++) {
    switch (**p) {
      case 'r': *bits |= 0444; break;
      case 'w': *bits |= 0222; break;
      case 'x': *bits |= 0111; break;
      case 'X': if (is_dir || (mode & 0111)) *bits |= 0111; break;
      case 's': *bits |= S_ISUID | S_ISGID; break;
      case 't': *bits |= S_ISVTX; break;
    }
  }
  return 0;
}

int bx_chmod_symbolic(const char *spec, mode_t mode, bool is_dir, mode_t *out) {
  const char *p = spec;
  mode &= 07777;
  for (;;) {
    mode_t who = 0;
    for (; *p && strchr("ugoa", *p); p++) who |= who_bits(*p);
    if (!who) who = 07777;
    if (!*p || !strchr("+-=", *p)) return -1;
    while (*p && strchr("+-=", *p)) {
      char op = *p++;
      mode_t bits;
      perm_bits(&p, mode, is_dir, &bits);
      bits &= who;
      if (op == '+') mode |= bits;
      else if (op == '-') mode &= ~bits;
      else mode = (mode & ~who) | bits;
    }
    if (!*p) break;
    if (*p++ != ',') return -1;
  }
  *out = mode;
  return 0;
}

static void set_meta(const bx_copy *c, int fd, const struct stat *st) {
  uid_t uid = c->keep_owner ? st->st_uid : c->uid < 0 ? 0 : (uid_t) c->uid;
  gid_t gid = c->keep_owner ? st->st_gid : c->gid < 0 ? 0 : (gid_t) c->gid;
  if (fchown(fd, uid, gid) < 0) {}
  mode_t mode = c->chmod >= 0 ? (mode_t) c->chmod : st->st_mode & 07777;
  if (c->chmod_sym) bx_chmod_symbolic(c->chmod_sym, st->st_mode, S_ISDIR(st->st_mode), &mode);
  fchmod(fd, mode);
  struct timespec ts[2] = {st->st_mtim, st->st_mtim};
  futimens(fd, ts);
}

static int copy_file(const bx_copy *c, int sfd, const struct stat *st, int ddir, const char *name, ld_error **err) {
  unlinkat(ddir, name, 0);
  int dfd = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (dfd < 0) return ld_err_sys(err, errno, "%s: create %s", c->what, name);
  off_t left = st->st_size;
  int r = 0;
  while (left > 0) {
    ssize_t n = sendfile(dfd, sfd, NULL, (size_t) (left > (1 << 30) ? (1 << 30) : left));
    if (n <= 0) { r = ld_err_sys(err, n < 0 ? errno : EIO, "%s: copy %s", c->what, name); break; }
    left -= n;
  }
  if (r == 0) set_meta(c, dfd, st);
  close(dfd);
  return r;
}

static int copy_dir_contents(const bx_copy *c, int sroot, const char *srel, int ddir, ld_error **err);

static int copy_entry(const bx_copy *c, int sroot, const char *srel, bool top, int ddir, const char *name,
                      ld_error **err) {
  int fd = ld_open_in_root(sroot, *srel ? srel : ".", O_PATH | (top ? 0 : O_NOFOLLOW), 0, err);
  if (fd < 0) return -1;
  struct stat st;
  int r = 0;
  if (fstat(fd, &st) < 0) r = ld_err_sys(err, errno, "stat %s", srel);
  else if (S_ISLNK(st.st_mode)) {
    char t[PATH_MAX];
    ssize_t n = readlinkat(fd, "", t, sizeof t - 1);
    if (n < 0) r = ld_err_sys(err, errno, "readlink %s", srel);
    else {
      t[n] = 0;
      unlinkat(ddir, name, 0);
      if (symlinkat(t, ddir, name) < 0) r = ld_err_sys(err, errno, "%s: symlink %s", c->what, name);
      else fchownat(ddir, name, c->uid < 0 ? 0 : (uid_t) c->uid, c->gid < 0 ? 0 : (gid_t) c->gid, AT_SYMLINK_NOFOLLOW);
    }
  } else if (S_ISREG(st.st_mode)) {
    int rfd = ld_open_in_root(sroot, srel, O_RDONLY, 0, err);
    if (rfd < 0) r = -1;
    else {
      r = copy_file(c, rfd, &st, ddir, name, err);
      close(rfd);
    }
  } else if (S_ISDIR(st.st_mode)) {
    if (mkdirat(ddir, name, 0755) < 0 && errno != EEXIST) r = ld_err_sys(err, errno, "%s: mkdir %s", c->what, name);
    int sub = r == 0 ? openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (r == 0 && sub < 0) r = ld_err_sys(err, errno, "%s: open %s", c->what, name);
    if (r == 0) r = copy_dir_contents(c, sroot, srel, sub, err);
    if (r == 0) set_meta(c, sub, &st);
    if (sub >= 0) close(sub);
  }
  close(fd);
  return r;
}

static int copy_dir_contents(const bx_copy *c, int sroot, const char *srel, int ddir, ld_error **err) {
  int dfd = ld_open_in_root(sroot, *srel ? srel : ".", O_RDONLY | O_DIRECTORY, 0, err);
  if (dfd < 0) return -1;
  size_t n;
  char **names = sorted_names(dfd, &n);
  close(dfd);
  int r = 0;
  for (size_t i = 0; i < n && r == 0; i++) {
    char *child = *srel ? ld_xasprintf("%s/%s", srel, names[i]) : ld_xstrdup(names[i]);
    if (!excluded(c, child) && (!ignored(c, child) || walk_anyway(c, sroot, child)))
      r = copy_entry(c, sroot, child, false, ddir, names[i], err);
    free(child);
  }
  ld_strv_free(names, n);
  return r;
}

/* ADD unpacks what IS a tar archive (plain, gzip or zstd), whatever its name, as BuildKit decides
 * by content: the probe reads the first entry header. */
static bool is_tar_archive(int sroot, const char *rel, const struct stat *st) {
  if (!S_ISREG(st->st_mode) || st->st_size == 0) return false;
  int fd = ld_open_in_root(sroot, rel, O_RDONLY, 0, NULL);
  if (fd < 0) return false;
  ld_layer_reader *l = NULL;
  ld_layer_entry e;
  ld_error *e1 = NULL, *e2 = NULL;
  bool tar = ld_layer_open(ld_reader_from_fd(fd, true), NULL, NULL, "probe", &l, &e1) == 0 &&
             ld_layer_next(l, &e, &e2) == 1;
  if (l) ld_layer_close(l);
  ld_error_free(e1);
  ld_error_free(e2);
  return tar;
}

static int extract(const bx_copy *c, int sroot, const char *rel, int ddir, ld_error **err) {
  int fd = ld_open_in_root(sroot, rel, O_RDONLY, 0, err);
  if (fd < 0) return -1;
  ld_layer_reader *l;
  char *what = ld_xasprintf("%s: archive %s", c->what, rel);
  int r = ld_layer_open(ld_reader_from_fd(fd, true), NULL, NULL, what, &l, err);
  if (r == 0) {
    r = ld_layer_unpack(l, ddir, LD_UNPACK_APPLY, NULL, err);
    ld_layer_close(l);
  }
  free(what);
  return r;
}

/* Looks name up in the image's passwd/group file (fields: name:x:id:...). */
static int lookup_id(int root, const char *file, const char *name, long *id, long *gid) {
  int fd = ld_open_in_root(root, file, O_RDONLY, 0, NULL);
  FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
  if (!f) {
    if (fd >= 0) close(fd);
    return -1;
  }
  char line[1024];
  int r = -1;
  size_t n = strlen(name);
  while (r < 0 && fgets(line, sizeof line, f)) {
    if (strncmp(line, name, n) || line[n] != ':') continue;
    char *p = strchr(line + n + 1, ':');
    if (!p) continue;
    *id = strtol(p + 1, &p, 10);
    if (gid && *p == ':') *gid = strtol(p + 1, NULL, 10);
    r = 0;
  }
  fclose(f);
  return r;
}

static int resolve_owner(bx_copy *c, int root, ld_error **err) {
  char *spec = ld_xstrdup(c->chown_names), *g = strchr(spec, ':');
  if (g) *g++ = 0;
  char *end;
  long uid = strtol(spec, &end, 10), gid = -1, pgid = -1;
  int r = 0;
  if (*end || end == spec) {
    if (lookup_id(root, "/etc/passwd", spec, &uid, &pgid) < 0)
      r = ld_err(err, ENOENT, "%s: unable to find user %s in the image's /etc/passwd", c->what, spec);
  }
  gid = g ? -1 : (pgid >= 0 ? pgid : uid);
  if (r == 0 && g) {
    gid = strtol(g, &end, 10);
    if ((*end || end == g) && lookup_id(root, "/etc/group", g, &gid, NULL) < 0)
      r = ld_err(err, ENOENT, "%s: unable to find group %s in the image's /etc/group", c->what, g);
  }
  c->uid = uid;
  c->gid = gid;
  free(spec);
  return r;
}

int bx_mkdir_owned(const bx_copy *c0, int root, const char *path, ld_error **err) {
  bx_copy copy = *c0, *c = &copy;
  if (c->chown_names && resolve_owner(c, root, err) < 0) return -1;
  uid_t uid = c->uid < 0 ? 0 : (uid_t) c->uid;
  gid_t gid = c->gid < 0 ? 0 : (gid_t) c->gid;
  char *clean;
  if (ld_path_clean(path, true, &clean, err) < 0) return -1;
  int r = 0;
  for (char *p = clean; r == 0 && *clean;) {
    char *slash = strchr(p, '/');
    if (slash) *slash = 0;
    int fd = ld_open_in_root(root, clean, O_PATH, 0, NULL);
    if (fd < 0) { /* missing: made here, owned by the stage's USER */
      char *name = strrchr(clean, '/');
      if (name) *name = 0;
      int parent = ld_open_in_root(root, name ? clean : ".", O_RDONLY | O_DIRECTORY, 0, err);
      if (name) *name = '/';
      const char *base = name ? name + 1 : clean;
      if (parent < 0) r = -1;
      else if (mkdirat(parent, base, 0755) < 0 || fchownat(parent, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        r = ld_err_sys(err, errno, "%s: create %s", c->what, path);
      if (parent >= 0) close(parent);
    } else {
      close(fd);
    }
    if (!slash) break;
    *slash = '/';
    p = slash + 1;
  }
  free(clean);
  return r;
}

int bx_copy_into(const bx_copy *c0, int root, ld_error **err) {
  bx_copy copy = *c0, *c = &copy;
  if (c->chown_names && resolve_owner(c, root, err) < 0) return -1;
  int sroot = open(c->src_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sroot < 0) return ld_err_sys(err, errno, "open %s", c->src_root);
  matches m;
  int r = resolve(c, sroot, &m, err);
  bool dest_dir = c->dest_is_dir || m.n > 1 || (m.n && m.m[0].wildcard);
  if (r == 0 && !dest_dir) { /* an existing directory at dest is a directory destination */
    int fd = ld_open_in_root(root, c->dest, O_RDONLY | O_DIRECTORY, 0, NULL);
    if (fd >= 0) { dest_dir = true; close(fd); }
  }
  for (size_t i = 0; r == 0 && i < m.n; i++) {
    const char *rel = m.m[i].rel;
    struct stat st;
    int pfd = ld_open_in_root(sroot, *rel ? rel : ".", O_PATH, 0, err);
    if (pfd < 0 || fstat(pfd, &st) < 0) { if (pfd >= 0) close(pfd); r = -1; break; }
    close(pfd);
    c->top = rel;
    const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel, *kept = rel + m.m[i].keep_from;
    if (S_ISDIR(st.st_mode) || (c->extract_archives && is_tar_archive(sroot, rel, &st))) {
      char *dir = c->parents && S_ISDIR(st.st_mode) && *kept ? ld_xasprintf("%s/%s", c->dest, kept) : ld_xstrdup(c->dest);
      int ddir = bx_mkdir_in_root(root, dir, 0755, err);
      free(dir);
      if (ddir < 0) { r = -1; break; }
      r = S_ISDIR(st.st_mode) ? copy_dir_contents(c, sroot, rel, ddir, err) : extract(c, sroot, rel, ddir, err);
      close(ddir);
    } else {
      char *target = c->parents ? ld_xasprintf("%s/%s", c->dest, kept)
                     : dest_dir ? ld_xasprintf("%s/%s", c->dest, base) : ld_xstrdup(c->dest);
      char *slash = strrchr(target, '/');
      *slash = 0;
      int ddir = bx_mkdir_in_root(root, *target ? target : "/", 0755, err);
      if (ddir < 0) r = -1;
      else {
        r = copy_entry(c, sroot, rel, true, ddir, slash + 1, err);
        close(ddir);
      }
      free(target);
    }
  }
  matches_free(&m);
  close(sroot);
  return r;
}
