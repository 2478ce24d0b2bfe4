-- ocispec.digest hashing: sha256, sha512, hash, file, hasher, verify,
-- verify_file (csrc/lua/l_digest.c over csrc/image/hash.c).
local digest = require("ocispec").digest

local SHA256_EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
local SHA256_ABC = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
local SHA512_EMPTY = "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
  .. "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
local SHA512_ABC = "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
  .. "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
-- FIPS 180-2: 448-bit message
local ABC448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
local SHA256_448 = "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
local SHA512_448 = "sha512:204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
  .. "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445"
local BLAKE3_EMPTY = "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"

-- A failure: nil, a message containing `why` (plain text), and the code.
local function assert_fails(why, code, ok, msg, err, extra)
  assert.is_nil(ok)
  assert.is_string(msg)
  assert.truthy(msg:find(why, 1, true), ("%q lacks %q"):format(msg, why))
  assert.are.equal(require("ocispec.core").Error, getmetatable(err))
  assert.are.equal(code, err.code)
  assert.are.equal(msg, err.message)
  assert.is_nil(extra)
end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  assert(f:write(s))
  assert(f:close())
end

-- "alg:hex" as coreutils' sha256sum/sha512sum prints it, or nil.
local function tool_digest(alg, path)
  local p = io.popen(alg .. "sum '" .. path .. "' 2>/dev/null")
  if not p then return nil end
  local out = p:read("a")
  p:close()
  local hex = out:match("^(%x+)")
  return hex and (alg .. ":" .. hex) or nil
end

-- Deterministic bytes, NULs and all.
local function bytes(n, seed)
  local t, x = {}, seed or 1
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    t[i] = string.char(x % 256)
  end
  return table.concat(t)
end

