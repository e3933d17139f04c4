/* Registry storage on the local file system (see storage.h and include/lading/registry.h).
 *
 * Invariants:
 *  - blobs/<algo>/<hex> holds exactly the bytes of that digest: it appears only through
 *    rs_blob_commit (after verification) or rs_manifest_put (bytes hashed here).
 *  - a link or manifest record is created only after the blob it names is in place, so a crash
 *    between the two leaves an unreferenced blob (gc sweeps it), never a dangling reference.
 *  - records with content (tags, manifest records, manifest bytes) are written temp + fsync +
 *    rename; empty records (links, referrer entries) are created in place — an empty file has
 *    no bytes that could be wrong, so only its directory entry needs to become durable.
 *
 * Durability is grouped (a "batch"): every record of one request is written first, its
 * writeback started, then each temp file is fsynced, the renames and creates happen in
 * dependency order (the blob before anything naming it), and finally each distinct directory
 * is fsynced once. On a journalling file system (ext4, xfs) the directory changes reach the
 * disk in the order they were made, so the dependency order survives a crash too. (Measured on
 * the development disk: no faster than one atomic write per record, whose fsyncs cost ~1 ms
 * there; on disks without a write cache the later fsyncs of a batch find their work done.)
 * Directory listings are read with opendir and sorted, which keeps tag and catalog pagination
 * stable without any index.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lading/fs.h"
#include "lading/reference.h"
#include "lading/util.h"
#include "registry/storage.h"

bool rs_repo_name_valid(const char *name) {
  if (!*name || strlen(name) > 240 || strchr(name, ':') || strchr(name, '@')) return false;
  /* The reference grammar decides; a dotted fake domain keeps the first component a path. */
  char *full = ld_xasprintf("r.l/%s", name);
  ld_reference ref;
  int rc = ld_reference_parse(full, &ref, NULL);
  free(full);
  if (rc < 0) return false;
  bool ok = !ref.tag && !ref.digest && !strcmp(ref.path, name);
  ld_reference_clear(&ref);
  return ok;
}

static char *algo_dir(const char *digest) { return ld_xstrndup(digest, strcspn(digest, ":")); }

char *rs_blob_path(const rs_storage *st, const char *digest) {
  ld_autofree char *algo = algo_dir(digest);
  return ld_xasprintf("%s/blobs/%s/%s", st->root, algo, ld_digest_hex(digest));
}

static char *repo_file(const rs_storage *st, const char *repo, const char *area,
                       const char *digest) {
  ld_autofree char *algo = algo_dir(digest);
  return ld_xasprintf("%s/repos/%s/%s/%s/%s", st->root, repo, area, algo, ld_digest_hex(digest));
}

static char *parent_of(const char *path) {
  const char *slash = strrchr(path, '/');
  return ld_xstrndup(path, (size_t) (slash - path));
}

int rs_open(rs_storage *st, const char *root, ld_error **err) {
  memset(st, 0, sizeof *st);
  st->lock_fd = -1;
  static const char *dirs[] = {"blobs/sha256", "blobs/sha512", "repos", "uploads"};
  for (size_t i = 0; i < LD_ARRAY_SIZE(dirs); i++) {
    ld_autofree char *d = ld_xasprintf("%s/%s", root, dirs[i]);
    if (ld_mkdir_p(d, 0755, err) < 0) return ld_error_wrap(err, "registry root %s", root);
  }
  st->root = ld_xstrdup(root);
  st->uploads = ld_xasprintf("%s/uploads", root);
  ld_autofree char *lock = ld_xasprintf("%s/lock", root);
  st->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (st->lock_fd >= 0 && flock(st->lock_fd, LOCK_SH | LOCK_NB) < 0) {
    rs_close(st);
    return ld_err(err, EBUSY, "registry root %s: locked by `lading registry gc --grace 0`",
                  root);
  }
  /* Upload sessions live in memory; their data files cannot be resumed after a restart. */
  ld_rm_rf(st->uploads, NULL);
  return ld_mkdir_p(st->uploads, 0755, err);
}

