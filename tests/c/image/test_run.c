/* Unit tests of csrc/image/run.c: oci_run_process (exit codes, signals,
   timeout, output, a missing program, an output callback that stops it)
   and oci_run_upper_to_changeset / oci_run_mark_content_changes on
   hand-made trees (whiteout devices need root: a reported skip otherwise,
   exit 77). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include "../skip.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ocispec/run.h"

#define SCRATCH_NAME "run"
#include "../scratch.h"

typedef struct {
  char out[256];
  size_t n;
  int stop;
} collect;

static int on_out(void *ctx, int stream, const char *d, size_t n) {
  collect *c = ctx;
  if (stream == 1 && c->n + n < sizeof c->out) {
    memcpy(c->out + c->n, d, n);
    c->n += n;
  }
  return c->stop;
}

static void test_exit_and_output(void **state) {
  (void)state;
  const char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 7",
                        NULL};
  collect c = {{0}, 0, 0};
  oci_run_options o = OCI_RUN_OPTIONS_INIT;
  o.output = on_out;
  o.output_ctx = &c;
  oci_run_result r;
  oci_error err;
  assert_int_equal(oci_run_process(argv, &o, &r, &err), OCI_OK);
  assert_int_equal(r.exit_code, 7);
  assert_int_equal(r.signal, 0);
  assert_string_equal(r.stderr_tail, "err\n");
  assert_memory_equal(c.out, "out\n", 4);
}

static void test_signal_and_timeout(void **state) {
  (void)state;
  const char *kill_self[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
  oci_run_result r;
  oci_error err;
  assert_int_equal(oci_run_process(kill_self, NULL, &r, &err), OCI_OK);
  assert_int_equal(r.exit_code, -1);
  assert_int_equal(r.signal, SIGKILL);
  const char *slow[] = {"sleep", "30", NULL};
  oci_run_options o = OCI_RUN_OPTIONS_INIT;
  o.timeout = 0.2;
  assert_int_equal(oci_run_process(slow, &o, &r, &err), OCI_OK);
  assert_true(r.timed_out);
}

static void test_missing_and_cancel(void **state) {
  (void)state;
  const char *none[] = {"/no/such/program", NULL};
  oci_run_result r;
  oci_error err;
  assert_int_equal(oci_run_process(none, NULL, &r, &err), OCI_EIO);
  assert_non_null(strstr(err.message, "cannot start /no/such/program"));
  const char *chatty[] = {"/bin/sh", "-c", "while :; do echo x; done", NULL};
  collect c = {{0}, 0, 1};
  oci_run_options o = OCI_RUN_OPTIONS_INIT;
  o.output = on_out;
  o.output_ctx = &c;
  assert_int_equal(oci_run_process(chatty, &o, &r, &err), OCI_ECANCELED);
  const char *empty[] = {NULL};
  assert_int_equal(oci_run_process(empty, NULL, &r, &err), OCI_EINVAL);
}

static void test_changeset(void **state) {
  (void)state;
  if (geteuid() != 0) SKIP_BECAUSE("whiteout devices need root");
  sh("mkdir -p %s %s %s", p("u/etc"), p("u/opq"), p("u/real"));
  assert_int_equal(mknod(p("u/etc/gone"), S_IFCHR | 0, makedev(0, 0)), 0);
  sh("setfattr -n trusted.overlay.opaque -v y %s 2>/dev/null || "
     "python3 -c \"import os; os.setxattr('%s', 'trusted.overlay.opaque', "
     "b'y')\"",
     p("u/opq"), p("u/opq"));
  sh("ln -s /etc %s", p("u/link"));
  oci_error err;
  assert_int_equal(oci_run_upper_to_changeset(p("u"), &err), OCI_OK);
  struct stat st;
  assert_int_equal(lstat(p("u/etc/.wh.gone"), &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_not_equal(lstat(p("u/etc/gone"), &st), 0);
  assert_int_equal(lstat(p("u/opq/.wh..wh..opq"), &st), 0);
  assert_int_not_equal(lstat(p("u/real/.wh..wh..opq"), &st), 0);
  /* the link was not followed: nothing written in the host's /etc */
  assert_int_not_equal(lstat("/etc/.wh..wh..opq", &st), 0);
  /* a file named like a whiteout, made by the command: refused */
  sh("mkdir -p %s && touch %s", p("v/d"), p("v/d/.wh.x"));
  assert_int_equal(oci_run_upper_to_changeset(p("v"), &err), OCI_EINVAL);
  assert_non_null(strstr(err.message, "named like a whiteout"));
}

