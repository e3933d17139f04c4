/* lading analyze: where an image's bytes go (dive-compatible numbers, plus what dive misses).
 *
 * The analyzer is fed one layer at a time, each as a stream of tar entries (ld_analyzer_begin_layer,
 * ld_analyzer_add_entry, ld_analyzer_end_layer), so it never sees file bytes, only entry headers
 * and a content hash: memory grows with the number of entries, never with the size of files.
 * ld_analyze_image() is the driver that reads an image's layers through the layer reader
 * (lading/layer.h) and feeds them in; unit tests feed synthetic layers directly.
 *
 * Two merged trees are kept, incrementally, over the same interned paths:
 *   - dive's tree, with dive's exact semantics (whiteouts remove, opaque markers are ignored,
 *     implicit parent directories carry empty metadata), used only to size whiteouts the way
 *     dive does, so that efficiency, wasted bytes and user-wasted percent equal dive's to the bit;
 *   - the overlay tree (OCI semantics: whiteouts and opaque directories hide lower entries), used
 *     for the per-layer changes and for the numbers beyond dive: the bytes a rebuild would really
 *     reclaim (each hidden copy counted once) and identical content under several paths.
 * The dive-compatible fields never depend on the overlay tree, and vice versa.
 */
#ifndef LADING_ANALYZE_H
#define LADING_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lading/error.h"
#include "lading/manifest.h"
#include "lading/transport.h"

/* ---- Entries fed to the analyzer ---- */

typedef enum {
  LD_AN_REG = 0, /* regular file */
  LD_AN_DIR,
  LD_AN_SYMLINK,
  LD_AN_HARDLINK,
  LD_AN_OTHER, /* char/block device, fifo, socket */
} ld_an_type;

typedef struct ld_an_entry {
  const char *path; /* cleaned, relative ("usr/bin/ls"); for a whiteout, the hidden path; for an
                       opaque marker, the directory made opaque */
  bool whiteout;    /* ".wh.NAME" */
  bool opaque;      /* ".wh..wh..opq" */
  ld_an_type type;
  uint64_t size; /* the tar header size (dive's unit) */
  uint32_t mode, uid, gid;
  const char *link; /* symlink / hardlink target, or NULL */
  bool has_hash;    /* content hash of a regular file's data (XXH3-128) */
  uint64_t hash_hi, hash_lo;
} ld_an_entry;

/* What the driver knows about a layer besides its entries (all may be NULL / 0). */
typedef struct ld_an_layer_meta {
  const char *digest;     /* blob digest */
  const char *diff_id;    /* digest of the uncompressed tar */
  const char *media_type;
  uint64_t blob_size;     /* compressed size */
  const char *created_by; /* the history line that made it (raw) */
  bool history_missing;   /* no non-empty history entry was left for this layer */
} ld_an_layer_meta;

/* ---- Results ---- */

typedef enum { LD_AN_ADDED = 0, LD_AN_MODIFIED, LD_AN_REMOVED } ld_an_change_kind;

typedef struct ld_an_change {
  char *path; /* absolute, "/etc/passwd" */
  ld_an_change_kind kind;
  ld_an_type type;
  uint64_t size;      /* added/modified: the new entry's size; removed: bytes hidden */
  uint64_t prev_size; /* modified: the size it replaced */
  uint64_t files;     /* removed: how many entries the removal hid (a directory's subtree) */
} ld_an_change;

typedef struct ld_an_counter {
  uint64_t count, bytes;
} ld_an_counter;

typedef struct ld_an_layer {
  size_t index;
  char *digest, *diff_id, *media_type;
  uint64_t blob_size;
  uint64_t size;    /* dive: sum of the tar header sizes of every entry */
  uint64_t entries; /* tar entries */
  char *created_by; /* raw history line, "" when missing */
  char *command;    /* created_by with dive's "/bin/sh -c " and "#(nop) " trims */
  bool history_missing;
  ld_an_counter added, modified, removed;
  ld_an_change *changes; /* sorted by path; only for the layers asked for */
  size_t n_changes;
  bool has_changes;
} ld_an_layer;

typedef struct ld_an_inefficient {
  char *path;
  uint64_t count;        /* dive's "Count": how many layers touched the path */
  uint64_t wasted_bytes; /* dive's cumulative size */
} ld_an_inefficient;

typedef struct ld_an_hidden {
  char *path;
  uint64_t copies; /* hidden versions (overwritten, deleted, or under an opaque directory) */
  uint64_t bytes;
} ld_an_hidden;

typedef struct ld_an_duplicate {
  char hash[33]; /* XXH3-128, hex */
  uint64_t size; /* of one copy */
  char **paths;  /* sorted */
  size_t n_paths;
  uint64_t wasted_bytes; /* size * (n_paths - 1) */
} ld_an_duplicate;

