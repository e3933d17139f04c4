/* Scanning: what is installed in an image, and which known advisories apply to it.
 *
 * The pieces, each usable on its own:
 *   - version comparators, one per ecosystem, exactly as the package managers order versions
 *     (dpkg, rpm, apk, Maven ComparableVersion, PEP 440, semver);
 *   - package database parsers, pure functions over bytes or a file (os-release, dpkg status,
 *     apk installed, rpm headers in rpmdb.sqlite or a Berkeley DB hash file, jars, Python
 *     metadata, npm package.json), each producing ld_package records;
 *   - the advisory database (ld_advdb, its own SQLite file beside the store) with importers for
 *     OSV, Alpine secdb and the Debian security tracker, and OSV range evaluation;
 *   - the image cataloger (ld_scan_image): reads each layer once, in order, keeps only the files a
 *     cataloger needs, applies whiteouts, resolves symlinks inside the image root, and caches each
 *     layer's findings in meta.db by diff_id so images that share a base share the work;
 *   - matching and reports (table, JSON, SARIF, CycloneDX, SPDX).
 *
 * Other scan_*.h headers are private to lib/scan.
 */
#ifndef LADING_SCAN_H
#define LADING_SCAN_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "lading/error.h"
#include "lading/store.h"
#include "lading/transport.h"

/* ---- versions ---------------------------------------------------------------------------- */

typedef enum {
  LD_VER_DPKG = 0,
  LD_VER_RPM,    /* full EVR: [epoch:]version[-release] */
  LD_VER_APK,
  LD_VER_MAVEN,
  LD_VER_PEP440,
  LD_VER_SEMVER,
  LD_VER_UNKNOWN,
} ld_version_scheme;

/* Each returns <0, 0, >0 like strcmp. */
int ld_vercmp_dpkg(const char *a, const char *b);
int ld_vercmp_rpm_segment(const char *a, const char *b); /* rpmvercmp() on one field */
int ld_vercmp_rpm(const char *a, const char *b);         /* [epoch:]version[-release] */
int ld_vercmp_apk(const char *a, const char *b);
int ld_vercmp_maven(const char *a, const char *b);
int ld_vercmp_pep440(const char *a, const char *b);
int ld_vercmp_semver(const char *a, const char *b);
int ld_vercmp(ld_version_scheme s, const char *a, const char *b);
/* Scheme of an OSV ecosystem name ("Debian:12" -> dpkg, "PyPI" -> pep440, ...). */
ld_version_scheme ld_version_scheme_of_ecosystem(const char *ecosystem);

/* ---- packages ---------------------------------------------------------------------------- */

typedef struct ld_package {
  char *type;        /* purl type: deb, rpm, apk, maven, pypi, npm */
  char *name;        /* binary package; maven "group:artifact"; npm "@scope/name" */
  char *version;     /* deb/apk: full version; rpm: version-release (epoch separate) */
  int epoch;         /* rpm only; 0 when absent */
  char *arch;
  char *src_name;    /* distro source package (deb Source:, apk origin, rpm SOURCERPM name) */
  char *src_version; /* deb: Source: name (version); rpm: source version-release */
  char *license;
  char *path;        /* file it was found in, inside the image (no leading "/") */
  int layer;         /* index of the layer that introduced it; -1 unknown */
  char *layer_diff_id;
} ld_package;

typedef struct ld_pkglist {
  ld_package *v;
  size_t n, cap;
} ld_pkglist;

ld_package *ld_pkglist_add(ld_pkglist *l); /* zeroed entry, layer = -1 */
void ld_pkglist_clear(ld_pkglist *l);
void ld_package_clear(ld_package *p);
void ld_package_copy(ld_package *dst, const ld_package *src);
json_t *ld_package_to_json(const ld_package *p);
int ld_package_from_json(const json_t *j, ld_package *out);
/* Package URL (purl spec) for p; os_id/os_version name the distro qualifier (may be NULL). */
char *ld_package_purl(const ld_package *p, const char *os_id, const char *os_version);

/* A growable list of strings (owned file paths). */
typedef struct ld_strlist {
  char **v;
  size_t n, cap;
} ld_strlist;
void ld_strlist_add(ld_strlist *l, const char *s);
void ld_strlist_clear(ld_strlist *l);

