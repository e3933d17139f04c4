/* Private interfaces between the parts of lib/build (sandbox, context copy, executor). */
#ifndef LADING_BUILD_INTERNAL_H
#define LADING_BUILD_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include "lading/build.h"
#include "lading/digest.h"
#include "lading/error.h"

/* An overlay: lower directories (top first), the upper (may be NULL: read-only) and its work dir. */
typedef struct bx_overlay {
  const char **lower;
  size_t n_lower;
  const char *upper, *work;
  const char *empty; /* an empty directory, the bottom lower when there are fewer than two */
} bx_overlay;

/* Mounts ov at target (in the calling process's mount namespace). */
int bx_mount_overlay(const bx_overlay *ov, const char *target, ld_error **err);

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
  const char *hosts_file, *resolv_file; /* bound over /etc/hosts, /etc/resolv.conf */
  bool quiet;             /* do not stream output */
  char tail[2048];        /* last output, for errors */
  int exit_code;          /* of the command; 125 when the sandbox itself failed */
} bx_run;

/* Runs r->argv in the sandbox; 0 when it ran (whatever its exit code), -1 on setup failure. */
int bx_sandbox_run(bx_run *r, ld_error **err);
/* Removes the mount points a run created in the upper directory (empty /proc, /etc/hosts...). */
void bx_clean_litter(const char *upper);

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
  bool extract_archives;    /* ADD */
  const char *heredoc_name; /* COPY <<EOF: the file to create with heredoc_content */
  const char *heredoc_content;
  const char *what;         /* "Dockerfile:7 COPY" */
} bx_copy;

/* Content digest of the sources (names, modes, sizes, contents, link targets). */
int bx_copy_digest(const bx_copy *c, char out[LD_DIGEST_MAX], ld_error **err);
/* Copies into the root at rootfd (the merged overlay). */
int bx_copy_into(const bx_copy *c, int rootfd, ld_error **err);

#endif
