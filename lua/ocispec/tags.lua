--- Tag selection for listings and mirroring: a regular-expression filter
-- and the semantic-version order. Exposed as `ocispec.registry.filter_tags`
-- and `ocispec.registry.sort_tags`.
-- @module ocispec.tags
local core = require "ocispec.core"
local util = require "ocispec.util"

local M = {}

--- The tags that `regex` (POSIX extended; `^…$` to match whole tags)
-- matches, in their order.
-- @tparam {string,...} tags
-- @tparam string regex
-- @return a new list, or nil, message, err (a pattern that does not compile)
function M.filter(tags, regex)
  local out = {}
  for _, t in ipairs(tags) do
    local hit, msg, err = core.check.regex_find(regex, t)
    if hit == nil then return nil, msg, err end
    if hit then out[#out + 1] = t end
  end
  return out
end

-- The semver string of a tag ("1.2.3", "v1.2.3-rc.1"), or nil.
local function version_of(tag)
  local v = tag:gsub("^v", "")
  if core.check.semver(v) then return v end
  return nil
end

--- Sorts the tags: semantic versions first (a leading `v` allowed), in
-- semver order (pre-releases before their release), then the other tags in
-- byte order. Returns a new list.
-- @tparam {string,...} tags
-- @treturn {string,...}
function M.sort(tags)
  local out = table.move(tags, 1, #tags, 1, {})
  local ver = {}
  for _, t in ipairs(out) do ver[t] = version_of(t) or false end
  table.sort(out, function(a, b)
    local va, vb = ver[a], ver[b]
    if va and vb then
      local c = core.check.semver_compare(va, vb)
      if c ~= 0 then return c < 0 end
      return a < b
    end
    if va or vb then return va and true or false end
    return a < b
  end)
  return out
end

-- ------------------------------------------------------------ ranges
-- A range is alternatives joined by `||`; each alternative is comparators
-- that must all hold, separated by spaces or commas (the syntax of npm's
-- node-semver and of Masterminds/semver, which skopeo's images-by-semver
-- uses): `>=1.2.3 <2`, `^1.2`, `~1.2.3`, `1.2.x`, `*`, `1.2.3 - 2.3`,
-- `!=1.4.0`. Each is reduced to plain comparisons of full versions
-- (`<1.3.0-0` is "below every 1.3.0 pre-release").

-- "1", "1.2", "1.x", "1.2.3-rc.1", "*" -> {major, minor, patch, pre}
-- with nil for a missing or wildcard part; nil, why when malformed.
local function partial(s)
  s = s:gsub("^[vV=]", "")
  if s == "" or s == "*" or s == "x" or s == "X" then return {} end
  local core_part, rest = s:match("^([^-+]*)(.*)$")
  local nums = {}
  for piece in (core_part .. "."):gmatch("([^.]*)%.") do nums[#nums + 1] = piece end
  if #nums > 3 then return nil, "more than three numbers" end
  local v = {}
  for i, piece in ipairs(nums) do
    if piece == "x" or piece == "X" or piece == "*" then
      break
    elseif piece:match("^%d+$") and (piece == "0" or not piece:match("^0")) then
      v[i] = math.tointeger(tonumber(piece))
      if not v[i] then return nil, "number too large" end
    else
      return nil, "bad number " .. ("%q"):format(piece)
    end
  end
  if rest ~= "" then
    if not v[3] then return nil, "a pre-release needs major.minor.patch" end
    local full = ("%d.%d.%d%s"):format(v[1], v[2], v[3], rest)
    if not core.check.semver(full) then return nil, "not a semantic version" end
    v.pre = rest
  end
  return v
end

local function str(maj, min, pat, pre)
  return ("%d.%d.%d%s"):format(maj, min or 0, pat or 0, pre or "")
end

-- The first version above every version that `v` (a partial) covers.
local function next_up(v)
  if v[3] then return str(v[1], v[2], v[3] + 1, "-0") end
  if v[2] then return str(v[1], v[2] + 1, 0, "-0") end
  return str(v[1] + 1, 0, 0, "-0")
end

-- Appends to `out` the comparisons {op, version} that `op`+`v` means.
local function expand(op, v, out)
  local function add(o, ver) out[#out + 1] = { op = o, v = ver } end
  if not v[1] then -- "*": any release
    if op == "<" or op == ">" or op == "!=" then add("<", "0.0.0-0") else add(">=", "0.0.0") end
    return
  end
  local low = str(v[1], v[2], v[3], v.pre)
  if op == "^" then
    add(">=", low)
    if v[1] > 0 or not v[2] then
      add("<", str(v[1] + 1, 0, 0, "-0"))
    elseif v[2] > 0 or not v[3] then
      add("<", str(0, v[2] + 1, 0, "-0"))
    else
      add("<", str(0, 0, v[3] + 1, "-0"))
    end
  elseif op == "~" or op == "~>" then
    add(">=", low)
    add("<", v[2] and str(v[1], v[2] + 1, 0, "-0") or str(v[1] + 1, 0, 0, "-0"))
  elseif op == "=" then
    if v[3] then add("=", low) else add(">=", low); add("<", next_up(v)) end
  elseif op == "!=" then
    if v[3] then add("!=", low) else add("outside", { low, next_up(v) }) end
  elseif op == ">=" then
    add(">=", low)
  elseif op == ">" then
    if v[3] then add(">", low) else add(">=", next_up(v)) end
  elseif op == "<" then
    add("<", v[3] and low or str(v[1], v[2], v[3], "-0"))
  elseif op == "<=" then
    if v[3] then add("<=", low) else add("<", next_up(v)) end
  end
end

-- Parses one alternative into its list of comparisons, or nil, why.
local function parse_set(text)
  local out = {}
  local lo, hi = text:match("^%s*(%S+)%s+%-%s+(%S+)%s*$")
  if lo then -- hyphen range: inclusive at both ends, partial upper rounds up
    local a, why = partial(lo)
    if not a then return nil, ("%q: %s"):format(lo, why) end
    local b
    b, why = partial(hi)
    if not b then return nil, ("%q: %s"):format(hi, why) end
    expand(">=", a, out)
    if b[1] then expand("<=", b, out) end
    return out
  end
  -- operators may stand apart from their version (">= 1.2")
  text = text:gsub("([<>=!~^]+)%s+", "%1")
  for item in text:gmatch("[^%s,]+") do
    local op, ver = item:match("^([<>=!~^]*)(.*)$")
    if op == "" then op = "=" end
    local known = { ["="] = true, ["!="] = true, [">"] = true, [">="] = true, ["<"] = true,
      ["<="] = true, ["~"] = true, ["~>"] = true, ["^"] = true }
    if not known[op] then return nil, ("%q: unknown operator %q"):format(item, op) end
    local v, why = partial(ver)
    if not v then return nil, ("%q: %s"):format(item, why) end
    expand(op, v, out)
  end
  if #out == 0 then expand("=", {}, out) end
  return out
end

local function holds(c, ver)
  local cmp = core.check.semver_compare
  if c.op == "outside" then return cmp(ver, c.v[1]) < 0 or cmp(ver, c.v[2]) >= 0 end
  local r = cmp(ver, c.v)
  if c.op == "=" then return r == 0 end
  if c.op == "!=" then return r ~= 0 end
  if c.op == ">" then return r > 0 end
  if c.op == ">=" then return r >= 0 end
  if c.op == "<" then return r < 0 end
  return r <= 0 -- "<="
end

-- "1.2.3-rc.1" -> "1.2.3"
local function release_of(ver)
  return (ver:gsub("[-+].*$", ""))
end

local function set_matches(set, ver)
  for _, c in ipairs(set) do
    if not holds(c, ver) then return false end
  end
  if ver:find("-", 1, true) then
    -- a pre-release matches only a set that names a pre-release of the
    -- same major.minor.patch (node-semver and Masterminds agree)
    local rel = release_of(ver)
    for _, c in ipairs(set) do
      local cv = type(c.v) == "string" and c.v or nil
      if cv and cv:find("-", 1, true) and not cv:match("%-0$") and release_of(cv) == rel then
        return true
      end
    end
    return false
  end
  return true
end

--- Compiles a semantic-version range (`>=1.2 <2`, `^1.4`, `~2.1`, `1.x`,
-- `1.0 - 1.4`, alternatives joined by `||`; the syntax of npm's semver and
-- of skopeo's images-by-semver). Returns a function(tag) -> boolean that
-- accepts tags that are semantic versions (a leading `v` allowed) inside
-- the range; a pre-release is inside only when the range names a
-- pre-release of the same version.
-- @tparam string range
-- @return function, or nil, message, err (a malformed range)
function M.semver_range(range)
  if type(range) ~= "string" then error("bad argument #1 to 'semver_range' (string expected)", 2) end
  local sets = {}
  for alt in (range .. "||"):gmatch("(.-)||") do
    local set, why = parse_set(alt)
    if not set then
      return util.fail("invalid", ("semver range %q: %s"):format(range, why))
    end
    sets[#sets + 1] = set
  end
  return function(tag)
    local ver = version_of(tag)
    if not ver then return false end
    for _, set in ipairs(sets) do
      if set_matches(set, ver) then return true end
    end
    return false
  end
end

--- The tags inside the semantic-version range (see `semver_range`), in
-- their order.
-- @tparam {string,...} tags
-- @tparam string range
-- @return a new list, or nil, message, err (a malformed range)
function M.filter_semver(tags, range)
  local inside, msg, err = M.semver_range(range)
  if not inside then return nil, msg, err end
  local out = {}
  for _, t in ipairs(tags) do
    if inside(t) then out[#out + 1] = t end
  end
  return out
end

return M
