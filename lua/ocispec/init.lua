--- ocispec: the Open Container Initiative specifications for Lua 5.4.
--
--    local oci = require "ocispec"
--    local m = assert(oci.image.ImageManifest.from_file("manifest.json"))
--    print(#m:layers(), m:config():digest())
--
-- Namespaces: `image`, `runtime`, `distribution` (the OCI types, named as
-- in the Rust crate oci-spec), `digest`, `layout` (image layouts on disk),
-- `layer` (reproducible layers), `build` (image builds), `unpack`
-- (runtime bundles), `registry` (the distribution-spec client) and `json`.
--
-- Every type `T` has:
--
-- * `T.from_json(s [, opts])`, `T.from_file(path [, opts])`,
--   `T.from_table(t [, opts])` (JSON keys, as `cjson.decode` gives): the
--   object, or `nil, message, err`
-- * `T.new()` (an empty object) and `ns.TBuilder()` (= `T.builder()`): one
--   method per field, then `:build()`, which names every missing required
--   field and then checks the spec rules
-- * getters `obj:field()` in snake_case (exactly one `nil` when absent or
--   `null`) and setters `obj:set_field(v)` returning `obj` (`nil` removes
--   the field, `oci.null` writes JSON `null`)
-- * `obj:to_json{pretty=true}`, `tostring(obj)`, `obj:to_file(path)`,
--   `obj:to_file_pretty(path)` (written atomically), `obj:to_table()`
-- * `obj:validate([opts])`: `true, warnings` or `nil, message, err` with
--   `err.problems` (every problem; `err.rule`, `err.pointer`: the first
--   error's)
-- * `obj:clone()`, `a == b` (deep equality as JSON values), `obj:has(name)`,
--   `obj:is_null(name)`, `obj:unknown_fields()`, `obj:set_unknown_field(k, v)`
--
-- Parse options: `{max_depth=256, max_size=256 MiB, max_string=64 MiB,
-- allow_duplicate_keys=false, allow_missing_required=false}`;
-- `from_table` takes the limits and `strict=true` (a member no type
-- declares is an error instead of an unknown field). An unknown key in
-- any options table raises (`unknown option "pretyy"`).
--
-- Errors: every function of every module that can fail on data returns
-- `nil, message, err`; `err` is always a table (metatable `core.Error`,
-- `tostring(err)` is the message) with `code` and `message` (the second
-- result), plus as they apply `pointer`, `line`, `column`, `rule`,
-- `fields`, `problems` and `http`. The message says what, where and why
-- (`ImageManifest: 3:14: /layers/0/size: expected integer, got string`);
-- codes: `syntax`, `type`, `range`, `duplicate_key`, `missing`, `depth`,
-- `too_big`, `utf8`, `invalid`, `io`, `validate`, `unsupported`,
-- `mismatch`, `registry`, `network`, `canceled`. Misuse (a number where a
-- string belongs, an unknown field name, a closed handle) raises an error
-- naming the argument.
--
-- Children alias their document (`m:config():set_size(5)` edits `m`);
-- setters copy. Maps built from Lua tables are written with sorted keys; a
-- uint64 above `math.maxinteger` is a decimal string. Objects are
-- to-be-closed values.
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
M.reader = require "ocispec.reader"
--- Open an image for reading its files without unpacking it
-- (`ocispec.reader`): `oci.image_reader(layout, ref [, opts])`, or
-- `oci.image_reader(reference [, opts])` with a transport reference
-- (`oci:`, `oci-archive:`, `docker-archive:`, `docker://`; `opts.transport`:
-- `ocispec.transport.open`'s options). An archive or registry image is
-- read into a temporary layout that is gone once the reader has opened
-- its layer blobs.
function M.image_reader(layout, ref, opts)
  if type(layout) ~= "string" then return M.reader.open(layout, ref, opts) end
  local o, topts = require("ocispec.util").split_option(ref, "transport", 2, "image_reader")
  -- the reader holds its layer blobs open: the source may go
  return M.transport.with_image(layout, topts, function(L, dg) return M.reader.open(L, dg, o) end)
end
M.artifacts = require "ocispec.artifacts"
M.transport = require "ocispec.transport"
--- Compare two images' files, configs and histories (`ocispec.diff`):
-- `oci.diff(a, b [, opts])`.
M.diff = require("ocispec.diff").diff

return M