describe("ocispec.digest hashing", function()
  local dir
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p '" .. dir .. "'"))
  end)
  teardown(function()
    os.execute("rm -rf '" .. dir .. "'")
  end)

  describe("sha256, sha512, hash", function()
    it("gives the known vectors", function()
      assert.are.equal(SHA256_EMPTY, digest.sha256(""))
      assert.are.equal(SHA256_ABC, digest.sha256("abc"))
      assert.are.equal(SHA256_448, digest.sha256(ABC448))
      assert.are.equal(SHA512_EMPTY, digest.sha512(""))
      assert.are.equal(SHA512_ABC, digest.sha512("abc"))
      assert.are.equal(SHA512_448, digest.sha512(ABC448))
      assert.are.equal(SHA256_ABC, digest.hash("abc"))
      assert.are.equal(SHA256_ABC, digest.hash("abc", "sha256"))
      assert.are.equal(SHA256_ABC, digest.hash("abc", nil))
      assert.are.equal(SHA512_ABC, digest.hash("abc", "sha512"))
    end)

    it("hashes strings with NUL bytes whole", function()
      local s = "a\0b\0\0c"
      assert.are_not.equal(digest.sha256("a"), digest.sha256(s))
      local h = digest.hasher()
      for i = 1, #s do h:update(s:sub(i, i)) end
      assert.are.equal(digest.sha256(s), (h:finish()))
      -- coreutils agrees
      local path = dir .. "/nul"
      write(path, s)
      local want = tool_digest("sha256", path)
      if want then assert.are.equal(want, digest.sha256(s)) end
      assert.are.equal(digest.sha512(s), (digest.file(path, "sha512")))
    end)

    it("gives valid digests", function()
      for _, d in ipairs({ digest.sha256("x"), digest.sha512("x") }) do
        assert.is_true(digest.validate(d))
      end
      assert.are.equal(7 + 64, #digest.sha256("x"))
      assert.are.equal(7 + 128, #digest.sha512("x"))
    end)

    it("returns unsupported for blake3 and invalid for unknown algorithms", function()
      assert_fails("cannot compute blake3 digests", "unsupported", digest.hash("x", "blake3"))
      assert_fails('unknown digest algorithm "md5": expected "sha256" or "sha512"', "invalid",
        digest.hash("x", "md5"))
      assert_fails('unknown digest algorithm "SHA256"', "invalid", digest.hash("x", "SHA256"))
      assert_fails("unknown digest algorithm", "invalid", digest.hash("x", ""))
    end)

    it("raises on misuse", function()
      assert.has_error(function() digest.sha256() end, "bad argument #1 to 'sha256' (string expected, got no value)")
      assert.has_error(function() digest.sha256({}) end, "bad argument #1 to 'sha256' (string expected, got table)")
      assert.has_error(function() digest.sha512(true) end, "bad argument #1 to 'sha512' (string expected, got boolean)")
      assert.has_error(function() digest.hash() end, "bad argument #1 to 'hash' (string expected, got no value)")
      assert.has_error(function() digest.hash({}, "sha256") end,
        "bad argument #1 to 'hash' (string expected, got table)")
      -- a number is not a string here (no coercion)
      assert.has_error(function() digest.sha256(42) end, "bad argument #1 to 'sha256' (string expected, got number)")
      assert.has_error(function() digest.hash("x", 256) end, "bad argument #2 to 'hash' (string expected, got number)")
      assert.has_error(function() digest.hash("x", {}) end, "bad argument #2 to 'hash' (string expected, got table)")
    end)
  end)

  describe("file", function()
    it("equals sha256sum and sha512sum on real files", function()
      local path = dir .. "/blob"
      local data = bytes(4099, 3):rep(768) -- 3 MiB + 2 KiB, NULs included
      write(path, data)
      local paths = { path }
      local f = io.open("/bin/busybox", "rb")
      if f then
        f:close()
        paths[#paths + 1] = "/bin/busybox"
      end
      for _, p in ipairs(paths) do
        for _, alg in ipairs({ "sha256", "sha512" }) do
          local want = tool_digest(alg, p)
          local d, size = digest.file(p, alg)
          if want then assert.are.equal(want, d) end
          assert.is_true(math.type(size) == "integer" and size > 0)
        end
      end
      local d, size = digest.file(path)
      assert.are.equal(digest.sha256(data), d)
      assert.are.equal(#data, size)
    end)

    it("hashes an empty file", function()
      local path = dir .. "/empty"
      write(path, "")
      local d, size = digest.file(path)
      assert.are.equal(SHA256_EMPTY, d)
      assert.are.equal(0, size)
      assert.are.same({ SHA512_EMPTY, 0 }, { digest.file(path, "sha512") })
    end)

    it("returns io errors naming the path and the reason", function()
      local missing = dir .. "/missing"
      assert_fails(missing .. ": cannot open: No such file or directory", "io", digest.file(missing))
      assert_fails(dir .. ": cannot hash: Is a directory", "io", digest.file(dir))
      assert_fails(dir .. ": cannot hash: Is a directory", "io", digest.file(dir, "sha512"))
    end)

    it("checks the algorithm before touching the file", function()
      assert_fails("cannot compute blake3", "unsupported", digest.file(dir .. "/missing", "blake3"))
      assert_fails('unknown digest algorithm "md5"', "invalid", digest.file(dir .. "/missing", "md5"))
    end)

    it("refuses a path with a NUL byte", function()
      assert_fails("NUL byte at offset 4", "invalid", digest.file("/bin\0/sh"))
    end)

    it("raises on misuse", function()
      assert.has_error(function() digest.file() end, "bad argument #1 to 'file' (string expected, got no value)")
      assert.has_error(function() digest.file(42) end, "bad argument #1 to 'file' (string expected, got number)")
      assert.has_error(function() digest.file(dir .. "/missing", 1) end,
        "bad argument #2 to 'file' (string expected, got number)")
    end)
  end)

  describe("hasher", function()
    it("streams, chains and counts", function()
      local h = digest.hasher()
      assert.are.equal("sha256", h:algorithm())
      assert.are.equal(h, h:update("a"))
      assert.are.equal(h, h:update("b"):update(""):update("c"))
      assert.are.equal(3, h:size())
      local d, size = h:finish()
      assert.are.equal(SHA256_ABC, d)
      assert.are.equal(3, size)
    end)

    it("is reset by finish and reusable", function()
      local h = digest.hasher("sha512")
      assert.are.equal("sha512", h:algorithm())
      h:update("abc")
      assert.are.same({ SHA512_ABC, 3 }, { h:finish() })
      assert.are.equal(0, h:size())
      assert.are.same({ SHA512_EMPTY, 0 }, { h:finish() })
      h:update(ABC448)
      assert.are.same({ SHA512_448, #ABC448 }, { h:finish() })
    end)

    it("equals the one-shot digest over 1 MiB fed in odd chunks", function()
      local data = bytes(4097, 9):rep(256) .. bytes(17, 2)
      local h = digest.hasher("sha256")
      local pos, sizes, k = 1, { 1, 7, 63, 64, 65, 997, 4093, 65537 }, 0
      while pos <= #data do
        k = k % #sizes + 1
        h:update(data:sub(pos, pos + sizes[k] - 1))
        pos = pos + sizes[k]
      end
      assert.are.same({ digest.sha256(data), #data }, { h:finish() })
    end)

    it("works as a to-be-closed variable", function()
      local saved
      do
        local h <close> = digest.hasher()
        saved = h
        h:update("abc")
        assert.are.equal(SHA256_ABC, (h:finish()))
      end
      assert.has_error(function() saved:update("x") end,
        "calling 'update' on bad self (attempt to use a closed ocispec.digest.Hasher)")
      assert.has_error(function() saved:finish() end,
        "calling 'finish' on bad self (attempt to use a closed ocispec.digest.Hasher)")
      assert.has_error(function() saved:size() end,
        "calling 'size' on bad self (attempt to use a closed ocispec.digest.Hasher)")
      assert.are.equal("ocispec.digest.Hasher (closed)", tostring(saved))
      -- closing twice (close() then __close) is harmless
      do
        local h <close> = digest.hasher("sha512")
        h:close()
      end
      -- a failed construction gives nil, which <close> accepts
      do
        local h <close>, msg, err = digest.hasher("blake3")
        assert.is_nil(h)
        assert.truthy(msg:find("blake3", 1, true))
        assert.are.equal("unsupported", err.code)
      end
    end)

    it("is closed on error unwinding", function()
      local saved
      local ok = pcall(function()
        local h <close> = digest.hasher()
        saved = h
        error("boom")
      end)
      assert.is_false(ok)
      assert.has_error(function() saved:update("x") end,
        "calling 'update' on bad self (attempt to use a closed ocispec.digest.Hasher)")
    end)

    it("is garbage-collected safely", function()
      for _ = 1, 200 do
        digest.hasher():update("abc")
        digest.hasher("sha512")
      end
      collectgarbage()
      collectgarbage()
      local h = digest.hasher()
      h:close()
      h = nil -- luacheck: ignore 311
      collectgarbage()
      -- the state is still sound after the collections
      local again = digest.hasher()
      again:update("abc")
      assert.are.equal(SHA256_ABC, (again:finish()))
    end)

    it("prints its algorithm and size", function()
      local h = digest.hasher():update("abcd")
      assert.are.equal("ocispec.digest.Hasher (sha256, 4 bytes)", tostring(h))
    end)

    it("returns errors for bad algorithms", function()
      assert_fails("cannot compute blake3", "unsupported", digest.hasher("blake3"))
      assert_fails('unknown digest algorithm "sha1"', "invalid", digest.hasher("sha1"))
    end)

    it("raises on misuse", function()
      assert.has_error(function() digest.hasher(256) end, "bad argument #1 to 'hasher' (string expected, got number)")
      local h = digest.hasher()
      assert.has_error(function() h:update() end, "bad argument #1 to 'update' (string expected, got no value)")
      assert.has_error(function() h:update({}) end, "bad argument #1 to 'update' (string expected, got table)")
      assert.has_error(function() h:update(1) end, "bad argument #1 to 'update' (string expected, got number)")
      assert.has_error(function() h.update({}, "x") end,
        "bad argument #1 to 'update' (ocispec.digest.Hasher expected, got table)")
      assert.has_error(function() h.finish("x") end,
        "bad argument #1 to 'finish' (ocispec.digest.Hasher expected, got string)")
    end)
  end)

  describe("verify", function()
    it("accepts matching content", function()
      assert.is_true(digest.verify(SHA256_ABC, "abc"))
      assert.is_true(digest.verify(SHA512_ABC, "abc"))
      assert.is_true(digest.verify(SHA256_EMPTY, ""))
      local s = "\0\1\2\0"
      assert.is_true(digest.verify(digest.sha512(s), s))
    end)

    it("reports a mismatch with both digests whole", function()
      assert_fails("content: digest mismatch: expected " .. SHA256_EMPTY .. ", got " .. SHA256_ABC,
        "mismatch", digest.verify(SHA256_EMPTY, "abc"))
      -- two sha512 digests do not fit a C message: the Lua one has them whole
      assert_fails("content: digest mismatch: expected " .. SHA512_EMPTY .. ", got " .. SHA512_ABC,
        "mismatch", digest.verify(SHA512_EMPTY, "abc"))
      -- a NUL byte changes the content
      assert_fails("digest mismatch", "mismatch", digest.verify(SHA256_ABC, "abc\0"))
    end)

    it("reports malformed digests as invalid", function()
      assert_fails('digest "sha256:abc": encoded part must be 64 lowercase hex characters', "invalid",
        digest.verify("sha256:abc", "abc"))
      assert_fails("uppercase", "invalid", digest.verify(SHA256_ABC:upper():gsub("^SHA256", "sha256"), "abc"))
      assert_fails("is empty", "invalid", digest.verify("", "abc"))
      assert_fails("NUL byte at offset 7", "invalid", digest.verify("sha256:\0", "abc"))
    end)

    it("reports algorithms it cannot compute as unsupported", function()
      assert_fails("cannot compute blake3 digests", "unsupported", digest.verify(BLAKE3_EMPTY, ""))
      assert_fails("cannot compute foo digests", "unsupported", digest.verify("foo:bar", ""))
    end)

    it("raises on misuse", function()
      assert.has_error(function() digest.verify() end, "bad argument #1 to 'verify' (string expected, got no value)")
      assert.has_error(function() digest.verify(SHA256_ABC) end,
        "bad argument #2 to 'verify' (string expected, got no value)")
      assert.has_error(function() digest.verify(SHA256_ABC, 42) end,
        "bad argument #2 to 'verify' (string expected, got number)")
      assert.has_error(function() digest.verify(nil, "abc") end,
        "bad argument #1 to 'verify' (string expected, got nil)")
      -- misuse raises even when the digest is also bad
      assert.has_error(function() digest.verify("sha256:abc", {}) end,
        "bad argument #2 to 'verify' (string expected, got table)")
    end)
  end)

  describe("verify_file", function()
    it("accepts a matching file and gives its size", function()
      local path = dir .. "/abc"
      write(path, "abc")
      local ok, size = digest.verify_file(SHA256_ABC, path)
      assert.is_true(ok)
      assert.are.equal(3, size)
      assert.is_true((digest.verify_file(SHA512_ABC, path)))
    end)

    it("reports a mismatch naming the path and both digests", function()
      local path = dir .. "/abc"
      write(path, "abc")
      assert_fails(path .. ": digest mismatch: expected " .. SHA256_EMPTY .. ", got " .. SHA256_ABC,
        "mismatch", digest.verify_file(SHA256_EMPTY, path))
      assert_fails(path .. ": digest mismatch: expected " .. SHA512_EMPTY .. ", got " .. SHA512_ABC,
        "mismatch", digest.verify_file(SHA512_EMPTY, path))
    end)

    it("reports io, invalid and unsupported", function()
      local missing = dir .. "/missing"
      assert_fails(missing .. ": cannot open: No such file or directory", "io",
        digest.verify_file(SHA256_ABC, missing))
      assert_fails("Is a directory", "io", digest.verify_file(SHA256_ABC, dir))
      -- the digest is checked first
      assert_fails("for sha256, got 3", "invalid", digest.verify_file("sha256:abc", missing))
      assert_fails("cannot compute blake3", "unsupported", digest.verify_file(BLAKE3_EMPTY, missing))
      assert_fails("NUL byte at offset 1", "invalid", digest.verify_file(SHA256_ABC, "a\0b"))
    end)

    it("raises on misuse", function()
      assert.has_error(function() digest.verify_file(SHA256_ABC) end,
        "bad argument #2 to 'verify_file' (string expected, got no value)")
      assert.has_error(function() digest.verify_file(SHA256_ABC, 1) end,
        "bad argument #2 to 'verify_file' (string expected, got number)")
      assert.has_error(function() digest.verify_file(false, dir) end,
        "bad argument #1 to 'verify_file' (string expected, got boolean)")
    end)
  end)

  it("keeps the existing functions", function()
    for _, name in ipairs({ "parse", "validate", "referrers_tag", "hex_len" }) do
      assert.is_function(digest[name])
    end
    assert.are.same({ "sha256", "sha512", "blake3" }, digest.algorithms)
  end)
end)
