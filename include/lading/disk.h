/* Node disk: what each image really costs, pruning by LRU with watermarks, gc and fsck.
 *
 * One model serves two sources. A report (ld_disk_report) is a set of images, each using a set
 * of "layers" (for the lading store: every blob an image references — manifests, config and
 * layers; for containers-storage: the layer chain of the image). A layer used by one image is
 * that image's unique bytes (what deleting it alone frees); a layer used by several is shared.
 * Sizes are bytes allocated on disk (st_blocks * 512), because that is what deleting frees and
 * what the file system's usage percentage is made of.
 *
 * Sources:
 *   ld_disk_store_read      the embedded store (index.json + meta.db: first seen, last used,
 *                           pins); images are manifest digests, names are their tags.
 *   ld_disk_cstorage_read   a containers-storage graph root as CRI-O and Podman write it
 *                           (<driver>-images/images.json, <driver>-layers/layers.json,
 *                           <driver>-containers/containers.json; drivers overlay and vfs).
 *                           Read only: lading never writes another runtime's storage.
 *
 * Pruning (ld_prune_plan_make) follows the kubelet's image GC: when the file system is at or
 * above high %, delete unused images in least-recently-used order (ties: first seen) until the
 * bytes freed bring it to or below low %. The plan simulates reference counts, so a shared layer
 * is counted as freed only when its last user goes. Never a victim: an image in use, pinned,
 * kept by a --keep glob, being written, or first seen less than min_age ago.
 */
#ifndef LADING_DISK_H
#define LADING_DISK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "lading/error.h"
#include "lading/store.h"

typedef enum { LD_DISK_STORE = 0, LD_DISK_CSTORAGE = 1 } ld_disk_source;

typedef struct ld_disk_layer {
  char *id;         /* store: blob digest; containers-storage: layer id */
  char *digest;     /* store: blob digest; containers-storage: diff-digest (may be NULL) */
  char *kind;       /* "layer", "config", "manifest", "index" (store); "layer" (cstorage) */
  uint64_t size;    /* bytes on disk */
  size_t *users;    /* indexes into report->images, ascending */
  size_t n_users, cap_users;
} ld_disk_layer;

typedef struct ld_disk_image {
  char *id;         /* store: manifest digest; containers-storage: image id */
  char *digest;     /* manifest digest (may be NULL for containers-storage) */
  char **names;     /* tags, full references */
  size_t n_names;
  size_t *layers;   /* indexes into report->layers, no duplicates */
  size_t n_layers;
  size_t n_fs_layers;   /* filesystem layers, as users count them */
  uint64_t size;        /* sum of its layers */
  uint64_t shared;      /* of which used by other images too */
  uint64_t unique;      /* of which only this image uses: what deleting it alone frees */
  int64_t created;      /* image creation (config "created"), 0 if unknown */
  int64_t first_seen;   /* store: first ingest; containers-storage: pull time (dir mtime) */
  int64_t last_used;    /* store: meta.db; containers-storage: newest container or pull */
  bool in_use;          /* by a container (containers-storage) */
  bool pinned;          /* lading prune --pin */
  bool being_written;   /* an ingest of it is in progress */
  bool broken;          /* fsck --repair found a bad blob of it */
  char *used_by;        /* containers using it, comma separated, or NULL */
} ld_disk_image;

typedef struct ld_disk_report {
  ld_disk_source source;
  char *root;
  char *driver;             /* containers-storage: "overlay" / "vfs"; store: NULL */
  ld_disk_image *images;
  size_t n_images;
  ld_disk_layer *layers;
  size_t n_layers;
  uint64_t images_bytes;    /* distinct bytes of all images' layers */
  uint64_t shared_bytes;    /* distinct bytes of layers with more than one user */
  uint64_t unique_bytes;    /* distinct bytes of layers with exactly one user */
  uint64_t containers_bytes;/* containers-storage: read-write layers of containers */
  uint64_t unreferenced_bytes; /* store: blobs no image uses (what lading gc frees) */
  uint64_t fs_total, fs_avail; /* the file system that holds root */
  int64_t now;              /* when the report was made */
} ld_disk_report;

