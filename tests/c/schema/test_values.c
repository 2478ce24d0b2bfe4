/* Unit tests for csrc/schema/values.c: the constants, tables and predicates
   generated from values.def, against expectations written out here (the
   spec documents are the oracle of spec/values_spec.lua). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <stdlib.h>
#include <string.h>

#include "ocispec/platform.h"
#include "ocispec/strcheck.h"
#include "ocispec/types.h"
#include "ocispec/values.h"

typedef struct expect_mt {
  const char *value;
  oci_media_kind kind;
  oci_compression comp;
  oci_media_family family;
  bool distributable;
  const char *docker, *oci;
} expect_mt;

#define OCI_ "application/vnd.oci."
#define DOCKER_ "application/vnd.docker."
#define K(x) OCI_MEDIA_KIND_##x
#define C(x) OCI_COMPRESSION_##x
#define F(x) OCI_MEDIA_FAMILY_##x

/* image-spec media-types.md and Docker's Image Manifest V2, Schema 2. */
static const expect_mt expected[] = {
    {OCI_ "descriptor.v1+json", K(OTHER), C(NONE), F(OCI), true, NULL, NULL},
    {OCI_ "layout.header.v1+json", K(OTHER), C(NONE), F(OCI), true, NULL, NULL},
    {OCI_ "image.manifest.v1+json", K(MANIFEST), C(NONE), F(OCI), true,
     DOCKER_ "distribution.manifest.v2+json", NULL},
    {OCI_ "image.index.v1+json", K(INDEX), C(NONE), F(OCI), true,
     DOCKER_ "distribution.manifest.list.v2+json", NULL},
    {OCI_ "image.config.v1+json", K(CONFIG), C(NONE), F(OCI), true,
     DOCKER_ "container.image.v1+json", NULL},
    {OCI_ "image.layer.v1.tar", K(LAYER), C(NONE), F(OCI), true,
     DOCKER_ "image.rootfs.diff.tar", NULL},
    {OCI_ "image.layer.v1.tar+gzip", K(LAYER), C(GZIP), F(OCI), true,
     DOCKER_ "image.rootfs.diff.tar.gzip", NULL},
    {OCI_ "image.layer.v1.tar+zstd", K(LAYER), C(ZSTD), F(OCI), true,
     DOCKER_ "image.rootfs.diff.tar.zstd", NULL},
    {OCI_ "image.layer.nondistributable.v1.tar", K(LAYER), C(NONE), F(OCI),
     false, NULL, NULL},
    {OCI_ "image.layer.nondistributable.v1.tar+gzip", K(LAYER), C(GZIP), F(OCI),
     false, DOCKER_ "image.rootfs.foreign.diff.tar.gzip", NULL},
    {OCI_ "image.layer.nondistributable.v1.tar+zstd", K(LAYER), C(ZSTD), F(OCI),
     false, NULL, NULL},
    {OCI_ "empty.v1+json", K(OTHER), C(NONE), F(OCI), true, NULL, NULL},
    {OCI_ "artifact.manifest.v1+json", K(OTHER), C(NONE), F(OCI), true, NULL,
     NULL},
    {DOCKER_ "distribution.manifest.v2+json", K(MANIFEST), C(NONE), F(DOCKER),
     true, NULL, OCI_ "image.manifest.v1+json"},
    {DOCKER_ "distribution.manifest.list.v2+json", K(INDEX), C(NONE), F(DOCKER),
     true, NULL, OCI_ "image.index.v1+json"},
    {DOCKER_ "container.image.v1+json", K(CONFIG), C(NONE), F(DOCKER), true,
     NULL, OCI_ "image.config.v1+json"},
    {DOCKER_ "image.rootfs.diff.tar", K(LAYER), C(NONE), F(DOCKER), true, NULL,
     OCI_ "image.layer.v1.tar"},
    {DOCKER_ "image.rootfs.diff.tar.gzip", K(LAYER), C(GZIP), F(DOCKER), true,
     NULL, OCI_ "image.layer.v1.tar+gzip"},
    {DOCKER_ "image.rootfs.diff.tar.zstd", K(LAYER), C(ZSTD), F(DOCKER), true,
     NULL, OCI_ "image.layer.v1.tar+zstd"},
    {DOCKER_ "image.rootfs.foreign.diff.tar.gzip", K(LAYER), C(GZIP), F(DOCKER),
     false, NULL, OCI_ "image.layer.nondistributable.v1.tar+gzip"},
    {"application/octet-stream", K(OTHER), C(NONE), F(GENERIC), true, NULL,
     NULL},
    {"application/json", K(OTHER), C(NONE), F(GENERIC), true, NULL, NULL},
};
#define N_EXPECTED (sizeof expected / sizeof expected[0])

