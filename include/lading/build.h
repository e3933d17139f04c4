/* Building images from Dockerfiles: the parser, .dockerignore, variable expansion, lint, and the
 * executor behind `lading build`.
 *
 * The parser turns a Dockerfile into instructions that keep their source position (file, line,
 * column) so every later error or lint finding can point at the line that caused it. It follows
 * BuildKit's frontend: parser directives (# syntax, # escape) at the very top, the escape
 * character for line continuations, comment lines inside continuations skipped, here-documents
 * for RUN/COPY/ADD, exec (JSON) and shell forms, `--flag=value` options before the arguments.
 * Variable substitution is NOT done by the parser: it depends on the ARG/ENV state of the stage at
 * the time the instruction runs, so the executor calls ld_df_expand() with that state.
 *
 * The executor (ld_build) runs stages in order, each instruction producing either a config
 * change or a layer; see lib/build/executor.c for the cache, the overlay and the sandbox.
 */
#ifndef LADING_BUILD_H
#define LADING_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lading/error.h"
#include "lading/store.h"

typedef enum {
  LD_DF_FROM = 1, LD_DF_RUN, LD_DF_COPY, LD_DF_ADD, LD_DF_ENV, LD_DF_ARG, LD_DF_LABEL,
  LD_DF_USER, LD_DF_WORKDIR, LD_DF_EXPOSE, LD_DF_ENTRYPOINT, LD_DF_CMD, LD_DF_VOLUME,
  LD_DF_STOPSIGNAL, LD_DF_HEALTHCHECK, LD_DF_SHELL, LD_DF_ONBUILD, LD_DF_MAINTAINER,
} ld_df_cmd;

typedef struct ld_df_kv {
  char *key;
  char *value; /* raw (quotes kept, not expanded); NULL for an ARG without default */
} ld_df_kv;

typedef struct ld_df_heredoc {
  char *name;
  char *content;   /* lines between the marker line and the terminator, each ending in \n */
  bool expand;     /* unquoted marker: variables expand in the content */
  bool strip_tabs; /* <<-EOF */
} ld_df_heredoc;

typedef struct ld_df_instr {
  ld_df_cmd cmd;
  const char *keyword;  /* canonical upper case: "RUN" */
  int line, column;     /* where the keyword is (1-based) */
  int end_line;         /* last line of the instruction (continuations, heredocs) */
  char *original;       /* "RUN apt-get update && ..." joined onto one line, for history */
  char *rest;           /* the text after the keyword and the flags */
  ld_df_kv *flags;      /* "--from=x" → {"from","x"}; "--link" → {"link","true"} */
  size_t n_flags;
  bool exec_form;       /* arguments were a JSON array */
  char **args;          /* exec form: the JSON strings; otherwise the words of rest (raw) */
  size_t n_args;
  ld_df_kv *kvs;        /* ENV, LABEL, ARG: the pairs */
  size_t n_kvs;
  ld_df_heredoc *heredocs;
  size_t n_heredocs;
  struct ld_df_instr *trigger; /* ONBUILD: the instruction it carries */
} ld_df_instr;

typedef struct ld_df_stage {
  char *name;          /* AS name (lower case), or NULL */
  size_t first, count; /* instructions [first, first+count) of the file, FROM included */
} ld_df_stage;

typedef struct ld_dockerfile {
  char *path;
  char escape;          /* '\\' or '`' */
  char *syntax;         /* # syntax= value or NULL */
  ld_df_instr *instrs;
  size_t n_instrs;
  size_t n_meta_args;   /* the first n instructions are ARGs before the first FROM */
  ld_df_stage *stages;
  size_t n_stages;
} ld_dockerfile;

/* Parses a whole Dockerfile. Errors read "PATH:LINE:COL: reason". */
int ld_dockerfile_parse(const char *buf, size_t len, const char *path, ld_dockerfile **out,
                        ld_error **err);
int ld_dockerfile_load(const char *path, ld_dockerfile **out, ld_error **err);
void ld_dockerfile_free(ld_dockerfile *df);
/* The value of a flag ("from"), or NULL. */
const char *ld_df_flag(const ld_df_instr *in, const char *name);
/* Index of the stage named (or numbered) ref, -1 if none. */
int ld_df_stage_index(const ld_dockerfile *df, const char *ref);

