/* Reproducible layer blobs (see ocispec/layer.h).

   A build makes a plan first (one item per tar entry: from a directory
   walk, from the caller's entries, or from the changeset between two
   directories), sorts it, resolves hardlinks, applies the owner override
   and the mtime clamp, and only then writes: libarchive's pax writer
   (restricted: ustar headers unless a value does not fit) into tar_out,
   which hashes the tar (diff_id) and hands it to the compression stage
   (layer_pipe.c: its own threads compress, hash (digest), count (size)
   and write to the fd), or writes it as it is for an uncompressed blob.
   One pass over the data, no temporary tar.

   Changesets follow image-spec layer.md: "Change Types" (additions,
   modifications, removals), "Whiteouts" (a removed path p becomes an empty
   file ".wh.<basename p>" beside it) and "Opaque Whiteout" (".wh..wh..opq"
   in a directory hides every lower entry of that directory). */
#define _GNU_SOURCE /* SEEK_DATA, SEEK_HOLE, CPU_COUNT_S */
#include "ocispec/layer.h"

#include "internal.h"
#include "layer_internal.h"
#include "layer_pipe.h"
#include "owner_read.h"
#include "xattr_internal.h"
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Read block for file content: big enough that syscalls and libarchive's
   per-call overhead vanish next to deflate, small enough for L2. */
#define READ_BLOCK (1024 * 1024)

/* layer.md "Whiteouts" */
#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

/* ---- options ------------------------------------------------------------ */

void oci_layer_options_init(oci_layer_options *o) {
  *o = (oci_layer_options)OCI_LAYER_OPTIONS_INIT;
}

static int cap_threads(long n) {
  return n < 1 ? 1 : n < OCI_LAYER_THREADS_MAX ? (int)n : OCI_LAYER_THREADS_MAX;
}

int oci_layer_threads_auto(void) {
  /* the CPUs this thread may run on (taskset, cpusets); sched_getaffinity
     fails with EINVAL while the set is smaller than the kernel's (more
     than 1024 CPUs): then in bigger sets */
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    return cap_threads(CPU_COUNT(&set));
  for (int ncpu = 4096; errno == EINVAL && ncpu <= 1 << 20; ncpu *= 4) {
    cpu_set_t *big = CPU_ALLOC((size_t)ncpu);
    if (!big) break;
    size_t sz = CPU_ALLOC_SIZE((size_t)ncpu);
    int n = sched_getaffinity(0, sz, big) == 0 ? CPU_COUNT_S(sz, big) : -1;
    CPU_FREE(big);
    if (n >= 0) return cap_threads(n);
  }
  return cap_threads(sysconf(_SC_NPROCESSORS_ONLN));
}

int layer_threads(const oci_layer_options *o) {
  if (o->version < 3) return 0;
  return o->threads == OCI_LAYER_THREADS_AUTO ? oci_layer_threads_auto()
                                              : o->threads;
}

int oci_layer_options_from_env(oci_layer_options *o, oci_error *err) {
  oci_error_reset(err);
  int vrc = oci_options_check(err, "oci_layer_options", o->version,
                              OCI_LAYER_OPTIONS_VERSION);
  if (vrc) return vrc;
  /* reproducible-builds.org SOURCE_DATE_EPOCH: "If the value is malformed,
     the build process SHOULD exit with a non-zero error code." */
  const char *s = getenv("SOURCE_DATE_EPOCH");
  if (!s || !*s) return OCI_OK;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*end || errno || v < 0 || *s < '0' || *s > '9')
    return oci_error_set(err, OCI_EINVAL,
                         "SOURCE_DATE_EPOCH=\"%.64s\" is not a number of "
                         "seconds since the epoch",
                         s);
  o->clamp_mtime = 1;
  o->mtime = (int64_t)v;
  return OCI_OK;
}

int oci_layer_compression_from_name(const char *name,
                                    oci_layer_compression *out,
                                    oci_error *err) {
  oci_error_reset(err);
  if (name && !strcmp(name, "gzip"))
    *out = OCI_LAYER_GZIP;
  else if (name && !strcmp(name, "zstd"))
    *out = OCI_LAYER_ZSTD;
  else if (name && !strcmp(name, "none"))
    *out = OCI_LAYER_NONE;
  else
    return oci_error_set(err, OCI_EINVAL,
                         "unknown layer compression \"%.64s\" (gzip, zstd or "
                         "none)",
                         name ? name : "(null)");
  return OCI_OK;
}

const char *oci_layer_media_type(oci_layer_compression c) {
  switch (c) {
  case OCI_LAYER_GZIP: return OCI_MEDIA_TYPE_LAYER_GZIP;
  case OCI_LAYER_ZSTD: return OCI_MEDIA_TYPE_LAYER_ZSTD;
  case OCI_LAYER_NONE: return OCI_MEDIA_TYPE_LAYER;
  }
  return NULL;
}

static const char *const type_names[] = {"file", "dir",   "symlink", "hardlink",
                                         "char", "block", "fifo"};
#define N_TYPES (sizeof type_names / sizeof type_names[0])

const char *oci_layer_type_name(oci_layer_type t) {
  return (unsigned)t < N_TYPES ? type_names[t] : NULL;
}

int oci_layer_type_from_name(const char *name) {
  for (size_t i = 0; name && i < N_TYPES; i++)
    if (!strcmp(name, type_names[i])) return (int)i;
  return -1;
}

/* ---- the plan ----------------------------------------------------------- */

typedef oci_layer_xattr xattr;

typedef struct item {
  char *name; /* tar name: relative, no trailing "/" (added for dirs) */
  char *key;  /* sort key: name, "name/" for dirs, "dir/" for opaque */
  char *src;  /* file whose content is stored, or NULL */
  const void *content; /* else inline bytes (borrowed from the caller) */
  size_t content_len;
  char *target; /* symlink target; hardlink target (a tar name) */
  oci_layer_type type;
  uint32_t mode;
  int64_t uid, gid, mtime;
  int mtime_from_src; /* entries without mtime: take the source's */
  unsigned major, minor;
  int opaque;   /* the ".wh..wh..opq" of its directory */
  int linkable; /* regular file that may share an inode with others */
  uint64_t dev, ino;
  size_t pos;    /* position after sorting */
  xattr *xattrs; /* sorted by name (xattr_internal.h says which) */
  size_t n_xattrs;
} item;

typedef struct plan {
  item *v;
  size_t len, cap;
  size_t skipped;
  int rootless;                        /* oci_layer_options.rootless */
  const oci_id_map *uid_map, *gid_map; /* host -> container */
  size_t n_uid_map, n_gid_map;
  int refuse_wh; /* a changeset: its upper tree holds no ".wh." names */
} plan;

static int nomem(oci_error *err) {
  return oci_error_set(err, OCI_ENOMEM, "out of memory");
}

static void item_xattrs_free(item *it) {
  for (size_t k = 0; k < it->n_xattrs; k++) {
    free((char *)it->xattrs[k].name);
    free((void *)it->xattrs[k].value);
  }
  free(it->xattrs);
}