static void same(const char *a, const char *b, const char *what,
                 const char *mt) {
  if (!a && !b) return;
  if (!a || !b || strcmp(a, b) != 0)
    fail_msg("%s of %s: got %s, expected %s", what, mt, a ? a : "NULL",
             b ? b : "NULL");
}

static void test_media_type_table(void **state) {
  (void)state;
  assert_int_equal(OCI_MEDIA_TYPE_COUNT, N_EXPECTED);
  for (size_t i = 0; i < N_EXPECTED; i++) {
    const expect_mt *e = &expected[i];
    const oci_media_type_info *m = oci_media_type_info_of(e->value);
    if (!m) fail_msg("%s is not declared", e->value);
    assert_string_equal(m->value, e->value);
    assert_int_equal(m->kind, e->kind);
    assert_int_equal(m->compression, e->comp);
    assert_int_equal(m->family, e->family);
    assert_int_equal(m->distributable, e->distributable);
    same(m->docker, e->docker, "docker equivalent", e->value);
    same(m->oci, e->oci, "OCI equivalent", e->value);
    /* the predicates agree with the table */
    assert_int_equal(oci_media_type_kind(e->value), e->kind);
    assert_int_equal(oci_media_type_is_manifest(e->value),
                     e->kind == OCI_MEDIA_KIND_MANIFEST);
    assert_int_equal(oci_media_type_is_index(e->value),
                     e->kind == OCI_MEDIA_KIND_INDEX);
    assert_int_equal(oci_media_type_is_config(e->value),
                     e->kind == OCI_MEDIA_KIND_CONFIG);
    assert_int_equal(oci_media_type_is_layer(e->value),
                     e->kind == OCI_MEDIA_KIND_LAYER);
    assert_int_equal(oci_media_type_is_docker(e->value),
                     e->family == OCI_MEDIA_FAMILY_DOCKER);
    assert_int_equal(oci_media_type_is_distributable(e->value),
                     e->distributable);
    assert_int_equal(oci_media_type_compression(e->value), e->comp);
    same(oci_media_type_to_docker(e->value), e->docker, "to_docker", e->value);
    same(oci_media_type_to_oci(e->value), e->oci, "to_oci", e->value);
  }
}

static void test_media_type_constants(void **state) {
  (void)state;
  assert_string_equal(OCI_MEDIA_TYPE_IMAGE_MANIFEST,
                      OCI_ "image.manifest.v1+json");
  assert_string_equal(OCI_MEDIA_TYPE_LAYER_GZIP,
                      OCI_ "image.layer.v1.tar+gzip");
  assert_string_equal(OCI_MEDIA_TYPE_DOCKER_MANIFEST_LIST,
                      DOCKER_ "distribution.manifest.list.v2+json");
  assert_string_equal(OCI_MEDIA_TYPE_OCTET_STREAM, "application/octet-stream");
}

static void test_media_type_undeclared(void **state) {
  (void)state;
  static const char *const others[] = {
      NULL,
      "",
      OCI_ "image.manifest.v1+json ", /* exact comparison */
      "APPLICATION/VND.OCI.IMAGE.MANIFEST.V1+JSON",
      OCI_ "image.manifest.v1",
      "application/vnd.example.data.v1.tar+gzip",
      "text/plain"};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    const char *mt = others[i];
    assert_null(oci_media_type_info_of(mt));
    assert_int_equal(oci_media_type_kind(mt), OCI_MEDIA_KIND_OTHER);
    assert_false(oci_media_type_is_manifest(mt));
    assert_false(oci_media_type_is_index(mt));
    assert_false(oci_media_type_is_config(mt));
    assert_false(oci_media_type_is_layer(mt));
    assert_false(oci_media_type_is_docker(mt));
    assert_true(oci_media_type_is_distributable(mt));
    assert_int_equal(oci_media_type_compression(mt), OCI_COMPRESSION_UNKNOWN);
    assert_null(oci_media_type_to_docker(mt));
    assert_null(oci_media_type_to_oci(mt));
  }
  assert_null(oci_compression_name(OCI_COMPRESSION_UNKNOWN));
  assert_string_equal(oci_compression_name(OCI_COMPRESSION_ZSTD), "zstd");
  assert_string_equal(oci_media_kind_name(OCI_MEDIA_KIND_INDEX), "index");
  assert_string_equal(oci_media_kind_name((oci_media_kind)99), "other");
}

