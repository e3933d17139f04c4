/* Signing and verifying images through the transports: the cosign tag-based layout.
 *
 * The signature of an image whose top-level manifest has digest sha256:H lives in the same
 * repository (or layout, or store repository) at tag "sha256-H.sig": an OCI manifest whose layers
 * are simple-signing payloads with their signatures in annotations (see sigmanifest.c). So both
 * operations are: resolve the image to its digest, derive the .sig location from the image's
 * spec, then read (and for sign, rewrite) that small image with the ordinary ld_image_src /
 * ld_image_dst of transport.h. Nothing here knows whether the bytes go to a registry, the store
 * or an oci: directory.
 *
 * Sign appends: the existing .sig manifest is read, and if one of its layers already carries our
 * payload with a signature that verifies under our key, nothing is written (ECDSA signatures are
 * randomized, so "the same signature" means "a valid signature by the same key over the same
 * payload", which is what cosign's duplicate detection checks too). Otherwise the new layer goes
 * last and every existing layer is kept as it was.
 *
 * Verify is strict where containers/image is strict (payload schema, digest), and reports per
 * layer why a signature does not count, instead of stopping at the first bad one: a valid
 * signature next to a junk one is still a valid signature.
 */
#include <string.h>
#include "lading/digest.h"
#include "lading/json.h"
#include "lading/reference.h"
#include "lading/sign.h"
#include "lading/util.h"

#define PAYLOAD_MAX (1u << 20)

/* ---- specs ---- */

int ld_spec_parse(const char *spec, ld_spec *out, ld_error **err) {
  static const char *prefixes[] = {"docker://", "oci-archive:", "docker-archive:", "oci:"};
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < LD_ARRAY_SIZE(prefixes); i++) {
    if (!ld_str_has_prefix(spec, prefixes[i])) continue;
    const char *rest = spec + strlen(prefixes[i]);
    out->transport = ld_xstrdup(prefixes[i]);
    const char *colon = i == 0 ? NULL : strchr(rest, ':');
    out->location = colon ? ld_xstrndup(rest, (size_t) (colon - rest)) : ld_xstrdup(rest);
    out->tag = colon && colon[1] ? ld_xstrdup(colon + 1) : NULL;
    if (!out->location[0]) {
      ld_spec_clear(out);
      return ld_err(err, LD_EUSAGE, "%s: no location after the transport", spec);
    }
    return 0;
  }
  if (!spec[0]) return ld_err(err, LD_EUSAGE, "empty image reference");
  out->transport = ld_xstrdup("");
  out->location = ld_xstrdup(spec);
  return 0;
}

void ld_spec_clear(ld_spec *s) {
  free(s->transport);
  free(s->location);
  free(s->tag);
  memset(s, 0, sizeof *s);
}

/* Where an image's signatures live, and the identity cosign would sign for it. */
typedef struct sig_place {
  char *sig_spec; /* the .sig image spec */
  char *identity; /* repository (cosign's docker-reference); NULL for layouts */
} sig_place;

static void sig_place_clear(sig_place *p) {
  free(p->sig_spec);
  free(p->identity);
}

/* cosign (go-containerregistry) spells Docker Hub "index.docker.io". */
static char *cosign_repository(const ld_reference *r) {
  const char *domain = strcmp(r->domain, "docker.io") ? r->domain : "index.docker.io";
  return ld_xasprintf("%s/%s", domain, r->path);
}

static int place_for_reference(const char *prefix, const char *name, const char *sig_tag,
                               sig_place *out, ld_error **err) {
  ld_reference r;
  if (ld_reference_parse(name, &r, err) < 0) return -1;
  char *repo = ld_reference_name(&r);
  out->sig_spec = ld_xasprintf("%s%s:%s", prefix, repo, sig_tag);
  out->identity = cosign_repository(&r);
  free(repo);
  ld_reference_clear(&r);
  return 0;
}

/* src_name: the name the opened source reports (the store gives its canonical name). */
/* "sha256:…" or a bare hex prefix of at least 12 digits, as ld_store_resolve accepts them. */
static bool looks_like_digest(const char *s) {
  if (ld_str_has_prefix(s, "sha256:")) return true;
  size_t n = strspn(s, "0123456789abcdef");
  return n >= 12 && s[n] == 0;
}

