/* Hashing speed: oci_hash_file on a large file next to coreutils'
   sha256sum / sha512sum on the same file in the same run (median of
   several repetitions, alternating), plus two ceilings: the hash alone over
   an in-memory buffer (oci_hash_buffer) and reading the file alone (no
   hashing). Figures and ratios, never pass/fail.

   usage: bench_hash [file]
     file, or $OCISPEC_BENCH_HASH_FILE: hash this file instead of a
     generated one. Otherwise a file of $OCISPEC_BENCH_HASH_MB MiB (default
     512) of pseudo-random bytes is written in $TMPDIR (default /tmp) and
     removed at the end. The file is read once first, so every tool reads
     it from the page cache. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ocispec/hash.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUNS 5

extern char **environ;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what) {
  fprintf(stderr, "bench_hash: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Writes mib MiB of xorshift64 output to a new file in $TMPDIR. */
static char *make_file(size_t mib) {
  const char *dir = getenv("TMPDIR");
  char *path = malloc(4096);
  if (!path) die("malloc");
  snprintf(path, 4096, "%s/ocispec-bench-hash-XXXXXX", dir ? dir : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0) die(path);
  size_t block = 1 << 20;
  uint64_t *buf = malloc(block), x = 0x9e3779b97f4a7c15u;
  if (!buf) die("malloc");
  for (size_t m = 0; m < mib; m++) {
    for (size_t i = 0; i < block / 8; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      buf[i] = x;
    }
    if (write(fd, buf, block) != (ssize_t)block) die(path);
  }
  free(buf);
  close(fd);
  return path;
}

/* Runs `tool path`, keeps the first word of its output in out. */
static double run_tool(const char *tool, const char *path, char *out,
                       size_t outsz) {
  int p[2];
  if (pipe(p)) die("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_addclose(&fa, p[0]);
  posix_spawn_file_actions_addclose(&fa, p[1]);
  char *argv[] = {(char *)tool, (char *)path, NULL};
  pid_t pid;
  double t0 = now();
  if ((errno = posix_spawnp(&pid, tool, &fa, NULL, argv, environ))) die(tool);
  close(p[1]);
  size_t n = 0;
  ssize_t r;
  while (n + 1 < outsz && (r = read(p[0], out + n, outsz - 1 - n)) > 0)
    n += (size_t)r;
  out[n] = '\0';
  int st;
  waitpid(pid, &st, 0);
  double t = now() - t0;
  close(p[0]);
  posix_spawn_file_actions_destroy(&fa);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) {
    fprintf(stderr, "bench_hash: %s failed\n", tool);
    exit(1);
  }
  out[strcspn(out, " \n")] = '\0';
  return t;
}

static double run_ours(oci_digest_alg alg, const char *path, char *out) {
  oci_error err;
  uint64_t size;
  double t0 = now();
  if (oci_hash_file(alg, path, out, &size, &err)) {
    fprintf(stderr, "bench_hash: %s\n", err.message);
    exit(1);
  }
  return now() - t0;
}

/* Reading the file in 256 KiB blocks, no hashing: the I/O floor. */
static double run_read(const char *path) {
  static char buf[256 * 1024];
  double t0 = now();
  int fd = open(path, O_RDONLY);
  if (fd < 0) die(path);
  while (read(fd, buf, sizeof buf) > 0) {
  }
  close(fd);
  return now() - t0;
}

/* The same loop as oci_hash_fd with another block size and an optional
   posix_fadvise, through the public hasher: what the block size costs. */
static double run_block(oci_digest_alg alg, const char *path, size_t block,
                        int advise) {
  unsigned char *buf = malloc(block);
  oci_hasher *h;
  char out[OCI_DIGEST_STRING_MAX];
  if (!buf || oci_hasher_new(alg, &h, NULL)) die("hasher");
  double t0 = now();
  int fd = open(path, O_RDONLY);
  if (fd < 0) die(path);
  if (advise) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  ssize_t n;
  while ((n = read(fd, buf, block)) > 0)
    oci_hasher_update(h, buf, (size_t)n, NULL);
  close(fd);
  oci_hasher_finish(h, out, NULL);
  double t = now() - t0;
  oci_hasher_free(h);
  free(buf);
  return t;
}

/* mmap the whole file and hash it in one update (no copy). */
static double run_mmap(oci_digest_alg alg, const char *path) {
  oci_hasher *h;
  char out[OCI_DIGEST_STRING_MAX];
  if (oci_hasher_new(alg, &h, NULL)) die("hasher");
  double t0 = now();
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st)) die(path);
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) die("mmap");
  madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
  oci_hasher_update(h, p, (size_t)st.st_size, NULL);
  munmap(p, (size_t)st.st_size);
  close(fd);
  oci_hasher_finish(h, out, NULL);
  double t = now() - t0;
  oci_hasher_free(h);
  return t;
}

/* Drops the file's pages from the page cache (this file only). */
static void evict(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) die(path);
  fdatasync(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
}

