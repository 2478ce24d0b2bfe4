-- Library code runs no shell (DESIGN.md "Layers"): nothing in lua/ocispec
-- or bin/ calls os.execute or io.popen; what the CLI used them for (`id`,
-- `test -t 2`) are C helpers of the binding, core.fs.ids and core.fs.isatty,
-- checked here against `id` and a real terminal.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")
local fs = oci.core.fs

local ROOT = assert(oci.core.realpath(here .. ".."))

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Every way a Lua chunk can reach the two functions by name: os.execute,
-- os["execute"], os [ 'execute' ], io.popen, ... (an alias such as
-- `local x = os.execute` is caught by its right-hand side).
local PATTERNS = {
  "os%s*%.%s*execute%f[^%w_]", "os%s*%[%s*[\"']execute[\"']%s*%]",
  "io%s*%.%s*popen%f[^%w_]", "io%s*%[%s*[\"']popen[\"']%s*%]",
}

local function shell_calls(text)
  local found = {}
  local n = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    for _, p in ipairs(PATTERNS) do
      if line:find(p) then found[#found + 1] = ("%d: %s"):format(n, line) end
    end
  end
  return found
end

local function files()
  local list = {}
  for _, d in ipairs({ { "lua/ocispec", "%.lua$" }, { "lua/ocispec/cli", "%.lua$" }, { "bin", ".*" } }) do
    local dir = d[1]
    for _, name in ipairs(support.list(ROOT .. "/" .. dir, d[2])) do
      list[#list + 1] = dir .. "/" .. name
    end
  end
  return list
end

describe("library code runs no shell", function()
  it("the detector finds each form, and nothing in prose", function()
    for _, s in ipairs({ "os.execute('x')", "local e = os.execute", "os [ 'execute' ] ('x')",
      'os["execute"]("x")', "io.popen('id')", "local p = io .popen", 'io["popen"]("id")' }) do
      assert.are.equal(1, #shell_calls(s), s)
    end
    for _, s in ipairs({ "os.executed = 1", "my_io.popens()", "-- runs no shell", "os.exit(0)" }) do
      assert.are.same({}, shell_calls(s), s)
    end
  end)

  it("no os.execute or io.popen in lua/ocispec or bin", function()
    local list = files()
    assert.is_true(#list >= 10, "found only " .. #list .. " files")
    local seen_cli = false
    for _, path in ipairs(list) do
      seen_cli = seen_cli or path == "lua/ocispec/cli.lua"
      local found = shell_calls(assert(support.read(ROOT .. "/" .. path)))
      assert.are.same({}, found, path)
    end
    assert.is_true(seen_cli)
  end)
end)

describe("core.fs.ids and core.fs.isatty", function()
  local tmp
  before_each(function() tmp = support.tmpdir() end)
  after_each(function() support.rmdir(tmp) end)

  -- the output of a shell command (tests may run one)
  local function out(cmd)
    assert(os.execute(cmd .. " >" .. quote(tmp .. "/out") .. " 2>&1"), cmd)
    return (support.read(tmp .. "/out"):gsub("%s+$", ""))
  end

  it("ids() is what `id` prints", function()
    local ids = fs.ids()
    assert.are.equal(tonumber(out("id -ru")), ids.uid)
    assert.are.equal(tonumber(out("id -rg")), ids.gid)
    assert.are.equal(tonumber(out("id -u")), ids.euid)
    assert.are.equal(tonumber(out("id -g")), ids.egid)
    -- `id -G`: the effective gid, then the supplementary groups
    local want = {}
    for g in out("id -G"):gmatch("%d+") do want[tonumber(g)] = true end
    local got = { [ids.egid] = true }
    for _, g in ipairs(ids.groups) do got[g] = true end
    assert.are.same(want, got)
  end)

  it("ids() in another user's process, and `spec --rootless` maps that user", function()
    if out("id -u") ~= "0" then
      pending("needs root to run a process as another user (setpriv)")
      return
    end
    assert(os.execute("chmod 777 " .. quote(tmp)))
    local env = ("LUA_PATH=%s LUA_CPATH=%s"):format(quote(package.path), quote(package.cpath))
    local script = "local i = require('ocispec').core.fs.ids() "
      .. "io.write(i.uid, ' ', i.gid, ' ', i.euid, ' ', i.egid, ' ', #i.groups)"
    assert.are.equal("65534 65533 65534 65533 0", out(("%s setpriv --reuid=65534 --regid=65533 "
      .. "--clear-groups lua5.4 -e %s"):format(env, quote(script))))
    local bin = ROOT .. "/bin/ocispec"
    out(("%s setpriv --reuid=65534 --regid=65533 --clear-groups lua5.4 %s spec --rootless --bundle %s")
      :format(env, quote(bin), quote(tmp)))
    local spec = assert(oci.runtime.Spec.from_file(tmp .. "/config.json"))
    assert.are.equal(65534, spec:linux():uid_mappings()[1]:host_id())
    assert.are.equal(65533, spec:linux():gid_mappings()[1]:host_id())
  end)

  it("isatty() is false for a file and a pipe, true on a terminal", function()
    local f = assert(io.open(tmp .. "/f", "w"))
    assert.is_false(fs.isatty(f))
    f:close()
    local ok, msg = pcall(fs.isatty, f)
    assert.is_false(ok)
    assert.truthy(msg:find("attempt to use a closed file", 1, true), msg)
    assert.is_false(fs.isatty(99999))
    local script = "local c = require('ocispec').core.fs "
      .. "io.stdout:write(tostring(c.isatty(io.stderr)), ' ', tostring(c.isatty(2)), '\\n')"
    local env = ("LUA_PATH=%s LUA_CPATH=%s"):format(quote(package.path), quote(package.cpath))
    -- stderr a pipe
    assert.are.equal("false false", out(("%s lua5.4 -e %s 2>&1 | cat"):format(env, quote(script))))
    -- stderr a terminal: a pseudo-terminal made by Python's pty module
    local py = "import pty, sys; pty.spawn(sys.argv[1:])"
    local got = out(("%s python3 -c %s lua5.4 -e %s"):format(env, quote(py), quote(script)))
    assert.are.equal("true true", (got:gsub("\r", "")))
  end)
end)
