/* core.unpack: applying layers to a root file system (ocispec/unpack.h),
   unpacking an image into a bundle, and file system helpers for scripts
   (oci.unpack's mkdtemp, mkdir, remove_tree, dir_state: no shelling out).
     apply(blob_path, rootfs [, {rootless=, digest=, size=, diff_id=,
                                 max_bytes=, max_entries=, one_pass=}])
       -> {entries=, whiteouts=, opaque_dirs=, skipped=, xattrs=,
          xattrs_skipped=} | nil, msg, err
     apply_blob(layout, digest, rootfs [, opts]): the same, from the blob
       opened by oci_layout_open_blob (no path looked up in between)
     mkdtemp(template) -> path (mode 0700; template ends in XXXXXX)
     mkdir(path [, mode=0755]) -> true (exactly this mode, umask aside)
     remove_tree(path) -> true (never follows a symbolic link)
     dir_state(path) -> "missing" | "empty" | "full" | "other" (not a dir)
     image(layout, ref, bundle [, {platform=, rootless=, max_bytes=,
                                   max_entries=}])
       -> runtime Spec written as bundle/config.json (oci_unpack_image)
   Errors: nil, message, err. */
#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binding.h"
#include "ocil_parts.h"
#include "ocispec/layout.h"
#include "ocispec/unpack.h"

static const char *opt_string(lua_State *L, int t, const char *key) {
  lua_getfield(L, t, key);
  /* stays on the stack (and alive) until the call returns */
  if (lua_isnil(L, -1)) return NULL;
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "option %s: expected a string", key);
  return lua_tostring(L, -1);
}

static lua_Integer opt_int(lua_State *L, int t, const char *key,
                           lua_Integer dflt) {
  lua_getfield(L, t, key);
  lua_Integer v = dflt;
  if (!lua_isnil(L, -1)) {
    int ok;
    v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < 0)
      luaL_error(L, "option %s: expected a non-negative integer", key);
  }
  lua_pop(L, 1);
  return v;
}

int ocil_id_maps(lua_State *L, int t, const char *key,
                 const struct oci_id_map **out, size_t *n, oci_error *err) {
  *out = NULL;
  *n = 0;
  if (lua_isnoneornil(L, t)) return OCI_OK;
  int ty = lua_getfield(L, t, key);
  if (ty == LUA_TNIL) {
    lua_pop(L, 1);
    return OCI_OK;
  }
  if (ty != LUA_TTABLE)
    return luaL_error(L,
                      "option %s: expected a list of \"CONTAINER:HOST[:SIZE]\" "
                      "strings, got %s",
                      key, luaL_typename(L, -1));
  size_t len = lua_rawlen(L, -1);
  oci_id_map *v = lua_newuserdatauv(L, (len ? len : 1) * sizeof *v, 0);
  for (size_t i = 0; i < len; i++) {
    if (lua_rawgeti(L, -2, (lua_Integer)i + 1) != LUA_TSTRING)
      return luaL_error(L, "option %s: item %d: expected a string, got %s", key,
                        (int)i + 1, luaL_typename(L, -1));
    int rc = oci_id_map_parse(lua_tostring(L, -1), &v[i], err);
    lua_pop(L, 1);
    if (rc) return rc;
  }
  lua_remove(L, -2); /* the list; the array stays */
  *out = v;
  *n = len;
  return OCI_OK;
}

/* The uid_map and gid_map options of t into opts (arrays on the stack). */
static int read_maps(lua_State *L, int t, const oci_id_map **uid_map,
                     size_t *n_uid, const oci_id_map **gid_map, size_t *n_gid,
                     oci_error *err) {
  int rc = ocil_id_maps(L, t, "uid_map", uid_map, n_uid, err);
  return rc ? rc : ocil_id_maps(L, t, "gid_map", gid_map, n_gid, err);
}

