/* Scan reports in the formats CI systems already read.
 *
 *   table      package, installed, fixed, vulnerability, severity, status, title; then a count
 *              per severity (the Trivy layout users know)
 *   json       our own, stable field names (docs/scan.md)
 *   sarif      SARIF 2.1.0: one rule per vulnerability, one result per (package, vulnerability),
 *              level error for HIGH/CRITICAL, warning for MEDIUM, note otherwise, and the
 *              "security-severity" property GitHub code scanning sorts by
 *   cyclonedx  CycloneDX 1.5 JSON: components with purls (the SBOM) and, when findings are
 *              given, vulnerabilities with ratings and affects refs
 *   spdx-json  SPDX 2.3 JSON: one package per component with a purl external reference, all
 *              CONTAINed by the image package the document DESCRIBES
 * Filtering (severity, unfixed, ignore file) happens before any of them.
 */
#include <ctype.h>
#include <string.h>
#include <openssl/rand.h>
#include "lading/fs.h"
#include "lading/scan.h"
#include "lading/util.h"

#define LADING_VERSION "0.1.0"

/* ---- filtering --------------------------------------------------------------------------- */

static bool ignored(const ld_finding *f, const ld_strlist *ignore) {
  if (!ignore) return false;
  for (size_t i = 0; i < ignore->n; i++) {
    if (!strcmp(f->id, ignore->v[i])) return true;
    if (f->aliases) {
      char *all = ld_xasprintf(",%s,", f->aliases), *needle = ld_xasprintf(",%s,", ignore->v[i]);
      bool hit = strstr(all, needle) != NULL;
      free(all), free(needle);
      if (hit) return true;
    }
  }
  return false;
}

static int finding_cmp(const void *x, const void *y, void *arg) {
  const ld_catalog *cat = arg;
  const ld_finding *a = x, *b = y;
  const ld_package *pa = &cat->pkgs.v[a->pkg], *pb = &cat->pkgs.v[b->pkg];
  int r = strcmp(pa->name, pb->name);
  if (!r) r = a->pkg < b->pkg ? -1 : a->pkg > b->pkg;
  if (!r) r = (int) b->severity - (int) a->severity;
  if (!r) r = strcmp(a->id, b->id);
  return r;
}

void ld_findings_filter(ld_findings *f, const ld_catalog *cat, unsigned severities,
                        bool ignore_unfixed, const ld_strlist *ignore) {
  size_t k = 0;
  for (size_t i = 0; i < f->n; i++) {
    ld_finding *x = &f->v[i];
    bool drop = (severities && !(severities & (1u << x->severity))) || (ignore_unfixed && !x->fixed) ||
                ignored(x, ignore);
    if (drop) {
      free(x->id), free(x->aliases), free(x->installed), free(x->fixed), free(x->cvss_vector);
      free(x->title), free(x->status), free(x->source);
    } else {
      f->v[k++] = *x;
    }
  }
  f->n = k;
  if (f->n) qsort_r(f->v, f->n, sizeof *f->v, finding_cmp, (void *) cat);
}

static int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned) (y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t) doe - 719468;
}

int ld_ignore_file_load(const char *path, int64_t now, ld_strlist *out, ld_error **err) {
  char *buf;
  size_t len;
  if (ld_read_file(path, 16u << 20, &buf, &len, err) < 0) return ld_error_wrap(err, "ignore file");
  int line_no = 0, r = 0;
  for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    line_no++;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char id[256] = "", extra[256] = "";
    int n = sscanf(line, "%255s %255s", id, extra);
    if (n < 1) continue;
    if (n == 2) {
      int y;
      unsigned m, d;
      if (strncmp(extra, "exp:", 4) || sscanf(extra + 4, "%d-%u-%u", &y, &m, &d) != 3 || m < 1 ||
          m > 12 || d < 1 || d > 31) {
        r = ld_err(err, LD_EFORMAT, "ignore file %s: line %d: expected \"ID [exp:YYYY-MM-DD]\"", path, line_no);
        break;
      }
      /* the entry applies through the whole expiry day (UTC) */
      if (now >= (days_from_civil(y, m, d) + 1) * 86400) continue;
    }
    ld_strlist_add(out, id);
  }
  free(buf);
  return r;
}

