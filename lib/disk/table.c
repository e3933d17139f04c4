/* Human tables for df and prune: one line per image or layer, sizes human-readable on a
 * terminal and exact bytes otherwise (so `lading df | sort -k3 -n` works), times relative
 * ("3h ago"). Column order and widths are fixed; --format json is the stable interface. */
#include <stdlib.h>
#include <string.h>
#include "lading/disk.h"
#include "lading/reference.h"
#include "lading/util.h"

const char *ld_disk_size_str(uint64_t bytes, bool human, char *buf, size_t len) {
  if (human) return ld_human_size(bytes, buf, len);
  snprintf(buf, len, "%llu", (unsigned long long) bytes);
  return buf;
}

const char *ld_disk_ago(int64_t t, int64_t now, char *buf, size_t len) {
  if (t <= 0) return "-";
  int64_t d = now - t;
  if (d < 0) d = 0;
  if (d < 120) snprintf(buf, len, "%llds ago", (long long) d);
  else if (d < 7200) snprintf(buf, len, "%lldm ago", (long long) (d / 60));
  else if (d < 2 * 86400) snprintf(buf, len, "%lldh ago", (long long) (d / 3600));
  else snprintf(buf, len, "%lldd ago", (long long) (d / 86400));
  return buf;
}

char *ld_disk_image_label(const ld_disk_image *im) {
  if (!im->n_names) return ld_xasprintf("<none>@%.19s", im->digest ? im->digest : im->id);
  ld_reference ref;
  char *label = NULL;
  if (ld_reference_parse(im->names[0], &ref, NULL) == 0) {
    label = ld_reference_familiar(&ref);
    ld_reference_clear(&ref);
  }
  if (!label) label = ld_xstrdup(im->names[0]);
  if (im->n_names > 1) {
    char *more = ld_xasprintf("%s (+%zu)", label, im->n_names - 1);
    free(label);
    label = more;
  }
  return label;
}

const char *ld_disk_image_status(const ld_disk_image *im) {
  if (im->broken) return "broken";
  if (im->in_use) return "in use";
  if (im->pinned) return "pinned";
  if (im->being_written) return "writing";
  return "-";
}

static int by_unique_desc(const void *a, const void *b, void *ctx) {
  const ld_disk_report *r = ctx;
  const ld_disk_image *x = &r->images[*(const size_t *) a], *y = &r->images[*(const size_t *) b];
  if (x->unique != y->unique) return x->unique > y->unique ? -1 : 1;
  if (x->size != y->size) return x->size > y->size ? -1 : 1;
  return strcmp(x->id, y->id);
}

static const char *short_id(const char *id, char *buf) {
  const char *hex = strchr(id, ':');
  snprintf(buf, 13, "%s", hex ? hex + 1 : id);
  return buf;
}

void ld_disk_print_images(FILE *f, const ld_disk_report *r, bool human) {
  size_t *order = ld_xcalloc(r->n_images + 1, sizeof *order);
  for (size_t i = 0; i < r->n_images; i++) order[i] = i;
  qsort_r(order, r->n_images, sizeof *order, by_unique_desc, (void *) r);
  fprintf(f, "%-40s %-12s %10s %10s %10s %6s %-9s %-9s %s\n", "IMAGE", "ID", "SIZE", "SHARED",
          "UNIQUE", "LAYERS", "CREATED", "LAST USED", "STATUS");
  for (size_t k = 0; k < r->n_images; k++) {
    const ld_disk_image *im = &r->images[order[k]];
    char s1[32], s2[32], s3[32], t1[32], t2[32], id[16];
    char *label = ld_disk_image_label(im);
    fprintf(f, "%-40s %-12s %10s %10s %10s %6zu %-9s %-9s %s%s%s\n", label,
            short_id(im->digest ? im->digest : im->id, id),
            ld_disk_size_str(im->size, human, s1, sizeof s1),
            ld_disk_size_str(im->shared, human, s2, sizeof s2),
            ld_disk_size_str(im->unique, human, s3, sizeof s3), im->n_fs_layers,
            ld_disk_ago(im->created, r->now, t1, sizeof t1),
            ld_disk_ago(im->last_used, r->now, t2, sizeof t2), ld_disk_image_status(im),
            im->used_by ? " by " : "", im->used_by ? im->used_by : "");
    free(label);
  }
  free(order);
}

void ld_disk_print_totals(FILE *f, const ld_disk_report *r, bool human, double high, double low) {
  char s1[32], s2[32], s3[32], s4[32], s5[32];
  fprintf(f, "\nTotal: %zu image%s, %s on disk (%s shared, %s unique)", r->n_images,
          r->n_images == 1 ? "" : "s",
          ld_disk_size_str(r->images_bytes, human, s1, sizeof s1),
          ld_disk_size_str(r->shared_bytes, human, s2, sizeof s2),
          ld_disk_size_str(r->unique_bytes, human, s3, sizeof s3));
  if (r->source == LD_DISK_CSTORAGE)
    fprintf(f, "; containers %s", ld_disk_size_str(r->containers_bytes, human, s4, sizeof s4));
  else if (r->unreferenced_bytes)
    fprintf(f, "; unreferenced blobs %s (lading gc)",
            ld_disk_size_str(r->unreferenced_bytes, human, s4, sizeof s4));
  fputc('\n', f);
  if (!r->fs_total) return;
  double pct = ld_disk_used_pct(r);
  fprintf(f, "File system: %s used of %s (%.1f%%), high %g%%, low %g%%: %s\n",
          ld_disk_size_str(r->fs_total - r->fs_avail, human, s4, sizeof s4),
          ld_disk_size_str(r->fs_total, human, s5, sizeof s5), pct, high, low,
          pct >= high ? "ABOVE HIGH, prune would free space" : pct > low ? "between low and high" : "ok");
}

static int by_users_then_size(const void *a, const void *b, void *ctx) {
  const ld_disk_report *r = ctx;
  const ld_disk_layer *x = &r->layers[*(const size_t *) a], *y = &r->layers[*(const size_t *) b];
  if (x->n_users != y->n_users) return x->n_users > y->n_users ? -1 : 1;
  if (x->size != y->size) return x->size > y->size ? -1 : 1;
  return strcmp(x->id, y->id);
}

void ld_disk_print_layers(FILE *f, const ld_disk_report *r, bool human) {
  size_t *order = ld_xcalloc(r->n_layers + 1, sizeof *order), n = 0;
  for (size_t i = 0; i < r->n_layers; i++)
    if (r->layers[i].n_users && r->layers[i].kind && !strcmp(r->layers[i].kind, "layer"))
      order[n++] = i;
  qsort_r(order, n, sizeof *order, by_users_then_size, (void *) r);
  fprintf(f, "%-12s %10s %6s %10s  %s\n", "LAYER", "SIZE", "IMAGES", "SAVED", "USED BY");
  for (size_t k = 0; k < n; k++) {
    const ld_disk_layer *l = &r->layers[order[k]];
    char s1[32], s2[32], id[16];
    /* saved: what sharing spares compared with one copy per image */
    fprintf(f, "%-12s %10s %6zu %10s  ", short_id(l->digest ? l->digest : l->id, id),
            ld_disk_size_str(l->size, human, s1, sizeof s1), l->n_users,
            ld_disk_size_str(l->size * (l->n_users - 1), human, s2, sizeof s2));
    for (size_t u = 0; u < l->n_users; u++) {
      char *label = ld_disk_image_label(&r->images[l->users[u]]);
      fprintf(f, "%s%s", u ? ", " : "", label);
      free(label);
    }
    fputc('\n', f);
  }
  free(order);
}