static void test_accept_manifests(void **state) {
  (void)state;
  assert_string_equal(oci_media_type_accept_manifests(),
                      OCI_ "image.manifest.v1+json, " OCI_
                           "image.index.v1+json, " DOCKER_
                           "distribution.manifest.v2+json, " DOCKER_
                           "distribution.manifest.list.v2+json");
}

static void test_enums(void **state) {
  (void)state;
  assert_int_equal(OCI_ENUM_SIZE_CAPABILITY, 41);
  assert_int_equal(oci_enums[OCI_ENUM_CAPABILITY].count, 41);
  assert_string_equal(oci_enums[OCI_ENUM_CAPABILITY].id, "CAPABILITY");
  assert_string_equal(oci_enums[OCI_ENUM_CAPABILITY].ns, "runtime");
  assert_string_equal(oci_enums[OCI_ENUM_CAPABILITY].name, "Capability");
  assert_true(oci_enum_has(OCI_ENUM_CAPABILITY, "CAP_SYS_ADMIN"));
  assert_false(oci_enum_has(OCI_ENUM_CAPABILITY, "cap_sys_admin"));
  assert_false(oci_enum_has(OCI_ENUM_CAPABILITY, "CAP_SYS_ADMIN "));
  assert_false(oci_enum_has(OCI_ENUM_CAPABILITY, ""));
  assert_false(oci_enum_has(OCI_ENUM_CAPABILITY, NULL));
  assert_false(oci_enum_has(OCI_ENUM_COUNT, "CAP_SYS_ADMIN"));
  assert_false(oci_enum_has((oci_enum_id)-1, "CAP_SYS_ADMIN"));
  /* length-delimited: a prefix or an embedded NUL is not a value */
  assert_true(oci_enum_has_n(OCI_ENUM_SECCOMP_ACTION, "SCMP_ACT_LOGxx", 12));
  assert_false(oci_enum_has_n(OCI_ENUM_SECCOMP_ACTION, "SCMP_ACT_LOG", 11));
  assert_false(oci_enum_has_n(OCI_ENUM_SECCOMP_ACTION, "SCMP_ACT_LOG\0", 13));
  assert_string_equal(OCI_ENUM_STR(CONTAINER_STATE, Created), "created");
  assert_string_equal(OCI_ENUM_STR(LINUX_DEVICE_TYPE, P), "p");
  /* every enum: its size constant, no value twice, no empty value */
  for (size_t i = 0; i < OCI_ENUM_COUNT; i++) {
    const oci_enum *e = &oci_enums[i];
    assert_true(e->count > 0);
    for (size_t a = 0; a < e->count; a++) {
      assert_true(e->values[a].value[0] != '\0');
      assert_true(oci_enum_has((oci_enum_id)i, e->values[a].value));
      for (size_t b = a + 1; b < e->count; b++)
        if (!strcmp(e->values[a].value, e->values[b].value) ||
            !strcmp(e->values[a].name, e->values[b].name))
          fail_msg("%s lists %s twice", e->id, e->values[a].value);
    }
  }
  assert_int_equal(OCI_ENUM_COUNT, 29); /* 28 + the build cache values */
  /* the host platform is spelt as declared */
  assert_true(oci_enum_has(OCI_ENUM_GO_ARCH, oci_host_arch()) ||
              strcmp(oci_host_arch(), "unknown") == 0);
  assert_true(oci_enum_has(OCI_ENUM_GO_OS, oci_host_os()) ||
              strcmp(oci_host_os(), "unknown") == 0);
  /* the public error-code array is the enum */
  assert_int_equal(OCI_ERROR_CODE_COUNT, 14);
  for (size_t k = 0; k < OCI_ERROR_CODE_COUNT; k++)
    assert_string_equal(oci_error_codes[k],
                        oci_enums[OCI_ENUM_ERROR_CODE].values[k].value);
  assert_false(oci_error_code_is_known("TAG_INVALID", 11));
  assert_true(oci_enum_has(OCI_ENUM_LEGACY_ERROR_CODE, "TAG_INVALID"));
}

