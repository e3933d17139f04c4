/* The offline advisory database: its own SQLite file, STORE/advisories.db.
 *
 * Schema (version 2):
 *   sources(name, origin, imported, records)       one row per feed ("osv:Debian",
 *                                                   "alpine-secdb:v3.15", "debian-tracker")
 *   vulns(id, source, vuln_id, modified, summary, severity, cvss, cvss_vector, aliases)
 *                                                   one row per advisory per source
 *   aliases(alias, vuln)                           every id a record is also known by (its own
 *                                                   CVE for per-package distro rows), indexed, so
 *                                                   a CVE finds its records in every feed
 *   affected(vuln, ecosystem, release, package, data)
 *                                                   one row per (advisory, package); data is an
 *                                                   OSV "affected" object (ranges, versions,
 *                                                   database_specific.severity), so every feed is
 *                                                   matched by the same OSV evaluation
 * A separate file rather than meta.db: the advisory feed is large, replaced as a whole by some
 * users, and has a different lifecycle from the image metadata.
 *
 * Import is one transaction over all the given paths: a parse error in any file rolls back
 * everything, and SQLite's journal makes a crash equivalent to a rollback, so the previous
 * database stays usable. Re-import is incremental: a record whose `modified` (OSV) or content
 * digest (other feeds) is unchanged is skipped; a changed one replaces the old rows. The file is
 * in WAL mode (set by import) and readers (scan, db status) open it with query_only (SQLite
 * refuses any change) and only check the schema version, so an import in progress never blocks or fails a scan: the scan sees the
 * database as it was before the import, and the import never waits for scans either. An older
 * schema is upgraded by the next import; readers ask for one.
 *
 * Feeds are recognised by content: an OSV record has "id" and "affected"/"modified"; an Alpine
 * secdb file has "distroversion" and "packages"; the Debian tracker JSON is an object of source
 * packages whose values are objects keyed by CVE/TEMP ids. A path may be a JSON file, a
 * directory (walked recursively for *.json), or a zip (an OSV ecosystem all.zip).
 */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include "lading/digest.h"
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/scan.h"
#include "lading/util.h"
#include "scan/scan_priv.h"

#define ADV_MAX_FILE (512u << 20)
#define ADV_SCHEMA "2"

struct ld_advdb {
  sqlite3 *db;
  char *path;
  ld_import_stats *st;
  const char *top; /* the PATH given to import (a directory or zip names the source's origin) */
  json_t *touched; /* source name -> origin, counted once at the end of an import */
  sqlite3_stmt *find, *del, *ins_vuln, *ins_aff, *ins_alias; /* prepared once per import */
};

