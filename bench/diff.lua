-- Comparing two images (oci.diff) against unpacking both (oci.unpack.image)
-- and walking the two trees with Python (lstat, sha256 of every file,
-- xattrs), in the same run: images sharing their two base layers (read
-- once), and the same files with every layer recompressed (zstd against
-- gzip: nothing shared, every layer read on both sides). Figures and
-- ratios only, never pass/fail.
--
--   OCISPEC_BENCH_MB=60 lua5.4 bench/diff.lua
local oci = require("ocispec")

local MB = tonumber(os.getenv("OCISPEC_BENCH_MB")) or 60

local function now()
  local p = assert(io.popen("date +%s%N"))
  local ns = assert(tonumber(p:read("l")))
  p:close()
  return ns / 1e9
end

local tmp = os.getenv("TMPDIR") or "/tmp"
local base = tmp .. "/ocispec-bench-diff." .. os.time() .. "." .. math.random(1e6)
assert(os.execute("mkdir -p '" .. base .. "'"))

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

local usr, opt = files("usr", MB * 2 // 3, 400), files("opt", MB // 3, 200)
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

local WALK = [[
import os, sys, hashlib, stat
def walk(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            c = hashlib.sha256(open(p, "rb").read()).hexdigest() if stat.S_ISREG(st.st_mode) else None
            xs = sorted(os.listxattr(p, follow_symlinks=False))
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_uid, st.st_gid, c, xs)
    return out
a, b = walk(sys.argv[1]), walk(sys.argv[2])
print(sum(1 for p in set(a) | set(b) if a.get(p) != b.get(p)))
]]
local f = assert(io.open(base .. "/walk.py", "w"))
f:write(WALK)
f:close()

local function timed(fn)
  local t0 = now()
  local r = fn()
  return now() - t0, r
end

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
  local p = assert(io.popen(("python3 '%s/walk.py' '%s/u-%s/rootfs' '%s/u-%s/rootfs'"):format(base, base, a, base, b)))
  local n = tonumber(p:read("l"))
  p:close()
  return n
end

local t_shared, n_shared = timed(function() return ours("v1", "v2") end)
local t_all, n_all = timed(function() return ours("v1", "v1z") end)
local t_unpack, n_unpack = timed(function() return unpack_walk("v1", "v2") end)
os.execute("rm -rf '" .. base .. "'")

print(("images of %d MiB in 3 layers, %d files"):format(MB, #usr + #opt))
print(("diff, 2 base layers shared   %.3f s  (%d changes)  unpack+walk/diff = %.1fx"):format(t_shared, n_shared,
  t_unpack / t_shared))
print(("diff, nothing shared (zstd)  %.3f s  (%d changes)  unpack+walk/diff = %.1fx"):format(t_all, n_all,
  t_unpack / t_all))
print(("unpack both + python walk    %.3f s  (%d changes)"):format(t_unpack, n_unpack))
