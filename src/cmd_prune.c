/* lading prune: delete unused images by LRU with disk watermarks (kubelet semantics), or, for a
 * containers-storage root, print the crictl / podman commands that would (advisory only: lading
 * never writes another runtime's storage). Also manages pins (--pin/--unpin/--pins): a pinned
 * image is never pruned. Planning is ld_prune_plan_make; deleting is ld_prune_apply. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "lading/disk.h"
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/util.h"

static void usage(FILE *f) {
  fprintf(f,
          "Usage: lading prune [OPTIONS]\n"
          "       lading prune --pin NAME | --unpin NAME | --pins\n\n"
          "Delete unused images, least recently used first (ties: first seen), when the file\n"
          "system holding the store is at or above the high watermark, until it is at or below\n"
          "the low one. Shared layers are freed only when their last image goes. Never deletes\n"
          "an image that is pinned, kept, being written, or younger than --min-age.\n\n"
          "Options:\n"
          "  --high PCT             start when usage >= PCT %% (default 85)\n"
          "  --low PCT              free down to PCT %% (default 80)\n"
          "  --min-age DURATION     never delete an image first seen less than this ago\n"
          "                         (default 2m; 90s, 1h30m, 7d)\n"
          "  --max-age DURATION     also delete images unused for longer than this\n"
          "  --keep PATTERN         never delete images with a name matching this glob\n"
          "                         (repeatable; matched against full and short names)\n"
          "  --all-unused           delete every image not protected, whatever the usage\n"
          "  --dry-run              list what would go and the bytes it frees; delete nothing\n"
          "  --grace DURATION       keep blobs written less than this ago (default 10m), for\n"
          "                         ingests running concurrently\n"
          "  --containers-storage DIR  plan for a containers-storage root (CRI-O, Podman) and\n"
          "                         print the crictl rmi / podman rmi commands, in LRU order\n"
          "  --estimate             containers-storage: sizes from layers.json\n"
          "  --pin NAME             pin an image (name or digest): prune never deletes it\n"
          "  --unpin NAME           remove a pin\n"
          "  --pins                 list pins\n"
          "  --human / --bytes      force human-readable sizes / exact bytes (default: human on\n"
          "                         a terminal)\n"
          "  --format table|json    output format (default table)\n"
          "  -h, --help             this help\n");
}

#define MAX_KEEP 64

typedef struct prune_cli {
  ld_prune_opts p;
  const char *keep[MAX_KEEP];
  const char *cstorage, *pin, *unpin;
  bool list_pins, dry_run, human;
  int64_t grace;
  cli_format format;
  ld_disk_read_opts read;
} prune_cli;

static int parse_pct(const char *opt, const char *s, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end || v < 0 || v > 100)
    return cli_usage_error("prune", "%s '%s': not a percentage (0-100)", opt, s);
  *out = v;
  return 0;
}

static int parse_dur(const char *opt, const char *s, int64_t *out) {
  if (ld_parse_duration(s, out) < 0)
    return cli_usage_error("prune", "%s '%s': not a duration (90s, 2m, 1h30m, 7d)", opt, s);
  return 0;
}

static int parse(int argc, char **argv, prune_cli *o) {
  static const struct option longopts[] = {
      {"high", required_argument, 0, 'H'},    {"low", required_argument, 0, 'l'},
      {"min-age", required_argument, 0, 'm'}, {"max-age", required_argument, 0, 'M'},
      {"keep", required_argument, 0, 'k'},    {"all-unused", no_argument, 0, 'a'},
      {"dry-run", no_argument, 0, 'n'},       {"grace", required_argument, 0, 'g'},
      {"containers-storage", required_argument, 0, 'C'},
      {"estimate", no_argument, 0, 'E'},      {"pin", required_argument, 0, 'p'},
      {"unpin", required_argument, 0, 'u'},   {"pins", no_argument, 0, 'P'},
      {"format", required_argument, 0, 'f'},  {"help", no_argument, 0, 'h'},
      {"human", no_argument, 0, 'U'},         {"bytes", no_argument, 0, 'B'},
      {0, 0, 0, 0}};
  int c, rc = 0;
  while ((c = getopt_long(argc, argv, ":hn", longopts, NULL)) != -1) {
    switch (c) {
    case 'H': rc = parse_pct("--high", optarg, &o->p.high); break;
    case 'l': rc = parse_pct("--low", optarg, &o->p.low); break;
    case 'm': rc = parse_dur("--min-age", optarg, &o->p.min_age); break;
    case 'M': rc = parse_dur("--max-age", optarg, &o->p.max_age); break;
    case 'g': rc = parse_dur("--grace", optarg, &o->grace); break;
    case 'k':
      if (o->p.n_keep == MAX_KEEP) return cli_usage_error("prune", "too many --keep (max %d)", MAX_KEEP);
      o->keep[o->p.n_keep++] = optarg;
      break;
    case 'a': o->p.all_unused = true; break;
    case 'n': o->dry_run = true; break;
    case 'C': o->cstorage = optarg; break;
    case 'E': o->read.estimate = true; break;
    case 'p': o->pin = optarg; break;
    case 'u': o->unpin = optarg; break;
    case 'P': o->list_pins = true; break;
    case 'U': o->human = true; break;
    case 'B': o->human = false; break;
    case 'f': rc = cli_parse_format("prune", optarg, &o->format); break;
    case 'h': usage(stdout); return -1;
    default: return cli_usage_error("prune", "%s option '%s'", c == ':' ? "missing argument to" : "unknown", argv[optind - 1]);
    }
    if (rc) return rc;
  }
  if (optind < argc) return cli_usage_error("prune", "unexpected argument '%s'", argv[optind]);
  if (o->p.low > o->p.high)
    return cli_usage_error("prune", "--low %g is above --high %g", o->p.low, o->p.high);
  if (o->cstorage && (o->pin || o->unpin || o->list_pins))
    return cli_usage_error("prune", "pins apply to the store, not to --containers-storage");
  o->p.keep = o->keep;
  return 0;
}

/* ---- pins ---- */

