/* Unit tests for csrc/schema/reference.c: every vector of oci-spec-rs's
   Reference tests (shared/reference/oci-spec-rs.md, section 3.7), then the
   cases where ocispec deliberately differs (reference.h), constructors, mirrors
   and allocation failures.

   Allocation failures need the link option -Wl,--wrap=malloc; without it
   test_enomem is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocispec/reference.h"

#define F32 "ffffffffffffffffffffffffffffffff"
#define F64 F32 F32
#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- malloc failure injection (test only) ---- */

void *__real_malloc(size_t n) __attribute__((weak));
void *__wrap_malloc(size_t n);
static long malloc_countdown = -1; /* the Nth malloc from now fails */

void *__wrap_malloc(size_t n) {
  if (malloc_countdown == 0) {
    malloc_countdown = -1;
    return NULL;
  }
  if (malloc_countdown > 0) malloc_countdown--;
  return __real_malloc(n);
}

/* ---- helpers ---- */

static oci_reference *parse_ok(const char *s) {
  oci_reference *r = NULL;
  oci_error err;
  oci_error_clear(&err);
  if (oci_reference_parse(s, strlen(s), &r, &err) != 0)
    fail_msg("expected \"%s\" to parse: %s", s, err.message);
  assert_non_null(r);
  return r;
}

static void assert_opt_string(const char *got, const char *want,
                              const char *what, const char *in) {
  if (!want && !got) return;
  if (!want || !got || strcmp(want, got) != 0)
    fail_msg("%s: %s is \"%s\", want \"%s\"", in, what, got ? got : "(null)",
             want ? want : "(null)");
}

static void expect_fail(const char *s, size_t len, int code, const char *why) {
  oci_reference *r = (oci_reference *)&r; /* must be reset to NULL */
  oci_error err;
  int rc;
  oci_error_clear(&err);
  rc = oci_reference_parse(s, len, &r, &err);
  if (rc != code)
    fail_msg("\"%s\": expected code %d, got %d (%s)", s, code, rc, err.message);
  assert_null(r);
  assert_int_equal(err.code, code);
  if (!strstr(err.message, why))
    fail_msg("message for \"%s\" lacks \"%s\": %s", s, why, err.message);
  assert_int_equal(oci_reference_parse(s, len, &r, NULL), code);
}

typedef struct good_case {
  const char *in, *registry, *repository, *tag, *digest, *whole;
} good_case;

typedef struct bad_case {
  const char *in;
  int code;
  const char *why;
} bad_case;

static void run_good(const good_case *list) {
  for (; list->in; list++) {
    oci_reference *r = parse_ok(list->in);
    char *whole = oci_reference_to_string(r);
    assert_opt_string(r->registry, list->registry, "registry", list->in);
    assert_opt_string(r->repository, list->repository, "repository", list->in);
    assert_opt_string(r->tag, list->tag, "tag", list->in);
    assert_opt_string(r->digest, list->digest, "digest", list->in);
    assert_null(r->mirror_registry);
    assert_non_null(whole);
    if (list->whole) assert_opt_string(whole, list->whole, "whole", list->in);
    /* whole() parses back to the same reference */
    {
      oci_reference *again = parse_ok(whole);
      char *whole2 = oci_reference_to_string(again);
      assert_string_equal(whole, whole2);
      free(whole2);
      oci_reference_free(again);
    }
    free(whole);
    oci_reference_free(r);
  }
}

static void run_bad(const bad_case *list) {
  for (; list->in; list++)
    expect_fail(list->in, strlen(list->in), list->code, list->why);
}

/* ---- oci-spec-rs vectors ---- */

