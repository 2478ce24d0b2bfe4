/* libFuzzer target: the Lua binding (ocispec.core) driven through a
   lua_State. Byte 0 picks the type (fuzz_common.h), byte 1 the parse
   options (lenient, max_depth), byte 2 the structured operations; the rest
   is JSON text. Each input runs fuzz/lua_binding.lua (next to this file,
   found through __FILE__, or $OCISPEC_FUZZ_LUA_DRIVER), which checks the
   properties and raises "property failed: ..." when one breaks: every
   call returns its documented results or raises a documented misuse
   error, never crashes; failures are specific errors; to_table,
   from_table, to_json, clone, ==, getters, setters, unknown_fields and
   json.encode/decode agree with each other; nesting limits hold. Here:
   any Lua error is a failure, and once an input's objects are collected
   no document bytes are counted (the binding's accounting balances; ASan
   checks that the arenas are freed). One lua_State serves every input
   (opening the module per input made the target 20x slower); each runs
   under lua_pcall, in incremental mode at its start. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "fuzz_common.h"

int luaopen_ocispec_core(lua_State *L);

static size_t ntypes;
static char *driver;
static size_t driver_len;

static void load_driver(void) {
  const char *path = getenv("OCISPEC_FUZZ_LUA_DRIVER");
  char buf[4096];
  if (!path || !*path) {
    const char *slash = strrchr(__FILE__, '/');
    size_t dir = slash ? (size_t)(slash - __FILE__ + 1) : 0;
    snprintf(buf, sizeof buf, "%.*slua_binding.lua", (int)dir, __FILE__);
    path = buf;
  }
  FILE *f = fopen(path, "rb");
  FUZZ_CHECK(f != NULL, "cannot open the driver %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  FUZZ_CHECK(n > 0, "empty driver %s", path);
  driver = malloc((size_t)n);
  FUZZ_CHECK(driver && fread(driver, 1, (size_t)n, f) == (size_t)n,
             "cannot read %s", path);
  driver_len = (size_t)n;
  fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_maybe_list_types();
  ntypes = fuzz_ntypes();
  load_driver();
  return 0;
}

/* One lua_State for every input (opening the module registers every
   type: too slow per input): the module and the compiled driver are kept
   at stack indexes 1 and 2; each input runs in a protected call. */
static lua_State *L;

static int setup(lua_State *S) {
  luaL_openlibs(S);
  luaL_requiref(S, "ocispec.core", luaopen_ocispec_core, 0);
  if (luaL_loadbuffer(S, driver, driver_len, "=lua_binding.lua"))
    return lua_error(S);
  return 2;
}

static int run(lua_State *S) {
  const uint8_t *data = lua_touserdata(S, 1);
  size_t size = (size_t)lua_tointeger(S, 2);
  const oci_type *t = oci_all_types[data[0] % ntypes];
  lua_gc(S, LUA_GCINC, 0, 0, 0);         /* an input may have switched modes */
  lua_pushvalue(S, lua_upvalueindex(2)); /* the driver */
  lua_pushvalue(S, lua_upvalueindex(1)); /* the module */
  lua_pushstring(S, t->ns);
  lua_pushstring(S, t->name);
  lua_pushinteger(S, data[1]);
  lua_pushinteger(S, data[2]);
  lua_pushlstring(S, (const char *)data + 3, size - 3);
  lua_call(S, 6, 0);
  /* Nothing is left: once collected, no document bytes are counted. */
  lua_gc(S, LUA_GCCOLLECT);
  lua_getfield(S, lua_upvalueindex(1), "arena_bytes");
  lua_call(S, 0, 1);
  lua_Integer held = lua_tointeger(S, -1);
  if (held != 0)
    return luaL_error(S,
                      "property failed: %s: %I bytes of documents counted "
                      "after a full collection",
                      t->name, held);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  if (!L) {
    L = luaL_newstate();
    FUZZ_CHECK(L != NULL, "lua_newstate");
    lua_pushcfunction(L, setup);
    if (lua_pcall(L, 0, 2, 0) != LUA_OK)
      FUZZ_CHECK(0, "setup: %s", lua_tostring(L, -1));
    lua_pushcclosure(L, run, 2); /* upvalues: the module, the driver */
  }
  lua_pushvalue(L, 1);
  lua_pushlightuserdata(L, (void *)data);
  lua_pushinteger(L, (lua_Integer)size);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    FUZZ_CHECK(0, "%s", msg ? msg : "(error object is not a string)");
  }
  FUZZ_CHECK(lua_gettop(L) == 1, "stack: %d", lua_gettop(L));
  return 0;
}
