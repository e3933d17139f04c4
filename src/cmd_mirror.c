/* lading mirror --from FILE --to REGISTRY[/PREFIX]: copy a list of images into a registry, by
 * digest, with a lock file.
 *
 * FILE lists references, one per line ("alpine:3.19", "docker://quay.io/x/y@sha256:…"); '#'
 * starts a comment. Each tag is resolved to a digest once (HEAD manifests/<tag>), the image is
 * copied from source@digest, and the destination is REGISTRY/PREFIX/<path>, tagged like the
 * source when the source named a tag. The lock file (default FILE.lock) records
 *
 *     source-ref -> mirrored-ref@digest
 *
 * one per line. On a later run a tag whose upstream digest differs from the lock is reported as
 * moved and the locked digest is mirrored instead; --update follows the tag and rewrites the
 * lock. Exit status: 0 everything arrived and nothing moved; 1 some image failed; 3 everything
 * arrived but some tags moved upstream (a policy finding, like other gates).
 *
 * Images share blobs (a common base): the run remembers which destination repository received
 * each blob and mounts it into the next repository instead of uploading it again.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "client_opts.h"
#include "client_progress.h"
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/reference.h"
#include "lading/registry_client.h"
#include "lading/util.h"

static void mirror_usage(FILE *f) {
  fprintf(f, "Usage: lading mirror [OPTIONS] --from FILE --to REGISTRY[/PREFIX]\n\n"
             "Copy every image FILE lists into REGISTRY, by digest, recording source-ref ->\n"
             "mirrored-ref@digest in a lock file. A tag that moved upstream since the lock was\n"
             "written is reported (exit 3) and the locked digest is kept, unless --update.\n\n"
             "Options:\n"
             "      --from FILE           references, one per line ('#' comments)\n"
             "      --to REGISTRY[/PREFIX]  destination registry and repository prefix\n"
             "      --lock FILE           lock file (default: FROM.lock)\n"
             "      --update              follow moved tags and rewrite the lock\n" CLIENT_COPY_HELP
             "  -h, --help                show this help\n" CLIENT_OPTIONS_HELP);
}

/* ---- where blobs already are (mount sources across repositories) ---- */

typedef struct blob_locations {
  pthread_mutex_t mu;
  char **digest, **origin;
  size_t n;
} blob_locations;

static const char *loc_find(void *arg, const char *digest) {
  blob_locations *l = arg;
  const char *o = NULL;
  pthread_mutex_lock(&l->mu);
  for (size_t i = 0; i < l->n && !o; i++)
    if (!strcmp(l->digest[i], digest)) o = l->origin[i];
  pthread_mutex_unlock(&l->mu);
  return o; /* entries live until the end of the run */
}

static void loc_add(void *arg, const char *digest, const char *origin) {
  blob_locations *l = arg;
  pthread_mutex_lock(&l->mu);
  bool seen = false;
  for (size_t i = 0; i < l->n && !seen; i++) seen = !strcmp(l->digest[i], digest);
  if (!seen) {
    l->digest = ld_xrealloc(l->digest, (l->n + 1) * sizeof *l->digest);
    l->origin = ld_xrealloc(l->origin, (l->n + 1) * sizeof *l->origin);
    l->digest[l->n] = ld_xstrdup(digest);
    l->origin[l->n] = ld_xstrdup(origin);
    l->n++;
  }
  pthread_mutex_unlock(&l->mu);
}

static void loc_free(blob_locations *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->digest[i]);
    free(l->origin[i]);
  }
  free(l->digest);
  free(l->origin);
  pthread_mutex_destroy(&l->mu);
}

/* ---- the list and the lock ---- */

typedef struct lock_entry {
  char *source, *mirrored, *digest;
} lock_entry;

typedef struct mirror_item {
  char *source;       /* normalised source reference, as in the lock */
  ld_reference ref;
  char *digest;       /* what we mirror */
  char *upstream;     /* what the tag resolves to now (NULL for digest refs) */
  char *mirrored;     /* destination reference without digest */
  const char *status; /* copied, unchanged, moved, updated, failed */
  char *error;
  ld_copy_result res;
  double secs;
} mirror_item;

