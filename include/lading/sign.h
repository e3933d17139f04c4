/* Signatures in the cosign format, readable by cosign and containers/image (skopeo, podman).
 *
 * Three layers, each usable on its own:
 *
 *  1. Keys (lib/sign/key.c). A private key lives in cosign's encrypted file: PEM type
 *     "ENCRYPTED COSIGN PRIVATE KEY" (we also read "ENCRYPTED SIGSTORE PRIVATE KEY") whose body is
 *     the JSON {"kdf":{"name":"scrypt","params":{"N":..,"r":8,"p":1},"salt":B64},
 *     "cipher":{"name":"nacl/secretbox","nonce":B64},"ciphertext":B64}; the secretbox key is
 *     scrypt(passphrase, salt, 32 bytes) and the plaintext is the PKCS#8 DER of the key. We write
 *     N=32768 (what every reader accepts) and read N in {32768, 65536, 131072} only: other values
 *     are refused before any memory is spent. Public keys are PEM "PUBLIC KEY" (SPKI).
 *
 *  2. Documents (lib/sign/payload.c, lib/sign/sigmanifest.c). The simple-signing payload and the
 *     OCI manifest stored at tag "sha256-<hex>.sig" next to the image, written byte for byte as
 *     Go's encoding/json writes them (containers/image's field order, sorted annotation keys, Go
 *     string escaping), so a digest we compute equals the one skopeo or cosign would.
 *
 *  3. Images (lib/sign/sign.c): ld_sign_image / ld_verify_image move those documents through the
 *     transports of transport.h, for the store, oci: layouts and registries alike.
 */
#ifndef LADING_SIGN_H
#define LADING_SIGN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "lading/error.h"
#include "lading/transport.h"
#include "lading/util.h"

#define LD_MT_COSIGN_SIMPLESIGNING "application/vnd.dev.cosign.simplesigning.v1+json"
#define LD_COSIGN_SIGNATURE_ANNOTATION "dev.cosignproject.cosign/signature"
#define LD_COSIGN_SIGNATURE_TYPE "cosign container image signature"
#define LD_COSIGN_PEM_TYPE "ENCRYPTED COSIGN PRIVATE KEY"
#define LD_SIGSTORE_PEM_TYPE "ENCRYPTED SIGSTORE PRIVATE KEY"
#define LD_COSIGN_SCRYPT_N 32768

/* ---- keys ---------------------------------------------------------------------------------- */

typedef struct ld_key ld_key; /* a private or public key (P-256 ECDSA, or RSA read from files) */

/* A new P-256 key pair. */
int ld_key_generate(ld_key **out, ld_error **err);
void ld_key_free(ld_key *k);
bool ld_key_is_private(const ld_key *k);
/* "ecdsa-p256", "rsa-2048", ... */
const char *ld_key_type(const ld_key *k);
/* "sha256:<hex>" of the DER SubjectPublicKeyInfo: names a key in reports. */
const char *ld_key_id(const ld_key *k);

/* PEM "PUBLIC KEY" (NUL-terminated, caller frees). */
char *ld_key_public_pem(const ld_key *k);
/* Loads a public key from PEM "PUBLIC KEY" bytes or a file; what names it in errors. */
int ld_key_parse_public(const char *pem, size_t len, const char *what, ld_key **out,
                        ld_error **err);
int ld_key_load_public(const char *path, ld_key **out, ld_error **err);

/* The cosign encrypted private key file (N = LD_COSIGN_SCRYPT_N). */
int ld_key_encrypt_cosign(const ld_key *k, const char *pass, size_t pass_len, char **pem,
                          ld_error **err);
/* Reads either PEM type; the plaintext must be PKCS#8 (a SEC1 "EC PRIVATE KEY" is refused).
 * A wrong passphrase fails with EACCES. */
int ld_key_decrypt_cosign(const char *pem, size_t len, const char *pass, size_t pass_len,
                          const char *what, ld_key **out, ld_error **err);
int ld_key_load_private(const char *path, const char *pass, size_t pass_len, ld_key **out,
                        ld_error **err);
/* The JSON envelope alone (securesystemslib "encrypted" format): plaintext bytes. */
int ld_cosign_decrypt_json(const char *json, size_t len, const char *pass, size_t pass_len,
                           const char *what, unsigned char **plain, size_t *plain_len,
                           ld_error **err);
int ld_cosign_encrypt_json(const unsigned char *plain, size_t plain_len, const char *pass,
                           size_t pass_len, char **json, ld_error **err);

/* Signs data (SHA-256; ECDSA gives ASN.1 DER). */
int ld_key_sign(const ld_key *k, const void *data, size_t len, unsigned char **sig,
                size_t *sig_len, ld_error **err);
/* true if sig is k's signature over data. */
bool ld_key_verify(const ld_key *k, const void *data, size_t len, const unsigned char *sig,
                   size_t sig_len);

/* The passphrase: $LADING_PASSWORD, else $COSIGN_PASSWORD, else asked on /dev/tty (twice when
 * confirm). Empty is allowed. Fails with a clear error when none of these is available. */
int ld_passphrase_get(const char *prompt, bool confirm, char **out, ld_error **err);

/* Base64 (standard alphabet, padded) helpers over OpenSSL's EVP encoder. */
char *ld_base64_encode(const void *data, size_t len);
int ld_base64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len);

/* ---- documents ----------------------------------------------------------------------------- */

/* The simple-signing payload as cosign writes it:
 * {"critical":{"identity":{"docker-reference":REF},"image":{"docker-manifest-digest":DIGEST},
 *  "type":"cosign container image signature"},"optional":OPTIONAL}
 * optional: NULL writes null; an object is written with sorted keys (Go map order); its values
 * may be strings, integers, booleans or null. */
