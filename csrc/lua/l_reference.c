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

#include "binding.h"
#include "ocil_parts.h"
#include "ocispec/reference.h"

static void ref_release(void *p) {
  oci_reference_free(p);
}

/* whole(), written straight into a Lua buffer: no malloc'd string that a
   Lua memory error could leak. */
static void push_whole(lua_State *L, void *p) {
  size_t n = oci_reference_format(p, NULL, 0);
  luaL_Buffer b;
  oci_reference_format(p, luaL_buffinitsize(L, &b, n + 1), n + 1);
  luaL_pushresultsize(&b, n);
}

static const ocil_handle_class ref_class = {OCIL_REFERENCE_MT, ref_release,
                                            push_whole, 0};

/* A new Reference handle (its object set by finish). */
static ocil_handle *new_box(lua_State *L) {
  return ocil_handle_new(L, &ref_class, 0, 0);
}

static oci_reference *check_ref(lua_State *L, int idx) {
  return ocil_handle_check(L, idx, &ref_class)->p;
}

/* Hands *r to the box b and leaves b on top as the result, or pushes nil,
   msg, err. (A pointer: the call filling *r is an argument too, and the
   order arguments are evaluated in is unspecified.) */
static int finish(lua_State *L, ocil_handle *b, int rc, oci_reference **r,
                  const oci_error *err) {
  if (rc) return ocil_parts_push_error(L, err);
  b->p = *r;
  return 1;
}

/* ---- constructors ---- */

static int l_parse(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  ocil_handle *b = new_box(L);
  oci_reference *r = NULL;
  oci_error err = {0};
  return finish(L, b, oci_reference_parse(s, len, &r, &err), &r, &err);
}

/* with_*: string arguments at 1..n (NUL-free); tag_at/digest_at say which
   argument is the tag and which the digest (0 = none). */
static int build(lua_State *L, int tag_at, int digest_at) {
  const char *reg, *repo, *tag = NULL, *digest = NULL;
  ocil_handle *b;
  oci_reference *r = NULL;
  oci_error err = {0};
  int rc;
  rc = ocil_parts_cstring(L, 1, "registry", &reg, &err);
  if (!rc) rc = ocil_parts_cstring(L, 2, "repository", &repo, &err);
  if (!rc && tag_at) rc = ocil_parts_cstring(L, tag_at, "tag", &tag, &err);
  if (!rc && digest_at)
    rc = ocil_parts_cstring(L, digest_at, "digest", &digest, &err);
  if (rc) return ocil_parts_push_error(L, &err);
  b = new_box(L);
  return finish(L, b, oci_reference_new(reg, repo, tag, digest, &r, &err), &r,
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

static int m_whole(lua_State *L) {
  push_whole(L, check_ref(L, 1));
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
  oci_reference *r = check_ref(L, 1), *c = NULL;
  const char *digest;
  ocil_handle *b;
  oci_error err = {0};
  if (ocil_parts_cstring(L, 2, "digest", &digest, &err))
    return ocil_parts_push_error(L, &err);
  b = new_box(L);
  return finish(L, b, oci_reference_clone_with_digest(r, digest, &c, &err), &c,
                &err);
}

/* ---- metamethods ---- */

static bool same_opt(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

/* Equal when whole() is: compared part by part, which is the same thing
   for valid parts and needs no allocation. The mirror is not part of it. */
static int mm_eq(lua_State *L) {
  ocil_handle *ha = luaL_testudata(L, 1, OCIL_REFERENCE_MT);
  ocil_handle *hb = luaL_testudata(L, 2, OCIL_REFERENCE_MT);
  const oci_reference *a = ha ? ha->p : NULL, *b = hb ? hb->p : NULL;
  bool eq = a && b && same_opt(a->registry, b->registry) &&
            same_opt(a->repository, b->repository) &&
            same_opt(a->tag, b->tag) && same_opt(a->digest, b->digest);
  lua_pushboolean(L, eq);
  return 1;
}

static void create_metatable(lua_State *L) {
  static const luaL_Reg meta[] = {
      {"__tostring", m_whole}, {"__eq", mm_eq}, {NULL, NULL}};
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
  ocil_handle_register(L, &ref_class, methods, meta);
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
