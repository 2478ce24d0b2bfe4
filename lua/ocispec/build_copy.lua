--- COPY steps of `ocispec.build`: `img:copy(src, dst, opts)` adds host
-- files as one layer, `img:copy_from(other, path, dst, opts)` adds files
-- of another image being built (multi-stage builds).
--
--    assert(img:copy("src/*.lua", "/app/", { chown = "1000:1000", chmod = 420 }))
--    assert(img:copy_from(builder, "/out/bin/tool", "/usr/local/bin/tool"))
--
-- Sources are listed without following a symbolic link below them (links
-- are copied as links). Only the last component of `src` may hold a glob
-- (`*`, `?`, `[...]`). As Docker's COPY: a directory source copies what it
-- holds; with several sources, or `dst` ending in "/", `dst` is a
-- directory; owners are 0:0 unless `chown` ("uid[:gid]", numeric) is
-- given; `chmod` (an integer mode) replaces the mode of every file and
-- directory copied. Parent directories of `dst` are not added (they keep
-- what the image has; missing ones are made by the unpacker).
-- @module ocispec.build_copy
local core = require "ocispec.core"
local util = require "ocispec.util"

local M = {}

local COPY_OPTIONS = { "chown", "chmod", "created_by", "comment" }

-- A Lua pattern for a shell glob of one path component.
local function glob_pattern(g)
  local out, i = { "^" }, 1
  while i <= #g do
    local c = g:sub(i, i)
    if c == "*" then
      out[#out + 1] = "[^/]*"
    elseif c == "?" then
      out[#out + 1] = "[^/]"
    elseif c == "[" then
      local j = g:find("]", i + 2, true)
      if not j then return nil end
      local set = g:sub(i + 1, j - 1):gsub("^!", "^"):gsub("%%", "%%%%")
      out[#out + 1] = "[" .. set .. "]"
      i = j
    else
      out[#out + 1] = c:gsub("%p", "%%%0")
    end
    i = i + 1
  end
  out[#out + 1] = "$"
  return table.concat(out)
end

-- The image path dst, normalized ("a/b"), or raises.
local function norm_dst(dst)
  if type(dst) ~= "string" or dst:sub(1, 1) ~= "/" then error("copy: dst must be an absolute path", 4) end
  local parts = {}
  for comp in dst:gmatch("[^/]+") do
    if comp == ".." then error("copy: dst must not hold '..': " .. dst, 4) end
    if comp ~= "." then parts[#parts + 1] = comp end
  end
  return table.concat(parts, "/"), dst:sub(-1) == "/" or #parts == 0
end

local function parse_chown(chown)
  if chown == nil then return 0, 0 end
  if type(chown) ~= "string" then error("copy: chown must be a string \"uid[:gid]\"", 4) end
  local u, g = chown:match("^(%d+):(%d+)$")
  if not u then u = chown:match("^(%d+)$") g = u end
  if not u then error(("copy: chown must be numeric \"uid[:gid]\", got %q"):format(chown), 4) end
  return math.tointeger(tonumber(u)), math.tointeger(tonumber(g))
end

-- The sources named by src (a path, its last component maybe a glob), as
-- {path=, name=} each; or nil, message, err.
local function expand(src)
  local dir, last = src:match("^(.*)/([^/]*)$")
  if not dir then dir, last = ".", src end
  if dir == "" then dir = "/" end
  if not last:find("[*?[]") then
    local t = core.run.lstat(src)
    if t == "missing" then return util.fail("io", ("copy: %s: no such file or directory"):format(src)) end
    return { { path = src, name = last } }
  end
  local pat = glob_pattern(last)
  if not pat then return util.fail("invalid", ("copy: bad glob %q"):format(last)) end
  local list, msg, err = core.run.list(dir, false)
  if not list then return nil, msg, err end
  local out = {}
  for _, e in ipairs(list) do
    if not e.path:find("/", 1, true) and e.path:match(pat) then
      out[#out + 1] = { path = dir .. "/" .. e.path, name = e.path }
    end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  if #out == 0 then return util.fail("io", ("copy: %s: no file matches"):format(src)) end
  return out
end

-- Entries of layer.build for srcs copied to dst.
local function entries_for(srcs, dst, dst_is_dir, uid, gid, chmod)
  local entries = {}
  local function add(path, e, source)
    local x = { path = path, type = e.type, mode = chmod or e.mode, uid = uid, gid = gid }
    if e.type == "file" then x.source = source elseif e.type == "symlink" then x.target = e.target end
    entries[#entries + 1] = x
  end
  local into_dir = dst_is_dir or #srcs > 1
  for _, s in ipairs(srcs) do
    local t = core.run.lstat(s.path)
    if t == "dir" then
      local list, msg, err = core.run.list(s.path)
      if not list then return nil, msg, err end
      if dst ~= "" then add(dst, { type = "dir", mode = 493 }) end
      for _, e in ipairs(list) do
        add((dst ~= "" and dst .. "/" or "") .. e.path, e, s.path .. "/" .. e.path)
      end
    elseif t == "file" or t == "symlink" then
      local list, msg, err = core.run.list(s.path:match("^(.*)/") or ".", false)
      if not list then return nil, msg, err end
      local meta
      for _, e in ipairs(list) do
        if e.path == s.name then meta = e break end
      end
      if not meta then return util.fail("io", ("copy: %s: vanished"):format(s.path)) end
      local target = into_dir and ((dst ~= "" and dst .. "/" or "") .. s.name) or dst
      if into_dir and dst ~= "" then add(dst, { type = "dir", mode = 493 }) end
      add(target, meta, s.path)
    else
      return util.fail("unsupported", ("copy: %s: not a file, directory or symbolic link"):format(s.path))
    end
  end
  -- one entry per path (a directory named twice: the first)
  local seen, out = {}, {}
  for _, e in ipairs(entries) do
    -- a file named like a whiteout would be one in the layer (delete the
    -- image's file of that name, or hide a whole folder): refused
    if (e.path:match("([^/]*)$") or ""):sub(1, 4) == ".wh." then
      return util.fail("invalid", ("copy: /%s%s: named like a whiteout (.wh.): the layer would delete or "
        .. "hide the image's files instead"):format(e.path, e.source and (" (from " .. e.source .. ")") or ""))
    end
    if not seen[e.path] then seen[e.path] = true out[#out + 1] = e end
  end
  return out
end

local function describe(src)
  return type(src) == "table" and table.concat(src, " ") or src
end

--- Copy host files into the image as one layer (COPY). `src`: a path or a
-- list of paths (the last component may be a glob); `dst`: an absolute
-- path in the image. opts: `chown`, `chmod`, `created_by` (default `COPY
-- <src> <dst>`), `comment`. Returns img, or nil, message, err.
function M.copy(img, src, dst, opts)
  if type(src) == "string" then src = { src } end
  if type(src) ~= "table" or #src == 0 then error("copy: src must be a path or a list of paths", 3) end
  if opts ~= nil and type(opts) ~= "table" then error("copy: options must be a table", 3) end
  util.check_options(opts, COPY_OPTIONS, "copy", 4)
  opts = opts or {}
  local d, dst_is_dir = norm_dst(dst)
  local uid, gid = parse_chown(opts.chown)
  if opts.chmod ~= nil and (math.type(opts.chmod) ~= "integer" or opts.chmod < 0 or opts.chmod > 4095) then
    error("copy: chmod must be an integer mode (0 to 07777)", 3)
  end
  local srcs = {}
  for i, s in ipairs(src) do
    if type(s) ~= "string" then error(("copy: src[%d]: string expected"):format(i), 3) end
    local list, msg, err = expand(s)
    if not list then return nil, msg, err end
    for _, x in ipairs(list) do srcs[#srcs + 1] = x end
  end
  local entries, msg, err = entries_for(srcs, d, dst_is_dir, uid, gid, opts.chmod)
  if not entries then return nil, msg, err end
  return img:_add_layer({ entries = entries, uid = uid, gid = gid,
    created_by = opts.created_by or ("COPY %s %s"):format(describe(src), dst), comment = opts.comment })
end

--- Copy `path` (absolute, in `other`, an `Image` being built; its last
-- component may be a glob) into this image at `dst`, as one layer
-- (`COPY --from`). `other`'s layers are unpacked (the safe unpacker) into
-- a temporary directory removed afterwards; a symbolic link among the
-- directories of `path` is refused, not followed. opts: as `copy`, and
-- `tmpdir`. Returns img, or nil, message, err.
function M.copy_from(img, other, path, dst, opts)
  if type(other) ~= "table" or not other.layers then error("copy_from: an Image expected", 3) end
  if type(path) ~= "string" or path:sub(1, 1) ~= "/" then error("copy_from: path must be absolute", 3) end
  if opts ~= nil and type(opts) ~= "table" then error("copy_from: options must be a table", 3) end
  util.check_options(opts, { "chown", "chmod", "created_by", "comment", "tmpdir" }, "copy_from", 4)
  opts = opts or {}
  local run = require "ocispec.build_run"
  local base = opts.tmpdir or os.getenv("TMPDIR") or "/tmp"
  -- SIGINT, SIGTERM, SIGHUP, SIGQUIT held: one that arrives stops the
  -- unpack before its next layer; the directory goes, then the signal
  local held, sig = core.run.block_signals(), nil
  local function interrupted()
    sig = sig or core.run.pending_signal()
    return sig ~= nil
  end
  local tmp, msg, err = core.unpack.mkdtemp(base .. "/ocispec-copy-XXXXXX")
  if not tmp then
    interrupted()
    core.run.restore_signals(held)
    run.raise(sig)
    return util.fail(err, "copy_from: temporary directory: " .. msg)
  end
  local ok, a, b, c = pcall(function()
    local r, m, e = run.unpack_layers(other, tmp, nil, interrupted)
    if sig then return util.fail("canceled", ("copy_from: interrupted by signal %d"):format(sig)) end
    if not r then return nil, m, e end
    local cur, comps = tmp, {}
    for comp in path:gmatch("[^/]+") do comps[#comps + 1] = comp end
    for i = 1, #comps - 1 do
      if comps[i] == ".." then return util.fail("invalid", "copy_from: path must not hold '..': " .. path) end
      cur = cur .. "/" .. comps[i]
      local t = core.run.lstat(cur)
      if t ~= "dir" then
        return util.fail(t == "missing" and "io" or "invalid", ("copy_from: %s: %s"):format(path,
          t == "symlink" and "a symbolic link among its directories (not followed)"
          or t == "missing" and "no such directory" or "not a directory"))
      end
    end
    local last = comps[#comps]
    if last == ".." then return util.fail("invalid", "copy_from: path must not hold '..': " .. path) end
    local src = last and (cur .. "/" .. last) or tmp
    return M.copy(img, src, dst, { chown = opts.chown, chmod = opts.chmod,
      created_by = opts.created_by or ("COPY --from=%s %s %s"):format(other.name or "stage", path, dst),
      comment = opts.comment })
  end)
  core.unpack.remove_tree(tmp)
  interrupted()
  core.run.restore_signals(held)
  run.raise(sig)
  if not ok then error(a, 0) end
  return a, b, c
end

--- The cache key of `img:copy(src, dst, opts)`: the arguments and, for
-- every source matched, its name and tree digest (content, mode, owner).
function M.key(img, src, dst, opts)
  local cache = require "ocispec.build_cache"
  local list = type(src) == "table" and src or { src }
  local inputs = {}
  for _, s in ipairs(list) do
    if type(s) == "string" then
      local srcs = expand(s)
      for _, x in ipairs(srcs or {}) do
        local d, msg, err = cache.tree_digest(x.path)
        if not d then return nil, msg, err end
        inputs[#inputs + 1] = { x.name, d }
      end
    end
  end
  opts = type(opts) == "table" and opts or {}
  return cache.key(img, "copy", { src = list, dst = dst, chown = opts.chown or "", chmod = opts.chmod or "",
    created_by = opts.created_by or "", comment = opts.comment or "", layer = cache.layer_args(img) }, inputs)
end

--- The cache key of `img:copy_from(other, path, dst, opts)`: other's
-- state (its diff_ids identify its files) and the arguments.
function M.key_from(img, other, path, dst, opts)
  local cache = require "ocispec.build_cache"
  if type(other) ~= "table" or not other.cfg then error("copy_from: an Image expected", 4) end
  opts = type(opts) == "table" and opts or {}
  return cache.key(img, "copy_from", { path = path, dst = dst, chown = opts.chown or "", chmod = opts.chmod or "",
    created_by = opts.created_by or "", comment = opts.comment or "", layer = cache.layer_args(img) },
    { other = cache.state(other) })
end

return M
