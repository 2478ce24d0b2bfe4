--- Reproducible image layers (image-spec layer.md).
--
--    local layer = require("ocispec").layer
--    local r = assert(layer.build{ dir = "rootfs", output = "blob.tar.gz" })
--    print(r.diff_id, r.digest, r.size, r.media_type)
--    for _, e in ipairs(assert(layer.entries("blob.tar.gz"))) do print(e.type, e.path) end
--
-- `build{...}` takes exactly one of `dir`, `entries` or `lower` + `upper`
-- (the changeset between two trees, with whiteouts), and `output`,
-- `compression` ("gzip" default, "zstd", "none"), `level`, `mtime` (clamp;
-- default $SOURCE_DATE_EPOCH), `uid`, `gid` (owner override). It returns
-- `{diff_id=, digest=, size=, media_type=, path=, uncompressed_size=,
-- entry_count=, skipped=}` or nil, message, code. `entries(path)` lists a
-- blob's entries in tar order. See the README, "Layers".
-- @module ocispec.layer
local core = require "ocispec.core"
local util = require "ocispec.util"

if not core.layer then return util.unavailable({}, "ocispec.layer", "OCISPEC_WITH_IMAGE") end
local M = setmetatable({}, { __index = core.layer })

--- Media type of each compression name.
M.media_types = core.layer.media_types

--- The compression names `build` accepts.
M.compressions = { "gzip", "zstd", "none" }

return M