static int do_pins(prune_cli *o) {
  ld_store *s = NULL;
  ld_error *err = NULL;
  if (cli_open_store(&s, &err) < 0) return cli_fail(err);
  int rc = 0;
  if (o->pin && ld_disk_pin(s, o->pin, &err) < 0) rc = -1;
  if (!rc && o->unpin && ld_disk_unpin(s, o->unpin, &err) < 0) rc = -1;
  if (!rc && o->list_pins) {
    char **names = NULL, **digests = NULL;
    size_t n = 0;
    if (ld_disk_pins(s, &names, &digests, &n, &err) < 0) {
      rc = -1;
    } else {
      json_t *arr = json_array();
      for (size_t i = 0; i < n; i++) {
        if (o->format == CLI_FORMAT_JSON)
          json_array_append_new(arr, json_pack("{s:s,s:s}", "name", names[i], "digest", digests[i]));
        else printf("%-50s %s\n", names[i], digests[i]);
        free(names[i]);
        free(digests[i]);
      }
      if (o->format == CLI_FORMAT_JSON) ld_json_print(stdout, arr);
      json_decref(arr);
      free(names);
      free(digests);
    }
  } else if (!rc && !cli_quiet) {
    if (o->pin) printf("pinned %s\n", o->pin);
    if (o->unpin) printf("unpinned %s\n", o->unpin);
  }
  ld_store_close(s);
  return rc < 0 ? cli_fail(err) : 0;
}

/* ---- output ---- */

static bool default_cstorage_root(const char *root) {
  return !strcmp(root, "/var/lib/containers/storage") ||
         !strcmp(root, "/var/lib/containers/storage/");
}

