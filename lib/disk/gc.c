/* Garbage collection of the store, and the blob deletion protocol prune shares with it.
 *
 * Mark: every index.json entry (named or not) is a root. From each: the manifest or index, the
 * child manifests of an index, configs and layers; then, until nothing changes, any manifest
 * blob whose "subject" is live (signatures, SBOMs: referrers). Missing blobs are fsck's business.
 *
 * Sweep, under the store lock (so no tag lands between mark and sweep): a blob not marked goes
 * if its mtime is older than the grace period. Stale ingest temp files (ingest/.ingest-*) and
 * abandoned uploads (files in uploads/) older than the grace period go too.
 *
 * Concurrent ingests. `lading copy` into the store skips blobs it already has, then tags the
 * image at the end; a gc in between must not take a blob the new image is about to name. The
 * store's destination asks through ld_disk_hold_blob(), which answers "present" only after
 * bumping the blob's mtime (utimensat on the path). Deleting is rename-aside-then-check:
 *   1. rename blobs/sha256/X -> ingest/.gc-X   (atomic; a later hold sees "absent" and re-fetches)
 *   2. stat the renamed inode: if its mtime is newer than the cutoff, a hold happened before the
 *      rename, so rename it back; else unlink it.
 * Either the hold touched the inode before step 1 (then step 2 sees it and keeps the blob), or
 * it ran after (then it fails and the copy fetches the blob again). A kill -9 between 1 and 2
 * leaves an unreferenced blob as ingest/.gc-X, which the next gc removes as a stale temp file:
 * the store stays valid at every instant.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "disk_internal.h"
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/layout.h"
#include "lading/log.h"
#include "lading/util.h"

/* ---- digest set ---- */

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char) *s) * 1099511628211ull;
  return h;
}

static void set_insert(ld_digest_set *s, char *key) {
  size_t i = hash(key) & (s->cap - 1);
  while (s->keys[i]) i = (i + 1) & (s->cap - 1);
  s->keys[i] = key;
  s->n++;
}

bool ld_digest_set_has(const ld_digest_set *s, const char *digest) {
  if (!s->cap) return false;
  for (size_t i = hash(digest) & (s->cap - 1); s->keys[i]; i = (i + 1) & (s->cap - 1))
    if (!strcmp(s->keys[i], digest)) return true;
  return false;
}

bool ld_digest_set_add(ld_digest_set *s, const char *digest) {
  if (ld_digest_set_has(s, digest)) return false;
  if (2 * (s->n + 1) > s->cap) {
    ld_digest_set g = {ld_xcalloc(s->cap ? 2 * s->cap : 256, sizeof(char *)), s->cap ? 2 * s->cap : 256, 0};
    for (size_t i = 0; i < s->cap; i++)
      if (s->keys[i]) set_insert(&g, s->keys[i]);
    free(s->keys);
    *s = g;
  }
  set_insert(s, ld_xstrdup(digest));
  return true;
}

void ld_digest_set_clear(ld_digest_set *s) {
  for (size_t i = 0; i < s->cap; i++) free(s->keys[i]);
  free(s->keys);
  memset(s, 0, sizeof *s);
}

/* ---- hold ---- */

bool ld_disk_hold_blob(ld_store *s, const char *digest) {
  if (ld_digest_validate(digest, NULL) < 0) return false;
  ld_autofree char *p = ld_store_blob_path(s, digest);
  return utimensat(AT_FDCWD, p, NULL, 0) == 0;
}

/* ---- mark ---- */

static void mark_manifest(ld_store *s, ld_digest_set *live, const char *digest, int depth) {
  if (!ld_digest_set_add(live, digest) || depth > 8) return;
  char *buf = NULL;
  size_t len = 0;
  ld_manifest m;
  if (ld_store_read_blob(s, digest, LD_MANIFEST_MAX, &buf, &len, NULL) < 0) return;
  if (ld_manifest_parse(buf, len, NULL, &m, NULL) == 0) {
    for (size_t i = 0; i < m.n_manifests; i++) mark_manifest(s, live, m.manifests[i].digest, depth + 1);
    if (m.kind == LD_KIND_MANIFEST) {
      ld_digest_set_add(live, m.config.digest);
      for (size_t i = 0; i < m.n_layers; i++) ld_digest_set_add(live, m.layers[i].digest);
    }
    ld_manifest_clear(&m);
  }
  free(buf);
}

/* A small JSON blob that parses as a manifest with a live subject: a referrer of a live image.
 * The first byte is checked before reading the whole blob, so layers cost one read. */
