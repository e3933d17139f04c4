/* lading serve: run the OCI distribution registry (lib/registry) until SIGTERM or SIGINT.
 *
 * The signals are blocked before the server starts, so every worker thread inherits the mask
 * and the main thread alone receives them with sigwait(); then the server drains requests in
 * flight (up to --drain seconds) and exits 0. Access log: one line per request on stderr
 * (or --access-log FILE; `-q` or --access-log off for none).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "lading/registry.h"
#include "lading/store.h"
#include "lading/util.h"

static void usage(FILE *f) {
  fprintf(f,
          "Usage: lading serve [OPTIONS]\n\n"
          "Run an OCI distribution-spec 1.1 registry (pull, push, mount, tags, catalog,\n"
          "delete, referrers). Stops cleanly on SIGTERM/SIGINT.\n\n"
          "Options:\n"
          "  --addr HOST:PORT       listen address (default 127.0.0.1:5000)\n"
          "  --root DIR             storage root (default $LADING_ROOT/registry, else\n"
          "                         /var/lib/lading/registry as root)\n"
          "  --read-only            refuse pushes and deletes (405 UNSUPPORTED)\n"
          "  --tls-cert FILE        PEM certificate; serve HTTPS (with --tls-key)\n"
          "  --tls-key FILE         PEM private key\n"
          "  --htpasswd FILE        require Basic auth; bcrypt entries (htpasswd -Bbn USER PASS)\n"
          "  --access FILE          per-repository access list (see docs/serve.md)\n"
          "  --threads N            worker threads (default 2 per CPU, at least 4)\n"
          "  --upload-ttl DURATION  idle upload sessions expire after this (default 1h)\n"
          "  --max-manifest SIZE    manifest size cap (default 4MiB, the maximum)\n"
          "  --sendfile             send blobs with sendfile(2) instead of pread(2)\n"
          "  --access-log FILE|off  request log (default stderr; off with -q)\n"
          "  --drain SECONDS        on SIGTERM, wait this long for requests (default 30)\n"
          "  --store DIR|none       record manifest GETs of images this lading store also\n"
          "                         holds as their use (default: the store the default\n"
          "                         --root lives in; none with an explicit --root)\n"
          "  -h, --help             this help\n");
}

enum { O_ADDR = 256, O_ROOT, O_RO, O_CERT, O_KEY, O_HTPASSWD, O_ACCESS, O_THREADS, O_TTL,
       O_MAXMAN, O_LOG, O_DRAIN, O_STORE, O_SENDFILE };

static const struct option options[] = {
    {"addr", required_argument, 0, O_ADDR},         {"root", required_argument, 0, O_ROOT},
    {"read-only", no_argument, 0, O_RO},            {"tls-cert", required_argument, 0, O_CERT},
    {"tls-key", required_argument, 0, O_KEY},       {"htpasswd", required_argument, 0, O_HTPASSWD},
    {"access", required_argument, 0, O_ACCESS},     {"threads", required_argument, 0, O_THREADS},
    {"upload-ttl", required_argument, 0, O_TTL},    {"max-manifest", required_argument, 0, O_MAXMAN},
    {"access-log", required_argument, 0, O_LOG},    {"drain", required_argument, 0, O_DRAIN},
    {"store", required_argument, 0, O_STORE},      {"sendfile", no_argument, 0, O_SENDFILE},
    {"help", no_argument, 0, 'h'},                  {0, 0, 0, 0},
};

static int open_log(const char *arg, FILE **out) {
  *out = cli_quiet ? NULL : stderr;
  if (!arg) return 0;
  if (!strcmp(arg, "off")) *out = NULL;
  else if (!strcmp(arg, "-")) *out = stderr;
  else if (!(*out = fopen(arg, "a"))) return -1;
  if (*out) setvbuf(*out, NULL, _IOLBF, 0);
  return 0;
}

int cmd_serve(int argc, char **argv) {
  ld_registry_opts o = {0};
  const char *log_arg = NULL, *store_arg = NULL;
  ld_autofree char *default_store = NULL;
  long drain = 30;
  ld_autofree char *default_root = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    switch (c) {
    case O_ADDR: o.addr = optarg; break;
    case O_ROOT: o.root = optarg; break;
    case O_RO: o.read_only = true; break;
    case O_CERT: o.tls_cert = optarg; break;
    case O_KEY: o.tls_key = optarg; break;
    case O_HTPASSWD: o.htpasswd = optarg; break;
    case O_ACCESS: o.access = optarg; break;
    case O_THREADS: {
      char *end;
      long n = strtol(optarg, &end, 10);
      if (*end || n < 1 || n > 1024)
        return cli_usage_error("serve", "--threads %s: expected 1..1024", optarg);
      o.threads = (unsigned) n;
      break;
    }
    case O_TTL:
      if (ld_parse_duration(optarg, &o.upload_ttl) < 0 || o.upload_ttl <= 0)
        return cli_usage_error("serve", "--upload-ttl %s: expected a duration like 90s, 1h", optarg);
      break;
    case O_MAXMAN: {
      uint64_t v;
      if (ld_parse_size(optarg, &v) < 0 || v == 0 || v > (4u << 20))
        return cli_usage_error("serve", "--max-manifest %s: expected a size up to 4MiB", optarg);
      o.manifest_max = (size_t) v;
      break;
    }
    case O_LOG: log_arg = optarg; break;
    case O_STORE: store_arg = optarg; break;
    case O_SENDFILE: o.sendfile = true; break;
    case O_DRAIN: {
      char *end;
      drain = strtol(optarg, &end, 10);
      if (*end || drain < 0) return cli_usage_error("serve", "--drain %s: expected seconds", optarg);
      break;
    }
    case 'h': usage(stdout); return 0;
    default: return cli_usage_error("serve", "unknown option");
    }
  }
  if (optind < argc) return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
  if (store_arg) o.store_root = strcmp(store_arg, "none") ? store_arg : NULL;
  else if (!o.root) o.store_root = default_store = cli_root ? ld_xstrdup(cli_root) : ld_store_default_root();
  if (!o.root && cli_root) o.root = default_root = ld_xasprintf("%s/registry", cli_root);
  if (open_log(log_arg, &o.access_log) < 0) {
    fprintf(stderr, "lading: --access-log %s: cannot open\n", log_arg);
    return 1;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  ld_registry *r;
  ld_error *err = NULL;
  if (ld_registry_start(&o, &r, &err) < 0) return cli_fail(err);
  if (!cli_quiet)
    fprintf(stderr, "lading: serving on %s://%s (port %u)\n", o.tls_cert ? "https" : "http",
            o.addr ? o.addr : "127.0.0.1:5000", ld_registry_port(r));
  int sig = 0;
  sigwait(&set, &sig);
  if (!cli_quiet) fprintf(stderr, "lading: %s: draining and stopping\n", strsignal(sig));
  ld_registry_stop(r, (int) drain);
  if (o.access_log && o.access_log != stderr) fclose(o.access_log);
  return 0;
}
