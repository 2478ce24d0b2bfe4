--- Building images into an OCI image layout, the way a script reads.
--
--    local oci = require "ocispec"
--    local L = assert(oci.layout.create("out"))
--    local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = "amd64" } })
--    assert(img:add_layer{ dir = "rootfs", created_by = "COPY rootfs /" })
--    img:cmd{ "/bin/sh", "-c", "echo hello" }:env("PATH", "/bin")
--    local manifest = assert(img:commit("latest"))
--
-- An `Image` starts empty (`Image.new`) or from an image already in a
-- layout (`Image.from`); layers come from directories, entry lists or the
-- difference of two directories (`ocispec.layer`), are written into the
-- layout in one pass and recorded with their diff_id and a history entry;
-- config setters add history entries marked `empty_layer`. `commit(tag)`
-- writes the configuration and the manifest and tags the manifest.
-- `Index` gathers manifests of several platforms into an image index.
--
-- Builds are reproducible: with the same inputs and the same `created`
-- time (default: `SOURCE_DATE_EPOCH` when set, else no timestamps), two
-- builds give the same manifest digest.
-- @module ocispec.build
local image = require "ocispec.image"
local util = require "ocispec.util"

if not require("ocispec.core").layer then
  return util.unavailable({}, "ocispec.build", "OCISPEC_WITH_IMAGE")
end
local M = {}

local MT = image.MediaType

