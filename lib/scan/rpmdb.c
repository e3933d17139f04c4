/* The rpm database: header blobs, and the two containers they live in.
 *
 * A header blob (rpm's on-disk header without the 8-byte magic) is
 *     be32 il, be32 dl, il x {be32 tag, type, offset, count}, dl bytes of data.
 * Installed headers start with a region entry (HEADERIMMUTABLE, 63) whose data is a 16-byte
 * trailer at `offset` saying how many entries the signed region covers (offset = -16 * ril).
 * Every read below is bounds-checked against dl: a database inside an image is untrusted input.
 *
 * Containers:
 *   rpmdb.sqlite (RHEL/UBI 9, Fedora): table Packages(hnum, blob). Opened with
 *     "file:PATH?immutable=1" read-only so SQLite never writes -wal/-shm beside it.
 *   Packages, Berkeley DB hash (RHEL/UBI 8 and older). We do not walk buckets: every hash page
 *     (P_HASH_UNSORTED 2, P_HASH 13) holds key/data item pairs; a data item is either inline
 *     (H_KEYDATA) or a pointer (H_OFFPAGE: pgno, total length) to a chain of overflow pages
 *     (P_OVERFLOW 7, hf_offset = bytes used, next_pgno chains). Headers are large, so almost
 *     all live in overflow chains. Written from the Berkeley DB file format documentation (db
 *     4.x/5.x dbmeta.h / db_page.h layouts). Tested on real files written by Berkeley DB's
 *     db5.3_load (4 KB and 512-byte pages, many buckets, bucket overflow pages, big-endian)
 *     against what Debian's rpm (bdb_ro) reads from them (tests/e2e/t6006-scan-rpm-bdb.sh), and
 *     corrupted field by field in a hand-built file (tests/unit/scan/test_rpmdb.c). Headers
 *     read before a broken page stay in the result, next to the error.
 */
#include <stdint.h>
#include <string.h>
#include <sqlite3.h>
#include "lading/scan.h"
#include "lading/util.h"

enum {
  RPMTAG_HEADERIMAGE = 61,
  RPMTAG_HEADERSIGNATURES = 62,
  RPMTAG_HEADERIMMUTABLE = 63,
  RPMTAG_NAME = 1000,
  RPMTAG_VERSION = 1001,
  RPMTAG_RELEASE = 1002,
  RPMTAG_EPOCH = 1003,
  RPMTAG_LICENSE = 1014,
  RPMTAG_ARCH = 1022,
  RPMTAG_SOURCERPM = 1044,
  RPMTAG_DIRINDEXES = 1116,
  RPMTAG_BASENAMES = 1117,
  RPMTAG_DIRNAMES = 1118,
};
enum { RPM_INT32 = 4, RPM_STRING = 6, RPM_BIN = 7, RPM_STRING_ARRAY = 8, RPM_I18NSTRING = 9 };

#define RPM_MAX_ENTRIES 65536u
#define RPM_MAX_DATA (256u << 20)

