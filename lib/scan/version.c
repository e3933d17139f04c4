/* Version comparators, one per ecosystem, each following its package manager's rules exactly.
 *
 * Matching an advisory is only as good as the comparison: "2.36-9+deb12u3" against
 * "2.36-9+deb12u2" must go the way dpkg goes, "1.0~rc1" before "1.0" the way rpm goes. So each
 * comparator is written from the tool's documented algorithm and table-tested against the real
 * tool where one is installed (tests/unit/scan/test_version.c, tests/e2e/t6000-*.sh):
 *
 *   dpkg    deb-version(7): epoch, upstream, revision; verrevcmp with '~' before everything.
 *   rpm     rpmvercmp: alnum segments, '~' sorts before and '^' after the end; EVR compares
 *           epoch, then version, then release.
 *   apk     apk-tools tokens: digits, letter, _suffix[N] (alpha<beta<pre<rc<none<cvs<svn<git<hg<p),
 *           -rN; at the first differing token kind the "longer" version wins unless it continues
 *           with a pre-release suffix.
 *   Maven   ComparableVersion: items split on '.', '-' and digit/letter transitions, lists
 *           normalised by dropping trailing nulls, qualifiers alpha<beta<milestone<rc<snapshot<
 *           ""<sp<others.
 *   PEP 440 epoch!release[{a,b,rc}N][.postN][.devN][+local], with the spec's normalisations.
 *   semver  2.0.0 precedence (pre-release identifiers; build metadata ignored).
 *
 * Nothing here allocates except Maven and PEP 440 parsing, which use small fixed arrays.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "lading/scan.h"
#include "lading/util.h"

static int sign(int v) { return (v > 0) - (v < 0); }

/* Compares two digit runs numerically without overflow (leading zeros ignored). */
static int cmp_digits(const char *a, size_t alen, const char *b, size_t blen) {
  while (alen && *a == '0') a++, alen--;
  while (blen && *b == '0') b++, blen--;
  if (alen != blen) return alen < blen ? -1 : 1;
  return sign(memcmp(a, b, alen));
}

/* ---- dpkg -------------------------------------------------------------------------------- */

static int dpkg_order(int c) {
  if (isdigit(c)) return 0;
  if (isalpha(c)) return c;
  if (c == '~') return -1;
  if (c) return c + 256;
  return 0;
}

/* verrevcmp over [a, aend) and [b, bend). */
static int dpkg_verrevcmp(const char *a, const char *ae, const char *b, const char *be) {
  while (a < ae || b < be) {
    int first_diff = 0;
    while ((a < ae && !isdigit((unsigned char) *a)) || (b < be && !isdigit((unsigned char) *b))) {
      int ac = a < ae ? dpkg_order((unsigned char) *a) : 0;
      int bc = b < be ? dpkg_order((unsigned char) *b) : 0;
      if (ac != bc) return sign(ac - bc);
      a++, b++;
    }
    while (a < ae && *a == '0') a++;
    while (b < be && *b == '0') b++;
    while (a < ae && b < be && isdigit((unsigned char) *a) && isdigit((unsigned char) *b)) {
      if (!first_diff) first_diff = *a - *b;
      a++, b++;
    }
    if (a < ae && isdigit((unsigned char) *a)) return 1;
    if (b < be && isdigit((unsigned char) *b)) return -1;
    if (first_diff) return sign(first_diff);
  }
  return 0;
}

typedef struct {
  long epoch;
  const char *up, *up_end, *rev, *rev_end;
} dpkg_ver;

static void dpkg_split(const char *s, dpkg_ver *v) {
  while (isspace((unsigned char) *s)) s++;
  const char *end = s + strlen(s);
  while (end > s && isspace((unsigned char) end[-1])) end--;
  const char *colon = memchr(s, ':', (size_t) (end - s));
  v->epoch = 0;
  if (colon) {
    v->epoch = strtol(s, NULL, 10);
    s = colon + 1;
  }
  const char *dash = NULL;
  for (const char *p = s; p < end; p++)
    if (*p == '-') dash = p;
  v->up = s;
  v->up_end = dash ? dash : end;
  v->rev = dash ? dash + 1 : end;
  v->rev_end = end;
}

