/* Private helpers of ld_copy (copy.c): recompression for --compress. */
#ifndef LADING_COPY_INTERNAL_H
#define LADING_COPY_INTERNAL_H

#include "lading/io.h"
#include "lading/layer.h"

/* A reader yielding inner's bytes compressed with c (LD_COMP_GZIP or LD_COMP_ZSTD); owns inner. */
ld_reader *ld_compressor_new(ld_reader *inner, ld_compression c);

#endif
