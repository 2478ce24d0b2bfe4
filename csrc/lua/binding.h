/* The one generic Lua binding: every declared type becomes a class table,
   a userdata metatable and a builder, driven by its oci_type. */
#ifndef OCISPEC_LUA_BINDING_H
#define OCISPEC_LUA_BINDING_H

#include <lauxlib.h>
#include <lua.h>

#include "ocispec/types.h"

/* A userdata for an object. The root of a document owns its arena; a child
   keeps its root alive through its user value, so no pointer can dangle. */
typedef struct ocil_gc ocil_gc;
typedef struct ocil_obj {
  void *obj; /* NULL once a builder is consumed */
  const oci_type *type;
  int owner;   /* frees obj's arena when collected */
  int lent;    /* a root that child userdata point into */
  size_t held; /* an owner: arena bytes counted in gc->outstanding */
  ocil_gc *gc; /* the lua_State's accounting (set for owners) */
} ocil_obj;

/* Conversion errors: what, and where (a JSON Pointer); and the limits of a
   conversion, those of parsing (oci_parse_options; 0 = the default). Zero
   the whole struct before use. Containers are counted as the reader counts
   them: the object being converted is level `depth + 1`, so a table nested
   as deep as a JSON text the reader refuses is refused too (and a table
   that contains itself cannot loop). max_size bounds the JSON text of each
   free-form value, max_string every string and key. */
typedef struct ocil_conv {
  int code;
  char message[OCI_ERROR_MESSAGE_MAX];
  char pointer[OCI_ERROR_POINTER_MAX];
  size_t max_depth, max_size, max_string;
  size_t depth; /* containers entered so far */
  int strict;   /* a member no type declares is an error, not kept */
} ocil_conv;

/* Push a new userdata owning obj (a root: its arena is freed with it). */
void ocil_push_root(lua_State *L, const oci_type *t, void *obj);

/* For a C function that makes a document: push its root userdata first,
   owning nothing (so that a Lua memory error cannot leak the document),
   then hand it the document with ocil_root_adopt (u at the stack top or
   otherwise reachable). */
ocil_obj *ocil_new_root(lua_State *L, const oci_type *t);
void ocil_root_adopt(lua_State *L, ocil_obj *u, void *obj);

/* Push a userdata for child object obj, kept alive by the document that
   the userdata at index `parent` belongs to. */
void ocil_push_child(lua_State *L, int parent, const oci_type *t, void *obj);

/* The object userdata at idx of type t (raises if it is not one). */
ocil_obj *ocil_check(lua_State *L, int idx, const oci_type *t);

/* The object userdata at idx of any declared type, or NULL. */
ocil_obj *ocil_test_any(lua_State *L, int idx);

/* C value -> Lua value (to_table shape when `as_table`; otherwise getters:
   child objects become userdata tied to the userdata at `parent`). */
void ocil_push_value(lua_State *L, int parent, const oci_vtype *vt,
                     const void *p, int as_table);

/* Lua value at idx -> C value of vtype vt in arena a. Returns 0, or an
   oci_status with c filled. Never raises (except Lua memory errors). */
int ocil_to_value(lua_State *L, int idx, const oci_vtype *vt, void *dst,
                  oci_arena *a, ocil_conv *c);

/* A Lua table at idx (JSON-shaped, as cjson.decode gives) -> new object. */
int ocil_to_object(lua_State *L, int idx, const oci_type *t, oci_arena *a,
                   void **out, ocil_conv *c);

/* Push obj as a Lua table shaped like cjson.decode(obj:to_json()). */
void ocil_push_table(lua_State *L, const oci_type *t, const void *obj);

/* Push any Lua value at idx as compact JSON text into arena a. */
int ocil_encode_raw(lua_State *L, int idx, oci_arena *a, char **out,
                    ocil_conv *c);

/* Metatable of every error table (core.Error): __tostring gives the
   message. */
#define OCIL_ERROR_MT "ocispec.Error"

/* THE error table of the binding: pushes {code = oci_status_name(code),
   message = the string at msgidx, pointer = (from e when not NULL: a
   JSON Pointer, "" for the whole value or none), line =, column = (when
   e has a line)} with the ocispec.Error metatable.
   Callers add `rule`, `fields`, `problems`, `http` as they apply. */
void ocil_error_table(lua_State *L, int code, int msgidx, const oci_error *e);

/* Return nil, message, err from an oci_error (3 results); the message is
   "context: line:col: /pointer: message" (each part when present). */
int ocil_push_error(lua_State *L, const oci_error *e, const char *context);

/* Return nil, message, err with this message as it is (3 results); e (may
   be NULL) gives the pointer and position. */
int ocil_push_error_msg(lua_State *L, int code, const oci_error *e,
                        const char *message);

/* Options tables are checked: raises `unknown option "k"` when the table
   at idx has a key that is not in `known` (NULL-ended) or is not a string:
   as a bad argument idx, or prefixed with `what` when not NULL (a table
   inside the arguments). Nothing when idx holds no table. */
void ocil_check_options(lua_State *L, int idx, const char *const *known,
                        const char *what);

/* ---- handles (handle.c): the hand-written metatables ----------------- */

/* A kind of handle: its metatable name (dotted, "ocispec.layout.Layout"),
   how to release its C object, and what tostring shows. */
typedef struct ocil_handle_class {
  const char *name;
  void (*release)(void *p);                /* p is never NULL */
  void (*describe)(lua_State *L, void *p); /* pushes one string, or NULL */
  int exclusive; /* busy: every method raises, not only close */
} ocil_handle_class;

/* The userdata of a handle: the C object (NULL before it is made and once
   closed; owned by the handle) and the number of calls using it. `extra`
   bytes of the class's own follow (ocil_handle_extra). */
typedef struct ocil_handle {
  void *p;
  int busy;
  const ocil_handle_class *cls;
} ocil_handle;

/* Make c's metatable (once): __gc, __close, __tostring, a close() method,
   then `methods` in __index and `meta` (both may be NULL) beside them. */
void ocil_handle_register(lua_State *L, const ocil_handle_class *c,
                          const luaL_Reg *methods, const luaL_Reg *meta);
/* Push a new handle of class c with p = NULL (set it after the C call
   that makes the object: a Lua error can then not leak it). */
ocil_handle *ocil_handle_new(lua_State *L, const ocil_handle_class *c,
                             size_t extra, int nuv);
/* The handle of class c at idx, open (and idle when c is exclusive);
   raises naming the argument otherwise. */
ocil_handle *ocil_handle_check(lua_State *L, int idx,
                               const ocil_handle_class *c);
/* The handle of class c at idx, open or not (raises on another type). */
ocil_handle *ocil_handle_at(lua_State *L, int idx, const ocil_handle_class *c);
void *ocil_handle_extra(ocil_handle *h);
/* Count a call in progress using the handle at idx (+1 / -1). */
void ocil_handle_use(lua_State *L, int idx, const ocil_handle_class *c,
                     int delta);

/* cjson.empty_array_mt, when registered by the Lua layer. */
void ocil_set_array_mt(lua_State *L, int tableidx);

#endif
