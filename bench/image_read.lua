-- Reading one file of an image without unpacking it (oci.image_reader)
-- against unpacking the image (oci.unpack.image) and reading the file, in
-- the same run: a file of the top layer (read: the top layer only) and a
-- file of the base layer (read: every layer). Figures and ratios only,
-- never pass/fail.
--
--   OCISPEC_BENCH_MB=60 lua5.4 bench/image_read.lua
local oci = require("ocispec")
local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")

local MB = bench.env_number("OCISPEC_BENCH_MB", 60)
local base = bench.workdir("read")

local words = bench.words(12345)
local L = assert(oci.layout.create(base .. "/layout"))
local img = oci.build.Image.new(L, { created = 0 })
assert(img:add_layer{ entries = bench.files(words, "usr", MB * 2 // 3, 200) })
assert(img:add_layer{ entries = bench.files(words, "opt", MB // 3, 100) })
assert(img:add_layer{ entries = { { path = "etc", type = "dir" },
  { path = "etc/hostname", type = "file", content = "bench\n" } } })
assert(img:commit("t"))

local timed = bench.timed

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
bench.remove(base)

print(("image of %d MiB in 3 layers (file contents, gzip)"):format(MB))
print(("read a top-layer file   %.3f s  (1 layer read)  unpack/read = %.1fx"):format(t_top, t_unpack / t_top))
print(("read a base-layer file  %.3f s  (3 layers read) unpack/read = %.1fx"):format(t_base, t_unpack / t_base))
print(("unpack.image + read     %.3f s"):format(t_unpack))
