/* ocispec string grammars (see strcheck.h). Hand-written matchers: no
   <regex.h> (not in every libc, locale-dependent, and its messages cannot
   say where or why a string fails), no <ctype.h> (locale). Sources are
   cited as RULES.md IDs with the spec file:line they come from. */
#include "ocispec/strcheck.h"

#include "internal.h"
#include "strcheck_internal.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Messages                                                            */

/* Escaped length of one byte: printable ASCII as is, quotes and
   backslashes escaped, everything else \xNN (keeps messages one line). */
static size_t escape_byte(unsigned char c, char out[5]) {
  static const char hex[] = "0123456789abcdef";
  if (c == '"' || c == '\\') {
    out[0] = '\\';
    out[1] = (char)c;
    return 2;
  }
  if (c < 0x20 || c >= 0x7f) {
    out[0] = '\\';
    out[1] = 'x';
    out[2] = hex[c >> 4];
    out[3] = hex[c & 15];
    return 4;
  }
  out[0] = (char)c;
  return 1;
}

const char *oci_quote(char *buf, size_t bufsz, const char *s, size_t len) {
  size_t o = 0, i, limit;
  if (bufsz < 8) {
    if (bufsz) buf[0] = '\0';
    return buf;
  }
  limit = bufsz - 5; /* keep room for "...", the closing quote and NUL */
  buf[o++] = '"';
  for (i = 0; i < len; i++) {
    char e[5];
    size_t n = escape_byte((unsigned char)s[i], e);
    if (o + n > limit) break;
    memcpy(buf + o, e, n);
    o += n;
  }
  if (i < len) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o++] = '"';
  buf[o] = '\0';
  return buf;
}

int oci_fail_value(oci_error *err, int code, const char *what, const char *s,
                   size_t len, const char *fmt, ...) {
  char q[OCI_QUOTE_SIZE], msg[OCI_ERROR_MESSAGE_MAX];
  va_list ap;
  if (!err) return code;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return oci_error_set(err, code, "%s %s: %s", what,
                       oci_quote(q, sizeof q, s, len), msg);
}

/* Quoted single byte for "invalid character X at offset N" messages. */
#define QCHAR(buf, s, i) oci_quote(buf, sizeof buf, (s) + (i), 1)

/* ------------------------------------------------------------------ */
/* word (separator word)*                                              */

oci_word_fail oci_scan_words(const char *s, size_t len,
                             const oci_word_grammar *g, size_t *pos) {
  size_t i = 0, sep_at = 0, dummy;
  if (!pos) pos = &dummy;
  if (len == 0) {
    *pos = 0;
    return OCI_WORDS_EMPTY;
  }
  for (;;) {
    size_t n;
    if (i == len) { /* only after a separator: it ends the string */
      *pos = sep_at;
      return OCI_WORDS_BAD_SEP;
    }
    if (!g->is_word((unsigned char)s[i])) {
      *pos = i;
      return g->separator(s + i, len - i) ? OCI_WORDS_BAD_SEP
                                          : OCI_WORDS_BAD_CHAR;
    }
    while (i < len && g->is_word((unsigned char)s[i]))
      i++;
    if (i == len) return OCI_WORDS_OK;
    n = g->separator(s + i, len - i);
    if (n == 0) {
      *pos = i;
      return OCI_WORDS_BAD_CHAR;
    }
    sep_at = i;
    i += n;
  }
}

/* Message for a failed oci_scan_words over a whole value. */
static int words_fail(oci_error *err, const char *what, const char *s,
                      size_t len, oci_word_fail f, size_t pos,
                      const char *allowed) {
  char c[OCI_QUOTE_SIZE];
  switch (f) {
  case OCI_WORDS_EMPTY:
    return oci_fail_value(err, OCI_EINVAL, what, s, len, "is empty");
  case OCI_WORDS_BAD_SEP:
    return oci_fail_value(err, OCI_EINVAL, what, s, len,
                          "separator %s at offset %zu must stand between two "
                          "alphanumeric runs (%s)",
                          QCHAR(c, s, pos), pos, allowed);
  default:
    return oci_fail_value(
        err, OCI_EINVAL, what, s, len,
        "invalid character %s at offset %zu%s (%s)", QCHAR(c, s, pos), pos,
        oci_ascii_upper((unsigned char)s[pos]) ? ", uppercase is not allowed"
                                               : "",
        allowed);
  }
}

/* ------------------------------------------------------------------ */
/* Media type: I-DESC-2, image-spec descriptor.md:23, RFC 6838 4.2     */

/* restricted-name-chars of RFC 6838 section 4.2 */
static bool is_restricted_name_char(unsigned char c) {
  return oci_ascii_alnum(c) || (c != 0 && strchr("!#$&^_.+-", c) != NULL);
}

