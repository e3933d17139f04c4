/* The store as a disk report (lib/disk/store.c) and pins (pins.c): an index with two platforms
 * counts every child present, blobs are typed, shared blobs are counted once, pins protect by
 * name and by digest, unreferenced blobs are summed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "lading/disk.h"
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/util.h"

typedef struct fixture {
  char root[64];
  ld_store *s;
  char base[LD_DIGEST_MAX], index[LD_DIGEST_MAX], single[LD_DIGEST_MAX];
} fixture;

static void put(ld_store *s, const char *text, char out[LD_DIGEST_MAX]) {
  assert_int_equal(ld_store_put_blob_mem(s, text, strlen(text), out, NULL), 0);
}

/* A manifest over config + base + own layer; returns its digest in out. */
static void manifest(ld_store *s, const char *base, const char *own_text, char out[LD_DIGEST_MAX]) {
  char cfg[LD_DIGEST_MAX], own[LD_DIGEST_MAX];
  char *config = ld_xasprintf("{\"created\":\"2024-01-02T03:04:05Z\",\"architecture\":\"amd64\","
                              "\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},"
                              "\"x\":\"%s\"}", own_text);
  put(s, config, cfg);
  put(s, own_text, own);
  char *m = ld_xasprintf(
      "{\"schemaVersion\":2,\"mediaType\":\"" LD_MT_OCI_MANIFEST "\","
      "\"config\":{\"mediaType\":\"" LD_MT_OCI_CONFIG "\",\"digest\":\"%s\",\"size\":%zu},"
      "\"layers\":[{\"mediaType\":\"" LD_MT_OCI_LAYER "\",\"digest\":\"%s\",\"size\":%zu},"
      "{\"mediaType\":\"" LD_MT_OCI_LAYER "\",\"digest\":\"%s\",\"size\":%zu}]}",
      cfg, strlen(config), base, (size_t) 5000, own, strlen(own_text));
  put(s, m, out);
  free(config);
  free(m);
}

static void tag(ld_store *s, const char *name, const char *digest, const char *mt) {
  ld_descriptor d = {.media_type = (char *) mt, .digest = (char *) digest, .size = 1};
  uint64_t size;
  assert_int_equal(ld_store_blob_size(s, digest, &size, NULL), 0);
  d.size = (int64_t) size;
  assert_int_equal(ld_store_tag(s, name, &d, NULL), 0);
}

static int setup(void **state) {
  fixture *f = ld_xcalloc(1, sizeof *f);
  strcpy(f->root, "/tmp/ld-disk-store-XXXXXX");
  assert_non_null(mkdtemp(f->root));
  assert_int_equal(ld_store_open(f->root, &f->s, NULL), 0);
  char *base = ld_xcalloc(1, 5001);
  memset(base, 'b', 5000);
  put(f->s, base, f->base);
  free(base);
  char amd[LD_DIGEST_MAX], arm[LD_DIGEST_MAX];
  manifest(f->s, f->base, "amd64 layer", amd);
  manifest(f->s, f->base, "arm64 layer", arm);
  char *idx = ld_xasprintf(
      "{\"schemaVersion\":2,\"mediaType\":\"" LD_MT_OCI_INDEX "\",\"manifests\":["
      "{\"mediaType\":\"" LD_MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":1,"
      "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
      "{\"mediaType\":\"" LD_MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":1,"
      "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
      "{\"mediaType\":\"" LD_MT_OCI_MANIFEST "\",\"digest\":\"sha256:%064d\",\"size\":1,"
      "\"platform\":{\"os\":\"linux\",\"architecture\":\"s390x\"}}]}", /* not copied */
      amd, arm, 0);
  put(f->s, idx, f->index);
  free(idx);
  tag(f->s, "multi:1", f->index, LD_MT_OCI_INDEX);
  tag(f->s, "multi:latest", f->index, LD_MT_OCI_INDEX);
  manifest(f->s, f->base, "single layer", f->single);
  tag(f->s, "single:1", f->single, LD_MT_OCI_MANIFEST);
  char junk[LD_DIGEST_MAX];
  put(f->s, "nobody uses me", junk);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  ld_store_close(f->s);
  ld_rm_rf(f->root, NULL);
  free(f);
  return 0;
}

static const ld_disk_image *by_name(const ld_disk_report *r, const char *name) {
  for (size_t i = 0; i < r->n_images; i++)
    for (size_t n = 0; n < r->images[i].n_names; n++)
      if (!strcmp(r->images[i].names[n], name)) return &r->images[i];
  fail_msg("no image %s", name);
  return NULL;
}

static void test_index_and_sharing(void **state) {
  fixture *f = *state;
  ld_disk_report *r = NULL;
  assert_int_equal(ld_disk_store_read(f->s, NULL, &r, NULL), 0);
  assert_int_equal(r->n_images, 2); /* two tags of one index are one image */
  const ld_disk_image *multi = by_name(r, "docker.io/library/multi:1");
  assert_int_equal(multi->n_names, 2);
  /* index + 2 manifests + 2 configs + base + 2 own layers; the s390x child is absent */
  assert_int_equal(multi->n_layers, 8);
  assert_int_equal(multi->n_fs_layers, 3);
  const ld_disk_layer *base = &r->layers[ld_disk_layer_find(r, f->base)];
  assert_string_equal(base->kind, "layer");
  assert_int_equal(base->n_users, 2);
  assert_string_equal(r->layers[ld_disk_layer_find(r, f->index)].kind, "index");
  const ld_disk_image *single = by_name(r, "docker.io/library/single:1");
  assert_int_equal(single->shared, base->size);
  assert_int_equal(single->unique + single->shared, single->size);
  assert_int_equal(r->shared_bytes, base->size);
  assert_true(r->unreferenced_bytes > 0);
  assert_true(multi->created > 0 && multi->first_seen > 0 && multi->last_used >= multi->first_seen);
  ld_disk_report_free(r);
}

static void test_pins(void **state) {
  fixture *f = *state;
  ld_error *err = NULL;
  assert_int_equal(ld_disk_pin(f->s, "multi:latest", NULL), 0);
  assert_int_equal(ld_disk_pin(f->s, f->single, NULL), 0);
  char **names, **digests;
  size_t n;
  assert_int_equal(ld_disk_pins(f->s, &names, &digests, &n, NULL), 0);
  assert_int_equal(n, 2);
  assert_string_equal(names[0], "docker.io/library/multi:latest");
  assert_string_equal(digests[0], f->index);
  assert_string_equal(names[1], f->single);
  for (size_t i = 0; i < n; i++) free(names[i]), free(digests[i]);
  free(names);
  free(digests);
  ld_disk_report *r = NULL;
  assert_int_equal(ld_disk_store_read(f->s, NULL, &r, NULL), 0);
  assert_true(by_name(r, "docker.io/library/multi:1")->pinned);
  assert_true(by_name(r, "docker.io/library/single:1")->pinned);
  ld_disk_report_free(r);
  assert_int_equal(ld_disk_unpin(f->s, "multi:latest", NULL), 0);
  assert_int_equal(ld_disk_unpin(f->s, "multi:latest", &err), -1);
  assert_non_null(strstr(err->msg, "not pinned"));
  ld_error_clear(&err);
  assert_int_equal(ld_disk_pin(f->s, "nothere:1", &err), -1);
  assert_non_null(strstr(err->msg, "pin nothere:1"));
  ld_error_clear(&err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_index_and_sharing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pins, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