/* A store name (not a .sig tag) whose image is digest; NULL if none. */
static char *store_name_of(const ld_transport_opts *o, const char *digest) {
  ld_store_ref *refs = NULL;
  size_t n = 0;
  char *found = NULL;
  if (!o || !o->store || ld_store_list(o->store, &refs, &n, NULL) < 0) return NULL;
  for (size_t i = 0; i < n && !found; i++)
    if (!strcmp(refs[i].desc.digest, digest) && !ld_str_has_suffix(refs[i].name, ".sig"))
      found = ld_xstrdup(refs[i].name);
  ld_store_refs_free(refs, n);
  return found;
}

static int sig_place_find(const char *spec, const ld_transport_opts *o, const char *src_name,
                          const char *digest, sig_place *out, ld_error **err) {
  memset(out, 0, sizeof *out);
  ld_spec s;
  if (ld_spec_parse(spec, &s, err) < 0) return -1;
  char *tag = ld_sig_tag(digest);
  int rc = 0;
  if (!strcmp(s.transport, "docker://")) {
    rc = place_for_reference("docker://", s.location, tag, out, err);
  } else if (!s.transport[0]) {
    /* The store: the source's canonical name; for an image named by digest (prefix), a name
     * the store has for that digest. */
    char *by_digest = looks_like_digest(s.location) ? store_name_of(o, digest) : NULL;
    const char *name = by_digest ? by_digest : src_name ? src_name : s.location;
    if (looks_like_digest(s.location) && !by_digest)
      rc = ld_err(err, LD_ENOTFOUND, "%s: no repository name in the store points at %s, so "
                  "there is no place for signatures", spec, digest);
    else
      rc = place_for_reference("", name, tag, out, err);
    free(by_digest);
  } else if (!strcmp(s.transport, "oci:") || !strcmp(s.transport, "oci-archive:")) {
    out->sig_spec = ld_xasprintf("%s%s:%s", s.transport, s.location, tag);
  } else {
    rc = ld_err(err, LD_EUNSUPPORTED,
                "%s: a docker-archive cannot hold signatures; copy the image to oci:, the store "
                "or a registry first",
                spec);
  }
  free(tag);
  ld_spec_clear(&s);
  return rc;
}

/* ---- reading ---- */

static int top_digest(ld_image_src *src, char digest[LD_DIGEST_MAX], ld_error **err) {
  char *bytes = NULL, *mt = NULL;
  size_t len;
  if (src->get_manifest(src, NULL, &bytes, &len, &mt, err) < 0) return -1;
  ld_digest_buf(LD_SHA256, bytes, len, digest);
  free(bytes);
  free(mt);
  return 0;
}

static bool is_not_found(const ld_error *e) {
  return e && (e->code == LD_ENOTFOUND || e->code == ENOENT);
}

/* Opens the .sig image; *found false (and 0) when there is none. */
static int sig_read(const char *sig_spec, const ld_transport_opts *o, bool *found,
                    ld_image_src **src, char **bytes, size_t *len, char **mt, ld_error **err) {
  ld_error *e = NULL;
  *found = false;
  *src = NULL;
  if (ld_image_src_open(sig_spec, o, src, &e) < 0 ||
      (*src)->get_manifest(*src, NULL, bytes, len, mt, &e) < 0) {
    ld_image_src_close(*src);
    *src = NULL;
    if (is_not_found(e)) {
      ld_error_free(e);
      return 0;
    }
    if (err) *err = e;
    else ld_error_free(e);
    return -1;
  }
  *found = true;
  return 0;
}

