/* Unit tests for csrc/image/unpack_image.c (oci_unpack_image): image
   layouts written by Python (tarfile, hashlib, json: independent of our
   code), bundles checked by Python's json, failures that must leave
   nothing behind, options, and an allocation-failure sweep (the binary is
   linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
   CMakeLists.txt: the static library's allocations can fail one by one). */
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

#include "ocispec/layout.h"
#include "ocispec/runtime.h"
#include "ocispec/unpack.h"

#include "../alloc_wrap.h"

/* ---- scratch directory ---- */

#define SCRATCH_NAME "unpack-image"
#include "../scratch.h"

#include "py_image.h"

#define PASSWD_LAYER                                                           \
  "[('etc', None), ('etc/passwd', b'app:x:1000:1001::/:/bin/sh\\n'), "         \
  "('etc/group', b'wheel:x:10:app\\n'), ('gone', b'x'), ('keep', b'k')]"
#define TWO_LAYERS "[" PASSWD_LAYER ", [('.wh.gone', b''), ('new', b'n')]]"

static oci_layout *open_layout(const char *dir) {
  oci_layout *l;
  oci_error err;
  if (oci_layout_open(p(dir), &l, &err))
    fail_msg("cannot open the layout: %s", err.message);
  return l;
}

/* What tmp holds, for "nothing left behind" checks. */
static void listing(char *out, size_t cap) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "ls -A '%s'", tmp);
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  size_t n = fread(out, 1, cap - 1, f);
  out[n] = '\0';
  pclose(f);
}

static void expect_fail(oci_layout *l, const char *bundle,
                        const oci_unpack_image_options *o, int code,
                        const char *part) {
  char before[4096], after[4096];
  listing(before, sizeof before);
  oci_runtime_spec *s = (oci_runtime_spec *)l; /* must be reset to NULL */
  oci_error err;
  int rc = oci_unpack_image(l, "t", bundle, o, &s, &err);
  if (rc != code || !strstr(err.message, part))
    fail_msg("expected %d with \"%s\", got %d: %s", code, part, rc,
             err.message);
  assert_null(s);
  listing(after, sizeof after);
  assert_string_equal(before, after);
}

static void test_bundle(void **state) {
  (void)state;
  make_image("img", TWO_LAYERS, NULL);
  oci_layout *l = open_layout("img");
  oci_unpack_image_options o;
  oci_unpack_image_options_init(&o);
  o.rootless = true;
  o.uid = 4242;
  o.gid = 4343;
  oci_runtime_spec *s;
  oci_error err;
  if (oci_unpack_image(l, "t", p("bundle"), &o, &s, &err))
    fail_msg("unpack failed: %s", err.message);
  /* the rootfs: the whiteout removed the lower file */
  sh("test \"$(cat '%s')\" = k && test \"$(cat '%s')\" = n && ! test -e '%s'",
     p("bundle/rootfs/keep"), p("bundle/rootfs/new"), p("bundle/rootfs/gone"));
  sh("test \"$(stat -c %%a '%s')\" = 700 && test \"$(stat -c %%a '%s')\" = 755 "
     "&& test \"$(ls -A '%s' | tr '\\n' ' ')\" = 'config.json rootfs '",
     p("bundle"), p("bundle/rootfs"), p("bundle"));
  /* config.json, read by Python: the conversion with the rootfs's
     /etc/passwd, and the rootless base for the given ids */
  sh("python3 - '%s' <<'EOF'\n"
     "import json, sys\n"
     "c = json.load(open(sys.argv[1]))\n"
     "p = c['process']\n"
     "assert p['user'] == {'uid': 1000, 'gid': 1001, 'additionalGids': [10]}, "
     "p['user']\n"
     "assert p['args'] == ['/bin/app'] and p['terminal'] is False, p\n"
     "assert p['env'][-1] == 'A=1', p['env']\n"
     "assert c['root'] == {'path': 'rootfs', 'readonly': True}, c['root']\n"
     "assert c['linux']['uidMappings'][0]['hostID'] == 4242\n"
     "assert c['linux']['gidMappings'][0]['hostID'] == 4343\n"
     "assert c['annotations']['org.opencontainers.image.os'] == 'linux'\n"
     "EOF",
     p("bundle/config.json"));
  /* the returned spec is the one written */
  oci_runtime_spec *f;
  assert_int_equal(
      oci_runtime_spec_parse_file(p("bundle/config.json"), NULL, &f, &err),
      OCI_OK);
  assert_true(oci_equal(&oci_type_runtime_spec, s, f));
  oci_free(f);
  oci_free(s);

  /* an existing bundle, ".", "/" and "" are refused before any work */
  expect_fail(l, p("bundle"), &o, OCI_EIO,
              "exists and is not an empty directory; unpack into a new "
              "bundle");
  expect_fail(l, p("bundle/rootfs/keep"), &o, OCI_EIO,
              "exists and is not an empty directory");
  expect_fail(l, ".", &o, OCI_EINVAL,
              "the bundle must name a new or empty directory");
  expect_fail(l, p("x/.."), &o, OCI_EINVAL, "must name a new or empty");
  expect_fail(l, "///", &o, OCI_EINVAL, "must name a new or empty");
  expect_fail(l, "", &o, OCI_EINVAL, "must name a new or empty");
  /* a symbolic link to an empty directory is not one */
  sh("mkdir '%s' && ln -s empty0 '%s'", p("empty0"), p("link"));
  expect_fail(l, p("link"), &o, OCI_EIO, "exists and is not an empty");
  /* a missing parent */
  expect_fail(l, p("no/such/bundle"), &o, OCI_EIO, "No such file");

  /* an empty directory is replaced whole; trailing slashes are fine; out
     may be NULL; without options it is the host's platform and root */
  sh("mkdir '%s'", p("empty"));
  assert_int_equal(oci_unpack_image(l, "t", p("empty//"), NULL, NULL, &err),
                   OCI_OK);
  sh("test \"$(cat '%s')\" = k", p("empty/rootfs/keep"));
  sh("python3 -c 'import json,sys; c = json.load(open(sys.argv[1])); "
     "assert \"uidMappings\" not in c[\"linux\"]' '%s'",
     p("empty/config.json"));
  /* a relative bundle (parent "."), from the scratch directory */
  char cwd[512];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(tmp), 0);
  int rc = oci_unpack_image(l, "t", "rel", &o, NULL, &err);
  assert_int_equal(chdir(cwd), 0);
  if (rc) fail_msg("relative bundle: %s", err.message);
  sh("test -d '%s'", p("rel/rootfs"));
  oci_layout_close(l);
}

