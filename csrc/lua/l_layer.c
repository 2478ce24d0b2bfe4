/* core.layer: reproducible layer blobs for Lua (see ocispec/layer.h).
     build{dir= | entries= | lower=, upper=; output=, compression=, level=,
           threads=, mtime=, uid=, gid=, rootless=, uid_map=, gid_map=}
       -> {diff_id=, digest=, size=, media_type=, path=, uncompressed_size=,
           entry_count=, skipped=} | nil, msg, err
     entries(path) -> { {path=, type=, mode=, uid=, gid=, mtime=, size=,
                         target=, major=, minor=}, ... } | nil, msg, err
     decompress(path, out_path|nil [, max_bytes]) -> {diff_id=, size=}
       | nil, msg, err
     threads_auto() -> the compressing threads threads="auto" (the
       default) starts here: the CPUs this thread may run on, 1 to 64
   A value of the wrong Lua type raises (naming the field); bad values
   return nil, message, err. Nothing is malloc'd on this side: the entry
   array is a userdata, the strings stay in the caller's table, and the
   listing is held by a box whose __gc frees it if a Lua error strikes. */
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "binding.h"
#include "ocil_parts.h"
#include "ocispec/layer.h"

#define LISTING_MT "ocispec.layer.listing"

const char *ocil_opt_string(lua_State *L, int idx, const char *fname,
                            const char *ctx, const char *field, size_t *len) {
  int t = lua_getfield(L, idx, field);
  const char *s = NULL;
  size_t n = 0;
  if (t == LUA_TSTRING) {
    s = lua_tolstring(L, -1, &n);
    if (!len && memchr(s, '\0', n))
      luaL_error(L, "%s: %s%s holds a NUL byte", fname, ctx, field);
  } else if (t != LUA_TNIL)
    luaL_error(L, "%s: %s%s must be a string, got %s", fname, ctx, field,
               luaL_typename(L, -1));
  lua_pop(L, 1);
  if (len) *len = n;
  return s;
}

lua_Integer ocil_opt_integer(lua_State *L, int idx, const char *fname,
                             const char *ctx, const char *field, int *has) {
  int t = lua_getfield(L, idx, field);
  lua_Integer v = 0;
  int isnum = 0;
  *has = 0;
  if (t != LUA_TNIL) {
    v = lua_tointegerx(L, -1, &isnum);
    if (t != LUA_TNUMBER || !isnum)
      luaL_error(L, "%s: %s%s must be an integer, got %s", fname, ctx, field,
                 t == LUA_TNUMBER ? "a fraction" : luaL_typename(L, -1));
    *has = 1;
  }
  lua_pop(L, 1);
  return v;
}

int ocil_layer_level(lua_Integer level, int has, int *out, oci_error *err) {
  if (!has) return OCI_OK;
  if (level < 1 || level > 99)
    return oci_error_set(err, OCI_EINVAL,
                         "layer compression level %lld is out of range (gzip "
                         "1 to 9, zstd 1 to 19)",
                         (long long)level);
  *out = (int)level;
  return OCI_OK;
}

int ocil_layer_threads(lua_State *L, int idx, const char *fname, int *out,
                       oci_error *err) {
  int t = lua_getfield(L, idx, "threads");
  int rc = OCI_OK, isnum = 0;
  *out = OCI_LAYER_THREADS_AUTO;
  if (t == LUA_TSTRING) {
    const char *s = lua_tostring(L, -1);
    if (strcmp(s, "auto"))
      rc = oci_error_set(err, OCI_EINVAL,
                         "%s: threads \"%.64s\" is neither \"auto\" nor a "
                         "number of threads (0 to %d)",
                         fname, s, OCI_LAYER_THREADS_MAX);
  } else if (t != LUA_TNIL) {
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    if (t != LUA_TNUMBER || !isnum)
      return luaL_error(L, "%s: threads must be an integer or \"auto\", got %s",
                        fname,
                        t == LUA_TNUMBER ? "a fraction" : luaL_typename(L, -1));
    if (v < 0 || v > OCI_LAYER_THREADS_MAX)
      rc = oci_error_set(err, OCI_EINVAL,
                         "layer compression threads %lld out of range (0 to "
                         "%d, or \"auto\")",
                         (long long)v, OCI_LAYER_THREADS_MAX);
    else
      *out = (int)v;
  }
  lua_pop(L, 1);
  return rc;
}