/* ---- counts ------------------------------------------------------------------------------ */

static void count_severities(const ld_findings *f, size_t counts[5]) {
  memset(counts, 0, 5 * sizeof *counts);
  for (size_t i = 0; i < f->n; i++) counts[f->v[i].severity]++;
}

static char *os_version(const ld_catalog *cat) { return cat->os.version_id ? cat->os.version_id : ""; }

static char *purl_of(const ld_catalog *cat, const ld_package *p) {
  return ld_package_purl(p, cat->os.id, os_version(cat));
}

/* ---- table ------------------------------------------------------------------------------- */

static void fit(char *dst, size_t n, const char *s) {
  if (!s) s = "";
  size_t len = strlen(s);
  if (len < n) {
    memcpy(dst, s, len + 1);
  } else {
    memcpy(dst, s, n - 4);
    memcpy(dst + n - 4, "...", 4);
  }
}

void ld_report_table(FILE *out, const ld_catalog *cat, const ld_findings *f) {
  size_t counts[5];
  count_severities(f, counts);
  fprintf(out, "%s (%s %s)\n", cat->image_name ? cat->image_name : "image",
          cat->os.id && *cat->os.id ? cat->os.id : "unknown os", os_version(cat));
  fprintf(out, "Packages: %zu, layers: %zu\n", cat->pkgs.n, cat->n_layers);
  fprintf(out, "Total: %zu (UNKNOWN: %zu, LOW: %zu, MEDIUM: %zu, HIGH: %zu, CRITICAL: %zu)\n\n", f->n,
          counts[0], counts[1], counts[2], counts[3], counts[4]);
  if (!f->n) return;
  size_t wp = 7, wi = 9, wx = 5, wv = 13;
  for (size_t i = 0; i < f->n; i++) {
    const ld_finding *x = &f->v[i];
    const char *name = cat->pkgs.v[x->pkg].name;
    if (strlen(name) > wp) wp = strlen(name);
    if (strlen(x->installed) > wi) wi = strlen(x->installed);
    if (x->fixed && strlen(x->fixed) > wx) wx = strlen(x->fixed);
    if (strlen(x->id) > wv) wv = strlen(x->id);
  }
  if (wp > 40) wp = 40;
  fprintf(out, "%-*s  %-*s  %-*s  %-*s  %-8s  %-8s  %s\n", (int) wp, "PACKAGE", (int) wi, "INSTALLED",
          (int) wx, "FIXED", (int) wv, "VULNERABILITY", "SEVERITY", "STATUS", "TITLE");
  for (size_t i = 0; i < f->n; i++) {
    const ld_finding *x = &f->v[i];
    char title[64], name[41];
    fit(title, sizeof title, x->title);
    fit(name, sizeof name, cat->pkgs.v[x->pkg].name);
    fprintf(out, "%-*s  %-*s  %-*s  %-*s  %-8s  %-8s  %s\n", (int) wp, name, (int) wi, x->installed,
            (int) wx, x->fixed ? x->fixed : "", (int) wv, x->id, ld_severity_name(x->severity),
            x->status, title);
  }
}

/* ---- json -------------------------------------------------------------------------------- */

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *aliases_json(const char *aliases) {
  json_t *a = json_array();
  if (!aliases) return a;
  char *dup = ld_xstrdup(aliases);
  for (char *save = NULL, *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save))
    json_array_append_new(a, json_string(t));
  free(dup);
  return a;
}

static json_t *os_json(const ld_catalog *cat) {
  return json_pack("{s:o,s:o,s:o}", "id", str_or_null(cat->os.id), "version", str_or_null(cat->os.version_id),
                   "pretty", str_or_null(cat->os.pretty));
}

