/* Readers: fd, memory, limit, prefixed, the verifier that hashes a stream and checks it at EOF,
 * and the staged reader that runs one stage of a stream (decompression) on a second thread.
 * The verifier is the single place where "never trust a digest you did not compute" is
 * enforced for streams: every ingest wraps its source in one. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <string.h>
#include <unistd.h>
#include "lading/fs.h"
#include "lading/io.h"
#include "lading/util.h"

ssize_t ld_reader_read(ld_reader *r, void *buf, size_t len) { return r->read(r, buf, len); }

static ssize_t error_moved_up(ld_reader *outer, ld_reader *inner, ssize_t n) {
  if (n < 0) {
    ld_error_free(outer->error);
    outer->error = inner->error;
    inner->error = NULL;
  }
  return n;
}

ssize_t ld_reader_read_for(ld_reader *outer, ld_reader *inner, void *buf, size_t len) {
  return error_moved_up(outer, inner, inner->read(inner, buf, len));
}

ssize_t ld_reader_borrow(ld_reader *r, void *scratch, size_t scratch_len, const void **data) {
  if (r->borrow) return r->borrow(r, scratch, scratch_len, data);
  *data = scratch;
  return r->read(r, scratch, scratch_len);
}

ssize_t ld_reader_borrow_for(ld_reader *outer, ld_reader *inner, void *scratch,
                             size_t scratch_len, const void **data) {
  return error_moved_up(outer, inner, ld_reader_borrow(inner, scratch, scratch_len, data));
}

ssize_t ld_reader_read_full(ld_reader *r, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = r->read(r, (char *) buf + got, len - got);
    if (n < 0) return -1;
    if (n == 0) break;
    got += (size_t) n;
  }
  return (ssize_t) got;
}

void ld_reader_close(ld_reader *r) {
  if (!r) return;
  ld_error_free(r->error);
  r->error = NULL;
  r->close(r);
}

int ld_reader_take_error(ld_reader *r, ld_error **err) {
  if (r->error) {
    if (err && !*err)
      *err = r->error;
    else
      ld_error_free(r->error);
    r->error = NULL;
  } else {
    ld_err(err, EIO, "read failed");
  }
  return -1;
}

/* fd */
typedef struct {
  ld_reader r;
  int fd;
  bool own;
} fd_reader;

static ssize_t fd_read(ld_reader *r, void *buf, size_t len) {
  fd_reader *f = (fd_reader *) r;
  for (;;) {
    ssize_t n = read(f->fd, buf, len);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    ld_err_sys(&r->error, errno, "read");
    return -1;
  }
}
static void fd_close(ld_reader *r) {
  fd_reader *f = (fd_reader *) r;
  if (f->own) close(f->fd);
  free(f);
}
ld_reader *ld_reader_from_fd(int fd, bool own_fd) {
  fd_reader *f = ld_xcalloc(1, sizeof *f);
  f->r.read = fd_read;
  f->r.close = fd_close;
  f->fd = fd;
  f->own = own_fd;
  return &f->r;
}

int ld_reader_open_file(const char *path, ld_reader **out, ld_error **err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ld_err_sys(err, errno, "%s", path);
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  *out = ld_reader_from_fd(fd, true);
  return 0;
}

/* memory */
typedef struct {
  ld_reader r;
  const char *data;
  size_t len, pos;
  bool own;
} mem_reader;
static ssize_t mem_read(ld_reader *r, void *buf, size_t len) {
  mem_reader *m = (mem_reader *) r;
  size_t n = m->len - m->pos < len ? m->len - m->pos : len;
  memcpy(buf, m->data + m->pos, n);
  m->pos += n;
  return (ssize_t) n;
}
static void mem_close(ld_reader *r) {
  mem_reader *m = (mem_reader *) r;
  if (m->own) free((void *) m->data);
  free(m);
}
ld_reader *ld_reader_from_mem(const void *data, size_t len, bool borrow) {
  mem_reader *m = ld_xcalloc(1, sizeof *m);
  m->r.read = mem_read;
  m->r.close = mem_close;
  if (borrow) {
    m->data = data;
  } else {
    char *copy = ld_xmalloc(len);
    memcpy(copy, data, len);
    m->data = copy;
    m->own = true;
  }
  m->len = len;
  return &m->r;
}

