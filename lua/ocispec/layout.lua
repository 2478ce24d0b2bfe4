--- OCI image layouts on disk (image-spec image-layout.md).
--
--    local L = assert(oci.layout.create("dir"))
--    local d = assert(L:put_blob("hello", "text/plain"))
--    assert(L:tag(d, "v1"))
--    assert(L:verify())
--
-- `create(dir)`, `open(dir)` give a layout handle with `path`, `blob_path`,
-- `has_blob`, `put_blob`, `put_blob_file`, `blob_writer`, `temp_path`,
-- `adopt_blob`, `get_blob`, `put_document`, `get_document`, `tag`, `untag`,
-- `list`, `index`, `resolve`, `gc`, `verify` and `close` (see the README,
-- "Image layouts"). Failures return nil, message, code.
-- @module ocispec.layout
local core = require "ocispec.core"
local util = require "ocispec.util"

if not core.layout then return util.unavailable({}, "ocispec.layout", "OCISPEC_WITH_IMAGE") end
return setmetatable({}, { __index = core.layout })
