/* The layer builder's compression threads (csrc/image/layer_pipe.c), run
   under ThreadSanitizer by `scripts/test.sh --tsan`:
   - threads 0 gives the bytes a single-threaded build always gave
     (digests recorded from main before the compression moved to its own
     thread; gzip against Python's zlib, zstd against `zstd
     --single-thread`), and a version 2 options struct is not read past
     its end;
   - threads 1, 2, 4 and 8 give one byte stream (the same digest, recorded
     too): zstd equal to the zstd tool's own multi-threaded output, gzip
     one valid gzip member that gzip and Python decompress to the tar;
   - the default (options version 4) is OCI_LAYER_THREADS_AUTO: those
     bytes, with one thread per CPU of the affinity mask (one CPU: the
     same bytes), while a version 3 struct as the old _INIT made it keeps
     threads 0's;
   - the single-threaded bytes where the stream is cut (an empty layer,
     a tar of exactly one or two chunks, stored deflate blocks), and which
     setting changes the bytes (threads 0 against 1..N, gzip and zstd);
   - a failure of the compressing threads (ENOSPC, EBADF, EPIPE) or of the
     building thread (a file that shrank) is the call's error, with every
     thread joined and no fd left open. */
#define _GNU_SOURCE /* CPU_COUNT, sched_setaffinity */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocispec/layer.h"

#define SCRATCH_NAME "layer-threads"
#include "../scratch.h"

/* Semi-compressible content (words and random runs, deflate takes it to
   about 60%), the same on every run. */
static unsigned char *gen(size_t n, uint32_t seed) {
  unsigned char *b = malloc(n);
  assert_non_null(b);
  uint32_t x = seed;
#define NEXT() (x = x * 1103515245u + 12345u, x >> 16)
  size_t i = 0;
  while (i < n) {
    unsigned r = NEXT();
    if (r % 8 == 0)
      for (int k = 0; k < 24 && i < n; k++)
        b[i++] = (unsigned char)NEXT();
    else {
      unsigned len = 2 + r % 7, w = NEXT() % 64;
      for (unsigned k = 0; k < len && i < n; k++)
        b[i++] = (unsigned char)('a' + (w * 7 + k * 3) % 26);
      if (i < n) b[i++] = ' ';
    }
  }
#undef NEXT
  return b;
}

static unsigned char *big, *mid;
#define BIG_LEN (4700 * 1024) /* two and a bit zstd level-1 jobs (2 MiB) */
#define MID_LEN (700 * 1024)

static int group_setup(void **state) {
  big = gen(BIG_LEN, 1);
  mid = gen(MID_LEN, 2);
  return setup(state);
}

static int group_teardown(void **state) {
  free(big);
  free(mid);
  return teardown(state);
}

#define E(...)                                                                 \
  { .mode = -1, .uid = -1, .gid = -1, .has_mtime = 1, __VA_ARGS__ }

static oci_layer_source source(oci_layer_entry *e) {
  e[0] = (oci_layer_entry)E(.path = "a", .type = OCI_LAYER_DIR);
  e[1] = (oci_layer_entry)E(.path = "a/big", .content = big,
                            .content_len = BIG_LEN);
  e[2] = (oci_layer_entry)E(.path = "a/mid", .content = mid,
                            .content_len = MID_LEN, .mtime = 1700000000);
  e[3] = (oci_layer_entry)E(.path = "small", .content = "hello\n",
                            .content_len = 6);
  return (oci_layer_source){.entries = e, .n_entries = 4};
}

static void build(oci_layer_compression c, int level, int threads,
                  const char *out, oci_layer_result *r) {
  oci_layer_entry e[4];
  oci_layer_source src = source(e);
  oci_layer_options o;
  oci_layer_options_init(&o);
  o.compression = c;
  o.level = level;
  o.threads = threads;
  oci_error err;
  if (oci_layer_build_file(&src, &o, out, r, &err))
    fail_msg("build %s: %s", out, err.message);
}

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

static void check_sha(const char *cmd_fmt, const char *path,
                      const char *digest) {
  char line[256], cmd[1024];
  snprintf(cmd, sizeof cmd, cmd_fmt, path);
  out1(line, sizeof line, "%s | sha256sum", cmd);
  if (strncmp(line, digest + 7, 64))
    fail_msg("%s: %.64s, want %s", cmd, line, digest);
}

/* Digests of this content built by main (commit 4312c02) before the
   compression moved off the building thread. */
