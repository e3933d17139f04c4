/* Text package databases: dpkg (status, status.d, info/PKG.md5sums) and apk (lib/apk/db/installed),
 * plus the path classifier that decides which files of a layer the catalogers need at all.
 *
 * All parsers are pure functions over bytes: the image walker (image.c) hands them a file's
 * contents, they hand back ld_package records. dpkg stanzas are RFC 822-like with continuation
 * lines; only "Package", "Status", "Version", "Architecture", "Source" and "License" matter.
 * A package counts as installed when its Status is "<want> <flag> installed" and want is not
 * deinstall or purge; status.d files (distroless) carry no Status and count as installed.
 */
#include <ctype.h>
#include <string.h>
#include "lading/scan.h"
#include "lading/util.h"
#include "scan/scan_priv.h"

/* ---- path classifier --------------------------------------------------------------------- */

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

static bool dir_is(const char *path, const char *dir_suffix) {
  /* the directory of path ends with dir_suffix (a whole component sequence) */
  const char *b = base_name(path);
  size_t dlen = (size_t) (b - path);
  if (!dlen) return false;
  dlen--; /* drop the '/' */
  size_t n = strlen(dir_suffix);
  if (dlen < n || memcmp(path + dlen - n, dir_suffix, n)) return false;
  return dlen == n || path[dlen - n - 1] == '/';
}

ld_cat_kind ld_cat_classify(const char *path) {
  const char *b = base_name(path);
  if (!strcmp(path, "etc/os-release") || !strcmp(path, "usr/lib/os-release") ||
      !strcmp(path, "etc/debian_version") || !strcmp(path, "etc/alpine-release") ||
      !strcmp(path, "etc/apk/repositories") || !strcmp(path, "etc/redhat-release") ||
      !strcmp(path, "etc/centos-release") || !strcmp(path, "etc/lsb-release"))
    return LD_CAT_OS_FILE;
  if (!strcmp(b, "status") && dir_is(path, "var/lib/dpkg")) return LD_CAT_DPKG_STATUS;
  if (dir_is(path, "var/lib/dpkg/status.d") && !strchr(b, '.')) return LD_CAT_DPKG_STATUS;
  if (dir_is(path, "var/lib/dpkg/info") && ld_str_has_suffix(b, ".md5sums")) return LD_CAT_DPKG_FILES;
  if (!strcmp(b, "installed") && dir_is(path, "lib/apk/db")) return LD_CAT_APK;
  if (!strcmp(b, "rpmdb.sqlite") && (dir_is(path, "var/lib/rpm") || dir_is(path, "usr/lib/sysimage/rpm")))
    return LD_CAT_RPM_SQLITE;
  if (!strcmp(b, "Packages") && (dir_is(path, "var/lib/rpm") || dir_is(path, "usr/lib/sysimage/rpm")))
    return LD_CAT_RPM_BDB;
  if (ld_str_has_suffix(b, ".jar") || ld_str_has_suffix(b, ".war") || ld_str_has_suffix(b, ".ear") ||
      ld_str_has_suffix(b, ".jpi") || ld_str_has_suffix(b, ".hpi"))
    return LD_CAT_JAVA;
  if (!strcmp(b, "METADATA")) {
    const char *d = path + (b - path) - 1;
    size_t dl = (size_t) (d - path);
    if (dl > 10 && !memcmp(d - 10, ".dist-info", 10)) return LD_CAT_PYTHON;
  }
  if (!strcmp(b, "PKG-INFO")) {
    const char *d = path + (b - path) - 1;
    size_t dl = (size_t) (d - path);
    if (dl > 9 && !memcmp(d - 9, ".egg-info", 9)) return LD_CAT_PYTHON;
  }
  if (ld_str_has_suffix(b, ".egg-info") && strstr(path, "-packages/")) return LD_CAT_PYTHON;
  if (!strcmp(b, "package.json")) {
    /* node_modules/NAME/package.json or node_modules/@scope/NAME/package.json */
    const char *nm = NULL, *s = path;
    while ((s = strstr(s, "node_modules/"))) nm = s, s++;
    if (nm) {
      const char *rest = nm + 13;
      const char *slash = strchr(rest, '/');
      if (slash && rest[0] == '@') slash = strchr(slash + 1, '/');
      if (slash && !strcmp(slash + 1, "package.json")) return LD_CAT_NPM;
    }
  }
  return LD_CAT_NONE;
}

