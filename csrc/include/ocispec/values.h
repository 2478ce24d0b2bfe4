/** Values declared once (values.def): media types with their kind and
   compression, the specs' enumerations, distribution error codes, document
   kinds and well-known hosts, as C constants, tables and predicates.
   Everything returned here is static: never freed, valid for the
   program's life. */
#ifndef OCISPEC_VALUES_H
#define OCISPEC_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ocispec/error.h"
#include "ocispec/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- media types ------------------------------------------------------- */

/** What a media type describes. */
typedef enum oci_media_kind {
  OCI_MEDIA_KIND_OTHER = 0, /**< also every undeclared media type */
  OCI_MEDIA_KIND_MANIFEST,  /**< OCI image manifest, Docker v2s2 manifest */
  OCI_MEDIA_KIND_INDEX,     /**< OCI image index, Docker manifest list */
  OCI_MEDIA_KIND_CONFIG,    /**< OCI image config, Docker container config */
  OCI_MEDIA_KIND_LAYER      /**< a layer tar, compressed or not */
} oci_media_kind;

/** How a layer is compressed; UNKNOWN for an undeclared media type. */
typedef enum oci_compression {
  OCI_COMPRESSION_UNKNOWN = -1, /**< not a declared media type */
  OCI_COMPRESSION_NONE = 0,     /**< a plain tar, or not a layer */
  OCI_COMPRESSION_GZIP,         /**< +gzip (Docker: .gzip) */
  OCI_COMPRESSION_ZSTD          /**< +zstd (Docker: .zstd) */
} oci_compression;

/** Who defines a media type. */
typedef enum oci_media_family {
  /** application/octet-stream, application/json */
  OCI_MEDIA_FAMILY_GENERIC = 0,
  OCI_MEDIA_FAMILY_OCI,   /**< image-spec media-types.md */
  OCI_MEDIA_FAMILY_DOCKER /**< Docker Image Manifest V2, Schema 2 */
} oci_media_family;

/** OCI_MEDIA_TYPE_<ID>: the media type strings, e.g.
   OCI_MEDIA_TYPE_IMAGE_MANIFEST, OCI_MEDIA_TYPE_LAYER_GZIP,
   OCI_MEDIA_TYPE_DOCKER_MANIFEST_LIST (static, NUL-terminated). */
#define OCI_MEDIA_TYPE(id, lua, value, kind, comp, family, dist)               \
  OCI_API extern const char OCI_MEDIA_TYPE_##id[];
#include "ocispec/values.def"

/** One declared media type. */
typedef struct oci_media_type_info {
  const char *value;   /**< the media type: OCI_MEDIA_TYPE_IMAGE_MANIFEST */
  const char *name;    /**< its Lua name: "ImageManifest" */
  oci_media_kind kind; /**< what it describes */
  oci_compression compression; /**< NONE for every non-layer */
  oci_media_family family;     /**< who defines it */
  bool distributable; /**< false: a non-distributable (foreign) layer */
  const char *docker; /**< an OCI type's Docker v2s2 equivalent, or NULL */
  const char *oci;    /**< a Docker type's OCI equivalent, or NULL */
} oci_media_type_info;

/** The declared media types, in declaration order; OCI_MEDIA_TYPE_COUNT. */
#define OCI_MEDIA_TYPE(id, lua, value, kind, comp, family, dist) +1
enum {
  OCI_MEDIA_TYPE_COUNT = 0
#include "ocispec/values.def"
};
OCI_API extern const oci_media_type_info oci_media_types[OCI_MEDIA_TYPE_COUNT];

/** The declaration of media type mt (compared exactly), or NULL when mt is
   NULL or not declared. The result points into the static table: never
   freed. */
OCI_API const oci_media_type_info *oci_media_type_info_of(const char *mt);
/** Kind predicates: false for NULL and for undeclared media types. */
OCI_API oci_media_kind oci_media_type_kind(const char *mt);
OCI_API bool oci_media_type_is_manifest(const char *mt);
OCI_API bool oci_media_type_is_index(const char *mt);
OCI_API bool oci_media_type_is_config(const char *mt);
OCI_API bool oci_media_type_is_layer(const char *mt);
OCI_API bool oci_media_type_is_docker(const char *mt);
/** false only for a declared non-distributable layer type */
OCI_API bool oci_media_type_is_distributable(const char *mt);
OCI_API oci_compression oci_media_type_compression(const char *mt);
/** The Docker v2s2 equivalent of an OCI media type, and back; NULL when
   there is none. Static strings. */
