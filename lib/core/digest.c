/* Digests over OpenSSL EVP. The hasher keeps a byte count because every verification compares
 * size as well as digest: a blob of the right hash prefix but the wrong length is still wrong. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>
#include "lading/digest.h"
#include "lading/util.h"

struct ld_hasher {
  EVP_MD_CTX *ctx;
  ld_digest_algo algo;
  uint64_t bytes;
};

static const char *algo_name(ld_digest_algo a) { return a == LD_SHA512 ? "sha512" : "sha256"; }

int ld_digest_validate(const char *s, ld_error **err) {
  if (!s) return ld_err(err, LD_EFORMAT, "invalid digest: missing");
  size_t hexlen;
  const char *hex;
  if (!strncmp(s, "sha256:", 7)) {
    hexlen = 64;
    hex = s + 7;
  } else if (!strncmp(s, "sha512:", 7)) {
    hexlen = 128;
    hex = s + 7;
  } else {
    const char *colon = strchr(s, ':');
    if (!colon) return ld_err(err, LD_EFORMAT, "invalid digest \"%.80s\": expected algorithm:hex", s);
    return ld_err(err, LD_EFORMAT, "invalid digest \"%.80s\": unsupported algorithm \"%.*s\"", s,
                  (int) (colon - s > 20 ? 20 : colon - s), s);
  }
  size_t n = strlen(hex);
  if (n != hexlen)
    return ld_err(err, LD_EFORMAT, "invalid digest \"%.80s\": %zu hex digits, expected %zu", s, n,
                  hexlen);
  for (size_t i = 0; i < n; i++)
    if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
      return ld_err(err, LD_EFORMAT, "invalid digest \"%.80s\": not lowercase hex", s);
  return 0;
}

ld_digest_algo ld_digest_algo_of(const char *d) {
  return !strncmp(d, "sha512:", 7) ? LD_SHA512 : LD_SHA256;
}

const char *ld_digest_hex(const char *d) {
  const char *c = strchr(d, ':');
  return c ? c + 1 : d;
}

ld_hasher *ld_hasher_new(ld_digest_algo algo) {
  ld_hasher *h = ld_xcalloc(1, sizeof *h);
  h->ctx = EVP_MD_CTX_new();
  h->algo = algo;
  if (!h->ctx || !EVP_DigestInit_ex(h->ctx, algo == LD_SHA512 ? EVP_sha512() : EVP_sha256(), NULL))
    abort();
  return h;
}

void ld_hasher_update(ld_hasher *h, const void *data, size_t len) {
  if (len) EVP_DigestUpdate(h->ctx, data, len);
  h->bytes += len;
}

void ld_hasher_final(ld_hasher *h, char out[LD_DIGEST_MAX]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(h->ctx, md, &n);
  static const char hexd[] = "0123456789abcdef";
  int p = snprintf(out, LD_DIGEST_MAX, "%s:", algo_name(h->algo));
  for (unsigned i = 0; i < n; i++) {
    out[p++] = hexd[md[i] >> 4];
    out[p++] = hexd[md[i] & 15];
  }
  out[p] = 0;
}

uint64_t ld_hasher_bytes(const ld_hasher *h) { return h->bytes; }

void ld_hasher_free(ld_hasher *h) {
  if (!h) return;
  EVP_MD_CTX_free(h->ctx);
  free(h);
}

void ld_digest_buf(ld_digest_algo algo, const void *data, size_t len, char out[LD_DIGEST_MAX]) {
  ld_hasher *h = ld_hasher_new(algo);
  ld_hasher_update(h, data, len);
  ld_hasher_final(h, out);
  ld_hasher_free(h);
}

int ld_digest_fd(int fd, ld_digest_algo algo, char out[LD_DIGEST_MAX], uint64_t *size,
                 ld_error **err) {
  ld_hasher *h = ld_hasher_new(algo);
  size_t bufsz = 1 << 20;
  char *buf = ld_xmalloc(bufsz);
  for (;;) {
    ssize_t n = read(fd, buf, bufsz);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      free(buf);
      ld_hasher_free(h);
      return ld_err_sys(err, e, "read");
    }
    if (n == 0) break;
    ld_hasher_update(h, buf, (size_t) n);
  }
  free(buf);
  if (size) *size = h->bytes;
  ld_hasher_final(h, out);
  ld_hasher_free(h);
  return 0;
}

int ld_digest_file(const char *path, ld_digest_algo algo, char out[LD_DIGEST_MAX], uint64_t *size,
                   ld_error **err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ld_err_sys(err, errno, "%s", path);
  int r = ld_digest_fd(fd, algo, out, size, err);
  close(fd);
  if (r < 0) ld_error_wrap(err, "%s", path);
  return r;
}

const char *ld_digest_short(const char *digest, char buf[24]) {
  if (!digest) return "(none)";
  const char *colon = strchr(digest, ':');
  size_t pre = colon ? (size_t) (colon - digest) + 1 : 0;
  if (pre > 8) pre = 8;
  snprintf(buf, 24, "%.*s%.12s", (int) pre, digest, digest + pre);
  return buf;
}