typedef struct ld_analysis {
  ld_an_layer *layers;
  size_t n_layers;
  /* dive-compatible */
  uint64_t size, user_size, wasted_bytes;
  double efficiency, user_wasted_percent;
  ld_an_inefficient *inefficient; /* largest first, in dive's order */
  size_t n_inefficient;
  /* beyond dive */
  uint64_t visible_bytes, visible_files;    /* the final file system */
  uint64_t reclaimable_bytes, reclaimable_files;
  ld_an_hidden *hidden; /* largest first */
  size_t n_hidden;
  uint64_t duplicate_bytes;
  ld_an_duplicate *duplicates; /* most wasted first */
  size_t n_duplicates;
} ld_analysis;

void ld_analysis_free(ld_analysis *a);

/* ---- The analyzer (feeding API) ---- */

typedef struct ld_analyzer ld_analyzer;

typedef struct ld_analyze_opts {
  int changes_layer;  /* keep the change list of this layer (-1: none) */
  bool all_changes;   /* keep every layer's change list */
  int jobs;           /* ld_analyze_image: layers read in parallel (0: one per CPU, up to 4) */
} ld_analyze_opts;

ld_analyzer *ld_analyzer_new(const ld_analyze_opts *o);
void ld_analyzer_free(ld_analyzer *a);
void ld_analyzer_begin_layer(ld_analyzer *a, const ld_an_layer_meta *meta);
/* Copies what it needs from e. */
void ld_analyzer_add_entry(ld_analyzer *a, const ld_an_entry *e);
/* Applies the layer to both merged trees. */
int ld_analyzer_end_layer(ld_analyzer *a, ld_error **err);
/* Computes the image numbers; the analyzer may be freed afterwards. */
ld_analysis *ld_analyzer_finish(ld_analyzer *a);

/* ---- History ---- */

/* dive's trims: "/bin/sh -c " prefix, then "#(nop) " and the spaces after it. Returns a copy. */
char *ld_an_command(const char *created_by);
/* The history line of each of n_layers layers, matched like dive: history entries with
 * empty_layer are skipped; a layer with no entry left gets NULL ("(missing)"). out[i] borrows
 * from cfg. */
void ld_an_history_map(const ld_image_config *cfg, size_t n_layers, const char **out);

/* ---- Driving an image ---- */

/* Reads every layer of img (from src) once through the layer reader and analyzes it. Layers are
 * decompressed and parsed by o->jobs worker threads (src->open_blob is called under a lock;
 * each reader it returns is used by one thread); the merged trees are updated in layer order
 * by the calling thread. Each layer's blob digest and diff_id are checked; the error reported
 * is the one of the lowest failing layer. */
int ld_analyze_image(ld_image_src *src, const ld_image *img, const ld_analyze_opts *o,
                     ld_analysis **out, ld_error **err);

/* JSON report with stable field names (docs/analyze.md). */
json_t *ld_analysis_to_json(const ld_analysis *a);

/* ---- CI rules (dive's .dive-ci) ---- */

enum { LD_CI_LOWEST_EFFICIENCY = 0, LD_CI_HIGHEST_WASTED_BYTES, LD_CI_HIGHEST_USER_WASTED_PERCENT,
       LD_CI_N_RULES };

typedef struct ld_ci_config {
  char *value[LD_CI_N_RULES]; /* as written ("0.9", "20MB", "disabled") */
  char *source;               /* the file read, or NULL for the defaults */
} ld_ci_config;

typedef enum { LD_CI_PASS = 0, LD_CI_FAIL, LD_CI_SKIP } ld_ci_status;

typedef struct ld_ci_result {
  const char *rule; /* dive's key: "lowestEfficiency" ... */
  ld_ci_status status;
  char *message; /* "" when passed */
} ld_ci_result;

/* dive's defaults: lowestEfficiency 0.9, highestWastedBytes disabled,
 * highestUserWastedPercent 0.1. */
void ld_ci_config_defaults(ld_ci_config *c);
/* Reads a .dive-ci YAML file (a "rules:" mapping) over the current values. */
int ld_ci_config_load(ld_ci_config *c, const char *path, ld_error **err);
/* Sets one rule by dive's key; an unknown key is an error. */
int ld_ci_config_set(ld_ci_config *c, const char *rule, const char *value, ld_error **err);
/* Checks every enabled value (ranges, sizes); the error names the rule and the value. */
int ld_ci_config_validate(const ld_ci_config *c, ld_error **err);
void ld_ci_config_clear(ld_ci_config *c);
const char *ld_ci_rule_name(int rule);
/* Evaluates the rules (validated config). *passed is false when any rule failed. */
void ld_ci_evaluate(const ld_ci_config *c, const ld_analysis *a, ld_ci_result out[LD_CI_N_RULES],
                    bool *passed);
void ld_ci_results_clear(ld_ci_result r[LD_CI_N_RULES]);
const char *ld_ci_status_name(ld_ci_status s);
/* Go's %v of a float64 (shortest round-trip digits), as dive prints values. buf >= 32. */
const char *ld_an_format_float(double v, char *buf, size_t len);

#endif
