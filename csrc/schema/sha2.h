/* SHA-256 and SHA-512 of a buffer in memory (FIPS 180-4), for the parts
   of the core that need a digest without the image component's libcrypto
   (validate's check of a descriptor's embedded data, I-DESC-10). Content
   hashing (files, streams, layouts) is csrc/image/hash.c (OpenSSL). */
#ifndef OCISPEC_SCHEMA_SHA2_H
#define OCISPEC_SCHEMA_SHA2_H

#include <stddef.h>

#define OCI_SHA256_LEN 32
#define OCI_SHA512_LEN 64

void oci_sha256(const void *buf, size_t n, unsigned char out[OCI_SHA256_LEN]);
void oci_sha512(const void *buf, size_t n, unsigned char out[OCI_SHA512_LEN]);

#endif
