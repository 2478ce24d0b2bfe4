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

-- the cache's values, declared once in values.def (image.BuildCache)
local V = core.values.enums.image.BuildCache
--- The tag of the records' index in a layout.
M.TAG = V.Tag
--- The artifactType of the artifact `export` pushes (and `cache_from`
-- reads); its config, of media type `MAP_TYPE`, is the JSON map key ->
-- result, its layers the cached layers.
M.ARTIFACT_TYPE = V.ArtifactType
M.MAP_TYPE = V.MapType
--- Largest map `cache_from` reads (16 MiB).
M.MAP_MAX = 16 * 1024 * 1024

--- Defaults for images whose own option is nil: `no_cache`, `on_step`,
-- `cache_from`, `cache_registry` (the CLI's `ocispec build` sets them),
-- and `session` (a list: every image whose steps used the cache is
-- appended once; `ocispec build --cache-to` exports them).
M.defaults = {}
-- a local record: its artifactType and annotations
local RECORD_TYPE = V.RecordType
local KEY = V.KeyAnnotation
local DIFF_ID = V.DiffIdAnnotation
local CREATED_BY = V.CreatedByAnnotation
local COMMENT = V.CommentAnnotation
local USED = V.UsedAnnotation

--- The clock of the records' `used` times (seconds since the epoch):
-- `os.time`; a test may replace it.
M.clock = os.time
--- A hit refreshes its record's `used` time only when it is older than
-- this many seconds (3600), so a warm build does not rewrite the records'
-- index at every step: `prune` orders records by the hour.
M.TOUCH_INTERVAL = 3600

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
-- same bytes for every count >= 1, and for "auto" and nil, the default);
-- nil for 0, the single-threaded format. A key recorded before the default
-- became "auto" (2026-12-05) has no `parallel` for the default: it is the
-- key of threads = 0 now, whose bytes those are.
local function parallel(threads)
  if threads == 0 then return nil end
  return true
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

