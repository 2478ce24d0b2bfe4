-- `ocispec sync --referrers` and `registry.sync{referrers = true}` (issue
-- 16, "Mirroring: referrers optional"): each synced image's referrers graph
-- (an artifact attached to it, and one attached to that artifact) is
-- copied too, through docker-registry 2.8's tag schema fallback (it has no
-- referrers API); the summary counts them; a second sync copies none again
-- (a HEAD each) but picks up an artifact attached since; without the option
-- nothing of it reaches the destination. `oci.artifacts.discover` at the
-- destination is the witness, the registry's access log counts the PUTs.
-- The referrers of several images move jobs at once (the fault proxy in
-- front of the source counts blob GETs at once), never two of one subject
-- at once (its tag schema index would lose one); a failing referrer makes
-- its tag a failure in the summary.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")
local registry = require("ocispec.registry")

local SKIP = registries.skip_reason()
local CONN = { plain_http = true, auth_file = false }
local SIG, SBOM, NOTE = "application/vnd.example.signature", "application/vnd.example.sbom",
  "application/vnd.example.note"

local guard = registries.guard(SKIP, pending)

describe("sync with referrers", function()
  local reg, tmp, sig
  setup(function()
    if SKIP then return end
    reg = registries.start()
    tmp = registries.scratch()
    local L = assert(oci.layout.create(tmp .. "/src"))
    local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = "amd64" }, created = 0,
                                         compression = "none" })
    assert(img:add_layer{ entries = { { path = "hello", type = "file", content = "hello\n", mode = 420 } } })
    assert(L:tag(assert(img:commit()), "1.0"))
    assert(registry.push(L, "1.0", reg.host .. "/src/app:1.0", CONN))
    assert(registry.push(L, "1.0", reg.host .. "/src/app:2.0", CONN))
    L:close()
    support.write(tmp .. "/sig.txt", "signed\n")
    support.write(tmp .. "/sbom.json", '{"packages":[]}\n')
    local o = { artifact_type = SIG }
    for k, v in pairs(CONN) do o[k] = v end
    sig = assert(oci.artifacts.attach(reg.host .. "/src/app:1.0", { tmp .. "/sig.txt" }, o))
    -- a referrer of the referrer
    o.artifact_type = SBOM
    assert(oci.artifacts.attach(reg.host .. "/src/app@" .. sig:digest(), { tmp .. "/sbom.json" }, o))
  end)
  teardown(function()
    if reg then reg.stop() end
    if tmp then support.rmdir(tmp) end
  end)

  local ocispec = support.cli_runner(function() return tmp end)
  -- the artifact types of the referrers tree at ref: { [type] = {child types} }
  local function tree(ref)
    local t = assert(oci.artifacts.discover(ref, CONN))
    local out = {}
    for _, r in ipairs(t.referrers) do
      local kids = {}
      for _, k in ipairs(r.referrers) do kids[#kids + 1] = k.descriptor:artifact_type() end
      out[r.descriptor:artifact_type()] = kids
    end
    return out
  end
  local function manifest_puts(repo)
    return reg.count_requests("PUT", "^/v2/" .. repo:gsub("%p", "%%%0") .. "/manifests/")
  end

  it("ocispec sync --referrers copies each image's referrers graph and counts it", guard(function()
    local out, err, status = ocispec(("sync --plain-http --referrers --filter '^1' %s/src/app %s/dst/app")
      :format(reg.host, reg.host))
    assert.are.equal(0, status, err)
    assert.truthy(out:find("1 copied, 0 skipped, 0 failed, 2 referrer(s) copied", 1, true), out)
    assert.are.same({ [SIG] = { SBOM } }, tree(reg.host .. "/dst/app:1.0"))

    -- again: the image is skipped, its referrers are there (HEADs only)
    local puts = manifest_puts("dst/app")
    out, err, status = ocispec(("sync --plain-http --referrers --json --filter '^1' %s/src/app %s/dst/app")
      :format(reg.host, reg.host))
    assert.are.equal(0, status, err)
    local res = oci.json.decode(out)
    assert.are.same({ "1.0" }, res.skipped)
    assert.are.equal(0, res.referrers)
    assert.are.equal(puts, manifest_puts("dst/app"))

    -- an artifact attached since is picked up by the next sync
    support.write(tmp .. "/note.txt", "note\n")
    local o = { artifact_type = NOTE }
    for k, v in pairs(CONN) do o[k] = v end
    assert(oci.artifacts.attach(reg.host .. "/src/app:1.0", { tmp .. "/note.txt" }, o))
    out, err, status = ocispec(("sync --plain-http --referrers --filter '^1' %s/src/app %s/dst/app")
      :format(reg.host, reg.host))
    assert.are.equal(0, status, err)
    assert.truthy(out:find("0 copied, 1 skipped, 0 failed, 1 referrer(s) copied", 1, true), out)
    assert.are.same({ [SIG] = { SBOM }, [NOTE] = {} }, tree(reg.host .. "/dst/app:1.0"))
  end))

  it("without referrers nothing of the graph is copied", guard(function()
    local out, err, status = ocispec(("sync --plain-http --filter '^1' %s/src/app %s/plain/app")
      :format(reg.host, reg.host))
    assert.are.equal(0, status, err)
    assert.truthy(out:find("1 copied, 0 skipped, 0 failed\n", 1, true), out)
    assert.are.same({}, tree(reg.host .. "/plain/app:1.0"))
  end))

  it("registry.sync and sync_list take referrers = true", guard(function()
    local o = { referrers = true, filter = "^2" }
    for k, v in pairs(CONN) do o[k] = v end
    -- 2.0 is the same image as 1.0: it has the same referrers
    local res = assert(registry.sync(reg.host .. "/src/app", reg.host .. "/lua/app", o))
    assert.are.same({ "2.0" }, res.copied)
    assert.is_true(res.referrers >= 2)
    assert.are.equal(SBOM, tree(reg.host .. "/lua/app:2.0")[SIG][1])
    local list = { [reg.host] = { images = { ["src/app"] = { "1.0" } }, ["plain-http"] = true } }
    res = assert(registry.sync_list(list, reg.host .. "/listed", { referrers = true, plain_http = true,
                                                                   auth_file = false }))
    assert.are.same({ reg.host .. "/src/app:1.0" }, res.copied)
    assert.is_true(res.referrers >= 2)
    assert.are.equal(SBOM, tree(reg.host .. "/listed/app:1.0")[SIG][1])
  end))

  it("copies the referrers of several images jobs at once: the same graph arrives; a failing one is reported",
    guard(function()
      -- three images, each with a signature and an SBOM (two referrers of
      -- one subject: copied one after the other, the tag schema index
      -- being read and written by each), and a note on image 1's signature
      local L = assert(oci.layout.create(tmp .. "/par"))
      local c = assert(registry.connect(reg.host, CONN))
      local sboms = {}
      for i = 1, 3 do
        local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = "amd64" }, created = 0,
                                             compression = "none" })
        assert(img:add_layer{ entries = { { path = "i", type = "file", content = "image " .. i, mode = 420 } } })
        assert(L:tag(assert(img:commit()), tostring(i)))
        assert(registry.push(L, tostring(i), ("%s/par/app:%d"):format(reg.host, i), CONN))
        local o = { artifact_type = SIG }
        for k, v in pairs(CONN) do o[k] = v end
        support.write(tmp .. "/sig.txt", "signature " .. i)
        local s1 = assert(oci.artifacts.attach(("%s/par/app:%d"):format(reg.host, i), { tmp .. "/sig.txt" }, o))
        o.artifact_type = SBOM
        support.write(tmp .. "/sbom.json", ('{"image":%d}'):format(i))
        local s2 = assert(oci.artifacts.attach(("%s/par/app:%d"):format(reg.host, i), { tmp .. "/sbom.json" }, o))
        sboms[i] = assert(c:get_manifest("par/app", s2:digest())):layers()[1]:digest()
        if i == 1 then
          o.artifact_type = NOTE
          support.write(tmp .. "/note.txt", "note")
          assert(oci.artifacts.attach(reg.host .. "/par/app@" .. s1:digest(), { tmp .. "/note.txt" }, o))
        end
      end
      L:close()
      c:close()
      local want = { [SIG] = { NOTE }, [SBOM] = {} }
      assert.are.same(want, tree(reg.host .. "/par/app:1"))

      local proxy = registries.proxy(reg.port)
      local ok, e = pcall(function()
        local o = { plain_http = true, auth_file = false, jobs = 4, retries = 0, retry_delay_ms = 1,
                    filter = "^[0-9]+$" } -- not the tag schema indexes
        -- the images first; then, with every blob GET of the source held
        -- 150 ms, only the referrers move: the proxy counts GETs at once
        assert(registry.sync(proxy.host .. "/par/app", reg.host .. "/pdst/app", o))
        proxy.configure{ delay_ms = 150 }
        proxy.stats()
        o.referrers = true
        local res = assert(registry.sync(proxy.host .. "/par/app", reg.host .. "/pdst/app", o))
        local st = proxy.stats()
        proxy.configure{}
        assert.are.same({ "1", "2", "3" }, res.skipped)
        assert.are.equal(7, res.referrers)
        -- one referrer copied at a time moves at most its 2 blobs at once
        assert.is_true(st.max_get >= 3, ("at most %d blob GETs at once"):format(st.max_get))
        for i = 1, 3 do
          assert.are.same(tree(("%s/par/app:%d"):format(reg.host, i)), tree(("%s/pdst/app:%d"):format(reg.host, i)))
        end

        -- image 2's SBOM cannot be read at the source: tag 2 fails with
        -- the reason, the others arrive whole
        proxy.configure{ fail = sboms[2] }
        res = assert(registry.sync(proxy.host .. "/par/app", reg.host .. "/pfail/app", o))
        proxy.configure{}
        assert.are.same({ "1", "3" }, res.copied)
        assert.are.equal(1, #res.failed)
        assert.are.equal("2", res.failed[1].tag)
        assert.truthy(res.failed[1].message:find("^referrers: "), res.failed[1].message)
        assert.truthy(res.failed[1].message:find(sboms[2], 1, true), res.failed[1].message)
        assert.is_table(res.failed[1].err)
        assert.are.same(want, tree(reg.host .. "/pfail/app:1"))
        assert.are.same({ [SIG] = {}, [SBOM] = {} }, tree(reg.host .. "/pfail/app:3"))
      end)
      proxy.stop()
      assert(ok, e)
    end))

  it("checks the option", function()
    support.assert_raises("option 'referrers' must be a boolean", registry.sync, "h/a", "h/b", { referrers = 1 })
    support.assert_raises("option 'referrers' must be a boolean", registry.sync_list, {}, "h/b", { referrers = "y" })
  end)
