/* Unit tests for csrc/image/unpack.c and csrc/image/unpack_path.c: hostile
   layers (written by Python's tarfile, an independent tool), write failures
   (RLIMIT_FSIZE in a child process), options versions and
   oci_remove_tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ocispec/hash.h"
#include "ocispec/runtime.h"
#include "ocispec/unpack.h"

#define SCRATCH_NAME "unpack"
#include "../scratch.h"
/* the hand-made protobuf of user.rootlesscontainers (internal, tested here) */
#include "../../../csrc/image/xattr_internal.h"

/* A tar at tmp/name from Python statements over `t` (a TarFile) and the
   helpers f(name, data), d(name), l(name, target, type). */
static const char *tar(const char *name, const char *body) {
  const char *out = p(name);
  sh("python3 - '%s' <<'EOF'\n"
     "import io, sys, tarfile\n"
     "t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)\n"
     "def f(n, data=b''):\n"
     "    i = tarfile.TarInfo(n); i.size = len(data); i.mode = 0o644\n"
     "    t.addfile(i, io.BytesIO(data))\n"
     "def d(n):\n"
     "    i = tarfile.TarInfo(n); i.type = tarfile.DIRTYPE; i.mode = 0o755\n"
     "    t.addfile(i)\n"
     "def l(n, target, typ=tarfile.SYMTYPE):\n"
     "    i = tarfile.TarInfo(n); i.type = typ; i.linkname = target\n"
     "    t.addfile(i)\n"
     "%s\n"
     "t.close()\n"
     "EOF",
     out, body);
  return out;
}

static int is_there(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

static void expect_fail(const char *blob, const char *root,
                        const oci_unpack_options *o, int code,
                        const char *part) {
  oci_error err;
  int rc = oci_layer_apply(blob, root, o, NULL, &err);
  if (rc != code || !strstr(err.message, part))
    fail_msg("expected %d with \"%s\", got %d: %s", code, part, rc,
             err.message);
}

/* "CONTAINER:HOST[:SIZE]" as umoci parses it, and what is refused */
static void test_id_map_parse(void **state) {
  (void)state;
  oci_error e;
  oci_id_map m;
  assert_int_equal(oci_id_map_parse("0:100000:65536", &m, &e), OCI_OK);
  assert_int_equal(m.container, 0);
  assert_int_equal(m.host, 100000);
  assert_int_equal(m.size, 65536);
  assert_int_equal(oci_id_map_parse("7:8", &m, &e), OCI_OK);
  assert_int_equal(m.size, 1);
  assert_int_equal(oci_id_map_parse("4294967295:0:1", &m, &e), OCI_OK);
  static const char *const bad[] = {"",
                                    "x",
                                    "1",
                                    "1:",
                                    "1:2:",
                                    "1:2:0",
                                    "-1:0",
                                    "1:2:3:4",
                                    " 1:2",
                                    "1:2 ",
                                    "1::2",
                                    "4294967296:0",
                                    "0:4294967295:2",
                                    "4294967295:0:2",
                                    "99999999999999999999:0"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(oci_id_map_parse(bad[i], &m, &e), OCI_EINVAL);
    assert_non_null(strstr(e.message, "is not CONTAINER:HOST[:SIZE]"));
  }
  assert_int_equal(oci_id_map_parse(NULL, &m, &e), OCI_EINVAL);
}

/* Resource{uid, gid}: the bytes umoci writes (checked against umoci in
   spec/rootless_owner_spec.lua), and back; hostile bytes refused */
static void test_rootless_protobuf(void **state) {
  (void)state;
  unsigned char b[12];
  size_t n = oci_rootless_encode(1000, OCI_ROOTLESS_NOOP, b);
  static const unsigned char want[] = {0x08, 0xe8, 0x07, 0x10, 0xff,
                                       0xff, 0xff, 0xff, 0x0f};
  assert_int_equal(n, sizeof want);
  assert_memory_equal(b, want, n);
  uint32_t u, g;
  assert_int_equal(oci_rootless_decode(b, n, &u, &g), 0);
  assert_int_equal(u, 1000);
  assert_int_equal(g, OCI_ROOTLESS_NOOP);
  assert_int_equal(oci_rootless_encode(0, 0, b), 0);
  assert_int_equal(oci_rootless_decode(b, 0, &u, &g), 0);
  assert_int_equal(u, 0);
  /* unknown fields of every wire type are skipped */
  static const unsigned char extra[] = {0x1a, 0x02, 'h', 'i',  0x25, 1,
                                        2,    3,    4,   0x10, 0x05};
  assert_int_equal(oci_rootless_decode(extra, sizeof extra, &u, &g), 0);
  assert_int_equal(g, 5);
  static const unsigned char *const bad[] = {
      (const unsigned char *)"\x08",          /* truncated varint */
      (const unsigned char *)"\x08\x80",      /* unterminated */
      (const unsigned char *)"\x1a\x05hi",    /* length past the end */
      (const unsigned char *)"\x0b",          /* wire type 3 */
      (const unsigned char *)"\x00\x01",      /* field 0 */
      (const unsigned char *)"\x25\x01\x02"}; /* fixed32 cut short */
  static const size_t bad_len[] = {1, 2, 4, 1, 2, 3};
  for (size_t i = 0; i < sizeof bad_len / sizeof bad_len[0]; i++)
    assert_int_equal(oci_rootless_decode(bad[i], bad_len[i], &u, &g), -1);
  unsigned char ten[11];
  memset(ten, 0x80, sizeof ten); /* a varint of more than 64 bits */
  ten[0] = 0x08;
  assert_int_equal(oci_rootless_decode(ten, sizeof ten, &u, &g), -1);
}

static void test_whiteout_names(void **state) {
  (void)state;
  sh("mkdir '%s' && echo keep > '%s' && echo in > '%s'", p("root"),
     p("sentinel"), p("root/inside"));
  static const char *bad[] = {".wh...",  ".wh..",      ".wh.",
                              "a/.wh..", "./a/.wh...", "a/b/.wh."};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char body[200], want[100];
    snprintf(body, sizeof body, "f('early', b'x')\nd('a')\nf('%s')", bad[i]);
    snprintf(want, sizeof want, "layer entry \"%s\": whiteout of", bad[i]);
    expect_fail(tar("wh.tar", body), p("root"), NULL, OCI_EINVAL, want);
  }
  assert_true(is_there(p("sentinel")));
  assert_true(is_there(p("root/inside")));
  assert_false(is_there(p("root/early")));
}

