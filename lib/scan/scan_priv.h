/* Private helpers shared by the files of lib/scan (not part of the public API). */
#ifndef LADING_SCAN_PRIV_H
#define LADING_SCAN_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include "lading/scan.h"
#include "lading/util.h"

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

/* The members of a large top-level JSON object, streamed one at a time (jsonstream.c). Feed
 * the document in chunks of any size; emit gets each member as the bytes "NAME": VALUE (not
 * validated: parse them) with where it starts in the document. feed returns -1 on an error (of
 * the document or of emit), 1 when emit returned 1 (stop: the caller wants no more), else 0. */
typedef struct {
  const char *text;
  size_t len;
  int line, col;   /* of the member's first byte, 1-based */
  uint64_t offset; /* of the member's first byte */
} ld_json_member;
typedef int (*ld_json_member_fn)(void *ctx, const ld_json_member *m, ld_error **err);
typedef struct {
  const char *what; /* names the document in errors */
  int depth;
  bool in_str, esc, done;
  size_t count;      /* members emitted */
  size_t max_member; /* a longer member is an error (0: no limit) */
  ld_buf member;
  int line, col, mline, mcol;
  uint64_t offset, moff;
} ld_json_members;
void ld_json_members_init(ld_json_members *m, const char *what);
int ld_json_members_feed(ld_json_members *m, const char *buf, size_t len, ld_json_member_fn emit,
                         void *ctx, ld_error **err);
/* At the end of the input: an error unless the object was closed. */
int ld_json_members_end(ld_json_members *m, ld_error **err);
void ld_json_members_clear(ld_json_members *m);

/* Resolves a path through the image's symlinks (map path -> target), inside the image root. */
char *ld_scan_resolve(const json_t *links, const char *path);

#endif
