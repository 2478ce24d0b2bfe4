/* core.image_reader: the files of an image read without unpacking it
   (ocispec/image_read.h).
     open(layout, ref [, {platform=, max_bytes=, max_entries=, max_read=}])
       -> ImageReader | nil, msg, err
     r:stat(path) / r:lstat(path) -> entry table | nil, msg, err
       entry: {path=, type=, mode=, uid=, gid=, mtime=, size=, target=,
               major=, minor=, layer=} (layer: 1 = the base; nil: a
               directory no layer names)
     r:read(path) -> content string | nil, msg, err
     r:list(path) -> {entry, ...} sorted by path | nil, msg, err
     r:layers_read() -> layer blobs read so far
     r:close()
     diff(ra, rb) -> {added=, removed=, changed=, layers_shared=} | nil, msg,
       err: the file trees of two readers compared (oci_image_diff_files);
       added/removed: lists of files, changed: {path=, what={...}, a=, b=};
       a file: {path="/...", type=, mode=, uid=, gid=, size=, digest=,
       target=, major=, minor=, xattrs={name=value}, layer=} */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>

#include "binding.h"
#include "ocil_parts.h"
#include "ocispec/image_read.h"

#define READER_MT "ocispec.ImageReader"

static void reader_release(void *p) {
  oci_image_reader_free(p);
}

static const ocil_handle_class reader_class = {READER_MT, reader_release, NULL,
                                               0};

/* Results held by a handle until they are in Lua (no leak on a memory
   error while converting). */
static void entry_release(void *p) {
  oci_image_entry_free(p);
}
static void listing_release(void *p) {
  oci_image_listing_free(p);
}
static void data_release(void *p) {
  free(p);
}
static const ocil_handle_class entry_box = {"ocispec.ImageReader.entry",
                                            entry_release, NULL, 0};
static const ocil_handle_class listing_box = {"ocispec.ImageReader.listing",
                                              listing_release, NULL, 0};
static const ocil_handle_class data_box = {"ocispec.ImageReader.data",
                                           data_release, NULL, 0};

static void diff_release(void *p) {
  oci_image_diff_free(p);
}
static const ocil_handle_class diff_box = {"ocispec.ImageReader.diff",
                                           diff_release, NULL, 0};

static oci_image_reader *check_reader(lua_State *L) {
  return ocil_handle_check(L, 1, &reader_class)->p;
}

static void set_str(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void push_entry(lua_State *L, const oci_image_entry *e) {
  ocil_push_layer_info(L, &e->info, "target", 1);
  if (e->layer >= 0) set_int(L, "layer", (lua_Integer)e->layer + 1);
}

static int l_open(lua_State *L) {
  static const char *const known[] = {"platform", "max_bytes", "max_entries",
                                      "max_read", NULL};
  oci_error err = {0};
  oci_layout *l = ocil_check_layout(L, 1);
  const char *ref;
  if (ocil_parts_cstring(L, 2, "ref", &ref, &err))
    return ocil_parts_push_error(L, &err);
  oci_image_reader_options o = OCI_IMAGE_READER_OPTIONS_INIT;
  oci_layout_platform platform;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    ocil_check_options(L, 3, known, NULL);
    ocil_arg_platform(L, 3, &platform);
    if (platform.os || platform.architecture || platform.variant)
      o.platform = &platform;
    static const char *const lim[] = {"max_bytes", "max_entries", "max_read"};
    uint64_t *dst[] = {&o.max_bytes, &o.max_entries, &o.max_read};
    for (int i = 0; i < 3; i++) {
      lua_getfield(L, 3, lim[i]);
      if (!lua_isnil(L, -1)) {
        int ok;
        lua_Integer v = lua_tointegerx(L, -1, &ok);
        if (!ok || v <= 0)
          return luaL_error(L, "option %s: expected a positive integer",
                            lim[i]);
        *dst[i] = (uint64_t)v;
      }
      lua_pop(L, 1);
    }
  }
  ocil_handle *h = ocil_handle_new(L, &reader_class, 0, 0);
  oci_image_reader *r;
  if (oci_image_reader_open(l, ref, &o, &r, &err))
    return ocil_parts_push_error(L, &err);
  h->p = r;
  return 1;
}

static int do_stat(lua_State *L, bool follow) {
  oci_error err = {0};
  oci_image_reader *r = check_reader(L);
  const char *path;
  if (ocil_parts_cstring(L, 2, "path", &path, &err))
    return ocil_parts_push_error(L, &err);
  ocil_handle *box = ocil_handle_new(L, &entry_box, 0, 0);
  oci_image_entry *e;
  if (oci_image_reader_stat(r, path, follow, &e, &err))
    return ocil_parts_push_error(L, &err);
  box->p = e;
  push_entry(L, e);
  entry_release(e);
  box->p = NULL;
  return 1;
}

static int l_stat(lua_State *L) {
  return do_stat(L, true);
}

static int l_lstat(lua_State *L) {
  return do_stat(L, false);
}

static int l_read(lua_State *L) {
  oci_error err = {0};
  oci_image_reader *r = check_reader(L);
  const char *path;
  if (ocil_parts_cstring(L, 2, "path", &path, &err))
    return ocil_parts_push_error(L, &err);
  ocil_handle *box = ocil_handle_new(L, &data_box, 0, 0);
  char *data;
  size_t len;
  if (oci_image_reader_read(r, path, &data, &len, &err))
    return ocil_parts_push_error(L, &err);
  box->p = data;
  lua_pushlstring(L, data, len);
  data_release(data);
  box->p = NULL;
  return 1;
}

