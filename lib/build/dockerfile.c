/* Dockerfile parser (BuildKit frontend syntax).
 *
 * Two passes over the text. The first walks physical lines: parser directives are recognised
 * only before anything else (a blank line, a comment or an instruction ends the directive block);
 * an instruction starts at the first non-blank, non-comment line and swallows the following lines
 * while the previous one ends with the escape character (comment and blank lines inside such a
 * continuation are dropped, as BuildKit does). The joined text keeps a segment table mapping each
 * offset back to its physical line and column, so errors can say exactly where they are. Heredoc
 * markers (`<<EOF`, `<<-EOF`, `<<"EOF"`) found in RUN/COPY/ADD consume the physical lines that
 * follow, up to their terminators.
 *
 * The second pass is per instruction: keyword, leading `--flags`, then the arguments in the shape
 * the instruction wants (JSON exec form, shell form, words, key=value pairs). Values stay raw:
 * substitution happens at build time with the stage's ARG/ENV state (ld_df_expand in expand.c).
 */
#include <ctype.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>
#include "lading/build.h"
#include "lading/fs.h"
#include "lading/util.h"

typedef struct {
  const char *name;
  ld_df_cmd cmd;
  const char *flags; /* allowed flags, space separated, each surrounded by spaces */
} instr_spec;

static const instr_spec specs[] = {
    {"FROM", LD_DF_FROM, " platform "},
    {"RUN", LD_DF_RUN, " mount network security "},
    {"COPY", LD_DF_COPY, " from chown chmod link parents exclude "},
    {"ADD", LD_DF_ADD, " chown chmod link checksum keep-git-dir exclude unpack "},
    {"ENV", LD_DF_ENV, ""},
    {"ARG", LD_DF_ARG, ""},
    {"LABEL", LD_DF_LABEL, ""},
    {"USER", LD_DF_USER, ""},
    {"WORKDIR", LD_DF_WORKDIR, ""},
    {"EXPOSE", LD_DF_EXPOSE, ""},
    {"ENTRYPOINT", LD_DF_ENTRYPOINT, ""},
    {"CMD", LD_DF_CMD, ""},
    {"VOLUME", LD_DF_VOLUME, ""},
    {"STOPSIGNAL", LD_DF_STOPSIGNAL, ""},
    {"HEALTHCHECK", LD_DF_HEALTHCHECK, " interval timeout start-period start-interval retries "},
    {"SHELL", LD_DF_SHELL, ""},
    {"ONBUILD", LD_DF_ONBUILD, ""},
    {"MAINTAINER", LD_DF_MAINTAINER, ""},
};

/* Where each piece of a joined instruction came from. */
typedef struct {
  size_t off;  /* offset in the joined text */
  int line;    /* physical line */
  int col;     /* column of that offset */
} segment;

typedef struct {
  const char *path;
  char escape;
  segment *segs;
  size_t n_segs;
} parse_ctx;

typedef struct {
  const char *start;
  size_t len;
} line_ref;

static void pos_of(const parse_ctx *c, size_t off, int *line, int *col) {
  size_t i = 0;
  while (i + 1 < c->n_segs && c->segs[i + 1].off <= off) i++;
  *line = c->segs[i].line;
  *col = c->segs[i].col + (int) (off - c->segs[i].off);
}

