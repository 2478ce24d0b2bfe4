/* Unit tests for csrc/image/layer.c and csrc/image/layer_read.c: reproducible
   layer blobs (image-spec layer.md) from a directory, from entries and from a
   changeset, checked against GNU tar, gzip, zstd and sha256sum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ocispec/layer.h"

#define SCRATCH_NAME "layer"
#include "../scratch.h"

/* First line of a command's output. */
static void out1(char *out, size_t cap, const char *fmt, ...) {
  char cmd[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  out[0] = '\0';
  if (!fgets(out, (int)cap, f)) out[0] = '\0';
  pclose(f);
  out[strcspn(out, "\n")] = '\0';
}

static void write_file(const char *path, const char *s) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(s, f);
  fclose(f);
}

static void make_tree(const char *root) {
  sh("mkdir -p '%s/bin' '%s/etc/empty' && cp /bin/busybox '%s/bin/busybox' && "
     "ln '%s/bin/busybox' '%s/bin/ls' && ln -s busybox '%s/bin/sh' && "
     "printf 'box\\n' > '%s/etc/hostname' && mkfifo '%s/etc/fifo' && "
     "touch -d @2000000000 '%s/etc/hostname'",
     root, root, root, root, root, root, root, root, root);
}

static void build_ok(const oci_layer_source *src, const oci_layer_options *o,
                     const char *out, oci_layer_result *r) {
  oci_error err;
  oci_error_clear(&err);
  int rc = oci_layer_build_file(src, o, out, r, &err);
  if (rc) fail_msg("build %s: %s", out, err.message);
}

/* diff_id is sha256sum of the decompressed blob, digest of the blob. */
static void check_digests(const char *out, const oci_layer_result *r,
                          const char *decompress) {
  char line[256];
  out1(line, sizeof line, "%s < '%s' | sha256sum", decompress, out);
  assert_memory_equal(line, r->diff_id + 7, 64);
  out1(line, sizeof line, "sha256sum < '%s'", out);
  assert_memory_equal(line, r->digest + 7, 64);
  struct stat st;
  assert_int_equal(stat(out, &st), 0);
  assert_int_equal((uint64_t)st.st_size, r->size);
  assert_int_equal(st.st_mode & 07777, 0644);
  out1(line, sizeof line, "%s < '%s' | wc -c", decompress, out);
  assert_int_equal(strtoull(line, NULL, 10), r->uncompressed_size);
}

static void test_dir_each_compression(void **state) {
  (void)state;
  make_tree(p("root"));
  oci_layer_source src = {.dir = p("root")};
  oci_layer_options o;
  oci_layer_options_init(&o);
  oci_layer_result r;

  build_ok(&src, &o, p("l.tgz"), &r);
  assert_string_equal(r.media_type, OCI_MEDIA_TYPE_LAYER_GZIP);
  check_digests(p("l.tgz"), &r, "gzip -dc");
  sh("gzip -t '%s' && tar -tzf '%s' >/dev/null", p("l.tgz"), p("l.tgz"));
  /* gzip header: MTIME 0 and no FNAME flag (RFC 1952) */
  char line[256];
  out1(line, sizeof line, "od -A n -t x1 -N 8 '%s'", p("l.tgz"));
  assert_string_equal(line, " 1f 8b 08 00 00 00 00 00");
  assert_int_equal(r.entries, 8);

  o.compression = OCI_LAYER_ZSTD;
  build_ok(&src, &o, p("l.tzst"), &r);
  assert_string_equal(r.media_type, OCI_MEDIA_TYPE_LAYER_ZSTD);
  check_digests(p("l.tzst"), &r, "zstd -dc");
  sh("zstd -q -t '%s' && zstd -dc '%s' | tar -tf - >/dev/null", p("l.tzst"),
     p("l.tzst"));

  o.compression = OCI_LAYER_NONE;
  build_ok(&src, &o, p("l.tar"), &r);
  assert_string_equal(r.media_type, OCI_MEDIA_TYPE_LAYER);
  assert_string_equal(r.diff_id, r.digest);
  check_digests(p("l.tar"), &r, "cat");

  /* what GNU tar sees: sorted, relative, no root, hardlink, symlink */
  sh("tar -tvf '%s' | awk '{print $1, $2, $6, $7, $8}' > '%s'", p("l.tar"),
     p("tv"));
  sh("printf '%%s\\n' 'drwxr-xr-x 0/0 bin/  ' '-rwxr-xr-x 0/0 bin/busybox  ' "
     "'hrwxr-xr-x 0/0 bin/ls link to' 'lrwxrwxrwx 0/0 bin/sh -> busybox' "
     "'drwxr-xr-x 0/0 etc/  ' 'drwxr-xr-x 0/0 etc/empty/  ' "
     "'prw-r--r-- 0/0 etc/fifo  ' '-rw-r--r-- 0/0 etc/hostname  ' > '%s' && "
     "diff '%s' '%s'",
     p("want"), p("want"), p("tv"));
  /* no atime/ctime anywhere: no pax header at all for these entries */
  sh("! grep -a -q -e 'atime=' -e 'ctime=' -e PaxHeader '%s'", p("l.tar"));
}

