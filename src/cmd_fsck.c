/* lading fsck: re-hash every blob, check every reference and manifest; report problems by
 * digest and by image. --repair moves bad blobs into ROOT/quarantine/ and marks the images
 * broken; nothing is ever deleted. Exit 0 clean, 3 problems found, 1 fsck could not run. */
#include <getopt.h>
#include "cli.h"
#include "lading/disk.h"
#include "lading/json.h"
#include "lading/util.h"

static void usage(FILE *f) {
  fprintf(f,
          "Usage: lading fsck [OPTIONS]\n\n"
          "Re-hash every blob in the store and check every reference and manifest: each named\n"
          "blob must exist with its descriptor's size and hash to its name. Problems are listed\n"
          "by digest with the images that use it. Exit status: 0 clean, 3 problems found,\n"
          "1 error.\n\n"
          "Options:\n"
          "  --repair               move bad blobs into ROOT/quarantine/ and mark the images\n"
          "                         using them broken (shown by df); copying an image again\n"
          "                         heals it. Nothing is deleted.\n"
          "  --format table|json    output format (default table)\n"
          "  -h, --help             this help\n");
}

static json_t *result_json(const ld_fsck_result *r, bool repair) {
  json_t *problems = json_array(), *broken = json_array();
  for (size_t i = 0; i < r->n_problems; i++) {
    const ld_fsck_problem *p = &r->problems[i];
    json_t *images = json_array();
    for (size_t k = 0; k < p->n_images; k++) json_array_append_new(images, json_string(p->images[k]));
    json_array_append_new(problems, json_pack("{s:s,s:s,s:o,s:b}", "digest", p->digest, "problem",
                                              p->what, "images", images, "quarantined",
                                              p->quarantined));
  }
  for (size_t i = 0; i < r->n_broken_images; i++)
    json_array_append_new(broken, json_string(r->broken_images[i]));
  return json_pack("{s:b,s:b,s:I,s:I,s:I,s:I,s:o,s:o}", "clean", r->n_problems == 0, "repair",
                   repair, "blobs_checked", (json_int_t) r->blobs_checked, "refs_checked",
                   (json_int_t) r->refs_checked, "manifests_checked",
                   (json_int_t) r->manifests_checked, "bytes_hashed", (json_int_t) r->bytes_hashed,
                   "problems", problems, "broken_images", broken);
}

static void print_table(const ld_fsck_result *r) {
  for (size_t i = 0; i < r->n_problems; i++) {
    const ld_fsck_problem *p = &r->problems[i];
    printf("%s: %s%s\n", p->digest, p->what, p->quarantined ? " (moved to quarantine/)" : "");
    for (size_t k = 0; k < p->n_images; k++) printf("  used by %s\n", p->images[k]);
  }
  char b[32];
  printf("%s: %zu blobs (%s) hashed, %zu references, %zu manifests checked; %zu problem%s, "
         "%zu broken image%s\n",
         r->n_problems ? "fsck found problems" : "fsck clean", r->blobs_checked,
         ld_disk_size_str(r->bytes_hashed, cli_stdout_is_tty(), b, sizeof b), r->refs_checked,
         r->manifests_checked, r->n_problems, r->n_problems == 1 ? "" : "s",
         r->n_broken_images, r->n_broken_images == 1 ? "" : "s");
}

int cmd_fsck(int argc, char **argv) {
  static const struct option longopts[] = {{"repair", no_argument, 0, 'r'},
                                           {"format", required_argument, 0, 'f'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  ld_fsck_opts o = {0};
  cli_format format = CLI_FORMAT_TABLE;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case 'r': o.repair = true; break;
    case 'f':
      if (cli_parse_format("fsck", optarg, &format)) return 2;
      break;
    case 'h': usage(stdout); return 0;
    default: return cli_usage_error("fsck", "%s option '%s'", c == ':' ? "missing argument to" : "unknown", argv[optind - 1]);
    }
  }
  if (optind < argc) return cli_usage_error("fsck", "unexpected argument '%s'", argv[optind]);
  ld_store *s = NULL;
  ld_error *err = NULL;
  ld_fsck_result res;
  if (cli_open_store(&s, &err) < 0) return cli_fail(err);
  int rc = ld_fsck_run(s, &o, &res, &err);
  ld_store_close(s);
  if (rc < 0) return cli_fail(err);
  if (format == CLI_FORMAT_JSON) {
    json_t *j = result_json(&res, o.repair);
    ld_json_print(stdout, j);
    json_decref(j);
  } else {
    print_table(&res);
  }
  int exit_code = res.n_problems ? 3 : 0;
  ld_fsck_result_clear(&res);
  return exit_code;
}