static void test_rs_good(void **state) {
  static const good_case good[] = {
      {"busybox", "docker.io", "library/busybox", "latest", NULL,
       "docker.io/library/busybox:latest"},
      {"test.com:tag", "docker.io", "library/test.com", "tag", NULL, NULL},
      {"test.com:5000", "docker.io", "library/test.com", "5000", NULL, NULL},
      {"test.com/repo:tag", "test.com", "repo", "tag", NULL,
       "test.com/repo:tag"},
      {"test:5000/repo", "test:5000", "repo", "latest", NULL,
       "test:5000/repo:latest"},
      {"test:5000/repo:tag", "test:5000", "repo", "tag", NULL, NULL},
      {"test:5000/repo@sha256:" F64, "test:5000", "repo", NULL, "sha256:" F64,
       "test:5000/repo@sha256:" F64},
      {"test:5000/repo:tag@sha256:" F64, "test:5000", "repo", "tag",
       "sha256:" F64, "test:5000/repo:tag@sha256:" F64},
      {"lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase",
       NULL, NULL},
      {"sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux",
       "latest", NULL, NULL},
      {"sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com",
       "bar/baz/quux", "some-long-tag", NULL, NULL},
      {"b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io",
       "test.example.com/my-app", "test.example.com", NULL, NULL},
      {"xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage",
       "xn--n3h.com", NULL, NULL},
      {"xn--7o8h.com/myimage:xn--7o8h.com@sha512:" F64 F64, "xn--7o8h.com",
       "myimage", "xn--7o8h.com", "sha512:" F64 F64, NULL},
      {"foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080", NULL,
       NULL},
      {"foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080", NULL,
       NULL},
      {"opensuse/leap:15.3", "docker.io", "opensuse/leap", "15.3", NULL,
       "docker.io/opensuse/leap:15.3"},
      {NULL, NULL, NULL, NULL, NULL, NULL}};
  (void)state;
  run_good(good);
}

static void test_rs_bad(void **state) {
  char s[300];
  static const bad_case bad[] = {
      {"", OCI_EINVAL, "reference \"\": is empty"}, /* NameEmpty */
      {":justtag", OCI_EINVAL,
       "repository name before the tag or digest is empty"},
      {"@sha256:" F64, OCI_EINVAL,
       "repository name before the tag or digest is empty"},
      /* DigestInvalidLength */
      {"repo@sha256:" F32 "ff", OCI_EINVAL,
       "encoded part must be 64 lowercase hex characters for sha256, got 34"},
      /* DigestUnsupported */
      {"validname@invaliddigest:" F64, OCI_EUNSUPPORTED,
       "digest \"invaliddigest:ffff"},
      {"Uppercase:tag", OCI_EINVAL,
       "reference \"Uppercase:tag\": repository name \"Uppercase\": invalid "
       "character \"U\" at offset 0, uppercase is not allowed"},
      {"test:5000/Uppercase/lowercase:tag", OCI_EINVAL,
       "repository name \"Uppercase/lowercase\": invalid character \"U\""},
      {"aa/asdf$$^/aa", OCI_EINVAL,
       "repository name \"aa/asdf$$^/aa\": invalid character \"$\" at offset "
       "7"},
      {NULL, 0, NULL}};
  (void)state;
  run_bad(bad);
  expect_fail("validname@invaliddigest:" F64,
              strlen("validname@invaliddigest:" F64), OCI_EUNSUPPORTED,
              "algorithm is not supported in a reference");
  /* NameTooLong: 256 "a" become "library/" + 256 */
  memset(s, 'a', 256);
  s[256] = '\0';
  expect_fail(s, 256, OCI_ETOOBIG, "repository \"library/aaaa");
  expect_fail(s, 256, OCI_ETOOBIG, "is 264 characters, at most 255 allowed");
}

/* ---- where ocispec differs (reference.h) ---- */

