/* Unit tests for csrc/image/conversion.c (oci_runtime_spec_from_image_config,
   image-spec conversion.md): the fields it sets, user and group resolution
   from a rootfs written here (hostile /etc files included), options, and
   an allocation-failure sweep. The binary is linked with
   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (CMakeLists.txt): every
   allocation of the static library goes through the wrappers below, which
   can fail the Nth one; each must give OCI_ENOMEM, *out NULL, and no leak
   (ASan's leak checker in the sanitizer build). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ocispec/conversion.h"
#include "ocispec/runtime.h"
#include "ocispec/types.h"

#include "../alloc_wrap.h"

/* ---- a scratch directory with a rootfs ---- */

#define SCRATCH_NAME "conversion"
#include "../scratch.h"

static void put(const char *rel, const char *data, size_t len) {
  FILE *f = fopen(p(rel), "wb");
  if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
    fail_msg("cannot write %s", rel);
}
#define PUT(rel, lit) put(rel, lit, sizeof lit - 1)

static const char PASSWD[] = "root:x:0:0:root:/root:/bin/sh\n"
                             "# a comment: app:x:1:1\n"
                             "\n"
                             "app:x:1000:1001::/home/app:/bin/sh\r\n"
                             "nonum:x:abc:1\n"
                             "short:x\n"
                             "big:x:4294967296:1\n"
                             "nogid:x:1234:zz\n"
                             "last:x:77:78"; /* no final newline */
static const char GROUP[] = "root:x:0:\n"
                            "app:x:1001:\n"
                            "wheel:x:10:bob,app\n"
                            "audio:x:29:app\n"
                            "audio2:x:29:app,app\n" /* same gid again */
                            "own:x:1001:app\n"      /* the primary group */
                            "bad:x:zz:app\n"        /* not numeric: skipped */
                            "video:x:44:application,ap,,app\r\n";

static void make_rootfs(const char *rel) {
  sh("mkdir -p '%s/etc'", p(rel));
  char path[300];
  snprintf(path, sizeof path, "%s/etc/passwd", rel);
  put(path, PASSWD, sizeof PASSWD - 1);
  snprintf(path, sizeof path, "%s/etc/group", rel);
  put(path, GROUP, sizeof GROUP - 1);
}

static oci_image_configuration *config(const char *config_json) {
  char buf[4096];
  int n = snprintf(buf, sizeof buf,
                   "{\"architecture\":\"arm64\",\"os\":\"linux\","
                   "\"variant\":\"v8\",\"os.version\":\"6.1\","
                   "\"os.features\":[\"a\",\"b\"],\"author\":\"me\","
                   "\"created\":\"2024-01-02T03:04:05Z\",\"rootfs\":{"
                   "\"type\":\"layers\",\"diff_ids\":[]}%s%s}",
                   config_json ? ",\"config\":" : "",
                   config_json ? config_json : "");
  assert_true(n > 0 && (size_t)n < sizeof buf);
  oci_image_configuration *c;
  oci_error err;
  if (oci_image_configuration_parse(buf, (size_t)n, NULL, &c, &err))
    fail_msg("bad test config: %s", err.message);
  return c;
}

static oci_runtime_spec *convert(const oci_image_configuration *c,
                                 const char *rootfs) {
  oci_conversion_options o = OCI_CONVERSION_OPTIONS_INIT;
  o.rootfs = rootfs;
  oci_runtime_spec *s;
  oci_error err;
  if (oci_runtime_spec_from_image_config(c, &o, &s, &err))
    fail_msg("conversion failed: %s", err.message);
  return s;
}

static const char *ann(const oci_runtime_spec *s, const char *key) {
  if (!oci_is_present(s, OCI_F_runtime_spec_annotations)) return NULL;
  for (size_t i = 0; i < s->annotations.len; i++)
    if (strcmp(s->annotations.keys[i], key) == 0)
      return s->annotations.values[i];
  return NULL;
}

static void assert_strs(const oci_str_array *a, const char *const *want,
                        size_t n) {
  assert_int_equal(a->len, n);
  for (size_t i = 0; i < n; i++)
    assert_string_equal(a->items[i], want[i]);
}

/* ---- the fields ---- */

