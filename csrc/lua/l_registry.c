/* core.registry: the registry client for Lua (see ocispec/registry.h and
   docs/lua.md, "Registries").
     connect(host [, opts]) -> Client | nil, msg, err
   Client methods: host, ping, get_manifest, get_manifest_raw,
   head_manifest, put_manifest, delete_manifest, has_blob, get_blob,
   get_blob_to_layout, push_blob, push_blob_file, push_blob_from_layout,
   mount_blob, delete_blob, tags, tags_page, catalog, catalog_page,
   referrers, push, pull, copy, stats, last_response, close.
   Data errors return nil, message, err (binding.h's error table); for
   "registry" and "network", err.http describes the failed request:
   {status, method, url, body, content_type, codes, response}.

   Progress: opts.progress is kept in the client's user value; the C
   callback is a trampoline that calls it under lua_pcall on the lua_State
   of the method call in progress (stored in the client at each call), so a
   Lua error never unwinds through libcurl. It returning false, or raising,
   cancels the transfer. While a call is in progress the client is busy: a
   progress function calling a method of its own client raises. */
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "internal.h"
#include "ocil_parts.h"
#include "ocispec/hash.h"
#include "ocispec/registry.h"

#define CLIENT_MT "ocispec.registry.Client"
#define HOLD_MT "ocispec.registry.hold"

/* Default max_bytes of get_blob: 64 MiB. */
#define GET_BLOB_MAX ((size_t)64 << 20)

/* A Client is a handle (handle.c, exclusive: a method called while
   another runs, from its progress function, raises) holding the
   oci_registry, with the state of the call in progress after it. */
typedef struct ud_client {
  ocil_handle h; /* h.p: the oci_registry; h.busy: a call in progress */
  lua_State *L;  /* the state of the call in progress (NULL: none) */
  int self;      /* stack index of this userdata in L during a call */
  int cb_failed; /* the progress function raised */
  char cb_msg[OCI_ERROR_MESSAGE_MAX]; /* ... with this message */
} ud_client;

#define REG(u) ((oci_registry *)(u)->h.p)

static void client_release(void *p) {
  oci_registry_free(p);
}

static void client_describe(lua_State *L, void *p) {
  lua_pushstring(L, oci_registry_host(p));
}

static const ocil_handle_class client_class = {CLIENT_MT, client_release,
                                               client_describe, 1};

/* ---- C results held by a userdata until they are in Lua ---------------- */

/* What a C call hands back (malloc'd); a Lua memory error while converting
   it cannot leak it: the holder's __gc frees what is still here. */
typedef struct hold {
  char *buf;
  char *next;
  oci_layout_strings strings;
  oci_registry_manifest man;
} hold;

static int hold_gc(lua_State *L) {
  hold *h = luaL_checkudata(L, 1, HOLD_MT);
  free(h->buf);
  h->buf = NULL;
  free(h->next);
  h->next = NULL;
  oci_layout_strings_free(&h->strings);
  memset(&h->strings, 0, sizeof h->strings);
  oci_registry_manifest_free(&h->man);
  memset(&h->man, 0, sizeof h->man);
  return 0;
}

static hold *new_hold(lua_State *L) {
  hold *h = lua_newuserdatauv(L, sizeof *h, 0);
  memset(h, 0, sizeof *h);
  luaL_setmetatable(L, HOLD_MT);
  return h;
}

/* ---- arguments ---------------------------------------------------------- */

static const oci_image_descriptor *arg_desc(lua_State *L, int idx) {
  return ocil_check(L, idx, &oci_type_image_descriptor)->obj;
}

static unsigned arg_count(lua_State *L, int idx, const char *what) {
  if (lua_isnoneornil(L, idx)) return 0;
  lua_Integer n = luaL_checkinteger(L, idx);
  if (n < 0 || n > 1000000000)
    luaL_argerror(L, idx,
                  lua_pushfstring(L, "%s must be between 0 and 1e9", what));
  return (unsigned)n;
}

static ud_client *to_client(lua_State *L, int idx) {
  return (ud_client *)ocil_handle_check(L, idx, &client_class);
}

/* Marks the client (at idx of L) as used by the call in progress. */
static void begin(lua_State *L, ud_client *u, int idx) {
  u->L = L;
  u->self = lua_absindex(L, idx);
  u->h.busy = 1;
  u->cb_failed = 0;
  u->cb_msg[0] = '\0';
}

static void end(ud_client *u) {
  u->h.busy = 0;
  u->L = NULL;
}

/* ---- errors ------------------------------------------------------------- */

/* The list of codes of an ErrorResponse, and the response userdata. */
static void push_response(lua_State *L, int info, const char *body,
                          size_t len) {
  void *obj = NULL;
  oci_error e = {0};
  lua_newtable(L);
  int codes = lua_gettop(L);
  if (body && len &&
      oci_parse(&oci_type_dist_error_response, body, len, NULL, &obj, &e) ==
          OCI_OK) {
    ocil_push_root(L, &oci_type_dist_error_response, obj);
    const oci_dist_error_response *er = obj;
    for (size_t i = 0; i < er->errors.len; i++) {
      lua_pushstring(L, er->errors.items[i]->code);
      lua_rawseti(L, codes, (lua_Integer)i + 1);
    }
    lua_setfield(L, info, "response");
  }
  if (lua_rawlen(L, codes) == 0) ocil_set_array_mt(L, codes);
  lua_setfield(L, info, "codes");
}

static void set_str(lua_State *L, int t, const char *k, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, t, k);
}

/* {status, method, url, body, content_type} of the last failed request;
   with codes and response when `full`. */