static double mbs(uint64_t bytes, double secs) {
  return (double)bytes / 1e6 / secs;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : getenv("OCISPEC_BENCH_HASH_FILE");
  char *made = NULL;
  if (!path || !*path) {
    const char *mb = getenv("OCISPEC_BENCH_HASH_MB");
    size_t mib = mb ? (size_t)strtoul(mb, NULL, 10) : 512;
    path = made = make_file(mib ? mib : 512);
  }
  /* size, and a first read to fill the page cache */
  char d[OCI_DIGEST_STRING_MAX];
  uint64_t bytes;
  oci_error err;
  if (oci_hash_file(OCI_DIGEST_SHA256, path, d, &bytes, &err)) {
    fprintf(stderr, "bench_hash: %s\n", err.message);
    return 1;
  }
  printf("hash: %s, %.1f MiB, median of %d runs (MB/s = 10^6 bytes/s)\n",
         made ? "generated file" : path, (double)bytes / 1048576.0, RUNS);

  double t[RUNS];
  char got_tool[256];
  for (int i = 0; i < RUNS; i++)
    t[i] = run_read(path);
  printf("  %-34s %8.0f MB/s\n", "read(2) only, 256 KiB blocks",
         mbs(bytes, median(t, RUNS)));

  static const struct {
    oci_digest_alg alg;
    const char *tool;
  } algs[] = {{OCI_DIGEST_SHA256, "sha256sum"},
              {OCI_DIGEST_SHA512, "sha512sum"}};
  for (size_t a = 0; a < sizeof algs / sizeof algs[0]; a++) {
    const char *name = oci_digest_alg_name(algs[a].alg);
    double ours[RUNS], theirs[RUNS];
    char got[OCI_DIGEST_STRING_MAX], want[256];
    for (int i = 0; i < RUNS; i++) {
      ours[i] = run_ours(algs[a].alg, path, got);
      theirs[i] = run_tool(algs[a].tool, path, want, sizeof want);
      if (strcmp(got + strlen(name) + 1, want) != 0) {
        fprintf(stderr, "bench_hash: %s disagrees: %s vs %s\n", name, got,
                want);
        return 1;
      }
    }
    /* the hash alone: 64 MiB in memory */
    size_t memlen = 64u << 20;
    unsigned char *mem = malloc(memlen);
    if (!mem) die("malloc");
    memset(mem, 0x5a, memlen);
    double inmem[RUNS];
    for (int i = 0; i < RUNS; i++) {
      double t0 = now();
      if (oci_hash_buffer(algs[a].alg, mem, memlen, got, NULL)) return 1;
      inmem[i] = now() - t0;
    }
    free(mem);
    /* many small strings: the per-call cost (1 KiB each) */
    unsigned char small[1024] = {0};
    size_t calls = 200000;
    double t0 = now();
    for (size_t i = 0; i < calls; i++) {
      small[0] = (unsigned char)i;
      if (oci_hash_buffer(algs[a].alg, small, sizeof small, got, NULL))
        return 1;
    }
    double tsmall = now() - t0;

    double mo = mbs(bytes, median(ours, RUNS));
    double mt = mbs(bytes, median(theirs, RUNS));
    printf("  %-34s %8.0f MB/s\n",
           algs[a].alg == OCI_DIGEST_SHA256 ? "oci_hash_file sha256"
                                            : "oci_hash_file sha512",
           mo);
    printf("  %-34s %8.0f MB/s\n", algs[a].tool, mt);
    printf("  %-34s %8.2f x\n", "ratio ours / coreutils", mo / mt);
    printf("  %-34s %8.0f MB/s\n", "oci_hash_buffer, 64 MiB in memory",
           mbs(memlen, median(inmem, RUNS)));
    printf("  %-34s %8.0f calls/s (%.0f MB/s)\n", "oci_hash_buffer, 1 KiB",
           (double)calls / tsmall, mbs(calls * sizeof small, tsmall));
  }

  /* Why the library reads as it does (sha256, cached file). */
  printf("sha256, cached file, read block size (public hasher API):\n");
  static const size_t blocks[] = {16 << 10,  32 << 10, 64 << 10, 128 << 10,
                                  256 << 10, 1 << 20,  4 << 20};
  for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
    for (int i = 0; i < RUNS; i++)
      t[i] = run_block(OCI_DIGEST_SHA256, path, blocks[b], 1);
    printf("  read %4zu KiB blocks %21.0f MB/s\n", blocks[b] >> 10,
           mbs(bytes, median(t, RUNS)));
  }
  for (int i = 0; i < RUNS; i++)
    t[i] = run_mmap(OCI_DIGEST_SHA256, path);
  printf("  %-34s %8.0f MB/s\n", "mmap + one update",
         mbs(bytes, median(t, RUNS)));
  /* Cold file (its pages evicted before each run): posix_fadvise or not.
     Only meaningful when the file is on a real disk, not tmpfs. */
  if (!getenv("OCISPEC_BENCH_HASH_NO_COLD")) {
    printf("sha256, file evicted from the page cache before each run:\n");
    for (int adv = 0; adv < 2; adv++) {
      for (int i = 0; i < 3; i++) {
        evict(path);
        t[i] = run_block(OCI_DIGEST_SHA256, path, 128 << 10, adv);
      }
      printf("  %-34s %8.0f MB/s\n",
             adv ? "128 KiB, FADV_SEQUENTIAL" : "128 KiB, no fadvise",
             mbs(bytes, median(t, 3)));
    }
    for (int i = 0; i < 3; i++) {
      evict(path);
      t[i] = run_tool("sha256sum", path, got_tool, sizeof got_tool);
    }
    printf("  %-34s %8.0f MB/s\n", "sha256sum", mbs(bytes, median(t, 3)));
  }
  if (made) {
    unlink(made);
    free(made);
  }
  return 0;
}
