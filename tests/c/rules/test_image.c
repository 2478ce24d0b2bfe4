/* Unit tests for the declared image-spec and distribution-spec types:
   real documents round-trip, documents built in C serialize byte for byte
   as oci-spec-rs writes them, and every rule of csrc/rules/rules_image.c,
   csrc/rules/rules_dist.c and the validation engine reports its id, severity
   and JSON Pointer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include "../skip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocispec/digest.h"
#include "ocispec/types.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA256 "sha256:" HEX64
/* sha256 of "{}" (manifest.md:161, the empty descriptor) */
#define SHA256_EMPTY_JSON                                                      \
  "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_EMPTY "application/vnd.oci.empty.v1+json"

/* A descriptor with the given media type, digest and size. */
#define DESC(mt, dg, size)                                                     \
  "{\"mediaType\":\"" mt "\",\"digest\":\"" dg "\",\"size\":" #size
#define GOOD_DESC DESC(MT_LAYER, SHA256, 1) "}"
/* A manifest whose layers are `layers` (a JSON array body) plus `more`. */
#define MANIFEST(more, layers)                                                 \
  "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST                          \
  "\",\"config\":" DESC(MT_CONFIG, SHA256, 2) "},\"layers\":[" layers "]" more \
                                              "}"
#define INDEX(more, manifests)                                                 \
  "{\"schemaVersion\":2,\"manifests\":[" manifests "]" more "}"
#define CONFIG(more)                                                           \
  "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"         \
  "\"layers\",\"diff_ids\":[\"" SHA256 "\"]}" more "}"

/* ---- paths -------------------------------------------------------------- */

static const char *source_dir(void) {
  const char *s = getenv("OCISPEC_SOURCE_DIR");
  if (s && *s) return s;
#ifdef OCISPEC_SOURCE_DIR
  return OCISPEC_SOURCE_DIR;
#else
  return NULL;
#endif
}

static bool is_dir(const char *p) {
  struct stat st;
  return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* $OCISPEC_CONFORMANCE, else <source>/../shared/conformance; NULL if
   absent. */
static const char *conformance_dir(char *buf, size_t n) {
  const char *c = getenv("OCISPEC_CONFORMANCE");
  if (c && *c) return is_dir(c) ? c : NULL;
  if (!source_dir()) return NULL;
  snprintf(buf, n, "%s/../shared/conformance", source_dir());
  return is_dir(buf) ? buf : NULL;
}

static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0, got;
  char *buf = malloc(cap);
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (buf) buf[n < cap ? n : cap - 1] = '\0';
  *len = n;
  return buf;
}

/* The independent oracle: Python's json module decodes the file `orig` and
   `text` (our output) and compares them as JSON values
   (tests/conformance/json_same.py). */
static void assert_json_same(const char *orig, const char *text, size_t n) {
  char tmp[] = "/tmp/ocispec-test-image-XXXXXX", cmd[8192], out[2048];
  int fd = mkstemp(tmp);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
  snprintf(cmd, sizeof cmd,
           "python3 '%s/tests/conformance/json_same.py' '%s' '%s' 2>&1",
           source_dir(), orig, tmp);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t got = fread(out, 1, sizeof out - 1, p);
  out[got] = '\0';
  int status = pclose(p);
  unlink(tmp);
  if (status != 0) fail_msg("%s: python json disagrees: %s", orig, out);
}

/* ---- round trips ----------------------------------------------------------
 */

/* parse -> to_json -> parse -> equal, and the second to_json gives the same
   bytes, pretty and compact; Python's json reads the same value in the file
   and in our output. */
static void roundtrip_file(const oci_type *t, const char *path) {
  void *a = NULL, *b = NULL;
  oci_error err;
  char *out1, *out2;
  size_t n1, n2;
  if (oci_parse_file(t, path, NULL, &a, &err) != OCI_OK)
    fail_msg("%s as %s: %s at %s %zu:%zu", path, t->c_name, err.message,
             err.pointer, err.line, err.column);
  for (int pretty = 0; pretty < 2; pretty++) {
    oci_write_options w = {OCI_WRITE_OPTIONS_VERSION, pretty};
    assert_int_equal(oci_to_json(t, a, &w, &out1, &n1, &err), OCI_OK);
    assert_json_same(path, out1, n1);
    if (oci_parse(t, out1, n1, NULL, &b, &err) != OCI_OK)
      fail_msg("%s: re-parse failed: %s", path, err.message);
    if (!oci_equal(t, a, b)) fail_msg("%s: round trip changed it", path);
    assert_int_equal(oci_to_json(t, b, &w, &out2, &n2, &err), OCI_OK);
    assert_int_equal(n1, n2);
    assert_string_equal(out1, out2);
    free(out1);
    free(out2);
    oci_free(b);
  }
  oci_free(a);
}

static void test_roundtrip_bench_inputs(void **state) {
  (void)state;
  static const struct {
    const char *file, *type;
  } files[] = {
      {"image-manifest.json", "image_manifest"},
      {"image-index.json", "image_index"},
      {"image-config.json", "image_configuration"},
      {"runtime-config.json", "runtime_spec"},
  };
  char dir[1024], path[1200];
  if (!source_dir()) SKIP_BECAUSE("OCISPEC_SOURCE_DIR is not set");
  snprintf(dir, sizeof dir, "%s/../shared/bench-inputs", source_dir());
  if (!is_dir(dir)) SKIP_BECAUSE("../shared/bench-inputs not found");
  size_t done = 0;
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    const oci_type *t = oci_type_by_c_name(files[i].type);
    if (!t) {
      print_message("no type %s yet: %s not checked\n", files[i].type,
                    files[i].file);
      continue;
    }
    snprintf(path, sizeof path, "%s/%s", dir, files[i].file);
    roundtrip_file(t, path);
    /* and they are valid */
    void *obj;
    oci_problems p;
    oci_error err;
    assert_int_equal(oci_parse_file(t, path, NULL, &obj, &err), OCI_OK);
    assert_int_equal(oci_validate(t, obj, &p), OCI_OK);
    assert_int_equal(p.errors, 0);
    oci_problems_free(&p);
    oci_free(obj);
    done++;
  }
  assert_true(done >= 3);
}

