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
  -- and its own annotations are kept, and so is its media type (an OCI
  -- index, or a Docker manifest list). Returns an `Index`, or nil,
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
    if not idx then return nil, "Index.from: " .. msg, err end
    local self = Index.new(layout, { annotations = (opts and opts.annotations) or t.annotations })
    self.media_type = t.mediaType
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
    util.check_options(opts, { "platforms", "created", "author", "compression", "level", "uid", "gid" },
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
        if not img then return nil, ("Index:edit: %s: %s"):format(d.digest, msg), err end
        local ok, emsg, eerr = fn(img, copy(d.platform))
        if ok == nil and emsg ~= nil then
          return nil, ("Index:edit: %s: %s"):format(d.digest, tostring(emsg)), eerr
        end
        local desc
        desc, msg, err = img:commit()
        if not desc then return nil, ("Index:edit: %s: %s"):format(d.digest, msg), err end
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

--- Adds the methods of this module to `build` (`ocispec.build`'s module
-- table); build.lua calls it once.
function M.extend(build)
  install_image(build.Image)
  install_index(build, build.Index)
  return build
end

return M
