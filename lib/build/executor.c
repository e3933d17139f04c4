/* The build executor: stages, steps, the layer cache, the image written to the store.
 *
 * A stage's state is a list of layers, the image config's "config" object (Env, User, Cmd...),
 * the history, the stage's ARG values and a cache key. Stages run in file order; only the
 * target stage and the stages it needs (FROM stage, COPY --from=stage) are built.
 *
 * Every step gets a key: sha256(previous key, what the step does after substitution, and for
 * COPY/ADD the content digest of its sources). The base key is the base image's manifest digest
 * (or "scratch", or the key of the stage it builds on). A cache entry (build-cache/steps/<key>)
 * records the step's creation time and, for RUN/COPY/ADD, the layer it made (blob digest,
 * diff_id, size). A hit whose blob is still in the store is reused without touching the file
 * system; a rebuild with nothing changed therefore only hashes the COPY sources. --no-cache
 * ignores entries (and rewrites them).
 *
 * Layers as directories: every layer is also kept unpacked under build-cache/layers/<diff_id>
 * (or $LADING_BUILD_LAYERS/<diff_id>, shared between stores)
 * in overlayfs form (whiteouts as 0:0 devices), so a RUN mounts lower layers as they are, and the
 * upper directory of a finished step simply moves there. A layer only in the store (a base image,
 * or after the unpacked copy was removed) is unpacked the first time a RUN or COPY needs it.
 *
 * RUN --mount: the options are parsed in mounts.c; here they are resolved (a bind's content digest
 * or stage key and a secret's value go into the step key or the environment; on a cache miss only,
 * the filtered context copy, the stage overlay and the cache directory with its flock are made),
 * and the sandbox mounts them. WORKDIR is a layer step too: it creates its directory for USER.
 *
 * Reproducibility: with --timestamp / SOURCE_DATE_EPOCH, history, config and every tar entry get
 * that time; tar entries are sorted and gzip is deterministic (layer_write.h). Without it, a
 * rebuild from cache still gives the same digest: the creation times come from the cache.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"
#include "lading/analyze.h"
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/layer.h"
#include "lading/layer_write.h"
#include "lading/log.h"
#include "lading/manifest.h"
#include "lading/transport.h"
#include "lading/unpack.h"
#include "lading/util.h"

typedef struct {
  char digest[LD_DIGEST_MAX], diff_id[LD_DIGEST_MAX];
  int64_t size;
  char *media_type;
  int line;          /* Dockerfile line that made it; 0 for base layers */
  char *created_by;
} bl_layer;

typedef struct {
  char **k, **v;
  size_t n;
} kvlist;

typedef struct {
  bl_layer *layers;
  size_t n_layers;
  json_t *cfg;     /* the config's "config" object */
  json_t *history;
  char *os, *arch;
  char key[LD_DIGEST_MAX];
  kvlist args;
  char *base_name, *base_digest;
  bool built;
  char *squash_upper;
  bool cmd_set;
} bl_stage;

typedef struct {
  ld_store *store;
  const ld_build_opts *o;
  ld_dockerfile *df;
  ld_ignore *ig;
  char *context, *cache, *layers, *tmp, *empty, *hosts;
  bl_stage *stages;
  kvlist meta_args, build_args;
  size_t step, total;
  ld_build_result *res;
  int target;
} builder;

/* ---- small helpers ---- */

static void kv_set(kvlist *l, const char *k, const char *v) {
  for (size_t i = 0; i < l->n; i++)
    if (!strcmp(l->k[i], k)) {
      free(l->v[i]);
      l->v[i] = v ? ld_xstrdup(v) : NULL;
      return;
    }
  l->k = ld_xrealloc(l->k, (l->n + 1) * sizeof *l->k);
  l->v = ld_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
  l->k[l->n] = ld_xstrdup(k);
  l->v[l->n++] = v ? ld_xstrdup(v) : NULL;
}

static bool kv_has(const kvlist *l, const char *k, const char **v) {
  for (size_t i = 0; i < l->n; i++)
    if (!strcmp(l->k[i], k)) {
      if (v) *v = l->v[i];
      return true;
    }
  return false;
}

static void kv_free(kvlist *l) {
  ld_strv_free(l->k, l->n);
  ld_strv_free(l->v, l->n);
  *l = (kvlist){0};
}

static const char *env_get(json_t *cfg, const char *name) {
  json_t *env = json_object_get(cfg, "Env");
  size_t i, n = strlen(name);
  json_t *v;
  json_array_foreach(env, i, v) {
    const char *s = json_string_value(v);
    if (s && !strncmp(s, name, n) && s[n] == '=') return s + n + 1;
  }
  return NULL;
}

static void env_set(json_t *cfg, const char *name, const char *value) {
  json_t *env = json_object_get(cfg, "Env");
  if (!env) {
    env = json_array();
    json_object_set_new(cfg, "Env", env);
  }
  char *kv = ld_xasprintf("%s=%s", name, value);
  size_t i, n = strlen(name);
  json_t *v;
  json_array_foreach(env, i, v) {
    const char *s = json_string_value(v);
    if (s && !strncmp(s, name, n) && s[n] == '=') {
      json_array_set_new(env, i, json_string(kv));
      free(kv);
      return;
    }
  }
  json_array_append_new(env, json_string(kv));
  free(kv);
}

static json_t *obj_child(json_t *cfg, const char *key) {
  json_t *o = json_object_get(cfg, key);
  if (!json_is_object(o)) {
    o = json_object();
    json_object_set_new(cfg, key, o);
  }
  return o;
}

static const char *stage_lookup(void *arg, const char *name) {
  bl_stage *s = arg;
  const char *v = env_get(s->cfg, name);
  if (v) return v;
  if (kv_has(&s->args, name, &v)) return v;
  return NULL;
}

static const char *meta_lookup(void *arg, const char *name) {
  const char *v = NULL;
  kv_has(arg, name, &v);
  return v;
}

static int expand(builder *b, bl_stage *s, const ld_df_instr *in, const char *word, char **out, ld_error **err) {
  int r = s ? ld_df_expand(word, b->df->escape, stage_lookup, s, out, err)
            : ld_df_expand(word, b->df->escape, meta_lookup, &b->meta_args, out, err);
  if (r < 0) ld_error_wrap(err, "%s:%d", b->df->path, in->line);
  return r;
}

static void key_next(char key[LD_DIGEST_MAX], const char *desc) {
  ld_hasher *h = ld_hasher_new(LD_SHA256);
  ld_hasher_update(h, key, strlen(key));
  ld_hasher_update(h, "\n", 1);
  ld_hasher_update(h, desc, strlen(desc));
  ld_hasher_final(h, key);
  ld_hasher_free(h);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *created_now(builder *b) {
  char buf[40];
  return ld_xstrdup(ld_time_rfc3339(b->o->timestamp >= 0 ? b->o->timestamp : ld_now(), buf, sizeof buf));
}

static char *short_text(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n <= max) return ld_xstrdup(s);
  return ld_xasprintf("%.*s…", (int) max, s);
}

static void progress(builder *b, const ld_df_instr *in, const char *status, double secs) {
  if (b->o->quiet) return;
  char *t = short_text(in->original, 60);
  fprintf(stderr, "STEP %zu/%zu line %d: %s [%s %.2fs]\n", b->step, b->total, in->line, t, status, secs);
  free(t);
}

static void add_history(bl_stage *s, const char *created, const char *created_by, bool empty) {
  json_t *h = json_pack("{s:s, s:s}", "created", created, "created_by", created_by);
  if (empty) json_object_set_new(h, "empty_layer", json_true());
  json_array_append_new(s->history, h);
}

static void stage_clear(bl_stage *s) {
  for (size_t i = 0; i < s->n_layers; i++) {
    free(s->layers[i].media_type);
    free(s->layers[i].created_by);
  }
  free(s->layers);
  if (s->cfg) json_decref(s->cfg);
  if (s->history) json_decref(s->history);
  free(s->os);
  free(s->arch);
  kv_free(&s->args);
  free(s->base_name);
  free(s->base_digest);
  free(s->squash_upper);
  memset(s, 0, sizeof *s);
}

static void add_layer(bl_stage *s, const bl_layer *l) {
  s->layers = ld_xrealloc(s->layers, (s->n_layers + 1) * sizeof *s->layers);
  bl_layer *d = &s->layers[s->n_layers++];
  *d = *l;
  d->media_type = ld_xstrdup(l->media_type);
  d->created_by = l->created_by ? ld_xstrdup(l->created_by) : NULL;
}

/* ---- layer directories ---- */

static char *layer_dir(builder *b, const char *diff_id) {
  return ld_xasprintf("%s/%s", b->layers, ld_digest_hex(diff_id));
}

static int ensure_layer_dir(builder *b, const bl_layer *l, ld_error **err) {
  char *dir = layer_dir(b, l->diff_id);
  if (ld_path_exists(dir)) { free(dir); return 0; }
  char *tmp = ld_xasprintf("%s/unpack-XXXXXX", b->tmp);
  int r = mkdtemp(tmp) ? 0 : ld_err_sys(err, errno, "mkdtemp %s", tmp);
  ld_reader *blob = NULL;
  ld_layer_reader *lr = NULL;
  char what[200];
  char sd[24];
  snprintf(what, sizeof what, "layer %s", ld_digest_short(l->digest, sd));
  if (r == 0) r = ld_store_open_blob(b->store, l->digest, &blob, err);
  if (r == 0) r = ld_layer_open(blob, l->media_type, l->digest, what, &lr, err);
  int rootfd = r == 0 ? open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (r == 0) r = ld_layer_unpack(lr, rootfd, LD_UNPACK_OVERLAY, NULL, err);
  if (rootfd >= 0) close(rootfd);
  char diff[LD_DIGEST_MAX];
  if (r == 0) r = ld_layer_finish(lr, diff, NULL, err);
  if (r == 0 && strcmp(diff, l->diff_id))
    r = ld_err(err, LD_EDIGEST, "%s: diff_id is %s, the image config says %s", what, diff, l->diff_id);
  if (lr) ld_layer_close(lr);
  if (r == 0 && rename(tmp, dir) < 0 && errno != ENOTEMPTY && errno != EEXIST)
    r = ld_err_sys(err, errno, "rename %s", dir);
  if (ld_path_exists(tmp)) ld_rm_rf(tmp, NULL);
  free(tmp);
  free(dir);
  return r;
}

/* Lower dirs of a stage, top first. */
static int lowers(builder *b, bl_stage *s, char ***out, size_t *n, ld_error **err) {
  *out = ld_xcalloc(s->n_layers + 1, sizeof **out);
  *n = 0;
  for (size_t i = s->n_layers; i-- > 0;) {
    if (ensure_layer_dir(b, &s->layers[i], err) < 0) return -1;
    (*out)[(*n)++] = layer_dir(b, s->layers[i].diff_id);
  }
  return 0;
}

/* ---- the cache ---- */

static char *entry_path(builder *b, const char *key) { return ld_xasprintf("%s/steps/%s", b->cache, ld_digest_hex(key)); }

static json_t *cache_get(builder *b, const char *key) {
  if (b->o->no_cache) return NULL;
  char *p = entry_path(b, key);
  char *buf = NULL;
  size_t len;
  json_t *j = NULL;
  if (ld_read_file(p, 1 << 20, &buf, &len, NULL) == 0) ld_json_parse(buf, len, p, &j, NULL);
  free(buf);
  free(p);
  json_t *layer = j ? json_object_get(j, "layer") : NULL;
  if (layer && json_is_object(layer) && !ld_store_has_blob(b->store, ld_json_str(layer, "digest"))) {
    json_decref(j);
    return NULL;
  }
  return j;
}

static void cache_put(builder *b, const char *key, const char *created, const bl_layer *l) {
  json_t *j = json_pack("{s:s}", "created", created);
  if (l)
    json_object_set_new(j, "layer", json_pack("{s:s, s:s, s:I, s:s}", "digest", l->digest, "diff_id", l->diff_id,
                                              "size", (json_int_t) l->size, "media_type", l->media_type));
  char *s = ld_json_dump_compact(j);
  char *p = entry_path(b, key);
  ld_atomic_write(p, s, strlen(s), 0644, NULL);
  free(p);
  free(s);
  json_decref(j);
}

/* ---- FROM ---- */

