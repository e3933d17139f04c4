/* libFuzzer target: the reference parser must never crash, and what it accepts must round-trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lading/reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = strndup((const char *) data, size);
  ld_reference r;
  if (ld_reference_parse(s, &r, NULL) == 0) {
    char *full = ld_reference_format(&r);
    ld_reference r2;
    if (ld_reference_parse(full, &r2, NULL) != 0) abort();
    char *full2 = ld_reference_format(&r2);
    if (strcmp(full, full2)) abort();
    free(full);
    free(full2);
    ld_reference_clear(&r);
    ld_reference_clear(&r2);
  }
  free(s);
  return 0;
}
