/* Driving the analyzer over a real image: each layer blob is read once, as a stream, and layers
 * are read in parallel.
 *
 * Reading a layer is the expensive part (ISA-L inflate, SHA-256 of the blob and of the tar,
 * libarchive, XXH3-128 of every regular file's data) and layers are independent, so a small pool
 * of worker threads takes layers in order; each turns its layer into a compact list of entries
 * (headers and content hashes only, strings in an arena; file data is hashed in 64 KiB pieces and
 * dropped). The calling thread waits for layer 0, feeds it to the analyzer (the merged trees must
 * see layers in order), frees it, waits for layer 1, and so on. Memory is therefore the entries of
 * the layers in flight plus the analyzer's paths: still proportional to entries, never to bytes.
 *
 * src->open_blob is called under the pool's lock (transports need not be thread-safe); each
 * reader it returns is then used by one thread only. When a layer fails, no new layer is
 * started, layers already started finish, and the error of the lowest failing layer is returned,
 * as a sequential reader would have reported it. When a layer ends, its diff_id is compared with
 * the config's rootfs.diff_ids, so a config that lies about its layers is an error, not a
 * silently wrong report.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xxh_x86dispatch.h> /* XXH3 with AVX2/AVX-512 picked at run time: 2-3x the SSE2 build */
#endif
#include "internal.h"
#include "lading/layer.h"
#include "lading/util.h"

#define AN_READ_BUF (64 * 1024)
#define AN_MAX_JOBS 4

typedef struct layer_job {
  ld_an_entry *entries;
  size_t n, cap;
  an_arena arena;
  ld_error *err;
  bool done;
} layer_job;

typedef struct pool {
  ld_image_src *src;
  const ld_image *img;
  layer_job *jobs;
  size_t n, next;
  bool stop;
  pthread_mutex_t mu;
  pthread_cond_t cv;
} pool;

/* ---- reading one layer ---- */

static ld_an_type entry_type(struct archive_entry *ae) {
  if (archive_entry_hardlink(ae)) return LD_AN_HARDLINK;
  switch (archive_entry_filetype(ae)) {
  case AE_IFREG: return LD_AN_REG;
  case AE_IFDIR: return LD_AN_DIR;
  case AE_IFLNK: return LD_AN_SYMLINK;
  default: return LD_AN_OTHER;
  }
}

static int hash_data(ld_layer_reader *l, ld_an_entry *e, XXH3_state_t *st, char *buf,
                     ld_error **err) {
  XXH3_128bits_reset(st);
  for (;;) {
    ssize_t n = ld_layer_read_data(l, buf, AN_READ_BUF, err);
    if (n < 0) return -1;
    if (n == 0) break;
    XXH3_128bits_update(st, buf, (size_t) n);
  }
  XXH128_hash_t h = XXH3_128bits_digest(st);
  e->has_hash = true;
  e->hash_hi = h.high64;
  e->hash_lo = h.low64;
  return 0;
}

/* Copies a layer entry into the job: strings into the job's arena. */
static ld_an_entry *add_entry(layer_job *j, const ld_layer_entry *le) {
  struct archive_entry *ae = le->ae;
  if (j->n == j->cap) {
    j->cap = j->cap ? j->cap * 2 : 1024;
    j->entries = ld_xrealloc(j->entries, j->cap * sizeof *j->entries);
  }
  ld_an_entry *e = &j->entries[j->n++];
  memset(e, 0, sizeof *e);
  e->path = an_arena_strndup(&j->arena, le->path, strlen(le->path));
  e->whiteout = le->whiteout;
  e->opaque = le->opaque;
  e->type = entry_type(ae);
  int64_t size = archive_entry_size(ae);
  e->size = size > 0 ? (uint64_t) size : 0;
  e->mode = (uint32_t) archive_entry_perm(ae);
  e->uid = (uint32_t) archive_entry_uid(ae);
  e->gid = (uint32_t) archive_entry_gid(ae);
  const char *link = archive_entry_hardlink(ae);
  if (!link) link = archive_entry_symlink(ae);
  if (link) e->link = an_arena_strndup(&j->arena, link, strlen(link));
  return e;
}

static int read_entries(ld_layer_reader *l, layer_job *j, ld_error **err) {
  XXH3_state_t *st = XXH3_createState();
  char *buf = ld_xmalloc(AN_READ_BUF);
  int r;
  ld_layer_entry le;
  while ((r = ld_layer_next(l, &le, err)) > 0) {
    ld_an_entry *e = add_entry(j, &le);
    if (e->type == LD_AN_REG && !e->whiteout && !e->opaque && e->size > 0 &&
        (r = hash_data(l, e, st, buf, err)) < 0)
      break;
  }
  free(buf);
  XXH3_freeState(st);
  return r;
}

static int check_diff_id(const ld_image *img, size_t i, const char *what, const char *diff_id,
                         ld_error **err) {
  if (i >= img->config.n_diff_ids)
    return ld_err(err, LD_EFORMAT, "%s: the image config lists only %zu diff_ids", what,
                  img->config.n_diff_ids);
  if (strcmp(img->config.diff_ids[i], diff_id))
    return ld_err(err, LD_EDIGEST, "%s: uncompressed content is %s, the image config says %s",
                  what, diff_id, img->config.diff_ids[i]);
  return 0;
}