static void test_process_fields(void **state) {
  (void)state;
  oci_image_configuration *c = config(
      "{\"WorkingDir\":\"/srv\",\"Env\":[\"PATH=/bin\",\"A=1\","
      "\"TERM=dumb\"],\"Entrypoint\":[\"/bin/app\"],\"Cmd\":[\"--flag\"]}");
  oci_runtime_spec *s = convert(c, NULL);
  const oci_runtime_process *pr = s->process;
  assert_string_equal(pr->cwd, "/srv");
  static const char *const args[] = {"/bin/app", "--flag"};
  assert_strs(&pr->args, args, 2);
  /* the default TERM=xterm goes: the image names TERM */
  static const char *const env[] = {"PATH=/bin", "A=1", "TERM=dumb"};
  assert_strs(&pr->env, env, 3);
  assert_true(oci_is_present(pr, OCI_F_runtime_process_terminal));
  assert_false(pr->terminal);
  /* no User: the base's user stays */
  assert_int_equal(pr->user->uid, 0);
  oci_problems probs;
  assert_int_equal(oci_runtime_spec_validate(s, &probs), OCI_OK);
  oci_problems_free(&probs);
  oci_free(s);
  oci_free(c);

  /* Cmd alone; an empty Entrypoint and Cmd keep the default args; an empty
     WorkingDir is "/"; Env keeps the defaults the image does not name */
  c = config("{\"Cmd\":[\"sh\",\"-c\",\"x\"],\"Env\":[\"A=1\"]}");
  s = convert(c, NULL);
  static const char *const cmd[] = {"sh", "-c", "x"};
  assert_strs(&s->process->args, cmd, 3);
  static const char *const env2[] = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "TERM=xterm", "A=1"};
  assert_strs(&s->process->env, env2, 3);
  oci_free(s);
  oci_free(c);
  c = config("{\"Entrypoint\":[],\"Cmd\":[],\"WorkingDir\":\"\"}");
  s = convert(c, NULL);
  static const char *const sh_[] = {"sh"};
  assert_strs(&s->process->args, sh_, 1);
  assert_string_equal(s->process->cwd, "/");
  oci_free(s);
  oci_free(c);
  /* no config at all, and a null one */
  c = config(NULL);
  s = convert(c, NULL);
  assert_strs(&s->process->args, sh_, 1);
  assert_string_equal(s->process->cwd, "/");
  assert_false(s->process->terminal);
  oci_free(s);
  oci_free(c);
  c = config("null");
  s = convert(c, NULL);
  assert_string_equal(s->process->cwd, "/");
  oci_free(s);
  oci_free(c);
}

static void test_annotations(void **state) {
  (void)state;
  oci_image_configuration *c =
      config("{\"StopSignal\":\"SIGINT\",\"ExposedPorts\":{\"80/tcp\":{},"
             "\"53/udp\":{}},\"Labels\":{\"org.opencontainers.image.author\":"
             "\"label wins\",\"x\":\"y\",\"a\":\"b\"}}");
  oci_runtime_spec *s = convert(c, NULL);
  assert_string_equal(ann(s, "org.opencontainers.image.os"), "linux");
  assert_string_equal(ann(s, "org.opencontainers.image.architecture"), "arm64");
  assert_string_equal(ann(s, "org.opencontainers.image.variant"), "v8");
  assert_string_equal(ann(s, "org.opencontainers.image.os.version"), "6.1");
  assert_string_equal(ann(s, "org.opencontainers.image.os.features"), "a,b");
  assert_string_equal(ann(s, "org.opencontainers.image.created"),
                      "2024-01-02T03:04:05Z");
  assert_string_equal(ann(s, "org.opencontainers.image.stopSignal"), "SIGINT");
  /* the image's order of ExposedPorts */
  assert_string_equal(ann(s, "org.opencontainers.image.exposedPorts"),
                      "80/tcp,53/udp");
  assert_string_equal(ann(s, "org.opencontainers.image.author"), "label wins");
  assert_string_equal(ann(s, "x"), "y");
  /* sorted by key, each key once */
  assert_int_equal(s->annotations.len, 11);
  for (size_t i = 1; i < s->annotations.len; i++)
    assert_true(strcmp(s->annotations.keys[i - 1], s->annotations.keys[i]) < 0);
  oci_free(s);
  oci_free(c);

  /* on top of a base's annotations: the image's win; no ExposedPorts
     annotation for an empty set; an empty os.features is "" */
  oci_runtime_spec *base;
  oci_error err;
  const char *bj = "{\"ociVersion\":\"1.2.0\",\"annotations\":{\"k\":"
                   "\"base\",\"org.opencontainers.image.os\":\"base\"}}";
  assert_int_equal(oci_runtime_spec_parse(bj, strlen(bj), NULL, &base, &err),
                   OCI_OK);
  const char *json = "{\"architecture\":\"amd64\",\"os\":\"linux\","
                     "\"os.features\":[],\"rootfs\":{\"type\":\"layers\","
                     "\"diff_ids\":[]},\"config\":{\"ExposedPorts\":{}}}";
  assert_int_equal(
      oci_image_configuration_parse(json, strlen(json), NULL, &c, &err),
      OCI_OK);
  oci_conversion_options o = OCI_CONVERSION_OPTIONS_INIT;
  o.base = base;
  assert_int_equal(oci_runtime_spec_from_image_config(c, &o, &s, &err), OCI_OK);
  assert_string_equal(ann(s, "k"), "base");
  assert_string_equal(ann(s, "org.opencontainers.image.os"), "linux");
  assert_string_equal(ann(s, "org.opencontainers.image.os.features"), "");
  assert_null(ann(s, "org.opencontainers.image.exposedPorts"));
  assert_int_equal(s->annotations.len, 4);
  /* the base had no process: one is made */
  assert_non_null(s->process);
  assert_string_equal(s->process->cwd, "/");
  assert_false(oci_is_present(s->process, OCI_F_runtime_process_args));
  /* the base is the caller's and unchanged */
  assert_false(oci_is_present(base, OCI_F_runtime_spec_process));
  assert_int_equal(base->annotations.len, 2);
  assert_string_equal(base->annotations.values[1], "base");
  oci_free(s);
  oci_free(c);
  oci_free(base);
}

