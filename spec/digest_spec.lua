-- core.digest (csrc/lua/l_digest.c) and core.check (csrc/lua/l_strcheck.c).
local core = require("ocispec.core")
local digest = core.digest
local check = core.check

local HEX64 = string.rep("0123456789abcdef", 4)
local SHA256_EMPTY =
  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

-- A failure: nil, a message containing `why` (plain text), and the code.
local function assert_fails(why, code, ok, msg, err)
  assert.is_nil(ok)
  assert.is_string(msg)
  assert.truthy(msg:find(why, 1, true), ("%q lacks %q"):format(msg, why))
  assert.are.equal(core.Error, getmetatable(err))
  assert.are.equal(code, err.code)
  assert.are.equal(msg, err.message)
end

describe("core.digest", function()
  describe("parse", function()
    it("splits a registered digest", function()
      local d = assert(digest.parse(SHA256_EMPTY))
      assert.are.same({
        algorithm = "sha256",
        encoded = SHA256_EMPTY:sub(8),
        digest = SHA256_EMPTY,
      }, d)
    end)

    it("accepts sha512 and blake3", function()
      assert.are.equal("sha512", digest.parse("sha512:" .. HEX64 .. HEX64).algorithm)
      assert.are.equal("blake3", digest.parse("blake3:" .. HEX64).algorithm)
    end)

    it("accepts unregistered algorithms that fit the grammar (I-DIG-5)", function()
      for _, s in ipairs({
        "foo:bar",
        "xxhash:42",
        "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
        "a.b+c_d-e:AZaz09=_-",
      }) do
        local d = assert(digest.parse(s))
        assert.are.equal(s, d.algorithm .. ":" .. d.encoded)
      end
    end)

    it("splits at the first colon", function()
      assert_fails('invalid character ":" at offset 10 in encoded part', "invalid",
        digest.parse("sha256:abc:def"))
    end)

    it("reports each failure precisely", function()
      local cases = {
        { "", 'digest "": is empty' },
        { "foo", 'missing ":" between algorithm and encoded part' },
        { ":abc", 'algorithm before ":" is empty' },
        { "sha256:", 'encoded part after ":" is empty' },
        { "sha256+:x", 'empty algorithm component at separator "+", offset 6' },
        { "SHA256:" .. HEX64, 'invalid character "S" at offset 0 in algorithm, uppercase is not allowed' },
        { "sha256:ABC", 'digest "sha256:ABC": encoded part must be 64 lowercase hex characters for sha256, got 3' },
        { "sha256:" .. HEX64:upper(), 'uppercase hex "A" at offset 17 is not allowed for sha256' },
        { "sha256:" .. HEX64:sub(1, 63) .. "z", 'non-hex character "z" at offset 70' },
        { "sha512:" .. HEX64, "must be 128 lowercase hex characters for sha512, got 64" },
        { "sha256:a\0b", 'invalid character "\\x00" at offset 8' },
      }
      for _, c in ipairs(cases) do
        assert_fails(c[2], "invalid", digest.parse(c[1]))
      end
    end)

    it("raises on a non-string argument", function()
      assert.has_error(function() digest.parse({}) end, "bad argument #1 to 'parse' (string expected, got table)")
      assert.has_error(function() digest.parse() end, "bad argument #1 to 'parse' (string expected, got no value)")
    end)
  end)

  describe("validate", function()
    it("returns true or nil, message, code", function()
      assert.is_true(digest.validate(SHA256_EMPTY))
      assert.is_true(digest.validate("foo:bar"))
      assert_fails("for sha256, got 3", "invalid", digest.validate("sha256:abc"))
    end)
  end)

  describe("referrers_tag", function()
    -- distribution/grammar.json referrers_tag_schema.vectors
    local vectors = {
      { "sha256:" .. ("a"):rep(64), "sha256-" .. ("a"):rep(64) },
      { "sha512:" .. ("a"):rep(128), "sha512-" .. ("a"):rep(64) },
      {
        "test+algorithm+using+algorithm+separators+and+lots+of+characters+to+excercise+overall+truncation:"
          .. "alsoSome=InTheEncodedSectionToShowHyphenReplacementAndLotsAndLots"
          .. "OfCharactersToExcerciseEncodedTruncation",
        "test-algorithm-using-algorithm-s-alsoSome-InTheEncodedSectionToShowHyphenReplacementAndLotsAndLot",
      },
    }
    for i, v in ipairs(vectors) do
      it("matches spec vector " .. i, function()
        assert.are.equal(v[2], digest.referrers_tag(v[1]))
      end)
    end

    it("refuses bad digests, NUL included", function()
      assert_fails("for sha256, got 3", "invalid", digest.referrers_tag("sha256:abc"))
      assert_fails("NUL byte at offset 7", "invalid",
        digest.referrers_tag("sha256:\0" .. HEX64))
    end)
  end)

  it("lists the registered algorithms and their lengths", function()
    assert.are.same({ "sha256", "sha512", "blake3" }, digest.algorithms)
    assert.are.equal(64, digest.hex_len("sha256"))
    assert.are.equal(128, digest.hex_len("sha512"))
    assert.are.equal(64, digest.hex_len("blake3"))
    assert.is_nil(digest.hex_len("sha384"))
    assert.is_nil(digest.hex_len("SHA256"))
  end)
end)

