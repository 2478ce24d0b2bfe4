/* Allocation-failure injection. The test binary is linked with
   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (CMakeLists.txt), so every
   allocation the static library makes goes through the wrappers below,
   which can fail the Nth one. For parse, serialize (compact, pretty, to a
   file), clone, validate, json_check and reference parsing, N is swept from
   0 until the operation succeeds without a failure: every injected failure
   must give OCI_ENOMEM, leave *out NULL (and no file), and leak nothing
   (ASan's leak checker runs in the sanitizer build).

   The Lua binding: a lua_State made with lua_newstate and a failing
   allocator (and, in a second sweep, with the C wrappers failing), the
   module opened with luaopen_ocispec_core, a script that parses, edits,
   serializes, validates and clones; every failure must be a Lua error
   "not enough memory" or ocispec's "out of memory", and lua_close must
   give every byte back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ocispec/ocispec.h"

#ifdef OCISPEC_TEST_LUA
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
int luaopen_ocispec_core(lua_State *L);
#endif

/* ---- the wrappers ---- */

#include "../alloc_wrap.h"

/* ---- documents ---- */

#define DIGEST                                                                 \
  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest."
    "v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+"
    "json\",\"digest\":\"" DIGEST "\",\"size\":0},\"layers\":[{\"mediaType\":"
    "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" DIGEST
    "\",\"size\":1,\"annotations\":{\"a\":\"\\u00e9\",\"b\":\"c\"}},{"
    "\"mediaType\":\"BAD\",\"digest\":\"sha256:00\",\"size\":-1}],\"x-extra\":"
    "{\"k\":[1,2,{\"z\":null}]},\"annotations\":{\"org.opencontainers.image."
    "created\":\"not a date\"}}";

static const char config[] =
    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"A=1\","
    "\"B=2\"],\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{\"x\":1}},\"Labels\":"
    "{\"l\":\"v\"}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DIGEST
    "\"]},\"history\":[{\"created_by\":\"sh\",\"empty_layer\":true}]}";

typedef struct doc {
  const oci_type *t;
  const char *json;
  size_t len;
  char *owned;
} doc;

static doc docs[4];
static size_t ndocs;

static int setup(void **state) {
  (void)state;
  docs[0] =
      (doc){&oci_type_image_manifest, manifest, sizeof manifest - 1, NULL};
  docs[1] =
      (doc){&oci_type_image_configuration, config, sizeof config - 1, NULL};
  oci_runtime_spec *s = NULL;
  assert_int_equal(oci_runtime_spec_default(&s, NULL), OCI_OK);
  char *out = NULL;
  size_t len;
  assert_int_equal(oci_runtime_spec_to_json(s, true, &out, &len, NULL), 0);
  oci_free(s);
  docs[2] = (doc){&oci_type_runtime_spec, out, len, out};
  /* arrays of strings and of objects longer than the reader's inline
     element stack (512 bytes): it moves to the heap mid-array */
  size_t cap = 16384, k = 0;
  char *big = malloc(cap);
  assert_non_null(big);
  k += (size_t)snprintf(big + k, cap - k,
                        "{\"ociVersion\":\"1.0.2\",\"process\":{\"user\":"
                        "{\"uid\":0,\"gid\":0},\"args\":[");
  for (int i = 0; i < 100; i++)
    k += (size_t)snprintf(big + k, cap - k, "%s\"a%d\"", i ? "," : "", i);
  k += (size_t)snprintf(big + k, cap - k, "],\"cwd\":\"/\"},\"mounts\":[");
  for (int i = 0; i < 40; i++)
    k += (size_t)snprintf(big + k, cap - k, "%s{\"destination\":\"/m%d\"}",
                          i ? "," : "", i);
  k += (size_t)snprintf(big + k, cap - k, "]}");
  assert_true(k < cap - 1);
  docs[3] = (doc){&oci_type_runtime_spec, big, k, big};
  ndocs = 4;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  for (size_t i = 0; i < ndocs; i++)
    free(docs[i].owned);
  return 0;
}

/* Sweep n over op until it succeeds with no failure injected. */
typedef int (*op_fn)(const doc *d, void *ctx);

