-- Applying layers (ocispec.unpack): changesets with whiteouts and opaque
-- whiteouts (image-spec layer.md), digests checked while reading, and
-- hostile layers that try to leave the root file system. Test layers are
-- written with Python's tarfile so that any entry (even a hostile one)
-- can be made without privileges.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")
local unpack = oci.unpack

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Python that writes a tar from JSON entries:
-- {name, type = file|dir|symlink|link|char|fifo, data, target, mode}
local MAKE_TAR = [[
import json, sys, tarfile, io
out, mode, entries = sys.argv[1], sys.argv[2], json.load(sys.stdin)
types = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
         "link": tarfile.LNKTYPE, "char": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}
with tarfile.open(out, mode, format=tarfile.PAX_FORMAT) as t:
    for e in entries:
        i = tarfile.TarInfo(e["name"])
        i.type = types[e.get("type", "file")]
        i.mode = e.get("mode", 0o755 if i.type == tarfile.DIRTYPE else 0o644)
        i.mtime = 1704067200
        i.linkname = e.get("target", "")
        i.devmajor, i.devminor = e.get("major", 0), e.get("minor", 0)
        data = e.get("data", "").encode()
        i.size = len(data) if i.type == tarfile.REGTYPE else 0
        t.addfile(i, io.BytesIO(data) if i.size else None)
]]

local tmp

-- Writes a layer blob from entries; compression "gz" (default), "" or
-- "zstd" (tar piped through zstd).
local function layer(name, entries, compression)
  compression = compression or "gz"
  local path = tmp .. "/" .. name
  local script = tmp .. "/make_tar.py"
  local f = assert(io.open(script, "wb"))
  f:write(MAKE_TAR)
  f:close()
  local json = tmp .. "/" .. name .. ".json"
  f = assert(io.open(json, "wb"))
  f:write(oci.json.encode(entries))
  f:close()
  local tar_mode = compression == "gz" and "w:gz" or "w"
  local target = compression == "zstd" and path .. ".tar" or path
  assert(os.execute(("python3 %s %s %s < %s"):format(quote(script), quote(target), tar_mode, quote(json))))
  if compression == "zstd" then
    assert(os.execute(("zstd -q -f --rm %s -o %s"):format(quote(target), quote(path))))
  end
  return path
end

local read = support.read

local function exists(path)
  return os.rename(path, path) == true
end

