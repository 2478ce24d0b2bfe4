/* core.fs: file helpers of the Lua layer (ocispec.runtime, the CLI).
     read_in_root(rootfs, path [, max])
       -> content | false (no such file) | nil, msg, err
       (oci_rootfs_read_file: never leaves rootfs, regular files only,
       max bytes, default 4 MiB)
     write_atomic(path, data) -> true | nil, msg, err
       (a temporary file beside path, fsync, rename: all or nothing)
     ids() -> {uid=, gid=, euid=, egid=, groups={...}}
       (getuid, getgid, geteuid, getegid, getgroups: what `id` prints,
       without running it)
     isatty(fd | file) -> boolean (isatty(3); a closed file raises) */
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "ocil_parts.h"
#include "ocispec/runtime.h"

/* lua_pushlstring under lua_pcall, so that buf is freed even when Lua
   cannot allocate the string. */
static int push_buf(lua_State *L) {
  const char *buf = lua_touserdata(L, 1);
  size_t len = (size_t)lua_tointeger(L, 2);
  lua_pushlstring(L, buf, len);
  return 1;
}

static int l_read_in_root(lua_State *L) {
  oci_error err = {0};
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

static int l_write_atomic(lua_State *L) {
  oci_error err = {0};
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

static void set_id(lua_State *L, const char *key, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, key);
}

static int l_ids(lua_State *L) {
  lua_createtable(L, 0, 5);
  set_id(L, "uid", (lua_Integer)getuid());
  set_id(L, "gid", (lua_Integer)getgid());
  set_id(L, "euid", (lua_Integer)geteuid());
  set_id(L, "egid", (lua_Integer)getegid());
  /* the list can grow between the two calls: ask again (EINVAL) */
  for (int tries = 0;; tries++) {
    int n = getgroups(0, NULL);
    if (n < 0) return luaL_error(L, "getgroups: %s", strerror(errno));
    /* a userdata: collected even when a Lua allocation below fails */
    gid_t *g = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *g, 0);
    int got = getgroups(n, g);
    if (got < 0 && errno == EINVAL && tries < 8) {
      lua_pop(L, 1);
      continue;
    }
    if (got < 0) return luaL_error(L, "getgroups: %s", strerror(errno));
    lua_createtable(L, got, 0);
    for (int i = 0; i < got; i++) {
      lua_pushinteger(L, (lua_Integer)g[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -3, "groups");
    lua_pop(L, 1);
    return 1;
  }
}

static int l_isatty(lua_State *L) {
  int fd;
  luaL_Stream *f = luaL_testudata(L, 1, LUA_FILEHANDLE);
  if (f) {
    if (!f->closef) return luaL_argerror(L, 1, "attempt to use a closed file");
    fd = fileno(f->f);
  } else {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0 && n <= INT_MAX, 1, "not a file descriptor");
    fd = (int)n;
  }
  lua_pushboolean(L, fd >= 0 && isatty(fd));
  return 1;
}

int ocil_push_fs_lib(lua_State *L) {
  static const luaL_Reg fns[] = {{"read_in_root", l_read_in_root},
                                 {"write_atomic", l_write_atomic},
                                 {"ids", l_ids},
                                 {"isatty", l_isatty},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
