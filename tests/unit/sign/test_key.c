/* Keys: skopeo's key files and the published vectors decrypt (SEC1 refused), our files round
 * trip, scrypt parameters outside the accepted set are refused before deriving, and signatures
 * made here verify with the fixture public keys (and skopeo's with ours). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "fixture.h"
#include "lading/sign.h"

static ld_key *decrypt_fixture(const char *name, const char *pass, ld_error **err) {
  size_t len;
  char *pem = fixture_read(name, &len);
  ld_key *k = NULL;
  int rc = ld_key_decrypt_cosign(pem, len, pass, strlen(pass), name, &k, err);
  free(pem);
  return rc == 0 ? k : NULL;
}

static void assert_public_matches(const ld_key *k, const char *pub_fixture) {
  char *want = fixture_read(pub_fixture, NULL);
  char *got = ld_key_public_pem(k);
  assert_string_equal(got, want);
  free(got);
  free(want);
}

static void test_skopeo_key_files_decrypt(void **state) {
  /* 1.13.3 wrote N=32768, 1.14.6 N=65536; both with the COSIGN PEM type. */
  ld_key *k = decrypt_fixture("keys/skopeo-1.13.3-generated.private", "test-pass", NULL);
  assert_non_null(k);
  assert_true(ld_key_is_private(k));
  assert_string_equal(ld_key_type(k), "ecdsa-p256");
  assert_public_matches(k, "keys/skopeo-1.13.3-generated.pub");
  ld_key_free(k);
  k = decrypt_fixture("keys/skopeo-1.14.6-generated.private", "test-pass", NULL);
  assert_non_null(k);
  assert_public_matches(k, "keys/skopeo-1.14.6-generated.pub");
  ld_key_free(k);
}

static void test_wrong_passphrase(void **state) {
  ld_error *err = NULL;
  assert_null(decrypt_fixture("keys/skopeo-1.13.3-generated.private", "test-pasS", &err));
  assert_int_equal(err->code, EACCES);
  assert_non_null(strstr(err->msg, "wrong passphrase"));
  ld_error_free(err);
}

static void test_cosign_vectors(void **state) {
  ld_error *err = NULL;
  ld_key *k = decrypt_fixture("vectors/cosign-keys_test-pemsigstorekey.key", "hello", &err);
  assert_non_null(k); /* the ENCRYPTED SIGSTORE PRIVATE KEY type */
  assert_string_equal(ld_key_type(k), "ecdsa-p256");
  ld_key_free(k);
  /* Despite its name (and the fixture README), this vector's plaintext is a PKCS#8 P-256 key
   * (openssl asn1parse shows id-ecPublicKey / prime256v1): it must load as such. */
  k = decrypt_fixture("vectors/cosign-keys_test-pemcosignkey-rsa.key", "hello", &err);
  assert_non_null(k);
  assert_string_equal(ld_key_type(k), "ecdsa-p256");
  ld_key_free(k);
  assert_null(decrypt_fixture("vectors/cosign-keys_test-pemcosigneckey-sec1.key", "hello", &err));
  assert_non_null(strstr(err->msg, "not PKCS#8"));
  ld_error_clear(&err);
}

static void test_securesystemslib_vectors(void **state) {
  static const struct {
    const char *file, *plain;
  } cases[] = {
      {"vectors/testdecrypt.json", "reallyimportant"},      /* N=32768 */
      {"vectors/legacy.json", "\"cmVhbGx5aW1wb3J0YW50\""},  /* N=32768 */
      {"vectors/standard.json", "\"cmVhbGx5aW1wb3J0YW50\""}, /* N=65536 */
      {"vectors/owasp.json", "\"cmVhbGx5aW1wb3J0YW50\""},    /* N=131072 */
  };
  for (size_t i = 0; i < LD_ARRAY_SIZE(cases); i++) {
    size_t len, plen;
    char *json = fixture_read(cases[i].file, &len);
    unsigned char *plain = NULL;
    ld_error *err = NULL;
    int rc = ld_cosign_decrypt_json(json, len, "supersecret", 11, cases[i].file, &plain, &plen, &err);
    if (rc < 0) fail_msg("%s: %s", cases[i].file, err->msg);
    assert_int_equal(plen, strlen(cases[i].plain));
    assert_memory_equal(plain, cases[i].plain, plen);
    free(plain);
    free(json);
  }
}

static void test_scrypt_params_refused(void **state) {
  static const char *bad[] = {
      "{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":16384,\"r\":8,\"p\":1},\"salt\":\"AAAA\"},"
      "\"cipher\":{\"name\":\"nacl/secretbox\",\"nonce\":\"AAAA\"},\"ciphertext\":\"AAAA\"}",
      "{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":1073741824,\"r\":8,\"p\":1},\"salt\":\"AAAA\"},"
      "\"cipher\":{\"name\":\"nacl/secretbox\",\"nonce\":\"AAAA\"},\"ciphertext\":\"AAAA\"}",
      "{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":32768,\"r\":16,\"p\":1},\"salt\":\"AAAA\"},"
      "\"cipher\":{\"name\":\"nacl/secretbox\",\"nonce\":\"AAAA\"},\"ciphertext\":\"AAAA\"}",
  };
  for (size_t i = 0; i < LD_ARRAY_SIZE(bad); i++) {
    unsigned char *plain = NULL;
    size_t plen;
    ld_error *err = NULL;
    assert_int_equal(ld_cosign_decrypt_json(bad[i], strlen(bad[i]), "x", 1, "k", &plain, &plen, &err), -1);
    assert_non_null(strstr(err->msg, "refused"));
    ld_error_free(err);
  }
  const char *pbkdf = "{\"kdf\":{\"name\":\"pbkdf2\"},\"cipher\":{\"name\":\"nacl/secretbox\"}}";
  unsigned char *plain;
  size_t plen;
  ld_error *err = NULL;
  assert_int_equal(ld_cosign_decrypt_json(pbkdf, strlen(pbkdf), "x", 1, "k", &plain, &plen, &err), -1);
  assert_non_null(strstr(err->msg, "pbkdf2"));
  ld_error_free(err);
}

