/* Unit tests for csrc/image/layer_transform.c: a layer blob rewritten entry
   by entry (oci_layer_transform_fd/_file), checked with GNU tar and
   sha256sum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ocispec/layer.h"

#define SCRATCH_NAME "layer-transform"
#include "../alloc_wrap.h"
#include "../scratch.h"

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

/* A layer of: a/ a/f ("one") a/h (hard link to a/f) b ("two"), built
   with opts (NULL: the defaults). */
static void base_with(const char *path, const oci_layer_options *opts,
                      oci_layer_result *r) {
  oci_layer_entry e[] = {
      {.path = "a", .type = OCI_LAYER_DIR, .mode = -1, .uid = -1, .gid = -1},
      {.path = "a/f",
       .type = OCI_LAYER_FILE,
       .mode = -1,
       .uid = -1,
       .gid = -1,
       .content = "one",
       .content_len = 3},
      {.path = "a/h",
       .type = OCI_LAYER_HARDLINK,
       .mode = -1,
       .uid = -1,
       .gid = -1,
       .target = "a/f"},
      {.path = "b",
       .type = OCI_LAYER_FILE,
       .mode = -1,
       .uid = -1,
       .gid = -1,
       .content = "two",
       .content_len = 3},
  };
  oci_layer_source src = {.entries = e, .n_entries = 4};
  oci_error err;
  if (oci_layer_build_file(&src, opts, path, r, &err))
    fail_msg("build: %s", err.message);
}

static void base(const char *path, oci_layer_result *r) {
  base_with(path, NULL, r);
}

static int open_in(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  return fd;
}

static void test_keep_all(void **state) {
  (void)state;
  oci_layer_result b, r;
  oci_error err;
  base(p("in"), &b);
  int fd = open_in(p("in"));
  int rc = oci_layer_transform_file(fd, NULL, p("out"), &r, &err);
  close(fd);
  if (rc) fail_msg("%s", err.message);
  assert_string_equal(r.digest, b.digest);
  assert_string_equal(r.diff_id, b.diff_id);
  assert_int_equal(r.entries, 4);
  char sum[128];
  out1(sum, sizeof sum, "sha256sum < '%s' | cut -c1-64", p("out"));
  assert_string_equal(sum, r.digest + 7);
}

static int produce(void *pctx, oci_layer_write_fn write, void *wctx,
                   oci_error *err) {
  (void)pctx;
  int rc = write(wctx, "made ", 5, err);
  return rc ? rc : write(wctx, "here", 4, err);
}

static int edit(void *ctx, oci_layer_transform *t, oci_layer_tentry *e,
                bool *keep, oci_error *err) {
  (void)ctx;
  static const oci_layer_xattr xs[] = {{"user.z", "2", 1}, {"user.a", "1", 1}};
  if (!strcmp(e->path, "b")) {
    *keep = false;
  } else if (!strcmp(e->path, "a/f")) {
    char *d;
    size_t n;
    int rc = oci_layer_transform_read(t, &d, &n, err);
    if (rc) return rc;
    assert_int_equal(n, 3);
    assert_string_equal(d, "one");
    free(d);
    oci_layer_tentry add = {.path = "a/new",
                            .type = OCI_LAYER_FILE,
                            .mode = 0600,
                            .content = OCI_LAYER_CONTENT_PRODUCER,
                            .produce = produce};
    if ((rc = oci_layer_transform_add(t, &add, err))) return rc;
    e->path = "a/g";
    e->content = OCI_LAYER_CONTENT_BYTES;
    e->bytes = "ONE!";
    e->len = 4;
    e->mode = 0700;
    e->uid = 42;
    e->xattrs = xs;
    e->n_xattrs = 2;
  }
  return OCI_OK;
}

