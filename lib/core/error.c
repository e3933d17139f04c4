/* Error objects: see include/lading/error.h. Messages are formatted once, at the point that knows
 * the object; wrapping only prefixes context, so the final line reads outermost to innermost. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lading/error.h"
#include "lading/util.h"

static int set_error(ld_error **err, int code, char *msg) {
  if (!err) {
    free(msg);
    return -1;
  }
  if (*err) { /* keep the first error: it is the cause */
    free(msg);
    return -1;
  }
  ld_error *e = ld_xcalloc(1, sizeof *e);
  e->code = code;
  e->msg = msg;
  *err = e;
  return -1;
}

static char *vformat(const char *fmt, va_list ap) {
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) abort();
  return s;
}

int ld_err(ld_error **err, int code, const char *fmt, ...) {
  if (!err) return -1;
  va_list ap;
  va_start(ap, fmt);
  char *msg = vformat(fmt, ap);
  va_end(ap);
  return set_error(err, code, msg);
}

int ld_err_sys(ld_error **err, int errno_value, const char *fmt, ...) {
  if (!err) return -1;
  va_list ap;
  va_start(ap, fmt);
  char *msg = vformat(fmt, ap);
  va_end(ap);
  char *full = ld_xasprintf("%s: %s", msg, strerror(errno_value));
  free(msg);
  return set_error(err, errno_value, full);
}

int ld_error_wrap(ld_error **err, const char *fmt, ...) {
  if (!err || !*err) return -1;
  va_list ap;
  va_start(ap, fmt);
  char *ctx = vformat(fmt, ap);
  va_end(ap);
  char *full = ld_xasprintf("%s: %s", ctx, (*err)->msg);
  free(ctx);
  free((*err)->msg);
  (*err)->msg = full;
  return -1;
}

void ld_error_free(ld_error *e) {
  if (!e) return;
  free(e->msg);
  free(e);
}

void ld_error_clear(ld_error **err) {
  if (err && *err) {
    ld_error_free(*err);
    *err = NULL;
  }
}

int ld_error_exit_code(const ld_error *e) {
  if (!e) return 0;
  if (e->code == LD_EUSAGE) return 2;
  if (e->code == LD_EPOLICY) return 3;
  return 1;
}
