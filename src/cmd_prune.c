/* lading prune: not yet implemented (see the issue that owns it). */
#include "cli.h"

int cmd_prune(int argc, char **argv) {
  return cli_fail_unimplemented("prune");
}
