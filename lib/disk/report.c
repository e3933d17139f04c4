/* The disk report model shared by every source: images, the layers they use, and the sums.
 *
 * Sources add images and layers (layers found by id through a hash table, so a store of 3,000
 * layers builds in linear time), record "image uses layer", then call ld_disk_report_finish(),
 * which derives each layer's users and each image's size / shared / unique bytes:
 *   size   = sum of the image's layers
 *   unique = sum of the layers only this image uses (deleting it alone frees exactly that)
 *   shared = size - unique
 * Totals count every layer once. Everything here is pure arithmetic over the model; the sources
 * (store.c, cstorage.c) do the I/O.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "lading/disk.h"
#include "lading/util.h"

/* A small open-addressing map from id to index (image ids, layer ids), rebuilt on growth. */
typedef struct id_map {
  size_t *slots; /* index + 1; 0 = empty */
  size_t cap;
} id_map;

static uint64_t str_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char) *s) * 1099511628211ull;
  return h;
}

/* The public report is the first member of a private box that also holds the id maps and the
 * array capacities, so callers see a plain struct and ld_disk_report_free finds the rest. */
typedef struct report_box {
  ld_disk_report r;
  id_map layer_map, image_map;
  size_t cap_images, cap_layers;
} report_box;

static report_box *box_of(const ld_disk_report *r) { return (report_box *) r; }

static const char *layer_id(const ld_disk_report *r, size_t i) { return r->layers[i].id; }
static const char *image_id(const ld_disk_report *r, size_t i) { return r->images[i].id; }
typedef const char *(*id_of_fn)(const ld_disk_report *, size_t);

static void map_insert(id_map *m, const char *id, size_t index) {
  size_t i = str_hash(id) & (m->cap - 1);
  while (m->slots[i]) i = (i + 1) & (m->cap - 1);
  m->slots[i] = index + 1;
}

static size_t map_find(const ld_disk_report *r, const id_map *m, id_of_fn id_of, const char *id) {
  if (!m->cap) return (size_t) -1;
  for (size_t i = str_hash(id) & (m->cap - 1); m->slots[i]; i = (i + 1) & (m->cap - 1))
    if (!strcmp(id_of(r, m->slots[i] - 1), id)) return m->slots[i] - 1;
  return (size_t) -1;
}

/* Called after appending element n-1 (whose id is id). */
static void map_add(const ld_disk_report *r, id_map *m, id_of_fn id_of, size_t n, const char *id) {
  if (2 * n <= m->cap) {
    map_insert(m, id, n - 1);
    return;
  }
  free(m->slots);
  m->cap = m->cap ? 2 * m->cap : 64;
  while (2 * n > m->cap) m->cap *= 2;
  m->slots = ld_xcalloc(m->cap, sizeof *m->slots);
  for (size_t i = 0; i < n; i++) map_insert(m, id_of(r, i), i);
}

size_t ld_disk_layer_find(const ld_disk_report *r, const char *id) {
  return map_find(r, &box_of(r)->layer_map, layer_id, id);
}

size_t ld_disk_image_by_id(const ld_disk_report *r, const char *id) {
  return map_find(r, &box_of(r)->image_map, image_id, id);
}

ld_disk_report *ld_disk_report_new(ld_disk_source source, const char *root) {
  report_box *b = ld_xcalloc(1, sizeof *b);
  b->r.source = source;
  b->r.root = ld_xstrdup(root ? root : "");
  b->r.now = ld_now();
  return &b->r;
}

void ld_disk_report_free(ld_disk_report *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n_images; i++) {
    ld_disk_image *im = &r->images[i];
    free(im->id);
    free(im->digest);
    for (size_t n = 0; n < im->n_names; n++) free(im->names[n]);
    free(im->names);
    free(im->layers);
    free(im->used_by);
  }
  for (size_t i = 0; i < r->n_layers; i++) {
    free(r->layers[i].id);
    free(r->layers[i].digest);
    free(r->layers[i].kind);
    free(r->layers[i].users);
  }
  free(r->images);
  free(r->layers);
  free(r->root);
  free(r->driver);
  free(box_of(r)->layer_map.slots);
  free(box_of(r)->image_map.slots);
  free(box_of(r));
}

size_t ld_disk_add_image(ld_disk_report *r, const char *id) {
  report_box *b = box_of(r);
  if (r->n_images == b->cap_images) {
    b->cap_images = b->cap_images ? 2 * b->cap_images : 16;
    r->images = ld_xrealloc(r->images, b->cap_images * sizeof *r->images);
  }
  ld_disk_image *im = &r->images[r->n_images];
  memset(im, 0, sizeof *im);
  im->id = ld_xstrdup(id);
  r->n_images++;
  map_add(r, &b->image_map, image_id, r->n_images, id);
  return r->n_images - 1;
}

