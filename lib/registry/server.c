/* The registry's HTTP plumbing over libmicrohttpd: daemon setup, the request lifecycle,
 * authentication gate, common headers, spec error bodies, access log and draining shutdown.
 *
 * Threading: libmicrohttpd's internal epoll loop with a pool of worker threads (each owns a
 * share of the connections); handlers only touch the local disk, so a pool of a few threads
 * per core keeps the CPUs busy without one connection per thread. Blobs go out with
 * MHD_create_response_from_fd (sendfile on plain HTTP). Upload bodies arrive in chunks of up
 * to the connection buffer size and are streamed to disk as they come.
 *
 * Shutdown: ld_registry_stop quiesces the daemon (no new connections), waits until no request
 * is in flight (counted from the first call of the access handler to the completion callback)
 * or the drain timeout passes, then stops the daemon, which closes idle keep-alive connections.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include "lading/fs.h"
#include "lading/log.h"
#include "lading/manifest.h"
#include "registry/server.h"

#define CONN_MEMORY (512u << 10)

char *ld_registry_default_root(void) {
  const char *env = getenv("LADING_ROOT");
  if (env && *env) return ld_xasprintf("%s/registry", env);
  if (geteuid() == 0) return ld_xstrdup("/var/lib/lading/registry");
  const char *xdg = getenv("XDG_DATA_HOME");
  if (xdg && *xdg) return ld_xasprintf("%s/lading/registry", xdg);
  const char *home = getenv("HOME");
  return ld_xasprintf("%s/.local/share/lading/registry", home ? home : ".");
}

const char *rq_header(req *q, const char *name) {
  return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
}

const char *rq_arg(req *q, const char *name) {
  return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
}

enum MHD_Result rq_send(req *q, int status, struct MHD_Response *resp) {
  MHD_add_response_header(resp, "Docker-Distribution-API-Version", "registry/2.0");
  if (status == 401) {
    MHD_add_response_header(resp, "WWW-Authenticate", "Basic realm=\"lading\"");
  }
  q->status = status;
  q->answered = true;
  enum MHD_Result rc = MHD_queue_response(q->conn, (unsigned) status, resp);
  MHD_destroy_response(resp);
  return rc;
}

enum MHD_Result rq_send_json(req *q, int status, const char *json, const char *content_type) {
  size_t n = strlen(json);
  struct MHD_Response *r =
      MHD_create_response_from_buffer(n, (void *) json, MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(r, "Content-Type", content_type ? content_type : "application/json");
  if (strcmp(q->method, "HEAD")) q->bytes_out += n;
  return rq_send(q, status, r);
}

enum MHD_Result rq_send_empty(req *q, int status, const char *const *headers) {
  struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
  for (size_t i = 0; headers && headers[i]; i += 2)
    MHD_add_response_header(r, headers[i], headers[i + 1]);
  return rq_send(q, status, r);
}

enum MHD_Result rq_error(req *q, int status, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_t *err = json_pack("{s:s, s:s, s:n}", "code", code, "message", msg, "detail");
  json_t *body = json_pack("{s:[o]}", "errors", err);
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  enum MHD_Result rc = rq_send_json(q, status, text, NULL);
  free(text);
  return rc;
}

static void log_request(srv *s, req *q) {
  if (!s->log) return;
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  double ms = (double) (end.tv_sec - q->start.tv_sec) * 1e3 +
              (double) (end.tv_nsec - q->start.tv_nsec) / 1e6;
  char when[32];
  ld_time_rfc3339(ld_now(), when, sizeof when);
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(q->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  char addr[INET6_ADDRSTRLEN] = "-";
  if (ci && ci->client_addr) {
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
      inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, addr, sizeof addr);
    else if (sa->sa_family == AF_INET6)
      inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, addr, sizeof addr);
  }
  fprintf(s->log, "%s %s %s %s %s %d %llu %llu %.2fms\n", when, addr, q->user ? q->user : "-",
          q->method, q->path, q->status, (unsigned long long) q->bytes_in,
          (unsigned long long) q->bytes_out, ms);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  srv *s = cls;
  req *q = *con_cls;
  if (!q) return;
  routes_cleanup(q);
  log_request(s, q);
  rt_route_clear(&q->route);
  ld_buf_free(&q->manifest);
  ld_error_free(q->body_err);
  free(q->final_digest);
  free(q->user);
  free(q->path);
  free(q);
  *con_cls = NULL;
  atomic_fetch_sub(&s->in_flight, 1);
}

/* Authentication happens once per request, before any routing decision reveals anything. */
static enum MHD_Result authenticate(req *q) {
  srv *s = q->s;
  if (!s->auth.have_htpasswd) return MHD_YES;
  int rc = ra_authenticate(&s->auth, rq_header(q, "Authorization"), &q->user);
  if (rc < 0) {
    rq_error(q, 401, "UNAUTHORIZED", "authentication required: bad credentials");
    return MHD_NO;
  }
  return MHD_YES;
}

