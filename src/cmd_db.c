/* lading db: the offline advisory database (STORE/advisories.db, lib/scan/advdb.c).
 *
 *   lading db import PATH...    OSV JSON (file, directory, all.zip), Alpine secdb, Debian
 *                               security tracker JSON; one transaction, incremental
 *   lading db status            sources, record counts and age
 *   lading db vercmp SCHEME A B the comparator the matcher uses (dpkg, rpm, apk, maven, pep440,
 *                               semver): prints -1, 0 or 1, like `dpkg --compare-versions`
 *                               without the operator; for scripts and for checking us against
 *                               the real tools
 * Also the shared helpers of the scan commands (src/scan_cli.h). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "lading/fs.h"
#include <sqlite3.h>
#include "lading/log.h"
#include "lading/store.h"
#include "lading/json.h"
#include "lading/util.h"
#include "scan_cli.h"

char *scan_cli_db_path(const char *opt_db, ld_error **err) {
  if (opt_db) return ld_xstrdup(opt_db);
  char *root = cli_root ? ld_xstrdup(cli_root) : ld_store_default_root();
  if (ld_mkdir_p(root, 0755, err) < 0) {
    free(root);
    return NULL;
  }
  char *p = ld_advdb_default_path(root);
  free(root);
  return p;
}

int scan_cli_catalog(const char *spec, bool no_cache, ld_store **store, ld_catalog *cat,
                     ld_error **err) {
  ld_image_src *src = NULL;
  if (!no_cache && !*store) {
    ld_error *serr = NULL;
    if (cli_open_store(store, &serr) < 0) { /* no store: scan without the layer cache */
      ld_log(LD_LOG_WARN, "scan: no layer cache: %s", serr->msg);
      ld_error_free(serr);
    } else {
      /* What a scan writes to meta.db is a cache: leave its WAL frames for the next checkpoint
       * (SQLite's automatic one, or another command's close) instead of paying a checkpoint's
       * four fsyncs (~15-20 ms here) at the end of every scan. Commits stay atomic. */
      sqlite3_db_config(ld_store_meta(*store), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *) NULL);
    }
  }
  if (cli_open_source(spec, store, &src, err) < 0) return -1;
  int r = ld_scan_image(src, (!no_cache && *store) ? ld_store_meta(*store) : NULL, cat, err);
  ld_image_src_close(src);
  return r;
}

int scan_cli_write_json(const char *path, json_t *doc, ld_error **err) {
  if (!path) {
    ld_json_print(stdout, doc);
    return 0;
  }
  char *s = json_dumps(doc, JSON_INDENT(2));
  ld_buf b = {0};
  ld_buf_puts(&b, s);
  ld_buf_puts(&b, "\n");
  int r = ld_atomic_write(path, b.data, b.len, 0644, err);
  free(s);
  ld_buf_free(&b);
  return r;
}

static void usage(FILE *f) {
  fprintf(f, "Usage: lading db import [--db FILE] [--format table|json] PATH...\n"
             "       lading db status [--db FILE] [--format table|json]\n"
             "       lading db vercmp SCHEME [A B]\n\n"
             "Manage the offline advisory database (default $LADING_ROOT/advisories.db).\n\n"
             "import  reads OSV records (a .json file, a directory of them, or an ecosystem\n"
             "        all.zip), Alpine secdb JSON and the Debian security tracker JSON, detected by\n"
             "        content. All paths go in one transaction: on any error nothing changes.\n"
             "        Records whose 'modified' (or content) is unchanged are skipped.\n"
             "status  lists the sources with their record counts and when they were imported.\n"
             "vercmp  compares two versions as the matcher does; SCHEME is dpkg, rpm, apk, maven,\n"
             "        pep440 or semver. Prints -1, 0 or 1; without A B, compares each \"A B\" line\n"
             "        of stdin.\n\n"
             "  --db FILE            use this database file\n"
             "  --format table|json  output (import json: path, records, added, updated, unchanged;\n"
             "                       status json: path, vulnerabilities, affected, sources[])\n"
             "  -h, --help           this help\n");
}

static int db_import(char *db_path, char **paths, size_t n, cli_format fmt) {
  ld_error *err = NULL;
  ld_advdb *db;
  if (ld_advdb_open(db_path, true, &db, &err) < 0) return cli_fail(err);
  ld_import_stats st;
  int r = ld_advdb_import(db, paths, n, &st, &err);
  ld_advdb_close(db);
  if (r < 0) return cli_fail(err);
  if (fmt == CLI_FORMAT_JSON) {
    json_t *doc = json_pack("{s:s,s:I,s:I,s:I,s:I}", "path", db_path, "records", (json_int_t) st.records, "added",
                            (json_int_t) st.added, "updated", (json_int_t) st.updated, "unchanged",
                            (json_int_t) st.unchanged);
    ld_json_print(stdout, doc);
    json_decref(doc);
  } else if (!cli_quiet)
    printf("imported %llu records (%llu added, %llu updated, %llu unchanged) into %s\n",
           (unsigned long long) st.records, (unsigned long long) st.added,
           (unsigned long long) st.updated, (unsigned long long) st.unchanged, db_path);
  return 0;
}

static void human_age(int64_t secs, char *buf, size_t n) {
  if (secs < 120) snprintf(buf, n, "%llds", (long long) secs);
  else if (secs < 7200) snprintf(buf, n, "%lldm", (long long) secs / 60);
  else if (secs < 172800) snprintf(buf, n, "%lldh", (long long) secs / 3600);
  else snprintf(buf, n, "%lldd", (long long) secs / 86400);
}

