/* Internals shared by the registry's HTTP plumbing (server.c) and its handlers (routes.c).
 *
 * A request moves through three calls of libmicrohttpd's access handler: begin (headers
 * known: route, authenticate, authorise, and either answer at once or prepare to take a
 * body), body (zero or more chunks, streamed to an upload session or, for manifests, gathered
 * up to the size cap) and end (finish and answer). Handlers never block on anything but the
 * local disk.
 */
#ifndef LADING_REGISTRY_SERVER_H
#define LADING_REGISTRY_SERVER_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include "lading/registry.h"
#include "lading/util.h"
#include "registry/auth.h"
#include "registry/storage.h"
#include "registry/uploads.h"

typedef enum {
  RT_NONE = 0,   /* unknown path: 404 */
  RT_BASE,       /* /v2/ */
  RT_CATALOG,    /* /v2/_catalog */
  RT_TAGS,       /* /v2/<name>/tags/list */
  RT_MANIFEST,   /* /v2/<name>/manifests/<reference> */
  RT_BLOB,       /* /v2/<name>/blobs/<digest> */
  RT_UPLOADS,    /* /v2/<name>/blobs/uploads/ */
  RT_UPLOAD,     /* /v2/<name>/blobs/uploads/<uuid> */
  RT_REFERRERS,  /* /v2/<name>/referrers/<digest> */
} rt_kind;

typedef struct rt_route {
  rt_kind kind;
  char *name; /* repository, NULL for base/catalog */
  char *ref;  /* reference, digest or uuid */
} rt_route;

/* Splits a request path into a route. Returns 0, or -1 when the repository name is invalid
 * (route still tells which endpoint was meant). */
int rt_parse(const char *path, rt_route *out);
void rt_route_clear(rt_route *r);

typedef struct srv {
  rs_storage st;
  ru_table uploads;
  ra_auth auth;
  ld_registry_opts o;
  struct MHD_Daemon *daemon;
  uint16_t port;
  atomic_int in_flight;
  FILE *log;
  pthread_t reaper;
  pthread_mutex_t reaper_lock;
  pthread_cond_t reaper_cond;
  bool stopping;
  /* manifest GETs to record in the store's meta.db (flushed by the reaper thread) */
  pthread_mutex_t touch_lock;
  char (*touch)[LD_DIGEST_MAX];
  size_t n_touch;
  struct ld_store *store; /* opened lazily by the reaper thread, used only there */
  atomic_bool store_failed;
} srv;

typedef enum { BODY_NONE = 0, BODY_UPLOAD, BODY_MANIFEST, BODY_DISCARD } body_kind;

typedef struct req {
  srv *s;
  struct MHD_Connection *conn;
  struct timespec start;
  char method[12];
  char *path;
  char *user;
  rt_route route;
  int status;
  uint64_t bytes_in, bytes_out;
  bool answered;
  bool begun;
  /* body handling */
  body_kind body;
  ru_session *session;   /* BODY_UPLOAD */
  char *final_digest;    /* digest to commit at end (POST ?digest= / PUT) */
  bool patch;            /* PATCH: keep the session */
  bool post_monolithic;  /* POST ?digest=: 201 rather than 204 */
  ld_buf manifest;       /* BODY_MANIFEST */
  bool too_big;
  ld_error *body_err;
} req;

/* Answering. Every response gets the common headers and is recorded for the access log. */
enum MHD_Result rq_send(req *q, int status, struct MHD_Response *resp);
enum MHD_Result rq_send_json(req *q, int status, const char *json, const char *content_type);
enum MHD_Result rq_send_empty(req *q, int status, const char *const *headers);
/* A spec error body {"errors":[{"code":...,"message":...,"detail":...}]}. */
enum MHD_Result rq_error(req *q, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *rq_header(req *q, const char *name);
const char *rq_arg(req *q, const char *name);

/* Queues a manifest digest whose GET counts as use of the store's image (no-op without a store). */
void rq_touch(req *q, const char *digest);

/* Handlers (routes.c). begin answers or sets q->body; body/end complete bodies. */
enum MHD_Result routes_begin(req *q);
void routes_body(req *q, const char *data, size_t len);
enum MHD_Result routes_end(req *q);
/* Releases what a request still holds (a session when the client went away). */
void routes_cleanup(req *q);

#endif
