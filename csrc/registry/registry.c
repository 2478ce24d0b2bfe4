/* distribution-spec spec.md endpoints: ping, manifests, blobs, uploads,
   mounts, tag and catalog listings, referrers. Paths are built only from
   names, tags and digests that passed their grammars, so nothing in a URL
   needs escaping except query values. */
#define _GNU_SOURCE /* asprintf, vasprintf */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/layout_internal.h"
#include "ocispec/ocispec.h"
#include "registry_internal.h"

/* ---- argument checks ----------------------------------------------------- */

static int check_repo(const char *repo, oci_error *err) {
  if (!repo) return oci_error_set(err, OCI_EINVAL, "repository is missing");
  return oci_check_repository_name(repo, strlen(repo), err);
}

static int check_digest(const char *d, oci_error *err) {
  if (!d) return oci_error_set(err, OCI_EINVAL, "digest is missing");
  oci_digest_view v;
  return oci_digest_parse(d, strlen(d), &v, err);
}

/* A manifest reference: a digest (has ':') or a tag (spec.md:160). */
static int check_reference(const char *ref, oci_error *err) {
  if (!ref) return oci_error_set(err, OCI_EINVAL, "reference is missing");
  if (strchr(ref, ':')) return check_digest(ref, err);
  return oci_check_tag(ref, strlen(ref), err);
}

static char *scope_of(const char *repo, const char *actions) {
  char *s = NULL;
  if (asprintf(&s, "repository:%s:%s", repo, actions) < 0) return NULL;
  return s;
}

/* The URL /v2/<repo>/<kind>/<ref> of one request and its token scope
   repository:<repo>:<actions> (free with target_free). */
typedef struct target {
  char *url, *scope;
} target;

static void target_free(target *t) {
  free(t->url);
  free(t->scope);
}

static int target_of(oci_registry *r, const char *repo, const char *kind,
                     const char *ref, const char *actions, target *t,
                     oci_error *err) {
  t->url = reg_url(r, "%s/%s/%s", repo, kind, ref);
  t->scope = scope_of(repo, actions);
  if (t->url && t->scope) return OCI_OK;
  target_free(t);
  return reg_nomem(err);
}

/* "type/subtype; charset=..." -> "type/subtype" (malloc'd). */
static char *bare_media_type(const char *ct) {
  if (!ct) return strdup("");
  size_t n = strcspn(ct, ";");
  while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
    n--;
  return strndup(ct, n);
}

/* ---- ping ---------------------------------------------------------------- */

int oci_registry_ping(oci_registry *r, oci_error *err) {
  oci_error_reset(err);
  char *url = reg_url(r, "%s", "");
  if (!url) return reg_nomem(err);
  reg_req q = {.method = "GET", .url = url, .max_body = 1u << 16};
  int rc = reg_call(r, &q, err);
  free(url);
  return rc;
}

/* ---- manifests ----------------------------------------------------------- */

void oci_registry_manifest_free(oci_registry_manifest *m) {
  if (!m) return;
  free(m->media_type);
  free(m->digest);
  free(m->body);
  memset(m, 0, sizeof *m);
}

/* The digest of body under the algorithm of want (sha256 when want is
   NULL or not a digest). */
static int body_digest(const char *want, const void *body, size_t len,
                       char out[OCI_DIGEST_STRING_MAX], oci_error *err) {
  oci_digest_alg alg = OCI_DIGEST_SHA256;
  oci_digest_view v;
  if (want && oci_digest_parse(want, strlen(want), &v, NULL) == OCI_OK &&
      v.alg != OCI_DIGEST_OTHER)
    alg = v.alg;
  return oci_hash_buffer(alg, body, len, out, err);
}

int oci_registry_get_manifest(oci_registry *r, const char *repo,
                              const char *reference, const char *accept,
                              oci_registry_manifest *out, oci_error *err) {
  oci_error_reset(err);
  memset(out, 0, sizeof *out);
  int rc;
  if ((rc = check_repo(repo, err)) || (rc = check_reference(reference, err)))
    return rc;
  target t;
  if ((rc = target_of(r, repo, "manifests", reference, "pull", &t, err)))
    return rc;
  reg_resp p = {0};
  reg_req q = {.method = "GET",
               .url = t.url,
               .scope = t.scope,
               .accept = accept ? accept : OCI_REGISTRY_ACCEPT_MANIFESTS,
               .max_body = OCI_REGISTRY_MANIFEST_MAX};
  if ((rc = reg_do(r, &q, NULL, &p, err))) goto out;
  char dg[OCI_DIGEST_STRING_MAX];
  bool by_digest = strchr(reference, ':') != NULL;
  if ((rc = body_digest(by_digest ? reference : p.content_digest,
                        p.body ? p.body : "", p.len, dg, err)))
    goto out;
  /* spec.md "Pulling manifests": the client SHOULD verify the content
     against the digest it asked for; Docker-Content-Digest is a claim we
     check too */
  if (by_digest && strcmp(dg, reference)) {
    rc = oci_error_set(err, OCI_EMISMATCH,
                       "GET %s: manifest content has digest %s, not %s", t.url,
                       dg, reference);
    goto out;
  }
  if (!by_digest && p.content_digest &&
      oci_digest_parse(p.content_digest, strlen(p.content_digest), NULL,
                       NULL) == OCI_OK &&
      strcmp(dg, p.content_digest)) {
    rc = oci_error_set(err, OCI_EMISMATCH,
                       "GET %s: manifest content has digest %s, but the "
                       "registry says %s",
                       t.url, dg, p.content_digest);
    goto out;
  }
  out->media_type = bare_media_type(p.content_type);
  out->digest = strdup(dg);
  if (!p.body) p.body = calloc(1, 1);
  out->body = p.body;
  out->len = p.len;
  p.body = NULL;
  if (!out->media_type || !out->digest || !out->body) {
    oci_registry_manifest_free(out);
    rc = reg_nomem(err);
    goto out;
  }
  r->stats.manifests_pulled++;
out:
  reg_resp_free(&p);
  target_free(&t);
  return rc;
}

int oci_registry_head_manifest(oci_registry *r, const char *repo,
                               const char *reference, const char *accept,
                               bool *found, oci_image_descriptor **out,
                               oci_error *err) {
  oci_error_reset(err);
  if (out) *out = NULL;
  *found = false;
  int rc;
  if ((rc = check_repo(repo, err)) || (rc = check_reference(reference, err)))
    return rc;
  target t;
  if ((rc = target_of(r, repo, "manifests", reference, "pull", &t, err)))
    return rc;
  reg_resp p = {0};
  reg_req q = {.method = "HEAD",
               .url = t.url,
               .scope = t.scope,
               .accept = accept ? accept : OCI_REGISTRY_ACCEPT_MANIFESTS};
  static const long ok404[] = {404, 0};
  if ((rc = reg_do(r, &q, ok404, &p, err))) goto out;
  if (p.status == 404) goto out;
  *found = true;
  if (!out) goto out;
  const char *dg = strchr(reference, ':') ? reference : p.content_digest;
  if (!dg || check_digest(dg, NULL)) {
    rc = oci_error_set(err, OCI_EREGISTRY,
                       "HEAD %s: no valid Docker-Content-Digest header", t.url);
    goto out;
  }
  char *mt = bare_media_type(p.content_type);
  if (!mt) {
    rc = reg_nomem(err);
    goto out;
  }
  rc = oci_image_descriptor_make(*mt ? mt : OCI_MEDIA_TYPE_OCTET_STREAM, dg,
                                 p.content_length >= 0 ? p.content_length : 0,
                                 out, err);
  free(mt);
out:
  reg_resp_free(&p);
  target_free(&t);
  return rc;
}

int oci_registry_put_manifest(oci_registry *r, const char *repo,
                              const char *reference, const char *media_type,
                              const void *body, size_t len,
                              oci_image_descriptor **out, bool *subject_handled,
                              oci_error *err) {
  oci_error_reset(err);
  if (subject_handled) *subject_handled = false;
  bool handled = false;
  int rc = reg_put_manifest(r, repo, reference, media_type, body, len, out,
                            &handled, err);
  if (subject_handled) *subject_handled = handled;
  /* the registry indexed the subject itself, or the fallback is ours */
  if (rc || handled) return rc;
  char dg[OCI_DIGEST_STRING_MAX];
  if ((rc = body_digest(strchr(reference, ':') ? reference : NULL, body, len,
                        dg, err)) ||
      (rc = reg_add_referrer(r, repo, media_type, body, len, dg, err))) {
    if (out) {
      oci_image_descriptor_free(*out);
      *out = NULL;
    }
  }
  return rc;
}