static bool is_live_referrer(ld_store *s, const ld_digest_set *live, const char *digest, int dfd,
                             const char *name, const struct stat *st) {
  if (st->st_size > (off_t) LD_MANIFEST_MAX || st->st_size < 2) return false;
  int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
  char first = 0;
  if (fd < 0) return false;
  ssize_t got = read(fd, &first, 1);
  close(fd);
  if (got != 1 || first != '{') return false;
  char *buf = NULL;
  size_t len = 0;
  bool yes = false;
  if (ld_store_read_blob(s, digest, LD_MANIFEST_MAX, &buf, &len, NULL) < 0) return false;
  ld_manifest m;
  if (strstr(buf, "\"subject\"") && ld_manifest_parse(buf, len, NULL, &m, NULL) == 0) {
    yes = m.subject && ld_digest_set_has(live, m.subject->digest);
    ld_manifest_clear(&m);
  }
  free(buf);
  return yes;
}

void ld_disk_each_blob(ld_store *s, ld_disk_blob_fn fn, void *ctx) {
  static const char *algs[] = {"sha256", "sha512"};
  for (size_t a = 0; a < LD_ARRAY_SIZE(algs); a++) {
    ld_autofree char *dir = ld_xasprintf("%s/blobs/%s", ld_store_root(s), algs[a]);
    DIR *d = opendir(dir);
    if (!d) continue;
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      struct stat st;
      if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) continue;
      if (strlen(e->d_name) > 128) continue;
      char digest[LD_DIGEST_MAX + 8];
      snprintf(digest, sizeof digest, "%s:%.128s", algs[a], e->d_name);
      fn(s, digest, dirfd(d), e->d_name, &st, ctx);
    }
    closedir(d);
  }
}

typedef struct referrer_pass {
  ld_digest_set *live;
  ld_digest_set *found;
} referrer_pass;

static void find_referrers(ld_store *s, const char *digest, int dfd, const char *name,
                           const struct stat *st, void *ctx) {
  referrer_pass *rp = ctx;
  if (!ld_digest_set_has(rp->live, digest) && is_live_referrer(s, rp->live, digest, dfd, name, st))
    ld_digest_set_add(rp->found, digest);
}

int ld_disk_mark(ld_store *s, ld_digest_set *live, ld_error **err) {
  ld_store_ref *refs = NULL;
  size_t n = 0;
  if (ld_store_list(s, &refs, &n, err) < 0) return -1;
  for (size_t i = 0; i < n; i++) mark_manifest(s, live, refs[i].desc.digest, 0);
  ld_store_refs_free(refs, n);
  for (int round = 0; round < 8; round++) { /* referrers of referrers, bounded */
    ld_digest_set found = {0};
    referrer_pass rp = {live, &found};
    ld_disk_each_blob(s, find_referrers, &rp);
    size_t added = found.n;
    for (size_t i = 0; i < found.cap; i++)
      if (found.keys[i]) mark_manifest(s, live, found.keys[i], 0);
    ld_digest_set_clear(&found);
    if (!added) break;
  }
  return 0;
}

/* ---- delete ---- */

static void forget_blob(ld_store *s, const char *digest) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(ld_store_meta(s), "DELETE FROM layers WHERE digest=?", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_finalize(st);
  }
}

int64_t ld_disk_cutoff(int64_t grace_seconds) {
  struct timespec ts; /* the clock file timestamps come from, so "touched after now" compares right */
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec - grace_seconds * 1000000000;
}

static int64_t mtime_ns(const struct stat *st) {
  return (int64_t) st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int ld_disk_delete_blob(ld_store *s, const char *digest, int64_t cutoff, uint64_t *bytes) {
  ld_autofree char *path = ld_store_blob_path(s, digest);
  ld_autofree char *aside = ld_xasprintf("%s/ingest/.gc-%s", ld_store_root(s), ld_digest_hex(digest));
  if (rename(path, aside) < 0) return errno == ENOENT ? 0 : -1;
  struct stat st;
  if (stat(aside, &st) < 0) return -1;
  if (mtime_ns(&st) >= cutoff) { /* held by an ingest, or young: put it back */
    if (ld_path_exists(path)) unlink(aside); /* re-ingested meanwhile: same bytes */
    else if (rename(aside, path) < 0) return -1;
    return 0;
  }
  if (unlink(aside) < 0) return -1;
  forget_blob(s, digest);
  if (bytes) *bytes += (uint64_t) st.st_blocks * 512;
  return 1;
}

/* ---- sweep ---- */

typedef struct sweep_ctx {
  const ld_digest_set *live;
  const ld_gc_opts *o;
  int64_t cutoff;
  ld_gc_result *res;
} sweep_ctx;

static void sweep_blob(ld_store *s, const char *digest, int dfd, const char *name,
                       const struct stat *st, void *ctx) {
  sweep_ctx *c = ctx;
  if (ld_digest_set_has(c->live, digest)) return;
  if (mtime_ns(st) >= c->cutoff) {
    c->res->blobs_kept_young++;
    return;
  }
  if (c->o->dry_run) {
    c->res->blobs_removed++;
    c->res->bytes_freed += (uint64_t) st->st_blocks * 512;
    return;
  }
  if (ld_disk_delete_blob(s, digest, c->cutoff, &c->res->bytes_freed) == 1) c->res->blobs_removed++;
  else c->res->blobs_kept_young++;
}

/* Removes files in ROOT/sub older than cutoff whose name starts with prefix (NULL: any). */
static void sweep_temps(ld_store *s, const char *sub, const char *prefix, const sweep_ctx *c) {
  ld_autofree char *dir = ld_path_join(ld_store_root(s), sub);
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (prefix && strncmp(e->d_name, prefix, strlen(prefix))) continue;
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode)) continue;
    if (mtime_ns(&st) >= c->cutoff) continue;
    if (!c->o->dry_run && unlinkat(dirfd(d), e->d_name, 0) < 0) continue;
    c->res->temps_removed++;
    c->res->bytes_freed += (uint64_t) st.st_blocks * 512;
  }
  closedir(d);
}

