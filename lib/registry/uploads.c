/* Upload sessions (see uploads.h).
 *
 * The table is a linked list under one mutex: the mutex is held only to find, add or unlink a
 * session, never during I/O. A session being written is marked busy, which both serialises
 * requests on it and keeps the reaper away. Hashing is always SHA-256 while streaming (what
 * every client uses); a final digest in another algorithm re-reads the file once.
 *
 * Small bodies are hashed inline. Once a session holds HASH_THREAD_AFTER bytes, each request
 * body gets a helper thread that hashes the file behind the writer (pread from the page cache,
 * HASH_BLOCK at a time): SHA-256 (~0.7 s per GiB here) no longer sits between two recv calls
 * of the connection thread. The helper outlives the request that started it (a PATCH is
 * answered without waiting for the hash to catch up) and is joined when the digest is needed
 * (the final PUT) or the session ends (cancel, expiry); an idle session with a helper holds a
 * sleeping thread and its HASH_BLOCK buffer.
 */
#include <fcntl.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "lading/fs.h"
#include "lading/util.h"
#include "registry/uploads.h"

void ru_init(ru_table *t, const rs_storage *st, int64_t ttl) {
  memset(t, 0, sizeof *t);
  pthread_mutex_init(&t->lock, NULL);
  t->st = st;
  t->ttl = ttl;
}

static void hash_join(ru_session *s);

static void session_free(ru_session *s, bool remove_data) {
  hash_join(s);
  pthread_mutex_destroy(&s->hash_lock);
  pthread_cond_destroy(&s->hash_cond);
  if (s->fd >= 0) close(s->fd);
  if (remove_data && s->path) unlink(s->path);
  if (s->hasher) ld_hasher_free(s->hasher);
  free(s->path);
  free(s->repo);
  free(s);
}

void ru_destroy(ru_table *t) {
  for (ru_session *s = t->head, *next; s; s = next) {
    next = s->next;
    session_free(s, true);
  }
  pthread_mutex_destroy(&t->lock);
}

static void make_uuid(char out[37]) {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) abort();
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
           b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
}

int ru_create(ru_table *t, const char *repo, ru_session **out, ld_error **err) {
  ru_session *s = ld_xcalloc(1, sizeof *s);
  make_uuid(s->uuid);
  s->repo = ld_xstrdup(repo);
  s->path = ld_xasprintf("%s/%s", t->st->uploads, s->uuid);
  pthread_mutex_init(&s->hash_lock, NULL);
  pthread_cond_init(&s->hash_cond, NULL);
  s->fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (s->fd < 0) {
    int e = errno;
    session_free(s, false);
    return ld_err_sys(err, e, "upload session: cannot create %s/…", t->st->uploads);
  }
  s->hasher = ld_hasher_new(LD_SHA256);
  s->touched = s->started = ld_now();
  s->busy = true;
  pthread_mutex_lock(&t->lock);
  s->next = t->head;
  t->head = s;
  pthread_mutex_unlock(&t->lock);
  *out = s;
  return 0;
}

int ru_acquire(ru_table *t, const char *repo, const char *uuid, ru_session **out) {
  int rc = -1;
  errno = ENOENT;
  pthread_mutex_lock(&t->lock);
  for (ru_session *s = t->head; s; s = s->next) {
    if (strcmp(s->uuid, uuid) || strcmp(s->repo, repo)) continue;
    if (!s->busy && ld_now() - s->touched > t->ttl) break; /* expired: the reaper will free it */
    if (s->busy) {
      errno = EBUSY;
    } else {
      s->busy = true;
      s->touched = ld_now();
      *out = s;
      rc = 0;
    }
    break;
  }
  pthread_mutex_unlock(&t->lock);
  return rc;
}

void ru_release(ru_table *t, ru_session *s) {
  /* The helper (if any) keeps hashing: the answer to this request need not wait for it. */
  if (s->offset > s->flushed) { /* start writing the tail now: the commit's fsync comes next */
    sync_file_range(s->fd, (off_t) s->flushed, 0, SYNC_FILE_RANGE_WRITE);
    s->flushed = s->offset;
  }
  pthread_mutex_lock(&t->lock);
  s->busy = false;
  s->touched = ld_now();
  pthread_mutex_unlock(&t->lock);
}