static void push_last_response(lua_State *L, const oci_registry *r, int full) {
  oci_registry_response resp;
  memset(&resp, 0, sizeof resp);
  oci_registry_last_response(r, &resp);
  lua_createtable(L, 0, 7);
  int t = lua_gettop(L);
  lua_pushinteger(L, (lua_Integer)resp.status);
  lua_setfield(L, t, "status");
  set_str(L, t, "method", resp.method);
  set_str(L, t, "url", resp.url);
  if (resp.body) {
    lua_pushlstring(L, resp.body, resp.body_len);
    lua_setfield(L, t, "body");
  }
  set_str(L, t, "content_type", resp.content_type);
  if (full) push_response(L, t, resp.body, resp.body ? resp.body_len : 0);
}

/* nil, message, err: the error of a failed call on u; err.http (for
   "registry" and "network") describes the failed request. */
static int push_err(lua_State *L, ud_client *u, const oci_error *e) {
  if (e->code == OCI_ENOMEM) return luaL_error(L, "not enough memory");
  if (e->code == OCI_ECANCELED && u && u->cb_failed) {
    lua_pushfstring(L, "canceled by progress callback: %s", u->cb_msg);
    ocil_push_error_msg(L, e->code, e, lua_tostring(L, -1));
    lua_remove(L, -4);
  } else
    ocil_push_error_msg(L, e->code, e, e->message);
  if (u && REG(u) && (e->code == OCI_EREGISTRY || e->code == OCI_ENETWORK)) {
    push_last_response(L, REG(u), 1);
    lua_setfield(L, -2, "http");
  }
  return 3;
}

/* ---- progress trampoline ------------------------------------------------ */

typedef struct progress_call {
  ud_client *u;
  const char *digest;
  int64_t done, total;
  int cancel;
} progress_call;

/* Runs under lua_pcall with (call, function): calls the progress function
   and reads its verdict. */
static int progress_body(lua_State *L) {
  progress_call *pc = lua_touserdata(L, 1);
  if (!lua_isfunction(L, 2)) return 0;
  lua_pushvalue(L, 2);
  lua_pushstring(L, pc->digest ? pc->digest : "");
  lua_pushinteger(L, (lua_Integer)pc->done);
  lua_pushinteger(L, (lua_Integer)pc->total);
  lua_call(L, 3, 1);
  if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) pc->cancel = 1;
  return 0;
}

/* Called by the C core during a method call, on the C stack of that call:
   u->self indexes the client in the method's frame. Nothing here may raise
   (it would unwind through libcurl): what allocates runs under lua_pcall. */
static int progress_trampoline(void *ud, const char *digest, int64_t done,
                               int64_t total) {
  ud_client *u = ud;
  lua_State *L = u->L;
  if (!L) return 0;
  if (!lua_checkstack(L, 8)) {
    u->cb_failed = 1;
    snprintf(u->cb_msg, sizeof u->cb_msg, "Lua stack overflow");
    return 1;
  }
  int top = lua_gettop(L);
  progress_call pc = {u, digest, done, total, 0};
  lua_pushcfunction(L, progress_body); /* a light C function: no allocation */
  lua_pushlightuserdata(L, &pc);
  lua_getiuservalue(L, u->self, 1);
  int rc = lua_pcall(L, 2, 0, 0);
  if (rc != LUA_OK) {
    const char *m = lua_tostring(L, -1);
    u->cb_failed = 1;
    snprintf(u->cb_msg, sizeof u->cb_msg, "%s",
             m ? m
               : (rc == LUA_ERRMEM ? "not enough memory"
                                   : "(error object is not a string)"));
    lua_settop(L, top);
    return 1;
  }
  lua_settop(L, top);
  return pc.cancel;
}

/* ---- connect ------------------------------------------------------------ */

/* The option `name` of the table at idx; pushes it (nil when absent). */
static int opt_get(lua_State *L, int idx, const char *name) {
  if (lua_isnoneornil(L, idx)) {
    lua_pushnil(L);
    return LUA_TNIL;
  }
  return lua_getfield(L, idx, name);
}

static void opt_fail(lua_State *L, int idx, const char *name,
                     const char *want) {
  luaL_argerror(L, idx,
                lua_pushfstring(L, "option '%s' must be %s (got %s)", name,
                                want, luaL_typename(L, -1)));
}

static void opt_bool(lua_State *L, int idx, const char *name, bool *out) {
  int t = opt_get(L, idx, name);
  if (t == LUA_TBOOLEAN)
    *out = lua_toboolean(L, -1);
  else if (t != LUA_TNIL)
    opt_fail(L, idx, name, "a boolean");
  lua_pop(L, 1);
}

/* The string stays referenced by the options table (kept on the stack). */
static void opt_string(lua_State *L, int idx, const char *name,
                       const char **out) {
  int t = opt_get(L, idx, name);
  if (t == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (memchr(s, '\0', len))
      luaL_argerror(L, idx,
                    lua_pushfstring(L, "option '%s' holds a NUL byte", name));
    *out = s;
  } else if (t != LUA_TNIL)
    opt_fail(L, idx, name, "a string");
  lua_pop(L, 1);
}

static lua_Integer opt_int(lua_State *L, int idx, const char *name,
                           lua_Integer dflt, lua_Integer max) {
  int t = opt_get(L, idx, name);
  lua_Integer v = dflt;
  if (t != LUA_TNIL) {
    int isint;
    v = lua_tointegerx(L, -1, &isint);
    if (t != LUA_TNUMBER || !isint) opt_fail(L, idx, name, "an integer");
    if (v < 0 || v > max)
      luaL_argerror(
          L, idx,
          lua_pushfstring(L, "option '%s' is out of range (0..%I)", name, max));
  }
  lua_pop(L, 1);
  return v;
}

