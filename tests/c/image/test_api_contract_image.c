/* The error contract of csrc/image (hashing, layouts, layers, unpacking,
   rootfs reads): every public function taking an oci_error * resets it on
   entry. Each call gets a struct full of garbage and a stale error; a
   success hands it back clean, a failure with only fresh fields (the
   issue's case: oci_layout_open returned a stale pointer and line). */
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
#include <unistd.h>

#include "../api_contract.h"
#include "ocispec/ocispec.h"

#define EMPTY_SHA256                                                           \
  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static char *tmpdir(void) {
  char *d = strdup("/tmp/ocispec-test-error-reset-XXXXXX");
  assert_non_null(d);
  assert_non_null(mkdtemp(d));
  return d;
}

static char *join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  assert_non_null(p);
  snprintf(p, n, "%s/%s", a, b);
  return p;
}

static void test_hash_success_clean(void **state) {
  (void)state;
  oci_error e;
  char *dir = tmpdir(), *file = join(dir, "f");
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fclose(f);
  char out[OCI_DIGEST_STRING_MAX];
  uint64_t size;
  oci_hasher *h = NULL;
  OK_CLEAN(e, oci_hasher_new(OCI_DIGEST_SHA256, &h, &e));
  OK_CLEAN(e, oci_hasher_update(h, "", 0, &e));
  OK_CLEAN(e, oci_hasher_finish(h, out, &e));
  oci_hasher_free(h);
  OK_CLEAN(e, oci_hash_buffer(OCI_DIGEST_SHA512, "x", 1, out, &e));
  OK_CLEAN(e, oci_hash_file(OCI_DIGEST_SHA256, file, out, &size, &e));
  int fd = open(file, O_RDONLY);
  assert_true(fd >= 0);
  OK_CLEAN(e, oci_hash_fd(OCI_DIGEST_SHA256, fd, NULL, out, &size, &e));
  close(fd);
  OK_CLEAN(e, oci_digest_verify_buffer(EMPTY_SHA256, "", 0, &e));
  OK_CLEAN(e, oci_digest_verify_buffer_ex(EMPTY_SHA256, "", 0, out, &e));
  OK_CLEAN(e, oci_digest_verify_file(EMPTY_SHA256, file, &e));
  OK_CLEAN(e, oci_digest_verify_file_ex(EMPTY_SHA256, file, out, &size, &e));
  OK_CLEAN(e, oci_remove_tree(dir, &e));
  free(file);
  free(dir);
}

static void test_layer_success_clean(void **state) {
  (void)state;
  oci_error e;
  char *dir = tmpdir(), *blob = join(dir, "layer.tar.gz"),
       *root = join(dir, "rootfs");
  assert_int_equal(mkdir(root, 0755), 0);
  oci_layer_options o;
  oci_layer_options_init(&o);
  OK_CLEAN(e, oci_layer_options_from_env(&o, &e));
  oci_layer_compression c;
  OK_CLEAN(e, oci_layer_compression_from_name("zstd", &c, &e));
  oci_layer_entry ent = {.path = "etc/hello",
                         .type = OCI_LAYER_FILE,
                         .mode = -1,
                         .uid = -1,
                         .gid = -1,
                         .content = "hi\n",
                         .content_len = 3};
  oci_layer_source src = {.entries = &ent, .n_entries = 1};
  oci_layer_result res;
  OK_CLEAN(e, oci_layer_build_file(&src, NULL, blob, &res, &e));
  oci_layer_listing *ls = NULL;
  OK_CLEAN(e, oci_layer_list(blob, &ls, &e));
  oci_layer_listing_free(ls);
  char *raw = join(dir, "layer.tar"), did[OCI_DIGEST_STRING_MAX];
  OK_CLEAN(e, oci_layer_decompress(blob, raw, 0, did, NULL, &e));
  assert_string_equal(did, res.diff_id);
  free(raw);
  oci_unpack_options uo = OCI_UNPACK_OPTIONS_INIT;
  uo.rootless = true;
  OK_CLEAN(e, oci_layer_apply(blob, root, &uo, NULL, &e));
  int fd = open(blob, O_RDONLY);
  assert_true(fd >= 0);
  OK_CLEAN(e, oci_layer_apply_fd(fd, NULL, root, &uo, NULL, &e));
  close(fd);
  char *text = NULL;
  OK_CLEAN(e, oci_rootfs_read_file(root, "etc/hello", 0, &text, NULL, &e));
  assert_string_equal(text, "hi\n");
  free(text);
  OK_CLEAN(e, oci_remove_tree(dir, &e));
  free(root);
  free(blob);
  free(dir);
}

