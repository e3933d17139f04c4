/* Small helpers used everywhere: cleanup attributes, checked allocation, string building.
 *
 * Allocation failure aborts: lading is a tool, and every caller checking malloc would drown the
 * logic that matters. ld_autofree / ld_autoclose release on scope exit, for early returns.
 */
#ifndef LADING_UTIL_H
#define LADING_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void *ld_xmalloc(size_t n);
void *ld_xcalloc(size_t n, size_t size);
void *ld_xrealloc(void *p, size_t n);
char *ld_xstrdup(const char *s);
char *ld_xstrndup(const char *s, size_t n);
char *ld_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline void ld_freep(void *p) { free(*(void **) p); }
void ld_closep(int *fd);
void ld_fclosep(FILE **f);
#define ld_autofree __attribute__((cleanup(ld_freep)))
#define ld_autoclose __attribute__((cleanup(ld_closep)))
#define ld_autofclose __attribute__((cleanup(ld_fclosep)))

#define LD_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A growable string. */
typedef struct ld_buf {
  char *data;
  size_t len, cap;
} ld_buf;
void ld_buf_append(ld_buf *b, const void *data, size_t len);
void ld_buf_puts(ld_buf *b, const char *s);
void ld_buf_printf(ld_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *ld_buf_steal(ld_buf *b); /* returns NUL-terminated data, resets b */
void ld_buf_free(ld_buf *b);

bool ld_str_has_prefix(const char *s, const char *prefix);
bool ld_str_has_suffix(const char *s, const char *suffix);

/* "1.2 MB" style (SI, like dive and docker); buf of at least 32 bytes. */
const char *ld_human_size(uint64_t bytes, char *buf, size_t buflen);
/* Parses "20MB", "19MiB", "1024", "1.5GB" into bytes. Returns 0 or -1 (EINVAL). */
int ld_parse_size(const char *s, uint64_t *out);
/* Parses "2m", "1h30m", "7d", "90s" into seconds. Returns 0 or -1. */
int ld_parse_duration(const char *s, int64_t *seconds);
/* RFC 3339 UTC "2024-01-02T03:04:05Z" of a unix time; buf of at least 32 bytes. */
const char *ld_time_rfc3339(int64_t t, char *buf, size_t buflen);
int64_t ld_now(void);

#endif