static int check_restricted_name(const char *s, size_t len, size_t from,
                                 size_t to, const char *part, oci_error *err) {
  char c[OCI_QUOTE_SIZE];
  size_t i;
  if (from == to)
    return oci_fail_value(err, OCI_EINVAL, "media type", s, len, "%s is empty",
                          part);
  if (!oci_ascii_alnum((unsigned char)s[from]))
    return oci_fail_value(err, OCI_EINVAL, "media type", s, len,
                          "%s must start with a letter or digit, got %s", part,
                          QCHAR(c, s, from));
  for (i = from + 1; i < to; i++)
    if (!is_restricted_name_char((unsigned char)s[i]))
      return oci_fail_value(
          err, OCI_EINVAL, "media type", s, len,
          "invalid character %s at offset %zu in %s%s (allowed: "
          "A-Z a-z 0-9 ! # $ & ^ _ . + -)",
          QCHAR(c, s, i), i, part,
          s[i] == ';' ? ", parameters are not allowed" : "");
  if (to - from > 127)
    return oci_fail_value(err, OCI_EINVAL, "media type", s, len,
                          "%s is %zu characters, at most 127 allowed", part,
                          to - from);
  return 0;
}

int oci_check_media_type(const char *s, size_t len, oci_error *err) {
  oci_error_reset(err);
  const char *slash = len ? memchr(s, '/', len) : NULL;
  size_t at;
  int rc;
  if (len == 0)
    return oci_fail_value(err, OCI_EINVAL, "media type", s, len, "is empty");
  if (!slash)
    return oci_fail_value(err, OCI_EINVAL, "media type", s, len,
                          "missing \"/\" between type and subtype");
  at = (size_t)(slash - s);
  rc = check_restricted_name(s, len, 0, at, "type", err);
  if (rc) return rc;
  return check_restricted_name(s, len, at + 1, len, "subtype", err);
}

/* ------------------------------------------------------------------ */
/* Base64: I-DESC-9, image-spec descriptor.md:53, RFC 4648 section 4   */

