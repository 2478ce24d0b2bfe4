-- core.reference (csrc/lua/l_reference.c): oci-spec-rs Reference vectors,
-- the grammar differences of csrc/include/ocispec/reference.h, and the
-- userdata's life cycle.
local core = require("ocispec.core")
local reference = core.reference

local F64 = ("f"):rep(64)
local HEX64 = string.rep("0123456789abcdef", 4)

local function assert_fails(why, code, ok, msg, got_code)
  assert.is_nil(ok)
  assert.is_string(msg)
  assert.truthy(msg:find(why, 1, true), ("%q lacks %q"):format(msg, why))
  assert.are.equal(require("ocispec.core").Error, getmetatable(got_code))
  assert.are.equal(code, got_code.code)
  assert.are.equal(msg, got_code.message)
end

describe("core.reference", function()
  describe("parse (oci-spec-rs vectors)", function()
    -- input, registry, repository, tag, digest, whole
    local good = {
      { "busybox", "docker.io", "library/busybox", "latest", nil, "docker.io/library/busybox:latest" },
      { "test.com:tag", "docker.io", "library/test.com", "tag" },
      { "test.com:5000", "docker.io", "library/test.com", "5000" },
      { "test.com/repo:tag", "test.com", "repo", "tag" },
      { "test:5000/repo", "test:5000", "repo", "latest" },
      { "test:5000/repo:tag", "test:5000", "repo", "tag" },
      { "test:5000/repo@sha256:" .. F64, "test:5000", "repo", nil, "sha256:" .. F64 },
      { "test:5000/repo:tag@sha256:" .. F64, "test:5000", "repo", "tag", "sha256:" .. F64 },
      { "lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase" },
      { "sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", "latest" },
      {
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux", "some-long-tag",
      },
      {
        "b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app",
        "test.example.com",
      },
      { "xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com" },
      {
        "xn--7o8h.com/myimage:xn--7o8h.com@sha512:" .. F64 .. F64, "xn--7o8h.com", "myimage", "xn--7o8h.com",
        "sha512:" .. F64 .. F64,
      },
      { "foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080" },
      { "foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080" },
      { "opensuse/leap:15.3", "docker.io", "opensuse/leap", "15.3" },
    }
    for _, c in ipairs(good) do
      it(c[1], function()
        local r = assert(reference.parse(c[1]))
        assert.are.equal(c[2], r:registry())
        assert.are.equal(c[3], r:repository())
        assert.are.equal(c[4], r:tag())
        assert.are.equal(c[5], r:digest())
        local whole = c[6]
          or c[2] .. "/" .. c[3] .. (c[4] and ":" .. c[4] or "") .. (c[5] and "@" .. c[5] or "")
        assert.are.equal(whole, r:whole())
        assert.are.equal(whole, tostring(r))
        assert.is_nil(r:namespace())
      end)
    end

    local bad = {
      { "", "invalid", 'reference "": is empty' },
      { ":justtag", "invalid", "repository name before the tag or digest is empty" },
      { "@sha256:" .. F64, "invalid", "repository name before the tag or digest is empty" },
      { "repo@sha256:" .. ("f"):rep(34), "invalid", "for sha256, got 34" },
      { "validname@invaliddigest:" .. F64, "unsupported", "algorithm is not supported in a reference" },
      {
        "Uppercase:tag", "invalid",
        'reference "Uppercase:tag": repository name "Uppercase": invalid character "U" at offset 0, '
          .. "uppercase is not allowed",
      },
      { "test:5000/Uppercase/lowercase:tag", "invalid", 'repository name "Uppercase/lowercase"' },
      { ("a"):rep(256), "too_big", "is 264 characters, at most 255 allowed" },
      { "aa/asdf$$^/aa", "invalid", 'invalid character "$" at offset 7' },
    }
    for _, c in ipairs(bad) do
      it("refuses " .. (c[1] == "" and '""' or c[1]:sub(1, 40)), function()
        assert_fails(c[3], c[2], reference.parse(c[1]))
      end)
    end
  end)

  describe("parse (where ocispec is stricter or wider than oci-spec-rs)", function()
    it("checks the repository against the distribution-spec grammar", function()
      assert_fails('repository name "Foo/bar"', "invalid", reference.parse("Foo/bar"))
    end)

    it("checks a registry taken from the first component", function()
      assert_fails('registry host "foo_bar.com": invalid character "_"', "invalid",
        reference.parse("foo_bar.com/x"))
      assert_fails("port after", "invalid", reference.parse("host.com:port/repo"))
    end)

    it("keeps tags ASCII (D-TAG-1), 128 characters at most", function()
      assert_fails('tag "t\\xc3\\xa4g"', "invalid", reference.parse("repo:täg"))
      assert.are.equal(("T"):rep(128), reference.parse("repo:" .. ("T"):rep(128)):tag())
      assert_fails("is 129 characters", "invalid", reference.parse("repo:" .. ("T"):rep(129)))
    end)

    it("takes image-spec digests: lowercase hex, blake3, no unknown algorithms", function()
      assert_fails('uppercase hex "F"', "invalid", reference.parse("repo@sha256:" .. F64:upper()))
      assert.are.equal("blake3:" .. HEX64, reference.parse("repo@blake3:" .. HEX64):digest())
      assert_fails("not supported", "unsupported", reference.parse("repo@sha384:" .. F64 .. ("f"):rep(32)))
    end)

    it("accepts IPv6 registries in brackets", function()
      local r = assert(reference.parse("[::1]:5000/repo:tag"))
      assert.are.equal("[::1]:5000", r:registry())
      assert.are.equal("repo", r:repository())
      assert_fails("is not an IPv6 address", "invalid", reference.parse("[::g]:5000/repo"))
    end)

    it("normalises index.docker.io and localhost like docker", function()
      assert.are.equal("docker.io/library/foo:latest", reference.parse("index.docker.io/foo"):whole())
      assert.are.equal("localhost/repo:latest", reference.parse("localhost/repo"):whole())
    end)

    it("treats an embedded NUL as a bad byte", function()
      assert_fails('invalid character "\\x00" at offset 7', "invalid", reference.parse("busybox\0x"))
    end)
  end)

  describe("constructors", function()
    it("with_tag, with_digest, with_tag_and_digest", function()
      assert.are.equal("quay.io/a/b:v1", reference.with_tag("quay.io", "a/b", "v1"):whole())
      local d = reference.with_digest("quay.io", "a", "sha256:" .. HEX64)
      assert.are.equal("quay.io/a@sha256:" .. HEX64, d:whole())
      assert.is_nil(d:tag())
      local td = reference.with_tag_and_digest("localhost:5000", "a", "t", "sha256:" .. HEX64)
      assert.are.equal("localhost:5000/a:t@sha256:" .. HEX64, td:whole())
    end)

    it("takes the parts as given (no normalisation)", function()
      local r = reference.with_tag("docker.io", "busybox", "latest")
      assert.are.equal("busybox", r:repository())
      assert.are.equal("index.docker.io", r:resolve_registry())
    end)

    it("validates each part", function()
      assert_fails('registry host "": is empty', "invalid", reference.with_tag("", "a", "t"))
      assert_fails('repository name "A"', "invalid", reference.with_tag("quay.io", "A", "t"))
      assert_fails('tag "a:b"', "invalid", reference.with_tag("quay.io", "a", "a:b"))
      assert_fails("got 3", "invalid", reference.with_digest("quay.io", "a", "sha256:abc"))
      assert_fails("not supported", "unsupported", reference.with_digest("quay.io", "a", "md5:abc"))
      assert_fails("NUL byte at offset 7", "invalid", reference.with_tag("quay.io\0x", "a", "t"))
    end)

    it("raises on non-string arguments", function()
      assert.has_error(function() reference.parse(nil) end, "bad argument #1 to 'parse' (string expected, got nil)")
      assert.has_error(function() reference.with_tag("quay.io", "a") end,
        "bad argument #3 to 'with_tag' (string expected, got no value)")
      assert.has_error(function() reference.with_digest("quay.io", {}, "sha256:" .. HEX64) end,
        "bad argument #2 to 'with_digest' (string expected, got table)")
      assert.has_error(function() reference.with_tag_and_digest("quay.io", "a", "t") end,
        "bad argument #4 to 'with_tag_and_digest' (string expected, got no value)")
    end)
  end)

  describe("mirrors", function()
    it("resolve to the mirror; namespace() is the original registry", function()
      local r = reference.parse("busybox")
      local before = r:whole()
      assert.are.equal("index.docker.io", r:resolve_registry())
      assert.is_true(r:set_mirror_registry("docker.mirror.io"))
      assert.are.equal("docker.mirror.io", r:resolve_registry())
      assert.are.equal("docker.io", r:namespace())
      assert.are.equal("docker.io", r:registry())
      assert.are.equal(before, r:whole())
    end)

    it("refuses a bad mirror and keeps the old one", function()
      local r = reference.parse("test.com/repo")
      assert.are.equal("test.com", r:resolve_registry())
      assert.is_true(r:set_mirror_registry("m.io"))
      assert_fails('registry host "bad host!"', "invalid", r:set_mirror_registry("bad host!"))
      assert.are.equal("m.io", r:resolve_registry())
      assert.has_error(function() r:set_mirror_registry(true) end,
        "bad argument #1 to 'set_mirror_registry' (string expected, got boolean)")
    end)
  end)

  describe("clone_with_digest", function()
    it("keeps registry and mirror, drops the tag", function()
      local r = reference.parse("quay.io/a:t")
      r:set_mirror_registry("m.io")
      local c = assert(r:clone_with_digest("sha256:" .. HEX64))
      assert.are.equal("quay.io/a@sha256:" .. HEX64, c:whole())
      assert.is_nil(c:tag())
      assert.are.equal("m.io", c:resolve_registry())
      assert.are.equal("quay.io", c:namespace())
      assert.are.equal("t", r:tag()) -- the original is unchanged
    end)

    it("returns nil, message, code for a bad digest", function()
      local r = reference.parse("quay.io/a:t")
      assert_fails('digest "sha256:xyz"', "invalid", r:clone_with_digest("sha256:xyz"))
    end)
  end)

  describe("userdata", function()
    it("has a named metatable", function()
      local r = reference.parse("busybox")
      assert.are.equal("ocispec.distribution.Reference", getmetatable(r).__name)
      local ok, err = pcall(r.registry, {})
      assert.is_false(ok)
      assert.truthy(tostring(err):find("ocispec.distribution.Reference expected", 1, true))
    end)

    it("compares by whole(), ignoring the mirror", function()
      local a = reference.parse("busybox")
      local b = reference.parse("docker.io/library/busybox:latest")
      local c = reference.parse("busybox:1")
      assert.is_true(a == b)
      assert.is_false(a == c)
      b:set_mirror_registry("m.io")
      assert.is_true(a == b)
      assert.is_false(a == reference.parse("busybox@sha256:" .. HEX64))
    end)

    it("closes idempotently with <close> and then refuses use", function()
      local kept
      do
        local r <close> = reference.parse("busybox")
        kept = r
        assert.are.equal("busybox", kept:repository():sub(9))
      end
      local mt = getmetatable(kept)
      mt.__close(kept) -- a second close does nothing
      mt.__gc(kept)
      local ok, err = pcall(kept.registry, kept)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("attempt to use a closed ocispec.distribution.Reference", 1, true))
      assert.is_false(kept == reference.parse("busybox"))
    end)

    it("survives many allocations and collections", function()
      for i = 1, 2000 do
        local r = reference.parse("quay.io/a/b:" .. i)
        assert.are.equal(tostring(i), r:tag())
      end
      collectgarbage()
      collectgarbage()
    end)
  end)
end)