static const oci_type *type_of_kind(const char *kind) {
  static const struct {
    const char *kind;
    const oci_type *t;
  } kinds[] = {
      {"config", &oci_type_image_configuration},
      {"descriptor", &oci_type_image_descriptor},
      {"index", &oci_type_image_index},
      {"layout", &oci_type_image_oci_layout},
      {"manifest", &oci_type_image_manifest},
  };
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (!strcmp(kinds[i].kind, kind)) return kinds[i].t;
  return NULL;
}

static void test_roundtrip_image_examples(void **state) {
  (void)state;
  char cbuf[1024], path[1400], file[256], kind[64];
  const char *conf = conformance_dir(cbuf, sizeof cbuf);
  if (!conf)
    SKIP_BECAUSE("conformance folder not found (set OCISPEC_CONFORMANCE)");
  snprintf(path, sizeof path, "%s/image/examples/INDEX.tsv", conf);
  size_t len, done = 0;
  char *tsv = read_all(path, &len);
  assert_non_null(tsv);
  for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n")) {
    if (sscanf(line, "%255[^\t]\t%63[^\t]", file, kind) != 2) continue;
    if (!strcmp(file, "file")) continue; /* header */
    const oci_type *t = type_of_kind(kind);
    if (!t) fail_msg("INDEX.tsv: unknown kind %s", kind);
    snprintf(path, sizeof path, "%s/image/examples/%s", conf, file);
    roundtrip_file(t, path);
    done++;
  }
  free(tsv);
  assert_int_equal(done, 13);
}

/* ---- a manifest built in C ----------------------------------------------- */

/* oci-spec-rs src/image/manifest.rs create_manifest() and its fixture
   test/data/manifest.json, in the field order of the current crate (and of
   the spec): to_file_pretty output, byte for byte. */
static const char expected_manifest[] =
    "{\n"
    "  \"schemaVersion\": 2,\n"
    "  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
    "  \"config\": {\n"
    "    \"mediaType\": \"application/vnd.oci.image.config.v1+json\",\n"
    "    \"digest\": "
    "\"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
    "\",\n"
    "    \"size\": 7023\n"
    "  },\n"
    "  \"layers\": [\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n"
    "      \"digest\": "
    "\"sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0"
    "\",\n"
    "      \"size\": 32654\n"
    "    },\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n"
    "      \"digest\": "
    "\"sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b"
    "\",\n"
    "      \"size\": 16724\n"
    "    },\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n"
    "      \"digest\": "
    "\"sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736"
    "\",\n"
    "      \"size\": 73109\n"
    "    }\n"
    "  ],\n"
    "  \"annotations\": {\n"
    "    \"com.example.key1\": \"value1\",\n"
    "    \"com.example.key2\": \"value2\"\n"
    "  }\n"
    "}";

static const oci_field *mf(unsigned i) {
  return &oci_type_image_manifest.fields[i];
}
static const oci_field *df(unsigned i) {
  return &oci_type_image_descriptor.fields[i];
}

static oci_image_descriptor *new_desc(oci_arena *a, const char *mt,
                                      const char *digest, int64_t size) {
  oci_image_descriptor *d = oci_new_in(&oci_type_image_descriptor, a);
  assert_non_null(d);
  assert_int_equal(oci_set_string(d, df(OCI_F_image_descriptor_media_type), mt),
                   OCI_OK);
  assert_int_equal(oci_set_string(d, df(OCI_F_image_descriptor_digest), digest),
                   OCI_OK);
  d->size = size;
  oci_mark(d, OCI_F_image_descriptor_size);
  return d;
}

