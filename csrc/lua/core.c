/* ocispec.core: the one generic binding. For every declared type it makes
   a class table (from_json, from_file, from_table, new, builder), an object
   metatable "ocispec.<ns>.<Name>" whose methods are the common ones plus a
   getter and a set_ setter per field, and a builder metatable
   "ocispec.<ns>.<Name>Builder" with one setter per field and build(). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h"
#include "binding.h"
#include "ocil_parts.h"
#include "ocispec/config.h"
#ifdef OCI_WITH_IMAGE
#include "ocispec/conversion.h" /* csrc/image/conversion.c */
#endif
#include "ocispec/platform.h"
#include "ocispec/runtime.h"
#include "ocispec/version.h"

#define TYPES_KEY "ocispec.types" /* registry: metatable -> true */

#ifdef OCI_WITH_IMAGE
#define OCIL_WITH_IMAGE 1
#else
#define OCIL_WITH_IMAGE 0
#endif
#ifdef OCI_WITH_REGISTRY
#define OCIL_WITH_REGISTRY 1
#else
#define OCIL_WITH_REGISTRY 0
#endif

static void push_field_name(lua_State *L, const oci_field *f) {
  lua_pushlstring(L, f->name, oci_field_name_len(f));
}

/* The public name as a C string kept on the Lua stack (for messages). */
static const char *public_name(lua_State *L, const oci_field *f) {
  push_field_name(L, f);
  return lua_tostring(L, -1);
}

/* ---- userdata ----------------------------------------------------------- */

/* Registry keys of a type's metatables: light userdata, the type's own
   address for objects and its `ns` member's for builders, so that creating
   an object is one lookup by pointer instead of formatting
   "ocispec.<ns>.<Name>" and looking that string up (measured: the
   snprintf dominated from_json on small documents). */
static const void *meta_key(const oci_type *t, int builder) {
  return builder ? (const void *)&t->ns : (const void *)t;
}

static void push_meta(lua_State *L, const oci_type *t, int builder) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, meta_key(t, builder)) == LUA_TTABLE)
    return;
  lua_pop(L, 1);
  char name[96];
  snprintf(name, sizeof name, "ocispec.%s.%s%s", t->ns, t->name,
           builder ? "Builder" : "");
  luaL_getmetatable(L, name);
}

/* ---- memory of documents -------------------------------------------------

   A document's arena is malloc'd outside Lua: the collector sees a small
   userdata and would let dead documents pile up (300 round trips of a
   3.7 MB index reached 1.2 GiB). Adding the arena's size as GC debt
   (lua_gc LUA_GCSTEP) is not enough: in generational mode, the lua5.4
   interpreter's default, the extra steps are young collections that age
   the live documents, and the old dead ones then wait for a major
   collection, which only the growth of the Lua heap itself triggers (it
   still helps: the collector keeps pace between full collections). So
   the binding counts the bytes of the arenas its userdata own
   ("outstanding": live documents and garbage not yet collected) and runs a
   full collection when they pass a limit: past what was outstanding after
   the last one by as much again, or by the Lua heap's size if larger
   (the pause of Lua's own collector, 200 %), and at least 4 MiB. A full
   collection costs about the Lua heap's size, so this stays amortised; a
   closed document gives its bytes back at once and triggers nothing. */

#define GC_MIN_STEP ((size_t)4 << 20)

struct ocil_gc {
  size_t outstanding; /* arena bytes of owners not yet freed */
  size_t limit;       /* collect fully when outstanding passes it */
  size_t debt;        /* arena bytes not yet given as GC debt (< 1 KiB) */
  lua_Integer collections;
};

static const char gc_key = 0; /* registry[&gc_key] = the ocil_gc userdata */

/* Push the lua_State's accounting (made by luaopen_ocispec_core). Every
   owner keeps it alive in its user value, so it outlives them even if the
   registry entry were removed; lua_close runs every finalizer before it
   frees anything. */
static ocil_gc *push_gc(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &gc_key) == LUA_TUSERDATA)
    return lua_touserdata(L, -1);
  lua_pop(L, 1);
  ocil_gc *g = lua_newuserdatauv(L, sizeof *g, 0);
  g->outstanding = 0;
  g->limit = GC_MIN_STEP;
  g->debt = 0;
  g->collections = 0;
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &gc_key);
  return g;
}

static size_t lua_heap(lua_State *L) {
  return (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 +
         (size_t)lua_gc(L, LUA_GCCOUNTB);
}

/* Owner u now holds its arena's current size: count the difference, and
   collect when the limit is passed. u must be reachable (on the stack). */
static void gc_account(lua_State *L, ocil_obj *u) {
  if (!u->owner || !u->obj) return;
  ocil_gc *g = u->gc;
  size_t now = oci_arena_bytes(((oci_object *)u->obj)->arena);
  if (now <= u->held) return; /* arenas never shrink */
  g->outstanding += now - u->held;
  /* The growth as GC debt too: the collector then keeps pace with the
     documents (and with the Lua strings made from them) between full
     collections. lua_gc takes KiB: the rest is carried to the next
     document (dropping it gave documents under 1 KiB no debt at all and
     a 1.7 KiB one 1 KiB; paced by their real size, dead documents are
     freed while their memory is still in cache: from_json of the
     3-manifest index 5-10 % faster, bench/README.md "Lua"). */
  size_t debt = g->debt + (now - u->held);
  u->held = now;
  size_t kb = debt / 1024;
  g->debt = debt % 1024;
  if (kb) lua_gc(L, LUA_GCSTEP, kb > INT_MAX ? INT_MAX : (int)kb);
  if (g->outstanding <= g->limit || !lua_gc(L, LUA_GCISRUNNING)) return;
  lua_gc(L, LUA_GCCOLLECT); /* finalizers give their bytes back */
  g->collections++;
  size_t step = lua_heap(L);
  if (step < g->outstanding) step = g->outstanding;
  if (step < GC_MIN_STEP) step = GC_MIN_STEP;
  g->limit = g->outstanding + step;
}

/* The owner's arena goes (freed, or handed to another userdata). */
static void gc_release(ocil_obj *u) {
  if (u->gc)
    u->gc->outstanding -=
        u->held < u->gc->outstanding ? u->held : u->gc->outstanding;
  u->held = 0;
}

static ocil_obj *new_userdata(lua_State *L, const oci_type *t, void *obj,
                              int owner, int builder) {
  ocil_obj *u = lua_newuserdatauv(L, sizeof *u, 1);
  u->obj = obj;
  u->type = t;
  u->owner = owner;
  u->lent = 0;
  u->held = 0;
  u->gc = NULL;
  push_meta(L, t, builder);
  lua_setmetatable(L, -2);
  if (owner) { /* its user value: the accounting (a child's: its root) */
    u->gc = push_gc(L);
    lua_setiuservalue(L, -2, 1);
  }
  return u;
}

void ocil_push_root(lua_State *L, const oci_type *t, void *obj) {
  gc_account(L, new_userdata(L, t, obj, 1, 0));
}

ocil_obj *ocil_new_root(lua_State *L, const oci_type *t) {
  return new_userdata(L, t, NULL, 1, 0);
}

void ocil_root_adopt(lua_State *L, ocil_obj *u, void *obj) {
  u->obj = obj;
  gc_account(L, u);
}

/* The owner of the document that the object userdata at idx belongs to
   (itself, or the root its user value keeps alive). */
static ocil_obj *owner_of(lua_State *L, int idx) {
  ocil_obj *u = lua_touserdata(L, idx);
  if (u->owner) return u;
  lua_getiuservalue(L, idx, 1);
  ocil_obj *root = lua_touserdata(L, -1);
  lua_pop(L, 1); /* still referenced by the child's user value */
  return root && root->owner ? root : NULL;
}

void ocil_push_child(lua_State *L, int parent, const oci_type *t, void *obj) {
  parent = lua_absindex(L, parent);
  ocil_obj *p = lua_touserdata(L, parent);
  new_userdata(L, t, obj, 0, 0);
  /* keep the document's root alive: the parent if it owns, else its root */
  if (p && p->owner) {
    p->lent = 1;
    lua_pushvalue(L, parent);
  } else
    lua_getiuservalue(L, parent, 1);
  lua_setiuservalue(L, -2, 1);
}

ocil_obj *ocil_test_any(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx))
    return NULL;
  lua_getfield(L, LUA_REGISTRYINDEX, TYPES_KEY);
  lua_pushvalue(L, -2);
  int known = lua_rawget(L, -2) != LUA_TNIL;
  lua_pop(L, 3);
  return known ? lua_touserdata(L, idx) : NULL;
}

