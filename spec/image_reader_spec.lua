-- Reading an image's files without unpacking it (ocispec.reader): layers
-- newest first, whiteouts and opaque whiteouts, symbolic links inside the
-- image, early stop, digests checked, hostile names refused, and umoci's
-- unpacked tree as the oracle. Layers are written with Python's tarfile.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local MAKE_TAR = [[
import json, sys, tarfile, io
out, entries = sys.argv[1], json.load(sys.stdin)
types = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
         "link": tarfile.LNKTYPE}
with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as t:
    for e in entries:
        i = tarfile.TarInfo(e["name"])
        i.type = types[e.get("type", "file")]
        i.mode = e.get("mode", 0o755 if i.type == tarfile.DIRTYPE else 0o644)
        i.mtime = 1704067200
        i.linkname = e.get("target", "")
        data = e.get("data", "").encode()
        i.size = len(data) if i.type == tarfile.REGTYPE else 0
        t.addfile(i, io.BytesIO(data) if i.size else None)
]]

local tmp

local function layer(name, entries)
  local path = tmp .. "/" .. name
  support.write(tmp .. "/make_tar.py", MAKE_TAR)
  support.write(path .. ".json", oci.json.encode(entries))
  assert(os.execute(("python3 %s %s < %s"):format(quote(tmp .. "/make_tar.py"), quote(path),
    quote(path .. ".json"))))
  return path
end

-- A layout at dir, tag "t", with these layer blobs (bottom first).
local function make_image(dir, blobs)
  local L = assert(oci.layout.create(dir))
  local layers, ids = {}, {}
  for i, b in ipairs(blobs) do
    layers[i] = assert(L:put_blob_file(b, oci.image.MediaType.ImageLayerGzip))
    local p = io.popen(("python3 -c 'import sys,gzip,hashlib;"
      .. "print(hashlib.sha256(gzip.decompress(open(sys.argv[1],\"rb\").read())).hexdigest())' %s")
      :format(quote(b)))
    ids[i] = "sha256:" .. p:read("l")
    p:close()
  end
  local cfg = assert(L:put_blob(oci.json.encode({ architecture = oci.core.host_arch, os = "linux",
    rootfs = { type = "layers", diff_ids = ids } }), oci.image.MediaType.ImageConfig))
  local m = assert(oci.image.ImageManifestBuilder():schema_version(2)
    :media_type(oci.image.MediaType.ImageManifest):config(cfg):layers(layers):build())
  local md = assert(L:put_document(m))
  assert(L:tag(md, "t"))
  return L, layers
end

