/* Comparing two images' file trees without unpacking them
   (oci_image_diff_files, ocispec/image_read.h).

   An image's tree is built by streaming its layers base first into one map
   path -> file (type, mode, owner, size, link target, content digest,
   xattrs), with the rules the unpacker (unpack.c) and the image reader
   (image_read.c) follow:
   - a layer's entries are applied in tar order, the last one for a name
     winning; the directories above an entry that no layer names are
     implied (mode 0755, root's);
   - whiteouts and opaque whiteouts "MUST only apply to resources in
     lower/parent layers" (layer.md): after a layer is read, every file that
     a lower layer wrote is dropped when it is whited out, lies below a
     whiteout, below an opaque directory or below a name this layer made a
     non-directory; a dropped directory that this layer writes into is
     made afresh (an implied directory);
   - an entry below a name that a lower layer made a symbolic link or a
     file is OCI_EUNSUPPORTED (the unpacker follows the link or refuses), as
     the image reader says, unless this layer whites that name out;
   - a hard link takes its target's metadata, content digest and xattrs
     (one inode once unpacked); its target must exist and not be a
     directory (the unpacker's errors). Unlike the unpacker, the target's
     directories are not resolved through symbolic links: such a target is
     "does not exist" here.
   Contents are hashed (sha256, holes of sparse files as zeros) as they
   stream; nothing is written to disk. Layers the two images share at the
   bottom (equal blob digests: the same bytes, checked as they are read)
   are read once and their tree copied; when every layer is shared no layer
   is read at all. */
#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "image_read_internal.h"
#include "internal.h"
#include "ocispec/digest.h"
#include "ocispec/hash.h"
#include "xattr_internal.h"

/* ---- a set of strings -------------------------------------------------- */

typedef struct sset {
  char **k;
  size_t cap, len;
} sset;

static uint64_t hash_str(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static void sset_free(sset *s) {
  for (size_t i = 0; i < s->cap; i++)
    free(s->k[i]);
  free(s->k);
  memset(s, 0, sizeof *s);
}

static bool sset_has(const sset *s, const char *p, size_t n) {
  if (!s->len) return false;
  for (size_t j = hash_str(p, n) & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
    if (!s->k[j]) return false;
    if (!strncmp(s->k[j], p, n) && s->k[j][n] == '\0') return true;
  }
}

static int sset_add(sset *s, const char *p, size_t n) {
  if (sset_has(s, p, n)) return 0;
  if ((s->len + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 32;
    char **g = calloc(cap, sizeof *g);
    if (!g) return -1;
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->k[i]) continue;
      size_t j = hash_str(s->k[i], strlen(s->k[i])) & (cap - 1);
      while (g[j])
        j = (j + 1) & (cap - 1);
      g[j] = s->k[i];
    }
    free(s->k);
    s->k = g;
    s->cap = cap;
  }
  size_t j = hash_str(p, n) & (s->cap - 1);
  while (s->k[j])
    j = (j + 1) & (s->cap - 1);
  if (!(s->k[j] = strndup(p, n))) return -1;
  s->len++;
  return 0;
}

/* ---- the tree ---------------------------------------------------------- */

typedef struct tree {
  oci_image_file *f; /* every path ever written (dead ones kept) */
  bool *dead;
  int64_t *wl; /* the layer that wrote or implied it */
  size_t len, cap;
  size_t *tab; /* hash table: index + 1, 0 empty */
  size_t tcap;
} tree;

static void xattrs_free(oci_image_file *f) {
  for (size_t i = 0; i < f->n_xattrs; i++) {
    free(f->xattrs[i].name);
    free(f->xattrs[i].value);
  }
  free(f->xattrs);
  f->xattrs = NULL;
  f->n_xattrs = 0;
}

static void file_clear(oci_image_file *f) {
  ir_info_clear(&f->info);
  xattrs_free(f);
  memset(f, 0, sizeof *f);
}

