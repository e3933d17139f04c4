/* ld_copy: move an image from any source to any destination.
 *
 * Three phases:
 *   1. Walk: top manifest -> (index: every child, or the one platform asked for / the only one a
 *      single-image destination can hold) -> configs and layers. Manifests are fetched as exact
 *      bytes and checked against the digest their parent names; they are kept in post-order
 *      (children before the index that lists them). Blobs are collected once per digest.
 *   2. Blobs, `jobs` at a time (default 4) on a small thread pool: a blob the destination has is
 *      skipped (HEAD); one a registry can mount from the source repository is mounted; any other
 *      streams from source to destination, verified on both ends. `jobs` counts transfers, not
 *      threads: a blob whose bytes have all been sent gives its slot to the next blob while the
 *      destination commits it (a registry verifies and fsyncs, an S3-backed one copies the
 *      object; a layout fsyncs), so a commit never leaves the link idle. The pool has up to
 *      2 x jobs threads for that. A blob that fails for a reason worth another try (I/O, a
 *      connection dropped mid-stream) starts over, up to `retries` times with backoff, once a
 *      slot is free again; a digest mismatch never does. The first hard failure stops new work.
 *   3. Manifests in post-order, then commit() names the top. With --compress, layers whose
 *      compression differs are recompressed through a temp file (the digest must be known before
 *      the upload names it), and every manifest above them is rewritten with the new descriptors.
 *
 * A name never points at an incomplete image (commit is last), and a re-run after an interruption
 * moves only what is missing, since blobs that arrived are found by has_blob.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "copy_internal.h"
#include "lading/layer.h"
#include "lading/digest.h"
#include "lading/json.h"
#include "lading/log.h"
#include "lading/transport.h"
#include "lading/util.h"

typedef struct blob_task {
  ld_descriptor d;   /* as the source manifest lists it */
  ld_descriptor out; /* as written (differs when recompressed) */
  bool recompress;
} blob_task;

typedef struct mf_node {
  char *bytes, *mt;
  size_t len;
  ld_manifest m;
  bool rewritten; /* bytes differ from m.raw (--compress) */
} mf_node;

typedef struct copy_job {
  ld_image_src *src;
  ld_image_dst *dst;
  const ld_copy_opts *o;
  ld_copy_result *res;
  blob_task *tasks;
  size_t n_tasks;
  mf_node *mfs;
  size_t n_mfs;
  pthread_mutex_t mu;
  pthread_cond_t slot_free;
  int free_slots; /* transfers that may start now (jobs minus those sending bytes) */
  size_t next;
  ld_error *first_err;
  _Atomic uint64_t copied, skipped, mounted, bytes;
} copy_job;

static void progress(copy_job *j, const char *ev, const ld_descriptor *d, uint64_t done) {
  if (j->o && j->o->progress) j->o->progress(j->o->progress_arg, ev, d, done);
}

/* A worker holds a transfer slot from picking its blob until the blob's last byte has been read
 * from the source (or the blob is done), whichever comes first. */
typedef struct slot {
  copy_job *j;
  bool held;
} slot;

static void slot_release(slot *s) {
  if (!s->held) return;
  s->held = false;
  pthread_mutex_lock(&s->j->mu);
  s->j->free_slots++;
  pthread_cond_broadcast(&s->j->slot_free); /* also wakes the idle, to see there is no work */
  pthread_mutex_unlock(&s->j->mu);
}

/* For a retry of a blob whose slot went at the end of its bytes. */
static void slot_acquire(slot *s) {
  if (s->held) return;
  pthread_mutex_lock(&s->j->mu);
  while (s->j->free_slots == 0) pthread_cond_wait(&s->j->slot_free, &s->j->mu);
  s->j->free_slots--;
  pthread_mutex_unlock(&s->j->mu);
  s->held = true;
}

/* ---- phase 1: walk ---- */

