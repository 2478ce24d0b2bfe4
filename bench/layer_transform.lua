-- Layer transform speed: ocispec.layer.transform (one pass, no unpacking)
-- against what it replaces, in the same run, on one gzip layer of about MB
-- MiB: (a) unpack with GNU tar + layer.build{dir=} (the tree on disk), and
-- (b) the floor of any gzip-to-gzip rewrite, `gzip -dc | gzip -6`.
-- Figures and ratios only (bench/README.md records them), never pass/fail.
--
--   OCISPEC_BENCH_MB=100 lua5.4 bench/layer_transform.lua
local layer = require("ocispec").layer
local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")

local MB = bench.env_number("OCISPEC_BENCH_MB", 100)
local FILES = bench.env_number("OCISPEC_BENCH_FILES", 400)
local sh = bench.sh
local base = bench.workdir("transform")

-- FILES files of pseudo-random words (about half compressible).
local seed = 4242
local function rnd(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return (seed >> 8) % n
end
local function words(bytes)
  local parts, len = {}, 0
  while len < bytes do
    local w = {}
    for k = 1, 2 + rnd(10) do w[k] = string.char(97 + rnd(26)) end
    w[#w + 1] = rnd(3) == 0 and string.pack("<I3", rnd(1 << 24)) or " "
    parts[#parts + 1] = table.concat(w)
    len = len + #parts[#parts]
  end
  return table.concat(parts):sub(1, bytes)
end
local entries = {}
local per = MB * 1024 * 1024 // FILES
local block = words(per)
for i = 1, FILES do
  -- the same words shifted: distinct files, no cross-file dedup for gzip
  local k = rnd(per)
  entries[i] = { path = ("d%02d/f%04d"):format(i % 16, i), content = block:sub(k + 1) .. block:sub(1, k) }
end
local src = assert(layer.build{ entries = entries, output = base .. "/in.tar.gz", mtime = 0 })

local function timed(name, fn)
  local dt = bench.timed(fn)
  print(("%-44s %7.2f s"):format(name, dt))
  return dt
end

print(("one gzip layer: %d files, %.1f MiB uncompressed, %.1f MiB blob")
  :format(FILES, src.uncompressed_size / 1048576, src.size / 1048576))
local t_keep = timed("layer.transform, keep all", function()
  local r = assert(layer.transform(src.path, nil, { output = base .. "/keep.tar.gz" }))
  assert(r.digest == src.digest)
end)
local t_edit = timed("layer.transform, rename + chmod every file", function()
  assert(layer.transform(src.path, function(e)
    if e.type == "file" then return { path = "x/" .. e.path, mode = 384 } end
  end, { output = base .. "/edit.tar.gz" }))
end)
local t_unpack = timed("tar -xzf + layer.build{dir=}", function()
  sh(("mkdir -p '%s/tree' && tar -C '%s/tree' -xzf '%s'"):format(base, base, src.path))
  assert(layer.build{ dir = base .. "/tree", output = base .. "/rebuilt.tar.gz", mtime = 0 })
end)
local t_floor = timed("gzip -dc | gzip -6 (floor)", function()
  sh(("gzip -dc '%s' | gzip -6 > '%s/floor.gz'"):format(src.path, base))
end)
print(("ratios: unpack+build / transform %.2fx; transform / gzip floor %.2fx; edit / keep %.2fx")
  :format(t_unpack / t_keep, t_keep / t_floor, t_edit / t_keep))
bench.remove(base)
