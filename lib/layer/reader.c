/* The layer reader: blob bytes -> verifier (blob digest) -> decompressor -> diff_id hasher ->
 * libarchive (tar only) -> cleaned entries.
 *
 * The compression is decided by the media type and checked against the first bytes; a
 * disagreement is an error naming both, because a mislabelled layer means a wrong diff_id
 * somewhere. Entry paths are cleaned (ld_path_clean) and rejected when they would escape the
 * root: "../x", "/abs", hard links with "..", and relative symlinks whose target climbs above the
 * root from where they sit. Absolute symlink targets are normal in images (they resolve inside
 * the container root) and are accepted.
 *
 * One leniency, on purpose: a tar that ends right after the last entry's complete data, without
 * the padding and end-of-archive blocks (umoci 0.4.7's `insert` writes such layers), is read as
 * complete. At the end of the real stream the parser is given zero padding and an end-of-archive
 * marker; if any entry's declared data would reach into those synthetic bytes, the layer is
 * truncated and that is an error naming the entry. The diff_id and the blob digest cover only
 * the real bytes.
 */
#include <string.h>
#include "lading/fs.h"
#include "lading/layer.h"
#include "lading/util.h"

#define ARCHIVE_BUF (1024 * 1024)

struct ld_layer_reader {
  ld_reader *verifier; /* owns the blob */
  ld_reader *prefix;
  ld_reader *decomp; /* the staged decompressor, for compressed layers */
  ld_reader *tar;    /* where the tar comes from: decomp, or prefix itself */
  ld_hasher *diff;
  struct archive *a;
  char *what;
  unsigned char *buf;
  char *cur_path;
  ld_error *cb_err;
  bool tar_done;
  bool empty;
  bool stream_eof;       /* the decompressed stream has ended */
  uint64_t real_bytes;   /* decompressed bytes that came from the blob */
  size_t synthetic_left; /* zero bytes still to give the parser after the real end */
  uint64_t cur_data_end; /* offset where the current entry's data ends */
  char *known_diff_id;   /* when set, the tar is not hashed again */
  ld_compression sniffed;
};

static la_ssize_t archive_read_cb(struct archive *a, void *ctx, const void **out) {
  ld_layer_reader *l = ctx;
  const void *data = NULL;
  ssize_t n = ld_reader_borrow(l->tar, l->buf, ARCHIVE_BUF, &data);
  if (n < 0) {
    ld_reader_take_error(l->tar, &l->cb_err);
    archive_set_error(a, EIO, "read error");
    return -1;
  }
  if (n == 0) {
    if (!l->stream_eof) {
      l->stream_eof = true;
      size_t pad = (size_t) ((512 - l->real_bytes % 512) % 512);
      l->synthetic_left = pad + 1024;
    }
    size_t give = l->synthetic_left < ARCHIVE_BUF ? l->synthetic_left : ARCHIVE_BUF;
    memset(l->buf, 0, give);
    l->synthetic_left -= give;
    *out = l->buf;
    return (la_ssize_t) give;
  }
  if (!l->known_diff_id) ld_hasher_update(l->diff, data, (size_t) n);
  l->real_bytes += (uint64_t) n;
  *out = data;
  return n;
}

static int archive_fail(ld_layer_reader *l, const char *doing, ld_error **err);

static ld_reader *decompressor_stage(ld_reader *input, void *ctx) {
  return ld_decompressor_new(input, *(ld_compression *) ctx);
}

int ld_layer_open(ld_reader *blob, const char *media_type, const char *expect_digest,
                  const char *what, ld_layer_reader **out, ld_error **err) {
  return ld_layer_open_ex(blob, media_type, expect_digest, what, NULL, out, err);
}

