/* The analyzer: dive's numbers on synthetic layers (each quirk of dive that changes a number),
 * the overlay tree (changes, hidden bytes, duplicates), history mapping, and dive's own fixture
 * test-docker-image.tar fed straight from its tar (libarchive), which must give exactly the
 * values dive's test expects. */
#include <archive.h>
#include <archive_entry.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <xxhash.h>
#include "lading/analyze.h"
#include "lading/json.h"
#include "lading/util.h"

/* ---- synthetic layers: "F path size [hash]", "D path", "W path" (whiteout), "O dir" (opaque),
 * "L path" (symlink), "H path" (hardlink) ---- */

static void feed(ld_analyzer *a, const char *created_by, const char *const *lines) {
  ld_an_layer_meta meta = {.digest = "sha256:00", .created_by = created_by};
  ld_analyzer_begin_layer(a, &meta);
  for (; *lines; lines++) {
    char kind, path[256];
    unsigned long long size = 0, hash = 0;
    int n = sscanf(*lines, "%c %255s %llu %llu", &kind, path, &size, &hash);
    assert_true(n >= 2);
    ld_an_entry e = {.path = path, .mode = 0644};
    switch (kind) {
    case 'F': e.type = LD_AN_REG; break;
    case 'D': e.type = LD_AN_DIR; e.mode = 0755; break;
    case 'W': e.type = LD_AN_REG; e.whiteout = true; break;
    case 'O': e.type = LD_AN_REG; e.opaque = true; break;
    case 'L': e.type = LD_AN_SYMLINK; e.link = "target"; break;
    case 'H': e.type = LD_AN_HARDLINK; e.link = "target"; break;
    default: fail();
    }
    e.size = size;
    if (kind == 'F') {
      e.has_hash = true;
      e.hash_hi = hash ? hash : size * 7919;
      e.hash_lo = n >= 4 ? hash : size;
    }
    ld_analyzer_add_entry(a, &e);
  }
  ld_error *err = NULL;
  assert_int_equal(ld_analyzer_end_layer(a, &err), 0);
}

#define LAYER(a, ...) feed(a, NULL, (const char *const[]){__VA_ARGS__, NULL})

static ld_analysis *run(ld_analyzer *a) {
  ld_analysis *r = ld_analyzer_finish(a);
  ld_analyzer_free(a);
  /* the overlay's conservation law: every byte is visible at the end, or hidden */
  assert_int_equal(r->size, r->visible_bytes + r->reclaimable_bytes);
  return r;
}

static const ld_an_inefficient *find_ineff(const ld_analysis *r, const char *path) {
  for (size_t i = 0; i < r->n_inefficient; i++)
    if (!strcmp(r->inefficient[i].path, path)) return &r->inefficient[i];
  return NULL;
}

static void test_file_written_twice(void **state) {
  ld_analyzer *a = ld_analyzer_new(NULL);
  LAYER(a, "D etc", "F etc/a 100", "F etc/b 50");
  LAYER(a, "D etc", "F etc/a 100 1");
  ld_analysis *r = run(a);
  assert_int_equal(r->size, 250);
  assert_int_equal(r->user_size, 100);
  /* paths: etc (dir leaf in layer 2? no: has a child) -> etc/a twice, etc/b once */
  assert_int_equal(r->n_inefficient, 1);
  assert_string_equal(r->inefficient[0].path, "/etc/a");
  assert_int_equal(r->inefficient[0].count, 2);
  assert_int_equal(r->inefficient[0].wasted_bytes, 200);
  assert_int_equal(r->wasted_bytes, 200);
  assert_true(r->efficiency == 150.0 / 250.0);
  assert_true(r->user_wasted_percent == 2.0);
  /* beyond dive: only the hidden copy is reclaimable */
  assert_int_equal(r->reclaimable_bytes, 100);
  assert_int_equal(r->reclaimable_files, 1);
  assert_int_equal(r->n_hidden, 1);
  assert_string_equal(r->hidden[0].path, "/etc/a");
  assert_int_equal(r->layers[1].modified.count, 1);
  assert_int_equal(r->layers[1].modified.bytes, 100);
  ld_analysis_free(r);
}

