/* Content digests: "algo:hex", as image-spec defines them.
 *
 * Digests travel as plain strings ("sha256:<64 hex>" or "sha512:<128 hex>"); a buffer of
 * LD_DIGEST_MAX bytes holds any of them. Only sha256 and sha512 are accepted, hex must be
 * lowercase and of the algorithm's length. Hashing streams through OpenSSL EVP (SHA-NI here).
 * Never trust a digest you did not compute: every ingest path hashes while it writes.
 */
#ifndef LADING_DIGEST_H
#define LADING_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lading/error.h"

#define LD_DIGEST_MAX 136 /* "sha512:" + 128 hex + NUL, rounded */

typedef enum { LD_SHA256 = 0, LD_SHA512 = 1 } ld_digest_algo;

/* 0 if s is a well-formed digest; else -1 with "invalid digest "…": reason". */
int ld_digest_validate(const char *s, ld_error **err);
/* Algorithm of a valid digest string. */
ld_digest_algo ld_digest_algo_of(const char *digest);
/* The hex part of a digest string (points into s). */
const char *ld_digest_hex(const char *digest);

typedef struct ld_hasher ld_hasher;
ld_hasher *ld_hasher_new(ld_digest_algo algo);
void ld_hasher_update(ld_hasher *h, const void *data, size_t len);
/* Writes "algo:hex" into out (LD_DIGEST_MAX). The hasher may not be updated afterwards. */
void ld_hasher_final(ld_hasher *h, char out[LD_DIGEST_MAX]);
void ld_hasher_free(ld_hasher *h);
uint64_t ld_hasher_bytes(const ld_hasher *h); /* bytes fed so far */

void ld_digest_buf(ld_digest_algo algo, const void *data, size_t len, char out[LD_DIGEST_MAX]);
int ld_digest_fd(int fd, ld_digest_algo algo, char out[LD_DIGEST_MAX], uint64_t *size,
                 ld_error **err);
int ld_digest_file(const char *path, ld_digest_algo algo, char out[LD_DIGEST_MAX],
                   uint64_t *size, ld_error **err);

/* A short form for messages: "sha256:0123456789ab". */
const char *ld_digest_short(const char *digest, char buf[24]);

#endif
