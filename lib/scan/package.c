/* Package records: lists, JSON (the per-layer cache and the reports), package URLs, and the
 * operating-system identification every distro cataloger keys on.
 *
 * A package is plain strings plus the layer that introduced it. The JSON form is what meta.db
 * caches per layer, so its field names are stable: changing them means bumping the cache
 * version in image.c. purls follow the package-url spec: name and version percent-encoded,
 * qualifiers sorted by key.
 */
#include <ctype.h>
#include <string.h>
#include "lading/json.h"
#include "lading/scan.h"
#include "lading/util.h"

ld_package *ld_pkglist_add(ld_pkglist *l) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->v = ld_xrealloc(l->v, l->cap * sizeof *l->v);
  }
  ld_package *p = &l->v[l->n++];
  memset(p, 0, sizeof *p);
  p->layer = -1;
  return p;
}

void ld_package_clear(ld_package *p) {
  free(p->type), free(p->name), free(p->version), free(p->arch), free(p->src_name);
  free(p->src_version), free(p->license), free(p->path), free(p->layer_diff_id);
  memset(p, 0, sizeof *p);
  p->layer = -1;
}

void ld_pkglist_clear(ld_pkglist *l) {
  for (size_t i = 0; i < l->n; i++) ld_package_clear(&l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static char *dup_or_null(const char *s) { return s ? ld_xstrdup(s) : NULL; }

void ld_package_copy(ld_package *dst, const ld_package *src) {
  dst->type = dup_or_null(src->type);
  dst->name = dup_or_null(src->name);
  dst->version = dup_or_null(src->version);
  dst->epoch = src->epoch;
  dst->arch = dup_or_null(src->arch);
  dst->src_name = dup_or_null(src->src_name);
  dst->src_version = dup_or_null(src->src_version);
  dst->license = dup_or_null(src->license);
  dst->path = dup_or_null(src->path);
  dst->layer = src->layer;
  dst->layer_diff_id = dup_or_null(src->layer_diff_id);
}

void ld_strlist_add(ld_strlist *l, const char *s) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->v = ld_xrealloc(l->v, l->cap * sizeof *l->v);
  }
  l->v[l->n++] = ld_xstrdup(s);
}

