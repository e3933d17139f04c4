/* The registry's endpoints (distribution-spec 1.1): routing, authorisation and the handlers.
 *
 * Routing splits the path from its end, because repository names contain slashes:
 *   /v2/<name>/tags/list, /v2/<name>/manifests/<ref>, /v2/<name>/blobs/<digest>,
 *   /v2/<name>/blobs/uploads/[<uuid>], /v2/<name>/referrers/<digest>, /v2/_catalog, /v2/.
 * Every name, digest, tag and uuid is validated before it becomes part of a path.
 *
 * Authorisation: reads (GET/HEAD) need r on the repository, everything else w. Without
 * credentials where some were needed the answer is 401 with a Basic challenge; with credentials
 * that lack the right, 403 DENIED. Nothing about the repository is revealed before that check.
 *
 * Uploads: POST creates a session (or, with ?digest=, takes the whole blob at once; with
 * ?mount=&from=, links an existing blob when the source repository may be read and holds it).
 * PATCH appends in order (Content-Range start must equal the current size, else 416 with the
 * current Range), PUT ?digest= appends the last bytes and commits. Bodies stream into the
 * session's temp file while being hashed; nothing is buffered but manifests (capped).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lading/digest.h"
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/manifest.h"
#include "lading/reference.h"
#include "registry/server.h"

/* ---------- routing ---------- */

static bool cut_suffix(const char *s, size_t n, const char *suffix, size_t *name_len) {
  size_t k = strlen(suffix);
  if (n < k + 1 || memcmp(s + n - k, suffix, k)) return false;
  *name_len = n - k;
  return true;
}

int rt_parse(const char *path, rt_route *out) {
  memset(out, 0, sizeof *out);
  if (!strcmp(path, "/v2") || !strcmp(path, "/v2/")) {
    out->kind = RT_BASE;
    return 0;
  }
  if (!ld_str_has_prefix(path, "/v2/")) return 0;
  const char *rest = path + 4;
  size_t n = strlen(rest), name_len = 0;
  if (!strcmp(rest, "_catalog")) {
    out->kind = RT_CATALOG;
    return 0;
  }
  if (cut_suffix(rest, n, "/tags/list", &name_len)) {
    out->kind = RT_TAGS;
  } else if (cut_suffix(rest, n, "/blobs/uploads/", &name_len) ||
             cut_suffix(rest, n, "/blobs/uploads", &name_len)) {
    out->kind = RT_UPLOADS;
  } else {
    const char *slash = strrchr(rest, '/');
    if (!slash || !slash[1]) return 0;
    size_t prefix = (size_t) (slash - rest);
    static const struct {
      const char *suffix;
      rt_kind kind;
    } kinds[] = {{"/blobs/uploads", RT_UPLOAD},
                 {"/manifests", RT_MANIFEST},
                 {"/blobs", RT_BLOB},
                 {"/referrers", RT_REFERRERS}};
    for (size_t i = 0; i < LD_ARRAY_SIZE(kinds) && !out->kind; i++)
      if (cut_suffix(rest, prefix, kinds[i].suffix, &name_len)) out->kind = kinds[i].kind;
    if (!out->kind) return 0;
    out->ref = ld_xstrdup(slash + 1);
  }
  out->name = ld_xstrndup(rest, name_len);
  return rs_repo_name_valid(out->name) ? 0 : -1;
}

void rt_route_clear(rt_route *r) {
  free(r->name);
  free(r->ref);
  memset(r, 0, sizeof *r);
}

/* ---------- helpers ---------- */

static bool is_write(const req *q) { return strcmp(q->method, "GET") && strcmp(q->method, "HEAD"); }
static bool is_head(const req *q) { return !strcmp(q->method, "HEAD"); }
static bool method_is(const req *q, const char *m) { return !strcmp(q->method, m); }

static enum MHD_Result unsupported_method(req *q) {
  return rq_error(q, 405, "UNSUPPORTED", "%s is not supported on %s", q->method, q->path);
}

