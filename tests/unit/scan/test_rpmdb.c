/* rpm headers and their containers: a header blob built here by the rules of rpm's header format
 * (region entry + trailer, big-endian index entries), the same blob inside a SQLite Packages
 * table, and inside a hand-built minimal Berkeley DB hash file whose value spans two overflow
 * pages, small enough to corrupt one field at a time (real BDB files, written by db5.3_load,
 * are read in tests/e2e/t6006-scan-rpm-bdb.sh). Every malformed variant must fail with a
 * message naming the file and the reason, never read out of bounds (run under ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "lading/scan.h"
#include "lading/util.h"

static void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char) (v >> 24), p[1] = (unsigned char) (v >> 16), p[2] = (unsigned char) (v >> 8), p[3] = (unsigned char) v;
}
static void le32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char) v, p[1] = (unsigned char) (v >> 8), p[2] = (unsigned char) (v >> 16), p[3] = (unsigned char) (v >> 24);
}
static void le16(unsigned char *p, uint16_t v) { p[0] = (unsigned char) v, p[1] = (unsigned char) (v >> 8); }

typedef struct {
  uint32_t tag, type, count;
  const void *data;
  size_t len;
} hent;

/* il entries (region first) + data (trailer last). */
static unsigned char *build_header(size_t *out_len) {
  static const char dirs[] = "/usr/lib64/\0/etc/";
  static const char bases[] = "libz.so.1\0zlib.conf";
  unsigned char idx[8], epoch[4];
  put32(idx, 0), put32(idx + 4, 1);
  put32(epoch, 1);
  static char desc[401];
  memset(desc, 'd', 400);
  hent e[] = {
      {1005, 6, 1, desc, sizeof desc},
      {1000, 6, 1, "zlib", 5},
      {1001, 6, 1, "1.2.11", 7},
      {1002, 6, 1, "40.el9", 7},
      {1003, 4, 1, epoch, 4},
      {1014, 6, 1, "zlib and Boost", 15},
      {1022, 6, 1, "x86_64", 7},
      {1044, 6, 1, "zlib-1.2.11-40.el9.src.rpm", 27},
      {1116, 4, 2, idx, 8},
      {1117, 8, 2, bases, sizeof bases},
      {1118, 8, 2, dirs, sizeof dirs},
  };
  size_t n = sizeof e / sizeof e[0], il = n + 1;
  ld_buf data = {0};
  unsigned char *ents = calloc(il, 16);
  for (size_t i = 0; i < n; i++) {
    while (e[i].type == 4 && data.len % 4) ld_buf_append(&data, "", 1);
    put32(ents + 16 * (i + 1), e[i].tag);
    put32(ents + 16 * (i + 1) + 4, e[i].type);
    put32(ents + 16 * (i + 1) + 8, (uint32_t) data.len);
    put32(ents + 16 * (i + 1) + 12, e[i].count);
    ld_buf_append(&data, e[i].data, e[i].len);
  }
  unsigned char trailer[16];
  put32(trailer, 63), put32(trailer + 4, 7), put32(trailer + 8, (uint32_t) -(int32_t) (il * 16)), put32(trailer + 12, 16);
  put32(ents, 63), put32(ents + 4, 7), put32(ents + 8, (uint32_t) data.len), put32(ents + 12, 16);
  ld_buf_append(&data, trailer, 16);
  size_t len = 8 + il * 16 + data.len;
  unsigned char *blob = malloc(len);
  put32(blob, (uint32_t) il), put32(blob + 4, (uint32_t) data.len);
  memcpy(blob + 8, ents, il * 16);
  memcpy(blob + 8 + il * 16, data.data, data.len);
  free(ents);
  ld_buf_free(&data);
  *out_len = len;
  return blob;
}

static void check_zlib(const ld_package *p) {
  assert_string_equal(p->type, "rpm");
  assert_string_equal(p->name, "zlib");
  assert_string_equal(p->version, "1.2.11-40.el9");
  assert_int_equal(p->epoch, 1);
  assert_string_equal(p->arch, "x86_64");
  assert_string_equal(p->src_name, "zlib");
  assert_string_equal(p->src_version, "1.2.11-40.el9");
  assert_string_equal(p->license, "zlib and Boost");
}

