/* ld_copy's transfer slots, against an in-memory source and destination: `jobs` bounds the blobs
 * whose bytes are moving, not those the destination is still committing. With --jobs 1, the
 * next blob starts while the previous one commits; a blob retried after its bytes were all sent
 * waits for a slot again, so no more than `jobs` blobs ever read at once. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "lading/digest.h"
#include "lading/io.h"
#include "lading/manifest.h"
#include "lading/transport.h"
#include "lading/util.h"

#define N_BLOBS 4 /* config + 3 layers */
#define BLOB_SIZE (256 * 1024)

typedef struct fixture {
  char *blob[N_BLOBS];
  char digest[N_BLOBS][LD_DIGEST_MAX];
  char *manifest;
  pthread_mutex_t mu;
  pthread_cond_t changed;
  int reading, max_reading; /* source blobs between their first and last byte right now */
  int started;              /* put_blob calls so far */
  int fail_first_commit;    /* put_blob fails (retryable) after reading, this many times */
  bool commit_waits;        /* the first commit waits for the next blob to start */
  bool overlapped;          /* ... and it did */
} fixture;

static fixture fx;

static int src_get_manifest(ld_image_src *s, const char *digest, char **bytes, size_t *len,
                            char **mt, ld_error **err) {
  (void) s, (void) digest, (void) err;
  *bytes = ld_xstrdup(fx.manifest);
  *len = strlen(fx.manifest);
  *mt = ld_xstrdup(LD_MT_OCI_MANIFEST);
  return 0;
}

/* A source blob counts itself as being read from its first byte until it has handed out its
 * last one: the moment ld_copy may give the slot away, so it must be counted down first. */
typedef struct blob_reader {
  ld_reader r;
  ld_reader *mem;
  size_t pos;
  bool counted;
} blob_reader;

static void count_reading(int delta) {
  pthread_mutex_lock(&fx.mu);
  fx.reading += delta;
  if (fx.reading > fx.max_reading) fx.max_reading = fx.reading;
  pthread_mutex_unlock(&fx.mu);
}

static ssize_t blob_read(ld_reader *r, void *buf, size_t len) {
  blob_reader *b = (blob_reader *) r;
  if (!b->counted && b->pos == 0) {
    count_reading(+1);
    b->counted = true;
  }
  ssize_t n = ld_reader_read_for(r, b->mem, buf, len);
  if (n > 0) b->pos += (size_t) n;
  if (b->counted && b->pos == BLOB_SIZE) {
    count_reading(-1);
    b->counted = false;
  }
  return n;
}

static void blob_close(ld_reader *r) {
  blob_reader *b = (blob_reader *) r;
  if (b->counted) count_reading(-1); /* abandoned before its end */
  ld_reader_close(b->mem);
  free(b);
}

static int src_open_blob(ld_image_src *s, const ld_descriptor *d, ld_reader **out,
                         ld_error **err) {
  (void) s;
  for (int i = 0; i < N_BLOBS; i++)
    if (!strcmp(d->digest, fx.digest[i])) {
      blob_reader *b = ld_xcalloc(1, sizeof *b);
      b->r.read = blob_read;
      b->r.close = blob_close;
      b->mem = ld_reader_from_mem(fx.blob[i], BLOB_SIZE, true);
      *out = &b->r;
      return 0;
    }
  return ld_err(err, ENOENT, "no blob %s", d->digest);
}

static void src_close(ld_image_src *s) { free(s); }

static int dst_has_blob(ld_image_dst *d, const ld_descriptor *desc, bool *has, ld_error **err) {
  (void) d, (void) desc, (void) err;
  *has = false;
  return 0;
}

static void wait_until(struct timespec *deadline) {
  clock_gettime(CLOCK_REALTIME, deadline);
  deadline->tv_sec += 5;
}

static int dst_put_blob(ld_image_dst *d, const ld_descriptor *desc, ld_reader *r,
                        ld_error **err) {
  (void) d;
  pthread_mutex_lock(&fx.mu);
  int me = fx.started++;
  pthread_cond_broadcast(&fx.changed);
  pthread_mutex_unlock(&fx.mu);
  /* Read exactly the descriptor's size, as a registry upload does (no read of the end). */
  char buf[32768];
  int64_t got = 0;
  while (got < desc->size) {
    ssize_t n = ld_reader_read(r, buf, sizeof buf);
    if (n <= 0) break;
    got += n;
  }
  pthread_mutex_lock(&fx.mu);
  bool fail = fx.fail_first_commit > 0 && me == 0;
  if (fail) fx.fail_first_commit--;
  if (fx.commit_waits && me == 0) { /* the "commit": wait for another blob to start */
    struct timespec deadline;
    wait_until(&deadline);
    while (fx.started < 2)
      if (pthread_cond_timedwait(&fx.changed, &fx.mu, &deadline) == ETIMEDOUT) break;
    fx.overlapped = fx.started >= 2;
  }
  pthread_mutex_unlock(&fx.mu);
  if (fail) return ld_err(err, EIO, "commit of %s: connection reset", desc->digest);
  return got == desc->size ? 0 : ld_err(err, EIO, "short blob %s", desc->digest);
}

