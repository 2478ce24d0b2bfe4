-- The generic binding (csrc/lua/core.c, csrc/lua/convert.c), checked on
-- EVERY class of require("ocispec.core").types with the fixtures of
-- spec/fixtures/types.lua: JSON and table round trips, clone and ==,
-- builders, getters/setters, parse errors, files, and object lifetimes.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local fixtures = support.load("types")
local oci = require("ocispec")
local core = require("ocispec.core")

local assert_fails, assert_raises = support.assert_fails, support.assert_raises

-- Every class, sorted by namespace then name (deterministic test order).
local classes = {}
for ns, list in pairs(core.types) do
  for name, class in pairs(list) do
    classes[#classes + 1] = { ns = ns, name = name, class = class }
  end
end
table.sort(classes, function(a, b)
  if a.ns ~= b.ns then return a.ns < b.ns end
  return a.name < b.name
end)

local function required_fields(class)
  local keys, names = {}, {}
  for _, f in ipairs(class.fields) do
    if f.required then
      keys[#keys + 1] = f.key
      names[#names + 1] = f.name
    end
  end
  return keys, names
end

-- A value of the wrong Lua type for field f, whose valid sample is v.
local function wrong_lua_value(f, v)
  if f.kind == "JSON value" then return print end -- any JSON is fine; a function is not
  if type(v) == "string" then return 42 end
  return "not-" .. f.kind
end

-- A JSON text of the wrong type for field f, whose valid sample is v.
local function wrong_json_value(v)
  if type(v) == "string" then return "1" end
  return '"x"'
end

-- Types whose required members alone break a cross-field rule of their
-- spec (so their minimal fixture, an empty builder or new() is invalid).
local MINIMAL_RULES = {
  Spec = "R-CFG-3", Process = "R-CFG-15", LinuxWeightDevice = "R-LNX-12",
  LinuxThrottleDevice = "R-LNX-13", LinuxRdma = "R-LNX-17",
}

-- obj fails validation, with errors of that one rule only.
local function assert_only_rule(obj, rule)
  local ok, msg, problems = obj:validate()
  assert.is_nil(ok, "expected " .. rule)
  assert.truthy(msg:find(rule, 1, true), msg)
  for _, p in ipairs(problems) do
    if p.severity == "error" then assert.are.equal(rule, p.rule, p.message) end
  end
end

local function fresh(entry, which)
  return assert(fixtures.get(entry.ns, entry.name), "no fixture")[which]
end

local function build(entry, which)
  local obj, msg = entry.class.from_table(fresh(entry, which))
  assert(obj, msg)
  return obj
end

-- How many fields of each type have object (or array of object) values.
local CHILD_FIELDS = {
  Descriptor = 1, ImageManifest = 3, ImageIndex = 2, ImageConfiguration = 3, Config = 1,
  ArtifactManifest = 2, ErrorResponse = 1, BlobLocations = 1,
  -- runtime
  ContainerProcessState = 1, Features = 1, FreeBSD = 2, FreeBSDJail = 1, Hooks = 6, Linux = 9,
  LinuxBlockIo = 5, LinuxFeature = 8, LinuxNetwork = 1, LinuxResources = 7, LinuxSeccomp = 1,
  LinuxSyscall = 1, Mount = 2, MountExtensions = 1, Process = 7, Solaris = 3, Spec = 10, VM = 4,
  VMHWConfig = 1, Windows = 4, WindowsCPUResources = 1, WindowsResources = 3, ZOS = 1,
}

local function collect()
  for _ = 1, 4 do collectgarbage("collect") end
end

describe("binding", function()
  it("sees the types of every namespace", function()
    assert.is_table(core.types.image)
    assert.is_table(core.types.distribution)
    assert.is_true(#classes >= 15)
    for _, e in ipairs(classes) do
      assert.are.equal(e.name, e.class.name)
      assert.are.equal(e.ns, e.class.namespace)
      assert.are.equal(e.class, oci[e.ns][e.name], e.name .. " not exported by ocispec." .. e.ns)
      assert.is_function(oci[e.ns][e.name .. "Builder"], e.name .. "Builder")
    end
  end)

  it("keeps children usable after their root was closed", function()
    local child
    do
      local m <close> = assert(oci.image.ImageManifest.from_table(fixtures.get("image", "ImageManifest").minimal))
      child = m:config()
    end
    collect()
    assert.is_string(child:digest())
    assert.is_string(child:to_json())
  end)

  it("releases a root with no children at once on close, and refuses later use", function()
    local keep
    do
      local m <close> = assert(oci.image.ImageManifest.from_table(fixtures.get("image", "ImageManifest").minimal))
      keep = m
    end
    assert.has_error(function() keep:to_json() end, "calling 'to_json' on bad self (attempt to use a closed object)")
    local ok, err = pcall(keep.to_json, keep)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("closed object", 1, true), err)
  end)

  it("has fixtures covering every type and every field", function()
    for _, e in ipairs(classes) do
      local fx = fixtures.get(e.ns, e.name)
      assert.is_table(fx, "spec/fixtures/types.lua lacks " .. e.ns .. "." .. e.name)
      local known = {}
      for _, f in ipairs(e.class.fields) do
        known[f.key] = true
        assert.is_not_nil(fx.full[f.key], e.name .. ".full lacks " .. f.key)
        if f.required then
          assert.is_not_nil(fx.minimal[f.key], e.name .. ".minimal lacks required " .. f.key)
        else
          assert.is_nil(fx.minimal[f.key], e.name .. ".minimal has optional " .. f.key)
        end
      end
      for k in pairs(fx.full) do assert.is_true(known[k], e.name .. ".full has unknown " .. k) end
    end
  end)

  for _, e in ipairs(classes) do
    local T, name = e.class, e.name
    local req_keys, req_names = required_fields(T)

    describe(e.ns .. "." .. name, function()
      it("describes its fields (key, snake name, kind, required)", function()
        assert.is_true(#T.fields > 0)
        for _, f in ipairs(T.fields) do
          assert.is_string(f.key)
          assert.truthy(f.name:match("^[a-z][a-z0-9_]*$"), f.name)
          assert.is_string(f.kind)
          assert.is_boolean(f.required)
          assert.is_function(T.methods[f.name], "getter " .. f.name)
          assert.is_function(T.methods["set_" .. f.name], "setter set_" .. f.name)
          assert.is_function(T.builder_methods[f.name], "builder method " .. f.name)
        end
      end)

      for _, which in ipairs({ "minimal", "full" }) do
        describe("(" .. which .. " fixture)", function()
          it("validates with no error", function()
            if which == "minimal" and MINIMAL_RULES[name] then
              assert_only_rule(build(e, which), MINIMAL_RULES[name])
            else
              support.assert_valid(build(e, which))
            end
          end)

          it("round-trips from_table -> to_json -> from_json as an equal object", function()
            local obj = build(e, which)
            local json = obj:to_json()
            local back = assert(T.from_json(json))
            assert.is_true(back == obj)
            assert.are.equal(json, back:to_json())
            local pretty = assert(T.from_json(obj:to_json({ pretty = true })))
            assert.is_true(pretty == obj)
          end)

          it("tostring is the compact JSON", function()
            local obj = build(e, which)
            local s = tostring(obj)
            assert.are.equal(obj:to_json(), s)
            assert.are.equal(obj:to_json({ pretty = false }), s)
            assert.is_nil(s:find("\n", 1, true))
            assert.is_nil(s:find('": ', 1, true))
            assert.are.equal("{", s:sub(1, 1))
          end)

          it("clones equal but independent", function()
            local obj = build(e, which)
            local before = obj:to_json()
            local c = obj:clone()
            assert.is_true(c == obj)
            assert.are.equal(before, c:to_json())
            c:set_unknown_field("x-clone", { n = 1 })
            local first = T.fields[1]
            c["set_" .. first.name](c, nil)
            assert.is_false(c == obj)
            assert.are.equal(before, obj:to_json())
            assert.is_true(obj:has(first.name) == (fresh(e, which)[first.key] ~= nil))
          end)

          it("to_table deep-equals json.decode(to_json())", function()
            local obj = build(e, which)
            local t = obj:to_table()
            assert.are.same(oci.json.decode(obj:to_json()), t)
            assert.is_true(T.from_table(t) == obj)
          end)

          it("json.encode(to_table()) is JSON-equal to to_json()", function()
            local obj = build(e, which)
            local text = assert(oci.json.encode(obj:to_table()))
            assert.is_true(assert(T.from_json(text)) == obj, text)
          end)
        end)
      end

      it("gives == false after each setter, true when set back", function()
        local obj = build(e, "full")
        for _, f in ipairs(T.fields) do
          local c = obj:clone()
          local value = c[f.name](c)
          assert.is_not_nil(value, f.name)
          c["set_" .. f.name](c, nil)
          assert.is_false(c == obj, "after set_" .. f.name .. "(nil)")
          c["set_" .. f.name](c, value)
          assert.is_true(c == obj, "after set_" .. f.name .. "(its getter's value): " .. tostring(c))
        end
      end)

      it("builder with nothing set names every required field", function()
        local b = T.builder()
        local ok, msg, err = b:build()
        if #req_names == 0 and MINIMAL_RULES[name] then
          assert.is_nil(ok)
          assert.truthy(msg:find(MINIMAL_RULES[name], 1, true), msg)
          return
        end
        if #req_names == 0 then
          assert.is_truthy(ok, msg)
          assert.are.equal("{}", ok:to_json())
          return
        end
        assert_fails({ name .. "Builder: missing required field" }, { code = "missing" }, ok, msg, err)
        for _, n in ipairs(req_names) do
          assert.truthy(msg:find("'" .. n .. "'", 1, true), ("%q lacks '%s'"):format(msg, n))
        end
        assert.are.same(req_names, err.fields)
        assert.are.equal(#req_names > 1, msg:find("fields", 1, true) ~= nil)
      end)

      if #req_names >= 2 then
        it("builder names only the required fields still missing", function()
          local b = T.builder()
          b[req_names[1]](b, fresh(e, "minimal")[req_keys[1]])
          local _, msg, err = b:build()
          assert.is_nil(msg:find("'" .. req_names[1] .. "'", 1, true), msg)
          assert.are.same({ table.unpack(req_names, 2) }, err.fields)
        end)
      end

      it("builder with every field builds the same object, then is consumed", function()
        local full = fresh(e, "full")
        local b = T.builder()
        for _, f in ipairs(T.fields) do
          assert.are.equal(b, b[f.name](b, full[f.key]), "builder methods return the builder")
        end
        local obj = assert(b:build())
        assert.is_true(obj == build(e, "full"))
        assert.truthy(tostring(b):find("(consumed)", 1, true))
        assert_raises("consumed builder", b.build, b)
        assert_raises("consumed builder", b[T.fields[1].name], b, full[T.fields[1].key])
      end)

      it("setters and builder methods raise on a wrong Lua type, naming the field", function()
        local obj = build(e, "full")
        local full = fresh(e, "full")
        local before = obj:to_json()
        for _, f in ipairs(T.fields) do
          local bad = wrong_lua_value(f, full[f.key])
          assert_raises({ f.name .. ":", "bad argument #2" }, obj["set_" .. f.name], obj, bad)
          local b = T.builder()
          assert_raises({ f.name .. ":", "bad argument #2" }, b[f.name], b, bad)
        end
        assert.are.equal(before, obj:to_json(), "a failed setter changed the object")
      end)

      it("set_x(nil) removes the field", function()
        for _, f in ipairs(T.fields) do
          local obj = build(e, "full")
          assert.is_true(obj:has(f.name))
          assert.are.equal(obj, obj["set_" .. f.name](obj, nil), "setters return the object")
          assert.is_false(obj:has(f.name), f.name)
          assert.is_false(obj:has(f.key), f.key)
          assert.is_nil(obj[f.name](obj))
          assert.is_nil(obj:to_table()[f.key])
          assert.is_nil(oci.json.decode(obj:to_json())[f.key], obj:to_json())
        end
      end)

      it("set_x(oci.null) writes null on optional fields and raises on required ones", function()
        for _, f in ipairs(T.fields) do
          local obj = build(e, "full")
          if f.required then
            assert_raises({ "required field '" .. f.name .. "' cannot be null" },
              obj["set_" .. f.name], obj, oci.null)
            assert.is_false(obj:is_null(f.name))
          else
            obj["set_" .. f.name](obj, oci.null)
            assert.is_true(obj:has(f.name))
            assert.is_true(obj:is_null(f.name))
            assert.is_nil(obj[f.name](obj))
            assert.are.equal(oci.null, obj:to_table()[f.key])
            local json = obj:to_json()
            assert.truthy(json:find('"' .. f.key .. '":null', 1, true), json)
            local back = assert(T.from_json(json))
            assert.is_true(back == obj)
            assert.is_true(back:is_null(f.key))
            -- null passes validate() where the spec allows it, else rule "null"
            local problems = support.problems(obj, "null")
            if f.nullable or f.kind == "JSON value" then
              assert.are.equal(0, #problems, f.key)
            else
              assert.are.equal(1, #problems, f.key)
              assert.are.equal("/" .. f.key, problems[1].pointer)
              assert.are.equal("error", problems[1].severity)
            end
          end
        end
      end)

      it("new() gives an empty object (Descriptor.new is oci-spec-rs' constructor)", function()
        if name == "Descriptor" then
          assert_fails("missing required fields", { code = "missing" }, T.new())
          return
        end
        local obj = T.new()
        assert.are.equal(name, obj:type_name())
        assert.are.equal("{}", obj:to_json())
        for _, f in ipairs(T.fields) do assert.is_false(obj:has(f.name)) end
        if #req_keys > 0 then
          support.assert_rule(obj, "required", "/" .. req_keys[1], 'missing its required field "' .. req_keys[1])
        elseif MINIMAL_RULES[name] then
          assert_only_rule(obj, MINIMAL_RULES[name])
        else
          support.assert_valid(obj)
        end
      end)

      it("has() and is_null() raise on a name that is no field", function()
        local obj = build(e, "minimal")
        assert_raises(name .. " has no field 'no_such_field'", obj.has, obj, "no_such_field")
        assert_raises(name .. " has no field 'no_such_field'", obj.is_null, obj, "no_such_field")
      end)

      it("keeps, replaces and removes unknown fields", function()
        local obj = build(e, "minimal")
        assert.are.same({}, obj:unknown_fields())
        obj:set_unknown_field("x-extra", { b = { 1, 2 }, a = oci.null })
        local json = obj:to_json()
        assert.truthy(json:find('"x-extra":{"a":null,"b":[1,2]}', 1, true), json)
        local back = assert(T.from_json(json))
        assert.is_true(back == obj)
        assert.are.same({ ["x-extra"] = { a = oci.null, b = { 1, 2 } } }, back:unknown_fields())
        obj:set_unknown_field("x-extra", "s")
        assert.are.same({ ["x-extra"] = "s" }, obj:unknown_fields())
        obj:set_unknown_field("x-extra", nil)
        assert.are.same({}, obj:unknown_fields())
        assert.are.equal(build(e, "minimal"):to_json(), obj:to_json())
        assert_raises("a field of the spec", obj.set_unknown_field, obj, T.fields[1].key, 1)
      end)

      it("knows its type name and memory size", function()
        local obj = build(e, "minimal")
        assert.are.equal(name, obj:type_name())
        assert.are.equal("integer", math.type(obj:memory_size()))
        assert.is_true(obj:memory_size() > 0)
      end)

      it("is not == to an object of another type or to a table", function()
        local obj = build(e, "minimal")
        local other = e.name == "OciLayout" and oci.image.RootFs or oci.image.OciLayout
        local o2 = other.from_table(fixtures.get("image", other.name).minimal)
        assert.is_false(obj == o2)
        assert.is_false(obj == obj:to_table())
      end)

      describe("from_json errors", function()
        it("reports a wrong type with code, pointer, line and column", function()
          local full = fresh(e, "full")
          for _, f in ipairs(T.fields) do
            if f.kind ~= "JSON value" then
              local obj = build(e, "full")
              obj["set_" .. f.name](obj, nil)
              local rest = obj:to_json():sub(2)
              local prefix = '{"' .. f.key .. '":'
              local doc = prefix .. wrong_json_value(full[f.key]) .. (rest == "}" and "" or ",") .. rest
              local msg, err = assert_fails({ name .. ": ", "/" .. f.key .. ": expected" },
                { code = "type", pointer = "/" .. f.key, line = 1, column = #prefix + 1 },
                T.from_json(doc))
              assert.truthy(msg:find("1:" .. (#prefix + 1) .. ":", 1, true), msg)
              assert.truthy(err.message:find("expected", 1, true))
            end
          end
        end)

        it("reports the line and column in multi-line input", function()
          for _, f in ipairs(T.fields) do
            if f.kind ~= "JSON value" then
              local obj = build(e, "full")
              obj["set_" .. f.name](obj, nil)
              local pretty = obj:to_json({ pretty = true })
              -- the member, with a wrong value, on line 2 of the pretty text
              local head = '  "' .. f.key .. '": '
              local member = head .. wrong_json_value(fresh(e, "full")[f.key])
              local doc = pretty == "{}" and "{\n" .. member .. "\n}"
                or "{\n" .. member .. "," .. pretty:sub(2)
              assert_fails({ "2:" .. (#head + 1) .. ":" },
                { code = "type", pointer = "/" .. f.key, line = 2, column = #head + 1 }, T.from_json(doc))
            end
          end
        end)

        if #req_keys > 0 then
          it("reports each missing required field", function()
            for _, key in ipairs(req_keys) do
              local t = build(e, "minimal"):to_table() -- empty arrays keep their marker
              t[key] = nil
              local doc = oci.json.encode(t)
              assert_fails({ 'missing required field "' .. key .. '"' }, { code = "missing", line = 1 },
                T.from_json(doc))
              local partial = assert(T.from_json(doc, { allow_missing_required = true }))
              assert.is_false(partial:has(key))
              support.assert_rule(partial, "required", "/" .. key, key)
            end
          end)
        end

        it("refuses duplicate keys, unless allow_duplicate_keys", function()
          local obj = build(e, "full")
          local first = T.fields[1]
          local v = assert(oci.json.encode(fresh(e, "full")[first.key]))
          local prefix = '{"' .. first.key .. '":' .. v .. ','
          local doc = prefix .. obj:to_json():sub(2)
          local msg = assert_fails({ "duplicate key", '"' .. first.key .. '"' },
            { code = "duplicate_key", pointer = "/" .. first.key, line = 1, column = #prefix + 1 }, T.from_json(doc))
          assert.truthy(msg:find("1:" .. (#prefix + 1) .. ":", 1, true), msg)
          local lenient = assert(T.from_json(doc, { allow_duplicate_keys = true }))
          assert.is_true(lenient == obj)
        end)

        it("refuses trailing garbage", function()
          local json = build(e, "minimal"):to_json()
          assert_fails({ "trailing characters" }, { code = "syntax", line = 1, column = #json + 2 },
            T.from_json(json .. " x"))
          assert_fails({ "trailing characters" }, { code = "syntax", line = 2, column = 1 },
            T.from_json(json .. "\n{}"))
        end)

        it("refuses a JSON value that is not an object", function()
          for _, doc in ipairs({ "[]", "1", '"s"', "null", "true" }) do
            assert_fails({ "expected object" }, { code = "type", line = 1, column = 1 }, T.from_json(doc))
          end
          assert_fails({ "empty document" }, { code = "syntax" }, T.from_json(""))
        end)
      end)

      describe("from_table errors", function()
        it("reports a wrong type with code and pointer", function()
          local full = fresh(e, "full")
          for _, f in ipairs(T.fields) do
            local t = fresh(e, "full")
            t[f.key] = wrong_lua_value(f, full[f.key])
            assert_fails({ name .. ": ", "/" .. f.key .. ": " }, { code = "type", pointer = "/" .. f.key },
              T.from_table(t))
          end
        end)

        if #req_keys > 0 then
          it("reports a missing required field", function()
            for _, key in ipairs(req_keys) do
              local t = fresh(e, "minimal")
              t[key] = nil
              assert_fails({ 'missing required field "' .. key .. '"' }, { code = "missing" }, T.from_table(t))
            end
          end)
        end
      end)

      describe("files", function()
        local dir
        before_each(function() dir = support.tmpdir() end)
        after_each(function() support.rmdir(dir) end)

        it("from_file on a missing file returns nil and a message with the path", function()
          local path = dir .. "/no-such-file.json"
          assert_fails({ path }, { code = "io" }, T.from_file(path))
        end)

        it("to_file writes compact JSON that from_file reads back", function()
          local obj = build(e, "full")
          local path = dir .. "/compact.json"
          assert.is_true(obj:to_file(path))
          assert.are.equal(obj:to_json(), support.read(path))
          assert.is_true(assert(T.from_file(path)) == obj)
        end)

        it("to_file_pretty writes 2-space pretty JSON with no trailing newline", function()
          local obj = build(e, "full")
          local path = dir .. "/pretty.json"
          assert.is_true(obj:to_file_pretty(path))
          local text = support.read(path)
          assert.are.equal(obj:to_json({ pretty = true }), text)
          assert.are_not.equal("\n", text:sub(-1))
          assert.are.equal("}", text:sub(-1))
          assert.truthy(text:match('^{\n  "'), text)
          for line in text:gmatch("[^\n]+") do
            local indent = #line:match("^ *")
            assert.are.equal(0, indent % 2, line)
          end
          assert.is_true(assert(T.from_file(path)) == obj)
          assert.is_true(obj:to_file(dir .. "/pretty2.json", { pretty = true }))
          assert.are.equal(text, support.read(dir .. "/pretty2.json"))
        end)

        it("to_file replaces a file whole and leaves no temporary file on failure", function()
          local path = dir .. "/doc.json"
          assert.is_true(build(e, "full"):to_file_pretty(path))
          local small = build(e, "minimal")
          assert.is_true(small:to_file(path))
          assert.are.equal(small:to_json(), support.read(path))
          os.execute('mkdir "' .. dir .. '/sub"')
          assert_fails({ dir .. "/sub" }, { code = "io" }, small:to_file(dir .. "/sub"))
          assert.are.same({ "doc.json", "sub" }, support.list(dir, "."))
        end)

        it("to_file into a missing directory returns nil and a message", function()
          local obj = build(e, "minimal")
          local path = dir .. "/missing/x.json"
          local msg, err = assert_fails({ path }, { code = "io" }, obj:to_file(path))
          assert.is_nil(err.line, "an I/O error has no line")
          assert.are.equal("", err.pointer)
          assert.is_nil(msg:find("^%d+:%d+:"), msg)
          assert_fails({ path }, { code = "io" }, obj:to_file_pretty(path))
        end)
      end)

      describe("lifetime", function()
        it("works as a to-be-closed variable", function()
          local seen
          do
            local x <close> = build(e, "minimal")
            seen = x
            assert.are.equal(name, x:type_name())
          end
          assert.truthy(tostring(seen):find("(closed)", 1, true))
          assert_raises("closed object", seen.to_json, seen)
          assert.is_false(seen == build(e, "minimal"))
          do
            local b <close> = T.builder()
            assert.truthy(tostring(b):find(name .. "Builder", 1, true))
          end
          collect()
        end)

        it("children alias the document and survive the root being collected", function()
          local checked = 0
          for _, f in ipairs(T.fields) do
            local root = build(e, "full")
            local v = root[f.name](root)
            local list = type(v) == "table" and type(v[1]) == "userdata"
            local child = type(v) == "userdata" and v or list and v[1] or nil
            if child then
              checked = checked + 1
              local expect = child:to_json()
              -- editing the child edits the parent
              child:set_unknown_field("x-alias", true)
              assert.truthy(root:to_json():find('"x-alias":true', 1, true), root:to_json())
              child:set_unknown_field("x-alias", nil)
              root, v = nil, nil -- luacheck: ignore 311
              collect()
              assert.are.equal(expect, child:to_json())
              child:set_unknown_field("x-after", 1)
              assert.truthy(tostring(child):find('"x-after":1', 1, true))
              -- setters copy: changing the source afterwards leaves the parent alone
              local parent = build(e, "full")
              local src = child:clone()
              parent["set_" .. f.name](parent, list and { src } or src)
              local json = parent:to_json()
              assert.truthy(json:find('"x-after":1', 1, true), json)
              src:set_unknown_field("x-later", 1)
              assert.are.equal(json, parent:to_json())
            end
          end
          assert.are.equal(CHILD_FIELDS[name] or 0, checked, "fields giving child userdata")
        end)

        if name == "ImageIndex" then
          it("grandchildren keep the root alive too", function()
            local idx = build(e, "full")
            local platform = idx:manifests()[1]:platform()
            idx = nil -- luacheck: ignore 311
            collect()
            assert.are.equal("ppc64le", platform:architecture())
            platform:set_variant("v9")
            assert.are.equal("v9", platform:variant())
          end)
        end
      end)
    end)
  end
end)
