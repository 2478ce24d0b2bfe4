/* Unit tests for csrc/image/layout.c and csrc/image/layout_walk.c: OCI image
   layouts (image-spec image-layout.md), including crash safety: a child killed
   with SIGKILL while writing a large blob or replacing index.json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four above, which it needs */

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ocispec/hash.h"
#include "ocispec/layout.h"
#include "ocispec/platform.h"

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_TAR "application/vnd.oci.image.layer.v1.tar"
#define MT_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define E64 "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

/* ---- helpers ------------------------------------------------------------ */

static char *tmpdir(void) {
  char *d = strdup("/tmp/ocispec-test-layout-XXXXXX");
  assert_non_null(d);
  assert_non_null(mkdtemp(d));
  return d;
}

static void rmrf(const char *d) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
  assert_int_equal(system(cmd), 0);
}

static char *join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  assert_non_null(p);
  snprintf(p, n, "%s/%s", a, b);
  return p;
}

static void write_file(const char *path, const char *s, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(s, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Number of tmp-* files in the temporary area. */
static size_t count_tmp(const oci_layout *l) {
  char *d = join(oci_layout_path(l), OCI_LAYOUT_TMP_DIR);
  DIR *dh = opendir(d);
  size_t n = 0;
  struct dirent *de;
  while (dh && (de = readdir(dh)))
    if (strncmp(de->d_name, "tmp-", 4) == 0) n++;
  if (dh) closedir(dh);
  free(d);
  return n;
}

static void flip_byte(const char *path, long off) {
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  if (off < 0) {
    fseek(f, 0, SEEK_END);
    off = ftell(f) / 2;
  }
  fseek(f, off, SEEK_SET);
  int c = fgetc(f);
  fseek(f, off, SEEK_SET);
  fputc(c ^ 0xff, f);
  fclose(f);
}

static void flip_blob(const oci_layout *l, const char *digest, long off) {
  char *p;
  assert_int_equal(oci_layout_blob_path(l, digest, &p, NULL), OCI_OK);
  flip_byte(p, off);
  free(p);
}

static oci_layout *new_layout(char **dir) {
  *dir = tmpdir();
  oci_layout *l;
  oci_error e;
  if (oci_layout_create(*dir, &l, &e)) fail_msg("create: %s", e.message);
  return l;
}

/* A tar with one file, compressed with filter (ARCHIVE_FILTER_NONE,
   _GZIP, _ZSTD); *diff_id gets the digest of the uncompressed tar. */
static char *make_tar(int filter, const char *content, size_t *len,
                      char diff_id[OCI_DIGEST_STRING_MAX]) {
  size_t cap = 1 << 16;
  char *buf = malloc(cap);
  assert_non_null(buf);
  for (int pass = 0; pass < 2; pass++) {
    struct archive *a = archive_write_new();
    assert_non_null(a);
    archive_write_set_format_pax_restricted(a);
    int f = pass == 0 ? ARCHIVE_FILTER_NONE : filter;
    if (f == ARCHIVE_FILTER_GZIP) archive_write_add_filter_gzip(a);
    if (f == ARCHIVE_FILTER_ZSTD) archive_write_add_filter_zstd(a);
    archive_write_set_bytes_in_last_block(a, 1);
    size_t used = 0;
    assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "etc/hello");
    archive_entry_set_size(e, (la_int64_t)strlen(content));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    archive_write_data(a, content, strlen(content));
    archive_entry_free(e);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    *len = used;
    if (pass == 0)
      assert_int_equal(
          oci_hash_buffer(OCI_DIGEST_SHA256, buf, used, diff_id, NULL), 0);
  }
  return buf;
}

typedef struct image {
  oci_image_descriptor *manifest, *config, *layer;
} image;

static void image_free(image *im) {
  oci_image_descriptor_free(im->manifest);
  oci_image_descriptor_free(im->config);
  oci_image_descriptor_free(im->layer);
}

/* An image of one layer. layer_mt NULL: the filter's own type. A
   non-NULL diff_id replaces the right one; size >= 0 replaces the layer
   descriptor's size. */
static image make_image(oci_layout *l, const char *arch, int filter,
                        const char *layer_mt, const char *diff_id,
                        int64_t size) {
  static int counter;
  char content[64], did[OCI_DIGEST_STRING_MAX], json[1024];
  image im;
  oci_error e;
  size_t n;
  snprintf(content, sizeof content, "hello %d\n", ++counter);
  char *tar = make_tar(filter, content, &n, did);
  if (!layer_mt)
    layer_mt = filter == ARCHIVE_FILTER_GZIP   ? MT_GZIP
               : filter == ARCHIVE_FILTER_ZSTD ? MT_ZSTD
                                               : MT_TAR;
  assert_int_equal(oci_layout_put_blob(l, tar, n, layer_mt, &im.layer, &e), 0);
  free(tar);
  if (size >= 0) im.layer->size = size;
  snprintf(json, sizeof json,
           "{\"architecture\":\"%s\",\"os\":\"linux\",\"rootfs\":{\"type\":"
           "\"layers\",\"diff_ids\":[\"%s\"]}}",
           arch, diff_id ? diff_id : did);
  oci_image_configuration *c;
  assert_int_equal(
      oci_image_configuration_parse(json, strlen(json), NULL, &c, &e), 0);
  assert_int_equal(oci_layout_put_document(l, &oci_type_image_configuration, c,
                                           NULL, &im.config, &e),
                   0);
  oci_image_configuration_free(c);
  char *cj, *lj;
  size_t cl, ll;
  assert_int_equal(oci_image_descriptor_to_json(im.config, false, &cj, &cl, &e),
                   0);
  assert_int_equal(oci_image_descriptor_to_json(im.layer, false, &lj, &ll, &e),
                   0);
  snprintf(json, sizeof json,
           "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST
           "\",\"config\":%s,\"layers\":[%s]}",
           cj, lj);
  free(cj);
  free(lj);
  oci_image_manifest *m;
  assert_int_equal(oci_image_manifest_parse(json, strlen(json), NULL, &m, &e),
                   0);
  assert_int_equal(oci_layout_put_document(l, &oci_type_image_manifest, m, NULL,
                                           &im.manifest, &e),
                   0);
  oci_image_manifest_free(m);
  return im;
}

static const oci_layout_problem *find(const oci_layout_problems *p,
                                      const char *a, const char *b) {
  for (size_t i = 0; i < p->len; i++)
    if (strstr(p->items[i].message, a) &&
        (!b || strstr(p->items[i].message, b)))
      return &p->items[i];
  return NULL;
}

static void dump(const oci_layout_problems *p) {
  for (size_t i = 0; i < p->len; i++)
    fprintf(stderr, "  [%s] %s\n", oci_status_name(p->items[i].code),
            p->items[i].message);
}

/* ---- create / open ------------------------------------------------------ */

static void test_create_open(void **state) {
  (void)state;
  char *d = tmpdir(), *sub = join(d, "L");
  oci_layout *l;
  oci_error e;
  assert_int_equal(oci_layout_create(sub, &l, &e), OCI_OK);
  assert_string_equal(oci_layout_path(l), sub);
  oci_layout_close(l);
  /* existing layout: opened as is */
  assert_int_equal(oci_layout_create(sub, &l, &e), OCI_OK);
  oci_layout_close(l);
  assert_int_equal(oci_layout_open(sub, &l, &e), OCI_OK);
  oci_layout_close(l);

  /* not a layout */
  char *junk = join(d, "junk");
  write_file(junk, "x", 1);
  assert_int_equal(oci_layout_create(d, &l, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "not empty"));
  assert_int_equal(oci_layout_open(d, &l, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "oci-layout"));
  assert_int_equal(oci_layout_open(junk, &l, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "not a directory"));
  char *deep = join(d, "a/b");
  assert_int_equal(oci_layout_create(deep, &l, &e), OCI_EIO);
  assert_null(l);

  /* an interrupted create (no oci-layout yet, no data) starts over */
  char *half = join(d, "half"), *hb = join(half, "blobs"),
       *hi = join(half, "index.json"), *hs = join(hb, "sha256");
  assert_int_equal(mkdir(half, 0755), 0);
  assert_int_equal(mkdir(hb, 0755), 0);
  write_file(hi, "{", 1);
  assert_int_equal(oci_layout_create(half, &l, &e), OCI_OK);
  oci_layout_close(l);
  unlink(hi);
  char *ol0 = join(half, "oci-layout");
  unlink(ol0);
  assert_int_equal(mkdir(hs, 0755), 0); /* blobs/ holds something: refused */
  assert_int_equal(oci_layout_create(half, &l, &e), OCI_EINVAL);
  free(ol0);
  free(hs);
  free(hi);
  free(hb);
  free(half);

  /* bad oci-layout, bad index.json */
  char *ol = join(sub, "oci-layout"), *ix = join(sub, "index.json");
  write_file(ol, "{\"imageLayoutVersion\":\"2.0.0\"}", 30);
  assert_int_equal(oci_layout_open(sub, &l, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "imageLayoutVersion \"2.0.0\""));
  write_file(ol, "nope", 4);
  assert_int_equal(oci_layout_open(sub, &l, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "oci-layout: 1:1"));
  write_file(ol, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
  write_file(ix, "{\"schemaVersion\":2}", 19);
  assert_int_equal(oci_layout_open(sub, &l, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "index.json"));
  assert_non_null(strstr(e.message, "manifests"));
  unlink(ix);
  assert_int_equal(oci_layout_open(sub, &l, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "index.json: No such file"));
  free(ol);
  free(ix);
  free(deep);
  free(junk);
  free(sub);
  rmrf(d);
  free(d);
}

/* ---- blobs -------------------------------------------------------------- */

static void test_blobs(void **state) {
  (void)state;
  char *d;
  oci_layout *l = new_layout(&d);
  oci_error e;
  oci_image_descriptor *desc;
  char *p, *buf;
  size_t n;
  bool have;

  /* digests are validated before any path is built */
  static const char *bad[] = {"sha256:../../etc/passwd",
                              "../x",
                              "sha256:",
                              "sha256:abc",
                              "a/b:c",
                              NULL};
  for (int i = 0; bad[i]; i++) {
    assert_int_equal(oci_layout_blob_path(l, bad[i], &p, &e), OCI_EINVAL);
    assert_null(p);
    assert_int_equal(oci_layout_has_blob(l, bad[i], &have, &e), OCI_EINVAL);
    assert_int_equal(oci_layout_get_blob(l, bad[i], -1, &buf, &n, &e),
                     OCI_EINVAL);
  }

  assert_int_equal(oci_layout_put_blob(l, "hello", 5, NULL, &desc, &e), 0);
  assert_string_equal(desc->media_type, "application/octet-stream");
  assert_string_equal(desc->digest, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b"
                                    "161e5c1fa7425e73043362938b9824");
  assert_int_equal(desc->size, 5);
  assert_int_equal(oci_layout_has_blob(l, desc->digest, &have, &e), 0);
  assert_true(have);
  assert_int_equal(oci_layout_get_blob(l, desc->digest, 5, &buf, &n, &e), 0);
  assert_int_equal(n, 5);
  assert_memory_equal(buf, "hello", 5);
  free(buf);
  assert_int_equal(oci_layout_get_blob(l, desc->digest, 4, &buf, &n, &e),
                   OCI_EMISMATCH);
  assert_non_null(strstr(e.message, desc->digest));
  flip_blob(l, desc->digest, 0);
  assert_int_equal(oci_layout_get_blob(l, desc->digest, -1, &buf, &n, &e),
                   OCI_EMISMATCH);
  assert_non_null(strstr(e.message, desc->digest));
  assert_int_equal(oci_layout_get_blob(l,
                                       "sha256:0000000000000000000000000000000"
                                       "000000000000000000000000000000000",
                                       -1, &buf, &n, &e),
                   OCI_EIO);
  oci_image_descriptor_free(desc);
  assert_int_equal(oci_layout_put_blob(l, "x", 1, "bad type", &desc, &e),
                   OCI_EINVAL);

  /* file */
  char *f = join(d, "data");
  write_file(f, "file content", 12);
  assert_int_equal(oci_layout_put_blob_file(l, f, "text/plain", &desc, &e), 0);
  assert_int_equal(desc->size, 12);
  oci_image_descriptor_free(desc);
  char *missing = join(d, "missing");
  assert_int_equal(oci_layout_put_blob_file(l, missing, NULL, &desc, &e),
                   OCI_EIO);
  assert_non_null(strstr(e.message, "missing"));
  assert_int_equal(count_tmp(l), 0);

  /* writer */
  oci_blob_writer *w;
  assert_int_equal(oci_layout_blob_writer(l, NULL, &w, &e), 0);
  assert_int_equal(oci_blob_writer_write(w, "abc", 3, &e), 0);
  assert_int_equal(oci_blob_writer_size(w), 3);
  assert_int_equal(
      oci_blob_writer_commit(w,
                             "sha256:ba7816bf8f01cfea414140de5dae"
                             "2223b00361a396177a9cb410ff61f20015ad",
                             &desc, &e),
      0);
  oci_image_descriptor_free(desc);
  assert_int_equal(oci_layout_blob_writer(l, NULL, &w, &e), 0);
  assert_int_equal(oci_blob_writer_write(w, "abd", 3, &e), 0);
  assert_int_equal(
      oci_blob_writer_commit(w,
                             "sha256:ba7816bf8f01cfea414140de5dae"
                             "2223b00361a396177a9cb410ff61f20015ad",
                             &desc, &e),
      OCI_EMISMATCH);
  assert_null(desc);
  assert_non_null(strstr(e.message, "nothing was stored"));
  assert_int_equal(oci_layout_blob_writer(l, NULL, &w, &e), 0);
  assert_int_equal(oci_blob_writer_write(w, "zzz", 3, &e), 0);
  assert_int_equal(oci_blob_writer_commit(w, "sha256:zz", &desc, &e),
                   OCI_EINVAL);
  assert_int_equal(oci_layout_blob_writer(l, NULL, &w, &e), 0);
  assert_int_equal(oci_blob_writer_write(w, "zzz", 3, &e), 0);
  oci_blob_writer_abort(w);
  oci_blob_writer_abort(NULL);
  assert_int_equal(count_tmp(l), 0);

  /* temp_path + adopt_blob */
  char *tmp, *tmp2;
  assert_int_equal(oci_layout_temp_path(l, &tmp, &e), 0);
  write_file(tmp, "abc", 3);
  assert_int_equal(
      oci_layout_adopt_blob(l, tmp, "sha256:../x", 3, NULL, &desc, &e),
      OCI_EINVAL);
  assert_int_equal(oci_layout_adopt_blob(l, tmp,
                                         "sha256:ba7816bf8f01cfea414140de5dae22"
                                         "23b00361a396177a9cb410ff61f20015ad",
                                         2, NULL, &desc, &e),
                   OCI_EMISMATCH);
  assert_true(exists(tmp));
  /* the blob exists already: the temporary file goes */
  assert_int_equal(oci_layout_adopt_blob(l, tmp,
                                         "sha256:ba7816bf8f01cfea414140de5dae22"
                                         "23b00361a396177a9cb410ff61f20015ad",
                                         3, MT_TAR, &desc, &e),
                   0);
  assert_false(exists(tmp));
  assert_string_equal(desc->media_type, MT_TAR);
  oci_image_descriptor_free(desc);
  assert_int_equal(oci_layout_adopt_blob(l, tmp,
                                         "sha256:ba7816bf8f01cfea414140de5dae22"
                                         "23b00361a396177a9cb410ff61f20015ad",
                                         3, NULL, &desc, &e),
                   OCI_EIO);
  assert_int_equal(oci_layout_temp_path(l, &tmp2, &e), 0);
  assert_true(exists(tmp2));
  oci_layout_close(l); /* unadopted temporary paths are removed */
  assert_false(exists(tmp2));
  free(tmp);
  free(tmp2);
  free(missing);
  free(f);
  rmrf(d);
  free(d);
}

/* ---- documents, tags, resolve ------------------------------------------- */

static void test_documents_and_tags(void **state) {
  (void)state;
  char *d;
  oci_layout *l = new_layout(&d);
  oci_error e;
  image a = make_image(l, "amd64", ARCHIVE_FILTER_GZIP, NULL, NULL, -1);
  image b = make_image(l, "arm64", ARCHIVE_FILTER_GZIP, NULL, NULL, -1);
  assert_string_equal(a.manifest->media_type, MT_MANIFEST);
  assert_string_equal(a.config->media_type, MT_CONFIG);
  assert_string_equal(oci_layout_media_type_of(&oci_type_runtime_spec),
                      "application/json");

  oci_image_manifest *m;
  assert_int_equal(
      oci_layout_get_document(l, a.manifest->digest, a.manifest->size,
                              &oci_type_image_manifest, (void **)&m, &e),
      0);
  assert_string_equal(m->config->digest, a.config->digest);
  oci_image_manifest_free(m);
  assert_int_equal(oci_layout_get_document(l, a.config->digest, -1,
                                           &oci_type_image_manifest,
                                           (void **)&m, &e),
                   OCI_EMISSING);
  assert_non_null(strstr(e.message, "as ImageManifest"));

  /* options: annotations and platform on the descriptor */
  char *ak[] = {"org.example"}, *av[] = {"yes"};
  oci_str_map ann = {ak, av, 1};
  oci_image_platform *plat;
  assert_int_equal(
      oci_image_platform_parse("{\"architecture\":\"amd64\",\"os\":\"linux\"}",
                               37, NULL, &plat, &e),
      0);
  oci_layout_put_options o = OCI_LAYOUT_PUT_OPTIONS_INIT;
  o.annotations = &ann;
  o.platform = plat;
  oci_image_descriptor *pd;
  assert_int_equal(
      oci_layout_put_document(l, &oci_type_image_platform, plat, &o, &pd, &e),
      0);
  assert_int_equal(pd->annotations.len, 1);
  assert_string_equal(pd->platform->architecture, "amd64");
  oci_image_descriptor_free(pd);

  /* tags */
  assert_int_equal(oci_layout_tag(l, a.manifest, "v1", &e), 0);
  assert_int_equal(oci_layout_tag(l, b.manifest, "v2", &e), 0);
  assert_int_equal(oci_layout_tag(l, b.manifest, "v1", &e), 0);
  assert_int_equal(oci_layout_tag(l, b.manifest, "bad name", &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "invalid reference name"));
  oci_image_index *idx;
  assert_int_equal(oci_layout_index(l, &idx, &e), 0);
  assert_int_equal(idx->manifests.len, 2);
  assert_string_equal(idx->manifests.items[0]->digest, b.manifest->digest);
  oci_image_index_free(idx);
  assert_int_equal(oci_layout_untag(l, "v2", &e), 0);
  assert_int_equal(oci_layout_untag(l, "v2", &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "no tag \"v2\""));
  assert_int_equal(count_tmp(l), 0);

  /* resolve through an index with platforms */
  char *aj, *bj, json[2048];
  size_t n;
  assert_int_equal(oci_image_descriptor_to_json(a.manifest, false, &aj, &n, &e),
                   0);
  assert_int_equal(oci_image_descriptor_to_json(b.manifest, false, &bj, &n, &e),
                   0);
  /* a without platform (its config says amd64), b with arm64/v8 */
  bj[strlen(bj) - 1] = '\0';
  snprintf(json, sizeof json,
           "{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":"
           "[%s,%s,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\","
           "\"variant\":\"v8\"}}]}",
           aj, bj);
  free(aj);
  free(bj);
  oci_image_index *x;
  assert_int_equal(oci_image_index_parse(json, strlen(json), NULL, &x, &e), 0);
  oci_image_descriptor *xd;
  assert_int_equal(
      oci_layout_put_document(l, &oci_type_image_index, x, NULL, &xd, &e), 0);
  oci_image_index_free(x);
  assert_string_equal(xd->media_type, MT_INDEX);
  assert_int_equal(oci_layout_tag(l, xd, "multi", &e), 0);
  oci_layout_resolved *r;
  oci_layout_platform want = {"linux", "arm64", NULL};
  assert_int_equal(oci_layout_resolve(l, "multi", &want, &r, &e), 0);
  assert_string_equal(r->descriptor->digest, b.manifest->digest);
  assert_non_null(r->index);
  assert_string_equal(r->config->architecture, "arm64");
  oci_layout_resolved_free(r);
  want.architecture = "amd64";
  assert_int_equal(oci_layout_resolve(l, "multi", &want, &r, &e), 0);
  assert_string_equal(r->descriptor->digest, a.manifest->digest);
  oci_layout_resolved_free(r);
  want.architecture = "arm64";
  want.variant = "v7";
  assert_int_equal(oci_layout_resolve(l, "multi", &want, &r, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "no manifest for linux/arm64/v7"));
  assert_non_null(strstr(e.message, "linux/amd64"));
  assert_non_null(strstr(e.message, "linux/arm64/v8"));
  assert_int_equal(oci_layout_resolve(l, "v1", NULL, &r, &e), 0);
  assert_null(r->index);
  oci_layout_resolved_free(r);
  assert_int_equal(oci_layout_resolve(l, a.manifest->digest, NULL, &r, &e), 0);
  oci_layout_resolved_free(r);
  assert_int_equal(oci_layout_resolve(l, "nope", NULL, &r, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "tags: v1, multi"));

  oci_image_descriptor_free(xd);
  oci_image_platform_free(plat);
  image_free(&a);
  image_free(&b);
  oci_layout_close(l);
  rmrf(d);
  free(d);
}

/* ---- gc ----------------------------------------------------------------- */

static void test_gc(void **state) {
  (void)state;
  char *d;
  oci_layout *l = new_layout(&d);
  oci_error e;
  image a = make_image(l, "amd64", ARCHIVE_FILTER_GZIP, NULL, NULL, -1);
  image b = make_image(l, "arm64", ARCHIVE_FILTER_GZIP, NULL, NULL, -1);
  assert_int_equal(oci_layout_tag(l, a.manifest, "keep", &e), 0);
  char *stale = join(d, OCI_LAYOUT_TMP_DIR "/tmp-stale");
  write_file(stale, "x", 1);
  char *held;
  assert_int_equal(oci_layout_temp_path(l, &held, &e), 0);
  oci_layout_strings rm;
  assert_int_equal(oci_layout_gc(l, &rm, &e), 0);
  assert_int_equal(rm.len, 3); /* b's manifest, config and layer */
  bool have;
  for (size_t i = 0; i < rm.len; i++)
    assert_true(strcmp(rm.items[i], b.manifest->digest) == 0 ||
                strcmp(rm.items[i], b.config->digest) == 0 ||
                strcmp(rm.items[i], b.layer->digest) == 0);
  oci_layout_strings_free(&rm);
  assert_int_equal(oci_layout_has_blob(l, a.layer->digest, &have, &e), 0);
  assert_true(have);
  assert_false(exists(stale));
  assert_true(exists(held));
  /* an unreadable manifest: nothing is removed */
  oci_image_descriptor *junk;
  assert_int_equal(oci_layout_put_blob(l, "junk", 4, NULL, &junk, &e), 0);
  flip_blob(l, a.manifest->digest, -1);
  assert_int_equal(oci_layout_gc(l, &rm, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "nothing removed"));
  assert_int_equal(oci_layout_has_blob(l, junk->digest, &have, &e), 0);
  assert_true(have);
  oci_image_descriptor_free(junk);
  free(held);
  free(stale);
  image_free(&a);
  image_free(&b);
  oci_layout_close(l);
  rmrf(d);
  free(d);
}

/* ---- verify ------------------------------------------------------------- */

/* oci_layout_add and gc's referrers: a manifest whose subject is kept
   stays without an index.json entry; drop_referrers removes it and the
   unnamed entry oci_layout_add gave it. */
static void test_referrers_gc(void **state) {
  (void)state;
  char *d;
  oci_layout *l = new_layout(&d);
  oci_error e;
  image a = make_image(l, "amd64", ARCHIVE_FILTER_GZIP, NULL, NULL, -1);
  assert_int_equal(oci_layout_tag(l, a.manifest, "keep", &e), 0);
  oci_image_descriptor *cfg, *ref;
  assert_int_equal(
      oci_layout_put_blob(l, "{}", 2, OCI_MEDIA_TYPE_EMPTY_JSON, &cfg, &e), 0);
  char json[1024];
  int n = snprintf(json, sizeof json,
                   "{\"schemaVersion\":2,\"mediaType\":\"%s\","
                   "\"artifactType\":\"application/x.sig\",\"config\":{"
                   "\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":2},"
                   "\"layers\":[],\"subject\":{\"mediaType\":\"%s\","
                   "\"digest\":\"%s\",\"size\":%lld}}",
                   OCI_MEDIA_TYPE_IMAGE_MANIFEST, OCI_MEDIA_TYPE_EMPTY_JSON,
                   cfg->digest, OCI_MEDIA_TYPE_IMAGE_MANIFEST,
                   a.manifest->digest, (long long)a.manifest->size);
  assert_true(n > 0 && (size_t)n < sizeof json);
  assert_int_equal(oci_layout_put_blob(l, json, (size_t)n,
                                       OCI_MEDIA_TYPE_IMAGE_MANIFEST, &ref, &e),
                   0);
  oci_layout_strings rm;
  assert_int_equal(oci_layout_gc(l, &rm, &e), 0);
  assert_int_equal(rm.len, 0); /* the referrer and its config stay */
  oci_layout_strings_free(&rm);
  assert_int_equal(oci_layout_add(l, ref, &e), 0);
  assert_int_equal(oci_layout_add(l, ref, &e), 0); /* once */
  oci_image_index *idx;
  assert_int_equal(oci_layout_index(l, &idx, &e), 0);
  assert_int_equal(idx->manifests.len, 2);
  oci_image_index_free(idx);
  /* an image may have an unnamed entry too: drop_referrers keeps it */
  assert_int_equal(oci_layout_add(l, a.manifest, &e), 0);
  oci_layout_gc_options o;
  oci_layout_gc_options_init(&o);
  o.version = 99;
  assert_int_equal(oci_layout_gc_opts(l, &o, &rm, &e), OCI_EINVAL);
  assert_non_null(strstr(e.message, "options version 99"));
  oci_layout_gc_options_init(&o);
  o.drop_referrers = true;
  assert_int_equal(oci_layout_gc_opts(l, &o, &rm, &e), 0);
  assert_int_equal(rm.len, 2); /* the referrer and its config */
  oci_layout_strings_free(&rm);
  assert_int_equal(oci_layout_index(l, &idx, &e), 0);
  assert_int_equal(idx->manifests.len, 2); /* "keep" and a's unnamed entry */
  oci_image_index_free(idx);
  oci_image_descriptor_free(cfg);
  oci_image_descriptor_free(ref);
  image_free(&a);
  oci_layout_close(l);
  rmrf(d);
  free(d);
}

static void test_verify(void **state) {
  (void)state;
  char *d;
  oci_layout *l = new_layout(&d);
  oci_error e;
  oci_layout_problems p;
  image ok1 = make_image(l, "amd64", ARCHIVE_FILTER_GZIP, NULL, NULL, -1);
  image ok2 = make_image(l, "arm64", ARCHIVE_FILTER_ZSTD, NULL, NULL, -1);
  image ok3 = make_image(l, "s390x", ARCHIVE_FILTER_NONE, NULL, NULL, -1);
  assert_int_equal(oci_layout_tag(l, ok1.manifest, "gz", &e), 0);
  assert_int_equal(oci_layout_tag(l, ok2.manifest, "zst", &e), 0);
  assert_int_equal(oci_layout_tag(l, ok3.manifest, "tar", &e), 0);
  if (oci_layout_verify(l, &p, &e) != OCI_OK) {
    dump(&p);
    fail_msg("verify: %s", e.message);
  }
  assert_int_equal(p.len, 0);
  oci_layout_problems_free(&p);

  image lf = make_image(l, "a1", ARCHIVE_FILTER_GZIP, NULL, NULL, -1);
  image cf = make_image(l, "a2", ARCHIVE_FILTER_GZIP, NULL, NULL, -1);
  image mf = make_image(l, "a3", ARCHIVE_FILTER_GZIP, NULL, NULL, -1);
  image ws = make_image(l, "a4", ARCHIVE_FILTER_GZIP, NULL, NULL, 7);
  image cm = make_image(l, "a5", ARCHIVE_FILTER_ZSTD, MT_GZIP, NULL, -1);
  image df = make_image(l, "a6", ARCHIVE_FILTER_GZIP, NULL, "sha256:" E64, -1);
  image *all[] = {&lf, &cf, &mf, &ws, &cm, &df};
  const char *names[] = {"lf", "cf", "mf", "ws", "cm", "df"};
  for (int i = 0; i < 6; i++)
    assert_int_equal(oci_layout_tag(l, all[i]->manifest, names[i], &e), 0);
  flip_blob(l, lf.layer->digest, 20);
  flip_blob(l, cf.config->digest, -1);
  flip_blob(l, mf.manifest->digest, -1);
  assert_int_equal(oci_layout_verify(l, &p, &e), OCI_EVALIDATE);
  assert_non_null(strstr(e.message, "6 problems"));
  const oci_layout_problem *q;
  assert_non_null(q = find(&p, lf.layer->digest, "content has digest"));
  assert_int_equal(q->code, OCI_EMISMATCH);
  assert_string_equal(q->digest, lf.layer->digest);
  assert_non_null(q = find(&p, cf.config->digest, "config of manifest"));
  assert_non_null(q = find(&p, mf.manifest->digest, "index.json /manifests/5"));
  assert_non_null(q = find(&p, ws.layer->digest, "the descriptor says 7"));
  assert_non_null(
      q = find(&p, cm.layer->digest, "says gzip, the content is zstd"));
  assert_non_null(q = find(&p, df.layer->digest, "uncompressed content is"));
  assert_int_equal(p.errors, 6);
  oci_layout_problems_free(&p);

  /* bad oci-layout and index.json are reported too */
  char *ol = join(d, "oci-layout"), *ix = join(d, "index.json");
  write_file(ol, "{}", 2);
  write_file(ix, "{\"schemaVersion\":", 16);
  assert_int_equal(oci_layout_verify(l, &p, &e), OCI_EVALIDATE);
  assert_int_equal(p.errors, 2);
  assert_string_equal(p.items[0].path, "oci-layout");
  assert_int_equal(p.items[0].code, OCI_EMISSING);
  assert_string_equal(p.items[1].path, "index.json");
  assert_int_equal(p.items[1].code, OCI_ESYNTAX);
  oci_layout_problems_free(&p);
  free(ol);
  free(ix);
  image_free(&ok1);
  image_free(&ok2);
  image_free(&ok3);
  for (int i = 0; i < 6; i++)
    image_free(all[i]);
  oci_layout_close(l);
  rmrf(d);
  free(d);
}

/* ---- crash safety ------------------------------------------------------- */

/* Every file under blobs/ holds the content its name says: no temporary or
   partial file was ever taken for a blob. */
static void check_blobs_sound(const char *root) {
  char *dir = join(root, "blobs/sha256");
  DIR *dh = opendir(dir);
  assert_non_null(dh);
  struct dirent *de;
  while ((de = readdir(dh))) {
    if (de->d_name[0] == '.') continue;
    char digest[300], *p = join(dir, de->d_name);
    snprintf(digest, sizeof digest, "sha256:%s", de->d_name);
    oci_error e;
    if (oci_digest_verify_file(digest, p, &e) != OCI_OK)
      fail_msg("%s: %s", p, e.message);
    free(p);
  }
  closedir(dh);
  free(dir);
}

/* Child: put ever new large blobs (mode 0) or retag in a loop (mode 1),
   until killed. It reports on ready_fd once a first round is complete and,
   in mode 0, again halfway through writing the second blob. */
static void child_loop(const char *root, int mode, int ready_fd) {
  oci_layout *l;
  if (oci_layout_open(root, &l, NULL)) _exit(2);
  size_t big = mode == 0 ? (size_t)24 << 20 : 4096, chunk = 1 << 20;
  unsigned char *buf = malloc(big);
  if (!buf) _exit(3);
  for (size_t i = 0; i < big; i++)
    buf[i] = (unsigned char)(i * 31);
  for (unsigned iter = 0;; iter++) {
    memcpy(buf, &iter, sizeof iter); /* a new blob each round */
    oci_image_descriptor *d;
    if (mode == 0) {
      oci_blob_writer *w;
      if (oci_layout_blob_writer(l, NULL, &w, NULL)) _exit(4);
      for (size_t off = 0; off < big; off += chunk) {
        if (iter == 1 && off == big / 2) (void)!write(ready_fd, "m", 1);
        if (oci_blob_writer_write(w, buf + off, chunk, NULL)) _exit(5);
      }
      if (oci_blob_writer_commit(w, NULL, &d, NULL)) _exit(6);
    } else if (oci_layout_put_blob(l, buf, big, NULL, &d, NULL)) {
      _exit(7);
    }
    char name[32];
    snprintf(name, sizeof name, "t%u", iter % 20);
    if (oci_layout_tag(l, d, name, NULL)) _exit(8);
    oci_image_descriptor_free(d);
    if (iter == 0) (void)!write(ready_fd, "r", 1);
  }
}

/* How many of the temporary files left behind hold (part of) an index.json
   being written: its JSON starts with '{', a mode-1 blob starts with the
   round number (binary), an empty file is counted as neither. */
static size_t count_tmp_index(const oci_layout *l) {
  char *d = join(oci_layout_path(l), OCI_LAYOUT_TMP_DIR);
  DIR *dh = opendir(d);
  size_t n = 0;
  struct dirent *de;
  while (dh && (de = readdir(dh))) {
    if (strncmp(de->d_name, "tmp-", 4) != 0) continue;
    char *p = join(d, de->d_name);
    FILE *f = fopen(p, "rb");
    if (f && fgetc(f) == '{') n++;
    if (f) fclose(f);
    free(p);
  }
  if (dh) closedir(dh);
  free(d);
  return n;
}

/* Returns how many temporary files the killed child left behind; *index_tmp
   (if not NULL) how many of them were an index.json being written. */
static size_t crash_round(int mode, long delay_us, size_t *index_tmp) {
  char *d;
  oci_layout *l = new_layout(&d);
  oci_layout_close(l);
  int pfd[2];
  assert_int_equal(pipe(pfd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(pfd[0]);
    child_loop(d, mode, pfd[1]);
  }
  close(pfd[1]);
  char c;
  assert_int_equal(read(pfd[0], &c, 1), 1); /* one full round done */
  if (mode == 0) /* halfway through the second blob */
    assert_int_equal(read(pfd[0], &c, 1), 1);
  close(pfd[0]);
  struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
  nanosleep(&ts, NULL);
  assert_int_equal(kill(pid, SIGKILL), 0);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));

  oci_error e;
  oci_layout_problems p;
  if (oci_layout_open(d, &l, &e)) fail_msg("open after crash: %s", e.message);
  if (oci_layout_verify(l, &p, &e) != OCI_OK) {
    dump(&p);
    fail_msg("verify after crash (mode %d, %ld us): %s", mode, delay_us,
             e.message);
  }
  for (size_t i = 0; i < p.len; i++) /* warnings only: leftovers */
    assert_int_equal(p.items[i].severity, OCI_SEV_WARNING);
  oci_layout_problems_free(&p);
  check_blobs_sound(d);
  size_t left = count_tmp(l);
  if (index_tmp) *index_tmp = count_tmp_index(l);
  oci_layout_strings rm;
  assert_int_equal(oci_layout_gc(l, &rm, &e), 0);
  oci_layout_strings_free(&rm);
  assert_int_equal(count_tmp(l), 0); /* stale temporary files collected */
  assert_int_equal(oci_layout_verify(l, &p, &e), OCI_OK);
  assert_int_equal(p.len, 0);
  oci_layout_problems_free(&p);
  oci_layout_close(l);
  rmrf(d);
  free(d);
  return left;
}

