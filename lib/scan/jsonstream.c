/* The members of a large top-level JSON object, one at a time.
 *
 * The Debian security tracker's JSON is one object of ~70 MB (package name -> CVE -> ...);
 * parsed whole by jansson it takes ~1 GB. Its members are small (the largest package, linux,
 * is a few MB), so the importer reads the file in chunks and hands over one member at a time
 * ("NAME": VALUE, as bytes), to be parsed with json_loadb on its own.
 *
 * Finding the boundaries needs no parser: a small state machine tracks only whether it is
 * inside a string, after a backslash in one, and the nesting depth of {} and []. A member ends
 * at a "," or the closing "}" at depth 1. Nothing else is validated here: each member is parsed
 * by jansson (which rejects anything malformed inside it, including a missing comma between
 * two members, which would make one member of both), and the splitter rejects an empty member
 * (",," or a trailing comma), a top level that is not an object, bytes after the object's end,
 * and a stream that ends inside it. Positions (line, column, byte offset) are kept so that an
 * error names the place in the file, not in the member.
 */
#include <string.h>
#include "lading/util.h"
#include "scan/scan_priv.h"

void ld_json_members_init(ld_json_members *m, const char *what) {
  memset(m, 0, sizeof *m);
  m->what = what;
  m->line = 1;
  m->col = 1;
}

void ld_json_members_clear(ld_json_members *m) { ld_buf_free(&m->member); }

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static bool blank(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!is_space(p[i])) return false;
  return true;
}

/* Hands the finished member to emit; an empty one is an error unless it closes "{}". */
static int finish_member(ld_json_members *m, bool closing, ld_json_member_fn emit, void *ctx,
                         ld_error **err) {
  const char *p = m->member.data ? m->member.data : "";
  size_t n = m->member.len;
  if (blank(p, n)) {
    if (closing && m->count == 0) return 0; /* "{}" */
    return ld_err(err, LD_EFORMAT, "%s: malformed JSON at line %d column %d: empty object member",
                  m->what, m->line, m->col);
  }
  ld_json_member mem = {.text = p, .len = n, .line = m->mline, .col = m->mcol, .offset = m->moff};
  m->count++;
  int r = emit(ctx, &mem, err);
  m->member.len = 0;
  return r; /* < 0 error, > 0 the consumer wants no more */
}

static void advance(ld_json_members *m, char c) {
  m->offset++;
  if (c == '\n') m->line++, m->col = 1;
  else m->col++;
}

static int fail_at(ld_json_members *m, const char *why, ld_error **err) {
  return ld_err(err, LD_EFORMAT, "%s: malformed JSON at line %d column %d: %s", m->what, m->line,
                m->col, why);
}

int ld_json_members_feed(ld_json_members *m, const char *buf, size_t len, ld_json_member_fn emit,
                         void *ctx, ld_error **err) {
  for (size_t i = 0; i < len; advance(m, buf[i]), i++) {
    char c = buf[i];
    if (m->done) {
      if (!is_space(c)) return fail_at(m, "data after the end of the object", err);
      continue;
    }
    if (m->depth == 0) {
      if (c == '{') m->depth = 1;
      else if (!is_space(c)) return fail_at(m, "the document is not a JSON object", err);
      continue;
    }
    if (!m->in_str && m->depth == 1) { /* the object's own punctuation */
      if (c == ',' || c == '}') {
        int r = finish_member(m, c == '}', emit, ctx, err);
        if (r != 0) return r;
        m->done = c == '}';
        continue;
      }
      if (c == ']') return fail_at(m, "unbalanced ']'", err);
    }
    if (m->in_str) {
      if (m->esc) m->esc = false;
      else if (c == '\\') m->esc = true;
      else if (c == '"') m->in_str = false;
    } else if (c == '"') {
      m->in_str = true;
    } else if (c == '{' || c == '[') {
      m->depth++;
    } else if (c == '}' || c == ']') {
      m->depth--;
    }
    if (m->member.len == 0) {
      if (is_space(c)) continue; /* blanks before a member are not part of it */
      m->mline = m->line, m->mcol = m->col, m->moff = m->offset;
    }
    if (m->max_member && m->member.len >= m->max_member)
      return ld_err(err, LD_EFORMAT, "%s: the object member at line %d column %d is larger than %zu bytes",
                    m->what, m->mline, m->mcol, m->max_member);
    ld_buf_append(&m->member, &c, 1);
  }
  return 0;
}

int ld_json_members_end(ld_json_members *m, ld_error **err) {
  if (!m->done)
    return ld_err(err, LD_EFORMAT, "%s: malformed JSON: the document ends inside its top-level object (truncated)",
                  m->what);
  return 0;
}
