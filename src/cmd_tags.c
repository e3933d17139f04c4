/* lading tags: list a repository's tags from a registry (GET /v2/<repo>/tags/list, following
 * Link pagination). Never pulls anything but the tag list. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "client_opts.h"
#include "lading/json.h"
#include "lading/reference.h"
#include "lading/registry_client.h"
#include "lading/util.h"

static void tags_usage(FILE *f) {
  fprintf(f, "Usage: lading tags [OPTIONS] docker://REPOSITORY\n\n"
             "List the tags of a repository in a registry, one per line.\n\n"
             "Options:\n"
             "      --format FORMAT      table (default) or json\n"
             "  -h, --help               show this help\n" CLIENT_OPTIONS_HELP);
}

static int print_tags(const char *repo, char **tags, size_t n, cli_format fmt) {
  if (fmt == CLI_FORMAT_JSON) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, json_string(tags[i]));
    json_t *o = json_pack("{s:s,s:o}", "repository", repo, "tags", arr);
    ld_json_print(stdout, o);
    json_decref(o);
    return 0;
  }
  for (size_t i = 0; i < n; i++) printf("%s\n", tags[i]);
  return 0;
}

int cmd_tags(int argc, char **argv) {
  static const struct option longopts[] = {
      {"format", required_argument, NULL, 'F'},
      {"help", no_argument, NULL, 'h'},
      CLIENT_LONG_OPTIONS,
      {0},
  };
  cli_format fmt = CLI_FORMAT_TABLE;
  ld_transport_opts o;
  cli_transport_opts(&o, NULL);
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    if (c == 'h') {
      tags_usage(stdout);
      return 0;
    } else if (c == 'F') {
      if (cli_parse_format("tags", optarg, &fmt)) return 2;
    } else {
      int h = client_opt("tags", c, optarg, &o, NULL);
      if (h == 2) return 2;
      if (h == 0) return cli_usage_error("tags", "unknown option");
    }
  }
  if (argc - optind != 1) return cli_usage_error("tags", "expected one docker://REPOSITORY");
  const char *spec = argv[optind];
  if (ld_str_has_prefix(spec, "docker://")) spec += 9;
  ld_error *err = NULL;
  ld_reference ref;
  if (ld_reference_parse(spec, &ref, &err) < 0) return cli_fail(err);
  if (ref.tag || ref.digest) {
    ld_reference_clear(&ref);
    return cli_usage_error("tags", "'%s' names an image; give the repository without tag", spec);
  }
  ld_registry_opts ro = {.tls_verify_set = o.tls_verify_set, .tls_verify = o.tls_verify,
                         .cert_dir = o.cert_dir, .creds = o.creds, .authfile = o.authfile,
                         .retries = o.retries};
  ld_registry *reg = NULL;
  char **tags = NULL;
  size_t n = 0;
  int rc = ld_registry_open(ref.domain, &ro, &reg, &err);
  if (rc == 0) rc = ld_registry_list_tags(reg, ref.path, &tags, &n, &err);
  if (rc == 0) {
    char *name = ld_reference_name(&ref);
    print_tags(name, tags, n, fmt);
    free(name);
  }
  ld_registry_strv_free(tags, n);
  ld_registry_free(reg);
  ld_reference_clear(&ref);
  return rc < 0 ? cli_fail(err) : 0;
}