/* run_helper(name, action, input [, timeout_ms]) -> {status=, stdout=,
   stderr=} | nil, message, err */
static int l_run_helper(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const char *action = luaL_checkstring(L, 2);
  size_t len;
  const char *input = luaL_checklstring(L, 3, &len);
  lua_Integer t = luaL_optinteger(L, 4, 0);
  luaL_argcheck(L, t >= 0 && t <= 0x7fffffff, 4, "out of range");
  oci_registry_helper_output o;
  oci_error err;
  if (oci_registry_run_helper(name, action, input, len, (unsigned)t, &o,
                              &err)) {
    if (err.code == OCI_ENOMEM) return luaL_error(L, "out of memory");
    return ocil_push_error(L, &err, NULL);
  }
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, o.status);
  lua_setfield(L, -2, "status");
  lua_pushlstring(L, o.out ? o.out : "", o.out_len);
  lua_setfield(L, -2, "stdout");
  lua_pushlstring(L, o.err ? o.err : "", o.err_len);
  lua_setfield(L, -2, "stderr");
  oci_registry_helper_output_free(&o);
  return 1;
}

static int l_connect(lua_State *L) {
  static const char *const known[] = {"plain_http",
                                      "tls_verify",
                                      "ca_file",
                                      "username",
                                      "password",
                                      "auth_file",
                                      "user_agent",
                                      "retries",
                                      "retry_delay_ms",
                                      "retry_max_delay_ms",
                                      "connect_timeout",
                                      "low_speed_timeout",
                                      "chunk_size",
                                      "low_speed_limit",
                                      "max_fanout",
                                      "max_nodes",
                                      "max_pages",
                                      "max_list_bytes",
                                      "allow_cross_host_auth",
                                      "allow_insecure_realm",
                                      "helper_timeout_ms",
                                      "jobs",
                                      "progress",
                                      "blob_cache",
                                      NULL};
  const char *host = ocil_arg_str(L, 1, "host", 0);
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    ocil_check_options(L, 2, known, NULL);
  }
  lua_settop(L, 2);
  oci_registry_options o;
  oci_registry_options_init(&o);
  opt_bool(L, 2, "plain_http", &o.plain_http);
  opt_bool(L, 2, "tls_verify", &o.tls_verify);
  opt_string(L, 2, "ca_file", &o.ca_file);
  opt_string(L, 2, "username", &o.username);
  opt_string(L, 2, "password", &o.password);
  int t = opt_get(L, 2, "auth_file");
  if (t == LUA_TBOOLEAN && !lua_toboolean(L, -1))
    o.auth_file = "";
  else if (t != LUA_TNIL && t != LUA_TSTRING)
    opt_fail(L, 2, "auth_file", "a string or false");
  lua_pop(L, 1);
  if (t == LUA_TSTRING) opt_string(L, 2, "auth_file", &o.auth_file);
  opt_string(L, 2, "user_agent", &o.user_agent);
  const lua_Integer UMAX = 0x7fffffff;
  o.retries = (unsigned)opt_int(L, 2, "retries", o.retries, 1000);
  o.retry_delay_ms =
      (unsigned)opt_int(L, 2, "retry_delay_ms", o.retry_delay_ms, UMAX);
  o.retry_max_delay_ms =
      (unsigned)opt_int(L, 2, "retry_max_delay_ms", o.retry_max_delay_ms, UMAX);
  o.helper_timeout_ms =
      (unsigned)opt_int(L, 2, "helper_timeout_ms", o.helper_timeout_ms, UMAX);
  o.connect_timeout_s =
      (long)opt_int(L, 2, "connect_timeout", o.connect_timeout_s, UMAX);
  o.low_speed_timeout_s =
      (long)opt_int(L, 2, "low_speed_timeout", o.low_speed_timeout_s, UMAX);
  o.chunk_size = (size_t)opt_int(L, 2, "chunk_size", (lua_Integer)o.chunk_size,
                                 (lua_Integer)1 << 40);
  o.low_speed_limit =
      (long)opt_int(L, 2, "low_speed_limit", o.low_speed_limit, UMAX);
  o.max_fanout = (unsigned)opt_int(L, 2, "max_fanout", o.max_fanout, UMAX);
  o.max_nodes = (unsigned)opt_int(L, 2, "max_nodes", o.max_nodes, UMAX);
  o.max_pages = (unsigned)opt_int(L, 2, "max_pages", o.max_pages, UMAX);
  o.max_list_bytes =
      (size_t)opt_int(L, 2, "max_list_bytes", (lua_Integer)o.max_list_bytes,
                      (lua_Integer)1 << 40);
  o.jobs = (unsigned)opt_int(L, 2, "jobs", o.jobs, OCI_REGISTRY_JOBS_MAX);
  opt_bool(L, 2, "allow_cross_host_auth", &o.allow_cross_host_auth);
  opt_bool(L, 2, "allow_insecure_realm", &o.allow_insecure_realm);
  /* blob_cache: a path, true (the default path) or false/nil (none) */
  bool cache_default = false;
  t = opt_get(L, 2, "blob_cache");
  if (t == LUA_TSTRING) {
    o.blob_cache = lua_tostring(L, -1); /* stays on the stack */
    if (!*o.blob_cache) opt_fail(L, 2, "blob_cache", "a non-empty path");
  } else if (t == LUA_TBOOLEAN)
    cache_default = lua_toboolean(L, -1);
  else if (t != LUA_TNIL)
    opt_fail(L, 2, "blob_cache", "a path or a boolean");
  t = opt_get(L, 2, "progress");
  if (t != LUA_TNIL && t != LUA_TFUNCTION)
    opt_fail(L, 2, "progress", "a function");
  int progress = lua_gettop(L);

  ud_client *u = (ud_client *)ocil_handle_new(
      L, &client_class, sizeof *u - sizeof(ocil_handle), 1);
  if (t == LUA_TFUNCTION) {
    lua_pushvalue(L, progress);
    lua_setiuservalue(L, -2, 1);
    o.progress = progress_trampoline;
    o.progress_ud = u; /* full userdata memory does not move */
  }
  oci_error e = {0};
  oci_registry *r = NULL;
  char *cache_path = NULL;
  if (cache_default && oci_registry_blob_cache_default_path(&cache_path, &e))
    return push_err(L, NULL, &e);
  if (cache_path) o.blob_cache = cache_path;
  int rc = oci_registry_new(host, &o, &r, &e);
  free(cache_path);
  if (rc) return push_err(L, NULL, &e);
  u->h.p = r;
  return 1;
}

