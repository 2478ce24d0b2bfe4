/* Image references (see reference.h for the rules and where they differ
   from oci-spec-rs). Parsing splits the string by hand instead of running
   oci-spec-rs's regex: "@" starts the digest, a ":" after the last "/"
   starts the tag, and each part is then checked by its own grammar, so the
   message can say which part is wrong. */
#include "ocispec/reference.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ocispec/digest.h"
#include "ocispec/strcheck.h"
#include "strcheck_internal.h"

/* A piece of some string; p == NULL means absent. */
typedef struct slice {
  const char *p;
  size_t n;
} slice;

typedef struct ref_parts {
  slice registry;
  slice prefix; /* "library/" or empty: kept apart so messages and offsets
                   refer to what the user wrote */
  slice repo;
  slice tag;
  slice digest;
} ref_parts;

static const char library[] = "library/";

static slice cstr(const char *s) {
  slice v = {s, s ? strlen(s) : 0};
  return v;
}

static bool slice_is(slice v, const char *lit) {
  return v.n == strlen(lit) && memcmp(v.p, lit, v.n) == 0;
}

/* ------------------------------------------------------------------ */
/* Checking                                                            */

/* A digest a reference can use: the image-spec grammar and lengths, and a
   registered algorithm (reference.h, difference 4). */
static int check_ref_digest(const char *s, size_t len, oci_error *err) {
  oci_digest_view v;
  int rc = oci_digest_parse(s, len, &v, err);
  if (rc) return rc;
  if (v.alg != OCI_DIGEST_OTHER) return 0;
  return oci_fail_value(err, OCI_EUNSUPPORTED, "digest", s, len,
                        "algorithm is not supported in a reference (sha256, "
                        "sha512, blake3)");
}

static int check_length(const ref_parts *p, oci_error *err) {
  size_t n = p->prefix.n + p->repo.n, shown, k;
  char head[OCI_QUOTE_SIZE];
  if (n <= OCI_REFERENCE_REPOSITORY_MAX) return 0;
  /* the message quotes only the start, so only that much is joined */
  shown = n < sizeof head ? n : sizeof head;
  k = p->prefix.n < shown ? p->prefix.n : shown;
  memcpy(head, p->prefix.p, k);
  memcpy(head + k, p->repo.p, shown - k);
  return oci_fail_value(err, OCI_ETOOBIG, "repository", head, shown,
                        "is %zu characters, at most %d allowed", n,
                        OCI_REFERENCE_REPOSITORY_MAX);
}

