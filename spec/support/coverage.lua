-- Line coverage of the Lua layer without luacov (not packaged in Debian 12):
-- `scripts/test.sh --coverage` sets LUA_INIT_5_4="@<this file>" and
-- OCISPEC_LUA_COVERAGE_DIR, so every lua5.4 process of the suites (busted,
-- the CLI, the examples) counts the lines it runs in files under lua/ and
-- bin/ of the checkout with a debug.sethook line hook, and writes them to a
-- file of that folder when it ends (normally, by os.exit, or closed).
-- scripts/lua-coverage.lua sums them up.
local dir = os.getenv("OCISPEC_LUA_COVERAGE_DIR")
if not dir or dir == "" then return end
local root = os.getenv("OCISPEC_SOURCE_DIR") or ""

local hits, wanted = {}, {}
local getinfo = debug.getinfo

-- Normalize a chunk's source to a path relative to the checkout, or false.
local function relpath(source)
  local w = wanted[source]
  if w ~= nil then return w end
  local path = source:match("^@(.*)$")
  w = false
  if path then
    path = path:gsub("^%./", "")
    if root ~= "" and path:sub(1, #root + 1) == root .. "/" then path = path:sub(#root + 2) end
    if path:match("^lua/ocispec/.*%.lua$") or path == "bin/ocispec" then w = path end
  end
  wanted[source] = w
  return w
end

local function hook(_, line)
  local file = relpath(getinfo(2, "S").source)
  if file then
    local t = hits[file]
    if not t then
      t = {}
      hits[file] = t
    end
    t[line] = true
  end
end
debug.sethook(hook, "l")

local written = false
local function flush()
  if written then return end
  written = true
  debug.sethook()
  local name = ("%s/%d-%s.cov"):format(dir, os.time(), tostring(hits):match("0x(%x+)") or "x")
  local f = io.open(name, "w")
  if not f then return end
  for file, lines in pairs(hits) do
    local list = {}
    for l in pairs(lines) do list[#list + 1] = l end
    table.sort(list)
    f:write(file, "\t", table.concat(list, ","), "\n")
  end
  f:close()
end

local exit = os.exit
os.exit = function(...) -- luacheck: ignore 122
  flush()
  return exit(...)
end
-- a normal end closes the state: the sentinel's finalizer writes the counts.
-- The registry anchors it (the hook table alone does not keep it alive).
debug.getregistry()["ocispec.coverage"] = setmetatable({ hits = hits, hook = hook }, { __gc = flush })