static int load_image(builder *b, bl_stage *s, const char *ref, ld_error **err) {
  ld_image_src *src = NULL;
  ld_transport_opts to = {.store = b->store, .quiet = b->o->quiet};
  const char *name = ref;
  char *stored = NULL;
  if (ld_str_has_prefix(ref, "docker://") || ld_str_has_prefix(ref, "oci:") ||
      ld_str_has_prefix(ref, "oci-archive:") || ld_str_has_prefix(ref, "docker-archive:")) {
    /* Bring it into the store first: every blob the result references must be there. */
    ld_image_dst *dst = NULL;
    ld_copy_result cr;
    ld_platform host;
    ld_platform_host(&host);
    ld_copy_opts co = {.platform = &host, .quiet = b->o->quiet};
    stored = ld_str_has_prefix(ref, "docker://") ? ld_xstrdup(ref + 9) : ld_xasprintf("localhost/lading-base:%ld", (long) getpid());
    int r = ld_image_src_open(ref, &to, &src, err);
    if (r == 0) r = ld_store_dst_open(b->store, stored, &dst, err);
    if (r == 0) r = ld_copy(src, dst, &co, &cr, err);
    if (dst) ld_image_dst_close(dst);
    if (src) ld_image_src_close(src);
    ld_platform_clear(&host);
    src = NULL;
    if (r < 0) { free(stored); return ld_error_wrap(err, "FROM %s", ref); }
    name = stored;
  }
  ld_image img;
  int r = ld_store_src_open(b->store, name, &src, err);
  if (r == 0) r = ld_image_load(src, NULL, &img, err);
  if (src) ld_image_src_close(src);
  if (r < 0) {
    free(stored);
    return ld_error_wrap(err, "FROM %s", ref);
  }
  if (img.config.n_diff_ids != img.manifest.n_layers) {
    r = ld_err(err, LD_EFORMAT, "FROM %s: %zu layers but %zu diff_ids", ref, img.manifest.n_layers, img.config.n_diff_ids);
  }
  for (size_t i = 0; r == 0 && i < img.manifest.n_layers; i++) {
    bl_layer l = {.size = img.manifest.layers[i].size, .media_type = img.manifest.layers[i].media_type};
    snprintf(l.digest, sizeof l.digest, "%s", img.manifest.layers[i].digest);
    snprintf(l.diff_id, sizeof l.diff_id, "%s", img.config.diff_ids[i]);
    add_layer(s, &l);
  }
  if (r == 0) {
    json_t *c = json_object_get(img.config.root, "config");
    s->cfg = json_is_object(c) ? json_deep_copy(c) : json_object();
    json_t *h = json_object_get(img.config.root, "history");
    s->history = json_is_array(h) ? json_deep_copy(h) : json_array();
    s->os = ld_xstrdup(img.config.os ? img.config.os : "linux");
    s->arch = ld_xstrdup(img.config.architecture ? img.config.architecture : "amd64");
    s->base_name = ld_xstrdup(ref);
    s->base_digest = ld_xstrdup(img.manifest.digest);
    snprintf(s->key, sizeof s->key, "%s", img.manifest.digest);
    if (!b->o->quiet) fprintf(stderr, "FROM %s resolved to %s\n", ref, img.manifest.digest);
  }
  ld_image_clear(&img);
  free(stored);
  return r;
}

static void stage_copy(bl_stage *dst, const bl_stage *src) {
  for (size_t i = 0; i < src->n_layers; i++) add_layer(dst, &src->layers[i]);
  dst->cfg = json_deep_copy(src->cfg);
  dst->history = json_deep_copy(src->history);
  dst->os = ld_xstrdup(src->os);
  dst->arch = ld_xstrdup(src->arch);
  snprintf(dst->key, sizeof dst->key, "%s", src->key);
  if (src->base_name) dst->base_name = ld_xstrdup(src->base_name);
  if (src->base_digest) dst->base_digest = ld_xstrdup(src->base_digest);
}

static int build_stage(builder *b, size_t idx, ld_error **err);

static int do_from(builder *b, size_t idx, const ld_df_instr *in, ld_error **err) {
  bl_stage *s = &b->stages[idx];
  char *ref;
  if (ld_df_flag(in, "platform")) {
    char *pl;
    if (expand(b, NULL, in, ld_df_flag(in, "platform"), &pl, err) < 0) return -1;
    bool host = !strcmp(pl, "linux/amd64");
    if (!host) ld_err(err, LD_EUNSUPPORTED, "%s:%d: FROM --platform=%s: only the host platform (linux/amd64) can be built",
                      b->df->path, in->line, pl);
    free(pl);
    if (!host) return -1;
  }
  if (expand(b, NULL, in, in->args[0], &ref, err) < 0) return -1;
  int dep = -1;
  for (size_t k = 0; k < idx; k++)
    if (b->df->stages[k].name && !strcasecmp(b->df->stages[k].name, ref)) dep = (int) k;
  int r = 0;
  if (dep >= 0) {
    r = build_stage(b, (size_t) dep, err);
    if (r == 0) stage_copy(s, &b->stages[dep]);
  } else if (!strcasecmp(ref, "scratch")) {
    s->cfg = json_object();
    s->history = json_array();
    s->os = ld_xstrdup("linux");
    s->arch = ld_xstrdup("amd64");
    ld_digest_buf(LD_SHA256, "scratch", 7, s->key);
  } else {
    r = load_image(b, s, ref, err);
    if (r < 0) ld_error_wrap(err, "%s:%d", b->df->path, in->line);
  }
  free(ref);
  return r;
}

/* ---- metadata instructions ---- */

static json_t *cmd_json(bl_stage *s, const ld_df_instr *in, size_t from) {
  json_t *a = json_array();
  if (in->exec_form) {
    for (size_t i = from; i < in->n_args; i++) json_array_append_new(a, json_string(in->args[i]));
    return a;
  }
  json_t *shell = json_object_get(s->cfg, "Shell");
  if (json_is_array(shell) && json_array_size(shell)) {
    size_t i;
    json_t *v;
    json_array_foreach(shell, i, v) json_array_append(a, v);
  } else {
    json_array_append_new(a, json_string("/bin/sh"));
    json_array_append_new(a, json_string("-c"));
  }
  json_array_append_new(a, json_string(in->args[from]));
  return a;
}

static int64_t duration_ns(const char *s) {
  int64_t secs = 0;
  if (!s || ld_parse_duration(s, &secs) < 0) return 0;
  return secs * 1000000000LL;
}

static int do_arg(builder *b, bl_stage *s, const ld_df_instr *in, ld_error **err) {
  for (size_t i = 0; i < in->n_kvs; i++) {
    const char *k = in->kvs[i].key, *over = NULL;
    char *v = NULL;
    if (kv_has(&b->build_args, k, &over)) v = ld_xstrdup(over);
    else if (in->kvs[i].value) {
      if (expand(b, s, in, in->kvs[i].value, &v, err) < 0) return -1;
    } else if (s ? kv_has(&b->meta_args, k, &over) : false) v = over ? ld_xstrdup(over) : NULL;
    if (s) kv_set(&s->args, k, v);
    else kv_set(&b->meta_args, k, v);
    free(v);
  }
  return 0;
}

/* EXPOSE PORT[-PORT][/PROTO]: a range becomes one entry per port, as Docker's port specs do. */
static int expose(builder *b, json_t *cfg, const ld_df_instr *in, const char *spec, ld_error **err) {
  const char *slash = strchr(spec, '/');
  char *ports = slash ? ld_xstrndup(spec, (size_t) (slash - spec)) : ld_xstrdup(spec), *end;
  const char *proto = slash ? slash + 1 : "tcp";
  long lo = strtol(ports, &end, 10), hi = lo;
  if (*end == '-') hi = strtol(end + 1, &end, 10);
  bool ok = end != ports && !*end && lo > 0 && hi >= lo && hi <= 65535 &&
            (!strcasecmp(proto, "tcp") || !strcasecmp(proto, "udp") || !strcasecmp(proto, "sctp"));
  free(ports);
  if (!ok) return ld_err(err, EINVAL, "%s:%d: EXPOSE %s: expected PORT[-PORT][/tcp|udp|sctp]", b->df->path, in->line, spec);
  for (long p = lo; p <= hi; p++) {
    char key[32];
    snprintf(key, sizeof key, "%ld/%s", p, proto);
    for (char *k = key; *k; k++) *k = (char) tolower((unsigned char) *k);
    json_object_set_new(obj_child(cfg, "ExposedPorts"), key, json_object());
  }
  return 0;
}

static int do_meta(builder *b, bl_stage *s, const ld_df_instr *in, ld_error **err) {
  json_t *cfg = s->cfg;
  char *v = NULL;
  switch (in->cmd) {
    case LD_DF_ENV:
      for (size_t i = 0; i < in->n_kvs; i++) {
        if (expand(b, s, in, in->kvs[i].value, &v, err) < 0) return -1;
        env_set(cfg, in->kvs[i].key, v);
        free(v);
      }
      return 0;
    case LD_DF_LABEL:
      for (size_t i = 0; i < in->n_kvs; i++) {
        char *k;
        if (expand(b, s, in, in->kvs[i].key, &k, err) < 0) return -1;
        if (expand(b, s, in, in->kvs[i].value, &v, err) < 0) { free(k); return -1; }
        json_object_set_new(obj_child(cfg, "Labels"), k, json_string(v));
        free(k);
        free(v);
      }
      return 0;
    case LD_DF_USER:
      if (expand(b, s, in, in->args[0], &v, err) < 0) return -1;
      json_object_set_new(cfg, "User", json_string(v));
      free(v);
      return 0;
    case LD_DF_WORKDIR: {
      if (expand(b, s, in, in->args[0], &v, err) < 0) return -1;
      const char *cur = ld_json_str(cfg, "WorkingDir");
      char *joined = v[0] == '/' ? ld_xstrdup(v) : ld_xasprintf("%s/%s", cur && *cur ? cur : "", v);
      char *clean;
      free(v);
      if (ld_path_clean(joined, true, &clean, err) < 0) { free(joined); return ld_error_wrap(err, "%s:%d", b->df->path, in->line); }
      free(joined);
      char *abs = ld_xasprintf("/%s", clean);
      json_object_set_new(cfg, "WorkingDir", json_string(abs));
      free(abs);
      free(clean);
      return 0;
    }
    case LD_DF_EXPOSE:
      for (size_t i = 0; i < in->n_args; i++) {
        if (expand(b, s, in, in->args[i], &v, err) < 0) return -1;
        int r = expose(b, cfg, in, v, err);
        free(v);
        if (r < 0) return -1;
      }
      return 0;
    case LD_DF_VOLUME:
      for (size_t i = 0; i < in->n_args; i++) {
        if (expand(b, s, in, in->args[i], &v, err) < 0) return -1;
        json_object_set_new(obj_child(cfg, "Volumes"), v, json_object());
        free(v);
      }
      return 0;
    case LD_DF_STOPSIGNAL:
      if (expand(b, s, in, in->args[0], &v, err) < 0) return -1;
      json_object_set_new(cfg, "StopSignal", json_string(v));
      free(v);
      return 0;
    case LD_DF_CMD:
      json_object_set_new(cfg, "Cmd", cmd_json(s, in, 0));
      s->cmd_set = true;
      return 0;
    case LD_DF_ENTRYPOINT:
      json_object_set_new(cfg, "Entrypoint", cmd_json(s, in, 0));
      if (!s->cmd_set) json_object_del(cfg, "Cmd");
      return 0;
    case LD_DF_SHELL: {
      json_t *a = json_array();
      for (size_t i = 0; i < in->n_args; i++) json_array_append_new(a, json_string(in->args[i]));
      json_object_set_new(cfg, "Shell", a);
      return 0;
    }
    case LD_DF_HEALTHCHECK: {
      json_t *hc = json_object();
      if (!strcmp(in->args[0], "NONE")) {
        json_object_set_new(hc, "Test", json_pack("[s]", "NONE"));
      } else {
        json_t *t = json_array();
        if (in->exec_form) {
          json_array_append_new(t, json_string("CMD"));
          for (size_t i = 1; i < in->n_args; i++) json_array_append_new(t, json_string(in->args[i]));
        } else {
          json_array_append_new(t, json_string("CMD-SHELL"));
          json_array_append_new(t, json_string(in->args[1]));
        }
        json_object_set_new(hc, "Test", t);
        static const char *d[][2] = {{"interval", "Interval"}, {"timeout", "Timeout"}, {"start-period", "StartPeriod"},
                                     {"start-interval", "StartInterval"}};
        for (size_t i = 0; i < LD_ARRAY_SIZE(d); i++)
          if (ld_df_flag(in, d[i][0])) json_object_set_new(hc, d[i][1], json_integer(duration_ns(ld_df_flag(in, d[i][0]))));
        if (ld_df_flag(in, "retries")) json_object_set_new(hc, "Retries", json_integer(atoi(ld_df_flag(in, "retries"))));
      }
      json_object_set_new(cfg, "Healthcheck", hc);
      return 0;
    }
    case LD_DF_ONBUILD: {
      json_t *ob = json_object_get(cfg, "OnBuild");
      if (!json_is_array(ob)) { ob = json_array(); json_object_set_new(cfg, "OnBuild", ob); }
      json_array_append_new(ob, json_string(in->trigger->original));
      return 0;
    }
    default:
      return 0;
  }
}

