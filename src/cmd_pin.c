/* lading pin FILE...: image references in Kubernetes YAML, compose files and Dockerfiles become
 * name:tag@sha256:… in place; --check lists what is not pinned (exit 3); --dry-run shows a diff.
 *
 * Two phases, so nothing is half-written: every file is scanned and every reference resolved
 * first; only when all of that succeeded are the files rewritten (each atomically, keeping its
 * mode). A reference that cannot be resolved fails the command before any file changes.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "client_opts.h"
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/policy.h"
#include "lading/util.h"

#define PIN_FILE_MAX (16u << 20)

static void usage(FILE *f) {
  fprintf(f, "Usage: lading pin [OPTIONS] FILE...\n\n"
             "Pin image references to digests, in place: Kubernetes manifests (Pod, Deployment,\n"
             "StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, List; containers,\n"
             "initContainers, ephemeralContainers), compose files (services.*.image) and\n"
             "Dockerfile/Containerfile FROM lines. Only the references change: comments,\n"
             "quoting, indentation and line ends stay byte for byte.\n\n"
             "  --check                   list references that are not pinned, use latest or\n"
             "                            have no tag, with FILE:LINE; exit 3 if any\n"
             "  -n, --dry-run             print a unified diff instead of writing\n"
             "      --resolve MODE        auto (store, then registry; default), store, registry\n"
                    "      --format table|json   report format\n"
             "  -q, --quiet               print nothing but errors\n"
             "  -h, --help                this help\n"
             CLIENT_OPTIONS_HELP);
}

typedef struct pin_file {
  const char *path;
  char *buf;
  size_t len;
  ld_pin_scan scan;
  char **repl; /* per site: the pinned text, or NULL */
  char **digest;
} pin_file;

static void pin_file_clear(pin_file *f) {
  for (size_t i = 0; i < f->scan.n_sites; i++) {
    free(f->repl[i]);
    free(f->digest[i]);
  }
  free(f->repl);
  free(f->digest);
  ld_pin_scan_clear(&f->scan);
  free(f->buf);
}

static int load(pin_file *f, ld_error **err) {
  if (ld_read_file(f->path, PIN_FILE_MAX, &f->buf, &f->len, err) < 0) return -1;
  if (ld_pin_scan_buf(f->path, ld_pin_format_of(f->path), f->buf, f->len, &f->scan, err) < 0)
    return -1;
  f->repl = ld_xcalloc(f->scan.n_sites + 1, sizeof *f->repl);
  f->digest = ld_xcalloc(f->scan.n_sites + 1, sizeof *f->digest);
  for (size_t i = 0; i < f->scan.n_warnings; i++)
    fprintf(stderr, "lading: warning: %s\n", f->scan.warnings[i]);
  return 0;
}

/* ---- --check ---- */

static int check(pin_file *files, size_t n, cli_format fmt, bool quiet) {
  json_t *problems = json_array();
  size_t count = 0;
  for (size_t i = 0; i < n; i++) {
    for (size_t s = 0; s < files[i].scan.n_sites; s++) {
      const ld_ref_site *site = &files[i].scan.sites[s];
      unsigned p = ld_pin_problems(site->value);
      if (!p) continue;
      count++;
      char *text = ld_pin_problems_text(p);
      if (fmt == CLI_FORMAT_JSON)
        json_array_append_new(problems, json_pack("{s:s,s:i,s:s,s:s,s:s}", "file", files[i].path,
                                                  "line", (int) site->line, "where", site->where,
                                                  "reference", site->value, "problems", text));
      else if (!quiet)
        printf("%s:%u: %s: %s (%s)\n", files[i].path, site->line, site->value, text, site->where);
      free(text);
    }
  }
  if (fmt == CLI_FORMAT_JSON) {
    json_t *j = json_pack("{s:b,s:o}", "ok", count == 0, "problems", problems);
    ld_json_print(stdout, j);
    json_decref(j);
  } else {
    json_decref(problems);
    if (!quiet && count)
      printf("%zu reference%s not pinned or not tagged properly\n", count, count == 1 ? "" : "s");
  }
  return count ? 3 : 0;
}

/* ---- pinning ---- */

/* Resolves each unpinned reference (once per distinct value). */
static int resolve_all(pin_file *files, size_t n, ld_resolve_mode mode,
                       const ld_transport_opts *to, ld_error **err) {
  for (size_t i = 0; i < n; i++) {
    for (size_t s = 0; s < files[i].scan.n_sites; s++) {
      const char *v = files[i].scan.sites[s].value;
      unsigned p = ld_pin_problems(v);
      if ((p & LD_REF_INVALID) || !(p & LD_REF_UNPINNED)) continue;
      char d[LD_DIGEST_MAX] = "";
      for (size_t a = 0; a <= i && !d[0]; a++) /* seen before? */
        for (size_t b = 0; b < files[a].scan.n_sites && !d[0]; b++)
          if (files[a].digest[b] && !strcmp(files[a].scan.sites[b].value, v))
            snprintf(d, sizeof d, "%s", files[a].digest[b]);
      if (!d[0] && ld_pin_resolve(v, mode, to, d, err) < 0)
        return ld_error_wrap(err, "%s:%u: resolving %s", files[i].path,
                             files[i].scan.sites[s].line, v);
      files[i].digest[s] = ld_xstrdup(d);
      files[i].repl[s] = ld_xasprintf("%s@%s", v, d);
    }
  }
  return 0;
}

