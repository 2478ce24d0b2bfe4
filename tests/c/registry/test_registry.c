/* Unit tests for the registry client's parts that need no server:
   WWW-Authenticate challenges (RFC 7235), Link headers (RFC 8288),
   credentials from a Docker config.json, option defaults and argument
   checks. Exchanges with real registries are tested by
   spec/registry_spec.lua (docker-registry on 127.0.0.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ocispec/ocispec.h"
#include "ocispec/platform.h"
#include "registry/registry_internal.h"

static int challenge(const char *s, reg_challenge *c, oci_error *e) {
  oci_error_clear(e);
  return reg_parse_challenge(s, strlen(s), c, e);
}

static void test_challenge_bearer(void **state) {
  (void)state;
  reg_challenge c;
  oci_error e;
  /* the example of distribution's docs/spec/auth/token.md */
  assert_int_equal(challenge("Bearer realm=\"https://auth.docker.io/token\","
                             "service=\"registry.docker.io\","
                             "scope=\"repository:samalba/my-app:pull,push\"",
                             &c, &e),
                   OCI_OK);
  assert_int_equal(c.scheme, REG_AUTH_BEARER);
  assert_string_equal(c.realm, "https://auth.docker.io/token");
  assert_string_equal(c.service, "registry.docker.io");
  assert_string_equal(c.scope, "repository:samalba/my-app:pull,push");
  reg_challenge_free(&c);

  /* case-insensitive names, token values, spaces around '=' and ',',
     escapes in quoted strings, unknown parameters ignored */
  assert_int_equal(challenge("bearer  Realm = \"http://h/t\\\"x\" , "
                             "error=insufficient_scope,service=svc",
                             &c, &e),
                   OCI_OK);
  assert_string_equal(c.realm, "http://h/t\"x");
  assert_string_equal(c.service, "svc");
  assert_null(c.scope);
  reg_challenge_free(&c);
}

static void test_challenge_basic_and_lists(void **state) {
  (void)state;
  reg_challenge c;
  oci_error e;
  assert_int_equal(challenge("Basic realm=\"Registry Realm\"", &c, &e), OCI_OK);
  assert_int_equal(c.scheme, REG_AUTH_BASIC);
  assert_string_equal(c.realm, "Registry Realm");
  reg_challenge_free(&c);

  /* several challenges: the first Basic or Bearer one is taken, after an
     unknown scheme with a token68 or with parameters */
  assert_int_equal(
      challenge("Negotiate abc==, Bearer realm=\"http://a/t\"", &c, &e),
      OCI_OK);
  assert_int_equal(c.scheme, REG_AUTH_BEARER);
  assert_string_equal(c.realm, "http://a/t");
  reg_challenge_free(&c);
  assert_int_equal(
      challenge("Digest realm=\"x\", nonce=\"n\", Basic realm=\"b\"", &c, &e),
      OCI_OK);
  assert_int_equal(c.scheme, REG_AUTH_BASIC);
  assert_string_equal(c.realm, "b");
  reg_challenge_free(&c);
}

static void test_challenge_bad(void **state) {
  (void)state;
  reg_challenge c;
  oci_error e;
  assert_int_equal(challenge("Digest realm=\"x\"", &c, &e), OCI_EUNSUPPORTED);
  assert_non_null(strstr(e.message, "no Basic or Bearer challenge"));
  assert_int_equal(challenge("", &c, &e), OCI_EUNSUPPORTED);
  assert_int_equal(challenge("Bearer service=\"s\"", &c, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "without realm"));
  assert_int_equal(challenge("Bearer realm=\"unterminated", &c, &e),
                   OCI_EINVAL);
  assert_non_null(strstr(e.message, "unterminated quoted string"));
  assert_int_equal(challenge("Bearer realm=\"a\" junk=", &c, &e), OCI_EINVAL);
  assert_int_equal(challenge("\"quoted\"", &c, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "byte 0"));
  assert_null(c.realm);
}

static int link_next(const char *s, char **out, oci_error *e) {
  oci_error_clear(e);
  return reg_parse_link_next(s, strlen(s), out, e);
}