ocil_obj *ocil_check(lua_State *L, int idx, const oci_type *t) {
  /* fast path: the userdata's metatable is t's (one lookup by pointer) */
  if (lua_type(L, idx) == LUA_TUSERDATA && lua_getmetatable(L, idx)) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, meta_key(t, 0));
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (same) {
      ocil_obj *u = lua_touserdata(L, idx);
      if (!u->obj) luaL_argerror(L, idx, "attempt to use a closed object");
      return u;
    }
  }
  ocil_obj *u = ocil_test_any(L, idx);
  if (!u || u->type != t) {
    char want[96];
    snprintf(want, sizeof want, "ocispec.%s.%s", t->ns, t->name);
    luaL_typeerror(L, idx, want);
  }
  if (!u->obj) luaL_argerror(L, idx, "attempt to use a closed object");
  return u;
}

/* The object userdata at 1, of the type in upvalue 1. */
static ocil_obj *self(lua_State *L) {
  return ocil_check(L, 1, lua_touserdata(L, lua_upvalueindex(1)));
}

static int obj_gc(lua_State *L) {
  ocil_obj *u = lua_touserdata(L, 1);
  if (u->owner && u->obj) {
    gc_release(u);
    /* the owner owns the arena: from_table's object is not its root */
    oci_arena_free(((oci_object *)u->obj)->arena);
  }
  u->obj = NULL;
  return 0;
}

/* __close: release the document now, unless child objects taken from it
   may still point into it; then the collector releases it after them. */
static int obj_close(lua_State *L) {
  ocil_obj *u = lua_touserdata(L, 1);
  if (u->owner && !u->lent) return obj_gc(L);
  return 0;
}

/* ---- errors ------------------------------------------------------------- */

/* __tostring of error tables: their message. */
static int error_tostring(lua_State *L) {
  if (lua_type(L, 1) != LUA_TTABLE ||
      lua_getfield(L, 1, "message") != LUA_TSTRING) {
    lua_settop(L, 1);
    lua_pushfstring(L, "%s", luaL_tolstring(L, 1, NULL));
  }
  return 1;
}

/* The shared metatable of error tables (made once, by luaopen). */
static void push_error_mt(lua_State *L) {
  if (luaL_newmetatable(L, OCIL_ERROR_MT)) {
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
  }
}

void ocil_error_table(lua_State *L, int code, int msgidx, const oci_error *e) {
  msgidx = lua_absindex(L, msgidx);
  lua_createtable(L, 0, 6);
  lua_pushstring(L, oci_status_name(code));
  lua_setfield(L, -2, "code");
  lua_pushvalue(L, msgidx);
  lua_setfield(L, -2, "message");
  if (e) { /* "" when the error is about the whole value, or no value */
    lua_pushstring(L, e->pointer);
    lua_setfield(L, -2, "pointer");
  }
  if (e && e->line) {
    lua_pushinteger(L, (lua_Integer)e->line);
    lua_setfield(L, -2, "line");
    lua_pushinteger(L, (lua_Integer)e->column);
    lua_setfield(L, -2, "column");
  }
  push_error_mt(L);
  lua_setmetatable(L, -2);
}

int ocil_push_error_msg(lua_State *L, int code, const oci_error *e,
                        const char *message) {
  lua_pushnil(L);
  lua_pushstring(L, message);
  ocil_error_table(L, code, -1, e);
  return 3;
}

/* nil, "context: line:col: /pointer: message", {code=, message=, ...} */
int ocil_push_error(lua_State *L, const oci_error *e, const char *context) {
  luaL_Buffer b;
  lua_pushnil(L);
  luaL_buffinit(L, &b);
  if (context) {
    luaL_addstring(&b, context);
    luaL_addstring(&b, ": ");
  }
  if (e->line) {
    lua_pushfstring(L, "%d:%d: ", (int)e->line, (int)e->column);
    luaL_addvalue(&b);
  }
  if (e->pointer[0]) {
    luaL_addstring(&b, e->pointer);
    luaL_addstring(&b, ": ");
  }
  luaL_addstring(&b, e->message);
  luaL_pushresult(&b);
  ocil_error_table(L, e->code, -1, e);
  return 3;
}

static int push_conv_error(lua_State *L, const ocil_conv *c, const char *ctx) {
  oci_error e = {0};
  e.code = c->code;
  snprintf(e.message, sizeof e.message, "%s", c->message);
  snprintf(e.pointer, sizeof e.pointer, "%s", c->pointer);
  return ocil_push_error(L, &e, ctx);
}

static void raise_nomem(lua_State *L) {
  luaL_error(L, "not enough memory");
}

/* ---- options ------------------------------------------------------------- */