int ld_vercmp_dpkg(const char *a, const char *b) {
  dpkg_ver x, y;
  dpkg_split(a, &x);
  dpkg_split(b, &y);
  if (x.epoch != y.epoch) return x.epoch < y.epoch ? -1 : 1;
  int r = dpkg_verrevcmp(x.up, x.up_end, y.up, y.up_end);
  if (r) return r;
  return dpkg_verrevcmp(x.rev, x.rev_end, y.rev, y.rev_end);
}

/* ---- rpm --------------------------------------------------------------------------------- */

static bool rpm_alnum(int c) { return isalnum(c) && c < 128; }

int ld_vercmp_rpm_segment(const char *a, const char *b) {
  if (!strcmp(a, b)) return 0;
  const char *one = a, *two = b;
  while (*one || *two) {
    while (*one && !rpm_alnum((unsigned char) *one) && *one != '~' && *one != '^') one++;
    while (*two && !rpm_alnum((unsigned char) *two) && *two != '~' && *two != '^') two++;
    if (*one == '~' || *two == '~') { /* tilde sorts before everything, even the end */
      if (*one != '~') return 1;
      if (*two != '~') return -1;
      one++, two++;
      continue;
    }
    if (*one == '^' || *two == '^') { /* caret sorts after the end, before anything else */
      if (!*one) return -1;
      if (!*two) return 1;
      if (*one != '^') return 1;
      if (*two != '^') return -1;
      one++, two++;
      continue;
    }
    if (!(*one && *two)) break;
    const char *s1 = one, *s2 = two;
    bool isnum = isdigit((unsigned char) *s1);
    if (isnum) {
      while (isdigit((unsigned char) *s1)) s1++;
      while (isdigit((unsigned char) *s2)) s2++;
    } else {
      while (isalpha((unsigned char) *s1)) s1++;
      while (isalpha((unsigned char) *s2)) s2++;
    }
    if (two == s2) return isnum ? 1 : -1; /* numeric beats alpha */
    int rc;
    if (isnum) {
      rc = cmp_digits(one, (size_t) (s1 - one), two, (size_t) (s2 - two));
    } else {
      size_t l1 = (size_t) (s1 - one), l2 = (size_t) (s2 - two);
      rc = sign(memcmp(one, two, l1 < l2 ? l1 : l2));
      if (!rc && l1 != l2) rc = l1 < l2 ? -1 : 1;
    }
    if (rc) return rc;
    one = s1, two = s2;
  }
  if (!*one && !*two) return 0;
  return *one ? 1 : -1;
}

typedef struct {
  long epoch;
  char *version, *release; /* release may be NULL */
} rpm_evr;

static void rpm_evr_split(const char *s, rpm_evr *e) {
  e->epoch = 0;
  const char *p = s;
  while (isdigit((unsigned char) *p)) p++;
  if (*p == ':' && p > s) {
    e->epoch = strtol(s, NULL, 10);
    s = p + 1;
  }
  const char *dash = strrchr(s, '-');
  e->version = dash ? ld_xstrndup(s, (size_t) (dash - s)) : ld_xstrdup(s);
  e->release = dash ? ld_xstrdup(dash + 1) : NULL;
}

int ld_vercmp_rpm(const char *a, const char *b) {
  rpm_evr x, y;
  rpm_evr_split(a, &x);
  rpm_evr_split(b, &y);
  int r = x.epoch != y.epoch ? (x.epoch < y.epoch ? -1 : 1) : 0;
  if (!r) r = ld_vercmp_rpm_segment(x.version, y.version);
  if (!r) r = ld_vercmp_rpm_segment(x.release ? x.release : "", y.release ? y.release : "");
  free(x.version), free(x.release), free(y.version), free(y.release);
  return r;
}

/* ---- apk --------------------------------------------------------------------------------- */

/* Token kinds in apk-tools' order: at the first difference in kind, the larger kind is "less"
 * (1.0.1 > 1.0a > 1.0_p1 > 1.0-r1 > 1.0), except that a pre-release suffix (_alpha, _beta,
 * _pre, _rc) makes its version less than the one that simply ends. */
enum { APK_INVALID = -1, APK_DIGIT_OR_ZERO, APK_DIGIT, APK_LETTER, APK_SUFFIX, APK_SUFFIX_NO,
       APK_REVISION_NO, APK_END };

static const char *apk_pre_suffixes[] = {"alpha", "beta", "pre", "rc"};
static const char *apk_post_suffixes[] = {"cvs", "svn", "git", "hg", "p"};

