/* lading copy SRC DEST: between any two transports (see transport.h and docs/copy.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "client_opts.h"
#include "client_progress.h"
#include "lading/layer.h"
#include "lading/json.h"
#include "lading/util.h"

static void usage(FILE *f) {
  fprintf(f, "Usage: lading copy [OPTIONS] SRC DEST\n\n"
             "Copy an image between oci:DIR[:TAG], oci-archive:FILE[:TAG],\n"
             "docker-archive:FILE[:REF], docker://REF and the store (a bare REF).\n"
             "Blobs the destination has are skipped; every blob is verified as it is written.\n\n"
             "Options:\n" CLIENT_COPY_HELP CLIENT_COMPRESS_HELP
             "  -h, --help                show this help\n" CLIENT_OPTIONS_HELP);
}

static bool is_store_spec(const char *s) {
  return !ld_str_has_prefix(s, "oci:") && !ld_str_has_prefix(s, "oci-archive:") &&
         !ld_str_has_prefix(s, "docker-archive:") && !ld_str_has_prefix(s, "docker://");
}

int cmd_copy(int argc, char **argv) {
  static const struct option opts[] = {{"help", no_argument, 0, 'h'}, CLIENT_COPY_LONG_OPTIONS,
                                       CLIENT_COMPRESS_LONG_OPTION, {0, 0, 0, 0}};
  client_copy_args a;
  client_copy_args_init(&a);
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, CLIENT_COPY_SHORT "h", opts, NULL)) != -1) {
    if (c == 'h') {
      usage(stdout);
      return 0;
    }
    int h = client_copy_opt("copy", c, optarg, &a, CLIENT_SRC | CLIENT_DST);
    if (h == 2) return 2;
    if (h == 0) return cli_usage_error("copy", "unknown option");
  }
  if (argc - optind != 2) return cli_usage_error("copy", "expected SRC and DEST");
  const char *src_spec = argv[optind], *dst_spec = argv[optind + 1];
  ld_error *err = NULL;
  ld_store *store = NULL;
  int rc = 1;
  ld_copy_opts co;
  if (client_copy_opts(&a, &co, &err) < 0) goto out;
  if ((is_store_spec(src_spec) || is_store_spec(dst_spec)) && cli_open_store(&store, &err) < 0)
    goto out;
  ld_transport_opts so, dso;
  cli_transport_opts(&so, store);
  client_opts_merge(&so, &a.src);
  cli_transport_opts(&dso, store);
  client_opts_merge(&dso, &a.dst);
  ld_copy_result res;
  double secs;
  if (client_run_copy(src_spec, &so, dst_spec, &dso, &co, a.quiet || a.fmt == CLI_FORMAT_JSON,
                      &res, &secs, &err) < 0)
    goto out;
  if (a.fmt == CLI_FORMAT_JSON) {
    json_t *j = client_result_json(src_spec, dst_spec, &res, secs);
    ld_json_print(stdout, j);
    json_decref(j);
  } else if (!a.quiet) {
    char hs[32];
    printf("Copied %s -> %s\n  digest %s (%llu blobs copied, %s; %llu already there)\n", src_spec,
           dst_spec, res.digest, (unsigned long long) res.blobs_copied,
           ld_human_size(res.bytes_copied, hs, sizeof hs), (unsigned long long) res.blobs_skipped);
  }
  rc = 0;
out:
  ld_store_close(store);
  client_copy_args_clear(&a);
  return err ? cli_fail(err) : rc;
}
