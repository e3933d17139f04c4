/* Cataloging an image: layers read once, in order, filtered, merged, cached by diff_id.
 *
 * Reading. Each layer is streamed through the layer reader (decompress + tar); an entry is kept
 * only when ld_cat_classify() says a cataloger wants it (os-release, dpkg status, rpmdb, jars,
 * ...), and a kept file is parsed at once into a small JSON "node":
 *     {"kind": "dpkg", "pkgs": [...], "owned": [...], "text": "..."}
 * Big inputs (rpmdb.sqlite, BDB Packages, large jars) are spooled to a temp file, never held
 * whole in memory; everything else is small. Whiteouts, opaque directories and the symlinks
 * the resolver may need (file-level links of cataloged paths, directory links near the root)
 * are recorded too. That per-layer result depends only on the layer's bytes, so it is cached
 * in meta.db (table scan_layers, keyed by diff_id + cache version): a second image on the same
 * base reads only the layers it does not share.
 *
 * Merging. Results are applied in layer order to one map path -> node: first the layer's
 * whiteouts and opaque directories remove what lower layers had, then its nodes replace what
 * is at their paths (OCI image-spec "Applying changesets"). A package of a replaced node keeps
 * the layer of the node it replaced when that node had the same package at the same version:
 * that is how each package records the layer that introduced it.
 *
 * Cataloging. The OS comes from etc/os-release (then usr/lib/os-release, *-release files),
 * each path resolved through the image's own symlinks, inside the image root (".." stops at
 * "/", absolute targets restart at the image root, 40 hops at most). Language packages whose
 * file an OS package owns (dpkg md5sums, apk R: lines, rpm file lists) are dropped: the OS
 * package reports them.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/layer.h"
#include "lading/log.h"
#include "lading/scan.h"
#include "lading/util.h"
#include "scan/scan_priv.h"

#define SCAN_CACHE_VERSION 2
#define SMALL_FILE_MAX (64u << 20)   /* dpkg status and friends */
#define SPOOL_ABOVE (8u << 20)       /* jars larger than this go through a temp file */
#define SPOOL_MAX (4ull << 30)

void ld_catalog_clear(ld_catalog *c) {
  ld_os_info_clear(&c->os);
  ld_pkglist_clear(&c->pkgs);
  for (size_t i = 0; i < c->n_layers; i++) free(c->layers[i]);
  free(c->layers);
  free(c->image_name), free(c->image_digest);
  memset(c, 0, sizeof *c);
}

/* ---- reading one layer ------------------------------------------------------------------- */

static int read_small(ld_layer_reader *l, size_t max, const char *path, char **out, size_t *len,
                      ld_error **err) {
  ld_buf b = {0};
  char chunk[65536];
  for (;;) {
    ssize_t n = ld_layer_read_data(l, chunk, sizeof chunk, err);
    if (n < 0) {
      ld_buf_free(&b);
      return -1;
    }
    if (n == 0) break;
    if (b.len + (size_t) n > max) {
      ld_buf_free(&b);
      return ld_err(err, EFBIG, "%s is larger than %zu bytes", path, max);
    }
    ld_buf_append(&b, chunk, (size_t) n);
  }
  ld_buf_append(&b, "", 1);
  *len = b.len - 1;
  *out = ld_buf_steal(&b);
  return 0;
}

/* Streams the entry into an unlinked-on-close temp file; returns its path in *tmp. */
static int spool(ld_layer_reader *l, const char *path, char **tmp, ld_error **err) {
  const char *dir = getenv("TMPDIR");
  char *t = ld_xasprintf("%s/lading-scan-XXXXXX", dir && *dir ? dir : "/tmp");
  int fd = mkstemp(t);
  if (fd < 0) {
    int e = errno;
    free(t);
    return ld_err_sys(err, e, "temp file for %s", path);
  }
  char chunk[65536];
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ld_layer_read_data(l, chunk, sizeof chunk, err);
    if (n < 0 || (n > 0 && ((total += (uint64_t) n) > SPOOL_MAX || ld_write_all(fd, chunk, (size_t) n) < 0))) {
      if (n >= 0) ld_err(err, EIO, "spooling %s to %s failed", path, t);
      close(fd), unlink(t), free(t);
      return -1;
    }
    if (n == 0) break;
  }
  close(fd);
  *tmp = t;
  return 0;
}

