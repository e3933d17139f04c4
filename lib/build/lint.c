/* lint: hadolint's size and tag rules, with hadolint's IDs, levels and wording.
 *
 * RUN commands are looked at as hadolint does: the shell text is cut into simple commands at
 * `&&`, `||`, `;`, `|`, `&` and newlines; each command is a list of words with quotes removed,
 * leading VAR=value assignments and `sudo` skipped. A rule then asks questions such as "is there
 * an `apt-get install` without `--no-install-recommends`" or "does this RUN remove
 * /var/lib/apt/lists". Stage-aware rules (DL3009) only fire in stages that end up in the final
 * image, as in hadolint 2.x. Findings come out ordered by line, then code.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include "internal.h"
#include "lading/build.h"
#include "lading/util.h"

typedef struct {
  char **w;
  size_t n;
} shcmd;

typedef struct {
  shcmd *c;
  size_t n;
} shscript;

typedef struct {
  ld_lint_finding *f;
  size_t n;
} findings;

static void add(findings *fs, const char *code, ld_lint_level level, const ld_df_instr *in,
                const char *message) {
  fs->f = ld_xrealloc(fs->f, (fs->n + 1) * sizeof *fs->f);
  fs->f[fs->n++] = (ld_lint_finding){code, level, in->line, in->column, message};
}

/* ---- shell ---- */

static void push_word(shcmd *c, ld_buf *w) {
  if (!w->data) return;
  c->w = ld_xrealloc(c->w, (c->n + 1) * sizeof *c->w);
  c->w[c->n++] = ld_buf_steal(w);
}

static void push_cmd(shscript *s, shcmd *c) {
  if (!c->n) return;
  size_t k = 0; /* skip VAR=x and sudo */
  while (k < c->n && (strchr(c->w[k], '=') && isalpha((unsigned char) c->w[k][0]))) k++;
  while (k < c->n && !strcmp(c->w[k], "sudo")) k++;
  if (k) {
    for (size_t i = 0; i < k; i++) free(c->w[i]);
    memmove(c->w, c->w + k, (c->n - k) * sizeof *c->w);
    c->n -= k;
  }
  if (!c->n) { free(c->w); *c = (shcmd){0}; return; }
  s->c = ld_xrealloc(s->c, (s->n + 1) * sizeof *s->c);
  s->c[s->n++] = *c;
  *c = (shcmd){0};
}

static void parse_shell(const char *t, shscript *s) {
  *s = (shscript){0};
  shcmd c = {0};
  ld_buf w = {0};
  char q = 0;
  for (const char *p = t; *p; p++) {
    if (q) {
      if (*p == q) q = 0;
      else ld_buf_append(&w, p, 1);
      continue;
    }
    if (*p == '\'' || *p == '"') { q = *p; ld_buf_append(&w, "", 0); continue; }
    if (*p == '\\' && p[1]) { p++; if (*p != '\n') ld_buf_append(&w, p, 1); continue; }
    if (*p == ' ' || *p == '\t') { push_word(&c, &w); continue; }
    if (strchr(";&|\n()", *p)) { push_word(&c, &w); push_cmd(s, &c); continue; }
    ld_buf_append(&w, p, 1);
  }
  push_word(&c, &w);
  push_cmd(s, &c);
}

static void free_shell(shscript *s) {
  for (size_t i = 0; i < s->n; i++) ld_strv_free(s->c[i].w, s->c[i].n);
  free(s->c);
}

static bool is_cmd(const shcmd *c, const char *name) {
  const char *b = strrchr(c->w[0], '/');
  return !strcmp(b ? b + 1 : c->w[0], name);
}

static bool has_word(const shcmd *c, const char *w) {
  for (size_t i = 1; i < c->n; i++)
    if (!strcmp(c->w[i], w)) return true;
  return false;
}

static bool has_prefix_word(const shcmd *c, const char *w) {
  for (size_t i = 1; i < c->n; i++)
    if (ld_str_has_prefix(c->w[i], w)) return true;
  return false;
}

/* Short option letter given alone or in a bundle ("-yl"). */
static bool has_short(const shcmd *c, char letter) {
  for (size_t i = 1; i < c->n; i++)
    if (c->w[i][0] == '-' && c->w[i][1] != '-' && strchr(c->w[i] + 1, letter)) return true;
  return false;
}

