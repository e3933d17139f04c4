/* The registry client (registry_client.h): requests, auth, retries, streams.
 *
 * Every request goes through registry_do(): ping once (scheme and auth method), attach the
 * Authorization header for the request's scope (a cached Bearer token, or Basic), perform, and
 * loop on what is worth another attempt: a 401 with a fresh challenge (once), connection errors,
 * 429 and 5xx (backoff or Retry-After). Requests whose body is a one-shot stream (blob uploads)
 * are never repeated here; their caller starts the blob over.
 *
 * Blob downloads are pull streams: ld_reader.read() drives a private curl multi handle until the
 * write callback has put bytes in a 1 MiB buffer, and the callback pauses the transfer when the
 * buffer is full, so memory stays bounded whatever the blob size. The stream is wrapped in
 * ld_verifier so every byte is checked against the digest before the consumer sees EOF.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/log.h"
#include "lading/registry_client.h"
#include "lading/util.h"
#include "docker_internal.h"

const char *const ld_registry_manifest_accept =
    LD_MT_OCI_MANIFEST ", " LD_MT_OCI_INDEX ", " LD_MT_DOCKER_MANIFEST ", " LD_MT_DOCKER_LIST;

#define POOL_MAX 16
#define TOKEN_MAX 32

typedef enum { AUTH_NONE = 0, AUTH_BASIC, AUTH_BEARER } auth_method;

typedef struct token_entry {
  char *scope, *token;
  int64_t expires;
} token_entry;

struct ld_registry {
  char *domain, *host, *scheme;
  bool pinged, tls_verify, allow_http;
  int retries;
  uint64_t chunk_size;
  char **ca_files;
  size_t n_ca;
  char *client_cert, *client_key;
  char *user, *pass;
  auth_method auth;
  char *realm, *service;
  token_entry tokens[TOKEN_MAX];
  size_t n_tokens;
  pthread_mutex_t mu;
  pthread_mutex_t token_mu; /* serialises token fetches */
  pthread_mutex_t ping_mu;  /* one ping at a time */
  CURL *pool[POOL_MAX];
  size_t n_pool;
  _Atomic uint64_t bytes_in, bytes_out;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- small parsers (exported for tests) ---- */

bool ld_host_is_loopback(const char *domain) {
  char host[256];
  const char *h = domain;
  size_t n;
  if (*h == '[') {
    const char *end = strchr(h, ']');
    if (!end) return false;
    n = (size_t) (end - h - 1);
    h++;
  } else {
    const char *colon = strchr(h, ':');
    n = colon ? (size_t) (colon - h) : strlen(h);
  }
  if (n >= sizeof host) return false;
  memcpy(host, h, n);
  host[n] = 0;
  struct in_addr a4;
  if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  return !strcmp(host, "localhost") || !strcmp(host, "::1");
}

void ld_auth_challenge_clear(ld_auth_challenge *c) {
  free(c->scheme);
  free(c->realm);
  free(c->service);
  free(c->scope);
  free(c->error);
  memset(c, 0, sizeof *c);
}

/* Bearer realm="https://auth",service="registry",scope="repository:a:pull,push" */
int ld_auth_challenge_parse(const char *header, ld_auth_challenge *out, ld_error **err) {
  memset(out, 0, sizeof *out);
  const char *p = header;
  while (*p == ' ') p++;
  const char *sp = p;
  while (*sp && *sp != ' ') sp++;
  if (sp == p) return ld_err(err, LD_EFORMAT, "empty WWW-Authenticate header");
  out->scheme = ld_xstrndup(p, (size_t) (sp - p));
  for (char *c = out->scheme; *c; c++) *c = (char) (*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
  p = sp;
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    if (!*p) break;
    const char *eq = strchr(p, '=');
    if (!eq) break;
    char *key = ld_xstrndup(p, (size_t) (eq - p));
    p = eq + 1;
    ld_buf val = {0};
    if (*p == '"') {
      p++;
      while (*p && *p != '"') {
        if (*p == '\\' && p[1]) p++;
        ld_buf_append(&val, p, 1);
        p++;
      }
      if (*p != '"') {
        free(key);
        ld_buf_free(&val);
        ld_auth_challenge_clear(out);
        return ld_err(err, LD_EFORMAT, "WWW-Authenticate: unterminated quoted value");
      }
      p++;
    } else {
      const char *e = p;
      while (*e && *e != ',') e++;
      ld_buf_append(&val, p, (size_t) (e - p));
      p = e;
    }
    char *v = ld_buf_steal(&val);
    char **slot = !strcasecmp(key, "realm")     ? &out->realm
                  : !strcasecmp(key, "service") ? &out->service
                  : !strcasecmp(key, "scope")   ? &out->scope
                  : !strcasecmp(key, "error")   ? &out->error
                                                : NULL;
    if (slot) {
      free(*slot);
      *slot = v;
    } else {
      free(v);
    }
    free(key);
  }
  return 0;
}

