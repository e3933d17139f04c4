/* libFuzzer target: the layer reader (sniffing, gzip/zstd, tar parsing, path checks). */
#include <stdint.h>
#include "lading/layer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ld_layer_reader *l;
  ld_reader *r = ld_reader_from_mem(data, size, true);
  if (ld_layer_open(r, NULL, NULL, "fuzz", &l, NULL) < 0) return 0;
  ld_layer_entry e;
  char buf[4096];
  while (ld_layer_next(l, &e, NULL) == 1)
    while (ld_layer_read_data(l, buf, sizeof buf, NULL) > 0) {
    }
  ld_layer_finish(l, NULL, NULL, NULL);
  ld_layer_close(l);
  return 0;
}
