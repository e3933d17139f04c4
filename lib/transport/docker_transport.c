/* The docker:// transport: ld_image_src / ld_image_dst over the registry client.
 *
 * Source: the top manifest is GET manifests/<tag|digest> (with every manifest type in Accept,
 * so a registry answers with an index when it has one); child manifests are fetched by digest
 * and checked against it; blobs stream through ld_verifier (docker_stream.c).
 *
 * Destination: blobs are HEAD-checked (has_blob), mounted from another repository of the same
 * registry when the source is docker:// there too (mount_blob), otherwise uploaded. Manifests
 * go by digest as they arrive (children before their index, which is ld_copy's order, and
 * registries check it); commit() then PUTs the top manifest under the tag, or checks that a
 * digest reference names what was written. Nothing is deleted on rollback: blobs without a
 * manifest are invisible and a registry's gc reclaims them, and an interrupted copy re-run
 * finds them there (HEAD) instead of sending them again.
 */
#include <errno.h>
#include <string.h>
#include "lading/reference.h"
#include "lading/registry_client.h"
#include "lading/transport.h"
#include "lading/util.h"

typedef struct docker_ctx {
  ld_registry *reg;
  ld_reference ref;
  char *origin; /* "domain/repo", for cross-repository mounts */
  /* destination: manifests written, for commit */
  struct {
    char *digest, *bytes, *media_type;
    size_t len;
  } *manifests;
  size_t n_manifests;
} docker_ctx;

static void registry_opts_from(const ld_transport_opts *o, ld_registry_opts *ro) {
  memset(ro, 0, sizeof *ro);
  if (!o) return;
  ro->tls_verify_set = o->tls_verify_set;
  ro->tls_verify = o->tls_verify;
  ro->cert_dir = o->cert_dir;
  ro->creds = o->creds;
  ro->authfile = o->authfile;
  ro->retries = o->retries;
  ro->chunk_size = o->chunk_size;
}

static int ctx_open(const char *spec, const ld_transport_opts *o, docker_ctx **out,
                    ld_error **err) {
  const char *ref = ld_str_has_prefix(spec, "docker://") ? spec + 9 : spec;
  docker_ctx *c = ld_xcalloc(1, sizeof *c);
  if (ld_reference_parse(ref, &c->ref, err) < 0) {
    free(c);
    return ld_error_wrap(err, "docker://%s", ref);
  }
  ld_registry_opts ro;
  registry_opts_from(o, &ro);
  if (ld_registry_open(c->ref.domain, &ro, &c->reg, err) < 0) {
    ld_reference_clear(&c->ref);
    free(c);
    return -1;
  }
  c->origin = ld_xasprintf("%s/%s", c->ref.domain, c->ref.path);
  *out = c;
  return 0;
}

static void ctx_free(docker_ctx *c) {
  if (!c) return;
  ld_registry_free(c->reg);
  ld_reference_clear(&c->ref);
  for (size_t i = 0; i < c->n_manifests; i++) {
    free(c->manifests[i].digest);
    free(c->manifests[i].bytes);
    free(c->manifests[i].media_type);
  }
  free(c->manifests);
  free(c->origin);
  free(c);
}

/* The media type of a manifest when the registry's Content-Type is missing or generic. */
static char *sniff_media_type(const char *bytes, size_t len, char *header_mt) {
  if (header_mt && (ld_media_type_is_manifest(header_mt) || ld_media_type_is_index(header_mt)))
    return header_mt;
  free(header_mt);
  ld_manifest m;
  if (ld_manifest_parse(bytes, len, NULL, &m, NULL) < 0) return ld_xstrdup(LD_MT_OCI_MANIFEST);
  char *mt = ld_xstrdup(m.media_type ? m.media_type
                                     : m.kind == LD_KIND_INDEX ? LD_MT_OCI_INDEX
                                                               : LD_MT_OCI_MANIFEST);
  ld_manifest_clear(&m);
  return mt;
}

/* ---- source ---- */

static int src_get_manifest(ld_image_src *s, const char *digest, char **bytes, size_t *len,
                            char **media_type, ld_error **err) {
  docker_ctx *c = s->ctx;
  const char *ref = digest ? digest : c->ref.digest ? c->ref.digest
                                                    : ld_reference_tag_or_latest(&c->ref);
  char *mt = NULL;
  if (ld_registry_get_manifest(c->reg, c->ref.path, ref, bytes, len, &mt, NULL, err) < 0)
    return -1;
  mt = sniff_media_type(*bytes, *len, mt);
  if (media_type) *media_type = mt;
  else free(mt);
  return 0;
}

static int src_open_blob(ld_image_src *s, const ld_descriptor *d, ld_reader **out,
                         ld_error **err) {
  docker_ctx *c = s->ctx;
  return ld_registry_open_blob(c->reg, c->ref.path, d->digest, d->size, out, err);
}

