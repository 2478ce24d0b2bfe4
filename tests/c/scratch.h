/* A scratch directory for the C tests that write files: define
   SCRATCH_NAME ("layer", "unpack", ...) and include this after cmocka.h.
   setup/teardown (cmocka group or test fixtures) make and remove
   /tmp/ocispec-test-SCRATCH_NAME.XXXXXX; p(rel) is a path inside it (64
   rotating buffers, so several can be used in one call); sh(fmt, ...) runs
   a shell command and fails the test when it fails. */
#ifndef OCISPEC_TEST_SCRATCH_H
#define OCISPEC_TEST_SCRATCH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef SCRATCH_NAME
#error "define SCRATCH_NAME before including scratch.h"
#endif

static char tmp[256];

static int setup(void **state) {
  (void)state;
  snprintf(tmp, sizeof tmp, "/tmp/ocispec-test-%s.XXXXXX", SCRATCH_NAME);
  return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  return system(cmd) == 0 ? 0 : -1;
}

static inline const char *p(const char *rel) {
  static char buf[64][512];
  static int k;
  k = (k + 1) % 64;
  int n = snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, rel);
  if (n < 0 || (size_t)n >= sizeof buf[k]) fail_msg("path too long: %s", rel);
  return buf[k];
}

static inline void sh(const char *fmt, ...) {
  char cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof cmd) fail_msg("command too long: %s", fmt);
  int rc = system(cmd);
  if (rc != 0) fail_msg("command failed (%d): %s", rc, cmd);
}

#endif
