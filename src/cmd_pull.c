/* lading pull REF: docker://REF into the store under its normalised name (a shortcut for
 * `lading copy docker://REF REF`). The whole index by default, or one --platform. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "client_opts.h"
#include "client_progress.h"
#include "lading/json.h"
#include "lading/reference.h"
#include "lading/util.h"

static void pull_usage(FILE *f) {
  fprintf(f, "Usage: lading pull [OPTIONS] [docker://]REF\n\n"
             "Pull an image from a registry into the store (named REF, normalised).\n\n"
             "Options:\n"
             "      --platform OS/ARCH[/VARIANT]  only this platform of an index (default: all)\n"
             "  -j, --jobs N              blobs in flight at once (default 4)\n"
             "      --format FORMAT       table (default) or json\n"
             "  -q, --quiet               print nothing on success\n"
             "  -h, --help                show this help\n" CLIENT_OPTIONS_HELP);
}

int cmd_pull(int argc, char **argv) {
  static const struct option longopts[] = {
      {"platform", required_argument, NULL, 'p'}, {"jobs", required_argument, NULL, 'j'},
      {"format", required_argument, NULL, 'F'},   {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},           CLIENT_LONG_OPTIONS,
      {0},
  };
  const char *platform_s = NULL;
  int jobs = 0;
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
      if (jobs < 1 || jobs > 32) return cli_usage_error("pull", "--jobs: expected 1..32");
      break;
    case 'F':
      if (cli_parse_format("pull", optarg, &fmt)) return 2;
      break;
    case 'q': quiet = true; break;
    case 'h': pull_usage(stdout); return 0;
    default: {
      int h = client_opt("pull", c, optarg, &ro, NULL);
      if (h == 2) return 2;
      if (h == 0) return cli_usage_error("pull", "unknown option");
    }
    }
  }
  if (argc - optind != 1) return cli_usage_error("pull", "expected one REF");
  const char *ref_s = argv[optind];
  if (ld_str_has_prefix(ref_s, "docker://")) ref_s += 9;
  ld_error *err = NULL;
  ld_reference ref;
  if (ld_reference_parse(ref_s, &ref, &err) < 0) return cli_fail(err);
  ld_platform platform = {0};
  ld_store *store = NULL;
  char *src_spec = ld_xasprintf("docker://%s", ref_s);
  /* Store name: digest-only refs keep "name@digest", otherwise name:tag (latest by default). */
  char *name = ref.digest && !ref.tag ? ld_reference_format(&ref)
                                      : ld_xasprintf("%s/%s:%s", ref.domain, ref.path,
                                                     ld_reference_tag_or_latest(&ref));
  int rc = -1;
  if (platform_s && ld_platform_parse(platform_s, &platform, &err) < 0) goto out;
  if (cli_open_store(&store, &err) < 0) goto out;
  ld_transport_opts so, dso;
  cli_transport_opts(&so, store);
  client_opts_merge(&so, &ro);
  cli_transport_opts(&dso, store);
  ld_copy_opts co = {.platform = platform_s ? &platform : NULL, .jobs = jobs,
                     .retries = ro.retries, .quiet = quiet};
  ld_copy_result res;
  double secs;
  rc = client_run_copy(src_spec, &so, name, &dso, &co, quiet || fmt == CLI_FORMAT_JSON, &res,
                       &secs, &err);
  if (rc == 0 && fmt == CLI_FORMAT_JSON) {
    json_t *j = client_result_json(src_spec, name, &res, secs);
    ld_json_print(stdout, j);
    json_decref(j);
  } else if (rc == 0 && !quiet) {
    client_progress_line(stdout, src_spec, name, &res, secs);
  }
out:
  free(src_spec);
  free(name);
  ld_platform_clear(&platform);
  ld_reference_clear(&ref);
  ld_store_close(store);
  return rc < 0 ? cli_fail(err) : 0;
}