/* Answers 401/403 when the user may not do what the request needs on repo. */
static bool allowed(req *q, const char *repo, int need) {
  int perms = ra_permissions(&q->s->auth, q->user, repo);
  if ((perms & need) == need) return true;
  if (!q->user && q->s->auth.have_htpasswd)
    rq_error(q, 401, "UNAUTHORIZED", "authentication required");
  else
    rq_error(q, 403, "DENIED", "%s may not %s %s", q->user ? q->user : "anonymous",
             need & RA_WRITE ? "write to" : "read", repo);
  return false;
}

static char *upload_location(const req *q, const ru_session *s) {
  return ld_xasprintf("/v2/%s/blobs/uploads/%s", q->route.name, s->uuid);
}

static char *range_of(uint64_t offset) {
  return ld_xasprintf("0-%" PRIu64, offset ? offset - 1 : 0);
}

static enum MHD_Result send_upload_state(req *q, int status, const ru_session *s) {
  ld_autofree char *loc = upload_location(q, s);
  ld_autofree char *range = range_of(s->offset);
  const char *h[] = {"Location", loc, "Range", range, "Docker-Upload-UUID", s->uuid, NULL};
  return rq_send_empty(q, status, h);
}

static enum MHD_Result send_blob_created(req *q, const char *digest) {
  ld_autofree char *loc = ld_xasprintf("/v2/%s/blobs/%s", q->route.name, digest);
  const char *h[] = {"Location", loc, "Docker-Content-Digest", digest, NULL};
  return rq_send_empty(q, 201, h);
}

/* Parses n= of a listing: -1 when absent; false on garbage (answered). */
static bool list_limit(req *q, long *n) {
  const char *s = rq_arg(q, "n");
  *n = -1;
  if (!s) return true;
  char *end;
  *n = strtol(s, &end, 10);
  if (*s && !*end && *n >= 0 && *n <= 100000) return true;
  rq_error(q, 400, "PAGINATION_NUMBER_INVALID", "invalid n=%s", s);
  return false;
}

/* Answers one page of a sorted list as {"<key0>":v0, "<key>":[...]} with a Link to the next. */
static enum MHD_Result send_page(req *q, char **items, const char *key, const char *base_url,
                                 json_t *obj) {
  long n;
  if (!list_limit(q, &n)) {
    json_decref(obj);
    return MHD_YES;
  }
  const char *last = rq_arg(q, "last");
  json_t *arr = json_array();
  size_t i = 0, total = rs_strv_len(items);
  if (last)
    while (i < total && strcmp(items[i], last) <= 0) i++;
  const char *last_sent = NULL;
  for (; i < total && (n < 0 || (long) json_array_size(arr) < n); i++) {
    json_array_append_new(arr, json_string(items[i]));
    last_sent = items[i];
  }
  json_object_set_new(obj, key, arr);
  char *text = json_dumps(obj, JSON_COMPACT);
  json_decref(obj);
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header(r, "Content-Type", "application/json");
  if (n > 0 && i < total && last_sent) {
    ld_autofree char *link =
        ld_xasprintf("<%s?n=%ld&last=%s>; rel=\"next\"", base_url, n, last_sent);
    MHD_add_response_header(r, "Link", link);
  }
  q->bytes_out += strlen(text);
  return rq_send(q, 200, r);
}

/* ---------- /v2/ and catalog ---------- */

/* With --htpasswd, /v2/ always challenges a request without credentials, even when anonymous
 * may read some repositories: clients (containers/image, containerd) decide from this ping
 * whether to send the credentials they have at all. */
static enum MHD_Result do_base(req *q) {
  if (q->s->auth.have_htpasswd && !q->user)
    return rq_error(q, 401, "UNAUTHORIZED", "authentication required");
  return rq_send_json(q, 200, "{}", NULL);
}

static enum MHD_Result do_catalog(req *q) {
  if (is_write(q)) return unsupported_method(q);
  if (q->s->auth.have_htpasswd && !q->user && !ra_anonymous_has_any(&q->s->auth))
    return rq_error(q, 401, "UNAUTHORIZED", "authentication required");
  char **all = rs_catalog(&q->s->st);
  size_t k = 0;
  for (size_t i = 0; all[i]; i++) { /* list only what the caller may read */
    if (ra_permissions(&q->s->auth, q->user, all[i]) & RA_READ) all[k++] = all[i];
    else free(all[i]);
  }
  all[k] = NULL;
  enum MHD_Result rc = send_page(q, all, "repositories", "/v2/_catalog", json_object());
  rs_strv_free(all);
  return rc;
}

