/* core.layout: OCI image layouts for Lua (see ocispec/layout.h).
     create(dir), open(dir) -> Layout | nil, msg, err
   Layout methods: path, blob_path, has_blob, put_blob, put_blob_file,
   blob_writer, temp_path, adopt_blob, get_blob, put_document, get_document,
   tag, untag, add, list, index, resolve, gc, verify, close.
   BlobWriter methods: write (returns the writer), size, commit, abort; a
   collected or closed writer aborts. Descriptors and documents are the
   generic binding's userdata. Data errors return nil, message, err. */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "ocil_parts.h"
#include "ocispec/layout.h"

#define LAYOUT_MT "ocispec.layout.Layout"
#define WRITER_MT "ocispec.layout.BlobWriter"

/* Layout and BlobWriter are handles (handle.c): busy counts the calls in
   progress that hold the layout (registry transfers). */
static void layout_release(void *p) {
  oci_layout_close(p);
}

static void layout_describe(lua_State *L, void *p) {
  lua_pushstring(L, oci_layout_path(p));
}

static const ocil_handle_class layout_class = {LAYOUT_MT, layout_release,
                                               layout_describe, 0};

static void writer_release(void *p) {
  oci_blob_writer_abort(p);
}

static const ocil_handle_class writer_class = {WRITER_MT, writer_release, NULL,
                                               0};

static int push_err(lua_State *L, const oci_error *e) {
  if (e->code == OCI_ENOMEM) return luaL_error(L, "not enough memory");
  return ocil_parts_push_error(L, e);
}

oci_layout *ocil_check_layout(lua_State *L, int idx) {
  return ocil_handle_check(L, idx, &layout_class)->p;
}

void ocil_layout_use(lua_State *L, int idx, int delta) {
  ocil_handle_use(L, idx, &layout_class, delta);
}

static oci_layout *check_layout(lua_State *L) {
  return ocil_check_layout(L, 1);
}

const char *ocil_arg_str(lua_State *L, int idx, const char *what, int opt) {
  if (opt && lua_isnoneornil(L, idx)) return NULL;
  size_t len;
  const char *s = luaL_checklstring(L, idx, &len);
  if (memchr(s, '\0', len))
    luaL_argerror(L, idx, lua_pushfstring(L, "%s holds a NUL byte", what));
  return s;
}

int ocil_push_desc(lua_State *L, oci_image_descriptor *d) {
  ocil_push_root(L, &oci_type_image_descriptor, d);
  return 1;
}

const char *ocil_arg_digest(lua_State *L, int idx, int64_t *size) {
  *size = -1;
  if (lua_type(L, idx) == LUA_TSTRING) return ocil_arg_str(L, idx, "digest", 0);
  ocil_obj *u = ocil_check(L, idx, &oci_type_image_descriptor);
  const oci_image_descriptor *d = u->obj;
  *size = d->size;
  return d->digest;
}

static void conv_to_err(const ocil_conv *c, const char *what, oci_error *e) {
  memset(e, 0, sizeof *e);
  e->code = c->code;
  char m[2 * OCI_ERROR_MESSAGE_MAX + 64];
  snprintf(m, sizeof m, "%s: %s%s%s", what, c->pointer,
           c->pointer[0] ? ": " : "", c->message);
  snprintf(e->message, sizeof e->message, "%.*s", (int)sizeof e->message - 1,
           m);
}

/* ---- module functions --------------------------------------------------- */

static int push_layout(lua_State *L, int create) {
  const char *dir = ocil_arg_str(L, 1, "dir", 0);
  ocil_handle *u = ocil_handle_new(L, &layout_class, 0, 0);
  oci_layout *l = NULL;
  oci_error e = {0};
  int rc =
      create ? oci_layout_create(dir, &l, &e) : oci_layout_open(dir, &l, &e);
  if (rc) return push_err(L, &e);
  u->p = l;
  return 1;
}

static int l_create(lua_State *L) {
  return push_layout(L, 1);
}

static int l_open(lua_State *L) {
  return push_layout(L, 0);
}

/* ---- Layout methods ----------------------------------------------------- */

static int m_path(lua_State *L) {
  lua_pushstring(L, oci_layout_path(check_layout(L)));
  return 1;
}

