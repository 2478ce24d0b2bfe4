/* OCI image layouts on disk (image-spec image-layout.md): opening and
   creating, content-addressed blobs written atomically, documents, and the
   index.json references (tags). Resolution, gc and verify live in
   layout_walk.c. */
#define _GNU_SOURCE /* O_NOFOLLOW, getrandom, mkostemp */
#include "internal.h"
#include "layout_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocispec/hash.h"
#include "ocispec/strcheck.h"

/* Copy blocks for put_blob_file. */
#define COPY_BLOCK (256 * 1024)
/* A blob writer starts the disk writeback of every WRITEBACK_STEP bytes it
   has written (sync_file_range, Linux), so the fsync of the commit finds
   most of a big blob already on its way to the disk instead of waiting for
   all of it: the disk works while the blob arrives. */
#define WRITEBACK_STEP (8u * 1024 * 1024)

struct oci_blob_writer {
  char *root;
  char *tmp; /* temporary file, NULL once gone */
  int fd;
  oci_hasher *h;
  char *media_type;
  int failed; /* a write failed: saved holds why */
  oci_error saved;
  bool resumable;  /* tmp is the digest's partial file (ol_blob_writer_keep) */
  uint64_t kicked; /* bytes whose writeback was started (WRITEBACK_STEP) */
};

/* ---- small helpers ------------------------------------------------------ */

int ol_nomem(oci_error *err) {
  return oci_error_set(err, OCI_ENOMEM, "out of memory");
}

char *ol_join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *p = malloc(la + lb + 2);
  if (!p) return NULL;
  memcpy(p, a, la);
  p[la] = '/';
  memcpy(p + la + 1, b, lb + 1);
  return p;
}

int ol_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* A rename or a new entry is durable only once its directory is synced
   (fsync(2)); a directory that cannot be synced (some file systems refuse)
   is not an error: the data itself was synced. */
static void fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)fsync(fd);
  close(fd);
}

/* Reads fd (a regular file, not closed) whole: at most max bytes, else
   OCI_ETOOBIG; what names it in messages. */
