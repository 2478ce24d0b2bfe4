-- Rootless owners (issue 15 §5): an unpack with `rootless` records the
-- owners it cannot give in the xattr user.rootlesscontainers exactly as
-- umoci does (protobuf Resource{uid=1, gid=2}, 4294967295 = root), and a
-- build with `rootless` from such a tree gives the entries those owners
-- back. Oracles: umoci unpack --rootless (the xattr's bytes), Python's
-- tarfile (the owners in the built layer).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")

local quote = support.quote

local sh = support.sh

local py = support.py

-- A layer (plain tar, by tarfile) with owners, wrapped in an OCI layout
-- (tag "t") for umoci.
local MAKE = [==[
import hashlib, io, json, os, sys, tarfile
out = sys.argv[1]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for name, kind, uid, gid in [("d", tarfile.DIRTYPE, 0, 5), ("d/f", tarfile.REGTYPE, 1000, 1001),
                                 ("r", tarfile.REGTYPE, 0, 0), ("u", tarfile.REGTYPE, 300000, 0),
                                 ("l", tarfile.SYMTYPE, 7, 7)]:
        i = tarfile.TarInfo(name)
        i.type, i.uid, i.gid, i.mode = kind, uid, gid, 0o755 if kind == tarfile.DIRTYPE else 0o644
        i.linkname = "r" if kind == tarfile.SYMTYPE else ""
        t.addfile(i)
raw = buf.getvalue()
open(out + ".tar", "wb").write(raw)
os.makedirs(out + "/blobs/sha256")
def blob(b):
    d = hashlib.sha256(b).hexdigest()
    open(out + "/blobs/sha256/" + d, "wb").write(b)
    return {"digest": "sha256:" + d, "size": len(b)}
ld = blob(raw)
cd = blob(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
    "rootfs": {"type": "layers", "diff_ids": [ld["digest"]]}}).encode())
md = blob(json.dumps({"schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": dict(cd, mediaType="application/vnd.oci.image.config.v1+json"),
    "layers": [dict(ld, mediaType="application/vnd.oci.image.layer.v1.tar")]}).encode())
json.dump({"schemaVersion": 2, "manifests": [dict(md,
    mediaType="application/vnd.oci.image.manifest.v1+json",
    annotations={"org.opencontainers.image.ref.name": "t"})]}, open(out + "/index.json", "w"))
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
]==]

-- "path hex" of user.rootlesscontainers for each regular file and
-- directory below root (symlinks cannot carry user.* xattrs)
local function rootless_xattrs(root)
  return py([[
import os, sys
root = sys.argv[1]
for p in ["d", "d/f", "r", "u"]:
    try:
        v = os.getxattr(os.path.join(root, p), "user.rootlesscontainers").hex()
    except OSError:
        v = "-"
    print(p, v)
]], root)
end

