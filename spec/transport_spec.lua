-- Transport references (skopeo's names), oci-archive and docker-archive,
-- and copy between any two transports. Archives are checked with Python's
-- tarfile/json/hashlib (tests/archive/archives.py), never by our own
-- reader; hostile archives are built there too. skopeo is the peer: it
-- reads what we write and we read what it writes (pending without it).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")
local cjson = require("cjson")
local oci = require("ocispec")
local T = oci.transport

local q, sh = registries.quote, registries.sh
local PY = here .. "../tests/archive/archives.py"
local BIN = assert(oci.core.realpath(here .. "../bin/ocispec"))

local have = support.have

local function py(...)
  local args = {}
  for _, a in ipairs({ ... }) do args[#args + 1] = q(a) end
  local out, ok = sh("env -u LD_PRELOAD python3 " .. q(PY) .. " " .. table.concat(args, " "))
  assert(ok, out)
  return out
end

local tmp
local function p(name) return tmp .. "/" .. name end

-- A one-image layout (layers uncompressed unless `compression`), tagged v1.
local function make_image(dir, compression, platform)
  local L = assert(oci.layout.create(dir))
  local img = oci.build.Image.new(L, { created = 0, compression = compression or "none",
    platform = platform or { os = "linux", architecture = "amd64" } })
  assert(img:add_layer{ entries = { { path = "hello", type = "file", content = "hi\n", mode = 420 } } })
  img:cmd({ "/hello" })
  local d = assert(img:commit("v1"))
  L:close()
  return d
end

describe("transport references", function()
  it("parses skopeo's forms", function()
    local cases = {
      { "oci:dir", { transport = "oci", path = "dir" } },
      { "oci:dir:1.0", { transport = "oci", path = "dir", name = "1.0" } },
      { "oci:dir:@2", { transport = "oci", path = "dir", index = 2 } },
      { "oci:dir@sha256:" .. ("a"):rep(64), { transport = "oci", path = "dir", digest = "sha256:" .. ("a"):rep(64) } },
      { "oci-archive:/x/img.tar:app", { transport = "oci-archive", path = "/x/img.tar", name = "app" } },
      { "docker-archive:d.tar", { transport = "docker-archive", path = "d.tar" } },
      { "docker-archive:d.tar:busybox:1", { transport = "docker-archive", path = "d.tar", name = "busybox:1" } },
      { "docker-archive:d.tar:busybox", { transport = "docker-archive", path = "d.tar", name = "busybox:latest" } },
      { "docker-archive:d.tar:@0", { transport = "docker-archive", path = "d.tar", index = 0 } },
    }
    for _, c in ipairs(cases) do
      local r = assert(T.parse(c[1]))
      r.reference = nil
      assert.are.same(c[2], r, c[1])
    end
    local r = assert(T.parse("docker://127.0.0.1:5000/a/b:t"))
    assert.are.same({ "docker", "127.0.0.1:5000", "a/b", "t" },
      { r.transport, r.reference.registry, r.reference.repository, r.reference.tag })
    r = assert(T.parse("busybox"))
    assert.are.same({ "docker", "docker.io", "library/busybox", "latest" },
      { r.transport, r.reference.registry, r.reference.repository, r.reference.tag })
    -- bare DIR:NAME where commands take a layout
    r = assert(T.parse("some/dir:v2", { default = "oci" }))
    assert.are.same({ "oci", "some/dir", "v2" }, { r.transport, r.path, r.name })
    r = assert(T.parse("dir@sha256:" .. ("b"):rep(64), { default = "oci" }))
    assert.are.same({ "dir", "sha256:" .. ("b"):rep(64) }, { r.path, r.digest })
  end)

  it("refuses what skopeo refuses, naming the part that is wrong", function()
    local cases = {
      { "docker:busybox", "docker://HOST/REPO" },
      { "oci:", "no directory" },
      { "oci:dir:", "empty image name" },
      { "oci:dir:@x", "bad image index" },
      { "oci:dir:-bad", "bad image name" },
      { "oci:dir@sha256:abc", "bad digest" },
      { "oci-archive:", "no file name" },
      { "docker-archive:d.tar:Bad/Name:1", "bad NAME:TAG" },
      { "docker-archive:d.tar:a@sha256:" .. ("a"):rep(64), "not a digest" },
      { "docker://", "docker://" },
      { "containers-storage:x", "not supported" },
      { "", "empty image reference" },
    }
    for _, c in ipairs(cases) do
      support.assert_fails({ c[2] }, { code = "invalid" }, T.parse(c[1]))
    end
    support.assert_raises({ 'unknown option "defualt"' }, T.parse, "x", { defualt = "oci" })
  end)
end)

describe("archives", function()
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  it("writes an oci-archive Python reads, and reads it back", function()
    local d = make_image(p("L"), "gzip")
    local got, stats = assert(T.copy("oci:" .. p("L") .. ":v1", "oci-archive:" .. p("a.tar") .. ":app"))
    assert.are.equal(d:digest(), got:digest())
    assert.are.equal(3, stats.blobs_copied)
    local t = cjson.decode(py("read-oci", p("a.tar")))
    assert.are.same({}, t.bad)
    assert.are.equal("1.0.0", t.layout.imageLayoutVersion)
    assert.are.equal(d:digest(), t.index.manifests[1].digest)
    assert.are.equal("app", t.index.manifests[1].annotations["org.opencontainers.image.ref.name"])
    -- reproducible: the same image gives the same bytes
    assert(T.copy("oci:" .. p("L") .. ":v1", "oci-archive:" .. p("b.tar") .. ":app"))
    assert.are.equal(support.read(p("a.tar")), support.read(p("b.tar")))
    local back = assert(T.copy("oci-archive:" .. p("a.tar") .. ":app", "oci:" .. p("L2") .. ":x"))
    assert.are.equal(d:digest(), back:digest())
    assert.is_true(assert(oci.layout.open(p("L2"))):verify())
    support.assert_fails({ 'no image named "nope"', "names: app" }, { code = "invalid" },
      T.open("oci-archive:" .. p("a.tar") .. ":nope"))
  end)

  it("copy takes the registry's connection options, jobs among them (the CLI's copy -j)", function()
    local d = make_image(p("L"), "gzip")
    local got = assert(T.copy("oci:" .. p("L") .. ":v1", "oci-archive:" .. p("a.tar") .. ":app", { jobs = 2 }))
    assert.are.equal(d:digest(), got:digest())
    support.assert_raises({ 'unknown option "jobz"' }, T.copy, "oci:" .. p("L") .. ":v1",
      "oci-archive:" .. p("b.tar"), { jobz = 2 })
  end)

  it("with_image opens an image for one call and removes its temporary layout on every path", function()
    local d = make_image(p("L"), "gzip")
    assert(T.copy("oci:" .. p("L") .. ":v1", "oci-archive:" .. p("a.tar") .. ":app"))
    local work = tmp .. "/work"
    assert(oci.layout.create(work)):close() -- a directory to hold the temporaries
    local opts = { tmpdir = work }
    -- fn's results, all of them (nil included), and the layout inside tmpdir while it runs
    local seen
    local a, b, c = T.with_image("oci-archive:" .. p("a.tar") .. ":app", opts, function(L, dg, src)
      seen = L:path()
      assert.are.equal(src:layout(), L)
      return dg, nil, #L:resolve(dg).layers
    end)
    assert.are.same({ d:digest(), nil, 1 }, { a, b, c })
    assert.are.equal(1, select("#", T.with_image("oci:" .. p("L") .. ":v1", nil, function() return nil end)))
    assert.is_truthy(seen:find(work, 1, true))
    assert.are.equal("missing", oci.unpack.dir_state(seen))
    -- fn raising: the error comes back as raised, the temporary layout is gone
    local ok, err = pcall(T.with_image, "oci-archive:" .. p("a.tar") .. ":app", opts, function(L)
      seen = L:path()
      error({ "raised" })
    end)
    assert.is_false(ok)
    assert.are.same({ "raised" }, err)
    assert.are.equal("missing", oci.unpack.dir_state(seen))
    -- not opened: nil, message, err and fn never runs
    support.assert_fails({ 'no image named "nope"' }, { code = "invalid" },
      T.with_image("oci-archive:" .. p("a.tar") .. ":nope", opts, function() error("ran") end))
    support.assert_raises("bad argument #3 to 'with_image' (function expected)", T.with_image, "oci:" .. p("L"),
      nil, "x")
  end)

  it("never follows a link planted in a layout's blobs/", function()
    make_image(p("L"))
    local L = assert(oci.layout.open(p("L")))
    local layer = L:resolve("v1").layers[1]:digest()
    local path = L:blob_path(layer)
    L:close()
    support.write(p("secret"), "secret\n")
    assert(os.remove(path))
    assert(os.execute(("ln -s %s %s"):format(q(p("secret")), q(path))))
    for _, dst in ipairs({ "oci:" .. p("C") .. ":x", "oci-archive:" .. p("c.tar") }) do
      support.assert_fails({ layer:sub(8) .. " is a symbolic link" }, {},
        T.copy("oci:" .. p("L") .. ":v1", dst))
    end
    local C = oci.layout.open(p("C"))
    if C then
      assert.is_false(C:has_blob(oci.digest.sha256("secret\n")))
      C:close()
    end
    assert.is_nil(io.open(p("c.tar")))
  end)

  it("refuses hostile archives before writing anything", function()
    local cases = {
      traversal = "'..' in the name", absolute = "absolute name", symlink = "a symlink",
      hardlink = "a hardlink", duplicate = "duplicate (also member 3)", device = "a char",
      whiteout = "a whiteout name",
    }
    for kind, why in pairs(cases) do
      py("hostile", kind, p(kind .. ".tar"))
      support.assert_fails({ p(kind .. ".tar"), why }, { code = "invalid" },
        T.open("oci-archive:" .. p(kind .. ".tar")))
    end
    py("hostile", "big", p("big.tar"))
    support.assert_fails({ "max_bytes" }, { code = "too_big" },
      T.open("oci-archive:" .. p("big.tar"), { max_bytes = 4096 }))
    support.assert_fails({ "max_entries" }, { code = "too_big" },
      T.open("oci-archive:" .. p("big.tar"), { max_entries = 2 }))
    -- a planted blob that is not its digest is refused when copied
    local d = make_image(p("L"))
    assert(T.copy("oci:" .. p("L") .. ":v1", "oci:" .. p("bad") .. ":v1"))
    local layer = assert(oci.layout.open(p("bad"))):resolve("v1").manifest:layers()[1]:digest()
    support.write(p("bad") .. "/blobs/" .. layer:gsub(":", "/"), "not the layer")
    support.assert_fails({ layer }, {}, T.copy("oci:" .. p("bad") .. ":v1", "oci:" .. p("out") .. ":v1"))
    -- archives take layers verified in place: the same refusal, no file
    for _, dst in ipairs({ "oci-archive:" .. p("x.tar"), "docker-archive:" .. p("x.tar") .. ":a:1" }) do
      support.assert_fails({ layer }, {}, T.copy("oci:" .. p("bad") .. ":v1", dst))
      assert.is_nil(io.open(p("x.tar")))
    end
    assert.is_not_nil(d)
  end)

  it("reads docker save archives: legacy (several images) and docker 25+", function()
    py("docker-legacy", p("dl.tar"))
    local want = cjson.decode(py("read-docker", p("dl.tar"))).images
    support.assert_fails({ "2 images in manifest.json", ":NAME:TAG or :@N" }, { code = "invalid" },
      T.open("docker-archive:" .. p("dl.tar")))
    for i, ref in ipairs({ "busybox:1", "example.com/x/y:2" }) do
      for _, form in ipairs({ ref, "@" .. (i - 1) }) do
        local s = assert(T.open("docker-archive:" .. p("dl.tar") .. ":" .. form))
        local m = assert(s:layout():get_document(s:descriptor(), oci.image.ImageManifest))
        assert.are.equal(want[i].config, m:config():digest())
        assert.are.equal(want[i].layers[1], m:layers()[1]:digest())
        assert.are.equal(oci.image.MediaType.ImageLayer, m:layers()[1]:media_type())
        s:close()
      end
    end
    -- the normalised name finds the short one docker writes
    assert(T.open("docker-archive:" .. p("dl.tar") .. ":docker.io/library/busybox:1")):close()
    support.assert_fails({ "no image tagged busybox:9" }, { code = "invalid" },
      T.open("docker-archive:" .. p("dl.tar") .. ":busybox:9"))
    support.assert_fails({ "no image @2 (2 in manifest.json)" }, { code = "invalid" },
      T.open("docker-archive:" .. p("dl.tar") .. ":@2"))
    py("docker-bad-diffid", p("bad.tar"))
    support.assert_fails({ "layer 0", "the config's diff_id is" }, { code = "mismatch" },
      T.open("docker-archive:" .. p("bad.tar") .. ":@0"))
    -- docker 25+: an OCI layout inside, a layer reached through a link
    py("docker-oci", p("do.tar"))
    local got = assert(T.copy("docker-archive:" .. p("do.tar"), "oci:" .. p("L") .. ":c"))
    assert.is_true(assert(oci.layout.open(p("L"))):verify())
    assert.are.equal(oci.image.MediaType.ImageManifest, got:media_type())
  end)

  it("hashes a layer that manifest.json lists many times (directly or through a link) once", function()
    py("docker-dup", "400", p("dup.tar"))
    -- put_blob_file counted on the layout the archive is imported into:
    -- once per member before, 400 hashes and copies of the same layer
    local methods = getmetatable(assert(oci.layout.create(p("probe")))).__index
    local real, calls = methods.put_blob_file, 0
    methods.put_blob_file = function(...) calls = calls + 1 return real(...) end
    local ok, s = pcall(T.open, "docker-archive:" .. p("dup.tar"))
    methods.put_blob_file = real
    assert(ok, s)
    s = assert(s)
    local m = assert(s:layout():get_document(s:descriptor(), oci.image.ImageManifest))
    assert.are.equal(400, #m:layers())
    assert.are.equal(2, calls) -- the config and the layer
    s:close()
  end)

  it("says why a manifest.json is not read (larger than 4 MiB), not that there is none", function()
    py("docker-bigmanifest", p("bigm.tar"))
    support.assert_fails({ "bigm.tar: manifest.json", "larger than 4194304 bytes" }, { code = "too_big" },
      T.open("docker-archive:" .. p("bigm.tar")))
  end)

  it("writes docker-archives Python reads (layers are the diff_ids)", function()
    make_image(p("L"))
    assert(T.copy("oci:" .. p("L") .. ":v1", "docker-archive:" .. p("d.tar") .. ":example.com/app:2"))
    local t = cjson.decode(py("read-docker", p("d.tar")))
    assert.are.same({ "example.com/app:2" }, t.images[1].RepoTags)
    assert.are.same(t.images[1].diff_ids, t.images[1].layers)
    assert.are.equal(t.images[1].layers[1]:sub(8), t.repositories["example.com/app"]["2"])
    -- and reads them back to the same image
    local d = assert(oci.layout.open(p("L"))):resolve("v1").descriptor
    assert.are.equal(d:digest(), assert(T.copy("docker-archive:" .. p("d.tar"), "oci:" .. p("L3") .. ":x")):digest())
  end)

  it("writes gzip and zstd layers into docker-archives uncompressed (diff_ids kept)", function()
    for _, comp in ipairs({ "gzip", "zstd" }) do
      local d = make_image(p(comp), comp)
      assert(T.copy("oci:" .. p(comp) .. ":v1", "docker-archive:" .. p(comp .. ".tar") .. ":x/y:1"))
      local t = cjson.decode(py("read-docker", p(comp .. ".tar")))
      assert.are.same(t.images[1].diff_ids, t.images[1].layers)
      local back = assert(T.copy("docker-archive:" .. p(comp .. ".tar"), "oci:" .. p("B") .. ":" .. comp))
      assert.are_not.equal(d:digest(), back:digest()) -- the layers are plain tars now
      local B = assert(oci.layout.open(p("B")))
      local m = B:resolve(comp).manifest
      assert.are.equal(oci.image.MediaType.ImageLayer, m:layers()[1]:media_type())
      assert.is_true(B:verify())
      B:close()
    end
  end)

  it("converts to Docker schema 2 and back (format v2s2|oci), through a registry", function()
    local MT = oci.image.MediaType
    local d = make_image(p("Z"), "zstd")
    local Z = assert(oci.layout.open(p("Z"))):resolve("v1")
    -- an OCI layout holds OCI manifests (as skopeo's oci: does)
    support.assert_fails({ "layouts hold OCI manifests" }, { code = "unsupported" },
      T.copy("oci:" .. p("Z") .. ":v1", "oci:" .. p("V") .. ":v", { format = "v2s2" }))
    support.assert_raises({ 'format must be "oci" or "v2s2"' }, T.copy, "oci:a", "oci:b", { format = "v2s1" })
    -- already in the format: byte for byte
    assert.are.equal(d:digest(), assert(T.copy("oci:" .. p("Z") .. ":v1", "oci:" .. p("O") .. ":z",
      { format = "oci" })):digest())
    local ok, why = registries.available()
    if not ok then return pending(why) end
    local reg = registries.start()
    local conn = { plain_http = true, auth_file = false }
    local dst = "docker://" .. reg.host .. "/conv/app:1"
    local cv = { format = "v2s2" }
    for k, v in pairs(conn) do cv[k] = v end
    local v, stats = T.copy("oci:" .. p("Z") .. ":v1", dst, cv)
    local back = v and T.copy(dst, "oci:" .. p("B") .. ":b", { format = "oci", plain_http = true, auth_file = false })
    local function read_image(what)
      return cjson.decode((sh(("env -u LD_PRELOAD python3 %s %s %s conv/app 1"):format(
        q(here .. "../tests/registry/read_image.py"), what, q("http://" .. reg.host)))))
    end
    local walk = v and read_image("walk")
    local served = v and read_image("manifest")
    reg.stop()
    assert(v, stats)
    assert.are.equal(MT.DockerManifest, walk.documents[walk.top])
    -- config bytes kept; the zstd layer became a plain tar whose digest is the diff_id
    local cfg = Z.manifest:config():digest()
    local diff_id = Z.config:rootfs():diff_ids()[1]
    assert.are.equal(MT.DockerContainerConfig, served.body.config.mediaType)
    assert.are.equal(MT.DockerLayer, served.body.layers[1].mediaType)
    assert.is_not_nil(walk.blobs[cfg])
    assert.is_not_nil(walk.blobs[diff_id])
    assert(back)
    local B = assert(oci.layout.open(p("B")))
    local r = B:resolve("b")
    assert.are.equal(MT.ImageManifest, r.descriptor:media_type())
    assert.are.equal(MT.ImageConfig, r.manifest:config():media_type())
    assert.are.equal(cfg, r.manifest:config():digest())
    assert.are.equal(MT.ImageLayer, r.manifest:layers()[1]:media_type())
    assert.are.equal(diff_id, r.manifest:layers()[1]:digest())
    assert.is_true(B:verify())
  end)

  it("copies chosen platforms of an index", function()
    local L = assert(oci.layout.create(p("M")))
    local idx = oci.build.Index.new(L)
    for _, arch in ipairs({ "amd64", "arm64", "s390x" }) do
      local img = oci.build.Image.new(L, { created = 0, compression = "none",
        platform = { os = "linux", architecture = arch } })
      assert(img:add_layer{ entries = { { path = "arch", type = "file", content = arch, mode = 420 } } })
      idx:add(assert(img:commit()))
    end
    local top = assert(idx:commit("multi"))
    L:close()
    local one = assert(T.copy("oci:" .. p("M") .. ":multi", "oci:" .. p("O") .. ":one", { platform = "linux/arm64" }))
    assert.is_true(oci.image.MediaType.is_manifest(one:media_type()))
    local two = assert(T.copy("oci:" .. p("M") .. ":multi", "oci:" .. p("O") .. ":two",
      { platform = { "linux/arm64", "linux/s390x" } }))
    local got = assert(assert(oci.layout.open(p("O"))):get_document(two, oci.image.ImageIndex))
    assert.are.equal(2, #got:manifests())
    assert.are.equal(top:digest(), assert(T.copy("oci:" .. p("M") .. ":multi", "oci:" .. p("O") .. ":all",
      { all = true })):digest())
    support.assert_fails({ "no manifest for the platform" }, { code = "invalid" },
      T.copy("oci:" .. p("M") .. ":multi", "oci:" .. p("O") .. ":x", { platform = "linux/riscv64" }))
    support.assert_fails({ "a docker-archive holds single-platform images" }, { code = "invalid" },
      T.copy("oci:" .. p("M") .. ":multi", "docker-archive:" .. p("d.tar")))
    assert.is_nil(io.open(p("d.tar")))
  end)

  it("ocispec copy takes any two transports", function()
    make_image(p("L"))
    local function run(args)
      local out, ok = sh(("cd %s && lua5.4 %s %s"):format(q(tmp), q(BIN), args))
      return out, ok
    end
    local out, ok = run("copy --quiet oci:L:v1 oci-archive:a.tar")
    assert(ok, out)
    assert.truthy(out:match("^sha256:%x+\n$"), out)
    out, ok = run("copy oci-archive:a.tar docker-archive:d.tar:x:1")
    assert(ok, out)
    assert.truthy(out:find("copied docker-archive:d.tar:x:1@sha256:", 1, true), out)
    -- "-": stdout and stdin
    out, ok = run("copy --quiet oci:L:v1 docker-archive:-:x/y:2 2>report.txt >piped.tar && cat report.txt")
    assert(ok, out)
    assert.truthy(out:match("^sha256:%x+\n$"), out) -- the report went to stderr
    assert.are.same({ "x/y:2" }, cjson.decode(py("read-docker", p("piped.tar"))).images[1].RepoTags)
    out, ok = run("copy --quiet docker-archive:- oci:P:p < piped.tar")
    assert(ok, out)
    assert.is_table(assert(oci.layout.open(p("P"))):resolve("p"))
    out, ok = run("copy docker-archive:d.tar:@3 oci:L:w")
    assert.is_falsy(ok)
    assert.truthy(out:find("no image @3", 1, true), out)
    out, ok = run("copy oci:L:v1 docker-archive:d.tar:@0")
    assert.is_falsy(ok)
    assert.truthy(out:find("DST_REF: @N names an image to read", 1, true), out)
  end)
end)

describe("archives and skopeo", function()
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  local function skopeo(args, convert)
    local out, ok = sh("skopeo copy --quiet " .. (convert and "" or "--preserve-digests ") .. args)
    assert(ok, "skopeo copy " .. args .. ": " .. out)
  end

  it("skopeo reads the archives we write, and we read the ones it writes", function()
    if not have("skopeo") then return pending("skopeo is not installed") end
    local d = make_image(p("L"))
    local L = "oci:" .. p("L") .. ":v1"
    assert(T.copy(L, "oci-archive:" .. p("a.tar") .. ":v1"))
    assert(T.copy(L, "docker-archive:" .. p("d.tar") .. ":ex/app:1"))
    skopeo(q("oci-archive:" .. p("a.tar") .. ":v1") .. " " .. q("oci:" .. p("S") .. ":a"))
    skopeo(q("docker-archive:" .. p("d.tar") .. ":ex/app:1") .. " " .. q("oci:" .. p("S") .. ":d"))
    local S = assert(oci.layout.open(p("S")))
    assert.are.equal(d:digest(), S:resolve("a").descriptor:digest())
    local want_cfg = assert(oci.layout.open(p("L"))):resolve("v1").manifest:config():digest()
    assert.are.equal(want_cfg, S:resolve("d").manifest:config():digest())
    -- what skopeo writes (legacy docker layout with <id>/layer.tar links)
    skopeo(q(L) .. " " .. q("docker-archive:" .. p("sd.tar") .. ":ex/app:2"), true)
    skopeo(q(L) .. " " .. q("oci-archive:" .. p("so.tar") .. ":z"))
    local a = assert(T.copy("docker-archive:" .. p("sd.tar") .. ":ex/app:2", "oci:" .. p("R") .. ":d"))
    local b = assert(T.copy("oci-archive:" .. p("so.tar") .. ":z", "oci:" .. p("R") .. ":o"))
    local R = assert(oci.layout.open(p("R")))
    assert.are.equal(want_cfg, R:resolve("d").manifest:config():digest())
    assert.are.equal(want_cfg, R:resolve("o").manifest:config():digest())
    assert.is_true(R:verify())
    assert.is_not_nil(a and b)
  end)
end)

describe("archives and podman, buildah", function()
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  -- podman and buildah with everything in the test's directory (vfs)
  local function tool(name, args)
    local out, ok = sh(("%s --root %s --runroot %s --storage-driver vfs %s"):format(name, q(p("root")),
      q(p("run")), args))
    assert(ok, name .. " " .. args .. ": " .. out)
    return out
  end

  it("podman loads ours and saves archives we import; buildah builds from ours", function()
    if not have("podman") then return pending("podman is not installed") end
    local d = make_image(p("L"), "gzip")
    local want_cfg = assert(oci.layout.open(p("L"))):resolve("v1").manifest:config():digest()
    assert(T.copy("oci:" .. p("L") .. ":v1", "docker-archive:" .. p("d.tar") .. ":ex/app:1"))
    assert(T.copy("oci:" .. p("L") .. ":v1", "oci-archive:" .. p("o.tar") .. ":v1"))
    local out = tool("podman", "load -i " .. q(p("d.tar")))
    assert.truthy(out:find("ex/app:1", 1, true), out)
    -- the image ID podman gives is the config digest
    out = tool("podman", "images --no-trunc --format '{{.ID}}' ex/app:1")
    assert.truthy(out:find(want_cfg:sub(8), 1, true), out)
    tool("podman", "save -o " .. q(p("ps.tar")) .. " ex/app:1")
    tool("podman", "save --format oci-archive -o " .. q(p("pso.tar")) .. " ex/app:1")
    local a = assert(T.copy("docker-archive:" .. p("ps.tar"), "oci:" .. p("R") .. ":d"))
    local b = assert(T.copy("oci-archive:" .. p("pso.tar"), "oci:" .. p("R") .. ":o"))
    local R = assert(oci.layout.open(p("R")))
    assert.are.equal(want_cfg, R:resolve("d").manifest:config():digest())
    assert.are.equal(want_cfg, R:resolve("o").manifest:config():digest())
    assert.is_true(R:verify())
    assert.is_not_nil(a and b and d)
    if not have("buildah") then return pending("buildah is not installed") end
    for _, ref in ipairs({ "oci-archive:" .. p("o.tar") .. ":v1", "docker-archive:" .. p("d.tar") }) do
      local c = tool("buildah", "from --pull-never " .. q(ref)):match("([%w._-]+)%s*$")
      out = tool("buildah", "inspect --format '{{.FromImageID}}' " .. q(c))
      assert.truthy(out:find(want_cfg:sub(8), 1, true), ref .. ": " .. out)
    end
  end)
end)
