/* core.check: the strcheck.h grammars for Lua, each name(s) -> true or
   nil, message, err; plus semver_compare, error codes and base64_decode.
   Also the helpers the other ocil_parts files share. */
#include <lauxlib.h>
#include <lua.h>
#include <regex.h>
#include <string.h>

#include "binding.h"
#include "ocil_parts.h"
#include "ocispec/strcheck.h"
#include "schema/strcheck_internal.h"

int ocil_parts_push_error(lua_State *L, const oci_error *err) {
  if (err->code == OCI_ENOMEM) return luaL_error(L, "not enough memory");
  return ocil_push_error_msg(L, err->code, err, err->message);
}

int ocil_parts_cstring(lua_State *L, int idx, const char *what,
                       const char **out, oci_error *err) {
  size_t len;
  const char *s = luaL_checklstring(L, idx, &len);
  const char *nul = memchr(s, '\0', len);
  *out = s;
  if (!nul) return 0;
  return oci_fail_value(err, OCI_EINVAL, what, s, len, "NUL byte at offset %zu",
                        (size_t)(nul - s));
}

int ocil_parts_path_op(lua_State *L, const char *what,
                       int (*op)(const char *path, oci_error *err)) {
  oci_error err = {0};
  const char *path;
  if (ocil_parts_cstring(L, 1, what, &path, &err) || op(path, &err))
    return ocil_parts_push_error(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

typedef int (*check_fn)(const char *s, size_t len, oci_error *err);

/* Lua name -> C check; a closure keeps its index as upvalue (a function
   pointer cannot portably travel as a light userdata). */
static const struct {
  const char *name;
  check_fn fn;
} checks[] = {
    {"media_type", oci_check_media_type},
    {"base64", oci_check_base64},
    {"uri", oci_check_uri},
    {"rfc3339", oci_check_rfc3339},
    {"semver", oci_check_semver},
    {"repository_name", oci_check_repository_name},
    {"tag", oci_check_tag},
    {"registry_host", oci_check_registry_host},
    {"ref_name", oci_check_ref_name_annotation},
    {"env_entry", oci_check_env_entry},
    {"error_code", oci_check_error_code},
    {"absolute_path", oci_check_absolute_path},
};

static int l_check(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  lua_Integer k = lua_tointeger(L, lua_upvalueindex(1));
  oci_error err = {0};
  if (checks[k].fn(s, len, &err) != 0) return ocil_parts_push_error(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* semver_compare(a, b) -> -1 | 0 | 1, or nil, msg, err if one is not
   SemVer (the C function would still order it, but silently). */
static int l_semver_compare(lua_State *L) {
  size_t alen, blen;
  const char *a = luaL_checklstring(L, 1, &alen);
  const char *b = luaL_checklstring(L, 2, &blen);
  oci_error err = {0};
  if (oci_check_semver(a, alen, &err) || oci_check_semver(b, blen, &err))
    return ocil_parts_push_error(L, &err);
  lua_pushinteger(L, oci_semver_compare(a, alen, b, blen));
  return 1;
}

static int l_error_code_is_known(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  lua_pushboolean(L, oci_error_code_is_known(s, len));
  return 1;
}

/* base64_decode(s) -> bytes, or nil, msg, err */
static int l_base64_decode(lua_State *L) {
  size_t len, n;
  const char *s = luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  oci_error err = {0};
  unsigned char *out;
  if (oci_check_base64(s, len, &err)) return ocil_parts_push_error(L, &err);
  out = (unsigned char *)luaL_buffinitsize(L, &b, len / 4 * 3 + 1);
  oci_base64_decode(s, len, out, &n);
  luaL_pushresultsize(&b, n);
  return 1;
}

/* regex_find(pattern, s) -> whether the POSIX extended regular expression
   matches somewhere in s (anchor it with ^...$), or nil, msg, err for a
   pattern that does not compile */
static int l_regex_find(lua_State *L) {
  const char *pat = luaL_checkstring(L, 1);
  const char *s = luaL_checkstring(L, 2);
  regex_t re;
  oci_error err = {0};
  int rc = regcomp(&re, pat, REG_EXTENDED | REG_NOSUB);
  if (rc) {
    char why[128];
    regerror(rc, &re, why, sizeof why);
    oci_error_set(&err, OCI_EINVAL, "regular expression \"%.100s\": %s", pat,
                  why);
    return ocil_parts_push_error(L, &err);
  }
  rc = regexec(&re, s, 0, NULL, 0);
  regfree(&re);
  lua_pushboolean(L, rc == 0);
  return 1;
}

static void push_error_codes(lua_State *L) {
  int k;
  lua_createtable(L, OCI_ERROR_CODE_COUNT, 0);
  for (k = 0; k < OCI_ERROR_CODE_COUNT; k++) {
    lua_pushstring(L, oci_error_codes[k]);
    lua_rawseti(L, -2, k + 1);
  }
}

int ocil_push_check_lib(lua_State *L) {
  static const luaL_Reg extra[] = {
      {"semver_compare", l_semver_compare},
      {"error_code_is_known", l_error_code_is_known},
      {"base64_decode", l_base64_decode},
      {"regex_find", l_regex_find},
      {NULL, NULL}};
  size_t k, n = sizeof checks / sizeof checks[0];
  lua_createtable(L, 0, (int)n + 4);
  for (k = 0; k < n; k++) {
    lua_pushinteger(L, (lua_Integer)k);
    lua_pushcclosure(L, l_check, 1);
    lua_setfield(L, -2, checks[k].name);
  }
  luaL_setfuncs(L, extra, 0);
  push_error_codes(L);
  lua_setfield(L, -2, "error_codes");
  return 1;
}