static long sweep(const char *name, const doc *d, op_fn op, void *ctx) {
  for (long n = 0;; n++) {
    alloc_arm(n);
    int rc = op(d, ctx);
    bool hit = alloc_injected > 0;
    alloc_disarm();
    if (!hit) {
      if (rc != OCI_OK) fail_msg("%s: fails without injection: %d", name, rc);
      return n;
    }
    if (rc != OCI_ENOMEM)
      fail_msg("%s (%s): allocation %ld failed, got %s instead of nomem", name,
               d->t->name, n, oci_status_name(rc));
    assert_true(n < 1000000);
  }
}

static int op_parse(const doc *d, void *ctx) {
  (void)ctx;
  void *obj = (void *)1;
  oci_error err;
  int rc = oci_parse(d->t, d->json, d->len, NULL, &obj, &err);
  if (rc) {
    assert_null(obj);
    assert_int_equal(err.code, rc);
  }
  oci_free(obj);
  return rc;
}

static int op_json_check(const doc *d, void *ctx) {
  (void)ctx;
  return oci_json_check(d->json, d->len, NULL, NULL);
}

/* Operations on one parsed object: the parse happens unarmed. */
typedef struct objop {
  void *obj;
  int kind; /* 0 compact, 1 pretty, 2 clone, 3 validate, 4 file */
  const char *dir;
} objop;

