/* RUN --mount options: parsing and the part of them that keys the cache.
 *
 * The syntax is BuildKit's: comma-separated fields, each "key=value" or a bare key for a boolean
 * ("rw", "required"). Keys and aliases follow the Dockerfile reference: target|dst|destination,
 * source|src, readonly|ro, rw|readwrite. Defaults depend on the type: a bind is read-only, a cache
 * writable, a secret lands at /run/secrets/<id>, an ssh socket at /run/buildkit/ssh_agent.0.
 * Unknown keys and values are errors that name them: a typo must not silently change a build.
 *
 * What keys the cache (bx_mount_describe) is every option that can change what the RUN sees,
 * except the content of secrets and ssh agents: only their ids are in it, so a rotated secret
 * does not invalidate the cache and never reaches the step key's input. The executor adds the
 * content digest of what a bind mount binds.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"
#include "lading/util.h"

static const char *type_names[] = {NULL, "bind", "cache", "tmpfs", "secret", "ssh"};
static const char *sharing_names[] = {"shared", "private", "locked"};

int bx_parse_ram_size(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || errno || *s == '-') return -1;
  uint64_t mult = 1;
  switch (tolower((unsigned char) *end)) {
    case 0: break;
    case 'b': mult = 1; break;
    case 'k': mult = 1ULL << 10; break;
    case 'm': mult = 1ULL << 20; break;
    case 'g': mult = 1ULL << 30; break;
    case 't': mult = 1ULL << 40; break;
    default: return -1;
  }
  if (*end && *end != 'b' && *end != 'B') {
    end++;
    if (tolower((unsigned char) *end) == 'i') end++;
    if (tolower((unsigned char) *end) == 'b') end++;
  } else if (*end) {
    end++;
  }
  if (*end) return -1;
  *out = (uint64_t) v * mult;
  return 0;
}

static int parse_bool(const char *v, bool *out) {
  if (!v || !strcmp(v, "true") || !strcmp(v, "1")) *out = true;
  else if (!strcmp(v, "false") || !strcmp(v, "0")) *out = false;
  else return -1;
  return 0;
}

static int parse_long(const char *v, int base, long *out) {
  char *end;
  errno = 0;
  long x = v ? strtol(v, &end, base) : -1;
  if (!v || !*v || *end || errno || x < 0) return -1;
  *out = x;
  return 0;
}

static int bad(const char *spec, const char *key, const char *value, ld_error **err) {
  return ld_err(err, EINVAL, "--mount=%s: bad value for %s: %s", spec, key, value ? value : "(none)");
}

static void set_str(char **dst, const char *v) {
  free(*dst);
  *dst = ld_xstrdup(v ? v : "");
}

/* One field; the type is already known (it may come later in the text: parsed in a first pass). */
static int parse_field(const char *spec, bx_mount *m, const char *key, const char *v, ld_error **err) {
  bool b;
  if (!strcmp(key, "type")) return 0;
  if (!strcmp(key, "target") || !strcmp(key, "dst") || !strcmp(key, "destination")) set_str(&m->target, v);
  else if (!strcmp(key, "source") || !strcmp(key, "src")) set_str(&m->source, v);
  else if (!strcmp(key, "from")) set_str(&m->from, v);
  else if (!strcmp(key, "id")) set_str(&m->id, v);
  else if (!strcmp(key, "env") && m->type == BX_MOUNT_SECRET) set_str(&m->env, v);
  else if (!strcmp(key, "readonly") || !strcmp(key, "ro")) {
    if (parse_bool(v, &b) < 0) return bad(spec, key, v, err);
    m->readonly = b;
  } else if (!strcmp(key, "rw") || !strcmp(key, "readwrite")) {
    if (parse_bool(v, &b) < 0) return bad(spec, key, v, err);
    m->readonly = !b;
  } else if (!strcmp(key, "required")) {
    if (parse_bool(v, &b) < 0) return bad(spec, key, v, err);
    m->required = b;
  } else if (!strcmp(key, "sharing")) {
    size_t i = 0;
    while (i < LD_ARRAY_SIZE(sharing_names) && (!v || strcmp(v, sharing_names[i]))) i++;
    if (i == LD_ARRAY_SIZE(sharing_names)) return bad(spec, key, v, err);
    m->sharing = (bx_sharing) i;
  } else if (!strcmp(key, "mode")) {
    if (parse_long(v, 8, &m->mode) < 0 || m->mode > 07777) return bad(spec, key, v, err);
  } else if (!strcmp(key, "uid")) {
    if (parse_long(v, 10, &m->uid) < 0) return bad(spec, key, v, err);
  } else if (!strcmp(key, "gid")) {
    if (parse_long(v, 10, &m->gid) < 0) return bad(spec, key, v, err);
  } else if (!strcmp(key, "size") && m->type == BX_MOUNT_TMPFS) {
    if (!v || bx_parse_ram_size(v, &m->size) < 0) return bad(spec, key, v, err);
  } else {
    return ld_err(err, EINVAL, "--mount=%s: unknown option %s for a %s mount", spec, key, type_names[m->type]);
  }
  return 0;
}

