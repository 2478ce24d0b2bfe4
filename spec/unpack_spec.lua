-- Applying layers (ocispec.unpack): changesets with whiteouts and opaque
-- whiteouts (image-spec layer.md), digests checked while reading, and
-- hostile layers that try to leave the root file system. Test layers are
-- written with Python's tarfile so that any entry (even a hostile one)
-- can be made without privileges.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")
local unpack = oci.unpack

local quote = support.quote

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
        data = e.get("data", "").encode() + b"\0" * e.get("zeros", 0)
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

local sh = support.sh

-- Paths, types, link targets, sizes and modes of a tree (find -printf),
-- and file contents by sha256sum: what two unpackers must agree on.
local function tree(root)
  local out = sh(("cd %s && find . -mindepth 1 -printf '%%P %%y %%l %%s %%m %%n\n' | sort"
    .. " && find . -type f -exec sha256sum {} + | sort -k2"):format(quote(root)))
  -- directory sizes depend on the file system, not on the unpacker
  return (out:gsub("(%S+ d  )%d+", "%1-"))
end

-- The uncompressed tar stream's sha256 (a layer's diff_id), by Python.
local function diff_id(blob)
  return "sha256:" .. sh(("python3 -c 'import sys,gzip,hashlib;"
    .. "d=open(sys.argv[1],\"rb\").read();d=gzip.decompress(d) if d[:2]==b\"\\x1f\\x8b\" else d;"
    .. "print(hashlib.sha256(d).hexdigest())' %s"):format(quote(blob))):sub(1, 64)
end

-- An OCI image layout at dir, tag "t", with these layer blobs; diff_ids
-- (default: the real ones) go into the config.
local function make_image(dir, blobs, diff_ids)
  assert(os.execute(("mkdir -p %s/blobs/sha256"):format(quote(dir))))
  local function put(path)
    local d = assert(oci.digest.file(path))
    local size = #read(path)
    assert(os.execute(("cp %s %s/blobs/sha256/%s"):format(quote(path), quote(dir), d:sub(8))))
    return d, size
  end
  local function put_string(s)
    local p = dir .. "/tmp-blob"
    support.write(p, s)
    local d, size = put(p)
    os.remove(p)
    return d, size
  end
  local layers, ids = {}, {}
  for i, b in ipairs(blobs) do
    local d, size = put(b)
    layers[i] = { mediaType = "application/vnd.oci.image.layer.v1.tar+gzip", digest = d, size = size }
    ids[i] = diff_id(b)
  end
  local cd, cs = put_string(oci.json.encode({ architecture = "amd64", os = "linux",
    rootfs = { type = "layers", diff_ids = diff_ids or ids }, config = { Cmd = { "/bin/sh" } } }))
  local md, ms = put_string(oci.json.encode({ schemaVersion = 2,
    mediaType = "application/vnd.oci.image.manifest.v1+json",
    config = { mediaType = "application/vnd.oci.image.config.v1+json", digest = cd, size = cs },
    layers = layers }))
  support.write(dir .. "/index.json", oci.json.encode({ schemaVersion = 2, manifests = { {
    mediaType = "application/vnd.oci.image.manifest.v1+json",
    digest = md, size = ms, annotations = { ["org.opencontainers.image.ref.name"] = "t" } } } }))
  support.write(dir .. "/oci-layout", '{"imageLayoutVersion":"1.0.0"}')
  return layers
end

