/* dive's numbers, computed the way dive computes them, without dive's cost.
 *
 * dive (github.com/wagoodman/dive, filetree/efficiency.go) builds one tree per layer from the
 * tar headers, then visits the leaves of each layer tree in sorted, children-first order. Each
 * leaf adds its size to a per-path record (cumulative size, smallest size seen, count). A leaf
 * that is a whiteout is sized from the stack of the layers below it: the whole subtree's sizes
 * when the hidden path was a directory, 0 when it was a file. A path whose record reaches two
 * nodes is "inefficient"; wasted bytes are the sum of the cumulative sizes of those paths; the
 * score is sum(smallest) / sum(cumulative) over every path.
 *
 * dive re-stacks every lower layer for each whiteout; here one stacked tree (the dive_* fields
 * of the nodes) is kept incrementally: layer L's leaves are visited against the stack of layers
 * 0..L-1, then layer L is stacked onto it. Stacking follows dive exactly, quirks included,
 * because they change the numbers:
 *   - opaque markers (".wh..wh..opq") are ignored, but create their directory in the layer tree;
 *   - a directory only implied by a deeper entry carries empty metadata (not a directory, size 0),
 *     and stacking it replaces what the lower layer said;
 *   - a whiteout whose path is not in the stack makes dive's visitor fail: its record is created
 *     with smallest size -1, and the rest of that layer's leaves are not visited;
 *   - for the first layer, whiteouts are looked up in the layer's own tree.
 * The layer tree itself exists only while its layer is applied: stamps on the nodes mark which
 * paths belong to it (member_layer, wh_member_layer for ".wh." nodes) and which have children
 * in it (child_layer), and a sorted array of members gives dive's visiting order.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "lading/util.h"

static void push_member(ld_analyzer *a, uint32_t id, bool whiteout) {
  if (a->n_members == a->cap_members) {
    a->cap_members = a->cap_members ? a->cap_members * 2 : 1024;
    a->members = ld_xrealloc(a->members, a->cap_members * sizeof *a->members);
  }
  a->members[a->n_members++] = (an_member){.id = id, .whiteout = whiteout};
}

/* Marks the ancestors of id as members (implicit unless an entry names them) with children. */
static void add_ancestors(ld_analyzer *a, uint32_t id, uint32_t stamp) {
  an_node *nodes = a->paths.nodes;
  for (uint32_t p = nodes[id].parent; p != AN_NONE && p != 0; p = nodes[p].parent) {
    nodes[p].child_layer = stamp;
    if (nodes[p].member_layer == stamp) return;
    nodes[p].member_layer = stamp;
    nodes[p].member_entry = AN_NONE;
    push_member(a, p, false);
  }
  nodes[0].child_layer = stamp;
}

static void add_member(ld_analyzer *a, uint32_t id, uint32_t entry, uint32_t stamp) {
  an_node *n = &a->paths.nodes[id];
  if (n->member_layer != stamp) {
    n->member_layer = stamp;
    n->member_entry = AN_NONE;
    push_member(a, id, false);
  }
  if (entry != AN_NONE) n->member_entry = entry;
  add_ancestors(a, id, stamp);
}

/* A ".wh." node: always a leaf, sized from the stack below, so no entry is kept for it. */
static void add_wh_member(ld_analyzer *a, uint32_t id, uint32_t stamp) {
  an_node *n = &a->paths.nodes[id];
  if (n->wh_member_layer != stamp) {
    n->wh_member_layer = stamp;
    push_member(a, id, true);
  }
  add_ancestors(a, id, stamp);
}

static void build_layer_tree(ld_analyzer *a, uint32_t stamp) {
  a->n_members = 0;
  for (size_t i = 0; i < a->n_entries; i++) {
    const an_entry *e = &a->entries[i];
    if (e->id == 0) continue; /* the root is never a node of dive's trees */
    if (e->whiteout) add_wh_member(a, e->id, stamp);
    else add_member(a, e->id, e->opaque ? AN_NONE : (uint32_t) i, stamp);
  }
}

/* ---- dive's visiting order: sorted children, children before their parent ---- */

