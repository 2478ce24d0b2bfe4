-- The setup every bench/*.lua script repeated: sizes from the
-- environment, a wall clock, shell commands that must succeed, a work
-- folder under $TMPDIR, timing, and generated file trees. Not a bench
-- itself (CMakeLists.txt leaves it out of the `bench` target). A script
-- loads it from its own folder:
--
--   local bench = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
--   local MB = bench.env_number("OCISPEC_BENCH_MB", 60)
--   local base = bench.workdir("diff")
local M = {}

--- This folder (bench/), ending in "/".
M.dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"

--- The number in environment variable `name`, else `default`.
function M.env_number(name, default)
  return tonumber(os.getenv(name)) or default
end

--- Wall-clock seconds (nanosecond resolution, from date +%s%N).
function M.now()
  local p = assert(io.popen("date +%s%N"))
  local ns = assert(tonumber(p:read("l")))
  p:close()
  return ns / 1e9
end

--- Runs a shell command; raises when it fails.
function M.sh(cmd)
  assert(os.execute(cmd), "command failed: " .. cmd)
end

--- A new folder $TMPDIR/ocispec-bench-NAME.<time>.<random> (default
-- /tmp), created; `M.remove` removes it.
function M.workdir(name)
  local tmp = os.getenv("TMPDIR") or "/tmp"
  local dir = ("%s/ocispec-bench-%s.%d.%d"):format(tmp, name, os.time(), math.random(1e6))
  M.sh("mkdir -p '" .. dir .. "'")
  return dir
end

--- Removes a folder and everything below it.
function M.remove(dir)
  M.sh("rm -rf '" .. dir .. "'")
end

--- Runs fn(): the seconds it took, then fn's results.
function M.timed(fn)
  local t0 = M.now()
  local res = table.pack(fn())
  return M.now() - t0, table.unpack(res, 1, res.n)
end

--- A generator of pseudo-random hex words (about half compressible, as
-- real files): words(bytes) gives at least `bytes` bytes; the sequence
-- depends only on `seed` and the calls made.
function M.words(seed)
  return function(bytes)
    local parts, len = {}, 0
    while len < bytes do
      seed = (seed * 1103515245 + 12345) % 2147483648
      local w = ("%x"):format(seed) .. " "
      parts[#parts + 1] = w
      len = len + #w
    end
    return table.concat(parts)
  end
end

--- layer.build entries: the directory `prefix` and `count` files below it
-- (prefix/f0001, ...) of about `mb` MiB in all, their content from
-- `words` (a `M.words` generator).
function M.files(words, prefix, mb, count)
  local e = { { path = prefix, type = "dir" } }
  for i = 1, count do
    e[#e + 1] = { path = ("%s/f%04d"):format(prefix, i), type = "file",
      content = words(mb * 1024 * 1024 // count) }
  end
  return e
end

return M
