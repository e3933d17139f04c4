/* Registry auth: htpasswd (bcrypt only), Basic header checks, access-list rules and the
 * defaults without a list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "registry/auth.h"

#define ALICE "alice:$2y$05$7KmLP3ENL00yIF5vVtNtPuq/x64JjPPqPicHx8AjenIUDqpBbLU7O\n"

static void test_htpasswd_and_basic(void **state) {
  ra_auth a;
  assert_int_equal(ra_load(&a, NULL, NULL, NULL), 0);
  assert_int_equal(ra_parse_htpasswd(&a, "# users\n" ALICE, "h", NULL), 0);
  char *user = NULL;
  assert_int_equal(ra_authenticate(&a, "Basic YWxpY2U6c2VjcmV0", &user), 1);
  assert_string_equal(user, "alice");
  free(user);
  /* second time from the cache */
  assert_int_equal(ra_authenticate(&a, "Basic YWxpY2U6c2VjcmV0", &user), 1);
  free(user);
  assert_int_equal(ra_authenticate(&a, "Basic YWxpY2U6d3Jvbmc=", &user), -1);
  assert_null(user);
  assert_int_equal(ra_authenticate(&a, NULL, &user), 0);
  assert_int_equal(ra_authenticate(&a, "Bearer x", &user), -1);
  assert_int_equal(ra_authenticate(&a, "Basic !!!!", &user), -1);
  assert_int_equal(ra_authenticate(&a, "Basic Ym9iOnNlY3JldA==", &user), -1); /* bob */
  /* without an access list: authenticated users may do everything, anonymous nothing */
  assert_int_equal(ra_permissions(&a, "alice", "x/y"), RA_READ | RA_WRITE);
  assert_int_equal(ra_permissions(&a, NULL, "x/y"), 0);
  ra_free(&a);
}

static void test_htpasswd_rejects_non_bcrypt(void **state) {
  ra_auth a;
  ra_load(&a, NULL, NULL, NULL);
  ld_error *err = NULL;
  assert_int_equal(ra_parse_htpasswd(&a, "bob:$apr1$abc$def\n", "pw", &err), -1);
  assert_non_null(strstr(err->msg, "pw:1: user bob: only bcrypt"));
  ld_error_free(err);
  err = NULL;
  assert_int_equal(ra_parse_htpasswd(&a, "nocolon\n", "pw", &err), -1);
  ld_error_free(err);
  ra_free(&a);
}

static void test_access_rules(void **state) {
  ra_auth a;
  ra_load(&a, NULL, NULL, NULL);
  a.have_htpasswd = true;
  const char *text = "alice *        rw # admin\n"
                     "bob   team/*   r\n"
                     "bob   team/x   rw\n" /* never reached: first match wins */
                     "*     shared/* r\n"
                     "anonymous public/* r\n"
                     "carol secret   -\n";
  assert_int_equal(ra_parse_access(&a, text, "acl", NULL), 0);
  assert_int_equal(ra_permissions(&a, "alice", "any/thing"), RA_READ | RA_WRITE);
  assert_int_equal(ra_permissions(&a, "bob", "team/x"), RA_READ);
  assert_int_equal(ra_permissions(&a, "bob", "team/deep/er"), RA_READ);
  assert_int_equal(ra_permissions(&a, "bob", "other"), 0);
  assert_int_equal(ra_permissions(&a, "carol", "shared/a"), RA_READ);
  assert_int_equal(ra_permissions(&a, "carol", "secret"), 0);
  assert_int_equal(ra_permissions(&a, NULL, "public/a"), RA_READ);
  assert_int_equal(ra_permissions(&a, NULL, "shared/a"), 0);
  assert_true(ra_anonymous_has_any(&a));
  ld_error *err = NULL;
  assert_int_equal(ra_parse_access(&a, "bob team/* rwx\n", "acl", &err), -1);
  assert_non_null(strstr(err->msg, "acl:1:"));
  ld_error_free(err);
  err = NULL;
  assert_int_equal(ra_parse_access(&a, "bob team/*\n", "acl", &err), -1);
  ld_error_free(err);
  ra_free(&a);
}

static void test_open_registry(void **state) {
  ra_auth a;
  ra_load(&a, NULL, NULL, NULL);
  assert_int_equal(ra_permissions(&a, NULL, "x"), RA_READ | RA_WRITE);
  assert_true(ra_anonymous_has_any(&a));
  ra_free(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_htpasswd_and_basic),
      cmocka_unit_test(test_htpasswd_rejects_non_bcrypt),
      cmocka_unit_test(test_access_rules),
      cmocka_unit_test(test_open_registry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
