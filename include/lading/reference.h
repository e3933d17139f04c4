/* Image references: the Docker reference grammar (distribution/reference).
 *
 *   [domain[:port]/]path[:tag][@algo:hex]
 *
 * Parsing normalises the familiar forms: "alpine" -> "docker.io/library/alpine:latest" only when
 * asked for the tag default (ld_reference_parse leaves tag NULL; callers that need one use
 * ld_reference_tag_or_latest). A first component is a domain if it contains '.' or ':' or is
 * "localhost"; otherwise the domain is docker.io and a single-component path gets "library/".
 * Limits: whole name ≤ 255 characters, tag ≤ 128 ([A-Za-z0-9_][A-Za-z0-9_.-]*), path components
 * lowercase [a-z0-9]+ separated by '.', '_', '__' or '-'+.
 */
#ifndef LADING_REFERENCE_H
#define LADING_REFERENCE_H

#include <stdbool.h>
#include "lading/error.h"

typedef struct ld_reference {
  char *domain; /* "docker.io", "127.0.0.1:5000" */
  char *path;   /* "library/alpine" */
  char *tag;    /* NULL if none */
  char *digest; /* NULL if none */
} ld_reference;

int ld_reference_parse(const char *s, ld_reference *out, ld_error **err);
void ld_reference_clear(ld_reference *r);
/* "domain/path[:tag][@digest]" */
char *ld_reference_format(const ld_reference *r);
/* "domain/path" */
char *ld_reference_name(const ld_reference *r);
/* The shortest form users type: "alpine:3.19", "quay.io/x/y@sha256:…" */
char *ld_reference_familiar(const ld_reference *r);
const char *ld_reference_tag_or_latest(const ld_reference *r);
bool ld_tag_valid(const char *tag);

#endif
