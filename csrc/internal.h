/* Internal helpers shared by the core's files (not installed). */
#ifndef OCISPEC_INTERNAL_H
#define OCISPEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ocispec/schema.h"

/* The first statement of every public function that takes an oci_error *
   (DESIGN.md "C API": every function taking one resets it on entry): no
   code, message, pointer or position of an earlier call survives into
   this one, whatever the caller left in the struct. err may be NULL.
   Cheaper than oci_error_clear (no memset of the two buffers): the
   strings are emptied, which is all a reader of the struct can see. */
static inline void oci_error_reset(oci_error *err) {
  if (err) {
    err->code = OCI_OK;
    err->message[0] = '\0';
    err->pointer[0] = '\0';
    err->line = 0;
    err->column = 0;
    err->offset = 0;
  }
}

/* oci_set_string reporting why it failed in err: OCI_EUTF8 naming the
   member and the (quoted, escaped) string, or OCI_ENOMEM. For strings
   from outside (a server's header, a caller's argument): their failure is
   not "out of memory". */
int oci_set_string_err(void *obj, const oci_field *f, const char *s,
                       oci_error *err);

/* The root object of the document arena a holds (set by oci_new, oci_clone
   and oci_parse, the functions that hand out documents): oci_free frees
   the arena only when given that object. NULL: none (an arena the caller
   made with oci_arena_new). */
void oci_arena_set_root(oci_arena *a, void *root);
const void *oci_arena_root(const oci_arena *a);

/* While a parse fills arena a from [start, end), *pos is the reader's
   position: new blocks are then sized from the bytes left to read. Call
   with pos NULL before the reader goes away. */
void oci_arena_track_input(oci_arena *a, const char *const *pos,
                           const char *start, const char *end);

/* The arena's layout (arena.c owns it), here for the inline fast paths of
   the codec: the reader takes one allocation per string and per object,
   and a call per allocation cost more than the allocation (bench/README.md
   "Fixed and per-value costs"). Each block is filled from both ends:
   strings (no alignment) grow up from `lo`, aligned allocations down from
   `hi`; the free space [lo, hi) lies between. Strings go up so that the
   reader can store a whole 16-byte step of a string into the free space
   above it and keep the string's bytes only. The payload follows the
   header. What the arena handed out is not counted on the way:
   oci_arena_used adds it up from the blocks. */
typedef struct oci_arena_block {
  struct oci_arena_block *next;
  size_t lo;  /* strings end here; free space is [lo, hi) */
  size_t hi;  /* aligned allocations start here */
  size_t cap; /* payload bytes (a multiple of 8) */
} oci_arena_block;

struct oci_arena {
  oci_arena_block *head;
  size_t total; /* bytes taken from malloc for payloads */
  void *root;   /* the document's root object (oci_free's check), or NULL */
  /* While a parse fills the arena: the reader's position in its input
     (oci_arena_track_input), so that a new block is sized from the bytes
     left to read; NULL otherwise. */
  const char *const *in_pos;
  const char *in_start, *in_end;
};

#define OCI_ARENA_ALIGN 8u

/* A new block for an allocation that does not fit the head's free space
   (`chars`: string bytes, taken from the top). NULL: out of memory. */
void *oci_arena_alloc_slow(oci_arena *a, size_t size, bool chars);

/* oci_arena_alloc_chars and oci_arena_alloc, inline. */
static inline char *oci_arena_chars_inline(oci_arena *a, size_t size) {
  oci_arena_block *b = a->head;
  if (b->hi - b->lo >= size) {
    char *p = (char *)(b + 1) + b->lo;
    b->lo += size;
    return p;
  }
  return oci_arena_alloc_slow(a, size, true);
}
static inline void *oci_arena_alloc_inline(oci_arena *a, size_t size) {
  if (size > SIZE_MAX - OCI_ARENA_ALIGN) return NULL;
  size = (size + OCI_ARENA_ALIGN - 1) & ~(size_t)(OCI_ARENA_ALIGN - 1);
  oci_arena_block *b = a->head;
  if (b->hi - b->lo >= size) {
    b->hi -= size;
    return (char *)(b + 1) + b->hi;
  }
  return oci_arena_alloc_slow(a, size, false);
}

/* An oci_extra of n members (keys and raws not set, len = n) in arena a,
   struct and both arrays in one allocation; NULL: out of memory. */
oci_extra *oci_extra_new(oci_arena *a, size_t n);

/* The options convention (schema.h "limits"): a function given an options
   struct checks its version first. `what` is the struct's name
   ("oci_layer_options"), `known` the newest version this library has;
   versions 1 to known are accepted, anything else (0 included: a struct
   zeroed instead of initialised) is OCI_EINVAL. */
static inline int oci_options_check(oci_error *err, const char *what,
                                    unsigned version, unsigned known) {
  if (version >= 1 && version <= known) return OCI_OK;
  return oci_error_set(err, OCI_EINVAL,
                       "%s: unknown version %u (this library knows 1 to %u; "
                       "start from %s_init() or its _INIT macro)",
                       what, version, known, what);
}

