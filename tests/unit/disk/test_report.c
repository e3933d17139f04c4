/* The disk report model: shared/unique arithmetic, totals, time parsing, du. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "lading/disk.h"
#include "lading/fs.h"
#include "lading/util.h"

/* Three images over a base layer B (100) shared by all, M (10) shared by a and b, and one
 * unique layer each (1, 2, 3). */
static ld_disk_report *sample(void) {
  ld_disk_report *r = ld_disk_report_new(LD_DISK_STORE, "/x");
  const char *ids[] = {"a", "b", "c"};
  for (size_t i = 0; i < 3; i++) {
    size_t im = ld_disk_add_image(r, ids[i]);
    size_t b = ld_disk_layer_index(r, "B", NULL);
    r->layers[b].size = 100;
    ld_disk_use(r, im, b);
    ld_disk_use(r, im, b); /* idempotent */
    if (i < 2) {
      size_t m = ld_disk_layer_index(r, "M", NULL);
      r->layers[m].size = 10;
      ld_disk_use(r, im, m);
    }
    char own[8];
    snprintf(own, sizeof own, "U%zu", i);
    size_t u = ld_disk_layer_index(r, own, NULL);
    r->layers[u].size = i + 1;
    ld_disk_use(r, im, u);
  }
  ld_disk_report_finish(r);
  return r;
}

static void test_shared_unique(void **state) {
  ld_disk_report *r = sample();
  assert_int_equal(r->n_layers, 5);
  assert_int_equal(r->images[0].size, 111);
  assert_int_equal(r->images[0].unique, 1);
  assert_int_equal(r->images[0].shared, 110);
  assert_int_equal(r->images[2].size, 103);
  assert_int_equal(r->images[2].unique, 3);
  assert_int_equal(r->images_bytes, 116);
  assert_int_equal(r->shared_bytes, 110);
  assert_int_equal(r->unique_bytes, 6);
  size_t b = ld_disk_layer_index(r, "B", NULL);
  assert_int_equal(r->layers[b].n_users, 3);
  json_t *j = ld_disk_report_json(r, true);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "totals"), "size")), 116);
  assert_int_equal(json_array_size(json_object_get(j, "layers")), 5);
  json_decref(j);
  ld_disk_report_free(r);
}

static void test_many_layers_lookup(void **state) {
  ld_disk_report *r = ld_disk_report_new(LD_DISK_STORE, "/x");
  char id[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(id, sizeof id, "L%d", i);
    bool created;
    assert_int_equal(ld_disk_layer_index(r, id, &created), (size_t) i);
    assert_true(created);
  }
  for (int i = 0; i < 5000; i += 7) {
    snprintf(id, sizeof id, "L%d", i);
    bool created;
    assert_int_equal(ld_disk_layer_index(r, id, &created), (size_t) i);
    assert_false(created);
  }
  ld_disk_report_free(r);
}

static void test_parse_time(void **state) {
  int64_t t;
  assert_int_equal(ld_disk_parse_time("2026-11-27T20:41:36.422285851Z", &t), 0);
  assert_int_equal(t, 1795812096);
  assert_int_equal(ld_disk_parse_time("2026-11-27T21:41:36+01:00", &t), 0);
  assert_int_equal(t, 1795812096);
  assert_int_equal(ld_disk_parse_time("1970-01-01T00:00:00Z", &t), 0);
  assert_int_equal(t, 0);
  assert_int_equal(ld_disk_parse_time("2026-11-27 20:41:36", &t), -1);
  assert_int_equal(ld_disk_parse_time("2026-11-27T20:41:36Zjunk", &t), -1);
  assert_int_equal(ld_disk_parse_time(NULL, &t), -1);
}

static void test_du_counts_hard_links_once(void **state) {
  char tmpl[] = "/tmp/ld-du-XXXXXX";
  assert_non_null(mkdtemp(tmpl));
  char *f = ld_path_join(tmpl, "f"), *g = ld_path_join(tmpl, "g");
  char *buf = ld_xcalloc(1, 65536);
  memset(buf, 'x', 65536);
  assert_int_equal(ld_atomic_write(f, buf, 65536, 0644, NULL), 0);
  uint64_t one = 0, two = 0;
  assert_int_equal(ld_disk_du(tmpl, &one, NULL), 0);
  assert_int_equal(link(f, g), 0);
  assert_int_equal(ld_disk_du(tmpl, &two, NULL), 0);
  assert_true(one >= 65536);
  assert_int_equal(one, two);
  ld_error *err = NULL;
  assert_int_equal(ld_disk_du("/nonexistent/ld-du", &one, &err), -1);
  assert_non_null(strstr(err->msg, "/nonexistent/ld-du"));
  ld_error_free(err);
  ld_rm_rf(tmpl, NULL);
  free(f);
  free(g);
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shared_unique),
      cmocka_unit_test(test_many_layers_lookup),
      cmocka_unit_test(test_parse_time),
      cmocka_unit_test(test_du_counts_hard_links_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