static json_t *file_json(const pin_file *f, bool changed) {
  json_t *refs = json_array();
  for (size_t s = 0; s < f->scan.n_sites; s++) {
    const ld_ref_site *site = &f->scan.sites[s];
    json_t *r = json_pack("{s:i,s:s,s:s}", "line", (int) site->line, "where", site->where,
                          "reference", site->value);
    json_object_set_new(r, "pinned", f->repl[s] ? json_string(f->repl[s]) : json_null());
    json_object_set_new(r, "digest", f->digest[s] ? json_string(f->digest[s]) : json_null());
    json_array_append_new(refs, r);
  }
  return json_pack("{s:s,s:b,s:o}", "file", f->path, "changed", changed, "references", refs);
}

static int write_all(pin_file *files, size_t n, bool dry_run, cli_format fmt, bool quiet,
                     ld_error **err) {
  json_t *report = json_array();
  ld_buf diff = {0};
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    pin_file *f = &files[i];
    size_t out_len;
    char *out = ld_pin_apply(f->buf, f->len, f->scan.sites, f->scan.n_sites, f->repl, &out_len);
    bool changed = out_len != f->len || memcmp(out, f->buf, f->len);
    if (changed && dry_run) {
      ld_pin_diff(f->path, f->buf, f->len, out, out_len, &diff);
    } else if (changed) {
      struct stat st;
      mode_t mode = stat(f->path, &st) == 0 ? (st.st_mode & 07777) : 0644;
      rc = ld_atomic_write(f->path, out, out_len, mode, err);
    }
    free(out);
    if (fmt == CLI_FORMAT_JSON) json_array_append_new(report, file_json(f, changed));
    else if (!quiet && !dry_run)
      for (size_t s = 0; s < f->scan.n_sites; s++)
        if (f->repl[s]) printf("%s:%u: %s\n", f->path, f->scan.sites[s].line, f->repl[s]);
  }
  if (rc == 0 && fmt == CLI_FORMAT_JSON) ld_json_print(stdout, report);
  else if (rc == 0 && dry_run && diff.len) fwrite(diff.data, 1, diff.len, stdout);
  json_decref(report);
  ld_buf_free(&diff);
  return rc;
}

int cmd_pin(int argc, char **argv) {
  static const struct option opts[] = {{"check", no_argument, 0, 'c'},
                                       {"dry-run", no_argument, 0, 'n'},
                                       {"resolve", required_argument, 0, 'r'},
                                       {"format", required_argument, 0, 'f'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       CLIENT_LONG_OPTIONS,
                                       {0, 0, 0, 0}};
  bool check_only = false, dry_run = false, quiet = cli_quiet;
  ld_resolve_mode mode = LD_RESOLVE_AUTO;
  cli_format fmt = CLI_FORMAT_TABLE;
  ld_transport_opts reg = {0};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "nqh", opts, NULL)) != -1) {
    switch (c) {
    case 'c': check_only = true; break;
    case 'n': dry_run = true; break;
    case 'r':
      if (!strcmp(optarg, "auto")) mode = LD_RESOLVE_AUTO;
      else if (!strcmp(optarg, "store")) mode = LD_RESOLVE_STORE;
      else if (!strcmp(optarg, "registry")) mode = LD_RESOLVE_REGISTRY;
      else return cli_usage_error("pin", "--resolve is auto, store or registry, not '%s'", optarg);
      break;
    case 'f':
      if (cli_parse_format("pin", optarg, &fmt)) return 2;
      break;
    case 'q': quiet = true; break;
    case 'h': usage(stdout); return 0;
    default:
      switch (client_opt("pin", c, optarg, &reg, NULL)) {
      case 1: break;
      case 2: return 2;
      default: return cli_usage_error("pin", "unknown option");
      }
    }
  }
  if (optind >= argc) return cli_usage_error("pin", "expected at least one FILE");
  size_t n = (size_t) (argc - optind);
  pin_file *files = ld_xcalloc(n, sizeof *files);
  ld_error *err = NULL;
  ld_store *store = NULL;
  int rc = 0;
  for (size_t i = 0; i < n; i++) files[i].path = argv[optind + (int) i];
  for (size_t i = 0; i < n && !err; i++) load(&files[i], &err);
  if (err) goto out;
  if (check_only) {
    rc = check(files, n, fmt, quiet);
    goto out;
  }
  if (mode != LD_RESOLVE_REGISTRY) {
    ld_error *e = NULL;
    if (cli_open_store(&store, &e) < 0) {
      if (mode == LD_RESOLVE_STORE) err = e;
      else ld_error_free(e);
      if (err) goto out;
    }
  }
  ld_transport_opts to;
  cli_transport_opts(&to, store);
  client_opts_merge(&to, &reg);
  if (resolve_all(files, n, mode, &to, &err) < 0) goto out;
  write_all(files, n, dry_run, fmt, quiet, &err);
out:
  for (size_t i = 0; i < n; i++) pin_file_clear(&files[i]);
  free(files);
  ld_store_close(store);
  return err ? cli_fail(err) : rc;
}