static void test_link(void **state) {
  (void)state;
  char *last;
  oci_error e;
  /* distribution-spec spec.md "Listing Tags" */
  assert_int_equal(
      link_next("</v2/_catalog?last=smoke%2Fa&n=1>; rel=\"next\"", &last, &e),
      OCI_OK);
  assert_string_equal(last, "smoke/a");
  free(last);
  /* the next link among others; rel as a token and as a list */
  assert_int_equal(
      link_next("<http://h/v2/r/tags/list?n=2&last=a>; rel=\"prev\", "
                "</v2/r/tags/list?n=2&last=v%2B1+x>; rel=next",
                &last, &e),
      OCI_OK);
  assert_string_equal(last, "v+1 x");
  free(last);
  assert_int_equal(
      link_next("</v2/r/tags/list?last=b>; rel=\"first next\"", &last, &e),
      OCI_OK);
  assert_string_equal(last, "b");
  free(last);
  /* no next: no marker */
  assert_int_equal(
      link_next("</v2/r/tags/list?last=b>; rel=\"prev\"", &last, &e), OCI_OK);
  assert_null(last);
  assert_int_equal(link_next("", &last, &e), OCI_OK);
  assert_null(last);
  assert_int_equal(link_next("</v2/r/tags/list>; rel=next", &last, &e), OCI_OK);
  assert_null(last);
  /* malformed */
  assert_int_equal(link_next("/v2/x; rel=next", &last, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "expected '<'"));
  assert_int_equal(link_next("</v2/x; rel=next", &last, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "unterminated <URI>"));
}

static void test_options_and_arguments(void **state) {
  (void)state;
  oci_registry_options o;
  oci_registry_options_init(&o);
  assert_true(o.tls_verify);
  assert_int_equal(o.retries, 3);
  assert_false(o.plain_http);
  /* the documented bounds (registry.h); a listing without end meets them */
  assert_int_equal(o.max_fanout, 1000);
  assert_int_equal(o.max_nodes, 10000);
  assert_int_equal(o.max_pages, 1000);
  assert_int_equal(o.max_list_bytes, (size_t)64 << 20);
  {
    oci_registry_options zero = o;
    zero.max_pages = 0;
    zero.max_list_bytes = 0;
    oci_registry *z = NULL;
    oci_error ze;
    assert_int_equal(oci_registry_new("127.0.0.1:5000", &zero, &z, &ze),
                     OCI_OK);
    assert_int_equal(z->o.max_pages, 1000); /* 0: the default */
    assert_int_equal(z->o.max_list_bytes, (size_t)64 << 20);
    oci_registry_free(z);
  }
  o.auth_file = "";
  oci_registry *r = (oci_registry *)1;
  oci_error e;
  oci_error_clear(&e);
  assert_int_equal(oci_registry_new("", &o, &r, &e), OCI_EINVAL);
  assert_null(r);
  assert_int_equal(oci_registry_new("bad host/x", &o, &r, &e), OCI_EINVAL);
  assert_int_equal(oci_registry_new("127.0.0.1:5000", &o, &r, &e), OCI_OK);
  assert_string_equal(oci_registry_host(r), "127.0.0.1:5000");
  assert_string_equal(r->base, "https://127.0.0.1:5000");
  /* argument checks happen before any request */
  oci_registry_manifest m;
  assert_int_equal(
      oci_registry_get_manifest(r, "Upper/case", "v1", NULL, &m, &e),
      OCI_EINVAL);
  assert_int_equal(
      oci_registry_get_manifest(r, "ok/repo", "bad tag!", NULL, &m, &e),
      OCI_EINVAL);
  bool found;
  assert_int_equal(
      oci_registry_has_blob(r, "ok/repo", "sha256:short", &found, NULL, &e),
      OCI_EINVAL);
  oci_registry_stats st;
  oci_registry_get_stats(r, &st);
  assert_int_equal(st.requests, 0);
  /* capabilities: nothing learnt before a request; a struct of another
     version is refused */
  oci_registry_capabilities caps = OCI_REGISTRY_CAPABILITIES_INIT;
  assert_int_equal(oci_registry_get_capabilities(r, &caps, &e), OCI_OK);
  assert_int_equal(caps.referrers, OCI_REGISTRY_CAP_UNKNOWN);
  assert_int_equal(caps.range, OCI_REGISTRY_CAP_UNKNOWN);
  assert_int_equal(caps.mount, OCI_REGISTRY_CAP_UNKNOWN);
  assert_int_equal(caps.deletion, OCI_REGISTRY_CAP_UNKNOWN);
  assert_int_equal(caps.chunk_min, -1);
  oci_registry_capabilities caps0;
  memset(&caps0, 0, sizeof caps0);
  assert_int_equal(oci_registry_get_capabilities(r, &caps0, &e), OCI_EINVAL);
  assert_non_null(
      strstr(e.message, "oci_registry_capabilities: unknown version 0"));
  oci_registry_capabilities_init(&caps0);
  assert_int_equal(caps0.version, OCI_REGISTRY_CAPABILITIES_VERSION);
  assert_int_equal(caps0.chunk_min, -1);
  oci_registry_free(r);

  /* docker.io is reached at registry-1.docker.io */
  assert_int_equal(oci_registry_new("docker.io", &o, &r, &e), OCI_OK);
  assert_string_equal(r->base, "https://registry-1.docker.io");
  oci_registry_free(r);
}