static int fetch(copy_job *j, const char *digest, mf_node *n, ld_error **err) {
  memset(n, 0, sizeof *n);
  if (j->src->get_manifest(j->src, digest, &n->bytes, &n->len, &n->mt, err) < 0) return -1;
  if (ld_manifest_parse(n->bytes, n->len, n->mt, &n->m, err) < 0) {
    free(n->bytes);
    free(n->mt);
    return ld_error_wrap(err, "%s", j->src->name);
  }
  if (digest && strcmp(n->m.digest, digest)) {
    ld_err(err, LD_EDIGEST, "%s: manifest %s: digest mismatch: content is %s", j->src->name,
           digest, n->m.digest);
    ld_manifest_clear(&n->m);
    free(n->bytes);
    free(n->mt);
    return -1;
  }
  return 0;
}

static void node_clear(mf_node *n) {
  ld_manifest_clear(&n->m);
  free(n->bytes);
  free(n->mt);
}

static bool wants_recompress(const copy_job *j, const ld_descriptor *d) {
  if (!j->o || !j->o->compress || !ld_media_type_is_layer(d->media_type)) return false;
  if (strstr(d->media_type, "nondistributable") || strstr(d->media_type, "foreign")) return false;
  return ld_compression_from_media_type(d->media_type) != (ld_compression) j->o->compress;
}

static void add_blob(copy_job *j, const ld_descriptor *d) {
  for (size_t i = 0; i < j->n_tasks; i++)
    if (!strcmp(j->tasks[i].d.digest, d->digest)) return;
  j->tasks = ld_xrealloc(j->tasks, (j->n_tasks + 1) * sizeof *j->tasks);
  blob_task *t = &j->tasks[j->n_tasks++];
  memset(t, 0, sizeof *t);
  ld_descriptor_copy(&t->d, d);
  t->d.annotations = NULL; /* borrowed from a manifest that may be freed first */
  t->recompress = wants_recompress(j, d);
}

static void add_node(copy_job *j, mf_node *n) {
  j->mfs = ld_xrealloc(j->mfs, (j->n_mfs + 1) * sizeof *j->mfs);
  j->mfs[j->n_mfs++] = *n;
}

/* Takes ownership of n. */
static int walk(copy_job *j, mf_node *n, int depth, ld_error **err) {
  ld_manifest *m = &n->m;
  if (m->kind == LD_KIND_INDEX) {
    if (depth > 4) {
      node_clear(n);
      return ld_err(err, LD_EFORMAT, "%s: indexes nested too deep", j->src->name);
    }
    for (size_t i = 0; i < m->n_manifests; i++) {
      const ld_descriptor *d = &m->manifests[i];
      if (!ld_media_type_is_manifest(d->media_type) && !ld_media_type_is_index(d->media_type)) {
        add_blob(j, d); /* an artifact blob listed in an index */
        continue;
      }
      bool seen = false;
      for (size_t k = 0; k < j->n_mfs; k++) seen |= !strcmp(j->mfs[k].m.digest, d->digest);
      if (seen) continue;
      mf_node child;
      if (fetch(j, d->digest, &child, err) < 0 || walk(j, &child, depth + 1, err) < 0) {
        node_clear(n);
        return -1;
      }
    }
  } else {
    add_blob(j, &m->config);
    for (size_t i = 0; i < m->n_layers; i++) add_blob(j, &m->layers[i]);
  }
  add_node(j, n);
  return 0;
}

/* ---- phase 2: blobs ---- */

typedef struct counting_reader {
  ld_reader r;
  ld_reader *inner;
  copy_job *j;
  const ld_descriptor *d;
  uint64_t done;
  slot *slot; /* released at the source's end; NULL: kept until the blob is done */
} counting_reader;