/* ---- Client methods ----------------------------------------------------- */

static int c_host(lua_State *L) {
  lua_pushstring(L, oci_registry_host(REG(to_client(L, 1))));
  return 1;
}

static int push_true(lua_State *L) {
  lua_pushboolean(L, 1);
  return 1;
}

static int c_ping(lua_State *L) {
  ud_client *u = to_client(L, 1);
  oci_error e = {0};
  begin(L, u, 1);
  int rc = oci_registry_ping(REG(u), &e);
  end(u);
  return rc ? push_err(L, u, &e) : push_true(L);
}

/* get_manifest / get_manifest_raw: (doc or body), descriptor. */
static int get_manifest(lua_State *L, int raw) {
  ud_client *u = to_client(L, 1);
  const char *repo = ocil_arg_str(L, 2, "repo", 0);
  const char *ref = ocil_arg_str(L, 3, "reference", 0);
  const char *accept = ocil_arg_str(L, 4, "accept", 1);
  hold *h = new_hold(L);
  oci_error e = {0};
  begin(L, u, 1);
  int rc = oci_registry_get_manifest(REG(u), repo, ref, accept, &h->man, &e);
  end(u);
  if (rc) return push_err(L, u, &e);
  const char *mt = h->man.media_type ? h->man.media_type : "";
  oci_image_descriptor *d;
  if (oci_image_descriptor_make(h->man.media_type, h->man.digest,
                                (int64_t)h->man.len, &d, &e))
    return push_err(L, u, &e);
  ocil_push_desc(L, d);
  int di = lua_gettop(L);
  const oci_type *t = NULL;
  if (!raw && oci_media_type_is_manifest(mt))
    t = &oci_type_image_manifest;
  else if (!raw && oci_media_type_is_index(mt))
    t = &oci_type_image_index;
  if (t) {
    void *obj;
    if (oci_parse(t, h->man.body, h->man.len, NULL, &obj, &e))
      return push_err(L, u, &e);
    ocil_push_root(L, t, obj);
  } else {
    lua_pushlstring(L, h->man.body, h->man.len);
  }
  lua_pushvalue(L, di);
  return 2;
}

static int c_get_manifest(lua_State *L) {
  return get_manifest(L, 0);
}

static int c_get_manifest_raw(lua_State *L) {
  return get_manifest(L, 1);
}

static int c_head_manifest(lua_State *L) {
  ud_client *u = to_client(L, 1);
  const char *repo = ocil_arg_str(L, 2, "repo", 0);
  const char *ref = ocil_arg_str(L, 3, "reference", 0);
  const char *accept = ocil_arg_str(L, 4, "accept", 1);
  bool found = false;
  oci_image_descriptor *d = NULL;
  oci_error e = {0};
  begin(L, u, 1);
  int rc =
      oci_registry_head_manifest(REG(u), repo, ref, accept, &found, &d, &e);
  end(u);
  if (rc) return push_err(L, u, &e);
  if (!found || !d) {
    if (d) oci_free(d);
    lua_pushboolean(L, 0);
    return 1;
  }
  return ocil_push_desc(L, d);
}

/* The media type of a JSON manifest text: its mediaType member, or NULL. */
static char *json_media_type(const char *s, size_t len) {
  oci_parse_options po = OCI_PARSE_OPTIONS_INIT;
  po.allow_missing_required = true;
  oci_image_manifest *m;
  oci_error e = {0};
  if (oci_parse(&oci_type_image_manifest, s, len, &po, (void **)&m, &e))
    return NULL;
  char *mt = NULL;
  if (oci_is_present(m, OCI_F_image_manifest_media_type) && m->media_type)
    mt = strdup(m->media_type);
  oci_free(m);
  return mt;
}

