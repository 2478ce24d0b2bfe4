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

typedef struct writer {
  oci_buf b;
  bool pretty;
  bool bad; /* a string, key or raw value that is not valid (UTF-8) JSON */
  unsigned depth;
} writer;

/* Hot-path appends: the capacity check is inline and the reallocating
   slow path (oci_buf_reserve, geometric growth) is a call. After a failed
   allocation (b->failed latches) appends that still fit the buffer go on
   (memory-safe, inside its capacity) and nothing else is written; the
   text is discarded, since every caller checks b->failed at the end. Not
   testing b->failed here saves a load and a branch per append. */
static inline bool room(oci_buf *b, size_t n) {
  return b->cap - b->len >= n || oci_buf_reserve(b, n);
}
static inline void put(oci_buf *b, const char *s, size_t n) {
  if (room(b, n)) {
    memcpy(b->data + b->len, s, n);
    b->len += n;
  }
}
static inline void put1(oci_buf *b, char c) {
  if (room(b, 1)) b->data[b->len++] = c;
}

static void write_u64(oci_buf *b, uint64_t v);
static void write_i64(oci_buf *b, int64_t v);

static void newline(writer *w) {
  if (!w->pretty) return;
  if (!oci_buf_reserve(&w->b, 1 + 2 * (size_t)w->depth)) return;
  w->b.data[w->b.len++] = '\n';
  memset(w->b.data + w->b.len, ' ', 2 * (size_t)w->depth);
  w->b.len += 2 * (size_t)w->depth;
}

static void write_key(writer *w, const char *k, size_t n) {
  if (!oci_json_write_string(&w->b, k, n)) w->bad = true;
  if (w->pretty)
    put(&w->b, ": ", 2);
  else
    put1(&w->b, ':');
}

/* Opening, separating and closing members of objects and arrays. */
static void open_container(writer *w, char c) {
  put1(&w->b, c);
  w->depth++;
}
static inline void member_sep(writer *w, bool *first) {
  if (!*first) put1(&w->b, ',');
  *first = false;
  if (w->pretty) newline(w);
}
static void close_container(writer *w, char c, bool empty) {
  w->depth--;
  if (!empty) newline(w);
  put1(&w->b, c);
}

static void write_double(writer *w, double v) {
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
  oci_buf_append(&w->b, buf, strlen(buf));
}

static void write_value(writer *w, const oci_vtype *vt, const void *p);

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
/* raw NULL: `absent` (our own constant text, "{}" or "null"), unchecked. */
static void write_raw_checked(writer *w, const char *raw, const char *absent) {
  if (!raw) {
    oci_json_write_raw(&w->b, absent, w->pretty, w->depth);
    return;
  }
  int rc = raw_check(raw);
  if (rc) {
    if (rc == OCI_ENOMEM)
      w->b.failed = true;
    else
      w->bad = true;
    put(&w->b, "null", 4);
    return;
  }
  oci_json_write_raw(&w->b, raw, w->pretty, w->depth);
}

/* A declared key from the type's compile-time table: quoted, with its
   colon (and the space of pretty output), padded to 40 bytes, so it goes
   out as one fixed-size copy of all 40 (a few vector moves, no loop, no
   escaping scan) and the length moves by the key's. */
static inline void write_fast_key(writer *w, const oci_field_fast *ff) {
  size_t n = ff->len + 3 + w->pretty;
  if (!room(&w->b, OCI_QUOTED_KEY_MAX)) return;
  memcpy(w->b.data + w->b.len, ff->quoted, OCI_QUOTED_KEY_MAX);
  w->b.len += n;
}

/* A string value (NULL is written as ""). */
static bool write_string_inline(oci_buf *b, const char *s, size_t n);
static inline __attribute__((always_inline)) void write_str(writer *w,
                                                            const char *s) {
  if (!write_string_inline(&w->b, s ? s : "", s ? strlen(s) : 0)) w->bad = true;
}

/* One declared member's value (its key is written). */
static inline __attribute__((always_inline)) void
write_member_value(writer *w, const oci_field *f, const oci_object *o,
                   uint32_t bit) {
  if (o->nulls & bit)
    put(&w->b, "null", 4);
  else if (f->vt->kind == OCI_K_STRING) /* the common member, inline */
    write_str(w, *(char *const *)((const char *)o + f->offset));
  else
    write_value(w, f->vt, (const char *)o + f->offset);
}

