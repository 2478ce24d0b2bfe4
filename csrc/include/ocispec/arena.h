/** @file
   Arenas: every document lives in one region, freed at once. */
#ifndef OCISPEC_ARENA_H
#define OCISPEC_ARENA_H

#include <stddef.h>

#include "ocispec/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A region of memory; everything allocated in it is freed at once. */
typedef struct oci_arena oci_arena;

/** New empty arena whose first block holds about `hint` bytes (0 = default).
   Returns NULL when out of memory. Free with oci_arena_free. */
OCI_API oci_arena *oci_arena_new(size_t hint);

/** Frees every allocation of the arena at once. NULL is a no-op. */
OCI_API void oci_arena_free(oci_arena *a);

/** `size` bytes aligned for any scalar; NULL when out of memory. Not zeroed. */
OCI_API void *oci_arena_alloc(oci_arena *a, size_t size);

/** `size` bytes with no alignment (for strings); NULL when out of memory. */
OCI_API char *oci_arena_alloc_chars(oci_arena *a, size_t size);

/** As oci_arena_alloc, zero-filled. */
OCI_API void *oci_arena_calloc(oci_arena *a, size_t size);

/** Copy of s[0..len) plus a NUL, in the arena; NULL when out of memory. */
OCI_API char *oci_arena_strndup(oci_arena *a, const char *s, size_t len);

/** Copy of a NUL-terminated string; NULL when out of memory or s is NULL. */
OCI_API char *oci_arena_strdup(oci_arena *a, const char *s);

/** Bytes the arena holds from the system (blocks, including unused tails). */
OCI_API size_t oci_arena_bytes(const oci_arena *a);

/** Bytes handed out by allocations. */
OCI_API size_t oci_arena_used(const oci_arena *a);

#ifdef __cplusplus
}
#endif
#endif
