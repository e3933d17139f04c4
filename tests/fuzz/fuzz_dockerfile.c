/* libFuzzer target: the Dockerfile parser (directives, continuations, here-documents, flags,
 * JSON forms, variable expansion), lint over what it accepts, and the .dockerignore parser. A
 * Dockerfile comes from the repository being built: it must get an error, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lading/build.h"

static const char *lookup(void *arg, const char *name) {
  (void) arg;
  return name[0] == 'A' ? "value" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = (const char *) data;
  ld_error *err = NULL;
  ld_dockerfile *df = NULL;
  if (ld_dockerfile_parse(buf, size, "Dockerfile", &df, &err) == 0) {
    ld_lint_finding *findings = NULL;
    size_t n = 0;
    if (ld_lint(df, &findings, &n, &err) == 0) free(findings);
    ld_dockerfile_free(df);
  }
  ld_error_clear(&err);
  char *word = strndup(buf, size), *out = NULL;
  if (ld_df_expand(word, '\\', lookup, NULL, &out, &err) == 0) free(out);
  ld_error_clear(&err);
  free(word);
  ld_ignore *ig = NULL;
  if (ld_ignore_parse(buf, size, &ig, &err) == 0) {
    ld_ignore_match(ig, "a/b/c.txt");
    ld_ignore_may_reinclude(ig, "a");
    ld_ignore_free(ig);
  }
  ld_error_clear(&err);
  return 0;
}