typedef struct {
  const char *p, *end;
} apk_cursor;

static size_t apk_left(const apk_cursor *c) { return (size_t) (c->end - c->p); }

/* Consumes the separator after a token and sets *type to the kind of the next one. */
static void apk_next_kind(int *type, apk_cursor *c) {
  int n = APK_INVALID;
  if (!apk_left(c)) {
    n = APK_END;
  } else if ((*type == APK_DIGIT || *type == APK_DIGIT_OR_ZERO) && islower((unsigned char) *c->p)) {
    n = APK_LETTER;
  } else if (*type == APK_LETTER && isdigit((unsigned char) *c->p)) {
    n = APK_DIGIT;
  } else if (*type == APK_SUFFIX && isdigit((unsigned char) *c->p)) {
    n = APK_SUFFIX_NO;
  } else {
    switch (*c->p) {
    case '.': n = APK_DIGIT_OR_ZERO; break;
    case '_': n = APK_SUFFIX; break;
    case '-':
      if (apk_left(c) > 1 && c->p[1] == 'r') {
        n = APK_REVISION_NO;
        c->p++;
      }
      break;
    }
    c->p++;
  }
  if (n < *type && !((n == APK_DIGIT_OR_ZERO && *type == APK_DIGIT) ||
                     (n == APK_SUFFIX && *type == APK_SUFFIX_NO) ||
                     (n == APK_DIGIT && *type == APK_LETTER)))
    n = APK_INVALID;
  *type = n;
}

static long long apk_digits(apk_cursor *c) {
  long long v = 0;
  while (apk_left(c) && isdigit((unsigned char) *c->p)) {
    if (v < 100000000000000000LL) v = v * 10 + (*c->p - '0');
    c->p++;
  }
  return v;
}

/* Reads the token of kind *type, returns its value and moves *type to the next kind. */
static long long apk_get(int *type, apk_cursor *c) {
  long long v = 0;
  int next = APK_INVALID;
  if (!apk_left(c)) {
    *type = APK_END;
    return 0;
  }
  switch (*type) {
  case APK_DIGIT_OR_ZERO:
    if (*c->p == '0') { /* leading zeros: minus their count, the rest is a digit token */
      const char *s = c->p;
      while (s < c->end && *s == '0') s++;
      if (s < c->end && isdigit((unsigned char) *s)) { /* "01": not a plain zero */
        v = -(long long) (s - c->p);
        c->p = s;
        next = APK_DIGIT;
        break;
      }
    }
    /* fallthrough */
  case APK_DIGIT:
  case APK_SUFFIX_NO:
  case APK_REVISION_NO:
    v = apk_digits(c);
    break;
  case APK_LETTER:
    v = (unsigned char) *c->p++;
    break;
  case APK_SUFFIX: {
    for (size_t i = 0; i < LD_ARRAY_SIZE(apk_pre_suffixes); i++) {
      size_t n = strlen(apk_pre_suffixes[i]);
      if (n <= apk_left(c) && !strncmp(apk_pre_suffixes[i], c->p, n)) {
        c->p += n;
        v = (long long) i - (long long) LD_ARRAY_SIZE(apk_pre_suffixes);
        next = APK_SUFFIX_NO;
        break;
      }
    }
    if (next != APK_INVALID) break;
    for (size_t i = 0; i < LD_ARRAY_SIZE(apk_post_suffixes); i++) {
      size_t n = strlen(apk_post_suffixes[i]);
      if (n <= apk_left(c) && !strncmp(apk_post_suffixes[i], c->p, n)) {
        c->p += n;
        v = (long long) i;
        next = APK_SUFFIX_NO;
        break;
      }
    }
    if (next != APK_INVALID) break;
    *type = APK_INVALID; /* an unknown suffix */
    return -1;
  }
  default:
    *type = APK_INVALID;
    return -1;
  }
  if (!apk_left(c)) *type = APK_END;
  else if (next != APK_INVALID) *type = next;
  else apk_next_kind(type, c);
  return v;
}