static enum MHD_Result do_tags(req *q) {
  if (is_write(q)) return unsupported_method(q);
  char **tags = rs_tags_list(&q->s->st, q->route.name);
  if (!tags) return rq_error(q, 404, "NAME_UNKNOWN", "repository %s not known", q->route.name);
  ld_autofree char *base = ld_xasprintf("/v2/%s/tags/list", q->route.name);
  enum MHD_Result rc =
      send_page(q, tags, "tags", base, json_pack("{s:s}", "name", q->route.name));
  rs_strv_free(tags);
  return rc;
}

/* ---------- manifests ---------- */

/* Resolves a tag or digest reference to a digest; answers and returns false when it cannot. */
static bool resolve_manifest(req *q, char digest[LD_DIGEST_MAX]) {
  const char *ref = q->route.ref;
  if (strchr(ref, ':')) {
    if (ld_digest_validate(ref, NULL) < 0) {
      rq_error(q, 400, "DIGEST_INVALID", "invalid digest %.200s", ref);
      return false;
    }
    snprintf(digest, LD_DIGEST_MAX, "%s", ref);
    return true;
  }
  if (!ld_tag_valid(ref)) {
    rq_error(q, 400, "MANIFEST_INVALID", "invalid tag %.200s", ref);
    return false;
  }
  if (rs_tag_get(&q->s->st, q->route.name, ref, digest) == 0) return true;
  if (!rs_repo_exists(&q->s->st, q->route.name))
    rq_error(q, 404, "NAME_UNKNOWN", "repository %s not known", q->route.name);
  else
    rq_error(q, 404, "MANIFEST_UNKNOWN", "manifest %s:%s not known", q->route.name, ref);
  return false;
}

static enum MHD_Result do_manifest_get(req *q) {
  char digest[LD_DIGEST_MAX];
  if (!resolve_manifest(q, digest)) return MHD_YES;
  ld_autofree char *mt = rs_manifest_media_type(&q->s->st, q->route.name, digest);
  ld_autofree char *path = mt ? rs_blob_path(&q->s->st, digest) : NULL;
  int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) < 0) {
    if (fd >= 0) close(fd);
    return rq_error(q, 404, "MANIFEST_UNKNOWN", "manifest %s@%s not known", q->route.name,
                    digest);
  }
  struct MHD_Response *r = MHD_create_response_from_fd64((uint64_t) sb.st_size, fd);
  MHD_add_response_header(r, "Content-Type", mt);
  MHD_add_response_header(r, "Docker-Content-Digest", digest);
  ld_autofree char *etag = ld_xasprintf("\"%s\"", digest);
  MHD_add_response_header(r, "ETag", etag);
  if (!is_head(q)) {
    q->bytes_out += (uint64_t) sb.st_size;
    rq_touch(q, digest);
  }
  return rq_send(q, 200, r);
}

static void drop_referrer_of(req *q, const char *digest) {
  ld_autofree char *path = rs_blob_path(&q->s->st, digest);
  char *raw = NULL;
  size_t len;
  if (ld_read_file(path, LD_MANIFEST_MAX, &raw, &len, NULL) < 0) return;
  ld_manifest m;
  if (ld_manifest_parse(raw, len, NULL, &m, NULL) == 0) {
    if (m.subject) rs_referrer_remove(&q->s->st, q->route.name, m.subject->digest, digest);
    ld_manifest_clear(&m);
  }
  free(raw);
}

