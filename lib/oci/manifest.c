/* Manifests, indexes, descriptors and image configs.
 *
 * Validation is strict where a wrong value would make us fetch or trust the wrong thing
 * (digests, sizes, media types) and lenient elsewhere (unknown fields are kept in root).
 * The document's own mediaType wins; the hint (Content-Type, index entry) is used only when the
 * document has none, and a contradiction is an error.
 */
#include <string.h>
#include <sys/utsname.h>
#include "lading/digest.h"
#include "lading/json.h"
#include "lading/manifest.h"
#include "lading/util.h"

bool ld_media_type_is_index(const char *mt) {
  return mt && (!strcmp(mt, LD_MT_OCI_INDEX) || !strcmp(mt, LD_MT_DOCKER_LIST));
}
bool ld_media_type_is_manifest(const char *mt) {
  return mt && (!strcmp(mt, LD_MT_OCI_MANIFEST) || !strcmp(mt, LD_MT_DOCKER_MANIFEST));
}
bool ld_media_type_is_layer(const char *mt) {
  return mt && (ld_str_has_prefix(mt, "application/vnd.oci.image.layer.") ||
                ld_str_has_prefix(mt, "application/vnd.docker.image.rootfs."));
}

void ld_platform_clear(ld_platform *p) {
  free(p->os);
  free(p->architecture);
  free(p->variant);
  free(p->os_version);
  memset(p, 0, sizeof *p);
}

void ld_descriptor_clear(ld_descriptor *d) {
  free(d->media_type);
  free(d->digest);
  free(d->artifact_type);
  if (d->annotations) json_decref(d->annotations);
  ld_platform_clear(&d->platform);
  memset(d, 0, sizeof *d);
}

void ld_descriptor_copy(ld_descriptor *dst, const ld_descriptor *src) {
  memset(dst, 0, sizeof *dst);
  dst->media_type = ld_xstrdup(src->media_type);
  dst->digest = ld_xstrdup(src->digest);
  dst->size = src->size;
  dst->artifact_type = ld_xstrdup(src->artifact_type);
  if (src->annotations) dst->annotations = json_deep_copy(src->annotations);
  dst->has_platform = src->has_platform;
  dst->platform.os = ld_xstrdup(src->platform.os);
  dst->platform.architecture = ld_xstrdup(src->platform.architecture);
  dst->platform.variant = ld_xstrdup(src->platform.variant);
  dst->platform.os_version = ld_xstrdup(src->platform.os_version);
}

int ld_descriptor_from_json(const json_t *j, ld_descriptor *out, ld_error **err) {
  memset(out, 0, sizeof *out);
  if (!json_is_object(j)) return ld_err(err, LD_EFORMAT, "descriptor is not an object");
  const char *mt = ld_json_str(j, "mediaType");
  const char *dg = ld_json_str(j, "digest");
  json_t *size = json_object_get(j, "size");
  if (!mt) return ld_err(err, LD_EFORMAT, "descriptor has no mediaType");
  if (!dg) return ld_err(err, LD_EFORMAT, "descriptor has no digest");
  if (ld_digest_validate(dg, err) < 0) return -1;
  if (!json_is_integer(size) || json_integer_value(size) < 0)
    return ld_err(err, LD_EFORMAT, "descriptor %s has no valid size", dg);
  out->media_type = ld_xstrdup(mt);
  out->digest = ld_xstrdup(dg);
  out->size = (int64_t) json_integer_value(size);
  out->artifact_type = ld_xstrdup(ld_json_str(j, "artifactType"));
  json_t *ann = json_object_get(j, "annotations");
  if (json_is_object(ann)) out->annotations = json_incref(ann);
  json_t *pl = json_object_get(j, "platform");
  if (json_is_object(pl)) {
    out->has_platform = true;
    out->platform.os = ld_xstrdup(ld_json_str(pl, "os"));
    out->platform.architecture = ld_xstrdup(ld_json_str(pl, "architecture"));
    out->platform.variant = ld_xstrdup(ld_json_str(pl, "variant"));
    out->platform.os_version = ld_xstrdup(ld_json_str(pl, "os.version"));
  }
  return 0;
}

