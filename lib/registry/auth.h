// Registry authentication (htpasswd, bcrypt) and authorisation (per-repository access list).
//
// Access list format (one rule a line, '#' comments, first matching rule wins):
//
//   USER  REPOSITORY-PATTERN  PERMISSIONS
//   alice team/*              rw
//   *     public/*            r
//   anonymous public/*        r
/*
 * USER is a user name from the htpasswd file, `*` (any authenticated user) or `anonymous`
 * (no credentials). The pattern is an fnmatch(3) glob where `*` also matches '/'. PERMISSIONS
 * is `r`, `w`, `rw` or `-` (nothing). Without an access list, anyone who may connect (every
 * authenticated user with --htpasswd, everyone without) may read and write everything; with one,
 * what no rule grants is denied.
 */
#ifndef LADING_REGISTRY_AUTH_H
#define LADING_REGISTRY_AUTH_H

#include <pthread.h>
#include <stdbool.h>
#include "lading/error.h"

enum { RA_READ = 1, RA_WRITE = 2 };

typedef struct ra_rule {
  char *user, *pattern;
  int perms;
} ra_rule;

typedef struct ra_user {
  char *name, *hash;
} ra_user;

typedef struct ra_auth {
  ra_user *users;
  size_t n_users;
  bool have_htpasswd;
  ra_rule *rules;
  size_t n_rules;
  bool have_access;
  /* bcrypt costs milliseconds: remember digests of credentials that verified */
  pthread_mutex_t lock;
  char (*cache)[65];
  size_t n_cache;
} ra_auth;

int ra_load(ra_auth *a, const char *htpasswd, const char *access, ld_error **err);
void ra_free(ra_auth *a);
/* Parses an access-list text (for tests and ra_load). */
int ra_parse_access(ra_auth *a, const char *text, const char *what, ld_error **err);
int ra_parse_htpasswd(ra_auth *a, const char *text, const char *what, ld_error **err);

/* Checks an Authorization header value. Returns 1 authenticated (*user set, caller frees),
 * 0 anonymous (no header), -1 bad credentials. */
int ra_authenticate(ra_auth *a, const char *authorization, char **user);
/* Permissions of user (NULL: anonymous) on repo. */
int ra_permissions(const ra_auth *a, const char *user, const char *repo);
/* True when anonymous requests may get anything at all (decides 401 on GET /v2/). */
bool ra_anonymous_has_any(const ra_auth *a);

#endif