/* Per-field tables the codec uses, computed at compile time from the
   declarations (schema.c): the key's bytes as two little-endian words for
   the reader's key lookup (no memcmp for keys up to 16 bytes), and the key
   as the writer emits it, quoted, with its colon, in a padded array that
   can be copied 8 bytes at a time. Found with oci_type_fast(); types
   declared by hand have none and take the generic paths. */
#define OCI_QUOTED_KEY_MAX 40
typedef struct oci_field_fast {
  uint64_t head; /* key bytes 0..7, zero-padded */
  uint64_t tail; /* key bytes len-8..len-1 when len >= 8, else head */
  /* "\"key\": " (compact output uses all but the final space) */
  char quoted[OCI_QUOTED_KEY_MAX];
  uint32_t len;      /* key length */
  uint32_t required; /* the type's required fields (oci_required_mask) */
} oci_field_fast;

/* Where the declared types' fields and codec tables are (schema.c): the
   field arrays of every type of types.def lie in one object, and their
   codec tables at the same indexes in another. */
typedef struct oci_codec_tables {
  const oci_field *fields;
  size_t fields_size;
  const oci_field_fast *fast;
} oci_codec_tables;
extern const oci_codec_tables oci_codec_tables_all;

/* The codec tables of t's fields (indexed like t->fields; static), or NULL
   for a type not declared in types.def. Inline: the reader and the writer
   ask once per object. */
static inline const oci_field_fast *oci_type_fast(const oci_type *t) {
  uintptr_t off = (uintptr_t)t->fields - (uintptr_t)oci_codec_tables_all.fields;
  if (off >= oci_codec_tables_all.fields_size) return NULL;
  return oci_codec_tables_all.fast + off / sizeof(oci_field);
}

/* A growing byte buffer (malloc'd). `failed` latches allocation failure so
   writers can append without checking every call. */
typedef struct oci_buf {
  char *data;
  size_t len;
  size_t cap;
  bool failed;
  /* data is the caller's (a fixed array, e.g. on its stack): growing
     copies it to the heap, oci_buf_free does not free it */
  bool borrowed;
} oci_buf;

bool oci_buf_reserve(oci_buf *b, size_t extra);
void oci_buf_append(oci_buf *b, const char *s, size_t n);
static inline void oci_buf_putc(oci_buf *b, char c) {
  if (b->len < b->cap || oci_buf_reserve(b, 1)) b->data[b->len++] = c;
}
void oci_buf_free(oci_buf *b);

/* JSON string escaping as serde_json does it: ", \, and control chars.
   Returns false when s[0..n) is not valid UTF-8 (it is written anyway: the
   caller must not use the output then). */
bool oci_json_write_string(oci_buf *b, const char *s, size_t n);

/* OCI_OK when every string, member name and raw value of obj can be
   written as JSON (valid UTF-8; raw values one JSON value); else
   OCI_EUTF8 with the JSON Pointer of the first that cannot. */
int oci_json_check_writable(const oci_type *t, const void *obj, oci_error *err);

/* Re-emit compact raw JSON text (already validated) compactly or pretty at
   the given indent depth. */
void oci_json_write_raw(oci_buf *b, const char *raw, bool pretty,
                        unsigned depth);

/* Parse any JSON value into compact text in arena a (for RAW fields set
   from Lua or C). */
int oci_json_compact(const char *buf, size_t len, oci_arena *a, char **out,
                     oci_error *err);

int oci_json_compact_opts(const char *buf, size_t len,
                          const oci_parse_options *opts, oci_arena *a,
                          char **out, oci_error *err);

/* Decode the body of a validated JSON string (between the quotes) into
   out (raw_len + 1 bytes); returns the decoded length. */
size_t oci_json_unescape(const char *body, size_t raw_len, char *out);

/* Whether s[0..n) is valid UTF-8 (no surrogates, overlongs, > U+10FFFF). */
bool oci_utf8_valid(const char *s, size_t n);

/* Decimal text of integers. Returns the length written (max 20). */
size_t oci_u64_to_dec(uint64_t v, char *out);
size_t oci_i64_to_dec(int64_t v, char *out);

/* Fill err->line and err->column from err->offset within buf. */
void oci_error_locate(oci_error *err, const char *buf, size_t len);

/* Append a JSON Pointer segment (escaping ~ and /) to out of size cap. */
void oci_pointer_append(char *out, size_t cap, const char *seg, size_t n);
void oci_pointer_append_index(char *out, size_t cap, size_t index);

/* Write data[0..len) to path atomically (a temporary file beside it, mode
   0644, fsync, rename); on failure nothing is left at path or beside it. */
int oci_file_write_atomic(const char *path, const char *data, size_t len,
                          oci_error *err);
/* The same with the file's permission bits (0600 for a file of secrets:
   the temporary file has them before any byte is written). */
int oci_file_write_atomic_mode(const char *path, const char *data, size_t len,
                               unsigned mode, oci_error *err);

/* Range of each integer kind, for messages and checks. */
const char *oci_kind_name(oci_kind k);

/* Deep copy of a value of vtype vt from src into dst (arena a). */
int oci_copy_value(const oci_vtype *vt, const void *src, void *dst,
                   oci_arena *a);
/* Deep equality of two values of vtype vt. */
bool oci_equal_value(const oci_vtype *vt, const void *x, const void *y);

/* Bitmask of the required fields of t. */
uint64_t oci_required_mask(const oci_type *t);

#endif
