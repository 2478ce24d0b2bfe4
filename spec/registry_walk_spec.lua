-- push, pull and copy walk index -> manifests -> blobs
-- (csrc/registry/registry_image.c): the paths the other registry specs do
-- not take, each failure asserted by its code and message. The far end is
-- tests/registry/fake_registry.py's "store" mode, a registry that keeps
-- whatever it is sent (so a test can serve broken documents); the
-- nested-index fake for the node bound.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")
local registry = require("ocispec.registry")
local MT = oci.image.MediaType

local NO_PYTHON = registries.missing("python3")

local opts = registries.opts_with{ retry_delay_ms = 1, retries = 0 }

local assert_fails = support.assert_error

local function file(path, content) return { path = path, type = "file", content = content, mode = 420 } end

-- A one-layer image in L (platform p); returns its manifest descriptor.
local function image(L, p, content, layers)
  local img = oci.build.Image.new(L, { platform = p or { os = "linux", architecture = "amd64" }, created = 0 })
  for i = 1, layers or 1 do
    assert(img:add_layer{ entries = { file("f" .. i, (content or "x") .. i .. "\n") } })
  end
  return assert(img:commit())
end

-- Names `desc` (a table) `name` in the layout at dir by editing its
-- index.json, as another tool could: what L:tag would refuse (a document
-- that does not parse). Returns the reopened layout.
local function tag_raw(dir, desc, name)
  local cjson = require("cjson")
  local path = dir .. "/index.json"
  local text = support.read(path)
  local idx = cjson.decode(text)
  desc.annotations = { ["org.opencontainers.image.ref.name"] = name }
  idx.manifests[#idx.manifests + 1] = desc
  support.write(path, cjson.encode(idx))
  return assert(oci.layout.open(dir))
end

local function index_json(children)
  local list = {}
  for i, c in ipairs(children) do
    local t = c.to_table and c:to_table() or c
    t.annotations = nil -- a layout's ref.name
    list[i] = t
  end
  return assert(oci.image.ImageIndex.from_table{ schemaVersion = 2, mediaType = MT.ImageIndex, manifests = list })
end

describe("registry walks (push, pull, copy): the paths less taken", function()
  local tmp, fake, c
  setup(function()
    tmp = registries.scratch()
    if NO_PYTHON then return end
    fake = registries.fake("store")
    c = assert(registry.connect(fake.host, opts()))
  end)
  teardown(function()
    if c then c:close() end
    if fake then fake.stop() end
    if tmp then support.rmdir(tmp) end
  end)

  local function ref(repo_tag) return fake.host .. "/" .. repo_tag end

  it("an image of 40 layers goes up, down and across: each blob once", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local L = assert(oci.layout.create(tmp .. "/many"))
    local d = image(L, nil, "many", 40)
    assert(L:tag(d, "many"))
    local pd, ps = registry.push(L, "many", ref("many/app:1"), opts())
    assert.is_not_nil(pd, ps)
    assert.are.equal(41, ps.blobs_uploaded) -- 40 layers and the config
    local dd, dstats = registry.pull(ref("many/app:1"), tmp .. "/many-pulled", "p", opts())
    assert.is_not_nil(dd, dstats)
    assert.are.equal(d:digest(), dd:digest())
    assert.are.equal(41, dstats.blobs_downloaded)
    local cd, cs = registry.copy(ref("many/app:1"), ref("many/copy:1"), opts())
    assert.is_not_nil(cd, cs)
    assert.are.equal(41, cs.blobs_mounted) -- one registry: mounted, each once
    assert.are.equal(41, fake.count_requests("POST", "^/v2/many/copy/blobs/uploads/%?mount="))
    local P = assert(oci.layout.open(tmp .. "/many-pulled"))
    assert(P:verify())
    P:close()
    L:close()
  end)

  it("indexes nested deeper than 8: push, pull and copy stop with a depth error", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local L = assert(oci.layout.create(tmp .. "/deep"))
    local child = image(L)
    local top
    for _ = 1, 10 do
      top = assert(L:put_document(index_json({ child })))
      child = top
    end
    assert(L:tag(top, "deep"))
    assert_fails("depth", { "push: indexes nest deeper than 8" }, registry.push(L, "deep", ref("deep/app:1"), opts()))
    assert.are.equal(0, fake.count_requests("PUT", "^/v2/deep/app/manifests/"))
    -- served by the registry (put by digest, the top by tag)
    local list = {}
    local function collect(d)
      local body = assert(L:get_blob(d:digest()))
      list[#list + 1] = { d, body }
      if d:media_type() == MT.ImageIndex then
        collect(assert(oci.image.ImageIndex.from_json(body)):manifests()[1])
      end
    end
    collect(top)
    for i = #list, 1, -1 do
      local d, body = list[i][1], list[i][2]
      if d:media_type() == MT.ImageIndex then
        assert(c:put_manifest("deep/served", i == 1 and "1" or d:digest(), body, MT.ImageIndex))
      end
    end
    assert_fails("depth", { "pull: indexes nest deeper than 8" },
      registry.pull(ref("deep/served:1"), tmp .. "/deep-pulled", nil, opts()))
    assert_fails("depth", { "copy: indexes nest deeper than 8" },
      registry.copy(ref("deep/served:1"), ref("deep/copied:1"), opts()))
    assert.are.equal(0, fake.count_requests("PUT", "^/v2/deep/copied/manifests/"))
    L:close()
  end)

  it("push: a layout's broken documents are reported with their digest", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local dir = tmp .. "/broken"
    local L = assert(oci.layout.create(dir))
    local bad_index = assert(L:put_blob('{"schemaVersion":2,"manifests":{}}', MT.ImageIndex))
    local bad_manifest = assert(L:put_blob('{"schemaVersion":2,"layers":7}', MT.ImageManifest))
    local thing = assert(L:put_blob('{"a":1}', "application/vnd.example.thing+json"))
    L:close()
    tag_raw(dir, bad_index:to_table(), "bad-index"):close()
    tag_raw(dir, bad_manifest:to_table(), "bad-manifest"):close()
    L = tag_raw(dir, thing:to_table(), "thing")
    assert_fails("type", { bad_index:digest(), "/manifests" }, registry.push(L, "bad-index", ref("b/app:1"), opts()))
    assert_fails("type", { bad_manifest:digest(), "/layers" },
      registry.push(L, "bad-manifest", ref("b/app:2"), opts()))
    assert_fails("unsupported", { "push: " .. thing:digest(), "application/vnd.example.thing+json",
      "not an image manifest or index" }, registry.push(L, "thing", ref("b/app:3"), opts()))
    -- the blob index.json names is gone
    local gone = image(L, nil, "gone")
    assert(L:tag(gone, "gone"))
    assert(os.remove(L:blob_path(gone:digest())))
    assert_fails("io", { gone:digest() }, registry.push(L, "gone", ref("b/app:4"), opts()))
    assert.are.equal(0, fake.count_requests("PUT", "^/v2/b/app/manifests/"))
    -- an invalid repository or tag: nothing is contacted
    local before = fake.count_requests()
    assert_fails("invalid", { "Bad", "uppercase" }, c:push(L, "gone", "Bad/App"))
    assert_fails("invalid", { "tag" }, c:push(L, "gone", "b/app", "-bad-tag"))
    assert.are.equal(before, fake.count_requests())
    L:close()
  end)

  it("a foreign (non-distributable) layer with urls is neither pushed nor copied", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local L = assert(oci.layout.create(tmp .. "/foreign"))
    local cfg = assert(L:put_blob('{"architecture":"amd64","os":"windows","rootfs":{"type":"layers","diff_ids":[]}}',
      MT.ImageConfig))
    local own = assert(L:put_blob("own layer", MT.ImageLayer))
    local foreign_digest = oci.digest.hash("a layer that lives elsewhere")
    local m = assert(L:put_document(assert(oci.image.ImageManifest.from_table{
      schemaVersion = 2, mediaType = MT.ImageManifest, config = cfg:to_table(),
      layers = {
        { mediaType = MT.ImageLayerNonDistributableGzip, digest = foreign_digest, size = 28,
          urls = { "https://example.com/layer.tar.gz" } },
        own:to_table(),
      },
    })))
    assert(L:tag(m, "win"))
    local d, stats = registry.push(L, "win", ref("win/app:1"), opts())
    assert.is_not_nil(d, stats)
    assert.are.equal(2, stats.blobs_uploaded)
    assert.are.equal(0, fake.count_requests(nil, "/blobs/" .. foreign_digest))
    -- copied to another client (no mount): the same
    local dst = assert(registry.connect(fake.host, opts()))
    assert(c:copy("win/app", "1", dst, "win/copy", "1"))
    assert.are.equal(2, dst:stats().blobs_uploaded)
    assert.are.equal(0, fake.count_requests(nil, "/blobs/" .. foreign_digest))
    assert.are.equal(m:digest(), assert(dst:head_manifest("win/copy", "1")):digest())
    -- once more: the destination has every blob; nothing is sent again
    assert(c:copy("win/app", "1", dst, "win/copy", "2"))
    assert.are.equal(2, dst:stats().blobs_skipped)
    assert.are.equal(2, dst:stats().blobs_uploaded)
    dst:close()
    L:close()
  end)

  it("pull and copy: documents that are not what their descriptors say", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local L = assert(oci.layout.create(tmp .. "/served"))
    local m = image(L, nil, "served")
    local body = assert(L:get_blob(m:digest()))
    assert(c:push(L, m:digest(), "s/app"))
    -- an index whose entry gives the wrong size
    local t = m:to_table()
    t.annotations, t.size = nil, m:size() + 1
    assert(c:put_manifest("s/app", "wrong-size", assert(oci.image.ImageIndex.from_table{
      schemaVersion = 2, mediaType = MT.ImageIndex, manifests = { t } })))
    local want = ("manifest %s: %d bytes, its descriptor gives %d"):format(m:digest(), #body, m:size() + 1)
    assert_fails("mismatch", { want }, registry.pull(ref("s/app:wrong-size"), tmp .. "/p1", nil, opts()))
    assert_fails("mismatch", { want }, registry.copy(ref("s/app:wrong-size"), ref("s/copy:1"), opts()))
    -- served as an index, a manifest, but no such document
    assert(c:put_manifest("s/app", "bad-index", '{"schemaVersion":2,"manifests":{}}', MT.ImageIndex))
    assert(c:put_manifest("s/app", "bad-manifest", '{"schemaVersion":2,"layers":7}', MT.ImageManifest))
    assert_fails("type", { "/manifests" }, registry.pull(ref("s/app:bad-index"), tmp .. "/p2", nil, opts()))
    assert_fails("type", { "/manifests" }, registry.copy(ref("s/app:bad-index"), ref("s/copy:2"), opts()))
    assert_fails("type", { "/layers" }, registry.pull(ref("s/app:bad-manifest"), tmp .. "/p3", nil, opts()))
    assert_fails("type", { "/layers" }, registry.copy(ref("s/app:bad-manifest"), ref("s/copy:3"), opts()))
    -- neither a manifest nor an index, under a type of its own
    local thing = '{"schemaVersion":2,"something":"else"}'
    assert(c:put_manifest("s/app", "thing", thing, "application/vnd.example.thing+json"))
    assert_fails("unsupported", { "pull: " .. oci.digest.hash(thing), "application/vnd.example.thing+json" },
      registry.pull(ref("s/app:thing"), tmp .. "/p4", nil, opts()))
    assert_fails("unsupported", { "copy: " .. oci.digest.hash(thing), "application/vnd.example.thing+json" },
      registry.copy(ref("s/app:thing"), ref("s/copy:4"), opts()))
    assert.are.equal(0, fake.count_requests("PUT", "^/v2/s/copy/manifests/"))
    -- a source that does not exist; a destination name that cannot be
    assert_fails("registry", { "404", "s/app/manifests/none" },
      registry.copy(ref("s/app:none"), ref("s/copy:5"), opts()))
    assert_fails("invalid", { "Upper", "uppercase" }, c:copy("s/app", m:digest(), c, "Upper/x", "1"))
    assert_fails("invalid", { "tag" }, c:copy("s/app", m:digest(), c, "s/copy", "-x"))
    -- a layout name that cannot be a ref name
    assert_fails("invalid", { "ref name" },
      registry.pull(ref("s/app@" .. m:digest()), tmp .. "/p6", "bad name", opts()))
    L:close()
  end)

  it("a document served with a generic Content-Type is known by its body (pull and copy)", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local L = assert(oci.layout.create(tmp .. "/generic"))
    local m = image(L, nil, "generic")
    assert(c:push(L, m:digest(), "g/app"))
    local idx = assert(L:put_document(index_json({ m })))
    for _, case in ipairs({ { "manifest", m, MT.ImageManifest }, { "index", idx, MT.ImageIndex } }) do
      local tag, d, mt = case[1], case[2], case[3]
      assert(c:put_manifest("g/app", tag, assert(L:get_blob(d:digest())), "application/octet-stream"))
      local pd = assert(registry.pull(ref("g/app:" .. tag), tmp .. "/g-" .. tag, "x", opts()))
      assert.are.equal(d:digest(), pd:digest())
      assert.are.equal(mt, pd:media_type())
      local cd = assert(registry.copy(ref("g/app:" .. tag), ref("g/copy:" .. tag), opts()))
      assert.are.equal(d:digest(), cd:digest())
      assert.are.equal(mt, cd:media_type())
      -- the copy is stored under its real type
      assert.are.equal(mt, assert(c:head_manifest("g/copy", tag)):media_type())
    end
    L:close()
  end)

  it("a platform pull that finds nothing lists what the index has, variants included", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local L = assert(oci.layout.create(tmp .. "/plat"))
    local a = image(L, { os = "linux", architecture = "arm", variant = "v7" }, "arm")
    local b = image(L, { os = "linux", architecture = "amd64" }, "amd")
    local idx = oci.build.Index.new(L)
    idx:add(a)
    idx:add(b)
    assert(idx:commit("plat"))
    assert(registry.push(L, "plat", ref("plat/app:1"), opts()))
    local msg = assert_fails("invalid", { "has no manifest for linux/s390x", "linux/arm/v7", "linux/amd64" },
      registry.pull(ref("plat/app:1"), tmp .. "/plat-none", nil, opts{ platform = "linux/s390x" }))
    assert.is_nil(msg:find("amd64/", 1, true), msg)
    local d = assert(registry.pull(ref("plat/app:1"), tmp .. "/plat-arm", nil, opts{ platform = "linux/arm/v7" }))
    assert.are.equal(a:digest(), d:digest())
    L:close()
  end)
end)

describe("max_nodes counts distinct documents (nested fake)", function()
  it("a walk at the bound revisits known documents without failing", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local fake = registries.fake("nested")
    finally(fake.stop)
    local tmp = registries.scratch()
    finally(function() support.rmdir(tmp) end)
    -- 4 indexes + 1 manifest: exactly 5 distinct documents, each listed 6 times
    local d = assert(registry.pull(fake.host .. "/n/app:latest", tmp .. "/five", nil, opts{ max_nodes = 5 }))
    assert.are.equal(oci.image.MediaType.ImageIndex, d:media_type())
    assert.are.equal(5, fake.count_requests("GET", "/manifests/"))
    assert_fails("too_big", { "more than 4 distinct documents (max_nodes)" },
      registry.pull(fake.host .. "/n/app:latest", tmp .. "/four", nil, opts{ max_nodes = 4 }))
  end)
end)
