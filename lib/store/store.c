/* The embedded store: an OCI layout (layout.c) + meta.db + a writer lock.
 *
 * Invariants: a file under blobs/ holds exactly the bytes of its digest (ingest verifies before
 * rename); index.json changes only under the lock and atomically; meta.db is advisory data
 * (times, sizes, caches) that can be rebuilt, so it never decides what a blob contains.
 * Ingest temp files live in ingest/ so gc can find stale ones by age.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/layout.h"
#include "lading/log.h"
#include "lading/reference.h"
#include "lading/store.h"
#include "lading/util.h"

struct ld_store {
  ld_layout layout;
  sqlite3 *meta;
  int lock_fd;
  int lock_depth;
};

static const char meta_schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS images("
    "  digest TEXT PRIMARY KEY,"
    "  first_seen INTEGER NOT NULL,"
    "  last_used INTEGER NOT NULL,"
    "  pinned INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS layers("
    "  digest TEXT PRIMARY KEY,"
    "  diff_id TEXT,"
    "  uncompressed_size INTEGER);";

char *ld_store_default_root(void) {
  const char *env = getenv("LADING_ROOT");
  if (env && *env) return ld_xstrdup(env);
  if (geteuid() == 0) return ld_xstrdup("/var/lib/lading");
  const char *xdg = getenv("XDG_DATA_HOME");
  if (xdg && *xdg) return ld_xasprintf("%s/lading", xdg);
  const char *home = getenv("HOME");
  if (!home) {
    struct passwd *pw = getpwuid(geteuid());
    home = pw ? pw->pw_dir : "/tmp";
  }
  return ld_xasprintf("%s/.local/share/lading", home);
}

int ld_store_open(const char *root, ld_store **out, ld_error **err) {
  char *dir = root ? ld_xstrdup(root) : ld_store_default_root();
  ld_store *s = ld_xcalloc(1, sizeof *s);
  s->lock_fd = -1;
  if (ld_layout_open(dir, true, &s->layout, err) < 0) goto fail;
  free(s->layout.tmp_dir);
  s->layout.tmp_dir = ld_path_join(dir, "ingest");
  if (ld_mkdir_p(s->layout.tmp_dir, 0700, err) < 0) goto fail;
  char *db = ld_path_join(dir, "meta.db");
  int rc = sqlite3_open_v2(db, &s->meta, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                             SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    ld_err(err, EIO, "%s: %s", db, s->meta ? sqlite3_errmsg(s->meta) : sqlite3_errstr(rc));
    free(db);
    goto fail;
  }
  sqlite3_busy_timeout(s->meta, 10000);
  char *msg = NULL;
  if (sqlite3_exec(s->meta, meta_schema, NULL, NULL, &msg) != SQLITE_OK) {
    ld_err(err, EIO, "%s: %s", db, msg ? msg : "schema");
    sqlite3_free(msg);
    free(db);
    goto fail;
  }
  free(db);
  char *lock = ld_path_join(dir, "lock");
  s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->lock_fd < 0) {
    ld_err_sys(err, errno, "%s", lock);
    free(lock);
    goto fail;
  }
  free(lock);
  free(dir);
  *out = s;
  return 0;
fail:
  ld_error_wrap(err, "store %s", dir);
  free(dir);
  ld_store_close(s);
  return -1;
}

void ld_store_close(ld_store *s) {
  if (!s) return;
  if (s->meta) sqlite3_close(s->meta);
  if (s->lock_fd >= 0) close(s->lock_fd);
  ld_layout_clear(&s->layout);
  free(s);
}

const char *ld_store_root(const ld_store *s) { return s->layout.dir; }
sqlite3 *ld_store_meta(ld_store *s) { return s->meta; }

int ld_store_lock(ld_store *s, ld_error **err) {
  if (s->lock_depth++ > 0) return 0;
  while (flock(s->lock_fd, LOCK_EX) < 0) {
    if (errno == EINTR) continue;
    s->lock_depth--;
    return ld_err_sys(err, errno, "lock store %s", s->layout.dir);
  }
  return 0;
}

void ld_store_unlock(ld_store *s) {
  if (s->lock_depth > 0 && --s->lock_depth == 0) flock(s->lock_fd, LOCK_UN);
}

char *ld_store_blob_path(const ld_store *s, const char *digest) {
  return ld_layout_blob_path(&s->layout, digest);
}
bool ld_store_has_blob(const ld_store *s, const char *digest) {
  return ld_layout_has_blob(&s->layout, digest);
}
int ld_store_put_blob(ld_store *s, ld_reader *r, const char *expected_digest, int64_t expected_size,
                      char out_digest[LD_DIGEST_MAX], ld_error **err) {
  return ld_layout_put_blob(&s->layout, r, expected_digest, expected_size, out_digest, err);
}
int ld_store_put_blob_mem(ld_store *s, const void *data, size_t len, char out_digest[LD_DIGEST_MAX],
                          ld_error **err) {
  ld_reader *r = ld_reader_from_mem(data, len, true);
  int rc = ld_layout_put_blob(&s->layout, r, NULL, (int64_t) len, out_digest, err);
  ld_reader_close(r);
  return rc;
}
int ld_store_open_blob(const ld_store *s, const char *digest, ld_reader **out, ld_error **err) {
  return ld_layout_open_blob(&s->layout, digest, out, err);
}
int ld_store_read_blob(const ld_store *s, const char *digest, size_t max, char **out, size_t *len,
                       ld_error **err) {
  return ld_layout_read_blob(&s->layout, digest, max, out, len, err);
}
int ld_store_blob_size(const ld_store *s, const char *digest, uint64_t *size, ld_error **err) {
  char *p = ld_store_blob_path(s, digest);
  struct stat st;
  int rc = stat(p, &st);
  free(p);
  if (rc < 0) return ld_err(err, LD_ENOTFOUND, "blob %s not found in store", digest);
  *size = (uint64_t) st.st_size;
  return 0;
}

int ld_store_normalize_name(const char *name, char **out, ld_error **err) {
  ld_reference ref;
  if (ld_reference_parse(name, &ref, err) < 0) return -1;
  if (!ref.tag && !ref.digest) ref.tag = ld_xstrdup("latest");
  *out = ld_reference_format(&ref);
  ld_reference_clear(&ref);
  return 0;
}

static void meta_seen(ld_store *s, const char *digest) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->meta,
                         "INSERT OR IGNORE INTO images(digest, first_seen, last_used) VALUES(?,?,?)",
                         -1, &st, NULL) != SQLITE_OK)
    return;
  int64_t now = ld_now();
  sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, now);
  sqlite3_bind_int64(st, 3, now);
  sqlite3_step(st);
  sqlite3_finalize(st);
}

void ld_store_touch(ld_store *s, const char *digest) {
  meta_seen(s, digest);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->meta, "UPDATE images SET last_used=? WHERE digest=?", -1, &st, NULL) !=
      SQLITE_OK)
    return;
  sqlite3_bind_int64(st, 1, ld_now());
  sqlite3_bind_text(st, 2, digest, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE)
    ld_debug("meta.db: cannot record use of %s: %s", digest, sqlite3_errmsg(s->meta));
  sqlite3_finalize(st);
}

int ld_store_tag(ld_store *s, const char *name, const ld_descriptor *desc, ld_error **err) {
  char *full;
  if (ld_store_normalize_name(name, &full, err) < 0) return -1;
  if (!ld_store_has_blob(s, desc->digest)) {
    free(full);
    return ld_err(err, LD_ENOTFOUND, "cannot tag %s: manifest %s is not in the store", name,
                  desc->digest);
  }
  if (ld_store_lock(s, err) < 0) {
    free(full);
    return -1;
  }
  int rc = ld_layout_set_ref(&s->layout, full, desc, err);
  ld_store_unlock(s);
  if (rc == 0) meta_seen(s, desc->digest);
  free(full);
  return rc;
}

int ld_store_untag(ld_store *s, const char *name, ld_error **err) {
  char *full;
  if (ld_store_normalize_name(name, &full, err) < 0) return -1;
  if (ld_store_lock(s, err) < 0) {
    free(full);
    return -1;
  }
  int rc = ld_layout_set_ref(&s->layout, full, NULL, err);
  ld_store_unlock(s);
  free(full);
  return rc;
}

void ld_store_refs_free(ld_store_ref *refs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(refs[i].name);
    ld_descriptor_clear(&refs[i].desc);
  }
  free(refs);
}

int ld_store_list(const ld_store *s, ld_store_ref **out, size_t *n, ld_error **err) {
  json_t *index;
  if (ld_layout_read_index(&s->layout, &index, err) < 0) return -1;
  json_t *arr = json_object_get(index, "manifests");
  size_t count = json_array_size(arr), k = 0;
  ld_store_ref *refs = ld_xcalloc(count, sizeof *refs);
  for (size_t i = 0; i < count; i++) {
    json_t *e = json_array_get(arr, i);
    if (ld_descriptor_from_json(e, &refs[k].desc, err) < 0) {
      ld_error_wrap(err, "%s/index.json entry %zu", s->layout.dir, i);
      json_decref(index);
      ld_store_refs_free(refs, k);
      return -1;
    }
    const char *name = ld_json_str(json_object_get(e, "annotations"), LD_ANNOT_REF_NAME);
    refs[k].name = ld_xstrdup(name ? name : "");
    k++;
  }
  json_decref(index);
  *out = refs;
  *n = k;
  return 0;
}

static bool is_hex(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return false;
  return true;
}

/* A digest (or unique digest prefix ≥ 12 hex) of a tagged image, or of any manifest blob. */
static int resolve_digest(const ld_store *s, const char *ref, ld_descriptor *out, ld_error **err) {
  const char *hex = ld_str_has_prefix(ref, "sha256:") ? ref + 7 : ref;
  ld_store_ref *refs;
  size_t n;
  if (ld_store_list(s, &refs, &n, err) < 0) return -1;
  const ld_descriptor *hit = NULL;
  bool ambiguous = false;
  for (size_t i = 0; i < n; i++) {
    const char *h = ld_digest_hex(refs[i].desc.digest);
    if (!strncmp(h, hex, strlen(hex))) {
      if (hit && strcmp(hit->digest, refs[i].desc.digest)) ambiguous = true;
      hit = &refs[i].desc;
    }
  }
  int rc = 0;
  if (ambiguous) {
    rc = ld_err(err, LD_EUSAGE, "digest prefix %s matches several images", ref);
  } else if (hit) {
    ld_descriptor_copy(out, hit); /* deep-copies annotations */
    if (out->annotations) json_object_del(out->annotations, LD_ANNOT_REF_NAME);
  } else if (strlen(hex) == 64) {
    char *digest = ld_xasprintf("sha256:%s", hex);
    char *buf;
    size_t len;
    if (ld_store_read_blob(s, digest, LD_MANIFEST_MAX, &buf, &len, NULL) == 0) {
      ld_manifest m;
      if (ld_manifest_parse(buf, len, NULL, &m, NULL) == 0) {
        memset(out, 0, sizeof *out);
        out->media_type = ld_xstrdup(m.media_type);
        out->digest = ld_xstrdup(digest);
        out->size = (int64_t) len;
        ld_manifest_clear(&m);
      } else
        rc = ld_err(err, LD_ENOTFOUND, "%s is in the store but is not a manifest", digest);
      free(buf);
    } else
      rc = ld_err(err, LD_ENOTFOUND, "no image %s in the store", digest);
    free(digest);
  } else {
    rc = ld_err(err, LD_ENOTFOUND, "no image matching %s in the store", ref);
  }
  ld_store_refs_free(refs, n);
  return rc;
}