void rs_close(rs_storage *st) {
  if (st->lock_fd >= 0) close(st->lock_fd);
  free(st->root);
  free(st->uploads);
  memset(st, 0, sizeof *st);
  st->lock_fd = -1;
}

int64_t rs_blob_size(const rs_storage *st, const char *digest) {
  ld_autofree char *p = rs_blob_path(st, digest);
  struct stat sb;
  if (stat(p, &sb) < 0 || !S_ISREG(sb.st_mode)) return -1;
  return (int64_t) sb.st_size;
}

/* ---------- batches of durable record writes ---------- */

#define BATCH_MAX 8

typedef enum { OP_RENAME, OP_CREATE, OP_IN_PLACE } batch_op;

typedef struct batch {
  size_t n;
  struct {
    batch_op kind;
    ld_atomic_file f; /* OP_RENAME: the temp file */
    char *path;
  } op[BATCH_MAX];
} batch;

static void batch_clear(batch *b) {
  for (size_t i = 0; i < b->n; i++) {
    if (b->op[i].kind == OP_RENAME) ld_atomic_abort(&b->op[i].f);
    free(b->op[i].path);
  }
  b->n = 0;
}

static int batch_push(batch *b, batch_op kind, const char *path, ld_error **err) {
  if (b->n == BATCH_MAX) abort();
  ld_autofree char *dir = parent_of(path);
  if (kind != OP_IN_PLACE && ld_mkdir_p(dir, 0755, err) < 0) return -1;
  b->op[b->n].kind = kind;
  b->op[b->n].f = (ld_atomic_file){.fd = -1};
  b->op[b->n].path = ld_xstrdup(path);
  b->n++;
  return 0;
}

/* A record with content: written to a temp file now, its writeback started. */
static int batch_write(batch *b, const char *path, const void *data, size_t len,
                       ld_error **err) {
  if (batch_push(b, OP_RENAME, path, err) < 0) return -1;
  ld_atomic_file *f = &b->op[b->n - 1].f;
  if (ld_atomic_open(f, path, 0644, err) < 0) {
    b->op[b->n - 1].kind = OP_IN_PLACE; /* nothing to abort */
    return -1;
  }
  if (ld_write_all(f->fd, data, len) < 0) return ld_err_sys(err, errno, "write %s", path);
  sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  return 0;
}

/* An empty record, created at commit in its turn. */
static int batch_create(batch *b, const char *path, ld_error **err) {
  return batch_push(b, OP_CREATE, path, err);
}

static int batch_fsync_dirs(batch *b, ld_error **err) {
  for (size_t i = 0; i < b->n; i++) {
    ld_autofree char *dir = parent_of(b->op[i].path);
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) {
      ld_autofree char *other = parent_of(b->op[j].path);
      seen = !strcmp(dir, other);
    }
    if (!seen && ld_fsync_dir(dir) < 0) return ld_err_sys(err, errno, "fsync %s", dir);
  }
  return 0;
}