static const struct {
  oci_layer_compression c;
  int level;
  const char *digest;
} recorded0[] = {
    {OCI_LAYER_GZIP, 0,
     "sha256:cb7dde542a5bc0fe02b707a7a97add4fceb4fbc9c872ac41facab3cf1652ed9f"},
    {OCI_LAYER_GZIP, 1,
     "sha256:498e3a22885dfbf50b25cbae8fd2a2c7cb86c54811bd48d49dc68331539a8138"},
    {OCI_LAYER_GZIP, 9,
     "sha256:ed8d529c87d68a6e15198e9562ade31ff8b53f750f1e00b71b622b04c5a5c54a"},
    {OCI_LAYER_ZSTD, 0,
     "sha256:cb134cf5f044289ec76b8e003bfe883f30b42b88d936bedaebb08f9e59f7c6b1"},
    {OCI_LAYER_ZSTD, 1,
     "sha256:99acdf31daffab8ed7d71dc84c7abbb561ed385f3151e7deeb1a7ddb8cf02fa2"},
};
#define DIFF_ID                                                                \
  "sha256:32515030b0d3acdbc05eef8bcca88a29bed37e4b656eb9c3b9a6a14cb0200f70"

static void test_zero_threads_single_threaded_bytes(void **state) {
  (void)state;
  oci_layer_result r;
  build(OCI_LAYER_NONE, 0, 0, p("l.tar"), &r);
  assert_string_equal(r.diff_id, DIFF_ID);
  for (size_t i = 0; i < sizeof recorded0 / sizeof *recorded0; i++) {
    build(recorded0[i].c, recorded0[i].level, 0, p("l0"), &r);
    assert_string_equal(r.digest, recorded0[i].digest);
    assert_string_equal(r.diff_id, DIFF_ID);
    /* independent oracles of the same bytes */
    int lv = recorded0[i].level;
    if (recorded0[i].c == OCI_LAYER_GZIP) {
      /* libarchive's gzip: a 10-byte header (MTIME 0, XFL 4 for level
         1, 2 for 9, else 0, OS 3), raw deflate at the level with zlib's
         defaults, CRC32 and ISIZE */
      sh("python3 -c 'import sys, zlib; t = open(sys.argv[1], \"rb\").read(); "
         "c = zlib.compressobj(%d, zlib.DEFLATED, -15, 8); "
         "z = c.compress(t) + c.flush(); "
         "g = bytes([31, 139, 8, 0, 0, 0, 0, 0, %d, 3]) + z + "
         "zlib.crc32(t).to_bytes(4, \"little\") + "
         "(len(t) & 0xffffffff).to_bytes(4, \"little\"); "
         "sys.exit(g != open(sys.argv[2], \"rb\").read())' '%s' '%s'",
         lv ? lv : 6,
         lv == 1   ? 4
         : lv == 9 ? 2
                   : 0,
         p("l.tar"), p("l0"));
    } else {
      char cmd[512];
      snprintf(cmd, sizeof cmd,
               "zstd -q -c --single-thread --no-check -%d < '%%s'",
               lv ? lv : 3);
      check_sha(cmd, p("l.tar"), r.digest);
    }
  }
  /* a version 2 caller's struct ends before `threads`: whatever lies
     there is not read */
  struct {
    oci_layer_options o;
    int garbage;
  } v2;
  oci_layer_options_init(&v2.o);
  v2.o.version = 2;
  v2.o.threads = 13;
  v2.garbage = 13;
  oci_layer_entry e[4];
  oci_layer_source src = source(e);
  oci_error err;
  assert_int_equal(oci_layer_build_file(&src, &v2.o, p("v2"), &r, &err), 0);
  assert_string_equal(r.digest, recorded0[0].digest);
}

/* The parallel format's digests for this content (recorded when it was
   made): they change only with the format or with zlib/libzstd. */
static const struct {
  oci_layer_compression c;
  int level;
  const char *digest;
} recorded_n[] = {
    {OCI_LAYER_GZIP, 1,
     "sha256:0037c67747846925c945274cd1ce2096e9fbd0f90fde0e0eeb07b5a1517a9fb6"},
    {OCI_LAYER_GZIP, 6,
     "sha256:7860985dc4ddd3e05e82ac1acb963e91227c9ed84a4d2b918c991f596847f7b8"},
    {OCI_LAYER_ZSTD, 1,
     "sha256:1d0a8335e8def0cbc1ab23aebff059f187658b995c11100e0129fc1ea3de536f"},
    {OCI_LAYER_ZSTD, 3,
     "sha256:633f04175d5989436e966316c0af226091ed1c0775bb5a66b0f4b80a4a1e9d17"},
};