static int read_list(const char *file, mirror_item **items, size_t *n, ld_error **err) {
  char *text;
  size_t len;
  if (ld_read_file(file, 16u << 20, &text, &len, err) < 0) return -1;
  *items = NULL;
  *n = 0;
  int lineno = 0, rc = 0;
  for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && rc == 0;
       line = strtok_r(NULL, "\n", &save)) {
    lineno++;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    while (*line == ' ' || *line == '\t') line++;
    size_t l = strlen(line);
    while (l && (line[l - 1] == ' ' || line[l - 1] == '\t' || line[l - 1] == '\r')) line[--l] = 0;
    if (!l) continue;
    if (ld_str_has_prefix(line, "docker://")) line += 9;
    ld_reference ref;
    if (ld_reference_parse(line, &ref, err) < 0) {
      rc = ld_error_wrap(err, "%s: line %d", file, lineno);
      break;
    }
    *items = ld_xrealloc(*items, (*n + 1) * sizeof **items);
    mirror_item *it = &(*items)[(*n)++];
    memset(it, 0, sizeof *it);
    it->ref = ref;
    if (!ref.tag && !ref.digest) it->ref.tag = ld_xstrdup("latest");
    it->source = ld_reference_format(&it->ref);
  }
  free(text);
  return rc;
}

static int read_lock(const char *file, lock_entry **out, size_t *n, ld_error **err) {
  *out = NULL;
  *n = 0;
  if (!ld_path_exists(file)) return 0;
  char *text;
  size_t len;
  if (ld_read_file(file, 16u << 20, &text, &len, err) < 0) return -1;
  int lineno = 0, rc = 0;
  for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    lineno++;
    if (line[0] == '#' || !line[0]) continue;
    char *arrow = strstr(line, " -> ");
    char *at = arrow ? strrchr(arrow + 4, '@') : NULL;
    if (!arrow || !at || ld_digest_validate(at + 1, NULL) < 0) {
      rc = ld_err(err, LD_EFORMAT, "%s: line %d: expected 'SOURCE -> MIRRORED@DIGEST'", file,
                  lineno);
      break;
    }
    *arrow = 0;
    *at = 0;
    *out = ld_xrealloc(*out, (*n + 1) * sizeof **out);
    (*out)[*n] = (lock_entry){ld_xstrdup(line), ld_xstrdup(arrow + 4), ld_xstrdup(at + 1)};
    (*n)++;
  }
  free(text);
  return rc;
}

static void lock_free(lock_entry *l, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(l[i].source);
    free(l[i].mirrored);
    free(l[i].digest);
  }
  free(l);
}

static const lock_entry *lock_find(const lock_entry *l, size_t n, const char *source) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(l[i].source, source)) return &l[i];
  return NULL;
}

/* Entries of this run, plus those of the old lock that failed this time (still true). */
static int write_lock(const char *file, mirror_item *items, size_t n, const lock_entry *old,
                      size_t n_old, ld_error **err) {
  ld_buf b = {0};
  ld_buf_puts(&b, "# lading mirror lock: source-ref -> mirrored-ref@digest\n");
  for (size_t i = 0; i < n; i++) {
    mirror_item *it = &items[i];
    if (it->digest && strcmp(it->status, "failed")) {
      ld_buf_printf(&b, "%s -> %s@%s\n", it->source, it->mirrored, it->digest);
    } else {
      const lock_entry *e = lock_find(old, n_old, it->source);
      if (e) ld_buf_printf(&b, "%s -> %s@%s\n", e->source, e->mirrored, e->digest);
    }
  }
  int rc = ld_atomic_write(file, b.data, b.len, 0644, err);
  ld_buf_free(&b);
  return rc;
}

/* ---- resolving tags ---- */

typedef struct reg_cache {
  ld_registry **regs;
  size_t n;
  ld_registry_opts o;
} reg_cache;

static int reg_get(reg_cache *c, const char *domain, ld_registry **out, ld_error **err) {
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(ld_registry_domain(c->regs[i]), domain)) {
      *out = c->regs[i];
      return 0;
    }
  if (ld_registry_open(domain, &c->o, out, err) < 0) return -1;
  c->regs = ld_xrealloc(c->regs, (c->n + 1) * sizeof *c->regs);
  c->regs[c->n++] = *out;
  return 0;
}

static int resolve(reg_cache *rc, mirror_item *it, ld_error **err) {
  if (it->ref.digest && !it->ref.tag) {
    it->upstream = ld_xstrdup(it->ref.digest);
    return 0;
  }
  ld_registry *reg;
  if (reg_get(rc, it->ref.domain, &reg, err) < 0) return -1;
  bool found;
  char digest[LD_DIGEST_MAX];
  if (ld_registry_head_manifest(reg, it->ref.path, it->ref.tag, &found, digest, NULL, err) < 0)
    return -1;
  if (!found) return ld_err(err, LD_ENOTFOUND, "%s: no such tag upstream", it->source);
  if (it->ref.digest && strcmp(it->ref.digest, digest))
    return ld_err(err, LD_EDIGEST, "%s: the tag now names %s", it->source, digest);
  it->upstream = ld_xstrdup(digest);
  return 0;
}