/* prefixed */
typedef struct {
  ld_reader r;
  ld_reader *inner;
  bool own;
  unsigned char head[LD_READER_PREFIX_MAX];
  size_t head_len, head_pos;
} prefixed_reader;
static ssize_t prefixed_read(ld_reader *r, void *buf, size_t len) {
  prefixed_reader *p = (prefixed_reader *) r;
  if (p->head_pos < p->head_len) {
    size_t n = p->head_len - p->head_pos < len ? p->head_len - p->head_pos : len;
    memcpy(buf, p->head + p->head_pos, n);
    p->head_pos += n;
    return (ssize_t) n;
  }
  return ld_reader_read_for(r, p->inner, buf, len);
}
static ssize_t prefixed_borrow(ld_reader *r, void *scratch, size_t len, const void **data) {
  prefixed_reader *p = (prefixed_reader *) r;
  if (p->head_pos < p->head_len) {
    *data = p->head + p->head_pos;
    size_t n = p->head_len - p->head_pos;
    p->head_pos = p->head_len;
    return (ssize_t) n;
  }
  return ld_reader_borrow_for(r, p->inner, scratch, len, data);
}
static void prefixed_close(ld_reader *r) {
  prefixed_reader *p = (prefixed_reader *) r;
  if (p->own) ld_reader_close(p->inner);
  free(p);
}
ld_reader *ld_reader_prefixed(const void *head, size_t len, ld_reader *inner, bool own) {
  prefixed_reader *p = ld_xcalloc(1, sizeof *p);
  p->r.read = prefixed_read;
  p->r.close = prefixed_close;
  p->r.borrow = prefixed_borrow;
  p->inner = inner;
  p->own = own;
  p->head_len = len < sizeof p->head ? len : sizeof p->head;
  memcpy(p->head, head, p->head_len);
  return &p->r;
}

/* limit */
typedef struct {
  ld_reader r;
  ld_reader *inner;
  uint64_t left;
} limit_reader;
static ssize_t limit_read(ld_reader *r, void *buf, size_t len) {
  limit_reader *l = (limit_reader *) r;
  if (!l->left) return 0;
  if (len > l->left) len = (size_t) l->left;
  ssize_t n = ld_reader_read_for(r, l->inner, buf, len);
  if (n < 0) return -1;
  l->left -= (uint64_t) n;
  return n;
}
static void limit_close(ld_reader *r) { free(r); }
ld_reader *ld_reader_limit(ld_reader *inner, uint64_t len) {
  limit_reader *l = ld_xcalloc(1, sizeof *l);
  l->r.read = limit_read;
  l->r.close = limit_close;
  l->inner = inner;
  l->left = len;
  return &l->r;
}

/* verifier */
typedef struct {
  ld_reader r;
  ld_reader *inner;
  bool own;
  ld_hasher *h;
  char *expected;
  int64_t expected_size;
  char *what;
  char digest[LD_DIGEST_MAX];
  bool done;
} verifier;

static ssize_t verifier_read(ld_reader *r, void *buf, size_t len) {
  verifier *v = (verifier *) r;
  if (v->done) return 0;
  ssize_t n = ld_reader_read_for(r, v->inner, buf, len);
  if (n < 0) {
    if (!r->error) ld_err(&r->error, EIO, "%s: read failed", v->what);
    else ld_error_wrap(&r->error, "%s", v->what);
    return -1;
  }
  if (n > 0) {
    ld_hasher_update(v->h, buf, (size_t) n);
    if (v->expected_size >= 0 && ld_hasher_bytes(v->h) > (uint64_t) v->expected_size) {
      ld_err(&r->error, LD_EDIGEST, "%s: more data than the declared size %lld", v->what,
             (long long) v->expected_size);
      return -1;
    }
    return n;
  }
  v->done = true;
  ld_hasher_final(v->h, v->digest);
  uint64_t got = ld_hasher_bytes(v->h);
  if (v->expected_size >= 0 && got != (uint64_t) v->expected_size) {
    ld_err(&r->error, LD_EDIGEST, "%s: truncated: %llu bytes, expected %lld", v->what,
           (unsigned long long) got, (long long) v->expected_size);
    return -1;
  }
  if (v->expected && strcmp(v->expected, v->digest)) {
    ld_err(&r->error, LD_EDIGEST, "%s: digest mismatch: content is %s", v->what, v->digest);
    return -1;
  }
  return 0;
}
static void verifier_close(ld_reader *r) {
  verifier *v = (verifier *) r;
  if (v->own) ld_reader_close(v->inner);
  ld_hasher_free(v->h);
  free(v->expected);
  free(v->what);
  free(v);
}
ld_reader *ld_verifier_new(ld_reader *inner, bool own_inner, const char *expected_digest,
                           int64_t expected_size, const char *what) {
  verifier *v = ld_xcalloc(1, sizeof *v);
  v->r.read = verifier_read;
  v->r.close = verifier_close;
  v->inner = inner;
  v->own = own_inner;
  v->h = ld_hasher_new(expected_digest ? ld_digest_algo_of(expected_digest) : LD_SHA256);
  v->expected = ld_xstrdup(expected_digest);
  v->expected_size = expected_size;
  v->what = ld_xstrdup(what ? what : (expected_digest ? expected_digest : "blob"));
  return &v->r;
}
const char *ld_verifier_digest(ld_reader *r) { return ((verifier *) r)->digest; }
uint64_t ld_verifier_size(ld_reader *r) { return ld_hasher_bytes(((verifier *) r)->h); }

