/* lading scan: catalog an image (lib/scan/image.c, per-layer cache in meta.db), match it against
 * the offline advisory database, filter, report, and gate (exit 3 with --fail-on). */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/util.h"
#include "scan_cli.h"

static void usage(FILE *f) {
  fprintf(f, "Usage: lading scan [OPTIONS] IMAGE\n\n"
             "List what is installed in IMAGE (OS packages: dpkg, apk, rpm; Java, Python, npm) and\n"
             "match it against the offline advisory database ('lading db import'). IMAGE is a\n"
             "store reference or oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE.\n\n"
             "  --format FMT          table (default), json, sarif, cyclonedx\n"
             "  --severity LIST       only these severities (comma-separated: UNKNOWN, LOW, MEDIUM,\n"
             "                        HIGH, CRITICAL)\n"
             "  --ignore-unfixed      drop vulnerabilities without a fixed version\n"
             "  --ignore-file FILE    ids to ignore, .trivyignore syntax (\"CVE-... exp:2025-12-31\");\n"
             "                        default ./.trivyignore when it exists\n"
             "  --fail-on SEVERITY    exit 3 if a finding at or above SEVERITY remains\n"
             "  --db FILE             advisory database (default $LADING_ROOT/advisories.db)\n"
             "  --no-cache            do not use or fill the per-layer cache in meta.db\n"
             "  -o, --output FILE     write the report to FILE (atomically) instead of stdout\n"
             "  -h, --help            this help\n\n"
             "Exit status: 0 ok, 1 error, 2 usage, 3 findings at or above --fail-on.\n");
}

static int parse_severities(const char *list, unsigned *mask) {
  char *dup = ld_xstrdup(list);
  int r = 0;
  for (char *save = NULL, *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    int s = ld_severity_parse(t);
    if (s < 0) {
      r = cli_usage_error("scan", "unknown severity '%s' (UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL)", t);
      break;
    }
    *mask |= 1u << s;
  }
  free(dup);
  return r;
}

typedef struct {
  const char *format, *ignore_file, *db, *output;
  unsigned severities;
  int fail_on;
  bool ignore_unfixed, no_cache;
} scan_opts;

static int report(const scan_opts *o, const ld_catalog *cat, const ld_findings *f, ld_error **err) {
  json_t *doc = NULL;
  if (!strcmp(o->format, "table")) {
    FILE *out = o->output ? fopen(o->output, "w") : stdout;
    if (!out) return ld_err_sys(err, errno, "report %s", o->output);
    ld_report_table(out, cat, f);
    if (o->output) fclose(out);
    return 0;
  }
  if (!strcmp(o->format, "json")) {
    doc = ld_report_json(cat, f);
    json_object_set_new(doc, "scan", json_pack("{s:I,s:I,s:I}", "layers_read", (json_int_t) cat->stats.layers_read,
                                               "layers_cached", (json_int_t) cat->stats.layers_cached, "bytes_read",
                                               (json_int_t) cat->stats.bytes_read));
  } else if (!strcmp(o->format, "sarif")) {
    doc = ld_report_sarif(cat, f);
  } else {
    doc = ld_report_cyclonedx(cat, f);
  }
  int r = scan_cli_write_json(o->output, doc, err);
  json_decref(doc);
  return r;
}

/* The advisory database is opened (SQLite reads its schema: ~2 ms) on a thread of its own while
 * the image is read, since matching needs it only after the last layer. A database that does
 * not exist is still reported before any layer is read. The thread first initialises OpenSSL's
 * SHA-256 (its providers: ~2.3 ms, once per process), which the main thread otherwise pays when
 * it verifies the index, before the first layer can start. */
typedef struct {
  const char *path;
  ld_advdb *db;
  ld_error *err;
} db_opening;

static void *open_db(void *arg) {
  db_opening *o = arg;
  ld_hasher_free(ld_hasher_new(LD_SHA256));
  ld_advdb_open(o->path, false, &o->db, &o->err);
  return NULL;
}

