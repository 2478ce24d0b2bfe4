/* Allocation-failure injection for the C tests linked with
   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (CMakeLists.txt):
   alloc_arm(n) makes the (n+1)th allocation from then on fail, once;
   alloc_disarm() stops; alloc_injected and alloc_seen count the failures
   injected and the allocations made since alloc_arm(). Include it in one
   test file per program. */
#ifndef OCISPEC_TEST_ALLOC_WRAP_H
#define OCISPEC_TEST_ALLOC_WRAP_H

#include <stdbool.h>
#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static long alloc_countdown = -1; /* the allocation that fails: 0 = next */
static long alloc_injected;       /* failures injected since alloc_arm() */
static long alloc_seen;           /* allocations since alloc_arm() */

static bool alloc_should_fail(void) {
  if (alloc_countdown < 0) return false;
  alloc_seen++;
  if (alloc_countdown == 0) {
    alloc_countdown = -1;
    alloc_injected++;
    return true;
  }
  alloc_countdown--;
  return false;
}

void *__wrap_malloc(size_t n) {
  return alloc_should_fail() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size) {
  return alloc_should_fail() ? NULL : __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n) {
  return alloc_should_fail() ? NULL : __real_realloc(p, n);
}

static inline void alloc_arm(long n) {
  alloc_injected = 0;
  alloc_seen = 0;
  alloc_countdown = n;
}
static inline void alloc_disarm(void) {
  alloc_countdown = -1;
}

#endif