static void test_whiteout_of_file_counts_zero(void **state) {
  ld_analyzer *a = ld_analyzer_new(NULL);
  LAYER(a, "D d", "F d/x 40", "F d/y 10");
  LAYER(a, "D d", "W d/x");
  ld_analysis *r = run(a);
  const ld_an_inefficient *x = find_ineff(r, "/d/x");
  assert_non_null(x);
  assert_int_equal(x->wasted_bytes, 40); /* 40 + 0 */
  assert_true(r->efficiency == 10.0 / 50.0);
  assert_int_equal(r->reclaimable_bytes, 40);
  assert_int_equal(r->layers[1].removed.count, 1);
  assert_int_equal(r->layers[1].removed.bytes, 40);
  ld_analysis_free(r);
}

static void test_whiteout_of_dir_sums_subtree(void **state) {
  ld_analyzer *a = ld_analyzer_new(NULL);
  LAYER(a, "D d", "D d/sub", "F d/sub/a 30", "F d/sub/b 20", "F keep 5");
  LAYER(a, "W d/sub");
  ld_analysis *r = run(a);
  const ld_an_inefficient *x = find_ineff(r, "/d/sub");
  /* d/sub was not a leaf in layer 0, so its only record is the whiteout: 30 + 20 */
  assert_null(x);
  assert_int_equal(r->wasted_bytes, 0);
  /* records: d/sub/a 30, d/sub/b 20, keep 5, d/sub 50 (min 50) -> score 1 */
  assert_true(r->efficiency == 1.0);
  assert_int_equal(r->reclaimable_bytes, 50);
  assert_int_equal(r->layers[1].removed.count, 1);
  assert_int_equal(r->layers[1].removed.bytes, 50);
  ld_analysis_free(r);
}

static void test_opaque_ignored_by_dive_counted_beyond(void **state) {
  ld_analyzer *a = ld_analyzer_new(NULL);
  LAYER(a, "D d", "F d/old 70", "F d/same 5");
  LAYER(a, "D d", "O d", "F d/new 3");
  ld_analysis *r = run(a);
  /* dive: d/old and d/same seen once each, d/new once; no inefficiency */
  assert_int_equal(r->n_inefficient, 0);
  assert_true(r->efficiency == 1.0);
  /* the overlay: the opaque directory hid 75 bytes */
  assert_int_equal(r->reclaimable_bytes, 75);
  assert_int_equal(r->visible_bytes, 3);
  assert_int_equal(r->layers[1].removed.count, 2);
  assert_int_equal(r->layers[1].added.count, 1);
  ld_analysis_free(r);
}

static void test_implicit_parent_is_not_a_directory_for_dive(void **state) {
  /* layer 1 writes d/sub/f without a d/sub entry: dive's stack then says d/sub is not a
   * directory (empty metadata), so its whiteout in layer 2 sizes as 0, not as its subtree */
  ld_analyzer *a = ld_analyzer_new(NULL);
  LAYER(a, "D d", "D d/sub", "F d/sub/a 30");
  LAYER(a, "F d/sub/f 10");
  LAYER(a, "W d/sub");
  ld_analysis *r = run(a);
  const ld_an_inefficient *x = find_ineff(r, "/d/sub");
  assert_null(x); /* one record only (layer 2's whiteout), of size 0 */
  /* records: a 30, f 10, d/sub 0 (from the whiteout) -> 40/40 */
  assert_true(r->efficiency == 1.0);
  assert_int_equal(r->reclaimable_bytes, 40);
  ld_analysis_free(r);
}

