/* OCI image layouts on disk (image-spec "image-layout"): oci-layout, index.json, blobs/<alg>/<hex>.
 *
 * Shared by the store (which is a layout plus meta.db) and the oci: / oci-archive: transports.
 * Blob writes stream into a temp file (in tmp_dir, default <dir>/ingest or blobs/), are verified
 * against the expected digest and size, fsynced, then renamed into place: a blob path only ever
 * holds verified bytes. index.json is rewritten atomically.
 */
#ifndef LADING_LAYOUT_H
#define LADING_LAYOUT_H

#include <jansson.h>
#include <stdbool.h>
#include "lading/error.h"
#include "lading/io.h"
#include "lading/manifest.h"

#define LD_ANNOT_REF_NAME "org.opencontainers.image.ref.name"

typedef struct ld_layout {
  char *dir;
  char *tmp_dir; /* where ingests are staged; same file system as blobs/ */
} ld_layout;

/* Opens a layout directory; with create, makes it (and its oci-layout, index.json) if missing.
 * Without create, a directory lacking oci-layout or index.json is an error naming it. */
int ld_layout_open(const char *dir, bool create, ld_layout *out, ld_error **err);
void ld_layout_clear(ld_layout *l);
char *ld_layout_blob_path(const ld_layout *l, const char *digest);
bool ld_layout_has_blob(const ld_layout *l, const char *digest);
int ld_layout_put_blob(const ld_layout *l, ld_reader *r, const char *expected_digest,
                       int64_t expected_size, char out_digest[LD_DIGEST_MAX], ld_error **err);
int ld_layout_open_blob(const ld_layout *l, const char *digest, ld_reader **out, ld_error **err);
int ld_layout_read_blob(const ld_layout *l, const char *digest, size_t max, char **out,
                        size_t *len, ld_error **err);
/* index.json as parsed JSON (new reference). */
int ld_layout_read_index(const ld_layout *l, json_t **out, ld_error **err);
int ld_layout_write_index(const ld_layout *l, json_t *index, ld_error **err);
/* Sets (replacing any entry of the same ref name) or, with desc NULL, removes a named entry.
 * Caller holds whatever lock the layout's owner uses. */
int ld_layout_set_ref(const ld_layout *l, const char *name, const ld_descriptor *desc,
                      ld_error **err);
/* Finds the index.json entry named name (ref.name annotation); or, with name NULL, the only
 * entry. ENOENT-style LD_ENOTFOUND error otherwise. */
int ld_layout_find_ref(const ld_layout *l, const char *name, ld_descriptor *out, ld_error **err);

/* The store's layout (the store is a layout plus meta.db). */
struct ld_store;
const ld_layout *ld_store_layout(const struct ld_store *s);
#endif
