-- Getters of absent and null fields (issue 13, item 23): exactly one value,
-- nil, for every field of every type (generated from the declarations, as
-- binding_spec does), so `tostring(d:platform())` and `f(a:x(), b)` work.
-- Also every other method that may have nothing to give.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local fixtures = support.load("types")
local oci = require("ocispec")
local core = require("ocispec.core")

-- Every class, sorted by namespace then name (deterministic order).
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

local by_name = {}
for _, c in ipairs(classes) do by_name[c.name] = c end

-- An object with no field at all (T.new() of some classes is oci-spec-rs's
-- constructor with arguments).
local function empty(class)
  return assert(class.from_json("{}", { allow_missing_required = true }))
end

local function one_nil(what, ...)
  assert.are.equal(1, select("#", ...), what .. ": number of results")
  assert.is_nil((...), what)
end

describe("absent fields", function()
  it("every getter of an absent field returns exactly one nil", function()
    local n = 0
    for _, c in ipairs(classes) do
      local obj = empty(c.class)
      for _, f in ipairs(c.class.fields) do
        local getter = obj[f.name]
        assert.is_function(getter, c.name .. ":" .. f.name)
        one_nil(("%s:%s() of a new object"):format(c.name, f.name), getter(obj))
        assert.are.equal("nil", tostring(getter(obj)))
        n = n + 1
      end
    end
    assert.truthy(n > 100, "fields checked: " .. n)
  end)

  it("every getter of an optional field absent from a parsed document returns one nil", function()
    for _, c in ipairs(classes) do
      local fx = fixtures.get(c.ns, c.name)
      local obj = assert(c.class.from_table(fx.minimal))
      for _, f in ipairs(c.class.fields) do
        if fx.minimal[f.key] == nil then
          one_nil(("%s:%s() of a minimal document"):format(c.name, f.name), obj[f.name](obj))
        end
      end
      -- and on child objects taken from the full document (userdata tied
      -- to their document: the same getters)
      local full = assert(c.class.from_table(fx.full))
      for _, f in ipairs(c.class.fields) do
        local child = full[f.name](full)
        if f.kind == "object" and type(child) == "userdata" then
          local child_class = by_name[child:type_name()].class
          local bare = empty(child_class)
          for _, cf in ipairs(child_class.fields) do
            if not child:has(cf.key) then
              one_nil(("%s:%s():%s()"):format(c.name, f.name, cf.name), child[cf.name](child))
            end
            one_nil(("%s:%s() of an empty child"):format(child_class.name, cf.name), bare[cf.name](bare))
          end
        end
      end
    end
  end)

  it("every getter of a field set to JSON null returns one nil (is_null tells)", function()
    for _, c in ipairs(classes) do
      local obj = empty(c.class)
      for _, f in ipairs(c.class.fields) do
        if not f.required then
          obj["set_" .. f.name](obj, oci.null)
          assert.is_true(obj:is_null(f.name))
          one_nil(("%s:%s() of a null field"):format(c.name, f.name), obj[f.name](obj))
          obj["set_" .. f.name](obj, nil)
          assert.is_false(obj:has(f.name))
          one_nil(("%s:%s() of a removed field"):format(c.name, f.name), obj[f.name](obj))
        end
      end
    end
  end)

  it("the issue's case: tostring(d:platform()) and passing getters along", function()
    local d = assert(oci.image.Descriptor.from_table(fixtures.get("image", "Descriptor").minimal))
    assert.are.equal("nil", tostring(d:platform()))
    assert.are.same({ n = 2, nil, "x" }, table.pack(d:platform(), "x"))
  end)

  it("the helper methods of the Lua layer give one value on empty objects", function()
    local image, runtime, dist = oci.image, oci.runtime, oci.distribution
    one_nil("Descriptor:as_digest_sha256()", empty(image.Descriptor):as_digest_sha256())
    local d = assert(image.Descriptor.from_table(fixtures.get("image", "Descriptor").minimal))
    assert.are.equal(1, select("#", d:as_digest_sha256()))
    local c = empty(image.ImageConfiguration)
    one_nil("ImageConfiguration:labels_of_config()", c:labels_of_config())
    one_nil("ImageConfiguration:get_config_annotation()", c:get_config_annotation("k"))
    one_nil("ImageConfiguration:version()", c:version())
    one_nil("ErrorResponse:detail()", empty(dist.ErrorResponse):detail())
    assert.are.equal(1, select("#", empty(runtime.LinuxDeviceCgroup):to_string()))
  end)
end)
