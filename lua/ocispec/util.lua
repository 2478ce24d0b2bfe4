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

--- Marks what this build of ocispec lacks (built without
-- OCISPEC_WITH_IMAGE or OCISPEC_WITH_REGISTRY): every name absent from `t`
-- raises `<module>.<name>: not available (built without <option>)` where
-- it is looked up, so `require "ocispec"` always works and a missing part
-- is reported where it is used. Returns `t` (a new table when nil).
function util.unavailable(t, module, option)
  return setmetatable(t or {}, {
    __index = function(_, k)
      error(("%s.%s: not available (built without %s)"):format(module, tostring(k), option), 2)
    end,
  })
end

--- `core[name]`, or `util.unavailable({}, module, option)` when the core
-- module was built without it.
function util.core_part(name, module, option)
  return core[name] or util.unavailable({}, module, option)
end

return util
