/* Private interfaces between the parts of lib/build (sandbox, context copy, executor). */
#ifndef LADING_BUILD_INTERNAL_H
#define LADING_BUILD_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include "lading/build.h"
#include "lading/digest.h"
#include "lading/error.h"
#include "lading/util.h"

/* An overlay: lower directories (top first), the upper (may be NULL: read-only) and its work dir. */
typedef struct bx_overlay {
  const char **lower;
  size_t n_lower;
  const char *upper, *work;
  const char *empty; /* an empty directory, the bottom lower when there are fewer than two */
} bx_overlay;

/* Mounts ov at target (in the calling process's mount namespace). */
int bx_mount_overlay(const bx_overlay *ov, const char *target, ld_error **err);

/* One RUN --mount. bx_mount_parse fills the options as written; the executor then resolves
 * where the content comes from (the fields after "resolved"), and the sandbox mounts it. */
typedef enum { BX_MOUNT_BIND = 1, BX_MOUNT_CACHE, BX_MOUNT_TMPFS, BX_MOUNT_SECRET, BX_MOUNT_SSH } bx_mount_type;
typedef enum { BX_SHARING_SHARED = 0, BX_SHARING_PRIVATE, BX_SHARING_LOCKED } bx_sharing;

typedef struct bx_mount {
  bx_mount_type type;
  char *target;        /* as written (expanded); absolute once resolved */
  char *source;        /* bind/cache: path inside the source; NULL: its root */
  char *from;          /* bind/cache: stage or image; NULL: the context (bind), empty (cache) */
  char *id;            /* cache, secret, ssh */
  char *env;           /* secret: also (or only) expose it as this environment variable */
  bool readonly;       /* bind: true unless rw; cache: false unless ro */
  bool required;       /* secret, ssh */
  bx_sharing sharing;  /* cache */
  long mode, uid, gid; /* cache, secret, ssh; -1: the default */
  uint64_t size;       /* tmpfs; 0: the kernel's default */
  /* resolved */
  char *root;          /* host directory the source path is taken from (context, cache dir...) */
  const char **lower;  /* or: a stage's layers (top first), mounted as an overlay at ov_mnt */
  size_t n_lower;
  char *ov_mnt, *ov_upper, *ov_work; /* upper/work: writes of a rw bind, discarded */
  char *data;          /* secret: its content (read by the builder, written only to a tmpfs) */
  size_t data_len;
  char *file;          /* ssh: the agent socket */
  bool skip;           /* an optional secret or ssh socket that was not given */
  int lock_fd;         /* cache with sharing=locked/private: the flock held during the RUN */
} bx_mount;

/* Parses "type=cache,target=/root/.cache,sharing=locked" (already variable-expanded). */
int bx_mount_parse(const char *spec, bx_mount *m, ld_error **err);
/* The options that make the RUN's result differ, for its cache key (never secret contents). */
void bx_mount_describe(const bx_mount *m, ld_buf *out);
void bx_mount_clear(bx_mount *m);
/* "64m", "1g", "4096": tmpfs sizes, binary units as BuildKit reads them. */
int bx_parse_ram_size(const char *s, uint64_t *out);

/* Runs fn in a child process with a private mount namespace (mounts vanish with it). The child's
 * error message travels back through a pipe. */
typedef int (*bx_child_fn)(void *arg, ld_error **err);
int bx_in_mount_ns(bx_child_fn fn, void *arg, ld_error **err);

typedef struct bx_run {
  bx_overlay ov;
  const char *mnt;        /* where to mount the overlay */
  char **argv;
  char **env;             /* NULL-terminated "K=V" */
  const char *user;       /* "name[:group]" or "uid[:gid]"; NULL/"" root */
  const char *workdir;    /* absolute */
  bool network_none;
  bx_mount *mounts;       /* RUN --mount, in order */
  size_t n_mounts;
  const char *secrets_dir; /* an empty host directory: a tmpfs there holds the secrets */
  int litter_fd;          /* the sandbox writes the mount points it had to create here */
  const char *hosts_file, *resolv_file; /* bound over /etc/hosts, /etc/resolv.conf */
  bool quiet;             /* do not stream output */
  char tail[2048];        /* last output, for errors */
  int exit_code;          /* of the command; 125 when the sandbox itself failed */
} bx_run;

/* Runs r->argv in the sandbox; 0 when it ran (whatever its exit code), -1 on setup failure. */
int bx_sandbox_run(bx_run *r, ld_error **err);
/* Removes the mount points a run created in the upper directory (empty /proc, /etc/hosts...). */
void bx_clean_litter(const char *upper);
/* Removes from upper the mount points listed in litter (one path a line, as the sandbox made
 * them) when still empty, and the parents they made the overlay copy up, when otherwise unchanged
 * against the lower layers (top first). */
void bx_clean_mount_points(const char *upper, const char *const *lower, size_t n_lower, const char *litter);

/* mkdir -p of path (relative to rootfd, inside it), returns an fd of the directory. */
int bx_mkdir_in_root(int rootfd, const char *path, mode_t mode, ld_error **err);

/* COPY/ADD sources. */
typedef struct bx_copy {
  const char *src_root;     /* context dir or a stage's mounted root */
  const ld_ignore *ignore;  /* only for the context */
  char **srcs;              /* expanded, relative to src_root */
  size_t n_srcs;
  const char *dest;         /* absolute, expanded */
  bool dest_is_dir;         /* ends with / or several sources */
  long uid, gid;            /* -1: 0 */
  const char *chown_names;  /* --chown=user[:group] by name: resolved in the destination root */
  int chmod;                /* -1: keep */
  const char *chmod_sym;    /* --chmod=u=rwX,go=rX: applied to each entry's own mode */
  bool extract_archives;    /* ADD */
  const char *what;         /* "Dockerfile:7 COPY" */
  const ld_ignore *exclude; /* --exclude patterns, matched below each source (a file: its name) */
  bool parents;             /* --parents: keep each source's path (below a "/./" pivot) */
  const char *top;          /* set while walking one source: the source's path */
  bool keep_owner;          /* owners as in the source (seeding a cache mount), not 0:0 */
} bx_copy;

/* Applies a symbolic chmod ("u+x", "u=rwX,go=rX", "g=u", "a-w") to mode, as chmod(1) does
 * with no umask; 0 or -1 when spec is malformed. */
int bx_chmod_symbolic(const char *spec, mode_t mode, bool is_dir, mode_t *out);

/* Content digest of the sources (names, modes, sizes, contents, link targets). */
int bx_copy_digest(const bx_copy *c, char out[LD_DIGEST_MAX], ld_error **err);
/* WORKDIR: mkdir -p of path in the root; the directories it makes get c's owner (chown_names,
 * resolved in the root, or uid/gid), as BuildKit creates a WORKDIR for the stage's USER. */
int bx_mkdir_owned(const bx_copy *c, int root, const char *path, ld_error **err);
/* Copies into the root at rootfd (the merged overlay). */
int bx_copy_into(const bx_copy *c, int rootfd, ld_error **err);

#endif