static void test_header(void **state) {
  size_t len;
  unsigned char *blob = build_header(&len);
  ld_package p;
  ld_strlist files = {0};
  assert_int_equal(ld_rpm_header_parse(blob, len, "rpmdb", &p, &files, NULL), 0);
  check_zlib(&p);
  assert_int_equal(files.n, 2);
  assert_string_equal(files.v[0], "usr/lib64/libz.so.1");
  assert_string_equal(files.v[1], "etc/zlib.conf");
  ld_package_clear(&p);
  ld_strlist_clear(&files);

  /* every truncation fails cleanly */
  for (size_t cut = 0; cut < len; cut += 7) {
    ld_error *err = NULL;
    int r = ld_rpm_header_parse(blob, cut, "rpmdb", &p, NULL, &err);
    assert_int_equal(r, -1);
    assert_non_null(strstr(err->msg, "rpmdb"));
    ld_error_free(err);
  }
  /* an entry offset past the data */
  unsigned char *bad = malloc(len);
  memcpy(bad, blob, len);
  put32(bad + 8 + 16 + 8, 0xfffffff0u);
  ld_error *err = NULL;
  assert_int_equal(ld_rpm_header_parse(bad, len, "rpmdb", &p, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "points past the data"));
  ld_error_clear(&err);
  /* a broken region trailer */
  memcpy(bad, blob, len);
  put32(bad + len - 8, 12345);
  assert_int_equal(ld_rpm_header_parse(bad, len, "rpmdb", &p, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "region trailer"));
  ld_error_clear(&err);
  /* an absurd entry count */
  memcpy(bad, blob, len);
  put32(bad, 0x7fffffff);
  assert_int_equal(ld_rpm_header_parse(bad, len, "rpmdb", &p, NULL, &err), -1);
  ld_error_clear(&err);
  /* a string without its NUL at the end of the data: no name -> error, no overread */
  free(bad);
  free(blob);
}

static void test_sqlite(void **state) {
  char dir[] = "/tmp/lading-rpmdb-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char *file = ld_xasprintf("%s/rpmdb.sqlite", dir);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(file, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)", NULL, NULL, NULL), SQLITE_OK);
  size_t len;
  unsigned char *blob = build_header(&len);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "INSERT INTO Packages(blob) VALUES (?)", -1, &st, NULL);
  sqlite3_bind_blob(st, 1, blob, (int) len, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
  ld_pkglist l = {0};
  ld_strlist files = {0};
  assert_int_equal(ld_rpmdb_sqlite_read(file, "var/lib/rpm/rpmdb.sqlite", &l, &files, NULL), 0);
  assert_int_equal(l.n, 1);
  check_zlib(&l.v[0]);
  assert_int_equal(files.n, 2);
  ld_pkglist_clear(&l);
  ld_strlist_clear(&files);
  /* no -wal / -shm files appear beside it */
  char *wal = ld_xasprintf("%s-wal", file), *shm = ld_xasprintf("%s-shm", file);
  assert_int_not_equal(access(wal, F_OK), 0);
  assert_int_not_equal(access(shm, F_OK), 0);
  /* not an rpm database */
  FILE *f = fopen(file, "w");
  fputs("hello", f);
  fclose(f);
  ld_error *err = NULL;
  assert_int_equal(ld_rpmdb_sqlite_read(file, "var/lib/rpm/rpmdb.sqlite", &l, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "var/lib/rpm/rpmdb.sqlite"));
  ld_error_free(err);
  unlink(file);
  rmdir(dir);
  free(file), free(wal), free(shm), free(blob);
}

/* A minimal Berkeley DB hash file, little-endian, 512-byte pages:
 *   page 0 hash meta (magic 0x061561, pagesize, last_pgno 4)
 *   page 1 P_HASH with two pairs: key 0 -> 4-byte counter (skipped), key 1 -> H_OFFPAGE
 *   pages 2, 3 P_OVERFLOW chain holding the header blob
 *   page 4 P_HASH_UNSORTED, empty */