static bool any(const shscript *s, const char *cmd, const char *sub) {
  for (size_t i = 0; i < s->n; i++)
    if (is_cmd(&s->c[i], cmd) && (!sub || has_word(&s->c[i], sub))) return true;
  return false;
}

static bool removes(const shscript *s, const char *prefix) {
  for (size_t i = 0; i < s->n; i++)
    if (is_cmd(&s->c[i], "rm") && has_prefix_word(&s->c[i], prefix)) return true;
  return false;
}

/* ---- rules on one RUN ---- */

static bool pip_cmd(const shcmd *c) {
  if (is_cmd(c, "pip") || is_cmd(c, "pip3") || is_cmd(c, "pip2")) return has_word(c, "install");
  if ((is_cmd(c, "python") || is_cmd(c, "python3")) && has_word(c, "-m") &&
      (has_word(c, "pip") || has_word(c, "pip3")))
    return has_word(c, "install");
  return false;
}

/* A RUN --mount=type=cache (or tmpfs, when tmpfs_too) at path or above it: hadolint (2.14) then
 * knows the cache never reaches the layer. dir NULL: any cache mount. */
static bool cache_mounted(const ld_df_instr *in, const char *dir, bool tmpfs_too) {
  for (size_t i = 0; i < in->n_flags; i++) {
    if (strcmp(in->flags[i].key, "mount")) continue;
    bx_mount m;
    if (bx_mount_parse(in->flags[i].value, &m, NULL) < 0) continue;
    bool kind = m.type == BX_MOUNT_CACHE || (tmpfs_too && m.type == BX_MOUNT_TMPFS);
    size_t n = m.target ? strlen(m.target) : 0;
    while (n > 1 && m.target[n - 1] == '/') n--;
    bool covers = kind && (!dir || (n && !strncmp(dir, m.target, n) && (dir[n] == 0 || dir[n] == '/')));
    bx_mount_clear(&m);
    if (covers) return true;
  }
  return false;
}

static void run_rules(const ld_df_instr *in, const shscript *s, bool in_final, bool pip_env,
                      findings *fs) {
  if (in_final && any(s, "apt-get", "update") && !removes(s, "/var/lib/apt/lists") &&
      !cache_mounted(in, "/var/lib/apt/lists", true))
    add(fs, "DL3009", LD_LINT_INFO, in, "Delete the apt-get lists after installing something");
  for (size_t i = 0; i < s->n; i++) {
    const shcmd *c = &s->c[i];
    if (is_cmd(c, "apt-get") && has_word(c, "install") && !has_word(c, "--no-install-recommends") &&
        !has_prefix_word(c, "APT::Install-Recommends=false"))
      add(fs, "DL3015", LD_LINT_INFO, in, "Avoid additional packages by specifying `--no-install-recommends`");
    if (is_cmd(c, "apk") && has_word(c, "add") && !has_word(c, "--no-cache") && !cache_mounted(in, "/var/cache/apk", false))
      add(fs, "DL3019", LD_LINT_INFO, in,
          "Use the `--no-cache` switch to avoid the need to use `--update` and remove "
          "`/var/cache/apk/*` when done installing packages");
    if (pip_cmd(c) && !has_word(c, "--no-cache-dir") && !pip_env)
      add(fs, "DL3042", LD_LINT_WARNING, in,
          "Avoid use of cache directory with pip. Use `pip install --no-cache-dir <package>`");
    if (is_cmd(c, "useradd") && !has_short(c, 'l') && !has_word(c, "--no-log-init")) {
      for (size_t k = 1; k + 1 < c->n; k++)
        if ((!strcmp(c->w[k], "-u") || !strcmp(c->w[k], "--uid")) && strlen(c->w[k + 1]) > 5)
          add(fs, "DL3046", LD_LINT_WARNING, in,
              "`useradd` without flag `-l` and high UID will result in excessively large Image.");
    }
  }
  if (any(s, "yum", "install") && !(any(s, "yum", "clean") && any(s, "yum", "all")))
    add(fs, "DL3032", LD_LINT_WARNING, in, "`yum clean all` missing after yum command.");
  if ((any(s, "zypper", "install") || any(s, "zypper", "in")) &&
      !(any(s, "zypper", "clean") || any(s, "zypper", "cc")))
    add(fs, "DL3036", LD_LINT_WARNING, in, "`zypper clean` missing after zypper use.");
  if ((any(s, "dnf", "install") || any(s, "microdnf", "install")) &&
      !((any(s, "dnf", "clean") || any(s, "microdnf", "clean")) && (any(s, "dnf", "all") || any(s, "microdnf", "all"))))
    add(fs, "DL3040", LD_LINT_WARNING, in, "`dnf clean all` missing after dnf command.");
  bool yarn_install = false, yarn_clean = false;
  for (size_t i = 0; i < s->n; i++) {
    if (!is_cmd(&s->c[i], "yarn")) continue;
    if (s->c[i].n == 1 || has_word(&s->c[i], "install")) yarn_install = true;
    if (has_word(&s->c[i], "cache") && has_word(&s->c[i], "clean")) yarn_clean = true;
  }
  if (yarn_install && !yarn_clean && !cache_mounted(in, NULL, false))
    add(fs, "DL3060", LD_LINT_INFO, in, "`yarn cache clean` missing after `yarn install` was run.");
}

