/* Credential sources (csrc/registry/credentials.c): the order of the auth
   files (containers/image's: $REGISTRY_AUTH_FILE alone, else
   $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json,
   $DOCKER_CONFIG/config.json), and Docker credential helpers run from
   PATH: a fake docker-credential-fake script whose behaviour FAKE_MODE
   picks and which logs its argv and stdin to FAKE_LOG. No server: the
   client's chosen credentials are read from its (internal) struct; the
   exchanges with a registry are spec/registry_credentials_spec.lua's. */
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
#include <time.h>
#include <unistd.h>

#include "ocispec/ocispec.h"
#include "registry/registry_internal.h"

#define SCRATCH_NAME "credentials"
#include "../scratch.h"

#define HOST "127.0.0.1:5000"

static void put(const char *rel, const char *content) {
  sh("mkdir -p \"$(dirname '%s')\"", p(rel));
  FILE *f = fopen(p(rel), "wb");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
}

static char *slurp(const char *rel) {
  static char buf[4096];
  FILE *f = fopen(p(rel), "rb");
  if (!f) return strcpy(buf, "");
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* auths entry with base64(user:pw) for pw "pw" */
static char *auths_for(const char *key, const char *user_pw_b64) {
  static char buf[512];
  snprintf(buf, sizeof buf, "{\"auths\":{\"%s\":{\"auth\":\"%s\"}}}", key,
           user_pw_b64);
  return buf;
}

static int env_setup(void **state) {
  if (setup(state)) return -1;
  setenv("HOME", p("home"), 1);
  setenv("XDG_RUNTIME_DIR", p("run"), 1);
  unsetenv("XDG_CONFIG_HOME");
  unsetenv("DOCKER_CONFIG");
  unsetenv("REGISTRY_AUTH_FILE");
  char path[600];
  snprintf(path, sizeof path, "%s:/usr/bin:/bin", p("bin"));
  setenv("PATH", path, 1);
  setenv("FAKE_LOG", p("helper.log"), 1);
  setenv("FAKE_MODE", "ok", 1);
  sh("mkdir -p '%s' '%s' '%s'", p("bin"), p("home"), p("run"));
  put("bin/docker-credential-fake",
      "#!/bin/sh\n"
      "IFS= read -r server\n"
      "printf '%s %s\\n' \"$1\" \"$server\" >> \"$FAKE_LOG\"\n"
      "case \"$FAKE_MODE\" in\n"
      "ok) printf '{\"ServerURL\":\"%s\",\"Username\":\"helper-user\","
      "\"Secret\":\"helper-pw\"}' \"$server\" ;;\n"
      "token) printf '{\"Username\":\"<token>\",\"Secret\":\"id-tok\"}' ;;\n"
      "none) echo 'credentials not found in native keychain'; exit 1 ;;\n"
      "fail) echo 'the keychain is locked' >&2; exit 3 ;;\n"
      "leak) printf '{\"Username\":\"u\",\"Secret\":\"leaked-pw\"}'; "
      "exit 1 ;;\n"
      "sleep) exec sleep 20 ;;\n"
      "linger) sleep 4 & printf '{\"Username\":\"lu\",\"Secret\":\"lp\"}' ;;\n"
      "flood) head -c 300000 /dev/zero ;;\n"
      "garbage) printf '{\"Username\": secret-ish' ;;\n"
      "esac\n");
  sh("chmod +x '%s'", p("bin/docker-credential-fake"));
  return 0;
}

/* A client for HOST (or host) with the default sources; its error in e. */
static int client(const char *host, unsigned timeout_ms, oci_registry **r,
                  oci_error *e) {
  oci_registry_options o;
  oci_registry_options_init(&o);
  o.plain_http = true;
  if (timeout_ms) o.helper_timeout_ms = timeout_ms;
  oci_error_clear(e);
  return oci_registry_new(host, &o, r, e);
}

static const char *user_of(const char *host) {
  static char got[64];
  oci_registry *r;
  oci_error e;
  int rc = client(host, 0, &r, &e);
  if (rc) fail_msg("oci_registry_new: %s", e.message);
  snprintf(got, sizeof got, "%s", r->username ? r->username : "(none)");
  oci_registry_free(r);
  return got;
}

/* "run:pw", "cfg:pw", "docker:pw", "env:pw" */
#define B64_RUN "cnVuOnB3"
#define B64_CFG "Y2ZnOnB3"
#define B64_DOCKER "ZG9ja2VyOnB3"
#define B64_ENV "ZW52OnB3"

static void test_file_order(void **state) {
  (void)state;
  put("run/containers/auth.json", auths_for(HOST, B64_RUN));
  put("home/.config/containers/auth.json", auths_for(HOST, B64_CFG));
  put("home/.docker/config.json", auths_for(HOST, B64_DOCKER));
  assert_string_equal(user_of(HOST), "run");
  /* a file without the host passes on to the next */
  put("run/containers/auth.json", auths_for("other:1", B64_RUN));
  assert_string_equal(user_of(HOST), "cfg");
  unlink(p("home/.config/containers/auth.json"));
  assert_string_equal(user_of(HOST), "docker");
  /* $XDG_CONFIG_HOME and $DOCKER_CONFIG move the two user files */
  put("xdg/containers/auth.json", auths_for(HOST, B64_CFG));
  setenv("XDG_CONFIG_HOME", p("xdg"), 1);
  assert_string_equal(user_of(HOST), "cfg");
  unsetenv("XDG_CONFIG_HOME");
  put("dc/config.json", auths_for(HOST, B64_ENV));
  setenv("DOCKER_CONFIG", p("dc"), 1);
  assert_string_equal(user_of(HOST), "env");
  unsetenv("DOCKER_CONFIG");
  /* $REGISTRY_AUTH_FILE is the only file when set (as in skopeo/podman) */
  put("env-auth.json", auths_for("other:1", B64_ENV));
  setenv("REGISTRY_AUTH_FILE", p("env-auth.json"), 1);
  assert_string_equal(user_of(HOST), "(none)");
  put("env-auth.json", auths_for(HOST, B64_ENV));
  assert_string_equal(user_of(HOST), "env");
  unsetenv("REGISTRY_AUTH_FILE");
  /* a namespace key ("host/ns") is not used for the whole host */
  put("run/containers/auth.json", auths_for(HOST "/team", B64_RUN));
  assert_string_equal(user_of(HOST), "docker");
  /* a malformed file in the chain is an error naming it */
  put("run/containers/auth.json", "{\"auths\": [");
  oci_registry *r;
  oci_error e;
  assert_int_equal(client(HOST, 0, &r, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "run/containers/auth.json"));
  sh("rm -f '%s' '%s'", p("run/containers/auth.json"),
     p("home/.docker/config.json"));
}

static void test_helpers(void **state) {
  (void)state;
  /* credHelpers[host] before credsStore before auths */
  put("home/.docker/config.json",
      "{\"auths\":{\"" HOST "\":{\"auth\":\"" B64_DOCKER "\"}},"
      "\"credHelpers\":{\"" HOST "\":\"fake\"},\"credsStore\":\"absent\"}");
  unlink(p("helper.log"));
  oci_registry *r;
  oci_error e;
  assert_int_equal(client(HOST, 0, &r, &e), OCI_OK);
  assert_string_equal(r->username, "helper-user");
  assert_string_equal(r->password, "helper-pw");
  oci_registry_free(r);
  /* argv[1] is the action, stdin the server */
  assert_string_equal(slurp("helper.log"), "get " HOST "\n");
  /* Docker Hub is asked for under docker's key */
  unlink(p("helper.log"));
  put("home/.docker/config.json", "{\"credsStore\":\"fake\"}");
  assert_string_equal(user_of("docker.io"), "helper-user");
  assert_string_equal(slurp("helper.log"), "get https://index.docker.io/v1/\n");
  /* a helper without credentials passes on to auths */
  setenv("FAKE_MODE", "none", 1);
  put("home/.docker/config.json",
      "{\"auths\":{\"" HOST "\":{\"auth\":\"" B64_DOCKER "\"}},"
      "\"credsStore\":\"fake\"}");
  assert_string_equal(user_of(HOST), "docker");
  /* "<token>": the secret is an identity token */
  setenv("FAKE_MODE", "token", 1);
  assert_int_equal(client(HOST, 0, &r, &e), OCI_OK);
  assert_null(r->username);
  assert_string_equal(r->identity_token, "id-tok");
  oci_registry_free(r);
  setenv("FAKE_MODE", "ok", 1);
}

static void test_helper_failures(void **state) {
  (void)state;
  oci_registry *r;
  oci_error e;
  put("home/.docker/config.json", "{\"credsStore\":\"fake\"}");
  /* its failure is reported with its stderr and exit status */
  setenv("FAKE_MODE", "fail", 1);
  assert_int_equal(client(HOST, 0, &r, &e), OCI_EIO);
  assert_non_null(strstr(e.message, "docker-credential-fake get"));
  assert_non_null(strstr(e.message, "the keychain is locked"));
  assert_non_null(strstr(e.message, "exit status 3"));
  assert_non_null(strstr(e.message, ".docker/config.json"));
  /* credentials printed, then a non-zero exit: a failure, the secret
     not quoted (stdout is the words when stderr is empty) */
  setenv("FAKE_MODE", "leak", 1);
  assert_int_equal(client(HOST, 0, &r, &e), OCI_EIO);
  assert_non_null(strstr(e.message, "exit status 1"));
  assert_null(strstr(e.message, "leaked-pw"));
  assert_non_null(strstr(e.message, "mentions a secret: not shown"));
  /* output that is not the protocol's JSON; no piece of it shown */
  setenv("FAKE_MODE", "garbage", 1);
  assert_int_equal(client(HOST, 0, &r, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "not credentials JSON"));
  assert_null(strstr(e.message, "secret-ish"));
  /* bounded output */
  setenv("FAKE_MODE", "flood", 1);
  assert_int_equal(client(HOST, 0, &r, &e), OCI_ETOOBIG);
  assert_non_null(strstr(e.message, "printed more than"));
  /* a helper that answers and exits, leaving a child that holds its
     stdout: its answer is taken when it exits (it waited for the child,
     past helper_timeout_ms: "no answer within 1500 ms") */
  setenv("FAKE_MODE", "linger", 1);
  time_t t1 = time(NULL);
  assert_int_equal(client(HOST, 1500, &r, &e), OCI_OK);
  assert_true(time(NULL) - t1 < 3);
  assert_string_equal(r->username, "lu");
  oci_registry_free(r);
  /* bounded time: stopped after helper_timeout_ms */
  setenv("FAKE_MODE", "sleep", 1);
  time_t t0 = time(NULL);
  assert_int_equal(client(HOST, 300, &r, &e), OCI_EIO);
  assert_true(time(NULL) - t0 < 5);
  assert_non_null(strstr(e.message, "no answer within 300 ms"));
  setenv("FAKE_MODE", "ok", 1);
  /* not on PATH */
  put("home/.docker/config.json", "{\"credsStore\":\"absent\"}");
  assert_int_equal(client(HOST, 0, &r, &e), OCI_EIO);
  assert_non_null(strstr(e.message, "docker-credential-absent is not on PATH"));
  /* a name that is a path or an option is refused, nothing run */
  put("home/.docker/config.json", "{\"credsStore\":\"../bin/x\"}");
  assert_int_equal(client(HOST, 0, &r, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "not a plain name"));
  put("home/.docker/config.json", "{\"credHelpers\":{\"" HOST "\":\"\"}}");
  assert_int_equal(client(HOST, 0, &r, &e), OCI_EINVAL);
  unlink(p("home/.docker/config.json"));
}

/* A FIFO at a well-known auth file name: refused at once with an error
   naming it, not waited on (open(2) of a FIFO blocks until a writer comes:
   every registry operation hung) */
static void test_auth_file_fifo(void **state) {
  (void)state;
  oci_registry *r;
  oci_error e;
  sh("mkdir -p '%s'", p("run/containers"));
  assert_int_equal(mkfifo(p("run/containers/auth.json"), 0600), 0);
  alarm(10); /* the old code blocked in open(2) here */
  int rc = client(HOST, 0, &r, &e);
  alarm(0);
  assert_int_equal(rc, OCI_EINVAL);
  assert_non_null(strstr(e.message, "containers/auth.json"));
  assert_non_null(strstr(e.message, "not a regular file"));
  unlink(p("run/containers/auth.json"));
  /* and through $REGISTRY_AUTH_FILE, the file named alone */
  assert_int_equal(mkfifo(p("fifo.json"), 0600), 0);
  setenv("REGISTRY_AUTH_FILE", p("fifo.json"), 1);
  alarm(10);
  rc = client(HOST, 0, &r, &e);
  alarm(0);
  unsetenv("REGISTRY_AUTH_FILE");
  assert_int_equal(rc, OCI_EINVAL);
  assert_non_null(strstr(e.message, "not a regular file"));
  /* a document file too: oci_parse_file refuses a FIFO without waiting */
  void *doc = NULL;
  alarm(10);
  rc = oci_parse_file(&oci_type_image_descriptor, p("fifo.json"), NULL, &doc,
                      &e);
  alarm(0);
  assert_int_equal(rc, OCI_EIO);
  assert_non_null(strstr(e.message, "not a regular file"));
  unlink(p("fifo.json"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_file_order),
      cmocka_unit_test(test_helpers),
      cmocka_unit_test(test_helper_failures),
      cmocka_unit_test(test_auth_file_fifo),
  };
  return cmocka_run_group_tests(tests, env_setup, teardown);
}
