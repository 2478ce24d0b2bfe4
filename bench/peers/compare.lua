-- ocispec's C codec against the prebuilt peers of ../shared/peers, in the
-- same run (figures, never pass/fail): `bash bench/run.sh --peers`.
--
-- Every program speaks one protocol (../shared/peers/README.md); ours is
-- `bench_codec --peer`. Each round runs every program once over every
-- input (0.5 s per input), the order of the programs rotating from round
-- to round so that none always runs first or last on a machine whose load
-- drifts; the figure is the median over the rounds of round trips per CPU
-- second (parse + compact write + free). A peer that cannot run here is
-- reported as such, never left out silently.
--
-- usage: lua5.4 bench/peers/compare.lua --codec BENCH_CODEC --peers DIR
--          --inputs DIR --gen DIR [--rounds N] [--seconds S]
local args = { rounds = "5", seconds = "0.5" }
do
  local i = 1
  while i <= #arg do
    local k = arg[i]:match("^%-%-(%w+)$")
    if not k or not arg[i + 1] then
      io.stderr:write("usage: compare.lua --codec BENCH_CODEC --peers DIR --inputs DIR --gen DIR "
        .. "[--rounds N] [--seconds S]\n")
      os.exit(2)
    end
    args[k] = arg[i + 1]
    i = i + 2
  end
  for _, k in ipairs({ "codec", "peers", "inputs", "gen" }) do
    if not args[k] then
      io.stderr:write("compare.lua: --" .. k .. " is required\n")
      os.exit(2)
    end
  end
end
local ROUNDS, SECONDS = tonumber(args.rounds), tonumber(args.seconds)

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local INPUTS = {
  { name = "image-manifest", type = "manifest", path = args.inputs .. "/image-manifest.json" },
  { name = "image-index", type = "index", path = args.inputs .. "/image-index.json" },
  { name = "image-config", type = "config", path = args.inputs .. "/image-config.json" },
  { name = "runtime-config", type = "runtime", path = args.inputs .. "/runtime-config.json" },
  { name = "index-10000", type = "index", path = args.gen .. "/index-10000.json" },
  { name = "config-5000", type = "config", path = args.gen .. "/config-5000.json" },
}

-- name, command prefix, goal (our ratio to it)
local PROGRAMS = {
  { name = "ocispec", cmd = q(args.codec) .. " --peer" },
  { name = "oci-spec-rs", cmd = q(args.peers .. "/rt_ocispec_rs"), goal = 3 },
  { name = "Go", cmd = "GOMAXPROCS=1 " .. q(args.peers .. "/rt_go"), goal = 10 },
  { name = "libocispec", cmd = q(args.peers .. "/rt_libocispec"), goal = 10 },
  { name = "simdjson", cmd = q(args.peers .. "/rt_simdjson"), untyped = true },
}

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

