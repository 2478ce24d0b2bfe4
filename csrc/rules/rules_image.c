/* image-spec rules (RULES.md section 1), each next to the field or type it
   constrains in types.def. Ids name the RULES.md row; comments name the
   spec sentence. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ocispec/digest.h"
#include "ocispec/strcheck.h"
#include "rules.h"

typedef int (*str_check)(const char *s, size_t len, oci_error *err);

/* Run a string grammar check; report its message under rule. */
static bool check_str(oci_vctx *v, const char *rule, const char *suffix,
                      const char *s, str_check fn) {
  oci_error e;
  oci_error_clear(&e);
  if (fn(s, strlen(s), &e) == OCI_OK) return true;
  oci_report(v, OCI_SEV_ERROR, rule, suffix, "%s", e.message);
  return false;
}

/* descriptor.md:23 "Values MUST comply with RFC 6838" (I-DESC-2; also
   artifactType, I-DESC-11, I-MAN-4, I-IDX-3). */
void oci_chk_media_type(oci_vctx *v, const oci_field *f, const void *value) {
  const oci_type *t = oci_vctx_type(v);
  const char *rule = strcmp(f->key, "artifactType") != 0 ? "I-DESC-2"
                     : t == &oci_type_image_manifest     ? "I-MAN-4"
                     : t == &oci_type_image_index        ? "I-IDX-3"
                                                         : "I-DESC-11";
  check_str(v, rule, NULL, *(char *const *)value, oci_check_media_type);
}

static int check_digest(const char *s, size_t len, oci_error *err) {
  oci_digest_view d;
  return oci_digest_parse(s, len, &d, err);
}

/* descriptor.md:78-86 digest grammar, :156-174 registered algorithms
   (I-DIG-1..4). The rule id names the part that failed. */
static void report_digest(oci_vctx *v, const char *suffix, const char *s) {
  oci_error e;
  oci_digest_view d;
  oci_error_clear(&e);
  if (oci_digest_parse(s, strlen(s), &d, &e) == OCI_OK) return;
  const char *colon = strchr(s, ':');
  oci_digest_alg alg = colon ? oci_digest_alg_from_name(s, (size_t)(colon - s))
                             : OCI_DIGEST_OTHER;
  const char *rule = alg == OCI_DIGEST_SHA256   ? "I-DIG-2"
                     : alg == OCI_DIGEST_SHA512 ? "I-DIG-3"
                     : alg == OCI_DIGEST_BLAKE3 ? "I-DIG-4"
                                                : "I-DIG-1";
  oci_report(v, OCI_SEV_ERROR, rule, suffix, "%s", e.message);
}

void oci_chk_digest(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  report_digest(v, NULL, *(char *const *)value);
}

/* descriptor.md:37 "The size MUST NOT be negative." (I-DESC-5) */
void oci_chk_size(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  int64_t size = *(const int64_t *)value;
  if (size < 0)
    oci_report(v, OCI_SEV_ERROR, "I-DESC-5", NULL,
               "size %lld is negative; it MUST NOT be", (long long)size);
}

/* descriptor.md:42 urls: "Each entry MUST conform to RFC 3986" (I-DESC-7) */
void oci_chk_urls(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const oci_str_array *a = value;
  for (size_t i = 0; i < a->len; i++) {
    oci_vctx_push_index(v, i);
    check_str(v, "I-DESC-7", NULL, a->items[i], oci_check_uri);
    oci_vctx_pop(v);
  }
}

/* descriptor.md:53 data: RFC 4648 base64 (I-DESC-9) */
void oci_chk_base64(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  check_str(v, "I-DESC-9", NULL, *(char *const *)value, oci_check_base64);
}

/* annotations.md (I-ANN-1, I-ANN-4, I-ANN-6); config Labels (I-CFG-8). */
static void check_annotation_map(oci_vctx *v, const oci_str_map *m) {
  for (size_t i = 0; i < m->len; i++) {
    const char *k = m->keys[i];
    if (!*k)
      oci_report(v, OCI_SEV_WARNING, "I-ANN-1", "",
                 "empty annotation key (image-spec allows any string; "
                 "runtime-spec forbids empty keys)");
    if (strcmp(k, OCI_ENUM_STR(ANNOTATION, ANNOTATION_REF_NAME)) == 0) {
      oci_error e;
      oci_error_clear(&e);
      const char *val = m->values[i];
      if (oci_check_ref_name_annotation(val, strlen(val), &e) != OCI_OK)
        oci_report(v, OCI_SEV_WARNING, "I-ANN-6", k, "%s", e.message);
    } else if (strncmp(k, "org.opencontainers.image.", 25) == 0) {
      if (!oci_enum_has(OCI_ENUM_ANNOTATION, k))
        oci_report(v, OCI_SEV_WARNING, "I-ANN-4", k,
                   "\"%s\" is not a key defined by image-spec annotations.md; "
                   "the org.opencontainers.image prefix is reserved",
                   k);
    }
  }
}

