/* Reading a file of an untrusted root file system without leaving it
   (oci_rootfs_read_file, ocispec/runtime.h): the image-config conversion
   looks user and group names up in the rootfs's /etc/passwd and
   /etc/group, and an image decides what those paths are.

   The path is resolved inside the rootfs by inroot_resolve (inroot.c, the
   unpacker's resolver too): a symlink the way securejoin (runc, umoci)
   does, an absolute target starting again at the rootfs, ".." stopping at
   it, at most OCI_ROOTFS_MAX_LINKS links; then its directory is opened
   without following any link. The file itself must be a
   regular file (checked before it is opened, so a FIFO or a device node is
   never opened, and again on the open descriptor) of at most max bytes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inroot.h"
#include "internal.h"
#include "ocispec/runtime.h"

static const char *type_name(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISLNK(m)) return "a symbolic link";
  return "not a regular file";
}

/* Reads all of fd (a regular file) into a new buffer, at most max bytes. */
static int read_all(int fd, const char *path, size_t max, char **out,
                    size_t *out_len, oci_error *err) {
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (!buf) return oci_error_set(err, OCI_ENOMEM, "out of memory");
  for (;;) {
    if (cap - len < 2) {
      size_t ncap = cap * 2;
      if (ncap > max + 2) ncap = max + 2;
      char *n = realloc(buf, ncap);
      if (!n) {
        free(buf);
        return oci_error_set(err, OCI_ENOMEM, "out of memory");
      }
      buf = n;
      cap = ncap;
    }
    ssize_t r = read(fd, buf + len, cap - len - 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      free(buf);
      return oci_error_set(err, OCI_EIO, "rootfs: cannot read /%s: %s", path,
                           strerror(e));
    }
    if (r == 0) break;
    len += (size_t)r;
    if (len > max) {
      free(buf);
      return oci_error_set(err, OCI_ETOOBIG,
                           "rootfs: /%s is larger than %zu bytes", path, max);
    }
  }
  buf[len] = '\0';
  *out = buf;
  *out_len = len;
  return OCI_OK;
}

int oci_rootfs_read_file(const char *rootfs, const char *path, size_t max,
                         char **out, size_t *out_len, oci_error *err) {
  oci_error_reset(err);
  *out = NULL;
  if (out_len) *out_len = 0;
  if (!rootfs || !path)
    return oci_error_set(err, OCI_EINVAL, "rootfs read: no %s given",
                         rootfs ? "path" : "rootfs");
  while (*path == '/')
    path++;
  if (!*path) return oci_error_set(err, OCI_EINVAL, "rootfs read: empty path");
  if (!max) max = OCI_ROOTFS_READ_MAX;
  if (max > SIZE_MAX - 2) max = SIZE_MAX - 2;

  int root = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return oci_error_set(err, OCI_EIO, "rootfs: cannot open %s: %s", rootfs,
                         strerror(errno));
  char *rel = malloc(PATH_MAX);
  if (!rel) {
    close(root);
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  int rc = OCI_OK, dir = -1, fd = -1;
  size_t len;
  int r = inroot_resolve(root, path, true, rel, &len);
  if (r == ENOTDIR) { /* rel ends in the component that is not one */
    const char *bad = strrchr(rel, '/');
    bad = bad ? bad + 1 : rel;
    struct stat bs;
    rc = oci_error_set(err, OCI_EIO, "rootfs: /%s: %s is %s, not a directory",
                       path, bad,
                       fstatat(root, rel, &bs, AT_SYMLINK_NOFOLLOW) == 0
                           ? type_name(bs.st_mode)
                           : "not one");
    goto out;
  }
  if (r == ELOOP) {
    rc = oci_error_set(err, OCI_EIO, "rootfs: /%s: more than %d symbolic links",
                       path, OCI_ROOTFS_MAX_LINKS);
    goto out;
  }
  if (r == ENAMETOOLONG) {
    rc = oci_error_set(err, OCI_EIO,
                       "rootfs: a name longer than %d bytes or a path longer "
                       "than %d in /%s",
                       NAME_MAX, PATH_MAX - 1, path);
    goto out;
  }
  if (r) {
    rc = oci_error_set(err, r == ENOMEM ? OCI_ENOMEM : OCI_EIO,
                       "rootfs: cannot look up /%s: %s", path, strerror(r));
    goto out;
  }
  if (!len) {
    rc = oci_error_set(err, OCI_EIO, "rootfs: /%s is a directory", path);
    goto out;
  }
  /* rel has no link among its existing components: open its parent
     without following any (one swapped in meanwhile is refused) */
  const char *slash = strrchr(rel, '/');
  const char *name = slash ? slash + 1 : rel;
  dir = inroot_open_dir(root, rel, slash ? (size_t)(slash - rel) : 0);
  if (dir < 0) {
    if (errno != ENOENT && errno != ENOTDIR) /* absent: OCI_OK, *out NULL */
      rc = oci_error_set(err, OCI_EIO,
                         "rootfs: cannot open a directory of /%s: %s", path,
                         strerror(errno));
    goto out;
  }
  struct stat st;
  if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT)
      rc = oci_error_set(err, OCI_EIO, "rootfs: cannot look up /%s: %s", path,
                         strerror(errno));
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = oci_error_set(err, OCI_EIO, "rootfs: /%s is %s, not a regular file",
                       path, type_name(st.st_mode));
    goto out;
  }
  if ((uintmax_t)st.st_size > max) {
    rc = oci_error_set(err, OCI_ETOOBIG, "rootfs: /%s is larger than %zu bytes",
                       path, max);
    goto out;
  }
  fd = openat(dir, name,
              O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT)
      rc = oci_error_set(err, OCI_EIO, "rootfs: cannot open /%s: %s", path,
                         strerror(errno));
    goto out;
  }
  struct stat st2;
  /* replaced between the look-up and the open: refuse what it became */
  if (fstat(fd, &st2) != 0 || !S_ISREG(st2.st_mode) ||
      st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
    rc = oci_error_set(err, OCI_EIO, "rootfs: /%s changed while it was opened",
                       path);
    goto out;
  }
  rc = read_all(fd, path, max, out, out_len ? out_len : &(size_t){0}, err);
out:
  if (fd >= 0) close(fd);
  if (dir >= 0) close(dir);
  close(root);
  free(rel);
  return rc;
}
