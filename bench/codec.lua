-- Codec speed from Lua: T.from_json(s), obj:validate(), obj:to_json() and
-- the round trip, in docs/s and MB/s (median of several runs), next to
-- lua-cjson's decode + encode of the same document measured in the same
-- run. Also: getters do not copy the document (a scalar getter costs the
-- same on the 10000-manifest index as on the 3-manifest one), and the
-- memory a parsed document holds. Figures, never pass/fail.
--
-- Run by `bash bench/run.sh` (the `bench` target) with the build tree's
-- module; inputs as bench/codec.c: $OCISPEC_BENCH_INPUTS, else
-- ../shared/bench-inputs beside the source tree; the generated ones from
-- bench_codec --generate.
local oci = require "ocispec"
local cjson = require "cjson"

local src = os.getenv("OCISPEC_SOURCE_DIR") or "."
local build = os.getenv("OCISPEC_BUILD_DIR") or (src .. "/build-rel")
local inputs_dir = os.getenv("OCISPEC_BENCH_INPUTS")
if not inputs_dir or inputs_dir == "" then inputs_dir = src .. "/../shared/bench-inputs" end
local quick = os.getenv("OCISPEC_BENCH_QUICK")
local RUNS = (quick and quick ~= "" and quick ~= "0") and 3 or 7

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- generated inputs: written by the C bench; make them if it has not run
local gen = build .. "/bench-generated"
if not read(gen .. "/index-10000.json") then
  os.execute(string.format("'%s/bench/bench_codec' --generate '%s'", build, gen))
end

local image, runtime = oci.image, oci.runtime
local docs = {
  { "image-manifest.json", inputs_dir, image.ImageManifest },
  { "image-index.json", inputs_dir, image.ImageIndex },
  { "image-config.json", inputs_dir, image.ImageConfiguration },
  { "runtime-config.json", inputs_dir, runtime.Spec },
  { "index-10000.json", gen, image.ImageIndex },
  { "config-5000.json", gen, image.ImageConfiguration },
}

local clock = os.clock
local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

-- median ops/s of f over RUNS passes of about 20 ms each
local function rate(f)
  local n = 1
  while true do
    local t0 = clock()
    for _ = 1, n do f() end
    local t = clock() - t0
    if t > 0.02 or n > (1 << 30) then break end
    n = t < 0.002 and n * 10 or math.floor(n * 0.025 / t) + 1
  end
  local r = {}
  for k = 1, RUNS do
    local t0 = clock()
    for _ = 1, n do f() end
    r[k] = n / (clock() - t0)
  end
  return median(r)
end

print(string.format("## Lua codec (median of %d runs; MB/s of the bytes read, to_json: "
  .. "compact bytes written)", RUNS))
