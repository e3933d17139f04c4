/* Locating tests/fixtures/sigstore from a unit test: __FILE__ is relative to the build
 * directory, where meson runs the tests. */
#ifndef LADING_TEST_SIGN_FIXTURE_H
#define LADING_TEST_SIGN_FIXTURE_H

#include <stdlib.h>
#include <string.h>
#include "lading/fs.h"
#include "lading/util.h"

static inline char *fixture_path(const char *name) {
  char *dir = ld_xstrdup(__FILE__);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  char *p = ld_xasprintf("%s/../../fixtures/sigstore/%s", slash ? dir : ".", name);
  free(dir);
  return p;
}

/* Reads a fixture whole; aborts the test binary if it is missing. */
static inline char *fixture_read(const char *name, size_t *len) {
  char *path = fixture_path(name), *buf = NULL;
  size_t n = 0;
  if (ld_read_file(path, 1 << 20, &buf, &n, NULL) < 0) {
    fprintf(stderr, "fixture %s missing\n", path);
    abort();
  }
  free(path);
  if (len) *len = n;
  return buf;
}

#endif
