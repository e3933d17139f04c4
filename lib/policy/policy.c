/* Admission policy: a small YAML file evaluated against one image.
 *
 *   registries:          # allowed registries: "host[:port]", or "host/path" repository prefixes
 *     - registry.example.com
 *     - 127.0.0.1:5000/team
 *   requireDigest: true  # the image must be referenced by digest (REF@sha256:…)
 *   signatures:
 *     keys:              # at least one valid cosign signature by one of these public keys
 *       - keys/release.pub   # relative to the policy file
 *
 * Strict parsing: an unknown key, a wrong type or a key file that does not load is an error that
 * names the file and line — a typo must not turn a rule off silently. Every rule is evaluated
 * (no short-circuit), so one run prints every reason an image is refused.
 */
#include <string.h>
#include <strings.h>
#include <yaml.h>
#include "lading/digest.h"
#include "lading/fs.h"
#include "lading/policy.h"
#include "lading/reference.h"
#include "lading/util.h"

#define POLICY_MAX (1u << 20)

void ld_policy_clear(ld_policy *p) {
  for (size_t i = 0; i < p->n_registries; i++) free(p->registries[i]);
  for (size_t i = 0; i < p->n_keys; i++) {
    free(p->key_paths[i]);
    ld_key_free(p->keys[i]);
  }
  free(p->registries);
  free(p->key_paths);
  free(p->keys);
  free(p->path);
  memset(p, 0, sizeof *p);
}

typedef struct pctx {
  const char *name;
  yaml_document_t *doc;
} pctx;

static int at(const pctx *c, yaml_node_t *n, ld_error **err, const char *msg) {
  return ld_err(err, LD_EFORMAT, "%s:%zu: %s", c->name, n->start_mark.line + 1, msg);
}

/* A sequence of scalars into a string array. */
static int string_list(pctx *c, yaml_node_t *n, const char *key, char ***out, size_t *count,
                       ld_error **err) {
  if (n->type != YAML_SEQUENCE_NODE) {
    char *m = ld_xasprintf("%s must be a list", key);
    int rc = at(c, n, err, m);
    free(m);
    return rc;
  }
  for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
    yaml_node_t *v = yaml_document_get_node(c->doc, *it);
    if (!v || v->type != YAML_SCALAR_NODE || !v->data.scalar.length) {
      char *m = ld_xasprintf("%s entries must be non-empty strings", key);
      int rc = at(c, v ? v : n, err, m);
      free(m);
      return rc;
    }
    *out = ld_xrealloc(*out, (*count + 1) * sizeof **out);
    (*out)[(*count)++] = ld_xstrdup((const char *) v->data.scalar.value);
  }
  return 0;
}

static int parse_bool(pctx *c, yaml_node_t *n, bool *out, ld_error **err) {
  const char *v = n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : "";
  if (!strcasecmp(v, "true") || !strcasecmp(v, "yes")) *out = true;
  else if (!strcasecmp(v, "false") || !strcasecmp(v, "no")) *out = false;
  else return at(c, n, err, "requireDigest must be true or false");
  return 0;
}

static int parse_signatures(pctx *c, yaml_node_t *n, ld_policy *p, ld_error **err) {
  if (n->type != YAML_MAPPING_NODE) return at(c, n, err, "signatures must be a mapping with keys:");
  for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
    yaml_node_t *k = yaml_document_get_node(c->doc, pr->key);
    yaml_node_t *v = yaml_document_get_node(c->doc, pr->value);
    if (k->type == YAML_SCALAR_NODE && !strcmp((char *) k->data.scalar.value, "keys")) {
      if (string_list(c, v, "signatures.keys", &p->key_paths, &p->n_keys, err) < 0) return -1;
    } else {
      return at(c, k, err, "unknown key under signatures (keys)");
    }
  }
  if (!p->n_keys) return at(c, n, err, "signatures.keys lists no key");
  return 0;
}

