/* The registry client: OCI distribution-spec / Docker Registry HTTP API v2, over libcurl.
 *
 * One ld_registry talks to one registry host ("127.0.0.1:5000", "quay.io"; docker.io is sent to
 * registry-1.docker.io). It is safe to share between threads: each request takes a curl easy
 * handle from a small pool, and the token cache is under a mutex.
 *
 * Connection: the first request pings /v2/. https is tried first; plain http is used only when
 * the host is loopback (127.0.0.0/8, ::1, localhost) or TLS verification was turned off
 * (--tls-verify=false, skopeo's "insecure registry"), decided from the name as given, before
 * any request; otherwise every handle of the registry is limited to https, so no Location,
 * redirect or token realm can lead to plain http either. TLS uses the system CA store, plus the
 * *.crt / *.cert+*.key files of --cert-dir (skopeo's layout).
 *
 * Auth: anonymous; Basic (credentials from --creds or the auth files of auth.h) when the ping
 * answers `WWW-Authenticate: Basic`; Bearer tokens (`realm=,service=,scope=`) fetched from the
 * realm with the Basic credentials if any, cached per scope until they expire. A 401 carrying a
 * Bearer challenge mid-session (token expired, wider scope needed) refreshes once and retries.
 *
 * Retries: connection errors, 429 and 5xx are retried with exponential backoff (250 ms doubling,
 * at most 8 s) up to ld_registry_opts.retries times, waiting Retry-After when the server says so
 * (capped at 60 s); nobody listening at the first contact gets about 4 s (4 tries), since
 * that is more often a wrong address than a restart. Streams that break mid-body are not retried here: the caller re-opens the
 * blob (ld_copy does) because only it knows whether the sink can start over.
 */
#ifndef LADING_REGISTRY_CLIENT_H
#define LADING_REGISTRY_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include "lading/digest.h"
#include "lading/error.h"
#include "lading/io.h"
#include "lading/manifest.h"

typedef struct ld_registry ld_registry;

typedef struct ld_registry_opts {
  bool tls_verify_set; /* when false: verify, except loopback may use plain http */
  bool tls_verify;
  const char *cert_dir;  /* NULL: /etc/containers/certs.d/HOST if it exists */
  const char *creds;     /* "user:pass" overrides the auth files */
  const char *authfile;  /* overrides $REGISTRY_AUTH_FILE etc. */
  int retries;           /* 0: default 5 */
  uint64_t chunk_size;   /* 0: monolithic PUT uploads; else PATCH chunks of this size */
} ld_registry_opts;

/* The Accept header of manifest requests: every manifest and index type we read. */
extern const char *const ld_registry_manifest_accept;

/* domain as in ld_reference.domain. */
int ld_registry_open(const char *domain, const ld_registry_opts *o, ld_registry **out,
                     ld_error **err);
void ld_registry_free(ld_registry *r);
const char *ld_registry_domain(const ld_registry *r);

/* GET /v2/; learns scheme and auth method. Called lazily by every request. */
int ld_registry_ping(ld_registry *r, ld_error **err);

/* GET manifests/<ref> (tag or digest). The digest is computed over the bytes; when ref is a
 * digest, the bytes must match it (LD_EDIGEST otherwise). */
int ld_registry_get_manifest(ld_registry *r, const char *repo, const char *ref, char **bytes,
                             size_t *len, char **media_type, char digest[LD_DIGEST_MAX],
                             ld_error **err);
/* HEAD manifests/<ref>: the digest (Docker-Content-Digest) and media type without the body;
 * *found false on 404. */
int ld_registry_head_manifest(ld_registry *r, const char *repo, const char *ref, bool *found,
                              char digest[LD_DIGEST_MAX], char **media_type, ld_error **err);
int ld_registry_put_manifest(ld_registry *r, const char *repo, const char *ref, const char *bytes,
                             size_t len, const char *media_type, ld_error **err);

