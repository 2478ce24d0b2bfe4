-- Nesting limits of the Lua binding (issue 13, item 21): every entry point
-- that turns JSON or Lua tables into documents, or documents into Lua
-- values, at max_depth - 1 and max_depth (accepted, and correct) and at
-- max_depth + 1 (a clean `depth` error naming the limit), for the default
-- limit (256) and the hard limit (1024); tables that contain themselves are
-- refused; nothing writes past the Lua stack (also inside coroutines, whose
-- stacks start small); the command exits with its documented codes.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")

local assert_fails, assert_raises = support.assert_fails, support.assert_raises
local image, json = oci.image, oci.json

local LIMIT = 256 -- OCI_DEFAULT_MAX_DEPTH (docs/security.md, "Parse limits")
local HARD = 1024 -- OCI_MAX_DEPTH_LIMIT

local DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

-- JSON text of n nested containers around 1: arrays "[[1]]" or objects
-- {"a":{"a":1}}.
local function nested_json(n, kind)
  if kind == "array" then return ("["):rep(n) .. "1" .. ("]"):rep(n) end
  return ('{"a":'):rep(n) .. "1" .. ("}"):rep(n)
end

-- The same as a Lua table.
local function nested_table(n, kind)
  local v = 1
  for _ = 1, n do v = kind == "array" and { v } or { a = v } end
  return v
end

