-- The Lua binding of the registry client where no registry is needed:
-- option checking, argument misuse, closed clients, references, and the
-- error shape of a network failure (a port nobody listens on). The calls
-- against real registries are in registry_spec.lua and cli_registry_spec.lua.
local oci = require("ocispec")
local registry = oci.registry

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")

describe("ocispec.registry binding", function()
  it("is reachable as oci.registry and ocispec.registry", function()
    assert.are.equal(registry, require("ocispec.registry"))
    assert.is_function(registry.connect)
    assert.are.equal(4 * 1024 * 1024, registry.MANIFEST_MAX)
    assert.are.equal(64 * 1024 * 1024, registry.GET_BLOB_MAX)
    assert.truthy(registry.ACCEPT_MANIFESTS:find("application/vnd.oci.image.index.v1+json", 1, true))
  end)

  it("checks option types, naming the option", function()
    local cases = {
      { { plain_http = "yes" }, "option 'plain_http' must be a boolean" },
      { { tls_verify = 1 }, "option 'tls_verify' must be a boolean" },
      { { username = 5 }, "option 'username' must be a string" },
      { { password = {} }, "option 'password' must be a string" },
      { { auth_file = true }, "option 'auth_file' must be a string or false" },
      { { retries = 1.5 }, "option 'retries' must be an integer" },
      { { retries = -1 }, "option 'retries' is out of range" },
      { { chunk_size = "big" }, "option 'chunk_size' must be an integer" },
      { { connect_timeout = -5 }, "option 'connect_timeout' is out of range" },
      { { progress = "print" }, "option 'progress' must be a function" },
      { { ca_file = "a\0b" }, "option 'ca_file' holds a NUL byte" },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(registry.connect, "127.0.0.1:5000", case[1])
      assert.is_false(ok)
      assert.truthy(err:find("bad argument #2 to 'connect'", 1, true), err)
      assert.truthy(err:find(case[2], 1, true), err)
    end
    assert.has_error(function() registry.connect("127.0.0.1:5000", "plain") end,
      "bad argument #2 to 'connect' (table expected, got string)")
    assert.has_error(function() registry.connect(nil) end, "bad argument #1 to 'connect' (string expected, got nil)")
    local ok, err = pcall(registry.connect, "127.0.0.1\0:5000")
    assert.is_false(ok)
    assert.truthy(err:find("host holds a NUL byte", 1, true), err)
  end)

  it("returns nil, message, 'invalid' for a malformed host", function()
    local c, msg, code = registry.connect("http://127.0.0.1:5000/v2")
    assert.is_nil(c)
    assert.are.equal("invalid", code.code)
    assert.is_string(msg)
  end)

  it("makes a client without contacting anyone; close is idempotent", function()
    local c = assert(registry.connect("127.0.0.1:5000", { plain_http = true, auth_file = false, retries = 0 }))
    assert.are.equal("127.0.0.1:5000", c:host())
    assert.are.equal("ocispec.registry.Client (127.0.0.1:5000)", tostring(c))
    -- a file that is not there fails before any request, naming it
    local none, msg, code = c:push_blob_file("a/b", "/nonexistent/layer.tar")
    assert.is_nil(none)
    assert.are.equal("io", code.code)
    assert.truthy(msg:find("/nonexistent/layer.tar", 1, true), msg)
    -- a folder that holds something else is not made a layout
    local dir = support.tmpdir()
    support.write(dir .. "/notes.txt", "mine")
    local none2, msg2, code2 = registry.pull("127.0.0.1:1/a/b:1", dir, nil, { auth_file = false })
    assert.is_nil(none2)
    assert.are.equal("invalid", code2.code)
    assert.truthy(msg2:find(dir, 1, true), msg2)
    assert.are.equal("mine", support.read(dir .. "/notes.txt"))
    support.rmdir(dir)
    local s = c:stats()
    assert.are.equal(0, s.requests)
    assert.are.equal(0, s.bytes_uploaded)
    c:close()
    c:close()
    assert.are.equal("ocispec.registry.Client (closed)", tostring(c))
    local ok, err = pcall(c.ping, c)
    assert.is_false(ok)
    assert.truthy(err:find("attempt to use a closed ocispec.registry.Client", 1, true), err)
    do
      local d <close> = assert(registry.connect("registry.example"))
      assert.are.equal("registry.example", d:host())
    end
  end)

  it("raises on argument misuse, naming the argument", function()
    local c = assert(registry.connect("127.0.0.1:5000", { auth_file = "" }))
    assert.has_error(function() c:get_manifest(nil, "1") end,
      "bad argument #1 to 'get_manifest' (string expected, got nil)")
    assert.has_error(function() c:get_blob("demo", 42) end,
      "bad argument #2 to 'get_blob' (ocispec.image.Descriptor expected, got number)")
    assert.has_error(function() c:put_manifest("demo", "1", 42) end,
      "bad argument #3 to 'put_manifest' (image.ImageManifest, image.ImageIndex or string expected, got number)")
    assert.has_error(function() c:push("not a layout", "1", "demo") end,
      "bad argument #1 to 'push' (ocispec.layout.Layout expected, got string)")
    assert.has_error(function() c:pull("demo", "1", {}) end,
      "bad argument #3 to 'pull' (ocispec.layout.Layout expected, got table)")
    assert.has_error(function() c:copy("a", "1", "not a client", "b") end,
      "bad argument #3 to 'copy' (ocispec.registry.Client expected, got string)")
    local ok, err = pcall(c.tags_page, c, "demo", -1)
    assert.is_false(ok)
    assert.truthy(err:find("between 0 and 1e9", 1, true), err)
    ok, err = pcall(c.get_manifest, c, "de\0mo", "1")
    assert.is_false(ok)
    assert.truthy(err:find("repo holds a NUL byte", 1, true), err)
    -- a JSON text without mediaType needs the media type argument
    local d, msg, code = c:put_manifest("demo", "1", '{"schemaVersion":2}')
    assert.is_nil(d)
    assert.are.equal("invalid", code.code)
    assert.truthy(msg:find("mediaType", 1, true), msg)
    c:close()
  end)

  it("parses references; docker.io is contacted as registry-1.docker.io", function()
    local r = assert(registry.parse_reference("busybox"))
    assert.are.equal("docker.io", r.registry)
    assert.are.equal("docker.io", r.host) -- the core maps it, after credentials
    local c = assert(registry.connect("docker.io", { auth_file = "" }))
    assert.are.equal("docker.io", c:host())
    c:close()
    assert.are.equal("library/busybox", r.repository)
    assert.are.equal("latest", r.tag)
    assert.are.equal("latest", r.reference)
    local dg = "sha256:" .. ("a"):rep(64)
    r = assert(registry.parse_reference("127.0.0.1:5000/a/b@" .. dg))
    assert.are.equal("127.0.0.1:5000", r.host)
    assert.are.equal("a/b", r.repository)
    assert.are.equal(dg, r.reference)
    local none, msg, code = registry.parse_reference("Upper/case")
    assert.is_nil(none)
    assert.are.equal("invalid", code.code)
    assert.truthy(msg:find("Upper", 1, true), msg)
    assert.are.equal("registry-1.docker.io", registry.host_of("index.docker.io"))
    assert.are.equal("ghcr.io", registry.host_of("ghcr.io"))
  end)

  it("reports a network failure with its info table", function()
    local port = registries.closed_port()
    if not port then return pending("python3 is needed to find a closed port") end
    local c = assert(registry.connect("127.0.0.1:" .. port, { plain_http = true, retries = 0, auth_file = false }))
    local ok, msg, code, extra = c:ping()
    assert.is_nil(ok)
    assert.is_nil(extra)
    assert.are.equal("network", code.code)
    assert.is_string(msg)
    local info = code.http
    assert.is_table(info)
    assert.are.equal(0, info.status)
    assert.are.equal("GET", info.method)
    assert.truthy(info.url:find("http://127.0.0.1:" .. port .. "/v2/", 1, true), info.url)
    assert.are.same({}, info.codes)
    assert.is_nil(info.response)
    assert.is_true(c:stats().requests >= 1)
    c:close()
    -- the module functions give the same shape
    local d, msg2, code2 = registry.tags("127.0.0.1:" .. port .. "/demo", { plain_http = true, retries = 0 })
    assert.is_nil(d)
    assert.are.equal("network", code2.code)
    local info2 = code2.http
    assert.is_string(msg2)
    assert.are.equal(0, info2.status)
  end)
end)