static enum MHD_Result do_manifest_delete(req *q) {
  const char *ref = q->route.ref;
  if (!strchr(ref, ':')) { /* spec 1.1: deleting a tag removes only the tag */
    if (!ld_tag_valid(ref) || rs_tag_remove(&q->s->st, q->route.name, ref) < 0)
      return rq_error(q, 404, "MANIFEST_UNKNOWN", "tag %s:%.200s not known", q->route.name, ref);
    return rq_send_empty(q, 202, NULL);
  }
  if (ld_digest_validate(ref, NULL) < 0)
    return rq_error(q, 400, "DIGEST_INVALID", "invalid digest %.200s", ref);
  ld_autofree char *mt = rs_manifest_media_type(&q->s->st, q->route.name, ref);
  if (!mt) return rq_error(q, 404, "MANIFEST_UNKNOWN", "manifest %s@%s not known", q->route.name, ref);
  drop_referrer_of(q, ref);
  rs_tags_remove_digest(&q->s->st, q->route.name, ref);
  rs_manifest_remove(&q->s->st, q->route.name, ref);
  rs_link_remove(&q->s->st, q->route.name, ref);
  return rq_send_empty(q, 202, NULL);
}

static enum MHD_Result manifest_put_begin(req *q) {
  const char *ref = q->route.ref;
  if (strchr(ref, ':') ? ld_digest_validate(ref, NULL) < 0 : !ld_tag_valid(ref))
    return rq_error(q, 400, strchr(ref, ':') ? "DIGEST_INVALID" : "MANIFEST_INVALID",
                    "invalid reference %.200s", ref);
  const char *cl = rq_header(q, "Content-Length");
  if (cl && strtoull(cl, NULL, 10) > q->s->o.manifest_max)
    return rq_error(q, 413, "SIZE_INVALID", "manifest larger than %zu bytes",
                    q->s->o.manifest_max);
  q->body = BODY_MANIFEST;
  return MHD_YES;
}

/* Every blob a manifest names must be readable in this repository, with the size it says. */
static bool check_manifest_refs(req *q, const ld_manifest *m) {
  const rs_storage *st = &q->s->st;
  const char *repo = q->route.name;
  if (m->kind == LD_KIND_INDEX) {
    for (size_t i = 0; i < m->n_manifests; i++) {
      ld_autofree char *mt = rs_manifest_media_type(st, repo, m->manifests[i].digest);
      if (!mt) {
        rq_error(q, 400, "MANIFEST_BLOB_UNKNOWN", "index names manifest %s, not in %s",
                 m->manifests[i].digest, repo);
        return false;
      }
    }
    return true;
  }
  const ld_descriptor *blobs[4096];
  size_t n = ld_manifest_blobs(m, blobs, LD_ARRAY_SIZE(blobs));
  for (size_t i = 0; i < n && i < LD_ARRAY_SIZE(blobs); i++) {
    const ld_descriptor *d = blobs[i];
    if (d->media_type && (strstr(d->media_type, "nondistributable") ||
                          strstr(d->media_type, "foreign")))
      continue; /* fetched from their URLs, never pushed */
    int64_t size = rs_link_exists(st, repo, d->digest) ? rs_blob_size(st, d->digest) : -1;
    if (size < 0) {
      rq_error(q, 400, "MANIFEST_BLOB_UNKNOWN", "manifest names blob %s, not in %s", d->digest,
               repo);
      return false;
    }
    if (size != d->size) {
      rq_error(q, 400, "MANIFEST_INVALID", "blob %s has %" PRId64 " bytes, manifest says %" PRId64,
               d->digest, size, d->size);
      return false;
    }
  }
  return true;
}

static enum MHD_Result store_manifest(req *q, ld_manifest *m, const char *digest) {
  ld_error *err = NULL;
  const rs_storage *st = &q->s->st;
  const char *repo = q->route.name, *ref = q->route.ref;
  if (rs_manifest_store(st, repo, digest, m->media_type, m->raw, m->raw_len,
                        strchr(ref, ':') ? NULL : ref, m->subject ? m->subject->digest : NULL,
                        &err) < 0) {
    enum MHD_Result rc = rq_error(q, 500, "UNKNOWN", "storing manifest: %s", err->msg);
    ld_error_free(err);
    return rc;
  }
  ld_autofree char *loc = ld_xasprintf("/v2/%s/manifests/%s", repo, digest);
  const char *h[] = {"Location", loc, "Docker-Content-Digest", digest,
                     m->subject ? "OCI-Subject" : NULL, m->subject ? m->subject->digest : NULL,
                     NULL};
  return rq_send_empty(q, 201, h);
}

