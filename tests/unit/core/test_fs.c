/* File system helpers: atomic writes leave the old file or the new one, path cleaning rejects
 * escapes, ld_open_in_root keeps symlinks inside the root, errors wrap outermost-first. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "lading/fs.h"
#include "lading/io.h"
#include "lading/util.h"

static char *tmpdir(void) {
  char *t = ld_xstrdup("/tmp/lading-unit-XXXXXX");
  assert_non_null(mkdtemp(t));
  return t;
}

static void test_atomic_write(void **state) {
  char *dir = tmpdir();
  char *path = ld_path_join(dir, "f");
  assert_int_equal(ld_atomic_write(path, "one", 3, 0644, NULL), 0);
  ld_atomic_file f;
  assert_int_equal(ld_atomic_open(&f, path, 0644, NULL), 0);
  assert_int_equal(ld_write_all(f.fd, "two-partial", 11), 0);
  ld_atomic_abort(&f); /* a failed writer leaves the old content and no temp file */
  char *buf;
  size_t len;
  assert_int_equal(ld_read_file(path, 100, &buf, &len, NULL), 0);
  assert_string_equal(buf, "one");
  free(buf);
  char *cmd = ld_xasprintf("test $(ls -A %s | wc -l) = 1", dir);
  assert_int_equal(system(cmd), 0);
  free(cmd);
  assert_int_equal(ld_atomic_write(path, "two", 3, 0644, NULL), 0);
  assert_int_equal(ld_read_file(path, 100, &buf, &len, NULL), 0);
  assert_string_equal(buf, "two");
  free(buf);
  ld_error *err = NULL;
  assert_int_equal(ld_read_file(path, 2, &buf, &len, &err), -1);
  assert_non_null(strstr(err->msg, "larger than 2 bytes"));
  ld_error_free(err);
  assert_int_equal(ld_rm_rf(dir, NULL), 0);
  assert_false(ld_path_exists(dir));
  free(path);
  free(dir);
}

static void test_path_clean(void **state) {
  static const struct {
    const char *in, *out;
  } ok[] = {{"./a/b", "a/b"}, {"a//b/./c/", "a/b/c"}, {".", ""}, {"./", ""}, {"a/..b", "a/..b"}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    char *out;
    assert_int_equal(ld_path_clean(ok[i].in, false, &out, NULL), 0);
    assert_string_equal(out, ok[i].out);
    free(out);
  }
  static const char *bad[] = {"../x", "a/../../x", "a/..", "/abs"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *out = NULL;
    ld_error *err = NULL;
    assert_int_equal(ld_path_clean(bad[i], false, &out, &err), -1);
    assert_non_null(strstr(err->msg, bad[i]));
    ld_error_free(err);
  }
  char *out;
  assert_int_equal(ld_path_clean("/abs//x", true, &out, NULL), 0);
  assert_string_equal(out, "abs/x");
  free(out);
}

static void test_open_in_root(void **state) {
  char *dir = tmpdir();
  char *cmd = ld_xasprintf("mkdir -p %s/root/etc && echo inside > %s/root/etc/passwd && "
                           "echo outside > %s/secret && ln -s ../../secret %s/root/up && "
                           "ln -s /etc/passwd %s/root/abs",
                           dir, dir, dir, dir, dir);
  assert_int_equal(system(cmd), 0);
  free(cmd);
  char *root = ld_path_join(dir, "root");
  int rootfd = open(root, O_RDONLY | O_DIRECTORY);
  char buf[32] = {0};
  /* An absolute link resolves inside the root. */
  int fd = ld_open_in_root(rootfd, "abs", O_RDONLY, 0, NULL);
  assert_true(fd >= 0);
  assert_true(read(fd, buf, sizeof buf - 1) > 0);
  assert_string_equal(buf, "inside\n");
  close(fd);
  /* ".." above the root stays at the root: ../../secret is <root>/secret, which does not exist. */
  ld_error *err = NULL;
  fd = ld_open_in_root(rootfd, "up", O_RDONLY, 0, &err);
  assert_int_equal(fd, -1);
  ld_error_free(err);
  close(rootfd);
  ld_rm_rf(dir, NULL);
  free(root);
  free(dir);
}

static void test_error_wrap(void **state) {
  ld_error *err = NULL;
  assert_int_equal(ld_err(&err, LD_EDIGEST, "blob %s: digest mismatch", "sha256:ab"), -1);
  ld_error_wrap(&err, "copy %s", "x");
  assert_string_equal(err->msg, "copy x: blob sha256:ab: digest mismatch");
  assert_int_equal(ld_error_exit_code(err), 1);
  /* the first error is the cause and is kept */
  ld_err(&err, EIO, "later");
  assert_int_equal(err->code, LD_EDIGEST);
  ld_error_free(err);
  err = NULL;
  ld_err(&err, LD_EPOLICY, "gate");
  assert_int_equal(ld_error_exit_code(err), 3);
  ld_error_free(err);
}