/* ---- RUN / COPY / ADD ---- */

typedef struct {
  builder *b;
  bl_stage *s;
  const ld_df_instr *in;
  bx_overlay ov;
  const char *mnt;
  bx_copy copy;
  bl_stage *from;     /* --from stage, mounted read-only */
  char **from_lower;
  size_t n_from_lower;
  char *from_mnt;
  char *url, *checksum; /* ADD URL --checksum=sha256:... */
  char *url_dir;
  char *mkdir_path;     /* WORKDIR: the directory to create */
  ld_ignore *exclude;   /* COPY/ADD --exclude */
  int unpack;           /* ADD --unpack: -1 not given, 0, 1 */
  char *chmod_sym;      /* --chmod in symbolic form */
  char *hd_dir;         /* COPY <<EOF: the here-documents as files */
  char **hd_names;
  size_t n_hd;
  bx_copy url_copy;     /* ADD URL: the downloaded file, beside the local sources */
  char *url_name;
} copy_job;

static int copy_child(void *arg, ld_error **err) {
  copy_job *j = arg;
  if (bx_mount_overlay(&j->ov, j->mnt, err) < 0) return -1;
  if (j->from) {
    bx_overlay fo = {(const char **) j->from_lower, j->n_from_lower, NULL, NULL, j->b->empty};
    if (bx_mount_overlay(&fo, j->from_mnt, err) < 0) return -1;
  }
  int root = open(j->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return ld_err_sys(err, errno, "open %s", j->mnt);
  int r = 0;
  if (j->mkdir_path) r = bx_mkdir_owned(&j->copy, root, j->mkdir_path, err);
  else if (j->copy.n_srcs) r = bx_copy_into(&j->copy, root, err);
  if (r == 0 && j->n_hd) {
    bx_copy hc = j->copy;
    hc.src_root = j->hd_dir;
    hc.srcs = j->hd_names;
    hc.n_srcs = j->n_hd;
    hc.ignore = hc.exclude = NULL;
    hc.extract_archives = hc.parents = false;
    r = bx_copy_into(&hc, root, err);
  }
  if (r == 0 && j->url) r = bx_copy_into(&j->url_copy, root, err);
  close(root);
  return r;
}

static char **run_env(bl_stage *s) {
  size_t n = 0;
  char **env = NULL;
  json_t *e = json_object_get(s->cfg, "Env");
  size_t i;
  json_t *v;
  bool path = false;
  json_array_foreach(e, i, v) {
    env = ld_xrealloc(env, (n + 2) * sizeof *env);
    env[n++] = ld_xstrdup(json_string_value(v));
    if (ld_str_has_prefix(json_string_value(v), "PATH=")) path = true;
  }
  for (size_t k = 0; k < s->args.n; k++) { /* build args are visible to RUN, below ENV */
    if (!s->args.v[k] || env_get(s->cfg, s->args.k[k])) continue;
    env = ld_xrealloc(env, (n + 2) * sizeof *env);
    env[n++] = ld_xasprintf("%s=%s", s->args.k[k], s->args.v[k]);
  }
  if (!path) {
    env = ld_xrealloc(env, (n + 2) * sizeof *env);
    env[n++] = ld_xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  }
  if (!env) env = ld_xmalloc(sizeof *env);
  env[n] = NULL;
  return env;
}

static void strv_free_null(char **v) {
  for (char **p = v; p && *p; p++) free(*p);
  free(v);
}

/* The argv of a RUN: exec form as is; shell form through SHELL; a lone heredoc is the script. */
static char **run_argv(bl_stage *s, const ld_df_instr *in) {
  json_t *a;
  if (in->exec_form) a = cmd_json(s, in, 0);
  else {
    ld_buf text = {0};
    bool lone = in->n_heredocs == 1 && !strncmp(in->args[0], "<<", 2) && !strchr(in->args[0], ' ');
    if (lone && ld_str_has_prefix(in->heredocs[0].content, "#!")) {
      /* a script with its own interpreter: written to /dev/shm (tmpfs, never in the layer) */
      const char *c = in->heredocs[0].content, *nl = strchr(c, '\n');
      int ilen = nl ? (int) (nl - c - 2) : (int) strlen(c + 2);
      ld_buf_printf(&text, "cat >/dev/shm/.lading-script <<'LADING_SCRIPT_EOF'\n%sLADING_SCRIPT_EOF\n"
                           "%.*s /dev/shm/.lading-script; r=$?; rm -f /dev/shm/.lading-script; exit $r",
                    c, ilen, c + 2); /* /dev/shm is noexec: run the interpreter on it */
    } else if (lone) ld_buf_puts(&text, in->heredocs[0].content);
    else {
      ld_buf_puts(&text, in->args[0]);
      for (size_t h = 0; h < in->n_heredocs; h++)
        ld_buf_printf(&text, "\n%s%s", in->heredocs[h].content, in->heredocs[h].name);
    }
    ld_df_instr tmp = *in;
    char *one = ld_buf_steal(&text);
    char *args[1] = {one};
    tmp.args = args;
    tmp.n_args = 1;
    a = cmd_json(s, &tmp, 0);
    free(one);
  }
  char **argv = ld_xcalloc(json_array_size(a) + 1, sizeof *argv);
  size_t i;
  json_t *v;
  json_array_foreach(a, i, v) argv[i] = ld_xstrdup(json_string_value(v));
  json_decref(a);
  return argv;
}

static char *json_text(json_t *j) {
  char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  return s ? s : ld_xstrdup("");
}

static bool is_url(const char *s) { return ld_str_has_prefix(s, "http://") || ld_str_has_prefix(s, "https://"); }

static int parse_chown(const char *spec, long *uid, long *gid) {
  *uid = *gid = -1;
  if (!spec) return 0;
  char *end;
  *uid = strtol(spec, &end, 10);
  if (end == spec) return -1; /* names need the image's passwd: numeric ids only */
  *gid = *uid;
  if (*end == ':') {
    char *g = end + 1;
    *gid = strtol(g, &end, 10);
    if (end == g) return -1;
  }
  return *end ? -1 : 0;
}

/* --from=stage|image: a stage built before this one (by name or index), else an image loaded
 * as a pseudo-stage. *out is a copy the caller frees (stage_clear). */
static int load_from(builder *b, bl_stage *s, const char *ref, bl_stage **out, ld_error **err) {
  int dep = ld_df_stage_index(b->df, ref);
  if (dep >= 0 && (size_t) dep >= (size_t) (s - b->stages)) dep = -1;
  *out = ld_xcalloc(1, sizeof **out);
  if (dep < 0) return load_image(b, *out, ref, err);
  if (build_stage(b, (size_t) dep, err) < 0) return -1;
  stage_copy(*out, &b->stages[dep]);
  return 0;
}

/* --exclude=PATTERN (repeatable): .dockerignore-style patterns, matched below each source. */
static int prepare_exclude(builder *b, bl_stage *s, const ld_df_instr *in, copy_job *j, ld_buf *desc, ld_error **err) {
  ld_buf text = {0};
  for (size_t i = 0; i < in->n_flags; i++) {
    if (strcmp(in->flags[i].key, "exclude")) continue;
    char *v;
    if (expand(b, s, in, in->flags[i].value, &v, err) < 0) { ld_buf_free(&text); return -1; }
    ld_buf_printf(&text, "%s\n", v);
    ld_buf_printf(desc, "exclude=%s\n", v);
    free(v);
  }
  if (!text.len) return 0;
  int r = ld_ignore_parse(text.data, text.len, &j->exclude, err);
  ld_buf_free(&text);
  j->copy.exclude = j->exclude;
  return r;
}

static char *mktemp_dir(builder *b, const char *what, ld_error **err);

/* COPY <<EOF: each here-document becomes a file named after its marker in a scratch directory,
 * copied beside the other sources; its content (after expansion) keys the step. */
static int write_heredoc_source(builder *b, bl_stage *s, const ld_df_instr *in, const ld_df_heredoc *h, copy_job *j,
                                ld_buf *desc, ld_error **err) {
  if (strchr(h->name, '/') || !strcmp(h->name, ".") || !strcmp(h->name, ".."))
    return ld_err(err, EINVAL, "%s: here-document name %s is not a file name", j->copy.what, h->name);
  char *content = NULL;
  if (h->expand) {
    if (ld_df_expand_heredoc(h->content, b->df->escape, stage_lookup, s, &content, err) < 0)
      return ld_error_wrap(err, "%s:%d", b->df->path, in->line);
  } else {
    content = ld_xstrdup(h->content);
  }
  int r = 0;
  if (!j->hd_dir && !(j->hd_dir = mktemp_dir(b, "heredoc", err))) r = -1;
  char *path = r == 0 ? ld_path_join(j->hd_dir, h->name) : NULL;
  int fd = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644) : -1;
  if (r == 0 && (fd < 0 || ld_write_all(fd, content, strlen(content)) < 0 || fchmod(fd, 0644) < 0))
    r = ld_err_sys(err, errno, "%s: here-document %s", j->copy.what, h->name);
  if (fd >= 0) close(fd);
  if (r == 0) {
    char d[LD_DIGEST_MAX];
    ld_digest_buf(LD_SHA256, content, strlen(content), d);
    ld_buf_printf(desc, "heredoc=%s content=%s\n", h->name, d);
    j->hd_names = ld_xrealloc(j->hd_names, (j->n_hd + 1) * sizeof *j->hd_names);
    j->hd_names[j->n_hd++] = ld_xstrdup(h->name);
  }
  free(path);
  free(content);
  return r;
}

