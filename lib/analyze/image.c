/* Driving the analyzer over a real image: each layer blob is read once, as a stream.
 *
 * For every layer descriptor of the manifest: the source opens the blob, the layer reader
 * decompresses it (ISA-L for gzip), checks its digest and yields cleaned tar entries; regular
 * files' data is hashed with XXH3-128 in 64 KiB pieces (for modified-file detection and duplicate
 * content) and dropped. Only headers and hashes reach the analyzer. When the layer ends, its
 * diff_id is compared with the config's rootfs.diff_ids, so a config that lies about its layers
 * is an error, not a silently wrong report.
 */
#include <string.h>
#include <xxhash.h>
#include "lading/analyze.h"
#include "lading/layer.h"
#include "lading/util.h"

#define AN_READ_BUF (64 * 1024)

static ld_an_type entry_type(struct archive_entry *ae) {
  if (archive_entry_hardlink(ae)) return LD_AN_HARDLINK;
  switch (archive_entry_filetype(ae)) {
  case AE_IFREG: return LD_AN_REG;
  case AE_IFDIR: return LD_AN_DIR;
  case AE_IFLNK: return LD_AN_SYMLINK;
  default: return LD_AN_OTHER;
  }
}

static int hash_data(ld_layer_reader *l, ld_an_entry *e, XXH3_state_t *st, char *buf,
                     ld_error **err) {
  XXH3_128bits_reset(st);
  for (;;) {
    ssize_t n = ld_layer_read_data(l, buf, AN_READ_BUF, err);
    if (n < 0) return -1;
    if (n == 0) break;
    XXH3_128bits_update(st, buf, (size_t) n);
  }
  XXH128_hash_t h = XXH3_128bits_digest(st);
  e->has_hash = true;
  e->hash_hi = h.high64;
  e->hash_lo = h.low64;
  return 0;
}

static void fill_entry(const ld_layer_entry *le, ld_an_entry *e) {
  struct archive_entry *ae = le->ae;
  memset(e, 0, sizeof *e);
  e->path = le->path;
  e->whiteout = le->whiteout;
  e->opaque = le->opaque;
  e->type = entry_type(ae);
  int64_t size = archive_entry_size(ae);
  e->size = size > 0 ? (uint64_t) size : 0;
  e->mode = (uint32_t) archive_entry_perm(ae);
  e->uid = (uint32_t) archive_entry_uid(ae);
  e->gid = (uint32_t) archive_entry_gid(ae);
  e->link = archive_entry_hardlink(ae);
  if (!e->link) e->link = archive_entry_symlink(ae);
}

static int feed_entries(ld_layer_reader *l, ld_analyzer *an, ld_error **err) {
  XXH3_state_t *st = XXH3_createState();
  char *buf = ld_xmalloc(AN_READ_BUF);
  int r = 0;
  for (;;) {
    ld_layer_entry le;
    int n = ld_layer_next(l, &le, err);
    if (n <= 0) {
      r = n;
      break;
    }
    ld_an_entry e;
    fill_entry(&le, &e);
    if (e.type == LD_AN_REG && !e.whiteout && !e.opaque && e.size > 0 &&
        (r = hash_data(l, &e, st, buf, err)) < 0)
      break;
    ld_analyzer_add_entry(an, &e);
  }
  free(buf);
  XXH3_freeState(st);
  return r;
}

static int check_diff_id(const ld_image *img, size_t i, const char *what, const char *diff_id,
                         ld_error **err) {
  if (i >= img->config.n_diff_ids)
    return ld_err(err, LD_EFORMAT, "%s: the image config lists only %zu diff_ids", what,
                  img->config.n_diff_ids);
  if (strcmp(img->config.diff_ids[i], diff_id))
    return ld_err(err, LD_EDIGEST, "%s: uncompressed content is %s, the image config says %s",
                  what, diff_id, img->config.diff_ids[i]);
  return 0;
}

static int analyze_layer(ld_image_src *src, const ld_image *img, size_t i, const char *created_by,
                         ld_analyzer *an, ld_error **err) {
  const ld_descriptor *d = &img->manifest.layers[i];
  ld_autofree char *what = ld_xasprintf("layer %zu %s", i, d->digest);
  ld_reader *blob = NULL;
  if (src->open_blob(src, d, &blob, err) < 0) return ld_error_wrap(err, "%s", what);
  ld_layer_reader *l = NULL;
  if (ld_layer_open(blob, d->media_type, d->digest, what, &l, err) < 0) return -1;
  char diff_id[LD_DIGEST_MAX] = "";
  uint64_t usize = 0;
  ld_an_layer_meta meta = {.digest = d->digest, .media_type = d->media_type,
                           .blob_size = d->size > 0 ? (uint64_t) d->size : 0,
                           .created_by = created_by};
  ld_analyzer_begin_layer(an, &meta);
  int r = feed_entries(l, an, err);
  if (r == 0) r = ld_layer_finish(l, diff_id, &usize, err);
  ld_layer_close(l);
  if (r == 0) r = check_diff_id(img, i, what, diff_id, err);
  if (r == 0) r = ld_analyzer_end_layer(an, err);
  return r;
}

static void set_diff_ids(ld_analysis *a, const ld_image *img) {
  for (size_t i = 0; i < a->n_layers && i < img->config.n_diff_ids; i++) {
    free(a->layers[i].diff_id);
    a->layers[i].diff_id = ld_xstrdup(img->config.diff_ids[i]);
  }
}

int ld_analyze_image(ld_image_src *src, const ld_image *img, const ld_analyze_opts *o,
                     ld_analysis **out, ld_error **err) {
  size_t n = img->manifest.n_layers;
  const char **history = ld_xcalloc(n ? n : 1, sizeof *history);
  ld_an_history_map(&img->config, n, history);
  ld_analyzer *an = ld_analyzer_new(o);
  int r = 0;
  for (size_t i = 0; i < n && r == 0; i++) r = analyze_layer(src, img, i, history[i], an, err);
  if (r == 0) {
    *out = ld_analyzer_finish(an);
    set_diff_ids(*out, img);
  }
  ld_analyzer_free(an);
  free(history);
  return r;
}
