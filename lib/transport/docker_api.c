/* The distribution-spec endpoints over registry_do(): manifests, blob existence, uploads,
 * cross-repository mounts, tag listing.
 *
 * Uploads: POST /v2/<repo>/blobs/uploads/ opens a session; then either one streamed PUT
 * `?digest=` with the whole body (monolithic, the default: one request, the registry hashes as
 * it writes), or PATCH chunks with Content-Range followed by an empty PUT (chunk_size > 0, for
 * registries or proxies that cap request bodies). The body is read through ld_verifier, so a
 * source that lies about its content fails here, before the registry is asked to commit it.
 */
#include <errno.h>
#include <string.h>
#include "lading/json.h"
#include "lading/log.h"
#include "lading/registry_client.h"
#include "lading/util.h"
#include "docker_internal.h"

char *scope_pull(const char *repo) { return ld_xasprintf("repository:%s:pull", repo); }
char *scope_push(const char *repo) { return ld_xasprintf("repository:%s:pull,push", repo); }

static char *strip_params(const char *ct) {
  if (!ct) return NULL;
  size_t n = strcspn(ct, "; ");
  return ld_xstrndup(ct, n);
}

int ld_registry_get_manifest(ld_registry *r, const char *repo, const char *ref, char **bytes,
                             size_t *len, char **media_type, char digest[LD_DIGEST_MAX],
                             ld_error **err) {
  char *scope = scope_pull(repo);
  if (ld_registry_ping(r, err) < 0) {
    free(scope);
    return -1;
  }
  char *url = registry_url(r, "/v2/%s/manifests/%s", repo, ref);
  char *what = ld_xasprintf("manifest %s%c%s", repo, strchr(ref, ':') ? '@' : ':', ref);
  http_req q = {.method = "GET", .url = url, .what = what, .scope = scope,
                .accept = ld_registry_manifest_accept, .max_body = LD_MANIFEST_MAX};
  http_resp p = {0};
  int rc = registry_do(r, &q, &p, err);
  if (rc == 0 && p.status != 200) rc = http_status_err(r, &q, &p, err);
  if (rc == 0) {
    char d[LD_DIGEST_MAX];
    bool by_digest = ld_digest_validate(ref, NULL) == 0;
    ld_digest_buf(by_digest ? ld_digest_algo_of(ref) : LD_SHA256, p.body.data ? p.body.data : "",
                  p.body.len, d);
    if (by_digest && strcmp(d, ref)) {
      rc = ld_err(err, LD_EDIGEST, "registry %s: %s: content is %s", ld_registry_domain(r), what, d);
    } else {
      if (digest) memcpy(digest, d, LD_DIGEST_MAX);
      if (media_type) *media_type = strip_params(p.content_type);
      *len = p.body.len;
      *bytes = ld_buf_steal(&p.body);
    }
  }
  http_resp_clear(&p);
  free(url);
  free(what);
  free(scope);
  return rc;
}

int ld_registry_head_manifest(ld_registry *r, const char *repo, const char *ref, bool *found,
                              char digest[LD_DIGEST_MAX], char **media_type, ld_error **err) {
  *found = false;
  if (media_type) *media_type = NULL;
  char *scope = scope_pull(repo);
  if (ld_registry_ping(r, err) < 0) {
    free(scope);
    return -1;
  }
  char *url = registry_url(r, "/v2/%s/manifests/%s", repo, ref);
  char *what = ld_xasprintf("manifest %s:%s", repo, ref);
  http_req q = {.method = "HEAD", .url = url, .what = what, .scope = scope,
                .accept = ld_registry_manifest_accept};
  http_resp p = {0};
  int rc = registry_do(r, &q, &p, err);
  if (rc == 0 && p.status == 200) {
    if (p.digest && ld_digest_validate(p.digest, NULL) == 0) {
      *found = true;
      snprintf(digest, LD_DIGEST_MAX, "%s", p.digest);
      if (media_type) *media_type = strip_params(p.content_type);
    } else {
      /* No Docker-Content-Digest: compute it from the bytes. */
      char *bytes;
      size_t len;
      rc = ld_registry_get_manifest(r, repo, ref, &bytes, &len, media_type, digest, err);
      if (rc == 0) {
        *found = true;
        free(bytes);
      }
    }
  } else if (rc == 0 && p.status != 404) {
    rc = http_status_err(r, &q, &p, err);
  }
  http_resp_clear(&p);
  free(url);
  free(what);
  free(scope);
  return rc;
}