static void test_build_manifest(void **state) {
  (void)state;
  static const struct {
    const char *digest;
    int64_t size;
  } layers[] = {
      {"sha256:"
       "9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0",
       32654},
      {"sha256:"
       "3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b",
       16724},
      {"sha256:"
       "ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736",
       73109},
  };
  oci_image_manifest *m = NULL, *parsed = NULL;
  oci_error err;
  assert_int_equal(oci_image_manifest_new(&m, &err), OCI_OK);
  oci_arena *a = m->hdr.arena;
  m->schema_version = 2;
  oci_mark(m, OCI_F_image_manifest_schema_version);
  assert_int_equal(
      oci_set_string(m, mf(OCI_F_image_manifest_media_type), MT_MANIFEST),
      OCI_OK);
  m->config = new_desc(a, MT_CONFIG,
                       "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d"
                       "9bce1f432a537bc7",
                       7023);
  oci_mark(m, OCI_F_image_manifest_config);
  m->layers.items = oci_arena_alloc(a, 3 * sizeof *m->layers.items);
  for (size_t i = 0; i < 3; i++)
    m->layers.items[i] =
        new_desc(a, MT_LAYER, layers[i].digest, layers[i].size);
  m->layers.len = 3;
  oci_mark(m, OCI_F_image_manifest_layers);
  m->annotations.keys = oci_arena_alloc(a, 2 * sizeof(char *));
  m->annotations.values = oci_arena_alloc(a, 2 * sizeof(char *));
  m->annotations.keys[0] = oci_arena_strdup(a, "com.example.key1");
  m->annotations.values[0] = oci_arena_strdup(a, "value1");
  m->annotations.keys[1] = oci_arena_strdup(a, "com.example.key2");
  m->annotations.values[1] = oci_arena_strdup(a, "value2");
  m->annotations.len = 2;
  oci_mark(m, OCI_F_image_manifest_annotations);

  char *out;
  size_t len;
  assert_int_equal(oci_image_manifest_to_json(m, true, &out, &len, &err),
                   OCI_OK);
  if (strcmp(out, expected_manifest) != 0)
    fail_msg("built manifest:\n%s\nexpected:\n%s", out, expected_manifest);
  assert_int_equal(len, sizeof expected_manifest - 1);
  free(out);

  /* the fixture parses to an equal object, which is valid */
  assert_int_equal(oci_image_manifest_parse(expected_manifest,
                                            sizeof expected_manifest - 1, NULL,
                                            &parsed, &err),
                   OCI_OK);
  assert_true(oci_equal(&oci_type_image_manifest, m, parsed));
  oci_problems p;
  assert_int_equal(oci_image_manifest_validate(m, &p), OCI_OK);
  assert_int_equal(p.len, 0);
  oci_problems_free(&p);

  /* a clone compares equal; changing a layer size does not */
  oci_image_manifest *c = NULL;
  assert_int_equal(oci_clone(&oci_type_image_manifest, m, (void **)&c, &err),
                   OCI_OK);
  assert_true(oci_equal(&oci_type_image_manifest, c, parsed));
  c->layers.items[2]->size++;
  assert_false(oci_equal(&oci_type_image_manifest, c, parsed));
  oci_free(c);
  oci_free(parsed);
  oci_free(m);
}

/* ---- validation ------------------------------------------------------------
 */

static void dump_problems(const char *what, const oci_problems *p) {
  for (size_t i = 0; i < p->len; i++)
    print_message("  %s: %s %s %s: %s\n", what,
                  p->items[i].severity == OCI_SEV_ERROR ? "error" : "warning",
                  p->items[i].rule, p->items[i].pointer, p->items[i].message);
}

/* A document that breaks exactly one rule. */
typedef struct rule_case {
  const oci_type *t;
  const char *json;
  oci_severity sev;
  const char *rule;
  const char *pointer;
  const char *msg; /* a distinctive part of the message */
} rule_case;

static void expect_one_problem(const rule_case *c) {
  void *obj = NULL;
  oci_error err;
  oci_problems p;
  if (oci_parse(c->t, c->json, strlen(c->json), NULL, &obj, &err) != OCI_OK)
    fail_msg("%s: parse failed: %s at %s", c->json, err.message, err.pointer);
  int rc = oci_validate(c->t, obj, &p);
  if (p.len != 1 || p.items[0].severity != c->sev ||
      strcmp(p.items[0].rule, c->rule) != 0 ||
      strcmp(p.items[0].pointer, c->pointer) != 0 ||
      !strstr(p.items[0].message, c->msg)) {
    dump_problems("got", &p);
    fail_msg("%s: expected exactly %s %s at \"%s\" (\"%s\")", c->json,
             c->sev == OCI_SEV_ERROR ? "error" : "warning", c->rule, c->pointer,
             c->msg);
  }
  assert_int_equal(rc, c->sev == OCI_SEV_ERROR ? OCI_EVALIDATE : OCI_OK);
  assert_int_equal(p.errors, c->sev == OCI_SEV_ERROR ? 1 : 0);
  assert_int_equal(p.warnings, c->sev == OCI_SEV_WARNING ? 1 : 0);
  oci_problems_free(&p);
  assert_null(p.items);
  oci_free(obj);
}

#define E OCI_SEV_ERROR
#define W OCI_SEV_WARNING
#define T_DESC &oci_type_image_descriptor
#define T_MAN &oci_type_image_manifest
#define T_IDX &oci_type_image_index
#define T_CFG &oci_type_image_configuration
#define T_LAY &oci_type_image_oci_layout
#define T_ERR &oci_type_dist_error_response
#define T_TAGS &oci_type_dist_tag_list
#define T_REPOS &oci_type_dist_repository_list

