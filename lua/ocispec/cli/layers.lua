--- `ocispec layer transform`: rewrite a layer blob entry by entry, in one
-- pass, without unpacking it (ocispec.layer.transform).
-- @module ocispec.cli.layers
local oci = require "ocispec"
local base = require "ocispec.cli.base"
local command, parse_args, fail = base.command, base.parse_args, base.fail

-- "OLD=NEW" -> OLD, NEW (both without a leading "./" or "/", nor a
-- trailing "/").
local function pair(s, what)
  local a, b = s:match("^([^=]+)=(.*)$")
  if not a or b == "" then fail(2, ("%s %q: expected A=B"):format(what, s)) end
  local function clean(p) return (p:gsub("^%./", ""):gsub("^/+", ""):gsub("/+$", "")) end
  return clean(a), b
end

-- Whether path is p or below it; the rest ("" or "/...").
local function under(path, p)
  if path == p then return "" end
  if path:sub(1, #p + 1) == p .. "/" then return path:sub(#p + 1) end
  return nil
end

command("layer", "rewrite a layer blob entry by entry without unpacking it",
  [==[usage: ocispec layer transform [OPTIONS] IN OUT

Reads the layer blob IN (gzip, zstd or a plain tar, detected) and writes OUT
(atomically) in one pass, each entry kept, dropped or changed:
  --drop PATH          drop PATH and everything below it (repeatable)
  --rename OLD=NEW     move OLD (and what is below it) to NEW (repeatable);
                       hard links follow their renamed target
  --chmod PATH=MODE    set PATH's permission bits (octal; repeatable)
  --add PATH=FILE      add the host file FILE as PATH, after the last entry
                       (repeatable)
  --script FILE.lua    a Lua file returning function(entry, add), as
                       ocispec.layer.transform's callback, run after the
                       options above (its result wins)
  --uid N, --gid N     owner of every entry
  --compression C      gzip | zstd | none (default: IN's)
  --threads N|auto     compression threads (default auto; see below)
  --mtime N            clamp every mtime to N (default $SOURCE_DATE_EPOCH)
  --json               print {mediaType, digest, size, diff_id} as JSON
Prints the new blob's digest and diff_id. Paths are relative to the layer
root; the blob's names are cleaned as the unpacker cleans them.
]==] .. base.THREADS_HELP .. "\n",
  function(args, out)
    local sub = table.remove(args, 1)
    if sub ~= "transform" then fail(2, "expected layer transform") end
    local opts, pos = parse_args(args, {
      ["--drop"] = "list", ["--rename"] = "list", ["--chmod"] = "list", ["--add"] = "list",
      ["--script"] = "value", ["--uid"] = "value", ["--gid"] = "value",
      ["--compression"] = "value", ["--mtime"] = "value", ["--json"] = "flag", ["--threads"] = "value",
    })
    local threads = base.parse_threads(opts.threads)
    if #pos ~= 2 then fail(2, "expected IN and OUT") end
    local drops, renames, chmods, adds = {}, {}, {}, {}
    for _, p in ipairs(opts.drop or {}) do
      drops[#drops + 1] = (p:gsub("^%./", ""):gsub("^/+", ""):gsub("/+$", ""))
    end
    for _, s in ipairs(opts.rename or {}) do
      local a, b = pair(s, "--rename")
      renames[#renames + 1] = { a, b }
    end
    for _, s in ipairs(opts.chmod or {}) do
      local a, b = pair(s, "--chmod")
      local mode = b:match("^[0-7]+$") and tonumber(b, 8)
      if not mode or mode > 4095 then fail(2, ("--chmod %q: MODE must be octal, 0 to 7777"):format(s)) end
      chmods[a] = mode
    end
    for _, s in ipairs(opts.add or {}) do
      local a, b = pair(s, "--add")
      adds[#adds + 1] = { path = a, source = b }
    end
    local script
    if opts.script then
      local chunk, msg = loadfile(opts.script)
      if not chunk then fail(2, msg) end
      local ok, fn = pcall(chunk)
      if not ok then fail(2, opts.script .. ": " .. tostring(fn)) end
      if type(fn) ~= "function" then fail(2, opts.script .. ": must return a function, got " .. type(fn)) end
      script = fn
    end
    local topts = { output = pos[2], compression = opts.compression, threads = threads }
    for _, k in ipairs({ "uid", "gid", "mtime" }) do
      if opts[k] then
        topts[k] = math.tointeger(tonumber(opts[k]))
        if not topts[k] then fail(2, ("--%s %q: not an integer"):format(k, opts[k])) end
      end
    end
    if #adds > 0 then
      topts.finish = function(add)
        for _, a in ipairs(adds) do
          local ok, msg = add(a)
          if not ok then error(msg, 0) end
        end
      end
    end
    local fn = function(e, add)
      for _, d in ipairs(drops) do
        if under(e.path, d) then return false end
      end
      local changes = {}
      for _, r in ipairs(renames) do
        local rest = under(e.path, r[1])
        if rest then
          changes.path = r[2] .. rest
          break
        end
      end
      if chmods[e.path] then changes.mode = chmods[e.path] end
      if script then
        local res = script(setmetatable(changes, { __index = e }), add)
        if res == false then return false end
        if type(res) == "table" then
          for k, v in pairs(res) do changes[k] = v end
        end
      end
      return setmetatable(changes, nil)
    end
    local ok, r, msg = pcall(oci.layer.transform, pos[1], fn, topts)
    if not ok then fail(2, tostring(r)) end
    if not r then fail(2, msg) end
    if opts.json then
      out:write(oci.json.encode({ mediaType = r.mediaType, digest = r.digest, size = r.size,
        diff_id = r.diff_id }), "\n")
    else
      out:write(r.digest, " ", r.diff_id, "\n")
    end
    return 0
  end)

return {}
