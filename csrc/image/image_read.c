/* Reading an image's files without unpacking it (ocispec/image_read.h).

   A lookup of a path P = c1/.../cn keeps, for each prefix k (c1/.../ck), a
   state: unknown, implied (a layer above wrote below it: it is a
   directory unless a lower layer made it something else), directory,
   symbolic link, other (a file, device, ...) or gone. Layers are read
   newest first; each layer's facts about the prefixes (an entry at one,
   an entry below one, a whiteout of one, an opaque marker in one) are
   gathered over the whole layer (tar order within it: the last entry for
   a name wins), then decide the prefixes still unknown, as the unpacker
   (unpack.c) would have left them:
   - an entry decides its prefix; an entry below implies its ancestors;
   - whiteouts and opaque markers "MUST only apply to resources in
     lower/parent layers" (layer.md): a whiteout of prefix k, or an opaque
     marker in it, leaves what this layer wrote and closes k: its
     undecided descendants are gone (implied ones are directories made
     afresh), and an undecided k itself is gone;
   - a non-directory entry closes its prefix the same way.
   The lookup stops as soon as the chain from the root is decided: every
   prefix a directory up to the last, or one that is not. Symbolic links
   on the way restart the lookup at the target (inside the image, at most
   INROOT_MAX_LINKS).

   Each blob is hashed as it streams and checked against its descriptor's
   digest and size before anything drawn from it is returned. */
#include "ocispec/image_read.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image_read_internal.h"
#include "inroot.h"
#include "internal.h"
#include "ocispec/digest.h"
#include "ocispec/hash.h"
#include "ocispec/unpack.h"
#include "unpack_internal.h"

#define READ_BLOCK (256 * 1024)
#define DEFAULT_MAX_READ (UINT64_C(64) << 20)

static const char WH_PREFIX[] = ".wh.";
static const char WH_OPAQUE[] = ".wh..wh..opq";

void oci_image_reader_options_init(oci_image_reader_options *o) {
  *o = (oci_image_reader_options)OCI_IMAGE_READER_OPTIONS_INIT;
}

void ir_info_clear(oci_layer_info *i) {
  free(i->path);
  free(i->target);
  memset(i, 0, sizeof *i);
}

void oci_image_entry_free(oci_image_entry *e) {
  if (!e) return;
  ir_info_clear(&e->info);
  free(e);
}

void oci_image_listing_free(oci_image_listing *l) {
  if (!l) return;
  for (size_t i = 0; i < l->len; i++)
    ir_info_clear(&l->items[i].info);
  free(l->items);
  free(l);
}

void oci_image_reader_free(oci_image_reader *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) {
    if (r->layers[i].fd >= 0) close(r->layers[i].fd);
    free(r->layers[i].digest);
  }
  free(r->layers);
  free(r);
}

uint64_t oci_image_reader_layers_read(const oci_image_reader *r) {
  return r ? r->layers_read : 0;
}

int oci_image_reader_open(const oci_layout *l, const char *ref,
                          const oci_image_reader_options *opts,
                          oci_image_reader **out, oci_error *err) {
  oci_error_reset(err);
  if (out) *out = NULL;
  static const oci_image_reader_options defaults =
      OCI_IMAGE_READER_OPTIONS_INIT;
  const oci_image_reader_options *o = opts ? opts : &defaults;
  int rc = oci_options_check(err, "oci_image_reader_options", o->version,
                             OCI_IMAGE_READER_OPTIONS_VERSION);
  if (rc) return rc;
  if (!l || !ref || !out)
    return oci_error_set(err, OCI_EINVAL, "oci_image_reader_open: %s missing",
                         !l     ? "layout"
                         : !ref ? "ref"
                                : "out");
  oci_layout_platform none = {NULL, NULL, NULL};
  oci_layout_resolved *res = NULL;
  if ((rc = oci_layout_resolve(l, ref, o->platform ? o->platform : &none, &res,
                               err)))
    return rc;
  oci_image_reader *r = calloc(1, sizeof *r);
  const oci_image_manifest *m = res->manifest;
  if (!r || (m->layers.len &&
             !(r->layers = calloc(m->layers.len, sizeof *r->layers)))) {
    rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
    goto out;
  }
  r->max_bytes = o->max_bytes ? o->max_bytes : OCI_UNPACK_DEFAULT_MAX_BYTES;
  r->max_entries =
      o->max_entries ? o->max_entries : OCI_UNPACK_DEFAULT_MAX_ENTRIES;
  r->max_read = o->max_read ? o->max_read : DEFAULT_MAX_READ;
  for (size_t i = 0; i < m->layers.len; i++) {
    const oci_image_descriptor *d = m->layers.items[i];
    r->layers[i].fd = -1;
    r->n = i + 1;
    if (!(r->layers[i].digest = strdup(d->digest))) {
      rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
      goto out;
    }
    r->layers[i].size = d->size;
    if ((rc = oci_layout_open_blob(l, d->digest, &r->layers[i].fd, NULL, err)))
      goto out;
  }
out:
  oci_layout_resolved_free(res);
  if (rc)
    oci_image_reader_free(r);
  else
    *out = r;
  return rc;
}

