/* Variable substitution in Dockerfile words, with BuildKit's shell-lexer rules.
 *
 * One left-to-right scan with a tiny state: outside quotes the escape character takes the next
 * character literally; '…' is literal; "…" expands variables and lets the escape character
 * protect only ", $ and itself. ${NAME<op>word} evaluates word (recursively, same rules) only
 * when the operator needs it; the pattern forms (# ## % %% / //) match shell patterns. Unset variables expand to "". The result has quotes removed,
 * which is what COPY, ENV, LABEL, WORKDIR... want. The content of a COPY <<EOF here-document keeps
 * its quotes (ld_df_expand_heredoc: variables and escapes only, as BuildKit fixed in #2439), so an
 * XML declaration or an apostrophe in it comes through as written.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <string.h>
#include "lading/build.h"
#include "lading/util.h"

typedef struct {
  const char *s;
  size_t i;
  char escape;
  ld_df_lookup lookup;
  void *arg;
  const char *word;
} lexer;

static int fail(lexer *lx, ld_error **err, const char *why) {
  return ld_err(err, LD_EFORMAT, "cannot expand \"%.120s\": %s", lx->word, why);
}

static bool name_start(char c) { return isalpha((unsigned char) c) || c == '_'; }
static bool name_char(char c) { return isalnum((unsigned char) c) || c == '_'; }

/* The raw text of a ${...} modifier word up to its matching '}' (nesting and quotes aware). */
static int modifier_word(lexer *lx, char **out, ld_error **err) {
  size_t start = lx->i;
  int depth = 0;
  char quote = 0;
  for (; lx->s[lx->i]; lx->i++) {
    char c = lx->s[lx->i];
    if (c == lx->escape && lx->s[lx->i + 1] && quote != '\'') { lx->i++; continue; }
    if (quote) { if (c == quote) quote = 0; continue; }
    if (c == '\'' || c == '"') { quote = c; continue; }
    if (c == '$' && lx->s[lx->i + 1] == '{') { depth++; lx->i++; continue; }
    if (c == '}') {
      if (depth == 0) {
        *out = ld_xstrndup(lx->s + start, lx->i - start);
        lx->i++;
        return 0;
      }
      depth--;
    }
  }
  return fail(lx, err, "missing '}'");
}

/* Length of the prefix (from the end: suffix) of v that pattern matches, shortest or longest;
 * -1 when none. */
static long match_end(const char *v, const char *pat, bool suffix, bool longest) {
  size_t n = strlen(v);
  for (size_t k = 0; k <= n; k++) {
    size_t len = longest ? n - k : k;
    char *part = suffix ? ld_xstrdup(v + n - len) : ld_xstrndup(v, len);
    bool m = fnmatch(pat, part, 0) == 0;
    free(part);
    if (m) return (long) len;
  }
  return -1;
}

/* ${V#pat} ${V##pat} ${V%pat} ${V%%pat} ${V/pat/repl} ${V//pat/repl} (Dockerfile 1.7): shell
 * patterns (fnmatch), shortest or longest match, first or every replacement (longest match at
 * each position, as shells do). */
static int pattern_op(lexer *lx, const char *v, ld_buf *out, ld_error **err) {
  char op = lx->s[lx->i++];
  bool twice = lx->s[lx->i] == op;
  if (twice) lx->i++;
  char *raw = NULL, *pat = NULL, *repl = NULL;
  if (modifier_word(lx, &raw, err) < 0) return -1;
  char *slash = NULL;
  if (op == '/')
    for (char *p = raw; *p; p++) {
      if (*p == lx->escape && p[1]) { p++; continue; }
      if (*p == '/') { slash = p; break; }
    }
  if (slash) *slash = 0;
  int r = ld_df_expand(raw, lx->escape, lx->lookup, lx->arg, &pat, err);
  if (r == 0 && slash) r = ld_df_expand(slash + 1, lx->escape, lx->lookup, lx->arg, &repl, err);
  const char *val = v ? v : "";
  if (r == 0 && op == '#') {
    long k = match_end(val, pat, false, twice);
    ld_buf_puts(out, val + (k > 0 ? k : 0));
  } else if (r == 0 && op == '%') {
    long k = match_end(val, pat, true, twice);
    ld_buf_append(out, val, strlen(val) - (size_t) (k > 0 ? k : 0));
  } else if (r == 0) {
    bool done = false;
    for (const char *p = val; *p;) {
      long k = done ? -1 : match_end(p, pat, false, true);
      if (k > 0) {
        if (repl) ld_buf_puts(out, repl);
        p += k;
        done = !twice;
      } else {
        ld_buf_append(out, p, 1);
        p++;
      }
    }
  }
  free(raw);
  free(pat);
  free(repl);
  return r;
}

