/* oci_unpack_image (ocispec/unpack.h): an image of a layout into a runtime
   bundle, as `umoci unpack` makes one: BUNDLE/rootfs from the manifest's
   layers, BUNDLE/config.json from its configuration (image-spec
   conversion.md, oci_runtime_spec_from_image_config).

   The bundle is built in a new directory beside it (mkdtemp, mode 0700,
   ".NAME.unpack-XXXXXX") and renamed to BUNDLE only when complete; BUNDLE
   must be missing or an empty directory (rename(2) replaces an empty
   directory, and fails when one appeared with content meanwhile). On any
   failure the temporary directory is removed without following a link, so
   nothing is left behind. That is what lets each layer be read once
   (oci_unpack_options.one_pass): applied as it is decompressed, its
   digest, size and diff_id checked at its end, a mismatch failing the
   whole unpack before anything is renamed into place. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "ocispec/conversion.h"
#include "ocispec/layout.h"
#include "ocispec/runtime.h"
#include "ocispec/unpack.h"

void oci_unpack_image_options_init(oci_unpack_image_options *o) {
  *o = (oci_unpack_image_options)OCI_UNPACK_IMAGE_OPTIONS_INIT;
}

/* Prefixes err's message with "layer N (DIGEST): "; the digest cut to
   its algorithm and 12 hex digits when the message names it already (the
   message has OCI_ERROR_MESSAGE_MAX bytes). */
static int layer_fail(oci_error *err, int rc, size_t i, const char *digest) {
  char why[OCI_ERROR_MESSAGE_MAX];
  snprintf(why, sizeof why, "%s", err->message);
  const char *colon = strchr(digest, ':');
  int keep = (int)strlen(digest);
  if (strstr(why, digest) && colon && strlen(colon + 1) > 12)
    keep = (int)(colon + 1 - digest) + 12;
  return oci_error_set(err, rc, "layer %zu (%.*s%s): %s", i + 1, keep, digest,
                       keep < (int)strlen(digest) ? "..." : "", why);
}

/* OCI_OK when bundle is missing or an empty directory (a symbolic link is
   neither); OCI_EIO otherwise. */
static int check_target(const char *bundle, oci_error *err) {
  struct stat st;
  if (lstat(bundle, &st) != 0) {
    if (errno == ENOENT) return OCI_OK;
    return oci_error_set(err, OCI_EIO, "%s: %s", bundle, strerror(errno));
  }
  bool empty = false;
  if (S_ISDIR(st.st_mode)) {
    int fd = open(bundle, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
      int e = errno;
      if (fd >= 0) close(fd);
      return oci_error_set(err, OCI_EIO, "%s: %s", bundle, strerror(e));
    }
    struct dirent *e;
    empty = true;
    while (empty && (e = readdir(d)))
      empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
  }
  if (!empty)
    return oci_error_set(err, OCI_EIO,
                         "%s: exists and is not an empty directory; unpack "
                         "into a new bundle",
                         bundle);
  return OCI_OK;
}

/* s joined: "a" "b" ... into a new buffer; NULL when out of memory. */
static char *path_of(const char *a, const char *b, const char *c) {
  size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
  char *p = malloc(la + lb + lc + 1);
  if (!p) return NULL;
  memcpy(p, a, la);
  memcpy(p + la, b, lb);
  memcpy(p + la + lb, c, lc + 1);
  return p;
}

/* The work in the temporary directory tmp: rootfs, layers, config.json. */
static int build(const oci_layout *l, const oci_layout_resolved *r,
                 const char *tmp, const oci_unpack_image_options *o,
                 oci_runtime_spec **spec, oci_error *err) {
  int rc = OCI_OK;
  oci_runtime_spec *base = NULL;
  char *rootfs = path_of(tmp, "/rootfs", "");
  char *config = path_of(tmp, "/config.json", "");
  if (!rootfs || !config) {
    rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
    goto out;
  }
  /* exactly 0755, whatever the umask */
  if (mkdir(rootfs, 0700) != 0 || chmod(rootfs, 0755) != 0) {
    rc = oci_error_set(err, OCI_EIO, "%s: %s", rootfs, strerror(errno));
    goto out;
  }
  const oci_image_manifest *m = r->manifest;
  const oci_str_array *diff_ids = &r->config->rootfs->diff_ids;
  for (size_t i = 0; i < m->layers.len; i++) {
    const oci_image_descriptor *d = m->layers.items[i];
    oci_unpack_options uo = OCI_UNPACK_OPTIONS_INIT;
    uo.rootless = o->rootless;
    uo.expected_digest = d->digest;
    uo.expected_size = d->size;
    uo.expected_diff_id = diff_ids->items[i];
    uo.max_bytes = o->max_bytes;
    uo.max_entries = o->max_entries;
    /* the rootfs is in the temporary directory, removed on any failure:
       each layer is read once, verified at its end */
    uo.one_pass = true;
    if (o->version >= 2) {
      uo.uid_map = o->uid_map;
      uo.n_uid_map = o->n_uid_map;
      uo.gid_map = o->gid_map;
      uo.n_gid_map = o->n_gid_map;
    }
    int fd;
    if ((rc = oci_layout_open_blob(l, d->digest, &fd, NULL, err)))
      goto layer_failed;
    rc = oci_layer_apply_fd(fd, d->digest, rootfs, &uo, NULL, err);
    close(fd);
    if (!rc) continue;
  layer_failed:
    if (rc != OCI_ENOMEM) rc = layer_fail(err, rc, i, d->digest);
    goto out;
  }
  if (o->rootless) {
    uint32_t uid = o->uid >= 0 ? (uint32_t)o->uid : (uint32_t)geteuid();
    uint32_t gid = o->gid >= 0 ? (uint32_t)o->gid : (uint32_t)getegid();
    if ((rc = oci_runtime_spec_rootless(uid, gid, &base, err))) goto out;
  }
  oci_conversion_options co = OCI_CONVERSION_OPTIONS_INIT;
  co.base = base;
  co.rootfs = rootfs;
  if ((rc = oci_runtime_spec_from_image_config(r->config, &co, spec, err)))
    goto out;
  oci_write_options w = {OCI_WRITE_OPTIONS_VERSION, true};
  rc = oci_write_file(&oci_type_runtime_spec, *spec, &w, config, err);
out:
  oci_free(base);
  free(rootfs);
  free(config);
  return rc;
}

