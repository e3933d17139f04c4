/* The analyzer's feeding API: layers in order, entries in tar order (see lading/analyze.h).
 *
 * Entries of the current layer are buffered (paths in a per-layer arena, freed when the layer
 * ends) because both trees need the whole layer before applying it: dive visits a layer's leaves
 * in sorted order, and overlay deletions apply before the layer's additions. At the end of the
 * layer, paths are interned into the permanent table, dive's tree and the overlay tree are
 * updated, and the buffer is reused. Memory is therefore O(paths in the image + entries of the
 * largest layer), independent of file sizes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "lading/util.h"

ld_analyzer *ld_analyzer_new(const ld_analyze_opts *o) {
  ld_analyzer *a = ld_xcalloc(1, sizeof *a);
  if (o) a->opts = *o;
  else a->opts.changes_layer = -1;
  an_paths_init(&a->paths);
  return a;
}

static void layer_clear(ld_an_layer *l) {
  free(l->digest);
  free(l->diff_id);
  free(l->media_type);
  free(l->created_by);
  free(l->command);
  for (size_t i = 0; i < l->n_changes; i++) free(l->changes[i].path);
  free(l->changes);
  memset(l, 0, sizeof *l);
}

void ld_analyzer_free(ld_analyzer *a) {
  if (!a) return;
  an_paths_free(&a->paths);
  an_arena_free(&a->layer_arena);
  free(a->entries);
  free(a->members);
  free(a->touched);
  free(a->stack);
  if (a->in_layer) layer_clear(&a->cur);
  for (size_t i = 0; i < a->n_layers; i++) layer_clear(&a->layers[i]);
  free(a->layers);
  free(a);
}

static char *dup_or_empty(const char *s) { return ld_xstrdup(s ? s : ""); }

void ld_analyzer_begin_layer(ld_analyzer *a, const ld_an_layer_meta *meta) {
  static const ld_an_layer_meta none;
  if (!meta) meta = &none;
  if (a->in_layer) layer_clear(&a->cur);
  memset(&a->cur, 0, sizeof a->cur);
  a->cur.index = a->n_layers;
  a->cur.digest = dup_or_empty(meta->digest);
  a->cur.diff_id = dup_or_empty(meta->diff_id);
  a->cur.media_type = dup_or_empty(meta->media_type);
  a->cur.blob_size = meta->blob_size;
  a->cur.created_by = dup_or_empty(meta->created_by);
  a->cur.command = ld_an_command(meta->created_by ? meta->created_by : "(missing)");
  a->cur.history_missing = meta->history_missing || !meta->created_by;
  a->n_entries = 0;
  an_arena_free(&a->layer_arena);
  a->in_layer = true;
}

void ld_analyzer_add_entry(ld_analyzer *a, const ld_an_entry *e) {
  if (a->n_entries == a->cap_entries) {
    a->cap_entries = a->cap_entries ? a->cap_entries * 2 : 4096;
    a->entries = ld_xrealloc(a->entries, a->cap_entries * sizeof *a->entries);
  }
  const char *p = e->path ? e->path : "";
  size_t len = strlen(p);
  while (len && *p == '/') p++, len--;
  while (len && p[len - 1] == '/') len--;
  an_entry *x = &a->entries[a->n_entries++];
  memset(x, 0, sizeof *x);
  x->path = an_arena_strndup(&a->layer_arena, p, len);
  x->len = (uint32_t) len;
  x->whiteout = e->whiteout;
  x->opaque = e->opaque;
  x->info.type = (uint8_t) e->type;
  x->info.size = e->size;
  x->info.mode = e->mode;
  x->info.uid = e->uid;
  x->info.gid = e->gid;
  x->info.has_hash = e->has_hash;
  x->info.hash_hi = e->hash_hi;
  x->info.hash_lo = e->hash_lo;
  if (e->link) x->info.link = an_arena_strndup(&a->paths.arena, e->link, strlen(e->link));
  a->cur.entries++;
  a->cur.size += e->size;
}

static bool keep_changes(const ld_analyzer *a, size_t index) {
  return a->opts.all_changes || (a->opts.changes_layer >= 0 && (size_t) a->opts.changes_layer == index);
}

int ld_analyzer_end_layer(ld_analyzer *a, ld_error **err) {
  if (!a->in_layer) return ld_err(err, EINVAL, "analyzer: end of a layer that was not begun");
  for (size_t i = 0; i < a->n_entries; i++)
    a->entries[i].id = an_paths_intern(&a->paths, a->entries[i].path, a->entries[i].len);
  uint32_t index = (uint32_t) a->n_layers;
  an_dive_layer(a, index);
  an_overlay_layer(a, index, keep_changes(a, index));
  if (a->n_layers == a->cap_layers) {
    a->cap_layers = a->cap_layers ? a->cap_layers * 2 : 16;
    a->layers = ld_xrealloc(a->layers, a->cap_layers * sizeof *a->layers);
  }
  a->layers[a->n_layers++] = a->cur;
  memset(&a->cur, 0, sizeof a->cur);
  a->in_layer = false;
  a->n_entries = 0;
  an_arena_free(&a->layer_arena);
  return 0;
}

ld_analysis *ld_analyzer_finish(ld_analyzer *a) {
  ld_analysis *r = ld_xcalloc(1, sizeof *r);
  r->layers = a->layers;
  r->n_layers = a->n_layers;
  a->layers = NULL;
  a->n_layers = a->cap_layers = 0;
  for (size_t i = 0; i < r->n_layers; i++) {
    r->size += r->layers[i].size;
    if (i) r->user_size += r->layers[i].size;
  }
  an_dive_efficiency(&a->paths, &r->efficiency, &r->wasted_bytes, &r->inefficient,
                     &r->n_inefficient);
  if (r->user_size) r->user_wasted_percent = (double) r->wasted_bytes / (double) r->user_size;
  else r->user_wasted_percent = r->wasted_bytes ? INFINITY : NAN; /* Go's float64 division */
  an_overlay_finish(a, r);
  return r;
}

void ld_analysis_free(ld_analysis *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n_layers; i++) layer_clear(&r->layers[i]);
  free(r->layers);
  for (size_t i = 0; i < r->n_inefficient; i++) free(r->inefficient[i].path);
  free(r->inefficient);
  for (size_t i = 0; i < r->n_hidden; i++) free(r->hidden[i].path);
  free(r->hidden);
  for (size_t i = 0; i < r->n_duplicates; i++) {
    for (size_t j = 0; j < r->duplicates[i].n_paths; j++) free(r->duplicates[i].paths[j]);
    free(r->duplicates[i].paths);
  }
  free(r->duplicates);
  free(r);
}
