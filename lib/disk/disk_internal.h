/* Internals shared by lib/disk's files (not public API). */
#ifndef LADING_DISK_INTERNAL_H
#define LADING_DISK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include "lading/disk.h"

/* Marks images pinned (disk_pins table) / broken (disk_broken table) in a store report. */
void ld_disk_apply_pins(ld_disk_report *r, ld_store *s);
void ld_disk_apply_broken(ld_disk_report *r, ld_store *s);
/* The containers-storage reader on already-parsed arrays (borrowed; images, layers and
 * containers must be JSON arrays). ld_disk_cstorage_read reads the files and calls this; the
 * fuzzer calls it directly. */
int ld_disk_cstorage_from_json(const char *graphroot, const char *driver, json_t *images,
                               json_t *layers, json_t *containers, const ld_disk_read_opts *o,
                               ld_disk_report **out, ld_error **err);
/* Creates our meta.db tables if missing. */
int ld_disk_meta_init(ld_store *s, ld_error **err);

/* A set of digests (open addressing). */
typedef struct ld_digest_set {
  char **keys;
  size_t cap, n;
} ld_digest_set;
bool ld_digest_set_add(ld_digest_set *s, const char *digest); /* true if newly added */
bool ld_digest_set_has(const ld_digest_set *s, const char *digest);
void ld_digest_set_clear(ld_digest_set *s);

/* Marks every blob reachable from the store's refs (manifests, indexes, children, configs,
 * layers, and referrers whose subject is live). Missing blobs are not errors here. */
int ld_disk_mark(ld_store *s, ld_digest_set *live, ld_error **err);

/* Nanoseconds since the epoch, grace seconds ago, on the clock file mtimes come from. */
int64_t ld_disk_cutoff(int64_t grace_seconds);
/* Deletes a blob unless a concurrent ingest holds it (see gc.c): renames it aside, and puts it
 * back if its mtime (ns) is at or after cutoff. Returns 1 deleted (*bytes freed), 0 kept, -1. */
int ld_disk_delete_blob(ld_store *s, const char *digest, int64_t cutoff, uint64_t *bytes);

/* Calls fn for every regular file under blobs/sha256 and blobs/sha512 (digest "alg:hex"). */
typedef void (*ld_disk_blob_fn)(ld_store *s, const char *digest, int dirfd, const char *name,
                                const struct stat *st, void *ctx);
void ld_disk_each_blob(ld_store *s, ld_disk_blob_fn fn, void *ctx);

#endif
