/* Dockerfile parser, variable expansion, .dockerignore and lint: table-driven cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "lading/build.h"

static ld_dockerfile *parse_ok(const char *text) {
  ld_dockerfile *df = NULL;
  ld_error *err = NULL;
  int r = ld_dockerfile_parse(text, strlen(text), "Dockerfile", &df, &err);
  if (r < 0) fail_msg("parse failed: %s", err->msg);
  return df;
}

static void test_parse_basics(void **state) {
  ld_dockerfile *df = parse_ok(
      "# syntax=docker/dockerfile:1\n"
      "ARG BASE=debian:12\n"
      "FROM $BASE AS Build\n"
      "# comment\n"
      "RUN apt-get update \\\n"
      "  # a comment inside\n"
      "\n"
      "  && apt-get install -y x\n"
      "COPY --from=build --chown=1:2 a b /dst/\n"
      "ENV A=1 B=\"two words\"\n"
      "ENV LEGACY value with spaces\n"
      "CMD [\"/bin/sh\", \"-c\", \"echo hi\"]\n"
      "  entrypoint /x\n"
      "ONBUILD RUN echo trig\n"
      "HEALTHCHECK --interval=5s CMD true\n");
  assert_string_equal(df->syntax, "docker/dockerfile:1");
  assert_int_equal(df->n_meta_args, 1);
  assert_int_equal(df->n_stages, 1);
  assert_string_equal(df->stages[0].name, "build");
  ld_df_instr *run = &df->instrs[2];
  assert_int_equal(run->cmd, LD_DF_RUN);
  assert_int_equal(run->line, 5);
  assert_int_equal(run->end_line, 8);
  assert_string_equal(run->args[0], "apt-get update   && apt-get install -y x");
  ld_df_instr *copy = &df->instrs[3];
  assert_string_equal(ld_df_flag(copy, "from"), "build");
  assert_string_equal(ld_df_flag(copy, "chown"), "1:2");
  assert_int_equal(copy->n_args, 3);
  ld_df_instr *env = &df->instrs[4];
  assert_int_equal(env->n_kvs, 2);
  assert_string_equal(env->kvs[1].key, "B");
  assert_string_equal(env->kvs[1].value, "\"two words\"");
  assert_string_equal(df->instrs[5].kvs[0].value, "value with spaces");
  assert_true(df->instrs[6].exec_form);
  assert_int_equal(df->instrs[6].n_args, 3);
  assert_int_equal(df->instrs[7].cmd, LD_DF_ENTRYPOINT);
  assert_int_equal(df->instrs[7].column, 3);
  assert_int_equal(df->instrs[8].trigger->cmd, LD_DF_RUN);
  assert_string_equal(df->instrs[9].args[0], "CMD");
  ld_dockerfile_free(df);
}

static void test_parse_heredoc_and_escape(void **state) {
  ld_dockerfile *df = parse_ok(
      "# escape=`\n"
      "FROM scratch\n"
      "RUN <<EOF\n"
      "echo one\n"
      "echo two\n"
      "EOF\n"
      "COPY <<-'END' /etc/x\n"
      "\thello $NAME\n"
      "\tEND\n"
      "RUN echo a `\n"
      "  b\n");
  assert_int_equal(df->escape, '`');
  ld_df_instr *run = &df->instrs[1];
  assert_int_equal(run->n_heredocs, 1);
  assert_string_equal(run->heredocs[0].content, "echo one\necho two\n");
  assert_true(run->heredocs[0].expand);
  ld_df_instr *copy = &df->instrs[2];
  assert_int_equal(copy->n_heredocs, 1);
  assert_false(copy->heredocs[0].expand);
  assert_string_equal(copy->heredocs[0].content, "hello $NAME\n");
  assert_string_equal(df->instrs[3].args[0], "echo a   b");
  assert_int_equal(df->instrs[3].line, 10);
  ld_dockerfile_free(df);
}

static void test_parse_errors(void **state) {
  static const struct {
    const char *text, *want;
  } cases[] = {
      {"FROM a\nFOO bar\n", "Dockerfile:2:1: unknown instruction: FOO"},
      {"RUN x\n", "Dockerfile:1:1: RUN before the first FROM"},
      {"FROM a\n  COPY --frm=x a b\n", "Dockerfile:2:8: unknown flag --frm for COPY"},
      {"FROM a\nCOPY onlyone\n", "Dockerfile:2:6: COPY requires at least two arguments"},
      {"FROM a\nRUN <<EOF\necho\n", "Dockerfile:2:1: unterminated heredoc <<EOF"},
      {"FROM a b\n", "Dockerfile:1:6: FROM requires either one or three arguments"},
      {"FROM a\nENV\n", "ENV requires at least one argument"},
      {"FROM a\nENV A=1 B\n", "can't find = in \"B\""},
      {"FROM a\nSHELL /bin/bash\n", "SHELL requires the arguments to be a JSON array"},
      {"# escape=x\nFROM a\n", "Dockerfile:1:1: invalid escape token"},
      {"FROM a AS x\nFROM b AS x\n", "duplicate stage name \"x\""},
      {"", "no FROM instruction"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ld_dockerfile *df = NULL;
    ld_error *err = NULL;
    assert_int_equal(ld_dockerfile_parse(cases[i].text, strlen(cases[i].text), "Dockerfile", &df, &err), -1);
    if (!strstr(err->msg, cases[i].want)) fail_msg("case %zu: got \"%s\", want \"%s\"", i, err->msg, cases[i].want);
    ld_error_free(err);
  }
}

static const char *lookup(void *arg, const char *name) {
  if (!strcmp(name, "A")) return "alpha";
  if (!strcmp(name, "EMPTY")) return "";
  if (!strcmp(name, "P")) return "dir/sub/file.tar.gz";
  return NULL;
}

static void test_expand(void **state) {
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"$A", "alpha"}, {"${A}x", "alphax"}, {"'$A'", "$A"}, {"\"$A b\"", "alpha b"},
      {"\\$A", "$A"}, {"${UNSET:-def}", "def"}, {"${EMPTY:-def}", "def"}, {"${EMPTY-def}", ""},
      {"${A:+set}", "set"}, {"${UNSET:+set}", ""}, {"${UNSET:-${A}}", "alpha"}, {"a$", "a$"},
      {"$UNSET.x", ".x"}, {"\"a\\\"b\"", "a\"b"}, {"\"a\\nb\"", "a\\nb"}, {"${A:-'x y'}", "alpha"},
      /* Dockerfile 1.7 pattern forms */
      {"${P#*/}", "sub/file.tar.gz"}, {"${P##*/}", "file.tar.gz"}, {"${P%.*}", "dir/sub/file.tar"},
      {"${P%%.*}", "dir/sub/file"}, {"${P/sub/SUB}", "dir/SUB/file.tar.gz"}, {"${A//a/A}", "AlphA"},
      {"${A/a/}", "lpha"}, {"${UNSET#x}", ""}, {"${A#zz}", "alpha"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *out = NULL;
    ld_error *err = NULL;
    if (ld_df_expand(cases[i].in, '\\', lookup, NULL, &out, &err) < 0) fail_msg("case %zu: %s", i, err->msg);
    if (strcmp(out, cases[i].out)) fail_msg("case %zu: %s -> \"%s\", want \"%s\"", i, cases[i].in, out, cases[i].out);
    free(out);
  }
  char *out = NULL;
  ld_error *err = NULL;
  char *hd = NULL;
  assert_int_equal(ld_df_expand_heredoc("<?xml version=\"1.0\"?> don't '$A' \\$A \"$A\"\n", '\\', lookup, NULL, &hd, &err), 0);
  assert_string_equal(hd, "<?xml version=\"1.0\"?> don't 'alpha' $A \"alpha\"\n");
  free(hd);
  assert_int_equal(ld_df_expand("${UNSET:?needed}", '\\', lookup, NULL, &out, &err), -1);
  assert_non_null(strstr(err->msg, "UNSET: needed"));
  ld_error_free(err);
  err = NULL;
  assert_int_equal(ld_df_expand("'open", '\\', lookup, NULL, &out, &err), -1);
  ld_error_free(err);
}