static int src_open_blob_unverified(ld_image_src *s, const ld_descriptor *d, ld_reader **out,
                                    ld_error **err) {
  docker_ctx *c = s->ctx;
  return ld_registry_open_blob_unverified(c->reg, c->ref.path, d->digest, out, err);
}

static void src_close(ld_image_src *s) {
  ctx_free(s->ctx);
  free(s->name);
  free(s);
}

int ld_docker_src_open(const char *ref, const ld_transport_opts *o, ld_image_src **out,
                       ld_error **err) {
  docker_ctx *c;
  if (ctx_open(ref, o, &c, err) < 0) return -1;
  ld_image_src *s = ld_xcalloc(1, sizeof *s);
  s->get_manifest = src_get_manifest;
  s->open_blob = src_open_blob;
  s->close = src_close;
  s->name = ld_xasprintf("docker://%s", ld_str_has_prefix(ref, "docker://") ? ref + 9 : ref);
  s->ctx = c;
  s->origin = c->origin;
  s->open_blob_unverified = src_open_blob_unverified;
  *out = s;
  return 0;
}

/* ---- destination ---- */

static int dst_has_blob(ld_image_dst *d, const ld_descriptor *desc, bool *has, ld_error **err) {
  docker_ctx *c = d->ctx;
  return ld_registry_has_blob(c->reg, c->ref.path, desc->digest, has, err);
}

static int dst_put_blob(ld_image_dst *d, const ld_descriptor *desc, ld_reader *r,
                        ld_error **err) {
  docker_ctx *c = d->ctx;
  return ld_registry_put_blob(c->reg, c->ref.path, desc->digest, desc->size, r, err);
}

static int dst_mount_blob(ld_image_dst *d, const ld_descriptor *desc, const char *origin,
                          bool *mounted, ld_error **err) {
  docker_ctx *c = d->ctx;
  *mounted = false;
  size_t dl = strlen(c->ref.domain);
  if (!origin || strncmp(origin, c->ref.domain, dl) || origin[dl] != '/') return 0;
  const char *from = origin + dl + 1;
  if (!strcmp(from, c->ref.path)) return 0;
  return ld_registry_mount_blob(c->reg, c->ref.path, from, desc->digest, mounted, err);
}

static int dst_put_manifest(ld_image_dst *d, const char *bytes, size_t len,
                            const char *media_type, const char *digest, ld_error **err) {
  docker_ctx *c = d->ctx;
  if (ld_registry_put_manifest(c->reg, c->ref.path, digest, bytes, len, media_type, err) < 0)
    return -1;
  c->manifests = ld_xrealloc(c->manifests, (c->n_manifests + 1) * sizeof *c->manifests);
  c->manifests[c->n_manifests].digest = ld_xstrdup(digest);
  c->manifests[c->n_manifests].bytes = ld_xstrndup(bytes, len);
  c->manifests[c->n_manifests].len = len;
  c->manifests[c->n_manifests].media_type = ld_xstrdup(media_type);
  c->n_manifests++;
  return 0;
}

static int dst_commit(ld_image_dst *d, const ld_descriptor *top, ld_error **err) {
  docker_ctx *c = d->ctx;
  if (c->ref.digest && strcmp(c->ref.digest, top->digest))
    return ld_err(err, LD_EDIGEST, "%s: the copied image is %s, not the digest named", d->name,
                  top->digest);
  if (c->ref.digest && !c->ref.tag) return 0;
  for (size_t i = 0; i < c->n_manifests; i++) {
    if (strcmp(c->manifests[i].digest, top->digest)) continue;
    return ld_registry_put_manifest(c->reg, c->ref.path, ld_reference_tag_or_latest(&c->ref),
                                    c->manifests[i].bytes, c->manifests[i].len,
                                    c->manifests[i].media_type, err);
  }
  return ld_err(err, EINVAL, "%s: commit of %s, which was never written", d->name, top->digest);
}

static void dst_close(ld_image_dst *d) {
  ctx_free(d->ctx);
  free(d->name);
  free(d);
}

int ld_docker_dst_open(const char *ref, const ld_transport_opts *o, ld_image_dst **out,
                       ld_error **err) {
  docker_ctx *c;
  if (ctx_open(ref, o, &c, err) < 0) return -1;
  ld_image_dst *d = ld_xcalloc(1, sizeof *d);
  d->has_blob = dst_has_blob;
  d->put_blob = dst_put_blob;
  d->put_manifest = dst_put_manifest;
  d->commit = dst_commit;
  d->close = dst_close;
  d->mount_blob = dst_mount_blob;
  d->origin = c->origin;
  d->name = ld_xasprintf("docker://%s", ld_str_has_prefix(ref, "docker://") ? ref + 9 : ref);
  d->ctx = c;
  *out = d;
  return 0;
}
