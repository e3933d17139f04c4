/* lading df: where did my disk go? Per image (size, shared, unique, layers, created, last used,
 * in use / pinned), totals, and the file system's usage against the prune watermarks; --layers
 * shows which images share each layer. The source is the store, or a containers-storage graph
 * root (--containers-storage DIR, as CRI-O and Podman write it). All the work is in lib/disk. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "lading/disk.h"
#include "lading/json.h"

static void usage(FILE *f) {
  fprintf(f,
          "Usage: lading df [OPTIONS]\n\n"
          "Show what each image costs on disk: size, bytes shared with other images, unique\n"
          "bytes (what deleting it alone frees), layers, created, last used, in use or pinned;\n"
          "totals, and the file system's usage against the prune watermarks.\n\n"
          "Options:\n"
          "  --containers-storage DIR  read a containers-storage graph root (CRI-O, Podman),\n"
          "                         e.g. /var/lib/containers/storage, instead of the store\n"
          "  --layers               per layer: size and the images that share it\n"
          "  --estimate             containers-storage: sizes from layers.json, no directory walk\n"
          "  --high PCT             high watermark shown against usage (default 85)\n"
          "  --low PCT              low watermark (default 80)\n"
          "  --human / --bytes      force human-readable sizes / exact bytes (default: human on\n"
          "                         a terminal)\n"
          "  --format table|json    output format (default table)\n"
          "  -h, --help             this help\n");
}

typedef struct df_opts {
  const char *cstorage;
  bool layers, human;
  double high, low;
  cli_format format;
  ld_disk_read_opts read;
} df_opts;

static int parse_pct(const char *s, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end || v < 0 || v > 100) return -1;
  *out = v;
  return 0;
}

static int parse(int argc, char **argv, df_opts *o) {
  static const struct option longopts[] = {
      {"containers-storage", required_argument, 0, 'C'}, {"layers", no_argument, 0, 'L'},
      {"estimate", no_argument, 0, 'E'},  {"high", required_argument, 0, 'H'},
      {"low", required_argument, 0, 'l'}, {"human", no_argument, 0, 'u'},
      {"bytes", no_argument, 0, 'b'},     {"format", required_argument, 0, 'f'},
      {"help", no_argument, 0, 'h'},      {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case 'C': o->cstorage = optarg; break;
    case 'L': o->layers = true; break;
    case 'E': o->read.estimate = true; break;
    case 'H':
      if (parse_pct(optarg, &o->high) < 0)
        return cli_usage_error("df", "--high '%s': not a percentage (0-100)", optarg);
      break;
    case 'l':
      if (parse_pct(optarg, &o->low) < 0)
        return cli_usage_error("df", "--low '%s': not a percentage (0-100)", optarg);
      break;
    case 'u': o->human = true; break;
    case 'b': o->human = false; break;
    case 'f':
      if (cli_parse_format("df", optarg, &o->format)) return 2;
      break;
    case 'h': usage(stdout); return -1;
    default: return cli_usage_error("df", "%s option '%s'", c == ':' ? "missing argument to" : "unknown", argv[optind - 1]);
    }
  }
  if (optind < argc) return cli_usage_error("df", "unexpected argument '%s'", argv[optind]);
  if (o->low > o->high)
    return cli_usage_error("df", "--low %g is above --high %g", o->low, o->high);
  return 0;
}

static int read_report(const df_opts *o, ld_disk_report **r, ld_error **err) {
  if (o->cstorage) return ld_disk_cstorage_read(o->cstorage, &o->read, r, err);
  ld_store *s = NULL;
  if (cli_open_store(&s, err) < 0) return -1;
  int rc = ld_disk_store_read(s, &o->read, r, err);
  ld_store_close(s);
  return rc;
}

int cmd_df(int argc, char **argv) {
  df_opts o = {.high = 85, .low = 80, .human = cli_stdout_is_tty()};
  optind = 1;
  int rc = parse(argc, argv, &o);
  if (rc) return rc < 0 ? 0 : rc;
  ld_disk_report *r = NULL;
  ld_error *err = NULL;
  if (read_report(&o, &r, &err) < 0) return cli_fail(err);
  if (o.format == CLI_FORMAT_JSON) {
    json_t *j = ld_disk_report_json(r, o.layers);
    json_t *fs = json_object_get(j, "filesystem");
    json_object_set_new(fs, "high_pct", json_real(o.high));
    json_object_set_new(fs, "low_pct", json_real(o.low));
    json_object_set_new(fs, "above_high", json_boolean(ld_disk_used_pct(r) >= o.high));
    ld_json_print(stdout, j);
    json_decref(j);
  } else if (o.layers) {
    ld_disk_print_layers(stdout, r, o.human);
  } else {
    ld_disk_print_images(stdout, r, o.human);
    ld_disk_print_totals(stdout, r, o.human, o.high, o.low);
  }
  ld_disk_report_free(r);
  return 0;
}