/* ---- FROM, COPY, ADD ---- */

static bool is_archive(const char *p) {
  static const char *ext[] = {".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz",
                              ".tar.zst", ".gz", ".bz2", ".xz", ".zip", ".tb2", ".tz2", ".lzma", ".tlz"};
  for (size_t i = 0; i < LD_ARRAY_SIZE(ext); i++)
    if (ld_str_has_suffix(p, ext[i])) return true;
  return false;
}

static bool is_url(const char *p) {
  return ld_str_has_prefix(p, "http://") || ld_str_has_prefix(p, "https://") ||
         ld_str_has_prefix(p, "git@") || ld_str_has_prefix(p, "git://");
}

static void from_rules(const ld_dockerfile *df, size_t stage, const ld_df_instr *in, findings *fs) {
  const char *image = in->args[0];
  if (!strcasecmp(image, "scratch") || strchr(image, '$')) return;
  for (size_t s = 0; s < stage; s++)
    if (df->stages[s].name && !strcasecmp(df->stages[s].name, image)) return;
  if (strchr(image, '@')) return;
  const char *slash = strrchr(image, '/');
  const char *colon = strrchr(slash ? slash : image, ':');
  if (!colon)
    add(fs, "DL3006", LD_LINT_WARNING, in, "Always tag the version of an image explicitly");
  else if (!strcmp(colon + 1, "latest"))
    add(fs, "DL3007", LD_LINT_WARNING, in,
        "Using latest is prone to errors if the image will ever update. Pin the version explicitly "
        "to a release tag");
}

static void add_rules(const ld_df_instr *in, findings *fs) {
  if (in->n_heredocs) return;
  for (size_t i = 0; i + 1 < in->n_args; i++)
    if (!is_url(in->args[i]) && !is_archive(in->args[i])) {
      add(fs, "DL3020", LD_LINT_ERROR, in, "Use COPY instead of ADD for files and folders");
      return;
    }
}

/* DL3010: an archive COPYed and then unpacked by a RUN of the same stage. */
static void copy_archive_rule(const ld_dockerfile *df, const ld_df_stage *st, size_t k, findings *fs) {
  const ld_df_instr *in = &df->instrs[k];
  for (size_t i = 0; i + 1 < in->n_args; i++) {
    if (!is_archive(in->args[i])) continue;
    const char *base = strrchr(in->args[i], '/');
    base = base ? base + 1 : in->args[i];
    for (size_t j = k + 1; j < st->first + st->count; j++) {
      const ld_df_instr *r = &df->instrs[j];
      if (r->cmd != LD_DF_RUN || r->exec_form || !strstr(r->args[0], base)) continue;
      shscript s;
      parse_shell(r->args[0], &s);
      bool extracts = false;
      for (size_t c = 0; c < s.n; c++) {
        const shcmd *cmd = &s.c[c];
        if ((is_cmd(cmd, "tar") && (has_short(cmd, 'x') || has_word(cmd, "--extract") ||
                                    (cmd->n > 1 && strchr(cmd->w[1], 'x') && cmd->w[1][0] != '-'))) ||
            is_cmd(cmd, "unzip") || is_cmd(cmd, "gunzip") || is_cmd(cmd, "bunzip2") || is_cmd(cmd, "unxz"))
          extracts = true;
      }
      free_shell(&s);
      if (extracts) {
        add(fs, "DL3010", LD_LINT_INFO, in, "Use ADD for extracting archives into an image");
        return;
      }
    }
  }
}

