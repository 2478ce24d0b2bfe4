/* core.digest: digest strings for Lua (see ocispec/digest.h).
     parse(s)         -> {algorithm=, encoded=, digest=s} | nil, msg, err
     validate(s)      -> true | nil, msg, err
     referrers_tag(s) -> tag | nil, msg, err
     hex_len(alg)     -> 64 | 128 | nil (not registered)
     algorithms       =  {"sha256", "sha512", "blake3"}
   and hashing (see ocispec/hash.h):
     sha256(s), sha512(s)   -> "alg:hex"
     hash(s [, alg])        -> "alg:hex" | nil, msg, err
     file(path [, alg])     -> digest, size | nil, msg, err
     hasher([alg])          -> Hasher | nil, msg, err
     verify(d, data)        -> true | nil, msg, err
     verify_file(d, path)   -> true, size | nil, msg, err
   alg is "sha256" (default) or "sha512"; "blake3" is "unsupported", any
   other name "invalid". A Hasher is a handle (handle.c) holding one
   oci_hasher. */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "binding.h"
#include "ocil_parts.h"
#include "ocispec/digest.h"
#include "ocispec/hash.h"

#define OCIL_HASHER_MT "ocispec.digest.Hasher"

static int l_parse(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  oci_digest_view v;
  oci_error err = {0};
  if (oci_digest_parse(s, len, &v, &err)) return ocil_parts_push_error(L, &err);
  lua_createtable(L, 0, 3);
  lua_pushlstring(L, v.algorithm, v.algorithm_len);
  lua_setfield(L, -2, "algorithm");
  lua_pushlstring(L, v.encoded, v.encoded_len);
  lua_setfield(L, -2, "encoded");
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "digest");
  return 1;
}

