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
 *
 * The commands that copy images (copy, pull, push, mirror) also share --platform, -j/--jobs,
 * --format, -q and (copy, push) --compress: they put CLIENT_COPY_LONG_OPTIONS (and
 * CLIENT_COMPRESS_LONG_OPTION) in their table, CLIENT_COPY_SHORT in their short options, and
 * hand what they do not know to client_copy_opt(), which also takes the registry options for
 * the sides the command has. Each command file then holds only its own options and usage.
 */
#ifndef LADING_CLIENT_OPTS_H
#define LADING_CLIENT_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include "cli.h"
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
  OPT_PLATFORM,
  OPT_FORMAT,
  OPT_COMPRESS,
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

/* The options of the copying commands. */
#define CLIENT_COPY_SHORT "j:q"
#define CLIENT_COPY_LONG_OPTIONS                                 \
  {"platform", required_argument, NULL, OPT_PLATFORM},           \
      {"jobs", required_argument, NULL, 'j'},                    \
      {"format", required_argument, NULL, OPT_FORMAT},           \
      {"quiet", no_argument, NULL, 'q'}, CLIENT_LONG_OPTIONS
#define CLIENT_COMPRESS_LONG_OPTION {"compress", required_argument, NULL, OPT_COMPRESS}

#define CLIENT_COPY_HELP                                                                   \
  "      --platform OS/ARCH[/VARIANT]  only this platform of an index (default: all)\n"  \
  "  -j, --jobs N              blobs in transfer at once (default 4, at most 32)\n"          \
  "      --format FORMAT       table (default) or json\n"                                  \
  "  -q, --quiet               print nothing on success\n"
#define CLIENT_COMPRESS_HELP \
  "      --compress gzip|zstd  recompress layers that are not already so\n"

/* Which sides of a copy the registry options of a command reach. */
enum { CLIENT_SRC = 1, CLIENT_DST = 2 };

typedef struct client_copy_args {
  const char *platform_s; /* --platform as given */
  ld_platform platform;   /* parsed by client_copy_opts */
  int jobs;               /* 0: the default */
  int compress;           /* ld_compression; 0: keep */
  cli_format fmt;
  bool quiet;
  ld_transport_opts src, dst; /* registry options, per side */
} client_copy_args;

void client_copy_args_init(client_copy_args *a);
void client_copy_args_clear(client_copy_args *a);
/* The summary of a finished copy as the arguments ask: JSON, else one line unless -q. */
void client_copy_report(const client_copy_args *a, const char *src, const char *dst,
                        const ld_copy_result *r, double secs);
/* Handles opt if it is a copy or registry option: 1 handled, 0 not ours, 2 usage error
 * (printed). sides: CLIENT_SRC and/or CLIENT_DST. */
int client_copy_opt(const char *cmd, int opt, const char *arg, client_copy_args *a, int sides);
/* Fills co from a (platform parsed here; jobs, compress, retries, quiet). */
int client_copy_opts(client_copy_args *a, ld_copy_opts *co, ld_error **err);

/* Handles opt if it is a client option: 1 handled, 0 not ours, 2 usage error (printed). */
int client_opt(const char *cmd, int opt, const char *arg, ld_transport_opts *src,
               ld_transport_opts *dst);

/* Copies the registry fields set in from (by client_opt) into o (from cli_transport_opts). */
void client_opts_merge(ld_transport_opts *o, const ld_transport_opts *from);

#endif