static int db_status(char *db_path, cli_format fmt) {
  ld_error *err = NULL;
  ld_advdb *db;
  if (ld_advdb_open(db_path, false, &db, &err) < 0) return cli_fail(err);
  ld_advdb_source *src;
  size_t n;
  if (ld_advdb_sources(db, &src, &n, &err) < 0) {
    ld_advdb_close(db);
    return cli_fail(err);
  }
  int64_t now = ld_now(), vulns = ld_advdb_count(db, "vulns"), affected = ld_advdb_count(db, "affected");
  if (fmt == CLI_FORMAT_JSON) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
      char ts[32];
      ld_time_rfc3339(src[i].imported, ts, sizeof ts);
      json_array_append_new(arr, json_pack("{s:s,s:I,s:s,s:I,s:s}", "name", src[i].name, "records",
                                           (json_int_t) src[i].records, "imported", ts, "age_seconds",
                                           (json_int_t) (now - src[i].imported), "origin", src[i].origin));
    }
    json_t *doc = json_pack("{s:s,s:I,s:I,s:o}", "path", db_path, "vulnerabilities", (json_int_t) vulns,
                            "affected", (json_int_t) affected, "sources", arr);
    ld_json_print(stdout, doc);
    json_decref(doc);
  } else {
    printf("%s: %lld records, %lld affected packages\n", db_path, (long long) vulns, (long long) affected);
    if (n) printf("%-28s %8s  %-6s %s\n", "SOURCE", "RECORDS", "AGE", "ORIGIN");
    for (size_t i = 0; i < n; i++) {
      char age[32];
      human_age(now - src[i].imported, age, sizeof age);
      printf("%-28s %8lld  %-6s %s\n", src[i].name, (long long) src[i].records, age, src[i].origin);
    }
  }
  ld_advdb_sources_free(src, n);
  ld_advdb_close(db);
  return 0;
}

/* "A B" pairs on stdin, one result per line (one process for a whole table). */
static int vercmp_stdin(ld_version_scheme s) {
  char line[4096], a[2048], b[2048];
  while (fgets(line, sizeof line, stdin)) {
    if (sscanf(line, "%2047s %2047s", a, b) != 2) {
      fprintf(stderr, "lading: vercmp: expected \"A B\" on stdin, got: %s", line);
      return 1;
    }
    int r = ld_vercmp(s, a, b);
    printf("%d\n", (r > 0) - (r < 0));
  }
  return 0;
}

static int db_vercmp(int argc, char **argv) {
  if (argc != 3 && argc != 1) return cli_usage_error("db", "vercmp needs SCHEME A B (or SCHEME and pairs on stdin)");
  static const struct {
    const char *name;
    ld_version_scheme s;
  } schemes[] = {{"dpkg", LD_VER_DPKG}, {"deb", LD_VER_DPKG},       {"rpm", LD_VER_RPM},
                 {"apk", LD_VER_APK},   {"maven", LD_VER_MAVEN},    {"pep440", LD_VER_PEP440},
                 {"pypi", LD_VER_PEP440}, {"semver", LD_VER_SEMVER}, {"npm", LD_VER_SEMVER}};
  for (size_t i = 0; i < LD_ARRAY_SIZE(schemes); i++)
    if (!strcmp(argv[0], schemes[i].name)) {
      if (argc == 1) return vercmp_stdin(schemes[i].s);
      int r = ld_vercmp(schemes[i].s, argv[1], argv[2]);
      printf("%d\n", (r > 0) - (r < 0));
      return 0;
    }
  return cli_usage_error("db", "unknown version scheme '%s' (dpkg, rpm, apk, maven, pep440, semver)", argv[0]);
}

int cmd_db(int argc, char **argv) {
  static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                       {"format", required_argument, 0, 'f'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *opt_db = NULL;
  cli_format fmt = CLI_FORMAT_TABLE;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    switch (c) {
    case 'd': opt_db = optarg; break;
    case 'f':
      if (cli_parse_format("db", optarg, &fmt)) return 2;
      break;
    case 'h': usage(stdout); return 0;
    default: return cli_usage_error("db", "unknown option");
    }
  }
  if (optind >= argc) return cli_usage_error("db", "missing subcommand (import, status, vercmp)");
  const char *sub = argv[optind++];
  /* options may also follow the subcommand */
  int rest_start = optind;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'd': opt_db = optarg; break;
    case 'f':
      if (cli_parse_format("db", optarg, &fmt)) return 2;
      break;
    case 'h': usage(stdout); return 0;
    default: return cli_usage_error("db", "unknown option");
    }
  }
  (void) rest_start;
  if (!strcmp(sub, "vercmp")) return db_vercmp(argc - optind, argv + optind);
  if (strcmp(sub, "import") && strcmp(sub, "status"))
    return cli_usage_error("db", "unknown subcommand '%s' (import, status, vercmp)", sub);
  if (!strcmp(sub, "import") && optind >= argc) return cli_usage_error("db", "import needs at least one PATH");
  if (!strcmp(sub, "status") && optind < argc) return cli_usage_error("db", "unexpected argument '%s'", argv[optind]);
  ld_error *err = NULL;
  char *db_path = scan_cli_db_path(opt_db, &err);
  if (!db_path) return cli_fail(err);
  int r = !strcmp(sub, "import") ? db_import(db_path, argv + optind, (size_t) (argc - optind), fmt) : db_status(db_path, fmt);
  free(db_path);
  return r;
}