static void test_doc_kinds(void **state) {
  (void)state;
  assert_int_equal(OCI_DOC_KIND_COUNT, 13);
  const oci_doc_kind *k = oci_doc_kind_find("image-manifest");
  assert_non_null(k);
  assert_ptr_equal(k->type, &oci_type_image_manifest);
  assert_ptr_equal(oci_doc_kind_find("distribution-catalog")->type,
                   &oci_type_dist_repository_list);
  assert_null(oci_doc_kind_find("manifest"));
  assert_null(oci_doc_kind_find(""));
  assert_null(oci_doc_kind_find(NULL));
  for (size_t i = 0; i < OCI_DOC_KIND_COUNT; i++) {
    assert_non_null(oci_doc_kinds[i].type);
    assert_ptr_equal(oci_doc_kind_find(oci_doc_kinds[i].name),
                     &oci_doc_kinds[i]);
  }
}

static void test_hosts(void **state) {
  (void)state;
  assert_string_equal(OCI_HOST_DOCKER_HUB, "docker.io");
  assert_string_equal(OCI_HOST_DOCKER_HUB_INDEX, "index.docker.io");
  assert_string_equal(OCI_HOST_DOCKER_HUB_API, "registry-1.docker.io");
  assert_true(oci_host_is_docker_hub("docker.io"));
  assert_true(oci_host_is_docker_hub("index.docker.io"));
  assert_true(oci_host_is_docker_hub("registry-1.docker.io"));
  assert_false(oci_host_is_docker_hub("docker.io.evil.example"));
  assert_false(oci_host_is_docker_hub("evil-docker.io"));
  assert_false(oci_host_is_docker_hub("DOCKER.IO"));
  assert_false(oci_host_is_docker_hub(""));
  assert_false(oci_host_is_docker_hub(NULL));
}

static void test_descriptor_make(void **state) {
  (void)state;
  static const char dg[] =
      "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
  oci_image_descriptor *d = NULL;
  oci_error err;
  assert_int_equal(oci_image_descriptor_make(NULL, dg, 2, &d, &err), OCI_OK);
  char *json = NULL;
  size_t len = 0;
  assert_int_equal(
      oci_to_json(&oci_type_image_descriptor, d, NULL, &json, &len, &err),
      OCI_OK);
  assert_string_equal(json,
                      "{\"mediaType\":\"application/octet-stream\","
                      "\"digest\":\"sha256:44136fa355b3678a1146ad16f7e86"
                      "49e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2}");
  free(json);
  oci_image_descriptor_free(d);

  assert_int_equal(
      oci_image_descriptor_make(OCI_MEDIA_TYPE_EMPTY_JSON, dg, 2, &d, &err),
      OCI_OK);
  assert_string_equal(d->media_type, OCI_MEDIA_TYPE_EMPTY_JSON);
  oci_image_descriptor_free(d);

  /* err may be NULL */
  assert_int_equal(oci_image_descriptor_make(NULL, dg, 0, &d, NULL), OCI_OK);
  assert_string_equal(d->media_type, OCI_MEDIA_TYPE_OCTET_STREAM);
  oci_image_descriptor_free(d);

  /* invalid UTF-8: refused, named, nothing returned */
  d = (oci_image_descriptor *)&err; /* must become NULL */
  assert_int_equal(oci_image_descriptor_make("text/\xff", dg, 2, &d, &err),
                   OCI_EUTF8);
  assert_null(d);
  assert_non_null(
      strstr(err.message, "mediaType \"text/\\xff\": not valid UTF-8"));
  assert_int_equal(oci_image_descriptor_make(NULL, "sha256:\xc3", 2, &d, &err),
                   OCI_EUTF8);
  assert_true(strstr(err.message, "digest ") &&
              strstr(err.message, "not valid UTF-8"));
  /* misuse */
  assert_int_equal(oci_image_descriptor_make(NULL, NULL, 2, &d, &err),
                   OCI_EINVAL);
  assert_non_null(strstr(err.message, "digest is NULL"));
  assert_int_equal(oci_image_descriptor_make(NULL, dg, 2, NULL, &err),
                   OCI_EINVAL);
  assert_non_null(strstr(err.message, "out is NULL"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_media_type_table),
      cmocka_unit_test(test_media_type_constants),
      cmocka_unit_test(test_media_type_undeclared),
      cmocka_unit_test(test_accept_manifests),
      cmocka_unit_test(test_enums),
      cmocka_unit_test(test_doc_kinds),
      cmocka_unit_test(test_hosts),
      cmocka_unit_test(test_descriptor_make),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
