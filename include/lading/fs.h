/* File system helpers: atomic writes, directories, safe paths inside a root.
 *
 * Atomic write: data goes to "<dir>/.<name>.tmp-XXXXXX", is fsynced, renamed over the final
 * name, and the directory is fsynced. A crash leaves the old file or the new one, and at most a
 * temp file that gc removes; never a half-written file where a good one is expected.
 *
 * Paths inside a root: ld_path_clean() normalises an archive entry name lexically and rejects
 * "..", which is what layer readers need. For touching the file system under an unpack root,
 * ld_open_in_root() uses openat2(RESOLVE_IN_ROOT) so the kernel, not string games, guarantees
 * that no symlink leads out of the root.
 */
#ifndef LADING_FS_H
#define LADING_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "lading/error.h"

typedef struct ld_atomic_file {
  int fd;
  char *tmp_path;
  char *final_path;
} ld_atomic_file;

/* Opens a temp file beside path for writing. */
int ld_atomic_open(ld_atomic_file *f, const char *path, mode_t mode, ld_error **err);
/* fsync, rename to the final path, fsync the directory; closes and frees. */
int ld_atomic_commit(ld_atomic_file *f, ld_error **err);
/* Closes and unlinks the temp file; safe to call after commit (no-op). */
void ld_atomic_abort(ld_atomic_file *f);
/* One-shot: write buf atomically to path. */
int ld_atomic_write(const char *path, const void *buf, size_t len, mode_t mode, ld_error **err);

int ld_write_all(int fd, const void *buf, size_t len);
int ld_fsync_dir(const char *dir);
int ld_mkdir_p(const char *path, mode_t mode, ld_error **err);
/* rm -rf without following symlinks; ENOENT is not an error. */
int ld_rm_rf(const char *path, ld_error **err);
/* Reads a whole small file (up to max bytes) into a NUL-terminated buffer. */
int ld_read_file(const char *path, size_t max, char **out, size_t *len, ld_error **err);
bool ld_path_exists(const char *path);
char *ld_path_join(const char *a, const char *b);

/* Normalises an archive path: strips leading "./" and "/", collapses "//" and "/./", removes a
 * trailing "/". Returns a new string, "" for the root itself. Fails (EINVAL, naming the path)
 * if any component is "..", or if the path is absolute and !allow_absolute. */
int ld_path_clean(const char *path, bool allow_absolute, char **out, ld_error **err);

/* openat2(dirfd, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): every symlink is resolved as
 * if rootfd were "/", so nothing escapes it. Returns an fd or -1 with err set. */
int ld_open_in_root(int rootfd, const char *path, int flags, mode_t mode, ld_error **err);

/* Bytes free / total on the file system that holds path. */
int ld_fs_usage(const char *path, uint64_t *total, uint64_t *avail, ld_error **err);

#endif
