-- ocispec.layer.transform (csrc/image/layer_transform.c,
-- csrc/lua/l_layer_transform.c): a layer blob rewritten entry by entry in
-- one pass. Oracles: python3 tarfile (entries, content, xattrs), hashlib
-- (digest, diff_id), umoci (an image using the new layer unpacks).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")
local layer = oci.layer

local sh, out, has, exists = support.exec, support.output, support.have, support.exists

-- nil, a message holding `why`, an ocispec.Error with code `code`
local function fails(why, code, ...)
  support.assert_fails(why, { code = code }, ...)
end

local function read(path)
  return assert(support.read(path))
end

-- python3's view of a blob: its sha256, the sha256 of its decompressed
-- stream, and each member (name, type, mode, uid, gid, uname, linkname,
-- content, xattrs) as JSON.
local ORACLE = [[
import sys, json, hashlib, tarfile, gzip, io, subprocess
raw = open(sys.argv[1], 'rb').read()
if raw[:2] == b'\x1f\x8b': tar = gzip.decompress(raw)
elif raw[:4] == b'\x28\xb5\x2f\xfd':
  tar = subprocess.run(['zstd', '-dc'], input=raw, capture_output=True, check=True).stdout
else: tar = raw
members = []
with tarfile.open(fileobj=io.BytesIO(tar), mode='r:') as t:
  for m in t.getmembers():
    d = {'name': m.name, 'type': m.type.decode(), 'mode': m.mode, 'uid': m.uid, 'gid': m.gid,
         'uname': m.uname, 'linkname': m.linkname, 'mtime': int(m.mtime),
         'xattrs': {k[len('SCHILY.xattr.'):]: v for k, v in m.pax_headers.items() if k.startswith('SCHILY.xattr.')}}
    if m.isfile(): d['content'] = t.extractfile(m).read().decode('latin-1')
    members.append(d)
print(json.dumps({'digest': 'sha256:' + hashlib.sha256(raw).hexdigest(),
                  'diff_id': 'sha256:' + hashlib.sha256(tar).hexdigest(), 'members': members}))
]]

local tmp
local function oracle(path)
  local f = assert(io.open(tmp .. "/oracle.py", "w"))
  f:write(ORACLE)
  f:close()
  local s = out(("python3 %s/oracle.py %s"):format(tmp, path))
  return assert(oci.json.decode(s))
end

local function by_name(o)
  local m = {}
  for i, e in ipairs(o.members) do
    e.index = i
    m[e.name] = e
  end
  return m
end

local function base(compression)
  return assert(layer.build{ output = tmp .. "/in", compression = compression, mtime = 1000, entries = {
    { path = "bin", type = "dir" },
    { path = "bin/sh", content = "#!shell", mode = 493 },
    { path = "etc", type = "dir", mode = 493 },
    { path = "etc/hostname", content = "box\n", mtime = 500 },
    { path = "etc/link", type = "hardlink", target = "etc/hostname" },
    { path = "etc/sl", type = "symlink", target = "hostname" },
    { path = "var/.wh.gone", content = "" },
    { path = "opt/.wh..wh..opq", content = "" },
  } })
end

before_each(function()
  tmp = out("mktemp -d /tmp/ocispec-transform-spec.XXXXXX"):gsub("%s+$", "")
end)
after_each(function() sh("rm -rf " .. tmp) end)

