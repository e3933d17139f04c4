/* JSON helpers over jansson.
 *
 * Parsing errors name the object and jansson's line/column. Getters return NULL/0 when a key is
 * absent or of the wrong type, so callers validate what they need and say what was wrong.
 * Output for --format json goes through ld_json_print (sorted keys off: field order is ours and
 * stable; two-space indent; trailing newline).
 */
#ifndef LADING_JSON_H
#define LADING_JSON_H

#include <jansson.h>
#include <stdio.h>
#include "lading/error.h"

int ld_json_parse(const char *buf, size_t len, const char *what, json_t **out, ld_error **err);
const char *ld_json_str(const json_t *obj, const char *key);
int64_t ld_json_int(const json_t *obj, const char *key, int64_t dflt);
void ld_json_print(FILE *f, json_t *v);
/* Canonical compact encoding used when we *create* JSON that is hashed (manifests we write). */
char *ld_json_dump_compact(const json_t *v);

static inline void ld_json_decrefp(json_t **p) { if (*p) json_decref(*p); }
#define ld_autojson __attribute__((cleanup(ld_json_decrefp)))

#endif
