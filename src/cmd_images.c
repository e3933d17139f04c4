/* lading images: the store's named images (name, digest, size, created). Size is what the image's
 * blobs take (manifest, config, layers as stored); created comes from the image config.
 *
 * cosign stores a signature (attestation, SBOM) of image D as the tag REPO:sha256-<hex of D>.sig
 * (.att, .sbom). Those are artifacts about an image, not images a user runs, so they are hidden
 * unless --all; an image that has a .sig beside it is marked signed instead. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "lading/json.h"
#include "lading/reference.h"
#include "lading/util.h"

static void usage(FILE *f) {
  fprintf(f, "Usage: lading images [--all] [--format table|json] [--no-trunc]\n\n"
             "List the images in the store ($LADING_ROOT).\n\n"
             "  -a, --all            also list cosign signature/attestation tags (sha256-<hex>.sig)\n"
             "  --format table|json  output format (json fields: name, digest, media_type, size,\n"
             "                       created, platform, signed)\n"
             "  --no-trunc           show full digests in the table\n"
             "  -h, --help           this help\n");
}

/* Size (manifest + config + layers, or for an index the sum over its images) and created. */
static void image_facts(ld_store *s, const ld_descriptor *d, uint64_t *size, char **created,
                        char **platform, int depth) {
  char *buf;
  size_t len;
  ld_manifest m;
  *size += (uint64_t) d->size;
  if (depth > 3 || ld_store_read_blob(s, d->digest, LD_MANIFEST_MAX, &buf, &len, NULL) < 0) return;
  if (ld_manifest_parse(buf, len, d->media_type, &m, NULL) == 0) {
    if (m.kind == LD_KIND_INDEX) {
      for (size_t i = 0; i < m.n_manifests; i++)
        image_facts(s, &m.manifests[i], size, created, platform, depth + 1);
    } else {
      *size += (uint64_t) m.config.size;
      for (size_t i = 0; i < m.n_layers; i++) *size += (uint64_t) m.layers[i].size;
      char *cbuf;
      size_t clen;
      ld_image_config cfg;
      if (!*created &&
          ld_store_read_blob(s, m.config.digest, LD_CONFIG_MAX, &cbuf, &clen, NULL) == 0) {
        if (ld_config_parse(cbuf, clen, &cfg, NULL) == 0) {
          *created = ld_xstrdup(cfg.created);
          ld_platform p = {cfg.os, cfg.architecture, cfg.variant, NULL};
          *platform = ld_platform_format(&p);
          ld_config_clear(&cfg);
        }
        free(cbuf);
      }
    }
    ld_manifest_clear(&m);
  }
  free(buf);
}

/* The tag of name (after the last ':' that follows the last '/'), or NULL. */
static const char *tag_of(const char *name) {
  const char *slash = strrchr(name, '/'), *colon = strrchr(name, ':');
  return colon && (!slash || colon > slash) ? colon + 1 : NULL;
}

/* A cosign artifact tag: sha256-<64 hex>.sig|.att|.sbom */
static bool is_cosign_artifact(const char *name) {
  const char *tag = tag_of(name);
  if (!tag || strncmp(tag, "sha256-", 7)) return false;
  for (int i = 0; i < 64; i++)
    if (!isxdigit((unsigned char) tag[7 + i])) return false;
  const char *suffix = tag + 7 + 64;
  return !strcmp(suffix, ".sig") || !strcmp(suffix, ".att") || !strcmp(suffix, ".sbom");
}

