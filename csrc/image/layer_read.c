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

/* Decompressing a layer blob (see ocispec/layer.h): libarchive's gzip and
   zstd read filters under the raw format, the output hashed as written. */
int oci_layer_decompress(const char *path, const char *out_path,
                         uint64_t max_bytes,
                         char diff_id[OCI_DIGEST_STRING_MAX], uint64_t *size,
                         oci_error *err) {
  oci_error_reset(err);
  if (diff_id) diff_id[0] = '\0';
  if (size) *size = 0;
  if (!max_bytes) max_bytes = UINT64_C(64) << 30;
  int in = -1, out = -1, rc = OCI_OK;
  bool created = false;
  oci_hasher *h = NULL;
  struct archive *a = archive_read_new();
  if (!a) return oci_error_set(err, OCI_ENOMEM, "out of memory");
  if ((rc = oci_hasher_new(OCI_DIGEST_SHA256, &h, err))) goto done;
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_format_raw(a);
  archive_read_support_format_empty(a);
  in = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (in < 0) {
    rc = oci_error_set(err, OCI_EIO, "layer %s: cannot open: %s", path,
                       strerror(errno));
    goto done;
  }
  if (out_path) {
    out = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
               0644);
    if (out < 0) {
      rc = oci_error_set(err, OCI_EIO, "%s: cannot create: %s", out_path,
                         strerror(errno));
      goto done;
    }
    created = true;
  }
  if (archive_read_open_fd(a, in, 256 * 1024) != ARCHIVE_OK) {
    rc = read_fail(a, path, err);
    goto done;
  }
  struct archive_entry *ent;
  int r = archive_read_next_header(a, &ent);
  uint64_t total = 0;
  if (r == ARCHIVE_OK || r == ARCHIVE_WARN) {
    char buf[64 * 1024];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) {
      total += (uint64_t)n;
      if (total > max_bytes) {
        rc = oci_error_set(err, OCI_ETOOBIG,
                           "layer %s: uncompresses to more than %llu bytes "
                           "(limit max_bytes)",
                           path, (unsigned long long)max_bytes);
        goto done;
      }
      if ((rc = oci_hasher_update(h, buf, (size_t)n, err))) goto done;
      for (la_ssize_t off = 0; out >= 0 && off < n;) {
        ssize_t w = write(out, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          rc = oci_error_set(err, OCI_EIO, "%s: cannot write: %s", out_path,
                             strerror(errno));
          goto done;
        }
        off += w;
      }
    }
    if (n < 0) {
      rc = read_fail(a, path, err);
      goto done;
    }
  } else if (r != ARCHIVE_EOF) {
    rc = read_fail(a, path, err);
    goto done;
  }
  if (out >= 0 && (fsync(out) != 0 || close(out) != 0)) {
    out = -1;
    rc = oci_error_set(err, OCI_EIO, "%s: cannot write: %s", out_path,
                       strerror(errno));
    goto done;
  }
  out = -1;
  char dig[OCI_DIGEST_STRING_MAX];
  if ((rc = oci_hasher_finish(h, dig, err))) goto done;
  if (diff_id) memcpy(diff_id, dig, sizeof dig);
  if (size) *size = total;
done:
  if (out >= 0) close(out);
  if (rc && created) unlink(out_path);
  if (in >= 0) close(in);
  archive_read_free(a);
  oci_hasher_free(h);
  return rc;
}
