/* lading build: Dockerfile → image in the store.
 *
 * Thin: options into ld_build_opts, ld_build(), then the closing report (image digest, layers,
 * bytes, cache hits, and the Dockerfile lines that left wasted bytes behind) as text or JSON.
 * SOURCE_DATE_EPOCH is honoured when --timestamp is not given.
 */
#include <getopt.h>
#include <string.h>
#include "cli.h"
#include "lading/build.h"
#include "lading/json.h"
#include "lading/util.h"

static void usage(FILE *f) {
  fputs("Usage: lading build [OPTIONS] CONTEXT\n"
        "Build an image from a Dockerfile (or Containerfile) into the store.\n\n"
        "  -f, --file PATH          Dockerfile (default CONTEXT/Dockerfile, else CONTEXT/Containerfile)\n"
        "  -t, --tag NAME           name the result (repeatable)\n"
        "      --target STAGE       build up to this stage\n"
        "      --build-arg K[=V]    set a build argument (K alone: from the environment);\n"
        "                           SOURCE_DATE_EPOCH=T acts as --timestamp, HTTP_PROXY & co.\n"
        "                           reach RUN without an ARG line and stay out of the cache key\n"
        "      --label K=V          add a label to the image\n"
        "      --no-cache           do not use the layer cache\n"
        "      --squash             one layer for the final stage's own steps\n"
        "      --network MODE       host (default) or none, for RUN (RUN --network overrides)\n"
        "      --secret id=ID,src=FILE  a secret for RUN --mount=type=secret (also id=ID,env=VAR;\n"
        "                           repeatable); never stored in the image or the cache\n"
        "      --ssh default|ID=SOCKET  an ssh agent socket for RUN --mount=type=ssh (default:\n"
        "                           $SSH_AUTH_SOCK; repeatable)\n"
        "      --timestamp T        Unix time for every date in the image (reproducible);\n"
        "                           default $SOURCE_DATE_EPOCH when set\n"
        "      --platform P         only the host's (linux/amd64) is supported\n"
        "      --iidfile FILE       write the image digest to FILE\n"
        "      --format FMT         table (default) or json for the closing report\n"
        "  -q, --quiet              no progress or RUN output\n"
        "  -h, --help               show this help\n",
        f);
}

static void push(const char ***v, size_t *n, const char *s) {
  *v = ld_xrealloc(*v, (*n + 1) * sizeof **v);
  (*v)[(*n)++] = s;
}

static void report(const ld_build_result *r, cli_format fmt, bool quiet) {
  if (fmt == CLI_FORMAT_JSON) {
    json_t *w = json_array();
    for (size_t i = 0; i < r->n_waste; i++)
      json_array_append_new(w, json_pack("{s:i, s:s, s:s, s:I, s:s}", "line", r->waste[i].line, "instruction",
                                         r->waste[i].instruction, "path", r->waste[i].path, "bytes",
                                         (json_int_t) r->waste[i].bytes, "fix", r->waste[i].fix));
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "digest", r->digest, "config", r->config_digest,
                          "layers", (json_int_t) r->n_layers, "bytes", (json_int_t) r->layers_bytes, "steps",
                          (json_int_t) r->steps, "cached", (json_int_t) r->cached, "waste", w);
    ld_json_print(stdout, j);
    json_decref(j);
    return;
  }
  char hs[32];
  for (size_t i = 0; !quiet && i < r->n_waste; i++)
    fprintf(stderr, "waste: line %d %s left %s: %s (fix: %s)\n", r->waste[i].line, r->waste[i].instruction,
            r->waste[i].path, ld_human_size(r->waste[i].bytes, hs, sizeof hs), r->waste[i].fix);
  if (!quiet) fprintf(stderr, "image: %zu layers, %s compressed\n", r->n_layers, ld_human_size(r->layers_bytes, hs, sizeof hs));
  printf("%s\n", r->digest);
}