int reg_put_manifest(oci_registry *r, const char *repo, const char *reference,
                     const char *media_type, const void *body, size_t len,
                     oci_image_descriptor **out, bool *subject_handled,
                     oci_error *err) {
  if (out) *out = NULL;
  if (subject_handled) *subject_handled = false;
  int rc;
  if ((rc = check_repo(repo, err)) || (rc = check_reference(reference, err)))
    return rc;
  if (!media_type ||
      (rc = oci_check_media_type(media_type, strlen(media_type), err)))
    return media_type ? rc
                      : oci_error_set(err, OCI_EINVAL,
                                      "manifest media type is missing");
  if (len > OCI_REGISTRY_MANIFEST_MAX)
    return oci_error_set(err, OCI_ETOOBIG,
                         "manifest of %zu bytes is over the %u bytes "
                         "registries must accept",
                         len, OCI_REGISTRY_MANIFEST_MAX);
  char dg[OCI_DIGEST_STRING_MAX];
  bool by_digest = strchr(reference, ':') != NULL;
  if ((rc = body_digest(by_digest ? reference : NULL, body, len, dg, err)))
    return rc;
  if (by_digest && strcmp(dg, reference))
    return oci_error_set(err, OCI_EMISMATCH,
                         "manifest content has digest %s, not %s", dg,
                         reference);
  target t;
  if ((rc = target_of(r, repo, "manifests", reference, "pull,push", &t, err)))
    return rc;
  reg_resp p = {0};
  reg_req q = {.method = "PUT",
               .url = t.url,
               .scope = t.scope,
               .content_type = media_type,
               .body = body,
               .body_len = len,
               .has_body = true,
               .max_body = 1u << 16};
  if ((rc = reg_do(r, &q, NULL, &p, err))) goto out;
  r->stats.manifests_pushed++;
  if (subject_handled) *subject_handled = p.oci_subject != NULL;
  if (out)
    rc = oci_image_descriptor_make(media_type, dg, (int64_t)len, out, err);
out:
  reg_resp_free(&p);
  target_free(&t);
  return rc;
}

static int delete_path(oci_registry *r, const char *repo, const char *kind,
                       const char *reference, oci_error *err) {
  target t;
  int rc = target_of(r, repo, kind, reference, "delete", &t, err);
  if (rc) return rc;
  reg_req q = {
      .method = "DELETE", .url = t.url, .scope = t.scope, .max_body = 1u << 16};
  rc = reg_call(r, &q, err);
  if (!rc)
    reg_cap_set(&r->caps->deletion, OCI_REGISTRY_CAP_YES, false);
  else if (rc == OCI_EREGISTRY && r->last_status == 405)
    reg_cap_set(&r->caps->deletion, OCI_REGISTRY_CAP_NO, false);
  target_free(&t);
  return rc;
}

int oci_registry_delete_manifest(oci_registry *r, const char *repo,
                                 const char *reference, oci_error *err) {
  oci_error_reset(err);
  int rc;
  if ((rc = check_repo(repo, err)) || (rc = check_reference(reference, err)))
    return rc;
  return delete_path(r, repo, "manifests", reference, err);
}

/* ---- blobs --------------------------------------------------------------- */

int oci_registry_has_blob(oci_registry *r, const char *repo, const char *digest,
                          bool *found, int64_t *size, oci_error *err) {
  oci_error_reset(err);
  *found = false;
  if (size) *size = -1;
  int rc;
  if ((rc = check_repo(repo, err)) || (rc = check_digest(digest, err)))
    return rc;
  target t;
  if ((rc = target_of(r, repo, "blobs", digest, "pull", &t, err))) return rc;
  reg_resp p = {0};
  reg_req q = {
      .method = "HEAD", .url = t.url, .scope = t.scope, .follow = true};
  static const long ok404[] = {404, 0};
  if ((rc = reg_do(r, &q, ok404, &p, err))) goto out;
  *found = p.status != 404;
  if (*found && size) *size = p.content_length;
  if (*found) reg_bcache_note(r->bcache, r->api_host, repo, digest);
out:
  reg_resp_free(&p);
  target_free(&t);
  return rc;
}

int oci_registry_delete_blob(oci_registry *r, const char *repo,
                             const char *digest, oci_error *err) {
  oci_error_reset(err);
  int rc;
  if ((rc = check_repo(repo, err)) || (rc = check_digest(digest, err)))
    return rc;
  return delete_path(r, repo, "blobs", digest, err);
}

/* Hashes and counts what passes to the caller's sink. */
typedef struct verify_sink {
  oci_hasher *h;
  int64_t size, seen;
  const char *digest;
  oci_registry_sink_fn sink;
  void *ud;
} verify_sink;

static int verify_write(void *ud, const void *buf, size_t len, oci_error *err) {
  verify_sink *v = ud;
  v->seen += (int64_t)len;
  if (v->size >= 0 && v->seen > v->size)
    return oci_error_set(err, OCI_EMISMATCH,
                         "blob %s: more than the %lld bytes its descriptor "
                         "gives",
                         v->digest, (long long)v->size);
  int rc = v->h ? oci_hasher_update(v->h, buf, len, err) : OCI_OK;
  if (rc) return rc;
  return v->sink ? v->sink(v->ud, buf, len, err) : OCI_OK;
}

/* GET of a blob into sink; verify false leaves the digest check (and the
   counters) to a sink that hashes what it gets itself (a layout's blob
   writer): every byte is hashed once. The size is checked either way. */
static int get_blob(oci_registry *r, const char *repo, const char *digest,
                    int64_t size, oci_registry_sink_fn sink, void *ud,
                    bool verify, oci_error *err) {
  int rc;
  if ((rc = check_repo(repo, err)) || (rc = check_digest(digest, err)))
    return rc;
  oci_digest_view dv;
  oci_digest_parse(digest, strlen(digest), &dv, NULL);
  if (dv.alg == OCI_DIGEST_OTHER)
    return oci_error_set(err, OCI_EUNSUPPORTED,
                         "blob %s: cannot verify this digest algorithm",
                         digest);
  verify_sink v = {.size = size, .digest = digest, .sink = sink, .ud = ud};
  if (verify && (rc = oci_hasher_new(dv.alg, &v.h, err))) return rc;
  target t;
  if ((rc = target_of(r, repo, "blobs", digest, "pull", &t, err))) {
    oci_hasher_free(v.h);
    return rc;
  }
  reg_resp p = {0};
  if ((rc = reg_progress(r, digest, 0, size, err))) goto out;
  /* a retry after bytes reached the sink would repeat them: no retry once
     the body started (the sink cannot rewind) */
  reg_req q = {.method = "GET",
               .url = t.url,
               .scope = t.scope,
               .sink = verify_write,
               .sink_ud = &v,
               .follow = true,
               .max_body = 0,
               .what = digest,
               .total = size};
  if ((rc = reg_do(r, &q, NULL, &p, err))) goto out;
  if (size >= 0 && v.seen != size) {
    rc = oci_error_set(err, OCI_EMISMATCH,
                       "blob %s: got %lld bytes, its descriptor gives %lld",
                       digest, (long long)v.seen, (long long)size);
    goto out;
  }
  if (!verify) goto out;
  char got[OCI_DIGEST_STRING_MAX];
  if ((rc = oci_hasher_finish(v.h, got, err))) goto out;
  if (strcmp(got, digest)) {
    rc = oci_error_set(err, OCI_EMISMATCH,
                       "blob %s from %s: content has digest %s", digest, t.url,
                       got);
    goto out;
  }
  r->stats.blobs_downloaded++;
  r->stats.bytes_downloaded += (uint64_t)v.seen;
  reg_bcache_note(r->bcache, r->api_host, repo, digest);
  if (v.seen != size || size < 0)
    rc = reg_progress(r, digest, v.seen, v.seen, err);
out:
  oci_hasher_free(v.h);
  reg_resp_free(&p);
  target_free(&t);
  return rc;
}

int reg_get_blob_unverified(oci_registry *r, const char *repo,
                            const char *digest, int64_t size,
                            oci_registry_sink_fn sink, void *ud,
                            oci_error *err) {
  return get_blob(r, repo, digest, size, sink, ud, false, err);
}

