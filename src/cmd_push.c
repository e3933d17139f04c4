/* lading push IMAGE [docker://]REF: an image of the store to a registry (a shortcut for
 * `lading copy IMAGE docker://REF`). Without REF, the image's own name is the destination. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "client_opts.h"
#include "client_progress.h"
#include "lading/json.h"
#include "lading/layer.h"
#include "lading/util.h"

static void push_usage(FILE *f) {
  fprintf(f, "Usage: lading push [OPTIONS] IMAGE [[docker://]REF]\n\n"
             "Push an image of the store to a registry (default: to IMAGE's own name).\n\n"
             "Options:\n"
             "      --platform OS/ARCH[/VARIANT]  only this platform of an index (default: all)\n"
             "  -j, --jobs N              blobs in flight at once (default 4)\n"
             "      --compress gzip|zstd  recompress layers that are not already so\n"
             "      --format FORMAT       table (default) or json\n"
             "  -q, --quiet               print nothing on success\n"
             "  -h, --help                show this help\n" CLIENT_OPTIONS_HELP);
}

int cmd_push(int argc, char **argv) {
  static const struct option longopts[] = {
      {"platform", required_argument, NULL, 'p'}, {"jobs", required_argument, NULL, 'j'},
      {"compress", required_argument, NULL, 'C'}, {"format", required_argument, NULL, 'F'},
      {"quiet", no_argument, NULL, 'q'},          {"help", no_argument, NULL, 'h'},
      CLIENT_LONG_OPTIONS,                        {0},
  };
  const char *platform_s = NULL;
  int jobs = 0, compress = 0;
  bool quiet = cli_quiet;
  cli_format fmt = CLI_FORMAT_TABLE;
  ld_transport_opts ro = {0};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "j:qh", longopts, NULL)) != -1) {
    switch (c) {
    case 'p': platform_s = optarg; break;
    case 'j':
      jobs = atoi(optarg);
      if (jobs < 1 || jobs > 32) return cli_usage_error("push", "--jobs: expected 1..32");
      break;
    case 'C':
      if (!strcmp(optarg, "gzip")) compress = LD_COMP_GZIP;
      else if (!strcmp(optarg, "zstd")) compress = LD_COMP_ZSTD;
      else return cli_usage_error("push", "--compress: expected gzip or zstd");
      break;
    case 'F':
      if (cli_parse_format("push", optarg, &fmt)) return 2;
      break;
    case 'q': quiet = true; break;
    case 'h': push_usage(stdout); return 0;
    default: {
      int h = client_opt("push", c, optarg, NULL, &ro);
      if (h == 2) return 2;
      if (h == 0) return cli_usage_error("push", "unknown option");
    }
    }
  }
  int nargs = argc - optind;
  if (nargs < 1 || nargs > 2) return cli_usage_error("push", "expected IMAGE [REF]");
  const char *image = argv[optind];
  const char *ref = nargs == 2 ? argv[optind + 1] : image;
  if (ld_str_has_prefix(ref, "docker://")) ref += 9;
  char *dst_spec = ld_xasprintf("docker://%s", ref);
  ld_error *err = NULL;
  ld_platform platform = {0};
  ld_store *store = NULL;
  int rc = -1;
  if (platform_s && ld_platform_parse(platform_s, &platform, &err) < 0) goto out;
  if (cli_open_store(&store, &err) < 0) goto out;
  ld_transport_opts so, dso;
  cli_transport_opts(&so, store);
  cli_transport_opts(&dso, store);
  client_opts_merge(&dso, &ro);
  ld_copy_opts co = {.platform = platform_s ? &platform : NULL, .jobs = jobs,
                     .retries = ro.retries, .compress = compress, .quiet = quiet};
  ld_copy_result res;
  double secs;
  rc = client_run_copy(image, &so, dst_spec, &dso, &co, quiet || fmt == CLI_FORMAT_JSON, &res,
                       &secs, &err);
  if (rc == 0 && fmt == CLI_FORMAT_JSON) {
    json_t *j = client_result_json(image, dst_spec, &res, secs);
    ld_json_print(stdout, j);
    json_decref(j);
  } else if (rc == 0 && !quiet) {
    client_progress_line(stdout, image, dst_spec, &res, secs);
  }
out:
  free(dst_spec);
  ld_platform_clear(&platform);
  ld_store_close(store);
  return rc < 0 ? cli_fail(err) : 0;
}
