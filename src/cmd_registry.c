/* lading registry: maintenance of a `lading serve` storage root. One subcommand for now:
 *
 *   lading registry gc [--root DIR] [--dry-run] [--grace DURATION] [--format json]
 *
 * gc marks from every manifest of every repository (tags, untagged manifests, referrers) and
 * sweeps unreferenced blobs older than the grace period (default 1h, so uploads of a push in
 * progress survive); see lib/registry/gc.c and docs/registry.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "lading/json.h"
#include "lading/registry.h"
#include "lading/util.h"

static void usage(FILE *f) {
  fprintf(f, "Usage: lading registry gc [OPTIONS]\n\n"
             "Remove blobs no manifest of any repository references, from the storage of\n"
             "`lading serve`.\n\n"
             "Options:\n"
             "  --root DIR          registry root (default as for lading serve)\n"
             "  --dry-run           report what would be removed, remove nothing\n"
             "  --grace DURATION    keep unreferenced blobs younger than this (default 1h);\n"
             "                      0 requires that no server runs on the root\n"
             "  --format table|json report format\n"
             "  -h, --help          this help\n");
}

static void print_result(const ld_registry_gc_result *r, bool dry_run, cli_format fmt) {
  if (fmt == CLI_FORMAT_JSON) {
    json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "dry_run", dry_run,
                          "manifests_marked", (json_int_t) r->manifests_marked, "blobs_marked",
                          (json_int_t) r->blobs_marked, "blobs_swept", (json_int_t) r->blobs_swept,
                          "bytes_swept", (json_int_t) r->bytes_swept, "links_removed",
                          (json_int_t) r->links_removed, "blobs_kept_young",
                          (json_int_t) r->blobs_kept_young);
    ld_json_print(stdout, j);
    json_decref(j);
    return;
  }
  char size[32];
  ld_human_size(r->bytes_swept, size, sizeof size);
  printf("%-18s %llu\n%-18s %llu\n%-18s %llu (%s)%s\n%-18s %llu\n%-18s %llu\n",
         "manifests marked", (unsigned long long) r->manifests_marked, "blobs marked",
         (unsigned long long) r->blobs_marked, dry_run ? "blobs to sweep" : "blobs swept",
         (unsigned long long) r->blobs_swept, size, dry_run ? " [dry run]" : "",
         "links removed", (unsigned long long) r->links_removed, "kept (grace)",
         (unsigned long long) r->blobs_kept_young);
}

static int cmd_registry_gc(int argc, char **argv) {
  static const struct option options[] = {
      {"root", required_argument, 0, 'r'},  {"dry-run", no_argument, 0, 'n'},
      {"grace", required_argument, 0, 'g'}, {"format", required_argument, 0, 'f'},
      {"help", no_argument, 0, 'h'},        {0, 0, 0, 0},
  };
  const char *root = NULL;
  bool dry_run = false;
  int64_t grace = 3600;
  cli_format fmt = CLI_FORMAT_TABLE;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (c) {
    case 'r': root = optarg; break;
    case 'n': dry_run = true; break;
    case 'g':
      if (ld_parse_duration(optarg, &grace) < 0 && strcmp(optarg, "0"))
        return cli_usage_error("registry gc", "--grace %s: expected a duration like 0s, 1h", optarg);
      if (!strcmp(optarg, "0")) grace = 0;
      break;
    case 'f':
      if (cli_parse_format("registry gc", optarg, &fmt)) return 2;
      break;
    case 'h': usage(stdout); return 0;
    default: return cli_usage_error("registry gc", "unknown option");
    }
  }
  if (optind < argc)
    return cli_usage_error("registry gc", "unexpected argument '%s'", argv[optind]);
  ld_autofree char *dflt = NULL;
  if (!root) root = dflt = cli_root ? ld_xasprintf("%s/registry", cli_root)
                                    : ld_registry_default_root();
  ld_registry_gc_result res;
  ld_error *err = NULL;
  if (ld_registry_gc(root, grace, dry_run, &res, &err) < 0) return cli_fail(err);
  print_result(&res, dry_run, fmt);
  return 0;
}

int cmd_registry(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "gc")) return cmd_registry_gc(argc - 1, argv + 1);
  return cli_usage_error("registry", "unknown subcommand '%s' (gc)", argv[1]);
}
