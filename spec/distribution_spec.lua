-- ocispec.distribution: error responses (free-form detail), the 14 error
-- codes, tag lists and catalogs with their validate() rules, the
-- oci-spec-rs builder failures, and distribution-spec's own documents.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local support = dofile(here .. "fixtures/support.lua")
local oci = require("ocispec")
local dist = oci.distribution

local assert_fails, assert_raises = support.assert_fails, support.assert_raises

local CODES = {
  BlobUnknown = "BLOB_UNKNOWN",
  BlobUploadInvalid = "BLOB_UPLOAD_INVALID",
  BlobUploadUnknown = "BLOB_UPLOAD_UNKNOWN",
  DigestInvalid = "DIGEST_INVALID",
  ManifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN",
  ManifestInvalid = "MANIFEST_INVALID",
  ManifestUnknown = "MANIFEST_UNKNOWN",
  NameInvalid = "NAME_INVALID",
  NameUnknown = "NAME_UNKNOWN",
  SizeInvalid = "SIZE_INVALID",
  Unauthorized = "UNAUTHORIZED",
  Denied = "DENIED",
  Unsupported = "UNSUPPORTED",
  TooManyRequests = "TOOMANYREQUESTS",
}

local function info(code, extra)
  local t = { code = code }
  for k, v in pairs(extra or {}) do t[k] = v end
  return assert(dist.ErrorInfo.from_table(t))
end

