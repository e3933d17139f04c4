/* CVSS 3.1 base scores, OSV range semantics, the advisory database (import, incremental,
 * rollback), matching, ignore files, report shapes, and symlink resolution inside the root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "lading/json.h"
#include "lading/scan.h"
#include "lading/util.h"
#include "scan/scan_priv.h"

static void test_cvss(void **state) {
  static const struct {
    const char *v;
    double score;
    const char *sev;
  } c[] = {
      {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, "CRITICAL"}, /* CVE-2021-44228 */
      {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "CRITICAL"},  /* CVE-2022-37434 */
      {"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8, "HIGH"},      /* CVE-2023-4911 */
      {"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:H/A:H", 9.0, "CRITICAL"},  /* CVE-2021-45046 */
      {"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H", 7.4, "HIGH"},      /* CVE-2023-0286 */
      {"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "MEDIUM"},    /* typical XSS */
      {"CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.8, "LOW"},
      {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, "NONE"},
      {"CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:C/C:H/I:H/A:H", 6.8, "MEDIUM"},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    double s = ld_cvss3_base_score(c[i].v);
    if (s < c[i].score - 0.001 || s > c[i].score + 0.001) fail_msg("%s: %.1f, want %.1f", c[i].v, s, c[i].score);
    assert_string_equal(ld_cvss3_severity(s), c[i].sev);
  }
  assert_true(ld_cvss3_base_score("CVSS:2.0/AV:N") < 0);
  assert_true(ld_cvss3_base_score("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") < 0);
  assert_true(ld_cvss3_base_score("CVSS:3.1/AV:N/AC:L") < 0);
  assert_int_equal(ld_severity_parse("low**"), LD_SEV_LOW);
  assert_int_equal(ld_severity_parse("unimportant"), LD_SEV_LOW);
  assert_int_equal(ld_severity_parse("Important"), LD_SEV_HIGH);
  assert_int_equal(ld_severity_parse("nope"), -1);
}

static bool affected(const char *json, ld_version_scheme s, const char *v, const char *want_fixed) {
  json_t *j = json_loads(json, 0, NULL);
  assert_non_null(j);
  char *fixed = NULL;
  bool r = ld_osv_affected(j, s, v, &fixed);
  if (want_fixed) {
    assert_non_null(fixed);
    assert_string_equal(fixed, want_fixed);
  }
  free(fixed);
  json_decref(j);
  return r;
}

static void test_osv_ranges(void **state) {
  const char *simple = "{\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"2.36-9+deb12u3\"}]}]}";
  assert_true(affected(simple, LD_VER_DPKG, "2.36-9+deb12u1", "2.36-9+deb12u3"));
  assert_false(affected(simple, LD_VER_DPKG, "2.36-9+deb12u3", NULL));
  assert_false(affected(simple, LD_VER_DPKG, "2.36-9+deb12u14", NULL));
  /* two introduced/fixed pairs in one range, events out of order */
  const char *multi = "{\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"fixed\":\"2.15.0\"},{\"introduced\":\"2.13.0\"},"
                      "{\"introduced\":\"2.0-beta9\"},{\"fixed\":\"2.12.2\"}]}]}";
  assert_true(affected(multi, LD_VER_MAVEN, "2.14.1", "2.15.0"));
  assert_true(affected(multi, LD_VER_MAVEN, "2.12.1", "2.12.2"));
  assert_false(affected(multi, LD_VER_MAVEN, "2.12.2", NULL));
  assert_false(affected(multi, LD_VER_MAVEN, "2.15.0", NULL));
  assert_false(affected(multi, LD_VER_MAVEN, "2.0-beta8", NULL));
  assert_true(affected(multi, LD_VER_MAVEN, "2.0-beta9", NULL));
  /* last_affected is inclusive */
  const char *last = "{\"ranges\":[{\"type\":\"SEMVER\",\"events\":[{\"introduced\":\"1.0.0\"},{\"last_affected\":\"1.4.2\"}]}]}";
  assert_true(affected(last, LD_VER_SEMVER, "1.4.2", NULL));
  assert_false(affected(last, LD_VER_SEMVER, "1.4.3", NULL));
  assert_false(affected(last, LD_VER_SEMVER, "0.9.0", NULL));
  /* limit bounds the range */
  const char *lim = "{\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"limit\":\"3.0\"}]}]}";
  assert_true(affected(lim, LD_VER_PEP440, "2.9", NULL));
  assert_false(affected(lim, LD_VER_PEP440, "3.0", NULL));
  /* the versions list, and GIT ranges ignored */
  const char *vers = "{\"versions\":[\"1.2.3\"],\"ranges\":[{\"type\":\"GIT\",\"events\":[{\"introduced\":\"0\"}]}]}";
  assert_true(affected(vers, LD_VER_SEMVER, "1.2.3", NULL));
  assert_false(affected(vers, LD_VER_SEMVER, "1.2.4", NULL));
  /* no fix: introduced only */
  const char *open = "{\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"}]}]}";
  assert_true(affected(open, LD_VER_DPKG, "99", NULL));
}

static char *write_tmp(const char *dir, const char *name, const char *text) {
  char *p = ld_xasprintf("%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  fputs(text, f);
  fclose(f);
  return p;
}

static const char osv_rec[] =
    "{\"id\":\"GHSA-x\",\"modified\":\"2024-01-01T00:00:00Z\",\"aliases\":[\"CVE-2099-1\"],\"summary\":\"bad thing\","
    "\"severity\":[{\"type\":\"CVSS_V3\",\"score\":\"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"}],"
    "\"affected\":[{\"package\":{\"ecosystem\":\"PyPI\",\"name\":\"Django_REST\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"2.0\"}]}]}]}";