static void test_sizes(void **state) {
  uint64_t v;
  assert_int_equal(ld_parse_size("20MB", &v), 0);
  assert_int_equal(v, 20000000);
  assert_int_equal(ld_parse_size("19MiB", &v), 0);
  assert_int_equal(v, 19 * 1048576);
  assert_int_equal(ld_parse_size("1024", &v), 0);
  assert_int_equal(v, 1024);
  assert_int_equal(ld_parse_size("12XB", &v), -1);
  int64_t s;
  assert_int_equal(ld_parse_duration("2m", &s), 0);
  assert_int_equal(s, 120);
  assert_int_equal(ld_parse_duration("1h30m", &s), 0);
  assert_int_equal(s, 5400);
  assert_int_equal(ld_parse_duration("x", &s), -1);
}

/* ld_reader_prefixed: the sniffed bytes come back first, then the rest; small reads split them. */
static void test_reader_prefixed(void **state) {
  (void) state;
  ld_reader *inner = ld_reader_from_mem("hello world", 11, true);
  char head[5], out[32];
  assert_int_equal(ld_reader_read_full(inner, head, sizeof head), 5);
  ld_reader *r = ld_reader_prefixed(head, sizeof head, inner, true);
  assert_int_equal(ld_reader_read(r, out, 3), 3);
  assert_memory_equal(out, "hel", 3);
  assert_int_equal(ld_reader_read_full(r, out, sizeof out), 8);
  assert_memory_equal(out, "lo world", 8);
  assert_int_equal(ld_reader_read(r, out, sizeof out), 0);
  ld_reader_close(r); /* closes inner too (own): ASan would report a leak otherwise */
}

/* A reader that gives `left` bytes of 'x' and then fails. */
typedef struct {
  ld_reader r;
  size_t left;
} failing_reader;
static ssize_t failing_read(ld_reader *r, void *buf, size_t len) {
  failing_reader *f = (failing_reader *) r;
  if (!f->left) {
    ld_err(&r->error, EIO, "disk on fire");
    return -1;
  }
  size_t n = len < f->left ? len : f->left;
  memset(buf, 'x', n);
  f->left -= n;
  return (ssize_t) n;
}
static void failing_close(ld_reader *r) { free(r); }

/* Reads r to its end into back (at most size bytes): two borrows, then a copied read of
 * read_len bytes, and again. Returns the byte count. */
static size_t read_mixed(ld_reader *r, unsigned char *back, size_t size, size_t read_len) {
  unsigned char scratch[1000];
  size_t got = 0;
  for (int turn = 0;; turn++) {
    ssize_t n;
    if (turn % 3 == 2) {
      n = ld_reader_read(r, back + got, read_len);
    } else {
      const void *p = NULL;
      n = ld_reader_borrow(r, scratch, sizeof scratch, &p);
      if (n > 0) memcpy(back + got, p, (size_t) n);
    }
    assert_true(n >= 0);
    if (n == 0) return got;
    got += (size_t) n;
    assert_true(got <= size);
  }
}

static ld_reader *make_identity(ld_reader *input, void *ctx) {
  (void) ctx;
  return ld_reader_limit(input, UINT64_MAX);
}

/* ld_reader_borrow: through a prefixed staged reader (a lender), borrowed and copied reads
 * mixed give back exactly the bytes in order, across several turns of its rings; a reader
 * without a buffer of its own fills the scratch. */
static void test_reader_borrow(void **state) {
  (void) state;
  size_t size = 9 * 1024 * 1024 + 123;
  unsigned char *data = ld_xmalloc(size), *back = ld_xmalloc(size), scratch[1000];
  for (size_t i = 0; i < size; i++) data[i] = (unsigned char) (i * 7 + i / 4096);
  ld_reader *src = ld_reader_from_mem(data + 5, size - 5, true);
  ld_reader *lender = ld_reader_staged(src, make_identity, NULL);
  ld_reader *r = ld_reader_prefixed(data, 5, lender, true);
  assert_int_equal(read_mixed(r, back, size, 70000), size);
  assert_memory_equal(back, data, size);
  ld_reader_close(r);
  ld_reader_close(src);

  ld_reader *m = ld_reader_from_mem("abc", 3, true);
  const void *p = NULL;
  assert_int_equal(ld_reader_borrow(m, scratch, 2, &p), 2);
  assert_ptr_equal(p, scratch);
  assert_memory_equal(p, "ab", 2);
  ld_reader_close(m);
  free(data);
  free(back);
}

/* A stage for ld_reader_staged: every byte of its input plus one; with `swallow` set, it first
 * consumes that many bytes without giving anything back; with `fail_at`, it fails there. */
