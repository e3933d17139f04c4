/* The store: verified ingest (a mismatch leaves nothing), names, resolution by name, familiar
 * name, digest and prefix, and meta.db's first-seen/last-used rows. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "lading/fs.h"
#include "lading/store.h"
#include "lading/util.h"

static int count_files(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *de;
  while (d && (de = readdir(d)))
    if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))) n++;
  if (d) closedir(d);
  return n;
}

static void test_ingest(void **state) {
  char root[] = "/tmp/lading-store-XXXXXX";
  assert_non_null(mkdtemp(root));
  ld_store *s;
  assert_int_equal(ld_store_open(root, &s, NULL), 0);
  char d[LD_DIGEST_MAX];
  assert_int_equal(ld_store_put_blob_mem(s, "hello", 5, d, NULL), 0);
  assert_string_equal(d, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  assert_true(ld_store_has_blob(s, d));
  /* A stream that does not match its claimed digest leaves nothing behind. */
  const char *claimed = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  ld_reader *r = ld_reader_from_mem("not empty", 9, true);
  ld_error *err = NULL;
  assert_int_equal(ld_store_put_blob(s, r, claimed, -1, NULL, &err), -1);
  ld_reader_close(r);
  assert_non_null(strstr(err->msg, "digest mismatch"));
  ld_error_free(err);
  assert_false(ld_store_has_blob(s, claimed));
  char *ingest = ld_path_join(root, "ingest");
  assert_int_equal(count_files(ingest), 0);
  /* Truncated: fewer bytes than the declared size. */
  r = ld_reader_from_mem("hell", 4, true);
  err = NULL;
  assert_int_equal(ld_store_put_blob(s, r, d, 5, NULL, &err), -1);
  ld_reader_close(r);
  assert_non_null(strstr(err->msg, "truncated"));
  ld_error_free(err);
  assert_int_equal(count_files(ingest), 0);
  free(ingest);
  ld_store_close(s);
  ld_rm_rf(root, NULL);
}

static void test_names(void **state) {
  char root[] = "/tmp/lading-store-XXXXXX";
  assert_non_null(mkdtemp(root));
  ld_store *s;
  assert_int_equal(ld_store_open(root, &s, NULL), 0);
  const char *m = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                  "\"config\":{\"mediaType\":\"a\",\"digest\":\"sha256:2cf24dba5fb0a30e26e83b2ac5b9"
                  "e29e1b161e5c1fa7425e73043362938b9824\",\"size\":5},\"layers\":[]}";
  char d[LD_DIGEST_MAX];
  assert_int_equal(ld_store_put_blob_mem(s, m, strlen(m), d, NULL), 0);
  ld_descriptor desc = {.media_type = (char *) "application/vnd.oci.image.manifest.v1+json",
                        .digest = d, .size = (int64_t) strlen(m)};
  assert_int_equal(ld_store_tag(s, "app", &desc, NULL), 0);
  assert_int_equal(ld_store_tag(s, "quay.io/x/app:v1", &desc, NULL), 0);
  ld_descriptor out;
  char *canon;
  assert_int_equal(ld_store_resolve(s, "app:latest", &out, &canon, NULL), 0);
  assert_string_equal(canon, "docker.io/library/app:latest");
  assert_string_equal(out.digest, d);
  free(canon);
  ld_descriptor_clear(&out);
  assert_int_equal(ld_store_resolve(s, "docker.io/library/app", &out, NULL, NULL), 0);
  ld_descriptor_clear(&out);
  char prefix[20];
  snprintf(prefix, sizeof prefix, "%.12s", d + 7);
  assert_int_equal(ld_store_resolve(s, prefix, &out, NULL, NULL), 0);
  assert_string_equal(out.digest, d);
  ld_descriptor_clear(&out);
  assert_int_equal(ld_store_resolve(s, d, &out, NULL, NULL), 0);
  ld_descriptor_clear(&out);
  ld_error *err = NULL;
  assert_int_equal(ld_store_resolve(s, "nothere", &out, NULL, &err), -1);
  assert_int_equal(err->code, LD_ENOTFOUND);
  ld_error_free(err);
  ld_store_ref *refs;
  size_t n;
  assert_int_equal(ld_store_list(s, &refs, &n, NULL), 0);
  assert_int_equal(n, 2);
  ld_store_refs_free(refs, n);
  assert_int_equal(ld_store_untag(s, "app", NULL), 0);
  assert_int_equal(ld_store_list(s, &refs, &n, NULL), 0);
  assert_int_equal(n, 1);
  assert_string_equal(refs[0].name, "quay.io/x/app:v1");
  ld_store_refs_free(refs, n);
  /* meta.db knows when it was first seen */
  sqlite3_stmt *st;
  sqlite3_prepare_v2(ld_store_meta(s), "SELECT first_seen, last_used FROM images WHERE digest=?",
                     -1, &st, NULL);
  sqlite3_bind_text(st, 1, d, -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_true(sqlite3_column_int64(st, 0) > 0);
  sqlite3_finalize(st);
  ld_store_close(s);
  ld_rm_rf(root, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_ingest), cmocka_unit_test(test_names)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
