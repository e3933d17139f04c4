/* libFuzzer target: what a hostile client controls on `lading serve`: the request path
 * (rt_parse) and the Authorization header (ra_authenticate, against one bcrypt user at cost 4
 * so that a found user name does not stall the run). The first byte picks the parser. Neither
 * may crash, leak or read out of bounds; a route it accepts names a valid repository.
 * (The client side, what a hostile registry controls, is fuzz_registry_client.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "registry/auth.h"
#include "registry/server.h"
#include "registry/storage.h"

static ra_auth *auth;

static void check_route(const char *path) {
  rt_route r;
  if (rt_parse(path, &r) == 0 && r.name && !rs_repo_name_valid(r.name)) abort();
  if (r.ref && !*r.ref) abort(); /* a route names something, or nothing at all */
  rt_route_clear(&r);
}

static void check_authorization(const char *value) {
  if (!auth) {
    auth = calloc(1, sizeof *auth);
    pthread_mutex_init(&auth->lock, NULL);
    if (ra_parse_htpasswd(auth, "alice:$2y$04$yWtPhrWPH3pTXMyK7kKb9eunhu4ZY6BXDLS8hQ.WVqfN4fA8ungYK\n",
                          "fuzz", NULL) < 0)
      abort();
  }
  char *user = NULL;
  int rc = ra_authenticate(auth, value, &user);
  if (rc == 1 && (!user || strcmp(user, "alice"))) abort();
  if (rc != 1 && user) abort();
  free(user);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  char *s = strndup((const char *) data + 1, size - 1);
  if (data[0] & 1) check_authorization(s);
  else check_route(s);
  free(s);
  return 0;
}
