/* Manifests: OCI and Docker forms parse into the same structures, digests are over the exact
 * bytes, malformed documents are rejected with the reason, platforms are selected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "lading/digest.h"
#include "lading/manifest.h"

#define D1 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define D2 "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

static const char oci_manifest[] =
    "{ \"schemaVersion\": 2, \"mediaType\": \"" LD_MT_OCI_MANIFEST "\",\n"
    "  \"config\": {\"mediaType\": \"" LD_MT_OCI_CONFIG "\", \"digest\": \"" D1 "\", \"size\": 2},\n"
    "  \"layers\": [{\"mediaType\": \"" LD_MT_OCI_LAYER_GZIP "\", \"digest\": \"" D2 "\", \"size\": 10}],\n"
    "  \"annotations\": {\"a\": \"b\"} }";

static void test_oci_manifest(void **state) {
  ld_manifest m;
  ld_error *err = NULL;
  assert_int_equal(ld_manifest_parse(oci_manifest, strlen(oci_manifest), NULL, &m, &err), 0);
  assert_int_equal(m.kind, LD_KIND_MANIFEST);
  assert_int_equal(m.n_layers, 1);
  assert_string_equal(m.layers[0].digest, D2);
  assert_int_equal(m.layers[0].size, 10);
  char d[LD_DIGEST_MAX];
  ld_digest_buf(LD_SHA256, oci_manifest, strlen(oci_manifest), d);
  assert_string_equal(m.digest, d); /* over the bytes, whitespace included */
  assert_int_equal(m.raw_len, strlen(oci_manifest));
  assert_memory_equal(m.raw, oci_manifest, m.raw_len);
  ld_manifest_clear(&m);
}

static void test_docker_list_and_platforms(void **state) {
  const char *list =
      "{\"schemaVersion\":2,\"mediaType\":\"" LD_MT_DOCKER_LIST "\",\"manifests\":["
      "{\"mediaType\":\"" LD_MT_DOCKER_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":5,"
      "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
      "{\"mediaType\":\"" LD_MT_DOCKER_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":5,"
      "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}}]}";
  ld_manifest m;
  assert_int_equal(ld_manifest_parse(list, strlen(list), NULL, &m, NULL), 0);
  assert_int_equal(m.kind, LD_KIND_INDEX);
  ld_platform p;
  const ld_descriptor *pick;
  assert_int_equal(ld_platform_parse("linux/arm64/v8", &p, NULL), 0);
  assert_int_equal(ld_index_select(&m, &p, &pick, NULL), 0);
  assert_string_equal(pick->digest, D2);
  ld_platform_clear(&p);
  assert_int_equal(ld_platform_parse("linux/aarch64", &p, NULL), 0);
  assert_string_equal(p.architecture, "arm64");
  assert_int_equal(ld_index_select(&m, &p, &pick, NULL), 0);
  ld_platform_clear(&p);
  ld_error *err = NULL;
  assert_int_equal(ld_platform_parse("linux/s390x", &p, NULL), 0);
  assert_int_equal(ld_index_select(&m, &p, &pick, &err), -1);
  assert_non_null(strstr(err->msg, "linux/arm64"));
  ld_error_free(err);
  ld_platform_clear(&p);
  ld_manifest_clear(&m);
}

static void test_rejects(void **state) {
  static const struct {
    const char *doc, *hint, *reason;
  } cases[] = {
      {"{", NULL, "malformed JSON"},
      {"[]", NULL, "not a JSON object"},
      {"{\"schemaVersion\":1}", NULL, "schemaVersion must be 2"},
      {"{\"schemaVersion\":2,\"mediaType\":\"text/plain\"}", NULL, "unsupported media type"},
      {"{\"schemaVersion\":2,\"mediaType\":\"" LD_MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:00\",\"size\":1},\"layers\":[]}", NULL, "invalid digest"},
      {"{\"schemaVersion\":2,\"mediaType\":\"" LD_MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":-1},\"layers\":[]}", NULL, "valid size"},
      {"{\"schemaVersion\":2,\"mediaType\":\"" LD_MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1}}", NULL, "layers"},
      {"{\"schemaVersion\":2,\"mediaType\":\"" LD_MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}", LD_MT_OCI_INDEX, "contradicts"},
      {"{\"schemaVersion\":2,\"a\":1,\"a\":2}", NULL, "malformed JSON"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ld_manifest m;
    ld_error *err = NULL;
    if (ld_manifest_parse(cases[i].doc, strlen(cases[i].doc), cases[i].hint, &m, &err) == 0)
      fail_msg("case %zu parsed", i);
    if (!strstr(err->msg, cases[i].reason))
      fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err->msg, cases[i].reason);
    ld_error_free(err);
  }
}

static void test_config(void **state) {
  const char *cfg = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
                    "\"diff_ids\":[\"" D1 "\"]},\"history\":[{\"created_by\":\"/bin/sh -c #(nop) "
                    "ENV A=b\",\"empty_layer\":true},{\"created_by\":\"/bin/sh -c echo\"}]}";
  ld_image_config c;
  assert_int_equal(ld_config_parse(cfg, strlen(cfg), &c, NULL), 0);
  assert_int_equal(c.n_diff_ids, 1);
  assert_int_equal(c.n_history, 2);
  assert_true(c.history[0].empty_layer);
  assert_false(c.history[1].empty_layer);
  ld_config_clear(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_oci_manifest),
      cmocka_unit_test(test_docker_list_and_platforms),
      cmocka_unit_test(test_rejects),
      cmocka_unit_test(test_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
