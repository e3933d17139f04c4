/* lading key generate | public: cosign-compatible key pairs.
 *
 * generate writes PREFIX.key (mode 0600, "ENCRYPTED COSIGN PRIVATE KEY", scrypt N=32768, the
 * variant every cosign/skopeo/podman reads) and PREFIX.pub (PEM "PUBLIC KEY"). Existing files are
 * never overwritten without --force: a lost private key cannot be regenerated. Both files are
 * written atomically (temp + fsync + rename), the private one first, so a crash leaves no public
 * key without its private half. public prints the public key of an encrypted private key.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/sign.h"
#include "lading/util.h"

static void usage(FILE *f) {
  fprintf(f, "Usage: lading key generate [--output-prefix PREFIX] [--force] [--format FMT]\n"
             "       lading key public --key FILE\n\n"
             "generate: a new ECDSA P-256 key pair, cosign-compatible: PREFIX.key (encrypted;\n"
             "passphrase from LADING_PASSWORD or COSIGN_PASSWORD, else asked on the terminal;\n"
             "empty allowed) and PREFIX.pub.\n"
             "public: print the public key (PEM) of an encrypted private key.\n\n"
             "  -o, --output-prefix PREFIX  file name prefix (default: cosign)\n"
             "      --force                 overwrite existing files\n"
             "  -k, --key FILE              private key file (public)\n"
             "      --format table|json     report format (generate)\n"
             "  -h, --help                  this help\n");
}

static int generate(const char *prefix, bool force, cli_format fmt) {
  ld_autofree char *key_path = ld_xasprintf("%s.key", prefix);
  ld_autofree char *pub_path = ld_xasprintf("%s.pub", prefix);
  ld_error *err = NULL;
  if (!force && (ld_path_exists(key_path) || ld_path_exists(pub_path))) {
    fprintf(stderr, "lading: %s or %s exists; use --force to overwrite\n", key_path, pub_path);
    return 1;
  }
  ld_key *k = NULL;
  ld_autofree char *pass = NULL, *pem = NULL, *pub = NULL;
  if (ld_passphrase_get("Enter passphrase for the private key: ", true, &pass, &err) < 0 ||
      ld_key_generate(&k, &err) < 0 ||
      ld_key_encrypt_cosign(k, pass, strlen(pass), &pem, &err) < 0)
    goto out;
  pub = ld_key_public_pem(k);
  if (ld_atomic_write(key_path, pem, strlen(pem), 0600, &err) < 0 ||
      ld_atomic_write(pub_path, pub, strlen(pub), 0644, &err) < 0)
    goto out;
  if (fmt == CLI_FORMAT_JSON) {
    json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "private_key", key_path, "public_key", pub_path,
                          "type", ld_key_type(k), "key_id", ld_key_id(k));
    ld_json_print(stdout, j);
    json_decref(j);
  } else if (!cli_quiet) {
    printf("Private key written to %s\nPublic key written to %s\n", key_path, pub_path);
  }
out:
  ld_key_free(k);
  return err ? cli_fail(err) : 0;
}

static int show_public(const char *key_path) {
  ld_error *err = NULL;
  ld_key *k = NULL;
  ld_autofree char *pass = NULL;
  if (ld_passphrase_get("Enter passphrase for the private key: ", false, &pass, &err) < 0 ||
      ld_key_load_private(key_path, pass, strlen(pass), &k, &err) < 0)
    return cli_fail(err);
  char *pub = ld_key_public_pem(k);
  fputs(pub, stdout);
  free(pub);
  ld_key_free(k);
  return 0;
}

int cmd_key(int argc, char **argv) {
  static const struct option opts[] = {{"output-prefix", required_argument, 0, 'o'},
                                       {"force", no_argument, 0, 'F'},
                                       {"key", required_argument, 0, 'k'},
                                       {"format", required_argument, 0, 'f'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *prefix = "cosign", *key = NULL;
  bool force = false;
  cli_format fmt = CLI_FORMAT_TABLE;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:k:h", opts, NULL)) != -1) {
    switch (c) {
    case 'o': prefix = optarg; break;
    case 'F': force = true; break;
    case 'k': key = optarg; break;
    case 'f':
      if (cli_parse_format("key", optarg, &fmt)) return 2;
      break;
    case 'h': usage(stdout); return 0;
    default: return cli_usage_error("key", "unknown option");
    }
  }
  if (argc - optind != 1) return cli_usage_error("key", "expected 'generate' or 'public'");
  const char *sub = argv[optind];
  if (!strcmp(sub, "generate")) {
    if (!prefix[0]) return cli_usage_error("key", "empty --output-prefix");
    return generate(prefix, force, fmt);
  }
  if (!strcmp(sub, "public")) {
    if (!key) return cli_usage_error("key", "public needs --key FILE");
    return show_public(key);
  }
  return cli_usage_error("key", "unknown subcommand '%s' (generate, public)", sub);
}