static void plan_free(plan *p) {
  for (size_t i = 0; i < p->len; i++) {
    free(p->v[i].name);
    free(p->v[i].key);
    free(p->v[i].src);
    free(p->v[i].target);
    item_xattrs_free(&p->v[i]);
  }
  free(p->v);
}

/* A new zeroed item owning name (freed here on failure). */
static item *plan_add(plan *p, char *name, oci_error *err) {
  if (!name) {
    nomem(err);
    return NULL;
  }
  if (p->len == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 64;
    item *v = realloc(p->v, cap * sizeof *v);
    if (!v) {
      free(name);
      nomem(err);
      return NULL;
    }
    p->v = v;
    p->cap = cap;
  }
  item *it = &p->v[p->len++];
  memset(it, 0, sizeof *it);
  it->name = name;
  return it;
}

static char *join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *s = malloc(la + lb + 2);
  if (!s) return NULL;
  memcpy(s, a, la);
  size_t k = la;
  if (la && lb) s[k++] = '/';
  memcpy(s + k, b, lb + 1);
  return s;
}

/* ---- from a directory --------------------------------------------------- */

typedef struct dirlist {
  char **names;
  struct stat *st;
  size_t len;
} dirlist;

static void dirlist_free(dirlist *d) {
  for (size_t i = 0; i < d->len; i++)
    free(d->names[i]);
  free(d->names);
  free(d->st);
  memset(d, 0, sizeof *d);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names (sorted bytewise) and lstat of a directory's children. */
static int list_dir(const char *path, dirlist *out, oci_error *err) {
  memset(out, 0, sizeof *out);
  DIR *d = opendir(path);
  if (!d)
    return oci_error_set(err, OCI_EIO, "layer: cannot open directory %s: %s",
                         path, strerror(errno));
  size_t cap = 0;
  int rc = OCI_OK;
  struct dirent *de;
  for (;;) {
    errno = 0;
    de = readdir(d);
    if (!de) {
      if (errno)
        rc = oci_error_set(err, OCI_EIO, "layer: cannot read directory %s: %s",
                           path, strerror(errno));
      break;
    }
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    if (out->len == cap) {
      cap = cap ? cap * 2 : 16;
      char **n = realloc(out->names, cap * sizeof *n);
      if (!n) {
        rc = nomem(err);
        break;
      }
      out->names = n;
    }
    if (!(out->names[out->len] = strdup(de->d_name))) {
      rc = nomem(err);
      break;
    }
    out->len++;
  }
  if (!rc && out->len) {
    qsort(out->names, out->len, sizeof *out->names, cmp_str);
    out->st = malloc(out->len * sizeof *out->st);
    if (!out->st) rc = nomem(err);
  }
  for (size_t i = 0; !rc && i < out->len; i++)
    if (fstatat(dirfd(d), out->names[i], &out->st[i], AT_SYMLINK_NOFOLLOW))
      rc = oci_error_set(err, OCI_EIO, "layer: cannot stat %s/%s: %s", path,
                         out->names[i], strerror(errno));
  closedir(d);
  if (rc) dirlist_free(out);
  return rc;
}

static int cmp_xattr(const void *a, const void *b) {
  return strcmp(((const xattr *)a)->name, ((const xattr *)b)->name);
}

/* The xattrs of path (never through a symbolic link) that a layer
   carries (xattr_internal.h), sorted by name: the tar's bytes must not
   depend on the file system's listing order. Empty values are left out,
   as umoci does (a PAX record with an empty value deletes the keyword). */
static int read_xattrs(const plan *p, item *it, const char *path,
                       oci_error *err) {
  char *names = NULL;
  ssize_t n;
  for (;;) {
    n = llistxattr(path, NULL, 0);
    if (n <= 0) break;
    free(names);
    if (!(names = malloc((size_t)n))) return nomem(err);
    ssize_t m = llistxattr(path, names, (size_t)n);
    if (m >= 0) {
      n = m;
      break;
    }
    if (errno != ERANGE) {
      n = -1;
      break;
    }
  }
  if (n < 0) {
    int e = errno;
    free(names);
    if (e == ENOTSUP) return OCI_OK; /* no xattrs on this file system */
    return oci_error_set(err, OCI_EIO,
                         "layer: cannot list the xattrs of %s: %s", path,
                         strerror(e));
  }
  int rc = OCI_OK;
  for (ssize_t i = 0; i < n && !rc; i += (ssize_t)strlen(names + i) + 1) {
    const char *name = names + i;
    if (!oci_xattr_kept(name)) continue;
    char *value = malloc(OCI_XATTR_VALUE_MAX);
    if (!value) {
      rc = nomem(err);
      break;
    }
    ssize_t len = lgetxattr(path, name, value, OCI_XATTR_VALUE_MAX);
    if (len < 0 && errno == ENODATA) len = 0; /* gone meanwhile */
    if (len < 0) {
      rc = oci_error_set(err, OCI_EIO, "layer: cannot read xattr %s of %s: %s",
                         name, path, strerror(errno));
      free(value);
      break;
    }
    if (len == 0) {
      free(value);
      continue;
    }
    if (p->rootless && !strcmp(name, OCI_XATTR_ROOTLESS)) {
      /* umoci's mapHeader: the owner recorded, not the xattr */
      uint32_t u, g;
      int bad = oci_rootless_decode((const unsigned char *)value, (size_t)len,
                                    &u, &g);
      free(value);
      if (bad) {
        rc = oci_error_set(err, OCI_EINVAL,
                           "layer: %s of %s is not a rootlesscontainers "
                           "Resource (protobuf)",
                           OCI_XATTR_ROOTLESS, path);
        break;
      }
      if (u && u != OCI_ROOTLESS_NOOP) it->uid = u;
      if (g && g != OCI_ROOTLESS_NOOP) it->gid = g;
      continue;
    }
    char *shrunk = realloc(value, (size_t)len);
    if (shrunk) value = shrunk;
    xattr *v = realloc(it->xattrs, (it->n_xattrs + 1) * sizeof *v);
    char *nm = strdup(name);
    if (v) it->xattrs = v;
    if (!v || !nm) {
      free(nm);
      free(value);
      rc = nomem(err);
      break;
    }
    it->xattrs[it->n_xattrs++] = (xattr){nm, value, (size_t)len};
  }
  free(names);
  if (!rc && it->n_xattrs > 1)
    qsort(it->xattrs, it->n_xattrs, sizeof *it->xattrs, cmp_xattr);
  return rc;
}

/* Add the file system object at root/rel (stat st) as an item. Sockets have
   no tar representation: counted in skipped, left out. */
static int add_stat(plan *p, const char *root, const char *rel,
                    const struct stat *st, item **out, oci_error *err) {
  *out = NULL;
  oci_layer_type t;
  switch (st->st_mode & S_IFMT) {
  case S_IFREG: t = OCI_LAYER_FILE; break;
  case S_IFDIR: t = OCI_LAYER_DIR; break;
  case S_IFLNK: t = OCI_LAYER_SYMLINK; break;
  case S_IFCHR: t = OCI_LAYER_CHAR; break;
  case S_IFBLK: t = OCI_LAYER_BLOCK; break;
  case S_IFIFO: t = OCI_LAYER_FIFO; break;
  default: p->skipped++; return OCI_OK;
  }
  /* in a changeset, a file of the upper tree named like a whiteout would
     be one in the layer (delete a lower file, or make its folder opaque)
     where the tree has it: refused (the changeset's own markers are
     add_marker's). A dir source may hold markers on purpose (a RUN step's
     converted overlay upper directory). */
  const char *base = strrchr(rel, '/');
  if (p->refuse_wh &&
      !strncmp(base ? base + 1 : rel, WH_PREFIX, sizeof WH_PREFIX - 1))
    return oci_error_set(err, OCI_EINVAL,
                         "layer: %s/%s: a file named like a whiteout (%s)",
                         root, rel, WH_PREFIX);
  char *full = join(root, rel);
  if (!full) return nomem(err);
  item *it = plan_add(p, strdup(rel), err);
  if (!it) {
    free(full);
    return err ? err->code : OCI_ENOMEM;
  }
  it->type = t;
  it->mode = st->st_mode & 07777;
  it->uid = st->st_uid;
  it->gid = st->st_gid;
  it->mtime = st->st_mtim.tv_sec; /* whole seconds: see layer.h */
  if (t == OCI_LAYER_CHAR || t == OCI_LAYER_BLOCK) {
    it->major = major(st->st_rdev);
    it->minor = minor(st->st_rdev);
  }
  if (p->rootless)
    it->uid = it->gid = 0; /* unless the xattr says */
  else {
    /* umoci's mapHeader: host ids back to the container's */
    uint32_t u, g;
    if (oci_map_id(p->uid_map, p->n_uid_map, false, st->st_uid, &u) ||
        oci_map_id(p->gid_map, p->n_gid_map, false, st->st_gid, &g)) {
      int bad_uid = oci_map_id(p->uid_map, p->n_uid_map, false, st->st_uid, &u);
      int rc =
          oci_error_set(err, OCI_EINVAL,
                        "layer: %s: host %s %u cannot be mapped to a "
                        "container id (%s_map)",
                        full, bad_uid ? "uid" : "gid",
                        bad_uid ? (unsigned)st->st_uid : (unsigned)st->st_gid,
                        bad_uid ? "uid" : "gid");
      free(full);
      return rc;
    }
    it->uid = u;
    it->gid = g;
  }
  int xrc = read_xattrs(p, it, full, err);
  if (xrc) {
    free(full);
    return xrc;
  }
  if (t == OCI_LAYER_FILE) {
    it->src = full;
    full = NULL;
    /* same inode twice in the tree: a tar hardlink (layer.md "Hardlinks") */
    it->linkable = st->st_nlink > 1;
    it->dev = st->st_dev;
    it->ino = st->st_ino;
  } else if (t == OCI_LAYER_SYMLINK) {
    /* stored, never followed */
    size_t cap = (size_t)st->st_size + 1;
    if (cap < 64) cap = 64;
    for (;;) {
      char *buf = malloc(cap);
      if (!buf) {
        free(full);
        return nomem(err);
      }
      ssize_t n = readlink(full, buf, cap);
      if (n < 0) {
        int e = errno;
        free(buf);
        int rc =
            oci_error_set(err, OCI_EIO, "layer: cannot read symlink %s: %s",
                          full, strerror(e));
        free(full);
        return rc;
      }
      if ((size_t)n < cap) {
        buf[n] = '\0';
        it->target = buf;
        break;
      }
      free(buf);
      cap *= 2;
    }
  }
  free(full);
  *out = it;
  return OCI_OK;
}

/* Everything below root/rel (rel itself excluded). */
static int walk(plan *p, const char *root, const char *rel, oci_error *err) {
  char *path = join(root, rel);
  if (!path) return nomem(err);
  dirlist d;
  int rc = list_dir(path, &d, err);
  free(path);
  for (size_t i = 0; !rc && i < d.len; i++) {
    char *child = join(rel, d.names[i]);
    if (!child) {
      rc = nomem(err);
      break;
    }
    item *it;
    rc = add_stat(p, root, child, &d.st[i], &it, err);
    if (!rc && it && it->type == OCI_LAYER_DIR) rc = walk(p, root, child, err);
    free(child);
  }
  dirlist_free(&d);
  return rc;
}

static int check_root(const char *what, const char *path, struct stat *st,
                      oci_error *err) {
  if (stat(path, st))
    return oci_error_set(err, OCI_EIO, "layer: %s %s: %s", what, path,
                         strerror(errno));
  if (!S_ISDIR(st->st_mode))
    return oci_error_set(err, OCI_EINVAL, "layer: %s %s is not a directory",
                         what, path);
  return OCI_OK;
}

/* ---- changeset between two directories ---------------------------------- */

/* A whiteout or opaque marker: an empty regular file (layer.md
   "Whiteouts"). Its mtime is the upper directory's, which changed when the
   entry went away; owner root, mode 0 (as Docker writes them). */
static int add_marker(plan *p, const char *dir, const char *base,
                      const struct stat *dir_st, int opaque, oci_error *err) {
  char *name;
  if (opaque)
    name = join(dir, WH_OPAQUE);
  else {
    size_t lb = strlen(base);
    char *wb = malloc(lb + sizeof WH_PREFIX);
    if (!wb) return nomem(err);
    memcpy(wb, WH_PREFIX, sizeof WH_PREFIX - 1);
    memcpy(wb + sizeof WH_PREFIX - 1, base, lb + 1);
    name = join(dir, wb);
    free(wb);
  }
  item *it = plan_add(p, name, err);
  if (!it) return err ? err->code : OCI_ENOMEM;
  it->type = OCI_LAYER_FILE;
  it->mtime = dir_st->st_mtim.tv_sec;
  it->opaque = opaque;
  return OCI_OK;
}

/* Whether a non-directory changed (type, permissions, owner, size, mtime to
   the nanosecond, device number). Content is not read: the same test as
   Docker's and containerd's changeset code. */
static int changed(const struct stat *a, const struct stat *b) {
  if ((a->st_mode & S_IFMT) != (b->st_mode & S_IFMT) ||
      (a->st_mode & 07777) != (b->st_mode & 07777) || a->st_uid != b->st_uid ||
      a->st_gid != b->st_gid)
    return 1;
  if (S_ISDIR(a->st_mode)) return 0; /* size and mtime say nothing */
  return a->st_size != b->st_size || a->st_rdev != b->st_rdev ||
         a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
         a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

static int symlink_differs(const char *lower, const char *upper,
                           const char *rel, int *out, oci_error *err) {
  char *a = join(lower, rel), *b = join(upper, rel);
  char ta[PATH_MAX], tb[PATH_MAX];
  int rc = OCI_OK;
  if (!a || !b)
    rc = nomem(err);
  else {
    ssize_t na = readlink(a, ta, sizeof ta), nb = readlink(b, tb, sizeof tb);
    if (na < 0 || nb < 0)
      rc = oci_error_set(err, OCI_EIO, "layer: cannot read symlink %s: %s",
                         na < 0 ? a : b, strerror(errno));
    else
      *out = na != nb || memcmp(ta, tb, (size_t)na) != 0;
  }
  free(a);
  free(b);
  return rc;
}

/* Whether rel's xattrs a layer carries differ between the two trees (a
   setcap or setfattr changes neither mtime nor size; Docker's changes.go
   compares security.capability for the same reason). With rootless, an
   owner recorded in user.rootlesscontainers counts as the owner. */
static int xattrs_differ(const plan *p, const char *lower, const char *upper,
                         const char *rel, int *out, oci_error *err) {
  char *a = join(lower, rel), *b = join(upper, rel);
  item x = {0}, y = {0};
  int rc = !a || !b ? nomem(err) : read_xattrs(p, &x, a, err);
  if (!rc) rc = read_xattrs(p, &y, b, err);
  if (!rc) {
    int d = x.n_xattrs != y.n_xattrs || x.uid != y.uid || x.gid != y.gid;
    for (size_t k = 0; !d && k < x.n_xattrs; k++)
      d = strcmp(x.xattrs[k].name, y.xattrs[k].name) ||
          x.xattrs[k].len != y.xattrs[k].len ||
          memcmp(x.xattrs[k].value, y.xattrs[k].value, x.xattrs[k].len);
    *out = d;
  }
  item_xattrs_free(&x);
  item_xattrs_free(&y);
  free(a);
  free(b);
  return rc;
}

/* The changes below rel, a directory in both trees; *n_changes counts the
   items added for it (so the caller knows the directory changed). */
static int diff_dir(plan *p, const char *lower, const char *upper,
                    const char *rel, const struct stat *lst,
                    const struct stat *ust, size_t *n_changes, oci_error *err) {
  size_t start = p->len;
  int self = 0; /* the directory's own entry is stored (at the end) */
  dirlist L, U;
  char *lp = join(lower, rel), *up = join(upper, rel);
  if (!lp || !up) {
    free(lp);
    free(up);
    return nomem(err);
  }
  int rc = list_dir(lp, &L, err);
  if (!rc && (rc = list_dir(up, &U, err))) dirlist_free(&L);
  free(lp);
  free(up);
  if (rc) return rc;

  /* layer.md "Opaque Whiteout": when none of the lower directory's entries
     is left, one marker says so instead of one whiteout per entry, and
     everything in the upper directory is added. */
  int opaque = L.len > 0;
  for (size_t i = 0, j = 0; opaque && i < L.len && j < U.len;) {
    int c = strcmp(L.names[i], U.names[j]);
    if (c == 0)
      opaque = 0;
    else if (c < 0)
      i++;
    else
      j++;
  }
  if (opaque) {
    rc = add_marker(p, rel, NULL, ust, 1, err);
    if (!rc) rc = walk(p, upper, rel, err);
    goto done;
  }

  size_t i = 0, j = 0;
  while (!rc && (i < L.len || j < U.len)) {
    int c = i == L.len ? 1 : j == U.len ? -1 : strcmp(L.names[i], U.names[j]);
    if (c < 0) { /* removed: layer.md "Whiteouts" */
      rc = add_marker(p, rel, L.names[i], ust, 0, err);
      i++;
      continue;
    }
    const char *name = U.names[j];
    const struct stat *us = &U.st[j];
    char *child = join(rel, name);
    if (!child) {
      rc = nomem(err);
      break;
    }
    item *it;
    if (c > 0) { /* added */
      rc = add_stat(p, upper, child, us, &it, err);
      if (!rc && it && it->type == OCI_LAYER_DIR)
        rc = walk(p, upper, child, err);
    } else {
      const struct stat *ls = &L.st[i];
      if (S_ISDIR(ls->st_mode) && S_ISDIR(us->st_mode)) {
        size_t n = 0;
        rc = diff_dir(p, lower, upper, child, ls, us, &n, err);
      } else {
        int diff = changed(ls, us);
        if (!rc && !diff && S_ISLNK(us->st_mode))
          rc = symlink_differs(lower, upper, child, &diff, err);
        if (!rc && !diff)
          rc = xattrs_differ(p, lower, upper, child, &diff, err);
        /* a modified entry is stored whole (layer.md "Modifications"); a
           directory that replaced a file comes with all it holds */
        if (!rc && diff) {
          rc = add_stat(p, upper, child, us, &it, err);
          if (!rc && it && it->type == OCI_LAYER_DIR)
            rc = walk(p, upper, child, err);
        }
      }
      i++;
    }
    free(child);
    j++;
  }

done:
  /* The directory itself: when its own metadata changed, or anything
     inside it did (so extraction restores its mode and mtime, as Docker's
     changesets do). The root has no entry. */
  if (!rc && *rel) {
    self = p->len > start || changed(lst, ust);
    if (!self) rc = xattrs_differ(p, lower, upper, rel, &self, err);
  }
  if (!rc && self) {
    item *it;
    rc = add_stat(p, upper, rel, ust, &it, err);
  }
  dirlist_free(&L);
  dirlist_free(&U);
  *n_changes = p->len - start;
  return rc;
}

/* ---- from entries ------------------------------------------------------- */

/* Entry paths: relative, "." and empty components dropped, ".." refused
   (nothing may land outside the layer root). */
int layer_norm_path(const char *in, const char *shown, const char *what,
                    char **out, oci_error *err) {
  *out = NULL;
  if (!in || !*in)
    return oci_error_set(err, OCI_EINVAL, "%s: %s is empty", shown, what);
  if (in[0] == '/')
    return oci_error_set(err, OCI_EINVAL,
                         "%s \"%.128s\": %s is absolute (entries "
                         "are relative to the layer root)",
                         shown, in, what);
  size_t n = strlen(in);
  char *s = malloc(n + 1);
  if (!s) return nomem(err);
  size_t k = 0;
  for (const char *c = in; *c;) {
    const char *e = strchr(c, '/');
    size_t len = e ? (size_t)(e - c) : strlen(c);
    if (len == 2 && c[0] == '.' && c[1] == '.') {
      free(s);
      return oci_error_set(err, OCI_EINVAL,
                           "%s \"%.128s\": %s escapes the layer "
                           "root (\"..\")",
                           shown, in, what);
    }
    if (len && !(len == 1 && c[0] == '.')) {
      if (k) s[k++] = '/';
      memcpy(s + k, c, len);
      k += len;
    }
    c += len;
    if (*c) c++;
  }
  s[k] = '\0';
  if (!k) {
    free(s);
    return oci_error_set(err, OCI_EINVAL,
                         "%s \"%.128s\": %s names the layer root", shown, in,
                         what);
  }
  *out = s;
  return OCI_OK;
}

static int norm_path(const char *in, size_t idx, const char *what, char **out,
                     oci_error *err) {
  char shown[48];
  snprintf(shown, sizeof shown, "layer entry #%zu", idx + 1);
  return layer_norm_path(in, shown, what, out, err);
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(((const item *)a)->name, ((const item *)b)->name);
}

static item *find_name(plan *p, const char *name) {
  item key;
  key.name = (char *)name;
  return bsearch(&key, p->v, p->len, sizeof *p->v, cmp_name);
}

static int from_entries(plan *p, const oci_layer_entry *e, size_t n,
                        oci_error *err) {
  for (size_t i = 0; i < n; i++) {
    const oci_layer_entry *x = &e[i];
    char *name;
    int rc = norm_path(x->path, i, "path", &name, err);
    if (rc) return rc;
    const char *tn = oci_layer_type_name(x->type);
    if (!tn) {
      rc = oci_error_set(err, OCI_EINVAL,
                         "layer entry \"%.128s\": unknown type "
                         "%d",
                         name, (int)x->type);
      free(name);
      return rc;
    }
    item *it = plan_add(p, name, err);
    if (!it) return err ? err->code : OCI_ENOMEM;
    it->type = x->type;
    it->pos = i; /* entry index until sorted */
    if (x->mode < -1 || x->mode > 07777)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%.128s\": mode %o is not permission "
                           "bits (0 to 07777)",
                           name, (unsigned)x->mode);
    if (x->uid < -1 || x->uid > UINT32_MAX || x->gid < -1 ||
        x->gid > UINT32_MAX)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%.128s\": uid/gid out of range (0 to "
                           "4294967295)",
                           name);
    it->mode = x->mode >= 0                   ? (uint32_t)x->mode
               : x->type == OCI_LAYER_DIR     ? 0755
               : x->type == OCI_LAYER_SYMLINK ? 0777
                                              : 0644;
    it->uid = x->uid < 0 ? 0 : x->uid;
    it->gid = x->gid < 0 ? 0 : x->gid;
    it->mtime = x->has_mtime ? x->mtime : 0;
    switch (x->type) {
    case OCI_LAYER_FILE:
      if (x->source && x->content)
        return oci_error_set(err, OCI_EINVAL,
                             "layer entry \"%.128s\": give source or content, "
                             "not both",
                             name);
      if (x->source && !(it->src = strdup(x->source))) return nomem(err);
      it->content = x->content;
      it->content_len = x->content ? x->content_len : 0;
      it->mtime_from_src = x->source && !x->has_mtime;
      it->linkable = 1;
      break;
    case OCI_LAYER_SYMLINK:
    case OCI_LAYER_HARDLINK:
      if (!x->target || !*x->target)
        return oci_error_set(err, OCI_EINVAL,
                             "layer entry \"%.128s\": a %s needs a target",
                             name, tn);
      if (x->type == OCI_LAYER_SYMLINK) {
        if (!(it->target = strdup(x->target))) return nomem(err);
      } else if ((rc = norm_path(x->target, i, "hardlink target", &it->target,
                                 err)))
        return rc;
      break;
    case OCI_LAYER_CHAR:
    case OCI_LAYER_BLOCK:
      it->major = x->major;
      it->minor = x->minor;
      break;
    default: break;
    }
    if (x->type != OCI_LAYER_FILE && (x->source || x->content))
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%.128s\": a %s has no content "
                           "(source/content are for files)",
                           name, tn);
  }

  /* one entry per path (a tar with two would extract differently by tool) */
  if (p->len) qsort(p->v, p->len, sizeof *p->v, cmp_name);
  for (size_t i = 1; i < p->len; i++)
    if (!strcmp(p->v[i - 1].name, p->v[i].name))
      return oci_error_set(
          err, OCI_EINVAL,
          "layer entry \"%.128s\": duplicate path (entries "
          "#%zu and #%zu)",
          p->v[i].name,
          (p->v[i - 1].pos < p->v[i].pos ? p->v[i - 1].pos : p->v[i].pos) + 1,
          (p->v[i - 1].pos < p->v[i].pos ? p->v[i].pos : p->v[i - 1].pos) + 1);

  /* Hardlinks: follow each to the file holding the content; every member
     of a group gets that file's content and metadata, and the member first
     in tar order will carry it (see link_groups), so a link never comes
     before its target whatever the names. */
  for (size_t i = 0; i < p->len; i++) {
    item *it = &p->v[i];
    if (it->type != OCI_LAYER_HARDLINK) continue;
    item *t = it;
    for (size_t hops = 0; t->type == OCI_LAYER_HARDLINK; hops++) {
      item *next = find_name(p, t->target);
      if (!next)
        return oci_error_set(err, OCI_EINVAL,
                             "layer entry \"%.128s\": hardlink target "
                             "\"%.64s\" is not among the entries",
                             it->name, t->target);
      if (hops > p->len)
        return oci_error_set(err, OCI_EINVAL,
                             "layer entry \"%.128s\": hardlinks form a loop",
                             it->name);
      t = next;
    }
    if (t->type != OCI_LAYER_FILE)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%.128s\": hardlink target \"%.64s\" "
                           "is a %s, not a file",
                           it->name, t->name, oci_layer_type_name(t->type));
    free(it->target);
    it->target = NULL;
    if (t->src && !(it->src = strdup(t->src))) return nomem(err);
    it->type = OCI_LAYER_FILE;
    it->content = t->content;
    it->content_len = t->content_len;
    it->mode = t->mode;
    it->uid = t->uid;
    it->gid = t->gid;
    it->mtime = t->mtime;
    it->mtime_from_src = t->mtime_from_src;
    it->linkable = 1;
    it->dev = 1;
    it->ino = t->dev ? t->ino : (uint64_t)(t - p->v) + 1;
  }
  for (size_t i = 0; i < p->len; i++)
    if (p->v[i].type == OCI_LAYER_FILE && p->v[i].linkable && !p->v[i].dev) {
      p->v[i].dev = 1;
      p->v[i].ino = i + 1;
    }
  return OCI_OK;
}

