-- oci.build.parallel: build stages whose RUN steps run at the same time.
-- The proof of concurrency is a handshake, not a clock: stage 1's command
-- waits for a file stage 2's command writes and the other way round
-- (through a shared bind mount), which cannot end if one ran after the
-- other. A failing stage cancels the other's running command; misuse
-- raises; stages without RUN steps run in order.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")

local function missing()
  if not support.sh("id -u"):match("^0") then return "RUN steps need root" end
  if support.sh("command -v runc || true") == "" then return "runc is not installed" end
end

local function base(L)
  local img = oci.build.Image.new(L, { created = 1704067200, cache = false })
  assert(img:add_layer { entries = {
    { path = "bin", type = "dir", mode = 493 },
    { path = "bin/busybox", type = "file", source = "/bin/busybox", mode = 493 },
    { path = "bin/sh", type = "symlink", target = "busybox" },
  }, mtime = 1704067200, uid = 0, gid = 0 })
  img:env("PATH", "/bin")
  return img
end

-- a shell loop waiting (at most ~60 s: slow under valgrind) for /shared/NAME
local function wait_for(name)
  return ("i=0; while [ ! -e /shared/%s ]; do i=$((i+1)); [ $i -gt 1200 ] && exit 3; busybox sleep 0.05; done")
    :format(name)
end