/* Python for make_image's `extra`: appends the blob put() returned as d, n
   as one more plain tar layer, with d as its diff_id. */
#define APPEND_LAYER                                                           \
  "descs.append({'mediaType': 'application/vnd.oci.image.layer.v1.tar', "      \
  "'digest': d, 'size': n})\n"                                                 \
  "diff_ids.append(d)\n"

/* An image that oci_unpack_image must refuse with `code` and a message
   holding `part` (and `part2`, when given), leaving nothing behind:
   make_image("img", layers, edit). */
typedef struct bad_image {
  const char *layers, *edit;
  int code;
  const char *part, *part2;
} bad_image;

static void expect_bad_images(const bad_image *cases, size_t n,
                              const oci_unpack_image_options *o) {
  for (size_t i = 0; i < n; i++) {
    const bad_image *c = &cases[i];
    make_image("img", c->layers, c->edit);
    oci_layout *l = open_layout("img");
    expect_fail(l, p("bundle"), o, c->code, c->part);
    if (c->part2) expect_fail(l, p("bundle"), o, c->code, c->part2);
    oci_layout_close(l);
    sh("rm -rf '%s'", p("img"));
  }
}

static void test_failures_leave_nothing(void **state) {
  (void)state;
  oci_unpack_image_options o = OCI_UNPACK_IMAGE_OPTIONS_INIT;
  o.rootless = true;
  static const bad_image bad[] = {
      /* a diff_id that does not match layer 2 */
      {TWO_LAYERS, "diff_ids[1] = 'sha256:' + '2' * 64\n", OCI_EMISMATCH,
       "layer 2 (sha256:", "diff_id) mismatch: expected sha256:2222"},
      /* each layer is read once, applied as it comes and verified at its
         end (one_pass): a tampered layer (same size, other bytes: a good
         tar that is not the one named) fails with the digest error and
         leaves nothing, though it was applied into the temporary bundle
         first */
      {TWO_LAYERS,
       "raw = tar([('big', b'hello world' * 1000)])\n"
       "d, n = put(raw)\n"
       "open(root + '/blobs/sha256/' + d[7:], 'wb').write("
       "raw.replace(b'hello world', b'HELLO WORLD'))\n" APPEND_LAYER,
       OCI_EMISMATCH,
       "layer 3 (sha256:", "): digest mismatch: expected sha256:"},
      /* a gzip layer damaged in its middle (same size): the digest error,
         not the broken stream's */
      {TWO_LAYERS,
       "f = root + '/blobs/sha256/' + descs[0]['digest'][7:]\n"
       "z = bytearray(open(f, 'rb').read())\n"
       "z[len(z) // 2:len(z) - 8] = bytes(len(z) - 8 - len(z) // 2)\n"
       "open(f, 'wb').write(z)\n",
       OCI_EMISMATCH, "layer 1 (sha256:", "digest mismatch: expected"},
      /* a fine tar whose diff_id does not match, in the first layer */
      {TWO_LAYERS, "diff_ids[0] = 'sha256:' + '4' * 64\n", OCI_EMISMATCH,
       "layer 1 (sha256:", "diff_id) mismatch: expected sha256:4444"},
      /* fewer diff_ids than layers */
      {TWO_LAYERS, "diff_ids.pop()\n", OCI_EINVAL,
       "the image has 2 layers but its config lists 1 diff_ids", NULL},
      /* a user the rootfs does not have: the conversion fails after the
         layers were applied */
      {TWO_LAYERS, "cfg['config']['User'] = 'nobody'\n", OCI_EINVAL,
       "user \"nobody\" not found in the rootfs's /etc/passwd", NULL},
      /* a layer that is not a tar */
      {"[]", "d, n = put(b'not a tar at all')\n" APPEND_LAYER, OCI_EINVAL,
       "layer 1 (sha256:", NULL},
      /* a missing layer blob */
      {TWO_LAYERS,
       "os.remove(root + '/blobs/sha256/' + descs[1]['digest'][7:])\n", OCI_EIO,
       "layer 2 (sha256:", NULL},
  };
  expect_bad_images(bad, sizeof bad / sizeof bad[0], &o);
  /* an artifact: its config is no image configuration */
  make_image("img", TWO_LAYERS,
             "config_mt = 'application/vnd.example.thing+json'\n");
  oci_layout *l = open_layout("img");
  expect_fail(l, p("bundle"), &o, OCI_EUNSUPPORTED,
              "not an image configuration: no bundle to make");
  /* an unknown tag */
  oci_error err;
  assert_int_equal(oci_unpack_image(l, "nope", p("bundle"), &o, NULL, &err),
                   OCI_EINVAL);
  assert_non_null(strstr(err.message, "nope"));
  oci_layout_close(l);
}

