/* Policy files: the documented shape parses, every mistake is an error naming file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "lading/policy.h"
#include "lading/util.h"

static char *key_dir(void) { /* tests/fixtures/sigstore relative to the build directory */
  char *dir = ld_xstrdup(__FILE__);
  *strrchr(dir, '/') = 0;
  char *p = ld_xasprintf("%s/../../fixtures/sigstore", dir);
  free(dir);
  return p;
}

static void test_parse(void **state) {
  const char *y = "# comment\nregistries:\n  - a.io\n  - b.io/team\nrequireDigest: yes\n"
                  "signatures:\n  keys: [skopeo-signed/public-key.pem, keys/skopeo-1.13.3-generated.pub]\n";
  char *dir = key_dir();
  ld_policy p;
  ld_error *err = NULL;
  if (ld_policy_parse("p.yaml", y, strlen(y), dir, &p, &err) < 0) fail_msg("%s", err->msg);
  assert_int_equal(p.n_registries, 2);
  assert_string_equal(p.registries[1], "b.io/team");
  assert_true(p.require_digest);
  assert_int_equal(p.n_keys, 2);
  assert_string_equal(ld_key_type(p.keys[0]), "ecdsa-p256");
  ld_policy_clear(&p);
  const char *empty = "";
  assert_int_equal(ld_policy_parse("e.yaml", empty, 0, dir, &p, NULL), 0);
  assert_false(p.registries_set);
  ld_policy_clear(&p);
  free(dir);
}

static void test_errors(void **state) {
  static const struct {
    const char *yaml, *msg;
  } cases[] = {
      {"registries: a.io\n", "x.yaml:1: registries must be a list"},
      {"registries: [a.io, [b]]\n", "x.yaml:1: registries entries must be non-empty strings"},
      {"requireDigest: 1\n", "x.yaml:1: requireDigest must be true or false"},
      {"\n\nsignature:\n  keys: [a]\n", "x.yaml:3: unknown key \"signature\""},
      {"signatures:\n  key: [a]\n", "x.yaml:2: unknown key under signatures"},
      {"signatures:\n  keys: []\n", "signatures.keys lists no key"},
      {"- a\n", "x.yaml:1: the policy must be a mapping"},
      {"registries: [\n", "x.yaml:2: YAML"},
      {"signatures: {keys: [/nonexistent.pub]}\n", "/nonexistent.pub"},
  };
  for (size_t i = 0; i < LD_ARRAY_SIZE(cases); i++) {
    ld_policy p;
    ld_error *err = NULL;
    if (ld_policy_parse("x.yaml", cases[i].yaml, strlen(cases[i].yaml), ".", &p, &err) == 0)
      fail_msg("case %zu accepted", i);
    if (!strstr(err->msg, cases[i].msg)) fail_msg("case %zu: %s", i, err->msg);
    ld_error_free(err);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_parse), cmocka_unit_test(test_errors)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