static int b64_value(unsigned char c) {
  if (oci_ascii_upper(c)) return c - 'A';
  if (oci_ascii_lower(c)) return c - 'a' + 26;
  if (oci_ascii_digit(c)) return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Non-zero pad bits (RFC 4648 3.5 lets decoders reject them: "MAY") are
   accepted, as Go's encoding/base64 does; I-DESC-10 compares the decoded
   bytes anyway. Line breaks are refused (RFC 4648 3.3). */
int oci_check_base64(const char *s, size_t len, oci_error *err) {
  oci_error_reset(err);
  char c[OCI_QUOTE_SIZE];
  size_t i;
  if (len % 4)
    return oci_fail_value(err, OCI_EINVAL, "base64", s, len,
                          "length %zu is not a multiple of 4 (standard "
                          "base64 is padded with \"=\")",
                          len);
  for (i = 0; i < len; i++) {
    if (s[i] == '=') {
      if (i + 2 < len || (i + 2 == len && s[len - 1] != '='))
        return oci_fail_value(err, OCI_EINVAL, "base64", s, len,
                              "\"=\" at offset %zu: padding may only end "
                              "the string, at most twice",
                              i);
    } else if (b64_value((unsigned char)s[i]) < 0) {
      return oci_fail_value(err, OCI_EINVAL, "base64", s, len,
                            "invalid character %s at offset %zu (alphabet: "
                            "A-Z a-z 0-9 + /, padding =)",
                            QCHAR(c, s, i), i);
    }
  }
  return 0;
}

int oci_base64_decode(const char *s, size_t len, unsigned char *out,
                      size_t *out_len) {
  size_t i, o = 0;
  if (oci_check_base64(s, len, NULL)) return OCI_EINVAL;
  for (i = 0; i < len; i += 4) {
    unsigned long acc = 0;
    size_t k, data = 0;
    for (k = 0; k < 4; k++) {
      unsigned char c = (unsigned char)s[i + k];
      acc <<= 6;
      if (c != '=') {
        acc |= (unsigned long)b64_value(c);
        data++;
      }
    }
    /* 4 symbols carry 3 bytes; 3 symbols (one "=") 2; 2 symbols 1. */
    out[o++] = (unsigned char)(acc >> 16);
    if (data > 2) out[o++] = (unsigned char)(acc >> 8);
    if (data > 3) out[o++] = (unsigned char)acc;
  }
  *out_len = o;
  return 0;
}

/* ------------------------------------------------------------------ */
/* IP addresses: RFC 3986 section 3.2.2 (URIs and registry hosts)      */

/* dec-octet "." dec-octet "." dec-octet "." dec-octet, no leading zeros */
static bool ipv4_ok(const char *s, size_t len) {
  size_t i = 0, part;
  for (part = 0; part < 4; part++) {
    size_t start;
    unsigned v = 0;
    if (part && (i == len || s[i++] != '.')) return false;
    start = i;
    while (i < len && oci_ascii_digit((unsigned char)s[i]) && i - start < 3)
      v = v * 10 + (unsigned)(s[i++] - '0');
    if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
      return false;
  }
  return i == len;
}

/* IPv6address: up to 8 h16 groups (an IPv4 tail counts as 2) with at most
   one "::" standing for one or more zero groups. */
static bool ipv6_ok(const char *s, size_t len) {
  size_t i = 0, groups = 0;
  bool gap = false;
  if (len >= 2 && s[0] == ':' && s[1] == ':') {
    gap = true;
    i = 2;
  } else if (len == 0 || s[0] == ':') {
    return false;
  }
  while (i < len) {
    size_t j = i;
    while (j < len && oci_ascii_hex((unsigned char)s[j]) && j - i < 5)
      j++;
    if (j < len && s[j] == '.') { /* the IPv4 tail ends the address */
      if (!ipv4_ok(s + i, len - i)) return false;
      groups += 2;
      break;
    }
    if (j == i || j - i > 4) return false;
    groups++;
    i = j;
    if (i == len) break;
    if (s[i++] != ':' || i == len) return false; /* ":" must lead on */
    if (s[i] == ':') {
      if (gap) return false;
      gap = true;
      i++;
    }
  }
  return gap ? groups <= 7 : groups == 8;
}

static bool uri_unreserved(unsigned char c) {
  return oci_ascii_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool uri_sub_delim(unsigned char c) {
  return c != 0 && strchr("!$&'()*+,;=", c) != NULL;
}

/* IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
static bool ipvfuture_ok(const char *s, size_t len) {
  size_t i = 1;
  if (len < 4 || (s[0] != 'v' && s[0] != 'V')) return false;
  while (i < len && oci_ascii_hex((unsigned char)s[i]))
    i++;
  if (i == 1 || i + 1 >= len || s[i] != '.') return false;
  for (i++; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!uri_unreserved(c) && !uri_sub_delim(c) && c != ':') return false;
  }
  return true;
}

/* ------------------------------------------------------------------ */
/* URI: I-DESC-7, image-spec descriptor.md:42, RFC 3986 section 3      */

/* Checks s[from, to): unreserved, sub-delims, the part's extra characters
   and pct-encoded "%" HEXDIG HEXDIG (RFC 3986 2.1-2.3). */
static int uri_scan(const char *s, size_t len, size_t from, size_t to,
                    const char *extra, const char *part, oci_error *err) {
  char c[OCI_QUOTE_SIZE];
  size_t i;
  for (i = from; i < to; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '%') {
      if (i + 2 >= to || !oci_ascii_hex((unsigned char)s[i + 1]) ||
          !oci_ascii_hex((unsigned char)s[i + 2]))
        return oci_fail_value(err, OCI_EINVAL, "URI", s, len,
                              "\"%%\" at offset %zu in %s must be followed "
                              "by two hex digits",
                              i, part);
      i += 2;
    } else if (!uri_unreserved(ch) && !uri_sub_delim(ch) &&
               (ch == 0 || !strchr(extra, ch))) {
      return oci_fail_value(err, OCI_EINVAL, "URI", s, len,
                            "invalid character %s at offset %zu in %s",
                            QCHAR(c, s, i), i, part);
    }
  }
  return 0;
}

static size_t find_any(const char *s, size_t from, size_t to, const char *set) {
  while (from < to && (s[from] == 0 || !strchr(set, s[from])))
    from++;
  return from;
}

/* IP-literal = "[" ( IPv6address / IPvFuture ) "]"; returns the offset
   just past "]" in *end. */
static int uri_ip_literal(const char *s, size_t len, size_t from, size_t to,
                          size_t *end, oci_error *err) {
  size_t close = find_any(s, from, to, "]");
  char q[OCI_QUOTE_SIZE];
  if (close == to)
    return oci_fail_value(err, OCI_EINVAL, "URI", s, len,
                          "\"[\" at offset %zu has no closing \"]\"", from);
  if (!ipv6_ok(s + from + 1, close - from - 1) &&
      !ipvfuture_ok(s + from + 1, close - from - 1))
    return oci_fail_value(
        err, OCI_EINVAL, "URI", s, len,
        "IP literal %s at offset %zu is not an IPv6 "
        "address or IPvFuture",
        oci_quote(q, sizeof q, s + from + 1, close - from - 1), from);
  *end = close + 1;
  return 0;
}

/* authority = [ userinfo "@" ] host [ ":" port ] over s[from, to) */
static int uri_authority(const char *s, size_t len, size_t from, size_t to,
                         oci_error *err) {
  size_t at = find_any(s, from, to, "@"), host = from, hend = to, i;
  int rc;
  if (at < to) {
    rc = uri_scan(s, len, from, at, ":", "userinfo", err);
    if (rc) return rc;
    host = at + 1;
  }
  if (host < to && s[host] == '[') {
    rc = uri_ip_literal(s, len, host, to, &hend, err);
    if (rc) return rc;
  } else {
    hend = find_any(s, host, to, ":");
    rc = uri_scan(s, len, host, hend, "", "host", err);
    if (rc) return rc;
  }
  if (hend < to && s[hend] != ':')
    return oci_fail_value(err, OCI_EINVAL, "URI", s, len,
                          "expected \":\" and a port after the host at "
                          "offset %zu",
                          hend);
  for (i = hend + 1; i < to; i++)
    if (!oci_ascii_digit((unsigned char)s[i]))
      return oci_fail_value(err, OCI_EINVAL, "URI", s, len,
                            "port must be digits, offset %zu is not", i);
  return 0;
}

/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" (RFC 3986 3.1);
   returns the offset after ":" in *after. */
static int uri_scheme(const char *s, size_t len, size_t *after,
                      oci_error *err) {
  char c[OCI_QUOTE_SIZE];
  size_t i = 1;
  if (!oci_ascii_lower((unsigned char)s[0]) &&
      !oci_ascii_upper((unsigned char)s[0]))
    return oci_fail_value(err, OCI_EINVAL, "URI", s, len,
                          "scheme must start with a letter, got %s "
                          "(relative references are not URIs)",
                          QCHAR(c, s, 0));
  while (i < len && (oci_ascii_alnum((unsigned char)s[i]) || s[i] == '+' ||
                     s[i] == '-' || s[i] == '.'))
    i++;
  if (i == len)
    return oci_fail_value(err, OCI_EINVAL, "URI", s, len,
                          "missing \":\" after the scheme");
  if (s[i] != ':')
    return oci_fail_value(err, OCI_EINVAL, "URI", s, len,
                          "invalid character %s at offset %zu in scheme "
                          "(a URI starts with scheme \":\")",
                          QCHAR(c, s, i), i);
  *after = i + 1;
  return 0;
}

int oci_check_uri(const char *s, size_t len, oci_error *err) {
  oci_error_reset(err);
  size_t i = 0, hash, query, path;
  int rc;
  if (len == 0)
    return oci_fail_value(err, OCI_EINVAL, "URI", s, len, "is empty");
  rc = uri_scheme(s, len, &i, err);
  if (rc) return rc;
  hash = find_any(s, i, len, "#");
  query = find_any(s, i, hash, "?");
  path = i;
  if (query - i >= 2 && s[i] == '/' && s[i + 1] == '/') { /* "//" authority */
    path = find_any(s, i + 2, query, "/");
    rc = uri_authority(s, len, i + 2, path, err);
    if (rc) return rc;
  }
  rc = uri_scan(s, len, path, query, ":@/", "path", err);
  if (!rc && query < hash)
    rc = uri_scan(s, len, query + 1, hash, ":@/?", "query", err);
  if (!rc && hash < len)
    rc = uri_scan(s, len, hash + 1, len, ":@/?", "fragment", err);
  return rc;
}

/* ------------------------------------------------------------------ */
/* date-time: I-CFG-4, image-spec config.md:97, RFC 3339 section 5.6   */

/* Matches s[off...] against tmpl: '0' a digit, 'T' "T" or "t" (RFC 3339
   5.6 NOTE), anything else itself. */
static int match_template(const char *s, size_t len, size_t off,
                          const char *tmpl, oci_error *err) {
  char c[OCI_QUOTE_SIZE];
  size_t k;
  for (k = 0; tmpl[k]; k++) {
    size_t i = off + k;
    unsigned char ch = i < len ? (unsigned char)s[i] : 0;
    bool ok = tmpl[k] == '0'   ? oci_ascii_digit(ch)
              : tmpl[k] == 'T' ? (ch == 'T' || ch == 't')
                               : ch == (unsigned char)tmpl[k];
    if (ok) continue;
    if (i >= len)
      return oci_fail_value(err, OCI_EINVAL, "date-time", s, len,
                            "ends at offset %zu, expected "
                            "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)",
                            i);
    return oci_fail_value(err, OCI_EINVAL, "date-time", s, len,
                          "expected %s at offset %zu, got %s",
                          tmpl[k] == '0'   ? "a digit"
                          : tmpl[k] == 'T' ? "\"T\" between date and time"
                          : tmpl[k] == ':' ? "\":\""
                                           : "\"-\"",
                          i, QCHAR(c, s, i));
  }
  return 0;
}

static int num_at(const char *s, size_t off, size_t n) {
  int v = 0;
  while (n--)
    v = v * 10 + (s[off++] - '0');
  return v;
}

static int days_in_month(int year, int month) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
  return month == 2 && leap ? 29 : days[month - 1];
}

