/* dive's CI gate: three rules, read from a .dive-ci file, judged like dive judges them.
 *
 * A .dive-ci file is YAML with a "rules:" mapping (dive reads it through viper):
 *     rules:
 *       lowestEfficiency: 0.95          # fail when efficiency < 0.95
 *       highestWastedBytes: 20MB        # fail when wasted bytes > 20 MB (also 19MiB, 1024)
 *       highestUserWastedPercent: disabled
 * Values are kept as the strings written, as dive does, so "disabled" can switch any rule off
 * and messages quote the user's own spelling. Defaults are dive's: 0.9, disabled, 0.1. Keys
 * other than the three are ignored with a warning (dive ignores them silently; a typo would then
 * turn a gate off without anyone noticing). A value out of range or unparseable is an error
 * naming the file and the rule, where dive reports "misconfigured": either way no verdict.
 *
 * Comparisons are dive's: efficiency fails when threshold > efficiency; wasted bytes when
 * wasted > threshold; user-wasted percent when threshold < percent (so NaN, from an image with
 * a single layer, passes). Messages print numbers the way Go's %v does.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "lading/analyze.h"
#include "lading/fs.h"
#include "lading/log.h"
#include "lading/util.h"

static const char *const rule_names[LD_CI_N_RULES] = {
    [LD_CI_LOWEST_EFFICIENCY] = "lowestEfficiency",
    [LD_CI_HIGHEST_WASTED_BYTES] = "highestWastedBytes",
    [LD_CI_HIGHEST_USER_WASTED_PERCENT] = "highestUserWastedPercent",
};

const char *ld_ci_rule_name(int rule) {
  return rule >= 0 && rule < LD_CI_N_RULES ? rule_names[rule] : "?";
}

const char *ld_ci_status_name(ld_ci_status s) {
  return s == LD_CI_PASS ? "PASS" : s == LD_CI_FAIL ? "FAIL" : "SKIP";
}

void ld_ci_config_clear(ld_ci_config *c) {
  for (int i = 0; i < LD_CI_N_RULES; i++) free(c->value[i]);
  free(c->source);
  memset(c, 0, sizeof *c);
}

void ld_ci_config_defaults(ld_ci_config *c) {
  memset(c, 0, sizeof *c);
  c->value[LD_CI_LOWEST_EFFICIENCY] = ld_xstrdup("0.9");
  c->value[LD_CI_HIGHEST_WASTED_BYTES] = ld_xstrdup("disabled");
  c->value[LD_CI_HIGHEST_USER_WASTED_PERCENT] = ld_xstrdup("0.1");
}

static int rule_index(const char *name) {
  for (int i = 0; i < LD_CI_N_RULES; i++)
    if (!strcmp(name, rule_names[i])) return i;
  return -1;
}

int ld_ci_config_set(ld_ci_config *c, const char *rule, const char *value, ld_error **err) {
  int i = rule_index(rule);
  if (i < 0)
    return ld_err(err, LD_EUSAGE, "unknown CI rule '%s' (lowestEfficiency, highestWastedBytes, "
                                  "highestUserWastedPercent)", rule);
  free(c->value[i]);
  c->value[i] = ld_xstrdup(value);
  return 0;
}

/* ---- YAML ---- */

static const char *scalar(yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : NULL;
}

static int load_rules(ld_ci_config *c, yaml_document_t *doc, yaml_node_t *rules, const char *path,
                      ld_error **err) {
  if (rules->type != YAML_MAPPING_NODE)
    return ld_err(err, LD_EFORMAT, "%s: 'rules' must be a mapping of rule names to values", path);
  for (yaml_node_pair_t *p = rules->data.mapping.pairs.start; p < rules->data.mapping.pairs.top; p++) {
    const char *key = scalar(yaml_document_get_node(doc, p->key));
    const char *value = scalar(yaml_document_get_node(doc, p->value));
    if (!key) return ld_err(err, LD_EFORMAT, "%s: a rule name is not a plain string", path);
    int i = rule_index(key);
    if (i < 0) {
      ld_warn("%s: ignoring unknown rule '%s'", path, key);
      continue;
    }
    if (!value) return ld_err(err, LD_EFORMAT, "%s: rules.%s must be a single value", path, key);
    free(c->value[i]);
    c->value[i] = ld_xstrdup(value);
  }
  return 0;
}

static int load_document(ld_ci_config *c, yaml_document_t *doc, const char *path, ld_error **err) {
  yaml_node_t *root = yaml_document_get_root_node(doc);
  if (!root) return 0; /* an empty file: the defaults */
  if (root->type != YAML_MAPPING_NODE)
    return ld_err(err, LD_EFORMAT, "%s: expected a mapping with a 'rules:' key", path);
  for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
    const char *key = scalar(yaml_document_get_node(doc, p->key));
    if (key && !strcmp(key, "rules"))
      return load_rules(c, doc, yaml_document_get_node(doc, p->value), path, err);
  }
  return 0;
}

int ld_ci_config_load(ld_ci_config *c, const char *path, ld_error **err) {
  char *buf = NULL;
  size_t len = 0;
  if (ld_read_file(path, 1u << 20, &buf, &len, err) < 0)
    return ld_error_wrap(err, "CI rules");
  yaml_parser_t parser;
  yaml_document_t doc;
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_string(&parser, (const unsigned char *) buf, len);
  int r;
  if (!yaml_parser_load(&parser, &doc)) {
    r = ld_err(err, LD_EFORMAT, "%s: line %zu: %s", path, parser.problem_mark.line + 1,
               parser.problem ? parser.problem : "invalid YAML");
  } else {
    r = load_document(c, &doc, path, err);
    yaml_document_delete(&doc);
  }
  yaml_parser_delete(&parser);
  free(buf);
  if (r == 0) {
    free(c->source);
    c->source = ld_xstrdup(path);
  }
  return r;
}

