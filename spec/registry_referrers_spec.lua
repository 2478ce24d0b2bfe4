-- Referrers (distribution-spec v1.1 "Listing Referrers", "Pushing
-- Manifests with Subject"), both ways a registry can answer:
--   * the referrers API: tests/registry/fake_registry.py's "referrers"
--     modes answer 200 on /v2/<name>/referrers/<digest> and OCI-Subject on
--     a manifest PUT with a subject (docker-registry 2.8 does neither);
--   * the referrers tag schema on docker-registry: the index tagged
--     <alg>-<hex>, which a push updates. Adding a referrer to an existing
--     index keeps its entries, checked by an independent read of the
--     index (tests/registry/read_image.py: urllib and json).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local cjson = require("cjson")
local oci = require("ocispec")
local registry = require("ocispec.registry")
local MT = oci.image.MediaType

local q, sh = registries.quote, registries.sh
local READ_IMAGE = here .. "../tests/registry/read_image.py"

local NO_PYTHON = registries.missing("python3")
local NO_REGISTRY = registries.skip_reason()

local function connect(host, extra)
  return assert(registry.connect(host, registries.opts({ retry_delay_ms = 1, retries = 1 }, extra)))
end

local assert_fails = support.assert_error

-- The registry's document REF of REPO as Python reads it:
-- {status, content_type, digest, size, body (decoded JSON)}.
local function read_manifest(base, repo, ref)
  local out, ok = sh(("env -u LD_PRELOAD python3 %s manifest %s %s %s")
    :format(q(READ_IMAGE), q(base), q(repo), q(ref)))
  assert(ok, out)
  return cjson.decode(out)
end

-- The digests of an index's entries (a decoded JSON table), in order, and
-- the entries by digest.
local function entries(index)
  local list, by = {}, {}
  for i, d in ipairs(index.manifests) do
    list[i] = d.digest
    by[d.digest] = d
  end
  return list, by
end

local function digests(idx)
  local list = {}
  for i, d in ipairs(idx:manifests()) do list[i] = d:digest() end
  return list
end

-- A layout holding a small image tagged "base" and, for each of `arts`
-- ({name, artifact_type, payload, annotations}), an artifact manifest whose
-- subject is the base, tagged with its name. Returns the layout and the
-- descriptors {base = d, [name] = d}.
local function layout_with_artifacts(dir, arts)
  local L = assert(oci.layout.create(dir))
  local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = "amd64" }, created = 0 })
  assert(img:add_layer{ entries = { { path = "f", type = "file", content = "base\n", mode = 420 } } })
  local base = assert(img:commit())
  assert(L:tag(base, "base"))
  local out = { base = base }
  local empty = assert(L:put_blob("{}", MT.EmptyJSON))
  for _, a in ipairs(arts) do
    local blob = assert(L:put_blob(a.payload, a.artifact_type ~= "-" and a.artifact_type or "application/octet-stream"))
    local t = {
      schemaVersion = 2, mediaType = MT.ImageManifest,
      config = empty:to_table(), layers = { blob:to_table() },
      subject = { mediaType = base:media_type(), digest = base:digest(), size = base:size() },
    }
    if a.artifact_type ~= "-" then t.artifactType = a.artifact_type end
    if a.config_type then
      local cfg = assert(L:put_blob('{"for":"' .. a.name .. '"}', a.config_type))
      t.config = cfg:to_table()
    end
    t.annotations = a.annotations
    local d = assert(L:put_document(assert(oci.image.ImageManifest.from_table(t))))
    assert(L:tag(d, a.name))
    out[a.name] = d
  end
  return L, out
end

local SBOM, SIG = "application/vnd.example.sbom", "application/vnd.example.sig"

