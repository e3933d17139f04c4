/* Pins and broken marks, in our own meta.db tables (the store's schema stays the store's).
 *
 *   disk_pins(key, digest, created)  key is a normalised name or a digest. A pinned name protects
 *                                    whatever it points to now (like CRI-O's pinned_images), a
 *                                    pinned digest that exact image. digest records what the
 *                                    key resolved to when pinned, for listing.
 *   disk_broken(image, blob, found)  fsck --repair: image (manifest digest) lost blob. An image
 *                                    is shown broken while that blob is absent; copying it again
 *                                    heals it.
 * The store's own images.pinned column is honoured too.
 */
#include <string.h>
#include "disk_internal.h"
#include "lading/util.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS disk_pins(key TEXT PRIMARY KEY, digest TEXT, created INTEGER);"
    "CREATE TABLE IF NOT EXISTS disk_broken(image TEXT, blob TEXT, found INTEGER,"
    " PRIMARY KEY(image, blob));";

int ld_disk_meta_init(ld_store *s, ld_error **err) {
  char *msg = NULL;
  if (sqlite3_exec(ld_store_meta(s), schema, NULL, NULL, &msg) != SQLITE_OK) {
    ld_err(err, EIO, "%s/meta.db: %s", ld_store_root(s), msg ? msg : "cannot create tables");
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

static int exec2(ld_store *s, const char *sql, const char *a, const char *b, ld_error **err) {
  sqlite3_stmt *st;
  sqlite3 *db = ld_store_meta(s);
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return ld_err(err, EIO, "%s/meta.db: %s", ld_store_root(s), sqlite3_errmsg(db));
  sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ld_err(err, EIO, "%s/meta.db: %s", ld_store_root(s), sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return rc;
}

/* A digest given as such pins by digest; anything else is a name, normalised. */
static int pin_key(ld_store *s, const char *arg, char **key, char **digest, ld_error **err) {
  ld_descriptor d;
  char *canonical = NULL;
  if (ld_store_resolve(s, arg, &d, &canonical, err) < 0) return -1;
  *digest = ld_xstrdup(d.digest);
  ld_descriptor_clear(&d);
  *key = canonical ? canonical : ld_xstrdup(*digest);
  return 0;
}

int ld_disk_pin(ld_store *s, const char *arg, ld_error **err) {
  char *key = NULL, *digest = NULL;
  if (ld_disk_meta_init(s, err) < 0 || pin_key(s, arg, &key, &digest, err) < 0)
    return ld_error_wrap(err, "pin %s", arg);
  char now[32];
  snprintf(now, sizeof now, "%lld", (long long) ld_now());
  sqlite3_stmt *st;
  sqlite3 *db = ld_store_meta(s);
  int rc = -1;
  if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO disk_pins(key, digest, created) VALUES(?,?,?)",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, digest, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, ld_now());
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
  }
  if (rc < 0) ld_err(err, EIO, "pin %s: %s/meta.db: %s", arg, ld_store_root(s), sqlite3_errmsg(db));
  free(key);
  free(digest);
  return rc;
}

int ld_disk_unpin(ld_store *s, const char *arg, ld_error **err) {
  if (ld_disk_meta_init(s, err) < 0) return -1;
  char *norm = NULL;
  /* by key as typed, normalised, or the digest it resolves to */
  if (ld_store_normalize_name(arg, &norm, NULL) < 0) norm = NULL;
  int changes = 0;
  sqlite3 *db = ld_store_meta(s);
  const char *keys[] = {arg, norm};
  for (size_t i = 0; i < 2; i++) {
    if (!keys[i]) continue;
    if (exec2(s, "DELETE FROM disk_pins WHERE key=?1 OR digest=?1", keys[i], NULL, err) < 0) {
      free(norm);
      return -1;
    }
    changes += sqlite3_changes(db);
  }
  free(norm);
  ld_descriptor d;
  if (ld_store_resolve(s, arg, &d, NULL, NULL) == 0) {
    exec2(s, "UPDATE images SET pinned=0 WHERE digest=? AND pinned=1", d.digest, NULL, NULL);
    changes += sqlite3_changes(db);
    ld_descriptor_clear(&d);
  }
  if (!changes) return ld_err(err, LD_ENOTFOUND, "unpin %s: not pinned", arg);
  return 0;
}

int ld_disk_pins(ld_store *s, char ***names, char ***digests, size_t *n, ld_error **err) {
  *names = *digests = NULL;
  *n = 0;
  if (ld_disk_meta_init(s, err) < 0) return -1;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(ld_store_meta(s), "SELECT key, digest FROM disk_pins ORDER BY key", -1,
                         &st, NULL) != SQLITE_OK)
    return ld_err(err, EIO, "%s/meta.db: %s", ld_store_root(s), sqlite3_errmsg(ld_store_meta(s)));
  size_t cap = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (*n + 1 >= cap) {
      cap = cap ? 2 * cap : 8;
      *names = ld_xrealloc(*names, cap * sizeof **names);
      *digests = ld_xrealloc(*digests, cap * sizeof **digests);
    }
    const char *k = (const char *) sqlite3_column_text(st, 0), *d = (const char *) sqlite3_column_text(st, 1);
    (*names)[*n] = ld_xstrdup(k ? k : "");
    (*digests)[*n] = ld_xstrdup(d ? d : "");
    (*n)++;
  }
  if (*names) (*names)[*n] = (*digests)[*n] = NULL;
  sqlite3_finalize(st);
  return 0;
}

void ld_disk_apply_pins(ld_disk_report *r, ld_store *s) {
  if (ld_disk_meta_init(s, NULL) < 0) return;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(ld_store_meta(s), "SELECT key FROM disk_pins", -1, &st, NULL) != SQLITE_OK)
    return;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *key = (const char *) sqlite3_column_text(st, 0);
    if (!key) continue;
    size_t i = ld_disk_image_by_id(r, key);
    if (i != (size_t) -1) r->images[i].pinned = true;
    for (size_t k = 0; k < r->n_images; k++)
      for (size_t n = 0; n < r->images[k].n_names; n++)
        if (!strcmp(r->images[k].names[n], key)) r->images[k].pinned = true;
  }
  sqlite3_finalize(st);
}

void ld_disk_apply_broken(ld_disk_report *r, ld_store *s) {
  if (ld_disk_meta_init(s, NULL) < 0) return;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(ld_store_meta(s), "SELECT image, blob FROM disk_broken", -1, &st, NULL) !=
      SQLITE_OK)
    return;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *image = (const char *) sqlite3_column_text(st, 0);
    const char *blob = (const char *) sqlite3_column_text(st, 1);
    size_t i = image ? ld_disk_image_by_id(r, image) : (size_t) -1;
    if (i != (size_t) -1 && blob && !ld_store_has_blob(s, blob)) r->images[i].broken = true;
  }
  sqlite3_finalize(st);
}
