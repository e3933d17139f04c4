/* lading analyze: not yet implemented (see the issue that owns it). */
#include "cli.h"

int cmd_analyze(int argc, char **argv) {
  return cli_fail_unimplemented("analyze");
}
