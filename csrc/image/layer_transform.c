#define _GNU_SOURCE /* O_TMPFILE */
/* Transforming a layer blob in one pass (see ocispec/layer.h).

   libarchive reads the input (gzip, zstd or none, detected), hashing the
   raw bytes as they come for the caller's expected digest; each tar entry
   is shown to the callback as an oci_layer_tentry, then written, as the
   callback left it, by the layer builder's writer (layer_internal.h: tar
   -> diff_id -> compressor -> digest -> fd) with the builder's header
   conventions. Content is streamed from the input entry to the output
   entry in blocks; only oci_layer_transform_read loads one whole.

   Two maps keep the output sane: input path -> output path (NULL when the
   callback dropped it), so a hard link follows a renamed target or is
   refused when its target was dropped; and output path -> whether the
   callback made it (renamed or added) and its type, so a callback cannot
   create two entries of one path and a hard link it sets names an entry
   already written (tar hard links point backwards). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "layer_internal.h"
#include "ocispec/digest.h"
#include "ocispec/unpack.h"
#include "unpack_internal.h"
#include "xattr_internal.h"

#define BLOCK (256 * 1024)
#define DEFAULT_MAX_READ (UINT64_C(64) << 20)

/* ---- a string map (open addressing) -------------------------------------- */

typedef struct sm_slot {
  char *key;
  char *val; /* input map: output path, NULL when dropped */
  int flags; /* output map: SM_MADE | type << 1 */
} sm_slot;

typedef struct smap {
  sm_slot *v;
  size_t cap, len;
} smap;

#define SM_MADE 1

static uint64_t sm_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static sm_slot *sm_find(const smap *m, const char *key) {
  if (!m->cap) return NULL;
  for (size_t j = sm_hash(key) & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
    if (!m->v[j].key) return NULL;
    if (!strcmp(m->v[j].key, key)) return &m->v[j];
  }
}

/* Sets key (copied) to val (copied, may be NULL) and flags. */
static int sm_put(smap *m, const char *key, const char *val, int flags) {
  if ((m->len + 1) * 2 > m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 256;
    sm_slot *g = calloc(cap, sizeof *g);
    if (!g) return OCI_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
      if (!m->v[i].key) continue;
      size_t j = sm_hash(m->v[i].key) & (cap - 1);
      while (g[j].key)
        j = (j + 1) & (cap - 1);
      g[j] = m->v[i];
    }
    free(m->v);
    m->v = g;
    m->cap = cap;
  }
  char *v = NULL;
  if (val && !(v = strdup(val))) return OCI_ENOMEM;
  sm_slot *s = sm_find(m, key);
  if (s) {
    free(s->val);
    s->val = v;
    s->flags = flags;
    return OCI_OK;
  }
  size_t j = sm_hash(key) & (m->cap - 1);
  while (m->v[j].key)
    j = (j + 1) & (m->cap - 1);
  if (!(m->v[j].key = strdup(key))) {
    free(v);
    return OCI_ENOMEM;
  }
  m->v[j].val = v;
  m->v[j].flags = flags;
  m->len++;
  return OCI_OK;
}

static void sm_free(smap *m) {
  for (size_t i = 0; i < m->cap; i++) {
    free(m->v[i].key);
    free(m->v[i].val);
  }
  free(m->v);
  memset(m, 0, sizeof *m);
}

/* ---- the transform ------------------------------------------------------- */

typedef struct rin {
  int fd;
  unsigned char *buf;
  oci_hasher *h; /* NULL: not checked */
  uint64_t bytes;
  bool hash_failed;
} rin;

struct oci_layer_transform {
  const oci_layer_transform_options *o;
  oci_layer_options lo; /* the writer's */
  layer_sink s;
  struct archive *in;
  struct archive_entry *ie; /* the current input entry */
  struct archive_entry *oe; /* scratch for the output */
  rin r;
  smap inmap, outmap;
  bool in_cb;      /* a callback is running (read and add allowed) */
  bool is_file;    /* the current input entry is a regular file */
  const char *cur; /* its cleaned path */
  bool have_buf;
  char *buf; /* the current entry's content, when read */
  size_t buflen;
  unsigned char *block;
  size_t written;
};

void oci_layer_transform_options_init(oci_layer_transform_options *o) {
  *o = (oci_layer_transform_options)OCI_LAYER_TRANSFORM_OPTIONS_INIT;
}

static int nomem(oci_error *err) {
  return oci_error_set(err, OCI_ENOMEM, "out of memory");
}

static la_ssize_t read_cb(struct archive *a, void *ctx, const void **out) {
  rin *s = ctx;
  ssize_t n;
  do
    n = read(s->fd, s->buf, BLOCK);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    archive_set_error(a, errno, "read failed");
    return -1;
  }
  if (n > 0 && s->h &&
      oci_hasher_update(s->h, s->buf, (size_t)n, NULL) != OCI_OK)
    s->hash_failed = true;
  s->bytes += (uint64_t)n;
  *out = s->buf;
  return n;
}

