/* Whole images between layouts and registries: push, pull and copy walk
   the graph index -> manifests -> config and layers, move blobs before the
   documents that name them, and documents byte for byte (their digests
   never change on the way). */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/layout_internal.h"
#include "ocispec/ocispec.h"
#include "ocispec/platform.h"
#include "registry_internal.h"

/* Indexes nest (image-index.md allows an index in an index); deeper than
   this is a loop or an attack. */
#define REG_MAX_DEPTH 8

#define DESC_F(m)                                                              \
  (&oci_type_image_descriptor.fields[OCI_F_image_descriptor_##m])

static const char *doc_media_type(const oci_image_descriptor *d) {
  return d->media_type ? d->media_type : OCI_MEDIA_TYPE_OCTET_STREAM;
}

/* A string from a server, for a message: control characters escaped. */
static const char *shown(const char *s, char *buf, size_t n) {
  reg_escape(s ? s : "?", s ? strlen(s) : 1, buf, n);
  return buf;
}

/* ---- one walk: each digest once, bounded ------------------------------- */

/* A set of digests (open addressing; the strings are copies). */
typedef struct strset {
  char **slot;
  size_t cap, len;
} strset;

static size_t str_hash(const char *s) {
  size_t h = 1469598103934665603u;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h;
}

/* 1: added, 0: there already, -1: out of memory. */
static int strset_add(strset *t, const char *s) {
  if ((t->len + 1) * 2 > t->cap) {
    size_t ncap = t->cap ? t->cap * 2 : 64;
    char **ns = calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < t->cap; i++)
      if (t->slot[i]) {
        size_t j = str_hash(t->slot[i]) & (ncap - 1);
        while (ns[j])
          j = (j + 1) & (ncap - 1);
        ns[j] = t->slot[i];
      }
    free(t->slot);
    t->slot = ns;
    t->cap = ncap;
  }
  size_t j = str_hash(s) & (t->cap - 1);
  for (; t->slot[j]; j = (j + 1) & (t->cap - 1))
    if (!strcmp(t->slot[j], s)) return 0;
  if (!(t->slot[j] = strdup(s))) return -1;
  t->len++;
  return 1;
}

static void strset_free(strset *t) {
  for (size_t i = 0; i < t->cap; i++)
    free(t->slot[i]);
  free(t->slot);
  memset(t, 0, sizeof *t);
}

/* The state of one push, pull or copy (image-index.md lets indexes name
   one manifest many times, and nest: without a memo a 6-wide, 4-deep
   index costs 6^4 fetches of one manifest). */
typedef struct walk {
  const char *op; /* "push", "pull", "copy" */
  unsigned max_fanout, max_nodes;
  strset docs;  /* documents handled (or being handled) */
  strset blobs; /* blobs handled */
} walk;

static void walk_init(walk *w, const oci_registry *r, const char *op) {
  memset(w, 0, sizeof *w);
  w->op = op;
  w->max_fanout = r->o.max_fanout;
  w->max_nodes = r->o.max_nodes;
}

static void walk_free(walk *w) {
  strset_free(&w->docs);
  strset_free(&w->blobs);
}

/* 1: a document to handle now; 0: handled already; else (negative) an
   error. */
static int walk_visit(walk *w, const oci_image_descriptor *d, oci_error *err) {
  if (w->docs.len >= w->max_nodes) {
    strset probe = w->docs; /* is it one seen already? */
    size_t j = str_hash(d->digest) & (probe.cap - 1);
    for (; probe.slot[j]; j = (j + 1) & (probe.cap - 1))
      if (!strcmp(probe.slot[j], d->digest)) return 0;
    return oci_error_set(err, OCI_ETOOBIG,
                         "%s: more than %u distinct documents (max_nodes); "
                         "stopped at %s",
                         w->op, w->max_nodes, d->digest);
  }
  int n = strset_add(&w->docs, d->digest);
  if (n < 0) return reg_nomem(err);
  return n;
}

/* 1: a blob to move now; 0: moved already; else (negative) an error. */
static int walk_blob(walk *w, const oci_image_descriptor *b, oci_error *err) {
  int n = strset_add(&w->blobs, b->digest);
  if (n < 0) return reg_nomem(err);
  return n;
}

static int walk_fanout(const walk *w, const oci_image_descriptor *d,
                       const oci_image_index *x, oci_error *err) {
  if (x->manifests.len <= w->max_fanout) return OCI_OK;
  return oci_error_set(err, OCI_ETOOBIG,
                       "%s: index %s lists %zu manifests, more than %u "
                       "(max_fanout)",
                       w->op, d->digest, x->manifests.len, w->max_fanout);
}

/* ---- the blobs of one manifest, moved in parallel ------------------------ */

/* The blobs a manifest's walk moves (pointers into the parsed manifest),
   and what the jobs need to move them. */
typedef struct blob_jobs {
  const oci_image_descriptor **b;
  size_t n;
  const char *repo, *dst_repo;
  const oci_layout *src_layout; /* push */
  oci_layout *dst_layout;       /* pull */
} blob_jobs;

static int blob_jobs_add(blob_jobs *j, const oci_image_descriptor *b,
                         size_t cap, oci_error *err) {
  if (!j->b && !(j->b = calloc(cap ? cap : 1, sizeof *j->b)))
    return reg_nomem(err);
  j->b[j->n++] = b;
  return OCI_OK;
}

/* PUT one document (manifest or index bytes) under ref; put_manifest keeps
   the referrers fallback when it has a subject the registry did not index. */
static int put_document(oci_registry *r, const char *repo, const char *ref,
                        const oci_image_descriptor *d, const char *body,
                        size_t len, oci_error *err) {
  return oci_registry_put_manifest(r, repo, ref, doc_media_type(d), body, len,
                                   NULL, NULL, err);
}

/* ---- push
 * --------------------------------------------------------------------- */

static int push_job(oci_registry *const *c, void *ctx, size_t i,
                    oci_error *err) {
  const blob_jobs *j = ctx;
  return oci_registry_push_blob_from_layout(c[0], j->repo, j->src_layout,
                                            j->b[i], err);
}

static int push_node(oci_registry *r, const oci_layout *l, const char *repo,
                     const oci_image_descriptor *d, const char *tag, int depth,
                     walk *w, oci_error *err) {
  char mt[128], dg[160]; /* for messages */
  if (depth > REG_MAX_DEPTH)
    return oci_error_set(err, OCI_EDEPTH, "push: indexes nest deeper than %d",
                         REG_MAX_DEPTH);
  int rc = walk_visit(w, d, err);
  if (rc <= 0) return rc; /* pushed already, or an error */
  char *body;
  size_t len;
  if ((rc = oci_layout_get_blob(l, d->digest, d->size, &body, &len, err)))
    return rc;
  if (oci_media_type_is_index(d->media_type)) {
    oci_image_index *x;
    if ((rc = oci_image_index_parse(body, len, NULL, &x, err))) {
      ol_wrap(err, d->digest);
      goto out;
    }
    rc = walk_fanout(w, d, x, err);
    for (size_t i = 0; i < x->manifests.len && !rc; i++)
      rc =
          push_node(r, l, repo, x->manifests.items[i], NULL, depth + 1, w, err);
    oci_image_index_free(x);
  } else if (oci_media_type_is_manifest(d->media_type)) {
    oci_image_manifest *m;
    if ((rc = oci_image_manifest_parse(body, len, NULL, &m, err))) {
      ol_wrap(err, d->digest);
      goto out;
    }
    blob_jobs j = {.repo = repo, .src_layout = l};
    for (size_t i = 0; i <= m->layers.len && !rc; i++) {
      const oci_image_descriptor *b = i ? m->layers.items[i - 1] : m->config;
      bool here = false;
      /* a foreign layer (urls, not in the layout) is not ours to upload */
      if (i && b->urls.len && !oci_layout_has_blob(l, b->digest, &here, NULL) &&
          !here)
        continue;
      if ((rc = walk_blob(w, b, err)) == 1)
        rc = blob_jobs_add(&j, b, m->layers.len + 1, err);
    }
    if (!rc) rc = reg_parallel(&r, 1, j.n, push_job, &j, err);
    free(j.b);
    oci_image_manifest_free(m);
  } else {
    rc = oci_error_set(err, OCI_EUNSUPPORTED,
                       "push: %s has media type %s, not an image manifest "
                       "or index",
                       shown(d->digest, dg, sizeof dg),
                       shown(doc_media_type(d), mt, sizeof mt));
  }
  if (!rc) rc = put_document(r, repo, tag ? tag : d->digest, d, body, len, err);
out:
  free(body);
  return rc;
}

int oci_registry_push(oci_registry *r, const oci_layout *l, const char *name,
                      const char *repo, const char *tag,
                      oci_image_descriptor **out, oci_error *err) {
  oci_error_reset(err);
  if (out) *out = NULL;
  int rc;
  if (!repo || (rc = oci_check_repository_name(repo, strlen(repo), err)))
    return repo ? rc : oci_error_set(err, OCI_EINVAL, "repository missing");
  if (tag && (rc = oci_check_tag(tag, strlen(tag), err))) return rc;
  oci_image_descriptor *d;
  if ((rc = oci_layout_lookup(l, name, &d, err))) return rc;
  walk w;
  walk_init(&w, r, "push");
  rc = push_node(r, l, repo, d, tag, 0, &w, err);
  walk_free(&w);
  if (!rc && out)
    *out = d;
  else
    oci_image_descriptor_free(d);
  return rc;
}

/* ---- pull
 * ----------------------------------------------------------------------- */

typedef struct bytes {
  const char *buf;
  size_t len;
} bytes;

static int write_bytes(void *ud, oci_blob_writer *w, oci_error *err) {
  const bytes *b = ud;
  return oci_blob_writer_write(w, b->buf, b->len, err);
}

/* Stores document bytes (the writer checks them against d->digest). */
static int store_document(oci_layout *l, const oci_image_descriptor *d,
                          const char *body, size_t len, oci_error *err) {
  bytes b = {body, len};
  return reg_layout_store(l, d, write_bytes, &b, err);
}

/* The library's one platform rule (oci_platform_matches, which
   oci_layout_resolve uses too); an entry without a platform matches no
   platform asked for. */
static bool platform_matches(const oci_registry_platform *want,
                             const oci_image_platform *p) {
  if (!p) return false;
  return oci_platform_matches(
      want->os, want->architecture, want->variant, p->os, p->architecture,
      oci_is_present(p, OCI_F_image_platform_variant) ? p->variant : NULL);
}

/* Fetches the document d names, checks it against d (digest, size). */
static int fetch_document(oci_registry *r, const char *repo,
                          const oci_image_descriptor *d,
                          oci_registry_manifest *m, oci_error *err) {
  int rc = oci_registry_get_manifest(r, repo, d->digest,
                                     OCI_REGISTRY_ACCEPT_MANIFESTS, m, err);
  if (rc) return rc;
  if (d->size >= 0 && (uint64_t)d->size != m->len) {
    size_t got = m->len; /* the free below clears it */
    oci_registry_manifest_free(m);
    return oci_error_set(err, OCI_EMISMATCH,
                         "manifest %s: %zu bytes, its descriptor gives %lld",
                         d->digest, got, (long long)d->size);
  }
  return OCI_OK;
}

static int pull_node(oci_registry *r, const char *repo,
                     const oci_image_descriptor *d, const char *body,
                     size_t len, oci_layout *l,
                     const oci_registry_platform *platform, int depth, walk *w,
                     oci_image_descriptor **chosen, oci_error *err);

static int pull_job(oci_registry *const *c, void *ctx, size_t i,
                    oci_error *err) {
  const blob_jobs *j = ctx;
  return oci_registry_get_blob_to_layout(c[0], j->repo, j->b[i], j->dst_layout,
                                         err);
}

/* Pulls the child document d (fetching it first). */
static int pull_child(oci_registry *r, const char *repo,
                      const oci_image_descriptor *d, oci_layout *l,
                      const oci_registry_platform *platform, int depth, walk *w,
                      oci_image_descriptor **chosen, oci_error *err) {
  int rc = walk_visit(w, d, err);
  if (rc <= 0) return rc; /* pulled already, or an error */
  oci_registry_manifest m;
  if ((rc = fetch_document(r, repo, d, &m, err))) return rc;
  rc = pull_node(r, repo, d, m.body, m.len, l, platform, depth, w, chosen, err);
  oci_registry_manifest_free(&m);
  return rc;
}

static int pull_node(oci_registry *r, const char *repo,
                     const oci_image_descriptor *d, const char *body,
                     size_t len, oci_layout *l,
                     const oci_registry_platform *platform, int depth, walk *w,
                     oci_image_descriptor **chosen, oci_error *err) {
  char mt[128], dg[160]; /* for messages */
  if (depth > REG_MAX_DEPTH)
    return oci_error_set(err, OCI_EDEPTH, "pull: indexes nest deeper than %d",
                         REG_MAX_DEPTH);
  int rc = OCI_OK;
  if (oci_media_type_is_index(d->media_type)) {
    oci_image_index *x;
    if ((rc = oci_image_index_parse(body, len, NULL, &x, err)))
      return ol_wrap(err, d->digest);
    if ((rc = walk_fanout(w, d, x, err))) {
      oci_image_index_free(x);
      return rc;
    }
    if (!platform) {
      for (size_t i = 0; i < x->manifests.len && !rc; i++)
        rc = pull_child(r, repo, x->manifests.items[i], l, NULL, depth + 1, w,
                        NULL, err);
      if (!rc) rc = store_document(l, d, body, len, err);
    } else {
      const oci_image_descriptor *pick = NULL;
      char seen[256] = "";
      for (size_t i = 0; i < x->manifests.len && !pick; i++) {
        const oci_image_descriptor *c = x->manifests.items[i];
        if (oci_media_type_is_index(c->media_type) ||
            platform_matches(platform, c->platform))
          pick = c;
        else if (c->platform) {
          size_t k = strlen(seen);
          char os[40], arch[40], var[40];
          snprintf(seen + k, sizeof seen - k, "%s%s/%s%s%s", k ? ", " : "",
                   shown(c->platform->os, os, sizeof os),
                   shown(c->platform->architecture, arch, sizeof arch),
                   c->platform->variant ? "/" : "",
                   c->platform->variant
                       ? shown(c->platform->variant, var, sizeof var)
                       : "");
        }
      }
      if (!pick)
        rc = oci_error_set(
            err, OCI_EINVAL,
            "pull: index %s has no manifest for %s/%s%s%s (it has: %s)",
            d->digest, platform->os ? platform->os : "*",
            platform->architecture ? platform->architecture : "*",
            platform->variant ? "/" : "",
            platform->variant ? platform->variant : "",
            seen[0] ? seen : "none with a platform");
      else
        rc = pull_child(r, repo, pick, l, platform, depth + 1, w, chosen, err);
    }
    oci_image_index_free(x);
    return rc;
  }
  if (!oci_media_type_is_manifest(d->media_type))
    return oci_error_set(err, OCI_EUNSUPPORTED,
                         "pull: %s has media type %s, not an image manifest "
                         "or index",
                         shown(d->digest, dg, sizeof dg),
                         shown(doc_media_type(d), mt, sizeof mt));
  oci_image_manifest *m;
  if ((rc = oci_image_manifest_parse(body, len, NULL, &m, err)))
    return ol_wrap(err, d->digest);
  blob_jobs j = {.repo = repo, .dst_layout = l};
  for (size_t i = 0; i <= m->layers.len && !rc; i++) {
    const oci_image_descriptor *b = i ? m->layers.items[i - 1] : m->config;
    /* a foreign layer is fetched from its urls by whoever needs it */
    if (i && b->urls.len && strstr(doc_media_type(b), "nondistributable"))
      continue;
    if ((rc = walk_blob(w, b, err)) == 1)
      rc = blob_jobs_add(&j, b, m->layers.len + 1, err);
  }
  /* the manifest is stored below only once every blob is in place */
  if (!rc) rc = reg_parallel(&r, 1, j.n, pull_job, &j, err);
  free(j.b);
  oci_image_manifest_free(m);
  if (!rc) rc = store_document(l, d, body, len, err);
  if (!rc && chosen && !*chosen &&
      oci_clone(&oci_type_image_descriptor, d, (void **)chosen, err))
    rc = reg_nomem(err);
  return rc;
}

/* The descriptor of a document fetched by reference: its Content-Type,
   unless that is no manifest or index type (a generic one) and the body
   says what it is (a manifest with a config, an index). */
static int top_descriptor(const oci_registry_manifest *m,
                          oci_image_descriptor **out, oci_error *err) {
  int rc = oci_image_descriptor_make(
      m->media_type[0] ? m->media_type : OCI_MEDIA_TYPE_OCTET_STREAM, m->digest,
      (int64_t)m->len, out, err);
  if (rc || oci_media_type_is_index((*out)->media_type) ||
      oci_media_type_is_manifest((*out)->media_type))
    return rc;
  oci_image_manifest *mm = NULL;
  oci_image_index *xx = NULL;
  const char *mt = NULL;
  if (oci_image_manifest_parse(m->body, m->len, NULL, &mm, NULL) == OCI_OK &&
      mm->media_type && mm->config)
    mt = mm->media_type;
  else if (oci_image_index_parse(m->body, m->len, NULL, &xx, NULL) == OCI_OK &&
           xx->media_type)
    mt = xx->media_type;
  if (mt) rc = oci_set_string_err(*out, DESC_F(media_type), mt, err);
  oci_image_manifest_free(mm);
  oci_image_index_free(xx);
  if (rc) {
    oci_image_descriptor_free(*out);
    *out = NULL;
  }
  return rc;
}

int oci_registry_pull(oci_registry *r, const char *repo, const char *reference,
                      oci_layout *l, const char *name,
                      const oci_registry_platform *platform,
                      oci_image_descriptor **out, oci_error *err) {
  oci_error_reset(err);
  if (out) *out = NULL;
  if (name) {
    int rc = oci_check_ref_name_annotation(name, strlen(name), err);
    if (rc) return rc;
  }
  oci_registry_manifest m;
  int rc = oci_registry_get_manifest(r, repo, reference,
                                     OCI_REGISTRY_ACCEPT_MANIFESTS, &m, err);
  if (rc) return rc;
  oci_image_descriptor *top = NULL, *chosen = NULL;
  if ((rc = top_descriptor(&m, &top, err))) goto out;
  walk w;
  walk_init(&w, r, "pull");
  if ((rc = walk_visit(&w, top, err)) == 1)
    rc = pull_node(r, repo, top, m.body, m.len, l, platform, 0, &w,
                   platform ? &chosen : NULL, err);
  walk_free(&w);
  if (rc) goto out;
  oci_image_descriptor *res = chosen ? chosen : top;
  if (name && (rc = oci_layout_tag(l, res, name, err))) goto out;
  if (out) {
    *out = res;
    if (res == chosen)
      chosen = NULL;
    else
      top = NULL;
  }
out:
  oci_image_descriptor_free(top);
  oci_image_descriptor_free(chosen);
  oci_registry_manifest_free(&m);
  return rc;
}

/* ---- copy
 * ----------------------------------------------------------------------- */

static int file_sink(void *ud, const void *buf, size_t len, oci_error *err) {
  if (fwrite(buf, 1, len, ud) != len)
    return oci_error_set(err, OCI_EIO, "temporary file: %s", strerror(errno));
  return OCI_OK;
}

/* A blob copied between two clients as it arrives: a second thread GETs
   it into a temporary file while this one PUTs from that file, reading up
   to the bytes written so far (and waiting for more). The file keeps every
   byte, so a retried PUT reads it again from its start. The upload hashes
   what it sends and holds back the last byte unless the whole matches the
   digest (the download leaves the check to it: each byte is hashed once):
   the destination never gets a complete wrong blob. The download gathers
   curl's 16 KiB pieces into TEE_BUFFER bytes per write and wake-up. */
#define TEE_BUFFER ((size_t)256 << 10)

typedef struct tee {
  pthread_mutex_t mu;
  pthread_cond_t more; /* bytes written, or the download ended */
  int fd;
  char *buf; /* bytes received, not yet in the file (download thread) */
  size_t blen;
  int64_t written; /* bytes in the file (under mu) */
  bool done;       /* the download ended (under mu) */
  int rc;          /* its result, once done */
  oci_error err;
  atomic_int stop; /* the upload ended first: the download stops */
  int64_t pos;     /* the upload's next byte (upload thread only) */
  oci_registry *src;
  const char *repo;
  const oci_image_descriptor *b;
} tee;

/* Writes p[0..len) at the end of the file and tells the upload. */
static int tee_put(tee *t, const char *p, size_t len, oci_error *err) {
  int64_t off = t->written; /* only this thread changes it */
  for (size_t left = len; left;) {
    ssize_t k = pwrite(t->fd, p, left, (off_t)off);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0)
      return oci_error_set(err, OCI_EIO, "temporary file: %s",
                           k < 0 ? strerror(errno) : "short write");
    p += k, left -= (size_t)k, off += k;
  }
  pthread_mutex_lock(&t->mu);
  t->written = off;
  pthread_cond_signal(&t->more);
  pthread_mutex_unlock(&t->mu);
  return OCI_OK;
}