const char *ld_cat_kind_name(ld_cat_kind k) {
  static const char *names[] = {"none", "os", "dpkg", "dpkg-files", "apk", "rpm-sqlite",
                                "rpm-bdb", "java", "python", "npm"};
  return (size_t) k < LD_ARRAY_SIZE(names) ? names[k] : "none";
}

bool ld_cat_is_language_path(const char *path) {
  ld_cat_kind k = ld_cat_classify(path);
  if (k == LD_CAT_JAVA || k == LD_CAT_PYTHON || k == LD_CAT_NPM) return true;
  /* a dist-info or egg-info directory owned as a whole */
  return ld_str_has_suffix(path, ".dist-info") || ld_str_has_suffix(path, ".egg-info");
}

/* ---- stanza reader ----------------------------------------------------------------------- */

typedef struct {
  const char *p, *end;
} cursor;

/* One "Key: value" field (continuation lines kept, joined by '\n'). Returns false at a blank
 * line or the end. */
static bool next_field(cursor *c, const char **key, size_t *klen, ld_buf *val) {
  val->len = 0;
  if (c->p >= c->end || *c->p == '\n') return false;
  const char *nl = memchr(c->p, '\n', (size_t) (c->end - c->p));
  const char *le = nl ? nl : c->end;
  const char *colon = memchr(c->p, ':', (size_t) (le - c->p));
  *key = c->p;
  *klen = colon ? (size_t) (colon - c->p) : 0;
  const char *v = colon ? colon + 1 : le;
  while (v < le && (*v == ' ' || *v == '\t')) v++;
  ld_buf_append(val, v, (size_t) (le - v));
  c->p = nl ? nl + 1 : c->end;
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t')) { /* continuation */
    nl = memchr(c->p, '\n', (size_t) (c->end - c->p));
    le = nl ? nl : c->end;
    ld_buf_append(val, "\n", 1);
    ld_buf_append(val, c->p + 1, (size_t) (le - c->p - 1));
    c->p = nl ? nl + 1 : c->end;
  }
  ld_buf_append(val, "", 0);
  if (val->len) val->len--; /* keep the NUL out of the length */
  while (val->len && isspace((unsigned char) val->data[val->len - 1])) val->data[--val->len] = 0;
  return true;
}

static bool key_is(const char *key, size_t klen, const char *want) {
  return strlen(want) == klen && !strncasecmp(key, want, klen);
}

static void skip_blank(cursor *c) {
  while (c->p < c->end && (*c->p == '\n' || *c->p == '\r')) c->p++;
}

/* ---- dpkg -------------------------------------------------------------------------------- */

static bool dpkg_installed(const char *status) {
  if (!status) return true; /* status.d stanzas have no Status */
  char want[32] = "", flag[32] = "", state[32] = "";
  if (sscanf(status, "%31s %31s %31s", want, flag, state) != 3) return false;
  if (!strcmp(want, "deinstall") || !strcmp(want, "purge")) return false;
  return !strcmp(state, "installed");
}

/* "glibc" or "glibc (2.36-9+deb12u3)". */
static void dpkg_source(const char *s, ld_package *p) {
  size_t n = strcspn(s, " (");
  if (!n) return;
  p->src_name = ld_xstrndup(s, n);
  const char *open = strchr(s, '(');
  const char *close = open ? strchr(open, ')') : NULL;
  if (open && close) {
    const char *v = open + 1;
    while (*v == ' ') v++;
    size_t vl = (size_t) (close - v);
    while (vl && v[vl - 1] == ' ') vl--;
    p->src_version = ld_xstrndup(v, vl);
  }
}