end)

-- A hostile source's referrers graph (tests/registry/fake_registry.py,
-- mode referrers-hostile; the destination "has" every referrer, so only
-- the walk runs): a cycle through the image and a referrer of itself ends;
-- a graph deeper than REFERRERS_DEPTH, and indexes that list the same
-- referrers again and again (each GET cheap to serve, 40 times their
-- size to parse), fail with "too_big" after a bounded number of requests.
describe("sync --referrers against a hostile source", function()
  local PSKIP = registries.skip_reason("python3")
  local pguard = registries.guard(PSKIP, pending)
  local fake
  setup(function()
    if not PSKIP then fake = registries.fake("referrers-hostile") end
  end)
  teardown(function()
    if fake then fake.stop() end
  end)
  local function sync_of(name)
    local o = { referrers = true, filter = "^latest$" }
    for k, v in pairs(CONN) do o[k] = v end
    return registry.sync(fake.host .. "/" .. name .. "/app", fake.host .. "/dst/app", o)
  end
  local function referrer_gets(name)
    return fake.count_requests("GET", "^/v2/" .. name .. "/app/referrers/")
  end

  it("a cycle, and a referrer of itself, end: each node asked once", pguard(function()
    local res = assert(sync_of("cycle"))
    assert.are.same({ "latest" }, res.skipped)
    assert.are.same({}, res.failed)
    assert.are.equal(0, res.referrers) -- the destination has them all
    assert.are.equal(3, referrer_gets("cycle"))
  end))

  it("a graph deeper than REFERRERS_DEPTH fails, naming the bound", pguard(function()
    local res = assert(sync_of("deep"))
    assert.are.equal(1, #res.failed)
    assert.are.equal("too_big", res.failed[1].err.code, res.failed[1].message)
    assert.truthy(res.failed[1].message:find("deeper than 8", 1, true), res.failed[1].message)
    assert.are.equal(9, referrer_gets("deep"))
  end))

  it("indexes listing the same referrers over and over stop at the bound of entries read", pguard(function()
    local sync = require "ocispec.sync"
    local max = sync.REFERRERS_MAX
    sync.REFERRERS_MAX = 1000 -- 4000 entries read at most; 50 + 50 * 2000 listed
    local ok, res = pcall(sync_of, "fanout")
    sync.REFERRERS_MAX = max
    assert(ok, res)
    assert.are.equal(1, #res.failed)
    assert.are.equal("too_big", res.failed[1].err.code, res.failed[1].message)
    assert.truthy(res.failed[1].message:find("more than 4000 entries listed", 1, true), res.failed[1].message)
    assert.is_true(referrer_gets("fanout") <= 4)
  end))

  it("oci.artifacts.discover has the same bound of entries read", pguard(function()
    local max = oci.artifacts.MAX_NODES
    oci.artifacts.MAX_NODES = 1000
    local before = referrer_gets("fanout")
    local ok, t, msg, err = pcall(oci.artifacts.discover, fake.host .. "/fanout/app:latest", CONN)
    oci.artifacts.MAX_NODES = max
    assert(ok, t)
    assert.is_nil(t)
    assert.are.equal("too_big", err.code, msg)
    assert.truthy(msg:find("discover: more than 4000 entries listed", 1, true), msg)
    assert.is_true(referrer_gets("fanout") - before <= 4)
  end))
end)