static int tee_sink(void *ud, const void *buf, size_t len, oci_error *err) {
  tee *t = ud;
  if (atomic_load(&t->stop))
    return oci_error_set(err, OCI_ECANCELED, "blob %s: the upload ended",
                         t->b->digest);
  if (t->blen + len > TEE_BUFFER) {
    int rc = tee_put(t, t->buf, t->blen, err);
    t->blen = 0;
    if (rc) return rc;
  }
  if (len >= TEE_BUFFER) return tee_put(t, buf, len, err);
  memcpy(t->buf + t->blen, buf, len);
  t->blen += len;
  return OCI_OK;
}

static void *tee_get(void *ud) {
  tee *t = ud;
  oci_error err;
  oci_error_clear(&err);
  int rc = reg_get_blob_unverified(t->src, t->repo, t->b->digest, t->b->size,
                                   tee_sink, t, &err);
  if (!rc && t->blen) rc = tee_put(t, t->buf, t->blen, &err);
  pthread_mutex_lock(&t->mu);
  t->rc = rc;
  t->err = err;
  t->done = true;
  pthread_cond_signal(&t->more);
  pthread_mutex_unlock(&t->mu);
  return NULL;
}

static ssize_t tee_read(void *ud, void *buf, size_t cap, oci_error *err) {
  tee *t = ud;
  pthread_mutex_lock(&t->mu);
  while (t->pos >= t->written && !t->done)
    pthread_cond_wait(&t->more, &t->mu);
  int64_t avail = t->written - t->pos;
  bool failed = t->done && t->rc;
  pthread_mutex_unlock(&t->mu);
  if (avail <= 0) {
    if (!failed) return 0; /* the end: push_blob checks the size */
    *err = t->err;         /* the download's own failure */
    return -1;
  }
  size_t n = (int64_t)cap < avail ? cap : (size_t)avail;
  ssize_t k;
  do
    k = pread(t->fd, buf, n, (off_t)t->pos);
  while (k < 0 && errno == EINTR);
  if (k <= 0) {
    oci_error_set(err, OCI_EIO, "temporary file: %s",
                  k < 0 ? strerror(errno) : "short read");
    return -1;
  }
  t->pos += k;
  return k;
}

