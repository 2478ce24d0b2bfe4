-- ocispec.layer (csrc/image/layer.c, csrc/image/layer_read.c, csrc/lua/l_layer.c):
-- reproducible layer blobs checked against GNU tar, gzip, zstd, sha256sum
-- and umoci.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")
local layer = oci.layer

local sh, out, has = support.exec, support.output, support.have

-- nil, a message holding `why`, an ocispec.Error with code `code`
local function fails(why, code, ...)
  support.assert_fails(why, { code = code }, ...)
end

local tmp
before_each(function()
  tmp = out("mktemp -d /tmp/ocispec-layer-spec.XXXXXX"):gsub("%s+$", "")
  sh(("mkdir -p %s/root/bin %s/root/etc && cp /bin/busybox %s/root/bin/ && ln %s/root/bin/busybox %s/root/bin/ls"
    .. " && ln -s busybox %s/root/bin/sh && printf 'box\\n' > %s/root/etc/hostname"
    .. " && touch -d @2000000000 %s/root/etc/hostname")
    :format(tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp))
end)
after_each(function() sh("rm -rf " .. tmp) end)

local function paths(list)
  local t = {}
  for i, e in ipairs(list) do t[i] = e.path end
  return t
end

describe("layer.build", function()
  it("builds from a directory with each compression; digests match the tools", function()
    for name, tool in pairs({ gzip = "gzip -dc", zstd = "zstd -dc", none = "cat" }) do
      local blob = tmp .. "/l." .. name
      local r = assert(layer.build{ dir = tmp .. "/root", output = blob, compression = name })
      assert.are.equal(layer.media_types[name], r.media_type)
      assert.are.equal(blob, r.path)
      assert.are.equal("sha256:" .. out(tool .. " < " .. blob .. " | sha256sum"):sub(1, 64), r.diff_id)
      assert.are.equal("sha256:" .. out("sha256sum < " .. blob):sub(1, 64), r.digest)
      assert.are.equal(tonumber(out("stat -c %s " .. blob)), r.size)
      assert.are.equal(tonumber(out(tool .. " < " .. blob .. " | wc -c")), r.uncompressed_size)
      assert.are.equal(6, r.entry_count)
      sh(tool .. " < " .. blob .. " | tar -tf - > /dev/null")
    end
    sh("gzip -t " .. tmp .. "/l.gzip && zstd -q -t " .. tmp .. "/l.zstd")
    assert.are.equal("application/vnd.oci.image.layer.v1.tar+gzip", layer.media_types.gzip)
  end)

  it("lists entries in tar order with their metadata", function()
    local r = assert(layer.build{ dir = tmp .. "/root", output = tmp .. "/l.tgz", uid = 0, gid = 0 })
    local list = assert(layer.entries(r.path))
    assert.are.same({ "bin/", "bin/busybox", "bin/ls", "bin/sh", "etc/", "etc/hostname" }, paths(list))
    assert.are.same({ path = "bin/ls", type = "hardlink", target = "bin/busybox", mode = 493, uid = 0, gid = 0,
      size = 0, mtime = list[2].mtime }, list[3])
    assert.are.equal("symlink", list[4].type)
    assert.are.equal("busybox", list[4].target)
    assert.are.equal(4, list[6].size)
    assert.are.equal(2000000000, list[6].mtime)
    assert.are.equal("dir", list[1].type)
  end)

  it("is byte-identical when rebuilt from a copy, with no atime/ctime", function()
    local a = assert(layer.build{ dir = tmp .. "/root", output = tmp .. "/a.tgz", mtime = 1700000000 })
    sh(("sleep 1 && cp -a %s/root %s/copy && touch %s/copy/bin"):format(tmp, tmp, tmp))
    local b = assert(layer.build{ dir = tmp .. "/copy", output = tmp .. "/b.tgz", mtime = 1700000000 })
    assert.are.equal(a.digest, b.digest)
    sh(("cmp %s/a.tgz %s/b.tgz"):format(tmp, tmp))
    local tv = out("tar --list -v --full-time -zf " .. tmp .. "/a.tgz")
    for line in tv:gmatch("[^\n]+") do
      assert.truthy(line:find("2023-11-14 22:13:20", 1, true), line)
    end
    assert.are.equal("0\n", out("gzip -dc " .. tmp .. "/a.tgz | grep -a -c PaxHeader || true"))
  end)

  it("clamps to SOURCE_DATE_EPOCH by default (in a child process)", function()
    local script = tmp .. "/sde.lua"
    local f = assert(io.open(script, "w"))
    f:write(([[
      local layer = require("ocispec").layer
      local r = assert(layer.build{ dir = %q, output = %q })
      for _, e in ipairs(assert(layer.entries(r.path))) do assert(e.mtime == 86400, e.path) end
      local ok, msg = layer.build{ dir = %q, output = %q, compression = "none" }
      print(ok, msg)
    ]]):format(tmp .. "/root", tmp .. "/s.tgz", tmp .. "/root", tmp .. "/t.tar"))
    f:close()
    local env = ("LUA_PATH='%s' LUA_CPATH='%s' "):format(package.path, package.cpath)
    local res = out(env .. ("SOURCE_DATE_EPOCH=86400 lua5.4 %s 2>&1"):format(script))
    assert.truthy(res:find("^table"), res)
    res = out(env .. ("SOURCE_DATE_EPOCH=soon lua5.4 -e"
      .. " 'print(require(\"ocispec\").layer.build{dir=%q, output=%q})' 2>&1")
      :format(tmp .. "/root", tmp .. "/u.tgz"))
    assert.truthy(res:find('SOURCE_DATE_EPOCH="soon" is not a number of seconds since the epoch', 1, true), res)
  end)

  it("overrides owners", function()
    sh("chown -R 1234:5678 " .. tmp .. "/root/etc 2>/dev/null || true")
    local r = assert(layer.build{ dir = tmp .. "/root", output = tmp .. "/o.tar", compression = "none",
      uid = 7, gid = 8 })
    for _, e in ipairs(assert(layer.entries(r.path))) do
      assert.are.equal(7, e.uid)
      assert.are.equal(8, e.gid)
    end
    -- GNU tar reads the same owners (an oracle other than our reader)
    local rows = 0
    for line in out("tar --numeric-owner -tvf " .. r.path):gmatch("[^\n]+") do
      assert.truthy(line:match("^%S+ 7/8 "), line)
      rows = rows + 1
    end
    assert.are.equal(6, rows)
  end)

  it("builds from entries: files, inline content, links, devices, fifos", function()
    local r = assert(layer.build{
      entries = {
        { path = "bin/busybox", type = "file", source = "/bin/busybox", mode = 493, uid = 0, gid = 0 },
        { path = "bin", type = "dir", mode = 493 },
        { path = "bin/sh", type = "symlink", target = "busybox" },
        { path = "bin/ls", type = "hardlink", target = "bin/busybox" },
        { path = "dev/null", type = "char", major = 1, minor = 3, mode = 438 },
        { path = "dev/loop0", type = "block", major = 7, minor = 0 },
        { path = "run/fifo", type = "fifo" },
        { path = "etc/hostname", type = "file", content = "box\n", mtime = 99 },
      },
      output = tmp .. "/e.tzst", compression = "zstd", level = 19,
    })
    assert.are.equal("application/vnd.oci.image.layer.v1.tar+zstd", r.media_type)
    local list = assert(layer.entries(r.path))
    assert.are.same({ "bin/", "bin/busybox", "bin/ls", "bin/sh", "dev/loop0", "dev/null", "etc/hostname", "run/fifo" },
      paths(list))
    assert.are.same({ path = "dev/null", type = "char", major = 1, minor = 3, mode = 438, uid = 0, gid = 0,
      mtime = 0, size = 0 }, list[6])
    assert.are.equal(99, list[7].mtime)
    assert.are.equal("fifo", list[8].type)
    sh(("mkdir %s/x && zstd -dc %s | tar -C %s/x -xf - && test \"$(cat %s/x/etc/hostname)\" = box"
      .. " && test %s/x/bin/ls -ef %s/x/bin/busybox && test -c %s/x/dev/null && test -p %s/x/run/fifo")
      :format(tmp, r.path, tmp, tmp, tmp, tmp, tmp, tmp))
  end)

  it("builds the changeset between two trees with whiteouts (layer.md)", function()
    local L, U = tmp .. "/lower", tmp .. "/upper"
    sh(("mkdir -p %s/a %s/b/x %s/keep && echo 1 > %s/a/f && echo 2 > %s/a/gone && echo 3 > %s/b/x/y"
      .. " && echo k > %s/keep/k && echo old > %s/a/changed && cp -a %s %s"):format(L, L, L, L, L, L, L, L, L, U))
    sh(("rm %s/a/gone && rm -r %s/b/x && echo n > %s/b/n && echo newer > %s/a/changed && echo + > %s/added")
      :format(U, U, U, U, U))
    local r = assert(layer.build{ lower = L, upper = U, output = tmp .. "/d.tgz", mtime = 1 })
    assert.are.same({ "a/", "a/.wh.gone", "a/changed", "added", "b/", "b/.wh..wh..opq", "b/n" },
      paths(assert(layer.entries(r.path))))
    -- applied on top of lower by GNU tar (which does not know whiteouts)
    -- the changed and added files carry the upper content
    sh(("tar -C %s -xzf %s && test \"$(cat %s/a/changed)\" = newer && test -f %s/added"):format(L, r.path, L, L))
  end)

  it("produces a layer umoci unpacks", function()
    if not has("umoci") then
      pending("umoci not installed")
      return
    end
    local img = tmp .. "/img"
    sh("mkdir -p " .. img .. "/blobs/sha256")
    local r = assert(layer.build{ dir = tmp .. "/root", output = tmp .. "/layer", uid = 0, gid = 0, mtime = 0 })
    sh(("mv %s %s/blobs/sha256/%s"):format(r.path, img, r.digest:sub(8)))
    local function blob(s)
      local p = tmp .. "/blob"
      local f = assert(io.open(p, "wb"))
      f:write(s)
      f:close()
      local d = out("sha256sum < " .. p):sub(1, 64)
      sh(("mv %s %s/blobs/sha256/%s"):format(p, img, d))
      return "sha256:" .. d, #s
    end
    local cd, cs = blob(oci.json.encode({ architecture = "amd64", os = "linux",
      rootfs = { type = "layers", diff_ids = { r.diff_id } }, config = {} }))
    local md, ms = blob(oci.json.encode({ schemaVersion = 2, mediaType = "application/vnd.oci.image.manifest.v1+json",
      config = { mediaType = "application/vnd.oci.image.config.v1+json", digest = cd, size = cs },
      layers = { { mediaType = r.media_type, digest = r.digest, size = r.size } } }))
    local f = assert(io.open(img .. "/index.json", "w"))
    f:write(oci.json.encode({ schemaVersion = 2, manifests = { {
      mediaType = "application/vnd.oci.image.manifest.v1+json",
      digest = md, size = ms, annotations = { ["org.opencontainers.image.ref.name"] = "t" } } } }))
    f:close()
    f = assert(io.open(img .. "/oci-layout", "w"))
    f:write('{"imageLayoutVersion":"1.0.0"}')
    f:close()
    sh(("umoci raw unpack --rootless --image %s:t %s/rootfs >/dev/null 2>&1"):format(img, tmp))
    sh(("test \"$(cat %s/rootfs/etc/hostname)\" = box && test -L %s/rootfs/bin/sh"
      .. " && test %s/rootfs/bin/ls -ef %s/rootfs/bin/busybox")
      :format(tmp, tmp, tmp, tmp))
  end)

  it("reports bad input with a specific message and leaves no output", function()
    local o = tmp .. "/bad.tgz"
    local cases = {
      { { entries = { { path = "../x", type = "file" } } },
        'layer entry #1 "../x": path escapes the layer root ("..")' },
      { { entries = { { path = "/abs", type = "file" } } }, 'layer entry #1 "/abs": path is absolute' },
      { { entries = { { path = "x" }, { path = "./x", type = "dir" } } },
        'layer entry "x": duplicate path (entries #1 and #2)' },
      { { entries = { { path = "x", type = "socket" } } },
        'layer entry #1 "x": unknown type "socket" (file, dir, symlink, hardlink, char, block or fifo)' },
      { { entries = { { path = "x", source = tmp .. "/nope" } } },
        'layer entry "x": cannot read ' .. tmp .. "/nope: No such file or directory", "io" },
      { { entries = { { path = "x", type = "hardlink", target = "y" } } },
        'layer entry "x": hardlink target "y" is not among the entries' },
      { { entries = { { path = "x", mode = 33188 } } }, 'layer entry "x": mode 33188 is not permission bits' },
      { { entries = {}, compression = "bzip2" }, 'unknown layer compression "bzip2" (gzip, zstd or none)' },
      { { entries = {}, level = 0 }, "layer compression level 0 is out of range" },
      { { entries = {}, compression = "gzip", level = 12 },
        "layer compression level 12 is out of range for gzip (1 to 9)" },
      { { entries = {}, threads = 65 }, 'layer compression threads 65 out of range (0 to 64, or "auto")' },
      { { entries = {}, threads = -1 }, 'layer compression threads -1 out of range (0 to 64, or "auto")' },
      { { entries = {}, threads = "2" },
        'layer.build: threads "2" is neither "auto" nor a number of threads (0 to 64)' },
      { { dir = tmp .. "/missing" }, "layer: directory " .. tmp .. "/missing: No such file or directory", "io" },
      { { dir = tmp .. "/root", entries = {} }, "give exactly one of dir, entries, or lower and upper (got 2)" },
      { { lower = tmp .. "/root" }, "a changeset needs both lower and upper" },
    }
    for _, c in ipairs(cases) do
      c[1].output = o
      fails(c[2], c[3] or "invalid", layer.build(c[1]))
      assert.is_nil(io.open(o), c[2])
    end
    fails("layer.build: output is required", "invalid", layer.build{ entries = {} })
    assert.are.equal("", out("ls -a " .. tmp .. " | grep tmp || true"))
    -- an existing file survives a failed build
    local f = assert(io.open(o, "w"))
    f:write("keep")
    f:close()
    assert.is_nil(layer.build{ entries = { { path = "../x" } }, output = o })
    assert.are.equal("keep", out("cat " .. o))
  end)

  it("refuses a changeset's upper file named like a whiteout (it would be one in the layer)", function()
    -- an added file of a changeset's upper tree: .wh.passwd became a
    -- whiteout deleting the lower passwd, .wh..wh..opq an opaque marker;
    -- a dir source and explicit entries may still hold markers (a RUN
    -- step's converted overlay upper directory, mutate's entries)
    local o = tmp .. "/wh.tar"
    for _, name in ipairs({ ".wh.passwd", ".wh..wh..opq" }) do
      out(("rm -rf %s/w && mkdir -p %s/w/lower/etc %s/w/upper/etc && touch %s/w/lower/etc/passwd "
        .. "%s/w/upper/etc/passwd %s/w/upper/etc/%s"):format(tmp, tmp, tmp, tmp, tmp, tmp, name))
      fails("etc/" .. name .. ": a file named like a whiteout", "invalid", layer.build{ lower = tmp .. "/w/lower",
        upper = tmp .. "/w/upper", output = o, compression = "none" })
      assert.is_nil(io.open(o))
    end
    assert(layer.build{ entries = { { path = "etc/.wh.passwd" } }, output = o, compression = "none" })
    assert(layer.build{ dir = tmp .. "/w/upper", output = o, compression = "none" })
  end)

  it("raises on misuse, naming the field", function()
    assert.has_error(function() layer.build("x") end, "bad argument #1 to 'build' (table expected, got string)")
    assert.has_error(function() layer.build{ dir = 5, output = "x" } end,
      "layer.build: dir must be a string, got number")
    assert.has_error(function() layer.build{ entries = { "x" }, output = "x" } end,
      "layer.build: entries[1] must be a table, got string")
    assert.has_error(function() layer.build{ entries = { { path = "x", mode = "755" } }, output = "x" } end,
      "layer.build: entries[1].mode must be an integer, got string")
    assert.has_error(function() layer.build{ entries = {}, output = "x", mtime = 1.5 } end,
      "layer.build: mtime must be an integer, got a fraction")
    assert.has_error(function() layer.build{ entries = {}, output = "x", threads = true } end,
      'layer.build: threads must be an integer or "auto", got boolean')
    assert.has_error(function() layer.build{ entries = {}, output = "x", threads = 1.5 } end,
      'layer.build: threads must be an integer or "auto", got a fraction')
  end)
end)