/* Reads a payload blob, verifying it against the layer's digest and size. */
static int payload_read(ld_image_src *src, const ld_sig_layer *l, char **out, size_t *len,
                        ld_error **err) {
  ld_descriptor d = {.media_type = l->media_type, .digest = (char *) l->digest, .size = l->size};
  ld_reader *r;
  if (l->size > (long long) PAYLOAD_MAX)
    return ld_err(err, LD_EFORMAT, "payload %s is larger than %u bytes", l->digest, PAYLOAD_MAX);
  if (src->open_blob(src, &d, &r, err) < 0) return -1;
  ld_reader *v = ld_verifier_new(r, true, l->digest, l->size, "payload blob");
  int rc = ld_reader_slurp(v, PAYLOAD_MAX, out, len, "payload blob", err);
  ld_reader_close(v);
  return rc;
}

/* ---- sign ---- */

void ld_sign_result_clear(ld_sign_result *r) {
  free(r->sig_spec);
  free(r->docker_reference);
  memset(r, 0, sizeof *r);
}

/* true if some layer holds this very payload with a signature by key. */
static bool already_signed(ld_image_src *sig_src, const ld_sig_manifest *m, const char *pd,
                           const ld_key *key) {
  for (size_t i = 0; i < m->n_layers; i++) {
    const ld_sig_layer *l = &m->layers[i];
    if (strcmp(l->digest, pd) || !l->signature_b64) continue;
    char *payload = NULL;
    size_t plen;
    unsigned char *sig = NULL;
    size_t slen;
    bool ok = payload_read(sig_src, l, &payload, &plen, NULL) == 0 &&
              ld_base64_decode(l->signature_b64, strlen(l->signature_b64), &sig, &slen) == 0 &&
              ld_key_verify(key, payload, plen, sig, slen);
    free(payload);
    free(sig);
    if (ok) return true;
  }
  return false;
}

static int put_mem_blob(ld_image_dst *dst, const char *mt, const char *data, size_t len,
                        char digest[LD_DIGEST_MAX], ld_error **err) {
  ld_digest_buf(LD_SHA256, data, len, digest);
  ld_descriptor d = {.media_type = (char *) mt, .digest = digest, .size = (int64_t) len};
  bool has = false;
  if (dst->has_blob(dst, &d, &has, err) < 0) return -1;
  if (has) return 0;
  ld_reader *r = ld_reader_from_mem(data, len, true);
  int rc = dst->put_blob(dst, &d, r, err);
  ld_reader_close(r);
  return rc;
}

/* Writes the .sig image: payload blob, config, manifest, tag. */
static int sig_write(const char *sig_spec, const ld_transport_opts *o, const ld_sig_manifest *m,
                     const char *payload, size_t plen, char sig_digest[LD_DIGEST_MAX],
                     ld_error **err) {
  ld_image_dst *dst = NULL;
  char pd[LD_DIGEST_MAX], cd[LD_DIGEST_MAX];
  ld_autofree char *config = ld_sig_config_build(m);
  ld_autofree char *manifest = NULL;
  int rc = -1;
  if (ld_image_dst_open(sig_spec, o, &dst, err) < 0) return -1;
  if (put_mem_blob(dst, LD_MT_COSIGN_SIMPLESIGNING, payload, plen, pd, err) < 0 ||
      put_mem_blob(dst, LD_MT_OCI_CONFIG, config, strlen(config), cd, err) < 0)
    goto out;
  manifest = ld_sig_manifest_build(m, cd, (long long) strlen(config));
  ld_digest_buf(LD_SHA256, manifest, strlen(manifest), sig_digest);
  if (dst->put_manifest(dst, manifest, strlen(manifest), LD_MT_OCI_MANIFEST, sig_digest, err) < 0)
    goto out;
  ld_descriptor top = {.media_type = LD_MT_OCI_MANIFEST, .digest = sig_digest,
                       .size = (int64_t) strlen(manifest)};
  rc = dst->commit(dst, &top, err);
out:
  ld_image_dst_close(dst);
  return rc;
}

static int sign_identity(const ld_sign_opts *o, const sig_place *place, const char *spec,
                         char **out, ld_error **err) {
  if (o && o->identity) {
    ld_reference r;
    if (ld_reference_parse(o->identity, &r, err) < 0)
      return ld_error_wrap(err, "--identity");
    ld_reference_clear(&r);
    *out = ld_xstrdup(o->identity);
    return 0;
  }
  if (!place->identity)
    return ld_err(err, LD_EUSAGE,
                  "%s: a layout has no registry name to sign for; give --identity REPOSITORY",
                  spec);
  *out = ld_xstrdup(place->identity);
  return 0;
}

