/* core.layer.transform: a layer blob rewritten entry by entry by a Lua
   callback (oci_layer_transform_fd, ocispec/layer.h).

     transform{input = path | layout = Layout, digest = d [, size = n];
               output = path; fn = function(entry, add) | nil;
               finish = function(add) | nil; compression =, level =,
               mtime =, uid =, gid =, max_bytes =, max_entries =,
               max_read =, threads = n | "auto"}
       -> {diff_id=, digest=, size=, media_type=, path=,
           uncompressed_size=, entry_count=} | nil, msg, err

   fn gets the entry table {path, type, mode, uid, gid, uname, gname,
   mtime, size, linkname, major, minor, xattrs = {name = value}, whiteout,
   opaque} whose read() method returns a file's content, and add(entry)
   which writes a new entry before it (a failed add fails the transform,
   whatever the callback does next: the output may hold half an entry). fn
   returns nil/true (keep), false (drop) or a table of changed fields (path,
   mode, uid, gid, uname, gname, mtime, linkname, major, minor, xattrs, content
   = string or function(write), source = file path; type and size may be there
   unchanged, as in the entry itself).

   The Lua code runs under lua_pcall from inside the C transform, so an
   error it raises cannot skip the C side's cleanup: the error object is
   kept (a registry reference) and raised again once the transform has
   returned, the temporary output removed. Strings the C side keeps
   between the callback and the write are anchored in a table held on
   transform's stack, not in the caller's table (which the callback may
   change). */
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "binding.h"
#include "ocil_parts.h"
#include "ocispec/layer.h"
#include "ocispec/layout.h"

#define TOKEN_MT "ocispec.layer.transform.token"
#define DATA_MT "ocispec.layer.transform.data"

typedef struct tstate {
  lua_State *L;
  int fn_idx, finish_idx, anchor_idx; /* slots in transform's frame */
  oci_layer_transform *t;             /* during a callback */
  unsigned gen;                       /* bumped when a callback ends */
  oci_layer_tentry *e;                /* the entry of the callback */
  bool *keep;
  oci_error *err;
  int rc;            /* a data error found converting the callback's result */
  int raised_ref;    /* a Lua error to raise again (LUA_NOREF: none) */
  int add_rc;        /* add() failed: the output is unusable, the transform */
  oci_error add_err; /* fails with this error whatever fn does next */
  int self_ref;      /* the registry's reference to this state's userdata */
} tstate;

/* What read() and add() closures hold: valid while gen matches. */
typedef struct token {
  tstate *st;
  unsigned gen;
} token;

static tstate *live_state(lua_State *L, const char *what) {
  token *k = luaL_checkudata(L, lua_upvalueindex(1), TOKEN_MT);
  if (!k->st || k->st->gen != k->gen || !k->st->t)
    luaL_error(L, "layer.transform: %s called after its callback returned",
               what);
  return k->st;
}

static void data_release(void *p) {
  free(p);
}
static const ocil_handle_class data_box = {DATA_MT, data_release, NULL, 0};

/* entry:read() */
static int l_read(lua_State *L) {
  tstate *st = live_state(L, "entry:read()");
  oci_error err = {0};
  ocil_handle *box = ocil_handle_new(L, &data_box, 0, 0);
  char *data;
  size_t len;
  if (oci_layer_transform_read(st->t, &data, &len, &err))
    return ocil_parts_push_error(L, &err);
  box->p = data;
  lua_pushlstring(L, data, len);
  free(data);
  box->p = NULL;
  return 1;
}

/* ---- Lua tables -> oci_layer_tentry ---------------------------------- */

/* Anchors the value on top in the table at anchor (kept, popped). */
static void anchor(lua_State *L, int a) {
  lua_rawseti(L, a, (lua_Integer)lua_rawlen(L, a) + 1);
}

/* Optional string field: NULL when absent; raises on another type; a NUL
   byte is a data error (st->rc). */
