/* lading inspect IMAGE: manifest, config, layers (compressed and uncompressed sizes), history.
 *
 * Uncompressed sizes and diff_ids are measured by streaming each layer through the decompressor
 * (never trusting the config's diff_ids for sizes); for store images the result is cached in
 * meta.db's layers table so the second inspect is instant. Registry sources (docker://) never
 * pull layers: their uncompressed sizes are reported as null.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "client_opts.h"
#include "lading/json.h"
#include "lading/layer.h"
#include "lading/util.h"

static void usage(FILE *f) {
  fprintf(f, "Usage: lading inspect [OPTIONS] IMAGE\n\n"
             "Show an image's manifest, config, layers and history. IMAGE is any transport\n"
             "spec or a store name/digest.\n\n"
             "  --raw                     print the manifest exactly as stored (bytes)\n"
             "  --config                  print the image config exactly as stored\n"
             "  --platform OS/ARCH[/VAR]  pick one image of an index (default: the host's)\n"
             "  --format table|json       output format\n"
             "  -h, --help                this help\n" CLIENT_OPTIONS_HELP);
}

static bool cached_layer(ld_store *s, const char *digest, char diff_id[LD_DIGEST_MAX],
                         uint64_t *usize) {
  if (!s) return false;
  sqlite3_stmt *st;
  bool hit = false;
  if (sqlite3_prepare_v2(ld_store_meta(s),
                         "SELECT diff_id, uncompressed_size FROM layers WHERE digest=?", -1, &st,
                         NULL) != SQLITE_OK)
    return false;
  sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
    snprintf(diff_id, LD_DIGEST_MAX, "%s", (const char *) sqlite3_column_text(st, 0));
    *usize = (uint64_t) sqlite3_column_int64(st, 1);
    hit = true;
  }
  sqlite3_finalize(st);
  return hit;
}

static int measure_layer(ld_image_src *src, const ld_descriptor *d, char diff_id[LD_DIGEST_MAX],
                         uint64_t *usize, ld_error **err) {
  ld_reader *blob;
  if (src->open_blob(src, d, &blob, err) < 0) return -1;
  ld_layer_reader *l;
  char what[160];
  snprintf(what, sizeof what, "layer %s", d->digest);
  ld_layer_opts opts;
  char known[LD_DIGEST_MAX];
  ld_image_layer_opts(src, d, &opts, known);
  opts.known_diff_id = NULL; /* inspect is where diff_ids are measured and checked */
  if (ld_layer_open_ex(blob, d->media_type, d->digest, what, &opts, &l, err) < 0) return -1;
  int rc = ld_layer_finish(l, diff_id, usize, err);
  ld_layer_close(l);
  return rc;
}

