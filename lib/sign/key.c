/* Keys: generation, PEM public keys, cosign's encrypted private key file, sign and verify.
 *
 * The private key file is the one cosign, skopeo and podman read and write: a PEM block of type
 * "ENCRYPTED COSIGN PRIVATE KEY" (or "ENCRYPTED SIGSTORE PRIVATE KEY", its newer name) whose body
 * is a JSON envelope (go-securesystemslib's "encrypted" format):
 *
 *   {"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"<b64 32 bytes>"},
 *    "cipher":{"name":"nacl/secretbox","nonce":"<b64 24 bytes>"},"ciphertext":"<b64>"}
 *
 * secretbox key = scrypt(passphrase, salt, N, r, p, 32 bytes); plaintext = PKCS#8 DER.
 * scrypt comes from OpenSSL (EVP_PBE_scrypt, whose default 32 MB memory cap is too small for
 * N >= 32768 with r=8, so we pass a cap sized for the accepted N), XSalsa20-Poly1305 from
 * libsodium (OpenSSL has no XSalsa20). The scrypt parameters are checked against a short list
 * BEFORE deriving: a key file must not be able to make us allocate gigabytes.
 *
 * Signing is SHA-256 then ECDSA (ASN.1 DER signature) for P-256; RSA keys found in cosign files
 * sign with PKCS#1 v1.5 over SHA-256, as cosign does. Everything else is refused by name.
 */
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <string.h>
#include "lading/digest.h"
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/sign.h"
#include "lading/util.h"

#define KEY_FILE_MAX (64u << 10)
#define SALT_LEN 32

struct ld_key {
  EVP_PKEY *pkey;
  bool is_private;
  char type[32];
  char id[LD_DIGEST_MAX];
};

/* ---- base64 ---- */

char *ld_base64_encode(const void *data, size_t len) {
  char *out = ld_xmalloc(4 * ((len + 2) / 3) + 1);
  EVP_EncodeBlock((unsigned char *) out, data, (int) len);
  return out;
}

int ld_base64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len) {
  if (len % 4 != 0 || len > (1u << 30)) return -1;
  unsigned char *buf = ld_xmalloc(len / 4 * 3 + 1);
  int n = len ? EVP_DecodeBlock(buf, (const unsigned char *) s, (int) len) : 0;
  if (n < 0) {
    free(buf);
    return -1;
  }
  size_t pad = 0;
  if (len >= 1 && s[len - 1] == '=') pad++;
  if (len >= 2 && s[len - 2] == '=') pad++;
  *out = buf;
  *out_len = (size_t) n - pad;
  return 0;
}

/* ---- key objects ---- */

static int key_wrap(EVP_PKEY *pkey, bool is_private, const char *what, ld_key **out,
                    ld_error **err) {
  int base = EVP_PKEY_get_base_id(pkey);
  char type[32];
  if (base == EVP_PKEY_EC) {
    char group[64] = "";
    size_t glen = 0;
    EVP_PKEY_get_group_name(pkey, group, sizeof group, &glen);
    if (strcmp(group, "prime256v1") && strcmp(group, "P-256")) {
      EVP_PKEY_free(pkey);
      return ld_err(err, LD_EUNSUPPORTED, "%s: EC curve %s is not supported (P-256 only)", what,
                    group[0] ? group : "unknown");
    }
    snprintf(type, sizeof type, "ecdsa-p256");
  } else if (base == EVP_PKEY_RSA) {
    int bits = EVP_PKEY_get_bits(pkey);
    if (bits < 2048) {
      EVP_PKEY_free(pkey);
      return ld_err(err, LD_EUNSUPPORTED, "%s: RSA key of %d bits is too weak (2048 at least)",
                    what, bits);
    }
    snprintf(type, sizeof type, "rsa-%d", bits);
  } else {
    const char *name = OBJ_nid2sn(base);
    EVP_PKEY_free(pkey);
    return ld_err(err, LD_EUNSUPPORTED, "%s: key type %s is not supported (ECDSA P-256 or RSA)",
                  what, name ? name : "unknown");
  }
  ld_key *k = ld_xcalloc(1, sizeof *k);
  k->pkey = pkey;
  k->is_private = is_private;
  memcpy(k->type, type, sizeof type);
  unsigned char *der = NULL;
  int der_len = i2d_PUBKEY(pkey, &der);
  if (der_len > 0) ld_digest_buf(LD_SHA256, der, (size_t) der_len, k->id);
  OPENSSL_free(der);
  *out = k;
  return 0;
}

