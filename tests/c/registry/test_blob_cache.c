/* The blob-location cache (csrc/registry/blob_cache.c) without a server:
   its bounds (locations per digest and in all), the merge of two writers,
   forgotten locations, invalid strings, a symlink planted at the file's
   name (neither read through nor written through), the file mode, and the
   default path. Mounts from it against docker-registry are
   spec/registry_blob_cache_spec.lua's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocispec/ocispec.h"
#include "registry/registry_internal.h"

#define SCRATCH_NAME "blob-cache"
#include "../scratch.h"
#include "../skip.h"

static const char *dg(unsigned i) {
  static char buf[4][80];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "sha256:%064x", i);
  return buf[k];
}

static reg_bcache *open_at(const char *path) {
  reg_bcache *c = NULL;
  oci_error e;
  assert_int_equal(reg_bcache_open(path, &c, &e), OCI_OK);
  assert_non_null(c);
  return c;
}

static size_t count(reg_bcache *c, const char *host, const char *digest,
                    char **out) {
  return reg_bcache_sources(c, host, digest, NULL, NULL, out, 16);
}

/* A cache file holding one location of digest: host h:1, repository
   "planted" (a file the test plants where the cache must not trust it). */
static void write_planted(const char *path, const char *digest) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f,
          "{\"version\":1,\"entries\":[{\"digest\":\"%s\",\"host\":\"h:1\","
          "\"repository\":\"planted\"}]}",
          digest);
  fclose(f);
}

static void free_all(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
}

static void test_bounds(void **state) {
  (void)state;
  const char *path = p("bounds/cache.json");
  reg_bcache *c = open_at(path);
  char repo[32], *out[16];
  for (int i = 0; i < 6; i++) {
    snprintf(repo, sizeof repo, "r%d", i);
    reg_bcache_note(c, "h:5000", repo, dg(1));
  }
  /* 4 per digest, the newest first */
  size_t n = count(c, "h:5000", dg(1), out);
  assert_int_equal(n, REG_BCACHE_PER_DIGEST);
  assert_string_equal(out[0], "r5");
  assert_string_equal(out[3], "r2");
  free_all(out, n);
  /* another host's: none; skips */
  assert_int_equal(count(c, "other:5000", dg(1), out), 0);
  n = reg_bcache_sources(c, "h:5000", dg(1), "r5", "r4", out, 16);
  assert_int_equal(n, 2);
  assert_string_equal(out[0], "r3");
  free_all(out, n);
  /* REG_BCACHE_MAX in all: the oldest go */
  for (unsigned i = 0; i < REG_BCACHE_MAX + 100; i++)
    reg_bcache_note(c, "h:5000", "many", dg(1000 + i));
  assert_int_equal(reg_bcache_close(c), 0);
  c = open_at(path);
  assert_int_equal(count(c, "h:5000", dg(1000), out), 0);
  n = count(c, "h:5000", dg(1000 + REG_BCACHE_MAX + 99), out);
  assert_int_equal(n, 1);
  free_all(out, n);
  assert_int_equal(reg_bcache_close(c), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_true(st.st_size < REG_BCACHE_FILE_MAX);
}

static void test_merge_and_forget(void **state) {
  (void)state;
  const char *path = p("merge/cache.json");
  reg_bcache *a = open_at(path), *b = open_at(path);
  reg_bcache_note(a, "h:1", "ra", dg(7));
  reg_bcache_note(b, "h:1", "rb", dg(7));
  reg_bcache_note(b, "h:1", "gone", dg(8));
  assert_int_equal(reg_bcache_close(a), 0);
  reg_bcache_forget(b, "h:1", "gone", dg(8));
  assert_int_equal(reg_bcache_close(b), 0);
  reg_bcache *c = open_at(path);
  char *out[16];
  size_t n = count(c, "h:1", dg(7), out);
  assert_int_equal(n, 2);
  assert_string_equal(out[0], "rb"); /* b's, written last */
  assert_string_equal(out[1], "ra");
  free_all(out, n);
  assert_int_equal(count(c, "h:1", dg(8), out), 0);
  /* invalid strings are never kept */
  reg_bcache_note(c, "h:1", "../x", dg(9));
  reg_bcache_note(c, "bad host", "x", dg(9));
  reg_bcache_note(c, "h:1", "x", "sha256:nothex");
  assert_int_equal(count(c, "h:1", dg(9), out), 0);
  assert_int_equal(count(c, "bad host", dg(9), out), 0);
  assert_int_equal(reg_bcache_close(c), 0);
}

static void test_symlink_planted(void **state) {
  (void)state;
  /* a valid cache file elsewhere, and a symlink to it at the cache's name */
  const char *victim = p("victim.json");
  write_planted(victim, dg(3));
  assert_int_equal(mkdir(p("link"), 0700), 0);
  assert_int_equal(symlink(victim, p("link/cache.json")), 0);
  reg_bcache *c = open_at(p("link/cache.json"));
  char *out[16];
  assert_int_equal(count(c, "h:1", dg(3), out), 0); /* not read through */
  reg_bcache_note(c, "h:1", "mine", dg(4));
  assert_int_equal(reg_bcache_close(c), 0);
  struct stat st;
  assert_int_equal(lstat(p("link/cache.json"), &st), 0);
  assert_true(S_ISREG(st.st_mode)); /* replaced, not written through */
  FILE *f = fopen(victim, "r");
  assert_non_null(f);
  char buf[512] = {0};
  assert_true(fread(buf, 1, sizeof buf - 1, f) > 0);
  fclose(f);
  assert_non_null(strstr(buf, "planted"));
  assert_null(strstr(buf, "mine"));
}

static void test_hostile_files(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",
      "{",
      "[]",
      "{\"version\":2,\"entries\":[]}",
      "{\"version\":1,\"entries\":{}}",
      "{\"version\":1,\"version\":1,\"entries\":[]}", /* duplicate key */
      "{\"version\":1,\"entries\":[{\"digest\":\"x\"}]}",
  };
  const char *path = p("hostile.json");
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(bad[i], f);
    fclose(f);
    reg_bcache *c = open_at(path);
    char *out[16];
    assert_int_equal(count(c, "h:1", dg(1), out), 0);
    assert_int_equal(reg_bcache_close(c), 0); /* unchanged: not written */
  }
  /* deep nesting: bounded by the codec */
  FILE *f = fopen(path, "w");
  for (int i = 0; i < 200000; i++)
    fputc('[', f);
  fclose(f);
  reg_bcache *c = open_at(path);
  reg_bcache_note(c, "h:1", "after", dg(2));
  assert_int_equal(reg_bcache_close(c), 0);
  c = open_at(path);
  char *out[16];
  size_t n = count(c, "h:1", dg(2), out);
  assert_int_equal(n, 1);
  free_all(out, n);
  assert_int_equal(reg_bcache_close(c), 0);
}