static void test_threads_one_stream(void **state) {
  (void)state;
  oci_layer_result r;
  build(OCI_LAYER_NONE, 0, 0, p("l.tar"), &r);
  static const int ns[] = {1, 2, 4, 8};
  for (size_t i = 0; i < sizeof recorded_n / sizeof *recorded_n; i++) {
    oci_layer_compression c = recorded_n[i].c;
    int lv = recorded_n[i].level;
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
      /* level 6 gzip is the slow one: two counts are enough there */
      if (c == OCI_LAYER_GZIP && lv == 6 && ns[k] != 2 && ns[k] != 8) continue;
      build(c, lv, ns[k], p("ln"), &r);
      if (strcmp(r.digest, recorded_n[i].digest))
        fail_msg("%s level %d threads %d: %s, want %s",
                 c == OCI_LAYER_GZIP ? "gzip" : "zstd", lv, ns[k], r.digest,
                 recorded_n[i].digest);
      assert_string_equal(r.diff_id, DIFF_ID);
      struct stat st;
      assert_int_equal(stat(p("ln"), &st), 0);
      assert_int_equal((uint64_t)st.st_size, r.size);
    }
    check_sha("cat '%s'", p("ln"), r.digest);
    if (c == OCI_LAYER_GZIP) {
      /* one member: zlib's gzip decoder ends at its trailer with nothing
         after it, and gives the tar */
      sh("gzip -t '%s'", p("ln"));
      check_sha("gzip -dc < '%s'", p("ln"), DIFF_ID);
      sh("python3 -c 'import sys, zlib; d = zlib.decompressobj(31); "
         "t = d.decompress(open(sys.argv[1], \"rb\").read()); "
         "sys.exit(not d.eof or d.unused_data != b\"\" or "
         "t != open(sys.argv[2], \"rb\").read())' '%s' '%s'",
         p("ln"), p("l.tar"));
    } else {
      /* the zstd tool's multi-threaded streaming output, any -T */
      char cmd[512];
      for (int t = 1; t <= 3; t += 2) {
        snprintf(cmd, sizeof cmd, "zstd -q -c -T%d --no-check -%d < '%%s'", t,
                 lv);
        check_sha(cmd, p("l.tar"), r.digest);
      }
      check_sha("zstd -q -dc < '%s'", p("ln"), DIFF_ID);
    }
  }
}

/* The single-threaded gzip and zstd bytes against their oracles (Python's
   zlib as libarchive's gzip filter wrote them; `zstd --single-thread`)
   where the stream is cut: an empty layer, a tar of exactly one and of
   two 256 KiB chunks between the threads, and incompressible data that
   deflate stores (more output than input, filling the writer's slots). */
static void check_single_threaded(const oci_layer_entry *e, size_t n,
                                  int level) {
  oci_layer_source src = {.entries = e, .n_entries = n};
  oci_layer_options o;
  oci_layer_options_init(&o);
  o.threads = 0;
  oci_layer_result tar, r;
  oci_error err;
  o.compression = OCI_LAYER_NONE;
  if (oci_layer_build_file(&src, &o, p("e.tar"), &tar, &err))
    fail_msg("%s", err.message);
  o.compression = OCI_LAYER_GZIP;
  o.level = level;
  if (oci_layer_build_file(&src, &o, p("e.gz"), &r, &err))
    fail_msg("%s", err.message);
  assert_string_equal(r.diff_id, tar.digest);
  sh("python3 -c 'import sys, zlib; t = open(sys.argv[1], \"rb\").read(); "
     "c = zlib.compressobj(%d, zlib.DEFLATED, -15, 8); "
     "g = bytes([31, 139, 8, 0, 0, 0, 0, 0, %d, 3]) + c.compress(t) + "
     "c.flush() + zlib.crc32(t).to_bytes(4, \"little\") + "
     "len(t).to_bytes(4, \"little\"); "
     "sys.exit(g != open(sys.argv[2], \"rb\").read())' '%s' '%s'",
     level,
     level == 1   ? 4
     : level == 9 ? 2
                  : 0,
     p("e.tar"), p("e.gz"));
  check_sha("cat '%s'", p("e.gz"), r.digest);
  o.compression = OCI_LAYER_ZSTD;
  o.level = 3;
  if (oci_layer_build_file(&src, &o, p("e.zst"), &r, &err))
    fail_msg("%s", err.message);
  check_sha("zstd -q -c --single-thread --no-check -3 < '%s'", p("e.tar"),
            r.digest);
}