json_t *ld_descriptor_to_json(const ld_descriptor *d) {
  json_t *j = json_object();
  json_object_set_new(j, "mediaType", json_string(d->media_type));
  if (d->artifact_type) json_object_set_new(j, "artifactType", json_string(d->artifact_type));
  json_object_set_new(j, "digest", json_string(d->digest));
  json_object_set_new(j, "size", json_integer(d->size));
  if (d->annotations && json_object_size(d->annotations))
    json_object_set(j, "annotations", d->annotations);
  if (d->has_platform) {
    json_t *p = json_object();
    if (d->platform.architecture)
      json_object_set_new(p, "architecture", json_string(d->platform.architecture));
    if (d->platform.os) json_object_set_new(p, "os", json_string(d->platform.os));
    if (d->platform.os_version)
      json_object_set_new(p, "os.version", json_string(d->platform.os_version));
    if (d->platform.variant) json_object_set_new(p, "variant", json_string(d->platform.variant));
    json_object_set_new(j, "platform", p);
  }
  return j;
}

void ld_manifest_clear(ld_manifest *m) {
  free(m->media_type);
  free(m->artifact_type);
  free(m->raw);
  ld_descriptor_clear(&m->config);
  for (size_t i = 0; i < m->n_layers; i++) ld_descriptor_clear(&m->layers[i]);
  free(m->layers);
  for (size_t i = 0; i < m->n_manifests; i++) ld_descriptor_clear(&m->manifests[i]);
  free(m->manifests);
  if (m->subject) {
    ld_descriptor_clear(m->subject);
    free(m->subject);
  }
  if (m->root) json_decref(m->root);
  memset(m, 0, sizeof *m);
}

static int parse_descriptor_array(json_t *arr, const char *field, ld_descriptor **out, size_t *n,
                                  ld_error **err) {
  if (!json_is_array(arr)) return ld_err(err, LD_EFORMAT, "\"%s\" is not an array", field);
  *n = json_array_size(arr);
  *out = ld_xcalloc(*n, sizeof **out);
  for (size_t i = 0; i < *n; i++)
    if (ld_descriptor_from_json(json_array_get(arr, i), &(*out)[i], err) < 0)
      return ld_error_wrap(err, "%s[%zu]", field, i);
  return 0;
}

int ld_manifest_parse(const void *buf, size_t len, const char *hint, ld_manifest *out,
                      ld_error **err) {
  memset(out, 0, sizeof *out);
  ld_digest_buf(LD_SHA256, buf, len, out->digest);
  if (len > LD_MANIFEST_MAX)
    return ld_err(err, LD_EFORMAT, "manifest %s: larger than %u bytes", out->digest,
                  LD_MANIFEST_MAX);
  json_t *root;
  char what[200];
  snprintf(what, sizeof what, "manifest %s", out->digest);
  if (ld_json_parse(buf, len, what, &root, err) < 0) return -1;
  out->root = root;
  out->raw = ld_xmalloc(len + 1);
  memcpy(out->raw, buf, len);
  out->raw[len] = 0;
  out->raw_len = len;
  if (!json_is_object(root)) {
    ld_err(err, LD_EFORMAT, "%s: not a JSON object", what);
    goto fail;
  }
  json_t *sv = json_object_get(root, "schemaVersion");
  if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
    ld_err(err, LD_EFORMAT, "%s: schemaVersion must be 2 (schema 1 manifests are not supported)",
           what);
    goto fail;
  }
  const char *mt = ld_json_str(root, "mediaType");
  if (mt && hint && *hint && strcmp(mt, hint) && !(ld_media_type_is_index(mt) && ld_media_type_is_index(hint)) &&
      !(ld_media_type_is_manifest(mt) && ld_media_type_is_manifest(hint))) {
    ld_err(err, LD_EFORMAT, "%s: mediaType \"%s\" contradicts \"%s\"", what, mt, hint);
    goto fail;
  }
  if (!mt) mt = hint;
  if (!mt || !*mt) { /* OCI allows omitting mediaType: decide by shape */
    if (json_object_get(root, "manifests")) mt = LD_MT_OCI_INDEX;
    else if (json_object_get(root, "config")) mt = LD_MT_OCI_MANIFEST;
  }
  if (ld_media_type_is_index(mt)) {
    out->kind = LD_KIND_INDEX;
    if (parse_descriptor_array(json_object_get(root, "manifests"), "manifests", &out->manifests,
                               &out->n_manifests, err) < 0)
      goto fail_wrap;
  } else if (ld_media_type_is_manifest(mt)) {
    out->kind = LD_KIND_MANIFEST;
    if (ld_descriptor_from_json(json_object_get(root, "config"), &out->config, err) < 0) {
      ld_error_wrap(err, "config");
      goto fail_wrap;
    }
    if (parse_descriptor_array(json_object_get(root, "layers"), "layers", &out->layers,
                               &out->n_layers, err) < 0)
      goto fail_wrap;
  } else {
    ld_err(err, LD_EFORMAT, "%s: unsupported media type \"%s\"", what, mt ? mt : "(none)");
    goto fail;
  }
  out->media_type = ld_xstrdup(mt);
  out->artifact_type = ld_xstrdup(ld_json_str(root, "artifactType"));
  json_t *subj = json_object_get(root, "subject");
  if (subj) {
    out->subject = ld_xcalloc(1, sizeof *out->subject);
    if (ld_descriptor_from_json(subj, out->subject, err) < 0) {
      ld_error_wrap(err, "subject");
      goto fail_wrap;
    }
  }
  json_t *ann = json_object_get(root, "annotations");
  if (json_is_object(ann)) out->annotations = ann;
  return 0;