static int parse_error_at(const parse_ctx *c, size_t off, ld_error **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int parse_error_at(const parse_ctx *c, size_t off, ld_error **err, const char *fmt, ...) {
  int line, col;
  pos_of(c, off, &line, &col);
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return ld_err(err, LD_EFORMAT, "%s:%d:%d: %s", c->path, line, col, msg);
}

void ld_strv_free(char **v, size_t n) {
  if (!v) return;
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

static void strv_push(char ***v, size_t *n, char *s) {
  *v = ld_xrealloc(*v, (*n + 1) * sizeof **v);
  (*v)[(*n)++] = s;
}

/* ---- words ---- */

int ld_df_split_words(const char *text, char escape, char ***words, size_t *n, ld_error **err) {
  *words = NULL;
  *n = 0;
  const char *p = text;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (!*p) break;
    ld_buf w = {0};
    char quote = 0;
    for (; *p; p++) {
      if (!quote && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) break;
      if (*p == escape && p[1] && quote != '\'') {
        ld_buf_append(&w, p, 2);
        p++;
        continue;
      }
      if (!quote && (*p == '\'' || *p == '"')) quote = *p;
      else if (quote && *p == quote) quote = 0;
      ld_buf_append(&w, p, 1);
    }
    if (quote) {
      ld_buf_free(&w);
      ld_strv_free(*words, *n);
      *words = NULL;
      *n = 0;
      return ld_err(err, LD_EFORMAT, "unmatched %c quote in \"%.80s\"", quote, text);
    }
    strv_push(words, n, ld_buf_steal(&w));
  }
  return 0;
}

/* ---- the instruction's pieces ---- */

static const instr_spec *find_spec(const char *word, size_t len) {
  for (size_t i = 0; i < LD_ARRAY_SIZE(specs); i++)
    if (strlen(specs[i].name) == len && !strncasecmp(specs[i].name, word, len)) return &specs[i];
  return NULL;
}

static void add_flag(ld_df_instr *in, char *name, char *value) {
  in->flags = ld_xrealloc(in->flags, (in->n_flags + 1) * sizeof *in->flags);
  in->flags[in->n_flags++] = (ld_df_kv){name, value};
}

static void add_kv(ld_df_instr *in, char *key, char *value) {
  in->kvs = ld_xrealloc(in->kvs, (in->n_kvs + 1) * sizeof *in->kvs);
  in->kvs[in->n_kvs++] = (ld_df_kv){key, value};
}

/* Consumes leading --name[=value] words at *pos of text. */
static int parse_flags(const parse_ctx *c, const instr_spec *spec, const char *text, size_t *pos,
                       ld_df_instr *in, ld_error **err) {
  size_t p = *pos;
  for (;;) {
    while (text[p] == ' ' || text[p] == '\t') p++;
    if (strncmp(text + p, "--", 2) != 0) break;
    size_t start = p;
    while (text[p] && text[p] != ' ' && text[p] != '\t') p++;
    if (p - start == 2) break; /* "--" alone ends the flags */
    char *word = ld_xstrndup(text + start + 2, p - start - 2);
    char *eq = strchr(word, '=');
    char *value = eq ? ld_xstrdup(eq + 1) : ld_xstrdup("true");
    if (eq) *eq = 0;
    char needle[80];
    snprintf(needle, sizeof needle, " %s ", word);
    if (!strstr(spec->flags, needle)) {
      int r = parse_error_at(c, start, err, "unknown flag --%s for %s", word, spec->name);
      free(word);
      free(value);
      return r;
    }
    add_flag(in, word, value);
  }
  *pos = p;
  return 0;
}

static bool try_json_array(const char *rest, char ***args, size_t *n) {
  if (rest[0] != '[') return false;
  json_error_t jerr;
  json_t *j = json_loads(rest, JSON_DECODE_ANY, &jerr);
  if (!j || !json_is_array(j)) {
    if (j) json_decref(j);
    return false;
  }
  size_t i;
  json_t *v;
  json_array_foreach(j, i, v) {
    if (!json_is_string(v)) {
      json_decref(j);
      ld_strv_free(*args, *n);
      *args = NULL;
      *n = 0;
      return false;
    }
    strv_push(args, n, ld_xstrdup(json_string_value(v)));
  }
  json_decref(j);
  return true;
}

/* ENV / LABEL: key=value pairs; ENV also has the legacy "ENV key value" form. */
static int parse_kvs(const parse_ctx *c, ld_df_instr *in, const char *rest, size_t rest_off,
                     ld_error **err) {
  char **words;
  size_t n;
  if (ld_df_split_words(rest, c->escape, &words, &n, err) < 0)
    return ld_error_wrap(err, "%s:%d", c->path, in->line);
  if (n == 0) {
    ld_strv_free(words, n);
    return parse_error_at(c, rest_off, err, "%s requires at least one argument", in->keyword);
  }
  if (!strchr(words[0], '=')) {
    if (in->cmd == LD_DF_ENV || in->cmd == LD_DF_LABEL) {
      const char *v = rest + strlen(words[0]);
      while (*v == ' ' || *v == '\t') v++;
      if (!*v) {
        ld_strv_free(words, n);
        return parse_error_at(c, rest_off, err, "%s must have two arguments", in->keyword);
      }
      add_kv(in, ld_xstrdup(words[0]), ld_xstrdup(v));
      ld_strv_free(words, n);
      return 0;
    }
  }
  for (size_t i = 0; i < n; i++) {
    char *eq = strchr(words[i], '=');
    if (!eq || eq == words[i]) {
      int r = parse_error_at(c, rest_off, err,
                             "can't find = in \"%s\": %s must be of the form name=value",
                             words[i], in->keyword);
      ld_strv_free(words, n);
      return r;
    }
    add_kv(in, ld_xstrndup(words[i], (size_t) (eq - words[i])), ld_xstrdup(eq + 1));
  }
  ld_strv_free(words, n);
  return 0;
}

static int parse_arg(const parse_ctx *c, ld_df_instr *in, const char *rest, size_t rest_off,
                     ld_error **err) {
  char **words;
  size_t n;
  if (ld_df_split_words(rest, c->escape, &words, &n, err) < 0)
    return ld_error_wrap(err, "%s:%d", c->path, in->line);
  if (n == 0) {
    ld_strv_free(words, n);
    return parse_error_at(c, rest_off, err, "ARG requires at least one argument");
  }
  for (size_t i = 0; i < n; i++) {
    char *eq = strchr(words[i], '=');
    if (eq == words[i]) {
      ld_strv_free(words, n);
      return parse_error_at(c, rest_off, err, "ARG names can not be blank");
    }
    if (eq) add_kv(in, ld_xstrndup(words[i], (size_t) (eq - words[i])), ld_xstrdup(eq + 1));
    else add_kv(in, ld_xstrdup(words[i]), NULL);
  }
  ld_strv_free(words, n);
  return 0;
}

/* A word that opens a heredoc: <<[-]NAME, <<[-]"NAME", <<[-]'NAME'. */
static bool heredoc_marker(const char *w, ld_df_heredoc *h) {
  const char *p = strstr(w, "<<");
  if (!p || p[2] == '<') return false;
  p += 2;
  bool strip = false;
  if (*p == '-') {
    strip = true;
    p++;
  }
  char q = 0;
  if (*p == '"' || *p == '\'') q = *p++;
  const char *s = p;
  while (isalnum((unsigned char) *p) || *p == '_' || *p == '-' || *p == '.') p++;
  if (p == s) return false;
  if (q && *p != q) return false;
  h->name = ld_xstrndup(s, (size_t) (p - s));
  h->expand = q == 0;
  h->strip_tabs = strip;
  h->content = NULL;
  return true;
}

static void find_heredocs(ld_df_instr *in, char escape) {
  if (in->exec_form) return;
  char **words = NULL;
  size_t n = 0;
  if (ld_df_split_words(in->rest, escape, &words, &n, NULL) < 0) return;
  for (size_t i = 0; i < n; i++) {
    ld_df_heredoc h;
    if (!heredoc_marker(words[i], &h)) continue;
    in->heredocs = ld_xrealloc(in->heredocs, (in->n_heredocs + 1) * sizeof *in->heredocs);
    in->heredocs[in->n_heredocs++] = h;
  }
  ld_strv_free(words, n);
}

static int parse_from(const parse_ctx *c, ld_df_instr *in, size_t rest_off, ld_error **err) {
  if (in->n_args != 1 && in->n_args != 3)
    return parse_error_at(c, rest_off, err, "FROM requires either one or three arguments");
  if (in->n_args == 3 && strcasecmp(in->args[1], "as") != 0)
    return parse_error_at(c, rest_off, err, "FROM: expected \"AS\" before the stage name, got \"%s\"",
                          in->args[1]);
  if (in->n_args == 3) {
    for (char *p = in->args[2]; *p; p++) *p = (char) tolower((unsigned char) *p);
    const char *s = in->args[2];
    if (!isalpha((unsigned char) s[0]) || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(s))
      return parse_error_at(c, rest_off, err, "invalid stage name \"%s\"", s);
  }
  return 0;
}

static void instr_clear(ld_df_instr *in);

static int parse_instruction(const parse_ctx *c, const char *text, size_t text_off, ld_df_instr *in,
                             bool nested, ld_error **err);

static int parse_args(const parse_ctx *c, ld_df_instr *in, size_t rest_off, bool nested, ld_error **err) {
  const char *rest = in->rest;
  switch (in->cmd) {
    case LD_DF_RUN: case LD_DF_CMD: case LD_DF_ENTRYPOINT:
      if (!try_json_array(rest, &in->args, &in->n_args)) {
        if (!*rest && in->cmd == LD_DF_RUN)
          return parse_error_at(c, rest_off, err, "RUN requires at least one argument");
        strv_push(&in->args, &in->n_args, ld_xstrdup(rest));
      } else {
        in->exec_form = true;
      }
      if (in->cmd == LD_DF_RUN) find_heredocs(in, c->escape);
      return 0;
    case LD_DF_SHELL:
      if (!try_json_array(rest, &in->args, &in->n_args) || in->n_args == 0)
        return parse_error_at(c, rest_off, err, "SHELL requires the arguments to be a JSON array");
      in->exec_form = true;
      return 0;
    case LD_DF_COPY: case LD_DF_ADD:
      if (try_json_array(rest, &in->args, &in->n_args)) in->exec_form = true;
      else if (ld_df_split_words(rest, c->escape, &in->args, &in->n_args, err) < 0)
        return ld_error_wrap(err, "%s:%d", c->path, in->line);
      find_heredocs(in, c->escape);
      if (in->n_args < 2)
        return parse_error_at(c, rest_off, err, "%s requires at least two arguments (source and destination)",
                              in->keyword);
      return 0;
    case LD_DF_VOLUME:
      if (try_json_array(rest, &in->args, &in->n_args)) in->exec_form = true;
      else if (ld_df_split_words(rest, c->escape, &in->args, &in->n_args, err) < 0)
        return ld_error_wrap(err, "%s:%d", c->path, in->line);
      if (in->n_args == 0) return parse_error_at(c, rest_off, err, "VOLUME requires at least one argument");
      return 0;
    case LD_DF_ENV: case LD_DF_LABEL:
      return parse_kvs(c, in, rest, rest_off, err);
    case LD_DF_ARG:
      return parse_arg(c, in, rest, rest_off, err);
    case LD_DF_HEALTHCHECK: {
      char **w = NULL;
      size_t n = 0;
      if (ld_df_split_words(rest, c->escape, &w, &n, err) < 0) return ld_error_wrap(err, "%s:%d", c->path, in->line);
      bool none = n == 1 && !strcasecmp(w[0], "NONE");
      bool cmd = n >= 2 && !strcasecmp(w[0], "CMD");
      ld_strv_free(w, n);
      if (none) {
        strv_push(&in->args, &in->n_args, ld_xstrdup("NONE"));
        return 0;
      }
      if (!cmd) return parse_error_at(c, rest_off, err, "HEALTHCHECK expects NONE or CMD followed by a command");
      const char *p = rest + 3;
      while (*p == ' ' || *p == '\t') p++;
      strv_push(&in->args, &in->n_args, ld_xstrdup("CMD"));
      char **cmdv = NULL;
      size_t cn = 0;
      if (try_json_array(p, &cmdv, &cn)) {
        in->exec_form = true;
        for (size_t i = 0; i < cn; i++) strv_push(&in->args, &in->n_args, cmdv[i]);
        free(cmdv);
      } else {
        strv_push(&in->args, &in->n_args, ld_xstrdup(p));
      }
      return 0;
    }
    case LD_DF_ONBUILD: {
      if (nested) return parse_error_at(c, rest_off, err, "ONBUILD ONBUILD is not allowed");
      if (!*rest) return parse_error_at(c, rest_off, err, "ONBUILD requires at least one argument");
      in->trigger = ld_xcalloc(1, sizeof *in->trigger);
      if (parse_instruction(c, rest, rest_off, in->trigger, true, err) < 0) return -1;
      if (in->trigger->cmd == LD_DF_FROM || in->trigger->cmd == LD_DF_MAINTAINER)
        return parse_error_at(c, rest_off, err, "%s isn't allowed as an ONBUILD trigger",
                              in->trigger->keyword);
      return 0;
    }
    default:
      if (ld_df_split_words(rest, c->escape, &in->args, &in->n_args, err) < 0)
        return ld_error_wrap(err, "%s:%d", c->path, in->line);
      if (in->n_args == 0) return parse_error_at(c, rest_off, err, "%s requires at least one argument", in->keyword);
      if (in->cmd == LD_DF_FROM) return parse_from(c, in, rest_off, err);
      if ((in->cmd == LD_DF_USER || in->cmd == LD_DF_STOPSIGNAL) && in->n_args != 1)
        return parse_error_at(c, rest_off, err, "%s requires exactly one argument", in->keyword);
      if (in->cmd == LD_DF_WORKDIR) { /* one word: the whole rest */
        ld_strv_free(in->args, in->n_args);
        in->args = NULL;
        in->n_args = 0;
        strv_push(&in->args, &in->n_args, ld_xstrdup(rest));
      }
      return 0;
  }
}

static int parse_instruction(const parse_ctx *c, const char *text, size_t text_off, ld_df_instr *in,
                             bool nested, ld_error **err) {
  size_t p = 0;
  while (text[p] == ' ' || text[p] == '\t') p++;
  size_t kw = p;
  while (text[p] && text[p] != ' ' && text[p] != '\t') p++;
  pos_of(c, text_off + kw, &in->line, &in->column);
  const instr_spec *spec = find_spec(text + kw, p - kw);
  if (!spec)
    return parse_error_at(c, text_off + kw, err, "unknown instruction: %.*s", (int) (p - kw > 40 ? 40 : p - kw),
                          text + kw);
  in->cmd = spec->cmd;
  in->keyword = spec->name;
  in->original = ld_xasprintf("%s%s", spec->name, text + p);
  if (parse_flags(c, spec, text, &p, in, err) < 0) return -1;
  while (text[p] == ' ' || text[p] == '\t') p++;
  size_t end = strlen(text);
  while (end > p && (text[end - 1] == ' ' || text[end - 1] == '\t')) end--;
  in->rest = ld_xstrndup(text + p, end - p);
  return parse_args(c, in, text_off + p, nested, err);
}

static void instr_clear(ld_df_instr *in) {
  free(in->original);
  free(in->rest);
  for (size_t i = 0; i < in->n_flags; i++) {
    free(in->flags[i].key);
    free(in->flags[i].value);
  }
  free(in->flags);
  ld_strv_free(in->args, in->n_args);
  for (size_t i = 0; i < in->n_kvs; i++) {
    free(in->kvs[i].key);
    free(in->kvs[i].value);
  }
  free(in->kvs);
  for (size_t i = 0; i < in->n_heredocs; i++) {
    free(in->heredocs[i].name);
    free(in->heredocs[i].content);
  }
  free(in->heredocs);
  if (in->trigger) {
    instr_clear(in->trigger);
    free(in->trigger);
  }
  memset(in, 0, sizeof *in);
}

/* ---- physical lines ---- */

static void split_lines(const char *buf, size_t len, line_ref **out, size_t *n) {
  *out = NULL;
  *n = 0;
  size_t i = 0;
  while (i < len) {
    size_t s = i;
    while (i < len && buf[i] != '\n') i++;
    size_t e = i;
    if (e > s && buf[e - 1] == '\r') e--;
    *out = ld_xrealloc(*out, (*n + 1) * sizeof **out);
    (*out)[(*n)++] = (line_ref){buf + s, e - s};
    if (i < len) i++;
  }
}

static bool is_blank(line_ref l) {
  for (size_t i = 0; i < l.len; i++)
    if (l.start[i] != ' ' && l.start[i] != '\t') return false;
  return true;
}

static bool is_comment(line_ref l) {
  size_t i = 0;
  while (i < l.len && (l.start[i] == ' ' || l.start[i] == '\t')) i++;
  return i < l.len && l.start[i] == '#';
}

/* "# key=value" → handled (1), not a directive (0), error (-1). */
static int directive(ld_dockerfile *df, line_ref l, int lineno, ld_error **err) {
  char *s = ld_xstrndup(l.start, l.len);
  char *p = s;
  int r = 0;
  if (*p++ != '#') goto out;
  while (*p == ' ' || *p == '\t') p++;
  char *k = p;
  while (isalpha((unsigned char) *p)) p++;
  char *kend = p;
  while (*p == ' ' || *p == '\t') p++;
  if (*p != '=' || kend == k) goto out;
  *kend = 0;
  p++;
  while (*p == ' ' || *p == '\t') p++;
  char *v = p, *vend = v + strlen(v);
  while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t')) *--vend = 0;
  if (!strcasecmp(k, "escape")) {
    if (strcmp(v, "\\") && strcmp(v, "`")) {
      r = ld_err(err, LD_EFORMAT, "%s:%d:1: invalid escape token '%s': must be ` or \\", df->path, lineno, v);
      goto out;
    }
    df->escape = v[0];
    r = 1;
  } else if (!strcasecmp(k, "syntax")) {
    free(df->syntax);
    df->syntax = ld_xstrdup(v);
    r = 1;
  } else if (!strcasecmp(k, "check")) {
    r = 1;
  }
out:
  free(s);
  return r;
}

static bool ends_with_escape(line_ref l, char escape, size_t *content_len) {
  size_t e = l.len;
  while (e > 0 && (l.start[e - 1] == ' ' || l.start[e - 1] == '\t')) e--;
  if (e > 0 && l.start[e - 1] == escape) {
    *content_len = e - 1;
    return true;
  }
  *content_len = l.len;
  return false;
}

/* Joins the instruction starting at lines[*i]; advances *i past it. */
static char *join_instruction(parse_ctx *c, line_ref *lines, size_t n, size_t *i) {
  ld_buf b = {0};
  c->n_segs = 0;
  bool first = true;
  while (*i < n) {
    line_ref l = lines[*i];
    if (!first && (is_comment(l) || is_blank(l))) {
      (*i)++;
      continue;
    }
    first = false;
    size_t content;
    bool cont = ends_with_escape(l, c->escape, &content);
    c->segs = ld_xrealloc(c->segs, (c->n_segs + 1) * sizeof *c->segs);
    c->segs[c->n_segs++] = (segment){b.len, (int) *i + 1, 1};
    ld_buf_append(&b, l.start, content);
    (*i)++;
    if (!cont) break;
  }
  ld_buf_append(&b, "", 0);
  if (!b.data) return ld_xstrdup("");
  return ld_buf_steal(&b);
}

static int read_heredocs(const parse_ctx *c, ld_df_instr *in, line_ref *lines, size_t n, size_t *i,
                         ld_error **err) {
  for (size_t h = 0; h < in->n_heredocs; h++) {
    ld_df_heredoc *hd = &in->heredocs[h];
    ld_buf body = {0};
    bool found = false;
    while (*i < n) {
      line_ref l = lines[(*i)++];
      const char *s = l.start;
      size_t len = l.len;
      if (hd->strip_tabs)
        while (len && *s == '\t') s++, len--;
      if (len == strlen(hd->name) && !memcmp(s, hd->name, len)) {
        found = true;
        break;
      }
      ld_buf_append(&body, s, len);
      ld_buf_append(&body, "\n", 1);
    }
    if (!found) {
      ld_buf_free(&body);
      return ld_err(err, LD_EFORMAT, "%s:%d:%d: unterminated heredoc <<%s (no line \"%s\")", c->path,
                    in->line, in->column, hd->name, hd->name);
    }
    hd->content = body.data ? ld_buf_steal(&body) : ld_xstrdup("");
  }
  in->end_line = (int) *i;
  return 0;
}

static void add_stage(ld_dockerfile *df, size_t first) {
  df->stages = ld_xrealloc(df->stages, (df->n_stages + 1) * sizeof *df->stages);
  ld_df_instr *from = &df->instrs[first];
  df->stages[df->n_stages++] = (ld_df_stage){from->n_args == 3 ? ld_xstrdup(from->args[2]) : NULL, first, 0};
}

static int build_stages(ld_dockerfile *df, ld_error **err) {
  bool seen_from = false;
  for (size_t k = 0; k < df->n_instrs; k++) {
    ld_df_instr *in = &df->instrs[k];
    if (in->cmd == LD_DF_FROM) {
      if (in->n_args == 3)
        for (size_t s = 0; s < df->n_stages; s++)
          if (df->stages[s].name && !strcmp(df->stages[s].name, in->args[2]))
            return ld_err(err, LD_EFORMAT, "%s:%d:%d: duplicate stage name \"%s\"", df->path, in->line,
                          in->column, in->args[2]);
      add_stage(df, k);
      seen_from = true;
    } else if (!seen_from) {
      if (in->cmd != LD_DF_ARG)
        return ld_err(err, LD_EFORMAT, "%s:%d:%d: %s before the first FROM (only ARG may come first)",
                      df->path, in->line, in->column, in->keyword);
      df->n_meta_args++;
    }
    if (df->n_stages) df->stages[df->n_stages - 1].count++;
  }
  if (!df->n_stages) return ld_err(err, LD_EFORMAT, "%s: no FROM instruction", df->path);
  return 0;
}

int ld_dockerfile_parse(const char *buf, size_t len, const char *path, ld_dockerfile **out,
                        ld_error **err) {
  ld_dockerfile *df = ld_xcalloc(1, sizeof *df);
  df->path = ld_xstrdup(path ? path : "Dockerfile");
  df->escape = '\\';
  line_ref *lines;
  size_t n;
  split_lines(buf, len, &lines, &n);
  parse_ctx c = {df->path, '\\', NULL, 0};
  size_t i = 0;
  int r = 0;
  for (; i < n; i++) { /* directives */
    int d = directive(df, lines[i], (int) i + 1, err);
    if (d < 0) { r = -1; goto done; }
    if (d == 0) break;
  }
  c.escape = df->escape;
  while (i < n) {
    if (is_blank(lines[i]) || is_comment(lines[i])) { i++; continue; }
    char *text = join_instruction(&c, lines, n, &i);
    df->instrs = ld_xrealloc(df->instrs, (df->n_instrs + 1) * sizeof *df->instrs);
    ld_df_instr *in = &df->instrs[df->n_instrs++];
    memset(in, 0, sizeof *in);
    r = parse_instruction(&c, text, 0, in, false, err);
    free(text);
    if (r == 0) {
      in->end_line = (int) i;
      r = read_heredocs(&c, in, lines, n, &i, err);
    }
    if (r < 0) goto done;
  }
  r = build_stages(df, err);
done:
  free(c.segs);
  free(lines);
  if (r < 0) {
    ld_dockerfile_free(df);
    return -1;
  }
  *out = df;
  return 0;
}

int ld_dockerfile_load(const char *path, ld_dockerfile **out, ld_error **err) {
  char *buf;
  size_t len;
  if (ld_read_file(path, 16u << 20, &buf, &len, err) < 0) return -1;
  int r = ld_dockerfile_parse(buf, len, path, out, err);
  free(buf);
  return r;
}

void ld_dockerfile_free(ld_dockerfile *df) {
  if (!df) return;
  for (size_t i = 0; i < df->n_instrs; i++) instr_clear(&df->instrs[i]);
  free(df->instrs);
  for (size_t i = 0; i < df->n_stages; i++) free(df->stages[i].name);
  free(df->stages);
  free(df->syntax);
  free(df->path);
  free(df);
}

const char *ld_df_flag(const ld_df_instr *in, const char *name) {
  for (size_t i = 0; i < in->n_flags; i++)
    if (!strcmp(in->flags[i].key, name)) return in->flags[i].value;
  return NULL;
}

int ld_df_stage_index(const ld_dockerfile *df, const char *ref) {
  for (size_t i = 0; i < df->n_stages; i++)
    if (df->stages[i].name && !strcasecmp(df->stages[i].name, ref)) return (int) i;
  char *end;
  long v = strtol(ref, &end, 10);
  if (*ref && !*end && v >= 0 && (size_t) v < df->n_stages) return (int) v;
  return -1;
}