int oci_registry_get_blob(oci_registry *r, const char *repo, const char *digest,
                          int64_t size, oci_registry_sink_fn sink, void *ud,
                          oci_error *err) {
  oci_error_reset(err);
  return get_blob(r, repo, digest, size, sink, ud, true, err);
}

typedef struct mem_sink {
  char *buf;
  size_t len, cap, max;
} mem_sink;

static int mem_write(void *ud, const void *buf, size_t len, oci_error *err) {
  mem_sink *m = ud;
  if (m->len + len > m->max)
    return oci_error_set(err, OCI_ETOOBIG, "blob larger than %zu bytes",
                         m->max);
  return reg_append(&m->buf, &m->len, &m->cap, buf, len) ? reg_nomem(err)
                                                         : OCI_OK;
}

int oci_registry_get_blob_buffer(oci_registry *r, const char *repo,
                                 const char *digest, int64_t size, size_t max,
                                 char **buf, size_t *len, oci_error *err) {
  oci_error_reset(err);
  *buf = NULL;
  *len = 0;
  if (size >= 0 && (uint64_t)size > max)
    return oci_error_set(err, OCI_ETOOBIG,
                         "blob %s: %lld bytes, over the limit of %zu",
                         digest ? digest : "", (long long)size, max);
  mem_sink m = {.max = max};
  int rc = oci_registry_get_blob(r, repo, digest, size, mem_write, &m, err);
  if (rc) {
    free(m.buf);
    return rc;
  }
  if (!m.buf && !(m.buf = calloc(1, 1))) return reg_nomem(err);
  *buf = m.buf;
  *len = m.len;
  return OCI_OK;
}

int reg_layout_store(oci_layout *l, const oci_image_descriptor *d,
                     int (*fill)(void *ud, oci_blob_writer *w, oci_error *err),
                     void *ud, oci_error *err) {
  bool have = false;
  int rc = oci_layout_has_blob(l, d->digest, &have, err);
  if (rc || have) return rc;
  oci_blob_writer *w;
  if ((rc = oci_layout_blob_writer(l, d->media_type, &w, err))) return rc;
  if ((rc = fill(ud, w, err))) {
    oci_blob_writer_abort(w);
    return rc;
  }
  oci_image_descriptor *done = NULL;
  rc = oci_blob_writer_commit(w, d->digest, &done, err);
  oci_image_descriptor_free(done);
  return rc;
}

/* ---- resumable downloads into a layout --------------------------------- */

/* One GET of a blob's bytes from `offset` on, into a layout writer. */
typedef struct range_sink {
  oci_registry *r;
  const reg_resp *p; /* the response being received (its headers) */
  oci_blob_writer *w;
  const char *digest, *url;
  int64_t size;   /* expected, -1 unknown */
  int64_t offset; /* bytes the writer held when the request went */
  int64_t seen;   /* bytes of this response */
  bool checked;   /* the status and Content-Range were looked at */
  /* curl hands the body over 16 KiB at a time: it is gathered here and
     written in pieces of up to REG_SINK_BUFFER bytes (one write(2) and one
     hash update each); range_flush empties it */
  char *buf;
  size_t blen;
} range_sink;

#define REG_SINK_BUFFER ((size_t)256 << 10)

static int range_flush(range_sink *s, oci_error *err) {
  if (!s->blen) return OCI_OK;
  size_t n = s->blen;
  s->blen = 0;
  return oci_blob_writer_write(s->w, s->buf, n, err);
}

/* "bytes START-END/TOTAL" (RFC 9110 14.4); false when malformed. */
static bool parse_content_range(const char *s, int64_t *start, int64_t *end,
                                int64_t *total) {
  if (!s || strncasecmp(s, "bytes ", 6)) return false;
  const char *p = s + 6;
  int64_t v[3];
  for (int i = 0; i < 3; i++) {
    if (*p < '0' || *p > '9') return false;
    int64_t n = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
      if (n > (INT64_MAX - 9) / 10) return false;
      n = n * 10 + (*p - '0');
    }
    v[i] = n;
    if (i < 2 && *p++ != (i ? '/' : '-')) return false;
  }
  if (*p) return false;
  *start = v[0], *end = v[1], *total = v[2];
  return *start <= *end && *end < *total;
}

/* The answer to a range request decides what the writer keeps: 206 with
   the range asked for continues it, 200 (the range ignored: the whole
   blob) starts it over, a 206 with another range is refused. */
static int range_check(range_sink *s, oci_error *err) {
  s->checked = true;
  if (s->p->status == 200) {
    if (!s->offset) return OCI_OK;
    /* the Range was ignored: this registry does not do ranges */
    reg_cap_set(&s->r->caps->range, OCI_REGISTRY_CAP_NO, false);
    s->offset = 0;
    return ol_blob_writer_restart(s->w, err);
  }
  int64_t a, b, total;
  char shown[160];
  const char *cr = s->p->content_range;
  reg_escape(cr ? cr : "(none)", cr ? strlen(cr) : 6, shown, sizeof shown);
  if (s->p->status != 206 || !parse_content_range(cr, &a, &b, &total) ||
      a != s->offset || (s->size >= 0 && (total != s->size || b != total - 1)))
    return reg_fail(err, OCI_EREGISTRY, "GET", s->url,
                    "HTTP %ld with Content-Range %s to a request for bytes "
                    "%lld-: refused (not the range asked for)",
                    s->p->status, shown, (long long)s->offset);
  reg_cap_set(&s->r->caps->range, OCI_REGISTRY_CAP_YES, false);
  return OCI_OK;
}

static int range_write(void *ud, const void *buf, size_t len, oci_error *err) {
  range_sink *s = ud;
  int rc;
  if (!s->checked && (rc = range_check(s, err))) return rc;
  s->seen += (int64_t)len;
  if (s->size >= 0 && s->offset + s->seen > s->size)
    return oci_error_set(err, OCI_EMISMATCH,
                         "blob %s: more than the %lld bytes its descriptor "
                         "gives",
                         s->digest, (long long)s->size);
  if (s->blen + len > REG_SINK_BUFFER && (rc = range_flush(s, err))) return rc;
  if (len >= REG_SINK_BUFFER) {
    if ((rc = oci_blob_writer_write(s->w, buf, len, err))) return rc;
  } else {
    memcpy(s->buf + s->blen, buf, len);
    s->blen += len;
  }
  return reg_progress(s->r, s->digest, s->offset + s->seen, s->size, err);
}

/* Fetches what w lacks of blob d: GET with Range from the bytes w holds;
   a transfer cut after some bytes arrived continues from there, up to
   retries times. */
static int fetch_resume(oci_registry *r, const char *repo,
                        const oci_image_descriptor *d, oci_blob_writer *w,
                        oci_error *err) {
  target t;
  int rc = target_of(r, repo, "blobs", d->digest, "pull", &t, err);
  if (rc) return rc;
  char *buf = malloc(REG_SINK_BUFFER);
  if (!buf) {
    rc = reg_nomem(err);
    goto out;
  }
  if ((rc = reg_progress(r, d->digest, 0, d->size, err))) goto out;
  for (unsigned resumed = 0;; resumed++) {
    int64_t have = (int64_t)oci_blob_writer_size(w);
    if (d->size >= 0 && have == d->size) break; /* the commit checks it */
    if (have && atomic_load(&r->caps->range) == (int)OCI_REGISTRY_CAP_NO) {
      /* a registry that ignored Range before: the whole blob, no Range */
      if ((rc = ol_blob_writer_restart(w, err))) break;
      have = 0;
    }
    char range[48];
    snprintf(range, sizeof range, "bytes=%lld-", (long long)have);
    range_sink s = {.r = r,
                    .w = w,
                    .digest = d->digest,
                    .url = t.url,
                    .size = d->size,
                    .offset = have,
                    .buf = buf};
    reg_resp p = {0};
    s.p = &p;
    reg_req q = {.method = "GET",
                 .url = t.url,
                 .scope = t.scope,
                 .range = have ? range : NULL,
                 .sink = range_write,
                 .sink_ud = &s,
                 .follow = true};
    rc = reg_do(r, &q, NULL, &p, err);
    /* what arrived reaches the file, also when the network cut it (kept
       for the next try); its own failure wins over a network error */
    if (!rc || rc == OCI_ENETWORK) {
      oci_error ferr;
      oci_error_clear(&ferr);
      if (range_flush(&s, &ferr)) {
        rc = ferr.code;
        *err = ferr;
      }
    }
    if (!rc && !s.checked) rc = range_check(&s, err); /* an empty body */
    reg_resp_free(&p);
    r->stats.bytes_downloaded += (uint64_t)s.seen;
    if (!rc) {
      int64_t got = s.offset + s.seen;
      if (d->size >= 0 && got != d->size)
        rc = oci_error_set(err, OCI_EMISMATCH,
                           "blob %s: got %lld bytes, its descriptor gives "
                           "%lld",
                           d->digest, (long long)got, (long long)d->size);
      break;
    }
    /* cut after some bytes: continue from them (a failure before any
       byte was retried by reg_do already) */
    if (rc != OCI_ENETWORK || !s.seen || resumed >= r->o.retries) break;
  }
  if (!rc && d->size >= 0)
    rc = reg_progress(r, d->digest, d->size, d->size, err);
out:
  free(buf);
  target_free(&t);
  return rc;
}