static const char *schema =
    "PRAGMA foreign_keys = ON;"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS sources(name TEXT PRIMARY KEY, origin TEXT, imported INTEGER,"
    "  records INTEGER);"
    "CREATE TABLE IF NOT EXISTS vulns(id INTEGER PRIMARY KEY, source TEXT NOT NULL,"
    "  vuln_id TEXT NOT NULL, modified TEXT, summary TEXT, severity TEXT, cvss REAL,"
    "  cvss_vector TEXT, aliases TEXT, UNIQUE(source, vuln_id));"
    "CREATE INDEX IF NOT EXISTS vulns_by_id ON vulns(vuln_id);"
    "CREATE TABLE IF NOT EXISTS affected(vuln INTEGER NOT NULL REFERENCES vulns(id) ON DELETE CASCADE,"
    "  ecosystem TEXT NOT NULL, release TEXT NOT NULL, package TEXT NOT NULL, data TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS affected_by_pkg ON affected(ecosystem, release, package);"
    "CREATE INDEX IF NOT EXISTS affected_by_vuln ON affected(vuln);"
    "CREATE TABLE IF NOT EXISTS aliases(alias TEXT NOT NULL,"
    "  vuln INTEGER NOT NULL REFERENCES vulns(id) ON DELETE CASCADE);"
    "CREATE INDEX IF NOT EXISTS aliases_by_alias ON aliases(alias);"
    "CREATE INDEX IF NOT EXISTS aliases_by_vuln ON aliases(vuln);"
    "INSERT OR IGNORE INTO meta VALUES('schema', '2');"
    /* schema 1 had no aliases table: its records are dropped so the next import refills them */
    "DELETE FROM vulns WHERE (SELECT value FROM meta WHERE key = 'schema') = '1';"
    "DELETE FROM sources WHERE (SELECT value FROM meta WHERE key = 'schema') = '1';"
    "UPDATE meta SET value = '2' WHERE key = 'schema';";

char *ld_advdb_default_path(const char *store_root) {
  return ld_path_join(store_root, "advisories.db");
}

/* Readers (scan, status) only check the schema version: they never write, so they never wait
 * for an import (WAL: an import in progress does not block them; they see the database as it
 * was before it). */
static int check_schema(sqlite3 *db, const char *path, ld_error **err) {
  sqlite3_stmt *st;
  const char *v = NULL;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema'", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    v = (const char *) sqlite3_column_text(st, 0);
  int r = 0;
  if (!v)
    r = ld_err(err, LD_EFORMAT, "advisory database %s: not an advisory database (%s)", path,
               sqlite3_errmsg(db));
  else if (strcmp(v, ADV_SCHEMA))
    r = ld_err(err, LD_EFORMAT, "advisory database %s: schema %s, this lading reads %s (run 'lading db import' again)",
               path, v, ADV_SCHEMA);
  sqlite3_finalize(st);
  return r;
}

int ld_advdb_open(const char *path, bool create, ld_advdb **out, ld_error **err) {
  if (!create && !ld_path_exists(path))
    return ld_err(err, ENOENT, "advisory database %s does not exist (run 'lading db import')", path);
  sqlite3 *db = NULL;
  int flags = create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READWRITE;
  int rc = sqlite3_open_v2(path, &db, flags, NULL);
  if (rc != SQLITE_OK && !create) { /* a file we may not write: read it read-only */
    sqlite3_close(db);
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
  }
  if (rc != SQLITE_OK) {
    ld_err(err, EIO, "advisory database %s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_close(db);
    return -1;
  }
  sqlite3_busy_timeout(db, 10000);
  char *msg = NULL;
  if (!create) {
    /* Readers open it writable only so that, closing last, they remove the -wal and -shm
     * files; query_only makes SQLite refuse any change. */
    sqlite3_exec(db, "PRAGMA query_only = ON", NULL, NULL, NULL);
    if (check_schema(db, path, err) < 0) {
      sqlite3_close(db);
      return -1;
    }
  } else if (sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, &msg) != SQLITE_OK ||
             sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK) {
    ld_err(err, LD_EFORMAT, "advisory database %s: %s", path, msg ? msg : "bad schema");
    sqlite3_free(msg);
    sqlite3_close(db);
    return -1;
  }
  ld_advdb *a = ld_xcalloc(1, sizeof *a);
  a->db = db;
  a->path = ld_xstrdup(path);
  *out = a;
  return 0;
}

void ld_advdb_close(ld_advdb *a) {
  if (!a) return;
  sqlite3_close(a->db);
  free(a->path);
  free(a);
}

sqlite3 *ld_advdb_sqlite(ld_advdb *a) { return a->db; }

static int db_fail(ld_advdb *a, ld_error **err, const char *what) {
  return ld_err(err, EIO, "advisory database %s: %s: %s", a->path, what, sqlite3_errmsg(a->db));
}

/* ---- normalisation shared by import and matching ----------------------------------------- */

/* "Debian:12" -> ("Debian", "12"); "Alpine:v3.19"; "Red Hat:enterprise_linux:9::appstream"
 * -> ("Red Hat", "9"); "Maven" -> ("Maven", ""). */
void ld_advdb_split_ecosystem(const char *eco, char **base, char **release) {
  const char *colon = strchr(eco, ':');
  *base = colon ? ld_xstrndup(eco, (size_t) (colon - eco)) : ld_xstrdup(eco);
  const char *rest = colon ? colon + 1 : "";
  if (!strcmp(*base, "Red Hat") || !strcmp(*base, "Rocky Linux") || !strcmp(*base, "AlmaLinux")) {
    const char *d = rest;
    while (*d && !isdigit((unsigned char) *d)) d++;
    *release = ld_xstrndup(d, strspn(d, "0123456789"));
  } else if (!strcmp(*base, "Debian")) {
    *release = ld_xstrndup(rest, strcspn(rest, ".:"));
  } else if (!strcmp(*base, "Ubuntu")) {
    *release = ld_xstrndup(rest, strcspn(rest, ":"));
  } else {
    *release = ld_xstrdup(rest);
  }
}

char *ld_advdb_normalize_name(const char *ecosystem, const char *name) {
  if (strcmp(ecosystem, "PyPI")) return ld_xstrdup(name);
  ld_buf b = {0};
  bool sep = false;
  for (const char *p = name; *p; p++) {
    if (*p == '-' || *p == '_' || *p == '.') {
      sep = true;
      continue;
    }
    if (sep && b.len) ld_buf_append(&b, "-", 1);
    sep = false;
    char c = (char) tolower((unsigned char) *p);
    ld_buf_append(&b, &c, 1);
  }
  ld_buf_append(&b, "", 0);
  return ld_buf_steal(&b);
}

/* ---- record writing ---------------------------------------------------------------------- */

typedef struct {
  const char *source, *vuln_id, *modified, *summary, *severity, *cvss_vector, *aliases;
  double cvss;
} vuln_rec;

/* Inserts or replaces a vuln row. *id gets its rowid; returns 1 if unchanged (skip affected). */
static int put_vuln(ld_advdb *a, const vuln_rec *v, sqlite3_int64 *id, ld_error **err) {
  sqlite3_stmt *st = a->find;
  sqlite3_reset(st);
  sqlite3_bind_text(st, 1, v->source, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, v->vuln_id, -1, SQLITE_STATIC);
  bool exists = false, same = false;
  if (sqlite3_step(st) == SQLITE_ROW) {
    exists = true;
    const char *m = (const char *) sqlite3_column_text(st, 1);
    same = m && v->modified && !strcmp(m, v->modified);
    *id = sqlite3_column_int64(st, 0);
  }
  sqlite3_reset(st);
  a->st->records++;
  if (same) {
    a->st->unchanged++;
    return 1;
  }
  if (exists) {
    st = a->del;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, *id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return db_fail(a, err, "replacing a record");
    a->st->updated++;
  } else {
    a->st->added++;
  }
  st = a->ins_vuln;
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  sqlite3_bind_text(st, 1, v->source, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, v->vuln_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, v->modified, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, v->summary, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, v->severity, -1, SQLITE_STATIC);
  if (v->cvss >= 0) sqlite3_bind_double(st, 6, v->cvss);
  sqlite3_bind_text(st, 7, v->cvss_vector, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 8, v->aliases, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return db_fail(a, err, "inserting a record");
  *id = sqlite3_last_insert_rowid(a->db);
  char *all = ld_xasprintf("%.*s,%s", (int) strcspn(v->vuln_id, "/"), v->vuln_id, v->aliases ? v->aliases : "");
  for (char *save = NULL, *t = strtok_r(all, ",", &save); t && rc == SQLITE_DONE; t = strtok_r(NULL, ",", &save)) {
    sqlite3_reset(a->ins_alias);
    sqlite3_bind_text(a->ins_alias, 1, t, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(a->ins_alias, 2, *id);
    rc = sqlite3_step(a->ins_alias);
  }
  free(all);
  sqlite3_reset(a->ins_alias);
  return rc == SQLITE_DONE ? 0 : db_fail(a, err, "inserting aliases");
}

static int put_affected(ld_advdb *a, sqlite3_int64 id, const char *eco, const char *release,
                        const char *pkg, const json_t *data, ld_error **err) {
  char *js = json_dumps(data, JSON_COMPACT);
  char *name = ld_advdb_normalize_name(eco, pkg);
  sqlite3_stmt *st = a->ins_aff;
  sqlite3_reset(st);
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_text(st, 2, eco, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, release, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, js, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  free(js), free(name);
  return rc == SQLITE_DONE ? 0 : db_fail(a, err, "inserting an affected package");
}

static void touch_source(ld_advdb *a, const char *name, const char *origin) {
  json_object_set_new(a->touched, name, json_string(a->top ? a->top : origin));
}

/* Updates the sources table once per touched source (counting per record would be quadratic). */
static int flush_sources(ld_advdb *a, ld_error **err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(a->db,
                         "INSERT INTO sources(name, origin, imported, records) VALUES (?1, ?2, ?3,"
                         " (SELECT count(*) FROM vulns WHERE source = ?1)) ON CONFLICT(name) DO UPDATE"
                         " SET origin = ?2, imported = ?3,"
                         " records = (SELECT count(*) FROM vulns WHERE source = ?1)", -1, &st, NULL) != SQLITE_OK)
    return db_fail(a, err, "updating sources");
  const char *name;
  json_t *origin;
  int r = 0;
  json_object_foreach(a->touched, name, origin) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, json_string_value(origin), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, ld_now());
    if (sqlite3_step(st) != SQLITE_DONE) {
      r = db_fail(a, err, "updating sources");
      break;
    }
  }
  sqlite3_finalize(st);
  return r;
}

static char *content_digest(const json_t *j) {
  char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  char d[LD_DIGEST_MAX];
  ld_digest_buf(LD_SHA256, s, strlen(s), d);
  free(s);
  return ld_xstrdup(d);
}

/* ---- OSV --------------------------------------------------------------------------------- */

/* Highest CVSS v3 score among severity[] entries; vector in *vec. */
static double osv_cvss(const json_t *sevs, const char **vec) {
  double best = -1;
  size_t i;
  json_t *s;
  json_array_foreach(sevs, i, s) {
    const char *type = ld_json_str(s, "type"), *score = ld_json_str(s, "score");
    if (!type || !score || strcmp(type, "CVSS_V3")) continue;
    double v = ld_cvss3_base_score(score);
    if (v > best) best = v, *vec = score;
  }
  return best;
}

static char *join_aliases(const json_t *arr) {
  ld_buf b = {0};
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    if (!json_is_string(v)) continue;
    if (b.len) ld_buf_append(&b, ",", 1);
    ld_buf_puts(&b, json_string_value(v));
  }
  ld_buf_append(&b, "", 0);
  return ld_buf_steal(&b);
}

