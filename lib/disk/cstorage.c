/* A read-only view of a containers-storage graph root (CRI-O, Podman, Buildah).
 *
 * containers-storage keeps three JSON "stores" per graph driver:
 *   <driver>-images/images.json          id, names, digest, top "layer", created
 *   <driver>-layers/layers.json          id, parent, diff-size, compressed-size, diff-digest
 *   <driver>-containers/containers.json  id, names, image, its read-write "layer", created
 * An image uses its top layer and every ancestor through "parent". Layer data lives in
 * overlay/<id>/ (overlay: diff/ holds only the layer's own changes) or vfs/dir/<id>/ (vfs: a full
 * copy of the parent plus the changes, so a vfs layer costs the whole chain again).
 *
 * Sizes: by default each layer directory is measured like `du -s -B1` (plus its tar-split
 * file), so the numbers add up with du of the driver's directories. With estimate, layers.json
 * is trusted instead: diff-size for overlay, the chain's diff-sizes for vfs. Image metadata
 * (<driver>-images/<id>/: manifest, config, signatures) is a per-image pseudo-layer of kind
 * "metadata", always unique to its image.
 *
 * Times: "created" is the image's creation (from its config). containers-storage records no
 * pull or use time, so first_seen is the mtime of the image's metadata directory (written at
 * pull) and last_used the newest of first_seen and the creation of any container using it.
 * Nothing is written: lading does not write another runtime's storage.
 */
#include <string.h>
#include <sys/stat.h>
#include "disk_internal.h"
#include "lading/disk.h"
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/util.h"

#define CS_JSON_MAX (512u << 20)

typedef struct cs_ctx {
  ld_disk_report *r;
  const ld_disk_read_opts *o;
  const char *driver;
  json_t *layers;     /* layers.json array */
  json_t *by_id;      /* id -> layer object (borrowed) */
} cs_ctx;

static int read_json_array(const char *root, const char *driver, const char *kind,
                           const char *file, bool required, json_t **out, ld_error **err) {
  ld_autofree char *path = ld_xasprintf("%s/%s-%s/%s", root, driver, kind, file);
  ld_autofree char *buf = NULL;
  size_t len = 0;
  ld_error *e = NULL;
  if (ld_read_file(path, CS_JSON_MAX, &buf, &len, &e) < 0) {
    if (!required && e->code == ENOENT) {
      ld_error_free(e);
      *out = json_array();
      return 0;
    }
    if (err) *err = e;
    else ld_error_free(e);
    return -1;
  }
  if (ld_json_parse(buf, len, path, out, err) < 0) return -1;
  if (!json_is_array(*out)) {
    json_decref(*out);
    return ld_err(err, LD_EFORMAT, "%s: not a JSON array", path);
  }
  return 0;
}

static const char *detect_driver(const char *root, ld_error **err) {
  static const char *drivers[] = {"overlay", "vfs"};
  for (size_t i = 0; i < LD_ARRAY_SIZE(drivers); i++) {
    ld_autofree char *p = ld_xasprintf("%s/%s-images/images.json", root, drivers[i]);
    if (ld_path_exists(p)) return drivers[i];
  }
  ld_err(err, ENOENT,
         "%s: not a containers-storage graph root (no overlay-images/images.json or "
         "vfs-images/images.json)",
         root);
  return NULL;
}

static char *layer_dir(const cs_ctx *c, const char *id) {
  if (!strcmp(c->driver, "vfs")) return ld_xasprintf("%s/vfs/dir/%s", c->r->root, id);
  return ld_xasprintf("%s/%s/%s", c->r->root, c->driver, id);
}

static uint64_t estimate_layer(const cs_ctx *c, const json_t *layer) {
  if (strcmp(c->driver, "vfs")) return (uint64_t) ld_json_int(layer, "diff-size", 0);
  uint64_t sum = 0;
  for (int depth = 0; layer && depth < 1000; depth++) { /* vfs: the chain is copied */
    sum += (uint64_t) ld_json_int(layer, "diff-size", 0);
    const char *parent = ld_json_str(layer, "parent");
    layer = parent ? json_object_get(c->by_id, parent) : NULL;
  }
  return sum;
}