void ocil_check_options(lua_State *L, int idx, const char *const *known,
                        const char *what) {
  if (lua_type(L, idx) != LUA_TTABLE) return;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    size_t i = 0;
    while (k && known[i] && strcmp(known[i], k) != 0)
      i++;
    if (!k || !known[i]) {
      const char *m = lua_pushfstring(L, "unknown option \"%s\"",
                                      luaL_tolstring(L, -1, NULL));
      if (what) luaL_error(L, "%s: %s", what, m);
      luaL_argerror(L, idx, m);
    }
  }
}

static const char *const PARSE_OPTIONS[] = {"max_depth",
                                            "max_size",
                                            "max_string",
                                            "allow_duplicate_keys",
                                            "allow_missing_required",
                                            NULL};
static const char *const CONV_OPTIONS[] = {"max_depth", "max_size",
                                           "max_string", NULL};
static const char *const FROM_TABLE_OPTIONS[] = {"max_depth", "max_size",
                                                 "max_string", "strict", NULL};
static const char *const WRITE_OPTIONS[] = {"pretty", NULL};
static const char *const VALIDATE_OPTIONS[] = {"platform", "for_start", NULL};

/* A size option: a non-negative integer (0 = the default). */
static size_t get_size_option(lua_State *L, int idx, const char *name,
                              size_t max) {
  size_t v = 0;
  if (lua_getfield(L, idx, name) != LUA_TNIL) {
    int isnum;
    lua_Integer n = lua_tointegerx(L, -1, &isnum);
    if (!isnum || n < 0 || (lua_Unsigned)n > max)
      luaL_argerror(L, idx,
                    lua_pushfstring(L,
                                    "%s must be an integer from 0 (the "
                                    "default) to %I",
                                    name, (lua_Integer)max));
    v = (size_t)n;
  }
  lua_pop(L, 1);
  return v;
}

/* The limits {max_depth=, max_size=, max_string=} of the table at idx. A
   max_depth past the hard limit is misuse: it would let the recursion
   exhaust the C stack. */
static void get_limits(lua_State *L, int idx, oci_parse_options *o) {
  size_t v = get_size_option(L, idx, "max_depth", OCI_MAX_DEPTH_LIMIT);
  if (v) o->max_depth = v;
  v = get_size_option(L, idx, "max_size", (size_t)LUA_MAXINTEGER);
  if (v) o->max_size = v;
  v = get_size_option(L, idx, "max_string", (size_t)LUA_MAXINTEGER);
  if (v) o->max_string = v;
}

/* Parse options {max_depth=, max_size=, max_string=,
   allow_duplicate_keys=, allow_missing_required=} at idx (or none). */
static void get_parse_options(lua_State *L, int idx, oci_parse_options *o) {
  oci_parse_options def = OCI_PARSE_OPTIONS_INIT;
  *o = def;
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  ocil_check_options(L, idx, PARSE_OPTIONS, NULL);
  get_limits(L, idx, o);
  lua_getfield(L, idx, "allow_duplicate_keys");
  o->allow_duplicate_keys = lua_toboolean(L, -1);
  lua_getfield(L, idx, "allow_missing_required");
  o->allow_missing_required = lua_toboolean(L, -1);
  lua_pop(L, 2);
}

/* A conversion from Lua with the limits at idx (or none); `known`:
   CONV_OPTIONS, or FROM_TABLE_OPTIONS, which adds `strict`. */
