/** @file
   ocispec digests as values: "algorithm:encoded" strings checked against
   image-spec descriptor.md#digests (RULES.md I-DIG-1..5) without
   allocating, and the distribution-spec referrers tag. */
#ifndef OCISPEC_DIGEST_H
#define OCISPEC_DIGEST_H

#include <stddef.h>

#include "ocispec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The algorithms image-spec registers (descriptor.md:150-174). Anything
   else that fits the grammar is OCI_DIGEST_OTHER (I-DIG-5: SHOULD pass). */
typedef enum oci_digest_alg {
  OCI_DIGEST_OTHER = 0,
  OCI_DIGEST_SHA256,
  OCI_DIGEST_SHA512,
  OCI_DIGEST_BLAKE3
} oci_digest_alg;

/** A parsed digest: views into the caller's string, valid while it is. */
typedef struct oci_digest_view {
  const char *algorithm; /**< before the first ":" */
  size_t algorithm_len;  /**< bytes of algorithm */
  const char *encoded;   /**< after the first ":" */
  size_t encoded_len;    /**< bytes of encoded */
  oci_digest_alg alg;    /**< the registered algorithm, or OCI_DIGEST_OTHER */
} oci_digest_view;

/** Checks s (len bytes, no NUL needed) and fills *out (may be NULL).
   Grammar (I-DIG-1, descriptor.md:78-86): algorithm ":" encoded, split at
   the FIRST ":", `algorithm = [a-z0-9]+ ([+._-] [a-z0-9]+)*`,
   `encoded = [a-zA-Z0-9=_-]+`. Registered algorithms (I-DIG-2..4) then need
   exactly oci_digest_hex_len() characters of `[a-f0-9]`. Returns 0 or
   OCI_EINVAL with err's message saying which part fails and why. */
OCI_API int oci_digest_parse(const char *s, size_t len, oci_digest_view *out,
                             oci_error *err);

/** "sha256", "sha512", "blake3"; NULL for OCI_DIGEST_OTHER. */
OCI_API const char *oci_digest_alg_name(oci_digest_alg alg);

/** The registered algorithm called s[0..len), else OCI_DIGEST_OTHER. */
OCI_API oci_digest_alg oci_digest_alg_from_name(const char *s, size_t len);

/** Hex characters in the encoded part: 64, 128, 64; 0 for OTHER. */
OCI_API size_t oci_digest_hex_len(oci_digest_alg alg);

/** Longest referrers tag: 32 algorithm characters, "-", 64 encoded ones. */
#define OCI_DIGEST_REFERRERS_TAG_MAX 97

/** distribution-spec spec.md:789-791 (D-RTAG-1): writes the referrers tag of
   the NUL-terminated digest into out (outsz bytes, OCI_DIGEST_REFERRERS_TAG_MAX
   + 1 always suffice): the algorithm truncated to 32 characters, "-", the
   encoded part truncated to 64, every character a tag does not allow
   replaced by "-". Returns 0, OCI_EINVAL for a bad digest, or OCI_ETOOBIG
   when out is too small (out then holds ""). */
OCI_API int oci_digest_referrers_tag(const char *digest, char *out,
                                     size_t outsz, oci_error *err);

#ifdef __cplusplus
}
#endif
#endif
