/* Conversions between C values (driven by their vtype) and Lua values.

   Shapes follow lua-cjson: objects and maps are tables with string keys,
   arrays are sequences (empty ones carry cjson.empty_array_mt when it is
   registered), JSON null is cjson.null (a NULL light userdata). A uint64
   above math.maxinteger is a decimal string, both ways. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h"
#include "binding.h"

#define ARRAY_MT_KEY "ocispec.empty_array_mt"

void ocil_set_array_mt(lua_State *L, int tableidx) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, ARRAY_MT_KEY) == LUA_TTABLE)
    lua_setmetatable(L, tableidx < 0 ? tableidx - 1 : tableidx);
  else
    lua_pop(L, 1);
}

static bool has_array_mt(lua_State *L, int idx) {
  if (!lua_getmetatable(L, idx)) return false;
  lua_getfield(L, LUA_REGISTRYINDEX, ARRAY_MT_KEY);
  bool same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same;
}

/* ---- C -> Lua ----------------------------------------------------------- */

static void push_u64(lua_State *L, uint64_t v) {
  if (v <= (uint64_t)LUA_MAXINTEGER) {
    lua_pushinteger(L, (lua_Integer)v);
  } else {
    char buf[24];
    size_t n = oci_u64_to_dec(v, buf);
    lua_pushlstring(L, buf, n);
  }
}

/* The leaves of push_raw, out of line so that its recursive frame stays
   small (a luaL_Buffer is about 1 KiB). */
static __attribute__((noinline)) const char *push_raw_string(lua_State *L,
                                                             const char *p) {
  const char *q = p + 1;
  while (*q != '"')
    q += *q == '\\' ? 2 : 1;
  size_t raw = (size_t)(q - p - 1);
  luaL_Buffer b;
  char *out = luaL_buffinitsize(L, &b, raw + 1);
  size_t n = oci_json_unescape(p + 1, raw, out);
  luaL_pushresultsize(&b, n);
  return q + 1;
}

static __attribute__((noinline)) const char *push_raw_number(lua_State *L,
                                                             const char *p) {
  const char *e = p;
  while (*e && strchr("-+.eE0123456789", *e))
    e++;
  char buf[64];
  size_t n = (size_t)(e - p);
  const char *text = buf;
  if (n < sizeof buf) {
    memcpy(buf, p, n);
    buf[n] = '\0';
  } else { /* a long one: a NUL-terminated copy in Lua */
    lua_pushlstring(L, p, n);
    text = lua_tostring(L, -1);
  }
  /* As lua-cjson: integers that fit are integers, the rest floats (those
     past the double range are infinite). */
  if (!lua_stringtonumber(L, text)) lua_pushnumber(L, HUGE_VAL);
  if (text != buf) lua_remove(L, -2);
  return e;
}

/* Push a compact raw JSON value (already validated) as Lua values. Every
   raw value went through the reader, so it nests at most
   OCI_MAX_DEPTH_LIMIT deep; the check below is a guard, and each level
   makes room on the Lua stack for the table, a key and a value (a
   coroutine's stack starts at 40 slots). */
static const char *push_raw(lua_State *L, const char *p, int depth) {
  switch (*p) {
  case '{':
  case '[': {
    if (depth >= OCI_MAX_DEPTH_LIMIT)
      luaL_error(L, "JSON value nested deeper than %d levels",
                 OCI_MAX_DEPTH_LIMIT);
    luaL_checkstack(L, 4, "JSON value too deep");
    lua_newtable(L);
    if (*p++ == '{') {
      while (*p != '}') {
        p = push_raw_string(L, p); /* key */
        p++;                       /* ':' */
        p = push_raw(L, p, depth + 1);
        lua_rawset(L, -3);
        if (*p == ',') p++;
      }
      return p + 1;
    }
    lua_Integer i = 0;
    while (*p != ']') {
      p = push_raw(L, p, depth + 1);
      lua_rawseti(L, -2, ++i);
      if (*p == ',') p++;
    }
    if (!i) ocil_set_array_mt(L, -1);
    return p + 1;
  }
  case '"': return push_raw_string(L, p);
  case 't': lua_pushboolean(L, 1); return p + 4;
  case 'f': lua_pushboolean(L, 0); return p + 5;
  case 'n': lua_pushlightuserdata(L, NULL); return p + 4;
  default: return push_raw_number(L, p);
  }
}