static void test_dockerignore(void **state) {
  const char *rules = "# comment\n*.log\n!keep.log\nbuild\n**/*.tmp\n/secret\ndocs/**/draft*\n";
  ld_ignore *ig;
  assert_int_equal(ld_ignore_parse(rules, strlen(rules), &ig, NULL), 0);
  static const struct {
    const char *path;
    bool ignored;
  } cases[] = {
      {"a.log", true}, {"keep.log", false}, {"sub/a.log", false}, {"build", true},
      {"build/x/y.c", true}, {"x.tmp", true}, {"a/b/c.tmp", true}, {"secret", true},
      {"src/secret", false}, {"docs/a/b/draft1.md", true}, {"docs/draft.md", true},
      {"docs/final.md", false}, {"main.c", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    if (ld_ignore_match(ig, cases[i].path) != cases[i].ignored)
      fail_msg("case %zu: %s", i, cases[i].path);
  ld_ignore_free(ig);
}

static void test_lint(void **state) {
  static const struct {
    const char *text;
    const char *codes; /* space-separated, in output order */
  } cases[] = {
      {"FROM debian\n", "DL3006"},
      {"FROM debian:latest\n", "DL3007"},
      {"FROM debian:12@sha256:aa\nFROM scratch\n", ""},
      {"FROM debian:12\nRUN apt-get update && apt-get install -y curl\n", "DL3009 DL3015"},
      {"FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl "
       "&& rm -rf /var/lib/apt/lists/*\n", ""},
      {"FROM debian:12 AS b\nRUN apt-get update && apt-get install --no-install-recommends -y gcc\n"
       "FROM debian:12\nCOPY --from=b /x /x\n", ""},
      {"FROM alpine:3\nRUN apk add curl\n", "DL3019"},
      {"FROM alpine:3\nADD a.txt /x\nADD b.tar.gz /y\n", "DL3020"},
      {"FROM alpine:3\nRUN yum install -y x\n", "DL3032"},
      {"FROM alpine:3\nRUN zypper install -y x\n", "DL3036"},
      {"FROM alpine:3\nRUN dnf install -y x && dnf clean all\n", ""},
      {"FROM alpine:3\nRUN microdnf install x\n", "DL3040"},
      {"FROM alpine:3\nRUN pip install flask\n", "DL3042"},
      {"FROM alpine:3\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask\n", ""},
      {"FROM alpine:3\nRUN useradd -u 123456789 bob\n", "DL3046"},
      {"FROM alpine:3\nRUN useradd -l -u 123456789 bob\n", ""},
      {"FROM alpine:3\nRUN a\nRUN b\n", "DL3059"},
      {"FROM alpine:3\nRUN yarn install\n", "DL3060"},
      {"FROM alpine:3 AS a\nFROM scratch\nCOPY --from=a / /\n", "DL3067"},
      {"FROM alpine:3\nCOPY x.tar.gz /tmp/\nRUN tar xzf /tmp/x.tar.gz\n", "DL3010"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ld_dockerfile *df = parse_ok(cases[i].text);
    ld_lint_finding *f;
    size_t n;
    assert_int_equal(ld_lint(df, &f, &n, NULL), 0);
    char got[256] = "";
    for (size_t k = 0; k < n; k++) {
      if (k) strcat(got, " ");
      strcat(got, f[k].code);
    }
    if (strcmp(got, cases[i].codes)) fail_msg("case %zu: got \"%s\", want \"%s\"", i, got, cases[i].codes);
    free(f);
    ld_dockerfile_free(df);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_basics),  cmocka_unit_test(test_parse_heredoc_and_escape),
      cmocka_unit_test(test_parse_errors),  cmocka_unit_test(test_expand),
      cmocka_unit_test(test_dockerignore),  cmocka_unit_test(test_lint),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
