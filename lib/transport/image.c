/* ld_image_load: from a source to one platform's manifest and its config, every byte verified.
 *
 * An index is followed to the requested platform; with no platform requested, an index with a
 * single image is followed whatever its platform (so an arm64-only image can be analyzed on an
 * amd64 host), otherwise the host's platform is chosen. */
#include <string.h>
#include "lading/layer.h"
#include "lading/transport.h"
#include "lading/util.h"

void ld_image_clear(ld_image *img) {
  ld_manifest_clear(&img->manifest);
  if (img->index) {
    ld_manifest_clear(img->index);
    free(img->index);
  }
  ld_config_clear(&img->config);
  free(img->config_raw);
  memset(img, 0, sizeof *img);
}

static int fetch_manifest(ld_image_src *src, const char *digest, ld_manifest *out,
                          ld_error **err) {
  char *bytes = NULL, *mt = NULL;
  size_t len;
  if (src->get_manifest(src, digest, &bytes, &len, &mt, err) < 0) return -1;
  int rc = ld_manifest_parse(bytes, len, mt, out, err);
  if (rc == 0 && digest && strcmp(out->digest, digest)) {
    rc = ld_err(err, LD_EDIGEST, "%s: manifest %s: digest mismatch: content is %s", src->name,
                digest, out->digest);
    ld_manifest_clear(out);
  } else if (rc < 0)
    ld_error_wrap(err, "%s", src->name);
  free(bytes);
  free(mt);
  return rc;
}

int ld_image_load(ld_image_src *src, const ld_platform *platform, ld_image *out, ld_error **err) {
  memset(out, 0, sizeof *out);
  ld_manifest top;
  if (fetch_manifest(src, NULL, &top, err) < 0) return -1;
  for (int depth = 0; top.kind == LD_KIND_INDEX; depth++) {
    const ld_descriptor *pick = NULL;
    size_t images = 0;
    for (size_t i = 0; i < top.n_manifests; i++)
      if (ld_media_type_is_manifest(top.manifests[i].media_type) &&
          !(top.manifests[i].has_platform && top.manifests[i].platform.architecture &&
            !strcmp(top.manifests[i].platform.architecture, "unknown"))) {
        images++;
        if (!pick) pick = &top.manifests[i];
      }
    if (platform || images != 1) {
      if (ld_index_select(&top, platform, &pick, err) < 0) {
        ld_manifest_clear(&top);
        return ld_error_wrap(err, "%s", src->name);
      }
    }
    if (!pick || depth > 4) {
      ld_manifest_clear(&top);
      return ld_err(err, LD_EFORMAT, "%s: index has no image manifest", src->name);
    }
    char *digest = ld_xstrdup(pick->digest);
    ld_manifest child;
    int rc = fetch_manifest(src, digest, &child, err);
    free(digest);
    if (rc < 0) {
      ld_manifest_clear(&top);
      return -1;
    }
    if (!out->index) {
      out->index = ld_xmalloc(sizeof *out->index);
      *out->index = top;
    } else
      ld_manifest_clear(&top);
    top = child;
  }
  out->manifest = top;
  ld_reader *blob;
  if (src->open_blob(src, &top.config, &blob, err) < 0) goto fail;
  char what[200];
  snprintf(what, sizeof what, "%s: config %s", src->name, top.config.digest);
  ld_reader *v = ld_verifier_new(blob, true, top.config.digest, top.config.size, what);
  int rc = ld_reader_slurp(v, LD_CONFIG_MAX, &out->config_raw, &out->config_len, what, err);
  ld_reader_close(v);
  if (rc < 0) goto fail;
  if (ld_config_parse(out->config_raw, out->config_len, &out->config, err) < 0) {
    ld_error_wrap(err, "%s", src->name);
    goto fail;
  }
  return 0;
fail:
  ld_image_clear(out);
  return -1;
}

void ld_image_layer_opts(ld_image_src *src, const ld_descriptor *d, ld_layer_opts *o,
                         char diff_id_buf[LD_DIGEST_MAX]) {
  memset(o, 0, sizeof *o);
  o->blob_size = d->size;
  if (!src->store) return;
  o->blob_verified = true;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(ld_store_meta(src->store), "SELECT diff_id FROM layers WHERE digest=?",
                         -1, &st, NULL) != SQLITE_OK)
    return;
  sqlite3_bind_text(st, 1, d->digest, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
    snprintf(diff_id_buf, LD_DIGEST_MAX, "%s", (const char *) sqlite3_column_text(st, 0));
    o->known_diff_id = diff_id_buf;
  }
  sqlite3_finalize(st);
}

void ld_image_layer_learned(ld_image_src *src, const ld_descriptor *d, const char *diff_id,
                            uint64_t uncompressed_size) {
  if (!src->store || !diff_id || !*diff_id) return;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(ld_store_meta(src->store),
                         "INSERT OR REPLACE INTO layers(digest, diff_id, uncompressed_size) "
                         "VALUES(?,?,?)",
                         -1, &st, NULL) != SQLITE_OK)
    return;
  sqlite3_bind_text(st, 1, d->digest, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, diff_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, (sqlite3_int64) uncompressed_size);
  sqlite3_step(st);
  sqlite3_finalize(st);
}