int ld_sign_image(const char *spec, const ld_key *key, const ld_sign_opts *o,
                  ld_sign_result *res, ld_error **err) {
  memset(res, 0, sizeof *res);
  const ld_transport_opts *to = o ? o->transport : NULL;
  if (ld_str_has_prefix(spec, "oci-archive:") || ld_str_has_prefix(spec, "docker-archive:"))
    return ld_err(err, LD_EUNSUPPORTED,
                  "%s: signatures cannot be added to an archive; copy the image to oci:, the "
                  "store or a registry first",
                  spec);
  ld_image_src *src = NULL, *sig_src = NULL;
  sig_place place = {0};
  ld_sig_manifest m = {0};
  char *payload = NULL, *sig_bytes = NULL, *sig_mt = NULL;
  unsigned char *sig = NULL;
  size_t sig_len = 0, sig_bytes_len = 0;
  bool found;
  int rc = -1;
  if (ld_image_src_open(spec, to, &src, err) < 0 || top_digest(src, res->image_digest, err) < 0 ||
      sig_place_find(spec, to, src->name, res->image_digest, &place, err) < 0 ||
      sign_identity(o, &place, spec, &res->docker_reference, err) < 0)
    goto out;
  ld_image_src_close(src);
  src = NULL;
  res->sig_spec = ld_xstrdup(place.sig_spec);
  payload = ld_payload_build(res->docker_reference, res->image_digest, o ? o->optional : NULL);
  size_t plen = strlen(payload);
  char pd[LD_DIGEST_MAX];
  ld_digest_buf(LD_SHA256, payload, plen, pd);
  if (sig_read(place.sig_spec, to, &found, &sig_src, &sig_bytes, &sig_bytes_len, &sig_mt, err) < 0)
    goto out;
  if (found) {
    if (ld_sig_manifest_parse(sig_bytes, sig_bytes_len, sig_mt, &m, err) < 0) {
      ld_error_wrap(err, "%s: will not append to it", place.sig_spec);
      goto out;
    }
    ld_digest_buf(LD_SHA256, sig_bytes, sig_bytes_len, res->sig_digest);
    if (already_signed(sig_src, &m, pd, key)) {
      res->n_signatures = m.n_layers;
      rc = 0;
      goto out;
    }
  }
  if (ld_key_sign(key, payload, plen, &sig, &sig_len, err) < 0) goto out;
  char *sig64 = ld_base64_encode(sig, sig_len);
  ld_sig_manifest_add(&m, pd, (long long) plen, sig64);
  free(sig64);
  ld_image_src_close(sig_src);
  sig_src = NULL;
  if (sig_write(place.sig_spec, to, &m, payload, plen, res->sig_digest, err) < 0) {
    ld_error_wrap(err, "writing %s", place.sig_spec);
    goto out;
  }
  res->n_signatures = m.n_layers;
  res->added = true;
  rc = 0;
out:
  ld_image_src_close(src);
  ld_image_src_close(sig_src);
  sig_place_clear(&place);
  ld_sig_manifest_clear(&m);
  free(payload);
  free(sig_bytes);
  free(sig_mt);
  free(sig);
  if (rc < 0) ld_sign_result_clear(res);
  return rc;
}

/* ---- verify ---- */

void ld_verify_result_clear(ld_verify_result *r) {
  for (size_t i = 0; i < r->n_checks; i++) {
    ld_sig_check *c = &r->checks[i];
    free(c->docker_reference);
    free(c->payload_digest);
    free(c->creator);
    free(c->reason);
  }
  free(r->checks);
  free(r->sig_spec);
  free(r->problem);
  memset(r, 0, sizeof *r);
}

/* Records why a signature does not count: the error's message (consumed) or fmt with arg. */
static void check_fail(ld_sig_check *c, ld_error **e, const char *fmt, const char *arg) {
  c->reason = e && *e ? ld_xstrdup((*e)->msg) : ld_xasprintf(fmt, arg);
  if (e) ld_error_clear(e);
}

