/* Bump allocator over a chain of malloc'd blocks.

   Each block is filled from both ends: aligned allocations (structs,
   arrays) grow up from the bottom, strings (no alignment needed) grow down
   from the top. Strings are about half of a parsed document and would
   otherwise each round up to 8 bytes (4 bytes lost on average). */
#include "ocispec/arena.h"
#include "internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 8u
#define ARENA_MIN_BLOCK 1024u
#define ARENA_MAX_GROWTH (1u << 20)

typedef struct block {
  struct block *next;
  size_t used; /* bottom: aligned allocations end here */
  size_t top;  /* strings start here; free space is [used, top) */
  /* payload follows, aligned by the header size (a multiple of 8) */
} block;

struct oci_arena {
  block *head;
  size_t total; /* bytes taken from malloc for payloads */
  size_t used;  /* bytes handed out */
  void *root;   /* the document's root object (oci_free's check), or NULL */
};

static char *payload(block *b) {
  return (char *)(b + 1);
}

static block *block_new(size_t cap) {
  if (cap > SIZE_MAX - sizeof(block)) return NULL;
  block *b = malloc(sizeof(block) + cap);
  if (!b) return NULL;
  b->next = NULL;
  b->used = 0;
  b->top = cap;
  return b;
}

/* The arena and its first block are one allocation (one malloc and one
   free per small document instead of two of each). */
static block *first_block(oci_arena *a) {
  return (block *)(void *)(a + 1);
}

oci_arena *oci_arena_new(size_t hint) {
  size_t cap = hint < ARENA_MIN_BLOCK ? ARENA_MIN_BLOCK : hint;
  if (cap > SIZE_MAX - sizeof(oci_arena) - sizeof(block)) return NULL;
  oci_arena *a = malloc(sizeof *a + sizeof(block) + cap);
  if (!a) return NULL;
  block *b = first_block(a);
  b->next = NULL;
  b->used = 0;
  b->top = cap;
  a->head = b;
  a->total = cap;
  a->used = 0;
  a->root = NULL;
  return a;
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

/* Slow path: a new block, large enough for `size`. Blocks grow with the
   arena (a quarter of what it holds, between 1 KiB and 1 MiB) so that many
   small allocations cost O(log n) mallocs while the unused tail of the
   last block stays small. `chars`: take the bytes from the top. */
static void *alloc_new_block(oci_arena *a, size_t size, bool chars) {
  size_t grow = a->total / 4;
  if (grow < ARENA_MIN_BLOCK) grow = ARENA_MIN_BLOCK;
  if (grow > ARENA_MAX_GROWTH) grow = ARENA_MAX_GROWTH;
  size_t cap = size > grow ? size : grow;
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
  a->used += size;
  if (chars) {
    b->top = cap - size;
    return payload(b) + b->top;
  }
  b->used = size;
  return payload(b);
}

void *oci_arena_alloc(oci_arena *a, size_t size) {
  if (size > SIZE_MAX - ARENA_ALIGN) return NULL;
  size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  block *b = a->head;
  if (b->top - b->used >= size) {
    void *p = payload(b) + b->used;
    b->used += size;
    a->used += size;
    return p;
  }
  return alloc_new_block(a, size, false);
}

char *oci_arena_alloc_chars(oci_arena *a, size_t size) {
  block *b = a->head;
  if (b->top - b->used >= size) {
    b->top -= size;
    a->used += size;
    return payload(b) + b->top;
  }
  return alloc_new_block(a, size, true);
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

size_t oci_arena_used(const oci_arena *a) {
  return a->used;
}