static int tee_seek(void *ud, int64_t off) {
  tee *t = ud;
  t->pos = off;
  return 0;
}

/* The streamed copy; *started false when the download thread could not
   start (nothing was sent: the caller copies the blob another way). */
static int copy_streamed(oci_registry *src, const char *src_repo,
                         oci_registry *dst, const char *dst_repo,
                         const oci_image_descriptor *b, FILE *f,
                         reg_session *session, bool *started, oci_error *err) {
  tee t = {.fd = fileno(f), .src = src, .repo = src_repo, .b = b};
  *started = false;
  if (!(t.buf = malloc(TEE_BUFFER))) return OCI_OK; /* the plain way */
  atomic_init(&t.stop, 0);
  pthread_mutex_init(&t.mu, NULL);
  pthread_cond_init(&t.more, NULL);
  /* the download runs on src alone meanwhile: its progress reports (which
     would go to the caller's callback from another thread, and repeat the
     upload's) are off; its transfer stops on the upload's failure */
  oci_registry_progress_fn progress = src->o.progress;
  src->o.progress = NULL;
  src->stop = &t.stop;
  pthread_t th;
  int rc = OCI_OK;
  *started = pthread_create(&th, NULL, tee_get, &t) == 0;
  if (*started) {
    char what[OCI_DIGEST_STRING_MAX + 8];
    snprintf(what, sizeof what, "blob %s", b->digest);
    rc = reg_push_blob_source(dst, dst_repo, b->digest, b->size, tee_read, &t,
                              tee_seek, what, session, err);
    /* a failed upload stops the download; a complete one read every byte
       the download wrote (and matched the digest): it is ending anyway */
    if (rc) atomic_store(&t.stop, 1);
    pthread_join(th, NULL);
    if (!rc) { /* fetched, and verified by the upload */
      src->stats.blobs_downloaded++;
      src->stats.bytes_downloaded += (uint64_t)b->size;
    }
  }
  src->stop = NULL;
  src->o.progress = progress;
  pthread_cond_destroy(&t.more);
  pthread_mutex_destroy(&t.mu);
  free(t.buf);
  return rc;
}