static void test_reproducible(void **state) {
  (void)state;
  make_tree(p("a"));
  oci_layer_source src = {.dir = p("a")};
  oci_layer_options o;
  oci_layer_options_init(&o);
  o.clamp_mtime = 1;
  o.mtime = 1700000000;
  oci_layer_result r1, r2;
  build_ok(&src, &o, p("1.tgz"), &r1);
  /* the same tree copied later (new mtimes, new inodes): same bytes */
  sleep(1);
  sh("cp -a '%s' '%s' && touch '%s/etc'", p("a"), p("b"), p("b"));
  src.dir = p("b");
  build_ok(&src, &o, p("2.tgz"), &r2);
  assert_string_equal(r1.digest, r2.digest);
  assert_string_equal(r1.diff_id, r2.diff_id);
  sh("cmp '%s' '%s'", p("1.tgz"), p("2.tgz"));

  /* clamp: newer times become 1700000000, older ones stay (2000000000 is
     newer, so every entry is clamped here) */
  oci_layer_listing *l;
  oci_error err;
  assert_int_equal(oci_layer_list(p("1.tgz"), &l, &err), 0);
  for (size_t i = 0; i < l->len; i++)
    assert_int_equal(l->items[i].mtime, 1700000000);
  oci_layer_listing_free(l);
  o.mtime = 2100000000;
  build_ok(&src, &o, p("3.tgz"), &r2);
  assert_int_equal(oci_layer_list(p("3.tgz"), &l, &err), 0);
  for (size_t i = 0; i < l->len; i++)
    if (!strcmp(l->items[i].path, "etc/hostname"))
      assert_int_equal(l->items[i].mtime, 2000000000);
  oci_layer_listing_free(l);

  /* SOURCE_DATE_EPOCH */
  oci_layer_options_init(&o);
  setenv("SOURCE_DATE_EPOCH", "1234", 1);
  assert_int_equal(oci_layer_options_from_env(&o, &err), 0);
  assert_true(o.clamp_mtime);
  assert_int_equal(o.mtime, 1234);
  setenv("SOURCE_DATE_EPOCH", "12x", 1);
  assert_int_equal(oci_layer_options_from_env(&o, &err), OCI_EINVAL);
  assert_string_equal(err.message, "SOURCE_DATE_EPOCH=\"12x\" is not a number "
                                   "of seconds since the epoch");
  unsetenv("SOURCE_DATE_EPOCH");
}

static void test_owner_override(void **state) {
  (void)state;
  sh("mkdir -p '%s/d' && echo x > '%s/d/f' && chown -R 1234:5678 '%s' "
     "2>/dev/null || true",
     p("o"), p("o"), p("o"));
  oci_layer_source src = {.dir = p("o")};
  oci_layer_options o;
  oci_layer_options_init(&o);
  o.uid = 0;
  o.gid = 42;
  oci_layer_result r;
  build_ok(&src, &o, p("o.tar"), &r);
  oci_layer_listing *l;
  oci_error err;
  assert_int_equal(oci_layer_list(p("o.tar"), &l, &err), 0);
  assert_int_equal(l->len, 2);
  for (size_t i = 0; i < l->len; i++) {
    assert_int_equal(l->items[i].uid, 0);
    assert_int_equal(l->items[i].gid, 42);
  }
  oci_layer_listing_free(l);
}

