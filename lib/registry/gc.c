/* Registry garbage collection: mark and sweep over the storage (layout in registry.h).
 *
 * Mark: every manifest record of every repository is a root — tagged manifests, untagged ones
 * pushed by digest, and referrers (signatures, SBOMs) alike — and marks itself plus what it
 * references (config and layers, or child manifests). Sweep: every blob not marked and older
 * than the grace period is deleted, then every repository link to a blob that no longer exists.
 *
 * Running beside a server: a push uploads blobs before the manifest naming them, so a young
 * unreferenced blob may be about to be used; the grace period (default 1 h in the CLI) keeps
 * those. With grace 0, gc takes the storage lock exclusively and refuses while a server holds
 * it shared.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lading/fs.h"
#include "lading/manifest.h"
#include "lading/registry.h"
#include "lading/util.h"
#include "registry/storage.h"

typedef struct mark_set {
  char **v;
  size_t n, cap;
} mark_set;

static void mark(mark_set *m, const char *digest) {
  if (m->n + 1 >= m->cap) m->v = ld_xrealloc(m->v, (m->cap = m->cap ? m->cap * 2 : 64) * sizeof *m->v);
  m->v[m->n++] = ld_xstrdup(digest);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool marked(const mark_set *m, const char *digest) {
  return m->n && bsearch(&digest, m->v, m->n, sizeof *m->v, cmp_str) != NULL;
}

static void mark_manifest(const rs_storage *st, const char *digest, mark_set *m,
                          ld_registry_gc_result *res) {
  mark(m, digest);
  res->manifests_marked++;
  ld_autofree char *path = rs_blob_path(st, digest);
  char *raw = NULL;
  size_t len;
  if (ld_read_file(path, LD_MANIFEST_MAX, &raw, &len, NULL) < 0) return;
  ld_manifest man;
  if (ld_manifest_parse(raw, len, NULL, &man, NULL) == 0) {
    const ld_descriptor *blobs[4096];
    size_t n = ld_manifest_blobs(&man, blobs, LD_ARRAY_SIZE(blobs));
    for (size_t i = 0; i < n && i < LD_ARRAY_SIZE(blobs); i++) mark(m, blobs[i]->digest);
    for (size_t i = 0; i < man.n_manifests; i++) mark(m, man.manifests[i].digest);
    ld_manifest_clear(&man);
  }
  free(raw);
}

static void sweep_algo(const rs_storage *st, const char *algo, const mark_set *m,
                       int64_t grace, bool dry_run, ld_registry_gc_result *res) {
  ld_autofree char *dir = ld_xasprintf("%s/blobs/%s", st->root, algo);
  DIR *d = opendir(dir);
  if (!d) return;
  int64_t now = ld_now();
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat sb;
    if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) continue;
    bool temp = e->d_name[0] == '.';
    ld_autofree char *digest = ld_xasprintf("%s:%s", algo, e->d_name);
    if (!temp && marked(m, digest)) continue;
    if (now - (int64_t) sb.st_mtime < grace) {
      if (!temp) res->blobs_kept_young++;
      continue;
    }
    if (!temp) {
      res->blobs_swept++;
      res->bytes_swept += (uint64_t) sb.st_size;
    }
    if (!dry_run) unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
}

static void prune_links(const rs_storage *st, char **repos, bool dry_run,
                        ld_registry_gc_result *res) {
  for (char **r = repos; *r; r++) {
    char **links = rs_repo_digests(st, *r, "_links");
    for (char **l = links; *l; l++) {
      if (rs_blob_size(st, *l) >= 0) continue;
      res->links_removed++;
      if (!dry_run) rs_link_remove(st, *r, *l);
    }
    rs_strv_free(links);
  }
}

int ld_registry_gc(const char *root, int64_t grace, bool dry_run, ld_registry_gc_result *res,
                   ld_error **err) {
  memset(res, 0, sizeof *res);
  ld_autofree char *repos_dir = ld_xasprintf("%s/repos", root);
  if (!ld_path_exists(repos_dir))
    return ld_err(err, ENOENT, "registry root %s: no repos/ directory (not a registry root)",
                  root);
  ld_autofree char *lock = ld_xasprintf("%s/lock", root);
  ld_autoclose int lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (grace <= 0 && !dry_run && lock_fd >= 0 && flock(lock_fd, LOCK_EX | LOCK_NB) < 0)
    return ld_err(err, EBUSY, "registry root %s: a server is running on it; stop it or give "
                  "--grace so that uploads in progress are kept", root);
  rs_storage st = {.root = (char *) root, .lock_fd = -1};
  char **repos = rs_catalog(&st);
  mark_set m = {0};
  for (char **r = repos; *r; r++) {
    char **manifests = rs_repo_digests(&st, *r, "_manifests");
    for (char **d = manifests; *d; d++) mark_manifest(&st, *d, &m, res);
    rs_strv_free(manifests);
  }
  if (m.n) qsort(m.v, m.n, sizeof *m.v, cmp_str);
  size_t uniq = 0;
  for (size_t i = 0; i < m.n; i++) {
    if (uniq && !strcmp(m.v[uniq - 1], m.v[i])) free(m.v[i]);
    else m.v[uniq++] = m.v[i];
  }
  m.n = uniq;
  res->blobs_marked = uniq;
  sweep_algo(&st, "sha256", &m, grace, dry_run, res);
  sweep_algo(&st, "sha512", &m, grace, dry_run, res);
  prune_links(&st, repos, dry_run, res);
  for (size_t i = 0; i < m.n; i++) free(m.v[i]);
  free(m.v);
  rs_strv_free(repos);
  return 0;
}
