/* The overlay tree: what a container really sees, layer after layer, and what each layer changed.
 *
 * Semantics are the OCI image-spec's: a whiteout hides the path (and its subtree) in the layers
 * below; an opaque marker hides every child its directory had below; a non-directory replacing a
 * directory takes the directory's subtree with it. Deletions of a layer apply to the lower
 * layers only, so they are done first, then the layer's entries in tar order.
 *
 * Every version of an entry that stops being visible is "hidden": its bytes are what a rebuild
 * that never wrote it would reclaim, counted once per hidden copy (unlike dive's wasted bytes,
 * which also count the copy that stays). This holds exactly: the sum of every tar entry's size
 * equals the visible bytes at the end plus the hidden bytes (a unit test checks it).
 *
 * Changes of a layer are found by touching nodes: the first time a layer writes or removes a
 * node, its previous state is saved in the touched list; at the end of the layer each touched
 * node is classified as added, modified (metadata or content hash differ), removed, or left
 * unchanged (a directory restated as it was). Subtrees removed with their top node are counted
 * in the top node's removal, not listed one by one.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "lading/util.h"

static uint32_t touch(ld_analyzer *a, uint32_t id, uint32_t stamp) {
  an_node *n = &a->paths.nodes[id];
  if (n->touch_layer == stamp) return n->touch_idx;
  if (a->n_touched == a->cap_touched) {
    a->cap_touched = a->cap_touched ? a->cap_touched * 2 : 1024;
    a->touched = ld_xrealloc(a->touched, a->cap_touched * sizeof *a->touched);
  }
  uint32_t idx = (uint32_t) a->n_touched++;
  a->touched[idx] = (an_touch){.id = id,
                               .was_present = n->present || n->gone_layer == stamp,
                               .prev = n->info};
  n->touch_layer = stamp;
  n->touch_idx = idx;
  return idx;
}

/* A version stops being visible: its bytes become reclaimable. */
static void hide(ld_analyzer *a, an_node *n) {
  a->hidden_bytes += n->info.size;
  n->hidden_bytes += n->info.size;
  if (n->info.type != LD_AN_DIR) {
    n->hidden_copies++;
    if (n->info.size > 0) a->hidden_files++;
  }
}

/* Removes the present subtree of id (id included); accounts it to touched record t. */
static void remove_subtree(ld_analyzer *a, uint32_t id, uint32_t stamp, uint32_t t) {
  an_node *nodes = a->paths.nodes;
  size_t top = 0;
  an_stack_reserve(a, 1);
  a->stack[top++] = id;
  while (top) {
    uint32_t k = a->stack[--top];
    an_node *n = &nodes[k];
    a->touched[t].removed_bytes += n->info.size;
    if (n->info.type != LD_AN_DIR) a->touched[t].removed_files++;
    hide(a, n);
    n->present = false;
    if (k != id && n->set_layer != stamp) n->gone_layer = stamp;
    for (uint32_t c = n->first_child; c != AN_NONE; c = nodes[c].next_sibling)
      if (nodes[c].present) {
        an_stack_reserve(a, top + 1);
        a->stack[top++] = c;
      }
  }
}

static void remove_children(ld_analyzer *a, uint32_t id, uint32_t stamp, bool own_records) {
  an_node *nodes = a->paths.nodes;
  uint32_t parent_t = own_records ? 0 : touch(a, id, stamp);
  for (uint32_t c = nodes[id].first_child; c != AN_NONE; c = nodes[c].next_sibling) {
    if (!nodes[c].present) continue;
    remove_subtree(a, c, stamp, own_records ? touch(a, c, stamp) : parent_t);
  }
}

/* Creates id's missing ancestors as plain directories (the layer implies them). */
static void ensure_parents(ld_analyzer *a, uint32_t id, uint32_t stamp) {
  an_node *nodes = a->paths.nodes;
  uint32_t p = nodes[id].parent;
  if (p == AN_NONE || nodes[p].present) return;
  ensure_parents(a, p, stamp);
  touch(a, p, stamp);
  nodes[p].present = true;
  nodes[p].info = (an_info){.type = LD_AN_DIR, .mode = 0755};
  nodes[p].set_layer = stamp;
}

static void apply_entry(ld_analyzer *a, const an_entry *e, uint32_t stamp) {
  an_node *nodes = a->paths.nodes;
  an_node *n = &nodes[e->id];
  ensure_parents(a, e->id, stamp);
  touch(a, e->id, stamp);
  if (n->present) {
    if (n->info.type == LD_AN_DIR && e->info.type != LD_AN_DIR)
      remove_children(a, e->id, stamp, false);
    hide(a, n);
  }
  n->present = true;
  n->info = e->info;
  n->set_layer = stamp;
}