static int dst_put_manifest(ld_image_dst *d, const char *bytes, size_t len, const char *mt,
                            const char *digest, ld_error **err) {
  (void) d, (void) bytes, (void) len, (void) mt, (void) digest, (void) err;
  return 0;
}

static int dst_commit(ld_image_dst *d, const ld_descriptor *top, ld_error **err) {
  (void) d, (void) top, (void) err;
  return 0;
}

static void dst_close(ld_image_dst *d) { free(d); }

static int setup(void **state) {
  (void) state;
  memset(&fx, 0, sizeof fx);
  pthread_mutex_init(&fx.mu, NULL);
  pthread_cond_init(&fx.changed, NULL);
  for (int i = 0; i < N_BLOBS; i++) {
    fx.blob[i] = ld_xmalloc(BLOB_SIZE);
    memset(fx.blob[i], 'a' + i, BLOB_SIZE);
    ld_digest_buf(LD_SHA256, fx.blob[i], BLOB_SIZE, fx.digest[i]);
  }
  fx.manifest = ld_xasprintf(
      "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\",\"digest\":"
      "\"%s\",\"size\":%d},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%d},"
      "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%d},{\"mediaType\":\"%s\",\"digest\":"
      "\"%s\",\"size\":%d}]}",
      LD_MT_OCI_MANIFEST, LD_MT_OCI_CONFIG, fx.digest[0], BLOB_SIZE, LD_MT_OCI_LAYER_GZIP,
      fx.digest[1], BLOB_SIZE, LD_MT_OCI_LAYER_GZIP, fx.digest[2], BLOB_SIZE,
      LD_MT_OCI_LAYER_GZIP, fx.digest[3], BLOB_SIZE);
  return 0;
}

static int teardown(void **state) {
  (void) state;
  for (int i = 0; i < N_BLOBS; i++) free(fx.blob[i]);
  free(fx.manifest);
  pthread_mutex_destroy(&fx.mu);
  pthread_cond_destroy(&fx.changed);
  return 0;
}

static int run_copy(int jobs, ld_copy_result *res, ld_error **err) {
  ld_image_src *src = ld_xcalloc(1, sizeof *src);
  src->get_manifest = src_get_manifest;
  src->open_blob = src_open_blob;
  src->close = src_close;
  src->name = "memory-source";
  ld_image_dst *dst = ld_xcalloc(1, sizeof *dst);
  dst->has_blob = dst_has_blob;
  dst->put_blob = dst_put_blob;
  dst->put_manifest = dst_put_manifest;
  dst->commit = dst_commit;
  dst->close = dst_close;
  dst->name = "memory-destination";
  ld_copy_opts o = {.jobs = jobs, .retries = 2};
  int rc = ld_copy(src, dst, &o, res, err);
  src->close(src);
  dst->close(dst);
  return rc;
}

static void test_next_blob_starts_during_commit(void **state) {
  (void) state;
  fx.commit_waits = true;
  ld_copy_result res;
  ld_error *e = NULL;
  assert_int_equal(run_copy(1, &res, &e), 0);
  assert_true(fx.overlapped); /* the second blob began while the first was committing */
  assert_int_equal(fx.max_reading, 1);
  assert_int_equal(res.blobs_copied, N_BLOBS);
}

static void test_retry_after_sent_waits_for_a_slot(void **state) {
  (void) state;
  fx.fail_first_commit = 1;
  ld_copy_result res;
  ld_error *e = NULL;
  assert_int_equal(run_copy(2, &res, &e), 0);
  assert_true(fx.max_reading <= 2);
  assert_int_equal(fx.started, N_BLOBS + 1); /* one blob sent twice */
  assert_int_equal(res.blobs_copied, N_BLOBS);
}

static void test_many_jobs_few_blobs(void **state) {
  (void) state;
  ld_copy_result res;
  ld_error *e = NULL;
  assert_int_equal(run_copy(32, &res, &e), 0);
  assert_int_equal(fx.started, N_BLOBS);
  assert_int_equal(res.blobs_copied, N_BLOBS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_next_blob_starts_during_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retry_after_sent_waits_for_a_slot, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_jobs_few_blobs, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