#define PS 512
static unsigned char *build_bdb(size_t *out_len, const unsigned char *blob, size_t blen) {
  size_t npages = 5;
  unsigned char *f = calloc(npages, PS);
  le32(f + 8, 0), le32(f + 12, 0x061561), le32(f + 16, 9), le32(f + 20, PS);
  f[25] = 8; /* P_HASHMETA */
  le32(f + 32, (uint32_t) npages - 1);
  unsigned char *pg = f + PS;
  le32(pg + 8, 1);
  pg[25] = 13; /* P_HASH */
  le16(pg + 20, 4);
  /* items from the end of the page downwards: key0, val0, key1, val1 */
  uint16_t off = PS;
  unsigned char k0[5] = {1, 0, 0, 0, 0}, v0[5] = {1, 9, 0, 0, 0};
  unsigned char k1[5] = {1, 1, 0, 0, 0}, v1[12] = {3, 0, 0, 0};
  le32(v1 + 4, 2), le32(v1 + 8, (uint32_t) blen);
  const unsigned char *items[] = {k0, v0, k1, v1};
  size_t sizes[] = {5, 5, 5, 12};
  for (int i = 0; i < 4; i++) {
    off = (uint16_t) (off - sizes[i]);
    memcpy(pg + off, items[i], sizes[i]);
    le16(pg + 26 + 2 * i, off);
  }
  size_t first = PS - 26 < blen ? PS - 26 : blen;
  for (int p = 2; p <= 3; p++) {
    unsigned char *o = f + (size_t) p * PS;
    size_t take = p == 2 ? first : blen - first;
    le32(o + 8, (uint32_t) p);
    o[25] = 7;
    le32(o + 16, p == 2 ? 3 : 0);
    le16(o + 22, (uint16_t) take);
    memcpy(o + 26, blob + (p == 2 ? 0 : first), take);
  }
  unsigned char *p4 = f + 4 * PS;
  le32(p4 + 8, 4);
  p4[25] = 2;
  *out_len = npages * PS;
  return f;
}