/* Prepares the COPY: expanded sources/dest, the source root, and the digest of the inputs. */
static int prepare_copy(builder *b, bl_stage *s, const ld_df_instr *in, copy_job *j, ld_buf *desc, ld_error **err) {
  bx_copy *c = &j->copy;
  memset(c, 0, sizeof *c);
  c->uid = c->gid = -1;
  c->chmod = -1;
  c->what = ld_xasprintf("%s:%d %s", b->df->path, in->line, in->keyword);
  /* ADD --unpack: default true for local archives, false for downloads (BuildKit's defaults) */
  const char *unpack = ld_df_flag(in, "unpack");
  if (unpack && strcmp(unpack, "true") && strcmp(unpack, "false"))
    return ld_err(err, EINVAL, "%s: --unpack=%s: true or false", c->what, unpack);
  j->unpack = unpack ? !strcmp(unpack, "true") : -1;
  c->extract_archives = in->cmd == LD_DF_ADD && j->unpack != 0;
  if (unpack) ld_buf_printf(desc, "unpack=%d\n", j->unpack);
  size_t n_src = in->n_args - 1;
  char *dest;
  if (expand(b, s, in, in->args[in->n_args - 1], &dest, err) < 0) return -1;
  const char *wd = ld_json_str(s->cfg, "WorkingDir");
  bool trailing = ld_str_has_suffix(dest, "/") || !strcmp(dest, ".");
  char *abs = dest[0] == '/' ? ld_xstrdup(dest) : ld_xasprintf("%s/%s", wd && *wd ? wd : "", dest);
  free(dest);
  c->dest = abs;
  c->dest_is_dir = trailing;
  if (ld_df_flag(in, "chown")) {
    char *spec;
    if (expand(b, s, in, ld_df_flag(in, "chown"), &spec, err) < 0) return -1;
    if (parse_chown(spec, &c->uid, &c->gid) < 0) c->chown_names = spec; /* by name: resolved in the root */
    else free(spec);
  }
  if (ld_df_flag(in, "chmod")) {
    char *spec, *end;
    mode_t m;
    if (expand(b, s, in, ld_df_flag(in, "chmod"), &spec, err) < 0) return -1;
    long oct = strtol(spec, &end, 8);
    if (*spec && !*end && oct >= 0 && oct <= 07777) {
      c->chmod = (int) oct;
      free(spec);
    } else if (bx_chmod_symbolic(spec, 0, false, &m) == 0) {
      j->chmod_sym = spec;
      c->chmod_sym = spec;
      ld_buf_printf(desc, "chmod=%s\n", spec);
    } else {
      int r = ld_err(err, EINVAL, "%s: invalid --chmod=%s: octal (0755) or symbolic (u=rwX,go=rX)", c->what, spec);
      free(spec);
      return r;
    }
  }
  if (prepare_exclude(b, s, in, j, desc, err) < 0) return -1;
  if (ld_df_flag(in, "parents")) {
    c->parents = strcmp(ld_df_flag(in, "parents"), "false") != 0;
    ld_buf_printf(desc, "parents=%d\n", c->parents);
  }
  if (n_src > 1 && !trailing)
    return ld_err(err, EINVAL, "%s: with several sources the destination must be a directory ending in /", c->what);
  if (ld_df_flag(in, "checksum") && expand(b, s, in, ld_df_flag(in, "checksum"), &j->checksum, err) < 0) return -1;
  c->srcs = ld_xcalloc(n_src, sizeof *c->srcs);
  for (size_t i = 0, k = 0; i < n_src; i++) {
    if (k < in->n_heredocs && !strncmp(in->args[i], "<<", 2)) {
      if (write_heredoc_source(b, s, in, &in->heredocs[k++], j, desc, err) < 0) return -1;
      continue;
    }
    char *src;
    if (expand(b, s, in, in->args[i], &src, err) < 0) return -1;
    if (!is_url(src)) {
      c->srcs[c->n_srcs++] = src;
      continue;
    }
    /* A URL: its content is pinned by --checksum, so the key needs no download. One --checksum
     * pins one URL: several URLs in one ADD cannot all be checked. */
    int r = 0;
    const char *sum = j->checksum;
    if (in->cmd != LD_DF_ADD) r = ld_err(err, EINVAL, "%s: a URL (%s) can only be ADDed", c->what, src);
    else if (ld_str_has_suffix(src, ".git") || strstr(src, ".git#"))
      r = ld_err(err, LD_EUNSUPPORTED, "%s: ADD of a git repository (%s) is not supported", c->what, src);
    else if (!sum || ld_digest_validate(sum, NULL) < 0)
      r = ld_err(err, EINVAL, "%s: ADD of a URL needs --checksum=sha256:<hex> (got %s)", c->what, sum ? sum : "none");
    else if (j->url)
      r = ld_err(err, LD_EUNSUPPORTED, "%s: --checksum pins one URL; %s and %s need one ADD each", c->what, j->url, src);
    if (r < 0) { free(src); return -1; }
    j->url = src;
    ld_buf_printf(desc, "url=%s checksum=%s\n", j->url, j->checksum);
  }
  if (!j->url && j->checksum)
    return ld_err(err, EINVAL, "%s: --checksum is only for a URL source", c->what);
  if (j->url && !c->n_srcs) {
    ld_buf_printf(desc, "%s chown=%ld:%ld/%s chmod=%o dest=%s%s\n", in->keyword, c->uid, c->gid,
                  c->chown_names ? c->chown_names : "", c->chmod, c->dest, trailing ? "/" : "");
    return 0;
  }
  const char *from = ld_df_flag(in, "from");
  ld_buf_printf(desc, "%s chown=%ld:%ld/%s chmod=%o dest=%s%s\n", in->keyword, c->uid, c->gid,
                c->chown_names ? c->chown_names : "", c->chmod, c->dest, trailing ? "/" : "");
  for (size_t i = 0; i < c->n_srcs; i++) ld_buf_printf(desc, "src=%s\n", c->srcs[i]);
  if (from) {
    char *ref;
    if (expand(b, s, in, from, &ref, err) < 0) return -1;
    int r = load_from(b, s, ref, &j->from, err);
    free(ref);
    if (r < 0) return ld_error_wrap(err, "%s", c->what);
    ld_buf_printf(desc, "from=%s\n", j->from->key);
    if (lowers(b, j->from, &j->from_lower, &j->n_from_lower, err) < 0) return -1;
    j->from_mnt = ld_xasprintf("%s/from-XXXXXX", b->tmp);
    if (!mkdtemp(j->from_mnt)) return ld_err_sys(err, errno, "mkdtemp");
    c->src_root = j->from_mnt;
    return 0; /* a stage's content is determined by its key */
  }
  c->src_root = b->context;
  c->ignore = b->ig;
  char d[LD_DIGEST_MAX];
  if (bx_copy_digest(c, d, err) < 0) return -1;
  ld_buf_puts(desc, d);
  return 0;
}

static void copy_job_clear(copy_job *j) {
  bx_copy *c = &j->copy;
  free((char *) c->what);
  free((char *) c->dest);
  free((char *) c->chown_names);
  ld_strv_free(c->srcs, c->n_srcs);
  if (j->from) { stage_clear(j->from); free(j->from); }
  for (size_t i = 0; i < j->n_from_lower; i++) free(j->from_lower[i]);
  free(j->from_lower);
  if (j->from_mnt) { rmdir(j->from_mnt); free(j->from_mnt); }
  free(j->url);
  free(j->checksum);
  free(j->mkdir_path);
  ld_ignore_free(j->exclude);
  free(j->url_name);
  free(j->chmod_sym);
  ld_strv_free(j->hd_names, j->n_hd);
  if (j->hd_dir) { ld_rm_rf(j->hd_dir, NULL); free(j->hd_dir); }
  if (j->url_dir) { ld_rm_rf(j->url_dir, NULL); free(j->url_dir); }
}


static size_t on_body(char *data, size_t size, size_t n, void *arg) {
  void **a = arg;
  ld_hasher_update(a[1], data, size * n);
  return ld_write_all(*(int *) a[0], data, size * n) < 0 ? 0 : size * n;
}

/* Downloads an ADD URL into a scratch directory and checks it against --checksum; the copy then
 * takes it from there like a context file (named after the URL's last path component). */
static int fetch_url(builder *b, copy_job *j, ld_error **err) {
  j->url_dir = mktemp_dir(b, "url", err);
  if (!j->url_dir) return -1;
  const char *q = strpbrk(j->url + 8, "?#");
  size_t len = q ? (size_t) (q - j->url) : strlen(j->url);
  const char *slash = j->url + len;
  while (slash > j->url && slash[-1] != '/') slash--;
  char *name = slash < j->url + len ? ld_xstrndup(slash, (size_t) (j->url + len - slash)) : ld_xstrdup("download");
  char *path = ld_path_join(j->url_dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  int r = fd < 0 ? ld_err_sys(err, errno, "create %s", path) : 0;
  ld_hasher *h = ld_hasher_new(ld_digest_algo_of(j->checksum));
  if (r == 0) {
    CURL *curl = curl_easy_init();
    void *arg[2] = {&fd, h};
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, j->url);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, (void *) arg);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, ebuf);
    CURLcode cr = curl_easy_perform(curl);
    if (cr != CURLE_OK) r = ld_err(err, EIO, "%s: download %s: %s", j->copy.what, j->url, *ebuf ? ebuf : curl_easy_strerror(cr));
    curl_easy_cleanup(curl);
  }
  if (fd >= 0) close(fd);
  char got[LD_DIGEST_MAX];
  ld_hasher_final(h, got);
  ld_hasher_free(h);
  if (r == 0 && strcmp(got, j->checksum))
    r = ld_err(err, LD_EDIGEST, "%s: %s has digest %s, --checksum says %s", j->copy.what, j->url, got, j->checksum);
  if (r == 0) { /* copied like a context file named after the URL; unpacked only with --unpack=true */
    chmod(path, 0600);
    j->url_copy = j->copy;
    j->url_copy.src_root = j->url_dir;
    j->url_copy.ignore = NULL;
    j->url_copy.srcs = &j->url_name;
    j->url_copy.n_srcs = 1;
    j->url_copy.extract_archives = j->unpack == 1;
    j->url_name = name;
    name = NULL;
  }
  free(name);
  free(path);
  return r;
}

/* Upper dir → blob in the store + layer dir in the cache. empty → no layer. */
static int commit_layer(builder *b, const char *upper, bl_layer *l, bool *empty, ld_error **err) {
  *empty = false;
  char *tmpf = ld_xasprintf("%s/layer-XXXXXX", b->tmp);
  int fd = mkstemp(tmpf);
  if (fd < 0) { free(tmpf); return ld_err_sys(err, errno, "mkstemp"); }
  ld_layer_write_opts wo = {.mtime = b->o->timestamp, .compression = LD_COMP_GZIP};
  ld_layer_written w;
  int r = ld_layer_write_dir(upper, fd, &wo, &w, err);
  if (r == 0 && w.entries == 0) *empty = true;
  if (r == 0 && !*empty) {
    lseek(fd, 0, SEEK_SET);
    ld_reader *rd = ld_reader_from_fd(fd, false);
    char got[LD_DIGEST_MAX];
    r = ld_store_put_blob(b->store, rd, w.digest, (int64_t) w.size, got, err);
    ld_reader_close(rd);
    snprintf(l->digest, sizeof l->digest, "%s", w.digest);
    snprintf(l->diff_id, sizeof l->diff_id, "%s", w.diff_id);
    l->size = (int64_t) w.size;
    l->media_type = LD_MT_OCI_LAYER_GZIP;
  }
  close(fd);
  unlink(tmpf);
  free(tmpf);
  if (r == 0 && !*empty) {
    char *dir = layer_dir(b, l->diff_id);
    if (ld_path_exists(dir) || rename(upper, dir) < 0) ld_rm_rf(upper, NULL);
    free(dir);
  } else {
    ld_rm_rf(upper, NULL);
  }
  return r;
}

static char *mktemp_dir(builder *b, const char *what, ld_error **err) {
  char *p = ld_xasprintf("%s/%s-XXXXXX", b->tmp, what);
  /* 0755: an upper directory's mode becomes the mode of the container's "/" */
  if (!mkdtemp(p) || chmod(p, 0755) < 0) {
    ld_err_sys(err, errno, "mkdtemp %s", p);
    free(p);
    return NULL;
  }
  return p;
}

/* ---- RUN options: --mount, --network, --security ---- */

typedef struct {
  bx_mount *m;
  size_t n;
  bool network_none;
  char **env;       /* added to the RUN's environment, not to its key (secrets, SSH_AUTH_SOCK) */
  size_t n_env;
  bl_stage **from;  /* stages bound with from=, kept for their layer directories */
  size_t n_from;
} run_opts;

static void run_opts_clear(run_opts *ro) {
  for (size_t i = 0; i < ro->n; i++) bx_mount_clear(&ro->m[i]);
  free(ro->m);
  for (size_t i = 0; i < ro->n_env; i++) {
    explicit_bzero(ro->env[i], strlen(ro->env[i]));
    free(ro->env[i]);
  }
  free(ro->env);
  for (size_t i = 0; i < ro->n_from; i++) {
    stage_clear(ro->from[i]);
    free(ro->from[i]);
  }
  free(ro->from);
  memset(ro, 0, sizeof *ro);
}

static void run_opts_env(run_opts *ro, char *kv) {
  ro->env = ld_xrealloc(ro->env, (ro->n_env + 1) * sizeof *ro->env);
  ro->env[ro->n_env++] = kv;
}

/* The value of key in "k=v,k2=v2" (a new string), or NULL. */
static char *csv_get(const char *spec, const char *key) {
  size_t n = strlen(key);
  for (const char *p = spec; p && *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t) (end - p) : strlen(p);
    if (len > n && !strncmp(p, key, n) && p[n] == '=') return ld_xstrndup(p + n + 1, len - n - 1);
    p = end ? end + 1 : NULL;
  }
  return NULL;
}

/* --secret id=NAME,src=FILE | id=NAME,env=VAR (type=file|env also accepted; neither src nor env:
 * the environment variable NAME). 1 found, 0 not given, -1 error. */
static int secret_lookup(builder *b, const char *id, char **data, size_t *len, ld_error **err) {
  for (size_t i = 0; i < b->o->n_secrets; i++) {
    const char *spec = b->o->secrets[i];
    char *sid = csv_get(spec, "id");
    bool match = sid && !strcmp(sid, id);
    free(sid);
    if (!match) continue;
    char *src = csv_get(spec, "src"), *env = csv_get(spec, "env"), *type = csv_get(spec, "type");
    if (!src) src = csv_get(spec, "source");
    if (!src && !env) {
      if (type && !strcmp(type, "file")) src = ld_xstrdup(id);
      else env = ld_xstrdup(id);
    }
    int r = 1;
    if (src) {
      if (ld_read_file(src, 1 << 20, data, len, err) < 0) r = ld_error_wrap(err, "--secret id=%s", id);
    } else if (getenv(env)) {
      *data = ld_xstrdup(getenv(env));
      *len = strlen(*data);
    } else {
      r = ld_err(err, ENOENT, "--secret id=%s: environment variable %s is not set", id, env);
    }
    free(src);
    free(env);
    free(type);
    return r;
  }
  return 0;
}

