/* Transports: where images come from and go to, in skopeo's spelling.
 *
 *   oci:DIR[:TAG]            OCI image layout directory
 *   oci-archive:FILE[:TAG]   tar of an OCI image layout
 *   docker-archive:FILE[:REF] `docker save` tar (manifest.json; Docker ≥ 25 blobs/sha256 too)
 *   docker://REF             a registry (lib/transport/docker*.c)
 *   REF (no transport)       the embedded store
 *
 * A source gives the top-level manifest bytes exactly as stored (image or index) and opens blobs
 * by descriptor as streams. A destination receives blobs (it verifies them while writing),
 * manifests, and finally commit() names the top-level manifest. ld_copy() in copy.c moves an
 * image between any pair, skipping blobs the destination already has.
 */
#ifndef LADING_TRANSPORT_H
#define LADING_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include "lading/error.h"
#include "lading/io.h"
#include "lading/manifest.h"
#include "lading/store.h"

typedef struct ld_image_src ld_image_src;
typedef struct ld_image_dst ld_image_dst;

/* Options shared by transports; zero-initialised means defaults. */
typedef struct ld_transport_opts {
  ld_store *store;      /* for bare references; opened lazily by the caller */
  bool tls_verify_set;  /* --tls-verify given */
  bool tls_verify;
  const char *cert_dir; /* --cert-dir */
  const char *creds;    /* --creds user:pass */
  const char *authfile; /* --authfile */
  int jobs;             /* parallel blobs (0: default 4) */
  bool quiet;
  /* docker:// (registry_client.h): retries of failed requests (0: default 5, <0: none); upload
   * chunk size (0: one streamed PUT per blob). */
  int retries;
  uint64_t chunk_size;
} ld_transport_opts;

struct ld_image_src {
  /* Top-level manifest (digest NULL) or a child manifest/index by digest: exact bytes, their
   * media type (from the document, the layout or Content-Type). */
  int (*get_manifest)(ld_image_src *s, const char *digest, char **bytes, size_t *len,
                      char **media_type, ld_error **err);
  int (*open_blob)(ld_image_src *s, const ld_descriptor *d, ld_reader **out, ld_error **err);
  void (*close)(ld_image_src *s); /* frees s */
  char *name;                      /* the spec as given, for messages */
  void *ctx;
  /* Optional: "domain/repo" of a registry source, so a destination on the same registry can
   * mount blobs instead of copying them (NULL for other transports). */
  const char *origin;
  /* Set by the store source: its blobs were verified on ingest, and meta.db remembers the
   * diff_ids computed for them (see ld_image_layer_opts). */
  ld_store *store;
  /* Optional: open_blob without the source's own digest check, for callers whose sink verifies
   * anyway (ld_copy: every destination's put_blob verifies, by contract), so the bytes are
   * hashed once on the way, not twice. */
  int (*open_blob_unverified)(ld_image_src *s, const ld_descriptor *d, ld_reader **out,
                              ld_error **err);
};

struct ld_image_dst {
  /* *has set if the blob is already there (and verified to be there). */
  int (*has_blob)(ld_image_dst *d, const ld_descriptor *desc, bool *has, ld_error **err);
  /* Stores a blob from r, verifying digest and size as it streams. r is not closed. */
  int (*put_blob)(ld_image_dst *d, const ld_descriptor *desc, ld_reader *r, ld_error **err);
  /* Stores a manifest or index (by digest; commit names the top one). */
  int (*put_manifest)(ld_image_dst *d, const char *bytes, size_t len, const char *media_type,
                      const char *digest, ld_error **err);
  /* Names the top-level manifest (tag / ref.name / archive written). */
  int (*commit)(ld_image_dst *d, const ld_descriptor *top, ld_error **err);
  void (*close)(ld_image_dst *d); /* frees d; an uncommitted destination is rolled back */
  /* Formats that hold one image of one platform (docker-archive) set this. */
  bool single_image_only;
  char *name;
  void *ctx;
  /* Optional (NULL: not supported): makes the blob appear by cross-repository mount from the
   * source origin (ld_image_src.origin); *mounted false when the registry declined. */
  int (*mount_blob)(ld_image_dst *d, const ld_descriptor *desc, const char *origin,
                    bool *mounted, ld_error **err);
  const char *origin; /* optional: "domain/repo" of a registry destination */
};