typedef struct {
  ld_reader r;
  ld_reader *in;
  size_t swallow, fail_at, seen;
} plus_one;
static ssize_t plus_one_read(ld_reader *r, void *buf, size_t len) {
  plus_one *p = (plus_one *) r;
  unsigned char *out = buf;
  for (;;) {
    if (p->fail_at && p->seen >= p->fail_at) {
      ld_err(&r->error, EIO, "stage gave up");
      return -1;
    }
    const void *data = NULL;
    ssize_t n = ld_reader_borrow_for(r, p->in, buf, len, &data);
    if (n <= 0) return n;
    p->seen += (size_t) n;
    if (p->seen <= p->swallow) continue;
    for (ssize_t i = 0; i < n; i++) out[i] = (unsigned char) (((const unsigned char *) data)[i] + 1);
    return n;
  }
}
static void plus_one_close(ld_reader *r) {
  ld_reader_close(((plus_one *) r)->in);
  free(r);
}
static size_t stage_swallow, stage_fail_at;
static ld_reader *make_plus_one(ld_reader *input, void *ctx) {
  (void) ctx;
  plus_one *p = ld_xcalloc(1, sizeof *p);
  p->r.read = plus_one_read;
  p->r.close = plus_one_close;
  p->in = input;
  p->swallow = stage_swallow;
  p->fail_at = stage_fail_at;
  return &p->r;
}

/* ld_reader_staged: the output is the stage over all of the source, read with borrow and read
 * mixed; a stage that eats megabytes before its first byte does not stall the pipeline; errors
 * of the source and of the stage come out of the reader; closing it early stops the worker. */
static void test_reader_staged(void **state) {
  (void) state;
  size_t size = 9 * 1024 * 1024 + 77;
  unsigned char *data = ld_xmalloc(size), *back = ld_xmalloc(size), scratch[1000];
  for (size_t i = 0; i < size; i++) data[i] = (unsigned char) (i * 13 + i / 999);
  for (int swallow = 0; swallow < 2; swallow++) {
    stage_swallow = swallow ? 3 * 1024 * 1024 : 0;
    stage_fail_at = 0;
    ld_reader *src = ld_reader_from_mem(data, size, true);
    ld_reader *r = ld_reader_staged(src, make_plus_one, NULL);
    size_t got = read_mixed(r, back, size, 50000);
    size_t skipped = stage_swallow ? stage_swallow / 65536 * 65536 : 0; /* whole input chunks */
    assert_true(got + skipped >= size - 65536);
    for (size_t i = 0; i < got; i++)
      if (back[i] != (unsigned char) (data[size - got + i] + 1)) fail_msg("byte %zu differs", i);
    ld_reader_close(r);
    ld_reader_close(src);
  }

  stage_swallow = 0; /* the source fails: its error, not the stage's */
  failing_reader *f = ld_xcalloc(1, sizeof *f);
  f->r.read = failing_read;
  f->r.close = failing_close;
  f->left = 2000000;
  ld_reader *r = ld_reader_staged(&f->r, make_plus_one, NULL);
  const void *p = NULL;
  ssize_t n;
  while ((n = ld_reader_borrow(r, scratch, sizeof scratch, &p)) > 0) {
  }
  assert_int_equal(n, -1);
  ld_error *err = NULL;
  ld_reader_take_error(r, &err);
  assert_non_null(strstr(err->msg, "disk on fire"));
  ld_error_free(err);
  ld_reader_close(r);
  ld_reader_close(&f->r);

  stage_fail_at = 1500000; /* the stage fails */
  ld_reader *src = ld_reader_from_mem(data, size, true);
  r = ld_reader_staged(src, make_plus_one, NULL);
  while ((n = ld_reader_borrow(r, scratch, sizeof scratch, &p)) > 0) {
  }
  assert_int_equal(n, -1);
  err = NULL;
  ld_reader_take_error(r, &err);
  assert_non_null(strstr(err->msg, "stage gave up"));
  ld_error_free(err);
  ld_reader_close(r);
  ld_reader_close(src);

  stage_fail_at = 0; /* closed after one chunk: the worker stops */
  src = ld_reader_from_mem(data, size, true);
  r = ld_reader_staged(src, make_plus_one, NULL);
  assert_true(ld_reader_borrow(r, scratch, sizeof scratch, &p) > 0);
  ld_reader_close(r);
  ld_reader_close(src);
  free(data);
  free(back);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_atomic_write), cmocka_unit_test(test_path_clean),
      cmocka_unit_test(test_open_in_root), cmocka_unit_test(test_error_wrap),
      cmocka_unit_test(test_sizes),        cmocka_unit_test(test_reader_prefixed),
      cmocka_unit_test(test_reader_borrow), cmocka_unit_test(test_reader_staged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