describe("oci.build.parallel", function()
  local tmp
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  it("runs the RUN steps of two stages at the same time (each waits for the other)", function()
    local why = missing()
    if why then return pending(why) end
    local L = assert(oci.layout.create(tmp .. "/L"))
    os.execute("mkdir -p '" .. tmp .. "/shared' '" .. tmp .. "/runs'")
    local function opts()
      return { output = function() end, tmpdir = tmp .. "/runs",
        mounts = { { type = "bind", source = tmp .. "/shared", target = "/shared" } } }
    end
    local a, b = oci.build.parallel {
      function()
        local img = base(L)
        assert(img:run("busybox touch /shared/a && " .. wait_for("b") .. " && echo A > /a", opts()))
        return img
      end,
      function()
        local img = base(L)
        assert(img:run(wait_for("a") .. " && busybox touch /shared/b && echo B > /b", opts()))
        return img
      end,
    }
    assert.are.equal(2, #a.layers)
    assert.are.equal(2, #b.layers)
    assert(a:commit("a"))
    assert(b:commit("b"))
    local function has(tag, path)
      local r = assert(L:resolve(tag))
      for _, e in ipairs(assert(oci.layer.entries(L:blob_path(r.layers[2]:digest())))) do
        if e.path == path then return true end
      end
      return false
    end
    assert.is_true(has("a", "a"))
    assert.is_true(has("b", "b"))
    assert.are.equal("", support.sh("ls -A '" .. tmp .. "/runs'"))
  end)

  it("a failing stage stops the other's command and is raised; nothing is left behind", function()
    local why = missing()
    if why then return pending(why) end
    local L = assert(oci.layout.create(tmp .. "/L"))
    os.execute("mkdir -p '" .. tmp .. "/runs'")
    local q = { output = function() end, tmpdir = tmp .. "/runs" }
    local t0 = oci.core.run.now()
    local ok, err = pcall(oci.build.parallel, {
      function() return assert(base(L):run("busybox sleep 300", q)) end,
      function() return assert(base(L):run("busybox sleep 0.3; exit 5", q)) end,
    })
    assert.is_false(ok)
    assert.matches("parallel: stage 2: [^\n]*exit code 5", err)
    assert.is_true(oci.core.run.now() - t0 < 200, "the 300 s command was not stopped")
    assert.are.equal("", support.sh("ls -A '" .. tmp .. "/runs'"))
  end)

  it("SIGTERM stops every stage's command, each cleans up, then the process ends by the signal", function()
    local why = missing()
    if why then return pending(why) end
    os.execute("mkdir -p '" .. tmp .. "/runs'")
    support.write(tmp .. "/stages.lua", ([[
      local oci = require "ocispec"
      local L = assert(oci.layout.create(%q))
      local q = { output = function() end, tmpdir = %q }
      local function stage()
        local img = oci.build.Image.new(L, { cache = false })
        assert(img:add_layer { entries = {
          { path = "bin/busybox", type = "file", source = "/bin/busybox", mode = 493 },
          { path = "bin/sh", type = "symlink", target = "busybox" } } })
        return assert(img:run("busybox touch /tmp/started; busybox sleep 60", q))
      end
      io.stdout:write("go\n"); io.stdout:flush()
      oci.build.parallel { stage, stage }
    ]]):format(tmp .. "/L", tmp .. "/runs"))
    -- TERM once both stages' containers run (two step directories)
    local out = support.sh(([[
      cd %s || exit 1
      lua5.4 stages.lua > out.txt 2>&1 & pid=$!
      i=0; while [ "$(ls runs | wc -l)" -lt 2 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
      echo "steps $(ls runs | wc -l)"; sleep 1; kill -TERM $pid; wait $pid; echo "status $?"]]):format(tmp))
    assert.matches("steps 2\n", out, 1, true)
    assert.matches("status 143\n", out, 1, true)
    assert.are.equal("go\n", support.read(tmp .. "/out.txt")) -- no Lua error: the signal ended it
    assert.are.equal("", support.sh("ls -A '" .. tmp .. "/runs'"))
  end)

  -- A fake runtime: `run` succeeds at once, `delete` sends SIGTERM to the
  -- build (its parent) and takes a moment before it ends, so the signal
  -- arrives while the stage cleans up.
  local FAKE = [[#!/bin/sh
case " $* " in
*" run "*) exit 0 ;;
*" delete "*) echo delete >> "$0.log"; kill -TERM $PPID; sleep 0.3; echo deleted >> "$0.log"; exit 0 ;;
esac
exit 1
]]
  for _, parallel in ipairs({ true, false }) do
    it(("a SIGTERM during `runtime delete` (%s) ends the process by it, after every cleanup")
        :format(parallel and "two parallel stages" or "one step"), function()
      if not support.sh("id -u"):match("^0") then return pending("RUN steps need root") end
      os.execute("mkdir -p '" .. tmp .. "/runs'")
      support.write(tmp .. "/rt", FAKE)
      assert(os.execute("chmod 755 '" .. tmp .. "/rt'"))
      support.write(tmp .. "/stages.lua", ([[
        local oci = require "ocispec"
        local L = assert(oci.layout.create(%q))
        local q = { output = function() end, tmpdir = %q, runtime = %q }
        local function stage()
          local img = oci.build.Image.new(L, { cache = false })
          assert(img:add_layer { entries = { { path = "f", type = "file", content = "x" } } })
          assert(img:run("true", q))
          io.stdout:write("committed\n")
        end
        io.stdout:write("go\n"); io.stdout:flush()
        if %s then oci.build.parallel { stage, stage } else stage() end
        io.stdout:write("not ended by the signal\n")
      ]]):format(tmp .. "/L", tmp .. "/runs", tmp .. "/rt", tostring(parallel)))
      local out = support.sh(("cd '%s' && { lua5.4 stages.lua > out.txt 2>&1 & wait $!; echo \"status $?\"; }")
        :format(tmp))
      assert.matches("status 143\n$", out) -- 128 + SIGTERM (the shell may say "Terminated" first)
      assert.are.equal("go\n", support.read(tmp .. "/out.txt")) -- no Lua error, nothing committed
      -- every stage's delete ran to its end, every step directory is gone
      local n = parallel and 2 or 1
      assert.are.equal(("delete\n"):rep(n), (support.read(tmp .. "/rt.log"):gsub("deleted\n", "")))
      assert.are.equal(n, select(2, support.read(tmp .. "/rt.log"):gsub("deleted\n", "")))
      assert.are.equal("", support.sh("ls -A '" .. tmp .. "/runs'"))
    end)
  end

  it("stages without RUN steps run in order; misuse raises", function()
    local order = {}
    local x, y, z = oci.build.parallel {
      function() order[#order + 1] = 1; return "one" end,
      function() order[#order + 1] = 2; return 2 end,
      function() order[#order + 1] = 3 end,
    }
    assert.are.same({ 1, 2, 3 }, order)
    assert.are.equal("one", x)
    assert.are.equal(2, y)
    assert.is_nil(z)
    assert.has_error(function() oci.build.parallel { function() end, 5 } end,
      "parallel: [2] is not a function (number)")
    assert.has_error(function() oci.build.parallel("f") end, "parallel: a list of functions expected, got string")
    local ok, err = pcall(oci.build.parallel, { function() oci.build.parallel {} end })
    assert.is_false(ok)
    assert.matches("already inside oci.build.parallel", err, 1, true)
    -- the signal mask is restored: SIGINT is not left blocked
    local blocked = oci.core.run.block_signals()
    oci.core.run.restore_signals(blocked)
    assert.are.equal(0, blocked)
  end)
end)