describe("image reader", function()
  local L, img
  setup(function()
    tmp = support.tmpdir()
    local base = layer("base", {
      { name = "etc/", type = "dir" }, { name = "etc/a", data = "A0" }, { name = "etc/b", data = "B0" },
      { name = "usr/", type = "dir" }, { name = "usr/bin/", type = "dir" },
      { name = "usr/bin/sh", data = "shell", mode = 493 },
      { name = "usr/bin/ls", type = "link", target = "usr/bin/sh" },
      { name = "bin", type = "symlink", target = "usr/bin" },
      { name = "esc", type = "symlink", target = "../../../etc" },
      { name = "loop1", type = "symlink", target = "loop2" },
      { name = "loop2", type = "symlink", target = "/loop1" },
      { name = "opt/", type = "dir" }, { name = "opt/x", data = "X" },
      { name = "var/", type = "dir" }, { name = "var/gone/", type = "dir" }, { name = "var/gone/f", data = "F" },
    })
    local mid = layer("mid", {
      { name = "etc/", type = "dir" }, { name = "etc/.wh.b" }, { name = "etc/c", data = "C1" },
      { name = "var/", type = "dir" }, { name = "var/.wh.gone" },
      { name = "deep/a/b/c", data = "implied parents" },
    })
    local top = layer("top", {
      { name = "etc/", type = "dir" }, { name = "etc/a", data = "A2", mode = 384 },
      { name = "opt/", type = "dir" }, { name = "opt/.wh..wh..opq" }, { name = "opt/y", data = "Y" },
    })
    L = make_image(tmp .. "/img", { base, mid, top })
    img = assert(oci.image_reader(L, "t"))
  end)
  teardown(function()
    if img then img:close() end
    support.rmdir(tmp)
  end)

  it("reads a file of the top layer from the top layer only", function()
    local before = img:layers_read()
    assert.equal("A2", assert(img:read("/etc/a")))
    assert.equal(1, img:layers_read() - before)
    local e = assert(img:stat("etc/a"))
    assert.same({ "etc/a", "file", 384, 3, 2 }, { e.path, e.type, e.mode, e.layer, e.size })
  end)

  it("reads lower layers only as far as needed", function()
    local before = img:layers_read()
    assert.equal("C1", assert(img:read("/etc/c")))
    assert.equal(2, img:layers_read() - before)
    assert.equal("X", (img:stat("/opt/y") and "X")) -- exists
  end)

  it("honours whiteouts and opaque whiteouts", function()
    local _, msg, err = img:stat("/etc/b")
    assert.matches("/etc/b: no such file or directory", msg, 1, true)
    assert.equal("io", err.code)
    _, msg = img:read("/var/gone/f")
    assert.matches("/var/gone: no such file or directory", msg, 1, true)
    _, msg = img:stat("/opt/x")
    assert.matches("no such file or directory", msg, 1, true)
    local names = {}
    for _, e in ipairs(assert(img:list("/opt"))) do names[#names + 1] = e.path end
    assert.same({ "opt/y" }, names)
    names = {}
    for _, e in ipairs(assert(img:list("/etc"))) do names[#names + 1] = e.path .. ":" .. e.type end
    assert.same({ "etc/a:file", "etc/c:file" }, names)
    assert.same({}, assert(img:list("/var")))
  end)

  it("lists the root and implied directories", function()
    local names = {}
    for _, e in ipairs(assert(img:list("/"))) do names[#names + 1] = e.path end
    assert.same({ "bin", "deep", "esc", "etc", "loop1", "loop2", "opt", "usr", "var" }, names)
    local d = assert(img:stat("/deep/a/b"))
    assert.same({ "dir", 493 }, { d.type, d.mode })
    assert.is_nil(d.layer)
    assert.equal("implied parents", assert(img:read("deep/a/b/c")))
  end)

  it("follows symbolic links inside the image, hard links to their target", function()
    assert.equal("shell", assert(img:read("/bin/sh")))
    assert.equal("symlink", assert(img:lstat("/bin")).type)
    assert.equal("usr/bin", assert(img:stat("/bin")).path)
    assert.equal("shell", assert(img:read("/bin/ls")))
    assert.equal("hardlink", assert(img:lstat("/usr/bin/ls")).type)
    -- "../../../etc" stops at the image's root
    assert.equal("A2", assert(img:read("/esc/a")))
    local _, msg, err = img:read("/loop1")
    assert.matches("more than 40 symbolic links", msg, 1, true)
    assert.equal("invalid", err.code)
    _, msg = img:read("/etc")
    assert.matches("not a regular file", msg, 1, true)
    _, msg = img:list("/etc/a")
    assert.matches("not a directory", msg, 1, true)
    _, msg = img:stat("/etc/a/x")
    assert.matches("/etc/a: not a directory", msg, 1, true)
  end)

  it("raises on an unknown option and limits what read returns", function()
    support.assert_raises({ 'unknown option "nope"' }, oci.image_reader, L, "t", { nope = 1 })
    local small = assert(oci.image_reader(L, "t", { max_read = 1 }))
    local _, msg, err = small:read("/etc/a")
    assert.matches("limit max_read", msg, 1, true)
    assert.equal("too_big", err.code)
    small:close()
  end)

  it("checks each layer's digest before answering from it", function()
    local dir = tmp .. "/bad"
    local L2, layers = make_image(dir, { layer("b1", { { name = "f", data = "aaaa" } }) })
    local blob = dir .. "/blobs/sha256/" .. layers[1]:digest():sub(8)
    local r = assert(oci.image_reader(L2, "t"))
    -- the gzip header's mtime changed: the same files, other bytes
    local good = support.read(blob)
    local bytes = good:sub(1, 4) .. string.char((good:byte(5) + 1) % 256) .. good:sub(6)
    support.write(blob, bytes)
    local _, msg, err = r:read("/f")
    assert.matches("digest mismatch", msg, 1, true)
    assert.equal("mismatch", err.code)
    support.write(blob, bytes .. "x")
    _, msg, err = r:read("/f")
    assert.matches("size mismatch", msg, 1, true)
    assert.equal("mismatch", err.code)
    r:close()
    L2:close()
  end)

  it("refuses a name that leaves the root, as the unpacker does", function()
    local L3 = make_image(tmp .. "/hostile", { layer("h", { { name = "../x", data = "out" } }) })
    local r = assert(oci.image_reader(L3, "t"))
    local _, msg, err = r:stat("/x")
    assert.matches('".." would leave the root file system', msg, 1, true)
    assert.equal("invalid", err.code)
    r:close()
    L3:close()
  end)

  it("refuses to guess where an entry below a lower layer's symbolic link went", function()
    local L4 = make_image(tmp .. "/through", {
      layer("t1", { { name = "real/", type = "dir" }, { name = "lnk", type = "symlink", target = "real" } }),
      layer("t2", { { name = "lnk/x", data = "via link" } }),
    })
    local r = assert(oci.image_reader(L4, "t"))
    local _, msg, err = r:read("/lnk/x")
    assert.matches("/lnk: a layer writes below this path, which a lower layer made a symbolic link", msg, 1, true)
    assert.equal("unsupported", err.code)
    r:close()
    L4:close()
  end)

  it("works from the command line: ocispec fs cat, ls, stat", function()
    local cli = require("ocispec.cli")
    local function run(...)
      local buf = {}
      local out = { write = function(self, ...)
        for _, v in ipairs({ ... }) do buf[#buf + 1] = v end
        return self
      end }
      local status = cli.main({ ... }, out)
      return table.concat(buf), status
    end
    local ref = tmp .. "/img:t"
    assert.same({ "A2", 0 }, { run("fs", "cat", ref, "/etc/a") })
    assert.same({ "file     0600 0:0          2 /etc/a\nfile     0644 0:0          2 /etc/c\n", 0 },
      { run("fs", "ls", ref, "/etc") })
    local text, status = run("fs", "ls", "--json", ref, "/opt")
    assert.equal(0, status)
    assert.equal("opt/y", oci.json.decode(text)[1].path)
    assert.same({ "symlink  0644 0:0          0 /bin -> usr/bin\n", 0 },
      { run("fs", "stat", "--no-follow", ref, "/bin") })
    local j = oci.json.decode((run("fs", "stat", "--json", ref, "/bin")))
    assert.same({ "usr/bin", "dir", 1 }, { j.path, j.type, j.layer })
    assert.same({ "", 1 }, { run("fs", "cat", ref, "/etc/b") })
    assert.same({ "", 2 }, { run("fs", "frob", ref, "/etc/b") })
  end)

  it("fs and unpack take transport references: archives skopeo wrote, oci:", function()
    if not os.execute("command -v skopeo >/dev/null 2>&1") then return pending("skopeo is not installed") end
    local cli = require("ocispec.cli")
    local function run(...)
      local buf = {}
      local out = { write = function(self, ...)
        for _, v in ipairs({ ... }) do buf[#buf + 1] = v end
        return self
      end }
      local status = cli.main({ ... }, out)
      return table.concat(buf), status
    end
    -- the peer writes the archives from the layout image
    local oa, da = tmp .. "/img.oci.tar", tmp .. "/img.docker.tar"
    for _, dst in ipairs({ "oci-archive:" .. oa .. ":t", "docker-archive:" .. da .. ":img:t" }) do
      assert(os.execute(("skopeo copy -q oci:%s:t %s >/dev/null 2>&1"):format(quote(tmp .. "/img"), quote(dst))), dst)
    end
    for _, ref in ipairs({ "oci:" .. tmp .. "/img:t", "oci-archive:" .. oa .. ":t", "docker-archive:" .. da }) do
      assert.same({ "A2", 0 }, { run("fs", "cat", ref, "/etc/a") }, ref)
      assert.same({ "file     0600 0:0          2 /etc/a\nfile     0644 0:0          2 /etc/c\n", 0 },
        { run("fs", "ls", ref, "/etc") }, ref)
      assert.same({ "", 1 }, { run("fs", "cat", ref, "/etc/b") }, ref)
    end
    local bundle = tmp .. "/from-archive"
    assert.same({ bundle .. "\n", 0 }, { run("unpack", "--rootless", "docker-archive:" .. da, bundle) })
    assert.equal("A2", support.read(bundle .. "/rootfs/etc/a"))
    assert.is_nil(support.read(bundle .. "/rootfs/etc/b")) -- whited out
    assert.truthy(support.read(bundle .. "/config.json"))
    -- a missing archive or a bad reference: status 2, nothing unpacked
    assert.same({ "", 2 }, { run("fs", "cat", "oci-archive:" .. tmp .. "/none.tar", "/etc/a") })
    assert.same({ "", 2 }, { run("unpack", "docker-archive:" .. tmp .. "/none.tar", tmp .. "/b2") })
    assert.is_nil(support.read(tmp .. "/b2/config.json"))
    assert.same({ "", 2 }, { run("fs", "cat", "--tls-verify", "maybe", "docker://h/r:t", "/x") })
    -- the same from Lua: oci.image_reader(reference), oci.unpack.image(reference, bundle)
    local r = assert(oci.image_reader("docker-archive:" .. da, { max_read = 1024 }))
    assert.equal("A2", assert(r:read("/etc/a")))
    r:close()
    assert(oci.unpack.image("oci-archive:" .. oa .. ":t", tmp .. "/lua-bundle", { rootless = true }))
    assert.equal("A2", support.read(tmp .. "/lua-bundle/rootfs/etc/a"))
    local none, msg, err = oci.image_reader("oci-archive:" .. tmp .. "/none.tar")
    assert.is_nil(none)
    assert.truthy(msg:find("none.tar", 1, true), msg)
    assert.equal("io", err.code)
    assert.error_matches(function() oci.unpack.image("oci:" .. tmp .. "/img:t", tmp .. "/b3", { frob = 1 }) end,
      'unknown option "frob"', nil, true)
  end)

  -- The tree of image dir:t as umoci unpacks it (python walks it) and as
  -- the reader lists and reads it.
  local function compare_with_umoci(dir, r)
    local bundle = dir .. ".bundle"
    assert(os.execute(("umoci unpack --rootless --image %s:t %s >/dev/null 2>&1")
      :format(quote(dir), quote(bundle))))
    local p = io.popen(("cd %s/rootfs && python3 -c '%s'"):format(quote(bundle), [[
import os
for root, dirs, files in os.walk("."):
    for n in sorted(dirs + files):
        p = os.path.join(root, n)[2:]
        if os.path.islink(p): print(p, "symlink", os.readlink(p))
        elif os.path.isdir(p): print(p, "dir", "")
        else: print(p, "file", open(p).read())
]]))
    local want = {}
    for line in p:lines() do want[#want + 1] = line end
    p:close()
    table.sort(want)
    local got = {}
    local function walk(d)
      for _, e in ipairs(assert(r:list(d))) do
        if e.type == "dir" then
          got[#got + 1] = e.path .. " dir "
          walk("/" .. e.path)
        elseif e.type == "symlink" then
          got[#got + 1] = e.path .. " symlink " .. e.target
        else
          got[#got + 1] = e.path .. " file " .. assert(r:read("/" .. e.path))
        end
      end
    end
    walk("/")
    table.sort(got)
    assert.same(want, got)
  end

  it("agrees with umoci's unpacked tree", function()
    if not io.popen("command -v umoci"):read("l") then
      pending("umoci is not installed")
      return
    end
    compare_with_umoci(tmp .. "/img", img)
    -- replacements both ways, a directory whited out and made again in the
    -- same layer, an opaque directory whose layer writes into it
    local L5 = make_image(tmp .. "/swap", {
      layer("s1", { { name = "d/", type = "dir" }, { name = "d/f", data = "1" }, { name = "f", data = "2" },
        { name = "w/", type = "dir" }, { name = "w/old", data = "3" }, { name = "o/", type = "dir" },
        { name = "o/old", data = "4" }, { name = "o/sub/", type = "dir" }, { name = "o/sub/k", data = "5" } }),
      layer("s2", { { name = "d", data = "now a file" }, { name = "f/", type = "dir" }, { name = "f/in", data = "6" },
        { name = "w/new", data = "7" }, { name = ".wh.w" }, { name = "o/.wh..wh..opq" },
        { name = "o/sub/", type = "dir" }, { name = "o/sub/n", data = "8" } }),
    })
    local r = assert(oci.image_reader(L5, "t"))
    compare_with_umoci(tmp .. "/swap", r)
    r:close()
    L5:close()
  end)
end)