-- How deep a Lua value nests (containers), checking the shape on the way.
local function depth_of(v, kind)
  local n = 0
  while type(v) == "table" do
    n = n + 1
    if kind == "array" then
      assert.are.equal(1, #v)
      v = v[1]
    else
      v = v.a
    end
  end
  assert.are.equal(1, v)
  return n
end

-- A descriptor whose unknown member "x" holds n nested containers: the
-- document nests n + 1 deep (the descriptor is level 1).
local function deep_descriptor(n, kind)
  return ('{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":2,"x":%s}')
    :format(DIGEST, nested_json(n, kind))
end

local function deep_descriptor_table(n, kind)
  return {
    mediaType = "application/vnd.oci.image.config.v1+json", digest = DIGEST, size = 2,
    x = nested_table(n, kind),
  }
end

-- Runs f in a fresh coroutine (a Lua stack of ~40 slots to start with).
local function in_coroutine(f, ...)
  local co = coroutine.create(f)
  local res = table.pack(coroutine.resume(co, ...))
  assert(res[1], res[2])
  return table.unpack(res, 2, res.n)
end

-- Every way back from a document to Lua values, checked on d whose member
-- "x" nests n deep.
local function check_document(d, n, kind, opts)
  assert.are.equal(n, depth_of(d:to_table().x, kind))
  assert.are.equal(n, depth_of(d:unknown_fields().x, kind))
  assert.are.equal(n, depth_of(in_coroutine(function() return d:to_table().x end), kind))
  assert.are.equal(n, depth_of(in_coroutine(function() return d:unknown_fields().x end), kind))
  local text = tostring(d)
  assert.are.equal(text, d:to_json())
  local back = assert(image.Descriptor.from_json(text, opts))
  assert.is_true(back == d)
  local c = d:clone()
  assert.is_true(c == d)
  assert.are.equal(text, c:to_json())
  assert.truthy(d:to_json({ pretty = true }):find("\n", 1, true))
  assert.is_true((d:validate()))
end

describe("nesting limits", function()
  for _, kind in ipairs({ "array", "object" }) do
    describe("(" .. kind .. "s)", function()
      it("from_json: max_depth - 1 and max_depth parse; max_depth + 1 is a depth error", function()
        for _, total in ipairs({ LIMIT - 1, LIMIT }) do
          local d = assert(image.Descriptor.from_json(deep_descriptor(total - 1, kind)))
          check_document(d, total - 1, kind)
        end
        local _, err = assert_fails({ "nesting deeper than 256 levels" }, { code = "depth" },
          image.Descriptor.from_json(deep_descriptor(LIMIT, kind)))
        assert.truthy(err.pointer:find("^/x/"), err.pointer)
      end)

      it("from_json with max_depth at the hard limit (1024)", function()
        local opts = { max_depth = HARD }
        for _, total in ipairs({ HARD - 1, HARD }) do
          local d = assert(image.Descriptor.from_json(deep_descriptor(total - 1, kind), opts))
          check_document(d, total - 1, kind, opts)
        end
        assert_fails({ "nesting deeper than 1024 levels" }, { code = "depth" },
          image.Descriptor.from_json(deep_descriptor(HARD, kind), opts))
      end)

      it("from_table: max_depth - 1 and max_depth convert; max_depth + 1 is a depth error", function()
        for _, total in ipairs({ LIMIT - 1, LIMIT }) do
          local d = assert(image.Descriptor.from_table(deep_descriptor_table(total - 1, kind)))
          check_document(d, total - 1, kind)
          -- the same document as from_json gives
          assert.is_true(d == assert(image.Descriptor.from_json(deep_descriptor(total - 1, kind))))
        end
        local _, err = assert_fails({ "nesting deeper than 256 levels" }, { code = "depth" },
          image.Descriptor.from_table(deep_descriptor_table(LIMIT, kind)))
        assert.truthy(err.pointer:find(kind == "array" and "^/x/0/0/0" or "^/x/a/a/a"), err.pointer)
      end)

      it("from_table with max_depth at the hard limit (1024)", function()
        local opts = { max_depth = HARD }
        local d = assert(image.Descriptor.from_table(deep_descriptor_table(HARD - 1, kind), opts))
        check_document(d, HARD - 1, kind, opts)
        assert_fails({ "nesting deeper than 1024 levels" }, { code = "depth" },
          image.Descriptor.from_table(deep_descriptor_table(HARD, kind), opts))
        -- a document nested deeper than the default cannot be read back
        -- without the option: the limit holds both ways
        assert_fails({ "nesting deeper than 256 levels" }, { code = "depth" },
          image.Descriptor.from_json(d:to_json()))
      end)

      it("json.decode: max_depth - 1 and max_depth decode; max_depth + 1 is a depth error", function()
        for _, n in ipairs({ LIMIT - 1, LIMIT }) do
          assert.are.equal(n, depth_of(json.decode(nested_json(n, kind)), kind))
          assert.are.equal(n, depth_of(in_coroutine(json.decode, nested_json(n, kind)), kind))
        end
        assert_fails({ "nesting deeper than 256 levels" }, { code = "depth" },
          json.decode(nested_json(LIMIT + 1, kind)))
        local opts = { max_depth = HARD }
        assert.are.equal(HARD, depth_of(json.decode(nested_json(HARD, kind), opts), kind))
        assert.are.equal(HARD, depth_of(in_coroutine(json.decode, nested_json(HARD, kind), opts), kind))
        assert_fails({ "nesting deeper than 1024 levels" }, { code = "depth" },
          json.decode(nested_json(HARD + 1, kind), opts))
      end)

      it("json.encode: max_depth - 1 and max_depth encode; max_depth + 1 is a depth error", function()
        for _, n in ipairs({ LIMIT - 1, LIMIT }) do
          local text = assert(json.encode(nested_table(n, kind)))
          assert.are.equal(nested_json(n, kind), text)
          assert.are.equal(text, in_coroutine(json.encode, nested_table(n, kind)))
          -- what encode writes, decode reads with its defaults
          assert.are.equal(n, depth_of(json.decode(text), kind))
        end
        assert_fails({ "nesting deeper than 256 levels" }, { code = "depth" },
          json.encode(nested_table(LIMIT + 1, kind)))
      end)

      it("set_unknown_field and raw setters: a value of max_depth levels is kept, one more is refused", function()
        local d = assert(image.Descriptor.from_json(deep_descriptor(0, kind)))
        d:set_unknown_field("y", nested_table(LIMIT, kind))
        assert.are.equal(LIMIT, depth_of(d:unknown_fields().y, kind))
        assert_raises({ "nesting deeper than 256 levels" }, d.set_unknown_field, d, "y",
          nested_table(LIMIT + 1, kind))
        local info = assert(oci.distribution.ErrorInfo.from_table({ code = "DENIED", message = "no" }))
        info:set_detail(nested_table(LIMIT, kind))
        assert.are.equal(LIMIT, depth_of(info:detail(), kind))
        assert_raises({ "detail", "nesting deeper than 256 levels" }, info.set_detail, info,
          nested_table(LIMIT + 1, kind))
      end)
    end)
  end

  it("tables that contain themselves are refused, not followed", function()
    local t = deep_descriptor_table(0, "array")
    t.x = t
    assert_fails({ "nesting deeper than 256 levels" }, { code = "depth" }, image.Descriptor.from_table(t))
    local u = deep_descriptor_table(0, "array")
    u.x = { 1, { u } }
    assert_fails({ "nesting deeper than 256 levels" }, { code = "depth" }, image.Descriptor.from_table(u))
    -- a cycle through a typed member: platform -> the descriptor again
    local v = deep_descriptor_table(0, "array")
    v.x = nil
    v.platform = { architecture = "amd64", os = "linux" }
    v.platform.self = v
    assert_fails({ "nesting deeper than 256 levels" }, { code = "depth" }, image.Descriptor.from_table(v))
    -- two tables that contain each other
    local a, b = {}, {}
    a.b, b.a = b, a
    assert_fails({ "nesting deeper than 256 levels" }, { code = "depth" }, json.encode(a))
    local d = assert(image.Descriptor.from_table(deep_descriptor_table(0, "array")))
    assert_raises({ "nesting deeper than 256 levels" }, d.set_unknown_field, d, "y", a)
    local ok, msg = pcall(d.set_annotations, d, setmetatable({}, { __index = a }))
    assert.is_true(ok, msg) -- an empty map: metatables are not followed
    local info = assert(oci.distribution.ErrorInfo.from_table({ code = "DENIED", message = "no" }))
    assert_raises({ "nesting deeper than 256 levels" }, info.set_detail, info, a)
  end)

  it("a table whose shared parts would expand without bound is refused by size", function()
    -- 2^40 leaves if written out: refused when the text passes max_size
    -- (256 MiB by default; smaller here to keep the test fast)
    local v = {}
    for _ = 1, 40 do v = { v, v } end
    local opts = { max_size = 65536 }
    assert_fails({ "exceeds the limit of 65536 bytes" }, { code = "too_big" }, json.encode(v, opts))
    local t = deep_descriptor_table(0, "array")
    t.x = v
    assert_fails({ "/x/0/0/0", "exceeds the limit of 65536 bytes" }, { code = "too_big" },
      image.Descriptor.from_table(t, opts))
    assert.are.equal(1, depth_of(json.decode(assert(json.encode({ 1 }, opts))), "array"))
  end)

  it("max_depth cannot be raised above the hard limit, nor be negative", function()
    local text = deep_descriptor(1, "array")
    for _, call in ipairs({
      function(o) return image.Descriptor.from_json(text, o) end,
      function(o) return image.Descriptor.from_file("/nonexistent", o) end,
      function(o) return image.Descriptor.from_table(deep_descriptor_table(1, "array"), o) end,
      function(o) return json.decode("[]", o) end,
    }) do
      assert_raises({ "max_depth", "1024" }, call, { max_depth = HARD + 1 })
      assert_raises({ "max_depth", "1024" }, call, { max_depth = -1 })
      assert_raises({ "max_depth", "1024" }, call, { max_depth = math.maxinteger })
      assert_raises({ "max_size" }, call, { max_size = -1 })
      assert_raises({ "max_string" }, call, { max_string = -1 })
    end
  end)

  it("json.encode sorts keys by bytes without calling the global table.sort", function()
    local saved = table.sort
    -- luacheck: push ignore 122
    table.sort = function() end -- a sandbox's or a prankster's
    local ok, text = pcall(json.encode, { b = 1, a = 2, ["B"] = 3, ["_"] = 4 })
    table.sort = saved
    -- luacheck: pop
    assert.is_true(ok, text)
    assert.are.equal('{"B":3,"_":4,"a":2,"b":1}', text)
  end)

  it("numbers keep their value through decode and encode", function()
    -- a number of more than 63 characters was decoded as 0
    local long = "1" .. ("0"):rep(100)
    assert.are.equal(1e100, json.decode("[" .. long .. "]")[1])
    assert.are.equal(-1.5, json.decode("[-1.5" .. ("0"):rep(80) .. "]")[1])
    local with_long = deep_descriptor(0, "array"):gsub('"x":1', '"x":' .. long)
    local d = assert(image.Descriptor.from_json(with_long))
    assert.are.equal(1e100, d:unknown_fields().x)
    assert.are.equal(1e100, d:to_table().x)
    -- -0.0 was written "-0", which reads back as the integer 0 (found by
    -- fuzz_lua_binding: encode(decode(encode(v))) differed from encode(v))
    local text = json.encode({ -0.0 })
    assert.are.equal("[-0.0]", text)
    local back = json.decode(text)[1]
    assert.are.equal("float", math.type(back))
    assert.are.equal(-math.huge, 1 / back)
    assert.are.equal(text, json.encode(json.decode(text)))
  end)

  it("unknown members given in from_table are written sorted (many of them)", function()
    local t = deep_descriptor_table(0, "array")
    t.x = nil
    local want = {}
    for i = 1, 3000 do
      local k = ("k%05d"):format((i * 7919) % 3000)
      t[k] = i
      want[#want + 1] = k
    end
    table.sort(want)
    local d = assert(image.Descriptor.from_table(t))
    local text = d:to_json()
    local last = 0
    for _, k in ipairs(want) do
      local at = text:find('"' .. k .. '"', 1, true)
      assert.truthy(at and at > last, k)
      last = at
    end
  end)

  describe("the command", function()
    local tmp
    before_each(function() tmp = support.tmpdir() end)
    after_each(function() support.rmdir(tmp) end)

    local ocispec = support.cli_runner(function() return tmp end)

    it("validate: deep files are refused cleanly with the documented codes", function()
      support.write(tmp .. "/a200.json", nested_json(200, "array"))
      support.write(tmp .. "/o200.json", nested_json(200, "object"))
      support.write(tmp .. "/a300.json", nested_json(300, "array"))
      support.write(tmp .. "/d256.json", deep_descriptor(LIMIT - 1, "array"))
      support.write(tmp .. "/d257.json", deep_descriptor(LIMIT, "object"))
      for _, name in ipairs({ "a200.json", "o200.json" }) do
        local _, err, status = ocispec("validate " .. name)
        assert.are.equal(2, status, err) -- JSON, but no kind of document
        assert.truthy(err:find("cannot tell what kind of document", 1, true), err)
      end
      local _, err, status = ocispec("validate a300.json")
      assert.are.equal(1, status, err)
      assert.truthy(err:find("nesting deeper than 256 levels", 1, true), err)
      local out
      out, err, status = ocispec("validate d256.json")
      assert.are.equal(0, status, err)
      assert.truthy(out:find("valid image-descriptor", 1, true), out)
      _, err, status = ocispec("validate --kind image-descriptor d257.json")
      assert.are.equal(1, status, err)
      assert.truthy(err:find("nesting deeper than 256 levels", 1, true), err)
      out, err, status = ocispec("fmt --compact d256.json")
      assert.are.equal(0, status, err)
      assert.are.equal(deep_descriptor(LIMIT - 1, "array"), (out:gsub("\n$", "")))
    end)
  end)
end)