static void test_edit(void **state) {
  (void)state;
  oci_layer_result b, r;
  oci_error err;
  base(p("in"), &b);
  oci_layer_transform_options o = OCI_LAYER_TRANSFORM_OPTIONS_INIT;
  o.fn = edit;
  o.compression = OCI_LAYER_NONE;
  o.expected_digest = b.digest;
  o.expected_size = (int64_t)b.size;
  int fd = open_in(p("in"));
  int rc = oci_layer_transform_file(fd, &o, p("out.tar"), &r, &err);
  close(fd);
  if (rc) fail_msg("%s", err.message);
  assert_string_equal(r.media_type, OCI_MEDIA_TYPE_LAYER);
  assert_string_equal(r.digest, r.diff_id);
  char line[512];
  /* GNU tar: the names in order, the link retargeted, the content */
  out1(line, sizeof line, "tar -tf '%s' | tr '\\n' ' '", p("out.tar"));
  assert_string_equal(line, "a/ a/new a/g a/h ");
  out1(line, sizeof line, "tar -tvf '%s' | grep ' a/h link to a/g$' | wc -l",
       p("out.tar"));
  assert_string_equal(line, "1");
  out1(line, sizeof line, "tar -xOf '%s' a/g; echo; tar -xOf '%s' a/new",
       p("out.tar"), p("out.tar"));
  assert_string_equal(line, "ONE!");
  out1(line, sizeof line, "tar -xOf '%s' a/new", p("out.tar"));
  assert_string_equal(line, "made here");
  out1(line, sizeof line, "tar --xattrs -tvvf '%s' a/g | head -1 | cut -c1-10",
       p("out.tar"));
  assert_string_equal(line, "-rwx------");
  out1(line, sizeof line, "sha256sum < '%s' | cut -c1-64", p("out.tar"));
  assert_string_equal(line, r.digest + 7);
}

static int fail_cb(void *ctx, oci_layer_transform *t, oci_layer_tentry *e,
                   bool *keep, oci_error *err) {
  (void)ctx;
  (void)t;
  (void)keep;
  if (!strcmp(e->path, "b"))
    return oci_error_set(err, OCI_ECANCELED, "stop at %s", e->path);
  return OCI_OK;
}

static int drop_target(void *ctx, oci_layer_transform *t, oci_layer_tentry *e,
                       bool *keep, oci_error *err) {
  (void)ctx;
  (void)t;
  (void)err;
  if (!strcmp(e->path, "a/f")) *keep = false;
  return OCI_OK;
}

static void test_errors(void **state) {
  (void)state;
  oci_layer_result b, r;
  oci_error err;
  base(p("in"), &b);
  oci_layer_transform_options o = OCI_LAYER_TRANSFORM_OPTIONS_INIT;
  /* the callback's error, and nothing left behind */
  o.fn = fail_cb;
  int fd = open_in(p("in"));
  assert_int_equal(oci_layer_transform_file(fd, &o, p("o1"), &r, &err),
                   OCI_ECANCELED);
  close(fd);
  assert_string_equal(err.message, "stop at b");
  sh("test ! -e '%s'", p("o1"));
  /* a hard link whose target was dropped */
  o.fn = drop_target;
  fd = open_in(p("in"));
  assert_int_equal(oci_layer_transform_file(fd, &o, p("o2"), &r, &err),
                   OCI_EINVAL);
  close(fd);
  assert_non_null(strstr(err.message, "hardlink to \"a/f\", which the "
                                      "callback dropped"));
  sh("test ! -e '%s'", p("o2"));
  /* the input is not what the descriptor says */
  o.fn = NULL;
  o.expected_digest = "sha256:"
                      "0000000000000000000000000000000000000000000000000000000"
                      "000000000";
  fd = open_in(p("in"));
  assert_int_equal(oci_layer_transform_file(fd, &o, p("o3"), &r, &err),
                   OCI_EMISMATCH);
  close(fd);
  assert_non_null(strstr(err.message, "input digest mismatch"));
  sh("test ! -e '%s'", p("o3"));
  /* a bad options version, read and add outside a callback */
  oci_layer_transform_options bad = OCI_LAYER_TRANSFORM_OPTIONS_INIT;
  bad.version = 99;
  assert_int_not_equal(oci_layer_transform_fd(0, &bad, 1, &r, &err), OCI_OK);
  bad = (oci_layer_transform_options)OCI_LAYER_TRANSFORM_OPTIONS_INIT;
  bad.compression = 7;
  assert_int_equal(oci_layer_transform_fd(0, &bad, 1, &r, &err), OCI_EINVAL);
  assert_non_null(strstr(err.message, "unknown layer compression 7"));
  char *d;
  size_t n;
  assert_int_equal(oci_layer_transform_read(NULL, &d, &n, &err), OCI_EINVAL);
  assert_int_equal(oci_layer_transform_add(NULL, NULL, &err), OCI_EINVAL);
  oci_layer_transform_options_init(&bad);
  assert_int_equal(bad.compression, -1);
}

