/* The schema-driven JSON reader: bytes straight into arena structs, RFC 8259
   exactly, no token stream and no intermediate tree.

   Values of declared fields are decoded into their C types; unknown members
   and RAW fields are validated and kept as compact JSON text. Errors carry
   a code, a message, a JSON Pointer and line:column. */
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ocispec/schema.h"
#include "schema/utf8.h"
#include "swar.h"

/* Kept out of line: read_value stays a small dispatcher (each function
   inlined into it added to the registers it saved on every call). */
#define COLD_PATH __attribute__((noinline))
/* Inlined whatever the compiler's size heuristics say: small steps taken
   once or more per member, whose call and prologue cost more than they
   do (measured with callgrind, see bench/README.md). */
#define ALWAYS_INLINE inline __attribute__((always_inline))

typedef struct seg {
  const char *key; /* NULL for an array index */
  size_t len;
  size_t index;
} seg;

typedef struct reader {
  const char *start, *p, *end;
  oci_arena *arena;
  oci_error *err;
  size_t max_depth, max_string;
  bool allow_dup;
  bool allow_missing;
  size_t depth;
  /* The JSON Pointer of an error, built only on the error's way out: the
     container at nesting level L (1 for the root) that fails while one of
     its members is being read puts that member's key or index in
     path[L - 1] as it returns, and the innermost one sets npath (0: the
     error names no member). The entry points turn it into err->pointer.
     Nothing is written while a document reads without error (it was a
     segment pushed and popped per member and element). */
  seg *path;
  size_t npath;
  oci_buf stack;     /* elements of arrays/maps being read (LIFO) */
  oci_buf raw;       /* compact text of the RAW value being read */
  bool raw_out;      /* false: validate only (oci_json_check) */
  bool key_in_input; /* the last read_key's key points into the input */
  size_t path_cap;
  /* oci_required_mask of the types met so far: a direct-mapped cache
     local to this parse (the schema's function loops over every field) */
  const oci_type *req_type[8];
  uint64_t req_mask[8];
  /* The JSON Pointer path starts here and moves to the heap only for
     documents nested deeper than this (was one malloc per parse). Last
     member: reader_init does not clear it. */
  seg path_small[24];
  /* The element stack starts here (a small document's arrays and maps fit:
     no malloc and free per parse) and moves to the heap when it grows. */
  _Alignas(8) char stack_small[512];
} reader;

static uint64_t required_mask(reader *r, const oci_type *t) {
  size_t i = ((uintptr_t)t >> 5) & 7;
  if (r->req_type[i] != t) {
    r->req_type[i] = t;
    r->req_mask[i] = oci_required_mask(t);
  }
  return r->req_mask[i];
}

/* ---- errors ------------------------------------------------------------ */

static void build_pointer(const reader *r, char *out, size_t cap) {
  out[0] = '\0';
  for (size_t i = 0; i < r->npath; i++) {
    if (r->path[i].key)
      oci_pointer_append(out, cap, r->path[i].key, r->path[i].len);
    else
      oci_pointer_append_index(out, cap, r->path[i].index);
  }
}

static int fail_at(reader *r, const char *at, int code, const char *fmt, ...)
    OCI_PRINTF(4, 5);
static int fail_at(reader *r, const char *at, int code, const char *fmt, ...) {
  oci_error *e = r->err;
  r->npath = 0; /* the containers around `at` fill the path as they return */
  if (!e) return code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  e->code = code;
  e->offset = (size_t)(at - r->start);
  oci_error_locate(e, r->start, (size_t)(r->end - r->start));
  return code;
}

static int nomem(reader *r) {
  return fail_at(r, r->p, OCI_ENOMEM, "out of memory");
}

static bool literal_at(const reader *r, const char *lit) {
  size_t n = strlen(lit);
  return (size_t)(r->end - r->p) >= n && memcmp(r->p, lit, n) == 0;
}

/* The JSON type of the value at p, or NULL when no value starts there (a
   syntax error, reported as such rather than as a wrong type). */
static const char *json_type_at(const reader *r) {
  if (r->p >= r->end) return "end of input";
  switch (*r->p) {
  case '"': return "string";
  case '{': return "object";
  case '[': return "array";
  case 't': return literal_at(r, "true") ? "boolean" : NULL;
  case 'f': return literal_at(r, "false") ? "boolean" : NULL;
  case 'n': return literal_at(r, "null") ? "null" : NULL;
  default:
    if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9')) return "number";
    return NULL;
  }
}

static int unexpected(reader *r) {
  if (r->p >= r->end)
    return fail_at(r, r->p, OCI_ESYNTAX, "unexpected end of input");
  unsigned char c = (unsigned char)*r->p;
  if (c >= 0x20 && c < 0x7f)
    return fail_at(r, r->p, OCI_ESYNTAX, "unexpected character '%c'", c);
  return fail_at(r, r->p, OCI_ESYNTAX, "unexpected byte 0x%02x", c);
}

/* The value at p is not of the expected JSON type. */
static int type_error(reader *r, const char *expected) {
  const char *got = json_type_at(r);
  if (!got) return unexpected(r);
  /* Report a malformed value as a syntax error, not a type error. */
  return fail_at(r, r->p, OCI_ETYPE, "expected %s, got %s", expected, got);
}

/* ---- lexical helpers --------------------------------------------------- */

/* High bit set in the bytes of w that end a plain run inside a string:
   '"', '\\', a control character (< 0x20) or a non-ASCII byte. The
   subtractions borrow only upward out of a true hit, so bytes above the
   first hit may be flagged spuriously but the lowest flagged byte is
   always exact, and only that one is used. */
static inline uint64_t str_special(uint64_t w) {
  uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
  return ((((w - ONES * 0x20) | (q - ONES) | (b - ONES)) & ~w) | w) & HIGHS;
}

/* Pretty-printed documents spend a large share of their bytes on
   indentation: after a line break, the run of the indentation character
   (space or tab) is skipped 8 bytes at a time (XOR with that byte is zero
   exactly where the run goes on, so the lowest non-zero byte ends it).
   Returns at once when no whitespace is there (the common case between
   tokens of compact JSON). */
static inline void skip_ws(reader *r) {
  const char *p = r->p, *end = r->end;
  if (p < end && (unsigned char)*p > ' ') return;
#if OCI_SSE2
  /* A line break and its indentation mostly fit in 16 bytes: one step
     finds the first byte that is not whitespace; longer runs go on below. */
  if (end - p >= 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)p);
    __m128i ws =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(' ')),
                                  _mm_cmpeq_epi8(x, _mm_set1_epi8('\t'))),
                     _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\n')),
                                  _mm_cmpeq_epi8(x, _mm_set1_epi8('\r'))));
    unsigned m = ~(unsigned)_mm_movemask_epi8(ws) & 0xffffu;
    if (m) {
      r->p = p + __builtin_ctz(m);
      return;
    }
    p += 16;
  }
#endif
  while (p < end) {
    char c = *p;
    if (c == ' ' || c == '\t') {
#if OCI_SWAR
      uint64_t pat = ONES * (unsigned char)c;
      while (end - p >= 8) {
        uint64_t w = load8(p) ^ pat;
        if (w) {
          p += __builtin_ctzll(w) >> 3;
          goto next;
        }
        p += 8;
      }
#endif
      while (p < end && *p == c)
        p++;
#if OCI_SWAR
    next:;
#endif
    } else if (c == '\n' || c == '\r')
      p++;
    else
      break;
  }
  r->p = p;
}

