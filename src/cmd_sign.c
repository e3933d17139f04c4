/* lading sign --key FILE IMAGE...: cosign signatures for images in registries, the store or oci:
 * layouts (lib/sign/sign.c does the work). The passphrase is asked once for all images.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "client_opts.h"
#include "lading/json.h"
#include "lading/sign.h"
#include "lading/util.h"

static void usage(FILE *f) {
  fprintf(f, "Usage: lading sign --key FILE [OPTIONS] IMAGE...\n\n"
             "Sign images in the cosign format: a simple-signing payload per signature, stored\n"
             "as the image sha256-<hex>.sig beside IMAGE (docker://REF, a store REF or\n"
             "oci:DIR:TAG). An existing .sig is appended to; signing twice adds nothing.\n"
             "Passphrase: LADING_PASSWORD or COSIGN_PASSWORD, else asked on the terminal.\n\n"
             "  -k, --key FILE            cosign encrypted private key (lading key generate)\n"
             "  -a, --annotation K=V      add K=V to the payload's \"optional\" (repeatable)\n"
             "      --identity REPO       docker-reference to sign for (default: the image's\n"
             "                            repository; required for oci: layouts)\n"
                    "      --format table|json   report format\n"
             "  -q, --quiet               print nothing on success\n"
             "  -h, --help                this help\n"
             CLIENT_OPTIONS_HELP);
}

static int add_annotation(json_t **opt, const char *kv) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) return cli_usage_error("sign", "annotation '%s' is not KEY=VALUE", kv);
  if (!*opt) *opt = json_object();
  char *key = ld_xstrndup(kv, (size_t) (eq - kv));
  json_object_set_new(*opt, key, json_string(eq + 1));
  free(key);
  return 0;
}

static json_t *result_json(const char *spec, const ld_sign_result *r) {
  return json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:I}", "image", spec, "digest", r->image_digest,
                   "docker_reference", r->docker_reference, "signatures", r->sig_spec,
                   "signatures_digest", r->sig_digest, "added", r->added, "count",
                   (json_int_t) r->n_signatures);
}

static bool needs_store(char **images, int n) {
  for (int i = 0; i < n; i++)
    if (!ld_str_has_prefix(images[i], "docker://") && !ld_str_has_prefix(images[i], "oci:") &&
        !ld_str_has_prefix(images[i], "oci-archive:") &&
        !ld_str_has_prefix(images[i], "docker-archive:"))
      return true;
  return false;
}

int cmd_sign(int argc, char **argv) {
  static const struct option opts[] = {{"key", required_argument, 0, 'k'},
                                       {"annotation", required_argument, 0, 'a'},
                                       {"identity", required_argument, 0, 'i'},
                                       {"format", required_argument, 0, 'f'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       CLIENT_LONG_OPTIONS,
                                       {0, 0, 0, 0}};
  const char *key_path = NULL, *identity = NULL;
  json_t *optional = NULL;
  bool quiet = cli_quiet;
  cli_format fmt = CLI_FORMAT_TABLE;
  ld_transport_opts reg = {0};
  int c, rc = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "k:a:qh", opts, NULL)) != -1) {
    switch (c) {
    case 'k': key_path = optarg; break;
    case 'a': rc = add_annotation(&optional, optarg); break;
    case 'i': identity = optarg; break;
    case 'f': rc = cli_parse_format("sign", optarg, &fmt); break;
    case 'q': quiet = true; break;
    case 'h': usage(stdout); json_decref(optional); return 0;
    default:
      rc = client_opt("sign", c, optarg, &reg, NULL);
      rc = rc == 1 ? 0 : rc == 2 ? 2 : cli_usage_error("sign", "unknown option");
    }
    if (rc) {
      json_decref(optional);
      return rc;
    }
  }
  if (!key_path) rc = cli_usage_error("sign", "--key FILE is required");
  else if (optind >= argc) rc = cli_usage_error("sign", "expected at least one IMAGE");
  if (rc) {
    json_decref(optional);
    return rc;
  }
  ld_error *err = NULL;
  ld_store *store = NULL;
  ld_key *key = NULL;
  ld_autofree char *pass = NULL;
  json_t *report = json_array();
  if (ld_passphrase_get("Enter passphrase for the private key: ", false, &pass, &err) < 0 ||
      ld_key_load_private(key_path, pass, strlen(pass), &key, &err) < 0)
    goto out;
  if (needs_store(argv + optind, argc - optind) && cli_open_store(&store, &err) < 0) goto out;
  ld_transport_opts to;
  cli_transport_opts(&to, store);
  client_opts_merge(&to, &reg);
  ld_sign_opts so = {.identity = identity, .optional = optional, .transport = &to};
  for (int i = optind; i < argc; i++) {
    ld_sign_result r;
    if (ld_sign_image(argv[i], key, &so, &r, &err) < 0) goto out;
    if (fmt == CLI_FORMAT_JSON) json_array_append_new(report, result_json(argv[i], &r));
    else if (!quiet)
      printf("%s %s (%s)\n  %s: %zu signature%s\n", r.added ? "Signed" : "Already signed by this key:",
             argv[i], r.image_digest, r.sig_spec, r.n_signatures, r.n_signatures == 1 ? "" : "s");
    ld_sign_result_clear(&r);
  }
  if (fmt == CLI_FORMAT_JSON) ld_json_print(stdout, report);
out:
  json_decref(report);
  json_decref(optional);
  ld_key_free(key);
  ld_store_close(store);
  return err ? cli_fail(err) : 0;
}