static char *write_temp(const char *content) {
  char *path = strdup("/tmp/ocispec-auth-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, content, strlen(content)),
                   (ssize_t)strlen(content));
  close(fd);
  return path;
}

static void test_auth_file(void **state) {
  (void)state;
  oci_registry_options o;
  oci_registry_options_init(&o);
  oci_registry *r;
  oci_error e;
  oci_error_clear(&e);
  /* base64("alice:s3cr:et") under a URL key, another host's entry ignored */
  char *p = write_temp("{\"auths\":{"
                       "\"other:1\":{\"auth\":\"Ym9iOng=\"},"
                       "\"https://127.0.0.1:5000/v2/\":"
                       "{\"auth\":\"YWxpY2U6czNjcjpldA==\"}}}");
  o.auth_file = p;
  assert_int_equal(oci_registry_new("127.0.0.1:5000", &o, &r, &e), OCI_OK);
  assert_string_equal(r->username, "alice");
  assert_string_equal(r->password, "s3cr:et");
  oci_registry_free(r);
  /* no entry for the host: anonymous */
  assert_int_equal(oci_registry_new("127.0.0.1:5001", &o, &r, &e), OCI_OK);
  assert_null(r->username);
  oci_registry_free(r);
  unlink(p);
  free(p);

  /* username/password members; Docker Hub's index.docker.io key */
  p = write_temp("{\"auths\":{\"https://index.docker.io/v1/\":"
                 "{\"username\":\"u\",\"password\":\"pw\"}}}");
  o.auth_file = p;
  assert_int_equal(oci_registry_new("docker.io", &o, &r, &e), OCI_OK);
  assert_string_equal(r->username, "u");
  assert_string_equal(r->password, "pw");
  oci_registry_free(r);
  /* ... whichever of Docker Hub's names the client is made with */
  assert_int_equal(oci_registry_new("registry-1.docker.io", &o, &r, &e),
                   OCI_OK);
  assert_string_equal(r->username, "u");
  oci_registry_free(r);
  /* explicit credentials win over the file */
  o.username = "x";
  o.password = "y";
  assert_int_equal(oci_registry_new("docker.io", &o, &r, &e), OCI_OK);
  assert_string_equal(r->username, "x");
  oci_registry_free(r);
  o.username = o.password = NULL;
  unlink(p);
  free(p);

  /* bad files: named, and the secret never in the message */
  p = write_temp(
      "{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"bm9jb2xvbg==\"}}}");
  o.auth_file = p;
  assert_int_equal(oci_registry_new("127.0.0.1:5000", &o, &r, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "not base64 of user:password"));
  assert_non_null(strstr(e.message, p));
  assert_null(strstr(e.message, "bm9jb2xvbg"));
  unlink(p);
  free(p);
  p = write_temp("{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"%%%\"}}}");
  o.auth_file = p;
  assert_int_equal(oci_registry_new("127.0.0.1:5000", &o, &r, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "is not base64"));
  unlink(p);
  free(p);
  p = write_temp("{\"auths\": [}");
  o.auth_file = p;
  assert_int_equal(oci_registry_new("127.0.0.1:5000", &o, &r, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "auth file"));
  unlink(p);
  free(p);
  o.auth_file = "/nonexistent/config.json";
  assert_int_equal(oci_registry_new("127.0.0.1:5000", &o, &r, &e), OCI_EIO);
  assert_non_null(strstr(e.message, "/nonexistent/config.json"));
}

/* Item 16: what counts as the registry's own origin. */
static void test_origin(void **state) {
  (void)state;
  assert_true(reg_same_origin("http://127.0.0.1:5000/v2/x/blobs/uploads/1?a",
                              "http://127.0.0.1:5000"));
  assert_true(reg_same_origin("https://GHCR.io/v2/", "https://ghcr.io:443"));
  assert_true(reg_same_origin("http://h/v2/", "http://h:80"));
  assert_true(reg_same_origin("https://[::1]:5000/v2/", "https://[::1]:5000"));
  assert_true(reg_same_origin("http://user:pw@h:1/x", "http://h:1"));
  /* another port, scheme or host is another origin */
  assert_false(
      reg_same_origin("http://127.0.0.1:5001/x", "http://127.0.0.1:5000"));
  assert_false(reg_same_origin("http://h:443/x", "https://h"));
  assert_false(reg_same_origin("https://h.evil/x", "https://h"));
  assert_false(reg_same_origin("https://h@evil/x", "https://h"));
  assert_false(reg_same_origin("https://evil/h", "https://h"));
  assert_false(reg_same_origin("ftp://h/x", "ftp://h/x"));
  assert_false(reg_same_origin("https://[::1/x", "https://[::1/x"));
  /* same host name, any scheme and port */
  assert_true(
      reg_same_host("http://127.0.0.1:7/token", "http://127.0.0.1:5000"));
  assert_false(
      reg_same_host("http://localhost:7/token", "http://127.0.0.1:5000"));
  assert_false(reg_same_host("http://127.0.0.10/t", "http://127.0.0.1"));
}

