/* Recompression for copy --compress: what the compressor writes, the layer decompressor reads
 * back byte for byte (gzip via ISA-L, zstd), for empty, small and multi-buffer inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "transport/copy_internal.h"
#include "lading/io.h"
#include "lading/layer.h"

static void round_trip(ld_compression c, size_t n) {
  unsigned char *data = malloc(n ? n : 1);
  unsigned int seed = 42;
  for (size_t i = 0; i < n; i++) data[i] = (unsigned char) (i % 7 == 0 ? rand_r(&seed) : 'a');
  ld_reader *src = ld_reader_from_mem(data, n, true);
  ld_reader *comp = ld_compressor_new(src, c);
  char *packed;
  size_t plen;
  assert_int_equal(ld_reader_slurp(comp, 64u << 20, &packed, &plen, "packed", NULL), 0);
  ld_reader_close(comp);
  unsigned char head[4] = {0};
  memcpy(head, packed, plen < 4 ? plen : 4);
  assert_int_equal(ld_compression_sniff(head, plen < 4 ? plen : 4), c);
  ld_reader *back = ld_decompressor_new(ld_reader_from_mem(packed, plen, true), c);
  char *out;
  size_t olen;
  assert_int_equal(ld_reader_slurp(back, 64u << 20, &out, &olen, "unpacked", NULL), 0);
  ld_reader_close(back);
  assert_int_equal(olen, n);
  assert_memory_equal(out, data, n);
  free(out);
  free(packed);
  free(data);
}

static void test_gzip(void **state) {
  round_trip(LD_COMP_GZIP, 0);
  round_trip(LD_COMP_GZIP, 1000);
  round_trip(LD_COMP_GZIP, 3u << 20);
}

static void test_zstd(void **state) {
  round_trip(LD_COMP_ZSTD, 0);
  round_trip(LD_COMP_ZSTD, 1000);
  round_trip(LD_COMP_ZSTD, 3u << 20);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_gzip), cmocka_unit_test(test_zstd)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
