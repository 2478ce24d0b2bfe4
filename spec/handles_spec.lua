-- The hand-written metatables share one helper (csrc/lua/handle.c): every
-- handle has close(), __close and __gc (idempotent), a dotted __name, a
-- __tostring "<name> (<detail>)" / "<name> (closed)", and raises
-- "attempt to use a closed <name>" once closed.
local oci = require("ocispec")

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local registries = dofile(here .. "fixtures/registry.lua")

describe("handles", function()
  local tmp
  setup(function() tmp = registries.scratch() end)

  -- name, a new handle, a method call that needs it open
  local function cases()
    local L = assert(oci.layout.create(tmp .. "/L" .. math.random(1e9)))
    return {
      { "ocispec.layout.Layout", L, function(h) return h:path() end },
      { "ocispec.layout.BlobWriter", L:blob_writer(), function(h) return h:size() end },
      { "ocispec.registry.Client", assert(oci.registry.connect("127.0.0.1:1", { auth_file = false })),
        function(h) return h:host() end },
      { "ocispec.digest.Hasher", oci.digest.hasher(), function(h) return h:size() end },
      { "ocispec.distribution.Reference", assert(oci.distribution.Reference.parse("a/b:c")),
        function(h) return h:tag() end },
    }
  end

  it("share close, __close, __gc, __name, __tostring and the closed check", function()
    for _, c in ipairs(cases()) do
      local name, h, use = c[1], c[2], c[3]
      local mt = getmetatable(h)
      assert.are.equal(name, mt.__name)
      assert.is_function(mt.__gc, name)
      assert.is_function(mt.__close, name)
      assert.is_function(mt.__index.close, name)
      assert.is_not_nil(use(h), name)
      if name ~= "ocispec.distribution.Reference" then -- its tostring is the reference
        assert.truthy(tostring(h):find("^" .. name:gsub("%.", "%%.") .. " %("), tostring(h))
      end
      h:close()
      h:close() -- idempotent
      mt.__gc(h)
      support.assert_raises({ "attempt to use a closed " .. name }, use, h)
      if name ~= "ocispec.distribution.Reference" then
        assert.are.equal(name .. " (closed)", tostring(h))
      end
    end
  end)

  it("are released by <close> at the end of a scope", function()
    for _, c in ipairs(cases()) do
      local name, use = c[1], c[3]
      local kept
      do
        local h <close> = c[2]
        kept = h
      end
      support.assert_raises({ "attempt to use a closed " .. name }, use, kept)
    end
  end)

  it("close() of one kind refuses another", function()
    local hasher = oci.digest.hasher()
    local ref = assert(oci.distribution.Reference.parse("a/b"))
    support.assert_raises({ "ocispec.digest.Hasher expected" }, getmetatable(hasher).__index.close, ref)
    assert.is_not_nil(ref:whole())
  end)
end)