static void test_volumes(void **state) {
  (void)state;
  oci_image_configuration *c =
      config("{\"Volumes\":{\"/data\":{},\"/cache\":{}}}");
  oci_runtime_spec *plain = convert(c, NULL);
  oci_conversion_options o;
  oci_conversion_options_init(&o);
  assert_int_equal(o.version, OCI_CONVERSION_OPTIONS_VERSION);
  o.volumes = true;
  oci_runtime_spec *with;
  oci_error err;
  assert_int_equal(oci_runtime_spec_from_image_config(c, &o, &with, &err),
                   OCI_OK);
  assert_int_equal(with->mounts.len, plain->mounts.len + 2);
  const oci_runtime_mount *m = with->mounts.items[plain->mounts.len];
  assert_string_equal(m->destination, "/data");
  assert_string_equal(m->typ, "tmpfs");
  assert_string_equal(m->source, "tmpfs");
  static const char *const opts[] = {"nosuid", "nodev", "mode=755"};
  assert_strs(&m->options, opts, 3);
  assert_string_equal(with->mounts.items[plain->mounts.len + 1]->destination,
                      "/cache");
  char *json;
  size_t len;
  assert_int_equal(oci_runtime_spec_to_json(with, false, &json, &len, &err),
                   OCI_OK);
  assert_non_null(strstr(json, "{\"destination\":\"/data\",\"type\":\"tmpfs\","
                               "\"source\":\"tmpfs\",\"options\":[\"nosuid\","
                               "\"nodev\",\"mode=755\"]}"));
  free(json);
  oci_free(plain);
  oci_free(with);
  oci_free(c);
}

/* ---- users and groups ---- */

typedef struct user_case {
  const char *user;
  bool rootfs;
  uint32_t uid, gid;
  size_t nextra;
  uint32_t extra[4];
} user_case;

