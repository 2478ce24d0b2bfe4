/* Applying layer changesets (image-spec layer.md) to a root file system
   with libarchive: entries go through archive_write_disk with its
   security checks, whiteouts are ours. Every path is checked before it is
   used: relative, no "..", and no symbolic link on the way, so a hostile
   layer cannot write or delete outside rootfs. */
#include "ocispec/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocispec/digest.h"
#include "ocispec/hash.h"

#define READ_BLOCK (1 << 20)

/* layer.md "Whiteouts": the prefix, and the opaque marker's full name. */
static const char WH_PREFIX[] = ".wh.";
static const char WH_OPAQUE[] = ".wh..wh..opq";

/* ---- the set of paths this layer wrote ---------------------------------
   layer.md: whiteouts "MUST only apply to resources in lower/parent
   layers", so a whiteout or an opaque marker must spare what the same
   layer already wrote. Open addressing over FNV-1a hashes. */

typedef struct path_set {
  char **slots;
  size_t cap, len;
} path_set;

static uint64_t fnv1a(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static bool set_has(const path_set *s, const char *p) {
  if (!s->cap) return false;
  for (size_t i = fnv1a(p) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
    if (!s->slots[i]) return false;
    if (strcmp(s->slots[i], p) == 0) return true;
  }
}

static int set_add(path_set *s, const char *p) {
  if (set_has(s, p)) return 0;
  if ((s->len + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    char **slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->slots[i]) continue;
      size_t j = fnv1a(s->slots[i]) & (cap - 1);
      while (slots[j])
        j = (j + 1) & (cap - 1);
      slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
  }
  char *copy = strdup(p);
  if (!copy) return -1;
  size_t i = fnv1a(p) & (s->cap - 1);
  while (s->slots[i])
    i = (i + 1) & (s->cap - 1);
  s->slots[i] = copy;
  s->len++;
  return 0;
}

static void set_free(path_set *s) {
  for (size_t i = 0; i < s->cap; i++)
    free(s->slots[i]);
  free(s->slots);
}

/* A parent directory of p (relative) was written by this layer when p's
   own ancestors are in the set; used to spare same-layer entries. */
static bool written_or_under(const path_set *s, const char *p) {
  char buf[PATH_MAX];
  size_t n = strlen(p);
  if (n >= sizeof buf) return false;
  memcpy(buf, p, n + 1);
  for (;;) {
    if (set_has(s, buf)) return true;
    char *slash = strrchr(buf, '/');
    if (!slash) return false;
    *slash = '\0';
  }
}

/* ---- paths -------------------------------------------------------------- */

/* Normalises a tar path in place: drops leading "./" and "/", repeated and
   trailing slashes, "." components; refuses ".." (layer.md: paths are
   relative to the root of the changeset). Empty result = the root. */
static int clean_path(char *p, const char *entry, oci_error *err) {
  char *out = p, *in = p;
  while (*in) {
    while (*in == '/')
      in++;
    if (!*in) break;
    char *end = strchr(in, '/');
    size_t n = end ? (size_t)(end - in) : strlen(in);
    if (n == 1 && in[0] == '.') {
    } else if (n == 2 && in[0] == '.' && in[1] == '.') {
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": \"..\" would leave the root "
                           "file system",
                           entry);
    } else {
      if (out != p) *out++ = '/';
      memmove(out, in, n);
      out += n;
    }
    in += n;
  }
  *out = '\0';
  return OCI_OK;
}

/* Checks that every existing component of rootfs/rel before the last is a
   real directory, not a symbolic link: a layer must not reach outside
   rootfs through a link an earlier entry (or layer) planted. */
static int check_parents(const char *rootfs, const char *rel, const char *entry,
                         oci_error *err) {
  char buf[PATH_MAX];
  int n = snprintf(buf, sizeof buf, "%s/%s", rootfs, rel);
  if (n < 0 || (size_t)n >= sizeof buf)
    return oci_error_set(err, OCI_EINVAL, "layer entry \"%s\": path too long",
                         entry);
  size_t root_len = strlen(rootfs);
  for (char *s = buf + root_len + 1; (s = strchr(s, '/')); s++) {
    *s = '\0';
    struct stat st;
    int rc = lstat(buf, &st);
    *s = '/';
    if (rc != 0) return OCI_OK; /* missing: created as a directory */
    if (S_ISLNK(st.st_mode))
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": a parent is a symbolic link; "
                           "refusing to follow it out of the root file system",
                           entry);
    if (!S_ISDIR(st.st_mode))
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": a parent is not a directory",
                           entry);
  }
  return OCI_OK;
}