/* Compares two names, either of which may carry the ".wh." prefix dive's layer tree keeps. */
static int cmp_name(const char *x, size_t xl, bool xwh, const char *y, size_t yl, bool ywh) {
  static const char wh[] = ".wh.";
  size_t xt = xl + (xwh ? 4 : 0), yt = yl + (ywh ? 4 : 0);
  for (size_t i = 0; i < xt && i < yt; i++) {
    unsigned char cx = (unsigned char) (xwh ? (i < 4 ? wh[i] : x[i - 4]) : x[i]);
    unsigned char cy = (unsigned char) (ywh ? (i < 4 ? wh[i] : y[i - 4]) : y[i]);
    if (cx != cy) return cx < cy ? -1 : 1;
  }
  return xt < yt ? -1 : xt > yt;
}

static int cmp_members(const void *va, const void *vb, void *ctx) {
  const an_paths *p = ctx;
  const an_member *ma = va, *mb = vb;
  const an_node *na = &p->nodes[ma->id], *nb = &p->nodes[mb->id];
  const char *x = na->path, *y = nb->path;
  size_t xl = na->len, yl = nb->len, i = 0, j = 0;
  for (;;) {
    bool xend = i >= xl, yend = j >= yl;
    if (xend || yend) {
      if (xend && yend) return (int) ma->whiteout - (int) mb->whiteout;
      return xend ? 1 : -1; /* an ancestor comes after its descendants */
    }
    const char *xs = memchr(x + i, '/', xl - i), *ys = memchr(y + j, '/', yl - j);
    size_t xe = xs ? (size_t) (xs - x) : xl, ye = ys ? (size_t) (ys - y) : yl;
    bool xwh = ma->whiteout && xe == xl, ywh = mb->whiteout && ye == yl;
    int c = cmp_name(x + i, xe - i, xwh, y + j, ye - j, ywh);
    if (c) return c;
    i = xe + 1;
    j = ye + 1;
  }
}

/* ---- the stacked tree ---- */

void an_stack_reserve(ld_analyzer *a, size_t n) {
  if (n <= a->cap_stack) return;
  a->cap_stack = n < 1024 ? 1024 : n * 2;
  a->stack = ld_xrealloc(a->stack, a->cap_stack * sizeof *a->stack);
}

/* Sum of dive sizes over the present subtree of id, id included. */
static uint64_t dive_subtree_size(ld_analyzer *a, uint32_t id) {
  an_node *nodes = a->paths.nodes;
  uint64_t sum = 0;
  size_t top = 0;
  an_stack_reserve(a, 1);
  a->stack[top++] = id;
  while (top) {
    uint32_t n = a->stack[--top];
    sum += nodes[n].dive_size;
    for (uint32_t c = nodes[n].first_child; c != AN_NONE; c = nodes[c].next_sibling)
      if (nodes[c].dive_present) {
        an_stack_reserve(a, top + 1);
        a->stack[top++] = c;
      }
  }
  return sum;
}

static void dive_remove(ld_analyzer *a, uint32_t id) {
  an_node *nodes = a->paths.nodes;
  size_t top = 0;
  an_stack_reserve(a, 1);
  a->stack[top++] = id;
  while (top) {
    uint32_t n = a->stack[--top];
    nodes[n].dive_present = false;
    for (uint32_t c = nodes[n].first_child; c != AN_NONE; c = nodes[c].next_sibling)
      if (nodes[c].dive_present) {
        an_stack_reserve(a, top + 1);
        a->stack[top++] = c;
      }
  }
}

static void dive_add(ld_analyzer *a, uint32_t id, const an_info *info) {
  an_node *nodes = a->paths.nodes;
  for (uint32_t p = nodes[id].parent; p != AN_NONE && !nodes[p].dive_present; p = nodes[p].parent) {
    nodes[p].dive_present = true; /* created on the way, with empty metadata */
    nodes[p].dive_isdir = false;
    nodes[p].dive_size = 0;
  }
  nodes[id].dive_present = true;
  nodes[id].dive_isdir = info && info->type == LD_AN_DIR;
  nodes[id].dive_size = info ? info->size : 0;
}