static uint32_t be32(const unsigned char *p) {
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

typedef struct {
  uint32_t tag, type, offset, count;
} rpm_entry;

typedef struct {
  const unsigned char *entries, *data;
  uint32_t il, dl;
  const char *path;
} rpm_header;

static rpm_entry rpm_entry_at(const rpm_header *h, uint32_t i) {
  const unsigned char *e = h->entries + 16u * i;
  return (rpm_entry){be32(e), be32(e + 4), be32(e + 8), be32(e + 12)};
}

static bool rpm_find(const rpm_header *h, uint32_t tag, rpm_entry *out) {
  for (uint32_t i = 0; i < h->il; i++) {
    rpm_entry e = rpm_entry_at(h, i);
    if (e.tag == tag) {
      *out = e;
      return true;
    }
  }
  return false;
}

/* The n-th string of a STRING / STRING_ARRAY / I18NSTRING entry, or NULL if out of bounds. */
static const char *rpm_string_n(const rpm_header *h, const rpm_entry *e, uint32_t n) {
  if (e->type != RPM_STRING && e->type != RPM_STRING_ARRAY && e->type != RPM_I18NSTRING) return NULL;
  if (n >= e->count || e->offset >= h->dl) return NULL;
  uint32_t off = e->offset;
  for (uint32_t i = 0;; i++) {
    const unsigned char *s = h->data + off;
    const unsigned char *nul = memchr(s, 0, h->dl - off);
    if (!nul) return NULL;
    if (i == n) return (const char *) s;
    off += (uint32_t) (nul - s) + 1;
    if (off >= h->dl) return NULL;
  }
}

static char *rpm_string(const rpm_header *h, uint32_t tag) {
  rpm_entry e;
  if (!rpm_find(h, tag, &e)) return NULL;
  const char *s = rpm_string_n(h, &e, 0);
  return s ? ld_xstrdup(s) : NULL;
}

static bool rpm_int32(const rpm_header *h, uint32_t tag, uint32_t idx, uint32_t *out) {
  rpm_entry e;
  if (!rpm_find(h, tag, &e) || e.type != RPM_INT32 || idx >= e.count) return false;
  uint64_t off = (uint64_t) e.offset + 4u * (uint64_t) idx;
  if (off + 4 > h->dl) return false;
  *out = be32(h->data + off);
  return true;
}

static int rpm_check_region(const rpm_header *h, ld_error **err) {
  rpm_entry e = rpm_entry_at(h, 0);
  if (e.tag != RPMTAG_HEADERIMMUTABLE && e.tag != RPMTAG_HEADERIMAGE &&
      e.tag != RPMTAG_HEADERSIGNATURES)
    return 0; /* a header without a region (legacy): nothing to check */
  if (e.type != RPM_BIN || e.count != 16)
    return ld_err(err, LD_EFORMAT, "%s: rpm header region tag %u has type %u count %u", h->path,
                  e.tag, e.type, e.count);
  if ((uint64_t) e.offset + 16 > h->dl)
    return ld_err(err, LD_EFORMAT, "%s: rpm header region trailer at %u is past the data (%u bytes)",
                  h->path, e.offset, h->dl);
  const unsigned char *t = h->data + e.offset;
  uint32_t ttag = be32(t), ttype = be32(t + 4);
  int32_t toff = (int32_t) be32(t + 8);
  if (ttag != e.tag || ttype != RPM_BIN || toff >= 0 || (-(int64_t) toff) % 16 ||
      (uint64_t) (-(int64_t) toff) / 16 > h->il)
    return ld_err(err, LD_EFORMAT, "%s: rpm header region trailer is invalid (tag %u offset %d)",
                  h->path, ttag, toff);
  return 0;
}

/* "glibc-2.34-60.el9.src.rpm" -> name "glibc", version "2.34-60.el9". */
static void rpm_source(const char *srpm, ld_package *p) {
  char *s = ld_xstrdup(srpm);
  if (ld_str_has_suffix(s, ".src.rpm")) s[strlen(s) - 8] = 0;
  else if (ld_str_has_suffix(s, ".nosrc.rpm")) s[strlen(s) - 10] = 0;
  char *rel = strrchr(s, '-');
  char *ver = NULL;
  if (rel) {
    *rel = 0;
    ver = strrchr(s, '-');
    *rel = '-';
  }
  if (ver) {
    p->src_name = ld_xstrndup(s, (size_t) (ver - s));
    p->src_version = ld_xstrdup(ver + 1);
  }
  free(s);
}

static void rpm_files(const rpm_header *h, ld_strlist *files) {
  rpm_entry base, dirs, idx;
  if (!rpm_find(h, RPMTAG_BASENAMES, &base) || !rpm_find(h, RPMTAG_DIRNAMES, &dirs) ||
      !rpm_find(h, RPMTAG_DIRINDEXES, &idx))
    return;
  if (idx.type != RPM_INT32 || idx.count != base.count) return;
  /* walk the basenames sequentially (rpm_string_n from 0 each time would be quadratic) */
  uint32_t off = base.offset;
  for (uint32_t i = 0; i < base.count && off < h->dl; i++) {
    const char *b = (const char *) h->data + off;
    const unsigned char *nul = memchr(b, 0, h->dl - off);
    if (!nul) return;
    off += (uint32_t) ((const char *) nul - b) + 1;
    uint32_t di;
    if (!rpm_int32(h, RPMTAG_DIRINDEXES, i, &di)) return;
    const char *d = rpm_string_n(h, &dirs, di);
    if (!d) return;
    char *f = ld_xasprintf("%s%s", d, b);
    ld_strlist_add(files, f[0] == '/' ? f + 1 : f);
    free(f);
  }
}

int ld_rpm_header_parse(const unsigned char *blob, size_t len, const char *path, ld_package *out,
                        ld_strlist *files, ld_error **err) {
  memset(out, 0, sizeof *out);
  out->layer = -1;
  if (len < 8) return ld_err(err, LD_EFORMAT, "%s: rpm header of %zu bytes is truncated", path, len);
  rpm_header h = {.il = be32(blob), .dl = be32(blob + 4), .path = path};
  if (h.il == 0 || h.il > RPM_MAX_ENTRIES || h.dl > RPM_MAX_DATA)
    return ld_err(err, LD_EFORMAT, "%s: rpm header claims %u entries and %u data bytes", path,
                  h.il, h.dl);
  uint64_t need = 8 + 16ull * h.il + h.dl;
  if (need > len)
    return ld_err(err, LD_EFORMAT, "%s: rpm header needs %llu bytes, blob has %zu", path,
                  (unsigned long long) need, len);
  h.entries = blob + 8;
  h.data = blob + 8 + 16ull * h.il;
  for (uint32_t i = 0; i < h.il; i++) {
    rpm_entry e = rpm_entry_at(&h, i);
    if (e.offset >= h.dl && !(e.offset == h.dl && e.count == 0))
      return ld_err(err, LD_EFORMAT, "%s: rpm header entry %u (tag %u) points past the data", path,
                    i, e.tag);
  }
  if (rpm_check_region(&h, err) < 0) return -1;
  char *name = rpm_string(&h, RPMTAG_NAME), *ver = rpm_string(&h, RPMTAG_VERSION);
  char *rel = rpm_string(&h, RPMTAG_RELEASE);
  if (!name || !ver) {
    free(name), free(ver), free(rel);
    return ld_err(err, LD_EFORMAT, "%s: rpm header has no name or version", path);
  }
  out->type = ld_xstrdup("rpm");
  out->name = name;
  out->version = rel ? ld_xasprintf("%s-%s", ver, rel) : ld_xstrdup(ver);
  free(ver), free(rel);
  uint32_t epoch;
  if (rpm_int32(&h, RPMTAG_EPOCH, 0, &epoch)) out->epoch = (int) epoch;
  out->arch = rpm_string(&h, RPMTAG_ARCH);
  out->license = rpm_string(&h, RPMTAG_LICENSE);
  char *srpm = rpm_string(&h, RPMTAG_SOURCERPM);
  if (srpm) rpm_source(srpm, out);
  free(srpm);
  if (!out->src_name) out->src_name = ld_xstrdup(out->name);
  if (!out->src_version) out->src_version = ld_xstrdup(out->version);
  out->path = ld_xstrdup(path);
  if (files) rpm_files(&h, files);
  return 0;
}

/* Adds a parsed header to out unless it is a gpg-pubkey pseudo-package. */
static int rpm_add_blob(const unsigned char *blob, size_t len, const char *path, ld_pkglist *out,
                        ld_strlist *files, ld_error **err) {
  ld_package p;
  ld_strlist f = {0};
  if (ld_rpm_header_parse(blob, len, path, &p, files ? &f : NULL, err) < 0) return -1;
  if (!strcmp(p.name, "gpg-pubkey")) {
    ld_package_clear(&p);
    ld_strlist_clear(&f);
    return 0;
  }
  *ld_pkglist_add(out) = p;
  for (size_t i = 0; i < f.n; i++) ld_strlist_add(files, f.v[i]);
  ld_strlist_clear(&f);
  return 0;
}

/* ---- rpmdb.sqlite ------------------------------------------------------------------------ */

static char *sqlite_uri(const char *file) {
  ld_buf b = {0};
  ld_buf_puts(&b, "file:");
  for (const char *p = file; *p; p++) {
    if (*p == '?' || *p == '#' || *p == '%') ld_buf_printf(&b, "%%%02X", (unsigned char) *p);
    else ld_buf_append(&b, p, 1);
  }
  ld_buf_puts(&b, "?immutable=1&mode=ro");
  return ld_buf_steal(&b);
}

int ld_rpmdb_sqlite_read(const char *file, const char *path, ld_pkglist *out, ld_strlist *files,
                         ld_error **err) {
  sqlite3 *db = NULL;
  char *uri = sqlite_uri(file);
  int rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
  free(uri);
  if (rc != SQLITE_OK) {
    ld_err(err, LD_EFORMAT, "%s: cannot open rpm sqlite database: %s", path,
           db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return -1;
  }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT blob FROM Packages", -1, &st, NULL) != SQLITE_OK) {
    ld_err(err, LD_EFORMAT, "%s: not an rpm database: %s", path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return -1;
  }
  int r = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const void *blob = sqlite3_column_blob(st, 0);
    int n = sqlite3_column_bytes(st, 0);
    if (!blob || n <= 0) continue;
    if (rpm_add_blob(blob, (size_t) n, path, out, files, err) < 0) {
      r = -1;
      break;
    }
  }
  if (r == 0 && rc != SQLITE_DONE)
    r = ld_err(err, LD_EFORMAT, "%s: reading rpm database: %s", path, sqlite3_errmsg(db));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return r;
}

/* ---- Berkeley DB hash -------------------------------------------------------------------- */

enum {
  BDB_HASH_MAGIC = 0x061561,
  BDB_P_HASH_UNSORTED = 2,
  BDB_P_OVERFLOW = 7,
  BDB_P_HASH = 13,
  BDB_H_KEYDATA = 1,
  BDB_H_OFFPAGE = 3,
  BDB_PAGE_HEADER = 26,
};

typedef struct {
  const unsigned char *buf;
  size_t len;
  uint32_t pagesize, npages;
  bool swap; /* file written on a big-endian machine */
  const char *path;
} bdb;

static uint32_t bdb_u32(const bdb *d, const unsigned char *p) {
  return d->swap ? be32(p) : (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}
static uint16_t bdb_u16(const bdb *d, const unsigned char *p) {
  return d->swap ? (uint16_t) (p[0] << 8 | p[1]) : (uint16_t) (p[0] | p[1] << 8);
}

static const unsigned char *bdb_page(const bdb *d, uint32_t pgno) {
  return d->buf + (size_t) pgno * d->pagesize;
}

/* Reassembles an overflow chain of total length tlen. */
static int bdb_overflow(const bdb *d, uint32_t pgno, uint32_t tlen, unsigned char **out,
                        ld_error **err) {
  if (tlen > RPM_MAX_DATA + 8 + 16 * RPM_MAX_ENTRIES)
    return ld_err(err, LD_EFORMAT, "%s: overflow item of %u bytes is too large", d->path, tlen);
  unsigned char *buf = ld_xmalloc(tlen ? tlen : 1);
  uint32_t got = 0, hops = 0;
  while (got < tlen) {
    if (pgno == 0 || pgno >= d->npages || ++hops > d->npages) {
      free(buf);
      return ld_err(err, LD_EFORMAT, "%s: overflow chain breaks at page %u (%u of %u bytes)",
                    d->path, pgno, got, tlen);
    }
    const unsigned char *pg = bdb_page(d, pgno);
    uint16_t used = bdb_u16(d, pg + 22);
    if (pg[25] != BDB_P_OVERFLOW || BDB_PAGE_HEADER + (uint32_t) used > d->pagesize) {
      free(buf);
      return ld_err(err, LD_EFORMAT, "%s: page %u is not a valid overflow page", d->path, pgno);
    }
    uint32_t take = used < tlen - got ? used : tlen - got;
    memcpy(buf + got, pg + BDB_PAGE_HEADER, take);
    got += take;
    pgno = bdb_u32(d, pg + 16);
  }
  *out = buf;
  return 0;
}

/* Item i of a hash page: its bytes [*start, *start + *len). */
static bool bdb_item(const bdb *d, const unsigned char *pg, uint16_t n, uint16_t i,
                     const unsigned char **start, uint32_t *len) {
  if ((uint32_t) BDB_PAGE_HEADER + 2u * n > d->pagesize) return false;
  uint16_t off = bdb_u16(d, pg + BDB_PAGE_HEADER + 2 * i);
  uint32_t end = i == 0 ? d->pagesize : bdb_u16(d, pg + BDB_PAGE_HEADER + 2 * (i - 1));
  if (off < BDB_PAGE_HEADER + 2u * n || off >= end || end > d->pagesize) return false;
  *start = pg + off;
  *len = end - off;
  return true;
}

static int bdb_hash_page(const bdb *d, uint32_t pgno, ld_pkglist *out, ld_strlist *files,
                         ld_error **err) {
  const unsigned char *pg = bdb_page(d, pgno);
  uint16_t n = bdb_u16(d, pg + 20);
  for (uint16_t i = 0; i + 1 < n; i += 2) {
    const unsigned char *key, *val;
    uint32_t klen, vlen;
    if (!bdb_item(d, pg, n, i, &key, &klen) || !bdb_item(d, pg, n, i + 1, &val, &vlen))
      return ld_err(err, LD_EFORMAT, "%s: hash page %u: item %u is out of bounds", d->path, pgno, i);
    /* key 0 holds rpm's instance counter, not a header */
    if (key[0] == BDB_H_KEYDATA && klen == 5 && !memcmp(key + 1, "\0\0\0\0", 4)) continue;
    if (val[0] == BDB_H_KEYDATA) {
      if (vlen > 9 && rpm_add_blob(val + 1, vlen - 1, d->path, out, files, err) < 0) return -1;
    } else if (val[0] == BDB_H_OFFPAGE) {
      if (vlen < 12)
        return ld_err(err, LD_EFORMAT, "%s: hash page %u: short off-page item", d->path, pgno);
      unsigned char *blob = NULL;
      uint32_t tlen = bdb_u32(d, val + 8);
      if (bdb_overflow(d, bdb_u32(d, val + 4), tlen, &blob, err) < 0) return -1;
      int r = rpm_add_blob(blob, tlen, d->path, out, files, err);
      free(blob);
      if (r < 0) return -1;
    }
    /* H_DUPLICATE / H_OFFDUP never hold rpm headers */
  }
  return 0;
}

int ld_rpmdb_bdb_parse(const unsigned char *buf, size_t len, const char *path, ld_pkglist *out,
                       ld_strlist *files, ld_error **err) {
  if (len < 512) return ld_err(err, LD_EFORMAT, "%s: %zu bytes is too short for a Berkeley DB", path, len);
  bdb d = {.buf = buf, .len = len, .path = path};
  uint32_t le_magic = (uint32_t) buf[12] | (uint32_t) buf[13] << 8 | (uint32_t) buf[14] << 16 | (uint32_t) buf[15] << 24;
  if (le_magic == BDB_HASH_MAGIC) d.swap = false;
  else if (be32(buf + 12) == BDB_HASH_MAGIC) d.swap = true;
  else return ld_err(err, LD_EFORMAT, "%s: not a Berkeley DB hash database (magic %08x)", path, le_magic);
  d.pagesize = bdb_u32(&d, buf + 20);
  if (d.pagesize < 512 || d.pagesize > 65536 || (d.pagesize & (d.pagesize - 1)))
    return ld_err(err, LD_EFORMAT, "%s: invalid Berkeley DB page size %u", path, d.pagesize);
  if (buf[24] != 0)
    return ld_err(err, LD_EUNSUPPORTED, "%s: encrypted Berkeley DB is not supported", path);
  uint32_t last = bdb_u32(&d, buf + 32);
  size_t have = len / d.pagesize;
  d.npages = (uint32_t) ((size_t) last + 1 < have ? (size_t) last + 1 : have);
  for (uint32_t pg = 1; pg < d.npages; pg++) {
    uint8_t type = bdb_page(&d, pg)[25];
    if (type != BDB_P_HASH && type != BDB_P_HASH_UNSORTED) continue;
    if (bdb_hash_page(&d, pg, out, files, err) < 0) return -1;
  }
  return 0;
}