/* Parses a transport spec and opens it. */
int ld_image_src_open(const char *spec, const ld_transport_opts *o, ld_image_src **out,
                      ld_error **err);
int ld_image_dst_open(const char *spec, const ld_transport_opts *o, ld_image_dst **out,
                      ld_error **err);
void ld_image_src_close(ld_image_src *s);
void ld_image_dst_close(ld_image_dst *d);

/* Transport openers, one per file. */
int ld_oci_layout_src_open(const char *dir, const char *tag, ld_image_src **out, ld_error **err);
int ld_oci_layout_dst_open(const char *dir, const char *tag, ld_image_dst **out, ld_error **err);
int ld_oci_archive_src_open(const char *file, const char *tag, ld_image_src **out, ld_error **err);
int ld_oci_archive_dst_open(const char *file, const char *tag, ld_image_dst **out, ld_error **err);
int ld_docker_archive_src_open(const char *file, const char *ref, ld_image_src **out,
                               ld_error **err);
int ld_docker_archive_dst_open(const char *file, const char *ref, ld_image_dst **out,
                               ld_error **err);
int ld_store_src_open(ld_store *s, const char *ref, ld_image_src **out, ld_error **err);
int ld_store_dst_open(ld_store *s, const char *ref, ld_image_dst **out, ld_error **err);
int ld_docker_src_open(const char *ref, const ld_transport_opts *o, ld_image_src **out,
                       ld_error **err);
int ld_docker_dst_open(const char *ref, const ld_transport_opts *o, ld_image_dst **out,
                       ld_error **err);

/* Copy. */
typedef struct ld_copy_opts {
  const ld_platform *platform; /* NULL: whole index when the destination can hold it */
  bool all_platforms;
  bool quiet;
  int jobs;
  /* Events, from worker threads (the callee serialises): "queued" (every blob, once, before
   * any transfer: totals), "start" (a blob begins; done 0),
   * "bytes" (done = bytes so far), "done", "skip" (already there), "mount" (cross-repository
   * mount), "retry" (the blob starts over), "manifest" (d = a manifest written). */
  void (*progress)(void *arg, const char *event, const ld_descriptor *d, uint64_t done);
  void *progress_arg;
  int retries;  /* attempts after the first for a failed blob (0: default 3, <0: none) */
  int compress; /* ld_compression: 0 keep layers as they are; LD_COMP_GZIP / LD_COMP_ZSTD */
  /* Optional memory of where blobs already are, across several copies into one registry
   * (mirror): known_location gives an origin ("domain/repo") to mount a digest from, or NULL;
   * record_location learns that the destination (dst->origin) now has it. */
  const char *(*known_location)(void *arg, const char *digest);
  void (*record_location)(void *arg, const char *digest, const char *origin);
  void *location_arg;
} ld_copy_opts;

typedef struct ld_copy_result {
  char digest[LD_DIGEST_MAX]; /* top-level manifest digest written */
  uint64_t blobs_copied, blobs_skipped, bytes_copied;
  uint64_t blobs_mounted, manifests; /* mounted across repositories; manifests written */
} ld_copy_result;

int ld_copy(ld_image_src *src, ld_image_dst *dst, const ld_copy_opts *o, ld_copy_result *res,
            ld_error **err);

/* Resolves the image a source names to one platform's manifest (following an index) and loads
 * its config. Used by analyze, inspect, scan, build FROM. */
typedef struct ld_image {
  ld_manifest manifest;     /* the platform's image manifest */
  ld_manifest *index;       /* the index it was selected from, or NULL */
  ld_image_config config;
  char *config_raw;
  size_t config_len;
} ld_image;
int ld_image_load(ld_image_src *src, const ld_platform *platform, ld_image *out, ld_error **err);

/* For reading layer d of src with the layer reader: fills o (and diff_id_buf, which o points
 * into) with d's size and what the store already verified and computed. Not thread-safe: callers that read
 * layers in parallel hold their own lock around it and ld_image_layer_learned. */
struct ld_layer_opts;
void ld_image_layer_opts(ld_image_src *src, const ld_descriptor *d, struct ld_layer_opts *o,
                         char diff_id_buf[LD_DIGEST_MAX]);
/* Remembers a diff_id and uncompressed size computed for a store blob (no-op otherwise). */
void ld_image_layer_learned(ld_image_src *src, const ld_descriptor *d, const char *diff_id,
                            uint64_t uncompressed_size);
void ld_image_clear(ld_image *img);

#endif