static void test_own_good(void **state) {
  static const good_case good[] = {
      /* blake3 is registered (I-DIG-4) */
      {"repo@blake3:" HEX64, "docker.io", "library/repo", NULL, "blake3:" HEX64,
       "docker.io/library/repo@blake3:" HEX64},
      /* IPv6 registries, as docker/distribution */
      {"[::1]:5000/repo:tag", "[::1]:5000", "repo", "tag", NULL, NULL},
      {"[::1]/repo", "[::1]", "repo", "latest", NULL, NULL},
      {"[2001:db8::1]:443/a/b@sha256:" HEX64, "[2001:db8::1]:443", "a/b", NULL,
       "sha256:" HEX64, NULL},
      /* normalisation */
      {"localhost/repo", "localhost", "repo", "latest", NULL, NULL},
      {"localhost:5000/a/b:t", "localhost:5000", "a/b", "t", NULL, NULL},
      {"localhost:5000", "docker.io", "library/localhost", "5000", NULL, NULL},
      {"index.docker.io/foo", "docker.io", "library/foo", "latest", NULL, NULL},
      {"index.docker.io/foo/bar", "docker.io", "foo/bar", "latest", NULL, NULL},
      {"docker.io/library/busybox:1", "docker.io", "library/busybox", "1", NULL,
       NULL},
      {"docker.io/busybox", "docker.io", "library/busybox", "latest", NULL,
       NULL},
      {"foo.com", "docker.io", "library/foo.com", "latest", NULL, NULL},
      {"UPPER.com/repo", "UPPER.com", "repo", "latest", NULL, NULL},
      {"a/b", "docker.io", "a/b", "latest", NULL, NULL},
      {"a__b---c/d.e", "docker.io", "a__b---c/d.e", "latest", NULL, NULL},
      {"r:_", "docker.io", "library/r", "_", NULL, NULL},
      {"192.168.1.1:5000/x", "192.168.1.1:5000", "x", "latest", NULL, NULL},
      {NULL, NULL, NULL, NULL, NULL, NULL}};
  char s[400], tag[130];
  oci_reference *r;
  (void)state;
  run_good(good);
  /* a 128-character tag is the longest (D-TAG-1) */
  memset(tag, 'T', 128);
  tag[128] = '\0';
  snprintf(s, sizeof s, "repo:%s", tag);
  r = parse_ok(s);
  assert_string_equal(r->tag, tag);
  oci_reference_free(r);
  /* repositories of exactly 255 characters, with and without "library/" */
  memset(s, 'a', 247);
  s[247] = '\0';
  r = parse_ok(s);
  assert_int_equal(strlen(r->repository), 255);
  oci_reference_free(r);
  snprintf(s, sizeof s, "example.com/%0255d", 0);
  r = parse_ok(s);
  assert_int_equal(strlen(r->repository), 255);
  oci_reference_free(r);
}

static void test_own_bad(void **state) {
  static const bad_case bad[] = {
      /* oci-spec-rs accepts these four */
      {"Foo/bar", OCI_EINVAL,
       "repository name \"Foo/bar\": invalid character \"F\" at offset 0, "
       "uppercase"},
      {"foo_bar.com/x", OCI_EINVAL,
       "registry host \"foo_bar.com\": invalid character \"_\" at offset 3"},
      {"repo:t\xc3\xa4g", OCI_EINVAL,
       "tag \"t\\xc3\\xa4g\": invalid character \"\\xc3\" at offset 1"},
      {"repo@sha256:"
       "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
       OCI_EINVAL, "uppercase hex \"F\" at offset 7 is not allowed for sha256"},
      /* oci-spec-rs accepts sha384; image-spec does not register it */
      {"repo@sha384:" F64 F32, OCI_EUNSUPPORTED,
       "algorithm is not supported in a reference (sha256, sha512, blake3)"},
      {"repo@foo:bar", OCI_EUNSUPPORTED, "algorithm is not supported"},
      /* each part named */
      {"[::g]:5000/repo", OCI_EINVAL,
       "registry host \"[::g]:5000\": \"::g\" is not an IPv6 address"},
      {"host.com:port/repo", OCI_EINVAL,
       "registry host \"host.com:port\": port after \":\" at offset 8 must be "
       "digits"},
      {"-host.com/repo", OCI_EINVAL,
       "registry host \"-host.com\": host component at offset 0 must not "
       "start or end with \"-\""},
      {"a:b:c", OCI_EINVAL,
       "repository name \"a:b\": invalid character \":\" at offset 1"},
      {"a/b:tag:x", OCI_EINVAL,
       "repository name \"a/b:tag\": invalid character \":\" at offset 3"},
      {"repo:", OCI_EINVAL, "tag \"\": is empty"},
      {"repo:.x", OCI_EINVAL, "tag \".x\": must start with a letter"},
      {"repo@", OCI_EINVAL, "digest \"\": is empty"},
      {"repo:tag@", OCI_EINVAL, "digest \"\": is empty"},
      {"repo@sha256", OCI_EINVAL, "missing \":\" between algorithm"},
      {"repo@sha256:" HEX64 "@x", OCI_EINVAL,
       "invalid character \"@\" at offset 71 in encoded part"},
      {"a//b", OCI_EINVAL, "separator \"/\" at offset 2"},
      {"foo.com/", OCI_EINVAL, "repository name \"\": is empty"},
      {"foo.com/:tag", OCI_EINVAL, "repository name \"\": is empty"},
      {" busybox", OCI_EINVAL, "invalid character \" \" at offset 0"},
      {"busybox ", OCI_EINVAL, "invalid character \" \" at offset 7"},
      {"[::1]:5000", OCI_EINVAL, "repository name \"[::1]\""},
      {"a/b@sha256:" F64 ":tag", OCI_EINVAL,
       "invalid character \":\" at offset 71 in encoded"},
      {NULL, 0, NULL}};
  char s[400], tag[140];
  (void)state;
  run_bad(bad);
  memset(tag, 'T', 129);
  tag[129] = '\0';
  snprintf(s, sizeof s, "repo:%s", tag);
  expect_fail(s, strlen(s), OCI_EINVAL, "is 129 characters, at most 128");
  memset(s, 'a', 248);
  s[248] = '\0';
  expect_fail(s, 248, OCI_ETOOBIG, "is 256 characters, at most 255");
  snprintf(s, sizeof s, "example.com/%0256d", 0);
  expect_fail(s, strlen(s), OCI_ETOOBIG, "is 256 characters");
  /* len bounds the input: no NUL needed, and a NUL is a bad byte */
  expect_fail("busybox\0x", 9, OCI_EINVAL,
              "invalid character \"\\x00\" at offset 7");
  {
    oci_reference *r = NULL;
    assert_int_equal(oci_reference_parse("busyboxXYZ", 7, &r, NULL), 0);
    assert_string_equal(r->repository, "library/busybox");
    oci_reference_free(r);
  }
}

