/* Matching a catalog against the advisory database.
 *
 * Each package is looked up under the key its ecosystem's advisories use:
 *   deb   ("Debian" | "Ubuntu", distro major, SOURCE name) compared on the source version
 *   apk   ("Alpine", "v3.15", origin) on the package version
 *   rpm   ("Red Hat" | "Rocky Linux" | "AlmaLinux", major, binary name, then source name) on
 *         [epoch:]version-release
 *   maven / pypi / npm  (ecosystem, "", name) on the version
 * and every hit's OSV "affected" object is evaluated (ld_osv_affected) with the ecosystem's
 * comparator. One vulnerability reaches a package through several feeds (Debian tracker CVE,
 * OSV DSA aliasing it): findings of one package sharing any id or alias are merged, the first
 * source (alphabetical) giving the row and the others filling what it lacks (fix, severity,
 * title). Severity: the feed's per-package level (Debian urgency) when known, else the record's
 * (CVSS v3 score or database level), else that of another record of the same CVE.
 */
#include <string.h>
#include "lading/json.h"
#include "lading/scan.h"
#include "lading/util.h"
#include "scan/scan_priv.h"

void ld_findings_clear(ld_findings *f) {
  for (size_t i = 0; i < f->n; i++) {
    ld_finding *x = &f->v[i];
    free(x->id), free(x->aliases), free(x->installed), free(x->fixed), free(x->cvss_vector);
    free(x->title), free(x->status), free(x->source);
  }
  free(f->v);
  memset(f, 0, sizeof *f);
}

static ld_finding *findings_add(ld_findings *f) {
  if (f->n == f->cap) {
    f->cap = f->cap ? f->cap * 2 : 32;
    f->v = ld_xrealloc(f->v, f->cap * sizeof *f->v);
  }
  ld_finding *x = &f->v[f->n++];
  memset(x, 0, sizeof *x);
  x->cvss = -1;
  return x;
}

typedef struct {
  const char *ecosystem;
  char *release;
  const char *names[2];
  char *version;
  ld_version_scheme scheme;
} lookup_key;

static bool key_for(const ld_catalog *cat, const ld_package *p, lookup_key *k) {
  memset(k, 0, sizeof *k);
  const char *os = cat->os.id ? cat->os.id : "";
  if (!strcmp(p->type, "deb")) {
    k->ecosystem = !strcmp(os, "ubuntu") ? "Ubuntu" : "Debian";
    k->release = ld_os_release_key(&cat->os);
    k->names[0] = p->src_name ? p->src_name : p->name;
    k->version = ld_xstrdup(p->src_version ? p->src_version : p->version);
    k->scheme = LD_VER_DPKG;
  } else if (!strcmp(p->type, "apk")) {
    k->ecosystem = "Alpine";
    k->release = ld_os_release_key(&cat->os);
    k->names[0] = p->src_name ? p->src_name : p->name;
    k->version = ld_xstrdup(p->version);
    k->scheme = LD_VER_APK;
  } else if (!strcmp(p->type, "rpm")) {
    k->ecosystem = !strcmp(os, "rocky") ? "Rocky Linux" : !strcmp(os, "almalinux") ? "AlmaLinux" : "Red Hat";
    k->release = ld_os_release_key(&cat->os);
    k->names[0] = p->name;
    if (p->src_name && strcmp(p->src_name, p->name)) k->names[1] = p->src_name;
    k->version = p->epoch ? ld_xasprintf("%d:%s", p->epoch, p->version) : ld_xstrdup(p->version);
    k->scheme = LD_VER_RPM;
  } else {
    static const struct {
      const char *type, *eco;
      ld_version_scheme s;
    } lang[] = {{"maven", "Maven", LD_VER_MAVEN}, {"pypi", "PyPI", LD_VER_PEP440}, {"npm", "npm", LD_VER_SEMVER}};
    for (size_t i = 0; i < LD_ARRAY_SIZE(lang); i++)
      if (!strcmp(p->type, lang[i].type)) {
        k->ecosystem = lang[i].eco;
        k->release = ld_xstrdup("");
        k->names[0] = p->name;
        k->version = ld_xstrdup(p->version);
        k->scheme = lang[i].s;
      }
  }
  return k->ecosystem != NULL;
}