static int c_put_manifest(lua_State *L) {
  ud_client *u = to_client(L, 1);
  const char *repo = ocil_arg_str(L, 2, "repo", 0);
  const char *ref = ocil_arg_str(L, 3, "reference", 0);
  const char *mt = ocil_arg_str(L, 5, "media type", 1);
  hold *h = new_hold(L);
  const char *body;
  size_t len;
  oci_error e = {0};
  if (lua_type(L, 4) == LUA_TSTRING) {
    body = lua_tolstring(L, 4, &len);
    if (!mt) {
      h->next = json_media_type(body, len);
      mt = h->next;
    }
    if (!mt) {
      oci_error_set(&e, OCI_EINVAL,
                    "put_manifest: the manifest text has no mediaType member; "
                    "pass the media type");
      return push_err(L, NULL, &e);
    }
  } else {
    ocil_obj *o = ocil_test_any(L, 4);
    if (!o || (o->type != &oci_type_image_manifest &&
               o->type != &oci_type_image_index))
      return luaL_typeerror(L, 4,
                            "image.ImageManifest, image.ImageIndex or string");
    if (!o->obj) return luaL_argerror(L, 4, "attempt to use a closed object");
    if (oci_to_json(o->type, o->obj, NULL, &h->buf, &len, &e))
      return push_err(L, NULL, &e);
    body = h->buf;
    if (!mt) {
      if (o->type == &oci_type_image_manifest) {
        const oci_image_manifest *m = o->obj;
        mt = oci_is_present(m, OCI_F_image_manifest_media_type) && m->media_type
                 ? m->media_type
                 : OCI_MEDIA_TYPE_IMAGE_MANIFEST;
      } else {
        const oci_image_index *x = o->obj;
        mt = oci_is_present(x, OCI_F_image_index_media_type) && x->media_type
                 ? x->media_type
                 : OCI_MEDIA_TYPE_IMAGE_INDEX;
      }
    }
  }
  oci_image_descriptor *d = NULL;
  begin(L, u, 1);
  int rc =
      oci_registry_put_manifest(REG(u), repo, ref, mt, body, len, &d, NULL, &e);
  end(u);
  if (rc) return push_err(L, u, &e);
  return ocil_push_desc(L, d);
}

static int c_delete_manifest(lua_State *L) {
  ud_client *u = to_client(L, 1);
  const char *repo = ocil_arg_str(L, 2, "repo", 0);
  const char *ref = ocil_arg_str(L, 3, "reference", 0);
  oci_error e = {0};
  begin(L, u, 1);
  int rc = oci_registry_delete_manifest(REG(u), repo, ref, &e);
  end(u);
  return rc ? push_err(L, u, &e) : push_true(L);
}

static int c_has_blob(lua_State *L) {
  ud_client *u = to_client(L, 1);
  const char *repo = ocil_arg_str(L, 2, "repo", 0);
  int64_t dsize;
  const char *dg = ocil_arg_digest(L, 3, &dsize);
  bool found = false;
  int64_t size = -1;
  oci_error e = {0};
  begin(L, u, 1);
  int rc = oci_registry_has_blob(REG(u), repo, dg, &found, &size, &e);
  end(u);
  if (rc) return push_err(L, u, &e);
  if (!found)
    lua_pushboolean(L, 0);
  else if (size >= 0)
    lua_pushinteger(L, (lua_Integer)size);
  else
    lua_pushboolean(L, 1);
  return 1;
}

static int c_get_blob(lua_State *L) {
  ud_client *u = to_client(L, 1);
  const char *repo = ocil_arg_str(L, 2, "repo", 0);
  int64_t size;
  const char *dg = ocil_arg_digest(L, 3, &size);
  size_t max = GET_BLOB_MAX;
  if (!lua_isnoneornil(L, 4)) {
    lua_Integer m = luaL_checkinteger(L, 4);
    luaL_argcheck(L, m >= 0, 4, "max_bytes must not be negative");
    max = (size_t)m;
  }
  hold *h = new_hold(L);
  size_t len = 0;
  oci_error e = {0};
  begin(L, u, 1);
  int rc = oci_registry_get_blob_buffer(REG(u), repo, dg, size, max, &h->buf,
                                        &len, &e);
  end(u);
  if (rc) return push_err(L, u, &e);
  lua_pushlstring(L, h->buf ? h->buf : "", len);
  return 1;
}

static int c_get_blob_to_layout(lua_State *L) {
  ud_client *u = to_client(L, 1);
  const char *repo = ocil_arg_str(L, 2, "repo", 0);
  const oci_image_descriptor *d = arg_desc(L, 3);
  oci_layout *l = ocil_check_layout(L, 4);
  oci_error e = {0};
  begin(L, u, 1);
  ocil_layout_use(L, 4, 1);
  int rc = oci_registry_get_blob_to_layout(REG(u), repo, d, l, &e);
  ocil_layout_use(L, 4, -1);
  end(u);
  return rc ? push_err(L, u, &e) : push_true(L);
}

static int c_push_blob(lua_State *L) {
  ud_client *u = to_client(L, 1);
  const char *repo = ocil_arg_str(L, 2, "repo", 0);
  size_t len;
  const char *data = luaL_checklstring(L, 3, &len);
  const char *mt = ocil_arg_str(L, 4, "media type", 1);
  oci_image_descriptor *d = NULL;
  oci_error e = {0};
  begin(L, u, 1);
  int rc = oci_registry_push_blob_buffer(REG(u), repo, data, len, mt, &d, &e);
  end(u);
  if (rc) return push_err(L, u, &e);
  return ocil_push_desc(L, d);
}

static int c_push_blob_file(lua_State *L) {
  ud_client *u = to_client(L, 1);
  const char *repo = ocil_arg_str(L, 2, "repo", 0);
  const char *path = ocil_arg_str(L, 3, "path", 0);
  const char *mt = ocil_arg_str(L, 4, "media type", 1);
  oci_image_descriptor *d = NULL;
  oci_error e = {0};
  begin(L, u, 1);
  int rc = oci_registry_push_blob_file(REG(u), repo, path, mt, &d, &e);
  end(u);
  if (rc) return push_err(L, u, &e);
  return ocil_push_desc(L, d);
}