static int import_osv(ld_advdb *a, const json_t *rec, const char *origin, ld_error **err) {
  const char *id = ld_json_str(rec, "id");
  json_t *affected = json_object_get(rec, "affected");
  if (!id || !*id) return ld_err(err, LD_EFORMAT, "%s: OSV record without an id", origin);
  if (affected && !json_is_array(affected))
    return ld_err(err, LD_EFORMAT, "%s: OSV record %s: \"affected\" is not an array", origin, id);
  if (json_object_get(rec, "withdrawn")) return 0;
  const char *first_eco = "unknown";
  json_t *first = json_array_get(affected, 0);
  if (first) {
    const char *e = ld_json_str(json_object_get(first, "package"), "ecosystem");
    if (e) first_eco = e;
  }
  char *eco_base, *eco_rel;
  ld_advdb_split_ecosystem(first_eco, &eco_base, &eco_rel);
  char *source = ld_xasprintf("osv:%s", eco_base);
  free(eco_base), free(eco_rel);
  const char *vec = NULL;
  double score = osv_cvss(json_object_get(rec, "severity"), &vec);
  const char *dbsev = ld_json_str(json_object_get(rec, "database_specific"), "severity");
  const char *sev = score >= 0 ? ld_cvss3_severity(score) : dbsev;
  char *aliases = join_aliases(json_object_get(rec, "aliases"));
  const char *summary = ld_json_str(rec, "summary");
  if (!summary) summary = ld_json_str(rec, "details");
  char *modified = ld_json_str(rec, "modified") ? ld_xstrdup(ld_json_str(rec, "modified")) : content_digest(rec);
  vuln_rec v = {.source = source, .vuln_id = id, .modified = modified, .summary = summary,
                .severity = sev, .cvss = score, .cvss_vector = vec, .aliases = aliases};
  sqlite3_int64 rowid = 0;
  int r = put_vuln(a, &v, &rowid, err);
  if (r == 0) {
    size_t i;
    json_t *af;
    json_array_foreach(affected, i, af) {
      json_t *pkg = json_object_get(af, "package");
      const char *eco = ld_json_str(pkg, "ecosystem"), *name = ld_json_str(pkg, "name");
      if (!eco || !name) continue;
      char *base, *rel;
      ld_advdb_split_ecosystem(eco, &base, &rel);
      r = put_affected(a, rowid, base, rel, name, af, err);
      free(base), free(rel);
      if (r < 0) break;
    }
  }
  if (r >= 0) touch_source(a, source, origin);
  free(source), free(aliases), free(modified);
  return r < 0 ? -1 : 0;
}