size_t ld_disk_layer_index(ld_disk_report *r, const char *id, bool *created) {
  report_box *b = box_of(r);
  size_t found = ld_disk_layer_find(r, id);
  if (created) *created = found == (size_t) -1;
  if (found != (size_t) -1) return found;
  if (r->n_layers == b->cap_layers) {
    b->cap_layers = b->cap_layers ? 2 * b->cap_layers : 64;
    r->layers = ld_xrealloc(r->layers, b->cap_layers * sizeof *r->layers);
  }
  ld_disk_layer *l = &r->layers[r->n_layers];
  memset(l, 0, sizeof *l);
  l->id = ld_xstrdup(id);
  r->n_layers++;
  map_add(r, &b->layer_map, layer_id, r->n_layers, id);
  return r->n_layers - 1;
}

void ld_disk_use(ld_disk_report *r, size_t image, size_t layer) {
  ld_disk_image *im = &r->images[image];
  for (size_t i = 0; i < im->n_layers; i++)
    if (im->layers[i] == layer) return;
  im->layers = ld_xrealloc(im->layers, (im->n_layers + 1) * sizeof *im->layers);
  im->layers[im->n_layers++] = layer;
}

static void add_user(ld_disk_layer *l, size_t image) {
  if (l->n_users && l->users[l->n_users - 1] == image) return;
  if (l->n_users == l->cap_users) {
    l->cap_users = l->cap_users ? 2 * l->cap_users : 2;
    l->users = ld_xrealloc(l->users, l->cap_users * sizeof *l->users);
  }
  l->users[l->n_users++] = image;
}

void ld_disk_report_finish(ld_disk_report *r) {
  for (size_t i = 0; i < r->n_layers; i++) r->layers[i].n_users = 0;
  for (size_t i = 0; i < r->n_images; i++) /* ascending image order keeps users sorted */
    for (size_t k = 0; k < r->images[i].n_layers; k++)
      add_user(&r->layers[r->images[i].layers[k]], i);
  r->images_bytes = r->shared_bytes = r->unique_bytes = 0;
  for (size_t i = 0; i < r->n_layers; i++) {
    ld_disk_layer *l = &r->layers[i];
    if (!l->n_users) continue;
    r->images_bytes += l->size;
    if (l->n_users > 1) r->shared_bytes += l->size;
    else r->unique_bytes += l->size;
  }
  for (size_t i = 0; i < r->n_images; i++) {
    ld_disk_image *im = &r->images[i];
    im->size = im->shared = im->unique = 0;
    for (size_t k = 0; k < im->n_layers; k++) {
      const ld_disk_layer *l = &r->layers[im->layers[k]];
      im->size += l->size;
      if (l->n_users == 1) im->unique += l->size;
      else im->shared += l->size;
    }
  }
}

double ld_disk_used_pct(const ld_disk_report *r) {
  if (!r->fs_total) return 0;
  return 100.0 * (double) (r->fs_total - r->fs_avail) / (double) r->fs_total;
}

/* ---- JSON ---- */

static json_t *time_json(int64_t t) {
  char buf[32];
  return t > 0 ? json_string(ld_time_rfc3339(t, buf, sizeof buf)) : json_null();
}

static json_t *image_json(const ld_disk_report *r, const ld_disk_image *im) {
  json_t *o = json_object();
  json_t *names = json_array();
  for (size_t i = 0; i < im->n_names; i++) json_array_append_new(names, json_string(im->names[i]));
  json_object_set_new(o, "id", json_string(im->id));
  json_object_set_new(o, "digest", im->digest ? json_string(im->digest) : json_null());
  json_object_set_new(o, "names", names);
  json_object_set_new(o, "size", json_integer((json_int_t) im->size));
  json_object_set_new(o, "shared", json_integer((json_int_t) im->shared));
  json_object_set_new(o, "unique", json_integer((json_int_t) im->unique));
  json_object_set_new(o, "layers", json_integer((json_int_t) im->n_fs_layers));
  json_object_set_new(o, "created", time_json(im->created));
  json_object_set_new(o, "first_seen", time_json(im->first_seen));
  json_object_set_new(o, "last_used", time_json(im->last_used));
  json_object_set_new(o, "in_use", json_boolean(im->in_use));
  json_object_set_new(o, "used_by", im->used_by ? json_string(im->used_by) : json_null());
  json_object_set_new(o, "pinned", json_boolean(im->pinned));
  json_object_set_new(o, "being_written", json_boolean(im->being_written));
  json_object_set_new(o, "broken", json_boolean(im->broken));
  (void) r;
  return o;
}

static json_t *layer_json(const ld_disk_report *r, const ld_disk_layer *l) {
  json_t *o = json_object();
  json_t *users = json_array();
  for (size_t i = 0; i < l->n_users; i++) {
    const ld_disk_image *im = &r->images[l->users[i]];
    json_array_append_new(users, json_string(im->n_names ? im->names[0] : im->id));
  }
  json_object_set_new(o, "id", json_string(l->id));
  json_object_set_new(o, "digest", l->digest ? json_string(l->digest) : json_null());
  json_object_set_new(o, "kind", json_string(l->kind ? l->kind : "layer"));
  json_object_set_new(o, "size", json_integer((json_int_t) l->size));
  json_object_set_new(o, "images", users);
  return o;
}