/* ---- values ---- */

static bool disabled(const char *v) { return !strcmp(v, "disabled"); }

/* Go's strconv.ParseFloat accepts the whole string or nothing. */
static int parse_float(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end) return -1;
  *out = v;
  return 0;
}

static int parse_fraction(const ld_ci_config *c, int rule, double *out, ld_error **err) {
  const char *v = c->value[rule];
  const char *where = c->source ? c->source : "CI rules";
  if (parse_float(v, out) < 0)
    return ld_err(err, LD_EFORMAT, "%s: %s: invalid value '%s' (a number between 0 and 1, or "
                                  "disabled)", where, rule_names[rule], v);
  if (!(*out >= 0 && *out <= 1))
    return ld_err(err, LD_EFORMAT, "%s: %s: value '%s' is outside the allowed range (0-1)", where,
                  rule_names[rule], v);
  return 0;
}

static int parse_bytes(const ld_ci_config *c, int rule, uint64_t *out, ld_error **err) {
  const char *v = c->value[rule];
  if (ld_parse_size(v, out) < 0)
    return ld_err(err, LD_EFORMAT, "%s: %s: invalid size '%s' (e.g. 20MB, 19MiB, 1024, or "
                                  "disabled)", c->source ? c->source : "CI rules",
                  rule_names[rule], v);
  return 0;
}

int ld_ci_config_validate(const ld_ci_config *c, ld_error **err) {
  double f;
  uint64_t b;
  for (int i = 0; i < LD_CI_N_RULES; i++) {
    if (!c->value[i] || disabled(c->value[i])) continue;
    int r = i == LD_CI_HIGHEST_WASTED_BYTES ? parse_bytes(c, i, &b, err)
                                            : parse_fraction(c, i, &f, err);
    if (r < 0) return -1;
  }
  return 0;
}

/* ---- Go's %v for float64 ---- */

/* Shortest digits that read back as v, then Go's %g layout for the shortest precision: exponent
 * form when the decimal exponent is < -4 or >= 6 (1e+06, 1.234567e+06, 1e-05; 123456.7). */
const char *ld_an_format_float(double v, char *buf, size_t len) {
  if (isnan(v)) return snprintf(buf, len, "NaN"), buf;
  if (isinf(v)) return snprintf(buf, len, v > 0 ? "+Inf" : "-Inf"), buf;
  char e[40];
  int prec = 0;
  for (; prec < 17; prec++) {
    snprintf(e, sizeof e, "%.*e", prec, v);
    if (strtod(e, NULL) == v) break;
  }
  char *ep = strchr(e, 'e');
  int exp10 = atoi(ep + 1);
  if (exp10 < -4 || exp10 >= 6) {
    *ep = '\0';
    snprintf(buf, len, "%se%c%02d", e, exp10 < 0 ? '-' : '+', abs(exp10));
    return buf;
  }
  int decimals = prec - exp10;
  snprintf(buf, len, "%.*f", decimals > 0 ? decimals : 0, v);
  return buf;
}

/* ---- evaluation ---- */

static void judge(const ld_ci_config *c, int rule, const ld_analysis *a, ld_ci_result *r) {
  char x[40], y[40];
  r->rule = rule_names[rule];
  r->status = LD_CI_PASS;
  if (disabled(c->value[rule])) {
    r->status = LD_CI_SKIP;
    r->message = ld_xstrdup("rule disabled");
    return;
  }
  double f = 0;
  uint64_t b = 0;
  if (rule == LD_CI_LOWEST_EFFICIENCY && !parse_float(c->value[rule], &f) && f > a->efficiency) {
    r->status = LD_CI_FAIL;
    r->message = ld_xasprintf("image efficiency is too low (efficiency=%s < threshold=%s)",
                              ld_an_format_float(a->efficiency, x, sizeof x),
                              ld_an_format_float(f, y, sizeof y));
  } else if (rule == LD_CI_HIGHEST_WASTED_BYTES && !ld_parse_size(c->value[rule], &b) &&
             a->wasted_bytes > b) {
    r->status = LD_CI_FAIL;
    r->message = ld_xasprintf("too many bytes wasted (wasted-bytes=%llu > threshold=%llu)",
                              (unsigned long long) a->wasted_bytes, (unsigned long long) b);
  } else if (rule == LD_CI_HIGHEST_USER_WASTED_PERCENT && !parse_float(c->value[rule], &f) &&
             f < a->user_wasted_percent) {
    r->status = LD_CI_FAIL;
    r->message = ld_xasprintf("too many bytes wasted, relative to the user bytes added "
                              "(%%-user-wasted-bytes=%s > threshold=%s)",
                              ld_an_format_float(a->user_wasted_percent, x, sizeof x),
                              ld_an_format_float(f, y, sizeof y));
  }
  if (!r->message) r->message = ld_xstrdup("");
}

void ld_ci_evaluate(const ld_ci_config *c, const ld_analysis *a, ld_ci_result out[LD_CI_N_RULES],
                    bool *passed) {
  *passed = true;
  for (int i = 0; i < LD_CI_N_RULES; i++) {
    memset(&out[i], 0, sizeof out[i]);
    judge(c, i, a, &out[i]);
    if (out[i].status == LD_CI_FAIL) *passed = false;
  }
}

void ld_ci_results_clear(ld_ci_result r[LD_CI_N_RULES]) {
  for (int i = 0; i < LD_CI_N_RULES; i++) {
    free(r[i].message);
    r[i].message = NULL;
  }
}