/* Start writeback every WRITEBACK_STEP bytes, so that the fsync of the commit finds little
 * left to write: the disk works while the network still delivers, instead of afterwards. */
#define WRITEBACK_STEP (8u << 20)
#define HASH_THREAD_AFTER (4u << 20)
#define HASH_BLOCK (256u << 10)
/* The helper also fdatasyncs every SYNC_STEP bytes it has hashed. On a disk with a write cache
 * (the development VM's virtual disk) writeback only fills that cache, and the commit's fsync
 * then waits for the cache flush of the whole blob (~130 ms per 250 MB here); syncing along
 * the way moves that wait off the request path, in parallel with receiving. 16 MiB rather than
 * 64: the commit then waits for at most 16 MiB, and a skopeo push (one layer at a time, each
 * PUT waited for) took as long as skopeo's own CPU time, not ~0.13 s more (bench/registry.sh,
 * two runs each; uploads were no slower). */
#define SYNC_STEP (16u << 20)

/* Hashes [from, to) of the session file; the caller owns s->hasher meanwhile. */
static int hash_range(ru_session *s, char *buf, uint64_t from, uint64_t to) {
  while (from < to) {
    size_t want = to - from < HASH_BLOCK ? (size_t) (to - from) : HASH_BLOCK;
    ssize_t n = pread(s->fd, buf, want, (off_t) from);
    if (n <= 0) return n < 0 ? errno : EIO;
    ld_hasher_update(s->hasher, buf, (size_t) n);
    from += (uint64_t) n;
  }
  return 0;
}

static void *hash_main(void *arg) {
  ru_session *s = arg;
  /* mapped, not malloced: unmapped when the thread ends, so no malloc arena keeps it resident */
  char *buf = mmap(NULL, HASH_BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) abort();
  pthread_mutex_lock(&s->hash_lock);
  for (;;) {
    while (s->offset - s->hashed < HASH_BLOCK && !s->hash_stop) {
      s->hash_waiting = true;
      pthread_cond_wait(&s->hash_cond, &s->hash_lock);
      s->hash_waiting = false;
    }
    uint64_t from = s->hashed, to = s->offset;
    if (from == to) break; /* stopped and caught up */
    pthread_mutex_unlock(&s->hash_lock);
    int e = s->hash_errno ? 0 : hash_range(s, buf, from, to);
    if (to - s->synced >= SYNC_STEP) { /* see SYNC_STEP */
      fdatasync(s->fd);
      s->synced = to;
    }
    pthread_mutex_lock(&s->hash_lock);
    if (e) s->hash_errno = e;
    s->hashed = to;
  }
  pthread_mutex_unlock(&s->hash_lock);
  munmap(buf, HASH_BLOCK);
  return NULL;
}

/* Lets the helper finish what was written and waits for it. */
static void hash_join(ru_session *s) {
  if (!s->hash_running) return;
  pthread_mutex_lock(&s->hash_lock);
  s->hash_stop = true;
  pthread_cond_signal(&s->hash_cond);
  pthread_mutex_unlock(&s->hash_lock);
  pthread_join(s->hash_thread, NULL);
  s->hash_running = s->hash_stop = false;
}

/* Hashes what was just written (bytes up to s->offset): inline while the session is small,
 * else by the helper thread, started on first need. */
