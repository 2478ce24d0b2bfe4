/* Shared by the test_api_contract*.c files: the C API's error contract
   (DESIGN.md "C API"): every public function that takes an oci_error *
   resets it on entry, so a struct left over from an earlier call (or never
   initialised) never comes back with a stale code, message, pointer or
   position. Include after <cmocka.h>. */
#ifndef OCISPEC_TEST_API_CONTRACT_H
#define OCISPEC_TEST_API_CONTRACT_H

#include <stdio.h>
#include <string.h>

#include "ocispec/error.h"

/* Garbage in every byte (no NUL in the strings), then a plausible stale
   error on top: what a caller reusing one struct would hand in. */
static inline void stale_error(oci_error *e) {
  memset(e, 'x', sizeof *e);
  e->code = OCI_ESYNTAX;
  snprintf(e->message, sizeof e->message, "%s", "stale message");
  snprintf(e->pointer, sizeof e->pointer, "%s", "/stale/pointer");
  e->line = 7;
  e->column = 9;
  e->offset = 11;
}

static inline void assert_clean_error(const oci_error *e, const char *call) {
  if (e->code != OCI_OK || e->message[0] || e->pointer[0] || e->line ||
      e->column || e->offset) {
    print_error("%s left a stale error: code %d message \"%.40s\" pointer "
                "\"%.40s\" line %zu column %zu offset %zu\n",
                call, e->code, e->message, e->pointer, e->line, e->column,
                e->offset);
    fail();
  }
}

/* One row of the table: the call must succeed and leave e clean. */
#define OK_CLEAN(e, call)                                                      \
  do {                                                                         \
    stale_error(&(e));                                                         \
    int ok_clean_rc_ = (call);                                                 \
    if (ok_clean_rc_ != 0)                                                     \
      print_error("%s: %d %s\n", #call, ok_clean_rc_, (e).message);            \
    assert_int_equal(ok_clean_rc_, 0);                                         \
    assert_clean_error(&(e), #call);                                           \
  } while (0)

/* A failing call: the fresh code and a message containing `substr`;
   pointer, line, column as the failure gives them (not the stale ones). */
#define FAIL_FRESH(e, call, want_code, substr, want_pointer, want_line)        \
  do {                                                                         \
    stale_error(&(e));                                                         \
    assert_int_equal((call), (want_code));                                     \
    assert_int_equal((e).code, (want_code));                                   \
    assert_non_null(strstr((e).message, (substr)));                            \
    assert_null(strstr((e).message, "stale"));                                 \
    assert_string_equal((e).pointer, (want_pointer));                          \
    assert_int_equal((e).line, (want_line));                                   \
    if ((want_line) == 0) {                                                    \
      assert_int_equal((e).column, 0);                                         \
      assert_int_equal((e).offset, 0);                                         \
    }                                                                          \
  } while (0)

#endif
