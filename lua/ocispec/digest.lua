--- Digests as values (image-spec descriptor.md "Digests").
--
--    local d = assert(oci.digest.parse("sha256:" .. ("a"):rep(64)))
--    print(d.algorithm, d.encoded)
--
-- `parse(s)` returns `{algorithm=, encoded=, digest=}` or nil, message;
-- `validate(s)`; `referrers_tag(s)` (distribution-spec referrers tag
-- schema); `hex_len(algorithm)`; `algorithms` (the registered ones).
-- @module ocispec.digest
local core = require "ocispec.core"

return setmetatable({}, { __index = core.digest })