local summary = {}
for _, d in ipairs(docs) do
  local name, dir, T = d[1], d[2], d[3]
  local s = read(dir .. "/" .. name)
  if not s then
    print(string.format("\n%s: not found in %s (set OCISPEC_BENCH_INPUTS)", name, dir))
  else
    local obj = assert(T.from_json(s))
    local out = obj:to_json()
    local cj = cjson.decode(s)
    local cj_out = cjson.encode(cj)
    local r = {}
    r.from_json = rate(function() return T.from_json(s) end)
    r.validate = rate(function() return obj:validate() end)
    r.to_json = rate(function() return obj:to_json() end)
    r.roundtrip = rate(function() return T.from_json(s):to_json() end)
    r.decode = rate(function() return cjson.decode(s) end)
    r.encode = rate(function() return cjson.encode(cj) end)
    r.cjson_rt = rate(function() return cjson.encode(cjson.decode(s)) end)
    local bytes = {
      from_json = #s, validate = #s, to_json = #out, roundtrip = #s,
      decode = #s, encode = #cj_out, cjson_rt = #s,
    }
    print(string.format("\n%s: %s, %d bytes (compact %d)", name, T.name or name, #s, #out))
    print(string.format("  %-24s %12s %10s %12s", "phase", "docs/s", "MB/s", "x cjson"))
    local rows = {
      { "from_json", "decode" }, { "validate" }, { "to_json", "encode" },
      { "roundtrip", "cjson_rt" }, { "decode" }, { "encode" }, { "cjson_rt" },
    }
    local label = {
      decode = "cjson.decode", encode = "cjson.encode", cjson_rt = "cjson decode+encode",
    }
    for _, row in ipairs(rows) do
      local k, base = row[1], row[2]
      print(string.format("  %-24s %12.0f %10.1f %12s", label[k] or k, r[k], r[k] * bytes[k] / 1e6,
        base and string.format("%.2f", r[k] / r[base]) or ""))
    end
    -- from_json + to_json vs cjson.decode + cjson.encode: time per document
    local ours = 1 / r.from_json + 1 / r.to_json
    local theirs = 1 / r.decode + 1 / r.encode
    print(string.format("  from_json + to_json vs cjson.decode + cjson.encode: %.2fx faster", theirs / ours))
    print(string.format("  memory: the document holds %d bytes (%.2fx its JSON)", obj:memory_size(),
      obj:memory_size() / #s))
    summary[#summary + 1] = { name, theirs / ours, r.from_json * #s / 1e6, r.to_json * #out / 1e6 }
  end
end

-- Getters alias the document: a scalar getter, a child object and a
-- field of it cost the same whatever the document's size.
print("\n## Getters (calls/s; the same on a small and a large document = no copying)")
local small = assert(image.ImageIndex.from_json(read(inputs_dir .. "/image-index.json")))
local big_s = read(gen .. "/index-10000.json")
if big_s then
  local big = assert(image.ImageIndex.from_json(big_s))
  local function getters(idx)
    return rate(function() return idx:media_type() end),
      rate(function() return idx:subject() end),
      rate(function() return idx:annotations() end)
  end
  local a1, b1, c1 = getters(small)
  local a2, b2, c2 = getters(big)
  print(string.format("  %-34s %14s %14s %8s", "getter", "3 manifests", "10000 manifests", "ratio"))
  print(string.format("  %-34s %14.0f %14.0f %8.2f", "idx:media_type()", a1, a2, a1 / a2))
  print(string.format("  %-34s %14.0f %14.0f %8.2f", "idx:subject() (absent)", b1, b2, b1 / b2))
  print(string.format("  %-34s %14.0f %14.0f %8.2f", "idx:annotations() (2 entries)", c1, c2, c1 / c2))
  local m = big:manifests()
  local per = rate(function() return big:manifests() end)
  print(string.format("  idx:manifests() on 10000 manifests: %.0f calls/s (%d child objects, each aliasing "
    .. "the document: %.0f ns per child)", per, #m, 1e9 / per / #m))
  local child = m[5000]
  print(string.format("  child:digest() %.0f calls/s", rate(function() return child:digest() end)))
end

-- Documents left to the collector (issue 18 goal 2): 300 round trips of
-- the 10000-manifest index, `local o = T.from_json(s); n = n + #o:to_json()`,
-- in a fresh lua5.4 per GC mode (and closing each document, the floor):
-- the peak RSS growth over the process with the input read and one
-- document parsed and freed, against one document's memory_size(); the
-- peak of the arena bytes not yet freed (core.arena_bytes()), the full
-- collections they caused and the Lua heap at the end.
local gc_rows = {}
if big_s then
  local tmp = os.tmpname()
  local script = tmp .. ".lua"
  local f = assert(io.open(script, "w"))
  f:write([[
    local oci = require("ocispec")
    local T = oci.image.ImageIndex
    local f = assert(io.open(arg[1], "rb"))
    local s = f:read("a")
    f:close()
    local mode, rounds = arg[2], tonumber(arg[3])
    local function hwm()
      for l in io.lines("/proc/self/status") do
        local v = l:match("^VmHWM:%s*(%d+)")
        if v then return tonumber(v) * 1024 end
      end
    end
    if mode ~= "close" then collectgarbage(mode) end
    local one
    do
      local d <close> = T.from_json(s)
      one = d:memory_size()
    end
    collectgarbage()
    local base, peak_arena, n = hwm(), 0, 0
    local _, full0 = oci.core.arena_bytes()
    local t0 = os.clock()
    for _ = 1, rounds do
      if mode == "close" then
        local o <close> = T.from_json(s)
        n = n + #o:to_json()
        peak_arena = math.max(peak_arena, (oci.core.arena_bytes()))
      else
        local o = T.from_json(s)
        n = n + #o:to_json()
        peak_arena = math.max(peak_arena, (oci.core.arena_bytes()))
      end
    end
    local _, full1 = oci.core.arena_bytes()
    print(base, hwm(), one, peak_arena, full1 - full0, collectgarbage("count"), os.clock() - t0, n)
  ]])
  f:close()
  for _, mode in ipairs({ "generational", "incremental", "close" }) do
    local p = io.popen(string.format("lua5.4 '%s' '%s/index-10000.json' %s 300", script, gen, mode))
    local out = p and p:read("a") or ""
    if p then p:close() end
    local base, peak, one, arena, full, heap, cpu = out:match(
      "^(%d+)%s+(%d+)%s+(%d+)%s+(%d+)%s+(%d+)%s+([%d.e+]+)%s+([%d.e+-]+)")
    if base then
      gc_rows[#gc_rows + 1] = { mode, (tonumber(peak) - tonumber(base)) / tonumber(one),
        (tonumber(peak) - tonumber(base)) / 2 ^ 20, tonumber(arena) / tonumber(one), tonumber(full),
        tonumber(heap) / 1024, tonumber(cpu) }
    else
      print("  300 round trips (" .. mode .. "): could not run: " .. out)
    end
  end
  os.remove(script)
  os.remove(tmp)
  print("\n## 300 round trips of the 10000-manifest index left to the collector (fresh lua5.4 each)")
  print(string.format("  %-14s %22s %14s %16s %11s %12s %8s", "GC mode", "peak RSS growth", "",
    "arena bytes peak", "full GCs", "Lua heap end", "CPU s"))
  for _, r in ipairs(gc_rows) do
    print(string.format("  %-14s %14.2f docs %11.1f MiB %11.2f docs %11d %9.1f MiB %8.2f",
      r[1] == "close" and "<close> each" or r[1], r[2], r[3], r[4], r[5], r[6], r[7]))
  end
end

print("\n## Lua targets")
local worst = math.huge
for _, row in ipairs(summary) do
  print(string.format("  %-22s from_json+to_json vs cjson decode+encode: %.2fx  (from_json %.0f MB/s, "
    .. "to_json %.0f MB/s)", row[1], row[2], row[3], row[4]))
  worst = math.min(worst, row[2])
end
print(string.format("  from_json + to_json >= 5x cjson.decode + cjson.encode on every input: "
  .. "worst %.2fx  %s", worst, worst >= 5 and "met" or "NOT met"))
local worst_gc = 0
for _, r in ipairs(gc_rows) do
  if r[1] ~= "close" then worst_gc = math.max(worst_gc, r[2]) end
end
if #gc_rows > 0 then
  print(string.format("  300 round trips left to the GC within a few (<= 4) documents' memory: "
    .. "worst peak RSS growth %.2f documents  %s", worst_gc, worst_gc <= 4 and "met" or "NOT met"))
end
