/* The simple-signing payload, and JSON written the way Go's encoding/json writes it.
 *
 * Signatures are over bytes, and the .sig manifest names blobs by digest, so "the same JSON" has
 * to mean the same bytes as cosign and skopeo (Go programs) produce. Go's encoder: no spaces;
 * struct fields in declaration order; map keys sorted bytewise; strings escaped HTML-safe
 * ('<', '>', '&' as \u003c \u003e \u0026), U+2028/U+2029 escaped, invalid UTF-8 replaced by
 * \ufffd, control characters as \n \r \t \b \f or \u00XX (lowercase hex). jansson's dumper differs
 * on several of these, hence this small writer for the few documents we sign.
 *
 * Parsing is strict in the way containers/image's sigstore payload parser is: exactly the keys
 * "critical" and "optional" at the top, exactly "type", "image", "identity" under critical,
 * exactly one key in each of image and identity, no duplicate keys anywhere, the fixed type
 * string, a valid digest, an integral timestamp. A payload that cosign would accept but
 * containers/image would not is refused, so what we verify, podman and CRI-O accept too.
 */
#include <string.h>
#include "lading/digest.h"
#include "lading/json.h"
#include "lading/sign.h"
#include "lading/util.h"

/* Length and code point of the UTF-8 sequence at s (n bytes left); 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  if (s[0] < 0x80) return *cp = s[0], 1;
  size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
  if (len == 0 || s[0] > 0xf4 || n < len) return 0;
  uint32_t c = s[0] & (0x7f >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    c = (c << 6) | (s[i] & 0x3f);
  }
  static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
  *cp = c;
  return len;
}

void ld_go_json_quote(ld_buf *b, const char *str) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *) str;
  size_t n = strlen(str);
  ld_buf_puts(b, "\"");
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      if (c == '"' || c == '\\') ld_buf_printf(b, "\\%c", c);
      else if (c == '\n') ld_buf_puts(b, "\\n");
      else if (c == '\r') ld_buf_puts(b, "\\r");
      else if (c == '\t') ld_buf_puts(b, "\\t");
      else if (c == '\b') ld_buf_puts(b, "\\b");
      else if (c == '\f') ld_buf_puts(b, "\\f");
      else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
        char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
        ld_buf_puts(b, esc);
      } else {
        ld_buf_append(b, &c, 1);
      }
      continue;
    }
    uint32_t cp;
    size_t len = utf8_decode(s + i, n - i, &cp);
    if (len == 0) {
      ld_buf_puts(b, "\\ufffd");
      i++;
    } else if (cp == 0x2028 || cp == 0x2029) {
      ld_buf_printf(b, "\\u%04x", cp);
      i += len;
    } else {
      ld_buf_append(b, s + i, len);
      i += len;
    }
  }
  ld_buf_puts(b, "\"");
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *) a, *(const char *const *) b);
}

void ld_go_json_value(ld_buf *b, const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    size_t n = json_object_size(v), i = 0;
    const char **keys = ld_xcalloc(n ? n : 1, sizeof *keys);
    const char *k;
    json_t *val;
    json_object_foreach((json_t *) v, k, val) keys[i++] = k;
    qsort(keys, n, sizeof *keys, cmp_str);
    ld_buf_puts(b, "{");
    for (i = 0; i < n; i++) {
      if (i) ld_buf_puts(b, ",");
      ld_go_json_quote(b, keys[i]);
      ld_buf_puts(b, ":");
      ld_go_json_value(b, json_object_get(v, keys[i]));
    }
    ld_buf_puts(b, "}");
    free(keys);
    break;
  }
  case JSON_ARRAY:
    ld_buf_puts(b, "[");
    for (size_t i = 0; i < json_array_size(v); i++) {
      if (i) ld_buf_puts(b, ",");
      ld_go_json_value(b, json_array_get(v, i));
    }
    ld_buf_puts(b, "]");
    break;
  case JSON_STRING: ld_go_json_quote(b, json_string_value(v)); break;
  case JSON_INTEGER: ld_buf_printf(b, "%lld", (long long) json_integer_value(v)); break;
  case JSON_REAL: ld_buf_printf(b, "%.17g", json_real_value(v)); break;
  case JSON_TRUE: ld_buf_puts(b, "true"); break;
  case JSON_FALSE: ld_buf_puts(b, "false"); break;
  case JSON_NULL: ld_buf_puts(b, "null"); break;
  }
}

char *ld_payload_build(const char *docker_reference, const char *manifest_digest,
                       const json_t *optional) {
  ld_buf b = {0};
  ld_buf_puts(&b, "{\"critical\":{\"identity\":{\"docker-reference\":");
  ld_go_json_quote(&b, docker_reference);
  ld_buf_puts(&b, "},\"image\":{\"docker-manifest-digest\":");
  ld_go_json_quote(&b, manifest_digest);
  ld_buf_puts(&b, "},\"type\":");
  ld_go_json_quote(&b, LD_COSIGN_SIGNATURE_TYPE);
  ld_buf_puts(&b, "},\"optional\":");
  if (optional && !json_is_null(optional)) ld_go_json_value(&b, optional);
  else ld_buf_puts(&b, "null");
  ld_buf_puts(&b, "}");
  return ld_buf_steal(&b);
}

char *ld_sig_tag(const char *manifest_digest) {
  const char *colon = strchr(manifest_digest, ':');
  size_t algo_len = colon ? (size_t) (colon - manifest_digest) : 0;
  return ld_xasprintf("%.*s-%s.sig", (int) algo_len, manifest_digest, colon ? colon + 1 : "");
}

/* ---- strict parsing ---- */