int oci_registry_get_blob_to_layout(oci_registry *r, const char *repo,
                                    const oci_image_descriptor *d,
                                    oci_layout *l, oci_error *err) {
  oci_error_reset(err);
  int rc;
  if ((rc = check_repo(repo, err)) || (rc = check_digest(d->digest, err)))
    return rc;
  bool have = false;
  if ((rc = oci_layout_has_blob(l, d->digest, &have, err)) || have) return rc;
  /* twice at most: bytes kept from an earlier try that fail the digest
     check are dropped (the commit removes them), and the blob is fetched
     whole once more */
  for (int round = 0; round < 2; round++) {
    oci_blob_writer *w;
    uint64_t kept;
    if ((rc = ol_blob_writer_resume(l, d->media_type, d->digest, d->size, &w,
                                    &kept, err)))
      return rc;
    if ((rc = fetch_resume(r, repo, d, w, err))) {
      /* a transfer the network cut: what arrived stays for the next try;
         any other failure (a cancel, a refusal, a mismatch) leaves
         nothing */
      if (rc == OCI_ENETWORK)
        ol_blob_writer_keep(w);
      else
        oci_blob_writer_abort(w);
      return rc;
    }
    oci_image_descriptor *done = NULL;
    rc = oci_blob_writer_commit(w, d->digest, &done, err);
    oci_image_descriptor_free(done);
    if (rc == OCI_EMISMATCH && kept && !round) continue;
    if (rc == OCI_EMISMATCH)
      oci_error_set(err, rc,
                    "blob %s from %s/v2/%s: the content does not match the "
                    "digest; nothing was stored",
                    d->digest, r->base, repo);
    else if (!rc) {
      r->stats.blobs_downloaded++;
      reg_bcache_note(r->bcache, r->api_host, repo, d->digest);
    }
    return rc;
  }
  return rc;
}

/* ---- uploads ------------------------------------------------------------- */

/* Largest OCI-Chunk-Min-Length taken (a larger one is taken as this). */
#define REG_CHUNK_MIN_MAX ((int64_t)1 << 30)

/* A decimal header value in [0, max], else -1. */
static int64_t header_int(const char *v, int64_t max) {
  if (!v || *v < '0' || *v > '9') return -1;
  int64_t n = 0;
  for (; *v >= '0' && *v <= '9'; v++) {
    /* checked before it is computed: "0-9223372036854775808" overflowed */
    if (n > (max - (*v - '0')) / 10) return -1;
    n = n * 10 + (*v - '0');
  }
  return *v || n > max ? -1 : n;
}

/* POST /v2/<repo>/blobs/uploads/ (+ query): the upload URL (malloc'd) or,
   for a mount answered 201, *mounted. *chunk_min (may be NULL) gets the
   registry's OCI-Chunk-Min-Length (0: none given). */
static int start_upload(oci_registry *r, const char *repo, const char *query,
                        const char *scope, char **location, bool *mounted,
                        int64_t *chunk_min, oci_error *err) {
  *location = NULL;
  if (chunk_min) *chunk_min = 0;
  if (mounted) *mounted = false;
  char *url = reg_url(r, "%s/blobs/uploads/%s", repo, query ? query : "");
  if (!url) return reg_nomem(err);
  reg_req q = {
      .method = "POST", .url = url, .scope = scope, .max_body = 1u << 16};
  reg_resp p;
  int rc = reg_do(r, &q, NULL, &p, err);
  if (rc) goto out;
  if (p.status == 201 && mounted) {
    *mounted = true;
    reg_cap_set(&r->caps->mount, OCI_REGISTRY_CAP_YES, false);
    goto out;
  }
  if (mounted && p.status == 202) /* asked to mount, given a session */
    reg_cap_set(&r->caps->mount, OCI_REGISTRY_CAP_NO, true);
  if (p.status != 202 || !p.location) {
    rc = reg_fail(err, OCI_EREGISTRY, "POST", url,
                  "expected 202 with a Location, got %ld%s", p.status,
                  p.location ? "" : " without Location");
    goto out;
  }
  if (chunk_min && p.chunk_min) {
    /* distribution-spec: chunks (but the last) must be at least this big;
       a value that is no number is ignored, a huge one capped */
    int64_t m = header_int(p.chunk_min, INT64_MAX / 2);
    if (m < 0 && strspn(p.chunk_min, "0123456789") == strlen(p.chunk_min) &&
        *p.chunk_min)
      m = REG_CHUNK_MIN_MAX;
    *chunk_min = m < 0 ? 0 : m > REG_CHUNK_MIN_MAX ? REG_CHUNK_MIN_MAX : m;
  }
  if (chunk_min) atomic_store(&r->caps->chunk_min, (long long)*chunk_min);
  if (!(*location = reg_resolve_location(r, p.location))) rc = reg_nomem(err);
out:
  reg_resp_free(&p);
  free(url);
  return rc;
}

static void cancel_upload(oci_registry *r, const char *location,
                          const char *scope) {
  reg_req q = {.method = "DELETE",
               .url = location,
               .scope = scope,
               .no_retry = true,
               .keep_last = true,
               .max_body = 1u << 16};
  oci_error ignored;
  (void)reg_call(r, &q, &ignored); /* best effort */
}

/* "0-N" or "bytes=0-N" (the Range of an upload's status: its bytes 0..N
   arrived; "0-0" is how registries say "nothing yet"): the count of bytes
   held, or -1 when malformed or not starting at 0. */
static int64_t upload_range_held(const char *v) {
  if (!v) return -1;
  if (!strncasecmp(v, "bytes=", 6)) v += 6;
  if (v[0] != '0' || v[1] != '-') return -1;
  int64_t end = header_int(v + 2, INT64_MAX - 1);
  if (end < 0) return -1;
  return end ? end + 1 : 0;
}

/* After a chunk failed: GET on the upload URL (distribution-spec "Resuming
   an upload"; reference/formats.md) asks how much arrived. *held gets the
   registry's count (at most sent, the bytes offered so far) and *loc the
   Location it gives (kept when none); *lost is true when the registry
   answers 404 (it dropped the session, or, as docker-registry 2.8 does,
   refuses an upload URL whose state is older than its bytes). */
static int upload_status(oci_registry *r, char **loc, const char *scope,
                         int64_t sent, int64_t *held, bool *lost,
                         oci_error *err) {
  *held = 0;
  *lost = false;
  reg_req q = {
      .method = "GET", .url = *loc, .scope = scope, .max_body = 1u << 16};
  static const long ok404[] = {404, 0};
  reg_resp p;
  int rc = reg_do(r, &q, ok404, &p, err);
  if (rc) goto out;
  if (p.status == 404) {
    *lost = true;
    goto out;
  }
  int64_t n = upload_range_held(p.range);
  if (n < 0 || n > sent) {
    char shown[96];
    const char *v = p.range ? p.range : "(none)";
    reg_escape(v, strlen(v), shown, sizeof shown);
    rc = reg_fail(err, OCI_EREGISTRY, "GET", *loc,
                  "upload status with Range %s: %s", shown,
                  n < 0 ? "not a range 0-N" : "more bytes than were sent");
    goto out;
  }
  if (p.location) {
    char *next = reg_resolve_location(r, p.location);
    if (!next) {
      rc = reg_nomem(err);
      goto out;
    }
    free(*loc);
    *loc = next;
  }
  *held = n;
out:
  reg_resp_free(&p);
  return rc;
}

/* After a failed request of an upload: GET on its URL says how much the
   registry holds (at most sent), and *off becomes that; a session the
   registry lost (404) is replaced by a new one from byte 0 (*loc, and
   *chunk_min from its answer). */
