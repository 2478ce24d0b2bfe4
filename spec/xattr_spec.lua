-- Extended attributes through layers (issue 15 §5): stored as PAX
-- SCHILY.xattr.* records when a layer is built from a directory, restored
-- on unpack (file capabilities included). Oracles: Python's os.getxattr /
-- os.setxattr and tarfile's pax_headers, GNU tar --xattrs, getcap/setcap.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")

local quote = support.quote

local sh = support.sh

local function has(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true
end

local py = support.py

-- The xattrs of each path as "path name=hexvalue" lines, sorted (Python).
local function xattrs_of(root, paths)
  return py([[
import os, sys
root = sys.argv[1]
for p in sys.argv[2:]:
    f = os.path.join(root, p)
    for n in sorted(os.listxattr(f, follow_symlinks=False)):
        print(p, n + "=" + os.getxattr(f, n, follow_symlinks=False).hex())
]], root, table.unpack(paths))
end

-- The PAX records of each tar member, "name key=hexvalue" (tarfile).
local function pax_of(tar)
  return py([[
import sys, tarfile
for m in tarfile.open(sys.argv[1]):
    for k in sorted(m.pax_headers):
        if k.startswith(("SCHILY.", "LIBARCHIVE.")):
            print(m.name, k + "=" + m.pax_headers[k].encode("utf-8", "surrogateescape").hex())
]], tar)
end

-- A plain tar from entries {name, type = "file"|"dir"|"symlink", xattrs
-- = {name = value}, xattrs_hex = {name = hex}} written by tarfile (values
-- in SCHILY.xattr records).
local MAKE = [[
import json, sys, tarfile, io
out, entries = sys.argv[1], json.loads(sys.argv[2])
types = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE}
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    for e in entries:
        i = tarfile.TarInfo(e["name"])
        i.type = types[e.get("type", "file")]
        i.mode = 0o755 if i.type == tarfile.DIRTYPE else 0o644
        i.linkname = e.get("target", "")
        i.pax_headers = {"SCHILY.xattr." + k: v for k, v in e.get("xattrs", {}).items()}
        for k, v in e.get("xattrs_hex", {}).items():  # binary values
            i.pax_headers["SCHILY.xattr." + k] = bytes.fromhex(v).decode("utf-8", "surrogateescape")
        t.addfile(i)
]]

-- security.capability v2 of `setcap cap_net_raw+ep` (linux/capability.h:
-- magic 0x02000001 with the effective flag, permitted bit 13)
local CAP_NET_RAW = "0100000200200000000000000000000000000000"