int ld_key_generate(ld_key **out, ld_error **err) {
  EVP_PKEY *pkey = EVP_EC_gen("P-256");
  if (!pkey) return ld_err(err, EIO, "generating a P-256 key failed");
  return key_wrap(pkey, true, "generated key", out, err);
}

void ld_key_free(ld_key *k) {
  if (!k) return;
  EVP_PKEY_free(k->pkey);
  free(k);
}

bool ld_key_is_private(const ld_key *k) { return k->is_private; }
const char *ld_key_type(const ld_key *k) { return k->type; }
const char *ld_key_id(const ld_key *k) { return k->id; }

static char *bio_steal(BIO *bio) {
  char *data = NULL;
  long n = BIO_get_mem_data(bio, &data);
  char *s = ld_xstrndup(data, (size_t) n);
  BIO_free(bio);
  return s;
}

char *ld_key_public_pem(const ld_key *k) {
  BIO *bio = BIO_new(BIO_s_mem());
  if (!bio || !PEM_write_bio_PUBKEY(bio, k->pkey)) abort();
  return bio_steal(bio);
}

int ld_key_parse_public(const char *pem, size_t len, const char *what, ld_key **out,
                        ld_error **err) {
  BIO *bio = BIO_new_mem_buf(pem, (int) len);
  if (!bio) abort();
  EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
  BIO_free(bio);
  if (!pkey) return ld_err(err, LD_EFORMAT, "%s: not a PEM \"PUBLIC KEY\"", what);
  return key_wrap(pkey, false, what, out, err);
}

int ld_key_load_public(const char *path, ld_key **out, ld_error **err) {
  ld_autofree char *buf = NULL;
  size_t len;
  if (ld_read_file(path, KEY_FILE_MAX, &buf, &len, err) < 0) return -1;
  return ld_key_parse_public(buf, len, path, out, err);
}

/* ---- the encrypted envelope ---- */

static bool scrypt_params_accepted(int64_t n, int64_t r, int64_t p) {
  return (n == 32768 || n == 65536 || n == 131072) && r == 8 && p == 1;
}

static int derive_key(const char *pass, size_t pass_len, const unsigned char *salt,
                      size_t salt_len, uint64_t n, unsigned char key[crypto_secretbox_KEYBYTES],
                      const char *what, ld_error **err) {
  /* V needs 128*r*N bytes, B 128*r*p; leave headroom over OpenSSL's own accounting. */
  uint64_t maxmem = 128ull * 8 * n + (16u << 20);
  if (EVP_PBE_scrypt(pass_len ? pass : "", pass_len, salt, salt_len, n, 8, 1, maxmem, key,
                     crypto_secretbox_KEYBYTES) != 1)
    return ld_err(err, EIO, "%s: scrypt key derivation failed", what);
  return 0;
}

/* Decodes a base64 JSON string field into bytes. */
static int b64_field(const json_t *obj, const char *key, const char *what, unsigned char **out,
                     size_t *len, ld_error **err) {
  const char *s = ld_json_str(obj, key);
  if (!s) return ld_err(err, LD_EFORMAT, "%s: field \"%s\" missing or not a string", what, key);
  if (ld_base64_decode(s, strlen(s), out, len) < 0)
    return ld_err(err, LD_EFORMAT, "%s: field \"%s\" is not valid base64", what, key);
  return 0;
}

typedef struct envelope {
  int64_t n;
  unsigned char *salt, *nonce, *ciphertext;
  size_t salt_len, nonce_len, ciphertext_len;
} envelope;

static void envelope_clear(envelope *e) {
  free(e->salt);
  free(e->nonce);
  free(e->ciphertext);
  memset(e, 0, sizeof *e);
}