void ocil_push_value(lua_State *L, int parent, const oci_vtype *vt,
                     const void *p, int as_table) {
  switch (vt->kind) {
  case OCI_K_STRING: {
    const char *s = *(char *const *)p;
    if (s)
      lua_pushstring(L, s);
    else
      lua_pushnil(L);
    break;
  }
  case OCI_K_BOOL: lua_pushboolean(L, *(const bool *)p); break;
  case OCI_K_I32: lua_pushinteger(L, *(const int32_t *)p); break;
  case OCI_K_U16: lua_pushinteger(L, *(const uint16_t *)p); break;
  case OCI_K_U32:
    lua_pushinteger(L, (lua_Integer) * (const uint32_t *)p);
    break;
  case OCI_K_I64: lua_pushinteger(L, (lua_Integer) * (const int64_t *)p); break;
  case OCI_K_U64: push_u64(L, *(const uint64_t *)p); break;
  case OCI_K_DOUBLE: lua_pushnumber(L, *(const double *)p); break;
  case OCI_K_RAW: {
    const char *raw = *(char *const *)p;
    if (raw)
      push_raw(L, raw, 0);
    else
      lua_pushlightuserdata(L, NULL);
    break;
  }
  case OCI_K_OBJECT: {
    void *o = *(void *const *)p;
    if (!o)
      lua_pushnil(L);
    else if (as_table)
      ocil_push_table(L, vt->object, o);
    else
      ocil_push_child(L, parent, vt->object, o);
    break;
  }
  case OCI_K_ARRAY: {
    const oci_array *a = p;
    luaL_checkstack(L, 4, "document too deep");
    lua_createtable(L, (int)a->len, 0);
    for (size_t i = 0; i < a->len; i++) {
      ocil_push_value(L, parent, vt->elem,
                      (const char *)a->items + i * vt->elem->size, as_table);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    if (!a->len && as_table) ocil_set_array_mt(L, -1);
    break;
  }
  case OCI_K_SET:
  case OCI_K_MAP: {
    const oci_map *m = p;
    luaL_checkstack(L, 4, "document too deep");
    if (vt->kind == OCI_K_SET && !as_table) {
      /* getters: the keys, in order (as oci-spec-rs gives a Vec) */
      lua_createtable(L, (int)m->len, 0);
      for (size_t i = 0; i < m->len; i++) {
        lua_pushstring(L, m->keys[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      break;
    }
    lua_createtable(L, 0, (int)m->len);
    for (size_t i = 0; i < m->len; i++) {
      ocil_push_value(L, parent, vt->elem,
                      (const char *)m->values + i * vt->elem->size, as_table);
      if (vt->kind == OCI_K_SET && lua_type(L, -1) == LUA_TLIGHTUSERDATA) {
        lua_pop(L, 1); /* a NULL set value means {} */
        lua_newtable(L);
      }
      lua_setfield(L, -2, m->keys[i]);
    }
    break;
  }
  }
}

void ocil_push_table(lua_State *L, const oci_type *t, const void *obj) {
  const oci_object *o = obj;
  luaL_checkstack(L, 8, "document too deep");
  lua_createtable(L, 0, (int)t->nfields);
  for (size_t i = 0; i < t->nfields; i++) {
    const oci_field *f = &t->fields[i];
    if (!(o->present >> f->index & 1)) continue;
    if (o->nulls >> f->index & 1)
      lua_pushlightuserdata(L, NULL);
    else
      ocil_push_value(L, 0, f->vt, (const char *)obj + f->offset, 1);
    lua_setfield(L, -2, f->key);
  }
  const oci_extra *x = o->extra;
  for (size_t i = 0, n = x ? x->len : 0; i < n; i++) {
    push_raw(L, x->raws[i], 0);
    lua_setfield(L, -2, x->keys[i]);
  }
}

/* ---- Lua -> C ----------------------------------------------------------- */

static int conv_fail(ocil_conv *c, int code, const char *fmt, ...)
    OCI_PRINTF(3, 4);
static int conv_fail(ocil_conv *c, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->message, sizeof c->message, fmt, ap);
  va_end(ap);
  c->code = code;
  return code;
}

/* Limits (0 = the parse defaults; the depth never past the hard limit,
   which bounds the recursion of every conversion). */
static size_t max_depth(const ocil_conv *c) {
  size_t d = c->max_depth ? c->max_depth : OCI_DEFAULT_MAX_DEPTH;
  return d > OCI_MAX_DEPTH_LIMIT ? OCI_MAX_DEPTH_LIMIT : d;
}
static size_t max_size(const ocil_conv *c) {
  return c->max_size ? c->max_size : OCI_DEFAULT_MAX_SIZE;
}
static size_t max_string(const ocil_conv *c) {
  return c->max_string ? c->max_string : OCI_DEFAULT_MAX_STRING;
}

/* Entering a container (a table becoming an object, array, map or JSON
   value): one more level, and room on the Lua stack for the iteration.
   Pair with leave() whatever the result. */
static int enter(lua_State *L, ocil_conv *c) {
  if (++c->depth > max_depth(c))
    return conv_fail(c, OCI_EDEPTH,
                     "nesting deeper than %zu levels (max_depth; a cycle?)",
                     max_depth(c));
  if (!lua_checkstack(L, 8)) return conv_fail(c, OCI_ENOMEM, "out of memory");
  return OCI_OK;
}
static void leave(ocil_conv *c) {
  c->depth--;
}

/* Path bookkeeping: append a segment, restore on the way out. */
static size_t path_push_key(ocil_conv *c, const char *k, size_t kl) {
  size_t n = strlen(c->pointer);
  oci_pointer_append(c->pointer, sizeof c->pointer, k, kl);
  return n;
}
static size_t path_push_index(ocil_conv *c, size_t i) {
  size_t n = strlen(c->pointer);
  oci_pointer_append_index(c->pointer, sizeof c->pointer, i);
  return n;
}
static void path_pop(ocil_conv *c, size_t n, int rc) {
  if (!rc) c->pointer[n] = '\0'; /* keep the path of a failure */
}

static const char *lua_kind(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TLIGHTUSERDATA && !lua_touserdata(L, idx))
    return "null";
  if (lua_isinteger(L, idx)) return "integer";
  return luaL_typename(L, idx);
}

static int wrong_type(lua_State *L, int idx, ocil_conv *c, const char *want) {
  return conv_fail(c, OCI_ETYPE, "expected %s, got %s", want, lua_kind(L, idx));
}

static int check_string_size(ocil_conv *c, size_t n) {
  if (n > max_string(c))
    return conv_fail(c, OCI_ETOOBIG,
                     "string of %zu bytes exceeds the limit of %zu "
                     "(max_string)",
                     n, max_string(c));
  return OCI_OK;
}

static int to_string(lua_State *L, int idx, oci_arena *a, char **dst,
                     ocil_conv *c) {
  if (lua_type(L, idx) != LUA_TSTRING) return wrong_type(L, idx, c, "string");
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  if (memchr(s, '\0', n))
    return conv_fail(c, OCI_EINVAL, "string contains a NUL byte");
  /* Strings must be UTF-8 like everything the parser accepts. */
  if (!oci_utf8_valid(s, n))
    return conv_fail(c, OCI_EUTF8, "string is not valid UTF-8");
  int rc = check_string_size(c, n);
  if (rc) return rc;
  if (!(*dst = oci_arena_strndup(a, s, n)))
    return conv_fail(c, OCI_ENOMEM, "out of memory");
  return OCI_OK;
}

static int to_integer(lua_State *L, int idx, oci_kind k, void *dst,
                      ocil_conv *c) {
  lua_Integer v;
  int isnum;
  uint64_t u = 0;
  bool big = false;
  if (lua_type(L, idx) == LUA_TSTRING && k == OCI_K_U64) {
    /* a decimal string carries the uint64 values above math.maxinteger */
    const char *s = lua_tostring(L, idx);
    if (!*s || strspn(s, "0123456789") != strlen(s))
      return conv_fail(c, OCI_ETYPE,
                       "expected an integer or a decimal string, "
                       "got \"%.40s\"",
                       s);
    for (; *s; s++) {
      unsigned d = (unsigned)(*s - '0');
      if (u > (UINT64_MAX - d) / 10)
        return conv_fail(c, OCI_ERANGE, "value is out of range for %s",
                         oci_kind_name(k));
      u = u * 10 + d;
    }
    *(uint64_t *)dst = u;
    return OCI_OK;
  }
  if (lua_type(L, idx) != LUA_TNUMBER) return wrong_type(L, idx, c, "integer");
  v = lua_tointegerx(L, idx, &isnum);
  if (!isnum)
    return conv_fail(c, OCI_ETYPE, "expected an integer, got %g",
                     (double)lua_tonumber(L, idx));
  switch (k) {
  case OCI_K_I32:
    if (v < INT32_MIN || v > INT32_MAX)
      big = true;
    else
      *(int32_t *)dst = (int32_t)v;
    break;
  case OCI_K_U16:
    if (v < 0 || v > UINT16_MAX)
      big = true;
    else
      *(uint16_t *)dst = (uint16_t)v;
    break;
  case OCI_K_U32:
    if (v < 0 || v > (lua_Integer)UINT32_MAX)
      big = true;
    else
      *(uint32_t *)dst = (uint32_t)v;
    break;
  case OCI_K_I64: *(int64_t *)dst = v; break;
  default:
    if (v < 0)
      big = true;
    else
      *(uint64_t *)dst = (uint64_t)v;
    break;
  }
  if (big)
    return conv_fail(c, OCI_ERANGE, "%lld is out of range for %s", (long long)v,
                     oci_kind_name(k));
  return OCI_OK;
}

static int to_array(lua_State *L, int idx, const oci_vtype *vt, oci_array *dst,
                    oci_arena *a, ocil_conv *c) {
  if (lua_type(L, idx) != LUA_TTABLE) return wrong_type(L, idx, c, "array");
  size_t n = (size_t)lua_rawlen(L, idx);
  /* Only a sequence: a table with other keys is not an array. */
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
        (size_t)lua_tointeger(L, -1) > n) {
      lua_pop(L, 1);
      return conv_fail(c, OCI_ETYPE,
                       "expected an array (a sequence), got a "
                       "table with other keys");
    }
  }
  char *items = NULL;
  if (n && !(items = oci_arena_calloc(a, n * vt->elem->size)))
    return conv_fail(c, OCI_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    size_t mark = path_push_index(c, i);
    int rc = ocil_to_value(L, lua_gettop(L), vt->elem,
                           items + i * vt->elem->size, a, c);
    path_pop(c, mark, rc);
    lua_pop(L, 1);
    if (rc) return rc;
  }
  dst->items = items;
  dst->len = n;
  return OCI_OK;
}