static void spool_done(char *tmp) {
  if (tmp) unlink(tmp);
  free(tmp);
}

static json_t *pkgs_to_json(const ld_pkglist *l) {
  json_t *a = json_array();
  for (size_t i = 0; i < l->n; i++) json_array_append_new(a, ld_package_to_json(&l->v[i]));
  return a;
}

static json_t *owned_to_json(const ld_strlist *files) {
  json_t *a = json_array();
  for (size_t i = 0; i < files->n; i++)
    if (ld_cat_is_language_path(files->v[i])) json_array_append_new(a, json_string(files->v[i]));
  return a;
}

static int read_rpm_bdb(const char *file, const char *path, ld_pkglist *pk, ld_strlist *files,
                        ld_error **err) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ld_err_sys(err, errno, "%s", path);
  struct stat sb;
  if (fstat(fd, &sb) < 0 || sb.st_size == 0) {
    close(fd);
    return ld_err(err, LD_EFORMAT, "%s: empty Berkeley DB", path);
  }
  void *m = mmap(NULL, (size_t) sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return ld_err_sys(err, errno, "%s: mmap", path);
  int r = ld_rpmdb_bdb_parse(m, (size_t) sb.st_size, path, pk, files, err);
  munmap(m, (size_t) sb.st_size);
  return r;
}

/* Parses one kept file into its node. A file a cataloger cannot parse yields a node without
 * packages (and a warning): one broken jar must not hide the rest of the image. */
static int catalog_entry(ld_layer_reader *l, const char *path, ld_cat_kind kind, int64_t size,
                         json_t **node_out, ld_error **err) {
  json_t *node = json_object();
  json_object_set_new(node, "kind", json_string(ld_cat_kind_name(kind)));
  ld_pkglist pk = {0};
  ld_strlist files = {0};
  char *buf = NULL, *tmp = NULL;
  size_t len = 0;
  ld_error *perr = NULL;
  int r = 0;
  bool spooled = kind == LD_CAT_RPM_SQLITE || kind == LD_CAT_RPM_BDB ||
                 (kind == LD_CAT_JAVA && size > (int64_t) SPOOL_ABOVE);
  if (spooled) r = spool(l, path, &tmp, err);
  else r = read_small(l, kind == LD_CAT_OS_FILE ? 65536 : SMALL_FILE_MAX, path, &buf, &len, &perr);
  if (r < 0 && (spooled || !perr || perr->code != EFBIG)) {
    /* a temp-file failure is ours, and a read failure means the layer stream is broken (bad
     * compression, digest or size): both fail the scan; only an oversized file is skipped */
    if (err && !*err) *err = perr;
    else ld_error_free(perr);
    json_decref(node);
    return -1;
  }
  if (r == 0) {
    switch (kind) {
    case LD_CAT_OS_FILE: json_object_set_new(node, "text", json_stringn(buf, len)); break;
    case LD_CAT_DPKG_STATUS: r = ld_dpkg_status_parse(buf, len, path, &pk, &perr); break;
    case LD_CAT_DPKG_FILES: r = ld_dpkg_md5sums_parse(buf, len, &files); break;
    case LD_CAT_APK: r = ld_apk_installed_parse(buf, len, path, &pk, &files, &perr); break;
    case LD_CAT_RPM_SQLITE: r = ld_rpmdb_sqlite_read(tmp, path, &pk, &files, &perr); break;
    case LD_CAT_RPM_BDB: r = read_rpm_bdb(tmp, path, &pk, &files, &perr); break;
    case LD_CAT_JAVA:
      r = tmp ? ld_java_archive_read(tmp, path, &pk, &perr) : ld_java_archive_read_mem(buf, len, path, &pk, &perr);
      break;
    case LD_CAT_PYTHON: r = ld_python_metadata_parse(buf, len, path, &pk, &perr); break;
    case LD_CAT_NPM: r = ld_npm_package_json_parse(buf, len, path, &pk, &perr); break;
    default: break;
    }
  }
  if (perr) {
    ld_warn("scan: skipping %s: %s", path, perr->msg);
    ld_error_free(perr);
  }
  if (pk.n) json_object_set_new(node, "pkgs", pkgs_to_json(&pk));
  json_t *owned = owned_to_json(&files);
  if (json_array_size(owned)) json_object_set_new(node, "owned", owned);
  else json_decref(owned);
  ld_pkglist_clear(&pk);
  ld_strlist_clear(&files);
  free(buf);
  spool_done(tmp);
  *node_out = node;
  return 0;
}