describe("layer.transform", function()
  it("keeping every entry of a layer the builder made gives it back byte for byte", function()
    for _, c in ipairs({ "gzip", "zstd", "none" }) do
      local b = base(c)
      local r = assert(layer.transform(b.path, function() end, { output = tmp .. "/out" }))
      assert.are.equal(b.diff_id, r.diff_id)
      assert.are.equal(b.digest, r.digest)
      assert.are.equal(b.media_type, r.mediaType)
      assert.are.equal(read(b.path), read(r.path))
      local o = oracle(r.path)
      assert.are.equal(o.digest, r.digest)
      assert.are.equal(o.diff_id, r.diff_id)
      assert.are.equal(#o.members, r.entry_count)
    end
  end)

  it("drops, renames, chmods, chowns, replaces content, adds entries and edits xattrs", function()
    local b = base("gzip")
    local seen = {}
    local src = tmp .. "/src"
    local f = assert(io.open(src, "wb"))
    f:write("from a file")
    f:close()
    local r = assert(layer.transform(b.path, function(e, add)
      seen[e.path] = e
      if e.path == "bin/sh" then return false end
      if e.path == "etc/hostname" then
        assert.are.equal("box\n", e:read())
        assert.are.equal("box\n", e:read()) -- a second read gives the same
        add{ path = "etc/added", content = "new\n", mode = 384, uid = 7, gid = 8, mtime = 5 }
        add{ path = "etc/added-dir", type = "dir" }
        return { path = "etc/name", content = e:read():upper(), mode = 256, uid = 1000, gid = 1001,
          uname = "app", xattrs = { ["user.k"] = "v", ["security.capability"] = "\1\0\0\2" } }
      end
      if e.path == "etc/sl" then return { linkname = "name", uid = 3 } end
      if e.path == "etc" then return { content = nil, mode = 448 } end
      if e.path == "bin" then
        return { path = "usr/bin", source = nil, xattrs = { ["user.dir"] = "d" } }
      end
      return true
    end, { output = tmp .. "/out", compression = "none", finish = function(add)
      add{ path = "z/streamed", content = function(write) write("a") write(("b"):rep(100000)) end }
      add{ path = "z/copied", source = src }
    end }))
    local o = oracle(r.path)
    assert.are.equal(o.digest, r.digest)
    assert.are.equal(o.diff_id, r.diff_id)
    local m = by_name(o)
    assert.is_nil(m["bin/sh"])
    assert.is_nil(m["etc/hostname"])
    assert.are.same({ "0", 256, 1000, 1001, "app", "BOX\n" },
      { m["etc/name"].type, m["etc/name"].mode, m["etc/name"].uid, m["etc/name"].gid, m["etc/name"].uname,
        m["etc/name"].content })
    assert.are.same({ ["user.k"] = "v", ["security.capability"] = "\1\0\0\2" }, m["etc/name"].xattrs)
    -- the hard link followed its renamed target
    assert.are.same({ "1", "etc/name" }, { m["etc/link"].type, m["etc/link"].linkname })
    assert.are.same({ "2", "name", 3 }, { m["etc/sl"].type, m["etc/sl"].linkname, m["etc/sl"].uid })
    assert.are.equal(448, m["etc"].mode)
    assert.are.same({ "5", { ["user.dir"] = "d" } }, { m["usr/bin"].type, m["usr/bin"].xattrs })
    -- added entries come before the current one; finish's after the last
    assert.are.same({ "new\n", 384, 7, 8, 5 },
      { m["etc/added"].content, m["etc/added"].mode, m["etc/added"].uid, m["etc/added"].gid, m["etc/added"].mtime })
    assert.is_true(m["etc/added"].index < m["etc/name"].index)
    assert.are.equal("5", m["etc/added-dir"].type)
    assert.are.equal("a" .. ("b"):rep(100000), m["z/streamed"].content)
    assert.are.equal("from a file", m["z/copied"].content)
    assert.are.equal(#o.members, o.members[#o.members].index)
    assert.are.equal("z/copied", o.members[#o.members].name)
    -- what the callback saw
    assert.are.same({ "hardlink", "etc/hostname", 0 },
      { seen["etc/link"].type, seen["etc/link"].linkname, seen["etc/link"].size })
    assert.are.same({ "file", 4, 500, 420 },
      { seen["etc/hostname"].type, seen["etc/hostname"].size, seen["etc/hostname"].mtime, seen["etc/hostname"].mode })
    assert.are.equal("var/gone", seen["var/.wh.gone"].whiteout)
    assert.is_true(seen["opt/.wh..wh..opq"].opaque)
    assert.is_truthy(m["var/.wh.gone"])
  end)

  it("gives the same bytes for the same input and callback, and clamps mtimes", function()
    local b = base("gzip")
    local function run(name)
      return assert(layer.transform(b.path, function(e)
        if e.path == "etc/hostname" then return { content = function(w) w("x") end } end
        return { mtime = e.mtime + 5000 }
      end, { output = tmp .. "/" .. name, mtime = 3000, compression = "zstd" }))
    end
    local r1, r2 = run("a"), run("b")
    assert.are.equal(read(r1.path), read(r2.path))
    assert.are.equal(r1.digest, r2.digest)
    for _, e in ipairs(oracle(r1.path).members) do assert.is_true(e.mtime <= 3000) end
  end)

  it("reads from and writes into a layout, checking the input's digest", function()
    local b = base("gzip")
    local L = assert(oci.layout.create(tmp .. "/lay"))
    local d = assert(L:put_blob_file(b.path, b.media_type))
    local r = assert(layer.transform({ layout = L, descriptor = d }, function(e)
      if e.path == "etc/sl" then return false end
    end, { layout = L }))
    assert.is_true(L:has_blob(r.digest))
    local o = oracle(L:blob_path(r.digest))
    assert.are.equal(r.digest, o.digest)
    assert.are.equal(r.diff_id, o.diff_id)
    assert.is_nil(by_name(o)["etc/sl"])
    -- a descriptor that does not match the blob
    local bad = d:to_table()
    bad.size = bad.size + 1
    fails("input size mismatch", "mismatch",
      layer.transform({ layout = L, descriptor = bad }, nil, { output = tmp .. "/o" }))
    assert.is_false(exists(tmp .. "/o"))
    L:close()
  end)

  it("makes a layer umoci unpacks", function()
    if not has("umoci") then
      pending("umoci not installed")
      return
    end
    local b = base("gzip")
    local L = assert(oci.layout.create(tmp .. "/img"))
    local d = assert(L:put_blob_file(b.path, b.media_type))
    local r = assert(layer.transform({ layout = L, descriptor = d }, function(e, add)
      if e.path == "etc/hostname" then
        add{ path = "etc/motd", content = "hi\n" }
        return { path = "etc/renamed", content = "changed\n", mode = 384 }
      end
      if e.path:find("%.wh%.") then return false end
    end, { layout = L }))
    local cfg = assert(L:put_blob(oci.json.encode({ architecture = "amd64", os = "linux",
      rootfs = { type = "layers", diff_ids = { r.diff_id } }, config = {} }),
      "application/vnd.oci.image.config.v1+json"))
    local m = assert(L:put_blob(oci.json.encode({ schemaVersion = 2,
      mediaType = "application/vnd.oci.image.manifest.v1+json",
      config = cfg:to_table(), layers = { { mediaType = r.mediaType, digest = r.digest, size = r.size } } }),
      "application/vnd.oci.image.manifest.v1+json"))
    assert(L:tag(m, "t"))
    L:close()
    sh(("umoci raw unpack --rootless --image %s/img:t %s/rootfs >/dev/null 2>&1"):format(tmp, tmp))
    assert.are.equal("changed\n", read(tmp .. "/rootfs/etc/renamed"))
    assert.are.equal("changed\n", read(tmp .. "/rootfs/etc/link")) -- the hard link followed
    assert.are.equal("hi\n", read(tmp .. "/rootfs/etc/motd"))
    assert.is_false(exists(tmp .. "/rootfs/etc/hostname"))
  end)

  it("keeps what a foreign layer says (python tarfile, GNU tar sparse), entry for entry", function()
    local py = [[
import tarfile, io, sys, gzip
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT) as t:
  d = tarfile.TarInfo('./usr/'); d.type = tarfile.DIRTYPE; d.mode = 0o750; d.uid = 5; d.uname = 'root'
  d.mtime = 1234.5; t.addfile(d)
  long = 'usr/' + 'n' * 150
  f = tarfile.TarInfo(long); f.size = 3; f.mode = 0o4755; f.gid = 70000; f.gname = 'staff'
  f.pax_headers = {'SCHILY.xattr.user.x': 'y'}; t.addfile(f, io.BytesIO(b'abc'))
  h = tarfile.TarInfo('usr/hl'); h.type = tarfile.LNKTYPE; h.linkname = long; t.addfile(h)
open(sys.argv[1], 'wb').write(gzip.compress(buf.getvalue(), mtime=0))
]]
    local f = assert(io.open(tmp .. "/mk.py", "w"))
    f:write(py)
    f:close()
    sh(("python3 %s/mk.py %s/foreign.tar.gz"):format(tmp, tmp))
    -- (no dd: under ASan's preload it reports an error and exits 86)
    sh(("mkdir -p %s/sp/d && truncate -s 1M %s/sp/d/big"):format(tmp, tmp))
    local big = assert(io.open(tmp .. "/sp/d/big", "r+b"))
    assert(big:seek("set", 500000))
    assert(big:write("data"))
    big:close()
    sh(("tar -C %s/sp --sparse --format=posix -cf %s/sparse.tar d"):format(tmp, tmp))
    for _, name in ipairs({ "foreign.tar.gz", "sparse.tar" }) do
      local r = assert(layer.transform(tmp .. "/" .. name, function() end, { output = tmp .. "/out" }))
      local a, b = oracle(tmp .. "/" .. name), oracle(r.path)
      assert.are.equal(#a.members, #b.members)
      for i, m in ipairs(a.members) do
        local n = b.members[i]
        m.name = m.name:gsub("^%./", "")
        assert.are.same(m, n)
      end
      assert.are.equal(name == "sparse.tar" and "application/vnd.oci.image.layer.v1.tar"
        or "application/vnd.oci.image.layer.v1.tar+gzip", r.mediaType)
    end
    -- the sparse file stays sparse (GNU sparse 1.0 records)
    local sparse = out(("python3 -c \"import tarfile; t = tarfile.open('%s/out'); "
      .. "print(t.getmember('d/big').sparse is not None)\""):format(tmp))
    assert.are.equal("True\n", sparse)
  end)

  it("writes the layer builder's default format (threads auto), or the single-threaded one with threads 0", function()
    -- content over one 128 KiB parallel gzip block, so the formats differ
    local parts = {}
    for i = 1, 20000 do parts[i] = "layer words " .. i .. " " end
    local big = table.concat(parts)
    local function build(threads, name)
      return assert(layer.build{ output = tmp .. "/" .. name, threads = threads, mtime = 0,
        entries = { { path = "f", content = big } } })
    end
    local single, par = build(0, "single"), build(nil, "par")
    assert.are_not.equal(single.digest, par.digest)
    assert.are.equal(single.diff_id, par.diff_id)
    for _, c in ipairs({
      { "single", nil, par }, { "single", "auto", par }, { "single", 2, par }, { "par", 0, single },
    }) do
      local r = assert(layer.transform(tmp .. "/" .. c[1], nil, { output = tmp .. "/out", threads = c[2] }))
      assert.are.equal(c[3].digest, r.digest, c[1] .. " threads " .. tostring(c[2]))
      local o = oracle(r.path) -- python3's gzip and hashlib
      assert.are.same({ c[3].digest, c[3].diff_id }, { o.digest, o.diff_id })
    end
    fails('layer compression threads 65 out of range (0 to 64, or "auto")', "invalid",
      layer.transform(par.path, nil, { output = tmp .. "/bad", threads = 65 }))
    fails('layer.transform: threads "many" is neither "auto" nor a number of threads (0 to 64)', "invalid",
      layer.transform(par.path, nil, { output = tmp .. "/bad", threads = "many" }))
    assert.has_error(function() layer.transform(par.path, nil, { output = tmp .. "/bad", threads = {} }) end,
      'layer.transform: threads must be an integer or "auto", got table')
    assert.is_false(exists(tmp .. "/bad"))
    -- the command line's --threads
    local run = support.cli_runner(tmp, { prefix = "layer transform" })
    local stdout, stderr, status = run("--json --threads 0 par cli0")
    assert.are.equal(0, status, stderr)
    assert.are.equal(single.digest, oci.json.decode(stdout).digest)
    stdout, stderr, status = run("--json --threads auto single cliauto")
    assert.are.equal(0, status, stderr)
    assert.are.equal(par.digest, oci.json.decode(stdout).digest)
    local _
    _, stderr, status = run("--threads -1 par cli1")
    assert.are.equal(2, status)
    assert.truthy(stderr:find('--threads: an integer from 0 to 64 or auto expected, got "-1"', 1, true), stderr)
  end)

  it("works from the command line: ocispec layer transform", function()
    local run = support.cli_runner(tmp, { prefix = "layer transform" })
    local b = base("gzip")
    local f = assert(io.open(tmp .. "/s.lua", "w"))
    f:write('return function(e) if e.path == "etc/sl" then return { linkname = "elsewhere" } end end')
    f:close()
    f = assert(io.open(tmp .. "/extra", "w"))
    f:write("extra!")
    f:close()
    local stdout, stderr, status = run("--json --drop bin --rename etc/hostname=etc/name --chmod etc=700"
      .. " --add opt/extra=extra --script s.lua --uid 5 --compression zstd in out.zst")
    assert.are.equal(0, status, stderr)
    local res = oci.json.decode(stdout)
    local o = oracle(tmp .. "/out.zst")
    assert.are.same({ o.digest, o.diff_id, "application/vnd.oci.image.layer.v1.tar+zstd" },
      { res.digest, res.diff_id, res.mediaType })
    local m = by_name(o)
    assert.is_nil(m["bin"])
    assert.is_nil(m["bin/sh"])
    assert.are.same({ "box\n", 5 }, { m["etc/name"].content, m["etc/name"].uid })
    assert.are.equal("etc/name", m["etc/link"].linkname)
    assert.are.equal(448, m["etc"].mode)
    assert.are.equal("elsewhere", m["etc/sl"].linkname)
    assert.are.equal("extra!", m["opt/extra"].content)
    assert.are_not.equal(b.digest, o.digest)
    local _
    _, stderr, status = run("--drop etc/hostname in bad")
    assert.are.equal(2, status)
    assert.truthy(stderr:find('hardlink to "etc/hostname", which the callback dropped', 1, true), stderr)
    assert.is_false(exists(tmp .. "/bad"))
    _, stderr, status = run("--chmod etc=9 in bad")
    assert.are.equal(2, status)
    assert.truthy(stderr:find("MODE must be octal", 1, true), stderr)
  end)

  it("cleans the blob's names as the unpacker does and refuses '..'", function()
    local py = [[
import tarfile, io, sys
def add(t, name, data=b''):
  i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
  add(t, './a'); add(t, '/b')
with tarfile.open(sys.argv[2], 'w', format=tarfile.PAX_FORMAT) as t:
  add(t, 'ok'); add(t, 'x/../../evil')
]]
    local f = assert(io.open(tmp .. "/mk.py", "w"))
    f:write(py)
    f:close()
    sh(("python3 %s/mk.py %s/names.tar %s/evil.tar"):format(tmp, tmp, tmp))
    local names = {}
    local r = assert(layer.transform(tmp .. "/names.tar", function(e) names[#names + 1] = e.path end,
      { output = tmp .. "/o1" }))
    assert.are.same({ "a", "b" }, names)
    assert.are.equal("application/vnd.oci.image.layer.v1.tar", r.mediaType) -- the input's: none
    fails('"..\" would leave the root', "invalid",
      layer.transform(tmp .. "/evil.tar", nil, { output = tmp .. "/o2" }))
    assert.is_false(exists(tmp .. "/o2"))
  end)

  it("refuses bad paths, type changes, duplicates and links to dropped entries, naming them", function()
    local b = base("gzip")
    local o = tmp .. "/o"
    local function try(fn, opts)
      opts = opts or {}
      opts.output = o
      return layer.transform(b.path, fn, opts)
    end
    fails('path escapes the layer root ("..")', "invalid",
      try(function(e) if e.path == "bin/sh" then return { path = "../x" } end end))
    fails("path is absolute", "invalid",
      try(function(e) if e.path == "bin/sh" then return { path = "/x" } end end))
    fails("holds a NUL byte", "invalid",
      try(function(e) if e.path == "bin/sh" then return { path = "a\0b" } end end))
    fails("path names the layer root", "invalid",
      try(function(e) if e.path == "bin/sh" then return { path = "./" } end end))
    fails("the type of an entry cannot change (file to dir)", "invalid",
      try(function(e) if e.path == "bin/sh" then return { type = "dir" } end end))
    fails('entry "etc/hostname": the output has an entry of that path already', "invalid",
      try(function(e) if e.path == "bin/sh" then return { path = "etc/hostname" } end end))
    fails('hardlink to "etc/hostname", which the callback dropped', "invalid",
      try(function(e) if e.path == "etc/hostname" then return false end end))
    fails('a dir has no content', "invalid",
      try(function(e) if e.path == "bin" then return { content = "x" } end end))
    fails('hardlink target "nope" is not an entry written before it', "invalid",
      try(function(e, add) if e.path == "bin" then add{ path = "l", type = "hardlink", linkname = "nope" } end end))
    assert.is_false(exists(o)) -- no failure left an output
    local got
    assert(try(function(e) if e.path == "bin" then got = table.pack(e:read()) end end))
    fails('entry "bin" is not a regular file: it has no content to read', "invalid", table.unpack(got, 1, 3))
    assert(try(function(e) if e.path == "bin/sh" then got = table.pack(e:read()) end end, { max_read = 3 }))
    fails('entry "bin/sh": 7 bytes, more than 3 (limit max_read)', "too_big", table.unpack(got, 1, 3))
    fails("more than 2 entries (limit max_entries)", "too_big", try(nil, { max_entries = 2 }))
    os.remove(o)
    fails("xattr name", "invalid",
      try(function(e) if e.path == "bin/sh" then return { xattrs = { [("n"):rep(300)] = "v" } } end end))
    fails("unknown layer compression", "invalid", try(nil, { compression = "lz4" }))
    -- the level range is layer.build's (ocil_layer_level)
    fails("layer compression level 0 is out of range (gzip 1 to 9, zstd 1 to 19)", "invalid", try(nil, { level = 0 }))
    fails("layer compression level 100 is out of range", "invalid", try(nil, { level = 100 }))
    fails('entry "dev/x": device 4096:1 out of range', "invalid",
      try(function(e, add)
        if e.path == "bin" then add{ path = "dev/x", type = "char", major = 4096, minor = 1 } end
      end))
    assert.is_false(exists(o))
    -- misuse raises, and the callback's own errors come back as raised
    assert.has_error(function() try(function() return 42 end) end,
      "layer.transform: the callback must return nil, true, false or a table, got number")
    assert.has_error(function() try(function() return { bogus = 1 } end) end,
      'layer.transform: the result: unknown option "bogus"')
    assert.has_error(function() try(function() return { mode = "x" } end) end,
      "layer.transform: the result: mode must be an integer, got string")
    assert.has_error(function() try(function() error("boom", 0) end) end, "boom")
    assert.has_error(function()
      try(function(e) if e.path == "bin/sh" then return { content = function() error("inner", 0) end } end end)
    end, "inner")
    assert.has_error(function() layer.transform(b.path, nil, { output = o, bogus = 1 }) end,
      'layer.transform: unknown option "bogus"')
    -- a path with a NUL byte is refused, not cut short (as layer.build's)
    assert.has_error(function() layer.transform(b.path, nil, { output = o .. "\0.evil" }) end,
      "layer.transform: output holds a NUL byte")
    assert.has_error(function() layer.transform(b.path .. "\0x", nil, { output = o }) end,
      "layer.transform: input holds a NUL byte")
    local keep_add
    assert(try(function(_, add) keep_add = add end))
    assert.has_error(function() keep_add{ path = "late" } end,
      "layer.transform: add() called after its callback returned")
    assert.is_true(exists(o))
    fails("cannot open", "io", layer.transform(tmp .. "/none", nil, { output = o }))
    local f = assert(io.open(tmp .. "/junk", "wb"))
    f:write(("junk"):rep(300))
    f:close()
    fails("not a layer", "invalid", layer.transform(tmp .. "/junk", nil, { output = o }))
  end)
end)
