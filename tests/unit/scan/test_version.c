/* Version comparators: one table per ecosystem. The dpkg and rpm tables are the same rows as
 * tests/fixtures/scan/versions-{dpkg,rpm}.txt, which t6000-versions.sh checks against the real
 * dpkg and rpm; every row is also checked in reverse (antisymmetry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "lading/scan.h"

typedef struct {
  const char *a;
  int want;
  const char *b;
} vcase;

static void check_table(ld_version_scheme s, const vcase *c, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int r = ld_vercmp(s, c[i].a, c[i].b);
    r = (r > 0) - (r < 0);
    int back = ld_vercmp(s, c[i].b, c[i].a);
    back = (back > 0) - (back < 0);
    if (r != c[i].want || back != -c[i].want)
      fail_msg("scheme %d: %s vs %s: got %d (reverse %d), want %d", s, c[i].a, c[i].b, r, back,
               c[i].want);
  }
}

static void test_dpkg(void **state) {
  static const vcase c[] = {
      {"1.0", -1, "1.1"},
      {"1.0", 0, "1.0"},
      {"1.0", 0, "0:1.0"},
      {"1:1.0", 1, "2.0"},
      {"1.0~rc1", -1, "1.0"},
      {"1.0~rc1", -1, "1.0~rc2"},
      {"1.0~~", -1, "1.0~"},
      {"1.0~", -1, "1.0"},
      {"1.0", -1, "1.0+b1"},
      {"1.0", -1, "1.0a"},
      {"1.0a", -1, "1.0.1"},
      {"1.0-1", -1, "1.0-2"},
      {"1.0-1", -1, "1.0-1.1"},
      {"1.0-10", 1, "1.0-9"},
      {"2.36-9+deb12u3", 1, "2.36-9+deb12u2"},
      {"2.36-9+deb12u1", -1, "2.36-9+deb12u3"},
      {"2.36-9", -1, "2.36-9+deb12u3"},
      {"2.36-8", -1, "2.36-9"},
      {"1.2.3-1~deb12u1", -1, "1.2.3-1"},
      {"001", 0, "1"},
      {"1.01", 0, "1.1"},
      {"1.0-0", 0, "1.0"},
      {"1:0", 1, "0:9"},
      {"1.2.12-r1", 1, "1.2.12"},
      {"7.88.1-10+deb12u5", -1, "7.88.1-10+deb12u7"},
      {"1.0.0~alpha+1", -1, "1.0.0"},
  };
  check_table(LD_VER_DPKG, c, sizeof c / sizeof c[0]);
}

static void test_rpm(void **state) {
  static const vcase c[] = {
      {"1.0", -1, "1.1"},
      {"1.0", 0, "1.0"},
      {"1.0-1", -1, "1.0-2"},
      {"1.0~rc1", -1, "1.0"},
      {"1.0~rc1", -1, "1.0~rc2"},
      {"1.0^", 1, "1.0"},
      {"1.0^git1", 1, "1.0"},
      {"1.0^git1", -1, "1.0.1"},
      {"1.0^git1", -1, "1.01"},
      {"1.0~rc1^git1", -1, "1.0~rc1^git2"},
      {"1.0~rc1^git1", 1, "1.0~rc1"},
      {"1.0a", -1, "1.0.1"},
      {"1.0", -1, "1.0a"},
      {"1.a", -1, "1.1"},
      {"10", 1, "9"},
      {"1.001", 0, "1.1"},
      {"2.34-60.el9", -1, "2.34-83.el9_3.7"},
      {"1:1.0", 1, "2.0"},
      {"0:1.0", 0, "1.0"},
      {"1.0-1.el9", 1, "1.0-1"},
      {"5.1.8-6.el9", -1, "5.1.8-6.el9_1"},
      {"abc", -1, "abd"},
      {"1.0.0", 1, "1.0"},
      {"1_0", 0, "1.0"},
  };
  check_table(LD_VER_RPM, c, sizeof c / sizeof c[0]);
}

static void test_apk(void **state) {
  static const vcase c[] = {
      {"1.2.12-r1", -1, "1.2.12-r2"},
      {"1.2.12-r2", -1, "1.2.13-r0"},
      {"1.2.12-r1", 1, "1.2.12"},
      {"1.0_alpha", -1, "1.0_beta"},
      {"1.0_beta", -1, "1.0_pre"},
      {"1.0_pre", -1, "1.0_rc"},
      {"1.0_rc", -1, "1.0"},
      {"1.0_rc1", -1, "1.0_rc2"},
      {"1.0", -1, "1.0_p1"},
      {"1.0_cvs", -1, "1.0_p1"},
      {"1.0_p1", -1, "1.0a"},
      {"1.0-r1", -1, "1.0_p1"},
      {"1.0a", -1, "1.0b"},
      {"1.0a", -1, "1.0.1"},
      {"1.0", 1, "1"},
      {"1.01", -1, "1.1"},
      {"1.001", -1, "1.01"},
      {"2.0", 1, "1.99.99"},
      {"1.10", 1, "1.9"},
      {"3.0.8-r0", -1, "3.0.12-r0"},
      {"1.2.3", 0, "1.2.3"},
      {"20230101", -1, "20240101"},
  };
  check_table(LD_VER_APK, c, sizeof c / sizeof c[0]);
}

/* Maven's own ordering tables (ComparableVersionTest's VERSIONS_QUALIFIER / VERSIONS_NUMBER):
 * each element is less than the next. */
