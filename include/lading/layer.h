/* Reading layers as a stream of tar entries.
 *
 * A layer blob is compressed (gzip, zstd) or not; the media type says which, and the first bytes
 * must agree (a gzip media type over zstd bytes is an error naming both). Decompression uses
 * ISA-L for gzip (≈4× zlib here) and libzstd; libarchive only parses the tar. While reading, the
 * layer reader hashes the compressed bytes (the blob digest, checked at the end against
 * expect_digest when given) and the uncompressed bytes (the diff_id). Nothing is held whole in
 * memory.
 *
 * Entry names are cleaned with ld_path_clean: "../x" and "/abs" fail with an error naming the
 * layer and the entry.
 */
#ifndef LADING_LAYER_H
#define LADING_LAYER_H

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>
#include <stdint.h>
#include "lading/error.h"
#include "lading/io.h"

typedef enum { LD_COMP_NONE = 0, LD_COMP_GZIP, LD_COMP_ZSTD, LD_COMP_UNKNOWN } ld_compression;

ld_compression ld_compression_from_media_type(const char *media_type);
ld_compression ld_compression_sniff(const unsigned char *buf, size_t len);
const char *ld_compression_name(ld_compression c);

/* A decompressing reader (owns inner). */
ld_reader *ld_decompressor_new(ld_reader *inner, ld_compression c);

typedef struct ld_layer_reader ld_layer_reader;

typedef struct ld_layer_entry {
  const char *path;          /* cleaned, relative, no leading "/" ("" never returned) */
  struct archive_entry *ae;  /* libarchive's entry: type, mode, size, link, xattrs */
  bool whiteout;             /* ".wh.NAME": path is the hidden NAME */
  bool opaque;               /* ".wh..wh..opq": path is the directory made opaque */
} ld_layer_entry;

/* blob: the (compressed) layer stream, owned by the reader. media_type may be NULL (sniff).
 * what: name for errors, e.g. "layer 3 sha256:ab…". expect_digest may be NULL. */
int ld_layer_open(ld_reader *blob, const char *media_type, const char *expect_digest,
                  const char *what, ld_layer_reader **out, ld_error **err);

/* What the caller already knows about a layer, so the reader can skip work it would repeat.
 * Only lading's own earlier computations count: blob_verified for a store blob (verified when
 * it was ingested), known_diff_id for a diff_id lading computed before (meta.db). */
typedef struct ld_layer_opts {
  bool blob_verified;
  int64_t blob_size;         /* > 0: the blob must be exactly this long (checked with the digest) */
  const char *known_diff_id; /* finish() returns it instead of hashing the tar again */
} ld_layer_opts;
int ld_layer_open_ex(ld_reader *blob, const char *media_type, const char *expect_digest,
                     const char *what, const ld_layer_opts *o, ld_layer_reader **out,
                     ld_error **err);
/* Next entry: 1 with *e filled, 0 at the end of the tar, -1 on error. */
int ld_layer_next(ld_layer_reader *l, ld_layer_entry *e, ld_error **err);
/* Reads the current entry's data. */
ssize_t ld_layer_read_data(ld_layer_reader *l, void *buf, size_t len, ld_error **err);
/* Drains the rest of the blob, checks the blob digest, and returns the diff_id (may be NULL). */
int ld_layer_finish(ld_layer_reader *l, char diff_id[LD_DIGEST_MAX], uint64_t *uncompressed_size,
                    ld_error **err);
void ld_layer_close(ld_layer_reader *l);

#endif