static void test_users(void **state) {
  (void)state;
  make_rootfs("r");
  static const user_case cases[] = {
      {"1234", false, 1234, 0, 0, {0}},
      {"1234:5678", false, 1234, 5678, 0, {0}},
      {"", true, 0, 0, 0, {0}},
      {":", true, 0, 0, 0, {0}},
      {"1000", true, 1000, 1001, 0, {0}}, /* numeric: no additional gids */
      {"1000:", true, 1000, 0, 0, {0}},   /* a group given (empty) */
      {"77", true, 77, 78, 0, {0}},       /* the last line, no newline */
      {"4242", true, 4242, 0, 0, {0}},    /* no entry: gid 0 */
      {"app", true, 1000, 1001, 3, {10, 29, 44}},
      {"app:", true, 1000, 1001, 3, {10, 29, 44}},
      {"app:wheel", true, 1000, 10, 0, {0}},
      {"app:4", true, 1000, 4, 0, {0}},
      {"0:app", true, 0, 1001, 0, {0}},
      {"nogid", true, 1234, 0, 0, {0}}, /* a gid that is no number: 0 */
      {"4294967295:4294967295", false, UINT32_MAX, UINT32_MAX, 0, {0}},
  };
  oci_image_configuration *c;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const user_case *k = &cases[i];
    char json[200];
    snprintf(json, sizeof json, "{\"User\":\"%s\"}", k->user);
    c = config(json);
    oci_runtime_spec *s = convert(c, k->rootfs ? p("r") : NULL);
    const oci_runtime_user *u = s->process->user;
    if (u->uid != k->uid || u->gid != k->gid ||
        u->additional_gids.len != k->nextra)
      fail_msg("User %s: got %u:%u (+%zu), want %u:%u (+%zu)", k->user, u->uid,
               u->gid, u->additional_gids.len, k->uid, k->gid, k->nextra);
    for (size_t j = 0; j < k->nextra; j++)
      assert_int_equal(u->additional_gids.items[j], k->extra[j]);
    assert_int_equal(oci_is_present(u, OCI_F_runtime_user_additional_gids),
                     k->nextra > 0);
    oci_free(s);
    oci_free(c);
  }
}

static void expect_user_error(const char *user, const char *rootfs, int code,
                              const char *part) {
  char json[300];
  snprintf(json, sizeof json, "{\"User\":\"%s\"}", user);
  oci_image_configuration *c = config(json);
  oci_conversion_options o = OCI_CONVERSION_OPTIONS_INIT;
  o.rootfs = rootfs;
  oci_runtime_spec *s = (oci_runtime_spec *)&o; /* must be reset to NULL */
  oci_error err;
  int rc = oci_runtime_spec_from_image_config(c, &o, &s, &err);
  if (rc != code || !strstr(err.message, part))
    fail_msg("User %s: expected %d with \"%s\", got %d: %s", user, code, part,
             rc, err.message);
  assert_null(s);
  assert_string_equal(err.pointer, "/config/User");
  oci_free(c);
}

static void test_user_errors(void **state) {
  (void)state;
  make_rootfs("r");
  const char *r = p("r");
  expect_user_error("nobody", r, OCI_EINVAL,
                    "user \"nobody\" not found in the rootfs's /etc/passwd");
  expect_user_error("app:nogroup", r, OCI_EINVAL,
                    "group \"nogroup\" not found in the rootfs's /etc/group");
  expect_user_error("app", NULL, OCI_EINVAL,
                    "cannot resolve \"app\": no rootfs given to look it up "
                    "in /etc/passwd");
  expect_user_error("0:wheel", NULL, OCI_EINVAL,
                    "cannot resolve \"wheel\": no rootfs given to look it up "
                    "in /etc/group");
  expect_user_error("app", p("nonexistent"), OCI_EIO,
                    "cannot resolve \"app\": rootfs: cannot open");
  expect_user_error("nonum", r, OCI_EINVAL,
                    "/etc/passwd entry of \"nonum\" has no numeric uid");
  expect_user_error("short", r, OCI_EINVAL,
                    "/etc/passwd entry of \"short\" has no numeric uid");
  expect_user_error("big", r, OCI_EINVAL,
                    "/etc/passwd entry of \"big\" has no numeric uid");
  expect_user_error("0:bad", r, OCI_EINVAL,
                    "/etc/group entry of \"bad\" has no numeric gid");
  expect_user_error("4294967296", NULL, OCI_EINVAL,
                    "uid \"4294967296\" is out of range (at most 4294967295)");
  expect_user_error("0:99999999999999999999999", NULL, OCI_EINVAL,
                    "gid \"99999999999999999999999\" is out of range");
  /* control characters of the image are escaped in the message */
  expect_user_error("\\u001b[31mx", r, OCI_EINVAL, "user \"\\x1b[31mx\" not");
  /* a rootfs without the files */
  sh("mkdir -p '%s/etc'", p("empty"));
  expect_user_error("app", p("empty"), OCI_EINVAL,
                    "cannot resolve \"app\": the rootfs has no /etc/passwd");
  expect_user_error("0:app", p("empty"), OCI_EINVAL,
                    "cannot resolve \"app\": the rootfs has no /etc/group");
}

/* The rootfs is the image's: links never lead out, a FIFO does not block,
   and a NUL byte in a line is data, not an end. */