/* Checks every present part; err gets the failing part's own message. */
static int check_parts(const ref_parts *p, oci_error *err) {
  int rc = oci_check_registry_host(p->registry.p, p->registry.n, err);
  if (!rc) rc = oci_check_repository_name(p->repo.p, p->repo.n, err);
  if (!rc && p->tag.p) rc = oci_check_tag(p->tag.p, p->tag.n, err);
  if (!rc) rc = check_length(p, err);
  if (!rc && p->digest.p) rc = check_ref_digest(p->digest.p, p->digest.n, err);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Building                                                            */

static char *put(char **cursor, slice a, slice b) {
  char *start = *cursor;
  memcpy(start, a.p, a.n);
  memcpy(start + a.n, b.p, b.n);
  start[a.n + b.n] = '\0';
  *cursor = start + a.n + b.n + 1;
  return start;
}

/* One block holds the struct and its four strings; the mirror, which may
   change, is a separate allocation. */
static int ref_alloc(const ref_parts *p, oci_reference **out, oci_error *err) {
  static const slice none = {"", 0};
  size_t size = sizeof(oci_reference) + p->registry.n + 1 + p->prefix.n +
                p->repo.n + 1 + (p->tag.p ? p->tag.n + 1 : 0) +
                (p->digest.p ? p->digest.n + 1 : 0);
  oci_reference *r = malloc(size);
  char *cursor;
  if (!r)
    return oci_error_set(err, OCI_ENOMEM,
                         "reference: out of memory allocating %zu bytes", size);
  cursor = (char *)(r + 1);
  r->registry = put(&cursor, p->registry, none);
  r->repository = put(&cursor, p->prefix, p->repo);
  r->tag = p->tag.p ? put(&cursor, p->tag, none) : NULL;
  r->digest = p->digest.p ? put(&cursor, p->digest, none) : NULL;
  r->mirror_registry = NULL;
  *out = r;
  return 0;
}

static int dup_string(const char *s, char **out, oci_error *err) {
  size_t n = strlen(s) + 1;
  *out = malloc(n);
  if (!*out)
    return oci_error_set(err, OCI_ENOMEM,
                         "reference: out of memory copying %zu bytes", n);
  memcpy(*out, s, n);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */

/* split_domain of oci-spec-rs: the first "/"-component is the registry
   when it has "." or ":" or is "localhost"; docker.io otherwise. */
static void split_domain(slice name, ref_parts *p) {
  const char *slash = memchr(name.p, '/', name.n);
  slice first = {name.p, slash ? (size_t)(slash - name.p) : 0};
  if (slash &&
      (memchr(first.p, '.', first.n) || memchr(first.p, ':', first.n) ||
       slice_is(first, "localhost"))) {
    p->registry = first;
    p->repo.p = slash + 1;
    p->repo.n = name.n - first.n - 1;
  } else {
    p->registry = cstr(OCI_HOST_DOCKER_HUB);
    p->repo = name;
  }
  if (slice_is(p->registry, OCI_HOST_DOCKER_HUB_INDEX))
    p->registry = cstr(OCI_HOST_DOCKER_HUB);
  p->prefix = cstr("");
  if (slice_is(p->registry, OCI_HOST_DOCKER_HUB) &&
      !memchr(p->repo.p, '/', p->repo.n))
    p->prefix = cstr(library);
}

/* name [":" tag] ["@" digest]: the digest follows the first "@" (no other
   part may hold one); the tag follows a ":" after the last "/" (a ":"
   before it is a registry port). */
static int split_reference(const char *s, size_t len, ref_parts *p,
                           oci_error *err) {
  const char *at = memchr(s, '@', len);
  size_t left = at ? (size_t)(at - s) : len, k;
  slice name = {s, left};
  if (at) {
    p->digest.p = at + 1;
    p->digest.n = len - left - 1;
  }
  for (k = left; k > 0 && s[k - 1] != '/'; k--)
    if (s[k - 1] == ':') {
      p->tag.p = s + k;
      p->tag.n = left - k;
      name.n = k - 1;
      break;
    }
  if (name.n == 0)
    return oci_fail_value(err, OCI_EINVAL, "reference", s, len,
                          "repository name before the tag or digest is "
                          "empty");
  split_domain(name, p);
  return 0;
}

int oci_reference_parse(const char *s, size_t len, oci_reference **out,
                        oci_error *err) {
  oci_error_reset(err);
  ref_parts p;
  oci_error inner;
  int rc;
  *out = NULL;
  memset(&p, 0, sizeof p);
  if (len == 0)
    return oci_fail_value(err, OCI_EINVAL, "reference", s, len, "is empty");
  rc = split_reference(s, len, &p, err);
  if (rc) return rc;
  oci_error_clear(&inner);
  rc = check_parts(&p, &inner);
  if (rc)
    return oci_fail_value(err, rc, "reference", s, len, "%s", inner.message);
  if (!p.tag.p && !p.digest.p) p.tag = cstr("latest");
  return ref_alloc(&p, out, err);
}

/* ------------------------------------------------------------------ */
/* Building from parts                                                 */

int oci_reference_new(const char *registry, const char *repository,
                      const char *tag, const char *digest, oci_reference **out,
                      oci_error *err) {
  oci_error_reset(err);
  ref_parts p;
  int rc;
  *out = NULL;
  memset(&p, 0, sizeof p);
  p.registry = cstr(registry);
  p.prefix = cstr("");
  p.repo = cstr(repository);
  p.tag = cstr(tag);
  p.digest = cstr(digest);
  if (!tag && !digest)
    return oci_fail_value(err, OCI_EINVAL, "reference to repository", p.repo.p,
                          p.repo.n, "needs a tag, a digest or both");
  rc = check_parts(&p, err);
  return rc ? rc : ref_alloc(&p, out, err);
}

int oci_reference_clone_with_digest(const oci_reference *r, const char *digest,
                                    oci_reference **out, oci_error *err) {
  oci_error_reset(err);
  int rc =
      oci_reference_new(r->registry, r->repository, NULL, digest, out, err);
  if (rc || !r->mirror_registry) return rc;
  rc = dup_string(r->mirror_registry, &(*out)->mirror_registry, err);
  if (rc) {
    oci_reference_free(*out);
    *out = NULL;
  }
  return rc;
}

int oci_reference_set_mirror(oci_reference *r, const char *mirror,
                             oci_error *err) {
  oci_error_reset(err);
  char *copy = NULL;
  int rc;
  if (mirror) {
    rc = oci_check_registry_host(mirror, strlen(mirror), err);
    if (!rc) rc = dup_string(mirror, &copy, err);
    if (rc) return rc;
  }
  free(r->mirror_registry);
  r->mirror_registry = copy;
  return 0;
}

const char *oci_reference_resolve_registry(const oci_reference *r) {
  if (r->mirror_registry) return r->mirror_registry;
  if (strcmp(r->registry, OCI_HOST_DOCKER_HUB) == 0)
    return OCI_HOST_DOCKER_HUB_INDEX;
  return r->registry;
}

/* Bounded output for oci_reference_format: bytes past the end are
   counted, not written. */
typedef struct sink {
  char *out;
  size_t cap; /* bytes that may be written, NUL excluded */
  size_t len; /* bytes the full text needs */
} sink;

static void emit(sink *k, const char *s, size_t n) {
  if (k->len < k->cap)
    memcpy(k->out + k->len, s, n < k->cap - k->len ? n : k->cap - k->len);
  k->len += n;
}

/* Writes sep (if anything came before) and part (if not empty): the
   Display rule of oci-spec-rs. */
static void emit_part(sink *k, char sep, const char *part) {
  size_t n = part ? strlen(part) : 0;
  if (n == 0) return;
  if (k->len) emit(k, &sep, 1);
  emit(k, part, n);
}

size_t oci_reference_format(const oci_reference *r, char *out, size_t outsz) {
  sink k = {out, outsz ? outsz - 1 : 0, 0};
  emit_part(&k, 0, r->registry);
  emit_part(&k, '/', r->repository);
  emit_part(&k, ':', r->tag);
  emit_part(&k, '@', r->digest);
  if (outsz) out[k.len < k.cap ? k.len : k.cap] = '\0';
  return k.len;
}

char *oci_reference_to_string(const oci_reference *r) {
  size_t n = oci_reference_format(r, NULL, 0);
  char *out = malloc(n + 1);
  if (out) oci_reference_format(r, out, n + 1);
  return out;
}

void oci_reference_free(oci_reference *r) {
  if (!r) return;
  free(r->mirror_registry);
  free(r);
}