int cmd_inspect(int argc, char **argv) {
  static const struct option opts[] = {{"raw", no_argument, 0, 'r'},
                                       {"config", no_argument, 0, 'c'},
                                       {"platform", required_argument, 0, 'p'},
                                       {"format", required_argument, 0, 'f'},
                                       {"help", no_argument, 0, 'h'},
                                       CLIENT_LONG_OPTIONS,
                                       {0, 0, 0, 0}};
  ld_transport_opts reg_o = {0};
  bool raw = false, config = false;
  const char *platform_s = NULL;
  cli_format fmt = CLI_FORMAT_TABLE;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'r': raw = true; break;
    case 'c': config = true; break;
    case 'p': platform_s = optarg; break;
    case 'f':
      if (cli_parse_format("inspect", optarg, &fmt)) return 2;
      break;
    case 'h': usage(stdout); return 0;
    default: {
      int h = client_opt("inspect", c, optarg, &reg_o, NULL);
      if (h == 2) return 2;
      if (h == 0) return cli_usage_error("inspect", "unknown option");
    }
    }
  }
  if (argc - optind != 1) return cli_usage_error("inspect", "expected one IMAGE");
  const char *spec = argv[optind];
  ld_error *err = NULL;
  ld_store *store = NULL;
  ld_image_src *src = NULL;
  ld_platform platform = {0};
  ld_image img = {0};
  json_t *out = NULL;
  int rc = 1;
  if (platform_s && ld_platform_parse(platform_s, &platform, &err) < 0) goto done;
  if (ld_str_has_prefix(spec, "docker://")) {
    ld_transport_opts to;
    cli_transport_opts(&to, NULL);
    client_opts_merge(&to, &reg_o);
    if (ld_image_src_open(spec, &to, &src, &err) < 0) goto done;
  } else if (cli_open_source(spec, &store, &src, &err) < 0) {
    goto done;
  }
  if (raw) {
    char *bytes, *mt;
    size_t len;
    if (src->get_manifest(src, NULL, &bytes, &len, &mt, &err) < 0) goto done;
    fwrite(bytes, 1, len, stdout);
    free(bytes);
    free(mt);
    rc = 0;
    goto done;
  }
  if (ld_image_load(src, platform_s ? &platform : NULL, &img, &err) < 0) goto done;
  if (config) {
    fwrite(img.config_raw, 1, img.config_len, stdout);
    rc = 0;
    goto done;
  }
  bool remote = ld_str_has_prefix(spec, "docker://");
  const ld_image_config *cfg = &img.config;
  out = json_object();
  json_object_set_new(out, "name", json_string(src->name));
  json_object_set_new(out, "digest", json_string(img.manifest.digest));
  if (img.index) json_object_set_new(out, "index_digest", json_string(img.index->digest));
  json_object_set_new(out, "media_type", json_string(img.manifest.media_type));
  json_object_set_new(out, "created", cfg->created ? json_string(cfg->created) : json_null());
  json_object_set_new(out, "os", cfg->os ? json_string(cfg->os) : json_null());
  json_object_set_new(out, "architecture",
                      cfg->architecture ? json_string(cfg->architecture) : json_null());
  if (cfg->variant) json_object_set_new(out, "variant", json_string(cfg->variant));
  json_object_set_new(out, "config_digest", json_string(img.manifest.config.digest));
  json_t *cc = json_object_get(cfg->root, "config");
  json_object_set(out, "config", cc ? cc : json_null());
  json_t *layers = json_array();
  uint64_t total = 0, total_u = 0;
  for (size_t i = 0; i < img.manifest.n_layers; i++) {
    const ld_descriptor *d = &img.manifest.layers[i];
    json_t *l = json_object();
    json_object_set_new(l, "digest", json_string(d->digest));
    json_object_set_new(l, "media_type", json_string(d->media_type));
    json_object_set_new(l, "size", json_integer(d->size));
    total += (uint64_t) d->size;
    char diff_id[LD_DIGEST_MAX];
    uint64_t usize = 0;
    if (!remote) {
      if (!cached_layer(store, d->digest, diff_id, &usize)) {
        if (measure_layer(src, d, diff_id, &usize, &err) < 0) {
          json_decref(l);
          json_decref(layers);
          goto done;
        }
        ld_image_layer_learned(src, d, diff_id, usize);
      }
      json_object_set_new(l, "uncompressed_size", json_integer((json_int_t) usize));
      json_object_set_new(l, "diff_id", json_string(diff_id));
      if (i < cfg->n_diff_ids && strcmp(cfg->diff_ids[i], diff_id)) {
        ld_err(&err, LD_EDIGEST, "%s: layer %zu %s: diff_id is %s but the config says %s",
               src->name, i, d->digest, diff_id, cfg->diff_ids[i]);
        json_decref(l);
        json_decref(layers);
        goto done;
      }
      total_u += usize;
    } else {
      json_object_set_new(l, "uncompressed_size", json_null());
      json_object_set_new(l, "diff_id",
                          i < cfg->n_diff_ids ? json_string(cfg->diff_ids[i]) : json_null());
    }
    json_array_append_new(layers, l);
  }
  json_object_set_new(out, "layers", layers);
  json_object_set_new(out, "size", json_integer((json_int_t) total));
  json_object_set_new(out, "uncompressed_size", remote ? json_null() : json_integer((json_int_t) total_u));
  json_t *hist = json_object_get(cfg->root, "history");
  json_object_set(out, "history", hist ? hist : json_array());
  if (fmt == CLI_FORMAT_JSON) {
    ld_json_print(stdout, out);
  } else {
    char a[32], b[32];
    printf("Name:         %s\nDigest:       %s\n", src->name, img.manifest.digest);
    if (img.index) printf("Index:        %s\n", img.index->digest);
    printf("Media type:   %s\nCreated:      %s\nPlatform:     %s/%s%s%s\nConfig:       %s\n",
           img.manifest.media_type, cfg->created ? cfg->created : "-", cfg->os ? cfg->os : "?",
           cfg->architecture ? cfg->architecture : "?", cfg->variant ? "/" : "",
           cfg->variant ? cfg->variant : "", img.manifest.config.digest);
    printf("Size:         %s compressed", ld_human_size(total, a, sizeof a));
    if (!remote) printf(", %s uncompressed", ld_human_size(total_u, b, sizeof b));
    printf("\n\nLayers:\n");
    for (size_t i = 0; i < json_array_size(layers); i++) {
      json_t *l = json_array_get(layers, i);
      json_t *u = json_object_get(l, "uncompressed_size");
      printf("  %2zu  %s  %10s", i, ld_json_str(l, "digest"),
             ld_human_size((uint64_t) ld_json_int(l, "size", 0), a, sizeof a));
      if (json_is_integer(u))
        printf("  %10s", ld_human_size((uint64_t) json_integer_value(u), b, sizeof b));
      printf("\n");
    }
    printf("\nHistory:\n");
    for (size_t i = 0; i < cfg->n_history; i++) {
      const ld_history *h = &cfg->history[i];
      printf("  %s%s\n", h->created_by ? h->created_by : "(no command)",
             h->empty_layer ? "   [no layer]" : "");
    }
  }
  if (store) ld_store_touch(store, img.index ? img.index->digest : img.manifest.digest);
  rc = 0;
done:
  json_decref(out);
  ld_image_clear(&img);
  ld_image_src_close(src);
  ld_store_close(store);
  ld_platform_clear(&platform);
  return err ? cli_fail(err) : rc;
}
