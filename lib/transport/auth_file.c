/* Registry credentials in the files users already have (see registry_client.h for the order).
 *
 * Every file shares one shape: {"auths": {KEY: {"auth": base64("user:pass")}}}. KEY is a host
 * ("quay.io", "127.0.0.1:5000"), a host with a namespace ("quay.io/team", containers' extension),
 * or a URL ("https://index.docker.io/v1/", Docker's legacy spelling). Lookup normalises keys by
 * dropping the scheme and a trailing "/v1/" or "/v2/", and treats index.docker.io and
 * registry-1.docker.io as docker.io.
 *
 * Writes keep every other key and field of the file (a Docker config.json also has credHelpers,
 * proxies...), go through ld_atomic_write, and make the file 0600 since it holds passwords.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/registry_client.h"
#include "lading/util.h"

#define AUTH_FILE_MAX (1u << 20)

static char *home_path(const char *rel) {
  const char *home = getenv("HOME");
  if (!home || !*home) return NULL;
  return ld_xasprintf("%s/%s", home, rel);
}

static char *runtime_auth_path(void) {
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  if (xdg && *xdg) return ld_xasprintf("%s/containers/auth.json", xdg);
  return ld_xasprintf("/run/containers/%u/auth.json", (unsigned) getuid());
}

char *ld_auth_default_file(const char *authfile) {
  if (authfile && *authfile) return ld_xstrdup(authfile);
  const char *env = getenv("REGISTRY_AUTH_FILE");
  if (env && *env) return ld_xstrdup(env);
  return runtime_auth_path();
}

/* "https://index.docker.io/v1/" -> "docker.io"; "quay.io/team/" -> "quay.io/team". */
static char *normalize_key(const char *key) {
  const char *p = key;
  if (ld_str_has_prefix(p, "https://")) p += 8;
  else if (ld_str_has_prefix(p, "http://")) p += 7;
  char *k = ld_xstrdup(p);
  size_t n = strlen(k);
  while (n && k[n - 1] == '/') k[--n] = 0;
  if (ld_str_has_suffix(k, "/v1") || ld_str_has_suffix(k, "/v2")) k[n - 3] = 0;
  static const char *hub[] = {"index.docker.io", "registry-1.docker.io"};
  for (size_t i = 0; i < LD_ARRAY_SIZE(hub); i++) {
    size_t hl = strlen(hub[i]);
    if (!strncmp(k, hub[i], hl) && (k[hl] == 0 || k[hl] == '/')) {
      char *r = ld_xasprintf("docker.io%s", k + hl);
      free(k);
      return r;
    }
  }
  return k;
}

char *ld_auth_key(const char *registry) { return normalize_key(registry); }

static int decode_auth(const char *b64, const char *file, const char *key, char **user,
                       char **pass, ld_error **err) {
  size_t len = strlen(b64);
  unsigned char *out = ld_xmalloc(len + 4);
  int n = EVP_DecodeBlock(out, (const unsigned char *) b64, (int) len);
  if (n < 0) {
    free(out);
    return ld_err(err, LD_EFORMAT, "%s: entry %s: auth is not base64", file, key);
  }
  /* EVP_DecodeBlock counts the '=' padding as output bytes. */
  while (len && b64[len - 1] == '=' && n > 0) { len--; n--; }
  out[n] = 0;
  char *colon = strchr((char *) out, ':');
  if (!colon) {
    free(out);
    return ld_err(err, LD_EFORMAT, "%s: entry %s: auth is not user:password", file, key);
  }
  *colon = 0;
  *user = ld_xstrdup((char *) out);
  *pass = ld_xstrdup(colon + 1);
  free(out);
  return 0;
}

/* The most specific key of auths matching domain[/repo]. */
static const char *best_key(json_t *auths, const char *want) {
  const char *key, *best = NULL;
  size_t best_len = 0;
  json_t *v;
  json_object_foreach(auths, key, v) {
    char *k = normalize_key(key);
    size_t kl = strlen(k);
    bool match = !strncmp(want, k, kl) && (want[kl] == 0 || want[kl] == '/');
    free(k);
    if (match && json_is_object(v) && kl >= best_len) {
      best = key;
      best_len = kl;
    }
  }
  return best;
}

static int lookup_in_file(const char *file, const char *want, char **user, char **pass,
                          ld_error **err) {
  if (!ld_path_exists(file)) return 0;
  char *buf;
  size_t len;
  if (ld_read_file(file, AUTH_FILE_MAX, &buf, &len, err) < 0) return -1;
  json_t *root;
  int rc = ld_json_parse(buf, len, file, &root, err);
  free(buf);
  if (rc < 0) return -1;
  json_t *auths = json_object_get(root, "auths");
  const char *key = json_is_object(auths) ? best_key(auths, want) : NULL;
  if (key) {
    const char *b64 = ld_json_str(json_object_get(auths, key), "auth");
    if (b64 && *b64) rc = decode_auth(b64, file, key, user, pass, err);
  }
  json_decref(root);
  return rc;
}