/* ---- one pass over one layer ------------------------------------------ */

typedef struct rstream {
  int fd;
  unsigned char *buf;
  oci_hasher *h;
  uint64_t bytes;
  bool hash_failed;
} rstream;

static la_ssize_t read_cb(struct archive *a, void *ctx, const void **out) {
  rstream *s = ctx;
  ssize_t n;
  do
    n = read(s->fd, s->buf, READ_BLOCK);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    archive_set_error(a, errno, "read failed");
    return -1;
  }
  if (n > 0 && oci_hasher_update(s->h, s->buf, (size_t)n, NULL) != OCI_OK)
    s->hash_failed = true;
  s->bytes += (uint64_t)n;
  *out = s->buf;
  return n;
}

static int layer_fail(struct archive *a, size_t i, const char *why,
                      oci_error *err) {
  const char *m = archive_error_string(a);
  int e = archive_errno(a);
  return oci_error_set(err, e == ENOMEM ? OCI_ENOMEM : OCI_EINVAL,
                       "layer %zu: %s%s%s", i + 1, why, m ? ": " : "",
                       m ? m : "");
}

/* Reads layer i whole, calling visit for each entry (names checked as the
   unpacker checks them), then checks its size and digest. */
int ir_scan_layer(oci_image_reader *r, size_t i, visit_fn visit, void *ctx,
                  oci_error *err) {
  const rlayer *ly = &r->layers[i];
  r->layers_read++;
  rstream s = {.fd = ly->fd};
  struct archive *a = NULL;
  char *rel = malloc(PATH_MAX);
  char *wh = malloc(PATH_MAX);
  int rc = OCI_OK;
  oci_digest_view v;
  if ((rc = oci_digest_parse(ly->digest, strlen(ly->digest), &v, err)))
    goto out;
  if ((rc = oci_hasher_new(v.alg, &s.h, err))) goto out;
  s.buf = malloc(READ_BLOCK);
  a = archive_read_new();
  if (!s.buf || !a || !rel || !wh) {
    rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
    goto out;
  }
  if (lseek(ly->fd, 0, SEEK_SET) != 0) {
    rc = oci_error_set(err, OCI_EIO, "layer %zu: %s", i + 1, strerror(errno));
    goto out;
  }
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_format_tar(a);
  if (archive_read_open(a, &s, NULL, read_cb, NULL) != ARCHIVE_OK) {
    rc = layer_fail(a, i, "not a layer", err);
    goto out;
  }
  uint64_t entries = 0;
  for (;;) {
    struct archive_entry *e;
    int ar = archive_read_next_header(a, &e);
    if (ar == ARCHIVE_EOF) break;
    if (ar < ARCHIVE_WARN) {
      rc = layer_fail(a, i, "not a layer", err);
      goto out;
    }
    if (++entries > r->max_entries) {
      rc = oci_error_set(err, OCI_ETOOBIG,
                         "layer %zu: more than %" PRIu64
                         " entries (limit max_entries)",
                         i + 1, r->max_entries);
      goto out;
    }
    const char *name = archive_entry_pathname(e);
    if (!name) name = archive_entry_pathname_utf8(e);
    if (!name) {
      rc = oci_error_set(err, OCI_EINVAL, "layer %zu: entry without a name",
                         i + 1);
      goto out;
    }
    if (strlen(name) >= PATH_MAX) {
      rc = oci_error_set(err, OCI_EINVAL,
                         "layer %zu: entry name longer than %d bytes", i + 1,
                         PATH_MAX - 1);
      goto out;
    }
    /* the unpacker's rule: ".." refused, names cleaned */
    if ((rc = up_clean(name, rel, name, err))) goto out;
    scan_entry se = {E_ENTRY, rel, e, a};
    char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    if (strncmp(base, WH_PREFIX, sizeof WH_PREFIX - 1) == 0) {
      size_t dl = slash ? (size_t)(slash - rel) : 0;
      if (strcmp(base, WH_OPAQUE) == 0) {
        se.kind = E_OPAQUE;
        rel[dl] = '\0';
      } else {
        const char *t = base + sizeof WH_PREFIX - 1;
        if (!up_component_ok(t, strlen(t))) {
          rc = oci_error_set(err, OCI_EINVAL,
                             "layer %zu: entry \"%s\": whiteout of \"%s\" "
                             "names no entry",
                             i + 1, rel, t);
          goto out;
        }
        memcpy(wh, rel, dl);
        size_t o = dl;
        if (dl) wh[o++] = '/';
        memcpy(wh + o, t, strlen(t) + 1);
        se.kind = E_WHITEOUT;
        se.rel = wh;
      }
    } else if (!rel[0] && (archive_entry_hardlink(e) ||
                           archive_entry_filetype(e) != AE_IFDIR)) {
      rc = oci_error_set(err, OCI_EINVAL,
                         "layer %zu: entry \"%s\": refusing to replace the "
                         "root directory with something else",
                         i + 1, name);
      goto out;
    }
    if ((rc = visit(ctx, &se, err))) goto out;
    if (archive_read_data_skip(a) < ARCHIVE_WARN) {
      rc = layer_fail(a, i, "corrupt layer", err);
      goto out;
    }
    if ((uint64_t)archive_filter_bytes(a, 0) > r->max_bytes) {
      rc = oci_error_set(err, OCI_ETOOBIG,
                         "layer %zu: uncompresses to more than %" PRIu64
                         " bytes (limit max_bytes)",
                         i + 1, r->max_bytes);
      goto out;
    }
  }
  /* the rest of the blob, hashed */
  for (;;) {
    const void *unused;
    la_ssize_t n = read_cb(a, &s, &unused);
    if (n < 0) {
      rc = oci_error_set(err, OCI_EIO, "layer %zu: read failed: %s", i + 1,
                         strerror(errno));
      goto out;
    }
    if (n == 0) break;
  }
  char got[OCI_DIGEST_STRING_MAX];
  if (s.hash_failed) {
    rc = oci_error_set(err, OCI_ENOMEM, "hashing failed");
    goto out;
  }
  if ((rc = oci_hasher_finish(s.h, got, err))) goto out;
  if (ly->size >= 0 && s.bytes != (uint64_t)ly->size)
    rc = oci_error_set(err, OCI_EMISMATCH,
                       "layer %zu (%s): size mismatch: expected %" PRId64
                       ", got %" PRIu64,
                       i + 1, ly->digest, ly->size, s.bytes);
  else if (strcmp(got, ly->digest) != 0)
    rc = oci_error_set(err, OCI_EMISMATCH,
                       "layer %zu: digest mismatch: expected %s, got %s", i + 1,
                       ly->digest, got);
out:
  if (a) archive_read_free(a);
  oci_hasher_free(s.h);
  free(s.buf);
  free(rel);
  free(wh);
  return rc;
}

