/* The schema-driven JSON writer: one growing buffer, fields in declaration
   order, maps in their stored order, unknown members after the known ones.
   Pretty output is serde_json's: 2-space indent, "key": value, no trailing
   newline, so documents match what oci-spec-rs writes byte for byte. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ocispec/schema.h"
#include "swar.h"

/* The writer keeps its output position in a local cursor (`char *p`,
   passed to and returned by every write function) and checks the room
   left once per member or element, for all of its fixed parts at once
   (separator, indentation, key, a scalar value, or a string's length plus
   slack), so each byte or word after that is a plain store. The cursor is
   a local so that the compiler keeps it in a register: char stores may
   alias any memory, so a position kept in the struct (b.len) was reloaded
   and stored again around every store. b.len is brought up to date only
   when the buffer grows, around raw text and at the end.

   A write function returns the cursor after what it wrote, or NULL when
   the buffer could not grow (b.failed is set then): its callers stop at
   once and oci_to_json reports out of memory. The nesting depth (for
   pretty output) is a parameter and `pretty` is read once per container
   into a local, for the same reason: in the struct they were reloaded
   after every store. */
typedef struct writer {
  oci_buf b;
  char *lim; /* b.data + b.cap */
  bool pretty;
  bool bad; /* a string, key or raw value that is not valid (UTF-8) JSON */
} writer;

/* Room a write_value caller reserves before it: any scalar (null, true,
   false, an integer of up to 20 digits and its sign) fits, and so do an
   object's or array's opening bracket and "{}". */
#define VALUE_ROOM 24
/* Room a string of n bytes needs: its quotes and 16 bytes of slack, so
   the string loop can store whole 16- or 8-byte steps. */
#define STR_ROOM(n) ((n) + 2 + 16)

static __attribute__((noinline)) char *grow(writer *w, char *p, size_t n) {
  w->b.len = (size_t)(p - w->b.data);
  if (!oci_buf_reserve(&w->b, n)) return NULL;
  w->lim = w->b.data + w->b.cap;
  return w->b.data + w->b.len;
}

/* The cursor with at least n bytes of room after it (the buffer may have
   moved), or NULL when the buffer cannot grow. */
static inline __attribute__((always_inline)) char *need(writer *w, char *p,
                                                        size_t n) {
  return (size_t)(w->lim - p) >= n ? p : grow(w, p, n);
}

/* A member or element separator: ',' unless first, then in pretty output
   a line break and the indentation of the current depth. */
static inline size_t sep_room(bool pretty, unsigned depth) {
  return pretty ? 2 + 2 * (size_t)depth : 1;
}
static inline char *put_newline(char *p, unsigned depth) {
  *p++ = '\n';
  memset(p, ' ', 2 * (size_t)depth);
  return p + 2 * (size_t)depth;
}
static inline __attribute__((always_inline)) char *
put_sep(char *p, bool first, bool pretty, unsigned depth) {
  *p = ',';
  p += !first;
  return pretty ? put_newline(p, depth) : p;
}

/* Closing a container whose members were at depth `depth`. */
static inline char *close_container(writer *w, char *p, char c, bool empty,
                                    bool pretty, unsigned depth) {
  if (!(p = need(w, p, sep_room(pretty, depth - 1)))) return NULL;
  if (!empty && pretty) p = put_newline(p, depth - 1);
  *p++ = c;
  return p;
}

/* ---- integers ----------------------------------------------------------- */

/* Two digits per division, written backwards straight into the buffer. */
static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536"
    "37383940414243444546474849505152535455565758596061626364656667686970717273"
    "7475767778798081828384858687888990919293949596979899";

/* Decimal digits of v: log10 from the bit length (1233/4096 ~ log10 2),
   corrected by one comparison. Was a loop dividing by 10000. */
static inline size_t dec_len(uint64_t v) {
  static const uint64_t pow10[20] = {1ull,
                                     10ull,
                                     100ull,
                                     1000ull,
                                     10000ull,
                                     100000ull,
                                     1000000ull,
                                     10000000ull,
                                     100000000ull,
                                     1000000000ull,
                                     10000000000ull,
                                     100000000000ull,
                                     1000000000000ull,
                                     10000000000000ull,
                                     100000000000000ull,
                                     1000000000000000ull,
                                     10000000000000000ull,
                                     100000000000000000ull,
                                     1000000000000000000ull,
                                     10000000000000000000ull};
  /* v | 1: 0 has one digit, and no other count changes (10, 100, ...
     are even: an even v below one of them stays below it plus one) */
  v |= 1;
  size_t t = ((size_t)(64 - __builtin_clzll(v)) * 1233) >> 12;
  return t + 1 - (v < pow10[t]);
}

