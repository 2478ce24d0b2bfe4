/* Digest strings (see digest.h): grammar of image-spec descriptor.md:78-86
   (I-DIG-1), registered algorithms descriptor.md:150-174 (I-DIG-2..4). */
#include "ocispec/digest.h"

#include <string.h>

#include "internal.h"
#include "ocispec/strcheck.h"
#include "strcheck_internal.h"

static const struct {
  oci_digest_alg alg;
  const char *name;
  size_t hex_len;
} registered[] = {
    {OCI_DIGEST_SHA256, "sha256", 64},  /* descriptor.md:156-157 */
    {OCI_DIGEST_SHA512, "sha512", 128}, /* descriptor.md:164-165 */
    {OCI_DIGEST_BLAKE3, "blake3", 64},  /* descriptor.md:170-174 */
};

#define N_REGISTERED (sizeof registered / sizeof registered[0])

const char *oci_digest_alg_name(oci_digest_alg alg) {
  size_t k;
  for (k = 0; k < N_REGISTERED; k++)
    if (registered[k].alg == alg) return registered[k].name;
  return NULL;
}

size_t oci_digest_hex_len(oci_digest_alg alg) {
  size_t k;
  for (k = 0; k < N_REGISTERED; k++)
    if (registered[k].alg == alg) return registered[k].hex_len;
  return 0;
}

oci_digest_alg oci_digest_alg_from_name(const char *s, size_t len) {
  size_t k;
  for (k = 0; k < N_REGISTERED; k++)
    if (strlen(registered[k].name) == len &&
        memcmp(registered[k].name, s, len) == 0)
      return registered[k].alg;
  return OCI_DIGEST_OTHER;
}

/* algorithm-component ::= [a-z0-9]+, algorithm-separator ::= [+._-] */
static bool alg_word(unsigned char c) {
  return oci_ascii_digit(c) || oci_ascii_lower(c);
}

static size_t alg_separator(const char *s, size_t n) {
  (void)n;
  return s[0] == '+' || s[0] == '.' || s[0] == '_' || s[0] == '-';
}

static int check_algorithm(const char *s, size_t len, size_t alen,
                           oci_error *err) {
  static const oci_word_grammar g = {alg_word, alg_separator};
  char c[OCI_QUOTE_SIZE];
  size_t pos;
  oci_word_fail f = oci_scan_words(s, alen, &g, &pos);
  if (f == OCI_WORDS_OK) return 0;
  if (f == OCI_WORDS_EMPTY)
    return oci_fail_value(err, OCI_EINVAL, "digest", s, len,
                          "algorithm before \":\" is empty");
  if (f == OCI_WORDS_BAD_SEP)
    return oci_fail_value(err, OCI_EINVAL, "digest", s, len,
                          "empty algorithm component at separator %s, offset "
                          "%zu (separators + . _ - must stand between "
                          "[a-z0-9]+ components)",
                          oci_quote(c, sizeof c, s + pos, 1), pos);
  return oci_fail_value(err, OCI_EINVAL, "digest", s, len,
                        "invalid character %s at offset %zu in algorithm%s "
                        "(allowed: a-z 0-9 and separators + . _ -)",
                        oci_quote(c, sizeof c, s + pos, 1), pos,
                        oci_ascii_upper((unsigned char)s[pos])
                            ? ", uppercase is not allowed"
                            : "");
}

/* encoded ::= [a-zA-Z0-9=_-]+ */
static int check_encoded(const char *s, size_t len, size_t from,
                         oci_error *err) {
  char c[OCI_QUOTE_SIZE];
  size_t i;
  if (from == len)
    return oci_fail_value(err, OCI_EINVAL, "digest", s, len,
                          "encoded part after \":\" is empty");
  for (i = from; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (!oci_ascii_alnum(ch) && ch != '=' && ch != '_' && ch != '-')
      return oci_fail_value(err, OCI_EINVAL, "digest", s, len,
                            "invalid character %s at offset %zu in encoded "
                            "part (allowed: A-Z a-z 0-9 = _ -)",
                            oci_quote(c, sizeof c, s + i, 1), i);
  }
  return 0;
}

