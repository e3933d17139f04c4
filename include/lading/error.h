/* Error objects, in the crun style.
 *
 * A function that can fail returns int (0 on success, negative on failure) and takes
 * `ld_error **err` as its last parameter. On failure it stores a newly allocated error that
 * carries an errno-like code and a one-line message naming the object and the reason
 * ("layer sha256:ab12…: entry ../etc/passwd escapes the root"). Callers add context on the way
 * up with ld_error_wrap(), which prefixes "context: ". The CLI prints "lading: <message>".
 *
 * err may be NULL (the caller does not care); *err must be NULL on entry when it is not.
 */
#ifndef LADING_ERROR_H
#define LADING_ERROR_H

#include <errno.h>
#include <stdarg.h>

typedef struct ld_error {
  int code;    /* errno value (EINVAL, ENOENT, EIO...) or one of LD_E* below */
  char *msg;
} ld_error;

/* Codes beyond errno for conditions callers branch on. */
enum {
  LD_EDIGEST = 10001,   /* content does not match its digest */
  LD_EPOLICY = 10002,   /* a policy / gate said no (CLI exit 3) */
  LD_EUSAGE = 10003,    /* bad arguments (CLI exit 2) */
  LD_ENOTFOUND = 10004, /* image / tag / blob not found */
  LD_EFORMAT = 10005,   /* malformed input (JSON, tar, manifest) */
  LD_EUNSUPPORTED = 10006,
};

/* Sets *err (if err) and returns -1. Always returns -1 so that `return ld_err(...)` works. */
int ld_err(ld_error **err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like ld_err, appending ": strerror(errno_value)". */
int ld_err_sys(ld_error **err, int errno_value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes "context: " to an existing error. Returns -1. No-op when err or *err is NULL. */
int ld_error_wrap(ld_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ld_error_free(ld_error *e);
/* Frees *err and sets it to NULL. */
void ld_error_clear(ld_error **err);
/* Maps an error to the CLI's exit code: 2 usage, 3 policy, 1 otherwise. */
int ld_error_exit_code(const ld_error *e);

#endif
