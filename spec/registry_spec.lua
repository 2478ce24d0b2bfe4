-- ocispec.registry against real registries (CNCF distribution's
-- docker-registry: anonymous, htpasswd and token auth) and a fake one for
-- the failure paths (tests/registry/fake_registry.py). Everything listens on
-- 127.0.0.1. skopeo cross-checks what we push and pull. Without
-- docker-registry (or skopeo, htpasswd, openssl) the tests that need it are
-- pending with the reason; nothing passes silently.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local cjson = require("cjson")
local oci = require("ocispec")
local image = oci.image
local MT = image.MediaType

-- The module under test; a missing module fails every test with its reason.
local registry_ok, registry = pcall(function() return oci.registry or require("ocispec.registry") end)
local function reg_module()
  assert(registry_ok and registry, "ocispec.registry does not load: " .. tostring(registry))
  return registry
end

local EXAMPLE = here .. "../examples/build_image.lua"
local q, sh = registries.quote, registries.sh

local have = support.have

-- skopeo's cross-checks run when it is there (install-deps installs it);
-- without it the test, having checked the rest, ends pending (pending
-- raises) with the reason: never a silent pass. Each test calls it after
-- its own checks.
local function skopeo_or_pending()
  if have("skopeo") then return true end
  pending("skopeo is not installed: its cross-checks were skipped")
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function contains(list, v)
  for _, x in ipairs(list or {}) do
    if x == v then return true end
  end
  return false
end

local function sorted(list)
  local t = {}
  for i, v in ipairs(list) do t[i] = v end
  table.sort(t)
  return t
end

local function now()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

local function blob_file(dir, digest)
  local alg, hex = digest:match("^(%w+):(%x+)$")
  return ("%s/blobs/%s/%s"):format(dir, alg, hex)
end

-- Files of <layout>/.ocispec-tmp other than lock files.
local function tmp_leftovers(dir)
  local left = {}
  for _, name in ipairs(support.list(dir .. "/.ocispec-tmp", ".")) do
    if not name:match("%.lock$") then left[#left + 1] = name end
  end
  return left
end

local assert_fails = support.assert_error

-- Runs examples/build_image.lua (the pipeline issue's image) into dir with
-- this process's module paths; returns the manifest digest it printed.
local function build_example(dir, tag)
  local out, ok = sh(("LUA_PATH=%s LUA_CPATH=%s lua5.4 %s %s %s"):format(
    q(package.path), q(package.cpath), q(EXAMPLE), q(dir), q(tag)))
  assert(ok, out)
  return assert(out:match("(sha256:%x+)%s*$"), "no digest in: " .. out)
end

-- A two-platform index (linux/amd64, linux/arm64) tagged "multi" in a new
-- layout; returns the layout, the index descriptor and {arch = manifest digest}.
local function build_multi(dir)
  local L = assert(oci.layout.create(dir))
  local idx = oci.build.Index.new(L)
  local per = {}
  for _, arch in ipairs({ "amd64", "arm64" }) do
    local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = arch }, created = 0 })
    assert(img:add_layer{ entries = { { path = "arch", type = "file", content = arch .. "\n", mode = 420 } } })
    img:cmd({ "/bin/cat", "/arch" })
    local d = assert(img:commit())
    per[arch] = d:digest()
    idx:add(d)
  end
  return L, assert(idx:commit("multi")), per
end

-- stdout of a command (stderr dropped), raising when it fails.
local function stdout_of(cmd)
  local p = assert(io.popen(cmd .. " 2>/dev/null", "r"))
  local out = p:read("a")
  assert(p:close(), cmd .. " failed: " .. out)
  return out
end

local function skopeo_json(args)
  return cjson.decode(stdout_of("skopeo " .. args))
end