static bool has_body(req *q) {
  const char *cl = rq_header(q, "Content-Length");
  return (cl && strtoull(cl, NULL, 10) > 0) || rq_header(q, "Transfer-Encoding");
}

static enum MHD_Result begin(req *q) {
  q->begun = true;
  if (authenticate(q) != MHD_YES) return q->answered ? MHD_YES : MHD_NO;
  return routes_begin(q);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  srv *s = cls;
  req *q = *con_cls;
  if (!q) {
    q = ld_xcalloc(1, sizeof *q);
    *con_cls = q;
    atomic_fetch_add(&s->in_flight, 1);
    q->s = s;
    q->conn = conn;
    clock_gettime(CLOCK_MONOTONIC, &q->start);
    snprintf(q->method, sizeof q->method, "%s", method);
    q->path = ld_xstrdup(url);
    /* Without a body, answer on the second call: a response queued while the headers are
     * still being processed makes libmicrohttpd close the connection after it. */
    if (!has_body(q)) return MHD_YES;
    return begin(q);
  }
  q->conn = conn;
  if (!q->begun && !*upload_data_size) return begin(q);
  if (*upload_data_size) {
    size_t n = *upload_data_size;
    q->bytes_in += n;
    if (!q->answered) routes_body(q, upload_data, n);
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (q->answered) return MHD_YES;
  return routes_end(q);
}

static void *reaper_main(void *arg) {
  srv *s = arg;
  pthread_mutex_lock(&s->reaper_lock);
  while (!s->stopping) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += s->o.upload_ttl < 20 ? 1 : 10;
    pthread_cond_timedwait(&s->reaper_cond, &s->reaper_lock, &ts);
    if (s->stopping) break;
    pthread_mutex_unlock(&s->reaper_lock);
    size_t n = ru_reap(&s->uploads, ld_now());
    if (n) ld_info("registry: expired %zu idle upload session(s)", n);
    pthread_mutex_lock(&s->reaper_lock);
  }
  pthread_mutex_unlock(&s->reaper_lock);
  return NULL;
}

static int parse_addr(const char *addr, struct sockaddr_in *sa, ld_error **err) {
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  const char *colon = strrchr(addr, ':');
  if (!colon) return ld_err(err, LD_EUSAGE, "--addr %s: expected HOST:PORT", addr);
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || colon[1] == 0 || port < 0 || port > 65535)
    return ld_err(err, LD_EUSAGE, "--addr %s: invalid port", addr);
  sa->sin_port = htons((uint16_t) port);
  ld_autofree char *host = ld_xstrndup(addr, (size_t) (colon - addr));
  if (!*host) host = (free(host), ld_xstrdup("0.0.0.0"));
  if (!strcmp(host, "localhost")) host = (free(host), ld_xstrdup("127.0.0.1"));
  if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
    return ld_err(err, LD_EUSAGE, "--addr %s: host must be an IPv4 address", addr);
  return 0;
}

static void srv_free(srv *s) {
  ra_free(&s->auth);
  ru_destroy(&s->uploads);
  rs_close(&s->st);
  pthread_mutex_destroy(&s->reaper_lock);
  pthread_cond_destroy(&s->reaper_cond);
  free((char *) s->o.root);
  free(s);
}