int64_t ld_retry_after_parse(const char *value, int64_t now) {
  if (!value || !*value) return -1;
  char *end;
  long long s = strtoll(value, &end, 10);
  while (*end == ' ' || *end == '\r' || *end == '\n') end++;
  if (end != value && !*end) return s < 0 ? 0 : s;
  time_t t = curl_getdate(value, NULL);
  if (t < 0) return -1;
  return t > now ? t - now : 0;
}

char *ld_link_next(const char *link) {
  if (!link) return NULL;
  const char *p = link;
  while ((p = strchr(p, '<'))) {
    const char *end = strchr(p, '>');
    if (!end) return NULL;
    const char *params = end + 1;
    const char *next_link = strchr(params, '<');
    const char *rel = strstr(params, "rel=");
    if (rel && (!next_link || rel < next_link) &&
        (!strncmp(rel + 4, "\"next\"", 6) || !strncmp(rel + 4, "next", 4)))
      return ld_xstrndup(p + 1, (size_t) (end - p - 1));
    p = end;
  }
  return NULL;
}

/* ---- opening ---- */

static bool tls_dir_load(ld_registry *r, const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return false;
  struct dirent *e;
  while ((e = readdir(d))) {
    char *path = ld_xasprintf("%s/%s", dir, e->d_name);
    if (ld_str_has_suffix(e->d_name, ".crt")) {
      r->ca_files = ld_xrealloc(r->ca_files, (r->n_ca + 1) * sizeof *r->ca_files);
      r->ca_files[r->n_ca++] = path;
      continue;
    }
    if (ld_str_has_suffix(e->d_name, ".cert")) {
      free(r->client_cert);
      r->client_cert = path;
      continue;
    }
    if (ld_str_has_suffix(e->d_name, ".key")) {
      free(r->client_key);
      r->client_key = path;
      continue;
    }
    free(path);
  }
  closedir(d);
  return true;
}

static int load_creds(ld_registry *r, const ld_registry_opts *o, ld_error **err) {
  if (o->creds && *o->creds) {
    const char *colon = strchr(o->creds, ':');
    if (!colon) return ld_err(err, LD_EUSAGE, "--creds: expected USER:PASSWORD");
    r->user = ld_xstrndup(o->creds, (size_t) (colon - o->creds));
    r->pass = ld_xstrdup(colon + 1);
    return 0;
  }
  return ld_auth_lookup(o->authfile, r->domain, NULL, &r->user, &r->pass, NULL, err);
}

int ld_registry_open(const char *domain, const ld_registry_opts *o, ld_registry **out,
                     ld_error **err) {
  static const ld_registry_opts defaults = {0};
  if (!o) o = &defaults;
  pthread_once(&curl_once, curl_init_once);
  ld_registry *r = ld_xcalloc(1, sizeof *r);
  r->domain = ld_xstrdup(domain);
  r->host = ld_xstrdup(!strcmp(domain, "docker.io") ? "registry-1.docker.io" : domain);
  r->tls_verify = o->tls_verify_set ? o->tls_verify : true;
  r->allow_http = ld_host_is_loopback(domain) || (o->tls_verify_set && !o->tls_verify);
  r->retries = o->retries > 0 ? o->retries : (o->retries < 0 ? 0 : 5);
  r->chunk_size = o->chunk_size;
  pthread_mutex_init(&r->mu, NULL);
  pthread_mutex_init(&r->token_mu, NULL);
  pthread_mutex_init(&r->ping_mu, NULL);
  if (o->cert_dir) {
    tls_dir_load(r, o->cert_dir);
  } else {
    char *dir = ld_xasprintf("/etc/containers/certs.d/%s", domain);
    tls_dir_load(r, dir);
    free(dir);
  }
  if (load_creds(r, o, err) < 0) {
    ld_error_wrap(err, "registry %s: credentials", domain);
    ld_registry_free(r);
    return -1;
  }
  *out = r;
  return 0;
}

void ld_registry_free(ld_registry *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n_pool; i++) curl_easy_cleanup(r->pool[i]);
  for (size_t i = 0; i < r->n_tokens; i++) {
    free(r->tokens[i].scope);
    free(r->tokens[i].token);
  }
  for (size_t i = 0; i < r->n_ca; i++) free(r->ca_files[i]);
  free(r->ca_files);
  free(r->client_cert);
  free(r->client_key);
  if (r->pass) explicit_bzero(r->pass, strlen(r->pass));
  free(r->user);
  free(r->pass);
  free(r->realm);
  free(r->service);
  free(r->domain);
  free(r->host);
  free(r->scheme);
  pthread_mutex_destroy(&r->mu);
  pthread_mutex_destroy(&r->token_mu);
  pthread_mutex_destroy(&r->ping_mu);
  free(r);
}

