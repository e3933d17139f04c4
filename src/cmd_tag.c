/* lading tag IMAGE NAME...: add names to an image in the store (IMAGE: name, digest or prefix). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

int cmd_tag(int argc, char **argv) {
  if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
    printf("Usage: lading tag IMAGE NAME...\n\nAdd one or more names to an image in the store.\n"
           "IMAGE is a name, a digest or a digest prefix of at least 12 hex digits.\n");
    return 0;
  }
  if (argc < 3) return cli_usage_error("tag", "expected IMAGE and at least one NAME");
  ld_error *err = NULL;
  ld_store *s;
  if (cli_open_store(&s, &err) < 0) return cli_fail(err);
  ld_descriptor d;
  if (ld_store_resolve(s, argv[1], &d, NULL, &err) < 0) {
    ld_store_close(s);
    return cli_fail(err);
  }
  for (int i = 2; i < argc && !err; i++) ld_store_tag(s, argv[i], &d, &err);
  ld_descriptor_clear(&d);
  ld_store_close(s);
  return err ? cli_fail(err) : 0;
}
