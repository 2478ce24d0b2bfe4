--- The build cache of `ocispec.build`: every layer step (`run`, `copy`,
-- `copy_from`, `add_layer`) has a key, and its result (the layer, its
-- diff_id and history entry) is stored by key, so an unchanged rebuild
-- runs nothing and gives the same manifest digest.
--
-- The key is the SHA-256 of a canonical JSON text of: the parent state
-- (the chain of diff_ids and the image config: `config`, `os`,
-- `architecture`, `variant`), the step's kind and arguments, and the
-- digests of its inputs (for every file and directory: its relative path,
-- type, mode, owner, link target and content digest; not its mtime).
-- A step whose key changed runs; the steps after it then have new parent
-- states, so they run too; the steps before stay cached.
--
-- Records live in a layout: each is an image manifest (config: the empty
-- JSON descriptor; one layer: the result; annotations: key, diff_id,
-- history) listed in an image index tagged `ocispec.build.cache`, so
-- `gc` keeps them and their layers. By default the image's own layout;
-- with `cache_dir`, a layout there (blobs are copied in and out).
-- Image options: `cache` (nil, the default: run, copy and copy_from steps
-- are cached; true: add_layer steps too; false: no cache at all),
-- `no_cache` (run every step; records are still written),
-- `cache_dir`, `on_step` (function(info) with info `{kind=, description=,
-- cached=, seconds=, key=}`, called after each layer step).
-- @module ocispec.build_cache
local core = require "ocispec.core"
local util = require "ocispec.util"
local image = require "ocispec.image"

local M = {}

M.TAG = "ocispec.build.cache"

