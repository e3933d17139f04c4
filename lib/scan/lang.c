/* Language package catalogers: Java archives, Python core metadata, npm package.json.
 *
 * Java: a .jar/.war/.ear is a zip, read with libarchive. What it is comes, in order of trust,
 * from META-INF/maven/GROUP/ARTIFACT/pom.properties (every one found is a package: shaded jars
 * carry several), else from META-INF/MANIFEST.MF (Implementation-* / Bundle-* / Specification-*
 * headers), else from the file name "artifact-1.2.3.jar". Archives nested inside are read
 * recursively from memory, at most LD_JAVA_MAX_DEPTH deep and LD_JAVA_MAX_NESTED bytes each.
 * Nothing is extracted to disk, and nested entry names with ".." or a leading "/" are skipped,
 * so a hostile zip can neither escape a directory (zip-slip) nor name a path outside the jar.
 */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <string.h>
#include "lading/json.h"
#include "lading/scan.h"
#include "lading/util.h"

#define LD_JAVA_MAX_DEPTH 4
#define LD_JAVA_MAX_NESTED (64u << 20)
#define LD_JAVA_MAX_META (1u << 20)

typedef struct {
  ld_pkglist poms;
  char *mf; /* MANIFEST.MF contents */
} java_found;

static char *read_entry(struct archive *a, la_int64_t size, size_t max) {
  if (size < 0 || (uint64_t) size > max) return NULL;
  char *buf = ld_xmalloc((size_t) size + 1);
  la_ssize_t got = 0;
  while (got < size) {
    la_ssize_t n = archive_read_data(a, buf + got, (size_t) (size - got));
    if (n <= 0) break;
    got += n;
  }
  if (got != size) {
    free(buf);
    return NULL;
  }
  buf[size] = 0;
  return buf;
}

/* key=value lines (Java properties, simplified: no continuation lines). */
static char *prop_get(const char *buf, const char *key) {
  size_t kl = strlen(key);
  for (const char *p = buf; p && *p;) {
    while (*p == ' ' || *p == '\t') p++;
    if (!strncmp(p, key, kl)) {
      const char *q = p + kl;
      while (*q == ' ' || *q == '\t') q++;
      if (*q == '=' || *q == ':') {
        q++;
        while (*q == ' ' || *q == '\t') q++;
        size_t n = strcspn(q, "\r\n");
        while (n && isspace((unsigned char) q[n - 1])) n--;
        return ld_xstrndup(q, n);
      }
    }
    p = strchr(p, '\n');
    if (p) p++;
  }
  return NULL;
}

/* MANIFEST.MF main section header (continuation lines start with one space). */
static char *mf_get(const char *mf, const char *key) {
  size_t kl = strlen(key);
  for (const char *p = mf; p && *p;) {
    if (*p == '\r' || *p == '\n') break; /* end of the main section */
    if (!strncasecmp(p, key, kl) && p[kl] == ':') {
      ld_buf b = {0};
      const char *q = p + kl + 1;
      while (*q == ' ') q++;
      for (;;) {
        size_t n = strcspn(q, "\r\n");
        ld_buf_append(&b, q, n);
        q += n;
        if (*q == '\r') q++;
        if (*q == '\n') q++;
        if (*q != ' ') break;
        q++;
      }
      ld_buf_append(&b, "", 0);
      return ld_buf_steal(&b);
    }
    p = strchr(p, '\n');
    if (p) p++;
  }
  return NULL;
}

static void add_maven(ld_pkglist *out, const char *group, const char *artifact, const char *version,
                      const char *path) {
  ld_package *p = ld_pkglist_add(out);
  p->type = ld_xstrdup("maven");
  p->name = group && *group ? ld_xasprintf("%s:%s", group, artifact) : ld_xstrdup(artifact);
  p->version = ld_xstrdup(version);
  p->path = ld_xstrdup(path);
}