static void apply_deletions(ld_analyzer *a, uint32_t stamp) {
  an_node *nodes = a->paths.nodes;
  for (size_t i = 0; i < a->n_entries; i++) {
    const an_entry *e = &a->entries[i];
    a->hidden_bytes += e->whiteout || e->opaque ? e->info.size : 0; /* markers are never visible */
    if (e->whiteout && e->id != 0 && nodes[e->id].present)
      remove_subtree(a, e->id, stamp, touch(a, e->id, stamp));
    else if (e->opaque && nodes[e->id].present)
      remove_children(a, e->id, stamp, true);
  }
}

static void apply_additions(ld_analyzer *a, uint32_t stamp) {
  an_node *nodes = a->paths.nodes;
  for (size_t i = 0; i < a->n_entries; i++) {
    const an_entry *e = &a->entries[i];
    if (e->whiteout) continue;
    if (!e->opaque) {
      apply_entry(a, e, stamp);
    } else if (!nodes[e->id].present) { /* the marker implies its directory */
      an_entry dir = {.id = e->id, .info = {.type = LD_AN_DIR, .mode = 0755}};
      apply_entry(a, &dir, stamp);
    }
  }
}

/* ---- classification ---- */

static bool info_equal(const an_info *x, const an_info *y) {
  if (x->type != y->type || x->size != y->size || x->mode != y->mode || x->uid != y->uid ||
      x->gid != y->gid || x->has_hash != y->has_hash)
    return false;
  if (x->has_hash && (x->hash_hi != y->hash_hi || x->hash_lo != y->hash_lo)) return false;
  if (!x->link != !y->link) return false;
  return !x->link || !strcmp(x->link, y->link);
}

static int cmp_change(const void *x, const void *y) {
  return strcmp(((const ld_an_change *) x)->path, ((const ld_an_change *) y)->path);
}

static bool classify(const an_touch *t, const an_node *n, ld_an_change *c) {
  memset(c, 0, sizeof *c);
  if (t->was_present && n->present) {
    if (info_equal(&t->prev, &n->info) && !t->removed_bytes && !t->removed_files) return false;
    c->kind = LD_AN_MODIFIED;
    c->size = n->info.size;
    c->prev_size = t->prev.size;
    c->type = n->info.type;
    c->files = t->removed_files;
  } else if (t->was_present) {
    c->kind = LD_AN_REMOVED;
    c->size = t->removed_bytes;
    c->files = t->removed_files;
    c->type = t->prev.type;
  } else if (n->present) {
    c->kind = LD_AN_ADDED;
    c->size = n->info.size;
    c->type = n->info.type;
  } else {
    return false;
  }
  return true;
}

static void collect_changes(ld_analyzer *a, bool keep) {
  ld_an_layer *l = &a->cur;
  size_t kept = 0;
  if (keep) l->changes = ld_xcalloc(a->n_touched ? a->n_touched : 1, sizeof *l->changes);
  for (size_t i = 0; i < a->n_touched; i++) {
    const an_touch *t = &a->touched[i];
    const an_node *n = &a->paths.nodes[t->id];
    ld_an_change c;
    if (t->id == 0 || !classify(t, n, &c)) continue;
    ld_an_counter *k = c.kind == LD_AN_ADDED ? &l->added
                       : c.kind == LD_AN_MODIFIED ? &l->modified : &l->removed;
    k->count++;
    k->bytes += c.size;
    if (!keep) continue;
    c.path = ld_xasprintf("/%s", n->path);
    l->changes[kept++] = c;
  }
  if (keep) {
    qsort(l->changes, kept, sizeof *l->changes, cmp_change);
    l->n_changes = kept;
    l->has_changes = true;
  }
}

void an_overlay_layer(ld_analyzer *a, uint32_t layer, bool keep_changes) {
  uint32_t stamp = layer + 1;
  a->n_touched = 0;
  apply_deletions(a, stamp);
  apply_additions(a, stamp);
  collect_changes(a, keep_changes);
}

/* ---- the final file system ---- */

static int cmp_hidden(const void *x, const void *y) {
  const ld_an_hidden *a = x, *b = y;
  if (a->bytes != b->bytes) return a->bytes > b->bytes ? -1 : 1;
  return strcmp(a->path, b->path);
}