static int m_blob_path(lua_State *L) {
  oci_layout *l = check_layout(L);
  int64_t size;
  const char *d = ocil_arg_digest(L, 2, &size);
  char *p;
  oci_error e = {0};
  if (oci_layout_blob_path(l, d, &p, &e)) return push_err(L, &e);
  lua_pushstring(L, p);
  free(p);
  return 1;
}

static int m_has_blob(lua_State *L) {
  oci_layout *l = check_layout(L);
  int64_t size;
  const char *d = ocil_arg_digest(L, 2, &size);
  bool have;
  oci_error e = {0};
  if (oci_layout_has_blob(l, d, &have, &e)) return push_err(L, &e);
  lua_pushboolean(L, have);
  return 1;
}

static int m_put_blob(lua_State *L) {
  oci_layout *l = check_layout(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  const char *mt = ocil_arg_str(L, 3, "media type", 1);
  oci_image_descriptor *d;
  oci_error e = {0};
  if (oci_layout_put_blob(l, s, len, mt, &d, &e)) return push_err(L, &e);
  return ocil_push_desc(L, d);
}

static int m_put_blob_file(lua_State *L) {
  oci_layout *l = check_layout(L);
  const char *path = ocil_arg_str(L, 2, "path", 0);
  const char *mt = ocil_arg_str(L, 3, "media type", 1);
  oci_image_descriptor *d;
  oci_error e = {0};
  if (oci_layout_put_blob_file(l, path, mt, &d, &e)) return push_err(L, &e);
  return ocil_push_desc(L, d);
}

static int m_temp_path(lua_State *L) {
  oci_layout *l = check_layout(L);
  char *p;
  oci_error e = {0};
  if (oci_layout_temp_path(l, &p, &e)) return push_err(L, &e);
  lua_pushstring(L, p);
  free(p);
  return 1;
}

static int m_adopt_blob(lua_State *L) {
  oci_layout *l = check_layout(L);
  const char *tmp = ocil_arg_str(L, 2, "tmp_path", 0);
  const char *dg = ocil_arg_str(L, 3, "digest", 0);
  lua_Integer size = luaL_checkinteger(L, 4);
  const char *mt = ocil_arg_str(L, 5, "media type", 1);
  oci_image_descriptor *d;
  oci_error e = {0};
  if (oci_layout_adopt_blob(l, tmp, dg, (int64_t)size, mt, &d, &e))
    return push_err(L, &e);
  return ocil_push_desc(L, d);
}

static int m_get_blob(lua_State *L) {
  oci_layout *l = check_layout(L);
  int64_t size;
  const char *d = ocil_arg_digest(L, 2, &size);
  char *buf;
  size_t len;
  oci_error e = {0};
  if (oci_layout_get_blob(l, d, size, &buf, &len, &e)) return push_err(L, &e);
  lua_pushlstring(L, buf, len);
  free(buf);
  return 1;
}

static int m_put_document(lua_State *L) {
  oci_layout *l = check_layout(L);
  ocil_obj *u = ocil_test_any(L, 2);
  if (!u) return luaL_typeerror(L, 2, "ocispec object");
  if (!u->obj) return luaL_argerror(L, 2, "attempt to use a closed object");
  oci_layout_put_options opts = OCI_LAYOUT_PUT_OPTIONS_INIT;
  oci_arena *a = NULL;
  oci_str_map ann;
  oci_error e = {0};
  if (!lua_isnoneornil(L, 3)) {
    static const char *const known[] = {"annotations", "platform", NULL};
    luaL_checktype(L, 3, LUA_TTABLE);
    ocil_check_options(L, 3, known, NULL);
    a = oci_arena_new(0);
    if (!a) return luaL_error(L, "not enough memory");
    ocil_conv c;
    memset(&c, 0, sizeof c); /* the conversion appends to c.pointer */
    int rc = OCI_OK;
    if (lua_getfield(L, 3, "annotations") != LUA_TNIL) {
      memset(&ann, 0, sizeof ann);
      rc = ocil_to_value(L, lua_gettop(L), &oci_vt_map_string, &ann, a, &c);
      if (rc)
        conv_to_err(&c, "annotations", &e);
      else
        opts.annotations = &ann;
    }
    lua_pop(L, 1);
    if (!rc && lua_getfield(L, 3, "platform") != LUA_TNIL) {
      ocil_obj *p = ocil_test_any(L, -1);
      if (p && p->type == &oci_type_image_platform && p->obj)
        opts.platform = p->obj;
      else {
        void *obj;
        memset(&c, 0, sizeof c);
        rc = ocil_to_object(L, lua_gettop(L), &oci_type_image_platform, a, &obj,
                            &c);
        if (rc)
          conv_to_err(&c, "platform", &e);
        else
          opts.platform = obj;
      }
    }
    lua_pop(L, 1);
    if (rc) {
      oci_arena_free(a);
      return push_err(L, &e);
    }
  }
  oci_image_descriptor *d;
  int rc = oci_layout_put_document(l, u->type, u->obj, &opts, &d, &e);
  oci_arena_free(a);
  if (rc) return push_err(L, &e);
  return ocil_push_desc(L, d);
}

/* A class table (image.ImageManifest) -> its oci_type. */
static const oci_type *arg_type(lua_State *L, int idx) {
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_getfield(L, idx, "namespace");
  lua_getfield(L, idx, "name");
  const oci_type *t = NULL;
  if (lua_type(L, -1) == LUA_TSTRING && lua_type(L, -2) == LUA_TSTRING)
    t = oci_type_by_name(lua_tostring(L, -2), lua_tostring(L, -1));
  lua_pop(L, 2);
  if (!t) luaL_typeerror(L, idx, "ocispec class (such as image.ImageManifest)");
  return t;
}

static int m_get_document(lua_State *L) {
  oci_layout *l = check_layout(L);
  int64_t size;
  const char *d = ocil_arg_digest(L, 2, &size);
  const oci_type *t = arg_type(L, 3);
  void *obj;
  oci_error e = {0};
  if (oci_layout_get_document(l, d, size, t, &obj, &e)) return push_err(L, &e);
  ocil_push_root(L, t, obj);
  return 1;
}

static int m_tag(lua_State *L) {
  oci_layout *l = check_layout(L);
  ocil_obj *u = ocil_check(L, 2, &oci_type_image_descriptor);
  const char *name = ocil_arg_str(L, 3, "name", 0);
  oci_error e = {0};
  if (oci_layout_tag(l, u->obj, name, &e)) return push_err(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

static int m_add(lua_State *L) {
  oci_layout *l = check_layout(L);
  ocil_obj *u = ocil_check(L, 2, &oci_type_image_descriptor);
  oci_error e = {0};
  if (oci_layout_add(l, u->obj, &e)) return push_err(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

static int m_untag(lua_State *L) {
  oci_layout *l = check_layout(L);
  const char *name = ocil_arg_str(L, 2, "name", 0);
  oci_error e = {0};
  if (oci_layout_untag(l, name, &e)) return push_err(L, &e);
  lua_pushboolean(L, 1);
  return 1;
}

static int m_index(lua_State *L) {
  oci_layout *l = check_layout(L);
  oci_image_index *idx;
  oci_error e = {0};
  if (oci_layout_index(l, &idx, &e)) return push_err(L, &e);
  ocil_push_root(L, &oci_type_image_index, idx);
  return 1;
}

static int m_list(lua_State *L) {
  oci_layout *l = check_layout(L);
  oci_image_index *idx;
  oci_error e = {0};
  if (oci_layout_index(l, &idx, &e)) return push_err(L, &e);
  ocil_push_root(L, &oci_type_image_index, idx);
  int ix = lua_gettop(L);
  lua_createtable(L, (int)idx->manifests.len, 0);
  for (size_t i = 0; i < idx->manifests.len; i++) {
    oci_image_descriptor *d = idx->manifests.items[i];
    lua_createtable(L, 0, 2);
    const char *name = NULL;
    if (oci_is_present(d, OCI_F_image_descriptor_annotations))
      for (size_t k = 0; k < d->annotations.len; k++)
        if (strcmp(d->annotations.keys[k], OCI_ANNOTATION_REF_NAME) == 0)
          name = d->annotations.values[k];
    if (name) {
      lua_pushstring(L, name);
      lua_setfield(L, -2, "name");
    }
    ocil_push_child(L, ix, &oci_type_image_descriptor, d);
    lua_setfield(L, -2, "descriptor");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* opts.platform: a table {os=, architecture=, variant=} or a Platform. */
void ocil_arg_platform(lua_State *L, int idx, oci_layout_platform *p) {
  memset(p, 0, sizeof *p);
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  if (lua_getfield(L, idx, "platform") == LUA_TNIL) return; /* left on stack */
  ocil_obj *u = ocil_test_any(L, -1);
  if (u && u->type == &oci_type_image_platform && u->obj) {
    const oci_image_platform *pl = u->obj;
    p->os = pl->os;
    p->architecture = pl->architecture;
    if (oci_is_present(pl, OCI_F_image_platform_variant))
      p->variant = pl->variant;
    return;
  }
  if (!lua_istable(L, -1))
    luaL_argerror(L, idx, "platform must be a table or an image.Platform");
  int t = lua_gettop(L);
  /* the strings stay referenced by the table, on the stack until return */
  lua_getfield(L, t, "os");
  p->os = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
  lua_getfield(L, t, "architecture");
  p->architecture = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
  lua_getfield(L, t, "variant");
  p->variant = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
}

static int m_resolve(lua_State *L) {
  oci_layout *l = check_layout(L);
  const char *ref = ocil_arg_str(L, 2, "name", 0);
  oci_layout_platform p;
  static const char *const known[] = {"platform", NULL};
  ocil_check_options(L, 3, known, NULL);
  ocil_arg_platform(L, 3, &p);
  oci_layout_resolved *r;
  oci_error e = {0};
  if (oci_layout_resolve(l, ref, &p, &r, &e)) return push_err(L, &e);
  lua_createtable(L, 0, 5);
  int res = lua_gettop(L);
  /* each member is its own document: hand them to Lua one by one */
  ocil_push_root(L, &oci_type_image_descriptor, r->descriptor);
  r->descriptor = NULL;
  lua_setfield(L, res, "descriptor");
  oci_image_manifest *m = r->manifest;
  ocil_push_root(L, &oci_type_image_manifest, m);
  r->manifest = NULL;
  int mi = lua_gettop(L);
  lua_createtable(L, (int)m->layers.len, 0);
  for (size_t i = 0; i < m->layers.len; i++) {
    ocil_push_child(L, mi, &oci_type_image_descriptor, m->layers.items[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, res, "layers");
  lua_setfield(L, res, "manifest");
  if (r->config) {
    ocil_push_root(L, &oci_type_image_configuration, r->config);
    r->config = NULL;
    lua_setfield(L, res, "config");
  }
  if (r->index) {
    ocil_push_root(L, &oci_type_image_index, r->index);
    r->index = NULL;
    lua_setfield(L, res, "index");
  }
  oci_layout_resolved_free(r);
  return 1;
}

static int m_gc(lua_State *L) {
  oci_layout *l = check_layout(L);
  static const char *const known[] = {"drop_referrers", NULL};
  ocil_check_options(L, 2, known, NULL);
  oci_layout_gc_options o = OCI_LAYOUT_GC_OPTIONS_INIT;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "drop_referrers");
    if (!lua_isnil(L, -1)) {
      luaL_argexpected(L, lua_isboolean(L, -1), 2, "drop_referrers: a boolean");
      o.drop_referrers = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
  }
  oci_layout_strings s;
  oci_error e = {0};
  int rc = oci_layout_gc_opts(l, &o, &s, &e);
  if (rc) {
    oci_layout_strings_free(&s);
    return push_err(L, &e);
  }
  lua_createtable(L, (int)s.len, 0);
  if (!s.len) ocil_set_array_mt(L, -1);
  for (size_t i = 0; i < s.len; i++) {
    lua_pushstring(L, s.items[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  oci_layout_strings_free(&s);
  return 1;
}

static void push_problem(lua_State *L, const oci_layout_problem *p) {
  lua_createtable(L, 0, 5);
  lua_pushstring(L, p->severity == OCI_SEV_ERROR ? "error" : "warning");
  lua_setfield(L, -2, "severity");
  lua_pushstring(L, p->code ? oci_status_name(p->code) : "warning");
  lua_setfield(L, -2, "code");
  if (p->digest[0]) {
    lua_pushstring(L, p->digest);
    lua_setfield(L, -2, "digest");
  }
  if (p->path[0]) {
    lua_pushstring(L, p->path);
    lua_setfield(L, -2, "path");
  }
  lua_pushstring(L, p->message);
  lua_setfield(L, -2, "message");
}

static int m_verify(lua_State *L) {
  oci_layout *l = check_layout(L);
  oci_layout_problems p;
  oci_error e = {0};
  int rc = oci_layout_verify(l, &p, &e);
  if (rc != OCI_OK && rc != OCI_EVALIDATE) {
    oci_layout_problems_free(&p);
    return push_err(L, &e);
  }
  /* tables first (lua_* may raise): errors, then warnings */
  lua_createtable(L, (int)p.errors, 0);
  lua_createtable(L, (int)p.warnings, 0);
  int errs = lua_gettop(L) - 1, warns = lua_gettop(L);
  lua_Integer ne = 0, nw = 0;
  for (size_t i = 0; i < p.len; i++) {
    push_problem(L, &p.items[i]);
    if (p.items[i].severity == OCI_SEV_ERROR)
      lua_rawseti(L, errs, ++ne);
    else
      lua_rawseti(L, warns, ++nw);
  }
  oci_layout_problems_free(&p);
  if (rc == OCI_OK) {
    if (!nw) ocil_set_array_mt(L, warns);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, warns);
    return 2;
  }
  ocil_push_error_msg(L, OCI_EVALIDATE, NULL, e.message);
  lua_pushvalue(L, errs);
  lua_setfield(L, -2, "problems");
  return 3;
}

/* ---- BlobWriter --------------------------------------------------------- */

static int m_blob_writer(lua_State *L) {
  oci_layout *l = check_layout(L);
  const char *mt = ocil_arg_str(L, 2, "media type", 1);
  ocil_handle *u = ocil_handle_new(L, &writer_class, 0, 1);
  lua_pushvalue(L, 1); /* the layout stays alive while the writer is */
  lua_setiuservalue(L, -2, 1);
  oci_blob_writer *w = NULL;
  oci_error e = {0};
  if (oci_layout_blob_writer(l, mt, &w, &e)) return push_err(L, &e);
  u->p = w;
  return 1;
}

static ocil_handle *check_writer(lua_State *L) {
  return ocil_handle_check(L, 1, &writer_class);
}

static int w_write(lua_State *L) {
  ocil_handle *u = check_writer(L);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  oci_error e = {0};
  if (oci_blob_writer_write(u->p, s, len, &e)) return push_err(L, &e);
  lua_settop(L, 1);
  return 1;
}

static int w_size(lua_State *L) {
  ocil_handle *u = check_writer(L);
  lua_pushinteger(L, (lua_Integer)oci_blob_writer_size(u->p));
  return 1;
}

static int w_commit(lua_State *L) {
  ocil_handle *u = check_writer(L);
  const char *expected = ocil_arg_str(L, 2, "expected digest", 1);
  oci_blob_writer *w = u->p;
  u->p = NULL; /* commit always consumes the writer */
  oci_image_descriptor *d;
  oci_error e = {0};
  if (oci_blob_writer_commit(w, expected, &d, &e)) return push_err(L, &e);
  return ocil_push_desc(L, d);
}

/* abort(): close() that says true. */
static int w_abort(lua_State *L) {
  ocil_handle *u = ocil_handle_at(L, 1, &writer_class);
  if (u->p) oci_blob_writer_abort(u->p);
  u->p = NULL;
  lua_pushboolean(L, 1);
  return 1;
}

int ocil_push_layout_lib(lua_State *L) {
  static const luaL_Reg lmeth[] = {{"path", m_path},
                                   {"blob_path", m_blob_path},
                                   {"has_blob", m_has_blob},
                                   {"put_blob", m_put_blob},
                                   {"put_blob_file", m_put_blob_file},
                                   {"blob_writer", m_blob_writer},
                                   {"temp_path", m_temp_path},
                                   {"adopt_blob", m_adopt_blob},
                                   {"get_blob", m_get_blob},
                                   {"put_document", m_put_document},
                                   {"get_document", m_get_document},
                                   {"tag", m_tag},
                                   {"untag", m_untag},
                                   {"add", m_add},
                                   {"list", m_list},
                                   {"index", m_index},
                                   {"resolve", m_resolve},
                                   {"gc", m_gc},
                                   {"verify", m_verify},
                                   {NULL, NULL}};
  static const luaL_Reg wmeth[] = {{"write", w_write},
                                   {"size", w_size},
                                   {"commit", w_commit},
                                   {"abort", w_abort},
                                   {NULL, NULL}};
  static const luaL_Reg fns[] = {
      {"create", l_create}, {"open", l_open}, {NULL, NULL}};
  ocil_handle_register(L, &layout_class, lmeth, NULL);
  ocil_handle_register(L, &writer_class, wmeth, NULL);
  luaL_newlib(L, fns);
  return 1;
}
