/* Helpers shared by the scan, sbom and db commands (src/cmd_scan.c, cmd_sbom.c, cmd_db.c). */
#ifndef LADING_SCAN_CLI_H
#define LADING_SCAN_CLI_H

#include <jansson.h>
#include "cli.h"
#include "lading/scan.h"

/* The advisory database path: --db when given, else STORE/advisories.db. */
char *scan_cli_db_path(const char *opt_db, ld_error **err);
/* Opens the image and catalogs it, with the per-layer cache in the store's meta.db unless
 * no_cache. The store (when opened) is returned in *store for the caller to close. */
int scan_cli_catalog(const char *spec, bool no_cache, ld_store **store, ld_catalog *cat,
                     ld_error **err);
/* Writes a JSON document to path (atomically) or stdout when path is NULL. */
int scan_cli_write_json(const char *path, json_t *doc, ld_error **err);

#endif