static void test_whiteout_of_missing_path_stops_the_layer(void **state) {
  /* dive's visitor fails on a whiteout of a path the stack does not have: the record is created
   * with smallest size -1 and the layer's later leaves (in sorted order) are not visited */
  ld_analyzer *a = ld_analyzer_new(NULL);
  LAYER(a, "F a 10", "D d", "F z 10");
  LAYER(a, "F z 10", "W d/b", "F a 10");
  ld_analysis *r = run(a);
  /* layer 1 in dive's order: a, d/.wh.b, d, z -> a recorded (count 2), d/.wh.b fails, z is
   * never visited again */
  const ld_an_inefficient *x = find_ineff(r, "/a");
  assert_non_null(x);
  assert_null(find_ineff(r, "/z"));
  /* smallest: a 10, d 0, z 10, b -1 = 19; cumulative: a 20, d 0, z 10 = 30 */
  assert_true(r->efficiency == 19.0 / 30.0);
  ld_analysis_free(r);
}

static void test_dive_sort_order_and_ties(void **state) {
  /* names compare byte-wise per component: "a-b" < "a.b" < "a/..." is not how paths sort */
  ld_analyzer *a = ld_analyzer_new(NULL);
  LAYER(a, "F x 5", "F y 5", "F big 9");
  LAYER(a, "F y 5", "F x 5", "F big 9");
  ld_analysis *r = run(a);
  assert_int_equal(r->n_inefficient, 3);
  assert_string_equal(r->inefficient[0].path, "/big");
  /* equal sizes: dive lists the one discovered last first (x before y in sorted order) */
  assert_string_equal(r->inefficient[1].path, "/y");
  assert_string_equal(r->inefficient[2].path, "/x");
  ld_analysis_free(r);
}

static void test_duplicates_by_content(void **state) {
  ld_analyzer *a = ld_analyzer_new(NULL);
  LAYER(a, "F a 100 42", "F b 100 42", "F c 100 43", "D dir", "F dir/d 100 42", "F e 0");
  ld_analysis *r = run(a);
  assert_int_equal(r->n_duplicates, 1);
  assert_int_equal(r->duplicates[0].n_paths, 3);
  assert_string_equal(r->duplicates[0].paths[0], "/a");
  assert_string_equal(r->duplicates[0].paths[2], "/dir/d");
  assert_int_equal(r->duplicates[0].wasted_bytes, 200);
  assert_int_equal(r->duplicate_bytes, 200);
  ld_analysis_free(r);
}

static void test_changes_of_one_layer(void **state) {
  ld_analyze_opts o = {.changes_layer = 1};
  ld_analyzer *a = ld_analyzer_new(&o);
  LAYER(a, "D etc", "F etc/a 10", "F etc/b 20", "D var", "F var/x 5");
  LAYER(a, "D etc", "F etc/a 11", "F etc/c 7", "W var", "L etc/l");
  ld_analysis *r = run(a);
  const ld_an_layer *l = &r->layers[1];
  assert_false(r->layers[0].has_changes);
  assert_true(l->has_changes);
  assert_int_equal(l->n_changes, 4); /* etc unchanged: not listed */
  assert_string_equal(l->changes[0].path, "/etc/a");
  assert_int_equal(l->changes[0].kind, LD_AN_MODIFIED);
  assert_int_equal(l->changes[0].size, 11);
  assert_int_equal(l->changes[0].prev_size, 10);
  assert_string_equal(l->changes[1].path, "/etc/c");
  assert_int_equal(l->changes[1].kind, LD_AN_ADDED);
  assert_string_equal(l->changes[2].path, "/etc/l");
  assert_int_equal(l->changes[2].type, LD_AN_SYMLINK);
  assert_string_equal(l->changes[3].path, "/var");
  assert_int_equal(l->changes[3].kind, LD_AN_REMOVED);
  assert_int_equal(l->changes[3].size, 5);
  assert_int_equal(l->changes[3].files, 1);
  ld_analysis_free(r);
}