/* Long names refused after parsing: the message quotes our own copy of
   the name (the old code read archive_entry_pathname after
   archive_entry_copy_pathname freed it; ASan saw it). */
static void test_messages_keep_names(void **state) {
  (void)state;
  sh("mkdir '%s'", p("root"));
  const char *blob =
      tar("h.tar", "l('n' * 150 + '/h', '../x', tarfile.LNKTYPE)\n");
  expect_fail(blob, p("root"), NULL, OCI_EINVAL,
              "\"..\" would leave the root file system");
  blob = tar("h2.tar",
             "l('q' * 200 + '/' + 'r' * 100, 'missing', tarfile.LNKTYPE)\n");
  oci_error err;
  assert_int_equal(oci_layer_apply(blob, p("root"), NULL, NULL, &err),
                   OCI_EINVAL);
  assert_non_null(strstr(err.message, "qqqq..."));
  assert_non_null(strstr(err.message, "does not exist"));
}

/* A write that fails (here: EFBIG from RLIMIT_FSIZE) is an error naming
   the entry, not a silently short file. */
static void test_write_failure(void **state) {
  (void)state;
  sh("mkdir '%s'", p("root"));
  const char *blob = tar("big.tar", "f('small', b's')\n"
                                    "f('big', b'x' * 262144)\n");
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {65536, 65536};
    setrlimit(RLIMIT_FSIZE, &rl);
    oci_error err;
    int rc = oci_layer_apply(blob, p("root"), NULL, NULL, &err);
    char msg[400];
    int n = snprintf(msg, sizeof msg, "%d %s", rc, rc ? err.message : "");
    if (write(fds[1], msg, (size_t)n) != n) _exit(2);
    _exit(0);
  }
  close(fds[1]);
  char got[400] = "";
  ssize_t n = read(fds[0], got, sizeof got - 1);
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  assert_true(n > 0);
  got[n] = '\0';
  char want[200];
  snprintf(want, sizeof want, "%d layer entry \"big\": write failed: %s",
           OCI_EIO, strerror(EFBIG));
  if (strcmp(got, want) != 0) fail_msg("got \"%s\", want \"%s\"", got, want);
}