static void java_from_manifest(const char *mf, const char *path, ld_pkglist *out) {
  char *title = mf_get(mf, "Implementation-Title");
  char *version = mf_get(mf, "Implementation-Version");
  char *vendor = mf_get(mf, "Implementation-Vendor-Id");
  if (!version) version = mf_get(mf, "Bundle-Version");
  if (!version) version = mf_get(mf, "Specification-Version");
  if (!title) {
    char *bsn = mf_get(mf, "Bundle-SymbolicName");
    if (bsn) {
      bsn[strcspn(bsn, ";")] = 0;
      char *dot = strrchr(bsn, '.');
      if (dot && !vendor) {
        vendor = ld_xstrndup(bsn, (size_t) (dot - bsn));
        title = ld_xstrdup(dot + 1);
      } else {
        title = ld_xstrdup(bsn);
      }
      free(bsn);
    }
  }
  if (title && version && *title && *version) add_maven(out, vendor, title, version, path);
  free(title), free(version), free(vendor);
}

/* "log4j-core-2.14.1.jar" -> artifact "log4j-core", version "2.14.1". */
static void java_from_filename(const char *path, ld_pkglist *out) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  const char *bang = strrchr(b, '!');
  if (bang) b = bang + 1;
  char *s = ld_xstrdup(b);
  char *dot = strrchr(s, '.');
  if (dot) *dot = 0;
  for (char *p = s; *p; p++)
    if (*p == '-' && isdigit((unsigned char) p[1])) {
      *p = 0;
      if (*s) add_maven(out, NULL, s, p + 1, path);
      break;
    }
  free(s);
}

static bool is_java_archive_name(const char *n) {
  return ld_str_has_suffix(n, ".jar") || ld_str_has_suffix(n, ".war") || ld_str_has_suffix(n, ".ear") ||
         ld_str_has_suffix(n, ".jpi") || ld_str_has_suffix(n, ".hpi");
}

static bool safe_entry_name(const char *n) {
  if (n[0] == '/' || n[0] == '\\') return false;
  for (const char *p = n; *p; p++)
    if (p[0] == '.' && p[1] == '.' && (p == n || p[-1] == '/' || p[-1] == '\\') &&
        (p[2] == 0 || p[2] == '/' || p[2] == '\\'))
      return false;
  return true;
}

static int java_read_archive(struct archive *a, const char *path, int depth, ld_pkglist *out,
                             ld_error **err);
static int java_read_mem(const void *buf, size_t len, const char *path, int depth, ld_pkglist *out,
                         ld_error **err);

static int java_nested(struct archive *a, struct archive_entry *ae, const char *path, int depth,
                       ld_pkglist *out, ld_error **err) {
  const char *name = archive_entry_pathname(ae);
  la_int64_t size = archive_entry_size(ae);
  if (!safe_entry_name(name) || size <= 0 || (uint64_t) size > LD_JAVA_MAX_NESTED) return 0;
  char *buf = read_entry(a, size, LD_JAVA_MAX_NESTED);
  if (!buf) return 0;
  char *inner = ld_xasprintf("%s!%s", path, name);
  ld_error *e = NULL;
  if (java_read_mem(buf, (size_t) size, inner, depth + 1, out, &e) < 0)
    ld_error_free(e); /* a broken inner jar is skipped, the outer one still counts */
  free(inner);
  free(buf);
  (void) err;
  return 0;
}

static int java_read_archive(struct archive *a, const char *path, int depth, ld_pkglist *out,
                             ld_error **err) {
  java_found f = {0};
  struct archive_entry *ae;
  int r;
  while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    const char *name = archive_entry_pathname(ae);
    if (!name) continue;
    la_int64_t size = archive_entry_size(ae);
    if (ld_str_has_prefix(name, "META-INF/maven/") && ld_str_has_suffix(name, "/pom.properties")) {
      char *props = read_entry(a, size, LD_JAVA_MAX_META);
      if (props) {
        char *g = prop_get(props, "groupId"), *art = prop_get(props, "artifactId");
        char *v = prop_get(props, "version");
        if (art && v && *art && *v) add_maven(&f.poms, g, art, v, path);
        free(g), free(art), free(v), free(props);
      }
    } else if (!strcasecmp(name, "META-INF/MANIFEST.MF") && !f.mf) {
      f.mf = read_entry(a, size, LD_JAVA_MAX_META);
    } else if (is_java_archive_name(name) && depth < LD_JAVA_MAX_DEPTH) {
      java_nested(a, ae, path, depth, out, err);
    }
  }
  if (r != ARCHIVE_EOF) {
    ld_err(err, LD_EFORMAT, "%s: not a readable Java archive: %s", path, archive_error_string(a));
    ld_pkglist_clear(&f.poms);
    free(f.mf);
    return -1;
  }
  if (f.poms.n) {
    for (size_t i = 0; i < f.poms.n; i++) ld_package_copy(ld_pkglist_add(out), &f.poms.v[i]);
  } else {
    size_t before = out->n;
    if (f.mf) java_from_manifest(f.mf, path, out);
    if (out->n == before) java_from_filename(path, out);
  }
  ld_pkglist_clear(&f.poms);
  free(f.mf);
  return 0;
}

