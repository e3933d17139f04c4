/* Package database parsers: os-release, dpkg status (deinstall/purge skipped, Source with version),
 * md5sums, apk installed, the path classifier, purls and the JSON round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "lading/scan.h"
#include "scan/scan_priv.h"

static void test_os_release(void **state) {
  const char *s = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
                  "VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n# c\n";
  ld_os_info o = {0};
  assert_int_equal(ld_os_release_parse(s, strlen(s), &o), 0);
  assert_string_equal(o.id, "debian");
  assert_string_equal(o.version_id, "12");
  assert_string_equal(o.codename, "bookworm");
  assert_string_equal(o.pretty, "Debian GNU/Linux 12 (bookworm)");
  char *k = ld_os_release_key(&o);
  assert_string_equal(k, "12");
  free(k);
  ld_os_info_clear(&o);
  const char *a = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.15.4\n";
  assert_int_equal(ld_os_release_parse(a, strlen(a), &o), 0);
  k = ld_os_release_key(&o);
  assert_string_equal(k, "v3.15");
  free(k);
  ld_os_info_clear(&o);
  const char *r = "NAME='Red Hat Enterprise Linux'\nID=\"rhel\"\nVERSION_ID=\"9.3\"\n";
  assert_int_equal(ld_os_release_parse(r, strlen(r), &o), 0);
  k = ld_os_release_key(&o);
  assert_string_equal(k, "9");
  free(k);
  ld_os_info_clear(&o);
  assert_int_equal(ld_os_release_parse("NAME=x\n", 7, &o), -1);
  ld_os_info_clear(&o);
}

static const char dpkg_status[] =
    "Package: libc6\n"
    "Status: install ok installed\n"
    "Priority: optional\n"
    "Architecture: amd64\n"
    "Source: glibc\n"
    "Version: 2.36-9+deb12u3\n"
    "Description: GNU C Library: Shared libraries\n"
    " Contains the standard libraries.\n"
    " .\n"
    "\n"
    "Package: libssl3\n"
    "Status: install ok installed\n"
    "Architecture: amd64\n"
    "Source: openssl (3.0.11-1~deb12u2)\n"
    "Version: 3.0.11-1~deb12u2+b1\n"
    "\n"
    "Package: oldpkg\n"
    "Status: deinstall ok config-files\n"
    "Version: 1.0\n"
    "\n"
    "Package: gone\n"
    "Status: purge ok not-installed\n"
    "Version: 1.0\n"
    "\n\n"
    "Package: removing\n"
    "Status: deinstall ok installed\n"
    "Version: 2.0\n"
    "\n"
    "Package: bash\n"
    "Status: install ok installed\n"
    "Version: 5.2.15-2+b2\n";

static void test_dpkg_status(void **state) {
  ld_pkglist l = {0};
  assert_int_equal(ld_dpkg_status_parse(dpkg_status, strlen(dpkg_status), "var/lib/dpkg/status", &l, NULL), 0);
  assert_int_equal(l.n, 3);
  assert_string_equal(l.v[0].name, "libc6");
  assert_string_equal(l.v[0].src_name, "glibc");
  assert_string_equal(l.v[0].src_version, "2.36-9+deb12u3");
  assert_string_equal(l.v[0].arch, "amd64");
  assert_string_equal(l.v[1].name, "libssl3");
  assert_string_equal(l.v[1].version, "3.0.11-1~deb12u2+b1");
  assert_string_equal(l.v[1].src_name, "openssl");
  assert_string_equal(l.v[1].src_version, "3.0.11-1~deb12u2");
  assert_string_equal(l.v[2].name, "bash");
  assert_string_equal(l.v[2].src_name, "bash");
  assert_string_equal(l.v[2].path, "var/lib/dpkg/status");
  ld_pkglist_clear(&l);
  /* status.d stanza (distroless): no Status field */
  const char *d = "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n";
  assert_int_equal(ld_dpkg_status_parse(d, strlen(d), "var/lib/dpkg/status.d/tzdata", &l, NULL), 0);
  assert_int_equal(l.n, 1);
  ld_pkglist_clear(&l);
  assert_int_equal(ld_dpkg_status_parse("", 0, "x", &l, NULL), 0);
  assert_int_equal(l.n, 0);
}

static void test_md5sums(void **state) {
  const char *m = "0123abcd  usr/share/java/log4j-core-2.19.0.jar\nffff  usr/share/doc/x/copyright\n";
  ld_strlist s = {0};
  ld_dpkg_md5sums_parse(m, strlen(m), &s);
  assert_int_equal(s.n, 2);
  assert_string_equal(s.v[0], "usr/share/java/log4j-core-2.19.0.jar");
  ld_strlist_clear(&s);
}

