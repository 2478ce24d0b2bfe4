-- Resumable downloads: a blob download cut by the network continues from
-- the bytes already in the layout's temporary area (keyed by digest) with
-- a Range request, within one run (a retry) and across runs (a second
-- pull); a registry that answers 200 to Range gets a full download, a 206
-- with another range is refused, and kept bytes are trusted only as far
-- as the final digest check proves. The faults come from
-- tests/registry/fault_proxy.py in front of docker-registry; the proxy's
-- byte count is the witness of what crossed the wire.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")
local registry = require("ocispec.registry")

local SKIP = registries.skip_reason("python3")
local guard = registries.guard(SKIP, pending)

local opts = registries.opts_with{ retry_delay_ms = 1, retries = 0, jobs = 1 }

local q = registries.quote

local function file_size(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

describe("resumable blob downloads", function()
  local env, reg, proxy, tmp, layer, size, n = nil, nil, nil, nil, nil, nil, 0
  setup(function()
    if SKIP then return end
    env = registries.start_proxied()
    reg, proxy, tmp = env.reg, env.proxy, env.tmp
    -- one incompressible 1 MiB layer (stored as it is)
    layer = registries.push_one_layer(reg.host, "resume/app", tmp .. "/src", support.random_bytes(1048576, 12345),
                                      opts())
    size = layer:size()
  end)
  teardown(function()
    if env then env.stop() end
  end)

  local function fresh()
    n = n + 1
    local dir = ("%s/pull%d"):format(tmp, n)
    return dir, assert(oci.layout.create(dir))
  end
  local function partial(dir)
    return dir .. "/.ocispec-tmp/tmp-part-sha256-" .. layer:digest():match(":(%x+)$")
  end
  local function blob(dir) return dir .. "/blobs/sha256/" .. layer:digest():match(":(%x+)$") end

  it("a cut download continues with Range within the same pull (retries)", guard(function()
    local dir, L = fresh()
    proxy.configure{ cut_after = size // 2 }
    proxy.stats()
    local c = assert(registry.connect(proxy.host, opts{ retries = 2 }))
    local d, msg = c:pull("resume/app", "1", L, "1")
    local s = proxy.stats()
    proxy.configure{}
    assert(d, msg)
    assert.are.equal(1, s.cuts)
    assert.are.equal(1, s.ranges)
    -- config + half + the other half: not the layer twice
    assert.is_true(s.body_bytes < size * 1.05, ("%d bytes for a %d-byte blob"):format(s.body_bytes, size))
    assert.are.equal(layer:digest(), support.sha256_file(blob(dir)))
    assert.is_nil(file_size(partial(dir)))
    c:close()
    L:close()
  end))

  it("a pull cut at 90% and run again fetches only the rest", guard(function()
    local dir, L = fresh()
    proxy.configure{ cut_after = size * 9 // 10 }
    local c = assert(registry.connect(proxy.host, opts()))
    local d, msg, err = c:pull("resume/app", "1", L, "1")
    proxy.configure{}
    assert.is_nil(d)
    assert.are.equal("network", err.code, msg)
    -- nothing published; the bytes that came are kept under the digest
    assert.is_nil(file_size(blob(dir)))
    assert.are.equal(size * 9 // 10, file_size(partial(dir)))
    assert.are.equal(0, #L:list())
    proxy.stats()
    local c2 = assert(registry.connect(proxy.host, opts()))
    d, msg = c2:pull("resume/app", "1", L, "1")
    local s = proxy.stats()
    assert(d, msg)
    assert.are.equal(1, s.ranges)
    assert.is_true(s.body_bytes <= size * 0.15, ("second run moved %d of %d bytes"):format(s.body_bytes, size))
    assert.is_true(c2:stats().bytes_downloaded <= size * 0.15)
    assert.are.equal(layer:digest(), support.sha256_file(blob(dir)))
    assert.is_nil(file_size(partial(dir)))
    c:close()
    c2:close()
    L:close()
  end))

  it("a registry that answers 200 to Range gets a full download", guard(function()
    local dir, L = fresh()
    proxy.configure{ cut_after = size // 2 }
    local c = assert(registry.connect(proxy.host, opts()))
    assert.is_nil((c:pull("resume/app", "1", L, "1")))
    assert.are.equal(size // 2, file_size(partial(dir)))
    proxy.configure{ ignore_range = 1 }
    proxy.stats()
    local d, msg = c:pull("resume/app", "1", L, "1")
    local s = proxy.stats()
    proxy.configure{}
    assert(d, msg)
    assert.is_true(s.body_bytes >= size, ("%d bytes: not a whole download"):format(s.body_bytes))
    assert.are.equal(layer:digest(), support.sha256_file(blob(dir)))
    c:close()
    L:close()
  end))

  it("a 206 with another range than asked is refused; nothing is stored", guard(function()
    local dir, L = fresh()
    proxy.configure{ cut_after = size // 2 }
    local c = assert(registry.connect(proxy.host, opts()))
    assert.is_nil((c:pull("resume/app", "1", L, "1")))
    proxy.configure{ bad_range = 1 }
    local d, msg, err = c:pull("resume/app", "1", L, "1")
    proxy.configure{}
    assert.is_nil(d)
    assert.are.equal("registry", err.code)
    assert.truthy(msg:find(("Content-Range bytes 0-%d/%d to a request for bytes %d-: refused")
      :format(size - 1, size, size // 2), 1, true), msg)
    assert.is_nil(file_size(blob(dir)))
    assert.are.equal(0, #L:list())
    c:close()
    L:close()
  end))

  it("kept bytes that are wrong fail the digest check and are fetched again whole", guard(function()
    local dir, L = fresh()
    proxy.configure{ cut_after = size // 2 }
    local c = assert(registry.connect(proxy.host, opts()))
    assert.is_nil((c:pull("resume/app", "1", L, "1")))
    proxy.configure{}
    -- someone changed a kept byte: only the final digest check can tell
    local f = assert(io.open(partial(dir), "r+b"))
    f:seek("set", 100)
    local b = f:read(1)
    f:seek("set", 100)
    f:write(string.char((b:byte() + 1) % 256))
    f:close()
    proxy.stats()
    local d, msg = c:pull("resume/app", "1", L, "1")
    local s = proxy.stats()
    assert(d, msg)
    assert.are.equal(2, s.gets) -- the rest, then the whole blob
    assert.are.equal(layer:digest(), support.sha256_file(blob(dir)))
    c:close()
    L:close()
  end))

  it("a symlink or hard link planted under the partial name is never written through", guard(function()
    for _, kind in ipairs({ "-s", "" }) do
      local dir, L = fresh()
      local victim = dir .. "/victim"
      support.write(victim, "precious")
      registries.sh(("mkdir -p %s && ln %s %s %s"):format(q(dir .. "/.ocispec-tmp"), kind, q(victim), q(partial(dir))))
      local c = assert(registry.connect(proxy.host, opts()))
      local d, msg = c:pull("resume/app", "1", L, "1")
      assert(d, msg)
      assert.are.equal("precious", support.read(victim))
      assert.are.equal(layer:digest(), support.sha256_file(blob(dir)))
      c:close()
      L:close()
    end
  end))
end)

-- Resumable uploads: a chunk PATCH the network cuts is followed by a GET on
-- the upload URL (the registry's Range says how much arrived) and the upload
-- continues from there; a registry that lost the session (404) gets the blob
-- from zero. Proxy statistics (the PATCH Content-Ranges as sent, the status
-- answers, the bytes) witness it; python3 hashes what the registry serves.
describe("chunked uploads", function()
  local env, reg, proxy, tmp
  local SIZE = 300000
  setup(function()
    if SKIP then return end
    env = registries.start_proxied()
    reg, proxy, tmp = env.reg, env.proxy, env.tmp
  end)
  teardown(function()
    if env then env.stop() end
  end)

  local function blob_file(name)
    local path = tmp .. "/" .. name
    support.write(path, support.random_bytes(SIZE, #name))
    return path
  end

  -- python3 hashlib's digest of what the registry itself serves (no proxy)
  local function served_digest(repo, digest) return registries.served_sha256(reg, repo, digest) end

  it("a cut PATCH is never sent again blindly: with retries 0 it fails as a network error", guard(function()
    -- the proxy forwards part of the chunk and drops the connection: curl
    -- would replay the PATCH on a new connection (with the upload URL the
    -- registry no longer accepts); the client refuses that and reports it
    local path = blob_file("cut")
    local s, c, d, msg, err = registries.push_blob_through(proxy, { cut_upload = 50000 },
      opts{ chunk_size = 100000, retries = 0 }, "up/cut", path)
    assert.is_nil(d)
    assert.are.equal("network", err.code, msg)
    assert.truthy(msg:find("PATCH", 1, true), msg)
    assert.are.same({ "0-99999" }, s.patches)
    assert.are.equal(1, reg.count_requests("PATCH", "^/v2/up/cut/blobs/uploads/"))
    c:close()
  end))

  it("a chunk cut at 60% continues where the registry says it stopped", guard(function()
    -- a registry whose upload URL stays valid (the proxy keeps it so in
    -- front of docker-registry): GET on it answers Range 0-N, and the next
    -- PATCH starts at N+1
    local path = blob_file("resume")
    local s, c, d, msg = registries.push_blob_through(proxy, { cut_upload_at = 180000, track_uploads = 1 },
      opts{ chunk_size = 100000, retries = 2 }, "up/resume", path)
    assert(d, msg)
    assert.are.same({ "204 0-179999" }, s.status)
    assert.are.same({ "0-99999", "100000-199999", "180000-279999", "280000-299999" }, s.patches)
    assert.is_true(s.up_bytes < SIZE * 1.5, ("%d bytes sent for %d"):format(s.up_bytes, SIZE))
    assert.are.equal(1, reg.count_requests("POST", "^/v2/up/resume/blobs/uploads/"))
    assert.are.equal(support.sha256_file(path), d:digest())
    assert.are.equal(d:digest(), served_digest("up/resume", d:digest()))
    c:close()
  end))

  it("a registry that lost the upload (404 on its URL) gets the blob again from zero", guard(function()
    -- docker-registry 2.8 answers 404 BLOB_UPLOAD_INVALID to the upload URL
    -- the client holds (its signed _state names fewer bytes than arrived)
    local path = blob_file("lost")
    local s, c, d, msg = registries.push_blob_through(proxy, { cut_upload_at = 180000 },
      opts{ chunk_size = 100000, retries = 2 }, "up/lost", path)
    assert(d, msg)
    assert.are.equal(1, #s.status)
    assert.truthy(s.status[1]:match("^404"), s.status[1])
    assert.are.same({ "0-99999", "100000-199999", "0-99999", "100000-199999", "200000-299999" }, s.patches)
    assert.are.equal(2, reg.count_requests("POST", "^/v2/up/lost/blobs/uploads/"))
    assert.are.equal(support.sha256_file(path), d:digest())
    assert.are.equal(d:digest(), served_digest("up/lost", d:digest()))
    c:close()
  end))

  it("a registry with a stable upload URL (the fake) resumes there; a claim of more bytes is refused", guard(function()
    local fake = registries.fake("liar")
    local fproxy = registries.proxy(fake.port)
    local ok, e = pcall(function()
      local path = blob_file("fake")
      fproxy.configure{ cut_upload_at = 180000 }
      local c = assert(registry.connect(fproxy.host, opts{ chunk_size = 100000, retries = 2 }))
      local d, msg = c:push_blob_file("up/fake", path)
      local s = fproxy.stats()
      assert(d, msg)
      assert.are.same({ "204 0-179999" }, s.status)
      assert.are.same({ "0-99999", "100000-199999", "180000-279999", "280000-299999" }, s.patches)
      -- the fake committed it after checking the digest with hashlib
      assert.are.equal(1, fake.count_requests("PUT", "^/v2/up/fake/blobs/uploads/.*digest=sha256"))
      -- a registry that says it holds more than was sent
      fproxy.configure{ cut_upload_at = 180000 }
      local d2, msg2, err2 = c:push_blob_file("range-lie/x", path)
      assert.is_nil(d2)
      assert.are.equal("registry", err2.code, msg2)
      assert.truthy(msg2:find("upload status with Range 0-1180000: more bytes than were sent", 1, true), msg2)
      -- a Range past int64 (the parse overflowed: UBSan stopped here)
      fproxy.configure{ cut_upload_at = 180000 }
      local d4, msg4, err4 = c:push_blob_file("range-huge/x", path)
      assert.is_nil(d4)
      assert.are.equal("registry", err4.code, msg4)
      assert.truthy(msg4:find("upload status with Range 0-9223372036854775808: not a range 0-N", 1, true), msg4)
      -- a registry that says it holds fewer bytes than it does: the PATCH
      -- from there answers 416, which is resumed the same way until the
      -- retries (2) are spent: two status GETs, two PATCHes answered 416
      fproxy.configure{ cut_upload_at = 180000 }
      fproxy.stats()
      local d3, msg3, err3 = c:push_blob_file("range-short/x", path)
      local s3 = fproxy.stats()
      assert.is_nil(d3)
      assert.are.equal("registry", err3.code, msg3)
      assert.truthy(msg3:find("HTTP 416", 1, true) and msg3:find("BLOB_UPLOAD_INVALID", 1, true), msg3)
      assert.are.same({ "204 0-178999", "204 0-178999" }, s3.status)
      assert.are.same({ "0-99999", "100000-199999", "179000-278999", "179000-278999" }, s3.patches)
      c:close()
    end)
    fproxy.stop()
    fake.stop()
    assert(ok, e)
  end))

  it("chunks are at least the registry's OCI-Chunk-Min-Length", guard(function()
    local path = blob_file("min")
    local _, c, d, msg = registries.push_blob_through(proxy, { chunk_min = 128000 }, opts{ chunk_size = 10000 },
      "up/min", path)
    assert(d, msg)
    -- 300000 bytes in chunks of 128000: 3 PATCHes, not 30
    assert.are.equal(3, reg.count_requests("PATCH", "^/v2/up/min/blobs/uploads/"))
    c:close()
  end))
end)