/* staged (see io.h): two rings of small chunks under one mutex, handed over in batches. Small,
 * so that what one thread writes is still in the caches when the other reads it (16 x 64 KiB
 * measured ~5% faster than 4 x 1 MiB for inflate -> hash). In batches, because a sleeping thread
 * must be woken with a futex call that costs several microseconds here, on the waker's time, and
 * the inflater is the critical path: each side sleeps until half a ring is ready for it, so it
 * is woken once per RING_BATCH chunks instead of once per chunk (2000 wake-ups for a 128 MB
 * layer otherwise, ~10% of its inflate time). */
#define RING_SLOTS 16
#define RING_CHUNK (64 * 1024)
#define RING_BATCH (RING_SLOTS / 2)
typedef struct {
  char *slot[RING_SLOTS];
  size_t len[RING_SLOTS];
  size_t rd, rd_off, wr, filled;
  bool lent;
} ring;

/* With the mutex held: the chunk at rd goes back to its producer. */
static void ring_advance(ring *g) {
  g->lent = false;
  g->rd = (g->rd + 1) % RING_SLOTS;
  g->rd_off = 0;
  g->filled--;
}

typedef struct staged staged;
typedef struct {
  ld_reader r; /* the stage's input: ring a, read on the worker */
  staged *s;
} stage_input;

struct staged {
  ld_reader r; /* the stage's output: ring b, read by the caller */
  stage_input in;
  ld_reader *source, *stage;
  pthread_t worker;
  pthread_mutex_t mu;
  pthread_cond_t caller_cv, worker_cv;
  bool caller_waits, worker_waits;
  ring a, b;
  bool a_eof, a_failed; /* source ended / failed, or the reader is being closed */
  bool b_eof, b_failed; /* the stage ended / failed (error in b_error) */
  ld_error *b_error;
};

/* With the mutex held. */
static bool caller_may_feed(const staged *s) {
  return !s->a_eof && !s->a_failed && s->a.filled < RING_SLOTS;
}
static void wake_caller_if(staged *s, bool cond) {
  if (s->caller_waits && cond) pthread_cond_signal(&s->caller_cv);
}
static void wake_worker_if(staged *s, bool cond) {
  if (s->worker_waits && cond) pthread_cond_signal(&s->worker_cv);
}
static void return_lent_output(staged *s) {
  if (!s->b.lent) return;
  ring_advance(&s->b);
  wake_worker_if(s, s->b.filled <= RING_SLOTS - RING_BATCH);
}

