/* References: a table of valid inputs with their normalised and familiar forms, and a table of
 * invalid inputs with the reason each must give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "lading/reference.h"

static const struct {
  const char *in, *full, *familiar;
} valid[] = {
    {"alpine", "docker.io/library/alpine", "alpine"},
    {"alpine:3.19", "docker.io/library/alpine:3.19", "alpine:3.19"},
    {"library/alpine:3.19", "docker.io/library/alpine:3.19", "alpine:3.19"},
    {"docker.io/library/alpine", "docker.io/library/alpine", "alpine"},
    {"index.docker.io/library/alpine", "docker.io/library/alpine", "alpine"},
    {"user/app:v1.2", "docker.io/user/app:v1.2", "user/app:v1.2"},
    {"localhost/app", "localhost/app", "localhost/app"},
    {"localhost:5000/a/b/c:tag", "localhost:5000/a/b/c:tag", "localhost:5000/a/b/c:tag"},
    {"127.0.0.1:5000/r:t", "127.0.0.1:5000/r:t", "127.0.0.1:5000/r:t"},
    {"quay.io/prometheus/node-exporter:v1.7.0", "quay.io/prometheus/node-exporter:v1.7.0",
     "quay.io/prometheus/node-exporter:v1.7.0"},
    {"registry.k8s.io/pause@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "registry.k8s.io/pause@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "registry.k8s.io/pause@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"nginx:1.25@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "docker.io/library/nginx:1.25@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "nginx:1.25@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"a.b-c/e--f.g_h__i:T_a.g-1", "a.b-c/e--f.g_h__i:T_a.g-1", "a.b-c/e--f.g_h__i:T_a.g-1"},
    {"my_registry/x", "docker.io/my_registry/x", "my_registry/x"},
    {"[::1]:5000/x", "[::1]:5000/x", "[::1]:5000/x"},
    {"Example.com/x", "Example.com/x", "Example.com/x"},
};

static const struct {
  const char *in, *reason;
} invalid[] = {
    {"", "empty"},
    {"Alpine", "lowercase"},
    {"alpine:", "invalid tag"},
    {"a.b_c/x", "invalid registry host"},
    {"alpine:-bad", "invalid tag"},
    {"alpine@sha256:abc", "invalid digest"},
    {"alpine@md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported algorithm"},
    {"a//b", "invalid path component"},
    {"a/b/", "invalid path component"},
    {"-a/b", "invalid path component"},
    {"-a.com/b", "invalid registry host"},
    {"a_/b", "invalid path component"},
    {"host:port/x", "invalid registry host"},
    {"x/.y", "invalid path component"},
};

static void test_valid(void **state) {
  for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
    ld_reference r;
    ld_error *err = NULL;
    if (ld_reference_parse(valid[i].in, &r, &err) < 0) fail_msg("%s: %s", valid[i].in, err->msg);
    char *full = ld_reference_format(&r), *fam = ld_reference_familiar(&r);
    assert_string_equal(full, valid[i].full);
    assert_string_equal(fam, valid[i].familiar);
    /* round trip: parsing the full form gives the same full form */
    ld_reference r2;
    assert_int_equal(ld_reference_parse(full, &r2, NULL), 0);
    char *full2 = ld_reference_format(&r2);
    assert_string_equal(full, full2);
    free(full);
    free(fam);
    free(full2);
    ld_reference_clear(&r);
    ld_reference_clear(&r2);
  }
}

static void test_invalid(void **state) {
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    ld_reference r;
    ld_error *err = NULL;
    int rc = ld_reference_parse(invalid[i].in, &r, &err);
    if (rc == 0) fail_msg("\"%s\" parsed but must be rejected", invalid[i].in);
    assert_non_null(err);
    if (!strstr(err->msg, invalid[i].reason))
      fail_msg("\"%s\": message \"%s\" lacks \"%s\"", invalid[i].in, err->msg, invalid[i].reason);
    ld_error_free(err);
  }
}

static void test_length_limits(void **state) {
  char name[300];
  memset(name, 'a', sizeof name);
  name[256] = 0; /* docker.io/library/ + 256 > 255 */
  ld_error *err = NULL;
  ld_reference r;
  assert_int_equal(ld_reference_parse(name, &r, &err), -1);
  assert_non_null(strstr(err->msg, "longer than 255"));
  ld_error_free(err);
  char tag[140] = "alpine:";
  memset(tag + 7, 'x', 129);
  tag[136] = 0;
  err = NULL;
  assert_int_equal(ld_reference_parse(tag, &r, &err), -1);
  assert_non_null(strstr(err->msg, "invalid tag"));
  ld_error_free(err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_invalid),
      cmocka_unit_test(test_length_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
