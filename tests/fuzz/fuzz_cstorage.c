/* libFuzzer target: the containers-storage reader (lib/disk/cstorage.c) on arbitrary metadata.
 * Input: one JSON object {"images": [...], "layers": [...], "containers": [...], "vfs": bool},
 * i.e. images.json, layers.json and containers.json as the store writes them. Sizes come from
 * layers.json (estimate), so the fuzzer never touches the file system; layer chains with cycles,
 * dangling parents, duplicate ids and wrong types must all end in a report or a clean error. */
#include <stdint.h>
#include "disk/disk_internal.h"
#include "lading/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *root = json_loadb((const char *) data, size, 0, NULL);
  if (!root) return 0;
  json_t *images = json_object_get(root, "images"), *layers = json_object_get(root, "layers"),
         *containers = json_object_get(root, "containers");
  if (json_is_array(images) && json_is_array(layers) && json_is_array(containers)) {
    ld_disk_read_opts o = {.estimate = true};
    ld_disk_report *r = NULL;
    ld_error *err = NULL;
    const char *driver = json_is_true(json_object_get(root, "vfs")) ? "vfs" : "overlay";
    if (ld_disk_cstorage_from_json("/nonexistent-fuzz-root", driver, images, layers, containers,
                                   &o, &r, &err) == 0) {
      json_decref(ld_disk_report_json(r, true));
      ld_disk_report_free(r);
    }
    ld_error_free(err);
  }
  json_decref(root);
  return 0;
}