static void tree_free(tree *t) {
  if (!t) return;
  for (size_t i = 0; i < t->len; i++)
    file_clear(&t->f[i]);
  free(t->f);
  free(t->dead);
  free(t->wl);
  free(t->tab);
  free(t);
}

static size_t *tree_slot(const tree *t, const char *p, size_t n) {
  for (size_t j = hash_str(p, n) & (t->tcap - 1);;
       j = (j + 1) & (t->tcap - 1)) {
    size_t v = t->tab[j];
    if (!v) return &t->tab[j];
    const char *q = t->f[v - 1].info.path;
    if (!strncmp(q, p, n) && q[n] == '\0') return &t->tab[j];
  }
}

/* The live file at p (n bytes), or NULL. */
static oci_image_file *tree_get(const tree *t, const char *p, size_t n,
                                size_t *idx) {
  if (!t->tcap) return NULL;
  size_t v = *tree_slot(t, p, n);
  if (!v || t->dead[v - 1]) return NULL;
  if (idx) *idx = v - 1;
  return &t->f[v - 1];
}

/* The slot for p (n bytes), made when absent (dead, zeroed but for its
   path). NULL: out of memory. */
static oci_image_file *tree_put(tree *t, const char *p, size_t n, size_t *idx) {
  if ((t->len + 1) * 2 > t->tcap) {
    size_t cap = t->tcap ? t->tcap * 2 : 256;
    size_t *g = calloc(cap, sizeof *g);
    if (!g) return NULL;
    free(t->tab);
    t->tab = g;
    t->tcap = cap;
    for (size_t i = 0; i < t->len; i++)
      *tree_slot(t, t->f[i].info.path, strlen(t->f[i].info.path)) = i + 1;
  }
  size_t *s = tree_slot(t, p, n);
  if (*s) {
    *idx = *s - 1;
    return &t->f[*s - 1];
  }
  if (t->len == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 256;
    oci_image_file *f = realloc(t->f, cap * sizeof *f);
    if (!f) return NULL;
    t->f = f;
    bool *d = realloc(t->dead, cap * sizeof *d);
    if (!d) return NULL;
    t->dead = d;
    int64_t *w = realloc(t->wl, cap * sizeof *w);
    if (!w) return NULL;
    t->wl = w;
    t->cap = cap;
  }
  oci_image_file *f = &t->f[t->len];
  memset(f, 0, sizeof *f);
  if (!(f->info.path = strndup(p, n))) return NULL;
  t->dead[t->len] = true;
  t->wl[t->len] = -1;
  *s = t->len + 1;
  *idx = t->len++;
  return f;
}

static int file_copy(oci_image_file *d, const oci_image_file *s) {
  memset(d, 0, sizeof *d);
  d->info = s->info;
  d->info.path = NULL;
  d->info.target = NULL;
  memcpy(d->digest, s->digest, sizeof d->digest);
  d->layer = s->layer;
  if (!(d->info.path = strdup(s->info.path))) return -1;
  if (s->info.target && !(d->info.target = strdup(s->info.target))) return -1;
  if (s->n_xattrs) {
    if (!(d->xattrs = calloc(s->n_xattrs, sizeof *d->xattrs))) return -1;
    for (size_t i = 0; i < s->n_xattrs; i++) {
      d->n_xattrs = i + 1;
      oci_image_xattr *x = &d->xattrs[i];
      x->len = s->xattrs[i].len;
      if (!(x->name = strdup(s->xattrs[i].name)) ||
          !(x->value = malloc(x->len + 1)))
        return -1;
      memcpy(x->value, s->xattrs[i].value, x->len + 1);
    }
  }
  return 0;
}

