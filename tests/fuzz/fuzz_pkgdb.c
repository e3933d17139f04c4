/* libFuzzer target: the package-database parsers of lading scan. Their input is a file inside an
 * image, i.e. written by whoever built the image: dpkg status, apk installed, an rpm header blob,
 * a Berkeley DB Packages file, Python metadata, npm package.json, os-release, a jar. The first
 * byte picks the parser; none may crash, leak or read out of bounds, whatever it accepts. */
#include <stdint.h>
#include <stdlib.h>
#include "lading/scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const char *buf = (const char *) data + 1;
  size_t len = size - 1;
  ld_pkglist pkgs = {0};
  ld_strlist files = {0};
  ld_package one = {0};
  ld_os_info os = {0};
  ld_error *err = NULL;
  switch (data[0] % 9) {
  case 0: ld_dpkg_status_parse(buf, len, "var/lib/dpkg/status", &pkgs, &err); break;
  case 1: ld_dpkg_md5sums_parse(buf, len, &files); break;
  case 2: ld_apk_installed_parse(buf, len, "lib/apk/db/installed", &pkgs, &files, &err); break;
  case 3: ld_rpm_header_parse((const unsigned char *) buf, len, "rpmdb", &one, &files, &err); break;
  case 4: ld_rpmdb_bdb_parse((const unsigned char *) buf, len, "Packages", &pkgs, &files, &err); break;
  case 5: ld_python_metadata_parse(buf, len, "METADATA", &pkgs, &err); break;
  case 6: ld_npm_package_json_parse(buf, len, "package.json", &pkgs, &err); break;
  case 7: ld_os_release_parse(buf, len, &os); break;
  case 8: ld_java_archive_read_mem(buf, len, "app.jar", &pkgs, &err); break;
  }
  for (size_t i = 0; i < pkgs.n; i++) free(ld_package_purl(&pkgs.v[i], "debian", "12"));
  ld_error_free(err);
  ld_pkglist_clear(&pkgs);
  ld_strlist_clear(&files);
  ld_package_clear(&one);
  ld_os_info_clear(&os);
  return 0;
}
