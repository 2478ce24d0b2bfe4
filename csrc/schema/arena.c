/* Bump allocator over a chain of malloc'd blocks.

   Each block is filled from both ends: strings (no alignment needed) grow
   up from the bottom, aligned allocations (structs, arrays) grow down from
   the top (internal.h says why). Strings are about half of a parsed document
   and would otherwise each round up to 8 bytes (4 bytes lost on average). */
#include "ocispec/arena.h"
#include "internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN OCI_ARENA_ALIGN
#define ARENA_MIN_BLOCK 1024u
#define ARENA_MAX_GROWTH (1u << 20)

/* The layout is in internal.h (the codec's inline fast paths use it). */
typedef oci_arena_block block;

static char *payload(block *b) {
  return (char *)(b + 1);
}

static block *block_new(size_t cap) {
  if (cap > SIZE_MAX - sizeof(block)) return NULL;
  block *b = malloc(sizeof(block) + cap);
  if (!b) return NULL;
  b->next = NULL;
  b->lo = 0;
  b->hi = b->cap = cap;
  return b;
}

/* The arena and its first block are one allocation (one malloc and one
   free per small document instead of two of each). */
static block *first_block(oci_arena *a) {
  return (block *)(void *)(a + 1);
}

oci_arena *oci_arena_new(size_t hint) {
  /* A hint is taken as given (a parse knows its input's size: a floor of
     1 KiB would double a small document's memory); none: 1 KiB. */
  size_t cap = hint ? (hint + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1)
                    : ARENA_MIN_BLOCK;
  if (cap < hint) return NULL;
  if (cap > SIZE_MAX - sizeof(oci_arena) - sizeof(block)) return NULL;
  oci_arena *a = malloc(sizeof *a + sizeof(block) + cap);
  if (!a) return NULL;
  block *b = first_block(a);
  b->next = NULL;
  b->lo = 0;
  b->hi = b->cap = cap;
  a->head = b;
  a->total = cap;
  a->root = NULL;
  a->in_pos = NULL;
  a->in_start = a->in_end = NULL;
  return a;
}

void oci_arena_track_input(oci_arena *a, const char *const *pos,
                           const char *start, const char *end) {
  a->in_pos = pos;
  a->in_start = start;
  a->in_end = end;
}

void oci_arena_set_root(oci_arena *a, void *root) {
  a->root = root;
}

const void *oci_arena_root(const oci_arena *a) {
  return a->root;
}

void oci_arena_free(oci_arena *a) {
  if (!a) return;
  block *b = a->head;
  while (b) {
    block *next = b->next;
    if (b != first_block(a)) free(b);
    b = next;
  }
  free(a);
}

/* Bytes the rest of a parse will need: what the arena took per input
   byte so far, times the bytes left, plus an eighth; at least a sixteenth
   of the arena (a document denser at its end than at its start costs
   O(log n) blocks, not one per allocation) and 256 bytes. */
static size_t parse_estimate(const oci_arena *a) {
  const char *pos = *a->in_pos;
  if (pos <= a->in_start || pos > a->in_end) return 0;
  double done = (double)(pos - a->in_start);
  double left = (double)(a->in_end - pos);
  double est = (double)oci_arena_used(a) * left / done;
  est += est / 16 + 32;
  if (est > (double)ARENA_MAX_GROWTH) return ARENA_MAX_GROWTH;
  size_t grow = (size_t)est;
  if (grow < a->total / 16) grow = a->total / 16;
  if (grow < 256) grow = 256;
  return (grow + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

/* Slow path: a new block, large enough for `size`. During a parse, sized
   from the input left to read (parse_estimate); otherwise blocks grow with
   the arena (a quarter of what it holds, between 1 KiB and 1 MiB) so that
   many small allocations cost O(log n) mallocs while the unused tail of
   the last block stays small. `chars`: take the bytes from the bottom. */
void *oci_arena_alloc_slow(oci_arena *a, size_t size, bool chars) {
  size_t grow = a->in_pos ? parse_estimate(a) : 0;
  if (!grow) {
    grow = a->total / 4;
    if (grow < ARENA_MIN_BLOCK) grow = ARENA_MIN_BLOCK;
    if (grow > ARENA_MAX_GROWTH) grow = ARENA_MAX_GROWTH;
  }
  size_t cap = size > grow ? size : grow;
  /* a multiple of 8: aligned allocations come down from the end */
  if (cap > SIZE_MAX - ARENA_ALIGN) return NULL;
  cap = (cap + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  block *b = block_new(cap);
  if (!b) return NULL;
  if (size >= grow && a->head) {
    /* A big allocation gets its own block behind the head, so the head's
       free space is still used by the next small allocations. */
    b->next = a->head->next;
    a->head->next = b;
  } else {
    b->next = a->head;
    a->head = b;
  }
  a->total += cap;
  if (chars) {
    b->lo = size;
    return payload(b);
  }
  b->hi = cap - size;
  return payload(b) + b->hi;
}

void *oci_arena_alloc(oci_arena *a, size_t size) {
  return oci_arena_alloc_inline(a, size);
}

char *oci_arena_alloc_chars(oci_arena *a, size_t size) {
  return oci_arena_chars_inline(a, size);
}

void *oci_arena_calloc(oci_arena *a, size_t size) {
  void *p = oci_arena_alloc(a, size);
  if (p) memset(p, 0, size);
  return p;
}

char *oci_arena_strndup(oci_arena *a, const char *s, size_t len) {
  if (len == SIZE_MAX) return NULL;
  char *p = oci_arena_alloc_chars(a, len + 1);
  if (!p) return NULL;
  if (len) memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

char *oci_arena_strdup(oci_arena *a, const char *s) {
  return s ? oci_arena_strndup(a, s, strlen(s)) : NULL;
}

size_t oci_arena_bytes(const oci_arena *a) {
  return a->total + sizeof *a;
}

/* Counted from the blocks (one or two for most documents), so that the
   allocation fast paths update nothing but their block. */
size_t oci_arena_used(const oci_arena *a) {
  size_t n = 0;
  for (const block *b = a->head; b; b = b->next)
    n += b->lo + (b->cap - b->hi);
  return n;
}