static tree *tree_clone(const tree *s) {
  tree *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  if (s->cap) {
    t->f = calloc(s->cap, sizeof *t->f);
    t->dead = calloc(s->cap, sizeof *t->dead);
    t->wl = calloc(s->cap, sizeof *t->wl);
    t->tab = calloc(s->tcap, sizeof *t->tab);
    if (!t->f || !t->dead || !t->wl || !t->tab) goto fail;
    t->cap = s->cap;
    t->tcap = s->tcap;
    memcpy(t->dead, s->dead, s->len * sizeof *t->dead);
    memcpy(t->wl, s->wl, s->len * sizeof *t->wl);
    memcpy(t->tab, s->tab, s->tcap * sizeof *t->tab);
    for (size_t i = 0; i < s->len; i++) {
      t->len = i + 1;
      if (file_copy(&t->f[i], &s->f[i])) goto fail;
    }
  }
  return t;
fail:
  tree_free(t);
  return NULL;
}

/* ---- applying one layer ------------------------------------------------ */

typedef struct applier {
  tree *t;
  int64_t L;
  sset wh;      /* whited-out paths */
  sset opq;     /* opaque directories */
  sset closed;  /* made a non-directory by this layer */
  sset anc;     /* directories this layer writes into */
  sset pending; /* lower non-directories this layer wrote below */
  unsigned char *buf;
} applier;

static int nomem(oci_error *err) {
  return oci_error_set(err, OCI_ENOMEM, "out of memory");
}

static int xattr_cmp(const void *a, const void *b) {
  return strcmp(((const oci_image_xattr *)a)->name,
                ((const oci_image_xattr *)b)->name);
}

/* The entry's xattrs that the unpacker restores (oci_xattr_kept), sorted,
   within the unpacker's limits. */
static int read_xattrs(struct archive_entry *e, const char *rel,
                       oci_image_file *f, oci_error *err) {
  const char *name;
  const void *value;
  size_t size, total = 0, n = 0;
  int c = archive_entry_xattr_reset(e);
  if (c <= 0) return OCI_OK;
  if (!(f->xattrs = calloc((size_t)c, sizeof *f->xattrs))) return nomem(err);
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    size_t nl = name ? strlen(name) : 0;
    if (!nl)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": an xattr without a name", rel);
    if (nl > OCI_XATTR_NAME_MAX || size > OCI_XATTR_VALUE_MAX)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": xattr \"%.64s\": name longer "
                           "than %d bytes or value larger than %d",
                           rel, name, OCI_XATTR_NAME_MAX, OCI_XATTR_VALUE_MAX);
    total += nl + size;
    if (total > OCI_XATTR_ENTRY_MAX)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%s\": more than %u bytes of xattrs",
                           rel, OCI_XATTR_ENTRY_MAX);
    if (!oci_xattr_kept(name) || n >= (size_t)c) continue;
    oci_image_xattr *x = &f->xattrs[n];
    f->n_xattrs = ++n;
    if (!(x->name = strdup(name)) || !(x->value = malloc(size + 1)))
      return nomem(err);
    if (size) memcpy(x->value, value, size);
    x->value[size] = '\0';
    x->len = size;
  }
  if (n > 1) qsort(f->xattrs, n, sizeof *f->xattrs, xattr_cmp);
  return OCI_OK;
}

static const unsigned char zeros[64 * 1024];

static int hash_zeros(oci_hasher *h, uint64_t n, oci_error *err) {
  while (n) {
    size_t k = n > sizeof zeros ? sizeof zeros : (size_t)n;
    int rc = oci_hasher_update(h, zeros, k, err);
    if (rc) return rc;
    n -= k;
  }
  return OCI_OK;
}

/* The sha256 of the entry's content (holes as zeros) into f->digest. */
static int hash_content(struct archive *a, const char *rel, oci_image_file *f,
                        oci_error *err) {
  oci_hasher *h = NULL;
  int rc = oci_hasher_new(OCI_DIGEST_SHA256, &h, err);
  if (rc) return rc;
  uint64_t at = 0;
  for (;;) {
    const void *blk;
    size_t n;
    la_int64_t off;
    int ar = archive_read_data_block(a, &blk, &n, &off);
    if (ar == ARCHIVE_EOF) break;
    if (ar < ARCHIVE_WARN || off < 0 || (uint64_t)off < at ||
        (uint64_t)off + n > f->info.size) {
      const char *m = archive_error_string(a);
      rc = oci_error_set(err, OCI_EINVAL, "layer entry \"%s\": corrupt: %s",
                         rel, m ? m : "bad data block");
      goto out;
    }
    if ((rc = hash_zeros(h, (uint64_t)off - at, err)) ||
        (n && (rc = oci_hasher_update(h, blk, n, err))))
      goto out;
    at = (uint64_t)off + n;
  }
  if ((rc = hash_zeros(h, f->info.size - at, err))) goto out;
  rc = oci_hasher_finish(h, f->digest, err);
out:
  oci_hasher_free(h);
  return rc;
}

