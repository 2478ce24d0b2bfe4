/* Walking an OCI image layout from index.json: resolving a reference to a
   manifest for a platform, garbage collection, and full verification
   (image-spec image-layout.md, manifest.md, image-index.md, config.md,
   layer.md). */
#include "layout_internal.h"

#include <archive.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocispec/hash.h"
#include "ocispec/platform.h"

/* Nested indexes deeper than this are refused: content addressing rules
   out cycles, but not a hostile chain of thousands of indexes. */
#define MAX_NESTING 16
/* Manifests, indexes and configs read whole are at most this big. */
#define MAX_DOCUMENT ((size_t)64 << 20)

/* "sha256:0123456789ab" for messages. */
static const char *short_digest(const char *d, char buf[32]) {
  snprintf(buf, 32, "%.19s", d ? d : "?");
  return buf;
}

/* ---- resolve ------------------------------------------------------------ */

typedef struct want {
  const char *os, *arch, *variant;
} want;

typedef struct rstate {
  const oci_layout *l;
  want w;
  char avail[384]; /* what the indexes offer, for the "no match" message */
  bool nomatch;
} rstate;

static void avail_add(rstate *s, const char *os, const char *arch,
                      const char *variant) {
  size_t n = strlen(s->avail);
  if (n + 4 >= sizeof s->avail) return;
  snprintf(s->avail + n, sizeof s->avail - n, "%s%s/%s%s%s", n ? ", " : "",
           os ? os : "?", arch ? arch : "?", variant ? "/" : "",
           variant ? variant : "");
}

/* image-index.md "platform": os and architecture must match; a variant
   is compared when both sides name one. */
static bool platform_matches(const want *w, const char *os, const char *arch,
                             const char *variant) {
  return oci_platform_matches(w->os, w->arch, w->variant, os, arch, variant);
}

static int load_manifest(const oci_layout *l, const oci_image_descriptor *d,
                         oci_layout_resolved *r, oci_error *err) {
  int rc =
      oci_layout_get_document(l, d->digest, d->size, &oci_type_image_manifest,
                              (void **)&r->manifest, err);
  if (rc) return rc;
  const oci_image_descriptor *c = r->manifest->config;
  /* an artifact's config is not an image configuration: config stays NULL */
  if (oci_media_type_is_config(c->media_type) &&
      (rc = oci_layout_get_document(l, c->digest, c->size,
                                    &oci_type_image_configuration,
                                    (void **)&r->config, err)))
    return rc;
  return oci_clone(&oci_type_image_descriptor, d, (void **)&r->descriptor, err);
}

static void clear_manifest(oci_layout_resolved *r) {
  oci_image_manifest_free(r->manifest);
  oci_image_configuration_free(r->config);
  oci_image_descriptor_free(r->descriptor);
  r->manifest = NULL;
  r->config = NULL;
  r->descriptor = NULL;
}

static int resolve_index(rstate *s, const oci_image_descriptor *d, int depth,
                         oci_layout_resolved *r, oci_error *err) {
  if (depth > MAX_NESTING)
    return oci_error_set(err, OCI_EUNSUPPORTED,
                         "index %s: indexes nested more than %d deep",
                         d->digest, MAX_NESTING);
  oci_image_index *idx;
  int rc = oci_layout_get_document(s->l, d->digest, d->size,
                                   &oci_type_image_index, (void **)&idx, err);
  if (rc) return rc;
  for (size_t i = 0; i < idx->manifests.len; i++) {
    const oci_image_descriptor *e = idx->manifests.items[i];
    if (oci_media_type_is_index(e->media_type)) {
      rc = resolve_index(s, e, depth + 1, r, err);
      if (rc == OCI_OK || !s->nomatch) goto out;
      continue;
    }
    if (!oci_media_type_is_manifest(e->media_type)) continue;
    if (oci_is_present(e, OCI_F_image_descriptor_platform)) {
      const oci_image_platform *p = e->platform;
      const char *v =
          oci_is_present(p, OCI_F_image_platform_variant) ? p->variant : NULL;
      if (platform_matches(&s->w, p->os, p->architecture, v)) {
        rc = load_manifest(s->l, e, r, err);
        goto out;
      }
      avail_add(s, p->os, p->architecture, v);
      continue;
    }
    /* no platform in the index: the config says what the image is for */
    if ((rc = load_manifest(s->l, e, r, err))) goto out;
    const oci_image_configuration *c = r->config;
    const char *cv =
        c && oci_is_present(c, OCI_F_image_configuration_variant) &&
                !oci_is_null(c, OCI_F_image_configuration_variant)
            ? c->variant
            : NULL;
    if (c && platform_matches(&s->w, c->os, c->architecture, cv)) goto out;
    avail_add(s, c ? c->os : NULL, c ? c->architecture : NULL, cv);
    clear_manifest(r);
  }
  s->nomatch = true;
  rc = oci_error_set(
      err, OCI_EINVAL, "index %s has no manifest for %s/%s%s%s (available: %s)",
      d->digest, s->w.os, s->w.arch, s->w.variant ? "/" : "",
      s->w.variant ? s->w.variant : "", s->avail[0] ? s->avail : "none");
out:
  if (rc == OCI_OK && depth == 0)
    r->index = idx;
  else
    oci_image_index_free(idx);
  if (rc == OCI_OK) s->nomatch = false;
  return rc;
}

/* A digest that index.json does not list: its media type comes from the
   document itself (manifest.md, image-index.md "mediaType"). */
static int sniff(const oci_layout *l, const char *digest,
                 oci_image_descriptor **out, oci_error *err) {
  char *b;
  size_t n;
  int rc = oci_layout_get_blob(l, digest, -1, &b, &n, err);
  if (rc) return rc;
  oci_image_manifest *m = NULL;
  const char *mt = NULL;
  if (oci_image_manifest_parse(b, n, NULL, &m, NULL) == OCI_OK)
    mt = oci_is_present(m, OCI_F_image_manifest_media_type)
             ? m->media_type
             : OCI_MEDIA_TYPE_IMAGE_MANIFEST;
  else {
    oci_image_index *x;
    if (oci_image_index_parse(b, n, NULL, &x, NULL) == OCI_OK) {
      rc = oci_image_descriptor_make(
          oci_is_present(x, OCI_F_image_index_media_type)
              ? x->media_type
              : OCI_MEDIA_TYPE_IMAGE_INDEX,
          digest, (int64_t)n, out, err);
      oci_image_index_free(x);
      free(b);
      return rc;
    }
  }
  if (mt)
    rc = oci_image_descriptor_make(mt, digest, (int64_t)n, out, err);
  else
    rc = oci_error_set(err, OCI_EUNSUPPORTED,
                       "blob %s is neither an image manifest nor an index",
                       digest);
  oci_image_manifest_free(m);
  free(b);
  return rc;
}