const char *ld_registry_domain(const ld_registry *r) { return r->domain; }
uint64_t ld_registry_bytes_in(const ld_registry *r) { return atomic_load(&r->bytes_in); }
uint64_t ld_registry_bytes_out(const ld_registry *r) { return atomic_load(&r->bytes_out); }

/* ---- curl handles ---- */

static CURLcode ssl_ctx_cb(CURL *h, void *sslctx, void *arg) {
  ld_registry *r = arg;
  X509_STORE *store = SSL_CTX_get_cert_store((SSL_CTX *) sslctx);
  for (size_t i = 0; i < r->n_ca; i++)
    if (!X509_STORE_load_file(store, r->ca_files[i]))
      ld_warn("registry %s: cannot load CA %s", r->domain, r->ca_files[i]);
  return CURLE_OK;
}

static CURL *handle_get(ld_registry *r) {
  CURL *h = NULL;
  pthread_mutex_lock(&r->mu);
  if (r->n_pool) h = r->pool[--r->n_pool];
  pthread_mutex_unlock(&r->mu);
  if (!h) h = curl_easy_init();
  else curl_easy_reset(h);
  if (!h) abort();
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "lading/0.1");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, r->tls_verify ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, r->tls_verify ? 2L : 0L);
  if (r->n_ca) {
    curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
    curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, r);
  }
  if (r->client_cert && r->client_key) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, r->client_cert);
    curl_easy_setopt(h, CURLOPT_SSLKEY, r->client_key);
  }
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  /* The plain-HTTP decision is made once, from the name the user gave (ld_registry_open), and
   * enforced here for every request of this registry: a Location header, a redirect or a token
   * realm naming http:// cannot bring plain HTTP back. */
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, r->allow_http ? "http,https" : "https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, r->allow_http ? "http,https" : "https");
  return h;
}

static void handle_put(ld_registry *r, CURL *h) {
  pthread_mutex_lock(&r->mu);
  if (r->n_pool < POOL_MAX) {
    r->pool[r->n_pool++] = h;
    h = NULL;
  }
  pthread_mutex_unlock(&r->mu);
  if (h) curl_easy_cleanup(h);
}

/* ---- responses ---- */

void http_resp_clear(http_resp *p) {
  ld_buf_free(&p->body);
  free(p->location);
  free(p->content_type);
  free(p->digest);
  free(p->www_auth);
  free(p->retry_after);
  free(p->link);
  memset(p, 0, sizeof *p);
}

static char *header_value(const char *line, size_t len, const char *name) {
  size_t nl = strlen(name);
  if (len <= nl + 1 || strncasecmp(line, name, nl) || line[nl] != ':') return NULL;
  const char *v = line + nl + 1;
  const char *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
  return ld_xstrndup(v, (size_t) (end - v));
}

static void set_hdr(char **slot, char *v) {
  if (!v) return;
  free(*slot);
  *slot = v;
}

/* Headers of the last response only: a new status line (after a redirect or a 100) resets. */
static size_t header_cb(char *line, size_t size, size_t n, void *arg) {
  http_resp *p = arg;
  size_t len = size * n;
  if (len >= 5 && !strncmp(line, "HTTP/", 5)) {
    ld_buf body = p->body;
    p->body = (ld_buf){0};
    ld_buf_free(&body);
    char *keep[] = {p->location, p->content_type, p->digest, p->www_auth, p->retry_after,
                    p->link};
    for (size_t i = 0; i < LD_ARRAY_SIZE(keep); i++) free(keep[i]);
    p->location = p->content_type = p->digest = p->www_auth = p->retry_after = p->link = NULL;
    p->content_length = -1;
    return len;
  }
  set_hdr(&p->location, header_value(line, len, "Location"));
  set_hdr(&p->content_type, header_value(line, len, "Content-Type"));
  set_hdr(&p->digest, header_value(line, len, "Docker-Content-Digest"));
  set_hdr(&p->retry_after, header_value(line, len, "Retry-After"));
  set_hdr(&p->link, header_value(line, len, "Link"));
  char *wa = header_value(line, len, "WWW-Authenticate");
  if (wa && (!p->www_auth || !strncasecmp(wa, "bearer", 6))) set_hdr(&p->www_auth, wa);
  else free(wa);
  char *cl = header_value(line, len, "Content-Length");
  if (cl) {
    p->content_length = strtoll(cl, NULL, 10);
    free(cl);
  }
  return len;
}