local specs = {}
for _, inp in ipairs(INPUTS) do
  specs[#specs + 1] = q(inp.name .. ":" .. inp.type .. ":" .. inp.path)
end
local spec_args = table.concat(specs, " ")

-- Which programs run here (a missing shared library, say).
local usable = {}
for _, p in ipairs(PROGRAMS) do
  local ok, out = run(p.cmd .. " run 0.01 - " .. specs[1])
  if ok and out:find("^RESULT ") then
    usable[#usable + 1] = p
  else
    print(("%s: cannot run here, left out of this run: %s"):format(p.name,
      (out:gsub("%s+$", "")):sub(1, 200)))
  end
end

-- rates[program][input] = list of round trips per CPU second
local rates, parse_rates = {}, {}
for _, p in ipairs(usable) do rates[p.name] = {} end
local function collect(into, out)
  for name, iters, cpu, _, inb in out:gmatch("RESULT (%S+) (%d+) (%S+) (%S+) (%d+) %d+") do
    into[name] = into[name] or { rate = {}, bytes = tonumber(inb) }
    table.insert(into[name].rate, tonumber(iters) / tonumber(cpu))
  end
end
for r = 1, ROUNDS do
  for k = 0, #usable - 1 do
    local p = usable[(r + k - 1) % #usable + 1]
    local ok, out = run(("%s run %s - %s"):format(p.cmd, SECONDS, spec_args))
    if not ok then error(p.name .. " failed: " .. out) end
    collect(rates[p.name], out)
    if p.name == "ocispec" then
      local ok2, out2 = run(("%s parse %s - %s"):format(p.cmd, SECONDS, spec_args))
      if not ok2 then error("ocispec parse failed: " .. out2) end
      collect(parse_rates, out2)
    end
  end
end

local function fmt_rate(v)
  if not v then return "-" end
  if v >= 1e6 then return ("%.2fM"):format(v / 1e6) end
  if v >= 1e4 then return ("%.0fk"):format(v / 1e3) end
  if v >= 1e3 then return ("%.1fk"):format(v / 1e3) end
  return ("%.0f"):format(v)
end

print(("## Round trips per CPU second (parse + compact write + free), median of %d interleaved rounds, "
  .. "%s s per input; %s"):format(ROUNDS, SECONDS, os.date("!%Y-%m-%d %H:%M UTC")))
print()
local head = { ("%-16s"):format("input") }
for _, p in ipairs(usable) do head[#head + 1] = ("%11s"):format(p.name) end
for _, p in ipairs(usable) do
  if p.name ~= "ocispec" then head[#head + 1] = ("%13s"):format("/" .. p.name) end
end
print(table.concat(head, " "))
local short = {}
for _, inp in ipairs(INPUTS) do
  local row = { ("%-16s"):format(inp.name) }
  local ours = rates.ocispec and rates.ocispec[inp.name] and median(rates.ocispec[inp.name].rate)
  for _, p in ipairs(usable) do
    local e = rates[p.name][inp.name]
    row[#row + 1] = ("%11s"):format(fmt_rate(e and median(e.rate)))
  end
  for _, p in ipairs(usable) do
    if p.name ~= "ocispec" then
      local e = rates[p.name][inp.name]
      local theirs = e and median(e.rate)
      local ratio = ours and theirs and ours / theirs
      local mark = ""
      if ratio and p.goal and ratio < p.goal then
        mark = "*"
        short[#short + 1] = ("%s vs %s: %.2fx (goal %dx)"):format(inp.name, p.name, ratio, p.goal)
      end
      row[#row + 1] = ("%13s"):format(ratio and ("%.2fx%s"):format(ratio, mark) or "-")
    end
  end
  print(table.concat(row, " "))
end
print()
print("Goals: ocispec >= 3x oci-spec-rs and >= 10x Go and libocispec on every input (* = short of it);"
  .. " simdjson is untyped, the reference for scanning JSON at all.")
for _, s in ipairs(short) do print("  short: " .. s) end

-- Parse alone, in bytes per second of input.
print()
print("## ocispec parse alone (oci_parse + oci_free), input MB/s, median of the same rounds")
for _, inp in ipairs(INPUTS) do
  local e = parse_rates[inp.name]
  if e then
    local mbs = median(e.rate) * e.bytes / 1e6
    local goal = inp.name == "runtime-config" and "  (goal >= 1000 MB/s)" or ""
    print(("%-16s %8.0f MB/s%s"):format(inp.name, mbs, goal))
  end
end

-- Memory: what a parsed document holds (ocispec's arena) against its JSON,
-- and each program's peak-RSS growth for one round trip of the big index.
print()
print("## Memory")
for _, inp in ipairs(INPUTS) do
  local ok, out = run(("%s --rss %s %s"):format(q(args.codec), q(inp.path), inp.type))
  local _, _, arena, len = out:match("^(%d+) (%d+) (%d+) (%d+)")
  if ok and arena then
    local ratio = tonumber(arena) / tonumber(len)
    print(("%-16s ocispec arena %9d bytes = %.2fx the JSON%s"):format(inp.name, tonumber(arena), ratio,
      ratio > 1.5 and "  (goal <= 1.5x)" or ""))
  end
end
local big = INPUTS[5]
local size = io.open(big.path, "rb"):seek("end")
for _, p in ipairs(usable) do
  if not p.untyped then
    local ok, out = run(("%s rss %s %s 1"):format(p.cmd, big.type, q(big.path)))
    local before, after = out:match("RSS (%d+) (%d+)")
    if ok and before then
      local grow = (tonumber(after) - tonumber(before)) * 1024
      print(("%-12s peak RSS growth, one round trip of %s (%d bytes): %6.1f MiB = %.2fx the JSON"):format(
        p.name, big.name, size, grow / 1048576, grow / size))
    end
  end
end
