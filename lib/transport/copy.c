/* ld_copy: move an image from any source to any destination.
 *
 * Walk: top manifest -> (index: every child, or the one platform asked for / the only one a
 * single-image destination can hold) -> config and layers. A blob the destination already has is
 * skipped; every other blob streams from source to destination, which verifies digest and size
 * as it writes. Manifests are copied as the exact bytes received and checked against the digest
 * their parent names. commit() names the top last, so an interrupted copy never leaves a name
 * pointing at an incomplete image, and a re-run moves only what is missing.
 */
#include <string.h>
#include "lading/transport.h"
#include "lading/util.h"

typedef struct {
  ld_image_src *src;
  ld_image_dst *dst;
  const ld_copy_opts *o;
  ld_copy_result *res;
} copy_job;

static int copy_blob(copy_job *j, const ld_descriptor *d, ld_error **err) {
  bool has = false;
  if (j->dst->has_blob(j->dst, d, &has, err) < 0) return -1;
  if (has) {
    j->res->blobs_skipped++;
    if (j->o && j->o->progress) j->o->progress(j->o->progress_arg, "skip", d, 0);
    return 0;
  }
  ld_reader *r;
  if (j->src->open_blob(j->src, d, &r, err) < 0) return -1;
  int rc = j->dst->put_blob(j->dst, d, r, err);
  ld_reader_close(r);
  if (rc < 0) return -1;
  j->res->blobs_copied++;
  j->res->bytes_copied += (uint64_t) d->size;
  if (j->o && j->o->progress) j->o->progress(j->o->progress_arg, "done", d, (uint64_t) d->size);
  return 0;
}

static int fetch(copy_job *j, const char *digest, char **bytes, size_t *len, char **mt,
                 ld_manifest *m, ld_error **err) {
  if (j->src->get_manifest(j->src, digest, bytes, len, mt, err) < 0) return -1;
  if (ld_manifest_parse(*bytes, *len, *mt, m, err) < 0) {
    free(*bytes);
    free(*mt);
    return ld_error_wrap(err, "%s", j->src->name);
  }
  if (digest && strcmp(m->digest, digest)) {
    ld_err(err, LD_EDIGEST, "%s: manifest %s: digest mismatch: content is %s", j->src->name,
           digest, m->digest);
    ld_manifest_clear(m);
    free(*bytes);
    free(*mt);
    return -1;
  }
  return 0;
}

/* Copies one manifest or index (already fetched) and everything below it. */
static int copy_tree(copy_job *j, ld_manifest *m, const char *bytes, size_t len, const char *mt,
                     int depth, ld_error **err) {
  if (m->kind == LD_KIND_INDEX) {
    if (depth > 4) return ld_err(err, LD_EFORMAT, "%s: indexes nested too deep", j->src->name);
    for (size_t i = 0; i < m->n_manifests; i++) {
      const ld_descriptor *d = &m->manifests[i];
      char *cb, *cmt;
      size_t clen;
      ld_manifest child;
      if (!ld_media_type_is_manifest(d->media_type) && !ld_media_type_is_index(d->media_type)) {
        if (copy_blob(j, d, err) < 0) return -1; /* an artifact blob in an index */
        continue;
      }
      if (fetch(j, d->digest, &cb, &clen, &cmt, &child, err) < 0) return -1;
      int rc = copy_tree(j, &child, cb, clen, cmt, depth + 1, err);
      ld_manifest_clear(&child);
      free(cb);
      free(cmt);
      if (rc < 0) return -1;
    }
  } else {
    if (copy_blob(j, &m->config, err) < 0) return -1;
    for (size_t i = 0; i < m->n_layers; i++)
      if (copy_blob(j, &m->layers[i], err) < 0) return -1;
  }
  return j->dst->put_manifest(j->dst, bytes, len, mt, m->digest, err);
}

int ld_copy(ld_image_src *src, ld_image_dst *dst, const ld_copy_opts *o, ld_copy_result *res,
            ld_error **err) {
  ld_copy_result local;
  if (!res) res = &local;
  memset(res, 0, sizeof *res);
  copy_job j = {src, dst, o, res};
  char *bytes, *mt;
  size_t len;
  ld_manifest top;
  if (fetch(&j, NULL, &bytes, &len, &mt, &top, err) < 0) return -1;
  /* One platform when asked, or when the destination holds a single image. */
  const ld_platform *want = o ? o->platform : NULL;
  while (top.kind == LD_KIND_INDEX && (want || dst->single_image_only)) {
    const ld_descriptor *pick = NULL;
    size_t images = 0;
    for (size_t i = 0; i < top.n_manifests; i++)
      if (ld_media_type_is_manifest(top.manifests[i].media_type)) {
        images++;
        if (!pick) pick = &top.manifests[i];
      }
    if ((want || images != 1) && ld_index_select(&top, want, &pick, err) < 0) goto fail;
    char *digest = ld_xstrdup(pick->digest);
    ld_manifest_clear(&top);
    free(bytes);
    free(mt);
    int rc = fetch(&j, digest, &bytes, &len, &mt, &top, err);
    free(digest);
    if (rc < 0) return ld_error_wrap(err, "copy %s to %s", src->name, dst->name);
  }
  if (copy_tree(&j, &top, bytes, len, mt, 0, err) < 0) goto fail;
  ld_descriptor desc = {.media_type = mt, .digest = top.digest, .size = (int64_t) len};
  if (dst->commit(dst, &desc, err) < 0) goto fail;
  snprintf(res->digest, sizeof res->digest, "%s", top.digest);
  ld_manifest_clear(&top);
  free(bytes);
  free(mt);
  return 0;
fail:
  ld_manifest_clear(&top);
  free(bytes);
  free(mt);
  return ld_error_wrap(err, "copy %s to %s", src->name, dst->name);
}
