/* Layout-backed transports: oci:DIR[:TAG], oci-archive:FILE[:TAG] and the store (bare REF).
 *
 * All three are an OCI layout underneath: the store is one at $LADING_ROOT, an oci-archive is one
 * packed in a tar (unpacked into a private temp dir to read; staged in a temp dir beside FILE and
 * packed atomically at commit to write). So one source and one destination implementation serve
 * them, differing only in how the top-level name is resolved and recorded.
 */
#include <string.h>
#include "lading/disk.h"
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/layout.h"
#include "lading/transport.h"
#include "lading/util.h"
#include "transport/tarfile.h"

typedef struct {
  ld_layout layout;
  bool own_layout;
  ld_descriptor top;
  char *temp_dir; /* removed on close (archives) */
  /* destination */
  ld_store *store;
  char *ref_name;     /* tag / store name; NULL: no name */
  char *archive_file; /* oci-archive: pack here on commit */
} layout_ctx;

static void ctx_free(layout_ctx *c) {
  if (c->own_layout) ld_layout_clear(&c->layout);
  ld_descriptor_clear(&c->top);
  if (c->temp_dir) ld_rm_rf(c->temp_dir, NULL);
  free(c->temp_dir);
  free(c->ref_name);
  free(c->archive_file);
  free(c);
}

/* Media type of a manifest document, from its own mediaType or its shape. */
static char *sniff_manifest_media_type(const char *buf, size_t len) {
  json_t *j = json_loadb(buf, len, 0, NULL);
  if (!j) return NULL;
  const char *mt = ld_json_str(j, "mediaType");
  char *out = NULL;
  if (mt) out = ld_xstrdup(mt);
  else if (json_object_get(j, "manifests")) out = ld_xstrdup(LD_MT_OCI_INDEX);
  else if (json_object_get(j, "config")) out = ld_xstrdup(LD_MT_OCI_MANIFEST);
  json_decref(j);
  return out;
}

static int src_get_manifest(ld_image_src *s, const char *digest, char **bytes, size_t *len,
                            char **media_type, ld_error **err) {
  layout_ctx *c = s->ctx;
  const char *d = digest ? digest : c->top.digest;
  if (ld_layout_read_blob(&c->layout, d, LD_MANIFEST_MAX, bytes, len, err) < 0)
    return ld_error_wrap(err, "%s: manifest", s->name);
  if (!digest && c->top.media_type) *media_type = ld_xstrdup(c->top.media_type);
  else *media_type = sniff_manifest_media_type(*bytes, *len);
  return 0;
}

static int src_open_blob(ld_image_src *s, const ld_descriptor *d, ld_reader **out,
                         ld_error **err) {
  layout_ctx *c = s->ctx;
  if (ld_layout_open_blob(&c->layout, d->digest, out, err) < 0)
    return ld_error_wrap(err, "%s", s->name);
  return 0;
}

static void src_close(ld_image_src *s) {
  ctx_free(s->ctx);
  free(s->name);
  free(s);
}

static ld_image_src *src_new(layout_ctx *c, const char *name) {
  ld_image_src *s = ld_xcalloc(1, sizeof *s);
  s->get_manifest = src_get_manifest;
  s->open_blob = src_open_blob;
  s->close = src_close;
  s->name = ld_xstrdup(name);
  s->ctx = c;
  return s;
}

int ld_oci_layout_src_open(const char *dir, const char *tag, ld_image_src **out, ld_error **err) {
  layout_ctx *c = ld_xcalloc(1, sizeof *c);
  c->own_layout = true;
  if (ld_layout_open(dir, false, &c->layout, err) < 0 ||
      ld_layout_find_ref(&c->layout, tag, &c->top, err) < 0) {
    ctx_free(c);
    return -1;
  }
  char *name = ld_xasprintf("oci:%s%s%s", dir, tag ? ":" : "", tag ? tag : "");
  *out = src_new(c, name);
  free(name);
  return 0;
}

int ld_oci_archive_src_open(const char *file, const char *tag, ld_image_src **out,
                            ld_error **err) {
  if (!ld_path_exists(file)) return ld_err(err, ENOENT, "oci-archive %s: no such file", file);
  char *tmp = ld_make_temp_dir(NULL, err);
  if (!tmp) return -1;
  if (ld_tar_extract(file, tmp, false, err) < 0) {
    ld_rm_rf(tmp, NULL);
    free(tmp);
    return ld_error_wrap(err, "oci-archive");
  }
  ld_image_src *s;
  if (ld_oci_layout_src_open(tmp, tag, &s, err) < 0) {
    ld_rm_rf(tmp, NULL);
    free(tmp);
    return ld_error_wrap(err, "oci-archive %s", file);
  }
  ((layout_ctx *) s->ctx)->temp_dir = tmp;
  free(s->name);
  s->name = ld_xasprintf("oci-archive:%s%s%s", file, tag ? ":" : "", tag ? tag : "");
  *out = s;
  return 0;
}

int ld_store_src_open(ld_store *st, const char *ref, ld_image_src **out, ld_error **err) {
  layout_ctx *c = ld_xcalloc(1, sizeof *c);
  c->layout = *ld_store_layout(st);
  c->own_layout = false;
  char *canonical = NULL;
  if (ld_store_resolve(st, ref, &c->top, &canonical, err) < 0) {
    ctx_free(c);
    return -1;
  }
  ld_store_touch(st, c->top.digest);
  *out = src_new(c, canonical ? canonical : ref);
  (*out)->store = st;
  free(canonical);
  return 0;
}

