/* docker-archive:FILE[:REF] — the `docker save` format.
 *
 * Reading: the archive is unpacked into a private temp dir (symlinks allowed: old saves link
 * duplicate layers; every file is then opened with ld_open_in_root so no link leads out).
 * manifest.json names the config and the layer files, both classic (<id>/layer.tar) and
 * Docker ≥ 25 (blobs/sha256/<hex>). We never trust names for digests: each layer file is hashed,
 * its compression sniffed, and an OCI manifest is synthesised over what we computed.
 *
 * Writing: one image (single_image_only). Blobs are staged as an OCI layout in a temp dir beside
 * FILE; commit adds manifest.json (Config, RepoTags, Layers as blobs/sha256/<hex>, the
 * Docker ≥ 25 shape, which is also a valid OCI layout) and packs it atomically.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/layer.h"
#include "lading/layout.h"
#include "lading/reference.h"
#include "lading/transport.h"
#include "lading/util.h"
#include "transport/tarfile.h"

typedef struct {
  char *temp_dir;
  int rootfd;
  char *manifest;
  size_t manifest_len;
  char **digests; /* blob digest -> path inside the archive */
  char **paths;
  size_t n;
} darchive_src;

static void dsrc_free(darchive_src *c) {
  if (c->rootfd >= 0) close(c->rootfd);
  if (c->temp_dir) ld_rm_rf(c->temp_dir, NULL);
  free(c->temp_dir);
  free(c->manifest);
  for (size_t i = 0; i < c->n; i++) {
    free(c->digests[i]);
    free(c->paths[i]);
  }
  free(c->digests);
  free(c->paths);
  free(c);
}

static int hash_member(darchive_src *c, const char *path, const char *file, char digest[LD_DIGEST_MAX],
                       uint64_t *size, ld_compression *comp, ld_error **err) {
  int fd = ld_open_in_root(c->rootfd, path, O_RDONLY, 0, err);
  if (fd < 0) return ld_error_wrap(err, "docker-archive %s: %s", file, path);
  unsigned char head[8];
  ssize_t n = pread(fd, head, sizeof head, 0);
  *comp = ld_compression_sniff(head, n > 0 ? (size_t) n : 0);
  int rc = ld_digest_fd(fd, LD_SHA256, digest, size, err);
  close(fd);
  if (rc < 0) ld_error_wrap(err, "docker-archive %s: %s", file, path);
  return rc;
}

static void remember(darchive_src *c, const char *digest, const char *path) {
  c->digests = ld_xrealloc(c->digests, (c->n + 1) * sizeof *c->digests);
  c->paths = ld_xrealloc(c->paths, (c->n + 1) * sizeof *c->paths);
  c->digests[c->n] = ld_xstrdup(digest);
  c->paths[c->n] = ld_xstrdup(path);
  c->n++;
}

static bool repo_tags_match(json_t *tags, const char *want) {
  char *want_full = NULL;
  if (ld_store_normalize_name(want, &want_full, NULL) < 0) return false;
  bool hit = false;
  for (size_t i = 0; i < json_array_size(tags) && !hit; i++) {
    const char *t = json_string_value(json_array_get(tags, i));
    char *full = NULL;
    if (t && ld_store_normalize_name(t, &full, NULL) == 0 && !strcmp(full, want_full)) hit = true;
    free(full);
  }
  free(want_full);
  return hit;
}