/* Options for reading a source. */
typedef struct ld_disk_read_opts {
  /* containers-storage: take layer sizes from layers.json instead of walking the layer
   * directories (fast, but vfs copies of parents and file system overhead are estimated). */
  bool estimate;
} ld_disk_read_opts;

int ld_disk_store_read(ld_store *s, const ld_disk_read_opts *o, ld_disk_report **out,
                       ld_error **err);
int ld_disk_cstorage_read(const char *graphroot, const ld_disk_read_opts *o,
                          ld_disk_report **out, ld_error **err);
void ld_disk_report_free(ld_disk_report *r);

/* Building blocks for sources (and unit tests). */
ld_disk_report *ld_disk_report_new(ld_disk_source source, const char *root);
/* Appends an image / finds-or-adds a layer by id; both return the index. */
size_t ld_disk_add_image(ld_disk_report *r, const char *id);
size_t ld_disk_layer_index(ld_disk_report *r, const char *id, bool *created);
/* Lookups by id; (size_t)-1 when absent. */
size_t ld_disk_layer_find(const ld_disk_report *r, const char *id);
size_t ld_disk_image_by_id(const ld_disk_report *r, const char *id);
/* Records that image uses layer (idempotent). */
void ld_disk_use(ld_disk_report *r, size_t image, size_t layer);
/* Computes users, size/shared/unique per image and the totals. Call once, after adding. */
void ld_disk_report_finish(ld_disk_report *r);
/* File system usage in percent (0 if unknown). */
double ld_disk_used_pct(const ld_disk_report *r);

/* JSON of a report (stable field names; see docs/df.md). with_layers adds "layers". */
json_t *ld_disk_report_json(const ld_disk_report *r, bool with_layers);

/* Human output (table.c). Sizes: human (1.2 MB) or exact bytes. */
const char *ld_disk_size_str(uint64_t bytes, bool human, char *buf, size_t len);
const char *ld_disk_ago(int64_t t, int64_t now, char *buf, size_t len);
char *ld_disk_image_label(const ld_disk_image *im); /* familiar first name, "(+N)" more */
const char *ld_disk_image_status(const ld_disk_image *im);
void ld_disk_print_images(FILE *f, const ld_disk_report *r, bool human);
void ld_disk_print_totals(FILE *f, const ld_disk_report *r, bool human, double high, double low);
void ld_disk_print_layers(FILE *f, const ld_disk_report *r, bool human);

/* Parses an RFC 3339 time with optional fraction and offset ("2026-11-27T20:41:36.42Z").
 * Returns 0 and the unix time, or -1. */
int ld_disk_parse_time(const char *s, int64_t *out);
/* Bytes allocated on disk under path (like du -s -B1, hard links counted once, not crossing
 * mount points). */
int ld_disk_du(const char *path, uint64_t *bytes, ld_error **err);

/* Pruning. */
typedef struct ld_prune_opts {
  double high, low;      /* watermarks in percent; high <= 0: no watermark pass */
  int64_t min_age;       /* seconds since first seen before an image may go */
  int64_t max_age;       /* 0: off; else also delete images unused longer than this */
  const char *const *keep; /* glob patterns on names (fnmatch) */
  size_t n_keep;
  bool all_unused;       /* delete every image not protected (like crictl rmi --prune) */
} ld_prune_opts;

typedef enum {
  LD_PRUNE_REASON_WATERMARK = 1,
  LD_PRUNE_REASON_MAX_AGE,
  LD_PRUNE_REASON_ALL_UNUSED,
} ld_prune_reason;

typedef struct ld_prune_victim {
  size_t image;          /* index into report->images */
  ld_prune_reason reason;
  uint64_t frees;        /* bytes this deletion frees, given the deletions before it */
} ld_prune_victim;

