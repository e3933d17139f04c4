/* lading sbom: what is installed in an image, as an SBOM (CycloneDX 1.5 or SPDX 2.3 JSON) with
 * package URLs. The same catalog as `lading scan` (and the same per-layer cache), no advisories. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "lading/json.h"
#include "lading/util.h"
#include "scan_cli.h"

static void usage(FILE *f) {
  fprintf(f, "Usage: lading sbom [--format cyclonedx|spdx-json|json] [-o FILE] IMAGE\n\n"
             "Write the software bill of materials of IMAGE: every OS package (dpkg, apk, rpm) and\n"
             "language package (Maven, PyPI, npm) with its package URL, the file it was found in\n"
             "and the layer that introduced it.\n\n"
             "  --format FMT       cyclonedx (default), spdx-json, or json (our package list)\n"
             "  --no-cache         do not use or fill the per-layer cache in meta.db\n"
             "  -o, --output FILE  write to FILE (atomically) instead of stdout\n"
             "  -h, --help         this help\n");
}

static json_t *package_list(const ld_catalog *cat) {
  json_t *arr = json_array();
  for (size_t i = 0; i < cat->pkgs.n; i++) {
    json_t *p = ld_package_to_json(&cat->pkgs.v[i]);
    char *purl = ld_package_purl(&cat->pkgs.v[i], cat->os.id, cat->os.version_id);
    json_object_set_new(p, "purl", json_string(purl));
    free(purl);
    json_array_append_new(arr, p);
  }
  return json_pack("{s:s?,s:s?,s:{s:s?,s:s?},s:o}", "image", cat->image_name, "digest", cat->image_digest, "os",
                   "id", cat->os.id, "version", cat->os.version_id, "packages", arr);
}

int cmd_sbom(int argc, char **argv) {
  static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                       {"no-cache", no_argument, 0, 'n'},
                                       {"output", required_argument, 0, 'o'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *format = "cyclonedx", *output = NULL;
  bool no_cache = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      if (strcmp(optarg, "cyclonedx") && strcmp(optarg, "spdx-json") && strcmp(optarg, "json"))
        return cli_usage_error("sbom", "unknown --format '%s' (cyclonedx, spdx-json, json)", optarg);
      format = optarg;
      break;
    case 'n': no_cache = true; break;
    case 'o': output = optarg; break;
    case 'h': usage(stdout); return 0;
    default: return cli_usage_error("sbom", "unknown option");
    }
  }
  if (optind + 1 != argc) return cli_usage_error("sbom", optind >= argc ? "missing IMAGE" : "only one IMAGE");
  ld_error *err = NULL;
  ld_store *store = NULL;
  ld_catalog cat;
  if (scan_cli_catalog(argv[optind], no_cache, &store, &cat, &err) < 0) {
    if (store) ld_store_close(store);
    return cli_fail(err);
  }
  json_t *doc = !strcmp(format, "cyclonedx") ? ld_report_cyclonedx(&cat, NULL)
                : !strcmp(format, "spdx-json") ? ld_report_spdx(&cat) : package_list(&cat);
  int rc = scan_cli_write_json(output, doc, &err) < 0 ? cli_fail(err) : 0;
  json_decref(doc);
  ld_catalog_clear(&cat);
  if (store) ld_store_close(store);
  return rc;
}
