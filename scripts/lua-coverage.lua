-- Sum the line hits spec/support/coverage.lua wrote (scripts/test.sh
-- --coverage):  lua5.4 scripts/lua-coverage.lua SOURCE_DIR COVERAGE_DIR
-- The lines that hold code are those luac5.4 -l -l lists for each file; a
-- file no process loaded counts as 0%. Prints one line per file and a total.
local src, dir = arg[1], arg[2]
assert(src and dir, "usage: lua5.4 scripts/lua-coverage.lua SOURCE_DIR COVERAGE_DIR")

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function lines_of(cmd)
  local p = assert(io.popen(cmd))
  local out = {}
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  return out
end

-- files: every lua/ocispec/*.lua and bin/ocispec
local files = lines_of("cd " .. quote(src) .. " && find lua/ocispec -name '*.lua' | sort")
files[#files + 1] = "bin/ocispec"

local hit = {}
for _, name in ipairs(lines_of("ls " .. quote(dir) .. " 2>/dev/null")) do
  for line in io.lines(dir .. "/" .. name) do
    local file, list = line:match("^([^\t]+)\t(.*)$")
    if file then
      hit[file] = hit[file] or {}
      for n in list:gmatch("%d+") do hit[file][tonumber(n)] = true end
    end
  end
end

local total_code, total_hit = 0, 0
for _, file in ipairs(files) do
  local code = {}
  -- a leading #! line is not Lua: luac gets the file without it
  local cmd = ("sed '1s/^#!.*//' %s | luac5.4 -p -l -l - 2>/dev/null"):format(quote(src .. "/" .. file))
  for _, l in ipairs(lines_of(cmd)) do
    local n = l:match("^%s+%d+%s+%[(%d+)%]")
    if n then code[tonumber(n)] = true end
  end
  local n_code, n_hit = 0, 0
  for n in pairs(code) do
    n_code = n_code + 1
    if hit[file] and hit[file][n] then n_hit = n_hit + 1 end
  end
  total_code, total_hit = total_code + n_code, total_hit + n_hit
  if n_code > 0 then
    print(("%6.1f%%  %5d/%-5d %s"):format(100 * n_hit / n_code, n_hit, n_code, file))
  end
end
print(("Lua line coverage: %.1f%% (%d of %d lines)"):format(total_code > 0 and 100 * total_hit / total_code or 0,
  total_hit, total_code))