/* Four digits per division by 10000 (their two pairs do not wait on the
   next division), then pairs. */
static inline void put_dec(char *end, uint64_t v) {
  while (v >= 10000) {
    uint32_t r = (uint32_t)(v % 10000);
    v /= 10000;
    end -= 4;
    memcpy(end, digits2 + (r / 100) * 2, 2);
    memcpy(end + 2, digits2 + (r % 100) * 2, 2);
  }
  uint32_t w = (uint32_t)v;
  if (w >= 100) {
    end -= 2;
    memcpy(end, digits2 + (w % 100) * 2, 2);
    w /= 100;
  }
  if (w >= 10) {
    end -= 2;
    memcpy(end, digits2 + w * 2, 2);
  } else
    *--end = (char)('0' + w);
}

/* At most 20 digits (21 bytes with a sign): inside VALUE_ROOM. */
static char *put_u64(char *p, uint64_t v) {
  size_t n = dec_len(v);
  put_dec(p + n, v);
  return p + n;
}
static char *put_i64(char *p, int64_t v) {
  if (v >= 0) return put_u64(p, (uint64_t)v);
  *p++ = '-';
  return put_u64(p, 0 - (uint64_t)v);
}

/* ---- strings ------------------------------------------------------------ */

/* 0: copy as is; otherwise the escape letter, or 'u' for \u00XX. */
static const char esc_tab[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b',  't', 'n', 'u', 'f', 'r',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',  'u', 'u', 'u', 'u', 'u',
    'u', 'u', 'u', 'u', 0,   0,   '"', 0,   0,    0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,    0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,    0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,    0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   '\\',
};

/* High bit set in the bytes of w that JSON needs escaped: '"', '\\' and
   control characters. The lowest flagged byte is exact (borrows only go
   upward out of a true hit); only that one is used. */
static inline uint64_t esc_special(uint64_t w) {
  uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
  return ((w - ONES * 0x20) | (q - ONES) | (b - ONES)) & ~w & HIGHS;
}

#if OCI_SWAR
/* The n < 8 bytes of a short string in the low bytes of a word (the rest
   zero), read without touching a byte outside s[0..n): two overlapping
   4-byte loads, or three single bytes. */
static inline uint64_t short_word(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  if (n >= 4) {
    uint32_t lo, hi;
    memcpy(&lo, s, 4);
    memcpy(&hi, s + n - 4, 4);
    return lo | (uint64_t)hi << (8 * (n - 4));
  }
  if (!n) return 0;
  return u[0] | (uint64_t)u[n >> 1] << (8 * (n >> 1)) |
         (uint64_t)u[n - 1] << (8 * (n - 1));
}
#endif

/* A quoted, escaped string at p, which has STR_ROOM(n) bytes of room; on
   return at least 16 bytes of room are left after the cursor. One pass:
   8 bytes are copied to the output and tested at once; most strings
   (digests, media types, paths) have nothing to escape and go through in
   n/8 steps. An escape (rare) checks the room again for its 6 bytes and
   the rest of the string.
   The tail (< 8 bytes) is tested as one word too: the string's last 8
   bytes (overlapping what was done) when it has 8, else its bytes
   gathered by short_word; a flag there (possibly spurious) sends it to
   the byte loop. Nothing outside s[0..n) is read.
   With SSE2, 16 bytes at a time before the words. Invariant: from o, at
   least (end - s) + 1 + 16 bytes of room. Invalid UTF-8 sets w->bad (the
   string is written anyway; the caller discards the text). */