/* Removes the tree at dirfd/name without following links. */
static int remove_at(int parent, const char *name, const char *what,
                     oci_error *err) {
  struct stat st;
  if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT
               ? OCI_OK
               : oci_error_set(err, OCI_EIO, "%s: %s", what, strerror(errno));
  if (S_ISDIR(st.st_mode)) {
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0)
      return oci_error_set(err, OCI_EIO, "%s: %s", what, strerror(errno));
    DIR *d = fdopendir(fd);
    if (!d) {
      close(fd);
      return oci_error_set(err, OCI_EIO, "%s: %s", what, strerror(errno));
    }
    int rc = OCI_OK;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      rc = remove_at(dirfd(d), e->d_name, what, err);
    }
    closedir(d);
    if (rc) return rc;
    if (unlinkat(parent, name, AT_REMOVEDIR) != 0)
      return oci_error_set(err, OCI_EIO, "%s: %s", what, strerror(errno));
    return OCI_OK;
  }
  if (unlinkat(parent, name, 0) != 0 && errno != ENOENT)
    return oci_error_set(err, OCI_EIO, "%s: %s", what, strerror(errno));
  return OCI_OK;
}

/* layer.md "Whiteouts": `.wh.<name>` hides <name> of lower layers. */
static int apply_whiteout(const char *rootfs, const char *dir, const char *name,
                          const path_set *written, const char *entry,
                          oci_error *err) {
  char rel[PATH_MAX];
  int n = snprintf(rel, sizeof rel, "%s%s%s", dir, *dir ? "/" : "", name);
  if (n < 0 || (size_t)n >= sizeof rel)
    return oci_error_set(err, OCI_EINVAL, "layer entry \"%s\": path too long",
                         entry);
  if (set_has(written, rel)) return OCI_OK; /* same layer: spared */
  int rc = check_parents(rootfs, rel, entry, err);
  if (rc) return rc;
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s%s%s", rootfs, *dir ? "/" : "", dir);
  int fd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (fd < 0) return OCI_OK; /* nothing below to hide */
  rc = remove_at(fd, name, entry, err);
  close(fd);
  return rc;
}

/* layer.md "Opaque Whiteout": `.wh..wh..opq` hides every lower entry of its
   directory; entries this layer wrote there stay. */
static int apply_opaque(const char *rootfs, const char *dir,
                        const path_set *written, const char *entry,
                        oci_error *err) {
  int rc = check_parents(rootfs, *dir ? dir : ".", entry, err);
  if (rc) return rc;
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s%s%s", rootfs, *dir ? "/" : "", dir);
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (fd < 0) return OCI_OK;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return oci_error_set(err, OCI_EIO, "%s: %s", entry, strerror(errno));
  }
  struct dirent *e;
  while (!rc && (e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s%s%s", dir, *dir ? "/" : "", e->d_name);
    if (written_or_under(written, rel)) continue;
    rc = remove_at(dirfd(d), e->d_name, entry, err);
  }
  closedir(d);
  return rc;
}

/* ---- reading the blob, hashed as it streams ---------------------------- */

typedef struct reader {
  int fd;
  unsigned char *buf;
  oci_hasher *hasher; /* NULL when no digest is expected */
  bool failed_hash;
} reader;

static la_ssize_t read_cb(struct archive *a, void *ctx, const void **out) {
  reader *r = ctx;
  ssize_t n;
  do
    n = read(r->fd, r->buf, READ_BLOCK);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    archive_set_error(a, errno, "read failed");
    return -1;
  }
  if (r->hasher && n > 0 &&
      oci_hasher_update(r->hasher, r->buf, (size_t)n, NULL) != OCI_OK)
    r->failed_hash = true;
  *out = r->buf;
  return n;
}

/* Feeds the rest of the blob to the hasher (tar's end-of-archive blocks
   and compressor trailers may be left unread by libarchive). */