static void test_mark_content(void **state) {
  (void)state;
  sh("mkdir -p %s %s && printf a > %s && printf b > %s && printf c > %s && "
     "printf c > %s && touch -d @1700000000 %s %s %s %s",
     p("l/d"), p("r/d"), p("l/d/f"), p("r/d/f"), p("l/same"), p("r/same"),
     p("l/d/f"), p("r/d/f"), p("l/same"), p("r/same"));
  size_t n = 9;
  oci_error err;
  assert_int_equal(oci_run_mark_content_changes(p("l"), p("r"), &n, &err),
                   OCI_OK);
  assert_int_equal(n, 1);
  struct stat a, b;
  assert_int_equal(stat(p("l/d/f"), &a), 0);
  assert_int_equal(stat(p("r/d/f"), &b), 0);
  assert_true(a.st_mtim.tv_nsec != b.st_mtim.tv_nsec);
  assert_int_equal(oci_run_mark_content_changes(p("none"), p("r"), &n, &err),
                   OCI_EIO);
  /* a file the command named like a whiteout (the snapshot path of
     rootless steps): refused as the overlay path refuses it, in a shared
     directory, in a new one deep down, and where a file became a folder;
     the layer would have deleted l/d/f, or made a folder opaque */
  const char *planted[] = {"r/d/.wh.f", "r/new/a/b/.wh..wh..opq",
                           "r/same2/.wh.x"};
  for (size_t i = 0; i < sizeof planted / sizeof *planted; i++) {
    sh("rm -rf %s %s && mkdir -p %s %s && touch %s && "
       "mkdir -p \"$(dirname %s)\" && touch %s",
       p("l2"), p("r"), p("l2/d"), p("r/d"), p("l2/same2"), p(planted[i]),
       p(planted[i]));
    assert_int_equal(oci_run_mark_content_changes(p("l2"), p("r"), &n, &err),
                     OCI_EINVAL);
    assert_non_null(strstr(err.message, "named like a whiteout"));
    assert_non_null(strstr(err.message, planted[i] + 2));
  }
}

/* oci_run_start / oci_run_pump / oci_run_finish: two processes that each
   wait for the other (a file handshake) both end, which they could not if
   one ran after the other; a timeout, a finish that kills, a missing
   program. */
static void test_start_pump(void **state) {
  (void)state;
  char cmd_a[512], cmd_b[512];
  snprintf(cmd_a, sizeof cmd_a,
           "touch '%s'; i=0; while [ ! -e '%s' ]; do i=$((i+1)); "
           "[ $i -gt 500 ] && exit 3; sleep 0.01; done; echo a",
           p("hs-a"), p("hs-b"));
  snprintf(cmd_b, sizeof cmd_b,
           "i=0; while [ ! -e '%s' ]; do i=$((i+1)); [ $i -gt 500 ] && exit 3; "
           "sleep 0.01; done; touch '%s'; echo b",
           p("hs-a"), p("hs-b"));
  const char *argv_a[] = {"/bin/sh", "-c", cmd_a, NULL};
  const char *argv_b[] = {"/bin/sh", "-c", cmd_b, NULL};
  collect ca = {{0}, 0, 0}, cb = {{0}, 0, 0};
  oci_run_options oa = OCI_RUN_OPTIONS_INIT, ob = OCI_RUN_OPTIONS_INIT;
  oa.output = on_out;
  oa.output_ctx = &ca;
  ob.output = on_out;
  ob.output_ctx = &cb;
  oci_run_proc *pa = NULL, *pb = NULL;
  oci_error err;
  assert_int_equal(oci_run_start(argv_a, &oa, &pa, &err), OCI_OK);
  assert_int_equal(oci_run_start(argv_b, &ob, &pb, &err), OCI_OK);
  bool da = false, db = false;
  while (!da || !db) {
    if (!da) assert_int_equal(oci_run_pump(pa, 20, &da, &err), OCI_OK);
    if (!db) assert_int_equal(oci_run_pump(pb, 20, &db, &err), OCI_OK);
  }
  oci_run_result r;
  oci_run_finish(pa, &r);
  assert_int_equal(r.exit_code, 0);
  oci_run_finish(pb, &r);
  assert_int_equal(r.exit_code, 0);
  assert_memory_equal(ca.out, "a\n", 2);
  assert_memory_equal(cb.out, "b\n", 2);

  /* the options' timeout: done, timed out, killed */
  const char *slow[] = {"/bin/sh", "-c", "sleep 30", NULL};
  oci_run_options ot = OCI_RUN_OPTIONS_INIT;
  ot.timeout = 0.2;
  oci_run_proc *pt = NULL;
  assert_int_equal(oci_run_start(slow, &ot, &pt, &err), OCI_OK);
  bool dt = false;
  while (!dt)
    assert_int_equal(oci_run_pump(pt, 50, &dt, &err), OCI_OK);
  oci_run_finish(pt, &r);
  assert_true(r.timed_out);
  assert_int_equal(r.signal, SIGKILL);
  /* finish while it runs: killed */
  assert_int_equal(oci_run_start(slow, NULL, &pt, &err), OCI_OK);
  oci_run_finish(pt, &r);
  assert_int_equal(r.signal, SIGKILL);
  /* a missing program: an error naming it, nothing to free */
  const char *missing[] = {"/nonexistent/prog", NULL};
  pt = (oci_run_proc *)&r; /* overwritten with NULL */
  assert_int_equal(oci_run_start(missing, NULL, &pt, &err), OCI_EIO);
  assert_null(pt);
  assert_non_null(strstr(err.message, "/nonexistent/prog"));
  oci_run_finish(NULL, &r);
  assert_int_equal(r.exit_code, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exit_and_output),
      cmocka_unit_test(test_signal_and_timeout),
      cmocka_unit_test(test_missing_and_cancel),
      cmocka_unit_test(test_changeset),
      cmocka_unit_test(test_mark_content),
      cmocka_unit_test(test_start_pump),
  };
  return skip_exit(cmocka_run_group_tests(tests, setup, teardown));
}
