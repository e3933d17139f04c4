/* Shared CLI plumbing (see cli.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "lading/util.h"

bool cli_quiet = false;
const char *cli_root = NULL;

int cli_fail(ld_error *err) {
  int code = err ? ld_error_exit_code(err) : 1;
  fprintf(stderr, "lading: %s\n", err && err->msg ? err->msg : "unknown error");
  ld_error_free(err);
  return code;
}

int cli_fail_unimplemented(const char *cmd) {
  fprintf(stderr, "lading %s: not implemented yet\n", cmd);
  return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "lading %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nTry 'lading %s --help'.\n", cmd);
  va_end(ap);
  return 2;
}

int cli_parse_format(const char *cmd, const char *value, cli_format *out) {
  if (!strcmp(value, "json")) *out = CLI_FORMAT_JSON;
  else if (!strcmp(value, "table") || !strcmp(value, "text")) *out = CLI_FORMAT_TABLE;
  else return cli_usage_error(cmd, "unknown --format '%s' (table, json)", value);
  return 0;
}

int cli_open_store(ld_store **out, ld_error **err) { return ld_store_open(cli_root, out, err); }

void cli_transport_opts(ld_transport_opts *o, ld_store *store) {
  memset(o, 0, sizeof *o);
  o->store = store;
  o->quiet = cli_quiet;
}

bool cli_stdout_is_tty(void) { return isatty(1); }

bool cli_spec_names_store(const char *spec) {
  static const char *prefixes[] = {"oci:", "oci-archive:", "docker-archive:", "docker://"};
  for (size_t i = 0; i < LD_ARRAY_SIZE(prefixes); i++)
    if (ld_str_has_prefix(spec, prefixes[i])) return false;
  return true;
}

int cli_open_source(const char *spec, ld_store **store, ld_image_src **out, ld_error **err) {
  if (cli_spec_names_store(spec) && !*store && cli_open_store(store, err) < 0) return -1;
  ld_transport_opts o;
  cli_transport_opts(&o, *store);
  return ld_image_src_open(spec, &o, out, err);
}