/* layer.build's fields: an entry's (ctx "entries[N].") or an option's. */
static const char *opt_string(lua_State *L, int idx, const char *field,
                              const char *ctx, size_t *len) {
  return ocil_opt_string(L, idx, "layer.build", ctx, field, len);
}

static lua_Integer opt_integer(lua_State *L, int idx, const char *field,
                               const char *ctx, int *has) {
  return ocil_opt_integer(L, idx, "layer.build", ctx, field, has);
}

/* entries[] -> C entries in a userdata left on the stack. Returns 0, or
   fills err (a data error) and returns its code. */
static int read_entries(lua_State *L, int tidx, oci_layer_entry **out,
                        size_t *n_out, oci_error *err) {
  size_t n = (size_t)lua_rawlen(L, tidx);
  oci_layer_entry *v =
      lua_newuserdatauv(L, (n ? n : 1) * sizeof *v, 0); /* anchored */
  memset(v, 0, (n ? n : 1) * sizeof *v);
  *out = v;
  *n_out = n;
  for (size_t i = 0; i < n; i++) {
    char ctx[48];
    snprintf(ctx, sizeof ctx, "entries[%zu].", i + 1);
    if (lua_rawgeti(L, tidx, (lua_Integer)i + 1) != LUA_TTABLE)
      return luaL_error(L, "layer.build: entries[%d] must be a table, got %s",
                        (int)i + 1, luaL_typename(L, -1));
    int e = lua_gettop(L);
    static const char *const known[] = {"path",   "type",  "mode",   "uid",
                                        "gid",    "mtime", "source", "content",
                                        "target", "major", "minor",  NULL};
    char what[64];
    snprintf(what, sizeof what, "layer.build: entries[%zu]", i + 1);
    ocil_check_options(L, e, known, what);
    oci_layer_entry *x = &v[i];
    int has;
    x->path = opt_string(L, e, "path", ctx, NULL);
    const char *type = opt_string(L, e, "type", ctx, NULL);
    int t = type ? oci_layer_type_from_name(type) : OCI_LAYER_FILE;
    if (t < 0)
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry #%zu \"%.128s\": unknown type "
                           "\"%.32s\" (file, dir, symlink, hardlink, char, "
                           "block or fifo)",
                           i + 1, x->path ? x->path : "", type);
    x->type = (oci_layer_type)t;
    lua_Integer mode = opt_integer(L, e, "mode", ctx, &has);
    if (has && (mode < 0 || mode > 07777))
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%.128s\": mode %lld is not "
                           "permission bits (0 to 07777 = 4095)",
                           x->path ? x->path : "", (long long)mode);
    x->mode = has ? (int)mode : -1;
    lua_Integer uid = opt_integer(L, e, "uid", ctx, &has);
    x->uid = has ? (uid < 0 ? -2 : uid) : -1;
    lua_Integer gid = opt_integer(L, e, "gid", ctx, &has);
    x->gid = has ? (gid < 0 ? -2 : gid) : -1;
    x->mtime = opt_integer(L, e, "mtime", ctx, &x->has_mtime);
    x->source = opt_string(L, e, "source", ctx, NULL);
    size_t clen;
    x->content = opt_string(L, e, "content", ctx, &clen);
    x->content_len = clen;
    x->target = opt_string(L, e, "target", ctx, NULL);
    lua_Integer major = opt_integer(L, e, "major", ctx, &has);
    lua_Integer minor = opt_integer(L, e, "minor", ctx, &has);
    if (major < 0 || major > 0xfff || minor < 0 || minor > 0xfffff)
      /* the Linux dev_t limits (12-bit major, 20-bit minor) */
      return oci_error_set(err, OCI_EINVAL,
                           "layer entry \"%.128s\": device %lld:%lld out of "
                           "range",
                           x->path ? x->path : "", (long long)major,
                           (long long)minor);
    x->major = (unsigned)major;
    x->minor = (unsigned)minor;
    lua_pop(L, 1);
  }
  return 0;
}