static int copy_blob(oci_registry *src, const char *src_repo, oci_registry *dst,
                     const char *dst_repo, const oci_image_descriptor *b,
                     oci_error *err) {
  bool found = false;
  int rc = oci_registry_has_blob(dst, dst_repo, b->digest, &found, NULL, err);
  if (rc) return rc;
  if (found) {
    dst->stats.blobs_skipped++;
    return OCI_OK;
  }
  /* a registry that answered a mount with an upload session is not asked
     to mount again (oci_registry_capabilities); the session of a refused
     mount (202) is the one the upload below uses */
  reg_session s = REG_SESSION_INIT;
  bool mounted = false;
  if (src == dst && strcmp(src_repo, dst_repo) &&
      atomic_load(&dst->caps->mount) != (int)OCI_REGISTRY_CAP_NO) {
    if ((rc = reg_mount_blob(dst, dst_repo, src_repo, b->digest, &mounted, &s,
                             err)))
      return rc;
    if (mounted) return OCI_OK;
  }
  /* then from the repositories of dst's host that the blob-location
     cache names */
  if ((rc = reg_mount_known(dst, dst_repo, b->digest,
                            src == dst ? src_repo : NULL, &mounted, &s, err)) ||
      mounted) {
    reg_session_drop(dst, dst_repo, &s);
    return rc;
  }
  FILE *f = tmpfile();
  if (!f) {
    reg_session_drop(dst, dst_repo, &s);
    return oci_error_set(err, OCI_EIO, "temporary file: %s", strerror(errno));
  }
  /* two clients: download and upload at once (one client cannot run two
     transfers) */
  if (src != dst && b->size > 0) {
    bool started = false;
    rc = copy_streamed(src, src_repo, dst, dst_repo, b, f, &s, &started, err);
    if (started) {
      fclose(f);
      return rc;
    }
  }
  /* else through a verified temporary file: the upload starts only once
     the content is known to be right */
  rc = oci_registry_get_blob(src, src_repo, b->digest, b->size, file_sink, f,
                             err);
  if (!rc && fflush(f))
    rc = oci_error_set(err, OCI_EIO, "temporary file: %s", strerror(errno));
  if (!rc)
    rc = reg_push_blob_fd(dst, dst_repo, b->digest, b->size, fileno(f),
                          "temporary file", true, &s, err); /* verified above */
  reg_session_drop(dst, dst_repo, &s); /* unused when the download failed */
  fclose(f);
  return rc;
}