static void test_options(void **state) {
  (void)state;
  sh("mkdir '%s'", p("root"));
  const char *blob = tar("ok.tar", "f('a', b'a')\nf('b', b'b')\n");
  oci_unpack_options o = OCI_UNPACK_OPTIONS_INIT;
  o.version = 0;
  expect_fail(blob, p("root"), &o, OCI_EINVAL, "unknown version 0");
  o.version = OCI_UNPACK_OPTIONS_VERSION + 1;
  expect_fail(blob, p("root"), &o, OCI_EINVAL, "unknown version");
  /* a version 1 caller: the version 2 fields are not read */
  o.version = 1;
  o.max_entries = 1;
  o.expected_size = 1;
  oci_error err;
  oci_unpack_stats st;
  assert_int_equal(oci_layer_apply(blob, p("root"), &o, &st, &err), OCI_OK);
  assert_int_equal(st.entries, 2);
  o = (oci_unpack_options)OCI_UNPACK_OPTIONS_INIT;
  o.max_entries = 1;
  expect_fail(blob, p("root"), &o, OCI_ETOOBIG,
              "more than 1 entries (limit max_entries)");
  o = (oci_unpack_options)OCI_UNPACK_OPTIONS_INIT;
  char digest[OCI_DIGEST_STRING_MAX];
  uint64_t size;
  assert_int_equal(oci_hash_file(OCI_DIGEST_SHA256, blob, digest, &size, &err),
                   OCI_OK);
  o.expected_digest = digest;
  o.expected_size = (int64_t)size;
  /* an uncompressed layer: its diff_id is its digest */
  o.expected_diff_id = digest;
  assert_int_equal(oci_layer_apply(blob, p("root"), &o, &st, &err), OCI_OK);
  o.expected_size = (int64_t)size - 1;
  expect_fail(blob, p("root"), &o, OCI_EMISMATCH, "size mismatch");
}

static void test_remove_tree(void **state) {
  (void)state;
  sh("mkdir -p '%s' '%s' && echo s > '%s' && ln -s '%s' '%s' && "
     "ln -s '%s' '%s'",
     p("outside"), p("t/sub"), p("outside/secret"), p("outside"),
     p("t/sub/link"), p("outside"), p("toplink"));
  oci_error err;
  assert_int_equal(oci_remove_tree(p("t"), &err), OCI_OK);
  assert_false(is_there(p("t")));
  assert_int_equal(oci_remove_tree(p("toplink"), &err), OCI_OK);
  assert_false(is_there(p("toplink")));
  assert_true(is_there(p("outside/secret")));
  assert_int_equal(oci_remove_tree(p("missing"), &err), OCI_OK);
  assert_int_equal(oci_remove_tree(p("outside/.."), &err), OCI_EINVAL);
  assert_int_equal(oci_remove_tree(p("outside/."), &err), OCI_EINVAL);
  assert_int_equal(oci_remove_tree("/", &err), OCI_EINVAL);
  assert_true(is_there(p("outside/secret")));
}

/* A tree deeper than the descriptor limit is removed all the same (the
   walk keeps one directory open, not one per level), and so is its
   whiteout in a layer. */
static void test_deep_tree(void **state) {
  (void)state;
  sh("mkdir '%s' && cd '%s' && python3 -c \"import os\n"
     "for i in range(300): os.mkdir('d'); os.chdir('d')\n"
     "open('f', 'w').write('x')\"",
     p("t"), p("t"));
  sh("mkdir '%s' && cp -a '%s' '%s'", p("root"), p("t/d"), p("root/d"));
  const char *blob = tar("wh.tar", "f('.wh.d')\n");
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct rlimit rl = {32, 32};
    setrlimit(RLIMIT_NOFILE, &rl);
    oci_error err;
    int rc = oci_remove_tree(p("t/d"), &err);
    if (rc == OCI_OK) rc = oci_layer_apply(blob, p("root"), NULL, NULL, &err);
    if (rc != OCI_OK) fprintf(stderr, "%s\n", err.message);
    _exit(rc == OCI_OK ? 0 : 1);
  }
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_false(is_there(p("t/d")));
  assert_false(is_there(p("root/d")));
  assert_true(is_there(p("t")));
  assert_true(is_there(p("root")));
}

