-- Rootless RUN (ocispec.build_run without root): the build runs as uid
-- 65534 (setpriv) in a subprocess, spec/fixtures/rootless_build.lua, with
-- a HOME and TMPDIR it owns. Oracles: umoci unpacks the result as root
-- (owners checked), /proc/net of the step, the temporary directory, the
-- host's /proc/mounts. Needs root (to become 65534 and check owners),
-- setpriv, runc or crun, umoci, busybox and user namespaces: else pending.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")

local quote, sh = support.quote, support.sh

local have = support.have

-- Why the specs cannot run here, or nil.
local function missing()
  if not (sh("id -u")):match("^0") then return "the test needs root (to become uid 65534 with setpriv)" end
  for _, t in ipairs({ "setpriv", "umoci", "python3" }) do
    if not have(t) then return t .. " is not installed" end
  end
  if not have("runc") and not have("crun") then return "neither runc nor crun is installed" end
  if not support.read("/bin/busybox") then return "/bin/busybox (busybox-static) is missing" end
  local out, ok = sh("setpriv --reuid 65534 --regid 65534 --clear-groups unshare -U -r true")
  if not ok then return "an unprivileged user cannot create a user namespace here: " .. out end
end

-- The environment of the unprivileged build: HOME and TMPDIR in dir, the
-- Lua paths of this process (the checkout is world-readable).
local function env(dir)
  return ("env HOME=%s TMPDIR=%s XDG_RUNTIME_DIR= XDG_CACHE_HOME= OCISPEC_CACHE_DIR= LUA_PATH=%s LUA_CPATH=%s")
    :format(quote(dir .. "/home"), quote(dir), quote(package.path), quote(package.cpath))
end

-- Runs the fixture's scenario as uid 65534 in dir (made and given to
-- 65534); wrap: a command prefix (a user namespace with limits). Its
-- output and whether it exited 0.
local function build(dir, scenario, wrap)
  assert(os.execute(("mkdir -p %s/home && chown -R 65534:65534 %s"):format(quote(dir), quote(dir))))
  return sh(("%s setpriv --reuid 65534 --regid 65534 --clear-groups %s lua5.4 %s %s %s")
    :format(wrap or "", env(dir), quote(here .. "fixtures/rootless_build.lua"), scenario, quote(dir)))
end

-- Nothing left in the step directory, no mount below dir.
local function assert_clean(dir)
  assert.are.equal("", (sh("ls -A " .. quote(dir .. "/steps"))), "left behind in the step directory")
  local mounts = support.read("/proc/mounts")
  assert.is_nil(mounts:find(dir, 1, true), "a mount is left below " .. dir)
end

-- `find` over what umoci unpacks from tag: "type mode uid:gid path" lines
-- (bin/ left out), as a set.
local function umoci_tree(dir, tag)
  local out = dir .. "/u-" .. tag
  local o, ok = sh(("umoci unpack --image %s:%s %s"):format(quote(dir .. "/img"), tag, quote(out)))
  assert(ok, o)
  o, ok = sh(("cd %s/rootfs && find . -mindepth 1 -not -path './bin/*' -printf '%%y %%m %%U:%%G %%p\\n'")
    :format(quote(out)))
  assert(ok, o)
  local set = {}
  for line in o:gmatch("[^\n]+") do set[line] = true end
  return set, out .. "/rootfs"
end

