/* fsck: is every blob what its name says, and does every image have everything it names?
 *
 * Two passes, under the store lock (so a concurrent gc cannot make blobs vanish mid-check and a
 * repair cannot race a tag):
 *   1. references: from every index.json entry, walk index -> manifests -> config + layers.
 *      Each named blob must exist with the descriptor's size and every manifest must parse.
 *      While walking, remember which images (names) reach each digest.
 *   2. content: re-hash every file under blobs/ and compare with its name.
 * A problem is reported once per (digest, what) with the images that use the digest, so a flipped
 * byte in a shared base layer names every image it breaks.
 *
 * --repair never deletes: a bad blob is renamed into ROOT/quarantine/<alg>-<hex>[.N] (same file
 * system, atomic), and each image using it is recorded in disk_broken (pins.c), which df shows.
 * With the bad blob out of blobs/, the next `lading copy` of that image fetches it again and the
 * image heals.
 */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "disk_internal.h"
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/util.h"

typedef struct fsck_ctx {
  ld_store *s;
  const ld_fsck_opts *o;
  ld_fsck_result *res;
  json_t *users;     /* digest -> [image label, ...] */
  json_t *owners;    /* digest -> [top digest, ...] (for disk_broken) */
  const char *label; /* the image being walked */
  const char *top;
} fsck_ctx;

static void json_set_add(json_t *map, const char *key, const char *value) {
  json_t *arr = json_object_get(map, key);
  if (!arr) json_object_set_new(map, key, arr = json_array());
  for (size_t i = 0; i < json_array_size(arr); i++)
    if (!strcmp(json_string_value(json_array_get(arr, i)), value)) return;
  json_array_append_new(arr, json_string(value));
}

static void problem(fsck_ctx *c, const char *digest, const char *what) {
  for (size_t i = 0; i < c->res->n_problems; i++)
    if (!strcmp(c->res->problems[i].digest, digest) && !strcmp(c->res->problems[i].what, what)) return;
  c->res->problems = ld_xrealloc(c->res->problems, (c->res->n_problems + 1) * sizeof *c->res->problems);
  ld_fsck_problem *p = &c->res->problems[c->res->n_problems++];
  memset(p, 0, sizeof *p);
  p->digest = ld_xstrdup(digest);
  p->what = ld_xstrdup(what);
}

static void use(fsck_ctx *c, const char *digest) {
  json_set_add(c->users, digest, c->label);
  json_set_add(c->owners, digest, c->top);
}

/* Checks that a referenced blob exists with the expected size. */
static bool check_ref(fsck_ctx *c, const ld_descriptor *d) {
  use(c, d->digest);
  if (ld_digest_validate(d->digest, NULL) < 0) {
    problem(c, d->digest, "invalid digest");
    return false;
  }
  ld_autofree char *p = ld_store_blob_path(c->s, d->digest);
  struct stat st;
  if (stat(p, &st) < 0) {
    problem(c, d->digest, "missing");
    return false;
  }
  if (d->size >= 0 && st.st_size != d->size) {
    char what[96];
    snprintf(what, sizeof what, "size mismatch (manifest says %lld, file has %lld)",
             (long long) d->size, (long long) st.st_size);
    problem(c, d->digest, what);
  }
  return true;
}

static void walk(fsck_ctx *c, const ld_descriptor *d, int depth) {
  if (!check_ref(c, d) || depth > 8) return;
  char *buf = NULL;
  size_t len = 0;
  ld_manifest m;
  c->res->manifests_checked++;
  if (ld_store_read_blob(c->s, d->digest, LD_MANIFEST_MAX, &buf, &len, NULL) < 0)
    return; /* present but not what its name says: the content pass reports it */
  if (ld_manifest_parse(buf, len, NULL, &m, NULL) < 0) {
    problem(c, d->digest, "malformed manifest");
    free(buf);
    return;
  }
  for (size_t i = 0; i < m.n_manifests; i++) walk(c, &m.manifests[i], depth + 1);
  if (m.kind == LD_KIND_MANIFEST) {
    check_ref(c, &m.config);
    for (size_t i = 0; i < m.n_layers; i++) check_ref(c, &m.layers[i]);
  }
  ld_manifest_clear(&m);
  free(buf);
}

static int check_refs(fsck_ctx *c, ld_error **err) {
  ld_store_ref *refs = NULL;
  size_t n = 0;
  if (ld_store_list(c->s, &refs, &n, err) < 0) return -1;
  for (size_t i = 0; i < n; i++) {
    c->label = refs[i].name[0] ? refs[i].name : refs[i].desc.digest;
    c->top = refs[i].desc.digest;
    c->res->refs_checked++;
    walk(c, &refs[i].desc, 0);
  }
  ld_store_refs_free(refs, n);
  return 0;
}