int ld_registry_put_manifest(ld_registry *r, const char *repo, const char *ref, const char *bytes,
                             size_t len, const char *media_type, ld_error **err) {
  char *scope = scope_push(repo);
  if (ld_registry_ping(r, err) < 0) {
    free(scope);
    return -1;
  }
  char *url = registry_url(r, "/v2/%s/manifests/%s", repo, ref);
  char *what = ld_xasprintf("manifest %s%c%s", repo, strchr(ref, ':') ? '@' : ':', ref);
  http_req q = {.method = "PUT", .url = url, .what = what, .scope = scope,
                .content_type = media_type, .body = bytes, .body_len = len};
  http_resp p = {0};
  int rc = registry_do(r, &q, &p, err);
  if (rc == 0 && p.status != 201 && p.status != 200 && p.status != 202)
    rc = http_status_err(r, &q, &p, err);
  http_resp_clear(&p);
  free(url);
  free(what);
  free(scope);
  return rc;
}

int ld_registry_has_blob(ld_registry *r, const char *repo, const char *digest, bool *has,
                         ld_error **err) {
  *has = false;
  char *scope = scope_pull(repo);
  if (ld_registry_ping(r, err) < 0) {
    free(scope);
    return -1;
  }
  char *url = registry_url(r, "/v2/%s/blobs/%s", repo, digest);
  char *what = ld_xasprintf("blob %s in %s", digest, repo);
  http_req q = {.method = "HEAD", .url = url, .what = what, .scope = scope};
  http_resp p = {0};
  int rc = registry_do(r, &q, &p, err);
  if (rc == 0) {
    if (p.status == 200) *has = true;
    else if (p.status != 404) rc = http_status_err(r, &q, &p, err);
  }
  http_resp_clear(&p);
  free(url);
  free(what);
  free(scope);
  return rc;
}

/* POST uploads/ (optionally a mount); *location gets the session URL on 202. */
static int start_upload(ld_registry *r, const char *repo, const char *scope, const char *query,
                        long *status, char **location, ld_error **err) {
  char *url = registry_url(r, "/v2/%s/blobs/uploads/%s", repo, query ? query : "");
  char *what = ld_xasprintf("upload to %s", repo);
  http_req q = {.method = "POST", .url = url, .what = what, .scope = scope, .body = "",
                .body_len = 0};
  http_resp p = {0};
  int rc = registry_do(r, &q, &p, err);
  if (rc == 0) {
    *status = p.status;
    if (p.status == 202 && p.location) *location = registry_resolve_location(r, p.location);
    else if (p.status != 201) rc = http_status_err(r, &q, &p, err);
    else *location = NULL;
  }
  http_resp_clear(&p);
  free(url);
  free(what);
  return rc;
}

static char *with_query(const char *url, const char *kv) {
  return ld_xasprintf("%s%c%s", url, strchr(url, '?') ? '&' : '?', kv);
}

static void cancel_upload(ld_registry *r, const char *location, const char *scope) {
  http_req q = {.method = "DELETE", .url = location, .what = "upload cancel", .scope = scope};
  http_resp p = {0};
  ld_error *e = NULL;
  registry_do(r, &q, &p, &e);
  ld_error_free(e);
  http_resp_clear(&p);
}

int ld_registry_mount_blob(ld_registry *r, const char *repo, const char *from_repo,
                           const char *digest, bool *mounted, ld_error **err) {
  *mounted = false;
  char *scope = ld_xasprintf("repository:%s:pull,push repository:%s:pull", repo, from_repo);
  if (ld_registry_ping(r, err) < 0) {
    free(scope);
    return -1;
  }
  char *esc_from = curl_easy_escape(NULL, from_repo, 0);
  char *query = ld_xasprintf("?mount=%s&from=%s", digest, esc_from);
  curl_free(esc_from);
  long status = 0;
  char *loc = NULL;
  int rc = start_upload(r, repo, scope, query, &status, &loc, err);
  if (rc == 0 && status == 201) *mounted = true;
  if (loc) cancel_upload(r, loc, scope);
  free(loc);
  free(query);
  free(scope);
  return rc;
}

static int put_monolithic(ld_registry *r, const char *loc, const char *scope, const char *what,
                          const char *digest, int64_t size, ld_reader *vr, ld_error **err) {
  char *kv = ld_xasprintf("digest=%s", digest);
  char *url = with_query(loc, kv);
  free(kv);
  http_req q = {.method = "PUT", .url = url, .what = what, .scope = scope,
                .content_type = "application/octet-stream", .upload = vr, .upload_len = size};
  http_resp p = {0};
  int rc = registry_do(r, &q, &p, err);
  if (rc == 0 && p.status != 201) rc = http_status_err(r, &q, &p, err);
  http_resp_clear(&p);
  free(url);
  return rc;
}

