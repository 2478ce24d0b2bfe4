/* Threads: several pthreads parse, validate, clone, compare and serialize
   independent documents at the same time, and share one read-only parsed
   document (the library keeps no global mutable state); registry clients
   are made and used by several threads at once. Run under TSan by
   `scripts/test.sh --tsan` (-DOCISPEC_TSAN=ON); in the other builds it
   checks that every thread gets the same bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocispec/ocispec.h"

#define NTHREADS 6
#define ROUNDS 150

#define DIGEST                                                                 \
  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest."
    "v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+"
    "json\",\"digest\":\"" DIGEST "\",\"size\":0},\"layers\":[{\"mediaType\":"
    "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" DIGEST
    "\",\"size\":1}],\"annotations\":{\"a\":\"\\u00e9\"},\"x\":[1,{\"y\":2}]}";

typedef struct job {
  int id;
  const oci_runtime_spec *shared; /* read by every thread */
  const char *spec_json;          /* the shared spec's expected bytes */
  int failures;
  char *last; /* this thread's last manifest output */
} job;

static void *worker(void *arg) {
  job *j = arg;
  for (int round = 0; round < ROUNDS; round++) {
    /* an independent document, edited per thread */
    oci_image_manifest *m = NULL;
    oci_error err;
    if (oci_image_manifest_parse(manifest, sizeof manifest - 1, NULL, &m,
                                 &err)) {
      j->failures++;
      continue;
    }
    m->layers.items[0]->size = (int64_t)(j->id * 1000 + round);
    oci_problems p = {0};
    if (oci_validate(&oci_type_image_manifest, m, &p) != OCI_OK) j->failures++;
    oci_problems_free(&p);
    void *c = NULL;
    if (oci_clone(&oci_type_image_manifest, m, &c, &err) ||
        !oci_equal(&oci_type_image_manifest, m, c))
      j->failures++;
    char *out = NULL;
    size_t len;
    if (oci_image_manifest_to_json(c, round & 1, &out, &len, &err))
      j->failures++;
    oci_free(c);
    oci_free(m);
    free(j->last);
    j->last = out;

    /* the shared document: read-only use from every thread */
    char *s = NULL;
    if (oci_runtime_spec_to_json(j->shared, false, &s, &len, &err) ||
        strcmp(s, j->spec_json) != 0)
      j->failures++;
    free(s);
    oci_problems q = {0};
    oci_validate(&oci_type_runtime_spec, j->shared, &q);
    oci_problems_free(&q);

    /* references and digests */
    oci_reference *r = NULL;
    if (oci_reference_parse("localhost:5000/a/b:v1", 21, &r, &err))
      j->failures++;
    oci_reference_free(r);
    if (oci_digest_parse(DIGEST, strlen(DIGEST), NULL, &err)) j->failures++;
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  oci_runtime_spec *spec = NULL;
  assert_int_equal(oci_runtime_spec_default(&spec, NULL), OCI_OK);
  char *spec_json = NULL;
  size_t len;
  assert_int_equal(
      oci_runtime_spec_to_json(spec, false, &spec_json, &len, NULL), OCI_OK);
  pthread_t th[NTHREADS];
  job jobs[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) {
    jobs[i] = (job){i, spec, spec_json, 0, NULL};
    assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
  }
  for (int i = 0; i < NTHREADS; i++)
    assert_int_equal(pthread_join(th[i], NULL), 0);
  for (int i = 0; i < NTHREADS; i++) {
    assert_int_equal(jobs[i].failures, 0);
    /* the last round wrote size id*1000+ROUNDS-1, pretty when odd */
    char want[64];
    snprintf(want, sizeof want, "\"size\": %d", i * 1000 + ROUNDS - 1);
    assert_non_null(strstr(jobs[i].last, want));
    free(jobs[i].last);
  }
  free(spec_json);
  oci_free(spec);
}

/* Registry clients made and used at once: the first of them initialises
   libcurl (once, under pthread_once), each gets its own handle and error.
   Port 1 of 127.0.0.1 refuses connections: a network error at once. */
static void *registry_worker(void *arg) {
  int *failures = arg;
  for (int i = 0; i < 20; i++) {
    oci_registry_options o;
    oci_registry_options_init(&o);
    o.plain_http = true;
    o.retries = 0;
    o.auth_file = "";
    oci_registry *r = NULL;
    oci_error e;
    oci_error_clear(&e);
    if (oci_registry_new("127.0.0.1:1", &o, &r, &e) != OCI_OK) {
      (*failures)++;
      continue;
    }
    if (oci_registry_ping(r, &e) != OCI_ENETWORK ||
        !strstr(e.message, "http://127.0.0.1:1/v2/"))
      (*failures)++;
    oci_registry_free(r);
  }
  return NULL;
}

static void test_registry_threads(void **state) {
  (void)state;
  pthread_t th[NTHREADS];
  int failures[NTHREADS] = {0};
  for (int i = 0; i < NTHREADS; i++)
    assert_int_equal(
        pthread_create(&th[i], NULL, registry_worker, &failures[i]), 0);
  for (int i = 0; i < NTHREADS; i++) {
    assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(failures[i], 0);
  }
}

/* oci_registry_sync_refs on the transfer pool's worker threads: every
   reference fails alone (connection refused) and the call still succeeds,
   each item holding its own network error; under TSan (scripts/test.sh
   --tsan) this checks the workers share nothing unguarded. */
static void test_sync_refs_threads(void **state) {
  (void)state;
  oci_registry_options o;
  oci_registry_options_init(&o);
  o.plain_http = true;
  o.retries = 0;
  o.auth_file = "";
  o.jobs = 4;
  oci_registry *src = NULL, *dst = NULL;
  oci_error e;
  assert_int_equal(oci_registry_new("127.0.0.1:1", &o, &src, &e), OCI_OK);
  assert_int_equal(oci_registry_new("127.0.0.1:1", &o, &dst, &e), OCI_OK);
  oci_registry_sync_item items[8];
  const char *refs[8] = {
      "a",
      "b",
      "c",
      "d",
      "e",
      "f",
      "g",
      "sha256:0123456789abcdef0123456789abcdef0123456789abcdef"
      "0123456789abcdef"};
  for (int i = 0; i < 8; i++) {
    memset(&items[i], 0, sizeof items[i]);
    items[i].reference = refs[i];
  }
  assert_int_equal(oci_registry_sync_refs(src, "r", dst, "s", items, 8, &e),
                   OCI_OK);
  for (int i = 0; i < 8; i++) {
    assert_int_equal(items[i].result, OCI_SYNC_FAILED);
    assert_int_equal(items[i].err.code, OCI_ENETWORK);
    assert_non_null(strstr(items[i].err.message, "http://127.0.0.1:1/v2/r/"));
  }
  /* a reference missing is refused before anything is sent */
  items[2].reference = NULL;
  assert_int_equal(oci_registry_sync_refs(src, "r", dst, "s", items, 8, &e),
                   OCI_EINVAL);
  assert_non_null(strstr(e.message, "item 2 has no reference"));
  oci_registry_free(src);
  oci_registry_free(dst);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_registry_threads),
      cmocka_unit_test(test_sync_refs_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