-- Writes idx (a table) as the records' index of L, tagged TAG (untagged
-- when it lists nothing). true, or nil, message, err.
local function put_records(L, idx)
  if #idx.manifests == 0 then return L:untag(M.TAG) end
  local obj, msg, err = image.ImageIndex.from_table(idx)
  if not obj then return nil, msg, err end
  local desc
  desc, msg, err = L:put_document(obj)
  if not desc then return nil, msg, err end
  return L:tag(desc, M.TAG)
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
    schemaVersion = 2, mediaType = image.MediaType.ImageManifest, artifactType = RECORD_TYPE,
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
  d.annotations = { [KEY] = key, [USED] = ("%d"):format(M.clock()) }
  list[#list + 1] = d
  idx.manifests = list
  return put_records(L, idx)
end

-- A hit on `key`: its record's `used` time becomes now, when it is older
-- than TOUCH_INTERVAL. true, or nil, message, err.
local function touch(img, key)
  local L = store_of(img)
  if not L then return true end
  local idx, now = records(L), M.clock()
  for _, m in ipairs(idx.manifests) do
    local a = m.annotations
    if a and a[KEY] == key then
      local used = tonumber(a[USED] or "")
      if used and now - used < M.TOUCH_INTERVAL then return true end
      a[USED] = ("%d"):format(now)
      return put_records(L, idx)
    end
  end
  return true
end

local prune_layout

--- Drops records of the build cache in a layout, least recently used
-- first, then the blobs only they kept (`L:gc()`). `opts`: `layout` (a
-- Layout or its path: the image's layout, or a `cache_dir`), `keep_days`
-- (records not stored or hit for longer go), `max_bytes` (the records
-- kept, most recently used first, hold at most this many bytes: their
-- distinct layers and manifests), at least one of these two; `now`
-- (seconds since the epoch; default `clock()`). Records without a `used`
-- time (written before it existed) count as never used. Returns
-- `{removed = {{key=, created_by=, used=, size=}, ...} (least recently
-- used first), kept = n,
-- kept_bytes = n, blobs = {digest, ...}}` (blobs: what gc removed), or
-- nil, message, err.
function M.prune(opts)
  if type(opts) ~= "table" then error("prune_cache: an options table expected", 2) end
  util.check_options(opts, { "layout", "keep_days", "max_bytes", "now" }, "prune_cache", 3)
  local kd, mb, now = opts.keep_days, opts.max_bytes, opts.now
  if kd ~= nil and (type(kd) ~= "number" or kd < 0 or kd ~= kd) then
    error("prune_cache: keep_days must be a number >= 0", 2)
  end
  if mb ~= nil and (math.type(mb) ~= "integer" or mb < 0) then
    error("prune_cache: max_bytes must be an integer >= 0", 2)
  end
  if kd == nil and mb == nil then error("prune_cache: keep_days or max_bytes expected", 2) end
  if now ~= nil and type(now) ~= "number" then error("prune_cache: now must be a number", 2) end
  now = now or M.clock()
  local L = opts.layout
  if type(L) == "string" then
    local msg, err
    L, msg, err = require("ocispec.layout").open(L)
    if not L then return nil, msg, err end
    local r, m, e = prune_layout(L, kd, mb, now)
    L:close()
    return r, m, e
  elseif type(L) ~= "userdata" or type(L.index) ~= "function" then
    error("prune_cache: layout must be a Layout or a path", 2)
  end
  return prune_layout(L, kd, mb, now)
end

-- M.prune in the open layout L.
prune_layout = function(L, kd, mb, now)
  local msg, err
  local idx = records(L)
  -- each record: its manifest read for its layer; unreadable ones go
  local recs = {}
  for i, m in ipairs(idx.manifests) do
    local a = m.annotations or {}
    local r = { desc = m, pos = i, key = a[KEY], used = tonumber(a[USED] or "") or 0, size = m.size or 0 }
    local man = L:get_document(m.digest, image.ImageManifest)
    local t = man and man:to_table()
    if t and t.layers and t.layers[1] then
      r.layer = t.layers[1]
      r.created_by = (t.annotations or {})[CREATED_BY]
    else
      r.broken = true
    end
    recs[#recs + 1] = r
  end
  -- most recently used first (ties: the later record)
  table.sort(recs, function(a, b)
    if a.used ~= b.used then return a.used > b.used end
    return a.pos > b.pos
  end)
  local kept, removed, seen, bytes = {}, {}, {}, 0
  for _, r in ipairs(recs) do
    local keep = not r.broken and (kd == nil or now - r.used <= kd * 86400)
    if keep and mb ~= nil then
      local add = r.size + (seen[r.layer.digest] and 0 or (r.layer.size or 0))
      if bytes + add > mb then
        keep = false
      else
        bytes = bytes + add
        seen[r.layer.digest] = true
      end
    end
    if keep then
      kept[#kept + 1] = r
    else
      removed[#removed + 1] = { key = r.key, created_by = r.created_by, used = r.used,
        size = r.size + (r.layer and r.layer.size or 0) }
    end
  end
  -- least recently used first
  for i = 1, #removed // 2 do removed[i], removed[#removed + 1 - i] = removed[#removed + 1 - i], removed[i] end
  local result = { removed = removed, kept = #kept, kept_bytes = bytes, blobs = {} }
  if #removed == 0 then return result end
  table.sort(kept, function(a, b) return a.pos < b.pos end) -- the index's order stays
  local list = {}
  for i, r in ipairs(kept) do list[i] = r.desc end
  idx.manifests = list
  local ok
  ok, msg, err = put_records(L, idx)
  if not ok then return nil, msg, err end
  local gone
  gone, msg, err = L:gc()
  if not gone then return nil, msg, err end
  result.blobs = gone
  return result
end

-- ------------------------------------------------ sharing through a registry

-- What an image (or the CLI's default) says for option `name`.
local function opt(img, name)
  local v = img[name]
  if v == nil then v = M.defaults[name] end
  return v
end

-- Records what step `key` left as img's last layer, for `export`; with a
-- session (the CLI's --cache-to), the image joins it once.
local function remember(img, key)
  local ids, hist = img.cfg.rootfs.diff_ids, img.cfg.history
  local h = hist[#hist] or {}
  img.cache_records = img.cache_records or {}
  img.cache_records[#img.cache_records + 1] = { key = key, layer = img.layers[#img.layers],
    diff_id = ids[#ids], created_by = h.created_by, comment = h.comment }
  local s = M.defaults.session
  if s then
    for _, x in ipairs(s) do
      if x == img then return end
    end
    s[#s + 1] = img
  end
end

-- A value from the registry shown in a note: at most 100 bytes, control
-- characters replaced.
local function shown(v)
  return (tostring(v):sub(1, 100):gsub("[%z\1-\31\127]", "?"))
end

local function is_digest(s)
  return type(s) == "string" and s:match("^sha256:%x+$") ~= nil and #s == 71
end

-- The artifact at `ref` (a manifest of artifactType ARTIFACT_TYPE whose
-- config is the map), read once per image: {client=, repo=, records=,
-- layers= (digest -> descriptor table)} or {error=}. Everything in it
-- came from the registry: each entry is checked where it is used.
local function remote(img, ref)
  img.cache_remote = img.cache_remote or {}
  local st = img.cache_remote[ref]
  if st then return st end
  st = {}
  img.cache_remote[ref] = st
  local registry = require "ocispec.registry"
  local r, msg = registry.parse_reference(ref)
  if not r then
    st.error = msg
    return st
  end
  local c
  c, msg = registry.connect(r.host, opt(img, "cache_registry"))
  if not c then
    st.error = msg
    return st
  end
  st.client, st.repo = c, r.repository
  local man
  man, msg = c:get_manifest(r.repository, r.reference)
  if not man then
    st.error = msg
    return st
  end
  local t = man:to_table()
  if t.artifactType ~= M.ARTIFACT_TYPE or type(t.config) ~= "table" or t.config.mediaType ~= M.MAP_TYPE then
    st.error = ("not a build cache (artifactType %s, config %s; expected %s, %s)"):format(
      shown(t.artifactType), shown(t.config and t.config.mediaType), M.ARTIFACT_TYPE, M.MAP_TYPE)
    return st
  end
  local bytes
  bytes, msg = c:get_blob(r.repository, t.config.digest, M.MAP_MAX) -- digest-verified
  if not bytes then
    st.error = "map " .. t.config.digest .. ": " .. tostring(msg)
    return st
  end
  local map
  map, msg = core.json_decode(bytes)
  if type(map) ~= "table" or type(map.records) ~= "table" then
    st.error = "map " .. t.config.digest .. ": " .. (msg or "no \"records\" object")
    return st
  end
  st.records, st.layers = map.records, {}
  for _, l in ipairs(t.layers or {}) do
    if is_digest(l.digest) then
      -- only what a layer descriptor needs: urls or annotations of a
      -- stranger's artifact never reach the image
      st.layers[l.digest] = { mediaType = l.mediaType, digest = l.digest, size = l.size }
    end
  end
  return st
end

-- The result of entry `e` of a remote map, its layer fetched into img's
-- layout (digest and size verified) and its diff_id checked against the
-- layer's content; or nil and why it cannot be used.
local function fetch(img, st, e)
  if type(e) ~= "table" then return nil, "the entry is not an object" end
  local desc = is_digest(e.layer) and st.layers[e.layer]
  if not desc then
    return nil, ("layer %s is not among the artifact's layers"):format(shown(e.layer))
  end
  if not image.MediaType.is_layer(desc.mediaType) then
    return nil, ("layer %s: %s is not a layer media type"):format(desc.digest, shown(desc.mediaType))
  end
  if not is_digest(e.diff_id) then return nil, ("layer %s: no valid diff_id"):format(desc.digest) end
  for _, k in ipairs({ "created_by", "comment" }) do
    if e[k] ~= nil and type(e[k]) ~= "string" then
      return nil, ("layer %s: %s is not a string"):format(desc.digest, k)
    end
  end
  local d, msg = image.Descriptor.from_table(desc)
  if not d then return nil, ("layer %s: %s"):format(desc.digest, msg) end
  local ok
  ok, msg = st.client:get_blob_to_layout(st.repo, d, img.layout)
  if not ok then return nil, ("layer %s: %s"):format(desc.digest, msg) end
  local r -- hashed as it is decompressed, nothing written
  r, msg = core.layer.decompress(img.layout:blob_path(desc.digest), nil)
  if not r then return nil, ("layer %s: %s"):format(desc.digest, msg) end
  if r.diff_id ~= e.diff_id then
    return nil, ("layer %s: its diff_id is %s, the cache says %s"):format(desc.digest, r.diff_id, e.diff_id)
  end
  return { layer = desc, diff_id = e.diff_id, created_by = e.created_by, comment = e.comment }
end

--- The result of `key` from the image's `cache_from` references, in
-- order, or nil and a note saying why an entry or a reference could not
-- be used (nil when none had the key). A hit's layer is in img's layout.
function M.lookup_remote(img, key)
  local refs = opt(img, "cache_from")
  if refs == nil then return nil end
  if type(refs) == "string" then refs = { refs } end
  local notes = {}
  for _, ref in ipairs(refs) do
    local st = remote(img, ref)
    if st.error then
      if not st.reported then -- once per image, not at every step
        st.reported = true
        notes[#notes + 1] = ("cache_from %s: %s"):format(ref, st.error)
      end
    elseif st.records[key] ~= nil then
      local hit, why = fetch(img, st, st.records[key])
      if hit then
        hit.remote = ref
        return hit
      end
      notes[#notes + 1] = ("cache_from %s: entry %s: %s"):format(ref, key:sub(8, 19), why)
    end
  end
  return nil, notes[1] and table.concat(notes, "; ") or nil
end

--- Closes the registry connections `cache_from` opened for img (they
-- open again when needed).
function M.close(img)
  for _, st in pairs(img.cache_remote or {}) do
    if st.client then st.client:close() end
  end
  img.cache_remote = nil
end

-- The records of images (and of the images they copied from), each key
-- once, with the layout holding its layer.
local function collect(images)
  local list, seen, visited = {}, {}, {}
  local function visit(img)
    if visited[img] then return end
    visited[img] = true
    for _, p in ipairs(img.cache_parents or {}) do visit(p) end
    for _, rec in ipairs(img.cache_records or {}) do
      if not seen[rec.key] then
        seen[rec.key] = true
        list[#list + 1] = { rec = rec, layout = img.layout }
      end
    end
  end
  for _, img in ipairs(images) do visit(img) end
  return list
end

--- Pushes the build cache of `images` (an Image or a list of them: the
-- results of their cached steps, and of the images they copied from) to
-- `ref` ("host/repo:tag") as one artifact: an image manifest of
-- artifactType `ARTIFACT_TYPE` whose config (`MAP_TYPE`) is the JSON map
-- `{"records": {key: {"layer": digest, "diff_id": ..., "created_by": ...,
-- "comment": ...}}}` and whose layers are the cached layers. Blobs the
-- registry has are skipped; the others move `jobs` at once. `opts`:
-- connection options (`ocispec.registry.connect`). Returns the pushed
-- descriptor and the client's stats, or nil, message, err.
function M.export(ref, images, opts)
  if type(ref) ~= "string" then error("export: ref: string expected, got " .. type(ref), 2) end
  if type(images) ~= "table" then error("export: an Image or a list of Images expected", 2) end
  if getmetatable(images) ~= nil or images.layout then images = { images } end
  if opts ~= nil and type(opts) ~= "table" then error("export: options must be a table", 2) end
  local registry = require "ocispec.registry"
  local r, msg, err = registry.parse_reference(ref)
  if not r then return nil, msg, err end
  if r.digest then return util.fail("invalid", ("cache_to %s: a tag is needed, not a digest"):format(ref)) end
  local list = collect(images)
  if #list == 0 then return util.fail("invalid", ("cache_to %s: no cached step to export"):format(ref)) end
  local L = images[1].layout
  local map_records, layers, have = {}, {}, {}
  for _, x in ipairs(list) do
    local rec = x.rec
    local l = rec.layer
    if not have[l.digest] then
      have[l.digest] = true
      if x.layout ~= L and not L:has_blob(l.digest) then
        local ok
        ok, msg, err = L:put_blob_file(x.layout:blob_path(l.digest), l.mediaType)
        if not ok then return nil, msg, err end
      end
      layers[#layers + 1] = { mediaType = l.mediaType, digest = l.digest, size = l.size }
    end
    map_records[rec.key] = { layer = l.digest, diff_id = rec.diff_id, created_by = rec.created_by,
      comment = rec.comment }
  end
  local map
  map, msg, err = L:put_blob(core.json_encode({ records = map_records }), M.MAP_TYPE)
  if not map then return nil, msg, err end
  local man
  man, msg, err = image.ImageManifest.from_table({ schemaVersion = 2, mediaType = image.MediaType.ImageManifest,
    artifactType = M.ARTIFACT_TYPE, config = map:to_table(), layers = layers })
  if not man then return nil, msg, err end
  local desc
  desc, msg, err = L:put_document(man)
  if not desc then return nil, msg, err end
  local c
  c, msg, err = registry.connect(r.host, opts)
  if not c then return nil, msg, err end
  local d
  d, msg, err = c:push(L, desc:digest(), r.repository, r.tag or "latest")
  local stats = d and c:stats()
  c:close()
  if not d then return nil, ("cache_to %s: %s"):format(ref, msg), err end
  return d, stats
end

local now = core.run.now

--- Run a layer step with the cache: `key_fn()` gives the step's key (or
-- nil, message, err), `run_fn()` does the step (adds one layer; returns
-- img or nil, message, err). On a hit (the layout's records, else
-- `cache_from`) the cached layer is added instead. `on_step` gets
-- `remote` (the cache_from reference of a hit) and `note` (why a
-- cache_from entry was not used).
function M.step(img, kind, description, key_fn, run_fn)
  if img.cache == false then return run_fn() end
  local key, msg, err = key_fn()
  if not key then return nil, msg, err end
  local t0 = now()
  local no_cache = opt(img, "no_cache")
  local on_step = opt(img, "on_step")
  local note
  if not no_cache then
    local hit = M.lookup(img, key)
    if not hit then hit, note = M.lookup_remote(img, key) end
    if hit then
      img:add_layer_descriptor(hit.layer, hit.diff_id, { created_by = hit.created_by, comment = hit.comment })
      local stored
      if hit.remote then -- recorded here too: the next build needs no registry
        stored, msg, err = M.store(img, key)
      else -- recently used: prune keeps it longer
        stored, msg, err = touch(img, key)
      end
      if not stored then return util.fail(err or "io", "build cache: " .. tostring(msg)) end
      remember(img, key)
      if on_step then
        on_step({ kind = kind, description = description, cached = true, seconds = 0, key = key,
          remote = hit.remote, note = note })
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
  remember(img, key)
  if on_step then
    on_step({ kind = kind, description = description, cached = false, seconds = now() - t0, key = key,
      note = note })
  end
  return img
end

return M