static void test_layout_success_clean(void **state) {
  (void)state;
  oci_error e;
  char *dir = tmpdir(), *lp = join(dir, "layout"), *file = join(dir, "blob");
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fputs("file blob", f);
  fclose(f);
  oci_layout *l = NULL;
  OK_CLEAN(e, oci_layout_create(lp, &l, &e));
  oci_layout_close(l);
  OK_CLEAN(e, oci_layout_open(lp, &l, &e));

  oci_image_descriptor *d = NULL, *d2 = NULL;
  static const char cfg[] =
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{"
      "\"type\":\"layers\",\"diff_ids\":[]}}";
  OK_CLEAN(e, oci_layout_put_blob(l, cfg, sizeof cfg - 1,
                                  "application/vnd.oci.image.config.v1+json",
                                  &d, &e));
  bool has = false;
  OK_CLEAN(e, oci_layout_has_blob(l, d->digest, &has, &e));
  assert_true(has);
  char *p = NULL;
  OK_CLEAN(e, oci_layout_blob_path(l, d->digest, &p, &e));
  free(p);
  int fd = -1;
  OK_CLEAN(e, oci_layout_open_blob(l, d->digest, &fd, NULL, &e));
  close(fd);
  char *buf = NULL;
  size_t len = 0;
  OK_CLEAN(e, oci_layout_get_blob(l, d->digest, d->size, &buf, &len, &e));
  free(buf);
  OK_CLEAN(e, oci_layout_put_blob_file(l, file, NULL, &d2, &e));
  oci_image_descriptor_free(d2);

  oci_blob_writer *w = NULL;
  OK_CLEAN(e, oci_layout_blob_writer(l, NULL, &w, &e));
  OK_CLEAN(e, oci_blob_writer_write(w, "abc", 3, &e));
  OK_CLEAN(e, oci_blob_writer_commit(w, NULL, &d2, &e));
  oci_image_descriptor_free(d2);

  char *tmp = NULL;
  OK_CLEAN(e, oci_layout_temp_path(l, &tmp, &e));
  OK_CLEAN(e, oci_layout_adopt_blob(l, tmp, EMPTY_SHA256, 0, NULL, &d2, &e));
  free(tmp);
  oci_image_descriptor_free(d2);

  /* a manifest naming the config blob, tagged, found, resolved */
  oci_image_manifest *m = NULL;
  char mj[512];
  snprintf(mj, sizeof mj,
           "{\"schemaVersion\":2,\"mediaType\":"
           "\"application/vnd.oci.image.manifest.v1+json\",\"config\":{"
           "\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
           "\"digest\":\"%s\",\"size\":%lld},\"layers\":[]}",
           d->digest, (long long)d->size);
  OK_CLEAN(e, oci_image_manifest_parse(mj, strlen(mj), NULL, &m, &e));
  OK_CLEAN(e, oci_layout_put_document(l, &oci_type_image_manifest, m, NULL, &d2,
                                      &e));
  oci_image_manifest_free(m);
  void *doc = NULL;
  OK_CLEAN(e, oci_layout_get_document(l, d2->digest, d2->size,
                                      &oci_type_image_manifest, &doc, &e));
  oci_free(doc);
  OK_CLEAN(e, oci_layout_tag(l, d2, "v1", &e));
  oci_image_index *ix = NULL;
  OK_CLEAN(e, oci_layout_index(l, &ix, &e));
  oci_image_index_free(ix);
  oci_image_descriptor *found = NULL;
  OK_CLEAN(e, oci_layout_lookup(l, "v1", &found, &e));
  oci_image_descriptor_free(found);
  oci_layout_problems probs;
  OK_CLEAN(e, oci_layout_verify(l, &probs, &e));
  oci_layout_problems_free(&probs);
  OK_CLEAN(e, oci_layout_untag(l, "v1", &e));
  oci_layout_strings removed;
  OK_CLEAN(e, oci_layout_gc(l, &removed, &e));
  oci_layout_strings_free(&removed);
  oci_image_descriptor_free(d2);
  oci_image_descriptor_free(d);
  oci_layout_close(l);
  OK_CLEAN(e, oci_remove_tree(dir, &e));
  free(file);
  free(lp);
  free(dir);
}

/* Failures: only the fresh code and message, no stale pointer or line. */
static void test_image_failure_fresh(void **state) {
  (void)state;
  oci_error e;
  oci_layout *l = (oci_layout *)1;
  FAIL_FRESH(e, oci_layout_open("/nonexistent/ocispec-layout", &l, &e),
             OCI_EINVAL, "/nonexistent/ocispec-layout", "", 0);
  char *dir = tmpdir(), *lp = join(dir, "l");
  OK_CLEAN(e, oci_layout_create(lp, &l, &e));
  oci_image_descriptor *d = NULL;
  FAIL_FRESH(e, oci_layout_lookup(l, "nosuchtag", &d, &e), OCI_EINVAL,
             "nosuchtag", "", 0);
  oci_layout_close(l);
  char out[OCI_DIGEST_STRING_MAX];
  FAIL_FRESH(e, oci_digest_verify_buffer(EMPTY_SHA256, "x", 1, &e),
             OCI_EMISMATCH, "mismatch", "", 0);
  FAIL_FRESH(e, oci_hash_buffer(OCI_DIGEST_BLAKE3, "x", 1, out, &e),
             OCI_EUNSUPPORTED, "blake3", "", 0);
  FAIL_FRESH(e, oci_layer_apply_fd(-1, NULL, dir, NULL, NULL, &e), OCI_EINVAL,
             "no descriptor", "", 0);
  OK_CLEAN(e, oci_remove_tree(dir, &e));
  free(lp);
  free(dir);
}

/* Options of layers, unpacking and layout documents: version first, the
   _INIT macro and _init() agree, an unknown version (0 included: a zeroed
   struct) is OCI_EINVAL before anything is written. */
static void test_image_options(void **state) {
  (void)state;
  oci_error e;
  oci_layer_options lo = OCI_LAYER_OPTIONS_INIT, lo2;
  memset(&lo2, 0x5a, sizeof lo2);
  oci_layer_options_init(&lo2);
  assert_int_equal(lo2.version, OCI_LAYER_OPTIONS_VERSION);
  assert_int_equal(lo.version, OCI_LAYER_OPTIONS_VERSION);
  assert_int_equal(lo2.compression, OCI_LAYER_GZIP);
  assert_int_equal(lo.compression, lo2.compression);
  assert_int_equal(lo.level, lo2.level);
  assert_int_equal(lo.clamp_mtime, lo2.clamp_mtime);
  assert_int_equal(lo.uid, -1);
  assert_int_equal(lo2.uid, -1);
  assert_int_equal(lo2.gid, -1);

  oci_unpack_options uo = OCI_UNPACK_OPTIONS_INIT, uo2;
  memset(&uo2, 0x5a, sizeof uo2);
  oci_unpack_options_init(&uo2);
  assert_int_equal(uo2.version, OCI_UNPACK_OPTIONS_VERSION);
  assert_false(uo2.rootless);
  assert_null(uo2.expected_digest);
  assert_int_equal(uo2.expected_size, -1);
  assert_null(uo2.expected_diff_id);
  assert_int_equal(uo2.max_bytes, 0);
  assert_int_equal(uo2.max_entries, 0);

  oci_layout_put_options po = OCI_LAYOUT_PUT_OPTIONS_INIT, po2;
  memset(&po2, 0x5a, sizeof po2);
  oci_layout_put_options_init(&po2);
  assert_int_equal(po2.version, OCI_LAYOUT_PUT_OPTIONS_VERSION);
  assert_int_equal(po.version, OCI_LAYOUT_PUT_OPTIONS_VERSION);
  assert_null(po2.annotations);
  assert_null(po2.platform);

  char *dir = tmpdir(), *blob = join(dir, "layer.tar"),
       *root = join(dir, "rootfs"), *lp = join(dir, "layout");
  assert_int_equal(mkdir(root, 0755), 0);
  oci_layer_entry ent = {
      .path = "f", .type = OCI_LAYER_FILE, .mode = -1, .uid = -1, .gid = -1};
  oci_layer_source src = {.entries = &ent, .n_entries = 1};
  oci_layer_result res;
  oci_layout *l = NULL;
  OK_CLEAN(e, oci_layout_create(lp, &l, &e));
  oci_image_manifest *m = NULL;
  OK_CLEAN(e, oci_image_manifest_new(&m, &e));

  unsigned bad[] = {0, OCI_LAYER_OPTIONS_VERSION + 1, 0xffffffffu};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char want[64];
    snprintf(want, sizeof want, "unknown version %u", bad[i]);
    lo.version = bad[i];
    FAIL_FRESH(e, oci_layer_build_file(&src, &lo, blob, &res, &e), OCI_EINVAL,
               want, "", 0);
    assert_non_null(strstr(e.message, "oci_layer_options"));
    assert_int_equal(access(blob, F_OK), -1); /* nothing written */
    FAIL_FRESH(e, oci_layer_build(&src, &lo, -1, &res, &e), OCI_EINVAL, want,
               "", 0);
    FAIL_FRESH(e, oci_layer_options_from_env(&lo, &e), OCI_EINVAL, want, "", 0);
    lo.version = OCI_LAYER_OPTIONS_VERSION;

    po.version = bad[i];
    oci_image_descriptor *d = (oci_image_descriptor *)1;
    FAIL_FRESH(
        e, oci_layout_put_document(l, &oci_type_image_manifest, m, &po, &d, &e),
        OCI_EINVAL, want, "", 0);
    assert_null(d);
    assert_non_null(strstr(e.message, "oci_layout_put_options"));
    po.version = OCI_LAYOUT_PUT_OPTIONS_VERSION;
  }
  OK_CLEAN(e, oci_layer_build_file(&src, &lo, blob, &res, &e));
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char want[64];
    /* versions the unpacker knows are replaced by the next unknown one */
    uo.version = bad[i] && bad[i] <= OCI_UNPACK_OPTIONS_VERSION
                     ? OCI_UNPACK_OPTIONS_VERSION + 1
                     : bad[i];
    snprintf(want, sizeof want, "unknown version %u", uo.version);
    FAIL_FRESH(e, oci_layer_apply(blob, root, &uo, NULL, &e), OCI_EINVAL, want,
               "", 0);
    assert_non_null(strstr(e.message, "oci_unpack_options"));
  }
  /* unpack keeps reading version 1 structs (no expected_size and later) */
  oci_unpack_options v1;
  memset(&v1, 0, sizeof v1); /* expected_size 0 would fail if it were read */
  v1.version = 1;
  v1.rootless = true;
  OK_CLEAN(e, oci_layer_apply(blob, root, &v1, NULL, &e));
  oci_image_manifest_free(m);
  oci_layout_close(l);
  OK_CLEAN(e, oci_remove_tree(dir, &e));
  free(lp);
  free(root);
  free(blob);
  free(dir);
}