static void test_generate_round_trip(void **state) {
  ld_key *k = NULL, *back = NULL, *pub = NULL;
  assert_int_equal(ld_key_generate(&k, NULL), 0);
  char *pem = NULL;
  assert_int_equal(ld_key_encrypt_cosign(k, "", 0, &pem, NULL), 0); /* empty passphrase */
  assert_true(ld_str_has_prefix(pem, "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"));
  assert_int_equal(ld_key_decrypt_cosign(pem, strlen(pem), "", 0, "mem", &back, NULL), 0);
  assert_string_equal(ld_key_id(k), ld_key_id(back));
  char *pub_pem = ld_key_public_pem(k);
  assert_true(ld_str_has_prefix(pub_pem, "-----BEGIN PUBLIC KEY-----\n"));
  assert_int_equal(ld_key_parse_public(pub_pem, strlen(pub_pem), "mem", &pub, NULL), 0);
  unsigned char *sig;
  size_t sig_len;
  assert_int_equal(ld_key_sign(back, "hello", 5, &sig, &sig_len, NULL), 0);
  assert_true(ld_key_verify(pub, "hello", 5, sig, sig_len));
  assert_false(ld_key_verify(pub, "hellO", 5, sig, sig_len));
  ld_error *err = NULL;
  assert_int_equal(ld_key_sign(pub, "x", 1, &sig, &sig_len, &err), -1); /* public: refused */
  ld_error_clear(&err);
  free(sig);
  free(pub_pem);
  free(pem);
  ld_key_free(k);
  ld_key_free(back);
  ld_key_free(pub);
}

static void test_skopeo_signature_verifies(void **state) {
  size_t plen, slen;
  char *payload = fixture_read("skopeo-signed/payload.json", &plen);
  char *sig64 = fixture_read("skopeo-signed/signature.b64", &slen);
  while (slen && (sig64[slen - 1] == '\n')) sig64[--slen] = 0;
  unsigned char *sig;
  size_t sig_len;
  assert_int_equal(ld_base64_decode(sig64, slen, &sig, &sig_len), 0);
  char *pub_path = fixture_path("skopeo-signed/public-key.pem");
  ld_key *pub = NULL, *other = NULL;
  assert_int_equal(ld_key_load_public(pub_path, &pub, NULL), 0);
  assert_true(ld_key_verify(pub, payload, plen, sig, sig_len));
  payload[10] ^= 1;
  assert_false(ld_key_verify(pub, payload, plen, sig, sig_len));
  payload[10] ^= 1;
  char *other_path = fixture_path("keys/skopeo-1.13.3-generated.pub");
  assert_int_equal(ld_key_load_public(other_path, &other, NULL), 0);
  assert_false(ld_key_verify(other, payload, plen, sig, sig_len));
  /* and skopeo's private key signs what its public key accepts */
  ld_key *priv = decrypt_fixture("keys/skopeo-1.14.6-generated.private", "test-pass", NULL);
  unsigned char *mine;
  size_t mine_len;
  assert_int_equal(ld_key_sign(priv, payload, plen, &mine, &mine_len, NULL), 0);
  assert_true(ld_key_verify(pub, payload, plen, mine, mine_len));
  free(mine);
  ld_key_free(priv);
  ld_key_free(pub);
  ld_key_free(other);
  free(other_path);
  free(pub_path);
  free(sig);
  free(sig64);
  free(payload);
}

static void test_pem_types(void **state) {
  ld_error *err = NULL;
  ld_key *k = NULL;
  const char *pem = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
  assert_int_equal(ld_key_decrypt_cosign(pem, strlen(pem), "", 0, "k.pem", &k, &err), -1);
  assert_non_null(strstr(err->msg, "is not a cosign key"));
  ld_error_clear(&err);
  assert_int_equal(ld_key_parse_public("junk", 4, "pub.pem", &k, &err), -1);
  assert_non_null(strstr(err->msg, "pub.pem"));
  ld_error_clear(&err);
}

static void test_base64(void **state) {
  unsigned char *out;
  size_t n;
  assert_int_equal(ld_base64_decode("aGk=", 4, &out, &n), 0);
  assert_int_equal(n, 2);
  assert_memory_equal(out, "hi", 2);
  free(out);
  assert_int_equal(ld_base64_decode("aGk", 3, &out, &n), -1);
  assert_int_equal(ld_base64_decode("a*k=", 4, &out, &n), -1);
  char *s = ld_base64_encode("hi", 2);
  assert_string_equal(s, "aGk=");
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_skopeo_key_files_decrypt), cmocka_unit_test(test_wrong_passphrase),
      cmocka_unit_test(test_cosign_vectors),           cmocka_unit_test(test_securesystemslib_vectors),
      cmocka_unit_test(test_scrypt_params_refused),    cmocka_unit_test(test_generate_round_trip),
      cmocka_unit_test(test_skopeo_signature_verifies), cmocka_unit_test(test_pem_types),
      cmocka_unit_test(test_base64),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
