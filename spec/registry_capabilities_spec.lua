-- Registry capabilities, learnt per client from the first request that
-- needs each (no extra request) and used: a referrers API answered 404 is
-- not asked again (the tag schema directly), a registry that ignored Range
-- gets no Range again, one that answered a mount with an upload session is
-- not asked to mount again. The fake registry's log and the fault proxy's
-- counters witness the requests saved.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")
local registry = require("ocispec.registry")

local SKIP = registries.skip_reason()
local guard = registries.guard(SKIP, pending)

local opts = registries.opts_with{ retry_delay_ms = 1, retries = 0, jobs = 1 }

describe("capabilities: referrers", function()
  it("a 404 of the referrers API is learnt once: the next calls read the tag schema only", guard(function()
    local fake = registries.fake("store")
    local ok, e = pcall(function()
      local c = assert(registry.connect(fake.host, opts()))
      assert.are.same({}, c:capabilities()) -- nothing seen yet
      local subject = fake.blobs.manifest
      local x = assert(c:referrers("app/one", subject))
      assert.are.equal(0, #x:manifests())
      assert.is_false(c:capabilities().referrers)
      assert(c:referrers("app/one", subject))
      assert(c:referrers("app/two", subject))
      -- one failing request in all; each call read its tag
      assert.are.equal(1, fake.count_requests("GET", "/referrers/"))
      assert.are.equal(3, fake.count_requests("GET", "/manifests/sha256%-"))
      c:close()
    end)
    fake.stop()
    assert(ok, e)
  end))

  it("a registry with the API is asked every time; a 404 NAME_UNKNOWN teaches nothing", guard(function()
    local fake = registries.fake("referrers")
    local ok, e = pcall(function()
      local c = assert(registry.connect(fake.host, opts()))
      local subject = fake.blobs.manifest
      assert(c:referrers("no-such-repo/x", subject))
      assert.is_nil(c:capabilities().referrers)
      assert(c:referrers("app/one", subject))
      assert(c:referrers("app/one", subject))
      assert.is_true(c:capabilities().referrers)
      assert.are.equal(3, fake.count_requests("GET", "/referrers/"))
      c:close()
    end)
    fake.stop()
    assert(ok, e)
  end))
end)

describe("capabilities: Range, mount, delete, chunk_min (docker-registry behind the fault proxy)", function()
  local env, reg, proxy, tmp, size, n = nil, nil, nil, nil, nil, 0
  setup(function()
    if SKIP then return end
    env = registries.start_proxied()
    reg, proxy, tmp = env.reg, env.proxy, env.tmp
    size = registries.push_one_layer(reg.host, "caps/app", tmp .. "/src", support.random_bytes(65536, 99),
                                     opts()):size()
  end)
  teardown(function()
    if env then env.stop() end
  end)

  local function fresh()
    n = n + 1
    return assert(oci.layout.create(("%s/pull%d"):format(tmp, n)))
  end

  it("a registry that ignored Range once gets no Range again", guard(function()
    local c = assert(registry.connect(proxy.host, opts{ retries = 1 }))
    -- cut, resumed with Range, answered 200: learnt
    proxy.configure{ cut_after = size // 2, ignore_range = 1 }
    local L1 = fresh()
    assert(c:pull("caps/app", "1", L1, "1"))
    assert.is_false(c:capabilities().range)
    -- cut again: the retry asks for the whole blob, without Range
    proxy.configure{ cut_after = size // 2, ignore_range = 1 }
    proxy.stats()
    local L2 = fresh()
    local d, msg = c:pull("caps/app", "1", L2, "1")
    local s = proxy.stats()
    proxy.configure{}
    assert(d, msg)
    assert.are.equal(0, s.ranges)
    assert.are.equal(1, s.cuts)
    L1:close()
    L2:close()
    -- a registry that answers 206 is marked so
    local c2 = assert(registry.connect(proxy.host, opts{ retries = 1 }))
    proxy.configure{ cut_after = size // 2 }
    local L3 = fresh()
    assert(c2:pull("caps/app", "1", L3, "1"))
    proxy.configure{}
    assert.is_true(c2:capabilities().range)
    L3:close()
    c:close()
    c2:close()
  end))

  it("a registry that answered a mount with an upload session is not asked to mount again", guard(function()
    proxy.configure{ no_mount = 1 }
    proxy.stats()
    local c = assert(registry.connect(proxy.host, opts()))
    local d, msg = c:copy("caps/app", "1", c, "caps/copy", "1")
    local s = proxy.stats()
    proxy.configure{}
    assert(d, msg)
    -- config and layer: one mount asked, the other blob uploaded straight
    assert.are.equal(1, s.mounts)
    assert.are.equal(2, reg.count_requests("PUT", "^/v2/caps/copy/blobs/uploads/"))
    assert.is_false(c:capabilities().mount)
    assert.are.equal(0, c:capabilities().chunk_min)
    c:close()
    -- where mounts work: yes, and each blob is mounted
    local c2 = assert(registry.connect(proxy.host, opts()))
    assert(c2:copy("caps/app", "1", c2, "caps/copy2", "1"))
    local s2 = proxy.stats()
    assert.are.equal(2, s2.mounts)
    assert.is_true(c2:capabilities().mount)
    assert.are.equal(2, c2:stats().blobs_mounted)
    c2:close()
  end))

  it("delete: 405 is learnt as no (docker-registry with delete enabled: yes)", guard(function()
    local c = assert(registry.connect(reg.host, opts()))
    local d = assert(c:copy("caps/app", "1", c, "caps/del", "1"))
    assert(c:delete_manifest("caps/del", d:digest()))
    assert.is_true(c:capabilities().delete)
    c:close()
    local fake = registries.fake("upload")
    local ok, e = pcall(function()
      local c2 = assert(registry.connect(fake.host, opts()))
      local r, msg, err = c2:delete_manifest("caps/x", fake.blobs.manifest)
      assert.is_nil(r)
      assert.are.equal("registry", err.code, msg)
      assert.are.equal(405, c2:last_response().status)
      assert.is_false(c2:capabilities().delete)
      c2:close()
    end)
    fake.stop()
    assert(ok, e)
  end))
end)