/* ---- operating system -------------------------------------------------------------------- */

typedef struct ld_os_info {
  char *id;         /* os-release ID: debian, ubuntu, alpine, rhel, ... ("" unknown) */
  char *version_id; /* "12", "3.15.4", "9.3" */
  char *codename;   /* VERSION_CODENAME when given */
  char *pretty;
} ld_os_info;
void ld_os_info_clear(ld_os_info *o);
/* os-release(5): KEY=value lines with shell quoting. Unknown keys ignored. */
int ld_os_release_parse(const char *buf, size_t len, ld_os_info *out);
/* The distro release used to match advisories: Debian major ("12"), Alpine "v3.15", RHEL
 * major ("9"). Returns a new string ("" if unknown). */
char *ld_os_release_key(const ld_os_info *o);

/* ---- package databases (pure parsers) ---------------------------------------------------- */

/* dpkg status or one status.d file: skips packages whose Status is not "install ok installed"
 * (deinstall, purge, half-installed...). path names the file for errors and packages. */
int ld_dpkg_status_parse(const char *buf, size_t len, const char *path, ld_pkglist *out,
                         ld_error **err);
/* A dpkg info/<pkg>.md5sums file: "hash  path" lines; adds each path to out. */
int ld_dpkg_md5sums_parse(const char *buf, size_t len, ld_strlist *out);
/* apk's lib/apk/db/installed; file paths (F:/R:) go to files when not NULL. */
int ld_apk_installed_parse(const char *buf, size_t len, const char *path, ld_pkglist *out,
                           ld_strlist *files, ld_error **err);
/* One rpm header blob (as stored in rpmdb): every offset bounds-checked. files may be NULL. */
int ld_rpm_header_parse(const unsigned char *blob, size_t len, const char *path, ld_package *out,
                        ld_strlist *files, ld_error **err);
/* rpmdb.sqlite (opened read-only, immutable, never creating -wal/-shm). */
int ld_rpmdb_sqlite_read(const char *file, const char *path, ld_pkglist *out, ld_strlist *files,
                         ld_error **err);
/* Berkeley DB hash database "Packages" (RHEL 8 and older), bytes of the whole file. On error
 * (-1), *out keeps the headers read before the broken page. */
int ld_rpmdb_bdb_parse(const unsigned char *buf, size_t len, const char *path, ld_pkglist *out,
                       ld_strlist *files, ld_error **err);
/* A Java archive (.jar/.war/.ear) in a file: pom.properties first, then MANIFEST.MF; nested
 * archives are read recursively (depth-limited). path is where it sits in the image. */
int ld_java_archive_read(const char *file, const char *path, ld_pkglist *out, ld_error **err);
int ld_java_archive_read_mem(const void *buf, size_t len, const char *path, ld_pkglist *out,
                             ld_error **err);
/* Python core metadata (METADATA, PKG-INFO). */
int ld_python_metadata_parse(const char *buf, size_t len, const char *path, ld_pkglist *out,
                             ld_error **err);
/* npm package.json (name + version required; private packages without a version skipped). */
int ld_npm_package_json_parse(const char *buf, size_t len, const char *path, ld_pkglist *out,
                              ld_error **err);

/* ---- CVSS -------------------------------------------------------------------------------- */

/* CVSS v3.0/3.1 vector ("CVSS:3.1/AV:N/AC:L/...") -> base score (one decimal). -1 if invalid. */
double ld_cvss3_base_score(const char *vector);
/* 0 NONE, 0.1-3.9 LOW, 4-6.9 MEDIUM, 7-8.9 HIGH, 9-10 CRITICAL. */
const char *ld_cvss3_severity(double score);

typedef enum {
  LD_SEV_UNKNOWN = 0,
  LD_SEV_LOW,
  LD_SEV_MEDIUM,
  LD_SEV_HIGH,
  LD_SEV_CRITICAL,
} ld_severity;
const char *ld_severity_name(ld_severity s);
/* Case-insensitive; also Debian urgencies (unimportant, low, medium, high), "moderate",
 * "important". -1 if not a severity. */
int ld_severity_parse(const char *s);

/* ---- OSV ranges -------------------------------------------------------------------------- */

/* Whether version is affected by one OSV "affected" entry (ranges + versions), with the
 * comparator of scheme. *fixed (may be NULL) gets the first fixed version above version, as a
 * new string, or NULL. GIT ranges are ignored. */
