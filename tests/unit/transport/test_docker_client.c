/* Registry client parsers: WWW-Authenticate challenges, Retry-After, Link pagination, loopback
 * detection (what decides plain http). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "lading/registry_client.h"

static void test_challenge_bearer(void **state) {
  ld_auth_challenge c;
  assert_int_equal(ld_auth_challenge_parse(
                       "Bearer realm=\"https://auth.example/token\",service=\"registry.example\","
                       "scope=\"repository:a/b:pull,push\"",
                       &c, NULL),
                   0);
  assert_string_equal(c.scheme, "bearer");
  assert_string_equal(c.realm, "https://auth.example/token");
  assert_string_equal(c.service, "registry.example");
  assert_string_equal(c.scope, "repository:a/b:pull,push");
  assert_null(c.error);
  ld_auth_challenge_clear(&c);
}

static void test_challenge_basic_and_errors(void **state) {
  ld_auth_challenge c;
  assert_int_equal(ld_auth_challenge_parse("Basic realm=\"r\"", &c, NULL), 0);
  assert_string_equal(c.scheme, "basic");
  assert_string_equal(c.realm, "r");
  ld_auth_challenge_clear(&c);
  assert_int_equal(ld_auth_challenge_parse("Bearer realm=x, error=insufficient_scope", &c, NULL), 0);
  assert_string_equal(c.realm, "x");
  assert_string_equal(c.error, "insufficient_scope");
  ld_auth_challenge_clear(&c);
  ld_error *err = NULL;
  assert_int_equal(ld_auth_challenge_parse("Bearer realm=\"open", &c, &err), -1);
  assert_non_null(err);
  ld_error_free(err);
  err = NULL;
  assert_int_equal(ld_auth_challenge_parse("", &c, &err), -1);
  ld_error_free(err);
}

static void test_retry_after(void **state) {
  assert_int_equal(ld_retry_after_parse("2", 0), 2);
  assert_int_equal(ld_retry_after_parse("0", 0), 0);
  assert_int_equal(ld_retry_after_parse("junk", 0), -1);
  assert_int_equal(ld_retry_after_parse(NULL, 0), -1);
  /* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
  assert_int_equal(ld_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", 784111770), 7);
  assert_int_equal(ld_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", 784111800), 0);
}

static void test_link_next(void **state) {
  char *n = ld_link_next("</v2/a/tags/list?n=2&last=b>; rel=\"next\"");
  assert_string_equal(n, "/v2/a/tags/list?n=2&last=b");
  free(n);
  assert_null(ld_link_next("</x>; rel=\"prev\""));
  assert_null(ld_link_next(NULL));
  n = ld_link_next("</p>; rel=\"prev\", </n>; rel=next");
  assert_string_equal(n, "/n");
  free(n);
}

static void test_loopback(void **state) {
  assert_true(ld_host_is_loopback("127.0.0.1:5000"));
  assert_true(ld_host_is_loopback("localhost"));
  assert_true(ld_host_is_loopback("localhost:80"));
  assert_true(ld_host_is_loopback("[::1]:5000"));
  assert_false(ld_host_is_loopback("quay.io"));
  assert_false(ld_host_is_loopback("127.example.com"));
  assert_false(ld_host_is_loopback("localhost.evil.com"));
  /* Decided by the name as given: *.localhost and hostnames in /etc/hosts are not literals. */
  assert_false(ld_host_is_loopback("reg.localhost:5000"));
  assert_false(ld_host_is_loopback("vm:5000"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_challenge_bearer), cmocka_unit_test(test_challenge_basic_and_errors),
      cmocka_unit_test(test_retry_after),      cmocka_unit_test(test_link_next),
      cmocka_unit_test(test_loopback),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
