/* core.fs: file helpers of the Lua layer (ocispec.runtime, the CLI).
     read_in_root(rootfs, path [, max])   (OCI_WITH_IMAGE only)
       -> content | false (no such file) | nil, msg, code
       (oci_rootfs_read_file: never leaves rootfs, regular files only,
       max bytes, default 4 MiB)
     write_atomic(path, data) -> true | nil, msg, code
       (a temporary file beside path, fsync, rename: all or nothing) */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>

#include "internal.h"
#include "ocil_parts.h"
#include "ocispec/config.h"
#include "ocispec/runtime.h"

#ifdef OCI_WITH_IMAGE /* oci_rootfs_read_file: csrc/image/rootfs.c */
/* lua_pushlstring under lua_pcall, so that buf is freed even when Lua
   cannot allocate the string. */
static int push_buf(lua_State *L) {
  const char *buf = lua_touserdata(L, 1);
  size_t len = (size_t)lua_tointeger(L, 2);
  lua_pushlstring(L, buf, len);
  return 1;
}

static int l_read_in_root(lua_State *L) {
  oci_error err;
  oci_error_clear(&err);
  const char *rootfs, *path;
  if (ocil_parts_cstring(L, 1, "rootfs", &rootfs, &err) ||
      ocil_parts_cstring(L, 2, "path", &path, &err))
    return ocil_parts_push_error(L, &err);
  lua_Integer max = luaL_optinteger(L, 3, 0);
  luaL_argcheck(L, max >= 0, 3, "max must be >= 0");
  char *buf;
  size_t len;
  if (oci_rootfs_read_file(rootfs, path, (size_t)max, &buf, &len, &err)) {
    if (err.code == OCI_ENOMEM) return luaL_error(L, "out of memory");
    return ocil_parts_push_error(L, &err);
  }
  if (!buf) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pushcfunction(L, push_buf);
  lua_pushlightuserdata(L, buf);
  lua_pushinteger(L, (lua_Integer)len);
  int st = lua_pcall(L, 2, 1, 0);
  free(buf);
  if (st != LUA_OK) return lua_error(L);
  return 1;
}

#endif

static int l_write_atomic(lua_State *L) {
  oci_error err;
  oci_error_clear(&err);
  const char *path;
  if (ocil_parts_cstring(L, 1, "path", &path, &err))
    return ocil_parts_push_error(L, &err);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  if (oci_file_write_atomic(path, data, len, &err)) {
    if (err.code == OCI_ENOMEM) return luaL_error(L, "out of memory");
    return ocil_parts_push_error(L, &err);
  }
  lua_pushboolean(L, 1);
  return 1;
}

int ocil_push_fs_lib(lua_State *L) {
  static const luaL_Reg fns[] = {
#ifdef OCI_WITH_IMAGE
      {"read_in_root", l_read_in_root},
#endif
      {"write_atomic", l_write_atomic},
      {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