typedef struct ld_prune_plan {
  ld_prune_victim *victims; /* in deletion order */
  size_t n_victims;
  uint64_t freed;           /* total bytes the plan frees */
  uint64_t need;            /* bytes to free to reach low (0 if below high) */
  bool above_high;          /* usage was at or above high */
  bool reaches_low;         /* the plan brings usage to or below low */
  size_t *protected_images; /* skipped: in use, pinned, kept, being written, too young */
  const char **protected_why;
  size_t n_protected;
  /* Layers (indexes into report->layers) whose last user is a victim: what deleting frees. */
  size_t *freed_layers;
  size_t n_freed_layers;
} ld_prune_plan;

/* Orders candidates and picks victims. Does not touch the disk. */
int ld_prune_plan_make(const ld_disk_report *r, const ld_prune_opts *o, ld_prune_plan *out,
                       ld_error **err);
void ld_prune_plan_clear(ld_prune_plan *p);
const char *ld_prune_reason_name(ld_prune_reason reason);
/* Why an image can never be a victim (NULL if it can): "in use", "pinned", "kept", ... */
const char *ld_prune_protection(const ld_disk_image *im, const ld_prune_opts *o, int64_t now);

/* Applies a plan to the store: under the store lock, untags every victim, then deletes the
 * blobs no remaining image references (re-checked under the lock, so a concurrent ingest that
 * tagged an image using one keeps it) and that are older than grace_seconds. *freed gets the
 * bytes deleted. */
int ld_prune_apply(ld_store *s, const ld_disk_report *r, const ld_prune_plan *p,
                   int64_t grace_seconds, uint64_t *freed, ld_error **err);

/* Pins (meta.db table disk_pins): a pinned name or digest is never pruned. */
int ld_disk_pin(ld_store *s, const char *name_or_digest, ld_error **err);
int ld_disk_unpin(ld_store *s, const char *name_or_digest, ld_error **err);
/* Lists pins as "name digest" pairs (two arrays, NULL-terminated, caller frees). */
int ld_disk_pins(ld_store *s, char ***names, char ***digests, size_t *n, ld_error **err);

/* For ingests into the store: true if the blob is present, and then its mtime is bumped so
 * that a concurrent gc or prune keeps it (see lib/disk/gc.c for the protocol). The store's copy
 * destination calls this instead of a bare existence check. */
bool ld_disk_hold_blob(ld_store *s, const char *digest);

/* gc: removes blobs no image references (marked from every ref in index.json: manifests,
 * indexes, their children, and referrers whose subject is live), stale ingest temp files and
 * abandoned uploads, all older than grace_seconds. Holds the store lock while sweeping. */
typedef struct ld_gc_result {
  size_t blobs_removed, temps_removed, blobs_kept_young;
  uint64_t bytes_freed;
  size_t blobs_live;
} ld_gc_result;
typedef struct ld_gc_opts {
  int64_t grace;  /* seconds */
  bool dry_run;
} ld_gc_opts;
int ld_gc_run(ld_store *s, const ld_gc_opts *o, ld_gc_result *res, ld_error **err);

/* fsck: re-hashes every blob and checks every reference and manifest. */
typedef struct ld_fsck_problem {
  char *digest;   /* the blob at fault (or the manifest that names a missing one) */
  char *what;     /* "digest mismatch", "missing", "size mismatch", "malformed manifest" */
  char **images;  /* names of the images that use it */
  size_t n_images;
  bool quarantined; /* --repair moved it aside */
} ld_fsck_problem;
typedef struct ld_fsck_result {
  ld_fsck_problem *problems;
  size_t n_problems;
  size_t blobs_checked, refs_checked, manifests_checked;
  uint64_t bytes_hashed;
  char **broken_images; /* names whose image has a problem */
  size_t n_broken_images;
} ld_fsck_result;
typedef struct ld_fsck_opts {
  bool repair; /* move bad blobs into ROOT/quarantine/ and mark their images broken */
} ld_fsck_opts;
int ld_fsck_run(ld_store *s, const ld_fsck_opts *o, ld_fsck_result *res, ld_error **err);
void ld_fsck_result_clear(ld_fsck_result *r);

#endif