static int read_layer(pool *p, size_t i, layer_job *j, ld_error **err) {
  const ld_descriptor *d = &p->img->manifest.layers[i];
  ld_autofree char *what = ld_xasprintf("layer %zu %s", i, d->digest);
  ld_reader *blob = NULL;
  pthread_mutex_lock(&p->mu);
  int r = p->src->open_blob(p->src, d, &blob, err);
  pthread_mutex_unlock(&p->mu);
  if (r < 0) return ld_error_wrap(err, "%s", what);
  ld_layer_reader *l = NULL;
  if (ld_layer_open(blob, d->media_type, d->digest, what, &l, err) < 0) return -1;
  char diff_id[LD_DIGEST_MAX] = "";
  r = read_entries(l, j, err);
  if (r == 0) r = ld_layer_finish(l, diff_id, NULL, err);
  ld_layer_close(l);
  if (r == 0) r = check_diff_id(p->img, i, what, diff_id, err);
  return r;
}

/* ---- the pool ---- */

static void *worker(void *arg) {
  pool *p = arg;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    if (p->stop || p->next >= p->n) {
      pthread_mutex_unlock(&p->mu);
      return NULL;
    }
    size_t i = p->next++;
    pthread_mutex_unlock(&p->mu);
    layer_job *j = &p->jobs[i];
    int r = read_layer(p, i, j, &j->err);
    pthread_mutex_lock(&p->mu);
    j->done = true;
    if (r < 0) p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
  }
}

static void job_free(layer_job *j) {
  free(j->entries);
  j->entries = NULL;
  j->n = j->cap = 0;
  an_arena_free(&j->arena);
  ld_error_free(j->err);
  j->err = NULL;
}

static void feed_layer(ld_analyzer *an, const ld_image *img, size_t i, const char *created_by,
                       const layer_job *j) {
  const ld_descriptor *d = &img->manifest.layers[i];
  ld_an_layer_meta meta = {.digest = d->digest,
                           .diff_id = i < img->config.n_diff_ids ? img->config.diff_ids[i] : NULL,
                           .media_type = d->media_type,
                           .blob_size = d->size > 0 ? (uint64_t) d->size : 0,
                           .created_by = created_by};
  ld_analyzer_begin_layer(an, &meta);
  for (size_t k = 0; k < j->n; k++) ld_analyzer_add_entry(an, &j->entries[k]);
}

static int pool_jobs(const ld_analyze_opts *o, size_t n_layers) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  long jobs = o && o->jobs > 0 ? o->jobs : (cpus > 0 ? cpus : 1);
  if (jobs > AN_MAX_JOBS && !(o && o->jobs > 0)) jobs = AN_MAX_JOBS;
  if ((size_t) jobs > n_layers) jobs = (long) n_layers;
  return jobs < 1 ? 1 : (int) jobs;
}

/* Waits for each layer in order and applies it; returns the first error in layer order. */
static int merge_in_order(pool *p, ld_analyzer *an, const char **history, ld_error **err) {
  for (size_t i = 0; i < p->n; i++) {
    layer_job *j = &p->jobs[i];
    pthread_mutex_lock(&p->mu);
    while (!j->done) pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    if (j->err) {
      *err = j->err;
      j->err = NULL;
      return -1;
    }
    feed_layer(an, p->img, i, history[i], j);
    job_free(j);
    if (ld_analyzer_end_layer(an, err) < 0) return -1;
  }
  return 0;
}

int ld_analyze_image(ld_image_src *src, const ld_image *img, const ld_analyze_opts *o,
                     ld_analysis **out, ld_error **err) {
  size_t n = img->manifest.n_layers;
  const char **history = ld_xcalloc(n ? n : 1, sizeof *history);
  ld_an_history_map(&img->config, n, history);
  pool p = {.src = src, .img = img, .n = n};
  p.jobs = ld_xcalloc(n ? n : 1, sizeof *p.jobs);
  pthread_mutex_init(&p.mu, NULL);
  pthread_cond_init(&p.cv, NULL);
  int n_threads = pool_jobs(o, n);
  pthread_t threads[AN_MAX_JOBS * 16];
  int started = 0;
  for (; started < n_threads && started < (int) LD_ARRAY_SIZE(threads); started++)
    if (pthread_create(&threads[started], NULL, worker, &p) != 0) break;
  if (started == 0 && n) worker(&p); /* no thread could start: read them here, in order */
  ld_analyzer *an = ld_analyzer_new(o);
  int r = merge_in_order(&p, an, history, err);
  pthread_mutex_lock(&p.mu);
  p.stop = true; /* after an error: start nothing more */
  pthread_mutex_unlock(&p.mu);
  for (int t = 0; t < started; t++) pthread_join(threads[t], NULL);
  if (r == 0) *out = ld_analyzer_finish(an);
  ld_analyzer_free(an);
  for (size_t i = 0; i < n; i++) job_free(&p.jobs[i]);
  free(p.jobs);
  pthread_cond_destroy(&p.cv);
  pthread_mutex_destroy(&p.mu);
  free(history);
  return r;
}