/* Bytes on disk of one layer: its directory and tar-split, or the estimate. */
static uint64_t layer_size(const cs_ctx *c, const json_t *layer) {
  const char *id = ld_json_str(layer, "id");
  if (c->o && c->o->estimate) return estimate_layer(c, layer);
  ld_autofree char *dir = layer_dir(c, id);
  uint64_t bytes = 0, split = 0;
  if (ld_disk_du(dir, &bytes, NULL) < 0) return estimate_layer(c, layer);
  ld_autofree char *ts = ld_xasprintf("%s/%s-layers/%s.tar-split.gz", c->r->root, c->driver, id);
  if (ld_disk_du(ts, &split, NULL) == 0) bytes += split;
  return bytes;
}

static int index_layers(cs_ctx *c, ld_error **err) {
  c->by_id = json_object();
  size_t i;
  json_t *l;
  json_array_foreach(c->layers, i, l) {
    const char *id = ld_json_str(l, "id");
    if (!id) return ld_err(err, LD_EFORMAT, "%s/%s-layers/layers.json: layer %zu has no id",
                           c->r->root, c->driver, i);
    json_object_set(c->by_id, id, l);
  }
  return 0;
}

/* The report layer for a containers-storage layer id, created and sized on first sight. */
static size_t cs_layer(cs_ctx *c, const json_t *layer) {
  bool created;
  size_t li = ld_disk_layer_index(c->r, ld_json_str(layer, "id"), &created);
  if (created) {
    ld_disk_layer *dl = &c->r->layers[li];
    const char *dd = ld_json_str(layer, "diff-digest");
    dl->digest = dd ? ld_xstrdup(dd) : NULL;
    dl->kind = ld_xstrdup("layer");
    dl->size = layer_size(c, layer);
  }
  return li;
}

static void add_metadata(cs_ctx *c, size_t ii, const char *id) {
  ld_autofree char *dir = ld_xasprintf("%s/%s-images/%s", c->r->root, c->driver, id);
  ld_autofree char *key = ld_xasprintf("metadata:%s", id);
  uint64_t bytes = 0;
  struct stat st;
  if (stat(dir, &st) == 0) c->r->images[ii].first_seen = st.st_mtim.tv_sec;
  if (ld_disk_du(dir, &bytes, NULL) < 0) return;
  size_t li = ld_disk_layer_index(c->r, key, NULL);
  c->r->layers[li].kind = ld_xstrdup("metadata");
  c->r->layers[li].size = bytes;
  ld_disk_use(c->r, ii, li);
}

static int add_image(cs_ctx *c, const json_t *img, size_t pos, ld_error **err) {
  const char *id = ld_json_str(img, "id");
  if (!id) return ld_err(err, LD_EFORMAT, "%s/%s-images/images.json: image %zu has no id",
                         c->r->root, c->driver, pos);
  size_t ii = ld_disk_add_image(c->r, id);
  ld_disk_image *im = &c->r->images[ii];
  const char *digest = ld_json_str(img, "digest");
  im->digest = digest ? ld_xstrdup(digest) : NULL;
  json_t *names = json_object_get(img, "names");
  im->n_names = json_is_array(names) ? json_array_size(names) : 0;
  im->names = ld_xcalloc(im->n_names + 1, sizeof *im->names);
  for (size_t n = 0; n < im->n_names; n++) {
    const char *s = json_string_value(json_array_get(names, n));
    im->names[n] = ld_xstrdup(s ? s : "");
  }
  int64_t t = 0;
  if (ld_disk_parse_time(ld_json_str(img, "created"), &t) == 0) im->created = t;
  const char *top = ld_json_str(img, "layer");
  int64_t top_created = 0;
  for (int depth = 0; top && depth < 1000; depth++) {
    json_t *l = json_object_get(c->by_id, top);
    if (!l) return ld_err(err, LD_EFORMAT, "%s: image %.12s: layer %.12s is not in layers.json",
                          c->r->root, id, top);
    if (depth == 0) ld_disk_parse_time(ld_json_str(l, "created"), &top_created);
    size_t li = cs_layer(c, l);
    ld_disk_use(c->r, ii, li);
    c->r->images[ii].n_fs_layers++;
    top = ld_json_str(l, "parent");
  }
  add_metadata(c, ii, id);
  im = &c->r->images[ii];
  if (!im->first_seen) im->first_seen = top_created ? top_created : im->created;
  im->last_used = im->first_seen;
  return 0;
}