/* ---- entries ---------------------------------------------------------- */

int ir_fill_info(struct archive_entry *e, const char *rel, oci_layer_info *it,
                 oci_error *err) {
  ir_info_clear(it);
  const char *hl = archive_entry_hardlink(e);
  if (!hl) hl = archive_entry_hardlink_utf8(e);
  const char *sl = archive_entry_symlink(e);
  if (!sl) sl = archive_entry_symlink_utf8(e);
  const char *target = NULL;
  char clean[PATH_MAX];
  if (hl) {
    if (strlen(hl) >= PATH_MAX)
      return oci_error_set(err, OCI_EINVAL,
                           "entry \"%s\": link target longer than %d bytes",
                           rel, PATH_MAX - 1);
    int rc = up_clean(hl, clean, rel, err);
    if (rc) return rc;
    it->type = OCI_LAYER_HARDLINK;
    target = clean;
  } else {
    switch (archive_entry_filetype(e)) {
    case AE_IFREG: it->type = OCI_LAYER_FILE; break;
    case AE_IFDIR: it->type = OCI_LAYER_DIR; break;
    case AE_IFLNK:
      it->type = OCI_LAYER_SYMLINK;
      target = sl;
      if (!target || !*target)
        return oci_error_set(err, OCI_EINVAL,
                             "entry \"%s\": symbolic link without a target",
                             rel);
      break;
    case AE_IFCHR: it->type = OCI_LAYER_CHAR; break;
    case AE_IFBLK: it->type = OCI_LAYER_BLOCK; break;
    case AE_IFIFO: it->type = OCI_LAYER_FIFO; break;
    default:
      return oci_error_set(err, OCI_EUNSUPPORTED,
                           "entry \"%s\": unsupported entry type 0%o", rel,
                           (unsigned)archive_entry_filetype(e));
    }
  }
  it->path = strdup(rel);
  if (target) it->target = strdup(target);
  if (!it->path || (target && !it->target))
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  it->mode = archive_entry_perm(e) & 07777;
  it->uid = archive_entry_uid(e);
  it->gid = archive_entry_gid(e);
  it->mtime = archive_entry_mtime(e);
  it->size = it->type == OCI_LAYER_FILE && archive_entry_size(e) > 0
                 ? (uint64_t)archive_entry_size(e)
                 : 0;
  if (it->type == OCI_LAYER_CHAR || it->type == OCI_LAYER_BLOCK) {
    it->major = (unsigned)archive_entry_rdevmajor(e);
    it->minor = (unsigned)archive_entry_rdevminor(e);
  }
  return OCI_OK;
}

