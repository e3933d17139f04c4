/* Finding image references in files, as byte ranges of the original text.
 *
 * YAML: every document is loaded with libyaml's document API, whose nodes keep the marks (start,
 * end) of the text they came from; we walk the known shapes (Kubernetes workloads and Lists,
 * compose services) and record the range of each image scalar. Marks count characters, not bytes
 * (a CRLF counts 2, a multi-byte UTF-8 character 1), so they are converted to byte offsets
 * through a table built once per file. A node with an anchor or a tag has its start mark on the
 * "&anchor"/"!tag", so the scalar's own text is found by skipping those; and the text between the
 * marks must be exactly the value (plain or quoted without escapes) or the site is left alone
 * with a warning — in-place rewriting must never guess. An alias ("image: *img") resolves to the
 * anchored node, so the anchor's definition is what gets pinned, once.
 *
 * Dockerfiles: FROM lines, skipping flags (--platform=...), `scratch`, earlier stage names and
 * references built from ARGs ("$VAR"), which cannot be pinned in place.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>
#include "lading/policy.h"
#include "lading/util.h"

#define YAML_MAX (16u << 20)

void ld_pin_scan_clear(ld_pin_scan *s) {
  for (size_t i = 0; i < s->n_sites; i++) {
    free(s->sites[i].value);
    free(s->sites[i].where);
  }
  for (size_t i = 0; i < s->n_warnings; i++) free(s->warnings[i]);
  free(s->sites);
  free(s->warnings);
  memset(s, 0, sizeof *s);
}

static void warn(ld_pin_scan *s, char *msg) {
  s->warnings = ld_xrealloc(s->warnings, (s->n_warnings + 1) * sizeof *s->warnings);
  s->warnings[s->n_warnings++] = msg;
}

static unsigned line_of(const char *buf, size_t off) {
  unsigned line = 1;
  for (size_t i = 0; i < off; i++) line += buf[i] == '\n';
  return line;
}

static void add_site(ld_pin_scan *s, const char *buf, size_t off, size_t len, const char *where) {
  for (size_t i = 0; i < s->n_sites; i++)
    if (s->sites[i].offset == off) return; /* an alias to an anchor already recorded */
  s->sites = ld_xrealloc(s->sites, (s->n_sites + 1) * sizeof *s->sites);
  ld_ref_site *r = &s->sites[s->n_sites++];
  r->offset = off;
  r->len = len;
  r->line = line_of(buf, off);
  r->value = ld_xstrndup(buf + off, len);
  r->where = ld_xstrdup(where);
}

ld_pin_format ld_pin_format_of(const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  if (!strncasecmp(base, "Dockerfile", 10) || !strncasecmp(base, "Containerfile", 13) ||
      ld_str_has_suffix(base, ".Dockerfile") || ld_str_has_suffix(base, ".dockerfile") ||
      ld_str_has_suffix(base, ".Containerfile"))
    return LD_PIN_DOCKERFILE;
  return LD_PIN_YAML;
}

/* ---- YAML ---- */

typedef struct yaml_ctx {
  const char *name, *buf;
  size_t len;
  size_t *char_to_byte; /* char index -> byte offset, n_chars + 1 entries */
  size_t n_chars;
  yaml_document_t *doc;
  ld_pin_scan *out;
} yaml_ctx;

static void build_char_table(yaml_ctx *c) {
  size_t start = c->len >= 3 && !memcmp(c->buf, "\xef\xbb\xbf", 3) ? 3 : 0;
  c->char_to_byte = ld_xmalloc((c->len - start + 1) * sizeof *c->char_to_byte);
  size_t n = 0;
  for (size_t i = start; i < c->len; i++)
    if (((unsigned char) c->buf[i] & 0xc0) != 0x80) c->char_to_byte[n++] = i;
  c->char_to_byte[n] = c->len;
  c->n_chars = n;
}

static size_t byte_at(const yaml_ctx *c, size_t char_index) {
  return c->char_to_byte[char_index < c->n_chars ? char_index : c->n_chars];
}

static yaml_node_t *map_get(yaml_ctx *c, yaml_node_t *map, const char *key) {
  if (!map || map->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *) k->data.scalar.value, key))
      return yaml_document_get_node(c->doc, p->value);
  }
  return NULL;
}

static const char *scalar(yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : NULL;
}