static int put_chunked(ld_registry *r, char **loc, const char *scope, const char *what,
                       const char *digest, int64_t size, ld_reader *vr, uint64_t chunk,
                       ld_error **err) {
  uint64_t off = 0;
  while (off < (uint64_t) size) {
    uint64_t n = (uint64_t) size - off < chunk ? (uint64_t) size - off : chunk;
    ld_reader *lim = ld_reader_limit(vr, n);
    char range[64];
    snprintf(range, sizeof range, "%llu-%llu", (unsigned long long) off,
             (unsigned long long) (off + n - 1));
    http_req q = {.method = "PATCH", .url = *loc, .what = what, .scope = scope,
                  .content_type = "application/octet-stream", .content_range = range,
                  .upload = lim, .upload_len = (int64_t) n};
    http_resp p = {0};
    int rc = registry_do(r, &q, &p, err);
    ld_reader_close(lim);
    if (rc == 0 && p.status != 202) rc = http_status_err(r, &q, &p, err);
    if (rc == 0 && p.location) {
      free(*loc);
      *loc = registry_resolve_location(r, p.location);
    }
    http_resp_clear(&p);
    if (rc < 0) return -1;
    off += n;
  }
  /* Drain the verifier to EOF so a short or wrong source fails before the commit. */
  char tail[1];
  if (ld_reader_read(vr, tail, 1) != 0) {
    if (!vr->error) return ld_err(err, LD_EDIGEST, "%s: source longer than %lld", what, (long long) size);
    return ld_reader_take_error(vr, err);
  }
  ld_reader *empty = ld_reader_from_mem("", 0, true);
  int rc = put_monolithic(r, *loc, scope, what, digest, 0, empty, err);
  ld_reader_close(empty);
  return rc;
}

int ld_registry_put_blob(ld_registry *r, const char *repo, const char *digest, int64_t size,
                         ld_reader *rd, ld_error **err) {
  char *scope = scope_push(repo);
  if (ld_registry_ping(r, err) < 0) {
    free(scope);
    return -1;
  }
  char *what = ld_xasprintf("blob %s to %s", digest, repo);
  long status = 0;
  char *loc = NULL;
  int rc = start_upload(r, repo, scope, NULL, &status, &loc, err);
  if (rc == 0 && !loc) rc = ld_err(err, EIO, "registry %s: %s: no upload location", ld_registry_domain(r), what);
  if (rc == 0) {
    ld_reader *vr = ld_verifier_new(rd, false, digest, size, what);
    uint64_t chunk = registry_chunk_size(r);
    if (chunk && size > 0 && (uint64_t) size > chunk)
      rc = put_chunked(r, &loc, scope, what, digest, size, vr, chunk, err);
    else
      rc = put_monolithic(r, loc, scope, what, digest, size, vr, err);
    ld_reader_close(vr);
    if (rc < 0) cancel_upload(r, loc, scope);
  }
  free(loc);
  free(what);
  free(scope);
  return rc;
}

void ld_registry_strv_free(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

int ld_registry_list_tags(ld_registry *r, const char *repo, char ***tags, size_t *n,
                          ld_error **err) {
  *tags = NULL;
  *n = 0;
  char *scope = scope_pull(repo);
  if (ld_registry_ping(r, err) < 0) {
    free(scope);
    return -1;
  }
  char *url = registry_url(r, "/v2/%s/tags/list?n=1000", repo);
  char *what = ld_xasprintf("tags of %s", repo);
  int rc = 0;
  for (int page = 0; url && rc == 0 && page < 10000; page++) {
    http_req q = {.method = "GET", .url = url, .what = what, .scope = scope,
                  .max_body = 16u << 20};
    http_resp p = {0};
    rc = registry_do(r, &q, &p, err);
    if (rc == 0 && p.status != 200) rc = http_status_err(r, &q, &p, err);
    json_t *j = NULL;
    if (rc == 0) rc = ld_json_parse(p.body.data ? p.body.data : "", p.body.len, what, &j, err);
    if (rc == 0) {
      json_t *arr = json_object_get(j, "tags"), *t;
      size_t i;
      json_array_foreach(arr, i, t) {
        if (!json_is_string(t)) continue;
        *tags = ld_xrealloc(*tags, (*n + 1) * sizeof **tags);
        (*tags)[(*n)++] = ld_xstrdup(json_string_value(t));
      }
      json_decref(j);
    }
    char *next = rc == 0 ? ld_link_next(p.link) : NULL;
    free(url);
    url = next ? registry_resolve_location(r, next) : NULL;
    free(next);
    http_resp_clear(&p);
  }
  free(url);
  free(what);
  free(scope);
  if (rc < 0) {
    ld_registry_strv_free(*tags, *n);
    *tags = NULL;
    *n = 0;
  }
  return rc;
}
