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

local SKIP = registries.skip_reason()

local guard = registries.guard(SKIP, pending)

local opts = registries.opts_with{ retry_delay_ms = 1, retries = 2, jobs = 1 }

local SIZE = 300000

describe("closing PUT recovery", function()
  local env, reg, proxy, tmp
  setup(function()
    if SKIP then return end
    env = registries.start_proxied()
    reg, proxy, tmp = env.reg, env.proxy, env.tmp
  end)
  teardown(function()
    if env then env.stop() end
  end)

  -- SIZE pseudo-random bytes, different for each name
  local function blob_file(name)
    local path = tmp .. "/" .. name
    support.write(path, support.random_bytes(SIZE, #name * 7919))
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
    local s, c, d, msg = registries.push_blob_through(proxy, { cut_put = 100000 }, opts(), "re/lost", path)
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
    local s, c, d, msg = registries.push_blob_through(proxy, { cut_put = 100000, track_uploads = 1 }, opts(),
      "re/kept", path)
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
    local _, c, d, msg, err = registries.push_blob_through(proxy, { cut_put = 100000 }, opts{ retries = 0 },
      "re/once", path)
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
        local s, c, d, msg = registries.push_blob_through(proxy, fault, opts(case.o), case.repo, path)
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