static void check_ascending(ld_version_scheme s, const char **v, size_t n) {
  for (size_t i = 0; i + 1 < n; i++)
    for (size_t j = i + 1; j < n; j++) {
      if (ld_vercmp(s, v[i], v[j]) >= 0) fail_msg("%s should be < %s", v[i], v[j]);
      if (ld_vercmp(s, v[j], v[i]) <= 0) fail_msg("%s should be > %s", v[j], v[i]);
    }
}

static void test_maven(void **state) {
  static const char *qualifiers[] = {"1-alpha2snapshot", "1-alpha2", "1-alpha-123", "1-beta-2",
                                     "1-beta123", "1-m2", "1-m11", "1-rc", "1-cr2", "1-rc123",
                                     "1-SNAPSHOT", "1", "1-sp", "1-sp2", "1-sp123", "1-abc",
                                     "1-def", "1-pom-1", "1-1-snapshot", "1-1", "1-2", "1-123"};
  static const char *numbers[] = {"2.0", "2-1", "2.0.a", "2.0.0.a", "2.0.2", "2.0.123",
                                  "2.1.0", "2.1-a", "2.1b", "2.1-c", "2.1-1", "2.1.0.1", "2.2",
                                  "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2",
                                  "11.m11", "11", "11.a", "11b", "11c", "11m"};
  check_ascending(LD_VER_MAVEN, qualifiers, sizeof qualifiers / sizeof qualifiers[0]);
  check_ascending(LD_VER_MAVEN, numbers, sizeof numbers / sizeof numbers[0]);
  static const vcase c[] = {
      {"1", 0, "1.0"},          {"1", 0, "1.0.0"},      {"1.0", 0, "1.0-ga"},
      {"1-final", 0, "1"},      {"1.0.0-release", 0, "1"}, {"1a1", 0, "1-alpha-1"},
      {"2.14.1", -1, "2.15.0"}, {"2.15.0", -1, "2.16.0"}, {"2.17.0", 1, "2.16.0"},
      {"2.0-beta9", -1, "2.0"}, {"2.0-rc1", -1, "2.0"},   {"2.3.1", 1, "2.3.0"},
      {"1.0-SNAPSHOT", -1, "1.0"}, {"2.19.0", 1, "2.17.1"},
  };
  check_table(LD_VER_MAVEN, c, sizeof c / sizeof c[0]);
}

static void test_pep440(void **state) {
  /* The ordering example of PEP 440 ("Summary of permitted suffixes and relative ordering"). */
  static const char *order[] = {"1.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456",
                                "1.0a12", "1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456",
                                "1.0b2.post345", "1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5",
                                "1.0+abc.7", "1.0+5", "1.0.post456.dev34", "1.0.post456",
                                "1.0.15", "1.1.dev1"};
  check_ascending(LD_VER_PEP440, order, sizeof order / sizeof order[0]);
  static const vcase c[] = {
      {"1.0", 0, "1"},           {"1.0.0", 0, "1"},        {"1.0alpha1", 0, "1.0a1"},
      {"1.0-beta.2", 0, "1.0b2"}, {"1.0c1", 0, "1.0rc1"},  {"1.0-1", 0, "1.0.post1"},
      {"1!0.5", 1, "2.0"},        {"v2.0", 0, "2.0"},       {"2.0.0", -1, "2.0.1"},
      {"1.0.dev1", -1, "1.0a1"},  {"1.0rev2", 0, "1.0.post2"}, {"2.31.0", 1, "2.3.0"},
  };
  check_table(LD_VER_PEP440, c, sizeof c / sizeof c[0]);
}

static void test_semver(void **state) {
  /* semver.org 2.0.0, item 11. */
  static const char *order[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                                "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",
                                "1.0.0", "2.0.0", "2.1.0", "2.1.1"};
  check_ascending(LD_VER_SEMVER, order, sizeof order / sizeof order[0]);
  static const vcase c[] = {
      {"1.0.0+build.1", 0, "1.0.0+build.2"}, {"v1.2.3", 0, "1.2.3"}, {"1.10.0", 1, "1.9.0"},
      {"4.17.20", -1, "4.17.21"},            {"0.0.1", 1, "0.0.0"},
  };
  check_table(LD_VER_SEMVER, c, sizeof c / sizeof c[0]);
}

static void test_ecosystem_scheme(void **state) {
  assert_int_equal(ld_version_scheme_of_ecosystem("Debian:12"), LD_VER_DPKG);
  assert_int_equal(ld_version_scheme_of_ecosystem("Alpine:v3.19"), LD_VER_APK);
  assert_int_equal(ld_version_scheme_of_ecosystem("Red Hat:enterprise_linux:9::baseos"), LD_VER_RPM);
  assert_int_equal(ld_version_scheme_of_ecosystem("Maven"), LD_VER_MAVEN);
  assert_int_equal(ld_version_scheme_of_ecosystem("PyPI"), LD_VER_PEP440);
  assert_int_equal(ld_version_scheme_of_ecosystem("npm"), LD_VER_SEMVER);
  assert_int_equal(ld_version_scheme_of_ecosystem("Debianish"), LD_VER_UNKNOWN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dpkg),   cmocka_unit_test(test_rpm),    cmocka_unit_test(test_apk),
      cmocka_unit_test(test_maven),  cmocka_unit_test(test_pep440), cmocka_unit_test(test_semver),
      cmocka_unit_test(test_ecosystem_scheme),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
