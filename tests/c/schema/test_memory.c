/* The memory a parsed document holds (issue 18, goal "parsed documents <=
   1.5x their JSON size"): the object header's size, the arena bytes of
   runc's default configuration as runc writes it, and the unused tail the
   arena leaves when its first block runs out during a parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../alloc_wrap.h"
#include "ocispec/runtime.h"
#include "ocispec/types.h"

static oci_arena *arena_of(const void *doc) {
  return ((const oci_object *)doc)->arena;
}

/* Every declared struct starts with the header: three words (it was six:
   two 64-bit masks and an inline oci_extra). */
static void header_is_three_words(void **state) {
  (void)state;
  assert_int_equal(sizeof(oci_object), 3 * sizeof(void *));
  assert_int_equal(offsetof(oci_object, extra), 2 * sizeof(void *));
  /* the smallest types shrink with it */
  assert_true(sizeof(oci_runtime_linux_namespace) <= 5 * sizeof(void *));
}

/* Pretty JSON with a tab per level, as runc writes config.json (Go's
   json.MarshalIndent with "\t"): the writer's 2-space indentation turned
   into tabs. */
static char *tabs_for_spaces(const char *s, size_t len, size_t *out_len) {
  char *out = malloc(len + 1);
  assert_non_null(out);
  size_t n = 0;
  bool line_start = true;
  for (size_t i = 0; i < len; i++) {
    if (line_start && s[i] == ' ' && i + 1 < len && s[i + 1] == ' ') {
      out[n++] = '\t';
      i++;
      continue;
    }
    line_start = s[i] == '\n';
    out[n++] = s[i];
  }
  out[n] = '\0';
  *out_len = n;
  return out;
}

/* `runc spec`'s config.json (the bench's runtime-config.json is that
   file): 1.76x its JSON size before the header shrank and the arena's
   blocks followed the input; the goal is 1.5x. */
static void runc_config_within_one_and_a_half(void **state) {
  (void)state;
  oci_error err;
  oci_runtime_spec *spec;
  assert_int_equal(oci_runtime_spec_default(&spec, &err), OCI_OK);
  oci_write_options wo = OCI_WRITE_OPTIONS_INIT;
  wo.pretty = true;
  char *pretty;
  size_t plen;
  assert_int_equal(
      oci_to_json(&oci_type_runtime_spec, spec, &wo, &pretty, &plen, &err),
      OCI_OK);
  oci_free(spec);
  size_t len;
  char *text = tabs_for_spaces(pretty, plen, &len);
  free(pretty);
  assert_true(len > 2000 && len < 3200); /* runc's is 2560 bytes */

  oci_runtime_spec *doc;
  assert_int_equal(oci_runtime_spec_parse(text, len, NULL, &doc, &err), OCI_OK);
  size_t held = oci_arena_bytes(arena_of(doc));
  size_t used = oci_arena_used(arena_of(doc));
  print_message("runc config: %zu bytes of JSON, arena %zu (%.2fx), used %zu "
                "(%.2fx)\n",
                len, held, (double)held / (double)len, used,
                (double)used / (double)len);
  assert_true(held * 2 <= len * 3);
  assert_true(used <= held);
  oci_free(doc);
  free(text);
}

/* An index of n manifests, compact: about 1.45 bytes of arena per byte
   of JSON, more than the first block the parser reserves (1.125x), so the
   parse needs more blocks. They are sized from the input left to read: the
   unused tail stays a small fraction of the document, where blocks of a
   quarter of the arena left up to a fifth of it unused. */
static char *compact_index(size_t n, size_t *len) {
  size_t cap = 200 + n * 400;
  char *s = malloc(cap);
  assert_non_null(s);
  size_t k =
      (size_t)snprintf(s, cap,
                       "{\"schemaVersion\":2,\"mediaType\":\"application/"
                       "vnd.oci.image.index.v1+json\",\"manifests\":[");
  for (size_t i = 0; i < n; i++)
    k += (size_t)snprintf(
        s + k, cap - k,
        "%s{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"digest\":\"sha256:%064zx\",\"size\":%zu,\"platform\":{"
        "\"architecture\":\"amd64\",\"os\":\"linux\"},\"annotations\":{"
        "\"org.opencontainers.image.ref.name\":\"1.%zu\"}}",
        i ? "," : "", i, 1000 + i, i);
  k += (size_t)snprintf(s + k, cap - k, "]}");
  *len = k;
  return s;
}

static void tail_follows_the_input(void **state) {
  (void)state;
  static const size_t sizes[] = {3, 40, 700, 3000};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t len;
    char *text = compact_index(sizes[i], &len);
    oci_error err;
    oci_image_index *doc;
    assert_int_equal(oci_image_index_parse(text, len, NULL, &doc, &err),
                     OCI_OK);
    size_t held = oci_arena_bytes(arena_of(doc));
    size_t used = oci_arena_used(arena_of(doc));
    print_message("compact index of %zu manifests: %zu bytes of JSON, arena "
                  "%zu, used %zu: %zu unused (%.1f%%)\n",
                  sizes[i], len, held, used, held - used,
                  100.0 * (double)(held - used) / (double)held);
    assert_true(used > len + len / 8); /* the first block ran out */
    /* unused: at most a tenth of the arena, plus the block headers' and a
       small document's few hundred bytes */
    assert_true(held - used <= held / 10 + 512);
    oci_free(doc);
    free(text);
  }
}

/* A document denser at its end than at its start (a long string, then
   many small objects) keeps the number of blocks, and so the unused bytes,
   in check: every new block is at least a sixteenth of the arena. */