static void test_file_replacing_directory_hides_its_subtree(void **state) {
  ld_analyzer *a = ld_analyzer_new(NULL);
  LAYER(a, "D d", "F d/a 10", "F d/b 20");
  LAYER(a, "F d 3");
  ld_analysis *r = run(a);
  assert_int_equal(r->reclaimable_bytes, 30);
  assert_int_equal(r->visible_bytes, 3);
  assert_int_equal(r->visible_files, 1);
  ld_analysis_free(r);
}

static void test_single_layer_percent_is_nan(void **state) {
  ld_analyzer *a = ld_analyzer_new(NULL);
  LAYER(a, "F a 1");
  ld_analysis *r = run(a);
  assert_int_equal(r->user_size, 0);
  assert_true(isnan(r->user_wasted_percent));
  json_t *j = ld_analysis_to_json(r);
  assert_true(json_is_null(json_object_get(j, "user_wasted_percent")));
  json_decref(j);
  ld_analysis_free(r);
}

static void test_history_and_command(void **state) {
  ld_history h[] = {
      {.created_by = "/bin/sh -c #(nop) ADD file:abc in / "},
      {.created_by = "/bin/sh -c #(nop)  CMD [\"sh\"]", .empty_layer = true},
      {.created_by = "/bin/sh -c apk add curl"},
      {.created_by = "COPY . / # buildkit"},
  };
  ld_image_config cfg = {.history = h, .n_history = 4};
  const char *out[4];
  ld_an_history_map(&cfg, 4, out);
  assert_string_equal(out[0], h[0].created_by);
  assert_string_equal(out[1], h[2].created_by);
  assert_string_equal(out[2], h[3].created_by);
  assert_null(out[3]);
  char *c = ld_an_command(out[0]);
  assert_string_equal(c, "ADD file:abc in / ");
  free(c);
  c = ld_an_command(h[1].created_by);
  assert_string_equal(c, "CMD [\"sh\"]");
  free(c);
  c = ld_an_command(out[1]);
  assert_string_equal(c, "apk add curl");
  free(c);
  c = ld_an_command(out[2]);
  assert_string_equal(c, "COPY . / # buildkit");
  free(c);
}

static void test_many_paths_grow_the_tables(void **state) {
  /* 30,000 files over 300 directories, then a layer deleting 100 directories: the path table
   * rehashes several times and every number still adds up */
  ld_analyzer *a = ld_analyzer_new(NULL);
  char path[64];
  ld_analyzer_begin_layer(a, NULL);
  for (int d = 0; d < 300; d++)
    for (int f = 0; f < 100; f++) {
      snprintf(path, sizeof path, "srv/d%03d/sub/f%03d", d, f);
      ld_an_entry e = {.path = path, .type = LD_AN_REG, .size = 10, .has_hash = true,
                       .hash_hi = (uint64_t) f, .hash_lo = 1};
      ld_analyzer_add_entry(a, &e);
    }
  assert_int_equal(ld_analyzer_end_layer(a, NULL), 0);
  ld_analyzer_begin_layer(a, NULL);
  for (int d = 0; d < 100; d++) {
    snprintf(path, sizeof path, "srv/d%03d", d);
    ld_an_entry e = {.path = path, .whiteout = true};
    ld_analyzer_add_entry(a, &e);
  }
  assert_int_equal(ld_analyzer_end_layer(a, NULL), 0);
  ld_analysis *r = run(a);
  assert_int_equal(r->size, 300000);
  assert_int_equal(r->visible_files, 20000);
  assert_int_equal(r->reclaimable_bytes, 100000);
  assert_int_equal(r->layers[1].removed.count, 100);
  /* dive: the implied directories have no metadata, so their whiteouts count 0 */
  assert_true(r->efficiency == 1.0);
  /* 100 contents, each under 200 paths */
  assert_int_equal(r->n_duplicates, 100);
  assert_int_equal(r->duplicates[0].n_paths, 200);
  ld_analysis_free(r);
}

