/* The prune planner: LRU order with first-seen ties, watermarks, shared layers freed with
 * their last user, protections, max-age and all-unused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "lading/disk.h"
#include "lading/util.h"

#define NOW 1000000

/* Five images, all over base B (1000 bytes); each has a unique layer of 1000 bytes.
 * last_used: e=10 < a=20 = d=20 (d first seen earlier) < b=30 < c=40. */
static ld_disk_report *sample(void) {
  static const struct { const char *id; int64_t used, seen; } def[] = {
      {"a", 20, 5}, {"b", 30, 5}, {"c", 40, 5}, {"d", 20, 3}, {"e", 10, 9}};
  ld_disk_report *r = ld_disk_report_new(LD_DISK_STORE, "/x");
  r->now = NOW;
  for (size_t i = 0; i < LD_ARRAY_SIZE(def); i++) {
    size_t im = ld_disk_add_image(r, def[i].id);
    r->images[im].last_used = def[i].used;
    r->images[im].first_seen = def[i].seen;
    r->images[im].names = ld_xcalloc(2, sizeof(char *));
    r->images[im].names[0] = ld_xasprintf("docker.io/library/%s:1", def[i].id);
    r->images[im].n_names = 1;
    size_t b = ld_disk_layer_index(r, "B", NULL);
    r->layers[b].size = 1000;
    ld_disk_use(r, im, b);
    char own[8];
    snprintf(own, sizeof own, "U%s", def[i].id);
    size_t u = ld_disk_layer_index(r, own, NULL);
    r->layers[u].size = 1000;
    ld_disk_use(r, im, u);
  }
  ld_disk_report_finish(r);
  r->fs_total = 10000;
  return r;
}

static ld_prune_opts opts(double high, double low) {
  return (ld_prune_opts){.high = high, .low = low, .min_age = 120};
}

static const char *victim_ids(const ld_disk_report *r, const ld_prune_plan *p, char *buf) {
  buf[0] = 0;
  for (size_t i = 0; i < p->n_victims; i++) strcat(buf, r->images[p->victims[i].image].id);
  return buf;
}

static void test_below_high_deletes_nothing(void **state) {
  ld_disk_report *r = sample();
  r->fs_avail = 2000; /* 80% */
  ld_prune_opts o = opts(85, 80);
  ld_prune_plan p;
  assert_int_equal(ld_prune_plan_make(r, &o, &p, NULL), 0);
  assert_int_equal(p.n_victims, 0);
  assert_false(p.above_high);
  assert_true(p.reaches_low);
  ld_prune_plan_clear(&p);
  ld_disk_report_free(r);
}

static void test_lru_until_low(void **state) {
  ld_disk_report *r = sample();
  r->fs_avail = 500; /* 95%: need 9500 - 7000 = 2500 */
  ld_prune_opts o = opts(85, 70);
  ld_prune_plan p;
  char buf[16];
  assert_int_equal(ld_prune_plan_make(r, &o, &p, NULL), 0);
  assert_true(p.above_high);
  assert_int_equal(p.need, 2500);
  /* e, then d (tie with a on last_used, first seen earlier), then a; base stays (b, c use it) */
  assert_string_equal(victim_ids(r, &p, buf), "eda");
  assert_int_equal(p.freed, 3000);
  assert_int_equal(p.victims[0].frees, 1000);
  assert_true(p.reaches_low);
  ld_prune_plan_clear(&p);
  ld_disk_report_free(r);
}

static void test_shared_base_freed_with_last_user(void **state) {
  ld_disk_report *r = sample();
  r->fs_avail = 0;
  ld_prune_opts o = opts(85, 0);
  ld_prune_plan p;
  char buf[16];
  assert_int_equal(ld_prune_plan_make(r, &o, &p, NULL), 0);
  assert_string_equal(victim_ids(r, &p, buf), "edabc");
  assert_int_equal(p.victims[4].frees, 2000); /* c's own layer and the base */
  assert_int_equal(p.freed, 6000);
  assert_int_equal(p.n_freed_layers, 6);
  assert_false(p.reaches_low); /* 10000 used, only 6000 are images */
  ld_prune_plan_clear(&p);
  ld_disk_report_free(r);
}

static void test_protections(void **state) {
  ld_disk_report *r = sample();
  r->fs_avail = 0;
  r->images[4].in_use = true;          /* e */
  r->images[3].pinned = true;          /* d */
  r->images[1].first_seen = NOW - 60;  /* b: too young */
  r->images[0].being_written = true;   /* a */
  const char *keep[] = {"c:*"};        /* c, by its familiar name */
  ld_prune_opts o = opts(85, 0);
  o.keep = keep;
  o.n_keep = 1;
  ld_prune_plan p;
  assert_int_equal(ld_prune_plan_make(r, &o, &p, NULL), 0);
  assert_int_equal(p.n_victims, 0);
  assert_int_equal(p.n_protected, 5);
  assert_string_equal(ld_prune_protection(&r->images[4], &o, NOW), "in use");
  assert_string_equal(ld_prune_protection(&r->images[3], &o, NOW), "pinned");
  assert_string_equal(ld_prune_protection(&r->images[1], &o, NOW), "younger than min-age");
  assert_string_equal(ld_prune_protection(&r->images[0], &o, NOW), "being written");
  assert_string_equal(ld_prune_protection(&r->images[2], &o, NOW), "kept");
  ld_prune_plan_clear(&p);
  ld_disk_report_free(r);
}

static void test_max_age_and_all_unused(void **state) {
  ld_disk_report *r = sample();
  r->fs_avail = 9000; /* 10%: no watermark pass */
  ld_prune_opts o = opts(85, 80);
  o.max_age = NOW - 25; /* unused longer than that: e (10) and a, d (20) */
  ld_prune_plan p;
  char buf[16];
  assert_int_equal(ld_prune_plan_make(r, &o, &p, NULL), 0);
  assert_string_equal(victim_ids(r, &p, buf), "eda");
  assert_int_equal(p.victims[0].reason, LD_PRUNE_REASON_MAX_AGE);
  ld_prune_plan_clear(&p);
  o.max_age = 0;
  o.all_unused = true;
  r->images[2].in_use = true;
  assert_int_equal(ld_prune_plan_make(r, &o, &p, NULL), 0);
  assert_string_equal(victim_ids(r, &p, buf), "edab");
  assert_string_equal(ld_prune_reason_name(p.victims[0].reason), "all-unused");
  assert_int_equal(p.freed, 4000); /* base stays: c uses it */
  ld_prune_plan_clear(&p);
  ld_disk_report_free(r);
}

static void test_bad_watermarks(void **state) {
  ld_disk_report *r = sample();
  ld_prune_opts o = opts(80, 85);
  ld_prune_plan p;
  ld_error *err = NULL;
  assert_int_equal(ld_prune_plan_make(r, &o, &p, &err), -1);
  assert_int_equal(err->code, LD_EUSAGE);
  assert_non_null(strstr(err->msg, "watermarks"));
  ld_error_free(err);
  ld_disk_report_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_below_high_deletes_nothing),
      cmocka_unit_test(test_lru_until_low),
      cmocka_unit_test(test_shared_base_freed_with_last_user),
      cmocka_unit_test(test_protections),
      cmocka_unit_test(test_max_age_and_all_unused),
      cmocka_unit_test(test_bad_watermarks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
