--- Digests (image-spec descriptor.md "Digests"): digest strings as values,
-- and the digests of content.
--
--    local digest = require("ocispec").digest
--    local d = assert(digest.parse("sha256:" .. ("a"):rep(64)))
--    print(d.algorithm, d.encoded)
--    print(digest.sha256("hello"))                 --> sha256:2cf24d...
--    local d2, size = assert(digest.file("layer.tar"))
--    local h <close> = digest.hasher("sha512")
--    h:update("part 1"):update("part 2")
--    print(h:finish())                             --> sha512:..., 12
--    assert(digest.verify(d2, content))
--
-- Strings as values: `parse(s)` returns `{algorithm=, encoded=, digest=}` or
-- nil, message; `validate(s)`; `referrers_tag(s)` (distribution-spec
-- referrers tag schema); `hex_len(algorithm)`; `algorithms` (the registered
-- ones).
--
-- Hashing (sha256 and sha512, OpenSSL; `alg` defaults to "sha256"):
--
-- * `sha256(s)`, `sha512(s)` -> "alg:hex" (lowercase hex; NUL bytes count)
-- * `hash(s [, alg])` -> digest | nil, msg, err
-- * `file(path [, alg])` -> digest, size | nil, msg, err
-- * `hasher([alg])` -> Hasher | nil, msg, err. `h:update(s)` returns `h`;
--   `h:size()` bytes fed since the last finish; `h:finish()` -> digest, size,
--   then `h` is empty again; `h:algorithm()`; `h:close()`. A to-be-closed
--   value; using it once closed raises.
-- * `verify(d, data)` -> true | nil, msg, err
-- * `verify_file(d, path)` -> true, size | nil, msg, err
--
-- Errors are `nil, message, err`, `err` a table with `code` and `message`
-- (see `ocispec`). Codes: "unsupported" (blake3, and digests of unregistered algorithms),
-- "invalid" (unknown algorithm name, malformed digest, NUL in a path), "io"
-- (the message names the path and the reason), "mismatch" (the message
-- gives the expected and the actual digest). A non-string argument (a
-- number included) raises.
-- @module ocispec.digest
local core = require "ocispec.core"
local util = require "ocispec.util"

-- built without OCISPEC_WITH_IMAGE: digest strings work, hashing raises
if not core.digest.sha256 then
  local M = {}
  for k, v in pairs(core.digest) do M[k] = v end
  return util.unavailable(M, "ocispec.digest", "OCISPEC_WITH_IMAGE")
end
return setmetatable({}, { __index = core.digest })
