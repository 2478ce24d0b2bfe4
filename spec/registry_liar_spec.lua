-- A registry that lies (tests/registry/fake_registry.py's "liar" mode, one
-- lie per repository), and arguments the client refuses before sending
-- anything: each is a specific error, asserted by code and message.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")
local registry = require("ocispec.registry")
local D = oci.image.Descriptor
local MT = oci.image.MediaType

local NO_PYTHON
do
  local _, ok = registries.sh("command -v python3")
  NO_PYTHON = not ok and "python3 is not installed" or nil
end

local assert_fails = support.assert_error

describe("a registry that lies (fake registry, liar mode)", function()
  local fake, c, cc, tmp
  setup(function()
    if NO_PYTHON then return end
    tmp = registries.scratch()
    fake = registries.fake("liar")
    local o = { plain_http = true, auth_file = false, retries = 0 }
    c = assert(registry.connect(fake.host, o))
    o.chunk_size = 4
    cc = assert(registry.connect(fake.host, o))
  end)
  teardown(function()
    if c then c:close() end
    if cc then cc:close() end
    if fake then fake.stop() end
    if tmp then support.rmdir(tmp) end
  end)

  local function url(path) return "http://" .. fake.host .. "/v2/" .. path end

  it("a Docker-Content-Digest that is not the body's: mismatch naming both", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    assert_fails("mismatch", { url("lie-digest/x/manifests/latest"), fake.blobs.manifest,
      "but the registry says " .. oci.digest.hash("other bytes") }, c:get_manifest_raw("lie-digest/x", "latest"))
    -- a pull stops there too: nothing kept
    local dir = tmp .. "/lie"
    assert_fails("mismatch", { "but the registry says" },
      registry.pull(fake.host .. "/lie-digest/x:latest", dir, nil, { plain_http = true, auth_file = false }))
    local L = assert(oci.layout.open(dir))
    assert.are.same({}, L:list())
    L:close()
  end)

  it("a HEAD without Docker-Content-Digest, by tag: a registry error", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    assert_fails("registry", { "HEAD " .. url("no-digest/x/manifests/latest"), "no valid Docker-Content-Digest" },
      c:head_manifest("no-digest/x", "latest"))
    -- by digest the reference is the digest: no header needed
    local d = assert(c:head_manifest("no-digest/x", fake.blobs.manifest))
    assert.are.equal(fake.blobs.manifest, d:digest())
  end)

  it("uploads answered without Location, or 200 for 201: registry errors naming the request", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    assert_fails("registry", { "POST " .. url("post-noloc/x/blobs/uploads/"),
      "expected 202 with a Location, got 202 without Location" }, c:push_blob("post-noloc/x", "data"))
    assert_fails("registry", { "PATCH " .. url("patch-noloc/x/blobs/uploads/"), "no Location in the answer" },
      cc:push_blob("patch-noloc/x", "data data"))
    assert_fails("registry", { "PUT " .. url("put-200/x/blobs/uploads/"), "expected 201 Created, got 200" },
      c:push_blob("put-200/x", "data"))
    -- the session a PATCH left was cancelled (DELETE of its Location)
    assert.are.equal(1, fake.count_requests("DELETE", "^/v2/patch%-noloc/x/blobs/uploads/"))
  end)

  it("tag lists that are no list, no JSON, a bad Link, or empty pages without end", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    assert_fails("registry", { "GET " .. url("bad-list/x/tags/list"), "bad TagList body", "/tags",
      "expected array" }, c:tags("bad-list/x"))
    assert_fails("registry", { "GET " .. url("not-json/x/tags/list"), "bad TagList body", "unexpected character" },
      c:tags("not-json/x"))
    assert_fails("registry", { "GET " .. url("bad-link/x/tags/list"), "Link header", "expected '<'" },
      c:tags("bad-link/x"))
    assert_fails("registry", { "tags listing", "repeats an empty page" }, c:tags("empty-loop/x"))
    -- the first empty page that links on stops it
    assert.are.equal(1, fake.count_requests("GET", "^/v2/empty%-loop/x/tags/list"))
  end)
end)

