/* Internals shared by the registry client files (docker_client.c: transport, auth, retries;
 * docker_api.c: the distribution endpoints; docker_stream.c: blob download streams). */
#ifndef LADING_DOCKER_INTERNAL_H
#define LADING_DOCKER_INTERNAL_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include "lading/registry_client.h"
#include "lading/util.h"

typedef struct http_req {
  const char *method; /* GET HEAD PUT POST PATCH DELETE */
  const char *url;
  const char *what;   /* for messages: "manifest alpine:3.19" */
  const char *scope;  /* token scope(s), space separated */
  const char *accept, *content_type, *content_range;
  const void *body;   /* in-memory body */
  size_t body_len;
  ld_reader *upload;  /* one-shot streamed body (never retried) */
  int64_t upload_len;
  size_t max_body;    /* response body cap (default 64 KiB) */
} http_req;

typedef struct http_resp {
  long status;
  ld_buf body;
  bool too_big;
  char *location, *content_type, *digest, *www_auth, *retry_after, *link;
  int64_t content_length;
} http_resp;

void http_resp_clear(http_resp *p);
char *http_error_text(const http_resp *p);
int http_status_err(ld_registry *r, const http_req *q, const http_resp *p, ld_error **err);
bool http_status_retryable(long status);

int registry_do(ld_registry *r, const http_req *q, http_resp *p, ld_error **err);
char *registry_url(ld_registry *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *registry_resolve_location(ld_registry *r, const char *loc);
int registry_auth_header(ld_registry *r, const char *scope, char **out, ld_error **err);
int registry_challenge(ld_registry *r, const char *scope, const char *header, bool *retry,
                       ld_error **err);
void registry_sleep_ms(int64_t ms);
int64_t registry_backoff_ms(const char *retry_after, int attempt);
int registry_retries(const ld_registry *r);
void registry_count_in(ld_registry *r, uint64_t n);
CURL *registry_handle_get(ld_registry *r);
void registry_handle_put(ld_registry *r, CURL *h);
void registry_set_header_cb(CURL *h, http_resp *p);
uint64_t registry_chunk_size(const ld_registry *r);
/* The refusal text when rc means a plain-HTTP URL (a redirect) was refused, else NULL. */
const char *registry_http_refusal(const ld_registry *r, CURLcode rc);

char *scope_pull(const char *repo);
char *scope_push(const char *repo);

#endif