static int parse_type(const char *spec, char **fields, size_t n, bx_mount *m, ld_error **err) {
  m->type = BX_MOUNT_BIND;
  for (size_t i = 0; i < n; i++) {
    if (strncmp(fields[i], "type=", 5)) continue;
    const char *t = fields[i] + 5;
    size_t k = 1;
    while (k < LD_ARRAY_SIZE(type_names) && strcmp(t, type_names[k])) k++;
    if (k == LD_ARRAY_SIZE(type_names))
      return ld_err(err, EINVAL, "--mount=%s: unknown mount type %s (bind, cache, tmpfs, secret or ssh)", spec, t);
    m->type = (bx_mount_type) k;
  }
  return 0;
}

static int check(const char *spec, bx_mount *m, ld_error **err) {
  switch (m->type) {
    case BX_MOUNT_BIND:
    case BX_MOUNT_CACHE:
    case BX_MOUNT_TMPFS:
      if (!m->target || !*m->target) return ld_err(err, EINVAL, "--mount=%s: a %s mount needs a target", spec, type_names[m->type]);
      if (m->type == BX_MOUNT_CACHE && !m->id) m->id = ld_xstrdup(m->target);
      return 0;
    case BX_MOUNT_SECRET:
      if ((!m->id || !*m->id) && m->target && *m->target) {
        const char *slash = strrchr(m->target, '/');
        set_str(&m->id, slash ? slash + 1 : m->target);
      }
      if (!m->id || !*m->id) return ld_err(err, EINVAL, "--mount=%s: a secret mount needs an id or a target", spec);
      if (!m->target && !m->env) m->target = ld_xasprintf("/run/secrets/%s", m->id);
      return 0;
    case BX_MOUNT_SSH:
      if (!m->id || !*m->id) set_str(&m->id, "default");
      if (!m->target || !*m->target) set_str(&m->target, "/run/buildkit/ssh_agent.0");
      return 0;
  }
  return 0;
}

int bx_mount_parse(const char *spec, bx_mount *m, ld_error **err) {
  memset(m, 0, sizeof *m);
  m->mode = m->uid = m->gid = -1;
  m->lock_fd = -1;
  char *copy = ld_xstrdup(spec);
  char **fields = NULL;
  size_t n = 0;
  for (char *save = NULL, *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
    fields = ld_xrealloc(fields, (n + 1) * sizeof *fields);
    fields[n++] = f;
  }
  int r = parse_type(spec, fields, n, m, err);
  m->readonly = m->type == BX_MOUNT_BIND;
  for (size_t i = 0; r == 0 && i < n; i++) {
    char *eq = strchr(fields[i], '=');
    if (eq) *eq = 0;
    r = parse_field(spec, m, fields[i], eq ? eq + 1 : NULL, err);
    if (eq) *eq = '=';
  }
  if (r == 0) r = check(spec, m, err);
  free(fields);
  free(copy);
  if (r < 0) bx_mount_clear(m);
  return r;
}

void bx_mount_describe(const bx_mount *m, ld_buf *out) {
  ld_buf_printf(out, "\nmount type=%s target=%s", type_names[m->type], m->target ? m->target : "");
  switch (m->type) {
    case BX_MOUNT_BIND:
      ld_buf_printf(out, " source=%s ro=%d", m->source ? m->source : "", m->readonly);
      break; /* from: the executor adds the stage key or the content digest */
    case BX_MOUNT_CACHE:
      ld_buf_printf(out, " id=%s source=%s from=%s ro=%d sharing=%s mode=%lo uid=%ld gid=%ld", m->id,
                    m->source ? m->source : "", m->from ? m->from : "", m->readonly, sharing_names[m->sharing],
                    m->mode, m->uid, m->gid);
      break;
    case BX_MOUNT_TMPFS:
      ld_buf_printf(out, " size=%llu", (unsigned long long) m->size);
      break;
    case BX_MOUNT_SECRET:
    case BX_MOUNT_SSH:
      ld_buf_printf(out, " id=%s env=%s required=%d mode=%lo uid=%ld gid=%ld", m->id, m->env ? m->env : "",
                    m->required, m->mode, m->uid, m->gid);
      break;
  }
}

static void ld_explicit_bzero_free(char *p, size_t n) {
  explicit_bzero(p, n);
  free(p);
}

void bx_mount_clear(bx_mount *m) {
  free(m->target);
  free(m->source);
  free(m->from);
  free(m->id);
  free(m->env);
  free(m->root);
  for (size_t i = 0; i < m->n_lower; i++) free((char *) m->lower[i]);
  free(m->lower);
  free(m->ov_mnt);
  free(m->ov_upper);
  free(m->ov_work);
  if (m->data) ld_explicit_bzero_free(m->data, m->data_len);
  free(m->file);
  if (m->lock_fd >= 0) close(m->lock_fd);
  memset(m, 0, sizeof *m);
  m->lock_fd = -1;
}