json_t *ld_disk_report_json(const ld_disk_report *r, bool with_layers) {
  json_t *o = json_object();
  json_object_set_new(o, "source",
                      json_string(r->source == LD_DISK_STORE ? "store" : "containers-storage"));
  json_object_set_new(o, "root", json_string(r->root));
  if (r->driver) json_object_set_new(o, "driver", json_string(r->driver));
  json_t *images = json_array();
  for (size_t i = 0; i < r->n_images; i++) json_array_append_new(images, image_json(r, &r->images[i]));
  json_object_set_new(o, "images", images);
  if (with_layers) {
    json_t *layers = json_array();
    for (size_t i = 0; i < r->n_layers; i++)
      if (r->layers[i].n_users) json_array_append_new(layers, layer_json(r, &r->layers[i]));
    json_object_set_new(o, "layers", layers);
  }
  json_t *t = json_object();
  json_object_set_new(t, "images", json_integer((json_int_t) r->n_images));
  json_object_set_new(t, "size", json_integer((json_int_t) r->images_bytes));
  json_object_set_new(t, "shared", json_integer((json_int_t) r->shared_bytes));
  json_object_set_new(t, "unique", json_integer((json_int_t) r->unique_bytes));
  json_object_set_new(t, "containers", json_integer((json_int_t) r->containers_bytes));
  json_object_set_new(t, "unreferenced", json_integer((json_int_t) r->unreferenced_bytes));
  json_object_set_new(o, "totals", t);
  json_t *fs = json_object();
  json_object_set_new(fs, "total", json_integer((json_int_t) r->fs_total));
  json_object_set_new(fs, "available", json_integer((json_int_t) r->fs_avail));
  json_object_set_new(fs, "used", json_integer((json_int_t) (r->fs_total - r->fs_avail)));
  json_object_set_new(fs, "used_pct", json_real(ld_disk_used_pct(r)));
  json_object_set_new(o, "filesystem", fs);
  return o;
}

/* ---- time ---- */

int ld_disk_parse_time(const char *s, int64_t *out) {
  struct tm tm = {0};
  const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
  if (!p) return -1;
  if (*p == '.')
    for (p++; *p >= '0' && *p <= '9'; p++) {}
  int64_t offset = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int hh, mm;
    if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) return -1;
    offset = (hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
    p += 6;
  } else {
    return -1;
  }
  if (*p) return -1;
  *out = (int64_t) timegm(&tm) - offset;
  return 0;
}

/* ---- du ---- */

/* Inodes with more than one link already counted, so a hard-linked file counts once. */
typedef struct seen_set {
  uint64_t *keys; /* dev ^ ino mixed, 0 = empty */
  size_t cap, n;
} seen_set;

static bool seen_add(seen_set *s, dev_t dev, ino_t ino) {
  if (2 * (s->n + 1) > s->cap) {
    seen_set g = {ld_xcalloc(s->cap ? 2 * s->cap : 256, sizeof(uint64_t)), s->cap ? 2 * s->cap : 256, 0};
    for (size_t i = 0; i < s->cap; i++)
      if (s->keys[i]) {
        size_t j = s->keys[i] & (g.cap - 1);
        while (g.keys[j]) j = (j + 1) & (g.cap - 1);
        g.keys[j] = s->keys[i];
        g.n++;
      }
    free(s->keys);
    *s = g;
  }
  uint64_t k = ((uint64_t) ino * 0x9E3779B97F4A7C15ull) ^ (uint64_t) dev;
  if (!k) k = 1;
  size_t j = k & (s->cap - 1);
  for (; s->keys[j]; j = (j + 1) & (s->cap - 1))
    if (s->keys[j] == k) return false;
  s->keys[j] = k;
  s->n++;
  return true;
}

static int du_dir(int dfd, dev_t dev, seen_set *seen, uint64_t *bytes, int depth) {
  if (depth > 4096) return 0;
  DIR *d = fdopendir(dfd);
  if (!d) {
    close(dfd);
    return -1;
  }
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
    if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen_add(seen, st.st_dev, st.st_ino)) continue;
    *bytes += (uint64_t) st.st_blocks * 512;
    if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
      int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) du_dir(sub, dev, seen, bytes, depth + 1);
    }
  }
  closedir(d);
  return 0;
}

int ld_disk_du(const char *path, uint64_t *bytes, ld_error **err) {
  struct stat st;
  *bytes = 0;
  if (lstat(path, &st) < 0) return ld_err_sys(err, errno, "%s", path);
  *bytes = (uint64_t) st.st_blocks * 512;
  if (!S_ISDIR(st.st_mode)) return 0;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ld_err_sys(err, errno, "%s", path);
  seen_set seen = {0};
  du_dir(fd, st.st_dev, &seen, bytes, 0);
  free(seen.keys);
  return 0;
}