/* Records the scalar node n as a site, after checking its text is exactly its value. */
static void image_scalar(yaml_ctx *c, yaml_node_t *n, const char *where) {
  if (!n) return;
  size_t line = n->start_mark.line + 1;
  if (n->type != YAML_SCALAR_NODE) {
    warn(c->out, ld_xasprintf("%s:%zu: %s is not a scalar; left alone", c->name, line, where));
    return;
  }
  const char *value = (const char *) n->data.scalar.value;
  size_t vlen = n->data.scalar.length;
  size_t a = byte_at(c, n->start_mark.index), b = byte_at(c, n->end_mark.index);
  /* skip "&anchor" and "!tag" properties that the start mark covers */
  while (a < b && (c->buf[a] == '&' || c->buf[a] == '!')) {
    while (a < b && !isspace((unsigned char) c->buf[a])) a++;
    while (a < b && isspace((unsigned char) c->buf[a])) a++;
  }
  yaml_scalar_style_t st = n->data.scalar.style;
  if (st == YAML_SINGLE_QUOTED_SCALAR_STYLE || st == YAML_DOUBLE_QUOTED_SCALAR_STYLE) {
    char q = st == YAML_SINGLE_QUOTED_SCALAR_STYLE ? '\'' : '"';
    if (b - a >= 2 && c->buf[a] == q && c->buf[b - 1] == q) a++, b--;
    else a = b + 1; /* force the mismatch below */
  } else if (st != YAML_PLAIN_SCALAR_STYLE) {
    a = b + 1;
  }
  if (a > b || b - a != vlen || memcmp(c->buf + a, value, vlen)) {
    warn(c->out, ld_xasprintf("%s:%zu: %s \"%s\" cannot be rewritten in place (escaped, "
                              "block or multi-line scalar); left alone",
                              c->name, line, where, value));
    return;
  }
  add_site(c->out, c->buf, a, vlen, where);
}

static void containers(yaml_ctx *c, yaml_node_t *podspec, const char *obj) {
  static const char *lists[] = {"initContainers", "containers", "ephemeralContainers"};
  for (size_t l = 0; l < LD_ARRAY_SIZE(lists); l++) {
    yaml_node_t *seq = map_get(c, podspec, lists[l]);
    if (!seq || seq->type != YAML_SEQUENCE_NODE) continue;
    size_t i = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++, i++) {
      yaml_node_t *ctr = yaml_document_get_node(c->doc, *it);
      yaml_node_t *img = map_get(c, ctr, "image");
      if (!img) continue;
      char *where = ld_xasprintf("%s: %s[%zu].image", obj, lists[l], i);
      image_scalar(c, img, where);
      free(where);
    }
  }
}

/* The pod spec inside a workload object of the given kind, or NULL. */
static yaml_node_t *pod_spec(yaml_ctx *c, yaml_node_t *obj, const char *kind) {
  yaml_node_t *spec = map_get(c, obj, "spec");
  if (!strcmp(kind, "Pod")) return spec;
  if (!strcmp(kind, "PodTemplate")) return map_get(c, map_get(c, obj, "template"), "spec");
  static const char *templated[] = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job",
                                    "ReplicationController"};
  for (size_t i = 0; i < LD_ARRAY_SIZE(templated); i++)
    if (!strcmp(kind, templated[i])) return map_get(c, map_get(c, spec, "template"), "spec");
  if (!strcmp(kind, "CronJob")) {
    yaml_node_t *job = map_get(c, map_get(c, spec, "jobTemplate"), "spec");
    return map_get(c, map_get(c, job, "template"), "spec");
  }
  return NULL;
}

static void k8s_object(yaml_ctx *c, yaml_node_t *obj, int depth) {
  const char *kind = scalar(map_get(c, obj, "kind"));
  if (!kind || depth > 8) return;
  if (ld_str_has_suffix(kind, "List")) {
    yaml_node_t *items = map_get(c, obj, "items");
    if (items && items->type == YAML_SEQUENCE_NODE)
      for (yaml_node_item_t *it = items->data.sequence.items.start;
           it < items->data.sequence.items.top; it++)
        k8s_object(c, yaml_document_get_node(c->doc, *it), depth + 1);
    return;
  }
  yaml_node_t *ps = pod_spec(c, obj, kind);
  if (!ps) return;
  const char *name = scalar(map_get(c, map_get(c, obj, "metadata"), "name"));
  char *label = ld_xasprintf("%s/%s", kind, name ? name : "?");
  containers(c, ps, label);
  free(label);
}

static void compose_file(yaml_ctx *c, yaml_node_t *root) {
  yaml_node_t *services = map_get(c, root, "services");
  if (!services || services->type != YAML_MAPPING_NODE) return;
  for (yaml_node_pair_t *p = services->data.mapping.pairs.start;
       p < services->data.mapping.pairs.top; p++) {
    const char *svc = scalar(yaml_document_get_node(c->doc, p->key));
    yaml_node_t *img = map_get(c, yaml_document_get_node(c->doc, p->value), "image");
    if (!svc || !img) continue;
    char *where = ld_xasprintf("services.%s.image", svc);
    image_scalar(c, img, where);
    free(where);
  }
}