int cmd_build(int argc, char **argv) {
  enum { O_TARGET = 256, O_BUILD_ARG, O_LABEL, O_NO_CACHE, O_SQUASH, O_NETWORK, O_TIMESTAMP, O_PLATFORM, O_IIDFILE, O_FORMAT, O_SECRET, O_SSH };
  static const struct option opts[] = {
      {"file", required_argument, NULL, 'f'},       {"tag", required_argument, NULL, 't'},
      {"target", required_argument, NULL, O_TARGET}, {"build-arg", required_argument, NULL, O_BUILD_ARG},
      {"label", required_argument, NULL, O_LABEL},   {"no-cache", no_argument, NULL, O_NO_CACHE},
      {"squash", no_argument, NULL, O_SQUASH},       {"network", required_argument, NULL, O_NETWORK},
      {"timestamp", required_argument, NULL, O_TIMESTAMP}, {"platform", required_argument, NULL, O_PLATFORM},
      {"iidfile", required_argument, NULL, O_IIDFILE}, {"format", required_argument, NULL, O_FORMAT},
      {"secret", required_argument, NULL, O_SECRET}, {"ssh", required_argument, NULL, O_SSH},
      {"quiet", no_argument, NULL, 'q'},             {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  ld_build_opts o = {.timestamp = -1, .quiet = cli_quiet};
  cli_format fmt = CLI_FORMAT_TABLE;
  const char *sde = getenv("SOURCE_DATE_EPOCH");
  if (sde && *sde) o.timestamp = strtoll(sde, NULL, 10);
  int c, rc = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "f:t:qh", opts, NULL)) != -1) {
    switch (c) {
      case 'f': o.dockerfile = optarg; break;
      case 't': push(&o.tags, &o.n_tags, optarg); break;
      case O_TARGET: o.target = optarg; break;
      case O_BUILD_ARG: push(&o.build_args, &o.n_build_args, optarg); break;
      case O_LABEL: push(&o.labels, &o.n_labels, optarg); break;
      case O_SECRET:
        if (strncmp(optarg, "id=", 3) && !strstr(optarg, ",id="))
          rc = cli_usage_error("build", "--secret %s: expected id=ID,src=FILE or id=ID,env=VAR", optarg);
        else push(&o.secrets, &o.n_secrets, optarg);
        break;
      case O_SSH: push(&o.ssh, &o.n_ssh, optarg); break;
      case O_NO_CACHE: o.no_cache = true; break;
      case O_SQUASH: o.squash = true; break;
      case O_NETWORK:
        if (!strcmp(optarg, "none")) o.network_none = true;
        else if (strcmp(optarg, "host")) rc = cli_usage_error("build", "--network %s: host or none", optarg);
        break;
      case O_TIMESTAMP: {
        char *end;
        o.timestamp = strtoll(optarg, &end, 10);
        if (*end || o.timestamp < 0) rc = cli_usage_error("build", "--timestamp %s: seconds since the epoch", optarg);
        break;
      }
      case O_PLATFORM: o.platform = optarg; break;
      case O_IIDFILE: o.iidfile = optarg; break;
      case O_FORMAT: if (cli_parse_format("build", optarg, &fmt)) rc = 2; break;
      case 'q': o.quiet = true; break;
      case 'h': usage(stdout); goto out;
      default: rc = cli_usage_error("build", "unknown option"); break;
    }
    if (rc) goto out;
  }
  for (size_t i = 0; o.timestamp < 0 && i < o.n_build_args; i++) /* BuildKit reads it as a build arg too */
    if (!strncmp(o.build_args[i], "SOURCE_DATE_EPOCH=", 18)) {
      char *end;
      o.timestamp = strtoll(o.build_args[i] + 18, &end, 10);
      if (*end || o.timestamp < 0) {
        rc = cli_usage_error("build", "--build-arg %s: seconds since the epoch", o.build_args[i]);
        goto out;
      }
    }
  if (optind != argc - 1) {
    rc = cli_usage_error("build", "expected one build context directory");
    goto out;
  }
  o.context_dir = argv[optind];
  ld_store *store = NULL;
  ld_error *err = NULL;
  ld_build_result res;
  if (cli_open_store(&store, &err) < 0 || ld_build(store, &o, &res, &err) < 0) {
    rc = cli_fail(err);
  } else {
    report(&res, fmt, o.quiet);
  }
  if (store) {
    ld_build_result_clear(&res);
    ld_store_close(store);
  }
out:
  free(o.tags);
  free(o.build_args);
  free(o.labels);
  free(o.secrets);
  free(o.ssh);
  return rc;
}
