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

--- Adds the methods of this module to `build` (`ocispec.build`'s module
-- table); build.lua calls it once.
function M.extend(build)
  install_image(build.Image)
  return build
end

return M