static void test_options(void **state) {
  (void)state;
  make_image("img", "[" PASSWD_LAYER "]", NULL);
  oci_layout *l = open_layout("img");
  oci_unpack_image_options o = OCI_UNPACK_IMAGE_OPTIONS_INIT;
  o.version = 0;
  expect_fail(l, p("bundle"), &o, OCI_EINVAL,
              "oci_unpack_image_options: unknown version 0");
  o.version = OCI_UNPACK_IMAGE_OPTIONS_VERSION;
  o.rootless = true;
  o.uid = (int64_t)UINT32_MAX + 1;
  expect_fail(l, p("bundle"), &o, OCI_EINVAL, "out of range");
  o.uid = -1;
  /* the limits reach each layer */
  o.max_entries = 2;
  expect_fail(l, p("bundle"), &o, OCI_ETOOBIG, "layer 1 (sha256:");
  o.max_entries = 0;
  o.max_bytes = 100;
  expect_fail(l, p("bundle"), &o, OCI_ETOOBIG, "max_bytes");
  o.max_bytes = 0;
  /* a platform the image is not for: a plain manifest is taken as it is */
  oci_layout_platform arm = {"linux", "arm64", NULL};
  o.platform = &arm;
  oci_error err;
  assert_int_equal(oci_unpack_image(l, "t", p("b2"), &o, NULL, &err), OCI_OK);
  /* rootless with the process's ids */
  oci_runtime_spec *s;
  o.platform = NULL;
  assert_int_equal(oci_unpack_image(l, "t", p("b3"), &o, &s, &err), OCI_OK);
  assert_int_equal(s->linux_->uid_mappings.items[0]->host_id, geteuid());
  assert_int_equal(s->linux_->gid_mappings.items[0]->host_id, getegid());
  oci_free(s);
  /* NULL arguments; err may be NULL; a pre-filled err is reset */
  assert_int_equal(oci_unpack_image(NULL, "t", p("b4"), NULL, NULL, &err),
                   OCI_EINVAL);
  assert_non_null(strstr(err.message, "layout missing"));
  assert_int_equal(oci_unpack_image(l, NULL, p("b4"), NULL, NULL, NULL),
                   OCI_EINVAL);
  oci_error_set(&err, OCI_EIO, "stale");
  oci_error_set_pointer(&err, "/stale");
  assert_int_equal(oci_unpack_image(l, "t", p("b4"), &o, NULL, &err), OCI_OK);
  assert_int_equal(err.code, OCI_OK);
  assert_string_equal(err.pointer, "");
  oci_layout_close(l);
}

/* Every allocation of the library, failed in turn: OCI_ENOMEM, no bundle,
   nothing beside it; then it succeeds. */
static void test_alloc_failures(void **state) {
  (void)state;
  make_image("img", TWO_LAYERS, NULL);
  oci_layout *l = open_layout("img");
  oci_unpack_image_options o = OCI_UNPACK_IMAGE_OPTIONS_INIT;
  o.rootless = true;
  char before[4096], after[4096];
  listing(before, sizeof before);
  long n;
  for (n = 0;; n++) {
    oci_runtime_spec *s = (oci_runtime_spec *)l;
    oci_error err;
    alloc_arm(n);
    int rc = oci_unpack_image(l, "t", p("bundle"), &o, &s, &err);
    alloc_disarm();
    if (!alloc_injected) {
      if (rc) fail_msg("unpack failed: %s", err.message);
      oci_free(s);
      break;
    }
    if (rc != OCI_ENOMEM || s != NULL)
      fail_msg("allocation %ld failed: got %d (%s)", n, rc, err.message);
    listing(after, sizeof after);
    assert_string_equal(before, after);
  }
  print_message("%ld allocations failed in turn\n", n);
  assert_true(n > 20);
  sh("test \"$(cat '%s')\" = n", p("bundle/rootfs/new"));
  oci_layout_close(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_bundle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failures_leave_nothing, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_options, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