static void check_content(fsck_ctx *c) {
  static const struct { const char *name; ld_digest_algo algo; size_t hexlen; } algs[] = {
      {"sha256", LD_SHA256, 64}, {"sha512", LD_SHA512, 128}};
  for (size_t a = 0; a < LD_ARRAY_SIZE(algs); a++) {
    ld_autofree char *dir = ld_xasprintf("%s/blobs/%s", ld_store_root(c->s), algs[a].name);
    DIR *d = opendir(dir);
    if (!d) continue;
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue; /* ingest temp files */
      char name[LD_DIGEST_MAX + 8], got[LD_DIGEST_MAX];
      snprintf(name, sizeof name, "%s:%.128s", algs[a].name, e->d_name);
      if (strlen(e->d_name) > 128) name[0] = 0;
      if (ld_digest_validate(name, NULL) < 0) {
        problem(c, name, "not a blob name");
        continue;
      }
      ld_autofree char *path = ld_path_join(dir, e->d_name);
      uint64_t size = 0;
      c->res->blobs_checked++;
      if (ld_digest_file(path, algs[a].algo, got, &size, NULL) < 0) {
        problem(c, name, "unreadable");
        continue;
      }
      c->res->bytes_hashed += size;
      if (strcmp(got, name)) problem(c, name, "digest mismatch");
    }
    closedir(d);
  }
}

static int quarantine(fsck_ctx *c, ld_fsck_problem *p) {
  ld_autofree char *src = ld_store_blob_path(c->s, p->digest);
  if (!ld_path_exists(src)) return 0;
  ld_autofree char *qdir = ld_path_join(ld_store_root(c->s), "quarantine");
  if (ld_mkdir_p(qdir, 0700, NULL) < 0) return -1;
  const char *colon = strchr(p->digest, ':');
  for (int n = 0; n < 1000; n++) {
    ld_autofree char *dst = n ? ld_xasprintf("%s/%.*s-%s.%d", qdir, (int) (colon - p->digest), p->digest, colon + 1, n)
                              : ld_xasprintf("%s/%.*s-%s", qdir, (int) (colon - p->digest), p->digest, colon + 1);
    if (ld_path_exists(dst)) continue;
    if (rename(src, dst) < 0) return -1;
    p->quarantined = true;
    return 0;
  }
  return -1;
}

static void mark_broken(fsck_ctx *c, const char *image, const char *blob) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(ld_store_meta(c->s),
                         "INSERT OR REPLACE INTO disk_broken(image, blob, found) VALUES(?,?,?)", -1,
                         &st, NULL) != SQLITE_OK)
    return;
  sqlite3_bind_text(st, 1, image, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, blob, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, ld_now());
  sqlite3_step(st);
  sqlite3_finalize(st);
}

static void finish(fsck_ctx *c) {
  json_t *broken = json_array();
  for (size_t i = 0; i < c->res->n_problems; i++) {
    ld_fsck_problem *p = &c->res->problems[i];
    json_t *users = json_object_get(c->users, p->digest);
    p->n_images = json_array_size(users);
    p->images = ld_xcalloc(p->n_images + 1, sizeof *p->images);
    for (size_t k = 0; k < p->n_images; k++) {
      p->images[k] = ld_xstrdup(json_string_value(json_array_get(users, k)));
      bool seen = false;
      for (size_t b = 0; b < json_array_size(broken); b++)
        if (!strcmp(json_string_value(json_array_get(broken, b)), p->images[k])) seen = true;
      if (!seen) json_array_append_new(broken, json_string(p->images[k]));
    }
    if (c->o && c->o->repair) {
      if (!strcmp(p->what, "digest mismatch") || !strcmp(p->what, "unreadable")) quarantine(c, p);
      json_t *owners = json_object_get(c->owners, p->digest);
      for (size_t k = 0; k < json_array_size(owners); k++)
        mark_broken(c, json_string_value(json_array_get(owners, k)), p->digest);
    }
  }
  c->res->n_broken_images = json_array_size(broken);
  c->res->broken_images = ld_xcalloc(c->res->n_broken_images + 1, sizeof(char *));
  for (size_t b = 0; b < c->res->n_broken_images; b++)
    c->res->broken_images[b] = ld_xstrdup(json_string_value(json_array_get(broken, b)));
  json_decref(broken);
}

int ld_fsck_run(ld_store *s, const ld_fsck_opts *o, ld_fsck_result *res, ld_error **err) {
  memset(res, 0, sizeof *res);
  if (ld_disk_meta_init(s, err) < 0 || ld_store_lock(s, err) < 0) return ld_error_wrap(err, "fsck");
  fsck_ctx c = {s, o, res, json_object(), json_object(), NULL, NULL};
  int rc = check_refs(&c, err);
  if (rc == 0) {
    check_content(&c);
    finish(&c);
  }
  ld_store_unlock(s);
  json_decref(c.users);
  json_decref(c.owners);
  return rc < 0 ? ld_error_wrap(err, "fsck %s", ld_store_root(s)) : 0;
}

void ld_fsck_result_clear(ld_fsck_result *r) {
  for (size_t i = 0; i < r->n_problems; i++) {
    free(r->problems[i].digest);
    free(r->problems[i].what);
    for (size_t k = 0; k < r->problems[i].n_images; k++) free(r->problems[i].images[k]);
    free(r->problems[i].images);
  }
  free(r->problems);
  for (size_t i = 0; i < r->n_broken_images; i++) free(r->broken_images[i]);
  free(r->broken_images);
  memset(r, 0, sizeof *r);
}