static int op_on_object(const doc *d, void *ctx) {
  objop *o = ctx;
  oci_error err;
  switch (o->kind) {
  case 0:
  case 1: {
    oci_write_options wo = {OCI_WRITE_OPTIONS_VERSION, o->kind == 1};
    char *out = (char *)1;
    size_t len;
    int rc = oci_to_json(d->t, o->obj, &wo, &out, &len, &err);
    if (rc) assert_null(out);
    free(rc ? NULL : out);
    return rc;
  }
  case 2: {
    void *c = (void *)1;
    int rc = oci_clone(d->t, o->obj, &c, &err);
    if (rc) {
      assert_null(c);
    } else {
      assert_true(oci_equal(d->t, o->obj, c));
      oci_free(c);
    }
    return rc;
  }
  case 3: {
    oci_problems p = {0};
    int rc = oci_validate(d->t, o->obj, &p);
    oci_problems_free(&p);
    return rc == OCI_EVALIDATE ? OCI_OK : rc;
  }
  default: {
    char path[512];
    snprintf(path, sizeof path, "%s/doc.json", o->dir);
    oci_error_clear(&err);
    int rc = oci_write_file(d->t, o->obj, NULL, path, &err);
    if (rc == OCI_OK) {
      unlink(path);
    } else {
      /* nothing left behind: no file, no temporary */
      DIR *dh = opendir(o->dir);
      assert_non_null(dh);
      struct dirent *e;
      while ((e = readdir(dh)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
          fail_msg("oci_write_file left %s behind", e->d_name);
      closedir(dh);
    }
    return rc;
  }
  }
}

static void test_parse(void **state) {
  (void)state;
  for (size_t i = 0; i < ndocs; i++) {
    long n = sweep("parse", &docs[i], op_parse, NULL);
    print_message("parse %s: %ld allocations, each failed once\n",
                  docs[i].t->name, n);
    sweep("json_check", &docs[i], op_json_check, NULL);
  }
}

static void test_object_ops(void **state) {
  (void)state;
  static const char *const names[] = {"to_json", "to_json pretty", "clone",
                                      "validate", "write_file"};
  char dir[] = "/tmp/ocispec-allocfail-XXXXXX";
  assert_non_null(mkdtemp(dir));
  for (size_t i = 0; i < ndocs; i++) {
    for (int k = 0; k < 5; k++) {
      objop o = {NULL, k, dir};
      assert_int_equal(
          oci_parse(docs[i].t, docs[i].json, docs[i].len, NULL, &o.obj, NULL),
          0);
      long n = sweep(names[k], &docs[i], op_on_object, &o);
      print_message("%s %s: %ld allocations\n", names[k], docs[i].t->name, n);
      oci_free(o.obj);
    }
  }
  rmdir(dir);
}

static int op_reference(const doc *d, void *ctx) {
  (void)d;
  const char *s = ctx;
  oci_reference *r = (oci_reference *)1;
  oci_error err;
  oci_error_clear(&err);
  int rc = oci_reference_parse(s, strlen(s), &r, &err);
  if (rc) {
    assert_null(r);
    return rc;
  }
  char *t = oci_reference_to_string(r);
  if (!t) rc = OCI_ENOMEM;
  free(t);
  oci_reference_free(r);
  return rc;
}

/* The writer's buffer growing mid-document: strings assigned from C (not
   in the document's arena, so the first reservation, sized from the
   arena, is far too small) with escapes that make the text several times
   their length, in members, array elements and map keys and values. Each
   growth fails once in turn: the write fails with OCI_ENOMEM, *out stays
   NULL and nothing leaks. */
typedef struct grow_ctx {
  oci_image_descriptor *d;
  bool pretty;
} grow_ctx;

static int op_write_growing(const doc *unused, void *ctx) {
  (void)unused;
  grow_ctx *g = ctx;
  oci_error err;
  char *out = (char *)1;
  size_t len;
  int rc = oci_image_descriptor_to_json(g->d, g->pretty, &out, &len, &err);
  if (rc) {
    assert_null(out);
    assert_int_equal(err.code, rc);
  } else
    free(out);
  return rc;
}

static void test_write_growing(void **state) {
  (void)state;
  char s[3001];
  for (size_t i = 0; i < sizeof s - 1; i++)
    s[i] = "a\x01\"b\n"[i % 5];
  s[sizeof s - 1] = '\0';
  oci_image_descriptor *d = NULL;
  oci_image_platform *p = NULL;
  assert_int_equal(oci_image_descriptor_new(&d, NULL), OCI_OK);
  assert_int_equal(oci_image_platform_new(&p, NULL), OCI_OK);
  char *keys[2] = {s, "k"}, *values[2] = {"v", s}, *feats[3] = {s, "", s};
  d->media_type = s;
  d->digest = "sha256:00";
  d->size = 1;
  d->annotations = (oci_str_map){keys, values, 2};
  d->platform = p;
  d->hdr.present = 1 | 2 | 4 | 16 | 32;
  p->architecture = s;
  p->os = "linux";
  p->os_features = (oci_str_array){feats, 3};
  p->hdr.present = 1 | 2 | 8;
  doc none = {&oci_type_image_descriptor, NULL, 0, NULL};
  for (int pretty = 0; pretty <= 1; pretty++) {
    grow_ctx g = {d, pretty};
    long n = sweep("write growing", &none, op_write_growing, &g);
    print_message("write growing (pretty %d): %ld allocations\n", pretty, n);
    assert_true(n >= 5); /* the buffer grew several times */
  }
  d->platform = NULL;
  oci_image_platform_free(p);
  oci_image_descriptor_free(d);
}

static void test_reference(void **state) {
  (void)state;
  static const char *const refs[] = {"ubuntu", "localhost:5000/a/b:v1@" DIGEST,
                                     "[::1]:5000/x@" DIGEST};
  for (size_t i = 0; i < sizeof refs / sizeof *refs; i++)
    sweep("reference", &docs[0], op_reference, (void *)(uintptr_t)refs[i]);
}

/* ---- the Lua binding ---- */

#ifdef OCISPEC_TEST_LUA

typedef struct lalloc {
  long countdown; /* Lua allocations: the Nth fails */
  long injected;
  size_t live; /* bytes outstanding */
} lalloc;

static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  lalloc *a = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    a->live -= old;
    return NULL;
  }
  if (a->countdown == 0) {
    a->countdown = -1;
    a->injected++;
    return NULL;
  }
  if (a->countdown > 0) a->countdown--;
  void *p = __real_realloc(ptr, nsize); /* not counted by the C wrappers */
  if (p) a->live = a->live - old + nsize;
  return p;
}

