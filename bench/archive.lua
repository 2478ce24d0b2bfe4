-- Archive import and export: ocispec.transport.copy against `skopeo copy`
-- between the same transports, in the same run, on one image of about MB
-- MiB (uncompressed layers of pseudo-random, half-compressible content, as
-- docker save writes them). Figures and ratios only, never pass/fail.
--
--   OCISPEC_BENCH_MB=200 OCISPEC_BENCH_ROUNDS=2 lua5.4 bench/archive.lua
--
-- Pairs: oci -> oci-archive, oci-archive -> oci, oci -> docker-archive,
-- docker-archive -> oci. skopeo runs with --preserve-digests where the
-- formats allow (oci <-> oci-archive) so both do the same work.
local oci = require("ocispec")
local T = oci.transport

local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")

local MB = bench.env_number("OCISPEC_BENCH_MB", 200)
local ROUNDS = bench.env_number("OCISPEC_BENCH_ROUNDS", 2)
local LAYERS = 4
local now, sh = bench.now, bench.sh
local base = bench.workdir("archive")

-- LAYERS layers of MB/LAYERS MiB each: files of random bytes and of
-- repeated words (about half compressible), uncompressed in the layout.
local L = assert(oci.layout.create(base .. "/src"))
local img = oci.build.Image.new(L, { created = 0, compression = "none" })
local seed = 7
local function chunk(n)
  local t = {}
  for i = 1, n // 8 do
    seed = (seed * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
    t[i] = (i % 2 == 0) and string.pack("<i8", seed) or "abcdefgh"
  end
  return table.concat(t)
end
local per = (MB << 20) // LAYERS
for l = 1, LAYERS do
  local entries = {}
  for f = 1, 8 do
    entries[#entries + 1] = { path = ("l%d/f%d"):format(l, f), type = "file", mode = 420, content = chunk(per // 8) }
  end
  assert(img:add_layer{ entries = entries })
end
assert(img:commit("bench"))
L:close()

local src = "oci:" .. base .. "/src:bench"
local pairs_ = {
  { "export oci -> oci-archive", src, "oci-archive:%s/out-%s.tar:bench", true },
  { "import oci-archive -> oci", "oci-archive:" .. base .. "/in.tar:bench", "oci:%s/out-%s:bench", true },
  { "export oci -> docker-archive", src, "docker-archive:%s/out-%s.tar:bench/x:1", false },
  { "import docker-archive -> oci", "docker-archive:" .. base .. "/in-docker.tar", "oci:%s/out-%s:bench", false },
}
assert(T.copy(src, "oci-archive:" .. base .. "/in.tar:bench"))
assert(T.copy(src, "docker-archive:" .. base .. "/in-docker.tar:bench/x:1"))

local function clean()
  sh(("rm -rf '%s'/out-*"):format(base))
end

print(("image: %d MiB in %d uncompressed layers; %d round(s), best of each"):format(MB, LAYERS, ROUNDS))
print(("%-30s %10s %10s %8s"):format("pair", "ocispec s", "skopeo s", "ratio"))
for _, pr in ipairs(pairs_) do
  local best_o, best_s = math.huge, math.huge
  for _ = 1, ROUNDS do
    clean()
    local t0 = now()
    assert(T.copy(pr[2], pr[3]:format(base, "o")))
    local t1 = now()
    sh(("skopeo copy --quiet %s '%s' '%s'"):format(pr[4] and "--preserve-digests" or "", pr[2],
      pr[3]:format(base, "s")))
    local t2 = now()
    best_o, best_s = math.min(best_o, t1 - t0), math.min(best_s, t2 - t1)
  end
  print(("%-30s %10.2f %10.2f %7.2fx"):format(pr[1], best_o, best_s, best_s / best_o))
end
clean()
bench.remove(base)
print("ratio: skopeo's time over ocispec's (above 1: ocispec is faster)")