/* obj must be an object holding exactly the listed keys. */
static int exact_keys(const json_t *obj, const char *where, const char *const *keys, size_t n,
                      ld_error **err) {
  if (!json_is_object(obj)) return ld_err(err, LD_EFORMAT, "payload: %s is not an object", where);
  for (size_t i = 0; i < n; i++)
    if (!json_object_get(obj, keys[i]))
      return ld_err(err, LD_EFORMAT, "payload: %s lacks \"%s\"", where, keys[i]);
  if (json_object_size(obj) != n) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *) obj, k, v) {
      bool known = false;
      for (size_t i = 0; i < n; i++) known |= !strcmp(k, keys[i]);
      if (!known) return ld_err(err, LD_EFORMAT, "payload: unexpected key \"%s\" in %s", k, where);
    }
  }
  return 0;
}

static int parse_optional(json_t *opt, ld_payload *out, ld_error **err) {
  if (json_is_null(opt)) return 0;
  if (!json_is_object(opt)) return ld_err(err, LD_EFORMAT, "payload: optional is not an object");
  json_t *creator = json_object_get(opt, "creator"), *ts = json_object_get(opt, "timestamp");
  if (creator && !json_is_string(creator))
    return ld_err(err, LD_EFORMAT, "payload: optional.creator is not a string");
  if (ts) {
    double d = json_number_value(ts);
    if (!json_is_number(ts) || d != (double) (long long) d)
      return ld_err(err, LD_EFORMAT, "payload: optional.timestamp is not an integer");
    out->timestamp = (long long) d;
  }
  if (creator) out->creator = ld_xstrdup(json_string_value(creator));
  out->optional = json_incref(opt);
  return 0;
}

int ld_payload_parse(const char *buf, size_t len, ld_payload *out, ld_error **err) {
  memset(out, 0, sizeof *out);
  json_error_t je;
  json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) return ld_err(err, LD_EFORMAT, "payload: malformed JSON: %s", je.text);
  static const char *const top[] = {"critical", "optional"};
  static const char *const crit[] = {"type", "image", "identity"};
  static const char *const img[] = {"docker-manifest-digest"};
  static const char *const ident[] = {"docker-reference"};
  json_t *critical = json_object_get(root, "critical");
  json_t *image = json_object_get(critical, "image"), *identity = json_object_get(critical, "identity");
  const char *type, *digest, *ref;
  int rc = -1;
  if (exact_keys(root, "the payload", top, 2, err) < 0 ||
      exact_keys(critical, "critical", crit, 3, err) < 0 ||
      exact_keys(image, "critical.image", img, 1, err) < 0 ||
      exact_keys(identity, "critical.identity", ident, 1, err) < 0)
    goto out;
  type = ld_json_str(critical, "type");
  if (!type || strcmp(type, LD_COSIGN_SIGNATURE_TYPE)) {
    ld_err(err, LD_EFORMAT, "payload: unrecognised signature type \"%s\"", type ? type : "?");
    goto out;
  }
  digest = ld_json_str(image, "docker-manifest-digest");
  ref = ld_json_str(identity, "docker-reference");
  if (!digest || ld_digest_validate(digest, NULL) < 0) {
    ld_err(err, LD_EFORMAT, "payload: invalid docker-manifest-digest");
    goto out;
  }
  if (!ref) {
    ld_err(err, LD_EFORMAT, "payload: docker-reference is not a string");
    goto out;
  }
  if (parse_optional(json_object_get(root, "optional"), out, err) < 0) goto out;
  out->manifest_digest = ld_xstrdup(digest);
  out->docker_reference = ld_xstrdup(ref);
  rc = 0;
out:
  json_decref(root);
  if (rc < 0) ld_payload_clear(out);
  return rc;
}

void ld_payload_clear(ld_payload *p) {
  free(p->docker_reference);
  free(p->manifest_digest);
  free(p->creator);
  if (p->optional) json_decref(p->optional);
  memset(p, 0, sizeof *p);
}