describe("ocispec.distribution", function()
  describe("ErrorInfo detail", function()
    -- { what, Lua value, its JSON }
    local details = {
      { "an object", { Tag = "lates" }, '{"Tag":"lates"}' },
      { "a nested object", { a = { b = { 1, 2 } }, c = oci.null }, '{"a":{"b":[1,2]},"c":null}' },
      { "a string", "unstructured", '"unstructured"' },
      { "an integer", 42, "42" },
      { "a float", 2.5, "2.5" },
      { "a boolean", false, "false" },
      { "an array", { "x", 1, true }, '["x",1,true]' },
      { "an empty array", setmetatable({}, oci.empty_array_mt()), "[]" },
      { "an empty object", {}, "{}" },
    }
    for _, d in ipairs(details) do
      local what, value, json = d[1], d[2], d[3]
      it("holds " .. what .. " and round-trips it", function()
        local e = info("MANIFEST_UNKNOWN", { message = "manifest unknown" })
        e:set_detail(value)
        local text = e:to_json()
        assert.are.equal('{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":' .. json .. "}", text)
        assert.are.same(value, e:detail())
        local back = assert(dist.ErrorInfo.from_json(text))
        assert.is_true(back == e)
        assert.are.same(value, back:detail())
        assert.are.same(value, back:to_table().detail)
        assert.is_true(assert(dist.ErrorInfo.from_table(back:to_table())) == e)
        support.assert_valid(back)
      end)
    end

    it("keeps the detail of parsed JSON as written (order, spacing removed)", function()
      local e = assert(dist.ErrorInfo.from_json('{"code":"DENIED", "detail": {"z": 1, "a": [ 1 ,2 ]}}'))
      assert.are.equal('{"code":"DENIED","detail":{"z":1,"a":[1,2]}}', e:to_json())
      assert.are.same({ z = 1, a = { 1, 2 } }, e:detail())
    end)

    it("holds JSON null, and validate() accepts it", function()
      local e = assert(dist.ErrorInfo.from_json('{"code":"DENIED","detail":null}'))
      assert.is_true(e:is_null("detail"))
      assert.is_nil(e:detail())
      assert.are.equal(oci.null, e:to_table().detail)
      assert.are.equal('{"code":"DENIED","detail":null}', e:to_json())
      support.assert_valid(e)
    end)

    it("refuses a Lua value JSON cannot hold, naming the field", function()
      local e = info("DENIED")
      assert_raises({ "detail:", "function cannot be written as JSON" }, e.set_detail, e, print)
      assert_raises({ "detail:", "JSON cannot hold" }, e.set_detail, e, 0 / 0)
      assert_raises({ "detail:", "keys must be strings" }, e.set_detail, e, { [true] = 1 })
      assert.are.equal('{"code":"DENIED"}', e:to_json())
    end)

    it("is a JSON value: == ignores member order, not array order", function()
      local a = assert(dist.ErrorInfo.from_json('{"code":"DENIED","detail":{"a":1,"b":2}}'))
      local b = assert(dist.ErrorInfo.from_json('{"code":"DENIED","detail":{"b":2,"a":1}}'))
      local c = assert(dist.ErrorInfo.from_json('{"code":"DENIED","detail":{"a":1,"b":3}}'))
      local d = assert(dist.ErrorInfo.from_json('{"code":"DENIED","detail":[1,2]}'))
      local e = assert(dist.ErrorInfo.from_json('{"code":"DENIED","detail":[2,1]}'))
      assert.is_true(a == b)
      assert.is_false(a == c)
      assert.is_false(d == e)
      assert.are.same(a:detail(), b:detail())
    end)
  end)

  describe("ErrorResponse", function()
    it("holds ErrorInfo children and gives them as detail() too", function()
      local r = assert(dist.ErrorResponse.from_json('{"errors":[{"code":"NAME_UNKNOWN","message":"m",'
        .. '"detail":{"name":"x"}},{"code":"DENIED"}]}'))
      local errs = r:errors()
      assert.are.equal(2, #errs)
      assert.are.equal("NAME_UNKNOWN", errs[1]:code())
      assert.are.equal("m", errs[1]:message())
      assert.are.same({ name = "x" }, errs[1]:detail())
      assert.are.equal("DENIED", r:detail()[2]:code())
      errs[2]:set_message("no")
      assert.are.equal("no", r:errors()[2]:message())
      support.assert_valid(r)
    end)

    it("is built from ErrorInfo objects or tables", function()
      local r = assert(dist.ErrorResponseBuilder():errors({ info("DENIED"), { code = "UNSUPPORTED" } }):build())
      assert.are.equal('{"errors":[{"code":"DENIED"},{"code":"UNSUPPORTED"}]}', r:to_json())
    end)

    it("has oci-spec-rs' ERR_REGISTRY text", function()
      assert.are.equal("distribution: registry returned error", dist.ERR_REGISTRY)
    end)

    it("points validate() problems into the errors list", function()
      local r = assert(dist.ErrorResponse.from_table({ errors = { { code = "DENIED" }, { code = "NOPE" } } }))
      support.assert_rule(r, "D-ERR-3", "/errors/1/code", '"NOPE"')
    end)
  end)

  describe("ErrorCode", function()
    it("has the 14 codes with their exact strings", function()
      local n = 0
      for k, v in pairs(dist.ErrorCode) do
        n = n + 1
        assert.are.equal(CODES[k], v, k)
      end
      assert.are.equal(14, n)
      for k, v in pairs(CODES) do assert.are.equal(v, dist.ErrorCode[k]) end
    end)

    it("raises on a misspelt code name", function()
      assert_raises("ErrorCode has no member 'TooManyRequest'", function() return dist.ErrorCode.TooManyRequest end)
    end)

    for name, code in pairs(CODES) do
      it(name .. " (" .. code .. ") validates with no problem", function()
        local warnings = support.assert_valid(info(dist.ErrorCode[name]))
        assert.are.equal(0, #warnings)
      end)
    end

    it("agrees with distribution-spec's list", function()
      local dir = support.conformance()
      if not dir then
        pending("conformance folder absent")
        return
      end
      local grammar = assert(oci.json.decode(assert(support.read(dir .. "/distribution/grammar.json"))))
      local spec = {}
      for _, c in ipairs(grammar.error_codes.codes) do spec[#spec + 1] = c.code end
      local ours = {}
      for _, v in pairs(CODES) do ours[#ours + 1] = v end
      table.sort(spec)
      table.sort(ours)
      assert.are.same(spec, ours)
    end)
  end)

  describe("ErrorInfo validate()", function()
    -- { code, rule, severity, part of the message }
    local cases = {
      { "NOT_A_CODE", "D-ERR-3", "error", 'error code "NOT_A_CODE" is not one of the 14 codes' },
      { "blob_unknown", "D-ERR-2", "error", 'invalid character "b" at offset 0' },
      { "BLOB-UNKNOWN", "D-ERR-2", "error", '"-"' },
      { "", "D-ERR-2", "error", "is empty" },
      { "TAG_INVALID", "D-ERR-3", "warning", "legacy" },
      { "MANIFEST_UNVERIFIED", "D-ERR-3", "warning", "legacy" },
    }
    for _, c in ipairs(cases) do
      local code, rule, severity, part = c[1], c[2], c[3], c[4]
      it(("%q gives %s %s"):format(code, rule, severity), function()
        local e = info(code)
        if severity == "error" then
          support.assert_rule(e, rule, "/code", part)
        else
          local warnings = support.assert_valid(e)
          assert.are.equal(1, #warnings)
          assert.are.equal(rule, warnings[1].rule)
          assert.are.equal("/code", warnings[1].pointer)
          assert.are.equal("warning", warnings[1].severity)
          assert.truthy(warnings[1].message:find(part, 1, true), warnings[1].message)
        end
      end)
    end

    it("parse refuses a code that is not a string", function()
      assert_fails({ "/code: expected string" }, { code = "type", pointer = "/code", line = 1, column = 9 },
        dist.ErrorInfo.from_json('{"code":404}'))
    end)
  end)

  describe("TagList", function()
    local function tags(name, list)
      return assert(dist.TagList.from_table({ name = name, tags = list }))
    end

    it("gets and sets name and tags", function()
      local t = tags("library/busybox", { "1.36", "latest" })
      assert.are.equal("library/busybox", t:name())
      assert.are.same({ "1.36", "latest" }, t:tags())
      t:set_name("example.com/a/b"):set_tags({ "v1", "v2" })
      assert.are.equal('{"name":"example.com/a/b","tags":["v1","v2"]}', t:to_json())
      t:set_tags(setmetatable({}, oci.empty_array_mt()))
      assert.are.equal('{"name":"example.com/a/b","tags":[]}', t:to_json())
      support.assert_valid(t)
    end)

    it("accepts ASCIIbetical and case-insensitive lexical order (D-TAGS-2)", function()
      support.assert_valid(tags("a", { "A", "B", "a", "b" })) -- bytewise
      support.assert_valid(tags("a", { "a", "B", "c" }))      -- caseless
      support.assert_valid(tags("a", { "1", "10", "2" }))
      support.assert_valid(tags("a", { "only" }))
    end)

    it("refuses tags in neither order (D-TAGS-2)", function()
      support.assert_rule(tags("a", { "b", "a" }), "D-TAGS-2", "/tags", "neither in lexical")
      support.assert_rule(tags("a", { "B", "a", "C", "b" }), "D-TAGS-2", "/tags", "ASCIIbetical")
    end)

    -- { tag, part of the message }
    local bad_tags = {
      { "-bad", 'must start with a letter, digit or "_"' },
      { ".bad", '"."' },
      { "bad/tag", '"/"' },
      { "", "empty" },
      { ("a"):rep(129), "128" },
    }
    for _, b in ipairs(bad_tags) do
      it(("refuses the tag %q (D-TAG-1)"):format(b[1]:sub(1, 20)), function()
        support.assert_rule(tags("a", { "ok", b[1] }), "D-TAG-1", "/tags/1", b[2])
      end)
    end

    it("accepts the longest tag and every allowed character", function()
      support.assert_valid(tags("a", { "_a.B-9", ("a"):rep(128) }))
    end)

    -- { name, part of the message }
    local bad_names = {
      { "Library/busybox", "uppercase" },
      { "a//b", '"/"' },
      { "a/", "" },
      { "-a", '"-"' },
      { "a..b", '"."' },
    }
    for _, b in ipairs(bad_names) do
      it(("refuses the repository name %q (D-NAME-1)"):format(b[1]), function()
        support.assert_rule(tags(b[1], { "latest" }), "D-NAME-1", "/name", b[2])
      end)
    end

    it("accepts names with every allowed separator", function()
      support.assert_valid(tags("a0/b.c/d_e/f__g/h-i/j---k", { "latest" }))
    end)
  end)

  describe("RepositoryList", function()
    it("gets and sets repositories", function()
      local r = assert(dist.RepositoryList.from_table({ repositories = { "library/alpine", "library/busybox" } }))
      assert.are.same({ "library/alpine", "library/busybox" }, r:repositories())
      r:set_repositories({ "a" })
      assert.are.equal('{"repositories":["a"]}', r:to_json())
      support.assert_valid(r)
    end)

    it("refuses a bad repository name (D-NAME-1) with its index", function()
      local r = assert(dist.RepositoryList.from_table({ repositories = { "ok", "Not/Ok" } }))
      support.assert_rule(r, "D-NAME-1", "/repositories/1", "uppercase")
    end)
  end)

  describe("builders (oci-spec-rs failures)", function()
    -- { builder, setup, missing fields }
    local cases = {
      { "TagListBuilder", function(b) return b end, { "name", "tags" } },
      { "TagListBuilder", function(b) return b:name("library/busybox") end, { "tags" } },
      { "TagListBuilder", function(b) return b:tags({ "latest" }) end, { "name" } },
      { "ErrorInfoBuilder", function(b) return b:message("m"):detail({ x = 1 }) end, { "code" } },
      { "ErrorResponseBuilder", function(b) return b end, { "errors" } },
      { "RepositoryListBuilder", function(b) return b end, { "repositories" } },
    }
    for _, c in ipairs(cases) do
      local builder, setup, missing = c[1], c[2], c[3]
      it(builder .. " reports missing " .. table.concat(missing, ", "), function()
        local quoted = {}
        for i, f in ipairs(missing) do quoted[i] = "'" .. f .. "'" end
        local want = builder .. ": missing required field" .. (#missing > 1 and "s " or " ")
          .. table.concat(quoted, ", ")
        local ok, msg, err = setup(dist[builder]()):build()
        assert_fails({ want }, { code = "missing" }, ok, msg, err)
        assert.are.equal(want, msg)
        assert.are.same(missing, err.fields)
      end)
    end

    it("build complete documents", function()
      assert.are.equal('{"name":"library/busybox","tags":["latest"]}',
        assert(dist.TagListBuilder():name("library/busybox"):tags({ "latest" }):build()):to_json())
      assert.are.equal('{"code":"DENIED","message":"m","detail":{"x":1}}',
        assert(dist.ErrorInfoBuilder():code(dist.ErrorCode.Denied):message("m"):detail({ x = 1 }):build())
          :to_json())
      assert.are.equal('{"repositories":[]}',
        assert(dist.RepositoryListBuilder():repositories(setmetatable({}, oci.empty_array_mt())):build()):to_json())
    end)

    it("fail on rule errors with the rule and pointer", function()
      assert_fails({ "TagListBuilder: /tags: ", "(D-TAGS-2)" },
        { code = "validate", rule = "D-TAGS-2", pointer = "/tags" },
        dist.TagListBuilder():name("a"):tags({ "b", "a" }):build())
      assert_fails({ "ErrorInfoBuilder: /code: ", "(D-ERR-3)" }, { code = "validate", rule = "D-ERR-3" },
        dist.ErrorInfoBuilder():code("TEAPOT"):build())
    end)
  end)

  describe("distribution-spec documents", function()
    local dir = support.conformance()
    if not dir then
      it("load (conformance folder absent)", function() pending("set OCISPEC_CONFORMANCE") end)
      return
    end
    local derived = dir .. "/distribution/derived/"
    local files = support.list(derived, "^error%-response%.[A-Z_]+%.json$")

    it("has one error response per code", function()
      assert.are.equal(14, #files)
    end)

    for _, file in ipairs(files) do
      it(file .. " loads, round-trips and validates", function()
        local r, msg = dist.ErrorResponse.from_file(derived .. file)
        assert(r, msg)
        local code = file:match("^error%-response%.([A-Z_]+)%.json$")
        assert.are.equal(code, r:errors()[1]:code())
        assert.is_string(r:errors()[1]:message())
        assert.is_true(assert(dist.ErrorResponse.from_json(r:to_json())) == r)
        local warnings = support.assert_valid(r)
        assert.are.equal(0, #warnings)
      end)
    end

    it("error-response-template.json loads; its placeholder code breaks D-ERR-2", function()
      local r = assert(dist.ErrorResponse.from_file(derived .. "error-response-template.json"))
      assert.are.equal("<unstructured>", r:errors()[1]:detail())
      support.assert_rule(r, "D-ERR-2", "/errors/0/code", "<error identifier")
    end)

    it("the tag list example loads; its placeholders break D-NAME-1 and D-TAG-1", function()
      local t = assert(dist.TagList.from_file(dir .. "/distribution/spec-examples/spec.02.listing-tags.json"))
      assert.are.same({ "<tag1>", "<tag2>", "<tag3>" }, t:tags())
      support.assert_rule(t, "D-NAME-1", "/name", "<name>")
      support.assert_rule(t, "D-TAG-1", "/tags/0", "<tag1>")
    end)
  end)
end)