void oci_chk_annotations(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  check_annotation_map(v, value);
}

void oci_chk_labels(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  check_annotation_map(v, value);
}

/* image-index.md:89 platform.features "is RESERVED" (I-IDX-7) */
void oci_chk_reserved_features(oci_vctx *v, const oci_field *f,
                               const void *value) {
  (void)f;
  (void)value;
  oci_report(v, OCI_SEV_WARNING, "I-IDX-7", NULL,
             "platform.features is reserved for future versions of the "
             "specification");
}

/* manifest.md:20, image-index.md:14 "this MUST be 2" (I-MAN-1, I-IDX-1) */
void oci_chk_schema_version(oci_vctx *v, const oci_field *f,
                            const void *value) {
  (void)f;
  int32_t sv = *(const int32_t *)value;
  bool index = oci_vctx_type(v) == &oci_type_image_index;
  if (sv != 2)
    oci_report(v, OCI_SEV_ERROR, index ? "I-IDX-1" : "I-MAN-1", NULL,
               "schemaVersion MUST be 2, got %d", (int)sv);
}

/* manifest.md:26 "When used, this field MUST contain the media type
   application/vnd.oci.image.manifest.v1+json" (I-MAN-2) */
void oci_chk_manifest_media_type(oci_vctx *v, const oci_field *f,
                                 const void *value) {
  (void)f;
  const char *mt = *(char *const *)value;
  if (strcmp(mt, OCI_MEDIA_TYPE_IMAGE_MANIFEST) != 0)
    oci_report(v, OCI_SEV_ERROR, "I-MAN-2", NULL,
               "mediaType of an image manifest MUST be \"%s\", got \"%s\"",
               OCI_MEDIA_TYPE_IMAGE_MANIFEST, mt);
}

/* image-index.md:22 (I-IDX-2) */
void oci_chk_index_media_type(oci_vctx *v, const oci_field *f,
                              const void *value) {
  (void)f;
  const char *mt = *(char *const *)value;
  if (strcmp(mt, OCI_MEDIA_TYPE_IMAGE_INDEX) != 0)
    oci_report(v, OCI_SEV_ERROR, "I-IDX-2", NULL,
               "mediaType of an image index MUST be \"%s\", got \"%s\"",
               OCI_MEDIA_TYPE_IMAGE_INDEX, mt);
}

/* manifest.md:65 "layers SHOULD have at least one entry" (I-MAN-8): the
   schema's minItems turns a SHOULD into a MUST; we follow the prose. */
void oci_chk_layers(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const oci_array *a = value;
  if (a->len == 0)
    oci_report(v, OCI_SEV_WARNING, "I-MAN-8", NULL,
               "layers is empty; for portability it SHOULD have at least "
               "one entry");
}

/* config.md:97, 232 RFC 3339 date-time (I-CFG-4) */
void oci_chk_rfc3339(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  check_str(v, "I-CFG-4", NULL, *(char *const *)value, oci_check_rfc3339);
}

/* config.md:147-150 ExposedPorts keys "port/tcp", "port/udp", "port"
   (I-CFG-9). Docker also writes "port/sctp": a warning, not an error. */
void oci_chk_exposed_ports(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const oci_set *s = value;
  for (size_t i = 0; i < s->len; i++) {
    const char *k = s->keys[i];
    size_t digits = strspn(k, "0123456789");
    const char *proto = k + digits;
    bool port_ok = digits > 0 && digits <= 5 && strtol(k, NULL, 10) <= 65535;
    if (port_ok &&
        (!*proto || !strcmp(proto, "/tcp") || !strcmp(proto, "/udp")))
      continue;
    if (port_ok && !strcmp(proto, "/sctp")) {
      oci_report(v, OCI_SEV_WARNING, "I-CFG-9", k,
                 "\"%s\": image-spec lists only tcp and udp", k);
      continue;
    }
    oci_report(v, OCI_SEV_ERROR, "I-CFG-9", k,
               "exposed port \"%s\" is not of the form port, port/tcp or "
               "port/udp (port 0-65535)",
               k);
  }
}

/* config.md:154 Env "Entries are in the format of VARNAME=VARVALUE"
   (I-CFG-7; enforced by image-spec's Go validator) */
void oci_chk_env(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const oci_str_array *a = value;
  for (size_t i = 0; i < a->len; i++) {
    oci_vctx_push_index(v, i);
    check_str(v, "I-CFG-7", NULL, a->items[i], oci_check_env_entry);
    oci_vctx_pop(v);
  }
}

/* config.md:215 rootfs.type "MUST be set to layers" (I-CFG-2) */
void oci_chk_rootfs_type(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const char *t = *(char *const *)value;
  if (strcmp(t, "layers") != 0)
    oci_report(v, OCI_SEV_ERROR, "I-CFG-2", NULL,
               "rootfs.type MUST be \"layers\", got \"%s\"", t);
}