static void read_opts(lua_State *L, int t, oci_unpack_options *opts) {
  static const char *const known[] = {
      "rootless",    "digest",  "diff_id", "size",     "max_bytes",
      "max_entries", "uid_map", "gid_map", "one_pass", NULL};
  if (lua_isnoneornil(L, t)) return;
  luaL_checktype(L, t, LUA_TTABLE);
  ocil_check_options(L, t, known, NULL);
  lua_getfield(L, t, "rootless");
  opts->rootless = lua_toboolean(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, t, "one_pass");
  opts->one_pass = lua_toboolean(L, -1);
  lua_pop(L, 1);
  opts->expected_digest = opt_string(L, t, "digest");
  opts->expected_diff_id = opt_string(L, t, "diff_id");
  opts->expected_size = (int64_t)opt_int(L, t, "size", -1);
  opts->max_bytes = (uint64_t)opt_int(L, t, "max_bytes", 0);
  opts->max_entries = (uint64_t)opt_int(L, t, "max_entries", 0);
}

static int push_stats(lua_State *L, const oci_unpack_stats *st) {
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, (lua_Integer)st->entries);
  lua_setfield(L, -2, "entries");
  lua_pushinteger(L, (lua_Integer)st->whiteouts);
  lua_setfield(L, -2, "whiteouts");
  lua_pushinteger(L, (lua_Integer)st->opaque_dirs);
  lua_setfield(L, -2, "opaque_dirs");
  lua_pushinteger(L, (lua_Integer)st->skipped);
  lua_setfield(L, -2, "skipped");
  lua_pushinteger(L, (lua_Integer)st->xattrs);
  lua_setfield(L, -2, "xattrs");
  lua_pushinteger(L, (lua_Integer)st->xattrs_skipped);
  lua_setfield(L, -2, "xattrs_skipped");
  return 1;
}

static int l_apply(lua_State *L) {
  oci_error err = {0};
  const char *blob, *rootfs;
  if (ocil_parts_cstring(L, 1, "blob path", &blob, &err) ||
      ocil_parts_cstring(L, 2, "rootfs", &rootfs, &err))
    return ocil_parts_push_error(L, &err);
  oci_unpack_options opts = OCI_UNPACK_OPTIONS_INIT;
  read_opts(L, 3, &opts);
  oci_unpack_stats st;
  if (read_maps(L, 3, &opts.uid_map, &opts.n_uid_map, &opts.gid_map,
                &opts.n_gid_map, &err) ||
      oci_layer_apply(blob, rootfs, &opts, &st, &err))
    return ocil_parts_push_error(L, &err);
  return push_stats(L, &st);
}

static int l_apply_blob(lua_State *L) {
  oci_error err = {0};
  oci_layout *l = ocil_check_layout(L, 1);
  const char *digest, *rootfs;
  if (ocil_parts_cstring(L, 2, "digest", &digest, &err) ||
      ocil_parts_cstring(L, 3, "rootfs", &rootfs, &err))
    return ocil_parts_push_error(L, &err);
  oci_unpack_options opts = OCI_UNPACK_OPTIONS_INIT;
  read_opts(L, 4, &opts);
  int fd;
  if (read_maps(L, 4, &opts.uid_map, &opts.n_uid_map, &opts.gid_map,
                &opts.n_gid_map, &err) ||
      oci_layout_open_blob(l, digest, &fd, NULL, &err))
    return ocil_parts_push_error(L, &err);
  oci_unpack_stats st;
  int rc = oci_layer_apply_fd(fd, digest, rootfs, &opts, &st, &err);
  close(fd);
  if (rc) return ocil_parts_push_error(L, &err);
  return push_stats(L, &st);
}

static int push_errno(lua_State *L, const char *path) {
  oci_error err = {0};
  oci_error_set(&err, OCI_EIO, "%s: %s", path, strerror(errno));
  return ocil_parts_push_error(L, &err);
}

