/* lading images: not yet implemented (see the issue that owns it). */
#include "cli.h"

int cmd_images(int argc, char **argv) {
  return cli_fail_unimplemented("images");
}