OCI_API const char *oci_media_type_to_docker(const char *mt);
OCI_API const char *oci_media_type_to_oci(const char *mt);
/** "gzip", "zstd", "none" (static); NULL for UNKNOWN. */
OCI_API const char *oci_compression_name(oci_compression c);
/** "manifest", "index", "config", "layer", "other" (static). */
OCI_API const char *oci_media_kind_name(oci_media_kind k);
/** Accept header value of manifest requests: every declared manifest and
   index media type, comma-separated (static). */
OCI_API const char *oci_media_type_accept_manifests(void);

/** A new descriptor {media_type (NULL: application/octet-stream), digest,
   size} as a document root of its own; the caller frees *out with
   oci_image_descriptor_free. */
OCI_API int oci_image_descriptor_make(const char *media_type,
                                      const char *digest, int64_t size,
                                      oci_image_descriptor **out,
                                      oci_error *err);

/* ---- enumerations ------------------------------------------------------ */

/** OCI_ENUM_<ID>: the declared enumerations (OCI_ENUM_CAPABILITY,
   OCI_ENUM_SECCOMP_ACTION, OCI_ENUM_ERROR_CODE, ...). */
#define OCI_ENUM(id, ns, lua, what, list) OCI_ENUM_##id,
typedef enum oci_enum_id {
#include "ocispec/values.def"
  OCI_ENUM_COUNT
} oci_enum_id;

/** OCI_ENUM_SIZE_<ID>: how many values each has (compile-time constants). */
#define OCI_VALUE_PLUS_ONE_(id, key, value) +1
#define OCI_ENUM(id, ns, lua, what, list)                                      \
  OCI_ENUM_SIZE_##id = 0 list(OCI_VALUE_PLUS_ONE_),
enum {
#include "ocispec/values.def"
  OCI_ENUM_SIZE_END_
};

/** OCI_EV_<ID>_<Key>: the position of each value in its enumeration, e.g.
   OCI_EV_CONTAINER_STATE_Created; OCI_ENUM_STR(CONTAINER_STATE, Created) is
   its string ("created"). */
#define OCI_VALUE_POSITION_(id, key, value) OCI_EV_##id##_##key,
#define OCI_ENUM(id, ns, lua, what, list)                                      \
  enum { list(OCI_VALUE_POSITION_) OCI_EV_END_##id };
#include "ocispec/values.def"
#define OCI_ENUM_STR(id, key)                                                  \
  (oci_enums[OCI_ENUM_##id].values[OCI_EV_##id##_##key].value)

/** One value of an enumeration. */
typedef struct oci_enum_value {
  const char *name;  /**< Lua name (oci-spec-rs variant): "SysAdmin" */
  const char *value; /**< "CAP_SYS_ADMIN" */
} oci_enum_value;

/** A declared enumeration (oci_enums[id]). */
typedef struct oci_enum {
  const char *id;   /**< its C name: "CAPABILITY" (OCI_ENUM_CAPABILITY) */
  const char *ns;   /**< "runtime", "distribution" */
  const char *name; /**< its Lua table: "Capability" */
  const char *what; /**< for messages: "capability" */
  const oci_enum_value *values; /**< in spec order */
  size_t count;                 /**< how many values */
} oci_enum;

/** Indexed by oci_enum_id. */
OCI_API extern const oci_enum oci_enums[OCI_ENUM_COUNT];
/** Whether s (len bytes; NUL-terminated for oci_enum_has) is a value of
   enumeration id; false for NULL or an id out of range. */
OCI_API bool oci_enum_has(oci_enum_id id, const char *s);
OCI_API bool oci_enum_has_n(oci_enum_id id, const char *s, size_t len);

/* ---- document kinds ---------------------------------------------------- */

/** A document kind and its type. */
typedef struct oci_doc_kind {
  const char *name;     /**< "image-manifest" */
  const oci_type *type; /**< &oci_type_image_manifest */
} oci_doc_kind;

#define OCI_DOC_KIND(id, name, type) +1
enum {
  OCI_DOC_KIND_COUNT = 0
#include "ocispec/values.def"
};
OCI_API extern const oci_doc_kind oci_doc_kinds[OCI_DOC_KIND_COUNT];
/** The kind called name, or NULL. The result points into the static
   table: never freed. */
OCI_API const oci_doc_kind *oci_doc_kind_find(const char *name);

/* ---- well-known hosts -------------------------------------------------- */

/** OCI_HOST_DOCKER_HUB ("docker.io"), OCI_HOST_DOCKER_HUB_INDEX,
   OCI_HOST_DOCKER_HUB_API (static). */
#define OCI_HOST(id, host) OCI_API extern const char OCI_HOST_##id[];
#include "ocispec/values.def"
/** Whether host (ASCII case-sensitive, as references are) is one of Docker
   Hub's names. */
OCI_API bool oci_host_is_docker_hub(const char *host);

#ifdef __cplusplus
}
#endif

#endif