static int expand_var(lexer *lx, ld_buf *out, ld_error **err) {
  lx->i++; /* '$' */
  const char *s = lx->s;
  if (s[lx->i] != '{') {
    if (!name_start(s[lx->i])) {
      ld_buf_append(out, "$", 1);
      return 0;
    }
    size_t st = lx->i;
    while (name_char(s[lx->i])) lx->i++;
    char *name = ld_xstrndup(s + st, lx->i - st);
    const char *v = lx->lookup(lx->arg, name);
    free(name);
    if (v) ld_buf_puts(out, v);
    return 0;
  }
  lx->i++;
  size_t st = lx->i;
  while (name_char(s[lx->i])) lx->i++;
  if (lx->i == st) return fail(lx, err, "bad substitution (empty or invalid name in ${})");
  char *name = ld_xstrndup(s + st, lx->i - st);
  const char *v = lx->lookup(lx->arg, name);
  if (s[lx->i] == '}') {
    lx->i++;
    if (v) ld_buf_puts(out, v);
    free(name);
    return 0;
  }
  if (s[lx->i] == '#' || s[lx->i] == '%' || s[lx->i] == '/') {
    int r = pattern_op(lx, v, out, err);
    free(name);
    return r;
  }
  bool colon = false;
  if (s[lx->i] == ':') { colon = true; lx->i++; }
  char op = s[lx->i];
  if (op != '-' && op != '+' && op != '?') {
    free(name);
    return fail(lx, err, "unsupported modifier in ${}");
  }
  lx->i++;
  char *raw = NULL;
  if (modifier_word(lx, &raw, err) < 0) { free(name); return -1; }
  bool set = v && (!colon || *v);
  int r = 0;
  char *w = NULL;
  if ((op == '-' && !set) || (op == '+' && set) || (op == '?' && !set))
    r = ld_df_expand(raw, lx->escape, lx->lookup, lx->arg, &w, err);
  if (r == 0) {
    if (op == '-') ld_buf_puts(out, set ? v : w);
    else if (op == '+') { if (set) ld_buf_puts(out, w); }
    else if (!set) r = ld_err(err, LD_EFORMAT, "%s: %s", name, *w ? w : "is not set");
    else ld_buf_puts(out, v);
  }
  free(w);
  free(raw);
  free(name);
  return r;
}

static int expand_text(const char *word, char escape, bool keep_quotes, ld_df_lookup lookup, void *arg, char **out,
                       ld_error **err);

int ld_df_expand(const char *word, char escape, ld_df_lookup lookup, void *arg, char **out,
                 ld_error **err) {
  return expand_text(word, escape, false, lookup, arg, out, err);
}

int ld_df_expand_heredoc(const char *text, char escape, ld_df_lookup lookup, void *arg, char **out,
                         ld_error **err) {
  return expand_text(text, escape, true, lookup, arg, out, err);
}

static int expand_text(const char *word, char escape, bool keep_quotes, ld_df_lookup lookup, void *arg, char **out,
                       ld_error **err) {
  lexer lx = {word, 0, escape, lookup, arg, word};
  ld_buf b = {0};
  ld_buf_append(&b, "", 0);
  while (word[lx.i]) {
    char c = word[lx.i];
    if (keep_quotes && (c == '\'' || c == '"')) {
      ld_buf_append(&b, &c, 1);
      lx.i++;
    } else if (c == '\'') {
      const char *end = strchr(word + lx.i + 1, '\'');
      if (!end) { ld_buf_free(&b); return fail(&lx, err, "unmatched single quote"); }
      ld_buf_append(&b, word + lx.i + 1, (size_t) (end - word - lx.i - 1));
      lx.i = (size_t) (end - word) + 1;
    } else if (c == '"') {
      lx.i++;
      for (;;) {
        char d = word[lx.i];
        if (!d) { ld_buf_free(&b); return fail(&lx, err, "unmatched double quote"); }
        if (d == '"') { lx.i++; break; }
        if (d == escape && word[lx.i + 1]) {
          char e = word[lx.i + 1];
          if (e != '"' && e != '$' && e != escape) ld_buf_append(&b, &d, 1);
          ld_buf_append(&b, &e, 1);
          lx.i += 2;
        } else if (d == '$') {
          if (expand_var(&lx, &b, err) < 0) { ld_buf_free(&b); return -1; }
        } else {
          ld_buf_append(&b, &d, 1);
          lx.i++;
        }
      }
    } else if (c == escape) {
      if (word[lx.i + 1]) ld_buf_append(&b, word + lx.i + 1, 1);
      lx.i += word[lx.i + 1] ? 2 : 1;
    } else if (c == '$') {
      if (expand_var(&lx, &b, err) < 0) { ld_buf_free(&b); return -1; }
    } else {
      ld_buf_append(&b, &c, 1);
      lx.i++;
    }
  }
  *out = ld_buf_steal(&b);
  return 0;
}