static inline __attribute__((always_inline)) char *
str_body(writer *w, char *o, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const char *const start = s, *end = s + n;
  /* UTF-8: the words scanned are OR-ed together; a string with no byte
     >= 0x80 (the usual case: digests, media types, paths) is ASCII and
     valid as it is. Otherwise, or when the byte loop ran, one validating
     pass follows. */
  uint64_t seen = 0;
  *o++ = '"';
#if OCI_SWAR
  if (n < 8) {
    uint64_t x = short_word(s, n);
    if (!(esc_special(x) & ((1ull << (8 * n)) - 1))) {
      memcpy(o, &x, 8);
      o += n;
      seen = x;
      goto done;
    }
  }
#else
  seen = HIGHS;
#endif
  for (;;) {
#if OCI_SSE2
    unsigned high = 0; /* movemask of every 16 bytes scanned: non-ASCII? */
    while (end - s >= 16) {
      __m128i x = _mm_loadu_si128((const __m128i *)s);
      _mm_storeu_si128((__m128i *)(void *)o, x);
      high |= (unsigned)_mm_movemask_epi8(x);
      /* '"', '\\' and x <= 0x1f (unsigned: min(x, 0x1f) == x) */
      __m128i e =
          _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                    _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                       _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x));
      unsigned m = (unsigned)_mm_movemask_epi8(e);
      if (m) {
        size_t k = (size_t)__builtin_ctz(m);
        s += k;
        o += k;
        if (high) seen = HIGHS;
        goto escape;
      }
      s += 16;
      o += 16;
    }
    if (high) seen = HIGHS;
#endif
#if OCI_SWAR
    while (end - s >= 8) {
      uint64_t x = load8(s);
      memcpy(o, &x, 8);
      seen |= x;
      uint64_t m = esc_special(x);
      if (m) {
        size_t k = (size_t)__builtin_ctzll(m) >> 3;
        s += k;
        o += k;
        goto escape;
      }
      s += 8;
      o += 8;
    }
    if (s < end && n >= 8) {
      size_t rem = (size_t)(end - s); /* 1..7 */
      uint64_t x = load8(end - 8);
      unsigned drop = 8 * (unsigned)(8 - rem);
      if (!(esc_special(x) >> drop)) {
        seen |= x;
        x >>= drop;
        memcpy(o, &x, 8);
        o += rem;
        break;
      }
    }
#endif
    if (s < end) seen = HIGHS; /* the byte loop: validate the whole string */
    while (s < end && !esc_tab[(unsigned char)*s])
      *o++ = *s++;
    if (s >= end) break;
#if OCI_SWAR
  escape:
#endif
    if (!(o = need(w, o, 6 + (size_t)(end - s) + 16))) return NULL;
    unsigned char c = (unsigned char)*s++;
    char e = esc_tab[c];
    *o++ = '\\';
    if (e == 'u') {
      o[0] = 'u';
      o[1] = '0';
      o[2] = '0';
      o[3] = hex[c >> 4];
      o[4] = hex[c & 15];
      o += 5;
    } else
      *o++ = e;
  }
#if OCI_SWAR
done:
#endif
  *o++ = '"';
  if ((seen & HIGHS) && !oci_utf8_valid(start, n)) w->bad = true;
  return o;
}

/* A string value at p (room: VALUE_ROOM); NULL is written as "". */
static inline __attribute__((always_inline)) char *write_str(writer *w, char *p,
                                                             const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (!(p = need(w, p, STR_ROOM(n)))) return NULL;
  return str_body(w, p, s ? s : "", n);
}

/* ---- raw text ----------------------------------------------------------- */

/* Raw JSON text of a RAW field, an unknown member or a set value. Parsed
   documents only hold valid, compact text there, but a C caller can
   assign anything: text that is not one JSON value (or not UTF-8) is not
   written (the pretty re-indenter would walk past its end) and fails the
   whole write. Raw values are rare (unknown members, free-form fields);
   the check is one validating scan of their bytes. */
/* A raw value may be as deep as any document the parser accepts (up to
   the hard limit) and as large as memory allows: the writer only refuses
   text that is not one JSON value. */
static int raw_check(const char *raw) {
  static const oci_parse_options any = {OCI_PARSE_OPTIONS_VERSION,
                                        OCI_MAX_DEPTH_LIMIT,
                                        SIZE_MAX,
                                        SIZE_MAX,
                                        false,
                                        false};
  oci_error e;
  int rc = oci_json_check(raw, strlen(raw), &any, &e);
  return rc == OCI_OK || rc == OCI_ENOMEM ? rc : OCI_ESYNTAX;
}

/* Raw text through the oci_buf writer: b.len is brought up to date
   first and the cursor taken back after. */
static char *put_raw(writer *w, char *p, const char *raw, unsigned depth) {
  w->b.len = (size_t)(p - w->b.data);
  oci_json_write_raw(&w->b, raw, w->pretty, depth);
  if (w->b.failed) return NULL;
  w->lim = w->b.data + w->b.cap;
  return w->b.data + w->b.len;
}