/* Items 15, 17, 19: header values, escaping, message shaping. */
static void test_header_values_and_messages(void **state) {
  (void)state;
  oci_error e;
  assert_int_equal(reg_check_header_value("v", "Bearer abc.def-_~+/=", &e),
                   OCI_OK);
  const char *bad[] = {"a\r\nX-Injected: 1", "a\nb", "a\tb", "a\x01", "a\x7f"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(reg_check_header_value("the token", bad[i], &e),
                     OCI_EINVAL);
    assert_non_null(strstr(e.message, "the token holds a control character"));
    assert_null(strstr(e.message, "Injected")); /* never quoted back */
  }
  assert_int_equal(reg_check_url("u", "http://h/a b", &e), OCI_EINVAL);
  assert_int_equal(reg_check_url("u", "http://h/a?b=c", &e), OCI_OK);

  char out[64];
  reg_escape("a\x1b[2J\r\n\tz\x7f", 10, out, sizeof out);
  assert_string_equal(out, "a\\x1b[2J\\r\\n\\tz\\x7f");
  reg_escape("\x01\x01\x01", 3, out, 6); /* cut between escapes, not inside */
  assert_string_equal(out, "\\x01");

  assert_int_equal(reg_url_shown("http://h/v2/x?_state=secret"), 13);
  reg_fail(&e, OCI_EREGISTRY, "PUT", "http://h/v2/x/blobs/uploads/1?_state=s",
           "HTTP %d: %s", 400, "DIGEST_INVALID");
  assert_string_equal(e.message, "PUT http://h/v2/x/blobs/uploads/1: HTTP 400: "
                                 "DIGEST_INVALID");
  /* a URL too long for the message gives way in its middle */
  char url[600];
  snprintf(url, sizeof url, "http://h/v2/%0400d/blobs/uploads/END?q=%0100d", 0,
           0);
  reg_fail(&e, OCI_EREGISTRY, "PUT", url, "HTTP 400: DIGEST_INVALID: %s",
           "provided digest did not match uploaded content");
  assert_true(strlen(e.message) <= OCI_ERROR_MESSAGE_MAX - 1);
  assert_non_null(strstr(e.message, "PUT http://h/v2/000"));
  assert_non_null(strstr(e.message, "...0000"));
  assert_non_null(strstr(e.message, "/blobs/uploads/END: HTTP 400: "
                                    "DIGEST_INVALID: provided digest did not "
                                    "match uploaded content"));
  assert_null(strstr(e.message, "q="));
}

/* The one platform rule (layout resolve and registry pull). */
static void test_platform_rule(void **state) {
  (void)state;
  assert_true(
      oci_platform_matches("linux", "amd64", "v2", "linux", "amd64", NULL));
  assert_true(
      oci_platform_matches("linux", "amd64", NULL, "linux", "amd64", "v3"));
  assert_true(oci_platform_matches(NULL, NULL, NULL, "linux", "arm64", "v8"));
  assert_false(
      oci_platform_matches("linux", "arm", "v7", "linux", "arm", "v6"));
  assert_false(
      oci_platform_matches("linux", "amd64", NULL, "linux", "arm64", NULL));
  assert_false(
      oci_platform_matches("linux", "amd64", NULL, NULL, "amd64", NULL));
}

static void test_status_names(void **state) {
  (void)state;
  assert_string_equal(oci_status_name(OCI_EREGISTRY), "registry");
  assert_string_equal(oci_status_name(OCI_ENETWORK), "network");
  assert_string_equal(oci_status_name(OCI_ECANCELED), "canceled");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_challenge_bearer),
      cmocka_unit_test(test_challenge_basic_and_lists),
      cmocka_unit_test(test_challenge_bad),
      cmocka_unit_test(test_link),
      cmocka_unit_test(test_options_and_arguments),
      cmocka_unit_test(test_auth_file),
      cmocka_unit_test(test_status_names),
      cmocka_unit_test(test_origin),
      cmocka_unit_test(test_header_values_and_messages),
      cmocka_unit_test(test_platform_rule),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