static void test_crash_large_blob(void **state) {
  (void)state;
  static const long delays[] = {0, 700, 3000, 11000, 29000, 53000, 97000};
  size_t interrupted = 0;
  for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++)
    interrupted += crash_round(0, delays[i], NULL) > 0;
  /* the kills did land in the middle of writing a blob */
  assert_true(interrupted > 0);
}

static void test_crash_index(void **state) {
  (void)state;
  static const long delays[] = {0, 50, 200, 450, 900, 1700, 3100, 7000};
  size_t interrupted = 0, rounds = 0;
  /* Each round must leave a sound layout. Rounds go on (bounded) until one
     kill did land while index.json was being written: a temporary file
     holding index JSON was left behind, not yet renamed over index.json. */
  for (size_t i = 0; rounds < 8 || (!interrupted && rounds < 64); i++) {
    size_t n;
    crash_round(1, delays[i % 8] + (long)(i / 8) * 37, &n);
    interrupted += n > 0;
    rounds++;
  }
  if (!interrupted)
    fail_msg("none of %zu kills interrupted an index.json write", rounds);
  print_message("test_crash_index: %zu of %zu kills interrupted an index "
                "write\n",
                interrupted, rounds);
}

/* ---- hostile layouts (issue 13 item 13) --------------------------------- */

