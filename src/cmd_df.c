/* lading df: placeholder while the store lands. */
#include "cli.h"

int cmd_df(int argc, char **argv) {
  return cli_fail_unimplemented("df");
}