/* --ssh default | ID=SOCKET; "default" alone means $SSH_AUTH_SOCK. */
static char *ssh_lookup(builder *b, const char *id) {
  for (size_t i = 0; i < b->o->n_ssh; i++) {
    const char *spec = b->o->ssh[i], *eq = strchr(spec, '=');
    size_t n = eq ? (size_t) (eq - spec) : strlen(spec);
    if (strlen(id) != n || strncmp(spec, id, n)) continue;
    if (eq) return ld_xstrdup(eq + 1);
    const char *sock = getenv("SSH_AUTH_SOCK");
    return sock && *sock ? ld_xstrdup(sock) : NULL;
  }
  return NULL;
}

static char **one_lower(const char *dir) {
  char **l = ld_xcalloc(1, sizeof *l);
  l[0] = ld_xstrdup(dir);
  return l;
}

/* A rw bind sees its writes through an overlay whose upper directory is thrown away. */
static int overlay_for_writes(builder *b, bx_mount *m, ld_error **err) {
  if (!m->ov_mnt && !(m->ov_mnt = mktemp_dir(b, "bindmnt", err))) return -1;
  if (m->readonly) return 0;
  if (!(m->ov_upper = mktemp_dir(b, "bindup", err)) || !(m->ov_work = mktemp_dir(b, "bindwork", err))) return -1;
  return 0;
}

/* bind from the context: its content digest keys the step. With .dockerignore rules the RUN sees a
 * filtered copy, as BuildKit's context transfer would give it. */
static int resolve_bind_context(builder *b, bx_mount *m, const char *what, ld_buf *desc, ld_error **err) {
  bx_copy c = {.src_root = b->context, .ignore = b->ig, .uid = -1, .gid = -1, .chmod = -1, .what = what};
  char *src = (char *) (m->source && *m->source ? m->source : ".");
  c.srcs = &src;
  c.n_srcs = 1;
  char d[LD_DIGEST_MAX];
  if (bx_copy_digest(&c, d, err) < 0) return -1;
  ld_buf_printf(desc, " content=%s", d);
  return 0;
}

