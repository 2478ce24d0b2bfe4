--- Helpers shared by the namespace modules (not part of the public API).
-- @module ocispec.util
local core = require "ocispec.core"

local util = {}

--- Export every class of core namespace `ns` into module `M`, with its
-- builder as `M.<Name>Builder` (oci-spec-rs names).
function util.export_classes(M, ns)
  for name, class in pairs(core.types[ns]) do
    M[name] = class
    M[name .. "Builder"] = class.builder
  end
end

--- A read-only view of a table of constants: a misspelt name raises
-- instead of silently giving nil.
function util.constants(kind, t)
  return setmetatable({}, {
    __index = function(_, k)
      local v = t[k]
      if v == nil then error(("%s has no member '%s'"):format(kind, tostring(k)), 2) end
      return v
    end,
    __newindex = function() error(kind .. " is read-only", 2) end,
    __pairs = function() return next, t, nil end,
  })
end

return util