/* A FIFO at the cache's name is not opened for reading (that would wait
   for a writer forever): the cache starts empty and the FIFO is replaced
   on close. */
static void test_fifo(void **state) {
  (void)state;
  const char *path = p("fifo.json");
  assert_int_equal(mkfifo(path, 0600), 0);
  alarm(10); /* the old code blocked in open(2) here */
  reg_bcache *c = open_at(path);
  alarm(0);
  reg_bcache_note(c, "h:1", "mine", dg(5));
  assert_int_equal(reg_bcache_close(c), 0);
  struct stat st;
  assert_int_equal(lstat(path, &st), 0);
  assert_true(S_ISREG(st.st_mode));
}

static void test_foreign_owner(void **state) {
  (void)state;
  if (geteuid() != 0) SKIP_BECAUSE("chown to another user needs root");
  const char *foreign = p("foreign.json");
  write_planted(foreign, dg(6));
  assert_int_equal(chown(foreign, 65534, 65534), 0);
  reg_bcache *c = open_at(foreign);
  char *out[16];
  assert_int_equal(count(c, "h:1", dg(6), out), 0); /* not trusted */
  assert_int_equal(reg_bcache_close(c), 0);
  assert_int_equal(chown(foreign, 0, 0), 0); /* ours: read */
  c = open_at(foreign);
  size_t n = count(c, "h:1", dg(6), out);
  assert_int_equal(n, 1);
  free_all(out, n);
  assert_int_equal(reg_bcache_close(c), 0);
}

static void test_default_path(void **state) {
  (void)state;
  char *old_xdg =
      getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
  char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
  char *path = NULL;
  oci_error e;
  setenv("XDG_CACHE_HOME", "/x/cache", 1);
  assert_int_equal(oci_registry_blob_cache_default_path(&path, &e), OCI_OK);
  assert_string_equal(path, "/x/cache/ocispec/blob-locations.json");
  free(path);
  setenv("XDG_CACHE_HOME", "relative", 1); /* invalid: ignored */
  setenv("HOME", "/home/u", 1);
  assert_int_equal(oci_registry_blob_cache_default_path(&path, &e), OCI_OK);
  assert_string_equal(path, "/home/u/.cache/ocispec/blob-locations.json");
  free(path);
  unsetenv("XDG_CACHE_HOME");
  unsetenv("HOME");
  assert_int_equal(oci_registry_blob_cache_default_path(&path, &e), OCI_EINVAL);
  assert_null(path);
  assert_non_null(strstr(e.message, "HOME"));
  if (old_xdg) setenv("XDG_CACHE_HOME", old_xdg, 1);
  if (old_home) setenv("HOME", old_home, 1);
  free(old_xdg);
  free(old_home);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bounds),
      cmocka_unit_test(test_merge_and_forget),
      cmocka_unit_test(test_symlink_planted),
      cmocka_unit_test(test_hostile_files),
      cmocka_unit_test(test_fifo),
      cmocka_unit_test(test_foreign_owner),
      cmocka_unit_test(test_default_path),
  };
  return skip_exit(cmocka_run_group_tests(tests, setup, teardown));
}