/* ---- ordering ----------------------------------------------------------- */

static int make_keys(plan *p, oci_error *err) {
  for (size_t i = 0; i < p->len; i++) {
    item *it = &p->v[i];
    if (it->type == OCI_LAYER_DIR) {
      size_t n = strlen(it->name);
      if ((it->key = malloc(n + 2))) {
        memcpy(it->key, it->name, n);
        memcpy(it->key + n, "/", 2);
      }
    } else if (it->opaque) {
      /* key "dir/": right after its directory, before the directory's
         other entries, so a streaming extractor that clears the directory
         when it meets the marker never drops this layer's own entries */
      size_t n = strlen(it->name) - (sizeof WH_OPAQUE - 1);
      it->key = malloc(n + 1);
      if (it->key) {
        memcpy(it->key, it->name, n);
        it->key[n] = '\0';
      }
    } else
      it->key = strdup(it->name);
    if (!it->key) return nomem(err);
  }
  return OCI_OK;
}

static int cmp_key(const void *a, const void *b) {
  const item *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : x->opaque - y->opaque;
}

static int cmp_link(const void *a, const void *b) {
  const item *x = *(item *const *)a, *y = *(item *const *)b;
  if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
  if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Files sharing (dev, ino): the first in tar order stays a file, the others
   become hardlinks to it. */
static int link_groups(plan *p, oci_error *err) {
  size_t n = 0;
  for (size_t i = 0; i < p->len; i++) {
    p->v[i].pos = i;
    n += p->v[i].linkable;
  }
  if (n < 2) return OCI_OK;
  item **v = malloc(n * sizeof *v);
  if (!v) return nomem(err);
  n = 0;
  for (size_t i = 0; i < p->len; i++)
    if (p->v[i].linkable) v[n++] = &p->v[i];
  qsort(v, n, sizeof *v, cmp_link);
  int rc = OCI_OK;
  item *head = v[0];
  for (size_t i = 1; i < n && !rc; i++) {
    if (head->dev != v[i]->dev || head->ino != v[i]->ino) {
      head = v[i];
      continue;
    }
    v[i]->type = OCI_LAYER_HARDLINK;
    free(v[i]->target);
    if (!(v[i]->target = strdup(head->name))) rc = nomem(err);
  }
  free(v);
  return rc;
}

/* ---- writing ------------------------------------------------------------ */

typedef layer_sink sink;

static int sink_fail(sink *s, int rc) {
  if (!s->failed) {
    s->failed = 1;
    s->rc = rc;
  }
  return -1;
}

/* The tar stream: hashed (diff_id), then compressed on the pipe's threads,
   or written as it is. */
static la_ssize_t tar_out(struct archive *a, void *ud, const void *buf,
                          size_t len) {
  (void)a;
  sink *s = ud;
  if (s->failed) return -1;
  if (oci_hasher_update(s->tar_hash, buf, len, s->err))
    return sink_fail(s, s->err ? s->err->code : OCI_ENOMEM);
  if (s->pipe) {
    int rc = oci_layer_pipe_write(s->pipe, buf, len, s->err);
    return rc ? sink_fail(s, rc) : (la_ssize_t)len;
  }
  const char *c = buf;
  size_t left = len;
  while (left) {
    ssize_t w = write(s->fd, c, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      return sink_fail(
          s, oci_error_set(s->err, OCI_EIO, "layer: cannot write the blob: %s",
                           w < 0 ? strerror(errno) : "nothing written"));
    c += w;
    left -= (size_t)w;
  }
  return (la_ssize_t)len;
}

/* The error of a failed libarchive call: ours when a callback failed. */
int layer_archive_fail(sink *s, struct archive *a, const char *what,
                       const char *name) {
  if (s->failed) return s->rc;
  return oci_error_set(
      s->err, OCI_EIO, "layer entry \"%.128s\": %s: %s", name ? name : "", what,
      archive_error_string(a) ? archive_error_string(a) : "libarchive failed");
}

/* The data regions of fd (size bytes), as (offset, length) pairs, when
   the file has holes (fewer blocks than its size needs; SEEK_DATA and
   SEEK_HOLE find them); none for a dense file or a file system that
   cannot tell. A file ending in a hole ends with an empty region at its
   size, so readers know the full length. */
static int sparse_map(int fd, uint64_t size, off_t **out, size_t *n,
                      const item *it, oci_error *err) {
  *out = NULL;
  *n = 0;
  struct stat st;
  if (size == 0 || fstat(fd, &st) || (uint64_t)st.st_blocks * 512 >= size)
    return OCI_OK;
  size_t cap = 0;
  off_t *v = NULL, pos = 0, end = (off_t)size;
  int rc = OCI_OK;
  while (pos < end) {
    off_t data = lseek(fd, pos, SEEK_DATA);
    if (data < 0 && errno == ENXIO) data = end; /* a hole to the end */
    if (data < 0) goto dense;                   /* cannot tell */
    if (data >= end) data = end;
    off_t hole = data < end ? lseek(fd, data, SEEK_HOLE) : end;
    if (hole < 0) goto dense;
    if (hole > end) hole = end;
    if (hole > data || data == end) {
      if (*n == cap) {
        cap = cap ? cap * 2 : 16;
        off_t *g = realloc(v, cap * 2 * sizeof *v);
        if (!g) {
          rc = nomem(err);
          goto dense;
        }
        v = g;
      }
      v[2 * *n] = data;
      v[2 * *n + 1] = hole - data;
      (*n)++;
    }
    if (data == end) break;
    pos = hole;
  }
  if (lseek(fd, 0, SEEK_SET) != 0) {
    rc = oci_error_set(err, OCI_EIO,
                       "layer entry \"%.128s\": cannot read %s: %s", it->name,
                       it->src, strerror(errno));
    goto dense;
  }
  *out = v;
  return OCI_OK;
dense:
  free(v);
  *n = 0;
  if (!rc && lseek(fd, 0, SEEK_SET) != 0)
    rc = oci_error_set(err, OCI_EIO,
                       "layer entry \"%.128s\": cannot read %s: %s", it->name,
                       it->src, strerror(errno));
  return rc;
}

void layer_set_header(struct archive_entry *e, const layer_header *h,
                      const oci_layer_options *o) {
  int64_t mtime = h->mtime;
  if (o->clamp_mtime && mtime > o->mtime) mtime = o->mtime;
  archive_entry_clear(e);
  /* the tar writers end a directory's name with "/" themselves */
  archive_entry_copy_pathname(e, h->name);
  static const unsigned ft[] = {AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFREG,
                                AE_IFCHR, AE_IFBLK, AE_IFIFO};
  archive_entry_set_filetype(e, ft[h->type]);
  archive_entry_set_perm(e, h->mode);
  archive_entry_set_uid(e, o->uid >= 0 ? o->uid : h->uid);
  archive_entry_set_gid(e, o->gid >= 0 ? o->gid : h->gid);
  if (h->uname && *h->uname) archive_entry_copy_uname(e, h->uname);
  if (h->gname && *h->gname) archive_entry_copy_gname(e, h->gname);
  /* mtime only, whole seconds: no atime, ctime or birthtime is ever set,
     so the pax writer has none to record */
  archive_entry_set_mtime(e, (time_t)mtime, 0);
  archive_entry_set_size(e, (la_int64_t)h->size);
  if (h->type == OCI_LAYER_SYMLINK) archive_entry_copy_symlink(e, h->target);
  if (h->type == OCI_LAYER_HARDLINK) {
    archive_entry_copy_hardlink(e, h->target);
    archive_entry_set_size(e, 0);
  }
  if (h->type == OCI_LAYER_CHAR || h->type == OCI_LAYER_BLOCK) {
    archive_entry_set_rdevmajor(e, h->major);
    archive_entry_set_rdevminor(e, h->minor);
  }
  /* PAX SCHILY.xattr.NAME records; not on a hard link (the target's
     inode has them). libarchive lists the last added first. */
  for (size_t k = h->n_xattrs; h->type != OCI_LAYER_HARDLINK && k-- > 0;)
    archive_entry_xattr_add_entry(e, h->xattrs[k].name, h->xattrs[k].value,
                                  h->xattrs[k].len);
}

static int write_item(sink *s, struct archive *t, struct archive_entry *e,
                      const item *it, const oci_layer_options *o, char *buf,
                      size_t *n_written, oci_error *err) {
  int fd = -1, rc = OCI_OK;
  uint64_t size = 0;
  int64_t mtime = it->mtime;
  if (it->type == OCI_LAYER_FILE && it->src) {
    /* rootless: the tree is the caller's own, a file of it mode 0000
       (Fedora's /etc/shadow) read by lending the owner's read bit */
    fd = o->version >= 2 && o->rootless
             ? owner_read_open(AT_FDCWD, it->src,
                               O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
             : open(it->src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st))
      rc = oci_error_set(err, OCI_EIO,
                         "layer entry \"%.128s\": cannot read %s: %s", it->name,
                         it->src, strerror(errno));
    else if (!S_ISREG(st.st_mode))
      rc = oci_error_set(err, OCI_EINVAL,
                         "layer entry \"%.128s\": source %s is not a regular "
                         "file",
                         it->name, it->src);
    if (rc) {
      if (fd >= 0) close(fd);
      return rc;
    }
    size = (uint64_t)st.st_size;
    if (it->mtime_from_src) mtime = st.st_mtim.tv_sec;
#ifdef POSIX_FADV_SEQUENTIAL
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  } else if (it->type == OCI_LAYER_FILE)
    size = it->content_len;
  /* a file with holes: its data regions, stored sparse */
  off_t *regions = NULL;
  size_t n_regions = 0;
  if (fd >= 0 && (rc = sparse_map(fd, size, &regions, &n_regions, it, err))) {
    close(fd);
    return rc;
  }

  layer_header h = {it->name,  it->type,  it->mode,   it->uid,     it->gid,
                    mtime,     NULL,      NULL,       size,        it->target,
                    it->major, it->minor, it->xattrs, it->n_xattrs};
  layer_set_header(e, &h, o);
  /* libarchive writes a sparse entry in the PAX GNU sparse 1.0 format (as
     GNU tar --sparse --posix) and drops the bytes it is given for the
     holes (read as zeros below) */
  for (size_t k = 0; k < n_regions; k++)
    archive_entry_sparse_add_entry(e, regions[2 * k], regions[2 * k + 1]);
  free(regions);
  if (archive_write_header(t, e) < ARCHIVE_WARN) {
    rc = layer_archive_fail(s, t, "cannot write the tar header", it->name);
    goto out;
  }
  (*n_written)++;
  if (it->type != OCI_LAYER_FILE) goto out;
  if (!it->src) {
    if (size && archive_write_data(t, it->content, size) != (la_ssize_t)size)
      rc = layer_archive_fail(s, t, "cannot write the content", it->name);
    goto out;
  }
  uint64_t left = size;
  while (left) {
    size_t want = left < READ_BLOCK ? (size_t)left : READ_BLOCK;
    ssize_t r = read(fd, buf, want);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = oci_error_set(err, OCI_EIO,
                         "layer entry \"%.128s\": cannot read %s: %s", it->name,
                         it->src, strerror(errno));
      goto out;
    }
    if (r == 0) {
      /* the header already promised size bytes */
      rc = oci_error_set(err, OCI_EIO,
                         "layer entry \"%.128s\": %s shrank while being read "
                         "(%" PRIu64 " of %" PRIu64 " bytes)",
                         it->name, it->src, size - left, size);
      goto out;
    }
    if (archive_write_data(t, buf, (size_t)r) != r) {
      rc = layer_archive_fail(s, t, "cannot write the content", it->name);
      goto out;
    }
    left -= (uint64_t)r;
  }
out:
  if (fd >= 0) close(fd);
  return rc;
}

int layer_check_options(const oci_layer_options *o, oci_error *err) {
  int vrc = oci_options_check(err, "oci_layer_options", o->version,
                              OCI_LAYER_OPTIONS_VERSION);
  if (vrc) return vrc;
  if (!oci_layer_media_type(o->compression))
    return oci_error_set(err, OCI_EINVAL, "unknown layer compression %d",
                         (int)o->compression);
  int max = o->compression == OCI_LAYER_GZIP   ? 9
            : o->compression == OCI_LAYER_ZSTD ? 19
                                               : 0;
  if (o->level && (o->level < 1 || o->level > max))
    return max ? oci_error_set(
                     err, OCI_EINVAL,
                     "layer compression level %d is out of range "
                     "for %s (1 to %d)",
                     o->level,
                     o->compression == OCI_LAYER_GZIP ? "gzip" : "zstd", max)
               : oci_error_set(err, OCI_EINVAL,
                               "layer compression level %d given without "
                               "compression",
                               o->level);
  if (o->uid < -1 || o->uid > UINT32_MAX || o->gid < -1 || o->gid > UINT32_MAX)
    return oci_error_set(err, OCI_EINVAL,
                         "layer owner override uid %" PRId64 " gid %" PRId64
                         " out of range (0 to 4294967295)",
                         o->uid, o->gid);
  if (o->version == 3 && (o->threads < 0 || o->threads > OCI_LAYER_THREADS_MAX))
    return oci_error_set(err, OCI_EINVAL,
                         "layer compression threads %d out of range (0 to %d; "
                         "auto needs oci_layer_options version 4)",
                         o->threads, OCI_LAYER_THREADS_MAX);
  if (o->version >= 4 && o->threads != OCI_LAYER_THREADS_AUTO &&
      (o->threads < 0 || o->threads > OCI_LAYER_THREADS_MAX))
    return oci_error_set(err, OCI_EINVAL,
                         "layer compression threads %d out of range (0 to %d, "
                         "or OCI_LAYER_THREADS_AUTO)",
                         o->threads, OCI_LAYER_THREADS_MAX);
  return OCI_OK;
}

static int make_plan(const oci_layer_source *src, plan *p, oci_error *err) {
  int n = (src->dir != NULL) + (src->entries != NULL) +
          (src->lower != NULL || src->upper != NULL);
  if (n != 1)
    return oci_error_set(err, OCI_EINVAL,
                         "layer: give exactly one of dir, entries, or lower "
                         "and upper (got %d)",
                         n);
  struct stat ls, us;
  int rc;
  if (src->dir) {
    if ((rc = check_root("directory", src->dir, &us, err))) return rc;
    return walk(p, src->dir, "", err);
  }
  if (src->entries) return from_entries(p, src->entries, src->n_entries, err);
  if (!src->lower || !src->upper)
    return oci_error_set(err, OCI_EINVAL,
                         "layer: a changeset needs both lower and upper");
  if ((rc = check_root("lower directory", src->lower, &ls, err)) ||
      (rc = check_root("upper directory", src->upper, &us, err)))
    return rc;
  size_t changes;
  p->refuse_wh = 1;
  return diff_dir(p, src->lower, src->upper, "", &ls, &us, &changes, err);
}

int layer_writer_open(sink *s, const oci_layer_options *o, int fd,
                      struct archive_entry *e, oci_error *err) {
  s->fd = fd;
  s->err = err;
  int rc;
  (void)e;
  if ((rc = oci_hasher_new(OCI_DIGEST_SHA256, &s->tar_hash, err))) return rc;
  if (!(s->t = archive_write_new())) return nomem(err);
  /* the compression stage on its own thread(s) (layer_pipe.h) */
  if (o->compression != OCI_LAYER_NONE &&
      (rc = oci_layer_pipe_start(o, layer_threads(o), fd, &s->pipe, err)))
    return rc;
  struct archive *t = s->t;
  /* pax restricted: plain ustar headers unless a name, size or id does not
     fit; unblocked, so no padding after the end-of-archive blocks (as Go's
     archive/tar, which Docker, BuildKit and umoci use) */
  if (archive_write_set_format_pax_restricted(t) != ARCHIVE_OK ||
      /* xattrs as GNU tar, Go's archive/tar and umoci write them, not also
         as LIBARCHIVE.xattr records */
      archive_write_set_format_option(t, "pax", "xattrheader", "SCHILY") !=
          ARCHIVE_OK ||
      archive_write_add_filter_none(t) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(t, 0) != ARCHIVE_OK ||
      archive_write_open(t, s, NULL, tar_out, NULL) != ARCHIVE_OK)
    return layer_archive_fail(s, t, "cannot start the tar stream", "");
  return OCI_OK;
}

int layer_writer_finish(sink *s, const oci_layer_options *o,
                        oci_layer_result *res, oci_error *err) {
  int rc;
  if (archive_write_close(s->t) != ARCHIVE_OK)
    return layer_archive_fail(s, s->t, "cannot finish the tar stream", "");
  res->uncompressed_size = oci_hasher_size(s->tar_hash);
  res->size = res->uncompressed_size;
  if ((rc = oci_hasher_finish(s->tar_hash, res->diff_id, err))) return rc;
  if (s->pipe) {
    if ((rc = oci_layer_pipe_finish(s->pipe, res->digest, &res->size, err)))
      return rc;
  } else
    memcpy(res->digest, res->diff_id, sizeof res->digest);
  res->media_type = oci_layer_media_type(o->compression);
  return OCI_OK;
}

void layer_writer_free(sink *s, int failed) {
  /* after a failure nothing more may reach the fd */
  if (failed) s->failed = 1;
  if (s->t) archive_write_free(s->t);
  oci_layer_pipe_free(s->pipe); /* joins its threads */
  oci_hasher_free(s->tar_hash);
  s->t = NULL;
  s->pipe = NULL;
  s->tar_hash = NULL;
}

int oci_layer_build(const oci_layer_source *src, const oci_layer_options *opts,
                    int fd, oci_layer_result *res, oci_error *err) {
  oci_error_reset(err);
  oci_layer_options defaults;
  if (!opts) {
    oci_layer_options_init(&defaults);
    opts = &defaults;
  }
  memset(res, 0, sizeof *res);
  int rc = layer_check_options(opts, err);
  if (rc) return rc;
  plan p = {0};
  if (opts->version >= 2) {
    p.rootless = opts->rootless;
    p.uid_map = opts->uid_map;
    p.n_uid_map = opts->uid_map ? opts->n_uid_map : 0;
    p.gid_map = opts->gid_map;
    p.n_gid_map = opts->gid_map ? opts->n_gid_map : 0;
  }
  sink s = {0};
  struct archive_entry *e = NULL;
  char *buf = NULL;
  if ((rc = make_plan(src, &p, err)) || (rc = make_keys(&p, err))) goto out;
  if (p.len) qsort(p.v, p.len, sizeof *p.v, cmp_key);
  if ((rc = link_groups(&p, err))) goto out;

  buf = malloc(READ_BLOCK);
  e = archive_entry_new();
  if (!buf || !e) {
    rc = nomem(err);
    goto out;
  }
  if ((rc = layer_writer_open(&s, opts, fd, e, err))) goto out;
  for (size_t i = 0; i < p.len; i++)
    if ((rc = write_item(&s, s.t, e, &p.v[i], opts, buf, &res->entries, err)))
      goto out;
  if ((rc = layer_writer_finish(&s, opts, res, err))) goto out;
  res->skipped = p.skipped;

out:
  layer_writer_free(&s, rc != OCI_OK);
  archive_entry_free(e);
  free(buf);
  plan_free(&p);
  if (rc) {
    oci_layer_result keep = *res;
    memset(res, 0, sizeof *res);
    res->entries = keep.entries;
  }
  return rc;
}

int layer_write_atomic(const char *path,
                       int (*fn)(void *ctx, int fd, oci_error *err), void *ctx,
                       oci_error *err) {
  if (!path || !*path)
    return oci_error_set(err, OCI_EINVAL, "layer: no output path");
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16);
  if (!tmp) return nomem(err);
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp.XXXXXX", 12);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    int rc = oci_error_set(err, OCI_EIO,
                           "layer: cannot create a file beside "
                           "%s: %s",
                           path, strerror(errno));
    free(tmp);
    return rc;
  }
  int rc = fn(ctx, fd, err);
  if (!rc && fchmod(fd, 0644))
    rc = oci_error_set(err, OCI_EIO, "layer: cannot chmod %s: %s", tmp,
                       strerror(errno));
  if (close(fd) && !rc)
    rc = oci_error_set(err, OCI_EIO, "layer: cannot write %s: %s", tmp,
                       strerror(errno));
  if (!rc && rename(tmp, path))
    rc = oci_error_set(err, OCI_EIO, "layer: cannot rename %s to %s: %s", tmp,
                       path, strerror(errno));
  if (rc) unlink(tmp);
  free(tmp);
  return rc;
}

typedef struct build_ctx {
  const oci_layer_source *src;
  const oci_layer_options *opts;
  oci_layer_result *res;
} build_ctx;

static int build_into(void *ctx, int fd, oci_error *err) {
  build_ctx *b = ctx;
  return oci_layer_build(b->src, b->opts, fd, b->res, err);
}

int oci_layer_build_file(const oci_layer_source *src,
                         const oci_layer_options *opts, const char *path,
                         oci_layer_result *res, oci_error *err) {
  oci_error_reset(err);
  memset(res, 0, sizeof *res);
  if (!path || !*path)
    return oci_error_set(err, OCI_EINVAL, "layer: no output path");
  if (opts) { /* before the temporary file is made */
    int vrc = layer_check_options(opts, err);
    if (vrc) return vrc;
  }
  build_ctx b = {src, opts, res};
  int rc = layer_write_atomic(path, build_into, &b, err);
  if (rc) memset(res, 0, sizeof *res);
  return rc;
}