static int l_validate(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  oci_error err = {0};
  if (oci_digest_parse(s, len, NULL, &err))
    return ocil_parts_push_error(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_referrers_tag(lua_State *L) {
  char out[OCI_DIGEST_REFERRERS_TAG_MAX + 1];
  const char *s;
  oci_error err = {0};
  if (ocil_parts_cstring(L, 1, "digest", &s, &err) ||
      oci_digest_referrers_tag(s, out, sizeof out, &err))
    return ocil_parts_push_error(L, &err);
  lua_pushstring(L, out);
  return 1;
}

static int l_hex_len(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  size_t n = oci_digest_hex_len(oci_digest_alg_from_name(s, len));
  if (n == 0)
    lua_pushnil(L);
  else
    lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

static void push_algorithms(lua_State *L) {
  static const oci_digest_alg algs[] = {OCI_DIGEST_SHA256, OCI_DIGEST_SHA512,
                                        OCI_DIGEST_BLAKE3};
  int k, n = (int)(sizeof algs / sizeof algs[0]);
  lua_createtable(L, n, 0);
  for (k = 0; k < n; k++) {
    lua_pushstring(L, oci_digest_alg_name(algs[k]));
    lua_rawseti(L, -2, k + 1);
  }
}

/* ---- hashing ---- */

/* String argument idx, strictly: a number raises too (DESIGN.md: a number
   where a string belongs is misuse), unlike luaL_checklstring. */
static const char *str_arg(lua_State *L, int idx, size_t *len) {
  if (lua_type(L, idx) != LUA_TSTRING) luaL_typeerror(L, idx, "string");
  return lua_tolstring(L, idx, len);
}

/* Optional algorithm argument idx: nil/none is sha256; anything else but a
   string raises (call this before any data error can be returned). */
static const char *opt_alg_arg(lua_State *L, int idx, size_t *len) {
  if (lua_isnoneornil(L, idx)) {
    *len = 6;
    return "sha256";
  }
  return str_arg(L, idx, len);
}

static int alg_of(const char *name, size_t len, oci_digest_alg *alg,
                  oci_error *err) {
  *alg = oci_digest_alg_from_name(name, len);
  if (*alg == OCI_DIGEST_SHA256 || *alg == OCI_DIGEST_SHA512) return 0;
  if (*alg == OCI_DIGEST_BLAKE3)
    return oci_error_set(err, OCI_EUNSUPPORTED,
                         "cannot compute blake3 digests: only sha256 and "
                         "sha512 are supported (no blake3 library is "
                         "available)");
  return oci_error_set(err, OCI_EINVAL,
                       "unknown digest algorithm \"%.*s\": expected "
                       "\"sha256\" or \"sha512\"",
                       (int)(len > 64 ? 64 : strnlen(name, len)), name);
}

static int hash_string(lua_State *L, oci_digest_alg alg) {
  size_t len;
  const char *s = str_arg(L, 1, &len);
  char out[OCI_DIGEST_STRING_MAX];
  oci_error err = {0};
  if (oci_hash_buffer(alg, s, len, out, &err))
    return ocil_parts_push_error(L, &err);
  lua_pushstring(L, out);
  return 1;
}

static int l_sha256(lua_State *L) {
  return hash_string(L, OCI_DIGEST_SHA256);
}

static int l_sha512(lua_State *L) {
  return hash_string(L, OCI_DIGEST_SHA512);
}

static int l_hash(lua_State *L) {
  size_t alen;
  str_arg(L, 1, NULL);
  const char *a = opt_alg_arg(L, 2, &alen);
  oci_digest_alg alg;
  oci_error err = {0};
  if (alg_of(a, alen, &alg, &err)) return ocil_parts_push_error(L, &err);
  return hash_string(L, alg);
}

static int l_file(lua_State *L) {
  size_t alen;
  str_arg(L, 1, NULL);
  const char *a = opt_alg_arg(L, 2, &alen), *path;
  oci_digest_alg alg;
  char out[OCI_DIGEST_STRING_MAX];
  uint64_t size = 0;
  oci_error err = {0};
  if (ocil_parts_cstring(L, 1, "path", &path, &err) ||
      alg_of(a, alen, &alg, &err) || oci_hash_file(alg, path, out, &size, &err))
    return ocil_parts_push_error(L, &err);
  lua_pushstring(L, out);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

/* The mismatch message, whole (the C one shortens two sha512 digests). */
static int push_mismatch(lua_State *L, const char *what, const char *want,
                         const char *got) {
  lua_pushfstring(L, "%s: digest mismatch: expected %s, got %s", what, want,
                  got);
  ocil_push_error_msg(L, OCI_EMISMATCH, NULL, lua_tostring(L, -1));
  lua_remove(L, -4);
  return 3;
}

static int l_verify(lua_State *L) {
  size_t len;
  const char *d;
  str_arg(L, 1, NULL);
  const char *data = str_arg(L, 2, &len);
  char got[OCI_DIGEST_STRING_MAX];
  oci_error err = {0};
  int rc = ocil_parts_cstring(L, 1, "digest", &d, &err);
  if (!rc) rc = oci_digest_verify_buffer_ex(d, data, len, got, &err);
  if (rc == OCI_EMISMATCH) return push_mismatch(L, "content", d, got);
  if (rc) return ocil_parts_push_error(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_verify_file(lua_State *L) {
  const char *d, *path;
  str_arg(L, 1, NULL);
  str_arg(L, 2, NULL);
  char got[OCI_DIGEST_STRING_MAX];
  uint64_t size = 0;
  oci_error err = {0};
  int rc = ocil_parts_cstring(L, 1, "digest", &d, &err);
  if (!rc) rc = ocil_parts_cstring(L, 2, "path", &path, &err);
  if (!rc) rc = oci_digest_verify_file_ex(d, path, got, &size, &err);
  if (rc == OCI_EMISMATCH) return push_mismatch(L, path, d, got);
  if (rc) return ocil_parts_push_error(L, &err);
  lua_pushboolean(L, 1);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

/* ---- Hasher ---- */

static void hasher_release(void *p) {
  oci_hasher_free(p);
}

static void hasher_describe(lua_State *L, void *p) {
  lua_pushfstring(L, "%s, %I bytes", oci_digest_alg_name(oci_hasher_alg(p)),
                  (lua_Integer)oci_hasher_size(p));
}

static const ocil_handle_class hasher_class = {OCIL_HASHER_MT, hasher_release,
                                               hasher_describe, 0};

static oci_hasher *check_hasher(lua_State *L, int idx) {
  return ocil_handle_check(L, idx, &hasher_class)->p;
}

static int l_hasher(lua_State *L) {
  size_t alen;
  const char *a = opt_alg_arg(L, 1, &alen);
  oci_digest_alg alg;
  oci_error err = {0};
  if (alg_of(a, alen, &alg, &err)) return ocil_parts_push_error(L, &err);
  ocil_handle *b = ocil_handle_new(L, &hasher_class, 0, 0);
  oci_hasher *h;
  if (oci_hasher_new(alg, &h, &err)) return ocil_parts_push_error(L, &err);
  b->p = h;
  return 1;
}

static int m_update(lua_State *L) {
  oci_hasher *h = check_hasher(L, 1);
  size_t len;
  const char *s = str_arg(L, 2, &len);
  oci_error err = {0};
  if (oci_hasher_update(h, s, len, &err)) return ocil_parts_push_error(L, &err);
  lua_settop(L, 1);
  return 1;
}

static int m_size(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)oci_hasher_size(check_hasher(L, 1)));
  return 1;
}

static int m_algorithm(lua_State *L) {
  lua_pushstring(L, oci_digest_alg_name(oci_hasher_alg(check_hasher(L, 1))));
  return 1;
}

static int m_finish(lua_State *L) {
  oci_hasher *h = check_hasher(L, 1);
  uint64_t size = oci_hasher_size(h);
  char out[OCI_DIGEST_STRING_MAX];
  oci_error err = {0};
  if (oci_hasher_finish(h, out, &err)) return ocil_parts_push_error(L, &err);
  lua_pushstring(L, out);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

static void create_hasher_metatable(lua_State *L) {
  static const luaL_Reg methods[] = {{"update", m_update},
                                     {"size", m_size},
                                     {"finish", m_finish},
                                     {"algorithm", m_algorithm},
                                     {NULL, NULL}};
  ocil_handle_register(L, &hasher_class, methods, NULL);
}

int ocil_push_digest_lib(lua_State *L) {
  static const luaL_Reg fns[] = {{"parse", l_parse},
                                 {"validate", l_validate},
                                 {"referrers_tag", l_referrers_tag},
                                 {"hex_len", l_hex_len},
                                 {"sha256", l_sha256},
                                 {"sha512", l_sha512},
                                 {"hash", l_hash},
                                 {"file", l_file},
                                 {"hasher", l_hasher},
                                 {"verify", l_verify},
                                 {"verify_file", l_verify_file},
                                 {NULL, NULL}};
  create_hasher_metatable(L);
  luaL_newlib(L, fns);
  push_algorithms(L);
  lua_setfield(L, -2, "algorithms");
  return 1;
}