static ssize_t counting_read(ld_reader *r, void *buf, size_t len) {
  counting_reader *c = (counting_reader *) r;
  ssize_t n = ld_reader_read_for(r, c->inner, buf, len);
  if (n < 0) return -1;
  c->done += (uint64_t) n;
  if (n > 0) progress(c->j, "bytes", c->d, c->done);
  /* The sink may stop at the size the descriptor gives, without asking for the end. */
  if (c->slot && (n == 0 || (c->d->size > 0 && c->done >= (uint64_t) c->d->size)))
    slot_release(c->slot);
  return n;
}
static void counting_close(ld_reader *r) {
  counting_reader *c = (counting_reader *) r;
  ld_reader_close(c->inner);
  free(c);
}
static ld_reader *counting_new(ld_reader *inner, copy_job *j, const ld_descriptor *d,
                               slot *early_release) {
  counting_reader *c = ld_xcalloc(1, sizeof *c);
  c->slot = early_release;
  c->r.read = counting_read;
  c->r.close = counting_close;
  c->inner = inner;
  c->j = j;
  c->d = d;
  return &c->r;
}

static const char *target_media_type(const char *src_mt, ld_compression c) {
  bool docker = ld_str_has_prefix(src_mt, "application/vnd.docker.");
  if (c == LD_COMP_GZIP) return docker ? LD_MT_DOCKER_LAYER : LD_MT_OCI_LAYER_GZIP;
  return LD_MT_OCI_LAYER_ZSTD;
}

/* Recompresses into a temp file (hashing as it writes), then sends the file. */
static int put_recompressed(copy_job *j, blob_task *t, ld_reader *src, ld_error **err) {
  ld_compression from = ld_compression_from_media_type(t->d.media_type);
  ld_reader *plain = ld_decompressor_new(src, from == LD_COMP_UNKNOWN ? LD_COMP_NONE : from);
  ld_reader *comp = ld_compressor_new(plain, (ld_compression) j->o->compress);
  ld_reader *h = ld_verifier_new(comp, true, NULL, -1, "recompressed layer");
  const char *tmpdir = getenv("TMPDIR");
  char *path = ld_xasprintf("%s/lading-recompress.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/var/tmp");
  int fd = mkstemp(path);
  int rc = -1;
  if (fd < 0) {
    ld_err_sys(err, errno, "%s", path);
    goto out;
  }
  unlink(path);
  if (ld_reader_copy_to_fd(h, fd, NULL, err) < 0) {
    ld_error_wrap(err, "recompress %s", t->d.digest);
    goto out;
  }
  ld_descriptor_clear(&t->out);
  ld_descriptor_copy(&t->out, &t->d);
  t->out.annotations = NULL;
  free(t->out.digest);
  free(t->out.media_type);
  t->out.digest = ld_xstrdup(ld_verifier_digest(h));
  t->out.size = (int64_t) ld_verifier_size(h);
  t->out.media_type = ld_xstrdup(target_media_type(t->d.media_type, (ld_compression) j->o->compress));
  bool has = false;
  if (j->dst->has_blob(j->dst, &t->out, &has, err) < 0) goto out;
  if (!has) {
    lseek(fd, 0, SEEK_SET);
    ld_reader *fr = ld_reader_from_fd(fd, false);
    rc = j->dst->put_blob(j->dst, &t->out, fr, err);
    ld_reader_close(fr);
    if (rc < 0) goto out;
  }
  rc = 0;
out:
  if (fd >= 0) close(fd);
  free(path);
  ld_reader_close(h);
  return rc;
}

static bool worth_retry(const ld_error *e) {
  return e && e->code != LD_EDIGEST && e->code != LD_ENOTFOUND && e->code != EACCES &&
         e->code != LD_EUSAGE && e->code != LD_EFORMAT && e->code != LD_EUNSUPPORTED &&
         e->code != ENOSPC && e->code != EFBIG;
}