static int l_mkdtemp(lua_State *L) {
  oci_error err = {0};
  const char *tmpl;
  if (ocil_parts_cstring(L, 1, "template", &tmpl, &err))
    return ocil_parts_push_error(L, &err);
  size_t n = strlen(tmpl);
  char *buf = lua_newuserdatauv(L, n + 1, 0); /* freed by the collector */
  memcpy(buf, tmpl, n + 1);
  if (!mkdtemp(buf)) return push_errno(L, tmpl);
  lua_pushstring(L, buf);
  return 1;
}

static int l_mkdir(lua_State *L) {
  oci_error err = {0};
  const char *path;
  if (ocil_parts_cstring(L, 1, "path", &path, &err))
    return ocil_parts_push_error(L, &err);
  lua_Integer mode = luaL_optinteger(L, 2, 0755);
  luaL_argcheck(L, mode >= 0 && mode <= 07777, 2, "mode out of range");
  if (mkdir(path, 0700) != 0) return push_errno(L, path);
  if (chmod(path, (mode_t)mode) != 0) return push_errno(L, path);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_remove_tree(lua_State *L) {
  return ocil_parts_path_op(L, "path", oci_remove_tree);
}

static int l_dir_state(lua_State *L) {
  oci_error err = {0};
  const char *path;
  if (ocil_parts_cstring(L, 1, "path", &path, &err))
    return ocil_parts_push_error(L, &err);
  struct stat st;
  if (lstat(path, &st) != 0) {
    if (errno == ENOENT) {
      lua_pushliteral(L, "missing");
      return 1;
    }
    return push_errno(L, path);
  }
  if (!S_ISDIR(st.st_mode)) {
    lua_pushliteral(L, "other");
    return 1;
  }
  DIR *d = opendir(path);
  if (!d) return push_errno(L, path);
  struct dirent *e;
  bool empty = true;
  while (empty && (e = readdir(d)))
    empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
  closedir(d);
  lua_pushstring(L, empty ? "empty" : "full");
  return 1;
}

static int l_image(lua_State *L) {
  static const char *const known[] = {"platform",    "rootless", "max_bytes",
                                      "max_entries", "uid_map",  "gid_map",
                                      NULL};
  oci_error err = {0};
  oci_layout *l = ocil_check_layout(L, 1);
  ocil_check_options(L, 4, known, NULL);
  const char *ref, *bundle;
  if (ocil_parts_cstring(L, 2, "ref", &ref, &err) ||
      ocil_parts_cstring(L, 3, "bundle", &bundle, &err))
    return ocil_parts_push_error(L, &err);
  oci_unpack_image_options o = OCI_UNPACK_IMAGE_OPTIONS_INIT;
  oci_layout_platform platform;
  ocil_arg_platform(L, 4, &platform);
  if (!lua_isnoneornil(L, 4)) {
    if (platform.os || platform.architecture || platform.variant)
      o.platform = &platform;
    lua_getfield(L, 4, "rootless");
    o.rootless = lua_toboolean(L, -1);
    lua_pop(L, 1);
    o.max_bytes = (uint64_t)opt_int(L, 4, "max_bytes", 0);
    o.max_entries = (uint64_t)opt_int(L, 4, "max_entries", 0);
    if (read_maps(L, 4, &o.uid_map, &o.n_uid_map, &o.gid_map, &o.n_gid_map,
                  &err))
      return ocil_parts_push_error(L, &err);
  }
  ocil_obj *u = ocil_new_root(L, &oci_type_runtime_spec);
  oci_runtime_spec *spec;
  if (oci_unpack_image(l, ref, bundle, &o, &spec, &err)) {
    if (err.code == OCI_ENOMEM) return luaL_error(L, "out of memory");
    return ocil_parts_push_error(L, &err);
  }
  ocil_root_adopt(L, u, spec);
  return 1;
}

int ocil_push_unpack_lib(lua_State *L) {
  static const luaL_Reg fns[] = {{"apply", l_apply},
                                 {"apply_blob", l_apply_blob},
                                 {"mkdtemp", l_mkdtemp},
                                 {"mkdir", l_mkdir},
                                 {"remove_tree", l_remove_tree},
                                 {"dir_state", l_dir_state},
                                 {"image", l_image},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