/* Variable expansion with BuildKit's shell-word rules: '…' literal, "…" with $ expansion, the
 * escape character, $V ${V} ${V:-w} ${V-w} ${V:+w} ${V+w} ${V:?msg}. Quotes are removed.
 * lookup returns the value or NULL if unset. */
typedef const char *(*ld_df_lookup)(void *arg, const char *name);
int ld_df_expand(const char *word, char escape, ld_df_lookup lookup, void *arg, char **out,
                 ld_error **err);
/* The same for a COPY/ADD here-document's content: quotes are ordinary characters (kept, and
 * they do not stop expansion); variables and the escape character work as above. */
int ld_df_expand_heredoc(const char *text, char escape, ld_df_lookup lookup, void *arg, char **out,
                         ld_error **err);
/* Splits text into whitespace-separated words, keeping quotes (and escapes) inside the words. */
int ld_df_split_words(const char *text, char escape, char ***words, size_t *n, ld_error **err);
void ld_strv_free(char **v, size_t n);

/* .dockerignore: patterns in order; a later match wins; "!" re-includes; "**" matches any number
 * of directories. Paths are relative to the context, cleaned ("a/b"). */
typedef struct ld_ignore ld_ignore;
int ld_ignore_parse(const char *buf, size_t len, ld_ignore **out, ld_error **err);
int ld_ignore_load(const char *context_dir, ld_ignore **out, ld_error **err); /* none: empty */
/* As BuildKit: DOCKERFILE.dockerignore (beside the Dockerfile) when it exists, else the context's. */
int ld_ignore_load_for(const char *context_dir, const char *dockerfile, ld_ignore **out, ld_error **err);
bool ld_ignore_match(const ld_ignore *ig, const char *path);
/* True when some "!" pattern could re-include something below dir (so it must be walked). */
bool ld_ignore_may_reinclude(const ld_ignore *ig, const char *dir);
/* Number of patterns (0: nothing is excluded). */
size_t ld_ignore_count(const ld_ignore *ig);
void ld_ignore_free(ld_ignore *ig);

/* Lint: hadolint's size and tag rules. */
typedef enum { LD_LINT_ERROR = 0, LD_LINT_WARNING, LD_LINT_INFO, LD_LINT_STYLE, LD_LINT_NONE } ld_lint_level;
typedef struct ld_lint_finding {
  const char *code;    /* "DL3009" */
  ld_lint_level level;
  int line, column;
  const char *message; /* hadolint's wording */
} ld_lint_finding;
int ld_lint(const ld_dockerfile *df, ld_lint_finding **out, size_t *n, ld_error **err);
const char *ld_lint_level_name(ld_lint_level l);
int ld_lint_level_parse(const char *s, ld_lint_level *out);

/* The build. */
typedef struct ld_build_opts {
  const char *context_dir;
  const char *dockerfile;   /* path; NULL: CONTEXT/Dockerfile, else CONTEXT/Containerfile */
  const char **tags;        /* names to tag the result with */
  size_t n_tags;
  const char *target;       /* stage name; NULL: the last */
  const char **build_args;  /* "K=V" or "K" (from the environment) */
  size_t n_build_args;
  const char **labels;      /* "K=V" */
  size_t n_labels;
  bool no_cache;
  bool squash;
  bool network_none;
  const char **secrets;     /* "id=NAME,src=FILE" or "id=NAME,env=VAR" for RUN --mount=type=secret */
  size_t n_secrets;
  const char **ssh;         /* "default" or "ID=SOCKET" for RUN --mount=type=ssh */
  size_t n_ssh;
  bool quiet;
  int64_t timestamp;        /* -1: not set */
  const char *platform;     /* only the host's is supported */
  const char *iidfile;      /* write the image digest here */
} ld_build_opts;

typedef struct ld_build_waste {
  int line;                 /* Dockerfile line of the step that left it */
  char *instruction;        /* its text, shortened */
  char *path;               /* /var/lib/apt/lists */
  uint64_t bytes;
  const char *fix;
} ld_build_waste;

typedef struct ld_build_result {
  char digest[LD_DIGEST_MAX];        /* manifest */
  char config_digest[LD_DIGEST_MAX];
  size_t n_layers;
  uint64_t layers_bytes;              /* compressed */
  size_t steps, cached;
  ld_build_waste *waste;
  size_t n_waste;
} ld_build_result;

int ld_build(ld_store *store, const ld_build_opts *o, ld_build_result *res, ld_error **err);
void ld_build_result_clear(ld_build_result *r);

#endif
