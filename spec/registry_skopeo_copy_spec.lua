-- A multi-platform index copied by ocispec and by skopeo (`copy --all
-- --preserve-digests`) lands as the same documents and blobs: layout to
-- registry (registry.push / skopeo's oci: source), registry to another
-- registry (registry.copy between two docker-registry instances) and within
-- one registry (blobs mounted). Both destinations are read by
-- tests/registry/read_image.py (urllib, json, hashlib: every document and
-- blob fetched and checked against its digest), never by our own client.
-- Without docker-registry or python3 every test is pending; without skopeo
-- a test checks our copy against the source, then ends pending.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local cjson = require("cjson")
local oci = require("ocispec")
local registry = require("ocispec.registry")

local q, sh = registries.quote, registries.sh
local READ_IMAGE = here .. "../tests/registry/read_image.py"

local have = registries.have
local SKIP = registries.skip_reason("python3")

local function skopeo_or_pending()
  if have("skopeo") then return true end
  pending("skopeo is not installed: the comparison with skopeo copy --all was skipped")
end

local opts = registries.opts_with{ retry_delay_ms = 10 }

-- What a registry holds under host/repo:ref, read by Python:
-- {top = digest, documents = {digest = mediaType}, blobs = {digest = size}}.
local function walk(host, repo, ref)
  local out, ok = sh(("env -u LD_PRELOAD python3 %s walk %s %s %s")
    :format(q(READ_IMAGE), q("http://" .. host), q(repo), q(ref)))
  assert(ok, out)
  return cjson.decode(out)
end

local function skopeo(args)
  local out, ok = sh("skopeo copy --all --preserve-digests --quiet " .. args)
  assert(ok, "skopeo copy " .. args .. ": " .. out)
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- Three platforms; each image has a base layer shared by all (one blob)
-- and a layer of its own.
local PLATFORMS = {
  { os = "linux", architecture = "amd64" },
  { os = "linux", architecture = "arm64", variant = "v8" },
  { os = "linux", architecture = "arm", variant = "v7" },
}

local function build_multi(dir)
  local L = assert(oci.layout.create(dir))
  local idx = oci.build.Index.new(L)
  local per = {}
  for _, p in ipairs(PLATFORMS) do
    local img = oci.build.Image.new(L, { platform = p, created = 0 })
    local function file(path, content) return { path = path, type = "file", content = content, mode = 420 } end
    assert(img:add_layer{ entries = { file("etc/base", "shared base\n") } })
    assert(img:add_layer{ entries = { file("arch", p.architecture .. "\n") } })
    img:cmd({ "/bin/cat", "/arch" })
    local d = assert(img:commit())
    per[#per + 1] = d:digest()
    idx:add(d)
  end
  local top = assert(idx:commit("multi"))
  L:close()
  return top, per
end

describe("a multi-platform index copied by ocispec and by skopeo copy --all", function()
  local a, b, tmp, dir, top, per, source
  setup(function()
    if SKIP then return end
    tmp = registries.scratch()
    dir = tmp .. "/multi"
    top, per = build_multi(dir)
    a = registries.start()
    b = registries.start()
  end)
  teardown(function()
    if a then a.stop() end
    if b then b.stop() end
    if tmp then support.rmdir(tmp) end
  end)

  -- The source as pushed by ocispec (the first test), read by Python.
  local function pushed_source()
    if source then return source end
    local d, stats = registry.push(dir, "multi", a.host .. "/ours/layout:1", opts())
    assert.is_not_nil(d, stats)
    source = walk(a.host, "ours/layout", "1")
    return source, d, stats
  end

  it("layout to registry: registry.push and skopeo's oci: source give the same digests", function()
    if SKIP then return pending(SKIP) end
    local got, d, stats = pushed_source()
    assert.are.equal(top:digest(), d:digest())
    -- the index, three manifests; per image a config and two layers, the
    -- base layer shared: 3 configs + 3 own layers + 1 base
    assert.are.equal(top:digest(), got.top)
    assert.are.equal(4, count(got.documents))
    for _, m in ipairs(per) do
      assert.are.equal(oci.image.MediaType.ImageManifest, got.documents[m])
    end
    assert.are.equal(7, count(got.blobs))
    assert.are.equal(7, stats.blobs_uploaded)
    assert.are.equal(4, stats.manifests_pushed)
    if skopeo_or_pending() then
      skopeo(("--dest-tls-verify=false oci:%s:multi docker://%s/skopeo/layout:1"):format(q(dir), a.host))
      local theirs = walk(a.host, "skopeo/layout", "1")
      assert.are.same(theirs, got)
    end
  end)

  it("registry to another registry: registry.copy and skopeo copy give the same digests", function()
    if SKIP then return pending(SKIP) end
    local src = pushed_source()
    local d, stats = registry.copy(a.host .. "/ours/layout:1", b.host .. "/ours/copied:2", opts())
    assert.is_not_nil(d, stats)
    assert.are.equal(top:digest(), d:digest())
    local got = walk(b.host, "ours/copied", "2")
    assert.are.same(src, got)
    -- two clients: every blob downloaded once, verified, uploaded once
    assert.are.equal(7, stats.blobs_downloaded)
    assert.are.equal(7, stats.blobs_uploaded)
    assert.are.equal(0, stats.blobs_mounted)
    assert.are.equal(4, stats.manifests_pushed)
    assert.are.equal(4, b.count_requests("PUT", "^/v2/ours/copied/manifests/"))
    if skopeo_or_pending() then
      skopeo(("--src-tls-verify=false --dest-tls-verify=false docker://%s/ours/layout:1 docker://%s/skopeo/copied:2")
        :format(a.host, b.host))
      assert.are.same(walk(b.host, "skopeo/copied", "2"), got)
    end
  end)

  it("within one registry, by digest: registry.copy mounts the blobs; skopeo's copy is the same", function()
    if SKIP then return pending(SKIP) end
    local src = pushed_source()
    local ref = a.host .. "/ours/layout@" .. top:digest()
    local d, stats = registry.copy(ref, a.host .. "/ours/mounted:3", opts())
    assert.is_not_nil(d, stats)
    assert.are.equal(top:digest(), d:digest())
    local got = walk(a.host, "ours/mounted", "3")
    assert.are.same(src, got)
    assert.are.equal(7, stats.blobs_mounted)
    assert.are.equal(0, stats.blobs_downloaded)
    assert.are.equal(0, stats.blobs_uploaded)
    if skopeo_or_pending() then
      skopeo(("--src-tls-verify=false --dest-tls-verify=false docker://%s docker://%s/skopeo/mounted:3")
        :format(ref, a.host))
      assert.are.same(walk(a.host, "skopeo/mounted", "3"), got)
    end
  end)
end)
