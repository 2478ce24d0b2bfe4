-- The image build pipeline (ocispec.build) end to end, checked by the
-- container tools that consume its output: umoci, oci-image-tool, skopeo
-- and runc. A missing tool (or root, for runc) makes its test pending with
-- the reason; nothing passes silently.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")

local EXAMPLE = here .. "../examples/build_image.lua"

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Output and success of a shell command (stderr folded in).
local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

local have = support.have

local function is_root()
  return (run("id -u")):match("^0") ~= nil
end

-- Runs the example into dir; returns the manifest digest it printed.
local function build_example(dir, tag)
  local out, ok = run(("lua5.4 %s %s %s"):format(quote(EXAMPLE), quote(dir), tag or "latest"))
  assert(ok, out)
  local digest = out:match("(sha256:%x+)%s*$")
  assert(digest, "no digest in: " .. out)
  return digest
end

describe("build pipeline", function()
  local tmp
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  it("builds the example reproducibly: two builds, one manifest digest", function()
    local a = build_example(tmp .. "/a")
    local b = build_example(tmp .. "/b")
    assert.are.equal(a, b)
    local L = assert(oci.layout.open(tmp .. "/a"))
    assert(L:verify())
    local r = assert(L:resolve("latest"))
    assert.are.equal(a, r.descriptor:digest())
    assert.are.same({ "/bin/sh", "-c", "echo hello from an ocispec image" }, r.config:config():cmd())
    assert.are.equal(1, #r.layers)
    assert.are.equal(oci.image.MediaType.ImageLayerGzip, r.layers[1]:media_type())
    local ids = r.config:rootfs():diff_ids()
    assert.are.equal(1, #ids)
    -- one history entry for the layer, one per config step
    local layers_in_history = 0
    for _, h in ipairs(r.config:history()) do
      if not h:empty_layer() then layers_in_history = layers_in_history + 1 end
    end
    assert.are.equal(1, layers_in_history)
    assert.are.equal("2024-01-01T00:00:00Z", r.config:created())
  end)

  it("a different SOURCE_DATE_EPOCH gives a different digest", function()
    local a = build_example(tmp .. "/a")
    local out, ok = run(("SOURCE_DATE_EPOCH=1700000000 lua5.4 %s %s"):format(quote(EXAMPLE), quote(tmp .. "/c")))
    assert(ok, out)
    assert.are_not.equal(a, out:match("(sha256:%x+)%s*$"))
  end)

  it("umoci unpacks the image into a bundle whose config.json validates", function()
    if not have("umoci") then return pending("umoci is not installed") end
    build_example(tmp .. "/img")
    local out, ok = run(("umoci unpack --rootless --image %s:latest %s")
      :format(quote(tmp .. "/img"), quote(tmp .. "/bundle")))
    assert(ok, out)
    local f = io.open(tmp .. "/bundle/rootfs/bin/busybox", "rb")
    assert.is_not_nil(f, "busybox missing from the unpacked rootfs")
    f:close()
    local spec = assert(oci.runtime.Spec.from_file(tmp .. "/bundle/config.json"))
    assert.are.same({ "/bin/sh", "-c", "echo hello from an ocispec image" }, spec:process():args())
    assert(spec:validate())
  end)

  it("oci-image-tool validates the layout", function()
    if not have("oci-image-tool") then return pending("oci-image-tool is not installed") end
    build_example(tmp .. "/img")
    local out, ok = run(("oci-image-tool validate --type image --ref name=latest %s"):format(quote(tmp .. "/img")))
    assert(ok, out)
  end)

  it("skopeo copies it, and the copy opens, resolves and verifies with ocispec", function()
    if not have("skopeo") then return pending("skopeo is not installed") end
    local digest = build_example(tmp .. "/img")
    local out, ok = run(("skopeo copy oci:%s:latest oci:%s:copied"):format(quote(tmp .. "/img"), quote(tmp .. "/copy")))
    assert(ok, out)
    local L = assert(oci.layout.open(tmp .. "/copy"))
    assert(L:verify())
    local r = assert(L:resolve("copied"))
    assert.are.equal(digest, r.descriptor:digest())
    assert.are.same({ "/bin/sh", "-c", "echo hello from an ocispec image" }, r.config:config():cmd())
  end)

  it("runc runs the unpacked image and prints what its Cmd prints", function()
    if not is_root() then return pending("runc needs root") end
    if not have("runc") or not have("umoci") then return pending("runc or umoci is not installed") end
    build_example(tmp .. "/img")
    local bundle = tmp .. "/bundle"
    local out, ok = run(("umoci unpack --image %s:latest %s"):format(quote(tmp .. "/img"), quote(bundle)))
    assert(ok, out)
    -- no terminal: runc's output goes to our pipe
    local spec = assert(oci.runtime.Spec.from_file(bundle .. "/config.json"))
    spec:process():set_terminal(false)
    assert(spec:to_file_pretty(bundle .. "/config.json"))
    local id = ("ocispec-pipeline-%d"):format(math.random(1, 1 << 30))
    local root = tmp .. "/runc-state"
    out, ok = run(("cd %s && runc --root %s run %s"):format(quote(bundle), quote(root), id))
    run(("runc --root %s delete --force %s"):format(quote(root), id))
    assert(ok, out)
    assert.are.equal("hello from an ocispec image", out:match("^([^\n]*)"))
  end)

  describe("Image.from and Index", function()
    it("continues an image with a changeset layer and config steps", function()
      build_example(tmp .. "/img")
      local L = assert(oci.layout.open(tmp .. "/img"))
      local lower, upper = tmp .. "/lower", tmp .. "/upper"
      assert(os.execute(("mkdir -p %s/etc %s/etc && echo a > %s/etc/motd && echo b > %s/etc/old")
        :format(quote(lower), quote(upper), quote(lower), quote(lower))))
      -- another size: changesets compare metadata (as Docker does), and two
      -- writes within one kernel clock tick can share their mtime
      assert(os.execute(("echo changed > %s/etc/motd"):format(quote(upper))))
      local img = assert(oci.build.Image.from(L, "latest", { created = 1704153600 }))
      assert(img:add_layer{ lower = lower, upper = upper, created_by = "edit /etc", mtime = 1704153600 })
      img:user("0:0"):expose("8080/tcp"):volume("/data"):stop_signal("SIGTERM"):entrypoint({ "/bin/sh" })
      local desc = assert(img:commit("child"))
      assert(L:verify())
      local r = assert(L:resolve("child"))
      assert.are.equal(desc:digest(), r.descriptor:digest())
      assert.are.equal(2, #r.layers)
      assert.are.equal(2, #r.config:rootfs():diff_ids())
      local c = r.config:config()
      assert.are.equal("0:0", c:user())
      assert.are.same({ "8080/tcp" }, c:exposed_ports())
      assert.are.same({ "/data" }, c:volumes())
      assert.are.same({ "/bin/sh" }, c:entrypoint())
      -- the base's Cmd and Env stay
      assert.are.same({ "/bin/sh", "-c", "echo hello from an ocispec image" }, c:cmd())
      assert.are.equal("2024-01-02T00:00:00Z", r.config:created())
      -- the changeset: motd changed, old deleted (a whiteout)
      local names = {}
      for _, e in ipairs(assert(oci.layer.entries(L:blob_path(r.layers[2]:digest())))) do
        names[e.path:gsub("/$", "")] = true
      end
      assert.is_true(names["etc/motd"])
      assert.is_true(names["etc/.wh.old"])
    end)

    it("gathers two platforms into an index and resolves each", function()
      local L = assert(oci.layout.create(tmp .. "/multi"))
      local idx = oci.build.Index.new(L)
      for _, arch in ipairs({ "amd64", "arm64" }) do
        local img = oci.build.Image.new(L, { platform = { os = "linux", architecture = arch }, created = 0 })
        assert(img:add_layer{ entries = { { path = "arch", type = "file", content = arch .. "\n", mode = 420 } } })
        img:cmd({ "/bin/cat", "/arch" })
        idx:add(assert(img:commit()))
      end
      assert(idx:commit("multi"))
      assert(L:verify())
      for _, arch in ipairs({ "amd64", "arm64" }) do
        local r = assert(L:resolve("multi", { platform = { os = "linux", architecture = arch } }))
        assert.are.equal(arch, r.config:architecture())
        assert.is_not_nil(r.index)
      end
      local none, msg = L:resolve("multi", { platform = { os = "linux", architecture = "s390x" } })
      assert.is_nil(none)
      assert.truthy(msg:find("s390x", 1, true), msg)
    end)

    it("annotates the manifest: Image.new's annotations, annotate(), kept by Image.from", function()
      local cjson = require("cjson") -- the oracle: lua-cjson reads the manifest bytes
      local L = assert(oci.layout.create(tmp .. "/annotated"))
      local img = oci.build.Image.new(L, { created = 0, annotations = { a = "from new", b = "old" } })
      assert(img:add_layer{ entries = { { path = "f", type = "file", content = "x", mode = 420 } } })
      assert.are.equal(img, img:annotate("b", "new"):annotate("org.opencontainers.image.title", "tést"))
      local desc = assert(img:commit("annotated"))
      local m = cjson.decode((assert(L:get_blob(desc:digest()))))
      assert.are.same({ a = "from new", b = "new", ["org.opencontainers.image.title"] = "tést" }, m.annotations)
      assert(L:verify())
      -- a child keeps its parent's annotations; its own win
      local child = assert(oci.build.Image.from(L, "annotated", { created = 0 }))
      child:annotate("a", "child")
      local cdesc = assert(child:commit("child"))
      local cm = cjson.decode((assert(L:get_blob(cdesc:digest()))))
      assert.are.same({ a = "child", b = "new", ["org.opencontainers.image.title"] = "tést" }, cm.annotations)
      -- without any annotation the manifest has none (not an empty map)
      local plain = oci.build.Image.new(L, { created = 0 })
      local pm = cjson.decode((assert(L:get_blob(assert(plain:commit()):digest()))))
      assert.is_nil(pm.annotations)
      -- misuse raises, naming the argument
      assert.has_error(function() img:annotate(1, "x") end, "annotation key: string expected, got number")
      assert.has_error(function() img:annotate("k") end, "annotation value: string expected, got nil")
    end)

    it("reports bad input with a clear error", function()
      local L = assert(oci.layout.create(tmp .. "/bad"))
      local img = oci.build.Image.new(L, { created = 0 })
      local ok, msg = img:add_layer{ dir = tmp .. "/does-not-exist" }
      assert.is_nil(ok)
      assert.truthy(msg:find("does-not-exist", 1, true), msg)
      assert.has_error(function() img:cmd("not a list") end, "cmd: a list of strings expected")
      assert.has_error(function() img:env("A=B", "c") end, "env: bad variable name \"A=B\"")
      assert.has_error(function() oci.build.Image.new(L, { compression = "lz4" }) end,
        "Image.new: compression must be gzip, zstd or none, got lz4")
      local none, err = oci.build.Image.from(L, "no-such-tag")
      assert.is_nil(none)
      assert.truthy(err:find("no-such-tag", 1, true), err)
    end)
  end)
end)
