/* Internal to the core (not installed): the building blocks the string
   grammars (strcheck.c), digests and references share, and the Lua
   binding's string checks use. Moved out of the public strcheck.h: they
   are how the matchers are written, not part of the API. */
#ifndef OCISPEC_STRCHECK_INTERNAL_H
#define OCISPEC_STRCHECK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "ocispec/error.h"

/* ---- Building blocks shared by the matchers (digest, reference). ---- */

/* ASCII classes without <ctype.h>: the grammars are ASCII, never locale. */
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

/* Grammars of the shape  word (separator word)*  where a word is one or
   more word characters: repository names, digest algorithms, ref names. */
typedef struct oci_word_grammar {
  bool (*is_word)(unsigned char c);
  /* Length of the separator starting at s (n > 0 bytes left), 0 if none. */
  size_t (*separator)(const char *s, size_t n);
} oci_word_grammar;

typedef enum oci_word_fail {
  OCI_WORDS_OK = 0,
  OCI_WORDS_EMPTY,    /* the input is empty */
  OCI_WORDS_BAD_CHAR, /* byte at *pos is neither word nor separator */
  OCI_WORDS_BAD_SEP   /* separator at *pos is not between two words */
} oci_word_fail;

/* Matches all of s against g; on failure *pos is the offending offset. */
oci_word_fail oci_scan_words(const char *s, size_t len,
                             const oci_word_grammar *g, size_t *pos);

/* Sets err to  <what> <quoted s>: <printf message>  and returns code, the
   "what, where, why" shape of every message here, e.g.
   digest "sha256:abc": encoded part must be 64 ... . err may be NULL. */
int oci_fail_value(oci_error *err, int code, const char *what, const char *s,
                   size_t len, const char *fmt, ...) OCI_PRINTF(6, 7);

/* Writes s as a double-quoted, escaped (\" \\ \xNN), possibly shortened
   ("...") string into buf for error messages; returns buf. */
#define OCI_QUOTE_SIZE 64
const char *oci_quote(char *buf, size_t bufsz, const char *s, size_t len);

#endif