static struct archive *java_archive_new(void) {
  struct archive *a = archive_read_new();
  archive_read_support_format_zip(a);
  return a;
}

static int java_read_mem(const void *buf, size_t len, const char *path, int depth, ld_pkglist *out,
                         ld_error **err) {
  struct archive *a = java_archive_new();
  if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK) {
    ld_err(err, LD_EFORMAT, "%s: not a zip archive: %s", path, archive_error_string(a));
    archive_read_free(a);
    return -1;
  }
  int r = java_read_archive(a, path, depth, out, err);
  archive_read_free(a);
  return r;
}

int ld_java_archive_read_mem(const void *buf, size_t len, const char *path, ld_pkglist *out,
                             ld_error **err) {
  return java_read_mem(buf, len, path, 0, out, err);
}

int ld_java_archive_read(const char *file, const char *path, ld_pkglist *out, ld_error **err) {
  struct archive *a = java_archive_new();
  if (archive_read_open_filename(a, file, 65536) != ARCHIVE_OK) {
    ld_err(err, LD_EFORMAT, "%s: not a zip archive: %s", path, archive_error_string(a));
    archive_read_free(a);
    return -1;
  }
  int r = java_read_archive(a, path, 0, out, err);
  archive_read_free(a);
  return r;
}

/* ---- Python ------------------------------------------------------------------------------ */

static char *header_get(const char *buf, size_t len, const char *key) {
  size_t kl = strlen(key);
  const char *p = buf, *end = buf + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t) (end - p));
    const char *le = nl ? nl : end;
    if (le == p || (le == p + 1 && *p == '\r')) break; /* headers end at the first blank line */
    if ((size_t) (le - p) > kl && !strncasecmp(p, key, kl) && p[kl] == ':') {
      const char *v = p + kl + 1;
      while (v < le && (*v == ' ' || *v == '\t')) v++;
      size_t n = (size_t) (le - v);
      while (n && isspace((unsigned char) v[n - 1])) n--;
      return ld_xstrndup(v, n);
    }
    p = nl ? nl + 1 : end;
  }
  return NULL;
}

int ld_python_metadata_parse(const char *buf, size_t len, const char *path, ld_pkglist *out,
                             ld_error **err) {
  char *name = header_get(buf, len, "Name"), *version = header_get(buf, len, "Version");
  if (!name || !version || !*name || !*version) {
    free(name), free(version);
    return ld_err(err, LD_EFORMAT, "%s: Python metadata without Name or Version", path);
  }
  ld_package *p = ld_pkglist_add(out);
  p->type = ld_xstrdup("pypi");
  p->name = name;
  p->version = version;
  p->license = header_get(buf, len, "License");
  p->path = ld_xstrdup(path);
  return 0;
}

/* ---- npm --------------------------------------------------------------------------------- */

int ld_npm_package_json_parse(const char *buf, size_t len, const char *path, ld_pkglist *out,
                              ld_error **err) {
  ld_autojson json_t *j = NULL;
  if (ld_json_parse(buf, len, path, &j, err) < 0) return -1;
  const char *name = ld_json_str(j, "name"), *version = ld_json_str(j, "version");
  if (!name || !version || !*name || !*version) return 0; /* private / workspace packages */
  ld_package *p = ld_pkglist_add(out);
  p->type = ld_xstrdup("npm");
  p->name = ld_xstrdup(name);
  p->version = ld_xstrdup(version);
  const char *lic = ld_json_str(j, "license");
  json_t *lo = json_object_get(j, "license");
  if (!lic && json_is_object(lo)) lic = ld_json_str(lo, "type");
  if (lic) p->license = ld_xstrdup(lic);
  p->path = ld_xstrdup(path);
  return 0;
}