/* Stages that end up in the final image: the last one and the bases it is FROM. */
static void final_chain(const ld_dockerfile *df, bool *in_final) {
  size_t s = df->n_stages - 1;
  for (;;) {
    in_final[s] = true;
    const ld_df_instr *from = &df->instrs[df->stages[s].first];
    int base = -1;
    for (size_t k = 0; k < s; k++)
      if (df->stages[k].name && !strcasecmp(df->stages[k].name, from->args[0])) base = (int) k;
    if (base < 0 || in_final[base]) break;
    s = (size_t) base;
  }
}

static int cmp_finding(const void *a, const void *b) {
  const ld_lint_finding *x = a, *y = b;
  if (x->line != y->line) return x->line - y->line;
  return strcmp(x->code, y->code);
}

int ld_lint(const ld_dockerfile *df, ld_lint_finding **out, size_t *n, ld_error **err) {
  findings fs = {0};
  bool *in_final = ld_xcalloc(df->n_stages, sizeof *in_final);
  final_chain(df, in_final);
  for (size_t s = 0; s < df->n_stages; s++) {
    const ld_df_stage *st = &df->stages[s];
    bool pip_env = false;
    const ld_df_instr *prev = NULL;
    for (size_t k = st->first; k < st->first + st->count; k++) {
      const ld_df_instr *in = &df->instrs[k];
      switch (in->cmd) {
        case LD_DF_FROM: from_rules(df, s, in, &fs); break;
        case LD_DF_ADD: add_rules(in, &fs); break;
        case LD_DF_COPY: {
          const char *from = ld_df_flag(in, "from");
          if (from && in->n_args == 2 && !strcmp(in->args[0], "/") && !strcmp(in->args[1], "/"))
            add(&fs, "DL3067", LD_LINT_WARNING, in, "Do not copy an entire filesystem from another stage");
          copy_archive_rule(df, st, k, &fs);
          break;
        }
        case LD_DF_ENV:
          for (size_t i = 0; i < in->n_kvs; i++)
            if (!strcmp(in->kvs[i].key, "PIP_NO_CACHE_DIR")) pip_env = true;
          break;
        case LD_DF_RUN: {
          if (prev && prev->cmd == LD_DF_RUN && prev->n_flags == 0 && in->n_flags == 0)
            add(&fs, "DL3059", LD_LINT_INFO, in, "Multiple consecutive `RUN` instructions. Consider consolidation.");
          if (in->exec_form) break;
          ld_buf text = {0};
          ld_buf_puts(&text, in->args[0]);
          for (size_t h = 0; h < in->n_heredocs; h++) {
            ld_buf_puts(&text, "\n");
            ld_buf_puts(&text, in->heredocs[h].content);
          }
          shscript sh;
          parse_shell(text.data, &sh);
          ld_buf_free(&text);
          run_rules(in, &sh, in_final[s], pip_env, &fs);
          free_shell(&sh);
          break;
        }
        default: break;
      }
      prev = in;
    }
  }
  free(in_final);
  if (fs.n) qsort(fs.f, fs.n, sizeof *fs.f, cmp_finding);
  *out = fs.f;
  *n = fs.n;
  return 0;
}

static const char *level_names[] = {"error", "warning", "info", "style", "none"};

const char *ld_lint_level_name(ld_lint_level l) { return level_names[l]; }

int ld_lint_level_parse(const char *s, ld_lint_level *out) {
  for (size_t i = 0; i < LD_ARRAY_SIZE(level_names); i++)
    if (!strcasecmp(s, level_names[i])) {
      *out = (ld_lint_level) i;
      return 0;
    }
  if (!strcasecmp(s, "ignore")) {
    *out = LD_LINT_NONE;
    return 0;
  }
  return -1;
}