/* On a cache miss only: the directory the RUN will see for a bind from the context. */
static int bind_context_root(builder *b, bx_mount *m, ld_error **err) {
  bx_copy c = {.src_root = b->context, .ignore = b->ig, .uid = -1, .gid = -1, .chmod = -1, .what = "--mount"};
  char *src = (char *) (m->source && *m->source ? m->source : ".");
  c.srcs = &src;
  c.n_srcs = 1;
  if (ld_ignore_count(b->ig) == 0) {
    m->root = ld_xstrdup(b->context);
  } else {
    char *copy = mktemp_dir(b, "bindctx", err);
    if (!copy) return -1;
    int root = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    int cfd = open(b->context, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int sfd = cfd >= 0 ? ld_open_in_root(cfd, src, O_PATH, 0, NULL) : -1;
    bool dir = sfd >= 0 && fstat(sfd, &st) == 0 && S_ISDIR(st.st_mode);
    if (sfd >= 0) close(sfd);
    if (cfd >= 0) close(cfd);
    c.dest = "/";
    c.dest_is_dir = true;
    int r = root < 0 ? ld_err_sys(err, errno, "open %s", copy) : bx_copy_into(&c, root, err);
    if (root >= 0) close(root);
    if (r < 0) { free(copy); return -1; }
    m->root = copy;
    if (dir) {
      free(m->source);
      m->source = NULL;
    } else {
      const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
      char *bs = ld_xstrdup(base);
      free(m->source);
      m->source = bs;
    }
  }
  if (!m->readonly) {
    m->lower = (const char **) one_lower(m->root);
    m->n_lower = 1;
    return overlay_for_writes(b, m, err);
  }
  return 0;
}

static int resolve_bind(builder *b, bl_stage *s, const ld_df_instr *in, bx_mount *m, run_opts *ro, ld_buf *desc,
                        const char *what, ld_error **err) {
  if (m->source) {
    char *clean;
    ld_error *e2 = NULL;
    if (ld_path_clean(m->source, true, &clean, &e2) < 0) {
      ld_error_free(e2);
      return ld_err(err, EPERM, "%s: --mount source %s escapes the %s", what, m->source, m->from ? "stage" : "build context");
    }
    free(m->source);
    m->source = clean;
  }
  if (!m->from) return resolve_bind_context(b, m, what, desc, err);
  bl_stage *from;
  int r = load_from(b, s, m->from, &from, err);
  ro->from = ld_xrealloc(ro->from, (ro->n_from + 1) * sizeof *ro->from);
  ro->from[ro->n_from++] = from; /* freed with ro, loaded or not */
  if (r < 0) return ld_error_wrap(err, "%s --mount from=%s", what, m->from);
  ld_buf_printf(desc, " from=%s", from->key);
  (void) in;
  return 0;
}

/* On a cache miss only: the stage's layers as directories, for the overlay of a from= bind. */
static int bind_stage_root(builder *b, bl_stage *from, bx_mount *m, ld_error **err) {
  char **low;
  size_t n;
  if (lowers(b, from, &low, &n, err) < 0) return -1;
  m->lower = (const char **) low;
  m->n_lower = n;
  if (!n) { /* FROM scratch with nothing in it: an empty directory */
    m->lower[0] = ld_xstrdup(b->empty);
    m->n_lower = 1;
  }
  return overlay_for_writes(b, m, err);
}

/* A cache mount lives in build-cache/mounts/<sha256 of its id> under the store, across builds. */
typedef struct {
  bx_overlay ov;
  const char *mnt, *dest, *source;
} seed_job;

static int seed_child(void *arg, ld_error **err) {
  seed_job *j = arg;
  if (bx_mount_overlay(&j->ov, j->mnt, err) < 0) return -1;
  char *src = (char *) (j->source && *j->source ? j->source : ".");
  bx_copy c = {.src_root = j->mnt, .srcs = &src, .n_srcs = 1, .dest = "/", .dest_is_dir = true, .uid = -1,
               .gid = -1, .chmod = -1, .keep_owner = true, .what = "--mount=type=cache,from="};
  int root = open(j->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return ld_err_sys(err, errno, "open %s", j->dest);
  int r = bx_copy_into(&c, root, err);
  close(root);
  return r;
}

/* A new cache with from=: its first content is the stage's (or image's) source path. */
static int seed_cache(builder *b, bl_stage *from, const bx_mount *m, const char *dir, ld_error **err) {
  char **low = NULL;
  size_t n = 0;
  char *mnt = mktemp_dir(b, "seed", err);
  int r = mnt ? lowers(b, from, &low, &n, err) : -1;
  if (r == 0 && n) {
    seed_job j = {{(const char **) low, n, NULL, NULL, b->empty}, mnt, dir, m->source};
    r = bx_in_mount_ns(seed_child, &j, err);
  }
  for (size_t i = 0; i < n; i++) free(low[i]);
  free(low);
  if (mnt) { rmdir(mnt); free(mnt); }
  return r;
}

static int resolve_cache(builder *b, bx_mount *m, bl_stage *from, ld_error **err) {
  char hex[LD_DIGEST_MAX];
  ld_digest_buf(LD_SHA256, m->id, strlen(m->id), hex);
  char *dir = ld_xasprintf("%s/mounts/%s", b->cache, ld_digest_hex(hex)), *lock = ld_xasprintf("%s.lock", dir);
  int r = 0;
  if (!ld_path_exists(dir)) {
    char *tmp = ld_xasprintf("%s.new-%ld", dir, (long) getpid());
    ld_rm_rf(tmp, NULL);
    r = ld_mkdir_p(tmp, 0755, err);
    if (r == 0 && from) r = seed_cache(b, from, m, tmp, err);
    if (r == 0 && (chown(tmp, m->uid >= 0 ? (uid_t) m->uid : 0, m->gid >= 0 ? (gid_t) m->gid : 0) < 0 ||
                   chmod(tmp, m->mode >= 0 ? (mode_t) m->mode : 0755) < 0))
      r = ld_err_sys(err, errno, "cache mount %s", tmp);
    if (r == 0 && rename(tmp, dir) < 0 && errno != EEXIST && errno != ENOTEMPTY) r = ld_err_sys(err, errno, "rename %s", dir);
    ld_rm_rf(tmp, NULL);
    free(tmp);
  }
  if (r == 0 && m->sharing != BX_SHARING_SHARED) {
    m->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (m->lock_fd < 0) r = ld_err_sys(err, errno, "open %s", lock);
    else if (flock(m->lock_fd, LOCK_EX | (m->sharing == BX_SHARING_PRIVATE ? LOCK_NB : 0)) < 0) {
      if (m->sharing == BX_SHARING_LOCKED) r = ld_err_sys(err, errno, "lock %s", lock);
      else { /* private and in use: a fresh directory of our own, discarded */
        close(m->lock_fd);
        m->lock_fd = -1;
        free(dir);
        dir = mktemp_dir(b, "cache", err);
        if (!dir) r = -1;
        else if (m->uid >= 0 || m->gid >= 0 || m->mode >= 0) {
          if (chown(dir, m->uid >= 0 ? (uid_t) m->uid : 0, m->gid >= 0 ? (gid_t) m->gid : 0) < 0) {}
          chmod(dir, m->mode >= 0 ? (mode_t) m->mode : 0755);
        }
      }
    }
  }
  free(lock);
  if (r == 0) m->root = dir;
  else free(dir);
  if (r == 0 && m->readonly) return 0;
  return r;
}

static int resolve_mount(builder *b, bl_stage *s, const ld_df_instr *in, bx_mount *m, run_opts *ro, ld_buf *desc,
                         const char *what, ld_error **err) {
  if (m->target) {
    const char *wd = ld_json_str(s->cfg, "WorkingDir");
    char *abs = m->target[0] == '/' ? ld_xstrdup(m->target) : ld_xasprintf("%s/%s", wd && *wd ? wd : "", m->target);
    char *clean;
    ld_error *e2 = NULL;
    int r = ld_path_clean(abs, true, &clean, &e2);
    free(abs);
    if (r < 0) {
      ld_error_free(e2);
      return ld_err(err, EINVAL, "%s: --mount target %s is not a clean path", what, m->target);
    }
    free(m->target);
    m->target = ld_xasprintf("/%s", clean);
    free(clean);
    if (!strcmp(m->target, "/")) return ld_err(err, EINVAL, "%s: --mount target cannot be /", what);
  }
  bx_mount_describe(m, desc);
  switch (m->type) {
    case BX_MOUNT_BIND: return resolve_bind(b, s, in, m, ro, desc, what, err);
    case BX_MOUNT_CACHE: {
      if (!m->from) return 0;
      bl_stage *from;
      int r = load_from(b, s, m->from, &from, err);
      ro->from = ld_xrealloc(ro->from, (ro->n_from + 1) * sizeof *ro->from);
      ro->from[ro->n_from++] = from;
      return r < 0 ? ld_error_wrap(err, "%s --mount from=%s", what, m->from) : 0;
    }
    case BX_MOUNT_TMPFS: return 0;
    case BX_MOUNT_SECRET: {
      int r = secret_lookup(b, m->id, &m->data, &m->data_len, err);
      if (r < 0) return ld_error_wrap(err, "%s", what);
      if (r == 0 && m->required)
        return ld_err(err, ENOENT, "%s: secret %s is required but was not given (--secret id=%s,src=FILE)", what, m->id, m->id);
      if (r == 0) m->skip = true;
      else if (m->env) {
        run_opts_env(ro, ld_xasprintf("%s=%.*s", m->env, (int) m->data_len, m->data));
      }
      return 0;
    }
    case BX_MOUNT_SSH: {
      m->file = ssh_lookup(b, m->id);
      struct stat st;
      if (m->file && (stat(m->file, &st) < 0 || !S_ISSOCK(st.st_mode)))
        return ld_err(err, ENOENT, "%s: --ssh %s: %s is not an ssh agent socket", what, m->id, m->file);
      if (!m->file && m->required)
        return ld_err(err, ENOENT, "%s: ssh agent %s is required but was not given (--ssh %s, with $SSH_AUTH_SOCK set)", what, m->id, m->id);
      if (!m->file) m->skip = true;
      else if (!strcmp(m->id, "default")) run_opts_env(ro, ld_xasprintf("SSH_AUTH_SOCK=%s", m->target));
      return 0;
    }
  }
  return 0;
}

/* On a cache miss, before the RUN: the directories and locks behind its mounts. */
static int materialize_mounts(builder *b, run_opts *ro, ld_error **err) {
  size_t k = 0;
  for (size_t i = 0; i < ro->n; i++) {
    bx_mount *m = &ro->m[i];
    int r = 0;
    if (m->type == BX_MOUNT_BIND && m->from) r = bind_stage_root(b, ro->from[k++], m, err);
    else if (m->type == BX_MOUNT_BIND) r = bind_context_root(b, m, err);
    else if (m->type == BX_MOUNT_CACHE) r = resolve_cache(b, m, m->from ? ro->from[k++] : NULL, err);
    else if (m->type == BX_MOUNT_SSH && !m->skip && !(m->root = mktemp_dir(b, "ssh", err))) r = -1;
    if (r < 0) return -1;
  }
  return 0;
}

/* Parses and resolves the flags of a RUN; their key material goes to desc. */
static int prepare_run(builder *b, bl_stage *s, const ld_df_instr *in, run_opts *ro, ld_buf *desc, ld_error **err) {
  char *what = ld_xasprintf("%s:%d RUN", b->df->path, in->line);
  int r = 0;
  ro->network_none = b->o->network_none;
  for (size_t i = 0; r == 0 && i < in->n_flags; i++) {
    const char *k = in->flags[i].key;
    char *v;
    if (expand(b, s, in, in->flags[i].value, &v, err) < 0) { r = -1; break; }
    if (!strcmp(k, "network")) {
      if (!strcmp(v, "none")) ro->network_none = true;
      else if (!strcmp(v, "host")) ro->network_none = false;
      else if (strcmp(v, "default")) r = ld_err(err, EINVAL, "%s: --network=%s: none, host or default", what, v);
    } else if (!strcmp(k, "security")) {
      if (!strcmp(v, "insecure"))
        r = ld_err(err, LD_EUNSUPPORTED, "%s: --security=insecure needs the security.insecure entitlement, which lading does not grant", what);
      else if (strcmp(v, "sandbox")) r = ld_err(err, EINVAL, "%s: --security=%s: sandbox or insecure", what, v);
    } else if (!strcmp(k, "mount")) {
      ro->m = ld_xrealloc(ro->m, (ro->n + 1) * sizeof *ro->m);
      if (bx_mount_parse(v, &ro->m[ro->n], err) < 0) r = ld_error_wrap(err, "%s", what);
      else {
        ro->n++;
        r = resolve_mount(b, s, in, &ro->m[ro->n - 1], ro, desc, what, err);
      }
    }
    free(v);
  }
  ld_buf_printf(desc, "\nnet=%d", ro->network_none);
  free(what);
  return r;
}

/* BuildKit's predefined proxy ARGs: a --build-arg HTTP_PROXY=... reaches every RUN without an ARG
 * line, and stays out of the step key and the history (a proxy does not change the result). */
static void add_proxy_args(builder *b, char ***env, size_t *n) {
  static const char *names[] = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                                "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy"};
  for (size_t i = 0; i < LD_ARRAY_SIZE(names); i++) {
    const char *v;
    if (!kv_has(&b->build_args, names[i], &v) || !v) continue;
    size_t len = strlen(names[i]);
    bool set = false;
    for (size_t k = 0; k < *n; k++)
      if (!strncmp((*env)[k], names[i], len) && (*env)[k][len] == '=') set = true;
    if (set) continue;
    *env = ld_xrealloc(*env, (*n + 2) * sizeof **env);
    (*env)[(*n)++] = ld_xasprintf("%s=%s", names[i], v);
    (*env)[*n] = NULL;
  }
}

static int run_step(builder *b, bl_stage *s, const ld_df_instr *in, copy_job *cj, const run_opts *ro,
                    const char *upper, ld_error **err) {
  char *work = mktemp_dir(b, "work", err), *mnt = work ? mktemp_dir(b, "mnt", err) : NULL;
  char **low = NULL;
  size_t n_low = 0;
  int r = mnt ? lowers(b, s, &low, &n_low, err) : -1;
  bx_overlay ov = {(const char **) low, n_low, upper, work, b->empty};
  if (r == 0 && in->cmd == LD_DF_RUN) {
    bx_run run = {.ov = ov, .mnt = mnt, .argv = run_argv(s, in), .env = run_env(s),
                  .user = ld_json_str(s->cfg, "User"), .workdir = ld_json_str(s->cfg, "WorkingDir"),
                  .network_none = ro->network_none, .mounts = ro->m, .n_mounts = ro->n, .litter_fd = -1,
                  .hosts_file = b->hosts, .resolv_file = "/etc/resolv.conf", .quiet = b->o->quiet};
    size_t n_env = 0;
    while (run.env[n_env]) n_env++;
    run.env = ld_xrealloc(run.env, (n_env + ro->n_env + 1) * sizeof *run.env);
    for (size_t i = 0; i < ro->n_env; i++) run.env[n_env++] = ld_xstrdup(ro->env[i]);
    run.env[n_env] = NULL;
    add_proxy_args(b, &run.env, &n_env);
    char *secrets = NULL, *litter = NULL;
    if (ro->n) {
      secrets = mktemp_dir(b, "secrets", err);
      litter = ld_xasprintf("%s/litter-XXXXXX", b->tmp);
      run.litter_fd = mkostemp(litter, O_CLOEXEC);
      run.secrets_dir = secrets;
      if (!secrets || run.litter_fd < 0) r = ld_err_sys(err, errno, "mkstemp %s", litter);
    }
    if (r == 0) r = bx_sandbox_run(&run, err);
    if (run.litter_fd >= 0) {
      char *text = NULL;
      size_t len;
      if (ld_read_file(litter, 1 << 20, &text, &len, NULL) == 0) bx_clean_mount_points(upper, (const char *const *) low, n_low, text);
      free(text);
      close(run.litter_fd);
      unlink(litter);
    }
    free(litter);
    if (secrets) { rmdir(secrets); free(secrets); }
    if (r == 0 && run.exit_code != 0) {
      char *t = short_text(in->original, 200);
      r = ld_err(err, EIO, "%s:%d: %s failed with exit code %d; last output:\n%s", b->df->path, in->line, t,
                 run.exit_code, run.tail);
      free(t);
    }
    if (r < 0 && run.exit_code == 0) ld_error_wrap(err, "%s:%d", b->df->path, in->line);
    strv_free_null(run.argv);
    strv_free_null(run.env);
    bx_clean_litter(upper);
  } else if (r == 0) {
    cj->ov = ov;
    cj->mnt = mnt;
    r = bx_in_mount_ns(copy_child, cj, err);
  }
  for (size_t i = 0; i < n_low; i++) free(low[i]);
  free(low);
  if (work) { ld_rm_rf(work, NULL); free(work); }
  if (mnt) { rmdir(mnt); free(mnt); }
  return r;
}

static int do_layer_step(builder *b, bl_stage *s, bool squash, const ld_df_instr *in, ld_error **err) {
  double t0 = now_s();
  ld_buf desc = {0};
  copy_job cj = {.b = b, .s = s, .in = in};
  run_opts ro = {0};
  int r = 0;
  if (in->cmd == LD_DF_WORKDIR) {
    /* the config change, then the directory, in a layer of its own when it had to be made */
    if (do_meta(b, s, in, err) < 0) return -1;
    const char *wd = ld_json_str(s->cfg, "WorkingDir"), *u = ld_json_str(s->cfg, "User");
    cj.mkdir_path = ld_xstrdup(wd);
    cj.copy = (bx_copy){.uid = -1, .gid = -1, .chmod = -1, .chown_names = u && *u ? ld_xstrdup(u) : NULL,
                        .what = ld_xasprintf("%s:%d WORKDIR for USER %s", b->df->path, in->line, u && *u ? u : "root")};
    ld_buf_printf(&desc, "WORKDIR %s user=%s", wd, u ? u : "");
  } else if (in->cmd == LD_DF_RUN) {
    if (prepare_run(b, s, in, &ro, &desc, err) < 0) {
      run_opts_clear(&ro);
      ld_buf_free(&desc);
      return -1;
    }
    char **argv = run_argv(s, in), **env = run_env(s);
    json_t *j = json_array();
    for (char **p = argv; *p; p++) json_array_append_new(j, json_string(*p));
    for (char **p = env; *p; p++) json_array_append_new(j, json_string(*p));
    char *t = json_text(j);
    const char *u = ld_json_str(s->cfg, "User"), *w = ld_json_str(s->cfg, "WorkingDir");
    ld_buf_printf(&desc, "RUN %s user=%s wd=%s", t, u ? u : "", w ? w : "");
    free(t);
    json_decref(j);
    strv_free_null(argv);
    strv_free_null(env);
  } else if (prepare_copy(b, s, in, &cj, &desc, err) < 0) {
    copy_job_clear(&cj);
    ld_buf_free(&desc);
    return -1;
  }
  char key[LD_DIGEST_MAX];
  snprintf(key, sizeof key, "%s", s->key);
  key_next(key, desc.data);
  ld_buf_free(&desc);
  json_t *hit = squash ? NULL : cache_get(b, key);
  char *created = NULL;
  if (hit) {
    created = ld_xstrdup(ld_json_str(hit, "created") ? ld_json_str(hit, "created") : "");
    json_t *jl = json_object_get(hit, "layer");
    if (json_is_object(jl)) {
      bl_layer l = {.size = ld_json_int(jl, "size", 0), .media_type = (char *) ld_json_str(jl, "media_type"),
                    .line = in->line, .created_by = in->original};
      snprintf(l.digest, sizeof l.digest, "%s", ld_json_str(jl, "digest"));
      snprintf(l.diff_id, sizeof l.diff_id, "%s", ld_json_str(jl, "diff_id"));
      add_layer(s, &l);
    }
    add_history(s, created, in->original, !json_is_object(jl));
    json_decref(hit);
    b->res->cached++;
    progress(b, in, "cached", now_s() - t0);
  } else {
    if (!b->o->quiet && in->cmd == LD_DF_RUN) {
      char *t = short_text(in->original, 60);
      fprintf(stderr, "STEP %zu/%zu line %d: %s [running]\n", b->step, b->total, in->line, t);
      free(t);
    }
    char *upper = squash ? ld_xstrdup(s->squash_upper) : mktemp_dir(b, "upper", err);
    r = upper ? 0 : -1;
    if (r == 0 && cj.url) r = fetch_url(b, &cj, err);
    if (r == 0 && ro.n) r = materialize_mounts(b, &ro, err);
    if (r == 0) {
      /* in squash mode the stage's own layers are not lowers: they are all in this upper */
      r = run_step(b, s, in, &cj, &ro, upper, err);
    }
    created = created_now(b);
    if (r == 0 && !squash) {
      bl_layer l = {.line = in->line, .created_by = in->original};
      bool empty;
      r = commit_layer(b, upper, &l, &empty, err);
      if (r == 0) {
        if (!empty) add_layer(s, &l);
        add_history(s, created, in->original, empty);
        cache_put(b, key, created, empty ? NULL : &l);
      }
    } else if (r == 0) {
      add_history(s, created, in->original, true);
    } else if (upper && !squash) {
      ld_rm_rf(upper, NULL);
    }
    free(upper);
    if (r == 0) progress(b, in, "done", now_s() - t0);
  }
  free(created);
  snprintf(s->key, sizeof s->key, "%s", key);
  copy_job_clear(&cj);
  run_opts_clear(&ro);
  return r;
}

static int do_meta_step(builder *b, bl_stage *s, const ld_df_instr *in, ld_error **err) {
  double t0 = now_s();
  if (in->cmd == LD_DF_ARG) {
    if (do_arg(b, s, in, err) < 0) return -1;
  } else if (do_meta(b, s, in, err) < 0) {
    return -1;
  }
  char *cfg = json_text(s->cfg);
  ld_buf desc = {0};
  ld_buf_printf(&desc, "%s\n%s", in->original, cfg);
  free(cfg);
  for (size_t i = 0; i < s->args.n; i++) ld_buf_printf(&desc, "\nARG %s=%s", s->args.k[i], s->args.v[i] ? s->args.v[i] : "");
  key_next(s->key, desc.data);
  ld_buf_free(&desc);
  if (in->cmd != LD_DF_ARG) {
    json_t *hit = cache_get(b, s->key);
    char *created = hit && ld_json_str(hit, "created") ? ld_xstrdup(ld_json_str(hit, "created")) : created_now(b);
    if (!hit) cache_put(b, s->key, created, NULL);
    add_history(s, created, in->original, true);
    free(created);
    if (hit) json_decref(hit);
  }
  b->res->cached++;
  progress(b, in, "config", now_s() - t0);
  return 0;
}

/* ---- stages ---- */

static int exec_instr(builder *b, bl_stage *s, bool squash, const ld_df_instr *in, ld_error **err) {
  if (in->cmd == LD_DF_RUN || in->cmd == LD_DF_COPY || in->cmd == LD_DF_ADD || in->cmd == LD_DF_WORKDIR)
    return do_layer_step(b, s, squash, in, err);
  return do_meta_step(b, s, in, err);
}

/* The base's ONBUILD triggers run right after FROM, in order, and are not inherited further. */
static int run_triggers(builder *b, bl_stage *s, bool squash, const ld_df_instr *from, ld_error **err) {
  json_t *ob = json_object_get(s->cfg, "OnBuild");
  if (!json_is_array(ob) || !json_array_size(ob)) {
    json_object_del(s->cfg, "OnBuild");
    return 0;
  }
  json_incref(ob);
  json_object_del(s->cfg, "OnBuild");
  size_t i;
  json_t *t;
  int r = 0;
  json_array_foreach(ob, i, t) {
    if (r < 0) break;
    const char *text = json_string_value(t);
    if (!text) continue;
    char *src = ld_xasprintf("FROM scratch\n%s\n", text);
    char *what = ld_xasprintf("%s:%d (ONBUILD trigger)", b->df->path, from->line);
    ld_dockerfile *tdf = NULL;
    r = ld_dockerfile_parse(src, strlen(src), what, &tdf, err);
    if (r == 0 && tdf->n_instrs != 2) r = ld_err(err, LD_EFORMAT, "%s: \"%s\" is not one instruction", what, text);
    if (r == 0) {
      ld_df_instr *in = &tdf->instrs[1];
      in->line = from->line;
      if (!b->o->quiet) fprintf(stderr, "ONBUILD trigger from the base: %s\n", text);
      r = exec_instr(b, s, squash, in, err);
    }
    ld_dockerfile_free(tdf);
    free(src);
    free(what);
  }
  json_decref(ob);
  return r;
}

static int build_stage(builder *b, size_t idx, ld_error **err) {
  bl_stage *s = &b->stages[idx];
  if (s->built) return 0;
  const ld_df_stage *st = &b->df->stages[idx];
  bool squash = b->o->squash && (int) idx == b->target;
  int r = 0;
  size_t base_layers = 0;
  for (size_t k = st->first; r == 0 && k < st->first + st->count; k++) {
    const ld_df_instr *in = &b->df->instrs[k];
    b->step++;
    b->res->steps++;
    if (in->cmd == LD_DF_FROM) {
      double t0 = now_s();
      r = do_from(b, idx, in, err);
      if (r == 0 && b->o->timestamp >= 0) { /* layers made with normalised times differ */
        char t[40];
        snprintf(t, sizeof t, "timestamp=%lld", (long long) b->o->timestamp);
        key_next(s->key, t);
      }
      if (r == 0) b->res->cached++;
      if (r == 0) progress(b, in, "base", now_s() - t0);
      base_layers = s->n_layers;
      if (r == 0 && squash) {
        s->squash_upper = mktemp_dir(b, "squash", err);
        if (!s->squash_upper) r = -1;
      }
      if (r == 0) r = run_triggers(b, s, squash, in, err);
    } else {
      r = exec_instr(b, s, squash, in, err);
    }
  }
  if (r == 0 && squash) {
    bl_layer l = {.line = b->df->instrs[st->first].line, .created_by = "squashed"};
    bool empty;
    r = commit_layer(b, s->squash_upper, &l, &empty, err);
    if (r == 0 && !empty) add_layer(s, &l);
    (void) base_layers;
  }
  s->built = r == 0;
  return r;
}

/* ---- the image ---- */

static char *latest_created(bl_stage *s, builder *b) {
  if (b->o->timestamp >= 0) return created_now(b);
  const char *best = NULL;
  size_t i;
  json_t *h;
  json_array_foreach(s->history, i, h) {
    const char *c = ld_json_str(h, "created");
    if (c && (!best || strcmp(c, best) > 0)) best = c;
  }
  return best ? ld_xstrdup(best) : created_now(b);
}

/* A rebuild from cache makes the same config and manifest: skip the fsyncs of writing them again. */
static int put_small_blob(builder *b, const char *text, char digest[LD_DIGEST_MAX], ld_error **err) {
  ld_digest_buf(LD_SHA256, text, strlen(text), digest);
  if (ld_store_has_blob(b->store, digest)) return 0;
  return ld_store_put_blob_mem(b->store, text, strlen(text), digest, err);
}

static int write_image(builder *b, bl_stage *s, ld_error **err) {
  for (size_t i = 0; i < b->o->n_labels; i++) {
    const char *eq = strchr(b->o->labels[i], '=');
    char *k = eq ? ld_xstrndup(b->o->labels[i], (size_t) (eq - b->o->labels[i])) : ld_xstrdup(b->o->labels[i]);
    json_object_set_new(obj_child(s->cfg, "Labels"), k, json_string(eq ? eq + 1 : ""));
    free(k);
  }
  char *created = latest_created(s, b);
  json_t *diff_ids = json_array(), *layers = json_array();
  for (size_t i = 0; i < s->n_layers; i++) {
    json_array_append_new(diff_ids, json_string(s->layers[i].diff_id));
    json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType", s->layers[i].media_type, "digest",
                                            s->layers[i].digest, "size", (json_int_t) s->layers[i].size));
    b->res->layers_bytes += (uint64_t) s->layers[i].size;
  }
  b->res->n_layers = s->n_layers;
  json_t *config = json_pack("{s:s, s:s, s:s, s:O, s:{s:s, s:o}, s:O}", "created", created, "architecture", s->arch,
                             "os", s->os, "config", s->cfg, "rootfs", "type", "layers", "diff_ids", diff_ids,
                             "history", s->history);
  char *cfg_text = ld_json_dump_compact(config);
  json_decref(config);
  free(created);
  int r = put_small_blob(b, cfg_text, b->res->config_digest, err);
  json_t *m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType", LD_MT_OCI_MANIFEST,
                        "config", "mediaType", LD_MT_OCI_CONFIG, "digest", b->res->config_digest, "size",
                        (json_int_t) strlen(cfg_text), "layers", layers);
  free(cfg_text);
  if (s->base_name && s->base_digest)
    json_object_set_new(m, "annotations", json_pack("{s:s, s:s}", "org.opencontainers.image.base.name", s->base_name,
                                                    "org.opencontainers.image.base.digest", s->base_digest));
  char *mtext = ld_json_dump_compact(m);
  json_decref(m);
  if (r == 0) r = put_small_blob(b, mtext, b->res->digest, err);
  ld_descriptor d = {.media_type = LD_MT_OCI_MANIFEST, .digest = b->res->digest, .size = (int64_t) strlen(mtext)};
  free(mtext);
  for (size_t i = 0; r == 0 && i < b->o->n_tags; i++) {
    ld_descriptor cur = {0};
    bool same = ld_store_resolve(b->store, b->o->tags[i], &cur, NULL, NULL) == 0 && cur.digest &&
                !strcmp(cur.digest, d.digest);
    ld_descriptor_clear(&cur);
    if (!same) r = ld_store_tag(b->store, b->o->tags[i], &d, err);
  }
  if (r == 0 && b->o->iidfile) r = ld_atomic_write(b->o->iidfile, b->res->digest, strlen(b->res->digest), 0644, err);
  return r;
}

