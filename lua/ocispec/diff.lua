--- Comparing two images: their file trees, configs and histories.
--
--    local oci = require "ocispec"
--    local d = assert(oci.diff("oci:old-layout:1.0", "oci:new-layout:1.0"))
--    for _, f in ipairs(d.files.added) do print("A", f.path) end
--    for _, c in ipairs(d.files.changed) do print("C", c.path, table.concat(c.what, ",")) end
--
-- `oci.diff(a, b [, opts])` (also `diff.diff`): `a` and `b` are image
-- references of any transport (`oci:`, `oci-archive:`, `docker-archive:`,
-- `docker://`, see `ocispec.transport`) or sources that `transport.open`
-- gave (left open). opts: `platform` (from an index; default the host's),
-- `tmpdir`, `max_bytes`, `max_entries` as `transport.open` takes them, and
-- for `docker://` `plain_http`, `tls_verify`, `ca_file`, `auth_file`,
-- `username`, `password` as `registry.connect` takes them.
-- The result, every list sorted:
--
-- * `files.added`, `files.removed`: files (`{path=, type=, mode=, uid=,
--   gid=, size=, digest=, target=, major=, minor=, xattrs=, layer=}`,
--   `path` absolute, `digest` the sha256 of a file's content, `xattrs` a
--   table name -> value, `layer` the layer that wrote it, 1 = the base);
-- * `files.changed`: `{path=, what=, a=, b=}`, `what` a list of "type",
--   "content", "target", "mode", "owner", "xattrs", "device";
-- * `config`: `{field=, a=, b=}` for each configuration field that differs
--   (`architecture`, `os`, `variant`, `created`, `author`, ... and
--   `config.Env`, `config.Cmd`, `config.Entrypoint`, `config.Labels`,
--   `config.User`, `config.WorkingDir`, `config.ExposedPorts`,
--   `config.Volumes`, ...: the JSON names), values as `to_table` gives them;
-- * `history`: `{index=, a=, b=}` for each history entry that differs (nil
--   where one image has fewer);
-- * `layers`: `{a=, b=, shared=}` (how many; shared: equal at the bottom);
-- * `identical`: true when all of the above are empty.
--
-- The file trees are built without unpacking (C, `oci_image_diff_files`):
-- each image's layers are streamed base first with the unpacker's rules
-- (whiteouts and opaque whiteouts hide what lower layers hold), contents
-- hashed as they pass. Layers both images share at the bottom (the same
-- blob digests: the same bytes, verified as read) are read once, and not at
-- all when every layer is shared. Equal diff_ids with different blobs (a
-- recompressed layer) are read on both sides: a diff_id is only the
-- config's claim, and a lying config must not hide a file. Files are
-- compared by type, content, link target, mode, owner, xattrs and device
-- numbers, not by mtime; the root directory is not compared.
-- @module ocispec.diff
local util = require "ocispec.util"
local transport = require "ocispec.transport"
local reader = require "ocispec.reader"
local core = require "ocispec.core"

local M = {}

local OPTS = { "platform", "tmpdir", "max_bytes", "max_entries",
  -- docker:// (registry.connect's)
  "plain_http", "tls_verify", "ca_file", "auth_file", "username", "password" }

local function deep_equal(x, y)
  if x == y then return true end
  if type(x) ~= "table" or type(y) ~= "table" then return false end
  for k, v in pairs(x) do
    if not deep_equal(v, y[k]) then return false end
  end
  for k in pairs(y) do
    if x[k] == nil then return false end
  end
  return true
end

local function sorted_keys(...)
  local seen, keys = {}, {}
  for i = 1, select("#", ...) do
    for k in pairs(select(i, ...) or {}) do
      if not seen[k] then seen[k], keys[#keys + 1] = true, k end
    end
  end
  table.sort(keys)
  return keys
end

local function diff_config(ca, cb)
  local out = {}
  for _, k in ipairs(sorted_keys(ca, cb)) do
    if k == "config" then
      local a, b = ca.config or {}, cb.config or {}
      for _, f in ipairs(sorted_keys(a, b)) do
        if not deep_equal(a[f], b[f]) then
          out[#out + 1] = { field = "config." .. f, a = a[f], b = b[f] }
        end
      end
    elseif k ~= "rootfs" and k ~= "history" and not deep_equal(ca[k], cb[k]) then
      out[#out + 1] = { field = k, a = ca[k], b = cb[k] }
    end
  end
  table.sort(out, function(x, y) return x.field < y.field end)
  return out
end

local function diff_history(ha, hb)
  local out = {}
  for i = 1, math.max(#ha, #hb) do
    if not deep_equal(ha[i], hb[i]) then out[#out + 1] = { index = i, a = ha[i], b = hb[i] } end
  end
  return out
end

local function empty_list(t)
  return setmetatable(t, #t == 0 and core.empty_array_mt or nil)
end

-- the source, its resolved manifest and config, and a reader
local function open_side(ref, opts, what, opened)
  local src = ref
  if type(ref) == "string" or (type(ref) == "table" and ref.transport) then
    local o
    if opts then
      o = {}
      for _, k in ipairs(OPTS) do o[k] = opts[k] end
    end
    local msg, err
    src, msg, err = transport.open(ref, o)
    if not src then
      return util.fail(err and err.code or "invalid", ("%s: %s"):format(what, msg))
    end
    opened[#opened + 1] = src
  elseif type(ref) ~= "table" or type(ref.layout) ~= "function" then
    error(("bad argument %s to 'diff' (reference string or transport source expected, got %s)")
      :format(what, type(ref)), 3)
  end
  local L, top = src:layout(), src:descriptor():digest()
  local po = opts and opts.platform and { platform = opts.platform } or nil
  local res, msg, err = L:resolve(top, po)
  if not res then return util.fail(err and err.code or "invalid", ("%s: %s"):format(what, msg)) end
  local r
  r, msg, err = reader.open(L, top, po)
  if not r then return util.fail(err and err.code or "invalid", ("%s: %s"):format(what, msg)) end
  return { res = res, reader = r }
end

--- Compare the images `a` and `b`.
-- @param a a reference (string, any transport) or a `transport.open` source
-- @param b likewise
-- @tparam[opt] table opts `platform`, `tmpdir`, `max_bytes`, `max_entries`,
-- and the connection options `plain_http`, `tls_verify`, `ca_file`,
-- `auth_file`, `username`, `password`
-- @treturn table `{files={added=, removed=, changed=}, config=, history=,
-- layers=, identical=}`, or nil, message, err
function M.diff(a, b, opts)
  util.check_options(opts, OPTS, "diff")
  local opened, sides = {}, {}
  local function finish(...)
    for _, s in ipairs(sides) do s.reader:close() end
    for _, s in ipairs(opened) do s:close() end
    return ...
  end
  local sa, msg, err = open_side(a, opts, "a", opened)
  if not sa then return finish(nil, msg, err) end
  sides[1] = sa
  local sb
  sb, msg, err = open_side(b, opts, "b", opened)
  if not sb then return finish(nil, msg, err) end
  sides[2] = sb
  local files
  files, msg, err = core.image_reader.diff(sa.reader, sb.reader)
  if not files then return finish(nil, msg, err) end
  local ca = sa.res.config and sa.res.config:to_table() or {}
  local cb = sb.res.config and sb.res.config:to_table() or {}
  local config = diff_config(ca, cb)
  local history = diff_history(ca.history or {}, cb.history or {})
  local result = {
    files = { added = files.added, removed = files.removed, changed = files.changed },
    config = empty_list(config),
    history = empty_list(history),
    layers = { a = #sa.res.layers, b = #sb.res.layers, shared = files.layers_shared },
  }
  result.identical = #files.added == 0 and #files.removed == 0 and #files.changed == 0
    and #config == 0 and #history == 0
  return finish(result)
end

return M
