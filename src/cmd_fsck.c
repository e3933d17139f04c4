/* lading fsck: not yet implemented (see the issue that owns it). */
#include "cli.h"

int cmd_fsck(int argc, char **argv) {
  return cli_fail_unimplemented("fsck");
}