static char *read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *b = calloc(1, 4096);
  assert_non_null(b);
  size_t n = fread(b, 1, 4095, f);
  b[n] = '\0';
  fclose(f);
  return b;
}

static void expect_err(int rc, const oci_error *e, int code, const char *a,
                       const char *b) {
  if (rc != code || !strstr(e->message, a) || (b && !strstr(e->message, b)))
    fail_msg("expected %d \"%s\" \"%s\", got %d: %s", code, a, b ? b : "", rc,
             e->message);
}

/* The blob of d is replaced by a symlink to a file outside the layout
   holding exactly its content (the digest would even match): every reader
   refuses it, naming the blob. */
static void test_blob_symlink_refused(void **state) {
  (void)state;
  char *d, *out = tmpdir();
  oci_layout *l = new_layout(&d);
  oci_error e;
  image im = make_image(l, "amd64", ARCHIVE_FILTER_GZIP, NULL, NULL, -1);
  assert_int_equal(oci_layout_tag(l, im.manifest, "v1", &e), 0);
  char *bp, *buf;
  size_t n;
  assert_int_equal(oci_layout_get_blob(l, im.config->digest, -1, &buf, &n, &e),
                   0);
  char *secret = join(out, "shadow");
  write_file(secret, buf, n);
  free(buf);
  assert_int_equal(oci_layout_blob_path(l, im.config->digest, &bp, &e), 0);
  assert_int_equal(unlink(bp), 0);
  assert_int_equal(symlink(secret, bp), 0);

  int rc = oci_layout_get_blob(l, im.config->digest, -1, &buf, &n, &e);
  expect_err(rc, &e, OCI_EINVAL, im.config->digest, "symbolic link");
  int fd = 7;
  int64_t size;
  rc = oci_layout_open_blob(l, im.config->digest, &fd, &size, &e);
  expect_err(rc, &e, OCI_EINVAL, im.config->digest, "symbolic link");
  assert_int_equal(fd, -1);
  bool have;
  rc = oci_layout_has_blob(l, im.config->digest, &have, &e);
  expect_err(rc, &e, OCI_EINVAL, im.config->digest, "symbolic link");
  char *p2 = NULL;
  rc = oci_layout_blob_path(l, im.config->digest, &p2, &e);
  expect_err(rc, &e, OCI_EINVAL, "symbolic link", NULL);
  assert_null(p2);
  oci_layout_resolved *r;
  rc = oci_layout_resolve(l, "v1", NULL, &r, &e);
  if (rc == OCI_OK) fail_msg("resolve read a config through a symlink");
  oci_layout_problems pr;
  assert_int_equal(oci_layout_verify(l, &pr, &e), OCI_EVALIDATE);
  const oci_layout_problem *q = find(&pr, im.config->digest, "symbolic link");
  assert_non_null(q);
  assert_int_equal(q->code, OCI_EINVAL);
  oci_layout_problems_free(&pr);
  /* tag checks the config too */
  rc = oci_layout_tag(l, im.manifest, "v2", &e);
  expect_err(rc, &e, OCI_EINVAL, "tag v2", "symbolic link");

  /* the manifest itself as a symlink: resolve refuses it */
  assert_int_equal(oci_layout_blob_path(l, im.manifest->digest, &p2, &e), 0);
  char *mcopy = join(out, "manifest");
  assert_int_equal(rename(p2, mcopy), 0);
  assert_int_equal(symlink(mcopy, p2), 0);
  rc = oci_layout_resolve(l, "v1", NULL, &r, &e);
  expect_err(rc, &e, OCI_EINVAL, im.manifest->digest, "symbolic link");
  /* gc stops (the manifest cannot be read) and removes nothing; the link
     (not its target) would be all it could ever remove */
  oci_layout_strings rm;
  rc = oci_layout_gc(l, &rm, &e);
  expect_err(rc, &e, OCI_EINVAL, "nothing removed", "symbolic link");
  assert_true(exists(secret) && exists(mcopy));

  /* writing the blob again replaces the link, never writes through it */
  unlink(secret);
  oci_image_descriptor *again;
  assert_int_equal(unlink(p2), 0);
  char *planted = join(out, "planted");
  assert_int_equal(symlink(planted, p2), 0); /* dangling */
  char *mj = read_all(mcopy);
  assert_non_null(mj);
  assert_int_equal(
      oci_layout_put_blob(l, mj, strlen(mj), MT_MANIFEST, &again, &e), 0);
  assert_false(exists(planted)); /* nothing created outside */
  struct stat st;
  assert_int_equal(lstat(p2, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_string_equal(again->digest, im.manifest->digest);
  oci_image_descriptor_free(again);
  free(mj);
  free(planted);
  free(mcopy);
  free(p2);
  free(secret);
  free(bp);
  image_free(&im);
  oci_layout_close(l);
  rmrf(d);
  rmrf(out);
  free(d);
  free(out);
}

static void on_alarm(int sig) {
  (void)sig;
  static const char m[] = "test_layout: a FIFO hung the layout code\n";
  (void)!write(2, m, sizeof m - 1);
  _exit(99);
}

/* FIFOs and directories in place of a blob, index.json or oci-layout are
   refused at once (no open blocks), naming them. */
static void test_not_regular_refused(void **state) {
  (void)state;
  signal(SIGALRM, on_alarm);
  alarm(30);
  char *d;
  oci_layout *l = new_layout(&d);
  oci_error e;
  image im = make_image(l, "amd64", ARCHIVE_FILTER_GZIP, NULL, NULL, -1);
  assert_int_equal(oci_layout_tag(l, im.manifest, "v1", &e), 0);
  char *lp, *buf;
  size_t n;
  assert_int_equal(oci_layout_blob_path(l, im.layer->digest, &lp, &e), 0);
  assert_int_equal(unlink(lp), 0);
  assert_int_equal(mkfifo(lp, 0644), 0);
  int rc = oci_layout_get_blob(l, im.layer->digest, -1, &buf, &n, &e);
  expect_err(rc, &e, OCI_EINVAL, im.layer->digest, "a FIFO");
  int fd;
  rc = oci_layout_open_blob(l, im.layer->digest, &fd, NULL, &e);
  expect_err(rc, &e, OCI_EINVAL, im.layer->digest, "a FIFO");
  oci_layout_problems pr;
  assert_int_equal(oci_layout_verify(l, &pr, &e), OCI_EVALIDATE);
  assert_non_null(find(&pr, im.layer->digest, "a FIFO"));
  oci_layout_problems_free(&pr);
  assert_int_equal(unlink(lp), 0);
  assert_int_equal(mkdir(lp, 0755), 0);
  rc = oci_layout_get_blob(l, im.layer->digest, -1, &buf, &n, &e);
  expect_err(rc, &e, OCI_EINVAL, im.layer->digest, "a directory");
  assert_int_equal(rmdir(lp), 0);
  oci_layout_close(l);

  /* index.json and oci-layout */
  char *ij = join(d, "index.json"), *ol = join(d, "oci-layout");
  char *saved = read_all(ij);
  assert_int_equal(unlink(ij), 0);
  assert_int_equal(mkfifo(ij, 0644), 0);
  rc = oci_layout_open(d, &l, &e);
  expect_err(rc, &e, OCI_EINVAL, "index.json", "a FIFO");
  assert_int_equal(unlink(ij), 0);
  char *elsewhere = join(d, "blobs/elsewhere.json");
  write_file(elsewhere, saved, strlen(saved));
  assert_int_equal(symlink(elsewhere, ij), 0);
  rc = oci_layout_open(d, &l, &e);
  expect_err(rc, &e, OCI_EINVAL, "index.json", "symbolic link");
  assert_int_equal(unlink(ij), 0);
  write_file(ij, saved, strlen(saved));
  char *olsaved = read_all(ol);
  assert_int_equal(unlink(ol), 0);
  assert_int_equal(mkfifo(ol, 0644), 0);
  rc = oci_layout_open(d, &l, &e);
  expect_err(rc, &e, OCI_EINVAL, "oci-layout", "a FIFO");
  assert_int_equal(unlink(ol), 0);
  write_file(ol, olsaved, strlen(olsaved));
  assert_int_equal(oci_layout_open(d, &l, &e), 0);
  oci_layout_close(l);
  alarm(0);
  free(olsaved);
  free(saved);
  free(elsewhere);
  free(ij);
  free(ol);
  free(lp);
  image_free(&im);
  rmrf(d);
  free(d);
}

/* blobs/ or blobs/sha256/ a symlink out of the layout: refused for reads
   and writes (decided: never followed, although the spec does not forbid
   it; skopeo and umoci write real directories), and gc removes nothing
   there. */
static void test_blob_dirs_symlink_refused(void **state) {
  (void)state;
  for (int which = 0; which < 2; which++) {
    char *d, *out = tmpdir();
    oci_layout *l = new_layout(&d);
    oci_error e;
    oci_image_descriptor *b, *junk;
    assert_int_equal(oci_layout_put_blob(l, "kept", 4, NULL, &b, &e), 0);
    assert_int_equal(oci_layout_tag(l, b, "v1", &e), 0);
    /* move the real directory out and link to it */
    const char *rel = which ? "blobs/sha256" : "blobs";
    char *inside = join(d, rel), *moved = join(out, "moved");
    assert_int_equal(rename(inside, moved), 0);
    assert_int_equal(symlink(moved, inside), 0);
    char *buf;
    size_t n;
    int rc = oci_layout_get_blob(l, b->digest, -1, &buf, &n, &e);
    expect_err(rc, &e, OCI_EINVAL, b->digest, "symbolic link");
    assert_non_null(strstr(e.message, rel));
    /* writes: nothing lands in the outside directory */
    rc = oci_layout_put_blob(l, "new", 3, NULL, &junk, &e);
    expect_err(rc, &e, OCI_EINVAL, "symbolic link", rel);
    /* gc: refused, the outside files stay (an unreachable-looking one
       too) */
    char *stray = join(moved, which ? E64 : "sha256/" E64);
    write_file(stray, "x", 1);
    oci_layout_strings rm;
    rc = oci_layout_gc(l, &rm, &e);
    assert_true(rc != OCI_OK);
    assert_non_null(strstr(e.message, "symbolic link"));
    assert_true(exists(stray));
    oci_layout_problems pr;
    assert_int_equal(oci_layout_verify(l, &pr, &e), OCI_EVALIDATE);
    assert_non_null(find(&pr, "symbolic link", rel));
    oci_layout_problems_free(&pr);
    free(stray);
    oci_image_descriptor_free(b);
    free(inside);
    free(moved);
    oci_layout_close(l);
    rmrf(d);
    rmrf(out);
    free(d);
    free(out);
  }
}

/* The temporary area and the lock files: a planted symlink is never
   written through (no file appears where it points). */
static void test_tmp_symlinks_refused(void **state) {
  (void)state;
  char *d, *out = tmpdir();
  oci_layout *l = new_layout(&d);
  oci_error e;
  oci_image_descriptor *b;
  char *tmpd = join(d, OCI_LAYOUT_TMP_DIR);
  rmrf(tmpd);
  assert_int_equal(symlink(out, tmpd), 0);
  int rc = oci_layout_put_blob(l, "data", 4, NULL, &b, &e);
  expect_err(rc, &e, OCI_EINVAL, OCI_LAYOUT_TMP_DIR, "symbolic link");
  DIR *dh = opendir(out);
  assert_non_null(dh);
  struct dirent *de;
  while ((de = readdir(dh)))
    if (de->d_name[0] != '.') fail_msg("written outside: %s", de->d_name);
  closedir(dh);
  assert_int_equal(unlink(tmpd), 0);
  /* a dangling symlink as index.lock: tag fails, nothing is created */
  assert_int_equal(oci_layout_put_blob(l, "data", 4, NULL, &b, &e), 0);
  char *lock = join(tmpd, "index.lock"), *target = join(out, "created");
  unlink(lock);
  assert_int_equal(symlink(target, lock), 0);
  rc = oci_layout_tag(l, b, "v1", &e);
  expect_err(rc, &e, OCI_EIO, "index.lock", "symbolic link");
  assert_false(exists(target));
  /* once the link is gone, the lock is made again and tag works */
  unlink(lock);
  assert_int_equal(oci_layout_tag(l, b, "v1", &e), 0);
  oci_image_descriptor_free(b);
  free(lock);
  free(target);
  free(tmpd);
  oci_layout_close(l);
  rmrf(d);
  rmrf(out);
  free(d);
  free(out);
}

/* Digests read from index.json and documents are checked by the digest
   grammar before any path is built: "sha256:../../x" names nothing. */
static void test_hostile_digests(void **state) {
  (void)state;
  char *d;
  oci_layout *l = new_layout(&d);
  oci_error e;
  static const char *bad[] = {"sha256:../../../etc/passwd",
                              "sha256:..",
                              "../../x:abc",
                              "sha256:a/b",
                              "sha256:",
                              "sha256:" E64 "/../x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int fd;
    int rc = oci_layout_open_blob(l, bad[i], &fd, NULL, &e);
    expect_err(rc, &e, OCI_EINVAL, "invalid blob digest", NULL);
    /* index.json lists it as a tagged manifest */
    char json[512], *ij = join(d, "index.json");
    snprintf(json, sizeof json,
             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
             "\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":2,"
             "\"annotations\":{\"%s\":\"x\"}}]}",
             bad[i], OCI_ANNOTATION_REF_NAME);
    write_file(ij, json, strlen(json));
    free(ij);
    oci_layout_resolved *r;
    rc = oci_layout_resolve(l, "x", NULL, &r, &e);
    expect_err(rc, &e, OCI_EINVAL, "invalid blob digest", NULL);
    oci_layout_strings rm;
    rc = oci_layout_gc(l, &rm, &e);
    expect_err(rc, &e, OCI_EINVAL, "nothing removed", "invalid blob digest");
    oci_layout_problems pr;
    assert_int_equal(oci_layout_verify(l, &pr, &e), OCI_EVALIDATE);
    assert_non_null(find(&pr, "invalid digest", NULL));
    oci_layout_problems_free(&pr);
  }
  oci_layout_close(l);
  rmrf(d);
  free(d);
}

/* A document blob far bigger than the parser's limit is refused before it
   is read (a descriptor in index.json cannot make resolve or gc load a
   huge file); a size that disagrees with the file is refused at once. */
static void test_huge_document_not_read(void **state) {
  (void)state;
  char *d;
  oci_layout *l = new_layout(&d);
  oci_error e;
  char *p = join(d, "blobs/sha256/" E64), json[512],
       *alg = join(d, "blobs/sha256");
  assert_int_equal(mkdir(alg, 0755), 0);
  free(alg);
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  assert_int_equal(ftruncate(fileno(f), (off_t)300 << 20), 0); /* sparse */
  fclose(f);
  for (int claim = 0; claim < 2; claim++) {
    long long size = claim ? 2 : (300LL << 20);
    snprintf(json, sizeof json,
             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
             "\"" MT_MANIFEST "\",\"digest\":\"sha256:" E64 "\",\"size\":%lld,"
             "\"annotations\":{\"%s\":\"x\"}}]}",
             size, OCI_ANNOTATION_REF_NAME);
    char *ij = join(d, "index.json");
    write_file(ij, json, strlen(json));
    free(ij);
    oci_layout_resolved *r;
    int rc = oci_layout_resolve(l, "x", NULL, &r, &e);
    if (claim)
      expect_err(rc, &e, OCI_EMISMATCH, "bytes on disk, expected 2", NULL);
    else
      expect_err(rc, &e, OCI_ETOOBIG, "more than the limit", NULL);
    oci_layout_strings rm;
    rc = oci_layout_gc(l, &rm, &e);
    expect_err(rc, &e, OCI_EINVAL, "nothing removed", "sha256:" E64);
  }
  free(p);
  oci_layout_close(l);
  rmrf(d);
  free(d);
}

/* ---- concurrency (issue 13 items 11 and 12) ----------------------------- */

/* Children block on go until the parent closes its write end: they all
   start at once. */
static void wait_go(int go[2]) {
  char c;
  close(go[1]);
  (void)!read(go[0], &c, 1);
  close(go[0]);
}

/* Child: create dir (new), put a blob of its own and tag it p<i>. */
static void create_and_tag(const char *dir, int i) {
  oci_layout *l;
  oci_error e;
  oci_image_descriptor *d;
  char content[32], name[16];
  if (oci_layout_create(dir, &l, &e)) {
    fprintf(stderr, "child %d: create: %s\n", i, e.message);
    _exit(10);
  }
  snprintf(content, sizeof content, "blob of child %d", i);
  snprintf(name, sizeof name, "p%d", i);
  if (oci_layout_put_blob(l, content, strlen(content), NULL, &d, &e) ||
      oci_layout_tag(l, d, name, &e)) {
    fprintf(stderr, "child %d: put/tag: %s\n", i, e.message);
    _exit(11);
  }
  oci_image_descriptor_free(d);
  oci_layout_close(l);
  _exit(0);
}

/* Processes creating one new directory at once: every create succeeds and
   every tag they write is in index.json (create used to write index.json
   over tags a faster process had written, and to fail on mkdir's
   EEXIST). */
static void test_create_race(void **state) {
  (void)state;
  enum { ROUNDS = 40, PROCS = 6 };
  char *parent = tmpdir();
  int failed = 0, lost = 0;
  for (int r = 0; r < ROUNDS; r++) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/l%d", parent, r);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
      pids[i] = fork();
      assert_true(pids[i] >= 0);
      if (pids[i] == 0) {
        wait_go(go);
        create_and_tag(dir, i);
      }
    }
    close(go[0]);
    close(go[1]); /* go */
    for (int i = 0; i < PROCS; i++) {
      int st;
      assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failed++;
    }
    oci_layout *l;
    oci_error e;
    oci_image_index *idx;
    if (oci_layout_open(dir, &l, &e)) fail_msg("open %s: %s", dir, e.message);
    assert_int_equal(oci_layout_index(l, &idx, &e), 0);
    for (int i = 0; i < PROCS; i++) {
      char name[16];
      snprintf(name, sizeof name, "p%d", i);
      bool found = false;
      for (size_t k = 0; k < idx->manifests.len; k++) {
        const oci_image_descriptor *m = idx->manifests.items[k];
        for (size_t a = 0; a < m->annotations.len; a++)
          if (strcmp(m->annotations.keys[a], OCI_ANNOTATION_REF_NAME) == 0 &&
              strcmp(m->annotations.values[a], name) == 0)
            found = true;
      }
      lost += !found;
    }
    oci_image_index_free(idx);
    oci_layout_close(l);
  }
  if (failed || lost)
    fail_msg("%d of %d creates failed, %d of %d tags lost", failed,
             ROUNDS * PROCS, lost, ROUNDS * PROCS);
  rmrf(parent);
  free(parent);
}

