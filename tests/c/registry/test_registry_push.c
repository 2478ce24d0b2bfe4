/* oci_registry_push_blob (a caller's source callback) against the fake
   registry's upload endpoint (tests/registry/fake_registry.py, modes
   "upload" and "upload-retry"), which checks the digest with Python's
   hashlib and logs every body it read: monolithic and chunked uploads from
   a source giving a few bytes at a time, the source's own errors, a source
   that ends early or gives other bytes, and that a source that cannot
   rewind is never retried; a source claiming more than it was asked for,
   a digest algorithm that cannot be checked and empty blobs. Skipped (exit
   77) without python3. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include "../skip.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ocispec/ocispec.h"
#include "ocispec/registry.h"

typedef struct fake {
  pid_t pid;
  char host[64];
  char dir[64];
  char log[128];
} fake;

static bool have_python3(void) {
  return system("command -v python3 >/dev/null 2>&1") == 0;
}

/* Starts the fake in mode; its first stdout line is the port. */
static void fake_start(fake *f, const char *mode) {
  snprintf(f->dir, sizeof f->dir, "/tmp/ocispec-push-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->log, sizeof f->log, "%s/fake.log", f->dir);
  int p[2];
  assert_int_equal(pipe(p), 0);
  f->pid = fork();
  assert_true(f->pid >= 0);
  if (f->pid == 0) {
    char errlog[160];
    snprintf(errlog, sizeof errlog, "%s/fake.err", f->dir);
    FILE *ef = fopen(errlog, "w"); /* aborted uploads make it talk */
    if (ef) dup2(fileno(ef), 2);
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    char script[512];
    snprintf(script, sizeof script, "%s/tests/registry/fake_registry.py",
             OCISPEC_SOURCE_DIR);
    execlp("python3", "python3", script, mode, "0", f->log, (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  char line[32] = {0};
  size_t n = 0;
  while (n < sizeof line - 1 && read(p[0], line + n, 1) == 1 && line[n] != '\n')
    n++;
  close(p[0]);
  int port = atoi(line);
  if (port <= 0) fail_msg("the fake registry (%s) printed no port", mode);
  snprintf(f->host, sizeof f->host, "127.0.0.1:%d", port);
}

static void fake_stop(fake *f) {
  kill(f->pid, SIGTERM);
  waitpid(f->pid, NULL, 0);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  assert_int_equal(system(cmd), 0);
}

static char *fake_log(const fake *f) {
  FILE *fp = fopen(f->log, "rb");
  assert_non_null(fp);
  char *b = calloc(1, 1 << 20);
  assert_non_null(b);
  size_t n = fread(b, 1, (1 << 20) - 1, fp);
  b[n] = '\0';
  fclose(fp);
  return b;
}

/* How many lines of the log start with prefix and hold part. */
static int log_count(const fake *f, const char *prefix, const char *part) {
  char *b = fake_log(f);
  int n = 0;
  for (char *line = strtok(b, "\n"); line; line = strtok(NULL, "\n"))
    if (strncmp(line, prefix, strlen(prefix)) == 0 && strstr(line, part)) n++;
  free(b);
  return n;
}

static oci_registry *client(const fake *f, unsigned retries, size_t chunk) {
  oci_registry_options o;
  oci_registry_options_init(&o);
  o.plain_http = true;
  o.auth_file = "";
  o.retries = retries;
  o.retry_delay_ms = 10;
  o.chunk_size = chunk;
  oci_registry *r;
  oci_error e;
  if (oci_registry_new(f->host, &o, &r, &e)) fail_msg("%s", e.message);
  return r;
}

/* A source giving at most `step` bytes a call, from a buffer; `fail_at`
   (if >= 0) is where it reports its own error; `end` where it stops. */
typedef struct src {
  const char *buf;
  size_t len, off, step, end;
  long fail_at;
  int calls;
} src;

static ssize_t src_read(void *ud, void *buf, size_t cap, oci_error *err) {
  src *s = ud;
  s->calls++;
  if (s->fail_at >= 0 && s->off >= (size_t)s->fail_at) {
    oci_error_set(err, OCI_EIO, "the test's source failed at byte %zu", s->off);
    return -1;
  }
  size_t n = s->end - s->off;
  if (n > cap) n = cap;
  if (n > s->step) n = s->step;
  memcpy(buf, s->buf + s->off, n);
  s->off += n;
  return (ssize_t)n;
}

static char *make_data(size_t len, unsigned salt) {
  char *d = malloc(len);
  assert_non_null(d);
  for (size_t i = 0; i < len; i++)
    d[i] = (char)('a' + (i * salt + i / 7) % 26);
  return d;
}

static void expect(int rc, const oci_error *e, int code, const char *part) {
  if (rc != code || !strstr(e->message, part))
    fail_msg("expected %d \"%s\", got %d: %s", code, part, rc, e->message);
}

/* The fake holds the blob (it checked the digest with hashlib); reading it
   back gives the bytes. */
static void check_stored(oci_registry *r, const char *repo, const char *dg,
                         const char *data, size_t len) {
  char *got;
  size_t n;
  oci_error e;
  if (oci_registry_get_blob_buffer(r, repo, dg, (int64_t)len, len + 1, &got, &n,
                                   &e))
    fail_msg("get_blob %s: %s", dg, e.message);
  assert_int_equal(n, len);
  assert_memory_equal(got, data, len);
  free(got);
}

static void test_push_blob_source(void **state) {
  (void)state;
  if (!have_python3()) SKIP_BECAUSE("python3 is not installed");
  fake f;
  fake_start(&f, "upload");
  const size_t len = 10000;
  char *data = make_data(len, 31), dg[OCI_DIGEST_STRING_MAX];
  oci_error e;
  assert_int_equal(oci_hash_buffer(OCI_DIGEST_SHA256, data, len, dg, &e), 0);
  char body[256];
  snprintf(body, sizeof body, " %zu %s", len, dg);

  /* monolithic, 7 bytes a call: one PUT with every byte */
  oci_registry *r = client(&f, 0, 0);
  src s = {data, len, 0, 7, len, -1, 0};
  int rc =
      oci_registry_push_blob(r, "mono/app", dg, (int64_t)len, src_read, &s, &e);
  if (rc) fail_msg("push_blob: %s", e.message);
  assert_true(s.calls >= (int)(len / 7));
  assert_int_equal(log_count(&f, "BODY PUT /v2/mono/app/", body), 1);
  check_stored(r, "mono/app", dg, data, len);
  oci_registry_free(r);

  /* chunked: PATCHes of 4096, 4096 and 1808 bytes, then an empty PUT */
  r = client(&f, 0, 4096);
  s = (src){data, len, 0, 1000, len, -1, 0};
  rc = oci_registry_push_blob(r, "chunked/app", dg, (int64_t)len, src_read, &s,
                              &e);
  if (rc) fail_msg("push_blob chunked: %s", e.message);
  assert_int_equal(log_count(&f, "BODY PATCH /v2/chunked/app/", " 4096 "), 2);
  assert_int_equal(log_count(&f, "BODY PATCH /v2/chunked/app/", " 1808 "), 1);
  assert_int_equal(log_count(&f, "BODY PUT /v2/chunked/app/", " 0 "), 1);
  check_stored(r, "chunked/app", dg, data, len);
  oci_registry_free(r);

  r = client(&f, 0, 0);
  /* the source's own error, with its message */
  s = (src){data, len, 0, 512, len, 3000, 0};
  rc =
      oci_registry_push_blob(r, "fail/app", dg, (int64_t)len, src_read, &s, &e);
  expect(rc, &e, OCI_EIO, "the test's source failed at byte 3072");
  /* a source that ends early: nothing is committed */
  s = (src){data, len, 0, 512, len - 100, -1, 0};
  rc = oci_registry_push_blob(r, "short/app", dg, (int64_t)len, src_read, &s,
                              &e);
  expect(rc, &e, OCI_EMISMATCH,
         "upload source ended after 9900 of 10000 bytes");
  /* other bytes than the digest says: refused before the registry gets the
     last byte, so the PUT never commits */
  char *other = make_data(len, 37);
  s = (src){other, len, 0, 512, len, -1, 0};
  rc = oci_registry_push_blob(r, "other/app", dg, (int64_t)len, src_read, &s,
                              &e);
  expect(rc, &e, OCI_EMISMATCH,
         "content does not match its digest (it hashes to sha256:");
  assert_int_equal(log_count(&f, "PUT /v2/other/app/", "-> 201"), 0);
  assert_int_equal(log_count(&f, "PUT /v2/short/app/", "-> 201"), 0);
  assert_int_equal(log_count(&f, "PUT /v2/fail/app/", "-> 201"), 0);
  free(other);
  /* arguments: checked before any request */
  s = (src){data, len, 0, 512, len, -1, 0};
  expect(oci_registry_push_blob(r, "neg/app", dg, -1, src_read, &s, &e), &e,
         OCI_EINVAL, "negative size");
  expect(
      oci_registry_push_blob(r, "neg/app", "sha256:abc", 1, src_read, &s, &e),
      &e, OCI_EINVAL, "sha256:abc");
  assert_int_equal(s.calls, 0);
  assert_int_equal(log_count(&f, "POST /v2/neg/app/", ""), 0);
  oci_registry_free(r);
  free(data);
  fake_stop(&f);
}

/* The fake answers each upload's first PUT with 503. A caller's source
   cannot be rewound: push_blob reports the 503 (the body went out once);
   push_blob_buffer, which can, retries and succeeds. */
static void test_push_blob_not_retried(void **state) {
  (void)state;
  if (!have_python3()) SKIP_BECAUSE("python3 is not installed");
  fake f;
  fake_start(&f, "upload-retry");
  const size_t len = 3000;
  char *data = make_data(len, 13), dg[OCI_DIGEST_STRING_MAX];
  oci_error e;
  assert_int_equal(oci_hash_buffer(OCI_DIGEST_SHA256, data, len, dg, &e), 0);
  oci_registry *r = client(&f, 3, 0);
  src s = {data, len, 0, 700, len, -1, 0};
  int rc =
      oci_registry_push_blob(r, "cb/app", dg, (int64_t)len, src_read, &s, &e);
  expect(rc, &e, OCI_EREGISTRY, "HTTP 503: UNAVAILABLE");
  oci_registry_response resp;
  oci_registry_last_response(r, &resp);
  assert_int_equal(resp.status, 503);
  assert_int_equal(log_count(&f, "BODY PUT /v2/cb/app/", dg), 1);
  assert_int_equal(log_count(&f, "PUT /v2/cb/app/", "-> 503"), 1);
  oci_image_descriptor *d;
  if (oci_registry_push_blob_buffer(r, "buf/app", data, len, NULL, &d, &e))
    fail_msg("push_blob_buffer: %s", e.message);
  assert_string_equal(d->digest, dg);
  oci_image_descriptor_free(d);
  assert_int_equal(log_count(&f, "BODY PUT /v2/buf/app/", dg), 2);
  check_stored(r, "buf/app", dg, data, len);
  oci_registry_free(r);
  free(data);
  fake_stop(&f);
}

/* A server's Content-Type that is not UTF-8 is reported as such (it was
   "out of memory": any oci_set_string failure was taken for one). */
static void test_content_type_not_utf8(void **state) {
  (void)state;
  if (!have_python3()) SKIP_BECAUSE("python3 is not installed");
  fake f;
  fake_start(&f, "evil-strings");
  oci_registry *r = client(&f, 0, 0);
  char dir[] = "/tmp/ocispec-push-layout-XXXXXX";
  assert_non_null(mkdtemp(dir));
  oci_layout *l;
  oci_error e;
  if (oci_layout_create(dir, &l, &e)) fail_msg("%s", e.message);
  oci_image_descriptor *d = (oci_image_descriptor *)1;
  int rc = oci_registry_pull(r, "x", "bad-ctype", l, NULL, NULL, &d, &e);
  expect(rc, &e, OCI_EUTF8,
         "mediaType \"application/vnd.\\xff\\xfe+json\": not valid UTF-8");
  assert_null(strstr(e.message, "memory"));
  assert_null(d);
  oci_layout_close(l);
  assert_int_equal(oci_remove_tree(dir, &e), 0);
  oci_registry_free(r);
  fake_stop(&f);
}

/* A source that claims one byte more than it was asked for (it writes
   only what fits): a bug in the caller's callback, reported, never read
   past. */
static ssize_t overgiving_read(void *ud, void *buf, size_t cap,
                               oci_error *err) {
  ssize_t n = src_read(ud, buf, cap, err);
  return n > 0 ? n + 1 : n;
}

/* Sources that misbehave, digests that cannot be checked, empty blobs. */
static void test_push_blob_edges(void **state) {
  (void)state;
  if (!have_python3()) SKIP_BECAUSE("python3 is not installed");
  fake f;
  fake_start(&f, "upload");
  const size_t len = 5000;
  char *data = make_data(len, 17), dg[OCI_DIGEST_STRING_MAX];
  oci_error e;
  assert_int_equal(oci_hash_buffer(OCI_DIGEST_SHA256, data, len, dg, &e), 0);
  oci_registry *r = client(&f, 0, 0), *rc4 = client(&f, 0, 1024);

  /* more than asked, monolithic and chunked: never committed */
  src s = {data, len, 0, 512, len, -1, 0};
  expect(oci_registry_push_blob(r, "over/app", dg, (int64_t)len,
                                overgiving_read, &s, &e),
         &e, OCI_EINVAL, "the source gave more than asked");
  s = (src){data, len, 0, 512, len, -1, 0};
  expect(oci_registry_push_blob(rc4, "over/chunks", dg, (int64_t)len,
                                overgiving_read, &s, &e),
         &e, OCI_EINVAL, "the source gave more than asked");
  assert_int_equal(log_count(&f, "PUT /v2/over/", "-> 201"), 0);

  /* an algorithm the library cannot hash: refused before any request */
  char other[64];
  snprintf(other, sizeof other, "foo:%032d", 0);
  s = (src){data, len, 0, 512, len, -1, 0};
  expect(oci_registry_push_blob(r, "algo/app", other, (int64_t)len, src_read,
                                &s, &e),
         &e, OCI_EUNSUPPORTED, "cannot verify this digest algorithm");
  assert_int_equal(s.calls, 0);
  assert_int_equal(log_count(&f, "POST /v2/algo/app/", ""), 0);

  /* an empty blob: its digest is checked before the upload starts */
  char empty[OCI_DIGEST_STRING_MAX];
  assert_int_equal(oci_hash_buffer(OCI_DIGEST_SHA256, "", 0, empty, &e), 0);
  s = (src){data, 0, 0, 512, 0, -1, 0};
  if (oci_registry_push_blob(r, "empty/app", empty, 0, src_read, &s, &e))
    fail_msg("push_blob of an empty blob: %s", e.message);
  check_stored(r, "empty/app", empty, "", 0);
  s = (src){data, 0, 0, 512, 0, -1, 0};
  expect(oci_registry_push_blob(r, "empty/other", dg, 0, src_read, &s, &e), &e,
         OCI_EMISMATCH, "content does not match its digest");
  assert_int_equal(log_count(&f, "POST /v2/empty/other/", ""), 0);

  oci_registry_free(rc4);
  oci_registry_free(r);
  free(data);
  fake_stop(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_push_blob_source),
      cmocka_unit_test(test_push_blob_not_retried),
      cmocka_unit_test(test_content_type_not_utf8),
      cmocka_unit_test(test_push_blob_edges),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  return skip_exit(rc);
}