static const rule_case rule_cases[] = {
    /* engine: null where the schema allows none */
    {T_DESC, DESC(MT_LAYER, SHA256, 1) ",\"urls\":null}", E, "null", "/urls",
     "\"urls\" must not be null"},
    {T_MAN, MANIFEST(",\"subject\":null", GOOD_DESC), E, "null", "/subject",
     "\"subject\" must not be null"},
    {T_IDX, INDEX(",\"annotations\":null", ""), E, "null", "/annotations",
     "\"annotations\" must not be null"},
    /* I-DESC-2 media types, at several places */
    {T_DESC, DESC("application", SHA256, 1) "}", E, "I-DESC-2", "/mediaType",
     "media type \"application\""},
    {T_DESC, DESC("text/plain; charset=utf-8", SHA256, 1) "}", E, "I-DESC-2",
     "/mediaType", "media type \"text/plain; charset=utf-8\""},
    {T_MAN, MANIFEST("", GOOD_DESC "," DESC("a/b/c", SHA256, 1) "}"), E,
     "I-DESC-2", "/layers/1/mediaType", "media type \"a/b/c\""},
    {T_IDX, INDEX("", DESC("/x", SHA256, 1) "}"), E, "I-DESC-2",
     "/manifests/0/mediaType", "media type \"/x\""},
    /* I-DESC-5 negative sizes (also where the index schema forgets) */
    {T_DESC, DESC(MT_LAYER, SHA256, -1) "}", E, "I-DESC-5", "/size",
     "size -1 is negative"},
    {T_MAN,
     "{\"schemaVersion\":2,\"config\":" DESC(
         MT_CONFIG, SHA256, -9223372036854775808) "},"
                                                  "\"layers\":"
                                                  "[" GOOD_DESC "]}",
     E, "I-DESC-5", "/config/size", "size -9223372036854775808 is negative"},
    {T_IDX, INDEX("", DESC(MT_MANIFEST, SHA256, -5) "}"), E, "I-DESC-5",
     "/manifests/0/size", "size -5 is negative"},
    /* I-DESC-7 urls */
    {T_DESC,
     DESC(MT_LAYER, SHA256, 1) ",\"urls\":[\"https://a.example/x\","
                               "\"not a uri\"]}",
     E, "I-DESC-7", "/urls/1", "URI \"not a uri\""},
    {T_DESC, DESC(MT_LAYER, SHA256, 1) ",\"urls\":[\"/relative/path\"]}", E,
     "I-DESC-7", "/urls/0", "URI \"/relative/path\""},
    /* I-DESC-9 base64 data; I-DESC-10 data against size and digest */
    {T_DESC, DESC(MT_EMPTY, SHA256_EMPTY_JSON, 2) ",\"data\":\"e30\"}", E,
     "I-DESC-9", "/data", "base64 \"e30\""},
    {T_DESC, DESC(MT_EMPTY, SHA256_EMPTY_JSON, 2) ",\"data\":\"e3 0=\"}", E,
     "I-DESC-9", "/data", "base64"},
    {T_DESC, DESC(MT_EMPTY, SHA256_EMPTY_JSON, 3) ",\"data\":\"e30=\"}", E,
     "I-DESC-10", "/data", "data decodes to 2 bytes but size is 3"},
    {T_DESC, DESC(MT_EMPTY, SHA256, 2) ",\"data\":\"e30=\"}", E, "I-DESC-10",
     "/data",
     "data does not match digest: its sha256 is "
     "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
    {T_MAN,
     MANIFEST("", DESC(MT_EMPTY, SHA256_EMPTY_JSON, 1) ",\"data\":\"e30=\"}"),
     E, "I-DESC-10", "/layers/0/data", "but size is 1"},
    /* I-DESC-11 artifactType */
    {T_DESC, DESC(MT_LAYER, SHA256, 1) ",\"artifactType\":\"sbom\"}", E,
     "I-DESC-11", "/artifactType", "media type \"sbom\""},
    {T_MAN, MANIFEST(",\"artifactType\":\"x/\"", GOOD_DESC), E, "I-MAN-4",
     "/artifactType", "media type \"x/\""},
    {T_IDX, INDEX(",\"artifactType\":\"\"", ""), E, "I-IDX-3", "/artifactType",
     "media type \"\""},
    /* I-DIG-1 grammar; I-DIG-2..4 registered algorithms */
    {T_DESC, DESC(MT_LAYER, "sha256+foo+-b:x", 1) "}", E, "I-DIG-1", "/digest",
     "empty algorithm component"},
    {T_DESC, DESC(MT_LAYER, "SHA256:" HEX64, 1) "}", E, "I-DIG-1", "/digest",
     "uppercase"},
    {T_DESC, DESC(MT_LAYER, ":abc", 1) "}", E, "I-DIG-1", "/digest",
     "algorithm before \":\" is empty"},
    {T_DESC, DESC(MT_LAYER, "sha256", 1) "}", E, "I-DIG-1", "/digest",
     "missing \":\""},
    {T_DESC, DESC(MT_LAYER, "sha256:ABC", 1) "}", E, "I-DIG-2", "/digest",
     "64 lowercase hex characters for sha256, got 3"},
    {T_DESC, DESC(MT_LAYER, "sha256:" HEX64 "0", 1) "}", E, "I-DIG-2",
     "/digest", "for sha256, got 65"},
    {T_DESC, DESC(MT_LAYER, "sha512:" HEX64, 1) "}", E, "I-DIG-3", "/digest",
     "128 lowercase hex characters for sha512, got 64"},
    {T_DESC, DESC(MT_LAYER, "blake3:" HEX64 HEX64, 1) "}", E, "I-DIG-4",
     "/digest", "for blake3, got 128"},
    {T_DESC,
     DESC(MT_LAYER,
          "blake3:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789ab"
          "cdef",
          1) "}",
     E, "I-DIG-4", "/digest", "uppercase hex"},
    {T_MAN,
     MANIFEST(",\"subject\":" DESC(MT_MANIFEST, "sha256:abc", 1) "}",
              GOOD_DESC),
     E, "I-DIG-2", "/subject/digest", "for sha256, got 3"},
    /* I-MAN-1, I-MAN-2, I-MAN-3, I-MAN-8 */
    {T_MAN,
     "{\"schemaVersion\":1,\"config\":" DESC(MT_CONFIG, SHA256,
                                             2) "},\"layers\":[" GOOD_DESC "]}",
     E, "I-MAN-1", "/schemaVersion", "schemaVersion MUST be 2, got 1"},
    {T_MAN,
     "{\"schemaVersion\":2,\"mediaType\":\"application/"
     "vnd.docker.distribution.manifest.v2+json\",\"config\":" DESC(
         MT_CONFIG, SHA256, 2) "},\"layers\":[" GOOD_DESC "]}",
     E, "I-MAN-2", "/mediaType",
     "got \"application/vnd.docker.distribution.manifest.v2+json\""},
    {T_MAN,
     "{\"schemaVersion\":2,\"config\":" DESC(MT_EMPTY, SHA256_EMPTY_JSON,
                                             2) "},\"layers\":[" GOOD_DESC "]}",
     E, "I-MAN-3", "/artifactType",
     "artifactType MUST be set when config.mediaType is "
     "\"application/vnd.oci.empty.v1+json\""},
    {T_MAN, MANIFEST("", ""), W, "I-MAN-8", "/layers",
     "layers is empty; for portability it SHOULD have at least one entry"},
    /* I-IDX-1, I-IDX-2, I-IDX-7 */
    {T_IDX, "{\"schemaVersion\":3,\"manifests\":[]}", E, "I-IDX-1",
     "/schemaVersion", "schemaVersion MUST be 2, got 3"},
    {T_IDX,
     "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\",\"manifests\":[]}",
     E, "I-IDX-2", "/mediaType",
     "mediaType of an image index MUST be "
     "\"application/vnd.oci.image.index.v1+json\""},
    {T_IDX,
     INDEX("", DESC(MT_MANIFEST, SHA256, 1) ",\"platform\":{\"architecture\":"
                                            "\"arm\",\"os\":\"linux\","
                                            "\"features\":[\"sse4\"]}}"),
     W, "I-IDX-7", "/manifests/0/platform/features", "reserved"},
    /* I-CFG-2, 3, 4, 7, 9 */
    {T_CFG,
     "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
     "\"layer\",\"diff_ids\":[]}}",
     E, "I-CFG-2", "/rootfs/type",
     "rootfs.type MUST be \"layers\", got "
     "\"layer\""},
    {T_CFG,
     "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
     "\"layers\",\"diff_ids\":[\"" SHA256 "\",\"sha256:abc\"]}}",
     E, "I-CFG-3", "/rootfs/diff_ids/1", "diff_id: digest \"sha256:abc\""},
    {T_CFG, CONFIG(",\"created\":\"2015-10-31 22:22:56\""), E, "I-CFG-4",
     "/created", "date-time \"2015-10-31 22:22:56\""},
    {T_CFG, CONFIG(",\"history\":[{},{\"created\":\"2023-02-29T00:00:00Z\"}]"),
     E, "I-CFG-4", "/history/1/created", "date-time"},
    {T_CFG, CONFIG(",\"config\":{\"Env\":[\"A=1\",\"NOVALUE\"]}"), E, "I-CFG-7",
     "/config/Env/1", "environment entry \"NOVALUE\""},
    {T_CFG, CONFIG(",\"config\":{\"Env\":[\"=x\"]}"), E, "I-CFG-7",
     "/config/Env/0", "environment entry \"=x\""},
    {T_CFG,
     CONFIG(",\"config\":{\"ExposedPorts\":{\"80/tcp\":{},\"80/tcpx\":{}}}"), E,
     "I-CFG-9", "/config/ExposedPorts/80~1tcpx",
     "exposed port \"80/tcpx\" is not of the form"},
    {T_CFG, CONFIG(",\"config\":{\"ExposedPorts\":{\"65536\":{}}}"), E,
     "I-CFG-9", "/config/ExposedPorts/65536", "port 0-65535"},
    {T_CFG, CONFIG(",\"config\":{\"ExposedPorts\":{\"http\":{}}}"), E,
     "I-CFG-9", "/config/ExposedPorts/http", "exposed port \"http\""},
    {T_CFG, CONFIG(",\"config\":{\"ExposedPorts\":{\"9/sctp\":{}}}"), W,
     "I-CFG-9", "/config/ExposedPorts/9~1sctp", "lists only tcp and udp"},
    /* I-ANN-1, 4, 6 (warnings), in annotations and in Labels */
    {T_MAN, MANIFEST(",\"annotations\":{\"\":\"x\"}", GOOD_DESC), W, "I-ANN-1",
     "/annotations/", "empty annotation key"},
    {T_MAN,
     MANIFEST(",\"annotations\":{\"org.opencontainers.image.colour\":\"x\"}",
              GOOD_DESC),
     W, "I-ANN-4", "/annotations/org.opencontainers.image.colour",
     "\"org.opencontainers.image.colour\" is not a key defined by"},
    {T_DESC,
     DESC(MT_LAYER, SHA256, 1) ",\"annotations\":{\"org.opencontainers.image."
                               "ref.name\":\"bad ref!\"}}",
     W, "I-ANN-6", "/annotations/org.opencontainers.image.ref.name",
     "\"bad ref!\""},
    {T_CFG,
     CONFIG(",\"config\":{\"Labels\":{\"org.opencontainers.image.nope\":\"\"}"
            "}"),
     W, "I-ANN-4", "/config/Labels/org.opencontainers.image.nope",
     "is not a key defined by image-spec annotations.md"},
    /* I-LAY-2 */
    {T_LAY, "{\"imageLayoutVersion\":\"1.1.0\"}", E, "I-LAY-2",
     "/imageLayoutVersion",
     "imageLayoutVersion MUST be \"1.0.0\" (the only version defined), got "
     "\"1.1.0\""},
    /* D-ERR-2, D-ERR-3 */
    {T_ERR,
     "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\"},{\"code\":\"blob_unknown\""
     ",\"message\":\"m\"}]}",
     E, "D-ERR-2", "/errors/1/code", "error code \"blob_unknown\""},
    {T_ERR, "{\"errors\":[{\"code\":\"BLOB-UNKNOWN\"}]}", E, "D-ERR-2",
     "/errors/0/code", "error code \"BLOB-UNKNOWN\""},
    {T_ERR, "{\"errors\":[{\"code\":\"NOT_A_CODE\"}]}", E, "D-ERR-3",
     "/errors/0/code",
     "error code \"NOT_A_CODE\" is not one of the 14 codes of "
     "distribution-spec"},
    {T_ERR, "{\"errors\":[{\"code\":\"TAG_INVALID\",\"detail\":{\"t\":1}}]}", W,
     "D-ERR-3", "/errors/0/code",
     "\"TAG_INVALID\" is a legacy Docker schema1 error code"},
    {T_ERR, "{\"errors\":[{\"code\":\"MANIFEST_UNVERIFIED\"}]}", W, "D-ERR-3",
     "/errors/0/code", "legacy"},
    /* D-NAME-1, D-TAG-1, D-TAGS-2 */
    {T_TAGS, "{\"name\":\"Library/Ubuntu\",\"tags\":[]}", E, "D-NAME-1",
     "/name", "\"Library/Ubuntu\""},
    {T_TAGS, "{\"name\":\"a//b\",\"tags\":[]}", E, "D-NAME-1", "/name",
     "\"a//b\""},
    {T_REPOS, "{\"repositories\":[\"a/b\",\"-c\"]}", E, "D-NAME-1",
     "/repositories/1", "\"-c\""},
    {T_TAGS, "{\"name\":\"a/b\",\"tags\":[\".hidden\",\"v1\"]}", E, "D-TAG-1",
     "/tags/0", "tag \".hidden\": must start with a letter"},
    {T_TAGS, "{\"name\":\"a/b\",\"tags\":[\"v1\",\"v2!\"]}", E, "D-TAG-1",
     "/tags/1", "tag \"v2!\""},
    {T_TAGS,
     "{\"name\":\"a\",\"tags\":[\"x012345678901234567890123456789012345678901"
     "2345678901234567890123456789012345678901234567890123456789012345678901"
     "2345678901234567\"]}",
     E, "D-TAG-1", "/tags/0", "tag"},
    {T_TAGS, "{\"name\":\"a\",\"tags\":[\"b\",\"a\"]}", E, "D-TAGS-2", "/tags",
     "tags are neither in lexical (case-insensitive) nor in ASCIIbetical "
     "order"},
    {T_TAGS, "{\"name\":\"a\",\"tags\":[\"a\",\"B\",\"A\"]}", E, "D-TAGS-2",
     "/tags", "neither"},
};

static void test_rules(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof rule_cases / sizeof rule_cases[0]; i++)
    expect_one_problem(&rule_cases[i]);
}