static int in_fail(struct archive *a, const char *what, const char *name,
                   oci_error *err) {
  const char *m = archive_error_string(a);
  int e = archive_errno(a);
  return oci_error_set(err, e == ENOMEM ? OCI_ENOMEM : OCI_EINVAL,
                       "layer.transform: %s%s%.128s%s%s%s", what,
                       name ? " \"" : "", name ? name : "", name ? "\"" : "",
                       m ? ": " : "", m ? m : "");
}

/* The error of a failed output libarchive call. */
static int out_fail(oci_layer_transform *t, const char *what,
                    const char *name) {
  return layer_archive_fail(&t->s, t->s.t, what, name);
}

static int cmp_xattr(const void *a, const void *b) {
  return strcmp(((const oci_layer_xattr *)a)->name,
                ((const oci_layer_xattr *)b)->name);
}

/* Checks the xattrs of an entry and gives them sorted by name (*out
   malloc'd, pointing at the caller's strings). */
static int sorted_xattrs(const oci_layer_tentry *e, const char *name,
                         oci_layer_xattr **out, oci_error *err) {
  *out = NULL;
  if (!e->n_xattrs) return OCI_OK;
  if (!e->xattrs)
    return oci_error_set(err, OCI_EINVAL,
                         "layer.transform: entry \"%.128s\": n_xattrs without "
                         "xattrs",
                         name);
  size_t total = 0;
  for (size_t i = 0; i < e->n_xattrs; i++) {
    const oci_layer_xattr *x = &e->xattrs[i];
    size_t nl = x->name ? strlen(x->name) : 0;
    if (!nl || nl > OCI_XATTR_NAME_MAX)
      return oci_error_set(err, OCI_EINVAL,
                           "layer.transform: entry \"%.128s\": xattr name "
                           "\"%.64s\" must be 1 to %d bytes",
                           name, x->name ? x->name : "", OCI_XATTR_NAME_MAX);
    if (x->len > OCI_XATTR_VALUE_MAX || (x->len && !x->value))
      return oci_error_set(err, OCI_EINVAL,
                           "layer.transform: entry \"%.128s\": xattr %.64s: "
                           "value of %zu bytes (at most %d)",
                           name, x->name, x->len, OCI_XATTR_VALUE_MAX);
    total += nl + x->len;
  }
  if (total > OCI_XATTR_ENTRY_MAX)
    return oci_error_set(err, OCI_EINVAL,
                         "layer.transform: entry \"%.128s\": xattrs of more "
                         "than %u bytes together",
                         name, OCI_XATTR_ENTRY_MAX);
  oci_layer_xattr *v = malloc(e->n_xattrs * sizeof *v);
  if (!v) return nomem(err);
  memcpy(v, e->xattrs, e->n_xattrs * sizeof *v);
  qsort(v, e->n_xattrs, sizeof *v, cmp_xattr);
  for (size_t i = 1; i < e->n_xattrs; i++)
    if (!strcmp(v[i - 1].name, v[i].name)) {
      int rc = oci_error_set(err, OCI_EINVAL,
                             "layer.transform: entry \"%.128s\": xattr %.64s "
                             "given twice",
                             name, v[i].name);
      free(v);
      return rc;
    }
  *out = v;
  return OCI_OK;
}

/* ---- content ------------------------------------------------------------- */

typedef struct spool {
  int fd;
  uint64_t size;
} spool;

