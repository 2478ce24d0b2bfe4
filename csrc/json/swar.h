/* Word-at-a-time scanning (SWAR, no SIMD intrinsics), shared by the JSON
   reader and writer: 8 bytes are loaded into a uint64_t (memcpy: no
   alignment or aliasing assumptions) and tested together. Little-endian
   only, so that the lowest flagged byte is the first one in memory;
   elsewhere (OCI_SWAR 0) the byte loops do all the work. */
#ifndef OCISPEC_SWAR_H
#define OCISPEC_SWAR_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ &&    \
    defined(__GNUC__)
#define OCI_SWAR 1
#else
#define OCI_SWAR 0
#endif
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t load8(const void *p) {
  uint64_t w;
  memcpy(&w, p, 8);
  return w;
}

/* SSE2 is the x86-64 baseline (every x86-64 CPU has it), so no runtime
   dispatch is needed: 16 bytes are tested per step where the compiler
   targets it (OCI_SSE2 1); elsewhere the 8-byte words above do it. An
   unaligned 16-byte load never reads outside [p, p + 16), which the
   callers check lies inside the buffer. */
#if defined(__SSE2__) && OCI_SWAR
#include <emmintrin.h>
#define OCI_SSE2 1
/* Bit i set when byte i of the 16 at p ends a plain run inside a JSON
   string: '"', '\\', a control character (< 0x20) or a non-ASCII byte
   (the signed compare sees bytes >= 0x80 as negative, so one compare
   catches both). Exact for every byte, unlike the SWAR test. */
static inline unsigned str_special16x(__m128i x) {
  __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                        _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                           _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
  return (unsigned)_mm_movemask_epi8(m);
}
static inline unsigned str_special16(const void *p) {
  return str_special16x(_mm_loadu_si128((const __m128i *)p));
}
#else
#define OCI_SSE2 0
#endif

#endif
