-- ocispec: OCI runtime/image/distribution specs for Lua 5.4 (C core + Lua).
--
-- Build and install from a checkout (offline):
--
--   luarocks --lua-version=5.4 make --deps-mode=none rockspec/ocispec-scm-1.rockspec
--
-- `--deps-mode=none` because lua-cjson comes from Debian (apt-get install
-- lua-cjson), which LuaRocks does not see in its own manifests; without it
-- LuaRocks tries to download lua-cjson. Needs cmake, a C compiler, Lua 5.4
-- headers, OpenSSL's libcrypto (libssl-dev), libarchive (libarchive-dev) and
-- libcurl (libcurl4-openssl-dev). Tests are off here
-- (no cmocka/busted needed): run `bash scripts/test.sh` for those.
rockspec_format = "3.0"
package = "ocispec"
version = "scm-1"

source = {
  url = "git+https://github.com/ocispec/ocispec.git",
}

description = {
  summary = "Open Container Initiative specs (runtime, image, distribution) for Lua 5.4",
  detailed = [[
Parse, build, validate and serialize OCI runtime, image and distribution
documents with exact round trips; digests, image layouts, layers and a
registry client (push, pull, copy). A C
library core (ocispec.core) with a Lua layer (require "ocispec").
]],
  license = "Apache-2.0", -- placeholder until the project states its licence
  labels = { "oci", "containers" },
}

dependencies = {
  "lua >= 5.4",
  "lua-cjson",
}

build = {
  type = "cmake",
  variables = {
    CMAKE_C_FLAGS = "$(CFLAGS)",
    CMAKE_BUILD_TYPE = "Release",
    LUA_INCDIR = "$(LUA_INCDIR)",
    LIBDIR = "$(LIBDIR)",
    LUADIR = "$(LUADIR)",
    LUA = "$(LUA)",
    OCISPEC_TESTS = "OFF",
    -- release flags/compilers may warn where the Debug CI build does not
    OCISPEC_WERROR = "OFF",
  },
  install = {
    bin = { ocispec = "bin/ocispec" },
  },
}