/* A whiteout of a deep tree this layer wrote too: the lower files go at
   every level, the layer's directories stay; one descriptor suffices. */
static void test_deep_own_tree(void **state) {
  (void)state;
  sh("mkdir '%s'", p("root"));
  const char *lower =
      tar("lower.tar", "n = 'a'\n"
                       "for i in range(400):\n"
                       "    d(n); f(n + '/f', b'x'); n += '/a'\n");
  const char *upper = tar("upper.tar", "n = 'a'\n"
                                       "for i in range(400):\n"
                                       "    d(n); n += '/a'\n"
                                       "f('.wh.a')\n");
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct rlimit rl = {32, 32};
    setrlimit(RLIMIT_NOFILE, &rl);
    oci_error err;
    int rc = oci_layer_apply(lower, p("root"), NULL, NULL, &err);
    if (rc == OCI_OK) rc = oci_layer_apply(upper, p("root"), NULL, NULL, &err);
    if (rc != OCI_OK) fprintf(stderr, "%s\n", err.message);
    _exit(rc == OCI_OK ? 0 : 1);
  }
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_true(is_there(p("root/a/a/a")));
  assert_false(is_there(p("root/a/f")));
  assert_false(is_there(p("root/a/a/a/f")));
}

/* oci_layer_apply_fd: reads the caller's descriptor from its start and
   leaves it open; anything but a regular file is refused naming it. */
static void test_apply_fd(void **state) {
  (void)state;
  sh("mkdir '%s'", p("root"));
  const char *blob = tar("ok.tar", "f('a', b'a')\n");
  int fd = open(blob, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(lseek(fd, 100, SEEK_SET), 100); /* read from the start */
  oci_error err;
  oci_unpack_stats st;
  assert_int_equal(
      oci_layer_apply_fd(fd, "sha256:x", p("root"), NULL, &st, &err), OCI_OK);
  assert_int_equal(st.entries, 1);
  assert_true(is_there(p("root/a")));
  assert_true(fcntl(fd, F_GETFD) >= 0); /* still the caller's */
  oci_unpack_options o = OCI_UNPACK_OPTIONS_INIT;
  o.expected_digest = "sha256:"
                      "000000000000000000000000000000000000000000000000000000"
                      "0000000000";
  assert_int_equal(
      oci_layer_apply_fd(fd, "sha256:x", p("root"), &o, NULL, &err),
      OCI_EMISMATCH);
  assert_non_null(strstr(err.message, "(sha256:x)"));
  close(fd);
  int pfd[2];
  assert_int_equal(pipe(pfd), 0);
  assert_int_equal(
      oci_layer_apply_fd(pfd[0], NULL, p("root"), NULL, NULL, &err), OCI_EIO);
  assert_string_equal(err.message, "layer blob: not a regular file");
  close(pfd[0]);
  close(pfd[1]);
  assert_int_equal(oci_layer_apply_fd(-1, NULL, p("root"), NULL, NULL, &err),
                   OCI_EINVAL);
}

/* Parents resolved through symbolic links inside the root (unpack and
   oci_rootfs_read_file share the resolver): a 300-deep tree below a link
   whose absolute target names a directory beside the root lands inside
   the root, the sentinel there is untouched, and both paths keep one
   descriptor at a time under a 32 descriptor limit. */
static void test_deep_through_link(void **state) {
  (void)state;
  sh("mkdir '%s' '%s' && echo keep > '%s'", p("root"), p("outside"),
     p("outside/s"));
  char body[8192], target[400];
  snprintf(target, sizeof target, "%s", p("outside"));
  int n = snprintf(body, sizeof body,
                   "l('l', '%s')\n"
                   "n = 'l'\n"
                   "for i in range(300):\n"
                   "    n += '/d'; d(n)\n"
                   "f(n + '/f', b'deep')\n"
                   "l('up', '../../../../..')\n"
                   "f('up/top', b'top')\n",
                   target);
  assert_true(n > 0 && (size_t)n < sizeof body);
  const char *blob = tar("deep.tar", body);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct rlimit rl = {32, 32};
    setrlimit(RLIMIT_NOFILE, &rl);
    oci_error err;
    int rc = oci_layer_apply(blob, p("root"), NULL, NULL, &err);
    char rel[1024] = "l";
    for (int i = 0; i < 300; i++)
      strcat(rel, "/d");
    strcat(rel, "/f");
    char *buf = NULL;
    if (rc == OCI_OK)
      rc = oci_rootfs_read_file(p("root"), rel, 0, &buf, NULL, &err);
    if (rc != OCI_OK) fprintf(stderr, "%s\n", err.message);
    if (rc == OCI_OK && (!buf || strcmp(buf, "deep") != 0)) rc = 99;
    free(buf);
    _exit(rc == OCI_OK ? 0 : 1);
  }
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  char inside[600];
  snprintf(inside, sizeof inside, "root%s/d/d/d", p("outside"));
  assert_true(is_there(p(inside)));
  assert_true(is_there(p("root/top")));
  assert_false(is_there(p("outside/d")));
  sh("test \"$(ls -A '%s')\" = s && grep -qx keep '%s'", p("outside"),
     p("outside/s"));
}