static void test_entries(void **state) {
  (void)state;
  write_file(p("src"), "source bytes\n");
  oci_layer_entry e[] = {
      {.path = "bin/ls",
       .type = OCI_LAYER_HARDLINK,
       .target = "bin/busybox",
       .mode = -1,
       .uid = -1,
       .gid = -1},
      {.path = "bin",
       .type = OCI_LAYER_DIR,
       .mode = 0755,
       .uid = -1,
       .gid = -1},
      {.path = "bin/busybox",
       .type = OCI_LAYER_FILE,
       .source = p("src"),
       .mode = 0755,
       .uid = -1,
       .gid = -1,
       .has_mtime = 1,
       .mtime = 7},
      {.path = "./bin//sh",
       .type = OCI_LAYER_SYMLINK,
       .target = "busybox",
       .mode = -1,
       .uid = -1,
       .gid = -1},
      {.path = "dev/null",
       .type = OCI_LAYER_CHAR,
       .major = 1,
       .minor = 3,
       .mode = 0666,
       .uid = -1,
       .gid = -1},
      {.path = "dev/sda",
       .type = OCI_LAYER_BLOCK,
       .major = 8,
       .minor = 0,
       .mode = -1,
       .uid = 6,
       .gid = 7},
      {.path = "dev/p",
       .type = OCI_LAYER_FIFO,
       .mode = -1,
       .uid = -1,
       .gid = -1},
      {.path = "etc/hostname",
       .type = OCI_LAYER_FILE,
       .content = "box\n",
       .content_len = 4,
       .mode = -1,
       .uid = -1,
       .gid = -1},
      /* a link whose target sorts after it: the content moves to "a" */
      {.path = "a",
       .type = OCI_LAYER_HARDLINK,
       .target = "etc/hostname",
       .mode = -1,
       .uid = -1,
       .gid = -1},
  };
  oci_layer_source src = {.entries = e, .n_entries = 9};
  oci_layer_options o;
  oci_layer_options_init(&o);
  o.compression = OCI_LAYER_NONE;
  oci_layer_result r;
  build_ok(&src, &o, p("e.tar"), &r);
  oci_layer_listing *l;
  oci_error err;
  assert_int_equal(oci_layer_list(p("e.tar"), &l, &err), 0);
  static const struct {
    const char *path;
    oci_layer_type type;
    unsigned mode;
    uint64_t size;
    const char *target;
  } want[] = {
      {"a", OCI_LAYER_FILE, 0644, 4, NULL},
      {"bin/", OCI_LAYER_DIR, 0755, 0, NULL},
      {"bin/busybox", OCI_LAYER_FILE, 0755, 13, NULL},
      {"bin/ls", OCI_LAYER_HARDLINK, 0755, 0, "bin/busybox"},
      {"bin/sh", OCI_LAYER_SYMLINK, 0777, 0, "busybox"},
      {"dev/null", OCI_LAYER_CHAR, 0666, 0, NULL},
      {"dev/p", OCI_LAYER_FIFO, 0644, 0, NULL},
      {"dev/sda", OCI_LAYER_BLOCK, 0644, 0, NULL},
      {"etc/hostname", OCI_LAYER_HARDLINK, 0644, 0, "a"},
  };
  assert_int_equal(l->len, 9);
  for (size_t i = 0; i < 9; i++) {
    assert_string_equal(l->items[i].path, want[i].path);
    assert_int_equal(l->items[i].type, want[i].type);
    assert_int_equal(l->items[i].mode, want[i].mode);
    assert_int_equal(l->items[i].size, want[i].size);
    if (want[i].target)
      assert_string_equal(l->items[i].target, want[i].target);
    else
      assert_null(l->items[i].target);
  }
  assert_int_equal(l->items[2].mtime, 7);
  assert_int_equal(l->items[5].major, 1);
  assert_int_equal(l->items[5].minor, 3);
  assert_int_equal(l->items[7].uid, 6);
  assert_int_equal(l->items[7].gid, 7);
  oci_layer_listing_free(l);
  sh("cd '%s' && mkdir x && tar -C x -xf e.tar && test \"$(cat x/a)\" = box "
     "&& test x/a -ef x/etc/hostname && test \"$(cat x/bin/sh)\" = 'source "
     "bytes' && test -c x/dev/null",
     tmp);
}