static int c_push_blob_from_layout(lua_State *L) {
  ud_client *u = to_client(L, 1);
  const char *repo = ocil_arg_str(L, 2, "repo", 0);
  oci_layout *l = ocil_check_layout(L, 3);
  const oci_image_descriptor *d = arg_desc(L, 4);
  oci_error e = {0};
  begin(L, u, 1);
  ocil_layout_use(L, 3, 1);
  int rc = oci_registry_push_blob_from_layout(REG(u), repo, l, d, &e);
  ocil_layout_use(L, 3, -1);
  end(u);
  return rc ? push_err(L, u, &e) : push_true(L);
}

static int c_mount_blob(lua_State *L) {
  ud_client *u = to_client(L, 1);
  const char *repo = ocil_arg_str(L, 2, "repo", 0);
  const char *from = ocil_arg_str(L, 3, "from_repo", 0);
  int64_t size;
  const char *dg = ocil_arg_digest(L, 4, &size);
  bool mounted = false;
  oci_error e = {0};
  begin(L, u, 1);
  int rc = oci_registry_mount_blob(REG(u), repo, from, dg, &mounted, &e);
  end(u);
  if (rc) return push_err(L, u, &e);
  lua_pushboolean(L, mounted);
  return 1;
}

static int c_delete_blob(lua_State *L) {
  ud_client *u = to_client(L, 1);
  const char *repo = ocil_arg_str(L, 2, "repo", 0);
  int64_t size;
  const char *dg = ocil_arg_digest(L, 3, &size);
  oci_error e = {0};
  begin(L, u, 1);
  int rc = oci_registry_delete_blob(REG(u), repo, dg, &e);
  end(u);
  return rc ? push_err(L, u, &e) : push_true(L);
}