static int unsupported(const char *p, size_t n, oci_error *err) {
  return oci_error_set(err, OCI_EUNSUPPORTED,
                       "/%.*s: a layer writes below this path, which a lower "
                       "layer made a symbolic link or a file (the unpacker "
                       "follows or refuses it): unpack the image to compare "
                       "it",
                       (int)n, p);
}

/* The directories above rel: implied where missing, checked where not. */
static int ensure_parents(applier *ap, const char *rel, oci_error *err) {
  tree *t = ap->t;
  for (const char *s = strchr(rel, '/'); s; s = strchr(s + 1, '/')) {
    size_t n = (size_t)(s - rel);
    if (sset_add(&ap->anc, rel, n)) return nomem(err);
    size_t i;
    oci_image_file *f = tree_get(t, rel, n, &i);
    if (f && f->info.type == OCI_LAYER_DIR) continue;
    if (f) {
      if (t->wl[i] == ap->L) return unsupported(rel, n, err);
      if (sset_add(&ap->pending, rel, n)) return nomem(err);
    }
    if (!(f = tree_put(t, rel, n, &i))) return nomem(err);
    char *path = f->info.path;
    f->info.path = NULL;
    file_clear(f);
    f->info.path = path;
    f->info.type = OCI_LAYER_DIR;
    f->info.mode = 0755;
    f->layer = -1;
    t->dead[i] = false;
    t->wl[i] = ap->L;
  }
  return OCI_OK;
}

static int apply_visit(void *ctx, const scan_entry *se, oci_error *err) {
  applier *ap = ctx;
  tree *t = ap->t;
  const char *rel = se->rel;
  size_t rl = strlen(rel);
  if (se->kind == E_WHITEOUT)
    return sset_add(&ap->wh, rel, rl) ? nomem(err) : OCI_OK;
  if (se->kind == E_OPAQUE)
    return sset_add(&ap->opq, rel, rl) ? nomem(err) : OCI_OK;
  if (!rl) return OCI_OK; /* the root directory: not compared */
  oci_image_file nf = {0};
  int rc = ir_fill_info(se->e, rel, &nf.info, err);
  if (rc) goto fail;
  nf.layer = ap->L;
  if (nf.info.type == OCI_LAYER_HARDLINK) {
    const oci_image_file *tg =
        tree_get(t, nf.info.target, strlen(nf.info.target), NULL);
    if (!tg || tg->info.type == OCI_LAYER_DIR) {
      /* the unpacker's errors */
      rc = tg ? oci_error_set(err, OCI_EINVAL,
                              "layer entry \"%s\": hard link to a directory",
                              rel)
              : oci_error_set(err, OCI_EINVAL,
                              "layer entry \"%s\": hard link target \"%s\" "
                              "does not exist",
                              rel, nf.info.target);
      goto fail;
    }
    oci_image_file c;
    if (file_copy(&c, tg)) {
      file_clear(&c);
      rc = nomem(err);
      goto fail;
    }
    free(c.info.path);
    free(c.info.target);
    c.info.path = nf.info.path;
    c.info.target = nf.info.target;
    c.info.type = OCI_LAYER_HARDLINK;
    c.info.mtime = nf.info.mtime;
    c.layer = ap->L;
    nf = c;
  } else {
    if ((rc = read_xattrs(se->e, rel, &nf, err))) goto fail;
    if (nf.info.type == OCI_LAYER_FILE &&
        (rc = hash_content(se->a, rel, &nf, err)))
      goto fail;
  }
  if ((rc = ensure_parents(ap, rel, err))) goto fail;
  if (nf.info.type != OCI_LAYER_DIR && sset_add(&ap->closed, rel, rl)) {
    rc = nomem(err);
    goto fail;
  }
  size_t i;
  oci_image_file *f = tree_put(t, rel, rl, &i);
  if (!f) {
    rc = nomem(err);
    goto fail;
  }
  file_clear(f);
  *f = nf;
  t->dead[i] = false;
  t->wl[i] = ap->L;
  return OCI_OK;
fail:
  file_clear(&nf);
  return rc;
}

