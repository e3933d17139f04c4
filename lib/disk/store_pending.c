/* Temporary: the store reader lands with lib/store (see store.c). */
#include "lading/disk.h"
int ld_disk_store_read(ld_store *s, const ld_disk_read_opts *o, ld_disk_report **out, ld_error **err) {
  return ld_err(err, LD_EUNSUPPORTED, "store: not available yet");
}
__attribute__((weak)) void ld_store_close(ld_store *s) { (void) s; }
int ld_prune_apply(ld_store *s, const ld_disk_report *r, const ld_prune_plan *p,
                   int64_t grace_seconds, uint64_t *freed, ld_error **err) {
  return ld_err(err, LD_EUNSUPPORTED, "store: not available yet");
}
int ld_disk_pin(ld_store *s, const char *n, ld_error **err) { return ld_err(err, LD_EUNSUPPORTED, "no store"); }
int ld_disk_unpin(ld_store *s, const char *n, ld_error **err) { return ld_err(err, LD_EUNSUPPORTED, "no store"); }
int ld_disk_pins(ld_store *s, char ***a, char ***b, size_t *n, ld_error **err) { return ld_err(err, LD_EUNSUPPORTED, "no store"); }
__attribute__((weak)) const char *ld_store_root(const ld_store *s) { (void) s; return "."; }