static int cmp_keys(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Maps from Lua tables have no order: keys are sorted (deterministic
   output, DESIGN invariant 2). A set may be given as an array of keys. */
static int to_map(lua_State *L, int idx, const oci_vtype *vt, oci_map *dst,
                  oci_arena *a, ocil_conv *c) {
  if (lua_type(L, idx) != LUA_TTABLE) return wrong_type(L, idx, c, "object");
  bool set = vt->kind == OCI_K_SET;
  size_t vsize = vt->elem->size, n = 0, cap = 0;
  char **keys = NULL;
  bool as_list = set && lua_rawlen(L, idx) > 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (as_list) {
      if (lua_type(L, -1) != LUA_TNUMBER) {
        lua_pop(L, 1);
        return conv_fail(c, OCI_ETYPE,
                         "a set is an array of strings or a "
                         "table keyed by strings, not both");
      }
    } else if (lua_type(L, -1) != LUA_TSTRING) {
      lua_pop(L, 1);
      return conv_fail(c, OCI_ETYPE, "object keys must be strings, got %s",
                       lua_kind(L, -1));
    }
    cap++;
  }
  if (cap) {
    keys = oci_arena_alloc(a, cap * sizeof(char *));
    if (!keys) return conv_fail(c, OCI_ENOMEM, "out of memory");
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int rc = 0;
    if (as_list) {
      size_t mark = path_push_index(c, n);
      rc = to_string(L, lua_gettop(L), a, &keys[n], c);
      path_pop(c, mark, rc);
    } else {
      rc = to_string(L, lua_gettop(L) - 1, a, &keys[n], c); /* NUL, UTF-8 */
    }
    lua_pop(L, 1);
    if (rc) {
      lua_pop(L, 1);
      return rc;
    }
    n++;
  }
  if (n) qsort(keys, n, sizeof *keys, cmp_keys); /* keys is NULL when empty */
  void *values = NULL;
  if (n && !(values = oci_arena_calloc(a, n * vsize)))
    return conv_fail(c, OCI_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    if (i && strcmp(keys[i - 1], keys[i]) == 0)
      return conv_fail(c, OCI_EDUPKEY, "duplicate key \"%s\"", keys[i]);
    if (as_list) continue; /* every value {} */
    lua_pushstring(L, keys[i]);
    lua_rawget(L, idx);
    size_t mark = path_push_key(c, keys[i], strlen(keys[i]));
    int rc;
    if (set) {
      if (lua_type(L, -1) != LUA_TTABLE)
        rc = wrong_type(L, lua_gettop(L), c, "object");
      else {
        char *raw;
        rc = ocil_encode_raw(L, lua_gettop(L), a, &raw, c);
        if (!rc && (!strcmp(raw, "{}") || !strcmp(raw, "[]"))) raw = NULL;
        if (!rc && raw && raw[0] != '{')
          rc = conv_fail(c, OCI_ETYPE, "expected object, got array");
        if (!rc) ((char **)values)[i] = raw;
      }
    } else
      rc = ocil_to_value(L, lua_gettop(L), vt->elem, (char *)values + i * vsize,
                         a, c);
    path_pop(c, mark, rc);
    lua_pop(L, 1);
    if (rc) return rc;
  }
  dst->keys = keys;
  dst->values = values;
  dst->len = n;
  return OCI_OK;
}

