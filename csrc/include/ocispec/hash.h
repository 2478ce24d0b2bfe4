/** @file
   ocispec hashing: sha256 and sha512 digests of bytes, files and streams
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

/** Room for "sha512:" + 128 hex digits + NUL. */
#define OCI_DIGEST_STRING_MAX 136

/** A streaming hasher. Not shared between threads while in use. */
typedef struct oci_hasher oci_hasher;

/** New hasher for alg (OCI_DIGEST_SHA256 or OCI_DIGEST_SHA512); blake3 and
   others give OCI_EUNSUPPORTED. Free with oci_hasher_free. */
OCI_API int oci_hasher_new(oci_digest_alg alg, oci_hasher **out,
                           oci_error *err);
/** Feed len bytes. */
OCI_API int oci_hasher_update(oci_hasher *h, const void *buf, size_t len,
                              oci_error *err);
/** Bytes fed so far (since creation or the last finish). */
OCI_API uint64_t oci_hasher_size(const oci_hasher *h);
/** The algorithm it computes. */
OCI_API oci_digest_alg oci_hasher_alg(const oci_hasher *h);
/** Writes "alg:hex" (NUL-terminated, lowercase hex) into out. The hasher is
   then reset to empty and can be fed again (also after a failure). */
OCI_API int oci_hasher_finish(oci_hasher *h, char out[OCI_DIGEST_STRING_MAX],
                              oci_error *err);
/** Frees h (NULL is a no-op). */
OCI_API void oci_hasher_free(oci_hasher *h);

/** Digest of len bytes. */
OCI_API int oci_hash_buffer(oci_digest_alg alg, const void *buf, size_t len,
                            char out[OCI_DIGEST_STRING_MAX], oci_error *err);

/** Digest of a file's content, read in large blocks; *size (may be NULL)
   gets its length. OCI_EIO names the path and errno's reason (a directory
   is "Is a directory"); OCI_EUNSUPPORTED before touching the file. */
OCI_API int oci_hash_file(oci_digest_alg alg, const char *path,
                          char out[OCI_DIGEST_STRING_MAX], uint64_t *size,
                          oci_error *err);

/** Same, from an open file descriptor read from its current offset to its
   end (not closed; pipes and sockets work). what names it in messages
   (NULL: "file descriptor N"). */
OCI_API int oci_hash_fd(oci_digest_alg alg, int fd, const char *what,
                        char out[OCI_DIGEST_STRING_MAX], uint64_t *size,
                        oci_error *err);

/** Whether buf has this digest (NUL-terminated): OCI_OK, OCI_EMISMATCH
   ("content: digest mismatch: expected `<digest>`, got `<actual>`"; two sha512
   digests do not fit OCI_ERROR_MESSAGE_MAX and are shortened to 48 hex
   digits + "..."), OCI_EINVAL for a malformed digest (oci_digest_parse's
   message), OCI_EUNSUPPORTED for an algorithm we cannot compute (blake3,
   unregistered ones). */
OCI_API int oci_digest_verify_buffer(const char *digest, const void *buf,
                                     size_t len, oci_error *err);
/** Same, and got (may be NULL) receives the computed digest whole on OCI_OK
   and OCI_EMISMATCH ("" otherwise). */
OCI_API int oci_digest_verify_buffer_ex(const char *digest, const void *buf,
                                        size_t len,
                                        char got[OCI_DIGEST_STRING_MAX],
                                        oci_error *err);
/** Same for a file's content; the message starts with the path. */
OCI_API int oci_digest_verify_file(const char *digest, const char *path,
                                   oci_error *err);
/** Same, with the computed digest (as above) and the file's size (may be
   NULL; set on OCI_OK and OCI_EMISMATCH). */
OCI_API int oci_digest_verify_file_ex(const char *digest, const char *path,
                                      char got[OCI_DIGEST_STRING_MAX],
                                      uint64_t *size, oci_error *err);

#ifdef __cplusplus
}
#endif
#endif