static int build_manifest(darchive_src *c, const char *file, const char *ref, ld_error **err) {
  char *buf;
  size_t len;
  int fd = ld_open_in_root(c->rootfd, "manifest.json", O_RDONLY, 0, NULL);
  if (fd < 0)
    return ld_err(err, LD_EFORMAT, "docker-archive %s: no manifest.json (not a docker save archive)",
                  file);
  ld_reader *r = ld_reader_from_fd(fd, true);
  int rc = ld_reader_slurp(r, LD_MANIFEST_MAX, &buf, &len, "manifest.json", err);
  ld_reader_close(r);
  if (rc < 0) return ld_error_wrap(err, "docker-archive %s", file);
  json_t *arr;
  char what[300];
  snprintf(what, sizeof what, "docker-archive %s: manifest.json", file);
  rc = ld_json_parse(buf, len, what, &arr, err);
  free(buf);
  if (rc < 0) return -1;
  json_t *entry = NULL;
  if (!json_is_array(arr) || json_array_size(arr) == 0) {
    json_decref(arr);
    return ld_err(err, LD_EFORMAT, "%s: expected a non-empty array", what);
  }
  if (ref) {
    for (size_t i = 0; i < json_array_size(arr) && !entry; i++)
      if (repo_tags_match(json_object_get(json_array_get(arr, i), "RepoTags"), ref))
        entry = json_array_get(arr, i);
    if (!entry && ref[0] == '@') {
      long idx = strtol(ref + 1, NULL, 10);
      entry = json_array_get(arr, (size_t) idx);
    }
    if (!entry) {
      json_decref(arr);
      return ld_err(err, LD_ENOTFOUND, "docker-archive %s: no image tagged %s", file, ref);
    }
  } else if (json_array_size(arr) == 1) {
    entry = json_array_get(arr, 0);
  } else {
    size_t n = json_array_size(arr);
    json_decref(arr);
    return ld_err(err, LD_EUSAGE,
                  "docker-archive %s holds %zu images: name one (docker-archive:FILE:REF or :@N)",
                  file, n);
  }
  const char *config_path = ld_json_str(entry, "Config");
  json_t *layers = json_object_get(entry, "Layers");
  if (!config_path || !json_is_array(layers)) {
    json_decref(arr);
    return ld_err(err, LD_EFORMAT, "%s: entry lacks Config or Layers", what);
  }
  json_t *m = json_object();
  json_object_set_new(m, "schemaVersion", json_integer(2));
  json_object_set_new(m, "mediaType", json_string(LD_MT_OCI_MANIFEST));
  char digest[LD_DIGEST_MAX];
  uint64_t size;
  ld_compression comp;
  rc = hash_member(c, config_path, file, digest, &size, &comp, err);
  if (rc == 0) {
    json_t *cd = json_object();
    json_object_set_new(cd, "mediaType", json_string(LD_MT_OCI_CONFIG));
    json_object_set_new(cd, "digest", json_string(digest));
    json_object_set_new(cd, "size", json_integer((json_int_t) size));
    json_object_set_new(m, "config", cd);
    remember(c, digest, config_path);
  }
  json_t *ls = json_array();
  json_object_set_new(m, "layers", ls);
  for (size_t i = 0; rc == 0 && i < json_array_size(layers); i++) {
    const char *lp = json_string_value(json_array_get(layers, i));
    if (!lp) {
      rc = ld_err(err, LD_EFORMAT, "%s: Layers[%zu] is not a string", what, i);
      break;
    }
    rc = hash_member(c, lp, file, digest, &size, &comp, err);
    if (rc < 0) break;
    json_t *ld = json_object();
    const char *mt = comp == LD_COMP_GZIP   ? LD_MT_OCI_LAYER_GZIP
                     : comp == LD_COMP_ZSTD ? LD_MT_OCI_LAYER_ZSTD
                                            : LD_MT_OCI_LAYER;
    json_object_set_new(ld, "mediaType", json_string(mt));
    json_object_set_new(ld, "digest", json_string(digest));
    json_object_set_new(ld, "size", json_integer((json_int_t) size));
    json_array_append_new(ls, ld);
    remember(c, digest, lp);
  }
  if (rc == 0) {
    c->manifest = ld_json_dump_compact(m);
    c->manifest_len = strlen(c->manifest);
  }
  json_decref(m);
  json_decref(arr);
  return rc;
}

static int dsrc_get_manifest(ld_image_src *s, const char *digest, char **bytes, size_t *len,
                             char **media_type, ld_error **err) {
  darchive_src *c = s->ctx;
  char own[LD_DIGEST_MAX];
  ld_digest_buf(LD_SHA256, c->manifest, c->manifest_len, own);
  if (digest && strcmp(digest, own))
    return ld_err(err, LD_ENOTFOUND, "%s: no manifest %s", s->name, digest);
  *bytes = ld_xstrndup(c->manifest, c->manifest_len);
  *len = c->manifest_len;
  *media_type = ld_xstrdup(LD_MT_OCI_MANIFEST);
  return 0;
}

