/* RUN --mount option parsing (lib/build/mounts.c): defaults per type, aliases, errors, and what
 * goes into the step's cache key; and COPY --chmod's symbolic modes (lib/build/copy.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "../../../lib/build/internal.h"

static void parse_ok(const char *spec, bx_mount *m) {
  ld_error *err = NULL;
  if (bx_mount_parse(spec, m, &err) < 0) fail_msg("%s: %s", spec, err->msg);
}

static void expect_error(const char *spec, const char *msg) {
  bx_mount m;
  ld_error *err = NULL;
  assert_int_equal(bx_mount_parse(spec, &m, &err), -1);
  if (!strstr(err->msg, msg)) fail_msg("%s: got \"%s\", want \"%s\"", spec, err->msg, msg);
  ld_error_free(err);
}

static void test_bind_defaults(void **state) {
  (void) state;
  bx_mount m;
  parse_ok("target=/src", &m);
  assert_int_equal(m.type, BX_MOUNT_BIND);
  assert_true(m.readonly);
  assert_null(m.source);
  bx_mount_clear(&m);
  parse_ok("type=bind,src=sub,dst=/s,from=build,rw", &m);
  assert_string_equal(m.source, "sub");
  assert_string_equal(m.target, "/s");
  assert_string_equal(m.from, "build");
  assert_false(m.readonly);
  bx_mount_clear(&m);
  parse_ok("destination=/s,readwrite=true", &m);
  assert_false(m.readonly);
  bx_mount_clear(&m);
}

static void test_cache_tmpfs(void **state) {
  (void) state;
  bx_mount m;
  parse_ok("type=cache,target=/root/.cache,sharing=locked,mode=0700,uid=1000,gid=1000", &m);
  assert_int_equal(m.type, BX_MOUNT_CACHE);
  assert_false(m.readonly);
  assert_string_equal(m.id, "/root/.cache"); /* the id defaults to the target */
  assert_int_equal(m.sharing, BX_SHARING_LOCKED);
  assert_int_equal(m.mode, 0700);
  assert_int_equal(m.uid, 1000);
  bx_mount_clear(&m);
  parse_ok("type=tmpfs,target=/t,size=64m", &m);
  assert_int_equal(m.size, 64ULL << 20);
  bx_mount_clear(&m);
  uint64_t v;
  assert_int_equal(bx_parse_ram_size("4096", &v), 0);
  assert_int_equal(v, 4096);
  assert_int_equal(bx_parse_ram_size("1GiB", &v), 0);
  assert_int_equal(v, 1ULL << 30);
  assert_int_equal(bx_parse_ram_size("12x", &v), -1);
}

static void test_secret_ssh_defaults(void **state) {
  (void) state;
  bx_mount m;
  parse_ok("type=secret,id=npmrc", &m);
  assert_string_equal(m.target, "/run/secrets/npmrc");
  assert_false(m.required);
  bx_mount_clear(&m);
  parse_ok("type=secret,target=/etc/token,required", &m);
  assert_string_equal(m.id, "token"); /* the id defaults to the target's name */
  assert_true(m.required);
  bx_mount_clear(&m);
  parse_ok("type=secret,id=aws,env=AWS_KEY", &m);
  assert_null(m.target); /* env only: no file */
  assert_string_equal(m.env, "AWS_KEY");
  bx_mount_clear(&m);
  parse_ok("type=ssh", &m);
  assert_string_equal(m.id, "default");
  assert_string_equal(m.target, "/run/buildkit/ssh_agent.0");
  bx_mount_clear(&m);
}

static void test_errors(void **state) {
  (void) state;
  expect_error("type=nfs,target=/x", "unknown mount type nfs");
  expect_error("type=bind,target=/x,bogus=1", "unknown option bogus for a bind mount");
  expect_error("type=bind,target=/x,size=1m", "unknown option size for a bind mount");
  expect_error("type=cache", "a cache mount needs a target");
  expect_error("type=cache,target=/x,sharing=sometimes", "bad value for sharing: sometimes");
  expect_error("type=cache,target=/x,mode=999", "bad value for mode: 999");
  expect_error("type=secret", "a secret mount needs an id or a target");
  expect_error("type=tmpfs,target=/x,size=big", "bad value for size: big");
}

static void test_describe_keeps_secrets_out(void **state) {
  (void) state;
  bx_mount m;
  parse_ok("type=secret,id=tok,mode=0400", &m);
  m.data = strdup("the-secret-value");
  m.data_len = strlen(m.data);
  ld_buf d = {0};
  bx_mount_describe(&m, &d);
  assert_non_null(strstr(d.data, "id=tok"));
  assert_null(strstr(d.data, "the-secret-value"));
  ld_buf_free(&d);
  bx_mount_clear(&m);
}

static void test_chmod_symbolic(void **state) {
  (void) state;
  static const struct {
    const char *spec;
    mode_t in;
    bool dir;
    mode_t want;
  } cases[] = {
      {"u+x", 0644, false, 0744},          {"u=rwX,go=rX", 0600, false, 0644}, {"u=rwX,go=rX", 0700, true, 0755},
      {"u=rwX,go=rX", 0700, false, 0755},  {"g=u", 0640, false, 0660},         {"a-w", 0666, false, 0444},
      {"+x", 0600, false, 0711},           {"o=", 0777, false, 0770},          {"u+s,+t", 0755, true, 05755},
      {"ug+w,o-r", 0444, false, 0660},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    mode_t got;
    assert_int_equal(bx_chmod_symbolic(cases[i].spec, cases[i].in, cases[i].dir, &got), 0);
    if (got != cases[i].want) fail_msg("%s on %o: %o, want %o", cases[i].spec, cases[i].in, got, cases[i].want);
  }
  mode_t m;
  assert_int_equal(bx_chmod_symbolic("u", 0, false, &m), -1);
  assert_int_equal(bx_chmod_symbolic("z+x", 0, false, &m), -1);
  assert_int_equal(bx_chmod_symbolic("u+x,", 0, false, &m), -1);
  assert_int_equal(bx_chmod_symbolic("u+q", 0, false, &m), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bind_defaults),
      cmocka_unit_test(test_cache_tmpfs),
      cmocka_unit_test(test_secret_ssh_defaults),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_describe_keeps_secrets_out),
      cmocka_unit_test(test_chmod_symbolic),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