static char *podman_cmd(const ld_disk_report *r) {
  if (default_cstorage_root(r->root)) return ld_xstrdup("podman rmi");
  return ld_xasprintf("podman --root %s --storage-driver %s rmi", r->root, r->driver);
}

static json_t *victim_json(const ld_disk_report *r, const ld_prune_victim *v, const char *podman) {
  const ld_disk_image *im = &r->images[v->image];
  json_t *names = json_array();
  for (size_t n = 0; n < im->n_names; n++) json_array_append_new(names, json_string(im->names[n]));
  char t1[32], t2[32];
  json_t *o = json_pack("{s:s,s:o,s:o,s:s,s:I,s:o,s:o}", "id", im->id, "digest",
                        im->digest ? json_string(im->digest) : json_null(), "names", names,
                        "reason", ld_prune_reason_name(v->reason), "frees", (json_int_t) v->frees,
                        "last_used", im->last_used > 0 ? json_string(ld_time_rfc3339(im->last_used, t1, sizeof t1)) : json_null(),
                        "first_seen", im->first_seen > 0 ? json_string(ld_time_rfc3339(im->first_seen, t2, sizeof t2)) : json_null());
  if (podman) {
    json_object_set_new(o, "crictl", json_sprintf("crictl rmi %s", im->id));
    json_object_set_new(o, "podman", json_sprintf("%s %s", podman, im->id));
  }
  return o;
}

typedef struct outcome {
  uint64_t used_before, used_after, total, freed;
  bool applied;
} outcome;

static double pct(uint64_t used, uint64_t total) { return total ? 100.0 * (double) used / (double) total : 0; }

static void print_json(const prune_cli *o, const ld_disk_report *r, const ld_prune_plan *p,
                       const outcome *oc) {
  ld_autofree char *podman = r->source == LD_DISK_CSTORAGE ? podman_cmd(r) : NULL;
  json_t *victims = json_array(), *prot = json_array();
  for (size_t i = 0; i < p->n_victims; i++)
    json_array_append_new(victims, victim_json(r, &p->victims[i], podman));
  for (size_t i = 0; i < p->n_protected; i++) {
    const ld_disk_image *im = &r->images[p->protected_images[i]];
    ld_autofree char *label = ld_disk_image_label(im);
    json_array_append_new(prot, json_pack("{s:s,s:s,s:s}", "id", im->id, "name", label, "why",
                                          p->protected_why[i]));
  }
  json_t *j = json_pack(
      "{s:s,s:s,s:b,s:b,s:{s:I,s:I,s:I,s:f,s:f,s:f,s:f},s:b,s:I,s:I,s:o,s:o}", "source",
      r->source == LD_DISK_STORE ? "store" : "containers-storage", "root", r->root, "dry_run",
      o->dry_run, "advisory", r->source == LD_DISK_CSTORAGE, "filesystem", "total",
      (json_int_t) oc->total, "used_before", (json_int_t) oc->used_before, "used_after",
      (json_int_t) oc->used_after, "used_pct_before", pct(oc->used_before, oc->total),
      "used_pct_after", pct(oc->used_after, oc->total), "high_pct", o->p.high, "low_pct",
      o->p.low, "above_high", p->above_high, "need", (json_int_t) p->need, "freed",
      (json_int_t) oc->freed, "victims", victims, "protected", prot);
  json_object_set_new(j, "reaches_low", json_boolean(p->reaches_low));
  ld_json_print(stdout, j);
  json_decref(j);
}

