/* Copy progress bars on a terminal (see client_progress.h). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "client_progress.h"
#include "lading/digest.h"
#include "lading/util.h"

#define MAX_ACTIVE 32

typedef struct active_blob {
  char digest[LD_DIGEST_MAX];
  uint64_t done, size;
} active_blob;

struct client_progress {
  pthread_mutex_t mu;
  bool tty;
  char *label;
  double t0, last_draw;
  uint64_t total, done_bytes; /* done_bytes: finished blobs (skipped ones count as done) */
  active_blob active[MAX_ACTIVE];
  size_t n_active;
  int lines_drawn;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

client_progress *client_progress_new(const char *label, bool quiet) {
  client_progress *p = ld_xcalloc(1, sizeof *p);
  pthread_mutex_init(&p->mu, NULL);
  p->tty = !quiet && isatty(2);
  p->label = ld_xstrdup(label);
  p->t0 = now_s();
  return p;
}

static void bar(char *out, size_t n, double frac, int width) {
  int fill = (int) (frac * width);
  if (fill > width) fill = width;
  size_t k = 0;
  for (int i = 0; i < width && k + 1 < n; i++) out[k++] = i < fill ? '#' : '-';
  out[k] = 0;
}

static void draw(client_progress *p, bool force) {
  double t = now_s();
  if (!force && t - p->last_draw < 0.1) return;
  p->last_draw = t;
  for (int i = 0; i < p->lines_drawn; i++) fputs("\033[1A\033[2K", stderr);
  int lines = 0;
  uint64_t in_flight = 0;
  char b[64], h1[32], h2[32], sd[24];
  for (size_t i = 0; i < p->n_active; i++) {
    active_blob *a = &p->active[i];
    in_flight += a->done;
    bar(b, sizeof b, a->size ? (double) a->done / (double) a->size : 0, 30);
    fprintf(stderr, "  %s [%s] %s / %s\n", ld_digest_short(a->digest, sd), b,
            ld_human_size(a->done, h1, sizeof h1), ld_human_size(a->size, h2, sizeof h2));
    lines++;
  }
  uint64_t done = p->done_bytes + in_flight;
  double el = t - p->t0, rate = el > 0 ? (double) done / el : 0;
  char hr[32], eta[32] = "--";
  if (rate > 0 && p->total > done) snprintf(eta, sizeof eta, "%.0fs", (double) (p->total - done) / rate);
  bar(b, sizeof b, p->total ? (double) done / (double) p->total : 0, 30);
  fprintf(stderr, "%s [%s] %s / %s  %s/s  ETA %s\n", p->label, b, ld_human_size(done, h1, sizeof h1),
          ld_human_size(p->total, h2, sizeof h2), ld_human_size((uint64_t) rate, hr, sizeof hr), eta);
  lines++;
  p->lines_drawn = lines;
}

static active_blob *find(client_progress *p, const char *digest) {
  for (size_t i = 0; i < p->n_active; i++)
    if (!strcmp(p->active[i].digest, digest)) return &p->active[i];
  return NULL;
}

static void drop(client_progress *p, const char *digest) {
  active_blob *a = find(p, digest);
  if (!a) return;
  *a = p->active[--p->n_active];
}

void client_progress_cb(void *arg, const char *ev, const ld_descriptor *d, uint64_t done) {
  client_progress *p = arg;
  if (!p->tty) return;
  uint64_t size = d->size > 0 ? (uint64_t) d->size : 0;
  pthread_mutex_lock(&p->mu);
  if (!strcmp(ev, "queued")) {
    p->total += size;
  } else if (!strcmp(ev, "start") || !strcmp(ev, "retry")) {
    active_blob *a = find(p, d->digest);
    if (!a && p->n_active < MAX_ACTIVE) a = &p->active[p->n_active++];
    if (a) {
      snprintf(a->digest, sizeof a->digest, "%s", d->digest);
      a->done = 0;
      a->size = size;
    }
  } else if (!strcmp(ev, "bytes")) {
    active_blob *a = find(p, d->digest);
    if (a) a->done = done;
  } else if (!strcmp(ev, "done") || !strcmp(ev, "skip") || !strcmp(ev, "mount")) {
    drop(p, d->digest);
    p->done_bytes += size;
    draw(p, true);
  }
  draw(p, false);
  pthread_mutex_unlock(&p->mu);
}

double client_progress_end(client_progress *p) {
  pthread_mutex_lock(&p->mu);
  if (p->tty)
    for (int i = 0; i < p->lines_drawn; i++) fputs("\033[1A\033[2K", stderr);
  p->lines_drawn = 0;
  pthread_mutex_unlock(&p->mu);
  return now_s() - p->t0;
}

void client_progress_free(client_progress *p) {
  if (!p) return;
  pthread_mutex_destroy(&p->mu);
  free(p->label);
  free(p);
}

void client_progress_line(FILE *f, const char *src, const char *dst, const ld_copy_result *r,
                          double secs) {
  char hs[32], hr[32];
  fprintf(f, "%s -> %s %s: %llu copied (%s), %llu skipped, %llu mounted in %.1f s (%s/s)\n", src,
          dst, r->digest, (unsigned long long) r->blobs_copied,
          ld_human_size(r->bytes_copied, hs, sizeof hs), (unsigned long long) r->blobs_skipped,
          (unsigned long long) r->blobs_mounted, secs,
          ld_human_size(secs > 0 ? (uint64_t) ((double) r->bytes_copied / secs) : 0, hr, sizeof hr));
}

int client_run_copy(const char *src_spec, const ld_transport_opts *src_o, const char *dst_spec,
                    const ld_transport_opts *dst_o, ld_copy_opts *co, bool quiet,
                    ld_copy_result *res, double *secs, ld_error **err) {
  ld_image_src *src = NULL;
  ld_image_dst *dst = NULL;
  *secs = 0;
  if (ld_image_src_open(src_spec, src_o, &src, err) < 0) return -1;
  if (ld_image_dst_open(dst_spec, dst_o, &dst, err) < 0) {
    ld_image_src_close(src);
    return -1;
  }
  client_progress *p = client_progress_new(dst_spec, quiet);
  co->progress = client_progress_cb;
  co->progress_arg = p;
  int rc = ld_copy(src, dst, co, res, err);
  *secs = client_progress_end(p);
  client_progress_free(p);
  co->progress = NULL;
  co->progress_arg = NULL;
  ld_image_src_close(src);
  ld_image_dst_close(dst);
  return rc;
}

json_t *client_result_json(const char *src, const char *dst, const ld_copy_result *r, double secs) {
  return json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:f}", "source", src, "destination", dst,
                   "digest", r->digest, "blobs_copied", (json_int_t) r->blobs_copied,
                   "blobs_skipped", (json_int_t) r->blobs_skipped, "blobs_mounted",
                   (json_int_t) r->blobs_mounted, "bytes_copied", (json_int_t) r->bytes_copied,
                   "manifests", (json_int_t) r->manifests, "seconds", secs);
}