/* ---- constructors, mirror, rendering ---- */

static void test_new(void **state) {
  oci_reference *r = NULL;
  oci_error err;
  char *s;
  (void)state;
  assert_int_equal(oci_reference_new("quay.io", "a/b", "v1", NULL, &r, NULL),
                   0);
  s = oci_reference_to_string(r);
  assert_string_equal(s, "quay.io/a/b:v1");
  assert_null(r->digest);
  free(s);
  oci_reference_free(r);

  assert_int_equal(
      oci_reference_new("quay.io", "a", NULL, "sha256:" HEX64, &r, NULL), 0);
  s = oci_reference_to_string(r);
  assert_string_equal(s, "quay.io/a@sha256:" HEX64);
  assert_null(r->tag);
  free(s);
  oci_reference_free(r);

  assert_int_equal(
      oci_reference_new("localhost:5000", "a", "t", "sha256:" HEX64, &r, NULL),
      0);
  s = oci_reference_to_string(r);
  assert_string_equal(s, "localhost:5000/a:t@sha256:" HEX64);
  free(s);
  oci_reference_free(r);

  /* parts as given: no docker.io normalisation */
  assert_int_equal(
      oci_reference_new("docker.io", "busybox", "latest", NULL, &r, NULL), 0);
  assert_string_equal(r->repository, "busybox");
  assert_string_equal(oci_reference_resolve_registry(r), "index.docker.io");
  oci_reference_free(r);

  {
    static const struct {
      const char *registry, *repo, *tag, *digest;
      int code;
      const char *why;
    } bad[] = {
        {"quay.io", "a", NULL, NULL, OCI_EINVAL,
         "reference to repository \"a\": needs a tag, a digest or both"},
        {"", "a", "t", NULL, OCI_EINVAL, "registry host \"\": is empty"},
        {"quay.io/x", "a", "t", NULL, OCI_EINVAL,
         "registry host \"quay.io/x\": invalid character \"/\""},
        {"quay.io", "A", "t", NULL, OCI_EINVAL,
         "repository name \"A\": invalid character \"A\""},
        {"quay.io", "", "t", NULL, OCI_EINVAL,
         "repository name \"\": is empty"},
        {"quay.io", "a", "", NULL, OCI_EINVAL, "tag \"\": is empty"},
        {"quay.io", "a", "a:b", NULL, OCI_EINVAL, "tag \"a:b\": invalid"},
        {"quay.io", "a", NULL, "sha256:abc", OCI_EINVAL, "got 3"},
        {"quay.io", "a", NULL, "md5:abc", OCI_EUNSUPPORTED, "not supported"},
    };
    size_t k;
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
      r = (oci_reference *)&r;
      oci_error_clear(&err);
      assert_int_equal(oci_reference_new(bad[k].registry, bad[k].repo,
                                         bad[k].tag, bad[k].digest, &r, &err),
                       bad[k].code);
      assert_null(r);
      if (!strstr(err.message, bad[k].why))
        fail_msg("case %zu: message lacks \"%s\": %s", k, bad[k].why,
                 err.message);
    }
  }
  /* a 256-character repository */
  {
    char repo[257];
    memset(repo, 'a', 256);
    repo[256] = '\0';
    oci_error_clear(&err);
    assert_int_equal(oci_reference_new("quay.io", repo, "t", NULL, &r, &err),
                     OCI_ETOOBIG);
    assert_non_null(strstr(err.message, "is 256 characters"));
    repo[255] = '\0';
    assert_int_equal(oci_reference_new("quay.io", repo, "t", NULL, &r, &err),
                     0);
    oci_reference_free(r);
  }
}

