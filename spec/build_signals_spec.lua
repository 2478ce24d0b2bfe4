-- A build step interrupted anywhere (ocispec.build_run: signals held over
-- the whole step, checked between its phases): the process ends as the
-- signal would (128+N), and no step directory, overlay mount, runtime
-- state or container process is left. The signal is sent at each phase
-- deterministically by spec/fixtures/signal_build.lua (the step's
-- on_phase hook, or a wrapped module function), as root and as uid 65534
-- (rootless). Oracles: the shell's exit status, /proc/self/mountinfo,
-- the step directory, /proc/*/cmdline. Needs root, runc or crun, busybox
-- (and setpriv plus user namespaces for the rootless cases): else pending.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")

local quote, sh = support.quote, support.sh

local have = support.have

local function missing(rootless)
  if not (sh("id -u")):match("^0") then return "the test needs root" end
  if not have("runc") and not have("crun") then return "neither runc nor crun is installed" end
  if not support.read("/bin/busybox") then return "/bin/busybox (busybox-static) is missing" end
  if rootless then
    if not have("setpriv") then return "setpriv is not installed" end
    local out, ok = sh("setpriv --reuid 65534 --regid 65534 --clear-groups unshare -U -r true")
    if not ok then return "an unprivileged user cannot create a user namespace here: " .. out end
  end
end

local SIGNALS = { INT = 2, HUP = 1, QUIT = 3, TERM = 15 }

-- The "running" step sleeps this many seconds: its container's process is
-- found by `sleep SLEEP` in /proc/*/cmdline, so the number is this run's
-- own (ctest runs build_run_spec's and the valgrind run's containers
-- beside it; Lua 5.4 seeds math.random at start)
local SLEEP = tostring(math.random(20000, 89999))

-- Runs the fixture (WHERE, SIGNAL) in dir, as uid 65534 when rootless;
-- for "running", sends the signal once the command runs. The output and
-- the exit status.
local function build(dir, where, signame, rootless)
  local prefix = ""
  if rootless then
    assert(os.execute(("mkdir -p %s/home && chown -R 65534:65534 %s"):format(quote(dir), quote(dir))))
    prefix = ("setpriv --reuid 65534 --regid 65534 --clear-groups env HOME=%s TMPDIR=%s LUA_PATH=%s LUA_CPATH=%s")
      :format(quote(dir .. "/home"), quote(dir), quote(package.path), quote(package.cpath))
  end
  local cmd = ("%s lua5.4 %s %s %s %s %s"):format(prefix, quote(here .. "fixtures/signal_build.lua"), where, signame,
    quote(dir), SLEEP)
  local script
  if where == "running" then
    script = ("ulimit -c 0; %s > %s/out 2>&1 & pid=$!; i=0; while [ ! -e %s/started ] && [ $i -lt 300 ]; do "
      .. "sleep 0.1; i=$((i+1)); done; kill -%s $pid; wait $pid; echo status=$?; cat %s/out")
      :format(cmd, quote(dir), quote(dir), signame, quote(dir))
  else
    script = ("ulimit -c 0; %s > %s/out 2>&1; echo status=$?; cat %s/out"):format(cmd, quote(dir), quote(dir))
  end
  return sh(script)
end

-- Nothing left: the step directory empty, no mount below dir, no
-- container process.
local function assert_clean(dir)
  assert.are.equal("", (sh("ls -A " .. quote(dir .. "/steps"))), "left behind in the step directory")
  assert.is_nil(support.read("/proc/self/mountinfo"):find(dir, 1, true), "a mount is left below " .. dir)
  for pid in sh("ls /proc"):gmatch("%d+") do
    local f = io.open("/proc/" .. pid .. "/cmdline", "rb")
    if f then
      local c = (f:read("a") or ""):gsub("%z", " ")
      f:close()
      assert.is_nil(c:find("sleep " .. SLEEP, 1, true), "a container process survived: " .. c)
    end
  end
end

local CASES = {
  { "unpack", "INT" },    -- before the lower tree's first layer
  { "container", "HUP" }, -- overlay mounted (as root), bundle written
  { "running", "TERM" },  -- the command runs
  { "layer", "QUIT" },    -- the container deleted, the layer built
  { "store", "TERM" },    -- the cache record written
  { "copy_from", "INT" }, -- copy_from's temporary tree
}

for _, rootless in ipairs({ false, true }) do
  describe(("an interrupted build step (%s)"):format(rootless and "rootless, uid 65534" or "root"), function()
    local tmp, why
    setup(function() why = missing(rootless) end)
    before_each(function()
      tmp = support.tmpdir()
      assert(os.execute("chmod 755 " .. quote(tmp)))
    end)
    after_each(function() support.rmdir(tmp) end)

    for _, c in ipairs(CASES) do
      local where, signame = c[1], c[2]
      it(("SIG%s at %s: exit %d, nothing left"):format(signame, where, 128 + SIGNALS[signame]), function()
        if why then return pending(why) end
        local out = build(tmp, where, signame, rootless)
        assert.matches("status=" .. (128 + SIGNALS[signame]) .. "\n", out, 1, true)
        assert.is_nil(out:find("not reached", 1, true), out)
        assert_clean(tmp)
        if where == "store" then -- held over the store: the record is whole, a rebuild hits it
          local again = build(tmp, "rebuild", signame, rootless)
          assert.matches("status=0\ncached\n", again, 1, true)
          assert_clean(tmp)
        end
      end)
    end
  end)
end