-- core.check has no spec file of its own yet; it lives here with digests.
describe("core.check", function()
  local good = {
    media_type = { "application/vnd.oci.image.manifest.v1+json", ("t"):rep(127) .. "/" .. ("s"):rep(127) },
    base64 = { "", "e30=", "YWJj" },
    uri = { "https://example.com/a?b#c", "urn:isbn:0451450523", "http://[::1]:80/" },
    rfc3339 = { "2015-10-31T22:22:56.015925234Z", "2024-02-29T00:00:00+01:00" },
    semver = { "1.0.0", "1.0.2-dev", "1.0.0-alpha.1+build.5" },
    repository_name = { "library/busybox", "a__b/c---d.e" },
    tag = { "latest", ("a"):rep(128) },
    registry_host = { "docker.io", "localhost:5000", "[::1]:5000" },
    ref_name = { "stable-release", "v1.0", "a--b/c" },
    env_entry = { "PATH=/bin", "A=" },
    error_code = { "BLOB_UNKNOWN", "TAG_INVALID" },
    absolute_path = { "/", "/etc/passwd" },
  }
  local bad = {
    media_type = { "application/json; charset=utf-8", "parameters are not allowed" },
    base64 = { "e30", "length 3 is not a multiple of 4" },
    uri = { "/relative", "scheme must start with a letter" },
    rfc3339 = { "2023-02-29T00:00:00Z", "day 29 out of range 01-28" },
    semver = { "1.02.3", "minor version at offset 2 has a leading zero" },
    repository_name = { "Library/busybox", "uppercase is not allowed" },
    tag = { ("a"):rep(129), "is 129 characters, at most 128 allowed" },
    registry_host = { "a_b.com", 'invalid character "_" at offset 1' },
    ref_name = { "a---b", 'separator "-" at offset 3' },
    env_entry = { "=x", 'variable name before "=" is empty' },
    error_code = { "blob_unknown", 'invalid character "b" at offset 0' },
    absolute_path = { "etc", 'must be absolute (start with "/")' },
  }

  for name, list in pairs(good) do
    it(name .. " accepts good values and reports bad ones", function()
      assert.is_function(check[name])
      for _, s in ipairs(list) do
        local ok, msg = check[name](s)
        assert.is_true(ok, msg)
      end
      assert_fails(bad[name][2], "invalid", check[name](bad[name][1]))
      assert.has_error(function() check[name]({}) end, "bad argument #1 to '?' (string expected, got table)")
    end)
  end

  it("compares SemVer versions", function()
    assert.are.equal(-1, check.semver_compare("1.0.0-alpha", "1.0.0"))
    assert.are.equal(1, check.semver_compare("1.0.10", "1.0.9"))
    assert.are.equal(0, check.semver_compare("1.0.0+a", "1.0.0+b"))
    assert_fails("leading zero", "invalid", check.semver_compare("1.0.0", "01.0.0"))
  end)

  it("knows the 14 distribution-spec error codes", function()
    assert.are.equal(14, #check.error_codes)
    assert.are.equal("BLOB_UNKNOWN", check.error_codes[1])
    assert.are.equal("TOOMANYREQUESTS", check.error_codes[14])
    for _, code in ipairs(check.error_codes) do
      assert.is_true(check.error_code_is_known(code))
    end
    assert.is_false(check.error_code_is_known("TAG_INVALID"))
  end)

  it("decodes base64", function()
    assert.are.equal("{}", check.base64_decode("e30="))
    assert.are.equal("", check.base64_decode(""))
    assert.are.equal("\255\239", check.base64_decode("/+8="))
    assert_fails("not a multiple of 4", "invalid", check.base64_decode("e30"))
  end)
end)