static int l_list(lua_State *L) {
  oci_error err = {0};
  oci_image_reader *r = check_reader(L);
  const char *path;
  if (ocil_parts_cstring(L, 2, "path", &path, &err))
    return ocil_parts_push_error(L, &err);
  ocil_handle *box = ocil_handle_new(L, &listing_box, 0, 0);
  oci_image_listing *l;
  if (oci_image_reader_list(r, path, &l, &err))
    return ocil_parts_push_error(L, &err);
  box->p = l;
  lua_createtable(L, l->len > 0x7fffffff ? 0x7fffffff : (int)l->len, 0);
  for (size_t i = 0; i < l->len; i++) {
    push_entry(L, &l->items[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  if (!l->len) ocil_set_array_mt(L, lua_gettop(L));
  listing_release(l);
  box->p = NULL;
  return 1;
}

static int l_layers_read(lua_State *L) {
  lua_pushinteger(L,
                  (lua_Integer)oci_image_reader_layers_read(check_reader(L)));
  return 1;
}

static void push_file(lua_State *L, const oci_image_file *f) {
  const oci_layer_info *it = &f->info;
  lua_createtable(L, 0, 12);
  lua_pushfstring(L, "/%s", it->path);
  lua_setfield(L, -2, "path");
  set_str(L, "type", oci_layer_type_name(it->type));
  set_int(L, "mode", it->mode);
  set_int(L, "uid", it->uid);
  set_int(L, "gid", it->gid);
  set_int(L, "size", (lua_Integer)it->size);
  if (f->digest[0]) set_str(L, "digest", f->digest);
  if (it->target) set_str(L, "target", it->target);
  if (it->type == OCI_LAYER_CHAR || it->type == OCI_LAYER_BLOCK) {
    set_int(L, "major", it->major);
    set_int(L, "minor", it->minor);
  }
  if (f->n_xattrs) {
    lua_createtable(L, 0, (int)f->n_xattrs);
    for (size_t i = 0; i < f->n_xattrs; i++) {
      lua_pushlstring(L, f->xattrs[i].value, f->xattrs[i].len);
      lua_setfield(L, -2, f->xattrs[i].name);
    }
    lua_setfield(L, -2, "xattrs");
  }
  if (f->layer >= 0) set_int(L, "layer", (lua_Integer)f->layer + 1);
}

static int l_diff(lua_State *L) {
  static const struct {
    unsigned bit;
    const char *name;
  } whats[] = {{OCI_CHANGE_TYPE, "type"},     {OCI_CHANGE_CONTENT, "content"},
               {OCI_CHANGE_TARGET, "target"}, {OCI_CHANGE_MODE, "mode"},
               {OCI_CHANGE_OWNER, "owner"},   {OCI_CHANGE_XATTRS, "xattrs"},
               {OCI_CHANGE_DEVICE, "device"}};
  oci_error err = {0};
  oci_image_reader *a = ocil_handle_check(L, 1, &reader_class)->p;
  oci_image_reader *b = ocil_handle_check(L, 2, &reader_class)->p;
  ocil_handle *box = ocil_handle_new(L, &diff_box, 0, 0);
  oci_image_diff *d;
  if (oci_image_diff_files(a, b, &d, &err))
    return ocil_parts_push_error(L, &err);
  box->p = d;
  lua_createtable(L, 0, 4);
  int res = lua_gettop(L);
  static const char kinds[] = {'A', 'D', 'C'};
  static const char *const names[] = {"added", "removed", "changed"};
  for (int k = 0; k < 3; k++) {
    lua_newtable(L);
    lua_Integer n = 0;
    for (size_t i = 0; i < d->len; i++) {
      const oci_image_change *c = &d->items[i];
      if (c->kind != kinds[k]) continue;
      if (c->kind == 'A') {
        push_file(L, c->b);
      } else if (c->kind == 'D') {
        push_file(L, c->a);
      } else {
        lua_createtable(L, 0, 4);
        lua_pushfstring(L, "/%s", c->a->info.path);
        lua_setfield(L, -2, "path");
        lua_newtable(L);
        lua_Integer w = 0;
        for (size_t j = 0; j < sizeof whats / sizeof *whats; j++)
          if (c->what & whats[j].bit) {
            lua_pushstring(L, whats[j].name);
            lua_rawseti(L, -2, ++w);
          }
        lua_setfield(L, -2, "what");
        push_file(L, c->a);
        lua_setfield(L, -2, "a");
        push_file(L, c->b);
        lua_setfield(L, -2, "b");
      }
      lua_rawseti(L, -2, ++n);
    }
    if (!n) ocil_set_array_mt(L, lua_gettop(L));
    lua_setfield(L, res, names[k]);
  }
  set_int(L, "layers_shared", (lua_Integer)d->layers_shared);
  diff_release(d);
  box->p = NULL;
  return 1;
}

int ocil_push_image_reader_lib(lua_State *L) {
  static const luaL_Reg methods[] = {{"stat", l_stat},
                                     {"lstat", l_lstat},
                                     {"read", l_read},
                                     {"list", l_list},
                                     {"layers_read", l_layers_read},
                                     {NULL, NULL}};
  static const luaL_Reg fns[] = {
      {"open", l_open}, {"diff", l_diff}, {NULL, NULL}};
  ocil_handle_register(L, &reader_class, methods, NULL);
  ocil_handle_register(L, &entry_box, NULL, NULL);
  ocil_handle_register(L, &listing_box, NULL, NULL);
  ocil_handle_register(L, &data_box, NULL, NULL);
  ocil_handle_register(L, &diff_box, NULL, NULL);
  luaL_newlib(L, fns);
  return 1;
}
