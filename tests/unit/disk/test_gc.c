/* gc's pieces: the digest set, the hold, rename-aside deletion that puts back a blob held after
 * the cutoff, and a gc run that keeps live blobs and referrers and removes the rest. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>
#include "disk/disk_internal.h"
#include "lading/fs.h"
#include "lading/util.h"

static void test_digest_set(void **state) {
  ld_digest_set s = {0};
  char d[32];
  for (int i = 0; i < 1000; i++) {
    snprintf(d, sizeof d, "sha256:%d", i);
    assert_true(ld_digest_set_add(&s, d));
  }
  assert_false(ld_digest_set_add(&s, "sha256:7"));
  assert_true(ld_digest_set_has(&s, "sha256:999"));
  assert_false(ld_digest_set_has(&s, "sha256:1000"));
  assert_int_equal(s.n, 1000);
  ld_digest_set_clear(&s);
}

static void age(ld_store *s, const char *digest, int seconds) {
  char *p = ld_store_blob_path(s, digest);
  struct timespec ts[2];
  clock_gettime(CLOCK_REALTIME, &ts[0]);
  ts[0].tv_sec -= seconds;
  ts[1] = ts[0];
  assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
  free(p);
}

static void test_delete_and_hold(void **state) {
  char root[] = "/tmp/ld-disk-gc-XXXXXX";
  assert_non_null(mkdtemp(root));
  ld_store *s;
  assert_int_equal(ld_store_open(root, &s, NULL), 0);
  char a[LD_DIGEST_MAX], b[LD_DIGEST_MAX];
  assert_int_equal(ld_store_put_blob_mem(s, "blob a", 6, a, NULL), 0);
  assert_int_equal(ld_store_put_blob_mem(s, "blob b", 6, b, NULL), 0);
  age(s, a, 3600);
  age(s, b, 3600);
  int64_t cutoff = ld_disk_cutoff(60);
  /* b is held (found by an ingest) after the cutoff was taken: it must survive */
  assert_true(ld_disk_hold_blob(s, b));
  uint64_t freed = 0;
  assert_int_equal(ld_disk_delete_blob(s, a, cutoff, &freed), 1);
  assert_int_equal(ld_disk_delete_blob(s, b, cutoff, &freed), 0);
  assert_false(ld_store_has_blob(s, a));
  assert_true(ld_store_has_blob(s, b));
  assert_true(freed > 0);
  assert_false(ld_disk_hold_blob(s, a)); /* gone: the ingest must fetch it */
  assert_false(ld_disk_hold_blob(s, "sha256:nothex"));
  assert_int_equal(ld_disk_delete_blob(s, a, cutoff, NULL), 0); /* already gone */
  char *ingest = ld_path_join(root, "ingest");
  char *aside = ld_xasprintf("%s/.gc-%s", ingest, ld_digest_hex(b));
  assert_false(ld_path_exists(aside)); /* put back, nothing left aside */
  free(aside);
  free(ingest);
  ld_store_close(s);
  ld_rm_rf(root, NULL);
}

static void test_gc_run_keeps_live_and_referrers(void **state) {
  char root[] = "/tmp/ld-disk-gc-XXXXXX";
  assert_non_null(mkdtemp(root));
  ld_store *s;
  assert_int_equal(ld_store_open(root, &s, NULL), 0);
  char cfg[LD_DIGEST_MAX], layer[LD_DIGEST_MAX], man[LD_DIGEST_MAX], ref[LD_DIGEST_MAX],
      junk[LD_DIGEST_MAX];
  assert_int_equal(ld_store_put_blob_mem(s, "{}", 2, cfg, NULL), 0);
  assert_int_equal(ld_store_put_blob_mem(s, "layer", 5, layer, NULL), 0);
  char *m = ld_xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
                         "\"%s\",\"digest\":\"%s\",\"size\":2},\"layers\":[{\"mediaType\":\"%s\","
                         "\"digest\":\"%s\",\"size\":5}]}",
                         LD_MT_OCI_MANIFEST, LD_MT_OCI_CONFIG, cfg, LD_MT_OCI_LAYER, layer);
  assert_int_equal(ld_store_put_blob_mem(s, m, strlen(m), man, NULL), 0);
  ld_descriptor d = {.media_type = LD_MT_OCI_MANIFEST, .digest = man, .size = (int64_t) strlen(m)};
  assert_int_equal(ld_store_tag(s, "app:1", &d, NULL), 0);
  char *r = ld_xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"artifactType\":\"x/sbom\","
                         "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":2},"
                         "\"layers\":[],\"subject\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
                         "\"size\":%zu}}",
                         LD_MT_OCI_MANIFEST, LD_MT_OCI_EMPTY, cfg, LD_MT_OCI_MANIFEST, man, strlen(m));
  assert_int_equal(ld_store_put_blob_mem(s, r, strlen(r), ref, NULL), 0);
  assert_int_equal(ld_store_put_blob_mem(s, "junk", 4, junk, NULL), 0);
  const char *all[] = {cfg, layer, man, ref, junk};
  for (size_t i = 0; i < 5; i++) age(s, all[i], 3600);
  ld_gc_opts o = {.grace = 600};
  ld_gc_result res;
  assert_int_equal(ld_gc_run(s, &o, &res, NULL), 0);
  assert_int_equal(res.blobs_removed, 1);
  assert_int_equal(res.blobs_live, 4);
  assert_false(ld_store_has_blob(s, junk));
  for (size_t i = 0; i < 4; i++) assert_true(ld_store_has_blob(s, all[i]));
  ld_fsck_result fr;
  assert_int_equal(ld_fsck_run(s, NULL, &fr, NULL), 0);
  assert_int_equal(fr.n_problems, 0);
  assert_int_equal(fr.blobs_checked, 4);
  ld_fsck_result_clear(&fr);
  free(m);
  free(r);
  ld_store_close(s);
  ld_rm_rf(root, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_digest_set),
      cmocka_unit_test(test_delete_and_hold),
      cmocka_unit_test(test_gc_run_keeps_live_and_referrers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
