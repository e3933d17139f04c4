/* Pinning: judging references, resolving tags to digests, rewriting and diffing in place.
 *
 * A pinned reference keeps what the user wrote and gains "@sha256:<hex>" of the top-level
 * manifest (the index for multi-platform images, which is what a kubelet resolves): "nginx:1.25"
 * becomes "nginx:1.25@sha256:…". The tag stays for humans; the digest is what runtimes use.
 *
 * Resolution goes through the same places images come from: the store (a bare name) or a
 * registry (docker://). AUTO asks the store first and the registry when the store does not have
 * the name, so pinning works offline for images already pulled.
 *
 * Rewriting replaces byte ranges only; pinning never adds or removes a line, so the diff is
 * computed line by line with the lines of both versions in one-to-one correspondence.
 */
#include <string.h>
#include "lading/digest.h"
#include "lading/policy.h"
#include "lading/reference.h"
#include "lading/store.h"
#include "lading/util.h"

unsigned ld_pin_problems(const char *ref) {
  ld_reference r;
  if (ld_reference_parse(ref, &r, NULL) < 0) return LD_REF_INVALID;
  unsigned p = 0;
  if (!r.digest) p |= LD_REF_UNPINNED;
  if (!r.tag && !r.digest) p |= LD_REF_TAGLESS;
  if (r.tag && !strcmp(r.tag, "latest")) p |= LD_REF_LATEST;
  ld_reference_clear(&r);
  return p;
}

char *ld_pin_problems_text(unsigned p) {
  ld_buf b = {0};
  static const struct {
    unsigned bit;
    const char *text;
  } names[] = {{LD_REF_INVALID, "not a valid image reference"},
               {LD_REF_UNPINNED, "not pinned to a digest"},
               {LD_REF_TAGLESS, "no tag (implicitly latest)"},
               {LD_REF_LATEST, "tag latest"}};
  for (size_t i = 0; i < LD_ARRAY_SIZE(names); i++)
    if (p & names[i].bit) ld_buf_printf(&b, "%s%s", b.len ? "; " : "", names[i].text);
  ld_buf_append(&b, "", 1);
  return ld_buf_steal(&b);
}

/* ---- rewriting ---- */

static const ld_ref_site *sort_base;
static int by_offset(const void *a, const void *b) {
  size_t x = sort_base[*(const size_t *) a].offset, y = sort_base[*(const size_t *) b].offset;
  return x < y ? -1 : x > y;
}

char *ld_pin_apply(const char *buf, size_t len, const ld_ref_site *sites, size_t n,
                   char *const *replacement, size_t *out_len) {
  size_t *order = ld_xcalloc(n ? n : 1, sizeof *order);
  for (size_t i = 0; i < n; i++) order[i] = i;
  sort_base = sites;
  qsort(order, n, sizeof *order, by_offset);
  ld_buf b = {0};
  size_t pos = 0;
  for (size_t k = 0; k < n; k++) {
    const ld_ref_site *s = &sites[order[k]];
    if (!replacement[order[k]] || s->offset < pos) continue;
    ld_buf_append(&b, buf + pos, s->offset - pos);
    ld_buf_puts(&b, replacement[order[k]]);
    pos = s->offset + s->len;
  }
  ld_buf_append(&b, buf + pos, len - pos);
  free(order);
  *out_len = b.len;
  ld_buf_append(&b, "", 1);
  return ld_buf_steal(&b);
}

/* ---- diff ---- */

typedef struct lines {
  const char **start;
  size_t *len; /* including the '\n' if any */
  size_t n;
} lines;

static void split_lines(const char *s, size_t len, lines *out) {
  size_t cap = 16;
  out->start = ld_xmalloc(cap * sizeof *out->start);
  out->len = ld_xmalloc(cap * sizeof *out->len);
  out->n = 0;
  for (size_t i = 0; i < len;) {
    const char *nl = memchr(s + i, '\n', len - i);
    size_t l = nl ? (size_t) (nl - (s + i)) + 1 : len - i;
    if (out->n == cap) {
      cap *= 2;
      out->start = ld_xrealloc(out->start, cap * sizeof *out->start);
      out->len = ld_xrealloc(out->len, cap * sizeof *out->len);
    }
    out->start[out->n] = s + i;
    out->len[out->n++] = l;
    i += l;
  }
}

