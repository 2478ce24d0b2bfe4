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

--- Options tables are checked: raises `unknown option "k"` (at `level`
-- above the caller, as `error` counts) when `opts` has a key that is not in
-- `known` (a list of names). `opts` may be nil. Mirrors the C binding's
-- ocil_check_options.
-- @tparam[opt] table opts the options given
-- @tparam {string,...} known the option names the function takes
-- @tparam string fname the function, named in the message
-- @tparam[opt=2] integer level the error level (2: the caller of the
-- function calling this)
function util.check_options(opts, known, fname, level)
  if opts == nil then return end
  if type(opts) ~= "table" then
    error(("bad argument to '%s' (options must be a table, got %s)"):format(fname, type(opts)), (level or 2) + 1)
  end
  local set = {}
  for _, k in ipairs(known) do set[k] = true end
  for k in pairs(opts) do
    if not set[k] then
      error(("bad argument to '%s' (unknown option \"%s\")"):format(fname, tostring(k)), (level or 2) + 1)
    end
  end
end

--- The error of a failed call, in the one shape of the whole API:
-- returns `nil, message, err`, where `err` is a table with `code` (a
-- string: "invalid", "io", "validate", ...) and `message` (the same
-- message), plus whatever `fields` holds (`pointer`, `rule`, `problems`,
-- `http`, ...), carrying the metatable `core.Error` that the C layer's
-- errors carry (its `__tostring` gives the message).
-- `code` may also be an error table (from a failed call being reported
-- with more context): its fields are kept and `message` replaces its
-- message.
-- @tparam string|table code the error code, or an error to re-word
-- @tparam string message what failed, where and why
-- @tparam[opt] table fields more members of the error table
-- @return nil, message, err
function util.fail(code, message, fields)
  local err = {}
  if type(code) == "table" then
    for k, v in pairs(code) do err[k] = v end
  else
    err.code = code
  end
  assert(type(err.code) == "string", "util.fail: an error code expected")
  assert(type(message) == "string", "util.fail: a message expected")
  for k, v in pairs(fields or {}) do err[k] = v end
  err.message = message
  return nil, message, setmetatable(err, core.Error)
end

--- Runs `f(...)`, then `close()`, on every path: returns f's results; an
-- error f raises is raised again (as it is) once `close` has run.
-- @tparam function close what releases the resource f uses
-- @tparam function f the work
-- @return f's results
function util.finally(close, f, ...)
  local res = table.pack(pcall(f, ...))
  close()
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

--- Splits option `key` off an options table: returns a copy of `opts`
-- without it (nil when `opts` is nil) and its value. A non-table `opts`
-- raises `bad argument #<argn> to '<fname>' (options must be a table)` at
-- `level` (default 2: the caller of the function calling this).
-- @tparam[opt] table opts the options given
-- @tparam string key the option to take out
-- @tparam integer argn the position of `opts` in the call, for the message
-- @tparam string fname the function, named in the message
-- @tparam[opt=2] integer level the error level
-- @return the other options, the value of `key`
function util.split_option(opts, key, argn, fname, level)
  if opts == nil then return nil, nil end
  if type(opts) ~= "table" then
    error(("bad argument #%d to '%s' (options must be a table)"):format(argn, fname), (level or 2) + 1)
  end
  local rest = {}
  for k, v in pairs(opts) do
    if k ~= key then rest[k] = v end
  end
  return rest, opts[key]
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