/* ---- the run ---- */

typedef struct mirror_run {
  const char *to;
  bool update, quiet;
  cli_format fmt;
  ld_transport_opts src_o, dst_o;
  ld_copy_opts co;
  blob_locations locs;
} mirror_run;

static void mirror_one(mirror_run *m, reg_cache *regs, mirror_item *it, const lock_entry *locked) {
  ld_error *err = NULL;
  it->mirrored = it->ref.tag ? ld_xasprintf("%s/%s:%s", m->to, it->ref.path, it->ref.tag)
                             : ld_xasprintf("%s/%s", m->to, it->ref.path);
  if (resolve(regs, it, &err) < 0) {
    /* Upstream unreachable: a locked digest may still be mirrored from nowhere; report. */
    it->status = "failed";
    it->error = ld_xstrdup(err->msg);
    ld_error_free(err);
    return;
  }
  it->status = "copied";
  it->digest = ld_xstrdup(it->upstream);
  if (locked && strcmp(locked->digest, it->upstream)) {
    if (m->update) {
      it->status = "updated";
    } else {
      it->status = "moved";
      free(it->digest);
      it->digest = ld_xstrdup(locked->digest);
    }
  }
  char *src = ld_xasprintf("docker://%s/%s@%s", it->ref.domain, it->ref.path, it->digest);
  char *dst = it->ref.tag ? ld_xasprintf("docker://%s", it->mirrored)
                          : ld_xasprintf("docker://%s@%s", it->mirrored, it->digest);
  int rc = client_run_copy(src, &m->src_o, dst, &m->dst_o, &m->co, m->quiet || m->fmt == CLI_FORMAT_JSON,
                           &it->res, &it->secs, &err);
  if (rc == 0 && strcmp(it->res.digest, it->digest)) {
    /* --platform narrowed an index: the lock records what the mirror serves. */
    free(it->digest);
    it->digest = ld_xstrdup(it->res.digest);
  }
  if (rc < 0) {
    it->status = "failed";
    it->error = ld_xstrdup(err->msg);
    ld_error_free(err);
  } else if (!strcmp(it->status, "copied") && locked && it->res.blobs_copied == 0) {
    it->status = "unchanged";
  }
  free(src);
  free(dst);
}

static void report_item(const mirror_run *m, const mirror_item *it) {
  if (!strcmp(it->status, "failed")) {
    fprintf(stderr, "lading: mirror %s: %s\n", it->source, it->error);
    return;
  }
  if (!strcmp(it->status, "moved"))
    fprintf(stderr, "lading: mirror %s: tag moved upstream to %s; keeping locked %s (use --update)\n",
            it->source, it->upstream, it->digest);
  if (m->quiet || m->fmt == CLI_FORMAT_JSON) return;
  char hs[32];
  printf("%-9s %s -> %s@%s (%llu copied, %s; %llu skipped; %llu mounted; %.1f s)\n", it->status,
         it->source, it->mirrored, it->digest, (unsigned long long) it->res.blobs_copied,
         ld_human_size(it->res.bytes_copied, hs, sizeof hs),
         (unsigned long long) it->res.blobs_skipped, (unsigned long long) it->res.blobs_mounted,
         it->secs);
}

static json_t *items_json(const mirror_item *items, size_t n) {
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    const mirror_item *it = &items[i];
    json_t *o = json_pack("{s:s,s:s?,s:s?,s:s?,s:s}", "source", it->source, "mirrored",
                          it->mirrored, "digest", it->digest, "upstream_digest", it->upstream,
                          "status", it->status);
    json_object_set_new(o, "blobs_copied", json_integer((json_int_t) it->res.blobs_copied));
    json_object_set_new(o, "blobs_skipped", json_integer((json_int_t) it->res.blobs_skipped));
    json_object_set_new(o, "blobs_mounted", json_integer((json_int_t) it->res.blobs_mounted));
    json_object_set_new(o, "bytes_copied", json_integer((json_int_t) it->res.bytes_copied));
    json_object_set_new(o, "seconds", json_real(it->secs));
    if (it->error) json_object_set_new(o, "error", json_string(it->error));
    json_array_append_new(arr, o);
  }
  return arr;
}

