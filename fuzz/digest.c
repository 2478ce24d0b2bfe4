/* libFuzzer target: oci_digest_parse and oci_digest_referrers_tag
   (csrc/schema/digest_parse.c), checked against a plain re-implementation of
   the grammar of image-spec descriptor.md (I-DIG-1..4): digest    ::= algorithm
   ":" encoded algorithm ::= [a-z0-9]+ ([+._-] [a-z0-9]+)* encoded   ::=
   [a-zA-Z0-9=_-]+ sha256 and blake3: 64 of [a-f0-9]; sha512: 128. */
#include "fuzz_common.h"

static bool is_alnum_lower(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool model_valid(const char *s, size_t n, size_t *alen) {
  const char *colon = memchr(s, ':', n);
  if (!colon) return false;
  size_t a = (size_t)(colon - s);
  *alen = a;
  if (a == 0) return false;
  bool need_word = true;
  for (size_t i = 0; i < a; i++) {
    unsigned char c = (unsigned char)s[i];
    if (is_alnum_lower(c)) {
      need_word = false;
    } else if (c == '+' || c == '.' || c == '_' || c == '-') {
      if (need_word) return false;
      need_word = true;
    } else
      return false;
  }
  if (need_word) return false;
  const char *e = colon + 1;
  size_t en = n - a - 1;
  if (en == 0) return false;
  for (size_t i = 0; i < en; i++) {
    unsigned char c = (unsigned char)e[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '=' || c == '_' || c == '-'))
      return false;
  }
  size_t hex = 0;
  if ((a == 6 && memcmp(s, "sha256", 6) == 0) ||
      (a == 6 && memcmp(s, "blake3", 6) == 0))
    hex = 64;
  else if (a == 6 && memcmp(s, "sha512", 6) == 0)
    hex = 128;
  if (hex) {
    if (en != hex) return false;
    for (size_t i = 0; i < en; i++)
      if (!((e[i] >= '0' && e[i] <= '9') || (e[i] >= 'a' && e[i] <= 'f')))
        return false;
  }
  return true;
}

/* distribution-spec tag grammar: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} */
static bool tag_valid(const char *t) {
  size_t n = strlen(t);
  if (n == 0 || n > 128) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)t[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' ||
              (i > 0 && (c == '.' || c == '-'));
    if (!ok) return false;
  }
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  oci_digest_view v;
  oci_error err;
  oci_error_clear(&err);
  int rc = oci_digest_parse(s, size, &v, &err);
  size_t alen = 0;
  bool want = model_valid(s, size, &alen);
  FUZZ_CHECK((rc == OCI_OK) == want, "\"%.*s\": parse rc %d (%s), model %d",
             (int)size, s, rc, err.message, want);
  if (rc == OCI_OK) {
    FUZZ_CHECK(v.algorithm == s && v.algorithm_len == alen, "algorithm");
    FUZZ_CHECK(v.encoded == s + alen + 1 && v.encoded_len == size - alen - 1,
               "encoded");
    FUZZ_CHECK(v.alg == oci_digest_alg_from_name(s, alen), "alg");
    FUZZ_CHECK(v.alg == OCI_DIGEST_OTHER ||
                   oci_digest_hex_len(v.alg) == v.encoded_len,
               "hex length");
  } else {
    FUZZ_CHECK(rc == OCI_EINVAL, "rc %d", rc);
    fuzz_check_error(rc, &err);
  }

  /* the referrers tag takes a NUL-terminated digest */
  if (memchr(data, 0, size)) return 0;
  char *z = malloc(size + 1);
  if (!z) return 0;
  memcpy(z, data, size);
  z[size] = '\0';
  char tag[OCI_DIGEST_REFERRERS_TAG_MAX + 1];
  int trc = oci_digest_referrers_tag(z, tag, sizeof tag, &err);
  FUZZ_CHECK((trc == OCI_OK) == (rc == OCI_OK), "referrers_tag rc %d vs %d",
             trc, rc);
  if (trc == OCI_OK) {
    FUZZ_CHECK(tag_valid(tag), "referrers tag \"%s\" is not a valid tag", tag);
    FUZZ_CHECK(strlen(tag) <= OCI_DIGEST_REFERRERS_TAG_MAX, "tag length");
    /* too small a buffer: ETOOBIG and "" */
    char tiny[8];
    int src = oci_digest_referrers_tag(z, tiny, sizeof tiny, &err);
    if (strlen(tag) >= sizeof tiny)
      FUZZ_CHECK(src == OCI_ETOOBIG && tiny[0] == '\0', "tiny buffer");
    else
      FUZZ_CHECK(src == OCI_OK && strcmp(tiny, tag) == 0, "tiny buffer ok");
  }
  free(z);
  return 0;
}
