/* core.values: the declarations of values.def as Lua tables, which
   image.lua, runtime.lua, distribution.lua and the CLI wrap (no Lua file
   repeats a value).

   core.values = {
     media_types = { ImageManifest = "application/...", ... },
     media_type_info = { ["application/..."] = { name, kind, compression,
                         family, distributable, docker?, oci? }, ... },
     accept_manifests = "application/..., ...",
     enums = { runtime = { Capability = { SysAdmin = "CAP_SYS_ADMIN", ... },
               ... }, distribution = { ErrorCode = {...}, ... } },
     enum_lists = { CAPABILITY = { "CAP_AUDIT_CONTROL", ... }, ... },
                                              -- by C id, in spec order
     kinds = { ["image-manifest"] = <class image.ImageManifest>, ... },
     kind_names = { "runtime-config", ... },  -- declaration order
     kind_ids = { RUNTIME_CONFIG = "runtime-config", ... },
     hosts = { docker_hub = "docker.io", docker_hub_index = ...,
               docker_hub_api = ... },
   } */
#include <ctype.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "ocil_parts.h"
#include "ocispec/values.h"

static void set_str(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* t[ns][name] at the top (created if missing) for the table at idx. */
static void sub2(lua_State *L, int idx, const char *ns, const char *name) {
  idx = lua_absindex(L, idx);
  if (lua_getfield(L, idx, ns) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, idx, ns);
  }
  if (lua_getfield(L, -1, name) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
  }
  lua_remove(L, -2);
}

static void push_media_types(lua_State *L) {
  lua_createtable(L, 0, OCI_MEDIA_TYPE_COUNT); /* media_types */
  lua_createtable(L, 0, OCI_MEDIA_TYPE_COUNT); /* media_type_info */
  for (size_t i = 0; i < OCI_MEDIA_TYPE_COUNT; i++) {
    const oci_media_type_info *m = &oci_media_types[i];
    lua_pushstring(L, m->value);
    lua_setfield(L, -3, m->name);
    lua_createtable(L, 0, 7);
    set_str(L, "name", m->name);
    set_str(L, "value", m->value);
    set_str(L, "kind", oci_media_kind_name(m->kind));
    set_str(L, "compression", oci_compression_name(m->compression));
    set_str(L, "family",
            m->family == OCI_MEDIA_FAMILY_OCI      ? "oci"
            : m->family == OCI_MEDIA_FAMILY_DOCKER ? "docker"
                                                   : "generic");
    lua_pushboolean(L, m->distributable);
    lua_setfield(L, -2, "distributable");
    if (m->docker) set_str(L, "docker", m->docker);
    if (m->oci) set_str(L, "oci", m->oci);
    lua_setfield(L, -2, m->value);
  }
  lua_setfield(L, -3, "media_type_info");
  lua_setfield(L, -2, "media_types");
  set_str(L, "accept_manifests", oci_media_type_accept_manifests());
}

static void push_enums(lua_State *L) {
  lua_newtable(L); /* enums */
  lua_newtable(L); /* enum_lists */
  for (size_t i = 0; i < OCI_ENUM_COUNT; i++) {
    const oci_enum *e = &oci_enums[i];
    /* two enums with one Lua name (LinuxDeviceType) make one table */
    sub2(L, -2, e->ns, e->name);
    for (size_t k = 0; k < e->count; k++)
      set_str(L, e->values[k].name, e->values[k].value);
    lua_pop(L, 1);
    lua_createtable(L, (int)e->count, 0);
    for (size_t k = 0; k < e->count; k++) {
      lua_pushstring(L, e->values[k].value);
      lua_seti(L, -2, (lua_Integer)k + 1);
    }
    lua_setfield(L, -2, e->id);
  }
  lua_setfield(L, -3, "enum_lists");
  lua_setfield(L, -2, "enums");
}

static void push_kinds(lua_State *L, int types_idx) {
  lua_createtable(L, 0, OCI_DOC_KIND_COUNT);
#define OCI_DOC_KIND(id, name, type) set_str(L, #id, name);
#include "ocispec/values.def"
  lua_setfield(L, -2, "kind_ids");
  lua_createtable(L, 0, OCI_DOC_KIND_COUNT);
  lua_createtable(L, OCI_DOC_KIND_COUNT, 0);
  for (size_t i = 0; i < OCI_DOC_KIND_COUNT; i++) {
    const oci_doc_kind *k = &oci_doc_kinds[i];
    lua_pushstring(L, k->name);
    lua_seti(L, -2, (lua_Integer)i + 1);
    if (lua_getfield(L, types_idx, k->type->ns) == LUA_TTABLE)
      lua_getfield(L, -1, k->type->name);
    else
      lua_pushnil(L);
    lua_setfield(L, -4, k->name);
    lua_pop(L, 1);
  }
  lua_setfield(L, -3, "kind_names");
  lua_setfield(L, -2, "kinds");
}

/* "DOCKER_HUB_API" -> "docker_hub_api" */
static void set_host(lua_State *L, const char *id, const char *host) {
  char key[64];
  size_t n = strlen(id);
  if (n >= sizeof key) n = sizeof key - 1;
  for (size_t i = 0; i < n; i++)
    key[i] = (char)tolower((unsigned char)id[i]);
  key[n] = '\0';
  set_str(L, key, host);
}

int ocil_push_values_lib(lua_State *L, int types_idx) {
  types_idx = lua_absindex(L, types_idx);
  lua_newtable(L);
  push_media_types(L);
  push_enums(L);
  push_kinds(L, types_idx);
  lua_newtable(L);
#define OCI_HOST(id, host) set_host(L, #id, OCI_HOST_##id);
#include "ocispec/values.def"
  lua_setfield(L, -2, "hosts");
  return 1;
}
