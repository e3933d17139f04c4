/* .dockerignore: which context files a build may see.
 *
 * Docker's rules: one pattern per line, '#' lines are comments, surrounding blanks are trimmed,
 * the pattern is cleaned like a path (leading "/" and "./" dropped), '!' marks an exception.
 * Patterns are tried in order and the LAST one that matches decides, so "!keep" after "*.log"
 * re-includes keep. A pattern matches a path when it matches the path itself or one of its
 * parent directories ("build" excludes build/x/y). Globs: '*' any run within one component,
 * '?' one character, [a-z] classes, '\' escapes, and "**" any number of components (zero too).
 */
#include <fnmatch.h>
#include <string.h>
#include "lading/build.h"
#include "lading/fs.h"
#include "lading/util.h"

typedef struct {
  char *pattern;
  bool exclude; /* "!" exception */
} ignore_rule;

struct ld_ignore {
  ignore_rule *rules;
  size_t n;
};

/* Matches a glob against a whole path; "**" spans components. */
static bool glob_match(const char *p, const char *s) {
  while (*p) {
    if (p[0] == '*' && p[1] == '*') {
      p += 2;
      if (*p == '/') p++;
      if (!*p) return true;
      if (glob_match(p, s)) return true;
      for (const char *t = s; *t; t++)
        if (*t == '/' && glob_match(p, t + 1)) return true;
      return false;
    }
    if (*p == '*') {
      p++;
      for (const char *t = s;; t++) {
        if (glob_match(p, t)) return true;
        if (!*t || *t == '/') return false;
      }
    }
    if (!*s) return false;
    if (*p == '?') {
      if (*s == '/') return false;
      p++, s++;
      continue;
    }
    if (*p == '[') {
      const char *end = strchr(p + 1, ']');
      if (end) {
        char cls[256];
        size_t n = (size_t) (end - p + 1);
        if (n >= sizeof cls) return false;
        memcpy(cls, p, n);
        cls[n] = 0;
        char one[2] = {*s, 0};
        if (*s == '/' || fnmatch(cls, one, 0) != 0) return false;
        p = end + 1, s++;
        continue;
      }
    }
    if (*p == '\\' && p[1]) p++;
    if (*p != *s) return false;
    p++, s++;
  }
  return !*s;
}

static bool rule_matches(const ignore_rule *r, const char *path) {
  if (glob_match(r->pattern, path)) return true;
  /* A parent directory matching excludes everything below it. */
  char *copy = ld_xstrdup(path);
  bool hit = false;
  for (char *slash = strrchr(copy, '/'); slash && !hit; slash = strrchr(copy, '/')) {
    *slash = 0;
    hit = glob_match(r->pattern, copy);
  }
  free(copy);
  return hit;
}

int ld_ignore_parse(const char *buf, size_t len, ld_ignore **out, ld_error **err) {
  ld_ignore *ig = ld_xcalloc(1, sizeof *ig);
  size_t i = 0;
  while (i < len) {
    size_t s = i;
    while (i < len && buf[i] != '\n') i++;
    char *line = ld_xstrndup(buf + s, i - s);
    i++;
    char *p = line, *e = line + strlen(line);
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = 0;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '#') { free(line); continue; }
    bool exception = *p == '!';
    if (exception) {
      p++;
      while (*p == ' ' || *p == '\t') p++;
    }
    char *clean;
    ld_error *e2 = NULL;
    if (ld_path_clean(p, true, &clean, &e2) < 0) { /* ".." patterns can never match */
      ld_error_free(e2);
      free(line);
      continue;
    }
    free(line);
    if (!*clean) { free(clean); continue; }
    ig->rules = ld_xrealloc(ig->rules, (ig->n + 1) * sizeof *ig->rules);
    ig->rules[ig->n++] = (ignore_rule){clean, !exception};
  }
  *out = ig;
  return 0;
}

int ld_ignore_load(const char *context_dir, ld_ignore **out, ld_error **err) {
  return ld_ignore_load_for(context_dir, NULL, out, err);
}

int ld_ignore_load_for(const char *context_dir, const char *dockerfile, ld_ignore **out, ld_error **err) {
  char *path = NULL;
  if (dockerfile) { /* BuildKit: <Dockerfile>.dockerignore beside it wins over the context's */
    path = ld_xasprintf("%s.dockerignore", dockerfile);
    if (!ld_path_exists(path)) {
      free(path);
      path = NULL;
    }
  }
  if (!path) path = ld_path_join(context_dir, ".dockerignore");
  char *buf = NULL;
  size_t len = 0;
  int r;
  if (!ld_path_exists(path)) r = ld_ignore_parse("", 0, out, err);
  else if (ld_read_file(path, 4u << 20, &buf, &len, err) < 0) r = -1;
  else r = ld_ignore_parse(buf, len, out, err);
  free(buf);
  free(path);
  return r;
}

bool ld_ignore_match(const ld_ignore *ig, const char *path) {
  bool excluded = false;
  for (size_t i = 0; ig && i < ig->n; i++)
    if (rule_matches(&ig->rules[i], path)) excluded = ig->rules[i].exclude;
  return excluded;
}

bool ld_ignore_may_reinclude(const ld_ignore *ig, const char *dir) {
  size_t dl = strlen(dir);
  for (size_t i = 0; ig && i < ig->n; i++) {
    const ignore_rule *r = &ig->rules[i];
    if (r->exclude) continue;
    if (strpbrk(r->pattern, "*?[\\")) return true;
    if (!strncmp(r->pattern, dir, dl) && r->pattern[dl] == '/') return true;
  }
  return false;
}

size_t ld_ignore_count(const ld_ignore *ig) { return ig ? ig->n : 0; }

void ld_ignore_free(ld_ignore *ig) {
  if (!ig) return;
  for (size_t i = 0; i < ig->n; i++) free(ig->rules[i].pattern);
  free(ig->rules);
  free(ig);
}