static void test_mirror(void **state) {
  oci_reference *r = parse_ok("busybox"), *c = NULL;
  oci_error err;
  char *before = oci_reference_to_string(r), *after;
  (void)state;
  assert_string_equal(oci_reference_resolve_registry(r), "index.docker.io");
  assert_int_equal(oci_reference_set_mirror(r, "docker.mirror.io", NULL), 0);
  assert_string_equal(r->mirror_registry, "docker.mirror.io");
  assert_string_equal(oci_reference_resolve_registry(r), "docker.mirror.io");
  assert_string_equal(r->registry, "docker.io"); /* namespace() */
  after = oci_reference_to_string(r);
  assert_string_equal(before, after); /* whole() ignores the mirror */
  free(after);

  /* a bad mirror leaves r as it was */
  oci_error_clear(&err);
  assert_int_equal(oci_reference_set_mirror(r, "bad host!", &err), OCI_EINVAL);
  assert_non_null(strstr(err.message, "registry host \"bad host!\""));
  assert_string_equal(r->mirror_registry, "docker.mirror.io");

  /* clone_with_digest keeps registry and mirror, drops the tag */
  assert_int_equal(
      oci_reference_clone_with_digest(r, "sha256:" HEX64, &c, NULL), 0);
  assert_string_equal(c->registry, "docker.io");
  assert_string_equal(c->repository, "library/busybox");
  assert_null(c->tag);
  assert_string_equal(c->digest, "sha256:" HEX64);
  assert_string_equal(c->mirror_registry, "docker.mirror.io");
  assert_ptr_not_equal(c->mirror_registry, r->mirror_registry);
  oci_reference_free(c);
  c = (oci_reference *)&c;
  oci_error_clear(&err);
  assert_int_equal(oci_reference_clone_with_digest(r, "sha256:xyz", &c, &err),
                   OCI_EINVAL);
  assert_null(c);
  assert_non_null(strstr(err.message, "digest \"sha256:xyz\""));

  /* NULL clears; other registries resolve to themselves */
  assert_int_equal(oci_reference_set_mirror(r, NULL, NULL), 0);
  assert_null(r->mirror_registry);
  assert_string_equal(oci_reference_resolve_registry(r), "index.docker.io");
  oci_reference_free(r);
  r = parse_ok("test.com/repo");
  assert_string_equal(oci_reference_resolve_registry(r), "test.com");
  assert_int_equal(oci_reference_set_mirror(r, "[::1]:5000", NULL), 0);
  assert_string_equal(oci_reference_resolve_registry(r), "[::1]:5000");
  assert_int_equal(oci_reference_set_mirror(r, "m.io", NULL), 0); /* again */
  assert_string_equal(oci_reference_resolve_registry(r), "m.io");
  oci_reference_free(r);
  free(before);
  oci_reference_free(NULL);
}

/* Display skips empty parts and the separators they would need. */
static void test_to_string_rule(void **state) {
  char e[] = "";
  char reg[] = "r.io", repo[] = "x", tag[] = "t", dig[] = "sha256:" HEX64;
  oci_reference r = {e, repo, tag, NULL, NULL};
  char *s;
  (void)state;
  s = oci_reference_to_string(&r);
  assert_string_equal(s, "x:t");
  free(s);
  r.registry = reg;
  r.repository = e;
  r.tag = NULL;
  r.digest = dig;
  s = oci_reference_to_string(&r);
  assert_string_equal(s, "r.io@sha256:" HEX64);
  free(s);
}