static const char *str_field(lua_State *L, int t, int a, const char *field,
                             const char *what, tstate *st, size_t *len) {
  int ty = lua_getfield(L, t, field);
  const char *s = NULL;
  size_t n = 0;
  if (ty == LUA_TSTRING) {
    s = lua_tolstring(L, -1, &n);
    if (!len && memchr(s, '\0', n) && !st->rc)
      st->rc = oci_error_set(st->err, OCI_EINVAL, "%s: %s holds a NUL byte",
                             what, field);
    lua_pushvalue(L, -1);
    anchor(L, a);
  } else if (ty != LUA_TNIL)
    luaL_error(L, "%s: %s must be a string, got %s", what, field,
               luaL_typename(L, -1));
  lua_pop(L, 1);
  if (len) *len = n;
  return s;
}

static bool int_field(lua_State *L, int t, const char *field, const char *what,
                      lua_Integer *out) {
  int ty = lua_getfield(L, t, field);
  bool has = false;
  if (ty != LUA_TNIL) {
    int isnum;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    if (ty != LUA_TNUMBER || !isnum)
      luaL_error(L, "%s: %s must be an integer, got %s", what, field,
                 ty == LUA_TNUMBER ? "a fraction" : luaL_typename(L, -1));
    *out = v;
    has = true;
  }
  lua_pop(L, 1);
  return has;
}

/* The producer of content = function(write). */
typedef struct wtoken {
  oci_layer_write_fn write;
  void *wctx;
  int live;
  int rc;
  oci_error err;
} wtoken;

static int l_write(lua_State *L) {
  wtoken *w = lua_touserdata(L, lua_upvalueindex(1));
  if (!w->live)
    return luaL_error(L, "layer.transform: write called after the content "
                         "function returned");
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  if (w->rc) return ocil_parts_push_error(L, &w->err);
  if ((w->rc = w->write(w->wctx, s, n, &w->err)))
    return ocil_parts_push_error(L, &w->err);
  lua_pushboolean(L, 1);
  return 1;
}

typedef struct producer {
  tstate *st;
  int ref; /* the Lua function, in the registry */
} producer;

static int produce(void *pctx, oci_layer_write_fn write, void *wctx,
                   oci_error *err) {
  producer *p = pctx;
  lua_State *L = p->st->L;
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref);
  wtoken *w = lua_newuserdatauv(L, sizeof *w, 0);
  memset(w, 0, sizeof *w);
  w->write = write;
  w->wctx = wctx;
  w->live = 1;
  lua_pushcclosure(L, l_write, 1);
  int r = lua_pcall(L, 1, 0, 0);
  w->live = 0; /* the userdata is still referenced by the closure */
  if (r != LUA_OK) {
    luaL_unref(L, LUA_REGISTRYINDEX, p->st->raised_ref);
    p->st->raised_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, top);
    return oci_error_set(err, OCI_ECANCELED,
                         "layer.transform: the content function raised an "
                         "error");
  }
  lua_settop(L, top);
  if (w->rc) {
    *err = w->err;
    return w->rc;
  }
  return OCI_OK;
}

/* Reads the fields of the table at t into e (what: the message prefix).
   Strings and the xattr array are anchored in the table at a. For a new
   entry, defaults as layer.build's entries. */