json_t *ld_report_json(const ld_catalog *cat, const ld_findings *f) {
  size_t counts[5];
  count_severities(f, counts);
  json_t *summary = json_object();
  for (int s = 0; s < 5; s++) json_object_set_new(summary, ld_severity_name((ld_severity) s), json_integer((json_int_t) counts[s]));
  json_object_set_new(summary, "total", json_integer((json_int_t) f->n));
  json_t *layers = json_array();
  for (size_t i = 0; i < cat->n_layers; i++) json_array_append_new(layers, json_string(cat->layers[i]));
  json_t *items = json_array();
  for (size_t i = 0; i < f->n; i++) {
    const ld_finding *x = &f->v[i];
    const ld_package *p = &cat->pkgs.v[x->pkg];
    json_t *o = json_object();
    json_object_set_new(o, "package", json_string(p->name));
    json_object_set_new(o, "type", json_string(p->type));
    json_object_set_new(o, "installed", json_string(x->installed));
    json_object_set_new(o, "fixed", str_or_null(x->fixed));
    json_object_set_new(o, "vulnerability", json_string(x->id));
    json_object_set_new(o, "aliases", aliases_json(x->aliases));
    json_object_set_new(o, "severity", json_string(ld_severity_name(x->severity)));
    json_object_set_new(o, "cvss", x->cvss >= 0 ? json_real(x->cvss) : json_null());
    json_object_set_new(o, "cvss_vector", str_or_null(x->cvss_vector));
    json_object_set_new(o, "status", json_string(x->status));
    json_object_set_new(o, "title", str_or_null(x->title));
    json_object_set_new(o, "source", str_or_null(x->source));
    char *purl = purl_of(cat, p);
    json_object_set_new(o, "purl", json_string(purl));
    free(purl);
    json_object_set_new(o, "path", str_or_null(p->path));
    json_object_set_new(o, "layer", p->layer >= 0 ? json_integer(p->layer) : json_null());
    json_object_set_new(o, "layer_diff_id", str_or_null(p->layer_diff_id));
    json_array_append_new(items, o);
  }
  return json_pack("{s:o,s:o,s:o,s:o,s:I,s:o,s:o}", "image", str_or_null(cat->image_name), "digest",
                   str_or_null(cat->image_digest), "os", os_json(cat), "layers", layers, "packages",
                   (json_int_t) cat->pkgs.n, "summary", summary, "findings", items);
}

/* ---- sarif ------------------------------------------------------------------------------- */

static const char *sarif_level(ld_severity s) {
  return s >= LD_SEV_HIGH ? "error" : s == LD_SEV_MEDIUM ? "warning" : "note";
}

static double severity_score(const ld_finding *x) {
  if (x->cvss >= 0) return x->cvss;
  static const double by_level[] = {0.0, 2.0, 5.5, 8.0, 9.5};
  return by_level[x->severity];
}

json_t *ld_report_sarif(const ld_catalog *cat, const ld_findings *f) {
  json_t *rules = json_array(), *results = json_array(), *seen = json_object();
  for (size_t i = 0; i < f->n; i++) {
    const ld_finding *x = &f->v[i];
    const ld_package *p = &cat->pkgs.v[x->pkg];
    json_t *idx = json_object_get(seen, x->id);
    if (!idx) {
      char score[16];
      snprintf(score, sizeof score, "%.1f", severity_score(x));
      json_t *rule = json_pack("{s:s,s:{s:s},s:{s:s},s:{s:[s,s,s],s:s,s:s}}", "id", x->id, "shortDescription",
                               "text", x->title ? x->title : x->id, "fullDescription", "text",
                               x->title ? x->title : x->id, "properties", "tags", "vulnerability",
                               "security", ld_severity_name(x->severity), "security-severity", score,
                               "precision", "very-high");
      idx = json_integer((json_int_t) json_array_size(rules));
      json_object_set_new(seen, x->id, idx);
      json_array_append_new(rules, rule);
    }
    char *msg = ld_xasprintf("Package: %s\nInstalled Version: %s\nVulnerability %s\nSeverity: %s\nFixed Version: %s",
                             p->name, x->installed, x->id, ld_severity_name(x->severity), x->fixed ? x->fixed : "");
    json_t *res = json_pack("{s:s,s:I,s:s,s:{s:s},s:[{s:{s:{s:s},s:{s:i,s:i,s:i,s:i}}}]}", "ruleId", x->id,
                            "ruleIndex", json_integer_value(idx), "level", sarif_level(x->severity),
                            "message", "text", msg, "locations", "physicalLocation", "artifactLocation",
                            "uri", p->path ? p->path : (cat->image_name ? cat->image_name : "image"),
                            "region", "startLine", 1, "startColumn", 1, "endLine", 1, "endColumn", 1);
    free(msg);
    json_array_append_new(results, res);
  }
  json_decref(seen);
  return json_pack("{s:s,s:s,s:[{s:{s:{s:s,s:s,s:s,s:s,s:o}},s:o}]}", "version", "2.1.0", "$schema",
                   "https://json.schemastore.org/sarif-2.1.0.json", "runs", "tool", "driver", "name",
                   "lading", "fullName", "lading vulnerability scanner", "version", LADING_VERSION,
                   "informationUri", "https://github.com/lading/lading", "rules", rules, "results", results);
}

