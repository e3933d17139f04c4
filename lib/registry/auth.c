/* Registry authentication and authorisation (see auth.h for the access-list format).
 *
 * Passwords: htpasswd lines "user:hash" with bcrypt hashes ($2y$, $2b$, $2a$), checked with
 * libcrypt's crypt_rn (libxcrypt). bcrypt is deliberately slow (a few ms at cost 5, far more at
 * higher costs), and registry clients send Basic credentials on every request, so a verified
 * "user:password" is remembered as its SHA-256 (never the password itself) in a small cache.
 * Only bcrypt is accepted: MD5-crypt and plain entries are refused at load time.
 */
#include <crypt.h>
#include <fnmatch.h>
#include <openssl/evp.h>
#include <string.h>
#include "lading/digest.h"
#include "lading/fs.h"
#include "lading/util.h"
#include "registry/auth.h"

#define CACHE_MAX 256

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  char *e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) *--e = 0;
  return s;
}

int ra_parse_htpasswd(ra_auth *a, const char *text, const char *what, ld_error **err) {
  ld_autofree char *copy = ld_xstrdup(text);
  char *save = NULL;
  int lineno = 0;
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    lineno++;
    line = trim(line);
    if (!*line || *line == '#') continue;
    char *colon = strchr(line, ':');
    if (!colon || colon == line)
      return ld_err(err, LD_EFORMAT, "%s:%d: expected user:bcrypt-hash", what, lineno);
    *colon = 0;
    const char *hash = colon + 1;
    if (!(ld_str_has_prefix(hash, "$2y$") || ld_str_has_prefix(hash, "$2b$") ||
          ld_str_has_prefix(hash, "$2a$")))
      return ld_err(err, LD_EFORMAT, "%s:%d: user %s: only bcrypt hashes are accepted "
                    "(make them with htpasswd -B)", what, lineno, line);
    a->users = ld_xrealloc(a->users, (a->n_users + 1) * sizeof *a->users);
    a->users[a->n_users++] = (ra_user){ld_xstrdup(line), ld_xstrdup(hash)};
  }
  a->have_htpasswd = true;
  return 0;
}

static int parse_perms(const char *s) {
  if (!strcmp(s, "r")) return RA_READ;
  if (!strcmp(s, "w")) return RA_WRITE;
  if (!strcmp(s, "rw") || !strcmp(s, "wr")) return RA_READ | RA_WRITE;
  if (!strcmp(s, "-")) return 0;
  return -1;
}

int ra_parse_access(ra_auth *a, const char *text, const char *what, ld_error **err) {
  ld_autofree char *copy = ld_xstrdup(text);
  char *save = NULL;
  int lineno = 0;
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    lineno++;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *f[4] = {0};
    int nf = 0;
    char *fsave = NULL;
    for (char *t = strtok_r(line, " \t\r", &fsave); t; t = strtok_r(NULL, " \t\r", &fsave))
      if (nf < 4) f[nf++] = t;
      else nf++;
    if (nf == 0) continue;
    int perms = nf == 3 ? parse_perms(f[2]) : -1;
    if (nf != 3 || perms < 0)
      return ld_err(err, LD_EFORMAT,
                    "%s:%d: expected \"USER REPOSITORY-PATTERN r|w|rw|-\"", what, lineno);
    a->rules = ld_xrealloc(a->rules, (a->n_rules + 1) * sizeof *a->rules);
    a->rules[a->n_rules++] = (ra_rule){ld_xstrdup(f[0]), ld_xstrdup(f[1]), perms};
  }
  a->have_access = true;
  return 0;
}

int ra_load(ra_auth *a, const char *htpasswd, const char *access, ld_error **err) {
  memset(a, 0, sizeof *a);
  pthread_mutex_init(&a->lock, NULL);
  char *text = NULL;
  size_t len;
  if (htpasswd) {
    if (ld_read_file(htpasswd, 1 << 20, &text, &len, err) < 0) return -1;
    int rc = ra_parse_htpasswd(a, text, htpasswd, err);
    free(text);
    if (rc < 0) return -1;
  }
  if (access) {
    if (ld_read_file(access, 1 << 20, &text, &len, err) < 0) return -1;
    int rc = ra_parse_access(a, text, access, err);
    free(text);
    if (rc < 0) return -1;
  }
  return 0;
}

