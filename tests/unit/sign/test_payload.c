/* Payloads: the bytes skopeo signed are reproduced exactly; cosign's form ("optional":null,
 * repository identity) is what we build by default; strict parsing refuses every deviation
 * containers/image refuses; strings are escaped the way Go escapes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "fixture.h"
#include "lading/sign.h"

#define DIGEST "sha256:61d5468249880e5762d74be4cddd9d0483077490dd02610a1e9327eeed77fe9e"

static void test_skopeo_payload_bytes(void **state) {
  size_t len;
  char *want = fixture_read("skopeo-signed/payload.json", &len);
  json_t *opt = json_pack("{sIss}", "timestamp", (json_int_t) 1795810139, "creator",
                          "containers/image 5.29.4"); /* any insertion order: keys get sorted */
  char *got = ld_payload_build("127.0.0.1:5055/test/skopeo-signed:v1", DIGEST, opt);
  assert_int_equal(strlen(got), len);
  assert_memory_equal(got, want, len);
  ld_payload p;
  assert_int_equal(ld_payload_parse(want, len, &p, NULL), 0);
  assert_string_equal(p.docker_reference, "127.0.0.1:5055/test/skopeo-signed:v1");
  assert_string_equal(p.manifest_digest, DIGEST);
  assert_string_equal(p.creator, "containers/image 5.29.4");
  assert_int_equal(p.timestamp, 1795810139);
  ld_payload_clear(&p);
  json_decref(opt);
  free(got);
  free(want);
}

static void test_cosign_payload(void **state) {
  char *got = ld_payload_build("127.0.0.1:5000/x/y", DIGEST, NULL);
  assert_string_equal(got, "{\"critical\":{\"identity\":{\"docker-reference\":\"127.0.0.1:5000/x/y\"},"
                           "\"image\":{\"docker-manifest-digest\":\"" DIGEST "\"},"
                           "\"type\":\"cosign container image signature\"},\"optional\":null}");
  ld_payload p;
  assert_int_equal(ld_payload_parse(got, strlen(got), &p, NULL), 0);
  assert_null(p.optional);
  ld_payload_clear(&p);
  free(got);
}

static void test_strict_parse(void **state) {
  static const char *bad[] = {
      /* missing optional */
      "{\"critical\":{\"identity\":{\"docker-reference\":\"r\"},\"image\":{\"docker-manifest-digest\":\"" DIGEST "\"},\"type\":\"cosign container image signature\"}}",
      /* extra top-level key */
      "{\"critical\":{\"identity\":{\"docker-reference\":\"r\"},\"image\":{\"docker-manifest-digest\":\"" DIGEST "\"},\"type\":\"cosign container image signature\"},\"optional\":null,\"x\":1}",
      /* duplicate key */
      "{\"critical\":{\"identity\":{\"docker-reference\":\"r\"},\"image\":{\"docker-manifest-digest\":\"" DIGEST "\"},\"type\":\"cosign container image signature\"},\"optional\":null,\"optional\":null}",
      /* wrong type */
      "{\"critical\":{\"identity\":{\"docker-reference\":\"r\"},\"image\":{\"docker-manifest-digest\":\"" DIGEST "\"},\"type\":\"atomic container signature\"},\"optional\":null}",
      /* extra key in image */
      "{\"critical\":{\"identity\":{\"docker-reference\":\"r\"},\"image\":{\"docker-manifest-digest\":\"" DIGEST "\",\"x\":\"y\"},\"type\":\"cosign container image signature\"},\"optional\":null}",
      /* bad digest */
      "{\"critical\":{\"identity\":{\"docker-reference\":\"r\"},\"image\":{\"docker-manifest-digest\":\"sha256:abc\"},\"type\":\"cosign container image signature\"},\"optional\":null}",
      /* fractional timestamp */
      "{\"critical\":{\"identity\":{\"docker-reference\":\"r\"},\"image\":{\"docker-manifest-digest\":\"" DIGEST "\"},\"type\":\"cosign container image signature\"},\"optional\":{\"timestamp\":1.5}}",
      /* identity not an object */
      "{\"critical\":{\"identity\":\"r\",\"image\":{\"docker-manifest-digest\":\"" DIGEST "\"},\"type\":\"cosign container image signature\"},\"optional\":null}",
      "not json",
  };
  for (size_t i = 0; i < LD_ARRAY_SIZE(bad); i++) {
    ld_payload p;
    ld_error *err = NULL;
    if (ld_payload_parse(bad[i], strlen(bad[i]), &p, &err) == 0) fail_msg("accepted case %zu", i);
    assert_non_null(strstr(err->msg, "payload"));
    ld_error_free(err);
  }
}

static void test_go_escaping(void **state) {
  ld_buf b = {0};
  ld_go_json_quote(&b, "a<b>&\"\\\n\x01\xe2\x80\xa8\xff\xc3\xa9/+");
  char *s = ld_buf_steal(&b);
  assert_string_equal(s, "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\u0001\\u2028\\ufffd\xc3\xa9/+\"");
  free(s);
  json_t *v = json_pack("{s:s,s:i,s:b,s:n}", "z", "1", "a", 2, "m", 1, "b");
  ld_go_json_value(&b, v);
  s = ld_buf_steal(&b);
  assert_string_equal(s, "{\"a\":2,\"b\":null,\"m\":true,\"z\":\"1\"}");
  free(s);
  json_decref(v);
}

static void test_sig_tag(void **state) {
  char *t = ld_sig_tag(DIGEST);
  assert_string_equal(t, "sha256-61d5468249880e5762d74be4cddd9d0483077490dd02610a1e9327eeed77fe9e.sig");
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_skopeo_payload_bytes), cmocka_unit_test(test_cosign_payload),
      cmocka_unit_test(test_strict_parse),        cmocka_unit_test(test_go_escaping),
      cmocka_unit_test(test_sig_tag),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