static int upload_resume(oci_registry *r, const char *repo, const char *scope,
                         char **loc, int64_t sent, int64_t *chunk_min,
                         int64_t *off, oci_error *err) {
  int64_t held;
  bool lost;
  int rc = upload_status(r, loc, scope, sent, &held, &lost, err);
  if (rc) return rc;
  if (lost) {
    free(*loc);
    *loc = NULL;
    if ((rc = start_upload(r, repo, NULL, scope, loc, NULL, chunk_min, err)))
      return rc;
    held = 0;
  }
  *off = held;
  return OCI_OK;
}

/* The source back at byte off, to continue an upload from there. */
static int upload_seek(oci_registry *r, int (*seek)(void *ud, int64_t off),
                       void *ud, const char *digest, int64_t off, int64_t size,
                       oci_error *err) {
  if (seek(ud, off))
    return oci_error_set(err, OCI_EIO,
                         "blob %s: cannot go back to byte %lld of the source "
                         "to resume the upload",
                         digest, (long long)off);
  return reg_progress(r, digest, off, size, err);
}

/* Whether the registry has blob digest in repo with this size (HEAD; a
   failure of its own is a no, and leaves the last response alone). */
static bool blob_landed(oci_registry *r, const char *repo, const char *digest,
                        int64_t size) {
  oci_error ignored;
  target t;
  if (target_of(r, repo, "blobs", digest, "pull", &t, &ignored)) return false;
  reg_resp p = {0};
  reg_req q = {.method = "HEAD",
               .url = t.url,
               .scope = t.scope,
               .follow = true,
               .keep_last = true};
  static const long ok404[] = {404, 0};
  bool found = !reg_do(r, &q, ok404, &p, &ignored) && p.status != 404 &&
               p.content_length == size;
  reg_resp_free(&p);
  target_free(&t);
  return found;
}

/* The digest check of one upload: every byte is hashed once as it is read
   for sending (a retry re-reads bytes already hashed), and the last byte
   is not handed to curl before the whole content matched the digest. */
typedef struct up_verify {
  oci_hasher *h;
  int64_t hashed, size;
  const char *digest, *what;
  bool done, ok;
} up_verify;

static int verify_end(up_verify *v, oci_error *err) {
  if (!v->h) return OCI_OK; /* content verified before (trusted) */
  if (!v->done) {
    char got[OCI_DIGEST_STRING_MAX];
    int rc = oci_hasher_finish(v->h, got, err);
    if (rc) return rc;
    v->done = true;
    v->ok = !strcmp(got, v->digest);
    if (!v->ok)
      return oci_error_set(err, OCI_EMISMATCH,
                           "blob %s%s%s%s: content does not match its digest "
                           "(it hashes to %s); the upload was abandoned "
                           "before its final PUT",
                           v->digest, v->what ? " (" : "",
                           v->what ? v->what : "", v->what ? ")" : "", got);
  }
  if (!v->ok)
    return oci_error_set(err, OCI_EMISMATCH,
                         "blob %s: content does not match its digest",
                         v->digest);
  return OCI_OK;
}

/* Reads at most `left` bytes of an inner source (a chunk of it). */
typedef struct chunk_src {
  oci_registry_source_fn source;
  void *ud;
  int64_t left;
  int (*seek)(void *ud, int64_t off); /* NULL: the source cannot rewind */
  int64_t start, len;
  up_verify *v;
} chunk_src;

/* Back to the chunk's start, for a retry. */
static int chunk_rewind(void *ud) {
  chunk_src *c = ud;
  if (!c->seek || c->seek(c->ud, c->start)) return -1;
  c->left = c->len;
  return 0;
}

static ssize_t chunk_read(void *ud, void *buf, size_t cap, oci_error *err) {
  chunk_src *c = ud;
  if (c->left <= 0) return 0;
  if ((int64_t)cap > c->left) cap = (size_t)c->left;
  ssize_t n = c->source(c->ud, buf, cap, err);
  if (n <= 0) return n;
  if (n > (ssize_t)cap) {
    oci_error_set(err, OCI_EINVAL, "blob %s: the source gave more than asked",
                  c->v->digest);
    return -1;
  }
  up_verify *v = c->v;
  int64_t pos = c->start + (c->len - c->left);
  c->left -= n;
  if (v->h && pos + n > v->hashed) {
    int64_t skip = v->hashed > pos ? v->hashed - pos : 0;
    if (oci_hasher_update(v->h, (const char *)buf + skip, (size_t)(n - skip),
                          err))
      return -1;
    v->hashed = pos + n;
  }
  if (pos + n == v->size && verify_end(v, err)) return -1;
  return n;
}

/* push_blob with a source that can seek (retries allowed), or not. The
   content is hashed as it is read unless trusted (bytes this library
   verified or hashed itself, which nobody else can change). */