/* Child: gc in a loop until stop is closed; exits with the number of gc
   failures (a tag naming a blob gc removed makes every later gc fail). */
static void gc_loop(const char *dir, int stop) {
  oci_layout *l;
  oci_error e;
  if (oci_layout_open(dir, &l, &e)) _exit(100);
  int failures = 0;
  for (;;) {
    char c;
    if (read(stop, &c, 1) == 0) break; /* non-blocking: EAGAIN until EOF */
    oci_layout_strings rm;
    if (oci_layout_gc(l, &rm, &e)) {
      if (failures++ == 0) fprintf(stderr, "gc: %s\n", e.message);
    }
    oci_layout_strings_free(&rm);
    usleep(5000); /* gives the tagger a chance: both outcomes happen */
  }
  oci_layout_close(l);
  _exit(failures > 99 ? 99 : failures);
}

/* Puts a fresh config and manifest (not yet tagged: garbage to a gc). */
static oci_image_descriptor *put_fresh_image(oci_layout *l, unsigned n) {
  char cfg[256], man[512];
  oci_image_descriptor *c, *m;
  snprintf(cfg, sizeof cfg,
           "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{"
           "\"type\":\"layers\",\"diff_ids\":[]},\"author\":\"%u\"}",
           n);
  if (oci_layout_put_blob(l, cfg, strlen(cfg), MT_CONFIG, &c, NULL))
    return NULL;
  snprintf(man, sizeof man,
           "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST
           "\",\"config\":{\"mediaType\":\"" MT_CONFIG
           "\",\"digest\":\"%s\",\"size\":%lld},\"layers\":[]}",
           c->digest, (long long)c->size);
  oci_image_descriptor_free(c);
  if (oci_layout_put_blob(l, man, strlen(man), MT_MANIFEST, &m, NULL))
    return NULL;
  return m;
}

