-- The ocispec command, run as a user runs it: through a shell, checking
-- stdout, stderr and the exit status, on good and bad input.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")

local MANIFEST = [[{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
"config":{"mediaType":"application/vnd.oci.image.config.v1+json",
"digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7","size":7023},
"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",
"digest":"sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0","size":32654}],
"x-unknown":{"kept":true}}]]

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local tmp
local function write(name, content)
  local path = tmp .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return path
end

-- Runs `ocispec <args>` (args: a shell-quoted string) with optional stdin;
-- returns stdout, stderr, exit status.
local ocispec = support.cli_runner(function() return tmp end)

describe("ocispec command", function()
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  it("lists its commands; every command has --help", function()
    local out, _, status = ocispec("--help")
    assert.are.equal(0, status)
    for _, cmd in ipairs({ "validate", "fmt", "digest", "convert", "spec", "layout", "build", "unpack",
      "push", "pull", "copy", "tags", "inspect" }) do
      assert.truthy(out:find("\n  " .. cmd, 1, true), cmd)
      local help, err, st = ocispec(cmd .. " --help")
      assert.are.equal(0, st, err)
      assert.truthy(help:find("usage: ocispec " .. cmd, 1, true), help)
    end
    local _, err, st = ocispec("frobnicate")
    assert.are.equal(2, st)
    assert.truthy(err:find('unknown command "frobnicate"', 1, true), err)
    local _, _, none = ocispec("")
    assert.are.equal(2, none)
  end)

  describe("validate", function()
    it("detects the kind and accepts valid documents (exit 0)", function()
      local m = write("m.json", MANIFEST)
      local spec = tmp .. "/config.json"
      assert(oci.runtime.Spec.default():to_file(spec))
      local out, err, status = ocispec("validate m.json config.json")
      assert.are.equal(0, status, err)
      assert.truthy(out:find(m:match("[^/]+$") .. ": valid image-manifest", 1, true), out)
      assert.truthy(out:find("config.json: valid runtime-config", 1, true), out)
    end)

    it("prints every problem with pointer and rule, exit 1", function()
      write("bad.json", (MANIFEST:gsub('"size":7023', '"size":-1'):gsub("sha256:9834", "sha256:ABCD")))
      local out, _, status = ocispec("validate bad.json")
      assert.are.equal(1, status)
      assert.truthy(out:find("bad.json: error: /layers/0/digest:", 1, true), out)
      assert.truthy(out:find("/config/size", 1, true), out)
      assert.truthy(out:find("(I-", 1, true), out)
    end)

    it("reports syntax errors with line and column, exit 1", function()
      write("broken.json", '{"schemaVersion":2,\n"config": {,}}')
      local _, err, status = ocispec("validate --kind image-manifest broken.json")
      assert.are.equal(1, status)
      assert.truthy(err:find("broken.json: ImageManifest: 2:", 1, true), err)
      write("notjson.json", "{")
      _, err, status = ocispec("validate notjson.json")
      assert.are.equal(1, status)
      assert.truthy(err:find("notjson.json: not JSON", 1, true), err)
    end)

    it("detects kinds exactly: artifact manifests, platforms vs image configs, descriptors", function()
      local blob = '{"mediaType":"text/plain","digest":'
        .. '"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","size":5}'
      local am = '{"mediaType":"application/vnd.oci.artifact.manifest.v1+json",'
        .. '"artifactType":"application/vnd.example+type","blobs":[' .. blob .. ']}'
      local cases = {
        { am, "image-artifact-manifest" },
        { '{"architecture":"amd64","os":"linux"}', "image-platform" },
        { '{"architecture":"arm64","os":"linux","variant":"v8","os.features":["x"]}', "image-platform" },
        { '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}', "image-config" },
        { blob, "image-descriptor" },
        -- a descriptor of a manifest is a descriptor, not a manifest
        { (blob:gsub("text/plain", "application/vnd.oci.image.manifest.v1+json")), "image-descriptor" },
        { MANIFEST, "image-manifest" },
      }
      for i, c in ipairs(cases) do
        write("k" .. i .. ".json", c[1])
        local out, err, status = ocispec("validate k" .. i .. ".json")
        assert.are.equal(0, status, c[1] .. ": " .. err)
        assert.are.equal(("k%d.json: valid %s\n"):format(i, c[2]), out)
      end
      -- without its mediaType (required): known by blobs + artifactType
      write("nomt.json", (am:gsub('"mediaType":"application/vnd.oci.artifact.manifest.v1%+json",', "")))
      local _, e, st = ocispec("validate nomt.json")
      assert.are.equal(1, st)
      assert.truthy(e:find('missing required field "mediaType" in ArtifactManifest', 1, true), e)
      -- told the kind
      write("am.json", am)
      local out, err, status = ocispec("validate --kind image-artifact-manifest am.json")
      assert.are.equal(0, status, err)
      assert.are.equal("am.json: valid image-artifact-manifest\n", out)
      write("bad-am.json", (am:gsub("sha256:2cf2", "sha256:XYZ")))
      out, _, status = ocispec("validate bad-am.json")
      assert.are.equal(1, status)
      assert.truthy(out:find("bad-am.json: error: /blobs/0/digest:", 1, true), out)
      -- a platform is not an image config: told the kind, it is invalid
      write("plat.json", '{"architecture":"amd64","os":"linux"}')
      _, err, status = ocispec("validate --kind image-config plat.json")
      assert.are.equal(1, status)
      assert.truthy(err:find('missing required field "rootfs"', 1, true), err)
      -- a shape that fits none or two kinds: --kind is needed
      for _, doc in ipairs({ '{"architecture":"amd64","os":"linux","x":1}',
        '{"schemaVersion":2,"manifests":[],"layers":[]}' }) do
        write("amb.json", doc)
        _, err, status = ocispec("validate amb.json")
        assert.are.equal(2, status, doc)
        assert.truthy(err:find("cannot tell what kind of document this is; pass --kind", 1, true), err)
      end
      -- an image config without rootfs is still an image config (reported missing)
      write("nr.json", '{"architecture":"amd64","os":"linux","config":{}}')
      _, err, status = ocispec("validate nr.json")
      assert.are.equal(1, status)
      assert.truthy(err:find('missing required field "rootfs"', 1, true), err)
    end)

    it("reads stdin for -, and takes --kind", function()
      local out, err, status = ocispec("validate -", MANIFEST)
      assert.are.equal(0, status, err)
      assert.truthy(out:find("-: valid image-manifest", 1, true), out)
      local _, err2, st2 = ocispec("validate --kind image-index -", MANIFEST)
      assert.are.equal(1, st2)
      assert.truthy(err2:find('missing required field "manifests"', 1, true), err2)
    end)

    it("usage and I/O errors exit 2, with one line on stderr", function()
      local _, err, status = ocispec("validate missing.json")
      assert.are.equal(2, status)
      assert.truthy(err:find("^ocispec validate: missing.json: No such file or directory\n$"), err)
      _, err, status = ocispec("validate")
      assert.are.equal(2, status)
      assert.truthy(err:find("no FILE given", 1, true), err)
      _, err, status = ocispec("validate --kind nonsense -", MANIFEST)
      assert.are.equal(2, status)
      assert.truthy(err:find('unknown kind "nonsense"', 1, true), err)
      write("what.json", '{"hello":"world"}')
      _, err, status = ocispec("validate what.json")
      assert.are.equal(2, status)
      assert.truthy(err:find("cannot tell what kind", 1, true), err)
      _, err, status = ocispec("validate --bogus x")
      assert.are.equal(2, status)
      assert.truthy(err:find("unknown option --bogus", 1, true), err)
    end)
  end)

  describe("fmt", function()
    it("pretty-prints by default, keeps unknown fields, --compact", function()
      write("m.json", MANIFEST)
      local out, err, status = ocispec("fmt m.json")
      assert.are.equal(0, status, err)
      assert.truthy(out:find('^{\n  "schemaVersion": 2,\n'), out)
      assert.truthy(out:find('"x-unknown"', 1, true), out)
      local compact = ocispec("fmt --compact m.json")
      assert.are.equal(assert(oci.image.ImageManifest.from_json(MANIFEST)):to_json() .. "\n", compact)
    end)

    it("rewrites in place atomically, and refuses bad input without touching the file", function()
      local path = write("m.json", MANIFEST)
      local _, err, status = ocispec("fmt --in-place m.json")
      assert.are.equal(0, status, err)
      -- what stdout shows, final newline included
      assert.are.equal(assert(oci.image.ImageManifest.from_json(MANIFEST)):to_json({ pretty = true }) .. "\n",
        support.read(path))
      assert.are.equal(ocispec("fmt m.json"), support.read(path))
      _, err, status = ocispec("fmt --in-place --compact m.json")
      assert.are.equal(0, status, err)
      assert.are.equal(ocispec("fmt --compact m.json"), support.read(path))
      assert.truthy(support.read(path):find("}\n$"))
      local bad = '{"schemaVersion":2,"config":{}}'
      write("bad.json", bad)
      _, err, status = ocispec("fmt --in-place --kind image-manifest bad.json")
      assert.are.equal(1, status)
      assert.truthy(err:find("bad.json", 1, true), err)
      assert.are.equal(bad, support.read(tmp .. "/bad.json"))
      _, err, status = ocispec("fmt --pretty --compact m.json")
      assert.are.equal(2, status)
      assert.truthy(err:find("exclude each other", 1, true), err)
      _, err, status = ocispec("fmt --in-place -", MANIFEST)
      assert.are.equal(2, status)
      assert.truthy(err:find("needs files", 1, true), err)
    end)
  end)

  describe("digest", function()
    it("prints sha256 and sha512 like sha256sum, for files and stdin", function()
      write("blob", "hello\n")
      local out, err, status = ocispec("digest blob")
      assert.are.equal(0, status, err)
      assert.are.equal("sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  blob\n", out)
      out = ocispec("digest --algorithm sha512 -", "hello\n")
      assert.are.equal("sha512:e7c22b994c59d9cf2b48e549b1e24666636045930d3da7c1acb299d1c3b7f931"
        .. "f94aae41edda2c2b207a36e10f8bcb8d45223e54878f5b316e7ce3b6bc019629  -\n", out)
      local _, err2, st2 = ocispec("digest --algorithm md5 blob")
      assert.are.equal(2, st2)
      assert.truthy(err2:find('unsupported algorithm "md5"', 1, true), err2)
      local _, err3, st3 = ocispec("digest nothing-here")
      assert.are.equal(2, st3)
      assert.truthy(err3:find("nothing-here", 1, true), err3)
    end)
  end)

  describe("convert", function()
    it("converts to Docker media types and back", function()
      write("m.json", MANIFEST)
      local out, err, status = ocispec("convert --to docker m.json")
      assert.are.equal(0, status, err)
      local d = assert(oci.image.ImageManifest.from_json(out))
      assert.are.equal(oci.image.MediaType.DockerManifest, d:media_type())
      assert.are.equal(oci.image.MediaType.DockerContainerConfig, d:config():media_type())
      assert.are.equal(oci.image.MediaType.DockerLayerGzip, d:layers()[1]:media_type())
      write("d.json", out)
      local back = ocispec("convert --to oci d.json")
      assert.is_true(assert(oci.image.ImageManifest.from_json(back)) ==
        assert(oci.image.ImageManifest.from_json(MANIFEST)))
      -- --in-place writes what stdout shows, final newline included
      local _, err2, st2 = ocispec("convert --to docker --in-place m.json")
      assert.are.equal(0, st2, err2)
      assert.are.equal(out, support.read(tmp .. "/m.json"))
    end)

    it("refuses what has no equivalent, and other kinds", function()
      write("a.json", (MANIFEST:gsub("vnd.oci.image.layer.v1.tar%+gzip", "vnd.example.thing")))
      local _, err, status = ocispec("convert --to docker a.json")
      assert.are.equal(1, status)
      assert.truthy(err:find("/layers/0/mediaType: application/vnd.example.thing has no Docker equivalent",
        1, true), err)
      assert(oci.runtime.Spec.default():to_file(tmp .. "/config.json"))
      _, err, status = ocispec("convert --to docker config.json")
      assert.are.equal(1, status)
      assert.truthy(err:find("no media types to convert", 1, true), err)
      _, err, status = ocispec("convert a.json")
      assert.are.equal(2, status)
      assert.truthy(err:find("--to docker or --to oci", 1, true), err)
    end)
  end)

  describe("build, layout and unpack", function()
    local EXAMPLE = assert(oci.core.realpath(here .. "../examples/build_image.lua"))

    it("builds the example image with a build script, lists, inspects, verifies it", function()
      local out, err, status = ocispec("build " .. quote(EXAMPLE) .. " img")
      assert.are.equal(0, status, err)
      local digest = out:match("img:latest (sha256:%x+)")
      assert.is_not_nil(digest, out)
      out, err, status = ocispec("layout ls img")
      assert.are.equal(0, status, err)
      assert.truthy(out:find("^latest%s+" .. digest), out)
      out = ocispec("layout ls --json img")
      local rows = assert(oci.json.decode(out))
      assert.are.equal("latest", rows[1].name)
      assert.are.equal(digest, rows[1].digest)
      out, err, status = ocispec("layout inspect img:latest")
      assert.are.equal(0, status, err)
      assert.truthy(out:find("manifest  " .. digest, 1, true), out)
      assert.truthy(out:find('cmd       ["/bin/sh","-c","echo hello from an ocispec image"]', 1, true), out)
      assert.truthy(out:find("layers    1", 1, true), out)
      out = ocispec("layout inspect --json img")
      assert.are.equal(digest, assert(oci.json.decode(out)).descriptor.digest)
      out, err, status = ocispec("layout verify img")
      assert.are.equal(0, status, err)
      assert.truthy(out:find("img: verified", 1, true), out)
      -- a local tag missing from the layout is a local error (2)
      out, err, status = ocispec("layout inspect img:nope")
      assert.are.equal("", out)
      assert.are.equal(2, status)
      assert.truthy(err:find('^ocispec layout: img: no image named "nope" in index.json %(names: latest%)'), err)
    end)

    it("IMAGE is DIR[:NAME], DIR:DIGEST, DIR@DIGEST or DIR:NAME@DIGEST (inspect, unpack, push)", function()
      local out, err, status = ocispec("build " .. quote(EXAMPLE) .. " img")
      assert.are.equal(0, status, err)
      local digest = out:match("img:latest (sha256:%x+)")
      local other = "sha256:" .. ("0"):rep(64)
      for _, ref in ipairs({ "img@" .. digest, "img:" .. digest, "img:latest@" .. digest }) do
        out, err, status = ocispec("layout inspect " .. ref)
        assert.are.equal(0, status, ref .. ": " .. err)
        assert.truthy(out:find("manifest  " .. digest, 1, true), out)
        out, err, status = ocispec("layout inspect --json " .. ref)
        assert.are.equal(0, status, err)
        assert.are.equal(digest, assert(oci.json.decode(out)).descriptor.digest)
      end
      local bad = {
        ["img@" .. other] = "img: no blob " .. other .. " in the layout",
        ["img:" .. other] = "img: no blob " .. other,
        ["img:latest@" .. other] = "img: latest is " .. digest .. ", not " .. other,
        ["img:nope@" .. digest] = 'img: no image named "nope"',
        ["img@sha256:abc"] = 'img@sha256:abc: bad digest "sha256:abc"',
        ["img:sha256:abc"] = 'bad digest "sha256:abc"',
      }
      for ref, msg in pairs(bad) do
        out, err, status = ocispec("layout inspect " .. ref)
        assert.are.equal(2, status, ref)
        assert.are.equal("", out)
        assert.truthy(err:find(msg, 1, true), ref .. ": " .. err)
        out, err, status = ocispec("unpack " .. ref .. " b")
        assert.are.equal(2, status, ref)
        assert.are.equal("", out)
        assert.truthy(err:find(msg, 1, true), ref .. ": " .. err)
        -- push checks the image before it connects
        out, err, status = ocispec("push " .. ref .. " 127.0.0.1:1/demo:1")
        assert.are.equal(2, status, ref)
        assert.are.equal("", out)
        assert.truthy(err:find(msg, 1, true), ref .. ": " .. err)
      end
      assert.is_nil(support.read(tmp .. "/b/config.json"))
      out, err, status = ocispec("unpack --rootless img@" .. digest .. " bundle")
      assert.are.equal(0, status, err)
      assert.are.equal("bundle\n", out)
      assert.is_not_nil(support.read(tmp .. "/bundle/config.json"))
      -- a digest push gets past the layout: the closed port is the error (1)
      local _, err2, st2 = ocispec("push img@" .. digest .. " 127.0.0.1:1/demo:1")
      assert.are.equal(1, st2, err2)
      assert.is_nil(err2:find("layout", 1, true), err2)
      for _, cmd in ipairs({ "layout", "unpack", "push" }) do
        out = ocispec(cmd .. " --help")
        assert.truthy(out:find("DIR:NAME@DIGEST", 1, true), cmd)
      end
    end)

    it("inspects an artifact (a manifest whose config is not an image config)", function()
      local L = assert(oci.layout.create(tmp .. "/art"))
      local empty = assert(L:put_blob("{}", "application/vnd.oci.empty.v1+json"))
      local blob = assert(L:put_blob("hello", "text/plain"))
      local m = assert(oci.image.ImageManifest.from_table({ schemaVersion = 2,
        mediaType = oci.image.MediaType.ImageManifest, artifactType = "application/vnd.example+type",
        config = empty:to_table(), layers = { blob:to_table() } }))
      local d = assert(L:put_document(m))
      assert(L:tag(d, "a1"))
      local out, err, status = ocispec("layout inspect art:a1")
      assert.are.equal(0, status, err)
      assert.truthy(out:find("manifest  " .. d:digest(), 1, true), out)
      assert.truthy(out:find("artifact  application/vnd.example+type", 1, true), out)
      assert.truthy(out:find("config    " .. empty:digest() .. " application/vnd.oci.empty.v1+json", 1, true), out)
      assert.truthy(out:find("layers    1", 1, true), out)
      out, err, status = ocispec("layout inspect --json art:a1")
      assert.are.equal(0, status, err)
      local t = assert(oci.json.decode(out))
      assert.is_nil(t.config)
      assert.are.equal("application/vnd.example+type", t.manifest.artifactType)
      assert.are.equal(blob:digest(), t.layers[1].digest)
    end)

    it("verify finds a corrupted blob (exit 1); gc removes unreferenced blobs", function()
      local _, err, status = ocispec("build " .. quote(EXAMPLE) .. " img")
      assert.are.equal(0, status, err)
      local L = assert(oci.layout.open(tmp .. "/img"))
      local stray = assert(L:put_blob("unreferenced"))
      local out
      out, err, status = ocispec("layout gc img")
      assert.are.equal(0, status, err)
      assert.truthy(out:find("removed " .. stray:digest(), 1, true), out)
      local cfg = assert(L:resolve("latest")).manifest:config():digest()
      local path = assert(L:blob_path(cfg))
      local f = assert(io.open(path, "r+b"))
      local first = f:read(1)
      f:seek("set", 0)
      f:write(first == "{" and "[" or "{")
      f:close()
      out, _, status = ocispec("layout verify img")
      assert.are.equal(1, status)
      assert.truthy(out:find(cfg, 1, true), out)
    end)

    it("init creates a layout and refuses a folder that is not one", function()
      local _, err, status = ocispec("layout init fresh")
      assert.are.equal(0, status, err)
      assert(oci.layout.open(tmp .. "/fresh"))
      write("notalayout", "")
      assert(os.execute("mkdir " .. quote(tmp .. "/busy") .. " && touch " .. quote(tmp .. "/busy/file")))
      _, err, status = ocispec("layout init busy")
      assert.are.equal(2, status)
      assert.truthy(err:find("busy", 1, true), err)
      _, err, status = ocispec("layout verify busy")
      assert.are.equal(2, status)
      assert.truthy(err:find("busy", 1, true), err)
      _, err, status = ocispec("layout frob fresh")
      assert.are.equal(2, status)
      assert.truthy(err:find('unknown layout command "frob"', 1, true), err)
    end)

    it("unpacks an image into a bundle runc can run", function()
      local _, err, status = ocispec("build " .. quote(EXAMPLE) .. " img")
      assert.are.equal(0, status, err)
      _, err, status = ocispec("unpack --rootless img:latest bundle")
      assert.are.equal(0, status, err)
      assert.is_not_nil(support.read(tmp .. "/bundle/rootfs/bin/busybox"))
      local spec = assert(oci.runtime.Spec.from_file(tmp .. "/bundle/config.json"))
      assert.are.same({ "/bin/sh", "-c", "echo hello from an ocispec image" }, spec:process():args())
      assert(spec:validate())
      _, err, status = ocispec("unpack img:latest bundle")
      assert.are.equal(1, status)
      assert.truthy(err:find("exists", 1, true), err)
      _, err, status = ocispec("unpack --platform linux img:latest b2")
      assert.are.equal(2, status)
      assert.truthy(err:find("bad --platform", 1, true), err)
    end)

    it("build reports a missing script (2) and a failing one (1)", function()
      local _, err, status = ocispec("build missing.lua")
      assert.are.equal(2, status)
      assert.truthy(err:find("missing.lua", 1, true), err)
      write("boom.lua", 'error("boom: " .. arg[1])')
      _, err, status = ocispec("build boom.lua now")
      assert.are.equal(1, status)
      assert.truthy(err:find("boom: now", 1, true), err)
    end)

    it("build names the script's line when a library call is misused", function()
      local _, err, status = ocispec("build " .. quote(EXAMPLE) .. " img")
      assert.are.equal(0, status, err)
      local head = 'local L = assert(oci.layout.open("img"))\nlocal img = oci.build.Image.new(L)\n'
      local cases = {
        -- raised in build.lua (Lua), at several depths
        { "oci.build.Image.new(nil)", "Image.new: a layout expected, got nil" },
        { 'oci.build.Image.new(L, { compression = "lzma" })', "compression must be gzip, zstd or none" },
        { 'img:add_layer("nope")', "add_layer: a table expected, got string" },
        { 'oci.build.Image.from(L, "latest", { created = {} })', "created: a string or integer seconds expected" },
        { "oci.build.Image.from(L, 5)", "Image.from: ref: string expected, got number" },
        { 'img:cmd("x")', "cmd: a list of strings expected" },
        { "oci.build.Index.new(L):add(7)", "Index:add: a Descriptor or table expected" },
        -- raised by a C function
        { "L:put_blob(42, {})", "bad argument #2 to 'put_blob'" },
        -- an assert in another library module (a message without a position)
        { 'oci.registry.push(L, 5, "127.0.0.1:1/x:1")', "bad argument #2 to 'push'" },
        -- inside a function of the script, called by the script
        { "local function f() img:env(1, 'x') end\nf()", "env name: string expected, got number" },
      }
      for _, c in ipairs(cases) do
        write("misuse.lua", head .. "\n" .. c[1] .. "\n")
        _, err, status = ocispec("build misuse.lua")
        assert.are.equal(1, status, c[1])
        -- line 4: the misused call (in the function case, the line of f that makes it)
        assert.truthy(err:find("^ocispec build: misuse%.lua:4: "), c[1] .. ": " .. err)
        assert.truthy(err:find(c[2], 1, true), c[1] .. ": " .. err)
        assert.is_nil(err:find("build.lua", 1, true), err)
      end
      -- the same levels for a library user, without the command
      local ok, e = pcall(function() oci.build.Image.new(nil) end)
      assert.is_false(ok)
      assert.truthy(e:find("^[^\n]*cli_spec%.lua:%d+: Image%.new: a layout expected"), e)
      local L = assert(oci.layout.open(tmp .. "/img"))
      ok, e = pcall(function() oci.build.Image.from(L, "latest", { created = 1.5 }) end)
      assert.is_false(ok)
      assert.truthy(e:find("^[^\n]*cli_spec%.lua:%d+: created: integer seconds expected"), e)
    end)
  end)

  describe("registry commands (no server needed)", function()
    it("--help describes the arguments and the connection options", function()
      for cmd, args in pairs({
        push = "DIR[:NAME] REMOTE_REF", pull = "REMOTE_REF DIR[:NAME]", copy = "SRC_REF DST_REF",
        tags = "REMOTE_REPO", inspect = "REMOTE_REF",
      }) do
        local out, err, status = ocispec(cmd .. " --help")
        assert.are.equal(0, status, err)
        assert.truthy(out:find(args, 1, true), cmd .. ": " .. out)
        for _, opt in ipairs({ "--plain-http", "--tls-verify=false", "--insecure", "--username", "--password-stdin",
          "--auth-file", "--quiet", "--json" }) do
          assert.truthy(out:find(opt, 1, true), cmd .. " --help lacks " .. opt)
        end
        local help = ocispec("help " .. cmd)
        assert.are.equal(out, help)
      end
      assert.truthy((ocispec("pull --help")):find("--platform", 1, true))
    end)

    it("wrong argument counts are usage errors (exit 2, one line)", function()
      for args, want in pairs({
        ["push"] = "expected DIR[:NAME] and REMOTE_REF",
        ["push layout:1"] = "expected DIR[:NAME] and REMOTE_REF",
        ["pull 127.0.0.1:5000/demo:1"] = "expected REMOTE_REF and DIR[:NAME]",
        ["copy 127.0.0.1:5000/a:1"] = "expected SRC_REF and DST_REF",
        ["copy a b c"] = "expected SRC_REF and DST_REF",
        ["tags"] = "expected one REMOTE_REPO",
        ["inspect"] = "expected one REMOTE_REF",
        ["inspect a b"] = "expected one REMOTE_REF",
      }) do
        local out, err, status = ocispec(args)
        assert.are.equal(2, status, args)
        assert.are.equal("", out, args)
        local cmd = args:match("^%S+")
        assert.are.equal(("ocispec %s: %s\n"):format(cmd, want), err, args)
      end
    end)

    it("bad references name the argument and the bad part (exit 2)", function()
      local _, err, status = ocispec("inspect 127.0.0.1:5000/Demo:1")
      assert.are.equal(2, status)
      assert.truthy(err:find("^ocispec inspect: REMOTE_REF: reference \"127.0.0.1:5000/Demo:1\""), err)
      assert.truthy(err:find("uppercase", 1, true), err)
      _, err, status = ocispec("copy 127.0.0.1:5000/a:1 'b c'")
      assert.are.equal(2, status)
      assert.truthy(err:find("ocispec copy: DST_REF: reference", 1, true), err)
      _, err, status = ocispec("pull 'x y' dir")
      assert.are.equal(2, status)
      assert.truthy(err:find("ocispec pull: REMOTE_REF: ", 1, true), err)
      _, err, status = ocispec("tags bad::ref")
      assert.are.equal(2, status)
      assert.truthy(err:find("ocispec tags: REMOTE_REPO: ", 1, true), err)
    end)

    it("checks option combinations before connecting; never echoes a password", function()
      local cases = {
        ["tags --username u 127.0.0.1:5000/demo"] = "--username needs --password or --password-stdin",
        ["tags --password s3cr3t 127.0.0.1:5000/demo"] = "a password needs --username",
        ["tags --username u --password s3cr3t --password-stdin 127.0.0.1:5000/demo"] =
          "--password and --password-stdin exclude each other",
        ["tags --tls-verify=maybe 127.0.0.1:5000/demo"] = "--tls-verify takes true or false",
        ["tags --pasword=s3cr3t 127.0.0.1:5000/demo"] = "unknown option --pasword",
        ["pull --platform linux 127.0.0.1:5000/demo:1 dir"] = 'bad --platform "linux"',
        ["push --json"] = "expected DIR[:NAME] and REMOTE_REF",
      }
      for args, want in pairs(cases) do
        local out, err, status = ocispec(args)
        assert.are.equal(2, status, args)
        assert.are.equal("", out, args)
        assert.truthy(err:find(want, 1, true), args .. ": " .. err)
        assert.is_nil(err:find("s3cr3t", 1, true), args .. ": " .. err)
        assert.are.equal(1, select(2, err:gsub("\n", "")), args .. ": one line")
      end
      local _, err, status = ocispec("tags --username u --password-stdin 127.0.0.1:5000/demo", "")
      assert.are.equal(2, status)
      assert.truthy(err:find("--password-stdin: nothing on stdin", 1, true), err)
    end)

    it("push checks the layout before connecting (exit 2)", function()
      local _, err, status = ocispec("push no-such-layout:1 127.0.0.1:1/demo:1")
      assert.are.equal(2, status)
      assert.truthy(err:find("^ocispec push: no%-such%-layout"), err)
      assert.truthy(err:find("not an OCI image layout", 1, true), err)
    end)
  end)

  describe("spec", function()
    it("writes runc's default config.json, and refuses to overwrite it", function()
      local out, err, status = ocispec("spec --bundle " .. quote(tmp))
      assert.are.equal(0, status, err)
      assert.truthy(out:find("config.json", 1, true))
      local spec = assert(oci.runtime.Spec.from_file(tmp .. "/config.json"))
      assert.is_true(spec == oci.runtime.Spec.default())
      out, err, status = ocispec("spec --bundle " .. quote(tmp))
      assert.are.equal("", out)
      assert.are.equal(2, status)
      assert.truthy(err:find("exists; remove it first", 1, true), err)
    end)

    it("--rootless maps the current user", function()
      local _, err0, status0 = ocispec("spec --rootless")
      assert.are.equal(0, status0, err0)
      local spec = assert(oci.runtime.Spec.from_file(tmp .. "/config.json"))
      assert.is_not_nil(spec:linux():uid_mappings())
      local _, err, status = ocispec("spec --bundle " .. quote(tmp .. "/no/such/dir"))
      assert.are.equal(2, status)
      assert.truthy(err:find("no/such/dir", 1, true), err)
    end)
  end)
end)