static int transfer_once(copy_job *j, blob_task *t, slot *sl, ld_error **err) {
  ld_reader *r;
  /* The destination verifies what it stores (put_blob's contract), so a source that can skip
   * its own check does: the bytes are hashed once on the way. Recompression reads the source
   * through a decompressor instead, so there the source must check. */
  int rc0 = !t->recompress && j->src->open_blob_unverified
                ? j->src->open_blob_unverified(j->src, &t->d, &r, err)
                : j->src->open_blob(j->src, &t->d, &r, err);
  if (rc0 < 0) return -1;
  progress(j, "start", &t->d, 0);
  /* Recompression sends a temp file after the source ends: that upload keeps the slot. */
  ld_reader *c = counting_new(r, j, &t->d, t->recompress ? NULL : sl);
  int rc;
  if (t->recompress) {
    rc = put_recompressed(j, t, c, err); /* owns c */
  } else {
    rc = j->dst->put_blob(j->dst, &t->d, c, err);
    ld_reader_close(c);
  }
  return rc;
}

/* Cross-repository mount from origin, when the destination supports it; a refusal or an error
 * only means the blob is copied instead. */
static bool try_mount(copy_job *j, blob_task *t, const char *origin) {
  if (!origin || !j->dst->mount_blob) return false;
  if (j->dst->origin && !strcmp(origin, j->dst->origin)) return false;
  bool mounted = false;
  ld_error *e = NULL;
  if (j->dst->mount_blob(j->dst, &t->d, origin, &mounted, &e) < 0) {
    ld_debug("mount of %s from %s failed: %s", t->d.digest, origin, e ? e->msg : "?");
    ld_error_free(e);
    return false;
  }
  return mounted;
}

static void remember(copy_job *j, blob_task *t) {
  if (j->o && j->o->record_location && j->dst->origin)
    j->o->record_location(j->o->location_arg, t->out.digest ? t->out.digest : t->d.digest,
                          j->dst->origin);
}

