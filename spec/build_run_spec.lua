-- img:run (ocispec.build_run): commands run in the image with runc/crun,
-- their change committed as one layer. Oracles: umoci unpacks the result
-- (its tree listed by find), /proc/mounts, the temporary directory, the
-- runtime's own view. Needs root, runc (or crun) and umoci: else pending.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")

local APPLETS = { "sh", "echo", "cat", "ls", "rm", "mkdir", "touch", "chmod", "env", "pwd", "id", "sleep",
  "true", "false", "printf", "grep", "mv" }

local quote = support.quote

local sh = support.sh

local function have(tool)
  local _, ok = sh("command -v " .. quote(tool))
  return ok
end

local function is_root()
  return (sh("id -u")):match("^0") ~= nil
end

-- Why the specs cannot run here, or nil.
local function missing()
  if not is_root() then return "img:run needs root" end
  if not have("runc") and not have("crun") then return "neither runc nor crun is installed" end
  local f = io.open("/bin/busybox", "rb")
  if not f then return "/bin/busybox (busybox-static) is missing" end
  f:close()
end

-- A busybox base image (as examples/build_image.lua) in a new layout.
local function base(dir)
  assert(os.execute("mkdir -p " .. quote(dir)))
  local L = assert(oci.layout.create(dir))
  local entries = {
    { path = "bin", type = "dir", mode = 493 },
    { path = "bin/busybox", type = "file", source = "/bin/busybox", mode = 493 },
    { path = "etc", type = "dir", mode = 493 },
    { path = "etc/passwd", type = "file", content = "root:x:0:0:root:/root:/bin/sh\n", mode = 420 },
    { path = "etc/group", type = "file", content = "root:x:0:\n", mode = 420 },
    { path = "etc/keep", type = "dir", mode = 493 },
    { path = "etc/keep/a", type = "file", content = "a\n", mode = 420 },
    { path = "etc/keep/b", type = "file", content = "b\n", mode = 420 },
    { path = "tmp", type = "dir", mode = 1023 },
  }
  for _, a in ipairs(APPLETS) do
    entries[#entries + 1] = { path = "bin/" .. a, type = "symlink", target = "busybox" }
  end
  local img = oci.build.Image.new(L, { created = 1704067200, platform = { os = "linux" } })
  assert(img:add_layer { entries = entries, mtime = 1704067200, uid = 0, gid = 0 })
  img:env("PATH", "/bin")
  return L, img
end

-- `find` over the rootfs that umoci unpacks from tag of layout dir: one
-- line "type mode owner path [content]" per entry, sorted.
local function umoci_tree(dir, tag, out)
  local o, ok = sh(("umoci unpack --image %s:%s %s"):format(quote(dir), tag, quote(out)))
  assert(ok, o)
  o, ok = sh(("cd %s/rootfs && find . -mindepth 1 -printf '%%y %%m %%U:%%G %%p\\n' | sort")
    :format(quote(out)))
  assert(ok, o)
  local set = {}
  for line in o:gmatch("[^\n]+") do set[line] = true end
  return set
end

-- No mount below dir, nothing left in dir.
local function assert_clean(dir)
  local f = assert(io.open("/proc/mounts"))
  local mounts = f:read("a")
  f:close()
  assert.is_nil(mounts:find(dir, 1, true), "a mount is left below " .. dir)
  local left = sh("ls -A " .. quote(dir))
  assert.are.equal("", left, "left behind in the step directory")
end

describe("img:run", function()
  local tmp, why
  setup(function() why = missing() end)
  before_each(function()
    tmp = support.tmpdir()
    assert(os.execute("mkdir " .. quote(tmp .. "/steps")))
  end)
  after_each(function() support.rmdir(tmp) end)

  for _, overlay in ipairs({ true, false }) do
    local how = overlay and "overlayfs upper directory" or "snapshot comparison"
    it("commits created, changed and deleted files as one layer (" .. how .. "), as umoci unpacks it", function()
      if why then return pending(why) end
      if not have("umoci") then return pending("umoci is not installed") end
      local L, img = base(tmp .. "/img")
      assert(img:commit("base"))
      local before = umoci_tree(tmp .. "/img", "base", tmp .. "/u0")
      local out = {}
      assert(img:run([[
        set -e
        echo new > /etc/new; mkdir -p /opt/app; echo x > /opt/app/x; chmod 600 /opt/app/x
        echo changed > /etc/passwd
        rm /etc/group
        rm -r /etc/keep; mkdir /etc/keep; echo c > /etc/keep/c
        echo done]], { overlay = overlay, tmpdir = tmp .. "/steps",
          output = function(stream, data) out[#out + 1] = stream .. ":" .. data end }))
      assert.are.same({ "stdout:done\n" }, out)
      assert_clean(tmp .. "/steps")
      local m = assert(img:commit("ran"))
      local after = umoci_tree(tmp .. "/img", "ran", tmp .. "/u1")
      -- the expected tree: the base's, with the change
      local want = {}
      for k in pairs(before) do want[k] = true end
      want["f 644 0:0 ./etc/group"] = nil
      want["f 644 0:0 ./etc/keep/a"] = nil
      want["f 644 0:0 ./etc/keep/b"] = nil
      want["f 644 0:0 ./etc/new"] = true
      want["d 755 0:0 ./opt"] = true
      want["d 755 0:0 ./opt/app"] = true
      want["f 600 0:0 ./opt/app/x"] = true
      want["f 644 0:0 ./etc/keep/c"] = true
      assert.are.same(want, after)
      assert.are.equal("changed\n", support.read(tmp .. "/u1/rootfs/etc/passwd"))
      -- one layer more, with its history entry; opaque directory and whiteouts in it
      local r = assert(L:resolve("ran"))
      assert.are.equal(m:digest(), r.descriptor:digest())
      assert.are.equal(2, #r.layers)
      local h = r.config:to_table().history
      assert.matches("^RUN %s+set %-e", h[#h].created_by)
      local names = {}
      for _, e in ipairs(assert(oci.layer.entries(tmp .. "/img/blobs/sha256/" .. r.layers[2]:digest():sub(8)))) do
        names[e.path] = e.type
      end
      assert.are.equal("file", names["etc/.wh.group"])
      if overlay then
        assert.are.equal("file", names["etc/keep/.wh..wh..opq"])
      end
      -- mount points the runtime needs are not in the layer
      assert.is_nil(names["proc/"])
      assert.is_nil(names["dev/"])
    end)
  end

  for _, overlay in ipairs({ true, false }) do
    it("sees a content change that kept size and mtime (" .. (overlay and "overlayfs" or "snapshot") .. ")", function()
      if why then return pending(why) end
      local _, img = base(tmp .. "/img")
      assert(img:run("echo z > /etc/keep/a; touch -r /etc/keep/b /etc/keep/a",
        { overlay = overlay, tmpdir = tmp .. "/steps" }))
      local d = img.layers[#img.layers].digest
      local names = {}
      for _, e in ipairs(assert(oci.layer.entries(tmp .. "/img/blobs/sha256/" .. d:sub(8)))) do
        names[#names + 1] = e.path
      end
      table.sort(names)
      assert.are.same({ "etc/", "etc/keep/", "etc/keep/a" }, names)
    end)
  end

  it("fails on a non-zero exit with the code and stderr's tail, commits nothing, leaves nothing", function()
    if why then return pending(why) end
    local _, img = base(tmp .. "/img")
    local n_layers, n_hist = #img.layers, #img.cfg.history
    local ok, msg, err = img:run("echo partial > /p; echo boom >&2; exit 3",
      { tmpdir = tmp .. "/steps", output = function() end })
    support.assert_fails({ "exit code 3", "boom" }, { code = "command", exit_code = 3 }, ok, msg, err)
    assert.are.equal(n_layers, #img.layers)
    assert.are.equal(n_hist, #img.cfg.history)
    assert_clean(tmp .. "/steps")
  end)

  it("kills a command past its timeout", function()
    if why then return pending(why) end
    local _, img = base(tmp .. "/img")
    local t0 = os.time()
    local ok, msg, err = img:run("sleep 30", { tmpdir = tmp .. "/steps", timeout = 0.5 })
    support.assert_fails({ "timed out after 0.5s" }, { code = "command", timed_out = true }, ok, msg, err)
    assert.is_true(os.time() - t0 < 10)
    assert_clean(tmp .. "/steps")
  end)

  it("cleans up when the output callback raises, and raises its error", function()
    if why then return pending(why) end
    local _, img = base(tmp .. "/img")
    assert.has_error(function()
      img:run("echo hi; sleep 30", { tmpdir = tmp .. "/steps", output = function() error("stop here") end })
    end, "stop here")
    assert_clean(tmp .. "/steps")
  end)

  it("cleans up when the build script is interrupted (SIGTERM), then dies of the signal", function()
    if why then return pending(why) end
    local script = tmp .. "/interrupted.lua"
    -- its container's process is found by `sleep N` in /proc/*/cmdline: a
    -- number of this run's own (ctest runs other specs' containers beside it)
    local sleep = tostring(math.random(20000, 89999))
    -- the base again, from the script: Image.from needs a tag
    local L, img = base(tmp .. "/img2")
    assert(img:commit("base"))
    L:close()
    support.write(script, ("package.path = %q; package.cpath = %q\n"):format(package.path, package.cpath) .. ([[
      local oci = require "ocispec"
      local img = assert(oci.build.Image.from(assert(oci.layout.open(%q)), "base"))
      img:run("echo started; sleep %s", { tmpdir = %q, output = function(_, d)
        local f = io.open(%q, "w"); f:write(d); f:close() end })
      print("not reached")
    ]]):format(tmp .. "/img2", sleep, tmp .. "/steps", tmp .. "/started"))
    local out = sh(("lua5.4 %s & pid=$!; i=0; while [ ! -s %s ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; "
      .. "kill -TERM $pid; wait $pid 2>/dev/null; echo status=$?"):format(quote(script), quote(tmp .. "/started")))
    assert.matches("status=143", out)
    assert.is_nil(out:find("not reached", 1, true))
    assert_clean(tmp .. "/steps")
    -- every process's command line, from /proc (not ps: procps' ps
    -- deadlocks at start when the ASan runtime is preloaded, as under ctest's ASan busted)
    local procs = {}
    for pid in sh("ls /proc"):gmatch("%d+") do
      local f = io.open("/proc/" .. pid .. "/cmdline", "rb")
      if f then
        procs[#procs + 1] = (f:read("a") or ""):gsub("%z", " ")
        f:close()
      end
    end
    assert.is_true(#procs > 1, "no process found under /proc")
    procs = table.concat(procs, "\n")
    assert.is_nil(procs:find("sleep " .. sleep, 1, true), "the container's process survived")
  end)

  it("network \"none\" has loopback only and no route out; \"host\" has the host's", function()
    if why then return pending(why) end
    local _, img = base(tmp .. "/img")
    local function net(network)
      local out = {}
      assert(img:run("cat /proc/net/route /proc/net/dev", { network = network, tmpdir = tmp .. "/steps",
        output = function(_, d) out[#out + 1] = d end }))
      return table.concat(out)
    end
    local none = net(nil)
    local routes = 0
    for line in none:gmatch("[^\n]+") do
      if line:match("^%w+%s+%x%x%x%x%x%x%x%x%s") then routes = routes + 1 end
    end
    assert.are.equal(0, routes, none)
    assert.matches("lo:", none)
    local ifaces = 0
    for _ in none:gmatch("\n%s*[%w]+:") do ifaces = ifaces + 1 end
    assert.are.equal(1, ifaces, none)
    local host_routes = support.read("/proc/net/route")
    if host_routes:match("\n%w+%s+%x") then
      assert.matches("\n%w+%s+%x%x%x%x%x%x%x%x%s", net("host"))
    end
    assert_clean(tmp .. "/steps")
  end)

  it("passes env, workdir, user and mounts (bind ro/rw, tmpfs), none of which enter the layer", function()
    if why then return pending(why) end
    local _, img = base(tmp .. "/img")
    assert(os.execute(("mkdir -p %s/ro %s/rw && echo host > %s/ro/f"):format(quote(tmp), quote(tmp), quote(tmp))))
    local out = {}
    assert(img:run([[
      echo "$FOO $(pwd) $(id -u)"; cat /in/f; (echo w > /in/w) 2>/dev/null || echo ro-refused
      echo out > /out/o; echo t > /scratch/t; mkdir -p /work]], {
      env = { FOO = "bar" }, workdir = "/", user = "0",
      mounts = {
        { type = "bind", source = tmp .. "/ro", target = "/in", readonly = true },
        { type = "bind", source = tmp .. "/rw", target = "/out" },
        { type = "tmpfs", target = "/scratch" },
      },
      tmpdir = tmp .. "/steps", output = function(_, d) out[#out + 1] = d end }))
    assert.are.equal("bar / 0\nhost\nro-refused\n", table.concat(out))
    assert.are.equal("out\n", support.read(tmp .. "/rw/o"))
    local names = {}
    local d = img.layers[#img.layers].digest
    for _, e in ipairs(assert(oci.layer.entries(tmp .. "/img/blobs/sha256/" .. d:sub(8)))) do
      names[#names + 1] = e.path
    end
    assert.are.same({ "work/" }, names)
  end)

  it("keeps the cache directory private: device nodes and setuid files a step left are out of others' reach", function()
    if why then return pending(why) end
    -- an existing cache directory open to all (0755): made 0700
    local cache = tmp .. "/cache"
    assert(os.execute(("mkdir -m 755 %s"):format(quote(cache))))
    local _, img = base(tmp .. "/img")
    assert(img:run("busybox mknod /cache/disk b 7 0 && chmod 666 /cache/disk && busybox cp /bin/busybox /cache/su "
      .. "&& chmod 4755 /cache/su",
      { mounts = { { type = "cache", id = "c1", target = "/cache" } }, cache_dir = cache, tmpdir = tmp .. "/steps" }))
    assert.are.equal("700\n", sh("stat -c %a " .. quote(cache)))
    -- the nodes are there (as BuildKit's are), below a folder only root enters
    assert.are.equal("block special file 666\nregular file 4755\n", sh(("stat -c '%%F %%a' %s %s")
      :format(quote(cache .. "/c1/disk"), quote(cache .. "/c1/su"))))
    if have("setpriv") then
      local out, ok = sh(("setpriv --reuid 65534 --regid 65534 --clear-groups stat %s 2>&1")
        :format(quote(cache .. "/c1/disk")))
      assert.is_falsy(ok, out)
      assert.truthy(out:find("Permission denied", 1, true), out)
    end
    -- one of another user's, or a symbolic link: refused, nothing run
    support.rmdir(cache)
    assert(os.execute(("mkdir -m 700 %s && chown 65534 %s"):format(quote(cache), quote(cache))))
    support.assert_fails({ "RUN: cache mount c1", "owned by uid 65534" }, {},
      img:run("true", { mounts = { { type = "cache", id = "c1", target = "/c" } }, cache_dir = cache,
        tmpdir = tmp .. "/steps" }))
    support.rmdir(cache)
    assert(os.execute(("mkdir %s && ln -s %s %s"):format(quote(tmp .. "/elsewhere"), quote(tmp .. "/elsewhere"),
      quote(cache))))
    support.assert_fails({ "RUN: cache mount c1" }, {},
      img:run("true", { mounts = { { type = "cache", id = "c1", target = "/c" } }, cache_dir = cache,
        tmpdir = tmp .. "/steps" }))
    assert.are.equal("", sh("ls -A " .. quote(tmp .. "/elsewhere")))
    assert_clean(tmp .. "/steps")
  end)

  it("keeps a cache mount between steps and builds by id, out of the image", function()
    if why then return pending(why) end
    local function build(n)
      local _, img = base(tmp .. "/img" .. n)
      local out = {}
      assert(img:run("cat /cache/count 2>/dev/null; echo run >> /cache/count", {
        mounts = { { type = "cache", id = "counter", target = "/cache" } }, cache_dir = tmp .. "/cache",
        tmpdir = tmp .. "/steps", output = function(_, d) out[#out + 1] = d end }))
      local names = {}
      local d = img.layers[#img.layers].digest
      for _, e in ipairs(assert(oci.layer.entries(tmp .. "/img" .. n .. "/blobs/sha256/" .. d:sub(8)))) do
        names[#names + 1] = e.path
      end
      assert.are.same({}, names)
      return table.concat(out)
    end
    assert.are.equal("", build(1))
    assert.are.equal("run\n", build(2))
    assert.are.equal("run\nrun\n", support.read(tmp .. "/cache/counter/count"))
    assert_clean(tmp .. "/steps")
  end)

  it("runs with crun when asked", function()
    if why then return pending(why) end
    if not have("crun") then return pending("crun is not installed") end
    local _, img = base(tmp .. "/img")
    local out = {}
    local ok, msg = img:run("echo via crun > /c; cat /c", { runtime = "crun", tmpdir = tmp .. "/steps",
      output = function(_, d) out[#out + 1] = d end })
    assert_clean(tmp .. "/steps")
    if not ok and msg:find("cgroups in hybrid mode not supported", 1, true) then
      return pending("crun cannot run containers on this machine (cgroup v1/v2 hybrid): " .. msg)
    end
    assert(ok, msg)
    assert.are.equal("via crun\n", table.concat(out))
    assert_clean(tmp .. "/steps")
  end)

  it("refuses bad options", function()
    local _, img = base(tmp .. "/img")
    local function raises(part, f)
      local ok, e = pcall(f)
      assert.is_false(ok)
      assert.is_truthy(tostring(e):find(part, 1, true), tostring(e))
    end
    raises('unknown option "nope"', function() img:run("true", { nope = 1 }) end)
    raises('run: network must be "none" or "host", got bridge', function() img:run("true", { network = "bridge" }) end)
    raises('run: mounts[1].type must be "bind", "tmpfs" or "cache", got nfs',
      function() img:run("true", { mounts = { { type = "nfs", target = "/x" } } }) end)
    raises('run: mounts[1].target must be an absolute path',
      function() img:run("true", { mounts = { { type = "tmpfs", target = "x" } } }) end)
    raises("run: an empty command", function() img:run({}) end)
    raises("run: mounts[1].id: letters, digits", function()
      img:run("true", { mounts = { { type = "cache", id = "../x", target = "/c" } } })
    end)
    local ok, msg, err = img:run("true", { runtime = "no-such-runtime" })
    support.assert_fails({ "no OCI runtime found (no-such-runtime)" }, { code = "unsupported" }, ok, msg, err)
  end)
end)
