/* jansson with errors that name the document, and our output conventions. */
#include <string.h>
#include "lading/json.h"
#include "lading/util.h"

int ld_json_parse(const char *buf, size_t len, const char *what, json_t **out, ld_error **err) {
  json_error_t je;
  json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
  if (!j)
    return ld_err(err, LD_EFORMAT, "%s: malformed JSON at line %d column %d: %s", what, je.line,
                  je.column, je.text);
  *out = j;
  return 0;
}

const char *ld_json_str(const json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t ld_json_int(const json_t *obj, const char *key, int64_t dflt) {
  json_t *v = json_object_get(obj, key);
  return json_is_integer(v) ? (int64_t) json_integer_value(v) : dflt;
}

void ld_json_print(FILE *f, json_t *v) {
  json_dumpf(v, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  fputc('\n', f);
}

char *ld_json_dump_compact(const json_t *v) {
  char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if (!s) abort();
  return s;
}
