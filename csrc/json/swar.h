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

#endif