static int dsrc_open_blob(ld_image_src *s, const ld_descriptor *d, ld_reader **out,
                          ld_error **err) {
  darchive_src *c = s->ctx;
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(c->digests[i], d->digest)) {
      int fd = ld_open_in_root(c->rootfd, c->paths[i], O_RDONLY, 0, err);
      if (fd < 0) return ld_error_wrap(err, "%s", s->name);
      *out = ld_reader_from_fd(fd, true);
      return 0;
    }
  return ld_err(err, LD_ENOTFOUND, "%s: no blob %s", s->name, d->digest);
}

static void dsrc_close(ld_image_src *s) {
  dsrc_free(s->ctx);
  free(s->name);
  free(s);
}

int ld_docker_archive_src_open(const char *file, const char *ref, ld_image_src **out,
                               ld_error **err) {
  if (!ld_path_exists(file)) return ld_err(err, ENOENT, "docker-archive %s: no such file", file);
  darchive_src *c = ld_xcalloc(1, sizeof *c);
  c->rootfd = -1;
  c->temp_dir = ld_make_temp_dir(NULL, err);
  if (!c->temp_dir) goto fail;
  if (ld_tar_extract(file, c->temp_dir, true, err) < 0) {
    ld_error_wrap(err, "docker-archive");
    goto fail;
  }
  c->rootfd = open(c->temp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (c->rootfd < 0) {
    ld_err_sys(err, errno, "%s", c->temp_dir);
    goto fail;
  }
  if (build_manifest(c, file, ref, err) < 0) goto fail;
  ld_image_src *s = ld_xcalloc(1, sizeof *s);
  s->get_manifest = dsrc_get_manifest;
  s->open_blob = dsrc_open_blob;
  s->close = dsrc_close;
  s->name = ld_xasprintf("docker-archive:%s%s%s", file, ref ? ":" : "", ref ? ref : "");
  s->ctx = c;
  *out = s;
  return 0;
fail:
  dsrc_free(c);
  return -1;
}

/* Destination */

typedef struct {
  ld_layout layout;
  char *temp_dir;
  char *file;
  char *ref; /* familiar form for RepoTags, or NULL */
  char *manifest;
  size_t manifest_len;
} darchive_dst;

static int ddst_has_blob(ld_image_dst *d, const ld_descriptor *desc, bool *has, ld_error **err) {
  darchive_dst *c = d->ctx;
  *has = ld_layout_has_blob(&c->layout, desc->digest);
  return 0;
}
static int ddst_put_blob(ld_image_dst *d, const ld_descriptor *desc, ld_reader *r,
                         ld_error **err) {
  darchive_dst *c = d->ctx;
  if (ld_layout_put_blob(&c->layout, r, desc->digest, desc->size, NULL, err) < 0)
    return ld_error_wrap(err, "%s", d->name);
  return 0;
}
static int ddst_put_manifest(ld_image_dst *d, const char *bytes, size_t len, const char *mt,
                             const char *digest, ld_error **err) {
  darchive_dst *c = d->ctx;
  if (ld_media_type_is_index(mt))
    return ld_err(err, LD_EUNSUPPORTED, "%s: a docker archive holds one image, not an index",
                  d->name);
  ld_reader *r = ld_reader_from_mem(bytes, len, true);
  int rc = ld_layout_put_blob(&c->layout, r, digest, (int64_t) len, NULL, err);
  ld_reader_close(r);
  if (rc < 0) return ld_error_wrap(err, "%s", d->name);
  free(c->manifest);
  c->manifest = ld_xstrndup(bytes, len);
  c->manifest_len = len;
  return 0;
}

static int ddst_commit(ld_image_dst *d, const ld_descriptor *top, ld_error **err) {
  darchive_dst *c = d->ctx;
  ld_manifest m;
  if (!c->manifest || ld_manifest_parse(c->manifest, c->manifest_len, top->media_type, &m, err) < 0)
    return ld_err(err, LD_EFORMAT, "%s: no image manifest to write", d->name);
  json_t *entry = json_object();
  json_object_set_new(entry, "Config",
                      json_sprintf("blobs/sha256/%s", ld_digest_hex(m.config.digest)));
  json_t *tags = json_array();
  if (c->ref) json_array_append_new(tags, json_string(c->ref));
  json_object_set_new(entry, "RepoTags", tags);
  json_t *layers = json_array();
  for (size_t i = 0; i < m.n_layers; i++)
    json_array_append_new(layers, json_sprintf("blobs/sha256/%s", ld_digest_hex(m.layers[i].digest)));
  json_object_set_new(entry, "Layers", layers);
  json_t *arr = json_array();
  json_array_append_new(arr, entry);
  char *s = ld_json_dump_compact(arr);
  json_decref(arr);
  ld_manifest_clear(&m);
  char *path = ld_path_join(c->temp_dir, "manifest.json");
  int rc = ld_atomic_write(path, s, strlen(s), 0644, err);
  free(path);
  free(s);
  if (rc == 0 && c->ref) rc = ld_layout_set_ref(&c->layout, c->ref, top, err);
  if (rc == 0 && !c->ref) {
    json_t *index;
    rc = ld_layout_read_index(&c->layout, &index, err);
    if (rc == 0) {
      json_array_append_new(json_object_get(index, "manifests"), ld_descriptor_to_json(top));
      rc = ld_layout_write_index(&c->layout, index, err);
      json_decref(index);
    }
  }
  if (rc == 0) rc = ld_tar_pack_dir(c->temp_dir, c->file, err);
  if (rc < 0) ld_error_wrap(err, "%s", d->name);
  return rc;
}

static void ddst_close(ld_image_dst *d) {
  darchive_dst *c = d->ctx;
  ld_layout_clear(&c->layout);
  if (c->temp_dir) ld_rm_rf(c->temp_dir, NULL);
  free(c->temp_dir);
  free(c->file);
  free(c->ref);
  free(c->manifest);
  free(c);
  free(d->name);
  free(d);
}

int ld_docker_archive_dst_open(const char *file, const char *ref, ld_image_dst **out,
                               ld_error **err) {
  darchive_dst *c = ld_xcalloc(1, sizeof *c);
  if (ref) {
    ld_reference r;
    if (ld_reference_parse(ref, &r, err) < 0) {
      free(c);
      return ld_error_wrap(err, "docker-archive:%s", file);
    }
    if (r.digest) {
      ld_reference_clear(&r);
      free(c);
      return ld_err(err, LD_EUSAGE, "docker-archive:%s: the reference must be a tag, not a digest",
                    file);
    }
    if (!r.tag) r.tag = ld_xstrdup("latest");
    c->ref = ld_reference_familiar(&r);
    ld_reference_clear(&r);
  }
  char *copy = ld_xstrdup(file);
  char *slash = strrchr(copy, '/');
  const char *near = slash ? (slash == copy ? "/" : (*slash = 0, copy)) : ".";
  c->temp_dir = ld_make_temp_dir(near, err);
  free(copy);
  if (!c->temp_dir || ld_layout_open(c->temp_dir, true, &c->layout, err) < 0) {
    if (c->temp_dir) ld_rm_rf(c->temp_dir, NULL);
    free(c->temp_dir);
    free(c->ref);
    free(c);
    return -1;
  }
  c->file = ld_xstrdup(file);
  ld_image_dst *d = ld_xcalloc(1, sizeof *d);
  d->has_blob = ddst_has_blob;
  d->put_blob = ddst_put_blob;
  d->put_manifest = ddst_put_manifest;
  d->commit = ddst_commit;
  d->close = ddst_close;
  d->single_image_only = true;
  d->name = ld_xasprintf("docker-archive:%s%s%s", file, ref ? ":" : "", ref ? ref : "");
  d->ctx = c;
  *out = d;
  return 0;
}
