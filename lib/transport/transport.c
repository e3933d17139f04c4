/* Transport specs ("oci:DIR:TAG", "docker://REF", bare REF...) to sources and destinations.
 * The split follows skopeo: after the transport prefix, the first ':' separates the path from the
 * tag/reference, so paths with ':' are not supported (as in skopeo). */
#include <string.h>
#include "lading/transport.h"
#include "lading/util.h"

typedef enum { T_STORE, T_OCI, T_OCI_ARCHIVE, T_DOCKER_ARCHIVE, T_DOCKER } transport_kind;

static transport_kind split_spec(const char *spec, char **path, char **tag) {
  static const struct {
    const char *prefix;
    transport_kind kind;
  } prefixes[] = {{"docker://", T_DOCKER},
                  {"oci-archive:", T_OCI_ARCHIVE},
                  {"docker-archive:", T_DOCKER_ARCHIVE},
                  {"oci:", T_OCI}};
  *path = *tag = NULL;
  for (size_t i = 0; i < LD_ARRAY_SIZE(prefixes); i++) {
    if (!ld_str_has_prefix(spec, prefixes[i].prefix)) continue;
    const char *rest = spec + strlen(prefixes[i].prefix);
    if (prefixes[i].kind == T_DOCKER) {
      *path = ld_xstrdup(rest);
      return T_DOCKER;
    }
    const char *colon = strchr(rest, ':');
    if (colon) {
      *path = ld_xstrndup(rest, (size_t) (colon - rest));
      if (colon[1]) *tag = ld_xstrdup(colon + 1);
    } else
      *path = ld_xstrdup(rest);
    return prefixes[i].kind;
  }
  *path = ld_xstrdup(spec);
  return T_STORE;
}

static int need_store(const ld_transport_opts *o, const char *spec, ld_error **err) {
  if (!o || !o->store)
    return ld_err(err, EINVAL, "%s: a store reference needs an open store", spec);
  return 0;
}

int ld_image_src_open(const char *spec, const ld_transport_opts *o, ld_image_src **out,
                      ld_error **err) {
  char *path, *tag;
  int rc;
  switch (split_spec(spec, &path, &tag)) {
  case T_DOCKER: rc = ld_docker_src_open(path, o, out, err); break;
  case T_OCI: rc = ld_oci_layout_src_open(path, tag, out, err); break;
  case T_OCI_ARCHIVE: rc = ld_oci_archive_src_open(path, tag, out, err); break;
  case T_DOCKER_ARCHIVE: rc = ld_docker_archive_src_open(path, tag, out, err); break;
  default:
    rc = need_store(o, spec, err);
    if (rc == 0) rc = ld_store_src_open(o->store, path, out, err);
  }
  free(path);
  free(tag);
  return rc;
}

int ld_image_dst_open(const char *spec, const ld_transport_opts *o, ld_image_dst **out,
                      ld_error **err) {
  char *path, *tag;
  int rc;
  switch (split_spec(spec, &path, &tag)) {
  case T_DOCKER: rc = ld_docker_dst_open(path, o, out, err); break;
  case T_OCI: rc = ld_oci_layout_dst_open(path, tag, out, err); break;
  case T_OCI_ARCHIVE: rc = ld_oci_archive_dst_open(path, tag, out, err); break;
  case T_DOCKER_ARCHIVE: rc = ld_docker_archive_dst_open(path, tag, out, err); break;
  default:
    rc = need_store(o, spec, err);
    if (rc == 0) rc = ld_store_dst_open(o->store, path, out, err);
  }
  free(path);
  free(tag);
  return rc;
}

void ld_image_src_close(ld_image_src *s) {
  if (s) s->close(s);
}
void ld_image_dst_close(ld_image_dst *d) {
  if (d) d->close(d);
}