static ssize_t input_next(ld_reader *r, const void **data, size_t max) {
  staged *s = ((stage_input *) r)->s;
  pthread_mutex_lock(&s->mu);
  if (s->a.lent) {
    ring_advance(&s->a);
    wake_caller_if(s, !s->a_eof && s->a.filled <= RING_SLOTS - RING_BATCH);
  }
  if (s->a.filled == 0 && !s->a_eof && !s->a_failed) {
    s->worker_waits = true;
    while (s->a.filled < RING_BATCH && !s->a_eof && !s->a_failed)
      pthread_cond_wait(&s->worker_cv, &s->mu);
    s->worker_waits = false;
  }
  ssize_t n = 0;
  if (s->a_failed) { /* closed, or the source failed: stop now, not after the chunks left */
    n = -1;
    ld_err(&r->error, ECANCELED, "input stopped");
  } else if (s->a.filled) {
    size_t avail = s->a.len[s->a.rd] - s->a.rd_off;
    n = (ssize_t) (avail < max ? avail : max);
    *data = s->a.slot[s->a.rd] + s->a.rd_off;
    s->a.rd_off += (size_t) n;
    s->a.lent = s->a.rd_off == s->a.len[s->a.rd]; /* given back at the next call */
  }
  pthread_mutex_unlock(&s->mu);
  return n;
}
static ssize_t input_borrow(ld_reader *r, void *scratch, size_t len, const void **data) {
  (void) scratch;
  (void) len;
  return input_next(r, data, SIZE_MAX);
}
static ssize_t input_read(ld_reader *r, void *buf, size_t len) {
  const void *data = NULL;
  ssize_t n = input_next(r, &data, len);
  if (n > 0) memcpy(buf, data, (size_t) n); /* the slot is not reused before the next call */
  return n;
}
static void input_close(ld_reader *r) { (void) r; /* part of the staged reader */ }

static void *staged_main(void *arg) {
  staged *s = arg;
  for (;;) {
    pthread_mutex_lock(&s->mu);
    if (s->b.filled == RING_SLOTS && !s->a_failed) {
      s->worker_waits = true;
      while (s->b.filled > RING_SLOTS - RING_BATCH && !s->a_failed)
        pthread_cond_wait(&s->worker_cv, &s->mu);
      s->worker_waits = false;
    }
    bool stop = s->a_failed && s->b.filled == RING_SLOTS;
    size_t w = s->b.wr;
    pthread_mutex_unlock(&s->mu);
    if (stop) return NULL;
    ssize_t n = ld_reader_read(s->stage, s->b.slot[w], RING_CHUNK);
    pthread_mutex_lock(&s->mu);
    if (n < 0) {
      s->b_failed = true;
      s->b_error = s->stage->error;
      s->stage->error = NULL;
    } else if (n == 0) {
      s->b_eof = true;
    } else {
      s->b.len[w] = (size_t) n;
      s->b.wr = (w + 1) % RING_SLOTS;
      s->b.filled++;
    }
    wake_caller_if(s, n <= 0 || s->b.filled >= RING_BATCH);
    pthread_mutex_unlock(&s->mu);
    if (n <= 0) return NULL;
  }
}

/* With the mutex held: reads one chunk of source into ring a (the mutex is let go meanwhile).
 * -1 when source failed (its error is now the staged reader's). */
static int feed_one(staged *s) {
  size_t w = s->a.wr;
  pthread_mutex_unlock(&s->mu);
  ssize_t n = ld_reader_read_for(&s->r, s->source, s->a.slot[w], RING_CHUNK);
  pthread_mutex_lock(&s->mu);
  if (n < 0) {
    s->a_failed = true;
    wake_worker_if(s, true);
    return -1;
  }
  if (n == 0) {
    s->a_eof = true;
  } else {
    s->a.len[w] = (size_t) n;
    s->a.wr = (w + 1) % RING_SLOTS;
    s->a.filled++;
  }
  wake_worker_if(s, s->a_eof || s->a.filled >= RING_BATCH);
  return 0;
}

/* With the mutex held: feeds ring a while it has room and no output is ready, then waits for
 * output; 1 when a chunk of output is ready at b.rd, 0 at its end, -1 on an error. */
static int output_ready(staged *s) {
  return_lent_output(s);
  for (;;) {
    do {
      if (caller_may_feed(s) && feed_one(s) < 0) return -1;
    } while (caller_may_feed(s) && !s->b.filled);
    if (s->b.filled) return 1;
    if (s->b_failed) {
      ld_error_free(s->r.error);
      s->r.error = s->b_error;
      s->b_error = NULL;
      if (!s->r.error) ld_err(&s->r.error, EIO, "read failed");
      return -1;
    }
    if (s->b_eof) return 0;
    s->caller_waits = true;
    while (s->b.filled < RING_BATCH && !s->b_eof && !s->b_failed &&
           !(caller_may_feed(s) && s->a.filled <= RING_SLOTS - RING_BATCH))
      pthread_cond_wait(&s->caller_cv, &s->mu);
    s->caller_waits = false;
  }
}

