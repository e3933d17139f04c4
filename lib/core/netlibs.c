/* Network libraries loaded on first use: libcurl (registry client, ADD <url>) and libmicrohttpd
 * (lading serve).
 *
 * Why: most commands (analyze, scan, images, df, build without URLs) never touch the network,
 * yet linking libcurl and libmicrohttpd makes every start map and relocate their dependency
 * closure (GnuTLS, Kerberos, LDAP, SASL, nghttp2, libidn2, libssh2, p11-kit...): 30 of the 52
 * shared objects, about 15 ms of CPU per process here — a tenth of a small image's whole scan.
 * systemd loads its optional libraries with dlopen for the same reason. libssl is left out the
 * same way (about 2 ms per start): lading's one call into it, from libcurl's TLS context
 * callback, resolves through libcurl's own dependency on it.
 *
 * How: lading is not linked with -lcurl / -lmicrohttpd. This file defines the functions of
 * theirs that lading calls, under their own names and prototypes (from the libraries' headers),
 * so every caller stays plain libcurl / libmicrohttpd code. The first call of either library
 * dlopen()s it by soname and resolves every symbol at once; a missing library or symbol ends the
 * process with one line naming it, as the dynamic linker would have at start.
 * A function lading starts to use must be added here; until it is, the link fails naming it.
 *
 * Variadic entry points: MHD_start_daemon forwards its va_list to MHD_start_daemon_va;
 * curl_easy_setopt reads its one argument with the type libcurl's ABI gives the option's number
 * range (CURLOPTTYPE_LONG, OBJECTPOINT, FUNCTIONPOINT, OFF_T, BLOB); curl_easy_getinfo's is always
 * a pointer.
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <microhttpd.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* X(return type, name, (parameters), (arguments)) for the non-variadic functions. */
#define CURL_FUNCTIONS(X)                                                                          \
  X(CURLcode, curl_global_init, (long flags), (flags))                                              \
  X(CURL *, curl_easy_init, (void), ())                                                            \
  X(void, curl_easy_cleanup, (CURL * h), (h))                                                      \
  X(void, curl_easy_reset, (CURL * h), (h))                                                        \
  X(CURLcode, curl_easy_perform, (CURL * h), (h))                                                  \
  X(CURLcode, curl_easy_pause, (CURL * h, int mask), (h, mask))                                    \
  X(const char *, curl_easy_strerror, (CURLcode c), (c))                                           \
  X(char *, curl_easy_escape, (CURL * h, const char *s, int len), (h, s, len))                     \
  X(void, curl_free, (void *p), (p))                                                               \
  X(time_t, curl_getdate, (const char *s, const time_t *unused), (s, unused))                      \
  X(struct curl_slist *, curl_slist_append, (struct curl_slist * l, const char *s), (l, s))        \
  X(void, curl_slist_free_all, (struct curl_slist * l), (l))                                       \
  X(CURLM *, curl_multi_init, (void), ())                                                          \
  X(CURLMcode, curl_multi_cleanup, (CURLM * m), (m))                                               \
  X(CURLMcode, curl_multi_add_handle, (CURLM * m, CURL * h), (m, h))                               \
  X(CURLMcode, curl_multi_remove_handle, (CURLM * m, CURL * h), (m, h))                            \
  X(CURLMcode, curl_multi_perform, (CURLM * m, int *running), (m, running))                        \
  X(CURLMcode, curl_multi_poll,                                                                    \
    (CURLM * m, struct curl_waitfd * fds, unsigned n, int timeout_ms, int *numfds),                \
    (m, fds, n, timeout_ms, numfds))                                                               \
  X(CURLMsg *, curl_multi_info_read, (CURLM * m, int *left), (m, left))                          \
  /* libssl, loaded by libcurl: the --cert-dir CAs go into the TLS context's store */             \
  X(X509_STORE *, SSL_CTX_get_cert_store, (const SSL_CTX *ctx), (ctx))