static int envelope_parse(const char *json, size_t len, const char *what, envelope *e,
                          ld_error **err) {
  ld_autojson json_t *root = NULL;
  if (ld_json_parse(json, len, what, &root, err) < 0) return -1;
  json_t *kdf = json_object_get(root, "kdf"), *cipher = json_object_get(root, "cipher");
  json_t *params = json_object_get(kdf, "params");
  const char *kdf_name = ld_json_str(kdf, "name"), *cipher_name = ld_json_str(cipher, "name");
  if (!json_is_object(kdf) || !kdf_name || strcmp(kdf_name, "scrypt"))
    return ld_err(err, LD_EUNSUPPORTED, "%s: key derivation \"%s\" is not supported (scrypt)",
                  what, kdf_name ? kdf_name : "(missing)");
  if (!json_is_object(cipher) || !cipher_name || strcmp(cipher_name, "nacl/secretbox"))
    return ld_err(err, LD_EUNSUPPORTED, "%s: cipher \"%s\" is not supported (nacl/secretbox)",
                  what, cipher_name ? cipher_name : "(missing)");
  int64_t n = ld_json_int(params, "N", -1), r = ld_json_int(params, "r", -1),
          p = ld_json_int(params, "p", -1);
  if (!scrypt_params_accepted(n, r, p))
    return ld_err(err, LD_EUNSUPPORTED,
                  "%s: scrypt parameters N=%lld r=%lld p=%lld refused (accepted: N 32768, 65536 "
                  "or 131072 with r=8 p=1)",
                  what, (long long) n, (long long) r, (long long) p);
  e->n = n;
  if (b64_field(kdf, "salt", what, &e->salt, &e->salt_len, err) < 0 ||
      b64_field(cipher, "nonce", what, &e->nonce, &e->nonce_len, err) < 0 ||
      b64_field(root, "ciphertext", what, &e->ciphertext, &e->ciphertext_len, err) < 0) {
    envelope_clear(e);
    return -1;
  }
  if (e->nonce_len != crypto_secretbox_NONCEBYTES || e->ciphertext_len < crypto_secretbox_MACBYTES) {
    envelope_clear(e);
    return ld_err(err, LD_EFORMAT, "%s: nonce or ciphertext has the wrong length", what);
  }
  return 0;
}

int ld_cosign_decrypt_json(const char *json, size_t len, const char *pass, size_t pass_len,
                           const char *what, unsigned char **plain, size_t *plain_len,
                           ld_error **err) {
  envelope e = {0};
  if (envelope_parse(json, len, what, &e, err) < 0) return -1;
  unsigned char key[crypto_secretbox_KEYBYTES];
  if (derive_key(pass, pass_len, e.salt, e.salt_len, (uint64_t) e.n, key, what, err) < 0) {
    envelope_clear(&e);
    return -1;
  }
  size_t n = e.ciphertext_len - crypto_secretbox_MACBYTES;
  unsigned char *out = ld_xmalloc(n + 1);
  int rc = crypto_secretbox_open_easy(out, e.ciphertext, e.ciphertext_len, e.nonce, key);
  sodium_memzero(key, sizeof key);
  envelope_clear(&e);
  if (rc != 0) {
    free(out);
    return ld_err(err, EACCES, "%s: decryption failed (wrong passphrase?)", what);
  }
  out[n] = 0;
  *plain = out;
  *plain_len = n;
  return 0;
}

int ld_cosign_encrypt_json(const unsigned char *plain, size_t plain_len, const char *pass,
                           size_t pass_len, char **json, ld_error **err) {
  unsigned char salt[SALT_LEN], nonce[crypto_secretbox_NONCEBYTES], key[crypto_secretbox_KEYBYTES];
  randombytes_buf(salt, sizeof salt);
  randombytes_buf(nonce, sizeof nonce);
  if (derive_key(pass, pass_len, salt, sizeof salt, LD_COSIGN_SCRYPT_N, key, "new key file",
                 err) < 0)
    return -1;
  size_t clen = plain_len + crypto_secretbox_MACBYTES;
  unsigned char *c = ld_xmalloc(clen);
  crypto_secretbox_easy(c, plain, plain_len, nonce, key);
  sodium_memzero(key, sizeof key);
  ld_autofree char *salt64 = ld_base64_encode(salt, sizeof salt);
  ld_autofree char *nonce64 = ld_base64_encode(nonce, sizeof nonce);
  ld_autofree char *c64 = ld_base64_encode(c, clen);
  free(c);
  /* Go's field order of go-securesystemslib's data/scryptKDF/secretBoxCipher structs. */
  *json = ld_xasprintf("{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":%d,\"r\":8,\"p\":1},"
                       "\"salt\":\"%s\"},\"cipher\":{\"name\":\"nacl/secretbox\",\"nonce\":\"%s\"},"
                       "\"ciphertext\":\"%s\"}",
                       LD_COSIGN_SCRYPT_N, salt64, nonce64, c64);
  return 0;
}

/* ---- private key files ---- */

