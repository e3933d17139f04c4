/* lading policy check IMAGE --policy FILE: evaluates an admission policy (lib/policy/policy.c)
 * and prints every rule with its reason; exit 3 when any rule is violated. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "client_opts.h"
#include "lading/json.h"
#include "lading/policy.h"
#include "lading/util.h"

static void usage(FILE *f) {
  fprintf(f, "Usage: lading policy check --policy FILE [OPTIONS] IMAGE\n\n"
             "Evaluate IMAGE (docker://REF, a store REF, oci:DIR:TAG ...) against a YAML policy:\n"
             "  registries: [HOST[:PORT] or HOST/PATH prefix, ...]   allowed registries\n"
             "  requireDigest: true                                  referenced by digest\n"
             "  signatures: {keys: [PUB, ...]}                       signed by one of these\n"
             "Every rule is reported with its reason. Exit 0 allowed, 3 violated, 1 error.\n\n"
             "  -p, --policy FILE         the policy (key paths are relative to it)\n"
                    "      --format table|json   report format\n"
             "  -q, --quiet               print nothing; the exit code tells\n"
             "  -h, --help                this help\n"
             CLIENT_OPTIONS_HELP);
}

static void print_result(const char *spec, const ld_policy_result *r, cli_format fmt) {
  if (fmt == CLI_FORMAT_JSON) {
    json_t *rules = json_array();
    for (size_t i = 0; i < r->n_rules; i++)
      json_array_append_new(rules, json_pack("{s:s,s:b,s:s}", "rule", r->rules[i].rule, "ok",
                                             r->rules[i].ok, "reason", r->rules[i].reason));
    json_t *j = json_pack("{s:s,s:s,s:b,s:o}", "image", spec, "digest", r->digest, "allowed",
                          r->allowed, "rules", rules);
    json_object_set_new(j, "registry", r->registry ? json_string(r->registry) : json_null());
    ld_json_print(stdout, j);
    json_decref(j);
    return;
  }
  printf("%s %s\n", spec, r->digest);
  size_t bad = 0;
  for (size_t i = 0; i < r->n_rules; i++) {
    bad += !r->rules[i].ok;
    printf("  %-5s %-14s %s\n", r->rules[i].ok ? "ok" : "FAIL", r->rules[i].rule,
           r->rules[i].reason);
  }
  if (!r->n_rules) printf("  (the policy has no rules)\n");
  if (bad) printf("Policy violated: %zu rule%s\n", bad, bad == 1 ? "" : "s");
  else printf("Allowed\n");
}

int cmd_policy(int argc, char **argv) {
  static const struct option opts[] = {{"policy", required_argument, 0, 'p'},
                                       {"format", required_argument, 0, 'f'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       CLIENT_LONG_OPTIONS,
                                       {0, 0, 0, 0}};
  const char *policy_path = NULL;
  bool quiet = cli_quiet;
  cli_format fmt = CLI_FORMAT_TABLE;
  ld_transport_opts reg = {0};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "p:qh", opts, NULL)) != -1) {
    switch (c) {
    case 'p': policy_path = optarg; break;
    case 'f':
      if (cli_parse_format("policy", optarg, &fmt)) return 2;
      break;
    case 'q': quiet = true; break;
    case 'h': usage(stdout); return 0;
    default:
      switch (client_opt("policy", c, optarg, &reg, NULL)) {
      case 1: break;
      case 2: return 2;
      default: return cli_usage_error("policy", "unknown option");
      }
    }
  }
  if (argc - optind != 2 || strcmp(argv[optind], "check"))
    return cli_usage_error("policy", "expected: check IMAGE");
  if (!policy_path) return cli_usage_error("policy", "--policy FILE is required");
  const char *spec = argv[optind + 1];
  ld_error *err = NULL;
  ld_policy pol = {0};
  ld_policy_result res = {0};
  ld_store *store = NULL;
  int rc = 1;
  if (ld_policy_load(policy_path, &pol, &err) < 0) goto out;
  if (cli_spec_names_store(spec) && cli_open_store(&store, &err) < 0) goto out;
  ld_transport_opts to;
  cli_transport_opts(&to, store);
  client_opts_merge(&to, &reg);
  if (ld_policy_check(&pol, spec, &to, &res, &err) < 0) goto out;
  if (!quiet || fmt == CLI_FORMAT_JSON) print_result(spec, &res, fmt);
  rc = res.allowed ? 0 : 3;
out:
  ld_policy_result_clear(&res);
  ld_policy_clear(&pol);
  ld_store_close(store);
  return err ? cli_fail(err) : rc;
}
