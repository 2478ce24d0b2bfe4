-- client:push_blob_from_layout (oci_registry_push_blob_from_layout) against
-- tests/registry/fake_registry.py's "upload" mode, which checks every
-- upload's digest with hashlib and logs the bodies it read: the blob goes
-- up once, is skipped when the registry has it, and a blob that is missing,
-- sized wrong or changed in the layout is refused with its reason and never
-- committed.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")
local registry = require("ocispec.registry")

local q, sh = registries.quote, registries.sh

local NO_PYTHON
do
  local _, ok = sh("command -v python3")
  NO_PYTHON = not ok and "python3 is not installed" or nil
end

local assert_fails = support.assert_error

local OCTET = "application/octet-stream"

describe("client:push_blob_from_layout (fake registry checking digests with hashlib)", function()
  local tmp, fake, c, L
  setup(function()
    tmp = registries.scratch()
    if NO_PYTHON then return end
    fake = registries.fake("upload")
    c = assert(registry.connect(fake.host, { plain_http = true, auth_file = false, retries = 0 }))
    L = assert(oci.layout.create(tmp .. "/layout"))
  end)
  teardown(function()
    if c then c:close() end
    if L then L:close() end
    if fake then fake.stop() end
    if tmp then support.rmdir(tmp) end
  end)

  -- The bodies of the fake's PUTs that committed `digest` (status 201).
  local function committed(digest)
    local enc = digest:gsub(":", "%%3A")
    local n = 0
    for path in fake.log():gmatch("PUT (%S+) %-> 201\n") do
      if path:find("digest=" .. enc, 1, true) then n = n + 1 end
    end
    return n
  end

  it("uploads a layout's blob once; a second call finds it and skips", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local data = ("layout blob %d\n"):rep(300):format(table.unpack((function()
      local t = {}
      for i = 1, 300 do t[i] = i end
      return t
    end)()))
    local d = assert(L:put_blob(data, OCTET))
    local before = c:stats()
    assert.is_true(c:push_blob_from_layout("blob/app", L, d))
    local after = c:stats()
    assert.are.equal(before.blobs_uploaded + 1, after.blobs_uploaded)
    assert.are.equal(before.bytes_uploaded + #data, after.bytes_uploaded)
    assert.are.equal(1, committed(d:digest()))
    -- the fake verified the digest (hashlib) and logged what it received
    local log = fake.log()
    local len, dg = log:match("BODY PUT /v2/blob/app/blobs/uploads/%S+ (%d+) (sha256:%x+)\n")
    assert.are.equal(#data, tonumber(len))
    assert.are.equal(d:digest(), dg)
    assert.are.equal(data, assert(c:get_blob("blob/app", d:digest())))

    assert.is_true(c:push_blob_from_layout("blob/app", L, d))
    assert.are.equal(after.blobs_skipped + 1, c:stats().blobs_skipped)
    assert.are.equal(after.blobs_uploaded, c:stats().blobs_uploaded)
    assert.are.equal(1, fake.count_requests("POST", "^/v2/blob/app/blobs/uploads/$"))
    assert.are.equal(2, fake.count_requests("HEAD", "^/v2/blob/app/blobs/" .. d:digest() .. "$"))
  end)

  it("a blob the layout lacks: an io error naming it; nothing sent", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local missing = oci.image.Descriptor.new(OCTET, 5, oci.digest.hash("none!"))
    assert_fails("io", { missing:digest(), "No such file" }, c:push_blob_from_layout("miss/app", L, missing))
    assert.are.equal(0, fake.count_requests("POST", "^/v2/miss/app/"))
  end)

  it("a descriptor whose size is not the blob's: mismatch before any upload starts", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local d = assert(L:put_blob("ten bytes!", OCTET))
    for _, case in ipairs({ { "short/app", 4 }, { "long/app", 400 } }) do
      local repo, size = case[1], case[2]
      local wrong = oci.image.Descriptor.new(OCTET, size, d:digest())
      assert_fails("mismatch", { d:digest(), ("10 bytes in the layout, its descriptor gives %d"):format(size) },
        c:push_blob_from_layout(repo, L, wrong))
      assert.are.equal(0, fake.count_requests("POST", "^/v2/" .. repo .. "/"))
      assert.is_false(c:has_blob(repo, d:digest()))
    end
    assert.are.equal(0, committed(d:digest()))
  end)

  it("a blob changed in the layout (same size): mismatch, never committed", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local d = assert(L:put_blob("third blob", OCTET))
    local path = L:blob_path(d:digest())
    local out, ok = sh(("chmod u+w %s && printf 'THIRD BLOB' > %s"):format(q(path), q(path)))
    assert(ok, out)
    assert_fails("mismatch", { d:digest(), "does not match its digest", oci.digest.hash("THIRD BLOB"):sub(1, 40) },
      c:push_blob_from_layout("changed/app", L, d))
    assert.are.equal(0, committed(d:digest()))
    assert.is_false(c:has_blob("changed/app", d:digest()))
  end)

  it("a blob file that is a symlink is not followed", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local outside = tmp .. "/outside"
    support.write(outside, "outside the layout")
    local digest = oci.digest.hash("outside the layout")
    local path = L:blob_path(digest)
    local out, ok = sh(("ln -s %s %s"):format(q(outside), q(path)))
    assert(ok, out)
    local d = oci.image.Descriptor.new(OCTET, #"outside the layout", digest)
    local msg = assert_fails("invalid", { digest, "symbolic link", "never followed" },
      c:push_blob_from_layout("link/app", L, d))
    assert.is_nil(msg:find("outside the layout", 1, true), msg)
    assert.are.equal(0, fake.count_requests("POST", "^/v2/link/app/"))
  end)

  it("argument misuse raises, naming the argument; a bad repository is invalid", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local d = assert(L:put_blob("x", OCTET))
    support.assert_raises({ "#3", "Layout expected, got string" },
      c.push_blob_from_layout, c, "a/b", tmp .. "/layout", d)
    support.assert_raises({ "#4", "Descriptor expected, got table" },
      c.push_blob_from_layout, c, "a/b", L, d:to_table())
    support.assert_raises({ "#2", "string expected, got nil" }, c.push_blob_from_layout, c, nil, L, d)
    assert_fails("invalid", { "Bad/App", "uppercase" }, c:push_blob_from_layout("Bad/App", L, d))
  end)
end)
