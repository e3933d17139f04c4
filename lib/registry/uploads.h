/* Upload sessions: the state of a blob upload between POST and the final PUT.
 *
 * A session is a temp file uploads/<uuid> plus a running hasher, so the digest is known the
 * moment the last byte arrives and the blob is never read back. Sessions live in memory (a
 * hasher cannot be persisted), which is why a restart wipes uploads/ and clients start over.
 * One request at a time may write to a session (ru_acquire fails while another holds it);
 * sessions idle for longer than the TTL are reaped.
 */
#ifndef LADING_REGISTRY_UPLOADS_H
#define LADING_REGISTRY_UPLOADS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "lading/digest.h"
#include "lading/error.h"
#include "registry/storage.h"

typedef struct ru_session {
  char uuid[37];
  char *repo;
  char *path;
  int fd;
  ld_hasher *hasher; /* sha256 of bytes [0, hashed) */
  uint64_t offset;
  uint64_t flushed; /* writeback started up to here */
  /* Hashing of large bodies runs on a helper thread that reads back what the connection
   * thread wrote (from the page cache): hashing and receiving+writing then use both CPUs. */
  uint64_t hashed;
  pthread_mutex_t hash_lock;
  pthread_cond_t hash_cond;
  pthread_t hash_thread;
  bool hash_running, hash_stop, hash_waiting;
  int hash_errno; /* the helper could not read the file back: the digest is unknown */
  uint64_t synced;  /* the helper fdatasynced up to here */
  int64_t touched; /* last activity, unix seconds */
  bool busy;
  int64_t started;
  struct ru_session *next;
} ru_session;

typedef struct ru_table {
  pthread_mutex_t lock;
  ru_session *head;
  const rs_storage *st;
  int64_t ttl;
} ru_table;

void ru_init(ru_table *t, const rs_storage *st, int64_t ttl);
void ru_destroy(ru_table *t);
/* New session in repo, acquired (busy) by the caller. */
int ru_create(ru_table *t, const char *repo, ru_session **out, ld_error **err);
/* Finds uuid in repo and marks it busy. -1 ENOENT unknown, -1 EBUSY in use. */
int ru_acquire(ru_table *t, const char *repo, const char *uuid, ru_session **out);
void ru_release(ru_table *t, ru_session *s);
/* Appends to an acquired session (hashing on the fly). */
int ru_append(ru_session *s, const void *data, size_t len, ld_error **err);
/* Verifies an acquired session against digest and commits the blob; the session ends either
 * way. On a digest mismatch fails with LD_EDIGEST. */
int ru_finish(ru_table *t, ru_session *s, const char *digest, ld_error **err);
/* Ends an acquired session, deleting its data. */
void ru_cancel(ru_table *t, ru_session *s);
/* Removes sessions idle for longer than the TTL; returns how many. */
size_t ru_reap(ru_table *t, int64_t now);
size_t ru_count(ru_table *t);

#endif
