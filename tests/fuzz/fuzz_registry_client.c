/* libFuzzer target: what a hostile registry controls in our client's parsing of its answers:
 * WWW-Authenticate challenges, Retry-After and Link (pagination). The first byte picks the
 * parser. None may crash, leak or read out of bounds; an accepted challenge has a lowercased
 * scheme; a Retry-After is seconds or -1. (The server side is fuzz_registry_server.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lading/registry_client.h"

static void check_challenge(const char *value) {
  ld_auth_challenge c;
  if (ld_auth_challenge_parse(value, &c, NULL) == 0) {
    if (!c.scheme) abort();
    for (const char *p = c.scheme; *p; p++)
      if (*p >= 'A' && *p <= 'Z') abort();
    ld_auth_challenge_clear(&c);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  char *s = strndup((const char *) data + 1, size - 1);
  switch (data[0] % 3) {
  case 0: check_challenge(s); break;
  case 1:
    if (ld_retry_after_parse(s, 1795840000) < -1) abort();
    break;
  default: free(ld_link_next(s)); break;
  }
  free(s);
  return 0;
}