static void read_fields(lua_State *L, int t, int a, tstate *st,
                        oci_layer_tentry *e, bool is_new, producer *prod,
                        const char *what) {
  static const char *const known[] = {
      "path",   "type",    "mode",   "uid",      "gid",    "uname",
      "gname",  "mtime",   "size",   "linkname", "major",  "minor",
      "xattrs", "content", "source", "whiteout", "opaque", NULL};
  ocil_check_options(L, t, known, what);
  const char *s;
  lua_Integer v;
  if ((s = str_field(L, t, a, "path", what, st, NULL)) || is_new) e->path = s;
  s = str_field(L, t, a, "type", what, st, NULL);
  if (s || is_new) {
    int ty = s ? oci_layer_type_from_name(s) : OCI_LAYER_FILE;
    if (ty < 0)
      luaL_error(L,
                 "%s: unknown type \"%s\" (file, dir, symlink, hardlink, "
                 "char, block or fifo)",
                 what, s);
    e->type = (oci_layer_type)ty;
  }
  if (int_field(L, t, "mode", what, &v)) {
    if (v < 0 || v > 07777)
      luaL_error(L, "%s: mode %d is not permission bits (0 to 07777 = 4095)",
                 what, (int)v);
    e->mode = (uint32_t)v;
  } else if (is_new)
    e->mode = e->type == OCI_LAYER_DIR       ? 0755
              : e->type == OCI_LAYER_SYMLINK ? 0777
                                             : 0644;
  if (int_field(L, t, "uid", what, &v)) e->uid = v < 0 ? -1 : v;
  if (int_field(L, t, "gid", what, &v)) e->gid = v < 0 ? -1 : v;
  if (int_field(L, t, "mtime", what, &v)) e->mtime = v;
  if ((s = str_field(L, t, a, "uname", what, st, NULL))) e->uname = s;
  if ((s = str_field(L, t, a, "gname", what, st, NULL))) e->gname = s;
  if ((s = str_field(L, t, a, "linkname", what, st, NULL)) || is_new)
    e->linkname = s;
  if (int_field(L, t, "major", what, &v)) e->major = (unsigned)v;
  if (int_field(L, t, "minor", what, &v)) e->minor = (unsigned)v;
  /* xattrs = {name = value}: replaces them all */
  int xt = lua_getfield(L, t, "xattrs");
  if (xt == LUA_TTABLE) {
    int x = lua_gettop(L);
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, x)) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "%s: xattrs must map names to strings", what);
      n++;
      lua_pop(L, 1);
    }
    oci_layer_xattr *xs = lua_newuserdatauv(L, (n ? n : 1) * sizeof *xs, 0);
    lua_pushvalue(L, -1);
    anchor(L, a);
    lua_pop(L, 1);
    size_t k = 0;
    lua_pushnil(L);
    while (lua_next(L, x) && k < n) {
      size_t nl, vl;
      const char *nm = lua_tolstring(L, -2, &nl);
      const char *val = lua_tolstring(L, -1, &vl);
      if (memchr(nm, '\0', nl) && !st->rc)
        st->rc = oci_error_set(st->err, OCI_EINVAL,
                               "%s: an xattr name holds a NUL byte", what);
      xs[k++] = (oci_layer_xattr){nm, val, vl};
      lua_pop(L, 1);
    }
    /* the strings are the table's keys and values: anchor the table */
    lua_pushvalue(L, x);
    anchor(L, a);
    e->xattrs = xs;
    e->n_xattrs = k;
  } else if (xt != LUA_TNIL)
    luaL_error(L, "%s: xattrs must be a table, got %s", what,
               luaL_typename(L, -1));
  lua_pop(L, 1);
  /* content */
  size_t clen;
  int ct = lua_getfield(L, t, "content");
  int has_source = lua_getfield(L, t, "source") != LUA_TNIL;
  lua_pop(L, 1);
  if (ct != LUA_TNIL && has_source)
    luaL_error(L, "%s: give content or source, not both", what);
  if (ct == LUA_TFUNCTION) {
    prod->st = st;
    lua_pushvalue(L, -1);
    prod->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    e->content = OCI_LAYER_CONTENT_PRODUCER;
    e->produce = produce;
    e->pctx = prod;
  } else if (ct == LUA_TSTRING) {
    e->bytes = str_field(L, t, a, "content", what, st, &clen);
    e->len = clen;
    e->content = OCI_LAYER_CONTENT_BYTES;
  } else if (ct != LUA_TNIL)
    luaL_error(L, "%s: content must be a string or a function, got %s", what,
               luaL_typename(L, -1));
  lua_pop(L, 1);
  if ((s = str_field(L, t, a, "source", what, st, NULL))) {
    e->source = s;
    e->content = OCI_LAYER_CONTENT_FILE;
  }
}

/* add(entry): writes it now. */
static int l_add(lua_State *L) {
  tstate *st = live_state(L, "add()");
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_newtable(L); /* 2: anchors */
  oci_error err = {0};
  oci_error *saved = st->err;
  int saved_rc = st->rc;
  st->err = &err;
  st->rc = 0;
  oci_layer_tentry e;
  memset(&e, 0, sizeof e);
  e.uname = e.gname = "";
  producer prod = {st, LUA_NOREF};
  read_fields(L, 1, 2, st, &e, true, &prod, "layer.transform: add");
  int rc = st->rc;
  st->err = saved;
  st->rc = saved_rc;
  if (!rc) rc = oci_layer_transform_add(st->t, &e, &err);
  luaL_unref(L, LUA_REGISTRYINDEX, prod.ref);
  if (rc == OCI_ECANCELED && st->raised_ref != LUA_NOREF) {
    /* the content function raised: the same error, on through fn */
    if (!st->add_rc) {
      st->add_rc = rc;
      st->add_err = err;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->raised_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, st->raised_ref);
    st->raised_ref = LUA_NOREF;
    return lua_error(L);
  }
  if (rc) {
    if (!st->add_rc) {
      st->add_rc = rc;
      st->add_err = err;
    }
    return ocil_parts_push_error(L, &err);
  }
  lua_pushboolean(L, 1);
  return 1;
}