static void stack_layer(ld_analyzer *a) {
  an_node *nodes = a->paths.nodes;
  for (size_t i = 0; i < a->n_members; i++) {
    const an_member *m = &a->members[i];
    if (m->whiteout) {
      if (nodes[m->id].dive_present) dive_remove(a, m->id);
      continue;
    }
    uint32_t e = nodes[m->id].member_entry;
    dive_add(a, m->id, e == AN_NONE ? NULL : &a->entries[e].info);
  }
}

/* ---- efficiency ---- */

static void record(ld_analyzer *a, an_node *n, int64_t size) {
  n->eff_seen = true;
  n->eff_cum += size;
  if (n->eff_min < 0 || size < n->eff_min) n->eff_min = size;
  if (++n->eff_count == 2) n->eff_order = ++a->eff_next_order;
}

static void visit_leaves(ld_analyzer *a, uint32_t stamp) {
  an_node *nodes = a->paths.nodes;
  for (size_t i = 0; i < a->n_members; i++) {
    const an_member *m = &a->members[i];
    an_node *n = &nodes[m->id];
    if (!m->whiteout) {
      if (n->child_layer == stamp) continue; /* not a leaf */
      record(a, n, n->member_entry == AN_NONE ? 0 : (int64_t) a->entries[n->member_entry].info.size);
      continue;
    }
    if (!n->dive_present) {
      n->eff_seen = true; /* dive's record is created before its lookup fails... */
      return;             /* ...and the failure ends the visit of this layer */
    }
    record(a, n, n->dive_isdir ? (int64_t) dive_subtree_size(a, m->id) : 0);
  }
}

void an_dive_layer(ld_analyzer *a, uint32_t layer) {
  uint32_t stamp = layer + 1;
  build_layer_tree(a, stamp);
  qsort_r(a->members, a->n_members, sizeof *a->members, cmp_members, &a->paths);
  if (layer == 0) {
    stack_layer(a);
    visit_leaves(a, stamp);
  } else {
    visit_leaves(a, stamp);
    stack_layer(a);
  }
}

static int cmp_inefficient(const void *va, const void *vb, void *ctx) {
  const an_node *nodes = ctx;
  const an_node *x = &nodes[*(const uint32_t *) va], *y = &nodes[*(const uint32_t *) vb];
  if (x->eff_cum != y->eff_cum) return x->eff_cum > y->eff_cum ? -1 : 1;
  return x->eff_order > y->eff_order ? -1 : x->eff_order < y->eff_order;
}

/* dive sorts its inefficient paths by cumulative size (ties in discovery order) and prints the
 * list reversed: largest first, and among equals the one discovered last first. */
void an_dive_efficiency(const an_paths *p, double *score, uint64_t *wasted,
                        ld_an_inefficient **out, size_t *n_out) {
  int64_t min_sum = 0, cum_sum = 0;
  size_t n = 0;
  for (uint32_t id = 0; id < p->n; id++) {
    const an_node *nd = &p->nodes[id];
    if (!nd->eff_seen) continue;
    min_sum += nd->eff_min;
    cum_sum += nd->eff_cum;
    if (nd->eff_count >= 2) n++;
  }
  *score = cum_sum == 0 ? 1.0 : (double) min_sum / (double) cum_sum;
  uint32_t *ids = ld_xcalloc(n ? n : 1, sizeof *ids);
  size_t k = 0;
  for (uint32_t id = 0; id < p->n; id++)
    if (p->nodes[id].eff_seen && p->nodes[id].eff_count >= 2) ids[k++] = id;
  qsort_r(ids, n, sizeof *ids, cmp_inefficient, p->nodes);
  *out = ld_xcalloc(n ? n : 1, sizeof **out);
  *wasted = 0;
  for (size_t i = 0; i < n; i++) {
    const an_node *nd = &p->nodes[ids[i]];
    (*out)[i].path = ld_xasprintf("/%s", nd->path);
    (*out)[i].count = nd->eff_count;
    (*out)[i].wasted_bytes = (uint64_t) nd->eff_cum;
    *wasted += (uint64_t) nd->eff_cum;
  }
  *n_out = n;
  free(ids);
}
