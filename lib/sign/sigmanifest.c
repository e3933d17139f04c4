/* The .sig manifest: an OCI image manifest at tag "sha256-<hex>.sig" beside the signed image.
 *
 * One layer per signature: media type application/vnd.dev.cosign.simplesigning.v1+json, the
 * layer blob is the payload, and the annotation dev.cosignproject.cosign/signature carries the
 * base64 DER signature. The config is skopeo's minimal image config listing the layer digests as
 * diff_ids. We write these documents byte for byte as containers/image does (image-spec Go
 * structs: descriptor fields mediaType, digest, size, annotations; annotation keys sorted), so the
 * manifest digest of a signature we add equals the one skopeo would compute.
 *
 * Appending: existing layers are kept as they were (media type, digest, size, every annotation,
 * e.g. cosign's certificate or bundle annotations) and the new layer goes last; nothing is ever
 * dropped. Parsing refuses a manifest that is not an OCI image manifest: containers/image does
 * the same, and it stops a Docker schema 2 document from masquerading as a signature list.
 */
#include <string.h>
#include "lading/digest.h"
#include "lading/json.h"
#include "lading/manifest.h"
#include "lading/sign.h"
#include "lading/util.h"

static int parse_layer(json_t *j, size_t i, ld_sig_layer *l, ld_error **err) {
  const char *mt = ld_json_str(j, "mediaType"), *digest = ld_json_str(j, "digest");
  json_t *size = json_object_get(j, "size"), *ann = json_object_get(j, "annotations");
  if (!mt || !digest || !json_is_integer(size) || json_integer_value(size) < 0)
    return ld_err(err, LD_EFORMAT, ".sig manifest: layer %zu lacks mediaType, digest or size", i);
  if (ld_digest_validate(digest, err) < 0)
    return ld_error_wrap(err, ".sig manifest: layer %zu", i);
  if (ann && !json_is_object(ann))
    return ld_err(err, LD_EFORMAT, ".sig manifest: layer %zu: annotations is not an object", i);
  l->media_type = ld_xstrdup(mt);
  snprintf(l->digest, sizeof l->digest, "%s", digest);
  l->size = (long long) json_integer_value(size);
  const char *sig = ann ? ld_json_str(ann, LD_COSIGN_SIGNATURE_ANNOTATION) : NULL;
  l->signature_b64 = sig ? ld_xstrdup(sig) : NULL;
  l->annotations = ann ? json_incref(ann) : NULL;
  return 0;
}

int ld_sig_manifest_parse(const char *buf, size_t len, const char *media_type_hint,
                          ld_sig_manifest *out, ld_error **err) {
  memset(out, 0, sizeof *out);
  ld_autojson json_t *root = NULL;
  if (ld_json_parse(buf, len, ".sig manifest", &root, err) < 0) return -1;
  const char *mt = ld_json_str(root, "mediaType");
  if (!mt) mt = media_type_hint;
  if (!mt || strcmp(mt, LD_MT_OCI_MANIFEST))
    return ld_err(err, LD_EFORMAT, ".sig manifest: media type %s is not %s",
                  mt ? mt : "(none)", LD_MT_OCI_MANIFEST);
  if (media_type_hint && strcmp(media_type_hint, mt))
    return ld_err(err, LD_EFORMAT, ".sig manifest: served as %s but declares %s",
                  media_type_hint, mt);
  if (ld_json_int(root, "schemaVersion", 0) != 2)
    return ld_err(err, LD_EFORMAT, ".sig manifest: schemaVersion is not 2");
  json_t *layers = json_object_get(root, "layers");
  if (!json_is_array(layers))
    return ld_err(err, LD_EFORMAT, ".sig manifest: no layers array");
  size_t n = json_array_size(layers);
  out->layers = ld_xcalloc(n ? n : 1, sizeof *out->layers);
  for (size_t i = 0; i < n; i++) {
    if (parse_layer(json_array_get(layers, i), i, &out->layers[i], err) < 0) {
      ld_sig_manifest_clear(out);
      return -1;
    }
    out->n_layers++;
  }
  return 0;
}

void ld_sig_manifest_clear(ld_sig_manifest *m) {
  for (size_t i = 0; i < m->n_layers; i++) {
    free(m->layers[i].media_type);
    free(m->layers[i].signature_b64);
    if (m->layers[i].annotations) json_decref(m->layers[i].annotations);
  }
  free(m->layers);
  memset(m, 0, sizeof *m);
}

void ld_sig_manifest_add(ld_sig_manifest *m, const char *payload_digest, long long payload_size,
                         const char *signature_b64) {
  m->layers = ld_xrealloc(m->layers, (m->n_layers + 1) * sizeof *m->layers);
  ld_sig_layer *l = &m->layers[m->n_layers++];
  memset(l, 0, sizeof *l);
  l->media_type = ld_xstrdup(LD_MT_COSIGN_SIMPLESIGNING);
  snprintf(l->digest, sizeof l->digest, "%s", payload_digest);
  l->size = payload_size;
  l->signature_b64 = ld_xstrdup(signature_b64);
  l->annotations = json_pack("{ss}", LD_COSIGN_SIGNATURE_ANNOTATION, signature_b64);
}

char *ld_sig_config_build(const ld_sig_manifest *m) {
  ld_buf b = {0};
  ld_buf_puts(&b, "{\"architecture\":\"\",\"os\":\"\",\"config\":{},\"rootfs\":{\"type\":\"layers\","
                  "\"diff_ids\":[");
  for (size_t i = 0; i < m->n_layers; i++) {
    if (i) ld_buf_puts(&b, ",");
    ld_go_json_quote(&b, m->layers[i].digest);
  }
  ld_buf_puts(&b, "]}}");
  return ld_buf_steal(&b);
}

static void descriptor(ld_buf *b, const char *mt, const char *digest, long long size,
                       const json_t *annotations) {
  ld_buf_puts(b, "{\"mediaType\":");
  ld_go_json_quote(b, mt);
  ld_buf_puts(b, ",\"digest\":");
  ld_go_json_quote(b, digest);
  ld_buf_printf(b, ",\"size\":%lld", size);
  if (annotations && json_object_size(annotations)) {
    ld_buf_puts(b, ",\"annotations\":");
    ld_go_json_value(b, annotations);
  }
  ld_buf_puts(b, "}");
}

char *ld_sig_manifest_build(const ld_sig_manifest *m, const char *config_digest,
                            long long config_size) {
  ld_buf b = {0};
  ld_buf_puts(&b, "{\"schemaVersion\":2,\"mediaType\":\"" LD_MT_OCI_MANIFEST "\",\"config\":");
  descriptor(&b, LD_MT_OCI_CONFIG, config_digest, config_size, NULL);
  ld_buf_puts(&b, ",\"layers\":[");
  for (size_t i = 0; i < m->n_layers; i++) {
    if (i) ld_buf_puts(&b, ",");
    const ld_sig_layer *l = &m->layers[i];
    descriptor(&b, l->media_type, l->digest, l->size, l->annotations);
  }
  ld_buf_puts(&b, "]}");
  return ld_buf_steal(&b);
}