static int scan_yaml(const char *name, const char *buf, size_t len, ld_pin_scan *out,
                     ld_error **err) {
  if (len > YAML_MAX) return ld_err(err, EFBIG, "%s: larger than %u bytes", name, YAML_MAX);
  yaml_ctx c = {.name = name, .buf = buf, .len = len, .out = out};
  build_char_table(&c);
  yaml_parser_t parser;
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_string(&parser, (const unsigned char *) buf, len);
  int rc = 0;
  for (;;) {
    yaml_document_t doc;
    if (!yaml_parser_load(&parser, &doc)) {
      rc = ld_err(err, LD_EFORMAT, "%s:%zu:%zu: YAML: %s", name, parser.problem_mark.line + 1,
                  parser.problem_mark.column + 1, parser.problem ? parser.problem : "error");
      break;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
      yaml_document_delete(&doc);
      break;
    }
    c.doc = &doc;
    if (map_get(&c, root, "kind")) k8s_object(&c, root, 0);
    else compose_file(&c, root);
    yaml_document_delete(&doc);
  }
  yaml_parser_delete(&parser);
  free(c.char_to_byte);
  return rc;
}

/* ---- Dockerfile ---- */

/* Next whitespace-separated token of [*p, end) on the line; false at end of line. */
static bool token(const char **p, const char *end, const char **tok, size_t *tlen) {
  while (*p < end && (**p == ' ' || **p == '\t')) (*p)++;
  if (*p >= end || **p == '\r' || **p == '\n') return false;
  *tok = *p;
  while (*p < end && !isspace((unsigned char) **p)) (*p)++;
  *tlen = (size_t) (*p - *tok);
  return true;
}

static bool is_stage(char **stages, size_t n, const char *tok, size_t tlen) {
  for (size_t i = 0; i < n; i++)
    if (strlen(stages[i]) == tlen && !strncasecmp(stages[i], tok, tlen)) return true;
  return false;
}

static void from_line(const char *name, const char *buf, const char *p, const char *eol,
                      ld_pin_scan *out, char ***stages, size_t *n_stages) {
  const char *tok, *image = NULL;
  size_t tlen, ilen = 0;
  while (token(&p, eol, &tok, &tlen)) {
    if (!image && tlen > 2 && !strncmp(tok, "--", 2)) continue; /* --platform=... */
    if (!image) {
      image = tok, ilen = tlen;
      continue;
    }
    if (tlen == 2 && !strncasecmp(tok, "AS", 2) && token(&p, eol, &tok, &tlen)) {
      *stages = ld_xrealloc(*stages, (*n_stages + 1) * sizeof **stages);
      (*stages)[(*n_stages)++] = ld_xstrndup(tok, tlen);
    }
    break;
  }
  if (!image || (ilen == 7 && !strncasecmp(image, "scratch", 7)) ||
      is_stage(*stages, *n_stages, image, ilen))
    return;
  size_t off = (size_t) (image - buf);
  if (ilen == 1 && *image == '\\') {
    warn(out, ld_xasprintf("%s:%u: FROM continued on the next line; left alone", name,
                           line_of(buf, off)));
    return;
  }
  if (memchr(image, '$', ilen)) {
    warn(out, ld_xasprintf("%s:%u: FROM %.*s uses a build argument; left alone", name,
                           line_of(buf, off), (int) ilen, image));
    return;
  }
  add_site(out, buf, off, ilen, "FROM");
}

static void scan_dockerfile(const char *name, const char *buf, size_t len, ld_pin_scan *out) {
  char **stages = NULL;
  size_t n_stages = 0;
  for (const char *line = buf, *end = buf + len; line < end;) {
    const char *eol = memchr(line, '\n', (size_t) (end - line));
    if (!eol) eol = end;
    const char *p = line;
    while (p < eol && (*p == ' ' || *p == '\t')) p++;
    if (eol - p > 5 && !strncasecmp(p, "FROM", 4) && (p[4] == ' ' || p[4] == '\t'))
      from_line(name, buf, p + 4, eol, out, &stages, &n_stages);
    line = eol + 1;
  }
  for (size_t i = 0; i < n_stages; i++) free(stages[i]);
  free(stages);
}

static int by_offset(const void *a, const void *b) {
  size_t x = ((const ld_ref_site *) a)->offset, y = ((const ld_ref_site *) b)->offset;
  return x < y ? -1 : x > y;
}

int ld_pin_scan_buf(const char *name, ld_pin_format format, const char *buf, size_t len,
                    ld_pin_scan *out, ld_error **err) {
  memset(out, 0, sizeof *out);
  out->format = format;
  /* Text only: a NUL would cut a reference's value short of the bytes pin rewrites. */
  const char *nul = memchr(buf, '\0', len);
  if (nul)
    return ld_err(err, LD_EFORMAT, "%s: not a text file (NUL byte at offset %zu)", name,
                  (size_t) (nul - buf));
  if (format == LD_PIN_DOCKERFILE) {
    scan_dockerfile(name, buf, len, out);
    return 0;
  }
  if (scan_yaml(name, buf, len, out, err) < 0) {
    ld_pin_scan_clear(out);
    return -1;
  }
  if (out->n_sites > 1) qsort(out->sites, out->n_sites, sizeof *out->sites, by_offset);
  return 0;
}
