/* lading pull REF: docker://REF into the store under its normalised name (a shortcut for
 * `lading copy docker://REF REF`). The whole index by default, or one --platform. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "client_opts.h"
#include "client_progress.h"
#include "lading/reference.h"
#include "lading/util.h"

static void pull_usage(FILE *f) {
  fprintf(f, "Usage: lading pull [OPTIONS] [docker://]REF\n\n"
             "Pull an image from a registry into the store (named REF, normalised).\n\n"
             "Options:\n" CLIENT_COPY_HELP
             "  -h, --help                show this help\n" CLIENT_OPTIONS_HELP);
}

int cmd_pull(int argc, char **argv) {
  static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                           CLIENT_COPY_LONG_OPTIONS, {0}};
  client_copy_args a;
  client_copy_args_init(&a);
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, CLIENT_COPY_SHORT "h", longopts, NULL)) != -1) {
    if (c == 'h') {
      pull_usage(stdout);
      return 0;
    }
    int h = client_copy_opt("pull", c, optarg, &a, CLIENT_SRC);
    if (h == 2) return 2;
    if (h == 0) return cli_usage_error("pull", "unknown option");
  }
  if (argc - optind != 1) return cli_usage_error("pull", "expected one REF");
  const char *ref_s = argv[optind];
  if (ld_str_has_prefix(ref_s, "docker://")) ref_s += 9;
  ld_error *err = NULL;
  ld_reference ref;
  if (ld_reference_parse(ref_s, &ref, &err) < 0) return cli_fail(err);
  ld_store *store = NULL;
  char *src_spec = ld_xasprintf("docker://%s", ref_s);
  /* Store name: digest-only refs keep "name@digest", otherwise name:tag (latest by default). */
  char *name = ref.digest && !ref.tag ? ld_reference_format(&ref)
                                      : ld_xasprintf("%s/%s:%s", ref.domain, ref.path,
                                                     ld_reference_tag_or_latest(&ref));
  int rc = -1;
  ld_copy_opts co;
  if (client_copy_opts(&a, &co, &err) < 0) goto out;
  if (cli_open_store(&store, &err) < 0) goto out;
  ld_transport_opts so, dso;
  cli_transport_opts(&so, store);
  client_opts_merge(&so, &a.src);
  cli_transport_opts(&dso, store);
  ld_copy_result res;
  double secs;
  rc = client_run_copy(src_spec, &so, name, &dso, &co, a.quiet || a.fmt == CLI_FORMAT_JSON, &res,
                       &secs, &err);
  if (rc == 0) client_copy_report(&a, src_spec, name, &res, secs);
out:
  free(src_spec);
  free(name);
  client_copy_args_clear(&a);
  ld_reference_clear(&ref);
  ld_store_close(store);
  return rc < 0 ? cli_fail(err) : 0;
}