static void write_object(writer *w, const oci_type *t, const oci_object *o) {
  bool first = true;
  const oci_field_fast *fast = oci_type_fast(t);
  open_container(w, '{');
  if (fast) {
    /* A type of types.def: field i has presence bit i (its OCI_F_ index),
       so only the present members are visited, in declaration order
       (runtime types declare many optional members and set few). Bits
       past nfields (a C caller's stray bits) are ignored, as below. */
    uint32_t m = o->present;
    if (t->nfields < 32) m &= ((uint32_t)1 << t->nfields) - 1;
    for (; m; m &= m - 1) {
      size_t i = (size_t)__builtin_ctz(m);
      member_sep(w, &first);
      write_fast_key(w, &fast[i]);
      write_member_value(w, &t->fields[i], o, m & (0 - m));
    }
  } else
    for (size_t i = 0; i < t->nfields; i++) {
      const oci_field *f = &t->fields[i];
      uint32_t bit = (uint32_t)1 << f->index;
      if (!(o->present & bit)) continue;
      member_sep(w, &first);
      write_key(w, f->key, f->key_len);
      write_member_value(w, f, o, bit);
    }
  const oci_extra *x = o->extra;
  for (size_t i = 0, n = x ? x->len : 0; i < n; i++) {
    member_sep(w, &first);
    write_key(w, x->keys[i], strlen(x->keys[i]));
    write_raw_checked(w, x->raws[i], "null");
  }
  close_container(w, '}', first);
}

static void write_array(writer *w, const oci_vtype *vt, const oci_array *a) {
  bool first = true;
  open_container(w, '[');
  const char *item = a->items;
  if (vt->elem->kind == OCI_K_STRING) /* the common array, inline */
    for (size_t i = 0; i < a->len; i++) {
      member_sep(w, &first);
      write_str(w, ((char *const *)a->items)[i]);
    }
  else
    for (size_t i = 0; i < a->len; i++, item += vt->elem->size) {
      member_sep(w, &first);
      write_value(w, vt->elem, item);
    }
  close_container(w, ']', first);
}

static void write_map(writer *w, const oci_vtype *vt, const oci_map *m) {
  bool first = true;
  bool is_set = vt->kind == OCI_K_SET;
  size_t vsize = is_set ? sizeof(char *) : vt->elem->size;
  open_container(w, '{');
  for (size_t i = 0; i < m->len; i++) {
    member_sep(w, &first);
    write_key(w, m->keys[i], strlen(m->keys[i]));
    const void *v = (const char *)m->values + i * vsize;
    if (is_set) {
      const char *raw = *(char *const *)v;
      write_raw_checked(w, raw, "{}");
    } else
      write_value(w, vt->elem, v);
  }
  close_container(w, '}', first);
}

