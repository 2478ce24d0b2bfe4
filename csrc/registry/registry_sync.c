/* Mirroring many references of one repository at once
   (oci_registry_sync_refs): each reference is one job of the transfer pool
   (registry_pool.c), so `jobs` images move at the same time, each image's
   blobs one after another on its worker (jobs images, not jobs x jobs
   transfers). A reference's failure is its own (recorded in its item):
   the others go on, as `skopeo sync --keep-going` does; only a cancel by
   the progress callback stops them all. */
#include <string.h>

#include "internal.h"
#include "ocispec/ocispec.h"
#include "registry_internal.h"

typedef struct sync_ctx {
  const char *src_repo, *dst_repo;
  oci_registry_sync_item *items;
} sync_ctx;

/* The digest reference of a reference that is one ("sha256:..."). */
static bool is_digest(const char *ref) {
  return strchr(ref, ':') != NULL;
}

static int sync_one(oci_registry *const *c, void *ctx, size_t i,
                    oci_error *err) {
  (void)err;
  sync_ctx *s = ctx;
  oci_registry_sync_item *it = &s->items[i];
  oci_registry *src = c[0], *dst = c[1];
  /* the image's blobs one after another on this worker; restored after
     (on the calling thread these are the caller's own clients) */
  unsigned js = src->o.jobs, jd = dst->o.jobs;
  src->o.jobs = dst->o.jobs = 1;
  oci_image_descriptor *sd = NULL, *dd = NULL;
  bool found = false;
  oci_error_reset(&it->err);
  it->result = OCI_SYNC_FAILED;
  int rc = oci_registry_head_manifest(src, s->src_repo, it->reference, NULL,
                                      &found, &sd, &it->err);
  if (!rc && !found)
    rc = oci_error_set(&it->err, OCI_EREGISTRY,
                       "%s:%s: no such manifest at the source", s->src_repo,
                       it->reference);
  const char *at_dst =
      is_digest(it->reference) ? sd ? sd->digest : NULL : it->reference;
  if (!rc && at_dst) {
    /* a failing HEAD at the destination is no reason not to try the copy
       (its own error says more) */
    oci_error ignored;
    found = false;
    if (oci_registry_head_manifest(dst, s->dst_repo, at_dst, NULL, &found, &dd,
                                   &ignored))
      found = false;
    if (found && dd && dd->digest && sd->digest &&
        !strcmp(dd->digest, sd->digest))
      it->result = OCI_SYNC_SKIPPED;
  }
  if (!rc && it->result != OCI_SYNC_SKIPPED) {
    rc = oci_registry_copy(src, s->src_repo, sd->digest, dst, s->dst_repo,
                           is_digest(it->reference) ? NULL : it->reference,
                           NULL, &it->err);
    if (!rc) it->result = OCI_SYNC_COPIED;
  }
  oci_image_descriptor_free(sd);
  oci_image_descriptor_free(dd);
  src->o.jobs = js;
  dst->o.jobs = jd;
  /* the callback's cancel stops every job; any other failure is this
     reference's alone */
  if (rc == OCI_ECANCELED) {
    *err = it->err;
    return rc;
  }
  return OCI_OK;
}

int oci_registry_sync_refs(oci_registry *src, const char *src_repo,
                           oci_registry *dst, const char *dst_repo,
                           oci_registry_sync_item *items, size_t n,
                           oci_error *err) {
  oci_error_reset(err);
  if (!src || !dst || !src_repo || !dst_repo || (n && !items))
    return oci_error_set(err, OCI_EINVAL,
                         "oci_registry_sync_refs: NULL argument");
  for (size_t i = 0; i < n; i++) {
    items[i].result = OCI_SYNC_FAILED;
    oci_error_reset(&items[i].err);
    if (!items[i].reference || !*items[i].reference)
      return oci_error_set(err, OCI_EINVAL,
                           "oci_registry_sync_refs: item %zu has no reference",
                           i);
  }
  if (!n) return OCI_OK;
  sync_ctx s = {src_repo, dst_repo, items};
  oci_registry *parents[2] = {src, dst};
  return reg_parallel(parents, 2, n, sync_one, &s, err);
}
