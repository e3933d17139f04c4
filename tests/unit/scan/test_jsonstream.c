/* The streaming splitter of a top-level JSON object (lib/scan/jsonstream.c): the same members,
 * with the same positions, whatever the chunk size (strings holding braces, brackets, commas,
 * escaped quotes and backslashes; nested objects and arrays); "{}" has none; each malformed
 * top level is a one-line error with its position; a consumer can stop early. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "lading/util.h"
#include "scan/scan_priv.h"

typedef struct {
  ld_strlist texts;
  int lines[16], cols[16];
  uint64_t offs[16];
  int stop_after; /* return 1 after this many members (0: never) */
} collected;

static int collect(void *ctx, const ld_json_member *m, ld_error **err) {
  (void) err;
  collected *c = ctx;
  char *t = ld_xstrndup(m->text, m->len);
  size_t i = c->texts.n;
  ld_strlist_add(&c->texts, t);
  free(t);
  if (i < 16) c->lines[i] = m->line, c->cols[i] = m->col, c->offs[i] = m->offset;
  return c->stop_after && (int) c->texts.n >= c->stop_after ? 1 : 0;
}

/* Feeds doc in chunks of `chunk` bytes; returns feed's (or end's) result. */
static int run(const char *doc, size_t chunk, collected *c, ld_error **err) {
  ld_json_members m;
  ld_json_members_init(&m, "t.json");
  size_t len = strlen(doc);
  int r = 0;
  for (size_t off = 0; off < len && r == 0; off += chunk)
    r = ld_json_members_feed(&m, doc + off, len - off < chunk ? len - off : chunk, collect, c, err);
  if (r == 0) r = ld_json_members_end(&m, err);
  ld_json_members_clear(&m);
  return r;
}

static const char *doc =
    "{\"a\": {\"x\": \"},{\\\"[\", \"y\": [1, {\"z\": 2}, \"]\"]},\n"
    "  \"b\" : 1 ,\n"
    "\t\"c\\\\\": \"q\\\\\"}\n";

static void test_members(void **state) {
  (void) state;
  for (size_t chunk = 1; chunk <= strlen(doc); chunk++) {
    collected c = {0};
    ld_error *err = NULL;
    assert_int_equal(run(doc, chunk, &c, &err), 0);
    assert_null(err);
    assert_int_equal(c.texts.n, 3);
    assert_string_equal(c.texts.v[0], "\"a\": {\"x\": \"},{\\\"[\", \"y\": [1, {\"z\": 2}, \"]\"]}");
    assert_string_equal(c.texts.v[1], "\"b\" : 1 ");
    assert_string_equal(c.texts.v[2], "\"c\\\\\": \"q\\\\\"");
    assert_int_equal(c.lines[0], 1), assert_int_equal(c.cols[0], 2), assert_int_equal(c.offs[0], 1);
    assert_int_equal(c.lines[1], 2), assert_int_equal(c.cols[1], 3);
    assert_int_equal(c.lines[2], 3), assert_int_equal(c.cols[2], 2);
    ld_strlist_clear(&c.texts);
  }
}

static void test_empty_and_blank(void **state) {
  (void) state;
  const char *ok[] = {"{}", "  {\n}\n ", "{ \"k\": [] }"};
  size_t want[] = {0, 0, 1};
  for (size_t i = 0; i < 3; i++) {
    collected c = {0};
    assert_int_equal(run(ok[i], 1, &c, NULL), 0);
    assert_int_equal(c.texts.n, want[i]);
    ld_strlist_clear(&c.texts);
  }
}

static void test_errors(void **state) {
  (void) state;
  static const struct {
    const char *doc, *msg;
  } bad[] = {
      {"[1, 2]", "line 1 column 1: the document is not a JSON object"},
      {"{\"a\": 1,}", "line 1 column 9: empty object member"},
      {"{, \"a\": 1}", "line 1 column 2: empty object member"},
      {"{\"a\": 1,\n\n, \"b\": 2}", "line 3 column 1: empty object member"},
      {"{\"a\": 1} x", "line 1 column 10: data after the end of the object"},
      {"{\"a\": 1}{}", "data after the end of the object"},
      {"{\"a\": 1]", "line 1 column 8: unbalanced ']'"},
      {"{\"a\": {\"b\": 1}", "ends inside its top-level object (truncated)"},
      {"{\"a\": \"}", "truncated"},
      {"", "truncated"},
  };
  for (size_t i = 0; i < LD_ARRAY_SIZE(bad); i++) {
    for (size_t chunk = 1; chunk <= 4; chunk += 3) {
      collected c = {0};
      ld_error *err = NULL;
      assert_int_equal(run(bad[i].doc, chunk, &c, &err), -1);
      assert_non_null(err);
      if (!strstr(err->msg, bad[i].msg) || strncmp(err->msg, "t.json: ", 8))
        fail_msg("%s: got \"%s\", want \"%s\"", bad[i].doc, err->msg, bad[i].msg);
      ld_error_free(err);
      ld_strlist_clear(&c.texts);
    }
  }
}

static void test_member_limit(void **state) {
  (void) state;
  collected c = {0};
  ld_json_members m;
  ld_json_members_init(&m, "t.json");
  m.max_member = 16;
  ld_error *err = NULL;
  const char *d = "{\"a\": 1,\n \"long\": \"0123456789abcdef\"}";
  assert_int_equal(ld_json_members_feed(&m, d, strlen(d), collect, &c, &err), -1);
  assert_int_equal(c.texts.n, 1);
  assert_string_equal(err->msg, "t.json: the object member at line 2 column 2 is larger than 16 bytes");
  ld_error_free(err);
  ld_json_members_clear(&m);
  ld_strlist_clear(&c.texts);
}

static void test_stop(void **state) {
  (void) state;
  collected c = {.stop_after = 1};
  ld_json_members m;
  ld_json_members_init(&m, "t.json");
  assert_int_equal(ld_json_members_feed(&m, doc, strlen(doc), collect, &c, NULL), 1);
  assert_int_equal(c.texts.n, 1);
  ld_json_members_clear(&m);
  ld_strlist_clear(&c.texts);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_members),
      cmocka_unit_test(test_empty_and_blank),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_member_limit),
      cmocka_unit_test(test_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
