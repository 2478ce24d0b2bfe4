/* core.fs: file helpers of the Lua layer (ocispec.runtime, the CLI).
     read_in_root(rootfs, path [, max])   (OCI_WITH_IMAGE only)
       -> content | false (no such file) | nil, msg, err
       (oci_rootfs_read_file: never leaves rootfs, regular files only,
       max bytes, default 4 MiB)
     write_atomic(path, data) -> true | nil, msg, err
       (a temporary file beside path, fsync, rename: all or nothing)
     ids() -> {uid=, gid=, euid=, egid=, groups={...}}
       (getuid, getgid, geteuid, getegid, getgroups: what `id` prints,
       without running it)
     isatty(fd | file) -> boolean (isatty(3); a closed file raises)
     private_dir(path) -> true | nil, msg, err
       (path made 0700, or an existing directory of the caller's, never
       through a symbolic link, made 0700: what is below it is out of
       other users' reach; one of another user's is refused) */
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

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

#endif

static int l_write_atomic(lua_State *L) {
  oci_error err = {0};
  const char *path;
  if (ocil_parts_cstring(L, 1, "path", &path, &err))
    return ocil_parts_push_error(L, &err);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  lua_Integer mode = luaL_optinteger(L, 3, 0644);
  luaL_argcheck(L, mode >= 0 && mode <= 0777, 3, "a mode 0..0777");
  if (oci_file_write_atomic_mode(path, data, len, (unsigned)mode, &err)) {
    if (err.code == OCI_ENOMEM) return luaL_error(L, "out of memory");
    return ocil_parts_push_error(L, &err);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* read_secret(prompt) -> the line typed on the terminal without echo (no
   newline) | nil, message: the prompt goes to /dev/tty, echo is off while
   the line is read and restored after. */
static int l_read_secret(lua_State *L) {
  const char *prompt = luaL_optstring(L, 1, "Password: ");
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    oci_error err = {0};
    oci_error_set(&err, OCI_EIO,
                  "no terminal to read a password from (/dev/tty: %s)",
                  strerror(errno));
    return ocil_parts_push_error(L, &err);
  }
  struct termios old, quiet;
  bool have = tcgetattr(fd, &old) == 0;
  if (have) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  if (write(fd, prompt, strlen(prompt)) < 0) { /* nothing to do */
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char c;
  size_t n = 0;
  ssize_t r;
  while ((r = read(fd, &c, 1)) == 1 && c != '\n' && n < 4096) {
    luaL_addchar(&b, c);
    n++;
  }
  if (have) tcsetattr(fd, TCSAFLUSH, &old);
  if (write(fd, "\n", 1) < 0) { /* nothing to do */
  }
  close(fd);
  c = 0;
  luaL_pushresult(&b);
  return 1;
}

/* mkdir(path, mode) -> true (also when it is a folder already) | nil,
   message, err */
static int l_mkdir(lua_State *L) {
  oci_error err = {0};
  const char *path;
  if (ocil_parts_cstring(L, 1, "path", &path, &err))
    return ocil_parts_push_error(L, &err);
  lua_Integer mode = luaL_checkinteger(L, 2);
  luaL_argcheck(L, mode >= 0 && mode <= 0777, 2, "a mode 0..0777");
  struct stat st;
  if (mkdir(path, (mode_t)mode) != 0 &&
      !(errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
    oci_error_set(&err, OCI_EIO, "cannot make the folder %s: %s", path,
                  strerror(errno));
    return ocil_parts_push_error(L, &err);
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int l_private_dir(lua_State *L) {
  oci_error err = {0};
  const char *path;
  if (ocil_parts_cstring(L, 1, "path", &path, &err))
    return ocil_parts_push_error(L, &err);
  if (mkdir(path, 0700) != 0 && errno != EEXIST) {
    oci_error_set(&err, OCI_EIO, "cannot make the folder %s: %s", path,
                  strerror(errno));
    return ocil_parts_push_error(L, &err);
  }
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    oci_error_set(&err, OCI_EIO, "%s: %s", path,
                  errno == ELOOP ? "a symbolic link, not a folder"
                                 : strerror(errno));
    if (fd >= 0) close(fd);
    return ocil_parts_push_error(L, &err);
  }
  if (st.st_uid != geteuid())
    oci_error_set(&err, OCI_EINVAL, "%s is owned by uid %u, not by uid %u",
                  path, (unsigned)st.st_uid, (unsigned)geteuid());
  else if ((st.st_mode & 077) && fchmod(fd, st.st_mode & 0700) != 0)
    oci_error_set(&err, OCI_EIO, "%s: chmod: %s", path, strerror(errno));
  close(fd);
  if (err.code) return ocil_parts_push_error(L, &err);
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
  static const luaL_Reg fns[] = {
#ifdef OCI_WITH_IMAGE
      {"read_in_root", l_read_in_root},
#endif
      {"write_atomic", l_write_atomic},
      {"ids", l_ids},
      {"isatty", l_isatty},
      {"read_secret", l_read_secret},
      {"mkdir", l_mkdir},
      {"private_dir", l_private_dir},
      {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