/* Symlinks the resolver may follow: links at cataloged paths, and directory links in the
 * first three levels (lib -> usr/lib, var/lib/rpm -> ../../usr/lib/sysimage/rpm). */
static bool keep_symlink(const char *path) {
  int depth = 0;
  for (const char *p = path; *p; p++) depth += *p == '/';
  return depth < 3 || ld_cat_classify(path) != LD_CAT_NONE;
}

static int read_layer(ld_image_src *src, const ld_descriptor *d, size_t index, json_t **out,
                      char diff_id[LD_DIGEST_MAX], uint64_t *usize, ld_error **err) {
  ld_reader *blob = NULL;
  if (src->open_blob(src, d, &blob, err) < 0) return -1;
  char *what = ld_xasprintf("layer %zu %s", index + 1, d->digest);
  ld_layer_reader *l = NULL;
  ld_layer_opts opts;
  char known[LD_DIGEST_MAX];
  ld_image_layer_opts(src, d, &opts, known); /* store: verified on ingest, diff_id known */
  if (ld_layer_open_ex(blob, d->media_type, d->digest, what, &opts, &l, err) < 0) {
    free(what);
    return -1;
  }
  json_t *res = json_pack("{s:[],s:[],s:[],s:{},s:{}}", "wh", "opq", "dirs", "links", "files");
  json_t *files = json_object_get(res, "files"), *links = json_object_get(res, "links");
  int r = 0;
  ld_layer_entry e;
  while ((r = ld_layer_next(l, &e, err)) == 1) {
    if (e.whiteout) {
      json_array_append_new(json_object_get(res, "wh"), json_string(e.path));
      continue;
    }
    if (e.opaque) {
      json_array_append_new(json_object_get(res, "opq"), json_string(e.path));
      continue;
    }
    /* the same path twice in one tar: the later entry wins */
    json_object_del(files, e.path);
    json_object_del(links, e.path);
    const char *hl = archive_entry_hardlink(e.ae);
    mode_t type = archive_entry_filetype(e.ae);
    if (hl) {
      json_t *src_node = json_object_get(files, hl);
      if (src_node) json_object_set(files, e.path, src_node);
    } else if (type == AE_IFDIR) {
      /* a real directory where a lower layer had a (kept) symlink replaces it */
      if (keep_symlink(e.path)) json_array_append_new(json_object_get(res, "dirs"), json_string(e.path));
    } else if (type == AE_IFLNK) {
      const char *target = archive_entry_symlink(e.ae);
      if (target && keep_symlink(e.path)) json_object_set_new(links, e.path, json_string(target));
    } else if (type == AE_IFREG) {
      ld_cat_kind kind = ld_cat_classify(e.path);
      if (kind == LD_CAT_NONE) continue;
      json_t *node = NULL;
      if (catalog_entry(l, e.path, kind, archive_entry_size(e.ae), &node, err) < 0) {
        r = -1;
        break;
      }
      json_object_set_new(files, e.path, node);
    }
  }
  if (r == 0) r = ld_layer_finish(l, diff_id, usize, err);
  ld_layer_close(l);
  if (r == 0 && !opts.known_diff_id) ld_image_layer_learned(src, d, diff_id, *usize);
  free(what);
  if (r < 0) {
    json_decref(res);
    return -1;
  }
  *out = res;
  return 0;
}

/* ---- cache ------------------------------------------------------------------------------- */