/* config.md:28, 222 diff_ids are digests (I-CFG-3) */
void oci_chk_diff_ids(oci_vctx *v, const oci_field *f, const void *value) {
  (void)f;
  const oci_str_array *a = value;
  for (size_t i = 0; i < a->len; i++) {
    oci_vctx_push_index(v, i);
    oci_error e;
    oci_error_clear(&e);
    if (check_digest(a->items[i], strlen(a->items[i]), &e) != OCI_OK)
      oci_report(v, OCI_SEV_ERROR, "I-CFG-3", NULL, "diff_id: %s", e.message);
    oci_vctx_pop(v);
  }
}

/* image-layout.md:134 imageLayoutVersion "1.0.0" (I-LAY-2) */
void oci_chk_layout_version(oci_vctx *v, const oci_field *f,
                            const void *value) {
  (void)f;
  const char *s = *(char *const *)value;
  if (strcmp(s, "1.0.0") != 0)
    oci_report(v, OCI_SEV_ERROR, "I-LAY-2", NULL,
               "imageLayoutVersion MUST be \"1.0.0\" (the only version "
               "defined), got \"%s\"",
               s);
}

/* descriptor.md:54 "The decoded data MUST be identical to the referenced
   content" (I-DESC-10): its length is size, its hash is digest. */
static void check_embedded_data(oci_vctx *v, const oci_image_descriptor *d) {
  const char *data = d->data;
  size_t len = strlen(data);
  oci_error e;
  if (oci_check_base64(data, len, &e) != OCI_OK) return; /* I-DESC-9 said it */
  unsigned char *buf = malloc(len / 4 * 3 + 1);
  size_t n = 0;
  if (!buf || oci_base64_decode(data, len, buf, &n) != OCI_OK) {
    free(buf);
    return;
  }
  if (oci_is_present(d, OCI_F_image_descriptor_size) && (int64_t)n != d->size)
    oci_report(v, OCI_SEV_ERROR, "I-DESC-10", "data",
               "data decodes to %zu bytes but size is %lld", n,
               (long long)d->size);
  oci_digest_view dv;
  oci_digest_alg alg = OCI_DIGEST_OTHER;
  if (oci_is_present(d, OCI_F_image_descriptor_digest) &&
      oci_digest_parse(d->digest, strlen(d->digest), &dv, NULL) == OCI_OK)
    alg = oci_digest_alg_from_name(dv.algorithm, dv.algorithm_len);
  /* libcrypto, as every digest of the library */
  unsigned char h[EVP_MAX_MD_SIZE];
  unsigned hl = 0;
  const EVP_MD *md = alg == OCI_DIGEST_SHA256   ? EVP_sha256()
                     : alg == OCI_DIGEST_SHA512 ? EVP_sha512()
                                                : NULL;
  if (md && EVP_Digest(buf, n, h, &hl, md, NULL) != 1) hl = 0;
  if (hl) {
    static const char hex[] = "0123456789abcdef";
    char got[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned i = 0; i < hl; i++) {
      got[2 * i] = hex[h[i] >> 4];
      got[2 * i + 1] = hex[h[i] & 15];
    }
    got[2 * hl] = '\0';
    if (dv.encoded_len != 2 * hl || memcmp(got, dv.encoded, 2 * hl) != 0)
      oci_report(v, OCI_SEV_ERROR, "I-DESC-10", "data",
                 "data does not match digest: its %.*s is %s",
                 (int)dv.algorithm_len, dv.algorithm, got);
  }
  free(buf);
}

void oci_tchk_descriptor(oci_vctx *v, const void *obj) {
  const oci_image_descriptor *d = obj;
  if (oci_is_present(d, OCI_F_image_descriptor_data) &&
      !oci_is_null(d, OCI_F_image_descriptor_data))
    check_embedded_data(v, d);
}

/* manifest.md:32, 180 "artifactType MUST be set when config.mediaType is
   set to the empty value" (I-MAN-3) */
void oci_tchk_manifest(oci_vctx *v, const void *obj) {
  const oci_image_manifest *m = obj;
  if (!m->config || !m->config->media_type) return;
  if (strcmp(m->config->media_type, OCI_MEDIA_TYPE_EMPTY_JSON) == 0 &&
      !oci_is_present(m, OCI_F_image_manifest_artifact_type))
    oci_report(v, OCI_SEV_ERROR, "I-MAN-3", "artifactType",
               "artifactType MUST be set when config.mediaType is \"%s\"",
               OCI_MEDIA_TYPE_EMPTY_JSON);
}

/* Nothing beyond the field rules for image configurations yet; declared so
   cross-field rules have their place (config.md). */
void oci_tchk_configuration(oci_vctx *v, const void *obj) {
  (void)v;
  (void)obj;
}