static int push_blob(oci_registry *r, const char *repo, const char *digest,
                     int64_t size, oci_registry_source_fn source, void *ud,
                     int (*seek)(void *ud, int64_t off), const char *what,
                     bool trusted, oci_error *err) {
  int rc;
  if ((rc = check_repo(repo, err)) || (rc = check_digest(digest, err)))
    return rc;
  if (size < 0)
    return oci_error_set(err, OCI_EINVAL, "blob %s: negative size", digest);
  oci_digest_view dv;
  oci_digest_parse(digest, strlen(digest), &dv, NULL);
  up_verify v = {.size = size, .digest = digest, .what = what};
  if (dv.alg == OCI_DIGEST_OTHER)
    return oci_error_set(err, OCI_EUNSUPPORTED,
                         "blob %s: cannot verify this digest algorithm",
                         digest);
  if (!trusted && (rc = oci_hasher_new(dv.alg, &v.h, err))) return rc;
  if (size == 0 && (rc = verify_end(&v, err))) {
    oci_hasher_free(v.h);
    return rc;
  }
  char *scope = scope_of(repo, "pull,push");
  char *loc = NULL, *put = NULL;
  reg_resp p = {0};
  if (!scope) {
    oci_hasher_free(v.h);
    return reg_nomem(err);
  }
  int64_t chunk_min = 0;
  if ((rc = start_upload(r, repo, NULL, scope, &loc, NULL, &chunk_min, err)))
    goto out;
  if ((rc = reg_progress(r, digest, 0, size, err))) goto cancel;
  /* spec.md "Pushing a blob in chunks": PATCH with Content-Range
     <start>-<end> (inclusive), each answered 202 with the next Location.
     Chunked when chunk_size is set; a monolithic upload that the registry
     kept part of PATCHes its rest in one piece. */
  bool chunked = r->o.chunk_size && size > 0;
  int64_t chunk = INT64_MAX / 2;
  if (chunked && r->o.chunk_size < (uint64_t)INT64_MAX / 2)
    chunk = (int64_t)r->o.chunk_size;
  if (chunk < chunk_min) chunk = chunk_min;
  /* a request the network cut (or a PATCH answered 416, a closing PUT
     answered 429/5xx) is never sent again blindly: the registry says where
     the upload stands and it continues from there, up to retries times for
     the blob */
  unsigned resumed = 0;
  int64_t off = 0;
  for (;;) {
    while ((chunked || off > 0) && off < size) {
      int64_t n = size - off;
      if (n > chunk) n = chunk;
      chunk_src c = {source, ud, n, seek, off, n, &v};
      char range[64];
      snprintf(range, sizeof range, "%lld-%lld", (long long)off,
               (long long)(off + n - 1));
      reg_req q = {.method = "PATCH",
                   .url = loc,
                   .scope = scope,
                   .content_type = OCI_MEDIA_TYPE_OCTET_STREAM,
                   .content_range = range,
                   .has_body = true,
                   .source = chunk_read,
                   .source_ud = &c,
                   .source_len = n,
                   .rewind = seek ? chunk_rewind : NULL,
                   .net_resume = seek != NULL,
                   .max_body = 1u << 16,
                   .what = digest,
                   .done_before = off,
                   .total = size};
      rc = reg_do(r, &q, NULL, &p, err);
      if (rc && seek && resumed < r->o.retries &&
          (rc == OCI_ENETWORK || (rc == OCI_EREGISTRY && p.status == 416))) {
        resumed++;
        reg_resp_free(&p);
        if ((rc = upload_resume(r, repo, scope, &loc, off + n, &chunk_min, &off,
                                err)))
          goto cancel;
        if (chunk < chunk_min) chunk = chunk_min;
        if ((rc = upload_seek(r, seek, ud, digest, off, size, err)))
          goto cancel;
        continue;
      }
      if (rc) goto cancel;
      if (c.left) {
        rc = oci_error_set(err, OCI_EMISMATCH,
                           "blob %s: the source ended early", digest);
        goto cancel;
      }
      if (!p.location) {
        rc = reg_fail(err, OCI_EREGISTRY, "PATCH", loc,
                      "no Location in the answer");
        goto cancel;
      }
      char *next = reg_resolve_location(r, p.location);
      if (!next) {
        rc = reg_nomem(err);
        goto cancel;
      }
      free(loc);
      loc = next;
      reg_resp_free(&p);
      off += n;
      if ((rc = reg_progress(r, digest, off, size, err))) goto cancel;
    }
    /* every byte went out in PATCHes and matched the digest before this
       PUT commits them */
    if (off == size && (rc = verify_end(&v, err))) goto cancel;
    free(put);
    if (!(put = reg_url_add(r, loc, "digest", digest))) {
      rc = reg_nomem(err);
      goto cancel;
    }
    /* the closing PUT carries the whole blob (monolithic) or nothing */
    bool mono = off < size;
    chunk_src c = {source, ud, size - off, seek, off, size - off, &v};
    reg_req q = {.method = "PUT",
                 .url = put,
                 .scope = scope,
                 .content_type = OCI_MEDIA_TYPE_OCTET_STREAM,
                 .has_body = mono,
                 .source = mono ? chunk_read : NULL,
                 .source_ud = &c,
                 .source_len = size - off,
                 .rewind = seek && mono ? chunk_rewind : NULL,
                 .no_retry = true,
                 .net_resume = true,
                 .max_body = 1u << 16,
                 .what = mono ? digest : NULL,
                 .done_before = off,
                 .total = size};
    rc = reg_do(r, &q, NULL, &p, err);
    if (!rc && mono && c.left) {
      rc = oci_error_set(err, OCI_EMISMATCH, "blob %s: the source ended early",
                         digest);
      goto cancel;
    }
    if (!rc) {
      if (p.status != 201) {
        rc = reg_fail(err, OCI_EREGISTRY, "PUT", put,
                      "expected 201 Created, got %ld", p.status);
        goto out;
      }
      break;
    }
    /* the answer may be lost after the registry stored the blob (the
       connection cut after the body went, or a 5xx after the commit):
       sending it again would meet a closed session. A 404 may be that
       too: curl sends a PUT without body again by itself when a reused
       connection died before any answer, and the first one may have
       committed the upload. */
    if (rc != OCI_ENETWORK &&
        !(rc == OCI_EREGISTRY &&
          (reg_retryable_status(p.status) || p.status == 404)))
      goto cancel;
    if (blob_landed(r, repo, digest, size)) {
      rc = OCI_OK;
      oci_error_reset(err);
      break;
    }
    if (!seek || resumed >= r->o.retries) goto cancel;
    if (rc == OCI_EREGISTRY) reg_backoff(r, resumed, &p);
    resumed++;
    reg_resp_free(&p);
    /* a monolithic PUT cut mid-body: the registry may hold some of it */
    int64_t sent = mono ? off + (c.len - c.left) : off;
    if ((rc = upload_resume(r, repo, scope, &loc, sent, &chunk_min, &off, err)))
      goto cancel;
    if (chunk < chunk_min) chunk = chunk_min;
    if ((rc = upload_seek(r, seek, ud, digest, off, size, err))) goto cancel;
  }
  r->stats.blobs_uploaded++;
  r->stats.bytes_uploaded += (uint64_t)size;
  reg_bcache_note(r->bcache, r->api_host, repo, digest);
  rc = reg_progress(r, digest, size, size, err);
  goto out;
cancel:
  if (loc) cancel_upload(r, loc, scope);
out:
  oci_hasher_free(v.h);
  reg_resp_free(&p);
  free(put);
  free(loc);
  free(scope);
  return rc;
}

int oci_registry_push_blob(oci_registry *r, const char *repo,
                           const char *digest, int64_t size,
                           oci_registry_source_fn source, void *ud,
                           oci_error *err) {
  oci_error_reset(err);
  return push_blob(r, repo, digest, size, source, ud, NULL, NULL, false, err);
}

typedef struct mem_src {
  const char *buf;
  size_t len, off;
} mem_src;

static ssize_t mem_read(void *ud, void *buf, size_t cap, oci_error *err) {
  (void)err;
  mem_src *m = ud;
  size_t n = m->len - m->off;
  if (n > cap) n = cap;
  memcpy(buf, m->buf + m->off, n);
  m->off += n;
  return (ssize_t)n;
}

static int mem_seek(void *ud, int64_t off) {
  mem_src *m = ud;
  m->off = (size_t)off;
  return 0;
}

int oci_registry_push_blob_buffer(oci_registry *r, const char *repo,
                                  const void *buf, size_t len,
                                  const char *media_type,
                                  oci_image_descriptor **out, oci_error *err) {
  oci_error_reset(err);
  if (out) *out = NULL;
  int rc;
  if (media_type &&
      (rc = oci_check_media_type(media_type, strlen(media_type), err)))
    return rc; /* before anything is sent: the descriptor would be invalid */
  char dg[OCI_DIGEST_STRING_MAX];
  if ((rc = oci_hash_buffer(OCI_DIGEST_SHA256, buf, len, dg, err))) return rc;
  mem_src m = {buf, len, 0};
  /* the buffer was hashed just above */
  if ((rc = push_blob(r, repo, dg, (int64_t)len, mem_read, &m, mem_seek, NULL,
                      true, err)))
    return rc;
  if (!out) return OCI_OK;
  return oci_image_descriptor_make(media_type ? media_type
                                              : OCI_MEDIA_TYPE_OCTET_STREAM,
                                   dg, (int64_t)len, out, err);
}

typedef struct fd_src {
  int fd;
  const char *path;
} fd_src;

static ssize_t fd_read(void *ud, void *buf, size_t cap, oci_error *err) {
  fd_src *f = ud;
  for (;;) {
    ssize_t n = read(f->fd, buf, cap);
    if (n >= 0) return n;
    if (errno != EINTR) {
      oci_error_set(err, OCI_EIO, "%s: read: %s", f->path, strerror(errno));
      return -1;
    }
  }
}

static int fd_seek(void *ud, int64_t off) {
  fd_src *f = ud;
  return lseek(f->fd, (off_t)off, SEEK_SET) == (off_t)off ? 0 : -1;
}

int reg_push_blob_fd(oci_registry *r, const char *repo, const char *digest,
                     int64_t size, int fd, const char *what, bool trusted,
                     oci_error *err) {
  fd_src f = {fd, what};
  if (fd_seek(&f, 0))
    return oci_error_set(err, OCI_EIO, "%s: %s", what, strerror(errno));
  return push_blob(r, repo, digest, size, fd_read, &f, fd_seek, what, trusted,
                   err);
}

int reg_push_blob_source(oci_registry *r, const char *repo, const char *digest,
                         int64_t size, oci_registry_source_fn source, void *ud,
                         int (*seek)(void *ud, int64_t off), const char *what,
                         oci_error *err) {
  return push_blob(r, repo, digest, size, source, ud, seek, what, false, err);
}

int oci_registry_push_blob_file(oci_registry *r, const char *repo,
                                const char *path, const char *media_type,
                                oci_image_descriptor **out, oci_error *err) {
  oci_error_reset(err);
  if (out) *out = NULL;
  int rc;
  if (media_type &&
      (rc = oci_check_media_type(media_type, strlen(media_type), err)))
    return rc;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return oci_error_set(err, OCI_EIO, "%s: %s", path, strerror(errno));
  char dg[OCI_DIGEST_STRING_MAX];
  uint64_t size = 0;
  rc = oci_hash_fd(OCI_DIGEST_SHA256, fd, path, dg, &size, err);
  /* hashed above, and again while it streams: the file may change */
  if (!rc)
    rc = reg_push_blob_fd(r, repo, dg, (int64_t)size, fd, path, false, err);
  close(fd);
  if (rc || !out) return rc;
  return oci_image_descriptor_make(media_type ? media_type
                                              : OCI_MEDIA_TYPE_OCTET_STREAM,
                                   dg, (int64_t)size, out, err);
}