#define MHD_FUNCTIONS(X)                                                                           \
  X(void, MHD_stop_daemon, (struct MHD_Daemon * d), (d))                                           \
  X(MHD_socket, MHD_quiesce_daemon, (struct MHD_Daemon * d), (d))                                  \
  X(const union MHD_DaemonInfo *, MHD_get_daemon_info,                                             \
    (struct MHD_Daemon * d, enum MHD_DaemonInfoType t, ...), (d, t))                               \
  X(const union MHD_ConnectionInfo *, MHD_get_connection_info,                                     \
    (struct MHD_Connection * c, enum MHD_ConnectionInfoType t, ...), (c, t))                       \
  X(const char *, MHD_lookup_connection_value,                                                     \
    (struct MHD_Connection * c, enum MHD_ValueKind k, const char *key), (c, k, key))               \
  X(enum MHD_Result, MHD_queue_response,                                                           \
    (struct MHD_Connection * c, unsigned int status, struct MHD_Response *r), (c, status, r))       \
  X(struct MHD_Response *, MHD_create_response_from_buffer,                                        \
    (size_t size, void *buf, enum MHD_ResponseMemoryMode mode), (size, buf, mode))                 \
  X(struct MHD_Response *, MHD_create_response_from_callback,                                      \
    (uint64_t size, size_t block, MHD_ContentReaderCallback crc, void *cls,                        \
     MHD_ContentReaderFreeCallback crfc),                                                          \
    (size, block, crc, cls, crfc))                                                                 \
  X(struct MHD_Response *, MHD_create_response_from_fd, (size_t size, int fd), (size, fd))         \
  X(struct MHD_Response *, MHD_create_response_from_fd64, (uint64_t size, int fd), (size, fd))     \
  X(struct MHD_Response *, MHD_create_response_from_fd_at_offset64,                                \
    (uint64_t size, int fd, uint64_t offset), (size, fd, offset))                                  \
  X(enum MHD_Result, MHD_add_response_header,                                                      \
    (struct MHD_Response * r, const char *h, const char *v), (r, h, v))                            \
  X(void, MHD_destroy_response, (struct MHD_Response * r), (r))

#define DECLARE_POINTER(ret, name, params, args) static ret(*real_##name) params;
CURL_FUNCTIONS(DECLARE_POINTER)
MHD_FUNCTIONS(DECLARE_POINTER)
static CURLcode (*real_curl_easy_setopt)(CURL *, CURLoption, ...);
static CURLcode (*real_curl_easy_getinfo)(CURL *, CURLINFO, ...);
static struct MHD_Daemon *(*real_MHD_start_daemon_va)(unsigned int, uint16_t, MHD_AcceptPolicyCallback,
                                                      void *, MHD_AccessHandlerCallback, void *,
                                                      va_list);

static void *open_library(const char *soname, const char *package) {
  void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "lading: cannot load %s (%s); install %s\n", soname, dlerror(), package);
    exit(1);
  }
  return h;
}

static void *symbol(void *lib, const char *soname, const char *name) {
  void *p = dlsym(lib, name);
  if (!p) {
    fprintf(stderr, "lading: %s has no symbol %s\n", soname, name);
    exit(1);
  }
  return p;
}

#define RESOLVE(ret, name, params, args) *(void **) &real_##name = symbol(lib, soname, #name);

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void load_curl(void) {
  const char *soname = "libcurl.so.4";
  void *lib = open_library(soname, "libcurl4");
  CURL_FUNCTIONS(RESOLVE)
  *(void **) &real_curl_easy_setopt = symbol(lib, soname, "curl_easy_setopt");
  *(void **) &real_curl_easy_getinfo = symbol(lib, soname, "curl_easy_getinfo");
}

static pthread_once_t mhd_once = PTHREAD_ONCE_INIT;
static void load_mhd(void) {
  const char *soname = "libmicrohttpd.so.12";
  void *lib = open_library(soname, "libmicrohttpd12");
  MHD_FUNCTIONS(RESOLVE)
  *(void **) &real_MHD_start_daemon_va = symbol(lib, soname, "MHD_start_daemon_va");
}

#define CURL_WRAPPER(ret, name, params, args)                                                      \
  ret name params {                                                                                \
    pthread_once(&curl_once, load_curl);                                                           \
    return real_##name args;                                                                       \
  }
#define MHD_WRAPPER(ret, name, params, args)                                                       \
  ret name params {                                                                                \
    pthread_once(&mhd_once, load_mhd);                                                             \
    return real_##name args;                                                                       \
  }
CURL_FUNCTIONS(CURL_WRAPPER)
MHD_FUNCTIONS(MHD_WRAPPER)

CURLcode curl_easy_setopt(CURL *h, CURLoption option, ...) {
  pthread_once(&curl_once, load_curl);
  va_list ap;
  va_start(ap, option);
  CURLcode rc;
  if (option < CURLOPTTYPE_OBJECTPOINT) {
    rc = real_curl_easy_setopt(h, option, va_arg(ap, long));
  } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
    rc = real_curl_easy_setopt(h, option, va_arg(ap, void *));
  } else if (option < CURLOPTTYPE_OFF_T) {
    rc = real_curl_easy_setopt(h, option, va_arg(ap, void (*)(void)));
  } else if (option < CURLOPTTYPE_BLOB) {
    rc = real_curl_easy_setopt(h, option, va_arg(ap, curl_off_t));
  } else {
    rc = real_curl_easy_setopt(h, option, va_arg(ap, void *));
  }
  va_end(ap);
  return rc;
}

CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...) {
  pthread_once(&curl_once, load_curl);
  va_list ap;
  va_start(ap, info);
  void *out = va_arg(ap, void *);
  va_end(ap);
  return real_curl_easy_getinfo(h, info, out);
}

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
                                    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls, ...) {
  pthread_once(&mhd_once, load_mhd);
  va_list ap;
  va_start(ap, dh_cls);
  struct MHD_Daemon *d = real_MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
  va_end(ap);
  return d;
}