static int run(const scan_opts *o, const char *image) {
  ld_error *err = NULL;
  ld_strlist ignore = {0};
  const char *ignore_file = o->ignore_file;
  if (!ignore_file && ld_path_exists(".trivyignore")) ignore_file = ".trivyignore";
  if (ignore_file && ld_ignore_file_load(ignore_file, ld_now(), &ignore, &err) < 0) return cli_fail(err);
  char *db_path = scan_cli_db_path(o->db, &err);
  ld_advdb *db = NULL;
  if (!db_path || (!ld_path_exists(db_path) && ld_advdb_open(db_path, false, &db, &err) < 0)) {
    free(db_path);
    ld_strlist_clear(&ignore);
    return cli_fail(err);
  }
  db_opening opening = {.path = db_path};
  pthread_t opener;
  bool threaded = pthread_create(&opener, NULL, open_db, &opening) == 0;
  if (!threaded) open_db(&opening);
  ld_store *store = NULL;
  ld_catalog cat;
  ld_findings f = {0};
  int rc = 0;
  int catalogued = scan_cli_catalog(image, o->no_cache, &store, &cat, &err);
  if (threaded) pthread_join(opener, NULL);
  db = opening.db;
  if (catalogued < 0) {
    rc = cli_fail(err);
    ld_error_free(opening.err);
  } else if (!db) {
    rc = cli_fail(opening.err);
    ld_catalog_clear(&cat);
  } else {
    if (ld_match(db, &cat, &f, &err) < 0) {
      rc = cli_fail(err);
    } else {
      ld_findings_filter(&f, &cat, o->severities, o->ignore_unfixed, &ignore);
      if (report(o, &cat, &f, &err) < 0) rc = cli_fail(err);
      size_t over = 0;
      for (size_t i = 0; o->fail_on >= 0 && i < f.n; i++) over += (int) f.v[i].severity >= o->fail_on;
      if (rc == 0 && over) {
        fprintf(stderr, "lading: %zu finding(s) at or above %s in %s\n", over,
                ld_severity_name((ld_severity) o->fail_on), image);
        rc = 3;
      }
    }
    ld_catalog_clear(&cat);
  }
  ld_findings_clear(&f);
  ld_advdb_close(db);
  if (store) ld_store_close(store);
  free(db_path);
  ld_strlist_clear(&ignore);
  return rc;
}

int cmd_scan(int argc, char **argv) {
  static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                       {"severity", required_argument, 0, 's'},
                                       {"ignore-unfixed", no_argument, 0, 'u'},
                                       {"ignore-file", required_argument, 0, 'i'},
                                       {"fail-on", required_argument, 0, 'F'},
                                       {"db", required_argument, 0, 'd'},
                                       {"no-cache", no_argument, 0, 'n'},
                                       {"output", required_argument, 0, 'o'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  scan_opts o = {.format = "table", .fail_on = -1};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      if (strcmp(optarg, "table") && strcmp(optarg, "json") && strcmp(optarg, "sarif") && strcmp(optarg, "cyclonedx"))
        return cli_usage_error("scan", "unknown --format '%s' (table, json, sarif, cyclonedx)", optarg);
      o.format = optarg;
      break;
    case 's':
      if (parse_severities(optarg, &o.severities)) return 2;
      break;
    case 'u': o.ignore_unfixed = true; break;
    case 'i': o.ignore_file = optarg; break;
    case 'F':
      o.fail_on = ld_severity_parse(optarg);
      if (o.fail_on < 0) return cli_usage_error("scan", "unknown --fail-on severity '%s'", optarg);
      break;
    case 'd': o.db = optarg; break;
    case 'n': o.no_cache = true; break;
    case 'o': o.output = optarg; break;
    case 'h': usage(stdout); return 0;
    default: return cli_usage_error("scan", "unknown option");
    }
  }
  if (optind + 1 != argc) return cli_usage_error("scan", optind >= argc ? "missing IMAGE" : "only one IMAGE");
  return run(&o, argv[optind]);
}
