/* The Docker reference grammar (distribution/reference), with docker.io normalisation.
 *
 * Parsing is by hand rather than by regex so that each rejection can say what was wrong.
 * Order: split "@digest", split ":tag" after the last '/', split the domain off the first
 * component by the docker rule, then validate every part.
 */
#include <ctype.h>
#include <string.h>
#include "lading/digest.h"
#include "lading/reference.h"
#include "lading/util.h"

#define NAME_MAX_LEN 255

static bool is_alnum_lower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool ld_tag_valid(const char *tag) {
  size_t n = strlen(tag);
  if (n == 0 || n > 128) return false;
  if (!(isalnum((unsigned char) tag[0]) || tag[0] == '_')) return false;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum((unsigned char) tag[i]) || tag[i] == '_' || tag[i] == '.' || tag[i] == '-'))
      return false;
  return true;
}

/* path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | -+ */
static bool path_component_valid(const char *s, size_t n) {
  size_t i = 0;
  if (n == 0 || !is_alnum_lower(s[0])) return false;
  while (i < n) {
    while (i < n && is_alnum_lower(s[i])) i++;
    if (i == n) return true;
    size_t sep = i;
    if (s[i] == '.') i++;
    else if (s[i] == '_') {
      i++;
      if (i < n && s[i] == '_') i++;
    } else if (s[i] == '-') {
      while (i < n && s[i] == '-') i++;
    } else
      return false;
    if (i == sep || i == n || !is_alnum_lower(s[i])) return false;
  }
  return true;
}

static bool domain_valid(const char *s, size_t n) {
  size_t i = 0;
  if (n == 0) return false;
  if (s[0] == '[') { /* IPv6 literal */
    const char *close = memchr(s, ']', n);
    if (!close) return false;
    for (const char *p = s + 1; p < close; p++)
      if (!(isxdigit((unsigned char) *p) || *p == ':')) return false;
    i = (size_t) (close - s) + 1;
  } else {
    bool comp_start = true;
    while (i < n && s[i] != ':') {
      char c = s[i];
      if (c == '.') {
        if (comp_start || s[i - 1] == '-') return false;
        comp_start = true;
      } else if (isalnum((unsigned char) c) || c == '-') {
        if (comp_start && c == '-') return false;
        comp_start = false;
      } else
        return false;
      i++;
    }
    if (comp_start || s[i - 1] == '-') return false;
  }
  if (i < n) {
    if (s[i] != ':' || i + 1 == n) return false;
    for (size_t j = i + 1; j < n; j++)
      if (!isdigit((unsigned char) s[j])) return false;
  }
  return true;
}

void ld_reference_clear(ld_reference *r) {
  free(r->domain);
  free(r->path);
  free(r->tag);
  free(r->digest);
  memset(r, 0, sizeof *r);
}

int ld_reference_parse(const char *s, ld_reference *out, ld_error **err) {
  memset(out, 0, sizeof *out);
  if (!*s) return ld_err(err, EINVAL, "invalid reference: empty");
  char *work = ld_xstrdup(s);
  char *at = strchr(work, '@');
  if (at) {
    *at = 0;
    if (ld_digest_validate(at + 1, err) < 0) {
      ld_error_wrap(err, "invalid reference \"%.300s\"", s);
      goto fail;
    }
    out->digest = ld_xstrdup(at + 1);
  }
  char *last_slash = strrchr(work, '/');
  char *colon = strrchr(last_slash ? last_slash : work, ':');
  if (colon) {
    *colon = 0;
    if (!ld_tag_valid(colon + 1)) {
      ld_err(err, EINVAL, "invalid reference \"%.300s\": invalid tag \"%.200s\"", s, colon + 1);
      goto fail;
    }
    out->tag = ld_xstrdup(colon + 1);
  }
  if (!*work) {
    ld_err(err, EINVAL, "invalid reference \"%.300s\": missing repository name", s);
    goto fail;
  }
  char *slash = strchr(work, '/');
  const char *rest;
  if (slash) {
    size_t n = (size_t) (slash - work);
    bool has_dot_colon = memchr(work, '.', n) || memchr(work, ':', n);
    bool is_local = n == 9 && !strncmp(work, "localhost", 9);
    bool has_upper = false;
    for (size_t i = 0; i < n; i++)
      if (isupper((unsigned char) work[i])) has_upper = true;
    if (has_dot_colon || is_local || has_upper) {
      out->domain = ld_xstrndup(work, n);
      rest = slash + 1;
    } else {
      out->domain = ld_xstrdup("docker.io");
      rest = work;
    }
  } else {
    out->domain = ld_xstrdup("docker.io");
    rest = work;
  }
  if (!strcmp(out->domain, "index.docker.io")) {
    free(out->domain);
    out->domain = ld_xstrdup("docker.io");
  }
  if (!domain_valid(out->domain, strlen(out->domain))) {
    ld_err(err, EINVAL, "invalid reference \"%.300s\": invalid registry host \"%.200s\"", s,
           out->domain);
    goto fail;
  }
  if (!strcmp(out->domain, "docker.io") && !strchr(rest, '/'))
    out->path = ld_xasprintf("library/%s", rest);
  else
    out->path = ld_xstrdup(rest);
  /* validate path components */
  for (const char *p = out->path;;) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t) (e - p) : strlen(p);
    if (!path_component_valid(p, n)) {
      bool upper = false;
      for (size_t i = 0; i < n; i++)
        if (isupper((unsigned char) p[i])) upper = true;
      ld_err(err, EINVAL, "invalid reference \"%.300s\": %s \"%.*s\"", s,
             upper ? "repository name must be lowercase:" : "invalid path component",
             (int) (n > 200 ? 200 : n), p);
      goto fail;
    }
    if (!e) break;
    p = e + 1;
  }
  if (strlen(out->domain) + 1 + strlen(out->path) > NAME_MAX_LEN) {
    ld_err(err, EINVAL, "invalid reference \"%.100s…\": name longer than %d characters", s,
           NAME_MAX_LEN);
    goto fail;
  }
  free(work);
  return 0;
fail:
  free(work);
  ld_reference_clear(out);
  return -1;
}

char *ld_reference_name(const ld_reference *r) {
  return ld_xasprintf("%s/%s", r->domain, r->path);
}

char *ld_reference_format(const ld_reference *r) {
  return ld_xasprintf("%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "", r->tag ? r->tag : "",
                      r->digest ? "@" : "", r->digest ? r->digest : "");
}

char *ld_reference_familiar(const ld_reference *r) {
  const char *path = r->path;
  char *name;
  if (!strcmp(r->domain, "docker.io")) {
    if (ld_str_has_prefix(path, "library/") && !strchr(path + 8, '/')) path += 8;
    name = ld_xstrdup(path);
  } else {
    name = ld_xasprintf("%s/%s", r->domain, path);
  }
  char *s = ld_xasprintf("%s%s%s%s%s", name, r->tag ? ":" : "", r->tag ? r->tag : "",
                         r->digest ? "@" : "", r->digest ? r->digest : "");
  free(name);
  return s;
}

const char *ld_reference_tag_or_latest(const ld_reference *r) {
  return r->tag ? r->tag : "latest";
}