int ocil_to_value(lua_State *L, int idx, const oci_vtype *vt, void *dst,
                  oci_arena *a, ocil_conv *c) {
  int rc;
  switch (vt->kind) {
  case OCI_K_STRING: return to_string(L, idx, a, dst, c);
  case OCI_K_BOOL:
    if (lua_type(L, idx) != LUA_TBOOLEAN)
      return wrong_type(L, idx, c, "boolean");
    *(bool *)dst = lua_toboolean(L, idx);
    return OCI_OK;
  case OCI_K_I32:
  case OCI_K_U16:
  case OCI_K_U32:
  case OCI_K_I64:
  case OCI_K_U64: return to_integer(L, idx, vt->kind, dst, c);
  case OCI_K_DOUBLE:
    if (lua_type(L, idx) != LUA_TNUMBER) return wrong_type(L, idx, c, "number");
    *(double *)dst = lua_tonumber(L, idx);
    if (!isfinite(*(double *)dst))
      return conv_fail(c, OCI_ERANGE, "number is not finite");
    return OCI_OK;
  case OCI_K_RAW: return ocil_encode_raw(L, idx, a, dst, c);
  case OCI_K_OBJECT: return ocil_to_object(L, idx, vt->object, a, dst, c);
  case OCI_K_ARRAY:
  case OCI_K_MAP:
  case OCI_K_SET:
    rc = enter(L, c);
    if (!rc)
      rc = vt->kind == OCI_K_ARRAY ? to_array(L, idx, vt, dst, a, c)
                                   : to_map(L, idx, vt, dst, a, c);
    leave(c);
    return rc;
  }
  return conv_fail(c, OCI_ETYPE, "unsupported kind");
}

