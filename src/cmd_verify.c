/* lading verify --key PUB IMAGE: checks an image's cosign signatures (lib/sign/sign.c).
 *
 * Exit 0 when at least one signature is valid (made by one of the keys, strict payload, for this
 * image's digest); 3 when none is (no .sig, wrong key, another digest, tampered); 1 on errors
 * (image unreachable, key unreadable). Every signature layer is reported with why it does or
 * does not count.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "client_opts.h"
#include "lading/json.h"
#include "lading/sign.h"
#include "lading/util.h"

#define MAX_KEYS 16

static void usage(FILE *f) {
  fprintf(f, "Usage: lading verify --key PUB [--key PUB...] [OPTIONS] IMAGE\n\n"
             "Verify the cosign signatures of IMAGE (docker://REF, a store REF, oci:DIR:TAG or\n"
             "oci-archive:FILE:TAG). Exit 0 if at least one signature by one of the keys is\n"
             "valid for the image's digest, 3 if none is, 1 on errors.\n\n"
             "  -k, --key FILE            PEM public key (repeatable: any of them may sign)\n"
                    "      --format table|json   report format\n"
             "  -q, --quiet               print nothing; the exit code tells\n"
             "  -h, --help                this help\n"
             CLIENT_OPTIONS_HELP);
}

static json_t *check_json(const ld_sig_check *c, char **key_paths, ld_key *const *keys) {
  json_t *j = json_pack("{s:s,s:b}", "layer", c->layer_digest, "valid", c->valid);
  json_object_set_new(j, "key", c->key_index >= 0 ? json_string(key_paths[c->key_index]) : json_null());
  json_object_set_new(j, "key_id", c->key_index >= 0 ? json_string(ld_key_id(keys[c->key_index])) : json_null());
  json_object_set_new(j, "docker_reference", c->docker_reference ? json_string(c->docker_reference) : json_null());
  json_object_set_new(j, "signed_digest", c->payload_digest ? json_string(c->payload_digest) : json_null());
  json_object_set_new(j, "creator", c->creator ? json_string(c->creator) : json_null());
  json_object_set_new(j, "timestamp", c->timestamp ? json_integer(c->timestamp) : json_null());
  json_object_set_new(j, "reason", c->reason ? json_string(c->reason) : json_null());
  return j;
}

static void print_json(const char *spec, const ld_verify_result *r, char **key_paths,
                       ld_key *const *keys) {
  json_t *sigs = json_array();
  for (size_t i = 0; i < r->n_checks; i++)
    json_array_append_new(sigs, check_json(&r->checks[i], key_paths, keys));
  json_t *j = json_pack("{s:s,s:s,s:s,s:b,s:o,s:I,s:b}", "image", spec, "digest", r->image_digest,
                        "signatures_at", r->sig_spec, "found", r->sig_found, "signatures", sigs,
                        "valid_count", (json_int_t) r->n_valid, "verified", r->n_valid > 0);
  json_object_set_new(j, "problem", r->problem ? json_string(r->problem) : json_null());
  ld_json_print(stdout, j);
  json_decref(j);
}

static void print_table(const char *spec, const ld_verify_result *r, char **key_paths) {
  printf("%s %s\n", spec, r->image_digest);
  if (!r->sig_found) printf("  no signatures (%s not found)\n", r->sig_spec);
  if (r->problem) printf("  %s: %s\n", r->sig_spec, r->problem);
  for (size_t i = 0; i < r->n_checks; i++) {
    const ld_sig_check *c = &r->checks[i];
    if (c->valid) {
      char ts[32] = "";
      if (c->timestamp) ld_time_rfc3339(c->timestamp, ts, sizeof ts);
      printf("  valid    signed by %s for %s%s%s%s%s\n", key_paths[c->key_index],
             c->docker_reference, c->creator ? " by " : "", c->creator ? c->creator : "",
             ts[0] ? " at " : "", ts);
    } else {
      printf("  invalid  %s: %s\n", c->layer_digest, c->reason);
    }
  }
  printf("%s: %zu valid signature%s\n", r->n_valid ? "Verified" : "Not verified", r->n_valid,
         r->n_valid == 1 ? "" : "s");
}

int cmd_verify(int argc, char **argv) {
  static const struct option opts[] = {{"key", required_argument, 0, 'k'},
                                       {"format", required_argument, 0, 'f'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       CLIENT_LONG_OPTIONS,
                                       {0, 0, 0, 0}};
  char *key_paths[MAX_KEYS];
  size_t n_keys = 0;
  bool quiet = cli_quiet;
  cli_format fmt = CLI_FORMAT_TABLE;
  ld_transport_opts reg = {0};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "k:qh", opts, NULL)) != -1) {
    switch (c) {
    case 'k':
      if (n_keys == MAX_KEYS) return cli_usage_error("verify", "at most %d keys", MAX_KEYS);
      key_paths[n_keys++] = optarg;
      break;
    case 'f':
      if (cli_parse_format("verify", optarg, &fmt)) return 2;
      break;
    case 'q': quiet = true; break;
    case 'h': usage(stdout); return 0;
    default:
      switch (client_opt("verify", c, optarg, &reg, NULL)) {
      case 1: break;
      case 2: return 2;
      default: return cli_usage_error("verify", "unknown option");
      }
    }
  }
  if (!n_keys) return cli_usage_error("verify", "--key PUB is required");
  if (argc - optind != 1) return cli_usage_error("verify", "expected one IMAGE");
  const char *spec = argv[optind];
  ld_error *err = NULL;
  ld_key *keys[MAX_KEYS] = {0};
  ld_store *store = NULL;
  ld_verify_result r = {0};
  int rc = 1;
  for (size_t i = 0; i < n_keys; i++)
    if (ld_key_load_public(key_paths[i], &keys[i], &err) < 0) goto out;
  if (cli_spec_names_store(spec) && cli_open_store(&store, &err) < 0) goto out;
  ld_transport_opts to;
  cli_transport_opts(&to, store);
  client_opts_merge(&to, &reg);
  if (ld_verify_image(spec, keys, n_keys, &to, &r, &err) < 0) goto out;
  if (fmt == CLI_FORMAT_JSON) print_json(spec, &r, key_paths, keys);
  else if (!quiet) print_table(spec, &r, key_paths);
  rc = r.n_valid ? 0 : 3;
out:
  ld_verify_result_clear(&r);
  for (size_t i = 0; i < n_keys; i++) ld_key_free(keys[i]);
  ld_store_close(store);
  return err ? cli_fail(err) : rc;
}