static int copy_job(oci_registry *const *c, void *ctx, size_t i,
                    oci_error *err) {
  const blob_jobs *j = ctx;
  return copy_blob(c[0], j->repo, c[1], j->dst_repo, j->b[i], err);
}

static int copy_node(oci_registry *src, const char *src_repo, oci_registry *dst,
                     const char *dst_repo, const oci_image_descriptor *d,
                     const char *body, size_t len, const char *tag, int depth,
                     walk *w, oci_error *err) {
  char mt[128], dg[160]; /* for messages */
  if (depth > REG_MAX_DEPTH)
    return oci_error_set(err, OCI_EDEPTH, "copy: indexes nest deeper than %d",
                         REG_MAX_DEPTH);
  int rc = OCI_OK;
  if (oci_media_type_is_index(d->media_type)) {
    oci_image_index *x;
    if ((rc = oci_image_index_parse(body, len, NULL, &x, err)))
      return ol_wrap(err, d->digest);
    rc = walk_fanout(w, d, x, err);
    for (size_t i = 0; i < x->manifests.len && !rc; i++) {
      oci_registry_manifest m;
      const oci_image_descriptor *c = x->manifests.items[i];
      if ((rc = walk_visit(w, c, err)) <= 0) continue; /* copied already */
      if ((rc = fetch_document(src, src_repo, c, &m, err))) break;
      rc = copy_node(src, src_repo, dst, dst_repo, c, m.body, m.len, NULL,
                     depth + 1, w, err);
      oci_registry_manifest_free(&m);
    }
    oci_image_index_free(x);
  } else if (oci_media_type_is_manifest(d->media_type)) {
    oci_image_manifest *m;
    if ((rc = oci_image_manifest_parse(body, len, NULL, &m, err)))
      return ol_wrap(err, d->digest);
    blob_jobs j = {.repo = src_repo, .dst_repo = dst_repo};
    for (size_t i = 0; i <= m->layers.len && !rc; i++) {
      const oci_image_descriptor *b = i ? m->layers.items[i - 1] : m->config;
      if (i && b->urls.len && strstr(doc_media_type(b), "nondistributable"))
        continue;
      if ((rc = walk_blob(w, b, err)) == 1)
        rc = blob_jobs_add(&j, b, m->layers.len + 1, err);
    }
    oci_registry *const c[2] = {src, dst};
    if (!rc) rc = reg_parallel(c, 2, j.n, copy_job, &j, err);
    free(j.b);
    oci_image_manifest_free(m);
  } else
    rc = oci_error_set(err, OCI_EUNSUPPORTED,
                       "copy: %s has media type %s, not an image manifest "
                       "or index",
                       shown(d->digest, dg, sizeof dg),
                       shown(doc_media_type(d), mt, sizeof mt));
  if (!rc)
    rc = put_document(dst, dst_repo, tag ? tag : d->digest, d, body, len, err);
  return rc;
}