static int parse_root(pctx *c, yaml_node_t *root, ld_policy *p, ld_error **err) {
  if (!root) return 0; /* empty policy: no rules */
  if (root->type != YAML_MAPPING_NODE) return at(c, root, err, "the policy must be a mapping");
  for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
       pr++) {
    yaml_node_t *k = yaml_document_get_node(c->doc, pr->key);
    yaml_node_t *v = yaml_document_get_node(c->doc, pr->value);
    const char *key = k->type == YAML_SCALAR_NODE ? (const char *) k->data.scalar.value : "";
    int rc;
    if (!strcmp(key, "registries")) {
      p->registries_set = true;
      rc = string_list(c, v, "registries", &p->registries, &p->n_registries, err);
    } else if (!strcmp(key, "requireDigest")) {
      rc = parse_bool(c, v, &p->require_digest, err);
    } else if (!strcmp(key, "signatures")) {
      rc = parse_signatures(c, v, p, err);
    } else {
      char *m = ld_xasprintf("unknown key \"%s\" (registries, requireDigest, signatures)", key);
      rc = at(c, k, err, m);
      free(m);
    }
    if (rc < 0) return -1;
  }
  return 0;
}

static int load_keys(ld_policy *p, const char *base_dir, ld_error **err) {
  p->keys = ld_xcalloc(p->n_keys + 1, sizeof *p->keys);
  for (size_t i = 0; i < p->n_keys; i++) {
    if (p->key_paths[i][0] != '/' && base_dir) {
      char *full = ld_path_join(base_dir, p->key_paths[i]);
      free(p->key_paths[i]);
      p->key_paths[i] = full;
    }
    if (ld_key_load_public(p->key_paths[i], &p->keys[i], err) < 0)
      return ld_error_wrap(err, "policy %s", p->path);
  }
  return 0;
}

int ld_policy_parse(const char *name, const char *buf, size_t len, const char *base_dir,
                    ld_policy *out, ld_error **err) {
  memset(out, 0, sizeof *out);
  out->path = ld_xstrdup(name);
  yaml_parser_t parser;
  yaml_document_t doc;
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_string(&parser, (const unsigned char *) buf, len);
  int rc;
  if (!yaml_parser_load(&parser, &doc)) {
    rc = ld_err(err, LD_EFORMAT, "%s:%zu: YAML: %s", name, parser.problem_mark.line + 1,
                parser.problem ? parser.problem : "error");
  } else {
    pctx c = {.name = name, .doc = &doc};
    rc = parse_root(&c, yaml_document_get_root_node(&doc), out, err);
    yaml_document_delete(&doc);
  }
  yaml_parser_delete(&parser);
  if (rc == 0) rc = load_keys(out, base_dir, err);
  if (rc < 0) ld_policy_clear(out);
  return rc;
}

int ld_policy_load(const char *path, ld_policy *out, ld_error **err) {
  ld_autofree char *buf = NULL;
  size_t len;
  if (ld_read_file(path, POLICY_MAX, &buf, &len, err) < 0) return -1;
  ld_autofree char *dir = ld_xstrdup(path);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  return ld_policy_parse(path, buf, len, slash ? dir : ".", out, err);
}

/* ---- evaluation ---- */

void ld_policy_result_clear(ld_policy_result *r) {
  for (size_t i = 0; i < r->n_rules; i++) free(r->rules[i].reason);
  free(r->registry);
  memset(r, 0, sizeof *r);
}

static void rule(ld_policy_result *r, const char *name, bool ok, char *reason) {
  ld_policy_rule *x = &r->rules[r->n_rules++];
  x->rule = name;
  x->ok = ok;
  x->reason = reason;
  if (!ok) r->allowed = false;
}

static bool registry_allowed(const ld_policy *p, const ld_reference *ref) {
  char *name = ld_reference_name(ref);
  bool ok = false;
  for (size_t i = 0; i < p->n_registries && !ok; i++) {
    const char *e = p->registries[i];
    if (strchr(e, '/'))
      ok = !strcmp(name, e) || (ld_str_has_prefix(name, e) && name[strlen(e)] == '/');
    else
      ok = !strcasecmp(ref->domain, e) ||
           (!strcmp(ref->domain, "docker.io") && !strcasecmp(e, "index.docker.io"));
  }
  free(name);
  return ok;
}

static void check_registry(const ld_policy *p, const ld_reference *ref, ld_policy_result *r) {
  if (!p->registries_set) return;
  if (!ref) {
    rule(r, "registries", false, ld_xstrdup("the image is not in a registry (a layout or archive)"));
    return;
  }
  bool ok = registry_allowed(p, ref);
  char *name = ld_reference_name(ref);
  rule(r, "registries", ok,
       ok ? ld_xasprintf("%s is in an allowed registry", name)
          : ld_xasprintf("%s is not in an allowed registry", name));
  free(name);
}