static int drain(reader *r, const char *blob, oci_error *err) {
  for (;;) {
    ssize_t n = read(r->fd, r->buf, READ_BLOCK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return oci_error_set(err, OCI_EIO, "%s: read failed: %s", blob,
                           strerror(errno));
    if (n == 0) return OCI_OK;
    if (oci_hasher_update(r->hasher, r->buf, (size_t)n, err)) return OCI_ENOMEM;
  }
}

/* ---- applying ----------------------------------------------------------- */

static int archive_fail(struct archive *a, const char *blob, const char *what,
                        oci_error *err) {
  const char *msg = archive_error_string(a);
  return oci_error_set(err, OCI_EINVAL, "%s: %s%s%s", blob, what,
                       msg ? ": " : "", msg ? msg : "");
}

static int prefix_path(char *out, size_t outsz, const char *rootfs,
                       const char *rel, const char *entry, oci_error *err) {
  int n = snprintf(out, outsz, "%s%s%s", rootfs, *rel ? "/" : "", rel);
  if (n < 0 || (size_t)n >= outsz)
    return oci_error_set(err, OCI_EINVAL, "layer entry \"%s\": path too long",
                         entry);
  return OCI_OK;
}

static int apply_entries(struct archive *in, struct archive *out,
                         const char *blob, const char *rootfs, bool rootless,
                         path_set *written, oci_unpack_stats *st,
                         oci_error *err) {
  struct archive_entry *e;
  char rel[PATH_MAX], link[PATH_MAX], full[PATH_MAX], full_link[PATH_MAX];
  for (;;) {
    int r = archive_read_next_header(in, &e);
    if (r == ARCHIVE_EOF) return OCI_OK;
    if (r < ARCHIVE_WARN) return archive_fail(in, blob, "not a layer", err);
    st->entries++;
    const char *name = archive_entry_pathname(e);
    if (!name)
      return oci_error_set(err, OCI_EINVAL, "%s: entry without a name", blob);
    if (strlen(name) >= sizeof rel)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%.64s...\": path too long", name);
    strcpy(rel, name);
    int rc = clean_path(rel, name, err);
    if (rc) return rc;
    if (!*rel) continue; /* "./": the root itself keeps rootfs's mode */
    char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    if (strncmp(base, WH_PREFIX, sizeof WH_PREFIX - 1) == 0) {
      char dir[PATH_MAX];
      size_t dn = slash ? (size_t)(slash - rel) : 0;
      memcpy(dir, rel, dn);
      dir[dn] = '\0';
      if (strcmp(base, WH_OPAQUE) == 0) {
        st->opaque_dirs++;
        rc = apply_opaque(rootfs, dir, written, name, err);
      } else {
        st->whiteouts++;
        rc = apply_whiteout(rootfs, dir, base + sizeof WH_PREFIX - 1, written,
                            name, err);
      }
      if (rc) return rc;
      continue;
    }
    mode_t type = archive_entry_filetype(e);
    if (rootless && (type == AE_IFCHR || type == AE_IFBLK)) {
      st->skipped++;
      continue;
    }
    if ((rc = check_parents(rootfs, rel, name, err)) ||
        (rc = prefix_path(full, sizeof full, rootfs, rel, name, err)))
      return rc;
    archive_entry_copy_pathname(e, full);
    const char *hard = archive_entry_hardlink(e);
    if (hard) {
      if (strlen(hard) >= sizeof link)
        return oci_error_set(err, OCI_EINVAL,
                             "layer entry \"%s\": link target too long", name);
      strcpy(link, hard);
      if ((rc = clean_path(link, name, err)) ||
          (rc = check_parents(rootfs, link, name, err)) ||
          (rc = prefix_path(full_link, sizeof full_link, rootfs, link, name,
                            err)))
        return rc;
      archive_entry_copy_hardlink(e, full_link);
    }
    r = archive_write_header(out, e);
    if (r < ARCHIVE_WARN)
      return oci_error_set(err, OCI_EIO, "layer entry \"%s\": %s", name,
                           archive_error_string(out));
    if (archive_entry_size(e) > 0 && !hard) {
      const void *buf;
      size_t len;
      la_int64_t off;
      while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK)
        if (archive_write_data_block(out, buf, len, off) < ARCHIVE_WARN)
          return oci_error_set(err, OCI_EIO, "layer entry \"%s\": %s", name,
                               archive_error_string(out));
      if (r != ARCHIVE_EOF)
        return archive_fail(in, blob, "truncated or corrupt layer", err);
    }
    if (archive_write_finish_entry(out) < ARCHIVE_WARN)
      return oci_error_set(err, OCI_EIO, "layer entry \"%s\": %s", name,
                           archive_error_string(out));
    if (set_add(written, rel) != 0)
      return oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
}