static const char lua_script[] =
    "local core, manifest, config = ...\n"
    "local image = core.types.image\n"
    "local m = assert(image.ImageManifest.from_json(manifest))\n"
    "assert(#m:layers() == 2)\n"
    "m:layers()[1]:set_size(7)\n"
    "m:set_annotations({b = '2', a = '1'})\n"
    "local s = assert(m:to_json())\n"
    "local p = assert(m:to_json({pretty = true}))\n"
    "local ok, msg, err = m:validate()\n"
    "assert(not ok and #err.problems > 0, msg)\n"
    "local c = assert(m:clone())\n"
    "assert(c == m)\n"
    "local t = m:to_table()\n"
    "local m2 = assert(image.ImageManifest.from_table(t))\n"
    "assert(m2 == m)\n"
    "local ic = assert(image.ImageConfiguration.from_json(config))\n"
    "assert(ic:to_json())\n"
    "local bad, err = "
    "image.ImageManifest.from_json('{\"schemaVersion\":\"2\"}')\n"
    "assert(bad == nil and err:find('expected integer'), err)\n"
    "local r = assert(core.reference.parse('localhost:5000/a/b:v1'))\n"
    "assert(tostring(r))\n"
    "assert(core.digest.parse('" DIGEST "'))\n"
    /* nested values both ways, JSON of Lua values, a refused cycle */
    "local deep = 1\n"
    "for _ = 1, 40 do deep = {deep, {k = 'v'}} end\n"
    "local j = assert(core.json_encode({b = deep, a = 'x', c = core.null}))\n"
    "assert(core.json_encode(assert(core.json_decode(j))) == j)\n"
    "local d = assert(image.Descriptor.from_table({mediaType = 'a/b', "
    "digest = '" DIGEST "', size = 1, x = deep}))\n"
    "assert(#d:unknown_fields().x == 2 and #d:to_table().x == 2)\n"
    "d:set_unknown_field('y', deep)\n"
    "assert(d:platform() == nil)\n"
    "local cyc = {}\n"
    "cyc.self = cyc\n"
    "assert(core.json_encode(cyc) == nil)\n"
    "assert(core.arena_bytes() > 0)\n"
    "return #s + #p\n";

static int lua_body(lua_State *L) {
  luaL_requiref(L, "ocispec.core", luaopen_ocispec_core, 0);
  if (luaL_loadbuffer(L, lua_script, sizeof lua_script - 1, "script"))
    return lua_error(L);
  lua_pushvalue(L, -2);
  lua_pushlstring(L, manifest, sizeof manifest - 1);
  lua_pushlstring(L, config, sizeof config - 1);
  lua_call(L, 3, 1);
  return 1;
}

/* One run: 0 success, 1 memory error; fails the test otherwise. */
static int lua_run(lalloc *a, long c_countdown) {
  long lc = a->countdown;
  a->countdown = -1; /* armed once the standard libraries are open */
  lua_State *L = lua_newstate(l_alloc, a);
  assert_non_null(L);
  luaL_openlibs(L);
  a->countdown = lc;
  alloc_arm(c_countdown);
  lua_pushcfunction(L, lua_body);
  int rc = lua_pcall(L, 0, 1, 0);
  alloc_disarm();
  a->countdown = -1;
  int result = 0;
  if (rc != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (!msg ||
        (!strstr(msg, "not enough memory") && !strstr(msg, "out of memory")))
      fail_msg("Lua error that is not a memory error: %s",
               msg ? msg : "(not a string)");
    result = 1;
  }
  lua_close(L);
  assert_int_equal(a->live, 0);
  return result;
}

static void test_lua_allocator(void **state) {
  (void)state;
  long n;
  for (n = 0;; n++) {
    lalloc a = {n, 0, 0};
    int r = lua_run(&a, -1);
    if (!a.injected) {
      assert_int_equal(r, 0);
      break;
    }
    assert_true(n < 1000000);
  }
  print_message("Lua allocator: %ld allocations, each failed once\n", n);
}

static void test_lua_c_allocations(void **state) {
  (void)state;
  long n;
  for (n = 0;; n++) {
    lalloc a = {-1, 0, 0};
    int r = lua_run(&a, n);
    if (!alloc_injected) {
      assert_int_equal(r, 0);
      break;
    }
    assert_true(n < 1000000);
  }
  print_message("C allocations under Lua: %ld, each failed once\n", n);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_object_ops),
      cmocka_unit_test(test_write_growing),
      cmocka_unit_test(test_reference),
#ifdef OCISPEC_TEST_LUA
      cmocka_unit_test(test_lua_allocator),
      cmocka_unit_test(test_lua_c_allocations),
#endif
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