static void test_apk(void **state) {
  const char *db = "C:Q1abc=\nP:musl\nV:1.2.2-r7\nA:x86_64\nL:MIT\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\n\n"
                   "C:Q1def=\nP:zlib\nV:1.2.12-r1\nA:x86_64\nL:Zlib\no:zlib\nm:Natanael Copa\nF:lib\n"
                   "R:libz.so.1.2.12\n\nP:libcrypto1.1\nV:1.1.1n-r0\no:openssl\n";
  ld_pkglist l = {0};
  ld_strlist files = {0};
  assert_int_equal(ld_apk_installed_parse(db, strlen(db), "lib/apk/db/installed", &l, &files, NULL), 0);
  assert_int_equal(l.n, 3);
  assert_string_equal(l.v[1].name, "zlib");
  assert_string_equal(l.v[1].version, "1.2.12-r1");
  assert_string_equal(l.v[1].license, "Zlib");
  assert_string_equal(l.v[2].src_name, "openssl");
  assert_int_equal(files.n, 2);
  assert_string_equal(files.v[1], "lib/libz.so.1.2.12");
  ld_pkglist_clear(&l);
  ld_strlist_clear(&files);
  ld_error *err = NULL;
  assert_int_equal(ld_apk_installed_parse("garbage line\n", 13, "lib/apk/db/installed", &l, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "lib/apk/db/installed: line 1"));
  ld_error_free(err);
  ld_pkglist_clear(&l);
}

static void test_classify(void **state) {
  assert_int_equal(ld_cat_classify("etc/os-release"), LD_CAT_OS_FILE);
  assert_int_equal(ld_cat_classify("usr/lib/os-release"), LD_CAT_OS_FILE);
  assert_int_equal(ld_cat_classify("var/lib/dpkg/status"), LD_CAT_DPKG_STATUS);
  assert_int_equal(ld_cat_classify("var/lib/dpkg/status-old"), LD_CAT_NONE);
  assert_int_equal(ld_cat_classify("var/lib/dpkg/status.d/base"), LD_CAT_DPKG_STATUS);
  assert_int_equal(ld_cat_classify("var/lib/dpkg/status.d/base.md5sums"), LD_CAT_NONE);
  assert_int_equal(ld_cat_classify("var/lib/dpkg/info/libc6:amd64.md5sums"), LD_CAT_DPKG_FILES);
  assert_int_equal(ld_cat_classify("lib/apk/db/installed"), LD_CAT_APK);
  assert_int_equal(ld_cat_classify("usr/lib/apk/db/installed"), LD_CAT_APK);
  assert_int_equal(ld_cat_classify("var/lib/rpm/rpmdb.sqlite"), LD_CAT_RPM_SQLITE);
  assert_int_equal(ld_cat_classify("usr/lib/sysimage/rpm/rpmdb.sqlite"), LD_CAT_RPM_SQLITE);
  assert_int_equal(ld_cat_classify("var/lib/rpm/Packages"), LD_CAT_RPM_BDB);
  assert_int_equal(ld_cat_classify("opt/app/lib/log4j-core-2.14.1.jar"), LD_CAT_JAVA);
  assert_int_equal(ld_cat_classify("usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA"), LD_CAT_PYTHON);
  assert_int_equal(ld_cat_classify("usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO"), LD_CAT_PYTHON);
  assert_int_equal(ld_cat_classify("app/node_modules/lodash/package.json"), LD_CAT_NPM);
  assert_int_equal(ld_cat_classify("app/node_modules/@babel/core/package.json"), LD_CAT_NPM);
  assert_int_equal(ld_cat_classify("app/node_modules/lodash/fp/package.json"), LD_CAT_NONE);
  assert_int_equal(ld_cat_classify("app/package.json"), LD_CAT_NONE);
  assert_int_equal(ld_cat_classify("usr/bin/bash"), LD_CAT_NONE);
  assert_true(ld_cat_is_language_path("usr/share/java/log4j-core-2.19.0.jar"));
  assert_false(ld_cat_is_language_path("usr/share/doc/x/copyright"));
}

static void test_purl_and_json(void **state) {
  ld_package p = {.type = "deb", .name = "libc6", .version = "2.36-9+deb12u3", .arch = "amd64"};
  char *u = ld_package_purl(&p, "debian", "12");
  assert_string_equal(u, "pkg:deb/debian/libc6@2.36-9%2Bdeb12u3?arch=amd64&distro=debian-12");
  free(u);
  ld_package m = {.type = "maven", .name = "org.apache.logging.log4j:log4j-core", .version = "2.14.1"};
  u = ld_package_purl(&m, NULL, NULL);
  assert_string_equal(u, "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1");
  free(u);
  ld_package n = {.type = "npm", .name = "@babel/core", .version = "7.0.0"};
  u = ld_package_purl(&n, NULL, NULL);
  assert_string_equal(u, "pkg:npm/%40babel/core@7.0.0");
  free(u);
  ld_package r = {.type = "rpm", .name = "openssl", .version = "3.0.7-24.el9", .epoch = 1, .arch = "x86_64", .layer = -1};
  u = ld_package_purl(&r, "rhel", "9.3");
  assert_string_equal(u, "pkg:rpm/redhat/openssl@3.0.7-24.el9?arch=x86_64&distro=rhel-9.3&epoch=1");
  free(u);
  ld_package y = {.type = "pypi", .name = "Django_Rest", .version = "1.0"};
  u = ld_package_purl(&y, NULL, NULL);
  assert_string_equal(u, "pkg:pypi/django-rest@1.0");
  free(u);
  json_t *j = ld_package_to_json(&r);
  ld_package back;
  assert_int_equal(ld_package_from_json(j, &back), 0);
  assert_string_equal(back.name, "openssl");
  assert_int_equal(back.epoch, 1);
  assert_int_equal(back.layer, -1);
  ld_package_clear(&back);
  json_decref(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_os_release), cmocka_unit_test(test_dpkg_status),
      cmocka_unit_test(test_md5sums),    cmocka_unit_test(test_apk),
      cmocka_unit_test(test_classify),   cmocka_unit_test(test_purl_and_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