static void check_digest(const ld_policy *p, const ld_reference *ref, const char *actual,
                         ld_policy_result *r) {
  if (!p->require_digest) return;
  if (!ref || !ref->digest)
    rule(r, "requireDigest", false, ld_xstrdup("referenced by tag, not by digest"));
  else if (strcmp(ref->digest, actual))
    rule(r, "requireDigest", false,
         ld_xasprintf("referenced as %s but the image is %s", ref->digest, actual));
  else
    rule(r, "requireDigest", true, ld_xasprintf("referenced by digest %s", ref->digest));
}

static int check_signatures(const ld_policy *p, const char *spec, const ld_transport_opts *o,
                            ld_policy_result *r, ld_error **err) {
  if (!p->n_keys) return 0;
  ld_verify_result v;
  if (ld_verify_image(spec, p->keys, p->n_keys, o, &v, err) < 0) return -1;
  if (v.n_valid) {
    for (size_t i = 0; i < v.n_checks; i++)
      if (v.checks[i].valid) {
        rule(r, "signatures", true,
             ld_xasprintf("signed by %s", p->key_paths[v.checks[i].key_index]));
        break;
      }
  } else if (!v.sig_found) {
    rule(r, "signatures", false, ld_xstrdup("no signatures"));
  } else if (v.problem) {
    rule(r, "signatures", false, ld_xasprintf("unusable signatures: %s", v.problem));
  } else {
    rule(r, "signatures", false,
         ld_xasprintf("no valid signature by the policy's keys (%zu signature%s: %s)", v.n_checks,
                      v.n_checks == 1 ? "" : "s",
                      v.n_checks ? v.checks[0].reason : "none"));
  }
  ld_verify_result_clear(&v);
  return 0;
}

/* The reference part of a docker:// or store spec; NULL (and 0) for layouts and archives. */
static int spec_reference(const char *spec, ld_reference *ref, bool *has, ld_error **err) {
  ld_spec s;
  *has = false;
  if (ld_spec_parse(spec, &s, err) < 0) return -1;
  size_t hex = strspn(s.location, "0123456789abcdef");
  bool store_digest = !s.transport[0] && (ld_str_has_prefix(s.location, "sha256:") ||
                                          (hex >= 12 && !s.location[hex]));
  if (!store_digest && (!strcmp(s.transport, "docker://") || !s.transport[0])) {
    ld_error *e = NULL;
    if (ld_reference_parse(s.location, ref, &e) == 0) *has = true;
    else if (s.transport[0]) {
      ld_spec_clear(&s);
      if (err) *err = e;
      else ld_error_free(e);
      return -1;
    } else ld_error_free(e); /* a store digest (prefix) */
  }
  ld_spec_clear(&s);
  return 0;
}

int ld_policy_check(const ld_policy *p, const char *spec, const ld_transport_opts *o,
                    ld_policy_result *res, ld_error **err) {
  memset(res, 0, sizeof *res);
  res->allowed = true;
  ld_reference ref = {0};
  bool has_ref;
  ld_image_src *src = NULL;
  char *bytes = NULL, *mt = NULL;
  size_t len;
  int rc = -1;
  if (spec_reference(spec, &ref, &has_ref, err) < 0) return -1;
  if (ld_image_src_open(spec, o, &src, err) < 0 ||
      src->get_manifest(src, NULL, &bytes, &len, &mt, err) < 0)
    goto out;
  ld_digest_buf(LD_SHA256, bytes, len, res->digest);
  ld_image_src_close(src);
  src = NULL;
  if (has_ref) res->registry = ld_xstrdup(ref.domain);
  check_registry(p, has_ref ? &ref : NULL, res);
  check_digest(p, has_ref ? &ref : NULL, res->digest, res);
  rc = check_signatures(p, spec, o, res, err);
out:
  ld_image_src_close(src);
  free(bytes);
  free(mt);
  if (has_ref) ld_reference_clear(&ref);
  if (rc < 0) ld_policy_result_clear(res);
  return rc;
}