static void test_same_path_twice_in_one_layer(void **state) {
  ld_analyzer *a = ld_analyzer_new(NULL);
  LAYER(a, "F a 10", "F a 30 5");
  ld_analysis *r = run(a);
  /* dive: one node, the later header wins (30); both headers count in the layer size */
  assert_int_equal(r->size, 40);
  assert_int_equal(r->n_inefficient, 0);
  assert_true(r->efficiency == 1.0);
  assert_int_equal(r->reclaimable_bytes, 10);
  assert_int_equal(r->visible_bytes, 30);
  ld_analysis_free(r);
}

/* ---- dive's own fixture, read with libarchive ---- */

static char *fixture(const char *name) {
  const char *self = __FILE__, *tail = strstr(self, "tests/unit/analyze/");
  ld_autofree char *prefix = ld_xstrndup(self, tail ? (size_t) (tail - self) : 0);
  static const char *const ups[] = {"", "../", "../../", "../../../"};
  for (size_t i = 0; i < LD_ARRAY_SIZE(ups); i++) {
    char *p = ld_xasprintf("%s%stests/fixtures/dive/%s", prefix[0] == '/' ? "" : ups[i], prefix,
                           name);
    if (access(p, R_OK) == 0) return p;
    free(p);
  }
  return NULL;
}

/* Reads member `name` of the outer tar into memory (the fixture is small). */
static void *read_member(const char *tar, const char *name, size_t *len) {
  struct archive *ar = archive_read_new();
  archive_read_support_format_tar(ar);
  assert_int_equal(archive_read_open_filename(ar, tar, 65536), ARCHIVE_OK);
  struct archive_entry *ae;
  void *buf = NULL;
  while (archive_read_next_header(ar, &ae) == ARCHIVE_OK) {
    if (strcmp(archive_entry_pathname(ae), name)) continue;
    *len = (size_t) archive_entry_size(ae);
    buf = ld_xmalloc(*len + 1);
    assert_int_equal(archive_read_data(ar, buf, *len), (ssize_t) *len);
    ((char *) buf)[*len] = '\0';
    break;
  }
  archive_read_free(ar);
  assert_non_null(buf);
  return buf;
}

static void feed_layer_tar(ld_analyzer *an, const void *data, size_t len, const char *created_by) {
  struct archive *ar = archive_read_new();
  archive_read_support_format_tar(ar);
  archive_read_support_filter_all(ar);
  assert_int_equal(archive_read_open_memory(ar, data, len), ARCHIVE_OK);
  ld_an_layer_meta meta = {.created_by = created_by};
  ld_analyzer_begin_layer(an, &meta);
  struct archive_entry *ae;
  char buf[8192];
  while (archive_read_next_header(ar, &ae) == ARCHIVE_OK) {
    ld_autofree char *path = ld_xstrdup(archive_entry_pathname(ae));
    size_t n = strlen(path);
    while (n && path[n - 1] == '/') path[--n] = '\0';
    char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    ld_an_entry e = {.path = path, .size = (uint64_t) archive_entry_size(ae)};
    if (!strcmp(base, ".wh..wh..opq")) {
      e.opaque = true;
      *(base > path ? base - 1 : base) = '\0';
    } else if (!strncmp(base, ".wh.", 4)) {
      e.whiteout = true;
      size_t bl = strlen(base);
      memmove(base, base + 4, bl - 3);
    }
    e.type = archive_entry_hardlink(ae) ? LD_AN_HARDLINK
             : archive_entry_filetype(ae) == AE_IFDIR ? LD_AN_DIR
             : archive_entry_filetype(ae) == AE_IFLNK ? LD_AN_SYMLINK : LD_AN_REG;
    if (e.type == LD_AN_REG && e.size) {
      XXH3_state_t *st = XXH3_createState();
      XXH3_128bits_reset(st);
      ssize_t k;
      while ((k = archive_read_data(ar, buf, sizeof buf)) > 0) XXH3_128bits_update(st, buf, (size_t) k);
      XXH128_hash_t h = XXH3_128bits_digest(st);
      XXH3_freeState(st);
      e.has_hash = true;
      e.hash_hi = h.high64;
      e.hash_lo = h.low64;
    }
    if (strcmp(path, ".") && path[0]) ld_analyzer_add_entry(an, &e);
  }
  archive_read_free(ar);
  ld_error *err = NULL;
  assert_int_equal(ld_analyzer_end_layer(an, &err), 0);
}

