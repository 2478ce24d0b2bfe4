-- `ocispec sync --referrers` and `registry.sync{referrers = true}` (issue
-- 16, "Mirroring: referrers optional"): each synced image's referrers graph
-- (an artifact attached to it, and one attached to that artifact) is
-- copied too, through docker-registry 2.8's tag schema fallback (it has no
-- referrers API); the summary counts them; a second sync copies none again
-- (a HEAD each) but picks up an artifact attached since; without the option
-- nothing of it reaches the destination. `oci.artifacts.discover` at the
-- destination is the witness, the registry's access log counts the PUTs.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")
local registry = require("ocispec.registry")
local q = registries.quote

local BIN = assert(oci.core.realpath(here .. "../bin/ocispec"))
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

  local function ocispec(args)
    local _, _, status = os.execute(("cd %s && lua5.4 %s %s >out.txt 2>err.txt </dev/null")
      :format(q(tmp), q(BIN), args))
    return support.read(tmp .. "/out.txt") or "", support.read(tmp .. "/err.txt") or "", status
  end
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