int ld_vercmp_apk(const char *a, const char *b) {
  apk_cursor ca = {a, a + strlen(a)}, cb = {b, b + strlen(b)};
  int at = APK_DIGIT, bt = APK_DIGIT;
  long long av = 0, bv = 0;
  while (at == bt && at != APK_END && at != APK_INVALID && av == bv) {
    av = apk_get(&at, &ca);
    bv = apk_get(&bt, &cb);
  }
  if (av != bv) return av < bv ? -1 : 1;
  if (at == bt) return 0;
  if (at == APK_SUFFIX && apk_get(&at, &ca) < 0) return -1;
  if (bt == APK_SUFFIX && apk_get(&bt, &cb) < 0) return 1;
  if (at > bt) return -1;
  if (bt > at) return 1;
  return 0;
}

/* ---- Maven ComparableVersion ------------------------------------------------------------- */

enum { MV_INT, MV_STR, MV_LIST };

typedef struct mv_item {
  int kind;
  char *digits;         /* MV_INT: without leading zeros ("" is zero) */
  char *str;            /* MV_STR: canonical qualifier */
  struct mv_item **kids; /* MV_LIST */
  size_t n, cap;
} mv_item;

static mv_item *mv_new(int kind) {
  mv_item *it = ld_xcalloc(1, sizeof *it);
  it->kind = kind;
  return it;
}

static void mv_free(mv_item *it) {
  if (!it) return;
  for (size_t i = 0; i < it->n; i++) mv_free(it->kids[i]);
  free(it->kids), free(it->digits), free(it->str), free(it);
}

static void mv_add(mv_item *list, mv_item *it) {
  if (list->n == list->cap) {
    list->cap = list->cap ? list->cap * 2 : 4;
    list->kids = ld_xrealloc(list->kids, list->cap * sizeof *list->kids);
  }
  list->kids[list->n++] = it;
}

static mv_item *mv_int(const char *s, size_t len) {
  mv_item *it = mv_new(MV_INT);
  while (len && *s == '0') s++, len--;
  it->digits = ld_xstrndup(s, len);
  return it;
}

static mv_item *mv_str(const char *s, size_t len, bool followed_by_digit) {
  mv_item *it = mv_new(MV_STR);
  if (followed_by_digit && len == 1) {
    if (*s == 'a') it->str = ld_xstrdup("alpha");
    else if (*s == 'b') it->str = ld_xstrdup("beta");
    else if (*s == 'm') it->str = ld_xstrdup("milestone");
  }
  if (!it->str) it->str = ld_xstrndup(s, len);
  static const char *aliases[][2] = {{"ga", ""}, {"final", ""}, {"release", ""}, {"cr", "rc"}};
  for (size_t i = 0; i < LD_ARRAY_SIZE(aliases); i++)
    if (!strcmp(it->str, aliases[i][0])) {
      free(it->str);
      it->str = ld_xstrdup(aliases[i][1]);
    }
  return it;
}

static mv_item *mv_parse_item(const char *s, size_t len, bool is_digit, bool followed_by_digit) {
  return is_digit ? mv_int(s, len) : mv_str(s, len, followed_by_digit);
}

static bool mv_is_null(const mv_item *it) {
  switch (it->kind) {
  case MV_INT: return it->digits[0] == 0;
  case MV_STR: return it->str[0] == 0;
  default: return it->n == 0;
  }
}

static void mv_normalize(mv_item *list) {
  for (size_t i = list->n; i-- > 0;) {
    mv_item *last = list->kids[i];
    if (mv_is_null(last)) {
      mv_free(last);
      memmove(list->kids + i, list->kids + i + 1, (list->n - i - 1) * sizeof *list->kids);
      list->n--;
    } else if (last->kind != MV_LIST) {
      break;
    }
  }
}

