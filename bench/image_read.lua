-- Reading one file of an image without unpacking it (oci.image_reader)
-- against unpacking the image (oci.unpack.image) and reading the file, in
-- the same run: a file of the top layer (read: the top layer only) and a
-- file of the base layer (read: every layer). Figures and ratios only,
-- never pass/fail.
--
--   OCISPEC_BENCH_MB=60 lua5.4 bench/image_read.lua
local oci = require("ocispec")

local MB = tonumber(os.getenv("OCISPEC_BENCH_MB")) or 60

local function now()
  local p = assert(io.popen("date +%s%N"))
  local ns = assert(tonumber(p:read("l")))
  p:close()
  return ns / 1e9
end

local tmp = os.getenv("TMPDIR") or "/tmp"
local base = tmp .. "/ocispec-bench-read." .. os.time() .. "." .. math.random(1e6)
assert(os.execute("mkdir -p '" .. base .. "'"))

-- pseudo-random words: about half compressible, as real files
local seed = 12345
local function words(bytes)
  local parts, len = {}, 0
  while len < bytes do
    seed = (seed * 1103515245 + 12345) % 2147483648
    local w = ("%x"):format(seed) .. " "
    parts[#parts + 1] = w
    len = len + #w
  end
  return table.concat(parts)
end

local function files(prefix, mb, count)
  local e = { { path = prefix, type = "dir" } }
  for i = 1, count do
    e[#e + 1] = { path = ("%s/f%04d"):format(prefix, i), type = "file",
      content = words(mb * 1024 * 1024 // count) }
  end
  return e
end

local L = assert(oci.layout.create(base .. "/layout"))
local img = oci.build.Image.new(L, { created = 0 })
local base_entries = files("usr", MB * 2 // 3, 200)
assert(img:add_layer{ entries = base_entries })
assert(img:add_layer{ entries = files("opt", MB // 3, 100) })
assert(img:add_layer{ entries = { { path = "etc", type = "dir" },
  { path = "etc/hostname", type = "file", content = "bench\n" } } })
assert(img:commit("t"))

local function timed(f)
  local t0 = now()
  f()
  return now() - t0
end

local t_top = timed(function()
  local r = assert(oci.image_reader(L, "t"))
  assert(assert(r:read("/etc/hostname")) == "bench\n")
  assert(r:layers_read() == 1)
  r:close()
end)
local t_base = timed(function()
  local r = assert(oci.image_reader(L, "t"))
  assert(#assert(r:read("/usr/f0001")) > 0)
  r:close()
end)
local t_unpack = timed(function()
  assert(oci.unpack.image(L, "t", base .. "/bundle", { rootless = true }))
  local f = assert(io.open(base .. "/bundle/rootfs/etc/hostname"))
  f:close()
end)
os.execute("rm -rf '" .. base .. "'")

print(("image of %d MiB in 3 layers (file contents, gzip)"):format(MB))
print(("read a top-layer file   %.3f s  (1 layer read)  unpack/read = %.1fx"):format(t_top, t_unpack / t_top))
print(("read a base-layer file  %.3f s  (3 layers read) unpack/read = %.1fx"):format(t_base, t_unpack / t_base))
print(("unpack.image + read     %.3f s"):format(t_unpack))
