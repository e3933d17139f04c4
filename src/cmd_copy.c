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
             "  --platform OS/ARCH[/VARIANT]  copy only this platform of an index\n"
             "                                (default: the whole index)\n"
             "  -j, --jobs N                  blobs in flight at once (default 4)\n"
             "  --compress gzip|zstd          recompress layers that are not already so\n"
             "  --format table|json           summary format\n"
             "  -q, --quiet                   print nothing on success\n"
             "  -h, --help                    this help\n" CLIENT_OPTIONS_HELP);
}

static bool is_store_spec(const char *s) {
  return !ld_str_has_prefix(s, "oci:") && !ld_str_has_prefix(s, "oci-archive:") &&
         !ld_str_has_prefix(s, "docker-archive:") && !ld_str_has_prefix(s, "docker://");
}

int cmd_copy(int argc, char **argv) {
  static const struct option opts[] = {{"platform", required_argument, 0, 'p'},
                                       {"format", required_argument, 0, 'f'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {"jobs", required_argument, 0, 'j'},
                                       {"compress", required_argument, 0, 'C'},
                                       CLIENT_LONG_OPTIONS,
                                       {0, 0, 0, 0}};
  ld_transport_opts src_o = {0}, dst_o = {0};
  int jobs = 0, compress = 0;
  const char *platform_s = NULL;
  cli_format fmt = CLI_FORMAT_TABLE;
  bool quiet = cli_quiet;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "qhj:", opts, NULL)) != -1) {
    switch (c) {
    case 'p': platform_s = optarg; break;
    case 'f':
      if (cli_parse_format("copy", optarg, &fmt)) return 2;
      break;
    case 'q': quiet = true; break;
    case 'h': usage(stdout); return 0;
    case 'j':
      jobs = atoi(optarg);
      if (jobs < 1 || jobs > 32) return cli_usage_error("copy", "--jobs: expected 1..32");
      break;
    case 'C':
      if (!strcmp(optarg, "gzip")) compress = LD_COMP_GZIP;
      else if (!strcmp(optarg, "zstd")) compress = LD_COMP_ZSTD;
      else return cli_usage_error("copy", "--compress: expected gzip or zstd");
      break;
    default: {
      int h = client_opt("copy", c, optarg, &src_o, &dst_o);
      if (h == 2) return 2;
      if (h == 0) return cli_usage_error("copy", "unknown option");
    }
    }
  }
  if (argc - optind != 2) return cli_usage_error("copy", "expected SRC and DEST");
  const char *src_spec = argv[optind], *dst_spec = argv[optind + 1];
  ld_error *err = NULL;
  ld_store *store = NULL;
  ld_image_src *src = NULL;
  ld_image_dst *dst = NULL;
  ld_platform platform = {0};
  int rc = 1;
  if (platform_s && ld_platform_parse(platform_s, &platform, &err) < 0) goto out;
  if ((is_store_spec(src_spec) || is_store_spec(dst_spec)) && cli_open_store(&store, &err) < 0)
    goto out;
  ld_transport_opts to;
  cli_transport_opts(&to, store);
  client_opts_merge(&to, &src_o);
  if (ld_image_src_open(src_spec, &to, &src, &err) < 0) goto out;
  cli_transport_opts(&to, store);
  client_opts_merge(&to, &dst_o);
  if (ld_image_dst_open(dst_spec, &to, &dst, &err) < 0) goto out;
  client_progress *prog = client_progress_new(dst_spec, quiet || fmt == CLI_FORMAT_JSON);
  ld_copy_opts co = {.platform = platform_s ? &platform : NULL, .quiet = quiet, .jobs = jobs,
                     .compress = compress, .retries = src_o.retries,
                     .progress = client_progress_cb, .progress_arg = prog};
  ld_copy_result res;
  int crc = ld_copy(src, dst, &co, &res, &err);
  double secs = client_progress_end(prog);
  client_progress_free(prog);
  if (crc < 0) goto out;
  if (fmt == CLI_FORMAT_JSON) {
    json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:f}", "source", src_spec,
                          "destination", dst_spec, "digest", res.digest, "blobs_copied",
                          (json_int_t) res.blobs_copied, "blobs_skipped",
                          (json_int_t) res.blobs_skipped, "bytes_copied",
                          (json_int_t) res.bytes_copied, "blobs_mounted",
                          (json_int_t) res.blobs_mounted, "manifests",
                          (json_int_t) res.manifests, "seconds", secs);
    ld_json_print(stdout, j);
    json_decref(j);
  } else if (!quiet) {
    char hs[32];
    printf("Copied %s -> %s\n  digest %s (%llu blobs copied, %s; %llu already there)\n", src_spec,
           dst_spec, res.digest, (unsigned long long) res.blobs_copied,
           ld_human_size(res.bytes_copied, hs, sizeof hs), (unsigned long long) res.blobs_skipped);
  }
  rc = 0;
out:
  ld_image_src_close(src);
  ld_image_dst_close(dst);
  ld_store_close(store);
  ld_platform_clear(&platform);
  return err ? cli_fail(err) : rc;
}