--- Defaults for images whose own option is nil: `no_cache`, `on_step`
-- (the CLI's `ocispec build --no-cache` and step lines set them).
M.defaults = {}
-- the artifactType of the records (this module's own, declared here only)
local ARTIFACT_TYPE = "application/vnd.ocispec.build.cache.v1"
local KEY = "org.ocispec.build.cache.key"
local DIFF_ID = "org.ocispec.build.cache.diff-id"
local CREATED_BY = "org.ocispec.build.cache.created-by"
local COMMENT = "org.ocispec.build.cache.comment"

-- Canonical JSON of a Lua value: sorted keys, no functions.
local function canon(v, out)
  local t = type(v)
  if t == "table" then
    if #v > 0 or next(v) == nil then
      out[#out + 1] = "["
      for i, x in ipairs(v) do
        if i > 1 then out[#out + 1] = "," end
        canon(x, out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = string.format("%q:", k)
        canon(v[k] == nil and v[tonumber(k)] or v[k], out)
      end
      out[#out + 1] = "}"
    end
  elseif t == "string" then
    out[#out + 1] = string.format("%q", v)
  elseif t == "number" or t == "boolean" then
    out[#out + 1] = tostring(v)
  elseif t == "nil" then
    out[#out + 1] = "null"
  else
    out[#out + 1] = '"<' .. t .. '>"'
  end
  return out
end
M.canonical = function(v) return table.concat(canon(v, {})) end

--- The digest of the tree at host path `path` (a file, a directory or a
-- link; nothing followed): paths, types, modes, owners, link targets and
-- file contents, not mtimes. nil, message, err when it cannot be read.
function M.tree_digest(path)
  local t = core.run.lstat(path)
  local items = {}
  if t == "dir" then
    local list, msg, err = core.run.list(path)
    if not list then return nil, msg, err end
    table.sort(list, function(a, b) return a.path < b.path end)
    for _, e in ipairs(list) do
      local item = { e.path, e.type, e.mode, e.uid, e.gid, e.target or "" }
      if e.type == "file" then
        local d, m, er = core.digest.file(path .. "/" .. e.path)
        if not d then return nil, m, er end
        item[#item + 1] = d
      end
      items[#items + 1] = item
    end
  elseif t == "file" then
    local d, m, er = core.digest.file(path)
    if not d then return nil, m, er end
    items[1] = { "", "file", d }
  elseif t == "symlink" then
    local dir, name = path:match("^(.*)/([^/]+)$")
    local list = core.run.list(dir ~= "" and dir or "/", false) or {}
    for _, e in ipairs(list) do
      if e.path == name then items[1] = { "", "symlink", e.target } end
    end
  else
    items[1] = { "", t }
  end
  return core.digest.sha256(M.canonical(items))
end

--- The state of img as a string: its diff_ids and config.
function M.state(img)
  local c = img.cfg
  return M.canonical({ diff_ids = c.rootfs.diff_ids, config = c.config or {}, os = c.os,
    architecture = c.architecture, variant = c.variant or "" })
end

--- The key of a step of img: kind, arguments (a table), inputs (a table
-- of digests).
function M.key(img, kind, args, inputs)
  return core.digest.sha256(M.canonical({ parent = M.state(img), kind = kind, args = args or {},
    inputs = inputs or {} }))
end

-- Whether a threads option asks for the parallel compression format (the
-- same bytes for every count >= 1; 0 or none: the single-threaded one).
local function parallel(threads)
  return math.type(threads) == "integer" and threads > 0 or nil
end

-- The layer options of img that change a layer's bytes.
function M.layer_args(img)
  return { compression = img.compression, level = img.level or "", uid = img.uid or "", gid = img.gid or "",
    parallel = parallel(img.threads) }
end

--- The key of `img:add_layer(spec)`: the spec's options and the digests
-- of its inputs (`dir`, `lower`, `upper` trees; each entry's `source`).
function M.add_layer_key(img, spec)
  local args, inputs = { layer = M.layer_args(img) }, {}
  for k, v in pairs(spec) do
    if k ~= "dir" and k ~= "lower" and k ~= "upper" and k ~= "entries" and k ~= "output" and k ~= "tar"
      and k ~= "threads" then
      args[k] = v
    end
  end
  if spec.threads ~= nil then args.layer.parallel = parallel(spec.threads) end
  if type(spec.tar) == "string" then -- a tar file (ocispec.mutate): its content, not its path
    local d, msg, err = core.digest.file(spec.tar)
    if not d then return nil, msg, err end
    inputs.tar = d
  end
  for _, k in ipairs({ "dir", "lower", "upper" }) do
    if type(spec[k]) == "string" then
      local d, msg, err = M.tree_digest(spec[k])
      if not d then return nil, msg, err end
      inputs[k] = d
    end
  end
  if type(spec.entries) == "table" then
    local list = {}
    for i, e in ipairs(spec.entries) do
      local x = {}
      if type(e) == "table" then
        for k, v in pairs(e) do x[k] = v end
        if type(e.source) == "string" then
          local d, msg, err = core.digest.file(e.source)
          if not d then return nil, msg, err end
          x.source = d
        end
      end
      list[i] = x
    end
    inputs.entries = list
  end
  return M.key(img, "add_layer", args, inputs)
end

-- The layout of records (and whether blobs must be copied).
local function store_of(img)
  if img.cache_dir then
    if not img.cache_layout then
      local L, msg, err = require("ocispec.layout").create(img.cache_dir)
      if not L then return nil, msg, err end
      img.cache_layout = L
    end
    return img.cache_layout, true
  end
  return img.layout, false
end

-- The index of records in layout L (a table), or an empty one.
local function records(L)
  local empty = { schemaVersion = 2, mediaType = image.MediaType.ImageIndex, manifests = {} }
  local idx = L:index()
  if not idx then return empty end
  for _, d in ipairs(idx:to_table().manifests or {}) do
    if d.annotations and d.annotations[image.ANNOTATION_REF_NAME] == M.TAG then
      local doc = L:get_document(d.digest, image.ImageIndex)
      if not doc then return empty end
      local t = doc:to_table()
      t.manifests = t.manifests or {}
      return t
    end
  end
  return empty
end

--- The cached result of `key`, or nil: `{layer=<descriptor table>,
-- diff_id=, created_by=, comment=}` with the layer's blob in img's layout.
function M.lookup(img, key)
  local L, copy = store_of(img)
  if not L then return nil end
  for _, m in ipairs(records(L).manifests) do
    if m.annotations and m.annotations[KEY] == key then
      local man = L:get_document(m.digest, image.ImageManifest)
      if not man then return nil end
      local t = man:to_table()
      local layer = t.layers and t.layers[1]
      if not layer then return nil end
      if copy and not img.layout:has_blob(layer.digest) then
        local ok = img.layout:put_blob_file(L:blob_path(layer.digest), layer.mediaType)
        if not ok then return nil end
      end
      if not img.layout:has_blob(layer.digest) then return nil end
      local a = t.annotations or {}
      return { layer = layer, diff_id = a[DIFF_ID], created_by = a[CREATED_BY], comment = a[COMMENT] }
    end
  end
  return nil
end

--- Store the result of `key`: the last layer of img (after the step).
-- Returns true, or nil, message, err.
function M.store(img, key)
  local L, copy = store_of(img)
  if not L then return nil, "build cache: no store" end
  local layer = img.layers[#img.layers]
  local diff_id = img.cfg.rootfs.diff_ids[#img.cfg.rootfs.diff_ids]
  local h = img.cfg.history[#img.cfg.history] or {}
  if copy and not L:has_blob(layer.digest) then
    local ok, msg, err = L:put_blob_file(img.layout:blob_path(layer.digest), layer.mediaType)
    if not ok then return nil, msg, err end
  end
  local empty, msg, err = L:put_blob(image.EMPTY_JSON.data, image.MediaType.EmptyJSON)
  if not empty then return nil, msg, err end
  local man
  man, msg, err = image.ImageManifest.from_table({
    schemaVersion = 2, mediaType = image.MediaType.ImageManifest, artifactType = ARTIFACT_TYPE,
    config = empty:to_table(), layers = { layer },
    annotations = { [KEY] = key, [DIFF_ID] = diff_id, [CREATED_BY] = h.created_by, [COMMENT] = h.comment },
  })
  if not man then return nil, msg, err end
  local desc
  desc, msg, err = L:put_document(man)
  if not desc then return nil, msg, err end
  local idx = records(L)
  local list = {}
  for _, m in ipairs(idx.manifests) do
    if not (m.annotations and m.annotations[KEY] == key) then list[#list + 1] = m end
  end
  local d = desc:to_table()
  d.annotations = { [KEY] = key }
  list[#list + 1] = d
  idx.manifests = list
  local obj
  obj, msg, err = image.ImageIndex.from_table(idx)
  if not obj then return nil, msg, err end
  desc, msg, err = L:put_document(obj)
  if not desc then return nil, msg, err end
  return L:tag(desc, M.TAG)
end

local now = core.run.now

--- Run a layer step with the cache: `key_fn()` gives the step's key (or
-- nil, message, err), `run_fn()` does the step (adds one layer; returns
-- img or nil, message, err). On a hit the cached layer is added instead.
function M.step(img, kind, description, key_fn, run_fn)
  if img.cache == false then return run_fn() end
  local key, msg, err = key_fn()
  if not key then return nil, msg, err end
  local t0 = now()
  local no_cache = img.no_cache
  if no_cache == nil then no_cache = M.defaults.no_cache end
  local on_step = img.on_step or M.defaults.on_step
  if not no_cache then
    local hit = M.lookup(img, key)
    if hit then
      img:add_layer_descriptor(hit.layer, hit.diff_id, { created_by = hit.created_by, comment = hit.comment })
      if on_step then
        on_step({ kind = kind, description = description, cached = true, seconds = 0, key = key })
      end
      return img
    end
  end
  local ok
  ok, msg, err = run_fn()
  if not ok then return nil, msg, err end
  local stored
  stored, msg, err = M.store(img, key)
  if not stored then return util.fail(err or "io", "build cache: " .. tostring(msg)) end
  if on_step then
    on_step({ kind = kind, description = description, cached = false, seconds = now() - t0, key = key })
  end
  return img
end

return M
