/* Registry storage, upload sessions and routing: names, links, tags, referrers, catalog,
 * verified commits, expiry, and how paths split into routes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "lading/fs.h"
#include "lading/util.h"
#include "registry/server.h"
#include "registry/storage.h"
#include "registry/uploads.h"

static char *tmp_root(void) {
  char tmpl[] = "/tmp/lading-unit-registry-XXXXXX";
  assert_non_null(mkdtemp(tmpl));
  return ld_xstrdup(tmpl);
}

static void test_repo_names(void **state) {
  const char *good[] = {"a", "library/alpine", "a-b/c.d/e__f", "x0/y1", "foo--bar"};
  const char *bad[] = {"", "A", "a/", "/a", "a//b", "a..b", "_a", "a/_links", "a:b", "a@b",
                       "a/../b", "-a"};
  for (size_t i = 0; i < LD_ARRAY_SIZE(good); i++) assert_true(rs_repo_name_valid(good[i]));
  for (size_t i = 0; i < LD_ARRAY_SIZE(bad); i++) assert_false(rs_repo_name_valid(bad[i]));
}

static const char *D1 = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
static const char *D2 = "sha256:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9";

static void test_links_tags_referrers_catalog(void **state) {
  ld_autofree char *root = tmp_root();
  rs_storage st;
  assert_int_equal(rs_open(&st, root, NULL), 0);
  assert_false(rs_repo_exists(&st, "a/b"));
  assert_null(rs_tags_list(&st, "a/b"));
  assert_int_equal(rs_link_add(&st, "a/b", D1, NULL), 0);
  assert_true(rs_link_exists(&st, "a/b", D1));
  assert_false(rs_link_exists(&st, "a/c", D1));
  assert_int_equal(rs_link_add(&st, "a/b/c", D1, NULL), 0);
  assert_int_equal(rs_link_add(&st, "z", D1, NULL), 0);
  char **cat = rs_catalog(&st);
  assert_int_equal(rs_strv_len(cat), 3);
  assert_string_equal(cat[0], "a/b");
  assert_string_equal(cat[1], "a/b/c");
  assert_string_equal(cat[2], "z");
  rs_strv_free(cat);

  assert_int_equal(rs_tag_set(&st, "a/b", "v2", D2, NULL), 0);
  assert_int_equal(rs_tag_set(&st, "a/b", "v1", D1, NULL), 0);
  assert_int_equal(rs_tag_set(&st, "a/b", "v1b", D1, NULL), 0);
  char d[LD_DIGEST_MAX];
  assert_int_equal(rs_tag_get(&st, "a/b", "v2", d), 0);
  assert_string_equal(d, D2);
  char **tags = rs_tags_list(&st, "a/b");
  assert_int_equal(rs_strv_len(tags), 3);
  assert_string_equal(tags[0], "v1");
  assert_string_equal(tags[2], "v2");
  rs_strv_free(tags);
  rs_tags_remove_digest(&st, "a/b", D1);
  tags = rs_tags_list(&st, "a/b");
  assert_int_equal(rs_strv_len(tags), 1);
  rs_strv_free(tags);
  assert_int_equal(rs_tag_get(&st, "a/b", "v1", d), -1);

  assert_int_equal(rs_referrer_add(&st, "a/b", D1, D2, NULL), 0);
  char **refs = rs_referrers_list(&st, "a/b", D1);
  assert_int_equal(rs_strv_len(refs), 1);
  assert_string_equal(refs[0], D2);
  rs_strv_free(refs);
  rs_referrer_remove(&st, "a/b", D1, D2);
  refs = rs_referrers_list(&st, "a/b", D1);
  assert_int_equal(rs_strv_len(refs), 0);
  rs_strv_free(refs);

  assert_int_equal(rs_manifest_put(&st, "a/b", D1, "application/x", "foo", 3, NULL), 0);
  ld_autofree char *mt = rs_manifest_media_type(&st, "a/b", D1);
  assert_string_equal(mt, "application/x");
  assert_null(rs_manifest_media_type(&st, "a/c", D1));
  assert_int_equal(rs_blob_size(&st, D1), 3);
  rs_close(&st);
  ld_rm_rf(root, NULL);
}

static void test_upload_sessions(void **state) {
  ld_autofree char *root = tmp_root();
  rs_storage st;
  assert_int_equal(rs_open(&st, root, NULL), 0);
  ru_table t;
  ru_init(&t, &st, 3600);
  ru_session *s, *again;
  assert_int_equal(ru_create(&t, "r", &s, NULL), 0);
  assert_int_equal(ru_acquire(&t, "r", s->uuid, &again), -1); /* busy */
  assert_int_equal(ru_append(s, "fo", 2, NULL), 0);
  ru_release(&t, s);
  assert_int_equal(ru_acquire(&t, "other", s->uuid, &again), -1); /* other repository */
  assert_int_equal(ru_acquire(&t, "r", s->uuid, &again), 0);
  assert_ptr_equal(again, s);
  assert_int_equal(ru_append(s, "o", 1, NULL), 0);
  assert_int_equal(s->offset, 3);
  assert_int_equal(ru_finish(&t, s, D1, NULL), 0); /* sha256("foo") */
  assert_int_equal(rs_blob_size(&st, D1), 3);
  assert_int_equal(ru_count(&t), 0);

  assert_int_equal(ru_create(&t, "r", &s, NULL), 0);
  ru_append(s, "bar", 3, NULL);
  ld_error *err = NULL;
  assert_int_equal(ru_finish(&t, s, D1, &err), -1);
  assert_int_equal(err->code, LD_EDIGEST);
  ld_error_free(err);
  assert_int_equal(rs_blob_size(&st, D2), -1); /* sha256("bar") was not stored */

  assert_int_equal(ru_create(&t, "r", &s, NULL), 0);
  ru_release(&t, s);
  assert_int_equal(ru_reap(&t, ld_now() + 10), 0);
  assert_int_equal(ru_reap(&t, ld_now() + 7200), 1);
  assert_int_equal(ru_count(&t), 0);
  ru_destroy(&t);
  rs_close(&st);
  ld_rm_rf(root, NULL);
}

