/* Parallel transfers (the pool of registry_pool.c, jobs = 4) against a real
   docker-registry started here on 127.0.0.1 (its own temporary folder,
   port chosen by the OS), with a progress callback: push, a second push
   (every blob there), pull into a fresh layout, copy within the registry
   (mounts) and copy through a second client (every blob downloaded and
   uploaded by the workers' two clones), a pull that the callback cancels
   and a pull where one worker's blob is missing (404) while the others
   run. scripts/test.sh --tsan runs it under ThreadSanitizer; every build
   runs it as c_pool_live. Skipped (exit 77) without docker-registry. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include "../skip.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ocispec/ocispec.h"
#include "ocispec/registry.h"

#define SCRATCH_NAME "pool-live"
#include "../scratch.h"

#define NLAYERS 12
#define JOBS 4

/* ---- the registry -------------------------------------------------------- */

static pid_t reg_pid = -1;
static char reg_host[64];

static const char *registry_bin(void) {
  const char *b = getenv("OCISPEC_DOCKER_REGISTRY");
  return b && *b ? b : "docker-registry";
}

static bool have_registry(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "command -v '%s' >/dev/null 2>&1", registry_bin());
  return system(cmd) == 0;
}

/* Starts docker-registry on 127.0.0.1:0 and reads the port it bound from
   its log ("listening on 127.0.0.1:PORT"). */