static void print_table(const prune_cli *o, const ld_disk_report *r, const ld_prune_plan *p,
                        const outcome *oc) {
  bool advisory = r->source == LD_DISK_CSTORAGE;
  ld_autofree char *podman = advisory ? podman_cmd(r) : NULL;
  const char *verb = oc->applied ? "deleted" : "would delete";
  for (size_t i = 0; i < p->n_victims && !cli_quiet; i++) {
    const ld_prune_victim *v = &p->victims[i];
    const ld_disk_image *im = &r->images[v->image];
    ld_autofree char *label = ld_disk_image_label(im);
    char s[32], t[32];
    printf("%s %-40s frees %10s  last used %-9s (%s)\n", verb, label,
           ld_disk_size_str(v->frees, o->human, s, sizeof s), ld_disk_ago(im->last_used, r->now, t, sizeof t),
           ld_prune_reason_name(v->reason));
  }
  if (advisory && p->n_victims) {
    printf("\nlading does not write containers-storage; to free this space, in this order:\n");
    for (size_t i = 0; i < p->n_victims; i++) printf("  crictl rmi %s\n", r->images[p->victims[i].image].id);
    printf("or with Podman:\n  %s", podman);
    for (size_t i = 0; i < p->n_victims; i++) printf(" %s", r->images[p->victims[i].image].id);
    printf("\n\n");
  }
  char a[32], b[32], c[32], d[32];
  printf("%s %s in %zu image%s; usage %.1f%% -> %.1f%% (%s -> %s used of %s; high %g%%, low %g%%)%s\n",
         oc->applied ? "Freed" : "Would free", ld_disk_size_str(oc->freed, o->human, a, sizeof a),
         p->n_victims, p->n_victims == 1 ? "" : "s", pct(oc->used_before, oc->total),
         pct(oc->used_after, oc->total), ld_disk_size_str(oc->used_before, o->human, b, sizeof b),
         ld_disk_size_str(oc->used_after, o->human, c, sizeof c),
         ld_disk_size_str(oc->total, o->human, d, sizeof d), o->p.high, o->p.low,
         p->reaches_low ? "" : "; cannot reach the low watermark: the rest is protected or not images");
}

/* ---- run ---- */

static int plan_and_apply(prune_cli *o, ld_store *s, ld_disk_report *r, ld_error **err) {
  ld_prune_plan p;
  if (ld_prune_plan_make(r, &o->p, &p, err) < 0) return -1;
  outcome oc = {.total = r->fs_total, .used_before = r->fs_total - r->fs_avail, .freed = p.freed};
  oc.used_after = oc.used_before > p.freed ? oc.used_before - p.freed : 0;
  int rc = 0;
  if (s && !o->dry_run && p.n_victims) {
    uint64_t freed = 0, total = 0, avail = 0;
    rc = ld_prune_apply(s, r, &p, o->grace, &freed, err);
    oc.applied = rc == 0;
    oc.freed = freed;
    if (ld_fs_usage(ld_store_root(s), &total, &avail, NULL) == 0) oc.used_after = total - avail;
  } else if (s && !o->dry_run) {
    oc.applied = true;
  }
  if (rc == 0) {
    if (o->format == CLI_FORMAT_JSON) print_json(o, r, &p, &oc);
    else print_table(o, r, &p, &oc);
  }
  ld_prune_plan_clear(&p);
  return rc;
}

int cmd_prune(int argc, char **argv) {
  prune_cli o = {.p = {.high = 85, .low = 80, .min_age = 120}, .grace = 600,
                 .human = cli_stdout_is_tty()};
  optind = 1;
  int rc = parse(argc, argv, &o);
  if (rc) return rc < 0 ? 0 : rc;
  if (o.pin || o.unpin || o.list_pins) return do_pins(&o);
  ld_error *err = NULL;
  ld_disk_report *r = NULL;
  ld_store *s = NULL;
  if (o.cstorage) {
    if (ld_disk_cstorage_read(o.cstorage, &o.read, &r, &err) < 0) return cli_fail(err);
  } else if (cli_open_store(&s, &err) < 0 || ld_disk_store_read(s, &o.read, &r, &err) < 0) {
    if (s) ld_store_close(s);
    return cli_fail(err);
  }
  rc = plan_and_apply(&o, s, r, &err);
  ld_disk_report_free(r);
  if (s) ld_store_close(s);
  return rc < 0 ? cli_fail(err) : 0;
}
