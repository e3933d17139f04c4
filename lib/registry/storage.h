/* Registry storage on the local file system (layout in include/lading/registry.h).
 *
 * Everything is a file named by what it is, so the storage needs no database and no in-memory
 * state: any number of server threads (or processes) can read it at once, and a write is always
 * one rename or one create. Functions take validated names (repository names checked by
 * rs_repo_name_valid, digests by ld_digest_validate, tags by ld_tag_valid) — callers validate
 * at the edge so that no path built here can escape the root.
 */
#ifndef LADING_REGISTRY_STORAGE_H
#define LADING_REGISTRY_STORAGE_H

#include <stdbool.h>
#include <stdint.h>
#include "lading/digest.h"
#include "lading/error.h"

typedef struct rs_storage {
  char *root;
  char *uploads; /* root/uploads */
  int lock_fd;
} rs_storage;

bool rs_repo_name_valid(const char *name);

/* Creates the layout, takes the shared lock, wipes stale uploads. */
int rs_open(rs_storage *st, const char *root, ld_error **err);
void rs_close(rs_storage *st);

char *rs_blob_path(const rs_storage *st, const char *digest);
/* Size of a stored blob, -1 if absent. */
int64_t rs_blob_size(const rs_storage *st, const char *digest);
/* Makes a verified temp file the blob: fsync, rename into blobs/ (or drop it if the blob is
 * already there), then link it into link_repo (unless NULL), fsync the directories. The temp
 * file is gone afterwards in every case. */
int rs_blob_commit(const rs_storage *st, int fd, const char *tmp_path, const char *digest,
                   const char *link_repo, ld_error **err);

/* Links: "the repository may read this blob". */
bool rs_link_exists(const rs_storage *st, const char *repo, const char *digest);
int rs_link_add(const rs_storage *st, const char *repo, const char *digest, ld_error **err);
int rs_link_remove(const rs_storage *st, const char *repo, const char *digest);

/* Manifests: stored as blobs plus a _manifests record holding the media type. */
int rs_manifest_put(const rs_storage *st, const char *repo, const char *digest,
                    const char *media_type, const void *data, size_t len, ld_error **err);
/* Media type of a manifest in repo (caller frees), NULL if the repository lacks it. */
/* A whole manifest PUT made durable at once: the bytes, the record, the link, the tag (unless
 * NULL) and the referrer entry under subject (unless NULL). */
int rs_manifest_store(const rs_storage *st, const char *repo, const char *digest,
                      const char *media_type, const void *data, size_t len, const char *tag,
                      const char *subject, ld_error **err);
char *rs_manifest_media_type(const rs_storage *st, const char *repo, const char *digest);
int rs_manifest_remove(const rs_storage *st, const char *repo, const char *digest);

/* Tags. rs_tag_get returns 0 and fills digest, -1 if absent. */
int rs_tag_set(const rs_storage *st, const char *repo, const char *tag, const char *digest,
               ld_error **err);
int rs_tag_get(const rs_storage *st, const char *repo, const char *tag, char digest[LD_DIGEST_MAX]);
int rs_tag_remove(const rs_storage *st, const char *repo, const char *tag);
/* Removes every tag of repo pointing at digest. */
void rs_tags_remove_digest(const rs_storage *st, const char *repo, const char *digest);
/* Sorted tag names (NULL-terminated array, caller frees with rs_strv_free); NULL if the
 * repository does not exist. */
char **rs_tags_list(const rs_storage *st, const char *repo);

/* Referrers: subject digest -> manifests whose subject it is. */
int rs_referrer_add(const rs_storage *st, const char *repo, const char *subject,
                    const char *digest, ld_error **err);
void rs_referrer_remove(const rs_storage *st, const char *repo, const char *subject,
                        const char *digest);
char **rs_referrers_list(const rs_storage *st, const char *repo, const char *subject);

bool rs_repo_exists(const rs_storage *st, const char *repo);
/* Sorted repository names. */
char **rs_catalog(const rs_storage *st);
/* Every digest listed under repos/<repo>/<area>/<algo>/ (area "_links" or "_manifests"). */
char **rs_repo_digests(const rs_storage *st, const char *repo, const char *area);

void rs_strv_free(char **v);
size_t rs_strv_len(char **v);

#endif
