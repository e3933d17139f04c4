/* lading: the command. main() parses the global flags (-q, --root, --version, --help) and
 * dispatches to cmd_<name>() from the table in cli.h. Everything else is in the library. */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "lading/log.h"

static const struct {
  const char *name;
  int (*fn)(int, char **);
  const char *help;
} commands[] = {
#define X(n, h) {#n, cmd_##n, h},
    LADING_COMMANDS(X)
#undef X
};

static void usage(FILE *f) {
  fprintf(f, "Usage: lading [-q] [--root DIR] COMMAND [OPTIONS] [ARGS]\n\n"
             "A container image toolkit: build, analyze, store, serve, mirror, scan, sign, pin,\n"
             "prune. Images are named with skopeo's transports (oci:DIR[:TAG],\n"
             "oci-archive:FILE[:TAG], docker-archive:FILE[:REF], docker://REF); a bare REF is\n"
             "the embedded store ($LADING_ROOT).\n\nCommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
  fprintf(f, "\nRun 'lading COMMAND --help' for a command's options. Docs: docs/<command>.md\n");
}

int main(int argc, char **argv) {
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
      cli_quiet = true;
      ld_log_set_level(LD_LOG_ERROR);
    } else if (!strcmp(argv[i], "--root") && i + 1 < argc) {
      cli_root = argv[++i];
    } else if (!strncmp(argv[i], "--root=", 7)) {
      cli_root = argv[i] + 7;
    } else if (!strcmp(argv[i], "--version")) {
      printf("lading 0.1.0\n");
      return 0;
    } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "lading: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[i], "help")) {
    usage(stdout);
    return 0;
  }
  for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
    if (!strcmp(argv[i], commands[c].name)) return commands[c].fn(argc - i, argv + i);
  fprintf(stderr, "lading: unknown command '%s'. See 'lading --help'.\n", argv[i]);
  return 2;
}