bool ld_osv_affected(const json_t *affected, ld_version_scheme scheme, const char *version,
                     char **fixed);

/* ---- advisory database ------------------------------------------------------------------- */

typedef struct ld_advdb ld_advdb;

/* $root/advisories.db. create: make it if missing (import); otherwise ENOENT names the file. */
int ld_advdb_open(const char *path, bool create, ld_advdb **out, ld_error **err);
void ld_advdb_close(ld_advdb *db);
char *ld_advdb_default_path(const char *store_root);

typedef struct ld_import_stats {
  uint64_t records, added, updated, unchanged;
} ld_import_stats;

/* Imports every path (OSV JSON file / directory / zip, Alpine secdb JSON, Debian tracker JSON,
 * detected by content) in one transaction: on any error nothing changes. */
int ld_advdb_import(ld_advdb *db, char **paths, size_t n, ld_import_stats *st, ld_error **err);

typedef struct ld_advdb_source {
  char *name;        /* "osv:Debian", "alpine-secdb:v3.15", "debian-tracker" */
  char *origin;      /* the file it came from */
  int64_t imported;  /* unix time of last import */
  int64_t records;
} ld_advdb_source;
int ld_advdb_sources(ld_advdb *db, ld_advdb_source **out, size_t *n, ld_error **err);
void ld_advdb_sources_free(ld_advdb_source *s, size_t n);
int64_t ld_advdb_count(ld_advdb *db, const char *table);

/* ---- image scanning ---------------------------------------------------------------------- */

typedef struct ld_scan_stats {
  size_t layers, layers_read, layers_cached;
  uint64_t bytes_read; /* uncompressed bytes of layers actually read */
} ld_scan_stats;

typedef struct ld_catalog {
  ld_os_info os;
  ld_pkglist pkgs;
  char **layers;  /* diff_ids, in order */
  size_t n_layers;
  char *image_name;
  char *image_digest; /* manifest digest */
  ld_scan_stats stats;
} ld_catalog;
void ld_catalog_clear(ld_catalog *c);

/* Catalogs the image src names. meta (may be NULL: no cache) holds the per-layer cache. */
int ld_scan_image(ld_image_src *src, sqlite3 *meta, ld_catalog *out, ld_error **err);

/* ---- matching ---------------------------------------------------------------------------- */

typedef struct ld_finding {
  size_t pkg;          /* index into the catalog's pkgs */
  char *id;            /* CVE-..., GHSA-..., DSA-... */
  char *aliases;       /* comma-separated */
  char *installed;
  char *fixed;         /* NULL: no fix */
  ld_severity severity;
  double cvss;         /* -1 unknown */
  char *cvss_vector;
  char *title;
  char *status;        /* "fixed" (fix available) or "affected" */
  char *source;        /* advisory source */
} ld_finding;

typedef struct ld_findings {
  ld_finding *v;
  size_t n, cap;
} ld_findings;
void ld_findings_clear(ld_findings *f);

int ld_match(ld_advdb *db, const ld_catalog *cat, ld_findings *out, ld_error **err);

/* Drops findings below min_severity (a bit set of 1 << ld_severity; 0 keeps all), without a fix
 * when ignore_unfixed, or whose id / alias is in ignore (sorts what remains: package, severity
 * descending, id). */
void ld_findings_filter(ld_findings *f, const ld_catalog *cat, unsigned severities,
                        bool ignore_unfixed, const ld_strlist *ignore);
/* .trivyignore: one id per line, '#' comments, optional "exp:YYYY-MM-DD" after the id (the
 * entry stops applying after that day). Active ids (at time now) are added to out. */
int ld_ignore_file_load(const char *path, int64_t now, ld_strlist *out, ld_error **err);

/* ---- reports ----------------------------------------------------------------------------- */

json_t *ld_report_json(const ld_catalog *cat, const ld_findings *f);
json_t *ld_report_sarif(const ld_catalog *cat, const ld_findings *f);
json_t *ld_report_cyclonedx(const ld_catalog *cat, const ld_findings *f); /* f may be NULL */
json_t *ld_report_spdx(const ld_catalog *cat);
void ld_report_table(FILE *out, const ld_catalog *cat, const ld_findings *f);

#endif