/* Unknown members of an object, sorted by key like every map built from a
   Lua table. */
typedef struct extra_member {
  char *key, *raw;
} extra_member;

static int cmp_members(const void *x, const void *y) {
  return strcmp(((const extra_member *)x)->key, ((const extra_member *)y)->key);
}

static int table_to_object(lua_State *L, int idx, const oci_type *t,
                           oci_arena *a, void **out, ocil_conv *c) {
  oci_object *o = oci_new_in(t, a);
  if (!o) return conv_fail(c, OCI_ENOMEM, "out of memory");
  /* Known fields by JSON key; the rest are kept as unknown members. */
  size_t nextra = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      const char *kind = lua_kind(L, -1);
      lua_pop(L, 1);
      return conv_fail(c, OCI_ETYPE, "%s keys must be strings, got %s", t->name,
                       kind);
    }
    size_t kl;
    const char *k = lua_tolstring(L, -1, &kl);
    if (!oci_field_by_key(t, k, kl)) {
      if (memchr(k, '\0', kl) || !oci_utf8_valid(k, kl)) {
        lua_pop(L, 1);
        return conv_fail(c, OCI_EUTF8,
                         "%s key is not valid UTF-8 or holds a "
                         "NUL byte",
                         t->name);
      }
      if (check_string_size(c, kl)) {
        lua_pop(L, 1);
        return c->code;
      }
      nextra++;
    }
  }
  extra_member *extra = NULL;
  if (nextra && !(extra = oci_arena_alloc(a, nextra * sizeof *extra)))
    return conv_fail(c, OCI_ENOMEM, "out of memory");
  size_t ne = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int vi = lua_gettop(L);
    size_t kl;
    const char *k = lua_tolstring(L, -2, &kl);
    const oci_field *f = oci_field_by_key(t, k, kl);
    size_t mark = path_push_key(c, k, kl);
    int rc = OCI_OK;
    if (f) {
      uint64_t bit = (uint64_t)1 << f->index;
      if (lua_type(L, vi) == LUA_TLIGHTUSERDATA && !lua_touserdata(L, vi)) {
        if (f->flags & OCI_F_REQUIRED)
          rc = conv_fail(c, OCI_ETYPE, "required field \"%s\" must not be null",
                         f->key);
        o->present |= bit;
        o->nulls |= bit;
      } else {
        rc = ocil_to_value(L, vi, f->vt, (char *)o + f->offset, a, c);
        o->present |= bit;
      }
    } else if (c->strict) {
      rc = conv_fail(c, OCI_EINVAL, "%s has no member \"%s\" (strict)", t->name,
                     k);
    } else {
      extra[ne].key = oci_arena_strndup(a, k, kl);
      rc = extra[ne].key ? ocil_encode_raw(L, vi, a, &extra[ne].raw, c)
                         : conv_fail(c, OCI_ENOMEM, "out of memory");
      ne++;
    }
    path_pop(c, mark, rc);
    lua_pop(L, 1);
    if (rc) {
      lua_pop(L, 1);
      return rc;
    }
  }
  if (ne) {
    qsort(extra, ne, sizeof *extra, cmp_members);
    oci_extra *x = oci_extra_new(a, ne);
    if (!x) return conv_fail(c, OCI_ENOMEM, "out of memory");
    for (size_t i = 0; i < ne; i++) {
      x->keys[i] = extra[i].key;
      x->raws[i] = extra[i].raw;
    }
    o->extra = x;
  }
  uint64_t missing = oci_required_mask(t) & ~o->present;
  if (missing) {
    const oci_field *f = &t->fields[__builtin_ctzll(missing)];
    return conv_fail(c, OCI_EMISSING, "missing required field \"%s\" in %s",
                     f->key, t->name);
  }
  *out = o;
  return OCI_OK;
}