static void set_str(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* Pushes a closure of f holding a token for the current callback. The
   token keeps the state's userdata alive (its user value), so a closure
   kept past the transform still finds a state, one that says the callback
   is over, never a dead stack frame. */
static void push_closure(lua_State *L, tstate *st, lua_CFunction f) {
  token *k = lua_newuserdatauv(L, sizeof *k, 1);
  k->st = st;
  k->gen = st->gen;
  luaL_setmetatable(L, TOKEN_MT);
  lua_rawgeti(L, LUA_REGISTRYINDEX, st->self_ref);
  lua_setiuservalue(L, -2, 1);
  lua_pushcclosure(L, f, 1);
}

/* Under lua_pcall: args (st, fn); returns the anchor table. */
static int p_entry(lua_State *L) {
  tstate *st = lua_touserdata(L, 1);
  oci_layer_tentry *e = st->e;
  lua_settop(L, 2);
  lua_newtable(L); /* 3: anchors */
  /* the entry (4): the fields of core.layer.entries' rows, the target
     named linkname, and the owner names and xattrs */
  oci_layer_info row = {.path = (char *)e->path,
                        .type = e->type,
                        .mode = e->mode,
                        .uid = e->uid,
                        .gid = e->gid,
                        .mtime = e->mtime,
                        .size = e->size,
                        .target = (char *)e->linkname,
                        .major = e->major,
                        .minor = e->minor};
  ocil_push_layer_info(L, &row, "linkname", 6);
  set_str(L, "uname", e->uname);
  set_str(L, "gname", e->gname);
  lua_createtable(L, 0, (int)e->n_xattrs);
  for (size_t i = 0; i < e->n_xattrs; i++) {
    lua_pushlstring(L, e->xattrs[i].value, e->xattrs[i].len);
    lua_setfield(L, -2, e->xattrs[i].name);
  }
  lua_setfield(L, -2, "xattrs");
  /* layer.md whiteouts, named for the callback's convenience */
  const char *slash = strrchr(e->path, '/');
  const char *base = slash ? slash + 1 : e->path;
  if (!strcmp(base, ".wh..wh..opq"))
    lua_pushboolean(L, 1), lua_setfield(L, -2, "opaque");
  else if (!strncmp(base, ".wh.", 4) && base[4]) {
    lua_pushlstring(L, e->path, (size_t)(base - e->path));
    lua_pushstring(L, base + 4);
    lua_concat(L, 2);
    lua_setfield(L, -2, "whiteout");
  }
  lua_createtable(L, 0, 1); /* metatable: read() */
  lua_createtable(L, 0, 1);
  push_closure(L, st, l_read);
  lua_setfield(L, -2, "read");
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  /* fn(entry, add) */
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 4);
  push_closure(L, st, l_add);
  lua_call(L, 2, 1); /* 5: the verdict */
  int vt = lua_type(L, 5);
  if (vt == LUA_TNIL || (vt == LUA_TBOOLEAN && lua_toboolean(L, 5))) {
    *st->keep = true;
  } else if (vt == LUA_TBOOLEAN) {
    *st->keep = false;
  } else if (vt == LUA_TTABLE) {
    *st->keep = true;
    producer *prod = lua_newuserdatauv(L, sizeof *prod, 0);
    prod->st = st;
    prod->ref = LUA_NOREF;
    lua_pushvalue(L, -1);
    anchor(L, 3);
    lua_pop(L, 1);
    lua_pushvalue(L, 5);
    anchor(L, 3);
    read_fields(L, 5, 3, st, e, false, prod, "layer.transform: the result");
    /* the content function stays in the registry until the next
       callback or the end (release_anchor) */
    lua_pushinteger(L, prod->ref);
    lua_setfield(L, 3, "ref");
  } else {
    return luaL_error(L,
                      "layer.transform: the callback must return nil, true, "
                      "false or a table, got %s",
                      luaL_typename(L, 5));
  }
  lua_settop(L, 3);
  return 1;
}

