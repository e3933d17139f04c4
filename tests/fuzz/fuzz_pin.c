/* libFuzzer target: lading pin's scanner of Kubernetes YAML and Dockerfiles. It reports byte
 * ranges that pin later rewrites in place, so besides not crashing every site must lie inside the
 * input and hold exactly the value it reports. First byte: the format. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lading/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  ld_pin_format fmt = data[0] & 1 ? LD_PIN_DOCKERFILE : LD_PIN_YAML;
  const char *buf = (const char *) data + 1;
  size_t len = size - 1;
  ld_pin_scan scan = {0};
  ld_error *err = NULL;
  if (ld_pin_scan_buf("input", fmt, buf, len, &scan, &err) == 0) {
    for (size_t i = 0; i < scan.n_sites; i++) {
      const ld_ref_site *s = &scan.sites[i];
      if (s->offset > len || s->len > len - s->offset) abort();
      if (strlen(s->value) != s->len || memcmp(buf + s->offset, s->value, s->len)) abort();
    }
  }
  ld_pin_scan_clear(&scan);
  ld_error_free(err);
  return 0;
}