static void cache_init(sqlite3 *meta) {
  sqlite3_exec(meta,
               "CREATE TABLE IF NOT EXISTS scan_layers(diff_id TEXT PRIMARY KEY, version INTEGER"
               " NOT NULL, result TEXT NOT NULL, created INTEGER NOT NULL)", NULL, NULL, NULL);
}

static json_t *cache_get(sqlite3 *meta, const char *diff_id) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(meta, "SELECT result FROM scan_layers WHERE diff_id = ? AND version = ?", -1, &st, NULL) != SQLITE_OK)
    return NULL;
  sqlite3_bind_text(st, 1, diff_id, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, SCAN_CACHE_VERSION);
  json_t *j = NULL;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const char *s = (const char *) sqlite3_column_text(st, 0);
    if (s) j = json_loads(s, 0, NULL);
  }
  sqlite3_finalize(st);
  return j;
}

static void cache_put(sqlite3 *meta, const char *diff_id, const json_t *res) {
  char *s = json_dumps(res, JSON_COMPACT);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(meta, "INSERT OR REPLACE INTO scan_layers VALUES (?, ?, ?, ?)", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, diff_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, SCAN_CACHE_VERSION);
    sqlite3_bind_text(st, 3, s, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, ld_now());
    if (sqlite3_step(st) != SQLITE_DONE) ld_warn("scan: cannot cache layer %s: %s", diff_id, sqlite3_errmsg(meta));
    sqlite3_finalize(st);
  }
  free(s);
}

/* ---- merging ----------------------------------------------------------------------------- */

static void remove_tree(json_t *map, const char *path, bool self) {
  if (self) json_object_del(map, path);
  size_t n = strlen(path);
  const char *k;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(map, tmp, k, v) {
    if (!strncmp(k, path, n) && k[n] == '/') json_object_del(map, k);
  }
}

static bool same_pkg(const json_t *a, const json_t *b) {
  const char *ka[] = {"type", "name", "version"};
  for (size_t i = 0; i < LD_ARRAY_SIZE(ka); i++) {
    const char *x = ld_json_str(a, ka[i]), *y = ld_json_str(b, ka[i]);
    if (!x || !y || strcmp(x, y)) return false;
  }
  return true;
}

/* Gives each package of node the layer that introduced it (see the header comment). */
static void attribute_layers(json_t *node, const json_t *prev, size_t layer) {
  json_t *pkgs = json_object_get(node, "pkgs"), *old = prev ? json_object_get(prev, "pkgs") : NULL;
  size_t i, j;
  json_t *p, *q;
  json_array_foreach(pkgs, i, p) {
    json_int_t introduced = (json_int_t) layer;
    json_array_foreach(old, j, q) {
      if (same_pkg(p, q)) {
        introduced = ld_json_int(q, "layer", (int64_t) layer);
        break;
      }
    }
    json_object_set_new(p, "layer", json_integer(introduced));
  }
}

static void apply_layer(json_t *merged, json_t *links, const json_t *res, size_t layer) {
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(res, "wh"), i, v) {
    remove_tree(merged, json_string_value(v), true);
    remove_tree(links, json_string_value(v), true);
  }
  json_array_foreach(json_object_get(res, "opq"), i, v) {
    remove_tree(merged, json_string_value(v), false);
    remove_tree(links, json_string_value(v), false);
  }
  json_array_foreach(json_object_get(res, "dirs"), i, v) json_object_del(links, json_string_value(v));
  const char *path;
  json_object_foreach(json_object_get(res, "links"), path, v) {
    json_object_del(merged, path);
    json_object_set(links, path, v);
  }
  json_object_foreach(json_object_get(res, "files"), path, v) {
    json_t *node = json_deep_copy(v);
    attribute_layers(node, json_object_get(merged, path), layer);
    json_object_del(links, path);
    json_object_set_new(merged, path, node);
  }
}

/* ---- symlink resolution inside the image root -------------------------------------------- */

