/* lading logout: remove a registry's stored credentials (or all with --all) from the containers
 * auth.json that login writes. Entries in ~/.docker/config.json are left alone but reported,
 * since Docker owns that file. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "lading/registry_client.h"
#include "lading/util.h"

static void logout_usage(FILE *f) {
  fprintf(f, "Usage: lading logout [OPTIONS] REGISTRY | --all\n\n"
             "Remove stored credentials for REGISTRY from the containers auth.json.\n\n"
             "Options:\n"
             "  -a, --all                remove every registry's credentials\n"
             "      --authfile FILE      auth file to edit\n"
             "  -h, --help               show this help\n");
}

int cmd_logout(int argc, char **argv) {
  static const struct option longopts[] = {
      {"all", no_argument, NULL, 'a'},
      {"authfile", required_argument, NULL, 'A'},
      {"help", no_argument, NULL, 'h'},
      {0},
  };
  bool all = false;
  const char *authfile = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "ah", longopts, NULL)) != -1) {
    switch (c) {
    case 'a': all = true; break;
    case 'A': authfile = optarg; break;
    case 'h': logout_usage(stdout); return 0;
    default: return cli_usage_error("logout", "unknown option");
    }
  }
  if (all ? argc != optind : argc - optind != 1)
    return cli_usage_error("logout", all ? "--all takes no REGISTRY" : "expected one REGISTRY");
  char *key = all ? NULL : ld_auth_key(argv[optind]);
  char *file = ld_auth_default_file(authfile);
  ld_error *err = NULL;
  bool removed;
  int rc = ld_auth_remove(file, key, &removed, &err);
  if (rc == 0 && !removed && !all) {
    char *u = NULL, *p = NULL, *from = NULL;
    if (ld_auth_lookup(authfile, key, NULL, &u, &p, &from, NULL) == 0 && u)
      rc = ld_err(&err, LD_ENOTFOUND, "not logged in to %s with %s; credentials found in %s (not ours to edit)", key, file, from);
    else
      rc = ld_err(&err, LD_ENOTFOUND, "not logged in to %s", key);
    free(u);
    free(p);
    free(from);
  }
  if (rc == 0 && !cli_quiet) {
    if (all) printf("Removed login credentials for all registries\n");
    else printf("Removed login credentials for %s\n", key);
  }
  free(key);
  free(file);
  return rc < 0 ? cli_fail(err) : 0;
}