/* I-DIG-2..4: exactly hex_len characters of [a-f0-9]; "[A-F] MUST NOT be
   used". The length comes first: it is the likelier mistake (a truncated
   or wrong-algorithm digest). */
static int check_registered(const char *s, size_t len, size_t from,
                            oci_digest_alg alg, oci_error *err) {
  const char *name = oci_digest_alg_name(alg);
  size_t want = oci_digest_hex_len(alg), i;
  char c[OCI_QUOTE_SIZE];
  if (len - from != want)
    return oci_fail_value(err, OCI_EINVAL, "digest", s, len,
                          "encoded part must be %zu lowercase hex characters "
                          "for %s, got %zu",
                          want, name, len - from);
  for (i = from; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (oci_ascii_digit(ch) || (ch >= 'a' && ch <= 'f')) continue;
    return oci_fail_value(err, OCI_EINVAL, "digest", s, len,
                          oci_ascii_hex(ch)
                              ? "uppercase hex %s at offset %zu is not "
                                "allowed for %s (use a-f)"
                              : "non-hex character %s at offset %zu in "
                                "encoded part (%s needs a-f 0-9)",
                          oci_quote(c, sizeof c, s + i, 1), i, name);
  }
  return 0;
}

int oci_digest_parse(const char *s, size_t len, oci_digest_view *out,
                     oci_error *err) {
  oci_error_reset(err);
  const char *colon = len ? memchr(s, ':', len) : NULL;
  oci_digest_alg alg;
  size_t alen;
  int rc;
  if (len == 0)
    return oci_fail_value(err, OCI_EINVAL, "digest", s, len, "is empty");
  if (!colon)
    return oci_fail_value(err, OCI_EINVAL, "digest", s, len,
                          "missing \":\" between algorithm and encoded part");
  alen = (size_t)(colon - s);
  rc = check_algorithm(s, len, alen, err);
  if (!rc) rc = check_encoded(s, len, alen + 1, err);
  if (rc) return rc;
  alg = oci_digest_alg_from_name(s, alen);
  if (alg != OCI_DIGEST_OTHER) {
    rc = check_registered(s, len, alen + 1, alg, err);
    if (rc) return rc;
  }
  if (out) {
    out->algorithm = s;
    out->algorithm_len = alen;
    out->encoded = colon + 1;
    out->encoded_len = len - alen - 1;
    out->alg = alg;
  }
  return 0;
}

/* Copies n bytes, turning each one a tag may not hold ([a-zA-Z0-9._-] after
   the first character, D-TAG-1) into "-". The first character of a
   referrers tag is the algorithm's, always [a-z0-9], so it needs no rule
   of its own. */
static void copy_as_tag(char *out, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    out[i] =
        oci_ascii_alnum(c) || c == '.' || c == '_' || c == '-' ? (char)c : '-';
  }
}

int oci_digest_referrers_tag(const char *digest, char *out, size_t outsz,
                             oci_error *err) {
  oci_error_reset(err);
  size_t len = strlen(digest), an, en;
  oci_digest_view v;
  int rc;
  if (outsz) out[0] = '\0';
  rc = oci_digest_parse(digest, len, &v, err);
  if (rc) return rc;
  an = v.algorithm_len < 32 ? v.algorithm_len : 32;
  en = v.encoded_len < 64 ? v.encoded_len : 64;
  if (outsz < an + en + 2)
    return oci_fail_value(err, OCI_ETOOBIG, "digest", digest, len,
                          "referrers tag needs a buffer of %zu bytes, got %zu",
                          an + en + 2, outsz);
  copy_as_tag(out, v.algorithm, an);
  out[an] = '-';
  copy_as_tag(out + an + 1, v.encoded, en);
  out[an + 1 + en] = '\0';
  return 0;
}