static void test_single_threaded_cuts(void **state) {
  (void)state;
  /* an empty layer: the tar is its two end blocks */
  oci_layer_entry none[1] = {E(.path = "unused")};
  check_single_threaded(none, 0, 6);
  /* one file whose tar (512 header + data + 1024 end) is exactly one,
     then exactly two chunks */
  static const size_t lens[] = {256 * 1024 - 1536, 512 * 1024 - 1536};
  for (size_t i = 0; i < 2; i++) {
    oci_layer_entry e[1] = {
        E(.path = "f", .content = mid, .content_len = lens[i])};
    check_single_threaded(e, 1, i ? 9 : 1);
  }
  /* 700 KiB that deflate cannot shrink: stored blocks, larger output */
  size_t n = 700 * 1024;
  unsigned char *noise = malloc(n);
  assert_non_null(noise);
  uint64_t x = 88172645463325252u;
  for (size_t i = 0; i < n; i++) { /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    noise[i] = (unsigned char)(x >> 32);
  }
  oci_layer_entry e[2] = {
      E(.path = "noise", .content = noise, .content_len = n),
      E(.path = "words", .content = mid, .content_len = 3000)};
  check_single_threaded(e, 2, 6);
  free(noise);
}

/* Which setting changes a layer's bytes (docs/performance.md): threads
   1..N are one format whatever N; threads 0 is another. gzip's differ
   for any layer (the parallel stream's sync-flushed blocks); zstd's
   agree while the tar fits libzstd's single-threaded input buffer (the
   2 MiB window and a 128 KiB block at level 3) and differ past it (the
   buffer wraps). The content is the same whatever the setting. */
static void test_which_setting_changes_bytes(void **state) {
  (void)state;
  oci_layer_entry small[1] = {
      E(.path = "x", .content = "x\n", .content_len = 2)};
  oci_layer_entry two_mib[1] = {
      E(.path = "b", .content = big, .content_len = 2 * 1024 * 1024)};
  oci_layer_entry all[4];
  oci_layer_source srcs[3] = {{.entries = small, .n_entries = 1},
                              {.entries = two_mib, .n_entries = 1},
                              source(all)};
  for (int c = OCI_LAYER_GZIP; c <= OCI_LAYER_ZSTD; c++)
    for (size_t k = 0; k < 3; k++) {
      if (c == OCI_LAYER_GZIP && k == 2) continue; /* as the small one */
      char d[3][OCI_DIGEST_STRING_MAX];
      static const int ns[] = {0, 1, 2};
      oci_layer_result r;
      oci_error err;
      for (size_t t = 0; t < 3; t++) {
        oci_layer_options o;
        oci_layer_options_init(&o);
        o.compression = (oci_layer_compression)c;
        o.threads = ns[t];
        if (oci_layer_build_file(&srcs[k], &o, p("w"), &r, &err))
          fail_msg("%s", err.message);
        memcpy(d[t], r.digest, sizeof d[t]);
        /* the same tar whatever the setting */
        if (c == OCI_LAYER_GZIP)
          sh("python3 -c 'import gzip, hashlib, sys; sys.exit(\"sha256:\" + "
             "hashlib.sha256(gzip.open(sys.argv[1]).read()).hexdigest() != "
             "sys.argv[2])' '%s' '%s'",
             p("w"), r.diff_id);
        else
          check_sha("zstd -q -dc < '%s'", p("w"), r.diff_id);
      }
      assert_string_equal(d[1], d[2]);
      int same0 = !strcmp(d[0], d[1]);
      int want0 = c == OCI_LAYER_ZSTD && k < 2;
      if (same0 != want0)
        fail_msg("%s source %zu: threads 0 %s threads 1 (%s, %s)",
                 c == OCI_LAYER_GZIP ? "gzip" : "zstd", k,
                 same0 ? "equals" : "differs from", d[0], d[1]);
    }
}