static void append_used_by(ld_disk_image *im, const char *who) {
  char *old = im->used_by;
  im->used_by = old ? ld_xasprintf("%s,%s", old, who) : ld_xstrdup(who);
  free(old);
}

static void add_container(cs_ctx *c, const json_t *ctr) {
  const char *image = ld_json_str(ctr, "image");
  const char *cid = ld_json_str(ctr, "id");
  const char *name = json_string_value(json_array_get(json_object_get(ctr, "names"), 0));
  int64_t created = 0;
  ld_disk_parse_time(ld_json_str(ctr, "created"), &created);
  size_t i = image ? ld_disk_image_by_id(c->r, image) : (size_t) -1;
  if (i != (size_t) -1) {
    ld_disk_image *im = &c->r->images[i];
    im->in_use = true;
    append_used_by(im, name ? name : cid ? cid : "?");
    if (created > im->last_used) im->last_used = created;
  }
  const char *layer = ld_json_str(ctr, "layer");
  json_t *l = layer ? json_object_get(c->by_id, layer) : NULL;
  if (l && !(c->o && c->o->estimate)) {
    ld_autofree char *dir = layer_dir(c, layer);
    uint64_t bytes = 0;
    if (ld_disk_du(dir, &bytes, NULL) == 0) c->r->containers_bytes += bytes;
  }
}

/* Builds the report from the three parsed arrays (borrowed); c->r, c->layers are set. */
static int build(cs_ctx *c, json_t *images, json_t *containers, ld_error **err) {
  if (index_layers(c, err) < 0) return -1;
  size_t i;
  json_t *v;
  json_array_foreach(images, i, v) if (add_image(c, v, i, err) < 0) return -1;
  json_array_foreach(containers, i, v) add_container(c, v);
  ld_disk_report_finish(c->r);
  ld_fs_usage(c->r->root, &c->r->fs_total, &c->r->fs_avail, NULL);
  return 0;
}

int ld_disk_cstorage_from_json(const char *graphroot, const char *driver, json_t *images,
                               json_t *layers, json_t *containers, const ld_disk_read_opts *o,
                               ld_disk_report **out, ld_error **err) {
  cs_ctx c = {.o = o, .driver = driver, .layers = layers};
  c.r = ld_disk_report_new(LD_DISK_CSTORAGE, graphroot);
  c.r->driver = ld_xstrdup(driver);
  int rc = build(&c, images, containers, err);
  if (rc == 0) {
    *out = c.r;
    c.r = NULL;
  }
  ld_disk_report_free(c.r);
  if (c.by_id) json_decref(c.by_id);
  return rc;
}

int ld_disk_cstorage_read(const char *graphroot, const ld_disk_read_opts *o,
                          ld_disk_report **out, ld_error **err) {
  const char *driver = detect_driver(graphroot, err);
  if (!driver) return -1;
  json_t *images = NULL, *layers = NULL, *containers = NULL;
  int rc = -1;
  if (read_json_array(graphroot, driver, "images", "images.json", true, &images, err) == 0 &&
      read_json_array(graphroot, driver, "layers", "layers.json", false, &layers, err) == 0 &&
      read_json_array(graphroot, driver, "containers", "containers.json", false, &containers,
                      err) == 0)
    rc = ld_disk_cstorage_from_json(graphroot, driver, images, layers, containers, o, out, err);
  if (rc < 0) ld_error_wrap(err, "containers-storage %s", graphroot);
  if (images) json_decref(images);
  if (layers) json_decref(layers);
  if (containers) json_decref(containers);
  return rc;
}