/* Every rule id the implementation reports has a case above. */
static void test_rules_covered(void **state) {
  (void)state;
  static const char *const ids[] = {
      "null",      "I-DESC-2", "I-DESC-5", "I-DESC-7", "I-DESC-9", "I-DESC-10",
      "I-DESC-11", "I-DIG-1",  "I-DIG-2",  "I-DIG-3",  "I-DIG-4",  "I-MAN-1",
      "I-MAN-2",   "I-MAN-3",  "I-MAN-8",  "I-IDX-1",  "I-IDX-2",  "I-IDX-7",
      "I-CFG-2",   "I-CFG-3",  "I-CFG-4",  "I-CFG-7",  "I-CFG-9",  "I-ANN-1",
      "I-ANN-4",   "I-ANN-6",  "I-LAY-2",  "D-ERR-2",  "D-ERR-3",  "D-NAME-1",
      "D-TAG-1",   "D-TAGS-2",
  };
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    size_t n = 0;
    for (size_t k = 0; k < sizeof rule_cases / sizeof rule_cases[0]; k++)
      n += !strcmp(rule_cases[k].rule, ids[i]);
    if (!n) fail_msg("no case for rule %s", ids[i]);
  }
}

/* The "required" rule: only objects built in C can miss a field. */
static void test_required_built(void **state) {
  (void)state;
  oci_image_manifest *m = NULL;
  oci_error err;
  oci_problems p;
  assert_int_equal(oci_image_manifest_new(&m, &err), OCI_OK);
  m->schema_version = 2;
  oci_mark(m, OCI_F_image_manifest_schema_version);
  assert_int_equal(oci_validate(&oci_type_image_manifest, m, &p),
                   OCI_EVALIDATE);
  if (p.len != 2) dump_problems("got", &p);
  assert_int_equal(p.len, 2);
  assert_int_equal(p.errors, 2);
  assert_string_equal(p.items[0].rule, "required");
  assert_string_equal(p.items[0].pointer, "/config");
  assert_string_equal(p.items[0].message,
                      "ImageManifest is missing its required field \"config\"");
  assert_string_equal(p.items[1].rule, "required");
  assert_string_equal(p.items[1].pointer, "/layers");
  oci_problems_free(&p);

  /* a child without its digest, and a required field marked null */
  m->config = oci_new_in(&oci_type_image_descriptor, m->hdr.arena);
  oci_set_string(m->config, df(OCI_F_image_descriptor_media_type), MT_CONFIG);
  m->config->size = 2;
  oci_mark(m->config, OCI_F_image_descriptor_size);
  oci_mark(m, OCI_F_image_manifest_config);
  m->hdr.present |= (uint32_t)1 << OCI_F_image_manifest_layers;
  m->hdr.nulls |= (uint32_t)1 << OCI_F_image_manifest_layers;
  assert_int_equal(oci_validate(&oci_type_image_manifest, m, &p),
                   OCI_EVALIDATE);
  if (p.len != 2) dump_problems("got", &p);
  assert_int_equal(p.len, 2);
  assert_string_equal(p.items[0].rule, "required");
  assert_string_equal(p.items[0].pointer, "/config/digest");
  assert_string_equal(p.items[0].message,
                      "Descriptor is missing its required field \"digest\"");
  assert_string_equal(p.items[1].rule, "required");
  assert_string_equal(p.items[1].pointer, "/layers");
  assert_string_equal(p.items[1].message,
                      "required field \"layers\" must not be null");
  oci_problems_free(&p);
  /* and it cannot be written back as a valid document */
  oci_free(m);
}

