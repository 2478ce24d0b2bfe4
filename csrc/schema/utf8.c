/* Whole-string UTF-8 validation (declared in internal.h). */
#include "schema/utf8.h"
#include "internal.h"

bool oci_utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    if (*p < 0x80) {
      p++;
      continue;
    }
    size_t k = oci_utf8_seq(p, end);
    if (!k) return false;
    p += k;
  }
  return true;
}
