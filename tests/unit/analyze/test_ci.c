/* dive's CI rules: .dive-ci parsing (defaults, "disabled", sizes, bad values), the verdicts and
 * their messages, and Go's %v float formatting that the messages use. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "lading/analyze.h"
#include "lading/util.h"

static char *write_tmp(const char *text) {
  char *path = ld_xstrdup("/tmp/lading-test-dive-ci.XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
  close(fd);
  return path;
}

static void test_defaults_are_dives(void **state) {
  ld_ci_config c;
  ld_ci_config_defaults(&c);
  assert_string_equal(c.value[LD_CI_LOWEST_EFFICIENCY], "0.9");
  assert_string_equal(c.value[LD_CI_HIGHEST_WASTED_BYTES], "disabled");
  assert_string_equal(c.value[LD_CI_HIGHEST_USER_WASTED_PERCENT], "0.1");
  assert_int_equal(ld_ci_config_validate(&c, NULL), 0);
  ld_ci_config_clear(&c);
}

static void test_load_file(void **state) {
  char *path = write_tmp("# dive CI\nrules:\n  lowestEfficiency: 0.95\n"
                         "  highestWastedBytes: 19MiB\n  highestUserWastedPercent: disabled\n"
                         "  somethingElse: 3\n");
  ld_ci_config c;
  ld_ci_config_defaults(&c);
  ld_error *err = NULL;
  assert_int_equal(ld_ci_config_load(&c, path, &err), 0);
  assert_string_equal(c.value[LD_CI_LOWEST_EFFICIENCY], "0.95");
  assert_string_equal(c.value[LD_CI_HIGHEST_WASTED_BYTES], "19MiB");
  assert_string_equal(c.value[LD_CI_HIGHEST_USER_WASTED_PERCENT], "disabled");
  assert_int_equal(ld_ci_config_validate(&c, &err), 0);

  ld_analysis a = {.efficiency = 0.96, .wasted_bytes = 19 * 1048576 + 1, .user_wasted_percent = 5};
  ld_ci_result res[LD_CI_N_RULES];
  bool pass;
  ld_ci_evaluate(&c, &a, res, &pass);
  assert_false(pass);
  assert_int_equal(res[LD_CI_LOWEST_EFFICIENCY].status, LD_CI_PASS);
  assert_int_equal(res[LD_CI_HIGHEST_WASTED_BYTES].status, LD_CI_FAIL);
  assert_string_equal(res[LD_CI_HIGHEST_WASTED_BYTES].message,
                      "too many bytes wasted (wasted-bytes=19922945 > threshold=19922944)");
  assert_int_equal(res[LD_CI_HIGHEST_USER_WASTED_PERCENT].status, LD_CI_SKIP);
  ld_ci_results_clear(res);
  ld_ci_config_clear(&c);
  unlink(path);
  free(path);
}

static void test_empty_file_keeps_defaults(void **state) {
  char *path = write_tmp("");
  ld_ci_config c;
  ld_ci_config_defaults(&c);
  assert_int_equal(ld_ci_config_load(&c, path, NULL), 0);
  assert_string_equal(c.value[LD_CI_LOWEST_EFFICIENCY], "0.9");
  ld_ci_config_clear(&c);
  unlink(path);
  free(path);
}

static void test_bad_files_and_values(void **state) {
  static const char *const bad_yaml[] = {"rules: [1, 2\n", "- a\n- b\n", "rules: 3\n",
                                         "rules:\n  lowestEfficiency: [1]\n"};
  for (size_t i = 0; i < LD_ARRAY_SIZE(bad_yaml); i++) {
    char *path = write_tmp(bad_yaml[i]);
    ld_ci_config c;
    ld_ci_config_defaults(&c);
    ld_error *err = NULL;
    assert_int_equal(ld_ci_config_load(&c, path, &err), -1);
    assert_non_null(strstr(err->msg, path));
    ld_error_free(err);
    ld_ci_config_clear(&c);
    unlink(path);
    free(path);
  }
  static const struct {
    const char *rule, *value;
  } bad_values[] = {{"lowestEfficiency", "1.5"}, {"lowestEfficiency", "high"},
                    {"highestUserWastedPercent", "-0.1"}, {"highestWastedBytes", "lots"},
                    {"highestWastedBytes", "20XB"}};
  for (size_t i = 0; i < LD_ARRAY_SIZE(bad_values); i++) {
    ld_ci_config c;
    ld_ci_config_defaults(&c);
    assert_int_equal(ld_ci_config_set(&c, bad_values[i].rule, bad_values[i].value, NULL), 0);
    ld_error *err = NULL;
    assert_int_equal(ld_ci_config_validate(&c, &err), -1);
    assert_non_null(strstr(err->msg, bad_values[i].rule));
    assert_non_null(strstr(err->msg, bad_values[i].value));
    ld_error_free(err);
    ld_ci_config_clear(&c);
  }
  ld_ci_config c;
  ld_ci_config_defaults(&c);
  ld_error *err = NULL;
  assert_int_equal(ld_ci_config_set(&c, "lowestEfficency", "0.5", &err), -1);
  ld_error_free(err);
  ld_ci_config_clear(&c);
  err = NULL;
  ld_ci_config_defaults(&c);
  assert_int_equal(ld_ci_config_load(&c, "/nonexistent/.dive-ci", &err), -1);
  assert_non_null(strstr(err->msg, "/nonexistent/.dive-ci"));
  ld_error_free(err);
  ld_ci_config_clear(&c);
}

static void test_dive_fixture_verdicts(void **state) {
  /* dive --ci on test-docker-image.tar with the default rules */
  ld_analysis a = {.efficiency = 0.9844212134184309, .wasted_bytes = 32025,
                   .user_wasted_percent = 0.4834911001404049};
  ld_ci_config c;
  ld_ci_config_defaults(&c);
  ld_ci_result res[LD_CI_N_RULES];
  bool pass;
  ld_ci_evaluate(&c, &a, res, &pass);
  assert_false(pass);
  assert_int_equal(res[LD_CI_LOWEST_EFFICIENCY].status, LD_CI_PASS);
  assert_string_equal(res[LD_CI_LOWEST_EFFICIENCY].message, "");
  assert_int_equal(res[LD_CI_HIGHEST_WASTED_BYTES].status, LD_CI_SKIP);
  assert_int_equal(res[LD_CI_HIGHEST_USER_WASTED_PERCENT].status, LD_CI_FAIL);
  assert_string_equal(res[LD_CI_HIGHEST_USER_WASTED_PERCENT].message,
                      "too many bytes wasted, relative to the user bytes added "
                      "(%-user-wasted-bytes=0.4834911001404049 > threshold=0.1)");
  ld_ci_results_clear(res);
  assert_int_equal(ld_ci_config_set(&c, "lowestEfficiency", "0.99", NULL), 0);
  ld_ci_evaluate(&c, &a, res, &pass);
  assert_string_equal(res[LD_CI_LOWEST_EFFICIENCY].message,
                      "image efficiency is too low (efficiency=0.9844212134184309 < threshold=0.99)");
  ld_ci_results_clear(res);
  /* NaN (a one-layer image) passes the percent rule, as in dive */
  a.user_wasted_percent = NAN;
  ld_ci_evaluate(&c, &a, res, &pass);
  assert_int_equal(res[LD_CI_HIGHEST_USER_WASTED_PERCENT].status, LD_CI_PASS);
  ld_ci_results_clear(res);
  ld_ci_config_clear(&c);
}

static void test_go_float_format(void **state) {
  static const struct {
    double v;
    const char *s;
  } cases[] = {{0.9, "0.9"}, {0.1, "0.1"}, {1, "1"}, {0, "0"}, {0.4834911001404049, "0.4834911001404049"},
               {123456.7, "123456.7"}, {1e6, "1e+06"}, {1234567, "1.234567e+06"},
               {0.0001, "0.0001"}, {0.00001, "1e-05"}, {2.5e-7, "2.5e-07"}};
  char buf[40];
  for (size_t i = 0; i < LD_ARRAY_SIZE(cases); i++)
    assert_string_equal(ld_an_format_float(cases[i].v, buf, sizeof buf), cases[i].s);
  assert_string_equal(ld_an_format_float(NAN, buf, sizeof buf), "NaN");
  assert_string_equal(ld_an_format_float(INFINITY, buf, sizeof buf), "+Inf");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_are_dives),
      cmocka_unit_test(test_load_file),
      cmocka_unit_test(test_empty_file_keeps_defaults),
      cmocka_unit_test(test_bad_files_and_values),
      cmocka_unit_test(test_dive_fixture_verdicts),
      cmocka_unit_test(test_go_float_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
