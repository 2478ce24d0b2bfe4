-- The registry client against hostile servers (issue 13, items 13-20):
-- tests/registry/fake_registry.py's modes, and docker-registry where a real
-- registry must take the other end. Each test fails without its fix.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")
local registry = require("ocispec.registry")

local q, sh = registries.quote, registries.sh

local NO_PYTHON = registries.missing("python3")
local NO_REGISTRY = registries.skip_reason()

local opts = registries.opts_with{ retry_delay_ms = 1, retries = 1 }

local function connect(host, extra)
  return assert(registry.connect(host, opts(extra)))
end

local function now()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

local assert_fails = support.assert_error

local function blob_file(dir, digest)
  local alg, hex = digest:match("^(%w+):(%x+)$")
  return ("%s/blobs/%s/%s"):format(dir, alg, hex)
end

local function contains(list, v)
  for _, x in ipairs(list or {}) do
    if x == v then return true end
  end
  return false
end

-- A layout with one small image tagged `tag`; returns the layout's dir and
-- the manifest descriptor.
local function small_image(dir, tag, layer_text)
  local L = assert(oci.layout.create(dir))
  local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = "amd64" }, created = 0 })
  assert(img:add_layer{ entries = { { path = "f", type = "file", content = layer_text or "hello\n", mode = 420 } } })
  local d = assert(img:commit())
  assert(L:tag(d, tag))
  L:close()
  return d
end