int oci_unpack_image(const oci_layout *l, const char *ref, const char *bundle,
                     const oci_unpack_image_options *opts,
                     oci_runtime_spec **out, oci_error *err) {
  oci_error_reset(err);
  oci_error local;
  if (!err) {
    err = &local;
    oci_error_reset(err);
  }
  if (out) *out = NULL;
  oci_unpack_image_options defaults = OCI_UNPACK_IMAGE_OPTIONS_INIT;
  const oci_unpack_image_options *o = opts ? opts : &defaults;
  int vrc = oci_options_check(err, "oci_unpack_image_options", o->version,
                              OCI_UNPACK_IMAGE_OPTIONS_VERSION);
  if (vrc) return vrc;
  if (o->rootless &&
      (o->uid > (int64_t)UINT32_MAX || o->gid > (int64_t)UINT32_MAX ||
       o->uid < -1 || o->gid < -1))
    return oci_error_set(err, OCI_EINVAL,
                         "oci_unpack_image_options: uid %" PRId64
                         " or gid %" PRId64 " out of range",
                         o->uid, o->gid);
  if (!l || !ref || !bundle)
    return oci_error_set(err, OCI_EINVAL, "oci_unpack_image: %s missing",
                         !l     ? "layout"
                         : !ref ? "ref"
                                : "bundle");

  /* the bundle's parent and name; trailing slashes dropped */
  size_t n = strlen(bundle);
  while (n && bundle[n - 1] == '/')
    n--;
  const char *slash = NULL;
  for (size_t i = n; i > 0 && !slash; i--)
    if (bundle[i - 1] == '/') slash = bundle + i - 1;
  const char *name = slash ? slash + 1 : bundle;
  size_t name_len = n - (size_t)(name - bundle);
  if (!name_len || (name_len == 1 && name[0] == '.') ||
      (name_len == 2 && name[0] == '.' && name[1] == '.'))
    return oci_error_set(err, OCI_EINVAL,
                         "%s: the bundle must name a new or empty directory",
                         bundle);
  char *target = strndup(bundle, n);
  char *parent =
      slash ? strndup(bundle, slash == bundle ? 1 : (size_t)(slash - bundle))
            : strdup(".");
  char *leaf = strndup(name, name_len);
  char *tmp = NULL;
  oci_layout_resolved *r = NULL;
  oci_runtime_spec *spec = NULL;
  int rc;
  if (!target || !parent || !leaf) {
    rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
    goto out;
  }
  if ((rc = check_target(target, err))) goto out;

  oci_layout_platform none = {NULL, NULL, NULL};
  if ((rc = oci_layout_resolve(l, ref, o->platform ? o->platform : &none, &r,
                               err)))
    goto out;
  if (!r->config) {
    rc = oci_error_set(err, OCI_EUNSUPPORTED,
                       "%s: the config of manifest %s has media type %s, not "
                       "an image configuration: no bundle to make",
                       ref, r->descriptor->digest,
                       r->manifest->config->media_type);
    goto out;
  }
  size_t ndiff = r->config->rootfs->diff_ids.len;
  if (ndiff != r->manifest->layers.len) {
    rc = oci_error_set(err, OCI_EINVAL,
                       "the image has %zu layers but its config lists %zu "
                       "diff_ids",
                       r->manifest->layers.len, ndiff);
    goto out;
  }

  tmp = path_of(parent, strcmp(parent, "/") ? "/." : ".", leaf);
  char *t2 = tmp ? path_of(tmp, ".unpack-XXXXXX", "") : NULL;
  free(tmp);
  tmp = t2;
  if (!tmp) {
    rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
    goto out;
  }
  if (!mkdtemp(tmp)) {
    rc = oci_error_set(err, OCI_EIO, "%s: %s", tmp, strerror(errno));
    free(tmp);
    tmp = NULL;
    goto out;
  }
  if ((rc = build(l, r, tmp, o, &spec, err))) goto out;
  /* config.json says "rootfs": the bundle's own folder is renamed whole */
  if (rename(tmp, target) != 0) {
    rc = oci_error_set(err, OCI_EIO, "%s: %s", target, strerror(errno));
    goto out;
  }
  free(tmp);
  tmp = NULL;
out:
  if (tmp) {
    oci_remove_tree(tmp, NULL);
    free(tmp);
  }
  if (rc == OCI_OK && out) {
    *out = spec;
    spec = NULL;
  }
  oci_free(spec);
  oci_layout_resolved_free(r);
  free(target);
  free(parent);
  free(leaf);
  return rc;
}