-- RFC 3339 UTC time of a Unix timestamp.
local function rfc3339(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

-- The build time: opts.created (a string or seconds), else
-- SOURCE_DATE_EPOCH, else nil (no timestamps at all). `level`: the error
-- level of the public function's caller, seen from here.
local function created_time(opts, level)
  local c = opts.created
  if type(c) == "number" then
    return rfc3339(math.tointeger(c) or error("created: integer seconds expected", level))
  end
  if type(c) == "string" then return c end
  if c ~= nil then error("created: a string or integer seconds expected, got " .. type(c), level) end
  local epoch = os.getenv("SOURCE_DATE_EPOCH")
  if epoch and epoch ~= "" then
    local n = math.tointeger(tonumber(epoch))
    if not n then error("SOURCE_DATE_EPOCH is not an integer: " .. epoch, level) end
    return rfc3339(n)
  end
  return nil
end

local function copy(t)
  if type(t) ~= "table" then return t end
  local c = {}
  for k, v in pairs(t) do c[k] = copy(v) end
  return setmetatable(c, getmetatable(t))
end

local function check_string(v, what, level)
  if type(v) ~= "string" then
    error(("%s: string expected, got %s"):format(what, type(v)), (level or 2) + 1)
  end
end

local function check_strings(list, what)
  if type(list) ~= "table" then error(what .. ": a list of strings expected", 3) end
  for i, s in ipairs(list) do
    if type(s) ~= "string" then error(("%s[%d]: string expected, got %s"):format(what, i, type(s)), 3) end
  end
end

-- t when it has an entry, else nil (empty maps are left out).
local function nonempty(t)
  return t and next(t) ~= nil and t or nil
end

-- Validates obj (`what` names it in the message), writes it into the
-- layout as a document and, when `tag` is given, tags it. Returns its
-- descriptor, or nil, message, err.
local function store(layout, what, obj, desc_opts, tag)
  local ok, msg, err = obj:validate()
  if not ok then return util.fail(err, what .. ": " .. msg) end
  local desc
  desc, msg, err = layout:put_document(obj, desc_opts)
  if not desc then return nil, msg, err end
  if tag then
    ok, msg, err = layout:tag(desc, tag)
    if not ok then return nil, msg, err end
  end
  return desc
end

-- ---------------------------------------------------------------- Image

--- An image being built in a layout.
-- @type Image
local Image = {}
local new_image
Image.__index = Image
M.Image = Image

--- A new, empty image.
-- opts: `platform` {os=, architecture=, variant=, ["os.version"]=,
-- ["os.features"]=} (default: the host's os and architecture),
-- `created` (RFC 3339 string or Unix seconds; default SOURCE_DATE_EPOCH,
-- else none), `author`, `compression` for layers ("gzip", "zstd",
-- "none"; default "gzip"), `level`, `threads` (compression threads of
-- each layer, as `ocispec.layer.build`: "auto" by default, 0 for the
-- single-threaded bytes), `uid`/`gid` (owners of every layer
-- entry), `annotations` (manifest annotations); the build cache
-- (`ocispec.build_cache`): `cache` (nil: run, copy and copy_from steps
-- are cached; true: add_layer too; false: nothing), `no_cache` (look
-- nothing up, still record), `cache_dir`, `on_step`; sharing it through a
-- registry: `cache_from` (a reference or a list: artifacts a step's
-- result is looked up in when the layout has none), `cache_to` (a
-- reference with a tag: `commit` pushes the results of this image's
-- steps there), `cache_registry` (their connection options, as
-- `ocispec.registry.connect`).
function Image.new(layout, opts)
  local self = new_image(layout, opts, 3) -- not a tail call: the level counts this frame
  return self
end

-- Image.new, raising misuse errors at `level` (seen from here): the
-- caller of Image.new or of Image.from.
local IMAGE_OPTIONS = { "platform", "created", "author", "compression", "level", "threads", "uid", "gid",
  "annotations", "cache", "no_cache", "cache_dir", "on_step", "cache_from", "cache_to", "cache_registry" }

new_image = function(layout, opts, level)
  if type(layout) ~= "table" and type(layout) ~= "userdata" then
    error("Image.new: a layout expected, got " .. type(layout), level)
  end
  if opts ~= nil and type(opts) ~= "table" then error("Image.new: options must be a table", level) end
  util.check_options(opts, IMAGE_OPTIONS, "Image.new", level)
  opts = opts or {}
  local core = require "ocispec.core"
  local platform = opts.platform or {}
  if type(platform) ~= "table" then error("Image.new: platform must be a table", level) end
  local from = opts.cache_from
  if from ~= nil and type(from) ~= "string" then
    if type(from) ~= "table" then error("Image.new: cache_from must be a reference or a list of them", level) end
    for i, r in ipairs(from) do
      if type(r) ~= "string" then
        error(("Image.new: cache_from[%d]: string expected, got %s"):format(i, type(r)), level)
      end
    end
  end
  if opts.cache_to ~= nil and type(opts.cache_to) ~= "string" then
    error("Image.new: cache_to must be a reference, got " .. type(opts.cache_to), level)
  end
  if opts.cache_registry ~= nil and type(opts.cache_registry) ~= "table" then
    error("Image.new: cache_registry must be a table of connection options", level)
  end
  local self = setmetatable({
    layout = layout,
    created = created_time(opts, level + 1),
    compression = opts.compression or "gzip",
    level = opts.level,
    threads = opts.threads,
    uid = opts.uid,
    gid = opts.gid,
    annotations = copy(opts.annotations),
    cache = opts.cache, -- the build cache (ocispec.build_cache)
    no_cache = opts.no_cache,
    cache_dir = opts.cache_dir,
    on_step = opts.on_step,
    cache_from = type(from) == "table" and copy(from) or from,
    cache_to = opts.cache_to,
    cache_registry = opts.cache_registry,
    layers = {},
    cfg = {
      architecture = platform.architecture or core.host_arch,
      os = platform.os or core.host_os,
      variant = platform.variant,
      ["os.version"] = platform["os.version"] or platform.os_version,
      ["os.features"] = copy(platform["os.features"] or platform.os_features),
      author = opts.author,
      config = {},
      rootfs = { type = "layers", diff_ids = {} },
      history = {},
    },
  }, Image)
  self.cfg.created = self.created
  if not ({ gzip = true, zstd = true, none = true })[self.compression] then
    error("Image.new: compression must be gzip, zstd or none, got " .. tostring(self.compression), level)
  end
  if self.threads ~= nil and math.type(self.threads) ~= "integer" and self.threads ~= "auto" then
    error(("Image.new: threads must be an integer or \"auto\", got %s"):format(
      type(self.threads) == "string" and ("%q"):format(self.threads) or type(self.threads)), level)
  end
  return self
end

--- An image continuing one in a layout: its layers, diff_ids, history
-- and config are kept; `ref` is a tag or digest that `layout:resolve`
-- understands; opts as `Image.new` (its platform chooses from an index).
function Image.from(layout, ref, opts)
  if type(layout) ~= "table" and type(layout) ~= "userdata" then
    error("Image.from: a layout expected, got " .. type(layout), 2)
  end
  check_string(ref, "Image.from: ref")
  if opts ~= nil and type(opts) ~= "table" then error("Image.from: options must be a table", 2) end
  opts = opts or {}
  local self = new_image(layout, opts, 3)
  local r, msg, code = layout:resolve(ref, opts.platform and { platform = opts.platform } or nil)
  if not r then return nil, msg, code end
  if not r.config then
    return util.fail("invalid", ("Image.from: %s is an artifact, not an image (config %s)"):format(ref,
      r.manifest:config():media_type()))
  end
  local base = r.config:to_table()
  -- the base's platform and config stay; this build's created time wins
  base.created = self.created or base.created
  if opts.author then base.author = opts.author end
  base.config = base.config or {}
  base.history = base.history or {}
  base.rootfs = base.rootfs or { type = "layers", diff_ids = {} }
  self.cfg = base
  for _, d in ipairs(r.layers) do self.layers[#self.layers + 1] = d:to_table() end
  if r.manifest:annotations() then
    local a = copy(r.manifest:annotations())
    for k, v in pairs(self.annotations or {}) do a[k] = v end
    self.annotations = a
  end
  return self
end

-- Appends a history entry for this build.
function Image:_history(entry)
  entry.created = entry.created or self.created
  local h = self.cfg.history
  h[#h + 1] = entry
end

--- Add a layer built by `ocispec.layer.build` from `spec` (`dir`, or
-- `entries`, or `lower` + `upper`, or `tar`: a tar file or stream, see
-- ocispec.mutate; `compression`, `level`, `threads`, `mtime`,
-- `uid`, `gid` default to the image's), written into the layout in one
-- pass. `created_by` and `comment` go into its history entry.
-- Returns self, or nil, message, err.
function Image:add_layer(spec)
  if type(spec) ~= "table" then error("add_layer: a table expected, got " .. type(spec), 2) end
  -- a tar stream cannot be keyed without reading it twice: never cached
  if self.cache ~= true or (spec.tar ~= nil and type(spec.tar) ~= "string") then
    return self:_add_layer(spec)
  end
  local cache = require "ocispec.build_cache"
  return cache.step(self, "add_layer", spec.created_by or "ADD",
    function() return cache.add_layer_key(self, spec) end, function() return self:_add_layer(spec) end)
end

-- add_layer without the cache (the steps that make layers call it).
function Image:_add_layer(spec)
  if spec.tar ~= nil then return require("ocispec.mutate").add_tar_layer(self, spec) end
  local opts = {}
  for k, v in pairs(spec) do
    if k ~= "created_by" and k ~= "comment" then opts[k] = v end
  end
  opts.compression = opts.compression or self.compression
  opts.level = opts.level or self.level
  if opts.threads == nil then opts.threads = self.threads end
  if opts.uid == nil then opts.uid = self.uid end
  if opts.gid == nil then opts.gid = self.gid end
  opts.output = self.layout:temp_path()
  local r, msg, code = require("ocispec.layer").build(opts)
  if not r then
    os.remove(opts.output)
    return nil, msg, code
  end
  local desc
  desc, msg, code = self.layout:adopt_blob(r.path, r.digest, r.size, r.media_type)
  if not desc then
    os.remove(opts.output)
    return nil, msg, code
  end
  return self:add_layer_descriptor(desc, r.diff_id, { created_by = spec.created_by, comment = spec.comment })
end

--- Add a layer blob already in the layout: its descriptor (a Descriptor
-- or table), its diff_id and optional history fields.
function Image:add_layer_descriptor(desc, diff_id, history)
  if type(desc) ~= "table" and type(desc) ~= "userdata" then
    error("add_layer_descriptor: a Descriptor or table expected, got " .. type(desc), 2)
  end
  local t = type(desc) == "userdata" and desc:to_table() or copy(desc)
  check_string(diff_id, "diff_id")
  self.layers[#self.layers + 1] = t
  local ids = self.cfg.rootfs.diff_ids
  ids[#ids + 1] = diff_id
  history = history or {}
  self:_history({ created_by = history.created_by, comment = history.comment, author = history.author })
  return self
end

-- Config setters: each records the change in history as an empty layer,
-- the way Dockerfile instructions do.
local function config_step(self, created_by)
  self:_history({ created_by = created_by, empty_layer = true })
  return self
end

local function json_list(list)
  local parts = {}
  for i, s in ipairs(list) do parts[i] = string.format("%q", s) end
  return "[" .. table.concat(parts, ",") .. "]"
end

--- Set Entrypoint (a list of strings).
function Image:entrypoint(list)
  check_strings(list, "entrypoint")
  self.cfg.config.Entrypoint = copy(list)
  return config_step(self, "ENTRYPOINT " .. json_list(list))
end

--- Set Cmd (a list of strings).
function Image:cmd(list)
  check_strings(list, "cmd")
  self.cfg.config.Cmd = copy(list)
  return config_step(self, "CMD " .. json_list(list))
end

--- Set one environment variable (replacing an entry of the same name).
function Image:env(name, value)
  check_string(name, "env name")
  check_string(value, "env value")
  if name == "" or name:find("=", 1, true) then
    error(("env: bad variable name %q"):format(name), 2)
  end
  local env = self.cfg.config.Env or {}
  local entry, replaced = name .. "=" .. value, false
  for i, e in ipairs(env) do
    if e:match("^([^=]*)") == name then env[i], replaced = entry, true end
  end
  if not replaced then env[#env + 1] = entry end
  self.cfg.config.Env = env
  return config_step(self, "ENV " .. entry)
end

--- Set WorkingDir.
function Image:working_dir(dir)
  check_string(dir, "working_dir")
  self.cfg.config.WorkingDir = dir
  return config_step(self, "WORKDIR " .. dir)
end

--- Set User ("uid", "uid:gid", "name", "name:group").
function Image:user(user)
  check_string(user, "user")
  self.cfg.config.User = user
  return config_step(self, "USER " .. user)
end

--- Set a label (Config.Labels).
function Image:label(key, value)
  check_string(key, "label key")
  check_string(value, "label value")
  local labels = self.cfg.config.Labels or {}
  labels[key] = value
  self.cfg.config.Labels = labels
  return config_step(self, ("LABEL %s=%q"):format(key, value))
end

--- Expose a port ("80/tcp", "53/udp", "8080").
function Image:expose(port)
  check_string(port, "port")
  local ports = self.cfg.config.ExposedPorts or {}
  ports[port] = {}
  self.cfg.config.ExposedPorts = ports
  return config_step(self, "EXPOSE " .. port)
end

--- Declare a volume ("/data").
function Image:volume(path)
  check_string(path, "volume")
  local volumes = self.cfg.config.Volumes or {}
  volumes[path] = {}
  self.cfg.config.Volumes = volumes
  return config_step(self, "VOLUME " .. json_list({ path }))
end

--- Set StopSignal ("SIGTERM").
function Image:stop_signal(sig)
  check_string(sig, "stop_signal")
  self.cfg.config.StopSignal = sig
  return config_step(self, "STOPSIGNAL " .. sig)
end

--- Set a manifest annotation.
function Image:annotate(key, value)
  check_string(key, "annotation key")
  check_string(value, "annotation value")
  self.annotations = self.annotations or {}
  self.annotations[key] = value
  return self
end

--- The image configuration as it stands (an `image.ImageConfiguration`),
-- or nil, message when it does not convert.
function Image:config()
  local cfg = copy(self.cfg)
  if next(cfg.config) == nil then cfg.config = nil end
  if #cfg.history == 0 then cfg.history = nil end
  return image.ImageConfiguration.from_table(cfg)
end

local commit_image -- below: commit without cache_to

--- Write the configuration and the manifest into the layout and, when
-- `tag` is given, tag the manifest; with `cache_to`, push the build cache
-- of the image there (`ocispec.build_cache.export`). Returns the
-- manifest's descriptor (with the image's platform), or nil, message, err.
function Image:commit(tag)
  local desc, msg, code = commit_image(self, tag)
  if not desc then return nil, msg, code end
  local cache = require "ocispec.build_cache"
  cache.close(self)
  if self.cache_to then
    local ok
    ok, msg, code = cache.export(self.cache_to, self, self.cache_registry or cache.defaults.cache_registry)
    if not ok then return nil, msg, code end
  end
  return desc
end

commit_image = function(self, tag)
  local cfg, msg, code = self:config()
  if not cfg then return nil, msg, code end
  local cfg_desc
  cfg_desc, msg, code = store(self.layout, "image configuration", cfg)
  if not cfg_desc then return nil, msg, code end
  local layers = self.layers
  if #layers == 0 then layers = setmetatable({}, require("ocispec").empty_array_mt()) end
  local manifest
  manifest, msg, code = image.ImageManifest.from_table({
    schemaVersion = image.SCHEMA_VERSION,
    mediaType = MT.ImageManifest,
    config = cfg_desc:to_table(),
    layers = layers,
    annotations = nonempty(self.annotations),
  })
  if not manifest then return nil, msg, code end
  local platform = {
    architecture = self.cfg.architecture,
    os = self.cfg.os,
    variant = self.cfg.variant,
    ["os.version"] = self.cfg["os.version"],
    ["os.features"] = self.cfg["os.features"],
  }
  return store(self.layout, "image manifest", manifest, { platform = platform }, tag)
end

--- Run a command in the image and add its change as one layer (RUN);
-- see `ocispec.build_run` for `cmd` and `opts`. Returns self, or nil,
-- message, err.
function Image:run(cmd, opts)
  local run, cache = require "ocispec.build_run", require "ocispec.build_cache"
  -- the signals held over the whole step, its cache store too
  return run.held(function()
    return cache.step(self, "run", run.describe(cmd), function() return run.key(self, cmd, opts) end,
      function() return run.run(self, cmd, opts) end)
  end)
end

--- Copy host files into the image as one layer (COPY); see
-- `ocispec.build_copy`. Returns self, or nil, message, err.
function Image:copy(src, dst, opts)
  local c, cache = require "ocispec.build_copy", require "ocispec.build_cache"
  return require("ocispec.build_run").held(function()
    return cache.step(self, "copy", ("COPY %s %s"):format(type(src) == "table" and table.concat(src, " ") or
      tostring(src), tostring(dst)), function() return c.key(self, src, dst, opts) end,
      function() return c.copy(self, src, dst, opts) end)
  end)
end

--- Copy `path` of `other` (an Image being built) to `dst` as one layer
-- (COPY --from); see `ocispec.build_copy`. Returns self, or nil,
-- message, err.
function Image:copy_from(other, path, dst, opts)
  local c, cache = require "ocispec.build_copy", require "ocispec.build_cache"
  local r, msg, err = require("ocispec.build_run").held(function()
    return cache.step(self, "copy_from", ("COPY --from %s %s"):format(tostring(path), tostring(dst)),
      function() return c.key_from(self, other, path, dst, opts) end,
      function() return c.copy_from(self, other, path, dst, opts) end)
  end)
  if r and type(other) == "table" then -- its cached steps are exported with this image's
    self.cache_parents = self.cache_parents or {}
    self.cache_parents[#self.cache_parents + 1] = other
  end
  return r, msg, err
end

--- Push the build cache of `images` (an Image or a list: the results of
-- their cached steps and of the images they copied from) to `ref`
-- ("host/repo:tag") as an OCI artifact that `cache_from` reads; `opts`:
-- connection options (`ocispec.registry.connect`). See
-- `ocispec.build_cache.export`. Returns the pushed descriptor and the
-- client's stats, or nil, message, err.
function M.export_cache(ref, images, opts)
  local d, stats, err = require("ocispec.build_cache").export(ref, images, opts)
  return d, stats, err
end

--- Drop build cache records by age and total size, least recently used
-- first, then the blobs only they kept (the layout's gc):
-- `prune_cache{layout=, keep_days=, max_bytes=, now=}`. See
-- `ocispec.build_cache.prune`. Returns `{removed=, kept=, kept_bytes=,
-- blobs=}`, or nil, message, err.
function M.prune_cache(opts)
  return require("ocispec.build_cache").prune(opts)
end

--- Run build stages concurrently: `parallel{stage1_fn, stage2_fn, ...}`
-- runs each function as a stage whose RUN steps' containers run at the
-- same time as the other stages'; returns the first result of each, in
-- order. See `ocispec.build_run.parallel` for what is and is not
-- concurrent, failures and signals.
function M.parallel(stages)
  return require("ocispec.build_run").parallel(stages)
end

-- ---------------------------------------------------------------- Index

--- An image index gathering manifests (typically one per platform).
-- @type Index
local Index = {}
Index.__index = Index
M.Index = Index

--- A new index in `layout`; opts: `annotations`.
function Index.new(layout, opts)
  util.check_options(opts, { "annotations" }, "Index.new")
  opts = opts or {}
  return setmetatable({ layout = layout, manifests = {}, annotations = copy(opts.annotations) }, Index)
end

--- Add a manifest descriptor (as `Image:commit` returns it); `platform`
-- replaces the descriptor's platform when given.
function Index:add(desc, platform)
  if type(desc) ~= "table" and type(desc) ~= "userdata" then
    error("Index:add: a Descriptor or table expected, got " .. type(desc), 2)
  end
  local t = type(desc) == "userdata" and desc:to_table() or copy(desc)
  if platform then t.platform = copy(platform) end
  -- the ref.name of a tagged manifest belongs to index.json, not here
  if t.annotations then
    t.annotations[image.ANNOTATION_REF_NAME] = nil
    t.annotations = nonempty(t.annotations)
  end
  self.manifests[#self.manifests + 1] = t
  return self
end

--- Write the index into the layout and tag it when `tag` is given;
-- returns its descriptor, or nil, message, err.
function Index:commit(tag)
  local idx, msg, code = image.ImageIndex.from_table({
    schemaVersion = image.SCHEMA_VERSION,
    mediaType = MT.ImageIndex,
    manifests = self.manifests,
    annotations = nonempty(self.annotations),
  })
  if not idx then return nil, msg, code end
  return store(self.layout, "image index", idx, nil, tag)
end

-- removals, platform, index edits, layers, rebase, flatten: ocispec.mutate
require("ocispec.mutate").extend(M)

return M
