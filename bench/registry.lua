-- Registry transfer speed: ocispec.registry push, pull, second push (all
-- blobs present), copy within a registry (mount) and copy to a second
-- registry (every blob moved) against `skopeo copy` doing the same, on
-- docker-registry started here on 127.0.0.1 (plain HTTP), in the same
-- run; ocispec with its default `jobs` (4 blobs at once) and, for push,
-- with jobs = 1; then a pull of the big image cut at 90% of every layer
-- (tests/registry/fault_proxy.py) and run again: the bytes the second run
-- moves. Figures and ratios only (bench/README.md records them), never
-- pass/fail: when docker-registry is missing it says so and stops; without
-- skopeo only ocispec's figures are printed.
--
--   OCISPEC_BENCH_QUICK=1    1 run instead of 3 (median of the runs)
--   OCISPEC_BENCH_REG_MB     size of the big image's data (210 MiB, 3 layers)
--   OCISPEC_BENCH_REG_MID    number of 2 MiB layers of the "l20" image (20)
--   OCISPEC_BENCH_REG_SMALL  number of 64 KiB layers of the small image (50)
--
-- Every run starts a fresh registry, so no blob is present before a push
-- and skopeo's blob-info cache (which remembers where a blob was seen and
-- would mount it from there) knows nothing about it.
--
-- Each figure is printed as soon as it is measured ("run 1/3: ..."), with
-- the CPU seconds docker-registry used during it (/proc/PID/stat) and, for
-- ocispec, this process's own CPU seconds (os.clock: every thread), so a
-- run cut short by a caller's time limit (3 runs take 10-20 minutes) still
-- leaves its figures; the medians follow at the end. Each phase also gets
-- its CPU floor, (registry CPU + ocispec CPU) / cores (nproc): the wall
-- time it cannot beat on this machine, beside the goal, 0.35x skopeo's
-- time, so a reader sees which goals the hardware allows. A failure prints
-- "registry bench: FAILED in run N (phase): why" and exits 1.
local oci = require("ocispec")
local registry = oci.registry

-- every line reaches a file or pipe at once (a killed run keeps them)
io.stdout:setvbuf("line")

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local src = os.getenv("OCISPEC_SOURCE_DIR") or (here .. "..")
local R = dofile(src .. "/spec/fixtures/registry.lua")

local RUNS = os.getenv("OCISPEC_BENCH_QUICK") == "1" and 1 or 3
local BIG_MB = tonumber(os.getenv("OCISPEC_BENCH_REG_MB")) or 210
local MID_LAYERS = tonumber(os.getenv("OCISPEC_BENCH_REG_MID")) or 20
local BIG_LAYERS = 3
local SMALL_LAYERS = tonumber(os.getenv("OCISPEC_BENCH_REG_SMALL")) or 50
local SMALL_KB = 64
local CHUNK = 8 * 1024 * 1024
local OPTS = { plain_http = true }
local SERIAL = { plain_http = true, jobs = 1 }
local CHUNKED = { plain_http = true, chunk_size = CHUNK }

local q = R.quote

local function sh(cmd)
  local ok, how, code = os.execute(cmd)
  if not ok then error(("command failed (%s %s): %s"):format(how, code, cmd), 2) end
end

local function output(cmd)
  local p = assert(io.popen(cmd))
  local s = p:read("a")
  p:close()
  return s
end

-- cores of this machine (nproc), for the CPU floor of each phase
local CORES = math.max(1, tonumber(output("nproc 2>/dev/null"):match("%d+")) or 1)
local GOAL = 0.35 -- issue 16: at most 0.35x skopeo's time

local function have(tool)
  return os.execute("command -v " .. q(tool) .. " >/dev/null 2>&1") == true
end

-- Wall clock in seconds: luasystem's monotime (busted's dependency) or
-- luasocket's gettime when installed, else date(1) (a process per
-- reading). The cost of one reading, measured below, is taken off every
-- interval.
local clock_name, now = "date(1)", function()
  local p = assert(io.popen("date +%s%N"))
  local ns = assert(tonumber(p:read("l")))
  p:close()
  return ns / 1e9