int oci_layout_lookup(const oci_layout *l, const char *ref,
                      oci_image_descriptor **out, oci_error *err) {
  OL_ERR(err);
  *out = NULL;
  if (!ref) return oci_error_set(err, OCI_EINVAL, "lookup: name missing");
  oci_image_index *top;
  int rc = ol_read_index(l->root, &top, err);
  if (rc) return rc;
  const oci_image_descriptor *d = NULL;
  for (size_t i = 0; i < top->manifests.len && !d; i++)
    if (ol_str_eq(ol_ref_name(top->manifests.items[i]), ref))
      d = top->manifests.items[i];
  if (!d && oci_digest_parse(ref, strlen(ref), NULL, NULL) == OCI_OK) {
    for (size_t i = 0; i < top->manifests.len && !d; i++)
      if (ol_str_eq(top->manifests.items[i]->digest, ref))
        d = top->manifests.items[i];
    if (!d) {
      rc = sniff(l, ref, out, err);
      oci_image_index_free(top);
      return rc;
    }
  }
  if (!d) {
    char names[256] = "";
    for (size_t i = 0; i < top->manifests.len; i++) {
      const char *n = ol_ref_name(top->manifests.items[i]);
      size_t k = strlen(names);
      if (n && k + 4 < sizeof names)
        snprintf(names + k, sizeof names - k, "%s%s", k ? ", " : "", n);
    }
    rc = oci_error_set(err, OCI_EINVAL,
                       "no tag \"%s\" in %s/index.json (tags: %s)", ref,
                       l->root, names[0] ? names : "none");
  } else if (oci_clone(&oci_type_image_descriptor, d, (void **)out, err))
    rc = ol_nomem(err);
  oci_image_index_free(top);
  return rc;
}

int oci_layout_resolve(const oci_layout *l, const char *ref,
                       const oci_layout_platform *platform,
                       oci_layout_resolved **out, oci_error *err) {
  OL_ERR(err);
  *out = NULL;
  if (!ref) return oci_error_set(err, OCI_EINVAL, "resolve: name missing");
  oci_image_descriptor *d;
  int rc = oci_layout_lookup(l, ref, &d, err);
  if (rc) return ol_wrap(err, "resolve");
  oci_layout_resolved *r = calloc(1, sizeof *r);
  if (!r) {
    rc = ol_nomem(err);
    goto out;
  }
  if (oci_media_type_is_manifest(d->media_type)) {
    rc = load_manifest(l, d, r, err);
  } else if (oci_media_type_is_index(d->media_type)) {
    rstate s;
    memset(&s, 0, sizeof s);
    s.l = l;
    bool given = platform && (platform->os || platform->architecture);
    s.w.os = platform && platform->os ? platform->os : oci_host_os();
    s.w.arch = platform && platform->architecture ? platform->architecture
                                                  : oci_host_arch();
    s.w.variant = platform && platform->variant ? platform->variant
                  : given                       ? NULL
                                                : oci_host_variant();
    rc = resolve_index(&s, d, 0, r, err);
  } else {
    rc = oci_error_set(err, OCI_EUNSUPPORTED,
                       "resolve %s: %s has media type %s, not an image "
                       "manifest or index",
                       ref, d->digest, d->media_type);
  }
  if (rc)
    oci_layout_resolved_free(r);
  else
    *out = r;
out:
  oci_image_descriptor_free(d);
  return rc;
}

void oci_layout_resolved_free(oci_layout_resolved *r) {
  if (!r) return;
  clear_manifest(r);
  oci_image_index_free(r->index);
  free(r);
}

/* ---- digests sets ------------------------------------------------------- */

typedef struct dset {
  char **items;
  size_t len, cap;
} dset;

static bool dset_has(const dset *s, const char *d) {
  for (size_t i = 0; i < s->len; i++)
    if (strcmp(s->items[i], d) == 0) return true;
  return false;
}

static int dset_add(dset *s, const char *d) {
  if (s->len == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    char **p = realloc(s->items, cap * sizeof *p);
    if (!p) return OCI_ENOMEM;
    s->items = p;
    s->cap = cap;
  }
  if (!(s->items[s->len] = strdup(d))) return OCI_ENOMEM;
  s->len++;
  return OCI_OK;
}