fail_wrap:
  ld_error_wrap(err, "%s", what);
fail:
  ld_manifest_clear(out);
  return -1;
}

size_t ld_manifest_blobs(const ld_manifest *m, const ld_descriptor **out, size_t max) {
  size_t n = 0;
  if (m->kind != LD_KIND_MANIFEST) return 0;
  if (n < max) out[n] = &m->config;
  n++;
  for (size_t i = 0; i < m->n_layers; i++) {
    if (n < max) out[n] = &m->layers[i];
    n++;
  }
  return n;
}

/* Platforms */

static char *normalize_arch(const char *arch, char **variant) {
  if (!strcmp(arch, "x86_64") || !strcmp(arch, "x86-64")) return ld_xstrdup("amd64");
  if (!strcmp(arch, "aarch64")) return ld_xstrdup("arm64");
  if (!strcmp(arch, "armhf")) {
    if (!*variant) *variant = ld_xstrdup("v7");
    return ld_xstrdup("arm");
  }
  if (!strcmp(arch, "i386") || !strcmp(arch, "i686")) return ld_xstrdup("386");
  return ld_xstrdup(arch);
}

int ld_platform_parse(const char *s, ld_platform *out, ld_error **err) {
  memset(out, 0, sizeof *out);
  char *copy = ld_xstrdup(s);
  char *parts[4] = {0};
  int n = 0;
  for (char *tok = strtok(copy, "/"); tok && n < 4; tok = strtok(NULL, "/")) parts[n++] = tok;
  if (n < 2 || n > 3 || strchr(s, ' ')) {
    free(copy);
    return ld_err(err, LD_EUSAGE, "invalid platform \"%s\": expected os/arch[/variant]", s);
  }
  out->os = ld_xstrdup(parts[0]);
  out->variant = n == 3 ? ld_xstrdup(parts[2]) : NULL;
  out->architecture = normalize_arch(parts[1], &out->variant);
  free(copy);
  return 0;
}

void ld_platform_host(ld_platform *out) {
  memset(out, 0, sizeof *out);
  struct utsname u;
  uname(&u);
  out->os = ld_xstrdup("linux");
  out->architecture = normalize_arch(u.machine, &out->variant);
}

char *ld_platform_format(const ld_platform *p) {
  return ld_xasprintf("%s/%s%s%s", p->os ? p->os : "?", p->architecture ? p->architecture : "?",
                      p->variant ? "/" : "", p->variant ? p->variant : "");
}

static const char *default_variant(const char *arch) {
  if (!strcmp(arch, "arm64")) return "v8";
  if (!strcmp(arch, "arm")) return "v7";
  return NULL;
}

static bool platform_matches(const ld_platform *have, const ld_platform *want) {
  if (!have->os || !have->architecture) return false;
  if (strcmp(have->os, want->os) || strcmp(have->architecture, want->architecture)) return false;
  const char *hv = have->variant ? have->variant : default_variant(have->architecture);
  const char *wv = want->variant ? want->variant : default_variant(want->architecture);
  if (!wv) return true; /* amd64: any variant will do (v1 baseline) */
  return hv && !strcmp(hv, wv);
}