end
do
  local okm, system = pcall(require, "system")
  local oks, socket = pcall(require, "socket")
  if okm and type(system) == "table" and system.monotime then
    clock_name, now = "luasystem monotime", system.monotime
  elseif oks and type(socket) == "table" and socket.gettime then
    clock_name, now = "luasocket gettime", socket.gettime
  end
end

local function median(list)
  local t = {}
  for i, v in ipairs(list) do t[i] = v end
  table.sort(t)
  local n = #t
  if n == 0 then return nil end
  if n % 2 == 1 then return t[(n + 1) // 2] end
  return (t[n // 2] + t[n // 2 + 1]) / 2
end

local overhead
do
  local d = {}
  for i = 1, 11 do
    local a = now()
    d[i] = now() - a
  end
  overhead = median(d)
end

local function timed(fn)
  local t0 = now()
  local a, b = fn()
  return math.max(now() - t0 - overhead, 1e-9), a, b
end

local function file_size(path)
  local f = assert(io.open(path, "rb"))
  local n = f:seek("end")
  f:close()
  return n
end

if not R.available() then
  local _, why = R.available()
  print("registry bench: skipped (" .. why .. ")")
  return
end
local SKOPEO = have("skopeo")
local CURL = have("curl")

local function version(cmd, pattern)
  return (output(cmd .. " 2>&1"):match(pattern)) or "?"
end

-- ------------------------------------------------------------------ setup

local base = R.scratch()
local reg -- the registry of the current run
local reg2 -- the second registry (copy across registries)
local results = {} -- results[key] = { secs = {...}, requests = {...}, bytes = n }

local current_run, current_phase = 0, "setup"

-- CPU seconds (user + system) docker-registry has used so far: fields 14
-- and 15 of /proc/PID/stat, in clock ticks (100 a second on Linux).
local function registry_cpu(r)
  r = r or reg
  local f = r and r.pid and io.open("/proc/" .. r.pid .. "/stat", "r")
  if not f then return 0 end
  local st = f:read("a")
  f:close()
  local rest = st:match("^%d+ %b() (.*)$") or ""
  local fields = {}
  for v in rest:gmatch("%S+") do fields[#fields + 1] = v end
  -- rest starts at field 3 (state): utime is field 14, stime 15
  return ((tonumber(fields[12]) or 0) + (tonumber(fields[13]) or 0)) / 100
end
local function both_cpu() return registry_cpu(reg) + registry_cpu(reg2) end

local function record(key, secs, requests, bytes, cpu)
  local r = results[key]
  if not r then
    r = { secs = {}, requests = {}, bytes = bytes, rcpu = {}, ocpu = {} }
    results[key] = r
  end
  r.secs[#r.secs + 1] = secs
  r.requests[#r.requests + 1] = requests
  r.rcpu[#r.rcpu + 1] = cpu and cpu.registry or 0
  if cpu and cpu.ours then r.ocpu[#r.ocpu + 1] = cpu.ours end
  print(("run %d/%d: %-36s %8.3f s  registry CPU %6.3f s%s  requests %s"):format(
    current_run, RUNS, key, secs, cpu and cpu.registry or 0,
    cpu and cpu.ours and ("  ocispec CPU %6.3f s  floor %.3f s"):format(cpu.ours,
      ((cpu.registry or 0) + cpu.ours) / CORES) or "", requests))
end

-- Requests the registry's access log holds so far.
local function logged()
  return #reg.requests()
end

-- Incompressible bytes, the same on every run: AES-CTR of zeros (openssl),
-- else /dev/urandom.
local function random_file(path, bytes, seed)
  if have("openssl") then
    sh(("openssl enc -aes-128-ctr -nosalt -pass pass:ocispec-bench-%s -in /dev/zero 2>/dev/null"
      .. " | head -c %d > %s"):format(seed, bytes, q(path)))
  else
    sh(("head -c %d /dev/urandom > %s"):format(bytes, q(path)))
  end
  assert(file_size(path) == bytes, "short random file " .. path)
end

-- The images: "big", BIG_LAYERS layers of one random file each, and
-- "small", SMALL_LAYERS layers of SMALL_KB KiB each, in one layout (gzip
-- -1: random data does not shrink, and gzip layers are what skopeo keeps
-- as they are; an uncompressed layer would make skopeo compress it).
local images = {}
local function build_images()
  local layout_dir = base .. "/src"
  sh("mkdir -p " .. q(layout_dir))
  local L = assert(oci.layout.create(layout_dir))
  local function build(tag, n, bytes)
    local img = oci.build.Image.new(L, {
      platform = { os = "linux", architecture = oci.core.host_arch },
      created = 1704067200, compression = "gzip", level = 1,
    })
    for i = 1, n do
      local dir = ("%s/data/%s-%d"):format(base, tag, i)
      sh("mkdir -p " .. q(dir))
      random_file(dir .. "/data.bin", bytes, tag .. i)
      assert(img:add_layer{ dir = dir, uid = 0, gid = 0, mtime = 1704067200,
                            created_by = tag .. " layer " .. i })
      sh("rm -rf " .. q(dir))
    end
    img:cmd({ "/bin/true" })
    local desc = assert(img:commit(tag))
    -- blob sizes and layer paths from the manifest
    local hex = desc:digest():match(":(%x+)$")
    local path = layout_dir .. "/blobs/sha256/" .. hex
    local f = assert(io.open(path, "rb"))
    local m = require("cjson").decode(f:read("a"))
    f:close()
    local total = desc:size() + m.config.size
    local layers = {}
    for _, l in ipairs(m.layers) do
      total = total + l.size
      layers[#layers + 1] = { digest = l.digest, size = l.size,
                              path = layout_dir .. "/blobs/sha256/" .. l.digest:match(":(%x+)$") }
    end
    images[#images + 1] = { tag = tag, layers = layers, bytes = total, digest = desc:digest(),
                            what = ("%d layers of %s"):format(n, bytes >= 1048576
                              and ("%.0f MiB"):format(bytes / 1048576) or ("%d KiB"):format(bytes // 1024)) }
  end
  build("big", BIG_LAYERS, BIG_MB * 1048576 // BIG_LAYERS)
  build("l20", MID_LAYERS, 2 * 1048576)
  build("small", SMALL_LAYERS, SMALL_KB * 1024)
  L:close()
  sh(("cat %s/blobs/sha256/* > /dev/null"):format(q(layout_dir))) -- page cache
  return layout_dir
end

-- ---------------------------------------------------------------- phases

local function skopeo(args)
  sh("skopeo --insecure-policy copy -q " .. args .. " >/dev/null")
end

-- ocispec and skopeo doing one phase, in alternating order (odd runs
-- ocispec first) so neither always meets the warmer registry.
local function pair(run, ours, theirs)
  if run % 2 == 1 then
    ours()
    if SKOPEO then theirs() end
  else
    if SKOPEO then theirs() end
    ours()
  end
end

-- Our call under the clock; stats.requests and the registry's count.
local function ours(key, bytes, fn)
  current_phase = key .. " (ocispec)"
  local before = logged()
  local rc0, c0 = both_cpu(), os.clock()
  local secs, d, stats = timed(fn)
  assert(d, stats)
  record(key .. "|ocispec", secs, ("%d (log %d)"):format(stats.requests, logged() - before), bytes,
    { registry = both_cpu() - rc0, ours = os.clock() - c0 })
  return d, stats
end

local function theirs(key, bytes, args)
  current_phase = key .. " (skopeo)"
  local before = logged()
  local rc0 = both_cpu()
  local secs = timed(function() skopeo(args) end)
  record(key .. "|skopeo", secs, ("log %d"):format(logged() - before), bytes, { registry = both_cpu() - rc0 })
end

-- curl: POST + monolithic PUT of each layer blob, one at a time, one curl
-- process per request (the floor for one HTTP stream; no manifest).
local function curl_push(key, img, repo)
  local lines = { "set -e" }
  for _, l in ipairs(img.layers) do
    lines[#lines + 1] = ("loc=$(curl -sS -f -o /dev/null -D - -X POST http://%s/v2/%s/blobs/uploads/"
      .. " | tr -d '\\r' | sed -n 's/^[Ll]ocation: //p')"):format(reg.host, repo)
    lines[#lines + 1] = 'case "$loc" in http*) ;; *) loc="http://' .. reg.host .. '$loc" ;; esac'
    lines[#lines + 1] = ("curl -sS -f -o /dev/null -H 'Content-Type: application/octet-stream' -T %s"
      .. " \"$loc&digest=%s\""):format(q(l.path), l.digest)
  end
  local script = table.concat(lines, "\n")
  local bytes = 0
  for _, l in ipairs(img.layers) do bytes = bytes + l.size end
  current_phase = key .. " (curl)"
  local before = logged()
  local rc0 = both_cpu()
  local secs = timed(function() sh("sh -c " .. q(script)) end)
  record(key .. "|curl", secs, ("log %d"):format(logged() - before), bytes, { registry = both_cpu() - rc0 })
end

-- curl: GET of each layer blob into a file, one process (one connection):
-- no digest check, no fsync (the floor for one HTTP stream).
local function curl_pull(key, img, repo, dir)
  local args, bytes = {}, 0
  for i, l in ipairs(img.layers) do
    args[#args + 1] = ("-o %s http://%s/v2/%s/blobs/%s"):format(q(dir .. "/" .. i), reg.host, repo, l.digest)
    bytes = bytes + l.size
  end
  sh("mkdir -p " .. q(dir))
  current_phase = key .. " (curl)"
  local before = logged()
  local rc0 = both_cpu()
  local secs = timed(function() sh("curl -sS -f " .. table.concat(args, " ")) end)
  record(key .. "|curl", secs, ("log %d"):format(logged() - before), bytes, { registry = both_cpu() - rc0 })
  sh("rm -rf " .. q(dir))
end

-- The big image pulled through the fault proxy: every layer's GET cut at
-- 90% (no retries: the pull fails), then pulled again: what the second run
-- moves (the proxy counts the blob body bytes it sent).
local function resume_run(img)
  current_phase = "resumed pull " .. img.tag
  local proxy = R.proxy(reg.port)
  local dir = base .. "/pull-resume"
  local ok, err = pcall(function()
    local ref = ("%s/ours/%s:%s"):format(proxy.host, img.tag, img.tag)
    local biggest = 0
    for _, l in ipairs(img.layers) do biggest = math.max(biggest, l.size) end
    proxy.configure{ cut_after = math.tointeger(biggest * 9 // 10), cut_times = #img.layers }
    local o = { plain_http = true, retries = 0 }
    local d, why = registry.pull(ref, dir, nil, o)
    assert(not d, "the cut pull succeeded")
    print("  (the cut pull: " .. tostring(why) .. ")")
    local first = proxy.stats()
    proxy.configure{}
    local secs, d2, stats = timed(function() return registry.pull(ref, dir, nil, { plain_http = true }) end)
    assert(d2, stats)
    local second = proxy.stats()
    results.resume = results.resume or {}
    table.insert(results.resume, { first = first.body_bytes, second = second.body_bytes,
                                   ranges = second.ranges, secs = secs, bytes = img.bytes })
  end)
  proxy.stop()
  sh("rm -rf " .. q(dir))
  if not ok then error(err, 0) end
end

local function one_run(run, layout_dir)
  reg = R.start{}
  reg2 = R.start{}
  local host = reg.host
  for _, img in ipairs(images) do
    local tag, bytes = img.tag, img.bytes
    local ref_ours = ("%s/ours/%s:%s"):format(host, tag, tag)
    local ref_sk = ("%s/skopeo/%s:%s"):format(host, tag, tag)
    -- (1) push into an empty repository
    pair(run, function()
      ours("push " .. tag, bytes, function() return registry.push(layout_dir, tag, ref_ours, OPTS) end)
    end, function()
      theirs("push " .. tag, bytes, ("--dest-tls-verify=false oci:%s:%s docker://%s")
        :format(q(layout_dir), tag, ref_sk))
    end)
    ours("push " .. tag .. " jobs=1", bytes, function()
      return registry.push(layout_dir, tag, ("%s/serial/%s:%s"):format(host, tag, tag), SERIAL)
    end)
    if tag == "big" then
      ours("push " .. tag .. " chunked 8 MiB", bytes, function()
        return registry.push(layout_dir, tag, ("%s/chunked/%s:%s"):format(host, tag, tag), CHUNKED)
      end)
      if CURL then curl_push("push " .. tag .. " blobs", img, "curl/" .. tag) end
    end
    -- (3) the same push again: every blob is there (HEAD only)
    pair(run, function()
      ours("second push " .. tag, nil, function() return registry.push(layout_dir, tag, ref_ours, OPTS) end)
    end, function()
      theirs("second push " .. tag, nil, ("--dest-tls-verify=false oci:%s:%s docker://%s")
        :format(q(layout_dir), tag, ref_sk))
    end)
    -- (2) pull into a fresh layout (both from the repository ocispec pushed)
    local dir_ours, dir_sk = base .. "/pull-ours", base .. "/pull-skopeo"
    pair(run, function()
      local d = ours("pull " .. tag, bytes, function() return registry.pull(ref_ours, dir_ours, nil, OPTS) end)
      assert(d:digest() == img.digest, "pulled another manifest")
      sh("rm -rf " .. q(dir_ours))
    end, function()
      theirs("pull " .. tag, bytes, ("--src-tls-verify=false docker://%s oci:%s:%s")
        :format(ref_ours, q(dir_sk), tag))
      sh("rm -rf " .. q(dir_sk))
    end)
    if tag == "big" and CURL then curl_pull("pull " .. tag .. " blobs", img, "ours/" .. tag, base .. "/pull-curl") end
    -- (4) copy to another repository of the same registry (mount)
    pair(run, function()
      ours("copy " .. tag, nil, function()
        return registry.copy(ref_ours, ("%s/ours-copy/%s"):format(host, tag), OPTS)
      end)
    end, function()
      theirs("copy " .. tag, nil, ("--src-tls-verify=false --dest-tls-verify=false docker://%s"
        .. " docker://%s/skopeo-copy/%s:%s"):format(ref_sk, host, tag, tag))
    end)
    -- (5) copy to another registry: every blob downloaded and uploaded
    pair(run, function()
      ours("copy across " .. tag, bytes, function()
        return registry.copy(ref_ours, ("%s/ours-x/%s:%s"):format(reg2.host, tag, tag), OPTS)
      end)
    end, function()
      theirs("copy across " .. tag, bytes, ("--src-tls-verify=false --dest-tls-verify=false docker://%s"
        .. " docker://%s/skopeo-x/%s:%s"):format(ref_ours, reg2.host, tag, tag))
    end)
    if tag == "big" then resume_run(img) end
  end
  reg.stop()
  reg2.stop()
  reg, reg2 = nil, nil
end

-- ---------------------------------------------------------------- report

-- (registry CPU + ocispec CPU) / CORES, medians of the runs
local function floor_of(r)
  return ((median(r.rcpu) or 0) + (median(r.ocpu) or 0)) / CORES
end

local function report()
  print(("registry bench: docker-registry %s on 127.0.0.1 (plain HTTP), skopeo %s, curl %s;"
    .. " %d run%s, medians; wall time (%s, a reading costs %.3f ms, taken off)"):format(
    version("docker-registry --version", "(%d[%w%.%-+~]*)"),
    SKOPEO and version("skopeo --version", "version (%S+)") or "not installed",
    CURL and version("curl --version", "^curl (%S+)") or "not installed",
    RUNS, RUNS == 1 and "" or "s", clock_name, overhead * 1000))
  if SKOPEO then
    local t = {}
    for i = 1, 3 do t[i] = timed(function() sh("skopeo --version >/dev/null") end) end
    print(("  (skopeo process start: `skopeo --version` takes %.0f ms)"):format(median(t) * 1000))
  end
  local function line(label, r)
    local secs = median(r.secs)
    local rate = r.bytes and ("%7.1f MB/s"):format(r.bytes / 1e6 / secs) or "           "
    local req = r.requests[#r.requests]
    local cpu = ("  CPU registry %.2f s"):format(median(r.rcpu) or 0)
    if #r.ocpu > 0 then cpu = cpu .. (", ocispec %.2f s"):format(median(r.ocpu)) end
    print(("  %-42s %8.3f s  %s  requests %s%s"):format(label, secs, rate, req, cpu))
    return secs
  end
  for _, img in ipairs(images) do
    print(("\n  image %q: %s, %.1f MB of blobs (manifest + config + layers)"):format(
      img.tag, img.what, img.bytes / 1e6))
    local keys = { "push", "second push", "pull", "copy", "copy across" }
    for _, phase in ipairs(keys) do
      local key = phase .. " " .. img.tag
      local o, s = results[key .. "|ocispec"], results[key .. "|skopeo"]
      if phase == "copy" or phase == "second push" then
        if o then o.bytes = nil end
        if s then s.bytes = nil end
      end
      local to = o and line(key .. ": ocispec", o)
      local ts = s and line(key .. ": skopeo", s)
      if to and ts then
        local per = {}
        for i = 1, #o.secs do per[i] = ("%.2f"):format(o.secs[i] / s.secs[i]) end
        print(("  ratio (ocispec time / skopeo time): %.2f  (< 1: ocispec faster; per run %s)")
          :format(to / ts, table.concat(per, " ")))
      end
      if to then
        -- The CPU floor: on CORES cores the phase cannot take less wall time
        -- than (registry CPU + ocispec CPU) / CORES; the goal is GOAL x
        -- skopeo's time. A floor above the goal: this hardware cannot meet it.
        local fl = floor_of(o)
        local goal = ts and GOAL * ts
        print(("  CPU floor ((registry %.2f s + ocispec %.2f s) / %d cores): %.3f s%s"):format(
          median(o.rcpu) or 0, median(o.ocpu) or 0, CORES, fl,
          goal and ("; goal %.2f x skopeo: %.3f s (%s)"):format(GOAL, goal,
            fl > goal and "floor above goal: not reachable here" or
            (to <= goal and "met" or ("floor %.0f%% of goal"):format(100 * fl / goal))) or ""))
      end
      local cu = results[key .. " blobs|curl"]
      if phase == "pull" and cu then
        print(("  ratio (ocispec pull time / curl layers time): %.2f"):format(
          to / line(key .. ": curl GET, layers only", cu)))
      end
      if phase == "push" then
        local serial = results[key .. " jobs=1|ocispec"]
        local t1 = serial and line(key .. ": ocispec jobs=1", serial)
        if t1 and to then
          print(("  ratio (jobs=4 time / jobs=1 time): %.2f"):format(to / t1))
        end
        local c = results[key .. " chunked 8 MiB|ocispec"]
        local tc = c and line(key .. ": ocispec chunked 8 MiB", c)
        if tc then
          print(("  ratio (chunked time / monolithic time): %.2f"):format(tc / to))
        end
        local tcu = cu and line(key .. ": curl POST+PUT, layers only", cu)
        if tcu then
          print(("  ratio (ocispec push time / curl layers time): %.2f"):format(to / tcu))
        end
      end
    end
  end
end

local function report_resume()
  for i, r in ipairs(results.resume or {}) do
    print(("\n  resumed pull (run %d): first pull cut at 90%% of each layer moved %.1f MB;"
      .. " the second moved %.1f MB of %.1f MB (%.1f%%, %d range request(s)) in %.3f s"):format(
      i, r.first / 1e6, r.second / 1e6, r.bytes / 1e6, 100 * r.second / r.bytes, r.ranges, r.secs))
  end
end

-- ------------------------------------------------------------------- main

local ok, err = pcall(function()
  local t0 = now()
  local layout_dir = build_images()
  print(("registry bench: images built in %.1f s (%s)"):format(now() - t0, layout_dir))
  for run = 1, RUNS do
    current_run = run
    local t = now()
    one_run(run, layout_dir)
    print(("run %d/%d: done in %.1f s"):format(run, RUNS, now() - t))
  end
  current_run, current_phase = RUNS, "report"
  report()
  report_resume()
end)
if reg then pcall(reg.stop) end
if reg2 then pcall(reg2.stop) end
os.execute("rm -rf " .. q(base))
if not ok then
  io.stderr:write(("registry bench: FAILED in run %d/%d (%s): %s\n"):format(
    current_run, RUNS, current_phase, tostring(err)))
  os.exit(1)
end
