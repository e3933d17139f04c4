/* The store as a disk report: one image per distinct top-level digest in index.json.
 *
 * An image uses every blob reachable from its top manifest that the store holds: the manifest
 * (or index and the child manifests present), configs and layers. Blobs are the report's
 * "layers" with a kind (manifest, index, config, layer), so a config shared by two tags of one
 * digest, or a base layer shared by many images, is counted once in totals and as shared in
 * each image. Sizes are st_blocks * 512 of the blob files.
 *
 * Times come from meta.db's images table (first_seen, last_used: written by ld_store_touch on
 * every use); an image without a row falls back to its manifest blob's mtime. Pins and broken
 * marks are our own tables (pins.c, fsck.c). Blobs no image reaches are summed as
 * unreferenced_bytes: what `lading gc` would free.
 */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include "disk_internal.h"
#include "lading/disk.h"
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/util.h"

static uint64_t blob_blocks(const ld_store *s, const char *digest, int64_t *mtime) {
  ld_autofree char *p = ld_store_blob_path(s, digest);
  struct stat st;
  if (stat(p, &st) < 0) return 0;
  if (mtime) *mtime = st.st_mtim.tv_sec;
  return (uint64_t) st.st_blocks * 512;
}

/* Adds a blob to the image if the store holds it; returns the layer index or (size_t)-1. */
static size_t use_blob(ld_disk_report *r, ld_store *s, size_t image, const char *digest,
                       const char *kind) {
  size_t li = ld_disk_layer_find(r, digest);
  if (li == (size_t) -1) { /* first sight: one stat says present and sizes it */
    if (ld_digest_validate(digest, NULL) < 0) return (size_t) -1;
    ld_autofree char *p = ld_store_blob_path(s, digest);
    struct stat st;
    if (stat(p, &st) < 0 || !S_ISREG(st.st_mode)) return (size_t) -1;
    li = ld_disk_layer_index(r, digest, NULL);
    r->layers[li].digest = ld_xstrdup(digest);
    r->layers[li].kind = ld_xstrdup(kind);
    r->layers[li].size = (uint64_t) st.st_blocks * 512;
  }
  ld_disk_use(r, image, li);
  return li;
}

static void read_created(ld_disk_report *r, ld_store *s, size_t image, const char *config) {
  char *buf = NULL;
  size_t len = 0;
  if (ld_store_read_blob(s, config, LD_CONFIG_MAX, &buf, &len, NULL) < 0) return;
  json_t *j = NULL;
  if (ld_json_parse(buf, len, config, &j, NULL) == 0) {
    int64_t t;
    if (ld_disk_parse_time(ld_json_str(j, "created"), &t) == 0) r->images[image].created = t;
    json_decref(j);
  }
  free(buf);
}

static void add_manifest(ld_disk_report *r, ld_store *s, size_t image, const char *digest,
                         int depth) {
  char *buf = NULL;
  size_t len = 0;
  ld_manifest m;
  if (depth > 4 || ld_store_read_blob(s, digest, LD_MANIFEST_MAX, &buf, &len, NULL) < 0) return;
  if (ld_manifest_parse(buf, len, NULL, &m, NULL) < 0) {
    free(buf);
    return;
  }
  use_blob(r, s, image, digest, m.kind == LD_KIND_INDEX ? "index" : "manifest");
  if (m.kind == LD_KIND_INDEX) {
    for (size_t i = 0; i < m.n_manifests; i++)
      add_manifest(r, s, image, m.manifests[i].digest, depth + 1); /* absent: read fails */
  } else {
    if (use_blob(r, s, image, m.config.digest, "config") != (size_t) -1 &&
        !r->images[image].created)
      read_created(r, s, image, m.config.digest);
    for (size_t i = 0; i < m.n_layers; i++) {
      const ld_disk_image *im = &r->images[image];
      size_t before = im->n_layers;
      use_blob(r, s, image, m.layers[i].digest, "layer");
      if (r->images[image].n_layers > before) r->images[image].n_fs_layers++;
    }
  }
  ld_manifest_clear(&m);
  free(buf);
}

static void add_name(ld_disk_image *im, const char *name) {
  if (!name || !*name) return;
  im->names = ld_xrealloc(im->names, (im->n_names + 2) * sizeof *im->names);
  im->names[im->n_names++] = ld_xstrdup(name);
  im->names[im->n_names] = NULL;
}

static void read_times(ld_disk_report *r, ld_store *s) {
  sqlite3_stmt *st;
  sqlite3 *db = ld_store_meta(s);
  if (sqlite3_prepare_v2(db, "SELECT digest, first_seen, last_used, pinned FROM images", -1, &st,
                         NULL) != SQLITE_OK)
    return;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *d = (const char *) sqlite3_column_text(st, 0);
    size_t i = d ? ld_disk_image_by_id(r, d) : (size_t) -1;
    if (i == (size_t) -1) continue;
    r->images[i].first_seen = sqlite3_column_int64(st, 1);
    r->images[i].last_used = sqlite3_column_int64(st, 2);
    if (sqlite3_column_int(st, 3)) r->images[i].pinned = true;
  }
  sqlite3_finalize(st);
}

/* Sums the blobs no image uses. */
static void add_if_unreferenced(ld_store *s, const char *digest, int dirfd, const char *name,
                                const struct stat *st, void *ctx) {
  (void) s, (void) dirfd, (void) name;
  ld_disk_report *r = ctx;
  if (ld_disk_layer_find(r, digest) == (size_t) -1) r->unreferenced_bytes += (uint64_t) st->st_blocks * 512;
}

static void count_unreferenced(ld_disk_report *r, ld_store *s) {
  ld_disk_each_blob(s, add_if_unreferenced, r);
}

int ld_disk_store_read(ld_store *s, const ld_disk_read_opts *o, ld_disk_report **out,
                       ld_error **err) {
  ld_store_ref *refs = NULL;
  size_t n = 0;
  if (ld_store_list(s, &refs, &n, err) < 0) return ld_error_wrap(err, "store %s", ld_store_root(s));
  ld_disk_report *r = ld_disk_report_new(LD_DISK_STORE, ld_store_root(s));
  for (size_t i = 0; i < n; i++) {
    size_t im = ld_disk_image_by_id(r, refs[i].desc.digest);
    if (im == (size_t) -1) {
      im = ld_disk_add_image(r, refs[i].desc.digest);
      r->images[im].digest = ld_xstrdup(refs[i].desc.digest);
      add_manifest(r, s, im, refs[i].desc.digest, 0);
    }
    add_name(&r->images[im], refs[i].name);
  }
  ld_store_refs_free(refs, n);
  read_times(r, s);
  ld_disk_apply_pins(r, s);
  ld_disk_apply_broken(r, s);
  for (size_t i = 0; i < r->n_images; i++) { /* no meta.db row: the manifest's mtime */
    ld_disk_image *im = &r->images[i];
    int64_t mtime = 0;
    if (!im->first_seen) {
      blob_blocks(s, im->id, &mtime);
      im->first_seen = mtime;
    }
    if (!im->last_used) im->last_used = im->first_seen;
  }
  ld_disk_report_finish(r);
  count_unreferenced(r, s);
  ld_fs_usage(ld_store_root(s), &r->fs_total, &r->fs_avail, NULL);
  (void) o;
  *out = r;
  return 0;
}