static void dset_free(dset *s) {
  for (size_t i = 0; i < s->len; i++)
    free(s->items[i]);
  free(s->items);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- gc ----------------------------------------------------------------- */

/* what: "gc" (a document that cannot be read stops gc: OCI_EINVAL,
   "nothing removed") or "tag NAME" (its own error, named). */
static int gc_mark(const oci_layout *l, const oci_image_descriptor *d,
                   dset *live, int depth, const char *what, oci_error *err);

static int gc_mark_all(const oci_layout *l, oci_image_descriptor *const *v,
                       size_t n, dset *live, int depth, const char *what,
                       oci_error *err) {
  for (size_t i = 0; i < n; i++) {
    int rc = gc_mark(l, v[i], live, depth, what, err);
    if (rc) return rc;
  }
  return OCI_OK;
}

/* image-layout.md: blobs reachable from index.json are kept. A subject
   (manifest.md "subject") points the other way, at what a referrer is
   about: it does not keep its target alive. */
static int gc_mark(const oci_layout *l, const oci_image_descriptor *d,
                   dset *live, int depth, const char *what, oci_error *err) {
  if (dset_has(live, d->digest)) return OCI_OK;
  if (dset_add(live, d->digest)) return ol_nomem(err);
  if (depth > MAX_NESTING)
    return oci_error_set(err, OCI_EUNSUPPORTED,
                         "%s: indexes nested more than %d deep", what,
                         MAX_NESTING);
  const char *mt = d->media_type;
  const oci_type *t = oci_media_type_is_manifest(mt) ? &oci_type_image_manifest
                      : oci_media_type_is_index(mt)  ? &oci_type_image_index
                      : ol_str_eq(mt, OCI_MEDIA_TYPE_ARTIFACT_MANIFEST)
                          ? &oci_type_image_artifact_manifest
                          : NULL;
  if (!t && strcmp(what, "gc") != 0 && depth > 0 &&
      !oci_is_present(d, OCI_F_image_descriptor_urls)) {
    /* tag: a config or layer a concurrent gc removed would be lost for
       good; only blobs an external store provides (urls) may be absent */
    bool have;
    int rc = oci_layout_has_blob(l, d->digest, &have, err);
    if (rc) return ol_wrap(err, what);
    if (!have)
      return oci_error_set(err, OCI_EIO,
                           "%s: blob %s is missing from the layout (put it "
                           "before tagging what refers to it; a gc may have "
                           "removed it)",
                           what, d->digest);
  }
  if (!t) return OCI_OK;
  void *doc;
  int rc = oci_layout_get_document(l, d->digest, d->size, t, &doc, err);
  if (rc && strcmp(what, "gc") != 0) return ol_wrap(err, what);
  if (rc) {
    /* its references are unknown: removing anything could lose data */
    char m[OCI_ERROR_MESSAGE_MAX];
    snprintf(m, sizeof m, "%s", err ? err->message : "");
    return oci_error_set(err, rc == OCI_ENOMEM ? OCI_ENOMEM : OCI_EINVAL,
                         "gc: nothing removed: %s", m);
  }
  if (t == &oci_type_image_manifest) {
    oci_image_manifest *m = doc;
    rc = gc_mark(l, m->config, live, depth + 1, what, err);
    if (!rc)
      rc = gc_mark_all(l, m->layers.items, m->layers.len, live, depth + 1, what,
                       err);
  } else if (t == &oci_type_image_index) {
    oci_image_index *x = doc;
    rc = gc_mark_all(l, x->manifests.items, x->manifests.len, live, depth + 1,
                     what, err);
  } else {
    oci_image_artifact_manifest *a = doc;
    rc = gc_mark_all(l, a->blobs.items, a->blobs.len, live, depth + 1, what,
                     err);
  }
  oci_free(doc);
  return rc;
}

/* Called by tag under the index lock: d's blob is present, and so is every
   document gc reads from it (the new entry cannot break a later gc) and
   every config and layer they name, except those with urls (descriptor.md:
   an external store provides them). */
int ol_check_taggable(const oci_layout *l, const oci_image_descriptor *d,
                      const char *what, oci_error *err) {
  bool have;
  int rc = oci_layout_has_blob(l, d->digest, &have, err);
  if (rc) return ol_wrap(err, what);
  if (!have)
    return oci_error_set(err, OCI_EIO,
                         "%s: blob %s is missing from the layout (put it "
                         "before tagging it; a gc may have removed it)",
                         what, d->digest);
  dset live = {0};
  rc = gc_mark(l, d, &live, 0, what, err);
  dset_free(&live);
  return rc;
}

/* A temporary file nobody holds a lock on is left over from a crash or an
   abandoned writer. */
static bool tmp_is_stale(int dfd, const char *name) {
  int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return false;
  bool stale = flock(fd, LOCK_EX | LOCK_NB) == 0;
  close(fd); /* releases the probe lock */
  return stale;
}

/* Calls fn(dfd, name, arg) for each stale temporary file of the temporary
   directory dfd. A temporary area that is a symlink is not entered: nothing
   outside the layout is listed or removed. */
static int each_stale_tmp(const char *root,
                          int (*fn)(int dfd, const char *name, void *arg),
                          void *arg) {
  int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0) return OCI_OK;
  int dfd = openat(rfd, OCI_LAYOUT_TMP_DIR,
                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  close(rfd);
  if (dfd < 0) return OCI_OK;
  /* excludes writers between creating and locking a file (ol_tmp_create);
     without the lock file nobody has created a temporary file yet */
  int lf = openat(dfd, OL_TMP_LOCK_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (lf >= 0 && flock(lf, LOCK_EX) != 0) {
    close(lf);
    lf = -1;
  }
  int lfd = dup(dfd);
  DIR *dh = lfd >= 0 ? fdopendir(lfd) : NULL;
  if (!dh && lfd >= 0) close(lfd);
  int rc = OCI_OK;
  struct dirent *de;
  while (dh && !rc && (de = readdir(dh))) {
    if (strncmp(de->d_name, OL_TMP_PREFIX, strlen(OL_TMP_PREFIX)) != 0)
      continue;
    if (tmp_is_stale(dfd, de->d_name)) rc = fn(dfd, de->d_name, arg);
  }
  if (dh) closedir(dh);
  if (lf >= 0) close(lf);
  close(dfd);
  return rc;
}

static int unlink_tmp(int dfd, const char *name, void *arg) {
  (void)arg;
  unlinkat(dfd, name, 0);
  return OCI_OK;
}

/* Calls fn(digest, dfd, name, arg) for every blobs/<alg>/<encoded> regular
   file whose name is a valid digest (other entries are not ours to judge).
   blobs/ and blobs/<alg>/ are never entered through a symlink: such a
   layout is refused (OCI_EINVAL), so gc cannot remove files outside it. */
static int each_blob(const char *root,
                     int (*fn)(const char *digest, int dfd, const char *name,
                               void *arg),
                     void *arg, oci_error *err) {
  int rfd, bfd;
  int rc = ol_root_fd(root, &rfd, err);
  if (rc) return rc;
  rc = ol_open_dir(rfd, "blobs", "blobs", false, &bfd, NULL, err);
  close(rfd);
  if (rc) return ol_wrap(err, root);
  int lfd = dup(bfd);
  DIR *bd = lfd >= 0 ? fdopendir(lfd) : NULL;
  if (!bd) {
    rc = oci_error_set(err, OCI_EIO, "cannot list %s/blobs: %s", root,
                       strerror(errno));
    if (lfd >= 0) close(lfd);
    close(bfd);
    return rc;
  }
  struct dirent *ad;
  while (!rc && (ad = readdir(bd))) {
    if (ad->d_name[0] == '.') continue;
    struct stat ast;
    if (fstatat(bfd, ad->d_name, &ast, AT_SYMLINK_NOFOLLOW) != 0 ||
        (!S_ISDIR(ast.st_mode) && !S_ISLNK(ast.st_mode)))
      continue; /* a stray file: not a blob directory */
    char shown[300];
    snprintf(shown, sizeof shown, "blobs/%.200s", ad->d_name);
    int afd;
    if ((rc = ol_open_dir(bfd, ad->d_name, shown, false, &afd, NULL, err))) {
      ol_wrap(err, root);
      break;
    }
    int dd_fd = dup(afd);
    DIR *dd = dd_fd >= 0 ? fdopendir(dd_fd) : NULL;
    if (!dd && dd_fd >= 0) close(dd_fd);
    struct dirent *fe;
    while (dd && !rc && (fe = readdir(dd))) {
      if (fe->d_name[0] == '.') continue;
      char digest[512];
      int n = snprintf(digest, sizeof digest, "%s:%s", ad->d_name, fe->d_name);
      if (n < 0 || (size_t)n >= sizeof digest ||
          oci_digest_parse(digest, (size_t)n, NULL, NULL) != OCI_OK)
        continue;
      struct stat st;
      if (fstatat(afd, fe->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISREG(st.st_mode))
        rc = fn(digest, afd, fe->d_name, arg);
    }
    if (dd) closedir(dd);
    close(afd);
  }
  closedir(bd);
  close(bfd);
  if (rc == OCI_ENOMEM) ol_nomem(err);
  return rc;
}

typedef struct gc_ctx {
  dset *live; /* sorted */
  oci_layout_strings *removed;
  oci_error *err;
} gc_ctx;

static int gc_sweep(const char *digest, int dfd, const char *name, void *arg) {
  gc_ctx *g = arg;
  const char *key = digest;
  if (g->live->len &&
      bsearch(&key, g->live->items, g->live->len, sizeof(char *), cmp_str))
    return OCI_OK;
  if (unlinkat(dfd, name, 0) != 0)
    return oci_error_set(g->err, OCI_EIO, "gc: cannot remove blob %s: %s",
                         digest, strerror(errno));
  return ol_strings_add(g->removed, digest, g->err);
}

/* ---- referrers kept by gc ------------------------------------------------ */

/* Documents read to find referrers are at most this big (the 4 MiB
   distribution-spec lets registries refuse above); bigger blobs are layers
   or something else, never read whole. */
#define REF_DOC_MAX ((size_t)4 << 20)

/* An OCI manifest or index among the blobs index.json does not reach, with
   the subject it names. */
typedef struct refcand {
  oci_image_descriptor *d; /* mediaType, digest, size */
  char *subject;
} refcand;

typedef struct refscan {
  const oci_layout *l;
  dset *live;
  refcand *items;
  size_t len;
  oci_error *err;
} refscan;

/* The subject of the document bytes b (an OCI manifest or index by its
   own mediaType), or NULL; *mt gets that mediaType (owned by *doc). */
static const oci_image_descriptor *doc_subject(const char *b, size_t n,
                                               void **doc, const oci_type **t,
                                               const char **mt) {
  oci_image_manifest *m = NULL;
  oci_image_index *x = NULL;
  *doc = NULL;
  if (oci_image_manifest_parse(b, n, NULL, &m, NULL) == OCI_OK && m->subject &&
      ol_str_eq(m->media_type, OCI_MEDIA_TYPE_IMAGE_MANIFEST)) {
    *doc = m, *t = &oci_type_image_manifest, *mt = m->media_type;
    return m->subject;
  }
  oci_image_manifest_free(m);
  if (oci_image_index_parse(b, n, NULL, &x, NULL) == OCI_OK && x->subject &&
      ol_str_eq(x->media_type, OCI_MEDIA_TYPE_IMAGE_INDEX)) {
    *doc = x, *t = &oci_type_image_index, *mt = x->media_type;
    return x->subject;
  }
  oci_image_index_free(x);
  return NULL;
}

static int ref_scan(const char *digest, int dfd, const char *name, void *arg) {
  refscan *s = arg;
  if (dset_has(s->live, digest)) return OCI_OK;
  struct stat st;
  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISREG(st.st_mode) || (size_t)st.st_size > REF_DOC_MAX ||
      st.st_size < 2)
    return OCI_OK;
  char *b;
  size_t n;
  oci_error e;
  oci_error_clear(&e);
  /* read and verified like any blob (no symlink followed) */
  int rc = oci_layout_get_blob(s->l, digest, st.st_size, &b, &n, &e);
  if (rc == OCI_ENOMEM) return ol_nomem(s->err);
  if (rc) return OCI_OK; /* not ours to judge here: verify reports it */
  void *doc;
  const oci_type *t;
  const char *mt;
  const oci_image_descriptor *sub =
      b[0] == '{' ? doc_subject(b, n, &doc, &t, &mt) : NULL;
  free(b);
  if (!sub) return OCI_OK;
  rc = OCI_OK;
  refcand c = {0};
  refcand *p = realloc(s->items, (s->len + 1) * sizeof *p);
  if (!p || !(c.subject = strdup(sub->digest)) ||
      oci_image_descriptor_make(mt, digest, (int64_t)n, &c.d, NULL)) {
    if (p) s->items = p;
    free(c.subject);
    rc = ol_nomem(s->err);
  } else {
    s->items = p;
    s->items[s->len++] = c;
  }
  (void)t;
  oci_free(doc);
  return rc;
}

/* Marks, until nothing changes, the referrers (documents whose subject is
   live) among the blobs index.json does not reach: the referrers of kept
   images stay, and so do theirs. */
static int keep_referrers(const oci_layout *l, dset *live, oci_error *err) {
  refscan s = {l, live, NULL, 0, err};
  int rc = each_blob(l->root, ref_scan, &s, err);
  for (bool changed = true; !rc && changed;) {
    changed = false;
    for (size_t i = 0; i < s.len && !rc; i++)
      if (!dset_has(live, s.items[i].d->digest) &&
          dset_has(live, s.items[i].subject)) {
        rc = gc_mark(l, s.items[i].d, live, 0, "gc", err);
        changed = true;
      }
  }
  for (size_t i = 0; i < s.len; i++) {
    oci_image_descriptor_free(s.items[i].d);
    free(s.items[i].subject);
  }
  free(s.items);
  return rc;
}

/* drop_referrers: the index.json entries without a ref.name whose document
   has a subject (attached artifacts, oci_layout_add) are no roots; they
   leave index.json (*changed). */
static int drop_referrer_entries(const oci_layout *l, oci_image_index *idx,
                                 bool *changed, oci_error *err) {
  size_t k = 0;
  for (size_t i = 0; i < idx->manifests.len; i++) {
    oci_image_descriptor *e = idx->manifests.items[i];
    bool drop = false;
    if (!ol_ref_name(e) && (oci_media_type_is_manifest(e->media_type) ||
                            oci_media_type_is_index(e->media_type))) {
      char *b;
      size_t n;
      int rc = oci_layout_get_blob(l, e->digest, e->size, &b, &n, err);
      if (rc)
        return oci_error_set(err, rc == OCI_ENOMEM ? OCI_ENOMEM : OCI_EINVAL,
                             "gc: nothing removed: %s", err->message);
      void *doc;
      const oci_type *t;
      const char *mt;
      drop = doc_subject(b, n, &doc, &t, &mt) != NULL;
      (void)t;
      oci_free(doc);
      free(b);
    }
    if (drop)
      *changed = true;
    else
      idx->manifests.items[k++] = e;
  }
  idx->manifests.len = k;
  return OCI_OK;
}

void oci_layout_gc_options_init(oci_layout_gc_options *o) {
  oci_layout_gc_options d = OCI_LAYOUT_GC_OPTIONS_INIT;
  *o = d;
}

int oci_layout_gc(oci_layout *l, oci_layout_strings *removed, oci_error *err) {
  OL_ERR(err);
  return oci_layout_gc_opts(l, NULL, removed, err);
}

int oci_layout_gc_opts(oci_layout *l, const oci_layout_gc_options *o,
                       oci_layout_strings *removed, oci_error *err) {
  OL_ERR(err);
  removed->items = NULL;
  removed->len = 0;
  oci_layout_gc_options defaults = OCI_LAYOUT_GC_OPTIONS_INIT;
  if (!o) o = &defaults;
  if (o->version != OCI_LAYOUT_GC_OPTIONS_VERSION)
    return oci_error_set(err, OCI_EINVAL, "gc: options version %u, not %u",
                         o->version, OCI_LAYOUT_GC_OPTIONS_VERSION);
  dset live = {0};
  int lock, rc;
  /* the index lock keeps tag/untag out while reachability is computed */
  if ((rc = ol_lock_index(l->root, &lock, err))) return rc;
  oci_image_index *idx;
  if ((rc = ol_read_index(l->root, &idx, err))) goto out;
  bool rewrite = false;
  if (o->drop_referrers) rc = drop_referrer_entries(l, idx, &rewrite, err);
  if (!rc)
    rc = gc_mark_all(l, idx->manifests.items, idx->manifests.len, &live, 0,
                     "gc", err);
  if (!rc && !o->drop_referrers) rc = keep_referrers(l, &live, err);
  /* index.json first: an entry never names a removed blob */
  if (!rc && rewrite) rc = ol_write_index(l->root, idx, err);
  oci_image_index_free(idx);
  if (rc) goto out;
  if (live.len) qsort(live.items, live.len, sizeof(char *), cmp_str);
  gc_ctx g = {&live, removed, err};
  if ((rc = each_blob(l->root, gc_sweep, &g, err))) goto out;
  if (each_stale_tmp(l->root, unlink_tmp, NULL)) rc = ol_nomem(err);
out:
  close(lock);
  dset_free(&live);
  if (rc && rc != OCI_EIO) oci_layout_strings_free(removed);
  return rc;
}

/* ---- verify ------------------------------------------------------------- */

typedef struct vstate {
  const oci_layout *l;
  oci_layout_problems *out;
  dset seen;   /* blobs looked at */
  dset good;   /* of those, hashed and sound */
  dset bad;    /* hashed and corrupt */
  dset docs;   /* documents checked */
  dset layers; /* "layer diff_id" pairs checked */
  bool nomem;
} vstate;

static void problem(vstate *v, oci_severity sev, int code, const char *digest,
                    const char *path, const char *fmt, ...) OCI_PRINTF(6, 7);
static void problem(vstate *v, oci_severity sev, int code, const char *digest,
                    const char *path, const char *fmt, ...) {
  oci_layout_problems *o = v->out;
  oci_layout_problem *p = realloc(o->items, (o->len + 1) * sizeof *p);
  if (!p) {
    v->nomem = true;
    return;
  }
  o->items = p;
  p = &o->items[o->len++];
  memset(p, 0, sizeof *p);
  p->severity = sev;
  p->code = code;
  snprintf(p->digest, sizeof p->digest, "%s", digest ? digest : "");
  snprintf(p->path, sizeof p->path, "%s", path ? path : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->message, sizeof p->message, fmt, ap);
  va_end(ap);
  if (sev == OCI_SEV_ERROR)
    o->errors++;
  else
    o->warnings++;
}

/* blobs/<alg>/<encoded> relative to the root, for problem paths. */
static void rel_blob(const char *digest, char out[OCI_DIGEST_STRING_MAX + 8]) {
  const char *c = strchr(digest, ':');
  if (!c) {
    out[0] = '\0';
    return;
  }
  snprintf(out, OCI_DIGEST_STRING_MAX + 8, "blobs/%.*s/%s", (int)(c - digest),
           digest, c + 1);
}

/* Presence, size and digest of the blob d points at; true when sound. */
static bool check_blob(vstate *v, const oci_image_descriptor *d,
                       const char *role) {
  char rel[OCI_DIGEST_STRING_MAX + 8];
  oci_error e;
  oci_error_clear(&e);
  if (!d->digest ||
      oci_digest_parse(d->digest, strlen(d->digest), NULL, &e) != OCI_OK) {
    problem(v, OCI_SEV_ERROR, OCI_EINVAL, d->digest, "",
            "%s: invalid digest \"%s\": %s", role, d->digest ? d->digest : "",
            e.message);
    return false;
  }
  rel_blob(d->digest, rel);
  if (!dset_has(&v->seen, d->digest) && dset_add(&v->seen, d->digest))
    v->nomem = true;
  int fd;
  struct stat st;
  bool ok = false, missing = false;
  int orc = ol_open_blob(v->l->root, d->digest, &fd, &st, &missing, &e);
  if (orc == OCI_ENOMEM) v->nomem = true;
  if (orc && !missing) {
    /* a symlink, a FIFO, a directory: refused, never followed */
    problem(v, OCI_SEV_ERROR, orc, d->digest, rel, "%s (%s)", e.message, role);
  } else if (orc) {
    /* image-layout.md "Blobs": a blob MAY be missing when an external
       store provides it; descriptor urls name one (descriptor.md) */
    bool ext = oci_is_present(d, OCI_F_image_descriptor_urls);
    problem(v, ext ? OCI_SEV_WARNING : OCI_SEV_ERROR, OCI_EMISSING, d->digest,
            rel, "blob %s (%s) is missing%s", d->digest, role,
            ext ? " (the descriptor lists urls)" : "");
  } else if ((int64_t)st.st_size != d->size) {
    /* descriptor.md "size": the exact byte size of the content */
    problem(v, OCI_SEV_ERROR, OCI_EMISMATCH, d->digest, rel,
            "blob %s (%s): %lld bytes on disk, the descriptor says %lld",
            d->digest, role, (long long)st.st_size, (long long)d->size);
  } else if (dset_has(&v->good, d->digest)) {
    ok = true; /* hashed already */
  } else if (dset_has(&v->bad, d->digest)) {
    ok = false; /* reported already */
  } else {
    oci_digest_view dv;
    char got[OCI_DIGEST_STRING_MAX];
    uint64_t n;
    oci_digest_parse(d->digest, strlen(d->digest), &dv, NULL);
    int rc = oci_hash_fd(dv.alg, fd, rel, got, &n, &e);
    if (rc == OCI_OK && strcmp(got, d->digest) == 0)
      ok = true;
    else if (rc == OCI_OK) {
      /* descriptor.md "digest": content MUST match it */
      problem(v, OCI_SEV_ERROR, OCI_EMISMATCH, d->digest, rel,
              "blob %s (%s): content has digest %s", d->digest, role, got);
    } else if (rc == OCI_EUNSUPPORTED) {
      problem(v, OCI_SEV_WARNING, rc, d->digest, rel,
              "blob %s (%s): content not verified: %s", d->digest, role,
              e.message);
      ok = true;
    } else {
      problem(v, OCI_SEV_ERROR, rc, d->digest, rel, "blob %s (%s): %s",
              d->digest, role, e.message);
    }
    if (dset_add(ok ? &v->good : &v->bad, d->digest)) v->nomem = true;
  }
  if (fd >= 0) close(fd);
  return ok;
}

/* Parse and validate the sound blob d as type t; NULL (problems noted)
   when it does not parse. */
static void *check_document(vstate *v, const oci_image_descriptor *d,
                            const oci_type *t, const char *role) {
  char rel[OCI_DIGEST_STRING_MAX + 8];
  rel_blob(d->digest, rel);
  oci_error e;
  oci_error_clear(&e);
  void *doc = NULL;
  int rc = oci_layout_get_document(v->l, d->digest, d->size, t, &doc, &e);
  if (rc) {
    if (rc == OCI_ENOMEM) v->nomem = true;
    problem(v, OCI_SEV_ERROR, rc, d->digest, rel, "%s (%s): not a valid %s: %s",
            d->digest, role, t->name, e.message);
    return NULL;
  }
  oci_problems pr;
  rc = oci_validate(t, doc, &pr);
  if (rc == OCI_ENOMEM) v->nomem = true;
  for (size_t i = 0; i < pr.len; i++) {
    const oci_problem *q = &pr.items[i];
    problem(v, q->severity, OCI_EVALIDATE, d->digest, rel,
            "%s %s (%s): %s: %s (%s)", t->name, d->digest, role,
            q->pointer[0] ? q->pointer : "/", q->message, q->rule);
  }
  oci_problems_free(&pr);
  return doc;
}

typedef enum { COMP_UNKNOWN, COMP_NONE, COMP_GZIP, COMP_ZSTD } comp;

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* layer.md / media-types.md: +gzip and +zstd layers, plain .tar ones
   (and Docker's .tar.gzip, .tar.zstd, .tar). */
static comp comp_of_media_type(const char *mt) {
  if (!mt) return COMP_UNKNOWN;
  if (ends_with(mt, "tar+gzip") || ends_with(mt, "tar.gzip")) return COMP_GZIP;
  if (ends_with(mt, "tar+zstd") || ends_with(mt, "tar.zstd")) return COMP_ZSTD;
  if (ends_with(mt, ".tar")) return COMP_NONE;
  return COMP_UNKNOWN;
}

static const char *comp_name(comp c) {
  switch (c) {
  case COMP_NONE: return "uncompressed";
  case COMP_GZIP: return "gzip";
  case COMP_ZSTD: return "zstd";
  default: return "unknown";
  }
}

/* The compression of a layer file by its magic number (RFC 1952 gzip
   1f 8b; RFC 8878 zstd frame 28 b5 2f fd); anything else is taken for a
   plain tar, which has no magic at offset 0. */
static comp sniff_comp(int fd, char *other, size_t othersz) {
  unsigned char m[6] = {0};
  other[0] = '\0';
  ssize_t n = pread(fd, m, sizeof m, 0);
  if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) return COMP_GZIP;
  if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
    return COMP_ZSTD;
  if (n >= 3 && m[0] == 'B' && m[1] == 'Z' && m[2] == 'h')
    snprintf(other, othersz, "bzip2");
  else if (n >= 6 && memcmp(m,
                            "\xfd"
                            "7zXZ\0",
                            6) == 0)
    snprintf(other, othersz, "xz");
  return COMP_NONE;
}

/* The digest (alg of want) of the decompressed layer: libarchive's read
   filters (gzip, zstd, none, ...) under the raw format. */
static int diff_digest(int fd, oci_digest_alg alg,
                       char out[OCI_DIGEST_STRING_MAX], oci_error *err) {
  oci_hasher *h;
  int rc = oci_hasher_new(alg, &h, err);
  if (rc) return rc;
  struct archive *a = archive_read_new();
  if (!a) {
    oci_hasher_free(h);
    return ol_nomem(err);
  }
  archive_read_support_filter_all(a);
  archive_read_support_format_raw(a);
  archive_read_support_format_empty(a);
  struct archive_entry *ent;
  if (lseek(fd, 0, SEEK_SET) != 0 ||
      archive_read_open_fd(a, fd, 256 * 1024) != ARCHIVE_OK) {
    rc = oci_error_set(err, OCI_EIO, "cannot decompress: %s",
                       archive_error_string(a));
    goto out;
  }
  int r = archive_read_next_header(a, &ent);
  if (r == ARCHIVE_OK || r == ARCHIVE_WARN) {
    char buf[64 * 1024];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0)
      if ((rc = oci_hasher_update(h, buf, (size_t)n, err))) goto out;
    if (n < 0) {
      rc = oci_error_set(err, OCI_EINVAL, "cannot decompress: %s",
                         archive_error_string(a));
      goto out;
    }
  } else if (r != ARCHIVE_EOF) {
    rc = oci_error_set(err, OCI_EINVAL, "cannot decompress: %s",
                       archive_error_string(a));
    goto out;
  }
  rc = oci_hasher_finish(h, out, err);
out:
  archive_read_free(a);
  oci_hasher_free(h);
  return rc;
}

/* layer.md: the compression must be what the media type says, and config.md
   "rootfs.diff_ids": the digest of the uncompressed layer. */
static void check_layer(vstate *v, const oci_image_descriptor *d,
                        const char *diff_id, const char *role) {
  char rel[OCI_DIGEST_STRING_MAX + 8], other[16];
  rel_blob(d->digest, rel);
  int fd;
  struct stat st;
  if (ol_open_blob(v->l->root, d->digest, &fd, &st, NULL, NULL))
    return; /* check_blob reported it */
  comp expect = comp_of_media_type(d->media_type);
  comp got = sniff_comp(fd, other, sizeof other);
  if (expect != COMP_UNKNOWN && expect != got)
    problem(v, OCI_SEV_ERROR, OCI_EMISMATCH, d->digest, rel,
            "layer %s (%s): media type %s says %s, the content is %s",
            d->digest, role, d->media_type, comp_name(expect),
            other[0] ? other : comp_name(got));
  oci_digest_view dv;
  if (diff_id &&
      oci_digest_parse(diff_id, strlen(diff_id), &dv, NULL) == OCI_OK) {
    char dig[OCI_DIGEST_STRING_MAX];
    oci_error e;
    oci_error_clear(&e);
    int rc = diff_digest(fd, dv.alg, dig, &e);
    if (rc == OCI_ENOMEM) v->nomem = true;
    if (rc)
      problem(v, rc == OCI_EUNSUPPORTED ? OCI_SEV_WARNING : OCI_SEV_ERROR, rc,
              d->digest, rel, "layer %s (%s): %s", d->digest, role, e.message);
    else if (strcmp(dig, diff_id) != 0)
      problem(v, OCI_SEV_ERROR, OCI_EMISMATCH, d->digest, rel,
              "layer %s (%s): uncompressed content is %s, the config's "
              "diff_id is %s",
              d->digest, role, dig, diff_id);
  }
  close(fd);
}

static void check_manifest(vstate *v, const oci_image_descriptor *d,
                           const char *role) {
  if (!check_blob(v, d, role) || dset_has(&v->docs, d->digest)) return;
  if (dset_add(&v->docs, d->digest)) v->nomem = true;
  oci_image_manifest *m = check_document(v, d, &oci_type_image_manifest, role);
  if (!m) return;
  char sd[32], r[96];
  short_digest(d->digest, sd);
  oci_image_configuration *c = NULL;
  snprintf(r, sizeof r, "config of manifest %s", sd);
  if (check_blob(v, m->config, r) &&
      oci_media_type_is_config(m->config->media_type))
    c = check_document(v, m->config, &oci_type_image_configuration, r);
  size_t nl = m->layers.len;
  bool *ok = calloc(nl + 1, sizeof *ok);
  if (!ok) v->nomem = true;
  for (size_t i = 0; i < nl; i++) {
    snprintf(r, sizeof r, "layer %zu of manifest %s", i, sd);
    bool good = check_blob(v, m->layers.items[i], r);
    if (ok) ok[i] = good;
  }
  if (c && ok) {
    char rel[OCI_DIGEST_STRING_MAX + 8];
    rel_blob(m->config->digest, rel);
    size_t nd = c->rootfs->diff_ids.len;
    /* config.md rootfs.diff_ids: one per layer, in order */
    if (nd != nl)
      problem(v, OCI_SEV_ERROR, OCI_EMISMATCH, m->config->digest, rel,
              "config %s (of manifest %s): %zu diff_ids for %zu layers",
              m->config->digest, sd, nd, nl);
    for (size_t i = 0; i < nl; i++) {
      if (!ok[i]) continue;
      const char *did = i < nd ? c->rootfs->diff_ids.items[i] : NULL;
      /* a layer shared by several images is decompressed once per diff_id */
      char key[2 * OCI_DIGEST_STRING_MAX + 2];
      snprintf(key, sizeof key, "%s %s", m->layers.items[i]->digest,
               did ? did : "");
      if (dset_has(&v->layers, key)) continue;
      if (dset_add(&v->layers, key)) v->nomem = true;
      snprintf(r, sizeof r, "layer %zu of manifest %s", i, sd);
      check_layer(v, m->layers.items[i], did, r);
    }
  }
  free(ok);
  oci_image_configuration_free(c);
  oci_image_manifest_free(m);
}

static void check_entries(vstate *v, const oci_image_index *x,
                          const char *where, int depth);

static void check_index_blob(vstate *v, const oci_image_descriptor *d,
                             const char *role, int depth) {
  if (!check_blob(v, d, role) || dset_has(&v->docs, d->digest)) return;
  if (dset_add(&v->docs, d->digest)) v->nomem = true;
  if (depth > MAX_NESTING) {
    problem(v, OCI_SEV_ERROR, OCI_EUNSUPPORTED, d->digest, "",
            "index %s (%s): indexes nested more than %d deep", d->digest, role,
            MAX_NESTING);
    return;
  }
  oci_image_index *x = check_document(v, d, &oci_type_image_index, role);
  if (!x) return;
  char sd[32], where[64];
  snprintf(where, sizeof where, "index %s", short_digest(d->digest, sd));
  check_entries(v, x, where, depth + 1);
  oci_image_index_free(x);
}

static void check_entries(vstate *v, const oci_image_index *x,
                          const char *where, int depth) {
  for (size_t i = 0; i < x->manifests.len; i++) {
    const oci_image_descriptor *e = x->manifests.items[i];
    char role[128];
    snprintf(role, sizeof role, "%s /manifests/%zu", where, i);
    if (oci_media_type_is_manifest(e->media_type))
      check_manifest(v, e, role);
    else if (oci_media_type_is_index(e->media_type))
      check_index_blob(v, e, role, depth);
    else
      check_blob(v, e, role);
  }
}

/* ---- referrers tag schema indexes ---------------------------------------- */

/* distribution-spec "Referrers Tag Schema": an index.json entry named
   <alg>-<encoded> (a registry's fallback tag, copied into the layout) is
   an image index of the referrers of <alg>:<encoded>: each entry it lists
   must be a document whose subject is that digest, with the artifactType
   the entry gives (the manifest's, else its config's mediaType). */
static void check_referrers_index(vstate *v, const oci_image_descriptor *e) {
  const char *name = ol_ref_name(e);
  if (!name || !ol_str_eq(e->media_type, OCI_MEDIA_TYPE_IMAGE_INDEX)) return;
  const char *dash = strrchr(name, '-');
  char subject[OCI_DIGEST_STRING_MAX];
  size_t n = strlen(name);
  if (!dash || n >= sizeof subject) return;
  memcpy(subject, name, n + 1);
  subject[dash - name] = ':';
  if (oci_digest_parse(subject, n, NULL, NULL) != OCI_OK) return;
  oci_image_index *x = NULL;
  if (oci_layout_get_document(v->l, e->digest, e->size, &oci_type_image_index,
                              (void **)&x, NULL))
    return; /* check_entries reported it */
  char rel[OCI_DIGEST_STRING_MAX + 8];
  for (size_t i = 0; i < x->manifests.len; i++) {
    const oci_image_descriptor *r = x->manifests.items[i];
    rel_blob(r->digest, rel);
    const oci_image_descriptor *sub = NULL;
    const char *at = NULL;
    void *doc = NULL;
    if (oci_media_type_is_manifest(r->media_type)) {
      oci_image_manifest *m;
      if (oci_layout_get_document(v->l, r->digest, r->size,
                                  &oci_type_image_manifest, (void **)&m,
                                  NULL) == OCI_OK) {
        doc = m, sub = m->subject;
        at = m->artifact_type ? m->artifact_type
             : m->config      ? m->config->media_type
                              : NULL;
      }
    } else if (oci_media_type_is_index(r->media_type)) {
      oci_image_index *xx;
      if (oci_layout_get_document(v->l, r->digest, r->size,
                                  &oci_type_image_index, (void **)&xx,
                                  NULL) == OCI_OK)
        doc = xx, sub = xx->subject, at = xx->artifact_type;
    }
    if (!doc) {
      /* a referrer the layout does not hold: nothing to compare */
      problem(v, OCI_SEV_WARNING, OCI_EMISSING, r->digest, rel,
              "referrers index %s /manifests/%zu: %s is not a manifest or "
              "index of the layout",
              name, i, r->digest);
    } else if (!sub || strcmp(sub->digest, subject) != 0) {
      problem(v, OCI_SEV_ERROR, OCI_EMISMATCH, r->digest, rel,
              "referrers index %s /manifests/%zu: %s has %s%s, not %s", name, i,
              r->digest, sub ? "subject " : "no subject",
              sub ? sub->digest : "", subject);
    } else if ((r->artifact_type || at) && !ol_str_eq(r->artifact_type, at)) {
      problem(v, OCI_SEV_WARNING, OCI_EMISMATCH, r->digest, rel,
              "referrers index %s /manifests/%zu: artifactType %s, the "
              "document's is %s",
              name, i, r->artifact_type ? r->artifact_type : "(none)",
              at ? at : "(none)");
    }
    oci_free(doc);
  }
  oci_image_index_free(x);
}

static int warn_unreachable(const char *digest, int dfd, const char *name,
                            void *arg) {
  vstate *v = arg;
  (void)dfd;
  (void)name;
  if (dset_has(&v->seen, digest)) return OCI_OK;
  char rel[OCI_DIGEST_STRING_MAX + 8];
  rel_blob(digest, rel);
  problem(v, OCI_SEV_WARNING, OCI_OK, digest, rel,
          "blob %s is not reachable from index.json (gc removes it)", digest);
  return OCI_OK;
}

static int warn_tmp(int dfd, const char *name, void *arg) {
  vstate *v = arg;
  (void)dfd;
  problem(v, OCI_SEV_WARNING, OCI_OK, "", "",
          OCI_LAYOUT_TMP_DIR "/%s: stale temporary file (gc removes it)", name);
  return OCI_OK;
}

void oci_layout_problems_free(oci_layout_problems *p) {
  if (!p) return;
  free(p->items);
  memset(p, 0, sizeof *p);
}

int oci_layout_verify(const oci_layout *l, oci_layout_problems *out,
                      oci_error *err) {
  OL_ERR(err);
  memset(out, 0, sizeof *out);
  vstate v;
  memset(&v, 0, sizeof v);
  v.l = l;
  v.out = out;
  oci_error e;
  oci_error_clear(&e);

  /* image-layout.md "oci-layout file" */
  oci_image_oci_layout *ol = NULL;
  char *ob;
  size_t on;
  int rc =
      ol_read_rel(l->root, "oci-layout", OCI_DEFAULT_MAX_SIZE, &ob, &on, &e);
  if (rc == OCI_EINVAL) /* a symlink or not a regular file */
    rc = OCI_EIO;
  else if (rc == OCI_OK) {
    rc = oci_image_oci_layout_parse(ob, on, NULL, &ol, &e);
    free(ob);
  }
  if (rc == OCI_ENOMEM) v.nomem = true;
  if (rc == OCI_EIO)
    problem(&v, OCI_SEV_ERROR, OCI_EIO, "", "oci-layout",
            "oci-layout: cannot read it: %s", e.message);
  else if (rc)
    problem(&v, OCI_SEV_ERROR, rc, "", "oci-layout", "oci-layout: %s%s%s",
            e.pointer, e.pointer[0] ? ": " : "", e.message);
  else {
    if (strcmp(ol->image_layout_version, OCI_LAYOUT_VERSION) != 0)
      problem(&v, OCI_SEV_ERROR, OCI_EINVAL, "", "oci-layout",
              "oci-layout: imageLayoutVersion \"%s\" is not "
              "\"" OCI_LAYOUT_VERSION "\" (image-layout.md, I-LAY-2)",
              ol->image_layout_version);
    oci_image_oci_layout_free(ol);
  }

  /* image-layout.md "index.json file" */
  oci_image_index *idx;
  oci_error_clear(&e);
  rc = ol_read_index(l->root, &idx, &e);
  if (rc == OCI_ENOMEM) v.nomem = true;
  if (rc) {
    problem(&v, OCI_SEV_ERROR, rc, "", "index.json", "index.json: %s",
            e.message);
  } else {
    oci_problems pr;
    if (oci_validate(&oci_type_image_index, idx, &pr) == OCI_ENOMEM)
      v.nomem = true;
    for (size_t i = 0; i < pr.len; i++)
      problem(&v, pr.items[i].severity, OCI_EVALIDATE, "", "index.json",
              "index.json: %s: %s (%s)",
              pr.items[i].pointer[0] ? pr.items[i].pointer : "/",
              pr.items[i].message, pr.items[i].rule);
    oci_problems_free(&pr);
    check_entries(&v, idx, "index.json", 0);
    for (size_t i = 0; i < idx->manifests.len; i++)
      check_referrers_index(&v, idx->manifests.items[i]);
    oci_image_index_free(idx);
    oci_error_clear(&e);
    rc = each_blob(l->root, warn_unreachable, &v, &e);
    if (rc == OCI_ENOMEM)
      v.nomem = true;
    else if (rc)
      problem(&v, OCI_SEV_ERROR, rc, "", "blobs", "%s", e.message);
  }
  if (each_stale_tmp(l->root, warn_tmp, &v)) v.nomem = true;
  dset_free(&v.seen);
  dset_free(&v.good);
  dset_free(&v.bad);
  dset_free(&v.docs);
  dset_free(&v.layers);
  if (v.nomem) {
    oci_layout_problems_free(out);
    return ol_nomem(err);
  }
  if (out->errors) {
    size_t i = 0;
    while (out->items[i].severity != OCI_SEV_ERROR)
      i++;
    return oci_error_set(err, OCI_EVALIDATE, "%s: %zu problem%s, first: %s",
                         l->root, out->errors, out->errors == 1 ? "" : "s",
                         out->items[i].message);
  }
  return OCI_OK;
}