static void key_clear(lookup_key *k) {
  free(k->release), free(k->version);
}

/* "CVE-2023-4911/glibc" (per-package rows of distro feeds) -> "CVE-2023-4911". */
static char *display_id(const char *vuln_id) {
  return ld_xstrndup(vuln_id, strcspn(vuln_id, "/"));
}

static bool shares_id(const ld_finding *f, const char *id, const char *aliases) {
  char *all = ld_xasprintf(",%s,%s,", f->id, f->aliases ? f->aliases : "");
  bool hit = false;
  char *mine = ld_xasprintf("%s,%s", id, aliases ? aliases : "");
  for (char *save = NULL, *t = strtok_r(mine, ",", &save); t && !hit; t = strtok_r(NULL, ",", &save)) {
    char *needle = ld_xasprintf(",%s,", t);
    hit = strstr(all, needle) != NULL;
    free(needle);
  }
  free(all), free(mine);
  return hit;
}

/* Adds id and aliases (comma-separated) to f->aliases, skipping f->id and duplicates. */
static void merge_aliases(ld_finding *f, const char *id, const char *aliases) {
  char *all = ld_xasprintf("%s,%s", id, aliases ? aliases : "");
  for (char *save = NULL, *t = strtok_r(all, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (!strcmp(t, f->id)) continue;
    char *have = ld_xasprintf(",%s,", f->aliases ? f->aliases : ""), *needle = ld_xasprintf(",%s,", t);
    bool dup = strstr(have, needle) != NULL;
    free(have), free(needle);
    if (dup) continue;
    char *n = f->aliases && *f->aliases ? ld_xasprintf("%s,%s", f->aliases, t) : ld_xstrdup(t);
    free(f->aliases);
    f->aliases = n;
  }
  free(all);
}

/* Severity (and score) of another record of the same CVE when this one has none. */
static void borrow_severity(sqlite3 *db, ld_finding *f) {
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db,
                     "SELECT v.severity, v.cvss, v.cvss_vector, v.summary FROM aliases a JOIN vulns v"
                     " ON v.id = a.vuln WHERE a.alias = ?1 AND v.severity IS NOT NULL AND"
                     " v.severity != 'UNKNOWN' ORDER BY v.cvss DESC LIMIT 1", -1, &st, NULL);
  sqlite3_bind_text(st, 1, f->id, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    int s = ld_severity_parse((const char *) sqlite3_column_text(st, 0));
    if (s > 0 && f->severity == LD_SEV_UNKNOWN) f->severity = (ld_severity) s;
    if (f->cvss < 0 && sqlite3_column_type(st, 1) != SQLITE_NULL) f->cvss = sqlite3_column_double(st, 1);
    const char *v = (const char *) sqlite3_column_text(st, 2);
    if (v && !f->cvss_vector) f->cvss_vector = ld_xstrdup(v);
    const char *t = (const char *) sqlite3_column_text(st, 3);
    if (t && !f->title) f->title = ld_xstrdup(t);
  }
  sqlite3_finalize(st);
}

static char *first_line(const char *s) {
  if (!s) return NULL;
  return ld_xstrndup(s, strcspn(s, "\n"));
}

