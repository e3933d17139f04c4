/* lading tag: not yet implemented (see the issue that owns it). */
#include "cli.h"

int cmd_tag(int argc, char **argv) {
  return cli_fail_unimplemented("tag");
}