int ld_store_resolve(const ld_store *s, const char *ref, ld_descriptor *out, char **canonical_name,
                     ld_error **err) {
  memset(out, 0, sizeof *out);
  if (canonical_name) *canonical_name = NULL;
  if (ld_str_has_prefix(ref, "sha256:") || (strlen(ref) >= 12 && strlen(ref) <= 64 && is_hex(ref)))
    return resolve_digest(s, ref, out, err);
  ld_reference r;
  if (ld_reference_parse(ref, &r, err) < 0) return -1;
  if (r.digest) {
    int rc = resolve_digest(s, r.digest, out, err);
    ld_reference_clear(&r);
    return rc;
  }
  if (!r.tag) r.tag = ld_xstrdup("latest");
  char *full = ld_reference_format(&r);
  ld_reference_clear(&r);
  ld_error *inner = NULL;
  int rc = ld_layout_find_ref(&s->layout, full, out, &inner);
  if (rc < 0) {
    if (inner && inner->code == LD_ENOTFOUND)
      ld_err(err, LD_ENOTFOUND, "no image named %s in the store %s", ref, s->layout.dir);
    else if (err && !*err) {
      *err = inner;
      inner = NULL;
    }
    ld_error_free(inner);
    free(full);
    return -1;
  }
  if (out->annotations) {
    json_t *copy = json_deep_copy(out->annotations);
    json_decref(out->annotations);
    json_object_del(copy, LD_ANNOT_REF_NAME);
    out->annotations = json_object_size(copy) ? copy : (json_decref(copy), NULL);
  }
  if (canonical_name) *canonical_name = full;
  else free(full);
  return 0;
}

const ld_layout *ld_store_layout(const ld_store *s) { return &s->layout; }