static void test_advdb_import_match(void **state) {
  char dir[] = "/tmp/lading-advdb-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char *dbp = ld_xasprintf("%s/adv.db", dir);
  char *rec = write_tmp(dir, "rec.json", osv_rec);
  char *bad = write_tmp(dir, "bad.json", "{\"id\":");
  ld_advdb *db;
  assert_int_equal(ld_advdb_open(dbp, true, &db, NULL), 0);
  ld_import_stats st;
  char *paths[] = {rec, bad};
  assert_int_equal(ld_advdb_import(db, paths, 1, &st, NULL), 0);
  assert_int_equal(st.added, 1);
  assert_int_equal(ld_advdb_import(db, paths, 1, &st, NULL), 0);
  assert_int_equal(st.unchanged, 1);
  ld_error *err = NULL;
  assert_int_equal(ld_advdb_import(db, paths, 2, &st, &err), -1);
  assert_non_null(strstr(err->msg, "bad.json"));
  ld_error_free(err);
  assert_int_equal(ld_advdb_count(db, "vulns"), 1);

  ld_catalog cat = {0};
  ld_package *p = ld_pkglist_add(&cat.pkgs);
  p->type = ld_xstrdup("pypi"), p->name = ld_xstrdup("django-rest"), p->version = ld_xstrdup("1.9");
  p = ld_pkglist_add(&cat.pkgs);
  p->type = ld_xstrdup("pypi"), p->name = ld_xstrdup("Django.Rest"), p->version = ld_xstrdup("2.0");
  ld_findings f = {0};
  assert_int_equal(ld_match(db, &cat, &f, NULL), 0);
  assert_int_equal(f.n, 1);
  assert_int_equal(f.v[0].pkg, 0);
  assert_string_equal(f.v[0].id, "GHSA-x");
  assert_string_equal(f.v[0].fixed, "2.0");
  assert_int_equal(f.v[0].severity, LD_SEV_CRITICAL);
  assert_string_equal(f.v[0].aliases, "CVE-2099-1");

  /* reports keep their shapes */
  json_t *j = ld_report_json(&cat, &f);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "summary"), "CRITICAL")), 1);
  json_decref(j);
  j = ld_report_sarif(&cat, &f);
  assert_string_equal(ld_json_str(j, "version"), "2.1.0");
  json_decref(j);
  j = ld_report_cyclonedx(&cat, &f);
  assert_int_equal(json_array_size(json_object_get(j, "vulnerabilities")), 1);
  json_decref(j);
  j = ld_report_spdx(&cat);
  assert_int_equal(json_array_size(json_object_get(j, "packages")), 3);
  json_decref(j);

  /* filters */
  ld_strlist ign = {0};
  ld_strlist_add(&ign, "CVE-2099-1");
  ld_findings_filter(&f, &cat, 0, false, &ign);
  assert_int_equal(f.n, 0);
  ld_strlist_clear(&ign);
  ld_findings_clear(&f);
  ld_catalog_clear(&cat);
  ld_advdb_close(db);
  unlink(dbp), unlink(rec), unlink(bad);
  rmdir(dir);
  free(dbp), free(rec), free(bad);
}

static void test_ignore_file(void **state) {
  char dir[] = "/tmp/lading-ign-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char *p = write_tmp(dir, "ign", "# c\nCVE-1\nCVE-2 exp:2024-01-31\n\nCVE-3 exp:2024-02-01 # trailing\n");
  ld_strlist l = {0};
  /* 2024-01-31T12:00Z: CVE-2 still applies through its expiry day */
  assert_int_equal(ld_ignore_file_load(p, 1706702400, &l, NULL), 0);
  assert_int_equal(l.n, 3);
  ld_strlist_clear(&l);
  /* 2024-02-01T12:00Z: CVE-2 expired */
  assert_int_equal(ld_ignore_file_load(p, 1706788800, &l, NULL), 0);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.v[1], "CVE-3");
  ld_strlist_clear(&l);
  unlink(p);
  free(p);
  rmdir(dir);
}

static void test_resolve(void **state) {
  json_t *links = json_pack("{s:s,s:s,s:s,s:s,s:s}", "etc/os-release", "../usr/lib/os-release", "lib", "usr/lib",
                            "evil", "../../../../etc", "loop", "loop2", "loop2", "loop");
  char *r = ld_scan_resolve(links, "etc/os-release");
  assert_string_equal(r, "usr/lib/os-release");
  free(r);
  r = ld_scan_resolve(links, "lib/apk/db/installed");
  assert_string_equal(r, "usr/lib/apk/db/installed");
  free(r);
  r = ld_scan_resolve(links, "evil/passwd"); /* ".." stops at the image root */
  assert_string_equal(r, "etc/passwd");
  free(r);
  r = ld_scan_resolve(links, "loop/x"); /* a loop ends, it does not hang */
  assert_non_null(r);
  free(r);
  json_decref(links);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cvss),   cmocka_unit_test(test_osv_ranges), cmocka_unit_test(test_advdb_import_match),
      cmocka_unit_test(test_ignore_file), cmocka_unit_test(test_resolve),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