/* One range check of RFC 3339 5.6/5.7: name is in [lo, hi]. */
static int in_range(const char *s, size_t len, const char *name, int v, int lo,
                    int hi, oci_error *err) {
  if (v >= lo && v <= hi) return 0;
  return oci_fail_value(err, OCI_EINVAL, "date-time", s, len,
                        "%s %02d out of range %02d-%02d", name, v, lo, hi);
}

static int check_date_values(const char *s, size_t len, oci_error *err) {
  int year = num_at(s, 0, 4), month = num_at(s, 5, 2), day = num_at(s, 8, 2);
  int rc = in_range(s, len, "month", month, 1, 12, err);
  if (!rc)
    rc = in_range(s, len, "day", day, 1, days_in_month(year, month), err);
  if (!rc) rc = in_range(s, len, "hour", num_at(s, 11, 2), 0, 23, err);
  if (!rc) rc = in_range(s, len, "minute", num_at(s, 14, 2), 0, 59, err);
  /* 60 is a leap second (RFC 3339 5.7); which minutes may hold one is
     decided by IERS tables no validator can know in advance. */
  if (!rc) rc = in_range(s, len, "second", num_at(s, 17, 2), 0, 60, err);
  return rc;
}

/* time-offset = "Z" / ("+" / "-") time-hour ":" time-minute */
static int check_offset(const char *s, size_t len, size_t i, oci_error *err) {
  char c[OCI_QUOTE_SIZE];
  int rc;
  if (i == len)
    return oci_fail_value(err, OCI_EINVAL, "date-time", s, len,
                          "missing time offset (\"Z\", +hh:mm or -hh:mm)");
  if (s[i] == 'Z' || s[i] == 'z') {
    i++;
  } else if (s[i] == '+' || s[i] == '-') {
    rc = match_template(s, len, i + 1, "00:00", err);
    if (!rc)
      rc = in_range(s, len, "offset hour", num_at(s, i + 1, 2), 0, 23, err);
    if (!rc)
      rc = in_range(s, len, "offset minute", num_at(s, i + 4, 2), 0, 59, err);
    if (rc) return rc;
    i += 6;
  } else {
    return oci_fail_value(err, OCI_EINVAL, "date-time", s, len,
                          "expected time offset (\"Z\", +hh:mm or -hh:mm) at "
                          "offset %zu, got %s",
                          i, QCHAR(c, s, i));
  }
  if (i < len)
    return oci_fail_value(err, OCI_EINVAL, "date-time", s, len,
                          "unexpected %s at offset %zu after the time offset",
                          QCHAR(c, s, i), i);
  return 0;
}

