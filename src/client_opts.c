/* Registry options shared by the client commands, and the options of the copying commands
 * (see client_opts.h). */
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "client_opts.h"
#include "client_progress.h"
#include "lading/json.h"
#include "lading/layer.h"
#include "lading/util.h"

static int parse_bool(const char *cmd, const char *name, const char *arg, bool *out) {
  if (!arg || !strcmp(arg, "true") || !strcmp(arg, "1")) *out = true;
  else if (!strcmp(arg, "false") || !strcmp(arg, "0")) *out = false;
  else return cli_usage_error(cmd, "--%s: expected true or false, not '%s'", name, arg);
  return 0;
}

static int set_tls(const char *cmd, const char *name, const char *arg, ld_transport_opts *o) {
  if (!o) return 0;
  bool v = true;
  if (parse_bool(cmd, name, arg, &v)) return 2;
  o->tls_verify_set = true;
  o->tls_verify = v;
  return 0;
}

int client_opt(const char *cmd, int opt, const char *arg, ld_transport_opts *src,
               ld_transport_opts *dst) {
  ld_transport_opts *both[2] = {src, dst};
  switch (opt) {
  case OPT_TLS_VERIFY:
    for (int i = 0; i < 2; i++)
      if (set_tls(cmd, "tls-verify", arg, both[i])) return 2;
    return 1;
  case OPT_SRC_TLS_VERIFY: return set_tls(cmd, "src-tls-verify", arg, src) ? 2 : 1;
  case OPT_DEST_TLS_VERIFY: return set_tls(cmd, "dest-tls-verify", arg, dst) ? 2 : 1;
  case OPT_CERT_DIR:
    for (int i = 0; i < 2; i++)
      if (both[i]) both[i]->cert_dir = arg;
    return 1;
  case OPT_SRC_CERT_DIR: if (src) src->cert_dir = arg; return 1;
  case OPT_DEST_CERT_DIR: if (dst) dst->cert_dir = arg; return 1;
  case OPT_CREDS:
  case OPT_SRC_CREDS:
  case OPT_DEST_CREDS:
    if (!strchr(arg, ':')) return cli_usage_error(cmd, "--creds: expected USER:PASSWORD");
    if (opt != OPT_DEST_CREDS && src) src->creds = arg;
    if (opt != OPT_SRC_CREDS && dst) dst->creds = arg;
    return 1;
  case OPT_AUTHFILE:
    for (int i = 0; i < 2; i++)
      if (both[i]) both[i]->authfile = arg;
    return 1;
  case OPT_RETRY_TIMES: {
    char *end;
    long n = strtol(arg, &end, 10);
    if (*end || n < 0 || n > 100) return cli_usage_error(cmd, "--retry-times: expected 0..100");
    for (int i = 0; i < 2; i++)
      if (both[i]) both[i]->retries = n ? (int) n : -1;
    return 1;
  }
  case OPT_CHUNK_SIZE: {
    uint64_t sz;
    if (ld_parse_size(arg, &sz) < 0 || sz < 4096)
      return cli_usage_error(cmd, "--chunk-size: expected a size of at least 4096 bytes");
    for (int i = 0; i < 2; i++)
      if (both[i]) both[i]->chunk_size = sz;
    return 1;
  }
  default: return 0;
  }
}

void client_opts_merge(ld_transport_opts *o, const ld_transport_opts *from) {
  o->tls_verify_set = from->tls_verify_set;
  o->tls_verify = from->tls_verify;
  o->cert_dir = from->cert_dir;
  o->creds = from->creds;
  o->authfile = from->authfile;
  o->retries = from->retries;
  o->chunk_size = from->chunk_size;
}

void client_copy_args_init(client_copy_args *a) {
  memset(a, 0, sizeof *a);
  a->quiet = cli_quiet;
}

void client_copy_args_clear(client_copy_args *a) { ld_platform_clear(&a->platform); }

int client_copy_opt(const char *cmd, int opt, const char *arg, client_copy_args *a, int sides) {
  switch (opt) {
  case OPT_PLATFORM: a->platform_s = arg; return 1;
  case 'j': {
    char *end;
    long n = strtol(arg, &end, 10);
    if (*end || n < 1 || n > 32) return cli_usage_error(cmd, "--jobs: expected 1..32");
    a->jobs = (int) n;
    return 1;
  }
  case OPT_FORMAT: return cli_parse_format(cmd, arg, &a->fmt) ? 2 : 1;
  case 'q': a->quiet = true; return 1;
  case OPT_COMPRESS:
    if (!strcmp(arg, "gzip")) a->compress = LD_COMP_GZIP;
    else if (!strcmp(arg, "zstd")) a->compress = LD_COMP_ZSTD;
    else return cli_usage_error(cmd, "--compress: expected gzip or zstd");
    return 1;
  default:
    return client_opt(cmd, opt, arg, sides & CLIENT_SRC ? &a->src : NULL,
                      sides & CLIENT_DST ? &a->dst : NULL);
  }
}

int client_copy_opts(client_copy_args *a, ld_copy_opts *co, ld_error **err) {
  memset(co, 0, sizeof *co);
  if (a->platform_s && ld_platform_parse(a->platform_s, &a->platform, err) < 0) return -1;
  co->platform = a->platform_s ? &a->platform : NULL;
  co->jobs = a->jobs;
  co->compress = a->compress;
  co->retries = a->src.retries ? a->src.retries : a->dst.retries;
  co->quiet = a->quiet;
  return 0;
}

void client_copy_report(const client_copy_args *a, const char *src, const char *dst,
                        const ld_copy_result *r, double secs) {
  if (a->fmt == CLI_FORMAT_JSON) {
    json_t *j = client_result_json(src, dst, r, secs);
    ld_json_print(stdout, j);
    json_decref(j);
  } else if (!a->quiet) {
    client_progress_line(stdout, src, dst, r, secs);
  }
}
