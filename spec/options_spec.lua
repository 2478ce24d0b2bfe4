-- Options tables are checked: a misspelt key raises `unknown option "k"`
-- instead of being ignored, in every function taking an options table (C:
-- ocil_check_options; Lua: util.check_options). from_table{strict=true}
-- refuses members no type declares, naming them by JSON Pointer.
local oci = require("ocispec")

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")

local D = "sha256:" .. ("ab"):rep(32)
local MT = "application/octet-stream"

describe("options tables", function()
  local tmp, L, d
  setup(function()
    tmp = registries.scratch()
    L = assert(oci.layout.create(tmp .. "/L"))
    d = assert(oci.image.Descriptor.new(MT, 3, D))
  end)

  local function raises(f, ...)
    support.assert_raises({ 'unknown option "pretyy"' }, f, ...)
  end

  it("raise on an unknown key, in C", function()
    local bad = { pretyy = true }
    raises(d.to_json, d, bad)
    raises(d.to_file, d, tmp .. "/d.json", bad)
    raises(d.validate, d, bad)
    raises(oci.image.Descriptor.from_json, d:to_json(), bad)
    raises(oci.image.Descriptor.from_file, tmp .. "/none", bad)
    raises(oci.image.Descriptor.from_table, d:to_table(), bad)
    raises(oci.json.encode, {}, bad)
    raises(oci.json.decode, "{}", bad)
    raises(oci.core.json_check, "{}", bad)
    raises(oci.registry.connect, "127.0.0.1:1", bad)
    raises(oci.layer.build, { dir = tmp, output = tmp .. "/x.tar", pretyy = 1 })
    raises(oci.unpack.layer, tmp .. "/none", tmp .. "/rootfs", bad)
    raises(oci.unpack.layout_layer, L, D, tmp .. "/rootfs", bad)
    raises(L.put_document, L, d, bad)
    raises(L.resolve, L, "latest", bad)
    -- nothing was written by the failed calls
    assert.is_nil(io.open(tmp .. "/d.json"))
    assert.is_nil(io.open(tmp .. "/x.tar"))
  end)

  it("raise on an unknown key, in Lua", function()
    local bad = { pretyy = true }
    raises(oci.build.Image.new, L, bad)
    raises(oci.build.Image.from, L, "latest", bad)
    raises(oci.build.Index.new, L, bad)
    raises(oci.unpack.image, L, "latest", tmp .. "/bundle", bad)
    raises(oci.runtime.Spec.from_image_config, { architecture = "amd64", os = "linux",
      rootfs = { type = "layers", diff_ids = {} } }, bad)
    raises(oci.registry.push, L, "latest", "127.0.0.1:1/a:b", bad)
    raises(oci.registry.pull, "127.0.0.1:1/a:b", tmp .. "/P", nil, bad)
    raises(oci.registry.copy, "127.0.0.1:1/a:b", "127.0.0.1:1/c:d", bad)
    raises(oci.registry.tags, "127.0.0.1:1/a", bad)
  end)

  it("name the option exactly as given, and the layer entry it sits in", function()
    support.assert_raises({ "connect", 'unknown option "plain_htpp"' }, oci.registry.connect, "h",
      { plain_htpp = true })
    support.assert_raises({ "layer.build: entries[2]: ", 'unknown option "contnet"' }, oci.layer.build,
      { output = tmp .. "/e.tar", entries = { { path = "a" }, { path = "b", contnet = "x" } } })
    support.assert_raises({ 'unknown option "1"' }, d.to_json, d, { true })
    assert.is_nil(io.open(tmp .. "/e.tar"))
  end)

  it("accept every documented key", function()
    assert.is_string(d:to_json({ pretty = true }))
    assert(oci.image.Descriptor.from_json(d:to_json(), { max_depth = 8, max_size = 1000, max_string = 100,
      allow_duplicate_keys = true, allow_missing_required = true }))
    assert(oci.image.Descriptor.from_table(d:to_table(), { max_depth = 8, max_size = 100, max_string = 100,
      strict = true }))
    local c = assert(oci.registry.connect("127.0.0.1:1", { plain_http = true, tls_verify = false,
      auth_file = false, retries = 0, retry_delay_ms = 1, retry_max_delay_ms = 1, connect_timeout = 1,
      low_speed_timeout = 1, low_speed_limit = 1, chunk_size = 1024, user_agent = "t", max_fanout = 1,
      max_nodes = 1, max_pages = 1, max_list_bytes = 1, allow_cross_host_auth = false,
      allow_insecure_realm = false, progress = function() end }))
    c:close()
    -- pull's platform and copy's src/dst are theirs, not connect's
    local port = registries.closed_port()
    if not port then return pending("python3 is needed to find a closed port") end
    local host = "127.0.0.1:" .. port
    support.assert_fails({ host }, { code = "network" }, oci.registry.pull(host .. "/a:b", tmp .. "/P", nil,
      { plain_http = true, retries = 0, auth_file = false, platform = "linux/amd64" }))
    support.assert_fails({ host }, { code = "network" }, oci.registry.copy(host .. "/a:b", host .. "/c:d",
      { plain_http = true, retries = 0, auth_file = false, src = { retries = 0 } }))
  end)
end)

describe("from_table{strict=true}", function()
  local D64 = "sha256:" .. ("cd"):rep(32)
  local function manifest(extra)
    local cfg = { mediaType = "application/vnd.oci.image.config.v1+json", size = 2, digest = D64 }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return { schemaVersion = 2, config = cfg, layers = setmetatable({}, oci.empty_array_mt()) }
  end

  it("refuses a member no type declares, with its pointer", function()
    local _, err = support.assert_fails({ "/config/colour", 'no member "colour"' },
      { code = "invalid", pointer = "/config/colour" },
      oci.image.ImageManifest.from_table(manifest({ colour = "blue" }), { strict = true }))
    assert.is_nil(err.line)
  end)

  it("keeps unknown members without it", function()
    local m = assert(oci.image.ImageManifest.from_table(manifest({ colour = "blue" })))
    assert.are.same({ colour = "blue" }, m:config():unknown_fields())
    assert(oci.image.ImageManifest.from_table(manifest(), { strict = true }))
  end)
end)