/* The output's compression threads: OCI_LAYER_THREADS_AUTO by default
   (the layer builder's default bytes, the parallel format), 0 the
   single-threaded bytes, and a version 1 struct (which had no threads)
   gets 0 whatever lies past its end. */
static void test_threads(void **state) {
  (void)state;
  oci_layer_options lo;
  oci_layer_options_init(&lo);
  lo.threads = 0;
  oci_layer_result par, single, r;
  oci_error err;
  base(p("par"), &par);
  base_with(p("single"), &lo, &single);
  assert_string_not_equal(par.digest, single.digest);
  assert_string_equal(par.diff_id, single.diff_id);
  oci_layer_transform_options o;
  oci_layer_transform_options_init(&o);
  assert_int_equal(o.version, 2);
  assert_int_equal(o.threads, OCI_LAYER_THREADS_AUTO);
  const struct {
    unsigned version;
    int threads;
    const char *in;
    const oci_layer_result *want;
  } cases[] = {
      {2, OCI_LAYER_THREADS_AUTO, "single", &par},
      {2, 3, "single", &par},
      {2, 0, "par", &single},
      {1, 13, "par", &single},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    o.version = cases[i].version;
    o.threads = cases[i].threads;
    int fd = open_in(p(cases[i].in));
    int rc = oci_layer_transform_file(fd, &o, p("out"), &r, &err);
    close(fd);
    if (rc) fail_msg("case %zu: %s", i, err.message);
    if (strcmp(r.digest, cases[i].want->digest))
      fail_msg("case %zu: %s, want %s", i, r.digest, cases[i].want->digest);
    assert_string_equal(r.diff_id, par.diff_id);
  }
  o.version = 2;
  static const int bad[] = {-2, OCI_LAYER_THREADS_MAX + 1};
  for (size_t i = 0; i < 2; i++) {
    o.threads = bad[i];
    int fd = open_in(p("par"));
    assert_int_equal(oci_layer_transform_file(fd, &o, p("bad"), &r, &err),
                     OCI_EINVAL);
    close(fd);
    char want[160];
    snprintf(want, sizeof want,
             "layer.transform: compression threads %d out of range (0 to 64, "
             "or OCI_LAYER_THREADS_AUTO)",
             bad[i]);
    assert_string_equal(err.message, want);
    sh("test ! -e '%s'", p("bad"));
  }
}

/* Every allocation of a transform that edits, reads, adds and produces
   fails in turn: OCI_ENOMEM, no output, no leak (ASan and valgrind). */
static void test_alloc_failures(void **state) {
  (void)state;
  oci_layer_result b, r;
  base(p("in"), &b);
  oci_layer_transform_options o = OCI_LAYER_TRANSFORM_OPTIONS_INIT;
  o.fn = edit;
  long n;
  for (n = 0;; n++) {
    oci_error err;
    int fd = open_in(p("in"));
    alloc_arm(n);
    int rc = oci_layer_transform_file(fd, &o, p("out"), &r, &err);
    alloc_disarm();
    close(fd);
    if (!alloc_injected) {
      if (rc) fail_msg("transform failed: %s", err.message);
      break;
    }
    if (rc != OCI_ENOMEM)
      fail_msg("allocation %ld failed: got %d (%s)", n, rc, err.message);
    sh("test ! -e '%s'", p("out"));
  }
  print_message("%ld allocations failed in turn\n", n);
  assert_true(n > 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_keep_all, setup, teardown),
      cmocka_unit_test_setup_teardown(test_edit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
