/* Listing a layer blob's entries (see ocispec/layer.h): libarchive detects
   the compression (gzip, zstd or none) and reads the tar headers, skipping
   the content. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "ocispec/layer.h"

void oci_layer_listing_free(oci_layer_listing *l) {
  if (!l) return;
  for (size_t i = 0; i < l->len; i++) {
    free(l->items[i].path);
    free(l->items[i].target);
  }
  free(l->items);
  free(l);
}

static int read_fail(struct archive *a, const char *path, oci_error *err) {
  const char *why = archive_error_string(a);
  int e = archive_errno(a);
  return oci_error_set(err, e == ENOMEM ? OCI_ENOMEM : OCI_EIO, "layer %s: %s",
                       path,
                       why ? why
                       : e ? strerror(e)
                           : "cannot read");
}

static int fill(struct archive_entry *e, oci_layer_info *it, const char *path,
                oci_error *err) {
  const char *name = archive_entry_pathname(e);
  const char *hl = archive_entry_hardlink(e);
  const char *sl = archive_entry_symlink(e);
  switch (archive_entry_filetype(e)) {
  case AE_IFREG: it->type = hl ? OCI_LAYER_HARDLINK : OCI_LAYER_FILE; break;
  case AE_IFDIR: it->type = OCI_LAYER_DIR; break;
  case AE_IFLNK: it->type = OCI_LAYER_SYMLINK; break;
  case AE_IFCHR: it->type = OCI_LAYER_CHAR; break;
  case AE_IFBLK: it->type = OCI_LAYER_BLOCK; break;
  case AE_IFIFO: it->type = OCI_LAYER_FIFO; break;
  default:
    if (hl) {
      it->type = OCI_LAYER_HARDLINK;
      break;
    }
    return oci_error_set(err, OCI_EUNSUPPORTED,
                         "layer %s: entry \"%.128s\" has an unsupported type "
                         "(mode %o)",
                         path, name ? name : "", archive_entry_mode(e));
  }
  it->path = strdup(name ? name : "");
  const char *target = it->type == OCI_LAYER_HARDLINK  ? hl
                       : it->type == OCI_LAYER_SYMLINK ? sl
                                                       : NULL;
  if (target) it->target = strdup(target);
  if (!it->path || (target && !it->target))
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  it->mode = archive_entry_perm(e);
  it->uid = archive_entry_uid(e);
  it->gid = archive_entry_gid(e);
  it->mtime = archive_entry_mtime(e);
  it->size = archive_entry_size_is_set(e) && archive_entry_size(e) > 0
                 ? (uint64_t)archive_entry_size(e)
                 : 0;
  if (it->type == OCI_LAYER_CHAR || it->type == OCI_LAYER_BLOCK) {
    it->major = (unsigned)archive_entry_rdevmajor(e);
    it->minor = (unsigned)archive_entry_rdevminor(e);
  }
  return OCI_OK;
}

int oci_layer_list(const char *path, oci_layer_listing **out, oci_error *err) {
  oci_error_reset(err);
  *out = NULL;
  oci_layer_listing *l = calloc(1, sizeof *l);
  struct archive *a = archive_read_new();
  int rc = OCI_OK;
  size_t cap = 0;
  int fd = -1;
  if (!l || !a) {
    rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
    goto out;
  }
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_format_tar(a);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    rc = oci_error_set(err, OCI_EIO, "layer %s: cannot open: %s", path,
                       strerror(errno));
    goto out;
  }
  if (archive_read_open_fd(a, fd, 1024 * 1024) != ARCHIVE_OK) {
    rc = read_fail(a, path, err);
    goto out;
  }
  for (;;) {
    struct archive_entry *e;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      rc = read_fail(a, path, err);
      goto out;
    }
    if (l->len == cap) {
      cap = cap ? cap * 2 : 64;
      oci_layer_info *v = realloc(l->items, cap * sizeof *v);
      if (!v) {
        rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
        goto out;
      }
      l->items = v;
    }
    oci_layer_info *it = &l->items[l->len++];
    memset(it, 0, sizeof *it);
    if ((rc = fill(e, it, path, err))) goto out;
    if (archive_read_data_skip(a) < ARCHIVE_WARN) {
      rc = read_fail(a, path, err);
      goto out;
    }
  }
out:
  if (a) archive_read_free(a);
  if (fd >= 0) close(fd);
  if (rc)
    oci_layer_listing_free(l);
  else
    *out = l;
  return rc;
}
