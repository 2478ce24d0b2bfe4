/* core.reference: image references for Lua (see ocispec/reference.h).
     parse(s)                                   -> Reference | nil, msg, err
     with_tag(registry, repository, tag)        -> Reference | nil, msg, err
     with_digest(registry, repository, digest)  -> ...
     with_tag_and_digest(registry, repository, tag, digest) -> ...
   A Reference is a full userdata holding one oci_reference pointer; it is
   created (pointer NULL) BEFORE the C call that allocates, so a Lua error
   can never leak the C object: __gc frees whatever was stored. */
#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <string.h>

#include "ocil_parts.h"
#include "ocispec/reference.h"

typedef struct ref_box {
  oci_reference *ref; /* NULL before construction and after close */
} ref_box;

static ref_box *new_box(lua_State *L) {
  ref_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->ref = NULL;
  luaL_setmetatable(L, OCIL_REFERENCE_MT);
  return b;
}

static oci_reference *check_ref(lua_State *L, int idx) {
  ref_box *b = luaL_checkudata(L, idx, OCIL_REFERENCE_MT);
  luaL_argcheck(L, b->ref != NULL, idx, "reference is closed");
  return b->ref;
}

/* Leaves the box on top as the result, or pushes nil, msg, err. */
static int finish(lua_State *L, int rc, const oci_error *err) {
  return rc ? ocil_parts_push_error(L, err) : 1;
}

/* ---- constructors ---- */

static int l_parse(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  ref_box *b = new_box(L);
  oci_error err = {0};
  return finish(L, oci_reference_parse(s, len, &b->ref, &err), &err);
}

/* with_*: string arguments at 1..n (NUL-free); tag_at/digest_at say which
   argument is the tag and which the digest (0 = none). */
static int build(lua_State *L, int tag_at, int digest_at) {
  const char *reg, *repo, *tag = NULL, *digest = NULL;
  ref_box *b;
  oci_error err = {0};
  int rc;
  rc = ocil_parts_cstring(L, 1, "registry", &reg, &err);
  if (!rc) rc = ocil_parts_cstring(L, 2, "repository", &repo, &err);
  if (!rc && tag_at) rc = ocil_parts_cstring(L, tag_at, "tag", &tag, &err);
  if (!rc && digest_at)
    rc = ocil_parts_cstring(L, digest_at, "digest", &digest, &err);
  if (rc) return ocil_parts_push_error(L, &err);
  b = new_box(L);
  return finish(L, oci_reference_new(reg, repo, tag, digest, &b->ref, &err),
                &err);
}

static int l_with_tag(lua_State *L) {
  return build(L, 3, 0);
}
static int l_with_digest(lua_State *L) {
  return build(L, 0, 3);
}
static int l_with_tag_and_digest(lua_State *L) {
  return build(L, 3, 4);
}

/* ---- methods ---- */

static int push_opt(lua_State *L, const char *s) {
  if (s)
    lua_pushstring(L, s);
  else
    lua_pushnil(L);
  return 1;
}

static int m_registry(lua_State *L) {
  return push_opt(L, check_ref(L, 1)->registry);
}
static int m_repository(lua_State *L) {
  return push_opt(L, check_ref(L, 1)->repository);
}
static int m_tag(lua_State *L) {
  return push_opt(L, check_ref(L, 1)->tag);
}
static int m_digest(lua_State *L) {
  return push_opt(L, check_ref(L, 1)->digest);
}
static int m_resolve_registry(lua_State *L) {
  return push_opt(L, oci_reference_resolve_registry(check_ref(L, 1)));
}

/* oci-spec-rs namespace(): the original registry, only when a mirror is
   set (the mirror serves that registry's namespace). */
static int m_namespace(lua_State *L) {
  oci_reference *r = check_ref(L, 1);
  return push_opt(L, r->mirror_registry ? r->registry : NULL);
}

/* Written straight into a Lua buffer: no malloc'd string that a Lua
   memory error could leak. */
static int m_whole(lua_State *L) {
  oci_reference *r = check_ref(L, 1);
  size_t n = oci_reference_format(r, NULL, 0);
  luaL_Buffer b;
  oci_reference_format(r, luaL_buffinitsize(L, &b, n + 1), n + 1);
  luaL_pushresultsize(&b, n);
  return 1;
}

static int m_set_mirror_registry(lua_State *L) {
  oci_reference *r = check_ref(L, 1);
  const char *mirror;
  oci_error err = {0};
  if (ocil_parts_cstring(L, 2, "mirror registry", &mirror, &err) ||
      oci_reference_set_mirror(r, mirror, &err))
    return ocil_parts_push_error(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static int m_clone_with_digest(lua_State *L) {
  oci_reference *r = check_ref(L, 1);
  const char *digest;
  ref_box *b;
  oci_error err = {0};
  if (ocil_parts_cstring(L, 2, "digest", &digest, &err))
    return ocil_parts_push_error(L, &err);
  b = new_box(L);
  return finish(L, oci_reference_clone_with_digest(r, digest, &b->ref, &err),
                &err);
}

/* ---- metamethods ---- */

static int mm_gc(lua_State *L) { /* also __close: must be idempotent */
  ref_box *b = luaL_checkudata(L, 1, OCIL_REFERENCE_MT);
  oci_reference_free(b->ref);
  b->ref = NULL;
  return 0;
}

static bool same_opt(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

/* Equal when whole() is: compared part by part, which is the same thing
   for valid parts and needs no allocation. The mirror is not part of it. */
static int mm_eq(lua_State *L) {
  ref_box *a = luaL_testudata(L, 1, OCIL_REFERENCE_MT);
  ref_box *b = luaL_testudata(L, 2, OCIL_REFERENCE_MT);
  bool eq = a && b && a->ref && b->ref &&
            same_opt(a->ref->registry, b->ref->registry) &&
            same_opt(a->ref->repository, b->ref->repository) &&
            same_opt(a->ref->tag, b->ref->tag) &&
            same_opt(a->ref->digest, b->ref->digest);
  lua_pushboolean(L, eq);
  return 1;
}

static void create_metatable(lua_State *L) {
  static const luaL_Reg meta[] = {{"__gc", mm_gc},
                                  {"__close", mm_gc},
                                  {"__tostring", m_whole},
                                  {"__eq", mm_eq},
                                  {NULL, NULL}};
  static const luaL_Reg methods[] = {
      {"registry", m_registry},
      {"repository", m_repository},
      {"tag", m_tag},
      {"digest", m_digest},
      {"whole", m_whole},
      {"resolve_registry", m_resolve_registry},
      {"namespace", m_namespace},
      {"set_mirror_registry", m_set_mirror_registry},
      {"clone_with_digest", m_clone_with_digest},
      {NULL, NULL}};
  if (!luaL_newmetatable(L, OCIL_REFERENCE_MT)) { /* made by an earlier call */
    lua_pop(L, 1);
    return;
  }
  luaL_setfuncs(L, meta, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

int ocil_push_reference_lib(lua_State *L) {
  static const luaL_Reg fns[] = {{"parse", l_parse},
                                 {"with_tag", l_with_tag},
                                 {"with_digest", l_with_digest},
                                 {"with_tag_and_digest", l_with_tag_and_digest},
                                 {NULL, NULL}};
  create_metatable(L);
  luaL_newlib(L, fns);
  return 1;
}
