-- Driver of fuzz_lua_binding (fuzz/lua_binding.c): one input through the
-- Lua binding. Arguments: the core module, the type's namespace and name,
-- the options byte, the operations byte and the JSON text. Raises
-- "property failed: ..." when a property breaks; any other error raised
-- here is a failure too (the binding raised where it must return).
local core, ns, name, optbyte, opbyte, text = ...
local T = core.types[ns][name]
local json_encode, json_decode = core.json_encode, core.json_decode

local function fail(fmt, ...)
  error("property failed: " .. name .. ": " .. fmt:format(...), 0)
end

local function check(cond, fmt, ...)
  if not cond then fail(fmt, ...) end
end

local CODES = {
  syntax = true, type = true, range = true, duplicate_key = true, missing = true,
  depth = true, too_big = true, utf8 = true, invalid = true,
}

local DEPTHS = { false, 1, 2, 4, 16, 256, 1023, 1024 }
local lenient = optbyte & 1 == 1
local max_depth = DEPTHS[(optbyte >> 1) % #DEPTHS + 1]
local opts = { allow_duplicate_keys = lenient, allow_missing_required = lenient, max_depth = max_depth or nil }
-- the limits alone: what json.encode and from_table take (they raise on
-- a parse-only option)
local limits = { max_depth = max_depth or nil }
local limit = max_depth or 256

-- A failure triple: nil, a message, an error table with a known code.
local function check_failure(what, ok, msg, err)
  check(ok == nil, "%s: expected nil, got %s", what, tostring(ok))
  check(type(msg) == "string" and msg ~= "", "%s: message %s", what, tostring(msg))
  check(type(err) == "table", "%s: no error table", what)
  check(CODES[err.code], "%s: code %s (%s)", what, tostring(err.code), msg)
  check(type(err.message) == "string" and err.message ~= "", "%s: empty err.message", what)
  check(type(err.pointer) == "string" and (err.pointer == "" or err.pointer:sub(1, 1) == "/"),
    "%s: pointer %s", what, tostring(err.pointer))
  return err.code, msg
end

-- Lua values as JSON values: a uint64 past math.maxinteger is a decimal
-- string in to_table() and a float in json.decode; metatables (the
-- empty-array marker) are compared by emptiness only.
local function deep_eq(a, b, depth)
  depth = depth or 0
  if depth > 1100 then fail("deep_eq: deeper than any document") end
  if a == b then return true end
  local ta, tb = type(a), type(b)
  if ta == "string" and tb == "number" and a:match("^%d+$") then return tonumber(a) == b end
  if tb == "string" and ta == "number" and b:match("^%d+$") then return tonumber(b) == a end
  if ta ~= "table" or tb ~= "table" then return false end
  for k, v in pairs(a) do
    if not deep_eq(v, b[k], depth + 1) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- How deep a Lua value nests (tables).
local function depth_of(v, d)
  d = d or 0
  if type(v) ~= "table" then return d end
  local m = d + 1
  for _, x in pairs(v) do
    local n = depth_of(x, d + 1)
    if n > m then m = n end
  end
  return m
end

local function nested(n)
  local v = true
  for _ = 1, n do v = { v } end
  return v
end

-- Errors a conversion from Lua may give for values that came from a
-- document: numbers past the double range became infinities; a free-form
-- value deeper than a setter's default limit.
local function acceptable_set_error(msg)
  msg = tostring(msg)
  return msg:find("cannot hold", 1, true) or msg:find("nesting deeper than", 1, true)
end

-- ---- the same text as plain JSON -----------------------------------------

local v, vmsg, verr = json_decode(text, opts)
if v == nil then check_failure("json.decode", v, vmsg, verr) end
if v ~= nil then
  local enc, emsg, eerr = json_encode(v, limits)
  if enc then
    local back = json_decode(enc, opts)
    check(back ~= nil and deep_eq(back, v), "json: decode(encode(v)) differs: %s", enc)
    check(json_encode(back, limits) == enc, "json: encode is not deterministic: %s", enc)
  else
    local code = check_failure("json.encode", enc, emsg, eerr)
    check(code == "range", "json.encode of a decoded value: %s", emsg)
  end
  if opbyte & 0x40 ~= 0 then -- in a coroutine: its stack starts small
    local co = coroutine.wrap(function() return json_decode(text, opts) end)
    check(deep_eq(co(), v), "json.decode in a coroutine differs")
  end
end

-- ---- the document ---------------------------------------------------------

local d, msg, err = T.from_json(text, opts)
if not d then
  check_failure("from_json", d, msg, err)
  check(v == nil or err.code ~= "syntax", "from_json: syntax error on JSON that json.decode reads: %s", msg)
  return
end
check(v ~= nil, "from_json accepted what json.decode refuses: %s", tostring(vmsg))

local out = d:to_json()
check(tostring(d) == out, "tostring differs from to_json")
local pretty = d:to_json({ pretty = true })
local d2 = T.from_json(out, opts)
check(d2 and d2 == d, "own output does not parse back equal: %s", out)
check(d2:to_json() == out, "second serialization differs")
local d3 = T.from_json(pretty, opts)
check(d3 and d3 == d, "pretty output does not parse back equal")
local c = d:clone()
check(c == d and c:to_json() == out, "clone differs")
check(d:memory_size() > 0, "memory_size")

-- to_table is what json.decode of to_json gives
local t = d:to_table()
check(deep_eq(t, json_decode(out, opts)), "to_table differs from json.decode(to_json()): %s", out)
check(depth_of(t) <= limit, "to_table deeper than the limit")
if opbyte & 0x40 ~= 0 then
  local co = coroutine.wrap(function() return d:to_table() end)
  check(deep_eq(co(), t), "to_table in a coroutine differs")
end

-- from_table takes that shape back, with the same limits
local e, emsg, eerr = T.from_table(t, limits)
if e then
  check(deep_eq(e:to_table(), t), "from_table(to_table()):to_table() differs: %s", out)
  check(T.from_json(e:to_json(), opts), "from_table's output does not parse")
else
  local code = check_failure("from_table", e, emsg, eerr)
  check(code == "range" and emsg:find("cannot hold", 1, true)
    or lenient and (code == "missing" or code == "type" and emsg:find("must not be null", 1, true)),
    "from_table(to_table()) failed: %s", emsg)
end

-- unknown members: part of to_table, and set back as they are
local unknown, n_unknown = d:unknown_fields(), 0
for k, u in pairs(unknown) do
  check(deep_eq(u, t[k]), "unknown_fields()[%q] differs from to_table", k)
  n_unknown = n_unknown + 1
  if n_unknown > 4 then break end
  local c2 = d:clone()
  local ok, serr = pcall(c2.set_unknown_field, c2, k, u)
  if ok then
    check(deep_eq(c2:unknown_fields()[k], u), "set_unknown_field(%q) does not keep its value", k)
  else
    check(acceptable_set_error(serr), "set_unknown_field(%q): %s", k, tostring(serr))
  end
end

-- getters: exactly one value, nil when absent or null; setters take it
-- back (a clone per field: on one field in four, picked by the input)
for i, f in ipairs(T.fields) do
  local r = table.pack(d[f.name](d))
  check(r.n == 1, "%s() gave %d values", f.name, r.n)
  local present = d:has(f.key) and not d:is_null(f.key)
  check((r[1] ~= nil) == present, "%s(): %s for a field %s", f.name, tostring(r[1]),
    present and "present" or "absent")
  if type(r[1]) == "userdata" then
    check(deep_eq(r[1]:to_table(), t[f.key]), "%s():to_table() differs", f.name)
  end
  if (i + opbyte) % 4 == 0 then
    local c3 = d:clone()
    local ok, serr = pcall(c3["set_" .. f.name], c3, r[1])
    if ok then
      check(T.from_json(c3:to_json(), opts), "after set_%s, the output does not parse", f.name)
    else
      check(acceptable_set_error(serr), "set_%s(%s()): %s", f.name, f.name, tostring(serr))
    end
  end
end

-- validate: true, warnings | nil, message, err (err.problems)
local ok, a, b = d:validate()
if not ok then
  check(type(a) == "string" and getmetatable(b) == core.Error and b.code == "validate" and b.message == a
    and type(b.pointer) == "string" and type(b.rule) == "string", "validate: error table")
end
local list = ok and a or b.problems
check(ok == true or ok == nil and b.code == "validate" and #list > 0, "validate results")
for _, p in ipairs(list) do
  check(type(p.rule) == "string" and p.rule ~= "" and type(p.message) == "string"
    and type(p.pointer) == "string" and (p.severity == "error" or p.severity == "warning"),
    "validate: a malformed problem")
  check(ok ~= true or p.severity == "warning", "validate: an error in a valid document")
end

-- ---- structured operations (the operations byte) ---------------------------

if opbyte & 0x01 ~= 0 then
  -- a child taken, the document closed: both stay usable (the child keeps
  -- the document alive; close does not free a lent document)
  local x = T.from_json(out, opts)
  local child -- any object userdata taken from x makes x lent
  for _, f in ipairs(T.fields) do
    local g = x[f.name](x)
    if type(g) == "userdata" then child = g end
    if type(g) == "table" then
      for _, elem in pairs(g) do
        if type(elem) == "userdata" then child = elem end
      end
    end
    if child then break end
  end
  getmetatable(x).__close(x)
  collectgarbage()
  if child then
    check(tostring(child) == child:to_json(), "child after its document closed")
    check(x:to_json() == out, "a lent document was freed by close")
  else
    check(not pcall(x.to_json, x), "a closed document is still usable")
  end
end

if opbyte & 0x02 ~= 0 then
  -- free-form values around the setters' depth limit (256 levels)
  local n = ({ 255, 256, 257, 1023 })[(opbyte >> 2) % 4 + 1]
  local c4 = d:clone()
  local set_ok, serr = pcall(c4.set_unknown_field, c4, "zz-deep", nested(n))
  check(set_ok == (n <= 256), "set_unknown_field of %d levels: %s", n, tostring(serr))
  if set_ok then
    check(depth_of(c4:unknown_fields()["zz-deep"]) == n, "deep value lost levels")
  else
    check(tostring(serr):find("nesting deeper than 256 levels", 1, true), "%s", tostring(serr))
  end
end

if opbyte & 0x10 ~= 0 then
  -- a table that contains itself is refused, never followed
  t["zz-self"] = t
  local y, ymsg, yerr = T.from_table(t, limits)
  local code = check_failure("from_table of a cycle", y, ymsg, yerr)
  check(code == "depth" or lenient or code == "range", "from_table of a cycle: %s", ymsg)
  t["zz-self"] = nil
  local enc, encmsg, encerr = json_encode(t)
  if enc == nil then check_failure("json.encode", enc, encmsg, encerr) end
end

if opbyte & 0x20 ~= 0 then
  -- a builder fed by the getters
  local bld = T.builder()
  for _, f in ipairs(T.fields) do
    local g = d[f.name](d)
    if g ~= nil then
      local bok, berr = pcall(bld[f.name], bld, g)
      check(bok or acceptable_set_error(berr), "builder %s: %s", f.name, tostring(berr))
    end
  end
  local built, bmsg, berr = bld:build()
  if built then
    check(T.from_json(built:to_json(), opts), "built object does not parse")
    check(not pcall(bld.build, bld), "a consumed builder builds again")
  else
    check(type(bmsg) == "string" and type(berr) == "table" and type(berr.code) == "string",
      "build() failure: %s", tostring(bmsg))
  end
end

if opbyte & 0x80 ~= 0 then
  collectgarbage(opbyte & 0x08 ~= 0 and "incremental" or "generational")
  collectgarbage("step", 64)
end