/* The spec algorithms (conversion.md, unpacking an image into a bundle)
   follow the same contract. */
static void test_algorithms_contract(void **state) {
  (void)state;
  oci_error e;
  static const char cj[] =
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":"
      "[\"A=1\"],\"Cmd\":[\"sh\"]},\"rootfs\":{\"type\":\"layers\","
      "\"diff_ids\":[]}}";
  oci_image_configuration *cfg = NULL;
  OK_CLEAN(e, oci_image_configuration_parse(cj, sizeof cj - 1, NULL, &cfg, &e));
  oci_runtime_spec *spec = NULL;
  OK_CLEAN(e, oci_runtime_spec_from_image_config(cfg, NULL, &spec, &e));
  oci_runtime_spec_free(spec);
  oci_conversion_options co = OCI_CONVERSION_OPTIONS_INIT, co2;
  memset(&co2, 0x5a, sizeof co2);
  oci_conversion_options_init(&co2);
  assert_int_equal(co2.version, co.version);
  co.version = 0;
  spec = (oci_runtime_spec *)1;
  FAIL_FRESH(e, oci_runtime_spec_from_image_config(cfg, &co, &spec, &e),
             OCI_EINVAL, "oci_conversion_options: unknown version 0", "", 0);
  assert_null(spec);
  oci_image_configuration_free(cfg);

  char *dir = tmpdir(), *lp = join(dir, "l"), *bundle = join(dir, "b");
  oci_layout *l = NULL;
  OK_CLEAN(e, oci_layout_create(lp, &l, &e));
  oci_unpack_image_options uo = OCI_UNPACK_IMAGE_OPTIONS_INIT, uo2;
  memset(&uo2, 0x5a, sizeof uo2);
  oci_unpack_image_options_init(&uo2);
  assert_int_equal(uo2.version, uo.version);
  uo.version = OCI_UNPACK_IMAGE_OPTIONS_VERSION + 1;
  char want[64];
  snprintf(want, sizeof want, "unknown version %u", uo.version);
  FAIL_FRESH(e, oci_unpack_image(l, "latest", bundle, &uo, NULL, &e),
             OCI_EINVAL, want, "", 0);
  assert_int_equal(access(bundle, F_OK), -1); /* nothing made */
  uo.version = OCI_UNPACK_IMAGE_OPTIONS_VERSION;
  FAIL_FRESH(e, oci_unpack_image(l, "nosuchtag", bundle, &uo, NULL, &e),
             OCI_EINVAL, "nosuchtag", "", 0);
  oci_layout_close(l);
  OK_CLEAN(e, oci_remove_tree(dir, &e));
  free(bundle);
  free(lp);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_success_clean),
      cmocka_unit_test(test_layer_success_clean),
      cmocka_unit_test(test_layout_success_clean),
      cmocka_unit_test(test_image_failure_fresh),
      cmocka_unit_test(test_image_options),
      cmocka_unit_test(test_algorithms_contract),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
