-- The one error shape, over the WHOLE Lua API. Every function of every
-- ocispec module (and of ocispec.core), every class function and method of
-- every declared type, every builder method and every method of every
-- handle (Layout, BlobWriter, registry Client, Hasher, Reference,
-- build.Image, build.Index) is enumerated from the module tables and the
-- metatables, so a new function cannot be missed: each must be listed
-- below either with a call that fails on data, whose results are checked
-- to be `nil, message, err` with err an ocispec.Error table, or as one
-- that cannot fail on data (with the reason).
local oci = require("ocispec")
local core = oci.core

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")

local HEX = ("ab"):rep(32)
local D = "sha256:" .. HEX

local tmp, L, port

-- Members of a table, with those of its __index table (the namespace
-- modules that forward to ocispec.core's).
local function members(t)
  local seen = {}
  for k, v in pairs(t) do seen[k] = v end
  local mt = getmetatable(t)
  if mt and type(mt.__index) == "table" then
    for k, v in pairs(mt.__index) do
      if seen[k] == nil then seen[k] = v end
    end
  end
  return seen
end

local function is_class(v)
  return type(v) == "table" and rawget(v, "methods") ~= nil and rawget(v, "fields") ~= nil
end

-- The class functions and methods C gives every type (a type the Lua layer
-- adds nothing to).
local base_class, base_methods = {}, {}
do
  local plain = core.types.runtime.Hook
  for k, v in pairs(plain) do
    if type(v) == "function" then base_class[k] = true end
  end
  local fieldm = {}
  for _, f in ipairs(plain.fields) do
    fieldm[f.name], fieldm["set_" .. f.name] = true, true
  end
  for k in pairs(plain.methods) do
    if not fieldm[k] then base_methods[k] = true end
  end
end

-- An ImageReader on an image without layers, tagged "empty" in L.
local function empty_image_reader()
  local cfg = assert(L:put_blob(oci.json.encode({ architecture = oci.core.host_arch, os = "linux",
    rootfs = { type = "layers", diff_ids = setmetatable({}, oci.empty_array_mt()) } }),
    oci.image.MediaType.ImageConfig))
  local m = assert(oci.image.ImageManifestBuilder():schema_version(2)
    :media_type(oci.image.MediaType.ImageManifest):config(cfg):layers({}):build())
  assert(L:tag(assert(L:put_document(m)), "empty"))
  return assert(oci.image_reader(L, "empty"))
end

-- Every name of the API, as "module.fn", "Class.fn", "Class:method",
-- "object:<common>", "builder:build", "Handle:method".
local function api_names()
  local names = {}
  local classes = {}
  local function add(n) names[n] = true end
  local function walk_module(prefix, t, depth)
    for k, v in pairs(members(t)) do
      local name = prefix .. "." .. tostring(k)
      local class = type(k) == "string" and k:match("^(.*)Builder$") and rawget(t, k:sub(1, -8))
      if type(v) == "function" and is_class(class) and v == class.builder then
        add("Class.builder") -- M.<Name>Builder, exported as is
      elseif type(v) == "function" then
        add(name)
      elseif is_class(v) then
        classes[v] = true
      elseif type(v) == "table" and depth < 2 and k ~= "types" and k ~= "core" and k ~= "Error"
          and v ~= oci.build.Image and v ~= oci.build.Index then -- handles: walked below
        walk_module(name, v, depth + 1)
      end
    end
  end
  for _, ns in ipairs({ "image", "distribution", "runtime", "digest", "build", "unpack", "layer", "layout",
    "registry", "json", "reader", "artifacts", "transport" }) do
    walk_module("oci." .. ns, oci[ns], 0)
  end
  for k, v in pairs(oci) do
    if type(v) == "function" then add("oci." .. k) end
  end
  walk_module("core", core, 0)
  for _, byname in pairs(core.types) do
    for _, class in pairs(byname) do classes[class] = true end
  end
  for class in pairs(classes) do
    local cname = class.namespace .. "." .. class.name
    for k, v in pairs(class) do
      if type(v) == "function" then add(base_class[k] and "Class." .. k or cname .. "." .. k) end
    end
    local fieldm = {}
    for _, f in ipairs(class.fields) do
      fieldm[f.name], fieldm["set_" .. f.name] = true, true
    end
    for k in pairs(class.methods) do
      if fieldm[k] then
        add(k:match("^set_") and "object:set_<field>" or "object:<field>")
      elseif base_methods[k] then
        add("object:" .. k)
      else
        add(cname .. ":" .. k)
      end
    end
    for k in pairs(class.builder_methods) do
      add(k == "build" and "builder:build" or "builder:<field>")
    end
  end
  -- handles: the methods of their metatables
  local handles = {
    Layout = L,
    BlobWriter = L:blob_writer(),
    Client = assert(oci.registry.connect("127.0.0.1:1", { plain_http = true, auth_file = false })),
    Hasher = oci.digest.hasher(),
    Reference = assert(oci.distribution.Reference.parse("a/b:c")),
    Image = oci.build.Image.new(L),
    Index = oci.build.Index.new(L),
    ImageReader = empty_image_reader(),
  }
  for hname, h in pairs(handles) do
    local mt = getmetatable(h)
    local index = type(mt.__index) == "table" and mt.__index or mt
    for k, v in pairs(index) do
      if type(v) == "function" and k ~= "__index" then add(hname .. ":" .. k) end
    end
  end
  handles.BlobWriter:abort()
  handles.Client:close()
  handles.Hasher:close()
  handles.ImageReader:close()
  return names
end

-- Functions that cannot fail on data: they return a value for every
-- argument of the right type (misuse raises).
local CANNOT = {
  ["oci.empty_array_mt"] = "a constant",
  ["oci.image.Arch.default"] = "a constant", ["oci.image.Os.default"] = "a constant",
  ["oci.image.RootFsBuilder"] = "a new builder", ["oci.image.ImageConfigurationBuilder"] = "a new builder",
  ["oci.image.ArtifactManifestBuilder"] = "a new builder",
  ["image.Descriptor.empty"] = "a constant document", ["image.Platform.default"] = "the host's",
  ["image.ImageIndex.default"] = "a constant document",
  ["image.Descriptor:as_digest_sha256"] = "a getter (nil: not sha256)",
  ["image.ImageConfiguration:labels_of_config"] = "a getter",
  ["image.ImageConfiguration:get_config_annotation"] = "a getter",
  ["image.ImageConfiguration:version"] = "a getter",
  ["distribution.ErrorResponse:detail"] = "a getter",
  ["runtime.Spec.default"] = "a constant document", ["runtime.Spec.rootless"] = "any uint32 ids",
  ["runtime.LinuxDeviceCgroup.from_device"] = "every field optional but allow, which it sets",
  ["runtime.LinuxDeviceCgroup:to_string"] = "formats what is there",
  ["oci.runtime.get_default_mounts"] = "constant", ["oci.runtime.get_rootless_mounts"] = "constant",
  ["oci.runtime.get_default_namespaces"] = "constant", ["oci.runtime.get_default_maskedpaths"] = "constant",
  ["oci.runtime.get_default_readonly_paths"] = "constant",
  ["oci.digest.hex_len"] = "nil means not registered", ["oci.digest.sha256"] = "any bytes",
  ["oci.digest.sha512"] = "any bytes",
  ["oci.registry.host_of"] = "a name mapping",
  ["oci.layer.threads_auto"] = "a count (at least 1)", ["core.layer.threads_auto"] = "a count (at least 1)",
  ["core.run.reraise"] = "raises a signal in this process (misuse raises)",
  ["core.run.now"] = "a clock",
  ["core.run.block_signals"] = "a signal mask change (misuse raises)",
  ["core.run.restore_signals"] = "a signal mask change (misuse raises)",
  ["core.run.pending_signal"] = "nil means none arrived",
  ["core.run.userns_check"] = "fails only where user namespaces are disabled: spec/build_rootless_spec.lua",
  ["oci.build.parallel"] = "returns the stages' results; a stage's error is raised again (misuse raises)",
  ["oci.image.MediaType.info"] = "nil means not declared", ["oci.image.MediaType.is_config"] = "a boolean",
  ["oci.image.MediaType.is_index"] = "a boolean", ["oci.image.MediaType.is_layer"] = "a boolean",
  ["oci.image.MediaType.is_manifest"] = "a boolean",
  ["Class.new"] = "an empty object", ["Class.builder"] = "a new builder",
  ["object:<field>"] = "getters", ["object:set_<field>"] = "setters raise on a bad value (misuse)",
  ["builder:<field>"] = "setters raise on a bad value (misuse)",
  ["object:to_table"] = "every document has a table", ["object:clone"] = "memory only",
  ["object:has"] = "a boolean", ["object:is_null"] = "a boolean", ["object:unknown_fields"] = "a table",
  ["object:set_unknown_field"] = "a bad value raises (misuse)", ["object:type_name"] = "a constant",
  ["object:memory_size"] = "a number",
  ["object:to_json"] = "documents hold valid UTF-8 only (parsers, from_table and setters check it)",
  ["core.set_empty_array_mt"] = "a setting", ["core.arena_bytes"] = "counters",
  ["core.runtime_spec_default"] = "constant", ["core.runtime_spec_rootless"] = "any uint32 ids",
  ["core.check.error_code_is_known"] = "a boolean",
  ["oci.registry.sort_tags"] = "a list in another order",
  ["core.fs.read_secret"] = "reads the terminal (a test must not wait on one); without one: nil, message, err "
    .. "(spec/registry_credentials_spec.lua)",
  ["core.fs.ids"] = "the process's ids", ["core.fs.isatty"] = "a boolean (a closed file raises)",
  ["Layout:path"] = "a string", ["Layout:close"] = "releases",
  ["BlobWriter:write"] = "bytes go to an open file (an I/O error is reported, not provokable here)",
  ["BlobWriter:size"] = "a number", ["BlobWriter:abort"] = "releases", ["BlobWriter:close"] = "releases",
  ["Reference:close"] = "releases",
  ["Client:host"] = "a string", ["Client:stats"] = "counters",
  ["Client:capabilities"] = "a table of what the client has seen (no request)", ["Client:last_response"] = "a table",
  ["Client:sync_refs"] = "a result per reference, a failure in its item (spec/sync_list_spec.lua); only a"
    .. " progress callback's cancel returns nil, message, err",
  ["Client:close"] = "releases",
  ["Hasher:update"] = "any bytes", ["Hasher:size"] = "a number", ["Hasher:algorithm"] = "a string",
  ["Hasher:finish"] = "a digest", ["Hasher:close"] = "releases",
  ["Reference:registry"] = "getter", ["Reference:repository"] = "getter", ["Reference:tag"] = "getter",
  ["Reference:digest"] = "getter", ["Reference:whole"] = "getter", ["Reference:resolve_registry"] = "getter",
  ["Reference:namespace"] = "getter",
  ["Image:new"] = "a new image (bad options raise)", ["Image:_history"] = "internal",
  ["Image:add_layer_descriptor"] = "records (misuse raises)", ["Image:entrypoint"] = "records",
  ["Image:cmd"] = "records", ["Image:env"] = "records", ["Image:working_dir"] = "records",
  ["Image:user"] = "records", ["Image:label"] = "records", ["Image:expose"] = "records",
  ["Image:volume"] = "records", ["Image:stop_signal"] = "records", ["Image:annotate"] = "records",
  ["Index:new"] = "a new index", ["Index:add"] = "records",
  ["ImageReader:layers_read"] = "a counter", ["ImageReader:close"] = "releases",
  -- ocispec.mutate's Image edits: they record, misuse raises
  ["Image:unset_env"] = "records", ["Image:unset_label"] = "records", ["Image:unset_cmd"] = "records",
  ["Image:unset_entrypoint"] = "records", ["Image:unset_exposed_port"] = "records",
  ["Image:unset_volume"] = "records", ["Image:unset_user"] = "records", ["Image:unset_working_dir"] = "records",
  ["Image:unset_stop_signal"] = "records", ["Image:unset_annotation"] = "records",
  ["Image:set_config"] = "records (checked at commit)", ["Image:set_platform"] = "records (misuse raises)",
  ["Image:platform"] = "getter", ["Image:author"] = "records",
  ["Index:platforms"] = "getter", ["Index:remove"] = "records (misuse raises)",
  ["Index:filter"] = "records (misuse raises)",
  ["Image:close"] = "releases", ["Index:close"] = "releases",
  ["oci.transport.Source.layout"] = "a getter", ["oci.transport.Source.descriptor"] = "a getter",
  ["oci.transport.Source.reference"] = "a getter", ["oci.transport.Source.close"] = "releases",
  ["oci.transport.Destination.layout"] = "a getter", ["oci.transport.Destination.reference"] = "a getter",
  ["oci.transport.Destination.close"] = "releases", ["oci.transport.Source.name"] = "a getter",
}

-- A layout whose index.json is broken.
local function broken_layout()
  local dir = tmp .. "/broken" .. math.random(1e9)
  local B = assert(oci.layout.create(dir))
  support.write(dir .. "/index.json", "{")
  return B
end

local function client()
  return assert(oci.registry.connect("127.0.0.1:" .. port, { plain_http = true, retries = 0, auth_file = false }))
end

local function desc()
  return assert(oci.image.Descriptor.new("application/octet-stream", 3, D))
end

-- Calls that fail on data. `http = true`: the error describes the request.
local FAILS = {
  ["oci.json.encode"] = function() return oci.json.encode(print) end,
  ["oci.json.decode"] = function() return oci.json.decode("{") end,
  ["core.json_encode"] = function() return core.json_encode(print) end,
  ["core.json_decode"] = function() return core.json_decode("[1,") end,
  ["core.json_check"] = function() return core.json_check("[1,") end,
  ["core.realpath"] = function() return core.realpath(tmp .. "/none") end,
  ["core.fs.read_in_root"] = function() return core.fs.read_in_root(tmp, "a\0b") end,
  ["core.fs.write_atomic"] = function() return core.fs.write_atomic(tmp .. "/no/such/dir/f", "x") end,
  ["core.check.regex_find"] = function() return core.check.regex_find("(", "x") end,
  ["oci.registry.filter_tags"] = function() return oci.registry.filter_tags({ "a" }, "[") end,
  ["oci.registry.sync"] = function() return oci.registry.sync("A:b", "h/a") end,
  ["oci.registry.sync_list"] = function() return oci.registry.sync_list({ h = { imagez = {} } }, "h/a") end,
  ["oci.registry.semver_range"] = function() return oci.registry.semver_range(">>1") end,
  ["oci.registry.filter_semver"] = function() return oci.registry.filter_semver({ "1.0.0" }, "1.2.3.4") end,
  ["core.fs.mkdir"] = function() return core.fs.mkdir(tmp .. "/no/such/dir", 448) end,
  ["core.fs.private_dir"] = function() return core.fs.private_dir(tmp .. "/no/such/dir") end,
  ["core.registry.run_helper"] = function() return core.registry.run_helper("../x", "get", "h") end,
  ["oci.registry.run_helper"] = function() return oci.registry.run_helper("x", "steal", "h") end,
  ["oci.registry.login"] = function()
    return oci.registry.login("h:1", "u", "p", { verify = false, auth_file = tmp .. "/no/such/dir/config.json" })
  end,
  ["oci.registry.logout"] = function()
    local bad = tmp .. "/bad-config.json"
    assert(core.fs.write_atomic(bad, "{"))
    return oci.registry.logout("h:1", { auth_file = bad })
  end,
  ["core.check.semver_compare"] = function() return core.check.semver_compare("1", "2") end,
  ["core.check.base64_decode"] = function() return core.check.base64_decode("!!") end,
  ["oci.image.MediaType.to_docker_v2s2"] = function() return oci.image.MediaType.to_docker_v2s2("text/plain") end,
  ["oci.image.MediaType.from_docker_v2s2"] = function() return oci.image.MediaType.from_docker_v2s2("text/plain") end,
  ["image.Descriptor.new"] = function() return oci.image.Descriptor.new("x", 1, "bad") end,
  ["Class.from_json"] = function() return oci.image.Descriptor.from_json("{") end,
  ["Class.from_file"] = function() return oci.image.Descriptor.from_file(tmp .. "/none.json") end,
  ["Class.from_table"] = function() return oci.image.Descriptor.from_table({ size = "x" }) end,
  ["runtime.Spec.load"] = function() return oci.runtime.Spec.load(tmp .. "/none.json") end,
  ["runtime.State.load"] = function() return oci.runtime.State.load(tmp .. "/none.json") end,
  ["core.runtime_spec_from_image_config"] = function()
    local cfg = assert(oci.image.ImageConfiguration.from_table({ architecture = "amd64", os = "linux",
      rootfs = { type = "layers", diff_ids = {} }, config = { User = "nobody" } }))
    return core.runtime_spec_from_image_config(cfg, nil, tmp)
  end,
  ["runtime.Spec.from_image_config"] = function()
    return oci.runtime.Spec.from_image_config({ architecture = "amd64", os = "linux",
      rootfs = { type = "layers", diff_ids = {} }, config = { User = "nobody" } })
  end,
  ["runtime.Spec:save"] = function() return oci.runtime.Spec.default():save(tmp .. "/no/dir/c.json") end,
  ["runtime.State:save"] = function()
    return oci.runtime.State.from_table({ ociVersion = "1.0.0", id = "x", status = "created", bundle = "/b" })
      :save(tmp .. "/no/dir/s.json")
  end,
  ["runtime.Spec:canonicalize_rootfs"] = function() return oci.runtime.Spec.new():canonicalize_rootfs(tmp) end,
  ["oci.runtime.seccomp_action_value"] = function() return oci.runtime.seccomp_action_value("SCMP_ACT_NOPE") end,
  ["object:to_file"] = function() return desc():to_file(tmp .. "/no/dir/d.json") end,
  ["object:to_file_pretty"] = function() return desc():to_file_pretty(tmp .. "/no/dir/d.json") end,
  ["object:validate"] = function() return oci.image.Platform.new():validate() end,
  ["builder:build"] = function() return oci.image.DescriptorBuilder():build() end,
  ["oci.digest.parse"] = function() return oci.digest.parse("sha256:x") end,
  ["oci.digest.validate"] = function() return oci.digest.validate("sha256:x") end,
  ["oci.digest.referrers_tag"] = function() return oci.digest.referrers_tag("sha256:x") end,
  ["oci.digest.hash"] = function() return oci.digest.hash("x", "md5") end,
  ["oci.digest.file"] = function() return oci.digest.file(tmp .. "/none") end,
  ["oci.digest.hasher"] = function() return oci.digest.hasher("md5") end,
  ["oci.digest.verify"] = function() return oci.digest.verify(D, "x") end,
  ["oci.digest.verify_file"] = function() return oci.digest.verify_file(D, tmp .. "/none") end,
  ["oci.distribution.Reference.parse"] = function() return oci.distribution.Reference.parse("A:b") end,
  ["oci.distribution.Reference.with_tag"] = function() return oci.distribution.Reference.with_tag("r", "a", "!") end,
  ["oci.distribution.Reference.with_digest"] = function()
    return oci.distribution.Reference.with_digest("r", "a", "sha256:x")
  end,
  ["oci.distribution.Reference.with_tag_and_digest"] = function()
    return oci.distribution.Reference.with_tag_and_digest("r", "a", "t", "sha256:x")
  end,
  ["Reference:set_mirror_registry"] = function()
    return assert(oci.distribution.Reference.parse("a/b")):set_mirror_registry("bad host!")
  end,
  ["Reference:clone_with_digest"] = function()
    return assert(oci.distribution.Reference.parse("a/b")):clone_with_digest("sha256:x")
  end,
  ["oci.layer.build"] = function() return oci.layer.build({ dir = tmp }) end,
  ["oci.image_reader"] = function() return oci.image_reader(L, "nothing") end,
  ["oci.reader.open"] = function() return oci.reader.open(L, "nothing") end,
  ["core.image_reader.open"] = function() return core.image_reader.open(L, "nothing") end,
  ["ImageReader:stat"] = function() return empty_image_reader():stat("/none") end,
  ["ImageReader:lstat"] = function() return empty_image_reader():lstat("/none") end,
  ["ImageReader:read"] = function() return empty_image_reader():read("/") end,
  ["ImageReader:list"] = function() return empty_image_reader():list("/none") end,
  ["oci.diff"] = function() return oci.diff("oci:" .. tmp .. "/none", "oci:" .. tmp .. "/none") end,
  ["core.image_reader.diff"] = function()
    -- an image whose one layer is no tar: its tree cannot be built
    local blob = assert(L:put_blob("not a tar", oci.image.MediaType.ImageLayer))
    local cfg = assert(L:put_blob(oci.json.encode({ architecture = oci.core.host_arch, os = "linux",
      rootfs = { type = "layers", diff_ids = { blob:digest() } } }), oci.image.MediaType.ImageConfig))
    local m = assert(oci.image.ImageManifestBuilder():schema_version(2)
      :media_type(oci.image.MediaType.ImageManifest):config(cfg):layers({ blob }):build())
    assert(L:tag(assert(L:put_document(m)), "notar"))
    return core.image_reader.diff(empty_image_reader(), assert(oci.image_reader(L, "notar")))
  end,
  ["oci.layer.entries"] = function() return oci.layer.entries(tmp .. "/none") end,
  ["oci.layer.decompress"] = function() return oci.layer.decompress(tmp .. "/none", tmp .. "/none.tar") end,
  ["oci.layer.transform"] = function() return oci.layer.transform(tmp .. "/none", nil, { output = tmp .. "/o" }) end,
  ["oci.layout.create"] = function() return oci.layout.create(tmp .. "/file") end,
  ["oci.layout.open"] = function() return oci.layout.open(tmp .. "/none") end,
  ["Layout:blob_path"] = function() return L:blob_path("sha256:x") end,
  ["Layout:has_blob"] = function() return L:has_blob("sha256:x") end,
  ["Layout:put_blob"] = function() return L:put_blob("x", "not a media type") end,
  ["Layout:put_blob_file"] = function() return L:put_blob_file(tmp .. "/none") end,
  ["Layout:blob_writer"] = function() return L:blob_writer("not a media type") end,
  ["Layout:temp_path"] = function()
    local B = assert(oci.layout.create(tmp .. "/gone"))
    assert(oci.unpack.remove_tree(tmp .. "/gone"))
    return B:temp_path()
  end,
  ["Layout:adopt_blob"] = function() return L:adopt_blob(tmp .. "/none", D, 1) end,
  ["Layout:get_blob"] = function() return L:get_blob(D) end,
  ["Layout:put_document"] = function() return L:put_document(desc(), { annotations = { a = 1 } }) end,
  ["Layout:get_document"] = function() return L:get_document(D, oci.image.ImageManifest) end,
  ["Layout:tag"] = function() return L:tag(desc(), "bad tag!") end,
  ["Layout:untag"] = function() return broken_layout():untag("x") end,
  ["Layout:add"] = function() return L:add(desc()) end,
  ["Layout:list"] = function() return broken_layout():list() end,
  ["Layout:index"] = function() return broken_layout():index() end,
  ["Layout:resolve"] = function() return L:resolve("nothing") end,
  ["Layout:gc"] = function() return broken_layout():gc() end,
  ["Layout:verify"] = function() return broken_layout():verify() end,
  ["BlobWriter:commit"] = function() return L:blob_writer():write("x"):commit(D) end,
  ["oci.unpack.layer"] = function() return oci.unpack.layer(tmp .. "/none", tmp .. "/rootfs") end,
  ["oci.unpack.layout_layer"] = function() return oci.unpack.layout_layer(L, D, tmp .. "/rootfs") end,
  ["oci.unpack.mkdtemp"] = function() return oci.unpack.mkdtemp(tmp .. "/no/dir/XXXXXX") end,
  ["oci.unpack.mkdir"] = function() return oci.unpack.mkdir(tmp .. "/no/dir") end,
  ["oci.unpack.remove_tree"] = function() return oci.unpack.remove_tree("a\0b") end,
  ["Image:run"] = function() return oci.build.Image.new(L):run("true", { runtime = "no-such-runtime" }) end,
  ["Image:_add_layer"] = function() return oci.build.Image.new(L):_add_layer({ dir = tmp .. "/none" }) end,
  ["Image:copy"] = function() return oci.build.Image.new(L):copy(tmp .. "/no-such-file", "/x") end,
  ["Image:copy_from"] = function()
    local other = oci.build.Image.new(L)
    other.layers[1] = { digest = "sha256:" .. ("0"):rep(64), size = 1 }
    other.cfg.rootfs.diff_ids[1] = "sha256:" .. ("0"):rep(64)
    return oci.build.Image.new(L):copy_from(other, "/x", "/x", { tmpdir = tmp })
  end,
  ["core.run.process"] = function() return core.run.process({ tmp .. "/no-such-program" }) end,
  ["core.run.start"] = function() return core.run.start({ tmp .. "/no-such-program" }) end,
  ["core.run.mount_overlay"] = function() return core.run.mount_overlay("a,b", "u", "w", "t") end,
  ["core.run.unmount"] = function() return core.run.unmount(tmp .. "/not-mounted") end,
  ["core.run.mark_content_changes"] = function() return core.run.mark_content_changes(tmp .. "/none", tmp) end,
  ["core.run.lstat"] = function() return core.run.lstat("a\0b") end,
  ["core.run.list"] = function() return core.run.list(tmp .. "/none") end,
  ["core.run.upper_to_changeset"] = function() return core.run.upper_to_changeset(tmp .. "/none") end,
  ["oci.unpack.dir_state"] = function() return oci.unpack.dir_state("a\0b") end,
  ["oci.unpack.image"] = function() return oci.unpack.image(L, "latest", ".") end,
  ["Image:from"] = function() return oci.build.Image.from(L, "nothing") end,
  ["Image:add_layer"] = function() return oci.build.Image.new(L):add_layer({ dir = tmp .. "/none" }) end,
  ["Image:config"] = function() return oci.build.Image.new(L, { platform = { os = 1 } }):config() end,
  ["oci.build.prune_cache"] = function() return oci.build.prune_cache { layout = tmp .. "/none", keep_days = 1 } end,
  ["oci.build.export_cache"] = function()
    return oci.build.export_cache("127.0.0.1:1/c@sha256:" .. ("0"):rep(64), oci.build.Image.new(L))
  end,
  ["Image:commit"] = function() return oci.build.Image.new(L, { platform = { os = 1 } }):commit() end,
  ["Index:commit"] = function() return oci.build.Index.new(L):add({ size = "x" }):commit() end,
  ["Index:from"] = function() return oci.build.Index.from(L, "nothing") end,
  ["Image:commit_to"] = function()
    return oci.build.Image.new(L, { created = 0 }):commit_to("oci-archive:" .. tmp .. "/x.tar:@1")
  end,
  ["Index:commit_to"] = function()
    return oci.build.Index.new(L):commit_to("docker-archive:" .. tmp .. "/x.tar")
  end,
  ["Image:remove_layer"] = function() return oci.build.Image.new(L):remove_layer(1) end,
  ["Image:replace_layer"] = function() return oci.build.Image.new(L):replace_layer(1, { entries = {} }) end,
  ["Image:rebase"] = function() return oci.build.Image.new(L):rebase("nothing", "nothing") end,
  ["Image:flatten"] = function() return oci.build.Image.new(L):flatten() end,
  ["Index:edit"] = function()
    return oci.build.Index.new(L):edit(function() end, { platforms = "linux/amd64" })
  end,
  ["oci.registry.connect"] = function() return oci.registry.connect("http://x/") end,
  ["oci.registry.parse_reference"] = function() return oci.registry.parse_reference("A:b") end,
  ["oci.registry.push"] = function() return oci.registry.push(tmp .. "/none", "x", "h/a:b") end,
  ["oci.registry.pull"] = function() return oci.registry.pull("A:b", tmp .. "/pulled") end,
  ["oci.registry.copy"] = function() return oci.registry.copy("A:b", "h/a") end,
  ["oci.registry.tags"] = function() return oci.registry.tags("A:b") end,
  ["oci.artifacts.attach"] = function()
    return oci.artifacts.attach("oci:" .. tmp .. "/none", {}, { artifact_type = "a/b" })
  end,
  ["oci.artifacts.discover"] = function() return oci.artifacts.discover("oci:" .. tmp .. "/none") end,
  ["oci.artifacts.push"] = function()
    return oci.artifacts.push("oci:" .. tmp .. "/none", {}, { artifact_type = "a/b" })
  end,
  ["oci.artifacts.copy_referrers"] = function()
    return oci.artifacts.copy_referrers("oci:" .. tmp .. "/none", "oci:" .. tmp .. "/none2")
  end,
  ["oci.artifacts.pull"] = function() return oci.artifacts.pull("oci:" .. tmp .. "/none", tmp .. "/out") end,
  ["oci.transport.parse"] = function() return oci.transport.parse("docker:x") end,
  ["oci.transport.open"] = function() return oci.transport.open("oci-archive:" .. tmp .. "/none.tar") end,
  ["oci.transport.with_image"] = function()
    return oci.transport.with_image("oci-archive:" .. tmp .. "/none.tar", nil, function() error("ran") end)
  end,
  ["oci.transport.create"] = function() return oci.transport.create("oci:" .. tmp .. "/file") end,
  ["oci.transport.copy"] = function() return oci.transport.copy("oci:" .. tmp .. "/none", "oci:" .. tmp .. "/c") end,
  ["oci.transport.write"] = function()
    return oci.transport.write(broken_layout(), desc(), "docker-archive:" .. tmp .. "/w.tar")
  end,
  ["oci.transport.referrer_entries"] = function() return oci.transport.referrer_entries(broken_layout(), D) end,
  ["oci.transport.open_layout"] = function() return oci.transport.open_layout("docker-archive:" .. tmp .. "/x.tar") end,
  ["oci.transport.Source.commit"] = function()
    local dir = tmp .. "/S" .. math.random(1e9)
    local d = assert(oci.build.Image.new(assert(oci.layout.create(dir)), { created = 0 }):commit("x"))
    local s = assert(oci.transport.open("oci:" .. dir .. "@" .. d:digest()))
    local ok, msg, err = s:commit(d)
    s:close()
    return ok, msg, err
  end,
  ["oci.transport.Source.write"] = function()
    local dir = tmp .. "/S" .. math.random(1e9)
    local d = assert(oci.build.Image.new(assert(oci.layout.create(dir)), { created = 0 }):commit("x"))
    local s = assert(oci.transport.open("oci:" .. dir .. ":x"))
    local ok, msg, err = s:write(d, "oci-archive:" .. dir .. ".tar:@0")
    s:close()
    return ok, msg, err
  end,
  ["oci.transport.Source.save"] = function()
    local dir = tmp .. "/S" .. math.random(1e9)
    assert(oci.build.Image.new(assert(oci.layout.create(dir)), { created = 0 }):commit("x"))
    assert(oci.transport.copy("oci:" .. dir .. ":x", "docker-archive:" .. dir .. ".tar"))
    local s = assert(oci.transport.open("docker-archive:" .. dir .. ".tar"))
    local ok, msg, err = s:save()
    s:close()
    return ok, msg, err
  end,
  ["oci.transport.Destination.commit"] = function()
    local d = assert(oci.transport.create("oci:" .. tmp .. "/T@" .. D))
    local ok, msg, err = d:commit(assert(oci.image.Descriptor.new("application/octet-stream", 3,
      "sha256:" .. ("cd"):rep(32))))
    d:close()
    return ok, msg, err
  end,
}
-- every Client call that talks to the registry: a network failure
local NET = {
  ping = function(c) return c:ping() end,
  get_manifest = function(c) return c:get_manifest("a", "t") end,
  get_manifest_raw = function(c) return c:get_manifest_raw("a", "t") end,
  head_manifest = function(c) return c:head_manifest("a", "t") end,
  put_manifest = function(c) return c:put_manifest("a", "t", '{"mediaType":"a/b"}') end,
  delete_manifest = function(c) return c:delete_manifest("a", D) end,
  has_blob = function(c) return c:has_blob("a", D) end,
  get_blob = function(c) return c:get_blob("a", D) end,
  get_blob_to_layout = function(c) return c:get_blob_to_layout("a", desc(), L) end,
  push_blob = function(c) return c:push_blob("a", "x") end,
  push_blob_file = function(c) return c:push_blob_file("a", tmp .. "/file") end,
  push_blob_from_layout = function(c)
    return c:push_blob_from_layout("a", L, assert(L:put_blob("blob", "application/octet-stream")))
  end,
  mount_blob = function(c) return c:mount_blob("a", "b", D) end,
  delete_blob = function(c) return c:delete_blob("a", D) end,
  tags = function(c) return c:tags("a") end,
  tags_page = function(c) return c:tags_page("a", 10) end,
  catalog = function(c) return c:catalog() end,
  catalog_page = function(c) return c:catalog_page(10) end,
  referrers = function(c) return c:referrers("a", D) end,
  push = function(c)
    assert(L:put_blob("{}", "application/vnd.oci.empty.v1+json"))
    local d = assert(L:put_document(assert(oci.image.ImageManifest.from_table({ schemaVersion = 2,
      config = { mediaType = "application/vnd.oci.empty.v1+json", size = 2, digest = oci.image.EMPTY_JSON.digest },
      layers = setmetatable({}, oci.empty_array_mt()) }))))
    assert(L:tag(d, "pushme"))
    return c:push(L, "pushme", "a", "t")
  end,
  pull = function(c) return c:pull("a", "t", L) end,
  copy = function(c) return c:copy("a", "t", c, "b") end,
}
-- every grammar of core.check refuses "!"
for name, f in pairs(core.check) do
  if type(f) == "function" and not FAILS["core.check." .. name] and not CANNOT["core.check." .. name] then
    FAILS["core.check." .. name] = function() return f("!") end
  end
end

-- The core's functions are the modules' own under another name.
local EXACT = { ["core.unpack.apply_blob"] = "oci.unpack.layout_layer", ["core.unpack.apply"] = "oci.unpack.layer" }
local PREFIX = {
  { "core.digest.", "oci.digest." }, { "core.layout.", "oci.layout." }, { "core.layer.", "oci.layer." },
  { "core.reference.", "oci.distribution.Reference." }, { "core.registry.", "oci.registry." },
  { "core.unpack.", "oci.unpack." },
}
local function canonical(name)
  if EXACT[name] then return EXACT[name] end
  for _, p in ipairs(PREFIX) do
    if name:sub(1, #p[1]) == p[1] then return p[2] .. name:sub(#p[1] + 1) end
  end
  return name
end

local function check_shape(name, ok, msg, err, extra)
  assert.is_nil(ok, name .. ": expected a failure")
  assert.is_string(msg, name .. ": no message")
  assert.are.equal("table", type(err), name .. ": the third result is not a table: " .. tostring(err))
  assert.are.equal(core.Error, getmetatable(err), name .. ": not an ocispec.Error")
  assert.is_string(err.code, name)
  assert.are.equal(msg, err.message, name)
  assert.are.equal(msg, tostring(err), name)
  assert.is_nil(extra, name .. ": a fourth result")
  return err
end

describe("the one error shape", function()
  setup(function()
    tmp = registries.scratch()
    support.write(tmp .. "/file", "x")
    L = assert(oci.layout.create(tmp .. "/L"))
    port = registries.closed_port()
  end)

  it("every function is listed, as failing on data or as not able to", function()
    local missing = {}
    for name in pairs(api_names()) do
      local c = canonical(name)
      local client_method = c:match("^Client:(.*)$")
      if not (FAILS[c] or CANNOT[c] or (client_method and NET[client_method])) then
        missing[#missing + 1] = name
      end
      assert.is_false(FAILS[c] ~= nil and CANNOT[c] ~= nil, name .. " listed twice")
    end
    table.sort(missing)
    assert.are.same({}, missing)
  end)

  it("every failing call returns nil, message, err", function()
    for name, call in pairs(FAILS) do
      check_shape(name, call())
    end
  end)

  it("validate, builders and verify carry their details", function()
    local err = check_shape("validate", oci.image.Platform.new():set_os("linux"):validate())
    assert.are.equal("validate", err.code)
    assert.are.equal("/architecture", err.pointer)
    assert.are.equal("required", err.rule)
    assert.are.equal(err.pointer, err.problems[1].pointer)
    err = check_shape("build", oci.image.DescriptorBuilder():build())
    assert.are.equal("missing", err.code)
    assert.are.same({ "media_type", "digest", "size" }, err.fields)
    err = check_shape("verify", broken_layout():verify())
    assert.are.equal("validate", err.code)
    assert.is_true(#err.problems > 0)
    err = check_shape("from_json", oci.image.Descriptor.from_json('{"size":"x"}'))
    assert.are.equal("type", err.code)
    assert.are.equal("/size", err.pointer)
    err = check_shape("from_json", oci.image.Descriptor.from_json("{\n ]"))
    assert.are.equal(2, err.line)
  end)

  it("every registry call gives err.http on a network failure", function()
    if not port then return pending("python3 is needed to find a closed port") end
    for name, call in pairs(NET) do
      local c = client()
      local err = check_shape("Client:" .. name, call(c))
      assert.are.equal("network", err.code, name .. ": " .. err.message)
      assert.is_table(err.http, name)
      assert.are.equal(0, err.http.status, name)
      c:close()
    end
  end)
end)
