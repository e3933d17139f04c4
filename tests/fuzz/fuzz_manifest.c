/* libFuzzer target: manifests, indexes and configs from arbitrary bytes. */
#include <stdint.h>
#include "lading/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ld_manifest m;
  if (ld_manifest_parse(data, size, NULL, &m, NULL) == 0) {
    const ld_descriptor *pick;
    if (m.kind == LD_KIND_INDEX) ld_index_select(&m, NULL, &pick, NULL);
    ld_manifest_clear(&m);
  }
  ld_image_config c;
  if (ld_config_parse(data, size, &c, NULL) == 0) ld_config_clear(&c);
  return 0;
}