static void emit_line(ld_buf *out, char mark, const char *s, size_t len) {
  ld_buf_append(out, &mark, 1);
  ld_buf_append(out, s, len);
  if (!len || s[len - 1] != '\n') ld_buf_puts(out, "\n\\ No newline at end of file\n");
}

static bool line_differs(const lines *a, const lines *b, size_t i) {
  return a->len[i] != b->len[i] || memcmp(a->start[i], b->start[i], a->len[i]);
}

static void emit_hunk(ld_buf *out, const lines *a, const lines *b, size_t from, size_t to) {
  ld_buf_printf(out, "@@ -%zu,%zu +%zu,%zu @@\n", from + 1, to - from, from + 1, to - from);
  for (size_t i = from; i < to;) {
    if (!line_differs(a, b, i)) {
      emit_line(out, ' ', a->start[i], a->len[i]);
      i++;
      continue;
    }
    size_t j = i;
    while (j < to && line_differs(a, b, j)) j++;
    for (size_t k = i; k < j; k++) emit_line(out, '-', a->start[k], a->len[k]);
    for (size_t k = i; k < j; k++) emit_line(out, '+', b->start[k], b->len[k]);
    i = j;
  }
}

void ld_pin_diff(const char *name, const char *a, size_t a_len, const char *b, size_t b_len,
                 ld_buf *out) {
  lines la, lb;
  split_lines(a, a_len, &la);
  split_lines(b, b_len, &lb);
  size_t n = la.n < lb.n ? la.n : lb.n;
  bool header = false;
  for (size_t i = 0; i < n;) {
    if (!line_differs(&la, &lb, i)) {
      i++;
      continue;
    }
    size_t from = i >= 3 ? i - 3 : 0, last = i;
    /* extend while another change is within 6 lines (its context would overlap ours) */
    for (size_t j = i + 1; j < n && j <= last + 6; j++)
      if (line_differs(&la, &lb, j)) last = j;
    size_t to = last + 4 < n ? last + 4 : n;
    if (!header) {
      ld_buf_printf(out, "--- a/%s\n+++ b/%s\n", name, name);
      header = true;
    }
    emit_hunk(out, &la, &lb, from, to);
    i = last + 1;
  }
  free(la.start);
  free(la.len);
  free(lb.start);
  free(lb.len);
}

/* ---- resolution ---- */

static int resolve_store(const char *ref, const ld_transport_opts *o, char digest[LD_DIGEST_MAX],
                         ld_error **err) {
  if (!o || !o->store) return ld_err(err, EINVAL, "%s: no store to resolve in", ref);
  ld_descriptor d;
  if (ld_store_resolve(o->store, ref, &d, NULL, err) < 0) return -1;
  snprintf(digest, LD_DIGEST_MAX, "%s", d.digest);
  ld_descriptor_clear(&d);
  return 0;
}

static int resolve_registry(const char *ref, const ld_transport_opts *o,
                            char digest[LD_DIGEST_MAX], ld_error **err) {
  char *spec = ld_xasprintf("docker://%s", ref);
  ld_image_src *src = NULL;
  char *bytes = NULL, *mt = NULL;
  size_t len;
  int rc = ld_image_src_open(spec, o, &src, err);
  if (rc == 0) rc = src->get_manifest(src, NULL, &bytes, &len, &mt, err);
  if (rc == 0) ld_digest_buf(LD_SHA256, bytes, len, digest);
  ld_image_src_close(src);
  free(bytes);
  free(mt);
  free(spec);
  return rc;
}

int ld_pin_resolve(const char *ref, ld_resolve_mode mode, const ld_transport_opts *o,
                   char digest[LD_DIGEST_MAX], ld_error **err) {
  if (mode == LD_RESOLVE_STORE) return resolve_store(ref, o, digest, err);
  if (mode == LD_RESOLVE_REGISTRY) return resolve_registry(ref, o, digest, err);
  ld_error *e = NULL;
  if (o && o->store && resolve_store(ref, o, digest, &e) == 0) return 0;
  ld_error_free(e);
  return resolve_registry(ref, o, digest, err);
}