describe("rootless img:run (as uid 65534)", function()
  local tmp, why
  setup(function() why = missing() end)
  before_each(function()
    tmp = support.tmpdir()
    assert(os.execute("chmod 755 " .. quote(tmp)))
  end)
  after_each(function() support.rmdir(tmp) end)

  it("commits created, changed and deleted files, owned by root unless the base said otherwise", function()
    if why then return pending(why) end
    local out, ok = build(tmp, "change")
    assert(ok, out)
    assert.matches("^ok\n", out)
    assert.matches("stdout:id=0:0", out, 1, true) -- root in the step's namespace
    assert_clean(tmp)
    local before = umoci_tree(tmp, "base")
    local after, root = umoci_tree(tmp, "ran")
    local want = {}
    for k in pairs(before) do want[k] = true end
    want["f 644 0:0 ./etc/keep/b"] = nil
    for _, k in ipairs({ "f 644 0:0 ./etc/new", "d 755 0:0 ./opt", "d 755 0:0 ./opt/app", "f 600 0:0 ./opt/app/x",
      "d 555 0:0 ./ro", "f 644 0:0 ./ro/r" }) do
      want[k] = true
    end
    -- the base's 1000:1000 owners, kept through user.rootlesscontainers
    assert.is_true(before["f 644 1000:1000 ./home/app/f"])
    assert.is_true(before["d 755 1000:1000 ./home/app"])
    assert.are.same(want, after)
    assert.are.equal("a\nchanged\n", support.read(root .. "/etc/keep/a"))
    assert.are.equal("f\nmore\n", support.read(root .. "/home/app/f"))
    -- mode 0000 files (Fedora's /etc/shadow): read by the comparison and
    -- the layer, their mode kept, unchanged ones left out
    assert.is_true(after["f 0 0:0 ./etc/shadow"])
    assert.is_true(after["f 0 0:0 ./etc/gshadow"])
    assert.are.equal("root:*:19000:0:99999:7:::\napp:!:19000::::::\n", support.read(root .. "/etc/shadow"))
    -- the xattr itself does not enter the layer
    -- (python's tarfile reads the RUN layer: the changed file is there with
    -- its owner, and no entry carries the xattr as a PAX record)
    local L = assert(oci.layout.open(tmp .. "/img"))
    local r = assert(L:resolve("ran"))
    local blob = L:blob_path(r.layers[#r.layers]:digest())
    L:close()
    assert.are.equal("etc/shadow 0:0 mode 0\nhome/app/f 1000:1000\nxattrs 0\n", support.py([[
import sys, tarfile
n = 0
with tarfile.open(sys.argv[1], "r:*") as t:
    for m in t:
        n += sum(1 for k in m.pax_headers if "xattr" in k)
        if m.name == "home/app/f": print("%s %d:%d" % (m.name, m.uid, m.gid))
        if m.name.startswith("etc/") and "shadow" in m.name:
            print("%s %d:%d mode %o" % (m.name, m.uid, m.gid, m.mode))
print("xattrs %d" % n)
]], blob))
  end)

  it("layer.build{rootless} reads a file of its own of mode 0000 and gives its mode back", function()
    if why then return pending(why) end
    local out, ok = build(tmp, "unreadable")
    assert(ok, out)
    assert.matches("^ok\nmode after 0\n", out)
    assert.are.equal("f 0 secret\n", support.py([[
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    for m in t:
        if m.isfile(): print("%s %o %s" % (m.name, m.mode, t.extractfile(m).read().decode()))
]], tmp .. "/l.tar"))
  end)

  it("network \"none\": loopback only, no route", function()
    if why then return pending(why) end
    local out, ok = build(tmp, "network")
    assert(ok, out)
    assert.matches("^ok\n", out)
    local routes, ifaces = 0, 0
    for line in out:gmatch("[^\n]+") do
      if line:match("^%w+%s+%x%x%x%x%x%x%x%x%s") then routes = routes + 1 end
      if line:match("^%s*[%w]+:%s+%d") then ifaces = ifaces + 1 end
    end
    assert.are.equal(0, routes, out)
    assert.are.equal(1, ifaces, out)
    assert.matches("lo:", out, 1, true)
    assert_clean(tmp)
  end)

  it("a failing command fails with its code and stderr, leaves nothing behind", function()
    if why then return pending(why) end
    local out, ok = build(tmp, "fail")
    assert(ok, out)
    assert.matches("^fail command RUN mkdir /made; echo oops >&2; exit 3: exit code 3: oops\n", out)
    assert.is_nil(out:find("subuid", 1, true)) -- the id note only where an id was refused
    assert_clean(tmp)
    assert.are.equal("", (sh("ls -A " .. quote(tmp) .. " | grep -v '^home$\\|^img$\\|^steps$'")))
    assert.are.equal("", (sh("ls -A " .. quote(tmp .. "/home"))), "left in HOME") -- no runtime state there
  end)

  it("a chown to an id the namespace does not map fails naming the cause", function()
    if why then return pending(why) end
    local out, ok = build(tmp, "chown")
    assert(ok, out)
    assert.matches("^fail command RUN touch /x; chown 1000:1000 /x: exit code 1: .*Invalid argument", out)
    assert.matches("no /etc/subuid range is used", out, 1, true)
    assert_clean(tmp)
  end)

  it("an image user other than root is refused before anything runs", function()
    if why then return pending(why) end
    local out, ok = build(tmp, "user")
    assert(ok, out)
    assert.matches("^fail unsupported RUN: cannot run rootless: its user is uid 1000 gid 1000", out)
    assert_clean(tmp)
  end)

  it("without user namespaces (max_user_namespaces 0) fails saying what is missing", function()
    if why then return pending(why) end
    -- a user namespace of our own (uids 0-65535 mapped to themselves), its
    -- limit set to 0 inside: the host's stays as it is
    local wrap = [[python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
r, w = os.pipe(); r2, w2 = os.pipe()
pid = os.fork()
if pid == 0:
    if libc.unshare(0x10000000) != 0: os._exit(90)
    os.write(w2, b"u"); os.read(r, 1)
    open("/proc/sys/user/max_user_namespaces", "w").write("0")
    os.execvp(sys.argv[1], sys.argv[1:])
os.read(r2, 1)
for m in ("uid_map", "gid_map"):
    open("/proc/%d/%s" % (pid, m), "w").write("0 0 65536\n")
os.write(w, b"x")
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
']]
    local out, ok = build(tmp, "fail", wrap)
    assert(ok, out)
    assert.matches("^fail unsupported RUN: cannot run rootless: user namespaces are disabled: "
      .. "/proc/sys/user/max_user_namespaces is 0", out)
    assert_clean(tmp)
  end)
end)
