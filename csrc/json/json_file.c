/* Documents from and to files: read whole and parse, serialize and write
   atomically (a temporary file beside the target, fsync, rename). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int oci_parse_file(const oci_type *t, const char *path,
                   const oci_parse_options *opts, void **out, oci_error *err) {
  oci_error_reset(err);
  *out = NULL;
  if (opts) {
    int vrc = oci_options_check(err, "oci_parse_options", opts->version,
                                OCI_PARSE_OPTIONS_VERSION);
    if (vrc) return vrc;
  }
  /* O_NONBLOCK: a FIFO (or a device) at path is refused below at once,
     never waited on in open(2); a regular file reads as without it */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return oci_error_set(err, OCI_EIO, "cannot open %s: %s", path,
                         strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return oci_error_set(err, OCI_EIO, "%s: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return oci_error_set(err, OCI_EIO, "%s: %s", path,
                         S_ISDIR(st.st_mode) ? "is a directory"
                                             : "not a regular file");
  }
  size_t max = opts && opts->max_size ? opts->max_size : OCI_DEFAULT_MAX_SIZE;
  if ((uint64_t)st.st_size > max) {
    close(fd);
    return oci_error_set(err, OCI_ETOOBIG,
                         "%s: %lld bytes exceeds the limit of %zu", path,
                         (long long)st.st_size, max);
  }
  size_t size = (size_t)st.st_size, got = 0;
  char *buf = malloc(size ? size : 1);
  if (!buf) {
    close(fd);
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  while (got < size) {
    ssize_t n = read(fd, buf + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      free(buf);
      close(fd);
      return oci_error_set(err, OCI_EIO, "cannot read %s: %s", path,
                           n ? strerror(e) : "file shrank while reading");
    }
    got += (size_t)n;
  }
  close(fd);
  int rc = oci_parse(t, buf, size, opts, out, err);
  free(buf);
  return rc;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int oci_file_write_atomic(const char *path, const char *data, size_t len,
                          oci_error *err) {
  return oci_file_write_atomic_mode(path, data, len, 0644, err);
}

int oci_file_write_atomic_mode(const char *path, const char *data, size_t len,
                               unsigned mode, oci_error *err) {
  int rc = OCI_OK;
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16);
  if (!tmp) return oci_error_set(err, OCI_ENOMEM, "out of memory");
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp.XXXXXX", 12);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    rc = oci_error_set(err, OCI_EIO, "cannot create a file beside %s: %s", path,
                       strerror(errno));
    goto out;
  }
  if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 ||
      fsync(fd) != 0) {
    rc = oci_error_set(err, OCI_EIO, "cannot write %s: %s", tmp,
                       strerror(errno));
    close(fd);
    unlink(tmp);
    goto out;
  }
  if (close(fd) != 0 || rename(tmp, path) != 0) {
    rc = oci_error_set(err, OCI_EIO, "cannot write %s: %s", path,
                       strerror(errno));
    unlink(tmp);
  }
out:
  free(tmp);
  return rc;
}

int oci_write_file(const oci_type *t, const void *obj,
                   const oci_write_options *opts, const char *path,
                   oci_error *err) {
  oci_error_reset(err);
  char *json;
  size_t len;
  int rc = oci_to_json(t, obj, opts, &json, &len, err);
  if (rc) return rc;
  rc = oci_file_write_atomic(path, json, len, err);
  free(json);
  return rc;
}