/* ---- Alpine secdb ------------------------------------------------------------------------ */

static int import_alpine(ld_advdb *a, const json_t *doc, const char *origin, ld_error **err) {
  const char *release = ld_json_str(doc, "distroversion");
  json_t *pkgs = json_object_get(doc, "packages");
  if (!release || !json_is_array(pkgs))
    return ld_err(err, LD_EFORMAT, "%s: Alpine secdb without distroversion/packages", origin);
  char *source = ld_xasprintf("alpine-secdb:%s", release);
  size_t i;
  json_t *entry;
  int r = 0;
  json_array_foreach(pkgs, i, entry) {
    json_t *pkg = json_object_get(entry, "pkg");
    const char *name = ld_json_str(pkg, "name");
    json_t *secfixes = json_object_get(pkg, "secfixes");
    if (!name || !json_is_object(secfixes)) continue;
    const char *fixed;
    json_t *cves;
    json_object_foreach(secfixes, fixed, cves) {
      if (!strcmp(fixed, "0")) continue; /* "0": never affected in this branch */
      size_t k;
      json_t *cve;
      json_array_foreach(cves, k, cve) {
        if (!json_is_string(cve)) continue;
        /* "CVE-2022-37434 CVE-2022-12345" entries exist: take each word */
        char *ids = ld_xstrdup(json_string_value(cve));
        for (char *save = NULL, *tok = strtok_r(ids, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
          char *vid = ld_xasprintf("%s/%s", tok, name);
          json_t *af = json_pack("{s:{s:s,s:s},s:[{s:s,s:[{s:s},{s:s}]}]}", "package", "ecosystem",
                                 "Alpine", "name", name, "ranges", "type", "ECOSYSTEM", "events",
                                 "introduced", "0", "fixed", fixed);
          char *mod = content_digest(af);
          vuln_rec v = {.source = source, .vuln_id = vid, .modified = mod, .aliases = tok, .cvss = -1};
          sqlite3_int64 rowid = 0;
          r = put_vuln(a, &v, &rowid, err);
          if (r == 0) r = put_affected(a, rowid, "Alpine", release, name, af, err);
          json_decref(af);
          free(mod), free(vid);
          if (r < 0) break;
        }
        free(ids);
        if (r < 0) break;
      }
      if (r < 0) break;
    }
    if (r < 0) break;
  }
  if (r >= 0) touch_source(a, source, origin);
  free(source);
  return r < 0 ? -1 : 0;
}

/* ---- Debian security tracker ------------------------------------------------------------- */

static int import_debian_cve(ld_advdb *a, const char *pkg, const char *cve, const json_t *info,
                             const char *origin, ld_error **err) {
  json_t *releases = json_object_get(info, "releases");
  if (!json_is_object(releases)) return 0;
  char *vid = ld_xasprintf("%s/%s", cve, pkg);
  char *mod = content_digest(info);
  const char *desc = ld_json_str(info, "description");
  vuln_rec v = {.source = "debian-tracker", .vuln_id = vid, .modified = mod, .summary = desc,
                .aliases = cve, .cvss = -1};
  sqlite3_int64 rowid = 0;
  int r = put_vuln(a, &v, &rowid, err);
  if (r == 0) {
    const char *codename;
    json_t *rel;
    json_object_foreach(releases, codename, rel) {
      const char *version = ld_debian_codename_version(codename);
      const char *status = ld_json_str(rel, "status");
      const char *fixed = ld_json_str(rel, "fixed_version");
      const char *urgency = ld_json_str(rel, "urgency");
      if (!version || !status) continue;
      if (!strcmp(status, "resolved") && (!fixed || !strcmp(fixed, "0"))) continue; /* not affected */
      if (strcmp(status, "resolved") && strcmp(status, "open") && strcmp(status, "undetermined")) continue;
      json_t *events = json_pack("[{s:s}]", "introduced", "0");
      if (!strcmp(status, "resolved")) json_array_append_new(events, json_pack("{s:s}", "fixed", fixed));
      int sev = ld_severity_parse(urgency);
      json_t *af = json_pack("{s:{s:s,s:s},s:[{s:s,s:o}],s:{s:s,s:s}}", "package", "ecosystem",
                             "Debian", "name", pkg, "ranges", "type", "ECOSYSTEM", "events", events,
                             "database_specific", "severity", ld_severity_name(sev < 0 ? 0 : (ld_severity) sev),
                             "status", status);
      r = put_affected(a, rowid, "Debian", version, pkg, af, err);
      json_decref(af);
      if (r < 0) break;
    }
  }
  free(vid), free(mod);
  return r < 0 ? -1 : 0;
}

static int import_debian(ld_advdb *a, const json_t *doc, const char *origin, ld_error **err) {
  const char *pkg;
  json_t *cves;
  json_object_foreach((json_t *) doc, pkg, cves) {
    const char *cve;
    json_t *info;
    json_object_foreach(cves, cve, info) {
      if (import_debian_cve(a, pkg, cve, info, origin, err) < 0) return -1;
    }
  }
  touch_source(a, "debian-tracker", origin);
  return 0;
}

/* ---- the Debian tracker, streamed --------------------------------------------------------- */

/* The tracker's JSON (~70 MB) is imported one package at a time (jsonstream.c): peak memory is
 * that of the largest package, not ~1 GB for the whole document. The first member decides: a
 * document whose first member does not look like the tracker's is read whole instead, as every
 * other advisory file is. */
typedef struct {
  ld_advdb *a;
  const char *origin;
  bool decided; /* the first member has been seen: the document is the tracker's */
  json_t *seen; /* package names: a duplicate is an error, as in the whole-document parse */
} tracker_stream;

static bool looks_debian(const json_t *doc);

/* Where in the document jansson's error line and column (in "{" MEMBER "}") fall: the member
 * keeps its newlines, and on its first line the "{" takes column 1. */
static void member_position(const ld_json_member *mem, const json_error_t *je, int *line, int *col) {
  *line = mem->line + (je->line > 0 ? je->line - 1 : 0);
  *col = je->line > 1 ? je->column : mem->col + (je->column > 1 ? je->column - 2 : 0);
}

static int tracker_member(void *ctx, const ld_json_member *mem, ld_error **err) {
  tracker_stream *t = ctx;
  ld_buf b = {0};
  ld_buf_append(&b, "{", 1);
  ld_buf_append(&b, mem->text, mem->len);
  ld_buf_append(&b, "}", 1);
  json_error_t je;
  json_t *obj = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je);
  ld_buf_free(&b);
  if (!obj) {
    int line, col;
    member_position(mem, &je, &line, &col);
    return ld_err(err, LD_EFORMAT, "%s: malformed JSON at line %d column %d: %s", t->origin, line,
                  col, je.text);
  }
  if (!t->decided && !looks_debian(obj)) {
    json_decref(obj);
    return 1; /* not the tracker: read the document whole */
  }
  t->decided = true;
  int r = 0;
  const char *pkg;
  json_t *cves;
  json_object_foreach(obj, pkg, cves) {
    if (json_object_get(t->seen, pkg)) {
      r = ld_err(err, LD_EFORMAT, "%s: malformed JSON at line %d column %d: duplicate object key \"%s\"",
                 t->origin, mem->line, mem->col, pkg);
      break;
    }
    json_object_set_new(t->seen, pkg, json_true());
    const char *cve;
    json_t *info;
    json_object_foreach(cves, cve, info) {
      if ((r = import_debian_cve(t->a, pkg, cve, info, t->origin, err)) < 0) break;
    }
    if (r < 0) break;
  }
  json_decref(obj);
  return r;
}