describe("xattrs in layers", function()
  local tmp
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  it("are stored as SCHILY.xattr records, sorted, user/trusted/security only", function()
    local src = tmp .. "/src"
    assert(os.execute("mkdir -p " .. quote(src .. "/d")))
    support.write(src .. "/f", "x")
    assert(os.execute("ln -s f " .. quote(src .. "/l")))
    py([[
import os, sys
s = sys.argv[1]
os.setxattr(s + "/f", "user.b", b"2")
os.setxattr(s + "/f", "user.a", b"\x00\xff binary")
os.setxattr(s + "/f", "security.capability", bytes.fromhex(sys.argv[2]))
os.setxattr(s + "/f", "user.empty", b"")
os.setxattr(s + "/d", "trusted.t", b"tv")
os.setxattr(s + "/l", "trusted.onlink", b"lv", follow_symlinks=False)
# an ACL (system.posix_acl_access): user::rw- group::r-- other::r--
os.setxattr(s + "/d", "system.posix_acl_access",
            bytes.fromhex("02000000010006000000000004000400000000002000040000000000"))
]], src, CAP_NET_RAW)
    local out = tmp .. "/l.tar"
    local r = assert(oci.layer.build { dir = src, output = out, compression = "none" })
    assert.equal(3, r.entry_count)
    -- sorted by name; no LIBARCHIVE.xattr copies, no system.*, no empty value
    assert.equal(table.concat({
      "d SCHILY.xattr.trusted.t=7476",
      "f SCHILY.xattr.security.capability=" .. CAP_NET_RAW,
      "f SCHILY.xattr.user.a=00ff2062696e617279",
      "f SCHILY.xattr.user.b=32",
      "l SCHILY.xattr.trusted.onlink=6c76", "" }, "\n"), pax_of(out))
    -- reproducible
    local r2 = assert(oci.layer.build { dir = src, output = tmp .. "/l2.tar", compression = "none" })
    assert.equal(r.diff_id, r2.diff_id)
    -- GNU tar reads them back as the same xattrs
    local gnu = tmp .. "/gnu"
    assert(os.execute("mkdir " .. quote(gnu)))
    local msg, ok = sh(("tar --xattrs --xattrs-include='*' -xf %s -C %s"):format(quote(out), quote(gnu)))
    assert(ok, msg)
    assert.equal("f security.capability=" .. CAP_NET_RAW .. "\nf user.a=00ff2062696e617279\nf user.b=32\n",
      xattrs_of(gnu, { "f" }))
    assert.equal("d trusted.t=7476\n", xattrs_of(gnu, { "d" }):gsub("d system[^\n]*\n", ""))
  end)

  it("a changeset (lower, upper) sees an xattr-only change of a file or a directory", function()
    local L, U = tmp .. "/lower", tmp .. "/upper"
    py([[
import os, sys
L, U = sys.argv[1], sys.argv[2]
for root in (L, U):
    os.makedirs(root + "/d/sub")
    for name in ("same", "cap", "gone", "d/f"):
        open(os.path.join(root, name), "w").write("x")
    os.setxattr(root + "/gone", "user.k", b"v")
    for p in ("same", "cap", "gone", "d/f", "d/sub", "d", "."):
        os.utime(os.path.join(root, p), ns=(10**18, 10**18))
# the upper tree: xattrs only; setxattr leaves mtime and size alone
os.setxattr(U + "/cap", "security.capability", bytes.fromhex(sys.argv[3]))
os.removexattr(U + "/gone", "user.k")
os.setxattr(U + "/d/sub", "user.dir", b"1")
for p in ("cap", "gone", "d/sub"):
    assert os.stat(os.path.join(L, p)).st_mtime_ns == os.stat(os.path.join(U, p)).st_mtime_ns
]], L, U, CAP_NET_RAW)
    local out = tmp .. "/c.tar"
    local r = assert(oci.layer.build { lower = L, upper = U, output = out, compression = "none" })
    -- tarfile lists the members: the three changed entries (d/sub's parent
    -- d comes along, as a changed child brings its directory), nothing else
    local names = py([[
import sys, tarfile
print(" ".join(sorted(m.name for m in tarfile.open(sys.argv[1]))))
]], out)
    assert.equal("cap d d/sub gone\n", names)
    assert.equal(4, r.entry_count)
    assert.equal(table.concat({
      "cap SCHILY.xattr.security.capability=" .. CAP_NET_RAW,
      "d/sub SCHILY.xattr.user.dir=31", "" }, "\n"), pax_of(out))
    -- unchanged trees: an empty changeset
    local same = assert(oci.layer.build { lower = L, upper = L, output = tmp .. "/e.tar", compression = "none" })
    assert.equal(0, same.entry_count)
  end)

  it("survive build then unpack: a file capability (setcap) stays", function()
    if not has("setcap") then
      pending("setcap (libcap2-bin) not installed")
      return
    end
    local src, dst = tmp .. "/src", tmp .. "/dst"
    assert(os.execute(("mkdir -p %s/bin %s"):format(quote(src), quote(dst))))
    support.write(src .. "/bin/ping", "#!/bin/sh\n")
    local msg, ok = sh("setcap cap_net_raw+ep " .. quote(src .. "/bin/ping"))
    assert(ok, msg)
    py([[
import os, sys
os.setxattr(sys.argv[1] + "/bin", "user.dir", b"on a dir")
os.setxattr(sys.argv[1] + "/bin/ping", "user.k", b"v")
]], src)
    local blob = tmp .. "/l.tar.gz"
    assert(oci.layer.build { dir = src, output = blob, uid = 0, gid = 0 })
    local st = assert(oci.unpack.layer(blob, dst))
    assert.equal(3, st.xattrs)
    assert.equal(0, st.xattrs_skipped)
    assert.equal(xattrs_of(src, { "bin", "bin/ping" }), xattrs_of(dst, { "bin", "bin/ping" }))
    assert.matches("cap_net_raw[=+]ep", (sh("getcap " .. quote(dst .. "/bin/ping"))))
  end)

  it("from another tool's layer: set on the entry itself, other namespaces skipped", function()
    local tar = tmp .. "/t.tar"
    py(MAKE, tar, oci.json.encode({
      { name = "d", type = "dir", xattrs = { ["user.d"] = "dv" } },
      { name = "d/f", xattrs = { ["user.a"] = "1", ["security.selinux"] = "system_u:object_r:x",
        ["system.posix_acl_access"] = "x", ["bogus.ns"] = "y" } },
      { name = "d/l", type = "symlink", target = "f", xattrs = { ["trusted.on-link"] = "L" } },
    }))
    local dst = tmp .. "/dst"
    assert(os.execute("mkdir " .. quote(dst)))
    local st = assert(oci.unpack.layer(tar, dst))
    assert.equal(3, st.xattrs)
    assert.equal(3, st.xattrs_skipped)
    assert.equal("d/f user.a=31\n", xattrs_of(dst, { "d/f" }))
    -- lsetxattr on the link itself, never through it
    assert.equal("d/l trusted.on-link=4c\n", xattrs_of(dst, { "d/l" }))
    assert.equal("d user.d=6476\n", xattrs_of(dst, { "d" }))
  end)

  it("a directory entry over an existing directory ends with exactly its xattrs", function()
    local dst = tmp .. "/dst"
    assert(os.execute("mkdir -p " .. quote(dst .. "/d")))
    py([[
import os, sys
os.setxattr(sys.argv[1] + "/d", "user.old", b"o")
os.setxattr(sys.argv[1] + "/d", "user.keep", b"old value")
]], dst)
    local tar = tmp .. "/t.tar"
    py(MAKE, tar, oci.json.encode({ { name = "d", type = "dir", xattrs = { ["user.keep"] = "new" } } }))
    assert(oci.unpack.layer(tar, dst))
    assert.equal("d user.keep=6e6577\n", xattrs_of(dst, { "d" }))
  end)

  it("hostile xattrs are refused before anything is written", function()
    local cases = {
      { { ["user." .. ("n"):rep(300)] = "v" }, "longer than 255 bytes" },
      { { ["user.big"] = ("v"):rep(70000) }, "value of 70000 bytes %(more than 65536%)" },
    }
    for i, c in ipairs(cases) do
      local tar = ("%s/h%d.tar"):format(tmp, i)
      py(MAKE, tar, oci.json.encode({ { name = "first" }, { name = "f", xattrs = c[1] } }))
      local dst = ("%s/dst%d"):format(tmp, i)
      assert(os.execute("mkdir " .. quote(dst)))
      local ok, msg, err = oci.unpack.layer(tar, dst)
      assert.is_nil(ok)
      assert.matches('layer entry "f": xattr', msg)
      assert.matches(c[2], msg)
      assert.equal("invalid", err.code)
      assert.equal("", sh("ls -A " .. quote(dst)))
    end
  end)

  it("rootless: what an unprivileged user cannot set is skipped and counted", function()
    if not (has("setpriv") and sh("id -u") == "0\n") then
      pending("needs root and setpriv to unpack as an unprivileged user")
      return
    end
    local tar = tmp .. "/t.tar"
    py(MAKE, tar, oci.json.encode({ { name = "f", xattrs = { ["user.u"] = "1", ["trusted.t"] = "2" },
      xattrs_hex = { ["security.capability"] = CAP_NET_RAW } } }))
    local dst = tmp .. "/dst"
    assert(os.execute("mkdir " .. quote(dst) .. " && chmod 755 " .. quote(tmp)
      .. " && chown 65534:65534 " .. quote(dst)))
    local script = tmp .. "/u.lua"
    support.write(script, ([[
local s = assert(require("ocispec").unpack.layer(%q, %q, { rootless = true }))
print(s.xattrs, s.xattrs_skipped)
]]):format(tar, dst))
    local out, ok = sh("setpriv --reuid=65534 --regid=65534 --clear-groups lua5.4 " .. quote(script))
    assert(ok, out)
    assert.equal("1\t2\n", out)
    assert.equal("f user.u=31\n", xattrs_of(dst, { "f" }))
  end)
end)