describe("layer.build threads", function()
  -- about 280 KiB of semi-compressible content: two 256 KiB chunks
  -- between the threads, three 128 KiB parallel gzip blocks
  local function content()
    local parts, seed = {}, 7
    for i = 1, 60000 do
      seed = (seed * 1103515245 + 12345) % 2147483648
      parts[i] = seed % 5 == 0 and string.pack("<I4", seed) or ("w" .. seed % 997 .. " ")
    end
    return table.concat(parts)
  end
  local data
  local function entries()
    data = data or content()
    return { { path = "d", type = "dir" }, { path = "d/data", type = "file", content = data, mtime = 0 },
      { path = "x", type = "file", content = "x\n", mtime = 0 } }
  end
  local function py(code, ...)
    local args = {}
    for i, a in ipairs({ ... }) do args[i] = "'" .. a .. "'" end
    sh(("python3 -c '%s' %s"):format(code, table.concat(args, " ")))
  end

  it("0 keeps the single-threaded bytes; 1, 2, 4, 8 give one stream, checked by gzip, zlib and zstd", function()
    local tar = assert(layer.build{ entries = entries(), output = tmp .. "/l.tar", compression = "none" })
    local sha = function(cmd) return "sha256:" .. out(cmd .. " | sha256sum"):sub(1, 64) end
    -- threads 0: zlib's raw deflate in libarchive's gzip framing (Python's zlib makes the same bytes)
    -- and zstd's single-threaded mode
    local g0 = assert(layer.build{ entries = entries(), output = tmp .. "/g0", threads = 0 })
    py("import sys, zlib; t = open(sys.argv[1], \"rb\").read(); c = zlib.compressobj(6, zlib.DEFLATED, -15, 8); "
      .. "g = bytes([31, 139, 8, 0, 0, 0, 0, 0, 0, 3]) + c.compress(t) + c.flush() + "
      .. "zlib.crc32(t).to_bytes(4, \"little\") + len(t).to_bytes(4, \"little\"); "
      .. "sys.exit(g != open(sys.argv[2], \"rb\").read())", tmp .. "/l.tar", tmp .. "/g0")
    local z0 = assert(layer.build{ entries = entries(), output = tmp .. "/z0", compression = "zstd", threads = 0 })
    assert.are.equal(sha("zstd -q -c --single-thread --no-check -3 < " .. tmp .. "/l.tar"), z0.digest)
    for _, c in ipairs({ "gzip", "zstd" }) do
      local first
      -- the default (nil) is "auto": one thread per CPU, the same stream
      for _, n in ipairs({ 1, 2, 4, 8, "auto", false }) do
        local r = assert(layer.build{ entries = entries(), output = tmp .. "/n", compression = c, threads = n or nil })
        first = first or r
        assert.are.equal(first.digest, r.digest, c .. " threads " .. tostring(n))
        assert.are.equal(tar.diff_id, r.diff_id)
        assert.are.equal(sha("cat " .. tmp .. "/n"), r.digest)
      end
      if c == "gzip" then
        assert.are_not.equal(g0.digest, first.digest) -- another format (one zstd job is not)
        sh("gzip -t " .. tmp .. "/n")
        assert.are.equal(tar.diff_id, sha("gzip -dc < " .. tmp .. "/n"))
        -- one gzip member, nothing after it
        py("import sys, zlib; d = zlib.decompressobj(31); t = d.decompress(open(sys.argv[1], \"rb\").read()); "
          .. "sys.exit(not d.eof or d.unused_data != b\"\" or t != open(sys.argv[2], \"rb\").read())",
          tmp .. "/n", tmp .. "/l.tar")
      else
        -- the zstd tool's own multi-threaded stream, for any -T
        assert.are.equal(sha("zstd -q -c -T2 --no-check -3 < " .. tmp .. "/l.tar"), first.digest)
        assert.are.equal(tar.diff_id, sha("zstd -q -dc < " .. tmp .. "/n"))
      end
    end
  end)

  it("Image threads reach its layers; the build cache keys the format, not the count", function()
    local cache = require("ocispec.build_cache")
    local L = assert(oci.layout.create(tmp .. "/lay"))
    local want = assert(layer.build{ entries = entries(), output = tmp .. "/w", threads = 3, mtime = 0 })
    local keys = {}
    -- false: no threads given, the default ("auto")
    for _, n in ipairs({ 2, 5, "auto", 1, 0, false }) do
      local img = oci.build.Image.new(L, { created = 0, threads = n or nil })
      local spec = { entries = entries(), mtime = 0 }
      keys[n] = assert(cache.add_layer_key(img, spec))
      assert(img:add_layer(spec))
      local top = img.layers[#img.layers].digest
      if n ~= 0 then assert.are.equal(want.digest, top) else assert.are_not.equal(want.digest, top) end
    end
    assert.are.equal(keys[2], keys[5])
    assert.are.equal(keys[2], keys[1])
    assert.are.equal(keys[2], keys.auto)
    assert.are.equal(keys[2], keys[false])
    assert.are_not.equal(keys[2], keys[0])
    -- a step's own threads count as well
    local img = oci.build.Image.new(L, { created = 0 })
    assert.are.equal(keys[2], cache.add_layer_key(img, { entries = entries(), mtime = 0, threads = 4 }))
    assert.are.equal(keys[0], cache.add_layer_key(img, { entries = entries(), mtime = 0, threads = 0 }))
    img = oci.build.Image.new(L, { created = 0, threads = 0 })
    assert.are.equal(keys[2], cache.add_layer_key(img, { entries = entries(), mtime = 0, threads = "auto" }))
    -- a key recorded before the default became "auto" (its layer args had
    -- no `parallel`: the single-threaded bytes) is the key of threads 0, so
    -- the old default's cached layer is a miss for the new default
    local old = oci.build.Image.new(L, { created = 0 })
    local args = { layer = { compression = "gzip", level = "", uid = "", gid = "" }, mtime = 0 }
    local inputs = { entries = entries() }
    local old_key = cache.key(old, "add_layer", args, inputs)
    assert.are.equal(keys[0], old_key)
    assert.are_not.equal(keys[false], old_key)
    assert.has_error(function() oci.build.Image.new(L, { threads = "2" }) end,
      'Image.new: threads must be an integer or "auto", got "2"')
    assert.has_error(function() oci.build.Image.new(L, { threads = true }) end,
      'Image.new: threads must be an integer or "auto", got boolean')
    L:close()
  end)

  it("threads_auto counts the CPUs this process may run on", function()
    local n = layer.threads_auto()
    assert.is_true(math.type(n) == "integer" and n >= 1 and n <= layer.threads_max)
    -- Python's view of the same affinity mask
    local want = tonumber(out("python3 -c 'import os; print(min(64, len(os.sched_getaffinity(0))))'"))
    assert.are.equal(want, n)
    -- under taskset one CPU: one thread, and the default layer's bytes do not move
    local cpu = out("python3 -c 'import os; print(min(os.sched_getaffinity(0)))'"):match("^%d+")
    local script = tmp .. "/one.lua"
    local f = assert(io.open(script, "w"))
    f:write(([[
      local layer = require("ocispec").layer
      local r = assert(layer.build{
        entries = { { path = "x", type = "file", content = ("w1 "):rep(200000), mtime = 0 } }, output = %q })
      io.write(layer.threads_auto(), " ", r.digest)
    ]]):format(tmp .. "/one.tgz"))
    f:close()
    local env = ("LUA_PATH='%s' LUA_CPATH='%s' "):format(package.path, package.cpath)
    local got = out(env .. ("taskset -c %s lua5.4 %s 2>&1"):format(cpu, script))
    local r = assert(layer.build{ entries = { { path = "x", type = "file", content = ("w1 "):rep(200000), mtime = 0 } },
      output = tmp .. "/two.tgz", threads = 2 })
    assert.are.equal("1 " .. r.digest, got)
  end)
end)

describe("layer.entries", function()
  it("reports what is not a layer", function()
    fails("layer " .. tmp .. "/none: cannot open: No such file or directory", "io", layer.entries(tmp .. "/none"))
    local f = assert(io.open(tmp .. "/junk", "w"))
    f:write(("not a tar "):rep(100))
    f:close()
    fails("layer " .. tmp .. "/junk: ", "io", layer.entries(tmp .. "/junk"))
  end)
end)