void ra_free(ra_auth *a) {
  for (size_t i = 0; i < a->n_users; i++) {
    free(a->users[i].name);
    free(a->users[i].hash);
  }
  for (size_t i = 0; i < a->n_rules; i++) {
    free(a->rules[i].user);
    free(a->rules[i].pattern);
  }
  free(a->users);
  free(a->rules);
  free(a->cache);
  pthread_mutex_destroy(&a->lock);
  memset(a, 0, sizeof *a);
}

static bool cache_has(ra_auth *a, const char *key) {
  bool found = false;
  pthread_mutex_lock(&a->lock);
  for (size_t i = 0; i < a->n_cache && !found; i++) found = !strcmp(a->cache[i], key);
  pthread_mutex_unlock(&a->lock);
  return found;
}

static void cache_add(ra_auth *a, const char *key) {
  pthread_mutex_lock(&a->lock);
  if (!a->cache) a->cache = ld_xcalloc(CACHE_MAX, sizeof *a->cache);
  size_t slot = a->n_cache < CACHE_MAX ? a->n_cache++ : (size_t) (ld_now() % CACHE_MAX);
  snprintf(a->cache[slot], sizeof a->cache[slot], "%s", key);
  pthread_mutex_unlock(&a->lock);
}

static bool password_ok(ra_auth *a, const ra_user *u, const char *userpass) {
  char d[LD_DIGEST_MAX];
  ld_digest_buf(LD_SHA256, userpass, strlen(userpass), d);
  const char *key = ld_digest_hex(d);
  if (cache_has(a, key)) return true;
  const char *pass = strchr(userpass, ':') + 1;
  struct crypt_data *cd = ld_xcalloc(1, sizeof *cd);
  /* crypt_rn, not crypt_r: same function in libxcrypt, but not intercepted by ASan (whose
   * crypt_r interceptor finds no real crypt_r and jumps to NULL). */
  const char *out = crypt_rn(pass, u->hash, cd, (int) sizeof *cd);
  bool ok = out && out[0] != '*' && !strcmp(out, u->hash);
  free(cd);
  if (ok) cache_add(a, key);
  return ok;
}

int ra_authenticate(ra_auth *a, const char *authorization, char **user) {
  *user = NULL;
  if (!authorization) return 0;
  if (strncasecmp(authorization, "Basic ", 6)) return -1;
  const char *b64 = authorization + 6;
  while (*b64 == ' ') b64++;
  size_t n = strlen(b64);
  if (n == 0 || n > 1024) return -1;
  unsigned char decoded[800];
  int dn = EVP_DecodeBlock(decoded, (const unsigned char *) b64, (int) n);
  if (dn < 0) return -1;
  while (n > 0 && b64[n - 1] == '=' && dn > 0) { /* DecodeBlock counts padding as zeros */
    n--;
    dn--;
  }
  decoded[dn] = 0;
  if (strlen((char *) decoded) != (size_t) dn) return -1;
  char *colon = strchr((char *) decoded, ':');
  if (!colon) return -1;
  for (size_t i = 0; i < a->n_users; i++) {
    const ra_user *u = &a->users[i];
    if (strlen(u->name) == (size_t) (colon - (char *) decoded) &&
        !strncmp(u->name, (char *) decoded, (size_t) (colon - (char *) decoded))) {
      if (!password_ok(a, u, (char *) decoded)) return -1;
      *user = ld_xstrdup(u->name);
      return 1;
    }
  }
  return -1;
}

int ra_permissions(const ra_auth *a, const char *user, const char *repo) {
  if (!a->have_access) return (user || !a->have_htpasswd) ? RA_READ | RA_WRITE : 0;
  for (size_t i = 0; i < a->n_rules; i++) {
    const ra_rule *r = &a->rules[i];
    bool who = user ? (!strcmp(r->user, "*") || !strcmp(r->user, user))
                    : !strcmp(r->user, "anonymous");
    if (who && fnmatch(r->pattern, repo, 0) == 0) return r->perms;
  }
  return 0;
}

bool ra_anonymous_has_any(const ra_auth *a) {
  if (!a->have_access) return !a->have_htpasswd;
  for (size_t i = 0; i < a->n_rules; i++)
    if (!strcmp(a->rules[i].user, "anonymous") && a->rules[i].perms) return true;
  return false;
}