static void test_diff(void **state) {
  (void)state;
  const char *L = p("lower"), *U = p("upper");
  sh("mkdir -p '%s/a' '%s/b/x' '%s/keep' '%s/c' '%s/gonedir/sub' && "
     "echo 1 > '%s/a/f' && echo 2 > '%s/a/gone' && echo 3 > '%s/b/x/y' && "
     "echo k > '%s/keep/k' && echo old > '%s/c/changed' && echo f > '%s/t' && "
     "echo s > '%s/gonedir/sub/s' && cp -a '%s' '%s' && "
     "rm '%s/a/gone' && rm -r '%s/b/x' '%s/gonedir' && echo n > '%s/b/n' && "
     "echo newer > '%s/c/changed' && echo add > '%s/added' && rm '%s/t' && "
     "mkdir '%s/t' && echo i > '%s/t/i'",
     L, L, L, L, L, L, L, L, L, L, L, L, L, U, U, U, U, U, U, U, U, U, U);
  oci_layer_source src = {.lower = L, .upper = U};
  oci_layer_options o;
  oci_layer_options_init(&o);
  o.clamp_mtime = 1;
  o.mtime = 5;
  oci_layer_result r;
  build_ok(&src, &o, p("d.tgz"), &r);
  oci_layer_listing *l;
  oci_error err;
  assert_int_equal(oci_layer_list(p("d.tgz"), &l, &err), 0);
  /* removed file -> whiteout; emptied-and-refilled dir -> opaque marker
     right after it; changed file; added file; file replaced by a dir;
     removed directory -> one whiteout; keep/ unchanged -> absent */
  static const char *want[] = {
      "a/", "a/.wh.gone", "added", "b/",  "b/.wh..wh..opq", "b/n",
      "c/", "c/changed",  "t/",    "t/i", ".wh.gonedir"};
  char got[512] = "", exp[512] = "";
  for (size_t i = 0; i < l->len; i++) {
    strcat(got, l->items[i].path);
    strcat(got, " ");
  }
  /* bytewise order: ".wh.gonedir" ('.') first */
  strcat(exp, want[10]);
  strcat(exp, " ");
  for (size_t i = 0; i < 10; i++) {
    strcat(exp, want[i]);
    strcat(exp, " ");
  }
  assert_string_equal(got, exp);
  for (size_t i = 0; i < l->len; i++) {
    assert_int_equal(l->items[i].mtime, 5);
    if (strstr(l->items[i].path, ".wh.")) {
      assert_int_equal(l->items[i].type, OCI_LAYER_FILE);
      assert_int_equal(l->items[i].size, 0);
    }
  }
  oci_layer_listing_free(l);

  /* identical trees: an empty layer (just the end-of-archive blocks) */
  src.lower = U;
  o.compression = OCI_LAYER_NONE;
  build_ok(&src, &o, p("same.tar"), &r);
  assert_int_equal(r.entries, 0);
  assert_int_equal(r.uncompressed_size, 1024);
}

static void expect_error(const oci_layer_source *src, int code,
                         const char *msg) {
  oci_layer_options o;
  oci_layer_options_init(&o);
  oci_layer_result r;
  oci_error err;
  oci_error_clear(&err);
  assert_int_equal(oci_layer_build_file(src, &o, p("bad.tgz"), &r, &err), code);
  if (!strstr(err.message, msg))
    fail_msg("\"%s\" lacks \"%s\"", err.message, msg);
  assert_int_equal(access(p("bad.tgz"), F_OK), -1);
  /* no temporary file left beside it */
  char line[64];
  out1(line, sizeof line, "ls -a '%s' | grep -c tmp || true", tmp);
  assert_string_equal(line, "0");
}

#define E(...)                                                                 \
  { .mode = -1, .uid = -1, .gid = -1, __VA_ARGS__ }

