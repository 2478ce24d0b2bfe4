/* Tables, constants and predicates generated from values.def. */
#include "ocispec/values.h"

#include <string.h>

#include "internal.h"

/* ---- media types ------------------------------------------------------- */

#define OCI_MEDIA_TYPE(id, lua, value, kind, comp, family, dist)               \
  const char OCI_MEDIA_TYPE_##id[] = value;
#include "ocispec/values.def"

/* Index of each media type in oci_media_types. */
#define OCI_MEDIA_TYPE(id, lua, value, kind, comp, family, dist) MT_##id,
enum {
#include "ocispec/values.def"
  MT_END_
};

/* Each media type's kind, compression and family as constants, so that
   every equivalence can be checked at compile time. */
#define OCI_MEDIA_TYPE(id, lua, value, kind, comp, family, dist)               \
  KIND_OF_##id = OCI_MEDIA_KIND_##kind, COMP_OF_##id = OCI_COMPRESSION_##comp, \
  FAMILY_OF_##id = OCI_MEDIA_FAMILY_##family,
enum {
#include "ocispec/values.def"
  OF_END_
};
/* An equivalence pairs an OCI type with a Docker type of the same kind and
   compression. */
#define OCI_MEDIA_TYPE_EQUIV(o, d)                                             \
  _Static_assert((int)FAMILY_OF_##o == (int)OCI_MEDIA_FAMILY_OCI &&            \
                     (int)FAMILY_OF_##d == (int)OCI_MEDIA_FAMILY_DOCKER &&     \
                     KIND_OF_##o == KIND_OF_##d && COMP_OF_##o == COMP_OF_##d, \
                 "values.def: " #o " and " #d " are no OCI/Docker pair");
#include "ocispec/values.def"

/* The table, one designated field at a time: the declaration's fields, then
   the equivalents of both directions. */
#define OCI_DIST_DIST true
#define OCI_DIST_NONDIST false
#define OCI_MEDIA_TYPE(id, lua_, str_, kind_, comp_, family_, dist_)           \
  [MT_##id].value = OCI_MEDIA_TYPE_##id, [MT_##id].name = #lua_,               \
  [MT_##id].kind = OCI_MEDIA_KIND_##kind_,                                     \
  [MT_##id].compression = OCI_COMPRESSION_##comp_,                             \
  [MT_##id].family = OCI_MEDIA_FAMILY_##family_,                               \
  [MT_##id].distributable = OCI_DIST_##dist_,
#define OCI_MEDIA_TYPE_EQUIV(o, d)                                             \
  [MT_##o].docker = OCI_MEDIA_TYPE_##d, [MT_##d].oci = OCI_MEDIA_TYPE_##o,
const oci_media_type_info oci_media_types[OCI_MEDIA_TYPE_COUNT] = {
#include "ocispec/values.def"
};
#undef OCI_DIST_DIST
#undef OCI_DIST_NONDIST

static size_t index_of(const char *mt) {
  if (!mt) return OCI_MEDIA_TYPE_COUNT;
  for (size_t i = 0; i < OCI_MEDIA_TYPE_COUNT; i++)
    if (strcmp(oci_media_types[i].value, mt) == 0) return i;
  return OCI_MEDIA_TYPE_COUNT;
}

const oci_media_type_info *oci_media_type_info_of(const char *mt) {
  size_t i = index_of(mt);
  return i < OCI_MEDIA_TYPE_COUNT ? &oci_media_types[i] : NULL;
}

oci_media_kind oci_media_type_kind(const char *mt) {
  const oci_media_type_info *m = oci_media_type_info_of(mt);
  return m ? m->kind : OCI_MEDIA_KIND_OTHER;
}

bool oci_media_type_is_manifest(const char *mt) {
  return oci_media_type_kind(mt) == OCI_MEDIA_KIND_MANIFEST;
}

bool oci_media_type_is_index(const char *mt) {
  return oci_media_type_kind(mt) == OCI_MEDIA_KIND_INDEX;
}

bool oci_media_type_is_config(const char *mt) {
  return oci_media_type_kind(mt) == OCI_MEDIA_KIND_CONFIG;
}

bool oci_media_type_is_layer(const char *mt) {
  return oci_media_type_kind(mt) == OCI_MEDIA_KIND_LAYER;
}

bool oci_media_type_is_docker(const char *mt) {
  const oci_media_type_info *m = oci_media_type_info_of(mt);
  return m && m->family == OCI_MEDIA_FAMILY_DOCKER;
}

bool oci_media_type_is_distributable(const char *mt) {
  const oci_media_type_info *m = oci_media_type_info_of(mt);
  return !m || m->distributable;
}

oci_compression oci_media_type_compression(const char *mt) {
  const oci_media_type_info *m = oci_media_type_info_of(mt);
  return m ? m->compression : OCI_COMPRESSION_UNKNOWN;
}

const char *oci_media_type_to_docker(const char *mt) {
  const oci_media_type_info *m = oci_media_type_info_of(mt);
  return m ? m->docker : NULL;
}

const char *oci_media_type_to_oci(const char *mt) {
  const oci_media_type_info *m = oci_media_type_info_of(mt);
  return m ? m->oci : NULL;
}

const char *oci_compression_name(oci_compression c) {
  switch (c) {
  case OCI_COMPRESSION_NONE: return "none";
  case OCI_COMPRESSION_GZIP: return "gzip";
  case OCI_COMPRESSION_ZSTD: return "zstd";
  case OCI_COMPRESSION_UNKNOWN: break;
  }
  return NULL;
}

const char *oci_media_kind_name(oci_media_kind k) {
  switch (k) {
  case OCI_MEDIA_KIND_MANIFEST: return "manifest";
  case OCI_MEDIA_KIND_INDEX: return "index";
  case OCI_MEDIA_KIND_CONFIG: return "config";
  case OCI_MEDIA_KIND_LAYER: return "layer";
  case OCI_MEDIA_KIND_OTHER: break;
  }
  return "other";
}

/* ", " before each manifest and index type; the first two bytes skipped. */
#define ACCEPT_MANIFEST(v) ", " v
#define ACCEPT_INDEX(v) ", " v
#define ACCEPT_CONFIG(v)
#define ACCEPT_LAYER(v)
#define ACCEPT_OTHER(v)
#define OCI_MEDIA_TYPE(id, lua, value, kind, comp, family, dist)               \
  ACCEPT_##kind(value)
static const char accept_manifests[] = ""
#include "ocispec/values.def"
    ;

const char *oci_media_type_accept_manifests(void) {
  return accept_manifests + 2;
}

#define DESC_F(m)                                                              \
  (&oci_type_image_descriptor.fields[OCI_F_image_descriptor_##m])

int oci_image_descriptor_make(const char *media_type, const char *digest,
                              int64_t size, oci_image_descriptor **out,
                              oci_error *err) {
  oci_error_reset(err);
  oci_image_descriptor *d;
  if (!out || !digest)
    return oci_error_set(err, OCI_EINVAL,
                         "oci_image_descriptor_make: %s is NULL",
                         out ? "digest" : "out");
  *out = NULL;
  int rc = oci_image_descriptor_new(&d, err);
  if (rc) return rc;
  const char *mt = media_type ? media_type : OCI_MEDIA_TYPE_OCTET_STREAM;
  if ((rc = oci_set_string_err(d, DESC_F(media_type), mt, err)) ||
      (rc = oci_set_string_err(d, DESC_F(digest), digest, err))) {
    oci_image_descriptor_free(d);
    return rc;
  }
  d->size = size;
  oci_mark(d, OCI_F_image_descriptor_size);
  *out = d;
  return OCI_OK;
}

/* ---- enumerations ------------------------------------------------------ */

#define OCI_ENUM_VALUE_(id, key, value) {#key, value},
#define OCI_ENUM(id, ns, lua, what, list)                                      \
  static const oci_enum_value values_##id[] = {list(OCI_ENUM_VALUE_)};
#include "ocispec/values.def"

#define OCI_ENUM(id, ns, lua, what, list)                                      \
  [OCI_ENUM_##id] = {#id, ns, #lua, what, values_##id, OCI_ENUM_SIZE_##id},
const oci_enum oci_enums[OCI_ENUM_COUNT] = {
#include "ocispec/values.def"
};

bool oci_enum_has_n(oci_enum_id id, const char *s, size_t len) {
  if (!s || (int)id < 0 || id >= OCI_ENUM_COUNT) return false;
  const oci_enum *e = &oci_enums[id];
  for (size_t i = 0; i < e->count; i++)
    if (strlen(e->values[i].value) == len &&
        memcmp(e->values[i].value, s, len) == 0)
      return true;
  return false;
}

bool oci_enum_has(oci_enum_id id, const char *s) {
  return s && oci_enum_has_n(id, s, strlen(s));
}

/* ---- document kinds ---------------------------------------------------- */

#define OCI_DOC_KIND(id, name, type) {name, &oci_type_##type},
const oci_doc_kind oci_doc_kinds[OCI_DOC_KIND_COUNT] = {
#include "ocispec/values.def"
};

const oci_doc_kind *oci_doc_kind_find(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < OCI_DOC_KIND_COUNT; i++)
    if (strcmp(oci_doc_kinds[i].name, name) == 0) return &oci_doc_kinds[i];
  return NULL;
}

/* ---- hosts ------------------------------------------------------------- */

#define OCI_HOST(id, host) const char OCI_HOST_##id[] = host;
#include "ocispec/values.def"

bool oci_host_is_docker_hub(const char *host) {
  return host && (strcmp(host, OCI_HOST_DOCKER_HUB) == 0 ||
                  strcmp(host, OCI_HOST_DOCKER_HUB_INDEX) == 0 ||
                  strcmp(host, OCI_HOST_DOCKER_HUB_API) == 0);
}