/* one_pass: the layer is applied as it is read and checked at its end (a
   mismatch is still OCI_EMISMATCH, the rootfs holds the entries: the
   caller discards it); two passes write nothing on a mismatch. A blob
   whose bytes were changed (same size) is a digest mismatch whatever
   else failed on the way: a gzip stream damaged in its middle (Python's
   gzip, an independent writer) is reported by its digest, not as a
   corrupt stream. */
static void test_one_pass(void **state) {
  (void)state;
  sh("mkdir '%s' '%s' '%s'", p("two"), p("one"), p("ok"));
  const char *blob = tar("t.tar", "f('a', b'hello world')\nf('b', b'b')\n");
  oci_error err;
  char digest[OCI_DIGEST_STRING_MAX];
  uint64_t size;
  assert_int_equal(oci_hash_file(OCI_DIGEST_SHA256, blob, digest, &size, &err),
                   OCI_OK);
  /* a tampered tar: still a good tar, same size, other bytes */
  sh("python3 -c 'import sys; f = sys.argv[1]; b = open(f, \"rb\").read(); "
     "open(f, \"wb\").write(b.replace(b\"hello world\", b\"HELLO "
     "WORLD\"))' '%s'",
     blob);
  oci_unpack_options o = OCI_UNPACK_OPTIONS_INIT;
  o.expected_digest = digest;
  o.expected_size = (int64_t)size;
  o.expected_diff_id = digest;
  expect_fail(blob, p("two"), &o, OCI_EMISMATCH, "digest mismatch: expected");
  sh("test -z \"$(ls -A '%s')\"", p("two")); /* verified first */
  o.one_pass = true;
  expect_fail(blob, p("one"), &o, OCI_EMISMATCH, "digest mismatch: expected");
  assert_true(is_there(p("one/a"))); /* applied, then found out */
  /* the right bytes: one pass gives what two give */
  const char *good = tar("g.tar", "f('a', b'hello world')\nf('b', b'b')\n");
  oci_unpack_stats st;
  assert_int_equal(oci_layer_apply(good, p("ok"), &o, &st, &err), OCI_OK);
  assert_int_equal(st.entries, 2);
  sh("test \"$(cat '%s')\" = 'hello world'", p("ok/a"));
  /* the diff_id alone wrong (a fine tar): one pass fails too */
  o.expected_diff_id = "sha256:"
                       "3333333333333333333333333333333333333333333333333333"
                       "333333333333";
  expect_fail(good, p("ok"), &o, OCI_EMISMATCH,
              "uncompressed digest (diff_id) mismatch: expected sha256:3333");

  /* a gzip layer damaged in its middle, same size: the digest error */
  sh("python3 - '%s' '%s' <<'EOF'\n"
     "import gzip, hashlib, io, sys, tarfile, zlib\n"
     "data = b''.join(b'line %%d\\n' %% i for i in range(20000))\n"
     "b = io.BytesIO()\n"
     "t = tarfile.open(fileobj=b, mode='w', format=tarfile.PAX_FORMAT)\n"
     "i = tarfile.TarInfo('r'); i.size = len(data); t.addfile(i, "
     "io.BytesIO(data))\n"
     "t.close()\n"
     "z = bytearray(gzip.compress(b.getvalue(), mtime=0))\n"
     "open(sys.argv[2], 'w').write('sha256:' + hashlib.sha256(z).hexdigest())\n"
     "n = len(z)\n"
     "z[n // 2:n - 8] = bytes(n - 8 - n // 2)\n"
     "try:\n"
     "    gzip.decompress(bytes(z)); sys.exit('still a good gzip')\n"
     "except (OSError, EOFError, zlib.error):\n"
     "    pass\n"
     "open(sys.argv[1], 'wb').write(z)\n"
     "EOF",
     p("bad.tgz"), p("bad.digest"));
  FILE *f = fopen(p("bad.digest"), "r");
  assert_non_null(f);
  assert_non_null(fgets(digest, sizeof digest, f));
  fclose(f);
  oci_unpack_options g = OCI_UNPACK_OPTIONS_INIT;
  g.expected_digest = digest;
  for (int one = 0; one < 2; one++) {
    g.one_pass = one;
    sh("rm -rf '%s' && mkdir '%s'", p("z"), p("z"));
    int rc = oci_layer_apply(p("bad.tgz"), p("z"), &g, NULL, &err);
    if (rc != OCI_EMISMATCH ||
        !strstr(err.message, "digest mismatch: expected sha256:") ||
        !strstr(err.message, "reading it failed"))
      fail_msg("one_pass %d: got %d: %s", one, rc, err.message);
  }
  /* without an expected digest, the stream's own error */
  g.expected_digest = NULL;
  expect_fail(p("bad.tgz"), p("z"), &g, OCI_EINVAL, "bad.tgz");
}