static void test_errors(void **state) {
  (void)state;
  oci_layer_entry e1[] = {E(.path = "../x")};
  oci_layer_source s = {.entries = e1, .n_entries = 1};
  expect_error(&s, OCI_EINVAL,
               "layer entry #1 \"../x\": path escapes the layer root");
  oci_layer_entry e2[] = {E(.path = "ok"), E(.path = "/etc/x")};
  s.entries = e2;
  s.n_entries = 2;
  expect_error(&s, OCI_EINVAL, "layer entry #2 \"/etc/x\": path is absolute");
  oci_layer_entry e3[] = {E(.path = "a/b"), E(.path = "./a//b/")};
  s.entries = e3;
  expect_error(&s, OCI_EINVAL,
               "layer entry \"a/b\": duplicate path (entries #1 and #2)");
  oci_layer_entry e4[] = {E(.path = "x", .type = (oci_layer_type)42)};
  s.entries = e4;
  s.n_entries = 1;
  expect_error(&s, OCI_EINVAL, "layer entry \"x\": unknown type 42");
  oci_layer_entry e5[] = {E(.path = "x", .source = "/nonexistent/src")};
  s.entries = e5;
  expect_error(&s, OCI_EIO,
               "layer entry \"x\": cannot read /nonexistent/src: No such file");
  oci_layer_entry e6[] = {E(.path = "x", .source = "/")};
  s.entries = e6;
  expect_error(&s, OCI_EINVAL,
               "layer entry \"x\": source / is not a regular file");
  oci_layer_entry e7[] = {
      E(.path = "x", .type = OCI_LAYER_HARDLINK, .target = "nope")};
  s.entries = e7;
  expect_error(&s, OCI_EINVAL,
               "layer entry \"x\": hardlink target \"nope\" is not among");
  oci_layer_entry e8[] = {
      E(.path = "x", .type = OCI_LAYER_HARDLINK, .target = "y"),
      E(.path = "y", .type = OCI_LAYER_HARDLINK, .target = "x")};
  s.entries = e8;
  s.n_entries = 2;
  expect_error(&s, OCI_EINVAL, "hardlinks form a loop");
  oci_layer_entry e9[] = {
      E(.path = "d", .type = OCI_LAYER_DIR),
      E(.path = "x", .type = OCI_LAYER_HARDLINK, .target = "d")};
  s.entries = e9;
  expect_error(&s, OCI_EINVAL, "hardlink target \"d\" is a dir, not a file");
  oci_layer_entry e10[] = {E(.path = "s", .type = OCI_LAYER_SYMLINK)};
  s.entries = e10;
  s.n_entries = 1;
  expect_error(&s, OCI_EINVAL, "layer entry \"s\": a symlink needs a target");
  oci_layer_entry e11[] = {
      {.path = "f", .mode = 0100644, .uid = -1, .gid = -1}};
  s.entries = e11;
  expect_error(&s, OCI_EINVAL, "mode 100644 is not permission bits");

  oci_layer_source d = {.dir = "/nonexistent/dir"};
  expect_error(&d, OCI_EIO,
               "layer: directory /nonexistent/dir: No such file or directory");
  d.dir = "/etc/hostname";
  expect_error(&d, OCI_EINVAL,
               "layer: directory /etc/hostname is not a "
               "directory");
  oci_layer_source both = {.dir = tmp, .lower = tmp, .upper = tmp};
  expect_error(&both, OCI_EINVAL,
               "give exactly one of dir, entries, or lower "
               "and upper (got 2)");
  oci_layer_source half = {.lower = tmp};
  expect_error(&half, OCI_EINVAL, "a changeset needs both lower and upper");

  /* options */
  oci_layer_compression c;
  oci_error err;
  assert_int_equal(oci_layer_compression_from_name("bz2", &c, &err),
                   OCI_EINVAL);
  assert_string_equal(err.message,
                      "unknown layer compression \"bz2\" (gzip, zstd or none)");
  oci_layer_options o;
  oci_layer_options_init(&o);
  o.level = 10;
  oci_layer_result r;
  s.entries = NULL;
  oci_layer_entry ok[] = {E(.path = "f")};
  s.entries = ok;
  assert_int_equal(oci_layer_build_file(&s, &o, p("x"), &r, &err), OCI_EINVAL);
  assert_string_equal(err.message, "layer compression level 10 is out of "
                                   "range for gzip (1 to 9)");
  o.compression = OCI_LAYER_ZSTD;
  o.level = 19;
  assert_int_equal(oci_layer_build_file(&s, &o, p("x"), &r, &err), 0);

  /* an existing output survives a failed build untouched */
  write_file(p("keep"), "precious");
  s.entries = e1;
  assert_int_equal(oci_layer_build_file(&s, NULL, p("keep"), &r, &err),
                   OCI_EINVAL);
  char line[64];
  out1(line, sizeof line, "cat '%s'", p("keep"));
  assert_string_equal(line, "precious");
  /* an unwritable output place */
  s.entries = ok;
  assert_int_equal(
      oci_layer_build_file(&s, NULL, "/nonexistent/dir/out", &r, &err),
      OCI_EIO);
  assert_non_null(strstr(err.message, "cannot create a file beside "
                                      "/nonexistent/dir/out"));
  /* a write error on the fd (read-only fd) */
  int fd = open("/dev/null", O_RDONLY);
  assert_int_equal(oci_layer_build(&s, NULL, fd, &r, &err), OCI_EIO);
  assert_non_null(strstr(err.message, "layer: cannot write the blob: Bad file "
                                      "descriptor"));
  close(fd);
  /* listing something that is not a layer */
  oci_layer_listing *l;
  write_file(p("junk"), "this is not a tar archive at all, not even close");
  assert_int_equal(oci_layer_list(p("junk"), &l, &err), OCI_EIO);
  assert_non_null(strstr(err.message, p("junk")));
  assert_int_equal(oci_layer_list(p("missing"), &l, &err), OCI_EIO);
  if (!strstr(err.message, "No such file")) fail_msg("%s", err.message);
}

