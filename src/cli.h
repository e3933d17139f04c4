/* Shared CLI plumbing: the command table, option helpers, output format, store access.
 *
 * Each subcommand lives in src/cmd_<name>.c as `int cmd_<name>(int argc, char **argv)`, with
 * argv[0] the subcommand name, its own getopt_long table and its own usage text. It returns the
 * process exit code: 0 ok, 1 failure, 2 usage, 3 policy violation (DESIGN.md, Conventions).
 */
#ifndef LADING_CLI_H
#define LADING_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include "lading/error.h"
#include "lading/store.h"
#include "lading/transport.h"

typedef enum { CLI_FORMAT_TABLE = 0, CLI_FORMAT_JSON } cli_format;

/* Global flags, parsed by main before the subcommand. */
extern bool cli_quiet;
extern const char *cli_root; /* --root override of $LADING_ROOT */

/* Prints "lading: <msg>" and returns the exit code for the error (frees it). */
int cli_fail(ld_error *err);
/* Prints "lading <cmd>: <msg>" + "Try 'lading <cmd> --help'." and returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses --format VALUE (table|json; extra values accepted when listed in also, NULL-ended). */
int cli_parse_format(const char *cmd, const char *value, cli_format *out);
/* Opens the store (cli_root, else $LADING_ROOT, else the default). */
int cli_open_store(ld_store **out, ld_error **err);
/* Fills transport options from the common flags. */
void cli_transport_opts(ld_transport_opts *o, ld_store *store);
bool cli_stdout_is_tty(void);
/* True when spec has no transport prefix, i.e. names an image in the store. */
bool cli_spec_names_store(const char *spec);
/* Opens an image source from a spec; bare refs use the store (opened into *store if NULL). */
int cli_open_source(const char *spec, ld_store **store, ld_image_src **out, ld_error **err);

/* For commands not built yet: prints a clear message, returns 1. */
int cli_fail_unimplemented(const char *cmd);

/* Subcommands. */
#define LADING_COMMANDS(X)                                                                       \
  X(analyze, "Show layers, file changes, efficiency and wasted bytes (dive-compatible)")      \
  X(build, "Build an image from a Dockerfile/Containerfile")                                 \
  X(copy, "Copy an image between transports (oci:, oci-archive:, docker-archive:, docker://, store)") \
  X(db, "Manage the offline advisory database (import, status)")                            \
  X(df, "Show what each image really costs on disk")                                        \
  X(fsck, "Verify every blob, manifest and reference in the store")                         \
  X(gc, "Remove unreferenced blobs and stale temp files from the store")                    \
  X(images, "List images in the store")                                                     \
  X(inspect, "Show an image's manifest, config, layers and history")                        \
  X(key, "Generate cosign-compatible key pairs")                                            \
  X(lint, "Check a Dockerfile for size and tag problems (hadolint rules)")                  \
  X(login, "Store registry credentials")                                                    \
  X(logout, "Remove stored registry credentials")                                           \
  X(mirror, "Mirror a list of images into a registry, by digest")                           \
  X(pin, "Pin image references in Kubernetes manifests and Dockerfiles to digests")         \
  X(policy, "Check an image against a policy file")                                         \
  X(prune, "Delete unused images by LRU with disk watermarks")                              \
  X(pull, "Pull an image from a registry into the store")                                   \
  X(push, "Push an image from the store to a registry")                                     \
  X(registry, "Registry maintenance (gc)")                                                  \
  X(rmi, "Remove images from the store")                                                    \
  X(sbom, "Write an SBOM (CycloneDX, SPDX) of an image")                                    \
  X(scan, "Scan an image for known vulnerabilities, offline")                               \
  X(serve, "Run an OCI distribution registry")                                              \
  X(sign, "Sign an image (cosign format)")                                                  \
  X(tag, "Add a name to an image in the store")                                             \
  X(tags, "List the tags of a repository in a registry")                                    \
  X(verify, "Verify an image's cosign signatures")

#define X(name, help) int cmd_##name(int argc, char **argv);
LADING_COMMANDS(X)
#undef X

#endif