static int expect_literal(reader *r, const char *lit, size_t n) {
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
    return unexpected(r);
  r->p += n;
  return OCI_OK;
}

/* On an error's way out of the container at level lvl (its r->depth
   after enter; the root is 1): the member being read when it failed. Only
   the innermost container sets the path's length. */
static COLD_PATH void error_key(reader *r, size_t lvl, const char *k,
                                size_t n) {
  r->path[lvl - 1] = (seg){k, n, 0};
  if (!r->npath) r->npath = lvl;
}

static COLD_PATH void error_index(reader *r, size_t lvl, size_t i) {
  r->path[lvl - 1] = (seg){NULL, 0, i};
  if (!r->npath) r->npath = lvl;
}

/* The error's JSON Pointer into err, once the reader has returned (before
   the arena that holds unescaped keys is freed). */
static void finish_error(reader *r, int rc) {
  if (rc && r->err && r->npath)
    build_pointer(r, r->err->pointer, sizeof r->err->pointer);
}

/* Room for the path of a value at depth r->depth (at most one segment per
   level, plus one for a member named in an error). */
static bool grow_path(reader *r) {
  size_t cap = r->path_cap * 2;
  if (cap < r->depth + 2) cap = r->depth + 2;
  seg *p = malloc(cap * sizeof *p);
  if (!p) return false;
  /* nothing to copy: the path is only written on an error's way out */
  if (r->path != r->path_small) free(r->path);
  r->path = p;
  r->path_cap = cap;
  return true;
}

static ALWAYS_INLINE int enter(reader *r) {
  if (++r->depth > r->max_depth)
    return fail_at(r, r->p, OCI_EDEPTH, "nesting deeper than %zu levels",
                   r->max_depth);
  if (r->depth + 2 > r->path_cap && !grow_path(r)) {
    r->depth--;
    return fail_at(r, r->p, OCI_ENOMEM, "out of memory");
  }
  r->p++;
  return OCI_OK;
}

/* ---- strings ----------------------------------------------------------- */

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int read_hex4(reader *r, const char *p, unsigned *out) {
  if (r->end - p < 4) return fail_at(r, p, OCI_ESYNTAX, "truncated \\u escape");
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval((unsigned char)p[i]);
    if (h < 0)
      return fail_at(r, p + i, OCI_ESYNTAX, "invalid hex digit in \\u escape");
    v = v << 4 | (unsigned)h;
  }
  *out = v;
  return OCI_OK;
}

/* Byte classes inside a string: 0 plain ASCII, 1 quote, 2 backslash,
   3 control, 4 non-ASCII. */
static const unsigned char str_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

typedef struct strspan {
  const char *body; /* after the opening quote */
  size_t raw_len;   /* bytes up to the closing quote */
  size_t dec_len;   /* bytes once escapes are decoded */
  bool escaped;
} strspan;

/* Validate the string at p (which is '"'); leave p after its closing
   quote. NUL (\u0000) is refused unless allow_nul: C strings cannot hold
   it, and no OCI field has a use for it. The general path: scan_str below
   tries the common case inline first. */
static __attribute__((noinline)) int scan_string(reader *r, strspan *s,
                                                 bool allow_nul) {
  const unsigned char *p = (const unsigned char *)r->p + 1;
  const unsigned char *end = (const unsigned char *)r->end;
  size_t shrink = 0;
  s->body = (const char *)p;
  s->escaped = false;
  for (;;) {
#if OCI_SSE2
    /* plain ASCII runs 16 bytes at a time, then 8, then the byte loop */
    while (end - p >= 16) {
      unsigned m = str_special16(p);
      if (m) {
        p += __builtin_ctz(m);
        goto special;
      }
      p += 16;
    }
#endif
#if OCI_SWAR
    /* plain ASCII runs 8 bytes at a time; the byte loop finishes */
    while (end - p >= 8) {
      uint64_t m = str_special(load8(p));
      if (m) {
        p += __builtin_ctzll(m) >> 3;
        goto special;
      }
      p += 8;
    }
#endif
    while (p < end && str_class[*p] == 0)
      p++;
    if (p >= end)
      return fail_at(r, (const char *)p, OCI_ESYNTAX, "unterminated string");
#if OCI_SWAR
  special:
#endif
    switch (str_class[*p]) {
    case 1: {
      s->raw_len = (size_t)((const char *)p - s->body);
      s->dec_len = s->raw_len - shrink;
      r->p = (const char *)p + 1;
      if (s->dec_len > r->max_string)
        return fail_at(r, s->body, OCI_ETOOBIG,
                       "string of %zu bytes exceeds the limit of %zu",
                       s->dec_len, r->max_string);
      return OCI_OK;
    }
    case 3:
      return fail_at(r, (const char *)p, OCI_ESYNTAX,
                     "unescaped control character 0x%02x in string", *p);
    case 4: {
      size_t n = oci_utf8_seq(p, end);
      if (!n)
        return fail_at(r, (const char *)p, OCI_EUTF8,
                       "invalid UTF-8 byte 0x%02x in string", *p);
      p += n;
      break;
    }
    case 2: {
      s->escaped = true;
      if (end - p < 2)
        return fail_at(r, (const char *)p, OCI_ESYNTAX, "unterminated string");
      switch (p[1]) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        p += 2;
        shrink += 1;
        break;
      case 'u': {
        unsigned cp;
        int rc = read_hex4(r, (const char *)p + 2, &cp);
        if (rc) return rc;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
          return fail_at(r, (const char *)p, OCI_EUTF8,
                         "lone low surrogate \\u%04X in string", cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          unsigned lo;
          if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
            return fail_at(r, (const char *)p, OCI_EUTF8,
                           "lone high surrogate \\u%04X in string", cp);
          rc = read_hex4(r, (const char *)p + 8, &lo);
          if (rc) return rc;
          if (lo < 0xDC00 || lo > 0xDFFF)
            return fail_at(r, (const char *)p, OCI_EUTF8,
                           "high surrogate \\u%04X not followed by a low "
                           "surrogate",
                           cp);
          p += 12;
          shrink += 12 - 4;
          break;
        }
        if (cp == 0 && !allow_nul)
          return fail_at(r, (const char *)p, OCI_EINVAL,
                         "NUL character (\\u0000) is not allowed here");
        p += 6;
        shrink += 6 - (cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3);
        break;
      }
      default:
        return fail_at(r, (const char *)p, OCI_ESYNTAX,
                       "invalid escape '\\%c' in string",
                       p[1] >= 0x20 && p[1] < 0x7f ? p[1] : '?');
      }
      break;
    }
    }
  }
}

/* The common string, inline: plain ASCII up to its closing quote, read 16
   bytes per step. Anything else (an escape, a control or non-ASCII byte,
   fewer than 16 bytes left in the input, a string over max_string) goes
   to scan_string from the start, which validates and reports it. Most
   strings of OCI documents end within the first step, so this saves the
   call and the byte-class switch per string (runtime config: 64 strings
   per document). */
static inline int scan_str(reader *r, strspan *s, bool allow_nul) {
#if OCI_SSE2
  const char *body = r->p + 1, *p = body;
  while (r->end - p >= 16) {
    unsigned m = str_special16(p);
    if (m) {
      p += __builtin_ctz(m);
      size_t n = (size_t)(p - body);
      if (*p != '"' || n > r->max_string) break;
      s->body = body;
      s->raw_len = s->dec_len = n;
      s->escaped = false;
      r->p = p + 1;
      return OCI_OK;
    }
    p += 16;
  }
#endif
  return scan_string(r, s, allow_nul);
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | cp >> 18);
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