static mv_item *mv_parse(const char *version) {
  char *v = ld_xstrdup(version);
  for (char *p = v; *p; p++) *p = (char) tolower((unsigned char) *p);
  mv_item *main_list = mv_new(MV_LIST), *list = main_list;
  mv_item *stack[256];
  size_t depth = 0;
  stack[depth++] = list;
  bool is_digit = false;
  size_t start = 0, n = strlen(v);
  for (size_t i = 0; i < n; i++) {
    char c = v[i];
    if (c == '.') {
      mv_add(list, i == start ? mv_int("0", 1) : mv_parse_item(v + start, i - start, is_digit, false));
      start = i + 1;
    } else if (c == '-') {
      mv_add(list, i == start ? mv_int("0", 1) : mv_parse_item(v + start, i - start, is_digit, false));
      start = i + 1;
      mv_item *sub = mv_new(MV_LIST);
      mv_add(list, sub);
      list = sub;
      if (depth < LD_ARRAY_SIZE(stack)) stack[depth++] = list;
    } else if (isdigit((unsigned char) c)) {
      if (!is_digit && i > start) { /* "alpha1": the qualifier, then a new sub-list */
        mv_add(list, mv_str(v + start, i - start, true));
        start = i;
        mv_item *sub = mv_new(MV_LIST);
        mv_add(list, sub);
        list = sub;
        if (depth < LD_ARRAY_SIZE(stack)) stack[depth++] = list;
      }
      is_digit = true;
    } else {
      if (is_digit && i > start) { /* "1alpha" */
        mv_add(list, mv_parse_item(v + start, i - start, true, false));
        start = i;
        mv_item *sub = mv_new(MV_LIST);
        mv_add(list, sub);
        list = sub;
        if (depth < LD_ARRAY_SIZE(stack)) stack[depth++] = list;
      }
      is_digit = false;
    }
  }
  if (n > start) mv_add(list, mv_parse_item(v + start, n - start, is_digit, false));
  while (depth > 0) mv_normalize(stack[--depth]);
  free(v);
  return main_list;
}

static const char *mv_qualifiers[] = {"alpha", "beta", "milestone", "rc", "snapshot", "", "sp"};

/* The qualifier's sort key: its index, or "7-qualifier" for unknown ones (sorted after). */
static char *mv_qualifier_key(const char *q) {
  for (size_t i = 0; i < LD_ARRAY_SIZE(mv_qualifiers); i++)
    if (!strcmp(q, mv_qualifiers[i])) return ld_xasprintf("%zu", i);
  return ld_xasprintf("%zu-%s", LD_ARRAY_SIZE(mv_qualifiers), q);
}

static int mv_cmp_qualifiers(const char *a, const char *b) {
  char *ka = mv_qualifier_key(a), *kb = mv_qualifier_key(b);
  int r = sign(strcmp(ka, kb));
  free(ka), free(kb);
  return r;
}

/* a compared with b; b may be NULL (a missing item). */
static int mv_cmp(const mv_item *a, const mv_item *b) {
  if (!b) {
    switch (a->kind) {
    case MV_INT: return a->digits[0] ? 1 : 0;
    case MV_STR: return mv_cmp_qualifiers(a->str, "");
    default: return a->n ? mv_cmp(a->kids[0], NULL) : 0;
    }
  }
  switch (a->kind) {
  case MV_INT:
    if (b->kind == MV_INT) return cmp_digits(a->digits, strlen(a->digits), b->digits, strlen(b->digits));
    return 1;
  case MV_STR:
    if (b->kind == MV_STR) return mv_cmp_qualifiers(a->str, b->str);
    return -1;
  default:
    if (b->kind == MV_INT) return -1;
    if (b->kind == MV_STR) return 1;
    for (size_t i = 0; i < a->n || i < b->n; i++) {
      const mv_item *l = i < a->n ? a->kids[i] : NULL, *r = i < b->n ? b->kids[i] : NULL;
      int c = l ? mv_cmp(l, r) : -mv_cmp(r, NULL);
      if (c) return c;
    }
    return 0;
  }
}

int ld_vercmp_maven(const char *a, const char *b) {
  mv_item *x = mv_parse(a), *y = mv_parse(b);
  int r = mv_cmp(x, y);
  mv_free(x), mv_free(y);
  return r;
}

/* ---- PEP 440 ----------------------------------------------------------------------------- */

#define PEP_MAX_REL 16
#define PEP_MAX_LOCAL 8

typedef struct {
  long epoch;
  long rel[PEP_MAX_REL];
  size_t n_rel;
  int pre_kind; /* 0 a, 1 b, 2 rc; -1 none */
  long pre;
  bool has_post, has_dev;
  long post, dev;
  char local[PEP_MAX_LOCAL][32];
  size_t n_local;
  bool valid;
} pep_ver;

static bool pep_word(const char **p, const char *w) {
  size_t n = strlen(w);
  if (strncasecmp(*p, w, n)) return false;
  *p += n;
  return true;
}

static long pep_num(const char **p) {
  long v = 0;
  while (isdigit((unsigned char) **p)) {
    if (v < 100000000000000L) v = v * 10 + (**p - '0');
    (*p)++;
  }
  return v;
}

static bool pep_sep(const char **p) {
  if (**p == '.' || **p == '-' || **p == '_') {
    (*p)++;
    return true;
  }
  return false;
}