static void test_routes(void **state) {
  static const struct {
    const char *path;
    rt_kind kind;
    const char *name, *ref;
    int rc;
  } cases[] = {
      {"/v2/", RT_BASE, NULL, NULL, 0},
      {"/v2", RT_BASE, NULL, NULL, 0},
      {"/v2/_catalog", RT_CATALOG, NULL, NULL, 0},
      {"/v2/a/b/tags/list", RT_TAGS, "a/b", NULL, 0},
      {"/v2/a/manifests/latest", RT_MANIFEST, "a", "latest", 0},
      {"/v2/a/manifests/manifests/x", RT_MANIFEST, "a/manifests", "x", 0},
      {"/v2/a/b/blobs/sha256:00", RT_BLOB, "a/b", "sha256:00", 0},
      {"/v2/a/blobs/uploads/", RT_UPLOADS, "a", NULL, 0},
      {"/v2/a/blobs/uploads", RT_UPLOADS, "a", NULL, 0},
      {"/v2/a/blobs/uploads/u-1", RT_UPLOAD, "a", "u-1", 0},
      {"/v2/a/referrers/sha256:00", RT_REFERRERS, "a", "sha256:00", 0},
      {"/v2/Bad/tags/list", RT_TAGS, "Bad", NULL, -1},
      {"/v2/tags/list", RT_NONE, NULL, NULL, 0},
      {"/v2/a/manifests/", RT_NONE, NULL, NULL, 0},
      {"/v3/a/tags/list", RT_NONE, NULL, NULL, 0},
      {"/v2/a/unknown/x", RT_NONE, NULL, NULL, 0},
  };
  for (size_t i = 0; i < LD_ARRAY_SIZE(cases); i++) {
    rt_route r;
    int rc = rt_parse(cases[i].path, &r);
    if (rc != cases[i].rc || r.kind != cases[i].kind)
      fail_msg("%s: rc %d kind %d", cases[i].path, rc, r.kind);
    if (cases[i].name) assert_string_equal(r.name, cases[i].name);
    if (cases[i].ref) assert_string_equal(r.ref, cases[i].ref);
    rt_route_clear(&r);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_repo_names),
      cmocka_unit_test(test_links_tags_referrers_catalog),
      cmocka_unit_test(test_upload_sessions),
      cmocka_unit_test(test_routes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