int ld_dpkg_status_parse(const char *buf, size_t len, const char *path, ld_pkglist *out,
                         ld_error **err) {
  cursor c = {buf, buf + len};
  ld_buf val = {0};
  size_t stanza = 0;
  for (;;) {
    skip_blank(&c);
    if (c.p >= c.end) break;
    stanza++;
    char *name = NULL, *version = NULL, *arch = NULL, *status = NULL, *source = NULL;
    const char *key;
    size_t klen;
    while (next_field(&c, &key, &klen, &val)) {
      char **slot = NULL;
      if (key_is(key, klen, "Package")) slot = &name;
      else if (key_is(key, klen, "Version")) slot = &version;
      else if (key_is(key, klen, "Architecture")) slot = &arch;
      else if (key_is(key, klen, "Status")) slot = &status;
      else if (key_is(key, klen, "Source")) slot = &source;
      if (slot) {
        free(*slot);
        *slot = ld_xstrdup(val.data ? val.data : "");
      }
    }
    if (name && version && *name && *version && dpkg_installed(status)) {
      ld_package *p = ld_pkglist_add(out);
      p->type = ld_xstrdup("deb");
      p->name = name, name = NULL;
      p->version = version, version = NULL;
      p->arch = arch, arch = NULL;
      if (source) dpkg_source(source, p);
      if (!p->src_name) p->src_name = ld_xstrdup(p->name);
      if (!p->src_version) p->src_version = ld_xstrdup(p->version);
      p->path = ld_xstrdup(path);
    } else if ((!name || !version) && status == NULL && source == NULL && !arch && !name && !version) {
      /* a stanza without any field we know: tolerate (comments, garbage between stanzas) */
    }
    free(name), free(version), free(arch), free(status), free(source);
  }
  ld_buf_free(&val);
  (void) stanza, (void) err;
  return 0;
}

int ld_dpkg_md5sums_parse(const char *buf, size_t len, ld_strlist *out) {
  const char *p = buf, *end = buf + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t) (end - p));
    const char *le = nl ? nl : end;
    const char *sp = memchr(p, ' ', (size_t) (le - p));
    if (sp) {
      while (sp < le && *sp == ' ') sp++;
      if (sp < le) {
        char *f = ld_xstrndup(sp, (size_t) (le - sp));
        ld_strlist_add(out, f[0] == '/' ? f + 1 : f);
        free(f);
      }
    }
    p = nl ? nl + 1 : end;
  }
  return 0;
}

/* ---- apk --------------------------------------------------------------------------------- */

int ld_apk_installed_parse(const char *buf, size_t len, const char *path, ld_pkglist *out,
                           ld_strlist *files, ld_error **err) {
  const char *p = buf, *end = buf + len;
  ld_package cur = {0};
  char *dir = NULL;
  size_t line_no = 0;
  for (;;) {
    const char *nl = p < end ? memchr(p, '\n', (size_t) (end - p)) : NULL;
    const char *le = nl ? nl : end;
    bool blank = p >= end || le == p;
    line_no++;
    if (blank) {
      if (cur.name && cur.version) {
        ld_package *n = ld_pkglist_add(out);
        *n = cur;
        n->type = ld_xstrdup("apk");
        n->path = ld_xstrdup(path);
        if (!n->src_name) n->src_name = ld_xstrdup(n->name);
        n->src_version = ld_xstrdup(n->version);
        n->layer = -1;
      } else {
        ld_package_clear(&cur);
      }
      memset(&cur, 0, sizeof cur);
      free(dir), dir = NULL;
      if (p >= end) break;
    } else if (le - p >= 2 && p[1] == ':') {
      char *v = ld_xstrndup(p + 2, (size_t) (le - p - 2));
      switch (p[0]) {
      case 'P': free(cur.name), cur.name = v, v = NULL; break;
      case 'V': free(cur.version), cur.version = v, v = NULL; break;
      case 'A': free(cur.arch), cur.arch = v, v = NULL; break;
      case 'o': free(cur.src_name), cur.src_name = v, v = NULL; break;
      case 'L': free(cur.license), cur.license = v, v = NULL; break;
      case 'F': free(dir), dir = v, v = NULL; break;
      case 'R':
        if (files) {
          char *f = dir && *dir ? ld_xasprintf("%s/%s", dir, v) : ld_xstrdup(v);
          ld_strlist_add(files, f);
          free(f);
        }
        break;
      default: break;
      }
      free(v);
    } else {
      ld_package_clear(&cur);
      free(dir);
      return ld_err(err, LD_EFORMAT, "%s: line %zu: not an apk database line", path, line_no);
    }
    p = nl ? nl + 1 : end;
  }
  return 0;
}
