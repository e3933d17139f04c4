/* lading push IMAGE [docker://]REF: an image of the store to a registry (a shortcut for
 * `lading copy IMAGE docker://REF`). Without REF, the image's own name is the destination. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "client_opts.h"
#include "client_progress.h"
#include "lading/layer.h"
#include "lading/util.h"

static void push_usage(FILE *f) {
  fprintf(f, "Usage: lading push [OPTIONS] IMAGE [[docker://]REF]\n\n"
             "Push an image of the store to a registry (default: to IMAGE's own name).\n\n"
             "Options:\n" CLIENT_COPY_HELP CLIENT_COMPRESS_HELP
             "  -h, --help                show this help\n" CLIENT_OPTIONS_HELP);
}

int cmd_push(int argc, char **argv) {
  static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                           CLIENT_COPY_LONG_OPTIONS,
                                           CLIENT_COMPRESS_LONG_OPTION, {0}};
  client_copy_args a;
  client_copy_args_init(&a);
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, CLIENT_COPY_SHORT "h", longopts, NULL)) != -1) {
    if (c == 'h') {
      push_usage(stdout);
      return 0;
    }
    int h = client_copy_opt("push", c, optarg, &a, CLIENT_DST);
    if (h == 2) return 2;
    if (h == 0) return cli_usage_error("push", "unknown option");
  }
  int nargs = argc - optind;
  if (nargs < 1 || nargs > 2) return cli_usage_error("push", "expected IMAGE [REF]");
  const char *image = argv[optind];
  const char *ref = nargs == 2 ? argv[optind + 1] : image;
  if (ld_str_has_prefix(ref, "docker://")) ref += 9;
  char *dst_spec = ld_xasprintf("docker://%s", ref);
  ld_error *err = NULL;
  ld_store *store = NULL;
  int rc = -1;
  ld_copy_opts co;
  if (client_copy_opts(&a, &co, &err) < 0) goto out;
  if (cli_open_store(&store, &err) < 0) goto out;
  ld_transport_opts so, dso;
  cli_transport_opts(&so, store);
  cli_transport_opts(&dso, store);
  client_opts_merge(&dso, &a.dst);
  ld_copy_result res;
  double secs;
  rc = client_run_copy(image, &so, dst_spec, &dso, &co, a.quiet || a.fmt == CLI_FORMAT_JSON, &res,
                       &secs, &err);
  if (rc == 0) client_copy_report(&a, image, dst_spec, &res, secs);
out:
  free(dst_spec);
  client_copy_args_clear(&a);
  ld_store_close(store);
  return rc < 0 ? cli_fail(err) : 0;
}