/* Whether the store holds REPO:sha256-<hex>.sig for refs[i] (same repository, its digest). */
static bool has_signature(const ld_store_ref *refs, size_t n, size_t i) {
  const char *tag = tag_of(refs[i].name);
  size_t repo_len = tag ? (size_t) (tag - 1 - refs[i].name) : strlen(refs[i].name);
  const char *hex = strchr(refs[i].desc.digest, ':');
  if (!hex || strncmp(refs[i].desc.digest, "sha256:", 7)) return false;
  char want[96];
  snprintf(want, sizeof want, "sha256-%s.sig", hex + 1);
  for (size_t k = 0; k < n; k++) {
    const char *t = tag_of(refs[k].name);
    if (t && (size_t) (t - 1 - refs[k].name) == repo_len &&
        !strncmp(refs[k].name, refs[i].name, repo_len) && !strcmp(t, want))
      return true;
  }
  return false;
}

int cmd_images(int argc, char **argv) {
  static const struct option opts[] = {{"all", no_argument, 0, 'a'},
                                       {"format", required_argument, 0, 'f'},
                                       {"no-trunc", no_argument, 0, 'n'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  cli_format fmt = CLI_FORMAT_TABLE;
  bool no_trunc = false, all = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "ah", opts, NULL)) != -1) {
    switch (c) {
    case 'a': all = true; break;
    case 'f':
      if (cli_parse_format("images", optarg, &fmt)) return 2;
      break;
    case 'n': no_trunc = true; break;
    case 'h': usage(stdout); return 0;
    default: return cli_usage_error("images", "unknown option");
    }
  }
  if (optind != argc) return cli_usage_error("images", "unexpected argument '%s'", argv[optind]);
  ld_error *err = NULL;
  ld_store *s;
  if (cli_open_store(&s, &err) < 0) return cli_fail(err);
  ld_store_ref *refs;
  size_t n;
  if (ld_store_list(s, &refs, &n, &err) < 0) {
    ld_store_close(s);
    return cli_fail(err);
  }
  json_t *arr = json_array();
  if (fmt == CLI_FORMAT_TABLE)
    printf("%-40s %-19s %10s  %-20s %-13s %s\n", "NAME", "DIGEST", "SIZE", "CREATED", "PLATFORM",
           "SIGNED");
  for (size_t i = 0; i < n; i++) {
    if (!all && is_cosign_artifact(refs[i].name)) continue;
    bool signed_ = has_signature(refs, n, i);
    uint64_t size = 0;
    char *created = NULL, *platform = NULL;
    image_facts(s, &refs[i].desc, &size, &created, &platform, 0);
    if (fmt == CLI_FORMAT_JSON) {
      json_t *j = json_object();
      json_object_set_new(j, "name", json_string(refs[i].name));
      json_object_set_new(j, "digest", json_string(refs[i].desc.digest));
      json_object_set_new(j, "media_type", json_string(refs[i].desc.media_type));
      json_object_set_new(j, "size", json_integer((json_int_t) size));
      json_object_set_new(j, "created", created ? json_string(created) : json_null());
      json_object_set_new(j, "platform", platform ? json_string(platform) : json_null());
      json_object_set_new(j, "signed", json_boolean(signed_));
      json_array_append_new(arr, j);
    } else {
      ld_reference r;
      char *familiar = NULL;
      if (ld_reference_parse(refs[i].name, &r, NULL) == 0) {
        familiar = ld_reference_familiar(&r);
        ld_reference_clear(&r);
      }
      char hs[32], dg[24];
      char created_short[20] = "";
      if (created) snprintf(created_short, sizeof created_short, "%.10s %.5s", created, created + 11);
      printf("%-40s %-19s %10s  %-20s %-13s %s\n", familiar ? familiar : refs[i].name,
             no_trunc ? refs[i].desc.digest : ld_digest_short(refs[i].desc.digest, dg),
             ld_human_size(size, hs, sizeof hs), created_short, platform ? platform : "",
             signed_ ? "yes" : "");
      free(familiar);
    }
    free(created);
    free(platform);
  }
  if (fmt == CLI_FORMAT_JSON) ld_json_print(stdout, arr);
  json_decref(arr);
  ld_store_refs_free(refs, n);
  ld_store_close(s);
  return 0;
}