static int pkey_from_pkcs8(const unsigned char *der, size_t len, const char *what,
                           EVP_PKEY **out, ld_error **err) {
  const unsigned char *p = der;
  PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long) len);
  if (!p8 || p != der + len) {
    PKCS8_PRIV_KEY_INFO_free(p8);
    return ld_err(err, LD_EFORMAT,
                  "%s: the decrypted key is not PKCS#8 (a SEC1 or PKCS#1 key is refused)", what);
  }
  EVP_PKEY *pkey = EVP_PKCS82PKEY(p8);
  PKCS8_PRIV_KEY_INFO_free(p8);
  if (!pkey) return ld_err(err, LD_EFORMAT, "%s: the PKCS#8 key could not be read", what);
  *out = pkey;
  return 0;
}

int ld_key_encrypt_cosign(const ld_key *k, const char *pass, size_t pass_len, char **pem,
                          ld_error **err) {
  if (!k->is_private) return ld_err(err, EINVAL, "not a private key");
  PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k->pkey);
  unsigned char *der = NULL;
  int der_len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
  PKCS8_PRIV_KEY_INFO_free(p8);
  if (der_len <= 0) return ld_err(err, EIO, "encoding the private key as PKCS#8 failed");
  ld_autofree char *json = NULL;
  int rc = ld_cosign_encrypt_json(der, (size_t) der_len, pass, pass_len, &json, err);
  OPENSSL_clear_free(der, (size_t) der_len);
  if (rc < 0) return -1;
  BIO *bio = BIO_new(BIO_s_mem());
  if (!bio || !PEM_write_bio(bio, LD_COSIGN_PEM_TYPE, "", (unsigned char *) json,
                             (long) strlen(json)))
    abort();
  *pem = bio_steal(bio);
  return 0;
}

int ld_key_decrypt_cosign(const char *pem, size_t len, const char *pass, size_t pass_len,
                          const char *what, ld_key **out, ld_error **err) {
  BIO *bio = BIO_new_mem_buf(pem, (int) len);
  if (!bio) abort();
  char *name = NULL, *header = NULL;
  unsigned char *data = NULL;
  long data_len = 0;
  int ok = PEM_read_bio(bio, &name, &header, &data, &data_len);
  BIO_free(bio);
  if (!ok) return ld_err(err, LD_EFORMAT, "%s: no PEM block found", what);
  int rc = -1;
  if (strcmp(name, LD_COSIGN_PEM_TYPE) && strcmp(name, LD_SIGSTORE_PEM_TYPE)) {
    ld_err(err, LD_EUNSUPPORTED, "%s: PEM type \"%s\" is not a cosign key (want \"%s\" or \"%s\")",
           what, name, LD_COSIGN_PEM_TYPE, LD_SIGSTORE_PEM_TYPE);
    goto out;
  }
  unsigned char *der = NULL;
  size_t der_len = 0;
  if (ld_cosign_decrypt_json((const char *) data, (size_t) data_len, pass, pass_len, what, &der,
                             &der_len, err) < 0)
    goto out;
  EVP_PKEY *pkey = NULL;
  rc = pkey_from_pkcs8(der, der_len, what, &pkey, err);
  OPENSSL_cleanse(der, der_len);
  free(der);
  if (rc == 0) rc = key_wrap(pkey, true, what, out, err);
out:
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  return rc;
}

int ld_key_load_private(const char *path, const char *pass, size_t pass_len, ld_key **out,
                        ld_error **err) {
  ld_autofree char *buf = NULL;
  size_t len;
  if (ld_read_file(path, KEY_FILE_MAX, &buf, &len, err) < 0) return -1;
  return ld_key_decrypt_cosign(buf, len, pass, pass_len, path, out, err);
}

/* ---- signatures ---- */

int ld_key_sign(const ld_key *k, const void *data, size_t len, unsigned char **sig,
                size_t *sig_len, ld_error **err) {
  if (!k->is_private) return ld_err(err, EINVAL, "signing needs a private key");
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  size_t n = 0;
  unsigned char *buf = NULL;
  if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1 ||
      EVP_DigestSign(ctx, NULL, &n, data, len) != 1)
    goto fail;
  buf = ld_xmalloc(n);
  if (EVP_DigestSign(ctx, buf, &n, data, len) != 1) goto fail;
  EVP_MD_CTX_free(ctx);
  *sig = buf;
  *sig_len = n;
  return 0;
fail:
  free(buf);
  EVP_MD_CTX_free(ctx);
  return ld_err(err, EIO, "signing with %s key %s failed", k->type, k->id);
}

bool ld_key_verify(const ld_key *k, const void *data, size_t len, const unsigned char *sig,
                   size_t sig_len) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
            EVP_DigestVerify(ctx, sig, sig_len, data, len) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}
