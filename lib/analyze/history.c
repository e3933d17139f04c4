/* Which history line made which layer, and how dive shows it.
 *
 * An image config's history has one entry per Dockerfile instruction; those that made no layer
 * carry "empty_layer": true. dive pairs layers with the non-empty entries in order, and a layer
 * left without one is "(missing)" (history is optional in image-spec). For display dive cuts the
 * "/bin/sh -c " that classic docker build prepends; we also cut the "#(nop) " marker docker
 * puts before non-RUN instructions, so "ADD file:… in /" reads like the Dockerfile line.
 */
#include <string.h>
#include "lading/analyze.h"
#include "lading/util.h"

char *ld_an_command(const char *created_by) {
  const char *s = created_by ? created_by : "";
  if (ld_str_has_prefix(s, "/bin/sh -c ")) s += strlen("/bin/sh -c ");
  if (ld_str_has_prefix(s, "#(nop) ")) {
    s += strlen("#(nop) ");
    while (*s == ' ') s++;
  }
  return ld_xstrdup(s);
}

void ld_an_history_map(const ld_image_config *cfg, size_t n_layers, const char **out) {
  size_t h = 0, n_hist = cfg ? cfg->n_history : 0;
  for (size_t i = 0; i < n_layers; i++) {
    while (h < n_hist && cfg->history[h].empty_layer) h++;
    if (h < n_hist) {
      out[i] = cfg->history[h].created_by ? cfg->history[h].created_by : "";
      h++;
    } else {
      out[i] = NULL;
    }
  }
}
