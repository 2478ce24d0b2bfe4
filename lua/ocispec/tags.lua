--- Tag selection for listings and mirroring: a regular-expression filter
-- and the semantic-version order. Exposed as `ocispec.registry.filter_tags`
-- and `ocispec.registry.sort_tags`.
-- @module ocispec.tags
local core = require "ocispec.core"

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

return M