typedef struct body_sink {
  http_resp *resp;
  size_t max;
} body_sink;

static size_t body_cb(char *data, size_t size, size_t n, void *arg) {
  body_sink *s = arg;
  size_t len = size * n;
  if (s->resp->body.len + len > s->max) {
    s->resp->too_big = true;
    return 0;
  }
  ld_buf_append(&s->resp->body, data, len);
  return len;
}

typedef struct upload_src {
  ld_reader *rd;
  ld_error *error;
  ld_registry *reg;
} upload_src;

static size_t upload_cb(char *buf, size_t size, size_t n, void *arg) {
  upload_src *u = arg;
  ssize_t got = ld_reader_read(u->rd, buf, size * n);
  if (got < 0) {
    ld_reader_take_error(u->rd, &u->error);
    return CURL_READFUNC_ABORT;
  }
  atomic_fetch_add(&u->reg->bytes_out, (uint64_t) got);
  return (size_t) got;
}

/* The server's own words: {"errors":[{"code":"…","message":"…"}]}. */
char *http_error_text(const http_resp *p) {
  if (p->body.len && p->body.data && p->body.data[0] == '{') {
    json_t *j = json_loadb(p->body.data, p->body.len, 0, NULL);
    json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
    if (e0) {
      const char *code = ld_json_str(e0, "code"), *msg = ld_json_str(e0, "message");
      char *s = ld_xasprintf("%s%s%s", code ? code : "", code && msg ? ": " : "",
                             msg ? msg : "");
      json_decref(j);
      return s;
    }
    json_decref(j);
  }
  return ld_xstrdup(p->status == 404   ? "not found"
                    : p->status == 401 ? "unauthorized"
                    : p->status == 403 ? "denied"
                                       : "unexpected status");
}

int http_status_err(ld_registry *r, const http_req *q, const http_resp *p, ld_error **err) {
  char *text = http_error_text(p);
  int code = p->status == 404 ? LD_ENOTFOUND
             : p->status == 401 || p->status == 403 ? EACCES
                                                     : EIO;
  ld_err(err, code, "registry %s: %s %s: HTTP %ld %s", r->domain, q->method, q->what, p->status,
         text);
  free(text);
  return -1;
}

/* One attempt, no auth logic. */
static CURLcode perform_once(ld_registry *r, const http_req *q, const char *auth_hdr,
                             http_resp *p, upload_src *up, char errbuf[CURL_ERROR_SIZE]) {
  CURL *h = handle_get(r);
  struct curl_slist *hdrs = NULL;
  char *line;
  if (auth_hdr) hdrs = curl_slist_append(hdrs, auth_hdr);
  if (q->accept) {
    line = ld_xasprintf("Accept: %s", q->accept);
    hdrs = curl_slist_append(hdrs, line);
    free(line);
  }
  if (q->content_type) {
    line = ld_xasprintf("Content-Type: %s", q->content_type);
    hdrs = curl_slist_append(hdrs, line);
    free(line);
  }
  if (q->content_range) {
    line = ld_xasprintf("Content-Range: %s", q->content_range);
    hdrs = curl_slist_append(hdrs, line);
    free(line);
  }
  hdrs = curl_slist_append(hdrs, "Expect:");
  curl_easy_setopt(h, CURLOPT_URL, q->url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, p);
  body_sink sink = {p, q->max_body ? q->max_body : 65536};
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  errbuf[0] = 0;
  bool is_get = !strcmp(q->method, "GET") || !strcmp(q->method, "HEAD");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, is_get ? 1L : 0L);
  if (!strcmp(q->method, "HEAD")) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (q->upload) {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, up);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t) q->upload_len);
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
  } else if (!is_get) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body ? q->body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) q->body_len);
  }
  p->content_length = -1;
  CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &p->status);
  if (rc == CURLE_UNSUPPORTED_PROTOCOL && !r->allow_http)
    snprintf(errbuf, CURL_ERROR_SIZE, "refusing plain HTTP (%s) for a registry that is not "
             "loopback; --tls-verify=false allows it",
             ld_str_has_prefix(q->url, "http:") ? q->url : "a redirect to an http:// URL");
  curl_slist_free_all(hdrs);
  handle_put(r, h);
  return rc;
}

