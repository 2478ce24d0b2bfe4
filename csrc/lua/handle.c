/* The one helper behind the hand-written metatables (Layout, BlobWriter,
   registry Client, Hasher, Reference, layer listing): a userdata holding
   one C object pointer, created (pointer NULL) before the C call that
   allocates, so a Lua error cannot leak it; close(), __close and __gc
   release it once (idempotent); using it closed raises; a busy counter
   makes close() raise while a call uses it (and every method, for an
   exclusive class); __tostring gives "<name> (<detail>)" or
   "<name> (closed)". */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "binding.h"

static ocil_handle *check_raw(lua_State *L, int idx) {
  const ocil_handle_class *c = lua_touserdata(L, lua_upvalueindex(1));
  return luaL_checkudata(L, idx, c->name);
}

static void release(ocil_handle *h) {
  if (h->p && h->cls->release) h->cls->release(h->p);
  h->p = NULL;
}

static int handle_gc(lua_State *L) {
  release(check_raw(L, 1));
  return 0;
}

/* close() and __close: not while a call uses it (a progress callback must
   not free what its transfer works on). */
static int handle_close(lua_State *L) {
  ocil_handle *h = check_raw(L, 1);
  if (h->busy)
    return luaL_error(L, "%s is in use by a call in progress", h->cls->name);
  release(h);
  return 0;
}

static int handle_tostring(lua_State *L) {
  ocil_handle *h = check_raw(L, 1);
  if (!h->p || !h->cls->describe) {
    lua_pushfstring(L, "%s (%s)", h->cls->name, h->p ? "open" : "closed");
    return 1;
  }
  lua_pushfstring(L, "%s (", h->cls->name);
  h->cls->describe(L, h->p);
  lua_pushliteral(L, ")");
  lua_concat(L, 3);
  return 1;
}

void ocil_handle_register(lua_State *L, const ocil_handle_class *c,
                          const luaL_Reg *methods, const luaL_Reg *meta) {
  if (!luaL_newmetatable(L, c->name)) { /* made by an earlier call */
    lua_pop(L, 1);
    return;
  }
  static const luaL_Reg common[] = {{"__gc", handle_gc},
                                    {"__close", handle_close},
                                    {"__tostring", handle_tostring},
                                    {NULL, NULL}};
  lua_pushlightuserdata(L, (void *)c);
  luaL_setfuncs(L, common, 1);
  if (meta) luaL_setfuncs(L, meta, 0);
  lua_newtable(L); /* __index */
  if (methods) luaL_setfuncs(L, methods, 0);
  lua_pushlightuserdata(L, (void *)c);
  lua_pushcclosure(L, handle_close, 1);
  lua_setfield(L, -2, "close");
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

ocil_handle *ocil_handle_new(lua_State *L, const ocil_handle_class *c,
                             size_t extra, int nuv) {
  ocil_handle *h = lua_newuserdatauv(L, sizeof *h + extra, nuv);
  memset(h, 0, sizeof *h + extra);
  h->cls = c;
  luaL_setmetatable(L, c->name);
  return h;
}

ocil_handle *ocil_handle_at(lua_State *L, int idx, const ocil_handle_class *c) {
  return luaL_checkudata(L, idx, c->name);
}

ocil_handle *ocil_handle_check(lua_State *L, int idx,
                               const ocil_handle_class *c) {
  ocil_handle *h = luaL_checkudata(L, idx, c->name);
  if (!h->p)
    luaL_argerror(L, idx,
                  lua_pushfstring(L, "attempt to use a closed %s", c->name));
  if (h->busy && c->exclusive)
    luaL_argerror(L, idx,
                  lua_pushfstring(L,
                                  "%s is busy (used by a call in progress, "
                                  "such as from its progress callback)",
                                  c->name));
  return h;
}

void *ocil_handle_extra(ocil_handle *h) {
  return h + 1;
}

void ocil_handle_use(lua_State *L, int idx, const ocil_handle_class *c,
                     int delta) {
  ocil_handle_at(L, idx, c)->busy += delta;
}
