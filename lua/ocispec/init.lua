--- ocispec: the Open Container Initiative specifications for Lua 5.4.
--
--    local oci = require "ocispec"
--    local m = assert(oci.image.ImageManifest.from_file("manifest.json"))
--    print(#m:layers(), m:config():digest())
--
-- Namespaces: `image`, `distribution`, `digest`, `layout`, `registry`. Every type has
-- `from_json`, `from_file`, `from_table`, a builder, getters, `set_`
-- setters, `to_json`, `to_file`, `to_file_pretty`, `to_table`, `validate`,
-- `clone`, `==` and `tostring` (see the README).
-- @module ocispec

local core = require "ocispec.core"

-- to_table() gives what lua-cjson's decode gives: share its empty-array
-- marker when the installed lua-cjson has one (2.1.0.4 and later; Debian
-- 12's 2.1.0 has none, and then ocispec's own marker is used).
local has_cjson, cjson = pcall(require, "cjson")
if has_cjson and type(cjson.empty_array_mt) == "table" then
  core.set_empty_array_mt(cjson.empty_array_mt)
end

local M = {
  _NAME = "ocispec",
  --- The library's version, "MAJOR.MINOR.PATCH" (project(VERSION) in
  -- CMakeLists.txt, through ocispec/version.h).
  _VERSION = core.VERSION,
  --- The optional components this build has: `{image = bool, registry =
  -- bool}` (build options OCISPEC_WITH_IMAGE, OCISPEC_WITH_REGISTRY). The
  -- modules of a missing one load, and raise "not available (built
  -- without ...)" where they are used.
  features = { image = core.features.image, registry = core.features.registry },
  --- JSON null (the same value as `cjson.null`): `obj:set_x(oci.null)`.
  null = core.null,
  core = core,
}

--- JSON for plain Lua values, in the shapes to_table() uses.
-- `encode(v)` writes compact JSON with sorted object keys (empty tables
-- carrying `empty_array_mt` become `[]`); `decode(s)` reads RFC 8259 JSON
-- (duplicate keys refused) into tables, with `null` for JSON null.
M.json = {
  encode = core.json_encode,
  decode = core.json_decode,
  null = core.null,
}

--- The metatable marking empty arrays in to_table() results: lua-cjson's
-- `empty_array_mt` when available, else ocispec's own.
function M.empty_array_mt()
  return has_cjson and type(cjson.empty_array_mt) == "table" and cjson.empty_array_mt
    or core.empty_array_mt
end

M.image = require "ocispec.image"
M.distribution = require "ocispec.distribution"
M.runtime = require "ocispec.runtime"
M.digest = require "ocispec.digest"
M.build = require "ocispec.build"
M.unpack = require "ocispec.unpack"
M.layer = require "ocispec.layer"
M.layout = require "ocispec.layout"
M.registry = require "ocispec.registry"

return M