static int batch_place(batch *b, size_t i, ld_error **err) {
  ld_atomic_file *f = &b->op[i].f;
  if (b->op[i].kind == OP_CREATE) {
    int fd = open(b->op[i].path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ld_err_sys(err, errno, "create %s", b->op[i].path);
    close(fd);
  } else if (b->op[i].kind == OP_RENAME) {
    close(f->fd);
    f->fd = -1;
    if (rename(f->tmp_path, b->op[i].path) < 0)
      return ld_err_sys(err, errno, "rename to %s", b->op[i].path);
    free(f->tmp_path);
    free(f->final_path);
    f->tmp_path = f->final_path = NULL;
  }
  return 0;
}

/* fsync every temp file, rename/create in order, fsync each directory once. Clears b. */
static int batch_commit(batch *b, ld_error **err) {
  int rc = 0;
  for (size_t i = 0; i < b->n && rc == 0; i++)
    if (b->op[i].kind == OP_RENAME && fsync(b->op[i].f.fd) < 0)
      rc = ld_err_sys(err, errno, "fsync %s", b->op[i].path);
  for (size_t i = 0; i < b->n && rc == 0; i++) rc = batch_place(b, i, err);
  if (rc == 0) rc = batch_fsync_dirs(b, err);
  batch_clear(b);
  return rc;
}

/* ---------- blobs ---------- */

int rs_blob_commit(const rs_storage *st, int fd, const char *tmp_path, const char *digest,
                   const char *link_repo, ld_error **err) {
  ld_autofree char *dst = rs_blob_path(st, digest);
  char hexbuf[24];
  if (access(dst, F_OK) == 0) { /* stored once: the bytes are the same by digest */
    unlink(tmp_path);
    return link_repo ? rs_link_add(st, link_repo, digest, err) : 0;
  }
  if (fsync(fd) < 0) {
    int e = errno;
    unlink(tmp_path);
    return ld_err_sys(err, e, "blob %s: fsync", ld_digest_short(digest, hexbuf));
  }
  if (rename(tmp_path, dst) < 0) {
    int e = errno;
    unlink(tmp_path);
    return ld_err_sys(err, e, "blob %s: rename into place", ld_digest_short(digest, hexbuf));
  }
  batch b = {0};
  batch_push(&b, OP_IN_PLACE, dst, NULL);
  ld_autofree char *link = link_repo ? repo_file(st, link_repo, "_links", digest) : NULL;
  if (link && access(link, F_OK) < 0 && batch_create(&b, link, err) < 0) {
    batch_clear(&b);
    return -1;
  }
  return batch_commit(&b, err);
}

bool rs_link_exists(const rs_storage *st, const char *repo, const char *digest) {
  ld_autofree char *p = repo_file(st, repo, "_links", digest);
  return access(p, F_OK) == 0;
}

int rs_link_add(const rs_storage *st, const char *repo, const char *digest, ld_error **err) {
  ld_autofree char *p = repo_file(st, repo, "_links", digest);
  if (access(p, F_OK) == 0) return 0;
  batch b = {0};
  if (batch_create(&b, p, err) < 0) return -1;
  return batch_commit(&b, err);
}

int rs_link_remove(const rs_storage *st, const char *repo, const char *digest) {
  ld_autofree char *p = repo_file(st, repo, "_links", digest);
  return unlink(p);
}

int rs_manifest_put(const rs_storage *st, const char *repo, const char *digest,
                    const char *media_type, const void *data, size_t len, ld_error **err) {
  return rs_manifest_store(st, repo, digest, media_type, data, len, NULL, NULL, err);
}

static char *tag_path(const rs_storage *st, const char *repo, const char *tag);
static char *referrer_dir(const rs_storage *st, const char *repo, const char *subject);
static char *digest_component(const char *digest);

int rs_manifest_store(const rs_storage *st, const char *repo, const char *digest,
                      const char *media_type, const void *data, size_t len, const char *tag,
                      const char *subject, ld_error **err) {
  batch b = {0};
  ld_autofree char *blob = rs_blob_path(st, digest);
  ld_autofree char *rec = repo_file(st, repo, "_manifests", digest);
  ld_autofree char *link = repo_file(st, repo, "_links", digest);
  ld_autofree char *tagp = tag ? tag_path(st, repo, tag) : NULL;
  ld_autofree char *refdir = subject ? referrer_dir(st, repo, subject) : NULL;
  ld_autofree char *refname = subject ? digest_component(digest) : NULL;
  ld_autofree char *refp = subject ? ld_xasprintf("%s/%s", refdir, refname) : NULL;
  /* in dependency order: the bytes, then what names them */
  int rc = access(blob, F_OK) == 0 ? 0 : batch_write(&b, blob, data, len, err);
  if (rc == 0) rc = batch_write(&b, rec, media_type, strlen(media_type), err);
  if (rc == 0 && access(link, F_OK) < 0) rc = batch_create(&b, link, err);
  if (rc == 0 && tagp) rc = batch_write(&b, tagp, digest, strlen(digest), err);
  if (rc == 0 && refp) rc = batch_create(&b, refp, err);
  if (rc < 0) {
    batch_clear(&b);
    return -1;
  }
  return batch_commit(&b, err);
}

char *rs_manifest_media_type(const rs_storage *st, const char *repo, const char *digest) {
  ld_autofree char *rec = repo_file(st, repo, "_manifests", digest);
  char *mt = NULL;
  size_t len;
  if (ld_read_file(rec, 1024, &mt, &len, NULL) < 0) return NULL;
  return mt;
}

int rs_manifest_remove(const rs_storage *st, const char *repo, const char *digest) {
  ld_autofree char *rec = repo_file(st, repo, "_manifests", digest);
  return unlink(rec);
}

static char *tag_path(const rs_storage *st, const char *repo, const char *tag) {
  return ld_xasprintf("%s/repos/%s/_tags/%s", st->root, repo, tag);
}

int rs_tag_set(const rs_storage *st, const char *repo, const char *tag, const char *digest,
               ld_error **err) {
  ld_autofree char *p = tag_path(st, repo, tag);
  batch b = {0};
  if (batch_write(&b, p, digest, strlen(digest), err) < 0) return -1;
  return batch_commit(&b, err);
}

int rs_tag_get(const rs_storage *st, const char *repo, const char *tag,
               char digest[LD_DIGEST_MAX]) {
  ld_autofree char *p = tag_path(st, repo, tag);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, digest, LD_DIGEST_MAX - 1);
  close(fd);
  if (n <= 0) return -1;
  digest[n] = 0;
  return ld_digest_validate(digest, NULL);
}