char *ld_payload_build(const char *docker_reference, const char *manifest_digest,
                       const json_t *optional);

typedef struct ld_payload {
  char *docker_reference;
  char *manifest_digest;
  char *creator;     /* optional.creator or NULL */
  long long timestamp; /* optional.timestamp, 0 if absent */
  json_t *optional;  /* the optional object, or NULL */
} ld_payload;
/* Parses strictly, as containers/image does: exactly the keys above, no duplicates, type equal
 * to LD_COSIGN_SIGNATURE_TYPE, a valid digest, integer timestamp. */
int ld_payload_parse(const char *buf, size_t len, ld_payload *out, ld_error **err);
void ld_payload_clear(ld_payload *p);

/* "sha256-<hex>.sig" for a manifest digest. */
char *ld_sig_tag(const char *manifest_digest);

/* One signature layer of a .sig manifest. */
typedef struct ld_sig_layer {
  char *media_type;
  char digest[136];
  long long size;
  char *signature_b64; /* the annotation value; NULL if the layer had none */
  json_t *annotations; /* all of the layer's annotations (own reference), may be NULL */
} ld_sig_layer;

typedef struct ld_sig_manifest {
  ld_sig_layer *layers;
  size_t n_layers;
} ld_sig_manifest;

/* Parses a .sig manifest: it must be an OCI image manifest (by mediaType, or by the hint when the
 * document has none; a disagreement between the two is refused). Layers of other media types are
 * kept (and reported as invalid signatures by verify), never dropped. */
int ld_sig_manifest_parse(const char *buf, size_t len, const char *media_type_hint,
                          ld_sig_manifest *out, ld_error **err);
void ld_sig_manifest_clear(ld_sig_manifest *m);
/* Appends a simple-signing layer whose only annotation is the signature. */
void ld_sig_manifest_add(ld_sig_manifest *m, const char *payload_digest, long long payload_size,
                         const char *signature_b64);
/* The config blob skopeo writes: {"architecture":"","os":"","config":{},"rootfs":{"type":
 * "layers","diff_ids":[<layer digests>]}}. */
char *ld_sig_config_build(const ld_sig_manifest *m);
/* The manifest, given the config's digest and size. */
char *ld_sig_manifest_build(const ld_sig_manifest *m, const char *config_digest,
                            long long config_size);

/* Go's encoding/json string escaping (HTML-safe: <, >, & as \u003c...; U+2028/9 escaped). */
void ld_go_json_quote(ld_buf *b, const char *s);
/* Any value the Go way: objects with sorted keys (Go maps), no spaces. */
void ld_go_json_value(ld_buf *b, const json_t *v);

/* ---- images -------------------------------------------------------------------------------- */

typedef struct ld_sign_opts {
  const char *identity;        /* docker-reference to write; NULL: the image's repository */
  json_t *optional;            /* annotations (-a k=v); NULL writes "optional":null */
  const ld_transport_opts *transport;
} ld_sign_opts;

typedef struct ld_sign_result {
  char image_digest[136];
  char sig_digest[136];   /* the .sig manifest written (or the existing one) */
  char *sig_spec;         /* where it went, e.g. docker://r/x:sha256-….sig */
  char *docker_reference; /* the identity signed */
  size_t n_signatures;    /* layers in the .sig manifest now */
  bool added;             /* false when an equal signature by this key was already there */
} ld_sign_result;

int ld_sign_image(const char *spec, const ld_key *key, const ld_sign_opts *o,
                  ld_sign_result *res, ld_error **err);
void ld_sign_result_clear(ld_sign_result *r);

/* What verify found for one signature layer. */
typedef struct ld_sig_check {
  char layer_digest[136];
  bool valid;           /* signature by one of the keys, payload strict and for this image */
  int key_index;        /* which key verified it, -1 if none */
  char *docker_reference; /* from the payload (NULL if unreadable) */
  char *payload_digest;   /* docker-manifest-digest from the payload */
  char *creator;
  long long timestamp;
  char *reason;           /* why not valid; NULL when valid */
} ld_sig_check;

typedef struct ld_verify_result {
  char image_digest[136];
  char *sig_spec;
  bool sig_found; /* a .sig manifest exists */
  char *problem;  /* the .sig manifest exists but is unusable (wrong media type ...) */
  ld_sig_check *checks;
  size_t n_checks;
  size_t n_valid;
} ld_verify_result;

/* Finds the image's .sig and checks every signature against keys. Returns 0 whenever the check
 * ran (res says what was found: callers exit 3 when n_valid == 0), -1 on errors (unreachable
 * image, malformed .sig manifest, blob digest mismatch). */
int ld_verify_image(const char *spec, ld_key *const *keys, size_t n_keys,
                    const ld_transport_opts *topts, ld_verify_result *res, ld_error **err);
void ld_verify_result_clear(ld_verify_result *r);

/* Helpers on transport specs (exposed for pin and policy). Splits "docker://r/x:t" into the
 * transport prefix ("docker://", "oci:", "" for the store ...) and the rest. */
typedef struct ld_spec {
  char *transport; /* "docker://", "oci:", "oci-archive:", "docker-archive:", or "" (store) */
  char *location;  /* the reference (docker://, store) or the directory/file */
  char *tag;       /* oci: and archives: the TAG part; NULL if none */
} ld_spec;
int ld_spec_parse(const char *spec, ld_spec *out, ld_error **err);
void ld_spec_clear(ld_spec *s);

#endif