/* Whether a lower layer's file at p is hidden by this layer. */
static bool covered(const applier *ap, const char *p) {
  size_t n = strlen(p);
  if (sset_has(&ap->wh, p, n)) return true;
  if (sset_has(&ap->opq, "", 0)) return true;
  for (const char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
    size_t k = (size_t)(s - p);
    if (sset_has(&ap->wh, p, k) || sset_has(&ap->opq, p, k) ||
        sset_has(&ap->closed, p, k))
      return true;
  }
  return false;
}

static int apply_layer(oci_image_reader *r, size_t L, tree *t, oci_error *err) {
  applier ap = {.t = t, .L = (int64_t)L};
  int rc = ir_scan_layer(r, L, apply_visit, &ap, err);
  if (rc) goto out;
  for (size_t j = 0; j < ap.pending.cap; j++)
    if (ap.pending.k[j] && !covered(&ap, ap.pending.k[j])) {
      rc = unsupported(ap.pending.k[j], strlen(ap.pending.k[j]), err);
      goto out;
    }
  if (ap.wh.len || ap.opq.len || ap.closed.len)
    for (size_t i = 0; i < t->len; i++) {
      if (t->dead[i] || t->wl[i] >= (int64_t)L) continue;
      oci_image_file *f = &t->f[i];
      if (!covered(&ap, f->info.path)) continue;
      if (f->info.type == OCI_LAYER_DIR &&
          sset_has(&ap.anc, f->info.path, strlen(f->info.path))) {
        /* written into by this layer: a fresh directory */
        char *path = f->info.path;
        f->info.path = NULL;
        file_clear(f);
        f->info.path = path;
        f->info.type = OCI_LAYER_DIR;
        f->info.mode = 0755;
        f->layer = -1;
        t->wl[i] = (int64_t)L;
      } else {
        t->dead[i] = true;
      }
    }
out:
  sset_free(&ap.wh);
  sset_free(&ap.opq);
  sset_free(&ap.closed);
  sset_free(&ap.anc);
  sset_free(&ap.pending);
  return rc;
}

/* ---- comparing --------------------------------------------------------- */

typedef struct trees {
  tree *a, *b;
} trees;

static int file_ptr_cmp(const void *x, const void *y) {
  return strcmp((*(oci_image_file *const *)x)->info.path,
                (*(oci_image_file *const *)y)->info.path);
}

/* The live files of t, sorted by path (*out malloc'd). */
static int sorted(const tree *t, oci_image_file ***out, size_t *n) {
  *n = 0;
  *out = malloc((t->len ? t->len : 1) * sizeof **out);
  if (!*out) return -1;
  for (size_t i = 0; i < t->len; i++)
    if (!t->dead[i]) (*out)[(*n)++] = &t->f[i];
  if (*n > 1) qsort(*out, *n, sizeof **out, file_ptr_cmp);
  return 0;
}

static bool streq(const char *a, const char *b) {
  return (!a && !b) || (a && b && !strcmp(a, b));
}

