/* lading analyze IMAGE: layers, their commands and file changes, dive's efficiency and wasted
 * bytes, what a rebuild would really reclaim, duplicate content, and dive's CI gate.
 *
 * The work is in lib/analyze (ld_analyze_image reads each layer once, as a stream); this file
 * parses options, resolves the CI rules (defaults < .dive-ci file < command-line flags), prints
 * either the human report or the JSON one, and maps the verdict to the exit code: 0 pass, 3 a CI
 * rule failed, 1 an error (bad image, bad rules file), 2 usage.
 *
 * CI=true in the environment does NOT switch the gate on (dive does): a report that suddenly
 * fails a pipeline because the runner exports CI=true is a surprise; the gate is asked for with
 * --ci or --ci-config. docs/analyze.md says so.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "lading/analyze.h"
#include "lading/json.h"
#include "lading/util.h"

static void usage(FILE *f) {
  fprintf(f,
          "Usage: lading analyze [OPTIONS] IMAGE\n\n"
          "Show where an image's bytes go: each layer's command and file changes, dive's\n"
          "efficiency score and wasted bytes, the bytes a rebuild would really reclaim, and\n"
          "identical files stored under several paths. IMAGE is any transport spec\n"
          "(oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, docker://REF) or a store\n"
          "name/digest.\n\n"
          "  --layer N                 list the file changes of layer N (0 = base; 'all')\n"
          "  --top N                   rows per list in the human report (default 20, 0 = all)\n"
          "  --platform OS/ARCH[/VAR]  pick one image of a multi-platform index\n"
          "  -j, --jobs N              layers read in parallel (default: CPUs, at most 4)\n"
          "  --format table|json       output format (json: every list complete)\n"
          "  --ci                      judge the image with dive's CI rules; exit 3 on a failure\n"
          "  --ci-config FILE          rules file in dive's .dive-ci format (implies --ci;\n"
          "                            default: ./.dive-ci when it exists)\n"
          "  --lowest-efficiency X     rule override, 0..1 or 'disabled' (dive: 0.9)\n"
          "  --highest-wasted-bytes X  rule override, e.g. 20MB, 19MiB or 'disabled' (dive: disabled)\n"
          "  --highest-user-wasted-percent X  rule override, 0..1 or 'disabled' (dive: 0.1)\n"
          "                            (rule overrides imply --ci; dive's camelCase spellings work)\n"
          "  -h, --help                this help\n\n"
          "Exit status: 0 ok, 1 error, 2 usage, 3 a CI rule failed.\n");
}

typedef struct options {
  const char *platform;
  cli_format format;
  int layer; /* -1 none, -2 all */
  size_t top;
  int jobs;
  bool ci;
  const char *ci_config;
  const char *rule_override[LD_CI_N_RULES];
} options;

enum { OPT_LAYER = 256, OPT_TOP, OPT_PLATFORM, OPT_FORMAT, OPT_CI, OPT_CI_CONFIG, OPT_RULE };

static int parse_count(const char *s, long max, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < 0 || v > max) return -1;
  *out = v;
  return 0;
}

