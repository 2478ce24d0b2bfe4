/** @file
   ocispec string grammars: media types, base64, URIs, RFC 3339 timestamps,
   SemVer, distribution-spec names and tags, annotation refs, error codes.

   Every oci_check_* function takes (s, len) (no NUL needed; an embedded NUL
   is just an invalid byte), returns 0 or OCI_EINVAL, and on failure fills
   err->code and err->message (err may be NULL). They never touch
   err->pointer: the caller knows where the string sits in its document.
   Each grammar is a small hand-written matcher naming its spec source
   (RULES.md IDs and spec file:line in ../shared/conformance/RULES.md). */
#ifndef OCISPEC_STRCHECK_H
#define OCISPEC_STRCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "ocispec/error.h"

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

/** distribution-spec spec.md:883-900 (D-ERR-3): the 14 codes, in spec order.
   Clients may meet others (TAG_INVALID, ...), so unknown is not an error. */
#define OCI_ERROR_CODE_COUNT 14
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

/* ---- Building blocks shared by the matchers (digest, reference). ---- */

/** ASCII classes without `<ctype.h>`: the grammars are ASCII, never locale.
    @{ */
static inline bool oci_ascii_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}
static inline bool oci_ascii_lower(unsigned char c) {
  return c >= 'a' && c <= 'z';
}
static inline bool oci_ascii_upper(unsigned char c) {
  return c >= 'A' && c <= 'Z';
}
static inline bool oci_ascii_alnum(unsigned char c) {
  return oci_ascii_digit(c) || oci_ascii_lower(c) || oci_ascii_upper(c);
}
static inline bool oci_ascii_hex(unsigned char c) {
  return oci_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
/** @} */

/** Grammars of the shape  word (separator word)*  where a word is one or
   more word characters: repository names, digest algorithms, ref names. */
typedef struct oci_word_grammar {
  bool (*is_word)(unsigned char c); /**< whether c is a word character */
  /** Length of the separator starting at s (n > 0 bytes left), 0 if none. */
  size_t (*separator)(const char *s, size_t n);
} oci_word_grammar;

/** Why oci_scan_words failed. */
typedef enum oci_word_fail {
  OCI_WORDS_OK = 0,   /**< all of s matches */
  OCI_WORDS_EMPTY,    /**< the input is empty */
  OCI_WORDS_BAD_CHAR, /**< byte at *pos is neither word nor separator */
  OCI_WORDS_BAD_SEP   /**< separator at *pos is not between two words */
} oci_word_fail;

/** Matches all of s against g; on failure *pos is the offending offset. */
OCI_API oci_word_fail oci_scan_words(const char *s, size_t len,
                                     const oci_word_grammar *g, size_t *pos);

/** Sets err to  WHAT "S": MESSAGE  (S quoted, MESSAGE from fmt) and returns
   code, the "what, where, why" shape of every message here, e.g. digest
   "sha256:abc": encoded part must be 64 ... . err may be NULL. */
OCI_API int oci_fail_value(oci_error *err, int code, const char *what,
                           const char *s, size_t len, const char *fmt, ...)
    OCI_PRINTF(6, 7);

/** A buffer size for oci_quote. */
#define OCI_QUOTE_SIZE 64
/** Writes s as a double-quoted, escaped (quote, backslash, other bytes as
   \\xNN), possibly shortened
   ("...") string into buf for error messages; returns buf. */
OCI_API const char *oci_quote(char *buf, size_t bufsz, const char *s,
                              size_t len);

#ifdef __cplusplus
}
#endif
#endif
