/* The layer reader: the same tar read plain, gzip and zstd gives the same entries and diff_id;
 * whiteouts and opaque markers are recognised; a compression that contradicts the media type,
 * a truncated stream and a wrong digest are errors naming the layer. Layers are built in memory
 * with libarchive, zlib and libzstd. */
#include <archive.h>
#include <archive_entry.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <cmocka.h>
#include "lading/digest.h"
#include "lading/layer.h"
#include "lading/util.h"

static void add(struct archive *a, const char *name, mode_t type, const char *data) {
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, name);
  archive_entry_set_mode(e, type | 0644);
  archive_entry_set_size(e, data ? (la_int64_t) strlen(data) : 0);
  archive_write_header(a, e);
  if (data) archive_write_data(a, data, strlen(data));
  archive_entry_free(e);
}

static unsigned char *make_tar(size_t *len) {
  static unsigned char buf[1 << 16];
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  size_t used = 0;
  archive_write_open_memory(a, buf, sizeof buf, &used);
  add(a, "./etc/", AE_IFDIR, NULL);
  add(a, "./etc/hello", AE_IFREG, "hello world\n");
  add(a, "etc/.wh.gone", AE_IFREG, "");
  add(a, "var/cache/.wh..wh..opq", AE_IFREG, "");
  archive_write_close(a);
  archive_write_free(a);
  *len = used;
  return buf;
}

static unsigned char *gzip_it(const unsigned char *in, size_t len, size_t *out_len) {
  z_stream z = {0};
  deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  unsigned char *out = ld_xmalloc(len + 1024);
  z.next_in = (unsigned char *) in;
  z.avail_in = (uInt) len;
  z.next_out = out;
  z.avail_out = (uInt) (len + 1024);
  deflate(&z, Z_FINISH);
  *out_len = z.total_out;
  deflateEnd(&z);
  return out;
}

static unsigned char *zstd_it(const unsigned char *in, size_t len, size_t *out_len) {
  size_t cap = ZSTD_compressBound(len);
  unsigned char *out = ld_xmalloc(cap);
  *out_len = ZSTD_compress(out, cap, in, len, 3);
  return out;
}

/* Reads a whole layer; returns entries seen as "path|w|o" lines, and the diff_id. */
static int read_layer(const void *blob, size_t len, const char *mt, const char *digest,
                      char *listing, char diff_id[LD_DIGEST_MAX], ld_error **err) {
  ld_layer_reader *l;
  ld_reader *r = ld_reader_from_mem(blob, len, true);
  if (ld_layer_open(r, mt, digest, "layer test", &l, err) < 0) return -1;
  ld_layer_entry e;
  int rc;
  listing[0] = 0;
  while ((rc = ld_layer_next(l, &e, err)) == 1) {
    strcat(listing, e.path);
    strcat(listing, e.whiteout ? "|w" : e.opaque ? "|o" : "|");
    strcat(listing, "\n");
    if (!strcmp(e.path, "etc/hello")) {
      char data[64] = {0};
      assert_int_equal(ld_layer_read_data(l, data, sizeof data, NULL), 12);
      assert_string_equal(data, "hello world\n");
    }
  }
  if (rc == 0) rc = ld_layer_finish(l, diff_id, NULL, err);
  ld_layer_close(l);
  return rc;
}

static void test_three_compressions(void **state) {
  size_t tlen, glen, zlen;
  unsigned char *tar = make_tar(&tlen);
  unsigned char *gz = gzip_it(tar, tlen, &glen);
  unsigned char *zs = zstd_it(tar, tlen, &zlen);
  char expect_diff[LD_DIGEST_MAX], gz_digest[LD_DIGEST_MAX];
  ld_digest_buf(LD_SHA256, tar, tlen, expect_diff);
  ld_digest_buf(LD_SHA256, gz, glen, gz_digest);
  const char *want = "etc|\netc/hello|\netc/gone|w\nvar/cache|o\n";
  char listing[512], diff[LD_DIGEST_MAX];
  assert_int_equal(read_layer(tar, tlen, "application/vnd.oci.image.layer.v1.tar", NULL, listing, diff, NULL), 0);
  assert_string_equal(listing, want);
  assert_string_equal(diff, expect_diff);
  assert_int_equal(read_layer(gz, glen, "application/vnd.oci.image.layer.v1.tar+gzip", gz_digest, listing, diff, NULL), 0);
  assert_string_equal(listing, want);
  assert_string_equal(diff, expect_diff);
  assert_int_equal(read_layer(zs, zlen, "application/vnd.oci.image.layer.v1.tar+zstd", NULL, listing, diff, NULL), 0);
  assert_string_equal(diff, expect_diff);
  assert_int_equal(read_layer(gz, glen, NULL, NULL, listing, diff, NULL), 0); /* sniffed */
  assert_string_equal(diff, expect_diff);
  free(gz);
  free(zs);
}

static void expect_fail(const void *blob, size_t len, const char *mt, const char *digest,
                        const char *reason) {
  char listing[512], diff[LD_DIGEST_MAX];
  ld_error *err = NULL;
  assert_int_equal(read_layer(blob, len, mt, digest, listing, diff, &err), -1);
  assert_non_null(err);
  if (!strstr(err->msg, reason) || !strstr(err->msg, "layer test"))
    fail_msg("\"%s\" lacks \"%s\"", err->msg, reason);
  ld_error_free(err);
}

static void test_failures(void **state) {
  size_t tlen, glen, zlen;
  unsigned char *tar = make_tar(&tlen);
  unsigned char *gz = gzip_it(tar, tlen, &glen);
  unsigned char *zs = zstd_it(tar, tlen, &zlen);
  expect_fail(zs, zlen, "application/vnd.oci.image.layer.v1.tar+gzip", NULL,
              "says gzip but the data is zstd");
  expect_fail(gz, glen, "application/vnd.oci.image.layer.v1.tar", NULL,
              "says uncompressed but the data is gzip");
  expect_fail(gz, glen / 2, "application/vnd.oci.image.layer.v1.tar+gzip", NULL, "truncated gzip");
  expect_fail(zs, zlen - 4, "application/vnd.oci.image.layer.v1.tar+zstd", NULL, "zstd");
  expect_fail(gz, glen, NULL,
              "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
              "digest mismatch");
  unsigned char *bad = ld_xmalloc(glen);
  memcpy(bad, gz, glen);
  bad[glen / 2] ^= 0xff;
  expect_fail(bad, glen, NULL, NULL, "gzip");
  free(bad);
  free(gz);
  free(zs);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_three_compressions),
                                     cmocka_unit_test(test_failures)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