static unsigned default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  unsigned t = n > 0 ? (unsigned) n * 2 : 4;
  return t < 4 ? 4 : t;
}

static int start_daemon(srv *s, const struct sockaddr_in *sa, ld_error **err) {
  char *cert = NULL, *key = NULL;
  size_t len;
  if (s->o.tls_cert && (ld_read_file(s->o.tls_cert, 1 << 20, &cert, &len, err) < 0 ||
                        ld_read_file(s->o.tls_key, 1 << 20, &key, &len, err) < 0)) {
    free(cert);
    return -1;
  }
  bool per_conn = getenv("LADING_SERVE_TPC") != NULL;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_TURBO |
                   (per_conn ? MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL : MHD_USE_EPOLL);
  if (cert) flags |= MHD_USE_TLS;
  struct MHD_OptionItem tls_opts[] = {
      {cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, key},
      {MHD_OPTION_END, 0, NULL},
  };
  s->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, sa,
      MHD_OPTION_THREAD_POOL_SIZE, per_conn ? 0u : s->o.threads, MHD_OPTION_CONNECTION_LIMIT, 4096u,
      MHD_OPTION_CONNECTION_TIMEOUT, 600u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      (size_t) CONN_MEMORY, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_ARRAY, tls_opts,
      MHD_OPTION_END);
  free(cert);
  free(key);
  if (!s->daemon) {
    char buf[64];
    inet_ntop(AF_INET, &sa->sin_addr, buf, sizeof buf);
    return ld_err(err, EADDRINUSE, "serve: cannot listen on %s:%u (address in use, or bad TLS "
                  "certificate/key)", buf, ntohs(sa->sin_port));
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = di ? di->port : ntohs(sa->sin_port);
  return 0;
}

int ld_registry_start(const ld_registry_opts *o, ld_registry **out, ld_error **err) {
  srv *s = ld_xcalloc(1, sizeof *s);
  s->o = *o;
  s->o.root = o->root ? ld_xstrdup(o->root) : ld_registry_default_root();
  if (!s->o.addr) s->o.addr = "127.0.0.1:5000";
  if (!s->o.threads) s->o.threads = default_threads();
  if (s->o.upload_ttl <= 0) s->o.upload_ttl = 3600;
  if (!s->o.manifest_max || s->o.manifest_max > LD_MANIFEST_MAX)
    s->o.manifest_max = LD_MANIFEST_MAX;
  s->log = o->access_log;
  pthread_mutex_init(&s->reaper_lock, NULL);
  pthread_cond_init(&s->reaper_cond, NULL);
  ru_init(&s->uploads, &s->st, s->o.upload_ttl);
  struct sockaddr_in sa;
  if (!!o->tls_cert != !!o->tls_key) {
    srv_free(s);
    return ld_err(err, LD_EUSAGE, "serve: --tls-cert and --tls-key go together");
  }
  if (parse_addr(s->o.addr, &sa, err) < 0 ||
      ra_load(&s->auth, o->htpasswd, o->access, err) < 0 ||
      rs_open(&s->st, s->o.root, err) < 0 || start_daemon(s, &sa, err) < 0) {
    srv_free(s);
    return -1;
  }
  pthread_create(&s->reaper, NULL, reaper_main, s);
  *out = (ld_registry *) s;
  return 0;
}

uint16_t ld_registry_port(const ld_registry *r) { return ((const srv *) r)->port; }

void ld_registry_stop(ld_registry *r, int drain_seconds) {
  srv *s = (srv *) r;
  MHD_socket lfd = MHD_quiesce_daemon(s->daemon);
  if (lfd != MHD_INVALID_SOCKET) close(lfd);
  for (int i = 0; i < drain_seconds * 100 && atomic_load(&s->in_flight) > 0; i++)
    usleep(10000);
  MHD_stop_daemon(s->daemon);
  pthread_mutex_lock(&s->reaper_lock);
  s->stopping = true;
  pthread_cond_signal(&s->reaper_cond);
  pthread_mutex_unlock(&s->reaper_lock);
  pthread_join(s->reaper, NULL);
  srv_free(s);
}