int oci_check_rfc3339(const char *s, size_t len, oci_error *err) {
  oci_error_reset(err);
  size_t i = 19;
  int rc = match_template(s, len, 0, "0000-00-00T00:00:00", err);
  if (!rc) rc = check_date_values(s, len, err);
  if (rc) return rc;
  if (i < len && s[i] == '.') { /* time-secfrac = "." 1*DIGIT */
    size_t start = ++i;
    while (i < len && oci_ascii_digit((unsigned char)s[i]))
      i++;
    if (i == start)
      return oci_fail_value(err, OCI_EINVAL, "date-time", s, len,
                            "fraction of a second after \".\" at offset %zu "
                            "has no digits",
                            start - 1);
  }
  return check_offset(s, len, i, err);
}

/* ------------------------------------------------------------------ */
/* SemVer 2.0.0 (semver.org, section 2, 9, 10 and its BNF): R-CFG-2,   */
/* runtime-spec config.md:17                                           */

typedef struct semver_parts {
  size_t core[3][2]; /* [start, end) of major, minor, patch */
  size_t pre[2];     /* pre-release identifiers, pre[0] == pre[1] if none */
  bool has_pre;
} semver_parts;

static const char *const semver_core_names[3] = {"major", "minor", "patch"};

static int semver_core(const char *s, size_t len, size_t *i, semver_parts *p,
                       oci_error *err) {
  int k;
  for (k = 0; k < 3; k++) {
    size_t start = *i;
    if (k && (*i == len || s[(*i)++] != '.'))
      return oci_fail_value(err, OCI_EINVAL, "version", s, len,
                            "expected \".\" and the %s version at offset %zu",
                            semver_core_names[k], start);
    start = *i;
    while (*i < len && oci_ascii_digit((unsigned char)s[*i]))
      (*i)++;
    if (*i == start)
      return oci_fail_value(err, OCI_EINVAL, "version", s, len,
                            "%s version at offset %zu must be digits",
                            semver_core_names[k], start);
    if (*i - start > 1 && s[start] == '0')
      return oci_fail_value(err, OCI_EINVAL, "version", s, len,
                            "%s version at offset %zu has a leading zero",
                            semver_core_names[k], start);
    p->core[k][0] = start;
    p->core[k][1] = *i;
  }
  return 0;
}

