/* Layer writer and safe unpack: overlay encodings become OCI ones and back, output is
 * deterministic, hard links survive, and a symlink in a layer cannot lead an unpack outside its
 * root. Needs root (0:0 character devices, trusted.* attributes); skipped otherwise. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>
#include "lading/fs.h"
#include "lading/io.h"
#include "lading/layer.h"
#include "lading/layer_write.h"
#include "lading/manifest.h"
#include "lading/unpack.h"
#include "lading/util.h"

static char *tmpdir(void) {
  char *p = ld_xstrdup("/tmp/lading-unit-lw-XXXXXX");
  assert_non_null(mkdtemp(p));
  return p;
}

static void put(const char *dir, const char *rel, const char *content) {
  char *p = ld_path_join(dir, rel);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
  free(p);
}

static char *make_tree(void) {
  char *d = tmpdir();
  char *a = ld_path_join(d, "a"), *b = ld_path_join(d, "b"), *c = ld_path_join(d, "c"), *e = ld_path_join(d, "e");
  assert_int_equal(mkdir(a, 0755), 0);
  assert_int_equal(setxattr(a, "trusted.overlay.opaque", "y", 1, 0), 0);
  put(d, "a/f", "content of f\n");
  assert_int_equal(mknod(b, S_IFCHR | 0, makedev(0, 0)), 0);
  assert_int_equal(symlink("/etc", c), 0);
  char *af = ld_path_join(d, "a/f"), *dd = ld_path_join(d, "d");
  assert_int_equal(link(af, dd), 0);
  put(d, "e", "e\n");
  assert_int_equal(setxattr(e, "trusted.overlay.origin", "x", 1, 0), 0);
  assert_int_equal(setxattr(e, "user.keep", "v", 1, 0), 0);
  free(a), free(b), free(c), free(e), free(af), free(dd);
  return d;
}

static void write_layer(const char *dir, const char *out, ld_layer_written *w) {
  int fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  ld_layer_write_opts o = {.mtime = 1000, .compression = LD_COMP_GZIP};
  ld_error *err = NULL;
  if (ld_layer_write_dir(dir, fd, &o, w, &err) < 0) fail_msg("%s", err->msg);
  close(fd);
}

static void test_write_translates_and_is_deterministic(void **state) {
  if (geteuid() != 0) skip();
  char *d = make_tree();
  ld_layer_written w1, w2;
  write_layer(d, "/tmp/lading-unit-lw1.tgz", &w1);
  write_layer(d, "/tmp/lading-unit-lw2.tgz", &w2);
  assert_string_equal(w1.digest, w2.digest);
  assert_string_equal(w1.diff_id, w2.diff_id);
  ld_reader *r;
  assert_int_equal(ld_reader_open_file("/tmp/lading-unit-lw1.tgz", &r, NULL), 0);
  ld_layer_reader *l;
  assert_int_equal(ld_layer_open(r, LD_MT_OCI_LAYER_GZIP, w1.digest, "test layer", &l, NULL), 0);
  const char *want[] = {"a", "a(opaque)", "a/f", "b(whiteout)", "c->/etc", "d=>a/f", "e"};
  size_t i = 0;
  ld_layer_entry e;
  while (ld_layer_next(l, &e, NULL) == 1) {
    char got[256];
    const char *sl = archive_entry_symlink(e.ae), *hl = archive_entry_hardlink(e.ae);
    snprintf(got, sizeof got, "%s%s%s%s%s%s", e.path, e.opaque ? "(opaque)" : "", e.whiteout ? "(whiteout)" : "",
             sl ? "->" : "", sl ? sl : (hl ? "=>" : ""), hl && !sl ? hl : "");
    assert_true(i < sizeof want / sizeof want[0]);
    assert_string_equal(got, want[i]);
    assert_int_equal(archive_entry_mtime(e.ae), 1000);
    if (!strcmp(e.path, "e")) {
      const char *k;
      const void *v;
      size_t n;
      int count = 0;
      archive_entry_xattr_reset(e.ae);
      while (archive_entry_xattr_next(e.ae, &k, &v, &n) == ARCHIVE_OK) {
        assert_false(ld_str_has_prefix(k, "trusted.overlay."));
        if (!strcmp(k, "user.keep")) count++;
      }
      assert_true(count >= 1); /* libarchive reads both the SCHILY and LIBARCHIVE pax forms */
    }
    i++;
  }
  assert_int_equal(i, sizeof want / sizeof want[0]);
  char diff[LD_DIGEST_MAX];
  assert_int_equal(ld_layer_finish(l, diff, NULL, NULL), 0);
  assert_string_equal(diff, w1.diff_id);
  ld_layer_close(l);

  /* and back: unpacked in overlay form it is the same tree */
  assert_int_equal(ld_reader_open_file("/tmp/lading-unit-lw1.tgz", &r, NULL), 0);
  assert_int_equal(ld_layer_open(r, NULL, NULL, "test layer", &l, NULL), 0);
  char *u = tmpdir();
  int root = open(u, O_RDONLY | O_DIRECTORY);
  ld_error *err = NULL;
  if (ld_layer_unpack(l, root, LD_UNPACK_OVERLAY, NULL, &err) < 0) fail_msg("%s", err->msg);
  ld_layer_close(l);
  close(root);
  struct stat st, st2;
  char *p = ld_path_join(u, "b");
  assert_int_equal(lstat(p, &st), 0);
  assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
  free(p);
  p = ld_path_join(u, "a");
  char v[4];
  assert_int_equal(getxattr(p, "trusted.overlay.opaque", v, sizeof v), 1);
  free(p);
  char *f = ld_path_join(u, "a/f"), *dd = ld_path_join(u, "d");
  assert_int_equal(stat(f, &st), 0);
  assert_int_equal(stat(dd, &st2), 0);
  assert_int_equal(st.st_ino, st2.st_ino);
  assert_int_equal(st.st_mtime, 1000);
  free(f), free(dd);
  ld_rm_rf(u, NULL);
  ld_rm_rf(d, NULL);
  free(u), free(d);
  unlink("/tmp/lading-unit-lw1.tgz");
  unlink("/tmp/lading-unit-lw2.tgz");
}

