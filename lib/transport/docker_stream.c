/* Blob downloads as pull streams (ld_registry_open_blob).
 *
 * A stream owns one curl easy handle inside its own multi handle. read() drives the transfer
 * until the write callback has filled some of the 1 MiB ring; when the ring is full the
 * callback answers CURL_WRITEFUNC_PAUSE and read() resumes the transfer once it has drained it.
 * So a 2 GB layer costs 1 MiB of memory and flows at the pace of its consumer. A ring, not a
 * buffer compacted with memmove: the consumer (an upload) reads half a buffer at a time, so
 * compaction moved ~half of every byte once more (4.5% of a registry-to-registry copy's CPU).
 *
 * Opening waits for the first byte or the end of the response, so that the status is known:
 * 401 (token refresh), 429 / 5xx / connection errors (backoff, Retry-After) are retried there,
 * before any byte has reached the caller. Past that point a broken stream is an error for the
 * caller, who starts the blob over (ld_copy's retry). Redirects (to object storage) are
 * followed; libcurl drops our Authorization header when the host changes.
 */
#include <errno.h>
#include <string.h>
#include "lading/log.h"
#include "lading/registry_client.h"
#include "lading/util.h"
#include "docker_internal.h"

#define STREAM_BUF (1u << 20)

typedef struct blob_stream {
  ld_reader r;
  ld_registry *reg;
  CURLM *multi;
  CURL *h;
  struct curl_slist *hdrs;
  http_resp resp;
  char *buf;            /* STREAM_BUF bytes, used as a ring */
  uint64_t start, end;  /* bytes consumed / received so far: the ring holds [start, end) */
  bool paused, done;
  CURLcode result;
  char errbuf[CURL_ERROR_SIZE];
  char *what;
} blob_stream;

/* Copies len bytes between the ring at position pos and flat memory, in one or two pieces. */
static void ring_copy(blob_stream *s, uint64_t pos, char *flat, size_t len, bool into_ring) {
  size_t at = (size_t) (pos % STREAM_BUF), first = STREAM_BUF - at < len ? STREAM_BUF - at : len;
  if (into_ring) {
    memcpy(s->buf + at, flat, first);
    memcpy(s->buf, flat + first, len - first);
  } else {
    memcpy(flat, s->buf + at, first);
    memcpy(flat + first, s->buf, len - first);
  }
}

static size_t stream_write_cb(char *data, size_t size, size_t n, void *arg) {
  blob_stream *s = arg;
  size_t len = size * n;
  if (STREAM_BUF - (s->end - s->start) < len) { /* curl takes all of it or none */
    s->paused = true;
    return CURL_WRITEFUNC_PAUSE;
  }
  ring_copy(s, s->end, data, len, true);
  s->end += len;
  return len;
}

/* One step of the transfer: perform, collect completion, wait a little for the socket. */
static void stream_step(blob_stream *s) {
  int running = 0;
  curl_multi_perform(s->multi, &running);
  int left;
  CURLMsg *m;
  while ((m = curl_multi_info_read(s->multi, &left)))
    if (m->msg == CURLMSG_DONE) {
      s->done = true;
      s->result = m->data.result;
    }
  if (!s->done && s->end == s->start && !s->paused) curl_multi_poll(s->multi, NULL, 0, 500, NULL);
}

/* Drives until bytes are buffered or the transfer ended. */
static void stream_fill(blob_stream *s) {
  while (s->end == s->start && !s->done) {
    if (s->paused) {
      s->paused = false;
      curl_easy_pause(s->h, CURLPAUSE_CONT); /* may deliver into the buffer right away */
      if (s->end > s->start) break;
    }
    stream_step(s);
  }
}

static long stream_status(blob_stream *s) {
  long st = 0;
  curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &st);
  return st;
}

static ssize_t stream_read(ld_reader *r, void *out, size_t len) {
  blob_stream *s = (blob_stream *) r;
  stream_fill(s);
  if (s->end > s->start) {
    size_t n = s->end - s->start < len ? (size_t) (s->end - s->start) : len;
    ring_copy(s, s->start, out, n, false);
    s->start += n;
    registry_count_in(s->reg, n);
    return (ssize_t) n;
  }
  if (s->result != CURLE_OK) {
    ld_err(&r->error, EIO, "registry %s: %s: %s", ld_registry_domain(s->reg), s->what,
           s->errbuf[0] ? s->errbuf : curl_easy_strerror(s->result));
    return -1;
  }
  return 0;
}

static void stream_free(blob_stream *s) {
  if (s->multi) {
    curl_multi_remove_handle(s->multi, s->h);
    curl_multi_cleanup(s->multi);
  }
  if (s->h) curl_easy_cleanup(s->h); /* not pooled: its connection belonged to the multi */
  curl_slist_free_all(s->hdrs);
  http_resp_clear(&s->resp);
  free(s->buf);
  free(s->what);
  free(s);
}

static void stream_close(ld_reader *r) { stream_free((blob_stream *) r); }