/* HEAD blobs/<digest>. */
int ld_registry_has_blob(ld_registry *r, const char *repo, const char *digest, bool *has,
                         ld_error **err);
/* GET blobs/<digest> as a stream verified against digest and size (size < 0: unknown). */
int ld_registry_open_blob(ld_registry *r, const char *repo, const char *digest, int64_t size,
                          ld_reader **out, ld_error **err);
/* The same stream without the digest check, for a sink that verifies it (ld_copy). */
int ld_registry_open_blob_unverified(ld_registry *r, const char *repo, const char *digest,
                                     ld_reader **out, ld_error **err);
/* Uploads a blob from rd (verified while it streams); monolithic or chunked (opts). */
int ld_registry_put_blob(ld_registry *r, const char *repo, const char *digest, int64_t size,
                         ld_reader *rd, ld_error **err);
/* POST blobs/uploads/?mount=digest&from=from_repo: *mounted when the registry answered 201.
 * A registry that opened an upload instead (202) gets it cancelled. */
int ld_registry_mount_blob(ld_registry *r, const char *repo, const char *from_repo,
                           const char *digest, bool *mounted, ld_error **err);
/* GET tags/list, following Link pagination. */
int ld_registry_list_tags(ld_registry *r, const char *repo, char ***tags, size_t *n,
                          ld_error **err);
void ld_registry_strv_free(char **v, size_t n);

/* Checks the client's credentials (--creds or stored): an authenticated /v2/ for Basic, a token
 * for Bearer. EACCES when the registry refuses them. */
int ld_registry_check_login(ld_registry *r, ld_error **err);

/* Counters for progress and reports (bytes received / sent on blob bodies). */
uint64_t ld_registry_bytes_in(const ld_registry *r);
uint64_t ld_registry_bytes_out(const ld_registry *r);

/* Credentials (auth.c), in the formats users already have:
 *   containers auth.json  {"auths": {"HOST[/NAMESPACE]": {"auth": base64("user:pass")}}}
 *   ~/.docker/config.json the same "auths" map ("https://index.docker.io/v1/" for docker.io)
 * Lookup order: authfile (--authfile), $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json
 * (/run/containers/UID/auth.json without XDG_RUNTIME_DIR), ~/.config/containers/auth.json,
 * ~/.docker/config.json. The first file with an entry for the host (most specific key wins:
 * "host/ns/repo" before "host/ns" before "host") gives the credentials. credHelpers and
 * credsStore are not consulted (we do not run external helpers). */
char *ld_auth_default_file(const char *authfile); /* the file login/logout write */
/* repo may be NULL (host-level lookup). *user NULL when nothing is stored. */
int ld_auth_lookup(const char *authfile, const char *domain, const char *repo, char **user,
                   char **pass, char **from_file, ld_error **err);
int ld_auth_store(const char *file, const char *key, const char *user, const char *pass,
                  ld_error **err);
/* key NULL removes every entry. *removed false when there was none. */
int ld_auth_remove(const char *file, const char *key, bool *removed, ld_error **err);
/* The auths key for a registry as users type it ("docker.io" for Docker Hub). */
char *ld_auth_key(const char *registry);

/* Parsing helpers, exported for the unit tests. */
typedef struct ld_auth_challenge {
  char *scheme; /* "bearer", "basic" (lowercased) */
  char *realm, *service, *scope, *error;
} ld_auth_challenge;
int ld_auth_challenge_parse(const char *header, ld_auth_challenge *out, ld_error **err);
void ld_auth_challenge_clear(ld_auth_challenge *c);
/* Retry-After: delta-seconds or an HTTP date; seconds to wait, -1 if unparsable. */
int64_t ld_retry_after_parse(const char *value, int64_t now);
/* rel="next" target of a Link header, or NULL. */
char *ld_link_next(const char *link);
bool ld_host_is_loopback(const char *domain);

#endif