int ld_layer_open_ex(ld_reader *blob, const char *media_type, const char *expect_digest,
                     const char *what, const ld_layer_opts *o, ld_layer_reader **out,
                     ld_error **err) {
  ld_layer_reader *l = ld_xcalloc(1, sizeof *l);
  l->what = ld_xstrdup(what ? what : "layer");
  l->verifier = o && o->blob_verified
                    ? blob
                    : ld_verifier_new(blob, true, expect_digest,
                                      o && o->blob_size > 0 ? o->blob_size : -1, "blob");
  if (o && o->known_diff_id) l->known_diff_id = ld_xstrdup(o->known_diff_id);
  unsigned char head[6];
  ssize_t n = ld_reader_read_full(l->verifier, head, sizeof head);
  if (n < 0) {
    ld_reader_take_error(l->verifier, err);
    ld_error_wrap(err, "%s", l->what);
    ld_layer_close(l);
    return -1;
  }
  l->prefix = ld_reader_prefixed(head, (size_t) n, l->verifier, false); /* both owned by l */
  ld_compression sniffed = ld_compression_sniff(head, (size_t) n);
  ld_compression declared = ld_compression_from_media_type(media_type);
  if (declared != LD_COMP_UNKNOWN && declared != sniffed && n > 0) {
    ld_err(err, LD_EFORMAT, "%s: media type %s says %s but the data is %s", l->what, media_type,
           ld_compression_name(declared), ld_compression_name(sniffed));
    ld_reader_close(l->prefix);
    l->prefix = NULL;
    ld_layer_close(l);
    return -1;
  }
  /* Decompression runs on a second core; reading and hashing the blob, and parsing and hashing
   * the tar, on this one (see ld_reader_staged). An uncompressed tar (docker save) is read as it
   * is: a second thread would only copy it from one ring to the other. */
  l->sniffed = sniffed;
  if (sniffed != LD_COMP_NONE)
    l->decomp = ld_reader_staged(l->prefix, decompressor_stage, &l->sniffed);
  l->tar = l->decomp ? l->decomp : l->prefix;
  l->diff = ld_hasher_new(LD_SHA256);
  l->buf = ld_xmalloc(ARCHIVE_BUF);
  l->empty = n == 0;
  if (!l->empty) {
    l->a = archive_read_new();
    archive_read_support_format_tar(l->a);
    if (archive_read_open(l->a, l, NULL, archive_read_cb, NULL) != ARCHIVE_OK) {
      if (l->cb_err)
        archive_fail(l, "", err);
      else
        ld_err(err, LD_EFORMAT, "%s: not a tar archive (%s)", l->what,
               archive_error_string(l->a) ? archive_error_string(l->a) : "unknown format");
      ld_layer_close(l);
      return -1;
    }
  }
  *out = l;
  return 0;
}

static int archive_fail(ld_layer_reader *l, const char *doing, ld_error **err) {
  if (l->cb_err) {
    if (err && !*err) {
      *err = l->cb_err;
      l->cb_err = NULL;
    }
    return ld_error_wrap(err, "%s", l->what);
  }
  const char *msg = archive_error_string(l->a);
  return ld_err(err, LD_EFORMAT, "%s: %s: %s", l->what, doing, msg ? msg : "corrupt tar");
}

/* A relative symlink target climbs out of the root if, resolved from the link's directory,
 * ".." would go above "/". */
static bool symlink_escapes(const char *link_path, const char *target) {
  if (target[0] == '/') return false;
  int depth = 0;
  for (const char *p = link_path; *p; p++)
    if (*p == '/') depth++;
  for (const char *p = target; *p;) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t) (e - p) : strlen(p);
    if (n == 2 && p[0] == '.' && p[1] == '.') {
      if (--depth < 0) return true;
    } else if (n && !(n == 1 && p[0] == '.'))
      depth++;
    if (!e) break;
    p = e + 1;
  }
  return false;
}