/* ---- CycloneDX --------------------------------------------------------------------------- */

static char *uuid4(void) {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) memset(b, 0x5a, sizeof b);
  b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
  return ld_xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                      b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static char *lower(const char *s) {
  char *d = ld_xstrdup(s);
  for (char *p = d; *p; p++) *p = (char) tolower((unsigned char) *p);
  return d;
}

json_t *ld_report_cyclonedx(const ld_catalog *cat, const ld_findings *f) {
  char ts[32], *uuid = uuid4(), *serial = ld_xasprintf("urn:uuid:%s", uuid);
  ld_time_rfc3339(ld_now(), ts, sizeof ts);
  json_t *components = json_array();
  if (cat->os.id && *cat->os.id)
    json_array_append_new(components, json_pack("{s:s,s:s,s:s,s:s}", "bom-ref", "os", "type", "operating-system",
                                                 "name", cat->os.id, "version", os_version(cat)));
  for (size_t i = 0; i < cat->pkgs.n; i++) {
    const ld_package *p = &cat->pkgs.v[i];
    char *purl = purl_of(cat, p);
    json_t *c = json_pack("{s:s,s:s,s:s,s:s,s:s}", "bom-ref", purl, "type", "library", "name", p->name,
                          "version", p->version, "purl", purl);
    if (p->license && *p->license)
      json_object_set_new(c, "licenses", json_pack("[{s:{s:s}}]", "license", "name", p->license));
    json_t *props = json_array();
    if (p->path) json_array_append_new(props, json_pack("{s:s,s:s}", "name", "lading:path", "value", p->path));
    if (p->layer_diff_id)
      json_array_append_new(props, json_pack("{s:s,s:s}", "name", "lading:layer_diff_id", "value", p->layer_diff_id));
    if (p->src_name)
      json_array_append_new(props, json_pack("{s:s,s:s}", "name", "lading:src_name", "value", p->src_name));
    json_object_set_new(c, "properties", props);
    json_array_append_new(components, c);
    free(purl);
  }
  json_t *bom = json_pack("{s:s,s:s,s:s,s:i,s:{s:s,s:{s:[{s:s,s:s,s:s}]},s:{s:s,s:s,s:s}},s:o}", "bomFormat",
                          "CycloneDX", "specVersion", "1.5", "serialNumber", serial, "version", 1, "metadata",
                          "timestamp", ts, "tools", "components", "type", "application", "name", "lading",
                          "version", LADING_VERSION, "component", "bom-ref", "image", "type", "container",
                          "name", cat->image_name ? cat->image_name : "image", "components", components);
  if (f) {
    json_t *vulns = json_array();
    for (size_t i = 0; i < f->n; i++) {
      const ld_finding *x = &f->v[i];
      char *purl = purl_of(cat, &cat->pkgs.v[x->pkg]), *sev = lower(ld_severity_name(x->severity));
      json_t *rating = json_pack("{s:s}", "severity", sev);
      if (x->cvss >= 0) json_object_set_new(rating, "score", json_real(x->cvss));
      if (x->cvss_vector) {
        json_object_set_new(rating, "method", json_string(ld_str_has_prefix(x->cvss_vector, "CVSS:3.0") ? "CVSSv3" : "CVSSv31"));
        json_object_set_new(rating, "vector", json_string(x->cvss_vector));
      }
      json_t *v = json_pack("{s:s,s:{s:s},s:[o],s:[{s:s}]}", "id", x->id, "source", "name",
                            x->source ? x->source : "lading", "ratings", rating, "affects", "ref", purl);
      if (x->title) json_object_set_new(v, "description", json_string(x->title));
      if (x->fixed) {
        char *rec = ld_xasprintf("Upgrade %s to %s", cat->pkgs.v[x->pkg].name, x->fixed);
        json_object_set_new(v, "recommendation", json_string(rec));
        free(rec);
      }
      json_array_append_new(vulns, v);
      free(purl), free(sev);
    }
    json_object_set_new(bom, "vulnerabilities", vulns);
  }
  free(uuid), free(serial);
  return bom;
}

