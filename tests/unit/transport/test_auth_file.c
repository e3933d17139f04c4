/* Auth files: lookup order and key spellings, store/remove keep other entries, bad files name
 * themselves; credential helpers (credHelpers before auths before credsStore, Docker Hub's
 * server URL, a bad helper name refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "lading/fs.h"
#include "lading/registry_client.h"
#include "lading/util.h"

static char dir[] = "/tmp/lading-auth-test.XXXXXX";

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state) {
  assert_non_null(mkdtemp(dir));
  char *home = ld_path_join(dir, "home");
  char *xdg = ld_path_join(dir, "run");
  mkdir(home, 0700);
  mkdir(xdg, 0700);
  setenv("HOME", home, 1);
  setenv("XDG_RUNTIME_DIR", xdg, 1);
  unsetenv("REGISTRY_AUTH_FILE");
  free(home);
  free(xdg);
  return 0;
}

static int teardown(void **state) {
  ld_rm_rf(dir, NULL);
  return 0;
}

static void test_docker_config_and_hub_spelling(void **state) {
  char *d = ld_path_join(dir, "home/.docker");
  mkdir(d, 0700);
  char *f = ld_path_join(d, "config.json");
  /* dXNlcjpwYXNz = user:pass ; aHViOnNlY3JldA== = hub:secret */
  write_file(f, "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"aHViOnNlY3JldA==\"},"
                "\"quay.io\":{\"auth\":\"dXNlcjpwYXNz\"}},\"credHelpers\":{}}");
  char *u, *p, *from;
  assert_int_equal(ld_auth_lookup(NULL, "docker.io", "library/alpine", &u, &p, &from, NULL), 0);
  assert_string_equal(u, "hub");
  assert_string_equal(p, "secret");
  assert_string_equal(from, f);
  free(u), free(p), free(from);
  assert_int_equal(ld_auth_lookup(NULL, "quay.io", NULL, &u, &p, NULL, NULL), 0);
  assert_string_equal(u, "user");
  free(u), free(p);
  assert_int_equal(ld_auth_lookup(NULL, "ghcr.io", NULL, &u, &p, NULL, NULL), 0);
  assert_null(u);
  unlink(f);
  free(f);
  free(d);
}

