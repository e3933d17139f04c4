/* The JSON form of an analysis. Field names are an interface (docs/analyze.md): add fields,
 * never rename or retype them. dive's numbers keep dive's meaning under our snake_case names;
 * what dive does not compute sits in separate fields ("reclaimable_*", "hidden_files",
 * "duplicate*"), so a consumer of the dive-compatible ones never sees them move.
 * NaN and infinities (user_wasted_percent of a one-layer image) are not JSON numbers: null.
 */
#include <math.h>
#include "lading/analyze.h"
#include "lading/util.h"

static json_t *real_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static const char *type_name(ld_an_type t) {
  static const char *const names[] = {"file", "dir", "symlink", "hardlink", "other"};
  return (unsigned) t < LD_ARRAY_SIZE(names) ? names[t] : "other";
}

static const char *kind_name(ld_an_change_kind k) {
  return k == LD_AN_ADDED ? "added" : k == LD_AN_MODIFIED ? "modified" : "removed";
}

static json_t *counter_json(const ld_an_counter *c) {
  return json_pack("{s:I,s:I}", "count", (json_int_t) c->count, "bytes", (json_int_t) c->bytes);
}

static json_t *change_json(const ld_an_change *c) {
  json_t *j = json_pack("{s:s,s:s,s:s,s:I}", "kind", kind_name(c->kind), "path", c->path, "type",
                        type_name(c->type), "size", (json_int_t) c->size);
  if (c->kind == LD_AN_MODIFIED) json_object_set_new(j, "previous_size", json_integer((json_int_t) c->prev_size));
  if (c->kind == LD_AN_REMOVED) json_object_set_new(j, "files", json_integer((json_int_t) c->files));
  return j;
}

static json_t *layer_json(const ld_an_layer *l) {
  json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:o,s:o,s:o}",
                        "index", (json_int_t) l->index, "digest", l->digest, "diff_id", l->diff_id,
                        "media_type", l->media_type, "blob_size", (json_int_t) l->blob_size,
                        "size", (json_int_t) l->size, "entries", (json_int_t) l->entries,
                        "command", l->command, "created_by", l->created_by,
                        "added", counter_json(&l->added), "modified", counter_json(&l->modified),
                        "removed", counter_json(&l->removed));
  if (l->has_changes) {
    json_t *arr = json_array();
    for (size_t i = 0; i < l->n_changes; i++) json_array_append_new(arr, change_json(&l->changes[i]));
    json_object_set_new(j, "changes", arr);
  }
  return j;
}

static json_t *inefficient_json(const ld_analysis *a) {
  json_t *arr = json_array();
  for (size_t i = 0; i < a->n_inefficient; i++)
    json_array_append_new(arr, json_pack("{s:I,s:I,s:s}", "count",
                                         (json_int_t) a->inefficient[i].count, "wasted_bytes",
                                         (json_int_t) a->inefficient[i].wasted_bytes, "path",
                                         a->inefficient[i].path));
  return arr;
}

static json_t *hidden_json(const ld_analysis *a) {
  json_t *arr = json_array();
  for (size_t i = 0; i < a->n_hidden; i++)
    json_array_append_new(arr, json_pack("{s:s,s:I,s:I}", "path", a->hidden[i].path, "copies",
                                         (json_int_t) a->hidden[i].copies, "bytes",
                                         (json_int_t) a->hidden[i].bytes));
  return arr;
}

static json_t *duplicates_json(const ld_analysis *a) {
  json_t *arr = json_array();
  for (size_t i = 0; i < a->n_duplicates; i++) {
    const ld_an_duplicate *d = &a->duplicates[i];
    json_t *paths = json_array();
    for (size_t k = 0; k < d->n_paths; k++) json_array_append_new(paths, json_string(d->paths[k]));
    json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:I,s:o}", "hash", d->hash, "size",
                                         (json_int_t) d->size, "count", (json_int_t) d->n_paths,
                                         "wasted_bytes", (json_int_t) d->wasted_bytes, "paths",
                                         paths));
  }
  return arr;
}

json_t *ld_analysis_to_json(const ld_analysis *a) {
  json_t *layers = json_array();
  for (size_t i = 0; i < a->n_layers; i++) json_array_append_new(layers, layer_json(&a->layers[i]));
  json_t *j = json_object();
  json_object_set_new(j, "layers", layers);
  json_object_set_new(j, "size", json_integer((json_int_t) a->size));
  json_object_set_new(j, "user_size", json_integer((json_int_t) a->user_size));
  json_object_set_new(j, "efficiency", real_or_null(a->efficiency));
  json_object_set_new(j, "wasted_bytes", json_integer((json_int_t) a->wasted_bytes));
  json_object_set_new(j, "user_wasted_percent", real_or_null(a->user_wasted_percent));
  json_object_set_new(j, "inefficient_files", inefficient_json(a));
  json_object_set_new(j, "visible_bytes", json_integer((json_int_t) a->visible_bytes));
  json_object_set_new(j, "visible_files", json_integer((json_int_t) a->visible_files));
  json_object_set_new(j, "reclaimable_bytes", json_integer((json_int_t) a->reclaimable_bytes));
  json_object_set_new(j, "reclaimable_files", json_integer((json_int_t) a->reclaimable_files));
  json_object_set_new(j, "hidden_files", hidden_json(a));
  json_object_set_new(j, "duplicate_bytes", json_integer((json_int_t) a->duplicate_bytes));
  json_object_set_new(j, "duplicates", duplicates_json(a));
  return j;
}
