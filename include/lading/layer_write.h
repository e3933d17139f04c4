/* Writing layers: a directory (an overlay upper directory, or any tree) → an OCI layer blob.
 *
 * The tree is walked depth-first with entries sorted by byte order, so the same tree always gives
 * the same tar. Overlay's own encoding is translated to the OCI one on the way: a 0:0 character
 * device is a whiteout (".wh.NAME"), a directory with trusted.overlay.opaque=y gets a
 * ".wh..wh..opq" entry, and trusted.overlay.* attributes never leave the machine. Hard links
 * inside the tree stay hard links. Timestamps lose their nanoseconds; with opts.mtime >= 0 every
 * entry gets that time (SOURCE_DATE_EPOCH / --timestamp). No user or group names are written.
 *
 * The tar streams through two hashers (diff_id over the tar, digest over the compressed bytes)
 * and deterministic gzip (zlib level 6, fixed header: no name, mtime 0) into out_fd. Nothing is
 * held whole in memory.
 */
#ifndef LADING_LAYER_WRITE_H
#define LADING_LAYER_WRITE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include "lading/digest.h"
#include "lading/error.h"
#include "lading/layer.h"

typedef struct ld_layer_write_opts {
  int64_t mtime;          /* -1: keep each file's (seconds); else set every entry's to it */
  bool root_owner;        /* write uid/gid 0 for everything */
  ld_compression compression; /* LD_COMP_GZIP (default 0 means NONE) */
  /* Skips a path (relative, e.g. "etc/hosts") when it returns true. */
  bool (*skip)(void *arg, const char *path, const struct stat *st);
  void *skip_arg;
} ld_layer_write_opts;

typedef struct ld_layer_written {
  char digest[LD_DIGEST_MAX];  /* of the bytes written to out_fd */
  char diff_id[LD_DIGEST_MAX]; /* of the uncompressed tar */
  uint64_t size;               /* bytes written to out_fd */
  uint64_t uncompressed_size;
  uint64_t entries;
} ld_layer_written;

int ld_layer_write_dir(const char *dir, int out_fd, const ld_layer_write_opts *o,
                       ld_layer_written *res, ld_error **err);

#endif
