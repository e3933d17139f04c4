/* Digests instead of tags (pin) and admission rules (policy).
 *
 * Pinning (lib/policy/pin.c, lib/policy/pinscan.c) finds every image reference in a file —
 * Kubernetes workloads (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob,
 * ReplicationController, PodTemplate; containers, initContainers, ephemeralContainers; multi-
 * document files and List kinds), compose files (services.*.image) and Dockerfile/Containerfile
 * FROM lines — as byte ranges of the original text. Rewriting replaces only those ranges, so
 * comments, key order, quoting, indentation, anchors and CRLF line ends stay byte for byte; YAML is
 * located with libyaml's node marks, never re-serialised.
 *
 * Policy (lib/policy/policy.c) is a small YAML file evaluated against one image: allowed
 * registries, digest required, signature required by one of a set of public keys. Every rule is
 * evaluated and reported with its reason; a violation is exit 3.
 */
#ifndef LADING_POLICY_H
#define LADING_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include "lading/error.h"
#include "lading/sign.h"
#include "lading/transport.h"

/* ---- pin ----------------------------------------------------------------------------------- */

typedef enum { LD_PIN_YAML = 1, LD_PIN_DOCKERFILE = 2 } ld_pin_format;

/* One image reference found in a file. */
typedef struct ld_ref_site {
  size_t offset, len; /* bytes of the reference text (inside quotes, if quoted) */
  unsigned line;      /* 1-based */
  char *value;        /* the reference as written */
  char *where;        /* "Deployment/web: containers[0].image", "FROM", "services.web.image" */
} ld_ref_site;

typedef struct ld_pin_scan {
  ld_pin_format format;
  ld_ref_site *sites;
  size_t n_sites;
  char **warnings; /* references seen but left alone (templated, block scalars ...) */
  size_t n_warnings;
} ld_pin_scan;

/* The file format from its name: Dockerfile / Containerfile (and *.Dockerfile,
 * Dockerfile.*) are Dockerfiles, everything else YAML. */
ld_pin_format ld_pin_format_of(const char *path);
/* Finds the references in buf (the whole file; name for messages). */
int ld_pin_scan_buf(const char *name, ld_pin_format format, const char *buf, size_t len,
                    ld_pin_scan *out, ld_error **err);
void ld_pin_scan_clear(ld_pin_scan *s);

/* What --check says about a reference: a bitmask. */
enum {
  LD_REF_UNPINNED = 1,  /* no @digest */
  LD_REF_LATEST = 2,    /* tag "latest" */
  LD_REF_TAGLESS = 4,   /* neither tag nor digest: implicitly latest */
  LD_REF_INVALID = 8,   /* not a valid reference (templated...) */
};
unsigned ld_pin_problems(const char *ref);
/* "not pinned to a digest; tag latest" */
char *ld_pin_problems_text(unsigned problems);

/* Replaces each site's text with replacement[i] (NULL: unchanged). Returns a new buffer. */
char *ld_pin_apply(const char *buf, size_t len, const ld_ref_site *sites, size_t n,
                   char *const *replacement, size_t *out_len);

/* Unified diff of two versions of a file whose lines correspond one to one (pinning never adds
 * or removes lines), 3 lines of context. Appends to out. */
void ld_pin_diff(const char *name, const char *a, size_t a_len, const char *b, size_t b_len,
                 ld_buf *out);

/* How tags are resolved to digests. */
typedef enum {
  LD_RESOLVE_AUTO = 0, /* the store if it has the name, else the registry */
  LD_RESOLVE_STORE,
  LD_RESOLVE_REGISTRY,
} ld_resolve_mode;

/* The digest of ref's top-level manifest (an index for multi-platform images). */
int ld_pin_resolve(const char *ref, ld_resolve_mode mode, const ld_transport_opts *o,
                   char digest[LD_DIGEST_MAX], ld_error **err);

/* ---- policy -------------------------------------------------------------------------------- */

typedef struct ld_policy {
  char *path;
  char **registries; /* allowed: "host[:port]" or "host/path" prefixes; none = any */
  size_t n_registries;
  bool registries_set;
  bool require_digest;
  char **key_paths; /* resolved against the policy file's directory */
  ld_key **keys;
  size_t n_keys;
} ld_policy;

/* Parses the policy file and loads its keys. Unknown keys are errors naming key and line. */
int ld_policy_load(const char *path, ld_policy *out, ld_error **err);
int ld_policy_parse(const char *name, const char *buf, size_t len, const char *base_dir,
                    ld_policy *out, ld_error **err);
void ld_policy_clear(ld_policy *p);

typedef struct ld_policy_rule {
  const char *rule; /* "registries", "requireDigest", "signatures" */
  bool ok;
  char *reason;
} ld_policy_rule;

typedef struct ld_policy_result {
  char digest[LD_DIGEST_MAX];
  char *registry; /* NULL for layouts */
  ld_policy_rule rules[3];
  size_t n_rules;
  bool allowed;
} ld_policy_result;

int ld_policy_check(const ld_policy *p, const char *spec, const ld_transport_opts *o,
                    ld_policy_result *res, ld_error **err);
void ld_policy_result_clear(ld_policy_result *r);

#endif