static void dense_end_stays_bounded(void **state) {
  (void)state;
  size_t n = 4000, cap = 100000 + n * 40;
  char *s = malloc(cap);
  assert_non_null(s);
  size_t k =
      (size_t)snprintf(s, cap, "{\"ociVersion\":\"1.0.0\",\"hostname\":\"");
  memset(s + k, 'h', 60000);
  k += 60000;
  k += (size_t)snprintf(s + k, cap - k, "\",\"linux\":{\"namespaces\":[");
  for (size_t i = 0; i < n; i++)
    k += (size_t)snprintf(s + k, cap - k, "%s{\"type\":\"pid\"}", i ? "," : "");
  k += (size_t)snprintf(s + k, cap - k, "]}}");
  oci_error err;
  oci_runtime_spec *doc;
  alloc_arm(LONG_MAX); /* counts the allocations, fails none */
  assert_int_equal(oci_runtime_spec_parse(s, k, NULL, &doc, &err), OCI_OK);
  long mallocs = alloc_seen;
  alloc_disarm();
  assert_int_equal(doc->linux_->namespaces.len, n);
  size_t held = oci_arena_bytes(arena_of(doc));
  size_t used = oci_arena_used(arena_of(doc));
  print_message("dense end: %zu bytes of JSON, arena %zu, used %zu, %ld "
                "allocations\n",
                k, held, used, mallocs);
  assert_true(held - used <= held / 8 + 1024);
  /* the reader's own few (its stack of array elements grows by doubling)
     and O(log n) blocks: 256-byte blocks would take hundreds */
  assert_true(mallocs <= 24);
  oci_free(doc);
  free(s);
}

/* Unknown members live behind the header's pointer: NULL when there are
   none, kept, written back and copied when there are. */
static void unknown_members_behind_a_pointer(void **state) {
  (void)state;
  static const char json[] =
      "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":"
      "\"sha256:"
      "0000000000000000000000000000000000000000000000000000000000000000"
      "\",\"size\":1,\"x-one\":[1,{\"a\":null}]},\"layers\":[],\"x-two\":\"t\","
      "\"x-three\":{}}";
  oci_error err;
  oci_image_manifest *m;
  assert_int_equal(
      oci_image_manifest_parse(json, sizeof json - 1, NULL, &m, &err), OCI_OK);
  assert_non_null(m->hdr.extra);
  assert_int_equal(oci_extra_len(m), 2);
  assert_string_equal(m->hdr.extra->keys[1], "x-three");
  assert_string_equal(m->hdr.extra->raws[0], "\"t\"");
  assert_int_equal(oci_extra_len(m->config), 1);
  assert_string_equal(m->config->hdr.extra->raws[0], "[1,{\"a\":null}]");
  char *out;
  size_t len;
  assert_int_equal(
      oci_to_json(&oci_type_image_manifest, m, NULL, &out, &len, &err), OCI_OK);
  assert_string_equal(out, json);
  free(out);
  oci_image_manifest *c;
  assert_int_equal(oci_clone(&oci_type_image_manifest, m, (void **)&c, &err),
                   OCI_OK);
  assert_true(c->hdr.extra != m->hdr.extra);
  assert_true(oci_equal(&oci_type_image_manifest, m, c));
  c->hdr.extra->len = 1;
  assert_false(oci_equal(&oci_type_image_manifest, m, c));
  oci_free(c);
  oci_free(m);

  oci_image_descriptor *d;
  static const char plain[] =
      "{\"mediaType\":\"a/b\",\"digest\":\"sha256:00\",\"size\":1}";
  assert_int_equal(
      oci_image_descriptor_parse(plain, sizeof plain - 1, NULL, &d, &err),
      OCI_OK);
  assert_null(d->hdr.extra);
  assert_int_equal(oci_extra_len(d), 0);
  oci_free(d);
}

/* oci_arena_used is counted from the blocks (the inline allocation paths
   update nothing else): it must stay exact across new blocks, strings from
   the top and aligned allocations from the bottom, and a big allocation
   that gets its own block behind the head. */
static void used_is_exact_across_blocks(void **state) {
  (void)state;
  oci_arena *a = oci_arena_new(64);
  assert_non_null(a);
  size_t want = 0;
  assert_int_equal(oci_arena_used(a), 0);
  for (size_t i = 0; i < 200; i++) {
    size_t n = i % 37 + 1;
    char *s = oci_arena_alloc_chars(a, n);
    assert_non_null(s);
    memset(s, 'x', n);
    want += n;
    void *p = oci_arena_alloc(a, n);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 8, 0);
    memset(p, 'y', n);
    want += (n + 7) & ~(size_t)7;
    assert_int_equal(oci_arena_used(a), want);
  }
  void *big = oci_arena_alloc(a, 1u << 16); /* its own block */
  assert_non_null(big);
  want += 1u << 16;
  char *tail = oci_arena_alloc_chars(a, 3); /* still the head's space */
  assert_non_null(tail);
  want += 3;
  assert_int_equal(oci_arena_used(a), want);
  assert_true(oci_arena_bytes(a) >= want);
  assert_null(oci_arena_alloc(a, SIZE_MAX - 3));
  assert_int_equal(oci_arena_used(a), want);
  oci_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(header_is_three_words),
      cmocka_unit_test(runc_config_within_one_and_a_half),
      cmocka_unit_test(tail_follows_the_input),
      cmocka_unit_test(dense_end_stays_bounded),
      cmocka_unit_test(unknown_members_behind_a_pointer),
      cmocka_unit_test(used_is_exact_across_blocks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