int oci_registry_push_blob_from_layout(oci_registry *r, const char *repo,
                                       const oci_layout *l,
                                       const oci_image_descriptor *d,
                                       oci_error *err) {
  oci_error_reset(err);
  bool found = false;
  int rc = oci_registry_has_blob(r, repo, d->digest, &found, NULL, err);
  if (rc) return rc;
  if (found) {
    r->stats.blobs_skipped++;
    return OCI_OK;
  }
  bool mounted = false;
  if ((rc = reg_mount_known(r, repo, d->digest, NULL, &mounted, err)) ||
      mounted)
    return rc;
  /* never through a symlink, regular files only (the layout is input): what
     leaves is the layout's own content, and its digest is checked while it
     streams */
  int fd;
  int64_t size;
  if ((rc = oci_layout_open_blob(l, d->digest, &fd, &size, err))) return rc;
  if (size != d->size) { /* no upload session for what cannot be right */
    close(fd);
    return oci_error_set(err, OCI_EMISMATCH,
                         "blob %s: %lld bytes in the layout, its descriptor "
                         "gives %lld",
                         d->digest, (long long)size, (long long)d->size);
  }
  char what[OCI_DIGEST_STRING_MAX + 8];
  snprintf(what, sizeof what, "blob %s", d->digest);
  rc = reg_push_blob_fd(r, repo, d->digest, d->size, fd, what, false, err);
  close(fd);
  return rc;
}

int oci_registry_mount_blob(oci_registry *r, const char *repo,
                            const char *from_repo, const char *digest,
                            bool *mounted, oci_error *err) {
  oci_error_reset(err);
  *mounted = false;
  int rc;
  if ((rc = check_repo(repo, err)) || (rc = check_repo(from_repo, err)) ||
      (rc = check_digest(digest, err)))
    return rc;
  char *query = NULL, *scope = NULL, *loc = NULL;
  if (asprintf(&query, "?mount=%s&from=%s", digest, from_repo) < 0)
    query = NULL;
  if (asprintf(&scope, "repository:%s:pull,push repository:%s:pull", repo,
               from_repo) < 0)
    scope = NULL;
  if (!query || !scope)
    rc = reg_nomem(err);
  else if (!(rc = start_upload(r, repo, query, scope, &loc, mounted, NULL,
                               err))) {
    if (*mounted) {
      r->stats.blobs_mounted++;
      reg_bcache_note(r->bcache, r->api_host, repo, digest);
    } else if (loc)
      cancel_upload(r, loc, scope); /* spec.md: a 202 opened a session */
  }
  free(loc);
  free(query);
  free(scope);
  return rc;
}

int reg_mount_known(oci_registry *r, const char *repo, const char *digest,
                    const char *skip, bool *mounted, oci_error *err) {
  *mounted = false;
  if (!r->bcache || atomic_load(&r->caps->mount) == (int)OCI_REGISTRY_CAP_NO)
    return OCI_OK;
  char *from[3];
  size_t n =
      reg_bcache_sources(r->bcache, r->api_host, digest, repo, skip, from, 3);
  int rc = OCI_OK;
  for (size_t i = 0; i < n; i++) {
    if (*mounted || rc) continue; /* the rest only freed */
    oci_error e;
    int mrc = oci_registry_mount_blob(r, repo, from[i], digest, mounted, &e);
    if (mrc == OCI_ENOMEM || mrc == OCI_ECANCELED) {
      *err = e;
      rc = mrc;
    } else if (!*mounted) /* refused (202), or failed: a stale location */
      reg_bcache_forget(r->bcache, r->api_host, from[i], digest);
  }
  for (size_t i = 0; i < n; i++)
    free(from[i]);
  return rc;
}

/* ---- listings
 * ----------------------------------------------------------------- */

/* One page; at most max_body bytes of body (*used gets its size). */
static int list_page(oci_registry *r, const char *path, const char *scope,
                     const oci_type *t, unsigned n, const char *last,
                     oci_layout_strings *out, char **next, size_t max_body,
                     size_t *used, oci_error *err) {
  *next = NULL;
  char *url = reg_url(r, "%s", path), *u;
  if (url && n) {
    char num[16];
    snprintf(num, sizeof num, "%u", n);
    u = reg_url_add(r, url, "n", num);
    free(url);
    url = u;
  }
  if (url && last) {
    u = reg_url_add(r, url, "last", last);
    free(url);
    url = u;
  }
  if (!url) return reg_nomem(err);
  reg_req q = {.method = "GET",
               .url = url,
               .scope = scope,
               .accept = OCI_MEDIA_TYPE_JSON,
               .max_body = max_body};
  reg_resp p;
  void *doc = NULL;
  int rc = reg_do(r, &q, NULL, &p, err);
  if (rc) goto out;
  if (used) *used = p.len;
  oci_error pe;
  if ((rc = oci_parse(t, p.body ? p.body : "", p.len, NULL, &doc, &pe))) {
    if (rc == OCI_ENOMEM) {
      rc = reg_nomem(err);
      goto out;
    }
    rc = reg_fail(err, OCI_EREGISTRY, "GET", url, "bad %s body: %s%s%s",
                  t->name, pe.pointer, pe.pointer[0] ? ": " : "", pe.message);
    goto out;
  }
  const oci_str_array *items =
      t == &oci_type_dist_tag_list
          ? &((oci_dist_tag_list *)doc)->tags
          : &((oci_dist_repository_list *)doc)->repositories;
  for (size_t i = 0; i < items->len && !rc; i++)
    rc = ol_strings_add(out, items->items[i], err);
  if (!rc && p.link &&
      (rc = reg_parse_link_next(p.link, strlen(p.link), next, err)))
    rc = reg_fail(err, OCI_EREGISTRY, "GET", url, "%s", err->message);
out:
  oci_free(doc);
  reg_resp_free(&p);
  free(url);
  return rc;
}

int oci_registry_tags_page(oci_registry *r, const char *repo, unsigned n,
                           const char *last, oci_layout_strings *out,
                           char **next, oci_error *err) {
  oci_error_reset(err);
  *next = NULL;
  int rc = check_repo(repo, err);
  if (rc) return rc;
  char *path = NULL, *scope = scope_of(repo, "pull");
  if (asprintf(&path, "%s/tags/list", repo) < 0) path = NULL;
  if (!path || !scope)
    rc = reg_nomem(err);
  else
    rc = list_page(r, path, scope, &oci_type_dist_tag_list, n, last, out, next,
                   r->o.max_list_bytes, NULL, err);
  free(path);
  free(scope);
  return rc;
}

int oci_registry_catalog_page(oci_registry *r, unsigned n, const char *last,
                              oci_layout_strings *out, char **next,
                              oci_error *err) {
  oci_error_reset(err);
  return list_page(r, "_catalog", "registry:catalog:*",
                   &oci_type_dist_repository_list, n, last, out, next,
                   r->o.max_list_bytes, NULL, err);
}

/* Every page, following Link: bounded by max_pages and max_list_bytes,
   and stopped when a next link repeats one already followed (a server
   sending clients round in circles). */
static int list_all(oci_registry *r, const char *repo, unsigned n,
                    oci_layout_strings *out, oci_error *err) {
  char *path = NULL, *scope = NULL;
  if (repo) {
    scope = scope_of(repo, "pull");
    if (asprintf(&path, "%s/tags/list", repo) < 0) path = NULL;
    if (!path || !scope) {
      free(path);
      free(scope);
      return reg_nomem(err);
    }
  }
  oci_layout_strings seen = {0}; /* the `last` of every page asked for */
  char *last = NULL;
  int rc = OCI_OK;
  size_t pages = 0, bytes = 0;
  const char *what = repo ? "tags" : "catalog";
  do {
    if (pages == r->o.max_pages) {
      rc = oci_error_set(err, OCI_ETOOBIG,
                         "%s listing: more than %u pages (max_pages)", what,
                         r->o.max_pages);
      break;
    }
    char *next = NULL;
    size_t before = out->len, used = 0;
    rc = list_page(
        r, repo ? path : "_catalog", repo ? scope : "registry:catalog:*",
        repo ? &oci_type_dist_tag_list : &oci_type_dist_repository_list, n,
        last, out, &next, r->o.max_list_bytes - bytes, &used, err);
    if (rc == OCI_ETOOBIG)
      rc = oci_error_set(err, OCI_ETOOBIG,
                         "%s listing: more than %zu bytes in %zu pages "
                         "(max_list_bytes)",
                         what, r->o.max_list_bytes, pages + 1);
    pages++;
    bytes += used;
    if (!rc && last) rc = ol_strings_add(&seen, last, err);
    free(last);
    last = next;
    if (rc || !last) break;
    /* a Link that does not move forward would loop forever */
    if (out->len == before) {
      rc = oci_error_set(err, OCI_EREGISTRY,
                         "%s listing: the registry's next page link repeats "
                         "an empty page",
                         what);
      break;
    }
    for (size_t i = 0; i < seen.len && !rc; i++)
      if (!strcmp(seen.items[i], last)) {
        char shown[80];
        reg_escape(last, strlen(last), shown, sizeof shown);
        rc = oci_error_set(err, OCI_EREGISTRY,
                           "%s listing: the registry's next page link "
                           "repeats last=%s (page %zu): stopped",
                           what, shown, pages + 1);
      }
  } while (!rc);
  free(last);
  oci_layout_strings_free(&seen);
  free(path);
  free(scope);
  return rc;
}

