/* Manifests, indexes and image configs (image-spec 1.1 and Docker v2 schema 2).
 *
 * A parsed manifest keeps the exact bytes it came from (raw/raw_len): digests are always over
 * those bytes, never over re-serialised JSON. Docker schema 2 manifests and manifest lists are
 * read into the same structures as their OCI counterparts; media_type keeps what the document
 * said. We write OCI.
 */
#ifndef LADING_MANIFEST_H
#define LADING_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lading/error.h"

#define LD_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define LD_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define LD_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define LD_MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define LD_MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define LD_MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define LD_MT_OCI_LAYER_ND "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define LD_MT_OCI_LAYER_ND_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define LD_MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"
#define LD_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define LD_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define LD_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define LD_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define LD_MT_DOCKER_LAYER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

#define LD_MANIFEST_MAX (4u << 20) /* 4 MiB: the size cap registries apply */
#define LD_CONFIG_MAX (8u << 20)

typedef struct ld_platform {
  char *os, *architecture, *variant, *os_version;
} ld_platform;

typedef struct ld_descriptor {
  char *media_type;
  char *digest;
  int64_t size;
  char *artifact_type;  /* NULL if absent */
  json_t *annotations;  /* borrowed from the parent document, may be NULL */
  ld_platform platform; /* index entries only; fields NULL if absent */
  bool has_platform;
} ld_descriptor;

typedef enum { LD_KIND_MANIFEST = 1, LD_KIND_INDEX = 2 } ld_manifest_kind;

typedef struct ld_manifest {
  ld_manifest_kind kind;
  char *media_type;     /* what the document declares (or the hint when it declares none) */
  char *artifact_type;
  char *raw;            /* exact bytes, NUL-terminated copy */
  size_t raw_len;
  char digest[136];     /* sha256 over raw */
  ld_descriptor config; /* manifests */
  ld_descriptor *layers;
  size_t n_layers;
  ld_descriptor *manifests; /* indexes */
  size_t n_manifests;
  ld_descriptor *subject; /* NULL if absent */
  json_t *annotations;    /* may be NULL; borrowed from root */
  json_t *root;
} ld_manifest;

/* Parses and validates a manifest or index. media_type_hint (e.g. a Content-Type) is used when
 * the document has no mediaType; a mismatch between the two is an error. */
int ld_manifest_parse(const void *buf, size_t len, const char *media_type_hint, ld_manifest *out,
                      ld_error **err);
void ld_manifest_clear(ld_manifest *m);
bool ld_media_type_is_index(const char *mt);
bool ld_media_type_is_manifest(const char *mt);
bool ld_media_type_is_layer(const char *mt);
/* Every blob a manifest references (config, then layers; for an index, nothing). */
size_t ld_manifest_blobs(const ld_manifest *m, const ld_descriptor **out, size_t max);

int ld_descriptor_from_json(const json_t *j, ld_descriptor *out, ld_error **err);
void ld_descriptor_clear(ld_descriptor *d);
json_t *ld_descriptor_to_json(const ld_descriptor *d);
void ld_descriptor_copy(ld_descriptor *dst, const ld_descriptor *src);

/* "linux/amd64", "linux/arm64/v8". */
int ld_platform_parse(const char *s, ld_platform *out, ld_error **err);
void ld_platform_host(ld_platform *out);
void ld_platform_clear(ld_platform *p);
char *ld_platform_format(const ld_platform *p);
/* Picks the index entry for want (NULL: the host), following Go/containerd matching (arm64 default
 * variant v8, amd64 v1). ENOENT-style error listing what the index has when none matches. */
int ld_index_select(const ld_manifest *index, const ld_platform *want, const ld_descriptor **out,
                    ld_error **err);

/* Image config. */
typedef struct ld_history {
  char *created;
  char *created_by;
  char *comment;
  bool empty_layer;
} ld_history;

typedef struct ld_image_config {
  json_t *root;
  char *os, *architecture, *variant;
  char *created;
  char **diff_ids;
  size_t n_diff_ids;
  ld_history *history;
  size_t n_history;
  char digest[136];
} ld_image_config;

int ld_config_parse(const void *buf, size_t len, ld_image_config *out, ld_error **err);
void ld_config_clear(ld_image_config *c);

#endif
