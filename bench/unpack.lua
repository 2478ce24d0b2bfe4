-- Unpacking an image into a runtime bundle: `ocispec unpack` against
-- `umoci unpack` on the same 5-layer gzip image, in the same run (rounds
-- interleaved, best of ROUNDS). Both check every blob against its digest
-- (umoci verifies each blob it reads; ocispec each layer's digest, size
-- and diff_id as it applies it, once, into the temporary bundle).
-- Figures and ratios only, never pass/fail; the load average and each
-- tool's CPU time are printed, since a shared machine blurs wall-clock
-- time.
--
--   OCISPEC_BENCH_MB=200 OCISPEC_BENCH_ROUNDS=3 lua5.4 bench/unpack.lua
-- (as root: umoci unpack without --rootless needs it; otherwise both run
-- rootless)
local oci = require("ocispec")

local MB = tonumber(os.getenv("OCISPEC_BENCH_MB")) or 200
local ROUNDS = tonumber(os.getenv("OCISPEC_BENCH_ROUNDS")) or 1
local LAYERS = 5

local function now()
  local p = assert(io.popen("date +%s%N"))
  local ns = assert(tonumber(p:read("l")))
  p:close()
  return ns / 1e9
end

local function sh(cmd)
  assert(os.execute(cmd), "command failed: " .. cmd)
end

local function out(cmd)
  local p = assert(io.popen(cmd))
  local s = p:read("a")
  p:close()
  return s
end

local src = os.getenv("OCISPEC_SOURCE_DIR") or "."
local bin = src .. "/bin/ocispec"
local root = out("id -u"):match("^0") ~= nil
local rootless = root and "" or " --rootless"
local tmp = os.getenv("TMPDIR") or "/tmp"
local base = tmp .. "/ocispec-bench-unpack." .. os.time() .. "." .. math.random(1e6)
sh("mkdir -p '" .. base .. "'")

-- The image: LAYERS layers of about MB / LAYERS MiB each, files copied from
-- the machine's /usr/lib and /usr/bin (binaries: gzip takes them to ~40%),
-- with a few files of a lower layer replaced or deleted by the next.
local t0 = now()
local list = {}
local p = assert(io.popen("find /usr/lib /usr/bin -type f -size +16k -size -4096k 2>/dev/null | LC_ALL=C sort"))
for line in p:lines() do list[#list + 1] = line end
p:close()
local L = assert(oci.layout.create(base .. "/img"))
local img = oci.build.Image.new(L, { created = 0 })
local per_layer = MB * 1024 * 1024 // LAYERS
local k = 1
local total = 0
for n = 1, LAYERS do
  local dir = ("%s/layer%d"):format(base, n)
  sh("mkdir -p '" .. dir .. "/usr/lib'")
  local size = 0
  while size < per_layer and k <= #list do
    local f = io.open(list[k], "rb")
    if f then
      local s = f:seek("end")
      f:close()
      local name = ("%s/usr/lib/f%05d"):format(dir, k)
      if os.execute(("cp '%s' '%s' 2>/dev/null"):format(list[k], name)) then size = size + s end
    end
    k = k + 1
  end
  if k > #list then k = 1 end
  if n > 1 then -- replace one file of the layer below, delete another
    sh(("printf new > '%s/usr/lib/f%05d' && touch '%s/usr/lib/.wh.f%05d'"):format(dir, k - 1, dir, k - 2))
  end
  assert(img:add_layer{ dir = dir, mtime = 0 })
  total = total + size
  sh("rm -rf '" .. dir .. "'")
end
assert(img:commit("bench"))
L:close()
local f = io.open("/proc/loadavg")
local load = f and f:read("l") or "?"
if f then f:close() end
print(("unpack bench: %d layers, %.1f MiB of files (prepared in %.1f s), load average %s"):format(
  LAYERS, total / 1048576, now() - t0, load))

local variants = {
  { "ocispec unpack" .. rootless,
    ("lua5.4 '%s' unpack%s '%s/img:bench' '%%s' >/dev/null"):format(bin, rootless, base) },
  { "umoci unpack" .. rootless, ("umoci unpack%s --image '%s/img:bench' '%%s' >/dev/null"):format(rootless, base) },
}
-- wall time (best of ROUNDS) and the CPU time of that round (user + sys
-- of every thread and process, from bash's `time`): on a loaded machine
-- the CPU ratio is the steadier figure
local best, cpu = {}, {}
for r = 1, ROUNDS do
  for i, v in ipairs(variants) do
    local bundle = ("%s/bundle.%d.%d"):format(base, i, r)
    local cpufile = bundle .. ".cpu"
    local s = now()
    sh(("bash -c \"TIMEFORMAT='%%U %%S'; time (%s)\" 2> '%s'"):format(v[2]:format(bundle), cpufile))
    local w = now() - s
    local cf = assert(io.open(cpufile))
    local us, sy = cf:read("n", "n")
    cf:close()
    if w < (best[i] or math.huge) then best[i], cpu[i] = w, us + sy end
    sh("rm -rf '" .. bundle .. "' '" .. cpufile .. "'")
  end
end
for i, v in ipairs(variants) do
  print(("  %-28s %7.2f s  %7.1f MB/s  %6.2f s CPU"):format(v[1], best[i], total / 1e6 / best[i], cpu[i]))
end
print(("  ratio umoci / ocispec: %.2f  (> 1: ocispec faster; goal >= 2)   CPU: %.2f"):format(
  best[2] / best[1], cpu[2] / cpu[1]))
sh("rm -rf '" .. base .. "'")