/* ---- SPDX -------------------------------------------------------------------------------- */

json_t *ld_report_spdx(const ld_catalog *cat) {
  char ts[32], *uuid = uuid4();
  ld_time_rfc3339(ld_now(), ts, sizeof ts);
  const char *name = cat->image_name ? cat->image_name : "image";
  char *ns = ld_xasprintf("https://lading.invalid/spdx/image-%s", uuid);
  json_t *pkgs = json_array(), *rels = json_array();
  json_array_append_new(pkgs, json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:s}", "name", name, "SPDXID", "SPDXRef-Image",
                                        "versionInfo", cat->image_digest ? cat->image_digest : "", "downloadLocation",
                                        "NOASSERTION", "filesAnalyzed", 0, "licenseConcluded", "NOASSERTION",
                                        "licenseDeclared", "NOASSERTION", "primaryPackagePurpose", "CONTAINER"));
  json_array_append_new(rels, json_pack("{s:s,s:s,s:s}", "spdxElementId", "SPDXRef-DOCUMENT", "relationshipType",
                                        "DESCRIBES", "relatedSpdxElement", "SPDXRef-Image"));
  for (size_t i = 0; i < cat->pkgs.n; i++) {
    const ld_package *p = &cat->pkgs.v[i];
    char *purl = purl_of(cat, p), *id = ld_xasprintf("SPDXRef-Package-%zu", i + 1);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:[{s:s,s:s,s:s}]}", "name", p->name, "SPDXID", id,
                          "versionInfo", p->version, "downloadLocation", "NOASSERTION", "filesAnalyzed", 0,
                          "licenseConcluded", "NOASSERTION", "licenseDeclared", "NOASSERTION", "externalRefs",
                          "referenceCategory", "PACKAGE-MANAGER", "referenceType", "purl", "referenceLocator", purl);
    if (p->path) {
      char *c = ld_xasprintf("found in /%s (layer %d)", p->path, p->layer);
      json_object_set_new(o, "comment", json_string(c));
      free(c);
    }
    json_array_append_new(pkgs, o);
    json_array_append_new(rels, json_pack("{s:s,s:s,s:s}", "spdxElementId", "SPDXRef-Image", "relationshipType",
                                          "CONTAINS", "relatedSpdxElement", id));
    free(purl), free(id);
  }
  json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:[s]},s:o,s:o}", "spdxVersion", "SPDX-2.3", "dataLicense",
                          "CC0-1.0", "SPDXID", "SPDXRef-DOCUMENT", "name", name, "documentNamespace", ns,
                          "creationInfo", "created", ts, "creators", "Tool: lading-" LADING_VERSION, "packages",
                          pkgs, "relationships", rels);
  free(ns), free(uuid);
  return doc;
}
