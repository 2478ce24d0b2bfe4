/* The referrers tag schema kept by every manifest PUT (distribution-spec
   spec.md "Pushing Manifests with Subject"): when the registry does not
   answer OCI-Subject, the client adds a descriptor of the manifest to the
   image index tagged <alg>-<encoded> of its subject. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ocispec/ocispec.h"
#include "registry_internal.h"

#define DESC_F(m)                                                              \
  (&oci_type_image_descriptor.fields[OCI_F_image_descriptor_##m])

/* What a referrers index entry says of the document: its subject, its
   artifactType (a manifest's, else its config's mediaType: spec.md
   "Listing Referrers"; an index's own) and its annotations. */
typedef struct referrer {
  const oci_image_descriptor *subject;
  const char *artifact_type;
  const oci_str_map *annotations; /* NULL: none */
} referrer;

int reg_add_referrer(oci_registry *r, const char *repo, const char *media_type,
                     const void *body, size_t len, const char *digest,
                     oci_error *err) {
  bool manifest = oci_media_type_is_manifest(media_type);
  if (!manifest && !oci_media_type_is_index(media_type)) return OCI_OK;
  oci_image_manifest *m = NULL;
  oci_image_index *mx = NULL, *x = NULL;
  oci_image_descriptor *d = NULL;
  char *json = NULL;
  size_t jlen = 0;
  referrer ref = {0};
  /* the caller's bytes, accepted by the registry; a body that is no OCI
     document of its media type has no subject we could index */
  if (manifest) {
    if (oci_image_manifest_parse(body, len, NULL, &m, NULL) || !m->subject)
      goto none;
    ref.subject = m->subject;
    ref.artifact_type = m->artifact_type ? m->artifact_type
                        : m->config      ? m->config->media_type
                                         : NULL;
    if (oci_is_present(m, OCI_F_image_manifest_annotations))
      ref.annotations = &m->annotations;
  } else {
    if (oci_image_index_parse(body, len, NULL, &mx, NULL) || !mx->subject)
      goto none;
    ref.subject = mx->subject;
    ref.artifact_type = mx->artifact_type;
    if (oci_is_present(mx, OCI_F_image_index_annotations))
      ref.annotations = &mx->annotations;
  }
  char tag[OCI_DIGEST_REFERRERS_TAG_MAX + 1];
  int rc = oci_digest_referrers_tag(ref.subject->digest, tag, sizeof tag, err);
  if (rc) goto out;
  if ((rc = reg_tag_schema_index(r, repo, tag, &x, err))) goto out;
  for (size_t i = 0; i < x->manifests.len; i++)
    if (!strcmp(x->manifests.items[i]->digest, digest)) goto out;
  if ((rc = oci_image_descriptor_make(media_type, digest, (int64_t)len, &d,
                                      err)))
    goto out;
  if (ref.artifact_type && (rc = oci_set_string_err(d, DESC_F(artifact_type),
                                                    ref.artifact_type, err)))
    goto out;
  if (ref.annotations) {
    d->annotations = *ref.annotations; /* deep-copied below into the index */
    oci_mark(d, OCI_F_image_descriptor_annotations);
  }
  /* append: the index's array gets a copy in the index's arena */
  oci_image_descriptor **items =
      oci_arena_alloc(x->hdr.arena, (x->manifests.len + 1) * sizeof *items);
  oci_image_descriptor *copy =
      items ? oci_copy_into(&oci_type_image_descriptor, d, x->hdr.arena) : NULL;
  if (!items || !copy) {
    rc = reg_nomem(err);
    goto out;
  }
  if (x->manifests.len)
    memcpy(items, x->manifests.items, x->manifests.len * sizeof *items);
  items[x->manifests.len] = copy;
  x->manifests.items = items;
  x->manifests.len++;
  if ((rc = oci_image_index_to_json(x, false, &json, &jlen, err))) goto out;
  /* without the fallback: the index is the registry's to describe (a
     subject in it, planted or not, starts no chain of PUTs) */
  rc = reg_put_manifest(r, repo, tag, OCI_MEDIA_TYPE_IMAGE_INDEX, json, jlen,
                        NULL, NULL, err);
out:
  free(json);
  oci_image_descriptor_free(d);
  oci_image_index_free(x);
  oci_image_index_free(mx);
  oci_image_manifest_free(m);
  return rc;
none:
  oci_image_index_free(mx);
  oci_image_manifest_free(m);
  return OCI_OK;
}