static enum MHD_Result manifest_put_end(req *q) {
  if (q->too_big)
    return rq_error(q, 413, "SIZE_INVALID", "manifest larger than %zu bytes",
                    q->s->o.manifest_max);
  const char *ct = rq_header(q, "Content-Type");
  if (ct && !ld_media_type_is_manifest(ct) && !ld_media_type_is_index(ct)) ct = NULL;
  ld_manifest m;
  ld_error *err = NULL;
  if (ld_manifest_parse(q->manifest.data ? q->manifest.data : "", q->manifest.len, ct, &m,
                        &err) < 0) {
    enum MHD_Result rc = rq_error(q, 400, "MANIFEST_INVALID", "%s", err->msg);
    ld_error_free(err);
    return rc;
  }
  char digest[LD_DIGEST_MAX];
  const char *ref = q->route.ref;
  enum MHD_Result rc = MHD_YES;
  if (strchr(ref, ':')) {
    ld_digest_buf(ld_digest_algo_of(ref), m.raw, m.raw_len, digest);
    if (strcmp(digest, ref)) {
      rc = rq_error(q, 400, "DIGEST_INVALID", "manifest body has digest %s, not %s", digest, ref);
      goto out;
    }
  } else {
    snprintf(digest, sizeof digest, "%s", m.digest);
  }
  if (check_manifest_refs(q, &m)) rc = store_manifest(q, &m, digest);
out:
  ld_manifest_clear(&m);
  return rc;
}

/* ---------- blobs ---------- */

/* Parses "bytes=a-b", "bytes=a-", "bytes=-n" against size. 0 ok, -1 unsatisfiable/garbage. */
static int parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *len) {
  if (strncmp(h, "bytes=", 6) || strchr(h, ',')) return -1;
  const char *p = h + 6;
  char *end;
  if (*p == '-') {
    unsigned long long n = strtoull(p + 1, &end, 10);
    if (*end || end == p + 1 || n == 0 || size == 0) return -1;
    if (n > size) n = size;
    *from = size - n;
    *len = n;
    return 0;
  }
  unsigned long long a = strtoull(p, &end, 10);
  if (end == p || *end != '-' || a >= size) return -1;
  p = end + 1;
  unsigned long long b = size - 1;
  if (*p) {
    b = strtoull(p, &end, 10);
    if (*end || b < a) return -1;
    if (b >= size) b = size - 1;
  }
  *from = a;
  *len = b - a + 1;
  return 0;
}

typedef struct fd_range {
  int fd;
  uint64_t from;
} fd_range;

