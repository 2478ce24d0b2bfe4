-- The blob-location cache (issue 16 "Cross-repository mount", like
-- skopeo's blob-info cache): a blob seen in repository R of host H (pushed,
-- pulled, found by HEAD, mounted) is recorded in a small JSON file; a later
-- push or copy to H that lacks the blob in its repository mounts it from R
-- (POST ?mount=&from=) instead of uploading it, never across hosts; a
-- refused mount (202) drops the entry and the blob is uploaded; a corrupt or
-- hostile file is taken as empty. Each push runs `ocispec push` in a new
-- process; docker-registry's access log is the witness (mount 201, no PUT
-- of the shared blobs), python3 json and os.stat read the file.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local oci = require("ocispec")
local registry = require("ocispec.registry")
local q = registries.quote

local SKIP = registries.skip_reason()

local guard = registries.guard(SKIP, pending)

describe("blob-location cache", function()
  local reg, tmp, L, layers, n = nil, nil, nil, nil, 0
  setup(function()
    if SKIP then return end
    reg = registries.start()
    tmp = registries.scratch()
    -- image a: two layers; image b: the same two and one of its own
    L = assert(oci.layout.create(tmp .. "/src"))
    local function build(tag, contents)
      local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = "amd64" }, created = 0,
                                           compression = "none" })
      for i, content in ipairs(contents) do
        assert(img:add_layer{ entries = { { path = ("f%d"):format(i), type = "file",
                                            content = content, mode = 420 } } })
      end
      local top = assert(img:commit())
      assert(L:tag(top, tag))
      return assert(oci.image.ImageManifest.from_json(assert(L:get_blob(top:digest()))))
    end
    local ma = build("a", { ("layer one "):rep(3000), ("layer two "):rep(3000) })
    layers = { ma:layers()[1]:digest(), ma:layers()[2]:digest() }
    local mb = build("b", { ("layer one "):rep(3000), ("layer two "):rep(3000), ("layer three "):rep(2000) })
    assert(mb:layers()[1]:digest() == layers[1] and mb:layers()[2]:digest() == layers[2])
  end)
  teardown(function()
    if L then L:close() end
    if reg then reg.stop() end
    if tmp then support.rmdir(tmp) end
  end)

  -- `ocispec ARGS` in a new process (env: extra variables)
  local run = support.cli_runner(function() return tmp end)
  local function ocispec(args, env) return run(args, nil, env) end
  local function cache_file()
    n = n + 1
    return ("%s/cache%d/blob-locations.json"):format(tmp, n)
  end
  -- the cache file as python3 reads it: {entries = {...}, mode = "0o600"}
  local function read_cache(path)
    local out = support.py("import json, os, stat, sys; d = json.load(open(sys.argv[1])); "
      .. "d['mode'] = oct(stat.S_IMODE(os.stat(sys.argv[1]).st_mode)); print(json.dumps(d))", path)
    return oci.json.decode(out)
  end
  local function locations(doc, digest)
    local t = {}
    for _, e in ipairs(doc.entries) do
      if e.digest == digest then t[#t + 1] = e.host .. "/" .. e.repository end
    end
    return t
  end
  local function requests(method, repo, pattern)
    local list = {}
    for _, r in ipairs(reg.requests()) do
      if r.method == method and r.path:find("/v2/" .. repo .. "/blobs/", 1, true) == 1
          and (not pattern or r.path:find(pattern, 1, true)) then
        list[#list + 1] = r
      end
    end
    return list
  end

  it("a push in a new process mounts the layers an earlier push left in another repository", guard(function()
    local cache = cache_file()
    local _, err, status = ocispec(("push --plain-http -q --blob-cache %s %s %s/bc/r1:a")
      :format(q(cache), q(tmp .. "/src:a"), reg.host))
    assert.are.equal(0, status, err)
    local doc = read_cache(cache)
    assert.are.equal("0o600", doc.mode)
    assert.are.equal(1, doc.version)
    for _, l in ipairs(layers) do assert.are.same({ reg.host .. "/bc/r1" }, locations(doc, l)) end

    local out
    out, err, status = ocispec(("push --plain-http --blob-cache %s %s %s/bc/r2:b")
      :format(q(cache), q(tmp .. "/src:b"), reg.host))
    assert.are.equal(0, status, err)
    assert.truthy(out:find("2 mounted", 1, true), out)
    for _, l in ipairs(layers) do
      local m = requests("POST", "bc/r2", "mount=" .. l)
      assert.are.equal(1, #m)
      assert.are.equal(201, m[1].status)
      assert.truthy(m[1].path:find("from=bc%2Fr1", 1, true) or m[1].path:find("from=bc/r1", 1, true), m[1].path)
    end
    -- the config and the third layer uploaded, nothing else
    assert.are.equal(2, #requests("PUT", "bc/r2"))
    doc = read_cache(cache)
    for _, l in ipairs(layers) do
      assert.are.same({ reg.host .. "/bc/r2", reg.host .. "/bc/r1" }, locations(doc, l))
    end
    -- what landed is the image (python3 hashlib of the registry's blobs)
    for _, l in ipairs(layers) do
      assert.are.equal(l, registries.served_sha256(reg, "bc/r2", l))
    end
  end))

  it("a corrupt cache file is taken as empty: a normal upload, and the file written anew", guard(function()
    local cache = cache_file()
    for _, bad in ipairs({ "{not json", '{"version":1,"entries":[{"digest":1}]}', ('['):rep(100000) }) do
      n = n + 1
      local repo = ("bc/corrupt%d"):format(n)
      support.sh("mkdir -p " .. q(cache:match("^(.*)/")))
      support.write(cache, bad)
      local _, err, status = ocispec(("push --plain-http -q --blob-cache %s %s %s/%s:a")
        :format(q(cache), q(tmp .. "/src:a"), reg.host, repo))
      assert.are.equal(0, status, err)
      assert.are.equal(0, #requests("POST", repo, "mount="))
      assert.are.equal(3, #requests("PUT", repo))
      local doc = read_cache(cache)
      assert.are.same({ reg.host .. "/" .. repo }, locations(doc, layers[1]))
    end
  end))

  it("hostile entries are never used; another host's never gets a mount; a refused mount is dropped",
    guard(function()
      local cache = cache_file()
      support.sh("mkdir -p " .. q(cache:match("^(.*)/")))
      local l1 = layers[1]
      local entries = {
        -- another host: not even a request
        { digest = l1, host = "127.0.0.1:1", repository = "bc/elsewhere" },
        -- not a repository name, not a host, not a digest
        { digest = l1, host = reg.host, repository = "../../etc" },
        { digest = l1, host = "bad host\r\nX: y", repository = "bc/r1" },
        { digest = "sha256:xyz", host = reg.host, repository = "bc/r1" },
        -- this host, a repository without the blob: asked once, refused
        { digest = l1, host = reg.host, repository = "bc/nothere" },
      }
      support.write(cache, oci.json.encode({ version = 1, entries = entries }))
      local _, err, status = ocispec(("push --plain-http -q --blob-cache %s %s %s/bc/hostile:a")
        :format(q(cache), q(tmp .. "/src:a"), reg.host))
      assert.are.equal(0, status, err)
      local mounts = requests("POST", "bc/hostile", "mount=")
      assert.are.equal(1, #mounts)
      local from = mounts[1].path
      assert.truthy(from:find("from=bc%2Fnothere", 1, true) or from:find("from=bc/nothere", 1, true), from)
      assert.are.equal(202, mounts[1].status)
      assert.are.equal(3, #requests("PUT", "bc/hostile"))
      -- the refused location is gone, the bad ones were never kept
      local doc = read_cache(cache)
      assert.are.same({ reg.host .. "/bc/hostile", "127.0.0.1:1/bc/elsewhere" }, locations(doc, l1))
    end))

  it("copy from another host mounts from the repository the cache names; --no-blob-cache writes nothing",
    guard(function()
      -- the fault proxy is another host name for the same registry: the
      -- copy's source client is not its destination's, so only the cache
      -- knows a repository there
      local proxy = registries.proxy(reg.port)
      local ok, e = pcall(function()
        local cache = cache_file()
        local c = assert(registry.connect(reg.host, { plain_http = true, auth_file = false, blob_cache = cache }))
        for _, l in ipairs(layers) do assert.is_true(c:has_blob("bc/r1", l) ~= false) end
        c:close() -- written here
        local d, msg = registry.copy(proxy.host .. "/bc/r1:a", reg.host .. "/bc/copied:a",
          { plain_http = true, auth_file = false, dst = { blob_cache = cache } })
        assert(d, msg)
        for _, l in ipairs(layers) do
          local m = requests("POST", "bc/copied", "mount=" .. l)
          assert.are.equal(1, #m)
          assert.are.equal(201, m[1].status)
        end
        assert.are.equal(1, #requests("PUT", "bc/copied")) -- the config

        local none = cache_file()
        local _, err, status = ocispec(("push --plain-http -q --no-blob-cache %s %s/bc/none:a")
          :format(q(tmp .. "/src:a"), reg.host), "XDG_CACHE_HOME=" .. q(none:match("^(.*)/")))
        assert.are.equal(0, status, err)
        assert.is_nil(support.read(none))
        assert.is_nil(support.read(none:match("^(.*)/") .. "/ocispec/blob-locations.json"))
        -- the default: $XDG_CACHE_HOME/ocispec/blob-locations.json
        _, err, status = ocispec(("push --plain-http -q %s %s/bc/default:a"):format(q(tmp .. "/src:a"), reg.host),
          "env -u OCISPEC_BLOB_CACHE XDG_CACHE_HOME=" .. q(none:match("^(.*)/")))
        assert.are.equal(0, status, err)
        local doc = read_cache(none:match("^(.*)/") .. "/ocispec/blob-locations.json")
        assert.are.same({ reg.host .. "/bc/default" }, locations(doc, layers[1]))
      end)
      proxy.stop()
      assert(ok, e)
    end))

  -- sha256 (python3 hashlib) of the blob as the registry serves it
  local function served_sha256(repo, digest) return registries.served_sha256(reg, repo, digest) end

  it("a refused mount's upload session carries the upload (push and copy): no DELETE, no second POST",
    guard(function()
      local l1 = layers[1]
      -- a cache that names, for the first layer only, a repository of this
      -- host without it: the mount is refused with a session (202)
      local function refusing_cache()
        local cache = cache_file()
        support.sh("mkdir -p " .. q(cache:match("^(.*)/")))
        support.write(cache, oci.json.encode({ version = 1, entries = {
          { digest = l1, host = reg.host, repository = "bc/absent" } } }))
        return cache
      end
      local function check(repo, what)
        local mounts = requests("POST", repo, "mount=")
        assert.are.equal(1, #mounts, what)
        assert.are.equal(202, mounts[1].status, what)
        -- config + 2 layers: 3 sessions, the refused mount's among them
        assert.are.equal(3, #requests("POST", repo), what .. ": POSTs")
        assert.are.equal(0, #requests("DELETE", repo), what .. ": DELETEs")
        assert.are.equal(3, #requests("PUT", repo), what .. ": PUTs")
        for _, l in ipairs(layers) do assert.are.equal(l, served_sha256(repo, l), what) end
      end
      -- push (jobs = 1 and 4)
      for _, jobs in ipairs{ 1, 4 } do
        local repo = "bc/session" .. jobs
        local _, err, status = ocispec(("push --plain-http -q -j %d --blob-cache %s %s %s/%s:a")
          :format(jobs, q(refusing_cache()), q(tmp .. "/src:a"), reg.host, repo))
        assert.are.equal(0, status, err)
        check(repo, "push -j " .. jobs)
      end
      -- copy from another host name of the same registry (two clients: the
      -- upload streams while the download runs)
      local proxy = registries.proxy(reg.port)
      local ok, e = pcall(function()
        local d, msg = registry.copy(proxy.host .. "/bc/session1:a", reg.host .. "/bc/session-copy:a",
          { plain_http = true, auth_file = false, dst = { blob_cache = refusing_cache() } })
        assert(d, msg)
        check("bc/session-copy", "copy")
      end)
      proxy.stop()
      assert(ok, e)
    end))

  it("checks its option", function()
    support.assert_raises({ "blob_cache", "a path or a boolean" }, registry.connect, "127.0.0.1:1", { blob_cache = 1 })
    support.assert_raises({ "blob_cache", "a non-empty path" }, registry.connect, "127.0.0.1:1", { blob_cache = "" })
  end)
end)