static unsigned what_changed(const oci_image_file *a, const oci_image_file *b) {
  unsigned w = 0;
  if (a->info.type != b->info.type) w |= OCI_CHANGE_TYPE;
  if (strcmp(a->digest, b->digest) || a->info.size != b->info.size)
    w |= OCI_CHANGE_CONTENT;
  if (!streq(a->info.target, b->info.target)) w |= OCI_CHANGE_TARGET;
  if (a->info.mode != b->info.mode) w |= OCI_CHANGE_MODE;
  if (a->info.uid != b->info.uid || a->info.gid != b->info.gid)
    w |= OCI_CHANGE_OWNER;
  bool xs = a->n_xattrs == b->n_xattrs;
  for (size_t i = 0; xs && i < a->n_xattrs; i++)
    xs = !strcmp(a->xattrs[i].name, b->xattrs[i].name) &&
         a->xattrs[i].len == b->xattrs[i].len &&
         !memcmp(a->xattrs[i].value, b->xattrs[i].value, a->xattrs[i].len);
  if (!xs) w |= OCI_CHANGE_XATTRS;
  if (a->info.major != b->info.major || a->info.minor != b->info.minor)
    w |= OCI_CHANGE_DEVICE;
  return w;
}

void oci_image_diff_free(oci_image_diff *d) {
  if (!d) return;
  trees *ts = d->trees;
  if (ts) {
    tree_free(ts->a);
    tree_free(ts->b);
    free(ts);
  }
  free(d->items);
  free(d);
}

static int build(oci_image_reader *r, size_t from, tree *t, oci_error *err) {
  for (size_t L = from; L < r->n; L++) {
    int rc = apply_layer(r, L, t, err);
    if (rc) return rc;
  }
  return OCI_OK;
}

int oci_image_diff_files(oci_image_reader *a, oci_image_reader *b,
                         oci_image_diff **out, oci_error *err) {
  oci_error_reset(err);
  if (out) *out = NULL;
  if (!a || !b || !out)
    return oci_error_set(err, OCI_EINVAL, "oci_image_diff_files: %s missing",
                         !a   ? "a"
                         : !b ? "b"
                              : "out");
  oci_image_diff *d = calloc(1, sizeof *d);
  trees *ts = calloc(1, sizeof *ts);
  oci_image_file **fa = NULL, **fb = NULL;
  int rc = OCI_OK;
  if (!d || !ts) {
    free(ts);
    free(d);
    return nomem(err);
  }
  d->trees = ts;
  size_t k = 0;
  while (k < a->n && k < b->n &&
         !strcmp(a->layers[k].digest, b->layers[k].digest) &&
         a->layers[k].size == b->layers[k].size)
    k++;
  d->layers_shared = k;
  if (k == a->n && k == b->n) { /* the same layers: the same files */
    *out = d;
    return OCI_OK;
  }
  if (!(ts->a = calloc(1, sizeof *ts->a))) {
    rc = nomem(err);
    goto out;
  }
  for (size_t L = 0; L < k; L++)
    if ((rc = apply_layer(a, L, ts->a, err))) goto out;
  if (!(ts->b = tree_clone(ts->a))) {
    rc = nomem(err);
    goto out;
  }
  if ((rc = build(a, k, ts->a, err)) || (rc = build(b, k, ts->b, err)))
    goto out;
  size_t na, nb;
  if (sorted(ts->a, &fa, &na) || sorted(ts->b, &fb, &nb) ||
      !(d->items = calloc(na + nb ? na + nb : 1, sizeof *d->items))) {
    rc = nomem(err);
    goto out;
  }
  size_t i = 0, j = 0;
  while (i < na || j < nb) {
    int c = i == na   ? 1
            : j == nb ? -1
                      : strcmp(fa[i]->info.path, fb[j]->info.path);
    oci_image_change *ch = &d->items[d->len];
    if (c < 0) {
      *ch = (oci_image_change){'D', 0, fa[i++], NULL};
      d->len++;
    } else if (c > 0) {
      *ch = (oci_image_change){'A', 0, NULL, fb[j++]};
      d->len++;
    } else {
      unsigned w = what_changed(fa[i], fb[j]);
      if (w) {
        *ch = (oci_image_change){'C', w, fa[i], fb[j]};
        d->len++;
      }
      i++, j++;
    }
  }
out:
  free(fa);
  free(fb);
  if (rc)
    oci_image_diff_free(d);
  else
    *out = d;
  return rc;
}