static int parse_options(int argc, char **argv, options *o) {
  static const struct option opts[] = {
      {"layer", required_argument, 0, OPT_LAYER},
      {"top", required_argument, 0, OPT_TOP},
      {"jobs", required_argument, 0, 'j'},
      {"platform", required_argument, 0, OPT_PLATFORM},
      {"format", required_argument, 0, OPT_FORMAT},
      {"ci", no_argument, 0, OPT_CI},
      {"ci-config", required_argument, 0, OPT_CI_CONFIG},
      {"lowest-efficiency", required_argument, 0, OPT_RULE + LD_CI_LOWEST_EFFICIENCY},
      {"lowestEfficiency", required_argument, 0, OPT_RULE + LD_CI_LOWEST_EFFICIENCY},
      {"highest-wasted-bytes", required_argument, 0, OPT_RULE + LD_CI_HIGHEST_WASTED_BYTES},
      {"highestWastedBytes", required_argument, 0, OPT_RULE + LD_CI_HIGHEST_WASTED_BYTES},
      {"highest-user-wasted-percent", required_argument, 0,
       OPT_RULE + LD_CI_HIGHEST_USER_WASTED_PERCENT},
      {"highestUserWastedPercent", required_argument, 0,
       OPT_RULE + LD_CI_HIGHEST_USER_WASTED_PERCENT},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  memset(o, 0, sizeof *o);
  o->layer = -1;
  o->top = 20;
  int c;
  long v;
  optind = 1;
  while ((c = getopt_long(argc, argv, "hj:", opts, NULL)) != -1) {
    if (c >= OPT_RULE && c < OPT_RULE + LD_CI_N_RULES) {
      o->rule_override[c - OPT_RULE] = optarg;
      o->ci = true;
      continue;
    }
    switch (c) {
    case OPT_LAYER:
      if (!strcmp(optarg, "all")) o->layer = -2;
      else if (parse_count(optarg, 1 << 20, &v) < 0)
        return cli_usage_error("analyze", "--layer wants a layer index or 'all', not '%s'", optarg);
      else o->layer = (int) v;
      break;
    case OPT_TOP:
      if (parse_count(optarg, 1L << 30, &v) < 0)
        return cli_usage_error("analyze", "--top wants a number, not '%s'", optarg);
      o->top = (size_t) v;
      break;
    case 'j':
      if (parse_count(optarg, 64, &v) < 0 || v < 1)
        return cli_usage_error("analyze", "--jobs wants a number from 1 to 64, not '%s'", optarg);
      o->jobs = (int) v;
      break;
    case OPT_PLATFORM: o->platform = optarg; break;
    case OPT_FORMAT:
      if (cli_parse_format("analyze", optarg, &o->format)) return 2;
      break;
    case OPT_CI: o->ci = true; break;
    case OPT_CI_CONFIG: o->ci = true, o->ci_config = optarg; break;
    case 'h': usage(stdout); return -1;
    default: return cli_usage_error("analyze", "unknown option");
    }
  }
  if (argc - optind != 1) return cli_usage_error("analyze", "expected one IMAGE");
  return 0;
}

/* defaults < the rules file < flags, as dive layers viper's sources */
static int load_ci(const options *o, ld_ci_config *c, ld_error **err) {
  ld_ci_config_defaults(c);
  if (o->ci_config) {
    if (ld_ci_config_load(c, o->ci_config, err) < 0) return -1;
  } else if (access(".dive-ci", F_OK) == 0 && ld_ci_config_load(c, ".dive-ci", err) < 0) {
    return -1;
  }
  for (int i = 0; i < LD_CI_N_RULES; i++)
    if (o->rule_override[i] && ld_ci_config_set(c, ld_ci_rule_name(i), o->rule_override[i], err) < 0)
      return -1;
  return ld_ci_config_validate(c, err);
}

/* ---- human report ---- */

static size_t rows(const options *o, size_t n) { return o->top && o->top < n ? o->top : n; }

static void print_more(const options *o, size_t n) {
  if (rows(o, n) < n) printf("  ... %zu more (--top 0 or --format json for all)\n", n - rows(o, n));
}

static const char *short_digest(const char *d, char *buf, size_t len) {
  const char *hex = strchr(d, ':');
  snprintf(buf, len, "%.12s", hex ? hex + 1 : d);
  return buf;
}

/* One line, like dive's layer list: newlines of heredocs shown as ↵; cut on a terminal. */
static void print_command(const char *cmd) {
  size_t max = cli_stdout_is_tty() ? 100 : (size_t) -1, n = 0;
  for (const char *p = cmd; *p && n < max; p++, n++) {
    if (*p == '\n') fputs("↵", stdout);
    else putchar(*p);
  }
  if (strlen(cmd) > max) fputs("…", stdout);
  putchar('\n');
}

static void print_layers(const ld_analysis *a) {
  char s[32], d[16];
  printf("Layers\n  %3s  %-12s  %9s  %7s  %7s  %7s  %s\n", "#", "Digest", "Size", "Added", "Changed",
         "Removed", "Command");
  for (size_t i = 0; i < a->n_layers; i++) {
    const ld_an_layer *l = &a->layers[i];
    printf("  %3zu  %-12s  %9s  %7llu  %7llu  %7llu  ", l->index,
           short_digest(l->digest, d, sizeof d), ld_human_size(l->size, s, sizeof s),
           (unsigned long long) l->added.count, (unsigned long long) l->modified.count,
           (unsigned long long) l->removed.count);
    print_command(l->command);
  }
}

static const char *type_char(ld_an_type t) {
  return t == LD_AN_DIR ? "d" : t == LD_AN_SYMLINK ? "l" : t == LD_AN_HARDLINK ? "h" : t == LD_AN_OTHER ? "c" : "-";
}

static void print_changes(const ld_an_layer *l, const options *o) {
  char s[32];
  printf("\nChanges in layer %zu (%llu added, %llu modified, %llu removed): ", l->index,
         (unsigned long long) l->added.count, (unsigned long long) l->modified.count,
         (unsigned long long) l->removed.count);
  print_command(l->command);
  for (size_t i = 0; i < rows(o, l->n_changes); i++) {
    const ld_an_change *c = &l->changes[i];
    static const char *const kinds[] = {"added   ", "modified", "removed "};
    printf("  %s %s %10s  %s", kinds[c->kind], type_char(c->type), ld_human_size(c->size, s, sizeof s),
           c->path);
    if (c->kind == LD_AN_REMOVED && c->files > 1) printf("  (%llu files)", (unsigned long long) c->files);
    putchar('\n');
  }
  print_more(o, l->n_changes);
}

static void print_details(const ld_analysis *a, const options *o) {
  char s[32], f[40];
  printf("\nImage details (dive-compatible)\n");
  printf("  Total size:           %s (%llu bytes)\n", ld_human_size(a->size, s, sizeof s),
         (unsigned long long) a->size);
  printf("  User size:            %s (%llu bytes)\n", ld_human_size(a->user_size, s, sizeof s),
         (unsigned long long) a->user_size);
  printf("  Efficiency:           %.4f %% (%s)\n", 100 * a->efficiency,
         ld_an_format_float(a->efficiency, f, sizeof f));
  printf("  Wasted bytes:         %s (%llu bytes)\n", ld_human_size(a->wasted_bytes, s, sizeof s),
         (unsigned long long) a->wasted_bytes);
  if (a->user_size)
    printf("  User wasted percent:  %.4f %% (%s)\n", 100 * a->user_wasted_percent,
           ld_an_format_float(a->user_wasted_percent, f, sizeof f));
  else
    printf("  User wasted percent:  n/a (no layer above the base; dive: %s)\n",
           ld_an_format_float(a->user_wasted_percent, f, sizeof f));
  printf("\nInefficient files (%zu)\n  %5s  %12s  %s\n", a->n_inefficient, "Count", "Wasted Space",
         "File Path");
  if (!a->n_inefficient) printf("  None\n");
  for (size_t i = 0; i < rows(o, a->n_inefficient); i++)
    printf("  %5llu  %12s  %s\n", (unsigned long long) a->inefficient[i].count,
           ld_human_size(a->inefficient[i].wasted_bytes, s, sizeof s), a->inefficient[i].path);
  print_more(o, a->n_inefficient);
}

static void print_beyond(const ld_analysis *a, const options *o) {
  char s[32], t[32];
  printf("\nBeyond dive\n");
  printf("  Visible at the end:   %s in %llu files\n", ld_human_size(a->visible_bytes, s, sizeof s),
         (unsigned long long) a->visible_files);
  printf("  Reclaimable:          %s (%llu bytes) in %llu hidden copies (overwritten, deleted or "
         "under an opaque directory)\n",
         ld_human_size(a->reclaimable_bytes, s, sizeof s), (unsigned long long) a->reclaimable_bytes,
         (unsigned long long) a->reclaimable_files);
  printf("  Duplicate content:    %s (%llu bytes) in %zu group%s of identical files\n",
         ld_human_size(a->duplicate_bytes, s, sizeof s), (unsigned long long) a->duplicate_bytes,
         a->n_duplicates, a->n_duplicates == 1 ? "" : "s");
  if (a->n_hidden) printf("\nHidden copies\n  %6s  %10s  %s\n", "Copies", "Bytes", "Path");
  for (size_t i = 0; i < rows(o, a->n_hidden); i++)
    printf("  %6llu  %10s  %s\n", (unsigned long long) a->hidden[i].copies,
           ld_human_size(a->hidden[i].bytes, s, sizeof s), a->hidden[i].path);
  print_more(o, a->n_hidden);
  if (a->n_duplicates) printf("\nDuplicate content\n  %5s  %10s  %10s  %s\n", "Count", "Size", "Wasted", "Paths");
  for (size_t i = 0; i < rows(o, a->n_duplicates); i++) {
    const ld_an_duplicate *d = &a->duplicates[i];
    printf("  %5zu  %10s  %10s  %s", d->n_paths, ld_human_size(d->size, s, sizeof s),
           ld_human_size(d->wasted_bytes, t, sizeof t), d->paths[0]);
    for (size_t k = 1; k < d->n_paths && k < 4; k++) printf(", %s", d->paths[k]);
    if (d->n_paths > 4) printf(", ... (%zu more)", d->n_paths - 4);
    putchar('\n');
  }
  print_more(o, a->n_duplicates);
}

/* dive prints rule results sorted by name. */
static const int ci_order[LD_CI_N_RULES] = {LD_CI_HIGHEST_USER_WASTED_PERCENT,
                                            LD_CI_HIGHEST_WASTED_BYTES, LD_CI_LOWEST_EFFICIENCY};

static void print_ci(const ld_ci_config *c, const ld_ci_result *r, bool passed) {
  int pass = 0, fail = 0, skip = 0;
  printf("\nCI rules (%s)\n", c->source ? c->source : "dive's defaults");
  for (int k = 0; k < LD_CI_N_RULES; k++) {
    const ld_ci_result *x = &r[ci_order[k]];
    pass += x->status == LD_CI_PASS, fail += x->status == LD_CI_FAIL, skip += x->status == LD_CI_SKIP;
    if (x->message[0]) printf("  %s: %s: %s\n", ld_ci_status_name(x->status), x->rule, x->message);
    else printf("  %s: %s\n", ld_ci_status_name(x->status), x->rule);
  }
  printf("Result:%s [Total:%d] [Passed:%d] [Failed:%d] [Warn:0] [Skipped:%d]\n",
         passed ? "PASS" : "FAIL", LD_CI_N_RULES, pass, fail, skip);
}

static void print_report(const char *name, const ld_image *img, const ld_analysis *a,
                         const options *o) {
  const ld_image_config *cfg = &img->config;
  printf("Image:     %s\nDigest:    %s\nPlatform:  %s/%s%s%s\n\n", name, img->manifest.digest,
         cfg->os ? cfg->os : "?", cfg->architecture ? cfg->architecture : "?",
         cfg->variant ? "/" : "", cfg->variant ? cfg->variant : "");
  print_layers(a);
  for (size_t i = 0; i < a->n_layers; i++)
    if (a->layers[i].has_changes) print_changes(&a->layers[i], o);
  print_details(a, o);
  print_beyond(a, o);
}

/* ---- JSON ---- */

static json_t *ci_json(const ld_ci_config *c, const ld_ci_result *r, bool passed) {
  json_t *rules = json_array();
  for (int k = 0; k < LD_CI_N_RULES; k++) {
    const ld_ci_result *x = &r[ci_order[k]];
    json_array_append_new(rules, json_pack("{s:s,s:s,s:s,s:s}", "name", x->rule, "status",
                                           ld_ci_status_name(x->status), "value",
                                           c->value[ci_order[k]], "message", x->message));
  }
  return json_pack("{s:b,s:o,s:o}", "pass", passed, "config",
                   c->source ? json_string(c->source) : json_null(), "rules", rules);
}

static json_t *report_json(const char *name, const ld_image *img, const ld_analysis *a) {
  json_t *j = json_object();
  json_object_set_new(j, "image", json_string(name));
  json_object_set_new(j, "digest", json_string(img->manifest.digest));
  if (img->index) json_object_set_new(j, "index_digest", json_string(img->index->digest));
  char *platform = ld_xasprintf("%s/%s%s%s", img->config.os ? img->config.os : "",
                                img->config.architecture ? img->config.architecture : "",
                                img->config.variant ? "/" : "",
                                img->config.variant ? img->config.variant : "");
  json_object_set_new(j, "platform", json_string(platform));
  free(platform);
  json_object_update_new(j, ld_analysis_to_json(a));
  return j;
}

/* ---- main ---- */

/* A single-manifest image has no index to select from: --platform must then name its own. */
static int check_platform(const char *name, const ld_platform *want, const ld_image_config *cfg,
                          ld_error **err) {
  bool os_ok = !want->os || (cfg->os && !strcmp(want->os, cfg->os));
  bool arch_ok = !want->architecture || (cfg->architecture && !strcmp(want->architecture, cfg->architecture));
  bool var_ok = !want->variant || !cfg->variant || !strcmp(want->variant, cfg->variant);
  if (os_ok && arch_ok && var_ok) return 0;
  ld_autofree char *w = ld_platform_format(want);
  return ld_err(err, LD_ENOTFOUND, "%s: the image is %s/%s%s%s, not the requested %s", name,
                cfg->os ? cfg->os : "?", cfg->architecture ? cfg->architecture : "?",
                cfg->variant ? "/" : "", cfg->variant ? cfg->variant : "", w);
}

static int analyze(const char *spec, const options *o, ld_ci_config *ci, ld_error **err) {
  ld_store *store = NULL;
  ld_image_src *src = NULL;
  ld_platform platform = {0};
  ld_image img = {0};
  ld_analysis *a = NULL;
  int rc = -1;
  if (o->platform && ld_platform_parse(o->platform, &platform, err) < 0) goto done;
  if (cli_open_source(spec, &store, &src, err) < 0) goto done;
  if (ld_image_load(src, o->platform ? &platform : NULL, &img, err) < 0) goto done;
  if (o->platform && check_platform(src->name, &platform, &img.config, err) < 0) goto done;
  if (o->layer >= 0 && (size_t) o->layer >= img.manifest.n_layers) {
    ld_err(err, LD_EUSAGE, "%s: --layer %d: the image has %zu layers (0-%zu)", src->name, o->layer,
           img.manifest.n_layers, img.manifest.n_layers ? img.manifest.n_layers - 1 : 0);
    goto done;
  }
  ld_analyze_opts ao = {.changes_layer = o->layer, .all_changes = o->layer == -2, .jobs = o->jobs};
  if (ld_analyze_image(src, &img, &ao, &a, err) < 0) goto done;
  if (store) ld_store_touch(store, img.index ? img.index->digest : img.manifest.digest);
  ld_ci_result res[LD_CI_N_RULES];
  bool passed = true;
  if (o->ci) ld_ci_evaluate(ci, a, res, &passed);
  if (o->format == CLI_FORMAT_JSON) {
    json_t *j = report_json(src->name, &img, a);
    if (o->ci) json_object_set_new(j, "ci", ci_json(ci, res, passed));
    ld_json_print(stdout, j);
    json_decref(j);
  } else {
    print_report(src->name, &img, a, o);
    if (o->ci) print_ci(ci, res, passed);
  }
  if (o->ci) ld_ci_results_clear(res);
  rc = passed ? 0 : 3;
done:
  ld_analysis_free(a);
  ld_image_clear(&img);
  ld_platform_clear(&platform);
  if (src) ld_image_src_close(src);
  if (store) ld_store_close(store);
  return rc;
}

int cmd_analyze(int argc, char **argv) {
  options o;
  int r = parse_options(argc, argv, &o);
  if (r) return r < 0 ? 0 : r;
  ld_error *err = NULL;
  ld_ci_config ci = {0};
  if (o.ci && load_ci(&o, &ci, &err) < 0) {
    ld_ci_config_clear(&ci);
    return cli_fail(err);
  }
  int rc = analyze(argv[optind], &o, &ci, &err);
  ld_ci_config_clear(&ci);
  fflush(stdout);
  return rc < 0 ? cli_fail(err) : rc;
}
