/* UTF-8 sequence check shared by the schema (setters) and the codec's
   string scanner, inline because the scanner calls it per non-ASCII byte. */
#ifndef OCISPEC_SCHEMA_UTF8_H
#define OCISPEC_SCHEMA_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (2..4), or 0 if invalid
   (Unicode 15, table 3-7: no overlongs, surrogates or > U+10FFFF). */
static inline size_t oci_utf8_seq(const unsigned char *p,
                                  const unsigned char *end) {
  unsigned c = p[0];
  size_t n;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else
    return 0;
  if ((size_t)(end - p) < n) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  return n;
}

#endif