int ld_gc_run(ld_store *s, const ld_gc_opts *o, ld_gc_result *res, ld_error **err) {
  memset(res, 0, sizeof *res);
  if (ld_store_lock(s, err) < 0) return ld_error_wrap(err, "gc");
  ld_digest_set live = {0};
  int rc = ld_disk_mark(s, &live, err);
  if (rc == 0) {
    sweep_ctx c = {&live, o, ld_disk_cutoff(o->grace), res};
    res->blobs_live = live.n;
    ld_disk_each_blob(s, sweep_blob, &c);
    sweep_temps(s, "ingest", NULL, &c);
    sweep_temps(s, "blobs", ".ingest-", &c);
    sweep_temps(s, "uploads", NULL, &c);
  }
  ld_store_unlock(s);
  ld_digest_set_clear(&live);
  return rc < 0 ? ld_error_wrap(err, "gc %s", ld_store_root(s)) : 0;
}

/* ---- prune apply ---- */

static void forget_image(ld_store *s, const char *digest) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(ld_store_meta(s), "DELETE FROM images WHERE digest=?", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_finalize(st);
  }
}

/* Removes index.json entries of digest that carry no name (ld_store_untag needs one). */
static int drop_unnamed(ld_store *s, const char *digest, ld_error **err) {
  const ld_layout *l = ld_store_layout(s);
  json_t *index;
  if (ld_layout_read_index(l, &index, err) < 0) return -1;
  json_t *arr = json_object_get(index, "manifests");
  bool changed = false;
  for (size_t i = json_array_size(arr); i-- > 0;) {
    json_t *e = json_array_get(arr, i);
    const char *d = ld_json_str(e, "digest");
    if (d && !strcmp(d, digest) && !ld_json_str(json_object_get(e, "annotations"), LD_ANNOT_REF_NAME)) {
      json_array_remove(arr, i);
      changed = true;
    }
  }
  int rc = changed ? ld_layout_write_index(l, index, err) : 0;
  json_decref(index);
  return rc;
}

/* Untags the names of a victim that still point at it (a name re-tagged meanwhile stays). */
static int untag_victim(ld_store *s, const ld_disk_image *im, ld_error **err) {
  for (size_t n = 0; n < im->n_names; n++) {
    ld_descriptor d;
    if (ld_store_resolve(s, im->names[n], &d, NULL, NULL) < 0) continue;
    bool same = !strcmp(d.digest, im->id);
    ld_descriptor_clear(&d);
    if (same && ld_store_untag(s, im->names[n], err) < 0) return -1;
  }
  if (drop_unnamed(s, im->id, err) < 0) return -1;
  forget_image(s, im->id);
  return 0;
}

int ld_prune_apply(ld_store *s, const ld_disk_report *r, const ld_prune_plan *p,
                   int64_t grace_seconds, uint64_t *freed, ld_error **err) {
  *freed = 0;
  if (ld_store_lock(s, err) < 0) return ld_error_wrap(err, "prune");
  int rc = 0;
  for (size_t i = 0; i < p->n_victims && rc == 0; i++)
    rc = untag_victim(s, &r->images[p->victims[i].image], err);
  ld_digest_set live = {0};
  if (rc == 0) rc = ld_disk_mark(s, &live, err); /* what the remaining images (and any image
                                                    tagged since the report) still use */
  int64_t cutoff = ld_disk_cutoff(grace_seconds);
  for (size_t i = 0; rc == 0 && i < p->n_freed_layers; i++) {
    const ld_disk_layer *l = &r->layers[p->freed_layers[i]];
    if (!l->digest || ld_digest_set_has(&live, l->digest)) continue;
    if (ld_disk_delete_blob(s, l->digest, cutoff, freed) < 0)
      ld_warn("prune: cannot delete blob %s: %s", l->digest, strerror(errno));
  }
  ld_store_unlock(s);
  ld_digest_set_clear(&live);
  return rc < 0 ? ld_error_wrap(err, "prune %s", ld_store_root(s)) : 0;
}