static ssize_t read_range(void *cls, uint64_t pos, char *buf, size_t max) {
  fd_range *r = cls;
  ssize_t n = pread(r->fd, buf, max, (off_t) (r->from + pos));
  return n > 0 ? n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void free_range(void *cls) {
  fd_range *r = cls;
  close(r->fd);
  free(r);
}

/* Blob bodies. libmicrohttpd's sendfile path sends 128 KiB per turn of its event loop and
 * sleeps for socket space in between; on the 2-core test machine it downloaded a 1 GiB blob at
 * ~0.75x the pread path (docs/serve.md, Operation). So pread(2) is the default and sendfile an
 * option (--sendfile). The pread block is the response's own buffer (not the connection's
 * memory pool), held only while a download runs: with 64 KiB the sender was the bottleneck
 * (16,384 pread + send + epoll_wait per GiB, the socket never full); 256 KiB cuts that to 4,096
 * and measured ~1.25x faster in interleaved runs, for 256 KiB of memory per running download. */
#define BLOB_BLOCK (256u << 10)
static struct MHD_Response *blob_response(req *q, int fd, uint64_t from, uint64_t len) {
  if (q->s->o.sendfile) return MHD_create_response_from_fd_at_offset64(len, fd, from);
  fd_range *r = ld_xmalloc(sizeof *r);
  r->fd = fd;
  r->from = from;
  return MHD_create_response_from_callback(len, BLOB_BLOCK, read_range, r, free_range);
}

static enum MHD_Result do_blob_get(req *q) {
  const char *digest = q->route.ref;
  if (ld_digest_validate(digest, NULL) < 0)
    return rq_error(q, 400, "DIGEST_INVALID", "invalid digest %.200s", digest);
  ld_autofree char *path = rs_blob_path(&q->s->st, digest);
  int fd = rs_link_exists(&q->s->st, q->route.name, digest) ? open(path, O_RDONLY | O_CLOEXEC) : -1;
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) < 0) {
    if (fd >= 0) close(fd);
    return rq_error(q, 404, "BLOB_UNKNOWN", "blob %s not known in %s", digest, q->route.name);
  }
  uint64_t size = (uint64_t) sb.st_size, from = 0, len = size;
  const char *range = rq_header(q, "Range");
  int status = 200;
  if (range) {
    if (parse_range(range, size, &from, &len) < 0) {
      close(fd);
      ld_autofree char *cr = ld_xasprintf("bytes */%" PRIu64, size);
      const char *h[] = {"Content-Range", cr, NULL};
      return rq_send_empty(q, 416, h);
    }
    status = 206;
  }
  struct MHD_Response *r = blob_response(q, fd, from, len);
  MHD_add_response_header(r, "Content-Type", "application/octet-stream");
  MHD_add_response_header(r, "Docker-Content-Digest", digest);
  MHD_add_response_header(r, "Accept-Ranges", "bytes");
  ld_autofree char *etag = ld_xasprintf("\"%s\"", digest);
  MHD_add_response_header(r, "ETag", etag);
  if (status == 206) {
    ld_autofree char *cr =
        ld_xasprintf("bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, from + len - 1, size);
    MHD_add_response_header(r, "Content-Range", cr);
  }
  if (!is_head(q)) q->bytes_out += len;
  return rq_send(q, status, r);
}

static enum MHD_Result do_blob_delete(req *q) {
  const char *digest = q->route.ref;
  if (ld_digest_validate(digest, NULL) < 0)
    return rq_error(q, 400, "DIGEST_INVALID", "invalid digest %.200s", digest);
  if (rs_link_remove(&q->s->st, q->route.name, digest) < 0)
    return rq_error(q, 404, "BLOB_UNKNOWN", "blob %s not known in %s", digest, q->route.name);
  return rq_send_empty(q, 202, NULL);
}

/* ---------- uploads ---------- */

static enum MHD_Result session_error(req *q) {
  if (errno == EBUSY)
    return rq_error(q, 409, "BLOB_UPLOAD_INVALID", "upload %.64s is busy with another request",
                    q->route.ref);
  return rq_error(q, 404, "BLOB_UPLOAD_UNKNOWN", "upload %.64s not known in %s", q->route.ref,
                  q->route.name);
}

/* Cross-repository mount: only from a repository the caller may read and that holds it. */
static bool try_mount(req *q, const char *digest, const char *from) {
  const rs_storage *st = &q->s->st;
  if (!from || !rs_repo_name_valid(from)) return false;
  if (!(ra_permissions(&q->s->auth, q->user, from) & RA_READ)) return false;
  if (!rs_link_exists(st, from, digest) || rs_blob_size(st, digest) < 0) return false;
  return rs_link_add(st, q->route.name, digest, NULL) == 0;
}

static enum MHD_Result uploads_post(req *q) {
  const char *mount = rq_arg(q, "mount"), *digest = rq_arg(q, "digest");
  if (mount && ld_digest_validate(mount, NULL) == 0 && try_mount(q, mount, rq_arg(q, "from")))
    return send_blob_created(q, mount);
  if (digest && ld_digest_validate(digest, NULL) < 0)
    return rq_error(q, 400, "DIGEST_INVALID", "invalid digest %.200s", digest);
  ru_session *s;
  ld_error *err = NULL;
  if (ru_create(&q->s->uploads, q->route.name, &s, &err) < 0) {
    enum MHD_Result rc = rq_error(q, 500, "UNKNOWN", "%s", err->msg);
    ld_error_free(err);
    return rc;
  }
  if (digest) { /* monolithic: the body is the blob */
    q->session = s;
    q->final_digest = ld_xstrdup(digest);
    q->post_monolithic = true;
    q->body = BODY_UPLOAD;
    return MHD_YES;
  }
  enum MHD_Result rc = send_upload_state(q, 202, s);
  ru_release(&q->s->uploads, s);
  return rc;
}