static int spool_write(void *wctx, const void *buf, size_t len,
                       oci_error *err) {
  spool *sp = wctx;
  const char *c = buf;
  while (len) {
    ssize_t w = write(sp->fd, c, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      return oci_error_set(err, OCI_EIO,
                           "layer.transform: cannot spool content: %s",
                           w < 0 ? strerror(errno) : "nothing written");
    c += w;
    len -= (size_t)w;
    sp->size += (uint64_t)w;
  }
  return OCI_OK;
}

/* An anonymous temporary file (TMPDIR or /tmp), for produced content. */
static int spool_open(int *fd, oci_error *err) {
  const char *dir = getenv("TMPDIR");
  if (!dir || !*dir) dir = "/tmp";
  *fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (*fd >= 0) return OCI_OK;
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/ocispec-transform-XXXXXX", dir);
  *fd = mkstemp(path);
  if (*fd < 0)
    return oci_error_set(err, OCI_EIO,
                         "layer.transform: cannot create a temporary file in "
                         "%s: %s",
                         dir, strerror(errno));
  unlink(path);
  return OCI_OK;
}

/* Writes size bytes read from fd (a file named `what`) as the content. */
static int copy_fd(oci_layer_transform *t, int fd, uint64_t size,
                   const char *name, const char *what, oci_error *err) {
  uint64_t left = size;
  while (left) {
    size_t want = left < BLOCK ? (size_t)left : BLOCK;
    ssize_t r = read(fd, t->block, want);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      return oci_error_set(err, OCI_EIO,
                           "layer.transform: entry \"%.128s\": cannot read "
                           "%s: %s",
                           name, what, strerror(errno));
    if (r == 0)
      return oci_error_set(err, OCI_EIO,
                           "layer.transform: entry \"%.128s\": %s shrank "
                           "while being read (%" PRIu64 " of %" PRIu64
                           " bytes)",
                           name, what, size - left, size);
    if (archive_write_data(t->s.t, t->block, (size_t)r) != r)
      return out_fail(t, "cannot write the content", name);
    left -= (uint64_t)r;
  }
  return OCI_OK;
}

/* The current input entry's content, streamed (size bytes promised). */
static int copy_input(oci_layer_transform *t, uint64_t size, const char *name,
                      oci_error *err) {
  uint64_t got = 0;
  for (;;) {
    la_ssize_t n = archive_read_data(t->in, t->block, BLOCK);
    if (n < 0) return in_fail(t->in, "corrupt layer at entry", name, err);
    if (n == 0) break;
    if (got + (uint64_t)n > size)
      return oci_error_set(err, OCI_EINVAL,
                           "layer.transform: entry \"%.128s\": more content "
                           "than its header says",
                           name);
    if (archive_write_data(t->s.t, t->block, (size_t)n) != n)
      return out_fail(t, "cannot write the content", name);
    got += (uint64_t)n;
  }
  if (got != size)
    return oci_error_set(err, OCI_EINVAL,
                         "layer.transform: entry \"%.128s\": truncated "
                         "content (%" PRIu64 " of %" PRIu64 " bytes)",
                         name, got, size);
  return OCI_OK;
}

int oci_layer_transform_read(oci_layer_transform *t, char **data, size_t *len,
                             oci_error *err) {
  oci_error_reset(err);
  *data = NULL;
  *len = 0;
  if (!t || !t->in_cb || !t->ie)
    return oci_error_set(err, OCI_EINVAL,
                         "layer.transform: read outside an entry's callback");
  const char *name = t->cur ? t->cur : "";
  if (!t->is_file)
    return oci_error_set(err, OCI_EINVAL,
                         "layer.transform: entry \"%.128s\" is not a regular "
                         "file: it has no content to read",
                         name);
  if (!t->have_buf) {
    uint64_t size =
        archive_entry_size(t->ie) > 0 ? (uint64_t)archive_entry_size(t->ie) : 0;
    uint64_t max = t->o->max_read ? t->o->max_read : DEFAULT_MAX_READ;
    if (size > max)
      return oci_error_set(err, OCI_ETOOBIG,
                           "layer.transform: entry \"%.128s\": %" PRIu64
                           " bytes, more than %" PRIu64 " (limit max_read)",
                           name, size, max);
    char *b = malloc((size_t)size + 1);
    if (!b) return nomem(err);
    size_t got = 0;
    for (;;) {
      la_ssize_t n = archive_read_data(t->in, b + got, (size_t)size - got);
      if (n < 0) {
        free(b);
        return in_fail(t->in, "corrupt layer at entry", name, err);
      }
      if (n == 0) break;
      got += (size_t)n;
      if (got == size) break;
    }
    if (got != size) {
      free(b);
      return oci_error_set(err, OCI_EINVAL,
                           "layer.transform: entry \"%.128s\": truncated "
                           "content (%zu of %" PRIu64 " bytes)",
                           name, got, size);
    }
    b[got] = '\0';
    t->buf = b;
    t->buflen = got;
    t->have_buf = true;
  }
  char *c = malloc(t->buflen + 1);
  if (!c) return nomem(err);
  memcpy(c, t->buf, t->buflen + 1);
  *data = c;
  *len = t->buflen;
  return OCI_OK;
}

/* ---- writing one entry --------------------------------------------------- */

/* Writes e. in: the input entry it comes from (NULL: added by the
   callback), with its cleaned path and link target. */
static int write_entry(oci_layer_transform *t, const oci_layer_tentry *e,
                       struct archive_entry *in, const char *in_path,
                       const char *in_link, oci_error *err) {
  const char *shown = e->path ? e->path : "";
  char *name = NULL, *link = NULL;
  oci_layer_xattr *xs = NULL;
  int fd = -1, rc = OCI_OK;
  bool made = in == NULL;
  if ((unsigned)e->type > OCI_LAYER_FIFO)
    return oci_error_set(err, OCI_EINVAL,
                         "layer.transform: entry \"%.128s\": unknown type %d",
                         shown, (int)e->type);
  /* the path */
  if (in && e->path && !strcmp(e->path, in_path)) {
    if (!(name = strdup(in_path))) return nomem(err);
  } else if (in && !strcmp(in_path, ".")) {
    return oci_error_set(err, OCI_EINVAL,
                         "layer.transform: the root entry \".\" cannot be "
                         "renamed (to \"%.128s\")",
                         shown);
  } else {
    if (e->path && strlen(e->path) >= PATH_MAX)
      return oci_error_set(err, OCI_EINVAL,
                           "layer.transform: entry path longer than %d bytes",
                           PATH_MAX - 1);
    if ((rc = layer_norm_path(e->path, "layer.transform: entry", "path", &name,
                              err)))
      return rc;
    if (in && !strcmp(name, in_path))
      ; /* the same path spelled otherwise */
    else
      made = true;
  }
  if (!strcmp(name, ".") && e->type != OCI_LAYER_DIR) {
    rc = oci_error_set(err, OCI_EINVAL,
                       "layer.transform: entry \".\": refusing to replace "
                       "the root directory with something else");
    goto out;
  }
  if (e->mode > 07777) {
    rc = oci_error_set(err, OCI_EINVAL,
                       "layer.transform: entry \"%.128s\": mode %o is not "
                       "permission bits (0 to 07777)",
                       name, (unsigned)e->mode);
    goto out;
  }
  if (e->uid < 0 || e->uid > UINT32_MAX || e->gid < 0 || e->gid > UINT32_MAX) {
    rc = oci_error_set(err, OCI_EINVAL,
                       "layer.transform: entry \"%.128s\": uid/gid out of "
                       "range (0 to 4294967295)",
                       name);
    goto out;
  }
  if ((e->type == OCI_LAYER_CHAR || e->type == OCI_LAYER_BLOCK) &&
      (e->major > 0xfff || e->minor > 0xfffff)) {
    /* the Linux dev_t limits (12-bit major, 20-bit minor) */
    rc = oci_error_set(err, OCI_EINVAL,
                       "layer.transform: entry \"%.128s\": device %u:%u out "
                       "of range",
                       name, e->major, e->minor);
    goto out;
  }
  /* the link target */
  if (e->type == OCI_LAYER_SYMLINK) {
    if (!e->linkname || !*e->linkname) {
      rc = oci_error_set(err, OCI_EINVAL,
                         "layer.transform: entry \"%.128s\": a symlink needs "
                         "a linkname",
                         name);
      goto out;
    }
    if (!(link = strdup(e->linkname))) {
      rc = nomem(err);
      goto out;
    }
  } else if (e->type == OCI_LAYER_HARDLINK) {
    if (in && in_link && e->linkname && !strcmp(e->linkname, in_link)) {
      /* as the blob says: follow its target's fate */
      sm_slot *s = sm_find(&t->inmap, in_link);
      if (s && !s->val) {
        rc = oci_error_set(err, OCI_EINVAL,
                           "layer.transform: entry \"%.128s\": hardlink to "
                           "\"%.128s\", which the callback dropped (drop the "
                           "link too, or keep its target)",
                           name, in_link);
        goto out;
      }
      if (!(link = strdup(s ? s->val : in_link))) {
        rc = nomem(err);
        goto out;
      }
    } else {
      if ((rc = layer_norm_path(e->linkname, "layer.transform: entry",
                                "hardlink target", &link, err)))
        goto out;
      sm_slot *s = sm_find(&t->outmap, link);
      int ty = s ? s->flags >> 1 : -1;
      if (ty != OCI_LAYER_FILE && ty != OCI_LAYER_HARDLINK) {
        rc = oci_error_set(err, OCI_EINVAL,
                           "layer.transform: entry \"%.128s\": hardlink "
                           "target \"%.128s\" is %s",
                           name, link,
                           s ? "not a regular file"
                             : "not an entry written before it");
        goto out;
      }
    }
  }
  if (e->type != OCI_LAYER_FILE && e->content != OCI_LAYER_CONTENT_KEEP) {
    rc = oci_error_set(err, OCI_EINVAL,
                       "layer.transform: entry \"%.128s\": a %s has no "
                       "content",
                       name, oci_layer_type_name(e->type));
    goto out;
  }
  if ((rc = sorted_xattrs(e, name, &xs, err))) goto out;
  /* one path, one entry: unless the blob itself repeats it */
  sm_slot *dup = sm_find(&t->outmap, name);
  if (dup && (made || (dup->flags & SM_MADE))) {
    rc = oci_error_set(err, OCI_EINVAL,
                       "layer.transform: entry \"%.128s\": the output has "
                       "an entry of that path already",
                       name);
    goto out;
  }
  /* the content and its size */
  uint64_t size = 0;
  bool from_input = false;
  if (e->type == OCI_LAYER_FILE) {
    switch (e->content) {
    case OCI_LAYER_CONTENT_KEEP:
      if (in && t->is_file) {
        size =
            archive_entry_size(in) > 0 ? (uint64_t)archive_entry_size(in) : 0;
        from_input = !t->have_buf;
      }
      break;
    case OCI_LAYER_CONTENT_BYTES:
      if (e->len && !e->bytes) {
        rc = oci_error_set(err, OCI_EINVAL,
                           "layer.transform: entry \"%.128s\": len without "
                           "bytes",
                           name);
        goto out;
      }
      size = e->len;
      break;
    case OCI_LAYER_CONTENT_FILE: {
      struct stat st;
      if (!e->source) {
        rc =
            oci_error_set(err, OCI_EINVAL,
                          "layer.transform: entry \"%.128s\": no source", name);
        goto out;
      }
      fd = open(e->source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 || fstat(fd, &st)) {
        rc = oci_error_set(err, OCI_EIO,
                           "layer.transform: entry \"%.128s\": cannot read "
                           "%s: %s",
                           name, e->source, strerror(errno));
        goto out;
      }
      if (!S_ISREG(st.st_mode)) {
        rc = oci_error_set(err, OCI_EINVAL,
                           "layer.transform: entry \"%.128s\": source %s is "
                           "not a regular file",
                           name, e->source);
        goto out;
      }
      size = (uint64_t)st.st_size;
      break;
    }
    case OCI_LAYER_CONTENT_PRODUCER: {
      if (!e->produce) {
        rc = oci_error_set(err, OCI_EINVAL,
                           "layer.transform: entry \"%.128s\": no producer",
                           name);
        goto out;
      }
      spool sp = {-1, 0};
      if ((rc = spool_open(&sp.fd, err))) goto out;
      fd = sp.fd;
      if ((rc = e->produce(e->pctx, spool_write, &sp, err))) goto out;
      if (lseek(fd, 0, SEEK_SET) != 0) {
        rc = oci_error_set(err, OCI_EIO, "layer.transform: spool: %s",
                           strerror(errno));
        goto out;
      }
      size = sp.size;
      break;
    }
    default:
      rc = oci_error_set(err, OCI_EINVAL,
                         "layer.transform: entry \"%.128s\": unknown content "
                         "kind %d",
                         name, (int)e->content);
      goto out;
    }
  }
  layer_header h = {name,     e->type,  e->mode,  e->uid,     e->gid,
                    e->mtime, e->uname, e->gname, size,       link,
                    e->major, e->minor, xs,       e->n_xattrs};
  layer_set_header(t->oe, &h, &t->lo);
  /* a sparse input file stays sparse (its holes read as zeros, which the
     writer drops) */
  if (in && e->type == OCI_LAYER_FILE && e->content == OCI_LAYER_CONTENT_KEEP &&
      t->is_file && archive_entry_sparse_reset(in) > 0) {
    la_int64_t off, len;
    while (archive_entry_sparse_next(in, &off, &len) == ARCHIVE_OK)
      archive_entry_sparse_add_entry(t->oe, off, len);
  }
  if (archive_write_header(t->s.t, t->oe) < ARCHIVE_WARN) {
    rc = out_fail(t, "cannot write the tar header", name);
    goto out;
  }
  t->written++;
  if (e->type == OCI_LAYER_FILE && size) {
    if (from_input)
      rc = copy_input(t, size, name, err);
    else if (e->content == OCI_LAYER_CONTENT_KEEP) {
      if (archive_write_data(t->s.t, t->buf, t->buflen) !=
          (la_ssize_t)t->buflen)
        rc = out_fail(t, "cannot write the content", name);
    } else if (e->content == OCI_LAYER_CONTENT_BYTES) {
      if (archive_write_data(t->s.t, e->bytes, size) != (la_ssize_t)size)
        rc = out_fail(t, "cannot write the content", name);
    } else
      rc = copy_fd(t, fd, size, name,
                   e->content == OCI_LAYER_CONTENT_FILE ? e->source
                                                        : "produced content",
                   err);
    if (rc) goto out;
  }
  if (sm_put(&t->outmap, name, NULL, (made ? SM_MADE : 0) | (int)e->type << 1))
    rc = nomem(err);
  if (!rc && in && sm_put(&t->inmap, in_path, name, 0)) rc = nomem(err);
out:
  if (fd >= 0) close(fd);
  free(xs);
  free(name);
  free(link);
  return rc;
}

int oci_layer_transform_add(oci_layer_transform *t, const oci_layer_tentry *e,
                            oci_error *err) {
  oci_error_reset(err);
  if (!t || !t->in_cb)
    return oci_error_set(err, OCI_EINVAL,
                         "layer.transform: add outside a callback");
  if (!e) return oci_error_set(err, OCI_EINVAL, "layer.transform: add: NULL");
  if (e->type == OCI_LAYER_FILE && e->content == OCI_LAYER_CONTENT_KEEP) {
    /* a new entry has no input content: empty */
    oci_layer_tentry c = *e;
    c.content = OCI_LAYER_CONTENT_BYTES;
    c.bytes = "";
    c.len = 0;
    return write_entry(t, &c, NULL, NULL, NULL, err);
  }
  return write_entry(t, e, NULL, NULL, NULL, err);
}

/* ---- the input entries --------------------------------------------------- */

/* Fills e from the input entry ie (name cleaned into path, a hard link's
   target into link, xattrs into *xs). */
static int fill_entry(oci_layer_transform *t, struct archive_entry *ie,
                      oci_layer_tentry *e, char *path, char *link,
                      oci_layer_xattr **xs, oci_error *err) {
  memset(e, 0, sizeof *e);
  const char *raw = archive_entry_pathname(ie);
  if (!raw) raw = archive_entry_pathname_utf8(ie);
  if (!raw)
    return oci_error_set(err, OCI_EINVAL,
                         "layer.transform: an entry without a name");
  if (strlen(raw) >= PATH_MAX)
    return oci_error_set(err, OCI_EINVAL,
                         "layer.transform: entry name longer than %d bytes",
                         PATH_MAX - 1);
  int rc = up_clean(raw, path, raw, err);
  if (rc) return rc;
  if (!path[0]) strcpy(path, ".");
  const char *hl = archive_entry_hardlink(ie);
  if (!hl) hl = archive_entry_hardlink_utf8(ie);
  const char *sl = archive_entry_symlink(ie);
  if (!sl) sl = archive_entry_symlink_utf8(ie);
  link[0] = '\0';
  if (hl) {
    if (strlen(hl) >= PATH_MAX)
      return oci_error_set(err, OCI_EINVAL,
                           "layer.transform: entry \"%s\": link target longer "
                           "than %d bytes",
                           path, PATH_MAX - 1);
    if ((rc = up_clean(hl, link, path, err))) return rc;
    if (!link[0])
      return oci_error_set(err, OCI_EINVAL,
                           "layer.transform: entry \"%s\": hardlink to the "
                           "root",
                           path);
    e->type = OCI_LAYER_HARDLINK;
    e->linkname = link;
  } else {
    switch (archive_entry_filetype(ie)) {
    case AE_IFREG: e->type = OCI_LAYER_FILE; break;
    case AE_IFDIR: e->type = OCI_LAYER_DIR; break;
    case AE_IFLNK:
      e->type = OCI_LAYER_SYMLINK;
      if (!sl || !*sl)
        return oci_error_set(err, OCI_EINVAL,
                             "layer.transform: entry \"%s\": symbolic link "
                             "without a target",
                             path);
      e->linkname = sl;
      break;
    case AE_IFCHR: e->type = OCI_LAYER_CHAR; break;
    case AE_IFBLK: e->type = OCI_LAYER_BLOCK; break;
    case AE_IFIFO: e->type = OCI_LAYER_FIFO; break;
    default:
      return oci_error_set(err, OCI_EUNSUPPORTED,
                           "layer.transform: entry \"%s\": unsupported entry "
                           "type 0%o",
                           path, (unsigned)archive_entry_filetype(ie));
    }
  }
  if (!strcmp(path, ".") && e->type != OCI_LAYER_DIR)
    return oci_error_set(err, OCI_EINVAL,
                         "layer.transform: entry \"%s\": refusing to replace "
                         "the root directory with something else",
                         raw);
  e->path = path;
  e->mode = archive_entry_perm(ie) & 07777;
  e->uid = archive_entry_uid(ie);
  e->gid = archive_entry_gid(ie);
  e->mtime = archive_entry_mtime(ie);
  const char *u = archive_entry_uname(ie), *g = archive_entry_gname(ie);
  e->uname = u ? u : "";
  e->gname = g ? g : "";
  e->size = e->type == OCI_LAYER_FILE && archive_entry_size(ie) > 0
                ? (uint64_t)archive_entry_size(ie)
                : 0;
  if (e->type == OCI_LAYER_CHAR || e->type == OCI_LAYER_BLOCK) {
    e->major = (unsigned)archive_entry_rdevmajor(ie);
    e->minor = (unsigned)archive_entry_rdevminor(ie);
  }
  int n = archive_entry_xattr_reset(ie);
  if (n > 0) {
    oci_layer_xattr *v = calloc((size_t)n, sizeof *v);
    if (!v) return nomem(err);
    size_t k = 0;
    const char *xn;
    const void *xv;
    size_t xl;
    while (k < (size_t)n &&
           archive_entry_xattr_next(ie, &xn, &xv, &xl) == ARCHIVE_OK)
      v[k++] = (oci_layer_xattr){xn, xv, xl};
    *xs = v;
    e->xattrs = v;
    e->n_xattrs = k;
  }
  (void)t;
  return OCI_OK;
}

static int run(oci_layer_transform *t, int in_fd, int out_fd,
               oci_layer_result *res, oci_error *err) {
  const oci_layer_transform_options *o = t->o;
  int rc;
  char *path = malloc(PATH_MAX), *link = malloc(PATH_MAX);
  char *opath = malloc(PATH_MAX), *olink = malloc(PATH_MAX);
  t->r.fd = in_fd;
  t->r.buf = malloc(BLOCK);
  t->block = malloc(BLOCK);
  t->in = archive_read_new();
  t->oe = archive_entry_new();
  if (!path || !link || !opath || !olink || !t->r.buf || !t->block || !t->in ||
      !t->oe) {
    rc = nomem(err);
    goto out;
  }
  if (o->expected_digest) {
    oci_digest_view v;
    if ((rc = oci_digest_parse(o->expected_digest, strlen(o->expected_digest),
                               &v, err)) ||
        (rc = oci_hasher_new(v.alg, &t->r.h, err)))
      goto out;
  }
  archive_read_support_filter_gzip(t->in);
  archive_read_support_filter_zstd(t->in);
  archive_read_support_format_tar(t->in);
  if (archive_read_open(t->in, &t->r, NULL, read_cb, NULL) != ARCHIVE_OK) {
    rc = in_fail(t->in, "not a layer", NULL, err);
    goto out;
  }
  uint64_t max_entries =
      o->max_entries ? o->max_entries : OCI_UNPACK_DEFAULT_MAX_ENTRIES;
  uint64_t max_bytes =
      o->max_bytes ? o->max_bytes : OCI_UNPACK_DEFAULT_MAX_BYTES;
  uint64_t entries = 0;
  bool opened = false;
  for (;;) {
    struct archive_entry *ie;
    int ar = archive_read_next_header(t->in, &ie);
    if (ar < ARCHIVE_WARN && ar != ARCHIVE_EOF) {
      rc = in_fail(t->in, "not a layer", NULL, err);
      goto out;
    }
    if (!opened) { /* the input's compression is known now */
      if (o->compression < 0) {
        int f = archive_filter_code(t->in, 0);
        t->lo.compression = f == ARCHIVE_FILTER_GZIP   ? OCI_LAYER_GZIP
                            : f == ARCHIVE_FILTER_ZSTD ? OCI_LAYER_ZSTD
                                                       : OCI_LAYER_NONE;
      }
      if ((rc = layer_check_options(&t->lo, err)) ||
          (rc = layer_writer_open(&t->s, &t->lo, out_fd, t->oe, err)))
        goto out;
      opened = true;
    }
    if (ar == ARCHIVE_EOF) break;
    if (++entries > max_entries) {
      rc = oci_error_set(err, OCI_ETOOBIG,
                         "layer.transform: more than %" PRIu64
                         " entries (limit max_entries)",
                         max_entries);
      goto out;
    }
    oci_layer_tentry e;
    oci_layer_xattr *xs = NULL;
    rc = fill_entry(t, ie, &e, path, link, &xs, err);
    t->ie = ie;
    t->is_file = e.type == OCI_LAYER_FILE;
    t->have_buf = false;
    free(t->buf);
    t->buf = NULL;
    t->buflen = 0;
    bool keep = true;
    oci_layer_type type = e.type;
    t->cur = opath;
    if (!rc) {
      strcpy(opath, path);
      strcpy(olink, link[0] ? link : "");
    }
    if (!rc && o->fn) {
      t->in_cb = true;
      rc = o->fn(o->ctx, t, &e, &keep, err);
      t->in_cb = false;
      if (!rc && keep && e.type != type)
        rc = oci_error_set(
            err, OCI_EINVAL,
            "layer.transform: entry \"%.128s\": the type of "
            "an entry cannot change (%s to %s): drop it and "
            "add a new one",
            opath, oci_layer_type_name(type),
            oci_layer_type_name(e.type) ? oci_layer_type_name(e.type) : "?");
    }
    if (!rc && keep)
      rc = write_entry(t, &e, ie, opath,
                       type == OCI_LAYER_HARDLINK ? olink : NULL, err);
    else if (!rc && sm_put(&t->inmap, opath, NULL, 0))
      rc = nomem(err);
    free(xs);
    if (rc) goto out;
    if (archive_read_data_skip(t->in) < ARCHIVE_WARN) {
      rc = in_fail(t->in, "corrupt layer at entry", opath, err);
      goto out;
    }
    if ((uint64_t)archive_filter_bytes(t->in, 0) > max_bytes) {
      rc = oci_error_set(err, OCI_ETOOBIG,
                         "layer.transform: uncompresses to more than %" PRIu64
                         " bytes (limit max_bytes)",
                         max_bytes);
      goto out;
    }
  }
  t->ie = NULL;
  t->is_file = false;
  if (o->finish) {
    t->in_cb = true;
    rc = o->finish(o->ctx, t, err);
    t->in_cb = false;
    if (rc) goto out;
  }
  /* the rest of the blob, hashed */
  for (;;) {
    const void *unused;
    la_ssize_t n = read_cb(t->in, &t->r, &unused);
    if (n < 0) {
      rc = oci_error_set(err, OCI_EIO, "layer.transform: read failed: %s",
                         strerror(errno));
      goto out;
    }
    if (n == 0) break;
  }
  if (t->r.h) {
    char got[OCI_DIGEST_STRING_MAX];
    if (t->r.hash_failed) {
      rc = nomem(err);
      goto out;
    }
    if ((rc = oci_hasher_finish(t->r.h, got, err))) goto out;
    if (strcmp(got, o->expected_digest)) {
      rc = oci_error_set(err, OCI_EMISMATCH,
                         "layer.transform: input digest mismatch: expected "
                         "%s, got %s",
                         o->expected_digest, got);
      goto out;
    }
  }
  if (o->expected_size >= 0 && t->r.bytes != (uint64_t)o->expected_size) {
    rc = oci_error_set(err, OCI_EMISMATCH,
                       "layer.transform: input size mismatch: expected "
                       "%" PRId64 ", got %" PRIu64,
                       o->expected_size, t->r.bytes);
    goto out;
  }
  if ((rc = layer_writer_finish(&t->s, &t->lo, res, err))) goto out;
  res->entries = t->written;
out:
  free(path);
  free(link);
  free(opath);
  free(olink);
  return rc;
}

int oci_layer_transform_fd(int in_fd, const oci_layer_transform_options *opts,
                           int out_fd, oci_layer_result *res, oci_error *err) {
  oci_error_reset(err);
  memset(res, 0, sizeof *res);
  oci_layer_transform_options defaults;
  if (!opts) {
    oci_layer_transform_options_init(&defaults);
    opts = &defaults;
  }
  int rc = oci_options_check(err, "oci_layer_transform_options", opts->version,
                             OCI_LAYER_TRANSFORM_OPTIONS_VERSION);
  if (rc) return rc;
  if (opts->compression < -1 || opts->compression > OCI_LAYER_NONE)
    return oci_error_set(err, OCI_EINVAL,
                         "layer.transform: unknown layer compression %d",
                         opts->compression);
  oci_layer_transform t;
  memset(&t, 0, sizeof t);
  t.o = opts;
  oci_layer_options_init(&t.lo);
  t.lo.compression = opts->compression < 0
                         ? OCI_LAYER_GZIP
                         : (oci_layer_compression)opts->compression;
  t.lo.level = opts->level;
  t.lo.clamp_mtime = opts->clamp_mtime;
  t.lo.mtime = opts->mtime;
  t.lo.uid = opts->uid;
  t.lo.gid = opts->gid;
  /* version 1 had no threads: the single-threaded bytes it always made */
  t.lo.threads = opts->version >= 2 ? opts->threads : 0;
  if (t.lo.threads != OCI_LAYER_THREADS_AUTO &&
      (t.lo.threads < 0 || t.lo.threads > OCI_LAYER_THREADS_MAX))
    return oci_error_set(err, OCI_EINVAL,
                         "layer.transform: compression threads %d out of range "
                         "(0 to %d, or OCI_LAYER_THREADS_AUTO)",
                         t.lo.threads, OCI_LAYER_THREADS_MAX);
  /* options checked before anything is read (compression -1: again once
     the input's is known) */
  if (opts->compression >= 0 || !opts->level) {
    if ((rc = layer_check_options(&t.lo, err))) return rc;
  }
  rc = run(&t, in_fd, out_fd, res, err);
  layer_writer_free(&t.s, rc != OCI_OK);
  if (t.in) archive_read_free(t.in);
  archive_entry_free(t.oe);
  oci_hasher_free(t.r.h);
  free(t.r.buf);
  free(t.block);
  free(t.buf);
  sm_free(&t.inmap);
  sm_free(&t.outmap);
  if (rc) {
    size_t n = t.written;
    memset(res, 0, sizeof *res);
    res->entries = n;
  }
  return rc;
}

typedef struct tf_ctx {
  int in_fd;
  const oci_layer_transform_options *opts;
  oci_layer_result *res;
} tf_ctx;

static int transform_into(void *ctx, int fd, oci_error *err) {
  tf_ctx *c = ctx;
  return oci_layer_transform_fd(c->in_fd, c->opts, fd, c->res, err);
}

int oci_layer_transform_file(int in_fd, const oci_layer_transform_options *opts,
                             const char *path, oci_layer_result *res,
                             oci_error *err) {
  oci_error_reset(err);
  memset(res, 0, sizeof *res);
  tf_ctx c = {in_fd, opts, res};
  int rc = layer_write_atomic(path, transform_into, &c, err);
  if (rc) memset(res, 0, sizeof *res);
  return rc;
}