static void test_hostile_rootfs(void **state) {
  (void)state;
  sh("mkdir -p '%s/etc' '%s'", p("h"), p("outside"));
  PUT("outside/passwd", "app:x:4242:4242::/:/bin/sh\n");
  sh("ln -s '%s' '%s'", p("outside/passwd"), p("h/etc/passwd"));
  expect_user_error("app", p("h"), OCI_EINVAL,
                    "cannot resolve \"app\": the rootfs has no /etc/passwd");
  sh("rm '%s' && ln -s ../../../../../outside/passwd '%s'", p("h/etc/passwd"),
     p("h/etc/passwd"));
  expect_user_error("app", p("h"), OCI_EINVAL, "the rootfs has no /etc/passwd");

  /* a FIFO, in a child with an alarm: without the check it blocks */
  sh("rm '%s' && mkfifo '%s'", p("h/etc/passwd"), p("h/etc/passwd"));
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    alarm(20);
    oci_image_configuration *c = config("{\"User\":\"app\"}");
    oci_conversion_options o = OCI_CONVERSION_OPTIONS_INIT;
    o.rootfs = p("h");
    oci_runtime_spec *s;
    oci_error err;
    int rc = oci_runtime_spec_from_image_config(c, &o, &s, &err);
    _exit(rc == OCI_EIO && strstr(err.message,
                                  "/etc/passwd is a FIFO, not a regular file")
              ? 0
              : 1);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  /* refusals are errors for a numeric user too (its entry is read) */
  expect_user_error("1000", p("h"), OCI_EIO, "/etc/passwd is a FIFO");
  sh("rm '%s' && ln -s passwd '%s'", p("h/etc/passwd"), p("h/etc/passwd"));
  expect_user_error("app", p("h"), OCI_EIO, "more than 40 symbolic links");
  /* a group file that is a directory: the additional gids need it */
  sh("rm '%s' && mkdir '%s'", p("h/etc/passwd"), p("h/etc/group"));
  PUT("h/etc/passwd", "app:x:1000:1001::/:/bin/sh\n");
  expect_user_error("app", p("h"), OCI_EIO,
                    "/etc/group is a directory, not a regular file");
  /* over the size cap */
  sh("rmdir '%s' && truncate -s %zu '%s'", p("h/etc/group"),
     OCI_ROOTFS_READ_MAX + 1, p("h/etc/group"));
  expect_user_error("0:app", p("h"), OCI_ETOOBIG,
                    "/etc/group is larger than 4194304 bytes");

  /* NUL bytes: "app\0x" is not "app"; a member list "a\0pp" is not "app" */
  static const char passwd[] = "app\0x:x:1:1\napp:x:1000:1001::/:/bin/sh\n";
  static const char group[] = "g1:x:5:a\0pp\ng2:x:6:app\0\ng3:x:7:app\n";
  put("h/etc/passwd", passwd, sizeof passwd - 1);
  sh("rm '%s'", p("h/etc/group"));
  put("h/etc/group", group, sizeof group - 1);
  oci_image_configuration *c = config("{\"User\":\"app\"}");
  oci_runtime_spec *s = convert(c, p("h"));
  assert_int_equal(s->process->user->uid, 1000);
  assert_int_equal(s->process->user->additional_gids.len, 1);
  assert_int_equal(s->process->user->additional_gids.items[0], 7);
  oci_free(s);
  oci_free(c);
}

/* Many groups listing the user: sorted, without duplicates, and in time
   (no step quadratic in the file). */
static void test_many_groups(void **state) {
  (void)state;
  sh("mkdir -p '%s/etc'", p("m"));
  PUT("m/etc/passwd", "app:x:1000:1000::/:/bin/sh\n");
  sh("python3 -c 'import sys\n"
     "for i in range(100000, 0, -1): print(\"g%%d:x:%%d:app,x\" %% (i, i %% "
     "50000))' > '%s'",
     p("m/etc/group"));
  oci_image_configuration *c = config("{\"User\":\"app\"}");
  oci_runtime_spec *s = convert(c, p("m"));
  const oci_u32_array *g = &s->process->user->additional_gids;
  /* gids 0..49999 but not the primary 1000 */
  assert_int_equal(g->len, 49999);
  for (size_t i = 1; i < g->len; i++)
    assert_true(g->items[i - 1] < g->items[i]);
  assert_int_equal(g->items[0], 0);
  assert_int_equal(g->items[g->len - 1], 49999);
  oci_free(s);
  oci_free(c);
}