int oci_layer_apply(const char *blob_path, const char *rootfs,
                    const oci_unpack_options *opts, oci_unpack_stats *stats,
                    oci_error *err) {
  static const oci_unpack_options defaults = OCI_UNPACK_OPTIONS_INIT;
  if (!opts) opts = &defaults;
  oci_unpack_stats local;
  if (!stats) stats = &local;
  memset(stats, 0, sizeof *stats);
  oci_error_clear(err);

  char root[PATH_MAX];
  if (!realpath(rootfs, root))
    return oci_error_set(err, OCI_EIO, "%s: %s", rootfs, strerror(errno));
  struct stat st;
  if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
    return oci_error_set(err, OCI_EINVAL, "%s: not a directory", rootfs);

  oci_digest_alg alg = OCI_DIGEST_OTHER;
  if (opts->expected_digest) {
    oci_digest_view v;
    int rc = oci_digest_parse(opts->expected_digest,
                              strlen(opts->expected_digest), &v, err);
    if (rc) return rc;
    alg = v.alg;
  }

  reader r = {.fd = open(blob_path, O_RDONLY | O_CLOEXEC)};
  if (r.fd < 0)
    return oci_error_set(err, OCI_EIO, "%s: cannot open: %s", blob_path,
                         strerror(errno));
  int rc = OCI_OK;
  path_set written = {0};
  struct archive *in = archive_read_new(), *out = archive_write_disk_new();
  r.buf = malloc(READ_BLOCK);
  if (!in || !out || !r.buf) {
    rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
    goto done;
  }
  if (opts->expected_digest &&
      (rc = oci_hasher_new(alg, &r.hasher, err)) != OCI_OK)
    goto done;
  archive_read_support_filter_gzip(in);
  archive_read_support_filter_zstd(in);
  archive_read_support_format_tar(in);
  /* SECURE_*: libarchive's own guard against "..", absolute paths and
     symlinks on the way, on top of ours; no ACLs, xattrs or fflags (OCI
     layers carry xattrs in PAX headers that need privileges to set). */
  int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
              ARCHIVE_EXTRACT_UNLINK | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
              ARCHIVE_EXTRACT_SECURE_NODOTDOT;
  if (!opts->rootless && geteuid() == 0) flags |= ARCHIVE_EXTRACT_OWNER;
  archive_write_disk_set_options(out, flags);
  if (archive_read_open(in, &r, NULL, read_cb, NULL) != ARCHIVE_OK) {
    rc = archive_fail(in, blob_path, "not a layer", err);
    goto done;
  }
  rc = apply_entries(in, out, blob_path, root, opts->rootless, &written, stats,
                     err);
  if (!rc && archive_write_close(out) != ARCHIVE_OK)
    rc = oci_error_set(err, OCI_EIO, "%s: %s", rootfs,
                       archive_error_string(out));
  if (!rc && r.hasher) {
    char got[OCI_DIGEST_STRING_MAX];
    if (r.failed_hash)
      rc = oci_error_set(err, OCI_ENOMEM, "hashing failed");
    else if (!(rc = drain(&r, blob_path, err)) &&
             !(rc = oci_hasher_finish(r.hasher, got, err)) &&
             strcmp(got, opts->expected_digest) != 0)
      rc = oci_error_set(err, OCI_EMISMATCH, "%s has digest %s, expected %s",
                         blob_path, got, opts->expected_digest);
  }
done:
  if (in) archive_read_free(in);
  if (out) archive_write_free(out);
  oci_hasher_free(r.hasher);
  set_free(&written);
  free(r.buf);
  close(r.fd);
  return rc;
}
