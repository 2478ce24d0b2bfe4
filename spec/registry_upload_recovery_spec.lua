-- Upload recovery of the closing PUT (issue 16 "Resumable uploads"):
-- a monolithic PUT the network cuts mid-body is never sent again blindly
-- into a session that may be dead: GET on the upload URL says what the
-- registry kept, the rest follows in a PATCH (or, the session lost, a new
-- one starts from zero); and a PUT whose answer was lost (the connection
-- cut after the body went, a 5xx after the commit) is checked with a HEAD
-- of the blob before anything is sent again. The faults come from
-- tests/registry/fault_proxy.py (cut_put, lose_put, put_status) in front of
-- docker-registry; its access log counts the requests, python3 hashlib
-- hashes what the registry serves.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local registry = require("ocispec.registry")

local SKIP = registries.skip_reason()

local guard = registries.guard(SKIP, pending)

local function opts(extra)
  local o = { plain_http = true, auth_file = false, retry_delay_ms = 1, retries = 2, jobs = 1 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local SIZE = 300000

describe("closing PUT recovery", function()
  local reg, proxy, tmp
  setup(function()
    if SKIP then return end
    reg = registries.start()
    proxy = registries.proxy(reg.port)
    tmp = registries.scratch()
  end)
  teardown(function()
    if proxy then proxy.stop() end
    if reg then reg.stop() end
    if tmp then support.rmdir(tmp) end
  end)

  -- SIZE pseudo-random bytes, different for each name
  local function blob_file(name)
    local path = tmp .. "/" .. name
    local parts, x = {}, #name * 7919
    for i = 1, SIZE // 4 do
      x = (x * 1103515245 + 12345) % 2147483648
      parts[i] = string.pack("<I4", x)
    end
    support.write(path, table.concat(parts))
    return path
  end

  -- python3 hashlib: the digest of a file (support.sha256_file), and of
  -- what the registry itself serves (no proxy)
  local function served_digest(repo, digest) return registries.served_sha256(reg, repo, digest) end
  local function count(method, repo, what)
    return reg.count_requests(method, "^/v2/" .. repo:gsub("%p", "%%%0") .. "/blobs/" .. what)
  end

  it("a PUT cut mid-body in a session the registry dropped: a new session, the blob whole", guard(function()
    -- docker-registry keeps the first 100000 bytes but refuses the upload
    -- URL the client holds (its signed state is older): status 404, so a
    -- new POST; a blind second PUT there would fail (404)
    local path = blob_file("lost")
    proxy.configure{ cut_put = 100000 }
    proxy.stats()
    local c = assert(registry.connect(proxy.host, opts()))
    local d, msg = c:push_blob_file("re/lost", path)
    local s = proxy.stats()
    proxy.configure{}
    assert(d, msg)
    assert.are.equal(1, s.cuts)
    assert.are.equal(1, #s.status)
    assert.truthy(s.status[1]:match("^404"), s.status[1])
    assert.are.equal(2, count("POST", "re/lost", "uploads/"))
    assert.are.equal(1, count("PUT", "re/lost", "uploads/"))
    assert.are.equal(1, count("HEAD", "re/lost", "sha256:"))
    assert.are.equal(support.sha256_file(path), d:digest())
    assert.are.equal(d:digest(), served_digest("re/lost", d:digest()))
    c:close()
  end))

  it("a PUT cut mid-body in a session that kept its bytes: the rest in a PATCH from its Range", guard(function()
    -- the proxy keeps docker-registry's upload URL valid (track_uploads):
    -- the status answers Range 0-99999, a PATCH sends bytes 100000- and a
    -- PUT without body commits
    local path = blob_file("kept")
    proxy.configure{ cut_put = 100000, track_uploads = 1 }
    proxy.stats()
    local c = assert(registry.connect(proxy.host, opts()))
    local d, msg = c:push_blob_file("re/kept", path)
    local s = proxy.stats()
    proxy.configure{}
    assert(d, msg)
    assert.are.same({ "204 0-99999" }, s.status)
    assert.are.same({ "100000-299999" }, s.patches)
    -- the cut PUT's whole body, then only the rest
    assert.are.equal(SIZE + SIZE - 100000, s.up_bytes)
    assert.are.equal(1, count("POST", "re/kept", "uploads/"))
    assert.are.equal(1, count("PUT", "re/kept", "uploads/"))
    assert.are.equal(support.sha256_file(path), d:digest())
    assert.are.equal(d:digest(), served_digest("re/kept", d:digest()))
    c:close()
  end))

  it("with retries 0 a PUT cut mid-body fails as a network error, sent once", guard(function()
    local path = blob_file("once")
    proxy.configure{ cut_put = 100000 }
    local c = assert(registry.connect(proxy.host, opts{ retries = 0 }))
    local d, msg, err = c:push_blob_file("re/once", path)
    proxy.configure{}
    assert.is_nil(d)
    assert.are.equal("network", err.code, msg)
    assert.truthy(msg:find("PUT", 1, true), msg)
    assert.are.equal(1, count("POST", "re/once", "uploads/"))
    assert.are.equal(0, count("PUT", "re/once", "uploads/"))
    assert.are.equal(1, count("HEAD", "re/once", "sha256:"))
    c:close()
  end))

  for _, case in ipairs({
    { name = "its connection cut after the body went", fault = {}, repo = "re/cut" },
    { name = "a 500 after the registry stored the blob", fault = { put_status = 500 }, repo = "re/500" },
    -- curl itself sends a PUT without body again when the reused
    -- connection dies before an answer: that one meets the closed session
    -- (404), which is no failure either until the HEAD is asked
    { name = "chunked, the closing PUT's answer lost", fault = {}, repo = "re/chunked",
      o = { chunk_size = 100000 }, replays = 1 },
    { name = "its answer lost, retries 0 (a HEAD is no retry)", fault = {}, repo = "re/zero",
      o = { retries = 0 } },
  }) do
    it("a closing PUT that stored the blob, " .. case.name .. ": a HEAD finds it, nothing is sent again",
      guard(function()
        local path = blob_file(case.repo:gsub("/", "-"))
        local fault = { lose_put = 1 }
        for k, v in pairs(case.fault) do fault[k] = v end
        proxy.configure(fault)
        proxy.stats()
        local c = assert(registry.connect(proxy.host, opts(case.o)))
        local d, msg = c:push_blob_file(case.repo, path)
        local s = proxy.stats()
        proxy.configure{}
        assert(d, msg)
        assert.are.equal(1, count("POST", case.repo, "uploads/"))
        local puts = {}
        for _, r in ipairs(reg.requests()) do
          if r.method == "PUT" and r.path:find("/v2/" .. case.repo .. "/blobs/uploads/", 1, true) == 1 then
            puts[#puts + 1] = r.status
          end
        end
        local want = { 201 }
        for _ = 1, case.replays or 0 do want[#want + 1] = 404 end
        assert.are.same(want, puts)
        assert.are.equal(1, count("HEAD", case.repo, "sha256:"))
        assert.are.equal(0, #s.status) -- no status GET: the HEAD said done
        assert.are.equal(SIZE, s.up_bytes)
        assert.are.equal(1, c:stats().blobs_uploaded)
        assert.are.equal(support.sha256_file(path), d:digest())
        assert.are.equal(d:digest(), served_digest(case.repo, d:digest()))
        c:close()
      end))
  end
end)