static void write_value(writer *w, const oci_vtype *vt, const void *p) {
  switch (vt->kind) {
  case OCI_K_STRING: write_str(w, *(char *const *)p); break;
  case OCI_K_BOOL:
    if (*(const bool *)p)
      put(&w->b, "true", 4);
    else
      put(&w->b, "false", 5);
    break;
  case OCI_K_I32: write_i64(&w->b, *(const int32_t *)p); break;
  case OCI_K_U16: write_u64(&w->b, *(const uint16_t *)p); break;
  case OCI_K_U32: write_u64(&w->b, *(const uint32_t *)p); break;
  case OCI_K_I64: write_i64(&w->b, *(const int64_t *)p); break;
  case OCI_K_U64: write_u64(&w->b, *(const uint64_t *)p); break;
  case OCI_K_DOUBLE: write_double(w, *(const double *)p); break;
  case OCI_K_RAW: {
    const char *raw = *(char *const *)p;
    write_raw_checked(w, raw, "null");
    break;
  }
  case OCI_K_OBJECT: {
    const oci_object *o = *(const oci_object *const *)p;
    if (o)
      write_object(w, vt->object, o);
    else
      put(&w->b, "{}", 2);
    break;
  }
  case OCI_K_ARRAY: write_array(w, vt, p); break;
  case OCI_K_MAP:
  case OCI_K_SET: write_map(w, vt, p); break;
  }
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
  writer w = {{NULL, 0, 0, false, false}, opts && opts->pretty, false, 0};
  /* The compact text of a parsed document is 0.50-0.74x what its arena
     holds (bench/README.md "Memory"); pretty text about twice that. The
     reservation is exact and below the arena's size on purpose: with glibc,
     a big arena block and an output buffer of about its size together pass
     the heap's trim threshold (twice the largest block freed), so every
     round trip gave the pages back and faulted them in again (the 3.7 MB
     index: half its round-trip time). */
  size_t used = oci_arena_used(((const oci_object *)obj)->arena);
  size_t hint = w.pretty ? used / 8 * 13 * 2 : used / 16 * 13;
  oci_buf_reserve(&w.b, hint < 256 ? 256 : hint);
  write_object(&w, t, obj);
  oci_buf_putc(&w.b, '\0');
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

/* ---- strings and raw text ---------------------------------------------- */

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

/* One pass: 8 bytes are copied to the output and tested at once; most
   strings (digests, media types, paths) have nothing to escape and go
   through in n/8 steps. Room is reserved once for the unescaped case,
   plus 8 bytes of slack so that whole words can be stored; an escape
   (rare) reserves again for its 6 bytes and the rest of the string.
   The tail (< 8 bytes) is tested as one word too: the string's last 8
   bytes (overlapping what was done) when it has 8, else its bytes
   gathered by short_word; a flag there (possibly spurious) sends it to
   the byte loop. Nothing outside s[0..n) is read.
   With SSE2, 16 bytes at a time before the words (and 16 bytes of
   slack). Invariant: from o, at least (end - s) + 1 + 16 bytes are
   reserved. */
static inline __attribute__((always_inline)) bool
write_string_inline(oci_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (n > SIZE_MAX - 32 || !room(b, n + 2 + 16)) return true;
  const char *const start = s, *end = s + n;
  /* UTF-8: the words scanned are OR-ed together; a string with no byte
     >= 0x80 (the usual case: digests, media types, paths) is ASCII and
     valid as it is. Otherwise, or when the byte loop ran, one validating
     pass follows. */
  uint64_t seen = 0;
  char *o = b->data + b->len;
  *o++ = '"';
#if OCI_SWAR
  if (n < 8) {
    uint64_t w = short_word(s, n);
    if (!(esc_special(w) & ((1ull << (8 * n)) - 1))) {
      memcpy(o, &w, 8);
      o += n;
      seen = w;
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
      _mm_storeu_si128((__m128i *)o, x);
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
      uint64_t w = load8(s);
      memcpy(o, &w, 8);
      seen |= w;
      uint64_t m = esc_special(w);
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
      uint64_t w = load8(end - 8);
      unsigned drop = 8 * (unsigned)(8 - rem);
      if (!(esc_special(w) >> drop)) {
        seen |= w;
        w >>= drop;
        memcpy(o, &w, 8);
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
    b->len = (size_t)(o - b->data);
    if (!room(b, 6 + (size_t)(end - s) + 16)) return true;
    o = b->data + b->len;
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
  b->len = (size_t)(o - b->data);
  return !(seen & HIGHS) || oci_utf8_valid(start, n);
}

/* The writer's string values use the body above inline (one call less
   per value); other callers (the Lua binding, keys) use this. */
bool oci_json_write_string(oci_buf *b, const char *s, size_t n) {
  return write_string_inline(b, s, n);
}

void oci_json_write_raw(oci_buf *b, const char *raw, bool pretty,
                        unsigned depth) {
  size_t n = strlen(raw);
  if (!pretty) {
    oci_buf_append(b, raw, n);
    return;
  }
  writer w = {*b, true, false, depth};
  for (size_t i = 0; i < n; i++) {
    char c = raw[i];
    switch (c) {
    case '"': {
      size_t j = i + 1;
      while (raw[j] != '"')
        j += raw[j] == '\\' ? 2 : 1;
      oci_buf_append(&w.b, raw + i, j + 1 - i);
      i = j;
      break;
    }
    case '{':
    case '[':
      if (raw[i + 1] == (c == '{' ? '}' : ']')) {
        oci_buf_append(&w.b, raw + i, 2);
        i++;
      } else {
        open_container(&w, c);
        newline(&w);
      }
      break;
    case '}':
    case ']': close_container(&w, c, false); break;
    case ',':
      oci_buf_putc(&w.b, ',');
      newline(&w);
      break;
    case ':': oci_buf_append(&w.b, ": ", 2); break;
    default: oci_buf_putc(&w.b, c); break;
    }
  }
  *b = w.b;
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

static void write_u64(oci_buf *b, uint64_t v) {
  if (!room(b, 20)) return;
  size_t n = dec_len(v);
  put_dec(b->data + b->len + n, v);
  b->len += n;
}

static void write_i64(oci_buf *b, int64_t v) {
  if (v >= 0) {
    write_u64(b, (uint64_t)v);
    return;
  }
  put1(b, '-');
  write_u64(b, 0 - (uint64_t)v);
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