int oci_registry_tags(oci_registry *r, const char *repo, unsigned n,
                      oci_layout_strings *out, oci_error *err) {
  oci_error_reset(err);
  int rc = check_repo(repo, err);
  return rc ? rc : list_all(r, repo, n, out, err);
}

int oci_registry_catalog(oci_registry *r, unsigned n, oci_layout_strings *out,
                         oci_error *err) {
  oci_error_reset(err);
  return list_all(r, NULL, n, out, err);
}

/* ---- referrers
 * ------------------------------------------------------------------ */

/* Keeps the entries whose artifactType is artifact_type. */
static void filter_index(oci_image_index *x, const char *artifact_type) {
  size_t k = 0;
  for (size_t i = 0; i < x->manifests.len; i++) {
    oci_image_descriptor *d = x->manifests.items[i];
    if (d->artifact_type && !strcmp(d->artifact_type, artifact_type))
      x->manifests.items[k++] = d;
  }
  x->manifests.len = k; /* dropped entries stay in the arena until freed */
}

int reg_empty_index(oci_image_index **out, oci_error *err) {
  static const char empty[] = "{\"schemaVersion\":2,\"manifests\":[]}";
  int rc = oci_image_index_parse(empty, sizeof empty - 1, NULL, out, err);
  if (rc) return rc;
  /* mediaType after schemaVersion, as the type declares its fields */
  if (oci_set_string(*out,
                     &oci_type_image_index.fields[OCI_F_image_index_media_type],
                     OCI_MEDIA_TYPE_IMAGE_INDEX)) {
    oci_image_index_free(*out);
    *out = NULL;
    return oci_error_set(err, OCI_ENOMEM, "not enough memory");
  }
  return OCI_OK;
}

/* Where a parse error is, for a message: "<pointer>: ", "<line>:<column>: "
   (syntax) or "". */
static const char *parse_where(const oci_error *pe, char *buf, size_t n) {
  if (pe->pointer[0])
    snprintf(buf, n, "%s: ", pe->pointer);
  else if (pe->line)
    snprintf(buf, n, "%zu:%zu: ", pe->line, pe->column);
  else
    buf[0] = '\0';
  return buf;
}

int reg_tag_schema_index(oci_registry *r, const char *repo, const char *tag,
                         oci_image_index **out, oci_error *err) {
  *out = NULL;
  oci_registry_manifest m;
  /* every manifest type accepted: a registry may answer 404 to an Accept
     the tagged document does not match (docker-registry 2.8 does), and a
     404 here means "start an empty index", which the caller then PUTs over
     whatever the tag named */
  int rc = oci_registry_get_manifest(r, repo, tag, NULL, &m, err);
  if (rc == OCI_EREGISTRY && r->last_status == 404)
    return reg_empty_index(out, err);
  if (rc) return rc;
  char shown[96];
  oci_error pe;
  if ((oci_media_type_is_manifest(m.media_type) ||
       oci_media_type_is_index(m.media_type)) &&
      strcmp(m.media_type, OCI_MEDIA_TYPE_IMAGE_INDEX) != 0) {
    reg_escape(m.media_type, strlen(m.media_type), shown, sizeof shown);
    rc = oci_error_set(err, OCI_EREGISTRY,
                       "referrers tag %s of %s: not an image index: the "
                       "registry serves it as %s",
                       tag, repo, shown);
  } else if ((rc = oci_image_index_parse(m.body, m.len, NULL, out, &pe))) {
    char where[OCI_ERROR_POINTER_MAX + 48];
    rc = rc == OCI_ENOMEM
             ? reg_nomem(err)
             : oci_error_set(err, OCI_EREGISTRY,
                             "referrers tag %s of %s: not an image index: "
                             "%s%s",
                             tag, repo, parse_where(&pe, where, sizeof where),
                             pe.message);
  } else if (oci_is_present(*out, OCI_F_image_index_media_type) &&
             strcmp((*out)->media_type, OCI_MEDIA_TYPE_IMAGE_INDEX) != 0) {
    reg_escape((*out)->media_type, strlen((*out)->media_type), shown,
               sizeof shown);
    rc = oci_error_set(err, OCI_EREGISTRY,
                       "referrers tag %s of %s: not an image index: its "
                       "mediaType is %s",
                       tag, repo, shown);
  }
  oci_registry_manifest_free(&m);
  if (rc) {
    oci_image_index_free(*out);
    *out = NULL;
  }
  return rc;
}

/* A 404 whose ErrorResponse says NAME_UNKNOWN: the repository is not
   there, which tells nothing about the referrers API. */
static bool name_unknown(const reg_resp *p) {
  oci_dist_error_response *e = NULL;
  bool yes =
      p->body &&
      oci_dist_error_response_parse(p->body, p->len, NULL, &e, NULL) ==
          OCI_OK &&
      e->errors.len && e->errors.items[0]->code &&
      !strcmp(e->errors.items[0]->code, OCI_ENUM_STR(ERROR_CODE, NameUnknown));
  oci_dist_error_response_free(e);
  return yes;
}

int oci_registry_referrers(oci_registry *r, const char *repo,
                           const char *digest, const char *artifact_type,
                           oci_image_index **out, oci_error *err) {
  oci_error_reset(err);
  *out = NULL;
  int rc;
  if ((rc = check_repo(repo, err)) || (rc = check_digest(digest, err)))
    return rc;
  target t;
  if ((rc = target_of(r, repo, "referrers", digest, "pull", &t, err)))
    return rc;
  reg_resp p = {0};
  if (artifact_type) {
    char *u = reg_url_add(r, t.url, "artifactType", artifact_type);
    if (!u) {
      rc = reg_nomem(err);
      goto out;
    }
    free(t.url);
    t.url = u;
  }
  reg_req q = {.method = "GET",
               .url = t.url,
               .scope = t.scope,
               .accept = OCI_MEDIA_TYPE_IMAGE_INDEX,
               .max_body = OCI_REGISTRY_MANIFEST_MAX};
  /* spec.md "Listing Referrers": a registry that supports the API never
     answers 404; a 404 means "use the referrers tag schema" (and, learnt
     once, the API is not asked again) */
  static const long ok404[] = {404, 0};
  bool api = atomic_load(&r->caps->referrers) != (int)OCI_REGISTRY_CAP_NO;
  if (api && (rc = reg_do(r, &q, ok404, &p, err))) goto out;
  if (api && p.status == 404 && !name_unknown(&p))
    reg_cap_set(&r->caps->referrers, OCI_REGISTRY_CAP_NO, false);
  else if (api && p.status != 404)
    reg_cap_set(&r->caps->referrers, OCI_REGISTRY_CAP_YES, false);
  bool filtered = false;
  if (api && p.status != 404) {
    oci_error pe;
    rc = oci_image_index_parse(p.body ? p.body : "", p.len, NULL, out, &pe);
    if (rc == OCI_ENOMEM) {
      rc = reg_nomem(err);
      goto out;
    }
    if (rc) {
      char where[OCI_ERROR_POINTER_MAX + 48];
      rc = oci_error_set(err, OCI_EREGISTRY, "GET %s: bad index: %s%s", t.url,
                         parse_where(&pe, where, sizeof where), pe.message);
      goto out;
    }
    filtered = p.filters_applied && strstr(p.filters_applied, "artifactType");
  } else {
    char tag[OCI_DIGEST_REFERRERS_TAG_MAX + 1];
    if ((rc = oci_digest_referrers_tag(digest, tag, sizeof tag, err)) ||
        (rc = reg_tag_schema_index(r, repo, tag, out, err)))
      goto out;
  }
  if (artifact_type && !filtered) filter_index(*out, artifact_type);
out:
  reg_resp_free(&p);
  target_free(&t);
  return rc;
}
