/* .sig manifests: skopeo's manifest and config are rebuilt byte for byte from the payload digest
 * and the fixture's signature (ECDSA is randomized, so the signature is the one input we take
 * from the fixture); the two-signature manifest round trips; other media types are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "fixture.h"
#include "lading/digest.h"
#include "lading/sign.h"

static char *chomp(char *s) {
  size_t n = strlen(s);
  while (n && s[n - 1] == '\n') s[--n] = 0;
  return s;
}

static void test_skopeo_layout_bytes(void **state) {
  size_t plen, mlen, clen;
  char *payload = fixture_read("skopeo-signed/payload.json", &plen);
  char *sig = chomp(fixture_read("skopeo-signed/signature.b64", NULL));
  char *want_manifest = fixture_read("skopeo-signed/sig-manifest.json", &mlen);
  char *want_config = fixture_read("skopeo-signed/sig-config.json", &clen);
  char pd[LD_DIGEST_MAX], cd[LD_DIGEST_MAX], md[LD_DIGEST_MAX];
  ld_digest_buf(LD_SHA256, payload, plen, pd);
  ld_sig_manifest m = {0};
  ld_sig_manifest_add(&m, pd, (long long) plen, sig);
  char *config = ld_sig_config_build(&m);
  assert_int_equal(strlen(config), clen);
  assert_memory_equal(config, want_config, clen);
  ld_digest_buf(LD_SHA256, config, strlen(config), cd);
  assert_string_equal(cd, "sha256:1058992665214bfb92b43a4a9d2ac6bda5d2131ba929e3796085eeb9af59e3ab");
  char *manifest = ld_sig_manifest_build(&m, cd, (long long) strlen(config));
  assert_int_equal(strlen(manifest), mlen);
  assert_memory_equal(manifest, want_manifest, mlen);
  ld_digest_buf(LD_SHA256, manifest, strlen(manifest), md);
  assert_string_equal(md, "sha256:634d2b53cb775a0dd9612dcba611f33215bb89c88ed395525ed70cc81c11e660");
  ld_sig_manifest_clear(&m);
  free(manifest);
  free(config);
  free(want_config);
  free(want_manifest);
  free(sig);
  free(payload);
}

static void test_two_layers_round_trip(void **state) {
  size_t len;
  char *raw = fixture_read("two-layer-sig-manifest.json", &len);
  ld_sig_manifest m;
  assert_int_equal(ld_sig_manifest_parse(raw, len, NULL, &m, NULL), 0);
  assert_int_equal(m.n_layers, 2);
  assert_string_equal(m.layers[1].signature_b64,
                      "MEYCIQC1K5XeEBkJ/0xpBycGSB+GWq62ehYMkwIJxHy1c/u4pQIhAMFT6oP6SzccbvQ3JP4/cGoYbnyIa6eKsXnmf6mUzMZc");
  assert_int_equal(m.layers[0].size, 240);
  char *again = ld_sig_manifest_build(
      &m, "sha256:1811d966dc682a60fd2c00d7e98bcfedd7265f939df1aa09e2cab26eb27c8958", 307);
  assert_int_equal(strlen(again), len);
  assert_memory_equal(again, raw, len);
  free(again);
  /* appending keeps both and adds a third */
  ld_sig_manifest_add(&m, "sha256:2762cb8df40e48cdfbe8c40e93ac79d8f8386f0d58f5ce2639501947e314d18b", 9, "QUJD");
  assert_int_equal(m.n_layers, 3);
  char *config = ld_sig_config_build(&m);
  assert_non_null(strstr(config, "75e1777d"));
  free(config);
  ld_sig_manifest_clear(&m);
  free(raw);
}

static void test_wrong_media_type(void **state) {
  const char *docker = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
                       "\"config\":{},\"layers\":[]}";
  ld_sig_manifest m;
  ld_error *err = NULL;
  assert_int_equal(ld_sig_manifest_parse(docker, strlen(docker), NULL, &m, &err), -1);
  assert_non_null(strstr(err->msg, "is not application/vnd.oci.image.manifest.v1+json"));
  ld_error_clear(&err);
  const char *bare = "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}";
  assert_int_equal(ld_sig_manifest_parse(bare, strlen(bare), "application/vnd.oci.image.index.v1+json", &m, &err), -1);
  ld_error_clear(&err);
  assert_int_equal(ld_sig_manifest_parse(bare, strlen(bare), LD_MT_OCI_MANIFEST, &m, NULL), 0);
  ld_sig_manifest_clear(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_skopeo_layout_bytes),
      cmocka_unit_test(test_two_layers_round_trip),
      cmocka_unit_test(test_wrong_media_type),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
