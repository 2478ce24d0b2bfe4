-- ocispec.layout: OCI image layouts on disk (image-spec image-layout.md).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require "ocispec"
local image = oci.image
local layout = oci.layout
local MT = image.MediaType

-- ---------------------------------------------------------------- helpers

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1", "r"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok, out, code
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function mktemp()
  return support.tmpdir()
end

local read, write = support.read, support.write

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function ls(dir)
  local _, out = sh("ls -A " .. q(dir))
  local t = {}
  for name in out:gmatch("[^\n]+") do
    if not name:match("^ls:") then t[#t + 1] = name end
  end
  return t
end

local function tmp_files(L)
  local t = {}
  for _, n in ipairs(ls(L:path() .. "/.ocispec-tmp")) do
    if n:match("^tmp%-") then t[#t + 1] = n end
  end
  return t
end

-- sha256 of a file's content or of a shell pipeline's output.
local function sha256_of(cmd)
  local ok, out = sh(cmd .. " | sha256sum")
  assert(ok, out)
  return "sha256:" .. out:match("^(%x+)")
end

local function have(tool)
  return (sh("command -v " .. tool))
end

-- Flip one byte of a file (at offset, default the middle).
local function flip(path, offset)
  local s = assert(read(path))
  offset = offset or (#s // 2 + 1)
  local b = s:byte(offset) ~ 0xff
  write(path, s:sub(1, offset - 1) .. string.char(b) .. s:sub(offset + 1))
end

local scratch = {}
local function newdir()
  local d = mktemp()
  scratch[#scratch + 1] = d
  return d
end

-- A gzip layer built with `tar -cz` of a small tree, and its diff_id.
local layer_count = 0
local function make_layer(compress)
  local d = newdir()
  layer_count = layer_count + 1 -- every layer unique: no blob is shared
  sh("mkdir -p " .. q(d .. "/root/etc") .. " && echo hello " .. layer_count .. " > "
    .. q(d .. "/root/etc/hello"))
  local tarfile = d .. "/layer.tar"
  assert(sh("tar -C " .. q(d .. "/root") .. " -cf " .. q(tarfile) .. " ."))
  local diff_id = sha256_of("cat " .. q(tarfile))
  local file, mt = tarfile, MT.ImageLayer
  if compress == "gzip" then
    assert(sh("gzip -kn " .. q(tarfile)))
    file, mt = tarfile .. ".gz", MT.ImageLayerGzip
  elseif compress == "zstd" then
    assert(sh("zstd -q " .. q(tarfile) .. " -o " .. q(tarfile .. ".zst")))
    file, mt = tarfile .. ".zst", MT.ImageLayerZstd
  end
  return file, mt, diff_id
end

local function config_for(os_, arch, diff_ids, variant)
  return assert(image.ImageConfiguration.from_table {
    architecture = arch, os = os_, variant = variant,
    rootfs = { type = "layers", diff_ids = setmetatable(diff_ids, oci.empty_array_mt()) },
  })
end

-- A one-layer image in L; returns manifest descriptor, and its parts.
local function make_image(L, o)
  o = o or {}
  local file, mt, diff_id = make_layer(o.compress or "gzip")
  local layer = assert(L:put_blob_file(file, o.layer_media_type or mt))
  if o.layer_size then layer:set_size(o.layer_size) end
  local cfg = config_for(o.os or oci.core.host_os, o.arch or oci.core.host_arch,
    { o.diff_id or diff_id }, o.variant)
  local cdesc = assert(L:put_document(cfg))
  local m = assert(image.ImageManifestBuilder():schema_version(2)
    :media_type(MT.ImageManifest):config(cdesc):layers({ layer }):build())
  local mdesc = assert(L:put_document(m))
  return mdesc, { layer = layer, config = cdesc, manifest = m, diff_id = diff_id }
end

local function new_layout()
  return assert(layout.create(newdir() .. "/L"))
end

-- problems whose message contains every needle
local function find_problem(problems, ...)
  local needles = { ... }
  for _, p in ipairs(problems) do
    local all = true
    for _, n in ipairs(needles) do
      if not p.message:find(n, 1, true) then all = false end
    end
    if all then return p end
  end
  return nil
end

local function messages(problems)
  local t = {}
  for _, p in ipairs(problems) do t[#t + 1] = p.message end
  return table.concat(t, "\n")
end

teardown(function()
  for _, d in ipairs(scratch) do os.execute("rm -rf " .. q(d)) end
end)

-- ---------------------------------------------------------------- create/open

describe("layout.create", function()
  it("creates a missing directory with oci-layout and an empty index.json", function()
    local dir = newdir() .. "/new"
    local L = assert(layout.create(dir))
    assert.equal(dir, L:path())
    assert.equal('{"imageLayoutVersion":"1.0.0"}', read(dir .. "/oci-layout"))
    assert.equal('{"schemaVersion":2,"manifests":[]}', read(dir .. "/index.json"))
    assert.is_true(exists(dir .. "/blobs"))
    assert.same({}, L:list())
    assert.equal(0, #L:index():manifests())
  end)

  it("uses an empty directory", function()
    local dir = newdir()
    local L = assert(layout.create(dir))
    assert.equal('{"schemaVersion":2,"manifests":[]}', read(dir .. "/index.json"))
    assert.truthy(L)
  end)

  it("opens an existing layout as is", function()
    local L = new_layout()
    local d = assert(L:put_blob("x"))
    assert(L:tag(d, "keep"))
    local L2 = assert(layout.create(L:path()))
    assert.equal("keep", L2:list()[1].name)
  end)

  it("refuses a non-empty directory that is not a layout", function()
    local dir = newdir()
    write(dir .. "/something", "x")
    local L, msg, code = layout.create(dir)
    assert.is_nil(L)
    assert.equal("invalid", code.code)
    assert.matches("not empty", msg)
    assert.matches("oci%-layout", msg)
  end)

  it("fails when the parent is missing", function()
    local L, msg, code = layout.create(newdir() .. "/a/b")
    assert.is_nil(L)
    assert.equal("io", code.code)
    assert.matches("No such file", msg)
  end)

  it("refuses a file", function()
    local f = newdir() .. "/file"
    write(f, "x")
    local L, msg, code = layout.create(f)
    assert.is_nil(L)
    assert.equal("invalid", code.code)
    assert.matches("not a directory", msg)
  end)
end)

describe("layout.open", function()
  local function broken(setup)
    local L = new_layout()
    local dir = L:path()
    L:close()
    setup(dir)
    return layout.open(dir)
  end

  it("opens a layout", function()
    local L = new_layout()
    local L2 = assert(layout.open(L:path() .. "/"))
    assert.equal(L:path(), L2:path())
  end)

  it("names a missing oci-layout", function()
    local L, msg, code = broken(function(d) os.remove(d .. "/oci-layout") end)
    assert.is_nil(L)
    assert.equal("invalid", code.code)
    assert.matches("not an OCI image layout", msg)
    assert.matches("oci%-layout: No such file", msg)
  end)

  it("names a bad imageLayoutVersion", function()
    local _, msg, code = broken(function(d)
      write(d .. "/oci-layout", '{"imageLayoutVersion":"2.0.0"}')
    end)
    assert.equal("invalid", code.code)
    assert.matches('imageLayoutVersion "2.0.0" is not supported', msg)
  end)

  it("names an oci-layout that is not JSON", function()
    local _, msg, code = broken(function(d) write(d .. "/oci-layout", "{") end)
    assert.equal("invalid", code.code)
    assert.matches("oci%-layout: 1:2:", msg)
  end)

  it("names a missing index.json", function()
    local _, msg, code = broken(function(d) os.remove(d .. "/index.json") end)
    assert.equal("invalid", code.code)
    assert.matches("index.json: No such file", msg)
  end)

  it("names an invalid index.json", function()
    local _, msg = broken(function(d) write(d .. "/index.json", '{"schemaVersion":2}') end)
    assert.matches("index.json: .*manifests", msg)
    local _, msg2 = broken(function(d) write(d .. "/index.json", "[]") end)
    assert.matches("index.json: 1:1:", msg2)
  end)

  it("refuses missing directories and files", function()
    local L, msg, code = layout.open(newdir() .. "/nope")
    assert.is_nil(L)
    assert.equal("invalid", code.code)
    assert.matches("No such file", msg)
    local f = newdir() .. "/f"
    write(f, "")
    local _, msg2 = layout.open(f)
    assert.matches("not a directory", msg2)
  end)

  it("raises on misuse", function()
    assert.has_error(function() layout.open() end, "bad argument #1 to 'open' (string expected, got no value)")
    assert.has_error(function() layout.open("a\0b") end, "bad argument #1 to 'open' (dir holds a NUL byte)")
    local L = new_layout()
    L:close()
    assert.has_error(function() L:path() end,
      "calling 'path' on bad self (attempt to use a closed ocispec.layout.Layout)")
    assert.matches("^ocispec%.layout%.Layout %(closed%)$", tostring(L))
  end)
end)

-- ---------------------------------------------------------------- blobs

describe("blobs", function()
  local L
  before_each(function() L = new_layout() end)

  it("put_blob stores content-addressed sha256 blobs", function()
    local d = assert(L:put_blob("hello"))
    assert.equal("application/octet-stream", d:media_type())
    assert.equal("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", d:digest())
    assert.equal(5, d:size())
    local p = L:blob_path(d:digest())
    assert.equal(L:path() .. "/blobs/sha256/" .. d:digest():sub(8), p)
    assert.equal("hello", read(p))
    assert.is_true(L:has_blob(d:digest()))
    assert.is_true(L:has_blob(d))
    assert.equal("text/plain", L:put_blob("hello", "text/plain"):media_type())
    assert.same({}, tmp_files(L))
  end)

  it("put_blob of an existing blob is a no-op", function()
    local d = assert(L:put_blob("same"))
    local before = ls(L:path() .. "/blobs/sha256")
    local d2 = assert(L:put_blob("same"))
    assert.equal(d, d2)
    assert.same(before, ls(L:path() .. "/blobs/sha256"))
    assert.same({}, tmp_files(L))
  end)

  it("put_blob refuses a bad media type", function()
    local d, msg, code = L:put_blob("x", "not a media type")
    assert.is_nil(d)
    assert.equal("invalid", code.code)
    assert.matches("invalid media type", msg)
  end)

  it("validates digests before building a path", function()
    for _, bad in ipairs {
      "sha256:../../etc/passwd", "../../etc/passwd", "sha256:", "sha256:abc",
      "sha256/x:y", ".:x", "sha256:" .. ("a"):rep(63) .. "/",
    } do
      local p, msg, code = L:blob_path(bad)
      assert.is_nil(p, bad)
      assert.equal("invalid", code.code)
      assert.matches("invalid blob digest", msg)
      local h, _, hcode = L:has_blob(bad)
      assert.is_nil(h)
      assert.equal("invalid", hcode.code)
      local g, _, gcode = L:get_blob(bad)
      assert.is_nil(g)
      assert.equal("invalid", gcode.code)
    end
    assert.is_false(L:has_blob("sha256:" .. ("a"):rep(64)))
  end)

  it("put_blob_file copies while hashing", function()
    local f = newdir() .. "/data"
    write(f, ("0123456789"):rep(100000))
    local d = assert(L:put_blob_file(f, "application/x-test"))
    assert.equal(1000000, d:size())
    assert.equal(sha256_of("cat " .. q(f)), d:digest())
    assert.equal("application/x-test", d:media_type())
    assert.equal(read(f), L:get_blob(d))
    local none, msg, code = L:put_blob_file(f .. ".missing")
    assert.is_nil(none)
    assert.equal("io", code.code)
    assert.matches("data.missing: No such file", msg)
    assert.same({}, tmp_files(L))
  end)

  it("get_blob verifies size and digest", function()
    local d = assert(L:put_blob("content!"))
    assert.equal("content!", L:get_blob(d:digest()))
    -- wrong size in the descriptor
    local wrong = d:clone():set_size(3)
    local b, msg, code = L:get_blob(wrong)
    assert.is_nil(b)
    assert.equal("mismatch", code.code)
    assert.matches(d:digest(), msg, 1, true)
    assert.matches("8 bytes on disk, expected 3", msg)
    -- corrupted content
    flip(L:blob_path(d:digest()))
    b, msg, code = L:get_blob(d)
    assert.is_nil(b)
    assert.equal("mismatch", code.code)
    assert.matches(d:digest(), msg, 1, true)
    -- missing
    b, msg, code = L:get_blob("sha256:" .. ("b"):rep(64))
    assert.is_nil(b)
    assert.equal("io", code.code)
    assert.matches("No such file", msg)
  end)

  it("blob_writer streams, hashes and commits", function()
    local w = assert(L:blob_writer("text/plain"))
    assert.equal(w, w:write("hello"))
    w:write(" "):write("world")
    assert.equal(11, w:size())
    assert.equal(1, #tmp_files(L))
    local d = assert(w:commit(sha256_of("printf 'hello world'")))
    assert.equal("text/plain", d:media_type())
    assert.equal(11, d:size())
    assert.equal("hello world", L:get_blob(d))
    assert.same({}, tmp_files(L))
    assert.has_error(function() w:write("x") end,
      "calling 'write' on bad self (attempt to use a closed ocispec.layout.BlobWriter)")
    assert.has_error(function() w:commit() end,
      "calling 'commit' on bad self (attempt to use a closed ocispec.layout.BlobWriter)")
  end)

  it("blob_writer commit with a wrong digest leaves nothing", function()
    local w = assert(L:blob_writer())
    w:write("abc")
    local wrong = "sha256:" .. ("0"):rep(64)
    local d, msg, code = w:commit(wrong)
    assert.is_nil(d)
    assert.equal("mismatch", code.code)
    assert.matches(wrong, msg, 1, true)
    assert.matches("nothing was stored", msg)
    assert.same({}, tmp_files(L))
    assert.same({}, ls(L:path() .. "/blobs/sha256"))
    local w2 = assert(L:blob_writer())
    local d2, _, code2 = w2:write("abc"):commit("sha256:nothex")
    assert.is_nil(d2)
    assert.equal("invalid", code2.code)
    assert.same({}, tmp_files(L))
  end)

  it("blob_writer commit accepts a sha512 expectation", function()
    local want = "sha512:" .. (select(2, sh("printf abc | sha512sum")):match("^(%x+)"))
    local d = assert(L:blob_writer():write("abc"):commit(want))
    assert.equal(want, d:digest())
    assert.equal("abc", L:get_blob(d))
  end)

  it("blob_writer abort and collection leave nothing", function()
    local w = assert(L:blob_writer())
    w:write("partial")
    assert.is_true(w:abort())
    assert.is_true(w:abort()) -- twice is harmless
    assert.same({}, tmp_files(L))
    do
      local w2 = assert(L:blob_writer())
      w2:write("garbage")
      assert.equal(1, #tmp_files(L))
    end
    collectgarbage()
    collectgarbage()
    assert.same({}, tmp_files(L))
    assert.same({}, ls(L:path() .. "/blobs/sha256"))
  end)

  it("blob_writer refuses a bad media type", function()
    local w, msg, code = L:blob_writer("bad")
    assert.is_nil(w)
    assert.equal("invalid", code.code)
    assert.matches("media type", msg)
  end)

  it("temp_path and adopt_blob move a producer's file in without rehashing", function()
    local tmp = assert(L:temp_path())
    assert.equal(L:path() .. "/.ocispec-tmp/", tmp:sub(1, #L:path() + 14))
    write(tmp, "produced")
    local dg = sha256_of("printf produced")
    local d = assert(L:adopt_blob(tmp, dg, 8, MT.ImageLayer))
    assert.equal(dg, d:digest())
    assert.equal(MT.ImageLayer, d:media_type())
    assert.is_false(exists(tmp))
    assert.equal("produced", L:get_blob(d))
    -- an existing blob: the temporary file is removed
    local tmp2 = assert(L:temp_path())
    write(tmp2, "produced")
    assert(L:adopt_blob(tmp2, dg, 8))
    assert.is_false(exists(tmp2))
    assert.same({}, tmp_files(L))
  end)

  it("adopt_blob checks its arguments", function()
    local tmp = assert(L:temp_path())
    write(tmp, "12345")
    local d, msg, code = L:adopt_blob(tmp, "sha256:../../x", 5)
    assert.is_nil(d)
    assert.equal("invalid", code.code)
    assert.matches("invalid blob digest", msg)
    d, msg, code = L:adopt_blob(tmp, sha256_of("printf 12345"), 4)
    assert.is_nil(d)
    assert.equal("mismatch", code.code)
    assert.matches("holds 5 bytes, the caller says 4", msg)
    assert.is_true(exists(tmp)) -- left for the caller
    d, msg, code = L:adopt_blob(tmp .. "-nope", sha256_of("printf 12345"), 5)
    assert.is_nil(d)
    assert.equal("io", code.code)
    assert.matches("No such file", msg)
    -- unadopted temporary paths go with the handle
    L:close()
    assert.is_false(exists(tmp))
  end)
end)

-- ---------------------------------------------------------------- documents

describe("documents", function()
  local L
  before_each(function() L = new_layout() end)

  it("put_document stores compact JSON with the right media type", function()
    local cfg = config_for("linux", "amd64", {})
    local cd = assert(L:put_document(cfg))
    assert.equal(MT.ImageConfig, cd:media_type())
    assert.equal(cfg:to_json(), L:get_blob(cd))
    local m = assert(image.ImageManifestBuilder():schema_version(2):config(cd):layers({}):build())
    local md = assert(L:put_document(m))
    assert.equal(MT.ImageManifest, md:media_type())
    local idx = assert(image.ImageIndexBuilder():schema_version(2):media_type(MT.ImageIndex)
      :manifests({ md }):build())
    assert.equal(MT.ImageIndex, assert(L:put_document(idx)):media_type())
    -- any other ocispec object
    local spec = oci.runtime.Spec.default()
    assert.equal("application/json", assert(L:put_document(spec)):media_type())
  end)

  it("put_document copies artifactType and sets annotations and platform", function()
    local empty = assert(L:put_blob("{}", MT.EmptyJSON))
    local m = assert(image.ImageManifestBuilder():schema_version(2):media_type(MT.ImageManifest)
      :artifact_type("application/vnd.example+type"):config(empty):layers({ empty }):build())
    local d = assert(L:put_document(m, {
      annotations = { ["org.example.a"] = "1" },
      platform = { os = "linux", architecture = "arm64", variant = "v8" },
    }))
    assert.equal("application/vnd.example+type", d:artifact_type())
    assert.same({ ["org.example.a"] = "1" }, d:annotations())
    assert.equal("arm64", d:platform():architecture())
    assert.equal("v8", d:platform():variant())
    local p = image.Platform.from_table { os = "linux", architecture = "s390x" }
    assert.equal("s390x", assert(L:put_document(m, { platform = p })):platform():architecture())
    local bad, msg = L:put_document(m, { platform = { os = 1 } })
    assert.is_nil(bad)
    assert.matches("platform", msg)
    bad, msg = L:put_document(m, { annotations = { a = {} } })
    assert.is_nil(bad)
    assert.matches("annotations", msg)
    assert.has_error(function() L:put_document("not an object") end,
      "bad argument #1 to 'put_document' (ocispec object expected, got string)")
  end)

  it("get_document parses verified bytes", function()
    local cfg = config_for("linux", "amd64", {})
    local cd = assert(L:put_document(cfg))
    local back = assert(L:get_document(cd, image.ImageConfiguration))
    assert.equal(cfg, back)
    assert.equal(cfg, assert(L:get_document(cd:digest(), image.ImageConfiguration)))
    local m, msg, code = L:get_document(cd, image.ImageManifest)
    assert.is_nil(m)
    assert.equal("missing", code.code)
    assert.matches("as ImageManifest", msg)
    flip(L:blob_path(cd:digest()))
    m, msg, code = L:get_document(cd, image.ImageConfiguration)
    assert.is_nil(m)
    assert.equal("mismatch", code.code)
    assert.matches(cd:digest(), msg, 1, true)
    assert.has_error(function() L:get_document(cd, {}) end,
      "bad argument #2 to 'get_document' (ocispec class (such as image.ImageManifest) expected, got table)")
  end)
end)

-- ---------------------------------------------------------------- tags

describe("tags", function()
  local L
  before_each(function() L = new_layout() end)

  it("tag adds, replaces and untag removes entries", function()
    local a = assert(L:put_blob("a"))
    local b = assert(L:put_blob("b"))
    assert.is_true(L:tag(a, "v1"))
    assert.is_true(L:tag(b, "v2"))
    assert.is_true(L:tag(b, "v1")) -- replaces v1 in place
    local list = L:list()
    assert.equal(2, #list)
    assert.equal("v1", list[1].name)
    assert.equal(b:digest(), list[1].descriptor:digest())
    assert.equal("v1", list[1].descriptor:annotations()["org.opencontainers.image.ref.name"])
    assert.equal("v2", list[2].name)
    local idx = L:index()
    assert.equal(2, #idx:manifests())
    assert.is_true(L:untag("v1"))
    assert.equal(1, #L:list())
    local ok, msg, code = L:untag("v1")
    assert.is_nil(ok)
    assert.equal("invalid", code.code)
    assert.matches('no tag "v1"', msg)
    assert.same({}, tmp_files(L))
  end)

  it("lists entries without a name", function()
    local a = assert(L:put_blob("a"))
    local idx = L:index():set_manifests({ a })
    assert(idx:to_file(L:path() .. "/index.json"))
    local list = L:list()
    assert.is_nil(list[1].name)
    assert.equal(a:digest(), list[1].descriptor:digest())
  end)

  it("checks names against the ref.name grammar", function()
    local a = assert(L:put_blob("a"))
    for _, good in ipairs { "v1", "latest", "a/b", "1.0.0+build", "x--y", "reg:5000/r@v" } do
      assert.is_true(L:tag(a, good), good)
    end
    for _, bad in ipairs { "", "-v", "v1/", "a b", "a//b", "é", "v1-" } do
      local ok, msg, code = L:tag(a, bad)
      assert.is_nil(ok, bad)
      assert.equal("invalid", code.code)
      assert.matches("invalid reference name", msg)
    end
  end)

  it("refuses an invalid descriptor", function()
    local a = assert(L:put_blob("a")):set_size(-1)
    local ok, msg, code = L:tag(a, "x")
    assert.is_nil(ok)
    assert.equal("invalid", code.code)
    assert.matches("/size", msg)
  end)

  it("index.json is replaced, never rewritten in place", function()
    local a = assert(L:put_blob("a"))
    local f = io.open(L:path() .. "/index.json", "rb") -- holds the old file open
    assert(L:tag(a, "t"))
    assert.equal('{"schemaVersion":2,"manifests":[]}', f:read("a"))
    f:close()
  end)
end)

-- ---------------------------------------------------------------- resolve

describe("resolve", function()
  local L
  before_each(function() L = new_layout() end)

  it("resolves a tag to manifest, config and layers", function()
    local md, parts = make_image(L)
    assert(L:tag(md, "v1"))
    local r = assert(L:resolve("v1"))
    assert.equal(md:digest(), r.descriptor:digest())
    assert.equal(parts.manifest, r.manifest)
    assert.equal(oci.core.host_os, r.config:os())
    assert.equal(1, #r.layers)
    assert.equal(parts.layer:digest(), r.layers[1]:digest())
    assert.is_nil(r.index)
    -- by digest, listed or not
    assert.equal(md:digest(), assert(L:resolve(md:digest())).descriptor:digest())
    assert(L:untag("v1"))
    assert.equal(md:digest(), assert(L:resolve(md:digest())).descriptor:digest())
  end)

  it("chooses the platform's manifest in (nested) indexes", function()
    local amd = make_image(L, { os = "linux", arch = "amd64" })
    amd:set_platform(image.Platform.from_table { os = "linux", architecture = "amd64" })
    local arm = make_image(L, { os = "linux", arch = "arm", variant = "v7" })
    arm:set_platform(image.Platform.from_table { os = "linux", architecture = "arm", variant = "v7" })
    local noplat = make_image(L, { os = "linux", arch = "riscv64" })
    local inner = assert(image.ImageIndexBuilder():schema_version(2):media_type(MT.ImageIndex)
      :manifests({ arm, noplat }):build())
    local innerd = assert(L:put_document(inner))
    local top = assert(image.ImageIndexBuilder():schema_version(2):media_type(MT.ImageIndex)
      :manifests({ amd, innerd }):build())
    local topd = assert(L:put_document(top))
    assert(L:tag(topd, "multi"))

    local r = assert(L:resolve("multi", { platform = { os = "linux", architecture = "amd64" } }))
    assert.equal(amd:digest(), r.descriptor:digest())
    assert.equal(top, r.index)
    r = assert(L:resolve("multi", { platform = { os = "linux", architecture = "arm", variant = "v7" } }))
    assert.equal(arm:digest(), r.descriptor:digest())
    -- no platform in the index: the config decides
    r = assert(L:resolve("multi", { platform = { os = "linux", architecture = "riscv64" } }))
    assert.equal(noplat:digest(), r.descriptor:digest())
    r = assert(L:resolve("multi", { platform = image.Platform.from_table { os = "linux", architecture = "amd64" } }))
    assert.equal(amd:digest(), r.descriptor:digest())
    -- the host by default
    if oci.core.host_os == "linux" and oci.core.host_arch == "amd64" then
      assert.equal(amd:digest(), assert(L:resolve("multi")).descriptor:digest())
    end
    local none, msg, code = L:resolve("multi", { platform = { os = "windows", architecture = "amd64" } })
    assert.is_nil(none)
    assert.equal("invalid", code.code)
    assert.matches("no manifest for windows/amd64", msg)
    assert.matches("linux/amd64", msg)
    assert.matches("linux/arm/v7", msg)
    assert.matches("linux/riscv64", msg)
  end)

  it("explains unknown tags and non-image references", function()
    local a = assert(L:put_blob("a"))
    assert(L:tag(a, "blob"))
    local r, msg, code = L:resolve("nope")
    assert.is_nil(r)
    assert.equal("invalid", code.code)
    assert.matches('no tag "nope"', msg)
    assert.matches("tags: blob", msg)
    r, msg, code = L:resolve("blob")
    assert.is_nil(r)
    assert.equal("unsupported", code.code)
    assert.matches("not an image manifest or index", msg)
    r, msg, code = L:resolve("sha256:" .. ("c"):rep(64))
    assert.is_nil(r)
    assert.equal("io", code.code)
    assert.matches("No such file", msg)
  end)

  it("reports a corrupted manifest", function()
    local md = make_image(L)
    assert(L:tag(md, "v1"))
    flip(L:blob_path(md:digest()))
    local r, msg, code = L:resolve("v1")
    assert.is_nil(r)
    assert.equal("mismatch", code.code)
    assert.matches(md:digest(), msg, 1, true)
  end)
end)

-- ---------------------------------------------------------------- gc

describe("gc", function()
  it("removes unreachable blobs and stale temporary files", function()
    local L = new_layout()
    local md, parts = make_image(L)
    assert(L:tag(md, "v1"))
    local junk = assert(L:put_blob("junk"))
    -- a referrer whose subject is the image: the subject does not keep
    -- anything alive, and an unreferenced subject target goes
    local orphan = assert(L:put_blob("orphan manifest target", MT.ImageManifest))
    local empty = assert(L:put_blob("{}", MT.EmptyJSON))
    local ref = assert(image.ImageManifestBuilder():schema_version(2):media_type(MT.ImageManifest)
      :artifact_type("application/x-sig"):config(empty):layers({ empty }):subject(orphan):build())
    local refd = assert(L:put_document(ref))
    assert(L:tag(refd, "sig"))
    write(L:path() .. "/.ocispec-tmp/tmp-stale1", "crash leftover")
    local pending = assert(L:temp_path()) -- held by this handle: kept
    local removed = assert(L:gc())
    table.sort(removed)
    local want = { junk:digest(), orphan:digest() }
    table.sort(want)
    assert.same(want, removed)
    assert.is_false(exists(L:path() .. "/.ocispec-tmp/tmp-stale1"))
    assert.is_true(exists(pending))
    for _, d in ipairs { md, parts.config, parts.layer, refd, empty } do
      assert.is_true(L:has_blob(d:digest()))
    end
    assert.same({}, L:gc())
    assert(L:verify())
  end)

  it("removes nothing when a reachable manifest is unreadable", function()
    local L = new_layout()
    local md = make_image(L)
    assert(L:tag(md, "v1"))
    local junk = assert(L:put_blob("junk"))
    flip(L:blob_path(md:digest()))
    local removed, msg, code = L:gc()
    assert.is_nil(removed)
    assert.equal("invalid", code.code)
    assert.matches("nothing removed", msg)
    assert.matches(md:digest(), msg, 1, true)
    assert.is_true(L:has_blob(junk:digest()))
  end)
end)

-- ---------------------------------------------------------------- verify

describe("verify", function()
  it("passes a sound layout, with warnings for unreachable blobs", function()
    local L = new_layout()
    local md = make_image(L)
    assert(L:tag(md, "v1"))
    local ok, warnings = L:verify()
    assert.is_true(ok)
    assert.same({}, warnings)
    local junk = assert(L:put_blob("junk"))
    write(L:path() .. "/.ocispec-tmp/tmp-old", "x")
    ok, warnings = L:verify()
    assert.is_true(ok)
    assert.equal(2, #warnings)
    assert.truthy(find_problem(warnings, junk:digest(), "not reachable"))
    assert.truthy(find_problem(warnings, "tmp-old", "stale temporary file"))
  end)

  it("accepts zstd and uncompressed layers", function()
    local L = new_layout()
    assert(L:tag(make_image(L, { compress = "zstd" }), "z"))
    assert(L:tag(make_image(L, { compress = "none" }), "plain"))
    local ok, w = L:verify()
    assert.is_true(ok, w and messages(w))
  end)

  -- Every kind of damage, each in its own image of one layout: verify must
  -- list them all, each naming the blob and the reason.
  it("lists every problem, naming the blob and the reason", function()
    local L = new_layout()
    local img = {}
    local function add(name, o)
      local md, parts = make_image(L, o)
      assert(L:tag(md, name))
      img[name] = { md = md, parts = parts }
    end
    add("layerflip", {})
    add("configflip", { arch = "arm64" })
    add("manifestflip", { arch = "s390x" })
    add("wrongsize", { layer_size = 3, arch = "ppc64le" })
    add("gzip-as-zstd", { compress = "gzip", layer_media_type = MT.ImageLayerZstd, arch = "386" })
    add("plain-as-gzip", { compress = "none", layer_media_type = MT.ImageLayerGzip, arch = "mips" })
    add("badiff", { diff_id = "sha256:" .. ("d"):rep(64), arch = "riscv64" })
    add("missing", { arch = "loong64" })
    flip(L:blob_path(img.layerflip.parts.layer:digest()), 20)
    flip(L:blob_path(img.configflip.parts.config:digest()))
    flip(L:blob_path(img.manifestflip.md:digest()))
    os.remove(L:blob_path(img.missing.parts.layer:digest()))

    local ok, msg, verr = L:verify()
    local problems = verr and verr.problems
    assert.is_nil(ok)
    assert.matches("problems", msg)
    local function expect(digest, code, ...)
      local p = find_problem(problems, digest, ...)
      assert(p, ("no problem about %s (%s) in:\n%s"):format(digest, table.concat({ ... }, " "),
        messages(problems)))
      assert.equal(code, p.code)
      assert.equal(digest, p.digest)
      assert.equal("blobs/sha256/" .. digest:sub(8), p.path)
    end
    expect(img.layerflip.parts.layer:digest(), "mismatch", "layer 0 of manifest", "content has digest")
    expect(img.configflip.parts.config:digest(), "mismatch", "config of manifest")
    expect(img.manifestflip.md:digest(), "mismatch", "index.json /manifests/2")
    expect(img.wrongsize.parts.layer:digest(), "mismatch", "bytes on disk, the descriptor says 3")
    expect(img["gzip-as-zstd"].parts.layer:digest(), "mismatch", "says zstd, the content is gzip")
    expect(img["plain-as-gzip"].parts.layer:digest(), "mismatch", "says gzip, the content is uncompressed")
    expect(img.badiff.parts.layer:digest(), "mismatch", "uncompressed content is", ("d"):rep(64))
    expect(img.missing.parts.layer:digest(), "missing", "is missing")
    assert.equal(8, #problems, messages(problems))
  end)

  it("reports documents that do not parse or validate", function()
    local L = new_layout()
    local notjson = assert(L:put_blob("not json", MT.ImageManifest))
    -- tag refuses what gc could not read; another tool may still write it
    local tagged, msg = L:tag(notjson, "notjson")
    assert.is_nil(tagged)
    assert.matches("tag notjson: .*" .. notjson:digest() .. " as ImageManifest: 1:1", msg)
    local idx = assert(image.ImageIndex.from_file(L:path() .. "/index.json"))
    notjson:set_annotations({ ["org.opencontainers.image.ref.name"] = "notjson" })
    idx:set_manifests({ notjson })
    assert(idx:to_file(L:path() .. "/index.json"))
    local cd = assert(L:put_document(config_for("linux", "amd64", {})))
    local bad = assert(image.ImageManifest.from_json(
      '{"schemaVersion":3,"config":' .. cd:to_json() .. ',"layers":[]}'))
    assert(L:tag(assert(L:put_document(bad)), "badschema"))
    local count = assert(image.ImageManifestBuilder():schema_version(2):config(cd)
      :layers({ assert(L:put_blob_file((make_layer("gzip")), MT.ImageLayerGzip)) }):build())
    assert(L:tag(assert(L:put_document(count)), "count"))
    local ok, _, verr = L:verify()
    local problems = verr and verr.problems
    assert.is_nil(ok)
    assert.truthy(find_problem(problems, notjson:digest(), "not a valid ImageManifest", "1:1"))
    local p = find_problem(problems, "/schemaVersion", "I-MAN-1")
    assert.truthy(p)
    assert.equal("validate", p.code)
    assert.truthy(find_problem(problems, "0 diff_ids for 1 layers"))
  end)

  it("reports a bad index.json and oci-layout", function()
    local L = new_layout()
    write(L:path() .. "/oci-layout", '{"imageLayoutVersion":"9"}')
    write(L:path() .. "/index.json", '{"schemaVersion":2,"manifests":[{}]}')
    local ok, _, verr = L:verify()
    local problems = verr and verr.problems
    assert.is_nil(ok)
    local p1 = find_problem(problems, "oci-layout", "imageLayoutVersion")
    assert.truthy(p1)
    assert.equal("oci-layout", p1.path)
    local p2 = find_problem(problems, "index.json")
    assert.truthy(p2)
    assert.equal("index.json", p2.path)
    assert.equal("missing", p2.code)
  end)
end)

-- ---------------------------------------------------------------- real tools

describe("hostile layouts", function()
  -- A layout is input an attacker may have made (an unpacked archive): no
  -- file below its root is followed through a symlink, only regular files
  -- are read, and every refusal names the blob.
  local function link_out(L, digest)
    local path = assert(L:blob_path(digest))
    local outside = newdir() .. "/outside"
    assert(os.rename(path, outside)) -- the same bytes: even the digest matches
    assert(sh("ln -s " .. q(outside) .. " " .. q(path)))
    return path, outside
  end

  it("refuses a blob that is a symlink out of the layout, everywhere", function()
    local L = new_layout()
    local md, parts = make_image(L)
    assert(L:tag(md, "v1"))
    local digest = parts.layer:digest()
    link_out(L, digest)
    for _, call in ipairs {
      function() return L:get_blob(digest) end,
      function() return L:blob_path(digest) end,
      function() return L:has_blob(digest) end,
    } do
      local v, msg, code = call()
      assert.is_nil(v)
      assert.equal("invalid", code.code)
      assert.truthy(msg:find(digest, 1, true), msg)
      assert.truthy(msg:find("is a symbolic link", 1, true), msg)
    end
    local ok, _, verr = L:verify()
    local problems = verr and verr.problems
    assert.is_nil(ok)
    assert.truthy(find_problem(problems, digest, "symbolic link"), messages(problems))
    -- unpack opens layers by blob_path: refused before anything is applied
    local bundle = newdir() .. "/bundle"
    local spec, msg = oci.unpack.image(L, "v1", bundle, { rootless = true })
    assert.is_nil(spec)
    assert.truthy(msg:find("symbolic link", 1, true), msg)
    assert.is_false(exists(bundle .. "/rootfs"))
  end)

  it("refuses a FIFO in place of a blob without blocking", function()
    local L = new_layout()
    local d = assert(L:put_blob("data"))
    local path = assert(L:blob_path(d:digest()))
    os.remove(path)
    assert(sh("mkfifo " .. q(path)))
    local v, msg, code = L:get_blob(d:digest())
    assert.is_nil(v)
    assert.equal("invalid", code.code)
    assert.truthy(msg:find(d:digest() .. ": blobs/sha256/", 1, true), msg)
    assert.truthy(msg:find("is a FIFO", 1, true), msg)
  end)

  it("refuses blobs/ or blobs/sha256 linking out of the layout", function()
    for _, rel in ipairs { "blobs", "blobs/sha256" } do
      local L = new_layout()
      local d = assert(L:put_blob("kept"))
      assert(L:tag(d, "v1"))
      local moved = newdir() .. "/moved"
      assert(os.rename(L:path() .. "/" .. rel, moved))
      assert(sh("ln -s " .. q(moved) .. " " .. q(L:path() .. "/" .. rel)))
      local v, msg, code = L:get_blob(d:digest())
      assert.is_nil(v)
      assert.equal("invalid", code.code)
      assert.truthy(msg:find(rel .. " is a symbolic link", 1, true), msg)
      -- gc removes nothing there, not even what looks unreachable
      local stray = moved .. (rel == "blobs" and "/sha256/" or "/") .. ("e"):rep(64)
      write(stray, "x")
      local removed, gmsg = L:gc()
      assert.is_nil(removed)
      assert.truthy(gmsg:find("symbolic link", 1, true), gmsg)
      assert.is_true(exists(stray))
      -- and nothing is written there
      local n = #ls(moved .. (rel == "blobs" and "/sha256" or ""))
      local put, pmsg, perr = L:put_blob("new")
      assert.is_nil(put)
      assert.equal("invalid", perr.code)
      assert.truthy(pmsg:find(rel .. " is a symbolic link", 1, true), pmsg)
      assert.equal(n, #ls(moved .. (rel == "blobs" and "/sha256" or "")))
    end
  end)

  it("push refuses a blob that is a symlink before uploading it", function()
    local registries = dofile(here .. "fixtures/registry.lua")
    local ok, why = registries.available()
    if not ok then return pending("no registry to push to: " .. why) end
    local reg = registries.start {}
    local L = new_layout()
    local md, parts = make_image(L)
    assert(L:tag(md, "v1"))
    link_out(L, parts.config:digest())
    local c = assert(oci.registry.connect(reg.host, { plain_http = true, auth_file = false }))
    local pushed, msg = c:push(L, "v1", "hostile/app")
    c:close()
    local puts = reg.count_requests("PUT", "^/v2/hostile/app/blobs/uploads/.*digest=" .. parts.config:digest())
    reg.stop()
    assert.is_nil(pushed)
    assert.truthy(msg:find(parts.config:digest(), 1, true), msg)
    assert.truthy(msg:find("symbolic link", 1, true), msg)
    assert.equal(0, puts)
  end)
end)

describe("concurrent processes", function()
  it("creating one new layout at once keep every tag (item 11)", function()
    local procs, rounds = 6, 8
    local lua = "lua5.4"
    local script = newdir() .. "/create_tag.lua"
    write(script, [[
local layout = require("ocispec").layout
local dir, i, go = arg[1], arg[2], arg[3]
while not io.open(go) do end -- loaded: wait until every process is
local L, msg = layout.create(dir)
if not L then io.stderr:write("create ", i, ": ", msg, "\n") os.exit(3) end
local d = assert(L:put_blob("blob of process " .. i))
local ok, tmsg = L:tag(d, "p" .. i)
if not ok then io.stderr:write("tag ", i, ": ", tmsg, "\n") os.exit(4) end
]])
    for r = 1, rounds do
      local base = newdir()
      local dir, go = base .. "/new", base .. "/go"
      local cmd = { ("export LUA_PATH=%s LUA_CPATH=%s; "):format(q(package.path), q(package.cpath)) }
      for i = 1, procs do
        cmd[#cmd + 1] = ("%s %s %s %d %s & pids=\"$pids $!\"; "):format(lua, q(script), q(dir), i, q(go))
      end
      -- all start at once; wait for each child by its pid: any failure
      -- fails the shell
      local ok, out = sh(table.concat(cmd) .. "sleep 0.3; touch " .. q(go) ..
        "; fail=0; for p in $pids; do wait $p || fail=1; done; exit $fail")
      assert(ok, out)
      local L = assert(layout.open(dir))
      local names = {}
      for _, e in ipairs(assert(L:list())) do names[e.name] = true end
      for i = 1, procs do
        assert.is_true(names["p" .. i] == true, ("round %d: tag p%d lost"):format(r, i))
      end
      L:close()
    end
  end)
end)

describe("concurrent pulls", function()
  -- a regression check: the network calls before create spread the
  -- processes out, so this rarely met the old create race (the create
  -- tests above do); it checks identical blobs written at once and tags
  it("into one new directory all succeed and keep every tag (item 11)", function()
    local registries = dofile(here .. "fixtures/registry.lua")
    local ok, why = registries.available()
    if not ok then return pending("no registry to pull from: " .. why) end
    local reg = registries.start {}
    local src = new_layout()
    local md = make_image(src)
    assert(src:tag(md, "v1"))
    local c = assert(oci.registry.connect(reg.host, { plain_http = true, auth_file = false }))
    assert(c:push(src, "v1", "par/app", "v1"))
    c:close()
    local procs = 6
    local script = newdir() .. "/pull.lua"
    write(script, [[
local oci = require("ocispec")
local ref, dir, i, go = arg[1], arg[2], arg[3], arg[4]
while not io.open(go) do end
local d, msg = oci.registry.pull(ref, dir, "n" .. i, { plain_http = true, auth_file = false })
if not d then io.stderr:write("pull ", i, ": ", msg, "\n") os.exit(3) end
]])
    for r = 1, 3 do
      local base = newdir()
      local dir, go = base .. "/new", base .. "/go"
      local cmd = { ("export LUA_PATH=%s LUA_CPATH=%s; "):format(q(package.path), q(package.cpath)) }
      for i = 1, procs do
        cmd[#cmd + 1] = ("lua5.4 %s %s %s %d %s & pids=\"$pids $!\"; "):format(q(script),
          q(reg.host .. "/par/app:v1"), q(dir), i, q(go))
      end
      local done, out = sh(table.concat(cmd) .. "sleep 0.3; touch " .. q(go) ..
        "; fail=0; for p in $pids; do wait $p || fail=1; done; exit $fail")
      if not done then reg.stop() end
      assert(done, out)
      local L = assert(layout.open(dir))
      local names = {}
      for _, e in ipairs(assert(L:list())) do names[e.name] = true end
      for i = 1, procs do
        assert.is_true(names["n" .. i] == true, ("round %d: tag n%d lost"):format(r, i))
      end
      assert(L:verify())
      L:close()
    end
    reg.stop()
  end)
end)

describe("interoperability", function()
  local function build(L)
    local md = make_image(L)
    assert(L:tag(md, "v1"))
    return md
  end

  it("a layout skopeo copies opens, resolves and verifies", function()
    if not have("skopeo") then
      pending("skopeo is not installed")
      return
    end
    local L = new_layout()
    local md = build(L)
    local dst = newdir() .. "/copy"
    local ok, out = sh("skopeo --insecure-policy copy -q oci:" .. q(L:path()) .. ":v1 oci:" .. q(dst) .. ":v1")
    assert(ok, out)
    local L2 = assert(layout.open(dst))
    local r = assert(L2:resolve("v1"))
    assert.equal(md:digest(), r.descriptor:digest())
    local vok, w = L2:verify()
    assert.is_true(vok, w)
    -- and the other way: skopeo reads what we wrote with a temp area present
    assert(L2:temp_path())
    ok, out = sh("skopeo inspect --raw oci:" .. q(dst) .. ":v1")
    assert(ok, out)
  end)

  it("oci-image-tool validates our layout", function()
    if not have("oci-image-tool") then
      pending("oci-image-tool is not installed")
      return
    end
    local L = new_layout()
    build(L)
    assert(L:temp_path()) -- the temporary area must not upset it
    -- its --type "image" is the layout (it has no "imageLayout" type)
    local ok, out = sh("oci-image-tool validate --type image --ref name=v1 " .. q(L:path()))
    assert(ok, out)
    assert.matches("Validation succeeded", out)
  end)

  it("umoci reads our layout", function()
    if not have("umoci") then
      pending("umoci is not installed")
      return
    end
    local L = new_layout()
    build(L)
    assert(L:temp_path())
    local ok, out = sh("umoci stat --image " .. q(L:path()) .. ":v1")
    assert(ok, out)
  end)
end)