local function has(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true
end

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
    assert.are.equal("mismatch", code.code)
    assert.truthy(msg:find(wrong, 1, true), msg)
    ok, msg, code = unpack.layer(blob, rootfs, { digest = "sha256:nothex" })
    assert.is_nil(ok)
    assert.are.equal("invalid", code.code)
    assert.truthy(msg:find("sha256:nothex", 1, true), msg)
  end)

  it("refuses entries that leave the root file system", function()
    local outside = tmp .. "/outside"
    assert(os.execute("mkdir " .. quote(outside)))
    local cases = {
      { { name = "../evil", data = "x" } },
      { { name = "a/../../evil", data = "x" } },
      { { name = "h", type = "link", target = "../../etc/passwd" } },
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
    -- through a symbolic link to a directory outside: resolved inside the
    -- root (the link's absolute target is relative to it), never out
    local root = tmp .. "/through"
    assert(os.execute("mkdir " .. quote(root)))
    assert(unpack.layer(layer("via", { { name = "link", type = "symlink", target = outside },
      { name = "link/evil", data = "x" }, { name = "link/.wh.victim" } }), root))
    assert.are.equal("x", read(root .. outside .. "/evil"))
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

-- issue 13: hostile and unusual layers, each case failing before its fix.
-- Every hostile case runs twice: with two passes (verify, then apply) and
-- with one_pass (applied as read: what bundles, RUN steps, copy_from and
-- flatten use). The rules hold for every byte either way; only what a
-- layer refused at its end leaves differs (one_pass: the entries before,
-- in a tree the caller throws away). The path walks' cost (the 2000-deep
-- trees) is the same code either way: timed with two passes only.
for _, ONE in ipairs({ false, true }) do
describe("unpack.layer against hostile layers" .. (ONE and " (one_pass)" or ""), function()
  local unpack = setmetatable({ layer = function(blob, root, opts) -- luacheck: ignore 431
    local o = {}
    for k, v in pairs(opts or {}) do o[k] = v end
    if o.one_pass == nil then o.one_pass = ONE end
    return oci.unpack.layer(blob, root, o)
  end }, { __index = oci.unpack })
  local rootfs
  before_each(function()
    tmp = support.tmpdir()
    rootfs = tmp .. "/rootfs"
    assert(os.execute("mkdir " .. quote(rootfs)))
  end)
  after_each(function() support.rmdir(tmp) end)

  local function fails(blob, root, want, opts)
    local ok, msg, code = unpack.layer(blob, root, opts)
    assert.is_nil(ok, "applied, expected: " .. want)
    assert.truthy(msg:find(want, 1, true), msg)
    return msg, code
  end

  it("refuses whiteouts of '..', '.' and '' before writing anything", function()
    -- a sentinel beside the rootfs: `.wh...` at the layer root used to
    -- delete the rootfs's parent (tmp) with everything in it
    support.write(tmp .. "/sentinel", "keep")
    support.write(rootfs .. "/inside", "keep")
    for i, name in ipairs({ ".wh...", ".wh..", ".wh.", "a/.wh...", "./a/.wh..", "a/.wh." }) do
      local blob = layer("wh" .. i, { { name = "early", data = "x" }, { name = "a", type = "dir" }, { name = name } })
      local _, code = fails(blob, rootfs, ('layer entry "%s": whiteout of'):format(name))
      assert.are.equal("invalid", code.code)
    end
    assert.are.equal("keep", read(tmp .. "/sentinel"))
    assert.are.equal("keep", read(rootfs .. "/inside"))
    -- pass 1 refused the layer: not even the entries before the bad one
    if not ONE then
      assert.is_false(exists(rootfs .. "/early"))
      assert.is_false(exists(rootfs .. "/a"))
    end
  end)

  it("refuses '..' in names and hard link targets", function()
    support.write(tmp .. "/x", "x")
    fails(layer("h1", { { name = "h", type = "link", target = "../x" } }), rootfs, '"..\" would leave')
    fails(layer("h2", { { name = "d/../../x", data = "x" } }), rootfs, '"..\" would leave')
    -- the layer's control characters never reach a terminal
    local msg = fails(layer("h3", { { name = "\27]0;owned\7/../x", data = "x" } }), rootfs, '"..\" would leave')
    assert.truthy(msg:find('layer entry "\\x1b]0;owned\\x07/../x"', 1, true), msg)
    assert.are.equal("x", read(tmp .. "/x"))
  end)

  it("resolves symlinked parents inside the root, never out of it", function()
    -- sentinels beside the rootfs, which planted links point at
    local outside = tmp .. "/outside"
    assert(os.execute("mkdir " .. quote(outside)))
    support.write(outside .. "/secret", "s")
    local function untouched()
      assert.are.equal(".\n./secret\n", (sh(("cd %s && find . | sort"):format(quote(outside)))))
      assert.are.equal("s", read(outside .. "/secret"))
    end
    assert(unpack.layer(layer("plant", { { name = "l", type = "symlink", target = outside },
      { name = "rel", type = "symlink", target = "../outside" },
      { name = "up", type = "symlink", target = "../../../../../../../.." },
      { name = "chain", type = "symlink", target = "rel/../l" },
      { name = "loop", type = "symlink", target = "loop2" }, { name = "loop2", type = "symlink", target = "loop" },
      { name = "file", data = "f" }, { name = "tofile", type = "symlink", target = "/file" } }), rootfs))
    -- absolute: rootfs/<outside>/evil, made as needed
    assert(unpack.layer(layer("t1", { { name = "l/evil", data = "x" } }), rootfs))
    assert.are.equal("x", read(rootfs .. outside .. "/evil"))
    untouched()
    -- "..": clamped at the root
    assert(unpack.layer(layer("t2", { { name = "rel/evil", data = "r" }, { name = "up/top", data = "t" } }), rootfs))
    assert.are.equal("r", read(rootfs .. "/outside/evil"))
    assert.are.equal("t", read(rootfs .. "/top"))
    untouched()
    -- a chain of links with ".." between them
    assert(unpack.layer(layer("t3", { { name = "chain/c", data = "c" } }), rootfs))
    assert.are.equal("c", read(rootfs .. outside .. "/c"))
    -- whiteouts and opaque markers through links act inside too
    support.write(rootfs .. "/outside/gone", "g")
    assert(unpack.layer(layer("t4", { { name = "rel/.wh.gone" }, { name = "l/.wh.secret" },
      { name = "chain/.wh..wh..opq" } }), rootfs))
    assert.is_false(exists(rootfs .. "/outside/gone"))
    assert.is_false(exists(rootfs .. outside .. "/c"))
    assert.is_false(exists(rootfs .. outside .. "/evil"))
    assert.truthy(exists(rootfs .. outside))
    untouched()
    -- a hard link's target resolves inside: there is no rootfs/<outside>/secret
    fails(layer("t5", { { name = "h", type = "link", target = "l/secret" } }), rootfs,
      'layer entry "h": hard link target "l/secret" does not exist')
    untouched()
    -- a loop, and a link to a file, as parents
    fails(layer("t6", { { name = "loop/x", data = "x" } }), rootfs,
      'layer entry "loop/x": more than 40 symbolic links in "loop" (ELOOP)')
    fails(layer("t7", { { name = "tofile/x", data = "x" } }), rootfs, 'parent "file" is not a directory')
    assert.are.equal("f", read(rootfs .. "/file"))
    -- a file replacing the link is fine, and does not touch its target
    assert(unpack.layer(layer("over", { { name = "l", data = "now a file" } }), rootfs))
    assert.are.equal("now a file", read(rootfs .. "/l"))
    untouched()
  end)

  it("normalises './', '//', '/./' and trailing '/' in names", function()
    assert(unpack.layer(layer("norm", {
      { name = "./a/", type = "dir" }, { name = "a//b", data = "b" }, { name = "a/./c", data = "c" },
      { name = "./", type = "dir" }, { name = "a/./.wh.b" },
    }), rootfs))
    assert.are.equal("c", read(rootfs .. "/a/c"))
    assert.are.equal("b", read(rootfs .. "/a/b")) -- same layer: spared
    -- a PAX UTF-8 name, which the C locale cannot convert (ARCHIVE_WARN)
    assert(unpack.layer(layer("utf8", { { name = "caf\u{e9}", data = "u" },
      { name = "l", type = "symlink", target = "caf\u{e9}" } }), rootfs))
    assert.are.equal("u", read(rootfs .. "/l"))
    -- a directory replaced later in the same layer
    assert(unpack.layer(layer("dirthenlink", { { name = "z", type = "dir" }, { name = "z/y", type = "dir" },
      { name = "z", type = "symlink", target = "a" } }), rootfs))
    assert.are.equal("b", read(rootfs .. "/z/b"))
    fails(layer("rootlink", { { name = ".", type = "symlink", target = "/etc" } }), rootfs,
      'layer entry ".": refusing to replace the root directory')
  end)

  it("opaque whiteouts in the usual order remove every lower entry, at any depth", function()
    assert(unpack.layer(layer("lower", {
      { name = "d", type = "dir" }, { name = "d/old", data = "o" },
      { name = "d/sub", type = "dir" }, { name = "d/sub/old2", data = "o" },
      { name = "d/sub/keep", data = "lower" },
      { name = "d/gone", type = "dir" }, { name = "d/gone/deep", data = "o" },
    }), rootfs))
    local st = assert(unpack.layer(layer("upper", {
      { name = "d", type = "dir" }, { name = "d/.wh..wh..opq" },
      { name = "d/new", data = "n" },
      { name = "d/sub", type = "dir" }, { name = "d/sub/keep", data = "upper" },
      { name = "d/implicit/x", data = "i" },
    }), rootfs))
    assert.are.equal(1, st.opaque_dirs)
    assert.is_false(exists(rootfs .. "/d/old"))
    assert.is_false(exists(rootfs .. "/d/sub/old2"))
    assert.is_false(exists(rootfs .. "/d/gone"))
    assert.are.equal("n", read(rootfs .. "/d/new"))
    assert.are.equal("upper", read(rootfs .. "/d/sub/keep"))
    assert.are.equal("i", read(rootfs .. "/d/implicit/x"))
    -- the marker after the layer's own subdirectory: its lower contents go too
    assert(unpack.layer(layer("lower2", { { name = "e/sub/old", data = "o" } }), rootfs))
    assert(unpack.layer(layer("upper2", { { name = "e/sub", type = "dir" }, { name = "e/sub/n", data = "n" },
      { name = "e/.wh..wh..opq" } }), rootfs))
    assert.is_false(exists(rootfs .. "/e/sub/old"))
    assert.are.equal("n", read(rootfs .. "/e/sub/n"))
  end)

  it("replaces a non-empty directory by a symlink or file, and keeps one under a directory", function()
    assert(unpack.layer(layer("lower", {
      { name = "bin", type = "dir" }, { name = "bin/sh", data = "old sh" },
      { name = "bin/sub", type = "dir" }, { name = "bin/sub/x", data = "x" },
      { name = "usr/bin", type = "dir" }, { name = "usr/bin/sh", data = "new sh" },
      { name = "keep", type = "dir", mode = 493 }, { name = "keep/inside", data = "i" },
      { name = "f", data = "file" }, { name = "s", type = "symlink", target = "usr" },
    }), rootfs))
    assert(unpack.layer(layer("usrmerge", {
      { name = "bin", type = "symlink", target = "usr/bin" },
      { name = "keep", type = "dir", mode = 448 },
      { name = "f", type = "dir" }, { name = "s", type = "dir" },
    }), rootfs))
    assert.are.equal("usr/bin", sh("readlink " .. quote(rootfs .. "/bin")):gsub("\n$", ""))
    assert.are.equal("new sh", read(rootfs .. "/bin/sh"))
    assert.are.equal("i", read(rootfs .. "/keep/inside"))
    assert.are.equal("700\n", (sh("stat -c %a " .. quote(rootfs .. "/keep"))))
    local types = sh(("stat -c %%F %s %s | cut -c1"):format(quote(rootfs .. "/f"), quote(rootfs .. "/s")))
    assert.are.equal("d\nd\n", types)
  end)

  it("refuses blobs that are symbolic links or not regular files, without hanging", function()
    local blob = layer("ok", { { name = "f", data = "x" } })
    assert(os.execute(("ln -s %s %s"):format(quote(blob), quote(tmp .. "/link"))))
    fails(tmp .. "/link", rootfs, "symbolic link (refused)")
    assert(os.execute("mkfifo " .. quote(tmp .. "/fifo")))
    fails(tmp .. "/fifo", rootfs, "not a regular file")
    fails(tmp, rootfs, "not a regular file")
    assert.is_false(exists(rootfs .. "/f"))
  end)

  if not ONE then it("checks digest, size and diff_id before touching an existing directory", function()
    support.write(rootfs .. "/f", "mine")
    local blob = layer("v", { { name = "f", data = "theirs" }, { name = ".wh.g" } })
    support.write(rootfs .. "/g", "mine too")
    local digest = assert(oci.digest.file(blob))
    local size = #read(blob)
    local _, code = fails(blob, rootfs, "digest mismatch: expected sha256:" .. ("0"):rep(64),
      { digest = "sha256:" .. ("0"):rep(64) })
    assert.are.equal("mismatch", code.code)
    fails(blob, rootfs, "size mismatch: expected " .. (size + 1), { digest = digest, size = size + 1 })
    fails(blob, rootfs, "uncompressed digest (diff_id) mismatch",
      { digest = digest, size = size, diff_id = "sha256:" .. ("1"):rep(64) })
    assert.are.equal("mine", read(rootfs .. "/f"))
    assert.are.equal("mine too", read(rootfs .. "/g"))
    assert(unpack.layer(blob, rootfs, { digest = digest, size = size, diff_id = diff_id(blob) }))
    assert.are.equal("theirs", read(rootfs .. "/f"))
    assert.is_false(exists(rootfs .. "/g"))
  end) end

  if not ONE then it("one_pass applies while it reads, and a tampered blob still fails as a mismatch", function()
    local blob = layer("t", { { name = "f", data = "hello world" } }, "")
    local digest = assert(oci.digest.file(blob))
    local size = #read(blob)
    -- same size, other bytes, still a good tar
    support.write(blob, (read(blob):gsub("hello world", "HELLO WORLD")))
    local opts = { digest = digest, size = size, diff_id = digest }
    local _, code = fails(blob, rootfs, "digest mismatch: expected " .. digest, opts)
    assert.are.equal("mismatch", code.code)
    assert.is_false(exists(rootfs .. "/f")) -- two passes: nothing written
    opts.one_pass = true
    _, code = fails(blob, rootfs, "digest mismatch: expected " .. digest, opts)
    assert.are.equal("mismatch", code.code)
    assert.are.equal("HELLO WORLD", read(rootfs .. "/f")) -- applied, then found out
    -- a gzip stream damaged in its middle (same size) is its digest's
    -- mismatch, not a corrupt stream
    local gz = layer("g", { { name = "g", data = ("line\n"):rep(20000) } })
    digest = assert(oci.digest.file(gz))
    local z = read(gz)
    local half = #z // 2
    support.write(gz, z:sub(1, half) .. ("\0"):rep(#z - 8 - half) .. z:sub(-8))
    for _, one in ipairs({ false, true }) do
      local msg
      msg, code = fails(gz, rootfs, "digest mismatch: expected " .. digest, { digest = digest, one_pass = one })
      assert.are.equal("mismatch", code.code)
      assert.truthy(msg:find("reading it failed", 1, true), msg)
    end
  end) end

  it("limits entries and uncompressed bytes, naming the option", function()
    local many = {}
    for i = 1, 5 do many[i] = { name = "f" .. i, data = "x" } end
    local msg, code = fails(layer("many", many), rootfs, "more than 3 entries (limit max_entries)",
      { max_entries = 3 })
    assert.are.equal("too_big", code.code, msg)
    assert(unpack.layer(layer("many5", many), rootfs, { max_entries = 5 }))
    -- 32 MiB of zeros, a few kB compressed
    local bomb = layer("bomb", { { name = "zeros", zeros = 32 * 1024 * 1024 } })
    assert.is_true(#read(bomb) < 100000)
    fails(bomb, tmp .. "/rootfs", "uncompresses to more than 1048576 bytes (limit max_bytes)",
      { max_bytes = 1048576 })
    if not ONE then assert.is_false(exists(rootfs .. "/zeros")) end
    -- link targets are bounded too
    fails(layer("longlink", { { name = "l", type = "symlink", target = ("a/"):rep(2100) } }), rootfs,
      "link target longer than 4095 bytes")
  end)

  if not ONE then it("applies and whites out a 2000-deep tree in linear time", function()
    local entries, name = {}, "a"
    for i = 1, 2000 do
      entries[i] = { name = name, type = "dir" }
      name = name .. "/a"
    end
    local deep = layer("deep", entries)
    local wh = layer("wh", { { name = ".wh.a" } })
    local cpu = os.clock()
    assert(unpack.layer(deep, rootfs))
    assert.truthy(exists(rootfs .. "/" .. ("a/"):rep(1000) .. "a"))
    assert(unpack.layer(wh, rootfs))
    cpu = os.clock() - cpu
    assert.is_false(exists(rootfs .. "/a"))
    -- CPU time (load does not count): 19 s with the quadratic walks
    assert.is_true(cpu < 5, ("%.1f s of CPU"):format(cpu))
  end) end

  if not ONE then it("applies a 2000-deep tree under a symbolic link in linear time", function()
    local entries, name = { { name = "y", type = "dir" }, { name = "x", type = "symlink", target = "/y" } }, "x"
    for _ = 1, 2000 do
      name = name .. "/a"
      entries[#entries + 1] = { name = name, type = "dir" }
    end
    entries[#entries + 1] = { name = name .. "/f", data = "f" }
    entries[#entries + 1] = { name = name .. "/.wh.f" }
    entries[#entries + 1] = { name = name .. "/g", data = "g" }
    local deep = layer("deep", entries)
    local cpu = os.clock()
    assert(unpack.layer(deep, rootfs))
    cpu = os.clock() - cpu
    local leaf = rootfs .. "/y/" .. ("a/"):rep(2000)
    assert.are.equal("f", read(leaf .. "f")) -- written by the layer: spared
    assert.are.equal("g", read(leaf .. "g"))
    -- CPU time: 7.4 s when each entry resolved its parent from the root
    assert.is_true(cpu < 5, ("%.1f s of CPU"):format(cpu))
  end) end

  it("reports a full disk as an error naming the entry", function()
    if sh("id -u"):match("^0") == nil or not has("mount") then
      pending("needs root to mount a small tmpfs")
      return
    end
    local small = tmp .. "/small"
    assert(os.execute("mkdir " .. quote(small)))
    local _, ok = sh("mount -t tmpfs -o size=64k tmpfs " .. quote(small))
    if not ok then
      pending("cannot mount a tmpfs here")
      return
    end
    local blob = layer("big", { { name = "small", data = "s" }, { name = "big", data = ("x"):rep(256 * 1024) } })
    local res = table.pack(pcall(unpack.layer, blob, small))
    sh("umount " .. quote(small))
    assert.is_true(res[1])
    assert.is_nil(res[2])
    assert.truthy(res[3]:find('layer entry "big": write failed: No space left on device', 1, true), res[3])
    assert.are.equal("io", res[4].code)
  end)
end)
end

describe("unpack.image bundles", function()
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  local function entries_of(dir)
    return sh("ls -A " .. quote(dir))
  end

  it("makes a 0700 bundle atomically, leaves nothing on failure, and a retry works", function()
    local img = tmp .. "/img"
    make_image(img, { layer("base", { { name = "etc", type = "dir" }, { name = "etc/hostname", data = "box\n" } }) })
    local L = assert(oci.layout.open(img))
    assert(unpack.image(L, "t", tmp .. "/bundle", { rootless = true }))
    assert.are.equal("700\n", (sh("stat -c %a " .. quote(tmp .. "/bundle"))))
    assert.are.equal("box\n", read(tmp .. "/bundle/rootfs/etc/hostname"))
    assert.are.equal("config.json\nrootfs\n", entries_of(tmp .. "/bundle"))
    -- an existing non-empty bundle (or ".") is refused before any work
    local ok, msg = unpack.image(L, "t", tmp .. "/bundle")
    assert.is_nil(ok)
    assert.truthy(msg:find("exists and is not an empty directory", 1, true), msg)
    ok, msg = unpack.image(L, "t", ".")
    assert.is_nil(ok)
    assert.truthy(msg:find("must name a new or empty directory", 1, true), msg)
    -- an empty existing directory is replaced whole
    assert(os.execute("mkdir " .. quote(tmp .. "/empty")))
    assert(unpack.image(L, "t", tmp .. "/empty", { rootless = true }))
    assert.are.equal("box\n", read(tmp .. "/empty/rootfs/etc/hostname"))
    assert.are.equal("base\nbase.json\nbundle\nempty\nimg\nmake_tar.py\n", entries_of(tmp))
  end)

  it("checks each layer's diff_id and leaves no bundle on a mismatch", function()
    local l1 = layer("l1", { { name = "a", data = "a" } })
    local l2 = layer("l2", { { name = "b", data = "b" } })
    local img = tmp .. "/img"
    make_image(img, { l1, l2 }, { diff_id(l1), "sha256:" .. ("2"):rep(64) })
    local L = assert(oci.layout.open(img))
    local before = entries_of(tmp)
    local ok, msg, code = unpack.image(L, "t", tmp .. "/bundle", { rootless = true })
    assert.is_nil(ok)
    assert.are.equal("mismatch", code.code)
    assert.truthy(msg:find("layer 2 (", 1, true), msg)
    assert.truthy(msg:find("diff_id) mismatch: expected sha256:" .. ("2"):rep(64), 1, true), msg)
    assert.are.equal(before, entries_of(tmp))
    -- fewer diff_ids than layers
    support.rmdir(img)
    make_image(img, { l1, l2 }, { diff_id(l1) })
    ok, msg = unpack.image(assert(oci.layout.open(img)), "t", tmp .. "/bundle")
    assert.is_nil(ok)
    assert.truthy(msg:find("2 layers but its config lists 1 diff_ids", 1, true), msg)
    -- fixed: the retry works
    support.rmdir(img)
    make_image(img, { l1, l2 })
    assert(unpack.image(assert(oci.layout.open(img)), "t", tmp .. "/bundle", { rootless = true }))
    assert.are.equal("b", read(tmp .. "/bundle/rootfs/b"))
  end)

  it("ocispec unpack: a tampered layer (same size) fails with its digest and leaves nothing", function()
    local l1 = layer("l1", { { name = "a", data = "a" } })
    local l2 = layer("l2", { { name = "b", data = ("b"):rep(100000) } })
    local img = tmp .. "/img"
    local layers = make_image(img, { l1, l2 })
    local blob = img .. "/blobs/sha256/" .. layers[2].digest:sub(8)
    local z = read(blob)
    support.write(blob, z:sub(1, 40) .. string.char(z:byte(41) ~ 0xff) .. z:sub(42))
    local cli = assert(oci.core.realpath(here .. "../bin/ocispec"))
    local before = entries_of(tmp)
    local out, ok = sh(("cd %s && lua5.4 %s unpack --rootless img:t b 2>&1"):format(quote(tmp), quote(cli)))
    assert.is_false(ok == true)
    assert.truthy(out:find("layer 2 (sha256:", 1, true), out)
    assert.truthy(out:find("digest mismatch: expected " .. layers[2].digest:sub(1, 19), 1, true), out)
    assert.are.equal(before, entries_of(tmp))
  end)

  it("layout_layer applies a layout's blob from the descriptor the layout opened", function()
    local img = tmp .. "/img"
    local l1 = layer("one", { { name = "a", data = "a" } })
    make_image(img, { l1 })
    local L = assert(oci.layout.open(img))
    local d = assert(oci.digest.file(l1))
    assert(oci.unpack.mkdir(tmp .. "/r"))
    local st = assert(unpack.layout_layer(L, d, tmp .. "/r", { digest = d, diff_id = diff_id(l1) }))
    assert.are.equal(1, st.entries)
    assert.are.equal("a", read(tmp .. "/r/a"))
    local ok, msg, code = unpack.layout_layer(L, d, tmp .. "/r", { diff_id = "sha256:" .. ("1"):rep(64) })
    assert.is_nil(ok)
    assert.are.equal("mismatch", code.code)
    assert.truthy(msg:find("(" .. d:sub(1, 30), 1, true), msg) -- names the blob
    -- a blob that is a symbolic link is refused by the layout, unread
    local blob = img .. "/blobs/sha256/" .. d:sub(8)
    assert(os.rename(blob, tmp .. "/moved"))
    assert(os.execute(("ln -s %s %s"):format(quote(tmp .. "/moved"), quote(blob))))
    ok, msg, code = unpack.layout_layer(L, d, tmp .. "/r")
    assert.is_nil(ok)
    assert.are.equal("invalid", code.code)
    assert.truthy(msg:find("symbolic link", 1, true), msg)
  end)

  it("ocispec unpack IMG . refuses the current directory and leaves it alone", function()
    local img = tmp .. "/img"
    make_image(img, { layer("w", { { name = ".wh..." }, { name = "x", data = "x" } }) })
    local cli = assert(oci.core.realpath(here .. "../bin/ocispec"))
    local out, ok = sh(("cd %s && lua5.4 %s unpack img:t ."):format(quote(tmp), quote(cli)))
    assert.is_false(ok == true)
    assert.truthy(out:find("must name a new or empty directory", 1, true), out)
    assert.truthy(exists(img .. "/index.json"))
    -- into a new bundle: the hostile whiteout is refused, nothing is left
    local before = entries_of(tmp)
    out, ok = sh(("cd %s && lua5.4 %s unpack --rootless img:t b"):format(quote(tmp), quote(cli)))
    assert.is_false(ok == true)
    assert.truthy(out:find('layer entry ".wh...": whiteout of ".." names no entry', 1, true), out)
    assert.are.equal(before, entries_of(tmp))
    -- the limits as options
    support.rmdir(img)
    make_image(img, { layer("two", { { name = "a", data = "a" }, { name = "b", data = "b" } }) })
    out, ok = sh(("cd %s && lua5.4 %s unpack --rootless --max-entries 1 img:t b"):format(quote(tmp), quote(cli)))
    assert.is_false(ok == true)
    assert.truthy(out:find("more than 1 entries (limit max_entries)", 1, true), out)
    out, ok = sh(("cd %s && lua5.4 %s unpack --max-bytes=x img:t b"):format(quote(tmp), quote(cli)))
    assert.is_false(ok == true)
    assert.truthy(out:find('--max-bytes: expected a positive integer, got "x"', 1, true), out)
    out, ok = sh(("cd %s && lua5.4 %s unpack --rootless --max-bytes 100000 img:t b"):format(quote(tmp), quote(cli)))
    assert.is_true(ok, out)
    assert.are.equal("b", read(tmp .. "/b/rootfs/b"))
  end)

  it("agrees with umoci unpack --rootless on opaque whiteouts and replacements", function()
    if not has("umoci") then
      pending("umoci not installed")
      return
    end
    local layers = {
      layer("a", {
        { name = "d", type = "dir" }, { name = "d/old", data = "o" },
        { name = "d/sub", type = "dir" }, { name = "d/sub/old2", data = "o" },
        { name = "bin", type = "dir" }, { name = "bin/sh", data = "sh" },
        { name = "usr", type = "dir" }, { name = "usr/bin", type = "dir" }, { name = "usr/bin/sh", data = "sh2" },
        { name = "w", type = "dir" }, { name = "w/x", data = "x" }, { name = "w/y", data = "y" },
        { name = "f", data = "file" }, { name = "h", type = "link", target = "f" },
      }),
      layer("b", {
        { name = "d", type = "dir" }, { name = "d/.wh..wh..opq" }, { name = "d/new", data = "n" },
        { name = "d/sub", type = "dir" }, { name = "d/sub/n2", data = "n2" },
        { name = "bin", type = "symlink", target = "usr/bin" },
        { name = "w/.wh.x" }, { name = "w/z", data = "z" }, { name = "w/.wh.z" },
        { name = "f", type = "dir" }, { name = "f/in", data = "in" },
        { name = "x/old", data = "o" }, { name = "y/old", data = "o" }, { name = "hl", type = "link", target = "h" },
      }),
      layer("c", {
        { name = "x/new", data = "n" }, { name = ".wh.x" },
        { name = ".wh.y" }, { name = "y/new", data = "n" },
        { name = ".wh.h" }, { name = "g", type = "fifo" },
      }),
      layer("d", { { name = "keep", data = "k" }, { name = "./.wh..wh..opq" }, { name = "d/late", data = "l" } }),
    }
    -- the first three layers, then all four (the last one's opaque root
    -- removes what the first three left)
    for n = 3, 4 do
      local img = tmp .. "/img" .. n
      make_image(img, table.move(layers, 1, n, 1, {}))
      local L = assert(oci.layout.open(img))
      assert(unpack.image(L, "t", tmp .. "/ours" .. n, { rootless = true }))
      local out, ok = sh(("umoci unpack --rootless --image %s:t %s"):format(quote(img), quote(tmp .. "/umoci" .. n)))
      assert.is_true(ok, out)
      assert.are.equal(tree(tmp .. "/umoci" .. n .. "/rootfs"), tree(tmp .. "/ours" .. n .. "/rootfs"))
    end
    local ours = tmp .. "/ours3/rootfs"
    assert.is_false(exists(ours .. "/d/sub/old2"))
    assert.are.equal("n2", read(ours .. "/d/sub/n2"))
    assert.are.equal("z", read(ours .. "/w/z"))
    assert.are.equal("n", read(ours .. "/x/new"))
    assert.is_false(exists(ours .. "/x/old"))
    assert.are.equal("n", read(ours .. "/y/new"))
    assert.is_false(exists(ours .. "/y/old"))
    assert.are.equal("file", read(ours .. "/hl"))
    ours = tmp .. "/ours4/rootfs"
    assert.is_false(exists(ours .. "/bin"))
    assert.are.equal("k", read(ours .. "/keep"))
    assert.are.equal("l", read(ours .. "/d/late"))
  end)

  it("gives the rootfs the mode and times of the layers' './' entry, as umoci does", function()
    if not has("umoci") then
      pending("umoci not installed")
      return
    end
    local img = tmp .. "/rimg"
    make_image(img, {
      layer("r1", { { name = "./", type = "dir", mode = tonumber("750", 8) }, { name = "a", data = "a" } }),
      layer("r2", { { name = ".", type = "dir", mode = tonumber("711", 8) }, { name = "b", data = "b" } }),
    })
    assert(unpack.image(assert(oci.layout.open(img)), "t", tmp .. "/rours", { rootless = true }))
    local out, ok = sh(("umoci unpack --rootless --image %s:t %s"):format(quote(img), quote(tmp .. "/rumoci")))
    assert.is_true(ok, out)
    local function st(dir) return (sh("stat -c '%a %Y' " .. quote(dir .. "/rootfs"))) end
    assert.are.equal("711 1704067200\n", st(tmp .. "/rumoci"))
    assert.are.equal(st(tmp .. "/rumoci"), st(tmp .. "/rours"))
  end)

  it("agrees with umoci unpack --rootless on entries through symbolic links", function()
    if not has("umoci") then
      pending("umoci not installed")
      return
    end
    local sentinel = tmp .. "/sentinel"
    assert(os.execute("mkdir " .. quote(sentinel)))
    support.write(sentinel .. "/s", "keep")
    local usr = { { name = "usr", type = "dir" }, { name = "usr/bin", type = "dir" },
      { name = "usr/bin/sh", data = "sh" }, { name = "usr/bin/ls", data = "ls" } }
    local function with(base, more)
      local t = table.move(base, 1, #base, 1, {})
      return table.move(more, 1, #more, #t + 1, t)
    end
    local cases = {
      -- usrmerge: bin -> usr/bin, relative and absolute
      { with(usr, { { name = "bin", type = "symlink", target = "usr/bin" } }), { { name = "bin/foo", data = "f" } } },
      { with(usr, { { name = "bin", type = "symlink", target = "/usr/bin" } }), { { name = "bin/foo", data = "f" } } },
      -- ".." clamps at the root; the missing target is made inside
      { { { name = "x", type = "symlink", target = "../../../../tmp" } }, { { name = "x/foo", data = "f" } } },
      -- an absolute link at a directory beside the rootfs
      { { { name = "s", type = "symlink", target = sentinel } },
        { { name = "s/foo", data = "f" }, { name = "s/.wh.s" } } },
      -- whiteouts, opaque markers (before and after the layer's own entry) and hard links through it
      { with(usr, { { name = "bin", type = "symlink", target = "usr/bin" } }), { { name = "bin/.wh.sh" } } },
      { with(usr, { { name = "bin", type = "symlink", target = "usr/bin" } }),
        { { name = "bin/.wh..wh..opq" }, { name = "bin/new", data = "n" } } },
      { with(usr, { { name = "bin", type = "symlink", target = "usr/bin" } }),
        { { name = "bin/new", data = "n" }, { name = "usr/bin/new2", data = "n2" }, { name = "bin/.wh..wh..opq" },
          { name = "bin/.wh.new2" } } },
      { with(usr, { { name = "bin", type = "symlink", target = "usr/bin" } }),
        { { name = "h", type = "link", target = "bin/sh" } } },
      -- a hard link whose target's last component is a symbolic link: to the link itself
      { { { name = "f", data = "f" }, { name = "s", type = "symlink", target = "f" } },
        { { name = "h", type = "link", target = "s" } } },
      -- chains with ".." between links
      { with(usr, { { name = "a", type = "symlink", target = "b/../c" }, { name = "b", type = "dir" },
        { name = "c", type = "symlink", target = "/x/../usr" } }),
        { { name = "a/bin/foo", data = "f" }, { name = "a/bin/.wh.ls" } } },
    }
    for n, c in ipairs(cases) do
      local img = tmp .. "/simg" .. n
      make_image(img, { layer("s" .. n .. "a", c[1]), layer("s" .. n .. "b", c[2]) })
      local L = assert(oci.layout.open(img))
      assert(unpack.image(L, "t", tmp .. "/sours" .. n, { rootless = true }))
      local out, ok = sh(("umoci unpack --rootless --image %s:t %s"):format(quote(img), quote(tmp .. "/sumoci" .. n)))
      assert.is_true(ok, out)
      assert.are.equal(tree(tmp .. "/sumoci" .. n .. "/rootfs"), tree(tmp .. "/sours" .. n .. "/rootfs"), "case " .. n)
    end
    local r = function(n) return tmp .. "/sours" .. n .. "/rootfs" end
    assert.are.equal("f", read(r(1) .. "/usr/bin/foo"))
    assert.are.equal("f", read(r(2) .. "/usr/bin/foo"))
    assert.are.equal("f", read(r(3) .. "/tmp/foo"))
    assert.are.equal("f", read(r(4) .. sentinel .. "/foo"))
    assert.are.equal(".\n./s\n", (sh(("cd %s && find . | sort"):format(quote(sentinel)))))
    assert.are.equal("keep", read(sentinel .. "/s"))
    assert.is_false(exists(r(5) .. "/usr/bin/sh"))
    assert.are.equal("n", read(r(6) .. "/usr/bin/new"))
    assert.is_false(exists(r(6) .. "/usr/bin/ls"))
    assert.are.equal("n", read(r(7) .. "/usr/bin/new")) -- written by the layer: spared
    -- written as usr/bin/new2, whited out as bin/.wh.new2: the same
    -- resolved path, spared (umoci's upperPaths hold resolved paths)
    assert.are.equal("n2", read(r(7) .. "/usr/bin/new2"))
    assert.is_false(exists(r(7) .. "/usr/bin/ls"))
    assert.are.equal("sh", read(r(8) .. "/h"))
    assert.are.equal("f", (sh("readlink " .. quote(r(9) .. "/h"))):gsub("\n$", ""))
    assert.are.equal("f", read(r(10) .. "/usr/bin/foo"))
    assert.is_false(exists(r(10) .. "/usr/bin/ls"))
  end)
end)