static ssize_t staged_borrow(ld_reader *r, void *scratch, size_t len, const void **data) {
  (void) scratch;
  (void) len;
  staged *s = (staged *) r;
  pthread_mutex_lock(&s->mu);
  int ready = output_ready(s);
  ssize_t n = ready;
  if (ready > 0) {
    *data = s->b.slot[s->b.rd] + s->b.rd_off;
    n = (ssize_t) (s->b.len[s->b.rd] - s->b.rd_off);
    s->b.lent = true;
  }
  pthread_mutex_unlock(&s->mu);
  return n;
}

static ssize_t staged_read(ld_reader *r, void *buf, size_t len) {
  staged *s = (staged *) r;
  pthread_mutex_lock(&s->mu);
  int ready = output_ready(s);
  ssize_t n = ready;
  if (ready > 0) {
    size_t avail = s->b.len[s->b.rd] - s->b.rd_off;
    n = (ssize_t) (avail < len ? avail : len);
    memcpy(buf, s->b.slot[s->b.rd] + s->b.rd_off, (size_t) n); /* the worker never writes it */
    s->b.rd_off += (size_t) n;
    s->b.lent = s->b.rd_off == s->b.len[s->b.rd]; /* given back at the next call */
  }
  pthread_mutex_unlock(&s->mu);
  return n;
}

static void staged_close(ld_reader *r) {
  staged *s = (staged *) r;
  pthread_mutex_lock(&s->mu);
  s->a_failed = true; /* the worker stops at its next wait or read */
  pthread_cond_signal(&s->worker_cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->worker, NULL);
  ld_reader_close(s->stage);
  ld_error_free(s->b_error);
  munmap(s->a.slot[0], 2 * RING_SLOTS * RING_CHUNK);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->caller_cv);
  pthread_cond_destroy(&s->worker_cv);
  free(s);
}

ld_reader *ld_reader_staged(ld_reader *source, ld_stage_factory make_stage, void *ctx) {
  staged *s = ld_xcalloc(1, sizeof *s);
  s->r.read = staged_read;
  s->r.borrow = staged_borrow;
  s->r.close = staged_close;
  s->in.r.read = input_read;
  s->in.r.borrow = input_borrow;
  s->in.r.close = input_close;
  s->in.s = s;
  s->source = source;
  /* both rings in one mapping, faulted in at once (2 MiB page by page: ~1.5 ms of a layer's
   * start here), and unmapped at close, so nothing of it stays resident between layers */
  char *mem = mmap(NULL, 2 * RING_SLOTS * RING_CHUNK, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (mem == MAP_FAILED) abort();
  for (size_t i = 0; i < RING_SLOTS; i++) {
    s->a.slot[i] = mem + i * RING_CHUNK;
    s->b.slot[i] = mem + (RING_SLOTS + i) * RING_CHUNK;
  }
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->caller_cv, NULL);
  pthread_cond_init(&s->worker_cv, NULL);
  s->stage = make_stage(&s->in.r, ctx);
  if (pthread_create(&s->worker, NULL, staged_main, s) != 0) abort();
  return &s->r;
}

int ld_reader_slurp(ld_reader *r, size_t max, char **out, size_t *len, const char *what,
                    ld_error **err) {
  ld_buf b = {0};
  char chunk[65536];
  for (;;) {
    ssize_t n = r->read(r, chunk, sizeof chunk);
    if (n < 0) {
      ld_buf_free(&b);
      return ld_reader_take_error(r, err);
    }
    if (n == 0) break;
    if (b.len + (size_t) n > max) {
      ld_buf_free(&b);
      return ld_err(err, EFBIG, "%s: larger than %zu bytes", what, max);
    }
    ld_buf_append(&b, chunk, (size_t) n);
  }
  if (len) *len = b.len;
  *out = ld_buf_steal(&b);
  return 0;
}

int ld_reader_copy_to_fd(ld_reader *r, int fd, uint64_t *copied, ld_error **err) {
  size_t bufsz = 1 << 20;
  char *buf = ld_xmalloc(bufsz);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = r->read(r, buf, bufsz);
    if (n < 0) {
      free(buf);
      return ld_reader_take_error(r, err);
    }
    if (n == 0) break;
    if (ld_write_all(fd, buf, (size_t) n) < 0) {
      int e = errno;
      free(buf);
      return ld_err_sys(err, e, "write");
    }
    total += (uint64_t) n;
  }
  free(buf);
  if (copied) *copied = total;
  return 0;
}