static void pep_parse(const char *s, pep_ver *v) {
  memset(v, 0, sizeof *v);
  v->pre_kind = -1;
  const char *p = s;
  while (isspace((unsigned char) *p)) p++;
  if (*p == 'v' || *p == 'V') p++;
  if (!isdigit((unsigned char) *p)) return;
  const char *q = p;
  long first = pep_num(&q);
  if (*q == '!') {
    v->epoch = first;
    p = q + 1;
  }
  while (isdigit((unsigned char) *p)) {
    long n = pep_num(&p);
    if (v->n_rel < PEP_MAX_REL) v->rel[v->n_rel++] = n;
    if (*p == '.' && isdigit((unsigned char) p[1])) p++;
    else break;
  }
  /* pre-release */
  const char *save = p;
  pep_sep(&p);
  static const struct {
    const char *w;
    int kind;
  } pres[] = {{"alpha", 0}, {"a", 0}, {"beta", 1}, {"b", 1}, {"preview", 2}, {"pre", 2},
              {"rc", 2}, {"c", 2}};
  bool got = false;
  for (size_t i = 0; i < LD_ARRAY_SIZE(pres) && !got; i++)
    if (pep_word(&p, pres[i].w)) {
      v->pre_kind = pres[i].kind;
      pep_sep(&p);
      v->pre = pep_num(&p);
      got = true;
    }
  if (!got) p = save;
  /* post-release: ".post1", "-1", "rev1", "r1" */
  save = p;
  if (*p == '-' && isdigit((unsigned char) p[1])) {
    p++;
    v->has_post = true;
    v->post = pep_num(&p);
  } else {
    pep_sep(&p);
    if (pep_word(&p, "post") || pep_word(&p, "rev") || pep_word(&p, "r")) {
      pep_sep(&p);
      v->has_post = true;
      v->post = pep_num(&p);
    } else {
      p = save;
    }
  }
  save = p;
  pep_sep(&p);
  if (pep_word(&p, "dev")) {
    pep_sep(&p);
    v->has_dev = true;
    v->dev = pep_num(&p);
  } else {
    p = save;
  }
  if (*p == '+') {
    p++;
    while (*p && v->n_local < PEP_MAX_LOCAL) {
      size_t n = strcspn(p, ".-_");
      snprintf(v->local[v->n_local], sizeof v->local[0], "%.*s", (int) (n < 31 ? n : 31), p);
      for (char *c = v->local[v->n_local]; *c; c++) *c = (char) tolower((unsigned char) *c);
      v->n_local++;
      p += n;
      if (*p) p++;
    }
  }
  while (isspace((unsigned char) *p)) p++;
  v->valid = *p == 0;
  while (v->n_rel > 1 && v->rel[v->n_rel - 1] == 0) v->n_rel--; /* 1.0 == 1 */
}

static int cmp_long(long a, long b) { return a < b ? -1 : a > b; }

static bool all_digits(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (!isdigit((unsigned char) *s)) return false;
  return true;
}

int ld_vercmp_pep440(const char *a, const char *b) {
  pep_ver x, y;
  pep_parse(a, &x);
  pep_parse(b, &y);
  if (!x.valid || !y.valid) return sign(strcmp(a, b));
  int r = cmp_long(x.epoch, y.epoch);
  for (size_t i = 0; !r && (i < x.n_rel || i < y.n_rel); i++)
    r = cmp_long(i < x.n_rel ? x.rel[i] : 0, i < y.n_rel ? y.rel[i] : 0);
  if (r) return r;
  /* pre: a dev-only release sorts before any pre-release; no pre sorts after them */
  long xp = x.pre_kind >= 0 ? x.pre_kind * 1000000000L + x.pre
            : (!x.has_post && x.has_dev ? -1 : 9000000000L);
  long yp = y.pre_kind >= 0 ? y.pre_kind * 1000000000L + y.pre
            : (!y.has_post && y.has_dev ? -1 : 9000000000L);
  if ((r = cmp_long(xp, yp))) return r;
  if ((r = cmp_long(x.has_post ? x.post : -1, y.has_post ? y.post : -1))) return r;
  if ((r = cmp_long(x.has_dev ? x.dev : 1L << 60, y.has_dev ? y.dev : 1L << 60))) return r;
  for (size_t i = 0; i < x.n_local || i < y.n_local; i++) {
    if (i >= x.n_local) return -1;
    if (i >= y.n_local) return 1;
    bool xn = all_digits(x.local[i]), yn = all_digits(y.local[i]);
    if (xn && yn) r = cmp_digits(x.local[i], strlen(x.local[i]), y.local[i], strlen(y.local[i]));
    else if (xn != yn) r = xn ? 1 : -1; /* numeric segments sort after alphanumeric ones */
    else r = sign(strcmp(x.local[i], y.local[i]));
    if (r) return r;
  }
  return 0;
}