static void set_str(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static int l_build(lua_State *L) {
  static const char *const known[] = {
      "dir",         "entries", "lower",   "upper",   "output",
      "compression", "level",   "mtime",   "uid",     "gid",
      "rootless",    "uid_map", "gid_map", "threads", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  ocil_check_options(L, 1, known, NULL);
  oci_error err = {0};
  oci_layer_options o;
  oci_layer_options_init(&o);
  oci_layer_source src;
  memset(&src, 0, sizeof src);
  int has;

  const char *output = opt_string(L, 1, "output", "", NULL);
  src.dir = opt_string(L, 1, "dir", "", NULL);
  src.lower = opt_string(L, 1, "lower", "", NULL);
  src.upper = opt_string(L, 1, "upper", "", NULL);
  const char *comp = opt_string(L, 1, "compression", "", NULL);
  lua_Integer level = opt_integer(L, 1, "level", "", &has);
  int has_level = has;
  lua_Integer mtime = opt_integer(L, 1, "mtime", "", &o.clamp_mtime);
  lua_Integer uid = opt_integer(L, 1, "uid", "", &has);
  o.uid = has ? (uid < 0 ? -2 : uid) : -1;
  lua_Integer gid = opt_integer(L, 1, "gid", "", &has);
  o.gid = has ? (gid < 0 ? -2 : gid) : -1;
  o.mtime = mtime;
  lua_getfield(L, 1, "rootless");
  o.rootless = lua_toboolean(L, -1);
  lua_pop(L, 1);

  int t = lua_getfield(L, 1, "entries"); /* index 2 */
  if (t != LUA_TNIL && t != LUA_TTABLE)
    return luaL_error(L, "layer.build: entries must be a table, got %s",
                      luaL_typename(L, -1));
  int rc = ocil_layer_threads(L, 1, "layer.build", &o.threads, &err);
  if (!rc) rc = ocil_layer_level(level, has_level, &o.level, &err);
  if (!rc && !output)
    rc = oci_error_set(&err, OCI_EINVAL, "layer.build: output is required");
  if (!rc && comp)
    rc = oci_layer_compression_from_name(comp, &o.compression, &err);
  if (!rc && !o.clamp_mtime) rc = oci_layer_options_from_env(&o, &err);
  /* the arrays go on the stack above index 2 */
  if (!rc) rc = ocil_id_maps(L, 1, "uid_map", &o.uid_map, &o.n_uid_map, &err);
  if (!rc) rc = ocil_id_maps(L, 1, "gid_map", &o.gid_map, &o.n_gid_map, &err);
  if (!rc && t == LUA_TTABLE) {
    oci_layer_entry *v;
    rc = read_entries(L, 2, &v, &src.n_entries, &err);
    src.entries = v;
  }
  oci_layer_result r;
  if (!rc) rc = oci_layer_build_file(&src, &o, output, &r, &err);
  if (rc) return ocil_parts_push_error(L, &err);
  ocil_push_layer_result(L, &r, output, 1);
  set_int(L, "skipped", (lua_Integer)r.skipped);
  return 1;
}

void ocil_push_layer_result(lua_State *L, const oci_layer_result *r,
                            const char *path, int extra) {
  lua_createtable(L, 0, 7 + extra);
  set_str(L, "diff_id", r->diff_id);
  set_str(L, "digest", r->digest);
  set_int(L, "size", (lua_Integer)r->size);
  set_str(L, "media_type", r->media_type);
  set_str(L, "path", path);
  set_int(L, "uncompressed_size", (lua_Integer)r->uncompressed_size);
  set_int(L, "entry_count", (lua_Integer)r->entries);
}

void ocil_push_layer_info(lua_State *L, const oci_layer_info *it,
                          const char *target_key, int extra) {
  lua_createtable(L, 0, 10 + extra);
  set_str(L, "path", it->path);
  set_str(L, "type", oci_layer_type_name(it->type));
  set_int(L, "mode", it->mode);
  set_int(L, "uid", it->uid);
  set_int(L, "gid", it->gid);
  set_int(L, "mtime", it->mtime);
  set_int(L, "size", (lua_Integer)it->size);
  if (it->target) set_str(L, target_key, it->target);
  if (it->type == OCI_LAYER_CHAR || it->type == OCI_LAYER_BLOCK) {
    set_int(L, "major", it->major);
    set_int(L, "minor", it->minor);
  }
}

/* The listing is held by a handle until it is in Lua: a Lua memory error
   while converting it cannot leak it. */
static void listing_release(void *p) {
  oci_layer_listing_free(p);
}

static const ocil_handle_class listing_class = {LISTING_MT, listing_release,
                                                NULL, 0};

static int l_entries(lua_State *L) {
  oci_error err = {0};
  const char *path;
  if (ocil_parts_cstring(L, 1, "layer path", &path, &err))
    return ocil_parts_push_error(L, &err);
  ocil_handle *box = ocil_handle_new(L, &listing_class, 0, 0);
  oci_layer_listing *l = NULL;
  if (oci_layer_list(path, &l, &err)) return ocil_parts_push_error(L, &err);
  box->p = l;
  lua_createtable(L, l->len > INT32_MAX ? INT32_MAX : (int)l->len, 0);
  for (size_t i = 0; i < l->len; i++) {
    ocil_push_layer_info(L, &l->items[i], "target", 0);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  listing_release(l);
  box->p = NULL;
  return 1;
}

static int l_decompress(lua_State *L) {
  oci_error err = {0};
  const char *path, *out = NULL; /* out nil: hash only */
  if (ocil_parts_cstring(L, 1, "layer path", &path, &err) ||
      (!lua_isnil(L, 2) && ocil_parts_cstring(L, 2, "output path", &out, &err)))
    return ocil_parts_push_error(L, &err);
  lua_Integer max = luaL_optinteger(L, 3, 0);
  luaL_argcheck(L, max >= 0, 3, "max_bytes must be >= 0");
  char diff_id[OCI_DIGEST_STRING_MAX];
  uint64_t size;
  if (oci_layer_decompress(path, out, (uint64_t)max, diff_id, &size, &err))
    return ocil_parts_push_error(L, &err);
  lua_createtable(L, 0, 2);
  set_str(L, "diff_id", diff_id);
  set_int(L, "size", (lua_Integer)size);
  return 1;
}

static int l_threads_auto(lua_State *L) {
  lua_pushinteger(L, oci_layer_threads_auto());
  return 1;
}

int ocil_push_layer_lib(lua_State *L) {
  static const luaL_Reg fns[] = {{"build", l_build},
                                 {"threads_auto", l_threads_auto},
                                 {"entries", l_entries},
                                 {"decompress", l_decompress},
                                 {"transform", ocil_layer_transform},
                                 {NULL, NULL}};
  ocil_handle_register(L, &listing_class, NULL, NULL);
  ocil_layer_transform_register(L);
  luaL_newlib(L, fns);
  lua_createtable(L, 0, 3);
  set_str(L, "gzip", OCI_MEDIA_TYPE_LAYER_GZIP);
  set_str(L, "zstd", OCI_MEDIA_TYPE_LAYER_ZSTD);
  set_str(L, "none", OCI_MEDIA_TYPE_LAYER);
  lua_setfield(L, -2, "media_types");
  set_int(L, "threads_max", OCI_LAYER_THREADS_MAX);
  return 1;
}