/* ---- waste report ---- */

/* Paths that only hold caches a build leaves behind, and how to avoid them. */
static const char *known[][2] = {
    {"var/lib/apt/lists", "add `&& rm -rf /var/lib/apt/lists/*` to the same RUN, or give it "
                          "`--mount=type=cache,target=/var/lib/apt/lists`"},
    {"var/cache/apt/archives", "run `apt-get clean` in the same RUN, or give it "
                               "`--mount=type=cache,target=/var/cache/apt`"},
    {"var/cache/apk", "use `apk add --no-cache`, or `RUN --mount=type=cache,target=/var/cache/apk`"},
    {"root/.cache/pip", "use `pip install --no-cache-dir`, or `RUN --mount=type=cache,target=/root/.cache/pip`"},
    {"usr/local/share/.cache/yarn", "run `yarn cache clean` in the same RUN"},
    {"root/.npm", "run `npm cache clean --force` in the same RUN"},
    {"var/cache/yum", "run `yum clean all` in the same RUN"},
    {"var/cache/dnf", "run `dnf clean all` in the same RUN"},
    {"tmp", "remove temporary files in the step that made them"},
};
static const char *FIX_LATER = "delete or overwrite it in the same step that creates it";

static uint64_t du(int dfd, const char *rel) {
  struct stat st;
  if (fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0) return 0;
  if (S_ISREG(st.st_mode)) return (uint64_t) st.st_size;
  if (!S_ISDIR(st.st_mode)) return 0;
  int fd = openat(dfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  DIR *d = fdopendir(fd);
  if (!d) { close(fd); return 0; }
  uint64_t total = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) total += du(dirfd(d), de->d_name);
  closedir(d);
  return total;
}

static void add_waste(builder *b, const bl_layer *l, const char *path, uint64_t bytes, const char *fix) {
  ld_build_result *res = b->res;
  res->waste = ld_xrealloc(res->waste, (res->n_waste + 1) * sizeof *res->waste);
  res->waste[res->n_waste++] = (ld_build_waste){l->line, short_text(l->created_by ? l->created_by : "", 70),
                                                ld_xasprintf("/%s", path), bytes, fix};
}

/* Entries of a later layer (lfd) that hide what the earlier one (efd) holds at the same path:
 * whiteouts, replaced files, opaque directories. */
static void shadow_walk(builder *b, const bl_layer *l, int efd, int lfd, const char *rel, int depth) {
  int dfd = *rel ? openat(lfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : dup(lfd);
  if (dfd < 0 || depth > 64) {
    if (dfd >= 0) close(dfd);
    return;
  }
  char v[4];
  if (*rel && fgetxattr(dfd, "trusted.overlay.opaque", v, sizeof v) >= 1 && v[0] == 'y') {
    uint64_t n = du(efd, rel);
    if (n >= 4096) add_waste(b, l, rel, n, FIX_LATER);
    close(dfd);
    return;
  }
  DIR *d = fdopendir(dfd);
  if (!d) { close(dfd); return; }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    char *path = *rel ? ld_xasprintf("%s/%s", rel, de->d_name) : ld_xstrdup(de->d_name);
    struct stat st;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISDIR(st.st_mode)) {
        shadow_walk(b, l, efd, lfd, path, depth + 1);
      } else {
        uint64_t n = du(efd, path);
        if (n >= 4096) add_waste(b, l, path, n, FIX_LATER);
      }
    }
    free(path);
  }
  closedir(d);
}

static void waste_scan(builder *b, bl_stage *s) {

  for (size_t i = 0; i < s->n_layers; i++) {
    const bl_layer *l = &s->layers[i];
    if (!l->line) continue;
    char *dir = layer_dir(b, l->diff_id);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) continue;
    for (size_t k = 0; k < LD_ARRAY_SIZE(known); k++) {
      uint64_t n = du(fd, known[k][0]);
      if (n >= 4096) add_waste(b, l, known[k][0], n, known[k][1]);
    }
    /* files this layer adds that a later layer deletes or replaces */
    for (size_t j = i + 1; j < s->n_layers; j++) {
      char *later = layer_dir(b, s->layers[j].diff_id);
      int lfd = open(later, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      free(later);
      if (lfd < 0) continue;
      shadow_walk(b, l, fd, lfd, "", 0);
      close(lfd);
    }
    close(fd);
  }
}

/* The report from lib/analyze's per-layer changes (dive's sizes): bytes a later layer removes or
 * replaces are charged to the latest earlier layer that added them; bytes a layer adds under a
 * known cache path are charged to that layer. Only layers this build made (with a line) count. */
static int cmp_change(const void *key, const void *elem) {
  return strcmp(key, ((const ld_an_change *) elem)->path);
}

/* Latest layer before j with a change at path or below it. */
static int adder_of(const ld_analysis *a, size_t j, const char *path) {
  size_t plen = strlen(path);
  for (size_t i = j; i-- > 0;) {
    const ld_an_layer *L = &a->layers[i];
    if (bsearch(path, L->changes, L->n_changes, sizeof *L->changes, cmp_change)) return (int) i;
    for (size_t k = 0; k < L->n_changes; k++) /* a directory: anything under it */
      if (!strncmp(L->changes[k].path, path, plen) && L->changes[k].path[plen] == '/' &&
          L->changes[k].kind != LD_AN_REMOVED)
        return (int) i;
  }
  return -1;
}