/* Destination */

static int dst_has_blob(ld_image_dst *d, const ld_descriptor *desc, bool *has, ld_error **err) {
  layout_ctx *c = d->ctx;
  /* the store: "present" also holds the blob against a concurrent gc/prune (lib/disk/gc.c) */
  *has = c->store ? ld_disk_hold_blob(c->store, desc->digest)
                  : ld_layout_has_blob(&c->layout, desc->digest);
  return 0;
}

static int dst_put_blob(ld_image_dst *d, const ld_descriptor *desc, ld_reader *r,
                        ld_error **err) {
  layout_ctx *c = d->ctx;
  if (ld_layout_put_blob(&c->layout, r, desc->digest, desc->size, NULL, err) < 0)
    return ld_error_wrap(err, "%s", d->name);
  return 0;
}

static int dst_put_manifest(ld_image_dst *d, const char *bytes, size_t len, const char *mt,
                            const char *digest, ld_error **err) {
  layout_ctx *c = d->ctx;
  ld_reader *r = ld_reader_from_mem(bytes, len, true);
  int rc = ld_layout_put_blob(&c->layout, r, digest, (int64_t) len, NULL, err);
  ld_reader_close(r);
  if (rc < 0) ld_error_wrap(err, "%s", d->name);
  return rc;
}

static int dst_commit(ld_image_dst *d, const ld_descriptor *top, ld_error **err) {
  layout_ctx *c = d->ctx;
  int rc;
  if (c->store) {
    rc = ld_store_tag(c->store, c->ref_name, top, err);
  } else if (c->ref_name) {
    rc = ld_layout_set_ref(&c->layout, c->ref_name, top, err);
  } else { /* unnamed: add the descriptor unless it is already there */
    json_t *index;
    rc = ld_layout_read_index(&c->layout, &index, err);
    if (rc == 0) {
      json_t *arr = json_object_get(index, "manifests");
      bool present = false;
      for (size_t i = 0; i < json_array_size(arr); i++)
        if (!strcmp(ld_json_str(json_array_get(arr, i), "digest") ?: "", top->digest))
          present = true;
      if (!present) json_array_append_new(arr, ld_descriptor_to_json(top));
      rc = ld_layout_write_index(&c->layout, index, err);
      json_decref(index);
    }
  }
  if (rc == 0 && c->archive_file) {
    rc = ld_tar_pack_dir(c->layout.dir, c->archive_file, err);
  }
  if (rc < 0) ld_error_wrap(err, "%s", d->name);
  return rc;
}

static void dst_close(ld_image_dst *d) {
  ctx_free(d->ctx);
  free(d->name);
  free(d);
}

static ld_image_dst *dst_new(layout_ctx *c, char *name) {
  ld_image_dst *d = ld_xcalloc(1, sizeof *d);
  d->has_blob = dst_has_blob;
  d->put_blob = dst_put_blob;
  d->put_manifest = dst_put_manifest;
  d->commit = dst_commit;
  d->close = dst_close;
  d->name = name;
  d->ctx = c;
  return d;
}

int ld_oci_layout_dst_open(const char *dir, const char *tag, ld_image_dst **out, ld_error **err) {
  layout_ctx *c = ld_xcalloc(1, sizeof *c);
  c->own_layout = true;
  if (ld_layout_open(dir, true, &c->layout, err) < 0) {
    ctx_free(c);
    return ld_error_wrap(err, "oci:%s", dir);
  }
  c->ref_name = ld_xstrdup(tag);
  *out = dst_new(c, ld_xasprintf("oci:%s%s%s", dir, tag ? ":" : "", tag ? tag : ""));
  return 0;
}

int ld_oci_archive_dst_open(const char *file, const char *tag, ld_image_dst **out,
                            ld_error **err) {
  char *copy = ld_xstrdup(file);
  char *slash = strrchr(copy, '/');
  const char *near = slash ? (slash == copy ? "/" : (*slash = 0, copy)) : ".";
  char *tmp = ld_make_temp_dir(near, err);
  free(copy);
  if (!tmp) return -1;
  layout_ctx *c = ld_xcalloc(1, sizeof *c);
  c->own_layout = true;
  c->temp_dir = tmp;
  if (ld_layout_open(tmp, true, &c->layout, err) < 0) {
    ctx_free(c);
    return ld_error_wrap(err, "oci-archive:%s", file);
  }
  c->ref_name = ld_xstrdup(tag);
  c->archive_file = ld_xstrdup(file);
  *out = dst_new(c, ld_xasprintf("oci-archive:%s%s%s", file, tag ? ":" : "", tag ? tag : ""));
  return 0;
}

int ld_store_dst_open(ld_store *st, const char *ref, ld_image_dst **out, ld_error **err) {
  char *full;
  if (ld_store_normalize_name(ref, &full, err) < 0) return -1;
  layout_ctx *c = ld_xcalloc(1, sizeof *c);
  c->layout = *ld_store_layout(st);
  c->own_layout = false;
  c->store = st;
  c->ref_name = full;
  *out = dst_new(c, ld_xstrdup(full));
  return 0;
}