static void test_store_lookup_remove(void **state) {
  char *file = ld_auth_default_file(NULL);
  char *want = ld_path_join(dir, "run/containers/auth.json");
  assert_string_equal(file, want);
  assert_int_equal(ld_auth_store(file, "127.0.0.1:5000", "a", "b:c", NULL), 0);
  assert_int_equal(ld_auth_store(file, "https://quay.io", "q", "r", NULL), 0);
  struct stat st;
  assert_int_equal(stat(file, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  char *u, *p;
  assert_int_equal(ld_auth_lookup(NULL, "127.0.0.1:5000", "x/y", &u, &p, NULL, NULL), 0);
  assert_string_equal(u, "a");
  assert_string_equal(p, "b:c");
  free(u), free(p);
  /* A namespace entry is more specific than the host. */
  assert_int_equal(ld_auth_store(file, "127.0.0.1:5000/team", "t", "u", NULL), 0);
  assert_int_equal(ld_auth_lookup(NULL, "127.0.0.1:5000", "team/app", &u, &p, NULL, NULL), 0);
  assert_string_equal(u, "t");
  free(u), free(p);
  assert_int_equal(ld_auth_lookup(NULL, "127.0.0.1:5000", "teamx/app", &u, &p, NULL, NULL), 0);
  assert_string_equal(u, "a");
  free(u), free(p);
  bool removed;
  assert_int_equal(ld_auth_remove(file, "quay.io", &removed, NULL), 0);
  assert_true(removed);
  assert_int_equal(ld_auth_lookup(NULL, "quay.io", NULL, &u, &p, NULL, NULL), 0);
  assert_null(u);
  assert_int_equal(ld_auth_remove(file, "quay.io", &removed, NULL), 0);
  assert_false(removed);
  assert_int_equal(ld_auth_remove(file, NULL, &removed, NULL), 0);
  assert_true(removed);
  free(file);
  free(want);
}

static void test_registry_auth_file_wins(void **state) {
  char *f = ld_path_join(dir, "explicit.json");
  setenv("REGISTRY_AUTH_FILE", f, 1);
  char *def = ld_auth_default_file(NULL);
  assert_string_equal(def, f);
  free(def);
  def = ld_auth_default_file("/other.json");
  assert_string_equal(def, "/other.json");
  free(def);
  assert_int_equal(ld_auth_store(f, "reg.example", "e", "f", NULL), 0);
  char *u, *p, *from;
  assert_int_equal(ld_auth_lookup(NULL, "reg.example", NULL, &u, &p, &from, NULL), 0);
  assert_string_equal(u, "e");
  assert_string_equal(from, f);
  free(u), free(p), free(from);
  unsetenv("REGISTRY_AUTH_FILE");
  free(f);
}

static void test_bad_file(void **state) {
  char *f = ld_path_join(dir, "bad.json");
  write_file(f, "{\"auths\":{\"h\":{\"auth\":\"bm9jb2xvbg==\"}}}"); /* "nocolon" */
  char *u, *p;
  ld_error *err = NULL;
  assert_int_equal(ld_auth_lookup(f, "h", NULL, &u, &p, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "bad.json"));
  ld_error_free(err);
  err = NULL;
  write_file(f, "{not json");
  assert_int_equal(ld_auth_lookup(f, "h", NULL, &u, &p, NULL, &err), -1);
  ld_error_free(err);
  free(f);
}

/* A helper that echoes what it was asked as the password. */
static void test_cred_helpers(void **state) {
  char *bin = ld_path_join(dir, "bin");
  mkdir(bin, 0700);
  char *h = ld_path_join(bin, "docker-credential-echo");
  write_file(h, "#!/bin/sh\ns=$(cat); printf '{\"Username\":\"u\",\"Secret\":\"%s\"}' \"$s\"\n");
  chmod(h, 0755);
  char *old_path = ld_xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
  char *path = ld_xasprintf("%s:%s", bin, old_path);
  setenv("PATH", path, 1);
  char *f = ld_path_join(dir, "helpers.json");
  write_file(f, "{\"auths\":{\"a.example\":{\"auth\":\"dXNlcjpwYXNz\"},\"b.example\":{}},"
                "\"credHelpers\":{\"a.example\":\"echo\"},\"credsStore\":\"echo\"}");
  char *u, *p;
  assert_int_equal(ld_auth_lookup(f, "a.example", "r", &u, &p, NULL, NULL), 0);
  assert_string_equal(p, "a.example"); /* credHelpers first */
  free(u), free(p);
  assert_int_equal(ld_auth_lookup(f, "b.example", NULL, &u, &p, NULL, NULL), 0);
  assert_string_equal(p, "b.example"); /* an empty auths entry: credsStore */
  free(u), free(p);
  assert_int_equal(ld_auth_lookup(f, "docker.io", NULL, &u, &p, NULL, NULL), 0);
  assert_string_equal(p, "https://index.docker.io/v1/");
  free(u), free(p);
  write_file(f, "{\"credsStore\":\"../evil\"}");
  ld_error *err = NULL;
  assert_int_equal(ld_auth_lookup(f, "c.example", NULL, &u, &p, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "not a plain name"));
  ld_error_free(err);
  setenv("PATH", old_path, 1);
  free(old_path);
  free(path);
  free(f);
  free(h);
  free(bin);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_docker_config_and_hub_spelling),
      cmocka_unit_test(test_store_lookup_remove),
      cmocka_unit_test(test_registry_auth_file_wins),
      cmocka_unit_test(test_bad_file),
      cmocka_unit_test(test_cred_helpers),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