/* raw NULL: `absent` (our own constant text, "{}" or "null"), unchecked. */
static char *write_raw_checked(writer *w, char *p, const char *raw,
                               const char *absent, unsigned depth) {
  if (!raw) return put_raw(w, p, absent, depth);
  int rc = raw_check(raw);
  if (rc == OCI_ENOMEM) {
    w->b.failed = true;
    return NULL;
  }
  if (rc) {
    w->bad = true;
    if (!(p = need(w, p, 4))) return NULL;
    memcpy(p, "null", 4);
    return p + 4;
  }
  return put_raw(w, p, raw, depth);
}

/* ---- values ------------------------------------------------------------- */

static char *write_double(writer *w, char *p, double v) {
  char buf[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  /* snprintf follows the C locale's decimal point; JSON wants '.'. */
  const char *dp = localeconv()->decimal_point;
  if (dp && dp[0] && dp[0] != '.' && !dp[1]) {
    char *c = strchr(buf, dp[0]);
    if (c) *c = '.';
  }
  size_t n = strlen(buf);
  if (!(p = need(w, p, n))) return NULL;
  memcpy(p, buf, n);
  return p + n;
}

static char *write_value(writer *w, char *p, const oci_vtype *vt, const void *v,
                         unsigned depth);

/* A declared key from the type's compile-time table: quoted, with its
   colon (and the space of pretty output), padded to 40 bytes, so it goes
   out as one fixed-size copy of all 40 (a few vector moves, no loop, no
   escaping scan) and the cursor moves by the key's length. The caller
   has checked the room for all 40. */
static inline char *put_fast_key(char *p, const oci_field_fast *ff,
                                 bool pretty) {
  memcpy(p, ff->quoted, OCI_QUOTED_KEY_MAX);
  return p + ff->len + 3 + pretty;
}

/* Separator and a key that is not in a codec table (hand-declared types,
   unknown members, map keys), escaped; then room for VALUE_ROOM. */
static char *put_sep_key(writer *w, char *p, bool first, const char *k,
                         bool pretty, unsigned depth) {
  size_t n = strlen(k);
  if (!(p = need(w, p, sep_room(pretty, depth) + STR_ROOM(n)))) return NULL;
  p = put_sep(p, first, pretty, depth);
  if (!(p = str_body(w, p, k, n))) return NULL;
  /* 16 bytes of room are left after a string */
  *p++ = ':';
  if (pretty) *p++ = ' ';
  return need(w, p, VALUE_ROOM);
}

/* One declared member's value (its key is written; room: VALUE_ROOM). */
static inline __attribute__((always_inline)) char *
write_member_value(writer *w, char *p, const oci_field *f, const oci_object *o,
                   uint32_t bit, unsigned depth) {
  if (o->nulls & bit) {
    memcpy(p, "null", 4);
    return p + 4;
  }
  return write_value(w, p, f->vt, (const char *)o + f->offset, depth);
}

/* An object at p (room: VALUE_ROOM), its members at depth `depth`. */
static char *write_object(writer *w, char *p, const oci_type *t,
                          const oci_object *o, unsigned depth) {
  bool first = true;
  const bool pretty = w->pretty;
  const oci_field_fast *fast = oci_type_fast(t);
  *p++ = '{';
  if (fast) {
    /* A type of types.def: field i has presence bit i (its OCI_F_ index),
       so only the present members are visited, in declaration order
       (runtime types declare many optional members and set few). Bits
       past nfields (a C caller's stray bits) are ignored, as below. One
       room check per member covers its separator, its key and its value
       (a string's length is known before: one check for all of it). */
    uint32_t m = o->present;
    if (t->nfields < 32) m &= ((uint32_t)1 << t->nfields) - 1;
    for (; m; m &= m - 1) {
      size_t i = (size_t)__builtin_ctz(m);
      uint32_t bit = m & (0 - m);
      const oci_field *f = &t->fields[i];
      size_t fixed = sep_room(pretty, depth) + OCI_QUOTED_KEY_MAX;
      if (!(o->nulls & bit) && f->vt->kind == OCI_K_STRING) {
        /* the common member, inline */
        const char *s = *(char *const *)((const char *)o + f->offset);
        size_t n = s ? strlen(s) : 0;
        if (!(p = need(w, p, fixed + STR_ROOM(n)))) return NULL;
        p = put_sep(p, first, pretty, depth);
        p = put_fast_key(p, &fast[i], pretty);
        if (!(p = str_body(w, p, s ? s : "", n))) return NULL;
      } else {
        if (!(p = need(w, p, fixed + VALUE_ROOM))) return NULL;
        p = put_sep(p, first, pretty, depth);
        p = put_fast_key(p, &fast[i], pretty);
        if (!(p = write_member_value(w, p, f, o, bit, depth))) return NULL;
      }
      first = false;
    }
  } else
    for (size_t i = 0; i < t->nfields; i++) {
      const oci_field *f = &t->fields[i];
      uint32_t bit = (uint32_t)1 << f->index;
      if (!(o->present & bit)) continue;
      if (!(p = put_sep_key(w, p, first, f->key, pretty, depth))) return NULL;
      if (!(p = write_member_value(w, p, f, o, bit, depth))) return NULL;
      first = false;
    }
  const oci_extra *x = o->extra;
  for (size_t i = 0, n = x ? x->len : 0; i < n; i++) {
    if (!(p = put_sep_key(w, p, first, x->keys[i], pretty, depth))) return NULL;
    if (!(p = write_raw_checked(w, p, x->raws[i], "null", depth))) return NULL;
    first = false;
  }
  return close_container(w, p, '}', first, pretty, depth);
}

/* An array at p (room: VALUE_ROOM), its elements at depth `depth`. */
static char *write_array(writer *w, char *p, const oci_vtype *vt,
                         const oci_array *a, unsigned depth) {
  const bool pretty = w->pretty;
  *p++ = '[';
  if (vt->elem->kind == OCI_K_STRING) /* the common array, inline */
    for (size_t i = 0; i < a->len; i++) {
      const char *s = ((char *const *)a->items)[i];
      size_t n = s ? strlen(s) : 0;
      if (!(p = need(w, p, sep_room(pretty, depth) + STR_ROOM(n)))) return NULL;
      p = put_sep(p, i == 0, pretty, depth);
      if (!(p = str_body(w, p, s ? s : "", n))) return NULL;
    }
  else {
    const char *item = a->items;
    for (size_t i = 0; i < a->len; i++, item += vt->elem->size) {
      if (!(p = need(w, p, sep_room(pretty, depth) + VALUE_ROOM))) return NULL;
      p = put_sep(p, i == 0, pretty, depth);
      if (!(p = write_value(w, p, vt->elem, item, depth))) return NULL;
    }
  }
  return close_container(w, p, ']', a->len == 0, pretty, depth);
}

/* A map or set at p (room: VALUE_ROOM), its members at depth `depth`. */
static char *write_map(writer *w, char *p, const oci_vtype *vt,
                       const oci_map *m, unsigned depth) {
  const bool pretty = w->pretty;
  bool is_set = vt->kind == OCI_K_SET;
  size_t vsize = is_set ? sizeof(char *) : vt->elem->size;
  *p++ = '{';
  for (size_t i = 0; i < m->len; i++) {
    if (!(p = put_sep_key(w, p, i == 0, m->keys[i], pretty, depth)))
      return NULL;
    const void *v = (const char *)m->values + i * vsize;
    if (is_set)
      p = write_raw_checked(w, p, *(char *const *)v, "{}", depth);
    else
      p = write_value(w, p, vt->elem, v, depth);
    if (!p) return NULL;
  }
  return close_container(w, p, '}', m->len == 0, pretty, depth);
}

/* A value at p (room: VALUE_ROOM, which covers every scalar), at depth
   `depth` (its container's members'). */
static char *write_value(writer *w, char *p, const oci_vtype *vt, const void *v,
                         unsigned depth) {
  switch (vt->kind) {
  case OCI_K_STRING: return write_str(w, p, *(char *const *)v);
  case OCI_K_BOOL:
    if (*(const bool *)v) {
      memcpy(p, "true", 4);
      return p + 4;
    }
    memcpy(p, "false", 5);
    return p + 5;
  case OCI_K_I32: return put_i64(p, *(const int32_t *)v);
  case OCI_K_U16: return put_u64(p, *(const uint16_t *)v);
  case OCI_K_U32: return put_u64(p, *(const uint32_t *)v);
  case OCI_K_I64: return put_i64(p, *(const int64_t *)v);
  case OCI_K_U64: return put_u64(p, *(const uint64_t *)v);
  case OCI_K_DOUBLE: return write_double(w, p, *(const double *)v);
  case OCI_K_RAW:
    return write_raw_checked(w, p, *(char *const *)v, "null", depth);
  case OCI_K_OBJECT: {
    const oci_object *o = *(const oci_object *const *)v;
    if (o) return write_object(w, p, vt->object, o, depth + 1);
    memcpy(p, "{}", 2);
    return p + 2;
  }
  case OCI_K_ARRAY: return write_array(w, p, vt, v, depth + 1);
  case OCI_K_MAP:
  case OCI_K_SET: return write_map(w, p, vt, v, depth + 1);
  }
  return p;
}

/* ---- finding what cannot be written ------------------------------------ */

/* The first string, key or raw value (in output order) that is not valid
   UTF-8 (raw values: not one JSON value), with its JSON Pointer in ptr and
   what it is in *what. Only run after a write failed, so the hot path
   keeps no pointer. */
static bool find_bad_value(const oci_vtype *vt, const void *p, char *ptr,
                           size_t cap, const char **what);

static bool find_bad_key(const char *k, char *ptr, size_t cap,
                         const char **what) {
  if (oci_utf8_valid(k, strlen(k))) return false;
  *what = "invalid UTF-8 in a member name of";
  (void)ptr;
  (void)cap;
  return true;
}

/* *what NULL: out of memory while checking. */
static bool find_bad_raw(const char *raw, const char **what) {
  int rc = raw_check(raw);
  if (!rc) return false;
  *what = rc == OCI_ENOMEM ? NULL
          : oci_utf8_valid(raw, strlen(raw))
              ? "not one JSON value: the raw value at"
              : "invalid UTF-8 in the raw JSON value at";
  return true;
}

static bool find_bad_object(const oci_type *t, const oci_object *o, char *ptr,
                            size_t cap, const char **what) {
  size_t base = strlen(ptr);
  for (size_t i = 0; i < t->nfields; i++) {
    const oci_field *f = &t->fields[i];
    uint64_t bit = (uint64_t)1 << f->index;
    if (!(o->present & bit) || (o->nulls & bit)) continue;
    oci_pointer_append(ptr, cap, f->key, f->key_len);
    if (find_bad_value(f->vt, (const char *)o + f->offset, ptr, cap, what))
      return true;
    ptr[base] = '\0';
  }
  const oci_extra *x = o->extra;
  for (size_t i = 0, n = x ? x->len : 0; i < n; i++) {
    const char *k = x->keys[i];
    if (find_bad_key(k, ptr, cap, what)) return true;
    oci_pointer_append(ptr, cap, k, strlen(k));
    if (x->raws[i] && find_bad_raw(x->raws[i], what)) return true;
    ptr[base] = '\0';
  }
  return false;
}

static bool find_bad_value(const oci_vtype *vt, const void *p, char *ptr,
                           size_t cap, const char **what) {
  size_t base = strlen(ptr);
  switch (vt->kind) {
  case OCI_K_STRING: {
    const char *s = *(char *const *)p;
    if (!s || oci_utf8_valid(s, strlen(s))) return false;
    *what = "invalid UTF-8 in the string at";
    return true;
  }
  case OCI_K_RAW: {
    const char *raw = *(char *const *)p;
    return raw && find_bad_raw(raw, what);
  }
  case OCI_K_OBJECT: {
    const oci_object *o = *(const oci_object *const *)p;
    return o && find_bad_object(vt->object, o, ptr, cap, what);
  }
  case OCI_K_ARRAY: {
    const oci_array *a = p;
    const char *item = a->items;
    for (size_t i = 0; i < a->len; i++, item += vt->elem->size) {
      oci_pointer_append_index(ptr, cap, i);
      if (find_bad_value(vt->elem, item, ptr, cap, what)) return true;
      ptr[base] = '\0';
    }
    return false;
  }
  case OCI_K_MAP:
  case OCI_K_SET: {
    const oci_map *m = p;
    bool is_set = vt->kind == OCI_K_SET;
    size_t vsize = is_set ? sizeof(char *) : vt->elem->size;
    for (size_t i = 0; i < m->len; i++) {
      if (find_bad_key(m->keys[i], ptr, cap, what)) return true;
      oci_pointer_append(ptr, cap, m->keys[i], strlen(m->keys[i]));
      const void *v = (const char *)m->values + i * vsize;
      if (is_set) {
        const char *raw = *(char *const *)v;
        if (raw && find_bad_raw(raw, what)) return true;
      } else if (find_bad_value(vt->elem, v, ptr, cap, what))
        return true;
      ptr[base] = '\0';
    }
    return false;
  }
  default: return false;
  }
}

int oci_json_check_writable(const oci_type *t, const void *obj,
                            oci_error *err) {
  char ptr[OCI_ERROR_POINTER_MAX] = "";
  const char *what = NULL;
  if (!find_bad_object(t, obj, ptr, sizeof ptr, &what)) return OCI_OK;
  if (!what) return oci_error_set(err, OCI_ENOMEM, "out of memory");
  oci_error_set_pointer(err, ptr);
  return oci_error_set(err, OCI_EUTF8, "%s %s: it cannot be written as JSON",
                       what, ptr[0] ? ptr : "/");
}

void oci_write_options_init(oci_write_options *o) {
  *o = (oci_write_options)OCI_WRITE_OPTIONS_INIT;
}

int oci_to_json(const oci_type *t, const void *obj,
                const oci_write_options *opts, char **out, size_t *out_len,
                oci_error *err) {
  oci_error_reset(err);
  *out = NULL;
  if (out_len) *out_len = 0;
  if (opts) {
    int vrc = oci_options_check(err, "oci_write_options", opts->version,
                                OCI_WRITE_OPTIONS_VERSION);
    if (vrc) return vrc;
  }
  writer w = {{NULL, 0, 0, false, false}, NULL, opts && opts->pretty, false};
  /* The compact text of a parsed document is 0.50-0.74x what its arena
     holds (bench/README.md "Memory"); pretty text about twice that. The
     reservation is exact and below the arena's size on purpose: with glibc,
     a big arena block and an output buffer of about its size together pass
     the heap's trim threshold (twice the largest block freed), so every
     round trip gave the pages back and faulted them in again (the 3.7 MB
     index: half its round-trip time). */
  size_t used = oci_arena_used(((const oci_object *)obj)->arena);
  size_t hint = w.pretty ? used / 8 * 13 * 2 : used / 16 * 13;
  if (oci_buf_reserve(&w.b, hint < 256 ? 256 : hint)) {
    /* at least 256 bytes of room: VALUE_ROOM for the root object */
    w.lim = w.b.data + w.b.cap;
    char *p = write_object(&w, w.b.data, t, obj, 1);
    if (p) {
      w.b.len = (size_t)(p - w.b.data);
      oci_buf_putc(&w.b, '\0');
    } else
      w.b.failed = true;
  }
  if (w.bad && !w.b.failed) {
    /* never emit invalid JSON: find what and where */
    oci_buf_free(&w.b);
    int rc = oci_json_check_writable(t, obj, err);
    return rc ? rc
              : oci_error_set(err, OCI_EUTF8, "a value is not valid UTF-8");
  }
  if (w.b.failed) {
    oci_buf_free(&w.b);
    return oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  *out = w.b.data;
  if (out_len) *out_len = w.b.len - 1;
  return OCI_OK;
}

/* ---- the oci_buf entry points ------------------------------------------ */

/* The writer's string body for other callers (the Lua binding): room is
   reserved in b first, then the cursor's length moved back into it. */
bool oci_json_write_string(oci_buf *b, const char *s, size_t n) {
  if (n > SIZE_MAX / 2) {
    b->failed = true;
    return true;
  }
  if (!oci_buf_reserve(b, STR_ROOM(n))) return true;
  writer w = {*b, b->data + b->cap, false, false};
  char *p = str_body(&w, b->data + b->len, s, n);
  *b = w.b;
  if (p) b->len = (size_t)(p - b->data);
  return !w.bad;
}

/* Pretty output: a line break and 2 spaces per level. */
static void raw_newline(oci_buf *b, unsigned depth) {
  if (!oci_buf_reserve(b, 1 + 2 * (size_t)depth)) return;
  b->data[b->len++] = '\n';
  memset(b->data + b->len, ' ', 2 * (size_t)depth);
  b->len += 2 * (size_t)depth;
}

void oci_json_write_raw(oci_buf *b, const char *raw, bool pretty,
                        unsigned depth) {
  size_t n = strlen(raw);
  if (!pretty) {
    oci_buf_append(b, raw, n);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    char c = raw[i];
    switch (c) {
    case '"': {
      size_t j = i + 1;
      while (raw[j] != '"')
        j += raw[j] == '\\' ? 2 : 1;
      oci_buf_append(b, raw + i, j + 1 - i);
      i = j;
      break;
    }
    case '{':
    case '[':
      if (raw[i + 1] == (c == '{' ? '}' : ']')) {
        oci_buf_append(b, raw + i, 2);
        i++;
      } else {
        oci_buf_putc(b, c);
        raw_newline(b, ++depth);
      }
      break;
    case '}':
    case ']':
      raw_newline(b, --depth);
      oci_buf_putc(b, c);
      break;
    case ',':
      oci_buf_putc(b, ',');
      raw_newline(b, depth);
      break;
    case ':': oci_buf_append(b, ": ", 2); break;
    default: oci_buf_putc(b, c); break;
    }
  }
}

/* ---- buffers and small utilities --------------------------------------- */

bool oci_buf_reserve(oci_buf *b, size_t extra) {
  if (b->failed) return false;
  if (b->cap - b->len >= extra) return true;
  /* A first reservation is taken as asked (oci_to_json sizes it from the
     document); growth after that doubles. */
  size_t cap = b->cap ? b->cap : extra > 256 ? extra : 256;
  while (cap - b->len < extra) {
    if (cap > SIZE_MAX / 2) {
      b->failed = true;
      return false;
    }
    cap *= 2;
  }
  char *d = b->borrowed ? malloc(cap) : realloc(b->data, cap);
  if (!d) {
    b->failed = true;
    return false;
  }
  if (b->borrowed && b->len) memcpy(d, b->data, b->len);
  b->borrowed = false;
  b->data = d;
  b->cap = cap;
  return true;
}

void oci_buf_append(oci_buf *b, const char *s, size_t n) {
  if (!n || !oci_buf_reserve(b, n)) return;
  memcpy(b->data + b->len, s, n);
  b->len += n;
}

void oci_buf_free(oci_buf *b) {
  if (!b->borrowed) free(b->data);
  b->borrowed = false;
  b->data = NULL;
  b->len = b->cap = 0;
}

size_t oci_u64_to_dec(uint64_t v, char *out) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  return n;
}

size_t oci_i64_to_dec(int64_t v, char *out) {
  if (v >= 0) return oci_u64_to_dec((uint64_t)v, out);
  out[0] = '-';
  return 1 + oci_u64_to_dec(0 - (uint64_t)v, out + 1);
}

void oci_error_locate(oci_error *err, const char *buf, size_t len) {
  size_t off = err->offset < len ? err->offset : len;
  size_t line = 1, col = 1;
  for (size_t i = 0; i < off; i++) {
    if (buf[i] == '\n') {
      line++;
      col = 1;
    } else
      col++;
  }
  err->line = line;
  err->column = col;
}

void oci_pointer_append(char *out, size_t cap, const char *seg, size_t n) {
  size_t len = strlen(out);
  if (len + 1 >= cap) return;
  out[len++] = '/';
  for (size_t i = 0; i < n && len + 2 < cap; i++) {
    if (seg[i] == '~' || seg[i] == '/') {
      out[len++] = '~';
      out[len++] = seg[i] == '~' ? '0' : '1';
    } else
      out[len++] = seg[i];
  }
  out[len] = '\0';
}

void oci_pointer_append_index(char *out, size_t cap, size_t index) {
  char num[24];
  size_t n = oci_u64_to_dec(index, num);
  oci_pointer_append(out, cap, num, n);
}

const char *oci_kind_name(oci_kind k) {
  switch (k) {
  case OCI_K_STRING: return "string";
  case OCI_K_BOOL: return "boolean";
  case OCI_K_I32: return "int32 (-2147483648..2147483647)";
  case OCI_K_U16: return "uint16 (0..65535)";
  case OCI_K_U32: return "uint32 (0..4294967295)";
  case OCI_K_I64: return "int64 (-9223372036854775808..9223372036854775807)";
  case OCI_K_U64: return "uint64 (0..18446744073709551615)";
  case OCI_K_DOUBLE: return "number";
  case OCI_K_RAW: return "JSON value";
  case OCI_K_OBJECT:
  case OCI_K_MAP:
  case OCI_K_SET: return "object";
  case OCI_K_ARRAY: return "array";
  }
  return "value";
}
