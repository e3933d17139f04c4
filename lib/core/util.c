/* Allocation that aborts on failure, a growable buffer, sizes, durations and times.
 * Size units follow dive/docker (SI: kB = 1000) for output; input accepts SI and IEC. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "lading/util.h"

static void oom(void) {
  static const char msg[] = "lading: out of memory\n";
  (void) !write(2, msg, sizeof msg - 1);
  abort();
}

void *ld_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) oom();
  return p;
}
void *ld_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) oom();
  return p;
}
void *ld_xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) oom();
  return p;
}
char *ld_xstrdup(const char *s) {
  if (!s) return NULL;
  char *p = strdup(s);
  if (!p) oom();
  return p;
}
char *ld_xstrndup(const char *s, size_t n) {
  char *p = strndup(s, n);
  if (!p) oom();
  return p;
}
char *ld_xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) oom();
  va_end(ap);
  return s;
}

void ld_closep(int *fd) {
  if (*fd >= 0) close(*fd);
}
void ld_fclosep(FILE **f) {
  if (*f) fclose(*f);
}

void ld_buf_append(ld_buf *b, const void *data, size_t len) {
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + len + 1) cap *= 2;
    b->data = ld_xrealloc(b->data, cap);
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = 0;
}
void ld_buf_puts(ld_buf *b, const char *s) { ld_buf_append(b, s, strlen(s)); }
void ld_buf_printf(ld_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0) oom();
  ld_buf_append(b, s, (size_t) n);
  free(s);
}
char *ld_buf_steal(ld_buf *b) {
  char *d = b->data ? b->data : ld_xstrdup("");
  b->data = NULL;
  b->len = b->cap = 0;
  return d;
}
void ld_buf_free(ld_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

bool ld_str_has_prefix(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}
bool ld_str_has_suffix(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

const char *ld_human_size(uint64_t bytes, char *buf, size_t buflen) {
  static const char *units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  double v = (double) bytes;
  size_t u = 0;
  while (v >= 1000 && u + 1 < LD_ARRAY_SIZE(units)) {
    v /= 1000;
    u++;
  }
  if (u == 0)
    snprintf(buf, buflen, "%llu B", (unsigned long long) bytes);
  else
    snprintf(buf, buflen, "%.1f %s", v, units[u]);
  return buf;
}

int ld_parse_size(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || v < 0 || !isfinite(v)) return -1;
  while (*end == ' ') end++;
  static const struct {
    const char *unit;
    double mult;
  } units[] = {{"", 1},          {"B", 1},          {"KB", 1e3},       {"K", 1e3},
               {"MB", 1e6},      {"M", 1e6},        {"GB", 1e9},       {"G", 1e9},
               {"TB", 1e12},     {"T", 1e12},       {"KIB", 1024.0},   {"MIB", 1048576.0},
               {"GIB", 1073741824.0}, {"TIB", 1099511627776.0}};
  char up[8];
  size_t n = strlen(end);
  if (n >= sizeof up) return -1;
  for (size_t i = 0; i <= n; i++) up[i] = (char) toupper((unsigned char) end[i]);
  for (size_t i = 0; i < LD_ARRAY_SIZE(units); i++)
    if (!strcmp(up, units[i].unit)) {
      *out = (uint64_t) llround(v * units[i].mult);
      return 0;
    }
  return -1;
}

int ld_parse_duration(const char *s, int64_t *seconds) {
  int64_t total = 0;
  const char *p = s;
  if (!*p) return -1;
  while (*p) {
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    if (errno || end == p || v < 0) return -1;
    int64_t mult;
    switch (*end) {
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    case 'w': mult = 7 * 86400; break;
    case 0:
      if (p == s) { /* bare number: seconds */
        *seconds = (int64_t) v;
        return 0;
      }
      return -1;
    default: return -1;
    }
    total += (int64_t) (v * (double) mult);
    p = end + 1;
  }
  *seconds = total;
  return 0;
}

const char *ld_time_rfc3339(int64_t t, char *buf, size_t buflen) {
  time_t tt = (time_t) t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(buf, buflen, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int64_t ld_now(void) { return (int64_t) time(NULL); }