static bool all_digits(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (!oci_ascii_digit((unsigned char)s[i])) return false;
  return true;
}

/* Dot-separated identifiers of [0-9A-Za-z-], non-empty; in a pre-release a
   numeric identifier has no leading zero and "+" (the build) ends the list;
   build identifiers run to the end. */
static int semver_idents(const char *s, size_t len, size_t *i, bool prerelease,
                         oci_error *err) {
  const char *part = prerelease ? "pre-release" : "build";
  char c[OCI_QUOTE_SIZE];
  for (;;) {
    size_t start = *i;
    bool at_stop;
    while (*i < len && (oci_ascii_alnum((unsigned char)s[*i]) || s[*i] == '-'))
      (*i)++;
    at_stop = *i == len || (prerelease && s[*i] == '+');
    if (*i == start && (at_stop || s[*i] == '.'))
      return oci_fail_value(err, OCI_EINVAL, "version", s, len,
                            "empty %s identifier at offset %zu", part, start);
    if (prerelease && *i - start > 1 && s[start] == '0' &&
        all_digits(s + start, *i - start))
      return oci_fail_value(err, OCI_EINVAL, "version", s, len,
                            "numeric %s identifier at offset %zu has a "
                            "leading zero",
                            part, start);
    if (at_stop) return 0;
    if (s[*i] != '.')
      return oci_fail_value(err, OCI_EINVAL, "version", s, len,
                            "invalid character %s at offset %zu in %s "
                            "(allowed: 0-9 A-Z a-z - and \".\")",
                            QCHAR(c, s, *i), *i, part);
    (*i)++;
  }
}

static int semver_parse(const char *s, size_t len, semver_parts *p,
                        oci_error *err) {
  char c[OCI_QUOTE_SIZE];
  size_t i = 0;
  int rc = semver_core(s, len, &i, p, err);
  if (rc) return rc;
  p->has_pre = false;
  p->pre[0] = p->pre[1] = i;
  if (i < len && s[i] == '-') {
    p->has_pre = true;
    p->pre[0] = ++i;
    rc = semver_idents(s, len, &i, true, err);
    if (rc) return rc;
    p->pre[1] = i;
  }
  if (i < len && s[i] == '+') {
    i++;
    /* build identifiers may have leading zeros (SemVer section 10) */
    return semver_idents(s, len, &i, false, err);
  }
  if (i < len)
    return oci_fail_value(err, OCI_EINVAL, "version", s, len,
                          "unexpected %s at offset %zu (expected \"-\", "
                          "\"+\" or the end)",
                          QCHAR(c, s, i), i);
  return 0;
}

int oci_check_semver(const char *s, size_t len, oci_error *err) {
  oci_error_reset(err);
  semver_parts p;
  return semver_parse(s, len, &p, err);
}

static int sign(int v) {
  return (v > 0) - (v < 0);
}

/* Numbers without leading zeros: the longer is larger, else by bytes. */
static int cmp_numeric(const char *a, size_t an, const char *b, size_t bn) {
  if (an != bn) return an < bn ? -1 : 1;
  return sign(memcmp(a, b, an));
}

/* ASCII order; a proper prefix sorts first. */
static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn) {
  int r = memcmp(a, b, an < bn ? an : bn);
  if (r) return sign(r);
  return an == bn ? 0 : (an < bn ? -1 : 1);
}

/* SemVer 11.4.1-3: numeric identifiers numerically and below alphanumeric
   ones, alphanumeric ones in ASCII order. */
static int cmp_ident(const char *a, size_t an, const char *b, size_t bn) {
  bool na = all_digits(a, an), nb = all_digits(b, bn);
  if (na && nb) return cmp_numeric(a, an, b, bn);
  if (na != nb) return na ? -1 : 1;
  return cmp_bytes(a, an, b, bn);
}

/* SemVer 11.4.4: identifier by identifier; more identifiers sort higher. */
static int cmp_prerelease(const char *a, size_t an, const char *b, size_t bn) {
  size_t i = 0, j = 0;
  while (i < an && j < bn) {
    size_t ie = i, je = j;
    int r;
    while (ie < an && a[ie] != '.')
      ie++;
    while (je < bn && b[je] != '.')
      je++;
    r = cmp_ident(a + i, ie - i, b + j, je - j);
    if (r) return r;
    i = ie + 1;
    j = je + 1;
  }
  if (i < an) return 1;
  if (j < bn) return -1;
  return 0;
}

