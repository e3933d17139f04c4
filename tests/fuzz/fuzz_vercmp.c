/* libFuzzer target: the version comparators (dpkg, rpm, apk, Maven, PEP 440, semver). Versions
 * come from images and advisories alike. Besides not crashing, every comparator must be a total
 * order's comparison: cmp(a, a) == 0 and sign(cmp(a, b)) == -sign(cmp(b, a)). Input: scheme
 * byte, then "a\0b". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lading/scan.h"

static int sign(int v) { return (v > 0) - (v < 0); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  static int (*const cmp[])(const char *, const char *) = {
      ld_vercmp_dpkg, ld_vercmp_rpm, ld_vercmp_apk, ld_vercmp_maven, ld_vercmp_pep440, ld_vercmp_semver};
  int (*f)(const char *, const char *) = cmp[data[0] % (sizeof cmp / sizeof cmp[0])];
  char *a = strndup((const char *) data + 1, size - 1);
  size_t alen = strlen(a);
  char *b = alen + 2 <= size - 1 ? strndup((const char *) data + 2 + alen, size - 2 - alen) : strdup("");
  if (f(a, a) != 0 || f(b, b) != 0) abort();
  if (sign(f(a, b)) != -sign(f(b, a))) abort();
  free(a);
  free(b);
  return 0;
}