/* snprintf-style: full length returned, output cut and NUL-ended. */
static void test_format(void **state) {
  oci_reference *r = parse_ok("quay.io/a/b:t");
  char buf[32];
  (void)state;
  assert_int_equal(oci_reference_format(r, NULL, 0), 13);
  memset(buf, 'X', sizeof buf);
  assert_int_equal(oci_reference_format(r, buf, sizeof buf), 13);
  assert_string_equal(buf, "quay.io/a/b:t");
  assert_int_equal(oci_reference_format(r, buf, 14), 13);
  assert_string_equal(buf, "quay.io/a/b:t");
  memset(buf, 'X', sizeof buf);
  assert_int_equal(oci_reference_format(r, buf, 13), 13);
  assert_string_equal(buf, "quay.io/a/b:");
  assert_int_equal(oci_reference_format(r, buf, 9), 13);
  assert_string_equal(buf, "quay.io/");
  assert_int_equal(oci_reference_format(r, buf, 1), 13);
  assert_string_equal(buf, "");
  buf[0] = 'X';
  assert_int_equal(oci_reference_format(r, buf, 0), 13);
  assert_int_equal(buf[0], 'X');
  oci_reference_free(r);
}

/* ---- allocation failures ---- */

typedef int (*alloc_op)(oci_reference *base, oci_reference **out,
                        oci_error *err);

static int op_parse(oci_reference *base, oci_reference **out, oci_error *err) {
  (void)base;
  return oci_reference_parse("quay.io/a/b:t@sha256:" HEX64,
                             strlen("quay.io/a/b:t@sha256:" HEX64), out, err);
}

static int op_new(oci_reference *base, oci_reference **out, oci_error *err) {
  (void)base;
  return oci_reference_new("quay.io", "a", "t", NULL, out, err);
}

static int op_clone(oci_reference *base, oci_reference **out, oci_error *err) {
  return oci_reference_clone_with_digest(base, "sha256:" HEX64, out, err);
}

static int op_set_mirror(oci_reference *base, oci_reference **out,
                         oci_error *err) {
  int rc = oci_reference_set_mirror(base, "new.mirror.io", err);
  *out = NULL;
  if (rc) assert_string_equal(base->mirror_registry, "m.io"); /* unchanged */
  return rc;
}

/* Fails the 1st, 2nd, ... allocation of op until op needs no more; each
   failure must be OCI_ENOMEM with nothing returned (ASan finds leaks). */
static void fail_each_malloc(alloc_op op, oci_reference *base) {
  long n;
  for (n = 0;; n++) {
    oci_reference *out = (oci_reference *)&out;
    oci_error err;
    int rc;
    oci_error_clear(&err);
    malloc_countdown = n;
    rc = op(base, &out, &err);
    malloc_countdown = -1;
    if (rc == 0) {
      oci_reference_free(out);
      break;
    }
    assert_int_equal(rc, OCI_ENOMEM);
    assert_null(out);
    assert_non_null(strstr(err.message, "out of memory"));
  }
  assert_true(n > 0);
}

static void test_enomem(void **state) {
  oci_reference *base = NULL;
  (void)state;
  malloc_countdown = 0;
  if (oci_reference_new("a.io", "b", "c", NULL, &base, NULL) == 0) {
    malloc_countdown = -1;
    oci_reference_free(base);
    /* not linked with -Wl,--wrap=malloc: a failure, not a skip, since
       CMakeLists.txt always links test_reference so */
    fail_msg("malloc is not wrapped: link with -Wl,--wrap=malloc");
  }
  fail_each_malloc(op_parse, NULL);
  fail_each_malloc(op_new, NULL);
  base = parse_ok("busybox");
  assert_int_equal(oci_reference_set_mirror(base, "m.io", NULL), 0);
  fail_each_malloc(op_clone, base);
  fail_each_malloc(op_set_mirror, base);
  malloc_countdown = 0;
  assert_null(oci_reference_to_string(base));
  malloc_countdown = -1;
  oci_reference_free(base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rs_good),
      cmocka_unit_test(test_rs_bad),
      cmocka_unit_test(test_own_good),
      cmocka_unit_test(test_own_bad),
      cmocka_unit_test(test_new),
      cmocka_unit_test(test_mirror),
      cmocka_unit_test(test_to_string_rule),
      cmocka_unit_test(test_format),
      cmocka_unit_test(test_enomem),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