/* Feeds one of our layers (from the store) to the analyzer. */
static int feed_layer(builder *b, ld_analyzer *an, const bl_layer *l, ld_error **err) {
  ld_reader *blob;
  ld_layer_reader *lr;
  if (ld_store_open_blob(b->store, l->digest, &blob, err) < 0) return -1;
  if (ld_layer_open(blob, l->media_type, l->digest, "layer", &lr, err) < 0) return -1;
  ld_an_layer_meta meta = {.digest = l->digest, .diff_id = l->diff_id, .media_type = l->media_type,
                           .blob_size = (uint64_t) l->size, .created_by = l->created_by};
  ld_analyzer_begin_layer(an, &meta);
  ld_layer_entry e;
  int r;
  while ((r = ld_layer_next(lr, &e, err)) == 1) {
    mode_t t = archive_entry_filetype(e.ae);
    const char *hl = archive_entry_hardlink(e.ae), *sl = archive_entry_symlink(e.ae);
    ld_an_entry ae = {.path = e.path, .whiteout = e.whiteout, .opaque = e.opaque,
                      .type = hl ? LD_AN_HARDLINK : t == AE_IFREG ? LD_AN_REG : t == AE_IFDIR ? LD_AN_DIR
                              : t == AE_IFLNK ? LD_AN_SYMLINK : LD_AN_OTHER,
                      .size = (uint64_t) archive_entry_size(e.ae), .mode = archive_entry_mode(e.ae),
                      .uid = (uint32_t) archive_entry_uid(e.ae), .gid = (uint32_t) archive_entry_gid(e.ae),
                      .link = hl ? hl : sl};
    ld_analyzer_add_entry(an, &ae);
  }
  if (r == 0) r = ld_analyzer_end_layer(an, err);
  ld_layer_close(lr);
  return r;
}

/* Only the layers this build made are read: a charge always goes to one of them, and the base
 * (often most of the bytes) would cost a full read on every build. */
static int waste_from_analysis(builder *b, bl_stage *s, ld_error **err) {
  size_t first = 0;
  while (first < s->n_layers && !s->layers[first].line) first++;
  ld_analyze_opts ao = {.changes_layer = -1, .all_changes = true};
  ld_analyzer *an = ld_analyzer_new(&ao);
  int r = 0;
  for (size_t i = first; r == 0 && i < s->n_layers; i++) r = feed_layer(b, an, &s->layers[i], err);
  if (r < 0) {
    ld_analyzer_free(an);
    return -1;
  }
  ld_analysis *a = ld_analyzer_finish(an);
  ld_analyzer_free(an);
  bl_layer *ours = s->layers + first;
  if (a->n_layers != s->n_layers - first) {
    ld_analysis_free(a);
    return ld_err(err, EINVAL, "analysis has %zu layers, the build %zu", a->n_layers, s->n_layers - first);
  }
  for (size_t j = 0; j < a->n_layers; j++) {
    const ld_an_layer *L = &a->layers[j];
    uint64_t cache_bytes[LD_ARRAY_SIZE(known)] = {0};
    for (size_t k = 0; k < L->n_changes; k++) {
      const ld_an_change *c = &L->changes[k];
      if (c->kind != LD_AN_REMOVED && c->type != LD_AN_DIR)
        for (size_t q = 0; q < LD_ARRAY_SIZE(known); q++) {
          size_t n = strlen(known[q][0]);
          if (!strncmp(c->path + 1, known[q][0], n) && c->path[1 + n] == '/') cache_bytes[q] += c->size;
        }
      if (c->kind == LD_AN_ADDED || j == 0) continue;
      uint64_t bytes = c->kind == LD_AN_REMOVED ? c->size : c->prev_size;
      int i = adder_of(a, j, c->path);
      if (i >= 0 && bytes >= 4096) add_waste(b, &ours[i], c->path + 1, bytes, FIX_LATER);
    }
    for (size_t q = 0; q < LD_ARRAY_SIZE(known); q++)
      if (cache_bytes[q] >= 4096) add_waste(b, &ours[j], known[q][0], cache_bytes[q], known[q][1]);
  }
  ld_analysis_free(a);
  return 0;
}

static int cmp_waste(const void *x, const void *y) {
  const ld_build_waste *a = x, *c = y;
  if (a->line != c->line) return a->line - c->line;
  return strcmp(a->path, c->path);
}

/* A rebuild from cache makes the same manifest: its report is kept by manifest digest, so a warm
 * rebuild does not read the image again. */
static char *report_path(builder *b) {
  return ld_xasprintf("%s/reports/%s.json", b->cache, ld_digest_hex(b->res->digest));
}

static bool waste_from_cache(builder *b) {
  char *p = report_path(b), *buf = NULL;
  size_t len;
  json_t *j = NULL;
  if (ld_read_file(p, 4 << 20, &buf, &len, NULL) == 0) ld_json_parse(buf, len, p, &j, NULL);
  free(buf);
  free(p);
  if (!json_is_array(j)) {
    if (j) json_decref(j);
    return false;
  }
  size_t i;
  json_t *w;
  json_array_foreach(j, i, w) {
    const char *fix = ld_json_str(w, "fix"), *stable = FIX_LATER;
    for (size_t q = 0; fix && q < LD_ARRAY_SIZE(known); q++)
      if (!strcmp(fix, known[q][1])) stable = known[q][1];
    bl_layer l = {.line = (int) ld_json_int(w, "line", 0), .created_by = (char *) ld_json_str(w, "instruction")};
    const char *path = ld_json_str(w, "path");
    add_waste(b, &l, path && path[0] == '/' ? path + 1 : "", (uint64_t) ld_json_int(w, "bytes", 0), stable);
  }
  json_decref(j);
  return true;
}

static void waste_to_cache(builder *b) {
  json_t *j = json_array();
  for (size_t i = 0; i < b->res->n_waste; i++) {
    const ld_build_waste *w = &b->res->waste[i];
    json_array_append_new(j, json_pack("{s:i, s:s, s:s, s:I, s:s}", "line", w->line, "instruction", w->instruction,
                                       "path", w->path, "bytes", (json_int_t) w->bytes, "fix", w->fix));
  }
  char *text = ld_json_dump_compact(j), *dir = ld_xasprintf("%s/reports", b->cache), *p = report_path(b);
  if (ld_mkdir_p(dir, 0700, NULL) == 0) ld_atomic_write(p, text, strlen(text), 0644, NULL);
  free(text);
  free(dir);
  free(p);
  json_decref(j);
}

static void waste_report(builder *b, bl_stage *s) {
  if (waste_from_cache(b)) return;
  ld_error *e = NULL;
  if (waste_from_analysis(b, s, &e) < 0) {
    ld_debug("build report: analysis failed (%s); scanning the layer directories", e ? e->msg : "?");
    ld_error_free(e);
    ld_build_result_clear(b->res);
    waste_scan(b, s);
  }
  if (b->res->n_waste) qsort(b->res->waste, b->res->n_waste, sizeof *b->res->waste, cmp_waste);
  waste_to_cache(b);
}

/* ---- setup ---- */

static int parse_build_args(builder *b, ld_error **err) {
  for (size_t i = 0; i < b->o->n_build_args; i++) {
    const char *a = b->o->build_args[i], *eq = strchr(a, '=');
    if (eq) {
      char *k = ld_xstrndup(a, (size_t) (eq - a));
      kv_set(&b->build_args, k, eq + 1);
      free(k);
    } else if (getenv(a)) {
      kv_set(&b->build_args, a, getenv(a));
    }
  }
  static const char *platform_args[][2] = {{"TARGETPLATFORM", "linux/amd64"}, {"TARGETOS", "linux"}, {"TARGETARCH", "amd64"},
                                           {"BUILDPLATFORM", "linux/amd64"}, {"BUILDOS", "linux"}, {"BUILDARCH", "amd64"}};
  for (size_t i = 0; i < LD_ARRAY_SIZE(platform_args); i++) kv_set(&b->meta_args, platform_args[i][0], platform_args[i][1]);
  return 0;
}

/* Scratch directories of builds that died (killed, crashed): their pid is in the name. */
static void remove_stale(const char *tmpbase) {
  DIR *d = opendir(tmpbase);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    long pid;
    if (sscanf(de->d_name, "build-%ld-", &pid) != 1 || pid <= 0) continue;
    if (kill((pid_t) pid, 0) == 0 || errno != ESRCH) continue;
    char *p = ld_path_join(tmpbase, de->d_name);
    ld_rm_rf(p, NULL);
    free(p);
  }
  closedir(d);
}

static int setup_dirs(builder *b, ld_error **err) {
  b->cache = ld_xasprintf("%s/build-cache", ld_store_root(b->store));
  /* Unpacked layers are content-addressed, so several stores may share them
   * ($LADING_BUILD_LAYERS); the build's scratch space sits beside them, on the same file system,
   * so a finished upper directory is renamed into place, never copied. */
  const char *shared = getenv("LADING_BUILD_LAYERS");
  char *steps = ld_xasprintf("%s/steps", b->cache);
  b->layers = shared && *shared ? ld_xstrdup(shared) : ld_xasprintf("%s/layers", b->cache);
  char *tmpbase = shared && *shared ? ld_xasprintf("%s/.tmp", shared) : ld_xasprintf("%s/tmp", b->cache);
  int r = ld_mkdir_p(steps, 0700, err);
  if (r == 0) r = ld_mkdir_p(b->layers, 0700, err);
  if (r == 0) r = ld_mkdir_p(tmpbase, 0700, err);
  free(steps);
  if (r == 0) {
    remove_stale(tmpbase);
    b->tmp = ld_xasprintf("%s/build-%ld-XXXXXX", tmpbase, (long) getpid());
    if (!mkdtemp(b->tmp)) r = ld_err_sys(err, errno, "mkdtemp %s", b->tmp);
  }
  free(tmpbase);
  if (r == 0) {
    b->empty = ld_xasprintf("%s/empty", b->tmp);
    b->hosts = ld_xasprintf("%s/hosts", b->tmp);
    const char *hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tlading\n";
    if (mkdir(b->empty, 0755) < 0) r = ld_err_sys(err, errno, "mkdir %s", b->empty);
    else { /* a scratch file of this build: no need for an atomic, fsynced write */
      int fd = open(b->hosts, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0 || ld_write_all(fd, hosts, strlen(hosts)) < 0) r = ld_err_sys(err, errno, "write %s", b->hosts);
      if (fd >= 0) close(fd);
    }
  }
  return r;
}

static char *find_dockerfile(const ld_build_opts *o) {
  if (o->dockerfile) return ld_xstrdup(o->dockerfile);
  char *p = ld_path_join(o->context_dir, "Dockerfile");
  if (ld_path_exists(p)) return p;
  free(p);
  return ld_path_join(o->context_dir, "Containerfile");
}

int ld_build(ld_store *store, const ld_build_opts *o, ld_build_result *res, ld_error **err) {
  memset(res, 0, sizeof *res);
  if (o->platform && strcmp(o->platform, "linux/amd64"))
    return ld_err(err, LD_EUNSUPPORTED, "--platform %s: only the host platform (linux/amd64) can be built", o->platform);
  builder b = {.store = store, .o = o, .res = res};
  char *dfpath = find_dockerfile(o);
  int r = ld_dockerfile_load(dfpath, &b.df, err);
  if (r < 0) {
    free(dfpath);
    return -1;
  }
  b.context = realpath(o->context_dir, NULL);
  if (!b.context) r = ld_err_sys(err, errno, "build context %s", o->context_dir);
  if (r == 0) r = ld_ignore_load_for(b.context, dfpath, &b.ig, err);
  free(dfpath);
  if (r == 0) r = parse_build_args(&b, err);
  b.target = (int) b.df->n_stages - 1;
  if (r == 0 && o->target && (b.target = ld_df_stage_index(b.df, o->target)) < 0)
    r = ld_err(err, LD_ENOTFOUND, "--target %s: no such stage in %s", o->target, b.df->path);
  if (r == 0) r = setup_dirs(&b, err);
  b.stages = ld_xcalloc(b.df->n_stages, sizeof *b.stages);
  for (size_t i = 0; r == 0 && i < b.df->n_meta_args; i++) {
    b.step++;
    r = do_arg(&b, NULL, &b.df->instrs[i], err);
  }
  if (r == 0) {
    b.total = b.df->n_meta_args;
    for (int i = 0; i <= b.target; i++) b.total += b.df->stages[i].count;
    r = build_stage(&b, (size_t) b.target, err);
  }
  if (r == 0) r = write_image(&b, &b.stages[b.target], err);
  if (r == 0) waste_report(&b, &b.stages[b.target]);
  for (size_t i = 0; b.stages && i < b.df->n_stages; i++) stage_clear(&b.stages[i]);
  free(b.stages);
  if (b.tmp) ld_rm_rf(b.tmp, NULL);
  free(b.tmp);
  free(b.cache);
  free(b.layers);
  free(b.empty);
  free(b.hosts);
  free(b.context);
  kv_free(&b.meta_args);
  kv_free(&b.build_args);
  ld_ignore_free(b.ig);
  ld_dockerfile_free(b.df);
  return r;
}

void ld_build_result_clear(ld_build_result *r) {
  for (size_t i = 0; i < r->n_waste; i++) {
    free(r->waste[i].instruction);
    free(r->waste[i].path);
  }
  free(r->waste);
  r->waste = NULL;
  r->n_waste = 0;
}