int ld_auth_lookup(const char *authfile, const char *domain, const char *repo, char **user,
                   char **pass, char **from_file, ld_error **err) {
  *user = *pass = NULL;
  if (from_file) *from_file = NULL;
  char *norm = normalize_key(domain);
  char *want = repo ? ld_xasprintf("%s/%s", norm, repo) : ld_xstrdup(norm);
  free(norm);
  char *files[5] = {0};
  size_t nf = 0;
  if (authfile && *authfile) {
    files[nf++] = ld_xstrdup(authfile);
  } else {
    const char *env = getenv("REGISTRY_AUTH_FILE");
    if (env && *env) files[nf++] = ld_xstrdup(env);
    files[nf++] = runtime_auth_path();
    files[nf++] = home_path(".config/containers/auth.json");
    files[nf++] = home_path(".docker/config.json");
  }
  int rc = 0;
  for (size_t i = 0; i < nf && rc == 0 && !*user; i++) {
    if (!files[i]) continue;
    rc = lookup_in_file(files[i], want, user, pass, err);
    if (rc == 0 && *user && from_file) *from_file = ld_xstrdup(files[i]);
  }
  for (size_t i = 0; i < nf; i++) free(files[i]);
  free(want);
  return rc;
}

static int load_or_new(const char *file, json_t **root, ld_error **err) {
  if (!ld_path_exists(file)) {
    *root = json_object();
    return 0;
  }
  char *buf;
  size_t len;
  if (ld_read_file(file, AUTH_FILE_MAX, &buf, &len, err) < 0) return -1;
  int rc = ld_json_parse(buf, len, file, root, err);
  free(buf);
  if (rc == 0 && !json_is_object(*root)) {
    json_decref(*root);
    return ld_err(err, LD_EFORMAT, "%s: not a JSON object", file);
  }
  return rc;
}

static int save(const char *file, json_t *root, ld_error **err) {
  char *dir = ld_xstrdup(file);
  char *slash = strrchr(dir, '/');
  int rc = 0;
  if (slash && slash != dir) {
    *slash = 0;
    rc = ld_mkdir_p(dir, 0700, err);
  }
  free(dir);
  if (rc < 0) return -1;
  char *text = json_dumps(root, JSON_INDENT(1));
  ld_buf b = {0};
  ld_buf_puts(&b, text);
  ld_buf_puts(&b, "\n");
  free(text);
  rc = ld_atomic_write(file, b.data, b.len, 0600, err);
  ld_buf_free(&b);
  return rc;
}

int ld_auth_store(const char *file, const char *key, const char *user, const char *pass,
                  ld_error **err) {
  json_t *root;
  if (load_or_new(file, &root, err) < 0) return -1;
  json_t *auths = json_object_get(root, "auths");
  if (!json_is_object(auths)) {
    auths = json_object();
    json_object_set_new(root, "auths", auths);
  }
  char *plain = ld_xasprintf("%s:%s", user, pass);
  size_t pl = strlen(plain);
  char *b64 = ld_xmalloc(4 * ((pl + 2) / 3) + 1);
  EVP_EncodeBlock((unsigned char *) b64, (const unsigned char *) plain, (int) pl);
  explicit_bzero(plain, pl);
  free(plain);
  char *k = normalize_key(key);
  /* Drop spellings of the same key ("https://quay.io") so the new entry is the one found. */
  const char *old;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(auths, tmp, old, v) {
    char *n = normalize_key(old);
    if (!strcmp(n, k)) json_object_del(auths, old);
    free(n);
  }
  json_object_set_new(auths, k, json_pack("{s:s}", "auth", b64));
  free(k);
  free(b64);
  int rc = save(file, root, err);
  json_decref(root);
  return rc;
}

int ld_auth_remove(const char *file, const char *key, bool *removed, ld_error **err) {
  *removed = false;
  if (!ld_path_exists(file)) return 0;
  json_t *root;
  if (load_or_new(file, &root, err) < 0) return -1;
  json_t *auths = json_object_get(root, "auths");
  if (json_is_object(auths)) {
    char *k = key ? normalize_key(key) : NULL;
    const char *old;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(auths, tmp, old, v) {
      char *n = normalize_key(old);
      if (!k || !strcmp(n, k)) {
        json_object_del(auths, old);
        *removed = true;
      }
      free(n);
    }
    free(k);
  }
  int rc = *removed ? save(file, root, err) : 0;
  json_decref(root);
  return rc;
}
