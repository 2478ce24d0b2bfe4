/* ocispec hashing: sha256 and sha512 digests of bytes, files and streams
   (OpenSSL libcrypto), and checking content against a digest. blake3
   parses (digest.h) but hashing it is OCI_EUNSUPPORTED: Debian ships no
   blake3 library. */
#ifndef OCISPEC_HASH_H
#define OCISPEC_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "ocispec/digest.h"
#include "ocispec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Room for "sha512:" + 128 hex digits + NUL. */
#define OCI_DIGEST_STRING_MAX 136

/* A streaming hasher. Not shared between threads while in use. */
typedef struct oci_hasher oci_hasher;

/* New hasher for alg (OCI_DIGEST_SHA256 or OCI_DIGEST_SHA512); blake3 and
   others give OCI_EUNSUPPORTED. Free with oci_hasher_free. */
OCI_API int oci_hasher_new(oci_digest_alg alg, oci_hasher **out,
                           oci_error *err);
/* Feed len bytes. */
OCI_API int oci_hasher_update(oci_hasher *h, const void *buf, size_t len,
                              oci_error *err);
/* Bytes fed so far. */
OCI_API uint64_t oci_hasher_size(const oci_hasher *h);
/* Writes "alg:hex" (NUL-terminated) into out. The hasher is then reset to
   empty and can be fed again. */
OCI_API int oci_hasher_finish(oci_hasher *h, char out[OCI_DIGEST_STRING_MAX],
                              oci_error *err);
OCI_API void oci_hasher_free(oci_hasher *h);

/* Digest of len bytes. */
OCI_API int oci_hash_buffer(oci_digest_alg alg, const void *buf, size_t len,
                            char out[OCI_DIGEST_STRING_MAX], oci_error *err);

/* Digest of a file's content, read in large blocks; *size (may be NULL)
   gets its length. OCI_EIO names the path and errno's reason. */
OCI_API int oci_hash_file(oci_digest_alg alg, const char *path,
                          char out[OCI_DIGEST_STRING_MAX], uint64_t *size,
                          oci_error *err);

/* Same, from an open file descriptor read to its end (not closed). */
OCI_API int oci_hash_fd(oci_digest_alg alg, int fd, const char *what,
                        char out[OCI_DIGEST_STRING_MAX], uint64_t *size,
                        oci_error *err);

/* Whether buf has this digest: OCI_OK, OCI_EMISMATCH (the message gives
   both digests), OCI_EINVAL for a malformed digest, OCI_EUNSUPPORTED for an
   algorithm we cannot compute. */
OCI_API int oci_digest_verify_buffer(const char *digest, const void *buf,
                                     size_t len, oci_error *err);
/* Same for a file's content. */
OCI_API int oci_digest_verify_file(const char *digest, const char *path,
                                   oci_error *err);

#ifdef __cplusplus
}
#endif
#endif
