/* The prune planner: which images go, in what order, and what each frees. Pure: no I/O.
 *
 * kubelet semantics (pkg/kubelet/images/image_gc_manager.go, as documented):
 *   1. max-age: images unused for longer than max_age go first, whatever the usage;
 *   2. watermark: if usage >= high %, free (used - low% of capacity) bytes, taking unused images
 *      least recently used first, ties broken by first seen (older first), then by id so the
 *      order is total and reproducible;
 *   3. all_unused (crictl rmi --prune): every remaining candidate.
 * An image is never a candidate when in use, pinned, kept by a --keep glob, being written, or
 * first seen less than min_age ago (kubelet's MinAge: a just-pulled image is about to be used).
 *
 * Bytes freed are simulated with reference counts: deleting an image frees the layers whose
 * last remaining user it is, so a shared base layer is counted once, when its last user goes.
 */
#include <fnmatch.h>
#include <string.h>
#include "lading/disk.h"
#include "lading/reference.h"
#include "lading/util.h"

const char *ld_prune_reason_name(ld_prune_reason reason) {
  switch (reason) {
  case LD_PRUNE_REASON_WATERMARK: return "lru";
  case LD_PRUNE_REASON_MAX_AGE: return "max-age";
  case LD_PRUNE_REASON_ALL_UNUSED: return "all-unused";
  }
  return "?";
}

static bool name_matches(const char *pattern, const char *name) {
  if (!fnmatch(pattern, name, 0)) return true;
  ld_reference ref;
  if (ld_reference_parse(name, &ref, NULL) < 0) return false;
  char *familiar = ld_reference_familiar(&ref);
  bool ok = familiar && !fnmatch(pattern, familiar, 0);
  free(familiar);
  ld_reference_clear(&ref);
  return ok;
}

static bool kept(const ld_disk_image *im, const ld_prune_opts *o) {
  for (size_t k = 0; k < o->n_keep; k++) {
    for (size_t n = 0; n < im->n_names; n++)
      if (name_matches(o->keep[k], im->names[n])) return true;
    if (im->digest && !fnmatch(o->keep[k], im->digest, 0)) return true;
    if (!fnmatch(o->keep[k], im->id, 0)) return true;
  }
  return false;
}

const char *ld_prune_protection(const ld_disk_image *im, const ld_prune_opts *o, int64_t now) {
  if (im->in_use) return "in use";
  if (im->pinned) return "pinned";
  if (im->being_written) return "being written";
  if (kept(im, o)) return "kept";
  if (im->first_seen > 0 && now - im->first_seen < o->min_age) return "younger than min-age";
  return NULL;
}

typedef struct candidate {
  const ld_disk_image *im;
  size_t index;
} candidate;

static int by_lru(const void *a, const void *b) {
  const ld_disk_image *x = ((const candidate *) a)->im, *y = ((const candidate *) b)->im;
  if (x->last_used != y->last_used) return x->last_used < y->last_used ? -1 : 1;
  if (x->first_seen != y->first_seen) return x->first_seen < y->first_seen ? -1 : 1;
  return strcmp(x->id, y->id);
}

typedef struct planner {
  const ld_disk_report *r;
  ld_prune_plan *p;
  size_t *refs;   /* remaining users per layer */
  bool *chosen;   /* per image */
} planner;

static void take(planner *pl, size_t image, ld_prune_reason reason) {
  const ld_disk_image *im = &pl->r->images[image];
  uint64_t frees = 0;
  for (size_t k = 0; k < im->n_layers; k++) {
    size_t li = im->layers[k];
    if (pl->refs[li] && --pl->refs[li] == 0) {
      frees += pl->r->layers[li].size;
      pl->p->freed_layers[pl->p->n_freed_layers++] = li;
    }
  }
  pl->chosen[image] = true;
  pl->p->victims[pl->p->n_victims++] = (ld_prune_victim){image, reason, frees};
  pl->p->freed += frees;
}

static void protect(ld_prune_plan *p, size_t image, const char *why) {
  p->protected_images[p->n_protected] = image;
  p->protected_why[p->n_protected++] = why;
}

int ld_prune_plan_make(const ld_disk_report *r, const ld_prune_opts *o, ld_prune_plan *p,
                       ld_error **err) {
  memset(p, 0, sizeof *p);
  if (o->high > 0 && (o->low > o->high || o->low < 0 || o->high > 100))
    return ld_err(err, LD_EUSAGE, "watermarks: need 0 <= low (%g) <= high (%g) <= 100", o->low,
                  o->high);
  planner pl = {r, p, ld_xcalloc(r->n_layers + 1, sizeof(size_t)),
                ld_xcalloc(r->n_images + 1, sizeof(bool))};
  p->victims = ld_xcalloc(r->n_images + 1, sizeof *p->victims);
  p->protected_images = ld_xcalloc(r->n_images + 1, sizeof *p->protected_images);
  p->protected_why = ld_xcalloc(r->n_images + 1, sizeof *p->protected_why);
  p->freed_layers = ld_xcalloc(r->n_layers + 1, sizeof *p->freed_layers);
  for (size_t i = 0; i < r->n_layers; i++) pl.refs[i] = r->layers[i].n_users;

  candidate *c = ld_xcalloc(r->n_images + 1, sizeof *c);
  size_t n = 0;
  for (size_t i = 0; i < r->n_images; i++) {
    const char *why = ld_prune_protection(&r->images[i], o, r->now);
    if (why) protect(p, i, why);
    else c[n++] = (candidate){&r->images[i], i};
  }
  qsort(c, n, sizeof *c, by_lru);

  if (o->max_age > 0)
    for (size_t i = 0; i < n; i++)
      if (r->now - c[i].im->last_used > o->max_age) take(&pl, c[i].index, LD_PRUNE_REASON_MAX_AGE);

  uint64_t used = r->fs_total - r->fs_avail;
  if (o->high > 0 && r->fs_total && ld_disk_used_pct(r) >= o->high) {
    p->above_high = true;
    uint64_t low_bytes = (uint64_t) ((double) r->fs_total * o->low / 100.0);
    p->need = used > low_bytes ? used - low_bytes : 0;
    for (size_t i = 0; i < n && p->freed < p->need; i++)
      if (!pl.chosen[c[i].index]) take(&pl, c[i].index, LD_PRUNE_REASON_WATERMARK);
  }
  if (o->all_unused)
    for (size_t i = 0; i < n; i++)
      if (!pl.chosen[c[i].index]) take(&pl, c[i].index, LD_PRUNE_REASON_ALL_UNUSED);
  p->reaches_low = !p->above_high || p->freed >= p->need;

  free(c);
  free(pl.refs);
  free(pl.chosen);
  return 0;
}

void ld_prune_plan_clear(ld_prune_plan *p) {
  free(p->victims);
  free(p->protected_images);
  free(p->protected_why);
  free(p->freed_layers);
  memset(p, 0, sizeof *p);
}
