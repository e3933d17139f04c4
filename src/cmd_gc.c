/* lading gc: remove blobs no image references, stale ingest temp files and abandoned uploads,
 * all older than a grace period, under the store lock. Safe beside a running `lading copy`
 * (see lib/disk/gc.c for the protocol). */
#include <getopt.h>
#include "cli.h"
#include "lading/disk.h"
#include "lading/json.h"
#include "lading/util.h"

static void usage(FILE *f) {
  fprintf(f,
          "Usage: lading gc [OPTIONS]\n\n"
          "Remove blobs that no image in the store references (marked from every reference,\n"
          "through indexes, manifests and referrers), stale ingest temp files and abandoned\n"
          "uploads. Anything written or used less than --grace ago is kept, so gc is safe while\n"
          "another lading process ingests.\n\n"
          "Options:\n"
          "  --grace DURATION       keep files younger than this (default 10m; 0 for none)\n"
          "  -n, --dry-run          report what would be removed; remove nothing\n"
          "  --format table|json    output format (default table)\n"
          "  -h, --help             this help\n");
}

int cmd_gc(int argc, char **argv) {
  static const struct option longopts[] = {{"grace", required_argument, 0, 'g'},
                                           {"dry-run", no_argument, 0, 'n'},
                                           {"format", required_argument, 0, 'f'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  ld_gc_opts o = {.grace = 600};
  cli_format format = CLI_FORMAT_TABLE;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":hn", longopts, NULL)) != -1) {
    switch (c) {
    case 'g':
      if (ld_parse_duration(optarg, &o.grace) < 0)
        return cli_usage_error("gc", "--grace '%s': not a duration (90s, 10m, 1h)", optarg);
      break;
    case 'n': o.dry_run = true; break;
    case 'f':
      if (cli_parse_format("gc", optarg, &format)) return 2;
      break;
    case 'h': usage(stdout); return 0;
    default: return cli_usage_error("gc", "%s option '%s'", c == ':' ? "missing argument to" : "unknown", argv[optind - 1]);
    }
  }
  if (optind < argc) return cli_usage_error("gc", "unexpected argument '%s'", argv[optind]);
  ld_store *s = NULL;
  ld_error *err = NULL;
  ld_gc_result res;
  if (cli_open_store(&s, &err) < 0) return cli_fail(err);
  int rc = ld_gc_run(s, &o, &res, &err);
  ld_store_close(s);
  if (rc < 0) return cli_fail(err);
  if (format == CLI_FORMAT_JSON) {
    json_t *j = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I}", "dry_run", o.dry_run, "blobs_removed",
                          (json_int_t) res.blobs_removed, "temps_removed",
                          (json_int_t) res.temps_removed, "blobs_kept_young",
                          (json_int_t) res.blobs_kept_young, "blobs_live",
                          (json_int_t) res.blobs_live, "bytes_freed", (json_int_t) res.bytes_freed);
    ld_json_print(stdout, j);
    json_decref(j);
  } else if (!cli_quiet) {
    char b[32];
    printf("%s %zu unreferenced blob%s and %zu temp file%s, %s; %zu live blobs, %zu kept "
           "(younger than grace)\n",
           o.dry_run ? "Would remove" : "Removed", res.blobs_removed,
           res.blobs_removed == 1 ? "" : "s", res.temps_removed, res.temps_removed == 1 ? "" : "s",
           ld_disk_size_str(res.bytes_freed, cli_stdout_is_tty(), b, sizeof b), res.blobs_live,
           res.blobs_kept_young);
  }
  return 0;
}
