/* Decompressing readers: gzip through ISA-L's igzip (≈4× zlib here), zstd through libzstd.
 *
 * Both handle concatenated members/frames. End of input in the middle of a member is an error
 * ("truncated gzip"), never a silent short layer. Trailing bytes after the last member that are
 * not a new member are left unread: the layer reader drains them through the blob verifier, so
 * they still count toward the blob digest.
 */
#include <isa-l/igzip_lib.h>
#include <string.h>
#include <zstd.h>
#include "lading/layer.h"
#include "lading/util.h"

#define IN_BUF (256 * 1024)

typedef struct {
  ld_reader r;
  ld_reader *inner;
  ld_compression c;
  const unsigned char *in; /* the input at hand: in_buf, or bytes lent by inner */
  unsigned char *in_buf;
  size_t in_len, in_pos;
  bool in_eof;
  struct inflate_state *gz;
  bool gz_member_done;
  ZSTD_DStream *zs;
  size_t zs_hint; /* last ZSTD_decompressStream return: 0 at a frame boundary */
  bool done;
} decompressor;

ld_compression ld_compression_from_media_type(const char *mt) {
  if (!mt) return LD_COMP_UNKNOWN;
  if (ld_str_has_suffix(mt, "+gzip") || ld_str_has_suffix(mt, ".tar.gzip") ||
      ld_str_has_suffix(mt, ".tar.gz"))
    return LD_COMP_GZIP;
  if (ld_str_has_suffix(mt, "+zstd") || ld_str_has_suffix(mt, ".tar.zstd")) return LD_COMP_ZSTD;
  if (ld_str_has_suffix(mt, ".tar") || ld_str_has_suffix(mt, "diff.tar")) return LD_COMP_NONE;
  return LD_COMP_UNKNOWN;
}

ld_compression ld_compression_sniff(const unsigned char *b, size_t n) {
  if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) return LD_COMP_GZIP;
  if (n >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd) return LD_COMP_ZSTD;
  return LD_COMP_NONE;
}

const char *ld_compression_name(ld_compression c) {
  switch (c) {
  case LD_COMP_NONE: return "uncompressed";
  case LD_COMP_GZIP: return "gzip";
  case LD_COMP_ZSTD: return "zstd";
  default: return "unknown";
  }
}

static int refill(decompressor *d) {
  if (d->in_pos < d->in_len || d->in_eof) return 0;
  const void *lent = NULL;
  ssize_t n = ld_reader_borrow_for(&d->r, d->inner, d->in_buf, IN_BUF, &lent);
  if (n < 0) return -1;
  d->in = lent;
  d->in_pos = 0;
  d->in_len = (size_t) n;
  if (n == 0) d->in_eof = true;
  return 0;
}

static ssize_t gzip_read(decompressor *d, void *buf, size_t len) {
  for (;;) {
    if (d->gz_member_done) {
      /* Another member follows only if the next bytes are gzip magic. */
      if (refill(d) < 0) return -1;
      if (d->in_pos == d->in_len ||
          ld_compression_sniff(d->in + d->in_pos, d->in_len - d->in_pos) != LD_COMP_GZIP) {
        d->done = true;
        return 0;
      }
      isal_inflate_reset(d->gz);
      d->gz->crc_flag = ISAL_GZIP;
      d->gz_member_done = false;
    }
    if (refill(d) < 0) return -1;
    d->gz->next_in = (uint8_t *) (uintptr_t) (d->in + d->in_pos); /* ISA-L only reads it */
    d->gz->avail_in = (uint32_t) (d->in_len - d->in_pos);
    d->gz->next_out = buf;
    d->gz->avail_out = (uint32_t) (len > UINT32_MAX ? UINT32_MAX : len);
    uint32_t out_before = d->gz->avail_out, in_before = d->gz->avail_in;
    int ret = isal_inflate(d->gz);
    d->in_pos += in_before - d->gz->avail_in;
    size_t produced = out_before - d->gz->avail_out;
    if (ret < 0) {
      ld_err(&d->r.error, LD_EFORMAT, "corrupt gzip data (%s)",
             ret == ISAL_INCORRECT_CHECKSUM ? "CRC mismatch"
             : ret == ISAL_INVALID_WRAPPER ? "bad gzip header"
                                            : "invalid deflate stream");
      return -1;
    }
    if (d->gz->block_state == ISAL_BLOCK_FINISH) d->gz_member_done = true;
    if (produced) return (ssize_t) produced;
    if (d->gz_member_done) continue;
    if (d->in_eof && d->in_pos == d->in_len) {
      ld_err(&d->r.error, LD_EFORMAT, "truncated gzip stream (unexpected end of data)");
      return -1;
    }
  }
}

static ssize_t zstd_read(decompressor *d, void *buf, size_t len) {
  for (;;) {
    if (refill(d) < 0) return -1;
    if (d->in_eof && d->in_pos == d->in_len) {
      if (d->zs_hint != 0) {
        ld_err(&d->r.error, LD_EFORMAT, "truncated zstd stream (unexpected end of data)");
        return -1;
      }
      d->done = true;
      return 0;
    }
    ZSTD_inBuffer in = {d->in, d->in_len, d->in_pos};
    ZSTD_outBuffer out = {buf, len, 0};
    size_t ret = ZSTD_decompressStream(d->zs, &out, &in);
    d->in_pos = in.pos;
    if (ZSTD_isError(ret)) {
      ld_err(&d->r.error, LD_EFORMAT, "corrupt zstd data (%s)", ZSTD_getErrorName(ret));
      return -1;
    }
    d->zs_hint = ret;
    if (out.pos) return (ssize_t) out.pos;
  }
}

static ssize_t plain_read(decompressor *d, void *buf, size_t len) {
  if (d->in_pos < d->in_len) {
    size_t n = d->in_len - d->in_pos < len ? d->in_len - d->in_pos : len;
    memcpy(buf, d->in + d->in_pos, n);
    d->in_pos += n;
    return (ssize_t) n;
  }
  return ld_reader_read_for(&d->r, d->inner, buf, len);
}

static ssize_t decomp_read(ld_reader *r, void *buf, size_t len) {
  decompressor *d = (decompressor *) r;
  if (d->done) return 0;
  switch (d->c) {
  case LD_COMP_GZIP: return gzip_read(d, buf, len);
  case LD_COMP_ZSTD: return zstd_read(d, buf, len);
  default: return plain_read(d, buf, len);
  }
}

static void decomp_close(ld_reader *r) {
  decompressor *d = (decompressor *) r;
  ld_reader_close(d->inner);
  free(d->in_buf);
  free(d->gz);
  if (d->zs) ZSTD_freeDStream(d->zs);
  free(d);
}

ld_reader *ld_decompressor_new(ld_reader *inner, ld_compression c) {
  decompressor *d = ld_xcalloc(1, sizeof *d);
  d->r.read = decomp_read;
  d->r.close = decomp_close;
  d->inner = inner;
  d->c = c;
  d->in = d->in_buf = ld_xmalloc(IN_BUF);
  if (c == LD_COMP_GZIP) {
    d->gz = ld_xcalloc(1, sizeof *d->gz);
    isal_inflate_init(d->gz);
    d->gz->crc_flag = ISAL_GZIP;
  } else if (c == LD_COMP_ZSTD) {
    d->zs = ZSTD_createDStream();
    ZSTD_initDStream(d->zs);
    d->zs_hint = 1;
  }
  return &d->r;
}
