/* Temporary: weak stand-ins for the store and transports until they land. */
#include "lading/store.h"
#include "lading/transport.h"

__attribute__((weak)) int ld_store_open(const char *root, ld_store **out, ld_error **err) {
  return ld_err(err, ENOSYS, "store not implemented yet");
}
__attribute__((weak)) int ld_image_src_open(const char *spec, const ld_transport_opts *o,
                                            ld_image_src **out, ld_error **err) {
  return ld_err(err, ENOSYS, "transports not implemented yet");
}
