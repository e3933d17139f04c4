/* Internal to lib/transport: whole-archive extract/pack (see tarfile.c). */
#ifndef LADING_TRANSPORT_TARFILE_H
#define LADING_TRANSPORT_TARFILE_H
#include <stdbool.h>
#include "lading/error.h"

int ld_tar_extract(const char *tarfile, const char *dest, bool allow_symlinks, ld_error **err);
int ld_tar_pack_dir(const char *dir, const char *tarfile, ld_error **err);
/* mkdtemp in `near` (a directory), else $TMPDIR, else /var/tmp. */
char *ld_make_temp_dir(const char *near, ld_error **err);
#endif