void ld_strlist_clear(ld_strlist *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static void set_str(json_t *o, const char *k, const char *v) {
  if (v) json_object_set_new(o, k, json_string(v));
}

json_t *ld_package_to_json(const ld_package *p) {
  json_t *o = json_object();
  set_str(o, "type", p->type);
  set_str(o, "name", p->name);
  set_str(o, "version", p->version);
  if (p->epoch) json_object_set_new(o, "epoch", json_integer(p->epoch));
  set_str(o, "arch", p->arch);
  set_str(o, "src_name", p->src_name);
  set_str(o, "src_version", p->src_version);
  set_str(o, "license", p->license);
  set_str(o, "path", p->path);
  if (p->layer >= 0) json_object_set_new(o, "layer", json_integer(p->layer));
  set_str(o, "layer_diff_id", p->layer_diff_id);
  return o;
}

int ld_package_from_json(const json_t *j, ld_package *out) {
  memset(out, 0, sizeof *out);
  out->type = dup_or_null(ld_json_str(j, "type"));
  out->name = dup_or_null(ld_json_str(j, "name"));
  out->version = dup_or_null(ld_json_str(j, "version"));
  out->epoch = (int) ld_json_int(j, "epoch", 0);
  out->arch = dup_or_null(ld_json_str(j, "arch"));
  out->src_name = dup_or_null(ld_json_str(j, "src_name"));
  out->src_version = dup_or_null(ld_json_str(j, "src_version"));
  out->license = dup_or_null(ld_json_str(j, "license"));
  out->path = dup_or_null(ld_json_str(j, "path"));
  out->layer = (int) ld_json_int(j, "layer", -1);
  out->layer_diff_id = dup_or_null(ld_json_str(j, "layer_diff_id"));
  if (!out->type || !out->name || !out->version) {
    ld_package_clear(out);
    return -1;
  }
  return 0;
}

/* ---- purl -------------------------------------------------------------------------------- */

static void purl_encode(ld_buf *b, const char *s, bool keep_slash) {
  for (; *s; s++) {
    unsigned char c = (unsigned char) *s;
    if (isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~' || (keep_slash && c == '/'))
      ld_buf_append(b, s, 1);
    else
      ld_buf_printf(b, "%%%02X", c);
  }
}

char *ld_package_purl(const ld_package *p, const char *os_id, const char *os_version) {
  ld_buf b = {0};
  ld_buf_printf(&b, "pkg:%s/", p->type);
  const char *name = p->name;
  if (!strcmp(p->type, "deb") || !strcmp(p->type, "apk") || !strcmp(p->type, "rpm")) {
    const char *ns = os_id && *os_id ? os_id : (!strcmp(p->type, "deb") ? "debian" : "linux");
    if (!strcmp(ns, "rhel")) ns = "redhat";
    purl_encode(&b, ns, false);
    ld_buf_puts(&b, "/");
  } else if (!strcmp(p->type, "maven")) {
    const char *colon = strchr(name, ':');
    if (colon) {
      char *g = ld_xstrndup(name, (size_t) (colon - name));
      purl_encode(&b, g, false);
      free(g);
      ld_buf_puts(&b, "/");
      name = colon + 1;
    }
  } else if (!strcmp(p->type, "npm") && name[0] == '@' && strchr(name, '/')) {
    const char *slash = strchr(name, '/');
    char *scope = ld_xstrndup(name, (size_t) (slash - name));
    purl_encode(&b, scope, false);
    free(scope);
    ld_buf_puts(&b, "/");
    name = slash + 1;
  }
  if (!strcmp(p->type, "pypi")) { /* pypi names are lower-cased, '_' becomes '-' */
    char *n = ld_xstrdup(name);
    for (char *c = n; *c; c++) *c = *c == '_' ? '-' : (char) tolower((unsigned char) *c);
    purl_encode(&b, n, false);
    free(n);
  } else {
    purl_encode(&b, name, false);
  }
  ld_buf_puts(&b, "@");
  purl_encode(&b, p->version, false);
  /* qualifiers, sorted by key */
  char sep = '?';
  if (p->arch && *p->arch) {
    ld_buf_printf(&b, "%carch=", sep), sep = '&';
    purl_encode(&b, p->arch, false);
  }
  if (os_id && *os_id && (!strcmp(p->type, "deb") || !strcmp(p->type, "apk") || !strcmp(p->type, "rpm"))) {
    ld_buf_printf(&b, "%cdistro=", sep), sep = '&';
    char *d = ld_xasprintf("%s-%s", os_id, os_version ? os_version : "");
    purl_encode(&b, d, false);
    free(d);
  }
  if (p->epoch) ld_buf_printf(&b, "%cepoch=%d", sep, p->epoch), sep = '&';
  return ld_buf_steal(&b);
}

/* ---- os-release -------------------------------------------------------------------------- */

void ld_os_info_clear(ld_os_info *o) {
  free(o->id), free(o->version_id), free(o->codename), free(o->pretty);
  memset(o, 0, sizeof *o);
}

/* Unquotes an os-release value ("..." or '...' with backslash escapes in double quotes). */
static char *os_release_value(const char *s, size_t len) {
  ld_buf b = {0};
  char q = 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (!q && (c == '"' || c == '\'')) {
      q = c;
    } else if (q && c == q) {
      q = 0;
    } else if (q == '"' && c == '\\' && i + 1 < len) {
      ld_buf_append(&b, &s[++i], 1);
    } else if (!q && (c == '#')) {
      break;
    } else {
      ld_buf_append(&b, &c, 1);
    }
  }
  ld_buf_append(&b, "", 0);
  char *v = ld_buf_steal(&b);
  size_t n = strlen(v);
  while (n && isspace((unsigned char) v[n - 1])) v[--n] = 0;
  return v;
}

int ld_os_release_parse(const char *buf, size_t len, ld_os_info *out) {
  const char *p = buf, *end = buf + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t) (end - p));
    const char *le = nl ? nl : end;
    const char *eq = memchr(p, '=', (size_t) (le - p));
    while (p < le && isspace((unsigned char) *p)) p++;
    if (eq && *p != '#') {
      size_t klen = (size_t) (eq - p);
      char **slot = NULL;
      if (klen == 2 && !memcmp(p, "ID", 2)) slot = &out->id;
      else if (klen == 10 && !memcmp(p, "VERSION_ID", 10)) slot = &out->version_id;
      else if (klen == 16 && !memcmp(p, "VERSION_CODENAME", 16)) slot = &out->codename;
      else if (klen == 11 && !memcmp(p, "PRETTY_NAME", 11)) slot = &out->pretty;
      if (slot) {
        free(*slot);
        *slot = os_release_value(eq + 1, (size_t) (le - eq - 1));
      }
    }
    p = nl ? nl + 1 : end;
  }
  return out->id ? 0 : -1;
}

static const char *debian_codenames[][2] = {
    {"buster", "10"}, {"bullseye", "11"}, {"bookworm", "12"}, {"trixie", "13"}, {"forky", "14"},
};

char *ld_os_release_key(const ld_os_info *o) {
  const char *id = o->id ? o->id : "";
  const char *v = o->version_id ? o->version_id : "";
  if (!strcmp(id, "debian")) {
    if (!*v && o->codename)
      for (size_t i = 0; i < LD_ARRAY_SIZE(debian_codenames); i++)
        if (!strcmp(o->codename, debian_codenames[i][0])) return ld_xstrdup(debian_codenames[i][1]);
    return ld_xstrndup(v, strcspn(v, "."));
  }
  if (!strcmp(id, "alpine")) {
    const char *dot = strchr(v, '.');
    size_t n = dot ? (size_t) (dot - v) + 1 + strcspn(dot + 1, ".") : strlen(v);
    char *mm = ld_xstrndup(v, n);
    char *r = ld_xasprintf("v%s", mm);
    free(mm);
    return r;
  }
  if (!strcmp(id, "rhel") || !strcmp(id, "centos") || !strcmp(id, "rocky") ||
      !strcmp(id, "almalinux") || !strcmp(id, "ol") || !strcmp(id, "fedora"))
    return ld_xstrndup(v, strcspn(v, "."));
  return ld_xstrdup(v);
}

/* A Debian codename to its major version, for /etc/debian_version "bookworm/sid". */
const char *ld_debian_codename_version(const char *codename) {
  for (size_t i = 0; i < LD_ARRAY_SIZE(debian_codenames); i++)
    if (!strncmp(codename, debian_codenames[i][0], strlen(debian_codenames[i][0])))
      return debian_codenames[i][1];
  return NULL;
}
