--- Editing images: the config edits `build.Image` lacks (removal of
-- every field, the platform, any Config member) and editing an image
-- index platform by platform (crane mutate, umoci config).
--
--    local img = assert(oci.build.Image.from(L, "latest"))
--    img:unset_env("DEBUG"):unset_label("maintainer"):unset_cmd()
--    img:set_platform("linux/arm64/v8")
--    assert(img:commit("edited"))
--
-- This module adds its methods to `ocispec.build`'s `Image` (and
-- `Index`) when `ocispec.build` loads; there is nothing to call on it
-- directly.
--
-- History: an edit that a Dockerfile instruction can make gets the
-- history entry Docker's builder writes for that instruction (`ENV K=V`,
-- `MAINTAINER x`, ... with `empty_layer = true`; build.Image's setters do
-- this). Removals and the platform have no Dockerfile instruction, and
-- Docker, BuildKit and buildah write no history entry for them (a
-- `buildah config --env K-` adds none either): neither does ocispec, so
-- the history stays one entry per instruction or layer.
-- @module ocispec.mutate
local util = require "ocispec.util"

local M = {}

-- A failure re-worded with more context: err's fields kept, `message` the
-- new message (the API's one error shape).
local function reword(err, message)
  return util.fail(type(err) == "table" and err or "invalid", message)
end

local function check_string(v, what, level)
  if type(v) ~= "string" then
    error(("%s: string expected, got %s"):format(what, type(v)), (level or 2) + 1)
  end
end

local function copy(t)
  if type(t) ~= "table" then return t end
  local c = {}
  for k, v in pairs(t) do c[k] = copy(v) end
  return setmetatable(c, getmetatable(t))
end

-- t[k] = nil, and t itself goes (nil) when that empties it.
local function drop_key(t, k)
  if type(t) ~= "table" then return nil end
  t[k] = nil
  return next(t) ~= nil and t or nil
end

-- The members of an image config's `config` object (image-spec
-- config.md, and the Docker members that images carry: Healthcheck,
-- Shell, OnBuild, ArgsEscaped are kept as they are written).
local CONFIG_FIELDS = {
  User = "string", ExposedPorts = "table", Env = "table", Entrypoint = "table", Cmd = "table",
  Volumes = "table", WorkingDir = "string", Labels = "table", StopSignal = "string",
  ArgsEscaped = "boolean", Memory = "number", MemorySwap = "number", CpuShares = "number",
  Healthcheck = "table", Shell = "table", OnBuild = "table",
}
M.CONFIG_FIELDS = CONFIG_FIELDS

local PLATFORM_KEYS = { "os", "architecture", "variant", "os.version", "os.features" }

--- A platform from "os/arch[/variant]" or a table `{os=, architecture=,
-- variant=, ["os.version"]=, ["os.features"]=}`; raises on misuse at
-- `level`.
function M.platform(p, level)
  level = (level or 2) + 1
  if type(p) == "string" then
    local os_, arch, variant = p:match("^([^/]+)/([^/]+)/?([^/]*)$")
    if not os_ then
      error(("platform: %q is not os/arch[/variant] (e.g. linux/arm64/v8)"):format(p), level)
    end
    return { os = os_, architecture = arch, variant = variant ~= "" and variant or nil }
  end
  if type(p) ~= "table" then error("platform: a string or table expected, got " .. type(p), level) end
  local t = {}
  for k, v in pairs(p) do
    local key = k == "os_version" and "os.version" or k == "os_features" and "os.features" or k
    local known = false
    for _, n in ipairs(PLATFORM_KEYS) do known = known or n == key end
    if not known then error(("platform: unknown member %q"):format(tostring(k)), level) end
    t[key] = copy(v)
  end
  if type(t.os) ~= "string" or type(t.architecture) ~= "string" then
    error("platform: os and architecture (strings) are required", level)
  end
  return t
end

-- -------------------------------------------------------- Image methods