/* Drops the registry reference the last anchor holds (content function). */
static void release_anchor(lua_State *L, tstate *st) {
  if (lua_type(L, st->anchor_idx) != LUA_TTABLE) return;
  if (lua_getfield(L, st->anchor_idx, "ref") == LUA_TNUMBER)
    luaL_unref(L, LUA_REGISTRYINDEX, (int)lua_tointeger(L, -1));
  lua_pop(L, 1);
  lua_pushnil(L);
  lua_replace(L, st->anchor_idx);
}

/* One callback of the C transform: runs p(st, the function at fn_idx)
   under lua_pcall (its one result, the callback's anchor table or nil,
   becomes the last anchor), the read()/add() closures valid only
   meanwhile. A Lua error is kept (raised again once the transform has
   returned) and cancels the transform, naming `what`; then add()'s
   failure, then a data error found in the callback's result (st->rc). */
static int run_callback(lua_State *L, tstate *st, oci_layer_transform *t,
                        lua_CFunction p, int fn_idx, const char *what,
                        oci_error *err) {
  st->t = t;
  st->err = err;
  st->rc = 0;
  int top = lua_gettop(L);
  lua_pushcfunction(L, p);
  lua_pushlightuserdata(L, st);
  lua_pushvalue(L, fn_idx);
  int r = lua_pcall(L, 2, 1, 0);
  st->t = NULL;
  st->gen++;
  if (r != LUA_OK) {
    if (st->raised_ref == LUA_NOREF)
      st->raised_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, top);
    return oci_error_set(err, OCI_ECANCELED,
                         "layer.transform: the %s raised an error", what);
  }
  lua_replace(L, st->anchor_idx);
  lua_settop(L, top);
  if (st->add_rc) {
    *err = st->add_err;
    return st->add_rc;
  }
  return st->rc;
}

static int cb_entry(void *ctx, oci_layer_transform *t, oci_layer_tentry *e,
                    bool *keep, oci_error *err) {
  tstate *st = ctx;
  release_anchor(st->L, st);
  st->e = e;
  st->keep = keep;
  return run_callback(st->L, st, t, p_entry, st->fn_idx, "callback", err);
}

/* Under lua_pcall: args (st, finish); no anchor. */
static int p_finish(lua_State *L) {
  tstate *st = lua_touserdata(L, 1);
  lua_settop(L, 2);
  push_closure(L, st, l_add);
  lua_call(L, 1, 0);
  lua_pushnil(L);
  return 1;
}

static int cb_finish(void *ctx, oci_layer_transform *t, oci_error *err) {
  tstate *st = ctx;
  release_anchor(st->L, st);
  if (lua_isnil(st->L, st->finish_idx)) return OCI_OK;
  return run_callback(st->L, st, t, p_finish, st->finish_idx, "finish function",
                      err);
}

/* transform's options (the table at 1): as layer.build's. */
static int opt_int(lua_State *L, const char *field, lua_Integer *out) {
  int has;
  lua_Integer v = ocil_opt_integer(L, 1, "layer.transform", "", field, &has);
  if (has) *out = v;
  return has;
}

static const char *opt_str(lua_State *L, const char *field) {
  return ocil_opt_string(L, 1, "layer.transform", "", field, NULL);
}