/* ---- semver ------------------------------------------------------------------------------ */

static int semver_core(const char **pa, const char **pb) {
  for (int i = 0; i < 3; i++) {
    const char *a = *pa, *b = *pb;
    size_t la = strspn(a, "0123456789"), lb = strspn(b, "0123456789");
    int r = cmp_digits(a, la, b, lb);
    if (r) return r;
    a += la, b += lb;
    if (*a == '.') a++;
    if (*b == '.') b++;
    *pa = a, *pb = b;
  }
  return 0;
}

static int semver_pre(const char *a, const char *b) {
  /* A version without pre-release has higher precedence. */
  if (!*a || !*b) return *a ? -1 : (*b ? 1 : 0);
  while (*a || *b) {
    if (!*a) return -1;
    if (!*b) return 1;
    size_t la = strcspn(a, "."), lb = strcspn(b, ".");
    bool na = la && strspn(a, "0123456789") >= la, nb = lb && strspn(b, "0123456789") >= lb;
    int r;
    if (na && nb) r = cmp_digits(a, la, b, lb);
    else if (na != nb) r = na ? -1 : 1;
    else {
      r = sign(memcmp(a, b, la < lb ? la : lb));
      if (!r && la != lb) r = la < lb ? -1 : 1;
    }
    if (r) return r;
    a += la, b += lb;
    if (*a == '.') a++;
    if (*b == '.') b++;
  }
  return 0;
}

static char *semver_prerelease(const char *s) {
  size_t n = strcspn(s, "+");
  return ld_xstrndup(s, n);
}

int ld_vercmp_semver(const char *a, const char *b) {
  if (*a == 'v' || *a == '=') a++;
  if (*b == 'v' || *b == '=') b++;
  const char *pa = a, *pb = b;
  int r = semver_core(&pa, &pb);
  if (r) return r;
  if (*pa == '-') pa++;
  if (*pb == '-') pb++;
  char *xa = semver_prerelease(pa), *xb = semver_prerelease(pb);
  r = semver_pre(xa, xb);
  free(xa), free(xb);
  return r;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

int ld_vercmp(ld_version_scheme s, const char *a, const char *b) {
  switch (s) {
  case LD_VER_DPKG: return ld_vercmp_dpkg(a, b);
  case LD_VER_RPM: return ld_vercmp_rpm(a, b);
  case LD_VER_APK: return ld_vercmp_apk(a, b);
  case LD_VER_MAVEN: return ld_vercmp_maven(a, b);
  case LD_VER_PEP440: return ld_vercmp_pep440(a, b);
  case LD_VER_SEMVER: return ld_vercmp_semver(a, b);
  default: return sign(strcmp(a, b));
  }
}

ld_version_scheme ld_version_scheme_of_ecosystem(const char *eco) {
  static const struct {
    const char *prefix;
    ld_version_scheme s;
  } map[] = {{"Debian", LD_VER_DPKG},    {"Ubuntu", LD_VER_DPKG},  {"Alpine", LD_VER_APK},
             {"Red Hat", LD_VER_RPM},    {"Rocky Linux", LD_VER_RPM}, {"AlmaLinux", LD_VER_RPM},
             {"openSUSE", LD_VER_RPM},   {"SUSE", LD_VER_RPM},     {"Maven", LD_VER_MAVEN},
             {"PyPI", LD_VER_PEP440},    {"npm", LD_VER_SEMVER},   {"Go", LD_VER_SEMVER},
             {"crates.io", LD_VER_SEMVER}};
  for (size_t i = 0; i < LD_ARRAY_SIZE(map); i++) {
    size_t n = strlen(map[i].prefix);
    if (!strncmp(eco, map[i].prefix, n) && (eco[n] == 0 || eco[n] == ':')) return map[i].s;
  }
  return LD_VER_UNKNOWN;
}