static void test_options(void **state) {
  (void)state;
  oci_image_configuration *c = config("{}");
  oci_runtime_spec *s;
  oci_error err;
  /* NULL options: the defaults */
  assert_int_equal(oci_runtime_spec_from_image_config(c, NULL, &s, &err),
                   OCI_OK);
  assert_string_equal(s->hostname, "runc");
  oci_free(s);
  oci_conversion_options o = OCI_CONVERSION_OPTIONS_INIT;
  o.version = 0;
  s = (oci_runtime_spec *)&o;
  assert_int_equal(oci_runtime_spec_from_image_config(c, &o, &s, &err),
                   OCI_EINVAL);
  assert_null(s);
  assert_non_null(strstr(err.message, "unknown version 0"));
  o.version = OCI_CONVERSION_OPTIONS_VERSION + 1;
  assert_int_equal(oci_runtime_spec_from_image_config(c, &o, &s, &err),
                   OCI_EINVAL);
  assert_int_equal(oci_runtime_spec_from_image_config(NULL, NULL, &s, &err),
                   OCI_EINVAL);
  assert_non_null(strstr(err.message, "no image configuration"));
  /* a pre-filled error is reset */
  oci_error_set(&err, OCI_EIO, "stale");
  oci_error_set_pointer(&err, "/stale");
  assert_int_equal(oci_runtime_spec_from_image_config(c, NULL, &s, &err),
                   OCI_OK);
  assert_int_equal(err.code, OCI_OK);
  assert_string_equal(err.pointer, "");
  oci_free(s);
  /* err may be NULL */
  assert_int_equal(oci_runtime_spec_from_image_config(c, &o, &s, NULL),
                   OCI_EINVAL);
  oci_free(c);
}

/* Every allocation, failed in turn: OCI_ENOMEM, *out NULL, nothing leaked;
   then it succeeds with the same result. */
static void test_alloc_failures(void **state) {
  (void)state;
  make_rootfs("r");
  oci_runtime_spec *base;
  oci_error err;
  assert_int_equal(oci_runtime_spec_rootless(1, 2, &base, &err), OCI_OK);
  const char *users[] = {"app", "1000", "app:wheel", "0:app", "nobody"};
  for (size_t k = 0; k < sizeof users / sizeof *users; k++) {
    char json[300];
    snprintf(json, sizeof json,
             "{\"User\":\"%s\",\"Env\":[\"A=1\",\"PATH=/x\"],\"Cmd\":[\"c\"],"
             "\"Entrypoint\":[\"e\"],\"Labels\":{\"l\":\"v\"},\"ExposedPorts\":"
             "{\"1/tcp\":{}},\"Volumes\":{\"/v\":{}},\"WorkingDir\":\"/w\"}",
             users[k]);
    oci_image_configuration *c = config(json);
    oci_conversion_options o = OCI_CONVERSION_OPTIONS_INIT;
    o.rootfs = p("r");
    o.volumes = true;
    o.base = k % 2 ? base : NULL;
    int want = strcmp(users[k], "nobody") == 0 ? OCI_EINVAL : OCI_OK;
    long n;
    for (n = 0;; n++) {
      oci_runtime_spec *s = (oci_runtime_spec *)&o;
      alloc_arm(n);
      int rc = oci_runtime_spec_from_image_config(c, &o, &s, &err);
      alloc_disarm();
      if (!alloc_injected) {
        assert_int_equal(rc, want);
        if (want == OCI_OK) {
          assert_non_null(s);
          assert_int_equal(s->process->user->uid,
                           strncmp(users[k], "0:", 2) ? 1000 : 0);
        }
        oci_free(s);
        break;
      }
      if (rc != OCI_ENOMEM || s != NULL)
        fail_msg("User %s, allocation %ld failed: got %d (%s), out %p",
                 users[k], n, rc, err.message, (void *)s);
      assert_string_equal(err.message, "out of memory");
    }
    assert_true(n > 3);
    oci_free(c);
  }
  oci_free(base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_process_fields),
      cmocka_unit_test(test_annotations),
      cmocka_unit_test(test_volumes),
      cmocka_unit_test_setup_teardown(test_users, setup, teardown),
      cmocka_unit_test_setup_teardown(test_user_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostile_rootfs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_groups, setup, teardown),
      cmocka_unit_test(test_options),
      cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