static void test_dive_fixture_numbers(void **state) {
  ld_autofree char *tar = fixture("test-docker-image.tar");
  if (!tar) skip();
  size_t len;
  ld_autofree char *manifest = read_member(tar, "manifest.json", &len);
  json_t *m = json_loads(manifest, 0, NULL);
  assert_non_null(m);
  json_t *img = json_array_get(m, 0);
  ld_autofree char *config = read_member(tar, json_string_value(json_object_get(img, "Config")), &len);
  ld_image_config cfg;
  ld_error *err = NULL;
  assert_int_equal(ld_config_parse(config, len, &cfg, &err), 0);
  json_t *layers = json_object_get(img, "Layers");
  size_t n = json_array_size(layers);
  const char **hist = ld_xcalloc(n, sizeof *hist);
  ld_an_history_map(&cfg, n, hist);
  ld_analyzer *an = ld_analyzer_new(NULL);
  for (size_t i = 0; i < n; i++) {
    size_t ll;
    ld_autofree void *data = read_member(tar, json_string_value(json_array_get(layers, i)), &ll);
    feed_layer_tar(an, data, ll, hist[i]);
  }
  ld_analysis *r = run(an);
  assert_int_equal(r->n_layers, 14);
  assert_true(r->efficiency == 0.9844212134184309);
  assert_int_equal(r->size, 1220598);
  assert_int_equal(r->user_size, 66237);
  assert_int_equal(r->wasted_bytes, 32025);
  assert_true(r->user_wasted_percent == 0.4834911001404049);
  assert_int_equal(r->n_inefficient, 3);
  assert_string_equal(r->inefficient[0].path, "/root/saved.txt");
  assert_int_equal(r->inefficient[0].wasted_bytes, 12810);
  assert_string_equal(r->inefficient[1].path, "/root/example/somefile1.txt");
  assert_int_equal(r->inefficient[1].count, 2);
  assert_string_equal(r->inefficient[2].path, "/root/example/somefile3.txt");
  assert_int_equal(r->inefficient[2].wasted_bytes, 6405);
  assert_string_equal(r->layers[3].command, "cp /somefile.txt /root/example/somefile1.txt");
  /* copies of somefile.txt under other paths are the same content */
  assert_true(r->n_duplicates >= 1);
  ld_analysis_free(r);
  free(hist);
  ld_config_clear(&cfg);
  json_decref(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_file_written_twice),
      cmocka_unit_test(test_whiteout_of_file_counts_zero),
      cmocka_unit_test(test_whiteout_of_dir_sums_subtree),
      cmocka_unit_test(test_opaque_ignored_by_dive_counted_beyond),
      cmocka_unit_test(test_implicit_parent_is_not_a_directory_for_dive),
      cmocka_unit_test(test_whiteout_of_missing_path_stops_the_layer),
      cmocka_unit_test(test_dive_sort_order_and_ties),
      cmocka_unit_test(test_duplicates_by_content),
      cmocka_unit_test(test_changes_of_one_layer),
      cmocka_unit_test(test_file_replacing_directory_hides_its_subtree),
      cmocka_unit_test(test_single_layer_percent_is_nan),
      cmocka_unit_test(test_history_and_command),
      cmocka_unit_test(test_many_paths_grow_the_tables),
      cmocka_unit_test(test_same_path_twice_in_one_layer),
      cmocka_unit_test(test_dive_fixture_numbers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