static blob_stream *stream_start(ld_registry *r, const char *url, const char *auth,
                                 const char *what) {
  blob_stream *s = ld_xcalloc(1, sizeof *s);
  s->r.read = stream_read;
  s->r.close = stream_close;
  s->reg = r;
  s->buf = ld_xmalloc(STREAM_BUF);
  s->what = ld_xstrdup(what);
  s->h = registry_handle_get(r);
  if (auth) s->hdrs = curl_slist_append(s->hdrs, auth);
  curl_easy_setopt(s->h, CURLOPT_URL, url);
  curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hdrs);
  curl_easy_setopt(s->h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, stream_write_cb);
  curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
  curl_easy_setopt(s->h, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, s->errbuf);
  registry_set_header_cb(s->h, &s->resp);
  s->multi = curl_multi_init();
  curl_multi_add_handle(s->multi, s->h);
  stream_fill(s);
  return s;
}

static bool curl_retryable_rc(CURLcode rc) {
  return rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
         rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
         rc == CURLE_PARTIAL_FILE;
}

static int open_blob(ld_registry *r, const char *repo, const char *digest, int64_t size,
                     bool verify, ld_reader **out, ld_error **err);

int ld_registry_open_blob(ld_registry *r, const char *repo, const char *digest, int64_t size,
                          ld_reader **out, ld_error **err) {
  return open_blob(r, repo, digest, size, true, out, err);
}

int ld_registry_open_blob_unverified(ld_registry *r, const char *repo, const char *digest,
                                     ld_reader **out, ld_error **err) {
  return open_blob(r, repo, digest, -1, false, out, err);
}

static int open_blob(ld_registry *r, const char *repo, const char *digest, int64_t size,
                     bool verify, ld_reader **out, ld_error **err) {
  if (ld_registry_ping(r, err) < 0) return -1;
  char *scope = scope_pull(repo);
  char *url = registry_url(r, "/v2/%s/blobs/%s", repo, digest);
  char *what = ld_xasprintf("blob %s in %s", digest, repo);
  bool challenged = false;
  int rc = -1;
  for (int attempt = 0;; attempt++) {
    char *auth;
    if (registry_auth_header(r, scope, &auth, err) < 0) break;
    blob_stream *s = stream_start(r, url, auth, what);
    free(auth);
    long st = stream_status(s);
    const char *refusal = s->done ? registry_http_refusal(r, s->result) : NULL;
    if (refusal) { /* a redirect to plain HTTP: st is the redirect's own status */
      ld_err(err, EACCES, "registry %s: GET %s: %s", ld_registry_domain(r), what, refusal);
      stream_free(s);
      break;
    }
    /* A failure after a redirect leaves the redirect's status: still a connection failure. */
    bool conn_failed = s->done && s->result != CURLE_OK && (!st || (st >= 300 && st < 400));
    if (!conn_failed && st == 200) {
      *out = verify ? ld_verifier_new(&s->r, true, digest, size, what) : &s->r;
      rc = 0;
      break;
    }
    /* Let a short error body arrive for the message. */
    while (!s->done && s->end - s->start < 4096) {
      uint64_t before = s->end;
      stream_step(s);
      if (s->end == before && s->paused) break;
    }
    http_resp p = {.status = st};
    size_t body_len = (size_t) (s->end - s->start);
    char *body = ld_xmalloc(body_len + 1);
    ring_copy(s, s->start, body, body_len, false);
    ld_buf_append(&p.body, body, body_len);
    free(body);
    char *retry_after = s->resp.retry_after ? ld_xstrdup(s->resp.retry_after) : NULL;
    char *www = s->resp.www_auth ? ld_xstrdup(s->resp.www_auth) : NULL;
    CURLcode res = s->result;
    char errbuf[CURL_ERROR_SIZE];
    memcpy(errbuf, s->errbuf, sizeof errbuf);
    stream_free(s);
    bool retry = false;
    if (conn_failed) {
      if (curl_retryable_rc(res) && attempt < registry_retries(r)) {
        registry_sleep_ms(registry_backoff_ms(NULL, attempt + 1));
        retry = true;
      } else {
        ld_err(err, EIO, "registry %s: GET %s: %s", ld_registry_domain(r), what,
               errbuf[0] ? errbuf : curl_easy_strerror(res));
      }
    } else if (st == 401 && !challenged) {
      challenged = true;
      if (registry_challenge(r, scope, www, &retry, err) == 0 && retry) attempt--;
      else if (!retry && !(err && *err)) {
        http_req q = {.method = "GET", .what = what};
        http_status_err(r, &q, &p, err);
      }
    } else if (http_status_retryable(st) && attempt < registry_retries(r)) {
      int64_t ms = registry_backoff_ms(retry_after, attempt + 1);
      ld_info("registry %s: GET %s: HTTP %ld, retrying in %lld ms", ld_registry_domain(r), what,
              st, (long long) ms);
      registry_sleep_ms(ms);
      retry = true;
    } else {
      http_req q = {.method = "GET", .what = what};
      http_status_err(r, &q, &p, err);
    }
    http_resp_clear(&p);
    free(retry_after);
    free(www);
    if (!retry) break;
  }
  free(scope);
  free(url);
  free(what);
  return rc;
}
