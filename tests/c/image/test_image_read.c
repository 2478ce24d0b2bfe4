/* Unit tests for csrc/image/image_read.c (oci_image_reader_*): image
   layouts written by Python (tarfile, hashlib, json: independent of our
   code); whiteouts, the early stop, errors, and an allocation-failure
   sweep (linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
   CMakeLists.txt). */
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

#include "ocispec/image_read.h"
#include "ocispec/layout.h"

#include "../alloc_wrap.h"

#define SCRATCH_NAME "image-read"
#include "../scratch.h"

#include "py_image.h"

#define LAYERS                                                                 \
  "[[('etc', None), ('etc/a', b'A0'), ('etc/b', b'B0'), ('gone', b'x')], "     \
  "[('.wh.gone', b''), ('etc', None), ('etc/a', b'A1')]]"

static oci_layout *open_layout(const char *dir) {
  oci_layout *l;
  oci_error err;
  if (oci_layout_open(p(dir), &l, &err))
    fail_msg("cannot open the layout: %s", err.message);
  return l;
}

static void test_read(void **state) {
  (void)state;
  make_image("img", LAYERS, NULL);
  oci_layout *l = open_layout("img");
  oci_image_reader *r = NULL;
  oci_error err;
  assert_int_equal(oci_image_reader_open(l, "t", NULL, &r, &err), OCI_OK);
  oci_layout_close(l); /* the reader holds its blobs */
  char *data;
  size_t len;
  assert_int_equal(oci_image_reader_read(r, "/etc/a", &data, &len, &err),
                   OCI_OK);
  assert_int_equal(len, 2);
  assert_string_equal(data, "A1");
  free(data);
  assert_int_equal(oci_image_reader_layers_read(r), 1); /* the top only */
  assert_int_equal(oci_image_reader_read(r, "etc/b", &data, &len, &err),
                   OCI_OK);
  assert_string_equal(data, "B0");
  free(data);
  oci_image_entry *e = NULL;
  assert_int_equal(oci_image_reader_stat(r, "/gone", true, &e, &err), OCI_EIO);
  assert_null(e);
  assert_non_null(strstr(err.message, "/gone: no such file or directory"));
  assert_int_equal(oci_image_reader_stat(r, "/etc/a/x", false, &e, &err),
                   OCI_EIO);
  assert_non_null(strstr(err.message, "/etc/a: not a directory"));
  oci_image_listing *ls = NULL;
  assert_int_equal(oci_image_reader_list(r, "/", &ls, &err), OCI_OK);
  assert_int_equal(ls->len, 1);
  assert_string_equal(ls->items[0].info.path, "etc");
  assert_int_equal(ls->items[0].layer, 1);
  oci_image_listing_free(ls);
  assert_int_equal(oci_image_reader_list(r, "/etc/a", &ls, &err), OCI_EINVAL);
  assert_null(ls);
  oci_image_reader_free(r);
}

static void test_options(void **state) {
  (void)state;
  make_image("img", LAYERS, NULL);
  oci_layout *l = open_layout("img");
  oci_image_reader *r = NULL;
  oci_error err;
  oci_image_reader_options o;
  oci_image_reader_options_init(&o);
  o.version = 99;
  assert_int_equal(oci_image_reader_open(l, "t", &o, &r, &err), OCI_EINVAL);
  assert_null(r);
  oci_image_reader_options_init(&o);
  o.max_read = 1;
  assert_int_equal(oci_image_reader_open(l, "nothing", &o, &r, &err),
                   OCI_EINVAL);
  assert_int_equal(oci_image_reader_open(l, "t", &o, &r, &err), OCI_OK);
  char *data = NULL;
  size_t len;
  assert_int_equal(oci_image_reader_read(r, "/etc/a", &data, &len, &err),
                   OCI_ETOOBIG);
  assert_null(data);
  assert_non_null(strstr(err.message, "limit max_read"));
  oci_image_reader_free(r);
  o.max_read = 0;
  o.max_entries = 2;
  assert_int_equal(oci_image_reader_open(l, "t", &o, &r, &err), OCI_OK);
  assert_int_equal(oci_image_reader_read(r, "/etc/b", &data, &len, &err),
                   OCI_ETOOBIG);
  assert_non_null(strstr(err.message, "limit max_entries"));
  oci_image_reader_free(r);
  oci_layout_close(l);
}

/* Two images sharing their base layer (Python writes both): B's top layer
   whites out, makes a directory opaque, changes a file's content and
   another's xattr, adds a hard link. */
#define DIFF_BASE                                                              \
  "[('etc', None), ('etc/a', b'A0'), ('etc/x', (b'X', {'user.k': '1'})), "     \
  "('opq', None), ('opq/o', b'o'), ('gone', b'x')]"
#define DIFF_A "[" DIFF_BASE "]"
#define DIFF_B                                                                 \
  "[" DIFF_BASE ", [('.wh.gone', b''), ('etc/a', b'A1'), ('etc/h', 'etc/a'), " \
  "('etc/x', (b'X', {'user.k': '2'})), ('opq/.wh..wh..opq', b''), "            \
  "('opq/n', b'n')]]"