/* A tar whose symlink points at "/" and whose next entry writes through it. */
static void test_unpack_stays_inside_root(void **state) {
  if (geteuid() != 0) skip();
  char buf[16384];
  size_t used = 0;
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open_memory(a, buf, sizeof buf, &used);
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, "escape");
  archive_entry_set_filetype(e, AE_IFLNK);
  archive_entry_set_perm(e, 0777);
  archive_entry_set_symlink(e, "/");
  archive_write_header(a, e);
  archive_entry_clear(e);
  archive_entry_set_pathname(e, "escape/tmp/lading-unit-escaped");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, 3);
  archive_write_header(a, e);
  archive_write_data(a, "bad", 3);
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  unlink("/tmp/lading-unit-escaped");
  ld_layer_reader *l;
  assert_int_equal(ld_layer_open(ld_reader_from_mem(buf, used, false), NULL, NULL, "evil layer", &l, NULL), 0);
  char *u = tmpdir();
  int root = open(u, O_RDONLY | O_DIRECTORY);
  ld_error *err = NULL;
  int r = ld_layer_unpack(l, root, LD_UNPACK_APPLY, NULL, &err);
  ld_error_free(err);
  ld_layer_close(l);
  close(root);
  assert_false(ld_path_exists("/tmp/lading-unit-escaped")); /* never outside */
  char *inside = ld_path_join(u, "tmp/lading-unit-escaped");
  if (r == 0) assert_true(ld_path_exists(inside)); /* resolved inside the root instead */
  free(inside);
  ld_rm_rf(u, NULL);
  free(u);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_write_translates_and_is_deterministic),
      cmocka_unit_test(test_unpack_stays_inside_root),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