static int read_content(struct archive *a, uint64_t size, uint64_t max,
                        const char *rel, char **data, size_t *len,
                        oci_error *err) {
  free(*data);
  *data = NULL;
  *len = 0;
  if (size > max)
    return oci_error_set(err, OCI_ETOOBIG,
                         "%s: %" PRIu64 " bytes, more than %" PRIu64
                         " (limit max_read)",
                         rel, size, max);
  char *buf = malloc((size_t)size + 1);
  if (!buf) return oci_error_set(err, OCI_ENOMEM, "out of memory");
  size_t got = 0;
  while (got < size) {
    la_ssize_t n = archive_read_data(a, buf + got, (size_t)size - got);
    if (n < 0) {
      free(buf);
      return oci_error_set(err, OCI_EINVAL, "%s: corrupt layer: %s", rel,
                           archive_error_string(a) ? archive_error_string(a)
                                                   : "read failed");
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  buf[got] = '\0';
  *data = buf;
  *len = got;
  return OCI_OK;
}

/* ---- lookup ------------------------------------------------------------ */

enum pstate { S_UNK, S_IMPL, S_DIR, S_LNK, S_OTHER, S_GONE };

typedef struct lookup {
  oci_image_reader *r;
  char path[PATH_MAX];
  size_t n;        /* components */
  size_t *ends;    /* [k]: length of prefix k (k = 0..n) */
  enum pstate *st; /* [k], k = 1..n */
  int64_t *at;     /* [k]: the layer that decided it */
  char **target;   /* [k]: a symbolic link's target */
  /* this layer's facts: entry type at k (-1: none), below k, whiteout of k,
     opaque marker in k (k = 0..n) */
  int *ent;
  char **ltarget;
  bool *below, *wh, *opq;
  oci_layer_info info, linfo; /* the entry at n: decided, this layer's */
  bool want_content;
  char *content, *lcontent;
  size_t clen, lclen;
  bool have_lcontent;
} lookup;

static void lookup_free(lookup *k) {
  for (size_t i = 0; i <= k->n; i++) {
    if (k->target) free(k->target[i]);
    if (k->ltarget) free(k->ltarget[i]);
  }
  free(k->ends);
  free(k->st);
  free(k->at);
  free(k->target);
  free(k->ltarget);
  free(k->ent);
  free(k->below);
  free(k->wh);
  free(k->opq);
  ir_info_clear(&k->info);
  ir_info_clear(&k->linfo);
  free(k->content);
  free(k->lcontent);
  memset(k, 0, sizeof *k);
}

/* Sets up k for the cleaned path (without "..") k->path. */
static int lookup_init(lookup *k, oci_error *err) {
  size_t n = 0;
  for (const char *c = k->path; *c; c++)
    if (*c == '/') n++;
  if (k->path[0]) n++;
  k->n = n;
  size_t m = n + 1;
  k->ends = calloc(m, sizeof *k->ends);
  k->st = calloc(m, sizeof *k->st);
  k->at = calloc(m, sizeof *k->at);
  k->target = calloc(m, sizeof *k->target);
  k->ltarget = calloc(m, sizeof *k->ltarget);
  k->ent = calloc(m, sizeof *k->ent);
  k->below = calloc(m, sizeof *k->below);
  k->wh = calloc(m, sizeof *k->wh);
  k->opq = calloc(m, sizeof *k->opq);
  if (!k->ends || !k->st || !k->at || !k->target || !k->ltarget || !k->ent ||
      !k->below || !k->wh || !k->opq)
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  size_t j = 0;
  for (size_t i = 0; k->path[i]; i++)
    if (k->path[i] == '/') k->ends[++j] = i;
  k->ends[n] = strlen(k->path);
  return OCI_OK;
}

/* How many leading components rel shares with k->path (at component
   boundaries), and whether rel is exactly that prefix. */
static size_t common(const lookup *k, const char *rel, bool *exact) {
  size_t m = 0;
  size_t rl = strlen(rel);
  *exact = rl == 0;
  if (!rl) return 0;
  while (m < k->n) {
    size_t e = k->ends[m + 1];
    if (rl < e || memcmp(rel, k->path, e) != 0 || (rl > e && rel[e] != '/'))
      break;
    m++;
    if (rl == e) {
      *exact = true;
      return m;
    }
  }
  return m;
}

static int lookup_visit(void *ctx, const scan_entry *se, oci_error *err) {
  lookup *k = ctx;
  bool exact;
  size_t m = common(k, se->rel, &exact);
  if (se->kind == E_OPAQUE) {
    if (exact) k->opq[m] = true;
    return OCI_OK;
  }
  if (se->kind == E_WHITEOUT) {
    if (exact && m > 0) k->wh[m] = true;
    return OCI_OK;
  }
  /* an entry: below the prefixes 1..m (all of them when not exact) */
  size_t deep = exact ? (m ? m - 1 : 0) : m;
  for (size_t i = 1; i <= deep; i++)
    k->below[i] = true;
  if (!exact || m == 0) return OCI_OK;
  struct archive_entry *e = se->e;
  const char *hl = archive_entry_hardlink(e);
  int type = hl                                      ? S_OTHER
             : archive_entry_filetype(e) == AE_IFDIR ? S_DIR
             : archive_entry_filetype(e) == AE_IFLNK ? S_LNK
                                                     : S_OTHER;
  k->ent[m] = type;
  free(k->ltarget[m]);
  k->ltarget[m] = NULL;
  if (type == S_LNK) {
    const char *t = archive_entry_symlink(e);
    if (!t) t = archive_entry_symlink_utf8(e);
    if (!t || !*t)
      return oci_error_set(err, OCI_EINVAL,
                           "entry \"%s\": symbolic link without a target",
                           se->rel);
    if (!(k->ltarget[m] = strdup(t)))
      return oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  if (m == k->n) {
    int rc = ir_fill_info(e, se->rel, &k->linfo, err);
    if (rc) return rc;
    k->have_lcontent = false;
    if (k->want_content && k->linfo.type == OCI_LAYER_FILE) {
      if ((rc = read_content(se->a, k->linfo.size, k->r->max_read, se->rel,
                             &k->lcontent, &k->lclen, err)))
        return rc;
      k->have_lcontent = true;
    }
  }
  return OCI_OK;
}

/* Undecided descendants of prefix j: gone, or fresh directories. */
static void close_below(lookup *k, size_t j, int64_t layer) {
  for (size_t i = j + 1; i <= k->n; i++) {
    if (k->st[i] == S_UNK) k->st[i] = S_GONE, k->at[i] = layer;
    if (k->st[i] == S_IMPL) k->st[i] = S_DIR;
  }
}

static int path_error(int code, const lookup *k, size_t upto, const char *why,
                      oci_error *err) {
  return oci_error_set(err, code, "/%.*s: %s", (int)k->ends[upto], k->path,
                       why);
}

/* Merges layer L's facts; *done when the chain from the root is decided. */
static int lookup_merge(lookup *k, int64_t L, bool *done, oci_error *err) {
  for (size_t i = 1; i <= k->n; i++) {
    if (k->st[i] == S_UNK || k->st[i] == S_IMPL) {
      if (k->ent[i] >= 0) {
        enum pstate was = k->st[i];
        k->st[i] = (enum pstate)k->ent[i];
        k->at[i] = L;
        if (was == S_IMPL && k->st[i] != S_DIR)
          return path_error(OCI_EUNSUPPORTED, k, i,
                            "a layer writes below this path, which a lower "
                            "layer made a symbolic link or a file (the "
                            "unpacker follows or refuses it): unpack the "
                            "image to read it",
                            err);
        if (k->st[i] == S_LNK) {
          k->target[i] = k->ltarget[i];
          k->ltarget[i] = NULL;
        }
        if (i == k->n) {
          ir_info_clear(&k->info);
          k->info = k->linfo;
          memset(&k->linfo, 0, sizeof k->linfo);
          free(k->content);
          k->content = k->have_lcontent ? k->lcontent : NULL;
          k->clen = k->lclen;
          if (k->have_lcontent) k->lcontent = NULL;
        }
      } else if (k->below[i] && k->st[i] == S_UNK) {
        k->st[i] = S_IMPL;
        k->at[i] = L;
      }
    }
  }
  for (size_t i = 0; i <= k->n; i++) {
    if (i > 0 && k->wh[i]) {
      if (k->st[i] == S_UNK) k->st[i] = S_GONE, k->at[i] = L;
      if (k->st[i] == S_IMPL) k->st[i] = S_DIR;
      close_below(k, i, L);
    }
    if (k->opq[i]) close_below(k, i, L);
    if (i > 0 && k->at[i] == L && (k->st[i] == S_LNK || k->st[i] == S_OTHER))
      close_below(k, i, L);
  }
  /* decided from the root? */
  *done = true;
  for (size_t i = 1; i <= k->n; i++) {
    if (k->st[i] == S_UNK || k->st[i] == S_IMPL) {
      *done = false;
      break;
    }
    if (k->st[i] != S_DIR) break;
  }
  /* reset this layer's facts */
  for (size_t i = 0; i <= k->n; i++) {
    k->ent[i] = -1;
    k->below[i] = k->wh[i] = k->opq[i] = false;
    free(k->ltarget[i]);
    k->ltarget[i] = NULL;
  }
  ir_info_clear(&k->linfo);
  free(k->lcontent);
  k->lcontent = NULL;
  k->have_lcontent = false;
  return OCI_OK;
}

/* Appends "/name" (or name) of length n to buf (length *len), handling "."
   and ".." (stopping at the root). */
static int push_comp(char *buf, size_t *len, const char *name, size_t n,
                     oci_error *err) {
  if (n == 0 || (n == 1 && name[0] == '.')) return OCI_OK;
  if (n == 2 && name[0] == '.' && name[1] == '.') {
    while (*len > 0 && buf[*len - 1] != '/')
      (*len)--;
    if (*len > 0) (*len)--;
    buf[*len] = '\0';
    return OCI_OK;
  }
  if (*len + 1 + n >= PATH_MAX)
    return oci_error_set(err, OCI_EINVAL, "path longer than %d bytes",
                         PATH_MAX - 1);
  if (*len) buf[(*len)++] = '/';
  memcpy(buf + *len, name, n);
  *len += n;
  buf[*len] = '\0';
  return OCI_OK;
}

static int push_path(char *buf, size_t *len, const char *p, oci_error *err) {
  while (*p) {
    const char *s = strchr(p, '/');
    size_t n = s ? (size_t)(s - p) : strlen(p);
    int rc = push_comp(buf, len, p, n, err);
    if (rc) return rc;
    p += n;
    while (*p == '/')
      p++;
  }
  return OCI_OK;
}

/* Resolves path: *out gets the entry (its info.path the resolved path),
   content (when wanted and a regular file) into *data. follow: the last
   component's symbolic links too. */
static int resolve(oci_image_reader *r, const char *path, bool follow,
                   bool want_content, oci_image_entry **out, char **data,
                   size_t *dlen, oci_error *err) {
  char cur[PATH_MAX];
  size_t clen = 0;
  cur[0] = '\0';
  if (strlen(path) >= PATH_MAX)
    return oci_error_set(err, OCI_EINVAL, "path longer than %d bytes",
                         PATH_MAX - 1);
  int rc = push_path(cur, &clen, path, err);
  if (rc) return rc;
  for (int links = 0;; links++) {
    if (links > INROOT_MAX_LINKS)
      return oci_error_set(err, OCI_EINVAL,
                           "%s: more than %d symbolic links (ELOOP)", path,
                           INROOT_MAX_LINKS);
    lookup k = {.r = r, .want_content = want_content};
    memcpy(k.path, cur, clen + 1);
    if ((rc = lookup_init(&k, err))) goto fail;
    for (size_t i = 0; i <= k.n; i++)
      k.ent[i] = -1;
    bool done = k.n == 0;
    for (size_t L = r->n; L-- > 0 && !done;) {
      if ((rc = ir_scan_layer(r, L, lookup_visit, &k, err)) ||
          (rc = lookup_merge(&k, (int64_t)L, &done, err)))
        goto fail;
    }
    /* the end of the layers: implied directories are directories */
    for (size_t i = 1; i <= k.n; i++) {
      if (k.st[i] == S_IMPL) k.st[i] = S_DIR, k.at[i] = -1;
      if (k.st[i] == S_UNK) k.st[i] = S_GONE;
    }
    size_t i = 1;
    while (i < k.n && k.st[i] == S_DIR)
      i++;
    if (k.n == 0 ||
        (i == k.n && k.st[i] != S_GONE && !(follow && k.st[i] == S_LNK))) {
      oci_image_entry *e = calloc(1, sizeof *e);
      if (!e) {
        rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
        goto fail;
      }
      if (k.n == 0 || k.at[k.n] < 0 ||
          !k.info.path) { /* the root, an implied directory */
        e->info.type = OCI_LAYER_DIR;
        e->info.mode = 0755;
        e->layer = -1;
        e->info.path = strdup(k.path);
      } else {
        e->info = k.info;
        memset(&k.info, 0, sizeof k.info);
        e->layer = k.at[k.n];
      }
      if (!e->info.path) {
        oci_image_entry_free(e);
        rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
        goto fail;
      }
      if (data) {
        *data = k.content;
        *dlen = k.clen;
        k.content = NULL;
      }
      *out = e;
      lookup_free(&k);
      return OCI_OK;
    }
    if (k.st[i] == S_GONE) {
      rc = path_error(OCI_EIO, &k, i, "no such file or directory", err);
      goto fail;
    }
    if (k.st[i] == S_OTHER) {
      rc = path_error(OCI_EIO, &k, i, "not a directory", err);
      goto fail;
    }
    /* a symbolic link at i: its target, from prefix i - 1, then the rest */
    {
      char next[PATH_MAX];
      size_t nlen = 0;
      const char *t = k.target[i];
      if (t[0] != '/') {
        nlen = k.ends[i - 1];
        memcpy(next, k.path, nlen);
        next[nlen] = '\0';
      } else {
        next[0] = '\0';
      }
      if ((rc = push_path(next, &nlen, t, err)) ||
          (rc = push_path(next, &nlen, k.path + k.ends[i], err)))
        goto fail;
      memcpy(cur, next, nlen + 1);
      clen = nlen;
    }
    lookup_free(&k);
    continue;
  fail:
    lookup_free(&k);
    return rc;
  }
}

int oci_image_reader_stat(oci_image_reader *r, const char *path, bool follow,
                          oci_image_entry **out, oci_error *err) {
  oci_error_reset(err);
  if (!r || !path || !out)
    return oci_error_set(err, OCI_EINVAL, "oci_image_reader_stat: NULL");
  *out = NULL;
  return resolve(r, path, follow, false, out, NULL, NULL, err);
}

int oci_image_reader_read(oci_image_reader *r, const char *path, char **data,
                          size_t *len, oci_error *err) {
  oci_error_reset(err);
  if (!r || !path || !data || !len)
    return oci_error_set(err, OCI_EINVAL, "oci_image_reader_read: NULL");
  *data = NULL;
  *len = 0;
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s", path);
  for (int hops = 0;; hops++) {
    oci_image_entry *e = NULL;
    char *buf = NULL;
    size_t n = 0;
    int rc = resolve(r, p, true, true, &e, &buf, &n, err);
    if (rc) return rc;
    if (e->info.type == OCI_LAYER_HARDLINK && hops < INROOT_MAX_LINKS) {
      /* a hard link: its target, named from the root, not followed */
      snprintf(p, sizeof p, "/%s", e->info.target);
      oci_image_entry_free(e);
      free(buf);
      continue;
    }
    if (e->info.type != OCI_LAYER_FILE || !buf) {
      rc = oci_error_set(err, OCI_EINVAL, "%s: not a regular file", path);
      oci_image_entry_free(e);
      free(buf);
      return rc;
    }
    oci_image_entry_free(e);
    *data = buf;
    *len = n;
    return OCI_OK;
  }
}

/* ---- listing ----------------------------------------------------------- */

typedef struct child {
  char *name;
  enum pstate st;
  oci_layer_info info;
  int64_t layer;
  bool seen; /* named by the layer being read */
  bool wh, below;
} child;

typedef struct lister {
  lookup k; /* the directory's path: its ancestors' facts */
  child *c; /* hash table by name */
  size_t cap, len;
  int64_t L; /* the layer being read */
} lister;

static uint64_t hash_name(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static child *child_get(lister *ls, const char *name, size_t n) {
  if ((ls->len + 1) * 2 > ls->cap) {
    size_t cap = ls->cap ? ls->cap * 2 : 64;
    child *g = calloc(cap, sizeof *g);
    if (!g) return NULL;
    for (size_t i = 0; i < ls->cap; i++) {
      if (!ls->c[i].name) continue;
      size_t j = hash_name(ls->c[i].name, strlen(ls->c[i].name)) & (cap - 1);
      while (g[j].name)
        j = (j + 1) & (cap - 1);
      g[j] = ls->c[i];
    }
    free(ls->c);
    ls->c = g;
    ls->cap = cap;
  }
  size_t j = hash_name(name, n) & (ls->cap - 1);
  while (ls->c[j].name) {
    if (strncmp(ls->c[j].name, name, n) == 0 && ls->c[j].name[n] == '\0')
      return &ls->c[j];
    j = (j + 1) & (ls->cap - 1);
  }
  if (!(ls->c[j].name = strndup(name, n))) return NULL;
  ls->c[j].st = S_UNK;
  ls->len++;
  return &ls->c[j];
}

static int list_visit(void *ctx, const scan_entry *se, oci_error *err) {
  lister *ls = ctx;
  lookup *k = &ls->k;
  bool exact;
  size_t m = common(k, se->rel, &exact);
  if (m < k->n || (exact && k->n > 0)) {
    /* the directory itself or an ancestor */
    if (exact) {
      if (se->kind == E_OPAQUE) k->opq[m] = true;
      if (se->kind == E_WHITEOUT) k->wh[m] = true;
      if (se->kind == E_ENTRY && m > 0)
        k->ent[m] = archive_entry_hardlink(se->e) ||
                            archive_entry_filetype(se->e) != AE_IFDIR
                        ? S_OTHER
                        : S_DIR;
    }
    return OCI_OK;
  }
  /* below the directory (or the root's own opaque marker) */
  const char *rest = se->rel + k->ends[k->n];
  if (*rest == '/') rest++;
  if (!*rest) {
    if (se->kind == E_OPAQUE) k->opq[k->n] = true;
    return OCI_OK;
  }
  const char *slash = strchr(rest, '/');
  size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
  /* a whiteout or opaque marker deeper down, an opaque marker in a child:
     they change nothing in this directory */
  if ((slash && se->kind != E_ENTRY) || se->kind == E_OPAQUE) return OCI_OK;
  child *c = child_get(ls, rest, n);
  if (!c) return oci_error_set(err, OCI_ENOMEM, "out of memory");
  if (c->st != S_UNK && c->st != S_IMPL) return OCI_OK; /* decided above */
  if (slash) {
    c->below = true;
  } else if (se->kind == E_WHITEOUT) {
    c->wh = true;
  } else {
    int rc = ir_fill_info(se->e, se->rel, &c->info, err);
    if (rc) return rc;
    c->seen = true;
  }
  return OCI_OK;
}

static int list_merge(lister *ls, bool *done) {
  for (size_t j = 0; j < ls->cap; j++) {
    child *c = &ls->c[j];
    if (!c->name) continue;
    if (c->st == S_UNK || c->st == S_IMPL) {
      if (c->seen) {
        c->st = c->info.type == OCI_LAYER_DIR ? S_DIR : S_OTHER;
        c->layer = ls->L;
      } else if (c->below && c->st == S_UNK) {
        c->st = S_IMPL;
      }
      if (c->wh)
        c->st = c->st == S_IMPL ? S_DIR : c->st == S_UNK ? S_GONE : c->st;
    }
    c->seen = c->wh = c->below = false;
  }
  /* the directory or an ancestor whited out, made opaque or replaced in
     this layer: nothing lower shows through */
  lookup *k = &ls->k;
  *done = false;
  for (size_t i = 0; i <= k->n; i++) {
    if (k->opq[i] || (i > 0 && (k->wh[i] || k->ent[i] == S_OTHER)))
      *done = true;
    k->opq[i] = k->wh[i] = false;
    k->ent[i] = -1;
  }
  if (*done)
    for (size_t j = 0; j < ls->cap; j++) {
      child *c = &ls->c[j];
      if (c->name && c->st == S_UNK) c->st = S_GONE;
      if (c->name && c->st == S_IMPL) c->st = S_DIR;
    }
  return OCI_OK;
}

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const oci_image_entry *)a)->info.path,
                ((const oci_image_entry *)b)->info.path);
}