int rs_tag_remove(const rs_storage *st, const char *repo, const char *tag) {
  ld_autofree char *p = tag_path(st, repo, tag);
  return unlink(p);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Sorted names of the entries of dir (no dot files); NULL if dir cannot be opened. */
static char **list_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return NULL;
  size_t n = 0, cap = 16;
  char **v = ld_xmalloc(cap * sizeof *v);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (n + 1 >= cap) v = ld_xrealloc(v, (cap *= 2) * sizeof *v);
    v[n++] = ld_xstrdup(e->d_name);
  }
  closedir(d);
  v[n] = NULL;
  qsort(v, n, sizeof *v, cmp_str);
  return v;
}

void rs_strv_free(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

size_t rs_strv_len(char **v) {
  size_t n = 0;
  while (v && v[n]) n++;
  return n;
}

char **rs_tags_list(const rs_storage *st, const char *repo) {
  if (!rs_repo_exists(st, repo)) return NULL;
  ld_autofree char *dir = ld_xasprintf("%s/repos/%s/_tags", st->root, repo);
  char **v = list_dir(dir);
  if (!v) v = ld_xcalloc(1, sizeof *v);
  return v;
}

void rs_tags_remove_digest(const rs_storage *st, const char *repo, const char *digest) {
  char **tags = rs_tags_list(st, repo);
  for (char **t = tags; t && *t; t++) {
    char d[LD_DIGEST_MAX];
    if (rs_tag_get(st, repo, *t, d) == 0 && !strcmp(d, digest)) rs_tag_remove(st, repo, *t);
  }
  rs_strv_free(tags);
}

/* "sha256:ab" -> "sha256-ab": one path component per digest. */
static char *digest_component(const char *digest) {
  char *s = ld_xstrdup(digest);
  char *colon = strchr(s, ':');
  if (colon) *colon = '-';
  return s;
}

static char *referrer_dir(const rs_storage *st, const char *repo, const char *subject) {
  ld_autofree char *sub = digest_component(subject);
  return ld_xasprintf("%s/repos/%s/_referrers/%s", st->root, repo, sub);
}

int rs_referrer_add(const rs_storage *st, const char *repo, const char *subject,
                    const char *digest, ld_error **err) {
  ld_autofree char *dir = referrer_dir(st, repo, subject);
  ld_autofree char *name = digest_component(digest);
  ld_autofree char *p = ld_xasprintf("%s/%s", dir, name);
  batch b = {0};
  if (batch_create(&b, p, err) < 0) return -1;
  return batch_commit(&b, err);
}

void rs_referrer_remove(const rs_storage *st, const char *repo, const char *subject,
                        const char *digest) {
  ld_autofree char *dir = referrer_dir(st, repo, subject);
  ld_autofree char *name = digest_component(digest);
  ld_autofree char *p = ld_xasprintf("%s/%s", dir, name);
  unlink(p);
  rmdir(dir);
}

char **rs_referrers_list(const rs_storage *st, const char *repo, const char *subject) {
  ld_autofree char *dir = referrer_dir(st, repo, subject);
  char **v = list_dir(dir);
  if (!v) return ld_xcalloc(1, sizeof *v);
  for (char **p = v; *p; p++) {
    char *dash = strchr(*p, '-');
    if (dash) *dash = ':';
  }
  return v;
}

bool rs_repo_exists(const rs_storage *st, const char *repo) {
  ld_autofree char *p = ld_xasprintf("%s/repos/%s/_links", st->root, repo);
  return access(p, F_OK) == 0;
}

/* Depth-first walk of repos/: a directory holding _links is a repository. */
static void catalog_walk(const char *dir, const char *prefix, char ***v, size_t *n, size_t *cap) {
  char **entries = list_dir(dir);
  for (char **e = entries; e && *e; e++) {
    if ((*e)[0] == '_') continue;
    ld_autofree char *sub = ld_xasprintf("%s/%s", dir, *e);
    ld_autofree char *name = *prefix ? ld_xasprintf("%s/%s", prefix, *e) : ld_xstrdup(*e);
    ld_autofree char *links = ld_xasprintf("%s/_links", sub);
    if (access(links, F_OK) == 0) {
      if (*n + 1 >= *cap) *v = ld_xrealloc(*v, (*cap *= 2) * sizeof **v);
      (*v)[(*n)++] = ld_xstrdup(name);
    }
    catalog_walk(sub, name, v, n, cap);
  }
  rs_strv_free(entries);
}

char **rs_catalog(const rs_storage *st) {
  size_t n = 0, cap = 16;
  char **v = ld_xmalloc(cap * sizeof *v);
  ld_autofree char *repos = ld_xasprintf("%s/repos", st->root);
  catalog_walk(repos, "", &v, &n, &cap);
  v[n] = NULL;
  qsort(v, n, sizeof *v, cmp_str);
  return v;
}

char **rs_repo_digests(const rs_storage *st, const char *repo, const char *area) {
  size_t n = 0, cap = 16;
  char **v = ld_xmalloc(cap * sizeof *v);
  static const char *algos[] = {"sha256", "sha512"};
  for (size_t a = 0; a < LD_ARRAY_SIZE(algos); a++) {
    ld_autofree char *dir = ld_xasprintf("%s/repos/%s/%s/%s", st->root, repo, area, algos[a]);
    char **hexes = list_dir(dir);
    for (char **h = hexes; h && *h; h++) {
      if (n + 1 >= cap) v = ld_xrealloc(v, (cap *= 2) * sizeof *v);
      v[n++] = ld_xasprintf("%s:%s", algos[a], *h);
    }
    rs_strv_free(hexes);
  }
  v[n] = NULL;
  return v;
}
