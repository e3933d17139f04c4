/* Unpacking a layer stream into a directory, safely.
 *
 * Every file system operation goes through a directory fd opened with ld_open_in_root
 * (openat2 RESOLVE_IN_ROOT), and the last component is always handled with *at() calls that do
 * not follow symlinks, so no entry - however its path or the symlinks before it are crafted - can
 * create, change or remove anything outside the root. Entry names were already cleaned by the
 * layer reader ("../x" is rejected there).
 *
 * Two ways to treat whiteouts:
 *   LD_UNPACK_OVERLAY  the directory becomes an overlayfs lower/upper layer: ".wh.NAME" becomes
 *                      a 0:0 character device, ".wh..wh..opq" sets trusted.overlay.opaque=y.
 *                      Used for the build cache, one directory per layer.
 *   LD_UNPACK_APPLY    the layer is applied on top of what the directory holds: whiteouts delete,
 *                      an opaque marker empties the directory (it must precede the directory's
 *                      own entries, as every known writer does).
 * Directory times are set after their contents, so they end up as the layer says.
 */
#ifndef LADING_UNPACK_H
#define LADING_UNPACK_H

#include <stdbool.h>
#include <stdint.h>
#include "lading/error.h"
#include "lading/layer.h"

typedef enum { LD_UNPACK_OVERLAY = 0, LD_UNPACK_APPLY = 1 } ld_unpack_mode;

typedef struct ld_unpack_stats {
  uint64_t entries, bytes;
} ld_unpack_stats;

/* Reads entries from l until its end (does not call ld_layer_finish). */
int ld_layer_unpack(ld_layer_reader *l, int rootfd, ld_unpack_mode mode, ld_unpack_stats *stats,
                    ld_error **err);

#endif