int oci_registry_copy(oci_registry *src, const char *src_repo,
                      const char *src_reference, oci_registry *dst,
                      const char *dst_repo, const char *dst_tag,
                      oci_image_descriptor **out, oci_error *err) {
  oci_error_reset(err);
  if (out) *out = NULL;
  int rc;
  if (!dst_repo ||
      (rc = oci_check_repository_name(dst_repo, strlen(dst_repo), err)))
    return dst_repo ? rc : oci_error_set(err, OCI_EINVAL, "repository missing");
  if (dst_tag && (rc = oci_check_tag(dst_tag, strlen(dst_tag), err))) return rc;
  oci_registry_manifest m;
  if ((rc = oci_registry_get_manifest(src, src_repo, src_reference,
                                      OCI_REGISTRY_ACCEPT_MANIFESTS, &m, err)))
    return rc;
  oci_image_descriptor *top = NULL;
  walk w;
  walk_init(&w, src, "copy");
  if (!(rc = top_descriptor(&m, &top, err)) &&
      (rc = walk_visit(&w, top, err)) == 1)
    rc = copy_node(src, src_repo, dst, dst_repo, top, m.body, m.len, dst_tag, 0,
                   &w, err);
  walk_free(&w);
  oci_registry_manifest_free(&m);
  if (!rc && out)
    *out = top;
  else
    oci_image_descriptor_free(top);
  return rc;
}