int ld_layer_next(ld_layer_reader *l, ld_layer_entry *e, ld_error **err) {
  if (l->empty || l->tar_done) return 0;
  for (;;) {
    struct archive_entry *ae;
    int r = archive_read_next_header(l->a, &ae);
    /* The previous entry's data must lie within the real bytes. */
    if (r >= ARCHIVE_WARN || r == ARCHIVE_EOF) {
      if (l->stream_eof && l->cur_data_end > l->real_bytes)
        return ld_err(err, LD_EFORMAT,
                      "%s: entry %s: data shorter than its declared size (tar truncated)",
                      l->what, l->cur_path ? l->cur_path : "?");
    }
    if (r == ARCHIVE_EOF) {
      l->tar_done = true;
      return 0;
    }
    if (r < ARCHIVE_WARN) {
      if (!l->cur_path) return archive_fail(l, "reading tar header", err);
      char *doing = ld_xasprintf("entry %s (or the header after it)", l->cur_path);
      archive_fail(l, doing, err);
      free(doing);
      return -1;
    }
    l->cur_data_end = (uint64_t) archive_filter_bytes(l->a, 0);
    if (archive_entry_size_is_set(ae) && archive_entry_filetype(ae) == AE_IFREG &&
        !archive_entry_hardlink(ae))
      l->cur_data_end += (uint64_t) archive_entry_size(ae);
    const char *raw = archive_entry_pathname(ae);
    if (!raw) return ld_err(err, LD_EFORMAT, "%s: tar entry without a name", l->what);
    free(l->cur_path);
    l->cur_path = NULL;
    ld_error *perr = NULL;
    if (raw[0] == '/' && raw[strspn(raw, "/")] == 0) continue; /* "/": the root (kaniko) */
    if (ld_path_clean(raw, false, &l->cur_path, &perr) < 0) {
      ld_err(err, LD_EFORMAT, "%s: entry \"%.200s\" %s", l->what, raw,
             raw[0] == '/' ? "is an absolute path" : "escapes the root (\"..\")");
      ld_error_free(perr);
      return -1;
    }
    if (!l->cur_path[0]) continue; /* the root directory itself */
    const char *hl = archive_entry_hardlink(ae);
    if (hl) {
      char *clean = NULL;
      if (ld_path_clean(hl, true, &clean, &perr) < 0) {
        ld_error_free(perr);
        return ld_err(err, LD_EFORMAT, "%s: hard link \"%.200s\" -> \"%.200s\" escapes the root",
                      l->what, raw, hl);
      }
      archive_entry_set_hardlink(ae, clean);
      free(clean);
    }
    const char *sl = archive_entry_symlink(ae);
    if (sl && archive_entry_filetype(ae) == AE_IFLNK && symlink_escapes(l->cur_path, sl))
      return ld_err(err, LD_EFORMAT, "%s: symlink \"%.200s\" -> \"%.200s\" points outside the root",
                    l->what, l->cur_path, sl);
    memset(e, 0, sizeof *e);
    e->ae = ae;
    char *slash = strrchr(l->cur_path, '/');
    const char *base = slash ? slash + 1 : l->cur_path;
    if (ld_str_has_prefix(base, ".wh.")) {
      if (!strcmp(base, ".wh..wh..opq")) {
        e->opaque = true;
        if (slash) *slash = 0;
        else l->cur_path[0] = 0;
      } else {
        e->whiteout = true;
        size_t prefix = slash ? (size_t) (slash - l->cur_path) + 1 : 0;
        memmove(l->cur_path + prefix, base + 4, strlen(base + 4) + 1);
        if (!l->cur_path[prefix] || ld_str_has_prefix(l->cur_path + prefix, ".wh."))
          return ld_err(err, LD_EFORMAT, "%s: invalid whiteout \"%.200s\"", l->what, raw);
      }
    }
    e->path = l->cur_path;
    return 1;
  }
}

ssize_t ld_layer_read_data(ld_layer_reader *l, void *buf, size_t len, ld_error **err) {
  if (l->empty) return 0;
  la_ssize_t n = archive_read_data(l->a, buf, len);
  if (n < 0) {
    archive_fail(l, "reading entry data", err);
    return -1;
  }
  return n;
}

int ld_layer_finish(ld_layer_reader *l, char diff_id[LD_DIGEST_MAX], uint64_t *usize,
                    ld_error **err) {
  /* Read the rest of the tar (if the caller stopped early), then the rest of the stream. */
  ld_layer_entry e;
  while (!l->empty && !l->tar_done) {
    int r = ld_layer_next(l, &e, err);
    if (r < 0) return -1;
  }
  for (;;) {
    const void *data = NULL;
    ssize_t n = ld_reader_borrow(l->tar, l->buf, ARCHIVE_BUF, &data);
    if (n < 0) {
      ld_reader_take_error(l->tar, err);
      return ld_error_wrap(err, "%s", l->what);
    }
    if (n == 0) break;
    if (!l->known_diff_id) ld_hasher_update(l->diff, data, (size_t) n);
    l->real_bytes += (uint64_t) n;
  }
  for (;;) { /* trailing bytes after the compressed stream still belong to the blob */
    const void *data = NULL;
    ssize_t n = ld_reader_borrow(l->verifier, l->buf, ARCHIVE_BUF, &data);
    if (n < 0) {
      ld_reader_take_error(l->verifier, err);
      return ld_error_wrap(err, "%s", l->what);
    }
    if (n == 0) break;
  }
  if (usize) *usize = l->real_bytes;
  if (diff_id && l->known_diff_id) snprintf(diff_id, LD_DIGEST_MAX, "%s", l->known_diff_id);
  else if (diff_id) ld_hasher_final(l->diff, diff_id);
  return 0;
}

void ld_layer_close(ld_layer_reader *l) {
  if (!l) return;
  if (l->a) archive_read_free(l->a);
  ld_reader_close(l->decomp);
  ld_reader_close(l->prefix);
  ld_reader_close(l->verifier);
  ld_hasher_free(l->diff);
  ld_error_free(l->cb_err);
  free(l->buf);
  free(l->cur_path);
  free(l->known_diff_id);
  free(l->what);
  free(l);
}
