/** @file
   ocispec string grammars: media types, base64, URIs, RFC 3339 timestamps,
   SemVer, distribution-spec names and tags, annotation refs, error codes.

   Every oci_check_* function takes (s, len) (no NUL needed; an embedded NUL
   is just an invalid byte), returns 0 or OCI_EINVAL, and on failure fills
   err->code and err->message (err may be NULL). Like every function taking
   an oci_error, they reset it on entry; they never set err->pointer: the
   caller knows where the string sits in its document and sets it after.
   Each grammar is a small hand-written matcher naming its spec source
   (RULES.md IDs and spec file:line in ../shared/conformance/RULES.md). */
#ifndef OCISPEC_STRCHECK_H
#define OCISPEC_STRCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "ocispec/error.h"
#include "ocispec/values.h"

#ifdef __cplusplus
extern "C" {
#endif

/** image-spec descriptor.md:23 (I-DESC-2): type "/" subtype, each 1-127
   RFC 6838 restricted-name characters starting with a letter or digit; no
   parameters. */
OCI_API int oci_check_media_type(const char *s, size_t len, oci_error *err);

/** image-spec descriptor.md:53 (I-DESC-9): RFC 4648 section 4 base64, the
   standard alphabet, padded to a multiple of 4, no whitespace. "" is valid
   (the encoding of no bytes). */
OCI_API int oci_check_base64(const char *s, size_t len, oci_error *err);

/** Decodes base64 that passes oci_check_base64 into out (room for len / 4 * 3
   bytes) and sets *out_len to the number of bytes written. Returns 0, or
   OCI_EINVAL (out untouched past what was decoded) when s is not valid; call
   oci_check_base64 for the message. */
OCI_API int oci_base64_decode(const char *s, size_t len, unsigned char *out,
                              size_t *out_len);

/** image-spec descriptor.md:42 (I-DESC-7): an RFC 3986 section 3 URI
   (scheme ":" hier-part ["?" query] ["#" fragment]); relative references
   are rejected. Authority, IP literals, ports and %XX escapes are checked. */
OCI_API int oci_check_uri(const char *s, size_t len, oci_error *err);

/** image-spec config.md:97 (I-CFG-4): RFC 3339 section 5.6 date-time, with
   "T"/"t" between date and time, "Z"/"z" or +hh:mm/-hh:mm offsets, calendar
   days checked (leap years included), seconds 00-60. */
OCI_API int oci_check_rfc3339(const char *s, size_t len, oci_error *err);

/** runtime-spec config.md:17 (R-CFG-2): Semantic Versioning 2.0.0. */
OCI_API int oci_check_semver(const char *s, size_t len, oci_error *err);

/** SemVer 2.0.0 section 11 precedence: <0, 0, >0 like strcmp. Build metadata
   is ignored. Both versions should pass oci_check_semver; an invalid one
   sorts before every valid one and two invalid ones compare by bytes, so
   the order stays total and the call stays safe. */
OCI_API int oci_semver_compare(const char *a, size_t alen, const char *b,
                               size_t blen);

/** distribution-spec spec.md:151 (D-NAME-1): the whole string matches
   [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*.
   No length limit (the spec gives none). */
OCI_API int oci_check_repository_name(const char *s, size_t len,
                                      oci_error *err);

/** distribution-spec spec.md:160 (D-TAG-1): [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
   (at most 128 characters). */
OCI_API int oci_check_tag(const char *s, size_t len, oci_error *err);

/** A registry host as docker/distribution's reference grammar has it:
   components [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] joined by ".",
   or an RFC 3986 IPv6 address in brackets, then an optional ":" and
   port digits. Examples: "docker.io", "localhost:5000", "[::1]:5000". */
OCI_API int oci_check_registry_host(const char *s, size_t len, oci_error *err);

/** image-spec annotations.md:36-43 (I-ANN-6): the value of
   org.opencontainers.image.ref.name:
   ref ::= component ("/" component)*, component ::= alphanum (separator
   alphanum)*, alphanum ::= [A-Za-z0-9]+, separator ::= [-._:@+] | "--". */
OCI_API int oci_check_ref_name_annotation(const char *s, size_t len,
                                          oci_error *err);

/** distribution-spec spec.md:879 (D-ERR-2): ^[A-Z_]+$. */
OCI_API int oci_check_error_code(const char *s, size_t len, oci_error *err);

/** distribution-spec spec.md:883-900 (D-ERR-3): the 14 codes, in spec order
   (values.def; also oci_enums[OCI_ENUM_ERROR_CODE]). Clients may meet
   others (TAG_INVALID, ...), so unknown is not an error. */
#define OCI_ERROR_CODE_COUNT OCI_ENUM_SIZE_ERROR_CODE
/** The codes ("BLOB_UNKNOWN", ...). */
OCI_API extern const char *const oci_error_codes[OCI_ERROR_CODE_COUNT];
/** Whether s[0..len) is one of oci_error_codes. */
OCI_API bool oci_error_code_is_known(const char *s, size_t len);

/** image-spec config.md:154 (I-CFG-7): VARNAME=VARVALUE, i.e. ^[^=]+=.*$.
   The value may hold any byte except NUL (a newline is legal in a POSIX
   environment value, though Go's "." would refuse it); NUL is refused
   anywhere because an environment entry is a C string. */
OCI_API int oci_check_env_entry(const char *s, size_t len, oci_error *err);

/** runtime-spec paths that MUST be absolute: a leading "/". */
OCI_API int oci_check_absolute_path(const char *s, size_t len, oci_error *err);

#ifdef __cplusplus
}
#endif
#endif