static int count_dir(const char *path) {
  DIR *d = opendir(path);
  assert_non_null(d);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static void expect_fd_error(int fd, oci_layer_compression c, int threads,
                            const char *msg) {
  oci_layer_entry e[4];
  oci_layer_source src = source(e);
  oci_layer_options o;
  oci_layer_options_init(&o);
  o.compression = c;
  o.level = 1;
  o.threads = threads;
  oci_layer_result r;
  oci_error err;
  int tasks = count_dir("/proc/self/task");
  assert_int_equal(oci_layer_build(&src, &o, fd, &r, &err), OCI_EIO);
  if (!strstr(err.message, msg))
    fail_msg("threads %d: \"%s\" lacks \"%s\"", threads, err.message, msg);
  assert_int_equal(count_dir("/proc/self/task"), tasks);
  assert_string_equal(r.digest, "");
}

static void test_errors(void **state) {
  (void)state;
  int fds = count_dir("/proc/self/fd");
  static const int ns[] = {0, 1, 3};
  for (int c = OCI_LAYER_GZIP; c <= OCI_LAYER_ZSTD; c++)
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
      /* ENOSPC from the compressing thread's write */
      int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
      assert_true(fd >= 0);
      expect_fd_error(fd, (oci_layer_compression)c, ns[k],
                      "layer: cannot write the blob: No space left on device");
      close(fd);
      /* EBADF */
      fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      expect_fd_error(fd, (oci_layer_compression)c, ns[k],
                      "layer: cannot write the blob: Bad file descriptor");
      close(fd);
      /* a pipe nobody reads: EPIPE, not SIGPIPE (the threads block it) */
      int pp[2];
      assert_int_equal(pipe(pp), 0);
      close(pp[0]);
      expect_fd_error(pp[1], (oci_layer_compression)c, ns[k],
                      "layer: cannot write the blob: Broken pipe");
      close(pp[1]);
    }
  assert_int_equal(count_dir("/proc/self/fd"), fds);

  /* the building thread fails while the compression runs: a source that
     shrinks (sysfs promises 4096 bytes and gives a few), after 4.7 MB */
  const char *shrinks = "/sys/class/net/lo/mtu";
  struct stat st;
  if (stat(shrinks, &st) || st.st_size <= 16)
    fail_msg("%s is not a file sysfs says is bigger than it is", shrinks);
  oci_layer_entry e[4];
  oci_layer_source src = source(e);
  e[3] = (oci_layer_entry)E(.path = "z", .source = shrinks);
  for (int c = OCI_LAYER_GZIP; c <= OCI_LAYER_ZSTD; c++)
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
      oci_layer_options o;
      oci_layer_options_init(&o);
      o.compression = (oci_layer_compression)c;
      o.threads = ns[k];
      oci_layer_result r;
      oci_error err;
      int tasks = count_dir("/proc/self/task");
      assert_int_equal(oci_layer_build_file(&src, &o, p("shrunk"), &r, &err),
                       OCI_EIO);
      if (!strstr(err.message, "layer entry \"z\": /sys/class/net/lo/mtu "
                               "shrank while being read"))
        fail_msg("threads %d: %s", ns[k], err.message);
      assert_int_equal(count_dir("/proc/self/task"), tasks);
      /* no blob, no temporary file beside it */
      assert_int_equal(access(p("shrunk"), F_OK), -1);
      char line[64];
      out1(line, sizeof line, "ls -a '%s' | grep -c tmp || true", tmp);
      assert_string_equal(line, "0");
    }
  assert_int_equal(count_dir("/proc/self/fd"), fds);
}

static int affinity_count(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
  int n = CPU_COUNT(&set);
  return n < OCI_LAYER_THREADS_MAX ? n : OCI_LAYER_THREADS_MAX;
}

static void build_with(const oci_layer_options *o, oci_layer_result *r) {
  oci_layer_entry e[4];
  oci_layer_source src = source(e);
  oci_error err;
  if (oci_layer_build_file(&src, o, p("d"), r, &err))
    fail_msg("build: %s", err.message);
  assert_string_equal(r->diff_id, DIFF_ID);
}

/* The default is the parallel format on one thread per CPU this thread
   may run on: the recorded threads >= 1 digests (whose bytes the oracles
   of test_threads_one_stream check), equal to threads 1 and 2, and the
   same with the affinity cut to one CPU. A version 3 struct as the old
   OCI_LAYER_OPTIONS_INIT made it (threads 0) keeps the single-threaded
   bytes. */