describe("token services that lie (fake registry, liar mode)", function()
  it("no JSON, an empty token, a realm that is not http(s), a challenge that does not parse", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local fake = registries.fake("liar")
    finally(fake.stop)
    local c = assert(registry.connect(fake.host, { plain_http = true, auth_file = false, retries = 0 }))
    local realm = "token service http://" .. fake.host .. "/_fake/token: "
    local msg = assert_fails("registry", { "401", realm .. "bad response", "unexpected character" },
      c:tags("token-nojson/x"))
    assert.is_nil(msg:find("kind=", 1, true), msg) -- no query (it holds the scope) in messages
    assert_fails("registry", { "401", realm .. "response has no token" }, c:tags("token-empty/x"))
    assert_fails("registry", { "401", 'token realm "ftp://127.0.0.1:', "is not an http(s) URL" },
      c:tags("realm-ftp/x"))
    assert_fails("registry", { "HTTP 401", "UNAUTHORIZED" }, c:tags("bad-challenge/x"))
    -- the token service was asked once each; the ftp realm never
    assert.are.equal(1, fake.count_requests("GET", "^/_fake/token%?kind=nojson"))
    assert.are.equal(1, fake.count_requests("GET", "^/_fake/token%?kind=empty"))
    assert.are.equal(2, fake.count_requests("GET", "^/_fake/token"))
    c:close()
  end)
end)

describe("the client refuses before sending", function()
  local fake, c
  setup(function()
    if NO_PYTHON then return end
    fake = registries.fake("upload")
    c = assert(registry.connect(fake.host, { plain_http = true, auth_file = false, retries = 0 }))
  end)
  teardown(function()
    if c then c:close() end
    if fake then fake.stop() end
  end)

  it("a blob whose size is not the descriptor's, or over max_bytes, or of an unknown algorithm", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local layer, size = fake.blobs.layer, fake.blobs.layer_size
    assert_fails("mismatch", { layer, ("more than the %d bytes its descriptor gives"):format(size - 1) },
      c:get_blob("a/b", D.new(MT.ImageLayer, size - 1, layer)))
    assert_fails("mismatch", { layer, ("got %d bytes, its descriptor gives %d"):format(size, size + 1) },
      c:get_blob("a/b", D.new(MT.ImageLayer, size + 1, layer)))
    -- a digest alone (no size): max_bytes bounds it
    assert_fails("too_big", { "blob larger than 10 bytes" }, c:get_blob("a/b", layer, 10))
    local other = "foo:" .. ("a"):rep(32)
    local before = fake.count_requests()
    assert_fails("unsupported", { other, "cannot verify this digest algorithm" }, c:get_blob("a/b", other))
    assert.are.equal(before, fake.count_requests())
  end)

  it("manifests over 4 MiB, or whose digest is not the reference's", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local before = fake.count_requests()
    assert_fails("too_big", { "manifest of 4194305 bytes is over the 4194304 bytes registries must accept" },
      c:put_manifest("a/b", "t", ("x"):rep(4 * 1024 * 1024 + 1), MT.ImageManifest))
    local want = oci.digest.hash("y")
    assert_fails("mismatch", { "manifest content has digest " .. oci.digest.hash("{}") .. ", not " .. want },
      c:put_manifest("a/b", want, "{}", MT.ImageManifest))
    assert.are.equal(before, fake.count_requests())
  end)

  it("a blob pushed with an invalid media type: invalid, nothing sent", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local before = fake.count_requests()
    assert_fails("invalid", { 'media type "bad media"', 'missing "/"' }, c:push_blob("a/b", "data", "bad media"))
    local path = os.tmpname()
    support.write(path, "file data")
    assert_fails("invalid", { 'media type "no-slash"' }, c:push_blob_file("a/b", path, "no-slash"))
    os.remove(path)
    assert.are.equal(before, fake.count_requests())
  end)
end)