/* Documents that MUST pass (the B rules and friends). */
static void test_must_pass(void **state) {
  (void)state;
  static const struct {
    const oci_type *t;
    const char *json;
    size_t warnings;
  } ok[] = {
      /* manifest.md:161 the empty descriptor, data checked against size
         and digest */
      {T_DESC, DESC(MT_EMPTY, SHA256_EMPTY_JSON, 2) ",\"data\":\"e30=\"}", 0},
      {T_DESC,
       DESC(MT_LAYER,
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7"
            "852b855",
            0) ",\"data\":\"\"}",
       0},
      /* unknown media types and unregistered algorithms (I-DIG-5,
         I-MAN-12, I-IDX-8) */
      {T_DESC,
       DESC("application/vnd.example.unknown+foo", "sha256+foo:abc", 1) "}", 0},
      {T_DESC,
       DESC(MT_LAYER, "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3Td", 1) "}",
       0},
      {T_DESC, DESC(MT_LAYER, "sha384:x", 1) "}", 0},
      {T_DESC,
       DESC(MT_LAYER, "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
            1) "}",
       0},
      /* data with an unregistered algorithm: only its size is checked */
      {T_DESC, DESC(MT_EMPTY, "foo:bar", 2) ",\"data\":\"e30=\"}", 0},
      {T_DESC,
       DESC(MT_LAYER,
            "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36"
            "ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927"
            "da3e",
            0) ",\"data\":\"\"}",
       0},
      {T_DESC, DESC(MT_LAYER, "blake3:" HEX64, 1) "}", 0},
      {T_IDX,
       INDEX("", DESC("application/customized.manifest+json", SHA256, 1) "}"),
       0},
      /* extra fields everywhere (I-DESC-12) */
      {T_MAN,
       "{\"x\":[1],\"schemaVersion\":2,\"config\":" DESC(
           MT_CONFIG, SHA256,
           2) ",\"y\":{}},\"layers\":[" DESC(MT_LAYER, SHA256,
                                             1) ",\"z\":null}],\"zz\":\"\"}",
       0},
      /* artifacts */
      {T_MAN,
       "{\"schemaVersion\":2,\"artifactType\":\"application/vnd.example+type\","
       "\"config\":" DESC(MT_EMPTY, SHA256_EMPTY_JSON,
                          2) "},\"layers\":[" GOOD_DESC "]}",
       0},
      /* an empty layers array is only a warning (I-MAN-8) */
      {T_MAN, MANIFEST("", ""), 1},
      {T_IDX, INDEX("", ""), 0}, /* I-IDX-4: the array MAY be empty */
      {T_IDX,
       INDEX(",\"subject\":" GOOD_DESC ",\"mediaType\":\"" MT_INDEX "\"",
             DESC(MT_MANIFEST, SHA256, 1) ",\"platform\":{\"architecture\":"
                                          "\"arm64\",\"os\":\"linux\","
                                          "\"variant\":\"v8\",\"os.version\":"
                                          "\"1\",\"os.features\":[\"a\"]}}"),
       0},
      /* config.md: optional fields may be null */
      {T_CFG,
       CONFIG(",\"created\":null,\"author\":null,\"config\":null,\"history\":"
              "null,\"variant\":null,\"os.features\":null"),
       0},
      {T_CFG,
       CONFIG(",\"config\":{\"Env\":null,\"Entrypoint\":null,\"Cmd\":null,"
              "\"Volumes\":null,\"Labels\":null,\"ExposedPorts\":{\"80\":{},"
              "\"53/udp\":{},\"8080/tcp\":{}},\"User\":null}"),
       0},
      {T_CFG,
       CONFIG(",\"created\":\"2015-10-31T22:22:56.015925234Z\",\"history\":[{"
              "\"created\":\"2024-02-29T23:59:60+01:00\",\"empty_layer\":true}"
              "],\"config\":{\"Env\":[\"A=\",\"B==c\",\"C=x\\ny\"]}"),
       0},
      /* annotations the spec defines */
      {T_MAN,
       MANIFEST(",\"annotations\":{\"org.opencontainers.image.ref.name\":"
                "\"v1.0-rc1\",\"org.opencontainers.image.created\":\"x\","
                "\"com.example\":\"\"}",
                GOOD_DESC),
       0},
      {T_LAY, "{\"imageLayoutVersion\":\"1.0.0\"}", 0},
      /* distribution */
      {T_ERR, "{\"errors\":[]}", 0},
      {T_ERR,
       "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"m\",\"detail\":"
       "[{\"Type\":\"repository\",\"Name\":\"x\"}]},{\"code\":\"DENIED\","
       "\"detail\":\"text\"},{\"code\":\"TOOMANYREQUESTS\",\"detail\":null}]}",
       0},
      {T_ERR,
       "{\"errors\":[{\"code\":\"TAG_INVALID\"},{\"code\":\"MANIFEST_"
       "UNVERIFIED\"}]}",
       2},
      {T_TAGS, "{\"name\":\"a/b-c/d__e.f\",\"tags\":[]}", 0},
      {T_TAGS, "{\"name\":\"a\",\"tags\":[\"a\",\"B\",\"c\"]}", 0},
      {T_TAGS, "{\"name\":\"a\",\"tags\":[\"B\",\"a\",\"c\"]}", 0},
      {T_TAGS, "{\"name\":\"a\",\"tags\":[\"_x\",\"v1.0-rc_1\"]}", 0},
      {T_REPOS, "{\"repositories\":[\"a\",\"b/c\"]}", 0},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    void *obj = NULL;
    oci_error err;
    oci_problems p;
    if (oci_parse(ok[i].t, ok[i].json, strlen(ok[i].json), NULL, &obj, &err))
      fail_msg("%s: %s at %s", ok[i].json, err.message, err.pointer);
    int rc = oci_validate(ok[i].t, obj, &p);
    if (rc != OCI_OK || p.errors != 0 || p.warnings != ok[i].warnings) {
      dump_problems("got", &p);
      fail_msg("%s: expected no error and %zu warnings", ok[i].json,
               ok[i].warnings);
    }
    oci_problems_free(&p);
    oci_free(obj);
  }
  /* the grammar itself accepts sha256+foo (I-DIG-1) */
  oci_digest_view v;
  assert_int_equal(oci_digest_parse("sha256+foo:abc", 14, &v, NULL), OCI_OK);
  assert_int_equal(v.alg, OCI_DIGEST_OTHER);
  assert_int_equal(v.algorithm_len, 10);
}