static int copy_one(copy_job *j, blob_task *t, slot *sl, ld_error **err) {
  ld_descriptor_copy(&t->out, &t->d);
  t->out.annotations = NULL;
  if (!t->recompress) {
    bool has = false;
    if (j->dst->has_blob(j->dst, &t->d, &has, err) < 0) return -1;
    if (has) {
      atomic_fetch_add(&j->skipped, 1);
      progress(j, "skip", &t->d, 0);
      remember(j, t);
      return 0;
    }
    const char *elsewhere = j->o && j->o->known_location
                                ? j->o->known_location(j->o->location_arg, t->d.digest)
                                : NULL;
    if (try_mount(j, t, j->src->origin) || try_mount(j, t, elsewhere)) {
      atomic_fetch_add(&j->mounted, 1);
      progress(j, "mount", &t->d, 0);
      remember(j, t);
      return 0;
    }
  }
  int retries = j->o && j->o->retries ? (j->o->retries < 0 ? 0 : j->o->retries) : 3;
  for (int attempt = 0;; attempt++) {
    ld_error *e = NULL;
    slot_acquire(sl);
    if (transfer_once(j, t, sl, &e) == 0) break;
    if (attempt >= retries || !worth_retry(e)) {
      if (err && !*err) *err = e;
      else ld_error_free(e);
      return -1;
    }
    int64_t ms = 500LL << (attempt > 4 ? 4 : attempt);
    ld_info("%s: blob %s: %s; retrying in %lld ms", j->src->name, t->d.digest, e->msg,
            (long long) ms);
    ld_error_free(e);
    progress(j, "retry", &t->d, 0);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  remember(j, t);
  atomic_fetch_add(&j->copied, 1);
  atomic_fetch_add(&j->bytes, (uint64_t) (t->out.size > 0 ? t->out.size : 0));
  progress(j, "done", &t->d, (uint64_t) (t->d.size > 0 ? t->d.size : 0));
  return 0;
}

static void *worker(void *arg) {
  copy_job *j = arg;
  for (;;) {
    pthread_mutex_lock(&j->mu);
    while (j->free_slots == 0 && !j->first_err && j->next < j->n_tasks)
      pthread_cond_wait(&j->slot_free, &j->mu);
    bool stop = j->first_err != NULL || j->next >= j->n_tasks;
    blob_task *t = stop ? NULL : &j->tasks[j->next++];
    if (t) j->free_slots--;
    if (j->next >= j->n_tasks) pthread_cond_broadcast(&j->slot_free); /* idle threads leave */
    pthread_mutex_unlock(&j->mu);
    if (!t) return NULL;
    slot sl = {j, true};
    ld_error *e = NULL;
    int rc = copy_one(j, t, &sl, &e);
    slot_release(&sl);
    if (rc < 0) {
      pthread_mutex_lock(&j->mu);
      if (!j->first_err) j->first_err = e;
      else ld_error_free(e);
      pthread_cond_broadcast(&j->slot_free); /* waiting workers stop */
      pthread_mutex_unlock(&j->mu);
    }
  }
}

static int copy_blobs(copy_job *j, ld_error **err) {
  int jobs = j->o && j->o->jobs > 0 ? j->o->jobs : 4;
  if (jobs > 32) jobs = 32;
  j->free_slots = jobs;
  size_t threads = (size_t) jobs * 2;
  if (threads > 32) threads = 32;
  if (threads > j->n_tasks) threads = j->n_tasks;
  pthread_t th[32];
  size_t started = 0;
  for (size_t i = 1; i < threads; i++)
    if (pthread_create(&th[started], NULL, worker, j) == 0) started++;
  worker(j); /* the calling thread works too */
  for (size_t i = 0; i < started; i++) pthread_join(th[i], NULL);
  if (j->first_err) {
    if (err && !*err) *err = j->first_err;
    else ld_error_free(j->first_err);
    j->first_err = NULL;
    return -1;
  }
  return 0;
}

/* ---- phase 3: manifests ---- */

static const ld_descriptor *replacement(copy_job *j, const char *digest) {
  for (size_t i = 0; i < j->n_tasks; i++)
    if (!strcmp(j->tasks[i].d.digest, digest) && strcmp(j->tasks[i].out.digest, digest))
      return &j->tasks[i].out;
  return NULL;
}

static bool patch_array(copy_job *j, json_t *arr, mf_node *upto) {
  bool changed = false;
  size_t i;
  json_t *e;
  json_array_foreach(arr, i, e) {
    const char *dg = ld_json_str(e, "digest");
    if (!dg) continue;
    const ld_descriptor *rep = replacement(j, dg);
    /* children rewritten before us carry their new digest in their node */
    const mf_node *child = NULL;
    for (mf_node *n = j->mfs; n < upto && !rep; n++)
      if (!strcmp(n->m.digest, dg)) child = n;
    if (rep) {
      json_object_set_new(e, "digest", json_string(rep->digest));
      json_object_set_new(e, "size", json_integer(rep->size));
      json_object_set_new(e, "mediaType", json_string(rep->media_type));
      changed = true;
    } else if (child && child->rewritten) {
      char nd[LD_DIGEST_MAX];
      ld_digest_buf(LD_SHA256, child->bytes, child->len, nd);
      json_object_set_new(e, "digest", json_string(nd));
      json_object_set_new(e, "size", json_integer((json_int_t) child->len));
      changed = true;
    }
  }
  return changed;
}

/* With --compress: rewrite manifests whose layers (or children) changed. n->bytes becomes the
 * new document while n->m keeps the original (its digest is what parents list). */
static void rewrite_manifests(copy_job *j) {
  for (size_t k = 0; k < j->n_mfs; k++) {
    mf_node *n = &j->mfs[k];
    json_t *root = json_deep_copy(n->m.root);
    bool changed = patch_array(j, json_object_get(root, n->m.kind == LD_KIND_INDEX ? "manifests" : "layers"), n);
    if (changed) {
      char *doc = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
      free(n->bytes);
      n->bytes = doc;
      n->len = strlen(doc);
      n->rewritten = true;
    }
    json_decref(root);
  }
}

static int put_manifests(copy_job *j, ld_descriptor *top, char top_digest[LD_DIGEST_MAX],
                         ld_error **err) {
  for (size_t k = 0; k < j->n_mfs; k++) {
    mf_node *n = &j->mfs[k];
    char d[LD_DIGEST_MAX];
    ld_digest_buf(LD_SHA256, n->bytes, n->len, d);
    if (j->dst->put_manifest(j->dst, n->bytes, n->len, n->mt, d, err) < 0) return -1;
    j->res->manifests++;
    ld_descriptor md = {.media_type = n->mt, .digest = d, .size = (int64_t) n->len};
    progress(j, "manifest", &md, n->len);
  }
  mf_node *last = &j->mfs[j->n_mfs - 1];
  ld_digest_buf(LD_SHA256, last->bytes, last->len, top_digest);
  top->media_type = last->mt;
  top->digest = top_digest;
  top->size = (int64_t) last->len;
  return 0;
}

/* Narrows an index to the one platform asked for, or that a single-image destination holds. */
static int select_platform(copy_job *j, mf_node *top, ld_error **err) {
  const ld_platform *want = j->o ? j->o->platform : NULL;
  while (top->m.kind == LD_KIND_INDEX && (want || j->dst->single_image_only)) {
    const ld_descriptor *pick = NULL;
    size_t images = 0;
    for (size_t i = 0; i < top->m.n_manifests; i++)
      if (ld_media_type_is_manifest(top->m.manifests[i].media_type)) {
        images++;
        if (!pick) pick = &top->m.manifests[i];
      }
    if ((want || images != 1) && ld_index_select(&top->m, want, &pick, err) < 0) return -1;
    char *digest = ld_xstrdup(pick->digest);
    node_clear(top);
    int rc = fetch(j, digest, top, err);
    free(digest);
    if (rc < 0) return -1;
  }
  return 0;
}

static void job_clear(copy_job *j) {
  for (size_t i = 0; i < j->n_tasks; i++) {
    ld_descriptor_clear(&j->tasks[i].d);
    ld_descriptor_clear(&j->tasks[i].out);
  }
  free(j->tasks);
  for (size_t i = 0; i < j->n_mfs; i++) node_clear(&j->mfs[i]);
  free(j->mfs);
  pthread_mutex_destroy(&j->mu);
  pthread_cond_destroy(&j->slot_free);
}

int ld_copy(ld_image_src *src, ld_image_dst *dst, const ld_copy_opts *o, ld_copy_result *res,
            ld_error **err) {
  ld_copy_result local;
  if (!res) res = &local;
  memset(res, 0, sizeof *res);
  copy_job j = {.src = src, .dst = dst, .o = o, .res = res};
  pthread_mutex_init(&j.mu, NULL);
  pthread_cond_init(&j.slot_free, NULL);
  mf_node top;
  int rc = -1;
  if (fetch(&j, NULL, &top, err) < 0) goto out;
  if (select_platform(&j, &top, err) < 0) {
    node_clear(&top);
    goto out;
  }
  if (walk(&j, &top, 0, err) < 0) goto out;
  for (size_t i = 0; i < j.n_tasks; i++) progress(&j, "queued", &j.tasks[i].d, 0);
  if (copy_blobs(&j, err) < 0) goto out;
  if (o && o->compress) rewrite_manifests(&j);
  ld_descriptor desc = {0};
  char top_digest[LD_DIGEST_MAX];
  if (put_manifests(&j, &desc, top_digest, err) < 0) goto out;
  if (dst->commit(dst, &desc, err) < 0) goto out;
  snprintf(res->digest, sizeof res->digest, "%s", top_digest);
  rc = 0;
out:
  res->blobs_copied = atomic_load(&j.copied);
  res->blobs_skipped = atomic_load(&j.skipped);
  res->blobs_mounted = atomic_load(&j.mounted);
  res->bytes_copied = atomic_load(&j.bytes);
  job_clear(&j);
  if (rc < 0) ld_error_wrap(err, "copy %s to %s", src->name, dst->name);
  return rc;
}