int oci_semver_compare(const char *a, size_t alen, const char *b, size_t blen) {
  semver_parts pa, pb;
  bool va = semver_parse(a, alen, &pa, NULL) == 0;
  bool vb = semver_parse(b, blen, &pb, NULL) == 0;
  int k, r;
  if (!va || !vb) return va == vb ? cmp_bytes(a, alen, b, blen) : (va ? 1 : -1);
  for (k = 0; k < 3; k++) {
    r = cmp_numeric(a + pa.core[k][0], pa.core[k][1] - pa.core[k][0],
                    b + pb.core[k][0], pb.core[k][1] - pb.core[k][0]);
    if (r) return r;
  }
  /* SemVer 11.3: a pre-release sorts before its normal version. */
  if (pa.has_pre != pb.has_pre) return pa.has_pre ? -1 : 1;
  return cmp_prerelease(a + pa.pre[0], pa.pre[1] - pa.pre[0], b + pb.pre[0],
                        pb.pre[1] - pb.pre[0]);
}

/* ------------------------------------------------------------------ */
/* Repository name: D-NAME-1, distribution-spec spec.md:151            */

static bool name_word(unsigned char c) {
  return oci_ascii_digit(c) || oci_ascii_lower(c);
}

/* "/" joins path components; within one, (\.|_|__|-+) joins [a-z0-9]+.
   Treating "/" as one more separator gives the same language. */
static size_t name_separator(const char *s, size_t n) {
  size_t k = 0;
  if (s[0] == '/' || s[0] == '.') return 1;
  if (s[0] == '_') return n >= 2 && s[1] == '_' ? 2 : 1;
  while (k < n && s[k] == '-')
    k++;
  return k;
}

int oci_check_repository_name(const char *s, size_t len, oci_error *err) {
  oci_error_reset(err);
  static const oci_word_grammar g = {name_word, name_separator};
  size_t pos;
  oci_word_fail f = oci_scan_words(s, len, &g, &pos);
  if (f == OCI_WORDS_OK) return 0;
  return words_fail(err, "repository name", s, len, f, pos,
                    "[a-z0-9] joined by \".\", \"_\", \"__\", \"-\"... "
                    "and \"/\"");
}

/* ------------------------------------------------------------------ */
/* Tag: D-TAG-1, distribution-spec spec.md:160                         */

static bool tag_char(unsigned char c) {
  return oci_ascii_alnum(c) || c == '_' || c == '.' || c == '-';
}