static void push_components(ld_strlist *stack, const char *path) {
  char *dup = ld_xstrdup(path);
  for (char *save = NULL, *t = strtok_r(dup, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
    if (!strcmp(t, ".")) continue;
    if (!strcmp(t, "..")) {
      if (stack->n) free(stack->v[--stack->n]);
      continue;
    }
    ld_strlist_add(stack, t);
  }
  free(dup);
}

static char *join_components(const ld_strlist *s, size_t n) {
  ld_buf b = {0};
  for (size_t i = 0; i < n; i++) {
    if (i) ld_buf_append(&b, "/", 1);
    ld_buf_puts(&b, s->v[i]);
  }
  ld_buf_append(&b, "", 0);
  return ld_buf_steal(&b);
}

/* Resolves path (relative to the image root) through the image's symlinks. */
char *ld_scan_resolve(const json_t *links, const char *path) {
  char *cur = ld_xstrdup(path);
  for (int hops = 0; hops < 40; hops++) {
    ld_strlist comps = {0};
    push_components(&comps, cur);
    bool followed = false;
    for (size_t i = 1; i <= comps.n && !followed; i++) {
      char *prefix = join_components(&comps, i);
      const char *target = ld_json_str(links, prefix);
      if (target) {
        ld_strlist base = {0};
        if (target[0] != '/') push_components(&base, prefix), free(base.v[--base.n]);
        push_components(&base, target);
        for (size_t k = i; k < comps.n; k++) ld_strlist_add(&base, comps.v[k]);
        free(cur);
        cur = join_components(&base, base.n);
        ld_strlist_clear(&base);
        followed = true;
      }
      free(prefix);
    }
    if (!followed) {
      free(cur);
      cur = join_components(&comps, comps.n);
      ld_strlist_clear(&comps);
      return cur;
    }
    ld_strlist_clear(&comps);
  }
  return cur; /* a loop: give the path as it stands; lookups will simply miss */
}

/* ---- cataloging the merged tree ---------------------------------------------------------- */

static const char *os_text(const json_t *merged, const json_t *links, const char *path, char **phys) {
  *phys = ld_scan_resolve(links, path);
  return ld_json_str(json_object_get(merged, *phys), "text");
}

static char *trimmed(const char *s) {
  size_t n = strcspn(s, "\r\n");
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  return ld_xstrndup(s, n);
}

static void detect_os(const json_t *merged, const json_t *links, ld_os_info *os) {
  char *phys = NULL;
  const char *t = os_text(merged, links, "etc/os-release", &phys);
  free(phys);
  if (!t) {
    t = os_text(merged, links, "usr/lib/os-release", &phys);
    free(phys);
  }
  if (t && ld_os_release_parse(t, strlen(t), os) == 0 && os->version_id) return;
  if ((t = os_text(merged, links, "etc/alpine-release", &phys))) {
    free(os->id), free(os->version_id);
    os->id = ld_xstrdup("alpine");
    os->version_id = trimmed(t);
  }
  free(phys);
  if (!os->id || !strcmp(os->id, "debian")) {
    if ((t = os_text(merged, links, "etc/debian_version", &phys))) {
      char *v = trimmed(t);
      const char *code = ld_debian_codename_version(v);
      free(os->id), free(os->version_id);
      os->id = ld_xstrdup("debian");
      os->version_id = code ? ld_xstrdup(code) : ld_xstrdup(v);
      free(v);
    }
    free(phys);
  }
  if (!os->id || !os->version_id) {
    if ((t = os_text(merged, links, "etc/redhat-release", &phys))) {
      /* "Red Hat Enterprise Linux release 9.3 (Plow)" */
      const char *r = strstr(t, "release ");
      free(os->id), free(os->version_id);
      os->id = ld_xstrdup(strstr(t, "CentOS") ? "centos" : "rhel");
      os->version_id = r ? ld_xstrndup(r + 8, strspn(r + 8, "0123456789.")) : ld_xstrdup("");
      if (!os->pretty) os->pretty = trimmed(t);
    }
    free(phys);
  }
  if (!os->id) os->id = ld_xstrdup("");
}

static bool is_language_kind(const char *kind) {
  return !strcmp(kind, "java") || !strcmp(kind, "python") || !strcmp(kind, "npm");
}

static bool owned_by_os(const json_t *owned, const char *path) {
  if (json_object_get(owned, path)) return true;
  const char *slash = strrchr(path, '/'); /* a dist-info / egg-info directory owned as a whole */
  if (slash) {
    char *dir = ld_xstrndup(path, (size_t) (slash - path));
    bool hit = json_object_get(owned, dir) != NULL;
    free(dir);
    if (hit) return true;
  }
  return false;
}

static int pkg_cmp(const void *x, const void *y) {
  const ld_package *a = x, *b = y;
  int r = strcmp(a->type, b->type);
  if (!r) r = strcmp(a->name, b->name);
  if (!r) r = strcmp(a->version, b->version);
  if (!r) r = strcmp(a->path ? a->path : "", b->path ? b->path : "");
  return r;
}

static void collect_packages(const json_t *merged, ld_catalog *cat) {
  json_t *owned = json_object();
  const char *path;
  json_t *node;
  json_object_foreach((json_t *) merged, path, node) {
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(node, "owned"), i, o) json_object_set_new(owned, json_string_value(o), json_true());
  }
  json_object_foreach((json_t *) merged, path, node) {
    const char *kind = ld_json_str(node, "kind");
    if (!kind || (is_language_kind(kind) && owned_by_os(owned, path))) continue;
    size_t i;
    json_t *pj;
    json_array_foreach(json_object_get(node, "pkgs"), i, pj) {
      ld_package p;
      if (ld_package_from_json(pj, &p) < 0) continue;
      if (p.layer >= 0 && (size_t) p.layer < cat->n_layers) p.layer_diff_id = ld_xstrdup(cat->layers[p.layer]);
      *ld_pkglist_add(&cat->pkgs) = p;
    }
  }
  json_decref(owned);
  if (cat->pkgs.n) qsort(cat->pkgs.v, cat->pkgs.n, sizeof *cat->pkgs.v, pkg_cmp);
}