/* The feeder thread runs ahead of the tar parse: a layer whose first
   header is garbage, followed by megabytes the feeder inflates past
   max_bytes while the caller already failed, is "not a layer" every time,
   in both modes (the feeder set the shared over_limit flag itself: about
   one run in four said "more than N bytes", and TSan saw the race). A
   layer that really is over the limit still says so. */
static void test_feeder_limit_race(void **state) {
  (void)state;
  sh("mkdir '%s'", p("race"));
  sh("python3 -c 'import os, sys; open(sys.argv[1], \"wb\").write("
     "os.urandom(512 + (8 << 20)))' '%s'",
     p("garbage.tar"));
  tar("big.tar", "f('a', bytes(3 << 20))\nf('b', bytes(3 << 20))\n");
  oci_unpack_options o = OCI_UNPACK_OPTIONS_INIT;
  o.max_bytes = 1 << 20;
  for (int i = 0; i < 40; i++) {
    o.one_pass = i % 2;
    expect_fail(p("garbage.tar"), p("race"), &o, OCI_EINVAL, "not a layer");
  }
  for (int i = 0; i < 4; i++) {
    o.one_pass = i % 2;
    expect_fail(p("big.tar"), p("race"), &o, OCI_ETOOBIG,
                "uncompresses to more than 1048576 bytes (limit max_bytes)");
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_id_map_parse),
      cmocka_unit_test(test_rootless_protobuf),
      cmocka_unit_test_setup_teardown(test_whiteout_names, setup, teardown),
      cmocka_unit_test_setup_teardown(test_messages_keep_names, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_options, setup, teardown),
      cmocka_unit_test_setup_teardown(test_remove_tree, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deep_tree, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deep_own_tree, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deep_through_link, setup, teardown),
      cmocka_unit_test_setup_teardown(test_apply_fd, setup, teardown),
      cmocka_unit_test_setup_teardown(test_feeder_limit_race, setup, teardown),
      cmocka_unit_test_setup_teardown(test_one_pass, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
