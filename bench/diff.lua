-- Comparing two images (oci.diff) against unpacking both (oci.unpack.image)
-- and walking the two trees with Python (lstat, sha256 of every file,
-- xattrs), in the same run: images sharing their two base layers (read
-- once), and the same files with every layer recompressed (zstd against
-- gzip: nothing shared, every layer read on both sides). Figures and
-- ratios only, never pass/fail.
--
--   OCISPEC_BENCH_MB=60 lua5.4 bench/diff.lua
local oci = require("ocispec")
local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")

local MB = bench.env_number("OCISPEC_BENCH_MB", 60)
local base = bench.workdir("diff")

local words = bench.words(12345)
local usr, opt = bench.files(words, "usr", MB * 2 // 3, 400), bench.files(words, "opt", MB // 3, 200)
local top1 = { { path = "etc", type = "dir" }, { path = "etc/hostname", type = "file", content = "one\n" } }
local top2 = { { path = "etc", type = "dir" }, { path = "etc/hostname", type = "file", content = "two\n" },
  { path = "usr", type = "dir" }, { path = "usr/.wh.f0001", type = "file", content = "" } }

local L = assert(oci.layout.create(base .. "/layout"))
local function image(tag, layers, compression)
  local img = oci.build.Image.new(L, { created = 0 })
  for _, l in ipairs(layers) do assert(img:add_layer{ entries = l, compression = compression }) end
  assert(img:commit(tag))
end
image("v1", { usr, opt, top1 })
image("v2", { usr, opt, top2 })
image("v1z", { usr, opt, top1 }, "zstd")
L:close()

-- the paths that differ between two trees (Python: lstat, sha256, xattrs)
local TREE_DIFF = bench.dir .. "../tests/diff/tree_diff.py"

local function ours(a, b)
  local d = assert(oci.diff("oci:" .. base .. "/layout:" .. a, "oci:" .. base .. "/layout:" .. b))
  return #d.files.added + #d.files.removed + #d.files.changed
end

local function unpack_walk(a, b)
  local L2 = assert(oci.layout.open(base .. "/layout"))
  for _, t in ipairs({ a, b }) do
    os.execute("rm -rf '" .. base .. "/u-" .. t .. "'")
    assert(oci.unpack.image(L2, t, base .. "/u-" .. t))
  end
  L2:close()
  local p = assert(io.popen(("python3 '%s' '%s/u-%s/rootfs' '%s/u-%s/rootfs'"):format(TREE_DIFF, base, a, base, b)))
  local n = 0
  for _ in p:lines() do n = n + 1 end
  p:close()
  return n
end

local t_shared, n_shared = bench.timed(function() return ours("v1", "v2") end)
local t_all, n_all = bench.timed(function() return ours("v1", "v1z") end)
local t_unpack, n_unpack = bench.timed(function() return unpack_walk("v1", "v2") end)
bench.remove(base)

print(("images of %d MiB in 3 layers, %d files"):format(MB, #usr + #opt))
print(("diff, 2 base layers shared   %.3f s  (%d changes)  unpack+walk/diff = %.1fx"):format(t_shared, n_shared,
  t_unpack / t_shared))
print(("diff, nothing shared (zstd)  %.3f s  (%d changes)  unpack+walk/diff = %.1fx"):format(t_all, n_all,
  t_unpack / t_all))
print(("unpack both + python walk    %.3f s  (%d changes)"):format(t_unpack, n_unpack))