static void hash_written(ru_session *s, const void *data, size_t len) {
  if (!s->hash_running && s->offset < HASH_THREAD_AFTER) {
    ld_hasher_update(s->hasher, data, len);
    s->hashed = s->offset;
    return;
  }
  pthread_mutex_lock(&s->hash_lock);
  if (!s->hash_running) {
    s->hash_running = pthread_create(&s->hash_thread, NULL, hash_main, s) == 0;
    if (!s->hash_running) { /* no thread: hash here, from the file */
      pthread_mutex_unlock(&s->hash_lock);
      char *buf = ld_xmalloc(HASH_BLOCK);
      int e = hash_range(s, buf, s->hashed, s->offset);
      free(buf);
      if (e) s->hash_errno = e;
      s->hashed = s->offset;
      return;
    }
  } else if (s->hash_waiting && s->offset - s->hashed >= HASH_BLOCK) {
    pthread_cond_signal(&s->hash_cond);
  }
  pthread_mutex_unlock(&s->hash_lock);
}

int ru_append(ru_session *s, const void *data, size_t len, ld_error **err) {
  if (ld_write_all(s->fd, data, len) < 0)
    return ld_err_sys(err, errno, "upload %s: write", s->uuid);
  if (s->hash_running) pthread_mutex_lock(&s->hash_lock);
  s->offset += len;
  if (s->hash_running) pthread_mutex_unlock(&s->hash_lock);
  hash_written(s, data, len);
  if (s->offset - s->flushed >= WRITEBACK_STEP) {
    sync_file_range(s->fd, (off_t) s->flushed, (off_t) (s->offset - s->flushed),
                    SYNC_FILE_RANGE_WRITE);
    s->flushed = s->offset;
  }
  return 0;
}

static void unlink_session(ru_table *t, ru_session *s) {
  pthread_mutex_lock(&t->lock);
  for (ru_session **pp = &t->head; *pp; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  pthread_mutex_unlock(&t->lock);
}

void ru_cancel(ru_table *t, ru_session *s) {
  unlink_session(t, s);
  session_free(s, true);
}

static int final_digest(ru_session *s, ld_digest_algo algo, char out[LD_DIGEST_MAX],
                        ld_error **err) {
  hash_join(s);
  if (algo == LD_SHA256) {
    if (s->hash_errno)
      return ld_err_sys(err, s->hash_errno, "upload %s: reading back to hash", s->uuid);
    ld_hasher_final(s->hasher, out);
    return 0;
  }
  int fd = open(s->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ld_err_sys(err, errno, "upload %s: reopen", s->uuid);
  uint64_t size;
  int rc = ld_digest_fd(fd, algo, out, &size, err);
  close(fd);
  return rc;
}

int ru_finish(ru_table *t, ru_session *s, const char *digest, ld_error **err) {
  unlink_session(t, s);
  char got[LD_DIGEST_MAX];
  int rc = final_digest(s, ld_digest_algo_of(digest), got, err);
  if (rc == 0 && strcmp(got, digest)) {
    char a[24], b[24];
    rc = ld_err(err, LD_EDIGEST, "upload %s: content has digest %s, not %s (%llu bytes)",
                s->uuid, ld_digest_short(got, a), ld_digest_short(digest, b),
                (unsigned long long) s->offset);
  }
  if (rc == 0) {
    rc = rs_blob_commit(t->st, s->fd, s->path, digest, s->repo, err);
    if (rc == 0) {
      free(s->path);
      s->path = NULL; /* renamed away */
    }
  }
  session_free(s, true);
  return rc;
}

size_t ru_reap(ru_table *t, int64_t now) {
  size_t n = 0;
  ru_session *dead = NULL;
  pthread_mutex_lock(&t->lock);
  for (ru_session **pp = &t->head; *pp;) {
    ru_session *s = *pp;
    if (!s->busy && now - s->touched > t->ttl) {
      *pp = s->next;
      s->next = dead;
      dead = s;
      n++;
    } else {
      pp = &s->next;
    }
  }
  pthread_mutex_unlock(&t->lock);
  for (ru_session *s = dead, *next; s; s = next) {
    next = s->next;
    session_free(s, true);
  }
  return n;
}

size_t ru_count(ru_table *t) {
  size_t n = 0;
  pthread_mutex_lock(&t->lock);
  for (ru_session *s = t->head; s; s = s->next) n++;
  pthread_mutex_unlock(&t->lock);
  return n;
}
