/* core.digest: digest strings for Lua (see ocispec/digest.h).
     parse(s)         -> {algorithm=, encoded=, digest=s} | nil, msg, code
     validate(s)      -> true | nil, msg, code
     referrers_tag(s) -> tag | nil, msg, code
     hex_len(alg)     -> 64 | 128 | nil (not registered)
     algorithms       =  {"sha256", "sha512", "blake3"} */
#include <lauxlib.h>
#include <lua.h>

#include "ocil_parts.h"
#include "ocispec/digest.h"

static int l_parse(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  oci_digest_view v;
  oci_error err;
  oci_error_clear(&err);
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
  oci_error err;
  oci_error_clear(&err);
  if (oci_digest_parse(s, len, NULL, &err))
    return ocil_parts_push_error(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_referrers_tag(lua_State *L) {
  char out[OCI_DIGEST_REFERRERS_TAG_MAX + 1];
  const char *s;
  oci_error err;
  oci_error_clear(&err);
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

int ocil_push_digest_lib(lua_State *L) {
  static const luaL_Reg fns[] = {{"parse", l_parse},
                                 {"validate", l_validate},
                                 {"referrers_tag", l_referrers_tag},
                                 {"hex_len", l_hex_len},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  push_algorithms(L);
  lua_setfield(L, -2, "algorithms");
  return 1;
}