int ocil_to_object(lua_State *L, int idx, const oci_type *t, oci_arena *a,
                   void **out, ocil_conv *c) {
  idx = lua_absindex(L, idx);
  ocil_obj *u = ocil_test_any(L, idx);
  if (u) { /* an object of the same type: copied into this document */
    if (u->type != t)
      return conv_fail(c, OCI_ETYPE, "expected %s, got %s", t->name,
                       u->type->name);
    if (!u->obj)
      return conv_fail(c, OCI_EINVAL, "a consumed builder or closed object");
    if (!(*out = oci_copy_into(t, u->obj, a)))
      return conv_fail(c, OCI_ENOMEM, "out of memory");
    return OCI_OK;
  }
  if (lua_type(L, idx) != LUA_TTABLE) return wrong_type(L, idx, c, t->name);
  int rc = enter(L, c);
  if (!rc) rc = table_to_object(L, idx, t, a, out, c);
  leave(c);
  return rc;
}

/* ---- any Lua value -> compact JSON text --------------------------------- */

static int encode(lua_State *L, int idx, oci_buf *b, ocil_conv *c);

static int check_size(oci_buf *b, ocil_conv *c) {
  if (b->len > max_size(c))
    return conv_fail(c, OCI_ETOOBIG,
                     "JSON text of the value exceeds the limit of %zu bytes "
                     "(max_size)",
                     max_size(c));
  return OCI_OK;
}