int oci_check_tag(const char *s, size_t len, oci_error *err) {
  oci_error_reset(err);
  char c[OCI_QUOTE_SIZE];
  size_t i;
  if (len == 0)
    return oci_fail_value(err, OCI_EINVAL, "tag", s, len, "is empty");
  if (s[0] == '.' || s[0] == '-' || !tag_char((unsigned char)s[0]))
    return oci_fail_value(err, OCI_EINVAL, "tag", s, len,
                          "must start with a letter, digit or \"_\", got %s",
                          QCHAR(c, s, 0));
  for (i = 1; i < len; i++)
    if (!tag_char((unsigned char)s[i]))
      return oci_fail_value(err, OCI_EINVAL, "tag", s, len,
                            "invalid character %s at offset %zu (allowed: "
                            "A-Z a-z 0-9 _ . -)",
                            QCHAR(c, s, i), i);
  if (len > 128)
    return oci_fail_value(err, OCI_EINVAL, "tag", s, len,
                          "is %zu characters, at most 128 allowed", len);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Registry host (docker/distribution reference grammar, the domain     */
/* part of an image reference; IPv6 per RFC 3986 3.2.2)                 */

/* One host component: [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static int host_component(const char *s, size_t len, size_t *i,
                          oci_error *err) {
  char c[OCI_QUOTE_SIZE];
  size_t start = *i;
  while (*i < len && (oci_ascii_alnum((unsigned char)s[*i]) || s[*i] == '-'))
    (*i)++;
  if (*i == start)
    return *i < len && s[*i] != '.' && s[*i] != ':'
               ? oci_fail_value(err, OCI_EINVAL, "registry host", s, len,
                                "invalid character %s at offset %zu",
                                QCHAR(c, s, *i), *i)
               : oci_fail_value(err, OCI_EINVAL, "registry host", s, len,
                                "empty host component at offset %zu", start);
  if (s[start] == '-' || s[*i - 1] == '-')
    return oci_fail_value(err, OCI_EINVAL, "registry host", s, len,
                          "host component at offset %zu must not start or "
                          "end with \"-\"",
                          start);
  return 0;
}

static int host_name_or_ip(const char *s, size_t len, size_t *i,
                           oci_error *err) {
  int rc;
  if (s[0] == '[') {
    const char *close = memchr(s, ']', len);
    char q[OCI_QUOTE_SIZE];
    if (!close)
      return oci_fail_value(err, OCI_EINVAL, "registry host", s, len,
                            "\"[\" has no closing \"]\"");
    *i = (size_t)(close - s);
    if (!ipv6_ok(s + 1, *i - 1))
      return oci_fail_value(err, OCI_EINVAL, "registry host", s, len,
                            "%s is not an IPv6 address",
                            oci_quote(q, sizeof q, s + 1, *i - 1));
    (*i)++;
    return 0;
  }
  for (;;) {
    rc = host_component(s, len, i, err);
    if (rc || *i == len || s[*i] != '.') return rc;
    (*i)++;
  }
}

int oci_check_registry_host(const char *s, size_t len, oci_error *err) {
  oci_error_reset(err);
  char c[OCI_QUOTE_SIZE];
  size_t i = 0, port;
  int rc;
  if (len == 0)
    return oci_fail_value(err, OCI_EINVAL, "registry host", s, len, "is empty");
  rc = host_name_or_ip(s, len, &i, err);
  if (rc || i == len) return rc;
  if (s[i] != ':')
    return oci_fail_value(err, OCI_EINVAL, "registry host", s, len,
                          "invalid character %s at offset %zu", QCHAR(c, s, i),
                          i);
  port = ++i;
  while (i < len && oci_ascii_digit((unsigned char)s[i]))
    i++;
  if (i == port || i < len)
    return oci_fail_value(err, OCI_EINVAL, "registry host", s, len,
                          "port after \":\" at offset %zu must be digits",
                          port - 1);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Ref name annotation: I-ANN-6, image-spec annotations.md:36-43       */

static bool ref_word(unsigned char c) {
  return oci_ascii_alnum(c);
}

/* separator ::= [-._:@+] | "--"; "/" joins components like a separator */
static size_t ref_separator(const char *s, size_t n) {
  if (n >= 2 && s[0] == '-' && s[1] == '-') return 2;
  return s[0] != 0 && strchr("-._:@+/", s[0]) ? 1 : 0;
}

int oci_check_ref_name_annotation(const char *s, size_t len, oci_error *err) {
  oci_error_reset(err);
  static const oci_word_grammar g = {ref_word, ref_separator};
  size_t pos;
  oci_word_fail f = oci_scan_words(s, len, &g, &pos);
  if (f == OCI_WORDS_OK) return 0;
  return words_fail(err, "ref name", s, len, f, pos,
                    "[A-Za-z0-9] joined by one of - . _ : @ +, \"--\" or "
                    "\"/\"");
}

/* ------------------------------------------------------------------ */
/* Error codes: D-ERR-2 spec.md:879, D-ERR-3 spec.md:883-900           */

#define ERROR_CODE_VALUE_(id, key, value) value,
const char *const oci_error_codes[OCI_ERROR_CODE_COUNT] = {
    OCI_VALUES_ERROR_CODE(ERROR_CODE_VALUE_)};

int oci_check_error_code(const char *s, size_t len, oci_error *err) {
  oci_error_reset(err);
  char c[OCI_QUOTE_SIZE];
  size_t i;
  if (len == 0)
    return oci_fail_value(err, OCI_EINVAL, "error code", s, len, "is empty");
  for (i = 0; i < len; i++)
    if (!oci_ascii_upper((unsigned char)s[i]) && s[i] != '_')
      return oci_fail_value(err, OCI_EINVAL, "error code", s, len,
                            "invalid character %s at offset %zu (only A-Z "
                            "and \"_\" are allowed)",
                            QCHAR(c, s, i), i);
  return 0;
}

bool oci_error_code_is_known(const char *s, size_t len) {
  return oci_enum_has_n(OCI_ENUM_ERROR_CODE, s, len);
}

/* ------------------------------------------------------------------ */
/* Env entries (I-CFG-7, image-spec config.md:154) and absolute paths  */

static int refuse_nul(const char *what, const char *s, size_t len,
                      oci_error *err) {
  const char *nul = len ? memchr(s, '\0', len) : NULL;
  if (!nul) return 0;
  return oci_fail_value(err, OCI_EINVAL, what, s, len, "NUL byte at offset %zu",
                        (size_t)(nul - s));
}

int oci_check_env_entry(const char *s, size_t len, oci_error *err) {
  oci_error_reset(err);
  const char *eq = len ? memchr(s, '=', len) : NULL;
  if (!eq)
    return oci_fail_value(err, OCI_EINVAL, "environment entry", s, len,
                          "missing \"=\" (expected VARNAME=VARVALUE)");
  if (eq == s)
    return oci_fail_value(err, OCI_EINVAL, "environment entry", s, len,
                          "variable name before \"=\" is empty");
  return refuse_nul("environment entry", s, len, err);
}

int oci_check_absolute_path(const char *s, size_t len, oci_error *err) {
  oci_error_reset(err);
  if (len == 0 || s[0] != '/')
    return oci_fail_value(err, OCI_EINVAL, "path", s, len,
                          "must be absolute (start with \"/\")");
  return refuse_nul("path", s, len, err);
}