/* oci_layer_decompress against gzip and zstd themselves: the output is
   what `gzip -dc` / `zstd -dc` give, diff_id its sha256sum; a limit, junk
   and an existing output fail with nothing left behind. */
static void test_decompress(void **state) {
  (void)state;
  sh("head -c 300000 /dev/urandom > '%s' && gzip -c '%s' > '%s' && "
     "zstd -q -c '%s' > '%s'",
     p("raw"), p("raw"), p("raw.gz"), p("raw"), p("raw.zst"));
  sh("printf 'sha256:%%s' \"$(sha256sum < '%s' | cut -d' ' -f1)\" > '%s'",
     p("raw"), p("want"));
  char want[OCI_DIGEST_STRING_MAX] = {0};
  FILE *f = fopen(p("want"), "r");
  assert_non_null(f);
  assert_non_null(fgets(want, sizeof want, f));
  fclose(f);
  const char *ins[] = {"raw.gz", "raw.zst", "raw"};
  for (size_t i = 0; i < 3; i++) {
    char diff[OCI_DIGEST_STRING_MAX];
    uint64_t size = 0;
    oci_error err;
    sh("rm -f '%s'", p("out"));
    assert_int_equal(
        oci_layer_decompress(p(ins[i]), p("out"), 0, diff, &size, &err), 0);
    assert_string_equal(diff, want);
    assert_int_equal(size, 300000);
    sh("cmp '%s' '%s'", p("raw"), p("out"));
    /* no output path: only the diff_id and the size */
    char diff2[OCI_DIGEST_STRING_MAX];
    uint64_t size2 = 0;
    assert_int_equal(
        oci_layer_decompress(p(ins[i]), NULL, 0, diff2, &size2, &err), 0);
    assert_string_equal(diff2, want);
    assert_int_equal(size2, 300000);
  }
  oci_error err;
  char diff[OCI_DIGEST_STRING_MAX];
  /* the output exists: refused, left as it was */
  assert_int_equal(
      oci_layer_decompress(p("raw.gz"), p("out"), 0, diff, NULL, &err),
      OCI_EIO);
  assert_non_null(strstr(err.message, "cannot create"));
  sh("cmp '%s' '%s'", p("raw"), p("out"));
  /* over the limit: OCI_ETOOBIG and no output */
  assert_int_equal(
      oci_layer_decompress(p("raw.gz"), p("o2"), 1000, diff, NULL, &err),
      OCI_ETOOBIG);
  assert_non_null(strstr(err.message, "max_bytes"));
  sh("test ! -e '%s'", p("o2"));
  /* a truncated gzip stream: an error naming the blob, no output */
  sh("head -c 1000 '%s' > '%s'", p("raw.gz"), p("cut.gz"));
  assert_int_not_equal(
      oci_layer_decompress(p("cut.gz"), p("o3"), 0, diff, NULL, &err), 0);
  assert_non_null(strstr(err.message, p("cut.gz")));
  sh("test ! -e '%s'", p("o3"));
  assert_int_equal(
      oci_layer_decompress(p("missing"), p("o4"), 0, diff, NULL, &err),
      OCI_EIO);
  sh("test ! -e '%s'", p("o4"));
}

static void test_names(void **state) {
  (void)state;
  assert_string_equal(oci_layer_type_name(OCI_LAYER_HARDLINK), "hardlink");
  assert_null(oci_layer_type_name((oci_layer_type)99));
  assert_int_equal(oci_layer_type_from_name("fifo"), OCI_LAYER_FIFO);
  assert_int_equal(oci_layer_type_from_name("socket"), -1);
  assert_null(oci_layer_media_type((oci_layer_compression)9));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_dir_each_compression, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_reproducible, setup, teardown),
      cmocka_unit_test_setup_teardown(test_owner_override, setup, teardown),
      cmocka_unit_test_setup_teardown(test_entries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_diff, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_decompress, setup, teardown),
      cmocka_unit_test(test_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