typedef struct lua_key {
  const char *s;
  size_t n;
} lua_key;

/* Object keys in byte order (as to_map sorts them): neither the locale
   (strcoll) nor a replaced table.sort can change the output. */
static int cmp_lua_keys(const void *x, const void *y) {
  const lua_key *a = x, *b = y;
  int d = memcmp(a->s, b->s, a->n < b->n ? a->n : b->n);
  if (d) return d;
  return a->n < b->n ? -1 : a->n > b->n;
}

static int encode_table(lua_State *L, int idx, oci_buf *b, ocil_conv *c) {
  size_t n = (size_t)lua_rawlen(L, idx), count = 0;
  bool array = true;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
        (size_t)lua_tointeger(L, -1) > n)
      array = false;
  }
  if (count == 0) array = has_array_mt(L, idx);
  if (array) {
    oci_buf_putc(b, '[');
    for (size_t i = 1; i <= n; i++) {
      if (i > 1) oci_buf_putc(b, ',');
      lua_rawgeti(L, idx, (lua_Integer)i);
      size_t mark = path_push_index(c, i - 1);
      int rc = encode(L, lua_gettop(L), b, c);
      path_pop(c, mark, rc);
      lua_pop(L, 1);
      if (rc) return rc;
    }
    oci_buf_putc(b, ']');
    return OCI_OK;
  }
  /* Objects: string keys, written sorted. The keys stay alive: they are
     keys of the table at idx, which nothing changes meanwhile. */
  lua_key *keys = count ? lua_newuserdatauv(L, count * sizeof *keys, 0) : NULL;
  size_t k = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      lua_pop(L, count ? 2 : 1);
      return conv_fail(c, OCI_ETYPE, "JSON object keys must be strings");
    }
    keys[k].s = lua_tolstring(L, -1, &keys[k].n);
    k++;
  }
  if (k) qsort(keys, k, sizeof *keys, cmp_lua_keys);
  oci_buf_putc(b, '{');
  int rc = OCI_OK;
  for (size_t i = 0; i < k && !rc; i++) {
    if (i) oci_buf_putc(b, ',');
    oci_json_write_string(b, keys[i].s, keys[i].n);
    oci_buf_putc(b, ':');
    lua_pushlstring(L, keys[i].s, keys[i].n);
    lua_rawget(L, idx);
    size_t mark = path_push_key(c, keys[i].s, keys[i].n);
    rc = encode(L, lua_gettop(L), b, c);
    path_pop(c, mark, rc);
    lua_pop(L, 1);
  }
  if (count) lua_pop(L, 1); /* the keys */
  if (rc) return rc;
  oci_buf_putc(b, '}');
  return OCI_OK;
}