static void registry_start(void) {
  FILE *f = fopen(p("config.yml"), "w");
  assert_non_null(f);
  fprintf(f,
          "version: 0.1\nlog:\n  level: info\n  formatter: text\n"
          "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n"
          "    enabled: true\n  maintenance:\n    uploadpurging:\n"
          "      enabled: false\nhttp:\n  addr: 127.0.0.1:0\n"
          "  secret: ocispec-test-secret\n",
          p("storage"));
  fclose(f);
  char log[512], conf[512];
  snprintf(log, sizeof log, "%s", p("registry.log"));
  snprintf(conf, sizeof conf, "%s", p("config.yml"));
  pid_t parent = getpid();
  reg_pid = fork();
  assert_true(reg_pid >= 0);
  if (reg_pid == 0) {
    /* gone with the test process, even when it crashes */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    FILE *lf = fopen(log, "w");
    if (!lf) _exit(126);
    dup2(fileno(lf), 1);
    dup2(fileno(lf), 2);
    execlp(registry_bin(), registry_bin(), "serve", conf, (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 200; i++) { /* 10 s */
    FILE *lf = fopen(log, "r");
    char line[1024];
    while (lf && fgets(line, sizeof line, lf)) {
      const char *s = strstr(line, "listening on 127.0.0.1:");
      if (s) {
        int port = atoi(s + strlen("listening on 127.0.0.1:"));
        if (port > 0) {
          snprintf(reg_host, sizeof reg_host, "127.0.0.1:%d", port);
          fclose(lf);
          return;
        }
      }
    }
    if (lf) fclose(lf);
    if (waitpid(reg_pid, NULL, WNOHANG) == reg_pid) {
      reg_pid = -1;
      break;
    }
    usleep(50 * 1000);
  }
  fail_msg("docker-registry did not come up (log: %s)", log);
}

static void registry_stop(void) {
  if (reg_pid <= 0) return;
  kill(reg_pid, SIGTERM);
  waitpid(reg_pid, NULL, 0);
  reg_pid = -1;
}

static int group_setup(void **state) {
  if (setup(state)) return -1;
  if (have_registry()) registry_start();
  return 0;
}

static int group_teardown(void **state) {
  registry_stop();
  return teardown(state);
}

/* ---- progress: every report on the calling thread ------------------------ */

#define MAXB 32

typedef struct progress {
  pthread_t main;
  int calls, off_thread, bad;
  int nb;
  struct {
    char digest[80];
    int starts, ends;
    int64_t total;
  } b[MAXB];
  int in_flight, max_in_flight;
  int cancel_after; /* > 0: cancel on that call */
} progress;

static int on_progress(void *ud, const char *digest, int64_t done,
                       int64_t total) {
  progress *pr = ud;
  pr->calls++; /* unguarded on purpose: TSan reports a call off the thread */
  if (!pthread_equal(pthread_self(), pr->main)) pr->off_thread++;
  if (!digest || done < 0 || (total >= 0 && done > total)) pr->bad++;
  int k = 0;
  while (k < pr->nb && strcmp(pr->b[k].digest, digest ? digest : ""))
    k++;
  if (k == pr->nb) {
    if (pr->nb == MAXB) {
      pr->bad++;
      return 0;
    }
    snprintf(pr->b[k].digest, sizeof pr->b[k].digest, "%s",
             digest ? digest : "");
    pr->nb++;
  }
  if (done == 0) {
    pr->b[k].starts++;
    if (++pr->in_flight > pr->max_in_flight) pr->max_in_flight = pr->in_flight;
  }
  if (total >= 0 && done == total) {
    pr->b[k].ends++;
    pr->in_flight--;
  }
  pr->b[k].total = total;
  return pr->cancel_after > 0 && pr->calls >= pr->cancel_after;
}

static void progress_init(progress *pr) {
  memset(pr, 0, sizeof *pr);
  pr->main = pthread_self();
}

/* ---- the image ----------------------------------------------------------- */

typedef struct image {
  oci_image_descriptor *manifest;
  oci_image_descriptor *blobs[NLAYERS + 1]; /* config, layers */
} image;

static image img;

/* Bytes that differ per layer (xorshift), sizes 20 KiB .. 260 KiB. */
static void make_image(void) {
  oci_layout *l;
  oci_error e;
  if (oci_layout_create(p("src"), &l, &e)) fail_msg("%s", e.message);
  const char *cfg = "{\"architecture\":\"amd64\",\"os\":\"linux\","
                    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
  assert_int_equal(oci_layout_put_blob(l, cfg, strlen(cfg),
                                       OCI_MEDIA_TYPE_IMAGE_CONFIG,
                                       &img.blobs[0], &e),
                   OCI_OK);
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (int i = 1; i <= NLAYERS; i++) {
    size_t n = (size_t)(20 + 20 * i) << 10;
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    for (size_t k = 0; k < n; k++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      buf[k] = (unsigned char)x;
    }
    assert_int_equal(
        oci_layout_put_blob(l, buf, n, OCI_MEDIA_TYPE_LAYER, &img.blobs[i], &e),
        OCI_OK);
    free(buf);
  }
  char *m = malloc(64 << 10);
  assert_non_null(m);
  int k = snprintf(m, 64 << 10,
                   "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{"
                   "\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld},"
                   "\"layers\":[",
                   OCI_MEDIA_TYPE_IMAGE_MANIFEST, OCI_MEDIA_TYPE_IMAGE_CONFIG,
                   img.blobs[0]->digest, (long long)img.blobs[0]->size);
  for (int i = 1; i <= NLAYERS; i++)
    k += snprintf(m + k, (64 << 10) - (size_t)k,
                  "%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld}",
                  i > 1 ? "," : "", OCI_MEDIA_TYPE_LAYER, img.blobs[i]->digest,
                  (long long)img.blobs[i]->size);
  k += snprintf(m + k, (64 << 10) - (size_t)k, "]}");
  assert_int_equal(oci_layout_put_blob(l, m, (size_t)k,
                                       OCI_MEDIA_TYPE_IMAGE_MANIFEST,
                                       &img.manifest, &e),
                   OCI_OK);
  free(m);
  if (oci_layout_tag(l, img.manifest, "v1", &e)) fail_msg("%s", e.message);
  oci_layout_close(l);
}

static oci_registry *client_jobs(progress *pr, unsigned jobs) {
  oci_registry_options o;
  oci_registry_options_init(&o);
  o.plain_http = true;
  o.auth_file = "";
  o.retry_delay_ms = 10;
  o.jobs = jobs;
  if (pr) {
    o.progress = on_progress;
    o.progress_ud = pr;
  }
  oci_registry *r;
  oci_error e;
  if (oci_registry_new(reg_host, &o, &r, &e)) fail_msg("%s", e.message);
  return r;
}

static oci_registry *client(progress *pr) {
  return client_jobs(pr, JOBS);
}

/* Every blob of the image started and ended, all on this thread (a push
   reports its end when the last byte is sent and again when the registry
   answered 201). */
static void check_every_blob(const progress *pr, const char *what) {
  assert_int_equal(pr->off_thread, 0);
  assert_int_equal(pr->bad, 0);
  for (int i = 0; i <= NLAYERS; i++) {
    int k = 0;
    while (k < pr->nb && strcmp(pr->b[k].digest, img.blobs[i]->digest))
      k++;
    if (k == pr->nb) fail_msg("%s: no progress for blob %d", what, i);
    if (pr->b[k].starts < 1 || pr->b[k].ends < 1 ||
        pr->b[k].total != img.blobs[i]->size)
      fail_msg("%s: blob %d: %d starts, %d ends, total %lld", what, i,
               pr->b[k].starts, pr->b[k].ends, (long long)pr->b[k].total);
  }
  print_message("%s: %d progress calls, at most %d blobs at once\n", what,
                pr->calls, pr->max_in_flight);
}

static void assert_layout_has_image(oci_layout *l, bool want) {
  oci_error e;
  for (int i = 0; i <= NLAYERS; i++) {
    bool have = false;
    assert_int_equal(oci_layout_has_blob(l, img.blobs[i]->digest, &have, &e),
                     OCI_OK);
    if (want && !have) fail_msg("blob %d missing", i);
  }
  bool have = false;
  assert_int_equal(oci_layout_has_blob(l, img.manifest->digest, &have, &e),
                   OCI_OK);
  assert_int_equal(have, want);
  /* what is there has its size and digest (read back and hashed) */
  for (int i = 0; want && i <= NLAYERS; i++) {
    char *buf = NULL;
    size_t len = 0;
    if (oci_layout_get_blob(l, img.blobs[i]->digest, img.blobs[i]->size, &buf,
                            &len, &e))
      fail_msg("blob %d: %s", i, e.message);
    free(buf);
  }
}

/* ---- the tests ----------------------------------------------------------- */

static void test_push_pull_copy(void **state) {
  (void)state;
  if (reg_pid <= 0) SKIP_BECAUSE("docker-registry is not installed");
  make_image();
  oci_error e;
  oci_layout *src;
  assert_int_equal(oci_layout_open(p("src"), &src, &e), OCI_OK);

  /* push: every blob through the workers, reports on this thread */
  progress pr;
  progress_init(&pr);
  oci_registry *r = client(&pr);
  oci_image_descriptor *d = NULL;
  if (oci_registry_push(r, src, "v1", "live/img", "v1", &d, &e))
    fail_msg("push: %s", e.message);
  assert_string_equal(d->digest, img.manifest->digest);
  oci_image_descriptor_free(d);
  check_every_blob(&pr, "push");
  oci_registry_stats st;
  oci_registry_get_stats(r, &st);
  assert_int_equal(st.blobs_uploaded, NLAYERS + 1);

  /* the same push again: HEADs only, every blob skipped */
  if (oci_registry_push(r, src, "v1", "live/img", "v1", NULL, &e))
    fail_msg("second push: %s", e.message);
  oci_registry_get_stats(r, &st);
  assert_int_equal(st.blobs_uploaded, NLAYERS + 1);
  assert_int_equal(st.blobs_skipped, NLAYERS + 1);
  oci_registry_free(r);
  oci_layout_close(src);

  /* pull into a fresh layout */
  progress_init(&pr);
  r = client(&pr);
  oci_layout *dst;
  assert_int_equal(oci_layout_create(p("pulled"), &dst, &e), OCI_OK);
  if (oci_registry_pull(r, "live/img", "v1", dst, "v1", NULL, &d, &e))
    fail_msg("pull: %s", e.message);
  assert_string_equal(d->digest, img.manifest->digest);
  oci_image_descriptor_free(d);
  check_every_blob(&pr, "pull");
  assert_layout_has_image(dst, true);
  oci_layout_close(dst);

  /* copy within the registry: mounts, one client on both sides */
  if (oci_registry_copy(r, "live/img", "v1", r, "live/mounted", "v1", NULL, &e))
    fail_msg("copy (mount): %s", e.message);
  oci_registry_get_stats(r, &st);
  assert_int_equal(st.blobs_uploaded, 0); /* every blob was mounted */

  /* copy through a second client: each worker downloads with a clone of
     r and uploads with a clone of r2 (the same registry, another repo) */
  progress pr2;
  progress_init(&pr2);
  oci_registry *r2 = client(&pr2);
  progress_init(&pr);
  if (oci_registry_copy(r, "live/img", "v1", r2, "live/streamed", "v1", NULL,
                        &e))
    fail_msg("copy (two clients): %s", e.message);
  oci_registry_get_stats(r2, &st);
  assert_int_equal(st.blobs_uploaded, NLAYERS + 1);
  check_every_blob(&pr, "copy");
  oci_registry_free(r2);

  /* the same with jobs = 1: no pool, each blob's download runs on a
     second thread with the source client itself while this thread
     uploads (and gets every report) */
  progress_init(&pr);
  progress_init(&pr2);
  oci_registry *s1 = client_jobs(&pr, 1), *d1 = client_jobs(&pr2, 1);
  if (oci_registry_copy(s1, "live/img", "v1", d1, "live/serial", "v1", NULL,
                        &e))
    fail_msg("copy (jobs 1): %s", e.message);
  check_every_blob(&pr2, "copy jobs=1");
  assert_int_equal(pr.off_thread, 0);
  oci_registry_get_stats(s1, &st);
  assert_int_equal(st.blobs_downloaded, NLAYERS + 1);
  oci_registry_free(s1);
  oci_registry_free(d1);

  /* and what was copied pulls back whole */
  assert_int_equal(oci_layout_create(p("pulled2"), &dst, &e), OCI_OK);
  if (oci_registry_pull(r, "live/streamed", "v1", dst, NULL, NULL, NULL, &e))
    fail_msg("pull of the copy: %s", e.message);
  assert_layout_has_image(dst, true);
  oci_layout_close(dst);
  oci_registry_free(r);
}

/* The callback cancels in the middle: OCI_ECANCELED, no manifest stored. */
static void test_pull_canceled(void **state) {
  (void)state;
  if (reg_pid <= 0) SKIP_BECAUSE("docker-registry is not installed");
  progress pr;
  progress_init(&pr);
  pr.cancel_after = NLAYERS; /* a few blobs in */
  oci_registry *r = client(&pr);
  oci_layout *dst;
  oci_error e;
  assert_int_equal(oci_layout_create(p("canceled"), &dst, &e), OCI_OK);
  assert_int_equal(
      oci_registry_pull(r, "live/img", "v1", dst, "v1", NULL, NULL, &e),
      OCI_ECANCELED);
  assert_int_equal(pr.off_thread, 0);
  assert_layout_has_image(dst, false);
  oci_layout_close(dst);
  oci_registry_free(r);
}

/* One blob gone from the repository: its worker fails (404) while the
   others transfer; the pull fails naming it and stores no manifest. */
static void test_pull_one_blob_missing(void **state) {
  (void)state;
  if (reg_pid <= 0) SKIP_BECAUSE("docker-registry is not installed");
  oci_registry *r = client(NULL);
  oci_error e;
  if (oci_registry_copy(r, "live/img", "v1", r, "live/holed", "v1", NULL, &e))
    fail_msg("copy: %s", e.message);
  const char *gone = img.blobs[NLAYERS / 2]->digest;
  if (oci_registry_delete_blob(r, "live/holed", gone, &e))
    fail_msg("delete: %s", e.message);
  oci_registry_free(r);
  progress pr;
  progress_init(&pr);
  r = client(&pr);
  oci_layout *dst;
  assert_int_equal(oci_layout_create(p("holed"), &dst, &e), OCI_OK);
  int rc = oci_registry_pull(r, "live/holed", "v1", dst, "v1", NULL, NULL, &e);
  assert_int_equal(rc, OCI_EREGISTRY);
  if (!strstr(e.message, gone) || !strstr(e.message, "404"))
    fail_msg("unexpected error: %s", e.message);
  assert_int_equal(pr.off_thread, 0);
  bool have = true;
  assert_int_equal(oci_layout_has_blob(dst, img.manifest->digest, &have, &e),
                   OCI_OK);
  assert_false(have);
  oci_layout_close(dst);
  oci_registry_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_push_pull_copy),
      cmocka_unit_test(test_pull_canceled),
      cmocka_unit_test(test_pull_one_blob_missing),
  };
  int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
  oci_image_descriptor_free(img.manifest);
  for (int i = 0; i <= NLAYERS; i++)
    oci_image_descriptor_free(img.blobs[i]);
  return skip_exit(rc);
}