describe("rootless owners", function()
  local tmp
  before_each(function()
    tmp = support.tmpdir()
    py(MAKE, tmp .. "/img")
  end)
  after_each(function() support.rmdir(tmp) end)

  it("unpack records them in user.rootlesscontainers as umoci does", function()
    local ours = tmp .. "/ours"
    assert(os.execute("mkdir " .. quote(ours)))
    local st = assert(oci.unpack.layer(tmp .. "/img.tar", ours, { rootless = true }))
    -- d: gid 5 only; d/f: both; r: root (none); u: uid only (300000 =
    -- e0 a7 12 as a varint); the symlink's is refused (EPERM), skipped
    assert.equal(table.concat({
      "d 08ffffffff0f1005", "d/f 08e80710e907", "r -", "u 08e0a71210ffffffff0f", "" }, "\n"),
      rootless_xattrs(ours))
    assert.equal(3, st.xattrs)
    if os.execute("command -v umoci >/dev/null 2>&1") ~= true then
      pending("umoci not installed")
      return
    end
    local msg, ok = sh(("umoci unpack --rootless --image %s:t %s"):format(quote(tmp .. "/img"),
      quote(tmp .. "/umoci")))
    assert(ok, msg)
    assert.equal(rootless_xattrs(tmp .. "/umoci/rootfs"), rootless_xattrs(ours))
  end)

  it("a rootless build gives the recorded owners back (from our tree and umoci's)", function()
    local trees = { tmp .. "/ours" }
    assert(os.execute("mkdir " .. quote(trees[1])))
    assert(oci.unpack.layer(tmp .. "/img.tar", trees[1], { rootless = true }))
    if os.execute("command -v umoci >/dev/null 2>&1") == true then
      local msg, ok = sh(("umoci unpack --rootless --image %s:t %s"):format(quote(tmp .. "/img"),
        quote(tmp .. "/umoci")))
      assert(ok, msg)
      trees[2] = tmp .. "/umoci/rootfs"
    end
    for i, tree in ipairs(trees) do
      local blob = ("%s/re%d.tar"):format(tmp, i)
      -- the unpacked files belong to whoever unpacked: chown them away to
      -- show the owners come from the xattr alone
      assert(os.execute("chown -R -h 4242:4242 " .. quote(tree) .. " 2>/dev/null || true"))
      assert(oci.layer.build { dir = tree, output = blob, compression = "none", rootless = true })
      local out = py([[
import sys, tarfile
for m in tarfile.open(sys.argv[1]):
    print(m.name, m.uid, m.gid, sorted(k for k in m.pax_headers if "rootless" in k))
]], blob)
      -- the symlink's owner could not be recorded: root, as umoci gives it
      assert.equal("d 0 5 []\nd/f 1000 1001 []\nl 0 0 []\nr 0 0 []\nu 300000 0 []\n", out)
    end
    if not trees[2] then pending("umoci not installed") end
  end)

  it("a rootless build refuses a user.rootlesscontainers that is no protobuf", function()
    local src = tmp .. "/src"
    assert(os.execute("mkdir " .. quote(src)))
    support.write(src .. "/f", "")
    py([[
import os, sys
os.setxattr(sys.argv[1] + "/f", "user.rootlesscontainers", b"\x08")
]], src)
    local ok, msg, err = oci.layer.build { dir = src, output = tmp .. "/x.tar", rootless = true }
    assert.is_nil(ok)
    assert.matches("user.rootlesscontainers of .*/f is not a rootlesscontainers Resource", msg)
    assert.equal("invalid", err.code)
    assert.is_nil(io.open(tmp .. "/x.tar"))
    -- without rootless it is an xattr like any other, stored as is
    assert(oci.layer.build { dir = src, output = tmp .. "/y.tar", compression = "none" })
  end)

  -- "path uid:gid" of the unpacked files (Python's lstat)
  local function owners(root)
    return py([[
import os, sys
for p in ["d", "d/f", "l", "r", "u"]:
    st = os.lstat(os.path.join(sys.argv[1], p))
    print(p, "%d:%d" % (st.st_uid, st.st_gid))
]], root)
  end

  local MAP = { "0:100000:400000" }
  local WANT = "d 100000:100005\nd/f 101000:101001\nl 100007:100007\nr 100000:100000\nu 400000:100000\n"

  it("uid_map/gid_map give host owners as umoci unpack --uid-map does; a build maps them back", function()
    if sh("id -u") ~= "0\n" then
      pending("needs root to give files owners")
      return
    end
    local ours = tmp .. "/ours"
    assert(os.execute("mkdir " .. quote(ours)))
    assert(oci.unpack.layer(tmp .. "/img.tar", ours, { uid_map = MAP, gid_map = MAP }))
    assert.equal(WANT, owners(ours))
    local blob = tmp .. "/back.tar"
    assert(oci.layer.build { dir = ours, output = blob, compression = "none", uid_map = MAP, gid_map = MAP })
    assert.equal("d 0 5\nd/f 1000 1001\nl 7 7\nr 0 0\nu 300000 0\n", py([[
import sys, tarfile
for m in tarfile.open(sys.argv[1]):
    print(m.name, m.uid, m.gid)
]], blob))
    -- a host owner outside the map cannot be mapped back
    local ok, msg, err = oci.layer.build { dir = ours, output = tmp .. "/x.tar", uid_map = { "0:100000:1000" } }
    assert.is_nil(ok)
    assert.matches("host uid 101000 cannot be mapped to a container id %(uid_map%)", msg)
    assert.equal("invalid", err.code)
    -- the CLI, through oci.unpack.image
    local bundle = tmp .. "/bundle"
    local bin = assert(oci.core.realpath(here .. "../bin/ocispec"))
    local out, okc = sh(("cd %s && lua5.4 %s unpack --uid-map 0:100000:400000 --gid-map=0:100000:400000 img:t %s")
      :format(quote(tmp), quote(bin), quote(bundle)))
    assert(okc, out)
    assert.equal(WANT, owners(bundle .. "/rootfs"))
    if os.execute("command -v umoci >/dev/null 2>&1") ~= true then
      pending("umoci not installed")
      return
    end
    local msg2, ok2 = sh(("umoci unpack --uid-map 0:100000:400000 --gid-map 0:100000:400000 --image %s:t %s"):format(
      quote(tmp .. "/img"), quote(tmp .. "/umoci")))
    assert(ok2, msg2)
    assert.equal(owners(tmp .. "/umoci/rootfs"), owners(ours))
  end)

  it("an owner no mapping covers is an error before anything is written; bad mappings are named", function()
    local dst = tmp .. "/dst"
    assert(os.execute("mkdir " .. quote(dst)))
    local ok, msg, err = oci.unpack.layer(tmp .. "/img.tar", dst, { uid_map = { "0:100000:65536" } })
    assert.is_nil(ok)
    assert.equal('layer entry "u": uid 300000 cannot be mapped to a host id (uid_map)', msg)
    assert.equal("invalid", err.code)
    assert.equal("", sh("ls -A " .. quote(dst)))
    -- rootless: every owner is root in the container, so root must map
    ok, msg = oci.unpack.layer(tmp .. "/img.tar", dst, { rootless = true, gid_map = { "1:100000:10" } })
    assert.is_nil(ok)
    assert.equal('layer entry "d/": gid 0 cannot be mapped to a host id (gid_map)', msg)
    for _, bad in ipairs({ "1:2:0", "x", "1", "1:2:3:4", "4294967295:0:2", "-1:0:1", "1:2:", "" }) do
      ok, msg, err = oci.unpack.layer(tmp .. "/img.tar", dst, { uid_map = { bad } })
      assert.is_nil(ok, bad)
      assert.equal(('id mapping "%s" is not CONTAINER:HOST[:SIZE] (decimal ids, SIZE at least 1, '
        .. "ranges within 0..4294967295)"):format(bad), msg)
      assert.equal("invalid", err.code)
    end
    assert.has_error(function() oci.unpack.layer(tmp .. "/img.tar", dst, { uid_map = "0:1:2" }) end,
      'option uid_map: expected a list of "CONTAINER:HOST[:SIZE]" strings, got string')
    assert.equal("", sh("ls -A " .. quote(dst)))
  end)
end)
