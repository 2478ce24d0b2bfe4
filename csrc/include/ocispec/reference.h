/** @file
   ocispec image references ("registry/repository:tag@digest"), with the
   behaviour of oci-spec-rs `distribution::Reference` (itself a port of
   docker/distribution's normalisation):
   - no "/" or a first component without ".", ":" and not "localhost":
     the registry is docker.io; "index.docker.io" becomes "docker.io";
     a docker.io repository without "/" gets "library/" in front;
   - neither tag nor digest: the tag is "latest";
   - the repository (after "library/") is at most 255 characters
     (OCI_ETOOBIG, oci-spec-rs NameTooLong).

   Where ocispec differs from oci-spec-rs, deliberately:
   1. The repository must match the distribution-spec name grammar (D-NAME-1,
      spec.md:151). oci-spec-rs accepts "Foo/bar" as docker.io repository
      "Foo/bar" (its regex lets "Foo" pass as a domain, then split_domain
      puts it back into the path); that name cannot be pushed or pulled.
   2. A first component taken as the registry (it has "." or ":" or is
      "localhost") must be a valid host: "foo_bar.com/x" is refused where
      oci-spec-rs returns registry "foo_bar.com" (its regex matched it as a
      path component).
   3. Tags follow D-TAG-1 (spec.md:160), ASCII only; oci-spec-rs's `\w` also
      takes Unicode letters.
   4. The digest must pass oci_digest_parse: lowercase hex only (oci-spec-rs
      takes [[:xdigit:]], so uppercase), and blake3 (64 hex) is accepted.
      An algorithm image-spec does not register (sha384 included, which
      oci-spec-rs and go-digest know) is OCI_EUNSUPPORTED, as oci-spec-rs's
      DigestUnsupported: a reference is used to fetch and verify content,
      and content under an unknown algorithm cannot be verified. (Bare
      digests in documents keep I-DIG-5 and accept such algorithms.)
   5. IPv6 registries in brackets ("[::1]:5000/repo") are accepted, as in
      docker/distribution; oci-spec-rs's regex refuses them.
   6. oci_reference_new and oci_reference_set_mirror validate their parts;
      oci-spec-rs's with_tag/with_digest/set_mirror_registry take anything.
   Error codes: OCI_EINVAL for a malformed reference (NameEmpty,
   ReferenceInvalidFormat, DigestInvalidLength), OCI_ETOOBIG (NameTooLong),
   OCI_EUNSUPPORTED (DigestUnsupported), OCI_ENOMEM. Messages name the bad
   part: reference "Uppercase:tag": repository name "Uppercase": ... */
#ifndef OCISPEC_REFERENCE_H
#define OCISPEC_REFERENCE_H

#include <stddef.h>

#include "ocispec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Owned by whoever got it from oci_reference_parse/_new/_clone_with_digest;
   free with oci_reference_free. Read the fields, do not assign them (set
   the mirror with oci_reference_set_mirror). tag, digest and
   mirror_registry are NULL when absent. */
typedef struct oci_reference {
  char *registry;        /**< "docker.io", "ghcr.io", "127.0.0.1:5000" */
  char *repository;      /**< "library/busybox" */
  char *tag;             /**< "latest", or NULL */
  char *digest;          /**< "sha256:...", or NULL */
  char *mirror_registry; /**< set by oci_reference_set_mirror, or NULL */
} oci_reference;

/** Longest repository path a reference may hold (oci-spec-rs NameTooLong). */
#define OCI_REFERENCE_REPOSITORY_MAX 255

/** Parses s (len bytes, no NUL needed). *out is NULL on failure. */
OCI_API int oci_reference_parse(const char *s, size_t len, oci_reference **out,
                                oci_error *err);

/** with_tag (digest NULL), with_digest (tag NULL), with_tag_and_digest.
   Parts are taken as given (no docker.io/library normalisation) and
   checked; at least one of tag and digest is required. */
OCI_API int oci_reference_new(const char *registry, const char *repository,
                              const char *tag, const char *digest,
                              oci_reference **out, oci_error *err);

/** A new reference with r's registry, repository and mirror, no tag, and
   digest (checked). */
OCI_API int oci_reference_clone_with_digest(const oci_reference *r,
                                            const char *digest,
                                            oci_reference **out,
                                            oci_error *err);

/** Sets (a checked registry host) or, with NULL, clears the mirror. On
   failure r is unchanged. */
OCI_API int oci_reference_set_mirror(oci_reference *r, const char *mirror,
                                     oci_error *err);

/** The registry to contact: the mirror if set, "index.docker.io" for
   "docker.io", else the registry. Points into r. */
OCI_API const char *oci_reference_resolve_registry(const oci_reference *r);

/** "registry/repository:tag@digest" (mirror not shown), malloc'd, caller
   frees; NULL when out of memory. */
OCI_API char *oci_reference_to_string(const oci_reference *r);

/** The same text written snprintf-style: into out (outsz bytes, NUL-ended
   when outsz > 0, cut short if too small); returns the full length without
   the NUL. For callers with their own buffers (no malloc). */
OCI_API size_t oci_reference_format(const oci_reference *r, char *out,
                                    size_t outsz);

/** Frees r and its strings; NULL is fine. */
OCI_API void oci_reference_free(oci_reference *r);

#ifdef __cplusplus
}
#endif
#endif