/* Content-Range "a-b" (or "bytes a-b/total") must start at the session's current size. */
static bool check_content_range(req *q, ru_session *s) {
  const char *cr = rq_header(q, "Content-Range");
  if (!cr) return true;
  if (!strncmp(cr, "bytes ", 6)) cr += 6;
  unsigned long long a, b;
  if (sscanf(cr, "%llu-%llu", &a, &b) == 2 && a == s->offset && b >= a) {
    const char *cl = rq_header(q, "Content-Length");
    if (!cl || strtoull(cl, NULL, 10) == b - a + 1) return true;
  }
  send_upload_state(q, 416, s);
  ru_release(&q->s->uploads, s);
  return false;
}

static enum MHD_Result upload_begin(req *q) {
  ru_table *t = &q->s->uploads;
  ru_session *s;
  if (strlen(q->route.ref) != 36 || ru_acquire(t, q->route.name, q->route.ref, &s) < 0)
    return session_error(q);
  if (method_is(q, "GET")) {
    enum MHD_Result rc = send_upload_state(q, 204, s);
    ru_release(t, s);
    return rc;
  }
  if (method_is(q, "DELETE")) {
    ru_cancel(t, s);
    return rq_send_empty(q, 204, NULL);
  }
  if (method_is(q, "PUT")) {
    const char *digest = rq_arg(q, "digest");
    if (!digest || ld_digest_validate(digest, NULL) < 0) {
      ru_release(t, s);
      return rq_error(q, 400, "DIGEST_INVALID", "PUT needs ?digest= with a valid digest");
    }
    q->final_digest = ld_xstrdup(digest);
  } else if (method_is(q, "PATCH")) {
    q->patch = true;
  } else {
    ru_release(t, s);
    return unsupported_method(q);
  }
  if (!check_content_range(q, s)) return MHD_YES;
  q->session = s;
  q->body = BODY_UPLOAD;
  return MHD_YES;
}

static enum MHD_Result upload_end(req *q) {
  ru_table *t = &q->s->uploads;
  ru_session *s = q->session;
  q->session = NULL;
  if (q->body_err) {
    ru_cancel(t, s);
    return rq_error(q, 500, "BLOB_UPLOAD_INVALID", "%s", q->body_err->msg);
  }
  if (q->patch) {
    enum MHD_Result rc = send_upload_state(q, 202, s);
    ru_release(t, s);
    return rc;
  }
  ld_error *err = NULL;
  if (ru_finish(t, s, q->final_digest, &err) < 0) { /* commits, links into s->repo */
    bool digest = err->code == LD_EDIGEST;
    enum MHD_Result rc = rq_error(q, digest ? 400 : 500, digest ? "DIGEST_INVALID" : "UNKNOWN",
                                  "%s", err->msg);
    ld_error_free(err);
    return rc;
  }
  return send_blob_created(q, q->final_digest);
}

/* ---------- referrers ---------- */

static json_t *referrer_descriptor(req *q, const char *digest, const char *filter) {
  ld_autofree char *mt = rs_manifest_media_type(&q->s->st, q->route.name, digest);
  ld_autofree char *path = mt ? rs_blob_path(&q->s->st, digest) : NULL;
  char *raw = NULL;
  size_t len;
  if (!path || ld_read_file(path, LD_MANIFEST_MAX, &raw, &len, NULL) < 0) return NULL;
  ld_manifest m;
  json_t *d = NULL;
  if (ld_manifest_parse(raw, len, mt, &m, NULL) == 0) {
    const char *at = m.artifact_type ? m.artifact_type
                     : m.kind == LD_KIND_MANIFEST ? m.config.media_type : NULL;
    if (!filter || (at && !strcmp(at, filter))) {
      d = json_pack("{s:s, s:s, s:I}", "mediaType", m.media_type, "digest", digest, "size",
                    (json_int_t) len);
      if (at) json_object_set_new(d, "artifactType", json_string(at));
      if (m.annotations) json_object_set(d, "annotations", m.annotations);
    }
    ld_manifest_clear(&m);
  }
  free(raw);
  return d;
}

