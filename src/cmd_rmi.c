/* lading rmi NAME...: remove names from the store. Blobs stay until `lading gc` (or prune) finds
 * them unreferenced, so removing a name never breaks another image sharing layers. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

int cmd_rmi(int argc, char **argv) {
  if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
    printf("Usage: lading rmi NAME...\n\nRemove image names from the store. Unreferenced blobs\n"
           "are freed by 'lading gc'.\n");
    return 0;
  }
  if (argc < 2) return cli_usage_error("rmi", "expected at least one NAME");
  ld_error *err = NULL;
  ld_store *s;
  if (cli_open_store(&s, &err) < 0) return cli_fail(err);
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    if (ld_store_untag(s, argv[i], &err) < 0) {
      rc = cli_fail(err);
      err = NULL;
    } else if (!cli_quiet)
      printf("Untagged %s\n", argv[i]);
  }
  ld_store_close(s);
  return rc;
}
