/* Registry options shared by the client commands (copy, pull, push, mirror, tags, inspect,
 * login): skopeo's spelling, so scripts carry over.
 *
 *   --tls-verify[=BOOL]  --cert-dir DIR  --creds USER:PASS  --authfile FILE
 *   --retry-times N      --chunk-size SIZE
 * and for copy, per side: --src-tls-verify, --dest-tls-verify, --src-creds, --dest-creds,
 * --src-cert-dir, --dest-cert-dir.
 *
 * A command puts CLIENT_LONG_OPTIONS in its getopt_long table and passes every option it does
 * not know itself to client_opt(), which fills the source and destination transport options.
 */
#ifndef LADING_CLIENT_OPTS_H
#define LADING_CLIENT_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include "lading/transport.h"

enum {
  OPT_TLS_VERIFY = 0x1100,
  OPT_SRC_TLS_VERIFY,
  OPT_DEST_TLS_VERIFY,
  OPT_CERT_DIR,
  OPT_SRC_CERT_DIR,
  OPT_DEST_CERT_DIR,
  OPT_CREDS,
  OPT_SRC_CREDS,
  OPT_DEST_CREDS,
  OPT_AUTHFILE,
  OPT_RETRY_TIMES,
  OPT_CHUNK_SIZE,
};

#define CLIENT_LONG_OPTIONS                                                  \
  {"tls-verify", optional_argument, NULL, OPT_TLS_VERIFY},                   \
      {"src-tls-verify", optional_argument, NULL, OPT_SRC_TLS_VERIFY},       \
      {"dest-tls-verify", optional_argument, NULL, OPT_DEST_TLS_VERIFY},     \
      {"cert-dir", required_argument, NULL, OPT_CERT_DIR},                   \
      {"src-cert-dir", required_argument, NULL, OPT_SRC_CERT_DIR},           \
      {"dest-cert-dir", required_argument, NULL, OPT_DEST_CERT_DIR},         \
      {"creds", required_argument, NULL, OPT_CREDS},                         \
      {"src-creds", required_argument, NULL, OPT_SRC_CREDS},                 \
      {"dest-creds", required_argument, NULL, OPT_DEST_CREDS},               \
      {"authfile", required_argument, NULL, OPT_AUTHFILE},                   \
      {"retry-times", required_argument, NULL, OPT_RETRY_TIMES},             \
      {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE}

#define CLIENT_OPTIONS_HELP                                                                     \
  "Registry options (docker://):\n"                                                            \
  "      --tls-verify[=BOOL]  verify TLS (default true; false also allows plain http)\n"      \
  "      --src-tls-verify[=BOOL], --dest-tls-verify[=BOOL]  the same, for one side\n"         \
  "      --cert-dir DIR       CA (*.crt) and client (*.cert, *.key) files for TLS\n"           \
  "      --creds USER:PASS    credentials (default: the auth files, see 'lading login')\n"    \
  "      --src-creds, --dest-creds, --src-cert-dir, --dest-cert-dir  per side\n"             \
  "      --authfile FILE      auth file to read (default $REGISTRY_AUTH_FILE, ...)\n"         \
  "      --retry-times N      retries on connection errors, 429 and 5xx (default 5)\n"        \
  "      --chunk-size SIZE    upload blobs in PATCH chunks of SIZE (default: one PUT)\n"

/* Handles opt if it is a client option: 1 handled, 0 not ours, 2 usage error (printed). */
int client_opt(const char *cmd, int opt, const char *arg, ld_transport_opts *src,
               ld_transport_opts *dst);

/* Copies the registry fields set in from (by client_opt) into o (from cli_transport_opts). */
void client_opts_merge(ld_transport_opts *o, const ld_transport_opts *from);

#endif