-- Connection options for our test servers (plain http; no Docker config
-- of the machine's user is read unless a test asks for one).
local function opts(extra)
  local o = { plain_http = true, auth_file = "", retry_delay_ms = 10 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function connect(host, extra)
  return assert(reg_module().connect(host, opts(extra)))
end

-- A small image manifest (blobs pushed with c) for tag/delete tests.
local function push_small_manifest(c, repo, tags, seed)
  local cfg = assert(c:push_blob(repo, ('{"architecture":"amd64","os":"linux","seed":"%s",'
    .. '"rootfs":{"type":"layers","diff_ids":[]}}'):format(seed), MT.ImageConfig))
  local layer = assert(c:push_blob(repo, "layer of " .. seed, MT.ImageLayer))
  local m = assert(image.ImageManifest.from_table({
    schemaVersion = 2, mediaType = MT.ImageManifest,
    config = cfg:to_table(), layers = { layer:to_table() },
  }))
  local desc
  for _, tag in ipairs(tags) do desc = assert(c:put_manifest(repo, tag, m)) end
  return desc, m
end

-- --------------------------------------------------------------------------

describe("ocispec.registry against docker-registry", function()
  local reg, skip, tmp, example_dir, example_digest
  local ok_reg, why = registries.available()

  setup(function()
    if not ok_reg then skip = why return end
    reg = registries.start{}
    tmp = registries.scratch()
    example_dir = tmp .. "/example"
    example_digest = build_example(example_dir, "latest")
  end)
  teardown(function()
    if reg then reg.stop() end
    if tmp then support.rmdir(tmp) end
  end)

  it("pushes the pipeline example; skopeo inspect reports the same manifest digest", function()
    if skip then return pending(skip) end
    local desc, stats = reg_module().push(example_dir, "latest", reg.host .. "/pipeline/example:v1", opts())
    assert.is_not_nil(desc, stats)
    assert.are.equal(example_digest, desc:digest())
    assert.are.equal(MT.ImageManifest, desc:media_type())
    assert.are.equal(2, stats.blobs_uploaded) -- config and the busybox layer
    assert.are.equal(1, stats.manifests_pushed)
    assert.is_true(stats.requests > 0)
    local raw = support.read(blob_file(example_dir, example_digest))
    -- our client reads it back: the bytes of our layout
    local c = connect(reg.host)
    local doc, d = c:get_manifest("pipeline/example", "v1")
    assert.is_not_nil(doc, d)
    assert.are.equal(example_digest, d:digest())
    assert.are.equal(1, #doc:layers())
    local body = assert(c:get_manifest_raw("pipeline/example", example_digest))
    assert.are.equal(raw, body)
    local head = c:head_manifest("pipeline/example", "v1")
    assert.is_truthy(head)
    assert.are.equal(example_digest, head:digest())
    assert.are.equal(#raw, head:size())
    if skopeo_or_pending() then
      local info = skopeo_json(("inspect --tls-verify=false docker://%s/pipeline/example:v1"):format(reg.host))
      assert.are.equal(example_digest, info.Digest)
      -- the manifest as the registry stores it
      assert.are.equal(raw, stdout_of(("skopeo inspect --raw --tls-verify=false docker://%s/pipeline/example:v1")
        :format(reg.host)))
    end
  end)

  it("skopeo copy and registry.pull give the same manifest digest, and both layouts verify", function()
    if skip then return pending(skip) end
    local ref = reg.host .. "/pipeline/pulled:v2"
    assert(reg_module().push(example_dir, "latest", ref, opts()))
    local desc, stats = reg_module().pull(ref, tmp .. "/by-ocispec", nil, opts())
    assert.is_not_nil(desc, stats)
    assert.are.equal(example_digest, desc:digest())
    assert.are.equal(2, stats.blobs_downloaded)
    assert.are.equal(1, stats.manifests_pulled)
    local L = assert(oci.layout.open(tmp .. "/by-ocispec"))
    local vok, vmsg = L:verify()
    assert.is_true(vok, vmsg)
    local r = assert(L:resolve("v2")) -- name nil: the reference's tag
    assert.are.equal(example_digest, r.descriptor:digest())
    assert.are.same({ "/bin/sh", "-c", "echo hello from an ocispec image" }, r.config:config():cmd())
    assert.are.same({}, tmp_leftovers(tmp .. "/by-ocispec"))
    -- the blobs are those of the layout pushed, byte for byte
    for _, l in ipairs(r.layers) do
      assert.are.equal(support.read(blob_file(example_dir, l:digest())), support.read(L:blob_path(l:digest())))
    end

    -- by digest, into an existing layout: nothing downloaded twice
    local again, astats = reg_module().pull(reg.host .. "/pipeline/pulled@" .. example_digest, L, "by-digest", opts())
    assert.is_not_nil(again, astats)
    assert.are.equal(example_digest, again:digest())
    assert.are.equal(0, astats.blobs_downloaded)
    assert.are.equal(example_digest, assert(L:resolve("by-digest")).descriptor:digest())

    if skopeo_or_pending() then
      local out, ok = sh(("skopeo copy --src-tls-verify=false docker://%s oci:%s:v2")
        :format(ref, q(tmp .. "/by-skopeo")))
      assert(ok, out)
      local S = assert(oci.layout.open(tmp .. "/by-skopeo"))
      local sok, smsg = S:verify()
      assert.is_true(sok, smsg)
      assert.are.equal(example_digest, assert(S:resolve("v2")).descriptor:digest())
      -- same blobs as skopeo's copy
      for _, l in ipairs(r.layers) do
        assert.are.equal(support.read(S:blob_path(l:digest())), support.read(L:blob_path(l:digest())))
      end
    end
  end)

  it("a second push uploads no blob again", function()
    if skip then return pending(skip) end
    local ref = reg.host .. "/again/app:1"
    local uploads = "^/v2/again/app/blobs/uploads/"
    local before = reg.count_requests("POST", uploads)
    local d1, s1 = reg_module().push(example_dir, "latest", ref, opts())
    assert.is_not_nil(d1, s1)
    assert.are.equal(2, s1.blobs_uploaded)
    assert.are.equal(0, s1.blobs_skipped)
    local first = reg.count_requests("POST", uploads) - before
    assert.is_true(first >= 2, "the first push made " .. first .. " upload POSTs")
    local d2, s2 = reg_module().push(example_dir, "latest", ref, opts())
    assert.is_not_nil(d2, s2)
    assert.are.equal(d1:digest(), d2:digest())
    assert.are.equal(0, s2.blobs_uploaded)
    assert.are.equal(2, s2.blobs_skipped)
    assert.are.equal(0, s2.bytes_uploaded)
    assert.are.equal(0, reg.count_requests("POST", uploads) - before - first)
  end)

  it("registry.copy copies an image between repositories, manifest byte for byte", function()
    if skip then return pending(skip) end
    assert(reg_module().push(example_dir, "latest", reg.host .. "/copy/src:1", opts()))
    local desc, stats = reg_module().copy(reg.host .. "/copy/src:1", reg.host .. "/copy/dst:2", opts())
    assert.is_not_nil(desc, stats)
    assert.are.equal(example_digest, desc:digest())
    local c = connect(reg.host)
    assert.are.equal(assert(c:get_manifest_raw("copy/src", "1")), assert(c:get_manifest_raw("copy/dst", "2")))
    assert.are.equal(2, stats.blobs_mounted)

    -- between two clients: no mount; each blob is downloaded into a
    -- temporary file and uploaded from it as it arrives, verified
    local c2 = connect(reg.host)
    local d2 = assert(c:copy("copy/src", "1", c2, "copy/other", "3"))
    assert.are.equal(example_digest, d2:digest())
    assert.are.equal(2, c:stats().blobs_downloaded)
    assert.are.equal(2, c2:stats().blobs_uploaded)
    assert.are.equal(0, c2:stats().blobs_mounted)
    assert.are.equal(assert(c:get_manifest_raw("copy/src", "1")), assert(c2:get_manifest_raw("copy/other", "3")))
    c2:close()
    c:close()
  end)

  describe("a multi-platform index", function()
    local L, top, per
    setup(function()
      if skip then return end
      L, top, per = build_multi(tmp .. "/multi")
    end)

    it("is pushed and pulled whole: the index and both manifests", function()
      if skip then return pending(skip) end
      local desc, stats = reg_module().push(L, "multi", reg.host .. "/multi/app:1", opts())
      assert.is_not_nil(desc, stats)
      assert.are.equal(top:digest(), desc:digest())
      assert.are.equal(MT.ImageIndex, desc:media_type())
      assert.are.equal(3, stats.manifests_pushed)
      local c = connect(reg.host)
      local idx = assert(c:get_manifest("multi/app", "1"))
      assert.are.equal(2, #idx:manifests())

      local dir = tmp .. "/multi-whole"
      local pulled, pstats = reg_module().pull(reg.host .. "/multi/app:1", dir, "whole", opts())
      assert.is_not_nil(pulled, pstats)
      assert.are.equal(top:digest(), pulled:digest())
      local P = assert(oci.layout.open(dir))
      local vok, vmsg = P:verify()
      assert.is_true(vok, vmsg)
      assert.is_true(P:has_blob(top))
      for _, arch in ipairs({ "amd64", "arm64" }) do
        assert.is_true(exists(blob_file(dir, per[arch])), arch .. " manifest missing")
        local r = assert(P:resolve("whole", { platform = { os = "linux", architecture = arch } }))
        assert.are.equal(per[arch], r.descriptor:digest())
        assert.are.equal(arch, r.config:architecture())
      end
      assert.are.equal(3, pstats.manifests_pulled)
      -- skopeo reads the same index, byte for byte
      if skopeo_or_pending() then
        local raw = stdout_of(("skopeo inspect --raw --tls-verify=false docker://%s/multi/app:1"):format(reg.host))
        assert.are.equal(support.read(L:blob_path(top:digest())), raw)
      end
    end)

    it("is pulled by platform: only that manifest", function()
      if skip then return pending(skip) end
      assert(reg_module().push(L, "multi", reg.host .. "/multi/plat:1", opts()))
      local dir = tmp .. "/multi-arm64"
      local desc, stats = reg_module().pull(reg.host .. "/multi/plat:1", dir, "arm", opts{ platform = "linux/arm64" })
      assert.is_not_nil(desc, stats)
      assert.are.equal(per.arm64, desc:digest())
      local P = assert(oci.layout.open(dir))
      local vok, vmsg = P:verify()
      assert.is_true(vok, vmsg)
      local r = assert(P:resolve("arm"))
      assert.are.equal(per.arm64, r.descriptor:digest())
      assert.are.equal("arm64", r.config:architecture())
      assert.is_false(exists(blob_file(dir, per.amd64)), "the amd64 manifest was pulled too")

      -- the client method, with a platform table
      local c = connect(reg.host)
      local P2 = assert(oci.layout.create(tmp .. "/multi-amd64"))
      local d2 = c:pull("multi/plat", "1", P2, "amd", { os = "linux", architecture = "amd64" })
      assert.is_truthy(d2)
      assert.are.equal(per.amd64, d2:digest())
      assert.is_false(exists(blob_file(tmp .. "/multi-amd64", per.arm64)), "the arm64 manifest was pulled too")

      -- no such platform: the error lists what the index offers
      local P3 = assert(oci.layout.create(tmp .. "/multi-none"))
      local msg = assert_fails("invalid", { "s390x" }, c:pull("multi/plat", "1", P3, "none", "linux/s390x"))
      assert.truthy(msg:find("amd64", 1, true) and msg:find("arm64", 1, true), msg)
      assert.are.same({}, P3:list())
    end)
  end)

  it("lists tags across pages and the catalog; deletes manifests and blobs", function()
    if skip then return pending(skip) end
    local c = connect(reg.host)
    local tags = { "t1", "t2", "t3", "t4", "t5" }
    local desc, m = push_small_manifest(c, "tags/app", tags, "tags")
    -- docker-registry 2.8 ignores n for tags (one page): the paginated walk
    -- must still give every tag (tests with real pages use the fake below)
    local all = assert(c:tags("tags/app"))
    assert.are.same(tags, sorted(all))
    assert.are.same(sorted(all), sorted(assert(c:tags("tags/app", 2))))
    -- the catalog is paginated by 2.8: one repository per page
    local cat = assert(c:catalog())
    for _, repo in ipairs({ "tags/app", "pipeline/example", "again/app", "multi/app" }) do
      if repo == "tags/app" or reg.count_requests("PUT", "^/v2/" .. repo .. "/manifests/") > 0 then
        assert.is_true(contains(cat, repo), repo .. " missing from the catalog")
      end
    end
    assert.are.same(sorted(cat), sorted(assert(c:catalog(1))))
    local first, next_last = c:catalog_page(1)
    assert.is_not_nil(first, next_last)
    assert.are.equal(1, #first)
    if #cat > 1 then
      assert.are.equal(first[1], next_last) -- the Link header's last, URL-decoded
      local second = assert(c:catalog_page(1, next_last))
      assert.are.equal(cat[2], second[1])
    end

    -- a JSON string with its media type: the same digest as the document
    local json_desc, jmsg = c:put_manifest("tags/app", "j1", m:to_json(), MT.ImageManifest)
    assert.is_truthy(json_desc, jmsg)
    assert.are.equal(desc:digest(), json_desc:digest())
    assert.are.equal(oci.digest.hash(m:to_json()), json_desc:digest())
    assert.are.equal(desc:digest(), assert(c:head_manifest("tags/app", "j1")):digest())

    -- delete a manifest: head is false, get is a registry 404
    assert.is_true(c:delete_manifest("tags/app", desc:digest()))
    assert.is_false(c:head_manifest("tags/app", desc:digest()))
    local _, info = assert_fails("registry", { "404", "tags/app" }, c:get_manifest("tags/app", desc:digest()))
    assert.are.equal(404, info.status)
    assert.is_true(contains(info.codes, "MANIFEST_UNKNOWN"), cjson.encode(info.codes or {}))

    -- delete a blob
    local b = assert(c:push_blob("tags/app", "a blob to delete"))
    assert.are.equal(#"a blob to delete", c:has_blob("tags/app", b:digest()))
    assert.is_true(c:delete_blob("tags/app", b:digest()))
    assert.is_false(c:has_blob("tags/app", b:digest()))
    local _, binfo = assert_fails("registry", { "404", b:digest() }, c:get_blob("tags/app", b:digest()))
    assert.are.equal(404, binfo.status)
    assert.is_true(contains(binfo.codes, "BLOB_UNKNOWN"), cjson.encode(binfo.codes or {}))
  end)

  it("uploads chunked (PATCH per chunk) and monolithic", function()
    if skip then return pending(skip) end
    local data = {}
    for i = 1, 1000 do data[i] = ("%010d"):format(i * 7919) end
    data = table.concat(data) -- 10000 bytes
    local digest = assert(oci.digest.hash(data))

    local calls = {}
    local chunked = connect(reg.host, { chunk_size = 1024, progress = function(dg, done, total)
      calls[#calls + 1] = { dg, done, total }
    end })
    local d = chunked:push_blob("chunks/app", data)
    assert.is_truthy(d)
    -- upload progress: this blob, from 0 up to its size, never backwards
    assert.is_true(#calls >= 2, "progress called " .. #calls .. " times")
    local prev = -1
    for _, call in ipairs(calls) do
      assert.are.equal(digest, call[1])
      assert.are.equal(#data, call[3])
      assert.is_true(call[2] >= prev, ("upload progress went back from %d to %d of %d"):format(prev, call[2], #data))
      prev = call[2]
    end
    assert.are.equal(0, calls[1][2])
    assert.are.equal(#data, calls[#calls][2])
    assert.are.equal(digest, d:digest())
    assert.are.equal(#data, d:size())
    assert.are.equal("application/octet-stream", d:media_type())
    assert.are.equal(1, reg.count_requests("POST", "^/v2/chunks/app/blobs/uploads/"))
    assert.are.equal(10, reg.count_requests("PATCH", "^/v2/chunks/app/blobs/uploads/")) -- ceil(10000/1024)
    assert.are.equal(1, reg.count_requests("PUT", "^/v2/chunks/app/blobs/uploads/.*digest="))
    assert.are.equal(data, assert(chunked:get_blob("chunks/app", digest)))
    assert.are.equal(1, chunked:stats().blobs_uploaded)

    local mono = connect(reg.host)
    local path = tmp .. "/blob.bin"
    support.write(path, data .. "!")
    local d2 = mono:push_blob_file("mono/app", path, "application/x-test")
    assert.is_truthy(d2)
    assert.are.equal(oci.digest.hash(data .. "!"), d2:digest())
    assert.are.equal("application/x-test", d2:media_type())
    assert.are.equal(1, reg.count_requests("POST", "^/v2/mono/app/blobs/uploads/"))
    assert.are.equal(0, reg.count_requests("PATCH", "^/v2/mono/app/"))
    assert.are.equal(data .. "!", assert(mono:get_blob("mono/app", d2)))
    -- a smaller max_bytes refuses the blob
    assert_fails("too_big", { d2:digest() }, mono:get_blob("mono/app", d2, 100))
  end)

  it("mounts a blob from another repository", function()
    if skip then return pending(skip) end
    local c = connect(reg.host)
    local d = assert(c:push_blob("mount/from", "mount me"))
    assert.is_true(c:mount_blob("mount/to", "mount/from", d:digest()))
    assert.are.equal(1, c:stats().blobs_mounted)
    assert.are.equal(#"mount me", c:has_blob("mount/to", d:digest()))
    assert.are.equal(1, reg.count_requests("POST", "^/v2/mount/to/blobs/uploads/%?.*mount=sha256"))
    -- from a repository without it: the registry refuses (false, no error)
    local other = oci.digest.hash("not pushed anywhere")
    assert.is_false(c:mount_blob("mount/to", "mount/from", other))
    assert.is_false(c:has_blob("mount/to", other))
  end)

  it("pushes an artifact with a subject and finds it with referrers (tag schema fallback)", function()
    if skip then return pending(skip) end
    local c = connect(reg.host)
    local base = push_small_manifest(c, "ref/app", { "base" }, "referrers")
    local L = assert(oci.layout.create(tmp .. "/artifact"))
    local empty = assert(L:put_blob("{}", MT.EmptyJSON))
    local sbom = assert(L:put_blob('{"spdxVersion":"SPDX-2.3"}', "application/spdx+json"))
    local m = assert(image.ImageManifest.from_table({
      schemaVersion = 2, mediaType = MT.ImageManifest,
      artifactType = "application/vnd.example.sbom",
      config = empty:to_table(), layers = { sbom:to_table() },
      subject = { mediaType = base:media_type(), digest = base:digest(), size = base:size() },
    }))
    assert(L:tag(assert(L:put_document(m)), "sbom"))
    local pushed = c:push(L, "sbom", "ref/app")
    assert.is_truthy(pushed)
    local refs = c:referrers("ref/app", base:digest())
    assert.is_truthy(refs)
    assert.are.equal(1, #refs:manifests())
    local r = refs:manifests()[1]
    assert.are.equal(pushed:digest(), r:digest())
    assert.are.equal("application/vnd.example.sbom", r:artifact_type())
    -- 2.8 has no referrers API: the index lives under the schema's tag
    assert.is_true(contains(assert(c:tags("ref/app")), assert(oci.digest.referrers_tag(base:digest()))))
    -- filtered by artifact type on our side
    local none = assert(c:referrers("ref/app", base:digest(), "application/vnd.example.other"))
    assert.are.equal(0, #none:manifests())
    -- a manifest nobody refers to: an empty index, not an error
    local lonely = assert(c:referrers("ref/app", pushed:digest()))
    assert.are.equal(0, #lonely:manifests())
  end)

  it("reports progress (digest, done, total) up to total, and cancels when it returns false", function()
    if skip then return pending(skip) end
    local ref = reg.host .. "/progress/app:1"
    assert(reg_module().push(example_dir, "latest", ref, opts()))
    local calls = {}
    local desc, stats = reg_module().pull(ref, tmp .. "/progress", nil, opts{
      progress = function(digest, done, total)
        calls[#calls + 1] = { digest, done, total }
      end,
    })
    assert.is_not_nil(desc, stats)
    local L = assert(oci.layout.open(tmp .. "/progress"))
    local r = assert(L:resolve("1"))
    local layer = r.layers[1]
    local last = {}
    for _, call in ipairs(calls) do
      local digest, done, total = call[1], call[2], call[3]
      assert.is_string(digest)
      assert.is_true(math.type(done) == "integer" and math.type(total) == "integer")
      assert.is_true(done >= (last[digest] or 0), "done went backwards for " .. digest)
      assert.is_true(total == -1 or done <= total)
      last[digest] = done
    end
    assert.are.equal(layer:size(), last[layer:digest()], "the layer's progress did not reach its size")
    local saw_end = false
    for _, call in ipairs(calls) do
      if call[1] == layer:digest() and call[2] == call[3] then saw_end = true end
    end
    assert.is_true(saw_end, "no call with done == total for the layer")

    -- returning false cancels; nothing of the canceled blob is left
    local dir = tmp .. "/progress-canceled"
    assert_fails("canceled", { "cancel" }, reg_module().pull(ref, dir, nil, opts{
      progress = function(_, done) if done > 0 then return false end end,
    }))
    assert.is_false(exists(blob_file(dir, layer:digest())))
    assert.are.same({}, tmp_leftovers(dir))
    -- a push canceled by its progress callback: no manifest is put
    assert_fails("canceled", { "cancel" }, reg_module().push(example_dir, "latest", reg.host .. "/progress/canceled:1",
      opts{ progress = function() return false end }))
    assert.is_false(connect(reg.host):head_manifest("progress/canceled", "1"))
    assert.are.equal(0, reg.count_requests("PUT", "^/v2/progress/canceled/manifests/"))
    -- an error raised in the callback cancels too, and is reported
    local dir2 = tmp .. "/progress-raised"
    assert_fails("canceled", { "boom-in-progress" }, reg_module().pull(ref, dir2, nil, opts{
      progress = function() error("boom-in-progress") end,
    }))
    assert.is_false(exists(blob_file(dir2, layer:digest())))
    -- the layout of a transfer cannot be closed from its progress callback
    local L3 = assert(oci.layout.create(tmp .. "/progress-close"))
    local c = connect(reg.host, { progress = function() L3:close() end })
    assert_fails("canceled", { "ocispec.layout.Layout is in use by a call in progress" },
      c:pull("progress/app", "1", L3))
    c:close()
    assert.are.equal("ocispec.layout.Layout (" .. tmp .. "/progress-close)", tostring(L3))
    L3:close()
  end)
end)

-- --------------------------------------------------------------------------

describe("ocispec.registry with basic auth (htpasswd)", function()
  local reg, skip, tmp, example_dir, example_digest
  local ok_reg, why = registries.available()
  local ok_h, why_h = registries.htpasswd_available()

  setup(function()
    if not ok_reg then skip = why return end
    if not ok_h then skip = why_h return end
    reg = registries.start{ auth = "htpasswd" }
    tmp = registries.scratch()
    example_dir = tmp .. "/example"
    example_digest = build_example(example_dir, "latest")
  end)
  teardown(function()
    if reg then reg.stop() end
    if tmp then support.rmdir(tmp) end
  end)

  local function b64(s)
    local out = sh("printf %s " .. q(s) .. " | base64 -w0")
    return out
  end

  it("without credentials: a registry error 401 UNAUTHORIZED", function()
    if skip then return pending(skip) end
    local c = connect(reg.host)
    local msg, info = assert_fails("registry", { "401", "/v2/" }, c:ping())
    assert.are.equal(401, info.status)
    assert.is_true(contains(info.codes, "UNAUTHORIZED"), cjson.encode(info.codes or {}))
    assert.truthy(info.url:find(reg.host, 1, true), info.url)
    assert.falsy(msg:find(reg.password, 1, true))
    local last = c:last_response()
    assert.are.equal(401, last.status)
  end)

  it("with a wrong password: 401, and neither password nor its base64 in the message", function()
    if skip then return pending(skip) end
    local wrong = "Wr0ng-" .. reg.password
    local dir = tmp .. "/wrong"
    local msg, info = assert_fails("registry", { "401" }, reg_module().pull(reg.host .. "/private/app:v1", dir, nil,
      opts{ username = reg.username, password = wrong }))
    assert.are.equal(401, info.status)
    for _, secret in ipairs({ wrong, b64(reg.username .. ":" .. wrong), reg.password }) do
      assert.falsy(msg:find(secret, 1, true), "the message shows a secret: " .. msg)
      assert.falsy(info.url:find(secret, 1, true))
      assert.falsy((info.body or ""):find(secret, 1, true))
    end
  end)

  it("with credentials: push, skopeo sees it, pull verifies", function()
    if skip then return pending(skip) end
    local o = opts{ username = reg.username, password = reg.password }
    local desc, stats = reg_module().push(example_dir, "latest", reg.host .. "/private/app:v1", o)
    assert.is_not_nil(desc, stats)
    assert.are.equal(example_digest, desc:digest())
    local pulled = assert(reg_module().pull(reg.host .. "/private/app:v1", tmp .. "/pulled", nil, o))
    assert.are.equal(example_digest, pulled:digest())
    assert(assert(oci.layout.open(tmp .. "/pulled")):verify())
    if skopeo_or_pending() then
      local info = skopeo_json(("inspect --tls-verify=false --creds %s docker://%s/private/app:v1")
        :format(q(reg.username .. ":" .. reg.password), reg.host))
      assert.are.equal(example_digest, info.Digest)
    end
  end)

  it("reads credentials from a Docker config.json (auth_file, base64 auth)", function()
    if skip then return pending(skip) end
    local path = tmp .. "/docker-config.json"
    support.write(path, cjson.encode({ auths = { [reg.host] = { auth = b64(reg.username .. ":" .. reg.password) } } }))
    local c = assert(reg_module().connect(reg.host, { plain_http = true, auth_file = path }))
    assert.is_true(c:ping())
    local d = c:push_blob("private/blobs", "via the auth file")
    assert.is_truthy(d)
    assert.are.equal("via the auth file", assert(c:get_blob("private/blobs", d)))
    -- a malformed file is an error naming it, at connect
    local bad = tmp .. "/bad-config.json"
    support.write(bad, "{ not json")
    assert_fails("invalid", { bad }, reg_module().connect(reg.host, { plain_http = true, auth_file = bad }))
  end)
end)

-- --------------------------------------------------------------------------

describe("ocispec.registry with token auth", function()
  local reg, skip
  local ok_reg, why = registries.available()
  local ok_t, why_t = registries.token_available()

  setup(function()
    if not ok_reg then skip = why return end
    if not ok_t then skip = why_t return end
    reg = registries.start{ auth = "token" }
  end)
  teardown(function()
    if reg then reg.stop() end
  end)

  it("fetches a bearer token with the credentials and the challenge's scope", function()
    if skip then return pending(skip) end
    local c = connect(reg.host, { username = reg.username, password = reg.password })
    local d = c:push_blob("token/app", "bearer blob")
    assert.is_truthy(d)
    assert.are.equal("bearer blob", assert(c:get_blob("token/app", d:digest())))
    local pattern = "user=" .. reg.username:gsub("%-", "%%-") .. " service=" .. reg.service:gsub("%-", "%%-")
      .. " scope=repository:token/app:[%a,]*push.* %-> 200"
    assert.is_true(reg.count_token_requests(pattern) >= 1, "no token request for push in:\n" .. reg.token_log())
    -- tokens are cached per scope: the same read again does not ask the
    -- token server again
    local asked = reg.count_token_requests()
    assert.are.equal("bearer blob", assert(c:get_blob("token/app", d:digest())))
    assert.are.equal(asked, reg.count_token_requests())
    -- the catalog has its own scope
    local cat = assert(c:catalog())
    assert.is_table(cat)
    assert.is_true(reg.count_token_requests("scope=registry:catalog:%*") >= 1, reg.token_log())
  end)

  it("without credentials: an anonymous token is not enough (401 UNAUTHORIZED)", function()
    if skip then return pending(skip) end
    local c = connect(reg.host)
    local msg, info = assert_fails("registry", { "401", "token/app" }, c:push_blob("token/app", "anonymous"))
    assert.are.equal(401, info.status)
    assert.is_true(contains(info.codes, "UNAUTHORIZED"), cjson.encode(info.codes or {}))
    assert.is_true(reg.count_token_requests("user=%- .* %-> 200") >= 1, reg.token_log())
    assert.falsy(msg:find("eyJ", 1, true), "a token in the message: " .. msg) -- JWTs start so
  end)

  it("with a wrong password: the token server's 401 is reported without the password", function()
    if skip then return pending(skip) end
    local wrong = "Wr0ng-" .. reg.password
    local c = connect(reg.host, { username = reg.username, password = wrong })
    local msg, info = assert_fails("registry", { "401" }, c:tags("token/app"))
    assert.are.equal(401, info.status)
    assert.falsy(msg:find(wrong, 1, true), msg)
    assert.falsy(msg:find(reg.password, 1, true), msg)
  end)
end)

-- --------------------------------------------------------------------------

describe("ocispec.registry over TLS (self-signed certificate)", function()
  local reg, skip
  local ok_reg, why = registries.available()
  local ok_t, why_t = registries.token_available() -- openssl

  setup(function()
    if not ok_reg then skip = why return end
    if not ok_t then skip = why_t return end
    reg = registries.start{ tls = true }
  end)
  teardown(function()
    if reg then reg.stop() end
  end)

  local function tls_opts(extra)
    local o = { auth_file = "", retries = 0 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  it("says so when https meets a plain-HTTP registry", function()
    if skip then return pending(skip) end
    local plain = registries.start{}
    finally(plain.stop)
    local c = assert(oci.registry.connect(plain.host, tls_opts()))
    assert_fails("network", { "https://" .. plain.host .. "/v2/", "plain_http" }, c:ping())
    c:close()
  end)

  it("verifies the certificate by default: an unknown CA is a network error", function()
    if skip then return pending(skip) end
    local c = assert(oci.registry.connect(reg.host, tls_opts()))
    local msg, info = assert_fails("network", { "https://" .. reg.host .. "/v2/" }, c:ping())
    assert.truthy(msg:lower():find("certificate", 1, true), msg)
    assert.are.equal(0, info.status)
    c:close()
  end)

  it("trusts the registry's CA given as ca_file, and pushes and pulls", function()
    if skip then return pending(skip) end
    local c = assert(oci.registry.connect(reg.host, tls_opts{ ca_file = reg.ca_file }))
    assert.is_true(c:ping())
    local d = assert(c:push_blob("tls/app", "over tls"))
    assert.are.equal("over tls", assert(c:get_blob("tls/app", d)))
    c:close()
  end)

  it("accepts any certificate with tls_verify = false", function()
    if skip then return pending(skip) end
    local c = assert(oci.registry.connect(reg.host, tls_opts{ tls_verify = false }))
    assert.is_true(c:ping())
    -- plain HTTP to a TLS port is not silently accepted either
    local p = assert(oci.registry.connect(reg.host, tls_opts{ plain_http = true }))
    local _, info = assert_fails("registry", { "http://" .. reg.host .. "/v2/", "400" }, p:ping())
    assert.are.equal(400, info.status)
    c:close()
    p:close()
  end)
end)

-- --------------------------------------------------------------------------

describe("ocispec.registry failure paths (fake registry)", function()
  local tmp
  local skip = not have("python3") and "python3 is not installed" or nil
  setup(function() tmp = registries.scratch() end)
  teardown(function() if tmp then support.rmdir(tmp) end end)

  it("a blob whose content does not match its digest: mismatch, nothing kept", function()
    if skip then return pending(skip) end
    local fake = registries.fake("mismatch")
    finally(fake.stop)
    local layer = fake.blobs.layer
    local c = connect(fake.host)
    assert_fails("mismatch", { layer }, c:get_blob("bad/app", layer))

    local dir = tmp .. "/mismatch-pull"
    assert_fails("mismatch", { layer }, reg_module().pull(fake.host .. "/bad/app:latest", dir, nil, opts()))
    assert.is_false(exists(blob_file(dir, layer)), "the wrong blob was kept")
    assert.is_false(exists(blob_file(dir, fake.blobs.bad_layer_sha256)), "the wrong blob was kept by its own digest")
    assert.are.same({}, tmp_leftovers(dir))
    local L = assert(oci.layout.open(dir))
    assert.are.same({}, L:list())

    -- a manifest asked for by digest whose body has another digest
    local wanted = oci.digest.hash("some other manifest")
    assert_fails("mismatch", { wanted }, c:get_manifest("bad/app", wanted))

    -- get_blob_to_layout: the same
    local L2 = assert(oci.layout.create(tmp .. "/mismatch-blob"))
    local desc = image.Descriptor.new(MT.ImageLayer, fake.blobs.layer_size, layer)
    assert_fails("mismatch", { layer }, c:get_blob_to_layout("bad/app", desc, L2))
    assert.is_false(L2:has_blob(desc))
    assert.are.same({}, tmp_leftovers(tmp .. "/mismatch-blob"))
  end)

  it("follows a blob GET's redirect to where the bytes are", function()
    if skip then return pending(skip) end
    local fake = registries.fake("redirect")
    finally(fake.stop)
    local c = connect(fake.host)
    local L = assert(oci.layout.create(tmp .. "/redirect"))
    local desc = assert(c:pull("redir/app", "latest", L, "latest"))
    assert.are.equal(fake.blobs.manifest, desc:digest())
    local vok, vmsg = L:verify()
    assert.is_true(vok, vmsg)
    local log = fake.log()
    local layer = fake.blobs.layer
    assert.truthy(log:find("GET /v2/redir/app/blobs/" .. layer .. " -> 307\n", 1, true), log)
    assert.truthy(log:find("GET /_fake/content/" .. layer .. " -> 200\n", 1, true), log)
    assert.are.equal(assert(L:get_blob(layer)), assert(c:get_blob("redir/app", layer)))
  end)

  it("retries a 503 on an upload's PUT and PATCH, sending the same bytes again", function()
    if skip then return pending(skip) end
    local fake = registries.fake("upload-retry")
    finally(fake.stop)
    -- the upload bodies the fake received: { path, len, digest } (hashlib's)
    local function bodies(method, repo)
      local list = {}
      for m, path, len, dg in fake.log():gmatch("BODY (%u+) (%S+) (%d+) (%S+)") do
        if m == method and path:find("/v2/" .. repo .. "/", 1, true) == 1 then
          list[#list + 1] = { path = path, len = tonumber(len), digest = dg }
        end
      end
      return list
    end
    local function blob(n, salt)
      local t = {}
      for i = 1, n // 10 do t[i] = ("%010d"):format(i * salt) end
      return table.concat(t)
    end
    local log_has = function(line) return fake.log():find(line .. "\n", 1, true) ~= nil end

    -- monolithic, from a buffer (rewound by mem_seek): POST, PUT 503, PUT 201
    local data = blob(5000, 7919)
    local digest = oci.digest.hash(data)
    local c = connect(fake.host, { retries = 2, retry_delay_ms = 10 })
    local d = assert(c:push_blob("mono/app", data))
    assert.are.equal(digest, d:digest())
    local puts = bodies("PUT", "mono/app")
    assert.are.equal(2, #puts, fake.log())
    assert.are.equal(puts[1].path, puts[2].path)
    for _, b in ipairs(puts) do
      assert.are.equal(#data, b.len)
      assert.are.equal(digest, b.digest)
    end
    assert.is_true(log_has("PUT " .. puts[1].path .. " -> 503"), fake.log())
    assert.is_true(log_has("PUT " .. puts[1].path .. " -> 201"), fake.log())
    -- the fake checked the digest (hashlib) and serves what it assembled
    assert.are.equal(data, assert(c:get_blob("mono/app", digest)))

    -- in chunks (each PATCH rewound by chunk_rewind): every range twice,
    -- the same bytes, then the closing PUT (no body) twice
    local big = blob(5000, 104729)
    local bdigest = oci.digest.hash(big)
    local cc = connect(fake.host, { retries = 2, retry_delay_ms = 10, chunk_size = 2048 })
    assert.are.equal(bdigest, assert(cc:push_blob("chunked/app", big)):digest())
    local patches = bodies("PATCH", "chunked/app")
    assert.are.equal(6, #patches, fake.log())
    for k, range in ipairs({ { 0, 2047 }, { 2048, 4095 }, { 4096, 4999 } }) do
      local want = big:sub(range[1] + 1, range[2] + 1)
      for _, b in ipairs({ patches[2 * k - 1], patches[2 * k] }) do
        assert.are.equal(#want, b.len)
        assert.are.equal(oci.digest.hash(want), b.digest)
      end
    end
    local _, n503 = fake.log():gsub("PATCH /v2/chunked/app/%S+ %-> 503\n", "")
    assert.are.equal(3, n503, fake.log())
    assert.are.equal(6, fake.count_requests("PATCH", "^/v2/chunked/app/"))
    local cputs = bodies("PUT", "chunked/app")
    assert.are.equal(2, #cputs)
    assert.are.equal(0, cputs[2].len)
    assert.are.equal(big, assert(cc:get_blob("chunked/app", bdigest)))

    -- from a file (rewound by seeking the descriptor)
    local path = tmp .. "/upload-retry.bin"
    local fdata = blob(3000, 65537)
    support.write(path, fdata)
    local fd = assert(c:push_blob_file("file/app", path))
    assert.are.equal(oci.digest.hash(fdata), fd:digest())
    local fputs = bodies("PUT", "file/app")
    assert.are.equal(2, #fputs)
    assert.are.equal(fputs[1].digest, fputs[2].digest)
    assert.are.equal(oci.digest.hash(fdata), fputs[2].digest)

    -- without retries the 503 is the answer, and the body went out once
    local c0 = connect(fake.host, { retries = 0 })
    local _, info = assert_fails("registry", { "503", "/v2/none/app/blobs/uploads/" },
      c0:push_blob("none/app", "once"))
    assert.are.equal(503, info.status)
    assert.are.equal(1, #bodies("PUT", "none/app"))
  end)

  it("retries 503 and succeeds; stats count every request", function()
    if skip then return pending(skip) end
    local fake = registries.fake("503")
    finally(fake.stop)
    local c = connect(fake.host, { retries = 3, retry_delay_ms = 10 })
    local L = assert(oci.layout.create(tmp .. "/retry"))
    local desc = c:pull("retry/app", "latest", L, "latest")
    assert.is_truthy(desc)
    assert.are.equal(fake.blobs.manifest, desc:digest())
    local vok, vmsg = L:verify()
    assert.is_true(vok, vmsg)
    local stats = c:stats()
    -- every path answered 503 twice before its 200
    local served = fake.count_requests(nil, "^/v2/")
    assert.are.equal(served, stats.requests)
    assert.is_true(stats.requests >= 9, "requests " .. stats.requests) -- manifest, config, layer: 3 each
    local layer_get = "GET /v2/retry/app/blobs/" .. fake.blobs.layer
    local log = fake.log()
    assert.truthy(log:find(layer_get .. " -> 503\n" , 1, true), log)
    assert.truthy(log:find(layer_get .. " -> 200\n", 1, true), log)
    assert.are.equal(3, select(2, log:gsub(layer_get:gsub("%p", "%%%0"), "")))

    -- with fewer retries than failures: the 503 is reported
    local c1 = connect(fake.host, { retries = 1, retry_delay_ms = 10 })
    local msg, info = assert_fails("registry", { "503", "/v2/other/app/manifests/latest" },
      c1:get_manifest("other/app", "latest"))
    assert.are.equal(503, info.status)
    assert.is_true(contains(info.codes, "UNAVAILABLE"), cjson.encode(info.codes or {}))
    assert.are.equal(2, fake.count_requests("GET", "^/v2/other/app/manifests/latest$"), msg)
    assert.is_true(c1:stats().requests >= 2)
  end)

  it("honours 429 Retry-After", function()
    if skip then return pending(skip) end
    local fake = registries.fake("429")
    finally(fake.stop)
    local c = connect(fake.host, { retries = 2, retry_delay_ms = 10 })
    local t0 = now()
    local body = c:get_blob("limited/app", fake.blobs.config)
    local elapsed = now() - t0
    assert.is_truthy(body)
    assert.are.equal(fake.blobs.config, oci.digest.hash(body))
    assert.is_true(elapsed >= 0.9, ("retried after %.2f s, Retry-After said 1"):format(elapsed))
    local get = "GET /v2/limited/app/blobs/" .. fake.blobs.config
    assert.truthy(fake.log():find(get .. " -> 429\n" .. get .. " -> 200\n", 1, true), fake.log())
    assert.is_true(c:stats().requests >= 2)
  end)

  it("follows tags and catalog pages (Link headers)", function()
    if skip then return pending(skip) end
    local fake = registries.fake("ok")
    finally(fake.stop)
    local c = connect(fake.host)
    local all = assert(c:tags("page/app"))
    assert.are.same({ "latest", "t1", "t2", "t3", "t4" }, all)
    assert.are.same(all, assert(c:tags("page/app", 2)))
    -- the walk followed the Link headers: three pages of two
    assert.are.equal(3, fake.count_requests("GET", "^/v2/page/app/tags/list%?.*n=2"))
    local p1, n1 = c:tags_page("page/app", 2)
    assert.are.same({ "latest", "t1" }, p1)
    assert.are.equal("t1", n1)
    local p2, n2 = c:tags_page("page/app", 2, n1)
    assert.are.same({ "t2", "t3" }, p2)
    assert.are.equal("t3", n2)
    local p3, n3 = c:tags_page("page/app", 2, n2)
    assert.are.same({ "t4" }, p3)
    assert.is_nil(n3)
    assert.are.equal(6, fake.count_requests("GET", "^/v2/page/app/tags/list%?.*n=2"))
    -- catalog: the marker of a repository name with a slash is URL-decoded
    local r1, m1 = c:catalog_page(2)
    assert.are.same({ "fake/a", "fake/b" }, r1)
    assert.are.equal("fake/b", m1)
    assert.are.same({ "fake/a", "fake/b", "fake/c" }, assert(c:catalog(2)))
  end)

  it("a closed port: a network error naming the URL", function()
    if skip then return pending(skip) end
    local port = registries.closed_port()
    local host = "127.0.0.1:" .. port
    local c = connect(host, { retries = 0, connect_timeout = 5 })
    local _, info = assert_fails("network", { "http://" .. host .. "/v2/" }, c:ping())
    assert.are.equal(0, info.status)
    assert_fails("network", { host }, reg_module().pull(host .. "/x/y:1", tmp .. "/closed", nil, opts{ retries = 0 }))
  end)
end)