int ld_scan_image(ld_image_src *src, sqlite3 *meta, ld_catalog *out, ld_error **err) {
  memset(out, 0, sizeof *out);
  ld_image img;
  if (ld_image_load(src, NULL, &img, err) < 0) return -1;
  if (img.config.n_diff_ids != img.manifest.n_layers) {
    ld_err(err, LD_EFORMAT, "%s: config lists %zu diff_ids for %zu layers", src->name,
           img.config.n_diff_ids, img.manifest.n_layers);
    ld_image_clear(&img);
    return -1;
  }
  out->image_name = ld_xstrdup(src->name);
  out->image_digest = ld_xstrdup(img.manifest.digest);
  out->n_layers = img.manifest.n_layers;
  out->layers = ld_xcalloc(out->n_layers ? out->n_layers : 1, sizeof *out->layers);
  out->stats.layers = out->n_layers;
  if (meta) cache_init(meta);
  json_t *merged = json_object(), *links = json_object();
  int r = 0;
  for (size_t i = 0; i < out->n_layers && r == 0; i++) {
    const char *want = img.config.diff_ids[i];
    out->layers[i] = ld_xstrdup(want);
    json_t *res = meta ? cache_get(meta, want) : NULL;
    if (res) {
      out->stats.layers_cached++;
    } else {
      char diff_id[LD_DIGEST_MAX];
      uint64_t usize = 0;
      if (read_layer(src, &img.manifest.layers[i], i, &res, diff_id, &usize, err) < 0) {
        r = -1;
        break;
      }
      out->stats.layers_read++;
      out->stats.bytes_read += usize;
      if (strcmp(diff_id, want)) {
        r = ld_err(err, LD_EDIGEST, "%s: layer %zu: content is %s but the config says %s",
                   src->name, i + 1, diff_id, want);
        json_decref(res);
        break;
      }
      if (meta) cache_put(meta, want, res);
    }
    apply_layer(merged, links, res, i);
    json_decref(res);
  }
  if (r == 0) {
    detect_os(merged, links, &out->os);
    collect_packages(merged, out);
  }
  json_decref(merged);
  json_decref(links);
  ld_image_clear(&img);
  if (r < 0) ld_catalog_clear(out);
  return r;
}