static void push_strings(lua_State *L, const oci_layout_strings *s) {
  lua_createtable(L, (int)s->len, 0);
  if (!s->len) ocil_set_array_mt(L, -1);
  for (size_t i = 0; i < s->len; i++) {
    lua_pushstring(L, s->items[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* tags / catalog: every name. repo_at 0: the catalog. */
static int list_all(lua_State *L, int catalog) {
  ud_client *u = to_client(L, 1);
  const char *repo = catalog ? NULL : ocil_arg_str(L, 2, "repo", 0);
  unsigned n = arg_count(L, catalog ? 2 : 3, "page_size");
  hold *h = new_hold(L);
  oci_error e = {0};
  begin(L, u, 1);
  int rc = catalog ? oci_registry_catalog(REG(u), n, &h->strings, &e)
                   : oci_registry_tags(REG(u), repo, n, &h->strings, &e);
  end(u);
  if (rc) return push_err(L, u, &e);
  push_strings(L, &h->strings);
  return 1;
}

static int list_page(lua_State *L, int catalog) {
  ud_client *u = to_client(L, 1);
  const char *repo = catalog ? NULL : ocil_arg_str(L, 2, "repo", 0);
  int at = catalog ? 2 : 3;
  unsigned n = arg_count(L, at, "n");
  const char *last = ocil_arg_str(L, at + 1, "last", 1);
  hold *h = new_hold(L);
  oci_error e = {0};
  begin(L, u, 1);
  int rc = catalog ? oci_registry_catalog_page(REG(u), n, last, &h->strings,
                                               &h->next, &e)
                   : oci_registry_tags_page(REG(u), repo, n, last, &h->strings,
                                            &h->next, &e);
  end(u);
  if (rc) return push_err(L, u, &e);
  push_strings(L, &h->strings);
  if (h->next)
    lua_pushstring(L, h->next);
  else
    lua_pushnil(L);
  return 2;
}

static int c_tags(lua_State *L) {
  return list_all(L, 0);
}
static int c_catalog(lua_State *L) {
  return list_all(L, 1);
}
static int c_tags_page(lua_State *L) {
  return list_page(L, 0);
}
static int c_catalog_page(lua_State *L) {
  return list_page(L, 1);
}

static int c_referrers(lua_State *L) {
  ud_client *u = to_client(L, 1);
  const char *repo = ocil_arg_str(L, 2, "repo", 0);
  int64_t size;
  const char *dg = ocil_arg_digest(L, 3, &size);
  const char *at = ocil_arg_str(L, 4, "artifact_type", 1);
  oci_image_index *idx = NULL;
  oci_error e = {0};
  begin(L, u, 1);
  int rc = oci_registry_referrers(REG(u), repo, dg, at, &idx, &e);
  end(u);
  if (rc) return push_err(L, u, &e);
  ocil_push_root(L, &oci_type_image_index, idx);
  return 1;
}

static int c_push(lua_State *L) {
  ud_client *u = to_client(L, 1);
  oci_layout *l = ocil_check_layout(L, 2);
  const char *name = ocil_arg_str(L, 3, "name", 0);
  const char *repo = ocil_arg_str(L, 4, "repo", 0);
  const char *tag = ocil_arg_str(L, 5, "tag", 1);
  oci_image_descriptor *d = NULL;
  oci_error e = {0};
  begin(L, u, 1);
  ocil_layout_use(L, 2, 1);
  int rc = oci_registry_push(REG(u), l, name, repo, tag, &d, &e);
  ocil_layout_use(L, 2, -1);
  end(u);
  if (rc) return push_err(L, u, &e);
  return ocil_push_desc(L, d);
}

/* A platform: "os/arch[/variant]", a table {os=, architecture=, variant=}
   or an image.Platform; the strings stay referenced from the stack. */
static const oci_registry_platform *arg_platform(lua_State *L, int idx,
                                                 oci_registry_platform *p) {
  memset(p, 0, sizeof *p);
  if (lua_isnoneornil(L, idx)) return NULL;
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *s = ocil_arg_str(L, idx, "platform", 0);
    const char *a = strchr(s, '/');
    const char *v = a ? strchr(a + 1, '/') : NULL;
    if (!a || a == s || !a[1] || a[1] == '/' ||
        (v && (!v[1] || strchr(v + 1, '/'))))
      luaL_argerror(L, idx,
                    lua_pushfstring(L,
                                    "platform \"%s\" is not os/arch[/variant] "
                                    "(such as linux/arm64/v8)",
                                    s));
    lua_pushlstring(L, s, (size_t)(a - s));
    p->os = lua_tostring(L, -1);
    if (v) {
      lua_pushlstring(L, a + 1, (size_t)(v - a - 1));
      p->architecture = lua_tostring(L, -1);
      p->variant = v + 1;
    } else {
      p->architecture = a + 1;
    }
    return p;
  }
  ocil_obj *u = ocil_test_any(L, idx);
  if (u && u->type == &oci_type_image_platform && u->obj) {
    const oci_image_platform *pl = u->obj;
    p->os = pl->os;
    p->architecture = pl->architecture;
    if (oci_is_present(pl, OCI_F_image_platform_variant))
      p->variant = pl->variant;
    return p;
  }
  if (!lua_istable(L, idx))
    luaL_typeerror(L, idx, "platform string, table or image.Platform");
  static const char *const keys[] = {"os", "architecture", "variant"};
  const char **dst[] = {&p->os, &p->architecture, &p->variant};
  for (int i = 0; i < 3; i++) {
    int t = lua_getfield(L, idx, keys[i]);
    if (t == LUA_TSTRING)
      *dst[i] = lua_tostring(L, -1);
    else if (t != LUA_TNIL)
      luaL_argerror(
          L, idx, lua_pushfstring(L, "platform.%s must be a string", keys[i]));
  }
  return p;
}

static int c_pull(lua_State *L) {
  ud_client *u = to_client(L, 1);
  const char *repo = ocil_arg_str(L, 2, "repo", 0);
  const char *ref = ocil_arg_str(L, 3, "reference", 0);
  oci_layout *l = ocil_check_layout(L, 4);
  const char *name = ocil_arg_str(L, 5, "name", 1);
  oci_registry_platform pbuf;
  const oci_registry_platform *p = arg_platform(L, 6, &pbuf);
  oci_image_descriptor *d = NULL;
  oci_error e = {0};
  begin(L, u, 1);
  ocil_layout_use(L, 4, 1);
  int rc = oci_registry_pull(REG(u), repo, ref, l, name, p, &d, &e);
  ocil_layout_use(L, 4, -1);
  end(u);
  if (rc) return push_err(L, u, &e);
  return ocil_push_desc(L, d);
}

static int c_copy(lua_State *L) {
  ud_client *u = to_client(L, 1);
  const char *src_repo = ocil_arg_str(L, 2, "src_repo", 0);
  const char *src_ref = ocil_arg_str(L, 3, "src_reference", 0);
  ud_client *dst = u;
  if (!lua_rawequal(L, 1, 4)) dst = to_client(L, 4);
  const char *dst_repo = ocil_arg_str(L, 5, "dst_repo", 0);
  const char *dst_tag = ocil_arg_str(L, 6, "dst_tag", 1);
  oci_image_descriptor *d = NULL;
  oci_error e = {0};
  if (dst != u) begin(L, dst, 4);
  begin(L, u, 1);
  int rc = oci_registry_copy(REG(u), src_repo, src_ref, REG(dst), dst_repo,
                             dst_tag, &d, &e);
  end(u);
  if (dst != u) end(dst);
  if (rc) {
    /* the side that failed: the destination when its last request did */
    ud_client *who = u;
    if (dst != u && dst->cb_failed) who = dst;
    if (dst != u && !u->cb_failed &&
        (e.code == OCI_EREGISTRY || e.code == OCI_ENETWORK)) {
      oci_registry_response a, b;
      memset(&a, 0, sizeof a);
      memset(&b, 0, sizeof b);
      oci_registry_last_response(REG(u), &a);
      oci_registry_last_response(REG(dst), &b);
      if (b.url && (!a.url || strstr(e.message, b.url))) who = dst;
    }
    return push_err(L, who, &e);
  }
  return ocil_push_desc(L, d);
}

/* c:sync_refs(src_repo, refs, dst_client, dst_repo) -> {{reference=,
   result = "copied" | "skipped" | "failed", message=, err=}, ...} in the
   order of refs (tags or digests); nil, message, err only for a cancel by
   the progress callback. */
static int c_sync_refs(lua_State *L) {
  ud_client *u = to_client(L, 1);
  const char *src_repo = ocil_arg_str(L, 2, "src_repo", 0);
  luaL_checktype(L, 3, LUA_TTABLE);
  ud_client *dst = u;
  if (!lua_rawequal(L, 1, 4)) dst = to_client(L, 4);
  const char *dst_repo = ocil_arg_str(L, 5, "dst_repo", 0);
  lua_Integer n = luaL_len(L, 3);
  luaL_argcheck(L, n >= 0 && n <= 1000000, 3, "too many references");
  /* freed by the collector, also when an argument error is raised below */
  oci_registry_sync_item *items =
      lua_newuserdatauv(L, (size_t)n * sizeof *items + 1, 0);
  for (lua_Integer i = 0; i < n; i++) {
    /* the strings stay anchored in refs during the call */
    if (lua_geti(L, 3, i + 1) != LUA_TSTRING)
      return luaL_argerror(L, 3, "a list of tags or digests expected");
    memset(&items[i], 0, sizeof items[i]);
    items[i].reference = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  oci_error e = {0};
  if (dst != u) begin(L, dst, 4);
  begin(L, u, 1);
  int rc = oci_registry_sync_refs(REG(u), src_repo, REG(dst), dst_repo, items,
                                  (size_t)n, &e);
  end(u);
  if (dst != u) end(dst);
  if (rc) return push_err(L, u, &e);
  static const char *const names[] = {"failed", "copied", "skipped"};
  lua_createtable(L, (int)n, 0);
  for (lua_Integer i = 0; i < n; i++) {
    lua_createtable(L, 0, 4);
    lua_pushstring(L, items[i].reference);
    lua_setfield(L, -2, "reference");
    lua_pushstring(L, names[items[i].result]);
    lua_setfield(L, -2, "result");
    if (items[i].result == OCI_SYNC_FAILED) {
      push_err(L, NULL, &items[i].err); /* nil, message, err */
      lua_setfield(L, -4, "err");
      lua_setfield(L, -3, "message");
      lua_pop(L, 1);
    }
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static void set_u64(lua_State *L, const char *k, uint64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

static int c_stats(lua_State *L) {
  ud_client *u = to_client(L, 1);
  oci_registry_stats s;
  memset(&s, 0, sizeof s);
  oci_registry_get_stats(REG(u), &s);
  lua_createtable(L, 0, 9);
  set_u64(L, "requests", s.requests);
  set_u64(L, "blobs_uploaded", s.blobs_uploaded);
  set_u64(L, "blobs_skipped", s.blobs_skipped);
  set_u64(L, "blobs_mounted", s.blobs_mounted);
  set_u64(L, "blobs_downloaded", s.blobs_downloaded);
  set_u64(L, "bytes_uploaded", s.bytes_uploaded);
  set_u64(L, "bytes_downloaded", s.bytes_downloaded);
  set_u64(L, "manifests_pushed", s.manifests_pushed);
  set_u64(L, "manifests_pulled", s.manifests_pulled);
  return 1;
}

/* true / false, or nothing while the client has not seen it */
static void set_cap(lua_State *L, const char *k, oci_registry_cap v) {
  if (v == OCI_REGISTRY_CAP_UNKNOWN) return;
  lua_pushboolean(L, v == OCI_REGISTRY_CAP_YES);
  lua_setfield(L, -2, k);
}

static int c_capabilities(lua_State *L) {
  ud_client *u = to_client(L, 1);
  oci_registry_capabilities c;
  oci_registry_capabilities_init(&c);
  oci_error e;
  if (oci_registry_get_capabilities(REG(u), &c, &e)) /* our own version */
    return luaL_error(L, "%s", e.message);
  lua_createtable(L, 0, 5);
  set_cap(L, "referrers", c.referrers);
  set_cap(L, "range", c.range);
  set_cap(L, "mount", c.mount);
  set_cap(L, "delete", c.deletion);
  if (c.chunk_min >= 0) {
    lua_pushinteger(L, (lua_Integer)c.chunk_min);
    lua_setfield(L, -2, "chunk_min");
  }
  return 1;
}

static int c_last_response(lua_State *L) {
  ud_client *u = to_client(L, 1);
  push_last_response(L, REG(u), 0);
  return 1;
}

int ocil_push_registry_lib(lua_State *L) {
  static const luaL_Reg cmeth[] = {
      {"host", c_host},
      {"ping", c_ping},
      {"get_manifest", c_get_manifest},
      {"get_manifest_raw", c_get_manifest_raw},
      {"head_manifest", c_head_manifest},
      {"put_manifest", c_put_manifest},
      {"delete_manifest", c_delete_manifest},
      {"has_blob", c_has_blob},
      {"get_blob", c_get_blob},
      {"get_blob_to_layout", c_get_blob_to_layout},
      {"push_blob", c_push_blob},
      {"push_blob_file", c_push_blob_file},
      {"push_blob_from_layout", c_push_blob_from_layout},
      {"mount_blob", c_mount_blob},
      {"delete_blob", c_delete_blob},
      {"tags", c_tags},
      {"tags_page", c_tags_page},
      {"catalog", c_catalog},
      {"catalog_page", c_catalog_page},
      {"referrers", c_referrers},
      {"push", c_push},
      {"pull", c_pull},
      {"copy", c_copy},
      {"sync_refs", c_sync_refs},
      {"stats", c_stats},
      {"capabilities", c_capabilities},
      {"last_response", c_last_response},
      {NULL, NULL}};
  static const luaL_Reg fns[] = {
      {"connect", l_connect}, {"run_helper", l_run_helper}, {NULL, NULL}};
  ocil_handle_register(L, &client_class, cmeth, NULL);
  if (luaL_newmetatable(L, HOLD_MT)) {
    lua_pushcfunction(L, hold_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  lua_pushinteger(L, (lua_Integer)OCI_REGISTRY_MANIFEST_MAX);
  lua_setfield(L, -2, "MANIFEST_MAX");
  lua_pushinteger(L, (lua_Integer)GET_BLOB_MAX);
  lua_setfield(L, -2, "GET_BLOB_MAX");
  lua_pushstring(L, OCI_REGISTRY_ACCEPT_MANIFESTS);
  lua_setfield(L, -2, "ACCEPT_MANIFESTS");
  return 1;
}