describe("referrers API (a registry answering 200 on /referrers/)", function()
  local tmp
  setup(function() tmp = registries.scratch() end)
  teardown(function() if tmp then support.rmdir(tmp) end end)

  it("push uses OCI-Subject (no fallback tag); referrers lists and filters through the API", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local fake = registries.fake("referrers")
    finally(fake.stop)
    local L, d = layout_with_artifacts(tmp .. "/api", {
      { name = "sbom", artifact_type = SBOM, payload = '{"spdxVersion":"SPDX-2.3"}',
        annotations = { ["org.example.kind"] = "sbom" } },
      { name = "sig", artifact_type = SIG, payload = "signature" },
    })
    local c = connect(fake.host)
    for _, name in ipairs({ "base", "sbom", "sig" }) do
      local pushed = assert(c:push(L, name, "api/app", name))
      assert.are.equal(d[name]:digest(), pushed:digest())
    end
    -- the registry answered OCI-Subject: the client left the tag schema alone
    local tag = assert(oci.digest.referrers_tag(d.base:digest()))
    assert.are.equal(0, fake.count_requests(nil, "/manifests/" .. tag), fake.log())
    assert.are.equal(3, fake.count_requests("PUT", "^/v2/api/app/manifests/"))

    local refs = assert(c:referrers("api/app", d.base:digest()))
    local want = { d.sbom:digest(), d.sig:digest() }
    table.sort(want)
    local got = digests(refs)
    table.sort(got)
    assert.are.same(want, got)
    for _, r in ipairs(refs:manifests()) do
      local sbom = r:digest() == d.sbom:digest()
      assert.are.equal(sbom and SBOM or SIG, r:artifact_type())
      assert.are.equal(MT.ImageManifest, r:media_type())
      assert.are.equal(sbom and d.sbom:size() or d.sig:size(), r:size())
      if sbom then assert.are.same({ ["org.example.kind"] = "sbom" }, r:annotations()) end
    end
    assert.are.equal(1, fake.count_requests("GET", "^/v2/api/app/referrers/" .. d.base:digest() .. "$"))
    assert.truthy(fake.log():find("GET /v2/api/app/referrers/" .. d.base:digest() .. " -> 200\n", 1, true))

    -- the server applies the filter (OCI-Filters-Applied) and says so
    local only = assert(c:referrers("api/app", d.base:digest(), SIG))
    assert.are.same({ d.sig:digest() }, digests(only))
    assert.are.equal(1, fake.count_requests("GET", "^/v2/api/app/referrers/sha256:%x+%?artifactType="))
    -- nothing refers to the sbom: an empty index from the API, no fallback
    assert.are.same({}, digests(assert(c:referrers("api/app", d.sbom:digest()))))
    assert.are.equal(0, fake.count_requests(nil, "/manifests/sha256%-"), fake.log())
    L:close()
    c:close()
  end)

  it("a registry that ignores artifactType (no OCI-Filters-Applied): the client filters", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local fake = registries.fake("referrers-unfiltered")
    finally(fake.stop)
    local L, d = layout_with_artifacts(tmp .. "/unfiltered", {
      { name = "sbom", artifact_type = SBOM, payload = "{}" },
      -- no artifactType: the config's media type stands for it
      { name = "cfg", artifact_type = "-", payload = "x", config_type = "application/vnd.example.config" },
    })
    local c = connect(fake.host)
    for _, name in ipairs({ "base", "sbom", "cfg" }) do assert(c:push(L, name, "unf/app", name)) end
    local all = assert(c:referrers("unf/app", d.base:digest()))
    assert.are.equal(2, #all:manifests())
    local cfg = assert(c:referrers("unf/app", d.base:digest(), "application/vnd.example.config"))
    assert.are.same({ d.cfg:digest() }, digests(cfg))
    assert.are.equal("application/vnd.example.config", cfg:manifests()[1]:artifact_type())
    assert.are.same({ d.sbom:digest() }, digests(assert(c:referrers("unf/app", d.base:digest(), SBOM))))
    assert.are.same({}, digests(assert(c:referrers("unf/app", d.base:digest(), "application/none"))))
    -- the server sent both each time: the filter was ours
    assert.are.equal(3, fake.count_requests("GET", "^/v2/unf/app/referrers/sha256:%x+%?artifactType="))
    L:close()
    c:close()
  end)

  it("a 200 whose body is not an image index is a registry error naming the URL and the pointer", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local fake = registries.fake("referrers")
    finally(fake.stop)
    local c = connect(fake.host)
    local subject = fake.blobs.broken_subject
    assert_fails("registry", { "GET", "/v2/bad/app/referrers/" .. subject, "bad index", "/manifests" },
      c:referrers("bad/app", subject))
    c:close()
  end)
end)

-- Pushes a base image to host, seeds its tag schema index with a foreign
-- entry, pushes two referrers (one of them twice) and checks, reading the
-- index with Python, that every entry is kept, in order, once.
local function keeps_entries(host, dir)
  local L, d = layout_with_artifacts(dir, {
    { name = "sbom", artifact_type = SBOM, payload = '{"a":1}', annotations = { ["org.example.n"] = "1" } },
    { name = "sig", artifact_type = SIG, payload = "sig" },
  })
  local c = connect(host)
  assert(c:push(L, "base", "keep/app", "base"))
  local tag = assert(oci.digest.referrers_tag(d.base:digest()))
  -- an index someone else made: an entry we never pushed, with a field
  -- of a later spec and annotations; ours must not lose any of it
  local other = assert(c:push_blob("keep/app", '{"other":true}', MT.ImageConfig))
  local foreign = assert(c:put_manifest("keep/app", "foreign", assert(oci.image.ImageManifest.from_table{
    schemaVersion = 2, mediaType = MT.ImageManifest, artifactType = "application/vnd.example.foreign",
    config = other:to_table(), layers = {},
    subject = { mediaType = d.base:media_type(), digest = d.base:digest(), size = d.base:size() },
  })))
  local seeded = ('{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s",'
    .. '"size":%d,"artifactType":"application/vnd.example.foreign","annotations":{"org.example.by":"other"},'
    .. '"x-future":[1,2]}]}'):format(MT.ImageIndex, MT.ImageManifest, foreign:digest(), foreign:size())
  assert(c:put_manifest("keep/app", tag, seeded, MT.ImageIndex))
  local base_url = "http://" .. host
  assert.are.same({ foreign:digest() }, (entries(read_manifest(base_url, "keep/app", tag).body)))

  assert(c:push(L, "sbom", "keep/app", "sbom"))
  local after1 = read_manifest(base_url, "keep/app", tag)
  assert.are.same({ foreign:digest(), d.sbom:digest() }, (entries(after1.body)))

  assert(c:push(L, "sig", "keep/app", "sig"))
  -- pushing one again adds nothing twice
  assert(c:push(L, "sbom", "keep/app", "sbom"))
  local final = read_manifest(base_url, "keep/app", tag)
  assert.are.equal(200, final.status)
  assert.are.equal(MT.ImageIndex, final.body.mediaType)
  local list, by = entries(final.body)
  assert.are.same({ foreign:digest(), d.sbom:digest(), d.sig:digest() }, list)
  -- the foreign entry, untouched
  local f = by[foreign:digest()]
  assert.are.same({ ["org.example.by"] = "other" }, f.annotations)
  assert.are.same({ 1, 2 }, f["x-future"])
  assert.are.equal("application/vnd.example.foreign", f.artifactType)
  -- ours: the manifest's artifactType, size and annotations; no ref.name
  assert.are.equal(SBOM, by[d.sbom:digest()].artifactType)
  assert.are.equal(d.sbom:size(), by[d.sbom:digest()].size)
  assert.are.same({ ["org.example.n"] = "1" }, by[d.sbom:digest()].annotations)
  assert.are.equal(SIG, by[d.sig:digest()].artifactType)
  assert.is_nil(by[d.sig:digest()].annotations)
  assert.are.equal(MT.ImageManifest, by[d.sig:digest()].mediaType)

  -- our listing agrees with the independent read
  assert.are.same(list, digests(assert(c:referrers("keep/app", d.base:digest()))))
  assert.are.same({ d.sig:digest() }, digests(assert(c:referrers("keep/app", d.base:digest(), SIG))))
  L:close()
  c:close()
end

-- A layout with a base image and one referrer "sig", the base pushed to
-- host's repo; returns the layout, its descriptors, the client and the
-- base's tag schema tag.
local function base_pushed(host, dir, repo)
  local L, d = layout_with_artifacts(dir, { { name = "sig", artifact_type = SIG, payload = "sig" } })
  local c = connect(host)
  assert(c:push(L, "base", repo, "base"))
  return L, d, c, assert(oci.digest.referrers_tag(d.base:digest()))
end

-- Pushing the referrer and listing referrers both fail with "not an image
-- index" and `why`; the tag still holds the bytes it held.
local function refused_left_alone(host, L, d, c, repo, tag, why)
  local base_url = "http://" .. host
  local before = read_manifest(base_url, repo, tag)
  assert.are.equal(200, before.status)
  local parts = { "referrers tag " .. tag, repo, "not an image index", why }
  assert_fails("registry", parts, c:push(L, "sig", repo, "sig"))
  assert_fails("registry", parts, c:referrers(repo, d.base:digest()))
  local after = read_manifest(base_url, repo, tag)
  assert.are.equal(before.digest, after.digest)
  assert.are.equal(before.content_type, after.content_type)
end

describe("referrers tag schema (no referrers API)", function()
  local tmp, reg
  setup(function()
    tmp = registries.scratch()
    if not NO_REGISTRY and not NO_PYTHON then reg = registries.start() end
  end)
  teardown(function()
    if reg then reg.stop() end
    if tmp then support.rmdir(tmp) end
  end)

  local function skip_reason() return NO_REGISTRY or NO_PYTHON end

  it("adding a referrer to an existing index keeps its entries (docker-registry 2.8)", function()
    if skip_reason() then return pending(skip_reason()) end
    keeps_entries(reg.host, tmp .. "/keep")
  end)

  it("adding a referrer to an existing index keeps its entries (fake registry, distribution-spec 1.0)", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local fake = registries.fake("store")
    finally(fake.stop)
    keeps_entries(fake.host, tmp .. "/keep-fake")
    -- the API's 404 is learnt once per client (capabilities): later
    -- calls read the tag schema directly
    assert.are.equal(1, fake.count_requests("GET", "/referrers/"), fake.log())
    assert.truthy(fake.log():find("/referrers/sha256:%x+ %-> 404\n"), fake.log())
  end)

  it("a tag holding an image manifest is reported, never overwritten (docker-registry 2.8)", function()
    if skip_reason() then return pending(skip_reason()) end
    local repo = "notindex/app"
    local L, d, c, tag = base_pushed(reg.host, tmp .. "/notindex", repo)
    -- an image manifest (the base itself) under the schema's tag; 2.8
    -- answers 404 to an Accept of indexes only: that is no empty tag
    assert(c:put_manifest(repo, tag, assert(L:get_blob(d.base:digest())), MT.ImageManifest))
    refused_left_alone(reg.host, L, d, c, repo, tag, "the registry serves it as " .. MT.ImageManifest)
    L:close()
    c:close()
  end)

  it("whatever else the tag holds is reported and left alone (fake registry)", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local fake = registries.fake("store")
    finally(fake.stop)
    local DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
    local cases = {
      { DOCKER_LIST, ('{"schemaVersion":2,"mediaType":"%s","manifests":[]}'):format(DOCKER_LIST),
        "the registry serves it as " .. DOCKER_LIST },
      -- served as an index, but the body says it is a manifest
      { MT.ImageIndex, ('{"schemaVersion":2,"mediaType":"%s","manifests":[]}'):format(MT.ImageManifest),
        "its mediaType is " .. MT.ImageManifest },
      { MT.ImageIndex, "not json at all", "1:1" },
      { "application/json", '{"schemaVersion":2,"manifests":{}}', "/manifests" },
    }
    for i, case in ipairs(cases) do
      local repo = "other" .. i .. "/app"
      local L, d, c, tag = base_pushed(fake.host, tmp .. "/other" .. i, repo)
      assert(c:put_manifest(repo, tag, case[2], case[1]))
      refused_left_alone(fake.host, L, d, c, repo, tag, case[3])
      -- nothing but the refused tag was written after the referrer itself
      assert.are.equal(1, fake.count_requests("PUT", "^/v2/" .. repo .. "/manifests/" .. tag:gsub("%-", "%%-") .. "$"))
      L:close()
      c:close()
    end
  end)
end)

-- put_manifest keeps the tag schema too (not only push): a manifest and
-- an index with a subject, put directly, are listed by referrers() and by
-- an independent read of the tag's index; putting one again adds nothing.
local function put_keeps_schema(host, dir, repo)
  local L, d = layout_with_artifacts(dir, {
    { name = "sbom", artifact_type = SBOM, payload = '{"b":2}', annotations = { ["org.example.n"] = "2" } },
  })
  local c = connect(host)
  assert(c:push(L, "base", repo, "base"))
  local tag = assert(oci.digest.referrers_tag(d.base:digest()))
  -- the layout's bytes, put by tag: the registry gets the digest d.sbom has
  local bytes = assert(L:get_blob(d.sbom:digest()))
  local m = assert(oci.image.ImageManifest.from_json(bytes))
  for _, b in ipairs({ m:config(), m:layers()[1] }) do assert(c:push_blob_from_layout(repo, L, b)) end
  local put = assert(c:put_manifest(repo, "sbom", bytes, MT.ImageManifest))
  assert.are.equal(d.sbom:digest(), put:digest())
  -- an index with a subject (image-index.md allows one) and an artifactType
  local idx = ('{"schemaVersion":2,"mediaType":"%s","artifactType":"application/vnd.example.idx",'
    .. '"manifests":[],"subject":{"mediaType":"%s","digest":"%s","size":%d}}')
    :format(MT.ImageIndex, d.base:media_type(), d.base:digest(), d.base:size())
  local xd = assert(c:put_manifest(repo, oci.digest.sha256(idx), idx, MT.ImageIndex))
  assert(c:put_manifest(repo, "sbom-again", bytes, MT.ImageManifest))
  local got = read_manifest("http://" .. host, repo, tag)
  assert.are.equal(200, got.status)
  assert.are.equal(MT.ImageIndex, got.body.mediaType)
  local list, by = entries(got.body)
  assert.are.same({ d.sbom:digest(), xd:digest() }, list)
  assert.are.equal(SBOM, by[d.sbom:digest()].artifactType)
  assert.are.equal(MT.ImageManifest, by[d.sbom:digest()].mediaType)
  assert.are.equal(d.sbom:size(), by[d.sbom:digest()].size)
  assert.are.same({ ["org.example.n"] = "2" }, by[d.sbom:digest()].annotations)
  assert.are.equal("application/vnd.example.idx", by[xd:digest()].artifactType)
  assert.are.equal(MT.ImageIndex, by[xd:digest()].mediaType)
  assert.are.equal(#idx, by[xd:digest()].size)
  assert.are.same(list, digests(assert(c:referrers(repo, d.base:digest()))))
  assert.are.same({ xd:digest() }, digests(assert(c:referrers(repo, d.base:digest(), "application/vnd.example.idx"))))
  L:close()
  c:close()
  return d, tag
end

describe("put_manifest with a subject", function()
  local tmp, reg
  setup(function()
    tmp = registries.scratch()
    if not NO_REGISTRY and not NO_PYTHON then reg = registries.start() end
  end)
  teardown(function()
    if reg then reg.stop() end
    if tmp then support.rmdir(tmp) end
  end)

  it("updates the referrers tag schema index (docker-registry 2.8, which has no referrers API)", function()
    if NO_REGISTRY or NO_PYTHON then return pending(NO_REGISTRY or NO_PYTHON) end
    local d = put_keeps_schema(reg.host, tmp .. "/put", "put/app")
    -- the reason for the fallback, seen by Python: no referrers API there
    local api = cjson.decode((sh(("env -u LD_PRELOAD python3 %s referrers %s put/app %s")
      :format(q(READ_IMAGE), q("http://" .. reg.host), q(d.base:digest())))))
    assert.are.equal(404, api.status)
  end)

  it("updates the referrers tag schema index (fake registry, distribution-spec 1.0)", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local fake = registries.fake("store")
    finally(fake.stop)
    put_keeps_schema(fake.host, tmp .. "/put-fake", "putf/app")
  end)

  it("leaves the tag schema alone when the registry answers OCI-Subject", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local fake = registries.fake("referrers")
    finally(fake.stop)
    local L, d = layout_with_artifacts(tmp .. "/put-api", { { name = "sig", artifact_type = SIG, payload = "s" } })
    local c = connect(fake.host)
    assert(c:push(L, "base", "puta/app", "base"))
    assert(c:put_manifest("puta/app", "sig", assert(L:get_blob(d.sig:digest())), MT.ImageManifest))
    local tag = assert(oci.digest.referrers_tag(d.base:digest()))
    assert.are.equal(0, fake.count_requests(nil, "/manifests/" .. tag), fake.log())
    assert.are.same({ d.sig:digest() }, digests(assert(c:referrers("puta/app", d.base:digest()))))
    L:close()
    c:close()
  end)

  it("a subject planted in the tag's index starts no chain of updates", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local fake = registries.fake("store")
    finally(fake.stop)
    local repo = "chain/app"
    local L, d, c, tag = base_pushed(fake.host, tmp .. "/chain", repo)
    -- the index under the base's tag names a subject: another digest
    local other = oci.digest.sha256("another subject")
    local other_tag = assert(oci.digest.referrers_tag(other))
    local planted = ('{"schemaVersion":2,"mediaType":"%s","manifests":[],'
      .. '"subject":{"mediaType":"%s","digest":"%s","size":15}}'):format(MT.ImageIndex, MT.ImageManifest, other)
    -- (putting it is itself a put with a subject: other's index gets it)
    assert(c:put_manifest(repo, tag, planted, MT.ImageIndex))
    local other_path = "/manifests/" .. other_tag:gsub("%-", "%%-")
    assert.are.equal(1, fake.count_requests("PUT", other_path), fake.log())
    local before = read_manifest("http://" .. fake.host, repo, other_tag)
    assert(c:put_manifest(repo, "sig", assert(L:get_blob(d.sig:digest())), MT.ImageManifest))
    assert.are.same({ d.sig:digest() }, digests(assert(c:referrers(repo, d.base:digest()))))
    -- the base's index was rewritten once, other's never again
    assert.are.equal(1, fake.count_requests("PUT", other_path), fake.log())
    assert.are.equal(before.digest, read_manifest("http://" .. fake.host, repo, other_tag).digest)
    L:close()
    c:close()
  end)
end)