static void check_layer(ld_image_src *sig_src, const ld_sig_layer *l, ld_key *const *keys,
                        size_t n_keys, const char *image_digest, ld_sig_check *c) {
  snprintf(c->layer_digest, sizeof c->layer_digest, "%s", l->digest);
  c->key_index = -1;
  ld_error *e = NULL;
  char *payload = NULL;
  unsigned char *sig = NULL;
  size_t plen, slen;
  ld_payload p = {0};
  if (strcmp(l->media_type, LD_MT_COSIGN_SIMPLESIGNING)) {
    check_fail(c, NULL, "layer media type %s is not a simple-signing payload", l->media_type);
  } else if (!l->signature_b64) {
    check_fail(c, NULL, "layer has no %s annotation", LD_COSIGN_SIGNATURE_ANNOTATION);
  } else if (ld_base64_decode(l->signature_b64, strlen(l->signature_b64), &sig, &slen) < 0) {
    check_fail(c, NULL, "signature annotation of layer %s is not base64", l->digest);
  } else if (payload_read(sig_src, l, &payload, &plen, &e) < 0) {
    check_fail(c, &e, NULL, NULL);
  } else {
    for (size_t k = 0; k < n_keys && c->key_index < 0; k++)
      if (ld_key_verify(keys[k], payload, plen, sig, slen)) c->key_index = (int) k;
    if (ld_payload_parse(payload, plen, &p, &e) == 0) {
      c->docker_reference = ld_xstrdup(p.docker_reference);
      c->payload_digest = ld_xstrdup(p.manifest_digest);
      c->creator = p.creator ? ld_xstrdup(p.creator) : NULL;
      c->timestamp = p.timestamp;
    }
    if (c->key_index < 0) check_fail(c, NULL, "%s", "signature does not verify with any given key");
    else if (e) check_fail(c, &e, NULL, NULL);
    else if (strcmp(p.manifest_digest, image_digest))
      c->reason = ld_xasprintf("payload signs %s, not this image", p.manifest_digest);
    else c->valid = true;
  }
  ld_error_free(e);
  ld_payload_clear(&p);
  free(payload);
  free(sig);
}

int ld_verify_image(const char *spec, ld_key *const *keys, size_t n_keys,
                    const ld_transport_opts *topts, ld_verify_result *res, ld_error **err) {
  memset(res, 0, sizeof *res);
  ld_image_src *src = NULL, *sig_src = NULL;
  sig_place place = {0};
  ld_sig_manifest m = {0};
  char *sig_bytes = NULL, *sig_mt = NULL;
  size_t sig_len = 0;
  int rc = -1;
  if (ld_image_src_open(spec, topts, &src, err) < 0 ||
      top_digest(src, res->image_digest, err) < 0 ||
      sig_place_find(spec, topts, src->name, res->image_digest, &place, err) < 0)
    goto out;
  ld_image_src_close(src);
  src = NULL;
  res->sig_spec = ld_xstrdup(place.sig_spec);
  if (sig_read(place.sig_spec, topts, &res->sig_found, &sig_src, &sig_bytes, &sig_len, &sig_mt,
               err) < 0)
    goto out;
  rc = 0;
  if (!res->sig_found) goto out;
  ld_error *e = NULL;
  if (ld_sig_manifest_parse(sig_bytes, sig_len, sig_mt, &m, &e) < 0) {
    res->problem = ld_xstrdup(e->msg);
    ld_error_free(e);
    goto out;
  }
  res->checks = ld_xcalloc(m.n_layers ? m.n_layers : 1, sizeof *res->checks);
  for (size_t i = 0; i < m.n_layers; i++, res->n_checks++) {
    check_layer(sig_src, &m.layers[i], keys, n_keys, res->image_digest, &res->checks[i]);
    if (res->checks[i].valid) res->n_valid++;
  }
out:
  ld_image_src_close(src);
  ld_image_src_close(sig_src);
  sig_place_clear(&place);
  ld_sig_manifest_clear(&m);
  free(sig_bytes);
  free(sig_mt);
  return rc;
}
