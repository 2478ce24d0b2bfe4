--- Unpacking images into runtime bundles.
--
--    local oci = require "ocispec"
--    local L = assert(oci.layout.open("image-layout"))
--    local spec = assert(oci.unpack.image(L, "latest", "bundle"))
--    -- bundle/rootfs holds the layers, bundle/config.json the runtime config
--
-- `layer(blob_path, rootfs [, {rootless=, digest=}])` applies one layer
-- (image-spec layer.md changesets: whiteouts and opaque whiteouts) and
-- returns `{entries=, whiteouts=, opaque_dirs=, skipped=}`; with `digest`
-- the blob is hashed while read and must match. Entries never leave rootfs
-- ("..", absolute paths and paths through symbolic links are errors).
-- @module ocispec.unpack
local core = require "ocispec.core"
local runtime = require "ocispec.runtime"

local M = {}

--- Apply one layer blob to a root file system.
-- @function layer
M.layer = core.unpack.apply

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil or os.rename(path, path) == true
end

local function id_of(flag)
  local p = io.popen("id " .. flag)
  local n = p and math.tointeger(tonumber(p:read("l") or ""))
  if p then p:close() end
  return n
end

--- Unpack image `ref` of `layout` into the runtime bundle `bundle`:
-- `bundle/rootfs` from its layers in order (each blob's digest checked
-- while it is read), `bundle/config.json` from its configuration
-- (`runtime.Spec.from_image_config`). opts: `platform` (choose from an
-- index; default the host), `rootless` (no owners, no device nodes, and
-- the config of `runc spec --rootless` for the current user as the base).
-- The rootfs is built in `bundle/.rootfs-partial` and renamed when
-- complete; an existing `bundle/rootfs` or `config.json` is an error.
-- Returns the runtime Spec, or nil, message, code.
function M.image(layout, ref, bundle, opts)
  opts = opts or {}
  local r, msg, code = layout:resolve(ref, opts.platform and { platform = opts.platform } or nil)
  if not r then return nil, msg, code end
  local rootfs, config = bundle .. "/rootfs", bundle .. "/config.json"
  if exists(rootfs) then return nil, rootfs .. ": exists; unpack into a new bundle", "io" end
  if exists(config) then return nil, config .. ": exists; unpack into a new bundle", "io" end
  local partial = bundle .. "/.rootfs-partial"
  local ok = os.execute(("mkdir -p %s && rm -rf %s && mkdir %s"):format(quote(bundle), quote(partial), quote(partial)))
  if not ok then return nil, bundle .. ": cannot create the bundle folder", "io" end
  local function fail(m, c)
    os.execute("rm -rf " .. quote(partial))
    return nil, m, c
  end
  for i, d in ipairs(r.layers) do
    local path
    path, msg, code = layout:blob_path(d:digest())
    if not path then return fail(msg, code) end
    local st
    st, msg, code = M.layer(path, partial, { rootless = opts.rootless, digest = d:digest() })
    if not st then return fail(("layer %d (%s): %s"):format(i, d:digest(), msg), code) end
  end
  local base
  if opts.rootless then
    local uid, gid = id_of("-u"), id_of("-g")
    if not uid or not gid then return fail("cannot read the current user's ids", "io") end
    base = runtime.Spec.rootless(uid, gid)
  end
  local spec
  spec, msg, code = runtime.Spec.from_image_config(r.config, { rootfs = partial, base = base })
  if not spec then return fail(msg, code) end
  local renamed, err = os.rename(partial, rootfs)
  if not renamed then return fail(err, "io") end
  ok, msg, code = spec:to_file_pretty(config)
  if not ok then return nil, msg, code end
  return spec
end

return M
