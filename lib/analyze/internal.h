/* Internals of lib/analyze: the arena, the interned path table, both merged trees and the
 * per-layer buffers. Not installed; only the files of lib/analyze include it.
 *
 * Every path ever seen gets one node, forever: nodes are addressed by a uint32_t id into one
 * growable array, found by an open-addressing hash table over the full path, and linked to their
 * parent and children (first_child / next_sibling). Interning never deletes, so ids stay valid
 * and a "tree" is just the set of nodes whose present flag is set. The invariant of each tree:
 * a node absent from it has every descendant absent too, so walking a subtree only follows
 * children that are present. Strings live in arenas; nothing is malloc'ed per entry.
 */
#ifndef LADING_ANALYZE_INTERNAL_H
#define LADING_ANALYZE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lading/analyze.h"

/* ---- arena ---- */

typedef struct an_chunk an_chunk;
typedef struct an_arena {
  an_chunk *head;
  char *cur;
  size_t left;
} an_arena;

void *an_arena_alloc(an_arena *a, size_t n);
char *an_arena_strndup(an_arena *a, const char *s, size_t n);
void an_arena_free(an_arena *a);

/* ---- nodes ---- */

#define AN_NONE UINT32_MAX

typedef struct an_info {
  uint64_t size;
  uint64_t hash_hi, hash_lo;
  uint32_t mode, uid, gid;
  uint8_t type; /* ld_an_type */
  bool has_hash;
  const char *link;
} an_info;

typedef struct an_node {
  const char *path; /* relative, "" for the root; arena */
  uint64_t key;     /* hash of path */
  uint32_t len, name_off;
  uint32_t parent, first_child, next_sibling;

  /* dive's stacked tree */
  uint64_t dive_size;
  bool dive_present, dive_isdir;

  /* the overlay tree */
  bool present;
  an_info info;
  uint32_t set_layer;   /* 1 + layer that last wrote it */
  uint32_t gone_layer;  /* 1 + layer that removed it as part of a subtree */
  uint32_t touch_layer; /* 1 + layer in whose touched list it is */
  uint32_t touch_idx;

  /* per-layer stamps (1 + layer) for building dive's layer tree */
  uint32_t member_layer, wh_member_layer, child_layer;
  uint32_t member_entry; /* index of the entry that set it, AN_NONE: implicit */

  /* dive's efficiency data */
  int64_t eff_cum, eff_min;
  uint32_t eff_count, eff_order;
  bool eff_seen;

  /* hidden versions (beyond dive) */
  uint64_t hidden_bytes;
  uint32_t hidden_copies;
} an_node;

typedef struct an_paths {
  an_node *nodes;
  uint32_t n, cap;
  uint32_t *slots; /* id + 1; 0 = empty */
  size_t n_slots;
  an_arena arena;
} an_paths;

void an_paths_init(an_paths *p);
void an_paths_free(an_paths *p);
/* Returns the id of path (relative, cleaned), creating it and its ancestors as needed. */
uint32_t an_paths_intern(an_paths *p, const char *path, size_t len);
/* AN_NONE if never seen. */
uint32_t an_paths_find(const an_paths *p, const char *path, size_t len);
static inline const char *an_node_name(const an_node *n) { return n->path + n->name_off; }

/* ---- per-layer buffer ---- */

typedef struct an_entry {
  const char *path; /* layer arena */
  uint32_t len;
  uint32_t id; /* filled when the layer is applied */
  bool whiteout, opaque;
  an_info info;
} an_entry;

typedef struct an_member {
  uint32_t id;
  bool whiteout;
} an_member;

typedef struct an_touch {
  uint32_t id;
  bool was_present;
  an_info prev;
  uint64_t removed_bytes, removed_files;
} an_touch;

struct ld_analyzer {
  ld_analyze_opts opts;
  an_paths paths;
  /* the layer being fed */
  an_entry *entries;
  size_t n_entries, cap_entries;
  an_arena layer_arena;
  ld_an_layer cur;
  bool in_layer;
  /* scratch reused per layer */
  an_member *members;
  size_t n_members, cap_members;
  an_touch *touched;
  size_t n_touched, cap_touched;
  uint32_t *stack;
  size_t cap_stack;
  /* results so far */
  ld_an_layer *layers;
  size_t n_layers, cap_layers;
  uint32_t eff_next_order;
  uint64_t hidden_bytes, hidden_files;
};

/* dive.c: dive's layer tree, efficiency visit and stacking for the current layer. */
void an_dive_layer(ld_analyzer *a, uint32_t layer);
void an_dive_efficiency(const an_paths *p, double *score, uint64_t *wasted,
                        ld_an_inefficient **out, size_t *n);

/* overlay.c: the overlay tree, changes and hidden bytes for the current layer. */
void an_overlay_layer(ld_analyzer *a, uint32_t layer, bool keep_changes);
void an_overlay_finish(ld_analyzer *a, ld_analysis *r);

/* Pushes onto the analyzer's reusable id stack (for iterative subtree walks). */
void an_stack_reserve(ld_analyzer *a, size_t n);

#endif