static void get_conv_options(lua_State *L, int idx, ocil_conv *c,
                             const char *const *known) {
  oci_parse_options o = OCI_PARSE_OPTIONS_INIT;
  memset(c, 0, sizeof *c);
  if (!lua_isnoneornil(L, idx)) {
    luaL_checktype(L, idx, LUA_TTABLE);
    ocil_check_options(L, idx, known, NULL);
    get_limits(L, idx, &o);
    lua_getfield(L, idx, "strict");
    c->strict = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  c->max_depth = o.max_depth;
  c->max_size = o.max_size;
  c->max_string = o.max_string;
}

/* ---- class functions (upvalue 1: the oci_type) -------------------------- */

static const oci_type *up_type(lua_State *L) {
  return lua_touserdata(L, lua_upvalueindex(1));
}

static int cls_from_json(lua_State *L) {
  const oci_type *t = up_type(L);
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  oci_parse_options o;
  get_parse_options(L, 2, &o);
  /* the userdata first: a Lua memory error after the parse cannot leak */
  ocil_obj *u = new_userdata(L, t, NULL, 1, 0);
  void *obj;
  oci_error e = {0};
  if (oci_parse(t, s, len, &o, &obj, &e)) {
    if (e.code == OCI_ENOMEM) raise_nomem(L);
    return ocil_push_error(L, &e, t->name);
  }
  u->obj = obj;
  gc_account(L, u);
  return 1;
}

static int cls_from_file(lua_State *L) {
  const oci_type *t = up_type(L);
  const char *path = luaL_checkstring(L, 1);
  oci_parse_options o;
  get_parse_options(L, 2, &o);
  ocil_obj *u = new_userdata(L, t, NULL, 1, 0);
  void *obj;
  oci_error e = {0};
  if (oci_parse_file(t, path, &o, &obj, &e)) {
    if (e.code == OCI_ENOMEM) raise_nomem(L);
    return ocil_push_error(L, &e, e.line ? path : NULL);
  }
  u->obj = obj;
  gc_account(L, u);
  return 1;
}

/* A new root userdata with an empty object (created before any work so a
   raised error cannot leak the arena). */
static ocil_obj *push_new(lua_State *L, const oci_type *t, int builder) {
  ocil_obj *u = new_userdata(L, t, NULL, 1, builder);
  void *obj;
  if (oci_new(t, &obj, NULL)) raise_nomem(L);
  u->obj = obj;
  gc_account(L, u);
  return u;
}

static int cls_from_table(lua_State *L) {
  const oci_type *t = up_type(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  ocil_conv c;
  get_conv_options(L, 2, &c, FROM_TABLE_OPTIONS);
  ocil_obj *u = push_new(L, t, 0);
  oci_arena *a = ((oci_object *)u->obj)->arena;
  void *obj;
  if (ocil_to_object(L, 1, t, a, &obj, &c)) {
    if (c.code == OCI_ENOMEM) raise_nomem(L);
    return push_conv_error(L, &c, t->name);
  }
  /* the root is the converted object; the empty one stays, unused */
  u->obj = obj;
  gc_account(L, u);
  return 1;
}

static int cls_new(lua_State *L) {
  push_new(L, up_type(L), 0);
  return 1;
}

static int cls_builder(lua_State *L) {
  push_new(L, up_type(L), 1);
  return 1;
}

/* ---- field access (upvalues: 1 type, 2 field) --------------------------- */

static const oci_field *up_field(lua_State *L) {
  return lua_touserdata(L, lua_upvalueindex(2));
}

static int obj_get(lua_State *L) {
  ocil_obj *u = self(L);
  const oci_field *f = up_field(L);
  if (!oci_is_present(u->obj, f->index) || oci_is_null(u->obj, f->index))
    lua_pushnil(L); /* one value: tostring(d:platform()) must work */
  else
    ocil_push_value(L, 1, f->vt, oci_field_ptr(u->obj, f), 0);
  return 1;
}

/* Set field f of u from the Lua value at 2: nil removes it, cjson.null
   makes it JSON null. Misuse raises, naming the argument. */
static void set_field(lua_State *L, ocil_obj *u, const oci_field *f) {
  if (lua_isnoneornil(L, 2)) {
    oci_unset(u->obj, f);
    return;
  }
  if (lua_type(L, 2) == LUA_TLIGHTUSERDATA && !lua_touserdata(L, 2)) {
    if (f->flags & OCI_F_REQUIRED)
      luaL_argerror(L, 2,
                    lua_pushfstring(L,
                                    "required field '%s' cannot be "
                                    "null",
                                    public_name(L, f)));
    oci_set_null(u->obj, f);
    return;
  }
  oci_object *o = u->obj;
  union {
    char *s;
    void *p;
    uint64_t u;
    double d;
    oci_map m;
    oci_array a;
  } tmp;
  memset(&tmp, 0, sizeof tmp);
  ocil_conv c;
  memset(&c, 0, sizeof c);
  int rc = ocil_to_value(L, 2, f->vt, &tmp, o->arena, &c);
  if (rc == OCI_ENOMEM) raise_nomem(L);
  if (rc) {
    if (c.pointer[0])
      luaL_argerror(L, 2,
                    lua_pushfstring(L, "%s: %s: %s", public_name(L, f),
                                    c.pointer, c.message));
    luaL_argerror(L, 2,
                  lua_pushfstring(L, "%s: %s", public_name(L, f), c.message));
  }
  memcpy(oci_field_ptr(u->obj, f), &tmp, f->vt->size);
  oci_mark(u->obj, f->index);
}

static int obj_set(lua_State *L) {
  ocil_obj *u = self(L);
  set_field(L, u, up_field(L));
  lua_settop(L, 1);
  ocil_obj *root = owner_of(L, 1);
  if (root) gc_account(L, root); /* the value went into its arena */
  return 1;
}

/* ---- common methods (upvalue 1: the type) ------------------------------- */

static int obj_to_json(lua_State *L) {
  ocil_obj *u = self(L);
  oci_write_options w = {OCI_WRITE_OPTIONS_VERSION, false};
  if (lua_istable(L, 2)) {
    ocil_check_options(L, 2, WRITE_OPTIONS, NULL);
    lua_getfield(L, 2, "pretty");
    w.pretty = lua_toboolean(L, -1);
    lua_pop(L, 1);
  } else if (!lua_isnoneornil(L, 2))
    luaL_typeerror(L, 2, "table or nil");
  char *json;
  size_t len;
  oci_error e = {0};
  if (oci_to_json(u->type, u->obj, &w, &json, &len, &e)) {
    if (e.code == OCI_ENOMEM) raise_nomem(L);
    return ocil_push_error(L, &e, NULL); /* OCI_EUTF8, with its pointer */
  }
  lua_pushlstring(L, json, len);
  free(json);
  return 1;
}

static int write_file(lua_State *L, bool pretty) {
  ocil_obj *u = self(L);
  const char *path = luaL_checkstring(L, 2);
  oci_write_options w = {OCI_WRITE_OPTIONS_VERSION, pretty};
  oci_error e = {0}; /* oci_write_file sets only code and message */
  if (oci_write_file(u->type, u->obj, &w, path, &e)) {
    if (e.code == OCI_ENOMEM) raise_nomem(L);
    return ocil_push_error(L, &e, NULL);
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int obj_to_file(lua_State *L) {
  bool pretty = false;
  if (lua_istable(L, 3)) {
    ocil_check_options(L, 3, WRITE_OPTIONS, NULL);
    lua_getfield(L, 3, "pretty");
    pretty = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  return write_file(L, pretty);
}

static int obj_to_file_pretty(lua_State *L) {
  return write_file(L, true);
}

static int obj_to_table(lua_State *L) {
  ocil_obj *u = self(L);
  ocil_push_table(L, u->type, u->obj);
  return 1;
}

static int obj_tostring(lua_State *L) {
  ocil_obj *u = ocil_test_any(L, 1);
  if (!u || !u->obj) {
    lua_pushfstring(L, "%s (closed)", u ? u->type->name : "?");
    return 1;
  }
  char *json;
  size_t len;
  oci_error e = {0};
  if (oci_to_json(u->type, u->obj, NULL, &json, &len, &e)) {
    if (e.code == OCI_ENOMEM) raise_nomem(L);
    return luaL_error(L, "%s", e.message); /* __tostring must give a string */
  }
  lua_pushlstring(L, json, len);
  free(json);
  return 1;
}

static int obj_eq(lua_State *L) {
  ocil_obj *a = ocil_test_any(L, 1), *b = ocil_test_any(L, 2);
  lua_pushboolean(L, a && b && a->obj && b->obj && a->type == b->type &&
                         oci_equal(a->type, a->obj, b->obj));
  return 1;
}

static int obj_clone(lua_State *L) {
  ocil_obj *u = self(L);
  ocil_obj *c = new_userdata(L, u->type, NULL, 1, 0);
  void *copy;
  if (oci_clone(u->type, u->obj, &copy, NULL)) raise_nomem(L);
  c->obj = copy;
  gc_account(L, c);
  return 1;
}

static const char *severity_name(oci_severity s) {
  return s == OCI_SEV_ERROR ? "error" : "warning";
}

/* opts {platform = "linux"|"windows"|..., for_start = bool}, or nil. The
   platform string stays on the Lua stack (index idx) while it is used. */
static void get_validate_options(lua_State *L, int idx,
                                 oci_validate_options *o) {
  oci_validate_options def = OCI_VALIDATE_OPTIONS_INIT;
  *o = def;
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  ocil_check_options(L, idx, VALIDATE_OPTIONS, NULL);
  lua_getfield(L, idx, "platform");
  if (!lua_isnil(L, -1)) o->platform = luaL_checkstring(L, -1);
  lua_getfield(L, idx, "for_start");
  o->for_start = lua_toboolean(L, -1);
  lua_pop(L, 1); /* keep platform referenced until validation is done */
}

/* The first problem of severity error (the first one if none is). */
static const oci_problem *first_error(const oci_problems *p) {
  for (size_t i = 0; i < p->len; i++)
    if (p->items[i].severity == OCI_SEV_ERROR) return &p->items[i];
  return &p->items[0];
}

/* Push the list of p's problems {severity=, rule=, pointer=, message=}
   (an empty one marked as an array); returns its index. */
static int push_problem_list(lua_State *L, const oci_problems *p) {
  lua_createtable(L, (int)p->len, 0);
  int list = lua_gettop(L);
  if (!p->len) ocil_set_array_mt(L, list);
  for (size_t i = 0; i < p->len; i++) {
    const oci_problem *pr = &p->items[i];
    lua_createtable(L, 0, 4);
    lua_pushstring(L, severity_name(pr->severity));
    lua_setfield(L, -2, "severity");
    lua_pushstring(L, pr->rule);
    lua_setfield(L, -2, "rule");
    lua_pushstring(L, pr->pointer);
    lua_setfield(L, -2, "pointer");
    lua_pushstring(L, pr->message);
    lua_setfield(L, -2, "message");
    lua_rawseti(L, list, (lua_Integer)i + 1);
  }
  return list;
}

/* The error table of a failed validation (message at msgidx, the problem
   list at list): code "validate", pointer and rule of the first error,
   and every problem. */
static void push_validate_error(lua_State *L, int msgidx, int list,
                                const oci_problem *first) {
  oci_error e = {0};
  memset(&e, 0, sizeof e);
  snprintf(e.pointer, sizeof e.pointer, "%s", first->pointer);
  ocil_error_table(L, OCI_EVALIDATE, msgidx, &e);
  lua_pushstring(L, first->rule);
  lua_setfield(L, -2, "rule");
  lua_pushvalue(L, list);
  lua_setfield(L, -2, "problems");
}

/* true, warnings | nil, message, err (err.problems: every problem) */
static int obj_validate(lua_State *L) {
  ocil_obj *u = self(L);
  oci_validate_options opts;
  get_validate_options(L, 2, &opts);
  oci_problems p;
  int rc = oci_validate_ex(u->type, u->obj, &opts, &p);
  if (rc == OCI_ENOMEM) {
    oci_problems_free(&p);
    raise_nomem(L);
  }
  /* copy into Lua first: lua_* may raise, so build then free */
  int list = push_problem_list(L, &p);
  if (rc == OCI_OK) {
    oci_problems_free(&p);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, list); /* warnings (maybe empty) */
    return 2;
  }
  lua_pushnil(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  int shown = 0;
  for (size_t i = 0; i < p.len; i++) {
    const oci_problem *pr = &p.items[i];
    if (pr->severity == OCI_SEV_ERROR && shown < 8) {
      if (shown++) luaL_addstring(&b, "; ");
      lua_pushfstring(L, "%s: %s (%s)", pr->pointer[0] ? pr->pointer : "/",
                      pr->message, pr->rule);
      luaL_addvalue(&b);
    }
  }
  if (p.errors > 8) {
    lua_pushfstring(L, "; and %d more", (int)(p.errors - 8));
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  push_validate_error(L, lua_gettop(L), list, first_error(&p));
  oci_problems_free(&p);
  return 3;
}

static const oci_field *check_field_name(lua_State *L, const oci_type *t,
                                         int idx) {
  const char *name = luaL_checkstring(L, idx);
  const oci_field *f = oci_field_by_name(t, name);
  if (!f) f = oci_field_by_key(t, name, strlen(name));
  if (!f)
    luaL_argerror(L, idx,
                  lua_pushfstring(L, "%s has no field '%s'", t->name, name));
  return f;
}

/* obj:has(name): present (even as null) */
static int obj_has(lua_State *L) {
  ocil_obj *u = self(L);
  const oci_field *f = check_field_name(L, u->type, 2);
  lua_pushboolean(L, oci_is_present(u->obj, f->index));
  return 1;
}

static int obj_is_null(lua_State *L) {
  ocil_obj *u = self(L);
  const oci_field *f = check_field_name(L, u->type, 2);
  lua_pushboolean(L, oci_is_null(u->obj, f->index));
  return 1;
}

/* obj:unknown_fields(): members not in the spec, kept for round trips */
static int obj_unknown_fields(lua_State *L) {
  ocil_obj *u = self(L);
  const oci_extra *x = ((const oci_object *)u->obj)->extra;
  size_t n = x ? x->len : 0;
  lua_createtable(L, 0, (int)n);
  for (size_t i = 0; i < n; i++) {
    ocil_push_value(L, 1, &oci_vt_raw, &x->raws[i], 1);
    lua_setfield(L, -2, x->keys[i]);
  }
  return 1;
}

/* obj:set_unknown_field(key, value): add or replace an unknown member */
static int obj_set_unknown_field(lua_State *L) {
  ocil_obj *u = self(L);
  oci_object *o = u->obj;
  size_t kl;
  const char *k = luaL_checklstring(L, 2, &kl);
  luaL_argcheck(L, !memchr(k, 0, kl) && oci_utf8_valid(k, kl), 2,
                "key must be UTF-8 without NUL bytes");
  if (oci_field_by_key(u->type, k, kl))
    luaL_argerror(L, 2, "a field of the spec: use its setter");
  oci_extra *x = o->extra;
  size_t i = 0, len = x ? x->len : 0;
  while (i < len && strcmp(x->keys[i], k))
    i++;
  if (lua_isnoneornil(L, 3)) { /* remove */
    if (i < len) {
      memmove(&x->keys[i], &x->keys[i + 1], (len - i - 1) * sizeof(char *));
      memmove(&x->raws[i], &x->raws[i + 1], (len - i - 1) * sizeof(char *));
      x->len--;
    }
    lua_settop(L, 1);
    return 1;
  }
  char *raw;
  ocil_conv c;
  memset(&c, 0, sizeof c);
  if (ocil_encode_raw(L, 3, o->arena, &raw, &c))
    luaL_argerror(L, 3, lua_pushfstring(L, "%s", c.message));
  if (i < len) {
    x->raws[i] = raw;
  } else {
    oci_extra *nx = oci_extra_new(o->arena, len + 1);
    char *key = oci_arena_strndup(o->arena, k, kl);
    if (!nx || !key) raise_nomem(L);
    if (len) {
      memcpy(nx->keys, x->keys, len * sizeof(char *));
      memcpy(nx->raws, x->raws, len * sizeof(char *));
    }
    nx->keys[len] = key;
    nx->raws[len] = raw;
    o->extra = nx;
  }
  lua_settop(L, 1);
  ocil_obj *root = owner_of(L, 1);
  if (root) gc_account(L, root);
  return 1;
}

static int obj_type_name(lua_State *L) {
  ocil_obj *u = self(L);
  lua_pushstring(L, u->type->name);
  return 1;
}

/* Bytes the document's arena holds (shared by every object of it). */
static int obj_memory(lua_State *L) {
  ocil_obj *u = self(L);
  lua_pushinteger(L,
                  (lua_Integer)oci_arena_bytes(((oci_object *)u->obj)->arena));
  return 1;
}

static const luaL_Reg obj_methods[] = {
    {"to_json", obj_to_json},
    {"to_file", obj_to_file},
    {"to_file_pretty", obj_to_file_pretty},
    {"to_table", obj_to_table},
    {"validate", obj_validate},
    {"clone", obj_clone},
    {"has", obj_has},
    {"is_null", obj_is_null},
    {"unknown_fields", obj_unknown_fields},
    {"set_unknown_field", obj_set_unknown_field},
    {"type_name", obj_type_name},
    {"memory_size", obj_memory},
    {NULL, NULL}};

/* ---- builders ------------------------------------------------------------ */

static ocil_obj *builder_self(lua_State *L) {
  const oci_type *t = lua_touserdata(L, lua_upvalueindex(1));
  char name[96];
  snprintf(name, sizeof name, "ocispec.%s.%sBuilder", t->ns, t->name);
  ocil_obj *u = luaL_checkudata(L, 1, name);
  if (!u->obj) luaL_argerror(L, 1, "attempt to use a consumed builder");
  return u;
}

static int builder_set(lua_State *L) {
  ocil_obj *u = builder_self(L);
  set_field(L, u, up_field(L));
  lua_settop(L, 1);
  gc_account(L, u);
  return 1;
}

/* build(): the object, or nil and a message naming every missing required
   field (then the spec rules the values break). The builder is consumed
   on success, as oci-spec-rs's owned builders are. */
static int builder_build(lua_State *L) {
  ocil_obj *u = builder_self(L);
  const oci_type *t = u->type;
  uint64_t missing = oci_required_mask(t) & ~((oci_object *)u->obj)->present;
  if (missing) {
    luaL_Buffer b;
    lua_pushnil(L);
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "%sBuilder: missing required field", t->name);
    luaL_addvalue(&b);
    if (missing & (missing - 1)) luaL_addchar(&b, 's');
    const char *sep = " ";
    for (size_t i = 0; i < t->nfields; i++) {
      if (!(missing >> i & 1)) continue;
      lua_pushfstring(L, "%s'", sep);
      luaL_addvalue(&b);
      push_field_name(L, &t->fields[i]);
      luaL_addvalue(&b);
      luaL_addchar(&b, '\'');
      sep = ", ";
    }
    luaL_pushresult(&b);
    ocil_error_table(L, OCI_EMISSING, -1, NULL);
    lua_newtable(L);
    int n = 0;
    for (size_t i = 0; i < t->nfields; i++) {
      if (!(missing >> i & 1)) continue;
      push_field_name(L, &t->fields[i]);
      lua_rawseti(L, -2, ++n);
    }
    lua_setfield(L, -2, "fields");
    return 3;
  }
  oci_problems p;
  int rc = oci_validate(t, u->obj, &p);
  if (rc == OCI_ENOMEM) {
    oci_problems_free(&p);
    raise_nomem(L);
  }
  if (rc == OCI_EVALIDATE) {
    /* Lua values first (lua_* may raise), then free */
    lua_pushnil(L);
    int list = push_problem_list(L, &p);
    const oci_problem *first = first_error(&p);
    lua_pushfstring(L, "%sBuilder: %s: %s (%s)%s", t->name,
                    first->pointer[0] ? first->pointer : "/", first->message,
                    first->rule, p.errors > 1 ? " and more" : "");
    push_validate_error(L, lua_gettop(L), list, first);
    oci_problems_free(&p);
    lua_remove(L, list);
    return 3;
  }
  oci_problems_free(&p);
  ocil_obj *built = new_userdata(L, t, u->obj, 1, 0);
  built->held = u->held; /* the count goes with the arena */
  u->held = 0;
  u->obj = NULL; /* consumed: the object took the arena */
  return 1;
}

static int builder_tostring(lua_State *L) {
  ocil_obj *u = lua_touserdata(L, 1);
  lua_pushfstring(L, "%sBuilder%s", u->type->name, u->obj ? "" : " (consumed)");
  return 1;
}

/* ---- registration ---------------------------------------------------------
 */

/* method table at -1: add getters and setters of every field of t */
static void add_field_methods(lua_State *L, const oci_type *t, int builder) {
  for (size_t i = 0; i < t->nfields; i++) {
    const oci_field *f = &t->fields[i];
    lua_pushlstring(L, f->name, oci_field_name_len(f)); /* public name */
    const char *name = lua_tostring(L, -1);
    lua_pushlightuserdata(L, (void *)t);
    lua_pushlightuserdata(L, (void *)f);
    if (builder) {
      lua_pushcclosure(L, builder_set, 2);
      lua_setfield(L, -3, name);
    } else {
      lua_pushcclosure(L, obj_get, 2);
      lua_setfield(L, -3, name);
      lua_pushfstring(L, "set_%s", name);
      lua_pushlightuserdata(L, (void *)t);
      lua_pushlightuserdata(L, (void *)f);
      lua_pushcclosure(L, obj_set, 2);
      lua_settable(L, -4);
    }
    lua_pop(L, 1);
  }
}

static void set_funcs_with_type(lua_State *L, const luaL_Reg *r,
                                const oci_type *t) {
  for (; r->name; r++) {
    lua_pushlightuserdata(L, (void *)t);
    lua_pushcclosure(L, r->func, 1);
    lua_setfield(L, -2, r->name);
  }
}

/* field descriptions, for introspection: {key=, name=, kind=, required=} */
static void push_field_list(lua_State *L, const oci_type *t) {
  lua_createtable(L, (int)t->nfields, 0);
  for (size_t i = 0; i < t->nfields; i++) {
    const oci_field *f = &t->fields[i];
    lua_createtable(L, 0, 5);
    lua_pushstring(L, f->key);
    lua_setfield(L, -2, "key");
    push_field_name(L, f);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, oci_kind_name(f->vt->kind));
    lua_setfield(L, -2, "kind");
    lua_pushboolean(L, f->flags & OCI_F_REQUIRED);
    lua_setfield(L, -2, "required");
    lua_pushboolean(L, f->flags & OCI_F_NULLABLE);
    lua_setfield(L, -2, "nullable");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* Push the class table of t; registers its two metatables. */
static void register_type(lua_State *L, const oci_type *t) {
  char name[96];
  /* object metatable */
  snprintf(name, sizeof name, "ocispec.%s.%s", t->ns, t->name);
  luaL_newmetatable(L, name);
  int mt = lua_gettop(L);
  lua_pushvalue(L, mt);
  lua_rawsetp(L, LUA_REGISTRYINDEX, meta_key(t, 0));
  lua_pushcfunction(L, obj_gc);
  lua_setfield(L, mt, "__gc");
  lua_pushcfunction(L, obj_close);
  lua_setfield(L, mt, "__close");
  lua_pushcfunction(L, obj_tostring);
  lua_setfield(L, mt, "__tostring");
  lua_pushcfunction(L, obj_eq);
  lua_setfield(L, mt, "__eq");
  lua_createtable(L, 0, (int)(2 * t->nfields + 12));
  set_funcs_with_type(L, obj_methods, t);
  add_field_methods(L, t, 0);
  int methods = lua_gettop(L);
  lua_pushvalue(L, methods);
  lua_setfield(L, mt, "__index");
  lua_getfield(L, LUA_REGISTRYINDEX, TYPES_KEY);
  lua_pushvalue(L, mt);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);

  /* builder metatable */
  snprintf(name, sizeof name, "ocispec.%s.%sBuilder", t->ns, t->name);
  luaL_newmetatable(L, name);
  int bmt = lua_gettop(L);
  lua_pushvalue(L, bmt);
  lua_rawsetp(L, LUA_REGISTRYINDEX, meta_key(t, 1));
  lua_pushcfunction(L, obj_gc);
  lua_setfield(L, bmt, "__gc");
  lua_pushcfunction(L, obj_gc);
  lua_setfield(L, bmt, "__close");
  lua_pushcfunction(L, builder_tostring);
  lua_setfield(L, bmt, "__tostring");
  lua_createtable(L, 0, (int)t->nfields + 1);
  add_field_methods(L, t, 1);
  lua_pushlightuserdata(L, (void *)t);
  lua_pushcclosure(L, builder_build, 1);
  lua_setfield(L, -2, "build");
  int bmethods = lua_gettop(L);
  lua_pushvalue(L, bmethods);
  lua_setfield(L, bmt, "__index");

  /* class table */
  static const luaL_Reg cls[] = {
      {"from_json", cls_from_json},   {"from_file", cls_from_file},
      {"from_table", cls_from_table}, {"new", cls_new},
      {"builder", cls_builder},       {NULL, NULL}};
  lua_createtable(L, 0, 10);
  set_funcs_with_type(L, cls, t);
  lua_pushstring(L, t->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, t->ns);
  lua_setfield(L, -2, "namespace");
  lua_pushvalue(L, methods);
  lua_setfield(L, -2, "methods"); /* the Lua layer adds helpers here */
  lua_pushvalue(L, bmethods);
  lua_setfield(L, -2, "builder_methods");
  push_field_list(L, t);
  lua_setfield(L, -2, "fields");
  lua_replace(L, mt);
  lua_settop(L, mt);
}

/* core.arena_bytes() -> bytes of document arenas held by objects not yet
   freed (live, or garbage the collector has not reached), and the number
   of full collections they triggered. */
static int core_arena_bytes(lua_State *L) {
  ocil_gc *g = push_gc(L);
  lua_pushinteger(L, (lua_Integer)g->outstanding);
  lua_pushinteger(L, g->collections);
  return 2;
}

/* core.set_empty_array_mt(cjson.empty_array_mt) */
static int core_set_array_mt(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushvalue(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, "ocispec.empty_array_mt");
  return 0;
}

/* A scratch arena owned by a userdata on the stack: a Lua error raised
   while it is in use (out of memory) cannot leak it. */
static int scratch_gc(lua_State *L) {
  oci_arena **box = lua_touserdata(L, 1);
  oci_arena_free(*box);
  *box = NULL;
  return 0;
}

/* Free it now rather than at the next collection. */
static void scratch_gc_now(oci_arena **box) {
  oci_arena_free(*box);
  *box = NULL;
}

static oci_arena **push_scratch(lua_State *L, size_t hint) {
  oci_arena **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  if (luaL_newmetatable(L, "ocispec.scratch_arena")) {
    lua_pushcfunction(L, scratch_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  if (!(*box = oci_arena_new(hint))) raise_nomem(L);
  return box;
}

/* core.json_encode(v [, opts]) -> compact JSON text (sorted object keys) |
   nil, msg, err. opts: the limits of parsing (max_depth, max_size,
   max_string). */
static int core_json_encode(lua_State *L) {
  luaL_checkany(L, 1);
  ocil_conv c;
  get_conv_options(L, 2, &c, CONV_OPTIONS);
  oci_arena **box = push_scratch(L, 0);
  char *out;
  int rc = ocil_encode_raw(L, 1, *box, &out, &c);
  if (rc == OCI_ENOMEM) raise_nomem(L);
  if (rc) return push_conv_error(L, &c, NULL);
  lua_pushstring(L, out);
  scratch_gc_now(box);
  return 1;
}

/* core.json_decode(s [, opts]) -> Lua value (cjson shape) | nil, msg, err */
static int core_json_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  oci_parse_options o;
  get_parse_options(L, 2, &o);
  oci_arena **box = push_scratch(L, len);
  char *raw;
  oci_error e = {0};
  /* validated and compacted first, so converting cannot fail half-way */
  if (oci_json_compact_opts(s, len, &o, *box, &raw, &e)) {
    if (e.code == OCI_ENOMEM) raise_nomem(L);
    return ocil_push_error(L, &e, NULL);
  }
  ocil_push_value(L, 0, &oci_vt_raw, &raw, 1);
  scratch_gc_now(box);
  return 1;
}

/* core.runtime_spec_default() / core.runtime_spec_rootless(uid, gid) */
/* The userdata is pushed before the spec is made (a Lua memory error
   cannot leak it); `u` receives it. */
static int push_spec(lua_State *L, ocil_obj *u, int rc, oci_runtime_spec *s,
                     const oci_error *e) {
  if (rc == OCI_ENOMEM) raise_nomem(L);
  if (rc) return ocil_push_error(L, e, "Spec");
  u->obj = s;
  gc_account(L, u);
  return 1;
}

static int core_runtime_spec_default(lua_State *L) {
  ocil_obj *u = new_userdata(L, &oci_type_runtime_spec, NULL, 1, 0);
  oci_runtime_spec *s;
  oci_error e = {0};
  int rc = oci_runtime_spec_default(&s, &e);
  return push_spec(L, u, rc, s, &e);
}

static uint32_t check_id(lua_State *L, int idx) {
  lua_Integer v = luaL_checkinteger(L, idx);
  luaL_argcheck(L, v >= 0 && v <= (lua_Integer)UINT32_MAX, idx,
                "id out of range for uint32");
  return (uint32_t)v;
}

static int core_runtime_spec_rootless(lua_State *L) {
  uint32_t uid = check_id(L, 1), gid = check_id(L, 2);
  ocil_obj *u = new_userdata(L, &oci_type_runtime_spec, NULL, 1, 0);
  oci_runtime_spec *s;
  oci_error e = {0};
  int rc = oci_runtime_spec_rootless(uid, gid, &s, &e);
  return push_spec(L, u, rc, s, &e);
}

#ifdef OCI_WITH_IMAGE
/* core.runtime_spec_from_image_config(cfg, base, rootfs, volumes): cfg an
   ImageConfiguration, base a Spec or nil, rootfs a string or nil, volumes
   a boolean (oci_runtime_spec_from_image_config) -> Spec | nil, msg, err */
static int core_runtime_spec_from_image_config(lua_State *L) {
  const oci_image_configuration *cfg =
      ocil_check(L, 1, &oci_type_image_configuration)->obj;
  oci_conversion_options o = OCI_CONVERSION_OPTIONS_INIT;
  if (!lua_isnoneornil(L, 2))
    o.base = ocil_check(L, 2, &oci_type_runtime_spec)->obj;
  oci_error e = {0};
  if (!lua_isnoneornil(L, 3) &&
      ocil_parts_cstring(L, 3, "rootfs", &o.rootfs, &e))
    return ocil_push_error(L, &e, NULL);
  o.volumes = lua_toboolean(L, 4);
  ocil_obj *u = new_userdata(L, &oci_type_runtime_spec, NULL, 1, 0);
  oci_runtime_spec *s;
  int rc = oci_runtime_spec_from_image_config(cfg, &o, &s, &e);
  if (rc == OCI_ENOMEM) raise_nomem(L);
  if (rc) return ocil_push_error(L, &e, NULL);
  return push_spec(L, u, rc, s, &e);
}
#endif

/* core.realpath(path) -> absolute path without symlinks | nil, msg, err */
static int core_realpath(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char *r = realpath(path, NULL);
  if (!r) {
    oci_error e = {0};
    oci_error_set(&e, OCI_EIO, "%s: %s", path, strerror(errno));
    return ocil_push_error(L, &e, NULL);
  }
  lua_pushstring(L, r);
  free(r);
  return 1;
}

/* core.json_check(s [, opts]) -> true | nil, msg, err */
static int core_json_check(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  oci_parse_options o;
  get_parse_options(L, 2, &o);
  oci_error e = {0};
  if (oci_json_check(s, len, &o, &e)) return ocil_push_error(L, &e, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

int luaopen_ocispec_core(lua_State *L);
int luaopen_ocispec_core(lua_State *L) {
  push_gc(L); /* now: made later, a memory error could leak a document */
  lua_pop(L, 1);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, TYPES_KEY);
  /* our empty-array marker, until the Lua layer shares cjson's */
  lua_newtable(L);
  lua_pushliteral(L, "ocispec.empty_array");
  lua_setfield(L, -2, "__name");
  lua_setfield(L, LUA_REGISTRYINDEX, "ocispec.empty_array_mt");
  push_error_mt(L); /* core.Error: the metatable of every error table */
  lua_pop(L, 1);
  lua_newtable(L); /* module */
  lua_newtable(L); /* types: ns -> Name -> class */
  for (size_t i = 0; oci_all_types[i]; i++) {
    const oci_type *t = oci_all_types[i];
    if (lua_getfield(L, -1, t->ns) != LUA_TTABLE) {
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushvalue(L, -1);
      lua_setfield(L, -3, t->ns);
    }
    register_type(L, t);
    lua_setfield(L, -2, t->name);
    lua_pop(L, 1);
  }
  ocil_push_values_lib(L, -1);
  lua_setfield(L, -3, "values");
  lua_setfield(L, -2, "types");
  luaL_getmetatable(L, OCIL_ERROR_MT);
  lua_setfield(L, -2, "Error");
  lua_pushcfunction(L, core_set_array_mt);
  lua_setfield(L, -2, "set_empty_array_mt");
  lua_pushcfunction(L, core_json_check);
  lua_setfield(L, -2, "json_check");
  lua_pushcfunction(L, core_arena_bytes);
  lua_setfield(L, -2, "arena_bytes");
  lua_pushcfunction(L, core_runtime_spec_default);
  lua_setfield(L, -2, "runtime_spec_default");
  lua_pushcfunction(L, core_runtime_spec_rootless);
  lua_setfield(L, -2, "runtime_spec_rootless");
#ifdef OCI_WITH_IMAGE
  lua_pushcfunction(L, core_runtime_spec_from_image_config);
  lua_setfield(L, -2, "runtime_spec_from_image_config");
#endif
  lua_pushcfunction(L, core_realpath);
  lua_setfield(L, -2, "realpath");
  lua_pushcfunction(L, core_json_encode);
  lua_setfield(L, -2, "json_encode");
  lua_pushcfunction(L, core_json_decode);
  lua_setfield(L, -2, "json_decode");
  lua_getfield(L, LUA_REGISTRYINDEX, "ocispec.empty_array_mt");
  lua_setfield(L, -2, "empty_array_mt");
  ocil_push_digest_lib(L);
  lua_setfield(L, -2, "digest");
  ocil_push_reference_lib(L);
  lua_setfield(L, -2, "reference");
  ocil_push_check_lib(L);
  lua_setfield(L, -2, "check");
  /* the sub-modules of the optional components exist only when built: the
     Lua layer says "not available (built without ...)" for the others */
#ifdef OCI_WITH_IMAGE
  ocil_push_layer_lib(L);
  lua_setfield(L, -2, "layer");
  ocil_push_unpack_lib(L);
  lua_setfield(L, -2, "unpack");
  ocil_push_layout_lib(L);
  lua_setfield(L, -2, "layout");
  ocil_push_image_reader_lib(L);
  lua_setfield(L, -2, "image_reader");
  ocil_push_run_lib(L);
  lua_setfield(L, -2, "run");
#endif
#ifdef OCI_WITH_REGISTRY
  ocil_push_registry_lib(L);
  lua_setfield(L, -2, "registry");
#endif
  lua_createtable(L, 0, 2); /* which components were built */
  lua_pushboolean(L, OCIL_WITH_IMAGE);
  lua_setfield(L, -2, "image");
  lua_pushboolean(L, OCIL_WITH_REGISTRY);
  lua_setfield(L, -2, "registry");
  lua_setfield(L, -2, "features");
  ocil_push_fs_lib(L);
  lua_setfield(L, -2, "fs");
  lua_pushlightuserdata(L, NULL); /* JSON null, as cjson.null */
  lua_setfield(L, -2, "null");
  lua_pushstring(L, oci_host_arch());
  lua_setfield(L, -2, "host_arch");
  lua_pushstring(L, oci_host_os());
  lua_setfield(L, -2, "host_os");
  lua_pushstring(L, oci_version()); /* the library's, from project(VERSION) */
  lua_setfield(L, -2, "VERSION");
  return 1;
}