static unsigned hex4(const char *p) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++)
    v = v << 4 | (unsigned)hexval((unsigned char)p[i]);
  return v;
}

/* Decode an already validated span into out (dec_len + 1 bytes); returns
   the decoded length. */
static size_t decode_string(const strspan *s, char *out) {
  if (!s->escaped) {
    size_t n = s->raw_len;
    if (n >= 8 && n <= 16) { /* two overlapping words instead of a call */
      uint64_t a = load8(s->body), b = load8(s->body + n - 8);
      memcpy(out, &a, 8);
      memcpy(out + n - 8, &b, 8);
    } else
      memcpy(out, s->body, n);
    out[s->raw_len] = '\0';
    return s->raw_len;
  }
  const char *p = s->body, *end = s->body + s->raw_len;
  char *o = out;
  while (p < end) {
    const char *bs = memchr(p, '\\', (size_t)(end - p));
    if (!bs) bs = end;
    memcpy(o, p, (size_t)(bs - p));
    o += bs - p;
    p = bs;
    if (p >= end) break;
    char c = p[1];
    p += 2;
    switch (c) {
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u': {
      unsigned cp = hex4(p);
      p += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        unsigned lo = hex4(p + 2);
        p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      }
      o += put_utf8(o, cp);
      break;
    }
    default: *o++ = c; break; /* " \ / */
    }
  }
  *o = '\0';
  return (size_t)(o - out);
}

size_t oci_json_unescape(const char *body, size_t raw_len, char *out) {
  strspan s = {body, raw_len, raw_len, true};
  return decode_string(&s, out);
}

/* Read a string value into the arena. The common string (plain ASCII up
   to its closing quote, at least 16 bytes of input left at each step) is
   copied while it is scanned: each 16-byte step is stored whole at the
   arena's free space (strings grow up from its bottom, so the bytes
   stored past the string's end land in free space and are given back),
   and only the string and its NUL are kept. Anything else (an escape, a
   control or non-ASCII byte, the end of the input or of the block near,
   a string over max_string) takes the general path from the start. */
static ALWAYS_INLINE int read_string(reader *r, char **out, size_t *len,
                                     bool allow_nul) {
#if OCI_SSE2
  {
    oci_arena_block *b = r->arena->head;
    const char *body = r->p + 1, *p = body;
    char *dst = (char *)(b + 1) + b->lo;
    size_t room = b->hi - b->lo, k = 0; /* k: bytes stored so far */
    while (r->end - p >= 16 && room - k >= 16) {
      __m128i x = _mm_loadu_si128((const __m128i *)p);
      _mm_storeu_si128((__m128i *)(void *)(dst + k), x);
      unsigned m = str_special16x(x);
      if (m) {
        size_t at = (size_t)__builtin_ctz(m), n = k + at;
        if (p[at] != '"' || n > r->max_string) break;
        dst[n] = '\0'; /* n < k + 16 <= room */
        b->lo += n + 1;
        *out = dst;
        if (len) *len = n;
        r->p = p + at + 1;
        return OCI_OK;
      }
      p += 16;
      k += 16;
    }
  }
#endif
  strspan s;
  int rc = scan_str(r, &s, allow_nul);
  if (rc) return rc;
  char *d = oci_arena_chars_inline(r->arena, s.dec_len + 1);
  if (!d) return nomem(r);
  decode_string(&s, d);
  *out = d;
  if (len) *len = s.dec_len;
  return OCI_OK;
}

/* A key: points into the input when it has no escapes. */
static ALWAYS_INLINE int read_key(reader *r, const char **k, size_t *n,
                                  bool allow_nul, size_t *raw_len) {
  if (r->p >= r->end || *r->p != '"') {
    if (r->p < r->end && *r->p == '}')
      return fail_at(r, r->p, OCI_ESYNTAX, "trailing comma in object");
    return fail_at(r, r->p, OCI_ESYNTAX, "expected a string key");
  }
  strspan s;
  int rc = scan_str(r, &s, allow_nul);
  if (rc) return rc;
  if (raw_len) *raw_len = s.raw_len + 2;
  r->key_in_input = !s.escaped;
  if (!s.escaped) {
    *k = s.body;
    *n = s.raw_len;
  } else {
    char *d = oci_arena_alloc_chars(r->arena, s.dec_len + 1);
    if (!d) return nomem(r);
    decode_string(&s, d);
    *k = d;
    *n = s.dec_len;
  }
  /* `"key": value` and `"key":value`, the shapes of pretty and compact
     output, without the whitespace skipper's calls */
  const char *p = r->p;
  if (r->end - p >= 3 && p[0] == ':') {
    p += 1 + (p[1] == ' ');
    if ((unsigned char)*p > ' ') {
      r->p = p;
      return OCI_OK;
    }
  }
  skip_ws(r);
  if (r->p >= r->end || *r->p != ':')
    return fail_at(r, r->p, OCI_ESYNTAX, "expected ':' after object key");
  r->p++;
  skip_ws(r);
  return OCI_OK;
}

/* ---- duplicate-key detection ------------------------------------------- */

typedef struct kent {
  const char *k;
  size_t n;
  size_t idx;
} kent;

/* Linear for small objects, open addressing once they grow, so a hostile
   object with 10^6 keys costs O(n), not O(n^2). KEYSET_SMALL entries stay
   linear: 16, since label maps of 9-16 keys are common (image-config.json
   has 10) and the hash table's calloc of 64 entries, rehash and free cost
   more than up to 16 length-first comparisons per key. */
#define KEYSET_SMALL 16
typedef struct keyset {
  kent small[KEYSET_SMALL];
  kent *tab;
  size_t cap, n;
} keyset;

/* 8 bytes per step (multiply and fold), the < 8 tail bytes as one more
   word; a final mix so that the low bits, which pick the slot, depend on
   every byte. Was FNV-1a, one multiply per byte. */
static uint64_t key_hash(const char *k, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    h = (h ^ load8(k + i)) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  uint64_t t = 0;
  for (; i < n; i++)
    t = t << 8 | (unsigned char)k[i];
  h = (h ^ t) * 0xc4ceb9fe1a85ec53ull;
  return h ^ h >> 29;
}

/* Keys of one map often share a length and a long prefix (label keys:
   "org.opencontainers.image.*"): their last 8 bytes are compared before
   the memcmp call. */
static inline bool key_eq(const char *a, const char *b, size_t n) {
  if (n >= 8 && load8(a + n - 8) != load8(b + n - 8)) return false;
  return memcmp(a, b, n) == 0;
}

static kent *tab_find(kent *tab, size_t cap, const char *k, size_t n) {
  size_t i = (size_t)key_hash(k, n) & (cap - 1);
  for (;;) {
    kent *e = &tab[i];
    if (!e->k || (e->n == n && key_eq(e->k, k, n))) return e;
    i = (i + 1) & (cap - 1);
  }
}