static int parse_args(int argc, char **argv, mirror_run *m, client_copy_args *a,
                      const char **from, const char **to, const char **lock) {
  static const struct option longopts[] = {
      {"from", required_argument, NULL, 'f'}, {"to", required_argument, NULL, 't'},
      {"lock", required_argument, NULL, 'l'}, {"update", no_argument, NULL, 'u'},
      {"help", no_argument, NULL, 'h'},       CLIENT_COPY_LONG_OPTIONS,
      {0},
  };
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, CLIENT_COPY_SHORT "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'f': *from = optarg; break;
    case 't': *to = optarg; break;
    case 'l': *lock = optarg; break;
    case 'u': m->update = true; break;
    case 'h': mirror_usage(stdout); return -1;
    default: {
      int h = client_copy_opt("mirror", c, optarg, a, CLIENT_SRC | CLIENT_DST);
      if (h == 2) return 2;
      if (h == 0) return cli_usage_error("mirror", "unknown option");
    }
    }
  }
  if (optind != argc) return cli_usage_error("mirror", "unexpected argument '%s'", argv[optind]);
  if (!*from || !*to) return cli_usage_error("mirror", "--from FILE and --to REGISTRY are required");
  if (ld_str_has_prefix(*to, "docker://")) *to += 9;
  m->quiet = a->quiet;
  m->fmt = a->fmt;
  m->src_o = a->src;
  m->dst_o = a->dst;
  return 0;
}

int cmd_mirror(int argc, char **argv) {
  mirror_run m = {0};
  client_copy_args a;
  client_copy_args_init(&a);
  const char *from = NULL, *to = NULL, *lock_path = NULL;
  int pa = parse_args(argc, argv, &m, &a, &from, &to, &lock_path);
  if (pa) return pa < 0 ? 0 : pa;
  size_t tl = strlen(to);
  while (tl && to[tl - 1] == '/') tl--;
  char *to_clean = ld_xstrndup(to, tl);
  m.to = to_clean;
  char *lock_file = lock_path ? ld_xstrdup(lock_path) : ld_xasprintf("%s.lock", from);
  ld_error *err = NULL;
  mirror_item *items = NULL;
  size_t n = 0, n_old = 0;
  lock_entry *old = NULL;
  int exit_code = 1;
  pthread_mutex_init(&m.locs.mu, NULL);
  reg_cache regs = {0};
  if (client_copy_opts(&a, &m.co, &err) < 0) goto out;
  if (read_list(from, &items, &n, &err) < 0 || read_lock(lock_file, &old, &n_old, &err) < 0)
    goto out;
  regs.o = (ld_registry_opts){.tls_verify_set = m.src_o.tls_verify_set,
                              .tls_verify = m.src_o.tls_verify, .cert_dir = m.src_o.cert_dir,
                              .creds = m.src_o.creds, .authfile = m.src_o.authfile,
                              .retries = m.src_o.retries};
  m.co.known_location = loc_find;
  m.co.record_location = loc_add;
  m.co.location_arg = &m.locs;
  size_t failed = 0, moved = 0;
  for (size_t i = 0; i < n; i++) {
    mirror_one(&m, &regs, &items[i], lock_find(old, n_old, items[i].source));
    report_item(&m, &items[i]);
    failed += !strcmp(items[i].status, "failed");
    moved += !strcmp(items[i].status, "moved");
  }
  if (write_lock(lock_file, items, n, old, n_old, &err) < 0) goto out;
  if (m.fmt == CLI_FORMAT_JSON) {
    json_t *j = json_pack("{s:s,s:s,s:o,s:I,s:I}", "to", m.to, "lock", lock_file, "images",
                          items_json(items, n), "failed", (json_int_t) failed, "moved",
                          (json_int_t) moved);
    ld_json_print(stdout, j);
    json_decref(j);
  }
  exit_code = failed ? 1 : moved ? 3 : 0;
out:
  for (size_t i = 0; i < n; i++) {
    ld_reference_clear(&items[i].ref);
    free(items[i].source);
    free(items[i].digest);
    free(items[i].upstream);
    free(items[i].mirrored);
    free(items[i].error);
  }
  free(items);
  lock_free(old, n_old);
  for (size_t i = 0; i < regs.n; i++) ld_registry_free(regs.regs[i]);
  free(regs.regs);
  loc_free(&m.locs);
  client_copy_args_clear(&a);
  free(lock_file);
  free(to_clean);
  return err ? cli_fail(err) : exit_code;
}
