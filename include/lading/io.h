/* Byte streams.
 *
 * ld_reader is the one streaming abstraction every transport, store and layer function uses, so
 * a blob can flow from a registry socket through a hasher and a decompressor into libarchive
 * without ever being held whole in memory. read() returns bytes read, 0 at end, -1 on error
 * (with the error kept in the reader and returned by ld_reader_error()).
 */
#ifndef LADING_IO_H
#define LADING_IO_H

#include <stdint.h>
#include <sys/types.h>
#include "lading/digest.h"
#include "lading/error.h"

typedef struct ld_reader ld_reader;
struct ld_reader {
  ssize_t (*read)(ld_reader *r, void *buf, size_t len);
  void (*close)(ld_reader *r); /* frees r */
  ld_error *error;             /* set by read() when it returns -1 */
  void *ctx;
  /* optional: ld_reader_borrow without a copy (NULL: read into the scratch buffer) */
  ssize_t (*borrow)(ld_reader *r, void *scratch, size_t scratch_len, const void **data);
};

ssize_t ld_reader_read(ld_reader *r, void *buf, size_t len);
/* Reads from inner for the reader outer that wraps it: on failure inner's error moves to outer
 * (the one place a wrapping reader's error handling lives). */
ssize_t ld_reader_read_for(ld_reader *outer, ld_reader *inner, void *buf, size_t len);
/* Like read, but without a copy when the reader holds the bytes in a buffer of its own (the
 * staged reader's ring): *data then points into that buffer, valid until the next read,
 * borrow or close of r. Other readers read into scratch (scratch_len bytes) and point *data at
 * it. Returns bytes available at *data, 0 at end, -1 on error. For streams of hundreds of MB
 * between two threads, the copy is a tenth of the consumer's work. */
ssize_t ld_reader_borrow(ld_reader *r, void *scratch, size_t scratch_len, const void **data);
ssize_t ld_reader_borrow_for(ld_reader *outer, ld_reader *inner, void *scratch,
                             size_t scratch_len, const void **data);
/* Reads until len bytes or end; returns bytes read or -1. */
ssize_t ld_reader_read_full(ld_reader *r, void *buf, size_t len);
void ld_reader_close(ld_reader *r);
/* Moves the reader's pending error into *err (or frees it) and returns -1. */
int ld_reader_take_error(ld_reader *r, ld_error **err);

/* A reader over an open file descriptor (closed with the reader when own_fd). */
ld_reader *ld_reader_from_fd(int fd, bool own_fd);
/* A reader over a file; -1 and a named error if it cannot be opened. */
int ld_reader_open_file(const char *path, ld_reader **out, ld_error **err);
/* A reader over memory (copied unless borrow). */
ld_reader *ld_reader_from_mem(const void *data, size_t len, bool borrow);
/* A reader over at most len bytes of another (not owned) reader. */
ld_reader *ld_reader_limit(ld_reader *inner, uint64_t len);
/* A reader that gives back head (len <= LD_READER_PREFIX_MAX bytes already read from inner, to
 * sniff a format) and then the rest of inner. Closes inner when own. */
#define LD_READER_PREFIX_MAX 64
ld_reader *ld_reader_prefixed(const void *head, size_t len, ld_reader *inner, bool own);

/* A pass-through reader that hashes what flows through it and, at end of stream, fails with
 * LD_EDIGEST if the digest or size differs from the expected ones. expected_size < 0 means
 * unknown; expected_digest NULL means "just compute" (ld_verifier_digest gives the result).
 * what names the object in errors ("blob sha256:…"). Owns inner when own_inner. */
ld_reader *ld_verifier_new(ld_reader *inner, bool own_inner, const char *expected_digest,
                           int64_t expected_size, const char *what);
/* After EOF: the computed digest and the byte count. */
const char *ld_verifier_digest(ld_reader *verifier);
uint64_t ld_verifier_size(ld_reader *verifier);

/* Reads everything (up to max bytes; more is an error naming `what`) into a NUL-terminated
 * buffer. For manifests and configs, never for layers. */
int ld_reader_slurp(ld_reader *r, size_t max, char **out, size_t *len, const char *what,
                    ld_error **err);

/* A two-stage pipeline on two threads, with no third: the caller's thread reads `source` (not
 * owned) into a ring, so whatever source does (hashing, in a verifier) stays on the caller's
 * thread, while a worker thread reads the stage that make_stage(input, ctx) builds over those
 * bytes (a decompressor) into a second ring, which the returned reader lends from. The caller
 * feeds the first ring each time it asks for output and sleeps only when neither ring needs it.
 * For a layer that is read + blob hash + tar parse + tar hash on the caller's core and inflate
 * alone on the other: with a read-ahead thread as a third busy thread, the inflater, the
 * critical path, kept losing its core. An error of source is the returned reader's error (the
 * worker is stopped); the stage is closed with the returned reader. */
typedef ld_reader *(*ld_stage_factory)(ld_reader *input, void *ctx);
ld_reader *ld_reader_staged(ld_reader *source, ld_stage_factory make_stage, void *ctx);

/* Copies r to fd until end; returns bytes copied in *copied. */
int ld_reader_copy_to_fd(ld_reader *r, int fd, uint64_t *copied, ld_error **err);

#endif