static enum MHD_Result do_referrers(req *q) {
  if (is_write(q)) return unsupported_method(q);
  if (ld_digest_validate(q->route.ref, NULL) < 0)
    return rq_error(q, 400, "DIGEST_INVALID", "invalid digest %.200s", q->route.ref);
  const char *filter = rq_arg(q, "artifactType");
  char **list = rs_referrers_list(&q->s->st, q->route.name, q->route.ref);
  json_t *arr = json_array();
  for (char **d = list; *d; d++) {
    if (ld_digest_validate(*d, NULL) < 0) continue;
    json_t *desc = referrer_descriptor(q, *d, filter);
    if (desc) json_array_append_new(arr, desc);
  }
  rs_strv_free(list);
  json_t *idx = json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType", LD_MT_OCI_INDEX,
                          "manifests", arr);
  char *text = json_dumps(idx, JSON_COMPACT);
  json_decref(idx);
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header(r, "Content-Type", LD_MT_OCI_INDEX);
  if (filter) MHD_add_response_header(r, "OCI-Filters-Applied", "artifactType");
  q->bytes_out += strlen(text);
  return rq_send(q, 200, r);
}

/* ---------- dispatch ---------- */

static enum MHD_Result dispatch(req *q) {
  bool get = method_is(q, "GET") || is_head(q);
  switch (q->route.kind) {
  case RT_TAGS:
    return do_tags(q);
  case RT_MANIFEST:
    if (get) return do_manifest_get(q);
    if (method_is(q, "PUT")) return manifest_put_begin(q);
    if (method_is(q, "DELETE")) return do_manifest_delete(q);
    return unsupported_method(q);
  case RT_BLOB:
    if (get) return do_blob_get(q);
    if (method_is(q, "DELETE")) return do_blob_delete(q);
    return unsupported_method(q);
  case RT_UPLOADS:
    if (method_is(q, "POST")) return uploads_post(q);
    return unsupported_method(q);
  case RT_UPLOAD:
    return upload_begin(q);
  case RT_REFERRERS:
    return do_referrers(q);
  default:
    return rq_error(q, 404, "NOT_FOUND", "no such endpoint %.200s", q->path);
  }
}

enum MHD_Result routes_begin(req *q) {
  int rc = rt_parse(q->path, &q->route);
  if (q->route.kind == RT_NONE)
    return rq_error(q, 404, "NOT_FOUND", "no such endpoint %.200s", q->path);
  if (rc < 0)
    return rq_error(q, 400, "NAME_INVALID", "invalid repository name %.200s", q->route.name);
  if (q->route.kind == RT_BASE) return do_base(q);
  if (q->route.kind == RT_CATALOG) return do_catalog(q);
  if (!allowed(q, q->route.name, is_write(q) ? RA_WRITE : RA_READ)) return MHD_YES;
  if (is_write(q) && q->s->o.read_only)
    return rq_error(q, 405, "UNSUPPORTED", "the registry is read-only");
  return dispatch(q);
}

void routes_body(req *q, const char *data, size_t len) {
  if (q->body == BODY_UPLOAD && !q->body_err) {
    ru_append(q->session, data, len, &q->body_err);
  } else if (q->body == BODY_MANIFEST && !q->too_big) {
    if (q->manifest.len + len > q->s->o.manifest_max) q->too_big = true;
    else ld_buf_append(&q->manifest, data, len);
  }
}

enum MHD_Result routes_end(req *q) {
  if (q->body == BODY_MANIFEST) return manifest_put_end(q);
  if (q->body == BODY_UPLOAD) return upload_end(q);
  return rq_error(q, 500, "UNKNOWN", "request %s %s not answered", q->method, q->path);
}

void routes_cleanup(req *q) {
  if (!q->session) return; /* the client went away in the middle of a body */
  if (q->post_monolithic) ru_cancel(&q->s->uploads, q->session);
  else ru_release(&q->s->uploads, q->session);
  q->session = NULL;
}