describe("unpack.layer", function()
  local rootfs
  before_each(function()
    tmp = support.tmpdir()
    rootfs = tmp .. "/rootfs"
    assert(os.execute("mkdir " .. quote(rootfs)))
  end)
  after_each(function() support.rmdir(tmp) end)

  it("creates files, directories, symlinks and hardlinks", function()
    local blob = layer("l1", {
      { name = "etc", type = "dir" },
      { name = "etc/hostname", data = "box\n", mode = 420 },
      { name = "bin", type = "dir" },
      { name = "bin/tool", data = "#!/bin/sh\n", mode = 493 },
      { name = "bin/alias", type = "symlink", target = "tool" },
      { name = "bin/hard", type = "link", target = "bin/tool" },
      { name = "./run/", type = "dir", mode = 448 },
    })
    local st = assert(unpack.layer(blob, rootfs))
    assert.are.equal(7, st.entries)
    assert.are.equal("box\n", read(rootfs .. "/etc/hostname"))
    assert.are.equal("#!/bin/sh\n", read(rootfs .. "/bin/hard"))
    assert.are.equal("#!/bin/sh\n", read(rootfs .. "/bin/alias"))
    local p = io.popen("stat -c '%a %h' " .. quote(rootfs .. "/bin/tool") .. " " .. quote(rootfs .. "/run"))
    local modes = p:read("a")
    p:close()
    assert.are.equal("755 2\n700 2\n", modes)
  end)

  it("applies whiteouts and opaque whiteouts to lower layers only", function()
    assert(unpack.layer(layer("lower", {
      { name = "a", type = "dir" },
      { name = "a/x", data = "x" }, { name = "a/y", data = "y" },
      { name = "o", type = "dir" },
      { name = "o/old1", data = "1" }, { name = "o/sub", type = "dir" }, { name = "o/sub/old2", data = "2" },
      { name = "gone", type = "dir" }, { name = "gone/deep", data = "d" },
    }), rootfs))
    local st = assert(unpack.layer(layer("upper", {
      { name = "a/.wh.x" },
      { name = ".wh.gone" },
      -- the same layer's new entry before the opaque marker survives it
      { name = "o/new", data = "n" },
      { name = "o/.wh..wh..opq" },
      { name = "o/newer", data = "m" },
      -- a whiteout of something this layer wrote spares it
      { name = "fresh", data = "f" },
      { name = ".wh.fresh" },
    }), rootfs))
    assert.are.equal(3, st.whiteouts)
    assert.are.equal(1, st.opaque_dirs)
    assert.is_false(exists(rootfs .. "/a/x"))
    assert.are.equal("y", read(rootfs .. "/a/y"))
    assert.is_false(exists(rootfs .. "/gone"))
    assert.is_false(exists(rootfs .. "/o/old1"))
    assert.is_false(exists(rootfs .. "/o/sub"))
    assert.are.equal("n", read(rootfs .. "/o/new"))
    assert.are.equal("m", read(rootfs .. "/o/newer"))
    assert.are.equal("f", read(rootfs .. "/fresh"))
    -- whiteout files themselves are never created
    assert.is_false(exists(rootfs .. "/a/.wh.x"))
    assert.is_false(exists(rootfs .. "/o/.wh..wh..opq"))
  end)

  it("reads uncompressed and zstd layers", function()
    assert(unpack.layer(layer("plain", { { name = "p", data = "plain" } }, ""), rootfs))
    assert(unpack.layer(layer("z", { { name = "z", data = "zstd" } }, "zstd"), rootfs))
    assert.are.equal("plain", read(rootfs .. "/p"))
    assert.are.equal("zstd", read(rootfs .. "/z"))
  end)

  it("checks the blob digest while reading", function()
    local blob = layer("d", { { name = "f", data = "content" } })
    local digest = assert(oci.digest.file(blob))
    assert(unpack.layer(blob, rootfs, { digest = digest }))
    local wrong = "sha256:" .. ("0"):rep(64)
    local ok, msg, code = unpack.layer(blob, tmp .. "/rootfs", { digest = wrong })
    assert.is_nil(ok)
    assert.are.equal("mismatch", code)
    assert.truthy(msg:find(wrong, 1, true), msg)
    ok, msg, code = unpack.layer(blob, rootfs, { digest = "sha256:nothex" })
    assert.is_nil(ok)
    assert.are.equal("invalid", code)
    assert.truthy(msg:find("sha256:nothex", 1, true), msg)
  end)

  it("refuses entries that leave the root file system", function()
    local outside = tmp .. "/outside"
    assert(os.execute("mkdir " .. quote(outside)))
    local cases = {
      { { name = "../evil", data = "x" } },
      { { name = "a/../../evil", data = "x" } },
      { { name = "link", type = "symlink", target = outside }, { name = "link/evil", data = "x" } },
      { { name = "h", type = "link", target = "../../etc/passwd" } },
      { { name = "link", type = "symlink", target = outside }, { name = "link/.wh.victim" } },
    }
    local f = assert(io.open(outside .. "/victim", "wb"))
    f:write("keep")
    f:close()
    for i, entries in ipairs(cases) do
      local root = tmp .. "/r" .. i
      assert(os.execute("mkdir " .. quote(root)))
      local ok, msg = unpack.layer(layer("bad" .. i, entries), root)
      assert.is_nil(ok, "case " .. i)
      assert.truthy(msg:find("layer entry", 1, true) or msg:find("symbolic link", 1, true), msg)
    end
    assert.is_false(exists(tmp .. "/evil"))
    assert.is_false(exists(outside .. "/evil"))
    assert.are.equal("keep", read(outside .. "/victim"))
    -- an absolute path is taken relative to the root (layer.md: paths are
    -- relative to the changeset's root)
    assert(unpack.layer(layer("abs", { { name = "/etc/abs", data = "in" } }), rootfs))
    assert.are.equal("in", read(rootfs .. "/etc/abs"))
  end)

  it("skips device nodes when rootless, and counts them", function()
    local blob = layer("dev", { { name = "null", type = "char", major = 1, minor = 3 }, { name = "f", data = "x" } })
    local st = assert(unpack.layer(blob, rootfs, { rootless = true }))
    assert.are.equal(1, st.skipped)
    assert.is_false(exists(rootfs .. "/null"))
    assert.are.equal("x", read(rootfs .. "/f"))
  end)

  it("reports what is not a layer, and missing inputs", function()
    local junk = tmp .. "/junk"
    local f = assert(io.open(junk, "wb"))
    f:write(("\1\2\3garbage"):rep(100))
    f:close()
    local ok, msg = unpack.layer(junk, rootfs)
    assert.is_nil(ok)
    assert.truthy(msg:find("not a layer", 1, true), msg)
    ok, msg = unpack.layer(tmp .. "/missing", rootfs)
    assert.is_nil(ok)
    assert.truthy(msg:find("missing", 1, true), msg)
    ok, msg = unpack.layer(junk, tmp .. "/no-rootfs")
    assert.is_nil(ok)
    assert.truthy(msg:find("no-rootfs", 1, true), msg)
  end)
end)