void registry_sleep_ms(int64_t ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

static bool curl_retryable(CURLcode rc) {
  return rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
         rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
         rc == CURLE_PARTIAL_FILE || rc == CURLE_COULDNT_RESOLVE_HOST;
}

bool http_status_retryable(long status) { return status == 429 || (status >= 500 && status < 600); }

/* How long to wait before attempt number `attempt` (1-based). */
int64_t registry_backoff_ms(const char *retry_after, int attempt) {
  int64_t ra = ld_retry_after_parse(retry_after, (int64_t) time(NULL));
  if (ra >= 0) return (ra > 60 ? 60 : ra) * 1000;
  int64_t ms = 250LL << (attempt - 1 > 5 ? 5 : attempt - 1);
  return ms > 8000 ? 8000 : ms;
}

int registry_retries(const ld_registry *r) { return r->retries; }

/* ---- auth ---- */

static char *basic_header(const ld_registry *r) {
  char *plain = ld_xasprintf("%s:%s", r->user, r->pass);
  size_t pl = strlen(plain);
  char *b64 = ld_xmalloc(4 * ((pl + 2) / 3) + 1);
  EVP_EncodeBlock((unsigned char *) b64, (unsigned char *) plain, (int) pl);
  explicit_bzero(plain, pl);
  free(plain);
  char *h = ld_xasprintf("Authorization: Basic %s", b64);
  free(b64);
  return h;
}

/* A token for "repository:X:pull,push" also serves "repository:X:pull". */
static bool scope_covers(const char *have, const char *want) {
  if (!strcmp(have, want)) return true;
  size_t wl = strlen(want);
  return ld_str_has_suffix(want, ":pull") && !strncmp(have, want, wl) &&
         !strcmp(have + wl, ",push");
}

static char *token_cached(ld_registry *r, const char *scope) {
  char *tok = NULL;
  int64_t now = ld_now();
  pthread_mutex_lock(&r->mu);
  for (size_t i = 0; i < r->n_tokens && !tok; i++)
    if (scope_covers(r->tokens[i].scope, scope) && r->tokens[i].expires > now + 5)
      tok = ld_xstrdup(r->tokens[i].token);
  pthread_mutex_unlock(&r->mu);
  return tok;
}

static void token_remember(ld_registry *r, const char *scope, const char *tok, int64_t ttl) {
  pthread_mutex_lock(&r->mu);
  size_t i;
  for (i = 0; i < r->n_tokens; i++)
    if (!strcmp(r->tokens[i].scope, scope)) break;
  if (i == r->n_tokens) {
    if (r->n_tokens == TOKEN_MAX) {
      i = 0; /* evict the oldest entry */
      free(r->tokens[0].scope);
      free(r->tokens[0].token);
      memmove(r->tokens, r->tokens + 1, (TOKEN_MAX - 1) * sizeof *r->tokens);
      i = TOKEN_MAX - 1;
    } else {
      r->n_tokens++;
    }
    r->tokens[i].scope = ld_xstrdup(scope);
    r->tokens[i].token = NULL;
  }
  free(r->tokens[i].token);
  r->tokens[i].token = ld_xstrdup(tok);
  r->tokens[i].expires = ld_now() + ttl;
  pthread_mutex_unlock(&r->mu);
}

static void append_query(ld_buf *url, const char *key, const char *value, bool *first) {
  char *esc = curl_easy_escape(NULL, value, 0);
  ld_buf_printf(url, "%c%s=%s", *first ? (strchr(url->data, '?') ? '&' : '?') : '&', key, esc);
  *first = false;
  curl_free(esc);
}

/* GET realm?service=…&scope=…&scope=… (Basic credentials if we have them). */
static int fetch_token(ld_registry *r, const char *realm, const char *service, const char *scopes,
                       const char *extra_scope, char **out, int64_t *ttl, ld_error **err) {
  ld_buf url = {0};
  ld_buf_puts(&url, realm);
  bool first = true;
  if (service) append_query(&url, "service", service, &first);
  char *all = ld_xstrdup(scopes ? scopes : "");
  for (char *save = NULL, *s = strtok_r(all, " ", &save); s; s = strtok_r(NULL, " ", &save))
    append_query(&url, "scope", s, &first);
  if (extra_scope && (!scopes || !strstr(scopes, extra_scope)))
    append_query(&url, "scope", extra_scope, &first);
  free(all);
  http_req q = {.method = "GET", .url = url.data, .what = "token", .max_body = 1 << 20};
  http_resp p = {0};
  char errbuf[CURL_ERROR_SIZE];
  char *auth = r->user ? basic_header(r) : NULL;
  CURLcode rc = CURLE_OK;
  for (int attempt = 0;; attempt++) {
    http_resp_clear(&p);
    rc = perform_once(r, &q, auth, &p, NULL, errbuf);
    bool again = (rc != CURLE_OK && curl_retryable(rc)) || (rc == CURLE_OK && http_status_retryable(p.status));
    if (!again || attempt >= r->retries) break;
    registry_sleep_ms(registry_backoff_ms(p.retry_after, attempt + 1));
  }
  free(auth);
  int ret = -1;
  if (rc != CURLE_OK) {
    ld_err(err, EIO, "registry %s: token from %s: %s", r->domain, realm,
           errbuf[0] ? errbuf : curl_easy_strerror(rc));
  } else if (p.status != 200) {
    ld_err(err, p.status == 401 || p.status == 403 ? EACCES : EIO,
           "registry %s: token from %s: HTTP %ld%s", r->domain, realm, p.status,
           p.status == 401 ? " (bad credentials?)" : "");
  } else {
    json_t *j = NULL;
    if (ld_json_parse(p.body.data ? p.body.data : "", p.body.len, "token response", &j, err) == 0) {
      const char *tok = ld_json_str(j, "token");
      if (!tok) tok = ld_json_str(j, "access_token");
      if (!tok) {
        ld_err(err, LD_EFORMAT, "registry %s: token response from %s has no token", r->domain,
               realm);
      } else {
        *out = ld_xstrdup(tok);
        *ttl = ld_json_int(j, "expires_in", 60);
        if (*ttl < 60) *ttl = 60;
        ret = 0;
      }
      json_decref(j);
    }
  }
  ld_buf_free(&url);
  http_resp_clear(&p);
  return ret;
}

/* The Authorization header line for scope, fetching a token if needed; NULL for none. */
static int auth_header(ld_registry *r, const char *scope, char **out, ld_error **err) {
  *out = NULL;
  if (r->auth == AUTH_BASIC) {
    if (r->user) *out = basic_header(r);
    return 0;
  }
  if (r->auth != AUTH_BEARER) return 0;
  const char *key = scope ? scope : "";
  char *tok = token_cached(r, key);
  if (!tok) {
    /* One fetch per scope even when several blob workers miss the cache at once. */
    pthread_mutex_lock(&r->token_mu);
    tok = token_cached(r, key);
    int64_t ttl;
    if (!tok) {
      if (fetch_token(r, r->realm, r->service, scope, NULL, &tok, &ttl, err) < 0) {
        pthread_mutex_unlock(&r->token_mu);
        return -1;
      }
      token_remember(r, key, tok, ttl);
    }
    pthread_mutex_unlock(&r->token_mu);
  }
  *out = ld_xasprintf("Authorization: Bearer %s", tok);
  free(tok);
  return 0;
}

/* Learns the method from a challenge; for Bearer challenges refreshes the token of scope. */
static int handle_challenge(ld_registry *r, const char *scope, const char *header, bool *retry,
                            ld_error **err) {
  *retry = false;
  if (!header) return 0;
  ld_auth_challenge c;
  if (ld_auth_challenge_parse(header, &c, err) < 0) return -1;
  int rc = 0;
  if (!strcmp(c.scheme, "bearer") && c.realm) {
    pthread_mutex_lock(&r->mu);
    r->auth = AUTH_BEARER;
    if (!r->realm) {
      r->realm = ld_xstrdup(c.realm);
      r->service = c.service ? ld_xstrdup(c.service) : NULL;
    }
    pthread_mutex_unlock(&r->mu);
    char *tok;
    int64_t ttl;
    rc = fetch_token(r, c.realm, c.service, scope, c.scope, &tok, &ttl, err);
    if (rc == 0) {
      token_remember(r, scope ? scope : "", tok, ttl);
      free(tok);
      *retry = true;
    }
  } else if (!strcmp(c.scheme, "basic") && r->user && r->auth != AUTH_BASIC) {
    r->auth = AUTH_BASIC;
    *retry = true;
  }
  ld_auth_challenge_clear(&c);
  return rc;
}

/* ---- ping ---- */

static int ping_locked(ld_registry *r, ld_error **err);

/* One GET /v2/ over scheme; 0 when an HTTP answer came back (any status). */
static int ping_once(ld_registry *r, const char *scheme, http_resp *p, CURLcode *rc,
                     char errbuf[CURL_ERROR_SIZE]) {
  char *url = ld_xasprintf("%s://%s/v2/", scheme, r->host);
  http_req q = {.method = "GET", .url = url, .what = "/v2/"};
  http_resp_clear(p);
  *rc = perform_once(r, &q, NULL, p, NULL, errbuf);
  free(url);
  /* "400: plain HTTP request sent to HTTPS port" counts as no answer over http. */
  if (*rc == CURLE_OK && p->status == 400 && !strcmp(scheme, "http")) *rc = CURLE_RECV_ERROR;
  return *rc == CURLE_OK ? 0 : -1;
}

int ld_registry_ping(ld_registry *r, ld_error **err) {
  pthread_mutex_lock(&r->mu);
  bool done = r->pinged;
  pthread_mutex_unlock(&r->mu);
  if (done) return 0;
  /* Blob workers may all arrive here first: one pings, the others wait for its answer. */
  pthread_mutex_lock(&r->ping_mu);
  int rc = r->pinged ? 0 : ping_locked(r, err);
  pthread_mutex_unlock(&r->ping_mu);
  return rc;
}

static int ping_locked(ld_registry *r, ld_error **err) {
  http_resp p = {0};
  CURLcode rc = CURLE_OK;
  char errbuf[CURL_ERROR_SIZE] = "", tls_err[CURL_ERROR_SIZE] = "";
  /* Loopback registries are nearly always plain http: try it first there, skip a TLS round. */
  const char *order[2] = {"https", r->allow_http ? "http" : NULL};
  if (ld_host_is_loopback(r->domain)) {
    order[0] = "http";
    order[1] = "https";
  }
  const char *scheme = NULL;
  for (int attempt = 0; !scheme; attempt++) {
    bool retryable = false;
    for (int i = 0; i < 2 && order[i] && !scheme; i++) {
      if (ping_once(r, order[i], &p, &rc, errbuf) == 0) {
        scheme = order[i];
      } else {
        retryable |= rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
                     rc == CURLE_GOT_NOTHING;
        if (!strcmp(order[i], "https")) memcpy(tls_err, errbuf, sizeof tls_err);
      }
    }
    if (scheme && http_status_retryable(p.status) && attempt < r->retries) {
      registry_sleep_ms(registry_backoff_ms(p.retry_after, attempt + 1));
      scheme = NULL;
      continue;
    }
    /* Nobody listening at first contact is more often a wrong address than a restart: give it
     * about 4 s (0.25 + 0.5 + 1 + 2), not the whole retry budget. */
    if (scheme || !retryable || attempt >= (r->retries < 4 ? r->retries : 4)) break;
    ld_debug("registry %s: ping attempt %d failed, retrying", r->domain, attempt + 1);
    registry_sleep_ms(registry_backoff_ms(NULL, attempt + 1));
  }
  if (!scheme && tls_err[0]) memcpy(errbuf, tls_err, sizeof errbuf);
  if (!scheme) rc = rc == CURLE_OK ? CURLE_COULDNT_CONNECT : rc;
  if (rc != CURLE_OK) {
    /* A TLS failure may be a plain-HTTP registry: say why we did not try that. */
    bool tls_failed = rc != CURLE_COULDNT_CONNECT && rc != CURLE_COULDNT_RESOLVE_HOST &&
                      rc != CURLE_OPERATION_TIMEDOUT;
    ld_err(err, EIO, "registry %s: cannot connect: %s%s", r->domain,
           errbuf[0] ? errbuf : curl_easy_strerror(rc),
           !r->allow_http && tls_failed
               ? " (HTTPS only: plain HTTP is used for loopback registries or with "
                 "--tls-verify=false)"
               : "");
    http_resp_clear(&p);
    return -1;
  }
  if (p.status != 200 && p.status != 401) {
    ld_err(err, EIO, "registry %s: GET /v2/ answered HTTP %ld: not a registry", r->domain,
           p.status);
    http_resp_clear(&p);
    return -1;
  }
  pthread_mutex_lock(&r->mu);
  free(r->scheme);
  r->scheme = ld_xstrdup(scheme);
  if (p.status == 401 && p.www_auth) {
    ld_auth_challenge c;
    if (ld_auth_challenge_parse(p.www_auth, &c, NULL) == 0) {
      if (!strcmp(c.scheme, "bearer") && c.realm) {
        r->auth = AUTH_BEARER;
        r->realm = ld_xstrdup(c.realm);
        r->service = c.service ? ld_xstrdup(c.service) : NULL;
      } else if (!strcmp(c.scheme, "basic")) {
        r->auth = AUTH_BASIC;
      }
      ld_auth_challenge_clear(&c);
    }
  }
  r->pinged = true;
  pthread_mutex_unlock(&r->mu);
  http_resp_clear(&p);
  return 0;
}

char *registry_url(ld_registry *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *path;
  if (vasprintf(&path, fmt, ap) < 0) abort();
  va_end(ap);
  char *url = ld_xasprintf("%s://%s%s", r->scheme ? r->scheme : "https", r->host, path);
  free(path);
  return url;
}

/* Absolute URL of a Location header (relative ones are common). */
char *registry_resolve_location(ld_registry *r, const char *loc) {
  if (ld_str_has_prefix(loc, "http://") || ld_str_has_prefix(loc, "https://"))
    return ld_xstrdup(loc);
  return ld_xasprintf("%s://%s%s%s", r->scheme, r->host, loc[0] == '/' ? "" : "/", loc);
}

/* ---- the request loop ---- */

int registry_auth_header(ld_registry *r, const char *scope, char **out, ld_error **err) {
  return auth_header(r, scope, out, err);
}
int registry_challenge(ld_registry *r, const char *scope, const char *header, bool *retry,
                       ld_error **err) {
  return handle_challenge(r, scope, header, retry, err);
}

int registry_do(ld_registry *r, const http_req *q, http_resp *p, ld_error **err) {
  if (ld_registry_ping(r, err) < 0) return -1;
  bool challenged = false;
  for (int attempt = 0;; attempt++) {
    char *auth;
    if (auth_header(r, q->scope, &auth, err) < 0) return -1;
    upload_src up = {q->upload, NULL, r};
    char errbuf[CURL_ERROR_SIZE];
    http_resp_clear(p);
    CURLcode rc = perform_once(r, q, auth, p, &up, errbuf);
    free(auth);
    if (up.error) {
      if (err && !*err) *err = up.error;
      else ld_error_free(up.error);
      return -1;
    }
    bool one_shot = q->upload != NULL;
    if (rc != CURLE_OK) {
      if (p->too_big)
        return ld_err(err, EFBIG, "registry %s: %s %s: response larger than %zu bytes", r->domain,
                      q->method, q->what, q->max_body);
      if (!one_shot && curl_retryable(rc) && attempt < r->retries) {
        ld_debug("registry %s: %s %s: %s, retrying", r->domain, q->method, q->what,
                 curl_easy_strerror(rc));
        registry_sleep_ms(registry_backoff_ms(NULL, attempt + 1));
        continue;
      }
      return ld_err(err, EIO, "registry %s: %s %s: %s", r->domain, q->method, q->what,
                    errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    if (p->status == 401 && !challenged && !one_shot) {
      challenged = true;
      bool retry;
      if (handle_challenge(r, q->scope, p->www_auth, &retry, err) < 0) return -1;
      if (retry) {
        attempt--;
        continue;
      }
    }
    if (http_status_retryable(p->status) && !one_shot && attempt < r->retries) {
      int64_t ms = registry_backoff_ms(p->retry_after, attempt + 1);
      ld_info("registry %s: %s %s: HTTP %ld, retrying in %lld ms", r->domain, q->method, q->what,
              p->status, (long long) ms);
      registry_sleep_ms(ms);
      continue;
    }
    return 0;
  }
}

void registry_count_in(ld_registry *r, uint64_t n) { atomic_fetch_add(&r->bytes_in, n); }

CURL *registry_handle_get(ld_registry *r) { return handle_get(r); }
void registry_handle_put(ld_registry *r, CURL *h) { handle_put(r, h); }
void registry_set_header_cb(CURL *h, http_resp *p) {
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, p);
}
uint64_t registry_chunk_size(const ld_registry *r) { return r->chunk_size; }
const char *registry_http_refusal(const ld_registry *r, CURLcode rc) {
  return rc == CURLE_UNSUPPORTED_PROTOCOL && !r->allow_http
             ? "refusing a redirect to plain HTTP for a registry that is not loopback; "
               "--tls-verify=false allows it"
             : NULL;
}

/* ---- login ---- */

int ld_registry_check_login(ld_registry *r, ld_error **err) {
  if (ld_registry_ping(r, err) < 0) return -1;
  if (!r->user) return ld_err(err, EINVAL, "registry %s: no credentials given", r->domain);
  if (r->auth == AUTH_BEARER) {
    char *tok;
    int64_t ttl;
    if (fetch_token(r, r->realm, r->service, NULL, NULL, &tok, &ttl, err) < 0) return -1;
    free(tok);
    return 0;
  }
  /* Basic, or a registry that asked for nothing: an authenticated GET /v2/ must pass. */
  char *url = registry_url(r, "/v2/");
  char *auth = basic_header(r);
  http_req q = {.method = "GET", .url = url, .what = "/v2/"};
  http_resp p = {0};
  char errbuf[CURL_ERROR_SIZE];
  CURLcode rc = perform_once(r, &q, auth, &p, NULL, errbuf);
  free(auth);
  free(url);
  int ret = 0;
  if (rc != CURLE_OK)
    ret = ld_err(err, EIO, "registry %s: %s", r->domain, errbuf[0] ? errbuf : curl_easy_strerror(rc));
  else if (p.status == 401 || p.status == 403)
    ret = ld_err(err, EACCES, "registry %s: invalid username or password (HTTP %ld)", r->domain,
                 p.status);
  else if (p.status != 200)
    ret = ld_err(err, EIO, "registry %s: GET /v2/ answered HTTP %ld", r->domain, p.status);
  http_resp_clear(&p);
  return ret;
}