int ld_index_select(const ld_manifest *index, const ld_platform *want, const ld_descriptor **out,
                    ld_error **err) {
  ld_platform host;
  const ld_platform *w = want;
  if (!w) {
    ld_platform_host(&host);
    w = &host;
  }
  const ld_descriptor *best = NULL;
  for (size_t i = 0; i < index->n_manifests; i++) {
    const ld_descriptor *d = &index->manifests[i];
    if (!ld_media_type_is_manifest(d->media_type) && !ld_media_type_is_index(d->media_type))
      continue;
    if (d->has_platform && platform_matches(&d->platform, w)) {
      best = d;
      break;
    }
  }
  if (!best) {
    ld_buf have = {0};
    for (size_t i = 0; i < index->n_manifests; i++) {
      const ld_descriptor *d = &index->manifests[i];
      if (!d->has_platform) continue;
      char *p = ld_platform_format(&d->platform);
      ld_buf_printf(&have, "%s%s", have.len ? ", " : "", p);
      free(p);
    }
    char *ws = ld_platform_format(w);
    ld_err(err, LD_ENOTFOUND, "index %s has no image for platform %s (it has: %s)", index->digest,
           ws, have.len ? have.data : "none");
    free(ws);
    ld_buf_free(&have);
    if (!want) ld_platform_clear(&host);
    return -1;
  }
  if (!want) ld_platform_clear(&host);
  *out = best;
  return 0;
}

/* Config */

void ld_config_clear(ld_image_config *c) {
  if (c->root) json_decref(c->root);
  for (size_t i = 0; i < c->n_diff_ids; i++) free(c->diff_ids[i]);
  free(c->diff_ids);
  for (size_t i = 0; i < c->n_history; i++) {
    free(c->history[i].created);
    free(c->history[i].created_by);
    free(c->history[i].comment);
  }
  free(c->history);
  free(c->os);
  free(c->architecture);
  free(c->variant);
  free(c->created);
  memset(c, 0, sizeof *c);
}

int ld_config_parse(const void *buf, size_t len, ld_image_config *out, ld_error **err) {
  memset(out, 0, sizeof *out);
  ld_digest_buf(LD_SHA256, buf, len, out->digest);
  char what[200];
  snprintf(what, sizeof what, "image config %s", out->digest);
  if (ld_json_parse(buf, len, what, &out->root, err) < 0) return -1;
  if (!json_is_object(out->root)) {
    ld_err(err, LD_EFORMAT, "%s: not a JSON object", what);
    goto fail;
  }
  out->os = ld_xstrdup(ld_json_str(out->root, "os"));
  out->architecture = ld_xstrdup(ld_json_str(out->root, "architecture"));
  out->variant = ld_xstrdup(ld_json_str(out->root, "variant"));
  out->created = ld_xstrdup(ld_json_str(out->root, "created"));
  json_t *rootfs = json_object_get(out->root, "rootfs");
  json_t *ids = json_object_get(rootfs, "diff_ids");
  if (rootfs && !json_is_array(ids)) {
    ld_err(err, LD_EFORMAT, "%s: rootfs.diff_ids is not an array", what);
    goto fail;
  }
  out->n_diff_ids = json_array_size(ids);
  out->diff_ids = ld_xcalloc(out->n_diff_ids, sizeof(char *));
  for (size_t i = 0; i < out->n_diff_ids; i++) {
    const char *d = json_string_value(json_array_get(ids, i));
    if (ld_digest_validate(d, err) < 0) {
      ld_error_wrap(err, "%s: rootfs.diff_ids[%zu]", what, i);
      goto fail;
    }
    out->diff_ids[i] = ld_xstrdup(d);
  }
  json_t *hist = json_object_get(out->root, "history");
  if (json_is_array(hist)) {
    out->n_history = json_array_size(hist);
    out->history = ld_xcalloc(out->n_history, sizeof *out->history);
    for (size_t i = 0; i < out->n_history; i++) {
      json_t *h = json_array_get(hist, i);
      out->history[i].created = ld_xstrdup(ld_json_str(h, "created"));
      out->history[i].created_by = ld_xstrdup(ld_json_str(h, "created_by"));
      out->history[i].comment = ld_xstrdup(ld_json_str(h, "comment"));
      out->history[i].empty_layer = json_is_true(json_object_get(h, "empty_layer"));
    }
  }
  return 0;
fail:
  ld_config_clear(out);
  return -1;
}