static void test_bdb(void **state) {
  size_t blen, flen;
  unsigned char *blob = build_header(&blen);
  assert_true(blen > PS - 26); /* the value really spans two overflow pages */
  assert_true(blen < 2 * (PS - 26));
  unsigned char *f = build_bdb(&flen, blob, blen);
  ld_pkglist l = {0};
  ld_strlist files = {0};
  assert_int_equal(ld_rpmdb_bdb_parse(f, flen, "var/lib/rpm/Packages", &l, &files, NULL), 0);
  assert_int_equal(l.n, 1);
  check_zlib(&l.v[0]);
  assert_int_equal(files.n, 2);
  ld_pkglist_clear(&l);
  ld_strlist_clear(&files);

  ld_error *err = NULL;
  /* broken overflow chain: page 2 points to page 9 (past the end) */
  unsigned char *bad = malloc(flen);
  memcpy(bad, f, flen);
  le32(bad + 2 * PS + 16, 9);
  assert_int_equal(ld_rpmdb_bdb_parse(bad, flen, "var/lib/rpm/Packages", &l, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "overflow chain"));
  ld_error_clear(&err);
  ld_pkglist_clear(&l);
  /* an item offset pointing into the page header */
  memcpy(bad, f, flen);
  le16(bad + PS + 26, 3);
  assert_int_equal(ld_rpmdb_bdb_parse(bad, flen, "var/lib/rpm/Packages", &l, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "out of bounds"));
  ld_error_clear(&err);
  ld_pkglist_clear(&l);
  /* a loop in the overflow chain (3 -> 2) with a length that never completes */
  memcpy(bad, f, flen);
  le32(bad + 3 * PS + 16, 2);
  le32(bad + PS + PS - 17 - 12 + 8 + 0, 0); /* harmless */
  {
    unsigned char *v1 = NULL;
    for (int i = 0; i < 4; i++) {
      uint16_t o = (uint16_t) (bad[PS + 26 + 2 * i] | bad[PS + 26 + 2 * i + 1] << 8);
      if (bad[PS + o] == 3) v1 = bad + PS + o;
    }
    assert_non_null(v1);
    le32(v1 + 8, 100000);
  }
  assert_int_equal(ld_rpmdb_bdb_parse(bad, flen, "var/lib/rpm/Packages", &l, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "overflow chain breaks"));
  ld_error_clear(&err);
  ld_pkglist_clear(&l);
  /* the off-page item's first page: out of range, then a page that is not an overflow page */
  {
    unsigned char *v1 = NULL;
    for (int round = 0; round < 2; round++) {
      memcpy(bad, f, flen);
      for (int i = 0; i < 4; i++) {
        uint16_t o = (uint16_t) (bad[PS + 26 + 2 * i] | bad[PS + 26 + 2 * i + 1] << 8);
        if (bad[PS + o] == 3) v1 = bad + PS + o;
      }
      assert_non_null(v1);
      le32(v1 + 4, round == 0 ? 70000 : 4);
      assert_int_equal(ld_rpmdb_bdb_parse(bad, flen, "var/lib/rpm/Packages", &l, NULL, &err), -1);
      assert_non_null(strstr(err->msg, round == 0 ? "breaks at page 70000" : "page 4 is not a valid overflow page"));
      ld_error_clear(&err);
      ld_pkglist_clear(&l);
    }
  }
  /* an overflow page claiming more bytes than a page holds */
  memcpy(bad, f, flen);
  le16(bad + 2 * PS + 22, PS);
  assert_int_equal(ld_rpmdb_bdb_parse(bad, flen, "var/lib/rpm/Packages", &l, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "page 2 is not a valid overflow page"));
  ld_error_clear(&err);
  ld_pkglist_clear(&l);
  /* the metadata claims 1000 pages: only those in the file are read */
  memcpy(bad, f, flen);
  le32(bad + 32, 1000);
  assert_int_equal(ld_rpmdb_bdb_parse(bad, flen, "var/lib/rpm/Packages", &l, NULL, &err), 0);
  assert_int_equal(l.n, 1);
  ld_pkglist_clear(&l);
  /* not a hash db */
  memcpy(bad, f, flen);
  le32(bad + 12, 0x053162);
  assert_int_equal(ld_rpmdb_bdb_parse(bad, flen, "var/lib/rpm/Packages", &l, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "not a Berkeley DB hash"));
  ld_error_clear(&err);
  /* truncated */
  assert_int_equal(ld_rpmdb_bdb_parse(f, 100, "var/lib/rpm/Packages", &l, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "too short"));
  ld_error_clear(&err);
  /* truncated to three pages: the overflow chain points past the end */
  assert_int_equal(ld_rpmdb_bdb_parse(f, 3 * PS, "var/lib/rpm/Packages", &l, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "overflow chain breaks at page 3"));
  ld_error_clear(&err);
  /* truncated in the middle of a page: only whole pages count */
  assert_int_equal(ld_rpmdb_bdb_parse(f, 3 * PS + 100, "var/lib/rpm/Packages", &l, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "overflow chain breaks at page 3"));
  ld_error_clear(&err);
  ld_pkglist_clear(&l);
  free(bad), free(f), free(blob);
}

/* Random byte flips in the header and in the BDB file: every result is either a clean parse or
 * a clean error, never an out-of-bounds read (this test matters under ASan). Fixed seed. */
static void test_mutations(void **state) {
  size_t blen, flen;
  unsigned char *blob = build_header(&blen);
  unsigned char *f = build_bdb(&flen, blob, blen);
  unsigned char *m = malloc(flen > blen ? flen : blen);
  unsigned int seed = 12345;
  for (int round = 0; round < 3000; round++) {
    bool bdb = round % 2;
    size_t len = bdb ? flen : blen;
    memcpy(m, bdb ? f : blob, len);
    int flips = 1 + rand_r(&seed) % 4;
    for (int k = 0; k < flips; k++) {
      size_t pos = (size_t) rand_r(&seed) % (bdb ? len : (len < 200 ? len : 200)); /* headers: hit the index */
      m[pos] = (unsigned char) rand_r(&seed);
    }
    ld_error *err = NULL;
    if (bdb) {
      ld_pkglist l = {0};
      ld_strlist files = {0};
      (void) ld_rpmdb_bdb_parse(m, len, "Packages", &l, &files, &err);
      ld_pkglist_clear(&l);
      ld_strlist_clear(&files);
    } else {
      ld_package p;
      ld_strlist files = {0};
      if (ld_rpm_header_parse(m, len, "blob", &p, &files, &err) == 0) ld_package_clear(&p);
      ld_strlist_clear(&files);
    }
    ld_error_free(err);
  }
  free(m), free(f), free(blob);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_header),
      cmocka_unit_test(test_sqlite),
      cmocka_unit_test(test_bdb),
      cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
