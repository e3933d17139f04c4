/* The registry server (`lading serve`) and its maintenance (`lading registry gc`).
 *
 * An OCI distribution-spec 1.1 server over libmicrohttpd. Storage is a directory (the registry
 * root) laid out as:
 *
 *   blobs/<algo>/<hex>                       content-addressed, shared by every repository
 *   repos/<name>/_links/<algo>/<hex>         empty: the repository may read this blob
 *   repos/<name>/_manifests/<algo>/<hex>     the manifest exists in the repository; the file
 *                                            holds its media type (so GET needs no parsing)
 *   repos/<name>/_tags/<tag>                 the digest the tag points to
 *   repos/<name>/_referrers/<algo>-<hex>/<algo>-<hex>   subject -> referring manifest
 *   uploads/<uuid>                           data of upload sessions (wiped at start)
 *   lock                                     flock: LOCK_SH by a server, LOCK_EX by gc --grace 0
 *
 * A blob is readable through a repository only when its link exists there, so guessing a digest
 * that another repository holds gives BLOB_UNKNOWN. Every write is temp + fsync + rename; a
 * blob is renamed into blobs/ only after its digest and size were verified, so a crash can leave
 * a temp file but never a blob with the wrong bytes. See docs/serve.md and docs/registry.md.
 */
#ifndef LADING_REGISTRY_H
#define LADING_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "lading/error.h"

typedef struct ld_registry_opts {
  const char *addr;        /* "127.0.0.1:5000" (default), "0.0.0.0:5000", ":5000" */
  const char *root;        /* registry root (NULL: ld_registry_default_root()) */
  bool read_only;          /* refuse every write with 405 UNSUPPORTED */
  const char *tls_cert;    /* PEM files; both or neither */
  const char *tls_key;
  const char *htpasswd;    /* bcrypt htpasswd file: Basic auth required when set */
  const char *access;      /* per-repository access list (docs/serve.md) */
  unsigned threads;        /* worker threads (0: 2 per CPU, at least 4) */
  int64_t upload_ttl;      /* seconds an idle upload session lives (0: 3600) */
  size_t manifest_max;     /* manifest size cap (0: 4 MiB) */
  FILE *access_log;        /* one line per request; NULL: none */
  bool sendfile;           /* send blobs with sendfile(2) rather than pread(2) (docs/serve.md) */
  const char *store_root;  /* a lading store whose meta.db records manifest GETs of images it
                              also holds as use (last_used); NULL: none */
} ld_registry_opts;

typedef struct ld_registry ld_registry;

/* "$LADING_ROOT/registry" if LADING_ROOT is set, else /var/lib/lading/registry for root and
 * $XDG_DATA_HOME/lading/registry (~/.local/share/lading/registry) otherwise. */
char *ld_registry_default_root(void);

/* Opens the storage (wiping stale uploads), binds and starts serving in background threads. */
int ld_registry_start(const ld_registry_opts *o, ld_registry **out, ld_error **err);
/* The bound TCP port (useful with port 0). */
uint16_t ld_registry_port(const ld_registry *r);
/* Stops accepting, waits up to drain_seconds for requests in flight, then stops and frees. */
void ld_registry_stop(ld_registry *r, int drain_seconds);

typedef struct ld_registry_gc_result {
  uint64_t manifests_marked;
  uint64_t blobs_marked;
  uint64_t blobs_swept;
  uint64_t bytes_swept;
  uint64_t links_removed;
  uint64_t blobs_kept_young; /* unreferenced but younger than the grace period */
} ld_registry_gc_result;

/* Mark from every manifest of every repository (tags, untagged manifests and referrers are all
 * manifests) and everything they reference; sweep unmarked blobs older than grace_seconds and
 * the links to swept blobs. dry_run: count only. */
int ld_registry_gc(const char *root, int64_t grace_seconds, bool dry_run,
                   ld_registry_gc_result *res, ld_error **err);

#endif
