/* core.unpack: applying layers to a root file system (ocispec/unpack.h).
     apply(blob_path, rootfs [, {rootless=bool, digest=string}])
       -> {entries=, whiteouts=, opaque_dirs=, skipped=} | nil, msg, code */
#include <lauxlib.h>
#include <lua.h>

#include "ocil_parts.h"
#include "ocispec/unpack.h"

static int l_apply(lua_State *L) {
  oci_error err;
  oci_error_clear(&err);
  const char *blob, *rootfs;
  if (ocil_parts_cstring(L, 1, "blob path", &blob, &err) ||
      ocil_parts_cstring(L, 2, "rootfs", &rootfs, &err))
    return ocil_parts_push_error(L, &err);
  oci_unpack_options opts = OCI_UNPACK_OPTIONS_INIT;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_getfield(L, 3, "rootless");
    opts.rootless = lua_toboolean(L, -1);
    lua_getfield(L, 3, "digest");
    /* stays on the stack (and alive) until the call returns */
    if (!lua_isnil(L, -1)) opts.expected_digest = luaL_checkstring(L, -1);
  }
  oci_unpack_stats st;
  if (oci_layer_apply(blob, rootfs, &opts, &st, &err))
    return ocil_parts_push_error(L, &err);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)st.entries);
  lua_setfield(L, -2, "entries");
  lua_pushinteger(L, (lua_Integer)st.whiteouts);
  lua_setfield(L, -2, "whiteouts");
  lua_pushinteger(L, (lua_Integer)st.opaque_dirs);
  lua_setfield(L, -2, "opaque_dirs");
  lua_pushinteger(L, (lua_Integer)st.skipped);
  lua_setfield(L, -2, "skipped");
  return 1;
}

int ocil_push_unpack_lib(lua_State *L) {
  static const luaL_Reg fns[] = {{"apply", l_apply}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