static bool keyset_grow(keyset *s) {
  size_t cap = s->cap ? s->cap * 2 : 64;
  kent *tab = calloc(cap, sizeof *tab);
  if (!tab) return false;
  if (s->tab) {
    for (size_t i = 0; i < s->cap; i++)
      if (s->tab[i].k)
        *tab_find(tab, cap, s->tab[i].k, s->tab[i].n) = s->tab[i];
  } else {
    for (size_t i = 0; i < s->n; i++)
      *tab_find(tab, cap, s->small[i].k, s->small[i].n) = s->small[i];
  }
  free(s->tab);
  s->tab = tab;
  s->cap = cap;
  return true;
}

/* Returns the index of an existing equal key, SIZE_MAX if inserted,
   SIZE_MAX - 1 when out of memory. */
static size_t keyset_insert(keyset *s, const char *k, size_t n, size_t idx) {
  if (!s->tab) {
    for (size_t i = 0; i < s->n; i++)
      if (s->small[i].n == n && key_eq(s->small[i].k, k, n))
        return s->small[i].idx;
    if (s->n < KEYSET_SMALL) {
      s->small[s->n++] = (kent){k, n, idx};
      return SIZE_MAX;
    }
    if (!keyset_grow(s)) return SIZE_MAX - 1;
  }
  if ((s->n + 1) * 2 > s->cap && !keyset_grow(s)) return SIZE_MAX - 1;
  kent *e = tab_find(s->tab, s->cap, k, n);
  if (e->k) return e->idx;
  *e = (kent){k, n, idx};
  s->n++;
  return SIZE_MAX;
}

/* Only the counters: the small entries are written before they are read
   (zeroing all of them cost more than a typical object's key lookups). */
static inline void keyset_init(keyset *s) {
  s->tab = NULL;
  s->cap = s->n = 0;
}

/* Most objects never build the table: no call to free(NULL) for them. */
static inline void keyset_free(keyset *s) {
  if (s->tab) free(s->tab);
}

/* Insert key k; fail on a duplicate unless lenient. *dup gets the index of
   the earlier key when lenient. */
static int check_dup(reader *r, size_t lvl, keyset *ks, const char *at,
                     const char *k, size_t n, size_t idx, size_t *dup) {
  size_t prev = keyset_insert(ks, k, n, idx);
  *dup = SIZE_MAX;
  if (prev == SIZE_MAX) return OCI_OK;
  if (prev == SIZE_MAX - 1) return nomem(r);
  if (!r->allow_dup) {
    fail_at(r, at, OCI_EDUPKEY, "duplicate key \"%.*s\"",
            (int)(n > 64 ? 64 : n), k);
    error_key(r, lvl, k, n); /* the pointer names the duplicated member */
    return OCI_EDUPKEY;
  }
  *dup = prev;
  return OCI_OK;
}

/* ---- numbers ----------------------------------------------------------- */