int ocil_layer_transform(lua_State *L) {
  static const char *const known[] = {
      "input",     "layout",      "digest",   "size",    "output", "fn",
      "finish",    "compression", "level",    "mtime",   "uid",    "gid",
      "max_bytes", "max_entries", "max_read", "threads", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  ocil_check_options(L, 1, known, NULL);
  oci_error err = {0};
  oci_layer_transform_options o;
  oci_layer_transform_options_init(&o);
  lua_getfield(L, 1, "fn");     /* 2 */
  lua_getfield(L, 1, "finish"); /* 3 */
  lua_pushnil(L);               /* 4: the anchor of the last callback */
  if (!lua_isnil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  if (!lua_isnil(L, 3)) luaL_checktype(L, 3, LUA_TFUNCTION);
  const char *input = opt_str(L, "input");
  const char *output = opt_str(L, "output");
  const char *digest = opt_str(L, "digest");
  const char *comp = opt_str(L, "compression");
  lua_Integer v = 0;
  int has = opt_int(L, "level", &v);
  int rc = ocil_layer_level(v, has, &o.level, &err);
  if (!rc) rc = ocil_layer_threads(L, 1, "layer.transform", &o.threads, &err);
  if (opt_int(L, "mtime", &v)) {
    o.clamp_mtime = 1;
    o.mtime = v;
  }
  if (opt_int(L, "uid", &v)) o.uid = v < 0 ? -2 : v;
  if (opt_int(L, "gid", &v)) o.gid = v < 0 ? -2 : v;
  if (opt_int(L, "size", &v)) o.expected_size = v;
  if (opt_int(L, "max_bytes", &v)) o.max_bytes = v > 0 ? (uint64_t)v : 0;
  if (opt_int(L, "max_entries", &v)) o.max_entries = v > 0 ? (uint64_t)v : 0;
  if (opt_int(L, "max_read", &v)) o.max_read = v > 0 ? (uint64_t)v : 0;
  if (!rc && comp) {
    oci_layer_compression c;
    rc = oci_layer_compression_from_name(comp, &c, &err);
    o.compression = (int)c;
  }
  if (!rc && !o.clamp_mtime) {
    /* $SOURCE_DATE_EPOCH, as layer.build */
    oci_layer_options lo;
    oci_layer_options_init(&lo);
    rc = oci_layer_options_from_env(&lo, &err);
    o.clamp_mtime = lo.clamp_mtime;
    o.mtime = lo.mtime;
  }
  if (!rc && !output)
    rc = oci_error_set(&err, OCI_EINVAL, "layer.transform: output is required");
  int has_layout = lua_getfield(L, 1, "layout") != LUA_TNIL; /* 5 */
  if (!rc && has_layout == (input != NULL))
    rc = oci_error_set(&err, OCI_EINVAL,
                       "layer.transform: give input (a blob path) or layout "
                       "and digest");
  if (!rc && has_layout && !digest)
    rc = oci_error_set(&err, OCI_EINVAL,
                       "layer.transform: layout needs the blob's digest");
  if (rc) return ocil_parts_push_error(L, &err);
  int fd = -1;
  if (has_layout) {
    oci_layout *l = ocil_check_layout(L, 5);
    o.expected_digest = digest;
    if (oci_layout_open_blob(l, digest, &fd, NULL, &err))
      return ocil_parts_push_error(L, &err);
  } else {
    fd = open(input, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return ocil_parts_push_error(
          L, (oci_error_set(&err, OCI_EIO, "layer %s: cannot open: %s", input,
                            strerror(errno)),
              &err));
  }
  /* a userdata (slot 6), not a stack variable: read() and add() closures
     may outlive this call (push_closure) */
  tstate *st = lua_newuserdatauv(L, sizeof *st, 0);
  memset(st, 0, sizeof *st);
  lua_pushvalue(L, -1);
  st->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  st->L = L;
  st->fn_idx = 2;
  st->finish_idx = 3;
  st->anchor_idx = 4;
  st->raised_ref = LUA_NOREF;
  if (!lua_isnil(L, 2)) o.fn = cb_entry;
  o.finish = cb_finish;
  o.ctx = st;
  oci_layer_result r;
  rc = oci_layer_transform_file(fd, &o, output, &r, &err);
  close(fd);
  release_anchor(L, st);
  /* the callbacks are over (live_state refuses stale closures); the
     closures still hold the userdata through their user values */
  st->t = NULL;
  st->gen++;
  luaL_unref(L, LUA_REGISTRYINDEX, st->self_ref);
  st->self_ref = LUA_NOREF;
  if (st->raised_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->raised_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, st->raised_ref);
    return lua_error(L);
  }
  if (rc) return ocil_parts_push_error(L, &err);
  ocil_push_layer_result(L, &r, output, 0);
  return 1;
}

void ocil_layer_transform_register(lua_State *L) {
  luaL_newmetatable(L, TOKEN_MT);
  lua_pop(L, 1);
  ocil_handle_register(L, &data_box, NULL, NULL);
}
