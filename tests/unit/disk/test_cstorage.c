/* The containers-storage reader over a graph root written in containers-storage's format
 * (JSON as podman 4.3 wrote it here, trimmed): chains, sharing, in-use, sizes, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "lading/disk.h"
#include "lading/fs.h"
#include "lading/util.h"

static const char *LAYERS =
    "[{\"id\":\"base\",\"created\":\"2026-11-27T20:41:36.4Z\",\"compressed-size\":301084,"
    "\"diff-digest\":\"sha256:986d\",\"diff-size\":301024,\"compression\":2},"
    "{\"id\":\"la\",\"parent\":\"base\",\"created\":\"2026-11-27T20:41:37Z\",\"diff-size\":1000},"
    "{\"id\":\"lb\",\"parent\":\"base\",\"created\":\"2026-11-27T20:41:38Z\",\"diff-size\":2000},"
    "{\"id\":\"ctr\",\"names\":[\"c1-layer\"],\"parent\":\"la\"}]";
static const char *IMAGES =
    "[{\"id\":\"ia\",\"digest\":\"sha256:aa\",\"names\":[\"127.0.0.1:5000/img/a:1\"],"
    "\"layer\":\"la\",\"created\":\"2026-11-27T20:41:32.77Z\"},"
    "{\"id\":\"ib\",\"digest\":\"sha256:bb\",\"names\":[\"127.0.0.1:5000/img/b:1\"],"
    "\"layer\":\"lb\",\"created\":\"2026-11-27T20:41:32.77Z\"},"
    "{\"id\":\"ic\",\"layer\":\"base\"}]";
static const char *CONTAINERS =
    "[{\"id\":\"cid\",\"names\":[\"c1\"],\"image\":\"ia\",\"layer\":\"ctr\","
    "\"created\":\"2026-11-27T21:00:00Z\"}]";

static char root[64];

static void put(const char *rel, const char *text) {
  char *p = ld_xasprintf("%s/%s", root, rel), *dir = ld_xstrdup(p);
  *strrchr(dir, '/') = 0;
  assert_int_equal(ld_mkdir_p(dir, 0755, NULL), 0);
  assert_int_equal(ld_atomic_write(p, text, strlen(text), 0644, NULL), 0);
  free(p);
  free(dir);
}

static void put_size(const char *rel, size_t n) {
  char *buf = ld_xcalloc(1, n + 1);
  memset(buf, 'x', n);
  put(rel, buf);
  free(buf);
}

static int setup(void **state) {
  strcpy(root, "/tmp/ld-cs-XXXXXX");
  assert_non_null(mkdtemp(root));
  put("overlay-layers/layers.json", LAYERS);
  put("overlay-images/images.json", IMAGES);
  put("overlay-containers/containers.json", CONTAINERS);
  put_size("overlay/base/diff/big", 300000);
  put_size("overlay/la/diff/a", 40000);
  put_size("overlay/lb/diff/b", 80000);
  put_size("overlay/ctr/diff/rw", 8192);
  return 0;
}

static int teardown(void **state) {
  ld_rm_rf(root, NULL);
  return 0;
}

static const ld_disk_image *find(const ld_disk_report *r, const char *id) {
  for (size_t i = 0; i < r->n_images; i++)
    if (!strcmp(r->images[i].id, id)) return &r->images[i];
  fail_msg("no image %s", id);
  return NULL;
}

static uint64_t du(const char *rel) {
  char *p = ld_xasprintf("%s/%s", root, rel);
  uint64_t b = 0;
  assert_int_equal(ld_disk_du(p, &b, NULL), 0);
  free(p);
  return b;
}

static void test_measured(void **state) {
  ld_disk_report *r = NULL;
  ld_error *err = NULL;
  assert_int_equal(ld_disk_cstorage_read(root, NULL, &r, &err), 0);
  assert_string_equal(r->driver, "overlay");
  assert_int_equal(r->n_images, 3);
  const ld_disk_image *a = find(r, "ia"), *b = find(r, "ib"), *c = find(r, "ic");
  assert_int_equal(a->n_fs_layers, 2);
  assert_int_equal(c->n_fs_layers, 1);
  assert_true(a->in_use);
  assert_string_equal(a->used_by, "c1");
  assert_false(b->in_use);
  assert_string_equal(a->names[0], "127.0.0.1:5000/img/a:1");
  assert_int_equal(c->n_names, 0);
  uint64_t base = du("overlay/base"), la = du("overlay/la"), lb = du("overlay/lb");
  assert_true(base >= 300000);
  /* shared = the base (used by all three); unique = own layer + metadata dir */
  assert_int_equal(a->shared, base);
  assert_int_equal(a->unique, la); /* no metadata dir here */
  assert_int_equal(b->unique, lb);
  assert_int_equal(c->unique, 0);
  assert_int_equal(r->images_bytes, base + la + lb);
  assert_int_equal(r->containers_bytes, du("overlay/ctr"));
  /* last used: the container's creation beats the pull time */
  int64_t t;
  ld_disk_parse_time("2026-11-27T21:00:00Z", &t);
  assert_int_equal(a->last_used, t);
  ld_disk_parse_time("2026-11-27T20:41:38Z", &t);
  assert_int_equal(b->first_seen, t); /* top layer's creation: no metadata dir */
  assert_true(r->fs_total > 0);
  ld_disk_report_free(r);
}

static void test_estimate_vfs_counts_chain(void **state) {
  char *old = ld_xasprintf("%s/overlay-layers", root), *nw = ld_xasprintf("%s/vfs-layers", root);
  assert_int_equal(rename(old, nw), 0);
  free(old), free(nw);
  old = ld_xasprintf("%s/overlay-images", root), nw = ld_xasprintf("%s/vfs-images", root);
  assert_int_equal(rename(old, nw), 0);
  free(old), free(nw);
  ld_disk_read_opts o = {.estimate = true};
  ld_disk_report *r = NULL;
  assert_int_equal(ld_disk_cstorage_read(root, &o, &r, NULL), 0);
  assert_string_equal(r->driver, "vfs");
  /* vfs copies the parent into each layer: la costs base + its own diff */
  assert_int_equal(find(r, "ia")->unique, 301024 + 1000);
  assert_int_equal(find(r, "ib")->unique, 301024 + 2000);
  assert_int_equal(find(r, "ic")->shared, 301024);
  assert_false(find(r, "ia")->in_use); /* no vfs-containers */
  ld_disk_report_free(r);
}

static void test_bad_input(void **state) {
  ld_disk_report *r = NULL;
  ld_error *err = NULL;
  char *empty = ld_xasprintf("%s/empty", root);
  ld_mkdir_p(empty, 0755, NULL);
  assert_int_equal(ld_disk_cstorage_read(empty, NULL, &r, &err), -1);
  assert_non_null(strstr(err->msg, "not a containers-storage graph root"));
  ld_error_clear(&err);
  free(empty);

  put("overlay-images/images.json", "[{\"id\":\"x\",\"layer\":\"nope\"}]");
  put("overlay-layers/layers.json", "[]");
  assert_int_equal(ld_disk_cstorage_read(root, NULL, &r, &err), -1);
  assert_non_null(strstr(err->msg, "layer nope is not in layers.json"));
  ld_error_clear(&err);

  put("overlay-images/images.json", "[{\"id\":");
  assert_int_equal(ld_disk_cstorage_read(root, NULL, &r, &err), -1);
  assert_non_null(strstr(err->msg, "images.json: malformed JSON"));
  ld_error_clear(&err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_measured, setup, teardown),
      cmocka_unit_test_setup_teardown(test_estimate_vfs_counts_chain, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