static int match_one(sqlite3 *db, size_t pkg_index, const lookup_key *k, const char *name,
                     ld_findings *out, size_t first_of_pkg, ld_error **err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT v.vuln_id, v.source, v.summary, v.severity, v.cvss, v.cvss_vector,"
                         " v.aliases, a.data FROM affected a JOIN vulns v ON v.id = a.vuln"
                         " WHERE a.ecosystem = ? AND a.release = ? AND a.package = ?"
                         " ORDER BY v.source, v.vuln_id", -1, &st, NULL) != SQLITE_OK)
    return ld_err(err, EIO, "advisory database: %s", sqlite3_errmsg(db));
  char *norm = ld_advdb_normalize_name(k->ecosystem, name);
  sqlite3_bind_text(st, 1, k->ecosystem, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, k->release, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, norm, -1, SQLITE_STATIC);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *data = (const char *) sqlite3_column_text(st, 7);
    json_t *af = data ? json_loads(data, 0, NULL) : NULL;
    if (!af) continue;
    char *fixed = NULL;
    if (!ld_osv_affected(af, k->scheme, k->version, &fixed)) {
      json_decref(af);
      continue;
    }
    char *id = display_id((const char *) sqlite3_column_text(st, 0));
    const char *aliases = (const char *) sqlite3_column_text(st, 6);
    const char *pkg_sev = ld_json_str(json_object_get(af, "database_specific"), "severity");
    int sev = ld_severity_parse(pkg_sev);
    if (sev <= 0) sev = ld_severity_parse((const char *) sqlite3_column_text(st, 3));
    ld_finding *f = NULL;
    for (size_t i = first_of_pkg; i < out->n; i++)
      if (shares_id(&out->v[i], id, aliases)) f = &out->v[i];
    if (f) { /* merge: fill gaps from this record */
      if (!f->fixed && fixed) f->fixed = fixed, fixed = NULL, free(f->status), f->status = ld_xstrdup("fixed");
      if (f->severity == LD_SEV_UNKNOWN && sev > 0) f->severity = (ld_severity) sev;
      if (!f->title) f->title = first_line((const char *) sqlite3_column_text(st, 2));
      if (f->cvss < 0 && sqlite3_column_type(st, 4) != SQLITE_NULL) {
        f->cvss = sqlite3_column_double(st, 4);
        const char *vec = (const char *) sqlite3_column_text(st, 5);
        free(f->cvss_vector);
        f->cvss_vector = vec ? ld_xstrdup(vec) : NULL;
      }
      merge_aliases(f, id, aliases);
      free(id);
    } else {
      f = findings_add(out);
      f->pkg = pkg_index;
      f->id = id;
      f->aliases = NULL;
      merge_aliases(f, id, aliases);
      f->installed = ld_xstrdup(k->version);
      f->fixed = fixed, fixed = NULL;
      f->severity = sev > 0 ? (ld_severity) sev : LD_SEV_UNKNOWN;
      if (sqlite3_column_type(st, 4) != SQLITE_NULL) f->cvss = sqlite3_column_double(st, 4);
      const char *vec = (const char *) sqlite3_column_text(st, 5);
      f->cvss_vector = vec ? ld_xstrdup(vec) : NULL;
      f->title = first_line((const char *) sqlite3_column_text(st, 2));
      f->status = ld_xstrdup(f->fixed ? "fixed" : "affected");
      f->source = ld_xstrdup((const char *) sqlite3_column_text(st, 1));
    }
    free(fixed);
    json_decref(af);
  }
  sqlite3_finalize(st);
  free(norm);
  return 0;
}

/* All lookups in one read transaction: one snapshot of the database (an import committing
 * meanwhile is not half seen), and one lock instead of one per statement. */
int ld_match(ld_advdb *db, const ld_catalog *cat, ld_findings *out, ld_error **err) {
  sqlite3 *s = ld_advdb_sqlite(db);
  sqlite3_exec(s, "BEGIN", NULL, NULL, NULL);
  int r = 0;
  for (size_t i = 0; i < cat->pkgs.n && r == 0; i++) {
    lookup_key k;
    if (!key_for(cat, &cat->pkgs.v[i], &k)) continue;
    size_t first = out->n;
    for (int n = 0; n < 2 && k.names[n] && r == 0; n++) r = match_one(s, i, &k, k.names[n], out, first, err);
    key_clear(&k);
    for (size_t f = first; r == 0 && f < out->n; f++)
      if (out->v[f].severity == LD_SEV_UNKNOWN || !out->v[f].title) borrow_severity(s, &out->v[f]);
  }
  sqlite3_exec(s, "COMMIT", NULL, NULL, NULL);
  return r < 0 ? -1 : 0;
}
