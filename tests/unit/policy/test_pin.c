/* Pin scanning and rewriting: sites are exact byte ranges (quotes, anchors, CRLF, multi-byte
 * characters before them), only workload images count, rewriting touches nothing else, and the
 * diff is a valid unified diff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "lading/policy.h"

static ld_pin_scan scan(const char *name, const char *text) {
  ld_pin_scan s;
  ld_error *err = NULL;
  if (ld_pin_scan_buf(name, ld_pin_format_of(name), text, strlen(text), &s, &err) < 0)
    fail_msg("%s", err->msg);
  return s;
}

static void test_quoting_and_offsets(void **state) {
  const char *y = "kind: Pod\n"
                  "spec:\n"
                  "  containers:\n"
                  "  - image: \"a.io/x:1\"  # c\n"
                  "  - {image: 'a.io/y:2'}\n"
                  "  initContainers:\n"
                  "  - image: a.io/z\n";
  ld_pin_scan s = scan("p.yaml", y);
  assert_int_equal(s.n_sites, 3);
  assert_string_equal(s.sites[0].value, "a.io/x:1");
  assert_int_equal(s.sites[0].line, 4);
  assert_memory_equal(y + s.sites[0].offset, "a.io/x:1\"", 9);
  assert_string_equal(s.sites[1].value, "a.io/y:2");
  assert_string_equal(s.sites[2].where, "Pod/?: initContainers[0].image");
  char *repl[3] = {"A", NULL, "C"};
  size_t n;
  char *out = ld_pin_apply(y, strlen(y), s.sites, s.n_sites, repl, &n);
  assert_string_equal(out, "kind: Pod\nspec:\n  containers:\n  - image: \"A\"  # c\n"
                           "  - {image: 'a.io/y:2'}\n  initContainers:\n  - image: C\n");
  free(out);
  ld_pin_scan_clear(&s);
}

static void test_multibyte_crlf_anchor(void **state) {
  const char *y = "# \xc3\xa9\xe2\x82\xac\xf0\x9f\x9a\x80\r\n"
                  "x: &img  a.io/w:3\r\n"
                  "services:\r\n"
                  "  s1: {image: *img}\r\n"
                  "  s2:\r\n"
                  "    image: *img\r\n";
  ld_pin_scan s = scan("compose.yaml", y);
  assert_int_equal(s.n_sites, 1); /* one anchor, two aliases */
  assert_memory_equal(y + s.sites[0].offset, "a.io/w:3\r\n", 10);
  assert_int_equal(s.sites[0].line, 2);
  ld_pin_scan_clear(&s);
}

static void test_kinds(void **state) {
  const char *y = "kind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
                  "          containers: [{image: a.io/cron:1}]\n"
                  "---\nkind: ConfigMap\ndata:\n  image: a.io/no:1\n"
                  "---\nkind: Service\nspec:\n  containers: [{image: a.io/no:2}]\n"
                  "---\n"
                  "kind: DeploymentList\nitems:\n- kind: Deployment\n  spec:\n    template:\n"
                  "      spec:\n        ephemeralContainers: [{image: a.io/eph:1}]\n";
  ld_pin_scan s = scan("k.yaml", y);
  assert_int_equal(s.n_sites, 2);
  assert_string_equal(s.sites[0].value, "a.io/cron:1");
  assert_string_equal(s.sites[1].value, "a.io/eph:1");
  ld_pin_scan_clear(&s);
}

static void test_unrewritable_scalars_warn(void **state) {
  const char *y = "kind: Pod\nspec:\n  containers:\n  - image: \"a.io/\\x41:1\"\n  - image: |\n"
                  "      a.io/b:1\n  - image: [x]\n";
  ld_pin_scan s = scan("w.yaml", y);
  assert_int_equal(s.n_sites, 0);
  assert_int_equal(s.n_warnings, 3);
  assert_non_null(strstr(s.warnings[0], "cannot be rewritten in place"));
  ld_pin_scan_clear(&s);
}