#define STREAM_CHUNK (1u << 20)
#define TRACKER_MEMBER_MAX (64u << 20) /* one package; the largest real one (linux) is a few MB */

/* 1: imported as the tracker; 0: not the tracker (read it whole); -1: error. */
static int import_tracker_stream(ld_advdb *a, const char *path, ld_error **err) {
  ld_reader *in;
  if (ld_reader_open_file(path, &in, err) < 0) return -1;
  ld_json_members m;
  ld_json_members_init(&m, path);
  m.max_member = TRACKER_MEMBER_MAX;
  tracker_stream t = {.a = a, .origin = path, .seen = json_object()};
  char *chunk = ld_xmalloc(STREAM_CHUNK);
  ld_error *serr = NULL;
  int r;
  for (;;) {
    ssize_t n = ld_reader_read(in, chunk, STREAM_CHUNK);
    if (n < 0) {
      r = ld_reader_take_error(in, &serr);
      break;
    }
    r = n == 0 ? ld_json_members_end(&m, &serr)
               : ld_json_members_feed(&m, chunk, (size_t) n, tracker_member, &t, &serr);
    if (n == 0 || r != 0) break;
  }
  free(chunk);
  ld_reader_close(in);
  ld_json_members_clear(&m);
  json_decref(t.seen);
  if (!t.decided) { /* not the tracker, or broken before its first package: the whole-document
                       reader gives the verdict */
    ld_error_free(serr);
    return 0;
  }
  if (r < 0) {
    if (err && !*err) *err = serr;
    else ld_error_free(serr);
    return -1;
  }
  touch_source(a, "debian-tracker", path);
  return 1;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static bool looks_debian(const json_t *doc) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *) doc, k, v) {
    if (!json_is_object(v)) return false;
    const char *c;
    json_t *x;
    json_object_foreach(v, c, x) return ld_str_has_prefix(c, "CVE-") || ld_str_has_prefix(c, "TEMP-");
    return false;
  }
  return false;
}