int oci_image_reader_list(oci_image_reader *r, const char *path,
                          oci_image_listing **out, oci_error *err) {
  oci_error_reset(err);
  if (!r || !path || !out)
    return oci_error_set(err, OCI_EINVAL, "oci_image_reader_list: NULL");
  *out = NULL;
  oci_image_entry *dir = NULL;
  int rc = resolve(r, path, true, false, &dir, NULL, NULL, err);
  if (rc) return rc;
  if (dir->info.type != OCI_LAYER_DIR) {
    rc = oci_error_set(err, OCI_EINVAL, "%s: not a directory", path);
    oci_image_entry_free(dir);
    return rc;
  }
  lister ls = {.k = {.r = r}};
  snprintf(ls.k.path, sizeof ls.k.path, "%s", dir->info.path);
  oci_image_entry_free(dir);
  oci_image_listing *l = NULL;
  if ((rc = lookup_init(&ls.k, err))) goto out;
  for (size_t i = 0; i <= ls.k.n; i++)
    ls.k.ent[i] = -1;
  bool done = false;
  for (size_t L = r->n; L-- > 0 && !done;) {
    ls.L = (int64_t)L;
    if ((rc = ir_scan_layer(r, L, list_visit, &ls, err))) goto out;
    list_merge(&ls, &done);
  }
  l = calloc(1, sizeof *l);
  if (!l || (ls.len && !(l->items = calloc(ls.len, sizeof *l->items)))) {
    rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t j = 0; j < ls.cap; j++) {
    child *c = &ls.c[j];
    if (!c->name || c->st == S_GONE || c->st == S_UNK) continue;
    oci_image_entry *e = &l->items[l->len++];
    if (c->st == S_IMPL || !c->info.path) { /* implied */
      char full[PATH_MAX];
      size_t fl = 0;
      full[0] = '\0';
      if ((rc = push_path(full, &fl, ls.k.path, err)) ||
          (rc = push_comp(full, &fl, c->name, strlen(c->name), err)))
        goto out;
      e->info.type = OCI_LAYER_DIR;
      e->info.mode = 0755;
      e->layer = -1;
      if (!(e->info.path = strdup(full))) {
        rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
        goto out;
      }
    } else {
      e->info = c->info;
      memset(&c->info, 0, sizeof c->info);
      e->layer = c->layer;
    }
  }
  if (l->len) qsort(l->items, l->len, sizeof *l->items, cmp_entry);
out:
  for (size_t j = 0; j < ls.cap; j++) {
    free(ls.c[j].name);
    ir_info_clear(&ls.c[j].info);
  }
  free(ls.c);
  lookup_free(&ls.k);
  if (rc)
    oci_image_listing_free(l);
  else
    *out = l;
  return rc;
}
