/* Unit tests of oci_rootfs_read_file (csrc/image/rootfs.c): reading a
   file of an untrusted root file system never leaves it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocispec/runtime.h"

/* ---- oci_rootfs_read_file: never leaves the rootfs ---------------------- */

static void put_file(const char *dir, const char *name, const char *content) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
}

static void sub(char *out, size_t cap, const char *dir, const char *name) {
  int n = snprintf(out, cap, "%s/%s", dir, name);
  assert_true(n > 0 && (size_t)n < cap);
}

/* The content read, or NULL (absent); fails the test on an error. */
static char *read_ok(const char *root, const char *path) {
  char *buf = (char *)1;
  size_t len = 99;
  oci_error err;
  int rc = oci_rootfs_read_file(root, path, 0, &buf, &len, &err);
  if (rc != OCI_OK) fail_msg("read %s: %s", path, err.message);
  if (!buf) assert_int_equal(len, 0);
  return buf;
}

static void read_fails(const char *root, const char *path, size_t max, int code,
                       const char *msg) {
  char *buf = (char *)1;
  oci_error err;
  assert_int_equal(oci_rootfs_read_file(root, path, max, &buf, NULL, &err),
                   code);
  assert_null(buf);
  if (!strstr(err.message, msg)) fail_msg("%s: got \"%s\"", msg, err.message);
}

static void test_rootfs_read_file(void **state) {
  (void)state;
  char top[] = "/tmp/ocispec-rootfs-XXXXXX", root[256], p[512], q[512];
  assert_non_null(mkdtemp(top));
  sub(root, sizeof root, top, "root");
  assert_int_equal(mkdir(root, 0755), 0);
  sub(p, sizeof p, root, "etc");
  assert_int_equal(mkdir(p, 0755), 0);
  put_file(top, "host-secret", "secret\n");
  put_file(root, "etc/passwd", "root:x:0:0::/:/bin/sh\n");
  put_file(root, "inside", "inside\n");

  char *s = read_ok(root, "etc/passwd");
  assert_string_equal(s, "root:x:0:0::/:/bin/sh\n");
  free(s);
  s = read_ok(root, "/etc//./passwd"); /* leading "/", "//", "." */
  assert_non_null(s);
  free(s);
  assert_null(read_ok(root, "etc/nothing"));
  assert_null(read_ok(root, "nodir/passwd"));

  /* absolute links start at the rootfs; ".." stops there */
  sub(q, sizeof q, top, "host-secret");
  sub(p, sizeof p, root, "abs");
  assert_int_equal(symlink(q, p), 0);
  assert_null(read_ok(root, "abs"));
  sub(p, sizeof p, root, "up");
  assert_int_equal(symlink("../../../../host-secret", p), 0);
  assert_null(read_ok(root, "up"));
  sub(p, sizeof p, root, "etc/in");
  assert_int_equal(symlink("../../../inside", p), 0);
  s = read_ok(root, "etc/in");
  assert_string_equal(s, "inside\n");
  free(s);
  sub(p, sizeof p, root, "etc/abs-in");
  assert_int_equal(symlink("/etc/../inside", p), 0);
  s = read_ok(root, "etc/abs-in");
  assert_string_equal(s, "inside\n");
  free(s);
  /* a directory link, and ".." after it: the link's target's parent */
  sub(p, sizeof p, root, "e");
  assert_int_equal(symlink("/etc", p), 0);
  s = read_ok(root, "e/passwd");
  assert_non_null(s);
  free(s);
  s = read_ok(root, "e/../inside");
  assert_string_equal(s, "inside\n");
  free(s);
  sub(p, sizeof p, root, "hostdir");
  assert_int_equal(symlink(top, p), 0);
  assert_null(read_ok(root, "hostdir/host-secret"));
  sub(p, sizeof p, root, "dangling");
  assert_int_equal(symlink("/no/such/file", p), 0);
  assert_null(read_ok(root, "dangling"));

  /* refusals */
  sub(p, sizeof p, root, "fifo");
  assert_int_equal(mkfifo(p, 0644), 0);
  read_fails(root, "fifo", 0, OCI_EIO, "/fifo is a FIFO, not a regular file");
  read_fails(root, "etc", 0, OCI_EIO, "/etc is a directory, not a regular");
  read_fails(root, "etc/", 0, OCI_EIO, "/etc/ is a directory");
  read_fails(root, "inside/x", 0, OCI_EIO,
             "inside is not a regular file, not a directory");
  sub(p, sizeof p, root, "loop");
  assert_int_equal(symlink("loop", p), 0);
  read_fails(root, "loop", 0, OCI_EIO, "more than 40 symbolic links");
  read_fails(root, "etc/passwd", 8, OCI_ETOOBIG, "larger than 8 bytes");
  read_fails(root, "", 0, OCI_EINVAL, "empty path");
  read_fails(root, "/", 0, OCI_EINVAL, "empty path");
  sub(p, sizeof p, top, "nonexistent");
  read_fails(p, "etc/passwd", 0, OCI_EIO, "cannot open");
  char big[300];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  read_fails(root, big, 0, OCI_EIO, "a name longer than 255 bytes");

  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rootfs_read_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
