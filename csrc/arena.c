/* Bump allocator over a chain of malloc'd blocks. */
#include "ocispec/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 8u
#define ARENA_MIN_BLOCK 1024u
#define ARENA_MAX_GROWTH (1u << 20)

typedef struct block {
  struct block *next;
  size_t cap;
  size_t used;
  /* payload follows, aligned by the header size (a multiple of 8) */
} block;

struct oci_arena {
  block *head;
  size_t total; /* bytes taken from malloc for payloads */
  size_t used;  /* bytes handed out */
};

static char *payload(block *b) {
  return (char *)(b + 1);
}

static block *block_new(size_t cap) {
  if (cap > SIZE_MAX - sizeof(block)) return NULL;
  block *b = malloc(sizeof(block) + cap);
  if (!b) return NULL;
  b->next = NULL;
  b->cap = cap;
  b->used = 0;
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
  b->cap = cap;
  b->used = 0;
  a->head = b;
  a->total = cap;
  a->used = 0;
  return a;
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

/* Slow path: a new block, large enough for `size`, growing geometrically so
   that many small allocations cost O(log n) mallocs. */
static void *alloc_new_block(oci_arena *a, size_t size) {
  size_t grow = a->total < ARENA_MAX_GROWTH ? a->total : ARENA_MAX_GROWTH;
  size_t cap = size > grow ? size : grow;
  block *b = block_new(cap);
  if (!b) return NULL;
  if (size >= grow && a->head) {
    /* A big allocation gets its own block behind the head, so the head's
       free tail is still used by the next small allocations. */
    b->next = a->head->next;
    a->head->next = b;
  } else {
    b->next = a->head;
    a->head = b;
  }
  b->used = size;
  a->total += cap;
  a->used += size;
  return payload(b);
}

void *oci_arena_alloc(oci_arena *a, size_t size) {
  if (size > SIZE_MAX - ARENA_ALIGN) return NULL;
  size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  block *b = a->head;
  if (b->cap - b->used >= size) {
    void *p = payload(b) + b->used;
    b->used += size;
    a->used += size;
    return p;
  }
  return alloc_new_block(a, size);
}

void *oci_arena_calloc(oci_arena *a, size_t size) {
  void *p = oci_arena_alloc(a, size);
  if (p) memset(p, 0, size);
  return p;
}

char *oci_arena_strndup(oci_arena *a, const char *s, size_t len) {
  if (len == SIZE_MAX) return NULL;
  char *p = oci_arena_alloc(a, len + 1);
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
