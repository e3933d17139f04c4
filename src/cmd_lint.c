/* lading lint: hadolint's size and tag rules over a Dockerfile.
 *
 * Output mirrors hadolint: "FILE:LINE CODE level: message" lines, or with --format json an array
 * of {code, column, file, level, line, message} (hadolint's field names). The exit status is 3
 * when a finding at or above --failure-threshold (default info, like hadolint) is reported,
 * 1 when the file cannot be read or parsed, 0 otherwise. hadolint's inline pragma
 * ("# hadolint ignore=DL3009" above an instruction) is honoured.
 */
#include <getopt.h>
#include <string.h>
#include "cli.h"
#include "lading/build.h"
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/util.h"

static void usage(FILE *f) {
  fputs("Usage: lading lint [OPTIONS] [DOCKERFILE...]\n"
        "Check Dockerfiles for size and tag problems with hadolint's rules\n"
        "(DL3006 DL3007 DL3009 DL3010 DL3015 DL3019 DL3020 DL3032 DL3036 DL3040 DL3042 DL3046\n"
        "DL3059 DL3060 DL3067). Default file: ./Dockerfile.\n\n"
        "  -t, --failure-threshold LEVEL  exit 3 when a finding is at or above LEVEL\n"
        "                                 (error, warning, info, style, none; default info)\n"
        "      --ignore CODE              do not report CODE (repeatable)\n"
        "      --format FMT               table (default) or json\n"
        "  -h, --help                     show this help\n",
        f);
}

/* hadolint's inline pragma: "# hadolint ignore=DL3009,DL3015" in the comment lines right above an
 * instruction silences those codes for it. */
static bool pragma_ignores(const char *text, int line, const char *code) {
  const char *starts[4096];
  int n = 0;
  for (const char *p = text; p && *p && n < (int) LD_ARRAY_SIZE(starts); p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    starts[n++] = p;
  for (int l = line - 1; l >= 1 && l <= n; l--) {
    const char *p = starts[l - 1];
    while (*p == ' ' || *p == '\t') p++;
    if (*p != '#') break;
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t) (eol - p) : strlen(p);
    char *c = ld_xstrndup(p, len), *k = strstr(c, "hadolint ignore=");
    bool hit = false;
    if (k) {
      char *save = NULL;
      for (char *t = strtok_r(k + 16, ", \t", &save); t && !hit; t = strtok_r(NULL, ", \t", &save))
        hit = !strcmp(t, code);
    }
    free(c);
    if (hit) return true;
  }
  return false;
}

static bool ignored(const char *code, char **ignores, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(ignores[i], code)) return true;
  return false;
}

int cmd_lint(int argc, char **argv) {
  static const struct option opts[] = {
      {"failure-threshold", required_argument, NULL, 't'},
      {"ignore", required_argument, NULL, 'i'},
      {"format", required_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  cli_format fmt = CLI_FORMAT_TABLE;
  ld_lint_level threshold = LD_LINT_INFO;
  char *ignores[64];
  size_t n_ignores = 0;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
    switch (c) {
      case 't':
        if (ld_lint_level_parse(optarg, &threshold) < 0)
          return cli_usage_error("lint", "unknown --failure-threshold '%s' (error, warning, info, style, none)", optarg);
        break;
      case 'i':
        if (n_ignores < LD_ARRAY_SIZE(ignores)) ignores[n_ignores++] = optarg;
        break;
      case 'f':
        if (cli_parse_format("lint", optarg, &fmt)) return 2;
        break;
      case 'h': usage(stdout); return 0;
      default: return cli_usage_error("lint", "unknown option");
    }
  }
  const char *deflt[] = {"Dockerfile"};
  char **files = optind < argc ? argv + optind : (char **) deflt;
  int n_files = optind < argc ? argc - optind : 1;
  json_t *all = json_array();
  bool failed = false, broken = false;
  for (int i = 0; i < n_files; i++) {
    ld_dockerfile *df;
    ld_error *err = NULL;
    if (ld_dockerfile_load(files[i], &df, &err) < 0) {
      cli_fail(err);
      broken = true;
      continue;
    }
    ld_lint_finding *f;
    size_t n;
    ld_lint(df, &f, &n, NULL);
    char *text = NULL;
    size_t tlen;
    ld_read_file(files[i], 16u << 20, &text, &tlen, NULL);
    for (size_t k = 0; k < n; k++) {
      if (ignored(f[k].code, ignores, n_ignores)) continue;
      if (text && pragma_ignores(text, f[k].line, f[k].code)) continue;
      if (f[k].level <= threshold && threshold != LD_LINT_NONE) failed = true;
      if (fmt == CLI_FORMAT_JSON) {
        json_array_append_new(all, json_pack("{s:s, s:i, s:s, s:s, s:i, s:s}", "code", f[k].code,
                                             "column", f[k].column, "file", files[i], "level",
                                             ld_lint_level_name(f[k].level), "line", f[k].line,
                                             "message", f[k].message));
      } else {
        printf("%s:%d %s %s: %s\n", files[i], f[k].line, f[k].code, ld_lint_level_name(f[k].level),
               f[k].message);
      }
    }
    free(f);
    free(text);
    ld_dockerfile_free(df);
  }
  if (fmt == CLI_FORMAT_JSON) ld_json_print(stdout, all);
  json_decref(all);
  if (broken) return 1;
  return failed ? 3 : 0;
}