static int diff_images(oci_layout *la, oci_layout *lb, oci_image_diff **d,
                       uint64_t *read_a, uint64_t *read_b, oci_error *err) {
  oci_image_reader *a = NULL, *b = NULL;
  int rc = oci_image_reader_open(la, "t", NULL, &a, err);
  if (!rc) rc = oci_image_reader_open(lb, "t", NULL, &b, err);
  if (!rc) rc = oci_image_diff_files(a, b, d, err);
  if (read_a) *read_a = oci_image_reader_layers_read(a);
  if (read_b) *read_b = oci_image_reader_layers_read(b);
  oci_image_reader_free(a);
  oci_image_reader_free(b);
  return rc;
}

static void test_diff(void **state) {
  (void)state;
  make_image("da", DIFF_A, NULL);
  make_image("db", DIFF_B, NULL);
  oci_layout *la = open_layout("da"), *lb = open_layout("db");
  oci_image_diff *d = NULL;
  oci_error err;
  uint64_t ra, rb;
  if (diff_images(la, lb, &d, &ra, &rb, &err)) fail_msg("%s", err.message);
  /* the shared base read once (by a), then b's top layer only */
  assert_int_equal(d->layers_shared, 1);
  assert_int_equal(ra, 1);
  assert_int_equal(rb, 1);
  static const struct {
    char kind;
    const char *path;
    unsigned what;
  } want[] = {{'C', "etc/a", OCI_CHANGE_CONTENT},
              {'A', "etc/h", 0},
              {'C', "etc/x", OCI_CHANGE_XATTRS},
              {'D', "gone", 0},
              {'A', "opq/n", 0},
              {'D', "opq/o", 0}};
  assert_int_equal(d->len, sizeof want / sizeof *want);
  for (size_t i = 0; i < d->len; i++) {
    const oci_image_change *c = &d->items[i];
    const oci_image_file *f = c->b ? c->b : c->a;
    assert_int_equal(c->kind, want[i].kind);
    assert_string_equal(f->info.path, want[i].path);
    assert_int_equal(c->what, want[i].what);
  }
  /* the hard link carries its target's content digest: sha256("A1") */
  assert_string_equal(d->items[1].b->digest,
                      "sha256:16a36e86f6fed5d465ff332511a0ce1a863b55d364b25a7c"
                      "daa25db19abf9648");
  oci_image_diff_free(d);
  /* an image against itself: every layer shared, none read */
  if (diff_images(lb, lb, &d, &ra, &rb, &err)) fail_msg("%s", err.message);
  assert_int_equal(d->len, 0);
  assert_int_equal(ra + rb, 0);
  oci_image_diff_free(d);
  assert_int_equal(oci_image_diff_files(NULL, NULL, &d, &err), OCI_EINVAL);
  assert_null(d);
  oci_layout_close(la);
  oci_layout_close(lb);
}

/* oci_image_diff_files under allocation failures: OCI_ENOMEM and nothing
   returned (ASan: nothing leaked); then it succeeds. */
static void test_diff_alloc_failures(void **state) {
  (void)state;
  make_image("da", DIFF_A, NULL);
  make_image("db", DIFF_B, NULL);
  oci_layout *la = open_layout("da"), *lb = open_layout("db");
  long n;
  for (n = 0;; n++) {
    oci_error err;
    oci_image_diff *d = NULL;
    alloc_arm(n);
    int rc = diff_images(la, lb, &d, NULL, NULL, &err);
    alloc_disarm();
    if (!alloc_injected) {
      if (rc) fail_msg("diff failed: %s", err.message);
      assert_int_equal(d->len, 6);
      oci_image_diff_free(d);
      break;
    }
    assert_null(d);
    if (rc != OCI_ENOMEM)
      fail_msg("allocation %ld failed: got %d (%s)", n, rc, err.message);
  }
  print_message("%ld allocations failed in turn\n", n);
  assert_true(n > 20);
  oci_layout_close(la);
  oci_layout_close(lb);
}

/* Every allocation of the library, failed in turn: OCI_ENOMEM and nothing
   returned (ASan: nothing leaked); then it succeeds. */
static void test_alloc_failures(void **state) {
  (void)state;
  make_image("img", LAYERS, NULL);
  oci_layout *l = open_layout("img");
  long n;
  for (n = 0;; n++) {
    oci_error err;
    oci_image_reader *r = NULL;
    oci_image_listing *ls = NULL;
    char *data = NULL;
    size_t len;
    alloc_arm(n);
    int rc = oci_image_reader_open(l, "t", NULL, &r, &err);
    if (!rc) rc = oci_image_reader_read(r, "/etc/b", &data, &len, &err);
    if (!rc) rc = oci_image_reader_list(r, "/etc", &ls, &err);
    alloc_disarm();
    free(data);
    oci_image_listing_free(ls);
    oci_image_reader_free(r);
    if (!alloc_injected) {
      if (rc) fail_msg("read failed: %s", err.message);
      break;
    }
    if (rc != OCI_ENOMEM)
      fail_msg("allocation %ld failed: got %d (%s)", n, rc, err.message);
  }
  print_message("%ld allocations failed in turn\n", n);
  assert_true(n > 20);
  oci_layout_close(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_read, setup, teardown),
      cmocka_unit_test_setup_teardown(test_options, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
      cmocka_unit_test_setup_teardown(test_diff, setup, teardown),
      cmocka_unit_test_setup_teardown(test_diff_alloc_failures, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