/* tag racing gc: gc may remove what was put for a tag before the tag
   takes the index lock. tag then fails (the blob is missing) instead of
   writing an entry that breaks every later gc. */
static void test_tag_gc_race(void **state) {
  (void)state;
  char *dir;
  oci_layout *l = new_layout(&dir);
  int stop[2];
  assert_int_equal(pipe(stop), 0);
  assert_int_equal(fcntl(stop[0], F_SETFL, O_NONBLOCK), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(stop[1]);
    gc_loop(dir, stop[0]);
  }
  close(stop[0]);
  unsigned refused = 0, tagged = 0;
  oci_error e;
  for (unsigned i = 0; i < 300; i++) {
    oci_image_descriptor *m = put_fresh_image(l, i);
    if (!m) { /* gc removed the config before the manifest was put: fine */
      refused++;
      continue;
    }
    char name[16];
    snprintf(name, sizeof name, "t%u", i); /* kept: a bad entry stays */
    int rc = oci_layout_tag(l, m, name, &e);
    if (rc == OCI_OK)
      tagged++;
    else {
      /* the only acceptable failure: gc removed what was to be tagged */
      if (rc != OCI_EIO || !strstr(e.message, "missing"))
        fail_msg("tag: unexpected failure %d: %s", rc, e.message);
      refused++;
    }
    oci_image_descriptor_free(m);
  }
  close(stop[1]);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  if (WEXITSTATUS(st) != 0)
    fail_msg("%d gc runs failed (%u tags, %u refused)", WEXITSTATUS(st), tagged,
             refused);
  assert_true(tagged > 0);
  /* what is tagged is whole: gc and verify are clean */
  oci_layout_strings rm;
  assert_int_equal(oci_layout_gc(l, &rm, &e), 0);
  oci_layout_strings_free(&rm);
  oci_layout_problems p;
  if (oci_layout_verify(l, &p, &e) != OCI_OK) {
    dump(&p);
    fail_msg("verify: %s", e.message);
  }
  oci_layout_problems_free(&p);
  print_message("tag/gc race: %u tagged, %u refused\n", tagged, refused);
  oci_layout_close(l);
  rmrf(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_open),
      cmocka_unit_test(test_blobs),
      cmocka_unit_test(test_documents_and_tags),
      cmocka_unit_test(test_gc),
      cmocka_unit_test(test_referrers_gc),
      cmocka_unit_test(test_verify),
      cmocka_unit_test(test_crash_large_blob),
      cmocka_unit_test(test_crash_index),
      cmocka_unit_test(test_blob_symlink_refused),
      cmocka_unit_test(test_not_regular_refused),
      cmocka_unit_test(test_blob_dirs_symlink_refused),
      cmocka_unit_test(test_tmp_symlinks_refused),
      cmocka_unit_test(test_hostile_digests),
      cmocka_unit_test(test_huge_document_not_read),
      cmocka_unit_test(test_create_race),
      cmocka_unit_test(test_tag_gc_race),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
