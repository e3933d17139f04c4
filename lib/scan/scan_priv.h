/* Private helpers shared by the files of lib/scan (not part of the public API). */
#ifndef LADING_SCAN_PRIV_H
#define LADING_SCAN_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sqlite3.h>
#include "lading/scan.h"

/* "bookworm" -> "12"; NULL if unknown. */
const char *ld_debian_codename_version(const char *codename);

/* Which cataloger, if any, wants a file at this path (cleaned, relative to the image root). */
typedef enum {
  LD_CAT_NONE = 0,
  LD_CAT_OS_FILE,      /* os-release, *-release, debian_version, apk/repositories */
  LD_CAT_DPKG_STATUS,  /* var/lib/dpkg/status, status.d/NAME */
  LD_CAT_DPKG_FILES,   /* var/lib/dpkg/info/PKG.md5sums */
  LD_CAT_APK,          /* lib/apk/db/installed */
  LD_CAT_RPM_SQLITE,   /* rpmdb.sqlite */
  LD_CAT_RPM_BDB,      /* Packages */
  LD_CAT_JAVA,         /* *.jar, *.war, *.ear, *.jpi, *.hpi */
  LD_CAT_PYTHON,       /* *.dist-info/METADATA, *.egg-info/PKG-INFO, *.egg-info file */
  LD_CAT_NPM,          /* node_modules/NAME/package.json */
} ld_cat_kind;
ld_cat_kind ld_cat_classify(const char *path);
const char *ld_cat_kind_name(ld_cat_kind k);
/* Paths that language catalogers look at: an OS package owning one of them means the language
 * package is reported through the OS package, not twice. */
bool ld_cat_is_language_path(const char *path);

/* Advisory database internals shared with the matcher. */
sqlite3 *ld_advdb_sqlite(ld_advdb *a);
void ld_advdb_split_ecosystem(const char *eco, char **base, char **release);
char *ld_advdb_normalize_name(const char *ecosystem, const char *name);

/* Resolves a path through the image's symlinks (map path -> target), inside the image root. */
char *ld_scan_resolve(const json_t *links, const char *path);

#endif
