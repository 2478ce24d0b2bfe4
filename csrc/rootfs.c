/* Reading a file of an untrusted root file system without leaving it
   (oci_rootfs_read_file, ocispec/runtime.h): the image-config conversion
   looks user and group names up in the rootfs's /etc/passwd and
   /etc/group, and an image decides what those paths are.

   Every component is opened with openat(O_NOFOLLOW) from the directory
   opened before it, so nothing is looked up by a path the image could
   redirect. A symlink is resolved here, inside the rootfs, the way
   securejoin (runc, umoci) does: an absolute target starts again at the
   rootfs, ".." stops at it (the stack of open directories is popped, never
   openat(".."), which a moved directory could turn into an escape), and at
   most OCI_ROOTFS_MAX_LINKS links are followed. The file itself must be a
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

#include "ocispec/runtime.h"

typedef struct walk {
  int *fds; /* fds[0]: the rootfs; fds[len - 1]: the current directory */
  size_t len, cap;
} walk;

static void walk_pop_to(walk *w, size_t len) {
  while (w->len > len)
    close(w->fds[--w->len]);
}

static bool walk_push(walk *w, int fd) {
  if (w->len == w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 16;
    int *n = realloc(w->fds, cap * sizeof *n);
    if (!n) return false;
    w->fds = n;
    w->cap = cap;
  }
  w->fds[w->len++] = fd;
  return true;
}

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
  oci_error_clear(err);
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

  walk w = {NULL, 0, 0};
  int root = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return oci_error_set(err, OCI_EIO, "rootfs: cannot open %s: %s", rootfs,
                         strerror(errno));
  if (!walk_push(&w, root)) {
    close(root);
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  char *pend = strdup(path); /* what is left to resolve */
  char *target = malloc(PATH_MAX);
  int rc = OCI_OK, fd = -1;
  unsigned links = 0;
  size_t pos = 0;
  if (!pend || !target) {
    rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
    goto out;
  }
  for (;;) {
    while (pend[pos] == '/')
      pos++;
    if (!pend[pos]) {
      rc = oci_error_set(err, OCI_EIO, "rootfs: /%s is a directory", path);
      goto out;
    }
    size_t end = pos;
    while (pend[end] && pend[end] != '/')
      end++;
    size_t rest = end;
    while (pend[rest] == '/')
      rest++;
    bool last = !pend[rest];
    size_t n = end - pos;
    if (n == 1 && pend[pos] == '.') {
      pos = end;
      continue;
    }
    if (n == 2 && pend[pos] == '.' && pend[pos + 1] == '.') {
      if (w.len > 1) walk_pop_to(&w, w.len - 1); /* ".." of "/" is "/" */
      pos = end;
      continue;
    }
    if (n > NAME_MAX) {
      rc = oci_error_set(err, OCI_EIO,
                         "rootfs: a name longer than %d bytes in /%s", NAME_MAX,
                         path);
      goto out;
    }
    char name[NAME_MAX + 1];
    memcpy(name, pend + pos, n);
    name[n] = '\0';
    int cur = w.fds[w.len - 1];
    struct stat st;
    if (fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) goto out; /* absent: OCI_OK, *out NULL */
      rc = oci_error_set(err, OCI_EIO, "rootfs: cannot look up /%s: %s", path,
                         strerror(errno));
      goto out;
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > OCI_ROOTFS_MAX_LINKS) {
        rc = oci_error_set(err, OCI_EIO,
                           "rootfs: /%s: more than %d symbolic links", path,
                           OCI_ROOTFS_MAX_LINKS);
        goto out;
      }
      ssize_t tl = readlinkat(cur, name, target, PATH_MAX);
      if (tl < 0 || tl >= PATH_MAX) {
        rc =
            oci_error_set(err, OCI_EIO, "rootfs: cannot read a link of /%s: %s",
                          path, tl < 0 ? strerror(errno) : "target too long");
        goto out;
      }
      if (tl == 0) goto out; /* no such file */
      /* the target takes the link's place in what is left */
      size_t tail = strlen(pend + end);
      char *np = malloc((size_t)tl + tail + 1);
      if (!np) {
        rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
        goto out;
      }
      memcpy(np, target, (size_t)tl);
      memcpy(np + tl, pend + end, tail + 1);
      free(pend);
      pend = np;
      pos = 0;
      if (target[0] == '/') walk_pop_to(&w, 1); /* absolute: from the rootfs */
      continue;
    }
    if (!last) {
      if (!S_ISDIR(st.st_mode)) {
        rc = oci_error_set(err, OCI_EIO,
                           "rootfs: /%s: %.*s is %s, not a "
                           "directory",
                           path, (int)n, name, type_name(st.st_mode));
        goto out;
      }
      int d =
          openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (d < 0) {
        if (errno == ENOENT) goto out;
        rc = oci_error_set(err, OCI_EIO,
                           "rootfs: cannot open a directory of "
                           "/%s: %s",
                           path, strerror(errno));
        goto out;
      }
      if (!walk_push(&w, d)) {
        close(d);
        rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
        goto out;
      }
      pos = end;
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      rc = oci_error_set(err, OCI_EIO, "rootfs: /%s is %s, not a regular file",
                         path, type_name(st.st_mode));
      goto out;
    }
    if ((uintmax_t)st.st_size > max) {
      rc = oci_error_set(err, OCI_ETOOBIG,
                         "rootfs: /%s is larger than %zu bytes", path, max);
      goto out;
    }
    fd = openat(cur, name,
                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) goto out;
      rc = oci_error_set(err, OCI_EIO, "rootfs: cannot open /%s: %s", path,
                         strerror(errno));
      goto out;
    }
    struct stat st2;
    /* replaced between the look-up and the open: refuse what it became */
    if (fstat(fd, &st2) != 0 || !S_ISREG(st2.st_mode) ||
        st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
      rc = oci_error_set(err, OCI_EIO,
                         "rootfs: /%s changed while it was opened", path);
      goto out;
    }
    rc = read_all(fd, path, max, out, out_len ? out_len : &(size_t){0}, err);
    goto out;
  }
out:
  if (fd >= 0) close(fd);
  walk_pop_to(&w, 0);
  free(w.fds);
  free(pend);
  free(target);
  return rc;
}
