-- copy between two clients streams each blob: a second thread downloads it
-- into a temporary file while the upload to the destination reads from
-- that file as the bytes arrive (registry_image.c copy_streamed). The
-- source is docker-registry behind tests/registry/fault_proxy.py (which
-- cuts a download in the middle) or the fake registry's "mismatch" mode
-- (a layer's bytes that do not match its digest); the destination is a
-- second docker-registry, whose access log is the witness.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")
local registry = require("ocispec.registry")

local SKIP = registries.skip_reason("python3") -- the fault proxy and the fake

local opts = registries.opts_with{ retry_delay_ms = 1, retries = 0 }

local pending_or = registries.guard(SKIP, pending)

describe("copy between two clients (streamed)", function()
  local env, src, dst, proxy, tmp, layer, size
  setup(function()
    if SKIP then return end
    env = registries.start_proxied()
    src, proxy, tmp = env.reg, env.proxy, env.tmp
    dst = registries.start()
    -- one incompressible 512 KiB layer (stored as it is)
    local d = registries.push_one_layer(src.host, "s/app", tmp .. "/src", support.random_bytes(524288, 4242), opts())
    layer, size = d:digest(), d:size()
  end)
  teardown(function()
    if dst then dst.stop() end
    if env then env.stop() end
  end)

  it("moves every blob, progress on the calling thread, and both clients work after", pending_or(function()
    local seen = {}
    local progress = function(digest, done, total)
      seen[digest] = seen[digest] or {}
      if done == total then seen[digest].ended = true end
      return true
    end
    for _, jobs in ipairs({ 1, 4 }) do
      seen = {}
      local a = assert(registry.connect(src.host, opts{ jobs = jobs, progress = progress }))
      local b = assert(registry.connect(dst.host, opts{ jobs = jobs, progress = progress }))
      local repo = "ok/jobs" .. jobs
      assert(a:copy("s/app", "1", b, repo, "1"))
      assert.are.equal(2, b:stats().blobs_uploaded) -- config and layer
      assert.is_true(seen[layer] and seen[layer].ended, "no progress for the layer")
      -- what the destination holds hashes to its digest (python3 hashlib)
      local got = assert(b:get_blob(repo, layer))
      local path = tmp .. "/got" .. jobs
      support.write(path, got)
      assert.are.equal(layer, support.sha256_file(path))
      assert.are.equal(size, #got)
      -- the source client's own reports and transfers work on (they were
      -- set aside while its download ran on the second thread)
      seen = {}
      local L = assert(oci.layout.create(tmp .. "/after" .. jobs))
      assert(a:pull("s/app", "1", L, "1"))
      assert.is_true(seen[layer] and seen[layer].ended, "the source client reports no more")
      L:close()
      a:close()
      b:close()
    end
  end))

  it("a download cut in the middle cancels the upload it was feeding", pending_or(function()
    proxy.configure{ cut_after = size // 2 }
    local a = assert(registry.connect(proxy.host, opts{ jobs = 1 }))
    local b = assert(registry.connect(dst.host, opts{ jobs = 1 }))
    local d, msg, err = a:copy("s/app", "1", b, "cut/app", "1")
    proxy.configure{}
    assert.is_nil(d)
    assert.are.equal("network", err.code, msg)
    assert.truthy(msg:find("GET http://" .. proxy.host .. "/v2/s/app/blobs/" .. layer, 1, true), msg)
    -- the upload had started while the download ran (streamed), and was
    -- abandoned: the destination's log shows its session deleted, and it
    -- holds no such blob and no manifest
    assert.are.equal(2, dst.count_requests("POST", "^/v2/cut/app/blobs/uploads/"))
    assert.is_true(dst.count_requests("DELETE", "^/v2/cut/app/blobs/uploads/") >= 1)
    assert.is_false((b:has_blob("cut/app", layer)))
    assert.is_false((b:head_manifest("cut/app", "1")))
    a:close()
    b:close()
  end))

  it("a source sending other bytes: the upload never completes, nothing is stored", pending_or(function()
    local fake = registries.fake("mismatch")
    finally(fake.stop)
    local a = assert(registry.connect(fake.host, opts{ jobs = 1 }))
    local b = assert(registry.connect(dst.host, opts{ jobs = 1 }))
    local d, msg, err = a:copy("bad/app", "latest", b, "liar/app", "1")
    assert.is_nil(d)
    assert.are.equal("mismatch", err.code, msg)
    assert.truthy(msg:find(fake.blobs.layer, 1, true), msg)
    assert.is_false((b:has_blob("liar/app", fake.blobs.layer)))
    assert.is_false((b:has_blob("liar/app", fake.blobs.bad_layer_sha256)))
    assert.is_false((b:head_manifest("liar/app", "1")))
    -- the upload was started and abandoned before its last byte
    assert.is_true(dst.count_requests("DELETE", "^/v2/liar/app/blobs/uploads/") >= 1)
    a:close()
    b:close()
  end))
end)
