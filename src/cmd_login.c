/* lading login: check credentials against a registry and store them in the containers auth.json
 * (the file podman, skopeo and buildah read): --authfile, else $REGISTRY_AUTH_FILE, else
 * $XDG_RUNTIME_DIR/containers/auth.json. The password comes from --password, --password-stdin,
 * or a prompt without echo on a terminal. --get-login prints the stored user instead. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "cli.h"
#include "client_opts.h"
#include "lading/registry_client.h"
#include "lading/util.h"

static void login_usage(FILE *f) {
  fprintf(f, "Usage: lading login [OPTIONS] REGISTRY\n\n"
             "Check credentials against REGISTRY and store them in the containers auth.json.\n\n"
             "Options:\n"
             "  -u, --username USER      user name (prompted on a terminal if missing)\n"
             "  -p, --password PASS      password (visible to ps: prefer --password-stdin)\n"
             "      --password-stdin     read the password from standard input\n"
             "      --get-login          print the user stored for REGISTRY and exit\n"
             "      --authfile FILE      auth file to write\n"
             "      --tls-verify[=BOOL], --cert-dir DIR  as for copy\n"
             "  -h, --help               show this help\n");
}

static char *read_line(FILE *f, bool echo_off) {
  struct termios old, noecho;
  bool tty = echo_off && isatty(fileno(f)) && tcgetattr(fileno(f), &old) == 0;
  if (tty) {
    noecho = old;
    noecho.c_lflag &= ~(tcflag_t) ECHO;
    tcsetattr(fileno(f), TCSAFLUSH, &noecho);
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, f);
  if (tty) {
    tcsetattr(fileno(f), TCSAFLUSH, &old);
    fputc('\n', stderr);
  }
  if (n < 0) {
    free(line);
    return NULL;
  }
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
  return line;
}

static const char *strip_scheme(const char *r) {
  if (ld_str_has_prefix(r, "docker://")) return r + 9;
  if (ld_str_has_prefix(r, "https://")) return r + 8;
  if (ld_str_has_prefix(r, "http://")) return r + 7;
  return r;
}

int cmd_login(int argc, char **argv) {
  static const struct option longopts[] = {
      {"username", required_argument, NULL, 'u'}, {"password", required_argument, NULL, 'p'},
      {"password-stdin", no_argument, NULL, 'S'}, {"get-login", no_argument, NULL, 'G'},
      {"help", no_argument, NULL, 'h'},           CLIENT_LONG_OPTIONS,
      {0},
  };
  const char *user = NULL, *pass_arg = NULL;
  bool pass_stdin = false, get_login = false;
  ld_transport_opts o;
  cli_transport_opts(&o, NULL);
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "u:p:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'u': user = optarg; break;
    case 'p': pass_arg = optarg; break;
    case 'S': pass_stdin = true; break;
    case 'G': get_login = true; break;
    case 'h': login_usage(stdout); return 0;
    default: {
      int h = client_opt("login", c, optarg, &o, NULL);
      if (h == 2) return 2;
      if (h == 0) return cli_usage_error("login", "unknown option");
    }
    }
  }
  if (argc - optind != 1) return cli_usage_error("login", "expected one REGISTRY");
  if (pass_arg && pass_stdin)
    return cli_usage_error("login", "--password and --password-stdin are exclusive");
  char *registry = ld_auth_key(strip_scheme(argv[optind]));
  ld_error *err = NULL;
  if (get_login) {
    char *u, *p;
    int rc = ld_auth_lookup(o.authfile, registry, NULL, &u, &p, NULL, &err);
    if (rc == 0 && !u) rc = ld_err(&err, LD_ENOTFOUND, "not logged in to %s", registry);
    if (rc == 0) printf("%s\n", u);
    free(u);
    free(p);
    free(registry);
    return rc < 0 ? cli_fail(err) : 0;
  }
  char *user_buf = NULL, *pass = NULL;
  if (!user) {
    if (pass_stdin || !isatty(0)) {
      free(registry);
      return cli_usage_error("login", "--username is required");
    }
    fprintf(stderr, "Username: ");
    user = user_buf = read_line(stdin, false);
  }
  if (pass_arg) pass = ld_xstrdup(pass_arg);
  else if (pass_stdin) pass = read_line(stdin, false);
  else if (isatty(0)) {
    fprintf(stderr, "Password: ");
    pass = read_line(stdin, true);
  }
  int rc = 0;
  if (!user || !*user || !pass) rc = ld_err(&err, LD_EUSAGE, "login %s: user name and password are required", registry);
  char *creds = rc == 0 ? ld_xasprintf("%s:%s", user, pass) : NULL;
  ld_registry_opts ro = {.tls_verify_set = o.tls_verify_set, .tls_verify = o.tls_verify,
                         .cert_dir = o.cert_dir, .creds = creds, .retries = o.retries};
  ld_registry *reg = NULL;
  const char *host = registry;
  char hostbuf[256];
  const char *slash = strchr(registry, '/');
  if (slash && (size_t) (slash - registry) < sizeof hostbuf) {
    snprintf(hostbuf, sizeof hostbuf, "%.*s", (int) (slash - registry), registry);
    host = hostbuf;
  }
  if (rc == 0) rc = ld_registry_open(host, &ro, &reg, &err);
  if (rc == 0) rc = ld_registry_check_login(reg, &err);
  char *file = ld_auth_default_file(o.authfile);
  if (rc == 0) rc = ld_auth_store(file, registry, user, pass, &err);
  if (rc == 0 && !cli_quiet) printf("Login Succeeded\n");
  ld_registry_free(reg);
  if (pass) explicit_bzero(pass, strlen(pass));
  if (creds) explicit_bzero(creds, strlen(creds));
  free(pass);
  free(creds);
  free(user_buf);
  free(file);
  free(registry);
  return rc < 0 ? cli_fail(err) : 0;
}