int ol_read_fd(int fd, const char *what, size_t max, char **buf, size_t *len,
               oci_error *err) {
  *buf = NULL;
  *len = 0;
  struct stat st;
  if (fstat(fd, &st) != 0)
    return oci_error_set(err, OCI_EIO, "cannot read %s: %s", what,
                         strerror(errno));
  if (!S_ISREG(st.st_mode))
    return oci_error_set(err, OCI_EIO, "cannot read %s: not a regular file",
                         what);
  if ((uint64_t)st.st_size > max)
    return oci_error_set(err, OCI_ETOOBIG,
                         "%s: %lld bytes, more than the limit of %zu", what,
                         (long long)st.st_size, max);
  size_t cap = (size_t)st.st_size + 1, n = 0;
  char *p = malloc(cap);
  if (!p) return ol_nomem(err);
  for (;;) {
    if (n + 1 >= cap) { /* the file grew while we read it */
      if (cap > max) {
        free(p);
        return oci_error_set(err, OCI_ETOOBIG, "%s: more than %zu bytes", what,
                             max);
      }
      char *q = realloc(p, cap * 2);
      if (!q) {
        free(p);
        return ol_nomem(err);
      }
      p = q;
      cap *= 2;
    }
    ssize_t r = read(fd, p + n, cap - 1 - n);
    if (r < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      free(p);
      return oci_error_set(err, OCI_EIO, "cannot read %s: %s", what,
                           strerror(e));
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  p[n] = '\0';
  *buf = p;
  *len = n;
  return OCI_OK;
}

/* Prefix err's message with what (a file name): "what: line:col: /ptr: msg".
 */
int ol_wrap(oci_error *err, const char *what) {
  if (!err) return OCI_OK;
  char inner[OCI_ERROR_MESSAGE_MAX];
  char loc[48] = "";
  snprintf(inner, sizeof inner, "%s", err->message);
  if (err->line) snprintf(loc, sizeof loc, "%zu:%zu: ", err->line, err->column);
  char out[2 * OCI_ERROR_MESSAGE_MAX + 64];
  snprintf(out, sizeof out, "%s: %s%s%s%s", what, loc, err->pointer,
           err->pointer[0] ? ": " : "", inner);
  /* long messages are cut, never overflowed */
  snprintf(err->message, sizeof err->message, "%.*s",
           (int)sizeof err->message - 1, out);
  return err->code;
}

bool ol_str_eq(const char *a, const char *b) {
  return a && b && strcmp(a, b) == 0;
}

const char *ol_ref_name(const oci_image_descriptor *d) {
  if (!oci_is_present(d, OCI_F_image_descriptor_annotations)) return NULL;
  for (size_t i = 0; i < d->annotations.len; i++)
    if (strcmp(d->annotations.keys[i], OCI_ANNOTATION_REF_NAME) == 0)
      return d->annotations.values[i];
  return NULL;
}

/* ---- files under the root, never through a symlink ---------------------- */

/* A layout directory is attacker-controlled input (an unpacked archive, a
   download): nothing below its root is followed through a symbolic link.
   The root itself is the caller's path and is opened as given; every
   component below it (blobs, blobs/<alg>, a blob, .ocispec-tmp, index.json,
   oci-layout, the lock files) is opened with openat from its parent's
   descriptor and O_NOFOLLOW, and read only when it is a regular file
   (O_NONBLOCK: a FIFO planted there cannot hang the open). */

int ol_root_fd(const char *root, int *fd, oci_error *err) {
  *fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (*fd < 0)
    return oci_error_set(err, OCI_EIO, "cannot open layout %s: %s", root,
                         strerror(errno));
  return OCI_OK;
}

/* What st is, for "... is <kind>" messages. */
static const char *kind_of(mode_t m) {
  if (S_ISLNK(m)) return "a symbolic link";
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
  if (S_ISREG(m)) return "a regular file";
  return "not a regular file";
}

#define OL_REFUSED "refused: a layout's symlinks are never followed"

/* Why an entry of kind m is refused, for messages. */
static const char *why_refused(mode_t m, bool want_dir) {
  if (S_ISLNK(m)) return OL_REFUSED;
  return want_dir ? "refused: not a directory"
                  : "refused: only regular files are read";
}

/* The directory name under dirfd (shown: its path relative to the root,
   for messages), never through a symlink; made first (0755) when create.
   A symlink or a non-directory is OCI_EINVAL; *missing (may be NULL) is set
   when it does not exist (OCI_EIO). */
int ol_open_dir(int dirfd, const char *name, const char *shown, bool create,
                int *fd, bool *missing, oci_error *err) {
  *fd = -1;
  if (missing) *missing = false;
  if (create && mkdirat(dirfd, name, 0755) != 0 && errno != EEXIST)
    return oci_error_set(err, OCI_EIO, "cannot create directory %s: %s", shown,
                         strerror(errno));
  int f = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (f >= 0) {
    *fd = f;
    return OCI_OK;
  }
  int e = errno;
  struct stat st;
  if ((e == ELOOP || e == ENOTDIR) &&
      fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
    return oci_error_set(err, OCI_EINVAL, "%s is %s (%s)", shown,
                         kind_of(st.st_mode), why_refused(st.st_mode, true));
  if (e == ENOENT && missing) *missing = true;
  return oci_error_set(err, OCI_EIO, "cannot open %s: %s", shown, strerror(e));
}

/* Opens name under dirfd for reading: a regular file, not a symlink
   (OCI_EINVAL otherwise, naming shown), O_NONBLOCK cleared once it is known
   to be regular. *missing (may be NULL) is set when it does not exist. */
int ol_open_regular(int dirfd, const char *name, const char *shown, int *fd,
                    struct stat *st, bool *missing, oci_error *err) {
  *fd = -1;
  if (missing) *missing = false;
  struct stat pre;
  /* a device or FIFO is refused before it is ever opened */
  if (fstatat(dirfd, name, &pre, AT_SYMLINK_NOFOLLOW) != 0) {
    int e = errno;
    if (e == ENOENT && missing) *missing = true;
    return oci_error_set(err, OCI_EIO, "cannot read %s: %s", shown,
                         strerror(e));
  }
  if (!S_ISREG(pre.st_mode))
    return oci_error_set(err, OCI_EINVAL, "%s is %s (%s)", shown,
                         kind_of(pre.st_mode), why_refused(pre.st_mode, false));
  int f = openat(dirfd, name,
                 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (f < 0) {
    int e = errno;
    if (e == ENOENT && missing) *missing = true;
    if (e == ELOOP)
      return oci_error_set(err, OCI_EINVAL, "%s is a symbolic link (%s)", shown,
                           OL_REFUSED);
    return oci_error_set(err, OCI_EIO, "cannot read %s: %s", shown,
                         strerror(e));
  }
  /* it may have been replaced between the two looks: the open one counts */
  if (fstat(f, st) != 0) {
    int e = errno;
    close(f);
    return oci_error_set(err, OCI_EIO, "cannot read %s: %s", shown,
                         strerror(e));
  }
  if (!S_ISREG(st->st_mode)) {
    close(f);
    return oci_error_set(err, OCI_EINVAL, "%s is %s (%s)", shown,
                         kind_of(st->st_mode), why_refused(st->st_mode, false));
  }
  int fl = fcntl(f, F_GETFL);
  if (fl >= 0) (void)fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
  *fd = f;
  return OCI_OK;
}

/* Reads a small file of the layout (index.json, oci-layout) at its root. */
int ol_read_rel(const char *root, const char *name, size_t max, char **buf,
                size_t *len, oci_error *err) {
  *buf = NULL;
  *len = 0;
  char *shown = ol_join(root, name);
  if (!shown) return ol_nomem(err);
  int rfd, fd = -1, rc;
  struct stat st;
  if (!(rc = ol_root_fd(root, &rfd, err))) {
    rc = ol_open_regular(rfd, name, shown, &fd, &st, NULL, err);
    close(rfd);
  }
  if (!rc) {
    rc = ol_read_fd(fd, shown, max, buf, len, err);
    close(fd);
  }
  free(shown);
  return rc;
}

/* Only after oci_digest_parse accepted the digest is a path built from it:
   the grammar (descriptor.md "Digests": algorithm [a-z0-9]+([+._-]
   [a-z0-9]+)*, encoded [a-zA-Z0-9=_-]+) admits no "/" and no leading ".",
   so blobs/<alg>/<encoded> cannot leave blobs/ (image-layout.md "Blobs").
   alg and enc (each may be NULL) get the two components (malloc'd). */
static int digest_parts(const char *digest, char **alg, char **enc,
                        oci_error *err) {
  oci_digest_view v;
  *alg = *enc = NULL;
  if (!digest) return oci_error_set(err, OCI_EINVAL, "digest missing (NULL)");
  if (oci_digest_parse(digest, strlen(digest), &v, err))
    return ol_wrap(err, "invalid blob digest");
  *alg = strndup(v.algorithm, v.algorithm_len);
  *enc = strndup(v.encoded, v.encoded_len);
  if (!*alg || !*enc) {
    free(*alg);
    free(*enc);
    *alg = *enc = NULL;
    return ol_nomem(err);
  }
  return OCI_OK;
}

int ol_digest_path(const char *root, const char *digest, char **out,
                   oci_error *err) {
  *out = NULL;
  char *alg = NULL, *enc = NULL;
  int rc = digest_parts(digest, &alg, &enc, err);
  if (rc) return rc;
  size_t n = strlen(root) + strlen(alg) + strlen(enc) + 9;
  char *p = malloc(n);
  if (p)
    snprintf(p, n, "%s/blobs/%s/%s", root, alg, enc);
  else
    rc = ol_nomem(err);
  free(alg);
  free(enc);
  *out = p;
  return rc;
}

/* The blobs/<alg> directory of digest (made when create), never through a
   symlink; *enc gets the file name (malloc'd). Messages name the blob. */
static int open_alg_dir(const char *root, const char *digest, bool create,
                        int *dfd, char **enc, bool *missing, oci_error *err) {
  *dfd = -1;
  *enc = NULL;
  if (missing) *missing = false;
  char *alg;
  int rc = digest_parts(digest, &alg, enc, err);
  if (rc) return rc;
  char shown[OCI_DIGEST_STRING_MAX + 16];
  int rfd = -1, bfd = -1;
  if ((rc = ol_root_fd(root, &rfd, err))) goto out;
  if ((rc = ol_open_dir(rfd, "blobs", "blobs", create, &bfd, missing, err)))
    goto out;
  snprintf(shown, sizeof shown, "blobs/%.*s", OCI_DIGEST_STRING_MAX, alg);
  rc = ol_open_dir(bfd, alg, shown, create, dfd, missing, err);
out:
  if (rc) {
    char what[OCI_DIGEST_STRING_MAX + 8];
    snprintf(what, sizeof what, "blob %.*s", OCI_DIGEST_STRING_MAX, digest);
    ol_wrap(err, what);
    free(*enc);
    *enc = NULL;
  }
  if (bfd >= 0) close(bfd);
  if (rfd >= 0) close(rfd);
  free(alg);
  return rc;
}

int ol_open_blob(const char *root, const char *digest, int *fd, struct stat *st,
                 bool *missing, oci_error *err) {
  *fd = -1;
  int dfd;
  char *enc;
  int rc = open_alg_dir(root, digest, false, &dfd, &enc, missing, err);
  if (rc) return rc;
  char shown[2 * OCI_DIGEST_STRING_MAX];
  const char *c = strchr(digest, ':');
  snprintf(shown, sizeof shown, "blobs/%.*s/%s", (int)(c - digest), digest,
           enc);
  if ((rc = ol_open_regular(dfd, enc, shown, fd, st, missing, err))) {
    char what[OCI_DIGEST_STRING_MAX + 8];
    snprintf(what, sizeof what, "blob %.*s", OCI_DIGEST_STRING_MAX, digest);
    ol_wrap(err, what);
  }
  close(dfd);
  free(enc);
  return rc;
}

/* The temporary area, made when missing and never a symlink. */
static int open_tmp_dir(const char *root, int *fd, oci_error *err) {
  int rfd;
  int rc = ol_root_fd(root, &rfd, err);
  if (rc) return rc;
  rc = ol_open_dir(rfd, OCI_LAYOUT_TMP_DIR, OCI_LAYOUT_TMP_DIR, true, fd, NULL,
                   err);
  close(rfd);
  if (rc) ol_wrap(err, root);
  return rc;
}

/* A lock file in the temporary area (created, never through a symlink). */
static int open_lock(int tfd, const char *root, const char *name, int *fd,
                     oci_error *err) {
  *fd = openat(tfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (*fd < 0)
    return oci_error_set(
        err, OCI_EIO, "cannot lock %s/" OCI_LAYOUT_TMP_DIR "/%s: %s%s", root,
        name, strerror(errno),
        errno == ELOOP ? " (a symbolic link: " OL_REFUSED ")" : "");
  return OCI_OK;
}

/* A new file tmp-XXXXXX in the temporary directory tfd: O_EXCL and
   O_NOFOLLOW, so a name planted there (a symlink) is never written
   through; another name is tried instead. */
static int tmp_openat(int tfd, char name[16]) {
  static const char chars[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (int tries = 0; tries < 100; tries++) {
    unsigned char r[6];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) return -1;
    memcpy(name, OL_TMP_PREFIX, strlen(OL_TMP_PREFIX));
    char *p = name + strlen(OL_TMP_PREFIX);
    for (size_t i = 0; i < sizeof r; i++)
      p[i] = chars[r[i] % (sizeof chars - 1)];
    p[sizeof r] = '\0';
    int f = openat(tfd, name,
                   O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f >= 0 || errno != EEXIST) return f;
  }
  errno = EEXIST;
  return -1;
}

/* A temporary file in the layout's temporary area, created 0644 (blobs are
   readable by all, like skopeo's) and flock'ed: gc removes only files no
   live process holds. */
int ol_tmp_create(const char *root, char **path, int *fd, oci_error *err) {
  *path = NULL;
  *fd = -1;
  int tfd, lf;
  int rc = open_tmp_dir(root, &tfd, err);
  if (rc) return rc;
  /* A shared lock on tmp.lock spans creating and locking the file: gc's
     sweep holds it exclusively, so it never sees a file not yet locked. */
  if ((rc = open_lock(tfd, root, OL_TMP_LOCK_NAME, &lf, err))) {
    close(tfd);
    return rc;
  }
  if (flock(lf, LOCK_SH) != 0) {
    rc = oci_error_set(err, OCI_EIO, "cannot lock %s/%s/%s: %s", root,
                       OCI_LAYOUT_TMP_DIR, OL_TMP_LOCK_NAME, strerror(errno));
    goto out;
  }
  char name[16];
  int f = tmp_openat(tfd, name);
  if (f < 0) {
    rc = oci_error_set(err, OCI_EIO,
                       "cannot create a temporary file in %s/%s: %s", root,
                       OCI_LAYOUT_TMP_DIR, strerror(errno));
    goto out;
  }
  if (fchmod(f, 0644) != 0 || flock(f, LOCK_EX) != 0) {
    rc = oci_error_set(err, OCI_EIO, "cannot prepare temporary file %s: %s",
                       name, strerror(errno));
    close(f);
    unlinkat(tfd, name, 0);
    goto out;
  }
  char *dir = ol_join(root, OCI_LAYOUT_TMP_DIR);
  char *p = dir ? ol_join(dir, name) : NULL;
  free(dir);
  if (!p) {
    close(f);
    unlinkat(tfd, name, 0);
    rc = ol_nomem(err);
    goto out;
  }
  *path = p;
  *fd = f;
out:
  close(lf);
  close(tfd);
  return rc;
}

/* Move the synced temporary file tmp to the blob path of digest. If the
   blob is there already, tmp is removed instead (content-addressed: same
   digest, same bytes). rename(2) is atomic: the final path holds either
   nothing or the whole blob; it replaces a symlink or other non-regular
   entry planted at the final name instead of writing through it, and
   blobs/ and blobs/<alg> are never symlinks (open_alg_dir). */
int ol_install(const char *root, const char *tmp, const char *digest,
               oci_error *err) {
  int dfd;
  char *enc;
  int rc = open_alg_dir(root, digest, true, &dfd, &enc, NULL, err);
  if (rc) return rc;
  struct stat st;
  if (fstatat(dfd, enc, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
    unlink(tmp);
    goto out;
  }
  if (renameat(AT_FDCWD, tmp, dfd, enc) != 0) {
    int e = errno;
    rc = oci_error_set(err, OCI_EIO, "cannot move %s to the blob %s: %s%s", tmp,
                       digest, strerror(e),
                       e == EXDEV ? " (the temporary file must be on the "
                                    "layout's file system: use temp_path)"
                                  : "");
    goto out;
  }
  (void)fsync(dfd);
out:
  close(dfd);
  free(enc);
  return rc;
}

/* ---- index.json --------------------------------------------------------- */

int ol_read_index(const char *root, oci_image_index **out, oci_error *err) {
  *out = NULL;
  char *b;
  size_t n;
  int rc = ol_read_rel(root, "index.json", OCI_DEFAULT_MAX_SIZE, &b, &n, err);
  if (rc) return rc; /* names the file */
  oci_parse_options o = OCI_PARSE_OPTIONS_INIT;
  rc = oci_image_index_parse(b, n, &o, out, err);
  free(b);
  if (rc) {
    char *p = ol_join(root, "index.json");
    ol_wrap(err, p ? p : "index.json");
    free(p);
  }
  return rc;
}

/* Replace index.json atomically: a synced temporary file renamed over it
   (image-layout.md "index.json file" MUST exist: it never goes missing). */
static int write_index(const char *root, const oci_image_index *idx,
                       oci_error *err) {
  char *json = NULL, *tmp = NULL, *dst = NULL;
  size_t len;
  int fd = -1;
  int rc = oci_image_index_to_json(idx, false, &json, &len, err);
  if (rc) return rc;
  if ((rc = ol_tmp_create(root, &tmp, &fd, err))) goto out;
  if (ol_write_all(fd, json, len) != 0 || fsync(fd) != 0) {
    rc = oci_error_set(err, OCI_EIO, "cannot write %s: %s", tmp,
                       strerror(errno));
    goto out;
  }
  if (!(dst = ol_join(root, "index.json"))) {
    rc = ol_nomem(err);
    goto out;
  }
  if (rename(tmp, dst) != 0) {
    rc = oci_error_set(err, OCI_EIO, "cannot replace %s: %s", dst,
                       strerror(errno));
    goto out;
  }
  free(tmp);
  tmp = NULL;
  fsync_dir(root);
out:
  if (fd >= 0) close(fd);
  if (tmp) unlink(tmp);
  free(tmp);
  free(dst);
  free(json);
  return rc;
}

/* index.json is read, changed and replaced under an exclusive flock on
   .ocispec-tmp/index.lock, so two writers cannot lose each other's tags;
   create takes it too, so that it writes index.json only for a layout
   nobody finished creating. */
int ol_lock_index(const char *root, int *fd, oci_error *err) {
  *fd = -1;
  int tfd, f;
  int rc = open_tmp_dir(root, &tfd, err);
  if (rc) return rc;
  rc = open_lock(tfd, root, OL_LOCK_NAME, &f, err);
  close(tfd);
  if (rc) return rc;
  if (flock(f, LOCK_EX) != 0) {
    rc = oci_error_set(err, OCI_EIO, "cannot lock %s/%s/%s: %s", root,
                       OCI_LAYOUT_TMP_DIR, OL_LOCK_NAME, strerror(errno));
    close(f);
    return rc;
  }
  *fd = f;
  return OCI_OK;
}

/* ---- open / create ------------------------------------------------------ */

int ol_write_index(const char *root, const oci_image_index *idx,
                   oci_error *err) {
  return write_index(root, idx, err);
}

static int check_oci_layout(const char *root, oci_error *err) {
  char *p = ol_join(root, "oci-layout");
  if (!p) return ol_nomem(err);
  oci_image_oci_layout *ol = NULL;
  oci_parse_options o = OCI_PARSE_OPTIONS_INIT;
  char *b;
  size_t n;
  int rc = ol_read_rel(root, "oci-layout", OCI_DEFAULT_MAX_SIZE, &b, &n, err);
  if (rc == OCI_OK) {
    rc = oci_image_oci_layout_parse(b, n, &o, &ol, err);
    free(b);
    if (rc) ol_wrap(err, p);
  }
  if (rc == OCI_ENOMEM) {
    /* as is */
  } else if (rc) {
    char m[OCI_ERROR_MESSAGE_MAX];
    snprintf(m, sizeof m, "%s", err->message);
    rc = oci_error_set(err, OCI_EINVAL, "%s is not an OCI image layout: %s",
                       root, m);
  } else {
    /* image-layout.md "oci-layout file": imageLayoutVersion, "1.0.0" */
    if (strcmp(ol->image_layout_version, OCI_LAYOUT_VERSION) != 0)
      rc = oci_error_set(err, OCI_EINVAL,
                         "%s: imageLayoutVersion \"%s\" is not supported (only "
                         "\"" OCI_LAYOUT_VERSION "\", image-layout.md)",
                         p, ol->image_layout_version);
    oci_image_oci_layout_free(ol);
  }
  free(p);
  return rc;
}

static int new_handle(const char *dir, oci_layout **out, oci_error *err) {
  oci_layout *l = calloc(1, sizeof *l);
  if (!l) return ol_nomem(err);
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/')
    n--;
  l->root = strndup(dir, n);
  if (!l->root) {
    free(l);
    return ol_nomem(err);
  }
  *out = l;
  return OCI_OK;
}

int oci_layout_open(const char *dir, oci_layout **out, oci_error *err) {
  OL_ERR(err);
  *out = NULL;
  struct stat st;
  if (stat(dir, &st) != 0)
    return oci_error_set(err, errno == ENOENT ? OCI_EINVAL : OCI_EIO,
                         "%s is not an OCI image layout: %s", dir,
                         strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return oci_error_set(err, OCI_EINVAL,
                         "%s is not an OCI image layout: not a directory", dir);
  oci_layout *l;
  int rc = new_handle(dir, &l, err);
  if (rc) return rc;
  if ((rc = check_oci_layout(l->root, err))) goto fail;
  oci_image_index *idx;
  if ((rc = ol_read_index(l->root, &idx, err))) {
    if (rc != OCI_ENOMEM) {
      char m[OCI_ERROR_MESSAGE_MAX];
      snprintf(m, sizeof m, "%s", err->message);
      rc = oci_error_set(err, OCI_EINVAL, "%s is not an OCI image layout: %s",
                         l->root, m);
    }
    goto fail;
  }
  oci_image_index_free(idx);
  *out = l;
  return OCI_OK;
fail:
  oci_layout_close(l);
  return rc;
}

static bool is_dot(const char *n) {
  return strcmp(n, ".") == 0 || strcmp(n, "..") == 0;
}

/* 1 when dir has no entries, 0 when it has, -1 on error (errno). */
static int dir_is_empty(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  struct dirent *de;
  int empty = 1;
  while ((de = readdir(d)))
    if (!is_dot(de->d_name)) {
      empty = 0;
      break;
    }
  closedir(d);
  return empty;
}

/* What an interrupted create leaves (oci-layout is written last): only
   .ocispec-tmp, index.json and an empty blobs/. Such a directory holds no
   data and create starts it over. */
static bool is_unfinished_create(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return false;
  struct dirent *de;
  bool ok = true;
  while (ok && (de = readdir(d))) {
    if (is_dot(de->d_name) || strcmp(de->d_name, OCI_LAYOUT_TMP_DIR) == 0 ||
        strcmp(de->d_name, "index.json") == 0)
      continue;
    if (strcmp(de->d_name, "blobs") == 0) {
      char *b = ol_join(dir, "blobs");
      ok = b && dir_is_empty(b) == 1;
      free(b);
    } else {
      ok = false;
    }
  }
  closedir(d);
  return ok;
}

static int write_small(const char *root, const char *name, const char *text,
                       oci_error *err) {
  char *tmp, *dst = ol_join(root, name);
  int fd;
  if (!dst) return ol_nomem(err);
  int rc = ol_tmp_create(root, &tmp, &fd, err);
  if (rc) {
    free(dst);
    return rc;
  }
  if (ol_write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0 ||
      rename(tmp, dst) != 0) {
    rc = oci_error_set(err, OCI_EIO, "cannot write %s: %s", dst,
                       strerror(errno));
    unlink(tmp);
  }
  close(fd);
  free(tmp);
  free(dst);
  return rc;
}

/* Whether dir/oci-layout exists (not followed: open judges it). */
static bool has_oci_layout(const char *dir) {
  char *p = ol_join(dir, "oci-layout");
  struct stat st;
  bool has = p && fstatat(AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW) == 0;
  free(p);
  return has;
}

/* Creation is race-free: any number of processes may create the same new
   directory at once (parallel pulls into one folder). mkdir's EEXIST is no
   error; the rest happens under the index lock, where whoever finds
   oci-layout already written opens the layout instead of writing
   index.json again (which would drop the tags written since). */
int oci_layout_create(const char *dir, oci_layout **out, oci_error *err) {
  OL_ERR(err);
  *out = NULL;
  if (mkdir(dir, 0755) != 0 && errno != EEXIST)
    return oci_error_set(err, OCI_EIO, "cannot create layout %s: %s", dir,
                         strerror(errno));
  struct stat st;
  if (stat(dir, &st) != 0)
    return oci_error_set(err, OCI_EIO, "cannot create layout %s: %s", dir,
                         strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return oci_error_set(err, OCI_EINVAL,
                         "cannot create layout %s: not a directory", dir);
  if (has_oci_layout(dir)) return oci_layout_open(dir, out, err);
  int empty = dir_is_empty(dir);
  if (empty < 0)
    return oci_error_set(err, OCI_EIO, "cannot create layout %s: %s", dir,
                         strerror(errno));
  /* a folder that is neither empty nor a layout being created is left
     untouched; oci-layout is looked for again because a concurrent create
     may have finished (and added blobs) since the first look */
  if (!empty && !is_unfinished_create(dir) && !has_oci_layout(dir))
    return oci_error_set(err, OCI_EINVAL,
                         "cannot create layout %s: the directory is not "
                         "empty and is not an OCI image layout (no "
                         "oci-layout file)",
                         dir);
  oci_layout *l;
  int rc = new_handle(dir, &l, err);
  if (rc) return rc;
  int lock = -1, rfd = -1, bfd = -1;
  if ((rc = ol_lock_index(l->root, &lock, err))) goto fail;
  if (has_oci_layout(l->root)) { /* another process finished it first */
    close(lock);
    oci_layout_close(l);
    return oci_layout_open(dir, out, err);
  }
  if ((rc = ol_root_fd(l->root, &rfd, err)) ||
      (rc = ol_open_dir(rfd, "blobs", "blobs", true, &bfd, NULL, err))) {
    ol_wrap(err, l->root);
    goto fail;
  }
  /* oci-layout last: a directory is a layout only once index.json and
     blobs/ are there (image-layout.md: all three MUST exist). */
  if ((rc = write_small(l->root, "index.json",
                        "{\"schemaVersion\":2,\"manifests\":[]}", err)) ||
      (rc = write_small(l->root, "oci-layout",
                        "{\"imageLayoutVersion\":\"" OCI_LAYOUT_VERSION "\"}",
                        err)))
    goto fail;
  (void)fsync(rfd);
  close(bfd);
  close(rfd);
  close(lock);
  *out = l;
  return OCI_OK;
fail:
  if (bfd >= 0) close(bfd);
  if (rfd >= 0) close(rfd);
  if (lock >= 0) close(lock);
  oci_layout_close(l);
  return rc;
}

void oci_layout_close(oci_layout *l) {
  if (!l) return;
  for (size_t i = 0; i < l->npending; i++) {
    unlink(l->pending[i].path);
    close(l->pending[i].fd);
    free(l->pending[i].path);
  }
  free(l->pending);
  free(l->root);
  free(l);
}

const char *oci_layout_path(const oci_layout *l) {
  return l->root;
}

/* ---- blobs -------------------------------------------------------------- */

int oci_layout_open_blob(const oci_layout *l, const char *digest, int *fd,
                         int64_t *size, oci_error *err) {
  OL_ERR(err);
  struct stat st;
  if (size) *size = 0;
  int rc = ol_open_blob(l->root, digest, fd, &st, NULL, err);
  if (!rc && size) *size = (int64_t)st.st_size;
  return rc;
}

int oci_layout_blob_path(const oci_layout *l, const char *digest, char **out,
                         oci_error *err) {
  OL_ERR(err);
  *out = NULL;
  /* a path is handed out only for a blob that is absent or safe to open:
     its consumers (unpack, layer readers) open it by name */
  int fd;
  struct stat st;
  bool missing;
  int rc = ol_open_blob(l->root, digest, &fd, &st, &missing, err);
  if (rc && !missing) return rc;
  if (!rc) close(fd);
  return ol_digest_path(l->root, digest, out, err);
}

int oci_layout_has_blob(const oci_layout *l, const char *digest, bool *out,
                        oci_error *err) {
  OL_ERR(err);
  *out = false;
  int fd;
  struct stat st;
  bool missing;
  int rc = ol_open_blob(l->root, digest, &fd, &st, &missing, err);
  if (rc) return missing ? OCI_OK : rc;
  close(fd);
  *out = true;
  return OCI_OK;
}

#define DESC_F(m)                                                              \
  (&oci_type_image_descriptor.fields[OCI_F_image_descriptor_##m])

static int check_media_type(const char *mt, oci_error *err) {
  if (!mt) return OCI_OK;
  if (oci_check_media_type(mt, strlen(mt), err))
    return ol_wrap(err, "invalid media type");
  return OCI_OK;
}

int oci_layout_put_blob(oci_layout *l, const void *buf, size_t len,
                        const char *media_type, oci_image_descriptor **out,
                        oci_error *err) {
  OL_ERR(err);
  char digest[OCI_DIGEST_STRING_MAX];
  *out = NULL;
  int rc = check_media_type(media_type, err);
  if (rc) return rc;
  /* hash first: an existing blob then costs no write at all */
  if ((rc = oci_hash_buffer(OCI_DIGEST_SHA256, buf, len, digest, err)))
    return rc;
  /* a symlink or FIFO planted at the blob's name is not the blob: it is
     replaced (ol_install renames over it), never written through */
  int bfd;
  struct stat st;
  bool have = ol_open_blob(l->root, digest, &bfd, &st, NULL, NULL) == OCI_OK;
  if (have) close(bfd);
  if (!have) {
    char *tmp;
    int fd;
    if ((rc = ol_tmp_create(l->root, &tmp, &fd, err))) return rc;
    if (ol_write_all(fd, buf, len) != 0 || fsync(fd) != 0)
      rc = oci_error_set(err, OCI_EIO, "cannot write %s: %s", tmp,
                         strerror(errno));
    else
      rc = ol_install(l->root, tmp, digest, err);
    if (rc) unlink(tmp);
    close(fd);
    free(tmp);
    if (rc) return rc;
  }
  return oci_image_descriptor_make(media_type, digest, (int64_t)len, out, err);
}

int oci_layout_blob_writer(oci_layout *l, const char *media_type,
                           oci_blob_writer **out, oci_error *err) {
  OL_ERR(err);
  *out = NULL;
  int rc = check_media_type(media_type, err);
  if (rc) return rc;
  oci_blob_writer *w = calloc(1, sizeof *w);
  if (!w) return ol_nomem(err);
  w->fd = -1;
  if (!(w->root = strdup(l->root)) ||
      (media_type && !(w->media_type = strdup(media_type)))) {
    rc = ol_nomem(err);
    goto fail;
  }
  if ((rc = oci_hasher_new(OCI_DIGEST_SHA256, &w->h, err))) goto fail;
  if ((rc = ol_tmp_create(l->root, &w->tmp, &w->fd, err))) goto fail;
  *out = w;
  return OCI_OK;
fail:
  oci_blob_writer_abort(w);
  return rc;
}

int ol_blob_writer_resume(oci_layout *l, const char *media_type,
                          const char *digest, int64_t max,
                          oci_blob_writer **out, uint64_t *have,
                          oci_error *err) {
  *out = NULL;
  *have = 0;
  oci_digest_view v;
  int rc = oci_digest_parse(digest, strlen(digest), &v, err);
  if (rc) return rc;
  char name[OCI_DIGEST_STRING_MAX + 16];
  const char *colon = strchr(digest, ':');
  /* the digest's grammar keeps it one path component: [a-z0-9+._-] and
     hex; ':' becomes '-' */
  snprintf(name, sizeof name, "%spart-%.*s-%s", OL_TMP_PREFIX,
           (int)(colon - digest), digest, colon + 1);
  if (strchr(name, '/'))
    return oci_error_set(err, OCI_EINVAL, "digest %s: not a file name", digest);
  if ((rc = oci_layout_blob_writer(l, media_type, out, err))) return rc;
  oci_blob_writer *w = *out;
  int tfd, lf, f = -1;
  if ((rc = open_tmp_dir(l->root, &tfd, err))) goto fail;
  if ((rc = open_lock(tfd, l->root, OL_TMP_LOCK_NAME, &lf, err))) {
    close(tfd);
    goto fail;
  }
  /* as ol_tmp_create: gc's sweep is excluded while the file is opened and
     not yet locked */
  if (flock(lf, LOCK_SH) == 0) {
    f = openat(tfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    struct stat st;
    /* a file with another name (a hard link planted to a file elsewhere)
       is never written through */
    if (f >= 0 && (fstat(f, &st) != 0 || !S_ISREG(st.st_mode) ||
                   st.st_nlink != 1 || flock(f, LOCK_EX | LOCK_NB) != 0)) {
      close(f); /* another writer has it (or not ours): a plain writer */
      f = -1;
    }
  }
  close(lf);
  close(tfd);
  if (f < 0) return OCI_OK; /* the plain writer made above */
  char *path = NULL;
  char *dir = ol_join(l->root, OCI_LAYOUT_TMP_DIR);
  if (dir) path = ol_join(dir, name);
  free(dir);
  if (!path) {
    close(f);
    rc = ol_nomem(err);
    goto fail;
  }
  /* the writer takes the partial file instead of its fresh one */
  unlink(w->tmp);
  close(w->fd);
  free(w->tmp);
  w->tmp = path;
  w->fd = f;
  w->resumable = true;
  struct stat st;
  if (fstat(f, &st) != 0) {
    rc = oci_error_set(err, OCI_EIO, "cannot read %s: %s", path,
                       strerror(errno));
    goto fail;
  }
  if (max >= 0 && st.st_size > max) return ol_blob_writer_restart(w, err);
  /* the hash of the bytes there, read back (never beyond what the final
     digest check proves: a wrong byte fails the commit, which drops it) */
  char *buf = malloc(COPY_BLOCK);
  if (!buf) {
    rc = ol_nomem(err);
    goto fail;
  }
  uint64_t n = 0;
  for (;;) {
    ssize_t k = pread(f, buf, COPY_BLOCK, (off_t)n);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      rc = oci_error_set(err, OCI_EIO, "cannot read %s: %s", path,
                         strerror(errno));
      break;
    }
    if (k == 0) break;
    if ((rc = oci_hasher_update(w->h, buf, (size_t)k, err))) break;
    n += (uint64_t)k;
  }
  free(buf);
  if (rc) goto fail;
  if (lseek(f, (off_t)n, SEEK_SET) < 0 || ftruncate(f, (off_t)n) != 0) {
    rc = oci_error_set(err, OCI_EIO, "cannot write %s: %s", path,
                       strerror(errno));
    goto fail;
  }
  *have = n;
  return OCI_OK;
fail:
  oci_blob_writer_abort(*out);
  *out = NULL;
  *have = 0;
  return rc;
}

int ol_blob_writer_restart(oci_blob_writer *w, oci_error *err) {
  oci_hasher *h;
  int rc = oci_hasher_new(OCI_DIGEST_SHA256, &h, err);
  if (rc) return rc;
  oci_hasher_free(w->h);
  w->h = h;
  w->failed = 0;
  if (ftruncate(w->fd, 0) != 0 || lseek(w->fd, 0, SEEK_SET) < 0)
    return oci_error_set(err, OCI_EIO, "cannot write %s: %s", w->tmp,
                         strerror(errno));
  return OCI_OK;
}

void ol_blob_writer_keep(oci_blob_writer *w) {
  if (!w) return;
  if (w->resumable && oci_hasher_size(w->h) > 0 && !w->failed) {
    free(w->tmp); /* the file stays; its lock goes with the descriptor */
    w->tmp = NULL;
  }
  oci_blob_writer_abort(w);
}

int oci_blob_writer_write(oci_blob_writer *w, const void *buf, size_t len,
                          oci_error *err) {
  OL_ERR(err);
  if (w->failed) {
    if (err) *err = w->saved;
    return w->saved.code;
  }
  int rc = oci_hasher_update(w->h, buf, len, &w->saved);
  if (!rc && ol_write_all(w->fd, buf, len) != 0)
    rc = oci_error_set(&w->saved, OCI_EIO, "cannot write %s: %s", w->tmp,
                       strerror(errno));
#ifdef SYNC_FILE_RANGE_WRITE
  if (!rc) {
    uint64_t size = oci_hasher_size(w->h);
    if (size < w->kicked) w->kicked = 0;
    if (size - w->kicked >= WRITEBACK_STEP) {
      /* a hint only: its failure changes nothing (the commit's fsync
         reports a write error) */
      (void)sync_file_range(w->fd, (off_t)w->kicked, (off_t)(size - w->kicked),
                            SYNC_FILE_RANGE_WRITE);
      w->kicked = size;
    }
  }
#endif
  if (rc) {
    w->failed = 1;
    if (err) *err = w->saved;
  }
  return rc;
}

uint64_t oci_blob_writer_size(const oci_blob_writer *w) {
  return oci_hasher_size(w->h);
}

int oci_blob_writer_commit(oci_blob_writer *w, const char *expected,
                           oci_image_descriptor **out, oci_error *err) {
  OL_ERR(err);
  char digest[OCI_DIGEST_STRING_MAX];
  *out = NULL;
  int rc;
  if (w->failed) {
    if (err) *err = w->saved;
    rc = w->saved.code;
    goto done;
  }
  uint64_t size = oci_hasher_size(w->h);
  if ((rc = oci_hasher_finish(w->h, digest, err))) goto done;
  if (expected) {
    oci_digest_view v;
    if ((rc = oci_digest_parse(expected, strlen(expected), &v, err))) {
      ol_wrap(err, "blob writer: invalid expected digest");
      goto done;
    }
    if (v.alg != OCI_DIGEST_SHA256) {
      /* another algorithm: hash what was written with it */
      uint64_t n;
      if ((rc = oci_hash_file(v.alg, w->tmp, digest, &n, err))) goto done;
    }
    if (strcmp(digest, expected) != 0) {
      rc = oci_error_set(err, OCI_EMISMATCH,
                         "blob writer: the %llu bytes written have digest %s, "
                         "expected %s; nothing was stored",
                         (unsigned long long)size, digest, expected);
      goto done;
    }
  }
  if (fsync(w->fd) != 0) {
    rc = oci_error_set(err, OCI_EIO, "cannot write %s: %s", w->tmp,
                       strerror(errno));
    goto done;
  }
  if ((rc = ol_install(w->root, w->tmp, digest, err))) goto done;
  free(w->tmp); /* moved (or removed as a duplicate) */
  w->tmp = NULL;
  rc =
      oci_image_descriptor_make(w->media_type, digest, (int64_t)size, out, err);
done:
  oci_blob_writer_abort(w);
  return rc;
}

void oci_blob_writer_abort(oci_blob_writer *w) {
  if (!w) return;
  if (w->tmp) unlink(w->tmp);
  if (w->fd >= 0) close(w->fd);
  oci_hasher_free(w->h);
  free(w->tmp);
  free(w->root);
  free(w->media_type);
  free(w);
}

int oci_layout_put_blob_file(oci_layout *l, const char *path,
                             const char *media_type, oci_image_descriptor **out,
                             oci_error *err) {
  OL_ERR(err);
  *out = NULL;
  int in = open(path, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return oci_error_set(err, OCI_EIO, "cannot read %s: %s", path,
                         strerror(errno));
  oci_blob_writer *w;
  int rc = oci_layout_blob_writer(l, media_type, &w, err);
  if (rc) {
    close(in);
    return rc;
  }
  char *buf = malloc(COPY_BLOCK);
  if (!buf) {
    rc = ol_nomem(err);
    goto fail;
  }
  for (;;) {
    ssize_t n = read(in, buf, COPY_BLOCK);
    if (n < 0) {
      if (errno == EINTR) continue;
      rc = oci_error_set(err, OCI_EIO, "cannot read %s: %s", path,
                         strerror(errno));
      goto fail;
    }
    if (n == 0) break;
    if ((rc = oci_blob_writer_write(w, buf, (size_t)n, err))) goto fail;
  }
  free(buf);
  close(in);
  return oci_blob_writer_commit(w, NULL, out, err);
fail:
  free(buf);
  close(in);
  oci_blob_writer_abort(w);
  return rc;
}

int oci_layout_temp_path(oci_layout *l, char **out, oci_error *err) {
  OL_ERR(err);
  *out = NULL;
  if (l->npending == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 4;
    void *p = realloc(l->pending, cap * sizeof *l->pending);
    if (!p) return ol_nomem(err);
    l->pending = p;
    l->cap = cap;
  }
  char *path;
  int fd;
  int rc = ol_tmp_create(l->root, &path, &fd, err);
  if (rc) return rc;
  char *copy = strdup(path);
  if (!copy) {
    unlink(path);
    close(fd);
    free(path);
    return ol_nomem(err);
  }
  l->pending[l->npending].path = path;
  l->pending[l->npending].fd = fd;
  l->npending++;
  *out = copy;
  return OCI_OK;
}

/* Forget a temporary path handed out by temp_path (its lock goes with the
   descriptor). */
static void drop_pending(oci_layout *l, const char *path) {
  for (size_t i = 0; i < l->npending; i++)
    if (strcmp(l->pending[i].path, path) == 0) {
      close(l->pending[i].fd);
      free(l->pending[i].path);
      l->pending[i] = l->pending[--l->npending];
      return;
    }
}

int oci_layout_adopt_blob(oci_layout *l, const char *tmp_path,
                          const char *digest, int64_t size,
                          const char *media_type, oci_image_descriptor **out,
                          oci_error *err) {
  OL_ERR(err);
  *out = NULL;
  char *final;
  int rc = check_media_type(media_type, err);
  if (rc) return rc;
  /* the digest is checked before anything is touched */
  if ((rc = ol_digest_path(l->root, digest, &final, err))) return rc;
  free(final);
  if (size < 0)
    return oci_error_set(err, OCI_EINVAL, "adopt_blob: negative size %lld",
                         (long long)size);
  int fd = open(tmp_path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    rc = oci_error_set(err, OCI_EIO, "adopt_blob: cannot open %s: %s", tmp_path,
                       strerror(errno));
    if (fd >= 0) close(fd);
    return rc;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return oci_error_set(err, OCI_EINVAL,
                         "adopt_blob: %s is not a regular file", tmp_path);
  }
  if ((int64_t)st.st_size != size) {
    close(fd);
    return oci_error_set(err, OCI_EMISMATCH,
                         "adopt_blob: %s holds %lld bytes, the caller says "
                         "%lld for %s; nothing was stored",
                         tmp_path, (long long)st.st_size, (long long)size,
                         digest);
  }
  /* the producer's writes must be durable before the blob is visible */
  if (fsync(fd) != 0) {
    rc = oci_error_set(err, OCI_EIO, "adopt_blob: cannot sync %s: %s", tmp_path,
                       strerror(errno));
    close(fd);
    return rc;
  }
  close(fd);
  if ((rc = ol_install(l->root, tmp_path, digest, err))) return rc;
  drop_pending(l, tmp_path);
  return oci_image_descriptor_make(media_type, digest, size, out, err);
}

/* get_blob with a cap on the bytes read (documents: the parser's limit).
   The size on disk is compared with the expected one before anything is
   read: a descriptor cannot make us read a huge file whole. */
static int get_blob_max(const oci_layout *l, const char *digest, int64_t size,
                        size_t max, char **buf, size_t *len, oci_error *err) {
  *buf = NULL;
  *len = 0;
  int fd;
  struct stat st;
  int rc = ol_open_blob(l->root, digest, &fd, &st, NULL, err);
  if (rc) return rc; /* names the blob */
  if (size >= 0 && st.st_size != size) {
    close(fd);
    return oci_error_set(err, OCI_EMISMATCH,
                         "blob %s: %lld bytes on disk, expected %lld", digest,
                         (long long)st.st_size, (long long)size);
  }
  char *b;
  size_t n;
  rc = ol_read_fd(fd, digest, max, &b, &n, err);
  close(fd);
  if (rc) return rc;
  if (size >= 0 && (uint64_t)size != n) { /* it changed while read */
    free(b);
    return oci_error_set(err, OCI_EMISMATCH,
                         "blob %s: %zu bytes on disk, expected %lld", digest, n,
                         (long long)size);
  }
  if ((rc = oci_digest_verify_buffer(digest, b, n, err))) {
    free(b);
    return ol_wrap(err, digest);
  }
  *buf = b;
  *len = n;
  return OCI_OK;
}

int oci_layout_get_blob(const oci_layout *l, const char *digest, int64_t size,
                        char **buf, size_t *len, oci_error *err) {
  OL_ERR(err);
  return get_blob_max(l, digest, size, SIZE_MAX / 2, buf, len, err);
}

/* ---- documents ---------------------------------------------------------- */

const char *oci_layout_media_type_of(const oci_type *t) {
  /* image-spec media-types.md */
  if (t == &oci_type_image_manifest) return OCI_MEDIA_TYPE_IMAGE_MANIFEST;
  if (t == &oci_type_image_index) return OCI_MEDIA_TYPE_IMAGE_INDEX;
  if (t == &oci_type_image_configuration) return OCI_MEDIA_TYPE_IMAGE_CONFIG;
  if (t == &oci_type_image_descriptor) return OCI_MEDIA_TYPE_DESCRIPTOR;
  if (t == &oci_type_image_oci_layout) return OCI_MEDIA_TYPE_LAYOUT_HEADER;
  if (t == &oci_type_image_artifact_manifest)
    return OCI_MEDIA_TYPE_ARTIFACT_MANIFEST;
  return OCI_MEDIA_TYPE_JSON;
}

/* A string member of obj by JSON key, when present. */
static const char *string_field(const oci_type *t, const void *obj,
                                const char *key) {
  const oci_field *f = oci_field_by_key(t, key, strlen(key));
  if (!f || f->vt->kind != OCI_K_STRING || !oci_is_present(obj, f->index) ||
      oci_is_null(obj, f->index))
    return NULL;
  return *(char **)oci_field_ptr(obj, f);
}

void oci_layout_put_options_init(oci_layout_put_options *o) {
  *o = (oci_layout_put_options)OCI_LAYOUT_PUT_OPTIONS_INIT;
}

int oci_layout_put_document(oci_layout *l, const oci_type *t, const void *obj,
                            const oci_layout_put_options *opts,
                            oci_image_descriptor **out, oci_error *err) {
  OL_ERR(err);
  *out = NULL;
  if (opts) {
    int vrc = oci_options_check(err, "oci_layout_put_options", opts->version,
                                OCI_LAYOUT_PUT_OPTIONS_VERSION);
    if (vrc) return vrc;
  }
  char *json;
  size_t len;
  int rc = oci_to_json(t, obj, NULL, &json, &len, err);
  if (rc) return rc;
  const char *mt = string_field(t, obj, "mediaType");
  if (t == &oci_type_image_descriptor || !mt) mt = oci_layout_media_type_of(t);
  oci_image_descriptor *d;
  rc = oci_layout_put_blob(l, json, len, mt, &d, err);
  free(json);
  if (rc) return rc;
  /* descriptor.md artifactType: the manifest's artifactType */
  const char *at = NULL;
  if (t == &oci_type_image_manifest || t == &oci_type_image_index ||
      t == &oci_type_image_artifact_manifest)
    at = string_field(t, obj, "artifactType");
  if (at && (rc = oci_set_string_err(d, DESC_F(artifact_type), at, err))) {
    oci_image_descriptor_free(d);
    *out = NULL;
    return rc;
  }
  if (opts && opts->annotations) {
    oci_str_map *m = &d->annotations;
    size_t n = opts->annotations->len;
    m->keys = oci_arena_calloc(d->hdr.arena, (n + 1) * sizeof(char *));
    m->values = oci_arena_calloc(d->hdr.arena, (n + 1) * sizeof(char *));
    if (!m->keys || !m->values) goto nomem;
    for (size_t i = 0; i < n; i++) {
      m->keys[i] = oci_arena_strdup(d->hdr.arena, opts->annotations->keys[i]);
      m->values[i] =
          oci_arena_strdup(d->hdr.arena, opts->annotations->values[i]);
      if (!m->keys[i] || !m->values[i]) goto nomem;
    }
    m->len = n;
    oci_mark(d, OCI_F_image_descriptor_annotations);
  }
  if (opts && opts->platform &&
      oci_set_object(d, DESC_F(platform), opts->platform))
    goto nomem;
  *out = d;
  return OCI_OK;
nomem:
  oci_image_descriptor_free(d);
  return ol_nomem(err);
}

int oci_layout_get_document(const oci_layout *l, const char *digest,
                            int64_t size, const oci_type *t, void **out,
                            oci_error *err) {
  OL_ERR(err);
  char *b;
  size_t n;
  *out = NULL;
  oci_parse_options o = OCI_PARSE_OPTIONS_INIT;
  int rc = get_blob_max(l, digest, size, o.max_size, &b, &n, err);
  if (rc) return rc;
  rc = oci_parse(t, b, n, &o, out, err);
  free(b);
  if (rc) {
    char what[OCI_DIGEST_STRING_MAX + 64];
    snprintf(what, sizeof what, "blob %s as %s", digest, t->name);
    ol_wrap(err, what);
  }
  return rc;
}

/* ---- references --------------------------------------------------------- */

int oci_layout_index(const oci_layout *l, oci_image_index **out,
                     oci_error *err) {
  OL_ERR(err);
  return ol_read_index(l->root, out, err);
}

/* A copy of d in idx's arena, with ref.name = name among its annotations. */
static oci_image_descriptor *named_copy(oci_image_index *idx,
                                        const oci_image_descriptor *d,
                                        const char *name) {
  oci_arena *a = idx->hdr.arena;
  oci_image_descriptor *c = oci_copy_into(&oci_type_image_descriptor, d, a);
  if (!c) return NULL;
  oci_str_map old = c->annotations;
  if (!oci_is_present(c, OCI_F_image_descriptor_annotations)) old.len = 0;
  char **keys = oci_arena_calloc(a, (old.len + 1) * sizeof(char *));
  char **vals = oci_arena_calloc(a, (old.len + 1) * sizeof(char *));
  char *v = oci_arena_strdup(a, name);
  if (!keys || !vals || !v) return NULL;
  size_t n = 0;
  bool set = false;
  for (size_t i = 0; i < old.len; i++) {
    keys[n] = old.keys[i];
    vals[n] = old.values[i];
    if (strcmp(old.keys[i], OCI_ANNOTATION_REF_NAME) == 0) {
      vals[n] = v;
      set = true;
    }
    n++;
  }
  if (!set) {
    keys[n] = oci_arena_strdup(a, OCI_ANNOTATION_REF_NAME);
    if (!keys[n]) return NULL;
    vals[n++] = v;
  }
  c->annotations.keys = keys;
  c->annotations.values = vals;
  c->annotations.len = n;
  oci_mark(c, OCI_F_image_descriptor_annotations);
  return c;
}

/* Puts a copy of d into index.json: named name (replacing the entries of
   that name), or, name NULL, without a ref.name (unless an entry of d's
   digest without one is there). what: "tag NAME" or "add", for messages. */
static int put_entry(oci_layout *l, const oci_image_descriptor *d,
                     const char *name, const char *what, oci_error *err) {
  /* index.json must stay readable: every string of d valid UTF-8 */
  if (!d || oci_json_check_writable(&oci_type_image_descriptor, d, err))
    return d ? ol_wrap(err, "tag: descriptor")
             : oci_error_set(err, OCI_EINVAL, "tag: descriptor missing");
  /* what goes into index.json must be a valid descriptor (descriptor.md) */
  oci_problems pr;
  int rc = oci_image_descriptor_validate(d, &pr);
  if (rc) {
    if (rc == OCI_EVALIDATE)
      for (size_t i = 0; i < pr.len; i++)
        if (pr.items[i].severity == OCI_SEV_ERROR) {
          oci_error_set(err, OCI_EINVAL, "%s: invalid descriptor: %s: %s", what,
                        pr.items[i].pointer, pr.items[i].message);
          break;
        }
    oci_problems_free(&pr);
    return rc == OCI_ENOMEM ? ol_nomem(err) : OCI_EINVAL;
  }
  oci_problems_free(&pr);
  int lock;
  if ((rc = ol_lock_index(l->root, &lock, err))) return rc;
  /* under the lock gc takes: what is tagged stays until untagged */
  if ((rc = ol_check_taggable(l, d, what, err))) goto out;
  oci_image_index *idx;
  if ((rc = ol_read_index(l->root, &idx, err))) goto out;
  size_t n = idx->manifests.len;
  oci_image_descriptor **items =
      oci_arena_calloc(idx->hdr.arena, (n + 1) * sizeof *items);
  oci_image_descriptor *c =
      name ? named_copy(idx, d, name)
           : oci_copy_into(&oci_type_image_descriptor, d, idx->hdr.arena);
  if (!items || !c) {
    rc = ol_nomem(err);
    goto out_idx;
  }
  if (!name && ol_ref_name(c)) {
    rc = oci_error_set(err, OCI_EINVAL,
                       "add: the descriptor has a %s annotation (tag it)",
                       OCI_ANNOTATION_REF_NAME);
    goto out_idx;
  }
  size_t k = 0;
  bool placed = false;
  for (size_t i = 0; i < n; i++) {
    oci_image_descriptor *e = idx->manifests.items[i];
    if (!name && !ol_ref_name(e) && !strcmp(e->digest, d->digest)) {
      rc = OCI_OK; /* there already */
      goto out_idx;
    }
    if (name && ol_str_eq(ol_ref_name(e), name)) {
      /* the new entry takes the place of the first old one */
      if (!placed) items[k++] = c;
      placed = true;
    } else {
      items[k++] = e;
    }
  }
  if (!placed) items[k++] = c;
  idx->manifests.items = items;
  idx->manifests.len = k;
  rc = write_index(l->root, idx, err);
out_idx:
  oci_image_index_free(idx);
out:
  close(lock);
  return rc;
}

int oci_layout_tag(oci_layout *l, const oci_image_descriptor *d,
                   const char *name, oci_error *err) {
  OL_ERR(err);
  /* annotations.md "org.opencontainers.image.ref.name" grammar (I-ANN-6) */
  if (!name || oci_check_ref_name_annotation(name, strlen(name), err))
    return name ? ol_wrap(err, "tag: invalid reference name")
                : oci_error_set(err, OCI_EINVAL, "tag: name missing");
  char what[300];
  snprintf(what, sizeof what, "tag %.200s", name);
  return put_entry(l, d, name, what, err);
}

int oci_layout_add(oci_layout *l, const oci_image_descriptor *d,
                   oci_error *err) {
  OL_ERR(err);
  return put_entry(l, d, NULL, "add", err);
}

int oci_layout_untag(oci_layout *l, const char *name, oci_error *err) {
  OL_ERR(err);
  if (!name) return oci_error_set(err, OCI_EINVAL, "untag: name missing");
  int lock, rc;
  if ((rc = ol_lock_index(l->root, &lock, err))) return rc;
  oci_image_index *idx;
  if ((rc = ol_read_index(l->root, &idx, err))) goto out;
  size_t k = 0, n = idx->manifests.len;
  for (size_t i = 0; i < n; i++)
    if (!ol_str_eq(ol_ref_name(idx->manifests.items[i]), name))
      idx->manifests.items[k++] = idx->manifests.items[i];
  if (k == n)
    rc = oci_error_set(err, OCI_EINVAL, "untag: no tag \"%s\" in %s/index.json",
                       name, l->root);
  else {
    idx->manifests.len = k;
    rc = write_index(l->root, idx, err);
  }
  oci_image_index_free(idx);
out:
  close(lock);
  return rc;
}

void oci_layout_strings_free(oci_layout_strings *s) {
  if (!s) return;
  for (size_t i = 0; i < s->len; i++)
    free(s->items[i]);
  free(s->items);
  s->items = NULL;
  s->len = 0;
}

int ol_strings_add(oci_layout_strings *s, const char *v, oci_error *err) {
  char **p = realloc(s->items, (s->len + 1) * sizeof *p);
  if (!p) return ol_nomem(err);
  s->items = p;
  if (!(p[s->len] = strdup(v))) return ol_nomem(err);
  s->len++;
  return OCI_OK;
}
