/* libFuzzer target: opening an image layout whose `oci-layout` and
   `index.json` are fuzzed, then listing, resolving and verifying it.

   Input: `oci-layout` bytes, a NUL, `index.json` bytes; without a NUL the
   whole input is index.json and oci-layout is the valid one. The layout's
   blobs directory holds a fixed image (a config and a manifest, written
   once) so that index.json entries naming its manifest reach resolve and
   verify. Properties: opening either works or fails with a specific error;
   an opened layout's index, resolve and verify give OK or a specific
   error, never a crash or a leak; verify's counts agree with its list.
   The blobs directory also holds hostile entries (issue 13): a blob that is
   a symlink to a file outside the layout holding its exact bytes, a blob
   that is a FIFO, and a manifest naming both. Reading them is always
   refused (OCI_EINVAL), never followed and never blocking, whatever
   index.json says. */
#define _XOPEN_SOURCE 700 /* nftw, symlink */
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "ocispec/layout.h"

static const char CONFIG[] =
    "{\"architecture\":\"amd64\",\"os\":\"linux\","
    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
static const char VALID_LAYOUT[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

/* The fuzzer's own scratch layout (a fuzz target is one process). */
static char dir[64];
static char manifest_digest[OCI_DIGEST_STRING_MAX];
static char outside[64]; /* the symlink's target lives here */
static char link_digest[OCI_DIGEST_STRING_MAX];
static char fifo_digest[OCI_DIGEST_STRING_MAX];
static char hostile_digest[OCI_DIGEST_STRING_MAX];
static const char LINKED[] = "bytes outside the layout";
static const char FIFO[] = "fifo";

static void write_file(const char *name, const void *data, size_t len) {
  char path[256];
  int w = snprintf(path, sizeof path, "%s/%s", dir, name);
  FUZZ_CHECK(w > 0 && (size_t)w < sizeof path, "path too long: %s", name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FUZZ_CHECK(fd >= 0, "open %s", path);
  FUZZ_CHECK(len == 0 || write(fd, data, len) == (ssize_t)len, "write %s",
             path);
  close(fd);
}

static void put_blob(const char *data, char digest[OCI_DIGEST_STRING_MAX]) {
  oci_error err;
  FUZZ_CHECK(oci_hash_buffer(OCI_DIGEST_SHA256, data, strlen(data), digest,
                             &err) == OCI_OK,
             "hash");
  char name[128];
  int w = snprintf(name, sizeof name, "blobs/sha256/%s", digest + 7);
  FUZZ_CHECK(w > 0 && (size_t)w < sizeof name, "name too long");
  write_file(name, data, strlen(data));
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* The scratch layout goes when the fuzzer exits. */
static void cleanup(void) {
  nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (outside[0]) nftw(outside, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/ocispec-fuzz-layout-XXXXXX");
  FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  atexit(cleanup);
  char blobs[128];
  snprintf(blobs, sizeof blobs, "%s/blobs", dir);
  mkdir(blobs, 0755);
  snprintf(blobs, sizeof blobs, "%s/blobs/sha256", dir);
  mkdir(blobs, 0755);
  char cfg[OCI_DIGEST_STRING_MAX];
  put_blob(CONFIG, cfg);
  char manifest[512];
  int mlen =
      snprintf(manifest, sizeof manifest,
               "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image."
               "manifest.v1+json\",\"config\":{\"mediaType\":\"application/"
               "vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
               "\"layers\":[]}",
               cfg, strlen(CONFIG));
  FUZZ_CHECK(mlen > 0 && (size_t)mlen < sizeof manifest, "manifest too long");
  put_blob(manifest, manifest_digest);

  /* hostile entries */
  snprintf(outside, sizeof outside, "/tmp/ocispec-fuzz-outside-XXXXXX");
  FUZZ_CHECK(mkdtemp(outside) != NULL, "mkdtemp");
  char target[128], name[256];
  snprintf(target, sizeof target, "%s/secret", outside);
  int fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FUZZ_CHECK(fd >= 0 &&
                 write(fd, LINKED, strlen(LINKED)) == (ssize_t)strlen(LINKED),
             "write %s", target);
  close(fd);
  oci_error err;
  FUZZ_CHECK(oci_hash_buffer(OCI_DIGEST_SHA256, LINKED, strlen(LINKED),
                             link_digest, &err) == OCI_OK &&
                 oci_hash_buffer(OCI_DIGEST_SHA256, FIFO, strlen(FIFO),
                                 fifo_digest, &err) == OCI_OK,
             "hash");
  snprintf(name, sizeof name, "%s/blobs/sha256/%s", dir, link_digest + 7);
  FUZZ_CHECK(symlink(target, name) == 0, "symlink %s", name);
  snprintf(name, sizeof name, "%s/blobs/sha256/%s", dir, fifo_digest + 7);
  FUZZ_CHECK(mkfifo(name, 0644) == 0, "mkfifo %s", name);
  mlen = snprintf(
      manifest, sizeof manifest,
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image."
      "manifest.v1+json\",\"config\":{\"mediaType\":\"application/"
      "vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
      "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1."
      "tar\",\"digest\":\"%s\",\"size\":%zu}]}",
      link_digest, strlen(LINKED), fifo_digest, strlen(FIFO));
  FUZZ_CHECK(mlen > 0 && (size_t)mlen < sizeof manifest, "manifest too long");
  put_blob(manifest, hostile_digest);
}

/* The hostile blobs are refused, naming them. */
static void check_hostile(const oci_layout *l, const char *digest) {
  char *buf = NULL;
  size_t len;
  oci_error err;
  oci_error_clear(&err);
  int rc = oci_layout_get_blob(l, digest, -1, &buf, &len, &err);
  FUZZ_CHECK(rc == OCI_EINVAL && buf == NULL, "hostile blob %s read: %d",
             digest, rc);
  FUZZ_CHECK(strstr(err.message, digest) != NULL, "message %s", err.message);
}

static void check_status(int rc, const oci_error *err) {
  if (rc != OCI_OK) fuzz_check_error(rc, err);
}

static void resolve(const oci_layout *l, const char *name) {
  oci_layout_resolved *r = NULL;
  oci_error err;
  oci_error_clear(&err);
  int rc = oci_layout_resolve(l, name, NULL, &r, &err);
  check_status(rc, &err);
  FUZZ_CHECK((rc == OCI_OK) == (r != NULL), "resolve rc %d, out %p", rc,
             (void *)r);
  if (r) FUZZ_CHECK(r->descriptor && r->manifest, "resolve parts");
  oci_layout_resolved_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!dir[0]) setup();
  const uint8_t *nul = memchr(data, 0, size);
  if (nul) {
    write_file("oci-layout", data, (size_t)(nul - data));
    write_file("index.json", nul + 1, size - (size_t)(nul - data) - 1);
  } else {
    write_file("oci-layout", VALID_LAYOUT, strlen(VALID_LAYOUT));
    write_file("index.json", data, size);
  }

  oci_layout *l = NULL;
  oci_error err;
  oci_error_clear(&err);
  int rc = oci_layout_open(dir, &l, &err);
  if (rc != OCI_OK) {
    fuzz_check_error(rc, &err);
    FUZZ_CHECK(l == NULL, "a failed open returned a handle");
    return 0;
  }
  oci_image_index *idx = NULL;
  rc = oci_layout_index(l, &idx, &err);
  check_status(rc, &err);
  if (idx) {
    /* every ref.name the index holds, then the manifest by digest */
    oci_image_descriptor *const *m = idx->manifests.items;
    for (size_t i = 0; i < idx->manifests.len && i < 8; i++) {
      const oci_str_map *a = &m[i]->annotations;
      for (size_t k = 0; k < a->len; k++)
        if (strcmp(a->keys[k], OCI_ANNOTATION_REF_NAME) == 0)
          resolve(l, a->values[k]);
    }
    oci_image_index_free(idx);
  }
  resolve(l, manifest_digest);
  resolve(l, "latest");
  oci_layout_resolved *r = NULL;
  rc = oci_layout_resolve(l, hostile_digest, NULL, &r, &err);
  FUZZ_CHECK(rc != OCI_OK && r == NULL, "resolved a hostile manifest");
  check_hostile(l, link_digest);
  check_hostile(l, fifo_digest);

  oci_layout_problems p;
  memset(&p, 0, sizeof p);
  rc = oci_layout_verify(l, &p, &err);
  FUZZ_CHECK(rc == OCI_OK || rc == OCI_EVALIDATE || rc == OCI_ENOMEM,
             "verify rc %d", rc);
  size_t errors = 0;
  for (size_t i = 0; i < p.len; i++) {
    FUZZ_CHECK(p.items[i].message[0] != '\0', "problem without a message");
    errors += p.items[i].severity == OCI_SEV_ERROR;
  }
  FUZZ_CHECK(errors == p.errors, "verify counted %zu errors, listed %zu",
             p.errors, errors);
  FUZZ_CHECK((rc == OCI_EVALIDATE) == (errors > 0), "verify rc %d, %zu errors",
             rc, errors);
  oci_layout_problems_free(&p);
  oci_layout_close(l);
  return 0;
}