static int encode(lua_State *L, int idx, oci_buf *b, ocil_conv *c) {
  int rc;
  switch (lua_type(L, idx)) {
  case LUA_TNIL: oci_buf_append(b, "null", 4); return OCI_OK;
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx)) break;
    oci_buf_append(b, "null", 4);
    return OCI_OK;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx))
      oci_buf_append(b, "true", 4);
    else
      oci_buf_append(b, "false", 5);
    return OCI_OK;
  case LUA_TNUMBER: {
    char num[48];
    if (lua_isinteger(L, idx)) {
      oci_buf_append(b, num, oci_i64_to_dec(lua_tointeger(L, idx), num));
      return OCI_OK;
    }
    double d = lua_tonumber(L, idx);
    if (!isfinite(d)) return conv_fail(c, OCI_ERANGE, "JSON cannot hold %g", d);
    if (d == 0 && signbit(d)) { /* "-0" would read back as the integer 0 */
      oci_buf_append(b, "-0.0", 4);
      return OCI_OK;
    }
    for (int prec = 15; prec <= 17; prec++) {
      snprintf(num, sizeof num, "%.*g", prec, d);
      if (strtod(num, NULL) == d) break;
    }
    for (char *q = num; *q; q++)
      if (*q == ',') *q = '.'; /* a locale's decimal comma */
    oci_buf_append(b, num, strlen(num));
    return OCI_OK;
  }
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    if ((rc = check_string_size(c, n))) return rc;
    oci_json_write_string(b, s, n);
    return check_size(b, c);
  }
  case LUA_TTABLE:
    rc = enter(L, c);
    if (!rc) rc = check_size(b, c);
    if (!rc) rc = encode_table(L, idx, b, c);
    leave(c);
    return rc;
  case LUA_TUSERDATA: {
    ocil_obj *u = ocil_test_any(L, idx);
    if (!u || !u->obj) break;
    char *json;
    size_t len;
    oci_error e = {0};
    if (oci_to_json(u->type, u->obj, NULL, &json, &len, &e))
      return conv_fail(c, OCI_ENOMEM, "out of memory");
    oci_buf_append(b, json, len);
    free(json);
    return check_size(b, c);
  }
  default: break;
  }
  return conv_fail(c, OCI_ETYPE, "a %s cannot be written as JSON",
                   luaL_typename(L, idx));
}

static int buf_gc(lua_State *L) {
  oci_buf_free(lua_touserdata(L, 1));
  return 0;
}

/* The buffer lives in a userdata so a Lua error raised while encoding
   (out of memory) cannot leak it. */
int ocil_encode_raw(lua_State *L, int idx, oci_arena *a, char **out,
                    ocil_conv *c) {
  idx = lua_absindex(L, idx);
  if (!lua_checkstack(L, 8)) return conv_fail(c, OCI_ENOMEM, "out of memory");
  oci_buf *b = lua_newuserdatauv(L, sizeof *b, 0);
  memset(b, 0, sizeof *b);
  if (luaL_newmetatable(L, "ocispec.buffer")) {
    lua_pushcfunction(L, buf_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  int rc = encode(L, idx, b, c);
  if (!rc && b->failed) rc = conv_fail(c, OCI_ENOMEM, "out of memory");
  if (!rc) {
    /* Re-read what was written: validates UTF-8 and compacts. Within the
       limits encode applied (the value starts at level c->depth + 1). */
    oci_parse_options po = OCI_PARSE_OPTIONS_INIT;
    po.max_depth = max_depth(c);
    po.max_size = max_size(c);
    po.max_string = max_string(c);
    oci_error e = {0};
    rc = oci_json_compact_opts(b->data, b->len, &po, a, out, &e);
    if (rc) conv_fail(c, rc, "%s", e.message);
  }
  oci_buf_free(b);
  lua_pop(L, 1);
  return rc;
}