static int import_doc(ld_advdb *a, const char *buf, size_t len, const char *origin, ld_error **err) {
  ld_autojson json_t *doc = NULL;
  if (ld_json_parse(buf, len, origin, &doc, err) < 0) return -1;
  if (json_is_array(doc)) { /* a list of OSV records */
    size_t i;
    json_t *r;
    json_array_foreach(doc, i, r) if (import_osv(a, r, origin, err) < 0) return -1;
    return 0;
  }
  if (!json_is_object(doc)) return ld_err(err, LD_EFORMAT, "%s: not an advisory document", origin);
  if (json_object_get(doc, "id") && (json_object_get(doc, "affected") || json_object_get(doc, "modified")))
    return import_osv(a, doc, origin, err);
  if (json_object_get(doc, "distroversion") && json_object_get(doc, "packages"))
    return import_alpine(a, doc, origin, err);
  if (looks_debian(doc)) return import_debian(a, doc, origin, err);
  return ld_err(err, LD_EFORMAT, "%s: not OSV, Alpine secdb or Debian security tracker JSON", origin);
}

static int import_zip(ld_advdb *a, const char *path, ld_error **err) {
  struct archive *ar = archive_read_new();
  archive_read_support_format_zip(ar);
  if (archive_read_open_filename(ar, path, 65536) != ARCHIVE_OK) {
    ld_err(err, LD_EFORMAT, "%s: not a zip archive: %s", path, archive_error_string(ar));
    archive_read_free(ar);
    return -1;
  }
  struct archive_entry *ae;
  int r = 0, rc;
  while ((rc = archive_read_next_header(ar, &ae)) == ARCHIVE_OK) {
    const char *name = archive_entry_pathname(ae);
    if (!name || !ld_str_has_suffix(name, ".json")) continue;
    la_int64_t size = archive_entry_size(ae);
    if (size < 0 || (uint64_t) size > ADV_MAX_FILE) {
      r = ld_err(err, LD_EFORMAT, "%s: entry %s is too large", path, name);
      break;
    }
    char *buf = ld_xmalloc((size_t) size + 1);
    la_ssize_t got = archive_read_data(ar, buf, (size_t) size);
    char *origin = ld_xasprintf("%s!%s", path, name);
    if (got != size) r = ld_err(err, LD_EFORMAT, "%s: cannot read entry", origin);
    else r = import_doc(a, buf, (size_t) size, origin, err);
    free(buf), free(origin);
    if (r < 0) break;
  }
  if (r == 0 && rc != ARCHIVE_EOF)
    r = ld_err(err, LD_EFORMAT, "%s: broken zip archive: %s", path, archive_error_string(ar));
  archive_read_free(ar);
  return r;
}