/* Parse errors of the real types carry pointers into the document. */
static void test_parse_errors(void **state) {
  (void)state;
  static const struct {
    const oci_type *t;
    const char *json;
    int code;
    const char *pointer, *msg;
  } bad[] = {
      {T_MAN, "{\"schemaVersion\":2,\"config\":{}}", OCI_EMISSING, "/config",
       "missing required field \"mediaType\" in Descriptor"},
      {T_MAN, "{\"schemaVersion\":2,\"config\":" GOOD_DESC "}", OCI_EMISSING,
       "", "missing required field \"layers\" in ImageManifest"},
      {T_MAN, MANIFEST("", GOOD_DESC "," DESC(MT_LAYER, SHA256, "1") "}"),
       OCI_ETYPE, "/layers/1/size", "expected integer, got string"},
      {T_MAN, MANIFEST("", DESC(MT_LAYER, SHA256, 9223372036854775808) "}"),
       OCI_ERANGE, "/layers/0/size",
       "9223372036854775808 is out of range for int64"},
      {T_MAN,
       "{\"schemaVersion\":2147483648,\"config\":" GOOD_DESC ",\"layers\":[]}",
       OCI_ERANGE, "/schemaVersion", "out of range for int32"},
      {T_MAN, MANIFEST(",\"annotations\":{\"a\":1}", ""), OCI_ETYPE,
       "/annotations/a", "expected string, got number"},
      {T_MAN, MANIFEST(",\"annotations\":{\"a\":\"\",\"a\":\"\"}", ""),
       OCI_EDUPKEY, "/annotations/a", "duplicate key \"a\""},
      {T_IDX,
       INDEX("", DESC(MT_MANIFEST, SHA256, 1) ",\"platform\":{\"os\":\"x\"}}"),
       OCI_EMISSING, "/manifests/0/platform",
       "missing required field \"architecture\" in Platform"},
      {T_CFG, CONFIG(",\"config\":{\"ExposedPorts\":{\"80\":true}}"), OCI_ETYPE,
       "/config/ExposedPorts/80", "expected object, got boolean"},
      {T_CFG, CONFIG(",\"history\":[{\"empty_layer\":\"yes\"}]"), OCI_ETYPE,
       "/history/0/empty_layer", "expected boolean, got string"},
      {T_CFG, "{\"architecture\":\"amd64\",\"os\":null}", OCI_ETYPE, "/os",
       "required field \"os\" must not be null"},
      {T_ERR, "{\"errors\":[{\"message\":\"m\"}]}", OCI_EMISSING, "/errors/0",
       "missing required field \"code\" in ErrorInfo"},
      {T_TAGS, "{\"name\":\"a\",\"tags\":[1]}", OCI_ETYPE, "/tags/0",
       "expected string, got number"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    void *obj = NULL;
    oci_error err;
    int rc =
        oci_parse(bad[i].t, bad[i].json, strlen(bad[i].json), NULL, &obj, &err);
    if (rc != bad[i].code || strcmp(err.pointer, bad[i].pointer) != 0 ||
        !strstr(err.message, bad[i].msg))
      fail_msg("%s: got %s \"%s\" at \"%s\", expected %s \"%s\" at \"%s\"",
               bad[i].json, oci_status_name(rc), err.message, err.pointer,
               oci_status_name(bad[i].code), bad[i].msg, bad[i].pointer);
    assert_null(obj);
  }
}

/* Type registry lookups used by the binding and the tests. */
static void test_type_registry(void **state) {
  (void)state;
  assert_ptr_equal(oci_type_by_c_name("image_manifest"),
                   &oci_type_image_manifest);
  assert_ptr_equal(oci_type_by_name("image", "ImageManifest"),
                   &oci_type_image_manifest);
  assert_ptr_equal(oci_type_by_name("distribution", "TagList"),
                   &oci_type_dist_tag_list);
  assert_null(oci_type_by_c_name("nope"));
  assert_null(oci_type_by_name("runtime", "ImageManifest"));
  for (size_t i = 0; oci_all_types[i]; i++) {
    const oci_type *t = oci_all_types[i];
    assert_ptr_equal(t->vt->object, t);
    assert_true(t->nfields <= 32);
    for (size_t k = 0; k < t->nfields; k++) {
      assert_int_equal(t->fields[k].index, k);
      assert_non_null(t->fields[k].check);
    }
    assert_non_null(t->check);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_type_registry),
      cmocka_unit_test(test_roundtrip_bench_inputs),
      cmocka_unit_test(test_roundtrip_image_examples),
      cmocka_unit_test(test_build_manifest),
      cmocka_unit_test(test_rules),
      cmocka_unit_test(test_rules_covered),
      cmocka_unit_test(test_required_built),
      cmocka_unit_test(test_must_pass),
      cmocka_unit_test(test_parse_errors),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  return skip_exit(rc);
}