local function install_image(Image)
  local function cfgc(self) return self.cfg.config end

  --- Remove every `Env` entry named `name` (no entry: no change).
  function Image:unset_env(name)
    check_string(name, "unset_env")
    local env = cfgc(self).Env
    if env then
      local kept = {}
      for _, e in ipairs(env) do
        if e:match("^([^=]*)") ~= name then kept[#kept + 1] = e end
      end
      cfgc(self).Env = #kept > 0 and kept or nil
    end
    return self
  end

  --- Remove a label (Config.Labels).
  function Image:unset_label(key)
    check_string(key, "unset_label")
    cfgc(self).Labels = drop_key(cfgc(self).Labels, key)
    return self
  end

  --- Remove an exposed port ("80/tcp"; "80" means "80/tcp" as in Docker).
  function Image:unset_exposed_port(port)
    check_string(port, "unset_exposed_port")
    local ports = cfgc(self).ExposedPorts
    ports = drop_key(ports, port)
    if not port:find("/", 1, true) then ports = drop_key(ports, port .. "/tcp") end
    cfgc(self).ExposedPorts = ports
    return self
  end

  --- Remove a volume ("/data").
  function Image:unset_volume(path)
    check_string(path, "unset_volume")
    cfgc(self).Volumes = drop_key(cfgc(self).Volumes, path)
    return self
  end

  --- `unset_cmd()`, `unset_entrypoint()`, `unset_user()`,
  -- `unset_working_dir()`, `unset_stop_signal()`: remove that member.
  local SINGLE = {
    unset_cmd = "Cmd", unset_entrypoint = "Entrypoint", unset_user = "User",
    unset_working_dir = "WorkingDir", unset_stop_signal = "StopSignal",
  }
  for name, field in pairs(SINGLE) do
    Image[name] = function(self)
      cfgc(self)[field] = nil
      return self
    end
  end

  --- Set or remove (`value` nil) any member of the config's `config`
  -- object by its JSON name (`"Healthcheck"`, `"Shell"`, `"ArgsEscaped"`,
  -- `"Env"`, ...); the value has that member's JSON shape. Unknown names
  -- raise; the whole configuration is checked again at commit.
  function Image:set_config(field, value)
    check_string(field, "set_config: field")
    local kind = CONFIG_FIELDS[field]
    if not kind then error(("set_config: unknown config member %q"):format(field), 2) end
    if value ~= nil and type(value) ~= kind then
      error(("set_config: %s: %s expected, got %s"):format(field, kind, type(value)), 2)
    end
    cfgc(self)[field] = copy(value)
    return self
  end

  --- Set the image's platform: "os/arch[/variant]" or a table with `os`,
  -- `architecture`, `variant`, `os.version`, `os.features`; members not
  -- given are removed. The manifest descriptor `commit` returns carries it.
  function Image:set_platform(p)
    local t = M.platform(p, 2)
    for _, k in ipairs(PLATFORM_KEYS) do self.cfg[k] = t[k] end
    return self
  end

  --- The platform as it stands (a table, os.version and os.features
  -- included when set).
  function Image:platform()
    local t = {}
    for _, k in ipairs(PLATFORM_KEYS) do t[k] = copy(self.cfg[k]) end
    return t
  end

  --- Set the config's `author`, with the history entry Docker writes for
  -- MAINTAINER; `nil` removes it (no history entry).
  function Image:author(name)
    if name == nil then
      self.cfg.author = nil
      return self
    end
    check_string(name, "author")
    self.cfg.author = name
    self:_history({ created_by = "MAINTAINER " .. name, empty_layer = true })
    return self
  end

  --- Remove a manifest annotation.
  function Image:unset_annotation(key)
    check_string(key, "unset_annotation")
    self.annotations = drop_key(self.annotations, key)
    return self
  end
end

-- -------------------------------------------------------- layers

-- "./a/b/" -> "a/b" (the listing's names; "" for the root).
local function entry_name(p)
  return (p:gsub("^%./", ""):gsub("^/+", ""):gsub("/+$", ""))
end

-- The verified bytes of blob `digest` of `layout` (read by the layout,
-- which never follows a link planted in blobs/, and checked against the
-- digest); nil, message, err.
local function blob_bytes(layout, d)
  return layout:get_blob(d.digest or d)
end

-- The entries of a layer blob of a layout: its verified bytes go to a
-- temporary file of the layout first (a path below blobs/ may be a planted
-- link, which the lister would follow).
local function blob_entries(layout, d)
  local bytes, msg, err = blob_bytes(layout, d)
  if not bytes then return nil, msg, err end
  local path = layout:temp_path()
  local f, ferr = io.open(path, "wb")
  if not f then return util.fail("io", tostring(ferr)) end
  local ok, werr = f:write(bytes)
  f:close()
  if not ok then
    os.remove(path)
    return util.fail("io", tostring(werr))
  end
  local list
  list, msg, err = require("ocispec.layer").entries(path)
  os.remove(path)
  return list, msg, err
end
M.blob_bytes = blob_bytes

-- Copies a stream (a file handle, or a function giving chunks, nil at the
-- end) to a new temporary file of the layout; its path, or nil, message, err.
local function spool(layout, src)
  local path = layout:temp_path()
  local f, ferr = io.open(path, "wb")
  if not f then return util.fail("io", "tar stream: " .. tostring(ferr)) end
  local read = type(src) == "function" and src or function() return src:read(65536) end
  while true do
    local ok, chunk = pcall(read)
    if not ok then
      f:close()
      os.remove(path)
      return util.fail("io", "tar stream: " .. tostring(chunk))
    end
    if chunk == nil then break end
    if type(chunk) ~= "string" then
      f:close()
      os.remove(path)
      return util.fail("invalid", "tar stream: a string chunk expected, got " .. type(chunk))
    end
    local w, werr = f:write(chunk)
    if not w then
      f:close()
      os.remove(path)
      return util.fail("io", "tar stream: " .. tostring(werr))
    end
  end
  f:close()
  return path
end

-- The entries (ocispec.layer's `entries` list) of the tar `path` (plain,
-- gzip or zstd), with file contents read from `root`, where the safe
-- unpacker applied it. Whiteout entries are kept as they are (the
-- unpacker applies them to nothing below an empty root). A file below one
-- of the tar's own symbolic links is refused: its content would be read
-- through the link.
local function tar_to_entries(path, root)
  local layer = require "ocispec.layer"
  local listing, msg, err = layer.entries(path)
  if not listing then return nil, msg, err end
  local links, entries = {}, {}
  for _, e in ipairs(listing) do
    if e.type == "symlink" then links[entry_name(e.path)] = true end
  end
  for _, e in ipairs(listing) do
    local name = entry_name(e.path)
    if name ~= "" then
      local parent = name
      while true do
        parent = parent:match("^(.*)/[^/]*$")
        if not parent then break end
        if links[parent] then
          return util.fail("unsupported", ("tar entry %q is below the symbolic link %q of the same tar: "
            .. "not taken (its content would be read through the link)"):format(name, parent))
        end
      end
      local base = name:match("([^/]*)$")
      local t = { path = name, type = e.type, mode = e.mode, uid = e.uid, gid = e.gid, mtime = e.mtime }
      if e.type == "file" then
        if base:sub(1, 4) == ".wh." then
          t.content = ""
        else
          t.source = root .. "/" .. name
        end
      elseif e.type == "symlink" then
        t.target = e.target
      elseif e.type == "hardlink" then
        t.target = entry_name(e.target)
      elseif e.type == "char" or e.type == "block" then
        t.major, t.minor = e.major, e.minor
      end
      entries[#entries + 1] = t
    end
  end
  return entries
end

-- Builds the layer of a tar (file or stream) into the image: through the
-- safe unpacker into a temporary directory (every name checked, nothing
-- outside it), then rebuilt reproducibly from the tar's own listing.
local function add_tar_layer(self, spec)
  local src = spec.tar
  local layout = self.layout
  local path, spooled = src, nil
  if type(src) ~= "string" then
    if io.type(src) ~= "file" and type(src) ~= "function" then
      error("add_layer: tar must be a path, a file handle or a function, got " .. type(src), 2)
    end
    local msg, err
    path, msg, err = spool(layout, src)
    if not path then return nil, msg, err end
    spooled = path
  end
  local unpack = require "ocispec.unpack"
  local tmpdir = (os.getenv("TMPDIR") or "/tmp") .. "/ocispec-tar-XXXXXX"
  local root, msg, err = unpack.mkdtemp(tmpdir)
  local function cleanup()
    if root then unpack.remove_tree(root) end
    if spooled then os.remove(spooled) end
  end
  if not root then
    cleanup()
    return nil, msg, err
  end
  local ok
  ok, msg, err = unpack.layer(path, root, { rootless = true })
  if not ok then
    cleanup()
    return reword(err, ("add_layer: tar %s: %s"):format(type(src) == "string" and src or "stream", msg))
  end
  local entries
  entries, msg, err = tar_to_entries(path, root)
  if not entries then
    cleanup()
    return nil, msg, err
  end
  local s = {}
  for k, v in pairs(spec) do s[k] = v end
  s.tar, s.entries = nil, entries
  local r
  r, msg, err = self:_add_layer(s) -- the caller's step (cached or not) is this one
  cleanup()
  return r, msg, err
end
M.add_tar_layer = add_tar_layer

-- The index in cfg.history of the history entry of layer n (the n-th entry
-- without empty_layer); nil when the image has no history; nil, message
-- when the history does not match the layers.
local function history_index(self, n)
  local h = self.cfg.history
  if #h == 0 then return nil end
  local count, at = 0, nil
  for i, e in ipairs(h) do
    if not e.empty_layer then
      count = count + 1
      if count == n then at = i end
    end
  end
  if count ~= #self.layers then
    return nil, ("the history has %d entries for layers, the image %d layers"):format(count, #self.layers)
  end
  return at
end

local function check_layer_index(self, n, what)
  if math.type(n) ~= "integer" then error(what .. ": a layer number expected, got " .. type(n), 3) end
  if n < 1 or n > #self.layers then
    return util.fail("invalid", ("%s: no layer %d (the image has %d)"):format(what, n, #self.layers))
  end
  return true
end

local function install_layers(Image)
  --- Remove layer `n` (1 is the base's first): its descriptor, its
  -- diff_id and its history entry (the n-th one without `empty_layer`).
  -- Returns self, or nil, message, err (no such layer; a history that does
  -- not match the layers).
  function Image:remove_layer(n)
    local ok, msg, err = check_layer_index(self, n, "remove_layer")
    if not ok then return nil, msg, err end
    local h
    h, msg = history_index(self, n)
    if msg then return util.fail("invalid", "remove_layer: " .. msg) end
    table.remove(self.layers, n)
    table.remove(self.cfg.rootfs.diff_ids, n)
    if h then table.remove(self.cfg.history, h) end
    return self
  end

  --- Replace layer `n` by a layer built from `spec` (as `add_layer`: `dir`,
  -- `entries`, `lower` + `upper` or `tar`; `created_by`, `comment`), in
  -- its place; its history entry is replaced too. Returns self, or nil,
  -- message, err (the image unchanged).
  function Image:replace_layer(n, spec)
    local ok, msg, err = check_layer_index(self, n, "replace_layer")
    if not ok then return nil, msg, err end
    local h
    h, msg = history_index(self, n)
    if msg then return util.fail("invalid", "replace_layer: " .. msg) end
    ok, msg, err = self:add_layer(spec)
    if not ok then return nil, msg, err end
    self.layers[n] = table.remove(self.layers)
    local ids = self.cfg.rootfs.diff_ids
    ids[n] = table.remove(ids)
    local entry = table.remove(self.cfg.history)
    if h then self.cfg.history[h] = entry end
    return self
  end
end

-- -------------------------------------------------------- flatten

local function install_flatten(Image)
  --- Flatten layers `from` to `to` (default: all of them) into one layer,
  -- in their place: they are applied in order through the safe unpacker
  -- (whiteouts resolved, each blob checked against its digest, size and
  -- diff_id first) into a temporary directory, and one reproducible layer
  -- is built from it (timestamps clamped to the newest entry of the
  -- flattened layers, so two flattens of one image give one digest).
  -- A range above the first layer keeps, as whiteouts, the deletions it
  -- makes of lower files (see `flatten_range`). History: the history
  -- entries of the flattened layers give way to one entry (`created_by`,
  -- `comment` of opts; default `created_by` "ocispec flatten"); their
  -- `empty_layer` steps stay. opts: `from`, `to`, `created_by`,
  -- `comment`. Returns self, or nil, message, err (the image unchanged).
  function Image:flatten(opts)
    util.check_options(opts, { "from", "to", "created_by", "comment" }, "Image:flatten")
    opts = opts or {}
    local from, to = opts.from or 1, opts.to or #self.layers
    if math.type(from) ~= "integer" or math.type(to) ~= "integer" then
      error("flatten: from and to must be integers", 2)
    end
    if #self.layers == 0 then return util.fail("invalid", "flatten: the image has no layers") end
    if from < 1 or to > #self.layers or from > to then
      return util.fail("invalid", ("flatten: no layers %d to %d (the image has %d)"):format(from, to, #self.layers))
    end
    -- the history entries of the layers, checked before any work
    local hidx = {}
    for n = from, to do
      local h, msg = history_index(self, n)
      if msg then return util.fail("invalid", "flatten: " .. msg) end
      hidx[#hidx + 1] = h
    end
    local unpack = require "ocispec.unpack"
    local root, msg, err = unpack.mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/ocispec-flatten-XXXXXX")
    if not root then return reword(err, "flatten: " .. msg) end
    local ids = self.cfg.rootfs.diff_ids
    local newest, spec = 0, nil
    local ok = true
    for i = 1, to do
      local d = self.layers[i]
      if i >= from then
        local list
        list, msg, err = blob_entries(self.layout, d)
        if not list then ok = false break end
        for _, e in ipairs(list) do
          if e.mtime > newest then newest = e.mtime end
        end
      end
      -- the layers below the range too: their files are what the range's
      -- hard links and whiteouts refer to (flatten_range takes them out)
      if i >= from or from > 1 then
        ok, msg, err = unpack.layout_layer(self.layout, d.digest, root,
          { digest = d.digest, size = d.size, diff_id = ids[i], one_pass = true }) -- root goes on failure
        if not ok then break end
      end
    end
    if ok and from > 1 then
      spec, msg, err = M.flatten_range(self, from, to, root)
      ok = spec ~= nil
    elseif ok then
      spec = { dir = root }
    end
    if not ok then
      unpack.remove_tree(root)
      return reword(err, "flatten: " .. tostring(msg))
    end
    spec.mtime = newest
    spec.created_by = opts.created_by or "ocispec flatten"
    spec.comment = opts.comment
    local n_layers, n_hist = #self.layers, #self.cfg.history
    ok, msg, err = self:add_layer(spec)
    unpack.remove_tree(root)
    if not ok then return reword(err, "flatten: " .. msg) end
    local merged_layer, merged_id = self.layers[n_layers + 1], ids[n_layers + 1]
    local merged_hist = self.cfg.history[n_hist + 1]
    self.layers[n_layers + 1], ids[n_layers + 1], self.cfg.history[n_hist + 1] = nil, nil, nil
    for _ = from, to do
      table.remove(self.layers, from)
      table.remove(ids, from)
    end
    table.insert(self.layers, from, merged_layer)
    table.insert(ids, from, merged_id)
    if #hidx > 0 then
      -- the last flattened layer's entry becomes the merged one; the others go
      self.cfg.history[hidx[#hidx]] = merged_hist
      for k = #hidx - 1, 1, -1 do table.remove(self.cfg.history, hidx[k]) end
    end
    return self
  end
end

-- -------------------------------------------------------- rebase

-- A base image: a ref of img's layout, or {layout=, ref=}; resolved for
-- img's platform. -> {layout=, ref=, descriptor=, layers={tables},
-- diff_ids={...}, history={...}, config=table} or nil, message, err.
local function open_base(self, base, what, level, opened)
  local layout, ref = self.layout, base
  if type(base) == "table" then layout, ref = base.layout, base.ref end
  if type(base) == "string" and M.has_transport(base) then
    -- a transport reference: opened for the image's platform
    local p = { os = self.cfg.os, architecture = self.cfg.architecture, variant = self.cfg.variant }
    local src, msg, err = require("ocispec.transport").open(base, { platform = p })
    if not src then return reword(err, ("%s %s: %s"):format(what, base, msg)) end
    opened[#opened + 1] = src
    layout, ref = src:layout(), src:descriptor():digest()
  end
  if type(ref) ~= "string" or (type(layout) ~= "table" and type(layout) ~= "userdata") then
    error(what .. ": a ref of the image's layout or {layout=, ref=} expected", level + 1)
  end
  local p = { os = self.cfg.os, architecture = self.cfg.architecture, variant = self.cfg.variant }
  local r, msg, err = layout:resolve(ref, { platform = p })
  if not r then return reword(err, ("%s %s: %s"):format(what, ref, msg)) end
  if not r.config then
    return util.fail("invalid", ("%s %s is an artifact, not an image"):format(what, ref))
  end
  local c = r.config:to_table()
  local t = { layout = layout, ref = type(base) == "string" and base or ref, descriptor = r.descriptor, layers = {},
    config = c,
    diff_ids = c.rootfs and c.rootfs.diff_ids or {}, history = c.history or {} }
  for i, d in ipairs(r.layers) do t.layers[i] = d:to_table() end
  return t
end

-- Copies the blob of descriptor table d from layout `from` into `to`
-- (nothing when it is there); checks the digest of what arrived.
local function copy_blob(from, to, d)
  if from == to or to:has_blob(d.digest) then return true end
  -- the verified bytes (a link planted in blobs/ is not followed)
  local bytes, msg, err = blob_bytes(from, d)
  if not bytes then return nil, msg, err end
  local got
  got, msg, err = to:put_blob(bytes, d.mediaType)
  if not got then return nil, msg, err end
  if got:digest() ~= d.digest then
    return util.fail("mismatch", ("blob %s arrived as %s"):format(d.digest, got:digest()))
  end
  return true
end

local function install_rebase(Image)
  local image = require "ocispec.image"

  local rebase
  --- Rebase the image: the layers of `old_base` at its bottom are swapped
  -- for those of `new_base` (crane rebase). Each base is a ref of the
  -- image's layout, or `{layout=, ref=}` for another layout (its blobs are
  -- copied in), resolved for the image's platform. The image must really
  -- start with the old base: the same layer digests AND diff_ids, in
  -- order, else `mismatch` naming the first layer that differs; the new
  -- base must have the image's os and architecture. History: the old
  -- base's entries (its layers' and their empty_layer steps: everything up
  -- to its last layer entry) give way to the new base's. The manifest's
  -- `org.opencontainers.image.base.digest` becomes the new base's
  -- manifest digest and `.base.name` `opts.name` (default: the new base's
  -- ref). A base may also be a transport reference (a string starting
  -- with oci:, oci-archive:, docker-archive: or docker://), opened for the
  -- image's platform and closed after. Returns self, or nil, message, err
  -- (the image unchanged).
  function Image:rebase(old_base, new_base, opts)
    util.check_options(opts, { "name" }, "Image:rebase")
    local opened = {}
    local res = table.pack(pcall(rebase, self, old_base, new_base, opts or {}, opened))
    for _, src in ipairs(opened) do src:close() end
    if not res[1] then error(res[2], 0) end
    return table.unpack(res, 2, res.n)
  end

  rebase = function(self, old_base, new_base, opts, opened)
    local old, msg, err = open_base(self, old_base, "rebase: old base", 4, opened)
    if not old then return nil, msg, err end
    local new
    new, msg, err = open_base(self, new_base, "rebase: new base", 4, opened)
    if not new then return nil, msg, err end
    local ids = self.cfg.rootfs.diff_ids
    if #old.layers > #self.layers then
      return util.fail("mismatch", ("rebase: the image has %d layers, fewer than the old base %s (%d)")
        :format(#self.layers, old.ref, #old.layers))
    end
    for i, d in ipairs(old.layers) do
      if self.layers[i].digest ~= d.digest or ids[i] ~= old.diff_ids[i] then
        return util.fail("mismatch", ("rebase: the image does not start with the old base %s: its layer %d is "
          .. "%s (diff_id %s), the base's %s (diff_id %s)"):format(old.ref, i, self.layers[i].digest,
          tostring(ids[i]), d.digest, tostring(old.diff_ids[i])))
      end
    end
    if new.config.os ~= self.cfg.os or new.config.architecture ~= self.cfg.architecture then
      return util.fail("mismatch", ("rebase: the new base %s is %s/%s, the image %s/%s"):format(new.ref,
        tostring(new.config.os), tostring(new.config.architecture), self.cfg.os, self.cfg.architecture))
    end
    for _, d in ipairs(new.layers) do
      local ok, cmsg, cerr = copy_blob(new.layout, self.layout, d)
      if not ok then return reword(cerr, "rebase: " .. cmsg) end
    end
    -- the image's own history: what follows the old base's last layer entry
    local h, cut, seen = self.cfg.history, 0, 0
    if #old.layers > 0 then
      for i, e in ipairs(h) do
        if not e.empty_layer then
          seen = seen + 1
          if seen == #old.layers then
            cut = i
            break
          end
        end
      end
    end
    -- and the old base's steps after its last layer (ENV, CMD...) when the
    -- image's history repeats them
    local old_h = old.history
    local tail = #old_h
    while tail > 0 and old_h[tail].empty_layer do tail = tail - 1 end
    for j = tail + 1, #old_h do
      local e = h[cut + 1]
      if e and e.empty_layer and e.created_by == old_h[j].created_by then cut = cut + 1 else break end
    end
    if #h > 0 and seen < #old.layers then
      return util.fail("invalid", "rebase: the history has fewer layer entries than the old base has layers")
    end
    local layers, new_ids, history = {}, {}, {}
    for i, d in ipairs(new.layers) do layers[i], new_ids[i] = copy(d), new.diff_ids[i] end
    for i = #old.layers + 1, #self.layers do
      layers[#layers + 1], new_ids[#new_ids + 1] = self.layers[i], ids[i]
    end
    if #h > 0 then
      for _, e in ipairs(new.history) do history[#history + 1] = copy(e) end
      for i = cut + 1, #h do history[#history + 1] = h[i] end
    end
    self.layers, self.cfg.rootfs.diff_ids, self.cfg.history = layers, new_ids, history
    self.annotations = self.annotations or {}
    self.annotations[image.ANNOTATION_BASE_IMAGE_DIGEST] = new.descriptor:digest()
    self.annotations[image.ANNOTATION_BASE_IMAGE_NAME] = opts.name or new.ref
    return self
  end
end

-- -------------------------------------------------------- Index methods

-- Does descriptor table d's platform match platform p (a table: os and
-- architecture, and variant/os.version when p gives them)?
local function platform_matches(d, p)
  local dp = d.platform
  if not dp then return false end
  for _, k in ipairs({ "os", "architecture", "variant", "os.version" }) do
    if p[k] ~= nil and dp[k] ~= p[k] then return false end
  end
  return true
end

-- A predicate over descriptor tables from a platform ("os/arch[/variant]"
-- or table), a list of them, or a function(desc_table) -> boolean.
local function selector(sel, level, what)
  level = level + 1
  if type(sel) == "function" then return sel end
  if type(sel) == "string" or (type(sel) == "table" and sel[1] == nil and next(sel) ~= nil) then
    sel = { sel }
  end
  if type(sel) ~= "table" or sel[1] == nil then
    error(what .. ": a platform, a list of platforms or a function expected", level)
  end
  local ps = {}
  for i, p in ipairs(sel) do ps[i] = M.platform(p, level) end
  return function(d)
    for _, p in ipairs(ps) do
      if platform_matches(d, p) then return true end
    end
    return false
  end
end
M.selector = selector

-- Is descriptor table d an image manifest of a real platform (not an
-- attestation's "unknown/unknown", not a nested index or an artifact)?
local function is_platform_image(d, MT)
  return MT.is_manifest(d.mediaType or "") and d.platform ~= nil
    and d.platform.os ~= "unknown" and d.platform.architecture ~= "unknown"
end

local function install_index(build, Index)
  local image = require "ocispec.image"
  local oci_digest = require "ocispec.digest"
  local MT = image.MediaType

  --- The image index `ref` (a ref name of index.json, or a digest) of
  -- `layout`, to edit: its manifest descriptors (platforms, annotations)
  -- and its own annotations are kept; a Docker manifest list is read too,
  -- and written back as an OCI index. Returns an `Index`, or nil,
  -- message, err (`invalid` when `ref` names a manifest, not an index).
  function Index.from(layout, ref, opts)
    if type(layout) ~= "table" and type(layout) ~= "userdata" then
      error("Index.from: a layout expected, got " .. type(layout), 2)
    end
    check_string(ref, "Index.from: ref")
    util.check_options(opts, { "annotations" }, "Index.from")
    local digest = ref
    if not oci_digest.parse(ref) then
      digest = nil
      local names = {}
      for _, e in ipairs(layout:list()) do
        if e.name == ref then digest = e.descriptor:digest() end
        names[#names + 1] = e.name
      end
      if not digest then
        return util.fail("invalid", ("Index.from: no image named %q in %s (names: %s)"):format(ref,
          layout:path(), #names > 0 and table.concat(names, ", ") or "none"))
      end
    end
    local bytes, msg, err = layout:get_blob(digest)
    if not bytes then return nil, msg, err end
    local t
    t, msg = require("ocispec").json.decode(bytes)
    if type(t) ~= "table" then return util.fail("syntax", ("Index.from: %s: %s"):format(digest, tostring(msg))) end
    if not MT.is_index(t.mediaType or "") and (t.manifests == nil or t.config ~= nil) then
      return util.fail("invalid", ("Index.from: %s (%s) is not an image index"):format(ref, digest))
    end
    local idx
    idx, msg, err = image.ImageIndex.from_json(bytes)
    if not idx then return reword(err, "Index.from: " .. msg) end
    -- always written as an OCI index: the manifests commit() writes are
    -- OCI manifests, which a Docker manifest list may not hold
    local self = Index.new(layout, { annotations = (opts and opts.annotations) or t.annotations })
    for _, d in ipairs(idx:manifests()) do self.manifests[#self.manifests + 1] = d:to_table() end
    return self
  end

  --- The platforms of the index's manifests, in order (nil for an entry
  -- without one).
  function Index:platforms()
    local out = {}
    for i, d in ipairs(self.manifests) do out[i] = copy(d.platform) or false end
    return out
  end

  --- Remove the manifests matching `sel`: a platform ("linux/arm64" or a
  -- table; variant and os.version only compared when given), a list of
  -- them, or a function(descriptor_table) -> true to remove. Returns self
  -- and how many went.
  function Index:remove(sel)
    local match = selector(sel, 2, "Index:remove")
    local kept, n = {}, 0
    for _, d in ipairs(self.manifests) do
      if match(d) then n = n + 1 else kept[#kept + 1] = d end
    end
    if #kept == 0 then setmetatable(kept, require("ocispec").empty_array_mt()) end
    self.manifests = kept
    return self, n
  end

  --- Keep only the manifests matching `sel` (as `remove`); returns self and
  -- how many went.
  function Index:filter(sel)
    local match = selector(sel, 2, "Index:filter")
    return self:remove(function(d) return not match(d) end)
  end

  --- Edit the image of every platform at once, or of a chosen set:
  -- `fn(img, platform)` gets an `Image.from` each manifest (`img` is a
  -- build.Image; what it returns is ignored unless it is nil, message:
  -- then `edit` fails with it), and the committed manifest replaces the
  -- descriptor in place (its annotations kept). opts: `platforms` (a
  -- selector as `remove`; default every image manifest with a real
  -- platform: attestation manifests ("unknown/unknown"), nested indexes
  -- and artifacts are left as they are), `created` and the other options
  -- of `Image.from`. Returns self, or nil, message, err (the index is then
  -- unchanged).
  function Index:edit(fn, opts)
    if type(fn) ~= "function" then error("Index:edit: a function expected, got " .. type(fn), 2) end
    util.check_options(opts, { "platforms", "created", "author", "compression", "level", "threads", "uid", "gid" },
      "Index:edit")
    opts = opts or {}
    local match = opts.platforms and selector(opts.platforms, 2, "Index:edit")
    local from_opts = {}
    for k, v in pairs(opts) do
      if k ~= "platforms" then from_opts[k] = v end
    end
    local out, n = {}, 0
    for i, d in ipairs(self.manifests) do
      out[i] = d
      local chosen = is_platform_image(d, MT) and (not match or match(d))
      if chosen then
        local img, msg, err = build.Image.from(self.layout, d.digest, from_opts)
        if not img then return reword(err, ("Index:edit: %s: %s"):format(d.digest, msg)) end
        local ok, emsg, eerr = fn(img, copy(d.platform))
        if ok == nil and emsg ~= nil then
          return reword(eerr, ("Index:edit: %s: %s"):format(d.digest, tostring(emsg)))
        end
        local desc
        desc, msg, err = img:commit()
        if not desc then return reword(err, ("Index:edit: %s: %s"):format(d.digest, msg)) end
        local t = desc:to_table()
        t.annotations = copy(d.annotations)
        t.platform = t.platform or copy(d.platform)
        out[i] = t
        n = n + 1
      end
    end
    if match and n == 0 then
      return util.fail("invalid", "Index:edit: no image manifest of the index matches the platforms given")
    end
    self.manifests = out
    return self
  end
end

-- -------------------------------------------------------- transports

-- Does `s` start with a transport name of ocispec.transport?
local function has_transport(s)
  return type(s) == "string" and (s:match("^oci:") or s:match("^oci%-archive:") or s:match("^docker%-archive:")
    or s:match("^docker://")) ~= nil
end
M.has_transport = has_transport

-- opts without `transport`, and the transport's open options (`platform`
-- passed on: a registry pulls only that manifest).
local function split_transport(opts, level)
  if opts ~= nil and type(opts) ~= "table" then error("options must be a table", level + 1) end
  local o, t = {}, {}
  for k, v in pairs(opts or {}) do
    if k ~= "transport" then o[k] = v end
  end
  if opts and opts.transport ~= nil then
    if type(opts.transport) ~= "table" then error("option transport: a table expected", level + 1) end
    for k, v in pairs(opts.transport) do t[k] = v end
  end
  return o, t
end

-- Opens ref with ocispec.transport and runs from(layout, digest, o) on it;
-- the result keeps the source (closed by close()) or the source is closed.
local function from_transport(from, ref, opts, level)
  local o, t = split_transport(opts, level + 1)
  local transport = require "ocispec.transport"
  local src, msg, err = transport.open(ref, t)
  if not src then return nil, msg, err end
  local ok, obj, fmsg, ferr = pcall(from, src:layout(), src:descriptor():digest(), o)
  if not ok or not obj then
    src:close()
    if not ok then error(obj, 0) end
    return nil, fmsg, ferr
  end
  obj._source = src
  return obj
end

-- commit_to: commit() into the working layout, then write there.
local function commit_to(self, ref, opts, what)
  if ref ~= nil and type(ref) ~= "string" and type(ref) ~= "table" then
    error(what .. ": a reference expected, got " .. type(ref), 3)
  end
  if ref == nil and not self._source then
    error(what .. ": a reference expected (the image was not opened from one)", 3)
  end
  local d, msg, err = self:commit()
  if not d then return nil, msg, err end
  if self._source then
    if ref == nil then return self._source:commit(d, nil, opts) end
    return self._source:write(d, ref, opts)
  end
  return require("ocispec.transport").write(self.layout, d, ref, opts)
end

local function install_transports(Image, Index)
  local image_from, index_from = Image.from, Index.from

  --- `Image.from(ref [, opts])`: `ref` a transport reference
  -- (ocispec.transport: `oci:`, `oci-archive:`, `docker-archive:`,
  -- `docker://`; a string with one of these prefixes) opened with
  -- `opts.transport` (transport.open's options: connection options,
  -- `tmpdir`, ...); the image is edited in the source's layout (a
  -- temporary one for archives and registries: `img:close()` removes it).
  -- Otherwise `Image.from(layout, ref, opts)` as before.
  function Image.from(layout, ref, opts)
    if type(layout) == "string" then
      if not has_transport(layout) then
        error(("Image.from: %q: a transport reference (oci:, oci-archive:, docker-archive:, docker://) or a "
          .. "layout expected"):format(layout), 2)
      end
      if ref ~= nil and type(ref) ~= "table" then error("Image.from: options must be a table", 2) end
      local img, msg, err = from_transport(image_from, layout, ref, 2)
      return img, msg, err
    end
    return image_from(layout, ref, opts)
  end

  --- `Index.from(ref [, opts])`: an index opened from a transport
  -- reference, as `Image.from(ref, opts)`.
  function Index.from(layout, ref, opts)
    if type(layout) == "string" then
      if not has_transport(layout) then
        error(("Index.from: %q: a transport reference (oci:, oci-archive:, docker-archive:, docker://) or a "
          .. "layout expected"):format(layout), 2)
      end
      if ref ~= nil and type(ref) ~= "table" then error("Index.from: options must be a table", 2) end
      local idx, msg, err = from_transport(index_from, layout, ref, 2)
      return idx, msg, err
    end
    return index_from(layout, ref, opts)
  end

  --- Commit the image (as `commit()`, into its working layout) and write
  -- it to `ref`, any transport reference (ocispec.transport.write; the
  -- source's own archive is rewritten with its other images kept), or,
  -- with no `ref`, back to the reference it was opened from
  -- (`Source:commit`). opts: `transport.write`'s. Returns the written
  -- Descriptor, or nil, message, err.
  function Image:commit_to(ref, opts)
    return commit_to(self, ref, opts, "Image:commit_to")
  end

  --- Remove the temporary layout of an image opened from an archive or a
  -- registry (nothing for a layout); the image is unusable after.
  function Image:close()
    if self._source then self._source:close() end
    self._source = nil
  end

  --- As `Image:commit_to`, for an index.
  function Index:commit_to(ref, opts)
    return commit_to(self, ref, opts, "Index:commit_to")
  end

  --- As `Image:close`, for an index.
  function Index:close()
    if self._source then self._source:close() end
    self._source = nil
  end
end

-- The parent directory of a path ("" at the top) and its last component.
local function split_path(p)
  local dir, base = p:match("^(.*)/([^/]*)$")
  if not dir then return "", p end
  return dir, base
end

local function join_path(dir, base)
  return dir == "" and base or dir .. "/" .. base
end

--- The layer spec (`{entries=}`) of layers `from` to `to` of `img`
-- flattened onto the layers below them; `root` holds the image's tree
-- after layer `to` (the safe unpacker made it). The range's listings are
-- replayed in order over a map path -> last entry | deleted, with the
-- rules of the unpacker (a layer's whiteouts apply to lower layers only,
-- an opaque whiteout clears a directory, an entry that is not a directory
-- replaces what was below it), so the result holds: every path the range
-- leaves written (content read from `root` with core.fs.read_in_root,
-- which never leaves it), a whiteout for every path it leaves deleted, and
-- an opaque whiteout for a directory it cleared. A hard link to a file of
-- a lower layer becomes a copy of that file. Contents are held in memory
-- until the layer is built.
function M.flatten_range(img, from, to, root)
  local fs = require("ocispec.core").fs
  local state, cleared, opaque = {}, {}, {}
  local function drop_below(prefix)
    for k in pairs(state) do
      if prefix == "" or k:sub(1, #prefix + 1) == prefix .. "/" then state[k] = nil end
    end
  end
  for i = from, to do
    local list, msg, err = blob_entries(img.layout, img.layers[i])
    if not list then return nil, msg, err end
    local plain = {}
    for _, e in ipairs(list) do
      local name = entry_name(e.path)
      local dir, base = split_path(name)
      if base == ".wh..wh..opq" then
        drop_below(dir)
        opaque[dir] = true
      elseif base:sub(1, 4) == ".wh." then
        local target = join_path(dir, base:sub(5))
        drop_below(target)
        for d in pairs(opaque) do
          if d == target or d:sub(1, #target + 1) == target .. "/" then opaque[d] = nil end
        end
        state[target], cleared[target] = false, true
      elseif name ~= "" then
        plain[#plain + 1] = { name = name, e = e }
      end
    end
    for _, p in ipairs(plain) do
      state[p.name] = p.e
      if p.e.type ~= "dir" then drop_below(p.name) end
    end
  end
  local entries, markers = {}, {}
  local function marker(path)
    if markers[path] then return end
    markers[path] = true
    entries[#entries + 1] = { path = path, type = "file", content = "", mtime = 0 }
  end
  local names = {}
  for k in pairs(state) do names[#names + 1] = k end
  table.sort(names)
  for _, name in ipairs(names) do
    local e = state[name]
    if e == false then
      local dir, base = split_path(name)
      marker(join_path(dir, ".wh." .. base))
    else
      local t = { path = name, type = e.type, mode = e.mode, uid = e.uid, gid = e.gid, mtime = e.mtime }
      local ty = e.type
      if ty == "hardlink" then
        local target = entry_name(e.target)
        local te = state[target]
        if te and te.type == "file" then
          t.target = target
        else
          ty, t.type = "file", "file" -- its target is below the range: a copy
        end
      end
      if ty == "file" then
        -- a file's size is its entry's; a link's target is not in the range
        local max = e.type == "file" and math.max(e.size, 1) or 1 << 40
        local content, msg, err = fs.read_in_root(root, name, max)
        if content == nil then return nil, msg, err end
        if content == false then
          return util.fail("invalid", ("flatten: %s is missing from the flattened tree"):format(name))
        end
        t.content = content
      elseif ty == "symlink" then
        t.target = e.target
      elseif ty == "char" or ty == "block" then
        t.major, t.minor = e.major, e.minor
      elseif ty == "dir" and cleared[name] then
        marker(name .. "/.wh..wh..opq")
      end
      entries[#entries + 1] = t
    end
  end
  for dir in pairs(opaque) do marker(join_path(dir, ".wh..wh..opq")) end
  return { entries = entries }
end

--- Adds the methods of this module to `build` (`ocispec.build`'s module
-- table); build.lua calls it once.
function M.extend(build)
  install_image(build.Image)
  install_layers(build.Image)
  install_rebase(build.Image)
  install_flatten(build.Image)
  install_index(build, build.Index)
  install_transports(build.Image, build.Index)
  return build
end

return M
