/* Digests: known vectors, streaming equals one-shot, validation rejects each malformed form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "lading/digest.h"

static void test_known_vectors(void **state) {
  char out[LD_DIGEST_MAX];
  ld_digest_buf(LD_SHA256, "", 0, out);
  assert_string_equal(out, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  ld_digest_buf(LD_SHA512, "abc", 3, out);
  assert_string_equal(out, "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                           "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

static void test_streaming_equals_oneshot(void **state) {
  char a[LD_DIGEST_MAX], b[LD_DIGEST_MAX];
  const char *msg = "the quick brown fox jumps over the lazy dog";
  ld_digest_buf(LD_SHA256, msg, strlen(msg), a);
  ld_hasher *h = ld_hasher_new(LD_SHA256);
  for (size_t i = 0; i < strlen(msg); i++) ld_hasher_update(h, msg + i, 1);
  assert_int_equal(ld_hasher_bytes(h), strlen(msg));
  ld_hasher_final(h, b);
  ld_hasher_free(h);
  assert_string_equal(a, b);
}

static void test_validate(void **state) {
  static const struct {
    const char *s;
    int ok;
  } cases[] = {
      {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 1},
      {"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", 0},
      {"sha256:e3b0", 0},
      {"md5:d41d8cd98f00b204e9800998ecf8427e", 0},
      {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 0},
      {"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g", 0},
      {"sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e", 1},
      {"", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ld_error *err = NULL;
    int r = ld_digest_validate(cases[i].s, &err);
    if (cases[i].ok) {
      assert_int_equal(r, 0);
      assert_null(err);
    } else {
      assert_int_equal(r, -1);
      assert_non_null(err);
      assert_non_null(strstr(err->msg, "invalid digest"));
      ld_error_free(err);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_vectors),
      cmocka_unit_test(test_streaming_equals_oneshot),
      cmocka_unit_test(test_validate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
