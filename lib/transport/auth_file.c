/* Registry credentials in the files users already have (see registry_client.h for the order).
 *
 * Every file shares one shape: {"auths": {KEY: {"auth": base64("user:pass")}}}. KEY is a host
 * ("quay.io", "127.0.0.1:5000"), a host with a namespace ("quay.io/team", containers' extension),
 * or a URL ("https://index.docker.io/v1/", Docker's legacy spelling). Lookup normalises keys by
 * dropping the scheme and a trailing "/v1/" or "/v2/", and treats index.docker.io and
 * registry-1.docker.io as docker.io.
 *
 * Credential helpers (Docker's config.json, also accepted in the containers files): a
 * `credHelpers` entry for the registry host runs `docker-credential-<name> get` first; then the
 * file's `auths`; then `credsStore` (where `docker login` puts passwords when one is set, leaving
 * only an empty entry in auths). The helper gets the server on stdin (the host, or
 * https://index.docker.io/v1/ for docker.io) and answers {"Username": ..., "Secret": ...};
 * "credentials not found" (or a helper that is not installed, or an identity token, which needs
 * an OAuth flow we do not speak) means none, and the lookup goes on; any other failure is an
 * error naming the helper. A helper gets 30 s and 64 KiB of output.
 *
 * Writes keep every other key and field of the file (a Docker config.json also has credHelpers,
 * proxies...), go through ld_atomic_write, and make the file 0600 since it holds passwords.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "lading/fs.h"
#include "lading/json.h"
#include "lading/log.h"
#include "lading/registry_client.h"
#include "lading/util.h"

#define AUTH_FILE_MAX (1u << 20)
#define HELPER_OUT_MAX (64u << 10)
#define HELPER_TIMEOUT_MS 30000

extern char **environ;

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

/* ---- credential helpers ---- */

static bool helper_name_ok(const char *name) {
  if (!*name || strlen(name) > 64) return false;
  for (const char *c = name; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
          *c == '-' || *c == '_' || *c == '.'))
      return false;
  return true;
}

/* Reads fd to EOF (at most HELPER_OUT_MAX bytes, HELPER_TIMEOUT_MS); false on timeout. */
static bool read_all(int fd, ld_buf *out) {
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char buf[4096];
  for (;;) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long left = HELPER_TIMEOUT_MS - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
    if (left <= 0) return false;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, (int) left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    if (out->len + (size_t) n <= HELPER_OUT_MAX) ld_buf_append(out, buf, (size_t) n);
  }
}

/* Runs docker-credential-NAME get with server on stdin: *status the exit status (-1: not
 * installed), out its stdout (helpers write their errors there too). */
static int helper_run(const char *name, const char *server, int *status, ld_buf *out,
                      ld_error **err) {
  char *prog = ld_xasprintf("docker-credential-%s", name);
  int in[2], op[2];
  if (pipe2(in, O_CLOEXEC) < 0) {
    free(prog);
    return ld_err_sys(err, errno, "credential helper: pipe");
  }
  if (pipe2(op, O_CLOEXEC) < 0) {
    close(in[0]);
    close(in[1]);
    free(prog);
    return ld_err_sys(err, errno, "credential helper: pipe");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, op[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  char *argv[] = {prog, "get", NULL};
  pid_t pid;
  int rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(op[1]);
  int ret = 0;
  if (rc == ENOENT) {
    *status = -1;
  } else if (rc != 0) {
    ret = ld_err_sys(err, rc, "credential helper %s", prog);
  } else {
    /* The server name is far below a pipe's capacity: write all, then read. A helper that
     * exits without reading must not kill us with SIGPIPE: blocked in this thread only, and a
     * SIGPIPE it raised is consumed before the mask is restored. */
    sigset_t pipe_set, old_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    ssize_t w = write(in[1], server, strlen(server));
    if (w < 0 && errno == EPIPE) {
      struct timespec zero = {0, 0};
      sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    close(in[1]);
    in[1] = -1;
    bool done = read_all(op[0], out);
    if (!done) kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!done) ret = ld_err(err, ETIMEDOUT, "credential helper %s: no answer in %d s", prog,
                            HELPER_TIMEOUT_MS / 1000);
    else *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  }
  if (in[1] >= 0) close(in[1]);
  close(op[0]);
  free(prog);
  return ret;
}

/* Credentials from helper NAME for domain; none (0, *user NULL) when it has none. */
static int helper_lookup(const char *name, const char *domain, char **user, char **pass,
                         ld_error **err) {
  if (!helper_name_ok(name))
    return ld_err(err, LD_EFORMAT, "credential helper name '%s' is not a plain name", name);
  const char *server = !strcmp(domain, "docker.io") ? "https://index.docker.io/v1/" : domain;
  ld_buf out = {0};
  int status = 0;
  if (helper_run(name, server, &status, &out, err) < 0) {
    ld_buf_free(&out);
    return -1;
  }
  int rc = 0;
  char *text = out.len ? ld_xstrndup(out.data, out.len) : ld_xstrdup("");
  ld_buf_free(&out);
  if (status == -1) {
    ld_debug("credential helper docker-credential-%s is not installed", name);
  } else if (status != 0) {
    text[strcspn(text, "\r\n")] = 0;
    if (!strstr(text, "credentials not found"))
      rc = ld_err(err, EACCES, "credential helper docker-credential-%s: get %s: exit %d%s%s", name,
                  server, status, *text ? ": " : "", text);
  } else {
    json_t *j = json_loads(text, 0, NULL);
    const char *u = ld_json_str(j, "Username"), *p = ld_json_str(j, "Secret");
    if (!j || !u || !p)
      rc = ld_err(err, LD_EFORMAT, "credential helper docker-credential-%s: get %s: not a "
                  "{\"Username\", \"Secret\"} answer", name, server);
    else if (!strcmp(u, "<token>"))
      ld_debug("credential helper %s: identity tokens are not supported", name);
    else if (*u || *p) {
      *user = ld_xstrdup(u);
      *pass = ld_xstrdup(p);
    }
    json_decref(j);
  }
  explicit_bzero(text, strlen(text));
  free(text);
  return rc;
}

/* The credHelpers entry for domain (exact host after normalisation), or NULL. */
static const char *cred_helper_for(json_t *root, const char *domain) {
  json_t *helpers = json_object_get(root, "credHelpers");
  const char *key;
  json_t *v;
  const char *found = NULL;
  json_object_foreach(helpers, key, v) {
    char *k = normalize_key(key);
    if (!strcmp(k, domain) && json_is_string(v)) found = json_string_value(v);
    free(k);
  }
  return found;
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
  char *domain = ld_xstrndup(want, strcspn(want, "/"));
  const char *helper = cred_helper_for(root, domain);
  if (helper) rc = helper_lookup(helper, domain, user, pass, err);
  json_t *auths = json_object_get(root, "auths");
  const char *key = rc == 0 && !*user && json_is_object(auths) ? best_key(auths, want) : NULL;
  if (key) {
    const char *b64 = ld_json_str(json_object_get(auths, key), "auth");
    if (b64 && *b64) rc = decode_auth(b64, file, key, user, pass, err);
  }
  const char *store = ld_json_str(root, "credsStore");
  if (rc == 0 && !*user && store && *store) rc = helper_lookup(store, domain, user, pass, err);
  if (rc < 0) ld_error_wrap(err, "%s", file);
  free(domain);
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