static int import_path(ld_advdb *a, const char *path, ld_error **err);

static int name_cmp(const void *x, const void *y) {
  return strcmp(*(char *const *) x, *(char *const *) y);
}

static int import_dir(ld_advdb *a, const char *path, ld_error **err) {
  DIR *d = opendir(path);
  if (!d) return ld_err_sys(err, errno, "advisory directory %s", path);
  ld_strlist names = {0};
  struct dirent *de;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.') ld_strlist_add(&names, de->d_name);
  closedir(d);
  if (names.n) qsort(names.v, names.n, sizeof *names.v, name_cmp);
  int r = 0;
  for (size_t i = 0; i < names.n && r == 0; i++) {
    char *p = ld_path_join(path, names.v[i]);
    struct stat sb;
    if (stat(p, &sb) == 0 && (S_ISDIR(sb.st_mode) || ld_str_has_suffix(p, ".json") || ld_str_has_suffix(p, ".zip")))
      r = import_path(a, p, err);
    free(p);
  }
  ld_strlist_clear(&names);
  return r;
}

static int import_path(ld_advdb *a, const char *path, ld_error **err) {
  struct stat sb;
  if (stat(path, &sb) < 0) return ld_err_sys(err, errno, "advisory source %s", path);
  if (S_ISDIR(sb.st_mode)) return import_dir(a, path, err);
  if (ld_str_has_suffix(path, ".zip")) return import_zip(a, path, err);
  int streamed = import_tracker_stream(a, path, err);
  if (streamed != 0) return streamed < 0 ? -1 : 0;
  char *buf;
  size_t len;
  if (ld_read_file(path, ADV_MAX_FILE, &buf, &len, err) < 0) return -1;
  int r = import_doc(a, buf, len, path, err);
  free(buf);
  return r;
}