describe("registry client against hostile servers", function()
  local tmp
  setup(function() tmp = registries.scratch() end)
  teardown(function() if tmp then support.rmdir(tmp) end end)

  -- ------------------------------------------------------------ item 14

  describe("nested indexes (6 wide, 4 deep)", function()
    it("pull fetches each document once: 5 manifest GETs, 2 blob GETs", function()
      if NO_PYTHON then return pending(NO_PYTHON) end
      local fake = registries.fake("nested")
      finally(fake.stop)
      local dir = tmp .. "/nested-pull"
      local d = assert(registry.pull(fake.host .. "/deep/app:latest", dir, nil, opts()))
      assert.are.equal("application/vnd.oci.image.index.v1+json", d:media_type())
      -- "latest" + 3 inner indexes + the manifest, instead of 1+6+36+216+1296
      assert.are.equal(5, fake.count_requests("GET", "/manifests/"))
      assert.are.equal(2, fake.count_requests("GET", "/blobs/"))
      local L = assert(oci.layout.open(dir))
      assert(L:verify())
      L:close()
    end)

    it("max_fanout and max_nodes stop the walk with a clear error", function()
      if NO_PYTHON then return pending(NO_PYTHON) end
      local fake = registries.fake("nested")
      finally(fake.stop)
      assert_fails("too_big", { "lists 6 manifests", "max_fanout" },
        registry.pull(fake.host .. "/deep/app:latest", tmp .. "/nested-fanout", nil, opts{ max_fanout = 5 }))
      assert_fails("too_big", { "more than 3 distinct documents", "max_nodes" },
        registry.pull(fake.host .. "/deep/app:latest", tmp .. "/nested-nodes", nil, opts{ max_nodes = 3 }))
      -- the walk stopped early: no more than the allowed documents fetched
      assert.is_true(fake.count_requests("GET", "/manifests/") <= 2 + 3)
    end)

    it("a platform pull applies the layout's rule: linux/amd64/v2 takes a linux/amd64 entry", function()
      if NO_PYTHON then return pending(NO_PYTHON) end
      local fake = registries.fake("nested")
      finally(fake.stop)
      local dir = tmp .. "/nested-platform"
      local d = assert(registry.pull(fake.host .. "/deep/app:latest", dir, "v2", opts{ platform = "linux/amd64/v2" }))
      assert.are.equal(fake.blobs.manifest, d:digest())
      -- and oci.layout's resolve agrees on the same index
      local whole = tmp .. "/nested-platform-whole"
      assert(registry.pull(fake.host .. "/deep/app:latest", whole, "all", opts()))
      local L = assert(oci.layout.open(whole))
      local r = assert(L:resolve("all", { platform = { os = "linux", architecture = "amd64", variant = "v2" } }))
      assert.are.equal(d:digest(), r.descriptor:digest())
      L:close()
    end)

    it("copy and push also visit each document once (docker-registry)", function()
      if NO_PYTHON then return pending(NO_PYTHON) end
      if NO_REGISTRY then return pending(NO_REGISTRY) end
      local fake = registries.fake("nested")
      finally(fake.stop)
      local reg = registries.start()
      finally(reg.stop)
      assert(registry.copy(fake.host .. "/deep/app:latest", reg.host .. "/copied:latest", opts()))
      assert.are.equal(5, fake.count_requests("GET", "/manifests/"))
      assert.are.equal(2, fake.count_requests("GET", "/blobs/"))
      assert.are.equal(5, reg.count_requests("PUT", "^/v2/copied/manifests/"))
      assert.are.equal(2, reg.count_requests("HEAD", "^/v2/copied/blobs/"))

      local dir = tmp .. "/nested-push"
      assert(registry.pull(fake.host .. "/deep/app:latest", dir, "latest", opts()))
      assert(registry.push(dir, "latest", reg.host .. "/pushed:latest", opts()))
      assert.are.equal(5, reg.count_requests("PUT", "^/v2/pushed/manifests/"))
      assert.are.equal(2, reg.count_requests("HEAD", "^/v2/pushed/blobs/"))
      assert_fails("too_big", { "max_fanout" },
        registry.push(dir, "latest", reg.host .. "/pushed2:latest", opts{ max_fanout = 5 }))
    end)
  end)

  -- ------------------------------------------------------------ item 15

  describe("header injection", function()
    it("a token holding CR LF is refused; the injected header never reaches the server", function()
      if NO_PYTHON then return pending(NO_PYTHON) end
      local fake = registries.fake("token-crlf")
      finally(fake.stop)
      local c = connect(fake.host, { retries = 0 })
      assert_fails("registry", { "token", "control character" }, c:tags("x"))
      c:close()
      local log = fake.log()
      assert.truthy(log:find("GET /_fake/token", 1, true), "the token was not fetched: " .. log)
      assert.is_nil(fake.headers_log():lower():find("x-injected", 1, true), "the injected header reached the server")
      -- no request went out with the token at all
      assert.are.same({}, fake.auth_requests())
    end)

    it("a token whose expires_in is int64's largest is kept (bounded), not overflowed into expiry", function()
      if NO_PYTHON then return pending(NO_PYTHON) end
      local fake = registries.fake("token-expiry")
      finally(fake.stop)
      local c = connect(fake.host, { retries = 0 })
      -- seconds * 1000 overflowed (UBSan abort; else a token already
      -- expired, fetched again before every request)
      assert(c:tags("x"))
      assert(c:tags("x"))
      assert(c:tags("x"))
      c:close()
      assert.are.equal(1, fake.count_requests("GET", "^/_fake/token"))
    end)

    it("control characters in what the user gives are refused at connect", function()
      for key, value in pairs({ user_agent = "ua\r\nX-Injected: 1", username = "u\n", password = "p\1w" }) do
        local o = opts{ [key] = value, username = key ~= "username" and "u" or value }
        local msg = assert_fails("invalid", { "control character" }, registry.connect("127.0.0.1:1", o))
        assert.is_nil(msg:find("X-Injected", 1, true))
      end
    end)
  end)

  -- ------------------------------------------------------------ item 16

  describe("credentials stay with the registry's origin", function()
    it("no Authorization to an upload Location or a redirect on another port", function()
      if NO_PYTHON then return pending(NO_PYTHON) end
      local other = registries.fake("ok")
      finally(other.stop)
      local fake = registries.fake("basic", { other = other.url })
      finally(fake.stop)
      local c = connect(fake.host, { username = "u", password = "secret-pw" })
      -- a blob GET answered 307 to the other server
      local body = assert(c:get_blob("x", fake.blobs.layer))
      assert.are.equal(fake.blobs.layer, oci.digest.hash(body))
      -- an upload whose Location is the other server
      assert(c:push_blob("x", "some bytes"))
      c:close()
      assert.truthy(#fake.auth_requests() > 0, "the registry itself got no credentials")
      assert.are.equal(1, other.count_requests("GET", "^/_fake/content/"))
      assert.are.equal(1, other.count_requests("PUT", "^/_fake/upload/"))
      assert.are.same({}, other.auth_requests())
    end)

    it("allow_cross_host_auth sends them to the upload Location", function()
      if NO_PYTHON then return pending(NO_PYTHON) end
      local other = registries.fake("ok")
      finally(other.stop)
      local fake = registries.fake("basic", { other = other.url })
      finally(fake.stop)
      local c = connect(fake.host, { username = "u", password = "secret-pw", allow_cross_host_auth = true })
      assert(c:push_blob("x", "some bytes"))
      c:close()
      assert.truthy(contains(other.auth_requests(), "PUT " .. (other.log():match("PUT (/_fake/upload/%S+)") or "?")))
    end)

    it("a plain-http token realm on another host gets no password unless allow_insecure_realm", function()
      if NO_PYTHON then return pending(NO_PYTHON) end
      local fake = registries.fake("realm-other")
      finally(fake.stop)
      local c = connect(fake.host, { username = "u", password = "secret-pw", retries = 0 })
      local msg = assert_fails("registry", { "http://localhost:", "plain http", "allow_insecure_realm" }, c:tags("x"))
      assert.is_nil(msg:find("secret-pw", 1, true))
      c:close()
      assert.are.equal(0, fake.count_requests("GET", "^/_fake/token"))
      -- anonymous: nothing secret to send
      c = connect(fake.host, { retries = 0 })
      assert(c:tags("x"))
      c:close()
      c = connect(fake.host, { username = "u", password = "secret-pw", allow_insecure_realm = true })
      assert(c:tags("x"))
      c:close()
    end)
  end)

  -- ------------------------------------------------------------ item 17

  it("a rejected blob PUT keeps its own status, code and message; no query in messages", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local fake = registries.fake("upload-reject")
    finally(fake.stop)
    local c = connect(fake.host, { retries = 0 })
    local msg, info = assert_fails("registry",
      { "PUT http://" .. fake.host .. "/v2/x/blobs/uploads/1:", "HTTP 400", "DIGEST_INVALID",
        "provided digest did not match uploaded content" },
      c:push_blob("x", "some bytes"))
    assert.is_nil(msg:find("_state", 1, true), msg)
    assert.is_nil(msg:find("?", 1, true), msg)
    assert.are.equal("PUT", info.method)
    assert.are.equal(400, info.status)
    assert.is_nil(info.url:find("?", 1, true), info.url)
    assert.truthy(contains(info.codes, "DIGEST_INVALID"))
    c:close()
    -- the cleanup DELETE did happen (and failed on its own)
    assert.are.equal(1, fake.count_requests("DELETE", "/blobs/uploads/"))
  end)

  -- ------------------------------------------------------------ item 18

  describe("bounded listings and transfers", function()
    it("a Link that repeats stops the listing", function()
      if NO_PYTHON then return pending(NO_PYTHON) end
      local fake = registries.fake("link-loop")
      finally(fake.stop)
      local c = connect(fake.host)
      assert_fails("registry", { "next page link repeats last=a" }, c:tags("x"))
      c:close()
      assert.is_true(fake.count_requests("GET", "/tags/list") <= 3)
    end)

    it("max_pages and max_list_bytes bound a listing without end", function()
      if NO_PYTHON then return pending(NO_PYTHON) end
      local fake = registries.fake("link-grow")
      finally(fake.stop)
      local c = connect(fake.host, { max_pages = 4 })
      assert_fails("too_big", { "more than 4 pages", "max_pages" }, c:tags("x"))
      c:close()
      assert.are.equal(4, fake.count_requests("GET", "/tags/list"))
      c = connect(fake.host, { max_list_bytes = 20000 })
      assert_fails("too_big", { "more than 20000 bytes", "max_list_bytes" }, c:tags("x"))
      c:close()
      -- the defaults (1000 pages, 64 MiB) are c_registry's: reaching 64 MiB
      -- here costs minutes under the sanitizers and valgrind
    end)

    it("a server trickling 1 byte/s is dropped after low_speed_timeout", function()
      if NO_PYTHON then return pending(NO_PYTHON) end
      local fake = registries.fake("trickle")
      finally(fake.stop)
      local c = connect(fake.host, { low_speed_timeout = 1, low_speed_limit = 100, retries = 0 })
      local t0 = now()
      assert_fails("network", { "GET http://" .. fake.host .. "/v2/x/tags/list" }, c:tags("x"))
      assert.is_true(now() - t0 < 6, "took " .. (now() - t0) .. " s")
      c:close()
    end)
  end)

  -- ------------------------------------------------------------ item 19

  it("library messages show a server's strings with control characters escaped", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local fake = registries.fake("evil-strings")
    finally(fake.stop)
    local msg = assert_fails("unsupported", { "has media type application/x\\x1b[31mred" },
      registry.pull(fake.host .. "/x:evil-index", tmp .. "/evil", nil, opts()))
    assert.is_nil(msg:find("[%c]"), msg)
    local c = connect(fake.host)
    msg = assert_fails("registry", { "HTTP 404", "MANIFEST_UNKNOWN: no\\x1b[2Jsuch\\nmanifest" },
      c:get_manifest("x", "nope"))
    assert.is_nil(msg:find("[%c]"), msg)
    c:close()
  end)

  it("a server's Content-Type that is not UTF-8 is reported as such, not as out of memory", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local fake = registries.fake("evil-strings")
    finally(fake.stop)
    local c = connect(fake.host)
    local ok, msg, err = c:get_manifest("x", "bad-ctype")
    c:close()
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.truthy(msg:find('mediaType "application/vnd.\\xff\\xfe+json": not valid UTF-8', 1, true), msg)
    assert.is_nil(msg:find("memory", 1, true), msg)
    assert.are.equal("utf8", type(err) == "table" and err.code or err)
  end)

  -- ------------------------------------------------------------ item 13

  describe("push verifies what it uploads (docker-registry)", function()
    local reg
    before_each(function()
      if NO_REGISTRY then return end
      reg = registries.start()
    end)
    after_each(function()
      if reg then reg.stop() end
      reg = nil
    end)

    for _, chunk in ipairs({ 0, 7 }) do
      it(("a blob whose bytes changed in the layout is not committed (chunk_size %d)"):format(chunk), function()
        if NO_REGISTRY then return pending(NO_REGISTRY) end
        local dir = tmp .. "/tampered-" .. chunk
        local d = small_image(dir, "t")
        local L = assert(oci.layout.open(dir))
        local m = assert(L:resolve("t")).manifest
        L:close()
        local layer = m:layers()[1]
        local path = blob_file(dir, layer:digest())
        local bytes = assert(support.read(path))
        os.remove(path)
        support.write(path, bytes:sub(1, -2) .. string.char((bytes:byte(-1) + 1) % 256))
        assert_fails("mismatch", { layer:digest(), "content does not match its digest" },
          registry.push(dir, "t", reg.host .. "/tampered:t", opts{ chunk_size = chunk }))
        local c = connect(reg.host)
        assert.is_false((c:has_blob("tampered", layer:digest())))
        c:close()
        -- no upload was closed by a PUT that carried the digest
        assert.are.equal(0, reg.count_requests("PUT", "^/v2/tampered/blobs/uploads/.*digest=" ..
          layer:digest():gsub("%p", "%%%0")) - (chunk == 0 and 0 or 0))
        assert.are.equal(0, reg.count_requests("PUT", "^/v2/tampered/manifests/"))
        assert.truthy(d)
      end)
    end

    it("a blob file that is a symlink is not read", function()
      if NO_REGISTRY then return pending(NO_REGISTRY) end
      local dir = tmp .. "/symlinked"
      small_image(dir, "t")
      local L = assert(oci.layout.open(dir))
      local layer = assert(L:resolve("t")).manifest:layers()[1]
      L:close()
      local path = blob_file(dir, layer:digest())
      local real = tmp .. "/symlink-target"
      local _, ok = sh(("mv %s %s && ln -s %s %s"):format(q(path), q(real), q(real), q(path)))
      assert.truthy(ok)
      assert_fails("invalid", { layer:digest(), "symbolic link", "never followed" },
        registry.push(dir, "t", reg.host .. "/symlinked:t", opts()))
      local c = connect(reg.host)
      assert.is_false((c:has_blob("symlinked", layer:digest())))
      c:close()
    end)
  end)

  -- ------------------------------------------------------------ also

  it("push does not write the layout's ref.name into the referrers index (docker-registry)", function()
    if NO_REGISTRY then return pending(NO_REGISTRY) end
    local reg = registries.start()
    finally(reg.stop)
    local dir = tmp .. "/refname"
    local base = small_image(dir, "base")
    local L = assert(oci.layout.open(dir))
    local blob = assert(L:put_blob("signature", "application/vnd.example.sig"))
    local empty = assert(L:put_blob("{}", "application/vnd.oci.empty.v1+json"))
    local m = assert(oci.image.ImageManifest.from_table{
      schemaVersion = 2, mediaType = "application/vnd.oci.image.manifest.v1+json",
      artifactType = "application/vnd.example.sig",
      config = { mediaType = "application/vnd.oci.empty.v1+json", digest = empty:digest(), size = empty:size() },
      layers = { { mediaType = "application/vnd.example.sig", digest = blob:digest(), size = blob:size() } },
      subject = { mediaType = base:media_type(), digest = base:digest(), size = base:size() },
    })
    local md = assert(L:put_document(m))
    assert(L:tag(md, "sig-local-name"))
    L:close()
    assert(registry.push(dir, "base", reg.host .. "/refname:base", opts()))
    assert(registry.push(dir, "sig-local-name", reg.host .. "/refname:sig", opts()))
    local c = connect(reg.host)
    local tag = assert(oci.digest.referrers_tag(base:digest()))
    local body = assert(c:get_manifest_raw("refname", tag))
    c:close()
    assert.truthy(body:find(md:digest(), 1, true), body)
    assert.is_nil(body:find("org.opencontainers.image.ref.name", 1, true), body)
    assert.is_nil(body:find("sig-local-name", 1, true), body)
  end)

  it("pull REF@digest with no name records the image under its digest, so gc keeps it", function()
    if NO_PYTHON then return pending(NO_PYTHON) end
    local fake = registries.fake("ok")
    finally(fake.stop)
    local dir = tmp .. "/by-digest"
    local d = assert(registry.pull(fake.host .. "/x@" .. fake.blobs.manifest, dir, nil, opts()))
    assert.are.equal(fake.blobs.manifest, d:digest())
    local L = assert(oci.layout.open(dir))
    local entries = L:list()
    assert.are.equal(1, #entries)
    assert.are.equal(fake.blobs.manifest, entries[1].name)
    assert.are.equal(fake.blobs.manifest, entries[1].descriptor:digest())
    assert(L:gc())
    assert.truthy(L:has_blob(d))
    assert(L:verify())
    L:close()
  end)
end)