/* Validate the number grammar at p; returns its end, or NULL on error. */
static const char *scan_number(reader *r, bool *is_int) {
  const char *p = r->p, *end = r->end;
  *is_int = true;
  if (p < end && *p == '-') p++;
  if (p >= end || *p < '0' || *p > '9') {
    fail_at(r, p, OCI_ESYNTAX, "invalid number: expected a digit");
    return NULL;
  }
  if (*p == '0') {
    p++;
    if (p < end && *p >= '0' && *p <= '9') {
      fail_at(r, p, OCI_ESYNTAX, "invalid number: leading zero");
      return NULL;
    }
  } else
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  if (p < end && *p == '.') {
    *is_int = false;
    p++;
    if (p >= end || *p < '0' || *p > '9') {
      fail_at(r, p, OCI_ESYNTAX, "invalid number: expected a digit after '.'");
      return NULL;
    }
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    *is_int = false;
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (p >= end || *p < '0' || *p > '9') {
      fail_at(r, p, OCI_ESYNTAX, "invalid number: expected an exponent digit");
      return NULL;
    }
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  return p;
}

typedef struct irange {
  int64_t min;
  uint64_t max;
} irange;

static irange kind_range(oci_kind k) {
  switch (k) {
  case OCI_K_I32: return (irange){INT32_MIN, INT32_MAX};
  case OCI_K_U16: return (irange){0, UINT16_MAX};
  case OCI_K_U32: return (irange){0, UINT32_MAX};
  case OCI_K_I64: return (irange){INT64_MIN, INT64_MAX};
  default: return (irange){0, UINT64_MAX};
  }
}

static COLD_PATH int read_integer(reader *r, oci_kind k, void *dst) {
  const char *s = r->p;
  if (s >= r->end || (*s != '-' && (*s < '0' || *s > '9')))
    return type_error(r, "integer");
  bool is_int;
  const char *e = scan_number(r, &is_int);
  if (!e) return r->err ? r->err->code : OCI_ESYNTAX;
  int len = (int)(e - s);
  if (!is_int)
    return fail_at(r, s, OCI_ETYPE,
                   "expected an integer, got %.*s (fraction or exponent)",
                   len > 40 ? 40 : len, s);
  bool neg = *s == '-';
  uint64_t mag = 0;
  irange rg = kind_range(k);
  if (e - (s + neg) <= 19) { /* < 10^19 < 2^64: no overflow check needed */
    for (const char *p = s + neg; p < e; p++)
      mag = mag * 10 + (unsigned)(*p - '0');
  } else
    for (const char *p = s + neg; p < e; p++) {
      unsigned d = (unsigned)(*p - '0');
      if (mag > (UINT64_MAX - d) / 10) goto out_of_range;
      mag = mag * 10 + d;
    }
  if (neg) {
    if (mag == 0) { /* -0 is the integer 0 */
    } else if (rg.min == 0 || mag > (uint64_t)(-(rg.min + 1)) + 1)
      goto out_of_range;
  } else if (mag > rg.max)
    goto out_of_range;
  r->p = e;
  switch (k) {
  case OCI_K_I32:
    *(int32_t *)dst = neg ? (int32_t)(0 - mag) : (int32_t)mag;
    break;
  case OCI_K_U16: *(uint16_t *)dst = (uint16_t)mag; break;
  case OCI_K_U32: *(uint32_t *)dst = (uint32_t)mag; break;
  case OCI_K_I64:
    *(int64_t *)dst = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    break;
  default: *(uint64_t *)dst = mag; break;
  }
  return OCI_OK;
out_of_range:
  return fail_at(r, s, OCI_ERANGE, "%.*s is out of range for %s",
                 len > 40 ? 40 : len, s, oci_kind_name(k));
}

/* The common shape inline: a non-negative integer of 1 to 18 digits, no
   leading zero, not followed by '.', 'e', 'E' or a 19th digit, within the
   kind's range. Anything else (a sign, a fraction, an exponent, a leading
   zero, 19 digits or more, out of range, not a number) goes to
   read_integer, which parses it again and reports it. */
static inline int read_uint_fast(reader *r, oci_kind k, void *dst) {
  const char *s = r->p, *p = s, *end = r->end;
  uint64_t v = 0;
  while (p < end && (unsigned char)(*p - '0') < 10 && p - s < 19)
    v = v * 10 + (unsigned)(*p++ - '0');
  size_t nd = (size_t)(p - s);
  if (nd == 0 || nd >= 19 || (*s == '0' && nd > 1) ||
      (p < end && (*p == '.' || *p == 'e' || *p == 'E')) ||
      v > kind_range(k).max)
    return read_integer(r, k, dst);
  switch (k) {
  case OCI_K_I32: *(int32_t *)dst = (int32_t)v; break;
  case OCI_K_U16: *(uint16_t *)dst = (uint16_t)v; break;
  case OCI_K_U32: *(uint32_t *)dst = (uint32_t)v; break;
  case OCI_K_I64: *(int64_t *)dst = (int64_t)v; break;
  default: *(uint64_t *)dst = v; break;
  }
  r->p = p;
  return OCI_OK;
}

/* strtod with a '.' decimal point whatever the C locale. */
static COLD_PATH int read_double(reader *r, double *dst) {
  const char *s = r->p;
  if (s >= r->end || (*s != '-' && (*s < '0' || *s > '9')))
    return type_error(r, "number");
  bool is_int;
  const char *e = scan_number(r, &is_int);
  if (!e) return r->err ? r->err->code : OCI_ESYNTAX;
  char buf[128];
  size_t n = (size_t)(e - s);
  if (n >= sizeof buf)
    return fail_at(r, s, OCI_ERANGE, "number with more than %zu characters",
                   sizeof buf - 1);
  memcpy(buf, s, n);
  buf[n] = '\0';
  const char *dp = localeconv()->decimal_point;
  if (dp && dp[0] && dp[0] != '.' && !dp[1]) {
    char *dot = strchr(buf, '.');
    if (dot) *dot = dp[0];
  }
  double v = strtod(buf, NULL);
  if (!isfinite(v))
    return fail_at(r, s, OCI_ERANGE, "%s is out of range for a double", buf);
  *dst = v;
  r->p = e;
  return OCI_OK;
}

/* ---- raw values (any JSON, kept as compact text) ----------------------- */

static int raw_value(reader *r);

static inline void raw_put(reader *r, const char *s, size_t n) {
  if (r->raw_out) oci_buf_append(&r->raw, s, n);
}

/* Lenient mode inside raw values: spans of each member's text, so that the
   last duplicate's value can take the first one's place, as it does for
   typed fields, maps and unknown members. */
typedef struct raw_member {
  size_t key, value, end; /* offsets into r->raw */
  size_t last;            /* index of the member whose value wins */
  bool dropped;           /* a later duplicate, folded into an earlier one */
} raw_member;

static int raw_fold_duplicates(reader *r, size_t start, raw_member *m,
                               size_t n) {
  oci_buf out = {0};
  oci_buf_putc(&out, '{');
  bool first = true;
  for (size_t i = 0; i < n; i++) {
    if (m[i].dropped) continue;
    if (!first) oci_buf_putc(&out, ',');
    first = false;
    const raw_member *w = &m[m[i].last];
    oci_buf_append(&out, r->raw.data + m[i].key, m[i].value - m[i].key);
    oci_buf_append(&out, r->raw.data + w->value, w->end - w->value);
  }
  oci_buf_putc(&out, '}');
  if (out.failed) return nomem(r);
  r->raw.len = start;
  oci_buf_append(&r->raw, out.data, out.len);
  oci_buf_free(&out);
  return OCI_OK;
}

static int raw_object(reader *r) {
  int rc = enter(r);
  if (rc) return rc;
  const size_t lvl = r->depth;
  size_t start = r->raw.len;
  raw_put(r, "{", 1);
  keyset ks;
  keyset_init(&ks);
  size_t count = 0;
  bool track = r->allow_dup && r->raw_out, folded = false;
  oci_buf spans = {0}; /* raw_member[], when tracking */
  skip_ws(r);
  if (r->p < r->end && *r->p == '}') {
    r->p++;
    goto done;
  }
  for (;;) {
    const char *kstart = r->p;
    const char *k = NULL;
    size_t n = 0, dup, klen_raw = 0;
    rc = read_key(r, &k, &n, true, &klen_raw);
    if (rc) goto out;
    rc = check_dup(r, lvl, &ks, kstart, k, n, count, &dup);
    if (rc) goto out;
    raw_member mem = {r->raw.len, 0, 0, count, false};
    raw_put(r, kstart, klen_raw);
    raw_put(r, ":", 1);
    mem.value = r->raw.len;
    rc = raw_value(r);
    if (rc) {
      error_key(r, lvl, k, n);
      goto out;
    }
    mem.end = r->raw.len;
    if (track) {
      if (dup != SIZE_MAX) {
        ((raw_member *)(void *)spans.data)[dup].last = count;
        mem.dropped = folded = true;
      }
      oci_buf_append(&spans, (const char *)&mem, sizeof mem);
    }
    count++;
    skip_ws(r);
    if (r->p < r->end && *r->p == ',') {
      r->p++;
      raw_put(r, ",", 1);
      skip_ws(r);
      continue;
    }
    if (r->p < r->end && *r->p == '}') {
      r->p++;
      break;
    }
    rc = r->p < r->end ? fail_at(r, r->p, OCI_ESYNTAX,
                                 "expected ',' or '}' after object member")
                       : unexpected(r);
    goto out;
  }
done:
  raw_put(r, "}", 1);
  if (spans.failed) {
    rc = nomem(r);
    goto out;
  }
  if (folded) {
    rc = raw_fold_duplicates(r, start, (raw_member *)(void *)spans.data, count);
    if (rc) goto out;
  }
  r->depth--;
  rc = OCI_OK;
out:
  oci_buf_free(&spans);
  keyset_free(&ks);
  return rc;
}

static int raw_array(reader *r) {
  int rc = enter(r);
  if (rc) return rc;
  const size_t lvl = r->depth;
  raw_put(r, "[", 1);
  skip_ws(r);
  if (r->p < r->end && *r->p == ']') {
    r->p++;
    goto done;
  }
  for (size_t i = 0;; i++) {
    rc = raw_value(r);
    if (rc) {
      error_index(r, lvl, i);
      return rc;
    }
    skip_ws(r);
    if (r->p < r->end && *r->p == ',') {
      r->p++;
      raw_put(r, ",", 1);
      skip_ws(r);
      if (r->p < r->end && *r->p == ']')
        return fail_at(r, r->p, OCI_ESYNTAX, "trailing comma in array");
      continue;
    }
    if (r->p < r->end && *r->p == ']') {
      r->p++;
      break;
    }
    return r->p < r->end ? fail_at(r, r->p, OCI_ESYNTAX,
                                   "expected ',' or ']' after array element")
                         : unexpected(r);
  }
done:
  raw_put(r, "]", 1);
  r->depth--;
  return OCI_OK;
}

static int raw_value(reader *r) {
  if (r->p >= r->end) return unexpected(r);
  const char *s = r->p;
  switch (*s) {
  case '{': return raw_object(r);
  case '[': return raw_array(r);
  case '"': {
    strspan sp;
    int rc = scan_str(r, &sp, true);
    if (rc) return rc;
    raw_put(r, s, sp.raw_len + 2);
    return OCI_OK;
  }
  case 't':
  case 'f':
  case 'n': {
    const char *lit = *s == 't' ? "true" : *s == 'f' ? "false" : "null";
    int rc = expect_literal(r, lit, strlen(lit));
    if (rc) return rc;
    raw_put(r, lit, strlen(lit));
    return OCI_OK;
  }
  default: {
    bool is_int;
    if (*s != '-' && (*s < '0' || *s > '9')) return unexpected(r);
    const char *e = scan_number(r, &is_int);
    if (!e) return r->err ? r->err->code : OCI_ESYNTAX;
    r->p = e;
    raw_put(r, s, (size_t)(e - s));
    return OCI_OK;
  }
  }
}

/* A raw value as compact text in the arena. */
static COLD_PATH int read_raw(reader *r, char **out) {
  size_t base = r->raw.len;
  int rc = raw_value(r);
  if (rc) return rc;
  if (r->raw.failed) return nomem(r);
  char *d = oci_arena_strndup(r->arena, r->raw.data + base, r->raw.len - base);
  r->raw.len = base;
  if (!d) return nomem(r);
  *out = d;
  return OCI_OK;
}

/* ---- typed values ------------------------------------------------------- */

static int read_value(reader *r, const oci_vtype *vt, void *dst);

/* Scratch for one element while it is read (the stack may move). */
typedef union elem_tmp {
  char *s;
  void *p;
  uint64_t u;
  double d;
  oci_map m;
  oci_array a;
} elem_tmp;

/* Append one element of size n (<= sizeof(elem_tmp)) to r->stack: the
   whole union is copied, a fixed size the compiler inlines, and the length
   moves by n (was an oci_buf_append call and a memcpy call per element). */
static inline bool stack_push(reader *r, const elem_tmp *t, size_t n) {
  oci_buf *b = &r->stack;
  if (b->cap - b->len < sizeof *t && !oci_buf_reserve(b, sizeof *t))
    return false;
  /* An element of up to 8 bytes (an object's pointer, a number) as one
     word: the value was just stored there with one 8-byte store, which
     the load takes straight from the store buffer; a 24-byte load of the
     union spanned that store and the clearing ones, and waited for them
     to reach the cache (perf: ~8 % of read_array's time on runc's
     config, whose mounts and namespaces are arrays of objects). */
  if (n <= sizeof t->u)
    memcpy(b->data + b->len, &t->u, sizeof t->u);
  else
    memcpy(b->data + b->len, t, sizeof *t);
  b->len += n;
  return true;
}

static COLD_PATH int read_array(reader *r, const oci_vtype *vt,
                                oci_array *dst) {
  if (r->p >= r->end || *r->p != '[') return type_error(r, "array");
  int rc = enter(r);
  if (rc) return rc;
  const size_t lvl = r->depth;
  const oci_vtype *el = vt->elem;
  size_t base = r->stack.len, n = 0;
  skip_ws(r);
  if (r->p < r->end && *r->p == ']') {
    r->p++;
    goto done;
  }
  for (;;) {
    if (el->kind == OCI_K_STRING && r->p < r->end && *r->p == '"') {
      /* the common element: its pointer read and pushed alone (no union
         to clear and copy) */
      char *str = NULL;
      rc = read_string(r, &str, NULL, false);
      if (rc) {
        error_index(r, lvl, n);
        return rc;
      }
      oci_buf *b = &r->stack;
      if (b->cap - b->len < sizeof str && !oci_buf_reserve(b, sizeof str))
        return nomem(r);
      memcpy(b->data + b->len, &str, sizeof str);
      b->len += sizeof str;
    } else {
      elem_tmp tmp;
      memset(&tmp, 0, sizeof tmp);
      if (r->p < r->end && *r->p == 'n' && el->kind != OCI_K_RAW)
        rc = type_error(r, oci_kind_name(el->kind));
      else
        rc = read_value(r, el, &tmp);
      if (rc) {
        error_index(r, lvl, n);
        return rc;
      }
      if (!stack_push(r, &tmp, el->size)) return nomem(r);
    }
    n++;
    skip_ws(r);
    if (r->p < r->end && *r->p == ',') {
      r->p++;
      skip_ws(r);
      if (r->p < r->end && *r->p == ']')
        return fail_at(r, r->p, OCI_ESYNTAX, "trailing comma in array");
      continue;
    }
    if (r->p < r->end && *r->p == ']') {
      r->p++;
      break;
    }
    return r->p < r->end ? fail_at(r, r->p, OCI_ESYNTAX,
                                   "expected ',' or ']' after array element")
                         : unexpected(r);
  }
done:
  if (r->stack.failed) return nomem(r);
  dst->len = n;
  dst->items = NULL;
  if (n) {
    dst->items = oci_arena_alloc_inline(r->arena, n * el->size);
    if (!dst->items) return nomem(r);
    memcpy(dst->items, r->stack.data + base, n * el->size);
  }
  r->stack.len = base;
  r->depth--;
  return OCI_OK;
}

/* A set's value is almost always `{}`: taken here (whitespace inside
   allowed) without the raw reader and with no arena copy (NULL stands for
   it). Below the depth limit only, so that the limit still applies to it
   exactly as it does through read_raw. */
static inline bool empty_object(reader *r) {
  if (r->depth + 1 > r->max_depth) return false;
  const char *save = r->p;
  r->p++;
  skip_ws(r);
  if (r->p < r->end && *r->p == '}') {
    r->p++;
    return true;
  }
  r->p = save;
  return false;
}

/* Maps (and sets): keys in input order, duplicates refused. */
static COLD_PATH int read_map(reader *r, const oci_vtype *vt, oci_map *dst) {
  if (r->p >= r->end || *r->p != '{') return type_error(r, "object");
  int rc = enter(r);
  if (rc) return rc;
  const size_t lvl = r->depth;
  bool is_set = vt->kind == OCI_K_SET;
  size_t vsize = is_set ? sizeof(char *) : vt->elem->size;
  size_t stride = sizeof(char *) + sizeof(elem_tmp);
  size_t base = r->stack.len, n = 0;
  keyset ks;
  keyset_init(&ks);
  skip_ws(r);
  if (r->p < r->end && *r->p == '}') {
    r->p++;
    goto done;
  }
  for (;;) {
    const char *kstart = r->p, *k = NULL;
    size_t klen = 0, dup;
    rc = read_key(r, &k, &klen, false, NULL);
    if (rc) goto out;
    char *key = oci_arena_chars_inline(r->arena, klen + 1);
    if (!key) {
      rc = nomem(r);
      goto out;
    }
    memcpy(key, k, klen);
    key[klen] = '\0';
    rc = check_dup(r, lvl, &ks, kstart, key, klen, n, &dup);
    if (rc) goto out;
    elem_tmp tmp;
    memset(&tmp, 0, sizeof tmp);
    if (is_set) {
      if (r->p >= r->end || *r->p != '{')
        rc = type_error(r, "object");
      else if (!empty_object(r))
        rc = read_raw(r, &tmp.s);
      if (!rc && tmp.s && strcmp(tmp.s, "{}") == 0) tmp.s = NULL;
    } else if (vt->elem->kind == OCI_K_STRING && r->p < r->end &&
               *r->p == '"') /* the common value (labels, annotations) */
      rc = read_string(r, &tmp.s, NULL, false);
    else if (r->p < r->end && *r->p == 'n' && vt->elem->kind != OCI_K_RAW)
      rc = type_error(r, oci_kind_name(vt->elem->kind));
    else
      rc = read_value(r, vt->elem, &tmp);
    if (rc) {
      error_key(r, lvl, key, klen);
      goto out;
    }
    if (dup != SIZE_MAX) {
      /* lenient: the last value wins, in the first key's place */
      memcpy(r->stack.data + base + dup * stride + sizeof(char *), &tmp,
             sizeof tmp);
    } else {
      /* key and value in one inline reservation; on failure stop at once
         (a later lenient duplicate must not write past what was kept) */
      oci_buf *b = &r->stack;
      if (b->cap - b->len < stride && !oci_buf_reserve(b, stride)) {
        rc = nomem(r);
        goto out;
      }
      memcpy(b->data + b->len, &key, sizeof key);
      memcpy(b->data + b->len + sizeof key, &tmp, sizeof tmp);
      b->len += stride;
      n++;
    }
    skip_ws(r);
    if (r->p < r->end && *r->p == ',') {
      r->p++;
      skip_ws(r);
      continue;
    }
    if (r->p < r->end && *r->p == '}') {
      r->p++;
      break;
    }
    rc = r->p < r->end ? fail_at(r, r->p, OCI_ESYNTAX,
                                 "expected ',' or '}' after object member")
                       : unexpected(r);
    goto out;
  }
done:
  if (r->stack.failed) {
    rc = nomem(r);
    goto out;
  }
  dst->len = n;
  dst->keys = NULL;
  dst->values = NULL;
  if (n) {
    dst->keys = oci_arena_alloc(r->arena, n * sizeof(char *));
    dst->values = oci_arena_alloc(r->arena, n * vsize);
    if (!dst->keys || !dst->values) {
      rc = nomem(r);
      goto out;
    }
    const char *src = r->stack.data + base;
    for (size_t i = 0; i < n; i++, src += stride) {
      memcpy(&dst->keys[i], src, sizeof(char *));
      memcpy((char *)dst->values + i * vsize, src + sizeof(char *), vsize);
    }
  }
  r->stack.len = base;
  r->depth--;
  rc = OCI_OK;
out:
  keyset_free(&ks);
  return rc;
}

/* Find field by key, trying the one after the last match first: documents
   usually list fields in declaration order, so the first candidate is
   usually the one. With the type's compile-time tables (t->fast) and a key
   that lies in the input, the key's first and last 8 bytes, loaded as two
   words, are compared with each field's: no memcmp for keys of up to 16
   bytes, and for longer ones only on the candidate that matched both. */
static const oci_field *match_field(const reader *r, const oci_type *t,
                                    const oci_field_fast *ff, const char *k,
                                    size_t n, size_t *hint) {
  size_t nf = t->nfields;
#if OCI_SWAR
  if (ff && nf && r->key_in_input && r->end - k >= 8) {
    uint64_t kh = load8(k), kt;
    if (n >= 8)
      kt = load8(k + n - 8);
    else
      kt = kh &= ((uint64_t)1 << (8 * n)) - 1;
    size_t j = *hint;
    for (size_t i = 0; i < nf; i++) {
      const oci_field_fast *c = &ff[j];
      if (c->head == kh && c->tail == kt && c->len == n &&
          (n <= 16 || memcmp(k + 8, t->fields[j].key + 8, n - 16) == 0)) {
        *hint = j + 1 == nf ? 0 : j + 1;
        return &t->fields[j];
      }
      if (++j == nf) j = 0;
    }
    return NULL;
  }
#else
  (void)r;
  (void)ff;
#endif
  for (size_t i = 0; i < nf; i++) {
    size_t j = *hint + i;
    if (j >= nf) j -= nf;
    const oci_field *f = &t->fields[j];
    /* length and first byte before the memcmp call */
    if (f->key_len == n &&
        (n == 0 || (f->key[0] == k[0] && memcmp(f->key, k, n) == 0))) {
      *hint = j + 1 == nf ? 0 : j + 1;
      return f;
    }
  }
  return NULL;
}

static int read_object(reader *r, const oci_type *t, void **out) {
  const char *open = r->p;
  if (r->p >= r->end || *r->p != '{') return type_error(r, "object");
  int rc = enter(r);
  if (rc) return rc;
  const size_t lvl = r->depth;
  oci_object *o = oci_arena_alloc_inline(r->arena, t->size);
  if (!o) return nomem(r);
  memset(o, 0, t->size);
  o->arena = r->arena;
  size_t hint = 0, nextra = 0, base = r->stack.len;
  const oci_field_fast *ff = oci_type_fast(t); /* once per object */
  keyset ks;
  keyset_init(&ks);
  skip_ws(r);
  if (r->p < r->end && *r->p == '}') {
    r->p++;
    goto done;
  }
  for (;;) {
    const char *kstart = r->p, *k = NULL;
    size_t klen = 0;
    rc = read_key(r, &k, &klen, false, NULL);
    if (rc) goto out;
    const oci_field *f = match_field(r, t, ff, k, klen, &hint);
    if (f) {
      uint64_t bit = (uint64_t)1 << f->index;
      if ((o->present & bit) && !r->allow_dup) {
        rc = fail_at(r, kstart, OCI_EDUPKEY, "duplicate key \"%s\"", f->key);
        error_key(r, lvl, f->key, f->key_len);
        goto out;
      }
      if (f->vt->kind == OCI_K_STRING && r->p < r->end && *r->p == '"') {
        /* the common member, without read_value's dispatch */
        rc = read_string(r, (char **)((char *)o + f->offset), NULL, false);
        o->nulls &= ~bit;
      } else if (r->p < r->end && *r->p == 'n') {
        if (f->flags & OCI_F_REQUIRED) {
          rc = fail_at(r, r->p, OCI_ETYPE,
                       "required field \"%s\" must not be null", f->key);
        } else {
          rc = expect_literal(r, "null", 4);
          o->nulls |= bit;
        }
      } else {
        rc = read_value(r, f->vt, (char *)o + f->offset);
        o->nulls &= ~bit;
      }
      if (rc) {
        error_key(r, lvl, f->key, f->key_len);
        goto out;
      }
      o->present |= bit;
    } else {
      size_t dup;
      char *key = oci_arena_strndup(r->arena, k, klen);
      if (!key) {
        rc = nomem(r);
        goto out;
      }
      rc = check_dup(r, lvl, &ks, kstart, key, klen, nextra, &dup);
      if (rc) goto out;
      char *raw;
      rc = read_raw(r, &raw);
      if (rc) {
        error_key(r, lvl, key, klen);
        goto out;
      }
      if (dup != SIZE_MAX) {
        memcpy(r->stack.data + base + dup * 2 * sizeof(char *) + sizeof(char *),
               &raw, sizeof raw);
      } else {
        oci_buf_append(&r->stack, (const char *)&key, sizeof key);
        oci_buf_append(&r->stack, (const char *)&raw, sizeof raw);
        nextra++;
      }
    }
    skip_ws(r);
    if (r->p < r->end && *r->p == ',') {
      r->p++;
      skip_ws(r);
      continue;
    }
    if (r->p < r->end && *r->p == '}') {
      r->p++;
      break;
    }
    rc = r->p < r->end ? fail_at(r, r->p, OCI_ESYNTAX,
                                 "expected ',' or '}' after object member")
                       : unexpected(r);
    goto out;
  }
done : {
  /* a declared type's mask is in its codec table */
  uint64_t missing =
      (ff && t->nfields ? ff[0].required : required_mask(r, t)) & ~o->present;
  if (missing && !r->allow_missing) {
    const oci_field *f = &t->fields[__builtin_ctzll(missing)];
    rc = fail_at(r, open, OCI_EMISSING, "missing required field \"%s\" in %s",
                 f->key, t->name);
    goto out;
  }
}
  if (r->stack.failed) {
    rc = nomem(r);
    goto out;
  }
  if (nextra) {
    oci_extra *x = oci_extra_new(r->arena, nextra);
    if (!x) {
      rc = nomem(r);
      goto out;
    }
    const char *src = r->stack.data + base;
    for (size_t i = 0; i < nextra; i++, src += 2 * sizeof(char *)) {
      memcpy(&x->keys[i], src, sizeof(char *));
      memcpy(&x->raws[i], src + sizeof(char *), sizeof(char *));
    }
    o->extra = x;
  }
  r->stack.len = base;
  r->depth--;
  *out = o;
  rc = OCI_OK;
out:
  keyset_free(&ks);
  return rc;
}

static int read_value(reader *r, const oci_vtype *vt, void *dst) {
  if (r->p >= r->end) return unexpected(r);
  switch (vt->kind) {
  case OCI_K_STRING:
    if (*r->p != '"') return type_error(r, "string");
    return read_string(r, (char **)dst, NULL, false);
  case OCI_K_BOOL:
    /* the literal as one word when 5 bytes are left (the byte after
       "true" is not part of it: the caller's separator check sees it) */
    if (OCI_SWAR && r->end - r->p >= 5) {
      uint32_t w;
      memcpy(&w, r->p, 4);
      if (w == ('t' | 'r' << 8 | 'u' << 16 | (uint32_t)'e' << 24)) {
        *(bool *)dst = true;
        r->p += 4;
        return OCI_OK;
      }
      if (w == ('f' | 'a' << 8 | 'l' << 16 | (uint32_t)'s' << 24) &&
          r->p[4] == 'e') {
        *(bool *)dst = false;
        r->p += 5;
        return OCI_OK;
      }
    }
    if (*r->p == 't') {
      *(bool *)dst = true;
      return expect_literal(r, "true", 4);
    }
    if (*r->p == 'f') {
      *(bool *)dst = false;
      return expect_literal(r, "false", 5);
    }
    return type_error(r, "boolean");
  case OCI_K_I32:
  case OCI_K_U16:
  case OCI_K_U32:
  case OCI_K_I64:
  case OCI_K_U64: return read_uint_fast(r, vt->kind, dst);
  case OCI_K_DOUBLE: return read_double(r, (double *)dst);
  case OCI_K_RAW: return read_raw(r, (char **)dst);
  case OCI_K_OBJECT: return read_object(r, vt->object, (void **)dst);
  case OCI_K_ARRAY: return read_array(r, vt, (oci_array *)dst);
  case OCI_K_MAP:
  case OCI_K_SET: return read_map(r, vt, (oci_map *)dst);
  }
  return unexpected(r);
}

/* ---- entry points ------------------------------------------------------ */

static int reader_init(reader *r, const char *buf, size_t len,
                       const oci_parse_options *opts, oci_error *err) {
  oci_parse_options def = OCI_PARSE_OPTIONS_INIT;
  if (!opts) opts = &def;
  memset(r, 0, offsetof(reader, path_small));
  r->path = r->path_small;
  r->path_cap = sizeof r->path_small / sizeof r->path_small[0];
  r->stack.data = r->stack_small;
  r->stack.cap = sizeof r->stack_small;
  r->stack.borrowed = true;
  oci_error_reset(err); /* before any return: no stale pointer or position */
  int vrc = oci_options_check(err, "oci_parse_options", opts->version,
                              OCI_PARSE_OPTIONS_VERSION);
  if (vrc) return vrc;
  r->start = r->p = buf;
  r->end = buf + len;
  r->err = err;
  r->max_depth = opts->max_depth ? opts->max_depth : OCI_DEFAULT_MAX_DEPTH;
  if (r->max_depth > OCI_MAX_DEPTH_LIMIT)
    return oci_error_set(err, OCI_EINVAL,
                         "max_depth %zu exceeds the hard limit of %d (the "
                         "reader recurses once per level)",
                         r->max_depth, OCI_MAX_DEPTH_LIMIT);
  r->max_string = opts->max_string ? opts->max_string : OCI_DEFAULT_MAX_STRING;
  r->allow_dup = opts->allow_duplicate_keys;
  r->allow_missing = opts->allow_missing_required;
  r->raw_out = true;
  size_t max_size = opts->max_size ? opts->max_size : OCI_DEFAULT_MAX_SIZE;
  if (len > max_size)
    return oci_error_set(err, OCI_ETOOBIG,
                         "document of %zu bytes exceeds the limit of %zu", len,
                         max_size);
  if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
    return fail_at(r, buf, OCI_ESYNTAX,
                   "byte order mark at the start of the document (RFC 8259 "
                   "section 8.1 forbids it)");
  skip_ws(r);
  if (r->p >= r->end)
    return fail_at(r, r->p, OCI_ESYNTAX, "empty document: expected a value");
  return OCI_OK;
}

static void reader_done(reader *r) {
  if (r->path != r->path_small) free(r->path);
  oci_buf_free(&r->stack);
  oci_buf_free(&r->raw);
}

static int expect_end(reader *r) {
  skip_ws(r);
  if (r->p < r->end)
    return fail_at(r, r->p, OCI_ESYNTAX,
                   "trailing characters after the JSON value");
  return OCI_OK;
}

void oci_parse_options_init(oci_parse_options *o) {
  *o = (oci_parse_options)OCI_PARSE_OPTIONS_INIT;
}

int oci_parse(const oci_type *t, const char *buf, size_t len,
              const oci_parse_options *opts, void **out, oci_error *err) {
  oci_error_reset(err);
  reader r;
  *out = NULL;
  int rc = reader_init(&r, buf, len, opts, err);
  if (!rc) {
    /* Parsed documents take about their JSON size (pretty-printed: 1.1-1.4x
       bench/README.md "Memory"); start there. If the first block runs out,
       the next one is sized from the input left to read. */
    r.arena = oci_arena_new(len + len / 8 + 128);
    if (!r.arena) rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  void *obj = NULL;
  if (!rc) {
    oci_arena_track_input(r.arena, &r.p, r.start, r.end);
    rc = read_object(&r, t, &obj);
    oci_arena_track_input(r.arena, NULL, NULL, NULL);
  }
  if (!rc) rc = expect_end(&r);
  finish_error(&r, rc);
  if (rc) {
    oci_arena_free(r.arena);
  } else {
    oci_arena_set_root(r.arena, obj);
    *out = obj;
  }
  reader_done(&r);
  return rc;
}

int oci_json_check(const char *buf, size_t len, const oci_parse_options *opts,
                   oci_error *err) {
  oci_error_reset(err);
  reader r;
  int rc = reader_init(&r, buf, len, opts, err);
  if (!rc) {
    r.arena = oci_arena_new(0); /* only for keys with escapes */
    if (!r.arena) rc = oci_error_set(err, OCI_ENOMEM, "out of memory");
  }
  r.raw_out = false;
  if (!rc) rc = raw_value(&r);
  if (!rc) rc = expect_end(&r);
  finish_error(&r, rc);
  oci_arena_free(r.arena);
  reader_done(&r);
  return rc;
}

int oci_json_compact(const char *buf, size_t len, oci_arena *a, char **out,
                     oci_error *err) {
  return oci_json_compact_opts(buf, len, NULL, a, out, err);
}

int oci_json_compact_opts(const char *buf, size_t len,
                          const oci_parse_options *opts, oci_arena *a,
                          char **out, oci_error *err) {
  reader r;
  int rc = reader_init(&r, buf, len, opts, err);
  r.arena = a;
  if (!rc) rc = read_raw(&r, out);
  if (!rc) rc = expect_end(&r);
  finish_error(&r, rc);
  reader_done(&r);
  return rc;
}