static int prepare_import(ld_advdb *a, ld_error **err) {
  static const char *sql[] = {
      "SELECT id, modified FROM vulns WHERE source = ? AND vuln_id = ?",
      "DELETE FROM vulns WHERE id = ?",
      "INSERT INTO vulns(source, vuln_id, modified, summary, severity, cvss, cvss_vector, aliases)"
      " VALUES (?,?,?,?,?,?,?,?)",
      "INSERT INTO affected(vuln, ecosystem, release, package, data) VALUES (?,?,?,?,?)",
      "INSERT INTO aliases(alias, vuln) VALUES (?, ?)",
  };
  sqlite3_stmt **slots[] = {&a->find, &a->del, &a->ins_vuln, &a->ins_aff, &a->ins_alias};
  for (size_t i = 0; i < LD_ARRAY_SIZE(sql); i++)
    if (sqlite3_prepare_v2(a->db, sql[i], -1, slots[i], NULL) != SQLITE_OK) return db_fail(a, err, "preparing");
  return 0;
}

static void finish_import(ld_advdb *a) {
  sqlite3_finalize(a->find), sqlite3_finalize(a->del);
  sqlite3_finalize(a->ins_vuln), sqlite3_finalize(a->ins_aff), sqlite3_finalize(a->ins_alias);
  a->find = a->del = a->ins_vuln = a->ins_aff = a->ins_alias = NULL;
  json_decref(a->touched);
  a->touched = NULL;
  a->top = NULL;
  a->st = NULL;
}

int ld_advdb_import(ld_advdb *a, char **paths, size_t n, ld_import_stats *st, ld_error **err) {
  ld_import_stats local = {0};
  a->st = st ? st : &local;
  memset(a->st, 0, sizeof *a->st);
  a->touched = json_object();
  if (sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
    finish_import(a);
    return db_fail(a, err, "starting the import");
  }
  int r = prepare_import(a, err);
  for (size_t i = 0; i < n && r == 0; i++) {
    a->top = paths[i];
    r = import_path(a, paths[i], err);
  }
  if (r == 0) r = flush_sources(a, err);
  ld_import_stats *stats = a->st;
  finish_import(a);
  if (r == 0 && sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) r = db_fail(a, err, "committing");
  if (r < 0) {
    sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
    memset(stats, 0, sizeof *stats);
    ld_error_wrap(err, "import rolled back, the database is unchanged");
  }
  return r;
}

int ld_advdb_sources(ld_advdb *a, ld_advdb_source **out, size_t *n, ld_error **err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(a->db, "SELECT name, origin, imported, records FROM sources ORDER BY name", -1, &st, NULL) != SQLITE_OK)
    return db_fail(a, err, "listing sources");
  size_t cap = 8, k = 0;
  ld_advdb_source *v = ld_xcalloc(cap, sizeof *v);
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (k == cap) v = ld_xrealloc(v, (cap *= 2) * sizeof *v);
    const char *name = (const char *) sqlite3_column_text(st, 0);
    const char *origin = (const char *) sqlite3_column_text(st, 1);
    v[k].name = ld_xstrdup(name ? name : "");
    v[k].origin = ld_xstrdup(origin ? origin : "");
    v[k].imported = sqlite3_column_int64(st, 2);
    v[k].records = sqlite3_column_int64(st, 3);
    k++;
  }
  sqlite3_finalize(st);
  *out = v;
  *n = k;
  return 0;
}

void ld_advdb_sources_free(ld_advdb_source *s, size_t n) {
  for (size_t i = 0; i < n; i++) free(s[i].name), free(s[i].origin);
  free(s);
}

int64_t ld_advdb_count(ld_advdb *a, const char *table) {
  if (strcmp(table, "vulns") && strcmp(table, "affected") && strcmp(table, "sources")) return -1;
  char *sql = ld_xasprintf("SELECT count(*) FROM %s", table);
  sqlite3_stmt *st;
  int64_t n = -1;
  if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  free(sql);
  return n;
}