static void test_dockerfile(void **state) {
  const char *d = "FROM --platform=linux/amd64 a.io/b:1 AS base\r\n"
                  "  from base\n"
                  "FROM scratch\n"
                  "FROM ${X}\n"
                  "FROM\ta.io/c\n"
                  "FROM \\\n  a.io/d:1\n";
  ld_pin_scan s = scan("build/Containerfile.prod", d);
  assert_int_equal(s.n_sites, 2);
  assert_string_equal(s.sites[0].value, "a.io/b:1");
  assert_string_equal(s.sites[1].value, "a.io/c");
  assert_int_equal(s.sites[1].line, 5);
  assert_int_equal(s.n_warnings, 2);
  ld_pin_scan_clear(&s);
  assert_int_equal(ld_pin_format_of("x/app.Dockerfile"), LD_PIN_DOCKERFILE);
  assert_int_equal(ld_pin_format_of("x/Dockerfile.yaml.d"), LD_PIN_DOCKERFILE);
  assert_int_equal(ld_pin_format_of("deploy.yaml"), LD_PIN_YAML);
}

static void test_problems(void **state) {
  assert_int_equal(ld_pin_problems("a.io/x:1"), LD_REF_UNPINNED);
  assert_int_equal(ld_pin_problems("a.io/x"), LD_REF_UNPINNED | LD_REF_TAGLESS);
  assert_int_equal(ld_pin_problems("a.io/x:latest"), LD_REF_UNPINNED | LD_REF_LATEST);
  assert_int_equal(ld_pin_problems("a.io/x@sha256:61d5468249880e5762d74be4cddd9d0483077490dd02610a1e9327eeed77fe9e"), 0);
  assert_int_equal(ld_pin_problems("a.io/x:latest@sha256:61d5468249880e5762d74be4cddd9d0483077490dd02610a1e9327eeed77fe9e"), LD_REF_LATEST);
  assert_int_equal(ld_pin_problems("{{ .Values.image }}"), LD_REF_INVALID);
  char *t = ld_pin_problems_text(LD_REF_UNPINNED | LD_REF_TAGLESS);
  assert_string_equal(t, "not pinned to a digest; no tag (implicitly latest)");
  free(t);
}

/* Found by fuzz_pin: a NUL inside a reference cut its value short of the bytes pin rewrites. */
static void test_nul_byte_refused(void **state) {
  static const char df[] = "FROM registry.exam\0ple.com/a:1\n";
  for (int f = LD_PIN_YAML; f <= LD_PIN_DOCKERFILE; f++) {
    ld_pin_scan s;
    ld_error *err = NULL;
    assert_int_equal(ld_pin_scan_buf("Dockerfile", (ld_pin_format) f, df, sizeof df - 1, &s, &err), -1);
    assert_string_equal(err->msg, "Dockerfile: not a text file (NUL byte at offset 18)");
    ld_error_free(err);
  }
}

static void test_diff(void **state) {
  const char *a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20";
  const char *b = "1\n2\nX\n4\n5\n6\n7\n8\nY\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\nZ";
  ld_buf out = {0};
  ld_pin_diff("f", a, strlen(a), b, strlen(b), &out);
  char *s = ld_buf_steal(&out);
  assert_string_equal(s, "--- a/f\n+++ b/f\n"
                         "@@ -1,12 +1,12 @@\n 1\n 2\n-3\n+X\n 4\n 5\n 6\n 7\n 8\n-9\n+Y\n 10\n 11\n 12\n"
                         "@@ -17,4 +17,4 @@\n 17\n 18\n 19\n-20\n\\ No newline at end of file\n"
                         "+Z\n\\ No newline at end of file\n");
  free(s);
  ld_pin_diff("f", a, strlen(a), a, strlen(a), &out);
  assert_int_equal(out.len, 0);
  ld_buf_free(&out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quoting_and_offsets), cmocka_unit_test(test_multibyte_crlf_anchor),
      cmocka_unit_test(test_kinds),              cmocka_unit_test(test_unrewritable_scalars_warn),
      cmocka_unit_test(test_dockerfile),         cmocka_unit_test(test_problems),
      cmocka_unit_test(test_diff),               cmocka_unit_test(test_nul_byte_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