static void collect_hidden(ld_analyzer *a, ld_analysis *r) {
  const an_paths *p = &a->paths;
  size_t n = 0;
  for (uint32_t id = 1; id < p->n; id++) n += p->nodes[id].hidden_bytes > 0;
  r->hidden = ld_xcalloc(n ? n : 1, sizeof *r->hidden);
  for (uint32_t id = 1, k = 0; id < p->n; id++) {
    const an_node *nd = &p->nodes[id];
    if (!nd->hidden_bytes) continue;
    r->hidden[k].path = ld_xasprintf("/%s", nd->path);
    r->hidden[k].copies = nd->hidden_copies;
    r->hidden[k].bytes = nd->hidden_bytes;
    k++;
  }
  qsort(r->hidden, n, sizeof *r->hidden, cmp_hidden);
  r->n_hidden = n;
}

static int cmp_content(const void *x, const void *y, void *ctx) {
  const an_node *nodes = ctx;
  const an_node *a = &nodes[*(const uint32_t *) x], *b = &nodes[*(const uint32_t *) y];
  if (a->info.hash_hi != b->info.hash_hi) return a->info.hash_hi < b->info.hash_hi ? -1 : 1;
  if (a->info.hash_lo != b->info.hash_lo) return a->info.hash_lo < b->info.hash_lo ? -1 : 1;
  if (a->info.size != b->info.size) return a->info.size < b->info.size ? -1 : 1;
  return strcmp(a->path, b->path);
}

static int cmp_duplicate(const void *x, const void *y) {
  const ld_an_duplicate *a = x, *b = y;
  if (a->wasted_bytes != b->wasted_bytes) return a->wasted_bytes > b->wasted_bytes ? -1 : 1;
  return strcmp(a->paths[0], b->paths[0]);
}

static bool same_content(const an_node *a, const an_node *b) {
  return a->info.hash_hi == b->info.hash_hi && a->info.hash_lo == b->info.hash_lo &&
         a->info.size == b->info.size;
}

static void add_group(ld_analysis *r, const an_node *nodes, const uint32_t *ids, size_t n) {
  ld_an_duplicate *d = &r->duplicates[r->n_duplicates++];
  const an_info *info = &nodes[ids[0]].info;
  snprintf(d->hash, sizeof d->hash, "%016llx%016llx", (unsigned long long) info->hash_hi,
           (unsigned long long) info->hash_lo);
  d->size = info->size;
  d->n_paths = n;
  d->paths = ld_xcalloc(n, sizeof *d->paths);
  for (size_t i = 0; i < n; i++) d->paths[i] = ld_xasprintf("/%s", nodes[ids[i]].path);
  d->wasted_bytes = info->size * (n - 1);
  r->duplicate_bytes += d->wasted_bytes;
}

static void collect_duplicates(ld_analyzer *a, ld_analysis *r) {
  const an_paths *p = &a->paths;
  uint32_t *ids = ld_xcalloc(p->n, sizeof *ids);
  size_t n = 0;
  for (uint32_t id = 1; id < p->n; id++) {
    const an_node *nd = &p->nodes[id];
    if (nd->present && nd->info.type == LD_AN_REG && nd->info.size > 0 && nd->info.has_hash)
      ids[n++] = id;
  }
  qsort_r(ids, n, sizeof *ids, cmp_content, p->nodes);
  r->duplicates = ld_xcalloc(n / 2 + 1, sizeof *r->duplicates);
  for (size_t i = 0, j; i < n; i = j) {
    for (j = i + 1; j < n && same_content(&p->nodes[ids[i]], &p->nodes[ids[j]]); j++) {}
    if (j - i >= 2) add_group(r, p->nodes, ids + i, j - i);
  }
  qsort(r->duplicates, r->n_duplicates, sizeof *r->duplicates, cmp_duplicate);
  free(ids);
}

void an_overlay_finish(ld_analyzer *a, ld_analysis *r) {
  const an_paths *p = &a->paths;
  for (uint32_t id = 0; id < p->n; id++) {
    const an_node *nd = &p->nodes[id];
    if (!nd->present) continue;
    r->visible_bytes += nd->info.size;
    if (id && nd->info.type != LD_AN_DIR) r->visible_files++;
  }
  r->reclaimable_bytes = a->hidden_bytes;
  r->reclaimable_files = a->hidden_files;
  collect_hidden(a, r);
  collect_duplicates(a, r);
}
