/* Weak stand-ins for transports other branches provide: the real definitions override them. */
#include "lading/store.h"
#include "lading/transport.h"


/* docker:// lands with the registry client (lib/transport/docker*.c). */
__attribute__((weak)) int ld_docker_src_open(const char *ref, const ld_transport_opts *o,
                                             ld_image_src **out, ld_error **err) {
  return ld_err(err, ENOSYS, "docker://%s: the registry transport is not built yet", ref);
}
__attribute__((weak)) int ld_docker_dst_open(const char *ref, const ld_transport_opts *o,
                                             ld_image_dst **out, ld_error **err) {
  return ld_err(err, ENOSYS, "docker://%s: the registry transport is not built yet", ref);
}
