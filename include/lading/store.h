/* The embedded store: an OCI image layout plus meta.db.
 *
 * Root: $LADING_ROOT, else /var/lib/lading for root, else $XDG_DATA_HOME/lading
 * (~/.local/share/lading). On disk:
 *   oci-layout, index.json        the OCI layout skopeo/umoci read as oci:ROOT:NAME
 *   blobs/sha256/<hex>            content-addressed, verified on ingest
 *   ingest/                       temp files of ingests in progress (gc removes stale ones)
 *   meta.db                       SQLite: images (first seen, last used, pinned), blobs
 *                                 (sizes, diff_ids); other modules add their own tables
 *   lock                          flock(LOCK_EX) by writers of index.json; readers never block
 *
 * Names: each index.json entry carries org.opencontainers.image.ref.name = the full normalised
 * reference ("docker.io/library/alpine:3.19"), so `oci:ROOT:docker.io/library/alpine:3.19` works
 * for skopeo. ld_store_resolve also accepts familiar names ("alpine:3.19"), digests and digest
 * prefixes of at least 12 hex digits.
 */
#ifndef LADING_STORE_H
#define LADING_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include "lading/error.h"
#include "lading/io.h"
#include "lading/manifest.h"

typedef struct ld_store ld_store;

typedef struct ld_store_ref {
  char *name;       /* full normalised reference, e.g. docker.io/library/alpine:3.19 */
  ld_descriptor desc; /* the index.json entry (manifest or index) */
} ld_store_ref;

/* Opens (creating if needed) the store at root (NULL: the default root). */
int ld_store_open(const char *root, ld_store **out, ld_error **err);
void ld_store_close(ld_store *s);
const char *ld_store_root(const ld_store *s);
char *ld_store_default_root(void);

/* Blobs. */
char *ld_store_blob_path(const ld_store *s, const char *digest);
bool ld_store_has_blob(const ld_store *s, const char *digest);
/* Streams r into the store, verifying it against expected_digest/expected_size (NULL / -1:
 * unknown; the computed digest is returned in out_digest). The blob appears under blobs/ only
 * complete and verified; on any failure nothing is left behind. */
int ld_store_put_blob(ld_store *s, ld_reader *r, const char *expected_digest, int64_t expected_size,
                      char out_digest[LD_DIGEST_MAX], ld_error **err);
int ld_store_put_blob_mem(ld_store *s, const void *data, size_t len,
                          char out_digest[LD_DIGEST_MAX], ld_error **err);
int ld_store_open_blob(const ld_store *s, const char *digest, ld_reader **out, ld_error **err);
/* Reads a small blob (manifest, config) whole and re-verifies its digest. */
int ld_store_read_blob(const ld_store *s, const char *digest, size_t max, char **out, size_t *len,
                       ld_error **err);
int ld_store_blob_size(const ld_store *s, const char *digest, uint64_t *size, ld_error **err);

/* References (index.json), under the store lock. */
int ld_store_tag(ld_store *s, const char *name, const ld_descriptor *desc, ld_error **err);
int ld_store_untag(ld_store *s, const char *name, ld_error **err);
int ld_store_list(const ld_store *s, ld_store_ref **out, size_t *n, ld_error **err);
void ld_store_refs_free(ld_store_ref *refs, size_t n);
/* Resolves a name, familiar name, digest or digest prefix. canonical_name (may be NULL) gets the
 * full reference when resolved by name. */
int ld_store_resolve(const ld_store *s, const char *ref, ld_descriptor *out, char **canonical_name,
                     ld_error **err);
/* Normalises a user-typed name for storage ("alpine" -> "docker.io/library/alpine:latest"). */
int ld_store_normalize_name(const char *name, char **out, ld_error **err);

/* Exclusive writer lock on the store (index.json and gc). Blocking. */
int ld_store_lock(ld_store *s, ld_error **err);
void ld_store_unlock(ld_store *s);

/* meta.db: the SQLite handle (one per ld_store, not thread-shared). */
sqlite3 *ld_store_meta(ld_store *s);
/* Records that an image (manifest or index digest) was used now; creates its row. */
void ld_store_touch(ld_store *s, const char *digest);

#endif