static void test_default_is_auto(void **state) {
  (void)state;
  oci_layer_options o = OCI_LAYER_OPTIONS_INIT, o2;
  oci_layer_options_init(&o2);
  assert_int_equal(o.version, 4);
  assert_int_equal(o.threads, OCI_LAYER_THREADS_AUTO);
  assert_int_equal(o2.threads, OCI_LAYER_THREADS_AUTO);
  assert_int_equal(OCI_LAYER_THREADS_AUTO, -1);
  int n = oci_layer_threads_auto();
  assert_int_equal(n, affinity_count());
  assert_true(n >= 1 && n <= OCI_LAYER_THREADS_MAX);

  oci_layer_result r, r1;
  /* NULL options, the initialised ones, and threads 1 and 2: one stream */
  oci_layer_entry e[4];
  oci_layer_source src = source(e);
  oci_error err;
  if (oci_layer_build_file(&src, NULL, p("d"), &r, &err))
    fail_msg("build: %s", err.message);
  assert_string_equal(r.digest, recorded_n[1].digest); /* gzip 6 */
  build_with(&o, &r);
  assert_string_equal(r.digest, recorded_n[1].digest);
  for (int t = 1; t <= 2; t++) {
    o2.threads = t;
    build_with(&o2, &r1);
    assert_string_equal(r1.digest, r.digest);
  }
  o.compression = OCI_LAYER_ZSTD;
  build_with(&o, &r);
  assert_string_equal(r.digest, recorded_n[3].digest); /* zstd 3 */

  /* one CPU: auto is 1 thread, and the bytes do not move */
  cpu_set_t all, one;
  assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &all)) {
      CPU_SET(c, &one);
      break;
    }
  assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
  int n1 = oci_layer_threads_auto();
  o.compression = OCI_LAYER_GZIP;
  build_with(&o, &r);
  assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
  assert_int_equal(n1, 1);
  assert_string_equal(r.digest, recorded_n[1].digest);

  /* a version 3 caller of the old header: its _INIT gave threads 0 */
  oci_layer_options v3 = OCI_LAYER_OPTIONS_INIT;
  v3.version = 3;
  v3.threads = 0;
  build_with(&v3, &r);
  assert_string_equal(r.digest, recorded0[0].digest);
  v3.compression = OCI_LAYER_ZSTD;
  build_with(&v3, &r);
  assert_string_equal(r.digest, recorded0[3].digest);
}

static void test_threads_range(void **state) {
  (void)state;
  oci_layer_entry e[4];
  oci_layer_source src = source(e);
  oci_layer_options o;
  oci_layer_options_init(&o);
  oci_layer_result r;
  oci_error err;
  static const int bad[] = {-2, OCI_LAYER_THREADS_MAX + 1, -1000};
  for (size_t i = 0; i < 3; i++) {
    o.threads = bad[i];
    assert_int_equal(oci_layer_build_file(&src, &o, p("r"), &r, &err),
                     OCI_EINVAL);
    char want[128];
    snprintf(want, sizeof want,
             "layer compression threads %d out of range (0 to 64, or "
             "OCI_LAYER_THREADS_AUTO)",
             bad[i]);
    assert_string_equal(err.message, want);
    assert_int_equal(access(p("r"), F_OK), -1);
  }
  /* version 3 knew no auto: -1 is out of its range */
  o.version = 3;
  o.threads = OCI_LAYER_THREADS_AUTO;
  assert_int_equal(oci_layer_build_file(&src, &o, p("r"), &r, &err),
                   OCI_EINVAL);
  assert_string_equal(err.message,
                      "layer compression threads -1 out of range (0 to 64; "
                      "auto needs oci_layer_options version 4)");
  assert_int_equal(access(p("r"), F_OK), -1);
  o.version = OCI_LAYER_OPTIONS_VERSION;
  /* uncompressed: threads are allowed and change nothing */
  o.compression = OCI_LAYER_NONE;
  o.threads = 4;
  assert_int_equal(oci_layer_build_file(&src, &o, p("r"), &r, &err), 0);
  assert_string_equal(r.digest, DIFF_ID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_zero_threads_single_threaded_bytes),
      cmocka_unit_test(test_threads_one_stream),
      cmocka_unit_test(test_single_threaded_cuts),
      cmocka_unit_test(test_which_setting_changes_bytes),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_threads_range),
      cmocka_unit_test(test_default_is_auto),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
